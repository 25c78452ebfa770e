//===- CostModel.h - DynaSpa's analytical GPU cost model --------*- C++ -*-===//
//
// Part of the dynaspa project.
//
//===----------------------------------------------------------------------===//
//
// The architecture-aware upper-bound performance model of the paper (§3.3,
// eqs. 8–12) and the PolyKernel variant selection it feeds (§3.2, the greedy
// supermodular step of Algorithm 1):
//
//   - DeviceModel: one GPU's per-SM capacities and speeds, with built-in
//     descriptions and a JSON file format a calibration run can override;
//   - occupancy: resident blocks per SM (K) and waves (C), eq. 9;
//   - static analysis of one warp memory instruction: global transactions
//     (coalescing) and shared-memory bank conflicts;
//   - KernelProfile + estimateCost: T_total = max(T_global, T_shared,
//     T_compute, T_latency), eqs. 8, 10, 11, 12, plus the critical path of
//     the busiest block where the grid is too small to hide latency;
//   - estimateOperatorOverhead: what the runtime adds around the variant
//     kernels (zero fill, tile-list kernels, per-kernel graph gaps);
//   - selectGreedy / selectExhaustive / spearman: choose k variants from a
//     time[variant][mask] matrix and compare rankings.
//
// The library is plain C++17 (no LLVM/MLIR) so it is cheap to build and can
// be shared with tools that do not link MLIR; DeviceAttrAdapter.h converts
// to and from `#spsparse.device<...>`.
//
// Units: times in nanoseconds, bandwidths in GB/s (= bytes per ns), sizes in
// bytes unless a name says otherwise.
//
//===----------------------------------------------------------------------===//

#ifndef DYNASPA_ANALYSIS_COSTMODEL_H
#define DYNASPA_ANALYSIS_COSTMODEL_H

#include <cstdint>
#include <functional>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace dynaspa::cost {

//===----------------------------------------------------------------------===//
// Device description
//===----------------------------------------------------------------------===//

/// A GPU as the cost model sees it. The first block of fields is the paper's
/// (and `#spsparse.device`'s); the allocation granularities refine eq. 9 so
/// that occupancy matches the CUDA occupancy calculator. Setting every
/// granularity to 1 (and the reserved bytes to 0) gives eq. 9 exactly.
struct DeviceModel {
  std::string name;
  int64_t sms = 0;            ///< SMs (compute units on OpenCL devices).
  int64_t warpSize = 32;      ///< Lanes per warp (wave / sub-group).
  int64_t threadsPerSm = 0;   ///< SM_thrd.
  int64_t sharedPerSm = 0;    ///< SM_shared: bytes blocks can share on one SM.
  int64_t registersPerSm = 0; ///< SM_reg: 32-bit registers.
  int64_t blocksPerSm = 0;    ///< SM_blk.
  double globalBandwidth = 0; ///< B_global, GB/s, whole device.
  double sharedBandwidth = 0; ///< B_shared, GB/s, summed over all SMs.
  int64_t transactionBytes = 32; ///< Global transaction (segment) size.
  double alpha = 0; ///< ns per MAC instruction of one warp on one SM (Fig. 7).
  double gamma = 0; ///< ns, fixed cost of one wave of blocks (Fig. 7).

  // Limits and allocation granularities (occupancy calculator semantics).
  int64_t maxThreadsPerBlock = 1024;
  int64_t maxSharedPerBlock = 48 * 1024; ///< With opt-in, where supported.
  int64_t maxRegistersPerThread = 255;
  int64_t registerAllocUnit = 256;  ///< Registers are given per warp in these.
  int64_t warpAllocGranularity = 4; ///< Register-limited warps round down to.
  int64_t sharedAllocUnit = 128;    ///< Shared bytes per block round up to.
  int64_t reservedSharedPerBlock = 0; ///< Driver-reserved bytes per block.

  // Shared-memory banks: `sharedBanks` banks of `bankBytes` each; one pass
  // over them (a wavefront) moves sharedBanks * bankBytes bytes.
  int64_t sharedBanks = 32;
  int64_t bankBytes = 4;

  // Latency (0 leaves a term out). eqs. 8-11 are throughputs; a grid of a
  // few blocks per SM is bound by the chain of waits of one block instead.
  int64_t schedulersPerSm = 4; ///< Warp schedulers, 1 instruction/clock each.
  double memoryLatencyNs = 0;  ///< A global load a warp waits on (L2 hit).
  double barrierNs = 0;        ///< One block-wide barrier.
  double kernelGapNs = 0;      ///< What each kernel adds in a CUDA graph.
  /// One atomic on an address other blocks also update (serialized in L2).
  double atomicNs = 0;
};

/// Names of the built-in descriptions: "h100-sxm", "jetson-agx-orin",
/// "jetson-agx-xavier", "adreno-650".
std::vector<std::string> getBuiltinDeviceNames();
/// The built-in description called `name`, if any.
std::optional<DeviceModel> getBuiltinDevice(std::string_view name);

/// Why `device` cannot be used (a non-positive capacity, ...); empty if it
/// can.
std::string verifyDevice(const DeviceModel &device);

/// Parses a device file. The JSON object holds DeviceModel's fields in
/// snake_case (`threads_per_sm`, `global_bandwidth`, ... as in
/// `#spsparse.device`). With `"base": "<builtin>"` it starts from that
/// built-in description and overrides only the fields present, which is what
/// a calibration run writes (bandwidths, alpha, gamma, latencies), with an
/// optional "note" string saying where they come from. Unknown keys are
/// errors so that typos do not silently keep a default. Returns the device,
/// or nullopt with `error` set.
std::optional<DeviceModel> parseDeviceJSON(std::string_view text,
                                           std::string &error);
/// Every field of `device` as a JSON object (no "base"), 2-space indented.
std::string printDeviceJSON(const DeviceModel &device);
/// File versions of the above; errors name the file.
std::optional<DeviceModel> readDeviceFile(const std::string &path,
                                          std::string &error);
bool writeDeviceFile(const std::string &path, const DeviceModel &device,
                     std::string &error);

/// y = slope * x + intercept by least squares, and its coefficient of
/// determination; nullopt unless x takes at least two distinct values. What
/// the calibration fits: time against work for each probe.
struct LineFit {
  double slope = 0;
  double intercept = 0;
  double r2 = 0;
};
std::optional<LineFit> fitLine(const std::vector<double> &x,
                               const std::vector<double> &y);

/// One run of the Fig. 7 microbenchmark: `warpsPerSm` warps on every SM,
/// each thread doing `macsPerThread` dependent MACs, took `ns`.
struct ComputeSample {
  double macsPerThread = 0;
  double warpsPerSm = 0;
  double ns = 0;
};
/// alpha and gamma of time = alpha * N_ops * N_warp + gamma fitted by least
/// squares, and the fit's coefficient of determination.
struct ComputeFit {
  double alpha = 0;
  double gamma = 0;
  double r2 = 0;
};
/// Nullopt when the samples do not determine a line (fewer than two
/// distinct N_ops * N_warp). A negative intercept is clamped to 0 with alpha
/// refitted through the origin, since verifyDevice requires gamma >= 0.
std::optional<ComputeFit>
fitComputeLatency(const std::vector<ComputeSample> &samples);

//===----------------------------------------------------------------------===//
// Occupancy (eq. 9)
//===----------------------------------------------------------------------===//

/// The resource that bounds the resident blocks per SM.
enum class OccupancyLimit { Threads, Shared, Registers, Blocks, Invalid };
const char *toString(OccupancyLimit limit);

struct Occupancy {
  int64_t blocksPerSm = 0; ///< K; 0 when a block cannot run at all.
  int64_t waves = 0;       ///< C = ceil(blocks / (K * sms)).
  OccupancyLimit limit = OccupancyLimit::Invalid;
  /// Warps of one SM in a full wave: K * warps per block.
  int64_t warpsPerSm = 0;
};

/// K and C for `blocks` blocks of `threads` threads, each using
/// `sharedBytes` of shared memory and `registersPerThread` registers. K is 0
/// (limit Invalid) when one block exceeds a per-block limit.
Occupancy computeOccupancy(const DeviceModel &device, int64_t blocks,
                           int64_t threads, int64_t sharedBytes,
                           int64_t registersPerThread);

//===----------------------------------------------------------------------===//
// Static analysis of one warp memory instruction
//===----------------------------------------------------------------------===//

/// The addresses one warp instruction touches: lane i accesses `width` bytes
/// at byte address `lanes[i]`, or nothing if it is nullopt (inactive or
/// predicated off). Kernel templates describe their access patterns with
/// these; nothing is executed.
struct WarpAccess {
  std::vector<std::optional<int64_t>> lanes;
  int64_t width = 4;

  /// Lane i at `base + i * stride` (bytes) for `activeLanes` lanes.
  static WarpAccess strided(int64_t base, int64_t stride, int64_t width,
                            int64_t activeLanes = 32);
  /// Lane i at `address(i)` for i in [0, warpSize).
  static WarpAccess
  fromFunction(int64_t warpSize, int64_t width,
               const std::function<std::optional<int64_t>(int64_t)> &address);
  /// Warp `warp` of a block of `threads`: lane i is thread
  /// warp * warpSize + i at `address(tid)`, inactive past the block's end.
  static WarpAccess
  ofBlockWarp(int64_t warp, int64_t warpSize, int64_t threads, int64_t width,
              const std::function<std::optional<int64_t>(int64_t)> &address);

  int64_t getActiveLanes() const;
  /// Bytes the active lanes request (active lanes * width).
  int64_t getRequestedBytes() const { return getActiveLanes() * width; }
};

/// The widest of `maxWidth`, maxWidth / 2, ..., 1 dividing every one of
/// `extents`: the templates' rule for a vector access that never straddles a
/// row or a block (KernelBuilder.h has the compiler's copy).
inline int64_t getWidestDividing(int64_t maxWidth,
                                 std::initializer_list<int64_t> extents) {
  int64_t w = maxWidth;
  auto divides = [&] {
    for (int64_t e : extents)
      if (e % w)
        return false;
    return true;
  };
  while (w > 1 && !divides())
    w /= 2;
  return w;
}

/// Global-memory transactions of `access`: the number of distinct aligned
/// `transactionBytes` segments its active lanes touch (an access straddling
/// a boundary touches two). This is N_GMT's unit in eq. 8.
int64_t countTransactions(const WarpAccess &access, int64_t transactionBytes);

/// Shared-memory cost of one warp instruction under the NVIDIA bank model:
/// `banks` banks of `bankBytes`; lanes are served in phases of
/// banks*bankBytes/width lanes (the whole warp for 32-bit words, half warps
/// for 64-bit, quarter warps for 128-bit); within a phase a bank serves one
/// distinct word per pass, and lanes reading the same word share it
/// (broadcast). A phase costs as many passes (wavefronts) as its busiest bank
/// has distinct words.
struct BankConflicts {
  int64_t wavefronts = 0; ///< Passes over the banks, all phases.
  int64_t phases = 0;     ///< Phases with at least one active lane.
  /// The paper's beta_bc for this access: 1 when conflict-free.
  double degree() const {
    return phases ? static_cast<double>(wavefronts) / phases : 1.0;
  }
};
BankConflicts analyzeBankConflicts(const WarpAccess &access, int64_t banks = 32,
                                   int64_t bankBytes = 4);

//===----------------------------------------------------------------------===//
// Kernel cost (eqs. 8, 10, 11, 12)
//===----------------------------------------------------------------------===//

/// Why the model has no answer for a tf32 (tensor-core) schedule: it
/// describes the fp32 FMA templates only.
inline constexpr const char *kNoTensorCoreProfile =
    "the cost model has no tensor-core (tf32) profile";

/// What the model needs to know about one kernel variant on one workload.
/// Per-block quantities are for the busiest block.
struct KernelProfile {
  int64_t blocks = 0;              ///< N_blk, blocks that do work.
  int64_t threadsPerBlock = 0;     ///< N_thrd.
  int64_t sharedBytesPerBlock = 0; ///< Shared allocation (occupancy).
  int64_t registersPerThread = 0;
  double globalBytesPerBlock = 0; ///< Bytes the lanes ask for (diagnostic).
  double globalTransactionsPerBlock = 0; ///< N_GMT.
  /// Bytes the block's lanes move through shared memory (loads + stores),
  /// and the wavefront-weighted bank-conflict factor beta_bc >= 1.
  double sharedAccessBytesPerBlock = 0;
  double bankConflict = 1;
  double warpMacs = 0; ///< MAC instructions each warp issues.

  // The busiest block's critical path (the latency bound of estimateCost).
  // A profile that leaves warpInstructions at 0 gets eq. 11 on the MACs
  // alone and no latency bound.
  /// All instructions each warp issues, MACs included: eq. 11's N_ops.
  double warpInstructions = 0;
  /// Global loads the block waits for one after the other.
  double serialRoundTrips = 0;
  /// Loads that are in flight while the block issues
  /// `overlappedInstructions / overlappedRoundTrips` instructions each (a
  /// prefetch): each costs the longer of the two.
  double overlappedRoundTrips = 0;
  double overlappedInstructions = 0;
  double barriers = 0;
};

/// Accumulates a template's warp instructions into a KernelProfile's memory
/// fields (transactions, bytes, and beta_bc as the ratio of the bytes the
/// bank passes move to the bytes the lanes asked for).
class ProfileBuilder {
public:
  ProfileBuilder(const DeviceModel &device, KernelProfile &profile)
      : device(device), profile(profile) {}

  /// `count` executions of the global load or store `access` per block.
  void addGlobal(const WarpAccess &access, double count = 1);
  /// `count` executions of the shared load or store `access` per block.
  void addShared(const WarpAccess &access, double count = 1);

private:
  const DeviceModel &device;
  KernelProfile &profile;
  double sharedWavefrontBytes = 0;
};

/// The model's estimate for one variant: every component and the bound.
struct CostBreakdown {
  Occupancy occupancy;
  double globalNs = 0;  ///< eq. 8
  double sharedNs = 0;  ///< eq. 10
  double computeNs = 0; ///< eq. 11
  double latencyNs = 0; ///< Waves x the busiest block's critical path.
  double totalNs = 0;   ///< eq. 12: the max; +inf if the block cannot run.
  enum class Bound { Global, Shared, Compute, Latency, Infeasible };
  Bound bound = Bound::Global;
};

/// Evaluates eqs. 8–12 and the latency bound for `profile` on `device`.
CostBreakdown estimateCost(const DeviceModel &device,
                           const KernelProfile &profile);
const char *toString(CostBreakdown::Bound bound);

/// One granularity's tile list in the runtime's prologue over `tiles`
/// DISTiles of `tilePixels` mask elements each: one 256-thread block per 256
/// tiles that claim list ranges with atomics, all granularities' blocks in
/// one kernel (TileListKernel.cpp), or with `singleBlock` the earlier
/// kernel per granularity, one block walking all tiles 256 at a time (what
/// docs/benchmarks/sweep-h100-*.json were measured with).
struct TileListWork {
  int64_t tiles = 0;
  int64_t tilePixels = 1;
  bool singleBlock = false;
};

/// What the runtime adds to a PolyKernel's variant kernels in a CUDA graph:
/// zero-filling `outputBytes`, the tile-list kernel (one for all
/// granularities; one per granularity with `singleBlock` lists), and a graph
/// gap for each of those and each of `variantKernels` kernels (every variant
/// is launched; all but one find no work). Without `zeroFill` (a standalone
/// batch-matmul: its kernel writes the zeros, and `tileLists` is empty) there
/// is no fill node.
double estimateOperatorOverhead(const DeviceModel &device, int64_t outputBytes,
                                const std::vector<TileListWork> &tileLists,
                                int64_t variantKernels, bool zeroFill = true);

//===----------------------------------------------------------------------===//
// PolyKernel selection (Algorithm 1, lines 16–20)
//===----------------------------------------------------------------------===//

/// time[v][m]: the time of variant v on mask m, measured or predicted. Every
/// row has the same length.
using TimeMatrix = std::vector<std::vector<double>>;

struct Selection {
  std::vector<size_t> variants; ///< In the order they were chosen.
  double expectedTime = 0;      ///< g(S): mean over masks of the best time.
};

/// g(S) of eq. 2/5: the mean over masks of min_{v in S} time[v][m]; +inf for
/// an empty S.
double expectedMinTime(const TimeMatrix &time,
                       const std::vector<size_t> &variants);

/// Greedy supermodular minimization: k times, add the variant with the best
/// marginal gain (eq. 6). Stops early once no variant lowers g(S). Ties go to
/// the lower index. O(k * V * M).
///
/// Guarantee: with T the largest entry of `time`, h(S) = T - g(S) is monotone
/// submodular with h({}) = 0 (a facility-location function), so
///   T - g(greedy) >= (1 - 1/e) * (T - g(optimal))
/// (Nemhauser-Wolsey-Fisher). Greedy is exact for k = 1.
Selection selectGreedy(const TimeMatrix &time, size_t k);

/// The optimal set of at most k variants by enumerating all subsets of size
/// min(k, V); nullopt if that is more than `maxSubsets` subsets.
std::optional<Selection> selectExhaustive(const TimeMatrix &time, size_t k,
                                          uint64_t maxSubsets = 10'000'000);

/// Spearman's rank correlation of two equally long samples (ties get their
/// average rank; Pearson on the ranks). NaN when either is constant or they
/// have fewer than two elements.
double spearman(const std::vector<double> &a, const std::vector<double> &b);

} // namespace dynaspa::cost

#endif // DYNASPA_ANALYSIS_COSTMODEL_H
