// Granularity tiling: masked op -> bitmask -> distiles -> foreach_tile whose
// body is the same op on one tile, reading its window with phantom padding.
// RUN: dynaspa-opt %s -split-input-file -spsparse-tile-by-granularity | FileCheck %s
// RUN: dynaspa-opt %s -split-input-file -spsparse-tile-by-granularity=granularity=4,4 | FileCheck %s --check-prefix=OPTION

// The paper's Fig. 5: a 5x5 output in 2x2 tiles is a 3x3 grid. The 3x3
// convolution with padding 1 reads a 4x4 window per tile (halo of 1), starting
// one row and column before the tile.
// CHECK-LABEL: func @fig5
// CHECK-SAME: (%[[X:.*]]: tensor<1x5x5x3xf32>, %[[W:.*]]: tensor<3x3x3x4xf32>, %[[M:.*]]: tensor<5x5xi1>)
// CHECK: %[[M3:.*]] = linalg.broadcast ins(%[[M]] : tensor<5x5xi1>) outs(%{{.*}} : tensor<1x5x5xi1>) dimensions = [0]
// CHECK: %[[BITS:.*]] = spsparse.bitmask %[[M3]] : tensor<1x5x5xi1> -> tensor<1x5x1xi32>
// CHECK: %[[TILES:.*]], %[[COUNT:.*]] = spsparse.distiles %[[BITS]] {granularity = #spsparse.granularity<[2, 2]>, width = 5 : i64} : tensor<1x5x1xi32> -> tensor<9xi32>, tensor<i32>
// CHECK: %[[ZEROS:.*]] = linalg.fill
// CHECK: %[[Y:.*]] = spsparse.foreach_tile %[[TILES]][%[[COUNT]]] into %[[ZEROS]] {granularity = #spsparse.granularity<[2, 2]>, tile_dims = array<i64: 0, 1, 2>}
// CHECK-NEXT: ^bb0(%[[N:.*]]: index, %[[H:.*]]: index, %[[WO:.*]]: index):
// CHECK: %[[MT:.*]] = tensor.pad %{{.*}} low[0, %{{.*}}, %{{.*}}] high[0, %{{.*}}, %{{.*}}]
// CHECK: } : tensor<1x?x?xi1> to tensor<1x2x2xi1>
// CHECK: %[[IH:.*]] = arith.subi %{{.*}}, %c1 : index
// CHECK: tensor.extract_slice %[[X]][%[[N]], %{{.*}}, %{{.*}}, 0] [1, %{{.*}}, %{{.*}}, 3] [1, 1, 1, 1] : tensor<1x5x5x3xf32> to tensor<1x?x?x3xf32>
// CHECK: %[[WIN:.*]] = tensor.pad
// CHECK: } : tensor<1x?x?x3xf32> to tensor<1x4x4x3xf32>
// CHECK: %[[T:.*]] = spsparse.masked_conv2d %[[WIN]], %[[W]] mask %[[MT]] : (tensor<1x4x4x3xf32>, tensor<3x3x3x4xf32>, tensor<1x2x2xi1>) -> tensor<1x2x2x4xf32>
// CHECK-NEXT: spsparse.yield %[[T]] : tensor<1x2x2x4xf32>
// CHECK: return %[[Y]]
// OPTION-LABEL: func @fig5
// OPTION: spsparse.distiles {{.*}}granularity = #spsparse.granularity<[2, 2]>
func.func @fig5(%x: tensor<1x5x5x3xf32>, %w: tensor<3x3x3x4xf32>, %m: tensor<5x5xi1>) -> tensor<1x5x5x4xf32> {
  %y = spsparse.masked_conv2d %x, %w mask %m
         {padding = array<i64: 1, 1, 1, 1>, spsparse.granularity = #spsparse.granularity<[2, 2]>}
       : (tensor<1x5x5x3xf32>, tensor<3x3x3x4xf32>, tensor<5x5xi1>) -> tensor<1x5x5x4xf32>
  return %y : tensor<1x5x5x4xf32>
}

// -----

// Stride 2, NCHW, batch 2, bias: a 2x3 tile of a 40x40 output reads
// (2-1)*2+3 = 5 rows and (3-1)*2+3 = 7 columns of the 80x80 input; the tile
// list has 2 * 20 * 14 slots (40/3 rounds up).
// CHECK-LABEL: func @s2_nchw
// CHECK-NOT: linalg.broadcast ins(%{{.*}} : tensor<2x40x40xf32>)
// CHECK: spsparse.distiles {{.*}} : tensor<2x40x2xi32> -> tensor<560xi32>, tensor<i32>
// CHECK: spsparse.foreach_tile {{.*}}tile_dims = array<i64: 0, 2, 3>
// CHECK: } : tensor<1x16x?x?xf32> to tensor<1x16x5x7xf32>
// CHECK: spsparse.masked_conv2d %{{.*}}, %{{.*}} mask %{{.*}} bias %{{.*}} {layout = #spsparse.layout<nchw>, strides = array<i64: 2, 2>}
// CHECK-SAME: (tensor<1x16x5x7xf32>, tensor<32x16x3x3xf32>, tensor<1x2x3xf32>, tensor<32xf32>) -> tensor<1x32x2x3xf32>
// OPTION-LABEL: func @s2_nchw
// OPTION: granularity = #spsparse.granularity<[2, 3]>
func.func @s2_nchw(%x: tensor<2x16x80x80xf32>, %w: tensor<32x16x3x3xf32>, %m: tensor<2x40x40xf32>,
                   %b: tensor<32xf32>) -> tensor<2x32x40x40xf32> {
  %y = spsparse.masked_conv2d %x, %w mask %m bias %b
         {layout = #spsparse.layout<nchw>, strides = array<i64: 2, 2>, padding = array<i64: 1, 1, 1, 1>,
          spsparse.granularity = #spsparse.granularity<[2, 3]>}
       : (tensor<2x16x80x80xf32>, tensor<32x16x3x3xf32>, tensor<2x40x40xf32>, tensor<32xf32>) -> tensor<2x32x40x40xf32>
  return %y : tensor<2x32x40x40xf32>
}

// -----

// Token tiles: 16 rows of Q per tile (197 = 12 * 16 + 5: the last tile is
// mostly phantom); K^T is read whole.
// CHECK-LABEL: func @attention
// CHECK: spsparse.bitmask %{{.*}} : tensor<6x197xi1> -> tensor<6x7xi32>
// CHECK: spsparse.distiles {{.*}}width = 197 : i64} : tensor<6x7xi32> -> tensor<78xi32>, tensor<i32>
// CHECK: spsparse.foreach_tile {{.*}}tile_dims = array<i64: 0, 1>}
// CHECK: } : tensor<1x?x64xf32> to tensor<1x16x64xf32>
// CHECK: tensor.extract_slice %{{.*}}[%{{.*}}, 0, 0] [1, 64, 197] [1, 1, 1] : tensor<6x64x197xf32> to tensor<1x64x197xf32>
// CHECK: spsparse.masked_batch_matmul {{.*}} : (tensor<1x16x64xf32>, tensor<1x64x197xf32>, tensor<1x16xi1>, tensor<1x197xi1>) -> tensor<1x16x197xf32>
// OPTION-LABEL: func @attention
// OPTION: granularity = #spsparse.granularity<[16]>
func.func @attention(%q: tensor<6x197x64xf32>, %k: tensor<6x64x197xf32>, %t: tensor<6x197xi1>) -> tensor<6x197x197xf32> {
  %s = spsparse.masked_batch_matmul %q, %k row_mask %t col_mask %t
         {spsparse.granularity = #spsparse.granularity<[16]>}
       : (tensor<6x197x64xf32>, tensor<6x64x197xf32>, tensor<6x197xi1>, tensor<6x197xi1>) -> tensor<6x197x197xf32>
  return %s : tensor<6x197x197xf32>
}

// -----

// Without an attribute or an option nothing is tiled; with the option, 1x1
// convolutions read exactly their tile (no halo, no padding needed in H/W
// when the tile is inside).
// CHECK-LABEL: func @no_granularity
// CHECK-NOT: spsparse.foreach_tile
// OPTION-LABEL: func @no_granularity
// OPTION: spsparse.distiles {{.*}} : tensor<1x8x1xi32> -> tensor<4xi32>, tensor<i32>
// OPTION: spsparse.masked_conv2d {{.*}} : (tensor<1x4x4x4xf32>, tensor<1x1x4x8xf32>, tensor<1x4x4xi1>) -> tensor<1x4x4x8xf32>
func.func @no_granularity(%x: tensor<1x8x8x4xf32>, %w: tensor<1x1x4x8xf32>, %m: tensor<1x8x8xi1>) -> tensor<1x8x8x8xf32> {
  %y = spsparse.masked_conv2d %x, %w mask %m
       : (tensor<1x8x8x4xf32>, tensor<1x1x4x8xf32>, tensor<1x8x8xi1>) -> tensor<1x8x8x8xf32>
  return %y : tensor<1x8x8x8xf32>
}

// -----

// Dynamic shapes are not tiled.
// CHECK-LABEL: func @dynamic
// CHECK-NOT: spsparse.foreach_tile
// OPTION-LABEL: func @dynamic
// OPTION-NOT: spsparse.foreach_tile
func.func @dynamic(%x: tensor<?x8x8x4xf32>, %w: tensor<1x1x4x8xf32>, %m: tensor<8x8xi1>) -> tensor<?x8x8x8xf32> {
  %y = spsparse.masked_conv2d %x, %w mask %m {spsparse.granularity = #spsparse.granularity<[2, 2]>}
       : (tensor<?x8x8x4xf32>, tensor<1x1x4x8xf32>, tensor<8x8xi1>) -> tensor<?x8x8x8xf32>
  return %y : tensor<?x8x8x8xf32>
}
