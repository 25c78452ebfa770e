// dynaspa-compile --records: the tuning record's two variants (2x2 with a
// tile range, then the 4x4 fallback) become two kernels and two tile lists
// (built by one kernel).
// RUN: dynaspa-compile %s -o %t.dspb --cuda-chips=none --opencl=false --print-gpu-ir --records=%S/../Transforms/Inputs/records.json | FileCheck %s
// RUN: not dynaspa-compile %s -o %t.dspb --cuda-chips=none --opencl=false --records=%t.missing.json 2>&1 | FileCheck %s --check-prefix=MISSING

// CHECK: spsparse.polykernel @tuned_masked_conv2d_0
// CHECK-SAME: spsparse.prologue = [@tuned_masked_conv2d_0_kernels::@tuned_masked_conv2d_0_tiles]
// CHECK: spsparse.polykernel.variant @v0 granularity <[2, 2]> schedule <channel_block = 8, threads = 32, thread_channels = 1> tiles [0, 4] kernel @tuned_masked_conv2d_0_kernels::@tuned_masked_conv2d_0_v0
// CHECK: spsparse.polykernel.variant @v1 granularity <[4, 4]> schedule <> kernel @tuned_masked_conv2d_0_kernels::@tuned_masked_conv2d_0_v1
// CHECK: gpu.func @tuned_masked_conv2d_0_v0({{.*}}known_block_size = array<i32: 32, 1, 1>
// CHECK: gpu.func @tuned_masked_conv2d_0_v1({{.*}}known_block_size = array<i32: 128, 1, 1>
// MISSING: cannot read tuning records
func.func @tuned(%x: tensor<1x5x5x8xf32>, %w: tensor<3x3x8x8xf32>, %m: tensor<1x5x5xi1>) -> tensor<1x5x5x8xf32> {
  %y = spsparse.masked_conv2d %x, %w mask %m {padding = array<i64: 1, 1, 1, 1>}
      : (tensor<1x5x5x8xf32>, tensor<3x3x8x8xf32>, tensor<1x5x5xi1>) -> tensor<1x5x5x8xf32>
  return %y : tensor<1x5x5x8xf32>
}
