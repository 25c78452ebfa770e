//===- ConvertKernelsToSPIRV.cpp - dynaspa's kernels to OpenCL SPIR-V -----===//
//
// Part of the dynaspa project.
//
//===----------------------------------------------------------------------===//
//
// Upstream's `convert-gpu-to-spirv`, for OpenCL (the Kernel capability), plus
// the one lowering our kernels need that it lacks: integer atomics on global
// (CrossWorkgroup) memory. Upstream lowers `memref.atomic_rmw` only for the
// Vulkan storage classes (StorageBuffer, Workgroup), and a conversion pass
// offers no way to add a pattern, so this pass runs the same steps with the
// same pattern sets and one more pattern. The multi-block tile-list kernel
// claims its list ranges with such atomics (TileListKernel.cpp).
//
//===----------------------------------------------------------------------===//

#include "dynaspa/Conversion/Passes.h"

#include "mlir/Conversion/ArithToSPIRV/ArithToSPIRV.h"
#include "mlir/Conversion/ControlFlowToSPIRV/ControlFlowToSPIRV.h"
#include "mlir/Conversion/FuncToSPIRV/FuncToSPIRV.h"
#include "mlir/Conversion/GPUToSPIRV/GPUToSPIRV.h"
#include "mlir/Conversion/IndexToSPIRV/IndexToSPIRV.h"
#include "mlir/Conversion/MathToSPIRV/MathToSPIRV.h"
#include "mlir/Conversion/MemRefToSPIRV/MemRefToSPIRV.h"
#include "mlir/Conversion/SCFToSPIRV/SCFToSPIRV.h"
#include "mlir/Conversion/UBToSPIRV/UBToSPIRV.h"
#include "mlir/Conversion/VectorToSPIRV/VectorToSPIRV.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SPIRV/IR/SPIRVOps.h"
#include "mlir/Dialect/SPIRV/IR/TargetAndABI.h"
#include "mlir/Dialect/SPIRV/Transforms/SPIRVConversion.h"

namespace mlir {
namespace spsparse {
#define GEN_PASS_DEF_SPSPARSECONVERTKERNELSTOSPIRV
#include "dynaspa/Conversion/Passes.h.inc"
} // namespace spsparse
} // namespace mlir

using namespace mlir;

namespace {

/// `memref.atomic_rmw addi` on global memory -> OpAtomicIAdd at device scope.
/// The semantics name CrossWorkgroupMemory: SPIR-V's acquire/release orders
/// only the storage classes the semantics list.
struct GlobalAtomicAddToSPIRV final
    : public OpConversionPattern<memref::AtomicRMWOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(memref::AtomicRMWOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    MemRefType type = op.getMemRefType();
    auto storage =
        dyn_cast_or_null<spirv::StorageClassAttr>(type.getMemorySpace());
    if (!storage || storage.getValue() != spirv::StorageClass::CrossWorkgroup)
      return rewriter.notifyMatchFailure(op, "not global memory");
    if (op.getKind() != arith::AtomicRMWKind::addi)
      return rewriter.notifyMatchFailure(op, "only integer addition");
    const auto &converter = *getTypeConverter<SPIRVTypeConverter>();
    Type resultType = converter.convertType(op.getType());
    Value pointer = spirv::getElementPtr(converter, type, adaptor.getMemref(),
                                         adaptor.getIndices(), op.getLoc(),
                                         rewriter);
    if (!resultType || !pointer)
      return rewriter.notifyMatchFailure(op, "unconvertible access");
    rewriter.replaceOpWithNewOp<spirv::AtomicIAddOp>(
        op, resultType, pointer, spirv::Scope::Device,
        spirv::MemorySemantics::AcquireRelease |
            spirv::MemorySemantics::CrossWorkgroupMemory,
        adaptor.getValue());
    return success();
  }
};

/// `llvm.fence` -> nothing. The kernels fence only to order their global
/// atomics, and on SPIR-V each of those (GlobalAtomicAddToSPIRV) carries
/// acquire-release semantics over CrossWorkgroupMemory, which makes it a
/// fence for global memory by itself. An OpMemoryBarrier would also be
/// valid SPIR-V, but the SPIR fallback turns it into `mem_fence`, which PoCL
/// 3.1's kernel library does not have.
struct FenceByAtomicSemantics final
    : public OpConversionPattern<LLVM::FenceOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(LLVM::FenceOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    rewriter.eraseOp(op);
    return success();
  }
};

struct ConvertKernelsToSPIRVPass
    : public spsparse::impl::SpSparseConvertKernelsToSPIRVBase<
          ConvertKernelsToSPIRVPass> {
  using Base::Base;

  void runOnOperation() override {
    MLIRContext *ctx = &getContext();
    ModuleOp module = getOperation();
    OpBuilder builder(ctx);

    // As upstream: the SPIR-V module is a converted clone placed inside each
    // gpu.module, whose kernels are then replaced by empty declarations.
    SmallVector<gpu::GPUModuleOp> clones;
    for (auto gpuModule : module.getOps<gpu::GPUModuleOp>()) {
      if (!getTargetEnv(gpuModule)) {
        gpuModule.emitOpError("has no #spirv.target_env target (run "
                              "gpu-spirv-attach-target first)");
        return signalPassFailure();
      }
      builder.setInsertionPointToStart(gpuModule.getBody());
      clones.push_back(cast<gpu::GPUModuleOp>(builder.clone(*gpuModule)));
    }
    for (gpu::GPUModuleOp clone : clones)
      if (failed(convert(clone)))
        return signalPassFailure();
    for (auto gpuModule : module.getOps<gpu::GPUModuleOp>()) {
      for (auto fn : llvm::make_early_inc_range(
               gpuModule.getOps<gpu::GPUFuncOp>())) {
        builder.setInsertionPoint(fn);
        auto decl = func::FuncOp::create(builder, fn.getLoc(), fn.getName(),
                                         fn.getFunctionType());
        Block *entry = decl.addEntryBlock();
        builder.setInsertionPointToEnd(entry);
        func::ReturnOp::create(builder, fn.getLoc());
        decl->setAttr(gpu::GPUDialect::getKernelFuncAttrName(),
                      builder.getUnitAttr());
        fn.erase();
      }
    }
  }

  static spirv::TargetEnvAttr getTargetEnv(gpu::GPUModuleOp gpuModule) {
    if (ArrayAttr targets = gpuModule.getTargetsAttr())
      for (Attribute target : targets)
        if (auto env = dyn_cast<spirv::TargetEnvAttr>(target))
          return env;
    return {};
  }

  LogicalResult convert(gpu::GPUModuleOp gpuModule) {
    MLIRContext *ctx = &getContext();
    spirv::TargetEnvAttr targetEnv = getTargetEnv(gpuModule);
    if (!spirv::TargetEnv(targetEnv).allows(spirv::Capability::Kernel))
      return gpuModule.emitOpError(
          "targets SPIR-V without the Kernel capability; dynaspa's SPIR-V "
          "path is OpenCL");

    spirv::MemorySpaceToStorageClassConverter memorySpaces(
        spirv::mapMemorySpaceToOpenCLStorageClass);
    spirv::convertMemRefTypesAndAttrs(gpuModule, memorySpaces);
    std::unique_ptr<ConversionTarget> spacesTarget =
        spirv::getMemorySpaceToStorageClassTarget(*ctx);
    WalkResult spaces = gpuModule->walk([&](Operation *op) {
      if (!spacesTarget->isIllegal(op))
        return WalkResult::advance();
      op->emitOpError("failed to legalize memory space");
      return WalkResult::interrupt();
    });
    if (spaces.wasInterrupted())
      return failure();

    std::unique_ptr<ConversionTarget> target =
        SPIRVConversionTarget::get(targetEnv);
    SPIRVConversionOptions options;
    options.use64bitIndex = use64bitIndex;
    SPIRVTypeConverter typeConverter(targetEnv, options);
    RewritePatternSet patterns(ctx);
    populateGPUToSPIRVPatterns(typeConverter, patterns);
    ScfToSPIRVContext scfContext;
    populateSCFToSPIRVPatterns(typeConverter, scfContext, patterns);
    arith::populateArithToSPIRVPatterns(typeConverter, patterns);
    populateMemRefToSPIRVPatterns(typeConverter, patterns);
    populateFuncToSPIRVPatterns(typeConverter, patterns);
    populateVectorToSPIRVPatterns(typeConverter, patterns);
    populateBuiltinFuncToSPIRVPatterns(typeConverter, patterns);
    cf::populateControlFlowToSPIRVPatterns(typeConverter, patterns);
    index::populateIndexToSPIRVPatterns(typeConverter, patterns);
    populateMathToSPIRVPatterns(typeConverter, patterns);
    ub::populateUBToSPIRVConversionPatterns(typeConverter, patterns);
    patterns.add<GlobalAtomicAddToSPIRV, FenceByAtomicSemantics>(typeConverter, ctx);
    return applyFullConversion(gpuModule, *target, std::move(patterns));
  }
};

} // namespace
