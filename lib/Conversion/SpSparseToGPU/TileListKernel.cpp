//===- TileListKernel.cpp - mask -> DISTile list on the GPU ---------------===//
//
// Part of the dynaspa project.
//
//===----------------------------------------------------------------------===//
//
// The GPU form of `spsparse.bitmask` + `spsparse.distiles` (paper Fig. 8),
// fused into one kernel because each kernel in a CUDA graph costs ~2 us.
// Every thread ORs the mask over one DISTile and a block-wide prefix sum over
// the activity flags gives each active tile its slot within the block. The
// grid covers the whole tile space in one wave of work (a single block
// walking it was the runtime's largest cost on big shapes: 1.2 ms at
// 16384 tiles), so the blocks must agree on where each one's tiles go:
//
//  - a block claims a range of the list with one atomic add of its active
//    count to the claim counter; the list is thus ordered within a block and
//    in claim order across blocks, which the variant kernels do not care
//    about (every DISTile is computed by exactly one of them either way);
//  - the last block to finish (a second atomic counter, the pattern of
//    CUDA's threadFenceReduction sample: no block ever waits for another)
//    publishes the total as the count and resets both counters to zero, so
//    the kernel replays from a CUDA graph without a memset node. The runtime
//    zeroes scratch buffers once when it allocates them.
//
// A tile space that fits one block needs neither atomic: it keeps the
// increasing id order `spsparse.distiles` promises. The launch never depends
// on the mask.
//
//===----------------------------------------------------------------------===//

#include "KernelBuilder.h"
#include "TileSpace.h"

#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"

using namespace mlir;
using namespace mlir::spsparse;

/// Threads of a tile-list block (a power of two, for the scan).
static constexpr int64_t kScanThreads = 256;

FailureOr<gpu::GPUFuncOp>
mlir::spsparse::buildTileListKernel(OpBuilder &builder, gpu::GPUModuleOp module,
                                    MaskedOpInterface op, GranularityAttr g,
                                    StringRef name) {
  FailureOr<TileSpace> space = TileSpace::get(op, g);
  if (failed(space))
    return failure();
  MLIRContext *ctx = builder.getContext();
  Type i32 = IntegerType::get(ctx, 32);
  Value mask = op.getMasks().front();
  auto maskType = cast<RankedTensorType>(mask.getType());
  Type maskElem = getDeviceMaskElementType(maskType.getElementType());
  int64_t cap = space->getNumTiles();
  int64_t numBlocks = llvm::divideCeil(cap, kScanThreads);
  bool oneBlock = numBlocks == 1;

  // The scan, plus one slot for the block's base in the list.
  gpu::GPUFuncOp fn = createKernel(
      builder, module, op->getLoc(), name,
      {getFlatType(maskType.getNumElements(), maskElem), getFlatType(cap, i32),
       getFlatType(kCountSlots, i32)},
      {space->maskRole.str(), getTilesRole(g), getCountRole(g)},
      {getWorkgroupType(kScanThreads + 1, i32)}, {numBlocks}, kScanThreads);
  ImplicitLocOpBuilder b(op->getLoc(), builder);
  b.setInsertionPointToStart(&fn.getBody().front());
  KernelBuilder k(b);
  Value maskBuf = fn.getArgument(0), tilesBuf = fn.getArgument(1),
        countBuf = fn.getArgument(2);
  Value scan = fn.getWorkgroupAttributions()[0];
  Value tid = gpu::ThreadIdOp::create(b, gpu::Dimension::x);
  Value zero32 = arith::ConstantIntOp::create(b, 0, 32);
  Value first = k.cmp(arith::CmpIPredicate::eq, tid, k.idx(0));
  auto ifFirst = [&](function_ref<void()> body) {
    auto ifOp = scf::IfOp::create(b, first, /*withElse=*/false);
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPointToStart(ifOp.thenBlock());
    body();
  };
  auto atomicAdd = [&](Value v, int64_t slot) -> Value {
    return memref::AtomicRMWOp::create(b, arith::AtomicRMWKind::addi, v,
                                       countBuf, ValueRange{k.idx(slot)});
  };

  Value id = k.add(k.mul(gpu::BlockIdOp::create(b, gpu::Dimension::x),
                         kScanThreads),
                   tid);
  Value valid = k.cmp(arith::CmpIPredicate::ult, id, k.idx(cap));
  Value tile = k.select(valid, id, k.idx(0));
  Value active = space->buildTileIsActive(k, maskBuf, tile);
  Value flag = arith::ExtUIOp::create(b, i32, k.land(valid, active));

  // Inclusive Hillis-Steele scan of the flags over the block.
  k.store(flag, scan, tid);
  gpu::BarrierOp::create(b);
  for (int64_t offset = 1; offset < kScanThreads; offset *= 2) {
    Value left = k.loadOrZero(scan, k.sub(tid, offset), k.sge(tid, offset));
    gpu::BarrierOp::create(b);
    Value mine = memref::LoadOp::create(b, scan, ValueRange{tid});
    k.store(arith::AddIOp::create(b, mine, left), scan, tid);
    gpu::BarrierOp::create(b);
  }
  Value inclusive = memref::LoadOp::create(b, scan, ValueRange{tid});
  Value total =
      memref::LoadOp::create(b, scan, ValueRange{k.idx(kScanThreads - 1)});

  Value base = zero32;
  if (oneBlock) {
    ifFirst([&] { k.store(total, countBuf, k.idx(kCountSlot)); });
  } else {
    ifFirst([&] {
      k.store(atomicAdd(total, kClaimSlot), scan, k.idx(kScanThreads));
    });
    gpu::BarrierOp::create(b);
    base = memref::LoadOp::create(b, scan, ValueRange{k.idx(kScanThreads)});
  }
  Value isActive =
      arith::CmpIOp::create(b, arith::CmpIPredicate::ne, flag, zero32);
  auto ifActive = scf::IfOp::create(b, isActive, /*withElse=*/false);
  {
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPointToStart(ifActive.thenBlock());
    Value slot = k.sub(k.toIndex(arith::AddIOp::create(b, base, inclusive)), 1);
    k.store(arith::IndexCastOp::create(b, i32, tile), tilesBuf, slot);
  }
  if (oneBlock)
    return fn;

  // The last block publishes the count. Both atomics are relaxed on the GPU
  // (NVPTX emits plain `atom` whatever the ordering), so fences make the
  // pattern sound: each block's claim is ordered before its `done` increment,
  // and the last block's read of the claim counter after its own, so it sees
  // every block's claim.
  auto fence = [&] {
    LLVM::FenceOp::create(b, LLVM::AtomicOrdering::acq_rel, "device");
  };
  ifFirst([&] {
    fence();
    Value done = atomicAdd(arith::ConstantIntOp::create(b, 1, 32), kDoneSlot);
    Value last = arith::CmpIOp::create(
        b, arith::CmpIPredicate::eq, done,
        arith::ConstantIntOp::create(b, numBlocks - 1, 32));
    auto ifLast = scf::IfOp::create(b, last, /*withElse=*/false);
    b.setInsertionPointToStart(ifLast.thenBlock());
    fence();
    k.store(atomicAdd(zero32, kClaimSlot), countBuf, k.idx(kCountSlot));
    k.store(zero32, countBuf, k.idx(kClaimSlot));
    k.store(zero32, countBuf, k.idx(kDoneSlot));
  });
  return fn;
}
