//===- BmmProfile.cpp - the masked batch-matmul template's access patterns ===//
//
// Part of the dynaspa project.
//
//===----------------------------------------------------------------------===//
//
// Describes BmmKernel.cpp's kernel as warp instructions and feeds them to a
// ProfileBuilder, as ConvProfile.cpp does for the conv template. Everything
// this file takes from the template, so that a change there is a change to
// one of these items:
//
//  B1 Grid: (min(blocks, tiles of a full mask), ceil(N / channel_block)),
//     tiles of a full mask = batch x ceil(M / rows) when blocks is 0.
//     blockIdx.x walks the active tiles grid-stride; blocks past the active
//     tiles exit at once and are not modelled. The busiest block handles
//     ceil(active / min(grid.x, active)) tiles.
//  B2 Threads: tid = rg * colGroups + cg with colGroups = channel_block /
//     thread_channels; a thread owns rows rg + i * rowGroups (i <
//     thread_pixels, rowGroups = rows / thread_pixels) and columns cg + j *
//     colGroups (j < thread_channels): consecutive lanes take consecutive
//     columns, one float each (no runs, unlike the conv).
//  B3 Per tile: one thread-uniform load of the tile id (i32), decoded
//     arithmetically into (batch entry, first row); nothing in shared
//     memory.
//  B4 Per chunk of `reduction_block` of K (ceil(K / rb) chunks): a barrier;
//     stage lhs [rows][rb] and rhs [rb][channel_block] with `for e = tid; e
//     < vectors; e += threads`, a load of vw floats from global memory and
//     a store at shared e * vw, where vw is the operand's own width: the
//     widest of vector_width, half of it, ... dividing K and reduction_block
//     (lhs) or N and channel_block (rhs); lhs vector e is row e / (rb / vw),
//     K offset (e % (rb / vw)) * vw; rhs vector e is K offset e / (cb / vw),
//     column (e % (cb / vw)) * vw. Rows past M, K past its end and columns
//     past N are not loaded (phantom reads) but stored; then a barrier.
//  B5 The register tile: for each of rb steps of K, every warp issues
//     thread_pixels 4-byte lhs loads at (row * rb + r) (the lanes of one row
//     read one word: a broadcast; rows of one warp are rb words apart) and
//     thread_channels 4-byte rhs loads at (r * cb + column) (consecutive),
//     then thread_pixels x thread_channels FMAs. `unroll` only changes
//     instruction scheduling.
//  B6 Epilogue: with a column mask, per column one mask byte (columns in
//     range); per row one row-mask byte (rows in range); per (row, column)
//     a 4-byte store where both are set.
//  B7 Shared memory: 4 * (rows * rb + rb * cb) bytes (+ the list of B12),
//     static, at most 48 KiB.
//  B8 Registers (when ptxas has not said): accumulators, one lhs and one
//     rhs operand per row and column, their shared addresses, and a fixed
//     part for the tile loop's state.
//  B9 Placement: the busiest block works on full tiles (the first rows of
//     batch entry 0) and the first column block, so every lane is in range:
//     the upper bound. Tiles that end past M and the last column block do
//     less.
//  B10 The busiest block's critical path, for the latency bound: per tile a
//     wait for the tile id (~20 instructions to decode); per chunk 2
//     barriers, and the staging loops' waits (B11), with ~22 and ~20
//     instructions per lhs and rhs iteration; the register tile: per step
//     of K, thread_pixels + thread_channels loads and thread_pixels x
//     thread_channels FMAs. Epilogue: the column mask bytes (one wait, in
//     flight together), per row a wait for its mask byte and ~12
//     instructions, per column ~6 and the store.
//  B11 Waits of a staging loop of n = ceil(vectors / threads) iterations.
//     The PTX loop (`for e = tid; ...`) is not unrolled, but ptxas unrolls
//     it in the SASS: with n >= 4 by 4 (four loads in flight, then their
//     four stores: one wait per 4 iterations); with n <= 2 it keeps one
//     load and store per iteration (a wait each); with n = 1 in both loops
//     the chunk is straight-line code and the lhs and rhs loads are in
//     flight together (one wait per chunk). Seen with nvdisasm on the 96
//     QKT and the 96 AV candidates of the H100 sweep at batch 16 (ptxas
//     13, sm_90): 154 of 158 staging loops follow this in each; the four
//     exceptions are long rhs loops (16-64 iterations) at 64 threads that
//     ptxas leaves rolled (under-predicted here). Until 2026-11-24
//     this profile charged a wait per iteration (as ConvProfile's A10 does
//     for the conv's staging, whose address arithmetic reads the tile
//     table): that predicted the H100's attention times at 1.1-4x and
//     ranked the candidates worse (Spearman 0.48-0.69 over 96 candidates at
//     batches 1, 4 and 16, against 0.69-0.82 with this rule; see
//     docs/tuning/h100-tune-attention.md). No time was fitted.
//  B12 tiles_per_block = T > 1: the grid is (batch x ceil(E / T), ceil(N /
//     channel_block)) for E = ceil(M / rows) tiles per entry, whatever the
//     blocks knob (which must be 0); block (n, q) builds entry n's list
//     itself: each thread ORs the row mask of ceil(E / threads) tiles (one
//     byte per row), a Hillis-Steele scan over the threads (2 barriers per
//     step, log2(threads) steps), then T ids in shared memory; then it
//     computes the entry's active tiles qT .. qT + T - 1 like one tile of
//     rows x T rows (B2-B6, with the rows gathered: each staged lhs row is
//     contiguous, so the loads coalesce as for a tile). The active tiles'
//     spread over the entries is unknown here: taken as even over as many
//     entries as there are tiles (at most batch), each with ceil(its tiles
//     / T) working blocks; the busiest block has one full group.
//  B13 double_buffer: each thread loads its share of the next chunk into
//     registers (ceil(rows * rb / threads) + ceil(rb * cb / threads)
//     floats, at most 160 with the accumulators) before the register tile
//     and stores it at the top of the next iteration, as the conv template
//     does (ConvProfile.cpp A10): one wait for the first chunk, the others
//     overlap the register tile; one barrier more per tile is not modelled
//     apart (the put follows the loop's first barrier).
//
//===----------------------------------------------------------------------===//

#include "dynaspa/Analysis/BmmProfile.h"

#include <algorithm>

using namespace dynaspa::cost;

/// Static shared memory the template may use (it does not opt in to more).
static constexpr int64_t kMaxStaticSharedBytes = 48 * 1024;

static int64_t ceilDiv(int64_t a, int64_t b) { return (a + b - 1) / b; }

static int64_t getEntryTiles(const BmmProblem &p, const BmmSchedule &s) {
  return ceilDiv(p.m, s.rows);
}

/// B12: how many of an entry's tiles one thread scans at most (the template
/// keeps their flags in registers).
static constexpr int64_t kMaxScanPerThread = 16;

/// B13: floats a double-buffered thread holds of the next chunk.
static int64_t getBmmPrefetch(const BmmSchedule &s) {
  return ceilDiv(getBmmBlockRows(s) * s.reductionBlock, s.threads) +
         ceilDiv(s.reductionBlock * s.channelBlock, s.threads);
}

/// B4: the lhs and rhs global load widths.
static std::pair<int64_t, int64_t> getBmmLoadWidths(const BmmProblem &p,
                                                    const BmmSchedule &s) {
  return {getWidestDividing(s.vectorWidth, {p.k, s.reductionBlock}),
          getWidestDividing(s.vectorWidth, {p.n, s.channelBlock})};
}

int64_t dynaspa::cost::getBmmSharedBytes(const BmmSchedule &s) {
  int64_t list = s.tilesPerBlock > 1 ? s.threads + s.tilesPerBlock : 0;
  return 4 * (getBmmBlockRows(s) * s.reductionBlock +
              s.reductionBlock * s.channelBlock + list);
}

int64_t dynaspa::cost::getBmmTileCount(const BmmProblem &p,
                                       const BmmSchedule &s) {
  return p.batch * getEntryTiles(p, s);
}

std::string dynaspa::cost::verifyBmmSchedule(const BmmProblem &p,
                                             const BmmSchedule &s) {
  for (int64_t v : {p.batch, p.m, p.k, p.n})
    if (v <= 0)
      return "batch-matmul sizes must be positive";
  if (p.elementBytes != 4)
    return "the GPU lowering handles f32 batch-matmuls only";
  for (int64_t v : {s.rows, s.tilesPerBlock, s.channelBlock,
                    s.reductionBlock, s.threads, s.threadChannels,
                    s.threadPixels, s.vectorWidth, s.unroll})
    if (v <= 0)
      return "schedule knobs must be positive";
  if (s.blocks < 0 || s.registersPerThread < 0)
    return "blocks and registers_per_thread must be non-negative";
  // planBmm's checks, in its order and with its words.
  const int64_t rows = getBmmBlockRows(s);
  if (s.channelBlock % s.threadChannels || rows % s.threadPixels)
    return "thread_channels must divide channel_block and thread_pixels the "
           "block's " +
           std::to_string(rows) + " rows";
  int64_t groups =
      (s.channelBlock / s.threadChannels) * (rows / s.threadPixels);
  if (s.threads != groups)
    return "threads must be (channel_block / thread_channels) * (rows / "
           "thread_pixels) = " +
           std::to_string(groups);
  if (s.threads > 1024)
    return "more than 1024 threads per block";
  int64_t vw = s.vectorWidth;
  if (vw != 1 && vw != 2 && vw != 4)
    return "vector_width must be 1, 2 or 4";
  if (s.reductionBlock % s.unroll)
    return "unroll must divide reduction_block";
  if (s.tilesPerBlock > 1) {
    if (s.blocks != 0)
      return "blocks must be 0 with tiles_per_block > 1 (the grid is one "
             "block per tiles_per_block tiles of each batch entry)";
    if (ceilDiv(getEntryTiles(p, s), s.threads) > kMaxScanPerThread)
      return "tiles_per_block > 1 needs threads >= 1/" +
             std::to_string(kMaxScanPerThread) + " of the " +
             std::to_string(getEntryTiles(p, s)) +
             " DISTiles of a batch entry";
  }
  int64_t bytes = getBmmSharedBytes(s);
  if (bytes > kMaxStaticSharedBytes)
    return "needs " + std::to_string(bytes) +
           " bytes of shared memory (more than 48 KiB)";
  int64_t prefetch = getBmmPrefetch(s);
  int64_t accumulators = s.threadPixels * s.threadChannels;
  if (s.doubleBuffer && prefetch + accumulators > 160)
    return "double_buffer needs " + std::to_string(prefetch) +
           " prefetch registers per thread next to " +
           std::to_string(accumulators) +
           " accumulators (at most 160 together)";
  return "";
}

int64_t dynaspa::cost::getBmmStagingWaits(int64_t iterations) {
  // B11: ptxas unrolls loops of 4 or more iterations by 4.
  return iterations >= 4 ? ceilDiv(iterations, 4) : iterations;
}

int64_t dynaspa::cost::estimateBmmRegisters(const BmmSchedule &s) {
  // B8: tp * tc accumulators, a loaded operand per row and column plus its
  // shared address, and ~24 for the loop counters, the tile's origin and
  // the kernel arguments. Not fitted to ptxas: pass "registers" where the
  // compiled kernel is known.
  int64_t tp = s.threadPixels, tc = s.threadChannels;
  int64_t regs = tp * tc + 2 * (tp + tc) + 24;
  if (s.doubleBuffer) // B13: the prefetched floats and their addresses.
    regs += 7 * getBmmPrefetch(s) / 4;
  return std::min<int64_t>(regs, 255);
}

namespace {
/// Emits the warp instructions of the busiest block (B9: batch entry 0,
/// rows from 0, column block 0) into a KernelProfile.
class BmmWalker {
public:
  using ThreadAddress = std::function<std::optional<int64_t>(int64_t)>;

  BmmWalker(const DeviceModel &device, const BmmProblem &p,
            const BmmSchedule &s, KernelProfile &profile)
      : device(device), p(p), s(s), builder(device, profile),
        colGroups(s.channelBlock / s.threadChannels),
        rowGroups(s.rows / s.threadPixels) {}

  /// B3: the tile id, one word that every lane of a warp reads.
  void tileId(double count) {
    for (int64_t w = 0; w < numWarps(); ++w)
      builder.addGlobal(
          warpAccess(w, 4, [](int64_t) { return std::optional<int64_t>(0); }),
          count);
  }

  /// B4: stage the lhs rows and the rhs block of the chunk at K offset k0.
  void stageChunk(int64_t k0, double count) {
    const auto [lhsVw, rhsVw] = getBmmLoadWidths(p, s);
    const int64_t rb = s.reductionBlock;
    const int64_t rbv = rb / lhsVw, cbv = s.channelBlock / rhsVw;
    stage(s.rows * rbv, lhsVw, count, [&](int64_t e) -> std::optional<int64_t> {
      int64_t row = e / rbv, kk = k0 + (e % rbv) * lhsVw;
      if (row >= p.m || kk >= p.k)
        return std::nullopt;
      return row * p.k + kk;
    });
    stage(rb * cbv, rhsVw, count, [&](int64_t e) -> std::optional<int64_t> {
      int64_t kk = k0 + e / cbv, col = (e % cbv) * rhsVw;
      if (col >= p.n || kk >= p.k)
        return std::nullopt;
      return kk * p.n + col;
    });
  }

  /// B5: one chunk's shared loads of the register tile. Over the rb steps
  /// every lane's address moves by the same amount (1 word for lhs, cb
  /// words for rhs), which leaves bank conflicts unchanged: one instruction
  /// per (warp, row) and (warp, column) stands for rb of them.
  void registerTile(double count) {
    count *= s.reductionBlock;
    const int64_t eb = p.elementBytes;
    for (int64_t w = 0; w < numWarps(); ++w) {
      for (int64_t i = 0; i < s.threadPixels; ++i)
        builder.addShared(warpAccess(w, eb,
                                     [&](int64_t tid) -> std::optional<int64_t> {
                                       return row(tid, i) * s.reductionBlock *
                                              eb;
                                     }),
                          count);
      for (int64_t j = 0; j < s.threadChannels; ++j)
        builder.addShared(warpAccess(w, eb,
                                     [&](int64_t tid) -> std::optional<int64_t> {
                                       return column(tid, j) * eb;
                                     }),
                          count);
    }
  }

  /// B6: mask loads and the output stores, `writeFraction` of them set.
  void epilogue(double count, double writeFraction) {
    const int64_t eb = p.elementBytes, mb = p.maskElementBytes;
    for (int64_t w = 0; w < numWarps(); ++w) {
      if (p.colMask)
        for (int64_t j = 0; j < s.threadChannels; ++j)
          builder.addGlobal(
              warpAccess(w, mb,
                         [&](int64_t tid) -> std::optional<int64_t> {
                           int64_t col = column(tid, j);
                           if (col >= p.n)
                             return std::nullopt;
                           return col * mb;
                         }),
              count);
      for (int64_t i = 0; i < s.threadPixels; ++i) {
        builder.addGlobal(warpAccess(w, mb,
                                     [&](int64_t tid) -> std::optional<int64_t> {
                                       int64_t r = row(tid, i);
                                       if (r >= p.m)
                                         return std::nullopt;
                                       return r * mb;
                                     }),
                          count);
        for (int64_t j = 0; j < s.threadChannels; ++j)
          builder.addGlobal(
              warpAccess(w, eb,
                         [&](int64_t tid) -> std::optional<int64_t> {
                           int64_t r = row(tid, i), col = column(tid, j);
                           if (r >= p.m || col >= p.n)
                             return std::nullopt;
                           return (r * p.n + col) * eb;
                         }),
              count * writeFraction);
      }
    }
  }

private:
  /// The warp instruction in which warp `warp`'s threads access `address`.
  WarpAccess warpAccess(int64_t warp, int64_t width,
                        const ThreadAddress &address) const {
    return WarpAccess::ofBlockWarp(warp, device.warpSize, s.threads, width,
                                   address);
  }
  int64_t numWarps() const { return ceilDiv(s.threads, device.warpSize); }

  /// B2: row i and column j of thread `tid` (inside the tile and the
  /// column block; B9 puts both at 0).
  int64_t row(int64_t tid, int64_t i) const {
    return tid / colGroups + i * rowGroups;
  }
  int64_t column(int64_t tid, int64_t j) const {
    return tid % colGroups + j * colGroups;
  }

  /// `for e = tid; e < vectors; e += threads`: the load of vector `e` (of
  /// `vw` elements) from element index `global(e)` (nullopt: phantom) and
  /// the store to shared e * vw.
  void stage(int64_t vectors, int64_t vw, double count,
             const ThreadAddress &global) {
    const int64_t eb = p.elementBytes;
    for (int64_t base = 0; base < vectors; base += s.threads)
      for (int64_t w = 0; w < numWarps(); ++w) {
        builder.addGlobal(
            warpAccess(w, vw * eb,
                       [&](int64_t tid) -> std::optional<int64_t> {
                         if (base + tid >= vectors)
                           return std::nullopt;
                         std::optional<int64_t> index = global(base + tid);
                         return index ? std::optional(*index * eb)
                                      : std::nullopt;
                       }),
            count);
        builder.addShared(warpAccess(w, vw * eb,
                                     [&](int64_t tid) -> std::optional<int64_t> {
                                       if (base + tid >= vectors)
                                         return std::nullopt;
                                       return (base + tid) * vw * eb;
                                     }),
                          count);
      }
  }

  const DeviceModel &device;
  const BmmProblem &p;
  const BmmSchedule &s;
  ProfileBuilder builder;
  const int64_t colGroups, rowGroups;
};
} // namespace

std::optional<KernelProfile>
dynaspa::cost::profileMaskedBmm(const DeviceModel &device, const BmmProblem &p,
                                const BmmSchedule &s, int64_t activeTiles,
                                std::string *error, double writeFraction) {
  std::string why = verifyBmmSchedule(p, s);
  if (why.empty() && (activeTiles < 0 || activeTiles > getBmmTileCount(p, s)))
    why = "active_tiles must be between 0 and the " +
          std::to_string(getBmmTileCount(p, s)) + " tiles of a full mask";
  if (why.empty() && !(writeFraction >= 0 && writeFraction <= 1))
    why = "the fraction of written outputs must be in [0, 1]";
  if (!why.empty()) {
    if (error)
      *error = why;
    return std::nullopt;
  }

  // B1 (B12 with per-block lists): the grid and the busiest block's share
  // of the work. A group of T tiles of a per-block list is one tile of T x
  // rows rows to everything below.
  const bool local = s.tilesPerBlock > 1;
  BmmSchedule tile = s;
  tile.rows = getBmmBlockRows(s);
  tile.tilesPerBlock = 1;
  int64_t launched, working;
  if (local) {
    launched = p.batch * ceilDiv(getEntryTiles(p, s), s.tilesPerBlock);
    int64_t entries = std::min(p.batch, activeTiles);
    int64_t perEntry = entries ? ceilDiv(activeTiles, entries) : 0;
    working = std::min(launched,
                       entries * ceilDiv(perEntry, s.tilesPerBlock));
  } else {
    launched = s.blocks > 0 ? std::min(s.blocks, getBmmTileCount(p, s))
                            : getBmmTileCount(p, s);
    working = std::min(launched, activeTiles);
  }
  int64_t tilesPerBlock =
      working == 0 ? 0 : local ? 1 : ceilDiv(activeTiles, working);
  const int64_t chunks = ceilDiv(p.k, s.reductionBlock);

  KernelProfile profile;
  profile.blocks = working * ceilDiv(p.n, s.channelBlock);
  profile.threadsPerBlock = s.threads;
  profile.sharedBytesPerBlock = getBmmSharedBytes(s);
  profile.registersPerThread = s.registersPerThread > 0
                                   ? s.registersPerThread
                                   : estimateBmmRegisters(s);
  profile.warpMacs = static_cast<double>(tilesPerBlock) * chunks *
                     s.reductionBlock * s.threadPixels * s.threadChannels;
  if (tilesPerBlock == 0)
    return profile;

  // B10: the critical path of one tile.
  const auto [lhsVw, rhsVw] = getBmmLoadWidths(p, s);
  const int64_t lhsIters =
      ceilDiv(tile.rows * s.reductionBlock / lhsVw, s.threads);
  const int64_t rhsIters =
      ceilDiv(s.reductionBlock * s.channelBlock / rhsVw, s.threads);
  const double tp = s.threadPixels, tc = s.threadChannels;
  const double tileStep = s.reductionBlock * (tp + tc + tp * tc);
  const double epilogue = (p.colMask ? 4 * tc : 0) + tp * (12 + tc * 7);
  const double stagingWaits = static_cast<double>(
      lhsIters == 1 && rhsIters == 1
          ? 1
          : getBmmStagingWaits(lhsIters) + getBmmStagingWaits(rhsIters));
  double instructions = 20 + chunks * tileStep + epilogue;
  double serial = 1 + (p.colMask ? 1 : 0) + tp;
  double overlapped = 0;
  if (s.doubleBuffer) {
    // B13: the fetch's loads (no loop) and the put's stores.
    instructions += chunks * (lhsIters * 26.0 + rhsIters * 24.0);
    serial += 1;
    overlapped = chunks;
  } else {
    instructions += chunks * (lhsIters * 22.0 + rhsIters * 20.0);
    serial += chunks * stagingWaits;
  }
  const double tiles = static_cast<double>(tilesPerBlock);
  profile.warpInstructions = tiles * instructions;
  profile.serialRoundTrips = tiles * serial;
  profile.overlappedRoundTrips = tiles * overlapped;
  profile.overlappedInstructions =
      s.doubleBuffer ? tiles * chunks * tileStep : 0;
  profile.barriers = tiles * 2 * chunks;
  if (local) {
    // B12: the block's list: the mask bytes (in flight together), the
    // scan's steps, the ids' placement.
    const double scan = static_cast<double>(
        ceilDiv(getEntryTiles(p, s), s.threads));
    double steps = 0;
    for (int64_t o = 1; o < s.threads; o *= 2)
      ++steps;
    profile.warpInstructions += scan * (4.0 * s.rows + 12) + steps * 8 + 20;
    profile.serialRoundTrips += 1 + steps;
    profile.barriers += 2 * steps + 2;
  }

  BmmWalker walker(device, p, tile, profile);
  if (!local)
    walker.tileId(tiles);
  for (int64_t chunk = 0; chunk < chunks; ++chunk)
    walker.stageChunk(chunk * s.reductionBlock, tiles);
  walker.registerTile(tiles * chunks);
  walker.epilogue(tiles, writeFraction);
  return profile;
}
