//===- Pipelines.h - dynaspa's target pipelines -----------------*- C++ -*-===//
//
// Part of the dynaspa project.
//
//===----------------------------------------------------------------------===//
//
// From spsparse kernels (after convert-spsparse-to-gpu) to device binaries:
//   dynaspa-cuda-pipeline{chip=sm_90 format=isa|bin}   -> PTX / cubin
//   dynaspa-opencl-pipeline                             -> SPIR-V
// Both leave `gpu.binary` ops named like the gpu.modules they replace.
//
//===----------------------------------------------------------------------===//

#ifndef DYNASPA_PIPELINES_PIPELINES_H
#define DYNASPA_PIPELINES_PIPELINES_H

#include "mlir/Pass/PassManager.h"
#include "mlir/Pass/PassOptions.h"

namespace dynaspa {

struct CudaPipelineOptions
    : public mlir::PassPipelineOptions<CudaPipelineOptions> {
  Option<std::string> chip{*this, "chip",
                           llvm::cl::desc("Target SM: sm_72 (Xavier), sm_87 "
                                          "(Orin), sm_90 (H100), ..."),
                           llvm::cl::init("sm_90")};
  Option<std::string> features{
      *this, "features",
      llvm::cl::desc("PTX ISA feature (e.g. +ptx78); default: the lowest "
                     "version the chip needs"),
      llvm::cl::init("")};
  Option<std::string> format{
      *this, "format",
      llvm::cl::desc("isa (PTX text, JIT by the driver) or bin (cubin, runs "
                     "ptxas from the CUDA toolkit)"),
      llvm::cl::init("isa")};
};

struct OpenCLPipelineOptions
    : public mlir::PassPipelineOptions<OpenCLPipelineOptions> {};

/// The PTX ISA version a chip needs, as an NVPTX feature ("+ptx78").
std::string getPtxFeature(llvm::StringRef chip);

void buildCudaPipeline(mlir::OpPassManager &pm,
                       const CudaPipelineOptions &options);
void buildOpenCLPipeline(mlir::OpPassManager &pm,
                         const OpenCLPipelineOptions &options);

/// Registers both pipelines (and the dialect extensions the binaries need)
/// with the global registries used by `*-opt` tools.
void registerPipelines();
void registerPipelineDialects(mlir::DialectRegistry &registry);

} // namespace dynaspa

#endif // DYNASPA_PIPELINES_PIPELINES_H
