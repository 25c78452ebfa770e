//===- npy.h - NumPy .npy reader and writer ---------------------*- C++ -*-===//
//
// Part of the dynaspa project.
//
//===----------------------------------------------------------------------===//
//
// Inputs, masks and reference outputs travel between Python and the tools as
// .npy files (format versions 1-3). Supported: little-endian float32, float64,
// float16, int32, uint8 and bool, C order. Fortran order, big endian and other
// dtypes are rejected with a status, never guessed.
//
//===----------------------------------------------------------------------===//

#ifndef DYNASPA_RUNTIME_NPY_H
#define DYNASPA_RUNTIME_NPY_H

#include "dynaspa/runtime/ndarray.h"
#include "dynaspa/runtime/status.h"

#include <cstdint>
#include <string>
#include <vector>

namespace dynaspa::runtime {

/// Parses an in-memory .npy file. Malformed or truncated data gives
/// INVALID_ARGUMENT; an unsupported dtype or Fortran order UNSUPPORTED.
Status parseNpy(const uint8_t *data, size_t size, NdArray *out);

/// Reads a .npy file (IO_ERROR if it cannot be read).
Status readNpy(const std::string &path, NdArray *out);

/// As readNpy, and fails with DTYPE_MISMATCH unless the file's dtype is
/// `expected`.
Status readNpy(const std::string &path, dynaspa_dtype_t expected, NdArray *out);

/// Encodes `array` as a version 1.0 .npy file.
Status serializeNpy(const NdArray &array, std::vector<uint8_t> *out);

Status writeNpy(const std::string &path, const NdArray &array);

} // namespace dynaspa::runtime

#endif // DYNASPA_RUNTIME_NPY_H
