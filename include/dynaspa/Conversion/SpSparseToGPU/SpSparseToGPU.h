//===- SpSparseToGPU.h - spsparse polykernels to GPU kernels ----*- C++ -*-===//
//
// Part of the dynaspa project.
//
//===----------------------------------------------------------------------===//
//
// The GPU kernel templates of dynaspa and the contract between the kernels
// they emit and whoever launches them (the bundle writer, the runtime).
//
// Every kernel takes only 1-D static memrefs (bare pointers after lowering),
// computes its indices itself, and carries two discardable attributes:
//   spsparse.launch = {grid = array<i64: x, y, z>, block = array<i64: x, y, z>}
//     a fixed launch configuration: nothing about it depends on the mask;
//   spsparse.args = ["input", "filter", "mask", "tiles:4x4", "count:4x4", ...]
//     what each argument is: an operand role of the masked op ("input",
//     "filter", "mask", "bias", "lhs", "rhs", "row_mask", "col_mask"),
//     "output", or a scratch buffer tied to a granularity ("tiles:RxC",
//     "count:RxC"). A count buffer holds 3 i32: the tile count, then two
//     counters the tile-list kernel needs zero when it starts and leaves
//     zero (the runtime zeroes scratch buffers once, at allocation).
// A variant kernel may also carry `spsparse.writes_zeros` (a unit attribute):
// it writes every element of the output, zeros where the mask is off, so the
// output is not zero-filled before the op. A convolution variant that splits
// its reduction and writes zeros also takes "arrivals:<kernel>", a scratch
// buffer of i32 counters (one per tile group and channel block) that its
// slices meet at and leave zero. A polykernel whose output's zeros
// come from fill kernels instead carries `spsparse.fills = {before = [..],
// alongside = [..]}` (Operator.fills_before / fills_alongside of the bundle).
// Workgroup (shared) memory is declared as gpu.func workgroup attributions in
// memory space 3; the OpenCL pipeline turns them into what SPIR-V needs.
//
//===----------------------------------------------------------------------===//

#ifndef DYNASPA_CONVERSION_SPSPARSETOGPU_SPSPARSETOGPU_H
#define DYNASPA_CONVERSION_SPSPARSETOGPU_SPSPARSETOGPU_H

#include "dynaspa/Dialect/SpSparse/IR/SpSparseOps.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/SPIRV/IR/SPIRVDialect.h"
#include "mlir/Pass/Pass.h"

namespace mlir {
namespace spsparse {

#define GEN_PASS_DECL_CONVERTSPSPARSETOGPU
#define GEN_PASS_DECL_SPSPARSELEGALIZEKERNELSFORSPIRV
#define GEN_PASS_DECL_SPSPARSECONVERTKERNELSTOSPIRV
#include "dynaspa/Conversion/Passes.h.inc"


/// The role names of the scratch buffers of granularity `g`.
std::string getTilesRole(GranularityAttr g);
std::string getCountRole(GranularityAttr g);

/// One variant's dispatch test, as a term of a kernel's device-side
/// decision: the tile count read from kernel argument `argIndex` lies in
/// [lo, hi] (hi < 0: unbounded) and, with a `cover`, the counts of the
/// cover's two granularities (arguments `ofArg`, `overArg`) pass it. With
/// `negate` the term is that the test fails: an earlier variant that did not
/// take the mask.
struct DispatchTerm {
  struct Cover {
    unsigned ofArg, overArg;
    CoverAttr attr;
  };
  unsigned argIndex;
  int64_t lo, hi;
  std::optional<Cover> cover;
  bool negate;
};

/// Emits into `module` the kernel that turns `op`'s mask into the list of
/// active DISTiles (block-wide prefix sums) and their count for each of
/// `granularities`, side by side in one grid. Arguments: mask, then tiles
/// and count per granularity.
FailureOr<gpu::GPUFuncOp>
buildTileListKernel(OpBuilder &builder, gpu::GPUModuleOp module,
                    MaskedOpInterface op,
                    ArrayRef<GranularityAttr> granularities, StringRef name);

/// Where the zeros of a masked convolution's output come from: the variants
/// write only active pixels unless told otherwise.
enum class ConvZeros {
  /// The default: Variants where the output has at least
  /// kAutoZeroBlocksBytes, else FillKernel (NOTES.md entry 30).
  Auto,
  /// The variant that runs writes them: the first KernelOptions::zeroBlocks
  /// blocks of its grid while the others compute; a split reduction's first
  /// slice to finish stores its sums and the others add to them (no zero
  /// fill before the op and no extra kernel).
  Variants,
  /// A fill kernel of the masked-off pixels (buildConvFillKernel) beside the
  /// prologue and the variants, where no variant splits its reduction; else
  /// ZeroFill.
  FillKernel,
  /// The runtime zero-fills the whole output before the op.
  ZeroFill,
};

/// The output size from which ConvZeros::Auto has the variants write the
/// zeros. On the H100 the zero blocks beat the zero fill (about 3 TB/s, 11 us
/// at 32 MiB) from here up, and lost to it below 16 MiB.
constexpr int64_t kAutoZeroBlocksBytes = int64_t(32) << 20;

/// The ConvZeros a pass option names ("auto", "variants", "fill-kernel" or
/// "zero-fill"), or none.
std::optional<ConvZeros> parseConvZeros(llvm::StringRef name);

/// Code-generation choices of the variant kernels that are not part of a
/// variant's schedule (pass options of convert-spsparse-to-gpu).
struct KernelOptions {
  /// Shared-memory copies of a double-buffered variant's staged chunk: 2
  /// stores chunk c+1 while chunk c is computed (one barrier per chunk), where
  /// the second copy fits in the 48 KiB of static shared memory.
  unsigned sharedBuffers = 1;
  /// Where a convolution's zeros (the masked-off outputs) come from.
  ConvZeros zeros = ConvZeros::Auto;
  /// With ConvZeros::Variants: the blocks at the start of each variant's grid
  /// that write the zeros while the others compute. 64 against 32 on the H100:
  /// 0.989 over the suite's ops with outputs of 32 MiB and more, up to 20%
  /// faster where the zeros outweigh the work (docs/benchmarks/NOTES.md
  /// entry 32).
  unsigned zeroBlocks = 64;
};

/// Emits the kernel of one PolyKernel variant of a masked convolution: a
/// grid-stride loop over the DISTile list that stages each tile's input
/// window (with its halo) and a block of filters in shared memory and
/// accumulates a register tile per thread. Arguments: input, filter, mask,
/// [bias], output, tiles, count, then the counts `dispatch` reads.
FailureOr<gpu::GPUFuncOp> buildConvKernel(OpBuilder &builder,
                                          gpu::GPUModuleOp module,
                                          MaskedConv2DOp op, GranularityAttr g,
                                          ScheduleAttr schedule, StringRef name,
                                          ArrayRef<DispatchTerm> dispatch,
                                          ArrayRef<std::string> extraCountRoles,
                                          const KernelOptions &options = {});

/// Emits a kernel that writes zeros to the output pixels of `op` whose mask
/// element is not set (the variants' own test, negated): what no variant
/// writes (FillKernel.cpp). Arguments: mask, output.
FailureOr<gpu::GPUFuncOp> buildConvFillKernel(OpBuilder &builder,
                                              gpu::GPUModuleOp module,
                                              MaskedConv2DOp op,
                                              StringRef name);

/// Emits the kernel of one PolyKernel variant of a masked batch-matmul: a
/// grid-stride loop over the DISTile list (blocks of g rows) that stages
/// each tile's lhs rows and a block of rhs columns in shared memory,
/// `reduction_block` of K at a time, and accumulates a register tile per
/// thread; row and column masks apply at the store. Arguments: lhs, rhs,
/// row_mask, [col_mask], output, tiles, count, then the counts `dispatch`
/// reads.
///
/// With `standalone` (the PolyKernel's only variant, and one that lists its
/// own DISTiles: see variantListsOwnTiles) the kernel takes no tile list and
/// no count and needs no zero-filled output: it writes every output element,
/// zeros where the masks are off. The whole op is then this one kernel.
FailureOr<gpu::GPUFuncOp>
buildBmmKernel(OpBuilder &builder, gpu::GPUModuleOp module,
               MaskedBatchMatmulOp op, GranularityAttr g, ScheduleAttr schedule,
               StringRef name, ArrayRef<DispatchTerm> dispatch,
               ArrayRef<std::string> extraCountRoles, bool standalone = false,
               const KernelOptions &options = {});

/// Whether the variant kernel of `op` under `schedule` finds its DISTiles
/// itself from the mask rather than walking the tile-list kernel's list: a
/// batch-matmul with `tiles_per_block` > 1. A PolyKernel of one such variant
/// is lowered standalone (no tile-list kernel, no zero fill).
bool variantListsOwnTiles(MaskedOpInterface op, ScheduleAttr schedule);

/// Calibration probes (ProbeKernels.cpp): each kernel carries
/// `spsparse.probe = {kind = "fma" | "fma_chain" | "shared" | "copy",
/// work = N}` -- MACs (fma, fma_chain) or 4-byte shared loads (shared) per
/// thread per loop iteration, elements per access (copy) -- besides the
/// usual `spsparse.launch` (its block) and `spsparse.args` (src, dst, count).
/// Elements of each probe's f32 buffers: 128 MiB, well beyond the L2 of any
/// GPU the cost model describes, so the copy probe streams from DRAM.
constexpr int64_t kProbeElements = int64_t(1) << 25;

/// Adds a gpu.module `name` with the calibration probes to `module`.
gpu::GPUModuleOp buildProbeModule(OpBuilder &builder, ModuleOp module,
                                  StringRef name);

} // namespace spsparse
} // namespace mlir

#endif // DYNASPA_CONVERSION_SPSPARSETOGPU_SPSPARSETOGPU_H
