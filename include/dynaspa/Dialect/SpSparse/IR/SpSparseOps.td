//===- SpSparseOps.td - SpSparse ops umbrella --------------*- tablegen -*-===//
//
// Part of the dynaspa project.
//
//===----------------------------------------------------------------------===//
//
// All spsparse ops, one file per pipeline stage; see SpSparseBase.td for the
// dependency order of the .td files.
//
//===----------------------------------------------------------------------===//

#ifndef DYNASPA_DIALECT_SPSPARSE_IR_SPSPARSEOPS_TD
#define DYNASPA_DIALECT_SPSPARSE_IR_SPSPARSEOPS_TD

include "dynaspa/Dialect/SpSparse/IR/SpSparseMaskedOps.td"
include "dynaspa/Dialect/SpSparse/IR/SpSparseTileOps.td"
include "dynaspa/Dialect/SpSparse/IR/SpSparsePolyKernelOps.td"

#endif // DYNASPA_DIALECT_SPSPARSE_IR_SPSPARSEOPS_TD
