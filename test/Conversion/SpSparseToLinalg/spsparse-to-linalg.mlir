// The reference meaning of the masked ops: the dense computation, then
// select(mask != 0, dense, 0).
// RUN: dynaspa-opt %s -split-input-file -convert-spsparse-to-linalg | FileCheck %s

// CHECK-DAG: #[[HW:.*]] = affine_map<(d0, d1, d2, d3) -> (d1, d2)>
// CHECK-DAG: #[[ID:.*]] = affine_map<(d0, d1, d2, d3) -> (d0, d1, d2, d3)>
// CHECK-LABEL: func @conv3x3_nhwc_bias
// CHECK-SAME: (%[[X:.*]]: tensor<1x5x5x8xf32>, %[[W:.*]]: tensor<3x3x8x16xf32>, %[[M:.*]]: tensor<5x5xi1>, %[[B:.*]]: tensor<16xf32>)
// CHECK-DAG: %[[ZERO:.*]] = arith.constant 0.000000e+00 : f32
// CHECK: %[[PAD:.*]] = tensor.pad %[[X]] low[0, 1, 1, 0] high[0, 1, 1, 0]
// CHECK: } : tensor<1x5x5x8xf32> to tensor<1x7x7x8xf32>
// CHECK: %[[EMPTY:.*]] = tensor.empty() : tensor<1x5x5x16xf32>
// CHECK: %[[INIT:.*]] = linalg.broadcast ins(%[[B]] : tensor<16xf32>) outs(%[[EMPTY]] : tensor<1x5x5x16xf32>) dimensions = [0, 1, 2]
// CHECK: %[[CONV:.*]] = linalg.conv_2d_nhwc_hwcf {dilations = dense<1> : tensor<2xi64>, strides = dense<1> : tensor<2xi64>} ins(%[[PAD]], %[[W]] : {{.*}}) outs(%[[INIT]] : {{.*}})
// CHECK: %[[SEL:.*]] = linalg.generic {indexing_maps = [#[[HW]], #[[ID]]], iterator_types = ["parallel", "parallel", "parallel", "parallel"]} ins(%[[M]] : tensor<5x5xi1>) outs(%[[CONV]] : tensor<1x5x5x16xf32>)
// CHECK-NEXT: ^bb0(%[[IN:.*]]: i1, %[[OUT:.*]]: f32):
// CHECK-NEXT: %[[S:.*]] = arith.select %[[IN]], %[[OUT]], %[[ZERO]] : f32
// CHECK-NEXT: linalg.yield %[[S]] : f32
// CHECK: return %[[SEL]]
func.func @conv3x3_nhwc_bias(%x: tensor<1x5x5x8xf32>, %w: tensor<3x3x8x16xf32>, %m: tensor<5x5xi1>,
                             %b: tensor<16xf32>) -> tensor<1x5x5x16xf32> {
  %y = spsparse.masked_conv2d %x, %w mask %m bias %b {padding = array<i64: 1, 1, 1, 1>}
       : (tensor<1x5x5x8xf32>, tensor<3x3x8x16xf32>, tensor<5x5xi1>, tensor<16xf32>) -> tensor<1x5x5x16xf32>
  return %y : tensor<1x5x5x16xf32>
}

// -----

// NCHW, stride 2, asymmetric padding, a per-sample uint8 mask: the mask indexes
// N, H, W of an [N, C, H, W] result, and is active where non-zero.
// CHECK-DAG: #[[NHW:.*]] = affine_map<(d0, d1, d2, d3) -> (d0, d2, d3)>
// CHECK-LABEL: func @conv3x3s2_nchw
// CHECK: tensor.pad %{{.*}} low[0, 0, 1, 0] high[0, 0, 0, 1]
// CHECK: } : tensor<2x4x9x9xf32> to tensor<2x4x10x10xf32>
// CHECK: %[[FILL:.*]] = linalg.fill ins(%{{.*}} : f32) outs(%{{.*}} : tensor<2x8x4x4xf32>)
// CHECK: linalg.conv_2d_nchw_fchw {dilations = dense<1> : tensor<2xi64>, strides = dense<2> : tensor<2xi64>} {{.*}} outs(%[[FILL]] :
// CHECK: linalg.generic {indexing_maps = [#[[NHW]], #{{.*}}]
// CHECK-NEXT: ^bb0(%[[IN:.*]]: i8, %[[OUT:.*]]: f32):
// CHECK: %[[NZ:.*]] = arith.cmpi ne, %[[IN]], %{{.*}} : i8
// CHECK: arith.select %[[NZ]], %[[OUT]]
func.func @conv3x3s2_nchw(%x: tensor<2x4x9x9xf32>, %w: tensor<8x4x3x3xf32>, %m: tensor<2x4x4xi8>) -> tensor<2x8x4x4xf32> {
  %y = spsparse.masked_conv2d %x, %w mask %m
         {layout = #spsparse.layout<nchw>, strides = array<i64: 2, 2>, padding = array<i64: 1, 0, 0, 1>}
       : (tensor<2x4x9x9xf32>, tensor<8x4x3x3xf32>, tensor<2x4x4xi8>) -> tensor<2x8x4x4xf32>
  return %y : tensor<2x8x4x4xf32>
}

// -----

// 1x1 with a dynamic batch: the result extent comes from the input, and a float
// mask is active where it compares unordered-not-equal to zero.
// CHECK-LABEL: func @conv1x1_dynamic
// CHECK-SAME: (%[[X:.*]]: tensor<?x4x4x8xf32>
// CHECK-NOT: tensor.pad
// CHECK: %[[C0:.*]] = arith.constant 0 : index
// CHECK: %[[N:.*]] = tensor.dim %[[X]], %[[C0]] : tensor<?x4x4x8xf32>
// CHECK: tensor.empty(%[[N]]) : tensor<?x4x4x16xf32>
// CHECK: linalg.conv_2d_nhwc_hwcf
// CHECK: arith.cmpf une
func.func @conv1x1_dynamic(%x: tensor<?x4x4x8xf32>, %w: tensor<1x1x8x16xf32>, %m: tensor<?x4x4xf32>) -> tensor<?x4x4x16xf32> {
  %y = spsparse.masked_conv2d %x, %w mask %m
       : (tensor<?x4x4x8xf32>, tensor<1x1x8x16xf32>, tensor<?x4x4xf32>) -> tensor<?x4x4x16xf32>
  return %y : tensor<?x4x4x16xf32>
}

// -----

// Dynamic spatial extents: Ho = (H + pads - window) / stride + 1 at run time.
// CHECK-LABEL: func @conv_dynamic_hw
// CHECK: %[[H:.*]] = tensor.dim %{{.*}}, %c1
// CHECK: %[[T:.*]] = arith.addi %[[H]], %c-1
// CHECK: %[[Q:.*]] = arith.divui %[[T]], %c2
// CHECK: %[[HO:.*]] = arith.addi %[[Q]], %c1
// CHECK: tensor.empty(%[[HO]], %{{.*}}) : tensor<1x?x?x4xf32>
func.func @conv_dynamic_hw(%x: tensor<1x?x?x4xf32>, %w: tensor<3x3x4x4xf32>, %m: tensor<?x?xi1>) -> tensor<1x?x?x4xf32> {
  %y = spsparse.masked_conv2d %x, %w mask %m {strides = array<i64: 2, 2>, padding = array<i64: 1, 1, 1, 1>}
       : (tensor<1x?x?x4xf32>, tensor<3x3x4x4xf32>, tensor<?x?xi1>) -> tensor<1x?x?x4xf32>
  return %y : tensor<1x?x?x4xf32>
}

// -----

// Attention QK^T: row mask over M (rank 1, broadcast over the batch), column
// mask over N (rank 2).
// CHECK-DAG: #[[ROW:.*]] = affine_map<(d0, d1, d2) -> (d1)>
// CHECK-DAG: #[[COL:.*]] = affine_map<(d0, d1, d2) -> (d0, d2)>
// CHECK-LABEL: func @attention_qk
// CHECK-SAME: %[[R:[a-z0-9]+]]: tensor<197xi1>, %[[C:[a-z0-9]+]]: tensor<6x197xi1>
// CHECK: %[[INIT:.*]] = linalg.fill
// CHECK: %[[MM:.*]] = linalg.batch_matmul ins(%{{.*}}, %{{.*}} : tensor<6x197x64xf32>, tensor<6x64x197xf32>) outs(%[[INIT]] : tensor<6x197x197xf32>)
// CHECK: %[[ROWSEL:.*]] = linalg.generic {indexing_maps = [#[[ROW]], #{{.*}}]{{.*}} ins(%[[R]] : tensor<197xi1>) outs(%[[MM]] :
// CHECK: %[[COLSEL:.*]] = linalg.generic {indexing_maps = [#[[COL]], #{{.*}}]{{.*}} ins(%[[C]] : tensor<6x197xi1>) outs(%[[ROWSEL]] :
// CHECK: return %[[COLSEL]]
func.func @attention_qk(%q: tensor<6x197x64xf32>, %k: tensor<6x64x197xf32>, %r: tensor<197xi1>,
                        %c: tensor<6x197xi1>) -> tensor<6x197x197xf32> {
  %s = spsparse.masked_batch_matmul %q, %k row_mask %r col_mask %c
       : (tensor<6x197x64xf32>, tensor<6x64x197xf32>, tensor<197xi1>, tensor<6x197xi1>) -> tensor<6x197x197xf32>
  return %s : tensor<6x197x197xf32>
}

// -----

// Ops of other dialects are left alone.
// CHECK-LABEL: func @untouched
// CHECK-NEXT: %[[S:.*]] = arith.addf %{{.*}}, %{{.*}} : tensor<4xf32>
// CHECK-NEXT: return %[[S]]
func.func @untouched(%a: tensor<4xf32>) -> tensor<4xf32> {
  %s = arith.addf %a, %a : tensor<4xf32>
  return %s : tensor<4xf32>
}
