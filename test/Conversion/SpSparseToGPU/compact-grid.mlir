// RUN: dynaspa-opt %s -split-input-file -verify-diagnostics --convert-spsparse-to-gpu="zeros=zero-fill" | FileCheck %s

// `compact = true`: one 1-D grid over this run's (tile group, channel block,
// slice) work items, slice fastest and group slowest, instead of the 3-D
// grid (groups x channel blocks x slices).

// A static split of 2 and 2 channel blocks of 8: 3 groups of a full mask
// x 2 x 2 = 12 blocks in x only. The items are the groups of the active
// tiles x 4; an item's group, channel block and slice come from divisions
// by constants.
// CHECK-LABEL: spsparse.polykernel @static
// CHECK: gpu.func @static_a(
// CHECK-SAME: spsparse.launch = {block = array<i64: 32, 1, 1>, grid = array<i64: 12, 1, 1>}
// CHECK-NOT: gpu.block_id  y
// CHECK-NOT: gpu.block_id  z
// CHECK: %[[GROUPS:.*]] = arith.divui %{{.*}}, %c4
// CHECK: %[[WORK:.*]] = arith.muli %[[GROUPS]], %c4
// CHECK: scf.for %[[W:.*]] = %{{.*}} to %[[WORK]] step %{{.*}} {
// CHECK: %[[G:.*]] = arith.divui %[[W]], %c4
// CHECK: %[[REST:.*]] = arith.remui %[[W]], %c4
// CHECK: %[[CB:.*]] = arith.divui %[[REST]], %c2
// CHECK: %[[SPLIT:.*]] = arith.remui %[[REST]], %c2
// CHECK: %[[CO0:.*]] = arith.muli %[[CB]], %c8
// The group's tiles from the list.
// CHECK: arith.muli %[[G]], %c4
// The slice's channels: 2 chunks of 4.
// CHECK: arith.muli %[[SPLIT]], %c8
// CHECK: arith.cmpi eq, %[[SPLIT]], %c0
// CHECK: arith.addi %[[CO0]],
// CHECK: memref.atomic_rmw addf
// CHECK-NOT: gpu.block_id
spsparse.polykernel @static : (tensor<1x5x5x16xf32>, tensor<3x3x16x16xf32>, tensor<1x5x5xi1>, tensor<16xf32>) -> tensor<1x5x5x16xf32> {
^bb0(%x: tensor<1x5x5x16xf32>, %w: tensor<3x3x16x16xf32>, %m: tensor<1x5x5xi1>, %bias: tensor<16xf32>):
  spsparse.polykernel.variant @a granularity <[2, 2]> schedule <channel_block = 8, reduction_block = 4, threads = 32, thread_channels = 4, tiles_per_block = 4, split_k = 2, compact = true>
  %y = spsparse.masked_conv2d %x, %w mask %m bias %bias {padding = array<i64: 1, 1, 1, 1>}
      : (tensor<1x5x5x16xf32>, tensor<3x3x16x16xf32>, tensor<1x5x5xi1>, tensor<16xf32>) -> tensor<1x5x5x16xf32>
  spsparse.yield %y : tensor<1x5x5x16xf32>
}

// -----

// The adaptive split: the slice count is the kernel's, so the item
// decomposition divides by run-time counts, in 32 bits. The 3-D grid would
// be [max(3, min(ceil(8 / 2), 3 x 4)) = 4, 2, 1]; compact, 8 blocks.
// CHECK-LABEL: spsparse.polykernel @adaptive
// CHECK: gpu.func @adaptive_a(
// CHECK-SAME: spsparse.launch = {block = array<i64: 32, 1, 1>, grid = array<i64: 8, 1, 1>}
// CHECK-NOT: gpu.block_id  y
// CHECK: %[[WANTED:.*]] = arith.minui %{{.*}}, %c4
// CHECK: %[[PER:.*]] = arith.divui %{{.*}}, %[[WANTED]]
// CHECK: %[[SLICES:.*]] = arith.divui %{{.*}}, %[[PER]]
// CHECK: %[[MANY:.*]] = arith.cmpi ugt, %[[SLICES]], %c1
// CHECK: %[[PERGROUP:.*]] = arith.muli %[[SLICES]], %c2
// CHECK: %[[WORK:.*]] = arith.muli %{{.*}}, %[[PERGROUP]]
// CHECK: scf.for %[[W:.*]] = %{{.*}} to %[[WORK]]
// CHECK: %[[PAIRS:.*]] = arith.muli %[[SLICES]], %c2
// CHECK: %[[W32:.*]] = arith.index_castui %[[W]] : index to i32
// CHECK: %[[P32:.*]] = arith.index_castui %[[PAIRS]] : index to i32
// CHECK: arith.divui %[[W32]], %[[P32]] : i32
// CHECK: %[[REST32:.*]] = arith.remui %[[W32]], %[[P32]] : i32
// CHECK: %[[REST:.*]] = arith.index_cast %[[REST32]] : i32 to index
// CHECK: %[[R32:.*]] = arith.index_castui %[[REST]] : index to i32
// CHECK: %[[S32:.*]] = arith.index_castui %[[SLICES]] : index to i32
// CHECK: arith.divui %[[R32]], %[[S32]] : i32
// CHECK: %[[SPLIT32:.*]] = arith.remui %[[R32]], %[[S32]] : i32
// CHECK: %[[SPLIT:.*]] = arith.index_cast %[[SPLIT32]] : i32 to index
// CHECK: arith.cmpi eq, %[[SPLIT]], %c0
// One slice stores; several add atomically.
// CHECK: %[[ONE:.*]] = arith.xori %[[MANY]], %true
// CHECK: scf.if %[[ONE]] {
// CHECK: vector.store
// CHECK: } else {
// CHECK: memref.atomic_rmw addf
spsparse.polykernel @adaptive : (tensor<1x5x5x16xf32>, tensor<3x3x16x16xf32>, tensor<1x5x5xi1>, tensor<16xf32>) -> tensor<1x5x5x16xf32> {
^bb0(%x: tensor<1x5x5x16xf32>, %w: tensor<3x3x16x16xf32>, %m: tensor<1x5x5xi1>, %bias: tensor<16xf32>):
  spsparse.polykernel.variant @a granularity <[2, 2]> schedule <channel_block = 8, reduction_block = 4, threads = 32, thread_channels = 4, tiles_per_block = 4, split_k = 4, min_blocks = 8, compact = true>
  %y = spsparse.masked_conv2d %x, %w mask %m bias %bias {padding = array<i64: 1, 1, 1, 1>}
      : (tensor<1x5x5x16xf32>, tensor<3x3x16x16xf32>, tensor<1x5x5xi1>, tensor<16xf32>) -> tensor<1x5x5x16xf32>
  spsparse.yield %y : tensor<1x5x5x16xf32>
}

// -----

// `blocks` still caps the blocks along the groups: 2 x 2 channel blocks.
// CHECK-LABEL: spsparse.polykernel @capped
// CHECK: gpu.func @capped_a(
// CHECK-SAME: grid = array<i64: 4, 1, 1>
spsparse.polykernel @capped : (tensor<1x5x5x16xf32>, tensor<3x3x16x16xf32>, tensor<1x5x5xi1>) -> tensor<1x5x5x16xf32> {
^bb0(%x: tensor<1x5x5x16xf32>, %w: tensor<3x3x16x16xf32>, %m: tensor<1x5x5xi1>):
  spsparse.polykernel.variant @a granularity <[2, 2]> schedule <channel_block = 8, reduction_block = 4, threads = 32, thread_channels = 4, tiles_per_block = 4, blocks = 2, compact = true>
  %y = spsparse.masked_conv2d %x, %w mask %m {padding = array<i64: 1, 1, 1, 1>}
      : (tensor<1x5x5x16xf32>, tensor<3x3x16x16xf32>, tensor<1x5x5xi1>) -> tensor<1x5x5x16xf32>
  spsparse.yield %y : tensor<1x5x5x16xf32>
}

// -----

spsparse.polykernel @bmm : (tensor<2x16x64xf32>, tensor<2x64x16xf32>, tensor<2x16xi1>) -> tensor<2x16x16xf32> {
^bb0(%a: tensor<2x16x64xf32>, %b: tensor<2x64x16xf32>, %r: tensor<2x16xi1>):
  // expected-remark @+1 {{while lowering this variant}}
  spsparse.polykernel.variant @v granularity <[16]> schedule <channel_block = 16, reduction_block = 8, threads = 64, compact = true>
  // expected-error @+1 {{compact (a 1-D grid of work items) is implemented for convolutions only}}
  %y = spsparse.masked_batch_matmul %a, %b row_mask %r
      : (tensor<2x16x64xf32>, tensor<2x64x16xf32>, tensor<2x16xi1>) -> tensor<2x16x16xf32>
  spsparse.yield %y : tensor<2x16x16xf32>
}

// -----

// A compact grid decodes its items with 32-bit divisions: 900M pixel tiles
// x 2 channel blocks x 2 slices are too many.
spsparse.polykernel @huge : (tensor<1x30000x30000x8xf32>, tensor<1x1x8x64xf32>, tensor<1x30000x30000xi1>) -> tensor<1x30000x30000x64xf32> {
^bb0(%x: tensor<1x30000x30000x8xf32>, %w: tensor<1x1x8x64xf32>, %m: tensor<1x30000x30000xi1>):
  // expected-remark @+1 {{while lowering this variant}}
  spsparse.polykernel.variant @a granularity <[1, 1]> schedule <channel_block = 32, reduction_block = 4, threads = 32, thread_channels = 1, split_k = 2, compact = true>
  // expected-error @+1 {{compact: 900000000 tile groups x 2 channel blocks x 2 slices are more work items than 32 bits count}}
  %y = spsparse.masked_conv2d %x, %w mask %m
      : (tensor<1x30000x30000x8xf32>, tensor<1x1x8x64xf32>, tensor<1x30000x30000xi1>) -> tensor<1x30000x30000x64xf32>
  spsparse.yield %y : tensor<1x30000x30000x64xf32>
}
