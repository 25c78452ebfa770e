//===- Passes.h - SpSparse transformation passes ----------------*- C++ -*-===//
//
// Part of the dynaspa project.
//
//===----------------------------------------------------------------------===//

#ifndef DYNASPA_DIALECT_SPSPARSE_TRANSFORMS_PASSES_H
#define DYNASPA_DIALECT_SPSPARSE_TRANSFORMS_PASSES_H

#include "mlir/Pass/Pass.h"

namespace mlir {
class RewritePatternSet;

namespace spsparse {

#define GEN_PASS_DECL
#include "dynaspa/Dialect/SpSparse/Transforms/Passes.h.inc"

/// Tile every masked op carrying a `spsparse.granularity` attribute, or
/// `defaultGranularity` when it is non-empty, into the DISTile form.
void populateGranularityTilingPatterns(RewritePatternSet &patterns,
                                       ArrayRef<int64_t> defaultGranularity);

#define GEN_PASS_REGISTRATION
#include "dynaspa/Dialect/SpSparse/Transforms/Passes.h.inc"

} // namespace spsparse
} // namespace mlir

#endif // DYNASPA_DIALECT_SPSPARSE_TRANSFORMS_PASSES_H
