//===- ScheduleRanking.cpp - the cost model's order of an op's variants ---===//
//
// Part of the dynaspa project.
//
//===----------------------------------------------------------------------===//

#include "dynaspa/Analysis/ScheduleRanking.h"

#include <cmath>

using namespace mlir;
using namespace mlir::spsparse;
namespace cost = dynaspa::cost;

FailureOr<cost::ConvProblem> mlir::spsparse::getConvProblem(MaskedConv2DOp op) {
  auto in = cast<RankedTensorType>(op.getInput().getType());
  auto f = cast<RankedTensorType>(op.getFilter().getType());
  if (op.getLayout() != Layout::nhwc)
    return op->emitOpError(
        "the cost model describes the NHWC/HWCF conv template only");
  if (!in.hasStaticShape() || !f.hasStaticShape())
    return op->emitOpError("the cost model needs static shapes");
  if (!in.getElementType().isF32() || !f.getElementType().isF32())
    return op->emitOpError("the cost model describes f32 convolutions only");
  cost::ConvProblem p;
  p.batch = in.getDimSize(0);
  p.height = in.getDimSize(1);
  p.width = in.getDimSize(2);
  p.inChannels = in.getDimSize(3);
  p.kernelH = f.getDimSize(0);
  p.kernelW = f.getDimSize(1);
  p.outChannels = f.getDimSize(3);
  ArrayRef<int64_t> st = op.getStrides(), dil = op.getDilations(),
                    pad = op.getPadding();
  p.strideH = st[0];
  p.strideW = st[1];
  p.dilationH = dil[0];
  p.dilationW = dil[1];
  p.padTop = pad[0];
  p.padBottom = pad[1];
  p.padLeft = pad[2];
  p.padRight = pad[3];
  p.bias = static_cast<bool>(op.getBias());
  return p;
}

FailureOr<cost::ConvSchedule> mlir::spsparse::getConvSchedule(GranularityAttr g,
                                                              ScheduleAttr s) {
  if (g.getSizes().size() != 2)
    return failure();
  cost::ConvSchedule c;
  c.tileH = g.getSizes()[0];
  c.tileW = g.getSizes()[1];
  if (!s)
    return c; // ConvSchedule's defaults are the attribute's.
  if (s.getTf32())
    return failure(); // The model has no tensor-core profile.
  c.channelBlock = s.getChannelBlock();
  c.reductionBlock = s.getReductionBlock();
  c.threads = s.getThreads();
  c.threadChannels = s.getThreadChannels();
  c.threadPixels = s.getThreadPixels();
  c.vectorWidth = s.getVectorWidth();
  c.unroll = s.getUnroll();
  c.doubleBuffer = s.getDoubleBuffer();
  c.blocks = s.getBlocks();
  c.tilesPerBlock = s.getTilesPerBlock();
  c.splitK = s.getSplitK();
  c.minBlocks = s.getMinBlocks();
  return c;
}

DeviceAttr mlir::spsparse::findDeviceAttr(Operation *op) {
  for (; op; op = op->getParentOp())
    if (auto d =
            op->getAttrOfType<DeviceAttr>(SpSparseDialect::kDeviceAttrName))
      return d;
  return nullptr;
}

double mlir::spsparse::estimateActiveTileFraction(double density,
                                                  int64_t tilePixels) {
  density = std::clamp(density, 0.0, 1.0);
  double exponent = (1 + std::sqrt(static_cast<double>(tilePixels))) / 2;
  return 1 - std::pow(1 - density, exponent);
}

SmallVector<VariantPrediction>
mlir::spsparse::predictVariants(const cost::DeviceModel &device,
                                const cost::ConvProblem &p, ArrayAttr variants,
                                ArrayRef<double> densities) {
  SmallVector<VariantPrediction> out;
  const int64_t ho = p.getOutHeight(), wo = p.getOutWidth();
  for (auto dict : variants.getAsRange<DictionaryAttr>()) {
    VariantPrediction pred;
    FailureOr<cost::ConvSchedule> s =
        getConvSchedule(cast<GranularityAttr>(dict.get("granularity")),
                        dict.getAs<ScheduleAttr>("schedule"));
    if (failed(s)) {
      auto schedule = dict.getAs<ScheduleAttr>("schedule");
      pred.error = schedule && schedule.getTf32()
                       ? cost::kNoTensorCoreProfile
                       : "a convolution's granularity has two sizes (rows, "
                         "columns)";
      out.push_back(pred);
      continue;
    }
    int64_t tilePixels = s->tileH * s->tileW;
    int64_t tiles = p.batch * llvm::divideCeil(ho, s->tileH) *
                    llvm::divideCeil(wo, s->tileW);
    // The single-variant operator's overhead: its zero fill and tile list.
    double overhead = cost::estimateOperatorOverhead(
        device, p.elementBytes * p.batch * ho * wo * p.outChannels,
        {{tiles, tilePixels}}, 1);
    double logSum = 0;
    for (double d : densities) {
      double fraction = estimateActiveTileFraction(d, tilePixels);
      int64_t active = static_cast<int64_t>(std::ceil(fraction * tiles));
      double pixels = fraction > 0 ? std::min(1.0, d / fraction) : 1.0;
      std::optional<cost::KernelProfile> prof =
          cost::profileMaskedConv(device, p, *s, active, &pred.error, pixels);
      if (!prof)
        break;
      cost::CostBreakdown c = cost::estimateCost(device, *prof);
      if (c.bound == cost::CostBreakdown::Bound::Infeasible) {
        pred.error = "a block does not fit on the device";
        break;
      }
      logSum += std::log(c.totalNs + overhead);
    }
    if (pred.error.empty())
      pred.ns = densities.empty() ? 0 : std::exp(logSum / densities.size());
    out.push_back(pred);
  }
  return out;
}
