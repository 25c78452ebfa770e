//===- SpSparse.td - SpSparse dialect umbrella -------------*- tablegen -*-===//
//
// Part of the dynaspa project.
//
//===----------------------------------------------------------------------===//

#ifndef DYNASPA_DIALECT_SPSPARSE_IR_SPSPARSE_TD
#define DYNASPA_DIALECT_SPSPARSE_IR_SPSPARSE_TD

include "dynaspa/Dialect/SpSparse/IR/SpSparseBase.td"
include "dynaspa/Dialect/SpSparse/IR/SpSparseAttrs.td"
include "dynaspa/Dialect/SpSparse/IR/SpSparseInterfaces.td"
include "dynaspa/Dialect/SpSparse/IR/SpSparseOps.td"

#endif // DYNASPA_DIALECT_SPSPARSE_IR_SPSPARSE_TD
