// Every target from one input, for masked attention's two products: PTX for
// Xavier, Orin and H100, cubins where CUDA 13's ptxas knows the chip, SPIR-V
// that spirv-val accepts. QKᵀ has row and column masks and vector loads; AV
// (K = 197, not a multiple of the reduction block) has a row mask only.
// REQUIRES: ptxas, spirv-val
// RUN: rm -rf %t && dynaspa-compile %s -o %t.dspb --cuda-chips=sm_72,sm_87,sm_90 --cubin-chips=sm_87,sm_90 --dump-binaries=%t
// RUN: FileCheck %s --check-prefix=PTX72 < %t/f_masked_batch_matmul_0_kernels.sm_72.ptx
// RUN: FileCheck %s --check-prefix=PTX90 < %t/f_masked_batch_matmul_0_kernels.sm_90.ptx
// RUN: FileCheck %s --check-prefix=AV90 < %t/f_masked_batch_matmul_1_kernels.sm_90.ptx
// RUN: ptxas -arch=sm_87 %t/f_masked_batch_matmul_0_kernels.sm_87.ptx -o %t/qk87.cubin
// RUN: ptxas -arch=sm_90 %t/f_masked_batch_matmul_0_kernels.sm_90.ptx -o %t/qk90.cubin
// RUN: ptxas -arch=sm_87 %t/f_masked_batch_matmul_1_kernels.sm_87.ptx -o %t/av87.cubin
// RUN: ptxas -arch=sm_90 %t/f_masked_batch_matmul_1_kernels.sm_90.ptx -o %t/av90.cubin
// RUN: test -s %t/f_masked_batch_matmul_0_kernels.sm_90.cubin
// RUN: test -s %t/f_masked_batch_matmul_1_kernels.sm_90.cubin
// RUN: spirv-val %t/f_masked_batch_matmul_0_kernels.spirv64.spv
// RUN: spirv-val %t/f_masked_batch_matmul_1_kernels.spirv64.spv
// RUN: dynaspa-opt %s --spsparse-outline-polykernels --convert-spsparse-to-gpu | dynaspa-opt --dynaspa-cuda-pipeline="chip=sm_87" | FileCheck %s --check-prefix=OPT
// RUN: dynaspa-opt %s --spsparse-outline-polykernels --convert-spsparse-to-gpu --dynaspa-opencl-pipeline | FileCheck %s --check-prefix=CL

// PTX72: .version 6.1
// PTX72: .target sm_72
// PTX72-DAG: .entry f_masked_batch_matmul_0_tiles_16(
// PTX72-DAG: .entry f_masked_batch_matmul_0_v0(
// PTX90: .target sm_90
// Index arithmetic is 32-bit (the module's data layout, the batch-matmul
// default): no 64-bit multiply (index products, divisions by constants).
// PTX90-NOT: {{(mul|mad)\.(lo|hi|wide)\.[su]64}}
// Shared memory is real shared memory (workgroup attributions), the staged
// data is read back from it, and lhs/rhs come in 4-float vector loads.
// PTX90: .shared .align {{[0-9]+}} .b8
// PTX90-DAG: ld.global.v4.{{(f32|b32)}}
// PTX90-DAG: ld.shared.{{(f32|b32|v[24].b32)}}
// AV90: .entry f_masked_batch_matmul_1_v0(
// AV90: ld.shared.{{(f32|b32|v[24].b32)}}
// OPT: gpu.binary @f_masked_batch_matmul_0_kernels [#gpu.object<#nvvm.target<O = 3, chip = "sm_87", features = "+ptx74">
// OPT: gpu.binary @f_masked_batch_matmul_1_kernels [#gpu.object<#nvvm.target<O = 3, chip = "sm_87", features = "+ptx74">
// CL: gpu.binary @f_masked_batch_matmul_0_kernels [#gpu.object<#spirv.target_env<#spirv.vce<v1.0, [Kernel, Addresses, Int64, Int8], []>, api=OpenCL
// CL: gpu.binary @f_masked_batch_matmul_1_kernels [#gpu.object<#spirv.target_env<#spirv.vce<v1.0, [Kernel, Addresses, Int64, Int8], []>, api=OpenCL
func.func @f(%q: tensor<6x197x64xf32>, %kt: tensor<6x64x200xf32>,
             %v: tensor<6x197x64xf32>, %p: tensor<6x197x197xf32>,
             %t: tensor<6x197xi1>, %c: tensor<200xi1>)
    -> (tensor<6x197x200xf32>, tensor<6x197x64xf32>) {
  %s = spsparse.masked_batch_matmul %q, %kt row_mask %t col_mask %c
      {spsparse.schedule = #spsparse.schedule<vector_width = 4, unroll = 2>}
      : (tensor<6x197x64xf32>, tensor<6x64x200xf32>, tensor<6x197xi1>,
         tensor<200xi1>) -> tensor<6x197x200xf32>
  %o = spsparse.masked_batch_matmul %p, %v row_mask %t
      : (tensor<6x197x197xf32>, tensor<6x197x64xf32>, tensor<6x197xi1>)
        -> tensor<6x197x64xf32>
  return %s, %o : tensor<6x197x200xf32>, tensor<6x197x64xf32>
}
