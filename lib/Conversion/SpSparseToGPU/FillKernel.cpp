//===- FillKernel.cpp - a masked convolution's zeros, off the critical path
//-===//
//
// Part of the dynaspa project.
//
//===----------------------------------------------------------------------===//
//
// The variant kernels of a masked convolution write only active pixels, so
// the rest of the output needs zeros. A zero fill of the whole output before
// the op costs its full write bandwidth on the critical path (15-23% of the
// op on large outputs at low density on the H100, docs/benchmarks/NOTES.md
// entry 20). These kernels write the zeros instead, per pixel from the mask,
// and touch nothing the prologue or the variants read, so the runtime runs
// them on a second queue (Operator.fills_before / fills_alongside):
//
//  - the masked-off pixels, which no variant writes: alongside the
//    variants, where the compute-bound variants leave write bandwidth free;
//  - the active pixels, only where a variant may split its reduction (the
//    slices accumulate atomically into zeros): before the variants, but
//    alongside the tile-list kernel, and as large as the active part only.
//
// The pixel test is the variants' own (`isNonZero` of the mask element), so
// the two sets are exactly complementary. A grid-stride loop with a small
// fixed grid leaves the SMs' registers and slots to the variants running
// at the same time.
//
// Measured on the H100 (NOTES.md entry 20): a thread per output vector with
// the pixel arithmetic per element wrote 1.1 TB/s, a third of a memset, and
// slowed the variants it ran beside; hence a warp per pixel.
//
//===----------------------------------------------------------------------===//

#include "KernelBuilder.h"
#include "TileSpace.h"

#include "mlir/Dialect/GPU/IR/GPUDialect.h"

using namespace mlir;
using namespace mlir::spsparse;

/// Blocks x threads of a fill kernel: enough stores in flight to saturate
/// write bandwidth (2 blocks of 8 warps per SM on an H100), few enough to
/// share the SMs with the variant kernels.
static constexpr int64_t kFillBlocks = 264, kFillThreads = 256, kWarp = 32;

FailureOr<gpu::GPUFuncOp>
mlir::spsparse::buildConvFillKernel(OpBuilder &builder,
                                    gpu::GPUModuleOp module,
                                    MaskedConv2DOp op, bool activePixels,
                                    StringRef name) {
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
  if (!activePixels)
    on = arith::XOrIOp::create(b, on, arith::ConstantIntOp::create(b, 1, 1));
  auto ifZero = scf::IfOp::create(b, on, /*withElse=*/false);
  b.setInsertionPointToStart(ifZero.thenBlock());
  auto channels = scf::ForOp::create(b, lane, k.idx(perPixel), k.idx(kWarp));
  b.setInsertionPointToStart(channels.getBody());
  Type zeroType = vw == 1 ? f32 : Type(VectorType::get({vw}, f32));
  k.store(arith::ConstantOp::create(b, b.getZeroAttr(zeroType)), output,
          k.mul(k.add(k.mul(pixel, perPixel), channels.getInductionVar()), vw));
  return fn;
}
