//===- KernelCostTest.cpp - occupancy and eqs. 8-12 -----------------------===//
//
// Part of the dynaspa project.
//
//===----------------------------------------------------------------------===//
//
// Occupancy against values of NVIDIA's CUDA occupancy calculator, eq. 9's
// plain ratios on a device with unit granularities, and eqs. 8-12 on a toy
// device where every term can be computed by hand.
//
//===----------------------------------------------------------------------===//

#include "dynaspa/Analysis/CostModel.h"

#include "gtest/gtest.h"

#include <cmath>
#include <fstream>
#include <sstream>

using namespace dynaspa::cost;

namespace {

DeviceModel builtin(const char *name) {
  std::optional<DeviceModel> d = getBuiltinDevice(name);
  EXPECT_TRUE(d.has_value()) << name;
  return d.value_or(DeviceModel());
}

/// sm_90, 256 threads, 48 KiB shared, 64 registers: 64 regs x 32 lanes =
/// 2048 per warp -> 32 warps -> 4 blocks; (48 + 1 reserved) KiB -> 228 / 49 =
/// 4 blocks; threads allow 8. The occupancy calculator says 4 (50%).
TEST(Occupancy, H100CalculatorCase) {
  DeviceModel h100 = builtin("h100-sxm");
  Occupancy occ = computeOccupancy(h100, /*blocks=*/1000, 256, 48 * 1024, 64);
  EXPECT_EQ(occ.blocksPerSm, 4);
  EXPECT_EQ(occ.warpsPerSm, 32);
  EXPECT_TRUE(occ.limit == OccupancyLimit::Registers ||
              occ.limit == OccupancyLimit::Shared);
  EXPECT_EQ(occ.waves, 2); // ceil(1000 / (4 * 132))
}

TEST(Occupancy, H100FullOccupancy) {
  DeviceModel h100 = builtin("h100-sxm");
  // 32 registers: 1024 per warp, 64 warps fit; threads allow 8 blocks.
  Occupancy occ = computeOccupancy(h100, 132 * 8, 256, 0, 32);
  EXPECT_EQ(occ.blocksPerSm, 8);
  EXPECT_EQ(occ.warpsPerSm, 64);
  EXPECT_EQ(occ.limit, OccupancyLimit::Threads);
  EXPECT_EQ(occ.waves, 1);
}

TEST(Occupancy, BlockLimit) {
  DeviceModel h100 = builtin("h100-sxm");
  // One-warp blocks: threads would allow 64, the SM holds 32 blocks.
  Occupancy occ = computeOccupancy(h100, 1, 32, 0, 16);
  EXPECT_EQ(occ.blocksPerSm, 32);
  EXPECT_EQ(occ.limit, OccupancyLimit::Blocks);
  EXPECT_EQ(occ.waves, 1);
}

TEST(Occupancy, RegisterGranularity) {
  DeviceModel h100 = builtin("h100-sxm");
  // 255 registers round to 8192 per warp: 8 warps per SM, one 256-thread
  // block (calculator: 12.5%).
  Occupancy occ = computeOccupancy(h100, 10, 256, 0, 255);
  EXPECT_EQ(occ.blocksPerSm, 1);
  EXPECT_EQ(occ.limit, OccupancyLimit::Registers);
  // 88 registers: 2816 per warp, 23 warps, rounded down to 20 by the warp
  // allocation granularity: 20 one-warp blocks, not 23.
  EXPECT_EQ(computeOccupancy(h100, 10, 32, 0, 88).blocksPerSm, 20);
  // 96 registers: 3072 per warp, 21 warps -> 20.
  EXPECT_EQ(computeOccupancy(h100, 10, 32, 0, 96).blocksPerSm, 20);
  // 1024 threads x 128 registers need 128K registers: cannot launch.
  Occupancy none = computeOccupancy(h100, 10, 1024, 0, 128);
  EXPECT_EQ(none.blocksPerSm, 0);
  EXPECT_EQ(none.limit, OccupancyLimit::Invalid);
}

TEST(Occupancy, SharedMemory) {
  DeviceModel h100 = builtin("h100-sxm");
  // (100 + 1) KiB per block: 228 / 101 = 2.
  Occupancy occ = computeOccupancy(h100, 10, 128, 100 * 1024, 32);
  EXPECT_EQ(occ.blocksPerSm, 2);
  EXPECT_EQ(occ.limit, OccupancyLimit::Shared);
  // The allocation unit: 32256 B (252 x 128) + 1 KiB fits 7 times in
  // 228 KiB; 32329 B would too, but rounds up to 32384 B: 6.
  EXPECT_EQ(computeOccupancy(h100, 10, 64, 32256, 32).blocksPerSm, 7);
  EXPECT_EQ(computeOccupancy(h100, 10, 64, 32329, 32).blocksPerSm, 6);
  // Beyond the per-block maximum the block cannot run.
  EXPECT_EQ(computeOccupancy(h100, 10, 64, 228 * 1024, 32).limit,
            OccupancyLimit::Invalid);

  DeviceModel orin = builtin("jetson-agx-orin");
  EXPECT_EQ(computeOccupancy(orin, 10, 128, 100 * 1024, 32).blocksPerSm, 1);
  // 1536 threads per SM on CC 8.7: 6 blocks of 256.
  Occupancy o = computeOccupancy(orin, 10, 256, 0, 32);
  EXPECT_EQ(o.blocksPerSm, 6);
  EXPECT_EQ(o.limit, OccupancyLimit::Threads);

  DeviceModel xavier = builtin("jetson-agx-xavier");
  // No reservation before CC 8.0: 96 KiB / 48 KiB = 2.
  EXPECT_EQ(computeOccupancy(xavier, 10, 256, 48 * 1024, 32).blocksPerSm, 2);
}

TEST(Occupancy, InvalidBlocks) {
  DeviceModel h100 = builtin("h100-sxm");
  EXPECT_EQ(computeOccupancy(h100, 1, 0, 0, 32).limit, OccupancyLimit::Invalid);
  EXPECT_EQ(computeOccupancy(h100, 1, 2048, 0, 16).limit,
            OccupancyLimit::Invalid);
  EXPECT_EQ(computeOccupancy(h100, 1, 128, 0, 256).limit,
            OccupancyLimit::Invalid);
  // No blocks: no waves, K still describes one block.
  Occupancy empty = computeOccupancy(h100, 0, 128, 0, 32);
  EXPECT_EQ(empty.blocksPerSm, 16);
  EXPECT_EQ(empty.waves, 0);
}

/// Every (registers, threads, dynamic shared) point the CUDA runtime's
/// occupancy API answered on a real H100 (Inputs/h100-occupancy.csv: 6
/// kernels of 15-201 registers x 10 block sizes x 11 shared sizes).
TEST(Occupancy, MatchesCudaRuntimeOnH100) {
  std::ifstream in(std::string(DYNASPA_COSTMODEL_INPUTS) +
                   "/h100-occupancy.csv");
  ASSERT_TRUE(in) << "missing " << DYNASPA_COSTMODEL_INPUTS;
  DeviceModel h100 = builtin("h100-sxm");
  std::string line;
  int rows = 0;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#' || line.rfind("regs", 0) == 0)
      continue;
    std::istringstream fields(line);
    int64_t regs, threads, smem, blocks;
    char comma;
    fields >> regs >> comma >> threads >> comma >> smem >> comma >> blocks;
    ASSERT_TRUE(fields) << line;
    EXPECT_EQ(computeOccupancy(h100, 1, threads, smem, regs).blocksPerSm,
              std::max<int64_t>(blocks, 0))
        << line;
    ++rows;
  }
  EXPECT_EQ(rows, 660);
}

/// A device with unit granularities follows eq. 9's floor ratios exactly.
DeviceModel paperDevice() {
  DeviceModel d;
  d.name = "paper";
  d.sms = 2;
  d.threadsPerSm = 2048;
  d.sharedPerSm = 65536;
  d.registersPerSm = 65536;
  d.blocksPerSm = 16;
  d.maxSharedPerBlock = 65536;
  d.registerAllocUnit = 1;
  d.warpAllocGranularity = 1;
  d.sharedAllocUnit = 1;
  d.reservedSharedPerBlock = 0;
  d.globalBandwidth = 1;
  d.sharedBandwidth = 2;
  d.transactionBytes = 32;
  d.alpha = 1;
  d.gamma = 10;
  return d;
}

TEST(Occupancy, PaperEquation9) {
  DeviceModel d = paperDevice();
  EXPECT_EQ(verifyDevice(d), "");
  // floor(2048/192) = 10, floor(65536/10000) = 6, floor(65536/(192*40)) = 8.
  Occupancy occ = computeOccupancy(d, 25, 192, 10000, 40);
  EXPECT_EQ(occ.blocksPerSm, 6);
  EXPECT_EQ(occ.limit, OccupancyLimit::Shared);
  EXPECT_EQ(occ.waves, 3); // ceil(25 / 12)
  // floor(65536 / (192 * 48)) = 7 < 10.
  EXPECT_EQ(computeOccupancy(d, 1, 192, 0, 48).blocksPerSm, 7);
}

TEST(KernelCost, HandComputed) {
  DeviceModel d = paperDevice();
  d.threadsPerSm = 128; // K = 2 blocks of 64 threads.
  KernelProfile p;
  p.blocks = 8;
  p.threadsPerBlock = 64;
  p.globalTransactionsPerBlock = 10;
  p.sharedAccessBytesPerBlock = 100;
  p.bankConflict = 1.5;
  p.warpMacs = 50;
  CostBreakdown c = estimateCost(d, p);
  EXPECT_EQ(c.occupancy.blocksPerSm, 2);
  EXPECT_EQ(c.occupancy.waves, 2);
  // Eq. 8: 32 B * 10 * 8 blocks / 1 GB/s.
  EXPECT_DOUBLE_EQ(c.globalNs, 2560);
  // Eq. 10: C * K * 100 B * 1.5 / (2 GB/s / 2 SMs).
  EXPECT_DOUBLE_EQ(c.sharedNs, 600);
  // Eq. 11: C * (alpha * 50 * (2 blocks * 2 warps) + gamma).
  EXPECT_DOUBLE_EQ(c.computeNs, 420);
  EXPECT_DOUBLE_EQ(c.totalNs, 2560);
  EXPECT_EQ(c.bound, CostBreakdown::Bound::Global);

  // Compute-bound once the MACs dominate.
  p.warpMacs = 1000;
  c = estimateCost(d, p);
  EXPECT_DOUBLE_EQ(c.computeNs, 2 * (1000 * 4 + 10));
  EXPECT_EQ(c.bound, CostBreakdown::Bound::Compute);
  EXPECT_DOUBLE_EQ(c.totalNs, c.computeNs);
}

TEST(KernelCost, SmallGridUsesResidentBlocks) {
  DeviceModel d = paperDevice();
  d.threadsPerSm = 128;
  KernelProfile p;
  p.blocks = 1; // One SM holds one block, not K = 2.
  p.threadsPerBlock = 64;
  p.sharedAccessBytesPerBlock = 100;
  p.warpMacs = 50;
  CostBreakdown c = estimateCost(d, p);
  EXPECT_EQ(c.occupancy.waves, 1);
  EXPECT_DOUBLE_EQ(c.sharedNs, 100);
  EXPECT_DOUBLE_EQ(c.computeNs, 50 * 2 + 10);
  EXPECT_EQ(c.bound, CostBreakdown::Bound::Compute);
}

TEST(KernelCost, InfeasibleAndEmpty) {
  DeviceModel d = builtin("h100-sxm");
  KernelProfile p;
  p.blocks = 4;
  p.threadsPerBlock = 2048;
  CostBreakdown c = estimateCost(d, p);
  EXPECT_EQ(c.bound, CostBreakdown::Bound::Infeasible);
  EXPECT_TRUE(std::isinf(c.totalNs));

  p.threadsPerBlock = 128;
  p.blocks = 0;
  EXPECT_DOUBLE_EQ(estimateCost(d, p).totalNs, 0);
}

TEST(KernelCost, BuiltinPeakRates) {
  // alpha is derived from the FP32 pipe: 2 * SMs * warp / alpha FLOP/ns must
  // give the spec sheets' FP32 peaks.
  auto tflops = [](const DeviceModel &d) {
    return 2.0 * d.sms * d.warpSize / d.alpha / 1000;
  };
  EXPECT_NEAR(tflops(builtin("h100-sxm")), 66.9, 0.1);
  EXPECT_NEAR(tflops(builtin("jetson-agx-orin")), 5.32, 0.01);
  EXPECT_NEAR(tflops(builtin("jetson-agx-xavier")), 1.41, 0.01);
  EXPECT_NEAR(tflops(builtin("adreno-650")), 1.20, 0.01);
}

TEST(KernelCost, LatencyBoundHandComputed) {
  // Two SMs, one block of 2 warps on each (R = 1): an instruction of a warp
  // costs alpha * max(4 schedulers, 2 warps) = 4 ns.
  DeviceModel d = paperDevice();
  d.gamma = 0;
  d.memoryLatencyNs = 100;
  d.barrierNs = 5;
  KernelProfile p;
  p.blocks = 2;
  p.threadsPerBlock = 64;
  p.warpMacs = 40;
  p.warpInstructions = 50;
  p.serialRoundTrips = 3;
  p.barriers = 2;
  CostBreakdown c = estimateCost(d, p);
  // Waits 3 x 100 + 2 x 5, work 50 x 4.
  EXPECT_DOUBLE_EQ(c.latencyNs, 510);
  // Eq. 11 counts the 50 instructions: 50 x 1 x 2 warps.
  EXPECT_DOUBLE_EQ(c.computeNs, 100);
  EXPECT_EQ(c.bound, CostBreakdown::Bound::Latency);
  EXPECT_STREQ(toString(c.bound), "latency");

  // A prefetch: 2 loads in flight during 40 of the instructions (160 ns of
  // work, 80 per load): each costs max(100, 80).
  p.overlappedRoundTrips = 2;
  p.overlappedInstructions = 40;
  EXPECT_DOUBLE_EQ(estimateCost(d, p).latencyNs, 300 + 10 + 40 + 2 * 100);
  // With more work per load, the loads hide entirely.
  p.warpInstructions = 250;
  p.overlappedInstructions = 240;
  EXPECT_DOUBLE_EQ(estimateCost(d, p).latencyNs,
                   300 + 10 + 10 * 4 + 2 * (240 * 4 / 2));

  // The block's own work goes no faster than its SM's shared memory: 4000
  // bytes at 1 byte/ns per SM.
  p.sharedAccessBytesPerBlock = 4000;
  c = estimateCost(d, p);
  EXPECT_DOUBLE_EQ(c.sharedNs, 4000);
  EXPECT_DOUBLE_EQ(c.latencyNs,
                   300 + 10 + 4000 * 10 / 250.0 +
                       2 * std::max(100.0, 4000 * 240 / 250.0 / 2));
}

TEST(KernelCost, PartialLastWave) {
  // K = 2 blocks per SM on 2 SMs: 5 blocks are one full wave (R = 2) and a
  // last wave of one block (R = 1), which costs half a wave of shared
  // traffic, not a whole one.
  DeviceModel d = paperDevice();
  d.threadsPerSm = 128;
  KernelProfile p;
  p.blocks = 5;
  p.threadsPerBlock = 64;
  p.sharedAccessBytesPerBlock = 100;
  CostBreakdown c = estimateCost(d, p);
  EXPECT_EQ(c.occupancy.waves, 2);
  EXPECT_DOUBLE_EQ(c.sharedNs, 2 * 100 + 1 * 100);
}

TEST(KernelCost, OperatorOverhead) {
  DeviceModel d = paperDevice();
  d.kernelGapNs = 1000;
  d.memoryLatencyNs = 100;
  d.barrierNs = 5;
  d.atomicNs = 7;
  // The single-block tile list: fill 100 bytes at 1 GB/s; 3 graph nodes
  // (fill, tile list, variant); 300 tiles of 4 pixels are 2 rounds of the
  // 256-thread block, each a wait, 18 barriers and 60 + 5 x 4 instructions
  // at alpha x 8 warps.
  const double round = 100 + 18 * 5 + 80 * 8;
  EXPECT_DOUBLE_EQ(estimateOperatorOverhead(d, 100, {{300, 4, true}}, 1),
                   100 + 3 * 1000 + 2 * round);
  // The multi-block one: 2 blocks at once (one per SM), each also waiting
  // for its claim and its arrival count, and 2 same-address atomics each.
  EXPECT_DOUBLE_EQ(estimateOperatorOverhead(d, 100, {{300, 4}}, 1),
                   100 + 3 * 1000 + (round + 2 * 100) + 2 * 2 * 7);
  // A tile space of one block needs no atomics either way.
  EXPECT_DOUBLE_EQ(estimateOperatorOverhead(d, 0, {{200, 4}}, 1),
                   3 * 1000 + round);
  // 3000 blocks: 8 per SM on 2 SMs, 188 waves of 8 resident blocks.
  EXPECT_DOUBLE_EQ(estimateOperatorOverhead(d, 0, {{3000 * 256, 1}}, 0),
                   1000 * 2 + 188 * (300 + 90 + 65 * 1 * 64) + 2 * 3000 * 7);
  // Every variant is launched; with single-block lists a second
  // granularity adds its tile-list kernel.
  EXPECT_DOUBLE_EQ(
      estimateOperatorOverhead(d, 0, {{300, 4, true}, {10, 16, true}}, 3) -
          estimateOperatorOverhead(d, 0, {{300, 4, true}}, 1),
      3 * 1000 + (100 + 18 * 5 + 140 * 8));
  // One kernel builds both multi-block-era lists: one graph node for them,
  // their 3 blocks side by side (2 resident on an SM), as long as the slower
  // list's round; only the 2-block list claims ranges with atomics.
  EXPECT_DOUBLE_EQ(estimateOperatorOverhead(d, 0, {{300, 4}, {10, 16}}, 1),
                   3 * 1000 + (3 * 100 + 90 + 80 * 16) + 2 * 2 * 7);
  // A standalone op (the kernel writes its zeros, no tile list): one node.
  EXPECT_DOUBLE_EQ(estimateOperatorOverhead(d, 100, {}, 1, /*zeroFill=*/false),
                   1000);
}

TEST(ComputeFit, RecoversAlphaGamma) {
  // Samples on time = 0.125 * N_ops * N_warp + 2000 with +-1 ns noise.
  std::vector<ComputeSample> samples;
  int sign = 1;
  for (double ops : {1000.0, 1500.0, 2000.0, 2500.0})
    for (double warps : {8.0, 16.0, 32.0, 64.0}) {
      samples.push_back({ops, warps, 0.125 * ops * warps + 2000 + sign});
      sign = -sign;
    }
  std::optional<ComputeFit> fit = fitComputeLatency(samples);
  ASSERT_TRUE(fit);
  EXPECT_NEAR(fit->alpha, 0.125, 1e-4);
  EXPECT_NEAR(fit->gamma, 2000, 2);
  EXPECT_GT(fit->r2, 0.999999);
}

TEST(ComputeFit, DegenerateAndNegativeIntercept) {
  EXPECT_FALSE(fitComputeLatency({}));
  EXPECT_FALSE(fitComputeLatency({{100, 4, 10}, {200, 2, 12}})); // same x
  // A line through (100, 50) and (200, 150) has intercept -50: refit through
  // the origin, alpha = (100*50 + 200*150) / (100^2 + 200^2) = 0.7.
  std::optional<ComputeFit> fit =
      fitComputeLatency({{100, 1, 50}, {200, 1, 150}});
  ASSERT_TRUE(fit);
  EXPECT_DOUBLE_EQ(fit->gamma, 0);
  EXPECT_DOUBLE_EQ(fit->alpha, 0.7);
}

TEST(LineFit, SlopeInterceptAndR2) {
  // Bandwidth-style data: 1 ns per 4 bytes plus a 3000 ns launch.
  std::optional<LineFit> fit =
      fitLine({4e6, 8e6, 12e6, 16e6}, {1e6 + 3000, 2e6 + 3000, 3e6 + 3000,
                                       4e6 + 3000});
  ASSERT_TRUE(fit);
  EXPECT_NEAR(fit->slope, 0.25, 1e-12);
  EXPECT_NEAR(fit->intercept, 3000, 1e-6);
  EXPECT_NEAR(fit->r2, 1, 1e-12);
  // Scatter lowers R^2; one distinct x determines nothing.
  fit = fitLine({1, 2, 3, 4}, {1, 3, 2, 4});
  ASSERT_TRUE(fit);
  EXPECT_NEAR(fit->slope, 0.8, 1e-12);
  EXPECT_NEAR(fit->r2, 0.64, 1e-12);
  EXPECT_FALSE(fitLine({2, 2}, {1, 3}));
  EXPECT_FALSE(fitLine({1}, {1}));
}

} // namespace
