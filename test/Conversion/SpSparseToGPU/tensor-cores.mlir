// RUN: dynaspa-opt %s -split-input-file -verify-diagnostics --convert-spsparse-to-gpu | FileCheck %s

// A tf32 variant multiplies on the tensor cores: 16 pixels x 32 channels in
// m16n8k8 fragments over two warps (one warp row of fragments, each warp
// two B fragments). Shared rows are padded for conflict-free fragment loads:
// 36 window pixels x (8 + 4) floats, 9 taps x 8 reduction rows x (32 + 8)
// floats. One chunk is one step of 8 channels: 9 taps x 2 fragments = 18
// mmas. The result goes out in runs of two channels (a fragment row's pair).
// CHECK-LABEL: gpu.func @conv_v(
// CHECK-SAME: workgroup(%[[IN:.*]] : memref<432xf32, 3>, %[[W:.*]] : memref<2880xf32, 3>
// CHECK: vector.store %{{.*}}, %[[IN]][%{{.*}}] {alignment = 16 : i64} : memref<432xf32, 3>, vector<4xf32>
// CHECK: vector.store %{{.*}}, %[[W]][%{{.*}}] {alignment = 16 : i64} : memref<2880xf32, 3>, vector<4xf32>
// CHECK-COUNT-18: nvgpu.mma.sync(%{{.*}}, %{{.*}}, %{{.*}}) {mmaShape = [16, 8, 8], tf32Enabled} : (vector<4x1xf32>, vector<2x1xf32>, vector<2x2xf32>) -> vector<2x2xf32>
// CHECK-NOT: nvgpu.mma.sync
// CHECK: vector.store %{{.*}}, %{{.*}}[%{{.*}}] {alignment = 8 : i64} : memref<1152xf32>, vector<2xf32>
spsparse.polykernel @conv : (tensor<1x6x6x16xf32>, tensor<3x3x16x32xf32>, tensor<1x6x6xi1>) -> tensor<1x6x6x32xf32> {
^bb0(%x: tensor<1x6x6x16xf32>, %w: tensor<3x3x16x32xf32>, %m: tensor<1x6x6xi1>):
  spsparse.polykernel.variant @v granularity <[4, 4]> schedule <channel_block = 32, reduction_block = 8, threads = 64, thread_channels = 4, thread_pixels = 2, vector_width = 4, tf32 = true>
  %y = spsparse.masked_conv2d %x, %w mask %m {padding = array<i64: 1, 1, 1, 1>}
      : (tensor<1x6x6x16xf32>, tensor<3x3x16x32xf32>, tensor<1x6x6xi1>) -> tensor<1x6x6x32xf32>
  spsparse.yield %y : tensor<1x6x6x32xf32>
}

// -----

// An odd Cout is written one channel at a time; a filter row of 24 floats
// needs no padding (24 mod 32 already spreads the B fragment's rows).
// CHECK-LABEL: gpu.func @odd_v(
// CHECK-SAME: workgroup(%{{.*}} : memref<{{[0-9]+}}xf32, 3>, %{{.*}} : memref<192xf32, 3>
// CHECK-COUNT-3: nvgpu.mma.sync
// CHECK-NOT: nvgpu.mma.sync
// CHECK-NOT: vector<2xf32>
// CHECK: memref.store %{{.*}}, %{{.*}}[%{{.*}}] : memref<{{[0-9]+}}xf32>
spsparse.polykernel @odd : (tensor<1x8x8x8xf32>, tensor<1x1x8x23xf32>, tensor<1x8x8xi1>) -> tensor<1x8x8x23xf32> {
^bb0(%x: tensor<1x8x8x8xf32>, %w: tensor<1x1x8x23xf32>, %m: tensor<1x8x8xi1>):
  spsparse.polykernel.variant @v granularity <[1, 1]> schedule <channel_block = 24, reduction_block = 8, threads = 32, thread_channels = 3, thread_pixels = 4, tiles_per_block = 16, tf32 = true>
  %y = spsparse.masked_conv2d %x, %w mask %m
      : (tensor<1x8x8x8xf32>, tensor<1x1x8x23xf32>, tensor<1x8x8xi1>) -> tensor<1x8x8x23xf32>
  spsparse.yield %y : tensor<1x8x8x23xf32>
}

// -----

spsparse.polykernel @rows : (tensor<1x8x8x16xf32>, tensor<3x3x16x32xf32>, tensor<1x8x8xi1>) -> tensor<1x8x8x32xf32> {
^bb0(%x: tensor<1x8x8x16xf32>, %w: tensor<3x3x16x32xf32>, %m: tensor<1x8x8xi1>):
  // expected-remark @+1 {{while lowering this variant}}
  spsparse.polykernel.variant @v granularity <[2, 2]> schedule <channel_block = 32, reduction_block = 8, threads = 32, thread_channels = 4, tf32 = true>
  // expected-error @+1 {{tf32 needs the block's pixels (tiles_per_block x DISTile = 4) to be a multiple of 16 (a fragment's rows)}}
  %y = spsparse.masked_conv2d %x, %w mask %m {padding = array<i64: 1, 1, 1, 1>}
      : (tensor<1x8x8x16xf32>, tensor<3x3x16x32xf32>, tensor<1x8x8xi1>) -> tensor<1x8x8x32xf32>
  spsparse.yield %y : tensor<1x8x8x32xf32>
}

// -----

spsparse.polykernel @warps : (tensor<1x8x8x16xf32>, tensor<3x3x16x8xf32>, tensor<1x8x8xi1>) -> tensor<1x8x8x8xf32> {
^bb0(%x: tensor<1x8x8x16xf32>, %w: tensor<3x3x16x8xf32>, %m: tensor<1x8x8xi1>):
  // expected-remark @+1 {{while lowering this variant}}
  spsparse.polykernel.variant @v granularity <[4, 4]> schedule <channel_block = 8, reduction_block = 8, threads = 64, thread_channels = 1, thread_pixels = 2, tf32 = true>
  // expected-error @+1 {{tf32: the block's 1 x 1 fragments (16 pixels x 8 channels) do not split evenly over its 2 warps}}
  %y = spsparse.masked_conv2d %x, %w mask %m {padding = array<i64: 1, 1, 1, 1>}
      : (tensor<1x8x8x16xf32>, tensor<3x3x16x8xf32>, tensor<1x8x8xi1>) -> tensor<1x8x8x8xf32>
  spsparse.yield %y : tensor<1x8x8x8xf32>
}

// -----

spsparse.polykernel @unroll : (tensor<1x8x8x16xf32>, tensor<3x3x16x32xf32>, tensor<1x8x8xi1>) -> tensor<1x8x8x32xf32> {
^bb0(%x: tensor<1x8x8x16xf32>, %w: tensor<3x3x16x32xf32>, %m: tensor<1x8x8xi1>):
  // expected-remark @+1 {{while lowering this variant}}
  spsparse.polykernel.variant @v granularity <[4, 4]> schedule <channel_block = 32, reduction_block = 8, threads = 64, thread_channels = 4, thread_pixels = 2, unroll = 2, tf32 = true>
  // expected-error @+1 {{with tf32, unroll must divide reduction_block / 8 (it counts steps of 8 channels)}}
  %y = spsparse.masked_conv2d %x, %w mask %m {padding = array<i64: 1, 1, 1, 1>}
      : (tensor<1x8x8x16xf32>, tensor<3x3x16x32xf32>, tensor<1x8x8xi1>) -> tensor<1x8x8x32xf32>
  spsparse.yield %y : tensor<1x8x8x32xf32>
}

// -----

spsparse.polykernel @bmm : (tensor<2x16x64xf32>, tensor<2x64x16xf32>, tensor<2x16xi1>) -> tensor<2x16x16xf32> {
^bb0(%a: tensor<2x16x64xf32>, %b: tensor<2x64x16xf32>, %r: tensor<2x16xi1>):
  // expected-remark @+1 {{while lowering this variant}}
  spsparse.polykernel.variant @v granularity <[16]> schedule <channel_block = 16, reduction_block = 8, threads = 64, tf32 = true>
  // expected-error @+1 {{tf32 (tensor cores) is implemented for convolutions only}}
  %y = spsparse.masked_batch_matmul %a, %b row_mask %r
      : (tensor<2x16x64xf32>, tensor<2x64x16xf32>, tensor<2x16xi1>) -> tensor<2x16x16xf32>
  spsparse.yield %y : tensor<2x16x16xf32>
}
