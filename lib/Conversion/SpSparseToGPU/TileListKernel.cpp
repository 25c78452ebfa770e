//===- TileListKernel.cpp - mask -> DISTile list on the GPU ---------------===//
//
// Part of the dynaspa project.
//
//===----------------------------------------------------------------------===//
//
// The GPU form of `spsparse.bitmask` + `spsparse.distiles` (paper Fig. 8),
// fused into one kernel because each kernel in a CUDA graph costs ~2 us:
// every thread ORs the mask over one DISTile, then a block-wide prefix sum
// over the activity flags gives each active tile its slot, so the list comes
// out in increasing id order, as `spsparse.distiles` promises, without
// atomics. One block walks the tile grid in chunks of its size; the launch
// never depends on the mask.
//
//===----------------------------------------------------------------------===//

#include "KernelBuilder.h"
#include "TileSpace.h"

#include "mlir/Dialect/GPU/IR/GPUDialect.h"

using namespace mlir;
using namespace mlir::spsparse;

/// Threads of the tile-list block (a power of two, for the scan).
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

  gpu::GPUFuncOp fn = createKernel(
      builder, module, op->getLoc(), name,
      {getFlatType(maskType.getNumElements(), maskElem), getFlatType(cap, i32),
       getFlatType(1, i32)},
      {space->maskRole.str(), getTilesRole(g), getCountRole(g)},
      {getWorkgroupType(kScanThreads, i32)}, {1}, kScanThreads);
  ImplicitLocOpBuilder b(op->getLoc(), builder);
  b.setInsertionPointToStart(&fn.getBody().front());
  KernelBuilder k(b);
  Value maskBuf = fn.getArgument(0), tilesBuf = fn.getArgument(1),
        countBuf = fn.getArgument(2);
  Value scan = fn.getWorkgroupAttributions()[0];
  Value tid = gpu::ThreadIdOp::create(b, gpu::Dimension::x);
  Value zero32 = arith::ConstantIntOp::create(b, 0, 32);

  auto chunks = scf::ForOp::create(b, k.idx(0), k.idx(cap), k.idx(kScanThreads),
                                   ValueRange{k.idx(0)});
  {
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPointToStart(chunks.getBody());
    Value base = chunks.getInductionVar();
    Value running = chunks.getRegionIterArg(0);
    Value id = k.add(base, tid);
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
    Value inclusive =
        k.toIndex(memref::LoadOp::create(b, scan, ValueRange{tid}));
    Value total = k.toIndex(
        memref::LoadOp::create(b, scan, ValueRange{k.idx(kScanThreads - 1)}));
    Value isActive =
        arith::CmpIOp::create(b, arith::CmpIPredicate::ne, flag, zero32);
    auto ifActive = scf::IfOp::create(b, isActive, /*withElse=*/false);
    {
      OpBuilder::InsertionGuard g2(b);
      b.setInsertionPointToStart(ifActive.thenBlock());
      Value slot = k.sub(k.add(running, inclusive), 1);
      k.store(arith::IndexCastOp::create(b, i32, tile), tilesBuf, slot);
    }
    // Everyone has read the scan before the next chunk overwrites it.
    gpu::BarrierOp::create(b);
    scf::YieldOp::create(b, ValueRange{k.add(running, total)});
  }
  Value first = k.cmp(arith::CmpIPredicate::eq, tid, k.idx(0));
  auto ifFirst = scf::IfOp::create(b, first, /*withElse=*/false);
  b.setInsertionPointToStart(ifFirst.thenBlock());
  k.store(arith::IndexCastOp::create(b, i32, chunks.getResult(0)), countBuf,
          k.idx(0));
  return fn;
}
