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
    0. with `records`, the tuning record whose operator signature (op name,
       operand and result types, strides, dilations, padding, layout) equals
       the op's: its chosen variants (docs/tuning/records.md). An op no
       record matches gets a warning and the rules below;
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
           "(e.g. '<channel_block=64, threads=256>')">,
    Option<"records", "records", "std::string", "\"\"",
           "Tuning-record JSON file whose chosen variants outline the ops "
           "it has records for">
  ];
}

def SpSparsePruneSchedules : Pass<"spsparse-prune-schedules"> {
  let summary = "Keep the cost model's best candidate variants of each masked op";
  let description = [{
    Search-space pruning (DynaSpa §3.3): every `spsparse.masked_conv2d` with
    a `spsparse.variants` candidate list (the form spsparse-outline-polykernels
    reads: `{granularity, schedule, tiles}` dictionaries) keeps the candidates
    the analytical cost model predicts fastest, best first: the top
    `keep-top`, or the best `keep-fraction` (at least one) — 10% by default.
    The tuner then measures only those.

    A candidate's score is the geometric mean, over the mask `densities`, of
    its predicted time as a single-variant operator (the kernel plus the
    runtime's zero fill, tile list and graph gaps). Without masks, the active
    tiles at a density come from a clustered-mask estimate
    (`estimateActiveTileFraction` in dynaspa/Analysis/ScheduleRanking.h).
    Candidates the kernel template rejects are dropped with a warning; `tiles`
    ranges are kept as they are.

    The device is the `device-file` (a cost-model device JSON such as
    docs/tuning/h100-device.json, which carries the calibrated latencies),
    else the built-in `device`, else the nearest `spsparse.device` attribute
    on the op or an enclosing op. With `report`, each op gets a remark
    listing every candidate's predicted time and whether it was kept.

    Masked batch-matmuls have no cost-model profile yet; their candidate lists
    are left alone (with a warning).

    ```
    dynaspa-opt --spsparse-prune-schedules="keep-top=4 device-file=docs/tuning/h100-device.json"
    ```
  }];
  let options = [
    Option<"keepFraction", "keep-fraction", "double", "0.0",
           "Fraction of the candidates to keep, in (0, 1] (default 0.1 when "
           "keep-top is not given)">,
    Option<"keepTop", "keep-top", "int64_t", "0",
           "Number of candidates to keep (exclusive with keep-fraction)">,
    Option<"device", "device", "std::string", "\"\"",
           "Built-in cost-model device (e.g. h100-sxm)">,
    Option<"deviceFile", "device-file", "std::string", "\"\"",
           "Cost-model device JSON file (see CostModel.h parseDeviceJSON)">,
    ListOption<"densities", "densities", "double",
               "Mask densities to score at (default 0.1,0.3,0.5,1.0)">,
    Option<"report", "report", "bool", "false",
           "Emit a remark per op with every candidate's predicted time">
  ];
}

#endif // DYNASPA_DIALECT_SPSPARSE_TRANSFORMS_PASSES_TD
