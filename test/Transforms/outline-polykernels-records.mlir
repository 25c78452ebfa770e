// RUN: dynaspa-opt %s -split-input-file -verify-diagnostics --spsparse-outline-polykernels="records=%S/Inputs/records.json" | FileCheck %s

// The record whose signature matches gives the variants, even over the
// candidate list the op still carries from tuning.
// CHECK-LABEL: spsparse.polykernel @tuned_masked_conv2d_0
// CHECK: spsparse.polykernel.variant @v0 granularity <[2, 2]> schedule <channel_block = 8, threads = 32, thread_channels = 1> tiles [0, 4]
// CHECK-NEXT: spsparse.polykernel.variant @v1 granularity <[4, 4]> schedule <>
// CHECK-NEXT: spsparse.masked_conv2d
// CHECK-LABEL: func.func @tuned
func.func @tuned(%x: tensor<1x5x5x8xf32>, %w: tensor<3x3x8x8xf32>, %m: tensor<1x5x5xi1>) -> tensor<1x5x5x8xf32> {
  %y = spsparse.masked_conv2d %x, %w mask %m {padding = array<i64: 1, 1, 1, 1>,
      spsparse.variants = [{granularity = #spsparse.granularity<[1, 1]>}, {granularity = #spsparse.granularity<[8, 8]>}]}
      : (tensor<1x5x5x8xf32>, tensor<3x3x8x8xf32>, tensor<1x5x5xi1>) -> tensor<1x5x5x8xf32>
  return %y : tensor<1x5x5x8xf32>
}

// -----

// Batch-matmuls match on operand and result types.
// CHECK-LABEL: spsparse.polykernel @attention_masked_batch_matmul_0
// CHECK: spsparse.polykernel.variant @v0 granularity <[32]> schedule <channel_block = 64, double_buffer = true>
// CHECK-NOT: spsparse.polykernel.variant
func.func @attention(%a: tensor<6x197x64xf32>, %b: tensor<6x64x197xf32>, %r: tensor<6x197xi1>) -> tensor<6x197x197xf32> {
  %y = spsparse.masked_batch_matmul %a, %b row_mask %r
      : (tensor<6x197x64xf32>, tensor<6x64x197xf32>, tensor<6x197xi1>) -> tensor<6x197x197xf32>
  return %y : tensor<6x197x197xf32>
}

// -----

// A different padding is a different operator: no record, a warning, and
// the usual rules (here the 4x4 default).
// CHECK-LABEL: spsparse.polykernel @unpadded_masked_conv2d_0
// CHECK: spsparse.polykernel.variant @v0 granularity <[4, 4]> schedule <>
func.func @unpadded(%x: tensor<1x5x5x8xf32>, %w: tensor<3x3x8x8xf32>, %m: tensor<1x3x3xi1>) -> tensor<1x3x3x8xf32> {
  // expected-warning @+1 {{matches no tuning record in}}
  %y = spsparse.masked_conv2d %x, %w mask %m
      : (tensor<1x5x5x8xf32>, tensor<3x3x8x8xf32>, tensor<1x3x3xi1>) -> tensor<1x3x3x8xf32>
  return %y : tensor<1x3x3x8xf32>
}

// -----

// An operator the tuner has measured but not chosen for yet (no "variants")
// does not count as a match.
// CHECK-LABEL: spsparse.polykernel @in_progress_masked_conv2d_0
// CHECK: spsparse.polykernel.variant @v0 granularity <[3, 3]> schedule <>
func.func @in_progress(%x: tensor<1x9x9x8xf32>, %w: tensor<1x1x8x8xf32>, %m: tensor<1x9x9xi1>) -> tensor<1x9x9x8xf32> {
  // expected-warning @+1 {{matches no tuning record in}}
  %y = spsparse.masked_conv2d %x, %w mask %m {spsparse.granularity = #spsparse.granularity<[3, 3]>}
      : (tensor<1x9x9x8xf32>, tensor<1x1x8x8xf32>, tensor<1x9x9xi1>) -> tensor<1x9x9x8xf32>
  return %y : tensor<1x9x9x8xf32>
}

// -----

// A recorded cover becomes the variant's dispatch test.
// CHECK-LABEL: spsparse.polykernel @clustered_masked_conv2d_0
// CHECK: spsparse.polykernel.variant @v0 granularity <[1, 1]> schedule <> tiles [0, 20] cover <[2, 2] over [1, 1] in [130, -1]>
// CHECK-NEXT: spsparse.polykernel.variant @v1 granularity <[4, 4]> schedule <>{{$}}
func.func @clustered(%x: tensor<1x8x8x8xf32>, %w: tensor<3x3x8x8xf32>, %m: tensor<1x8x8xi1>) -> tensor<1x8x8x8xf32> {
  %y = spsparse.masked_conv2d %x, %w mask %m {padding = array<i64: 1, 1, 1, 1>}
      : (tensor<1x8x8x8xf32>, tensor<3x3x8x8xf32>, tensor<1x8x8xi1>) -> tensor<1x8x8x8xf32>
  return %y : tensor<1x8x8x8xf32>
}
