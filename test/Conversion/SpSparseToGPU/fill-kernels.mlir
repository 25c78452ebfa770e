// RUN: dynaspa-opt %s -split-input-file --convert-spsparse-to-gpu | FileCheck %s
// RUN: dynaspa-opt %s -split-input-file --convert-spsparse-to-gpu="zeros=zero-fill" | FileCheck %s --check-prefix=OFF

// A masked convolution's zeros come from fill kernels the runtime runs on a
// second queue: the masked-off pixels' alongside the variants, with the
// variants' own mask test negated. Each warp takes 8 consecutive pixels per
// step (7 steps for 50 pixels, one block of 8 warps) and issues their 8 mask
// loads before any store; the last step's pixels past the end read the last
// pixel's element and store nothing. A pixel's lanes store its 2 vectors of
// 4 channels. Without a split reduction no variant accumulates, so there is
// no fill of the active pixels.
// CHECK-LABEL: spsparse.polykernel @conv
// CHECK-SAME: spsparse.fills = {alongside = [@conv_kernels::@conv_zero_inactive]}
// CHECK-SAME: spsparse.prologue = [@conv_kernels::@conv_tiles_2x2]
// CHECK-LABEL: gpu.func @conv_zero_inactive(
// CHECK-SAME: %[[MASK:.*]]: memref<50xi8>, %[[OUT:.*]]: memref<400xf32>)
// CHECK-SAME: spsparse.args = ["mask", "output"]
// CHECK-SAME: spsparse.launch = {block = array<i64: 256, 1, 1>, grid = array<i64: 1, 1, 1>}
// CHECK: %[[LANE:.*]] = arith.remui %{{.*}}, %c32
// CHECK: scf.for %[[S:.*]] = %{{.*}} to %c7 step %c8
// CHECK: %[[P0:.*]] = arith.muli %[[S]], %c8
// CHECK: %[[AT0:.*]] = arith.minui %[[P0]], %c49
// CHECK: %[[M0:.*]] = memref.load %[[MASK]]
// CHECK: %[[ON0:.*]] = arith.cmpi ne, %[[M0]], %{{.*}} : i8
// CHECK: %[[P1:.*]] = arith.addi %[[P0]], %c1
// CHECK: arith.minui %[[P1]], %c49
// CHECK: memref.load %[[MASK]]
// CHECK-COUNT-6: memref.load %[[MASK]]
// CHECK-NOT: vector.store
// CHECK: %[[IDLE0:.*]] = arith.xori %[[ON0]], %true
// CHECK: %[[IN0:.*]] = arith.cmpi ult, %[[P0]], %c50
// CHECK: %[[W0:.*]] = arith.andi %[[IDLE0]], %[[IN0]]
// CHECK: scf.if %[[W0]] {
// CHECK: scf.for %[[V:.*]] = %[[LANE]] to %c2{{.*}} step %c32
// CHECK: %[[C:.*]] = arith.muli %[[V]], %c4
// CHECK: %[[PC:.*]] = arith.muli %[[P0]], %c8
// CHECK: %[[AT:.*]] = arith.addi %[[PC]], %[[C]]
// CHECK: vector.store %{{.*}}, %[[OUT]][%[[AT]]] {alignment = 16 : i64} : memref<400xf32>, vector<4xf32>
// CHECK-COUNT-7: scf.if
// CHECK-NOT: scf.if
// CHECK: gpu.return
// CHECK-NOT: gpu.func @conv_zero_active
// OFF-LABEL: spsparse.polykernel @conv
// OFF-NOT: spsparse.fills
// OFF-NOT: zero_inactive
spsparse.polykernel @conv : (tensor<2x5x5x8xf32>, tensor<3x3x8x8xf32>, tensor<2x5x5xi1>) -> tensor<2x5x5x8xf32> {
^bb0(%x: tensor<2x5x5x8xf32>, %w: tensor<3x3x8x8xf32>, %m: tensor<2x5x5xi1>):
  spsparse.polykernel.variant @v granularity <[2, 2]> schedule <channel_block = 8, reduction_block = 4, threads = 32, thread_channels = 1>
  %y = spsparse.masked_conv2d %x, %w mask %m {padding = array<i64: 1, 1, 1, 1>}
      : (tensor<2x5x5x8xf32>, tensor<3x3x8x8xf32>, tensor<2x5x5xi1>) -> tensor<2x5x5x8xf32>
  spsparse.yield %y : tensor<2x5x5x8xf32>
}

// -----

// A variant that may split its reduction adds its slices atomically into
// the active pixels, which then need zeros before the variants: the runtime
// zero-fills the whole output instead (a fill kernel of the active pixels on
// the critical path cost more on the H100). A mask without the batch axis.
// CHECK-LABEL: spsparse.polykernel @split
// CHECK-NOT: spsparse.fills
// CHECK-SAME: spsparse.prologue
// CHECK-NOT: zero_
// CHECK-LABEL: spsparse.polykernel @split_free
// CHECK-SAME: spsparse.fills = {alongside = [@split_free_kernels::@split_free_zero_inactive]}
// CHECK-LABEL: gpu.func @split_free_zero_inactive(
// CHECK-SAME: %[[MASK:.*]]: memref<16xi8>, %[[OUT:.*]]: memref<192xf32>)
// 32 pixels are 4 whole steps: no clamp, no bounds test.
// CHECK: scf.for %{{.*}} to %c4{{.*}} step
// CHECK-NOT: arith.minui
// CHECK: %[[ON:.*]] = arith.cmpi ne
// CHECK: %[[IDLE:.*]] = arith.xori %[[ON]], %true
// CHECK: scf.if %[[IDLE]] {
// CHECK: vector.store %{{.*}} : memref<192xf32>, vector<2xf32>
// OFF-LABEL: spsparse.polykernel @split
// OFF-NOT: spsparse.fills
spsparse.polykernel @split : (tensor<2x4x4x16xf32>, tensor<3x3x16x6xf32>, tensor<4x4xi1>) -> tensor<2x4x4x6xf32> {
^bb0(%x: tensor<2x4x4x16xf32>, %w: tensor<3x3x16x6xf32>, %m: tensor<4x4xi1>):
  spsparse.polykernel.variant @v0 granularity <[2, 2]> schedule <channel_block = 8, reduction_block = 4, threads = 32, thread_channels = 1> tiles [0, 2]
  spsparse.polykernel.variant @v1 granularity <[2, 2]> schedule <channel_block = 8, reduction_block = 4, threads = 32, thread_channels = 1, split_k = 2>
  %y = spsparse.masked_conv2d %x, %w mask %m {padding = array<i64: 1, 1, 1, 1>}
      : (tensor<2x4x4x16xf32>, tensor<3x3x16x6xf32>, tensor<4x4xi1>) -> tensor<2x4x4x6xf32>
  spsparse.yield %y : tensor<2x4x4x6xf32>
}

// Cout = 6 has no vector width above 2.
spsparse.polykernel @split_free : (tensor<2x4x4x16xf32>, tensor<3x3x16x6xf32>, tensor<4x4xi1>) -> tensor<2x4x4x6xf32> {
^bb0(%x: tensor<2x4x4x16xf32>, %w: tensor<3x3x16x6xf32>, %m: tensor<4x4xi1>):
  spsparse.polykernel.variant @v0 granularity <[2, 2]> schedule <channel_block = 8, reduction_block = 4, threads = 32, thread_channels = 1>
  %y = spsparse.masked_conv2d %x, %w mask %m {padding = array<i64: 1, 1, 1, 1>}
      : (tensor<2x4x4x16xf32>, tensor<3x3x16x6xf32>, tensor<4x4xi1>) -> tensor<2x4x4x6xf32>
  spsparse.yield %y : tensor<2x4x4x6xf32>
}

// -----

// A batch-matmul keeps the zero fill (or writes its zeros standalone).
// CHECK-LABEL: spsparse.polykernel @bmm
// CHECK-NOT: spsparse.fills
// CHECK: spsparse.prologue
spsparse.polykernel @bmm : (tensor<2x16x64xf32>, tensor<2x64x16xf32>, tensor<2x16xi1>) -> tensor<2x16x16xf32> {
^bb0(%a: tensor<2x16x64xf32>, %b: tensor<2x64x16xf32>, %r: tensor<2x16xi1>):
  spsparse.polykernel.variant @v granularity <[16]> schedule <channel_block = 16, reduction_block = 8, threads = 64>
  %y = spsparse.masked_batch_matmul %a, %b row_mask %r
      : (tensor<2x16x64xf32>, tensor<2x64x16xf32>, tensor<2x16xi1>) -> tensor<2x16x16xf32>
  spsparse.yield %y : tensor<2x16x16xf32>
}
