//===- inputs.h - dynaspa-run's host inputs ---------------------*- C++ -*-===//
//
// Part of the dynaspa project.
//
//===----------------------------------------------------------------------===//
//
// Turns --input / --mask / --random into one f32 host array per operator
// input, in the bundle's order, each exactly the shape the bundle declares.
// Everything the user can get wrong (dtype, shape, a stacked mask without an
// index, an unreadable PNG) is reported as a Status naming the file.
//
//===----------------------------------------------------------------------===//

#ifndef DYNASPA_RUNTIME_TOOLS_DYNASPA_RUN_INPUTS_H
#define DYNASPA_RUNTIME_TOOLS_DYNASPA_RUN_INPUTS_H

#include "options.h"

#include "dynaspa/runtime/bundle.h"
#include "dynaspa/runtime/ndarray.h"

#include <string>
#include <vector>

namespace dynaspa::run {

/// The operator input that is the mask (row mask for batch_matmul).
constexpr uint32_t kMaskInput = 2;

struct HostInputs {
  /// F32, in Operator.inputs order, shapes as in the bundle.
  std::vector<runtime::NdArray> arrays;
  /// Where each came from, e.g. "a.npy", "random (seed 3)", "m.npy[7]".
  std::vector<std::string> sources;
};

/// `chained`: input 0 comes from the previous operator of a network; it is
/// neither read nor counted among the data inputs, and its array is left
/// empty.
runtime::Status loadInputs(const Options &options, const bundle::Operator &op,
                           HostInputs *out, bool chained = false);

/// Reads an 8-bit gray [H,W] U8 array from a PNG (colour converted to gray).
runtime::Status readPngMask(const std::string &path, runtime::NdArray *out);

} // namespace dynaspa::run

#endif // DYNASPA_RUNTIME_TOOLS_DYNASPA_RUN_INPUTS_H
