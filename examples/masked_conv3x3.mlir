// DynConv-style 3x3 convolution, the paper's 40x40x256 -> 256 layer: the
// output is only needed where the per-pixel gate %mask is set.
func.func @masked_conv3x3(%input: tensor<1x40x40x256xf32>,
                          %filter: tensor<3x3x256x256xf32>,
                          %bias: tensor<256xf32>,
                          %mask: tensor<1x40x40xi1>) -> tensor<1x40x40x256xf32> {
  %y = spsparse.masked_conv2d %input, %filter mask %mask bias %bias
         {padding = array<i64: 1, 1, 1, 1>}
       : (tensor<1x40x40x256xf32>, tensor<3x3x256x256xf32>, tensor<1x40x40xi1>,
          tensor<256xf32>) -> tensor<1x40x40x256xf32>
  return %y : tensor<1x40x40x256xf32>
}
