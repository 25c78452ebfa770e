// RUN: dynaspa-opt %s -split-input-file --convert-spsparse-to-gpu | FileCheck %s --check-prefix=ONE
// RUN: dynaspa-opt %s -split-input-file --convert-spsparse-to-gpu="shared-buffers=2" | FileCheck %s --check-prefix=TWO
// RUN: not dynaspa-opt %s -split-input-file --convert-spsparse-to-gpu="shared-buffers=3" 2>&1 | FileCheck %s --check-prefix=BAD

// shared-buffers=2 gives a double_buffer variant two shared copies of its
// staged chunk: the loop stores chunk c+1 into one copy after computing chunk
// c from the other, carries which copy is current (an index), and has one
// barrier per chunk. By default (1) it stores the prefetched chunk between
// two barriers.
// BAD: error: shared-buffers must be 1 or 2

// ONE-LABEL: gpu.func @conv_v(
// ONE-SAME: workgroup(%{{.*}} : memref<64xf32, 3>, %{{.*}} : memref<288xf32, 3>
// ONE: scf.for {{.*}} -> (f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32) {
// ONE-NEXT: gpu.barrier
// ONE-NEXT: memref.store {{.*}} : memref<64xf32, 3>
// ONE: gpu.barrier
// ONE: scf.for {{.*}} -> (f32) {

// TWO-LABEL: gpu.func @conv_v(
// TWO-SAME: workgroup(%[[IN:.*]] : memref<128xf32, 3>, %[[W:.*]] : memref<576xf32, 3>
// The first chunk goes into copy 0 before the loop.
// TWO: memref.store {{.*}}, %[[IN]][{{.*}}] : memref<128xf32, 3>
// TWO: gpu.barrier
// TWO-NEXT: %{{.*}} = arith.constant
// TWO: scf.for {{.*}} iter_args(%{{.*}} = %{{.*}}, %[[SLOT:.*]] = %{{.*}}) -> (f32, index) {
// TWO-NOT: gpu.barrier
// TWO: memref.load %[[IN]]
// TWO-NOT: gpu.barrier
// TWO: %[[OTHER:.*]] = arith.subi %{{.*}}, %[[SLOT]] : index
// TWO-NOT: gpu.barrier
// TWO: memref.store {{.*}}, %[[W]][{{.*}}] : memref<576xf32, 3>
// TWO: gpu.barrier
// TWO-NEXT: scf.yield %{{.*}}, %[[OTHER]] : f32, index
spsparse.polykernel @conv : (tensor<1x5x5x8xf32>, tensor<3x3x8x8xf32>, tensor<1x5x5xi1>) -> tensor<1x5x5x8xf32> {
^bb0(%x: tensor<1x5x5x8xf32>, %w: tensor<3x3x8x8xf32>, %m: tensor<1x5x5xi1>):
  spsparse.polykernel.variant @v granularity <[2, 2]> schedule <channel_block = 8, reduction_block = 4, threads = 32, thread_channels = 1, double_buffer = true>
  %y = spsparse.masked_conv2d %x, %w mask %m {padding = array<i64: 1, 1, 1, 1>}
      : (tensor<1x5x5x8xf32>, tensor<3x3x8x8xf32>, tensor<1x5x5xi1>) -> tensor<1x5x5x8xf32>
  spsparse.yield %y : tensor<1x5x5x8xf32>
}

// -----

// A second copy of the 36 KiB filter block would pass the 48 KiB of static
// shared memory: the variant keeps one copy.
// ONE-LABEL: gpu.func @big_v(
// ONE-SAME: workgroup(%{{.*}} : memref<256xf32, 3>, %{{.*}} : memref<9216xf32, 3>
// TWO-LABEL: gpu.func @big_v(
// TWO-SAME: workgroup(%{{.*}} : memref<256xf32, 3>, %{{.*}} : memref<9216xf32, 3>
// TWO: scf.for {{.*}} -> (f32, f32,
// TWO-NEXT: gpu.barrier
spsparse.polykernel @big : (tensor<1x4x4x16xf32>, tensor<3x3x16x64xf32>, tensor<1x4x4xi1>) -> tensor<1x4x4x64xf32> {
^bb0(%x: tensor<1x4x4x16xf32>, %w: tensor<3x3x16x64xf32>, %m: tensor<1x4x4xi1>):
  spsparse.polykernel.variant @v granularity <[2, 2]> schedule <channel_block = 64, reduction_block = 16, threads = 64, thread_channels = 4, double_buffer = true>
  %y = spsparse.masked_conv2d %x, %w mask %m {padding = array<i64: 1, 1, 1, 1>}
      : (tensor<1x4x4x16xf32>, tensor<3x3x16x64xf32>, tensor<1x4x4xi1>) -> tensor<1x4x4x64xf32>
  spsparse.yield %y : tensor<1x4x4x64xf32>
}

// -----

// A batch-matmul's lhs rows and rhs block get two copies alike.
// ONE-LABEL: gpu.func @bmm_v(
// ONE-SAME: workgroup(%{{.*}} : memref<128xf32, 3>, %{{.*}} : memref<128xf32, 3>
// TWO-LABEL: gpu.func @bmm_v(
// TWO-SAME: workgroup(%{{.*}} : memref<256xf32, 3>, %{{.*}} : memref<256xf32, 3>
// TWO: scf.for {{.*}} -> (f32, f32, f32, f32, index) {
// TWO-NOT: gpu.barrier
// TWO: arith.subi
// TWO: gpu.barrier
// TWO-NEXT: scf.yield
spsparse.polykernel @bmm : (tensor<2x16x64xf32>, tensor<2x64x16xf32>, tensor<2x16xi1>) -> tensor<2x16x16xf32> {
^bb0(%a: tensor<2x16x64xf32>, %b: tensor<2x64x16xf32>, %r: tensor<2x16xi1>):
  spsparse.polykernel.variant @v granularity <[16]> schedule <channel_block = 16, reduction_block = 8, threads = 64, double_buffer = true>
  %y = spsparse.masked_batch_matmul %a, %b row_mask %r
      : (tensor<2x16x64xf32>, tensor<2x64x16xf32>, tensor<2x16xi1>) -> tensor<2x16x16xf32>
  spsparse.yield %y : tensor<2x16x16xf32>
}
