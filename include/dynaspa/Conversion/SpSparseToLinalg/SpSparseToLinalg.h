//===- SpSparseToLinalg.h - reference lowering of masked ops ----*- C++ -*-===//
//
// Part of the dynaspa project.
//
//===----------------------------------------------------------------------===//

#ifndef DYNASPA_CONVERSION_SPSPARSETOLINALG_SPSPARSETOLINALG_H
#define DYNASPA_CONVERSION_SPSPARSETOLINALG_SPSPARSETOLINALG_H

#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Pass/Pass.h"

namespace mlir {
class RewritePatternSet;

namespace spsparse {

#define GEN_PASS_DECL_CONVERTSPSPARSETOLINALG
#include "dynaspa/Conversion/Passes.h.inc"

/// Rewrite every MaskedOpInterface op into its dense computation followed by
/// the mask select.
void populateSpSparseToLinalgPatterns(RewritePatternSet &patterns);

/// Rewrite bitmask, distiles and foreach_tile into sequential scf loops over
/// tensors.
void populateDISTilesToLoopsPatterns(RewritePatternSet &patterns);

} // namespace spsparse
} // namespace mlir

#endif // DYNASPA_CONVERSION_SPSPARSETOLINALG_SPSPARSETOLINALG_H
