// RUN: dynaspa-opt %s -split-input-file --convert-spsparse-to-gpu | FileCheck %s
// RUN: dynaspa-opt %s -split-input-file --convert-spsparse-to-gpu="zeros=auto zero-blocks=8" | FileCheck %s --check-prefix=EIGHT

// zeros=auto (the default) has the variants write the zeros where the output
// has at least 32 MiB (here exactly 32 MiB: 256 x 256 x 128 floats): no fill
// kernel, and 64 zero blocks (or zero-blocks) ahead of the 2,048 tile groups.
// CHECK-LABEL: spsparse.polykernel @large
// CHECK-NOT: spsparse.fills
// CHECK-LABEL: gpu.func @large_v(
// CHECK-SAME: grid = array<i64: 2112, 2, 1>
// CHECK-SAME: spsparse.writes_zeros
// EIGHT-LABEL: gpu.func @large_v(
// EIGHT-SAME: grid = array<i64: 2056, 2, 1>
// EIGHT-SAME: spsparse.writes_zeros
spsparse.polykernel @large : (tensor<1x256x256x128xf32>, tensor<3x3x128x128xf32>, tensor<1x256x256xi1>) -> tensor<1x256x256x128xf32> {
^bb0(%x: tensor<1x256x256x128xf32>, %w: tensor<3x3x128x128xf32>, %m: tensor<1x256x256xi1>):
  spsparse.polykernel.variant @v granularity <[4, 4]> schedule <channel_block = 64, thread_channels = 8, thread_pixels = 4, tiles_per_block = 2, threads = 64>
  %y = spsparse.masked_conv2d %x, %w mask %m {padding = array<i64: 1, 1, 1, 1>}
      : (tensor<1x256x256x128xf32>, tensor<3x3x128x128xf32>, tensor<1x256x256xi1>) -> tensor<1x256x256x128xf32>
  spsparse.yield %y : tensor<1x256x256x128xf32>
}

// -----

// One row less is below 32 MiB: a fill kernel beside the variants, which
// write active pixels only
// (the launch attribute is the last: no writes_zeros).
// CHECK-LABEL: spsparse.polykernel @below
// CHECK-SAME: spsparse.fills = {alongside = [@below_kernels::@below_zero_inactive]}
// CHECK-LABEL: gpu.func @below_v(
// CHECK-SAME: grid = array<i64: 2048, 2, 1>}} {
spsparse.polykernel @below : (tensor<1x255x256x128xf32>, tensor<3x3x128x128xf32>, tensor<1x255x256xi1>) -> tensor<1x255x256x128xf32> {
^bb0(%x: tensor<1x255x256x128xf32>, %w: tensor<3x3x128x128xf32>, %m: tensor<1x255x256xi1>):
  spsparse.polykernel.variant @v granularity <[4, 4]> schedule <channel_block = 64, thread_channels = 8, thread_pixels = 4, tiles_per_block = 2, threads = 64>
  %y = spsparse.masked_conv2d %x, %w mask %m {padding = array<i64: 1, 1, 1, 1>}
      : (tensor<1x255x256x128xf32>, tensor<3x3x128x128xf32>, tensor<1x255x256xi1>) -> tensor<1x255x256x128xf32>
  spsparse.yield %y : tensor<1x255x256x128xf32>
}

// -----

// Small and split: the runtime's zero fill (no fill kernel, no zeros in the
// variants).
// CHECK-LABEL: spsparse.polykernel @small_split
// CHECK-NOT: spsparse.fills
// CHECK-LABEL: gpu.func @small_split_v(
// CHECK-SAME: grid = array<i64: 16, 1, 2>}} {
spsparse.polykernel @small_split : (tensor<1x8x8x16xf32>, tensor<3x3x16x8xf32>, tensor<1x8x8xi1>) -> tensor<1x8x8x8xf32> {
^bb0(%x: tensor<1x8x8x16xf32>, %w: tensor<3x3x16x8xf32>, %m: tensor<1x8x8xi1>):
  spsparse.polykernel.variant @v granularity <[2, 2]> schedule <channel_block = 8, reduction_block = 4, threads = 32, thread_channels = 1, split_k = 2>
  %y = spsparse.masked_conv2d %x, %w mask %m {padding = array<i64: 1, 1, 1, 1>}
      : (tensor<1x8x8x16xf32>, tensor<3x3x16x8xf32>, tensor<1x8x8xi1>) -> tensor<1x8x8x8xf32>
  spsparse.yield %y : tensor<1x8x8x8xf32>
}
