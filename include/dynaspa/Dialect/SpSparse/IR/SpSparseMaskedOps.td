//===- SpSparseMaskedOps.td - tensor-level masked ops ------*- tablegen -*-===//
//
// Part of the dynaspa project.
//
//===----------------------------------------------------------------------===//
//
// The user's entry points: dense DNN operators whose output is needed only
// where a spatial mask is non-zero.
//
//===----------------------------------------------------------------------===//

#ifndef DYNASPA_DIALECT_SPSPARSE_IR_SPSPARSEMASKEDOPS_TD
#define DYNASPA_DIALECT_SPSPARSE_IR_SPSPARSEMASKEDOPS_TD

include "dynaspa/Dialect/SpSparse/IR/SpSparseAttrs.td"
include "dynaspa/Dialect/SpSparse/IR/SpSparseInterfaces.td"
include "mlir/Interfaces/SideEffectInterfaces.td"
include "mlir/IR/CommonAttrConstraints.td"

/// A mask is a ranked tensor of i1, of 0/1 integers or of 0/1 floats.
def SpSparse_MaskTensor : RankedTensorOf<[AnySignlessInteger, AnyFloat]>;
def SpSparse_FloatTensor : RankedTensorOf<[AnyFloat]>;

def SpSparse_MaskedConv2DOp : SpSparse_Op<"masked_conv2d", [
    Pure, DeclareOpInterfaceMethods<SpSparse_MaskedOpInterface>]> {
  let summary = "2-D convolution computed only where an output mask is set";
  let description = [{
    `Y = M ⊙ (conv2d(X, K) + b)`: a 2-D convolution (cross-correlation, as in
    PyTorch and linalg) with optional per-output-channel bias, whose output is
    exactly zero wherever the mask is zero.

    - Layout `nhwc` (default): input `[N, H, W, Cin]`, filter
      `[KH, KW, Cin, Cout]`, result `[N, Ho, Wo, Cout]`.
      Layout `nchw`: input `[N, Cin, H, W]`, filter `[Cout, Cin, KH, KW]`,
      result `[N, Cout, Ho, Wo]`.
    - The mask is at the output resolution: `[N, Ho, Wo]`, or `[Ho, Wo]`
      broadcast over the batch. Its elements are i1, or integers/floats where
      non-zero means "compute".
    - `strides = [sh, sw]`, `dilations = [dh, dw]`,
      `padding = [top, bottom, left, right]` (zero padding), so that
      `Ho = (H + top + bottom - dh * (KH - 1) - 1) / sh + 1`.
    - Kernel sizes must be odd (1x1, 3x3, 5x5, ...): the DISTile halo is
      symmetric.
    - `bias`, if present, is `[Cout]`.

    ```mlir
    %y = spsparse.masked_conv2d %x, %w mask %m bias %b
           {padding = array<i64: 1, 1, 1, 1>}
         : (tensor<1x40x40x64xf32>, tensor<3x3x64x128xf32>, tensor<40x40xi1>,
            tensor<128xf32>) -> tensor<1x40x40x128xf32>
    ```
  }];
  let arguments = (ins
    SpSparse_FloatTensor:$input,
    SpSparse_FloatTensor:$filter,
    SpSparse_MaskTensor:$mask,
    Optional<SpSparse_FloatTensor>:$bias,
    DefaultValuedAttr<DenseI64ArrayAttr, "{1, 1}">:$strides,
    DefaultValuedAttr<DenseI64ArrayAttr, "{1, 1}">:$dilations,
    DefaultValuedAttr<DenseI64ArrayAttr, "{0, 0, 0, 0}">:$padding,
    DefaultValuedAttr<SpSparse_LayoutAttr, "::mlir::spsparse::Layout::nhwc">
      :$layout
  );
  let results = (outs SpSparse_FloatTensor:$result);
  let assemblyFormat = [{
    $input `,` $filter `mask` $mask (`bias` $bias^)? attr-dict `:`
    functional-type(operands, results)
  }];
  let hasVerifier = 1;
  let extraClassDeclaration = [{
    /// Dimension positions of N, H, W, C in the activations of this layout.
    int64_t getBatchDim() { return 0; }
    int64_t getHeightDim() { return getLayout() == Layout::nhwc ? 1 : 2; }
    int64_t getWidthDim() { return getLayout() == Layout::nhwc ? 2 : 3; }
    int64_t getChannelDim() { return getLayout() == Layout::nhwc ? 3 : 1; }
    /// Kernel height and width (dynamic if the filter's are).
    int64_t getKernelHeight();
    int64_t getKernelWidth();
  }];
}

def SpSparse_MaskedBatchMatmulOp : SpSparse_Op<"masked_batch_matmul", [
    Pure, DeclareOpInterfaceMethods<SpSparse_MaskedOpInterface>]> {
  let summary = "batched matmul computed only for active rows (and columns)";
  let description = [{
    `C[b, i, j] = R[b, i] · Q[b, j] · Σ_k A[b, i, k] · B[b, k, j]` where `R` is
    the row (token) mask over M and `Q` the optional column mask over N; an
    inactive row or column is exactly zero. This is attention's `QKᵀ` (row and
    column masks both the token mask) and `AV` (row mask only) under A-ViT-like
    token halting.

    - `lhs` `[B, M, K]`, `rhs` `[B, K, N]`, result `[B, M, N]`.
    - `row_mask` is `[B, M]` or `[M]`; `col_mask` is `[B, N]` or `[N]`;
      masks of the rank-1 form broadcast over the batch.

    ```mlir
    %s = spsparse.masked_batch_matmul %q, %kt row_mask %t col_mask %t2
         : (tensor<6x197x64xf32>, tensor<6x64x197xf32>, tensor<6x197xi1>,
            tensor<6x197xi1>) -> tensor<6x197x197xf32>
    ```
  }];
  let arguments = (ins
    SpSparse_FloatTensor:$lhs,
    SpSparse_FloatTensor:$rhs,
    SpSparse_MaskTensor:$row_mask,
    Optional<SpSparse_MaskTensor>:$col_mask
  );
  let results = (outs SpSparse_FloatTensor:$result);
  let assemblyFormat = [{
    $lhs `,` $rhs `row_mask` $row_mask (`col_mask` $col_mask^)? attr-dict `:`
    functional-type(operands, results)
  }];
  let hasVerifier = 1;
}

#endif // DYNASPA_DIALECT_SPSPARSE_IR_SPSPARSEMASKEDOPS_TD
