// Every target from one input: PTX for Xavier, Orin and H100, cubins where
// CUDA 13's ptxas knows the chip, SPIR-V that spirv-val accepts.
// REQUIRES: ptxas, spirv-val
// RUN: rm -rf %t && dynaspa-compile %s -o %t.dspb --cuda-chips=sm_72,sm_87,sm_90 --cubin-chips=sm_87,sm_90 --dump-binaries=%t
// RUN: FileCheck %s --check-prefix=PTX72 < %t/f_masked_conv2d_0_kernels.sm_72.ptx
// RUN: FileCheck %s --check-prefix=PTX90 < %t/f_masked_conv2d_0_kernels.sm_90.ptx
// RUN: ptxas -arch=sm_87 %t/f_masked_conv2d_0_kernels.sm_87.ptx -o %t/87.cubin
// RUN: ptxas -arch=sm_90 %t/f_masked_conv2d_0_kernels.sm_90.ptx -o %t/90.cubin
// RUN: test -s %t/f_masked_conv2d_0_kernels.sm_90.cubin
// RUN: spirv-val %t/f_masked_conv2d_0_kernels.spirv64.spv
// RUN: dynaspa-opt %s --spsparse-outline-polykernels --convert-spsparse-to-gpu | dynaspa-opt --dynaspa-cuda-pipeline="chip=sm_87" | FileCheck %s --check-prefix=OPT
// RUN: dynaspa-opt %s --spsparse-outline-polykernels --convert-spsparse-to-gpu --dynaspa-opencl-pipeline | FileCheck %s --check-prefix=CL

// PTX72: .version 6.1
// PTX72: .target sm_72
// PTX72-DAG: .entry f_masked_conv2d_0_tiles_4x4(
// PTX72-DAG: .entry f_masked_conv2d_0_v0(
// PTX90: .target sm_90
// Shared memory is real shared memory (workgroup attributions), and the
// staged data is read back from it.
// PTX90: .shared .align {{[0-9]+}} .b8
// PTX90: ld.shared.{{(f32|b32|v[24].b32)}}
// OPT: gpu.binary @f_masked_conv2d_0_kernels [#gpu.object<#nvvm.target<O = 3, chip = "sm_87", features = "+ptx74">
// CL: gpu.binary @f_masked_conv2d_0_kernels [#gpu.object<#spirv.target_env<#spirv.vce<v1.0, [Kernel, Addresses, Int64, Int8], []>, api=OpenCL
func.func @f(%x: tensor<2x9x7x16xf32>, %w: tensor<3x3x16x32xf32>, %m: tensor<2x9x7xi1>, %b: tensor<32xf32>) -> tensor<2x9x7x32xf32> {
  %y = spsparse.masked_conv2d %x, %w mask %m bias %b {padding = array<i64: 1, 1, 1, 1>}
      : (tensor<2x9x7x16xf32>, tensor<3x3x16x32xf32>, tensor<2x9x7xi1>, tensor<32xf32>) -> tensor<2x9x7x32xf32>
  return %y : tensor<2x9x7x32xf32>
}
