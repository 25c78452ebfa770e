//===- MemoryAccessTest.cpp - coalescing and bank conflicts ---------------===//
//
// Part of the dynaspa project.
//
//===----------------------------------------------------------------------===//
//
// Global transactions and shared-memory bank conflicts of single warp
// instructions, on the textbook cases (CUDA Best Practices Guide, the CUDA
// Programming Guide's shared-memory section, the paper's Fig. 6a).
//
//===----------------------------------------------------------------------===//

#include "dynaspa/Analysis/CostModel.h"

#include "gtest/gtest.h"

using namespace dynaspa::cost;

namespace {

TEST(Transactions, CoalescedFloat) {
  // 32 lanes x 4 B, aligned: 128 B = 4 sectors of 32 B.
  EXPECT_EQ(countTransactions(WarpAccess::strided(0, 4, 4), 32), 4);
  EXPECT_EQ(countTransactions(WarpAccess::strided(4096, 4, 4), 32), 4);
  // One 128-byte line with 128-byte transactions.
  EXPECT_EQ(countTransactions(WarpAccess::strided(0, 4, 4), 128), 1);
}

TEST(Transactions, Misaligned) {
  // Shifted by one float: the 128 bytes straddle 5 sectors.
  EXPECT_EQ(countTransactions(WarpAccess::strided(4, 4, 4), 32), 5);
  // A single 8-byte access across a sector boundary touches two.
  EXPECT_EQ(countTransactions(WarpAccess::strided(28, 0, 8, 1), 32), 2);
}

TEST(Transactions, Strided) {
  // Stride 2 floats: 256 bytes spanned, every sector touched.
  EXPECT_EQ(countTransactions(WarpAccess::strided(0, 8, 4), 32), 8);
  // Stride 8 floats = 32 B: one sector per lane.
  EXPECT_EQ(countTransactions(WarpAccess::strided(0, 32, 4), 32), 32);
  // A column of a row-major matrix: one sector per lane.
  EXPECT_EQ(countTransactions(WarpAccess::strided(0, 1024, 4), 32), 32);
}

TEST(Transactions, VectorAndBroadcast) {
  // float4: 32 x 16 B = 512 B = 16 sectors.
  EXPECT_EQ(countTransactions(WarpAccess::strided(0, 16, 16), 32), 16);
  // float2: 8 sectors.
  EXPECT_EQ(countTransactions(WarpAccess::strided(0, 8, 8), 32), 8);
  // Every lane reads the same word: 1.
  EXPECT_EQ(countTransactions(WarpAccess::strided(64, 0, 4), 32), 1);
}

TEST(Transactions, InactiveLanes) {
  // Half a warp predicated off.
  EXPECT_EQ(countTransactions(WarpAccess::strided(0, 4, 4, 16), 32), 2);
  WarpAccess odd = WarpAccess::fromFunction(
      32, 4, [](int64_t lane) -> std::optional<int64_t> {
        if (lane % 2)
          return std::nullopt;
        return lane * 4;
      });
  EXPECT_EQ(odd.getActiveLanes(), 16);
  EXPECT_EQ(countTransactions(odd, 32), 4);
  WarpAccess none = WarpAccess::fromFunction(
      32, 4, [](int64_t) -> std::optional<int64_t> { return std::nullopt; });
  EXPECT_EQ(countTransactions(none, 32), 0);
}

TEST(Transactions, PaperFigure6a) {
  // A 4x8 tile of a 16x16 row-major float matrix, one lane per element,
  // 128-byte transactions (G_trans = 32 floats): the 32 floats fill one
  // transaction's worth of bytes but span two.
  WarpAccess tile = WarpAccess::fromFunction(
      32, 4, [](int64_t lane) -> std::optional<int64_t> {
        return ((lane / 8) * 16 + lane % 8) * 4;
      });
  EXPECT_EQ(countTransactions(tile, 128), 2);
}

TEST(BankConflicts, Strides) {
  BankConflicts unit = analyzeBankConflicts(WarpAccess::strided(0, 4, 4));
  EXPECT_EQ(unit.wavefronts, 1);
  EXPECT_EQ(unit.phases, 1);
  EXPECT_DOUBLE_EQ(unit.degree(), 1);
  // Stride 2 words: banks 0, 2, ..., 30, two words each.
  EXPECT_DOUBLE_EQ(analyzeBankConflicts(WarpAccess::strided(0, 8, 4)).degree(),
                   2);
  EXPECT_DOUBLE_EQ(analyzeBankConflicts(WarpAccess::strided(0, 16, 4)).degree(),
                   4);
  // Stride 32 words: everything in bank 0.
  EXPECT_DOUBLE_EQ(
      analyzeBankConflicts(WarpAccess::strided(0, 128, 4)).degree(), 32);
  // Odd strides are conflict-free.
  EXPECT_DOUBLE_EQ(analyzeBankConflicts(WarpAccess::strided(0, 12, 4)).degree(),
                   1);
  EXPECT_DOUBLE_EQ(
      analyzeBankConflicts(WarpAccess::strided(0, 33 * 4, 4)).degree(), 1);
  // The classic fix: a 33-word row pitch makes a column read conflict-free.
}

TEST(BankConflicts, Broadcast) {
  // All lanes read one word: a broadcast, one pass.
  EXPECT_EQ(analyzeBankConflicts(WarpAccess::strided(40, 0, 4)).wavefronts, 1);
  // Lanes 0-15 read word 0, lanes 16-31 word 32: same bank, two words.
  WarpAccess twoWords = WarpAccess::fromFunction(
      32, 4, [](int64_t lane) -> std::optional<int64_t> {
        return lane < 16 ? 0 : 128;
      });
  EXPECT_EQ(analyzeBankConflicts(twoWords).wavefronts, 2);
  // Groups of 8 lanes sharing a word, 4 words in different banks (the conv
  // template's input reads): one pass.
  WarpAccess groups = WarpAccess::fromFunction(
      32, 4, [](int64_t lane) -> std::optional<int64_t> {
        return (lane / 8) * 8 * 4;
      });
  EXPECT_EQ(analyzeBankConflicts(groups).wavefronts, 1);
  // Bytes of the same word are a broadcast too.
  EXPECT_EQ(analyzeBankConflicts(WarpAccess::strided(0, 1, 1)).wavefronts, 1);
}

TEST(BankConflicts, WideAccesses) {
  // float4: served per quarter warp (8 lanes x 16 B = 128 B), 4 passes,
  // each conflict-free.
  BankConflicts f4 = analyzeBankConflicts(WarpAccess::strided(0, 16, 16));
  EXPECT_EQ(f4.phases, 4);
  EXPECT_EQ(f4.wavefronts, 4);
  EXPECT_DOUBLE_EQ(f4.degree(), 1);
  // float4 with a 32-byte stride: a quarter warp spans 256 B, two words per
  // bank: 2-way.
  BankConflicts f4s = analyzeBankConflicts(WarpAccess::strided(0, 32, 16));
  EXPECT_EQ(f4s.wavefronts, 8);
  EXPECT_DOUBLE_EQ(f4s.degree(), 2);
  // float2: per half warp, 2 passes.
  BankConflicts f2 = analyzeBankConflicts(WarpAccess::strided(0, 8, 8));
  EXPECT_EQ(f2.phases, 2);
  EXPECT_DOUBLE_EQ(f2.degree(), 1);
  // float4, every lane the same address: 4 phases, 1 pass each.
  EXPECT_DOUBLE_EQ(analyzeBankConflicts(WarpAccess::strided(0, 0, 16)).degree(),
                   1);
  // Only the first quarter warp active: one phase.
  EXPECT_EQ(analyzeBankConflicts(WarpAccess::strided(0, 16, 16, 8)).phases, 1);
}

TEST(BankConflicts, NoActiveLanes) {
  WarpAccess none = WarpAccess::fromFunction(
      32, 4, [](int64_t) -> std::optional<int64_t> { return std::nullopt; });
  BankConflicts bc = analyzeBankConflicts(none);
  EXPECT_EQ(bc.wavefronts, 0);
  EXPECT_DOUBLE_EQ(bc.degree(), 1);
}

TEST(ProfileBuilder, AccumulatesBeta) {
  DeviceModel d = *getBuiltinDevice("h100-sxm");
  KernelProfile p;
  ProfileBuilder b(d, p);
  b.addGlobal(WarpAccess::strided(0, 4, 4), 10);
  EXPECT_DOUBLE_EQ(p.globalTransactionsPerBlock, 40);
  EXPECT_DOUBLE_EQ(p.globalBytesPerBlock, 1280);
  // Conflict-free, then as many 2-way accesses: beta = 1.5.
  b.addShared(WarpAccess::strided(0, 4, 4), 3);
  EXPECT_DOUBLE_EQ(p.bankConflict, 1);
  b.addShared(WarpAccess::strided(0, 8, 4), 3);
  EXPECT_DOUBLE_EQ(p.sharedAccessBytesPerBlock, 6 * 128);
  EXPECT_DOUBLE_EQ(p.bankConflict, 1.5);
}

} // namespace
