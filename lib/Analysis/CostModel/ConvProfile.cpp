//===- ConvProfile.cpp - the masked-conv template's access patterns -------===//
//
// Part of the dynaspa project.
//
//===----------------------------------------------------------------------===//
//
// Describes ConvKernel.cpp's kernel as warp instructions and feeds them to a
// ProfileBuilder. The template is being reworked; everything this file
// assumes about it is listed here, so that a change there is a change to one
// of these items:
//
//  A1 Grid: blockIdx.x walks the tile list grid-stride, blockIdx.y takes
//     `channel_block` output channels. Blocks past the active-tile count exit
//     at once and are not modelled (they cost launch slots, not bandwidth).
//     The busiest block handles ceil(groups / blocks.x) tile groups.
//  A2 Threads: tid = pixelGroup * (channel_block / thread_channels) +
//     channelGroup; a thread owns pixels pg + i * pixelGroups (i <
//     thread_pixels) and channels cg + j * channelGroups (j <
//     thread_channels). threads must equal channelGroups * pixelGroups.
//  A3 Per chunk of `reduction_block` input channels (ceil(Cin / rb) chunks,
//     the last one padded with zeros): the block stages the input window
//     (ih x iw x rb, innermost channels) and the filter block (kh x kw x rb x
//     channel_block, innermost output channels) from global to shared memory
//     with a loop `for e = tid; e < elements / vw; e += threads`, loading
//     `vector_width` elements per lane and storing them at e * vw. Positions
//     outside the input are not loaded (phantom reads) but still stored.
//  A4 The register tile: for each of rb channels and kh x kw taps, every
//     thread loads thread_pixels input words and thread_channels filter words
//     from shared memory (4-byte loads) and does thread_pixels *
//     thread_channels MACs. `unroll` changes instruction scheduling only.
//  A5 Epilogue per pixel: one mask byte load, per channel an optional bias
//     load and one output store. All pixels are assumed set (an upper bound:
//     the mask density inside an active tile is not known to the model).
//  A6 tiles_per_block = T > 1 (not in the template yet): a block computes T
//     tiles at once, staging T input windows and one filter block; its
//     pixel groups span the T tiles (pixels = T * tileH * tileW). The model
//     places all T tiles at the representative tile's position.
//  A7 split_k = S > 1 (not in the template yet): blockIdx.z takes a slice of
//     ceil(chunks / S) chunks; outputs are accumulated with global atomics,
//     which are counted like stores.
//  A8 The representative tile is the one nearest the center of the output,
//     image 0; border tiles read less (phantom reads), so this is the upper
//     bound for one tile. Every tile is assumed to cost the same.
//  A9 Registers (when not given): tp * tc accumulators + tp + tc operands +
//     24 for addresses and loop state — a rough guess; pass the value
//     ptxas reports for accuracy.
//
//===----------------------------------------------------------------------===//

#include "dynaspa/Analysis/ConvProfile.h"

#include <algorithm>

using namespace dynaspa::cost;

/// Static shared memory the template may use (ConvKernel.cpp: it does not
/// opt in to more than 48 KiB).
static constexpr int64_t kMaxStaticSharedBytes = 48 * 1024;

static int64_t ceilDiv(int64_t a, int64_t b) { return (a + b - 1) / b; }

int64_t ConvProblem::getOutHeight() const {
  return (height + padTop + padBottom - dilationH * (kernelH - 1) - 1) /
             strideH +
         1;
}

int64_t ConvProblem::getOutWidth() const {
  return (width + padLeft + padRight - dilationW * (kernelW - 1) - 1) /
             strideW +
         1;
}

namespace {
/// Derived sizes of one (problem, schedule) pair.
struct Plan {
  int64_t pixels;        // T * tileH * tileW
  int64_t channelGroups; // channel_block / thread_channels
  int64_t pixelGroups;   // pixels / thread_pixels
  int64_t ih, iw;        // staged input window of one tile
  int64_t inputElems;    // T * ih * iw * rb
  int64_t filterElems;   // kh * kw * rb * cb
  int64_t sharedBytes;
};
} // namespace

static Plan makePlan(const ConvProblem &p, const ConvSchedule &s) {
  Plan plan;
  plan.pixels = s.tilesPerBlock * s.tileH * s.tileW;
  plan.channelGroups = s.channelBlock / s.threadChannels;
  plan.pixelGroups = plan.pixels / s.threadPixels;
  plan.ih = (s.tileH - 1) * p.strideH + (p.kernelH - 1) * p.dilationH + 1;
  plan.iw = (s.tileW - 1) * p.strideW + (p.kernelW - 1) * p.dilationW + 1;
  plan.inputElems = s.tilesPerBlock * plan.ih * plan.iw * s.reductionBlock;
  plan.filterElems = p.kernelH * p.kernelW * s.reductionBlock * s.channelBlock;
  plan.sharedBytes = p.elementBytes * (plan.inputElems + plan.filterElems);
  return plan;
}

std::string dynaspa::cost::verifyConvSchedule(const ConvProblem &p,
                                              const ConvSchedule &s) {
  for (int64_t v :
       {p.batch, p.height, p.width, p.inChannels, p.kernelH, p.kernelW,
        p.outChannels, p.strideH, p.strideW, p.dilationH, p.dilationW})
    if (v <= 0)
      return "convolution sizes, strides and dilations must be positive";
  if (p.getOutHeight() <= 0 || p.getOutWidth() <= 0)
    return "the convolution has an empty output";
  for (int64_t v : {s.tileH, s.tileW, s.channelBlock, s.reductionBlock,
                    s.threads, s.threadChannels, s.threadPixels, s.vectorWidth,
                    s.unroll, s.tilesPerBlock, s.splitK})
    if (v <= 0)
      return "schedule knobs must be positive";
  if (s.blocks < 0 || s.registersPerThread < 0)
    return "blocks and registers_per_thread must be non-negative";
  // The checks of ConvKernel.cpp's planConv, in its order.
  Plan plan = makePlan(p, s);
  if (s.channelBlock % s.threadChannels || plan.pixels % s.threadPixels)
    return "thread_channels must divide channel_block and thread_pixels the "
           "block's " +
           std::to_string(plan.pixels) + " pixels";
  if (s.threads != plan.channelGroups * plan.pixelGroups)
    return "threads must be (channel_block / thread_channels) * (pixels / "
           "thread_pixels) = " +
           std::to_string(plan.channelGroups * plan.pixelGroups);
  if (s.threads > 1024)
    return "more than 1024 threads per block";
  int64_t vw = s.vectorWidth;
  if (vw != 1 && vw != 2 && vw != 4)
    return "vector_width must be 1, 2 or 4";
  if (p.inChannels % vw || s.reductionBlock % vw || p.outChannels % vw ||
      s.channelBlock % vw)
    return "vector_width must divide Cin, Cout, channel_block and "
           "reduction_block";
  if (s.reductionBlock % s.unroll)
    return "unroll must divide reduction_block";
  if (plan.sharedBytes > kMaxStaticSharedBytes)
    return "needs " + std::to_string(plan.sharedBytes) +
           " bytes of shared memory (more than 48 KiB)";
  return "";
}

namespace {
/// Byte address a thread of the block touches, or nullopt if it does not.
using ThreadAddress = std::function<std::optional<int64_t>(int64_t tid)>;

/// Walks the template's warp instructions for one tile group (A3-A5) and
/// adds each, times how often the busiest block executes it, to a profile.
class ConvWalker {
public:
  ConvWalker(const DeviceModel &device, const ConvProblem &p,
             const ConvSchedule &s, const Plan &plan, KernelProfile &profile)
      : device(device), p(p), s(s), plan(plan), builder(device, profile) {
    // A8: the tile nearest the center of the output.
    int64_t tilesH = ceilDiv(p.getOutHeight(), s.tileH);
    int64_t tilesW = ceilDiv(p.getOutWidth(), s.tileW);
    oh0 = (tilesH / 2) * s.tileH;
    ow0 = (tilesW / 2) * s.tileW;
  }

  /// A3: stage the input windows and the filter block of chunk `c0`.
  void stageChunk(int64_t c0, double count);
  /// A4: one chunk's shared loads of the register tile.
  void registerTile(double count);
  /// A5: mask, bias and output accesses.
  void epilogue(double count);

private:
  /// The warp instruction in which warp `warp`'s threads access `address`.
  WarpAccess warpAccess(int64_t warp, int64_t width,
                        const ThreadAddress &address) const {
    int64_t lanes = device.warpSize, first = warp * lanes;
    return WarpAccess::fromFunction(
        lanes, width, [&](int64_t lane) -> std::optional<int64_t> {
          if (first + lane >= s.threads)
            return std::nullopt;
          return address(first + lane);
        });
  }
  int64_t numWarps() const { return ceilDiv(s.threads, device.warpSize); }

  /// `for e = tid; e < elements; e += threads`: a vector load of element
  /// `e` from `global(e)` (an element index, nullopt: phantom) and a store to
  /// shared e * vector_width.
  void stage(int64_t elements, double count,
             const std::function<std::optional<int64_t>(int64_t)> &global);

  /// (row, column) of the i-th pixel of thread `tid`, if inside the output.
  std::optional<std::pair<int64_t, int64_t>> outputPixel(int64_t tid,
                                                         int64_t i) const {
    int64_t inTile = pixel(tid, i) % (s.tileH * s.tileW);
    int64_t oh = oh0 + inTile / s.tileW, ow = ow0 + inTile % s.tileW;
    if (oh >= p.getOutHeight() || ow >= p.getOutWidth())
      return std::nullopt;
    return std::make_pair(oh, ow);
  }
  /// A2: pixel i and channel j of thread `tid`, within the block.
  int64_t pixel(int64_t tid, int64_t i) const {
    return tid / plan.channelGroups + i * plan.pixelGroups;
  }
  int64_t channel(int64_t tid, int64_t j) const {
    return tid % plan.channelGroups + j * plan.channelGroups;
  }

  const DeviceModel &device;
  const ConvProblem &p;
  const ConvSchedule &s;
  const Plan &plan;
  ProfileBuilder builder;
  int64_t oh0, ow0;
};
} // namespace

void ConvWalker::stage(
    int64_t elements, double count,
    const std::function<std::optional<int64_t>(int64_t)> &global) {
  int64_t vw = s.vectorWidth, eb = p.elementBytes;
  for (int64_t base = 0; base < elements; base += s.threads) {
    for (int64_t w = 0; w < numWarps(); ++w) {
      builder.addGlobal(
          warpAccess(w, vw * eb,
                     [&](int64_t tid) -> std::optional<int64_t> {
                       if (base + tid >= elements)
                         return std::nullopt;
                       std::optional<int64_t> index = global(base + tid);
                       return index ? std::optional(*index * eb) : std::nullopt;
                     }),
          count);
      builder.addShared(warpAccess(w, vw * eb,
                                   [&](int64_t tid) -> std::optional<int64_t> {
                                     if (base + tid >= elements)
                                       return std::nullopt;
                                     return (base + tid) * vw * eb;
                                   }),
                        count);
    }
  }
}

void ConvWalker::stageChunk(int64_t c0, double count) {
  const int64_t vw = s.vectorWidth, rb = s.reductionBlock;
  const int64_t rbv = rb / vw, cbv = s.channelBlock / vw;
  const int64_t windowVectors = plan.ih * plan.iw * rbv;
  const int64_t rowIn0 = oh0 * p.strideH - p.padTop;
  const int64_t colIn0 = ow0 * p.strideW - p.padLeft;
  // Input windows [T][ih][iw][rb] (A6: all T at the representative origin).
  stage(s.tilesPerBlock * windowVectors, count,
        [&](int64_t e) -> std::optional<int64_t> {
          int64_t local = e % windowVectors;
          int64_t r = (local % rbv) * vw;
          int64_t col = (local / rbv) % plan.iw;
          int64_t row = local / (rbv * plan.iw);
          int64_t h = rowIn0 + row, w = colIn0 + col, ci = c0 + r;
          if (h < 0 || h >= p.height || w < 0 || w >= p.width ||
              ci >= p.inChannels)
            return std::nullopt;
          return (h * p.width + w) * p.inChannels + ci;
        });
  // The filter block [kh][kw][rb][cb] of output-channel block 0.
  stage(p.kernelH * p.kernelW * rb * cbv, count,
        [&](int64_t e) -> std::optional<int64_t> {
          int64_t co = (e % cbv) * vw;
          int64_t ci = c0 + (e / cbv) % rb;
          int64_t tap = e / (cbv * rb);
          if (co >= p.outChannels || ci >= p.inChannels)
            return std::nullopt;
          return (tap * p.inChannels + ci) * p.outChannels + co;
        });
}

void ConvWalker::registerTile(double count) {
  // Over the rb channels and the taps every lane's address moves by the same
  // amount, which leaves bank conflicts unchanged: one instruction per
  // (warp, i) and (warp, j) stands for rb * kh * kw of them.
  count *= s.reductionBlock * p.kernelH * p.kernelW;
  const int64_t eb = p.elementBytes, rb = s.reductionBlock;
  const int64_t pixelsPerTile = s.tileH * s.tileW;
  for (int64_t w = 0; w < numWarps(); ++w) {
    for (int64_t i = 0; i < s.threadPixels; ++i)
      builder.addShared(
          warpAccess(w, eb,
                     [&](int64_t tid) -> std::optional<int64_t> {
                       int64_t pix = pixel(tid, i);
                       int64_t tile = pix / pixelsPerTile;
                       int64_t row = pix % pixelsPerTile / s.tileW;
                       int64_t col = pix % s.tileW;
                       return (tile * plan.ih * plan.iw +
                               row * p.strideH * plan.iw + col * p.strideW) *
                              rb * eb;
                     }),
          count);
    for (int64_t j = 0; j < s.threadChannels; ++j)
      builder.addShared(warpAccess(w, eb,
                                   [&](int64_t tid) -> std::optional<int64_t> {
                                     return channel(tid, j) * eb;
                                   }),
                        count);
  }
}

void ConvWalker::epilogue(double count) {
  const int64_t eb = p.elementBytes, wo = p.getOutWidth();
  for (int64_t w = 0; w < numWarps(); ++w) {
    for (int64_t i = 0; i < s.threadPixels; ++i) {
      builder.addGlobal(warpAccess(w, p.maskElementBytes,
                                   [&](int64_t tid) -> std::optional<int64_t> {
                                     auto pos = outputPixel(tid, i);
                                     if (!pos)
                                       return std::nullopt;
                                     return (pos->first * wo + pos->second) *
                                            p.maskElementBytes;
                                   }),
                        count);
      for (int64_t j = 0; j < s.threadChannels; ++j) {
        // Output channel of the store, if the pixel and channel exist.
        auto outChannel = [&](int64_t tid) -> std::optional<int64_t> {
          if (!outputPixel(tid, i) || channel(tid, j) >= p.outChannels)
            return std::nullopt;
          return channel(tid, j);
        };
        if (p.bias)
          builder.addGlobal(
              warpAccess(w, eb,
                         [&](int64_t tid) -> std::optional<int64_t> {
                           auto co = outChannel(tid);
                           return co ? std::optional(*co * eb) : std::nullopt;
                         }),
              count);
        builder.addGlobal(
            warpAccess(w, eb,
                       [&](int64_t tid) -> std::optional<int64_t> {
                         auto co = outChannel(tid);
                         if (!co)
                           return std::nullopt;
                         auto [oh, ow] = *outputPixel(tid, i);
                         return ((oh * wo + ow) * p.outChannels + *co) * eb;
                       }),
            count);
      }
    }
  }
}

std::optional<KernelProfile>
dynaspa::cost::profileMaskedConv(const DeviceModel &device,
                                 const ConvProblem &p, const ConvSchedule &s,
                                 int64_t activeTiles, std::string *error) {
  std::string why = verifyConvSchedule(p, s);
  if (why.empty() && activeTiles < 0)
    why = "negative active tile count";
  if (!why.empty()) {
    if (error)
      *error = why;
    return std::nullopt;
  }
  const Plan plan = makePlan(p, s);

  // A1, A6, A7: the grid and the busiest block's share of the work.
  int64_t groups = ceilDiv(activeTiles, s.tilesPerBlock);
  int64_t gridX = s.blocks > 0 ? std::min(s.blocks, groups) : groups;
  int64_t groupsPerBlock = gridX > 0 ? ceilDiv(groups, gridX) : 0;
  int64_t chunks = ceilDiv(p.inChannels, s.reductionBlock);
  int64_t chunksPerBlock = ceilDiv(chunks, s.splitK);

  KernelProfile profile;
  profile.blocks = gridX * ceilDiv(p.outChannels, s.channelBlock) * s.splitK;
  profile.threadsPerBlock = s.threads;
  profile.sharedBytesPerBlock = plan.sharedBytes;
  // A9.
  profile.registersPerThread =
      s.registersPerThread > 0
          ? s.registersPerThread
          : std::min<int64_t>(device.maxRegistersPerThread,
                              s.threadPixels * s.threadChannels +
                                  s.threadPixels + s.threadChannels + 24);
  profile.warpMacs = static_cast<double>(groupsPerBlock) * chunksPerBlock *
                     s.reductionBlock * p.kernelH * p.kernelW * s.threadPixels *
                     s.threadChannels;
  if (groupsPerBlock == 0)
    return profile;

  ConvWalker walker(device, p, s, plan, profile);
  double perGroup = static_cast<double>(groupsPerBlock);
  for (int64_t chunk = 0; chunk < chunksPerBlock; ++chunk)
    walker.stageChunk(chunk * s.reductionBlock, perGroup);
  walker.registerTile(perGroup * chunksPerBlock);
  walker.epilogue(perGroup);
  return profile;
}
