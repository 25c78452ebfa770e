//===- BmmProfileTest.cpp - the masked batch-matmul template's profile ----===//
//
// Part of the dynaspa project.
//
//===----------------------------------------------------------------------===//
//
// A-ViT's QKᵀ (6 heads x 197 tokens, head dim 64, row and column masks) at
// the template's default DISTile of 16 tokens: the profile's MACs add up to
// what the grid computes, its transaction counts are the ones worked out by
// hand from the template's access patterns, the checks mirror the
// template's, bank conflicts appear where rows of one warp share a bank, and
// the cost grows with the tile count.
//
//===----------------------------------------------------------------------===//

#include "dynaspa/Analysis/BmmProfile.h"

#include "gtest/gtest.h"

using namespace dynaspa::cost;

namespace {

BmmProblem qkt() {
  BmmProblem p;
  p.batch = 6;
  p.m = p.n = 197;
  p.k = 64;
  p.colMask = true;
  return p;
}

BmmProblem av() {
  BmmProblem p;
  p.batch = 6;
  p.m = p.k = 197;
  p.n = 64;
  return p;
}

/// 16 tokens, 32 columns per block, 4 per thread: 8 x 16 = 128 threads.
BmmSchedule base() { return BmmSchedule(); }

DeviceModel h100() { return *getBuiltinDevice("h100-sxm"); }

double totalMacs(const DeviceModel &d, const KernelProfile &p) {
  return p.warpMacs * d.warpSize * (p.threadsPerBlock / d.warpSize) * p.blocks;
}

TEST(BmmProfile, ShapeAndMacs) {
  std::string error;
  std::optional<KernelProfile> prof =
      profileMaskedBmm(h100(), qkt(), base(), 30, &error);
  ASSERT_TRUE(prof) << error;
  EXPECT_EQ(getBmmTileCount(qkt(), base()), 6 * 13);
  // 30 tiles x ceil(197 / 32) column blocks.
  EXPECT_EQ(prof->blocks, 30 * 7);
  EXPECT_EQ(prof->threadsPerBlock, 128);
  EXPECT_EQ(prof->sharedBytesPerBlock, 4 * (16 * 8 + 8 * 32));
  // 8 chunks x 8 steps x 4 columns per thread; the grid computes 7 x 32 =
  // 224 columns (the last block's 27 past N are phantom).
  EXPECT_DOUBLE_EQ(prof->warpMacs, 8 * 8 * 4);
  EXPECT_DOUBLE_EQ(totalMacs(h100(), *prof), 30.0 * 16 * 64 * 224);
}

TEST(BmmProfile, HandCountedTransactions) {
  std::optional<KernelProfile> prof =
      profileMaskedBmm(h100(), qkt(), base(), 1);
  ASSERT_TRUE(prof);
  // Per chunk, lhs: each warp reads 4 rows x 8 floats, 32 aligned bytes
  // each (k0 is a multiple of 8): 16 sectors. rhs: a warp reads 32 floats
  // of one row of K; rows are 788 bytes apart, so row kk starts at byte
  // 20 * kk mod 32 of a sector: 4 sectors where kk is a multiple of 8, 5
  // otherwise; over K = 64: 8 x 4 + 56 x 5. Epilogue: per warp 4 column-mask
  // loads (8 bytes each) and one row-mask load (4 bytes); per column group j
  // the 16 rows store 32 bytes each, aligned only for rows 0 and 8: 2 + 14
  // x 2. Each warp loads the tile id (one sector).
  double expected =
      8 * 16 + (8 * 4 + 56 * 5) + 4 * 4 + 4 * 1 + 4 * (2 + 14 * 2) + 4;
  EXPECT_DOUBLE_EQ(prof->globalTransactionsPerBlock, expected);
  // Rows of a warp are 8 words apart in the staged lhs: banks 0, 8, 16, 24.
  EXPECT_DOUBLE_EQ(prof->bankConflict, 1);
}

TEST(BmmProfile, WideReductionBlockConflicts) {
  BmmSchedule s = base();
  s.reductionBlock = 32; // A warp's 4 rows are 32 words apart: one bank.
  std::optional<KernelProfile> prof = profileMaskedBmm(h100(), qkt(), s, 1);
  ASSERT_TRUE(prof);
  EXPECT_GT(prof->bankConflict, 1.5);
  // One row per warp: 32 columns per block, 1 per thread.
  s.threadChannels = 1;
  s.threads = 32 * 16;
  prof = profileMaskedBmm(h100(), qkt(), s, 1);
  ASSERT_TRUE(prof);
  EXPECT_DOUBLE_EQ(prof->bankConflict, 1);
}

TEST(BmmProfile, EachOperandTakesItsWidestLoad) {
  // Per chunk over 128 threads: 16 rows x 32 of K (lhs) in 4 loop
  // iterations of scalars or 1 of vectors of 4; 32 of K x 32 columns (rhs)
  // in 8 or 2.
  BmmSchedule scalar = base();
  scalar.reductionBlock = 32;
  BmmSchedule vector = scalar;
  vector.vectorWidth = 4;
  // QKᵀ: K = 64 takes vectors, N = 197 not; the sectors read are the same.
  std::optional<KernelProfile> q1 = profileMaskedBmm(h100(), qkt(), scalar, 1);
  std::optional<KernelProfile> q4 = profileMaskedBmm(h100(), qkt(), vector, 1);
  ASSERT_TRUE(q1 && q4);
  EXPECT_DOUBLE_EQ(q1->globalTransactionsPerBlock,
                   q4->globalTransactionsPerBlock);
  // 2 chunks x 3 lhs iterations fewer x 22 instructions (B10).
  EXPECT_DOUBLE_EQ(q1->warpInstructions - q4->warpInstructions, 2 * 3 * 22);
  // AV: K = 197 keeps the lhs scalar, N = 64 takes vectors: 7 chunks x 6
  // rhs iterations fewer x 20 instructions.
  std::optional<KernelProfile> a1 = profileMaskedBmm(h100(), av(), scalar, 1);
  std::optional<KernelProfile> a4 = profileMaskedBmm(h100(), av(), vector, 1);
  ASSERT_TRUE(a1 && a4);
  EXPECT_DOUBLE_EQ(a1->warpInstructions - a4->warpInstructions, 7 * 6 * 20);
}

TEST(BmmProfile, ColumnMaskAndWritesCostTransactions) {
  BmmProblem p = qkt();
  std::optional<KernelProfile> masked = profileMaskedBmm(h100(), p, base(), 1);
  p.colMask = false;
  std::optional<KernelProfile> rows = profileMaskedBmm(h100(), p, base(), 1);
  std::optional<KernelProfile> half =
      profileMaskedBmm(h100(), p, base(), 1, nullptr, 0.5);
  ASSERT_TRUE(masked && rows && half);
  EXPECT_DOUBLE_EQ(masked->globalTransactionsPerBlock -
                       rows->globalTransactionsPerBlock,
                   16);
  EXPECT_DOUBLE_EQ(rows->globalTransactionsPerBlock -
                       half->globalTransactionsPerBlock,
                   4 * (2 + 14 * 2) / 2.0);
}

TEST(BmmProfile, GridStride) {
  BmmSchedule s = base();
  s.blocks = 10;
  std::optional<KernelProfile> few = profileMaskedBmm(h100(), av(), s, 45);
  ASSERT_TRUE(few);
  // 10 blocks along the list, 2 column blocks of 32 of N = 64; the busiest
  // block does 5 tiles.
  EXPECT_EQ(few->blocks, 10 * 2);
  std::optional<KernelProfile> all = profileMaskedBmm(h100(), av(), base(), 45);
  ASSERT_TRUE(all);
  EXPECT_EQ(all->blocks, 45 * 2);
  EXPECT_DOUBLE_EQ(few->warpMacs, 5 * all->warpMacs);
  EXPECT_DOUBLE_EQ(few->globalTransactionsPerBlock,
                   5 * all->globalTransactionsPerBlock);
}

TEST(BmmProfile, EmptyMaskDoesNothing) {
  std::optional<KernelProfile> prof = profileMaskedBmm(h100(), av(), base(), 0);
  ASSERT_TRUE(prof);
  EXPECT_EQ(prof->blocks, 0);
  EXPECT_DOUBLE_EQ(prof->globalTransactionsPerBlock, 0);
}

TEST(BmmProfile, TheTemplatesChecks) {
  auto why = [](BmmProblem p, BmmSchedule s) {
    return verifyBmmSchedule(p, s);
  };
  EXPECT_EQ(why(qkt(), base()), "");
  BmmSchedule s = base();
  s.threadPixels = 3;
  EXPECT_EQ(why(qkt(), s), "thread_channels must divide channel_block and "
                           "thread_pixels the block's 16 rows");
  s = base();
  s.threads = 64;
  EXPECT_EQ(why(qkt(), s), "threads must be (channel_block / thread_channels) "
                           "* (rows / thread_pixels) = 128");
  s = base();
  s.rows = 128;
  s.threadChannels = 1;
  s.threads = 32 * 128;
  EXPECT_EQ(why(qkt(), s), "more than 1024 threads per block");
  s = base();
  s.vectorWidth = 3;
  EXPECT_EQ(why(qkt(), s), "vector_width must be 1, 2 or 4");
  // The widest load: N = 197 for QKᵀ and K = 197 for AV leave the other
  // operand its vectors (EachOperandTakesItsWidestLoad).
  s.vectorWidth = 4;
  EXPECT_EQ(why(qkt(), s), "");
  EXPECT_EQ(why(av(), s), "");
  s = base();
  s.unroll = 3;
  EXPECT_EQ(why(qkt(), s), "unroll must divide reduction_block");
  s = base();
  s.doubleBuffer = true;
  EXPECT_EQ(why(qkt(), s), "");
  // 16 x 64 + 64 x 128 floats of the next chunk over 32 threads.
  s.channelBlock = 128;
  s.reductionBlock = 64;
  s.threadChannels = 16;
  s.threadPixels = 4;
  s.threads = 32;
  EXPECT_EQ(why(qkt(), s), "double_buffer needs 288 prefetch registers per "
                           "thread next to 64 accumulators (at most 160 "
                           "together)");
  s = base();
  s.channelBlock = 256;
  s.reductionBlock = 64;
  s.threadChannels = 16;
  s.threads = 16 * 16; // 4 * (16 * 64 + 64 * 256) = 69632 bytes.
  EXPECT_EQ(why(qkt(), s),
            "needs 69632 bytes of shared memory (more than 48 KiB)");
  std::string error;
  EXPECT_FALSE(profileMaskedBmm(h100(), qkt(), base(), 79, &error));
  EXPECT_EQ(error,
            "active_tiles must be between 0 and the 78 tiles of a full mask");
}

// B11: ptxas unrolls a staging loop of 4 or more iterations per thread by 4
// (four loads in flight per wait) and leaves shorter ones rolled; two
// single-iteration loops are one straight-line chunk (one wait).
TEST(BmmProfile, StagingWaitsFollowPtxasUnrolling) {
  EXPECT_EQ(getBmmStagingWaits(1), 1);
  EXPECT_EQ(getBmmStagingWaits(2), 2);
  EXPECT_EQ(getBmmStagingWaits(3), 3);
  EXPECT_EQ(getBmmStagingWaits(4), 1);
  EXPECT_EQ(getBmmStagingWaits(5), 2);
  EXPECT_EQ(getBmmStagingWaits(8), 2);
  EXPECT_EQ(getBmmStagingWaits(64), 16);

  // Per tile: the tile id, the chunks' staging waits, QKT's column-mask
  // bytes, one row-mask byte per thread row.
  auto serial = [](const BmmSchedule &s) {
    std::optional<KernelProfile> prof = profileMaskedBmm(h100(), qkt(), s, 1);
    EXPECT_TRUE(prof);
    return prof ? prof->serialRoundTrips : -1.0;
  };
  // base: lhs 16 x 8 / 128 = 1 iteration, rhs 8 x 32 / 128 = 2 (rolled);
  // 8 chunks of K = 64.
  EXPECT_DOUBLE_EQ(serial(base()), 1 + 8 * (1 + 2) + 1 + 1);
  // rb 16: lhs 2 (rolled), rhs 4 (unrolled: 1 wait); 4 chunks.
  BmmSchedule s = base();
  s.reductionBlock = 16;
  EXPECT_DOUBLE_EQ(serial(s), 1 + 4 * (2 + 1) + 1 + 1);
  // 16 columns, 1 per thread, 2 rows per thread: one iteration each, the
  // chunk's two loads in flight together.
  s = base();
  s.channelBlock = 16;
  s.threadChannels = 1;
  s.threadPixels = 2;
  EXPECT_DOUBLE_EQ(serial(s), 1 + 8 * 1 + 1 + 2);
  // 64 rows, rb 32, 64 columns, 4 x 4 per thread (256 threads): 8
  // iterations per loop, 2 waits each; 2 chunks.
  s = base();
  s.rows = 64;
  s.reductionBlock = 32;
  s.channelBlock = 64;
  s.threadChannels = 4;
  s.threadPixels = 4;
  s.threads = 256;
  EXPECT_DOUBLE_EQ(serial(s), 1 + 2 * (2 + 2) + 1 + 4);
}

TEST(BmmProfile, CostGrowsWithTiles) {
  DeviceModel d = h100();
  double last = 0;
  for (int64_t tiles : {1, 8, 20, 40, 78}) {
    std::optional<KernelProfile> prof =
        profileMaskedBmm(d, qkt(), base(), tiles);
    ASSERT_TRUE(prof);
    CostBreakdown c = estimateCost(d, *prof);
    EXPECT_GE(c.totalNs, last) << tiles;
    last = c.totalNs;
  }
  EXPECT_GT(last, 0);
}

} // namespace
