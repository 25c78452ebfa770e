//===- Passes.td - SpSparse transformation passes ----------*- tablegen -*-===//
//
// Part of the dynaspa project.
//
//===----------------------------------------------------------------------===//

#ifndef DYNASPA_DIALECT_SPSPARSE_TRANSFORMS_PASSES_TD
#define DYNASPA_DIALECT_SPSPARSE_TRANSFORMS_PASSES_TD

include "mlir/Pass/PassBase.td"

def SpSparseTileByGranularity : Pass<"spsparse-tile-by-granularity"> {
  let summary = "Cut masked ops into DISTiles: bitmask, tile list, dense tile bodies";
  let description = [{
    Granularity tiling (DynaSpa §3.1). Each tensor-level masked op becomes

    1. `spsparse.bitmask` of its mask (broadcast to the batch first),
    2. `spsparse.distiles`: the list of granularity-sized output tiles that
       hold an active position, and their count,
    3. `spsparse.foreach_tile` over that list, whose body is the same masked
       op on one output tile: a convolution reads its input window with the
       halo (`(g - 1) * stride + (k - 1) * dilation + 1` rows and columns);
       a batch-matmul reads its `g` rows of the left operand.

    Tiles need not divide the output (the paper's Fig. 5: a 5x5 mask in 2x2
    tiles). Reads outside the operands are *phantom*: the window is the
    in-bounds slice padded with zeros, so nothing outside is ever read; writes
    outside the output are dropped by `foreach_tile`. Tile bodies therefore
    carry no boundary branches.

    The granularity comes from the op's `spsparse.granularity` attribute, or
    else from the `granularity` option (rank 2 for convolutions: rows, columns;
    the first size for batch-matmul: tokens). Ops with neither, and ops inside
    a tile body, are left alone. Only static shapes are tiled.

    ```
    dynaspa-opt --spsparse-tile-by-granularity=granularity=4,8 in.mlir
    ```
  }];
  let options = [
    ListOption<"granularity", "granularity", "int64_t",
               "DISTile size: rows,columns for convolutions; tokens for "
               "batch-matmul (first entry)">
  ];
  let dependentDialects = [
    "::mlir::arith::ArithDialect",
    "::mlir::linalg::LinalgDialect",
    "::mlir::tensor::TensorDialect"
  ];
}

def SpSparseOutlinePolyKernels
    : Pass<"spsparse-outline-polykernels", "::mlir::ModuleOp"> {
  let summary = "Multi-version masked ops: one spsparse.polykernel per op";
  let description = [{
    PolyKernel outlining (DynaSpa §3.2). Every masked op in a function becomes
    a `spsparse.polykernel.dispatch` of a new module-level
    `spsparse.polykernel` whose body is the op itself and whose variants are
    the (granularity, schedule, tile-count range) implementations the GPU
    lowering turns into one kernel each, plus the dispatch table the runtime
    uses.

    Variants come from, in order of precedence:
    1. the op's `spsparse.variants` attribute (an array of
       `{granularity = #spsparse.granularity<..>, schedule = #spsparse.schedule<..>,
       tiles = array<i64: lo, hi>}`, in dispatch order, the last without
       `tiles`);
    2. the op's `spsparse.granularity` (and optional `spsparse.schedule`): one
       variant;
    3. the pass options `granularity` and `schedule`: one variant;
    4. a default: 4x4 DISTiles for convolutions, 16-token tiles for
       batch-matmul, with the default schedule.

    The polykernel is named `<function>_<op>_<n>` (e.g. `@forward_conv_0`);
    that name is the operator's name in the bundle.

    ```
    dynaspa-opt --spsparse-outline-polykernels="granularity=8,8 schedule=<channel_block=64,threads=256>"
    ```
  }];
  let options = [
    ListOption<"granularity", "granularity", "int64_t",
               "DISTile size of the single variant for ops without attributes">,
    Option<"schedule", "schedule", "std::string", "\"\"",
           "Schedule of that variant, as the body of a #spsparse.schedule "
           "(e.g. '<channel_block=64, threads=256>')">
  ];
}

#endif // DYNASPA_DIALECT_SPSPARSE_TRANSFORMS_PASSES_TD
