//===- ConvKernel.cpp - the masked convolution kernel template ------------===//
//
// Part of the dynaspa project.
//
//===----------------------------------------------------------------------===//
//
// One PolyKernel variant of `spsparse.masked_conv2d` (NHWC / HWCF) as a GPU
// kernel, an implicit GEMM over the active DISTiles: M = the pixels of
// `tiles_per_block` tiles, N = a `channel_block` slice of the output channels
// (blockIdx.y), K = kh * kw * Cin, of which blockIdx.z owns a `split_k`
// slice. Blocks walk the DISTile list grid-stride (blockIdx.x), so the launch
// is fixed and the tile count never reaches the host. With `min_blocks` the
// split is adaptive: the kernel reads the active tile count and splits into
// as few slices (at most `split_k`) as make `min_blocks` blocks of work; the
// (group, slice) pairs are then what blockIdx.x walks. For one group of tiles:
//
//   decode the group's tiles once into shared memory (batch, window origin);
//   for each chunk of `reduction_block` input channels in this block's slice:
//     stage every tile's input window (rows/cols: (g-1)*stride+(k-1)*dil+1)
//     and the filter block [kh][kw][chunk][channel_block] in shared memory,
//     straight from global memory (no gather into a dense copy); positions
//     outside the input, and tiles past the end of the list, read as 0
//     without touching memory (phantom reads);
//     every thread accumulates its register tile of `thread_pixels` pixels x
//     `thread_channels` channels from shared memory;
//   write the register tile where the output exists and the mask is set
//   (phantom writes and masked-off pixels are skipped: the output is
//   zero-filled before the op), atomically when the reduction is split.
//
// A thread's channels come in runs of up to 4 consecutive channels, one run
// per group of `channel_block / thread_channels * run` channels: lanes of a
// warp take consecutive runs, so each filter read from shared memory is one
// conflict-free vector load per run and output stores coalesce. The threads
// sharing a pixel read the same input word (a broadcast).
//
//===----------------------------------------------------------------------===//

#include "KernelBuilder.h"
#include "TileSpace.h"

#include "mlir/Dialect/GPU/IR/GPUDialect.h"

using namespace mlir;
using namespace mlir::spsparse;

namespace {

struct ConvShape {
  int64_t n, h, w, ci, kh, kw, co, ho, wo;
  int64_t sh, sw, dh, dw, padTop, padLeft;
};

/// The knobs of a schedule checked against one shape and granularity.
struct ConvPlan {
  int64_t gh, gw, tilePixels; // DISTile
  int64_t tpb, pixels;        // tiles per block, pixels per block
  int64_t cb, rb;             // channel / reduction blocks
  int64_t threads, tc, tp, vw; // thread tile, global vector width
  int64_t unroll, splitK;
  int64_t minBlocks; // adaptive split: blocks of work to aim for (0: off)
  int64_t chunks;    // reduction chunks of `rb` channels in Cin
  bool doubleBuffer; // prefetch the next chunk into registers
  StagingPipeline pipeline; // how staging overlaps the arithmetic
  int64_t copies;           // shared copies of a chunk (2: ping-pong)
  int64_t channelGroups; // threads along channels: cb / tc
  int64_t pixelGroups;   // threads along pixels: pixels / tp
  int64_t run;           // consecutive channels of a thread (shared vector)
  int64_t ih, iw, window; // staged input window of one tile (floats)
  int64_t chunksPerSplit; // reduction chunks of one static slice
  int64_t inputFloats, filterFloats;
};

/// Per tile of a block, the decoded tile in shared memory: batch (-1 for a
/// phantom tile past the end of the list), output origin, input origin.
enum TileField : int64_t { kBatch, kOutRow, kOutCol, kInRow, kInCol, kFields };

FailureOr<ConvPlan> planConv(MaskedConv2DOp op, const ConvShape &s,
                             const TileSpace &space, ScheduleAttr schedule,
                             const KernelOptions &options) {
  ConvPlan p;
  p.gh = space.sizes[0];
  p.gw = space.sizes[1];
  p.tilePixels = p.gh * p.gw;
  p.tpb = schedule.getTilesPerBlock();
  p.pixels = p.tpb * p.tilePixels;
  p.cb = schedule.getChannelBlock();
  p.rb = schedule.getReductionBlock();
  p.threads = schedule.getThreads();
  p.tc = schedule.getThreadChannels();
  p.tp = schedule.getThreadPixels();
  p.vw = schedule.getVectorWidth();
  p.unroll = schedule.getUnroll();
  p.splitK = schedule.getSplitK();
  p.minBlocks = schedule.getMinBlocks();
  auto fail = [&]() {
    return op->emitOpError() << "schedule " << schedule << " at granularity ["
                             << p.gh << ", " << p.gw << "]: ";
  };
  if (p.cb % p.tc || p.pixels % p.tp)
    return fail() << "thread_channels must divide channel_block and "
                     "thread_pixels the block's "
                  << p.pixels << " pixels (tiles_per_block x DISTile)";
  p.channelGroups = p.cb / p.tc;
  p.pixelGroups = p.pixels / p.tp;
  if (p.threads != p.channelGroups * p.pixelGroups)
    return fail() << "threads must be (channel_block / thread_channels) * "
                     "(tiles_per_block * pixels / thread_pixels) = "
                  << p.channelGroups * p.pixelGroups;
  if (p.threads > 1024)
    return fail() << "more than 1024 threads per block";
  if (p.tpb > p.threads)
    return fail() << "tiles_per_block must not exceed threads";
  if (p.vw != 1 && p.vw != 2 && p.vw != 4)
    return fail() << "vector_width must be 1, 2 or 4";
  if (s.ci % p.vw || p.rb % p.vw || s.co % p.vw || p.cb % p.vw)
    return fail() << "vector_width " << p.vw
                  << " must divide Cin, Cout, channel_block and "
                     "reduction_block";
  if (p.rb % p.unroll)
    return fail() << "unroll must divide reduction_block";
  p.doubleBuffer = schedule.getDoubleBuffer();
  p.chunks = llvm::divideCeil(s.ci, p.rb);
  if (p.splitK > p.chunks)
    return fail() << "split_k must not exceed the " << p.chunks
                  << " reduction blocks of Cin";
  p.chunksPerSplit = llvm::divideCeil(p.chunks, p.splitK);
  // Runs of 4 (or 2) channels let a thread read its filters with one vector
  // load per run; the output store then also needs Cout to be a multiple.
  p.run = getWidestDividing(4, {p.tc, s.co});
  p.ih = (p.gh - 1) * s.sh + (s.kh - 1) * s.dh + 1;
  p.iw = (p.gw - 1) * s.sw + (s.kw - 1) * s.dw + 1;
  p.window = p.ih * p.iw * p.rb;
  p.inputFloats = p.tpb * p.window;
  p.filterFloats = s.kh * s.kw * p.rb * p.cb;
  int64_t bytes = 4 * (p.inputFloats + p.filterFloats + kFields * p.tpb);
  if (failed(checkStagingFits(fail, bytes, p.doubleBuffer, p.threads,
                              {p.inputFloats, p.filterFloats}, p.tp * p.tc)))
    return failure();
  p.pipeline = chooseStagingPipeline(options, p.doubleBuffer, bytes,
                                     {p.inputFloats, p.filterFloats});
  p.copies = p.pipeline == StagingPipeline::PingPong ? 2 : 1;
  return p;
}

} // namespace

FailureOr<gpu::GPUFuncOp> mlir::spsparse::buildConvKernel(
    OpBuilder &builder, gpu::GPUModuleOp module, MaskedConv2DOp op,
    GranularityAttr g, ScheduleAttr schedule, StringRef name,
    ArrayRef<DispatchTerm> dispatch, ArrayRef<std::string> extraCountRoles,
    const KernelOptions &options) {
  if (op.getLayout() != Layout::nhwc)
    return op->emitOpError(
        "the GPU lowering handles NHWC/HWCF convolutions only");
  FailureOr<TileSpace> space = TileSpace::get(op, g);
  if (failed(space))
    return failure();
  auto inType = cast<RankedTensorType>(op.getInput().getType());
  auto fType = cast<RankedTensorType>(op.getFilter().getType());
  auto outType = cast<RankedTensorType>(op.getResult().getType());
  auto maskType = cast<RankedTensorType>(op.getMask().getType());
  if (!inType.getElementType().isF32() || !fType.getElementType().isF32() ||
      !outType.getElementType().isF32())
    return op->emitOpError("the GPU lowering handles f32 convolutions only");
  if (!inType.hasStaticShape() || !fType.hasStaticShape())
    return op->emitOpError("needs static shapes for the GPU lowering");
  ArrayRef<int64_t> strides = op.getStrides(), dil = op.getDilations(),
                    pad = op.getPadding();
  ConvShape s{inType.getDimSize(0), inType.getDimSize(1), inType.getDimSize(2),
              inType.getDimSize(3), fType.getDimSize(0),  fType.getDimSize(1),
              fType.getDimSize(3),  outType.getDimSize(1), outType.getDimSize(2),
              strides[0],           strides[1],           dil[0],
              dil[1],               pad[0],               pad[2]};
  FailureOr<ConvPlan> planOr = planConv(op, s, *space, schedule, options);
  if (failed(planOr))
    return failure();
  const ConvPlan &p = *planOr;

  MLIRContext *ctx = builder.getContext();
  Type f32 = Float32Type::get(ctx), i32 = IntegerType::get(ctx, 32);
  int64_t cap = space->getNumTiles();
  SmallVector<Type> argTypes = {
      getFlatType(inType.getNumElements(), f32),
      getFlatType(fType.getNumElements(), f32),
      getFlatType(maskType.getNumElements(),
                  getDeviceMaskElementType(maskType.getElementType()))};
  SmallVector<std::string> roles = {"input", "filter", "mask"};
  bool hasBias = static_cast<bool>(op.getBias());
  if (hasBias) {
    argTypes.push_back(getFlatType(s.co, f32));
    roles.push_back("bias");
  }
  argTypes.push_back(getFlatType(outType.getNumElements(), f32));
  roles.push_back("output");
  appendTileListArgs(argTypes, roles, g, cap, extraCountRoles);
  // By default one block per group of tiles of a full mask: the best
  // balance. The adaptive split's (group, slice) pairs need up to
  // ceil(min_blocks / channel blocks) blocks on a sparse mask, and never
  // more than the non-empty slices of split_k per group.
  int64_t channelBlocks = llvm::divideCeil(s.co, p.cb);
  int64_t gridX = llvm::divideCeil(cap, p.tpb);
  if (p.minBlocks > 0)
    gridX = std::max(gridX,
                     std::min<int64_t>(
                         llvm::divideCeil(p.minBlocks, channelBlocks),
                         gridX * llvm::divideCeil(p.chunks, p.chunksPerSplit)));
  int64_t blocks =
      schedule.getBlocks() > 0 ? std::min(schedule.getBlocks(), gridX) : gridX;
  gpu::GPUFuncOp fn = createKernel(
      builder, module, op->getLoc(), name, argTypes, roles,
      {getWorkgroupType(p.copies * p.inputFloats, f32),
       getWorkgroupType(p.copies * p.filterFloats, f32),
       getWorkgroupType(kFields * p.tpb, i32)},
      {blocks, channelBlocks, p.minBlocks > 0 ? 1 : p.splitK}, p.threads);

  ImplicitLocOpBuilder b(op->getLoc(), builder);
  b.setInsertionPointToStart(&fn.getBody().front());
  KernelBuilder k(b);
  unsigned arg = 0;
  Value input = fn.getArgument(arg++), filter = fn.getArgument(arg++),
        mask = fn.getArgument(arg++);
  Value bias = hasBias ? fn.getArgument(arg++) : Value();
  Value output = fn.getArgument(arg++);
  Value tiles = fn.getArgument(arg++);
  unsigned countArg = arg;
  Value sIn = fn.getWorkgroupAttributions()[0];
  Value sW = fn.getWorkgroupAttributions()[1];
  Value sTile = fn.getWorkgroupAttributions()[2];

  // Device-side dispatch: this variant runs only if the table picks it;
  // otherwise its grid-stride loop is empty.
  Value upper = buildDispatchedCount(k, fn, countArg, dispatch);
  Value numGroups = k.div(k.add(upper, p.tpb - 1), p.tpb);
  // The reduction's slices: split_k (blockIdx.z), or with min_blocks the
  // fewest (at most split_k) for which groups x channel blocks x slices
  // reaches min_blocks; blockIdx.x then walks (group, slice) pairs, slice
  // fastest, so the slices of one group run side by side.
  Value slices, numWork = numGroups, chunksPerSlice, split, manySlices;
  if (p.minBlocks == 0) {
    split = gpu::BlockIdOp::create(b, gpu::Dimension::z);
  } else {
    Value perSlice =
        k.mul(arith::MaxUIOp::create(b, numGroups, k.idx(1)), channelBlocks);
    Value want = arith::DivUIOp::create(b, k.add(perSlice, p.minBlocks - 1),
                                        perSlice); // ceil(min / per)
    slices = arith::MinUIOp::create(b, want, k.idx(p.splitK)); // want >= 1
    chunksPerSlice =
        arith::DivUIOp::create(b, k.add(slices, p.chunks - 1), slices);
    // No empty slices: 8 chunks in 6 slices are 4 slices of 2.
    slices = arith::DivUIOp::create(b, k.add(chunksPerSlice, p.chunks - 1),
                                    chunksPerSlice);
    numWork = k.mul(numGroups, slices);
    manySlices = k.cmp(arith::CmpIPredicate::ugt, slices, k.idx(1));
  }

  Value tid = gpu::ThreadIdOp::create(b, gpu::Dimension::x);
  Value co0 = k.mul(gpu::BlockIdOp::create(b, gpu::Dimension::y), p.cb);
  Value cg = k.rem(tid, p.channelGroups);
  Value pg = k.div(tid, p.channelGroups);
  // This thread's pixels: tile of the group, (row, col) inside the tile, and
  // offset of its window in the staged input. Its channels are the runs
  // starting at (j * channelGroups + cg) * run.
  SmallVector<Value> pixTile, pixRow, pixCol, pixBase;
  for (int64_t i = 0; i < p.tp; ++i) {
    Value pix = k.add(pg, i * p.pixelGroups);
    Value local = k.rem(pix, p.tilePixels);
    pixTile.push_back(k.div(pix, p.tilePixels));
    pixRow.push_back(k.div(local, p.gw));
    pixCol.push_back(k.rem(local, p.gw));
    pixBase.push_back(k.add(
        k.mul(pixTile.back(), p.window),
        k.mul(k.add(k.mul(k.mul(pixRow.back(), s.sh), p.iw),
                    k.mul(pixCol.back(), s.sw)),
              p.rb)));
  }
  SmallVector<Value> runOff;
  for (int64_t j = 0; j < p.tc / p.run; ++j)
    runOff.push_back(k.mul(k.add(cg, j * p.channelGroups), p.run));
  auto tileField = [&](Value t, int64_t field) {
    return k.toIndex(memref::LoadOp::create(
        b, sTile, ValueRange{k.add(k.mul(t, kFields), field)}));
  };

  auto workLoop =
      scf::ForOp::create(b, gpu::BlockIdOp::create(b, gpu::Dimension::x),
                         numWork, gpu::GridDimOp::create(b, gpu::Dimension::x));
  b.setInsertionPointToStart(workLoop.getBody());
  Value group = workLoop.getInductionVar();
  if (p.minBlocks > 0) {
    split = arith::RemUIOp::create(b, group, slices);
    group = arith::DivUIOp::create(b, group, slices);
  }
  // The previous group is done with the decoded tiles.
  gpu::BarrierOp::create(b);
  {
    auto decodeIf = scf::IfOp::create(b, k.slt(tid, p.tpb), false);
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPointToStart(decodeIf.thenBlock());
    Value listIndex = k.add(k.mul(group, p.tpb), tid);
    Value valid = k.cmp(arith::CmpIPredicate::slt, listIndex, upper);
    Value tile = k.toIndex(k.loadOrZero(tiles, listIndex, valid));
    Value n;
    SmallVector<Value, 2> origin;
    space->decode(k, tile, n, origin);
    Value fields[kFields] = {
        k.select(valid, n, arith::ConstantIndexOp::create(b, -1)), origin[0],
        origin[1], k.sub(k.mul(origin[0], s.sh), s.padTop),
        k.sub(k.mul(origin[1], s.sw), s.padLeft)};
    for (int64_t f = 0; f < kFields; ++f)
      memref::StoreOp::create(
          b, arith::IndexCastOp::create(b, i32, fields[f]), sTile,
          ValueRange{k.add(k.mul(tid, kFields), f)});
  }

  // This block's slice of the reduction: chunks [lo, hi) of `rb` channels.
  Value sliceWidth = p.minBlocks > 0 ? k.mul(chunksPerSlice, p.rb)
                                     : k.idx(p.chunksPerSplit * p.rb);
  Value kLo = k.mul(split, sliceWidth);
  Value kHi = arith::MinSIOp::create(b, k.add(kLo, sliceWidth), k.idx(s.ci));
  int64_t rbv = p.rb / p.vw;
  Staging inStage{
      p.tpb * p.ih * p.iw * rbv, p.vw, input, sIn, [&](Value e, Value c0) {
        Value r = k.mul(k.rem(e, rbv), p.vw);
        Value col = k.rem(k.div(e, rbv), p.iw);
        Value row = k.rem(k.div(e, rbv * p.iw), p.ih);
        Value t = k.div(e, rbv * p.iw * p.ih);
        Value n = tileField(t, kBatch);
        Value hIn = k.add(tileField(t, kInRow), row);
        Value wIn = k.add(tileField(t, kInCol), col);
        Value ci = k.add(c0, r);
        Value valid =
            k.land(k.land(k.sge(n, 0),
                          k.land(k.inRange(hIn, s.h), k.inRange(wIn, s.w))),
                   k.slt(ci, s.ci));
        Value index = k.add(
            k.mul(k.add(k.mul(k.add(k.mul(n, s.h), hIn), s.w), wIn), s.ci), ci);
        return std::make_pair(index, valid);
      }};
  int64_t cbv = p.cb / p.vw;
  Staging wStage{s.kh * s.kw * p.rb * cbv, p.vw, filter, sW,
                 [&](Value e, Value c0) {
                   Value c = k.mul(k.rem(e, cbv), p.vw);
                   Value r = k.rem(k.div(e, cbv), p.rb);
                   Value kk = k.div(e, cbv * p.rb);
                   Value co = k.add(co0, c), ci = k.add(c0, r);
                   Value valid = k.land(k.slt(co, s.co), k.slt(ci, s.ci));
                   Value index =
                       k.add(k.mul(k.add(k.mul(kk, s.ci), ci), s.co), co);
                   return std::make_pair(index, valid);
                 }};

  Value zero = arith::ConstantOp::create(b, b.getF32FloatAttr(0.0f));
  SmallVector<Value> init(p.tp * p.tc, zero);
  // The decoded tiles are visible before the first prefetch reads them.
  if (p.pipeline != StagingPipeline::Direct)
    gpu::BarrierOp::create(b);
  SmallVector<Value> sums = buildStagedReduction(
      k, tid, p.threads, {inStage, wStage}, kLo, kHi, p.rb, init, p.pipeline,
      [&](ValueRange carried, ValueRange bases) -> SmallVector<Value> {
        SmallVector<Value> pixAt;
        for (Value base : pixBase)
          pixAt.push_back(k.add(bases[0], base));
        // The register tile: rb/unroll iterations of `unroll` channels each.
        return buildUnrolledSteps(
            k, p.rb, p.unroll, carried,
            [&](Value r, MutableArrayRef<Value> acc) {
              for (int64_t kh = 0; kh < s.kh; ++kh) {
                for (int64_t kw = 0; kw < s.kw; ++kw) {
                  int64_t winOff = (kh * s.dh * p.iw + kw * s.dw) * p.rb;
                  Value wRow = k.add(
                      bases[1], k.mul(k.add(r, (kh * s.kw + kw) * p.rb), p.cb));
                  SmallVector<Value> x, w;
                  for (int64_t i = 0; i < p.tp; ++i)
                    x.push_back(memref::LoadOp::create(
                        b, sIn, ValueRange{k.add(k.add(pixAt[i], winOff), r)}));
                  for (Value off : runOff) {
                    Value index = k.add(wRow, off);
                    if (p.run == 1) {
                      w.push_back(
                          memref::LoadOp::create(b, sW, ValueRange{index}));
                      continue;
                    }
                    Value v = k.loadVector(sW, index, p.run);
                    for (int64_t e = 0; e < p.run; ++e)
                      w.push_back(k.extract(v, e));
                  }
                  accumulateOuterProduct(k, x, w, acc);
                }
              }
            });
      });

  // Write the register tile where the output exists and the mask is set.
  // With a split reduction the partial sums add up atomically and the first
  // slice adds the bias.
  Value addBias = p.splitK > 1 ? k.cmp(arith::CmpIPredicate::eq, split,
                                       k.idx(0))
                               : Value();
  for (int64_t i = 0; i < p.tp; ++i) {
    Value n = tileField(pixTile[i], kBatch);
    Value oh = k.add(tileField(pixTile[i], kOutRow), pixRow[i]);
    Value ow = k.add(tileField(pixTile[i], kOutCol), pixCol[i]);
    Value inBounds = k.land(k.sge(n, 0), space->isInBounds(k, {oh, ow}));
    Value m = k.loadOrZero(mask, space->getMaskIndex(k, n, {oh, ow}), inBounds);
    Value pixelOn = k.land(inBounds, k.isNonZero(m));
    Value pixelIndex = k.add(k.mul(k.add(k.mul(n, s.ho), oh), s.wo), ow);
    for (auto [j, off] : llvm::enumerate(runOff)) {
      // Cout is a multiple of the run: a run is in range or not as a whole.
      Value co = k.add(co0, off);
      Value write = k.land(pixelOn, k.slt(co, s.co));
      auto ifWrite = scf::IfOp::create(b, write, /*withElse=*/false);
      OpBuilder::InsertionGuard guard(b);
      b.setInsertionPointToStart(ifWrite.thenBlock());
      Value dst = k.add(k.mul(pixelIndex, s.co), co);
      SmallVector<Value> vals;
      for (int64_t e = 0; e < p.run; ++e) {
        Value v = sums[i * p.tc + j * p.run + e];
        if (bias) {
          Value bv = memref::LoadOp::create(b, bias, ValueRange{k.add(co, e)});
          if (addBias)
            bv = k.select(addBias, bv, zero);
          v = arith::AddFOp::create(b, v, bv);
        }
        vals.push_back(v);
      }
      auto addAtomically = [&] {
        for (int64_t e = 0; e < p.run; ++e)
          memref::AtomicRMWOp::create(b, arith::AtomicRMWKind::addf, vals[e],
                                      output, ValueRange{k.add(dst, e)});
      };
      auto storeRun = [&] {
        if (p.run == 1)
          return k.store(vals[0], output, dst);
        k.store(vector::FromElementsOp::create(
                    b, VectorType::get({p.run}, f32), vals),
                output, dst);
      };
      if (p.splitK == 1) {
        storeRun();
      } else if (p.minBlocks == 0) {
        addAtomically();
      } else {
        // An adaptive split of one slice owns its outputs: one vector store
        // per run instead of `run` atomics (several % of a dense layer).
        auto ifSplit = scf::IfOp::create(b, manySlices, /*withElse=*/true);
        OpBuilder::InsertionGuard g2(b);
        b.setInsertionPointToStart(ifSplit.thenBlock());
        addAtomically();
        b.setInsertionPointToStart(ifSplit.elseBlock());
        storeRun();
      }
    }
  }
  return fn;
}
