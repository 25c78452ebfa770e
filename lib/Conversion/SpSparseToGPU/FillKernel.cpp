//===- FillKernel.cpp - a masked convolution's zeros, off its critical path
//===//
//
// Part of the dynaspa project.
//
//===----------------------------------------------------------------------===//
//
// The variant kernels of a masked convolution write only active pixels, so
// the rest of the output needs zeros. A zero fill of the whole output before
// the op sits on the critical path (3.6-8.8 us of a 1x1 40x40x256 layer at
// batch 1-4 on the H100). This kernel writes the zeros of the masked-off
// pixels instead, with the variants' own mask test negated, and touches
// nothing the prologue or the variants read or write, so the runtime runs it
// on a second queue alongside them (Operator.fills_alongside). It applies
// where no variant splits its reduction (see SpSparseToGPU.cpp).
//
// The kernel must write at close to memset bandwidth or it is slower than
// the fill it replaces. Each warp takes `kPixelsPerStep` consecutive pixels
// per step: it issues all their mask loads (uniform, so one transaction
// each) before the first store, so one load latency covers the step; each
// pixel that needs zeros is then one coalesced store per 32 channel vectors
// from the warp's lanes. Measured on the H100 (docs/benchmarks/NOTES.md
// entries 20 and 21): 206 us for 537 MB where a memset takes 167 us; with one
// pixel per step the mask load's latency bound it (481 us), and a thread per
// output vector wrote 1.1 TB/s.
//
//===----------------------------------------------------------------------===//

#include "KernelBuilder.h"
#include "TileSpace.h"

#include "mlir/Dialect/GPU/IR/GPUDialect.h"

using namespace mlir;
using namespace mlir::spsparse;

/// Blocks x threads of a fill kernel: a small fixed grid (2 blocks of 8
/// warps per SM on an H100) that leaves the SMs to the variant kernels.
/// `kWarp` threads share a pixel: a warp on NVIDIA GPUs; elsewhere only a
/// grouping of the threads. `kPixelsPerStep` mask loads in flight per warp
/// (see above).
static constexpr int64_t kFillBlocks = 264, kFillThreads = 256, kWarp = 32,
                         kPixelsPerStep = 8;

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
  int64_t vw = getWidestDividing(4, {co});
  Type f32 = Float32Type::get(ctx);
  SmallVector<Type> argTypes = {
      getFlatType(maskType.getNumElements(),
                  getDeviceMaskElementType(maskType.getElementType())),
      getFlatType(outType.getNumElements(), f32)};
  int64_t ho = space->extent[0], wo = space->extent[1];
  int64_t pixels = space->batch * ho * wo, perPixel = co / vw;
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
  Value mask = fn.getArgument(0), output = fn.getArgument(1);
  Value tid = gpu::ThreadIdOp::create(b, gpu::Dimension::x);
  Value lane = k.rem(tid, kWarp);
  Value warp = k.add(k.mul(gpu::BlockIdOp::create(b, gpu::Dimension::x), warps),
                     k.div(tid, kWarp));
  auto loop = scf::ForOp::create(b, warp, k.idx(steps), k.idx(blocks * warps));
  b.setInsertionPointToStart(loop.getBody());
  Value first = k.mul(loop.getInductionVar(), kPixelsPerStep);
  bool ragged = pixels % kPixelsPerStep != 0;
  // All of the step's mask loads first (the last step's pixels past the end
  // read the last pixel's element), then the stores.
  SmallVector<Value, kPixelsPerStep> stepPixels, onPixels;
  for (int64_t j = 0; j < kPixelsPerStep; ++j) {
    Value pixel = k.add(first, j);
    Value at =
        ragged ? arith::MinUIOp::create(b, pixel, k.idx(pixels - 1)) : pixel;
    Value n = k.div(at, ho * wo);
    Value oh = k.rem(k.div(at, wo), ho);
    Value ow = k.rem(at, wo);
    Value on = k.isNonZero(memref::LoadOp::create(
        b, mask, ValueRange{space->getMaskIndex(k, n, {oh, ow})}));
    stepPixels.push_back(pixel);
    onPixels.push_back(on);
  }
  Value one = arith::ConstantIntOp::create(b, 1, 1);
  for (auto [pixel, on] : llvm::zip_equal(stepPixels, onPixels)) {
    Value write = arith::XOrIOp::create(b, on, one);
    if (ragged)
      write = k.land(write, k.slt(pixel, pixels));
    OpBuilder::InsertionGuard guard(b);
    auto ifZero = scf::IfOp::create(b, write, /*withElse=*/false);
    b.setInsertionPointToStart(ifZero.thenBlock());
    auto channels = scf::ForOp::create(b, lane, k.idx(perPixel), k.idx(kWarp));
    b.setInsertionPointToStart(channels.getBody());
    Type zeroType = vw == 1 ? f32 : Type(VectorType::get({vw}, f32));
    k.store(
        arith::ConstantOp::create(b, b.getZeroAttr(zeroType)), output,
        k.mul(k.add(k.mul(pixel, perPixel), channels.getInductionVar()), vw));
  }
  return fn;
}
