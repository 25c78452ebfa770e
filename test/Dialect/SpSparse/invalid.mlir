// Every verifier error of the spsparse dialect, one case per split.
// RUN: dynaspa-opt %s -split-input-file -verify-diagnostics

// Input must be rank 4.
func.func @f(%x: tensor<40x40x64xf32>, %w: tensor<3x3x64x64xf32>, %m: tensor<40x40xi1>) -> tensor<1x40x40x64xf32> {
  // expected-error @+1 {{'spsparse.masked_conv2d' op expects a rank-4 input, got 'tensor<40x40x64xf32>'}}
  %y = spsparse.masked_conv2d %x, %w mask %m : (tensor<40x40x64xf32>, tensor<3x3x64x64xf32>, tensor<40x40xi1>) -> tensor<1x40x40x64xf32>
  return %y : tensor<1x40x40x64xf32>
}

// -----

// Input, filter and result share one element type.
func.func @f(%x: tensor<1x40x40x64xf16>, %w: tensor<3x3x64x64xf32>, %m: tensor<40x40xi1>) -> tensor<1x40x40x64xf32> {
  // expected-error @+1 {{expects input, filter and result of one element type, got 'f16', 'f32', 'f32'}}
  %y = spsparse.masked_conv2d %x, %w mask %m {padding = array<i64: 1, 1, 1, 1>} : (tensor<1x40x40x64xf16>, tensor<3x3x64x64xf32>, tensor<40x40xi1>) -> tensor<1x40x40x64xf32>
  return %y : tensor<1x40x40x64xf32>
}

// -----

// Strides are two positive integers.
func.func @f(%x: tensor<1x40x40x64xf32>, %w: tensor<3x3x64x64xf32>, %m: tensor<40x40xi1>) -> tensor<1x40x40x64xf32> {
  // expected-error @+1 {{expects 'strides' to be two positive integers}}
  %y = spsparse.masked_conv2d %x, %w mask %m {strides = array<i64: 0, 1>} : (tensor<1x40x40x64xf32>, tensor<3x3x64x64xf32>, tensor<40x40xi1>) -> tensor<1x40x40x64xf32>
  return %y : tensor<1x40x40x64xf32>
}

// -----

// Dilations are two positive integers.
func.func @f(%x: tensor<1x40x40x64xf32>, %w: tensor<3x3x64x64xf32>, %m: tensor<40x40xi1>) -> tensor<1x40x40x64xf32> {
  // expected-error @+1 {{expects 'dilations' to be two positive integers}}
  %y = spsparse.masked_conv2d %x, %w mask %m {dilations = array<i64: 1>} : (tensor<1x40x40x64xf32>, tensor<3x3x64x64xf32>, tensor<40x40xi1>) -> tensor<1x40x40x64xf32>
  return %y : tensor<1x40x40x64xf32>
}

// -----

// Padding is [top, bottom, left, right], non-negative.
func.func @f(%x: tensor<1x40x40x64xf32>, %w: tensor<3x3x64x64xf32>, %m: tensor<40x40xi1>) -> tensor<1x40x40x64xf32> {
  // expected-error @+1 {{expects 'padding' to be four non-negative integers [top, bottom, left, right]}}
  %y = spsparse.masked_conv2d %x, %w mask %m {padding = array<i64: 1, 1>} : (tensor<1x40x40x64xf32>, tensor<3x3x64x64xf32>, tensor<40x40xi1>) -> tensor<1x40x40x64xf32>
  return %y : tensor<1x40x40x64xf32>
}

// -----

// Kernel sizes must be odd.
func.func @f(%x: tensor<1x40x40x64xf32>, %w: tensor<2x3x64x64xf32>, %m: tensor<39x38xi1>) -> tensor<1x39x38x64xf32> {
  // expected-error @+1 {{expects odd kernel sizes, got 2x3}}
  %y = spsparse.masked_conv2d %x, %w mask %m : (tensor<1x40x40x64xf32>, tensor<2x3x64x64xf32>, tensor<39x38xi1>) -> tensor<1x39x38x64xf32>
  return %y : tensor<1x39x38x64xf32>
}

// -----

// Input channels must match the filter (NCHW filter is FCHW).
func.func @f(%x: tensor<1x32x40x40xf32>, %w: tensor<64x16x3x3xf32>, %m: tensor<40x40xi1>) -> tensor<1x64x40x40xf32> {
  // expected-error @+1 {{input has 32 channels but the filter expects 16}}
  %y = spsparse.masked_conv2d %x, %w mask %m {layout = #spsparse.layout<nchw>, padding = array<i64: 1, 1, 1, 1>} : (tensor<1x32x40x40xf32>, tensor<64x16x3x3xf32>, tensor<40x40xi1>) -> tensor<1x64x40x40xf32>
  return %y : tensor<1x64x40x40xf32>
}

// -----

// Output channels must match the filter.
func.func @f(%x: tensor<1x40x40x64xf32>, %w: tensor<1x1x64x128xf32>, %m: tensor<40x40xi1>) -> tensor<1x40x40x64xf32> {
  // expected-error @+1 {{result has 64 channels but the filter produces 128}}
  %y = spsparse.masked_conv2d %x, %w mask %m : (tensor<1x40x40x64xf32>, tensor<1x1x64x128xf32>, tensor<40x40xi1>) -> tensor<1x40x40x64xf32>
  return %y : tensor<1x40x40x64xf32>
}

// -----

// Result batch must match the input batch.
func.func @f(%x: tensor<2x40x40x64xf32>, %w: tensor<1x1x64x64xf32>, %m: tensor<40x40xi1>) -> tensor<1x40x40x64xf32> {
  // expected-error @+1 {{result batch 1 differs from input batch 2}}
  %y = spsparse.masked_conv2d %x, %w mask %m : (tensor<2x40x40x64xf32>, tensor<1x1x64x64xf32>, tensor<40x40xi1>) -> tensor<1x40x40x64xf32>
  return %y : tensor<1x40x40x64xf32>
}

// -----

// The filter window must fit the padded input.
func.func @f(%x: tensor<1x2x2x8xf32>, %w: tensor<5x5x8x8xf32>, %m: tensor<1x1xi1>) -> tensor<1x1x1x8xf32> {
  // expected-error @+1 {{filter window 5 along height is larger than the padded input 2}}
  %y = spsparse.masked_conv2d %x, %w mask %m : (tensor<1x2x2x8xf32>, tensor<5x5x8x8xf32>, tensor<1x1xi1>) -> tensor<1x1x1x8xf32>
  return %y : tensor<1x1x1x8xf32>
}

// -----

// The result extent must be the convolution's (here stride 2 gives 20).
func.func @f(%x: tensor<1x40x40x64xf32>, %w: tensor<3x3x64x64xf32>, %m: tensor<40x40xi1>) -> tensor<1x40x40x64xf32> {
  // expected-error @+1 {{result height 40 does not match the convolution's 20}}
  %y = spsparse.masked_conv2d %x, %w mask %m {strides = array<i64: 2, 2>, padding = array<i64: 1, 1, 1, 1>} : (tensor<1x40x40x64xf32>, tensor<3x3x64x64xf32>, tensor<40x40xi1>) -> tensor<1x40x40x64xf32>
  return %y : tensor<1x40x40x64xf32>
}

// -----

// Bias is rank 1 of the element type.
func.func @f(%x: tensor<1x8x8x4xf32>, %w: tensor<1x1x4x4xf32>, %m: tensor<8x8xi1>, %b: tensor<1x4xf32>) -> tensor<1x8x8x4xf32> {
  // expected-error @+1 {{expects a rank-1 bias of 'f32', got 'tensor<1x4xf32>'}}
  %y = spsparse.masked_conv2d %x, %w mask %m bias %b : (tensor<1x8x8x4xf32>, tensor<1x1x4x4xf32>, tensor<8x8xi1>, tensor<1x4xf32>) -> tensor<1x8x8x4xf32>
  return %y : tensor<1x8x8x4xf32>
}

// -----

// Bias has one element per output channel.
func.func @f(%x: tensor<1x8x8x4xf32>, %w: tensor<1x1x4x4xf32>, %m: tensor<8x8xi1>, %b: tensor<8xf32>) -> tensor<1x8x8x4xf32> {
  // expected-error @+1 {{bias has 8 elements but the filter produces 4 channels}}
  %y = spsparse.masked_conv2d %x, %w mask %m bias %b : (tensor<1x8x8x4xf32>, tensor<1x1x4x4xf32>, tensor<8x8xi1>, tensor<8xf32>) -> tensor<1x8x8x4xf32>
  return %y : tensor<1x8x8x4xf32>
}

// -----

// The mask is [N, Ho, Wo] or [Ho, Wo].
func.func @f(%x: tensor<1x8x8x4xf32>, %w: tensor<1x1x4x4xf32>, %m: tensor<1x1x8x8xi1>) -> tensor<1x8x8x4xf32> {
  // expected-error @+1 {{expects mask of rank 2 or 3, got rank 4}}
  %y = spsparse.masked_conv2d %x, %w mask %m : (tensor<1x8x8x4xf32>, tensor<1x1x4x4xf32>, tensor<1x1x8x8xi1>) -> tensor<1x8x8x4xf32>
  return %y : tensor<1x8x8x4xf32>
}

// -----

// The mask is at the output resolution, not the input's.
func.func @f(%x: tensor<1x80x80x8xf32>, %w: tensor<3x3x8x8xf32>, %m: tensor<1x80x80xi1>) -> tensor<1x40x40x8xf32> {
  // expected-error @+1 {{mask shape 'tensor<1x80x80xi1>' does not match the result's 1x40x40 (dimension 1)}}
  %y = spsparse.masked_conv2d %x, %w mask %m {strides = array<i64: 2, 2>, padding = array<i64: 1, 1, 1, 1>} : (tensor<1x80x80x8xf32>, tensor<3x3x8x8xf32>, tensor<1x80x80xi1>) -> tensor<1x40x40x8xf32>
  return %y : tensor<1x40x40x8xf32>
}

// -----

// A mask of the wrong batch.
func.func @f(%x: tensor<2x8x8x4xf32>, %w: tensor<1x1x4x4xf32>, %m: tensor<3x8x8xi1>) -> tensor<2x8x8x4xf32> {
  // expected-error @+1 {{mask shape 'tensor<3x8x8xi1>' does not match the result's 2x8x8 (dimension 0)}}
  %y = spsparse.masked_conv2d %x, %w mask %m : (tensor<2x8x8x4xf32>, tensor<1x1x4x4xf32>, tensor<3x8x8xi1>) -> tensor<2x8x8x4xf32>
  return %y : tensor<2x8x8x4xf32>
}

// -----

// Mask elements are integers or floats, not index.
func.func @f(%x: tensor<1x8x8x4xf32>, %w: tensor<1x1x4x4xf32>, %m: tensor<8x8xindex>) -> tensor<1x8x8x4xf32> {
  // expected-error @+1 {{operand #2 must be ranked tensor of signless integer or floating-point values}}
  %y = spsparse.masked_conv2d %x, %w mask %m : (tensor<1x8x8x4xf32>, tensor<1x1x4x4xf32>, tensor<8x8xindex>) -> tensor<1x8x8x4xf32>
  return %y : tensor<1x8x8x4xf32>
}

// -----

// An unknown layout.
func.func @f(%x: tensor<1x8x8x4xf32>, %w: tensor<1x1x4x4xf32>, %m: tensor<8x8xi1>) -> tensor<1x8x8x4xf32> {
  // expected-error @+2 {{expected ::mlir::spsparse::Layout to be one of: nhwc, nchw}}
  // expected-error @+1 {{failed to parse SpSparse_LayoutAttr parameter 'value'}}
  %y = spsparse.masked_conv2d %x, %w mask %m {layout = #spsparse.layout<nwhc>} : (tensor<1x8x8x4xf32>, tensor<1x1x4x4xf32>, tensor<8x8xi1>) -> tensor<1x8x8x4xf32>
  return %y : tensor<1x8x8x4xf32>
}

// -----

// Batch matmul operands are rank 3.
func.func @f(%a: tensor<197x64xf32>, %b: tensor<6x64x197xf32>, %m: tensor<197xi1>) -> tensor<6x197x197xf32> {
  // expected-error @+1 {{expects a rank-3 lhs, got 'tensor<197x64xf32>'}}
  %y = spsparse.masked_batch_matmul %a, %b row_mask %m : (tensor<197x64xf32>, tensor<6x64x197xf32>, tensor<197xi1>) -> tensor<6x197x197xf32>
  return %y : tensor<6x197x197xf32>
}

// -----

// Batch matmul element types agree.
func.func @f(%a: tensor<6x197x64xf32>, %b: tensor<6x64x197xf16>, %m: tensor<197xi1>) -> tensor<6x197x197xf32> {
  // expected-error @+1 {{expects lhs, rhs and result of one element type, got 'f32', 'f16', 'f32'}}
  %y = spsparse.masked_batch_matmul %a, %b row_mask %m : (tensor<6x197x64xf32>, tensor<6x64x197xf16>, tensor<197xi1>) -> tensor<6x197x197xf32>
  return %y : tensor<6x197x197xf32>
}

// -----

// Batch sizes agree.
func.func @f(%a: tensor<6x197x64xf32>, %b: tensor<3x64x197xf32>, %m: tensor<197xi1>) -> tensor<6x197x197xf32> {
  // expected-error @+1 {{batch sizes differ: lhs 6, rhs 3, result 6}}
  %y = spsparse.masked_batch_matmul %a, %b row_mask %m : (tensor<6x197x64xf32>, tensor<3x64x197xf32>, tensor<197xi1>) -> tensor<6x197x197xf32>
  return %y : tensor<6x197x197xf32>
}

// -----

// Contraction sizes agree.
func.func @f(%a: tensor<6x197x64xf32>, %b: tensor<6x32x197xf32>, %m: tensor<197xi1>) -> tensor<6x197x197xf32> {
  // expected-error @+1 {{contraction sizes differ: lhs has 64, rhs has 32}}
  %y = spsparse.masked_batch_matmul %a, %b row_mask %m : (tensor<6x197x64xf32>, tensor<6x32x197xf32>, tensor<197xi1>) -> tensor<6x197x197xf32>
  return %y : tensor<6x197x197xf32>
}

// -----

// The result is [B, M, N].
func.func @f(%a: tensor<6x197x64xf32>, %b: tensor<6x64x100xf32>, %m: tensor<197xi1>) -> tensor<6x197x197xf32> {
  // expected-error @+1 {{result 'tensor<6x197x197xf32>' is not [B, 197, 100]}}
  %y = spsparse.masked_batch_matmul %a, %b row_mask %m : (tensor<6x197x64xf32>, tensor<6x64x100xf32>, tensor<197xi1>) -> tensor<6x197x197xf32>
  return %y : tensor<6x197x197xf32>
}

// -----

// The row mask is over M.
func.func @f(%a: tensor<6x197x64xf32>, %b: tensor<6x64x100xf32>, %m: tensor<6x100xi1>) -> tensor<6x197x100xf32> {
  // expected-error @+1 {{row_mask shape 'tensor<6x100xi1>' does not match the result's 6x197 (dimension 1)}}
  %y = spsparse.masked_batch_matmul %a, %b row_mask %m : (tensor<6x197x64xf32>, tensor<6x64x100xf32>, tensor<6x100xi1>) -> tensor<6x197x100xf32>
  return %y : tensor<6x197x100xf32>
}

// -----

// The column mask is [B, N] or [N].
func.func @f(%a: tensor<6x197x64xf32>, %b: tensor<6x64x100xf32>, %m: tensor<197xi1>, %c: tensor<1x6x100xi1>) -> tensor<6x197x100xf32> {
  // expected-error @+1 {{expects col_mask of rank 1 or 2, got rank 3}}
  %y = spsparse.masked_batch_matmul %a, %b row_mask %m col_mask %c : (tensor<6x197x64xf32>, tensor<6x64x100xf32>, tensor<197xi1>, tensor<1x6x100xi1>) -> tensor<6x197x100xf32>
  return %y : tensor<6x197x100xf32>
}

// -----

// The bitmask keeps the mask's rank.
func.func @f(%m: tensor<1x40x40xi1>) -> tensor<40x2xi32> {
  // expected-error @+1 {{expects a bitmask of the mask's rank 3, got 'tensor<40x2xi32>'}}
  %b = spsparse.bitmask %m : tensor<1x40x40xi1> -> tensor<40x2xi32>
  return %b : tensor<40x2xi32>
}

// -----

// 32 mask positions per word.
func.func @f(%m: tensor<1x40x40xi1>) -> tensor<1x40x1xi32> {
  // expected-error @+1 {{bitmask dimension 2 is 1, expected 2 (32 mask positions per word)}}
  %b = spsparse.bitmask %m : tensor<1x40x40xi1> -> tensor<1x40x1xi32>
  return %b : tensor<1x40x1xi32>
}

// -----

// Bitmask words are i32.
func.func @f(%m: tensor<1x40x40xi1>) -> tensor<1x40x1xi64> {
  // expected-error @+1 {{result #0 must be ranked tensor of 32-bit signless integer values}}
  %b = spsparse.bitmask %m : tensor<1x40x40xi1> -> tensor<1x40x1xi64>
  return %b : tensor<1x40x1xi64>
}

// -----

// The granularity cannot be deeper than the mask.
func.func @f(%b: tensor<197xi32>) -> (tensor<1xi32>, tensor<i32>) {
  // expected-error @+1 {{granularity of rank 2 is deeper than the rank-1 mask}}
  %t, %c = spsparse.distiles %b {granularity = #spsparse.granularity<[2, 2]>, width = 6300 : i64} : tensor<197xi32> -> tensor<1xi32>, tensor<i32>
  return %t, %c : tensor<1xi32>, tensor<i32>
}

// -----

// The width must pack into the bitmask's words.
func.func @f(%b: tensor<1x5x1xi32>) -> (tensor<9xi32>, tensor<i32>) {
  // expected-error @+1 {{a mask of width 40 packs into 2 words, but the bitmask has 1}}
  %t, %c = spsparse.distiles %b {granularity = #spsparse.granularity<[2, 2]>, width = 40 : i64} : tensor<1x5x1xi32> -> tensor<9xi32>, tensor<i32>
  return %t, %c : tensor<9xi32>, tensor<i32>
}

// -----

// One tile-list slot per tile of the grid (Fig. 5: 3x3 tiles).
func.func @f(%b: tensor<1x5x1xi32>) -> (tensor<4xi32>, tensor<i32>) {
  // expected-error @+1 {{expects a tile list of capacity 9 (one slot per tile of the grid), got 'tensor<4xi32>'}}
  %t, %c = spsparse.distiles %b {granularity = #spsparse.granularity<[2, 2]>, width = 5 : i64} : tensor<1x5x1xi32> -> tensor<4xi32>, tensor<i32>
  return %t, %c : tensor<4xi32>, tensor<i32>
}

// -----

// The width is positive.
func.func @f(%b: tensor<1x5x1xi32>) -> (tensor<9xi32>, tensor<i32>) {
  // expected-error @+1 {{attribute 'width' failed to satisfy constraint: 64-bit signless integer attribute whose value is positive}}
  %t, %c = spsparse.distiles %b {granularity = #spsparse.granularity<[2, 2]>, width = 0 : i64} : tensor<1x5x1xi32> -> tensor<9xi32>, tensor<i32>
  return %t, %c : tensor<9xi32>, tensor<i32>
}

// -----

// Granularity sizes are positive.
func.func @f(%b: tensor<1x5x1xi32>) -> (tensor<9xi32>, tensor<i32>) {
  // expected-error @+1 {{granularity sizes must be positive, got 0}}
  %t, %c = spsparse.distiles %b {granularity = #spsparse.granularity<[0, 2]>, width = 5 : i64} : tensor<1x5x1xi32> -> tensor<9xi32>, tensor<i32>
  return %t, %c : tensor<9xi32>, tensor<i32>
}

// -----

// tile_dims must cover the granularity.
func.func @f(%tiles: tensor<9xi32>, %n: tensor<i32>, %init: tensor<1x5x5x8xf32>, %t: tensor<1x2x2x8xf32>) -> tensor<1x5x5x8xf32> {
  // expected-error @+1 {{expects at least as many 'tile_dims' as granularity sizes (2), got 1}}
  %y = spsparse.foreach_tile %tiles[%n] into %init {granularity = #spsparse.granularity<[2, 2]>, tile_dims = array<i64: 1>} : tensor<9xi32>, tensor<i32>, tensor<1x5x5x8xf32> {
  ^bb0(%h: index):
    spsparse.yield %t : tensor<1x2x2x8xf32>
  }
  return %y : tensor<1x5x5x8xf32>
}

// -----

// tile_dims index the result.
func.func @f(%tiles: tensor<9xi32>, %n: tensor<i32>, %init: tensor<1x5x5x8xf32>, %t: tensor<1x2x2x8xf32>) -> tensor<1x5x5x8xf32> {
  // expected-error @+1 {{tile dimension 4 is out of range for 'tensor<1x5x5x8xf32>'}}
  %y = spsparse.foreach_tile %tiles[%n] into %init {granularity = #spsparse.granularity<[2, 2]>, tile_dims = array<i64: 0, 1, 4>} : tensor<9xi32>, tensor<i32>, tensor<1x5x5x8xf32> {
  ^bb0(%a: index, %h: index, %w: index):
    spsparse.yield %t : tensor<1x2x2x8xf32>
  }
  return %y : tensor<1x5x5x8xf32>
}

// -----

// tile_dims are strictly increasing.
func.func @f(%tiles: tensor<9xi32>, %n: tensor<i32>, %init: tensor<1x5x5x8xf32>, %t: tensor<1x2x2x8xf32>) -> tensor<1x5x5x8xf32> {
  // expected-error @+1 {{expects strictly increasing 'tile_dims'}}
  %y = spsparse.foreach_tile %tiles[%n] into %init {granularity = #spsparse.granularity<[2, 2]>, tile_dims = array<i64: 0, 2, 1>} : tensor<9xi32>, tensor<i32>, tensor<1x5x5x8xf32> {
  ^bb0(%a: index, %h: index, %w: index):
    spsparse.yield %t : tensor<1x2x2x8xf32>
  }
  return %y : tensor<1x5x5x8xf32>
}

// -----

// The tile list must have one slot per tile (4x4 granularity: 2x2 tiles).
func.func @f(%tiles: tensor<9xi32>, %n: tensor<i32>, %init: tensor<1x5x5x8xf32>, %t: tensor<1x2x2x8xf32>) -> tensor<1x5x5x8xf32> {
  // expected-error @+1 {{expects a tile list of capacity 4 (one slot per tile of the grid), got 'tensor<9xi32>'}}
  %y = spsparse.foreach_tile %tiles[%n] into %init {granularity = #spsparse.granularity<[4, 4]>, tile_dims = array<i64: 0, 1, 2>} : tensor<9xi32>, tensor<i32>, tensor<1x5x5x8xf32> {
  ^bb0(%a: index, %h: index, %w: index):
    spsparse.yield %t : tensor<1x2x2x8xf32>
  }
  return %y : tensor<1x5x5x8xf32>
}

// -----

// The body takes one index per tile dimension.
func.func @f(%tiles: tensor<9xi32>, %n: tensor<i32>, %init: tensor<1x5x5x8xf32>, %t: tensor<1x2x2x8xf32>) -> tensor<1x5x5x8xf32> {
  // expected-error @+1 {{expects the body to take 3 index arguments (the tile origin)}}
  %y = spsparse.foreach_tile %tiles[%n] into %init {granularity = #spsparse.granularity<[2, 2]>, tile_dims = array<i64: 0, 1, 2>} : tensor<9xi32>, tensor<i32>, tensor<1x5x5x8xf32> {
  ^bb0(%h: index, %w: index):
    spsparse.yield %t : tensor<1x2x2x8xf32>
  }
  return %y : tensor<1x5x5x8xf32>
}

// -----

// The body yields one granularity-sized tile.
func.func @f(%tiles: tensor<9xi32>, %n: tensor<i32>, %init: tensor<1x5x5x8xf32>, %t: tensor<1x4x4x8xf32>) -> tensor<1x5x5x8xf32> {
  %y = spsparse.foreach_tile %tiles[%n] into %init {granularity = #spsparse.granularity<[2, 2]>, tile_dims = array<i64: 0, 1, 2>} : tensor<9xi32>, tensor<i32>, tensor<1x5x5x8xf32> {
  ^bb0(%a: index, %h: index, %w: index):
    // expected-error @+1 {{yields 'tensor<1x4x4x8xf32>' but the granularity makes tiles of 'tensor<1x2x2x8xf32>'}}
    spsparse.yield %t : tensor<1x4x4x8xf32>
  }
  return %y : tensor<1x5x5x8xf32>
}

// -----

// The body must yield a tile.
func.func @f(%tiles: tensor<9xi32>, %n: tensor<i32>, %init: tensor<1x5x5x8xf32>, %t: tensor<1x2x2x8xf32>) -> tensor<1x5x5x8xf32> {
  %y = spsparse.foreach_tile %tiles[%n] into %init {granularity = #spsparse.granularity<[2, 2]>, tile_dims = array<i64: 0, 1, 2>} : tensor<9xi32>, tensor<i32>, tensor<1x5x5x8xf32> {
  ^bb0(%a: index, %h: index, %w: index):
    // expected-error @+1 {{expects to yield exactly one tile}}
    spsparse.yield
  }
  return %y : tensor<1x5x5x8xf32>
}

// -----

// yield belongs in foreach_tile or polykernel.
func.func @f(%t: tensor<2xf32>) {
  // expected-error @+1 {{'spsparse.yield' op expects parent op to be one of 'spsparse.foreach_tile, spsparse.polykernel'}}
  spsparse.yield %t : tensor<2xf32>
}

// -----

// A polykernel has at least one variant.
// expected-error @+1 {{'spsparse.polykernel' op expects at least one variant}}
spsparse.polykernel @pk : (tensor<4xf32>) -> tensor<4xf32> {
^bb0(%x: tensor<4xf32>):
  spsparse.yield %x : tensor<4xf32>
}

// -----

// The body's arguments are the inputs.
// expected-error @+1 {{body arguments must have the polykernel's input types 'tensor<4xf32>'}}
spsparse.polykernel @pk : (tensor<4xf32>) -> tensor<4xf32> {
^bb0(%x: tensor<8xf32>):
  spsparse.polykernel.variant @a granularity <[4]> schedule <>
  spsparse.yield %x : tensor<8xf32>
}

// -----

// The body yields the results.
spsparse.polykernel @pk : (tensor<4xf32>) -> tensor<4xf32> {
^bb0(%x: tensor<4xf32>):
  // expected-error @+1 {{block with no terminator}}
  spsparse.polykernel.variant @a granularity <[4]> schedule <>
}

// -----

spsparse.polykernel @pk : (tensor<4xf32>) -> tensor<4xf32> {
^bb0(%x: tensor<4xf32>):
  spsparse.polykernel.variant @a granularity <[4]> schedule <>
  %c = arith.constant dense<0.0> : tensor<8xf32>
  // expected-error @+1 {{yields 'tensor<8xf32>' but the polykernel returns 'tensor<4xf32>'}}
  spsparse.yield %c : tensor<8xf32>
}

// -----

// Variants come before the computation.
spsparse.polykernel @pk : (tensor<4xf32>) -> tensor<4xf32> {
^bb0(%x: tensor<4xf32>):
  %c = arith.constant 0 : i32
  // expected-error @+1 {{must precede the polykernel's computation}}
  spsparse.polykernel.variant @a granularity <[4]> schedule <>
  spsparse.yield %x : tensor<4xf32>
}

// -----

// Only the last variant may lack a tile range and a cover.
spsparse.polykernel @pk : (tensor<4xf32>) -> tensor<4xf32> {
^bb0(%x: tensor<4xf32>):
  // expected-error @+1 {{without a 'tiles' range or a 'cover' must be the last variant (the fallback)}}
  spsparse.polykernel.variant @a granularity <[2, 2]> schedule <>
  spsparse.polykernel.variant @b granularity <[4, 4]> schedule <>
  spsparse.yield %x : tensor<4xf32>
}

// -----

// The last variant is the fallback: no range.
spsparse.polykernel @pk : (tensor<4xf32>) -> tensor<4xf32> {
^bb0(%x: tensor<4xf32>):
  spsparse.polykernel.variant @a granularity <[2, 2]> schedule <> tiles [0, 10]
  // expected-error @+1 {{is the last variant and must have no 'tiles' range}}
  spsparse.polykernel.variant @b granularity <[4, 4]> schedule <> tiles [11, 20]
  spsparse.yield %x : tensor<4xf32>
}

// -----

// Nor a cover.
spsparse.polykernel @pk : (tensor<4xf32>) -> tensor<4xf32> {
^bb0(%x: tensor<4xf32>):
  spsparse.polykernel.variant @a granularity <[2, 2]> schedule <> tiles [0, 10]
  // expected-error @+1 {{is the last variant and must have no 'tiles' range or 'cover'}}
  spsparse.polykernel.variant @b granularity <[4, 4]> schedule <> cover <[4, 4] over [1, 1] in [0, 150]>
  spsparse.yield %x : tensor<4xf32>
}

// -----

// A cover compares granularities of the variant's rank.
spsparse.polykernel @pk : (tensor<4xf32>) -> tensor<4xf32> {
^bb0(%x: tensor<4xf32>):
  // expected-error @+1 {{has a cover of rank-1 granularities, but its own has rank 2}}
  spsparse.polykernel.variant @a granularity <[2, 2]> schedule <> cover <[4] over [1] in [0, 150]>
  spsparse.polykernel.variant @b granularity <[4, 4]> schedule <>
  spsparse.yield %x : tensor<4xf32>
}

// -----

// expected-error @+1 {{cover compares granularities of one rank, got 2 and 1 sizes}}
func.func private @f() attributes {c = #spsparse.cover<[4, 4] over [1] in [0, 150]>}

// -----

// expected-error @+1 {{cover range [150, 100] must have 0 <= lo <= 65536 and hi = -1 (unbounded) or lo <= hi <= 65536}}
func.func private @f() attributes {c = #spsparse.cover<[4, 4] over [1, 1] in [150, 100]>}

// -----

// expected-error @+1 {{cover range [0, 100000] must have}}
func.func private @f() attributes {c = #spsparse.cover<[4, 4] over [1, 1] in [0, 100000]>}

// -----

// expected-error @+1 {{granularity sizes must be positive, got 0}}
func.func private @f() attributes {c = #spsparse.cover<[4, 0] over [1, 1] in [0, 150]>}

// -----

// expected-error @+1 {{cover granularities may have at most 65536 positions per tile}}
func.func private @f() attributes {c = #spsparse.cover<[512, 512] over [1, 1] in [0, 150]>}

// -----

// A tile range is [lo, hi].
spsparse.polykernel @pk : (tensor<4xf32>) -> tensor<4xf32> {
^bb0(%x: tensor<4xf32>):
  // expected-error @+1 {{expects 'tiles' to be an inclusive range [lo, hi]}}
  spsparse.polykernel.variant @a granularity <[2, 2]> schedule <> tiles [0, 10, 20]
  spsparse.polykernel.variant @b granularity <[4, 4]> schedule <>
  spsparse.yield %x : tensor<4xf32>
}

// -----

// A tile range is non-empty.
spsparse.polykernel @pk : (tensor<4xf32>) -> tensor<4xf32> {
^bb0(%x: tensor<4xf32>):
  // expected-error @+1 {{has an empty or negative tile range [10, 5]}}
  spsparse.polykernel.variant @a granularity <[2, 2]> schedule <> tiles [10, 5]
  spsparse.polykernel.variant @b granularity <[4, 4]> schedule <>
  spsparse.yield %x : tensor<4xf32>
}

// -----

// A variant lives in a polykernel.
// expected-error @+1 {{'spsparse.polykernel.variant' op expects parent op 'spsparse.polykernel'}}
spsparse.polykernel.variant @a granularity <[2, 2]> schedule <>

// -----

// dispatch names an existing polykernel.
func.func @f(%x: tensor<4xf32>) -> tensor<4xf32> {
  // expected-error @+1 {{'@nope' does not reference a valid polykernel}}
  %y = spsparse.polykernel.dispatch @nope(%x) : (tensor<4xf32>) -> tensor<4xf32>
  return %y : tensor<4xf32>
}

// -----

// dispatch types match the polykernel's.
spsparse.polykernel @pk : (tensor<4xf32>) -> tensor<4xf32> {
^bb0(%x: tensor<4xf32>):
  spsparse.polykernel.variant @b granularity <[4]> schedule <>
  spsparse.yield %x : tensor<4xf32>
}
func.func @f(%x: tensor<8xf32>) -> tensor<8xf32> {
  // expected-error @+1 {{operand/result types do not match polykernel @pk of type '(tensor<4xf32>) -> tensor<4xf32>'}}
  %y = spsparse.polykernel.dispatch @pk(%x) : (tensor<8xf32>) -> tensor<8xf32>
  return %y : tensor<8xf32>
}

// -----

// Schedule: vector width 1, 2 or 4.
// expected-error @+1 {{schedule knob 'vector_width' must be 1, 2 or 4, got 3}}
func.func @f() attributes {s = #spsparse.schedule<vector_width = 3>} { return }

// -----

// Schedule: whole warps, at most 1024 threads.
// expected-error @+1 {{schedule knob 'threads' must be a multiple of 32 and at most 1024, got 100}}
func.func @f() attributes {s = #spsparse.schedule<threads = 100>} { return }

// -----

// Schedule: register tiles divide the channel block.
// expected-error @+1 {{'channel_block' (6) must be a multiple of 'thread_channels' (4)}}
func.func @f() attributes {s = #spsparse.schedule<channel_block = 6>} { return }

// -----

// Schedule: knobs are positive.
// expected-error @+1 {{schedule knob 'unroll' must be positive, got 0}}
func.func @f() attributes {s = #spsparse.schedule<unroll = 0>} { return }

// -----

// Schedule: blocks is non-negative.
// expected-error @+1 {{schedule knob 'blocks' must be >= 0, got -1}}
func.func @f() attributes {s = #spsparse.schedule<blocks = -1>} { return }

// -----

// Schedule: min_blocks is non-negative.
// expected-error @+1 {{schedule knob 'min_blocks' must be >= 0, got -2}}
func.func @f() attributes {s = #spsparse.schedule<split_k = 4, min_blocks = -2>} { return }

// -----

// Schedule: the adaptive split needs more than one way to choose from.
// expected-error @+1 {{schedule knob 'min_blocks' needs 'split_k' > 1 (the most ways the kernel may split)}}
func.func @f() attributes {s = #spsparse.schedule<min_blocks = 264>} { return }

// -----

// Schedule: a tf32 fragment spans 8 output and 8 reduction channels.
// expected-error @+1 {{schedule knob 'tf32' needs 'channel_block' and 'reduction_block' to be multiples of 8 (the mma fragment), got 32 and 4}}
func.func @f() attributes {s = #spsparse.schedule<channel_block = 32, reduction_block = 4, tf32 = true>} { return }

// -----

// Device: capacities are positive.
// expected-error @+1 {{device field 'sms' must be positive, got 0}}
func.func @f() attributes {d = #spsparse.device<name = "x", sms = 0, threads_per_sm = 2048, shared_per_sm = 1, registers_per_sm = 1, blocks_per_sm = 1, global_bandwidth = 1.0, shared_bandwidth = 1.0, alpha = 0.0, gamma = 0.0>} { return }

// -----

// Device: bandwidths are positive.
// expected-error @+1 {{device bandwidths must be positive}}
func.func @f() attributes {d = #spsparse.device<name = "x", sms = 1, threads_per_sm = 2048, shared_per_sm = 1, registers_per_sm = 1, blocks_per_sm = 1, global_bandwidth = 0.0, shared_bandwidth = 1.0, alpha = 0.0, gamma = 0.0>} { return }

// -----

// Device: alpha and gamma are non-negative.
// expected-error @+1 {{device 'alpha' and 'gamma' must be non-negative}}
func.func @f() attributes {d = #spsparse.device<name = "x", sms = 1, threads_per_sm = 2048, shared_per_sm = 1, registers_per_sm = 1, blocks_per_sm = 1, global_bandwidth = 1.0, shared_bandwidth = 1.0, alpha = -1.0, gamma = 0.0>} { return }

// -----

// Device: a name is required.
// expected-error @+1 {{device needs a non-empty name}}
func.func @f() attributes {d = #spsparse.device<name = "", sms = 1, threads_per_sm = 2048, shared_per_sm = 1, registers_per_sm = 1, blocks_per_sm = 1, global_bandwidth = 1.0, shared_bandwidth = 1.0, alpha = 0.0, gamma = 0.0>} { return }

// -----

// Discardable spsparse attributes are checked.
func.func @f(%x: tensor<1x8x8x4xf32>, %w: tensor<1x1x4x4xf32>, %m: tensor<8x8xi1>) -> tensor<1x8x8x4xf32> {
  // expected-error @+1 {{'spsparse.granularity' must be a #spsparse.granularity, got array<i64: 2, 2>}}
  %y = spsparse.masked_conv2d %x, %w mask %m {spsparse.granularity = array<i64: 2, 2>} : (tensor<1x8x8x4xf32>, tensor<1x1x4x4xf32>, tensor<8x8xi1>) -> tensor<1x8x8x4xf32>
  return %y : tensor<1x8x8x4xf32>
}

// -----

// expected-error @+1 {{'spsparse.schedule' must be a #spsparse.schedule, got 4 : i64}}
func.func @f() attributes {spsparse.schedule = 4} { return }

// -----

// expected-error @+1 {{'spsparse.device' must be a #spsparse.device, got "h100"}}
func.func @f() attributes {spsparse.device = "h100"} { return }

// -----

// expected-error @+1 {{unknown spsparse attribute 'spsparse.granularty'}}
func.func @f() attributes {spsparse.granularty = #spsparse.granularity<[2, 2]>} { return }

// -----

// expected-error @+1 {{'spsparse.probe' must be {kind = "fma" | "fma_chain" | "shared" | "copy", work = N > 0}, got {kind = "fma", work = 0 : i64}}}
func.func @probe_without_work() attributes {spsparse.probe = {kind = "fma", work = 0 : i64}} {
  return
}

// -----

// expected-error @+1 {{'spsparse.probe' must be {kind = "fma" | "fma_chain" | "shared" | "copy", work = N > 0}, got {kind = "mma", work = 4 : i64}}}
func.func @probe_of_unknown_kind() attributes {spsparse.probe = {kind = "mma", work = 4 : i64}} {
  return
}

// -----

// expected-error @+1 {{'spsparse.writes_zeros' must be a unit attribute}}
func.func @writes_zeros_with_a_value() attributes {spsparse.writes_zeros = true} {
  return
}

// -----

// expected-error @+1 {{'spsparse.fills' must be {before = [kernels], alongside = [kernels]} (either may be absent), got {after = [@m::@k]}}}
func.func @fills_at_an_unknown_point() attributes {spsparse.fills = {after = [@m::@k]}} {
  return
}

// -----

// expected-error @+1 {{'spsparse.fills' must be {before = [kernels], alongside = [kernels]} (either may be absent), got {alongside = ["k"]}}}
func.func @fills_not_kernel_symbols() attributes {spsparse.fills = {alongside = ["k"]}} {
  return
}
