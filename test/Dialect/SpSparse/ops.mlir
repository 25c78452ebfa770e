// Round trip of every spsparse op and attribute: custom form, and the generic
// form re-parsed.
// RUN: dynaspa-opt %s -split-input-file | dynaspa-opt -split-input-file | FileCheck %s
// RUN: dynaspa-opt %s -split-input-file -mlir-print-op-generic | dynaspa-opt -split-input-file | FileCheck %s

// CHECK-LABEL: func @conv3x3_nhwc
// CHECK-SAME: (%[[X:.*]]: tensor<1x40x40x64xf32>, %[[W:.*]]: tensor<3x3x64x128xf32>, %[[M:.*]]: tensor<40x40xi1>, %[[B:.*]]: tensor<128xf32>)
// CHECK: spsparse.masked_conv2d %[[X]], %[[W]] mask %[[M]] bias %[[B]] {padding = array<i64: 1, 1, 1, 1>}
// CHECK-SAME: -> tensor<1x40x40x128xf32>
func.func @conv3x3_nhwc(%x: tensor<1x40x40x64xf32>, %w: tensor<3x3x64x128xf32>,
                        %m: tensor<40x40xi1>, %b: tensor<128xf32>) -> tensor<1x40x40x128xf32> {
  %y = spsparse.masked_conv2d %x, %w mask %m bias %b {padding = array<i64: 1, 1, 1, 1>}
       : (tensor<1x40x40x64xf32>, tensor<3x3x64x128xf32>, tensor<40x40xi1>, tensor<128xf32>)
         -> tensor<1x40x40x128xf32>
  return %y : tensor<1x40x40x128xf32>
}

// -----

// NCHW, stride 2, per-sample mask of 0/1 floats, no bias.
// CHECK-LABEL: func @conv3x3s2_nchw
// CHECK: spsparse.masked_conv2d %{{.*}}, %{{.*}} mask %{{.*}} {layout = #spsparse.layout<nchw>, padding = array<i64: 1, 1, 1, 1>, strides = array<i64: 2, 2>}
// CHECK-SAME: (tensor<4x128x80x80xf32>, tensor<128x128x3x3xf32>, tensor<4x40x40xf32>) -> tensor<4x128x40x40xf32>
func.func @conv3x3s2_nchw(%x: tensor<4x128x80x80xf32>, %w: tensor<128x128x3x3xf32>,
                          %m: tensor<4x40x40xf32>) -> tensor<4x128x40x40xf32> {
  %y = spsparse.masked_conv2d %x, %w mask %m
         {layout = #spsparse.layout<nchw>, strides = array<i64: 2, 2>, padding = array<i64: 1, 1, 1, 1>}
       : (tensor<4x128x80x80xf32>, tensor<128x128x3x3xf32>, tensor<4x40x40xf32>) -> tensor<4x128x40x40xf32>
  return %y : tensor<4x128x40x40xf32>
}

// -----

// 1x1 with a uint8 mask, dilation and a dynamic batch.
// CHECK-LABEL: func @conv1x1_dynamic_batch
// CHECK: spsparse.masked_conv2d {{.*}} {dilations = array<i64: 2, 2>}
// CHECK-SAME: (tensor<?x40x40x256xf16>, tensor<1x1x256x1024xf16>, tensor<?x40x40xi8>) -> tensor<?x40x40x1024xf16>
func.func @conv1x1_dynamic_batch(%x: tensor<?x40x40x256xf16>, %w: tensor<1x1x256x1024xf16>,
                                 %m: tensor<?x40x40xi8>) -> tensor<?x40x40x1024xf16> {
  %y = spsparse.masked_conv2d %x, %w mask %m {dilations = array<i64: 2, 2>}
       : (tensor<?x40x40x256xf16>, tensor<1x1x256x1024xf16>, tensor<?x40x40xi8>) -> tensor<?x40x40x1024xf16>
  return %y : tensor<?x40x40x1024xf16>
}

// -----

// CHECK-LABEL: func @attention
// CHECK: spsparse.masked_batch_matmul %{{.*}}, %{{.*}} row_mask %[[T:.*]] col_mask %[[T]]
// CHECK: spsparse.masked_batch_matmul %{{.*}}, %{{.*}} row_mask %{{.*}} :
func.func @attention(%q: tensor<6x197x64xf32>, %kt: tensor<6x64x197xf32>,
                     %v: tensor<6x197x64xf32>, %t: tensor<6x197xi1>) -> tensor<6x197x64xf32> {
  %s = spsparse.masked_batch_matmul %q, %kt row_mask %t col_mask %t
       : (tensor<6x197x64xf32>, tensor<6x64x197xf32>, tensor<6x197xi1>, tensor<6x197xi1>) -> tensor<6x197x197xf32>
  %o = spsparse.masked_batch_matmul %s, %v row_mask %t
       : (tensor<6x197x197xf32>, tensor<6x197x64xf32>, tensor<6x197xi1>) -> tensor<6x197x64xf32>
  return %o : tensor<6x197x64xf32>
}

// -----

// The DISTile form of the paper's Fig. 5: a 5x5 mask in 2x2 tiles.
// CHECK-LABEL: func @distiles_fig5
// CHECK: %[[BITS:.*]] = spsparse.bitmask %{{.*}} : tensor<1x5x5xi1> -> tensor<1x5x1xi32>
// CHECK: %[[TILES:.*]], %[[COUNT:.*]] = spsparse.distiles %[[BITS]] {granularity = #spsparse.granularity<[2, 2]>, width = 5 : i64} : tensor<1x5x1xi32> -> tensor<9xi32>, tensor<i32>
// CHECK: spsparse.foreach_tile %[[TILES]][%[[COUNT]]] into %{{.*}} {granularity = #spsparse.granularity<[2, 2]>, tile_dims = array<i64: 0, 1, 2>}
// CHECK-NEXT: ^bb0(%{{.*}}: index, %{{.*}}: index, %{{.*}}: index):
// CHECK: spsparse.yield %{{.*}} : tensor<1x2x2x8xf32>
func.func @distiles_fig5(%m: tensor<1x5x5xi1>, %init: tensor<1x5x5x8xf32>,
                         %t: tensor<1x2x2x8xf32>) -> tensor<1x5x5x8xf32> {
  %bits = spsparse.bitmask %m : tensor<1x5x5xi1> -> tensor<1x5x1xi32>
  %tiles, %count = spsparse.distiles %bits {granularity = #spsparse.granularity<[2, 2]>, width = 5 : i64}
      : tensor<1x5x1xi32> -> tensor<9xi32>, tensor<i32>
  %y = spsparse.foreach_tile %tiles[%count] into %init
      {granularity = #spsparse.granularity<[2, 2]>, tile_dims = array<i64: 0, 1, 2>}
      : tensor<9xi32>, tensor<i32>, tensor<1x5x5x8xf32> {
  ^bb0(%n: index, %h: index, %w: index):
    spsparse.yield %t : tensor<1x2x2x8xf32>
  }
  return %y : tensor<1x5x5x8xf32>
}

// -----

// Token tiles: a [B, M] mask with a rank-1 granularity; the batch is tiled by 1.
// CHECK-LABEL: func @token_tiles
// CHECK: spsparse.distiles {{.*}} : tensor<6x7xi32> -> tensor<78xi32>, tensor<i32>
// CHECK: spsparse.foreach_tile {{.*}} : tensor<78xi32>, tensor<i32>, tensor<6x197x64xf32>
// CHECK: spsparse.yield {{.*}} : tensor<1x16x64xf32>
func.func @token_tiles(%m: tensor<6x197xi1>, %init: tensor<6x197x64xf32>,
                       %t: tensor<1x16x64xf32>) -> tensor<6x197x64xf32> {
  %bits = spsparse.bitmask %m : tensor<6x197xi1> -> tensor<6x7xi32>
  %tiles, %count = spsparse.distiles %bits {granularity = #spsparse.granularity<[16]>, width = 197 : i64}
      : tensor<6x7xi32> -> tensor<78xi32>, tensor<i32>
  %y = spsparse.foreach_tile %tiles[%count] into %init
      {granularity = #spsparse.granularity<[16]>, tile_dims = array<i64: 0, 1>}
      : tensor<78xi32>, tensor<i32>, tensor<6x197x64xf32> {
  ^bb0(%b: index, %i: index):
    spsparse.yield %t : tensor<1x16x64xf32>
  }
  return %y : tensor<6x197x64xf32>
}

// -----

// CHECK-LABEL: spsparse.polykernel @conv3x3 : (tensor<1x40x40x64xf32>, tensor<3x3x64x64xf32>, tensor<1x40x40xi1>) -> tensor<1x40x40x64xf32> {
// CHECK-NEXT: ^bb0(%[[X:.*]]: tensor<1x40x40x64xf32>, %[[W:.*]]: tensor<3x3x64x64xf32>, %[[M:.*]]: tensor<1x40x40xi1>):
// CHECK-NEXT: spsparse.polykernel.variant @sparse granularity <[2, 2]> schedule <channel_block = 64, threads = 256, vector_width = 4, double_buffer = true> tiles [0, 64] kernel @kernels::@conv_g2x2
// CHECK-NEXT: spsparse.polykernel.variant @dense granularity <[8, 8]> schedule <>
// CHECK-NEXT: %[[Y:.*]] = spsparse.masked_conv2d %[[X]], %[[W]] mask %[[M]]
// CHECK-NEXT: spsparse.yield %[[Y]]
// CHECK-LABEL: func @dispatch
// CHECK: spsparse.polykernel.dispatch @conv3x3(%{{.*}}, %{{.*}}, %{{.*}}) : (tensor<1x40x40x64xf32>, tensor<3x3x64x64xf32>, tensor<1x40x40xi1>) -> tensor<1x40x40x64xf32>
spsparse.polykernel @conv3x3 : (tensor<1x40x40x64xf32>, tensor<3x3x64x64xf32>, tensor<1x40x40xi1>) -> tensor<1x40x40x64xf32> {
^bb0(%x: tensor<1x40x40x64xf32>, %w: tensor<3x3x64x64xf32>, %m: tensor<1x40x40xi1>):
  spsparse.polykernel.variant @sparse granularity <[2, 2]>
      schedule <channel_block = 64, threads = 256, vector_width = 4, double_buffer = true>
      tiles [0, 64] kernel @kernels::@conv_g2x2
  spsparse.polykernel.variant @dense granularity <[8, 8]> schedule <>
  %y = spsparse.masked_conv2d %x, %w mask %m {padding = array<i64: 1, 1, 1, 1>}
      : (tensor<1x40x40x64xf32>, tensor<3x3x64x64xf32>, tensor<1x40x40xi1>) -> tensor<1x40x40x64xf32>
  spsparse.yield %y : tensor<1x40x40x64xf32>
}
func.func @dispatch(%x: tensor<1x40x40x64xf32>, %w: tensor<3x3x64x64xf32>,
                    %m: tensor<1x40x40xi1>) -> tensor<1x40x40x64xf32> {
  %y = spsparse.polykernel.dispatch @conv3x3(%x, %w, %m)
      : (tensor<1x40x40x64xf32>, tensor<3x3x64x64xf32>, tensor<1x40x40xi1>) -> tensor<1x40x40x64xf32>
  return %y : tensor<1x40x40x64xf32>
}

// A cover, with and without a tile range.
// CHECK-LABEL: spsparse.polykernel @covered
// CHECK-NEXT: ^bb0
// CHECK-NEXT: spsparse.polykernel.variant @clustered granularity <[4, 4]> schedule <> cover <[4, 4] over [1, 1] in [0, 125]>
// CHECK-NEXT: spsparse.polykernel.variant @scattered granularity <[1, 1]> schedule <> tiles [0, 160] cover <[2, 2] over [1, 1] in [130, -1]>
// CHECK-NEXT: spsparse.polykernel.variant @rest granularity <[2, 2]> schedule <>{{$}}
spsparse.polykernel @covered : (tensor<1x40x40x64xf32>, tensor<3x3x64x64xf32>, tensor<1x40x40xi1>) -> tensor<1x40x40x64xf32> {
^bb0(%x: tensor<1x40x40x64xf32>, %w: tensor<3x3x64x64xf32>, %m: tensor<1x40x40xi1>):
  spsparse.polykernel.variant @clustered granularity <[4, 4]> schedule <>
      cover <[4, 4] over [1, 1] in [0, 125]>
  spsparse.polykernel.variant @scattered granularity <[1, 1]> schedule <>
      tiles [0, 160] cover <[2, 2] over [1, 1] in [130, -1]>
  spsparse.polykernel.variant @rest granularity <[2, 2]> schedule <>
  %y = spsparse.masked_conv2d %x, %w mask %m {padding = array<i64: 1, 1, 1, 1>}
      : (tensor<1x40x40x64xf32>, tensor<3x3x64x64xf32>, tensor<1x40x40xi1>) -> tensor<1x40x40x64xf32>
  spsparse.yield %y : tensor<1x40x40x64xf32>
}

// -----

// Attributes in a discardable position: every knob, and a device description.
// CHECK-LABEL: func @attrs
// CHECK-SAME: spsparse.device = #spsparse.device<name = "orin", sms = 16, threads_per_sm = 1536, shared_per_sm = 167936, registers_per_sm = 65536, blocks_per_sm = 16, global_bandwidth = 2.048000e+02, shared_bandwidth = 4.000000e+03, alpha = 1.250000e-02, gamma = 1.500000e+03>
// CHECK-SAME: spsparse.schedule = #spsparse.schedule<channel_block = 128, reduction_block = 16, threads = 512, thread_channels = 8, thread_pixels = 4, vector_width = 2, unroll = 4, double_buffer = true, blocks = 264, compact = true>
func.func @attrs() attributes {
  spsparse.schedule = #spsparse.schedule<channel_block = 128, reduction_block = 16, threads = 512,
      thread_channels = 8, thread_pixels = 4, vector_width = 2, unroll = 4, double_buffer = true, blocks = 264,
      compact = true>,
  spsparse.device = #spsparse.device<name = "orin", sms = 16, threads_per_sm = 1536,
      shared_per_sm = 167936, registers_per_sm = 65536, blocks_per_sm = 16,
      global_bandwidth = 204.8, shared_bandwidth = 4000.0, alpha = 0.0125, gamma = 1500.0>
} {
  return
}
