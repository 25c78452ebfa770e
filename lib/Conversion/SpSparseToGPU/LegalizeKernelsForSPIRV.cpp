//===- LegalizeKernelsForSPIRV.cpp - kernels in SPIR-V-ready form ---------===//
//
// Part of the dynaspa project.
//
//===----------------------------------------------------------------------===//

#include "dynaspa/Conversion/Passes.h"

#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SPIRV/IR/TargetAndABI.h"

namespace mlir {
namespace spsparse {
#define GEN_PASS_DEF_SPSPARSELEGALIZEKERNELSFORSPIRV
#include "dynaspa/Conversion/Passes.h.inc"
} // namespace spsparse
} // namespace mlir

using namespace mlir;

namespace {

struct LegalizeKernelsForSPIRVPass
    : public spsparse::impl::SpSparseLegalizeKernelsForSPIRVBase<
          LegalizeKernelsForSPIRVPass> {
  void runOnOperation() override {
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
  }
};

} // namespace
