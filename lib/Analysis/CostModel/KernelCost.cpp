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
//   - In a wave an SM holds R = K blocks, except in a partial last wave:
//     R = ceil(remaining blocks / SMs) there, so a grid smaller than a full
//     wave leaves SMs partly empty and a small tail costs little. For grids
//     of whole waves eqs. 10 and 11 are the paper's.
//   - Eq. 10 uses the shared *allocation* S_shared as the bytes moved; a
//     template reads staged data many times (every input word once per
//     output channel group), so we use the bytes the lanes actually move
//     through shared memory, with beta_bc from the bank analysis. B_shared
//     is the device total, so one SM gets B_shared / SMs.
//   - Eq. 8's S_type * G_trans is the transaction size in bytes
//     (`transaction_bytes`), since N_GMT counts transactions.
//   - Eq. 11's N_ops counts every instruction a warp issues when the
//     profile counts them (warpInstructions): address arithmetic and shared
//     loads take issue slots like MACs. Otherwise it is the MACs.
//   - A fourth bound, T_latency: eqs. 8-11 assume enough warps to overlap
//     every wait, which a masked op at batch 1 (a few blocks per SM) does
//     not have. Per wave, the busiest block waits for each global load it
//     depends on (memory_latency_ns) and each barrier, and does its own work
//     no faster than its SM allows with R blocks sharing it: the slowest of
//     its instructions at one per clock per warp (alpha * max(schedulers,
//     resident warps) each), the R blocks' shared traffic (eq. 10's per-SM
//     time) and their share of the bus. A prefetched load costs only what
//     the work it overlaps does not hide. Waits and work add up: a block
//     cannot compute while it waits for its own data, and at batch 1 there
//     are too few other blocks to fill the gap. The paper's gamma (a
//     constant per wave) is the crude form of this.
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

const char *dynaspa::cost::toString(CostBreakdown::Bound bound) {
  switch (bound) {
  case CostBreakdown::Bound::Global:
    return "global";
  case CostBreakdown::Bound::Shared:
    return "shared";
  case CostBreakdown::Bound::Compute:
    return "compute";
  case CostBreakdown::Bound::Latency:
    return "latency";
  case CostBreakdown::Bound::Infeasible:
    return "infeasible";
  }
  return "infeasible";
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
  const double warpsPerBlock =
      static_cast<double>(ceilDiv(p.threadsPerBlock, d.warpSize));
  const double smShared = d.sharedBandwidth / d.sms;
  const double ops = p.warpInstructions > 0 ? p.warpInstructions : p.warpMacs;
  const double blockGlobalBytes =
      d.transactionBytes * p.globalTransactionsPerBlock;

  // Eq. 8: every transaction moves `transaction_bytes` over the device bus.
  c.globalNs =
      blockGlobalBytes * static_cast<double>(p.blocks) / d.globalBandwidth;

  // Full waves hold K blocks per SM; a partial last wave ceil(rest / SMs),
  // and runs as fast as that lighter load allows (eq. 9's C counts it as a
  // full wave).
  const int64_t perWave = c.occupancy.blocksPerSm * d.sms;
  const int64_t rest = p.blocks % perWave;
  const std::pair<double, double> waves[] = {
      {static_cast<double>(p.blocks / perWave),
       static_cast<double>(c.occupancy.blocksPerSm)},
      {rest > 0 ? 1.0 : 0.0, static_cast<double>(ceilDiv(rest, d.sms))}};
  for (auto [count, resident] : waves) {
    if (count == 0)
      continue;
    // Eq. 10, per SM: R blocks' shared traffic.
    double shared =
        resident * p.sharedAccessBytesPerBlock * p.bankConflict / smShared;
    // Eq. 11: alpha * N_ops * N_warp + gamma.
    double compute = d.alpha * ops * resident * warpsPerBlock + d.gamma;
    c.sharedNs += count * shared;
    c.computeNs += count * compute;
    if (p.warpInstructions <= 0)
      continue;
    // The busiest block's critical path: its waits, and its own work, which
    // goes at the rate its SM's issue slots, shared memory and the device's
    // bus allow with R blocks per SM sharing them.
    double issueNs = d.alpha * std::max(static_cast<double>(d.schedulersPerSm),
                                        resident * warpsPerBlock);
    double bus = blockGlobalBytes * resident * d.sms / d.globalBandwidth;
    double work = std::max({p.warpInstructions * issueNs, shared, bus});
    double overlappedWork =
        work * p.overlappedInstructions / p.warpInstructions;
    double path = p.serialRoundTrips * d.memoryLatencyNs +
                  p.barriers * d.barrierNs + (work - overlappedWork);
    if (p.overlappedRoundTrips > 0)
      path +=
          p.overlappedRoundTrips *
          std::max(d.memoryLatencyNs, overlappedWork / p.overlappedRoundTrips);
    else
      path += overlappedWork;
    c.latencyNs += count * path;
  }

  c.totalNs = c.globalNs;
  c.bound = CostBreakdown::Bound::Global;
  for (auto [ns, bound] : {std::pair{c.sharedNs, CostBreakdown::Bound::Shared},
                           {c.computeNs, CostBreakdown::Bound::Compute},
                           {c.latencyNs, CostBreakdown::Bound::Latency}}) {
    if (ns > c.totalNs) {
      c.totalNs = ns;
      c.bound = bound;
    }
  }
  return c;
}

/// Threads of the runtime's tile-list block (TileListKernel.cpp).
static constexpr int64_t kTileListThreads = 256;

double dynaspa::cost::estimateOperatorOverhead(
    const DeviceModel &d, int64_t outputBytes,
    const std::vector<TileListWork> &tileLists, int64_t variantKernels,
    bool zeroFill) {
  // The zero fill streams the output at the device bandwidth.
  double ns = zeroFill ? outputBytes / d.globalBandwidth : 0.0;
  // One kernel builds every granularity's list, side by side in its grid;
  // the earlier single-block lists were a kernel each.
  bool fused =
      std::none_of(tileLists.begin(), tileLists.end(),
                   [](const TileListWork &t) { return t.singleBlock; });
  size_t listKernels =
      fused ? std::min<size_t>(tileLists.size(), 1) : tileLists.size();
  // Graph nodes: the fill, the tile-list kernel(s), the variants.
  ns += d.kernelGapNs * ((zeroFill ? 1 : 0) + listKernels + variantKernels);
  // A round of a 256-thread tile-list block: the OR over its tiles' mask
  // bytes (one wait: the loads are independent), a Hillis-Steele scan of 8
  // steps with 2 barriers each plus one before and one after, and about
  // 60 + 5 per mask byte instructions of 8 warps.
  const double warps = ceilDiv(kTileListThreads, d.warpSize);
  auto round = [&](const TileListWork &t, double resident, double waits) {
    double issueNs =
        d.alpha * std::max<double>(d.schedulersPerSm, resident * warps);
    return waits * d.memoryLatencyNs + 18 * d.barrierNs +
           (60 + 5 * t.tilePixels) * issueNs;
  };
  int64_t perSm = d.threadsPerSm / kTileListThreads;
  if (fused) {
    // All blocks of all lists at once (8 per SM by threads); a round takes
    // as long as the slowest list's. Lists of more than one block also wait
    // for their claim of a list range and their arrival count; the two
    // same-address atomics per block serialize in L2.
    int64_t blocks = 0, atomicBlocks = 0;
    for (const TileListWork &t : tileLists) {
      int64_t b = ceilDiv(t.tiles, kTileListThreads);
      blocks += b;
      atomicBlocks += b > 1 ? b : 0;
    }
    if (blocks == 0)
      return ns;
    int64_t waves = ceilDiv(blocks, perSm * d.sms);
    double resident = std::min<double>(perSm, ceilDiv(blocks, d.sms));
    double slowest = 0;
    for (const TileListWork &t : tileLists) {
      bool claims = ceilDiv(t.tiles, kTileListThreads) > 1;
      slowest =
          std::max(slowest, claims ? round(t, resident, 3) : round(t, 1, 1));
    }
    return ns + waves * slowest + 2.0 * atomicBlocks * d.atomicNs;
  }
  for (const TileListWork &t : tileLists) {
    int64_t blocks = ceilDiv(t.tiles, kTileListThreads);
    if (t.singleBlock || blocks <= 1) {
      // One block walks the tiles (a single block needs no atomics).
      ns += static_cast<double>(blocks) * round(t, 1, 1);
      continue;
    }
    int64_t waves = ceilDiv(blocks, perSm * d.sms);
    double resident = std::min<double>(perSm, ceilDiv(blocks, d.sms));
    ns += waves * round(t, resident, 3) + 2.0 * blocks * d.atomicNs;
  }
  return ns;
}

std::optional<LineFit> dynaspa::cost::fitLine(const std::vector<double> &x,
                                              const std::vector<double> &y) {
  size_t count = std::min(x.size(), y.size());
  if (count < 2)
    return std::nullopt;
  double n = static_cast<double>(count), mx = 0, my = 0;
  for (size_t i = 0; i < count; ++i) {
    mx += x[i] / n;
    my += y[i] / n;
  }
  double sxx = 0, sxy = 0, syy = 0;
  for (size_t i = 0; i < count; ++i) {
    sxx += (x[i] - mx) * (x[i] - mx);
    sxy += (x[i] - mx) * (y[i] - my);
    syy += (y[i] - my) * (y[i] - my);
  }
  if (!(sxx > 0))
    return std::nullopt;
  LineFit fit;
  fit.slope = sxy / sxx;
  fit.intercept = my - fit.slope * mx;
  double residual = 0;
  for (size_t i = 0; i < count; ++i) {
    double e = y[i] - (fit.slope * x[i] + fit.intercept);
    residual += e * e;
  }
  fit.r2 = syy > 0 ? 1 - residual / syy : 1;
  return fit;
}

std::optional<ComputeFit>
dynaspa::cost::fitComputeLatency(const std::vector<ComputeSample> &samples) {
  std::vector<double> x, y;
  for (const ComputeSample &s : samples) {
    x.push_back(s.macsPerThread * s.warpsPerSm);
    y.push_back(s.ns);
  }
  std::optional<LineFit> line = fitLine(x, y);
  if (!line)
    return std::nullopt;
  ComputeFit fit{line->slope, line->intercept, line->r2};
  if (fit.gamma < 0) {
    // Through the origin: alpha = sum(xy) / sum(xx).
    double xx = 0, xy = 0, my = 0, syy = 0, residual = 0;
    for (size_t i = 0; i < x.size(); ++i) {
      xx += x[i] * x[i];
      xy += x[i] * y[i];
      my += y[i] / y.size();
    }
    fit.alpha = xy / xx;
    fit.gamma = 0;
    for (size_t i = 0; i < x.size(); ++i) {
      residual += (y[i] - fit.alpha * x[i]) * (y[i] - fit.alpha * x[i]);
      syy += (y[i] - my) * (y[i] - my);
    }
    fit.r2 = syy > 0 ? 1 - residual / syy : 1;
  }
  return fit;
}
