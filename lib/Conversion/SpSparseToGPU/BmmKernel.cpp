//===- BmmKernel.cpp - the masked batch-matmul kernel template ------------===//
//
// Part of the dynaspa project.
//
//===----------------------------------------------------------------------===//
//
// One PolyKernel variant of `spsparse.masked_batch_matmul` (attention's QKᵀ
// and AV under token halting) as a GPU kernel. A DISTile is a block of `g`
// rows (tokens) of one batch entry. A block owns a `channel_block` slice of
// the output columns (blockIdx.y) and walks the DISTile list grid-stride
// (blockIdx.x), so the launch is fixed and the tile count never reaches the
// host. For one tile:
//
//   for each chunk of `reduction_block` of K:
//     stage the tile's lhs rows [g][chunk] and the rhs block
//     [chunk][channel_block] in shared memory, straight from global memory;
//     rows beyond M, K beyond its end and columns beyond N read as 0 without
//     touching memory (phantom reads), so the inner loops have no branch;
//     every thread accumulates its register tile of `thread_pixels` rows x
//     `thread_channels` columns from shared memory;
//   write the register tile where the row exists and its row mask is set and
//   the column exists and its column mask (if any) is set (the output is
//   zero-filled before the op, so everything skipped is exactly 0).
//
// Threads of a warp take consecutive columns, so rhs reads from shared memory
// are conflict-free and output stores coalesce; the threads sharing a row
// read the same lhs word (a broadcast).
//
//===----------------------------------------------------------------------===//

#include "KernelBuilder.h"
#include "TileSpace.h"

#include "mlir/Dialect/GPU/IR/GPUDialect.h"

using namespace mlir;
using namespace mlir::spsparse;

/// Static shared memory a kernel may use without opting in to more.
static constexpr int64_t kMaxStaticSharedBytes = 48 * 1024;

namespace {

struct BmmShape {
  int64_t batch, m, k, n;
};

/// The knobs of a schedule checked against one shape and granularity.
struct BmmPlan {
  int64_t rows;                // DISTile: tokens
  int64_t cb, rb;              // column / reduction blocks
  int64_t threads, tc, tp, vw; // thread tile, vector width
  int64_t unroll;
  int64_t colGroups; // threads along columns: cb / tc
  int64_t rowGroups; // threads along rows: rows / tp
  int64_t lhsFloats, rhsFloats;
};

FailureOr<BmmPlan> planBmm(MaskedBatchMatmulOp op, const BmmShape &s,
                           const TileSpace &space, ScheduleAttr schedule) {
  BmmPlan p;
  p.rows = space.sizes[0];
  p.cb = schedule.getChannelBlock();
  p.rb = schedule.getReductionBlock();
  p.threads = schedule.getThreads();
  p.tc = schedule.getThreadChannels();
  p.tp = schedule.getThreadPixels();
  p.vw = schedule.getVectorWidth();
  p.unroll = schedule.getUnroll();
  auto fail = [&]() {
    return op->emitOpError() << "schedule " << schedule << " at granularity ["
                             << p.rows << "]: ";
  };
  if (p.cb % p.tc || p.rows % p.tp)
    return fail() << "thread_channels must divide channel_block and "
                     "thread_pixels the DISTile's "
                  << p.rows << " rows";
  p.colGroups = p.cb / p.tc;
  p.rowGroups = p.rows / p.tp;
  if (p.threads != p.colGroups * p.rowGroups)
    return fail() << "threads must be (channel_block / thread_channels) * "
                     "(rows / thread_pixels) = "
                  << p.colGroups * p.rowGroups;
  if (p.threads > 1024)
    return fail() << "more than 1024 threads per block";
  if (p.vw != 1 && p.vw != 2 && p.vw != 4)
    return fail() << "vector_width must be 1, 2 or 4";
  // lhs is loaded in vectors along K, rhs along N: a vector must never
  // straddle the end of a row (it would be read whole or not at all).
  if (s.k % p.vw || p.rb % p.vw || s.n % p.vw || p.cb % p.vw)
    return fail() << "vector_width " << p.vw
                  << " must divide K, N, channel_block and reduction_block";
  if (p.rb % p.unroll)
    return fail() << "unroll must divide reduction_block";
  if (schedule.getDoubleBuffer())
    return fail() << "double_buffer is not implemented by the GPU lowering yet";
  p.lhsFloats = p.rows * p.rb;
  p.rhsFloats = p.rb * p.cb;
  int64_t bytes = 4 * (p.lhsFloats + p.rhsFloats);
  if (bytes > kMaxStaticSharedBytes)
    return fail() << "needs " << bytes
                  << " bytes of shared memory (more than 48 KiB)";
  return p;
}

} // namespace

FailureOr<gpu::GPUFuncOp> mlir::spsparse::buildBmmKernel(
    OpBuilder &builder, gpu::GPUModuleOp module, MaskedBatchMatmulOp op,
    GranularityAttr g, ScheduleAttr schedule, StringRef name,
    ArrayRef<DispatchTerm> dispatch, ArrayRef<std::string> extraCountRoles) {
  FailureOr<TileSpace> space = TileSpace::get(op, g);
  if (failed(space))
    return failure();
  auto lhsType = cast<RankedTensorType>(op.getLhs().getType());
  auto rhsType = cast<RankedTensorType>(op.getRhs().getType());
  auto outType = cast<RankedTensorType>(op.getResult().getType());
  auto rowMaskType = cast<RankedTensorType>(op.getRowMask().getType());
  if (!lhsType.getElementType().isF32())
    return op->emitOpError("the GPU lowering handles f32 batch-matmuls only");
  if (!lhsType.hasStaticShape() || !rhsType.hasStaticShape())
    return op->emitOpError("needs static shapes for the GPU lowering");
  BmmShape s{lhsType.getDimSize(0), lhsType.getDimSize(1),
             lhsType.getDimSize(2), rhsType.getDimSize(2)};
  FailureOr<BmmPlan> planOr = planBmm(op, s, *space, schedule);
  if (failed(planOr))
    return failure();
  const BmmPlan &p = *planOr;

  MLIRContext *ctx = builder.getContext();
  Type f32 = Float32Type::get(ctx);
  int64_t cap = space->getNumTiles();
  SmallVector<Type> argTypes = {
      getFlatType(lhsType.getNumElements(), f32),
      getFlatType(rhsType.getNumElements(), f32),
      getFlatType(rowMaskType.getNumElements(),
                  getDeviceMaskElementType(rowMaskType.getElementType()))};
  SmallVector<std::string> roles = {"lhs", "rhs", "row_mask"};
  bool colMaskHasBatch = false;
  if (Value colMask = op.getColMask()) {
    auto colMaskType = cast<RankedTensorType>(colMask.getType());
    if (!colMaskType.hasStaticShape())
      return op->emitOpError("needs static shapes for the GPU lowering");
    colMaskHasBatch = colMaskType.getRank() == 2;
    argTypes.push_back(
        getFlatType(colMaskType.getNumElements(),
                    getDeviceMaskElementType(colMaskType.getElementType())));
    roles.push_back("col_mask");
  }
  argTypes.push_back(getFlatType(outType.getNumElements(), f32));
  roles.push_back("output");
  appendTileListArgs(argTypes, roles, g, cap, extraCountRoles);
  int64_t blocks = schedule.getBlocks() > 0
                       ? std::min(schedule.getBlocks(), cap)
                       : cap; // One tile per block: the best balance.
  gpu::GPUFuncOp fn = createKernel(
      builder, module, op->getLoc(), name, argTypes, roles,
      {getWorkgroupType(p.lhsFloats, f32), getWorkgroupType(p.rhsFloats, f32)},
      {blocks, static_cast<int64_t>(llvm::divideCeil(s.n, p.cb))}, p.threads);

  ImplicitLocOpBuilder b(op->getLoc(), builder);
  b.setInsertionPointToStart(&fn.getBody().front());
  KernelBuilder k(b);
  unsigned arg = 0;
  Value lhs = fn.getArgument(arg++), rhs = fn.getArgument(arg++),
        rowMask = fn.getArgument(arg++);
  Value colMask = op.getColMask() ? fn.getArgument(arg++) : Value();
  Value output = fn.getArgument(arg++);
  Value tiles = fn.getArgument(arg++);
  unsigned countArg = arg;
  Value sA = fn.getWorkgroupAttributions()[0];
  Value sB = fn.getWorkgroupAttributions()[1];

  // Device-side dispatch: this variant runs only if the table picks it;
  // otherwise its grid-stride loop is empty.
  Value upper = buildDispatchedCount(k, fn, countArg, dispatch);

  Value tid = gpu::ThreadIdOp::create(b, gpu::Dimension::x);
  Value j0 = k.mul(gpu::BlockIdOp::create(b, gpu::Dimension::y), p.cb);
  Value cg = k.rem(tid, p.colGroups);
  Value rg = k.div(tid, p.colGroups);
  // This thread's rows (inside the tile) and their offsets in the staged lhs;
  // its columns are cg + j * colGroups.
  SmallVector<Value> rowOff, rowBase;
  for (int64_t i = 0; i < p.tp; ++i) {
    rowOff.push_back(k.add(rg, i * p.rowGroups));
    rowBase.push_back(k.mul(rowOff.back(), p.rb));
  }
  SmallVector<Value> colOff;
  for (int64_t j = 0; j < p.tc; ++j)
    colOff.push_back(k.add(cg, j * p.colGroups));

  auto tileLoop = scf::ForOp::create(
      b, gpu::BlockIdOp::create(b, gpu::Dimension::x), upper,
      gpu::GridDimOp::create(b, gpu::Dimension::x));
  b.setInsertionPointToStart(tileLoop.getBody());
  Value tile = k.toIndex(
      memref::LoadOp::create(b, tiles, ValueRange{tileLoop.getInductionVar()}));
  Value n;
  SmallVector<Value, 1> origin;
  space->decode(k, tile, n, origin);
  Value row0 = origin[0];

  Value zero = arith::ConstantOp::create(b, b.getF32FloatAttr(0.0f));
  SmallVector<Value> init(p.tp * p.tc, zero);
  auto chunkLoop =
      scf::ForOp::create(b, k.idx(0), k.idx(s.k), k.idx(p.rb), init);
  {
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPointToStart(chunkLoop.getBody());
    Value k0 = chunkLoop.getInductionVar();
    // The previous chunk (or tile) is done with the staged data.
    gpu::BarrierOp::create(b);
    int64_t rbv = p.rb / p.vw;
    stageToWorkgroup(k, tid, p.threads, p.rows * rbv, p.vw, lhs, sA,
                     [&](Value e) {
                       Value r = k.mul(k.rem(e, rbv), p.vw);
                       Value row = k.add(row0, k.div(e, rbv));
                       Value kk = k.add(k0, r);
                       Value valid = k.land(k.slt(row, s.m), k.slt(kk, s.k));
                       Value index =
                           k.add(k.mul(k.add(k.mul(n, s.m), row), s.k), kk);
                       return std::make_pair(index, valid);
                     });
    int64_t cbv = p.cb / p.vw;
    stageToWorkgroup(k, tid, p.threads, p.rb * cbv, p.vw, rhs, sB,
                     [&](Value e) {
                       Value c = k.mul(k.rem(e, cbv), p.vw);
                       Value kk = k.add(k0, k.div(e, cbv));
                       Value col = k.add(j0, c);
                       Value valid = k.land(k.slt(col, s.n), k.slt(kk, s.k));
                       Value index =
                           k.add(k.mul(k.add(k.mul(n, s.k), kk), s.n), col);
                       return std::make_pair(index, valid);
                     });
    gpu::BarrierOp::create(b);

    // The register tile: rb/unroll iterations of `unroll` steps of K each.
    auto rLoop = scf::ForOp::create(b, k.idx(0), k.idx(p.rb), k.idx(p.unroll),
                                    chunkLoop.getRegionIterArgs());
    {
      OpBuilder::InsertionGuard g2(b);
      b.setInsertionPointToStart(rLoop.getBody());
      SmallVector<Value> acc(rLoop.getRegionIterArgs());
      auto contract = arith::FastMathFlagsAttr::get(
          b.getContext(), arith::FastMathFlags::contract);
      for (int64_t u = 0; u < p.unroll; ++u) {
        Value r = k.add(rLoop.getInductionVar(), u);
        Value bRow = k.mul(r, p.cb);
        SmallVector<Value> x, w;
        for (int64_t i = 0; i < p.tp; ++i)
          x.push_back(
              memref::LoadOp::create(b, sA, ValueRange{k.add(rowBase[i], r)}));
        for (int64_t j = 0; j < p.tc; ++j)
          w.push_back(
              memref::LoadOp::create(b, sB, ValueRange{k.add(bRow, colOff[j])}));
        for (int64_t i = 0; i < p.tp; ++i)
          for (int64_t j = 0; j < p.tc; ++j) {
            Value &a = acc[i * p.tc + j];
            Value prod = arith::MulFOp::create(b, x[i], w[j], contract);
            a = arith::AddFOp::create(b, a, prod, contract);
          }
      }
      scf::YieldOp::create(b, acc);
    }
    scf::YieldOp::create(b, rLoop.getResults());
  }

  // Columns this thread may write: in range and, with a column mask, set.
  SmallVector<Value> colOn, colIndex;
  for (int64_t j = 0; j < p.tc; ++j) {
    Value col = k.add(j0, colOff[j]);
    Value on = k.slt(col, s.n);
    if (colMask) {
      Value index = colMaskHasBatch ? k.add(k.mul(n, s.n), col) : col;
      on = k.land(on, k.isNonZero(k.loadOrZero(colMask, index, on)));
    }
    colOn.push_back(on);
    colIndex.push_back(col);
  }
  // Write the register tile where the row exists and is active.
  for (int64_t i = 0; i < p.tp; ++i) {
    Value row = k.add(row0, rowOff[i]);
    Value inBounds = space->isInBounds(k, {row});
    Value m = k.loadOrZero(rowMask, space->getMaskIndex(k, n, {row}), inBounds);
    Value rowOn = k.land(inBounds, k.isNonZero(m));
    Value rowIndex = k.mul(k.add(k.mul(n, s.m), row), s.n);
    for (int64_t j = 0; j < p.tc; ++j) {
      auto ifWrite =
          scf::IfOp::create(b, k.land(rowOn, colOn[j]), /*withElse=*/false);
      OpBuilder::InsertionGuard guard(b);
      b.setInsertionPointToStart(ifWrite.thenBlock());
      k.store(chunkLoop.getResult(i * p.tc + j), output,
              k.add(rowIndex, colIndex[j]));
    }
  }
  return fn;
}
