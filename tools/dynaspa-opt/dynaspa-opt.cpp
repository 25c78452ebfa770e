//===- dynaspa-opt.cpp - dynaspa optimizer driver -------------------------===//
//
// Part of the dynaspa project.
//
//===----------------------------------------------------------------------===//
//
// mlir-opt for dynaspa: parses spsparse IR and the upstream dialects dynaspa
// passes produce, and runs dynaspa's passes plus the generic upstream
// transforms (canonicalize, cse, ...). Lowering the result further to the CPU
// is left to mlir-opt-22, which reads plain upstream IR.
//
//===----------------------------------------------------------------------===//

#include "dynaspa/InitAll.h"
#include "mlir/IR/DialectRegistry.h"
#include "mlir/Tools/mlir-opt/MlirOptMain.h"
#include "mlir/Transforms/Passes.h"

int main(int argc, char **argv) {
  mlir::registerTransformsPasses();
  dynaspa::registerAllPasses();

  mlir::DialectRegistry registry;
  dynaspa::registerAllDialects(registry);
  return mlir::asMainReturnCode(mlir::MlirOptMain(
      argc, argv, "dynaspa optimizer: spatially-sparse DNN operators\n",
      registry));
}
