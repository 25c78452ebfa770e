//===- ConvKernel.cpp - the masked convolution kernel template ------------===//
//
// Part of the dynaspa project.
//
//===----------------------------------------------------------------------===//
//
// One PolyKernel variant of `spsparse.masked_conv2d` (NHWC / HWCF) as a GPU
// kernel. A block owns a `channel_block` slice of the output channels
// (blockIdx.y) and walks the DISTile list grid-stride (blockIdx.x), so the
// launch is fixed and the tile count never reaches the host. For one tile:
//
//   for each chunk of `reduction_block` input channels:
//     stage the tile's input window (rows/cols: (g-1)*stride+(k-1)*dil+1) and
//     the filter block [kh][kw][chunk][channel_block] in shared memory,
//     straight from global memory (no gather into a dense copy); positions
//     outside the input read as 0 without touching memory (phantom reads);
//     every thread accumulates its register tile of `thread_pixels` pixels x
//     `thread_channels` channels from shared memory;
//   write the register tile where the output exists and the mask is set
//   (phantom writes and masked-off pixels are skipped: the output is
//   zero-filled before the op).
//
// Threads of a warp take consecutive channels, so filter reads from shared
// memory are conflict-free and output stores coalesce; the threads sharing a
// pixel read the same input word (a broadcast).
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

struct ConvShape {
  int64_t n, h, w, ci, kh, kw, co, ho, wo;
  int64_t sh, sw, dh, dw, padTop, padLeft;
};

/// The knobs of a schedule checked against one shape and granularity.
struct ConvPlan {
  int64_t gh, gw, pixels;      // DISTile
  int64_t cb, rb;              // channel / reduction blocks
  int64_t threads, tc, tp, vw; // thread tile, vector width
  int64_t unroll;
  int64_t channelGroups; // threads along channels: cb / tc
  int64_t pixelGroups;   // threads along pixels: pixels / tp
  int64_t ih, iw;        // staged input window
  int64_t inputFloats, filterFloats;
};

FailureOr<ConvPlan> planConv(MaskedConv2DOp op, const ConvShape &s,
                             const TileSpace &space, ScheduleAttr schedule) {
  ConvPlan p;
  p.gh = space.sizes[0];
  p.gw = space.sizes[1];
  p.pixels = p.gh * p.gw;
  p.cb = schedule.getChannelBlock();
  p.rb = schedule.getReductionBlock();
  p.threads = schedule.getThreads();
  p.tc = schedule.getThreadChannels();
  p.tp = schedule.getThreadPixels();
  p.vw = schedule.getVectorWidth();
  p.unroll = schedule.getUnroll();
  auto fail = [&]() {
    return op->emitOpError() << "schedule " << schedule << " at granularity ["
                             << p.gh << ", " << p.gw << "]: ";
  };
  if (p.cb % p.tc || p.pixels % p.tp)
    return fail() << "thread_channels must divide channel_block and "
                     "thread_pixels the DISTile's "
                  << p.pixels << " pixels";
  p.channelGroups = p.cb / p.tc;
  p.pixelGroups = p.pixels / p.tp;
  if (p.threads != p.channelGroups * p.pixelGroups)
    return fail() << "threads must be (channel_block / thread_channels) * "
                     "(pixels / thread_pixels) = "
                  << p.channelGroups * p.pixelGroups;
  if (p.threads > 1024)
    return fail() << "more than 1024 threads per block";
  if (p.vw != 1 && p.vw != 2 && p.vw != 4)
    return fail() << "vector_width must be 1, 2 or 4";
  if (s.ci % p.vw || p.rb % p.vw || s.co % p.vw || p.cb % p.vw)
    return fail() << "vector_width " << p.vw
                  << " must divide Cin, Cout, channel_block and "
                     "reduction_block";
  if (p.rb % p.unroll)
    return fail() << "unroll must divide reduction_block";
  if (schedule.getDoubleBuffer())
    return fail() << "double_buffer is not implemented by the GPU lowering yet";
  p.ih = (p.gh - 1) * s.sh + (s.kh - 1) * s.dh + 1;
  p.iw = (p.gw - 1) * s.sw + (s.kw - 1) * s.dw + 1;
  p.inputFloats = p.ih * p.iw * p.rb;
  p.filterFloats = s.kh * s.kw * p.rb * p.cb;
  int64_t bytes = 4 * (p.inputFloats + p.filterFloats);
  if (bytes > kMaxStaticSharedBytes)
    return fail() << "needs " << bytes
                  << " bytes of shared memory (more than 48 KiB)";
  return p;
}

/// Stages `count` elements into `dst` (count a multiple of the vector width
/// `vw`), `threads` cooperating, where `source(e)` gives the global index and
/// validity of flat element group `e`.
void stage(KernelBuilder &k, Value tid, int64_t threads, int64_t groups,
           int64_t vw, Value src, Value dst,
           function_ref<std::pair<Value, Value>(Value)> source) {
  ImplicitLocOpBuilder &b = k.b;
  auto loop = scf::ForOp::create(b, tid, k.idx(groups), k.idx(threads));
  OpBuilder::InsertionGuard guard(b);
  b.setInsertionPointToStart(loop.getBody());
  Value e = loop.getInductionVar();
  auto [index, valid] = source(e);
  k.store(k.loadOrZero(src, index, valid, vw), dst, k.mul(e, vw));
}

} // namespace

FailureOr<gpu::GPUFuncOp> mlir::spsparse::buildConvKernel(
    OpBuilder &builder, gpu::GPUModuleOp module, MaskedConv2DOp op,
    GranularityAttr g, ScheduleAttr schedule, StringRef name,
    ArrayRef<DispatchTerm> dispatch, ArrayRef<std::string> extraCountRoles) {
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
  FailureOr<ConvPlan> planOr = planConv(op, s, *space, schedule);
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
  argTypes.append({getFlatType(cap, i32), getFlatType(1, i32)});
  roles.append({getTilesRole(g), getCountRole(g)});
  for (const std::string &role : extraCountRoles) {
    argTypes.push_back(getFlatType(1, i32));
    roles.push_back(role);
  }
  int64_t blocks = schedule.getBlocks() > 0
                       ? std::min(schedule.getBlocks(), cap)
                       : cap; // One tile per block: the best balance.
  gpu::GPUFuncOp fn = createKernel(
      builder, module, op->getLoc(), name, argTypes, roles,
      {getWorkgroupType(p.inputFloats, f32),
       getWorkgroupType(p.filterFloats, f32)},
      {blocks, llvm::divideCeil(s.co, p.cb)}, p.threads);

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

  // Device-side dispatch: this variant runs only if the table picks it;
  // otherwise its grid-stride loop is empty.
  Value count =
      k.toIndex(memref::LoadOp::create(b, fn.getArgument(countArg),
                                       ValueRange{k.idx(0)}));
  Value chosen;
  for (const DispatchTerm &t : dispatch) {
    Value c = k.toIndex(memref::LoadOp::create(b, fn.getArgument(t.argIndex),
                                               ValueRange{k.idx(0)}));
    Value in = k.sge(c, t.lo);
    if (t.hi >= 0)
      in = k.land(in, k.cmp(arith::CmpIPredicate::sle, c, k.idx(t.hi)));
    if (t.negate)
      in = arith::XOrIOp::create(b, in, arith::ConstantIntOp::create(b, 1, 1));
    chosen = k.land(chosen, in);
  }
  Value upper = chosen ? k.select(chosen, count, k.idx(0)) : count;

  Value tid = gpu::ThreadIdOp::create(b, gpu::Dimension::x);
  Value co0 = k.mul(gpu::BlockIdOp::create(b, gpu::Dimension::y), p.cb);
  Value cg = k.rem(tid, p.channelGroups);
  Value pg = k.div(tid, p.channelGroups);
  // This thread's pixels (row, col inside the tile) and their offsets in the
  // staged window; its channels are cg + j * channelGroups.
  SmallVector<Value> pixRow, pixCol, pixBase;
  for (int64_t i = 0; i < p.tp; ++i) {
    Value pix = k.add(pg, i * p.pixelGroups);
    pixRow.push_back(k.div(pix, p.gw));
    pixCol.push_back(k.rem(pix, p.gw));
    pixBase.push_back(k.mul(k.add(k.mul(k.mul(pixRow.back(), s.sh), p.iw),
                                  k.mul(pixCol.back(), s.sw)),
                            p.rb));
  }
  SmallVector<Value> chanOff;
  for (int64_t j = 0; j < p.tc; ++j)
    chanOff.push_back(k.add(cg, j * p.channelGroups));

  auto tileLoop = scf::ForOp::create(
      b, gpu::BlockIdOp::create(b, gpu::Dimension::x), upper,
      gpu::GridDimOp::create(b, gpu::Dimension::x));
  b.setInsertionPointToStart(tileLoop.getBody());
  Value tile = k.toIndex(
      memref::LoadOp::create(b, tiles, ValueRange{tileLoop.getInductionVar()}));
  Value n;
  SmallVector<Value, 2> origin;
  space->decode(k, tile, n, origin);
  Value rowIn0 = k.sub(k.mul(origin[0], s.sh), s.padTop);
  Value colIn0 = k.sub(k.mul(origin[1], s.sw), s.padLeft);

  Value zero = arith::ConstantOp::create(b, b.getF32FloatAttr(0.0f));
  SmallVector<Value> init(p.tp * p.tc, zero);
  auto chunkLoop =
      scf::ForOp::create(b, k.idx(0), k.idx(s.ci), k.idx(p.rb), init);
  {
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPointToStart(chunkLoop.getBody());
    Value c0 = chunkLoop.getInductionVar();
    // The previous chunk (or tile) is done with the staged data.
    gpu::BarrierOp::create(b);
    int64_t rbv = p.rb / p.vw;
    stage(k, tid, p.threads, p.ih * p.iw * rbv, p.vw, input, sIn, [&](Value e) {
      Value r = k.mul(k.rem(e, rbv), p.vw);
      Value col = k.rem(k.div(e, rbv), p.iw);
      Value row = k.div(e, rbv * p.iw);
      Value hIn = k.add(rowIn0, row), wIn = k.add(colIn0, col);
      Value ci = k.add(c0, r);
      Value valid = k.land(k.land(k.inRange(hIn, s.h), k.inRange(wIn, s.w)),
                           k.slt(ci, s.ci));
      Value index = k.add(
          k.mul(k.add(k.mul(k.add(k.mul(n, s.h), hIn), s.w), wIn), s.ci), ci);
      return std::make_pair(index, valid);
    });
    int64_t cbv = p.cb / p.vw;
    stage(k, tid, p.threads, s.kh * s.kw * p.rb * cbv, p.vw, filter, sW,
          [&](Value e) {
            Value c = k.mul(k.rem(e, cbv), p.vw);
            Value r = k.rem(k.div(e, cbv), p.rb);
            Value kk = k.div(e, cbv * p.rb);
            Value co = k.add(co0, c), ci = k.add(c0, r);
            Value valid = k.land(k.slt(co, s.co), k.slt(ci, s.ci));
            Value index = k.add(k.mul(k.add(k.mul(kk, s.ci), ci), s.co), co);
            return std::make_pair(index, valid);
          });
    gpu::BarrierOp::create(b);

    // The register tile: rb/unroll iterations of `unroll` channels each.
    auto rLoop = scf::ForOp::create(b, k.idx(0), k.idx(p.rb),
                                    k.idx(p.unroll),
                                    chunkLoop.getRegionIterArgs());
    {
      OpBuilder::InsertionGuard g2(b);
      b.setInsertionPointToStart(rLoop.getBody());
      SmallVector<Value> acc(rLoop.getRegionIterArgs());
      auto contract = arith::FastMathFlagsAttr::get(
          b.getContext(), arith::FastMathFlags::contract);
      for (int64_t u = 0; u < p.unroll; ++u) {
        Value r = k.add(rLoop.getInductionVar(), u);
        for (int64_t kh = 0; kh < s.kh; ++kh) {
          for (int64_t kw = 0; kw < s.kw; ++kw) {
            int64_t winOff = (kh * s.dh * p.iw + kw * s.dw) * p.rb;
            Value wRow = k.mul(k.add(r, (kh * s.kw + kw) * p.rb), p.cb);
            SmallVector<Value> x, w;
            for (int64_t i = 0; i < p.tp; ++i)
              x.push_back(memref::LoadOp::create(
                  b, sIn, ValueRange{k.add(k.add(pixBase[i], winOff), r)}));
            for (int64_t j = 0; j < p.tc; ++j)
              w.push_back(memref::LoadOp::create(
                  b, sW, ValueRange{k.add(wRow, chanOff[j])}));
            for (int64_t i = 0; i < p.tp; ++i)
              for (int64_t j = 0; j < p.tc; ++j) {
                Value &a = acc[i * p.tc + j];
                Value prod = arith::MulFOp::create(b, x[i], w[j], contract);
                a = arith::AddFOp::create(b, a, prod, contract);
              }
          }
        }
      }
      scf::YieldOp::create(b, acc);
    }
    scf::YieldOp::create(b, rLoop.getResults());
  }

  // Write the register tile where the output exists and the mask is set.
  for (int64_t i = 0; i < p.tp; ++i) {
    Value oh = k.add(origin[0], pixRow[i]), ow = k.add(origin[1], pixCol[i]);
    Value inBounds = space->isInBounds(k, {oh, ow});
    Value m = k.loadOrZero(mask, space->getMaskIndex(k, n, {oh, ow}), inBounds);
    Value pixelOn = k.land(inBounds, k.isNonZero(m));
    Value pixelIndex = k.add(k.mul(k.add(k.mul(n, s.ho), oh), s.wo), ow);
    for (int64_t j = 0; j < p.tc; ++j) {
      Value co = k.add(co0, chanOff[j]);
      Value write = k.land(pixelOn, k.slt(co, s.co));
      auto ifWrite = scf::IfOp::create(b, write, /*withElse=*/false);
      OpBuilder::InsertionGuard guard(b);
      b.setInsertionPointToStart(ifWrite.thenBlock());
      Value v = chunkLoop.getResult(i * p.tc + j);
      if (bias)
        v = arith::AddFOp::create(b, v,
                                  memref::LoadOp::create(b, bias, ValueRange{co}));
      k.store(v, output, k.add(k.mul(pixelIndex, s.co), co));
    }
  }
  return fn;
}
