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
// A PolyKernel with variants of several granularities needs one list per
// granularity; they come from one kernel (each kernel in a graph costs a
// launch slot, ~1-2 us on the H100): its grid is the granularities' grids
// side by side, and each block builds the list of the granularity its
// blockIdx.x falls in, with that list's own counters.
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

namespace {
/// One granularity's share of the kernel: its tile space, buffers and the
/// blocks [firstBlock, firstBlock + numBlocks) of the grid.
struct ListSection {
  TileSpace space;
  Value tiles, count;
  int64_t firstBlock, numBlocks;
};
} // namespace

/// Emits the list of `sec` for the block `block` (0-based within the
/// section): the scan, the claim and, with several blocks, the publication
/// of the count by the last block.
static void emitTileList(KernelBuilder &k, const ListSection &sec,
                         Value maskBuf, Value scan, Value block) {
  ImplicitLocOpBuilder &b = k.b;
  Type i32 = b.getI32Type();
  int64_t cap = sec.space.getNumTiles();
  bool oneBlock = sec.numBlocks == 1;
  Value tilesBuf = sec.tiles, countBuf = sec.count;
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

  Value id = k.add(k.mul(block, kScanThreads), tid);
  Value valid = k.cmp(arith::CmpIPredicate::ult, id, k.idx(cap));
  Value tile = k.select(valid, id, k.idx(0));
  Value active = sec.space.buildTileIsActive(k, maskBuf, tile);
  Value flag = arith::ExtUIOp::create(b, i32, k.land(valid, active));

  Value inclusive = buildBlockInclusiveScan(k, tid, kScanThreads, scan, flag);
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
    return;

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
        arith::ConstantIntOp::create(b, sec.numBlocks - 1, 32));
    auto ifLast = scf::IfOp::create(b, last, /*withElse=*/false);
    b.setInsertionPointToStart(ifLast.thenBlock());
    fence();
    k.store(atomicAdd(zero32, kClaimSlot), countBuf, k.idx(kCountSlot));
    k.store(zero32, countBuf, k.idx(kClaimSlot));
    k.store(zero32, countBuf, k.idx(kDoneSlot));
  });
}

FailureOr<gpu::GPUFuncOp> mlir::spsparse::buildTileListKernel(
    OpBuilder &builder, gpu::GPUModuleOp module, MaskedOpInterface op,
    ArrayRef<GranularityAttr> granularities, StringRef name) {
  MLIRContext *ctx = builder.getContext();
  Type i32 = IntegerType::get(ctx, 32);
  Value mask = op.getMasks().front();
  auto maskType = cast<RankedTensorType>(mask.getType());
  Type maskElem = getDeviceMaskElementType(maskType.getElementType());
  SmallVector<ListSection> sections;
  SmallVector<Type> argTypes = {
      getFlatType(maskType.getNumElements(), maskElem)};
  SmallVector<std::string> roles;
  int64_t numBlocks = 0;
  for (GranularityAttr g : granularities) {
    FailureOr<TileSpace> space = TileSpace::get(op, g);
    if (failed(space))
      return failure();
    if (roles.empty())
      roles.push_back(space->maskRole.str());
    int64_t cap = space->getNumTiles();
    int64_t blocks = llvm::divideCeil(cap, kScanThreads);
    sections.push_back({*space, Value(), Value(), numBlocks, blocks});
    numBlocks += blocks;
    argTypes.append({getFlatType(cap, i32), getFlatType(kCountSlots, i32)});
    roles.append({getTilesRole(g), getCountRole(g)});
  }

  // The scan, plus one slot for the block's base in the list.
  gpu::GPUFuncOp fn = createKernel(
      builder, module, op->getLoc(), name, argTypes, roles,
      {getWorkgroupType(kScanThreads + 1, i32)}, {numBlocks}, kScanThreads);
  ImplicitLocOpBuilder b(op->getLoc(), builder);
  b.setInsertionPointToStart(&fn.getBody().front());
  KernelBuilder k(b);
  Value maskBuf = fn.getArgument(0);
  Value scan = fn.getWorkgroupAttributions()[0];
  for (auto [i, sec] : llvm::enumerate(sections)) {
    sec.tiles = fn.getArgument(1 + 2 * i);
    sec.count = fn.getArgument(2 + 2 * i);
  }
  Value block = gpu::BlockIdOp::create(b, gpu::Dimension::x);
  if (sections.size() == 1) {
    emitTileList(k, sections.front(), maskBuf, scan, block);
    return fn;
  }
  // Each block is in one section: the condition is uniform over the block,
  // so the barriers inside stay legal.
  for (const ListSection &sec : sections) {
    Value from = k.cmp(arith::CmpIPredicate::uge, block, k.idx(sec.firstBlock));
    Value to = k.cmp(arith::CmpIPredicate::ult, block,
                     k.idx(sec.firstBlock + sec.numBlocks));
    Value inSection = k.land(from, to);
    auto ifIn = scf::IfOp::create(b, inSection, /*withElse=*/false);
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPointToStart(ifIn.thenBlock());
    emitTileList(k, sec, maskBuf, scan, k.sub(block, sec.firstBlock));
  }
  return fn;
}
