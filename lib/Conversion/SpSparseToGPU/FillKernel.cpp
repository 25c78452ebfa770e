//===- FillKernel.cpp - a masked convolution's zeros, off the critical path -===//
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
//===----------------------------------------------------------------------===//

#include "KernelBuilder.h"
#include "TileSpace.h"

#include "mlir/Dialect/GPU/IR/GPUDialect.h"

using namespace mlir;
using namespace mlir::spsparse;

/// Blocks x threads of a fill kernel: enough stores in flight to saturate
/// write bandwidth (2 blocks of 8 warps per SM on an H100), few enough to
/// share the SMs with the variant kernels.
static constexpr int64_t kFillBlocks = 264, kFillThreads = 256;

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
  int64_t vectors = outType.getNumElements() / vw;
  Type f32 = Float32Type::get(ctx);
  SmallVector<Type> argTypes = {
      getFlatType(maskType.getNumElements(),
                  getDeviceMaskElementType(maskType.getElementType())),
      getFlatType(outType.getNumElements(), f32)};
  int64_t blocks =
      std::min<int64_t>(kFillBlocks, llvm::divideCeil(vectors, kFillThreads));
  gpu::GPUFuncOp fn = createKernel(builder, module, op->getLoc(), name,
                                   argTypes, {"mask", "output"}, {}, {blocks},
                                   kFillThreads);

  ImplicitLocOpBuilder b(op->getLoc(), builder);
  b.setInsertionPointToStart(&fn.getBody().front());
  KernelBuilder k(b);
  Value mask = fn.getArgument(0), output = fn.getArgument(1);
  Value tid = gpu::ThreadIdOp::create(b, gpu::Dimension::x);
  Value first = k.add(
      k.mul(gpu::BlockIdOp::create(b, gpu::Dimension::x), kFillThreads), tid);
  // Consecutive threads take consecutive vectors: the stores coalesce and
  // the threads of one pixel read the same mask byte.
  auto loop = scf::ForOp::create(b, first, k.idx(vectors),
                                 k.idx(blocks * kFillThreads));
  b.setInsertionPointToStart(loop.getBody());
  Value pixel = k.div(loop.getInductionVar(), co / vw);
  int64_t ho = space->extent[0], wo = space->extent[1];
  Value n = k.div(pixel, ho * wo);
  Value oh = k.rem(k.div(pixel, wo), ho);
  Value ow = k.rem(pixel, wo);
  Value on = k.isNonZero(memref::LoadOp::create(
      b, mask, ValueRange{space->getMaskIndex(k, n, {oh, ow})}));
  if (!activePixels)
    on = arith::XOrIOp::create(b, on, arith::ConstantIntOp::create(b, 1, 1));
  auto ifZero = scf::IfOp::create(b, on, /*withElse=*/false);
  b.setInsertionPointToStart(ifZero.thenBlock());
  Type zeroType = vw == 1 ? f32 : Type(VectorType::get({vw}, f32));
  k.store(arith::ConstantOp::create(b, b.getZeroAttr(zeroType)), output,
          k.mul(loop.getInductionVar(), vw));
  return fn;
}
