//===- BmmProfile.h - the masked batch-matmul template's profile -*- C++ -*-===//
//
// Part of the dynaspa project.
//
//===----------------------------------------------------------------------===//
//
// A KernelProfile for one variant of the masked batch-matmul kernel template
// (lib/Conversion/SpSparseToGPU/BmmKernel.cpp: attention's QKᵀ and AV under
// token halting) on a mask with a given number of active DISTiles. Like
// ConvProfile.h it takes plain structs, so that it can follow the template
// without MLIR; what it takes from the template is listed at the top of
// BmmProfile.cpp, item by item.
//
//===----------------------------------------------------------------------===//

#ifndef DYNASPA_ANALYSIS_BMMPROFILE_H
#define DYNASPA_ANALYSIS_BMMPROFILE_H

#include "dynaspa/Analysis/CostModel.h"

namespace dynaspa::cost {

/// `[batch, M, K] x [batch, K, N] -> [batch, M, N]`
/// (`spsparse.masked_batch_matmul`) with a row mask `[batch, M]` and
/// optionally a column mask `[batch, N]` or `[N]`.
struct BmmProblem {
  int64_t batch = 1, m = 0, k = 0, n = 0;
  bool colMask = false;
  /// The column mask has a batch dimension (`[batch, N]`, not `[N]`).
  bool colMaskHasBatch = true;
  int64_t elementBytes = 4;     ///< f32 operands and output.
  int64_t maskElementBytes = 1; ///< The device masks (i8).
};

/// The template's knobs: the DISTile (rows of one batch entry) and the
/// `#spsparse.schedule` knobs it reads (the defaults are the attribute's).
/// The template ignores split_k.
struct BmmSchedule {
  int64_t rows = 16; ///< Granularity: tokens per DISTile.
  /// DISTiles of one batch entry a block computes together, from a list the
  /// block builds itself (B12 in BmmProfile.cpp); 1: one tile of the global
  /// list at a time.
  int64_t tilesPerBlock = 1;
  int64_t channelBlock = 32;
  int64_t reductionBlock = 8;
  int64_t threads = 128;
  int64_t threadChannels = 4;
  int64_t threadPixels = 1; ///< Rows per thread.
  int64_t vectorWidth = 1;
  int64_t unroll = 1;
  /// Prefetch the next chunk into registers (B13 in BmmProfile.cpp).
  bool doubleBuffer = false;
  /// Blocks along the tile list (grid-stride); 0: one per tile.
  int64_t blocks = 0;
  /// Registers per thread if known from the compiled kernel (ptxas -v); 0
  /// estimates them (estimateBmmRegisters).
  int64_t registersPerThread = 0;
};

/// Why the template rejects `schedule` for `problem` (the checks of
/// BmmKernel.cpp's planBmm, in its order and with its words); empty if it
/// accepts it.
std::string verifyBmmSchedule(const BmmProblem &problem,
                              const BmmSchedule &schedule);

/// Rows of A one block computes: rows x tiles_per_block.
inline int64_t getBmmBlockRows(const BmmSchedule &s) {
  return s.rows * s.tilesPerBlock;
}

/// Shared memory the template allocates statically per block: the staged
/// lhs rows [block rows][reduction_block] and rhs block
/// [reduction_block][channel_block], and with tiles_per_block > 1 the
/// block's list (a scan slot per thread, a slot per tile).
int64_t getBmmSharedBytes(const BmmSchedule &schedule);

/// DISTiles of a full mask: batch x ceil(M / rows).
int64_t getBmmTileCount(const BmmProblem &problem,
                        const BmmSchedule &schedule);

/// Dependent global-load waits of one staging loop of `iterations` loads per
/// thread, as ptxas unrolls it (B11 in BmmProfile.cpp): one per 4 iterations
/// from 4 on, one per iteration below.
int64_t getBmmStagingWaits(int64_t iterations);

/// Registers per thread the kernel is estimated to need when ptxas has not
/// said (see B8 in BmmProfile.cpp).
int64_t estimateBmmRegisters(const BmmSchedule &schedule);

/// The profile of `schedule` on a mask with `activeTiles` non-empty DISTiles
/// in which a fraction `writeFraction` of the output elements of the active
/// tiles' rows is written (set rows times set columns; the epilogue stores
/// only those), or nullopt with `error` set if the template rejects the
/// schedule.
std::optional<KernelProfile>
profileMaskedBmm(const DeviceModel &device, const BmmProblem &problem,
                 const BmmSchedule &schedule, int64_t activeTiles,
                 std::string *error = nullptr, double writeFraction = 1.0);

} // namespace dynaspa::cost

#endif // DYNASPA_ANALYSIS_BMMPROFILE_H
