//===- bundle.h - read, verify and write dynaspa bundles --------*- C++ -*-===//
//
// Part of the dynaspa project.
//
//===----------------------------------------------------------------------===//
//
// C++ helpers around the FlatBuffers code that flatc generates from
// runtime/schema/bundle.fbs (with --cpp --scoped-enums --gen-object-api; a
// writer that uses the schema elsewhere must use the same flags). Writers fill
// the object API (`bundle::BundleT`) and call serializeBundle; readers call
// verifyBundle before touching any field: it runs the FlatBuffers verifier,
// then checks what the verifier cannot (indices in range, enum values known,
// shapes consistent with the operator, dispatch table total), so that the
// executor can index without further checks.
//
//===----------------------------------------------------------------------===//

#ifndef DYNASPA_RUNTIME_BUNDLE_H
#define DYNASPA_RUNTIME_BUNDLE_H

#include "dynaspa/runtime/bundle_generated.h"
#include "dynaspa/runtime/runtime.h"
#include "dynaspa/runtime/status.h"

#include <cstddef>
#include <cstdint>
#include <vector>

namespace dynaspa::runtime {

/// Serializes `bundle` with the "DSPB" file identifier. Does not verify: run
/// verifyBundle on the result to check what was written.
std::vector<uint8_t> serializeBundle(const bundle::BundleT &bundle);

/// Verifies `size` bytes at `data` as a bundle of DYNASPA_BUNDLE_VERSION and
/// sets `*root` (which points into `data`) on success. `data` must be 8-byte
/// aligned (FlatBuffers reads scalars in place). Fails with BAD_BUNDLE, or
/// VERSION_MISMATCH for a well-formed bundle of another version.
Status verifyBundle(const uint8_t *data, size_t size,
                    const bundle::Bundle **root);

/// The variants of `op` that multiply on tensor cores with TF32 operands
/// (their results are checked at TF32's tolerance, not fp32's).
size_t countTf32Variants(const bundle::Operator &op);

/// Bytes per element of `dtype` on the device (I1 takes one byte).
size_t dtypeSize(bundle::DType dtype);

/// The number of elements of `shape`; false if a dimension is negative or the
/// count (or its size in 16-byte elements) overflows int64.
bool elementCount(const int64_t *shape, size_t rank, int64_t *count);

} // namespace dynaspa::runtime

#endif // DYNASPA_RUNTIME_BUNDLE_H
