// RUN: dynaspa-opt %s -split-input-file -verify-diagnostics --convert-spsparse-to-gpu="zeros=zero-fill" | FileCheck %s

// The kernel templates with the output zero-filled before the op (fill
// kernels: fill-kernels.mlir; the variants writing the zeros themselves:
// variant-zeros.mlir).

// Two variants at two granularities: one tile-list kernel builds both lists
// (its grid is the two lists' grids side by side), one kernel per variant;
// the fallback's kernel also reads the first variant's count (device-side
// dispatch).
// CHECK-LABEL: spsparse.polykernel @pk
// CHECK-SAME: spsparse.prologue = [@pk_kernels::@pk_tiles]
// CHECK: variant @a granularity <[2, 2]> {{.*}} tiles [0, 4] kernel @pk_kernels::@pk_a
// CHECK: variant @b granularity <[4, 4]> {{.*}} kernel @pk_kernels::@pk_b
// CHECK: gpu.module @pk_kernels {
// CHECK: gpu.func @pk_tiles(%{{.*}}: memref<25xi8>, %{{.*}}: memref<9xi32>, %{{.*}}: memref<3xi32>, %{{.*}}: memref<4xi32>, %{{.*}}: memref<3xi32>) workgroup(%[[SCAN:.*]] : memref<257xi32, 3>) kernel
// CHECK-SAME: spsparse.args = ["mask", "tiles:2x2", "count:2x2", "tiles:4x4", "count:4x4"]
// CHECK-SAME: spsparse.launch = {block = array<i64: 256, 1, 1>, grid = array<i64: 2, 1, 1>}
// Block 0 builds the 2x2 list, block 1 the 4x4 one, each with the
// block-wide scan: log2(256) = 8 steps.
// CHECK: %[[BLOCK:.*]] = gpu.block_id  x
// CHECK: arith.cmpi uge, %[[BLOCK]], %c0
// CHECK: arith.cmpi ult, %[[BLOCK]], %c1
// CHECK: scf.if
// CHECK-COUNT-8: arith.addi %{{.*}}, %{{.*}} : i32
// CHECK: arith.cmpi uge, %[[BLOCK]], %c1
// CHECK: arith.cmpi ult, %[[BLOCK]], %c2
// CHECK: scf.if
// CHECK-COUNT-8: arith.addi %{{.*}}, %{{.*}} : i32
// Staged input window (2x2 tile + 3x3 halo = 4x4, 4 channels), filter
// block (3x3x4x8) and the decoded tile (5 fields) in workgroup memory.
// CHECK: gpu.func @pk_a(%{{.*}}: memref<200xf32>, %{{.*}}: memref<576xf32>, %{{.*}}: memref<25xi8>, %{{.*}}: memref<200xf32>, %{{.*}}: memref<9xi32>, %{{.*}}: memref<3xi32>) workgroup(%{{.*}} : memref<64xf32, 3>, %{{.*}} : memref<288xf32, 3>, %{{.*}} : memref<5xi32, 3>) kernel
// CHECK-SAME: known_block_size = array<i32: 32, 1, 1>
// CHECK-SAME: spsparse.args = ["input", "filter", "mask", "output", "tiles:2x2", "count:2x2"]
// One block per group of its range [0, 4], not of the 9 tiles of the list.
// CHECK-SAME: spsparse.launch = {block = array<i64: 32, 1, 1>, grid = array<i64: 4, 1, 1>}
// CHECK: gpu.barrier
// CHECK: gpu.func @pk_b({{.*}}%{{.*}}: memref<4xi32>, %{{.*}}: memref<3xi32>, %{{.*}}: memref<3xi32>) workgroup(%{{.*}} : memref<288xf32, 3>, %{{.*}} : memref<576xf32, 3>, %{{.*}} : memref<5xi32, 3>) kernel
// CHECK-SAME: spsparse.args = ["input", "filter", "mask", "output", "tiles:4x4", "count:4x4", "count:2x2"]
// Vector loads of 4 channels when staging.
// CHECK: vector.load %{{.*}} : memref<200xf32>, vector<4xf32>
// Filters read from workgroup memory as runs of 2 channels.
// CHECK: vector.load %{{.*}} : memref<576xf32, 3>, vector<2xf32>
// CHECK: vector.store %{{.*}} : memref<200xf32>, vector<2xf32>
spsparse.polykernel @pk : (tensor<1x5x5x8xf32>, tensor<3x3x8x8xf32>, tensor<1x5x5xi1>) -> tensor<1x5x5x8xf32> {
^bb0(%x: tensor<1x5x5x8xf32>, %w: tensor<3x3x8x8xf32>, %m: tensor<1x5x5xi1>):
  spsparse.polykernel.variant @a granularity <[2, 2]> schedule <channel_block = 8, reduction_block = 4, threads = 32, thread_channels = 1> tiles [0, 4]
  spsparse.polykernel.variant @b granularity <[4, 4]> schedule <channel_block = 8, threads = 32, thread_channels = 2, thread_pixels = 2, vector_width = 4>
  %y = spsparse.masked_conv2d %x, %w mask %m {padding = array<i64: 1, 1, 1, 1>}
      : (tensor<1x5x5x8xf32>, tensor<3x3x8x8xf32>, tensor<1x5x5xi1>) -> tensor<1x5x5x8xf32>
  spsparse.yield %y : tensor<1x5x5x8xf32>
}

// -----

// A cover's two granularities get tile lists (here 2x2 only for the cover)
// and every kernel that tests it reads both counts: of * 100 * |of| against
// over * |over| * percent, no division. The fallback negates the first
// variant's whole test (range and cover).
// CHECK-LABEL: spsparse.polykernel @covered
// CHECK-SAME: spsparse.prologue = [@covered_kernels::@covered_tiles]
// CHECK: gpu.func @covered_tiles(
// CHECK-SAME: spsparse.args = ["mask", "tiles:1x1", "count:1x1", "tiles:2x2", "count:2x2", "tiles:4x4", "count:4x4"]
// CHECK: gpu.func @covered_scattered(
// CHECK-SAME: spsparse.args = ["input", "filter", "mask", "output", "tiles:1x1", "count:1x1", "count:2x2"]
// The range on its own count (argument 5), then the cover: 2x2 tiles
// (argument 6) x 4 positions x 100 >= 130 x 1x1 tiles.
// CHECK: %[[OWN:.*]] = memref.load %arg5[%{{.*}}] : memref<3xi32>
// CHECK: %[[COUNT:.*]] = arith.index_cast %[[OWN]]
// CHECK: %[[N1:.*]] = memref.load %arg5[%{{.*}}] : memref<3xi32>
// CHECK: %[[C1:.*]] = arith.index_cast %[[N1]]
// CHECK: %[[GE:.*]] = arith.cmpi sge, %[[C1]], %c0
// CHECK: %[[LE:.*]] = arith.cmpi sle, %[[C1]], %c20
// CHECK: %[[RANGE:.*]] = arith.andi %[[GE]], %[[LE]]
// CHECK: %[[N2:.*]] = memref.load %arg6[%{{.*}}] : memref<3xi32>
// CHECK: %[[C2:.*]] = arith.index_cast %[[N2]]
// CHECK: %[[OF:.*]] = arith.muli %[[C2]], %c400
// CHECK: %[[N1B:.*]] = memref.load %arg5[%{{.*}}] : memref<3xi32>
// CHECK: %[[C1B:.*]] = arith.index_cast %[[N1B]]
// CHECK: %[[LO:.*]] = arith.muli %[[C1B]], %c130
// CHECK: %[[COVER:.*]] = arith.cmpi sge, %[[OF]], %[[LO]]
// CHECK: %[[PICKED:.*]] = arith.andi %[[RANGE]], %[[COVER]]
// CHECK-NOT: arith.xori
// CHECK: arith.select %[[PICKED]], %[[COUNT]]
// CHECK: gpu.func @covered_rest(
// CHECK-SAME: spsparse.args = ["input", "filter", "mask", "output", "tiles:4x4", "count:4x4", "count:1x1", "count:2x2"]
// CHECK: memref.load %arg6
// CHECK: memref.load %arg7
// CHECK: arith.muli %{{.*}}, %c400
// CHECK: arith.muli %{{.*}}, %c130
// CHECK: %[[COVER2:.*]] = arith.cmpi sge
// CHECK: %[[TEST:.*]] = arith.andi %{{.*}}, %[[COVER2]]
// CHECK: arith.xori %[[TEST]], %true
spsparse.polykernel @covered : (tensor<1x5x5x8xf32>, tensor<3x3x8x8xf32>, tensor<1x5x5xi1>) -> tensor<1x5x5x8xf32> {
^bb0(%x: tensor<1x5x5x8xf32>, %w: tensor<3x3x8x8xf32>, %m: tensor<1x5x5xi1>):
  spsparse.polykernel.variant @scattered granularity <[1, 1]> schedule <channel_block = 8, reduction_block = 4, threads = 32, thread_channels = 1, tiles_per_block = 4> tiles [0, 20] cover <[2, 2] over [1, 1] in [130, -1]>
  spsparse.polykernel.variant @rest granularity <[4, 4]> schedule <channel_block = 8, threads = 32, thread_channels = 2, thread_pixels = 2, vector_width = 4>
  %y = spsparse.masked_conv2d %x, %w mask %m {padding = array<i64: 1, 1, 1, 1>}
      : (tensor<1x5x5x8xf32>, tensor<3x3x8x8xf32>, tensor<1x5x5xi1>) -> tensor<1x5x5x8xf32>
  spsparse.yield %y : tensor<1x5x5x8xf32>
}

// -----

// A tile space larger than one block (20x20 = 400 tiles of 2x2): two blocks,
// each claiming a range of the list with one atomic add, and the last block to
// finish publishing the count (slot 0) and resetting both counters (slots 1
// and 2) for the next run. The mask row of each tile is read unrolled.
// CHECK-LABEL: gpu.func @multi_tiles_2x2(
// CHECK-SAME: %[[MASK:.*]]: memref<1600xi8>, %[[TILES:.*]]: memref<400xi32>, %[[COUNT:.*]]: memref<3xi32>) workgroup(%[[SCAN:.*]] : memref<257xi32, 3>) kernel
// CHECK-SAME: spsparse.launch = {block = array<i64: 256, 1, 1>, grid = array<i64: 2, 1, 1>}
// CHECK: %[[BID:.*]] = gpu.block_id x
// CHECK: scf.for
// CHECK-COUNT-2: memref.load %[[MASK]]
// CHECK: %[[BASE:.*]] = memref.atomic_rmw addi %{{.*}}, %[[COUNT]][%c1{{(_[0-9]+)?}}] : (i32, memref<3xi32>) -> i32
// CHECK: memref.store %[[BASE]], %[[SCAN]][%c256{{(_[0-9]+)?}}]
// CHECK: gpu.barrier
// CHECK: memref.store %{{.*}}, %[[TILES]]
// CHECK: %[[DONE:.*]] = memref.atomic_rmw addi %{{.*}}, %[[COUNT]][%c2{{(_[0-9]+)?}}]
// CHECK: %[[LAST:.*]] = arith.cmpi eq, %[[DONE]], %c1_i32{{(_[0-9]+)?}}
// CHECK: scf.if %[[LAST]]
// CHECK: %[[TOTAL:.*]] = memref.atomic_rmw addi %c0_i32{{(_[0-9]+)?}}, %[[COUNT]][%c1{{(_[0-9]+)?}}]
// CHECK: memref.store %[[TOTAL]], %[[COUNT]][%c0{{(_[0-9]+)?}}]
// CHECK: memref.store %c0_i32{{(_[0-9]+)?}}, %[[COUNT]][%c1{{(_[0-9]+)?}}]
// CHECK: memref.store %c0_i32{{(_[0-9]+)?}}, %[[COUNT]][%c2{{(_[0-9]+)?}}]
spsparse.polykernel @multi : (tensor<1x40x40x8xf32>, tensor<3x3x8x8xf32>, tensor<1x40x40xi1>) -> tensor<1x40x40x8xf32> {
^bb0(%x: tensor<1x40x40x8xf32>, %w: tensor<3x3x8x8xf32>, %m: tensor<1x40x40xi1>):
  spsparse.polykernel.variant @a granularity <[2, 2]> schedule <channel_block = 8, reduction_block = 4, threads = 32, thread_channels = 1>
  %y = spsparse.masked_conv2d %x, %w mask %m {padding = array<i64: 1, 1, 1, 1>}
      : (tensor<1x40x40x8xf32>, tensor<3x3x8x8xf32>, tensor<1x40x40xi1>) -> tensor<1x40x40x8xf32>
  spsparse.yield %y : tensor<1x40x40x8xf32>
}

// -----

// A schedule whose threads do not cover the tile is rejected with the count
// that would.
spsparse.polykernel @pk : (tensor<1x5x5x8xf32>, tensor<3x3x8x8xf32>, tensor<1x5x5xi1>) -> tensor<1x5x5x8xf32> {
^bb0(%x: tensor<1x5x5x8xf32>, %w: tensor<3x3x8x8xf32>, %m: tensor<1x5x5xi1>):
  // expected-remark @+1 {{while lowering this variant}}
  spsparse.polykernel.variant @a granularity <[2, 2]> schedule <channel_block = 8, threads = 64>
  // expected-error @+1 {{threads must be (channel_block / thread_channels) * (tiles_per_block * pixels / thread_pixels) = 8}}
  %y = spsparse.masked_conv2d %x, %w mask %m {padding = array<i64: 1, 1, 1, 1>}
      : (tensor<1x5x5x8xf32>, tensor<3x3x8x8xf32>, tensor<1x5x5xi1>) -> tensor<1x5x5x8xf32>
  spsparse.yield %y : tensor<1x5x5x8xf32>
}

// -----

// Several tiles per block and a split reduction: 4 tiles of 2x2 share each
// staged filter block; blockIdx.z takes half of the 16 input channels and
// adds its partial sums atomically, the first half adding the bias.
// CHECK-LABEL: spsparse.polykernel @grouped
// CHECK: gpu.func @grouped_a(
// CHECK-SAME: workgroup(%{{.*}} : memref<256xf32, 3>, %{{.*}} : memref<576xf32, 3>, %[[TILES:.*]] : memref<20xi32, 3>) kernel
// CHECK-SAME: spsparse.args = ["input", "filter", "mask", "bias", "output", "tiles:2x2", "count:2x2"]
// CHECK-SAME: spsparse.launch = {block = array<i64: 64, 1, 1>, grid = array<i64: 3, 1, 2>}
// CHECK: %[[SPLIT:.*]] = gpu.block_id  z
// CHECK: scf.for
// Threads 0..3 decode the group's four tiles once.
// CHECK: scf.if
// CHECK: memref.store %{{.*}}, %[[TILES]]
// CHECK: %[[LO:.*]] = arith.muli %[[SPLIT]], %c8
// CHECK: scf.for %{{.*}} = %[[LO]]
// CHECK: vector.load %{{.*}} : memref<576xf32, 3>, vector<4xf32>
// CHECK: arith.cmpi eq, %[[SPLIT]], %c0
// CHECK: memref.atomic_rmw addf
// CHECK-NOT: vector.store {{.*}}memref<400xf32>
spsparse.polykernel @grouped : (tensor<1x5x5x16xf32>, tensor<3x3x16x16xf32>, tensor<1x5x5xi1>, tensor<16xf32>) -> tensor<1x5x5x16xf32> {
^bb0(%x: tensor<1x5x5x16xf32>, %w: tensor<3x3x16x16xf32>, %m: tensor<1x5x5xi1>, %bias: tensor<16xf32>):
  spsparse.polykernel.variant @a granularity <[2, 2]> schedule <channel_block = 16, reduction_block = 4, threads = 64, thread_channels = 4, tiles_per_block = 4, split_k = 2>
  %y = spsparse.masked_conv2d %x, %w mask %m bias %bias {padding = array<i64: 1, 1, 1, 1>}
      : (tensor<1x5x5x16xf32>, tensor<3x3x16x16xf32>, tensor<1x5x5xi1>, tensor<16xf32>) -> tensor<1x5x5x16xf32>
  spsparse.yield %y : tensor<1x5x5x16xf32>
}

// -----

// The adaptive split: with min_blocks the kernel picks the slice count from
// the active tiles (at most split_k = 4 slices of the 4 chunks), so the
// launch has no z extent; 3 groups of a full mask, min_blocks = 8 and one
// channel block give 8 blocks that walk (group, slice) pairs.
// CHECK-LABEL: spsparse.polykernel @adaptive
// CHECK: gpu.func @adaptive_a(
// CHECK-SAME: spsparse.launch = {block = array<i64: 64, 1, 1>, grid = array<i64: 8, 1, 1>}
// CHECK-NOT: gpu.block_id  z
// The slices: min(ceil(8 / (max(groups, 1) * 1)), 4).
// CHECK: %[[GROUPS:.*]] = arith.maxui %{{.*}}, %c1
// CHECK: %[[WANT:.*]] = arith.divui %{{.*}}, %[[GROUPS]]
// CHECK: %[[WANTED:.*]] = arith.minui %[[WANT]], %c4
// CHECK: %[[PER:.*]] = arith.divui %{{.*}}, %[[WANTED]]
// Only slices with chunks: ceil(4 / per).
// CHECK: %[[SLICES:.*]] = arith.divui %{{.*}}, %[[PER]]
// CHECK: %[[WORK:.*]] = arith.muli %{{.*}}, %[[SLICES]]
// CHECK: %[[MANY:.*]] = arith.cmpi ugt, %[[SLICES]], %c1
// CHECK: scf.for %[[W:.*]] = %{{.*}} to %[[WORK]]
// CHECK: %[[SPLIT:.*]] = arith.remui %[[W]], %[[SLICES]]
// CHECK: arith.divui %[[W]], %[[SLICES]]
// CHECK: %[[WIDTH:.*]] = arith.muli %[[PER]], %c4
// CHECK: arith.muli %[[SPLIT]], %[[WIDTH]]
// CHECK: arith.cmpi eq, %[[SPLIT]], %c0
// One slice stores; several add atomically.
// CHECK: %[[ONE:.*]] = arith.xori %[[MANY]], %true
// CHECK: scf.if %[[ONE]] {
// CHECK: vector.store
// CHECK: } else {
// CHECK: memref.atomic_rmw addf
// CHECK-NOT: gpu.block_id  z
spsparse.polykernel @adaptive : (tensor<1x5x5x16xf32>, tensor<3x3x16x16xf32>, tensor<1x5x5xi1>, tensor<16xf32>) -> tensor<1x5x5x16xf32> {
^bb0(%x: tensor<1x5x5x16xf32>, %w: tensor<3x3x16x16xf32>, %m: tensor<1x5x5xi1>, %bias: tensor<16xf32>):
  spsparse.polykernel.variant @a granularity <[2, 2]> schedule <channel_block = 16, reduction_block = 4, threads = 64, thread_channels = 4, tiles_per_block = 4, split_k = 4, min_blocks = 8>
  %y = spsparse.masked_conv2d %x, %w mask %m bias %bias {padding = array<i64: 1, 1, 1, 1>}
      : (tensor<1x5x5x16xf32>, tensor<3x3x16x16xf32>, tensor<1x5x5xi1>, tensor<16xf32>) -> tensor<1x5x5x16xf32>
  spsparse.yield %y : tensor<1x5x5x16xf32>
}

// -----

spsparse.polykernel @pk : (tensor<1x5x5x8xf32>, tensor<3x3x8x8xf32>, tensor<1x5x5xi1>) -> tensor<1x5x5x8xf32> {
^bb0(%x: tensor<1x5x5x8xf32>, %w: tensor<3x3x8x8xf32>, %m: tensor<1x5x5xi1>):
  // expected-remark @+1 {{while lowering this variant}}
  spsparse.polykernel.variant @a granularity <[2, 2]> schedule <channel_block = 8, reduction_block = 4, threads = 32, thread_channels = 1, split_k = 3>
  // expected-error @+1 {{split_k must not exceed the 2 reduction blocks of Cin}}
  %y = spsparse.masked_conv2d %x, %w mask %m {padding = array<i64: 1, 1, 1, 1>}
      : (tensor<1x5x5x8xf32>, tensor<3x3x8x8xf32>, tensor<1x5x5xi1>) -> tensor<1x5x5x8xf32>
  spsparse.yield %y : tensor<1x5x5x8xf32>
}

// -----

spsparse.polykernel @pk : (tensor<1x5x5x8xf32>, tensor<3x3x8x8xf32>, tensor<1x5x5xi1>) -> tensor<1x5x5x8xf32> {
^bb0(%x: tensor<1x5x5x8xf32>, %w: tensor<3x3x8x8xf32>, %m: tensor<1x5x5xi1>):
  // expected-remark @+1 {{while lowering this variant}}
  spsparse.polykernel.variant @a granularity <[1, 1]> schedule <channel_block = 8, threads = 32, thread_channels = 8, tiles_per_block = 64, thread_pixels = 2>
  // expected-error @+1 {{tiles_per_block must not exceed threads}}
  %y = spsparse.masked_conv2d %x, %w mask %m {padding = array<i64: 1, 1, 1, 1>}
      : (tensor<1x5x5x8xf32>, tensor<3x3x8x8xf32>, tensor<1x5x5xi1>) -> tensor<1x5x5x8xf32>
  spsparse.yield %y : tensor<1x5x5x8xf32>
}

// -----

spsparse.polykernel @pk : (tensor<1x8x5x5xf32>, tensor<8x8x3x3xf32>, tensor<1x5x5xi1>) -> tensor<1x8x5x5xf32> {
^bb0(%x: tensor<1x8x5x5xf32>, %w: tensor<8x8x3x3xf32>, %m: tensor<1x5x5xi1>):
  // expected-remark @+1 {{while lowering this variant}}
  spsparse.polykernel.variant @a granularity <[4, 4]> schedule <>
  // expected-error @+1 {{the GPU lowering handles NHWC/HWCF convolutions only}}
  %y = spsparse.masked_conv2d %x, %w mask %m {padding = array<i64: 1, 1, 1, 1>, layout = #spsparse.layout<nchw>}
      : (tensor<1x8x5x5xf32>, tensor<8x8x3x3xf32>, tensor<1x5x5xi1>) -> tensor<1x8x5x5xf32>
  spsparse.yield %y : tensor<1x8x5x5xf32>
}

