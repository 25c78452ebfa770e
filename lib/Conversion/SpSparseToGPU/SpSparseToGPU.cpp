//===- SpSparseToGPU.cpp - spsparse polykernels to GPU kernels ------------===//
//
// Part of the dynaspa project.
//
//===----------------------------------------------------------------------===//
//
// Drives the kernel templates: one gpu.module per polykernel with the
// tile-list kernel of each granularity and one kernel per variant, wired to
// the dispatch table -- or, for a polykernel of one variant that lists its
// own DISTiles, that variant's kernel alone.
//
//===----------------------------------------------------------------------===//

#include "dynaspa/Conversion/Passes.h"

#include "KernelBuilder.h"

#include "mlir/Dialect/DLTI/DLTI.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/NVGPU/IR/NVGPUDialect.h"
#include "mlir/IR/SymbolTable.h"

#include "llvm/ADT/StringSwitch.h"

namespace mlir {
namespace spsparse {
#define GEN_PASS_DEF_CONVERTSPSPARSETOGPU
#include "dynaspa/Conversion/Passes.h.inc"
} // namespace spsparse
} // namespace mlir

using namespace mlir;
using namespace mlir::spsparse;

namespace {

/// Gives `module` 32-bit `index` arithmetic (through its data layout, which
/// convert-gpu-to-nvvm follows) when every buffer its kernels address has
/// fewer than 2^31 elements, so no index value can exceed i32. The kernels
/// are mostly index arithmetic: 64-bit adds and multiplies are two to four
/// instructions each on NVIDIA GPUs and hold two registers per value.
void setIndexBitwidth(gpu::GPUModuleOp module) {
  constexpr int64_t kMaxI32Elements = (int64_t{1} << 31) - 1;
  bool fits = true;
  module.walk([&](gpu::GPUFuncOp fn) {
    auto tooLarge = [&](Type t) {
      auto memref = dyn_cast<MemRefType>(t);
      return memref && memref.getNumElements() > kMaxI32Elements;
    };
    fits &= llvm::none_of(fn.getArgumentTypes(), tooLarge);
  });
  if (!fits)
    return;
  MLIRContext *ctx = module.getContext();
  module->setAttr(
      DLTIDialect::kDataLayoutAttrName,
      DataLayoutSpecAttr::get(
          ctx, {DataLayoutEntryAttr::get(
                   IndexType::get(ctx),
                   IntegerAttr::get(IntegerType::get(ctx, 64), 32))}));
}

LogicalResult lowerPolyKernel(PolyKernelOp pk, SymbolTable &symbols,
                              unsigned indexBitwidth, KernelOptions options) {
  MaskedOpInterface masked = pk.getMaskedOp();
  if (!masked)
    return pk.emitOpError("the GPU lowering needs a body that is one masked "
                          "op applied to the polykernel's arguments");
  auto conv = dyn_cast<MaskedConv2DOp>(masked.getOperation());
  auto bmm = dyn_cast<MaskedBatchMatmulOp>(masked.getOperation());
  if (!conv && !bmm)
    return masked->emitOpError("has no GPU kernel template yet (only "
                               "masked_conv2d and masked_batch_matmul have)");
  if (conv && options.zeros == ConvZeros::Auto) {
    auto out = cast<ShapedType>(conv.getResult().getType());
    int64_t bytes = out.hasStaticShape()
                        ? out.getNumElements() *
                              llvm::divideCeil(out.getElementTypeBitWidth(), 8)
                        : 0;
    options.zeros = bytes >= kAutoZeroBlocksBytes ? ConvZeros::Variants
                                                  : ConvZeros::FillKernel;
  }

  MLIRContext *ctx = pk.getContext();
  OpBuilder builder(ctx);
  auto module = pk->getParentOfType<ModuleOp>();
  builder.setInsertionPointToEnd(module.getBody());
  auto gpuModule = gpu::GPUModuleOp::create(
      builder, pk.getLoc(), (pk.getSymName() + "_kernels").str());
  symbols.insert(gpuModule);
  auto kernelRef = [&](gpu::GPUFuncOp fn) {
    return SymbolRefAttr::get(
        gpuModule.getSymNameAttr(),
        ArrayRef<FlatSymbolRefAttr>{FlatSymbolRefAttr::get(fn.getNameAttr())});
  };

  // A lone variant that finds its own DISTiles needs neither a tile list
  // (no dispatch reads a count) nor a zero-filled output: the op is one
  // kernel, which is what decides small ops (a graph node costs ~1-2 us).
  auto variants = llvm::to_vector(pk.getVariants());
  bool standalone =
      variants.size() == 1 &&
      variantListsOwnTiles(masked, variants.front().getSchedule());
  SmallVector<Attribute> prologue;
  if (!standalone) {
    // One tile list per distinct granularity, in first-use order, all from
    // one kernel: the variants' and those their covers compare.
    SmallVector<GranularityAttr> granularities;
    auto use = [&](GranularityAttr g) {
      if (!llvm::is_contained(granularities, g))
        granularities.push_back(g);
    };
    for (PolyKernelVariantOp v : variants) {
      use(v.getGranularity());
      if (CoverAttr cover = v.getCoverAttr()) {
        use(cover.getOfGranularity());
        use(cover.getOverGranularity());
      }
    }
    std::string name =
        (pk.getSymName() + "_" +
         (granularities.size() == 1 ? getTilesRole(granularities.front())
                                    : std::string("tiles")))
            .str();
    FailureOr<gpu::GPUFuncOp> tileList =
        buildTileListKernel(builder, gpuModule, masked, granularities, name);
    if (failed(tileList))
      return failure();
    prologue.push_back(kernelRef(*tileList));
  }
  pk->setAttr(SpSparseDialect::kPrologueAttrName,
              ArrayAttr::get(ctx, prologue));

  // Fill kernels only where no variant may split its reduction: the
  // slices add atomically into the active pixels, which would then need
  // zeros before the variants, and on the H100 that fill on the critical
  // path cost more than the zero fill it replaces (NOTES.md entries 20, 21).
  bool splits = llvm::any_of(variants, [](PolyKernelVariantOp v) {
    return v.getSchedule() && v.getSchedule().getSplitK() > 1;
  });
  if (conv && options.zeros == ConvZeros::FillKernel && !splits) {
    FailureOr<gpu::GPUFuncOp> fill = buildConvFillKernel(
        builder, gpuModule, conv, (pk.getSymName() + "_zero_inactive").str());
    if (failed(fill))
      return failure();
    pk->setAttr(SpSparseDialect::kFillsAttrName,
                builder.getDictionaryAttr(builder.getNamedAttr(
                    "alongside", ArrayAttr::get(ctx, {kernelRef(*fill)}))));
  }

  // Both templates take the op's operands in order (input, filter, mask,
  // [bias] or lhs, rhs, row_mask, [col_mask]), then the output, then the
  // variant's own tile list.
  unsigned tilesArg = masked->getNumOperands() + 1;
  SmallVector<PolyKernelVariantOp> earlier;
  for (PolyKernelVariantOp v : variants) {
    std::string ownCount = getCountRole(v.getGranularity());
    SmallVector<std::string> extraRoles;
    auto countArg = [&](GranularityAttr g) -> unsigned {
      std::string role = getCountRole(g);
      if (role == ownCount)
        return tilesArg + 1;
      auto it = llvm::find(extraRoles, role);
      if (it == extraRoles.end()) {
        extraRoles.push_back(role);
        it = std::prev(extraRoles.end());
      }
      return tilesArg + 2 + (it - extraRoles.begin());
    };
    // A variant's own test, on the counts this kernel reads.
    auto term = [&](PolyKernelVariantOp t, bool negate) {
      DispatchTerm d{countArg(t.getGranularity()), 0, -1, std::nullopt, negate};
      if (std::optional<ArrayRef<int64_t>> range = t.getTiles()) {
        d.lo = (*range)[0];
        d.hi = (*range)[1];
      }
      if (CoverAttr cover = t.getCoverAttr())
        d.cover =
            DispatchTerm::Cover{countArg(cover.getOfGranularity()),
                                countArg(cover.getOverGranularity()), cover};
      return d;
    };
    // First match wins: no earlier variant may accept the mask.
    SmallVector<DispatchTerm> terms;
    for (PolyKernelVariantOp e : earlier)
      terms.push_back(term(e, /*negate=*/true));
    if (v.isConditional())
      terms.push_back(term(v, /*negate=*/false));
    std::string name = (pk.getSymName() + "_" + v.getSymName()).str();
    FailureOr<gpu::GPUFuncOp> fn =
        conv
            ? buildConvKernel(builder, gpuModule, conv, v.getGranularity(),
                              v.getSchedule(), name, terms, extraRoles, options)
            : buildBmmKernel(builder, gpuModule, bmm, v.getGranularity(),
                             v.getSchedule(), name, terms, extraRoles,
                             standalone, options);
    if (failed(fn)) {
      v.emitRemark("while lowering this variant");
      return failure();
    }
    v.setKernelAttr(kernelRef(*fn));
    earlier.push_back(v);
  }
  // Per template, as measured (see the pass description): 32-bit index
  // arithmetic speeds the batch-matmul kernels up and slows the conv ones.
  if ((indexBitwidth ? indexBitwidth : bmm ? 32 : 64) == 32)
    setIndexBitwidth(gpuModule);
  return success();
}

} // namespace

std::optional<ConvZeros> mlir::spsparse::parseConvZeros(StringRef name) {
  return llvm::StringSwitch<std::optional<ConvZeros>>(name)
      .Case("auto", ConvZeros::Auto)
      .Case("variants", ConvZeros::Variants)
      .Case("fill-kernel", ConvZeros::FillKernel)
      .Case("zero-fill", ConvZeros::ZeroFill)
      .Default(std::nullopt);
}

namespace {

struct ConvertSpSparseToGPUPass
    : public spsparse::impl::ConvertSpSparseToGPUBase<
          ConvertSpSparseToGPUPass> {
  using Base::Base;

  void runOnOperation() override {
    ModuleOp module = getOperation();
    SymbolTable symbols(module);
    auto polykernels = llvm::to_vector(module.getOps<PolyKernelOp>());
    if (polykernels.empty())
      return;
    module->setAttr(gpu::GPUDialect::getContainerModuleAttrName(),
                    UnitAttr::get(module.getContext()));
    if (indexBitwidth != 0 && indexBitwidth != 32 && indexBitwidth != 64) {
      module.emitError("index-bitwidth must be 0 (per template), 32 or 64");
      return signalPassFailure();
    }
    if (sharedBuffers != 1 && sharedBuffers != 2) {
      module.emitError("shared-buffers must be 1 or 2");
      return signalPassFailure();
    }
    if (zeroBlocks == 0) {
      module.emitError("zero-blocks must be at least 1");
      return signalPassFailure();
    }
    KernelOptions options;
    options.sharedBuffers = sharedBuffers;
    options.zeroBlocks = zeroBlocks;
    std::optional<ConvZeros> convZeros = parseConvZeros(zeros);
    if (!convZeros) {
      module.emitError("zeros must be 'auto', 'variants', 'fill-kernel' or "
                       "'zero-fill', not '")
          << zeros << "'";
      return signalPassFailure();
    }
    options.zeros = *convZeros;
    for (PolyKernelOp pk : polykernels)
      if (failed(lowerPolyKernel(pk, symbols, indexBitwidth, options)))
        return signalPassFailure();
  }
};

} // namespace
