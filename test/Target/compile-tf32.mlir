// A tf32 variant end to end on the compiler side: PTX whose convolution
// multiplies with tensor-core mma.sync (m16n8k8, TF32 operands, fp32
// accumulation) and that ptxas assembles for sm_90; a bundle that marks the
// variant TF32 (the runner checks such operators at TF32's tolerance); and
// the OpenCL path refusing it with the op's location.
// RUN: rm -rf %t && mkdir -p %t
// RUN: dynaspa-compile %s -o %t/tf32.dspb --cuda-chips=sm_90 --opencl=false --dump-binaries=%t
// RUN: FileCheck %s --check-prefix=PTX < %t/f_masked_conv2d_0_kernels.sm_90.ptx
// RUN: %dynaspa_run %t/tf32.dspb --inspect --json | FileCheck %s --check-prefix=BUNDLE
// RUN: not dynaspa-compile %s -o %t/cl.dspb --cuda-chips=none 2>&1 | FileCheck %s --check-prefix=CL
// RUN: %if ptxas %{ ptxas -arch=sm_90 %t/f_masked_conv2d_0_kernels.sm_90.ptx -o %t/90.cubin %}

// PTX-LABEL: .entry f_masked_conv2d_0_v0(
// PTX: mma.sync.aligned.m16n8k8.row.col.f32.tf32.tf32.f32
// PTX-LABEL: .entry f_masked_conv2d_0_v1(
// PTX-NOT: mma.sync
// PTX: ret;

// BUNDLE: "granularity": [
// BUNDLE: "math": "TF32"
// BUNDLE: "granularity": [
// BUNDLE: "math": "FP32"

// CL: compile-tf32.mlir:[[# @LINE + 2]]:8: error: 'nvgpu.mma.sync' op multiplies on NVIDIA tensor cores (a schedule with tf32)
func.func @f(%x: tensor<1x12x12x32xf32>, %w: tensor<3x3x32x32xf32>, %m: tensor<1x12x12xi1>) -> tensor<1x12x12x32xf32> {
  %y = spsparse.masked_conv2d %x, %w mask %m {padding = array<i64: 1, 1, 1, 1>,
      spsparse.variants = [
        {granularity = #spsparse.granularity<[4, 4]>, schedule = #spsparse.schedule<channel_block = 32, reduction_block = 8, threads = 64, thread_channels = 4, thread_pixels = 2, vector_width = 4, tf32 = true>, tiles = array<i64: 0, 4>},
        {granularity = #spsparse.granularity<[4, 4]>, schedule = #spsparse.schedule<>}]}
      : (tensor<1x12x12x32xf32>, tensor<3x3x32x32xf32>, tensor<1x12x12xi1>) -> tensor<1x12x12x32xf32>
  return %y : tensor<1x12x12x32xf32>
}
