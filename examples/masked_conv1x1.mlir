// 1x1 (pointwise) convolution 40x40x256 -> 1024 under a spatial mask.
func.func @masked_conv1x1(%input: tensor<1x40x40x256xf32>,
                          %filter: tensor<1x1x256x1024xf32>,
                          %mask: tensor<1x40x40xi1>) -> tensor<1x40x40x1024xf32> {
  %y = spsparse.masked_conv2d %input, %filter mask %mask
       : (tensor<1x40x40x256xf32>, tensor<1x1x256x1024xf32>, tensor<1x40x40xi1>)
         -> tensor<1x40x40x1024xf32>
  return %y : tensor<1x40x40x1024xf32>
}
