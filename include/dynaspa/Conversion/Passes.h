//===- Passes.h - dynaspa conversion passes ---------------------*- C++ -*-===//
//
// Part of the dynaspa project.
//
//===----------------------------------------------------------------------===//

#ifndef DYNASPA_CONVERSION_PASSES_H
#define DYNASPA_CONVERSION_PASSES_H

#include "dynaspa/Conversion/SpSparseToGPU/SpSparseToGPU.h"
#include "dynaspa/Conversion/SpSparseToLinalg/SpSparseToLinalg.h"
#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"

namespace mlir {
namespace spsparse {

#define GEN_PASS_REGISTRATION
#include "dynaspa/Conversion/Passes.h.inc"

} // namespace spsparse
} // namespace mlir

#endif // DYNASPA_CONVERSION_PASSES_H
