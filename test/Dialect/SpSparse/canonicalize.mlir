// Constant masks: all ones is the plain dense op, all zeros is zeros.
// RUN: dynaspa-opt %s -split-input-file -canonicalize | FileCheck %s

// CHECK-LABEL: func @conv_all_ones
// CHECK-NOT: spsparse.
// CHECK: %[[PAD:.*]] = tensor.pad
// CHECK: %[[INIT:.*]] = linalg.broadcast
// CHECK: %[[Y:.*]] = linalg.conv_2d_nhwc_hwcf {{.*}} ins(%[[PAD]], %{{.*}} : tensor<1x10x10x4xf32>, tensor<3x3x4x8xf32>) outs(%[[INIT]] :
// CHECK-NOT: linalg.generic
// CHECK: return %[[Y]]
func.func @conv_all_ones(%x: tensor<1x8x8x4xf32>, %w: tensor<3x3x4x8xf32>, %b: tensor<8xf32>) -> tensor<1x8x8x8xf32> {
  %m = arith.constant dense<true> : tensor<8x8xi1>
  %y = spsparse.masked_conv2d %x, %w mask %m bias %b {padding = array<i64: 1, 1, 1, 1>}
       : (tensor<1x8x8x4xf32>, tensor<3x3x4x8xf32>, tensor<8x8xi1>, tensor<8xf32>) -> tensor<1x8x8x8xf32>
  return %y : tensor<1x8x8x8xf32>
}

// -----

// A non-splat constant whose elements are all non-zero counts as all ones.
// CHECK-LABEL: func @conv_all_nonzero_floats
// CHECK-NOT: spsparse.masked_conv2d
// CHECK: linalg.conv_2d_nchw_fchw
func.func @conv_all_nonzero_floats(%x: tensor<1x4x2x2xf32>, %w: tensor<4x4x1x1xf32>) -> tensor<1x4x2x2xf32> {
  %m = arith.constant dense<[[1.0, 2.0], [0.5, -1.0]]> : tensor<2x2xf32>
  %y = spsparse.masked_conv2d %x, %w mask %m {layout = #spsparse.layout<nchw>}
       : (tensor<1x4x2x2xf32>, tensor<4x4x1x1xf32>, tensor<2x2xf32>) -> tensor<1x4x2x2xf32>
  return %y : tensor<1x4x2x2xf32>
}

// -----

// CHECK-LABEL: func @conv_all_zeros
// CHECK-NEXT: %[[Z:.*]] = arith.constant dense<0.000000e+00> : tensor<2x8x8x8xf32>
// CHECK-NEXT: return %[[Z]]
func.func @conv_all_zeros(%x: tensor<2x8x8x4xf32>, %w: tensor<3x3x4x8xf32>) -> tensor<2x8x8x8xf32> {
  %m = arith.constant dense<0> : tensor<2x8x8xi8>
  %y = spsparse.masked_conv2d %x, %w mask %m {padding = array<i64: 1, 1, 1, 1>}
       : (tensor<2x8x8x4xf32>, tensor<3x3x4x8xf32>, tensor<2x8x8xi8>) -> tensor<2x8x8x8xf32>
  return %y : tensor<2x8x8x8xf32>
}

// -----

// A mixed constant mask is sparse: nothing to fold.
// CHECK-LABEL: func @conv_mixed
// CHECK: spsparse.masked_conv2d
func.func @conv_mixed(%x: tensor<1x2x2x4xf32>, %w: tensor<1x1x4x4xf32>) -> tensor<1x2x2x4xf32> {
  %m = arith.constant dense<[[true, false], [false, true]]> : tensor<2x2xi1>
  %y = spsparse.masked_conv2d %x, %w mask %m
       : (tensor<1x2x2x4xf32>, tensor<1x1x4x4xf32>, tensor<2x2xi1>) -> tensor<1x2x2x4xf32>
  return %y : tensor<1x2x2x4xf32>
}

// -----

// Zeros of a dynamic shape are not a constant: the op stays.
// CHECK-LABEL: func @conv_zeros_dynamic
// CHECK: spsparse.masked_conv2d
func.func @conv_zeros_dynamic(%x: tensor<?x2x2x4xf32>, %w: tensor<1x1x4x4xf32>) -> tensor<?x2x2x4xf32> {
  %m = arith.constant dense<false> : tensor<2x2xi1>
  %y = spsparse.masked_conv2d %x, %w mask %m
       : (tensor<?x2x2x4xf32>, tensor<1x1x4x4xf32>, tensor<2x2xi1>) -> tensor<?x2x2x4xf32>
  return %y : tensor<?x2x2x4xf32>
}

// -----

// CHECK-LABEL: func @bmm_all_ones
// CHECK-NOT: spsparse.
// CHECK: %[[Y:.*]] = linalg.batch_matmul
// CHECK-NEXT: return %[[Y]]
func.func @bmm_all_ones(%a: tensor<2x4x8xf32>, %b: tensor<2x8x4xf32>) -> tensor<2x4x4xf32> {
  %r = arith.constant dense<1> : tensor<2x4xi32>
  %y = spsparse.masked_batch_matmul %a, %b row_mask %r
       : (tensor<2x4x8xf32>, tensor<2x8x4xf32>, tensor<2x4xi32>) -> tensor<2x4x4xf32>
  return %y : tensor<2x4x4xf32>
}

// -----

// An all-ones column mask is dropped; the row mask is not constant and stays.
// CHECK-LABEL: func @bmm_drop_col_mask
// CHECK-SAME: %[[R:[a-z0-9]+]]: tensor<4xi1>
// CHECK: spsparse.masked_batch_matmul %{{.*}}, %{{.*}} row_mask %[[R]] :
// CHECK-SAME: (tensor<2x4x8xf32>, tensor<2x8x4xf32>, tensor<4xi1>) -> tensor<2x4x4xf32>
func.func @bmm_drop_col_mask(%a: tensor<2x4x8xf32>, %b: tensor<2x8x4xf32>, %r: tensor<4xi1>) -> tensor<2x4x4xf32> {
  %c = arith.constant dense<true> : tensor<2x4xi1>
  %y = spsparse.masked_batch_matmul %a, %b row_mask %r col_mask %c
       : (tensor<2x4x8xf32>, tensor<2x8x4xf32>, tensor<4xi1>, tensor<2x4xi1>) -> tensor<2x4x4xf32>
  return %y : tensor<2x4x4xf32>
}

// -----

// Either mask all zeros makes the product zeros.
// CHECK-LABEL: func @bmm_zero_col_mask
// CHECK-NEXT: %[[Z:.*]] = arith.constant dense<0.000000e+00> : tensor<2x4x4xf32>
// CHECK-NEXT: return %[[Z]]
func.func @bmm_zero_col_mask(%a: tensor<2x4x8xf32>, %b: tensor<2x8x4xf32>, %r: tensor<4xi1>) -> tensor<2x4x4xf32> {
  %c = arith.constant dense<0.0> : tensor<4xf32>
  %y = spsparse.masked_batch_matmul %a, %b row_mask %r col_mask %c
       : (tensor<2x4x8xf32>, tensor<2x8x4xf32>, tensor<4xi1>, tensor<4xf32>) -> tensor<2x4x4xf32>
  return %y : tensor<2x4x4xf32>
}
