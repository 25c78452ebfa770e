//===- SpSparseOps.h - SpSparse ops -----------------------------*- C++ -*-===//
//
// Part of the dynaspa project.
//
//===----------------------------------------------------------------------===//
//
// Everything a user of the spsparse dialect needs: the dialect, its
// attributes, interfaces and ops.
//
//===----------------------------------------------------------------------===//

#ifndef DYNASPA_DIALECT_SPSPARSE_IR_SPSPARSEOPS_H
#define DYNASPA_DIALECT_SPSPARSE_IR_SPSPARSEOPS_H

#include "dynaspa/Dialect/SpSparse/IR/SpSparseAttrs.h"
#include "dynaspa/Dialect/SpSparse/IR/SpSparseDialect.h"
#include "mlir/Bytecode/BytecodeOpInterface.h"
#include "mlir/IR/BuiltinTypes.h"
#include "mlir/IR/OpDefinition.h"
#include "mlir/IR/SymbolTable.h"
#include "mlir/Interfaces/ControlFlowInterfaces.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"

#include "dynaspa/Dialect/SpSparse/IR/SpSparseInterfaces.h.inc"

#define GET_OP_CLASSES
#include "dynaspa/Dialect/SpSparse/IR/SpSparseOps.h.inc"

namespace mlir {
namespace spsparse {
/// `m != 0` as an i1, for a mask element `m` of any mask element type: the
/// one definition of "active" every lowering uses.
Value buildMaskIsActive(OpBuilder &b, Location loc, Value m);
} // namespace spsparse
} // namespace mlir

#endif // DYNASPA_DIALECT_SPSPARSE_IR_SPSPARSEOPS_H
