//===- BundleWriter.h - lowered spsparse IR -> bundle -----------*- C++ -*-===//
//
// Part of the dynaspa project.
//
//===----------------------------------------------------------------------===//

#ifndef DYNASPA_TOOLS_DYNASPA_COMPILE_BUNDLEWRITER_H
#define DYNASPA_TOOLS_DYNASPA_COMPILE_BUNDLEWRITER_H

#include "bundle_generated.h"

#include "mlir/IR/BuiltinOps.h"

namespace dynaspa {

/// Fills `bundle.operators` from a module after convert-spsparse-to-gpu: one
/// operator per polykernel, its buffers (user operands, output, scratch),
/// prologue and self-dispatching variants, with `bundle.modules` getting one
/// (still empty) module per gpu.module. Emits errors on the IR.
mlir::LogicalResult collectOperators(mlir::ModuleOp module,
                                     dynaspa::bundle::BundleT &bundle);

/// Fills `bundle.probes` (and one bundle module) from the calibration probe
/// module `name` that spsparse::buildProbeModule added to `module`.
mlir::LogicalResult collectProbes(mlir::ModuleOp module, llvm::StringRef name,
                                  dynaspa::bundle::BundleT &bundle);

/// Adds the binaries of every gpu.binary in `lowered` (the same module after a
/// target pipeline) to the bundle module of the same name.
mlir::LogicalResult addBinaries(mlir::ModuleOp lowered,
                                dynaspa::bundle::Format format,
                                llvm::StringRef chip,
                                dynaspa::bundle::BundleT &bundle);

} // namespace dynaspa

#endif // DYNASPA_TOOLS_DYNASPA_COMPILE_BUNDLEWRITER_H
