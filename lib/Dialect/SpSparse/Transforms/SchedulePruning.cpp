//===- SchedulePruning.cpp - keep the cost model's best candidates --------===//
//
// Part of the dynaspa project.
//
//===----------------------------------------------------------------------===//
//
// spsparse-prune-schedules: a thin pass over ScheduleRanking (the cost
// model's prediction of each candidate); it only chooses the device, keeps
// the best candidates and reports.
//
//===----------------------------------------------------------------------===//

#include "dynaspa/Analysis/DeviceAttrAdapter.h"
#include "dynaspa/Analysis/ScheduleRanking.h"
#include "dynaspa/Dialect/SpSparse/Transforms/Passes.h"

#include "llvm/Support/FormatVariadic.h"

#include <cmath>
#include <numeric>

namespace mlir {
namespace spsparse {
#define GEN_PASS_DEF_SPSPARSEPRUNESCHEDULES
#include "dynaspa/Dialect/SpSparse/Transforms/Passes.h.inc"
} // namespace spsparse
} // namespace mlir

using namespace mlir;
using namespace mlir::spsparse;
namespace cost = dynaspa::cost;

namespace {

struct SpSparsePruneSchedulesPass
    : public spsparse::impl::SpSparsePruneSchedulesBase<
          SpSparsePruneSchedulesPass> {
  using Base::Base;

  LogicalResult initialize(MLIRContext *context) override {
    auto fail = [&](const Twine &message) {
      return emitError(UnknownLoc::get(context))
             << "spsparse-prune-schedules: " << message;
    };
    if (keepTop < 0)
      return fail("keep-top must be positive");
    if (keepTop > 0 && keepFraction != 0)
      return fail("give keep-top or keep-fraction, not both");
    if (keepTop == 0 && keepFraction == 0)
      fraction = 0.1;
    else if (keepTop == 0 && !(keepFraction > 0 && keepFraction <= 1))
      return fail("keep-fraction must be in (0, 1]");
    else
      fraction = keepFraction;
    for (double d : densities)
      if (!(d >= 0 && d <= 1))
        return fail("densities must be in [0, 1]");
    if (!deviceFile.empty()) {
      std::string error;
      optionDevice = cost::readDeviceFile(deviceFile, error);
      if (!optionDevice)
        return fail(error);
    } else if (!device.empty()) {
      optionDevice = cost::getBuiltinDevice(device);
      if (!optionDevice)
        return fail("unknown device '" + device + "'");
    }
    return success();
  }

  LogicalResult prune(MaskedConv2DOp op, ArrayAttr variants) {
    std::optional<cost::DeviceModel> d = optionDevice;
    if (!d) {
      DeviceAttr attr = findDeviceAttr(op);
      if (!attr)
        return op->emitOpError(
            "has no device for the cost model: put a spsparse.device "
            "attribute on it or an enclosing op, or pass device= or "
            "device-file=");
      d = toDeviceModel(attr);
    }
    FailureOr<cost::ConvProblem> problem = getConvProblem(op);
    if (failed(problem))
      return failure();
    SmallVector<double> ds(densities.begin(), densities.end());
    if (ds.empty())
      ds = {0.1, 0.3, 0.5, 1.0};
    SmallVector<VariantPrediction> preds =
        predictVariants(*d, *problem, variants, ds);

    SmallVector<unsigned> valid;
    for (auto [i, p] : llvm::enumerate(preds)) {
      if (p.error.empty()) {
        valid.push_back(i);
        continue;
      }
      op->emitWarning() << "drops candidate " << i << " " << variants[i] << ": "
                        << p.error;
    }
    if (valid.empty())
      return op->emitOpError("has no candidate variant the template accepts");
    // Best first; ties keep the candidates' order.
    llvm::stable_sort(valid, [&](unsigned a, unsigned b) {
      return preds[a].ns < preds[b].ns;
    });
    size_t keep =
        keepTop > 0
            ? static_cast<size_t>(keepTop)
            : static_cast<size_t>(std::ceil(fraction * variants.size()));
    keep = std::clamp<size_t>(keep, 1, valid.size());

    SmallVector<Attribute> kept;
    for (unsigned i : ArrayRef(valid).take_front(keep))
      kept.push_back(variants[i]);
    op->setAttr(SpSparseDialect::kVariantsAttrName,
                ArrayAttr::get(op->getContext(), kept));
    if (report) {
      InFlightDiagnostic remark = op->emitRemark();
      remark << "kept " << keep << " of " << variants.size()
             << " candidates on " << d->name << ":";
      for (auto [rank, i] : llvm::enumerate(valid))
        remark << llvm::formatv(" [{0}] {1:f1} us{2};", i, preds[i].ns / 1000,
                                rank < keep ? " kept" : "");
    }
    return success();
  }

  void runOnOperation() override {
    WalkResult result = getOperation()->walk([&](Operation *op) {
      auto variants =
          op->getAttrOfType<ArrayAttr>(SpSparseDialect::kVariantsAttrName);
      if (!variants || !isa<MaskedOpInterface>(op))
        return WalkResult::advance();
      auto conv = dyn_cast<MaskedConv2DOp>(op);
      if (!conv) {
        op->emitWarning("has no cost-model profile yet; its candidate "
                        "variants are left unpruned");
        return WalkResult::advance();
      }
      return failed(prune(conv, variants)) ? WalkResult::interrupt()
                                           : WalkResult::advance();
    });
    if (result.wasInterrupted())
      signalPassFailure();
  }

  double fraction = 0.1;
  std::optional<cost::DeviceModel> optionDevice;
};

} // namespace
