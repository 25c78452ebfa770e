//===- ScheduleRanking.h - the model's order of candidates ------*- C++ -*-===//
//
// Part of the dynaspa project.
//
//===----------------------------------------------------------------------===//
//
// The bridge between masked ops carrying candidate variants (the
// `spsparse.variants` form: {granularity, schedule, tiles}) and the plain
// C++ cost model: the model's view of an op and a variant, the device an op
// is compiled for, and the predicted time of every candidate over a set of
// mask densities. spsparse-prune-schedules is a thin pass over this.
//
//===----------------------------------------------------------------------===//

#ifndef DYNASPA_ANALYSIS_SCHEDULERANKING_H
#define DYNASPA_ANALYSIS_SCHEDULERANKING_H

#include "dynaspa/Analysis/ConvProfile.h"
#include "dynaspa/Dialect/SpSparse/IR/SpSparseOps.h"

namespace mlir::spsparse {

/// The cost model's view of `op`, or failure (with a diagnostic on `op`) for
/// what the model and the GPU template do not handle: NCHW, dynamic shapes,
/// non-f32 data.
FailureOr<dynaspa::cost::ConvProblem> getConvProblem(MaskedConv2DOp op);

/// The knobs of (granularity, schedule); a null schedule is the default one.
/// Fails for a granularity of other than two sizes, and for a tf32 schedule
/// (the model has no tensor-core profile).
FailureOr<dynaspa::cost::ConvSchedule> getConvSchedule(GranularityAttr g,
                                                       ScheduleAttr schedule);

/// The nearest `spsparse.device` attribute on `op` or an ancestor, or null.
DeviceAttr findDeviceAttr(Operation *op);

/// The fraction of DISTiles of `tilePixels` positions that a mask of
/// `density` leaves active, for spatially clustered masks:
/// 1 - (1 - d)^((1 + sqrt(tilePixels)) / 2). Fitted to the saliency and
/// blob masks of ../shared/masks (within ~0.1 at 2x2 to 8x8); it
/// overestimates for compact edit masks. A tuner that has its masks should
/// use their real tile counts instead.
double estimateActiveTileFraction(double density, int64_t tilePixels);

/// One candidate's prediction: the geometric mean over the densities of the
/// model's time (kernel plus the runtime's overhead around a single-variant
/// operator), or why the template rejects it.
struct VariantPrediction {
  double ns = 0;
  std::string error; ///< Non-empty: the template rejects the candidate.
};

/// Predictions for every entry of `variants` (the `spsparse.variants` form)
/// on `op` for masks of the given densities on `device`.
SmallVector<VariantPrediction>
predictVariants(const dynaspa::cost::DeviceModel &device,
                const dynaspa::cost::ConvProblem &problem, ArrayAttr variants,
                ArrayRef<double> densities);

} // namespace mlir::spsparse

#endif // DYNASPA_ANALYSIS_SCHEDULERANKING_H
