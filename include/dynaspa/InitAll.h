//===- InitAll.h - register every dynaspa dialect and pass ------*- C++ -*-===//
//
// Part of the dynaspa project.
//
//===----------------------------------------------------------------------===//
//
// The one registration point used by dynaspa-opt, the plugin and the C API,
// so the three never disagree on what dynaspa provides.
//
//===----------------------------------------------------------------------===//

#ifndef DYNASPA_INITALL_H
#define DYNASPA_INITALL_H

namespace mlir {
class DialectRegistry;
} // namespace mlir

namespace dynaspa {

/// The spsparse dialect and the upstream dialects its passes produce.
void registerAllDialects(mlir::DialectRegistry &registry);

/// Every dynaspa pass and pipeline.
void registerAllPasses();

} // namespace dynaspa

#endif // DYNASPA_INITALL_H
