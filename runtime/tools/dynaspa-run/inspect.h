//===- inspect.h - describe a bundle without a device -----------*- C++ -*-===//
//
// Part of the dynaspa project.
//
//===----------------------------------------------------------------------===//
//
// --inspect builds one JSON description of a verified bundle and prints it
// either as JSON or as indented text rendered from that same JSON, so the two
// forms cannot drift apart.
//
//===----------------------------------------------------------------------===//

#ifndef DYNASPA_RUNTIME_TOOLS_DYNASPA_RUN_INSPECT_H
#define DYNASPA_RUNTIME_TOOLS_DYNASPA_RUN_INSPECT_H

#include "dynaspa/runtime/bundle.h"

#include <nlohmann/json.hpp>

#include <optional>
#include <ostream>

namespace dynaspa::run {

/// The bundle's modules (binaries: format, chip, size) and operators
/// (buffers and their roles, prologue, variants with tile ranges and launch
/// configurations); only operator `op` when given.
nlohmann::json describeBundle(const bundle::Bundle &bundle, size_t bytes,
                              std::optional<uint32_t> op);

/// Human-readable rendering of describeBundle's result.
void printDescription(const nlohmann::json &description, std::ostream &os);

/// "f32", "i1", ...
const char *dtypeName(bundle::DType dtype);

/// "[2,5,4]".
std::string shapeString(const std::vector<int64_t> &shape);

} // namespace dynaspa::run

#endif // DYNASPA_RUNTIME_TOOLS_DYNASPA_RUN_INSPECT_H
