//===- network_test.cpp - the network executor over a recording backend ---===//
//
// Part of the dynaspa project.
//
//===----------------------------------------------------------------------===//
//
// The memory plan as calls: how many activation buffers a chain allocates,
// which buffer each operator reads and writes, and that the side-queue zero
// fills are ordered against the operators that use the same buffers. The
// ordering is checked by replaying the log as a happens-before graph (each
// queue in order, plus an edge from an event's last record to every wait
// for it): every fill and every launch that touch a common buffer on
// different queues must be ordered as they were enqueued, and the side
// queue must be joined back into the main queue. Runs everywhere (no
// device); opencl_network_test.cpp and cuda_test.cpp run the same plans on
// devices and compare numbers.
//
//===----------------------------------------------------------------------===//

#include "network.h"
#include "recording_backend.h"
#include "test_bundles.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <set>
#include <sstream>

namespace dynaspa::runtime::testing {
namespace {

/// The log as a happens-before graph of device work.
class Schedule {
public:
  explicit Schedule(const std::vector<std::string> &log) {
    std::map<std::string, int> lastRecord;
    std::map<std::string, int> lastOnQueue;
    for (const std::string &line : log) {
      std::istringstream in(line);
      std::vector<std::string> words;
      for (std::string w; in >> w;)
        words.push_back(w);
      Node node;
      if (words[0] == "fill" || words[0] == "launch") {
        node.kind = words[0];
        node.queue = words.back();
        for (size_t i = words[0] == "fill" ? 1 : 2; i + 1 < words.size(); ++i)
          node.buffers.insert(words[i]);
        node.name = words[0] == "launch" ? words[1] : "fill";
      } else if (words[0] == "record") {
        node.kind = "record";
        node.queue = words[2];
      } else if (words[0] == "wait") {
        node.kind = "wait";
        node.queue = words[1];
        auto it = lastRecord.find(words[2]);
        if (it == lastRecord.end())
          errors.push_back("wait for an event never recorded: " + line);
        else
          node.after.push_back(it->second);
      } else if (words[0] == "upload" || words[0] == "download" ||
                 words[0] == "sync") {
        // Blocking calls on the own queue.
        node.kind = node.name = words[0];
        node.queue = "q1";
        if (words.size() > 1)
          node.buffers.insert(words[1]);
      } else {
        continue;
      }
      int id = static_cast<int>(nodes.size());
      if (auto it = lastOnQueue.find(node.queue); it != lastOnQueue.end())
        node.after.push_back(it->second);
      lastOnQueue[node.queue] = id;
      if (node.kind == "record")
        lastRecord[words[1]] = id;
      nodes.push_back(node);
    }
  }

  /// Whether node `a` happens before node `b`.
  bool before(int a, int b) const {
    std::vector<int> stack = {b};
    std::set<int> seen;
    while (!stack.empty()) {
      int n = stack.back();
      stack.pop_back();
      for (int p : nodes[n].after) {
        if (p == a)
          return true;
        if (seen.insert(p).second)
          stack.push_back(p);
      }
    }
    return false;
  }

  /// Cross-queue pairs on a common buffer, one a fill, not ordered as
  /// enqueued.
  std::vector<std::string> races() const {
    std::vector<std::string> out = errors;
    for (size_t b = 0; b < nodes.size(); ++b)
      for (size_t a = 0; a < b; ++a) {
        const Node &x = nodes[a], &y = nodes[b];
        if (x.queue == y.queue || (x.kind != "fill" && y.kind != "fill"))
          continue;
        bool shared = false;
        for (const std::string &buf : x.buffers)
          shared |= y.buffers.count(buf) > 0;
        if (shared && !before(static_cast<int>(a), static_cast<int>(b)))
          out.push_back(x.name + " on " + x.queue + " and " + y.name + " on " +
                        y.queue + " are unordered");
      }
    return out;
  }

  /// Whether all work on `side` happens before the last node on `main`.
  bool joined(const std::string &side, const std::string &main) const {
    int lastMain = -1;
    for (size_t i = 0; i < nodes.size(); ++i)
      if (nodes[i].queue == main)
        lastMain = static_cast<int>(i);
    for (size_t i = 0; i < nodes.size(); ++i)
      if (nodes[i].queue == side &&
          (lastMain < 0 || !before(static_cast<int>(i), lastMain)))
        return false;
    return true;
  }

  struct Node {
    std::string kind, name, queue;
    std::set<std::string> buffers;
    std::vector<int> after;
  };
  std::vector<Node> nodes;
  std::vector<std::string> errors;
};

/// How many log lines are exactly `line`.
int count(const std::vector<std::string> &log, const std::string &line) {
  return static_cast<int>(std::count(log.begin(), log.end(), line));
}

/// The buffer handles of a log line "launch NAME h0 h1 ... qQ".
std::vector<std::string> launchArgs(const std::string &line) {
  std::istringstream in(line);
  std::vector<std::string> words;
  for (std::string w; in >> w;)
    words.push_back(w);
  return std::vector<std::string>(words.begin() + 2, words.end() - 1);
}

class Network : public ::testing::Test {
protected:
  /// A chain of masked bmm operators [2,5,k_i] x [2,k_i,k_i+1].
  void make(std::vector<int64_t> widths, bool selfDispatch) {
    ops_.clear();
    for (size_t i = 0; i + 1 < widths.size(); ++i) {
      BmmOptions o;
      o.k = widths[i];
      o.n = widths[i + 1];
      o.selfDispatch = selfDispatch;
      o.binaries.emplace_back(bundle::Format::OPENCL_C,
                              std::vector<uint8_t>{'x'});
      ops_.push_back(o);
    }
    load(makeMaskedBmmChainBundle(ops_));
  }

  void load(const fb::BundleT &b) {
    net_.reset();
    std::vector<uint8_t> bytes = serializeBundle(b);
    storage_.assign((bytes.size() + 7) / 8, 0);
    std::memcpy(storage_.data(), bytes.data(), bytes.size());
    ASSERT_TRUE(verifyBundle(reinterpret_cast<uint8_t *>(storage_.data()),
                             bytes.size(), &root_));
    modules_ = std::make_unique<ModuleCache>(backend_, *root_);
    executors_.clear();
    for (const bundle::Operator *op : *root_->operators())
      executors_.push_back(
          std::make_unique<OperatorExecutor>(backend_, *modules_, *op));
  }

  Status create(std::vector<size_t> order) {
    std::vector<OperatorExecutor *> chain;
    for (size_t i : order)
      chain.push_back(executors_[i].get());
    return NetworkExecutor::create(backend_, chain, &net_);
  }

  Status create() {
    std::vector<size_t> order;
    for (size_t i = 0; i < executors_.size(); ++i)
      order.push_back(i);
    return create(order);
  }

  /// run() with zero data of the right shapes; the fake runs nothing.
  Status run(dynaspa_run_stats_t *stats = nullptr) {
    data_.clear();
    shapes_.clear();
    std::vector<std::vector<int64_t>> shapes;
    for (size_t i = 0; i < ops_.size(); ++i) {
      const BmmOptions &o = ops_[i];
      shapes.push_back({o.batch, o.m, o.k});
      shapes.push_back({o.batch, o.k, o.n});
      shapes.push_back({o.m});
    }
    shapes.push_back({ops_.back().batch, ops_.back().m, ops_.back().n});
    shapes_ = shapes;
    std::vector<dynaspa_host_tensor_t> tensors;
    for (size_t i = 0; i < shapes_.size(); ++i) {
      size_t count = 1;
      for (int64_t d : shapes_[i])
        count *= static_cast<size_t>(d);
      data_.emplace_back(count, 0.0f);
      bool chained = i % 3 == 0 && i > 0 && i + 1 < shapes_.size();
      tensors.push_back({chained ? nullptr : data_.back().data(), DYNASPA_F32,
                         static_cast<int32_t>(shapes_[i].size()),
                         shapes_[i].data()});
    }
    dynaspa_host_tensor_t out = tensors.back();
    tensors.pop_back();
    return net_->run(tensors.data(), tensors.size(), &out, stats);
  }

  /// Handles the variant launches `prefix` of the log read (lhs) and write
  /// (result).
  void variantIo(const std::string &prefix, std::vector<std::string> *reads,
                 std::vector<std::string> *writes) {
    for (const std::string &line : grep(backend_.log, prefix)) {
      std::vector<std::string> args = launchArgs(line);
      reads->push_back(args[0]);
      writes->push_back(args[3]);
    }
  }

  std::string bytesOf(const std::string &handle) {
    auto it = backend_.sizes.find(std::stoull(handle));
    return it == backend_.sizes.end() ? "?" : std::to_string(it->second);
  }

  RecordingBackend backend_;
  std::vector<BmmOptions> ops_;
  std::vector<uint64_t> storage_;
  const bundle::Bundle *root_ = nullptr;
  std::unique_ptr<ModuleCache> modules_;
  std::vector<std::unique_ptr<OperatorExecutor>> executors_;
  std::unique_ptr<NetworkExecutor> net_;
  std::vector<std::vector<float>> data_;
  std::vector<std::vector<int64_t>> shapes_;
};

TEST_F(Network, FourOperatorsRotateThreeBuffers) {
  make({4, 4, 4, 4, 4}, false);
  ASSERT_TRUE(create());
  const dynaspa_network_info_t &info = net_->info();
  size_t activation = 2 * 5 * 4 * sizeof(float);
  EXPECT_EQ(info.num_ops, 4u);
  EXPECT_EQ(info.num_inputs, 12u);
  EXPECT_EQ(info.num_buffers, 3u);
  EXPECT_EQ(info.buffer_bytes, activation);
  EXPECT_EQ(info.unplanned_bytes, 5 * activation);
  backend_.count = 5;
  ASSERT_TRUE(run());

  // Exactly three activation-sized allocations (rhs is 128 bytes, masks 5,
  // counts 4), where one buffer per tensor would take five.
  std::vector<std::string> activations;
  for (const std::string &line : grep(backend_.log, "alloc "))
    if (line.substr(line.rfind(' ') + 1) == std::to_string(activation))
      activations.push_back(line);
  EXPECT_EQ(activations.size(), 3u);

  // A second run, in the steady state: nothing allocated.
  backend_.log.clear();
  ASSERT_TRUE(run());
  EXPECT_TRUE(grep(backend_.log, "alloc").empty());

  // Operator k reads buffer k mod 3 and writes (k+1) mod 3: operator 2
  // overwrites the network input, operator 3 operator 0's output.
  std::vector<std::string> reads, writes;
  variantIo("launch masked_bmm ", &reads, &writes);
  ASSERT_EQ(reads.size(), 4u);
  std::set<std::string> used(reads.begin(), reads.end());
  used.insert(writes.begin(), writes.end());
  EXPECT_EQ(used.size(), 3u);
  for (const std::string &h : used)
    EXPECT_EQ(bytesOf(h), std::to_string(activation)) << h;
  for (size_t k = 0; k + 1 < 4; ++k)
    EXPECT_EQ(reads[k + 1], writes[k]);
  EXPECT_EQ(writes[2], reads[0]);
  EXPECT_EQ(writes[3], writes[0]);
  EXPECT_NE(writes[3], reads[3]);

  // Each output is cleared once, on the side queue, and never by the
  // operator's own zero fill on the main queue (which still clears its
  // count).
  for (const std::string &h : used)
    EXPECT_EQ(count(backend_.log, "fill " + h + " q1"), 0) << h;
  std::vector<std::string> sideFills = grep(backend_.log, "fill ");
  int onSide = 0;
  for (const std::string &line : sideFills)
    onSide += line.find(" q100") != std::string::npos;
  EXPECT_EQ(onSide, 4);
  Schedule schedule(backend_.log);
  EXPECT_EQ(schedule.races(), std::vector<std::string>());
  EXPECT_TRUE(schedule.joined("q100", "q1"));
}

TEST_F(Network, TheThirdBufferIsClearedWhileTheNextOperatorRuns) {
  make({4, 4, 4, 4}, true);
  ASSERT_TRUE(create());
  ASSERT_TRUE(run());
  Schedule s(backend_.log);
  // The fill for operator 2 (of buffer 0, operator 0's input) waits for
  // operator 0 only: it is not ordered against operator 1's kernels, so
  // the device may run them together.
  std::vector<int> variants, sideFills;
  for (size_t i = 0; i < s.nodes.size(); ++i) {
    if (s.nodes[i].name == "masked_bmm_sd")
      variants.push_back(static_cast<int>(i));
    if (s.nodes[i].kind == "fill" && s.nodes[i].queue == "q100")
      sideFills.push_back(static_cast<int>(i));
  }
  ASSERT_EQ(variants.size(), 3u);
  ASSERT_EQ(sideFills.size(), 3u);
  EXPECT_TRUE(s.before(variants[0], sideFills[2]));
  EXPECT_FALSE(s.before(variants[1], sideFills[2]));
  EXPECT_FALSE(s.before(sideFills[2], variants[1]));
  EXPECT_TRUE(s.before(sideFills[2], variants[2]));
  EXPECT_EQ(s.races(), std::vector<std::string>());
}

TEST_F(Network, BuffersAreSizedByTheLargestTensorAndFillsByEachOutput) {
  make({3, 6, 2, 5}, true);
  ASSERT_TRUE(create());
  const dynaspa_network_info_t &info = net_->info();
  EXPECT_EQ(info.num_buffers, 3u);
  EXPECT_EQ(info.buffer_bytes, 2 * 5 * 6 * sizeof(float));
  EXPECT_EQ(info.unplanned_bytes, 2 * 5 * (3 + 6 + 2 + 5) * sizeof(float));
  ASSERT_TRUE(run());
  std::vector<size_t> sideBytes;
  std::vector<std::string> fills = grep(backend_.log, "fill ");
  ASSERT_EQ(fills.size(), backend_.fillBytes.size());
  for (size_t i = 0; i < fills.size(); ++i)
    if (fills[i].find(" q100") != std::string::npos)
      sideBytes.push_back(backend_.fillBytes[i]);
  std::vector<size_t> want = {2 * 5 * 6 * 4, 2 * 5 * 2 * 4, 2 * 5 * 5 * 4};
  EXPECT_EQ(sideBytes, want);
}

TEST_F(Network, OneOperatorUsesTwoBuffers) {
  make({4, 3}, true);
  ASSERT_TRUE(create());
  EXPECT_EQ(net_->info().num_buffers, 2u);
  ASSERT_TRUE(run());
  Schedule s(backend_.log);
  EXPECT_EQ(s.races(), std::vector<std::string>());
  EXPECT_TRUE(s.joined("q100", "q1"));
}

TEST_F(Network, ChainsThatDoNotFitAreRejected) {
  make({4, 4, 4}, true);
  EXPECT_EQ(create({}).code(), DYNASPA_INVALID_ARGUMENT);
  // [2,5,4] x [2,4,4] then [2,5,4] x ...: fits. Now make operator 1 take 3.
  ops_[1].k = 3;
  load(makeMaskedBmmChainBundle(ops_));
  Status s = create();
  EXPECT_EQ(s.code(), DYNASPA_SHAPE_MISMATCH);
  EXPECT_EQ(s.message(), "operator 1 ('bmm1') input 0 [2,5,3] F32 cannot take "
                         "the output [2,5,4] F32 of operator 0 ('bmm0'): "
                         "shapes differ");
  ops_[1].k = 4;
  fb::BundleT b = makeMaskedBmmChainBundle(ops_);
  b.operators[1]->buffers[0]->dtype = fb::DType::F16;
  load(b);
  s = create();
  EXPECT_EQ(s.code(), DYNASPA_DTYPE_MISMATCH);
  EXPECT_NE(s.message().find("dtypes differ"), std::string::npos);
  // The same operator twice chains when it maps a shape onto itself.
  make({4, 4}, true);
  EXPECT_TRUE(create({0, 0, 0}));
  EXPECT_EQ(net_->info().num_inputs, 9u);
}

TEST_F(Network, RunChecksEveryEntry) {
  make({4, 4, 4}, true);
  ASSERT_TRUE(create());
  int64_t lhs[] = {2, 5, 4}, rhs[] = {2, 4, 4}, mask[] = {5};
  std::vector<float> a(40), b(32), m(5), c(40);
  dynaspa_host_tensor_t in[] = {
      {a.data(), DYNASPA_F32, 3, lhs},  {b.data(), DYNASPA_F32, 3, rhs},
      {m.data(), DYNASPA_F32, 1, mask}, {nullptr, DYNASPA_F32, 0, nullptr},
      {b.data(), DYNASPA_F32, 3, rhs},  {m.data(), DYNASPA_F32, 1, mask}};
  dynaspa_host_tensor_t out = {c.data(), DYNASPA_F32, 3, lhs};
  EXPECT_TRUE(net_->run(in, 6, &out, nullptr));
  EXPECT_EQ(net_->run(in, 5, &out, nullptr).code(), DYNASPA_INVALID_ARGUMENT);
  EXPECT_EQ(net_->run(in, 6, nullptr, nullptr).code(),
            DYNASPA_INVALID_ARGUMENT);
  in[3].data = a.data();
  Status s = net_->run(in, 6, &out, nullptr);
  EXPECT_EQ(s.code(), DYNASPA_INVALID_ARGUMENT);
  EXPECT_EQ(s.message(), "input 3 (operator 1 ('bmm1') input 0) is the "
                         "previous operator's output: pass an empty entry");
  in[3].data = nullptr;
  in[4].shape = lhs;
  s = net_->run(in, 6, &out, nullptr);
  EXPECT_EQ(s.code(), DYNASPA_SHAPE_MISMATCH);
  EXPECT_NE(s.message().find("input 4 (operator 1 ('bmm1') input 1)"),
            std::string::npos)
      << s.message();
}

TEST_F(Network, HostSelectedRunReadsEachCountBetweenPrologueAndVariant) {
  make({4, 4, 4}, false);
  ASSERT_TRUE(create());
  backend_.count = 1;
  std::vector<dynaspa_run_stats_t> stats(2);
  ASSERT_TRUE(run(stats.data()));
  const auto &log = backend_.log;
  std::vector<int> counts, variants, downloads;
  for (size_t i = 0; i < log.size(); ++i) {
    if (log[i].rfind("launch count_rows", 0) == 0)
      counts.push_back(static_cast<int>(i));
    if (log[i].rfind("launch masked_bmm", 0) == 0)
      variants.push_back(static_cast<int>(i));
    if (log[i].rfind("download", 0) == 0)
      downloads.push_back(static_cast<int>(i));
  }
  ASSERT_EQ(counts.size(), 2u);
  ASSERT_EQ(variants.size(), 2u);
  // Two count read-backs, then the output.
  ASSERT_EQ(downloads.size(), 3u);
  for (int k = 0; k < 2; ++k) {
    EXPECT_LT(counts[k], downloads[k]);
    EXPECT_LT(downloads[k], variants[k]);
    EXPECT_EQ(log[variants[k]].rfind("launch masked_bmm_rows ", 0), 0u);
    EXPECT_EQ(stats[k].variant, 0);
    EXPECT_EQ(stats[k].tile_count, 1);
  }
}

TEST_F(Network, LaunchBindsCallerMemoryOnTheCallerQueueWithoutBlocking) {
  make({4, 4, 4, 4}, true);
  ASSERT_TRUE(create());
  ASSERT_TRUE(net_->prepare());
  backend_.log.clear();
  auto h = [](uintptr_t v) { return reinterpret_cast<void *>(v); };
  std::vector<void *> in = {h(0xA00), h(0xB00), h(0xC00), nullptr, h(0xB10),
                            h(0xC10), nullptr,  h(0xB20), h(0xC20)};
  ASSERT_TRUE(
      net_->launch(in.data(), in.size(), h(0xD00), RecordingBackend::queue(5)));
  const auto &log = backend_.log;
  EXPECT_TRUE(grep(log, "alloc").empty());
  EXPECT_TRUE(grep(log, "sync").empty());
  EXPECT_TRUE(grep(log, "download").empty());
  EXPECT_TRUE(grep(log, "upload").empty());
  std::vector<std::string> reads, writes;
  variantIo("launch masked_bmm_sd ", &reads, &writes);
  ASSERT_EQ(reads.size(), 3u);
  EXPECT_EQ(reads[0], std::to_string(0xA00));
  EXPECT_EQ(writes[2], std::to_string(0xD00));
  EXPECT_EQ(reads[1], writes[0]);
  EXPECT_EQ(reads[2], writes[1]);
  // Each operator's own rhs and mask.
  std::vector<std::string> masks;
  for (const std::string &line : grep(log, "launch masked_bmm_sd"))
    masks.push_back(launchArgs(line)[2]);
  EXPECT_EQ(masks, (std::vector<std::string>{std::to_string(0xC00),
                                             std::to_string(0xC10),
                                             std::to_string(0xC20)}));
  // The caller's output is cleared on the side queue, nothing on q5 but
  // the operators' count buffers.
  EXPECT_EQ(count(log, "fill " + std::to_string(0xD00) + " q100"), 1);
  for (const std::string &line : grep(log, "fill ")) {
    if (line.find(" q5") != std::string::npos) {
      EXPECT_EQ(bytesOf(line.substr(5, line.find(' ', 5) - 5)), "4") << line;
    }
  }
  Schedule s(log);
  EXPECT_EQ(s.races(), std::vector<std::string>());
  EXPECT_TRUE(s.joined("q100", "q5"));
  // The first side-queue step waits for a point on the caller's queue.
  EXPECT_EQ(first(log, "record"), 0);
  EXPECT_NE(log[0].find(" q5"), std::string::npos);

  in[3] = h(0xA10);
  Status bad = net_->launch(in.data(), in.size(), h(0xD00), nullptr);
  EXPECT_EQ(bad.code(), DYNASPA_INVALID_ARGUMENT);
  EXPECT_NE(bad.message().find("pass an empty entry"), std::string::npos);
  in[3] = nullptr;
  in[4] = nullptr;
  EXPECT_EQ(net_->launch(in.data(), in.size(), h(0xD00), nullptr).code(),
            DYNASPA_INVALID_ARGUMENT);
  EXPECT_EQ(net_->launch(in.data(), 8, h(0xD00), nullptr).code(),
            DYNASPA_INVALID_ARGUMENT);
}

TEST_F(Network, LaunchNeedsSelfDispatchAndAPreparedNetworkToCapture) {
  make({4, 4}, false);
  ASSERT_TRUE(create());
  auto h = [](uintptr_t v) { return reinterpret_cast<void *>(v); };
  std::vector<void *> in = {h(0xA00), h(0xB00), h(0xC00)};
  EXPECT_EQ(net_->launch(in.data(), 3, h(0xD00), nullptr).code(),
            DYNASPA_UNSUPPORTED);
  make({4, 4}, true);
  ASSERT_TRUE(create());
  backend_.log.clear();
  backend_.capturing = true;
  Status s = net_->launch(in.data(), 3, h(0xD00), nullptr);
  EXPECT_EQ(s.code(), DYNASPA_INVALID_ARGUMENT);
  EXPECT_NE(s.message().find("dynaspa_network_prepare"), std::string::npos);
  EXPECT_TRUE(grep(backend_.log, "alloc").empty());
  backend_.capturing = false;
  ASSERT_TRUE(net_->prepare());
  backend_.capturing = true;
  backend_.log.clear();
  EXPECT_TRUE(net_->launch(in.data(), 3, h(0xD00), nullptr));
  EXPECT_TRUE(grep(backend_.log, "alloc").empty());
  EXPECT_TRUE(grep(backend_.log, "queue").empty());
  EXPECT_TRUE(grep(backend_.log, "event").empty());
}

TEST_F(Network, BenchmarkTimesThePlanAndTheSerialBaseline) {
  make({4, 4, 4, 4}, true);
  ASSERT_TRUE(create());
  // Rounds alternate: planned, serial.
  backend_.times = {5.0, 9.0, 4.0, 8.0, 6.0, 7.0};
  dynaspa_network_benchmark_result_t r = {};
  ASSERT_TRUE(net_->benchmark({1, 3, 3}, &r));
  EXPECT_DOUBLE_EQ(r.median_us, 5.0);
  EXPECT_DOUBLE_EQ(r.min_us, 4.0);
  EXPECT_DOUBLE_EQ(r.serial_median_us, 8.0);
  EXPECT_DOUBLE_EQ(r.serial_min_us, 7.0);
  EXPECT_EQ(r.host_selected, 0);
  EXPECT_STREQ(r.method, "cuda-graph");
  const auto &log = backend_.log;
  std::vector<int> begins, ends;
  for (size_t i = 0; i < log.size(); ++i) {
    if (log[i] == "capture begin")
      begins.push_back(static_cast<int>(i));
    if (log[i] == "capture end")
      ends.push_back(static_cast<int>(i));
  }
  ASSERT_EQ(begins.size(), 2u);
  ASSERT_EQ(ends.size(), 2u);
  // The planned graph forks the side queue off the capturing queue (q7)
  // and joins it back; the serial one stays on q7.
  std::vector<std::string> planned(log.begin() + begins[0],
                                   log.begin() + ends[0]);
  std::vector<std::string> serial(log.begin() + begins[1],
                                  log.begin() + ends[1]);
  EXPECT_FALSE(grep(planned, "wait").empty());
  Schedule p(planned);
  EXPECT_EQ(p.races(), std::vector<std::string>());
  EXPECT_TRUE(p.joined("q100", "q7"));
  EXPECT_TRUE(grep(serial, "wait").empty());
  EXPECT_TRUE(grep(serial, "record").empty());
  for (const std::string &line : grep(serial, "fill "))
    EXPECT_NE(line.find(" q7"), std::string::npos) << line;
  EXPECT_EQ(grep(serial, "fill ").size(), 3u + 3u); // Outputs and counts.
  dynaspa_benchmark_options_t bad = {0, 1, 0};
  EXPECT_EQ(net_->benchmark(bad, &r).code(), DYNASPA_INVALID_ARGUMENT);
}

TEST_F(Network, BenchmarkOfHostSelectedOperatorsFixesTheirVariants) {
  make({4, 4, 4}, false);
  ASSERT_TRUE(create());
  backend_.count = 2;
  dynaspa_network_benchmark_result_t r = {};
  ASSERT_TRUE(net_->benchmark({0, 1, 1}, &r));
  EXPECT_EQ(r.host_selected, 1);
  // Inside the graphs: one variant per operator, no read-back.
  int begin = first(backend_.log, "capture begin");
  std::vector<std::string> graphs(backend_.log.begin() + begin,
                                  backend_.log.end());
  EXPECT_TRUE(grep(graphs, "download").empty());
  EXPECT_EQ(grep(graphs, "launch masked_bmm_rows ").size(), 4u);
  EXPECT_TRUE(grep(graphs, "launch masked_bmm ").empty());
}

TEST_F(Network, EverythingAllocatedIsReleased) {
  make({4, 4, 4, 4}, true);
  ASSERT_TRUE(create());
  ASSERT_TRUE(run());
  net_.reset();
  executors_.clear();
  std::set<std::string> allocated, released;
  for (const std::string &line : grep(backend_.log, "alloc "))
    allocated.insert(line.substr(6, line.rfind(' ') - 6));
  for (const std::string &line : grep(backend_.log, "release "))
    if (line != "release 0") // Empty slots: a no-op on every backend.
      released.insert(line.substr(8));
  EXPECT_EQ(allocated, released);
  EXPECT_EQ(grep(backend_.log, "destroy queue 100").size(), 1u);
}

} // namespace
} // namespace dynaspa::runtime::testing
