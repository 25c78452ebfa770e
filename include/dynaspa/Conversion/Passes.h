//===- Passes.h - dynaspa conversion passes ---------------------*- C++ -*-===//
//
// Part of the dynaspa project.
//
//===----------------------------------------------------------------------===//

#ifndef DYNASPA_CONVERSION_PASSES_H
#define DYNASPA_CONVERSION_PASSES_H

#include "dynaspa/Conversion/SpSparseToLinalg/SpSparseToLinalg.h"

namespace mlir {
namespace spsparse {

#define GEN_PASS_REGISTRATION
#include "dynaspa/Conversion/Passes.h.inc"

} // namespace spsparse
} // namespace mlir

#endif // DYNASPA_CONVERSION_PASSES_H
