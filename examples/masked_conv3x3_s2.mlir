// Strided 3x3 convolution 80x80x128 -> 40x40x128: the mask is at the output
// resolution (40x40); each active output reads a 3x3 window of the input.
func.func @masked_conv3x3_s2(%input: tensor<1x80x80x128xf32>,
                             %filter: tensor<3x3x128x128xf32>,
                             %mask: tensor<1x40x40xi1>) -> tensor<1x40x40x128xf32> {
  %y = spsparse.masked_conv2d %input, %filter mask %mask
         {strides = array<i64: 2, 2>, padding = array<i64: 1, 1, 1, 1>}
       : (tensor<1x80x80x128xf32>, tensor<3x3x128x128xf32>, tensor<1x40x40xi1>)
         -> tensor<1x40x40x128xf32>
  return %y : tensor<1x40x40x128xf32>
}
