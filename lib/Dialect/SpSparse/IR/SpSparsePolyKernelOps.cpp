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
  if (body.empty())
    return emitOpError("expects at least one variant");
  for (Operation &op : body)
    if (!isa<PolyKernelVariantOp>(op))
      return op.emitOpError("is not allowed in a polykernel; only "
                            "'spsparse.polykernel.variant' is");
  auto variants = llvm::to_vector(getVariants());
  for (PolyKernelVariantOp variant : ArrayRef(variants).drop_back())
    if (!variant.getTiles())
      return variant.emitOpError(
          "without a 'tiles' range must be the last variant (the fallback)");
  if (variants.back().getTiles())
    return variants.back().emitOpError(
        "is the last variant and must have no 'tiles' range: it is the "
        "fallback that takes every tile count");
  return success();
}

LogicalResult PolyKernelVariantOp::verify() {
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
