//===- ConvProfile.h - the masked-conv template's profile -------*- C++ -*-===//
//
// Part of the dynaspa project.
//
//===----------------------------------------------------------------------===//
//
// A KernelProfile for one variant of the masked convolution kernel template
// (lib/Conversion/SpSparseToGPU/ConvKernel.cpp) on a mask with a given number
// of active DISTiles. The inputs are plain structs so that the profile can
// follow the template as it changes without touching MLIR; what the profile
// takes from the template is listed at the top of ConvProfile.cpp, item by
// item, so that a change there is a change to one of those items.
//
//===----------------------------------------------------------------------===//

#ifndef DYNASPA_ANALYSIS_CONVPROFILE_H
#define DYNASPA_ANALYSIS_CONVPROFILE_H

#include "dynaspa/Analysis/CostModel.h"

namespace dynaspa::cost {

/// An NHWC x HWCF convolution (`spsparse.masked_conv2d`, layout nhwc).
struct ConvProblem {
  int64_t batch = 1, height = 0, width = 0, inChannels = 0;
  int64_t kernelH = 1, kernelW = 1, outChannels = 0;
  int64_t strideH = 1, strideW = 1, dilationH = 1, dilationW = 1;
  int64_t padTop = 0, padBottom = 0, padLeft = 0, padRight = 0;
  int64_t elementBytes = 4;     ///< f32 activations, filters and outputs.
  int64_t maskElementBytes = 1; ///< The device mask (i8).
  bool bias = false;

  int64_t getOutHeight() const;
  int64_t getOutWidth() const;
};

/// The template's knobs: DISTile granularity and `#spsparse.schedule` (the
/// defaults are the attribute's).
struct ConvSchedule {
  int64_t tileH = 1, tileW = 1; ///< Granularity: output rows x columns.
  int64_t channelBlock = 32;
  int64_t reductionBlock = 8;
  int64_t threads = 128;
  int64_t threadChannels = 4;
  int64_t threadPixels = 1;
  int64_t vectorWidth = 1;
  int64_t unroll = 1;
  /// Register prefetch of the next reduction chunk during the arithmetic.
  bool doubleBuffer = false;
  /// Blocks along the tile list (grid-stride); 0: one per tile group.
  int64_t blocks = 0;
  /// DISTiles one block computes together (the implicit GEMM's M).
  int64_t tilesPerBlock = 1;
  /// Blocks that split the input-channel reduction; they add their partial
  /// sums atomically into the zero-filled output.
  int64_t splitK = 1;
  /// Adaptive split (> 0): split only as many ways (at most splitK) as the
  /// active tiles need for this many blocks of work; 0 always splits splitK.
  int64_t minBlocks = 0;
  /// Registers per thread if known from the compiled kernel (ptxas -v); 0
  /// estimates them (estimateConvRegisters).
  int64_t registersPerThread = 0;
};

/// Why the template rejects `schedule` for `problem` (the checks of
/// ConvKernel.cpp's planConv, in its order); empty if it accepts it.
std::string verifyConvSchedule(const ConvProblem &problem,
                               const ConvSchedule &schedule);

/// Shared memory the template allocates statically per block: the staged
/// input windows, the filter block and the decoded tiles (5 i32 per tile).
int64_t getConvSharedBytes(const ConvProblem &problem,
                           const ConvSchedule &schedule);

/// Registers per thread the kernel is estimated to need when ptxas has not
/// said (see A9 in ConvProfile.cpp for the formula and its error).
int64_t estimateConvRegisters(const ConvProblem &problem,
                              const ConvSchedule &schedule);

/// The profile of `schedule` on a mask with `activeTiles` non-empty DISTiles
/// of which a fraction `pixelFraction` of the pixels is set (the epilogue
/// writes only those), or nullopt with `error` set if the template rejects
/// the schedule.
std::optional<KernelProfile>
profileMaskedConv(const DeviceModel &device, const ConvProblem &problem,
                  const ConvSchedule &schedule, int64_t activeTiles,
                  std::string *error = nullptr, double pixelFraction = 1.0);

} // namespace dynaspa::cost

#endif // DYNASPA_ANALYSIS_CONVPROFILE_H
