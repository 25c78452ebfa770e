//===- SpSparseAttrs.h - SpSparse attributes --------------------*- C++ -*-===//
//
// Part of the dynaspa project.
//
//===----------------------------------------------------------------------===//

#ifndef DYNASPA_DIALECT_SPSPARSE_IR_SPSPARSEATTRS_H
#define DYNASPA_DIALECT_SPSPARSE_IR_SPSPARSEATTRS_H

#include "mlir/IR/Attributes.h"
#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/DialectImplementation.h"

namespace mlir {
/// The device description has f64 parameters (bandwidths, the alpha/gamma
/// coefficients); upstream only parses integer fields.
template <>
struct FieldParser<llvm::APFloat> {
  static FailureOr<llvm::APFloat> parse(AsmParser &parser) {
    double value;
    if (parser.parseFloat(value))
      return failure();
    return llvm::APFloat(value);
  }
};
} // namespace mlir

#include "dynaspa/Dialect/SpSparse/IR/SpSparseEnums.h.inc"

#define GET_ATTRDEF_CLASSES
#include "dynaspa/Dialect/SpSparse/IR/SpSparseAttrs.h.inc"

#endif // DYNASPA_DIALECT_SPSPARSE_IR_SPSPARSEATTRS_H
