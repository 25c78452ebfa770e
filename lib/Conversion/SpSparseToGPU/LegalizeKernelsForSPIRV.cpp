//===- LegalizeKernelsForSPIRV.cpp - kernels in SPIR-V-ready form ---------===//
//
// Part of the dynaspa project.
//
//===----------------------------------------------------------------------===//

#include "dynaspa/Conversion/Passes.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/NVGPU/IR/NVGPUDialect.h"
#include "mlir/Dialect/SPIRV/IR/TargetAndABI.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"

namespace mlir {
namespace spsparse {
#define GEN_PASS_DEF_SPSPARSELEGALIZEKERNELSFORSPIRV
#include "dynaspa/Conversion/Passes.h.inc"
} // namespace spsparse
} // namespace mlir

using namespace mlir;

namespace {

/// Builds a 1-D vector from `elements` one insertion at a time. Both
/// `vector.from_elements` and a broadcast of a runtime scalar become
/// OpCompositeConstruct, which llvm-spirv 15 (the SPIR bitcode fallback for
/// PoCL, DESIGN.md §4) translates as if every constituent were a constant and
/// crashes on; OpCompositeInsert it translates correctly.
Value buildByInsertion(PatternRewriter &rewriter, Location loc,
                       VectorType type, ArrayRef<Value> elements) {
  Value v = arith::ConstantOp::create(rewriter, loc, type,
                                      rewriter.getZeroAttr(type));
  for (auto [i, e] : llvm::enumerate(elements))
    v = vector::InsertOp::create(rewriter, loc, e, v,
                                 ArrayRef<int64_t>{static_cast<int64_t>(i)});
  return v;
}

struct FromElementsByInsertion
    : public OpRewritePattern<vector::FromElementsOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(vector::FromElementsOp op,
                                PatternRewriter &rewriter) const override {
    if (op.getType().getRank() != 1)
      return failure();
    rewriter.replaceOp(op, buildByInsertion(rewriter, op.getLoc(), op.getType(),
                                            llvm::to_vector(op.getElements())));
    return success();
  }
};

struct BroadcastByInsertion : public OpRewritePattern<vector::BroadcastOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(vector::BroadcastOp op,
                                PatternRewriter &rewriter) const override {
    VectorType type = op.getResultVectorType();
    if (type.getRank() != 1 || isa<VectorType>(op.getSourceType()) ||
        matchPattern(op.getSource(), m_Constant()))
      return failure();
    SmallVector<Value> elements(type.getNumElements(), op.getSource());
    rewriter.replaceOp(
        op, buildByInsertion(rewriter, op.getLoc(), type, elements));
    return success();
  }
};

struct LegalizeKernelsForSPIRVPass
    : public spsparse::impl::SpSparseLegalizeKernelsForSPIRVBase<
          LegalizeKernelsForSPIRVPass> {
  void runOnOperation() override {
    // Say which schedule knob produced an op the OpenCL path cannot lower,
    // instead of failing to legalize somewhere downstream: float atomics
    // (SPIR-V 1.0 for OpenCL has none; SPV_EXT_shader_atomic_float_add is an
    // extension PoCL and Adreno drivers do not offer) and tensor-core
    // fragments (NVIDIA only).
    WalkResult unsupported = getOperation().walk([](Operation *op) {
      if (auto atomic = dyn_cast<memref::AtomicRMWOp>(op);
          atomic && isa<FloatType>(atomic.getValue().getType())) {
        op->emitOpError("adds floats atomically (a schedule with split_k > "
                        "1), which the OpenCL/SPIR-V path does not support; "
                        "use split_k = 1 for OpenCL variants");
        return WalkResult::interrupt();
      }
      if (isa<nvgpu::MmaSyncOp>(op)) {
        op->emitOpError("multiplies on NVIDIA tensor cores (a schedule with "
                        "tf32), which the OpenCL/SPIR-V path does not have; "
                        "use tf32 = false for OpenCL variants");
        return WalkResult::interrupt();
      }
      return WalkResult::advance();
    });
    if (unsupported.wasInterrupted())
      return signalPassFailure();
    for (auto fn : getOperation().getOps<gpu::GPUFuncOp>()) {
      if (!fn.isKernel())
        continue;
      Block &entry = fn.getBody().front();
      OpBuilder b = OpBuilder::atBlockBegin(&entry);
      unsigned first = fn.getFirstWorkgroupAttributionIndex();
      unsigned count = fn.getNumWorkgroupAttributions();
      for (unsigned i = 0; i < count; ++i) {
        BlockArgument arg = entry.getArgument(first + i);
        auto alloc = memref::AllocOp::create(
            b, arg.getLoc(), cast<MemRefType>(arg.getType()));
        arg.replaceAllUsesWith(alloc);
      }
      entry.eraseArguments(first, count);
      fn->setAttr(gpu::GPUFuncOp::getNumWorkgroupAttributionsAttrName(),
                  b.getI64IntegerAttr(0));
      if (std::optional<ArrayRef<int32_t>> block = fn.getKnownBlockSize())
        fn->setAttr(spirv::getEntryPointABIAttrName(),
                    spirv::getEntryPointABIAttr(&getContext(), *block));
    }
    // Run last, after every canonicalization of the pipeline: the
    // canonicalizer folds insertion chains back into from_elements.
    RewritePatternSet patterns(&getContext());
    patterns.add<FromElementsByInsertion, BroadcastByInsertion>(&getContext());
    GreedyRewriteConfig config;
    config.enableFolding(false);
    if (failed(applyPatternsGreedily(getOperation(), std::move(patterns),
                                     config)))
      return signalPassFailure();
  }
};

} // namespace
