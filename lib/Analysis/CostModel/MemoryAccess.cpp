//===- MemoryAccess.cpp - coalescing and bank conflicts of a warp access --===//
//
// Part of the dynaspa project.
//
//===----------------------------------------------------------------------===//
//
// The two static memory analyses of §3.3: how many global transactions one
// warp instruction needs (N_GMT's unit, eq. 8), and how many passes over the
// shared-memory banks it takes (beta_bc, eq. 10). Both take the addresses
// every lane touches, so a kernel template describes an access by the address
// arithmetic it already has, and irregular patterns (broadcasts, predicated
// lanes, windows that wrap rows) need no special cases.
//
//===----------------------------------------------------------------------===//

#include "dynaspa/Analysis/CostModel.h"

#include <algorithm>
#include <cassert>
#include <map>
#include <set>

using namespace dynaspa::cost;

/// Rounds towards negative infinity, so that negative offsets (which a
/// template may use relative to an aligned base) land in the right segment.
static int64_t floorDiv(int64_t a, int64_t b) {
  int64_t q = a / b;
  return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

WarpAccess WarpAccess::strided(int64_t base, int64_t stride, int64_t width,
                               int64_t activeLanes) {
  WarpAccess a;
  a.width = width;
  for (int64_t i = 0; i < activeLanes; ++i)
    a.lanes.push_back(base + i * stride);
  return a;
}

WarpAccess WarpAccess::fromFunction(
    int64_t warpSize, int64_t width,
    const std::function<std::optional<int64_t>(int64_t)> &address) {
  WarpAccess a;
  a.width = width;
  for (int64_t i = 0; i < warpSize; ++i)
    a.lanes.push_back(address(i));
  return a;
}

WarpAccess WarpAccess::ofBlockWarp(
    int64_t warp, int64_t warpSize, int64_t threads, int64_t width,
    const std::function<std::optional<int64_t>(int64_t)> &address) {
  int64_t first = warp * warpSize;
  return fromFunction(warpSize, width,
                      [&](int64_t lane) -> std::optional<int64_t> {
                        if (first + lane >= threads)
                          return std::nullopt;
                        return address(first + lane);
                      });
}

int64_t WarpAccess::getActiveLanes() const {
  return std::count_if(lanes.begin(), lanes.end(),
                       [](const std::optional<int64_t> &l) { return l; });
}

int64_t dynaspa::cost::countTransactions(const WarpAccess &access,
                                         int64_t transactionBytes) {
  assert(transactionBytes > 0 && access.width > 0);
  std::set<int64_t> segments;
  for (const std::optional<int64_t> &lane : access.lanes) {
    if (!lane)
      continue;
    int64_t first = floorDiv(*lane, transactionBytes);
    int64_t last = floorDiv(*lane + access.width - 1, transactionBytes);
    for (int64_t s = first; s <= last; ++s)
      segments.insert(s);
  }
  return static_cast<int64_t>(segments.size());
}

BankConflicts dynaspa::cost::analyzeBankConflicts(const WarpAccess &access,
                                                  int64_t banks,
                                                  int64_t bankBytes) {
  assert(banks > 0 && bankBytes > 0 && access.width > 0);
  // Lanes per phase: as many as one pass over the banks can serve when
  // conflict-free (all 32 for 4-byte words, 16 for 8-byte, 8 for 16-byte).
  int64_t numLanes = static_cast<int64_t>(access.lanes.size());
  int64_t phaseLanes =
      std::clamp<int64_t>(banks * bankBytes / access.width, 1, numLanes);
  BankConflicts result;
  for (int64_t begin = 0; begin < numLanes; begin += phaseLanes) {
    // bank -> distinct words that lanes of this phase touch in it.
    std::map<int64_t, std::set<int64_t>> wordsPerBank;
    for (int64_t l = begin; l < std::min(begin + phaseLanes, numLanes); ++l) {
      const std::optional<int64_t> &lane = access.lanes[l];
      if (!lane)
        continue;
      int64_t first = floorDiv(*lane, bankBytes);
      int64_t last = floorDiv(*lane + access.width - 1, bankBytes);
      for (int64_t word = first; word <= last; ++word) {
        int64_t bank = word % banks;
        wordsPerBank[bank < 0 ? bank + banks : bank].insert(word);
      }
    }
    if (wordsPerBank.empty())
      continue;
    size_t worst = 0;
    for (const auto &[bank, words] : wordsPerBank)
      worst = std::max(worst, words.size());
    ++result.phases;
    result.wavefronts += static_cast<int64_t>(worst);
  }
  return result;
}
