// A small masked 3x3 convolution with channels for tf32 tiles (a block of 64
// output channels; Cout = 64) for the dynaspa-tune --math tf32 test.
func.func @small_tf32(%x: tensor<1x16x16x32xf32>, %w: tensor<3x3x32x64xf32>, %m: tensor<1x16x16xi1>) -> tensor<1x16x16x64xf32> {
  %y = spsparse.masked_conv2d %x, %w mask %m {padding = array<i64: 1, 1, 1, 1>}
      : (tensor<1x16x16x32xf32>, tensor<3x3x32x64xf32>, tensor<1x16x16xi1>) -> tensor<1x16x16x64xf32>
  return %y : tensor<1x16x16x64xf32>
}
