// RUN: dynaspa-opt %s -split-input-file --convert-spsparse-to-gpu | FileCheck %s --check-prefix=AUTO
// RUN: dynaspa-opt %s -split-input-file --convert-spsparse-to-gpu="index-bitwidth=32" | FileCheck %s --check-prefix=I32
// RUN: dynaspa-opt %s -split-input-file --convert-spsparse-to-gpu="index-bitwidth=64" | FileCheck %s --check-prefix=I64
// RUN: not dynaspa-opt %s -split-input-file --convert-spsparse-to-gpu="index-bitwidth=16" 2>&1 | FileCheck %s --check-prefix=BAD

// The kernels' index width is the gpu.module's data layout. By default a
// batch-matmul gets 32 bits and a convolution keeps 64 (measured on the
// H100); index-bitwidth=32 or 64 sets it for every template.
// BAD: error: index-bitwidth must be 0 (per template), 32 or 64

// AUTO-LABEL: gpu.module @conv_kernels {
// I32-LABEL: gpu.module @conv_kernels attributes {dlti.dl_spec = #dlti.dl_spec<index = 32 : i64>}
// I64-LABEL: gpu.module @conv_kernels {
spsparse.polykernel @conv : (tensor<1x5x5x8xf32>, tensor<3x3x8x8xf32>, tensor<1x5x5xi1>) -> tensor<1x5x5x8xf32> {
^bb0(%x: tensor<1x5x5x8xf32>, %w: tensor<3x3x8x8xf32>, %m: tensor<1x5x5xi1>):
  spsparse.polykernel.variant @v granularity <[2, 2]> schedule <channel_block = 8, reduction_block = 4, threads = 32, thread_channels = 1>
  %y = spsparse.masked_conv2d %x, %w mask %m {padding = array<i64: 1, 1, 1, 1>}
      : (tensor<1x5x5x8xf32>, tensor<3x3x8x8xf32>, tensor<1x5x5xi1>) -> tensor<1x5x5x8xf32>
  spsparse.yield %y : tensor<1x5x5x8xf32>
}

// -----

// AUTO-LABEL: gpu.module @bmm_kernels attributes {dlti.dl_spec = #dlti.dl_spec<index = 32 : i64>}
// I32-LABEL: gpu.module @bmm_kernels attributes {dlti.dl_spec = #dlti.dl_spec<index = 32 : i64>}
// I64-LABEL: gpu.module @bmm_kernels {
spsparse.polykernel @bmm : (tensor<2x16x64xf32>, tensor<2x64x16xf32>, tensor<2x16xi1>) -> tensor<2x16x16xf32> {
^bb0(%a: tensor<2x16x64xf32>, %b: tensor<2x64x16xf32>, %r: tensor<2x16xi1>):
  spsparse.polykernel.variant @v granularity <[16]> schedule <channel_block = 16, threads = 64>
  %y = spsparse.masked_batch_matmul %a, %b row_mask %r
      : (tensor<2x16x64xf32>, tensor<2x64x16xf32>, tensor<2x16xi1>) -> tensor<2x16x16xf32>
  spsparse.yield %y : tensor<2x16x16xf32>
}

// -----

// A buffer of 2^31 elements keeps 64-bit index arithmetic whatever is asked.
// AUTO-LABEL: gpu.module @huge_kernels {
// I32-LABEL: gpu.module @huge_kernels {
spsparse.polykernel @huge : (tensor<32x32768x32768xf32>, tensor<32x32768x4xf32>, tensor<32x32768xi1>) -> tensor<32x32768x4xf32> {
^bb0(%a: tensor<32x32768x32768xf32>, %b: tensor<32x32768x4xf32>, %r: tensor<32x32768xi1>):
  spsparse.polykernel.variant @v granularity <[16]> schedule <channel_block = 4, thread_channels = 1, threads = 64>
  %y = spsparse.masked_batch_matmul %a, %b row_mask %r
      : (tensor<32x32768x32768xf32>, tensor<32x32768x4xf32>, tensor<32x32768xi1>) -> tensor<32x32768x4xf32>
  spsparse.yield %y : tensor<32x32768x4xf32>
}
