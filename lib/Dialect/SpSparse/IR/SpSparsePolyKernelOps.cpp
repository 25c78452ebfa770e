//===- SpSparsePolyKernelOps.cpp - PolyKernel ops -------------------------===//
//
// Part of the dynaspa project.
//
//===----------------------------------------------------------------------===//

#include "dynaspa/Dialect/SpSparse/IR/SpSparseOps.h"

using namespace mlir;
using namespace mlir::spsparse;

LogicalResult PolyKernelOp::verifyRegions() {
  Block &body = getBody().front();
  FunctionType fnType = getFunctionType();
  if (body.getArgumentTypes() != fnType.getInputs())
    return emitOpError() << "body arguments must have the polykernel's input "
                            "types "
                         << fnType.getInputs();
  auto yield = dyn_cast_if_present<YieldOp>(
      body.empty() ? nullptr : &body.back());
  if (!yield)
    return emitOpError("body must end with 'spsparse.yield'");
  if (TypeRange(yield.getValues().getTypes()) != fnType.getResults())
    return yield.emitOpError() << "yields " << yield.getValues().getTypes()
                               << " but the polykernel returns "
                               << fnType.getResults();
  // Variants come first so that the dispatch table reads top to bottom.
  bool seenComputation = false;
  for (Operation &op : body.without_terminator()) {
    bool isVariant = isa<PolyKernelVariantOp>(op);
    if (isVariant && seenComputation)
      return op.emitOpError("must precede the polykernel's computation");
    seenComputation |= !isVariant;
  }
  auto variants = llvm::to_vector(getVariants());
  if (variants.empty())
    return emitOpError("expects at least one variant");
  for (PolyKernelVariantOp variant : ArrayRef(variants).drop_back())
    if (!variant.isConditional())
      return variant.emitOpError("without a 'tiles' range or a 'cover' must "
                                 "be the last variant (the fallback)");
  if (variants.back().isConditional())
    return variants.back().emitOpError(
        "is the last variant and must have no 'tiles' range or 'cover': it "
        "is the fallback that takes every mask");
  return success();
}

MaskedOpInterface PolyKernelOp::getMaskedOp() {
  Block &body = getBody().front();
  auto yield = cast<YieldOp>(body.getTerminator());
  if (yield.getValues().size() != 1)
    return nullptr;
  auto masked = yield.getValues()[0].getDefiningOp<MaskedOpInterface>();
  if (!masked)
    return nullptr;
  // Only a masked op applied directly to the arguments is a kernel.
  for (Value operand : masked->getOperands())
    if (!isa<BlockArgument>(operand) ||
        cast<BlockArgument>(operand).getOwner() != &body)
      return nullptr;
  return masked;
}

LogicalResult PolyKernelVariantOp::verify() {
  if (CoverAttr cover = getCoverAttr();
      cover && cover.getOf().size() != getGranularity().getSizes().size())
    return emitOpError() << "has a cover of rank-" << cover.getOf().size()
                         << " granularities, but its own has rank "
                         << getGranularity().getSizes().size();
  std::optional<ArrayRef<int64_t>> tiles = getTiles();
  if (!tiles)
    return success();
  if (tiles->size() != 2)
    return emitOpError("expects 'tiles' to be an inclusive range [lo, hi]");
  if ((*tiles)[0] < 0 || (*tiles)[0] > (*tiles)[1])
    return emitOpError() << "has an empty or negative tile range ["
                         << (*tiles)[0] << ", " << (*tiles)[1] << "]";
  return success();
}

LogicalResult
PolyKernelDispatchOp::verifySymbolUses(SymbolTableCollection &symbolTable) {
  auto callee = symbolTable.lookupNearestSymbolFrom<PolyKernelOp>(
      *this, getPolykernelAttr());
  if (!callee)
    return emitOpError() << "'" << getPolykernelAttr()
                         << "' does not reference a valid polykernel";
  FunctionType fnType = callee.getFunctionType();
  if (TypeRange(getArgs().getTypes()) != TypeRange(fnType.getInputs()) ||
      TypeRange(getResults().getTypes()) != TypeRange(fnType.getResults()))
    return emitOpError() << "operand/result types do not match polykernel @"
                         << callee.getSymName() << " of type " << fnType;
  return success();
}
