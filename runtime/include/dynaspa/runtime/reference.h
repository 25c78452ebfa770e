//===- reference.h - float64 reference of the masked operators --*- C++ -*-===//
//
// Part of the dynaspa project.
//
//===----------------------------------------------------------------------===//
//
// The meaning of the two spatially-sparse operators, computed naively in
// float64 on the host. Tools and tests compare device results against it; it
// mirrors spsparse.masked_conv2d / spsparse.masked_batch_matmul (see
// SpSparseMaskedOps.td) and must stay in step with them. The shape checks are
// shared with the bundle verifier so both agree on what a valid operator is.
//
//===----------------------------------------------------------------------===//

#ifndef DYNASPA_RUNTIME_REFERENCE_H
#define DYNASPA_RUNTIME_REFERENCE_H

#include "dynaspa/runtime/ndarray.h"
#include "dynaspa/runtime/status.h"

#include <array>
#include <cstdint>
#include <vector>

namespace dynaspa::runtime {

enum class ConvLayout { NHWC, NCHW };

struct Conv2DParams {
  ConvLayout layout = ConvLayout::NHWC;
  std::array<int64_t, 2> strides = {1, 1};
  std::array<int64_t, 2> dilations = {1, 1};
  /// [top, bottom, left, right], zero padding.
  std::array<int64_t, 4> padding = {0, 0, 0, 0};
};

/// Checks the shapes of a masked conv2d and computes its result shape.
/// NHWC: input [N,H,W,C], filter [KH,KW,C,F] (HWCF), result [N,Ho,Wo,F];
/// NCHW: input [N,C,H,W], filter [F,C,KH,KW] (FCHW), result [N,F,Ho,Wo].
/// mask [N,Ho,Wo] or [Ho,Wo]; bias [F] (pass nullptr if absent).
/// Fails with SHAPE_MISMATCH (INVALID_ARGUMENT for bad parameters).
Status conv2DShapes(const Conv2DParams &params,
                    const std::vector<int64_t> &input,
                    const std::vector<int64_t> &filter,
                    const std::vector<int64_t> &mask,
                    const std::vector<int64_t> *bias,
                    std::vector<int64_t> *result);

/// Checks the shapes of a masked batch matmul: lhs [B,M,K], rhs [B,K,N],
/// row mask [B,M] or [M], column mask [B,N] or [N] (nullptr if absent);
/// result [B,M,N].
Status batchMatmulShapes(const std::vector<int64_t> &lhs,
                         const std::vector<int64_t> &rhs,
                         const std::vector<int64_t> &rowMask,
                         const std::vector<int64_t> *colMask,
                         std::vector<int64_t> *result);

/// Y = M ⊙ (conv2d(X, K) + b) in float64; `bias` may be nullptr. A mask
/// element is active when non-zero. `out` is F64.
Status referenceConv2D(const Conv2DParams &params, const NdArray &input,
                       const NdArray &filter, const NdArray &mask,
                       const NdArray *bias, NdArray *out);

/// C[b,i,j] = R[b,i] · Q[b,j] · Σ_k A[b,i,k] B[b,k,j] in float64, with R, Q
/// the row/column masks as 0/1; `colMask` may be nullptr. `out` is F64.
Status referenceBatchMatmul(const NdArray &lhs, const NdArray &rhs,
                            const NdArray &rowMask, const NdArray *colMask,
                            NdArray *out);

} // namespace dynaspa::runtime

#endif // DYNASPA_RUNTIME_REFERENCE_H
