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
//   (with `double_buffer` the next chunk is loaded into registers while this
//   one is computed, and stored to shared memory at the top of the next
//   iteration: one global round trip per tile instead of one per chunk);
//   write the register tile where the row exists and its row mask is set and
//   the column exists and its column mask (if any) is set (the output is
//   zero-filled before the op, so everything skipped is exactly 0).
//
// Threads of a warp take consecutive columns, so rhs reads from shared memory
// are conflict-free and output stores coalesce; the threads sharing a row
// read the same lhs word (a broadcast).
//
// With `tiles_per_block` = T > 1 a block computes T DISTiles of one batch
// entry together (the GEMM's M dimension is then T x g rows whatever the
// mask looks like). The global list cannot give a block T tiles of one
// entry (it is in claim order across the tile-list kernel's blocks, and the
// rhs is per entry), so each block lists its entry's active tiles itself:
// the launch has ceil(tiles per entry / T) blocks per entry, block (n, q)
// scans entry n's row mask (a few hundred bytes: A-ViT's tokens are 197)
// and takes the entry's active tiles qT .. qT + T - 1 in order, gathering
// their rows; blocks past the entry's active tiles do nothing. Token masks
// are scattered (an 8-token tile of an A-ViT mask at density 0.1 is active
// half the time), so 1-token DISTiles gathered T at a time make the work
// follow the density. The global list is still built when the PolyKernel
// dispatches: its count picks the variant.
//
// A PolyKernel of one such variant is lowered standalone: no tile list, no
// count, and no zero fill before the op -- block (n, q) also writes the
// zeros of the entry's inactive tiles qT .. qT + T - 1 (by tile id, so
// every tile has one owner) and of masked rows and columns inside the tiles
// it computes. At batch 1 that takes the op from three graph nodes (zero
// fill, tile list, kernel) to one.
//
//===----------------------------------------------------------------------===//

#include "KernelBuilder.h"
#include "TileSpace.h"

#include "mlir/Dialect/GPU/IR/GPUDialect.h"

using namespace mlir;
using namespace mlir::spsparse;

namespace {

struct BmmShape {
  int64_t batch, m, k, n;
};

/// The knobs of a schedule checked against one shape and granularity.
struct BmmPlan {
  int64_t rows;                // DISTile: tokens
  int64_t cb, rb;              // column / reduction blocks
  int64_t threads, tc, tp, vw; // thread tile, widest global load
  int64_t lhsVw, rhsVw;        // the operands' global loads
  int64_t unroll;
  bool doubleBuffer; // prefetch the next chunk into registers
  StagingPipeline pipeline; // how staging overlaps the arithmetic
  int64_t copies;           // shared copies of a chunk (2: ping-pong)
  int64_t colGroups; // threads along columns: cb / tc
  int64_t rowGroups; // threads along rows: rows / tp
  int64_t lhsFloats, rhsFloats;
  // Per-block lists (tiles_per_block > 1): DISTile rows g, tiles per block,
  // an entry's tiles and how many of them each thread scans.
  int64_t g, tpb, entryTiles, scanPerThread;
  bool localList() const { return tpb > 1; }
};

/// An entry's tiles one thread of a per-block list scans at most (its
/// activity flags stay in registers).
static constexpr int64_t kMaxScanPerThread = 16;

FailureOr<BmmPlan> planBmm(MaskedBatchMatmulOp op, const BmmShape &s,
                           const TileSpace &space, ScheduleAttr schedule,
                           const KernelOptions &options) {
  BmmPlan p;
  p.g = space.sizes[0];
  p.tpb = schedule.getTilesPerBlock();
  p.rows = p.g * p.tpb;
  p.entryTiles = space.grid[0];
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
  if (schedule.getTf32())
    return fail() << "tf32 (tensor cores) is implemented for convolutions "
                     "only";
  if (schedule.getCompact())
    return fail() << "compact (a 1-D grid of work items) is implemented for "
                     "convolutions only";
  if (p.cb % p.tc || p.rows % p.tp)
    return fail() << "thread_channels must divide channel_block and "
                     "thread_pixels the block's "
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
  // lhs is loaded in vectors along K, rhs along N, and a vector must never
  // straddle the end of a row (it is read whole or not at all), so each
  // operand takes the widest load up to vector_width that divides its row
  // and its block: attention's K or N is 197 tokens, and the other operand
  // still loads 16 bytes at a time.
  p.lhsVw = getWidestDividing(p.vw, {s.k, p.rb});
  p.rhsVw = getWidestDividing(p.vw, {s.n, p.cb});
  if (p.rb % p.unroll)
    return fail() << "unroll must divide reduction_block";
  p.scanPerThread = llvm::divideCeil(p.entryTiles, p.threads);
  if (p.localList()) {
    if (schedule.getBlocks() != 0)
      return fail() << "blocks must be 0 with tiles_per_block > 1 (the grid "
                       "is one block per tiles_per_block tiles of each batch "
                       "entry)";
    if (p.scanPerThread > kMaxScanPerThread)
      return fail() << "tiles_per_block > 1 needs threads >= 1/"
                    << kMaxScanPerThread << " of the " << p.entryTiles
                    << " DISTiles of a batch entry";
  }
  p.doubleBuffer = schedule.getDoubleBuffer();
  p.lhsFloats = p.rows * p.rb;
  p.rhsFloats = p.rb * p.cb;
  // The per-block list: a scan slot per thread and T tile slots.
  int64_t bytes = 4 * (p.lhsFloats + p.rhsFloats +
                       (p.localList() ? p.threads + p.tpb : 0));
  if (failed(checkStagingFits(fail, bytes, p.doubleBuffer, p.threads,
                              {p.lhsFloats, p.rhsFloats}, p.tp * p.tc)))
    return failure();
  p.pipeline = chooseStagingPipeline(options, p.doubleBuffer, bytes,
                                     {p.lhsFloats, p.rhsFloats});
  p.copies = p.pipeline == StagingPipeline::PingPong ? 2 : 1;
  return p;
}

} // namespace

FailureOr<gpu::GPUFuncOp> mlir::spsparse::buildBmmKernel(
    OpBuilder &builder, gpu::GPUModuleOp module, MaskedBatchMatmulOp op,
    GranularityAttr g, ScheduleAttr schedule, StringRef name,
    ArrayRef<DispatchTerm> dispatch, ArrayRef<std::string> extraCountRoles,
    bool standalone, const KernelOptions &options) {
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
  FailureOr<BmmPlan> planOr = planBmm(op, s, *space, schedule, options);
  if (failed(planOr))
    return failure();
  const BmmPlan &p = *planOr;
  assert((!standalone ||
          (p.localList() && dispatch.empty() && extraCountRoles.empty())) &&
         "only a lone variant with per-block lists runs standalone");

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
  if (!standalone)
    appendTileListArgs(argTypes, roles, g, cap, extraCountRoles);
  // Per-block lists: one block per T tiles of each entry. Otherwise a fixed
  // number of blocks walks the global list.
  int64_t groupsPerEntry = llvm::divideCeil(p.entryTiles, p.tpb);
  int64_t maxTiles =
      standalone
          ? cap
          : getMaxDispatchedTiles(
                dispatch, roles.size() - extraCountRoles.size() - 1, cap);
  int64_t blocks = p.localList() ? space->batch * groupsPerEntry
                   : schedule.getBlocks() > 0
                       ? std::min(schedule.getBlocks(), maxTiles)
                       : maxTiles; // One tile per block: the best balance.
  Type i32 = builder.getI32Type();
  SmallVector<Type> workgroup = {getWorkgroupType(p.copies * p.lhsFloats, f32),
                                 getWorkgroupType(p.copies * p.rhsFloats, f32)};
  if (p.localList())
    workgroup.append({getWorkgroupType(p.threads, i32),
                      getWorkgroupType(p.tpb, i32)});
  gpu::GPUFuncOp fn = createKernel(
      builder, module, op->getLoc(), name, argTypes, roles, workgroup,
      {blocks, static_cast<int64_t>(llvm::divideCeil(s.n, p.cb))}, p.threads);
  if (standalone)
    fn->setAttr(SpSparseDialect::kWritesZerosAttrName, builder.getUnitAttr());

  ImplicitLocOpBuilder b(op->getLoc(), builder);
  b.setInsertionPointToStart(&fn.getBody().front());
  KernelBuilder k(b);
  unsigned arg = 0;
  Value lhs = fn.getArgument(arg++), rhs = fn.getArgument(arg++),
        rowMask = fn.getArgument(arg++);
  Value colMask = op.getColMask() ? fn.getArgument(arg++) : Value();
  Value output = fn.getArgument(arg++);
  Value tiles = standalone ? Value() : fn.getArgument(arg++);
  unsigned countArg = arg;
  Value sA = fn.getWorkgroupAttributions()[0];
  Value sB = fn.getWorkgroupAttributions()[1];

  // Device-side dispatch: this variant runs only if the table picks it;
  // otherwise its grid-stride loop is empty. A standalone kernel always runs.
  Value upper =
      standalone ? Value() : buildDispatchedCount(k, fn, countArg, dispatch);

  Value tid = gpu::ThreadIdOp::create(b, gpu::Dimension::x);
  Value j0 = k.mul(gpu::BlockIdOp::create(b, gpu::Dimension::y), p.cb);
  Value cg = k.rem(tid, p.colGroups);
  Value rg = k.div(tid, p.colGroups);
  // This thread's rows (inside the block's rows) and their offsets in the
  // staged lhs; its columns are cg + j * colGroups.
  SmallVector<Value> rowOff, rowBase;
  for (int64_t i = 0; i < p.tp; ++i) {
    rowOff.push_back(k.add(rg, i * p.rowGroups));
    rowBase.push_back(k.mul(rowOff.back(), p.rb));
  }
  SmallVector<Value> colOff;
  for (int64_t j = 0; j < p.tc; ++j)
    colOff.push_back(k.add(cg, j * p.colGroups));

  // The block's work on batch entry `n`; `rowOf(r)` gives the output row of
  // the block's row r (0 <= r < rows) and whether it exists.
  using RowOf = function_ref<std::pair<Value, Value>(Value)>;
  auto emitRows = [&](Value n, RowOf rowOf) {
    int64_t rbv = p.rb / p.lhsVw;
    Staging lhsStage{p.rows * rbv, p.lhsVw, lhs, sA, [&](Value e, Value k0) {
                       Value r = k.mul(k.rem(e, rbv), p.lhsVw);
                       auto [row, exists] = rowOf(k.div(e, rbv));
                       Value kk = k.add(k0, r);
                       Value valid = k.land(exists, k.slt(kk, s.k));
                       Value index =
                           k.add(k.mul(k.add(k.mul(n, s.m), row), s.k), kk);
                       return std::make_pair(index, valid);
                     }};
    int64_t cbv = p.cb / p.rhsVw;
    Staging rhsStage{p.rb * cbv, p.rhsVw, rhs, sB, [&](Value e, Value k0) {
                       Value c = k.mul(k.rem(e, cbv), p.rhsVw);
                       Value kk = k.add(k0, k.div(e, cbv));
                       Value col = k.add(j0, c);
                       Value valid = k.land(k.slt(col, s.n), k.slt(kk, s.k));
                       Value index =
                           k.add(k.mul(k.add(k.mul(n, s.k), kk), s.n), col);
                       return std::make_pair(index, valid);
                     }};
    Value zero = arith::ConstantOp::create(b, b.getF32FloatAttr(0.0f));
    SmallVector<Value> init(p.tp * p.tc, zero);
    SmallVector<Value> sums = buildStagedReduction(
        k, tid, p.threads, {lhsStage, rhsStage}, k.idx(0), k.idx(s.k), p.rb,
        init, p.pipeline,
        [&](ValueRange carried, ValueRange bases) -> SmallVector<Value> {
          SmallVector<Value> rowAt;
          for (Value base : rowBase)
            rowAt.push_back(k.add(bases[0], base));
          // The register tile: rb/unroll iterations of `unroll` steps of K
          // each.
          return buildUnrolledSteps(
              k, p.rb, p.unroll, carried,
              [&](Value r, MutableArrayRef<Value> acc) {
                Value bRow = k.add(bases[1], k.mul(r, p.cb));
                SmallVector<Value> x, w;
                for (int64_t i = 0; i < p.tp; ++i)
                  x.push_back(memref::LoadOp::create(
                      b, sA, ValueRange{k.add(rowAt[i], r)}));
                for (int64_t j = 0; j < p.tc; ++j)
                  w.push_back(memref::LoadOp::create(
                      b, sB, ValueRange{k.add(bRow, colOff[j])}));
                accumulateOuterProduct(k, x, w, acc);
              });
        });

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
    // Write the register tile where the row exists and is active; a
    // standalone kernel writes 0 where the row or column is masked off (its
    // output is not zero-filled).
    for (int64_t i = 0; i < p.tp; ++i) {
      auto [row, exists] = rowOf(rowOff[i]);
      Value m =
          k.loadOrZero(rowMask, space->getMaskIndex(k, n, {row}), exists);
      Value rowOn = k.land(exists, k.isNonZero(m));
      Value rowIndex = k.mul(k.add(k.mul(n, s.m), row), s.n);
      for (int64_t j = 0; j < p.tc; ++j) {
        Value on = k.land(rowOn, colOn[j]);
        Value value = sums[i * p.tc + j];
        if (standalone) {
          value = arith::SelectOp::create(b, on, value, zero);
          on = k.land(exists, k.slt(colIndex[j], s.n));
        }
        auto ifWrite = scf::IfOp::create(b, on, /*withElse=*/false);
        OpBuilder::InsertionGuard guard(b);
        b.setInsertionPointToStart(ifWrite.thenBlock());
        k.store(value, output, k.add(rowIndex, colIndex[j]));
      }
    }
  };

  if (!p.localList()) {
    auto tileLoop = scf::ForOp::create(
        b, gpu::BlockIdOp::create(b, gpu::Dimension::x), upper,
        gpu::GridDimOp::create(b, gpu::Dimension::x));
    b.setInsertionPointToStart(tileLoop.getBody());
    Value tile = k.toIndex(memref::LoadOp::create(
        b, tiles, ValueRange{tileLoop.getInductionVar()}));
    Value n;
    SmallVector<Value, 1> origin;
    space->decode(k, tile, n, origin);
    emitRows(n, [&](Value r) {
      Value row = k.add(origin[0], r);
      return std::make_pair(row, k.slt(row, s.m));
    });
    return fn;
  }

  // Per-block list. Every condition below is uniform over the block, so the
  // barriers inside stay legal.
  Value sScan = fn.getWorkgroupAttributions()[2];
  Value sList = fn.getWorkgroupAttributions()[3];
  Value bx = gpu::BlockIdOp::create(b, gpu::Dimension::x);
  Value n = k.div(bx, groupsPerEntry);
  Value first = k.mul(k.rem(bx, groupsPerEntry), p.tpb); // list position
  if (standalone) {
    // The zeros of the inactive tiles with ids first .. first + T - 1 in
    // this block's columns; consecutive threads take consecutive columns,
    // so the stores coalesce and the mask reads broadcast.
    int64_t rows = p.tpb * p.g;
    int64_t count = rows * p.cb;
    Value zero = arith::ConstantOp::create(b, b.getF32FloatAttr(0.0f));
    auto loop = scf::ForOp::create(b, tid, k.idx(count), k.idx(p.threads));
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPointToStart(loop.getBody());
    Value e = loop.getInductionVar();
    Value r = k.div(e, p.cb);
    Value t = k.add(first, k.div(r, p.g));
    Value row = k.add(k.mul(t, p.g), k.rem(r, p.g));
    Value col = k.add(j0, k.rem(e, p.cb));
    Value inside = k.land(k.slt(t, p.entryTiles),
                          k.land(k.slt(row, s.m), k.slt(col, s.n)));
    auto ifInside = scf::IfOp::create(b, inside, false);
    b.setInsertionPointToStart(ifInside.thenBlock());
    Value id = k.add(k.mul(n, p.entryTiles), t);
    Value active = space->buildTileIsActive(k, rowMask, id);
    Value idle =
        arith::XOrIOp::create(b, active, arith::ConstantIntOp::create(b, 1, 1));
    auto ifIdle = scf::IfOp::create(b, idle, false);
    b.setInsertionPointToStart(ifIdle.thenBlock());
    k.store(zero, output, k.add(k.mul(k.add(k.mul(n, s.m), row), s.n), col));
  }
  if (!standalone) {
    auto ifChosen = scf::IfOp::create(
        b, k.cmp(arith::CmpIPredicate::ugt, upper, k.idx(0)), false);
    b.setInsertionPointToStart(ifChosen.thenBlock());
  }
  Value none = arith::ConstantIntOp::create(b, -1, 32);
  Value zero32 = arith::ConstantIntOp::create(b, 0, 32);
  {
    auto ifSlot = scf::IfOp::create(b, k.slt(tid, p.tpb), false);
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPointToStart(ifSlot.thenBlock());
    k.store(none, sList, tid);
  }
  // Thread t scans the entry's tiles t*c .. t*c + c - 1 (c = scanPerThread):
  // their activity flags, then a block-wide inclusive scan of the counts.
  SmallVector<Value> flags;
  Value mine = zero32;
  for (int64_t i = 0; i < p.scanPerThread; ++i) {
    Value t = k.add(k.mul(tid, p.scanPerThread), i);
    Value valid = k.slt(t, p.entryTiles);
    Value id = k.add(k.mul(n, p.entryTiles), k.select(valid, t, k.idx(0)));
    flags.push_back(k.land(valid, space->buildTileIsActive(k, rowMask, id)));
    mine = arith::AddIOp::create(b, mine,
                                 arith::ExtUIOp::create(b, i32, flags.back()));
  }
  Value inclusive = buildBlockInclusiveScan(k, tid, p.threads, sScan, mine);
  Value total = k.toIndex(
      memref::LoadOp::create(b, sScan, ValueRange{k.idx(p.threads - 1)}));
  // The entry's active tiles in order; this block keeps positions
  // first .. first + T - 1.
  Value pos = k.toIndex(arith::SubIOp::create(b, inclusive, mine));
  for (int64_t i = 0; i < p.scanPerThread; ++i) {
    Value slot = arith::SubIOp::create(b, pos, first);
    Value mineSlot = k.land(flags[i], k.inRange(slot, p.tpb));
    auto ifMine = scf::IfOp::create(b, mineSlot, false);
    {
      OpBuilder::InsertionGuard guard(b);
      b.setInsertionPointToStart(ifMine.thenBlock());
      Value t = k.add(k.mul(tid, p.scanPerThread), i);
      k.store(arith::IndexCastOp::create(b, i32, t), sList, slot);
    }
    pos = k.add(pos, k.select(flags[i], k.idx(1), k.idx(0)));
  }
  gpu::BarrierOp::create(b);
  auto ifWork = scf::IfOp::create(
      b, k.cmp(arith::CmpIPredicate::ult, first, total), false);
  b.setInsertionPointToStart(ifWork.thenBlock());
  emitRows(n, [&](Value r) {
    Value t = memref::LoadOp::create(b, sList, ValueRange{k.div(r, p.g)});
    Value listed =
        arith::CmpIOp::create(b, arith::CmpIPredicate::sge, t, zero32);
    Value row = k.add(k.mul(k.toIndex(k.select(listed, t, zero32)), p.g),
                      k.rem(r, p.g));
    return std::make_pair(row, k.land(listed, k.slt(row, s.m)));
  });
  return fn;
}

bool mlir::spsparse::variantListsOwnTiles(MaskedOpInterface op,
                                          ScheduleAttr schedule) {
  return isa<MaskedBatchMatmulOp>(op.getOperation()) && schedule &&
         schedule.getTilesPerBlock() > 1;
}
