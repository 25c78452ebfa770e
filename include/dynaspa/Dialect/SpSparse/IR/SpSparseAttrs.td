//===- SpSparseAttrs.td - SpSparse attributes --------------*- tablegen -*-===//
//
// Part of the dynaspa project.
//
//===----------------------------------------------------------------------===//
//
// Attributes that describe how a masked op is tiled and scheduled: the data
// layout, the DISTile granularity, the schedule knobs of the kernel template
// and the description of a GPU that the analytical cost model reads.
//
//===----------------------------------------------------------------------===//

#ifndef DYNASPA_DIALECT_SPSPARSE_IR_SPSPARSEATTRS_TD
#define DYNASPA_DIALECT_SPSPARSE_IR_SPSPARSEATTRS_TD

include "dynaspa/Dialect/SpSparse/IR/SpSparseBase.td"
include "mlir/IR/AttrTypeBase.td"
include "mlir/IR/EnumAttr.td"

//===----------------------------------------------------------------------===//
// Layout
//===----------------------------------------------------------------------===//

def SpSparse_LayoutEnum : I32EnumAttr<"Layout", "activation/filter layout", [
    I32EnumAttrCase<"nhwc", 0>,
    I32EnumAttrCase<"nchw", 1>
  ]> {
  let genSpecializedAttr = 0;
  let cppNamespace = "::mlir::spsparse";
}

def SpSparse_LayoutAttr : EnumAttr<SpSparse_Dialect, SpSparse_LayoutEnum,
                                   "layout"> {
  let summary = "convolution data layout";
  let description = [{
    `#spsparse.layout<nhwc>`: activations `[N, H, W, C]`, filters
    `[KH, KW, Cin, Cout]` (as `linalg.conv_2d_nhwc_hwcf`).
    `#spsparse.layout<nchw>`: activations `[N, C, H, W]`, filters
    `[Cout, Cin, KH, KW]` (as `linalg.conv_2d_nchw_fchw`).
  }];
  let assemblyFormat = "`<` $value `>`";
}

class SpSparse_Attr<string name, string attrMnemonic, list<Trait> traits = []>
    : AttrDef<SpSparse_Dialect, name, traits> {
  let mnemonic = attrMnemonic;
}

//===----------------------------------------------------------------------===//
// Granularity
//===----------------------------------------------------------------------===//

def SpSparse_GranularityAttr : SpSparse_Attr<"Granularity", "granularity"> {
  let summary = "DISTile granularity: the tile size along each masked axis";
  let description = [{
    The size of one Dense-In-Sparse Tile along the trailing axes of the mask,
    outermost first: `#spsparse.granularity<[4, 8]>` is 4 output rows by 8
    output columns of a `[N, H, W]` mask; `#spsparse.granularity<[16]>` is 16
    tokens of a `[B, M]` token mask. Leading mask axes not covered by the
    granularity (the batch) are tiled with size 1. Sizes need not divide the
    mask: the last tile along an axis may hang over the edge, and the parts
    outside are *phantom* (never read from or written to memory).
  }];
  let parameters = (ins ArrayRefParameter<"int64_t">:$sizes);
  let assemblyFormat = "`<` `[` $sizes `]` `>`";
  let genVerifyDecl = 1;
  let extraClassDeclaration = [{
    /// Number of tiles along each of `shape`'s trailing axes, and 1 tile per
    /// element of the leading (batch) axes: the DISTile grid of a mask.
    ::llvm::SmallVector<int64_t> getGrid(::llvm::ArrayRef<int64_t> shape) const;
    /// Number of tiles of the grid of `shape` (dynamic if an extent is).
    int64_t getNumTiles(::llvm::ArrayRef<int64_t> shape) const;
    /// Product of the sizes: positions per tile.
    int64_t getNumElements() const;
  }];
}

//===----------------------------------------------------------------------===//
// Cover
//===----------------------------------------------------------------------===//

def SpSparse_CoverAttr : SpSparse_Attr<"Cover", "cover"> {
  let summary = "a PolyKernel dispatch test on how clustered the mask is";
  let description = [{
    `#spsparse.cover<[4, 4] over [1, 1] in [0, 120]>` holds when the positions
    covered by the active DISTiles of granularity `[4, 4]` are between 0%
    and 120% of those covered by the active `[1, 1]` DISTiles (the active
    pixels): active-tile count times tile size, compared as integers. An
    upper bound of -1 is unbounded.

    A tile count alone cannot tell a clustered mask from a scattered one of
    the same density, yet which DISTile size runs fastest depends on it:
    large tiles cost little extra work on a clustered mask (an edit region)
    and several times the work on a scattered one (a saliency map at low
    resolution). A variant's cover test, with its tile range, lets the
    dispatch see the difference; the tile lists of both granularities are
    built in the prologue either way.
  }];
  let parameters = (ins ArrayRefParameter<"int64_t">:$of,
                        ArrayRefParameter<"int64_t">:$over,
                        "int64_t":$min_percent, "int64_t":$max_percent);
  let assemblyFormat = [{
    `<` `[` $of `]` `over` ` ` `[` $over `]` `in` ` ` `[` $min_percent `,` $max_percent
    `]` `>`
  }];
  let genVerifyDecl = 1;
  let extraClassDeclaration = [{
    GranularityAttr getOfGranularity() const;
    GranularityAttr getOverGranularity() const;
  }];
}

//===----------------------------------------------------------------------===//
// Schedule
//===----------------------------------------------------------------------===//

def SpSparse_ScheduleAttr : SpSparse_Attr<"Schedule", "schedule"> {
  let summary = "tuning knobs of the DISTile kernel template";
  let description = [{
    The schedule θ that parameterizes the kernel template τ (paper §3.2). One
    thread block computes `tiles_per_block` DISTiles for `channel_block` output channels
    (tokens x `channel_block` columns for batch-matmul), staging the tile's
    input window and `reduction_block` input channels of filters in shared
    memory at a time; each of its `threads` threads accumulates a register
    tile of `thread_channels` x `thread_pixels` outputs.

    - `vector_width`: elements per global load (1, 2 or 4). A convolution
      needs it to divide Cin, Cout, `channel_block` and `reduction_block`.
      A batch-matmul takes it as the widest load: lhs (along K) and rhs
      (along N) each load the widest of `vector_width`, half of it, ... that
      divides their row and block, so one operand of 197 tokens does not
      make the other load one float at a time.
    - `unroll`: unroll factor of the innermost reduction loop.
    - `double_buffer`: prefetch the next reduction block while computing.
    - `blocks`: fixed number of thread blocks launched; they walk the tile
      list grid-stride, so the tile count never has to reach the host. 0
      launches one block per group of `tiles_per_block` tiles of a full mask.
    - `tiles_per_block`: DISTiles one block computes together. Small tiles
      keep the work close to the mask; grouping them lets the block reuse
      each staged filter block for many pixels (the GEMM's M dimension).
      On a batch-matmul the grouped tiles are of one batch entry (the rhs
      is per entry): each block lists its entry's active tiles itself from
      the row mask, so `blocks` must be 0 there.
    - `split_k`: blocks that share one output tile, each reducing a slice of
      the input channels and adding its partial sums atomically into the
      zero-filled output. It buys parallelism when few tiles are active
      (batch 1); it needs float atomics (CUDA, not the OpenCL path).
    - `min_blocks`: with `split_k` > 1, split adaptively: the kernel splits
      the reduction only as many ways (at most `split_k`) as the active
      tiles need to give at least `min_blocks` blocks of work, so one
      variant has a batch-1-like split on a sparse mask and none on a dense
      one. The tile count is known on the device only, so the choice is
      made there; the launch has one block per tile group of a full mask or
      ceil(`min_blocks` / channel blocks) blocks along the list, whichever
      is more (at most `split_k` per group), and none along the split. 0 always splits `split_k` ways.
    - `tf32`: compute on the tensor cores (NVIDIA, `nvgpu.mma.sync`
      m16n8k8): each warp multiplies fragments of the staged operands with
      fp32 accumulation; the tensor cores read the operands as TF32 (their
      top 19 bits: a 10-bit mantissa, truncated), the precision cuDNN uses
      with TF32 allowed. Results are then TF32-accurate (about 1e-3
      relative), not fp32. `thread_pixels` x `thread_channels` still
      fixes the accumulators per thread; the warps tile the block's pixels x
      `channel_block` in 16 x 8 fragments, so the block's pixels must be a
      multiple of 16, `channel_block` of 8 and `reduction_block` of 8
      (`unroll` then counts steps of 8 channels). Convolutions only, and not
      on the OpenCL path.
    - `compact`: launch one 1-D grid over this run's work items, (tile
      group, channel block, slice) of the active tiles, slice fastest and
      group slowest, instead of the 3-D grid (groups x channel blocks x
      slices) sized for the variant's largest tile count. On a sparse mask
      the blocks with work are then the first launched, where the 3-D grid
      has a few in each row and its idle blocks each hold an SM slot until
      they have read the count; but the slices of a static split then run
      side by side and add into the same outputs. Which wins depends on the
      op and the density, so the tuner measures both. `blocks` still caps
      the blocks along the groups. Convolutions only.

    Every knob has a default, so `#spsparse.schedule<>` is valid.
  }];
  let parameters = (ins
    DefaultValuedParameter<"int64_t", "32">:$channel_block,
    DefaultValuedParameter<"int64_t", "8">:$reduction_block,
    DefaultValuedParameter<"int64_t", "128">:$threads,
    DefaultValuedParameter<"int64_t", "4">:$thread_channels,
    DefaultValuedParameter<"int64_t", "1">:$thread_pixels,
    DefaultValuedParameter<"int64_t", "1">:$vector_width,
    DefaultValuedParameter<"int64_t", "1">:$unroll,
    DefaultValuedParameter<"bool", "false">:$double_buffer,
    DefaultValuedParameter<"int64_t", "0">:$blocks,
    DefaultValuedParameter<"int64_t", "1">:$tiles_per_block,
    DefaultValuedParameter<"int64_t", "1">:$split_k,
    DefaultValuedParameter<"int64_t", "0">:$min_blocks,
    DefaultValuedParameter<"bool", "false">:$tf32,
    DefaultValuedParameter<"bool", "false">:$compact
  );
  let assemblyFormat = "`<` struct(params) `>`";
  let genVerifyDecl = 1;
}

//===----------------------------------------------------------------------===//
// Device description
//===----------------------------------------------------------------------===//

def SpSparse_DeviceAttr : SpSparse_Attr<"Device", "device"> {
  let summary = "a GPU as the analytical cost model sees it";
  let description = [{
    Resources and speeds of one GPU (paper §3.3, eqs. 8–12). Capacities are per
    SM (NVIDIA) or per compute unit (OpenCL): `threads_per_sm`,
    `shared_per_sm` (bytes), `registers_per_sm` (32-bit), `blocks_per_sm`.
    Bandwidths are device totals in GB/s, `transaction_bytes` is the
    global-memory transaction size G_trans, and `alpha` (ns per MAC per warp)
    and `gamma` (ns) are the compute-latency coefficients of the Fig. 7
    microbenchmark.
    Published specifications give the capacities; the runtime's calibration
    measures bandwidths, `alpha` and `gamma` on the device.

    ```mlir
    #spsparse.device<name = "h100", sms = 132, warp_size = 32,
      threads_per_sm = 2048, shared_per_sm = 233472,
      registers_per_sm = 65536, blocks_per_sm = 32,
      global_bandwidth = 2830.0, shared_bandwidth = 33000.0,
      transaction_bytes = 32, alpha = 0.126, gamma = 2000.0>
    ```

    `alpha` multiplies N_ops (MACs per thread) times N_warp (warps per SM):
    an SM issuing 4 warp-wide FMAs per clock at 1.98 GHz has alpha =
    1 / (4 * 1.98) = 0.126 ns. `include/dynaspa/Analysis/CostModel.h` has
    the model and built-in devices; `DeviceAttrAdapter.h` converts.
  }];
  let parameters = (ins
    StringRefParameter<"device name">:$name,
    "int64_t":$sms,
    DefaultValuedParameter<"int64_t", "32">:$warp_size,
    "int64_t":$threads_per_sm,
    "int64_t":$shared_per_sm,
    "int64_t":$registers_per_sm,
    "int64_t":$blocks_per_sm,
    APFloatParameter<"">:$global_bandwidth,
    APFloatParameter<"">:$shared_bandwidth,
    DefaultValuedParameter<"int64_t", "32">:$transaction_bytes,
    APFloatParameter<"">:$alpha,
    APFloatParameter<"">:$gamma
  );
  let assemblyFormat = "`<` struct(params) `>`";
  let genVerifyDecl = 1;
}

#endif // DYNASPA_DIALECT_SPSPARSE_IR_SPSPARSEATTRS_TD
