//===- options.h - dynaspa-run's command line -------------------*- C++ -*-===//
//
// Part of the dynaspa project.
//
//===----------------------------------------------------------------------===//
//
// The command line as a plain struct, parsed by hand: the runtime must not
// depend on LLVM (so no cl::opt), and the flag set is small enough that a
// table of flags with one parser each stays clearer than a library would.
//
//===----------------------------------------------------------------------===//

#ifndef DYNASPA_RUNTIME_TOOLS_DYNASPA_RUN_OPTIONS_H
#define DYNASPA_RUNTIME_TOOLS_DYNASPA_RUN_OPTIONS_H

#include "dynaspa/runtime/runtime.h"
#include "dynaspa/runtime/status.h"

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace dynaspa::run {

struct Options {
  std::string bundle;
  /// An operator name or index; empty: operator 0. The first of `ops`.
  std::string op;
  /// Every --op in order; two or more run as a network (a chain).
  std::vector<std::string> ops;
  std::vector<std::string> inputs;
  /// The first of `masks` (the one mask of a single operator).
  std::string mask;
  /// Every --mask: one for all operators of a chain, or one per operator.
  std::vector<std::string> masks;
  std::optional<int64_t> maskIndex;
  std::string output;
  dynaspa_device_kind_t device = DYNASPA_DEVICE_AUTO;
  std::optional<uint64_t> randomSeed;
  bool check = false;
  bool benchmark = false;
  /// dynaspa_operator_set_variant_lanes before the runs.
  bool variantLanes = false;
  int32_t reps = 100;
  int32_t rounds = 10;
  int32_t warmup = 10;
  bool inspect = false;
  bool json = false;
  bool help = false;
};

/// Parses argv (without argv[0]). Fails with INVALID_ARGUMENT and a message
/// naming the flag on anything it does not understand.
runtime::Status parseOptions(const std::vector<std::string> &args,
                             Options *out);

/// The --help text.
const char *helpText();

} // namespace dynaspa::run

#endif // DYNASPA_RUNTIME_TOOLS_DYNASPA_RUN_OPTIONS_H
