//===- SpSparseAttrs.cpp - SpSparse attribute verifiers -------------------===//
//
// Part of the dynaspa project.
//
//===----------------------------------------------------------------------===//

#include "dynaspa/Dialect/SpSparse/IR/SpSparseAttrs.h"

#include "mlir/IR/BuiltinTypes.h"
#include "mlir/IR/Diagnostics.h"

using namespace mlir;
using namespace mlir::spsparse;

//===----------------------------------------------------------------------===//
// GranularityAttr
//===----------------------------------------------------------------------===//

LogicalResult
GranularityAttr::verify(function_ref<InFlightDiagnostic()> emitError,
                        ArrayRef<int64_t> sizes) {
  if (sizes.empty())
    return emitError() << "granularity needs at least one size";
  for (int64_t size : sizes)
    if (size <= 0)
      return emitError() << "granularity sizes must be positive, got " << size;
  return success();
}

SmallVector<int64_t> GranularityAttr::getGrid(ArrayRef<int64_t> shape) const {
  ArrayRef<int64_t> sizes = getSizes();
  assert(shape.size() >= sizes.size() && "granularity deeper than the shape");
  SmallVector<int64_t> grid(shape);
  size_t lead = shape.size() - sizes.size();
  for (auto [i, size] : llvm::enumerate(sizes)) {
    int64_t extent = shape[lead + i];
    grid[lead + i] =
        ShapedType::isDynamic(extent) ? extent : llvm::divideCeil(extent, size);
  }
  return grid;
}

int64_t GranularityAttr::getNumTiles(ArrayRef<int64_t> shape) const {
  int64_t n = 1;
  for (int64_t d : getGrid(shape)) {
    if (ShapedType::isDynamic(d))
      return ShapedType::kDynamic;
    n *= d;
  }
  return n;
}

int64_t GranularityAttr::getNumElements() const {
  int64_t n = 1;
  for (int64_t size : getSizes())
    n *= size;
  return n;
}

//===----------------------------------------------------------------------===//
// CoverAttr
//===----------------------------------------------------------------------===//

LogicalResult CoverAttr::verify(function_ref<InFlightDiagnostic()> emitError,
                                ArrayRef<int64_t> of, ArrayRef<int64_t> over,
                                int64_t minPercent, int64_t maxPercent) {
  // The bundle's bound (runtime/schema/bundle.fbs): an I32 tile count times
  // a tile's positions times a percent stays below 2^63.
  constexpr int64_t kMax = int64_t(1) << 16;
  for (ArrayRef<int64_t> sizes : {of, over}) {
    if (failed(GranularityAttr::verify(emitError, sizes)))
      return failure();
    int64_t positions = 1;
    for (int64_t size : sizes)
      positions = std::min(positions * size, kMax + 1);
    if (positions > kMax)
      return emitError() << "cover granularities may have at most " << kMax
                         << " positions per tile";
  }
  if (of.size() != over.size())
    return emitError() << "cover compares granularities of one rank, got "
                       << of.size() << " and " << over.size() << " sizes";
  if (minPercent < 0 || minPercent > kMax || maxPercent > kMax ||
      (maxPercent != -1 && maxPercent < minPercent))
    return emitError() << "cover range [" << minPercent << ", " << maxPercent
                       << "] must have 0 <= lo <= " << kMax
                       << " and hi = -1 (unbounded) or lo <= hi <= " << kMax;
  return success();
}

GranularityAttr CoverAttr::getOfGranularity() const {
  return GranularityAttr::get(getContext(), getOf());
}

GranularityAttr CoverAttr::getOverGranularity() const {
  return GranularityAttr::get(getContext(), getOver());
}

//===----------------------------------------------------------------------===//
// ScheduleAttr
//===----------------------------------------------------------------------===//

LogicalResult ScheduleAttr::verify(function_ref<InFlightDiagnostic()> emitError,
                                   int64_t channelBlock, int64_t reductionBlock,
                                   int64_t threads, int64_t threadChannels,
                                   int64_t threadPixels, int64_t vectorWidth,
                                   int64_t unroll, bool doubleBuffer,
                                   int64_t blocks, int64_t tilesPerBlock,
                                   int64_t splitK, int64_t minBlocks, bool tf32,
                                   bool /*compact*/) {
  for (auto [name, value] :
       {std::pair<StringRef, int64_t>{"channel_block", channelBlock},
        {"reduction_block", reductionBlock},
        {"threads", threads},
        {"thread_channels", threadChannels},
        {"thread_pixels", threadPixels},
        {"unroll", unroll},
        {"tiles_per_block", tilesPerBlock},
        {"split_k", splitK}})
    if (value <= 0)
      return emitError() << "schedule knob '" << name
                         << "' must be positive, got " << value;
  for (auto [name, value] : {std::pair<StringRef, int64_t>{"blocks", blocks},
                             {"min_blocks", minBlocks}})
    if (value < 0)
      return emitError() << "schedule knob '" << name << "' must be >= 0, got "
                         << value;
  // The adaptive split chooses between 1 and split_k ways; with split_k = 1
  // there is nothing to choose and the knob would silently do nothing.
  if (minBlocks > 0 && splitK == 1)
    return emitError() << "schedule knob 'min_blocks' needs 'split_k' > 1 "
                          "(the most ways the kernel may split)";
  if (vectorWidth != 1 && vectorWidth != 2 && vectorWidth != 4)
    return emitError() << "schedule knob 'vector_width' must be 1, 2 or 4, got "
                       << vectorWidth;
  if (threads % 32 != 0 || threads > 1024)
    return emitError() << "schedule knob 'threads' must be a multiple of 32 "
                          "and at most 1024, got "
                       << threads;
  if (channelBlock % threadChannels != 0)
    return emitError() << "'channel_block' (" << channelBlock
                       << ") must be a multiple of 'thread_channels' ("
                       << threadChannels << ")";
  // An m16n8k8 fragment spans 8 output channels and 8 reduction channels.
  if (tf32 && (channelBlock % 8 != 0 || reductionBlock % 8 != 0))
    return emitError() << "schedule knob 'tf32' needs 'channel_block' and "
                          "'reduction_block' to be multiples of 8 (the "
                          "mma fragment), got "
                       << channelBlock << " and " << reductionBlock;
  return success();
}

//===----------------------------------------------------------------------===//
// DeviceAttr
//===----------------------------------------------------------------------===//

LogicalResult DeviceAttr::verify(function_ref<InFlightDiagnostic()> emitError,
                                 StringRef name, int64_t sms, int64_t warpSize,
                                 int64_t threadsPerSm, int64_t sharedPerSm,
                                 int64_t registersPerSm, int64_t blocksPerSm,
                                 APFloat globalBandwidth,
                                 APFloat sharedBandwidth,
                                 int64_t transactionBytes, APFloat alpha,
                                 APFloat gamma) {
  if (name.empty())
    return emitError() << "device needs a non-empty name";
  for (auto [field, value] :
       {std::pair<StringRef, int64_t>{"sms", sms},
        {"warp_size", warpSize},
        {"threads_per_sm", threadsPerSm},
        {"shared_per_sm", sharedPerSm},
        {"registers_per_sm", registersPerSm},
        {"blocks_per_sm", blocksPerSm},
        {"transaction_bytes", transactionBytes}})
    if (value <= 0)
      return emitError() << "device field '" << field
                         << "' must be positive, got " << value;
  if (!(globalBandwidth.convertToDouble() > 0) ||
      !(sharedBandwidth.convertToDouble() > 0))
    return emitError() << "device bandwidths must be positive";
  if (!(alpha.convertToDouble() >= 0) || !(gamma.convertToDouble() >= 0))
    return emitError() << "device 'alpha' and 'gamma' must be non-negative";
  return success();
}
