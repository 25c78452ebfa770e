// RUN: dynaspa-opt %s -split-input-file --convert-spsparse-to-gpu="zeros=variants" | FileCheck %s
// RUN: not dynaspa-opt %s -split-input-file --convert-spsparse-to-gpu="zeros=memset" 2>&1 | FileCheck %s --check-prefix=BAD

// BAD: error: zeros must be 'auto', 'variants', 'fill-kernel' or 'zero-fill', not 'memset'

// With zeros=variants the variant that runs writes the zeros of the
// masked-off pixels itself: no fill kernel, no zero fill (writes_zeros). The
// first blocks of its grid (7 here: one per step of 8 of the 50 pixels, at
// most zero-blocks) each zero a run of pixels in every channel with the
// fill's loop (8 mask loads, then the stores), while the 18 blocks after
// them walk the tile groups.
// CHECK-LABEL: spsparse.polykernel @conv
// CHECK-NOT: spsparse.fills
// CHECK-LABEL: gpu.func @conv_v(
// CHECK-SAME: %[[MASK:[^:]*]]: memref<50xi8>, %[[OUT:[^:]*]]: memref<400xf32>, %{{.*}}: memref<18xi32>, %[[COUNT:[^:]*]]: memref<3xi32>)
// CHECK-SAME: spsparse.args = ["input", "filter", "mask", "output", "tiles:2x2", "count:2x2"]
// CHECK-SAME: grid = array<i64: 25, 1, 1>
// CHECK-SAME: spsparse.writes_zeros
// CHECK: %[[N:.*]] = memref.load %[[COUNT]]
// CHECK: %[[WORK:.*]] = arith.index_cast %[[N]]
// CHECK: %[[BX:.*]] = gpu.block_id x
// CHECK: %[[GX:.*]] = gpu.grid_dim x
// CHECK: %[[ZBX:.*]] = gpu.block_id x
// CHECK: %[[ZB:.*]] = arith.cmpi ult, %[[ZBX]], %c7
// CHECK: %[[MINE:.*]] = arith.andi %true, %[[ZB]]
// CHECK-NOT: gpu.block_id
// CHECK: scf.if %[[MINE]] {
// CHECK: %[[START:.*]] = arith.muli %[[ZBX]], %c8
// CHECK: %[[LO:.*]] = arith.minui %[[START]], %c50
// CHECK: %[[END:.*]] = arith.addi %[[LO]], %c8
// CHECK: %[[HI:.*]] = arith.minui %[[END]], %c50
// CHECK: scf.for
// CHECK-COUNT-8: memref.load %[[MASK]]
// CHECK: arith.cmpi ult, %{{.*}}, %[[HI]]
// CHECK: vector.store %{{.*}}, %[[OUT]]{{.*}} : memref<400xf32>, vector<4xf32>
// The zero blocks skip the work loop; the others start after them.
// CHECK: %[[ZEROING:.*]] = arith.cmpi ult, %[[BX]], %c7
// CHECK: %[[AFTER:.*]] = arith.subi %[[BX]], %c7
// CHECK: %[[FIRST:.*]] = arith.select %[[ZEROING]], %[[WORK]], %[[AFTER]]
// CHECK: %[[STRIDE:.*]] = arith.subi %[[GX]], %c7
// CHECK: scf.for %{{.*}} = %[[FIRST]] to %[[WORK]] step %[[STRIDE]]
// CHECK-NOT: memref.atomic_rmw
// CHECK: gpu.return
spsparse.polykernel @conv : (tensor<2x5x5x8xf32>, tensor<3x3x8x8xf32>, tensor<2x5x5xi1>) -> tensor<2x5x5x8xf32> {
^bb0(%x: tensor<2x5x5x8xf32>, %w: tensor<3x3x8x8xf32>, %m: tensor<2x5x5xi1>):
  spsparse.polykernel.variant @v granularity <[2, 2]> schedule <channel_block = 8, reduction_block = 4, threads = 32, thread_channels = 1>
  %y = spsparse.masked_conv2d %x, %w mask %m {padding = array<i64: 1, 1, 1, 1>}
      : (tensor<2x5x5x8xf32>, tensor<3x3x8x8xf32>, tensor<2x5x5xi1>) -> tensor<2x5x5x8xf32>
  spsparse.yield %y : tensor<2x5x5x8xf32>
}

// -----

// A static split: only the zero blocks of the first slice (blockIdx.z = 0)
// zero, 4 of them for the 32 pixels. The slices of a tile group meet at its counter in "arrivals:<kernel>" (one i32
// per group of the 8 and channel block): the first to arrive stores its
// sums, the others spin (an atomic read) until its stored bit (4096) is set,
// fence, then add theirs atomically. After the writes each slice marks itself
// done (65536, plus the stored bit for the first), after a fence; the last
// of the 2 resets the counter.
// CHECK-LABEL: gpu.func @split_v(
// CHECK-SAME: %[[OUT:[^:]*]]: memref<192xf32>, %{{[^:]*}}: memref<8xi32>, %{{[^:]*}}: memref<3xi32>, %[[ARR:[^:]*]]: memref<8xi32>)
// CHECK-SAME: workgroup(%{{.*}}, %{{.*}}, %[[TILE:[^:]*]] : memref<6xi32, 3>)
// CHECK-SAME: spsparse.args = ["input", "filter", "mask", "output", "tiles:2x2", "count:2x2", "arrivals:split_v"]
// CHECK-SAME: grid = array<i64: 12, 1, 2>
// CHECK-SAME: spsparse.writes_zeros
// CHECK: %[[BY:.*]] = gpu.block_id y
// CHECK: gpu.grid_dim x
// CHECK: arith.cmpi ult, %{{.*}}, %c4
// CHECK-NOT: gpu.block_id y
// CHECK: %[[Z:.*]] = gpu.block_id z
// CHECK: %[[FIRSTZ:.*]] = arith.cmpi eq, %[[Z]], %c0
// CHECK: %[[MINE:.*]] = arith.andi %{{.*}}, %[[FIRSTZ]]
// CHECK: scf.if %[[MINE]] {
// CHECK: vector.store %{{.*}}, %[[OUT]]{{.*}} : memref<192xf32>, vector<2xf32>
// CHECK: %[[FIRST:.*]] = arith.select
// CHECK: scf.for %[[GROUP:[^ ]*]] = %[[FIRST]] to
// CHECK: %[[SLOT:.*]] = arith.addi %[[GROUP]], %[[BY]]
// CHECK: %[[OLD:.*]] = memref.atomic_rmw addi %c1_i32, %[[ARR]][%[[SLOT]]]
// CHECK: %[[ARRIVED:.*]] = arith.andi %[[OLD]], %c4095_i32
// CHECK: %[[FIRST:.*]] = arith.cmpi eq, %[[ARRIVED]], %c0_i32
// CHECK: %[[LATER:.*]] = arith.xori %[[FIRST]], %true
// CHECK: scf.if %[[LATER]] {
// CHECK: scf.while
// CHECK: %[[NOW:.*]] = memref.atomic_rmw ori %c0_i32{{.*}}, %[[ARR]][%[[SLOT]]]
// CHECK: %[[STORED:.*]] = arith.andi %[[NOW]], %c4096_i32
// CHECK: %[[WAIT:.*]] = arith.cmpi eq, %[[STORED]], %c0_i32
// CHECK: scf.condition(%[[WAIT]])
// CHECK: llvm.fence syncscope("device") acq_rel
// CHECK: scf.yield %[[FIRST]]
// CHECK: memref.store %{{.*}}, %[[TILE]][%c5{{.*}}]
// CHECK: gpu.barrier
// CHECK: %[[FLAG:.*]] = memref.load %[[TILE]][%c5{{.*}}]
// CHECK: %[[STORES:.*]] = arith.cmpi ne, %[[FLAG]], %c0_i32
// CHECK: scf.if %[[STORES]] {
// CHECK: memref.store %{{.*}}, %[[OUT]]
// CHECK: } else {
// CHECK: memref.atomic_rmw addf %{{.*}}, %[[OUT]]
// CHECK: gpu.barrier
// CHECK: llvm.fence syncscope("device") acq_rel
// CHECK: %[[STEP:.*]] = arith.select %[[STORES]], %c69632_i32, %c65536_i32
// CHECK: %[[BEFORE:.*]] = memref.atomic_rmw addi %[[STEP]], %[[ARR]][%[[SLOT]]]
// CHECK: %[[DONE:.*]] = arith.shrui %[[BEFORE]], %c16_i32
// CHECK: %[[D:.*]] = arith.index_cast %[[DONE]]
// CHECK: %[[D1:.*]] = arith.addi %[[D]], %c1
// CHECK: %[[LAST:.*]] = arith.cmpi eq, %[[D1]], %c2
// CHECK: scf.if %[[LAST]] {
// CHECK: memref.atomic_rmw assign %c0_i32{{.*}}, %[[ARR]][%[[SLOT]]]
spsparse.polykernel @split : (tensor<2x4x4x16xf32>, tensor<3x3x16x6xf32>, tensor<4x4xi1>) -> tensor<2x4x4x6xf32> {
^bb0(%x: tensor<2x4x4x16xf32>, %w: tensor<3x3x16x6xf32>, %m: tensor<4x4xi1>):
  spsparse.polykernel.variant @v granularity <[2, 2]> schedule <channel_block = 8, reduction_block = 4, threads = 32, thread_channels = 1, split_k = 2>
  %y = spsparse.masked_conv2d %x, %w mask %m {padding = array<i64: 1, 1, 1, 1>}
      : (tensor<2x4x4x16xf32>, tensor<3x3x16x6xf32>, tensor<4x4xi1>) -> tensor<2x4x4x6xf32>
  spsparse.yield %y : tensor<2x4x4x6xf32>
}

// -----

// An adaptive split (min_blocks) meets only when the run splits (more than
// one slice); a lone slice stores. The grid is 4 zero blocks (blockIdx.z is
// always 0, so not tested), then the (group, slice) pairs min_blocks needs:
// 16.
// CHECK-LABEL: gpu.func @adaptive_v(
// CHECK-SAME: "arrivals:adaptive_v"
// CHECK-SAME: grid = array<i64: 20, 1, 1>
// CHECK: %[[MANY:.*]] = arith.cmpi ugt, %{{.*}}, %c1
// CHECK-NOT: gpu.block_id z
// CHECK: scf.for
// CHECK: %[[STORES:.*]] = scf.if %[[MANY]] -> (i1) {
// CHECK: memref.atomic_rmw addi %c1_i32
// CHECK: } else {
// CHECK: scf.yield %true
// CHECK: %[[LEADER:.*]] = arith.andi %[[MANY]], %{{.*}}
// CHECK: scf.if %[[LEADER]] {
// CHECK: memref.atomic_rmw addi
spsparse.polykernel @adaptive : (tensor<2x4x4x16xf32>, tensor<3x3x16x6xf32>, tensor<4x4xi1>) -> tensor<2x4x4x6xf32> {
^bb0(%x: tensor<2x4x4x16xf32>, %w: tensor<3x3x16x6xf32>, %m: tensor<4x4xi1>):
  spsparse.polykernel.variant @v granularity <[2, 2]> schedule <channel_block = 8, reduction_block = 4, threads = 32, thread_channels = 1, split_k = 4, min_blocks = 16>
  %y = spsparse.masked_conv2d %x, %w mask %m {padding = array<i64: 1, 1, 1, 1>}
      : (tensor<2x4x4x16xf32>, tensor<3x3x16x6xf32>, tensor<4x4xi1>) -> tensor<2x4x4x6xf32>
  spsparse.yield %y : tensor<2x4x4x6xf32>
}

// -----

// A compact grid (split_k = 2 and 2 channel blocks: 8 groups x 4 items,
// after 4 zero blocks): the zero blocks write all 16 channels of their
// pixels, and a group's slices meet at the slot of the item's (group,
// channel block).
// CHECK-LABEL: gpu.func @compact_v(
// CHECK-SAME: %[[OUT:[^:]*]]: memref<512xf32>, %{{[^:]*}}: memref<8xi32>, %{{[^:]*}}: memref<3xi32>, %[[ARR:[^:]*]]: memref<16xi32>)
// CHECK-SAME: "arrivals:compact_v"
// CHECK-SAME: grid = array<i64: 36, 1, 1>
// CHECK-NOT: gpu.block_id y
// CHECK-NOT: gpu.block_id z
// CHECK: scf.if
// A masked-off pixel's 16 channels: 4 vectors of 4.
// CHECK: scf.for %{{.*}} = %{{.*}} to %c4{{.*}} step %c32
// CHECK: vector.store %{{.*}}, %[[OUT]]{{.*}} : memref<512xf32>, vector<4xf32>
// CHECK: %[[FIRST:.*]] = arith.select
// CHECK: scf.for %[[W:[^ ]*]] = %[[FIRST]] to
// CHECK: %[[G:.*]] = arith.divui %[[W]], %c4
// CHECK: %[[REST:.*]] = arith.remui %[[W]], %c4
// CHECK: %[[CB:.*]] = arith.divui %[[REST]], %c2
// CHECK: %[[GC:.*]] = arith.muli %[[G]], %c2
// CHECK: %[[SLOT:.*]] = arith.addi %[[GC]], %[[CB]]
// CHECK: memref.atomic_rmw addi %c1_i32, %[[ARR]][%[[SLOT]]]
// CHECK-NOT: gpu.block_id
spsparse.polykernel @compact : (tensor<2x4x4x16xf32>, tensor<3x3x16x16xf32>, tensor<4x4xi1>) -> tensor<2x4x4x16xf32> {
^bb0(%x: tensor<2x4x4x16xf32>, %w: tensor<3x3x16x16xf32>, %m: tensor<4x4xi1>):
  spsparse.polykernel.variant @v granularity <[2, 2]> schedule <channel_block = 8, reduction_block = 4, threads = 32, thread_channels = 1, split_k = 2, compact = true>
  %y = spsparse.masked_conv2d %x, %w mask %m {padding = array<i64: 1, 1, 1, 1>}
      : (tensor<2x4x4x16xf32>, tensor<3x3x16x16xf32>, tensor<4x4xi1>) -> tensor<2x4x4x16xf32>
  spsparse.yield %y : tensor<2x4x4x16xf32>
}
