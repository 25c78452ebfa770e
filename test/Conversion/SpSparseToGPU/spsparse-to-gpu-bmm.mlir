// RUN: dynaspa-opt %s -split-input-file -verify-diagnostics --convert-spsparse-to-gpu | FileCheck %s

// QKᵀ with row and column masks, batch 2, two variants at two granularities:
// the tile-list kernel reads the row mask under its operand role, and each
// variant's kernel takes lhs, rhs, both masks, the output and its tile list;
// the fallback also reads the first variant's count (device-side dispatch).
// 40 tokens in tiles of 8: 5 x 2 = 10 tiles; 40 columns in blocks of 16: 3.
// CHECK-LABEL: spsparse.polykernel @qk
// CHECK-SAME: spsparse.prologue = [@qk_kernels::@qk_tiles]
// CHECK: variant @a granularity <[8]> {{.*}} tiles [0, 3] kernel @qk_kernels::@qk_a
// CHECK: variant @b granularity <[16]> {{.*}} kernel @qk_kernels::@qk_b
// CHECK: gpu.module @qk_kernels
// CHECK: gpu.func @qk_tiles(%{{.*}}: memref<80xi8>, %{{.*}}: memref<10xi32>, %{{.*}}: memref<3xi32>, %{{.*}}: memref<6xi32>, %{{.*}}: memref<3xi32>)
// CHECK-SAME: spsparse.args = ["row_mask", "tiles:8", "count:8", "tiles:16", "count:16"]
// Staged lhs rows (8 tokens x 4 of K) and rhs block (4 of K x 16 columns).
// CHECK: gpu.func @qk_a(%[[LHS:.*]]: memref<640xf32>, %[[RHS:.*]]: memref<640xf32>, %{{.*}}: memref<80xi8>, %[[COL:.*]]: memref<80xi8>, %[[OUT:.*]]: memref<3200xf32>, %{{.*}}: memref<10xi32>, %[[COUNT:.*]]: memref<3xi32>) workgroup(%[[SA:.*]] : memref<32xf32, 3>, %[[SB:.*]] : memref<64xf32, 3>) kernel
// CHECK-SAME: known_block_size = array<i32: 32, 1, 1>
// CHECK-SAME: spsparse.args = ["lhs", "rhs", "row_mask", "col_mask", "output", "tiles:8", "count:8"]
// One block per tile of its range [0, 3] (not of the 10 of the list).
// CHECK-SAME: spsparse.launch = {block = array<i64: 32, 1, 1>, grid = array<i64: 3, 3, 1>}
// Its own range [0, 3] of its own count.
// CHECK: memref.load %[[COUNT]]
// CHECK: arith.constant 3 : index
// CHECK: arith.cmpi sle
// CHECK: scf.for
// CHECK: gpu.barrier
// Phantom reads: the index is replaced by 0 and the value by 0.0 where the
// element does not exist, no branch.
// CHECK: %[[A:.*]] = memref.load %[[LHS]][%{{.*}}] : memref<640xf32>
// CHECK-NEXT: arith.constant 0.0
// CHECK-NEXT: %[[A0:.*]] = arith.select %{{.*}}, %[[A]], %{{.*}} : f32
// CHECK-NEXT: memref.store %[[A0]], %[[SA]]
// CHECK: memref.load %[[RHS]][%{{.*}}] : memref<640xf32>
// CHECK: memref.store %{{.*}}, %[[SB]]
// CHECK: gpu.barrier
// A 2x2 register tile per thread.
// CHECK-COUNT-4: arith.mulf {{.*}} fastmath<contract> : f32
// The column mask (batched: it depends on the tile's batch entry), then the
// stores where row and column are both active.
// CHECK: memref.load %[[COL]][%{{.*}}] : memref<80xi8>
// CHECK-COUNT-4: memref.store %{{.*}}, %[[OUT]][%{{.*}}] : memref<3200xf32>
// CHECK: gpu.func @qk_b({{.*}}%{{.*}}: memref<6xi32>, %{{.*}}: memref<3xi32>, %{{.*}}: memref<3xi32>) workgroup(%{{.*}} : memref<128xf32, 3>, %{{.*}} : memref<256xf32, 3>) kernel
// CHECK-SAME: spsparse.args = ["lhs", "rhs", "row_mask", "col_mask", "output", "tiles:16", "count:16", "count:8"]
// CHECK-SAME: spsparse.launch = {block = array<i64: 128, 1, 1>, grid = array<i64: 6, 2, 1>}
spsparse.polykernel @qk : (tensor<2x40x8xf32>, tensor<2x8x40xf32>, tensor<2x40xi1>, tensor<2x40xi1>) -> tensor<2x40x40xf32> {
^bb0(%a: tensor<2x40x8xf32>, %b: tensor<2x8x40xf32>, %r: tensor<2x40xi1>, %c: tensor<2x40xi1>):
  spsparse.polykernel.variant @a granularity <[8]> schedule <channel_block = 16, reduction_block = 4, threads = 32, thread_channels = 2, thread_pixels = 2> tiles [0, 3]
  spsparse.polykernel.variant @b granularity <[16]> schedule <>
  %y = spsparse.masked_batch_matmul %a, %b row_mask %r col_mask %c
      : (tensor<2x40x8xf32>, tensor<2x8x40xf32>, tensor<2x40xi1>, tensor<2x40xi1>) -> tensor<2x40x40xf32>
  spsparse.yield %y : tensor<2x40x40xf32>
}

// -----

// AV of A-ViT attention (row mask only) at 6 heads x 197 tokens: 197 is not a
// multiple of 16, so each head has 13 tiles (78 in all) and the last one has
// 11 phantom rows, read as 0 and never written. No column mask argument.
// CHECK-LABEL: spsparse.polykernel @av
// CHECK: gpu.func @av_tiles_16(%{{.*}}: memref<1182xi8>, %{{.*}}: memref<78xi32>, %{{.*}}: memref<3xi32>)
// CHECK: gpu.func @av_v0(%[[LHS:.*]]: memref<232854xf32>, %{{.*}}: memref<75648xf32>, %[[ROW:.*]]: memref<1182xi8>, %[[OUT:.*]]: memref<75648xf32>, %{{.*}}: memref<78xi32>, %{{.*}}: memref<3xi32>) workgroup(%{{.*}} : memref<128xf32, 3>, %{{.*}} : memref<256xf32, 3>) kernel
// CHECK-SAME: spsparse.args = ["lhs", "rhs", "row_mask", "output", "tiles:16", "count:16"]
// CHECK-SAME: spsparse.launch = {block = array<i64: 128, 1, 1>, grid = array<i64: 78, 2, 1>}
// Staging lhs, a chunk of 8 of K at a time: the row must exist (< 197) and
// so must the K index (< 197).
// CHECK: scf.for %{{.*}} = %{{.*}} to %c197 step %c8
// CHECK: gpu.barrier
// CHECK: scf.for
// CHECK-COUNT-2: arith.cmpi slt, %{{.*}}, %c197{{.*}} : index
// CHECK-NEXT: %[[VALID:.*]] = arith.andi
// CHECK: %[[SAFE:.*]] = arith.select %[[VALID]]
// CHECK-NEXT: memref.load %[[LHS]][%[[SAFE]]]
// After the chunk loop, the row mask is read only for existing rows.
// CHECK: arith.mulf
// CHECK: scf.yield
// CHECK: scf.yield
// CHECK: %[[EXISTS:.*]] = arith.cmpi slt, %{{.*}}, %c197{{.*}} : index
// CHECK: %[[IDX:.*]] = arith.select %[[EXISTS]]
// CHECK-NEXT: memref.load %[[ROW]][%[[IDX]]] : memref<1182xi8>
// CHECK: scf.if
// CHECK-NEXT: arith.addi
// CHECK-NEXT: memref.store %{{.*}}, %[[OUT]]
// CHECK: gpu.return
spsparse.polykernel @av : (tensor<6x197x197xf32>, tensor<6x197x64xf32>, tensor<6x197xi1>) -> tensor<6x197x64xf32> {
^bb0(%p: tensor<6x197x197xf32>, %v: tensor<6x197x64xf32>, %t: tensor<6x197xi1>):
  spsparse.polykernel.variant @v0 granularity <[16]> schedule <>
  %y = spsparse.masked_batch_matmul %p, %v row_mask %t
      : (tensor<6x197x197xf32>, tensor<6x197x64xf32>, tensor<6x197xi1>) -> tensor<6x197x64xf32>
  spsparse.yield %y : tensor<6x197x64xf32>
}

// -----

// Rank-1 masks are shared by the batch: the tile list and the kernel take
// the 40-element masks as they are. Vector loads of 4 floats along K (lhs)
// and along N (rhs), 16-byte aligned (indices are multiples of 4), and an
// unrolled reduction loop.
// CHECK-LABEL: spsparse.polykernel @shared_masks
// CHECK: gpu.func @shared_masks_tiles_16(%{{.*}}: memref<40xi8>, %{{.*}}: memref<9xi32>, %{{.*}}: memref<3xi32>)
// CHECK: gpu.func @shared_masks_v0(%[[LHS:.*]]: memref<960xf32>, %[[RHS:.*]]: memref<960xf32>, %{{.*}}: memref<40xi8>, %{{.*}}: memref<40xi8>, %{{.*}}: memref<4800xf32>
// CHECK-SAME: spsparse.args = ["lhs", "rhs", "row_mask", "col_mask", "output", "tiles:16", "count:16"]
// CHECK: vector.load %[[LHS]][%{{.*}}] {alignment = 16 : i64} : memref<960xf32>, vector<4xf32>
// CHECK: vector.load %[[RHS]][%{{.*}}] {alignment = 16 : i64} : memref<960xf32>, vector<4xf32>
// CHECK: scf.for %{{.*}} = %{{.*}} to %{{.*}} step %c2
// CHECK-COUNT-8: arith.mulf
spsparse.polykernel @shared_masks : (tensor<3x40x8xf32>, tensor<3x8x40xf32>, tensor<40xi1>, tensor<40xi1>) -> tensor<3x40x40xf32> {
^bb0(%a: tensor<3x40x8xf32>, %b: tensor<3x8x40xf32>, %r: tensor<40xi1>, %c: tensor<40xi1>):
  spsparse.polykernel.variant @v0 granularity <[16]> schedule <vector_width = 4, unroll = 2>
  %y = spsparse.masked_batch_matmul %a, %b row_mask %r col_mask %c
      : (tensor<3x40x8xf32>, tensor<3x8x40xf32>, tensor<40xi1>, tensor<40xi1>) -> tensor<3x40x40xf32>
  spsparse.yield %y : tensor<3x40x40xf32>
}

// -----

// A schedule whose threads do not cover the tile is rejected with the count
// that would.
spsparse.polykernel @pk : (tensor<2x16x64xf32>, tensor<2x64x16xf32>, tensor<2x16xi1>) -> tensor<2x16x16xf32> {
^bb0(%a: tensor<2x16x64xf32>, %b: tensor<2x64x16xf32>, %r: tensor<2x16xi1>):
  // expected-remark @+1 {{while lowering this variant}}
  spsparse.polykernel.variant @a granularity <[8]> schedule <channel_block = 16, threads = 128>
  // expected-error @+1 {{threads must be (channel_block / thread_channels) * (rows / thread_pixels) = 32}}
  %y = spsparse.masked_batch_matmul %a, %b row_mask %r
      : (tensor<2x16x64xf32>, tensor<2x64x16xf32>, tensor<2x16xi1>) -> tensor<2x16x16xf32>
  spsparse.yield %y : tensor<2x16x16xf32>
}

// -----

// vector_width is the widest load: QK^T's lhs rows (K = 64) load 4 floats
// at a time, its rhs rows of 197 columns one (a vector would straddle rows).
// CHECK-LABEL: spsparse.polykernel @qk_widths
// CHECK: gpu.func @qk_widths_a(%[[LHS:[^:]*]]: memref<75648xf32>, %[[RHS:[^:]*]]: memref<75648xf32>
// CHECK: vector.load %[[LHS]][%{{.*}}] {alignment = 16 : i64} : memref<75648xf32>, vector<4xf32>
// CHECK-NOT: vector.load %[[RHS]]
// CHECK: memref.load %[[RHS]]
// CHECK-NOT: vector.load %[[RHS]]
// CHECK: gpu.return
spsparse.polykernel @qk_widths : (tensor<6x197x64xf32>, tensor<6x64x197xf32>, tensor<6x197xi1>) -> tensor<6x197x197xf32> {
^bb0(%a: tensor<6x197x64xf32>, %b: tensor<6x64x197xf32>, %r: tensor<6x197xi1>):
  spsparse.polykernel.variant @a granularity <[16]> schedule <vector_width = 4>
  %y = spsparse.masked_batch_matmul %a, %b row_mask %r
      : (tensor<6x197x64xf32>, tensor<6x64x197xf32>, tensor<6x197xi1>) -> tensor<6x197x197xf32>
  spsparse.yield %y : tensor<6x197x197xf32>
}

// -----

// A batch-matmul DISTile is a block of tokens: one size.
spsparse.polykernel @pk : (tensor<2x16x64xf32>, tensor<2x64x16xf32>, tensor<2x16xi1>) -> tensor<2x16x16xf32> {
^bb0(%a: tensor<2x16x64xf32>, %b: tensor<2x64x16xf32>, %r: tensor<2x16xi1>):
  spsparse.polykernel.variant @a granularity <[4, 4]> schedule <>
  // expected-error @+1 {{granularity #spsparse.granularity<[4, 4]> has 2 sizes; the GPU lowering needs one per tiled axis (1)}}
  %y = spsparse.masked_batch_matmul %a, %b row_mask %r
      : (tensor<2x16x64xf32>, tensor<2x64x16xf32>, tensor<2x16xi1>) -> tensor<2x16x16xf32>
  spsparse.yield %y : tensor<2x16x16xf32>
}

// -----

spsparse.polykernel @pk : (tensor<2x16x64xf16>, tensor<2x64x16xf16>, tensor<2x16xi1>) -> tensor<2x16x16xf16> {
^bb0(%a: tensor<2x16x64xf16>, %b: tensor<2x64x16xf16>, %r: tensor<2x16xi1>):
  // expected-remark @+1 {{while lowering this variant}}
  spsparse.polykernel.variant @a granularity <[16]> schedule <>
  // expected-error @+1 {{the GPU lowering handles f32 batch-matmuls only}}
  %y = spsparse.masked_batch_matmul %a, %b row_mask %r
      : (tensor<2x16x64xf16>, tensor<2x64x16xf16>, tensor<2x16xi1>) -> tensor<2x16x16xf16>
  spsparse.yield %y : tensor<2x16x16xf16>
}

// -----

// 16 tokens x 64 of K plus 64 of K x 256 columns of floats: 69632 bytes.
spsparse.polykernel @pk : (tensor<2x16x64xf32>, tensor<2x64x256xf32>, tensor<2x16xi1>) -> tensor<2x16x256xf32> {
^bb0(%a: tensor<2x16x64xf32>, %b: tensor<2x64x256xf32>, %r: tensor<2x16xi1>):
  // expected-remark @+1 {{while lowering this variant}}
  spsparse.polykernel.variant @a granularity <[16]> schedule <channel_block = 256, reduction_block = 64, threads = 1024>
  // expected-error @+1 {{needs 69632 bytes of shared memory (more than 48 KiB)}}
  %y = spsparse.masked_batch_matmul %a, %b row_mask %r
      : (tensor<2x16x64xf32>, tensor<2x64x256xf32>, tensor<2x16xi1>) -> tensor<2x16x256xf32>
  spsparse.yield %y : tensor<2x16x256xf32>
}

// -----

// double_buffer: 16 x 64 + 64 x 128 floats of the next chunk over 32
// threads is 288 registers each, next to 4 x 16 accumulators.
spsparse.polykernel @pk : (tensor<2x16x64xf32>, tensor<2x64x128xf32>, tensor<2x16xi1>) -> tensor<2x16x128xf32> {
^bb0(%a: tensor<2x16x64xf32>, %b: tensor<2x64x128xf32>, %r: tensor<2x16xi1>):
  // expected-remark @+1 {{while lowering this variant}}
  spsparse.polykernel.variant @a granularity <[16]> schedule <channel_block = 128, reduction_block = 64, threads = 32, thread_channels = 16, thread_pixels = 4, double_buffer = true>
  // expected-error @+1 {{double_buffer needs 288 prefetch registers per thread next to 64 accumulators (at most 160 together)}}
  %y = spsparse.masked_batch_matmul %a, %b row_mask %r
      : (tensor<2x16x64xf32>, tensor<2x64x128xf32>, tensor<2x16xi1>) -> tensor<2x16x128xf32>
  spsparse.yield %y : tensor<2x16x128xf32>
}

// -----

// Per-block lists (tiles_per_block = 8 one-token DISTiles) in a PolyKernel
// that dispatches: one block per 8 tiles of each batch entry, 2 x ceil(40 /
// 8) = 10 along x; the block scans its entry's row mask (a slot per thread)
// and keeps 8 tile ids. The tile list is still built (its count picks the
// variant). Kernel names are PTX/OpenCL identifiers: the '.' of the symbol
// becomes '_'.
// CHECK-LABEL: spsparse.polykernel @av.gather
// CHECK-SAME: spsparse.prologue = [@av.gather_kernels::@av_gather_tiles_1]
// CHECK: gpu.func @av_gather_a(%[[LHS:.*]]: memref<3200xf32>, %{{.*}}: memref<1280xf32>, %[[MASK:.*]]: memref<80xi8>, %{{.*}}: memref<1280xf32>, %{{.*}}: memref<80xi32>, %{{.*}}: memref<3xi32>) workgroup(%{{.*}} : memref<32xf32, 3>, %{{.*}} : memref<64xf32, 3>, %[[SCAN:.*]] : memref<32xi32, 3>, %[[LIST:.*]] : memref<8xi32, 3>) kernel
// CHECK-SAME: spsparse.launch = {block = array<i64: 32, 1, 1>, grid = array<i64: 10, 1, 1>}
// CHECK-NOT: spsparse.writes_zeros
// The list is made only if the dispatch picked this variant.
// CHECK: %[[COUNT:.*]] = memref.load
// CHECK: scf.if
// CHECK: memref.store %{{.*}}, %[[LIST]]
// Two tiles per thread (40 / 32 threads): two mask bytes, then the scan.
// CHECK-COUNT-2: memref.load %[[MASK]]
// CHECK: memref.store %{{.*}}, %[[SCAN]]
// CHECK: gpu.barrier
// CHECK: scf.if
// CHECK: memref.store %{{.*}}, %[[LIST]]
// CHECK: gpu.barrier
// Only blocks with listed tiles compute; their lhs rows come from the list.
// CHECK: scf.if
// CHECK: scf.for
// CHECK: memref.load %[[LIST]]
// CHECK: memref.load %[[LHS]]
// CHECK: gpu.func @av_gather_b
spsparse.polykernel @"av.gather" : (tensor<2x40x40xf32>, tensor<2x40x16xf32>, tensor<2x40xi1>) -> tensor<2x40x16xf32> {
^bb0(%a: tensor<2x40x40xf32>, %b: tensor<2x40x16xf32>, %r: tensor<2x40xi1>):
  spsparse.polykernel.variant @a granularity <[1]> schedule <channel_block = 16, reduction_block = 4, threads = 32, thread_channels = 2, thread_pixels = 2, tiles_per_block = 8> tiles [0, 40]
  spsparse.polykernel.variant @b granularity <[1]> schedule <channel_block = 16, reduction_block = 4, threads = 32, thread_channels = 2, thread_pixels = 2, tiles_per_block = 8>
  %y = spsparse.masked_batch_matmul %a, %b row_mask %r
      : (tensor<2x40x40xf32>, tensor<2x40x16xf32>, tensor<2x40xi1>) -> tensor<2x40x16xf32>
  spsparse.yield %y : tensor<2x40x16xf32>
}

// -----

// The same variant alone is lowered standalone: no tile-list kernel (an
// empty prologue), no tiles or count arguments, no dispatch test, and the
// kernel writes the zeros itself (spsparse.writes_zeros): each block first
// clears the inactive tiles with ids 8q .. 8q + 7 in its columns (a mask
// byte per element), then scans, and stores 0 where a computed row or
// column is masked off.
// CHECK-LABEL: spsparse.polykernel @av_alone
// CHECK-SAME: spsparse.prologue = []
// CHECK-NOT: gpu.func @av_alone_tiles
// CHECK: gpu.func @av_alone_a(%[[LHS:.*]]: memref<3200xf32>, %{{.*}}: memref<1280xf32>, %[[MASK:.*]]: memref<80xi8>, %[[COL:.*]]: memref<16xi8>, %[[OUT:.*]]: memref<1280xf32>) workgroup(%{{.*}} : memref<32xf32, 3>, %{{.*}} : memref<64xf32, 3>, %[[SCAN:.*]] : memref<32xi32, 3>, %[[LIST:.*]] : memref<8xi32, 3>) kernel
// CHECK-SAME: spsparse.launch = {block = array<i64: 32, 1, 1>, grid = array<i64: 10, 1, 1>}
// CHECK-SAME: spsparse.writes_zeros
// CHECK: %[[ZERO:.*]] = arith.constant 0.000000e+00 : f32
// CHECK: scf.for
// CHECK: scf.if
// CHECK: memref.load %[[MASK]]
// CHECK: scf.if
// CHECK: memref.store %[[ZERO]], %[[OUT]]
// CHECK: memref.store %{{.*}}, %[[LIST]]
// CHECK: memref.load %[[MASK]]
// CHECK: gpu.barrier
// CHECK: memref.load %[[LHS]]
// The store of a computed row: 0 where its mask byte or column mask is off.
// CHECK: memref.load %[[COL]]
// CHECK: memref.load %[[MASK]]
// CHECK: %[[VALUE:.*]] = arith.select %{{.*}}, %{{.*}}#0, %{{.*}} : f32
// CHECK: scf.if
// CHECK: memref.store %[[VALUE]], %[[OUT]]
spsparse.polykernel @av_alone : (tensor<2x40x40xf32>, tensor<2x40x16xf32>, tensor<2x40xi1>, tensor<16xi1>) -> tensor<2x40x16xf32> {
^bb0(%a: tensor<2x40x40xf32>, %b: tensor<2x40x16xf32>, %r: tensor<2x40xi1>, %c: tensor<16xi1>):
  spsparse.polykernel.variant @a granularity <[1]> schedule <channel_block = 16, reduction_block = 4, threads = 32, thread_channels = 2, thread_pixels = 2, tiles_per_block = 8>
  %y = spsparse.masked_batch_matmul %a, %b row_mask %r col_mask %c
      : (tensor<2x40x40xf32>, tensor<2x40x16xf32>, tensor<2x40xi1>, tensor<16xi1>) -> tensor<2x40x16xf32>
  spsparse.yield %y : tensor<2x40x16xf32>
}

// -----

spsparse.polykernel @pk : (tensor<2x40x40xf32>, tensor<2x40x16xf32>, tensor<2x40xi1>) -> tensor<2x40x16xf32> {
^bb0(%a: tensor<2x40x40xf32>, %b: tensor<2x40x16xf32>, %r: tensor<2x40xi1>):
  // expected-remark @+1 {{while lowering this variant}}
  spsparse.polykernel.variant @a granularity <[1]> schedule <channel_block = 16, reduction_block = 4, threads = 32, thread_channels = 2, thread_pixels = 2, tiles_per_block = 8, blocks = 4>
  // expected-error @+1 {{blocks must be 0 with tiles_per_block > 1 (the grid is one block per tiles_per_block tiles of each batch entry)}}
  %y = spsparse.masked_batch_matmul %a, %b row_mask %r
      : (tensor<2x40x40xf32>, tensor<2x40x16xf32>, tensor<2x40xi1>) -> tensor<2x40x16xf32>
  spsparse.yield %y : tensor<2x40x16xf32>
}

// -----

// 600 one-token tiles per entry and 32 threads: 19 each, more than 16.
spsparse.polykernel @pk : (tensor<2x600x8xf32>, tensor<2x8x16xf32>, tensor<2x600xi1>) -> tensor<2x600x16xf32> {
^bb0(%a: tensor<2x600x8xf32>, %b: tensor<2x8x16xf32>, %r: tensor<2x600xi1>):
  // expected-remark @+1 {{while lowering this variant}}
  spsparse.polykernel.variant @a granularity <[1]> schedule <channel_block = 16, reduction_block = 4, threads = 32, thread_channels = 1, thread_pixels = 1, tiles_per_block = 2>
  // expected-error @+1 {{tiles_per_block > 1 needs threads >= 1/16 of the 600 DISTiles of a batch entry}}
  %y = spsparse.masked_batch_matmul %a, %b row_mask %r
      : (tensor<2x600x8xf32>, tensor<2x8x16xf32>, tensor<2x600xi1>) -> tensor<2x600x16xf32>
  spsparse.yield %y : tensor<2x600x16xf32>
}
