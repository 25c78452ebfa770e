// Stock mlir-opt-22 picks dynaspa up as a plugin: it parses and verifies a file
// that uses every spsparse op and attribute, and runs dynaspa's passes.
// RUN: mlir-opt %S/../Dialect/SpSparse/ops.mlir -split-input-file \
// RUN:   --load-dialect-plugin=%dynaspa_libs/DynaspaPlugin%shlibext \
// RUN:   | FileCheck %S/../Dialect/SpSparse/ops.mlir
// RUN: mlir-opt %s --load-dialect-plugin=%dynaspa_libs/DynaspaPlugin%shlibext \
// RUN:   --load-pass-plugin=%dynaspa_libs/DynaspaPlugin%shlibext \
// RUN:   --pass-pipeline="builtin.module(convert-spsparse-to-linalg,canonicalize)" \
// RUN:   | FileCheck %s
// RUN: not mlir-opt %S/../Dialect/SpSparse/ops.mlir 2>&1 | FileCheck %s --check-prefix=NOPLUGIN

// NOPLUGIN: Dialect `spsparse' not found

// CHECK-LABEL: func @masked
// CHECK-NOT: spsparse.
// CHECK: linalg.conv_2d_nhwc_hwcf
// CHECK: linalg.generic
func.func @masked(%x: tensor<1x4x4x2xf32>, %w: tensor<1x1x2x2xf32>, %m: tensor<4x4xi1>) -> tensor<1x4x4x2xf32> {
  %y = spsparse.masked_conv2d %x, %w mask %m
       : (tensor<1x4x4x2xf32>, tensor<1x1x2x2xf32>, tensor<4x4xi1>) -> tensor<1x4x4x2xf32>
  return %y : tensor<1x4x4x2xf32>
}
