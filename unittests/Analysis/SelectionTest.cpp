//===- SelectionTest.cpp - PolyKernel variant selection -------------------===//
//
// Part of the dynaspa project.
//
//===----------------------------------------------------------------------===//
//
// Greedy supermodular selection against exhaustive search. What is actually
// guaranteed, and so asserted: greedy is exact for k = 1 and on instances
// built so that its choices are forced; its marginal gains never increase;
// and with T the largest time, T - g(greedy) >= (1 - 1/e) (T - g(opt)).
// Greedy is NOT always optimal: one test shows an instance where it is not.
//
//===----------------------------------------------------------------------===//

#include "dynaspa/Analysis/CostModel.h"

#include "gtest/gtest.h"

#include <algorithm>
#include <cmath>
#include <random>

using namespace dynaspa::cost;

namespace {

TimeMatrix randomMatrix(std::mt19937 &rng, size_t variants, size_t masks) {
  std::uniform_real_distribution<double> dist(1.0, 100.0);
  TimeMatrix t(variants, std::vector<double>(masks));
  for (auto &row : t)
    for (double &x : row)
      x = dist(rng);
  return t;
}

double largest(const TimeMatrix &t) {
  double m = 0;
  for (const auto &row : t)
    for (double x : row)
      m = std::max(m, x);
  return m;
}

TEST(Selection, ExpectedMinTime) {
  TimeMatrix t = {{4, 1, 6}, {2, 5, 3}};
  EXPECT_DOUBLE_EQ(expectedMinTime(t, {0}), 11.0 / 3);
  EXPECT_DOUBLE_EQ(expectedMinTime(t, {1}), 10.0 / 3);
  EXPECT_DOUBLE_EQ(expectedMinTime(t, {0, 1}), 2.0);
  EXPECT_TRUE(std::isinf(expectedMinTime(t, {})));
}

TEST(Selection, GreedyOrderAndEarlyStop) {
  TimeMatrix t = {{4, 1, 6}, {2, 5, 3}, {9, 9, 9}};
  Selection s = selectGreedy(t, 3);
  // Variant 1 is best alone, then 0; variant 2 improves no mask and is not
  // taken even though k allows it.
  ASSERT_EQ(s.variants, (std::vector<size_t>{1, 0}));
  EXPECT_DOUBLE_EQ(s.expectedTime, 2.0);
  EXPECT_TRUE(selectGreedy(t, 0).variants.empty());
  EXPECT_TRUE(selectGreedy({}, 3).variants.empty());
}

TEST(Selection, GreedyTiesGoToLowerIndex) {
  TimeMatrix t = {{3, 3}, {3, 3}, {3, 3}};
  Selection s = selectGreedy(t, 2);
  ASSERT_EQ(s.variants, (std::vector<size_t>{0}));
}

TEST(Selection, ConstructedCasesMatchExhaustive) {
  // Each mask has its own clear winner: with k = V both pick everything;
  // with k < V both pick the winners of the most (equal-weight) masks.
  TimeMatrix diag = {
      {1, 50, 50, 50}, {50, 1, 50, 50}, {50, 50, 1, 50}, {50, 50, 50, 1}};
  for (size_t k = 1; k <= 4; ++k) {
    Selection g = selectGreedy(diag, k);
    std::optional<Selection> opt = selectExhaustive(diag, k);
    ASSERT_TRUE(opt);
    EXPECT_DOUBLE_EQ(g.expectedTime, opt->expectedTime) << "k = " << k;
  }
  // A chain: variant 0 is good everywhere and each later variant is better
  // on a shrinking suffix of the masks.
  TimeMatrix chain = {{5, 5, 5, 5}, {9, 4, 4, 4}, {9, 9, 2, 2}, {9, 9, 9, 1}};
  for (size_t k = 1; k <= 4; ++k) {
    std::optional<Selection> opt = selectExhaustive(chain, k);
    ASSERT_TRUE(opt);
    EXPECT_DOUBLE_EQ(selectGreedy(chain, k).expectedTime, opt->expectedTime);
  }
}

TEST(Selection, GreedyIsNotAlwaysOptimal) {
  // Variant 0 is the best single kernel; variants 1 and 2 are specialists.
  // Greedy takes 0 first and can then add only one specialist.
  TimeMatrix t = {{2, 2}, {1, 10}, {10, 1}};
  Selection g = selectGreedy(t, 2);
  std::optional<Selection> opt = selectExhaustive(t, 2);
  ASSERT_TRUE(opt);
  EXPECT_EQ(g.variants, (std::vector<size_t>{0, 1}));
  EXPECT_DOUBLE_EQ(g.expectedTime, 1.5);
  EXPECT_EQ(opt->variants, (std::vector<size_t>{1, 2}));
  EXPECT_DOUBLE_EQ(opt->expectedTime, 1.0);
  double top = largest(t);
  EXPECT_GE(top - g.expectedTime,
            (1 - 1 / std::exp(1.0)) * (top - opt->expectedTime));
}

TEST(Selection, RandomInstancesRespectTheBound) {
  std::mt19937 rng(20241104);
  int equal = 0, total = 0;
  for (int trial = 0; trial < 300; ++trial) {
    size_t variants = 2 + rng() % 9, masks = 1 + rng() % 12;
    size_t k = 1 + rng() % variants;
    TimeMatrix t = randomMatrix(rng, variants, masks);
    Selection g = selectGreedy(t, k);
    std::optional<Selection> opt = selectExhaustive(t, k);
    ASSERT_TRUE(opt);
    ASSERT_LE(g.variants.size(), k);
    EXPECT_DOUBLE_EQ(g.expectedTime, expectedMinTime(t, g.variants));
    EXPECT_DOUBLE_EQ(opt->expectedTime, expectedMinTime(t, opt->variants));
    // Exhaustive is optimal.
    EXPECT_LE(opt->expectedTime, g.expectedTime + 1e-12);
    // The (1 - 1/e) guarantee on h(S) = T - g(S).
    double top = largest(t);
    EXPECT_GE(top - g.expectedTime,
              (1 - 1 / std::exp(1.0)) * (top - opt->expectedTime) - 1e-9)
        << "trial " << trial;
    // k = 1 is exact.
    if (k == 1) {
      EXPECT_DOUBLE_EQ(g.expectedTime, opt->expectedTime);
    }
    // Diminishing returns: greedy's marginal gains never increase.
    double previousGain = std::numeric_limits<double>::infinity();
    for (size_t i = 1; i < g.variants.size(); ++i) {
      std::vector<size_t> before(g.variants.begin(), g.variants.begin() + i);
      std::vector<size_t> after(g.variants.begin(), g.variants.begin() + i + 1);
      double gain = expectedMinTime(t, before) - expectedMinTime(t, after);
      EXPECT_GT(gain, 0);
      EXPECT_LE(gain, previousGain + 1e-12);
      previousGain = gain;
    }
    ++total;
    equal += g.expectedTime == opt->expectedTime;
  }
  // Not a guarantee, but on random instances greedy is usually optimal; a
  // collapse here would mean a broken greedy step.
  EXPECT_GT(equal, total / 2);
}

TEST(Selection, ExhaustiveLimit) {
  std::mt19937 rng(7);
  TimeMatrix t = randomMatrix(rng, 40, 3);
  // C(40, 20) is about 1.4e11.
  EXPECT_FALSE(selectExhaustive(t, 20, 1'000'000));
  EXPECT_TRUE(selectExhaustive(t, 2, 1'000'000));
  // k larger than V: the whole set.
  std::optional<Selection> all = selectExhaustive(randomMatrix(rng, 3, 4), 10);
  ASSERT_TRUE(all);
  EXPECT_EQ(all->variants.size(), 3u);
}

TEST(Spearman, KnownValues) {
  std::vector<double> a = {1, 2, 3, 4, 5};
  EXPECT_DOUBLE_EQ(spearman(a, {10, 20, 30, 40, 50}), 1);
  EXPECT_DOUBLE_EQ(spearman(a, {5, 4, 3, 2, 1}), -1);
  // Monotone but non-linear: still 1.
  EXPECT_DOUBLE_EQ(spearman(a, {1, 8, 27, 64, 125}), 1);
  // Wikipedia's IQ / hours of TV example: rho = -29/165.
  std::vector<double> iq = {106, 100, 86, 101, 99, 103, 97, 113, 112, 110};
  std::vector<double> tv = {7, 27, 2, 50, 28, 29, 20, 12, 6, 17};
  EXPECT_NEAR(spearman(iq, tv), -29.0 / 165, 1e-12);
  // Ties get average ranks: b's ranks are 1, 2, 3.5, 5, 3.5.
  EXPECT_NEAR(spearman(a, {5, 6, 7, 8, 7}), 8 / std::sqrt(95.0), 1e-12);
}

TEST(Spearman, Degenerate) {
  EXPECT_TRUE(std::isnan(spearman({1, 1, 1}, {1, 2, 3})));
  EXPECT_TRUE(std::isnan(spearman({1}, {2})));
  EXPECT_TRUE(std::isnan(spearman({1, 2}, {1, 2, 3})));
}

} // namespace
