//===- FillKernel.cpp - a masked convolution's zeros ----------------------===//
//
// Part of the dynaspa project.
//
//===----------------------------------------------------------------------===//
//
// The variant kernels of a masked convolution compute only active pixels, so
// the rest of the output needs zeros. A zero fill of the whole output before
// the op sits on the critical path (166 us of 1,143 for SIGE 256^2 x 128 at
// batch 16 and d = 0.1 on the H100). buildZeroMaskedOff writes the zeros of
// the masked-off pixels instead, with the variants' own mask test negated,
// so they never touch an element a variant writes. Two places use it:
//   - the variants themselves (ConvZeros::Variants; by default where the
//     output has at least 32 MiB): the first blocks of the grid zero while
//     the others compute, so the stores drain beside the arithmetic (see
//     ConvKernel.cpp);
//   - a fill kernel the runtime runs on a second queue beside the prologue
//     and the variants (ConvZeros::FillKernel, Operator.fills_alongside),
//     where no variant splits its reduction. Measured on the H100, it did
//     not overlap: the variants' grids hold the SMs (NOTES.md entry 21).
//
// The zeros must be written at close to memset bandwidth. Each warp takes
// `kPixelsPerStep` consecutive pixels per step: it issues all their mask
// loads (uniform, so one transaction each) before the first store, so one
// load latency covers the step; each pixel that needs zeros is then one
// coalesced store per 32 channel vectors from the warp's lanes. Measured on
// the H100 (NOTES.md entries 20 and 21): the fill kernel wrote 537 MB in
// 206 us where a memset takes 167 us; with one pixel per step the mask
// load's latency bound it (481 us), and a thread per output vector wrote
// 1.1 TB/s.
//
//===----------------------------------------------------------------------===//

#include "KernelBuilder.h"
#include "TileSpace.h"

#include "mlir/Dialect/GPU/IR/GPUDialect.h"

using namespace mlir;
using namespace mlir::spsparse;

/// Blocks x threads of a fill kernel: a small fixed grid (2 blocks of 8
/// warps per SM on an H100) that leaves the SMs to the variant kernels.
static constexpr int64_t kFillBlocks = 264, kFillThreads = 256;

void mlir::spsparse::buildZeroMaskedOff(KernelBuilder &k,
                                        const TileSpace &space, Value mask,
                                        Value output, int64_t co,
                                        const ZeroShare &share) {
  ImplicitLocOpBuilder &b = k.b;
  int64_t ho = space.extent[0], wo = space.extent[1];
  int64_t vw = getWidestDividing(4, {co, share.channels});
  int64_t perPixel = share.channels / vw;
  // The last channel slice of a Cout that channels does not divide.
  bool partialSlice = co % share.channels != 0;
  // A share of constant bounds (the fill kernel's) is laid out statically:
  // no clamp or bounds test where its pixels are whole steps.
  std::optional<int64_t> lo = getConstantIntValue(share.lo),
                         hi = getConstantIntValue(share.hi);
  bool fixed = lo && hi;
  bool ragged = !fixed || (*hi - *lo) % kPixelsPerStep != 0;
  Value steps = fixed
                    ? k.idx(llvm::divideCeil(*hi - *lo, kPixelsPerStep))
                    : k.div(k.add(arith::SubIOp::create(b, share.hi, share.lo),
                                  kPixelsPerStep - 1),
                            kPixelsPerStep);
  Value last = fixed ? k.idx(*hi - 1) : k.sub(share.hi, 1);
  auto loop = scf::ForOp::create(b, share.warp, steps, share.warps);
  OpBuilder::InsertionGuard guard(b);
  b.setInsertionPointToStart(loop.getBody());
  Value first = k.mul(loop.getInductionVar(), kPixelsPerStep);
  if (!fixed || *lo != 0)
    first = k.add(share.lo, first);
  // All of the step's mask loads first (pixels past the share's end read
  // its last pixel's element), then the stores.
  SmallVector<Value, kPixelsPerStep> stepPixels, onPixels;
  for (int64_t j = 0; j < kPixelsPerStep; ++j) {
    Value pixel = k.add(first, j);
    Value at = ragged ? arith::MinUIOp::create(b, pixel, last) : pixel;
    // The pixel grid is the mask's own order (batch, row, column): the
    // pixel is its mask index.
    Value on = k.isNonZero(memref::LoadOp::create(
        b, mask, ValueRange{space.maskHasBatch ? at : k.rem(at, ho * wo)}));
    stepPixels.push_back(pixel);
    onPixels.push_back(on);
  }
  Value one = arith::ConstantIntOp::create(b, 1, 1);
  Type f32 = b.getF32Type();
  Type zeroType = vw == 1 ? f32 : Type(VectorType::get({vw}, f32));
  for (auto [pixel, on] : llvm::zip_equal(stepPixels, onPixels)) {
    Value write = arith::XOrIOp::create(b, on, one);
    if (ragged)
      write = k.land(write, k.cmp(arith::CmpIPredicate::ult, pixel, share.hi));
    OpBuilder::InsertionGuard inner(b);
    auto ifZero = scf::IfOp::create(b, write, /*withElse=*/false);
    b.setInsertionPointToStart(ifZero.thenBlock());
    auto vectors =
        scf::ForOp::create(b, share.lane, k.idx(perPixel), k.idx(share.lanes));
    b.setInsertionPointToStart(vectors.getBody());
    Value c = k.mul(vectors.getInductionVar(), vw);
    if (!isConstantIntValue(share.c0, 0))
      c = k.add(share.c0, c);
    if (partialSlice) {
      auto inCout = scf::IfOp::create(
          b, k.cmp(arith::CmpIPredicate::ult, c, k.idx(co)), false);
      b.setInsertionPointToStart(inCout.thenBlock());
    }
    k.store(arith::ConstantOp::create(b, b.getZeroAttr(zeroType)), output,
            k.add(k.mul(pixel, co), c));
  }
}

FailureOr<gpu::GPUFuncOp>
mlir::spsparse::buildConvFillKernel(OpBuilder &builder, gpu::GPUModuleOp module,
                                    MaskedConv2DOp op, StringRef name) {
  MLIRContext *ctx = builder.getContext();
  // The pixel grid: DISTiles of one pixel.
  FailureOr<TileSpace> space =
      TileSpace::get(op, GranularityAttr::get(ctx, {1, 1}));
  if (failed(space))
    return failure();
  auto outType = cast<RankedTensorType>(op.getResult().getType());
  auto maskType = cast<RankedTensorType>(op.getMask().getType());
  if (!outType.hasStaticShape() || !outType.getElementType().isF32())
    return op->emitOpError("needs a static f32 result for the GPU lowering");
  int64_t co = outType.getDimSize(3);
  Type f32 = Float32Type::get(ctx);
  SmallVector<Type> argTypes = {
      getFlatType(maskType.getNumElements(),
                  getDeviceMaskElementType(maskType.getElementType())),
      getFlatType(outType.getNumElements(), f32)};
  int64_t pixels = space->batch * space->extent[0] * space->extent[1];
  int64_t steps = llvm::divideCeil(pixels, kPixelsPerStep);
  int64_t warps = kFillThreads / kWarp;
  int64_t blocks =
      std::min<int64_t>(kFillBlocks, llvm::divideCeil(steps, warps));
  gpu::GPUFuncOp fn = createKernel(builder, module, op->getLoc(), name,
                                   argTypes, {"mask", "output"}, {}, {blocks},
                                   kFillThreads);

  ImplicitLocOpBuilder b(op->getLoc(), builder);
  b.setInsertionPointToStart(&fn.getBody().front());
  KernelBuilder k(b);
  Value tid = gpu::ThreadIdOp::create(b, gpu::Dimension::x);
  ZeroShare share;
  share.lo = k.idx(0);
  share.hi = k.idx(pixels);
  share.warp = k.add(k.mul(gpu::BlockIdOp::create(b, gpu::Dimension::x), warps),
                     k.div(tid, kWarp));
  share.warps = k.idx(blocks * warps);
  share.lane = k.rem(tid, kWarp);
  share.c0 = k.idx(0);
  share.channels = co;
  buildZeroMaskedOff(k, *space, fn.getArgument(0), fn.getArgument(1), co,
                     share);
  return fn;
}
