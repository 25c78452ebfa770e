//===- Selection.cpp - choosing the k PolyKernel variants -----------------===//
//
// Part of the dynaspa project.
//
//===----------------------------------------------------------------------===//
//
// The final step of Algorithm 1 (lines 16–20): given the time of every
// candidate variant on every mask of a (mini-batch) mask set, pick at most k
// variants so that the expected time of the best variant per mask, g(S)
// (eq. 5), is small. The runtime's dispatch picks among exactly these.
//
//===----------------------------------------------------------------------===//

#include "dynaspa/Analysis/CostModel.h"

#include <algorithm>
#include <cassert>
#include <cmath>
#include <limits>
#include <numeric>

using namespace dynaspa::cost;

static constexpr double kInf = std::numeric_limits<double>::infinity();

static size_t numMasks(const TimeMatrix &time) {
  return time.empty() ? 0 : time.front().size();
}

/// Mean of `best`, the per-mask best times (0 with no masks).
static double mean(const std::vector<double> &best) {
  if (best.empty())
    return 0;
  return std::accumulate(best.begin(), best.end(), 0.0) / best.size();
}

double dynaspa::cost::expectedMinTime(const TimeMatrix &time,
                                      const std::vector<size_t> &variants) {
  if (variants.empty())
    return kInf;
  std::vector<double> best(numMasks(time), kInf);
  for (size_t v : variants) {
    assert(v < time.size() && time[v].size() == best.size());
    for (size_t m = 0; m < best.size(); ++m)
      best[m] = std::min(best[m], time[v][m]);
  }
  return mean(best);
}

Selection dynaspa::cost::selectGreedy(const TimeMatrix &time, size_t k) {
  size_t masks = numMasks(time);
  std::vector<double> best(masks, kInf);
  std::vector<bool> taken(time.size(), false);
  Selection s;
  s.expectedTime = kInf;
  std::vector<double> candidate(masks);
  for (size_t step = 0; step < k; ++step) {
    size_t pick = time.size();
    double pickTime = s.expectedTime;
    for (size_t v = 0; v < time.size(); ++v) {
      if (taken[v])
        continue;
      assert(time[v].size() == masks && "ragged time matrix");
      for (size_t m = 0; m < masks; ++m)
        candidate[m] = std::min(best[m], time[v][m]);
      double g = mean(candidate);
      // Strictly better only: ties keep the lower index, and a variant that
      // lowers no mask's time is not worth a slot in the PolyKernel.
      if (g < pickTime) {
        pick = v;
        pickTime = g;
      }
    }
    if (pick == time.size())
      break;
    taken[pick] = true;
    for (size_t m = 0; m < masks; ++m)
      best[m] = std::min(best[m], time[pick][m]);
    s.variants.push_back(pick);
    s.expectedTime = pickTime;
  }
  return s;
}

/// C(n, r), or nullopt if it exceeds `limit`.
static std::optional<uint64_t> binomial(uint64_t n, uint64_t r,
                                        uint64_t limit) {
  r = std::min(r, n - r);
  // Stays exact: after step i the value is C(n - r + i, i).
  uint64_t c = 1;
  for (uint64_t i = 1; i <= r; ++i) {
    uint64_t factor = n - r + i;
    if (c > std::numeric_limits<uint64_t>::max() / factor)
      return std::nullopt;
    c = c * factor / i;
    if (c > limit)
      return std::nullopt;
  }
  return c;
}

std::optional<Selection> dynaspa::cost::selectExhaustive(const TimeMatrix &time,
                                                         size_t k,
                                                         uint64_t maxSubsets) {
  size_t n = time.size();
  size_t r = std::min(k, n);
  Selection s;
  s.expectedTime = kInf;
  if (r == 0)
    return s;
  // g is non-increasing in S, so some optimal set has exactly min(k, V)
  // elements: only those are enumerated.
  if (!binomial(n, r, maxSubsets))
    return std::nullopt;
  std::vector<size_t> subset(r);
  std::iota(subset.begin(), subset.end(), 0);
  while (true) {
    double g = expectedMinTime(time, subset);
    if (g < s.expectedTime) {
      s.expectedTime = g;
      s.variants = subset;
    }
    // Next combination in lexicographic order.
    size_t i = r;
    while (i > 0 && subset[i - 1] == n - r + i - 1)
      --i;
    if (i == 0)
      break;
    ++subset[i - 1];
    for (size_t j = i; j < r; ++j)
      subset[j] = subset[j - 1] + 1;
  }
  return s;
}

/// 1-based ranks of `x`, ties sharing their average rank.
static std::vector<double> ranks(const std::vector<double> &x) {
  std::vector<size_t> order(x.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(),
                   [&](size_t a, size_t b) { return x[a] < x[b]; });
  std::vector<double> r(x.size());
  for (size_t i = 0; i < order.size();) {
    size_t j = i;
    while (j + 1 < order.size() && x[order[j + 1]] == x[order[i]])
      ++j;
    double average = (i + j) / 2.0 + 1;
    for (size_t t = i; t <= j; ++t)
      r[order[t]] = average;
    i = j + 1;
  }
  return r;
}

double dynaspa::cost::spearman(const std::vector<double> &a,
                               const std::vector<double> &b) {
  if (a.size() != b.size() || a.size() < 2)
    return std::nan("");
  std::vector<double> ra = ranks(a), rb = ranks(b);
  double n = static_cast<double>(a.size());
  double meanA = std::accumulate(ra.begin(), ra.end(), 0.0) / n;
  double meanB = std::accumulate(rb.begin(), rb.end(), 0.0) / n;
  double cov = 0, varA = 0, varB = 0;
  for (size_t i = 0; i < ra.size(); ++i) {
    cov += (ra[i] - meanA) * (rb[i] - meanB);
    varA += (ra[i] - meanA) * (ra[i] - meanA);
    varB += (rb[i] - meanB) * (rb[i] - meanB);
  }
  if (varA == 0 || varB == 0)
    return std::nan("");
  return cov / std::sqrt(varA * varB);
}
