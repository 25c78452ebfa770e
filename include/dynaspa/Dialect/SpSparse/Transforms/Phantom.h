//===- Phantom.h - phantom reads of DISTile windows -------------*- C++ -*-===//
//
// Part of the dynaspa project.
//
//===----------------------------------------------------------------------===//
//
// DynaSpa's phantom read (paper §3.1): a tile's input window may hang over the
// edge of its operand. The parts outside are "phantom": they read as zero and
// are never loaded. At tensor level that is the in-bounds slice padded with
// zeros up to the window's static size; GPU lowerings turn the same shape into
// predicated loads.
//
//===----------------------------------------------------------------------===//

#ifndef DYNASPA_DIALECT_SPSPARSE_TRANSFORMS_PHANTOM_H
#define DYNASPA_DIALECT_SPSPARSE_TRANSFORMS_PHANTOM_H

#include "mlir/IR/Builders.h"
#include "mlir/IR/Value.h"

namespace mlir {
namespace spsparse {

/// The window of `source` (a statically shaped ranked tensor) that starts at
/// `offsets` (index values, possibly negative or past the end) with static
/// `sizes`; positions outside `source` are zero. The result has type
/// `tensor<sizes x elt>`. Axes flagged in `inBounds` (e.g. the batch, whose
/// tile origin always exists) are sliced without clamping.
Value buildPhantomRead(OpBuilder &b, Location loc, Value source,
                       ArrayRef<OpFoldResult> offsets, ArrayRef<int64_t> sizes,
                       ArrayRef<bool> inBounds = {});

} // namespace spsparse
} // namespace mlir

#endif // DYNASPA_DIALECT_SPSPARSE_TRANSFORMS_PHANTOM_H
