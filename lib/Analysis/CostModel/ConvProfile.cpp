//===- ConvProfile.cpp - the masked-conv template's access patterns -------===//
//
// Part of the dynaspa project.
//
//===----------------------------------------------------------------------===//
//
// Describes ConvKernel.cpp's kernel as warp instructions and feeds them to a
// ProfileBuilder. Everything this file takes from the template, so that a
// change there is a change to one of these items:
//
//  A1 Grid: (min(blocks, ceil(tiles of a full mask / tiles_per_block)),
//     ceil(Cout / channel_block), split_k). blockIdx.x walks the groups of
//     tiles_per_block active tiles grid-stride; blocks past the active
//     groups exit at once and are not modelled (a launch slot, no traffic).
//     The busiest block handles ceil(groups / blocks.x) groups.
//     With min_blocks (adaptive split): grid (min(blocks, max(G, min(
//     ceil(min_blocks / channel blocks), G * S_max))), channel blocks, 1)
//     with G the groups of a full mask and S_max the non-empty slices of
//     split_k; the
//     kernel splits the reduction into S = min(split_k, ceil(min_blocks /
//     (max(groups, 1) * channel blocks))) slices of C = ceil(chunks / S)
//     chunks, of which ceil(chunks / C) are not empty, and blockIdx.x walks
//     the groups x those (group, slice) pairs, so the busiest block handles
//     ceil(pairs / blocks.x) of them. One slice stores like split_k = 1.
//  A2 Threads: tid = pg * channelGroups + cg with channelGroups =
//     channel_block / thread_channels. A thread owns pixels pg + i *
//     pixelGroups (i < thread_pixels) and, in runs of `run` consecutive
//     channels (run = 4, 2 or 1: the largest dividing thread_channels and
//     Cout), the channels (j * channelGroups + cg) * run + e for j <
//     thread_channels / run, e < run.
//  A3 Per group: threads below tiles_per_block load one tile id each
//     (i32) and store 5 decoded fields (batch, output and input origin) in
//     shared memory.
//  A4 Per chunk of `reduction_block` input channels of the block's split_k
//     slice (ceil(ceil(Cin / rb) / split_k) chunks): stage the input
//     windows [T][ih][iw][rb] and the filter block [kh][kw][rb][cb] with
//     `for e = tid; e < vectors; e += threads`, a `vector_width` load from
//     global memory and a store at shared e * vw. Each input vector first
//     reads 3 decoded fields of its tile from shared memory. Positions
//     outside the input and phantom tiles are not loaded, but stored.
//     double_buffer moves the loads into registers one chunk ahead
//     (same loads and stores, other timing; more registers).
//  A5 The register tile: for each of rb channels and kh x kw taps, every
//     warp issues thread_pixels 4-byte input loads (the threads of a pixel
//     read one word: a broadcast) and thread_channels / run filter loads of
//     run words, then thread_pixels x thread_channels FMAs. `unroll` only
//     changes instruction scheduling.
//  A6 Epilogue per pixel: 3 shared loads of its tile's fields, one mask
//     byte (in-bounds pixels); per run, only where the mask is set: `run`
//     scalar bias loads if there is a bias, then one vector store of `run`
//     floats, or with split_k > 1 `run` scalar atomic adds (counted like
//     stores: each touches its sectors in L2).
//  A7 Shared memory: 4 * (T * ih * iw * rb + kh * kw * rb * cb + 5 * T)
//     bytes, static, at most 48 KiB.
//  A8 Placement: the T tiles of a group are the consecutive tile ids
//     centred on the tile nearest the output's centre (image 0), so that
//     every tile of the group has its own window (the list is in id order,
//     so a group of a dense region is a run of neighbours). Border tiles
//     read less (phantom reads); interior tiles are the upper bound.
//  A9 Registers (when ptxas has not said): see estimateConvRegisters.
//  A10 The busiest block's critical path, for the latency bound (waits and
//     instruction counts read off the PTX of the swept kernels, sm_90):
//     per group the decode waits for the tile ids (1 barrier, 2 with
//     double_buffer, ~40 instructions). Without double_buffer, per chunk:
//     2 barriers; the staging loops are not unrolled and each iteration
//     waits for its load before storing it, so ceil(input vectors /
//     threads) + ceil(filter vectors / threads) waits, ~30 and ~21
//     instructions an iteration. With double_buffer: one wait for the first
//     prefetch; per chunk 2 barriers, the put (~4 instructions a vector)
//     and the next fetch (~27 and ~18 a vector, all loads in flight), whose
//     wait overlaps this chunk's register tile. The register tile: per
//     channel and tap, thread_pixels + thread_channels / run loads and
//     thread_pixels x thread_channels FMAs. Epilogue per pixel: a wait for
//     the mask byte, ~30 instructions, per run ~8 plus the store (run
//     atomics with split_k).
//
//===----------------------------------------------------------------------===//

#include "dynaspa/Analysis/ConvProfile.h"

#include <algorithm>
#include <limits>

using namespace dynaspa::cost;

/// Static shared memory the template may use (it does not opt in to more).
static constexpr int64_t kMaxStaticSharedBytes = 48 * 1024;
/// Decoded fields per tile in shared memory (ConvKernel.cpp's TileField).
static constexpr int64_t kTileFields = 5;
/// planConv's limit on a double-buffered thread's prefetch registers plus
/// accumulators (past it the kernel would spill).
static constexpr int64_t kMaxPrefetchAndAccumulators = 160;

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
/// Derived sizes of one (problem, schedule) pair, named as in planConv.
struct Plan {
  int64_t tilePixels;    // tileH * tileW
  int64_t pixels;        // T * tilePixels
  int64_t channelGroups; // channel_block / thread_channels
  int64_t pixelGroups;   // pixels / thread_pixels
  int64_t run;           // consecutive channels of a thread (A2)
  int64_t ih, iw;        // staged input window of one tile
  int64_t window;        // ih * iw * rb
  int64_t inputVectors;  // T * ih * iw * rb / vw
  int64_t filterVectors; // kh * kw * rb * cb / vw
  int64_t chunks;        // ceil(Cin / rb)
  int64_t chunksPerSplit;
  int64_t slices;   // of the reduction, at the profiled tile count (A1)
  int64_t prefetch; // registers of a double-buffered thread's next chunk
  int64_t sharedBytes;
};
} // namespace

static Plan makePlan(const ConvProblem &p, const ConvSchedule &s) {
  Plan plan;
  plan.tilePixels = s.tileH * s.tileW;
  plan.pixels = s.tilesPerBlock * plan.tilePixels;
  plan.channelGroups = s.channelBlock / s.threadChannels;
  plan.pixelGroups = plan.pixels / s.threadPixels;
  plan.run = getWidestDividing(4, {s.threadChannels, p.outChannels});
  plan.ih = (s.tileH - 1) * p.strideH + (p.kernelH - 1) * p.dilationH + 1;
  plan.iw = (s.tileW - 1) * p.strideW + (p.kernelW - 1) * p.dilationW + 1;
  plan.window = plan.ih * plan.iw * s.reductionBlock;
  int64_t inputFloats = s.tilesPerBlock * plan.window;
  int64_t filterFloats =
      p.kernelH * p.kernelW * s.reductionBlock * s.channelBlock;
  plan.inputVectors = inputFloats / s.vectorWidth;
  plan.filterVectors = filterFloats / s.vectorWidth;
  plan.chunks = ceilDiv(p.inChannels, s.reductionBlock);
  plan.chunksPerSplit = ceilDiv(plan.chunks, s.splitK);
  plan.slices = s.splitK;
  // planConv counts floats, not vectors: ceil(floats / threads) per buffer.
  plan.prefetch =
      ceilDiv(inputFloats, s.threads) + ceilDiv(filterFloats, s.threads);
  plan.sharedBytes =
      4 * (inputFloats + filterFloats + kTileFields * s.tilesPerBlock);
  return plan;
}

int64_t dynaspa::cost::getConvSharedBytes(const ConvProblem &p,
                                          const ConvSchedule &s) {
  return makePlan(p, s).sharedBytes;
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
  if (p.elementBytes != 4)
    return "the template handles f32 convolutions only";
  for (int64_t v : {s.tileH, s.tileW, s.channelBlock, s.reductionBlock,
                    s.threads, s.threadChannels, s.threadPixels, s.vectorWidth,
                    s.unroll, s.tilesPerBlock, s.splitK})
    if (v <= 0)
      return "schedule knobs must be positive";
  if (s.blocks < 0 || s.minBlocks < 0 || s.registersPerThread < 0)
    return "blocks, min_blocks and registers_per_thread must be non-negative";
  if (s.minBlocks > 0 && s.splitK == 1)
    return "min_blocks needs split_k > 1";
  // planConv's checks, in its order and with its words.
  const int64_t pixels = s.tilesPerBlock * s.tileH * s.tileW;
  if (s.channelBlock % s.threadChannels || pixels % s.threadPixels)
    return "thread_channels must divide channel_block and thread_pixels the "
           "block's " +
           std::to_string(pixels) + " pixels (tiles_per_block x DISTile)";
  Plan plan = makePlan(p, s);
  if (s.threads != plan.channelGroups * plan.pixelGroups)
    return "threads must be (channel_block / thread_channels) * "
           "(tiles_per_block * pixels / thread_pixels) = " +
           std::to_string(plan.channelGroups * plan.pixelGroups);
  if (s.threads > 1024)
    return "more than 1024 threads per block";
  if (s.tilesPerBlock > s.threads)
    return "tiles_per_block must not exceed threads";
  int64_t vw = s.vectorWidth;
  if (vw != 1 && vw != 2 && vw != 4)
    return "vector_width must be 1, 2 or 4";
  if (p.inChannels % vw || s.reductionBlock % vw || p.outChannels % vw ||
      s.channelBlock % vw)
    return "vector_width " + std::to_string(vw) +
           " must divide Cin, Cout, channel_block and reduction_block";
  if (s.reductionBlock % s.unroll)
    return "unroll must divide reduction_block";
  if (s.splitK > plan.chunks)
    return "split_k must not exceed the " + std::to_string(plan.chunks) +
           " reduction blocks of Cin";
  if (plan.sharedBytes > kMaxStaticSharedBytes)
    return "needs " + std::to_string(plan.sharedBytes) +
           " bytes of shared memory (more than 48 KiB)";
  int64_t accumulators = s.threadPixels * s.threadChannels;
  if (s.doubleBuffer &&
      plan.prefetch + accumulators > kMaxPrefetchAndAccumulators)
    return "double_buffer needs " + std::to_string(plan.prefetch) +
           " prefetch registers per thread next to " +
           std::to_string(accumulators) +
           " accumulators (at most 160 together)";
  return "";
}

int64_t dynaspa::cost::estimateConvRegisters(const ConvProblem &p,
                                             const ConvSchedule &s) {
  // A9: accumulators, per pixel and per channel some operands and address
  // state, a fixed part, and for a double-buffered thread its share of the
  // next chunk (planConv's prefetch count) plus the addresses it keeps for
  // the put. The coefficients are a least-squares fit to ptxas -v (sm_90)
  // on the 395 swept H100 kernels that do not spill
  // (docs/tuning/h100-registers.json): mean absolute error 14 registers,
  // 90% within 27. ptxas's own number, when available, is better.
  Plan plan = makePlan(p, s);
  int64_t tp = s.threadPixels, tc = s.threadChannels;
  int64_t regs = tp * tc + (5 * tp + 3 * tc) / 2 + 30;
  if (s.doubleBuffer)
    regs += 7 * plan.prefetch / 4;
  return std::min<int64_t>(regs, 255);
}

namespace {
/// Byte address a thread of the block touches, or nullopt if it does not.
using ThreadAddress = std::function<std::optional<int64_t>(int64_t tid)>;

/// Where one tile of the busiest block's group lies (A8).
struct TileOrigin {
  int64_t n, oh, ow; // image, output origin
};

/// Walks the template's warp instructions for one group of tiles (A3-A6)
/// and adds each, times how often the busiest block executes it, to a
/// profile.
class ConvWalker {
public:
  ConvWalker(const DeviceModel &device, const ConvProblem &p,
             const ConvSchedule &s, const Plan &plan, KernelProfile &profile)
      : device(device), p(p), s(s), plan(plan), builder(device, profile) {
    // A8: tile ids start..start+T-1 around the centre tile of image 0.
    int64_t tilesH = ceilDiv(p.getOutHeight(), s.tileH);
    int64_t tilesW = ceilDiv(p.getOutWidth(), s.tileW);
    int64_t total = p.batch * tilesH * tilesW;
    int64_t centre = (tilesH / 2) * tilesW + tilesW / 2;
    int64_t start = std::max<int64_t>(
        0, std::min(centre - s.tilesPerBlock / 2, total - s.tilesPerBlock));
    for (int64_t t = 0; t < s.tilesPerBlock; ++t) {
      int64_t id = start + t;
      if (id >= total) {
        tiles.push_back(std::nullopt); // Phantom: past the end of the list.
        continue;
      }
      int64_t inImage = id % (tilesH * tilesW);
      tiles.push_back(TileOrigin{id / (tilesH * tilesW),
                                 inImage / tilesW * s.tileH,
                                 inImage % tilesW * s.tileW});
    }
  }

  /// A3: decode the group's tiles.
  void decode(double count);
  /// A4: stage the input windows and the filter block of chunk `c0`.
  void stageChunk(int64_t c0, double count);
  /// A5: one chunk's shared loads of the register tile.
  void registerTile(double count);
  /// A6: tile fields, mask, bias and output accesses; `writeFraction` of the
  /// pixels are set.
  void epilogue(double count, double writeFraction);

private:
  /// The warp instruction in which warp `warp`'s threads access `address`.
  WarpAccess warpAccess(int64_t warp, int64_t width,
                        const ThreadAddress &address) const {
    return WarpAccess::ofBlockWarp(warp, device.warpSize, s.threads, width,
                                   address);
  }
  int64_t numWarps() const { return ceilDiv(s.threads, device.warpSize); }

  /// A shared load of decoded field `field` of tile `tile(tid)`.
  void
  tileFieldLoad(int64_t warp, int64_t field, double count,
                const std::function<std::optional<int64_t>(int64_t)> &tile) {
    builder.addShared(warpAccess(warp, 4,
                                 [&](int64_t tid) -> std::optional<int64_t> {
                                   std::optional<int64_t> t = tile(tid);
                                   if (!t)
                                     return std::nullopt;
                                   return (*t * kTileFields + field) * 4;
                                 }),
                      count);
  }

  /// `for e = tid; e < vectors; e += threads`: the load of vector `e` from
  /// element index `global(e)` (nullopt: phantom), the store to shared
  /// e * vector_width and, for the input, the tile fields `tileOf(e)` reads.
  void stage(int64_t vectors, double count,
             const std::function<std::optional<int64_t>(int64_t)> &global,
             const std::function<int64_t(int64_t)> &tileOf);

  /// A2: pixel i and the first channel of run j of thread `tid`.
  int64_t pixel(int64_t tid, int64_t i) const {
    return tid / plan.channelGroups + i * plan.pixelGroups;
  }
  int64_t runChannel(int64_t tid, int64_t j) const {
    return (j * plan.channelGroups + tid % plan.channelGroups) * plan.run;
  }
  /// (image, row, column) of pixel i of thread `tid` if it is in the output.
  std::optional<TileOrigin> outputPixel(int64_t tid, int64_t i) const {
    int64_t pix = pixel(tid, i);
    const std::optional<TileOrigin> &tile = tiles[pix / plan.tilePixels];
    if (!tile)
      return std::nullopt;
    int64_t inTile = pix % plan.tilePixels;
    int64_t oh = tile->oh + inTile / s.tileW, ow = tile->ow + inTile % s.tileW;
    if (oh >= p.getOutHeight() || ow >= p.getOutWidth())
      return std::nullopt;
    return TileOrigin{tile->n, oh, ow};
  }

  const DeviceModel &device;
  const ConvProblem &p;
  const ConvSchedule &s;
  const Plan &plan;
  ProfileBuilder builder;
  std::vector<std::optional<TileOrigin>> tiles;
};
} // namespace

void ConvWalker::decode(double count) {
  for (int64_t w = 0; w < numWarps(); ++w) {
    auto decoding = [&](int64_t tid) { return tid < s.tilesPerBlock; };
    builder.addGlobal(warpAccess(w, 4,
                                 [&](int64_t tid) -> std::optional<int64_t> {
                                   if (!decoding(tid) || !tiles[tid])
                                     return std::nullopt;
                                   return tid * 4;
                                 }),
                      count);
    for (int64_t f = 0; f < kTileFields; ++f)
      builder.addShared(warpAccess(w, 4,
                                   [&](int64_t tid) -> std::optional<int64_t> {
                                     if (!decoding(tid))
                                       return std::nullopt;
                                     return (tid * kTileFields + f) * 4;
                                   }),
                        count);
  }
}

void ConvWalker::stage(
    int64_t vectors, double count,
    const std::function<std::optional<int64_t>(int64_t)> &global,
    const std::function<int64_t(int64_t)> &tileOf) {
  int64_t vw = s.vectorWidth, eb = p.elementBytes;
  for (int64_t base = 0; base < vectors; base += s.threads) {
    for (int64_t w = 0; w < numWarps(); ++w) {
      auto inRange = [&](int64_t tid) { return base + tid < vectors; };
      if (tileOf)
        for (int64_t f = 0; f < 3; ++f)
          tileFieldLoad(w, f, count,
                        [&](int64_t tid) -> std::optional<int64_t> {
                          if (!inRange(tid))
                            return std::nullopt;
                          return tileOf(base + tid);
                        });
      builder.addGlobal(
          warpAccess(w, vw * eb,
                     [&](int64_t tid) -> std::optional<int64_t> {
                       if (!inRange(tid))
                         return std::nullopt;
                       std::optional<int64_t> index = global(base + tid);
                       return index ? std::optional(*index * eb) : std::nullopt;
                     }),
          count);
      builder.addShared(warpAccess(w, vw * eb,
                                   [&](int64_t tid) -> std::optional<int64_t> {
                                     if (!inRange(tid))
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
  // Input windows [T][ih][iw][rb], each at its own tile's origin.
  stage(
      plan.inputVectors, count,
      [&](int64_t e) -> std::optional<int64_t> {
        const std::optional<TileOrigin> &tile = tiles[e / windowVectors];
        if (!tile)
          return std::nullopt;
        int64_t local = e % windowVectors;
        int64_t r = (local % rbv) * vw;
        int64_t col = (local / rbv) % plan.iw;
        int64_t row = local / (rbv * plan.iw);
        int64_t h = tile->oh * p.strideH - p.padTop + row;
        int64_t w = tile->ow * p.strideW - p.padLeft + col;
        int64_t ci = c0 + r;
        if (h < 0 || h >= p.height || w < 0 || w >= p.width ||
            ci >= p.inChannels)
          return std::nullopt;
        return ((tile->n * p.height + h) * p.width + w) * p.inChannels + ci;
      },
      [&](int64_t e) { return e / windowVectors; });
  // The filter block [kh][kw][rb][cb] of output-channel block 0.
  stage(
      plan.filterVectors, count,
      [&](int64_t e) -> std::optional<int64_t> {
        int64_t co = (e % cbv) * vw;
        int64_t ci = c0 + (e / cbv) % rb;
        int64_t tap = e / (cbv * rb);
        if (co >= p.outChannels || ci >= p.inChannels)
          return std::nullopt;
        return (tap * p.inChannels + ci) * p.outChannels + co;
      },
      nullptr);
}

void ConvWalker::registerTile(double count) {
  // Over the rb channels and the taps every lane's address moves by the same
  // amount, which leaves bank conflicts unchanged: one instruction per
  // (warp, pixel) and (warp, run) stands for rb * kh * kw of them.
  count *= s.reductionBlock * p.kernelH * p.kernelW;
  const int64_t eb = p.elementBytes, rb = s.reductionBlock;
  for (int64_t w = 0; w < numWarps(); ++w) {
    for (int64_t i = 0; i < s.threadPixels; ++i)
      builder.addShared(
          warpAccess(w, eb,
                     [&](int64_t tid) -> std::optional<int64_t> {
                       int64_t pix = pixel(tid, i);
                       int64_t tile = pix / plan.tilePixels;
                       int64_t row = pix % plan.tilePixels / s.tileW;
                       int64_t col = pix % s.tileW;
                       return (tile * plan.window +
                               (row * p.strideH * plan.iw + col * p.strideW) *
                                   rb) *
                              eb;
                     }),
          count);
    for (int64_t j = 0; j < s.threadChannels / plan.run; ++j)
      builder.addShared(warpAccess(w, plan.run * eb,
                                   [&](int64_t tid) -> std::optional<int64_t> {
                                     return runChannel(tid, j) * eb;
                                   }),
                        count);
  }
}

void ConvWalker::epilogue(double count, double writeFraction) {
  const int64_t eb = p.elementBytes, ho = p.getOutHeight(),
                wo = p.getOutWidth();
  const double writes = count * writeFraction;
  const bool atomic = plan.slices > 1;
  for (int64_t w = 0; w < numWarps(); ++w) {
    for (int64_t i = 0; i < s.threadPixels; ++i) {
      for (int64_t f = 0; f < 3; ++f)
        tileFieldLoad(w, f, count, [&](int64_t tid) -> std::optional<int64_t> {
          return pixel(tid, i) / plan.tilePixels;
        });
      builder.addGlobal(warpAccess(w, p.maskElementBytes,
                                   [&](int64_t tid) -> std::optional<int64_t> {
                                     auto pos = outputPixel(tid, i);
                                     if (!pos)
                                       return std::nullopt;
                                     return ((pos->n * ho + pos->oh) * wo +
                                             pos->ow) *
                                            p.maskElementBytes;
                                   }),
                        count);
      for (int64_t j = 0; j < s.threadChannels / plan.run; ++j) {
        // Byte offset of element e of the run in `perPixel`-sized rows.
        auto runElement = [&](int64_t tid, int64_t e,
                              bool output) -> std::optional<int64_t> {
          auto pos = outputPixel(tid, i);
          int64_t co = runChannel(tid, j);
          if (!pos || co >= p.outChannels)
            return std::nullopt;
          int64_t pixelIndex =
              output ? (pos->n * ho + pos->oh) * wo + pos->ow : 0;
          return (pixelIndex * p.outChannels + co + e) * eb;
        };
        for (int64_t e = 0; p.bias && e < plan.run; ++e)
          builder.addGlobal(warpAccess(w, eb,
                                       [&](int64_t tid) {
                                         return runElement(tid, e, false);
                                       }),
                            writes);
        if (atomic) {
          for (int64_t e = 0; e < plan.run; ++e)
            builder.addGlobal(warpAccess(w, eb,
                                         [&](int64_t tid) {
                                           return runElement(tid, e, true);
                                         }),
                              writes);
          continue;
        }
        builder.addGlobal(
            warpAccess(w, plan.run * eb,
                       [&](int64_t tid) { return runElement(tid, 0, true); }),
            writes);
      }
    }
  }
}

std::optional<KernelProfile> dynaspa::cost::profileMaskedConv(
    const DeviceModel &device, const ConvProblem &p, const ConvSchedule &s,
    int64_t activeTiles, std::string *error, double pixelFraction) {
  std::string why = verifyConvSchedule(p, s);
  if (why.empty() && activeTiles < 0)
    why = "negative active tile count";
  if (why.empty() && !(pixelFraction >= 0 && pixelFraction <= 1))
    why = "the fraction of set pixels must be in [0, 1]";
  if (!why.empty()) {
    if (error)
      *error = why;
    return std::nullopt;
  }
  Plan plan = makePlan(p, s);

  // A1: the grid and the busiest block's share of the work: groups of
  // tiles, or (group, slice) pairs with the adaptive split.
  const int64_t channelBlocks = ceilDiv(p.outChannels, s.channelBlock);
  int64_t groups = ceilDiv(activeTiles, s.tilesPerBlock);
  int64_t work = groups, slicesZ = s.splitK;
  int64_t launchX = std::numeric_limits<int64_t>::max();
  if (s.minBlocks > 0) {
    int64_t fullGroups = ceilDiv(p.batch * ceilDiv(p.getOutHeight(), s.tileH) *
                                     ceilDiv(p.getOutWidth(), s.tileW),
                                 s.tilesPerBlock);
    launchX = std::max(
        fullGroups,
        std::min(ceilDiv(s.minBlocks, channelBlocks),
                 fullGroups * ceilDiv(plan.chunks, plan.chunksPerSplit)));
    int64_t slices =
        std::min(s.splitK, ceilDiv(s.minBlocks, std::max<int64_t>(groups, 1) *
                                                    channelBlocks));
    plan.chunksPerSplit = ceilDiv(plan.chunks, slices);
    plan.slices = ceilDiv(plan.chunks, plan.chunksPerSplit); // none empty
    work = groups * plan.slices;
    slicesZ = 1;
  }
  if (s.blocks > 0)
    launchX = std::min(launchX, s.blocks);
  int64_t gridX = std::min(launchX, work);
  int64_t groupsPerBlock = gridX > 0 ? ceilDiv(work, gridX) : 0;

  KernelProfile profile;
  profile.blocks = gridX * channelBlocks * slicesZ;
  profile.threadsPerBlock = s.threads;
  profile.sharedBytesPerBlock = plan.sharedBytes;
  profile.registersPerThread = s.registersPerThread > 0
                                   ? s.registersPerThread
                                   : estimateConvRegisters(p, s);
  profile.warpMacs = static_cast<double>(groupsPerBlock) * plan.chunksPerSplit *
                     s.reductionBlock * p.kernelH * p.kernelW * s.threadPixels *
                     s.threadChannels;
  if (groupsPerBlock == 0)
    return profile;

  // A10: the critical path.
  const double group = static_cast<double>(groupsPerBlock);
  const double chunks = static_cast<double>(plan.chunksPerSplit);
  const double inIters = ceilDiv(plan.inputVectors, s.threads);
  const double wIters = ceilDiv(plan.filterVectors, s.threads);
  const double runs = static_cast<double>(s.threadChannels / plan.run);
  const double tileStep =
      static_cast<double>(s.reductionBlock) * p.kernelH * p.kernelW *
      (s.threadPixels + runs + s.threadPixels * s.threadChannels);
  const double epilogue =
      s.threadPixels * (30 + runs * (8 + (plan.slices > 1 ? plan.run : 1)));
  double instructions = 40 + epilogue, serial = 1 + s.threadPixels,
         barriers = 1, overlapped = 0, overlappedInstructions = 0;
  if (s.doubleBuffer) {
    serial += 1;
    barriers += 1 + 2 * chunks;
    instructions += chunks * (inIters * (4 + 27) + wIters * (4 + 18));
    overlapped = chunks;
    overlappedInstructions = chunks * tileStep;
  } else {
    serial += chunks * (inIters + wIters);
    barriers += 2 * chunks;
    instructions += chunks * (inIters * 30 + wIters * 21);
  }
  instructions += chunks * tileStep;
  profile.warpInstructions = group * instructions;
  profile.serialRoundTrips = group * serial;
  profile.overlappedRoundTrips = group * overlapped;
  profile.overlappedInstructions = group * overlappedInstructions;
  profile.barriers = group * barriers;

  ConvWalker walker(device, p, s, plan, profile);
  double perGroup = static_cast<double>(groupsPerBlock);
  walker.decode(perGroup);
  for (int64_t chunk = 0; chunk < plan.chunksPerSplit; ++chunk)
    walker.stageChunk(chunk * s.reductionBlock, perGroup);
  walker.registerTile(perGroup * plan.chunksPerSplit);
  walker.epilogue(perGroup, pixelFraction);
  return profile;
}
