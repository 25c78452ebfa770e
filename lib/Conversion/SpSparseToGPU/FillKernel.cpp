//===- FillKernel.cpp - a masked convolution's zeros, off the critical path
//-===//
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
// A warp per pixel: the pixel's index arithmetic and mask test once per warp
// (uniform, no divergence), its lanes on consecutive vectors of the pixel's
// channels (one coalesced store per 32 vectors). A small fixed grid leaves
// the SMs to the variants running at the same time.
//
// Measured on the H100 (docs/benchmarks/NOTES.md entry 20): a first form, a
// thread per output vector with the pixel arithmetic per element, wrote
// 1.1 TB/s (a third of a memset) and slowed the variants it ran beside.
// This one is latency-bound on large outputs (one dependent mask load per
// pixel per warp: 481 us for 537 MB where a memset takes 168 us).
//
//===----------------------------------------------------------------------===//

#include "KernelBuilder.h"
#include "TileSpace.h"

#include "mlir/Dialect/GPU/IR/GPUDialect.h"

using namespace mlir;
using namespace mlir::spsparse;

/// Blocks x threads of a fill kernel: a small fixed grid (2 blocks of 8
/// warps per SM on an H100) that leaves the SMs to the variant kernels; on
/// large outputs it is latency-bound (see above). `kWarp` threads share a
/// pixel: a warp on NVIDIA GPUs; elsewhere only a grouping of the threads.
static constexpr int64_t kFillBlocks = 264, kFillThreads = 256, kWarp = 32;

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
  int64_t warps = kFillThreads / kWarp;
  int64_t blocks = std::min<int64_t>(
      kFillBlocks, llvm::divideCeil(outType.getNumElements() / co, warps));
  gpu::GPUFuncOp fn = createKernel(builder, module, op->getLoc(), name,
                                   argTypes, {"mask", "output"}, {}, {blocks},
                                   kFillThreads);

  ImplicitLocOpBuilder b(op->getLoc(), builder);
  b.setInsertionPointToStart(&fn.getBody().front());
  KernelBuilder k(b);
  Value mask = fn.getArgument(0), output = fn.getArgument(1);
  // A warp per pixel: the pixel's index arithmetic and mask test once per
  // warp (uniform, no divergence), its lanes on consecutive vectors of the
  // pixel's channels (one coalesced store per 32 vectors). A pixel that needs
  // no zeros costs one broadcast load.
  Value tid = gpu::ThreadIdOp::create(b, gpu::Dimension::x);
  Value lane = k.rem(tid, kWarp);
  Value warp = k.add(
      k.mul(gpu::BlockIdOp::create(b, gpu::Dimension::x), kFillThreads / kWarp),
      k.div(tid, kWarp));
  int64_t ho = space->extent[0], wo = space->extent[1];
  int64_t pixels = space->batch * ho * wo, perPixel = co / vw;
  auto loop = scf::ForOp::create(b, warp, k.idx(pixels),
                                 k.idx(blocks * kFillThreads / kWarp));
  b.setInsertionPointToStart(loop.getBody());
  Value pixel = loop.getInductionVar();
  Value n = k.div(pixel, ho * wo);
  Value oh = k.rem(k.div(pixel, wo), ho);
  Value ow = k.rem(pixel, wo);
  Value on = k.isNonZero(memref::LoadOp::create(
      b, mask, ValueRange{space->getMaskIndex(k, n, {oh, ow})}));
  Value off =
      arith::XOrIOp::create(b, on, arith::ConstantIntOp::create(b, 1, 1));
  auto ifZero = scf::IfOp::create(b, off, /*withElse=*/false);
  b.setInsertionPointToStart(ifZero.thenBlock());
  auto channels = scf::ForOp::create(b, lane, k.idx(perPixel), k.idx(kWarp));
  b.setInsertionPointToStart(channels.getBody());
  Type zeroType = vw == 1 ? f32 : Type(VectorType::get({vw}, f32));
  k.store(arith::ConstantOp::create(b, b.getZeroAttr(zeroType)), output,
          k.mul(k.add(k.mul(pixel, perPixel), channels.getInductionVar()), vw));
  return fn;
}
