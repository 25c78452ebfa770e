//===- executor_test.cpp - the executor over a recording backend ----------===//
//
// Part of the dynaspa project.
//
//===----------------------------------------------------------------------===//
//
// What a real device cannot show: the order of the executor's calls. A fake
// Backend logs every call, so these tests pin down that a self-dispatching
// operator enqueues every variant before reading anything back, that
// dynaspa_operator_launch's path binds the caller's handles, uses the
// caller's queue and never blocks, and how benchmark() combines its rounds.
// Runs everywhere (no device needed).
//
//===----------------------------------------------------------------------===//

#include "executor.h"
#include "recording_backend.h"
#include "test_bundles.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <deque>

namespace dynaspa::runtime::testing {
namespace {

class Executor : public ::testing::Test {
protected:
  void make(bool selfDispatch, bool fillKernels = false) {
    BmmOptions o;
    o.selfDispatch = selfDispatch;
    o.fillKernels = fillKernels;
    o.binaries.emplace_back(bundle::Format::OPENCL_C,
                            std::vector<uint8_t>{'x'});
    load(makeMaskedBmmBundle(o));
  }

  /// Verifies `b` and makes the executor of its operator 0.
  void load(const bundle::BundleT &b) {
    std::vector<uint8_t> bytes = serializeBundle(b);
    storage_.assign((bytes.size() + 7) / 8, 0);
    std::memcpy(storage_.data(), bytes.data(), bytes.size());
    const bundle::Bundle *root = nullptr;
    Status verified = verifyBundle(reinterpret_cast<uint8_t *>(storage_.data()),
                                   bytes.size(), &root);
    ASSERT_TRUE(verified) << verified.message();
    modules_ = std::make_unique<ModuleCache>(backend_, *root);
    executor_ = std::make_unique<OperatorExecutor>(backend_, *modules_,
                                                   *root->operators()->Get(0));
  }

  /// `make(false)` with a second count buffer (5, a 2-row granularity) and a
  /// cover on the row variant: rows only while the 2-row tiles cover at most
  /// 150% of the rows, else the dense variant (now the fallback, [0, -1]).
  void makeCovered() {
    BmmOptions o;
    o.binaries.emplace_back(bundle::Format::OPENCL_C,
                            std::vector<uint8_t>{'x'});
    bundle::BundleT b = makeMaskedBmmBundle(o);
    bundle::OperatorT &op = *b.operators[0];
    auto count = std::make_unique<bundle::TensorT>(*op.buffers[4]);
    op.buffers.push_back(std::move(count));
    op.variants[0]->cover = std::make_unique<bundle::CoverT>();
    bundle::CoverT &cover = *op.variants[0]->cover;
    cover.of_buffer = 5;
    cover.over_buffer = 4;
    cover.of_positions = 2;
    cover.over_positions = 1;
    cover.min_percent = 0;
    cover.max_percent = 150;
    // What the rows variant leaves, whatever its count, goes to the dense one.
    op.variants[1]->min_tiles = 0;
    load(b);
  }

  Status run(dynaspa_run_stats_t *stats) {
    std::vector<float> a(30), b(24), m(5), c(40);
    int64_t aShape[] = {2, 5, 3}, bShape[] = {2, 3, 4}, mShape[] = {5},
            cShape[] = {2, 5, 4};
    dynaspa_host_tensor_t in[] = {{a.data(), DYNASPA_F32, 3, aShape},
                                  {b.data(), DYNASPA_F32, 3, bShape},
                                  {m.data(), DYNASPA_F32, 1, mShape}};
    dynaspa_host_tensor_t out[] = {{c.data(), DYNASPA_F32, 3, cShape}};
    return executor_->run(in, 3, out, 1, stats);
  }

  /// `make` with the bundle reduced to one operator of one kernel: the
  /// dense variant alone, without a count, prologue or zero fill, marked as
  /// writing its own zeros (what dynaspa-compile writes for a lone
  /// batch-matmul variant with per-block lists).
  void makeStandalone() {
    BmmOptions o;
    o.selfDispatch = true;
    o.binaries.emplace_back(bundle::Format::OPENCL_C,
                            std::vector<uint8_t>{'x'});
    bundle::BundleT b = makeMaskedBmmBundle(o);
    bundle::OperatorT &op = *b.operators[0];
    op.variants.erase(op.variants.begin());
    op.variants[0]->count_buffer = flatbuffers::nullopt;
    op.variants[0]->min_tiles = 0;
    op.variants[0]->launches[0]->kernel = "masked_bmm";
    op.variants[0]->launches[0]->args.resize(8); // Without the guard.
    op.prologue.clear();
    op.zero_fill.clear();
    op.writes_zeros = true;
    load(b);
  }

  /// dynaspa_operator_launch's path: inputs 0xA00, 0xB00, 0xC00 (mask) and
  /// output 0xD00 on the caller's queue q5.
  Status launchOnCallerQueue() {
    void *handles[] = {
        reinterpret_cast<void *>(0xA00), reinterpret_cast<void *>(0xB00),
        reinterpret_cast<void *>(0xC00), reinterpret_cast<void *>(0xD00)};
    return executor_->launch(handles, 3, handles + 3, 1,
                             RecordingBackend::queue(5));
  }

  RecordingBackend backend_;
  std::vector<uint64_t> storage_;
  std::unique_ptr<ModuleCache> modules_;
  std::unique_ptr<OperatorExecutor> executor_;
};

TEST_F(Executor, SelfDispatchRunEnqueuesEveryVariantBeforeAnyReadBack) {
  make(true);
  ASSERT_TRUE(executor_->prepare());
  backend_.log.clear();
  ASSERT_TRUE(run(nullptr));
  const auto &log = backend_.log;
  std::vector<std::string> launches = grep(log, "launch");
  ASSERT_EQ(launches.size(), 3u);
  EXPECT_EQ(launches[0].rfind("launch count_rows", 0), 0u);
  EXPECT_EQ(launches[1].rfind("launch masked_bmm_rows_sd", 0), 0u);
  EXPECT_EQ(launches[2].rfind("launch masked_bmm_sd", 0), 0u);
  // The one read-back is the output, after the last launch.
  std::vector<std::string> downloads = grep(log, "download");
  ASSERT_EQ(downloads.size(), 1u);
  EXPECT_GT(first(log, "download"), last(log, "launch"));
}

TEST_F(Executor, SelfDispatchStatsReadCountsAfterAllLaunches) {
  make(true);
  backend_.count = 4;
  dynaspa_run_stats_t stats = {};
  ASSERT_TRUE(run(&stats));
  EXPECT_EQ(stats.variant, 1);
  EXPECT_EQ(stats.tile_count, 4);
  EXPECT_GT(first(backend_.log, "download"), last(backend_.log, "launch"));
}

TEST_F(Executor, HostSelectedRunReadsTheCountThenLaunchesOneVariant) {
  make(false);
  backend_.count = 2;
  dynaspa_run_stats_t stats = {};
  ASSERT_TRUE(run(&stats));
  std::vector<std::string> launches = grep(backend_.log, "launch");
  ASSERT_EQ(launches.size(), 2u);
  EXPECT_EQ(launches[1].rfind("launch masked_bmm_rows ", 0), 0u);
  EXPECT_EQ(stats.variant, 0);
  EXPECT_LT(first(backend_.log, "download"), last(backend_.log, "launch"));
}

TEST_F(Executor, HostSelectionTestsTheCoverAfterTheRange) {
  makeCovered();
  ASSERT_TRUE(executor_->prepare());
  // The scratch buffers in index order: the row count, then the 2-row one.
  std::vector<std::string> allocs = grep(backend_.log, "alloc");
  ASSERT_EQ(allocs.size(), 2u);
  uint64_t rows = std::stoull(allocs[0].substr(6));
  uint64_t pairs = std::stoull(allocs[1].substr(6));
  struct Case {
    int32_t rows, pairs, variant;
  };
  // Two active rows (in the row variant's range [0, 2]): 2 pairs cover 4
  // rows, 200% > 150%; 1 pair covers 2, 100%. Three rows: out of range,
  // whatever the cover.
  for (Case c : {Case{2, 2, 1}, Case{2, 1, 0}, Case{3, 1, 1}, Case{0, 0, 0}}) {
    backend_.counts = {{rows, c.rows}, {pairs, c.pairs}};
    dynaspa_run_stats_t stats = {};
    Status s = run(&stats);
    ASSERT_TRUE(s) << s.message();
    EXPECT_EQ(stats.variant, c.variant)
        << c.rows << " rows, " << c.pairs << " pairs";
    EXPECT_EQ(stats.tile_count, c.rows);
  }
}

TEST_F(Executor, LaunchBindsCallerMemoryOnTheCallerQueueWithoutBlocking) {
  make(true);
  // Preparing allocates the scratch count buffer and zeroes it once (the
  // tile-list kernels keep self-resetting counters there), waiting for that
  // on the runtime's own queue, never the caller's.
  ASSERT_TRUE(executor_->prepare());
  EXPECT_EQ(grep(backend_.log, "alloc").size(), 1u);
  std::vector<std::string> zeroed = grep(backend_.log, "fill");
  ASSERT_EQ(zeroed.size(), 1u);
  EXPECT_EQ(zeroed[0], "fill 1 q1");
  EXPECT_EQ(grep(backend_.log, "sync").size(), 1u);
  backend_.log.clear();
  // Handles far from the fake allocator's small integers.
  void *inputs[] = {reinterpret_cast<void *>(0xA00),
                    reinterpret_cast<void *>(0xB00),
                    reinterpret_cast<void *>(0xC00)};
  void *outputs[] = {reinterpret_cast<void *>(0xD00)};
  ASSERT_TRUE(
      executor_->launch(inputs, 3, outputs, 1, RecordingBackend::queue(5)));
  const auto &log = backend_.log;
  // Nothing is allocated, waits or copies.
  EXPECT_TRUE(grep(log, "alloc").empty());
  EXPECT_TRUE(grep(log, "sync").empty());
  EXPECT_TRUE(grep(log, "download").empty());
  EXPECT_TRUE(grep(log, "upload").empty());
  std::string out = std::to_string(0xD00);
  std::string mask = std::to_string(0xC00);
  std::vector<std::string> fills = grep(log, "fill");
  ASSERT_EQ(fills.size(), 2u); // Output and count, on the caller's queue.
  EXPECT_EQ(fills[0], "fill " + out + " q5");
  EXPECT_EQ(fills[1], "fill 1 q5");
  std::vector<std::string> launches = grep(log, "launch");
  ASSERT_EQ(launches.size(), 3u);
  EXPECT_EQ(launches[0], "launch count_rows " + mask + " 1 q5");
  EXPECT_EQ(launches[2], "launch masked_bmm_sd " + std::to_string(0xA00) + " " +
                             std::to_string(0xB00) + " " + mask + " " + out +
                             " 1 q5");
}

TEST_F(Executor, VariantLanesAreOffByDefault) {
  make(true);
  ASSERT_TRUE(executor_->prepare());
  EXPECT_TRUE(grep(backend_.log, "queue").empty());
  backend_.log.clear();
  ASSERT_TRUE(run(nullptr));
  EXPECT_TRUE(grep(backend_.log, "wait").empty());
}

TEST_F(Executor, SelfDispatchVariantsRunSideBySideAfterThePrologue) {
  make(true);
  ASSERT_TRUE(executor_->prepare());
  // Enabled after prepare: one lane (a queue and its join event) per variant
  // after the first, and the fork event, created at once.
  ASSERT_TRUE(executor_->setVariantLanes(true));
  EXPECT_EQ(grep(backend_.log, "queue").size(), 1u);
  EXPECT_EQ(grep(backend_.log, "event").size(), 2u);
  backend_.log.clear();
  ASSERT_TRUE(launchOnCallerQueue());
  const auto &log = backend_.log;
  int fork = first(log, "record e1000 q5");
  int prologue = first(log, "launch count_rows");
  int v0 = first(log, "launch masked_bmm_rows_sd");
  int laneWait = first(log, "wait q100 e1000");
  int v1 = first(log, "launch masked_bmm_sd");
  int laneDone = first(log, "record e1001 q100");
  int join = first(log, "wait q5 e1001");
  for (int i : {fork, prologue, v0, laneWait, v1, laneDone, join})
    ASSERT_GE(i, 0) << ::testing::PrintToString(log);
  // The lane forks after the prologue: both variants read its tile list.
  EXPECT_LT(prologue, fork);
  EXPECT_LT(fork, laneWait);
  EXPECT_NE(log[v0].find(" q5"), std::string::npos) << log[v0];
  EXPECT_NE(log[v1].find(" q100"), std::string::npos) << log[v1];
  EXPECT_LT(laneWait, v1);
  EXPECT_LT(v1, laneDone);
  // Work after the op on the caller's queue waits for both variants.
  EXPECT_LT(laneDone, join);
  EXPECT_LT(v0, join);
  EXPECT_EQ(join + 1, static_cast<int>(log.size()));
  // Off again: one queue, no fork.
  ASSERT_TRUE(executor_->setVariantLanes(false));
  backend_.log.clear();
  ASSERT_TRUE(launchOnCallerQueue());
  EXPECT_TRUE(grep(backend_.log, "wait").empty());
  for (const std::string &line : grep(backend_.log, "launch"))
    EXPECT_NE(line.find(" q5"), std::string::npos) << line;
}

TEST_F(Executor, HostSelectedOperatorsHaveNoLanes) {
  make(false);
  ASSERT_TRUE(executor_->setVariantLanes(true));
  ASSERT_TRUE(executor_->prepare());
  EXPECT_TRUE(grep(backend_.log, "queue").empty())
      << ::testing::PrintToString(backend_.log);
  backend_.count = 2;
  ASSERT_TRUE(run(nullptr));
  EXPECT_TRUE(grep(backend_.log, "wait").empty());
}

TEST_F(Executor, FillKernelsRunOnASideQueueJoinedAroundTheVariants) {
  make(true, /*fillKernels=*/true);
  ASSERT_TRUE(executor_->prepare());
  backend_.log.clear();
  ASSERT_TRUE(launchOnCallerQueue());
  const auto &log = backend_.log;
  // The output is never zero-filled; the count still is, on the op's queue.
  std::vector<std::string> fills = grep(log, "fill");
  ASSERT_EQ(fills.size(), 1u);
  EXPECT_EQ(fills[0], "fill 1 q5");
  // Fork from the caller's queue, fills_before, its event, fills_alongside,
  // its event, all on the side queue (q100); the caller's queue waits for
  // the first event before the variants and for the second after them.
  std::vector<std::string> side;
  for (const std::string &line : log)
    if (line.find("q100") != std::string::npos)
      side.push_back(line);
  ASSERT_EQ(side.size(), 5u) << ::testing::PrintToString(log);
  EXPECT_EQ(side[0], "wait q100 e1000");
  EXPECT_EQ(side[1].rfind("launch zero_rows", 0), 0u) << side[1];
  EXPECT_EQ(side[2], "record e1001 q100");
  EXPECT_EQ(side[3].rfind("launch zero_rows", 0), 0u) << side[3];
  EXPECT_EQ(side[4], "record e1002 q100");
  int fork = first(log, "record e1000 q5"),
      before = first(log, "wait q5 e1001"), join = first(log, "wait q5 e1002");
  ASSERT_GE(fork, 0);
  EXPECT_LT(fork, first(log, "wait q100 e1000"));
  EXPECT_LT(first(log, "launch count_rows"), before);
  EXPECT_LT(before, first(log, "launch masked_bmm"));
  EXPECT_LT(last(log, "launch masked_bmm"), join);
  EXPECT_EQ(join + 1, static_cast<int>(log.size()));
}

TEST_F(Executor, LaunchChecksItsArguments) {
  make(true);
  void *handles[] = {reinterpret_cast<void *>(0xA00),
                     reinterpret_cast<void *>(0xB00), nullptr,
                     reinterpret_cast<void *>(0xD00)};
  EXPECT_EQ(executor_->launch(handles, 2, handles + 3, 1, nullptr).code(),
            DYNASPA_INVALID_ARGUMENT);
  Status s = executor_->launch(handles, 3, handles + 3, 1, nullptr);
  EXPECT_EQ(s.code(), DYNASPA_INVALID_ARGUMENT);
  EXPECT_NE(s.message().find("input 2 is null"), std::string::npos)
      << s.message();
}

TEST_F(Executor, LaunchNeedsSelfDispatch) {
  make(false);
  void *handles[] = {
      reinterpret_cast<void *>(0xA00), reinterpret_cast<void *>(0xB00),
      reinterpret_cast<void *>(0xC00), reinterpret_cast<void *>(0xD00)};
  Status s = executor_->launch(handles, 3, handles + 3, 1, nullptr);
  EXPECT_EQ(s.code(), DYNASPA_UNSUPPORTED);
  EXPECT_NE(s.message().find("not self-dispatching"), std::string::npos);
}

TEST_F(Executor, CapturingAnUnpreparedLaunchIsRefused) {
  make(true);
  void *handles[] = {
      reinterpret_cast<void *>(0xA00), reinterpret_cast<void *>(0xB00),
      reinterpret_cast<void *>(0xC00), reinterpret_cast<void *>(0xD00)};
  backend_.capturing = true;
  Status s = executor_->launch(handles, 3, handles + 3, 1, nullptr);
  EXPECT_EQ(s.code(), DYNASPA_INVALID_ARGUMENT);
  EXPECT_NE(s.message().find("dynaspa_operator_prepare"), std::string::npos);
  EXPECT_TRUE(grep(backend_.log, "alloc").empty());
  // Once prepared, a captured launch only enqueues.
  backend_.capturing = false;
  ASSERT_TRUE(executor_->prepare());
  backend_.capturing = true;
  backend_.log.clear();
  EXPECT_TRUE(executor_->launch(handles, 3, handles + 3, 1, nullptr));
  EXPECT_TRUE(grep(backend_.log, "alloc").empty());
}

TEST_F(Executor, BenchmarkTakesMedianAndMinOverRounds) {
  make(true);
  backend_.count = 3;
  // One window of each graph estimates its length (full 20, zero fill 5,
  // overhead 2); then each round times the full graph, the zero fill, the
  // overhead graph.
  backend_.times = {20.0, 5.0, 2.0, 5.0, 7.0, 2.0, 1.0,
                    8.0,  2.0, 3.0, 9.0, 4.0};
  dynaspa_benchmark_options_t options = {2, 7, 3};
  dynaspa_benchmark_result_t r = {};
  ASSERT_TRUE(executor_->benchmark(options, &r));
  EXPECT_DOUBLE_EQ(r.median_us, 3.0);
  EXPECT_DOUBLE_EQ(r.min_us, 1.0);
  // The overhead graph holds eight prologues: one is an eighth of it.
  EXPECT_DOUBLE_EQ(r.overhead_us, 2.0 / 8);
  EXPECT_DOUBLE_EQ(r.overhead_min_us, 2.0 / 8);
  EXPECT_DOUBLE_EQ(r.zero_fill_us, 8.0);
  EXPECT_EQ(r.variant, 1);
  EXPECT_EQ(r.tile_count, 3);
  EXPECT_EQ(r.host_selected, 0);
  EXPECT_STREQ(r.method, "cuda-graph");
  const auto &log = backend_.log;
  EXPECT_EQ(grep(log, "replay").size(), 6u); // Warmup of the three graphs.
  // The estimates at R = 7, then the op at R and each part with as many
  // replays as fill the op's window: 7 * 20 / 5 and 7 * 20 / 2.
  EXPECT_EQ(std::count(log.begin(), log.end(), "time 7"), 6);
  EXPECT_EQ(std::count(log.begin(), log.end(), "time 28"), 3);
  EXPECT_EQ(std::count(log.begin(), log.end(), "time 70"), 3);
  // The full graph holds zero fill, prologue and both variants.
  int begin = first(log, "capture begin"), end = first(log, "capture end");
  int launchesInside = 0;
  for (int i = begin; i < end; ++i)
    launchesInside += log[i].rfind("launch", 0) == 0;
  EXPECT_EQ(launchesInside, 3);
  EXPECT_NE(log[begin + 1].find("q7"), std::string::npos);
  // The overhead graph holds eight copies of the prologue's kernel and the
  // count's fill, the zero-fill graph the output's fill alone.
  std::vector<std::string> rest(log.begin() + end + 1, log.end());
  int second = first(rest, "capture begin"), secondEnd = first(rest, "capture end");
  std::vector<std::string> overhead(rest.begin() + second, rest.begin() + secondEnd);
  EXPECT_EQ(grep(overhead, "launch").size(), 8u);
  EXPECT_EQ(grep(overhead, "fill").size(), 8u);
  std::vector<std::string> after(rest.begin() + secondEnd + 1, rest.end());
  int third = first(after, "capture begin"), thirdEnd = first(after, "capture end");
  std::vector<std::string> zero(after.begin() + third, after.begin() + thirdEnd);
  EXPECT_TRUE(grep(zero, "launch").empty());
  EXPECT_EQ(grep(zero, "fill").size(), 1u);
}

TEST_F(Executor, BenchmarkCapsThePartsReplays) {
  make(true);
  // A 10 ms op and parts of a few ns: the parts' replays stop at 4096, and
  // never fall below R where a part is longer than the op's window needs.
  backend_.times = {10000.0, 0.001, 40000.0};
  dynaspa_benchmark_result_t r = {};
  ASSERT_TRUE(executor_->benchmark({0, 3, 2}, &r));
  const auto &log = backend_.log;
  EXPECT_EQ(std::count(log.begin(), log.end(), "time 4096"), 2);
  EXPECT_EQ(std::count(log.begin(), log.end(), "time 3"), 3 + 2 + 2);
}

TEST_F(Executor, StandaloneOperatorIsOneLaunchWithoutFillOrCount) {
  makeStandalone();
  dynaspa_run_stats_t stats = {};
  ASSERT_TRUE(run(&stats));
  EXPECT_EQ(stats.variant, 0);
  EXPECT_EQ(stats.tile_count, -1); // No tile list, so no count to report.
  // A second run (buffers allocated): the kernel alone, no fill, and no
  // count read back.
  backend_.log.clear();
  ASSERT_TRUE(run(&stats));
  EXPECT_EQ(grep(backend_.log, "launch").size(), 1u);
  EXPECT_TRUE(grep(backend_.log, "fill").empty());
  EXPECT_EQ(grep(backend_.log, "download").size(), 1u); // The result only.
}

TEST_F(Executor, BenchmarkOfStandaloneOperatorTimesOnlyTheFullGraph) {
  makeStandalone();
  // Only the full graph is captured and timed: no overhead, no zero fill.
  backend_.times = {9.0, 5.0, 7.0, 6.0}; // The estimate, then three rounds.
  dynaspa_benchmark_result_t r = {};
  ASSERT_TRUE(executor_->benchmark({1, 4, 3}, &r));
  EXPECT_DOUBLE_EQ(r.median_us, 6.0);
  EXPECT_DOUBLE_EQ(r.overhead_us, 0.0);
  EXPECT_DOUBLE_EQ(r.zero_fill_us, 0.0);
  EXPECT_EQ(r.tile_count, -1);
  EXPECT_EQ(grep(backend_.log, "capture begin").size(), 1u);
  EXPECT_EQ(grep(backend_.log, "time 4").size(), 4u);
}

TEST_F(Executor, BenchmarkOfHostSelectedOperatorTimesTheChosenVariant) {
  make(false);
  backend_.count = 1;
  dynaspa_benchmark_result_t r = {};
  ASSERT_TRUE(executor_->benchmark({0, 1, 1}, &r));
  EXPECT_EQ(r.host_selected, 1);
  EXPECT_EQ(r.variant, 0);
  std::vector<std::string> launches = grep(backend_.log, "launch");
  // Prologue to choose; then the graphs: (prologue, rows), (prologue x 8),
  // (fills only).
  ASSERT_EQ(launches.size(), 1u + 2u + 8u);
  EXPECT_EQ(launches[2].rfind("launch masked_bmm_rows ", 0), 0u);
  dynaspa_benchmark_options_t bad = {0, 0, 1};
  EXPECT_EQ(executor_->benchmark(bad, &r).code(), DYNASPA_INVALID_ARGUMENT);
}

} // namespace
} // namespace dynaspa::runtime::testing
