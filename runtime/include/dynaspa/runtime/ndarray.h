//===- ndarray.h - a host tensor that owns its bytes ------------*- C++ -*-===//
//
// Part of the dynaspa project.
//
//===----------------------------------------------------------------------===//
//
// The host-side currency of the .npy reader/writer and the float64 reference
// operators: a dtype, a C-order shape and the raw little-endian bytes. Kept
// minimal on purpose; it is an exchange format, not a tensor library.
//
//===----------------------------------------------------------------------===//

#ifndef DYNASPA_RUNTIME_NDARRAY_H
#define DYNASPA_RUNTIME_NDARRAY_H

#include "dynaspa/runtime/runtime.h"

#include <cstdint>
#include <vector>

namespace dynaspa::runtime {

/// Bytes per element of a host dtype (I1 takes one byte, as in NumPy).
size_t hostDtypeSize(dynaspa_dtype_t dtype);

/// IEEE half <-> float, round to nearest even; F16 has no native C++ type.
float halfToFloat(uint16_t h);
uint16_t floatToHalf(float f);

/// Converts `n` elements between dtypes through double (I1: v != 0; integers
/// saturate). Equal dtypes are a plain copy.
void convertElements(const void *src, dynaspa_dtype_t srcType, void *dst,
                     dynaspa_dtype_t dstType, size_t n);

struct NdArray {
  dynaspa_dtype_t dtype = DYNASPA_F32;
  std::vector<int64_t> shape;
  std::vector<uint8_t> bytes;

  /// A zero-filled array; shape dimensions must be non-negative.
  static NdArray zeros(dynaspa_dtype_t dtype, std::vector<int64_t> shape);

  int64_t numel() const;
  /// Element `i` converted to double (bool/u8/i32 exactly, f16 widened).
  double get(int64_t i) const;
  /// Stores `v` as element `i`, converted to the dtype (I1: v != 0).
  void set(int64_t i, double v);
  /// A copy converted element-wise to `dtype`.
  NdArray to(dynaspa_dtype_t dtype) const;

  template <typename T> T *data() {
    return reinterpret_cast<T *>(bytes.data());
  }
  template <typename T> const T *data() const {
    return reinterpret_cast<const T *>(bytes.data());
  }
};

} // namespace dynaspa::runtime

#endif // DYNASPA_RUNTIME_NDARRAY_H
