//===- SpSparseDialect.h - SpSparse dialect ---------------------*- C++ -*-===//
//
// Part of the dynaspa project.
//
//===----------------------------------------------------------------------===//

#ifndef DYNASPA_DIALECT_SPSPARSE_IR_SPSPARSEDIALECT_H
#define DYNASPA_DIALECT_SPSPARSE_IR_SPSPARSEDIALECT_H

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/Dialect.h"

#include "dynaspa/Dialect/SpSparse/IR/SpSparseDialect.h.inc"

#endif // DYNASPA_DIALECT_SPSPARSE_IR_SPSPARSEDIALECT_H
