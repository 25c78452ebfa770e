//===- InitAll.cpp - register every dynaspa dialect and pass --------------===//
//
// Part of the dynaspa project.
//
//===----------------------------------------------------------------------===//

#include "dynaspa/InitAll.h"

#include "dynaspa/Conversion/Passes.h"
#include "dynaspa/Dialect/SpSparse/IR/SpSparseOps.h"
#include "dynaspa/Dialect/SpSparse/Transforms/Passes.h"
#include "dynaspa/Pipelines/Pipelines.h"
#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/DLTI/DLTI.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/NVGPU/IR/NVGPUDialect.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "mlir/IR/DialectRegistry.h"
#include "mlir/Transforms/Passes.h"

void dynaspa::registerAllDialects(mlir::DialectRegistry &registry) {
  registry.insert<mlir::spsparse::SpSparseDialect, mlir::arith::ArithDialect,
                  mlir::func::FuncDialect, mlir::linalg::LinalgDialect,
                  mlir::tensor::TensorDialect, mlir::memref::MemRefDialect,
                  mlir::scf::SCFDialect, mlir::vector::VectorDialect,
                  mlir::gpu::GPUDialect, mlir::DLTIDialect,
                  mlir::nvgpu::NVGPUDialect>();
  dynaspa::registerPipelineDialects(registry);
}

void dynaspa::registerAllPasses() {
  mlir::spsparse::registerDynaspaConversionPasses();
  mlir::spsparse::registerSpSparsePasses();
  dynaspa::registerPipelines();
}
