//===- Pipelines.cpp - dynaspa's target pipelines -------------------------===//
//
// Part of the dynaspa project.
//
//===----------------------------------------------------------------------===//
//
// The only file that includes mlir/Conversion/Passes.h (expensive to
// compile): keep the pipelines here and rarely edited.
//
//===----------------------------------------------------------------------===//

#include "dynaspa/Pipelines/Pipelines.h"

#include "dynaspa/Conversion/Passes.h"

#include "mlir/Conversion/Passes.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/GPU/Transforms/Passes.h"
#include "mlir/Dialect/LLVMIR/NVVMDialect.h"
#include "mlir/Dialect/SPIRV/IR/SPIRVDialect.h"
#include "mlir/Dialect/SPIRV/IR/SPIRVOps.h"
#include "mlir/Dialect/SPIRV/Transforms/Passes.h"
#include "mlir/InitAllExtensions.h"
#include "mlir/Pass/PassRegistry.h"
#include "mlir/Target/LLVM/NVVM/Target.h"
#include "mlir/Target/LLVMIR/Dialect/All.h"
#include "mlir/Target/SPIRV/Target.h"
#include "mlir/Transforms/Passes.h"

#include "llvm/ADT/StringSwitch.h"

using namespace mlir;

std::string dynaspa::getPtxFeature(StringRef chip) {
  // The lowest PTX ISA that knows the chip (PTX ISA release notes): the
  // NVPTX backend's default (+ptx60 at the time of writing) is too old for
  // Orin and Hopper and aborts.
  return llvm::StringSwitch<std::string>(chip)
      .Cases({"sm_70", "sm_72"}, "+ptx61")
      .Case("sm_75", "+ptx63")
      .Case("sm_80", "+ptx70")
      .Case("sm_86", "+ptx71")
      .Case("sm_87", "+ptx74")
      .Case("sm_89", "+ptx78")
      .Case("sm_90", "+ptx78")
      .Case("sm_90a", "+ptx80")
      .Default("+ptx80");
}

void dynaspa::buildCudaPipeline(OpPassManager &pm,
                                const CudaPipelineOptions &options) {
  GpuNVVMAttachTargetOptions target;
  target.chip = options.chip;
  target.features = options.features.empty() ? getPtxFeature(options.chip)
                                             : std::string(options.features);
  target.optLevel = 3;
  pm.addPass(createGpuNVVMAttachTarget(target));
  OpPassManager &kernels = pm.nest<gpu::GPUModuleOp>();
  kernels.addPass(createCanonicalizerPass());
  kernels.addPass(createCSEPass());
  kernels.addPass(createSCFToControlFlowPass());
  // Tensor-core fragments (tf32 schedules) first: their vector operands
  // become the LLVM aggregates nvvm.mma.sync takes.
  kernels.addPass(createConvertNVGPUToNVVMPass());
  ConvertGpuOpsToNVVMOpsOptions nvvm;
  // Kernel arguments are bare pointers: the bundle's ABI is one pointer per
  // buffer, not a memref descriptor.
  nvvm.useBarePtrCallConv = true;
  kernels.addPass(createConvertGpuOpsToNVVMOps(nvvm));
  kernels.addPass(createCanonicalizerPass());
  kernels.addPass(createCSEPass());
  pm.addPass(createReconcileUnrealizedCastsPass());
  GpuModuleToBinaryPassOptions binary;
  binary.compilationTarget = options.format;
  pm.addPass(createGpuModuleToBinaryPass(binary));
}

void dynaspa::buildOpenCLPipeline(OpPassManager &pm,
                                  const OpenCLPipelineOptions &options) {
  OpPassManager &kernels = pm.nest<gpu::GPUModuleOp>();
  kernels.addPass(createCanonicalizerPass());
  kernels.addPass(createCSEPass());
  // Workgroup memory, the work-group size and vector construction in the
  // form SPIR-V (and llvm-spirv) needs; after the canonicalizer, which would
  // undo the last.
  kernels.addPass(spsparse::createSpSparseLegalizeKernelsForSPIRV());
  GpuSPIRVAttachTargetOptions target;
  target.spirvVersion = "v1.0";
  target.spirvCapabilities = {"Kernel", "Addresses", "Int64", "Int8"};
  target.clientApi = "OpenCL";
  pm.addPass(createGpuSPIRVAttachTarget(target));
  // Upstream's convert-gpu-to-spirv plus global integer atomics.
  spsparse::SpSparseConvertKernelsToSPIRVOptions toSPIRV;
  // Physical64 addressing (OpenCL on 64-bit hosts) needs 64-bit indices.
  toSPIRV.use64bitIndex = true;
  pm.addPass(spsparse::createSpSparseConvertKernelsToSPIRV(toSPIRV));
  OpPassManager &spirvModule =
      pm.nest<gpu::GPUModuleOp>().nest<spirv::ModuleOp>();
  spirvModule.addPass(spirv::createSPIRVLowerABIAttributesPass());
  spirvModule.addPass(spirv::createSPIRVUpdateVCEPass());
  pm.addPass(createGpuModuleToBinaryPass());
}

void dynaspa::registerPipelineDialects(DialectRegistry &registry) {
  registry.insert<gpu::GPUDialect, NVVM::NVVMDialect, spirv::SPIRVDialect>();
  NVVM::registerNVVMTargetInterfaceExternalModels(registry);
  spirv::registerSPIRVTargetInterfaceExternalModels(registry);
  // gpu-module-to-binary translates the NVVM kernels to LLVM IR.
  registerAllGPUToLLVMIRTranslations(registry);
  // convert-gpu-to-nvvm takes the arith/cf/memref/vector patterns from the
  // dialects' ConvertToLLVM interfaces: without them it leaves half-converted
  // branches behind.
  registerAllExtensions(registry);
}

void dynaspa::registerPipelines() {
  PassPipelineRegistration<CudaPipelineOptions>(
      "dynaspa-cuda-pipeline",
      "Lower dynaspa's GPU kernels to PTX (format=isa) or a cubin "
      "(format=bin) for one NVIDIA chip",
      buildCudaPipeline);
  PassPipelineRegistration<OpenCLPipelineOptions>(
      "dynaspa-opencl-pipeline",
      "Lower dynaspa's GPU kernels to SPIR-V for OpenCL (Kernel, Addresses, "
      "Int64; Physical64 addressing)",
      buildOpenCLPipeline);
}
