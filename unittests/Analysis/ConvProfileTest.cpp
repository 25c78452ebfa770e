//===- ConvProfileTest.cpp - the masked-conv template's profile -----------===//
//
// Part of the dynaspa project.
//
//===----------------------------------------------------------------------===//
//
// The paper's 3x3 40x40x256 -> 256 convolution at granularity 4x8: the
// profile's MACs add up to the convolution's, its transaction counts are the
// ones worked out by hand from the template's access patterns, the checks
// mirror the template's, and the cost behaves sensibly in the tile count.
//
//===----------------------------------------------------------------------===//

#include "dynaspa/Analysis/ConvProfile.h"

#include "gtest/gtest.h"

#include <cmath>

using namespace dynaspa::cost;

namespace {

ConvProblem paperConv() {
  ConvProblem p;
  p.height = p.width = 40;
  p.inChannels = p.outChannels = 256;
  p.kernelH = p.kernelW = 3;
  p.padTop = p.padBottom = p.padLeft = p.padRight = 1;
  return p;
}

/// 4x8 tiles, 32 channels per block, 4 per thread: 8 x 32 = 256 threads.
ConvSchedule schedule4x8() {
  ConvSchedule s;
  s.tileH = 4;
  s.tileW = 8;
  s.channelBlock = 32;
  s.reductionBlock = 8;
  s.threadChannels = 4;
  s.threadPixels = 1;
  s.threads = 256;
  return s;
}

DeviceModel h100() { return *getBuiltinDevice("h100-sxm"); }

/// MACs the whole grid does, from the profile.
double totalMacs(const DeviceModel &d, const KernelProfile &p) {
  return p.warpMacs * d.warpSize * (p.threadsPerBlock / d.warpSize) * p.blocks;
}

TEST(ConvProfile, ShapeAndMacs) {
  ConvProblem p = paperConv();
  EXPECT_EQ(p.getOutHeight(), 40);
  EXPECT_EQ(p.getOutWidth(), 40);
  std::string error;
  std::optional<KernelProfile> prof =
      profileMaskedConv(h100(), p, schedule4x8(), 50, &error);
  ASSERT_TRUE(prof) << error;
  EXPECT_EQ(prof->blocks, 50 * 8);
  EXPECT_EQ(prof->threadsPerBlock, 256);
  // (6 x 10 x 8 input + 3 x 3 x 8 x 32 filter) floats and the decoded tile
  // (5 i32).
  EXPECT_EQ(prof->sharedBytesPerBlock, 4 * (480 + 2304 + 5));
  // 32 chunks x 8 channels x 9 taps x 4 outputs per thread.
  EXPECT_DOUBLE_EQ(prof->warpMacs, 32 * 8 * 9 * 4);
  EXPECT_DOUBLE_EQ(totalMacs(h100(), *prof), 50.0 * 32 * 256 * 256 * 9);
}

TEST(ConvProfile, HandCountedTransactions) {
  std::optional<KernelProfile> prof =
      profileMaskedConv(h100(), paperConv(), schedule4x8(), 50);
  ASSERT_TRUE(prof);
  // Per chunk: 60 window pixels x 8 channels = one 32 B sector each; 72
  // filter rows of 32 channels = 4 sectors each. Epilogue: 8 warps read 4
  // mask bytes in one sector and store 4 pixels x 32 channels, 8 lanes x 4
  // consecutive channels per pixel (4 sectors each). Lane 0 loads the tile
  // id (one sector).
  EXPECT_DOUBLE_EQ(prof->globalTransactionsPerBlock,
                   32 * (60 + 72 * 4) + 8 * (1 + 4 * 4) + 1);
  // Every shared access of this schedule is conflict-free with 32 lanes;
  // only the decode's one-lane stores of the tile fields take a whole pass
  // for 4 bytes.
  EXPECT_NEAR(prof->bankConflict, 1, 1e-3);
  EXPECT_GT(prof->bankConflict, 1);
}

TEST(ConvProfile, StrideCausesBankConflicts) {
  ConvProblem p = paperConv();
  p.strideH = p.strideW = 2;
  p.height = p.width = 80;
  std::optional<KernelProfile> prof =
      profileMaskedConv(h100(), p, schedule4x8(), 50);
  ASSERT_TRUE(prof);
  // Pixels 2 columns apart are 16 words apart: a warp's 4 pixels hit banks
  // 0, 16, 0, 16.
  EXPECT_GT(prof->bankConflict, 1);
}

TEST(ConvProfile, GridStrideAndSplitK) {
  ConvSchedule s = schedule4x8();
  s.blocks = 10;
  std::optional<KernelProfile> few =
      profileMaskedConv(h100(), paperConv(), s, 50);
  ASSERT_TRUE(few);
  EXPECT_EQ(few->blocks, 10 * 8);
  EXPECT_DOUBLE_EQ(totalMacs(h100(), *few), 50.0 * 32 * 256 * 256 * 9);

  s = schedule4x8();
  s.splitK = 2;
  std::optional<KernelProfile> split =
      profileMaskedConv(h100(), paperConv(), s, 50);
  ASSERT_TRUE(split);
  EXPECT_EQ(split->blocks, 50 * 8 * 2);
  EXPECT_DOUBLE_EQ(totalMacs(h100(), *split), 50.0 * 32 * 256 * 256 * 9);

  s = schedule4x8();
  s.tilesPerBlock = 2;
  s.threads = 512;
  std::optional<KernelProfile> pair =
      profileMaskedConv(h100(), paperConv(), s, 50);
  ASSERT_TRUE(pair);
  EXPECT_EQ(pair->blocks, 25 * 8);
  EXPECT_DOUBLE_EQ(totalMacs(h100(), *pair), 50.0 * 32 * 256 * 256 * 9);
  // The filter block is staged once for two tiles.
  std::optional<KernelProfile> single =
      profileMaskedConv(h100(), paperConv(), schedule4x8(), 50);
  ASSERT_TRUE(single);
  EXPECT_LT(pair->globalTransactionsPerBlock,
            2 * single->globalTransactionsPerBlock);
}

TEST(ConvProfile, AdaptiveSplit) {
  // 50 tiles of 4x8 in a full 40x40 mask, 8 channel blocks, 32 chunks of 8
  // input channels. With min_blocks = 400 the kernel splits only as much
  // as the active tiles need for 400 blocks of work, at most split_k = 8.
  ConvSchedule s = schedule4x8();
  s.splitK = 8;
  s.minBlocks = 400;
  auto profile = [&](const ConvSchedule &sched, int64_t tiles) {
    std::optional<KernelProfile> prof =
        profileMaskedConv(h100(), paperConv(), sched, tiles);
    EXPECT_TRUE(prof);
    return prof.value_or(KernelProfile());
  };
  // Full mask: 50 x 8 blocks already, no split.
  EXPECT_EQ(profile(s, 50).blocks, 400);
  EXPECT_DOUBLE_EQ(profile(s, 50).warpMacs,
                   profile(schedule4x8(), 50).warpMacs);
  // 10 tiles: 5 slices of ceil(32 / 5) = 7 chunks, 50 (group, slice) pairs.
  EXPECT_EQ(profile(s, 10).blocks, 400);
  EXPECT_DOUBLE_EQ(profile(s, 10).warpMacs,
                   profile(schedule4x8(), 10).warpMacs * 7 / 32);
  // 2 tiles would want 25 slices: capped at split_k, 16 pairs of 4 chunks.
  EXPECT_EQ(profile(s, 2).blocks, 2 * 8 * 8);
  EXPECT_DOUBLE_EQ(profile(s, 2).warpMacs,
                   profile(schedule4x8(), 2).warpMacs * 4 / 32);
  // One slice stores its outputs (one vector per run), no atomics.
  auto writes = [&](const ConvSchedule &sched) {
    std::optional<KernelProfile> all =
        profileMaskedConv(h100(), paperConv(), sched, 50, nullptr, 1.0);
    std::optional<KernelProfile> none =
        profileMaskedConv(h100(), paperConv(), sched, 50, nullptr, 0.0);
    EXPECT_TRUE(all && none);
    return all->globalTransactionsPerBlock - none->globalTransactionsPerBlock;
  };
  EXPECT_DOUBLE_EQ(writes(s), writes(schedule4x8()));
  ConvSchedule fixed = schedule4x8();
  fixed.splitK = 2;
  EXPECT_GT(writes(fixed), writes(s));
  // No empty slices: 6 tiles want 9 of up to 16 slices, ceil(32 / 9) = 4
  // chunks each, so 8 slices hold all 32 chunks.
  ConvSchedule wide = s;
  wide.splitK = 16;
  EXPECT_EQ(profile(wide, 6).blocks, 6 * 8 * 8);
  EXPECT_DOUBLE_EQ(profile(wide, 6).warpMacs,
                   profile(schedule4x8(), 6).warpMacs * 4 / 32);
  // A fixed grid along the list shares the pairs out grid-stride.
  s.blocks = 20;
  EXPECT_EQ(profile(s, 10).blocks, 20 * 8);
  EXPECT_DOUBLE_EQ(profile(s, 10).warpMacs,
                   profile(schedule4x8(), 10).warpMacs * 3 * 7 / 32);
  // min_blocks without a split to adapt is an error, not a silent no-op.
  s = schedule4x8();
  s.minBlocks = 400;
  std::string why;
  EXPECT_FALSE(profileMaskedConv(h100(), paperConv(), s, 10, &why));
  EXPECT_EQ(why, "min_blocks needs split_k > 1");
}

TEST(ConvProfile, ChannelRunsAndSplitKAtomics) {
  // 64 channels per block, 8 per thread in two runs of 4: lanes take
  // consecutive runs, so a warp (4 pixels x 8 channel groups) stores 4 x
  // 128 contiguous bytes per run (4 sectors per pixel). With split_k the
  // run becomes 4 scalar atomic adds, each touching the same 4 sectors.
  ConvSchedule s = schedule4x8();
  s.channelBlock = 64;
  s.threadChannels = 8; // 8 channel groups x 32 pixels = 256 threads.
  DeviceModel d = h100();
  auto storeTransactions = [&](const ConvSchedule &s) {
    std::optional<KernelProfile> all =
        profileMaskedConv(d, paperConv(), s, 50, nullptr, 1.0);
    std::optional<KernelProfile> none =
        profileMaskedConv(d, paperConv(), s, 50, nullptr, 0.0);
    EXPECT_TRUE(all && none);
    return all->globalTransactionsPerBlock - none->globalTransactionsPerBlock;
  };
  // 8 warps x 2 runs x 4 pixels x 4 sectors.
  EXPECT_DOUBLE_EQ(storeTransactions(s), 8 * 2 * 4 * 4);
  s.splitK = 2;
  EXPECT_DOUBLE_EQ(storeTransactions(s), 8 * 2 * 4 * 4 * 4);
  // Filter reads are one 16-byte vector per run: 2 per (channel, tap) and
  // warp, conflict-free; inputs one broadcast word per pixel.
  std::optional<KernelProfile> prof =
      profileMaskedConv(d, paperConv(), schedule4x8(), 50);
  ASSERT_TRUE(prof);
  EXPECT_LT(prof->bankConflict, 1.001);
}

TEST(ConvProfile, PixelFractionScalesOnlyTheWrites) {
  ConvProblem p = paperConv();
  p.bias = true;
  DeviceModel d = h100();
  auto transactions = [&](double fraction) {
    std::optional<KernelProfile> prof =
        profileMaskedConv(d, p, schedule4x8(), 50, nullptr, fraction);
    EXPECT_TRUE(prof);
    return prof->globalTransactionsPerBlock;
  };
  double none = transactions(0), half = transactions(0.5),
         all = transactions(1);
  EXPECT_GT(all, none);
  EXPECT_DOUBLE_EQ(half - none, 0.5 * (all - none));
  std::string error;
  EXPECT_FALSE(profileMaskedConv(d, p, schedule4x8(), 50, &error, 1.5));
  EXPECT_NE(error.find("fraction"), std::string::npos);
}

TEST(ConvProfile, TilesOfAGroupHaveTheirOwnWindows) {
  // A 1x1 convolution, 8 tiles of one pixel per block: each tile's 8
  // channels are one 32-byte sector of its own, so staging reads 8 sectors
  // per chunk, not the 1 of eight tiles at one position. Whole block, hand
  // counted: 4 chunks x (8 input + 8 filter rows x 4 sectors), the tile ids
  // (8 x 4 bytes: one sector), and per warp (4 pixels x 8 channel groups)
  // one mask sector and 4 x 128 bytes of stores.
  ConvProblem p;
  p.height = p.width = 16;
  p.inChannels = p.outChannels = 32;
  ConvSchedule s;
  s.channelBlock = 32;
  s.threadChannels = 4;
  s.threadPixels = 1;
  s.tilesPerBlock = 8;
  s.threads = 64;
  s.vectorWidth = 4;
  std::string error;
  std::optional<KernelProfile> prof =
      profileMaskedConv(h100(), p, s, 8, &error);
  ASSERT_TRUE(prof) << error;
  EXPECT_EQ(prof->blocks, 1);
  EXPECT_DOUBLE_EQ(prof->globalTransactionsPerBlock,
                   4 * (8 + 8 * 4) + 1 + 2 * (1 + 4 * 4));
}

TEST(ConvProfile, DoubleBufferRegisters) {
  // 2x2 tiles, 8 per block, 16 channels per chunk, 64 output channels, 128
  // threads: a thread prefetches 2048 / 128 input and 9216 / 128 filter
  // floats, 88 registers, which the estimate adds (7/4 per float: the
  // addresses kept for the put).
  ConvProblem p = paperConv();
  ConvSchedule s;
  s.tileH = s.tileW = 2;
  s.tilesPerBlock = 8;
  s.channelBlock = 64;
  s.reductionBlock = 16;
  s.threadChannels = 4;
  s.threadPixels = 4;
  s.threads = 128;
  s.vectorWidth = 4;
  ASSERT_EQ(verifyConvSchedule(p, s), "");
  int64_t plain = estimateConvRegisters(p, s);
  s.doubleBuffer = true;
  ASSERT_EQ(verifyConvSchedule(p, s), "");
  EXPECT_EQ(estimateConvRegisters(p, s) - plain, 7 * 88 / 4);
  // ptxas -v for this kernel says 85 and 207 (docs/tuning/h100-registers.json).
  EXPECT_NEAR(plain, 85, 30);
  EXPECT_NEAR(estimateConvRegisters(p, s), 207, 30);
  // The profile takes ptxas's number when given.
  s.registersPerThread = 207;
  std::optional<KernelProfile> prof = profileMaskedConv(h100(), p, s, 10);
  ASSERT_TRUE(prof);
  EXPECT_EQ(prof->registersPerThread, 207);
  // Past 160 prefetch registers and accumulators the template refuses.
  s.threadChannels = s.threadPixels = 8; // 32 threads: 64 + 288 floats.
  s.threads = 32;
  s.registersPerThread = 0;
  EXPECT_NE(verifyConvSchedule(p, s).find("double_buffer needs"),
            std::string::npos);
}

TEST(ConvProfile, CriticalPath) {
  // schedule4x8 without double buffering: per chunk the staging loops run
  // ceil(480 / 256) + ceil(2304 / 256) = 11 iterations, each waiting for its
  // load; 32 chunks, plus the tile id and one mask byte per thread.
  DeviceModel d = h100();
  std::optional<KernelProfile> plain =
      profileMaskedConv(d, paperConv(), schedule4x8(), 50);
  ASSERT_TRUE(plain);
  EXPECT_DOUBLE_EQ(plain->serialRoundTrips, 1 + 1 + 32 * 11);
  EXPECT_DOUBLE_EQ(plain->barriers, 1 + 2 * 32);
  EXPECT_DOUBLE_EQ(plain->overlappedRoundTrips, 0);
  // Register tile: 8 channels x 9 taps x (1 input + 1 filter load + 4 FMAs)
  // per chunk, next to the staging and epilogue instructions.
  EXPECT_GT(plain->warpInstructions, plain->warpMacs);
  EXPECT_GE(plain->warpInstructions, 32 * 8 * 9 * 6);
  // Double buffered: one wait for the first prefetch; each chunk's loads fly
  // during the previous chunk's register tile.
  ConvSchedule s = schedule4x8();
  s.doubleBuffer = true;
  std::optional<KernelProfile> db = profileMaskedConv(d, paperConv(), s, 50);
  ASSERT_TRUE(db);
  EXPECT_DOUBLE_EQ(db->serialRoundTrips, 1 + 1 + 1);
  EXPECT_DOUBLE_EQ(db->overlappedRoundTrips, 32);
  EXPECT_DOUBLE_EQ(db->overlappedInstructions, 32 * 8 * 9 * 6);
  EXPECT_DOUBLE_EQ(db->barriers, 2 + 2 * 32);
  // With a memory latency the prefetch pays off at batch-1 grid sizes.
  DeviceModel slow = d;
  slow.memoryLatencyNs = 400;
  EXPECT_LT(estimateCost(slow, *db).latencyNs,
            estimateCost(slow, *plain).latencyNs);
}

TEST(ConvProfile, MirrorsTemplateChecks) {
  auto rejects = [](ConvSchedule s, const char *message) {
    std::string error;
    EXPECT_FALSE(profileMaskedConv(h100(), paperConv(), s, 10, &error));
    EXPECT_NE(error.find(message), std::string::npos) << error;
  };
  ConvSchedule s = schedule4x8();
  s.threads = 128;
  rejects(s, "threads must be");
  s = schedule4x8();
  s.threadChannels = 3;
  rejects(s, "thread_channels must divide");
  s = schedule4x8();
  s.vectorWidth = 3;
  rejects(s, "vector_width must be 1, 2 or 4");
  s = schedule4x8();
  s.unroll = 3;
  rejects(s, "unroll must divide");
  s = schedule4x8();
  s.reductionBlock = 64; // 6x10x64 + 9x64x32 floats > 48 KiB.
  rejects(s, "more than 48 KiB");
  s = schedule4x8();
  s.tileH = 8;
  s.tileW = 16; // 128 pixels x 8 channel groups = 1024 threads: fine...
  s.threads = 1024;
  std::string error;
  EXPECT_TRUE(profileMaskedConv(h100(), paperConv(), s, 10, &error)) << error;
  s.tileW = 32; // ...2048 are not.
  s.threads = 2048;
  rejects(s, "more than 1024 threads");
  s = schedule4x8();
  s.splitK = 33; // 256 / 8 = 32 chunks.
  rejects(s, "split_k must not exceed the 32 reduction blocks");
  s = schedule4x8();
  s.tileH = s.tileW = 1; // 64 one-pixel tiles, 8 x 64 / 16 threads.
  s.tilesPerBlock = 64;
  s.threadPixels = 16;
  s.threads = 32;
  rejects(s, "tiles_per_block must not exceed threads");
  s = schedule4x8();
  s.reductionBlock = 40; // 6x10x40 + 9x40x32 + 5 words = 55700 bytes.
  rejects(s, "needs 55700 bytes");
}

TEST(ConvProfile, CostGrowsWithActiveTiles) {
  DeviceModel d = h100();
  double previous = -1;
  for (int64_t tiles : {0, 1, 10, 25, 50}) {
    std::optional<KernelProfile> prof =
        profileMaskedConv(d, paperConv(), schedule4x8(), tiles);
    ASSERT_TRUE(prof);
    CostBreakdown c = estimateCost(d, *prof);
    ASSERT_TRUE(std::isfinite(c.totalNs));
    EXPECT_GE(c.totalNs, previous) << tiles << " tiles";
    previous = c.totalNs;
  }
  EXPECT_GT(previous, 0);
}

TEST(ConvProfile, BoundsTheFirstH100Measurements) {
  // docs/benchmarks/h100-first-e2e-2026-11-24.md: the default schedule at 4x4
  // tiles with bias took 218.1 us with 70 of 100 tiles active and 251.4 us
  // with all 100 (the whole op, ~4 us of it outside the variant). The model
  // is an upper bound on performance, so its time must not exceed these.
  ConvProblem p = paperConv();
  p.bias = true;
  ConvSchedule s; // #spsparse.schedule<>
  s.tileH = s.tileW = 4;
  DeviceModel d = h100();
  for (auto [tiles, measuredUs] : {std::pair{70, 218.1}, {100, 251.4}}) {
    std::optional<KernelProfile> prof = profileMaskedConv(d, p, s, tiles);
    ASSERT_TRUE(prof);
    CostBreakdown c = estimateCost(d, *prof);
    EXPECT_LE(c.totalNs / 1000, measuredUs) << tiles << " tiles";
    // 5 shared loads per 4 MACs, at one conflict-free warp load per clock:
    // the default schedule is bound by shared-memory bandwidth.
    EXPECT_EQ(c.bound, CostBreakdown::Bound::Shared);
  }
}

} // namespace
