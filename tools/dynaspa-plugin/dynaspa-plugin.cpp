//===- dynaspa-plugin.cpp - dynaspa as an mlir-opt plugin -----------------===//
//
// Part of the dynaspa project.
//
//===----------------------------------------------------------------------===//
//
// Exposes the spsparse dialect and dynaspa's passes to a stock mlir-opt
// (--load-dialect-plugin / --load-pass-plugin), which is how torch-mlir
// pipelines pick dynaspa up without a custom driver.
//
//===----------------------------------------------------------------------===//

#include "dynaspa/InitAll.h"
#include "mlir/IR/DialectRegistry.h"
#include "mlir/Tools/Plugins/DialectPlugin.h"
#include "mlir/Tools/Plugins/PassPlugin.h"
#include "llvm/Config/llvm-config.h"
#include "llvm/Support/Compiler.h"

extern "C" LLVM_ATTRIBUTE_WEAK mlir::DialectPluginLibraryInfo
mlirGetDialectPluginInfo() {
  return {MLIR_PLUGIN_API_VERSION, "Dynaspa", LLVM_VERSION_STRING,
          [](mlir::DialectRegistry *registry) {
            dynaspa::registerAllDialects(*registry);
          }};
}

extern "C" LLVM_ATTRIBUTE_WEAK mlir::PassPluginLibraryInfo
mlirGetPassPluginInfo() {
  return {MLIR_PLUGIN_API_VERSION, "Dynaspa", LLVM_VERSION_STRING,
          []() { dynaspa::registerAllPasses(); }};
}
