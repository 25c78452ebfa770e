// A-ViT-style attention with token halting: 6 heads, 197 tokens (class token +
// 14x14 patches), head dim 64. QK^T is computed only for pairs of kept tokens
// (row and column masks), AV only for kept tokens' rows; everything else is 0.
// The softmax between the two products is ordinary dense IR.
func.func @masked_attention(%q: tensor<6x197x64xf32>, %kt: tensor<6x64x197xf32>,
                            %v: tensor<6x197x64xf32>,
                            %tokens: tensor<6x197xi1>) -> tensor<6x197x64xf32> {
  %scores = spsparse.masked_batch_matmul %q, %kt row_mask %tokens col_mask %tokens
       : (tensor<6x197x64xf32>, tensor<6x64x197xf32>, tensor<6x197xi1>,
          tensor<6x197xi1>) -> tensor<6x197x197xf32>
  %init = tensor.empty() : tensor<6x197x197xf32>
  %probs = linalg.softmax dimension(2)
       ins(%scores : tensor<6x197x197xf32>) outs(%init : tensor<6x197x197xf32>)
       -> tensor<6x197x197xf32>
  %out = spsparse.masked_batch_matmul %probs, %v row_mask %tokens
       : (tensor<6x197x197xf32>, tensor<6x197x64xf32>, tensor<6x197xi1>)
         -> tensor<6x197x64xf32>
  return %out : tensor<6x197x64xf32>
}
