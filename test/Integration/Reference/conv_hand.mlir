// A 3x3 all-ones filter over a 3x3 all-ones input with zero padding 1 counts
// the in-bounds neighbours of each position (4 at corners, 6 on edges, 9 in
// the centre); the bias adds 0.5 and the mask keeps the diagonal only. A 1x1
// masked batch-matmul with row mask [1, 0] and column mask [0, 1, 1].
// RUN: dynaspa-opt %s -convert-spsparse-to-linalg | mlir-opt %cpu_pipeline \
// RUN:   | mlir-runner -e main -entry-point-result=void -shared-libs=%mlir_runner_utils \
// RUN:   | FileCheck %s

func.func private @printMemrefF32(tensor<*xf32>)

func.func @main() {
  %x = arith.constant dense<1.0> : tensor<1x3x3x1xf32>
  %w = arith.constant dense<1.0> : tensor<3x3x1x1xf32>
  %b = arith.constant dense<0.5> : tensor<1xf32>
  %m = arith.constant dense<[[1, 0, 0], [0, 1, 0], [0, 0, 1]]> : tensor<3x3xi8>
  %y = spsparse.masked_conv2d %x, %w mask %m bias %b {padding = array<i64: 1, 1, 1, 1>}
       : (tensor<1x3x3x1xf32>, tensor<3x3x1x1xf32>, tensor<3x3xi8>, tensor<1xf32>) -> tensor<1x3x3x1xf32>
  %shape = arith.constant dense<[3, 3]> : tensor<2xi64>
  %yc = tensor.reshape %y(%shape) : (tensor<1x3x3x1xf32>, tensor<2xi64>) -> tensor<3x3xf32>
  %u = tensor.cast %yc : tensor<3x3xf32> to tensor<*xf32>
  // CHECK: rank = 2 offset = 0 sizes = [3, 3] strides = [3, 1] data =
  // CHECK-NEXT: [4.5, 0, 0]
  // CHECK-NEXT: [0, 9.5, 0]
  // CHECK-NEXT: [0, 0, 4.5]
  call @printMemrefF32(%u) : (tensor<*xf32>) -> ()

  // [[1, 2], [3, 4]] x [[1, 0, 2], [0, 1, 3]] = [[1, 2, 8], [3, 4, 18]].
  %a = arith.constant dense<[[[1.0, 2.0], [3.0, 4.0]]]> : tensor<1x2x2xf32>
  %bb = arith.constant dense<[[[1.0, 0.0, 2.0], [0.0, 1.0, 3.0]]]> : tensor<1x2x3xf32>
  %r = arith.constant dense<[true, false]> : tensor<2xi1>
  %c = arith.constant dense<[[0.0, 1.0, 1.0]]> : tensor<1x3xf32>
  %p = spsparse.masked_batch_matmul %a, %bb row_mask %r col_mask %c
       : (tensor<1x2x2xf32>, tensor<1x2x3xf32>, tensor<2xi1>, tensor<1x3xf32>) -> tensor<1x2x3xf32>
  %pu = tensor.cast %p : tensor<1x2x3xf32> to tensor<*xf32>
  // CHECK: rank = 3 offset = 0 sizes = [1, 2, 3] strides = [6, 3, 1] data =
  // CHECK-NEXT: [0, 2, 8]
  // CHECK-NEXT: [0, 0, 0]
  call @printMemrefF32(%pu) : (tensor<*xf32>) -> ()
  return
}
