//===- PolyKernelOutlining.cpp - one polykernel per masked op -------------===//
//
// Part of the dynaspa project.
//
//===----------------------------------------------------------------------===//
//
// Moves every masked op of a function into a module-level
// `spsparse.polykernel` (whose body keeps the op as its meaning) and replaces
// it with a `spsparse.polykernel.dispatch`. The variants — which DISTile
// granularity, which schedule, which tile-count range — come from a tuner's
// record file (TuningRecords.h), the op's attributes, the pass options or
// defaults; the GPU lowering turns each into a kernel.
//
//===----------------------------------------------------------------------===//

#include "dynaspa/Dialect/SpSparse/IR/SpSparseOps.h"
#include "dynaspa/Dialect/SpSparse/Transforms/Passes.h"
#include "dynaspa/Dialect/SpSparse/Transforms/TuningRecords.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/AsmParser/AsmParser.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/IRMapping.h"
#include "mlir/IR/SymbolTable.h"

namespace mlir {
namespace spsparse {
#define GEN_PASS_DEF_SPSPARSEOUTLINEPOLYKERNELS
#include "dynaspa/Dialect/SpSparse/Transforms/Passes.h.inc"
} // namespace spsparse
} // namespace mlir

using namespace mlir;
using namespace mlir::spsparse;

namespace {

/// The default DISTile of an op: 4x4 output pixels for a convolution (16
/// pixels, what the default schedule's 128 threads x 4 channels x 1 pixel
/// cover with a 32-channel block), 16 tokens for a batch-matmul.
GranularityAttr defaultGranularity(Operation *op) {
  if (isa<MaskedConv2DOp>(op))
    return GranularityAttr::get(op->getContext(), {4, 4});
  return GranularityAttr::get(op->getContext(), {16});
}

struct SpSparseOutlinePolyKernelsPass
    : public spsparse::impl::SpSparseOutlinePolyKernelsBase<
          SpSparseOutlinePolyKernelsPass> {
  using Base::Base;

  LogicalResult initialize(MLIRContext *context) override {
    if (!records.empty()) {
      std::string error;
      FailureOr<TuningRecords> file = TuningRecords::load(records, error);
      if (failed(file))
        return emitError(UnknownLoc::get(context))
               << "spsparse-outline-polykernels: " << error;
      recordFile = std::move(*file);
    }
    if (!schedule.empty()) {
      Attribute parsed = parseAttribute("#spsparse.schedule" + schedule,
                                        context);
      optionSchedule = dyn_cast_if_present<ScheduleAttr>(parsed);
      if (!optionSchedule)
        return emitError(UnknownLoc::get(context))
               << "spsparse-outline-polykernels: cannot parse schedule '"
               << schedule << "' (expected e.g. '<channel_block = 64>')";
    }
    return success();
  }

  /// The variants requested for `op`, in dispatch order.
  FailureOr<SmallVector<VariantAttrs>> getVariants(Operation *op) {
    MLIRContext *ctx = op->getContext();
    // Parsing the empty form keeps the knobs' defaults in one place, the
    // attribute's definition.
    auto defaultSchedule = [&](ScheduleAttr s) {
      return s ? s
               : cast<ScheduleAttr>(parseAttribute("#spsparse.schedule<>", ctx));
    };
    SmallVector<VariantAttrs> specs;
    if (recordFile) {
      // A tuner's choice wins over the op's own requests: the op may still
      // carry the candidate list it was tuned from.
      if (const OperatorRecord *rec = recordFile->lookup(op)) {
        for (const RecordedVariant &v : rec->variants) {
          FailureOr<VariantAttrs> spec = toVariant(op, *recordFile, v);
          if (failed(spec))
            return failure();
          specs.push_back(*spec);
        }
        return specs;
      }
      std::string signature;
      llvm::raw_string_ostream os(signature);
      os << llvm::json::Value(getOpSignature(op));
      op->emitWarning() << "matches no tuning record in "
                        << recordFile->getPath() << " (signature " << signature
                        << ")";
    }
    if (auto array = op->getAttrOfType<ArrayAttr>(
            SpSparseDialect::kVariantsAttrName)) {
      // The dialect verified the entries' kinds and the covers' ranks.
      for (auto dict : array.getAsRange<DictionaryAttr>())
        specs.push_back(
            VariantAttrs{cast<GranularityAttr>(dict.get("granularity")),
                         defaultSchedule(dict.getAs<ScheduleAttr>("schedule")),
                         dict.getAs<DenseI64ArrayAttr>("tiles"),
                         dict.getAs<CoverAttr>("cover")});
      for (const VariantAttrs &s : ArrayRef(specs).drop_back())
        if (!s.tiles && !s.cover)
          return op->emitOpError()
                 << "'" << SpSparseDialect::kVariantsAttrName
                 << "': every variant but the last needs a 'tiles' range or "
                    "a 'cover'";
      if (specs.back().tiles || specs.back().cover)
        return op->emitOpError()
               << "'" << SpSparseDialect::kVariantsAttrName
               << "': the last variant is the fallback and takes no 'tiles' "
                  "or 'cover'";
      return specs;
    }
    auto schedule = defaultSchedule(
        op->getAttrOfType<ScheduleAttr>(SpSparseDialect::kScheduleAttrName));
    if (auto g = op->getAttrOfType<GranularityAttr>(
            SpSparseDialect::kGranularityAttrName)) {
      specs.push_back({g, schedule, DenseI64ArrayAttr(), CoverAttr()});
      return specs;
    }
    GranularityAttr g = granularity.empty()
                            ? defaultGranularity(op)
                            : GranularityAttr::get(ctx, granularity);
    specs.push_back({g, optionSchedule ? optionSchedule : schedule,
                     DenseI64ArrayAttr(), CoverAttr()});
    return specs;
  }

  LogicalResult outline(MaskedOpInterface masked, func::FuncOp func,
                        unsigned index, SymbolTable &symbols) {
    Operation *op = masked;
    FailureOr<SmallVector<VariantAttrs>> specs = getVariants(op);
    if (failed(specs))
      return failure();
    MLIRContext *ctx = op->getContext();
    OpBuilder builder(ctx);
    builder.setInsertionPoint(func);
    auto fnType = FunctionType::get(ctx, op->getOperandTypes(),
                                    op->getResultTypes());
    std::string name = (func.getSymName() + "_" +
                        op->getName().stripDialect() + "_" + Twine(index))
                           .str();
    auto pk = PolyKernelOp::create(builder, op->getLoc(), name, fnType);
    symbols.insert(pk); // Renames on a clash.

    Block *body = builder.createBlock(&pk.getBody(), {}, fnType.getInputs(),
                                      SmallVector<Location>(
                                          fnType.getNumInputs(), op->getLoc()));
    for (auto [i, spec] : llvm::enumerate(*specs))
      PolyKernelVariantOp::create(builder, op->getLoc(), ("v" + Twine(i)).str(),
                                  spec.granularity, spec.schedule, spec.tiles,
                                  spec.cover,
                                  /*kernel=*/nullptr);
    IRMapping mapping;
    mapping.map(op->getOperands(), body->getArguments());
    Operation *clone = builder.clone(*op, mapping);
    // The variants now say how the op is implemented.
    for (StringRef attr : {SpSparseDialect::kVariantsAttrName,
                           SpSparseDialect::kGranularityAttrName,
                           SpSparseDialect::kScheduleAttrName})
      clone->removeAttr(attr);
    YieldOp::create(builder, op->getLoc(), clone->getResults());

    builder.setInsertionPoint(op);
    auto dispatch = PolyKernelDispatchOp::create(
        builder, op->getLoc(), op->getResultTypes(),
        FlatSymbolRefAttr::get(pk.getSymNameAttr()), op->getOperands());
    op->replaceAllUsesWith(dispatch);
    op->erase();
    return success();
  }

  void runOnOperation() override {
    ModuleOp module = getOperation();
    SymbolTable symbols(module);
    for (auto func : llvm::to_vector(module.getOps<func::FuncOp>())) {
      SmallVector<MaskedOpInterface> ops;
      func.walk([&](MaskedOpInterface op) { ops.push_back(op); });
      for (auto [i, op] : llvm::enumerate(ops))
        if (failed(outline(op, func, i, symbols)))
          return signalPassFailure();
    }
  }

  ScheduleAttr optionSchedule;
  std::optional<TuningRecords> recordFile;
};

} // namespace
