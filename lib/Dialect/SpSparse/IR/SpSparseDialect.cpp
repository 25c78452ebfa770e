//===- SpSparseDialect.cpp - SpSparse dialect -----------------------------===//
//
// Part of the dynaspa project.
//
//===----------------------------------------------------------------------===//
//
// Dialect registration and the generated op definitions. Op verifiers and
// builders live in one file per stage (SpSparseMaskedOps.cpp,
// SpSparseTileOps.cpp, SpSparsePolyKernelOps.cpp).
//
//===----------------------------------------------------------------------===//

#include "dynaspa/Dialect/SpSparse/IR/SpSparseOps.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/DialectImplementation.h"
#include "mlir/IR/OpImplementation.h"
#include "llvm/ADT/TypeSwitch.h"

using namespace mlir;
using namespace mlir::spsparse;

#include "dynaspa/Dialect/SpSparse/IR/SpSparseDialect.cpp.inc"
#include "dynaspa/Dialect/SpSparse/IR/SpSparseEnums.cpp.inc"
#include "dynaspa/Dialect/SpSparse/IR/SpSparseInterfaces.cpp.inc"

#define GET_ATTRDEF_CLASSES
#include "dynaspa/Dialect/SpSparse/IR/SpSparseAttrs.cpp.inc"

#define GET_OP_CLASSES
#include "dynaspa/Dialect/SpSparse/IR/SpSparseOps.cpp.inc"

void SpSparseDialect::initialize() {
  addAttributes<
#define GET_ATTRDEF_LIST
#include "dynaspa/Dialect/SpSparse/IR/SpSparseAttrs.cpp.inc"
      >();
  addOperations<
#define GET_OP_LIST
#include "dynaspa/Dialect/SpSparse/IR/SpSparseOps.cpp.inc"
      >();
}
