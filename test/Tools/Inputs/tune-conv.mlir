// A small masked 3x3 convolution for the dynaspa-tune test.
func.func @small(%x: tensor<1x12x12x16xf32>, %w: tensor<3x3x16x16xf32>, %m: tensor<1x12x12xi1>) -> tensor<1x12x12x16xf32> {
  %y = spsparse.masked_conv2d %x, %w mask %m {padding = array<i64: 1, 1, 1, 1>}
      : (tensor<1x12x12x16xf32>, tensor<3x3x16x16xf32>, tensor<1x12x12xi1>) -> tensor<1x12x12x16xf32>
  return %y : tensor<1x12x12x16xf32>
}
