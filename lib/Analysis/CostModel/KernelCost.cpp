//===- KernelCost.cpp - occupancy and the upper-bound latency model -------===//
//
// Part of the dynaspa project.
//
//===----------------------------------------------------------------------===//
//
// Eqs. 8–12 of the paper. Where this departs from the text it is to make the
// equations hold for small grids and to match NVIDIA's occupancy rules:
//
//   - Occupancy K (eq. 9) rounds each resource the way the CUDA occupancy
//     calculator does: threads to whole warps, registers per warp to the
//     allocation unit and register-limited warps down to the warp allocation
//     granularity, shared memory up to its allocation unit plus the driver's
//     per-block reservation. With unit granularities it is eq. 9 exactly.
//   - Waves: C = ceil(N_blk / (K * SMs)) — eq. 9 writes N_blk / K, which
//     counts per SM; the device has SMs of them.
//   - In one wave an SM holds R = min(K, ceil(N_blk / SMs)) blocks, not K:
//     a grid smaller than a full wave leaves SMs partly empty. For grids of
//     at least one wave R = K and eqs. 10 and 11 are the paper's.
//   - Eq. 10 uses the shared *allocation* S_shared as the bytes moved; a
//     template reads staged data many times (every input word once per
//     output channel group), so we use the bytes the lanes actually move
//     through shared memory, with beta_bc from the bank analysis. B_shared
//     is the device total, so one SM gets B_shared / SMs.
//   - Eq. 8's S_type * G_trans is the transaction size in bytes
//     (`transaction_bytes`), since N_GMT counts transactions.
//
//===----------------------------------------------------------------------===//

#include "dynaspa/Analysis/CostModel.h"

#include <algorithm>
#include <cassert>
#include <limits>

using namespace dynaspa::cost;

static int64_t ceilDiv(int64_t a, int64_t b) { return (a + b - 1) / b; }
static int64_t alignUp(int64_t a, int64_t unit) {
  return ceilDiv(a, unit) * unit;
}

const char *dynaspa::cost::toString(OccupancyLimit limit) {
  switch (limit) {
  case OccupancyLimit::Threads:
    return "threads";
  case OccupancyLimit::Shared:
    return "shared memory";
  case OccupancyLimit::Registers:
    return "registers";
  case OccupancyLimit::Blocks:
    return "blocks";
  case OccupancyLimit::Invalid:
    return "invalid";
  }
  return "invalid";
}

Occupancy dynaspa::cost::computeOccupancy(const DeviceModel &d, int64_t blocks,
                                          int64_t threads, int64_t sharedBytes,
                                          int64_t registersPerThread) {
  Occupancy occ;
  if (threads <= 0 || threads > d.maxThreadsPerBlock || sharedBytes < 0 ||
      sharedBytes > d.maxSharedPerBlock || registersPerThread < 0 ||
      registersPerThread > d.maxRegistersPerThread)
    return occ;

  constexpr int64_t unlimited = std::numeric_limits<int64_t>::max();
  int64_t warpsPerBlock = ceilDiv(threads, d.warpSize);
  int64_t byThreads = (d.threadsPerSm / d.warpSize) / warpsPerBlock;

  int64_t byRegisters = unlimited;
  if (registersPerThread > 0) {
    int64_t perWarp =
        alignUp(registersPerThread * d.warpSize, d.registerAllocUnit);
    int64_t warps = d.registersPerSm / perWarp;
    warps -= warps % d.warpAllocGranularity;
    byRegisters = warps / warpsPerBlock;
  }

  int64_t byShared = unlimited;
  int64_t perBlock =
      alignUp(sharedBytes, d.sharedAllocUnit) + d.reservedSharedPerBlock;
  if (perBlock > 0)
    byShared = d.sharedPerSm / perBlock;

  // The first limit reached, in the order the occupancy calculator reports.
  occ.blocksPerSm = d.blocksPerSm;
  occ.limit = OccupancyLimit::Blocks;
  for (auto [k, limit] : {std::pair{byThreads, OccupancyLimit::Threads},
                          {byRegisters, OccupancyLimit::Registers},
                          {byShared, OccupancyLimit::Shared}}) {
    if (k < occ.blocksPerSm) {
      occ.blocksPerSm = k;
      occ.limit = limit;
    }
  }
  if (occ.blocksPerSm == 0) {
    occ.limit = OccupancyLimit::Invalid;
    return occ;
  }
  occ.warpsPerSm = occ.blocksPerSm * warpsPerBlock;
  occ.waves = blocks > 0 ? ceilDiv(blocks, occ.blocksPerSm * d.sms) : 0;
  return occ;
}

void ProfileBuilder::addGlobal(const WarpAccess &access, double count) {
  profile.globalTransactionsPerBlock +=
      count * countTransactions(access, device.transactionBytes);
  profile.globalBytesPerBlock += count * access.getRequestedBytes();
}

void ProfileBuilder::addShared(const WarpAccess &access, double count) {
  BankConflicts bc =
      analyzeBankConflicts(access, device.sharedBanks, device.bankBytes);
  profile.sharedAccessBytesPerBlock += count * access.getRequestedBytes();
  sharedWavefrontBytes +=
      count * bc.wavefronts *
      static_cast<double>(device.sharedBanks * device.bankBytes);
  // beta_bc: what the bank passes move over what the lanes asked for. Bank
  // conflicts raise it; so do instructions with few active lanes, which also
  // occupy a whole pass.
  if (profile.sharedAccessBytesPerBlock > 0)
    profile.bankConflict =
        std::max(1.0, sharedWavefrontBytes / profile.sharedAccessBytesPerBlock);
}

CostBreakdown dynaspa::cost::estimateCost(const DeviceModel &d,
                                          const KernelProfile &p) {
  CostBreakdown c;
  c.occupancy = computeOccupancy(d, p.blocks, p.threadsPerBlock,
                                 p.sharedBytesPerBlock, p.registersPerThread);
  if (c.occupancy.blocksPerSm == 0) {
    c.totalNs = std::numeric_limits<double>::infinity();
    c.bound = CostBreakdown::Bound::Infeasible;
    return c;
  }
  double waves = static_cast<double>(c.occupancy.waves);
  double resident = static_cast<double>(
      std::min(c.occupancy.blocksPerSm, ceilDiv(p.blocks, d.sms)));
  double warpsPerBlock =
      static_cast<double>(ceilDiv(p.threadsPerBlock, d.warpSize));

  // Eq. 8: every transaction moves `transaction_bytes` over the device bus.
  c.globalNs = d.transactionBytes * p.globalTransactionsPerBlock *
               static_cast<double>(p.blocks) / d.globalBandwidth;
  // Eq. 10, per SM: R blocks' shared traffic per wave.
  c.sharedNs = waves * resident * p.sharedAccessBytesPerBlock * p.bankConflict /
               (d.sharedBandwidth / d.sms);
  // Eq. 11: alpha * N_ops * N_warp + gamma per wave.
  c.computeNs =
      waves * (d.alpha * p.warpMacs * resident * warpsPerBlock + d.gamma);

  c.totalNs = c.globalNs;
  c.bound = CostBreakdown::Bound::Global;
  if (c.sharedNs > c.totalNs) {
    c.totalNs = c.sharedNs;
    c.bound = CostBreakdown::Bound::Shared;
  }
  if (c.computeNs > c.totalNs) {
    c.totalNs = c.computeNs;
    c.bound = CostBreakdown::Bound::Compute;
  }
  return c;
}

std::optional<ComputeFit>
dynaspa::cost::fitComputeLatency(const std::vector<ComputeSample> &samples) {
  double n = static_cast<double>(samples.size());
  if (samples.size() < 2)
    return std::nullopt;
  double sx = 0, sy = 0;
  for (const ComputeSample &s : samples) {
    sx += s.macsPerThread * s.warpsPerSm;
    sy += s.ns;
  }
  double mx = sx / n, my = sy / n, sxx = 0, sxy = 0, syy = 0;
  for (const ComputeSample &s : samples) {
    double dx = s.macsPerThread * s.warpsPerSm - mx, dy = s.ns - my;
    sxx += dx * dx;
    sxy += dx * dy;
    syy += dy * dy;
  }
  if (!(sxx > 0))
    return std::nullopt;
  ComputeFit fit;
  fit.alpha = sxy / sxx;
  fit.gamma = my - fit.alpha * mx;
  if (fit.gamma < 0) {
    // Through the origin: alpha = sum(xy) / sum(xx).
    double xx = 0, xy = 0;
    for (const ComputeSample &s : samples) {
      double x = s.macsPerThread * s.warpsPerSm;
      xx += x * x;
      xy += x * s.ns;
    }
    fit.alpha = xy / xx;
    fit.gamma = 0;
  }
  double residual = 0;
  for (const ComputeSample &s : samples) {
    double e = s.ns - (fit.alpha * s.macsPerThread * s.warpsPerSm + fit.gamma);
    residual += e * e;
  }
  fit.r2 = syy > 0 ? 1 - residual / syy : 1;
  return fit;
}
