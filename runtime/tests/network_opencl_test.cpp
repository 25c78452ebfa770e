//===- network_opencl_test.cpp - networks end to end on OpenCL ------------===//
//
// Part of the dynaspa project.
//
//===----------------------------------------------------------------------===//
//
// Chains of masked batch matmuls from tests/kernels/masked_bmm.cl through
// the dynaspa_network_* C API on the first OpenCL device (PoCL's CPU device
// in CI): the chain's output must equal running the operators one by one
// (bit for bit: the same kernels see the same inputs) and the float64
// reference of the chain; outputs must be exactly zero where a later, sparser
// mask is off although their buffer held an earlier operator's dense output;
// launches on buffers and a queue the test creates; the benchmark; the C
// API's errors. Skips only without an OpenCL device.
//
//===----------------------------------------------------------------------===//

#include "dynaspa/runtime/runtime.h"
#include "dynaspa/runtime/runtime.hpp"
#include "opencl_fixture.h"

#include <gtest/gtest.h>

#define CL_TARGET_OPENCL_VERSION 300
#define CL_USE_DEPRECATED_OPENCL_1_2_APIS
#include <CL/cl.h>

#include <cmath>

namespace dynaspa::runtime::testing {
namespace {

class OpenCLNetwork : public OpenCLTest {
protected:
  void TearDown() override {
    EXPECT_EQ(dynaspa_network_destroy(net_), DYNASPA_OK);
    OpenCLTest::TearDown();
  }

  /// Operators [2,5,w_i] x [2,w_i,w_i+1], a network of all of them in order.
  void make(const std::vector<int64_t> &widths, bool selfDispatch) {
    ops_.clear();
    for (size_t i = 0; i + 1 < widths.size(); ++i) {
      BmmOptions o;
      o.k = widths[i];
      o.n = widths[i + 1];
      o.selfDispatch = selfDispatch;
      o.binaries.emplace_back(fb::Format::OPENCL_C, maskedBmmSource());
      ops_.push_back(o);
    }
    load(makeMaskedBmmChainBundle(ops_));
    std::vector<size_t> order;
    for (size_t i = 0; i < ops_.size(); ++i)
      order.push_back(i);
    ASSERT_EQ(
        dynaspa_network_create(bundle_, order.data(), order.size(), &net_),
        DYNASPA_OK)
        << dynaspa_context_last_error(ctx_);
  }

  std::vector<float> runNetwork(ChainData &d,
                                std::vector<dynaspa_run_stats_t> *stats) {
    return runChainNetwork(ctx_, net_, ops_, d, stats);
  }

  std::vector<float> runOneByOne(ChainData &d,
                                 std::vector<dynaspa_run_stats_t> *stats) {
    return runChainOneByOne(ctx_, bundle_, ops_, d, stats);
  }

  static void expectNearReference(const std::vector<float> &got,
                                  const std::vector<float> &want) {
    ASSERT_EQ(got.size(), want.size());
    double maxRef = 1.0;
    for (float w : want)
      maxRef = std::max(maxRef, std::fabs(static_cast<double>(w)));
    for (size_t i = 0; i < got.size(); ++i) {
      EXPECT_LE(std::fabs(got[i] - want[i]) / maxRef, 1e-5) << "element " << i;
      if (want[i] == 0.0f) {
        EXPECT_EQ(got[i], 0.0f) << "element " << i;
      }
    }
  }

  dynaspa_network_t *net_ = nullptr;
  std::vector<BmmOptions> ops_;
};

TEST_F(OpenCLNetwork, ChainMatchesOneByOneAndTheReference) {
  for (bool selfDispatch : {false, true}) {
    SCOPED_TRACE(selfDispatch ? "self-dispatching" : "host-selected");
    EXPECT_EQ(dynaspa_network_destroy(net_), DYNASPA_OK);
    EXPECT_EQ(dynaspa_bundle_destroy(bundle_), DYNASPA_OK);
    net_ = nullptr;
    bundle_ = nullptr;
    // Four operators of different widths: the buffers are sized by the
    // largest tensor ([2,5,6]) and each fill by its output.
    make({3, 6, 2, 5, 4}, selfDispatch);
    dynaspa_network_info_t info = {};
    ASSERT_EQ(dynaspa_network_get_info(net_, &info), DYNASPA_OK);
    EXPECT_EQ(info.num_buffers, 3u);
    EXPECT_EQ(info.buffer_bytes, 2u * 5 * 6 * 4);
    EXPECT_EQ(info.num_inputs, 12u);
    ChainData d = makeChainData(
        ops_,
        {{1, 1, 1, 1, 1}, {1, 0, 1, 1, 1}, {0, 1, 0, 0, 1}, {1, 1, 0, 1, 1}});
    std::vector<dynaspa_run_stats_t> netStats, opStats;
    std::vector<float> got = runNetwork(d, &netStats);
    std::vector<float> oneByOne = runOneByOne(d, &opStats);
    EXPECT_EQ(got, oneByOne);
    expectNearReference(got, d.want);
    // Tile counts 5, 4, 2, 4: dense, dense, rows, dense.
    ASSERT_EQ(netStats.size(), 4u);
    std::vector<int64_t> counts = {5, 4, 2, 4};
    for (size_t k = 0; k < 4; ++k) {
      EXPECT_EQ(netStats[k].tile_count, counts[k]) << k;
      EXPECT_EQ(netStats[k].variant, opStats[k].variant) << k;
      EXPECT_EQ(netStats[k].variant, counts[k] <= 2 ? 0 : 1) << k;
      EXPECT_GE(netStats[k].prologue_ms, 0.0f);
      EXPECT_GE(netStats[k].variant_ms, 0.0f);
    }
  }
}

TEST_F(OpenCLNetwork, SparserLaterMasksLeaveNoStaleData) {
  // Square operators, so that operator 3's output occupies exactly the
  // bytes of operator 0's output in buffer 1.
  make({4, 4, 4, 4, 4}, true);
  std::vector<float> dense = {1, 1, 1, 1, 1};
  ChainData first = makeChainData(ops_, {dense, dense, dense, dense});
  std::vector<float> out = runNetwork(first, nullptr);
  expectNearReference(out, first.want);

  // Operators 0 and 1 dense, 2 and 3 sparse: rows 1-3 of the result are
  // masked off, in a buffer that last held operator 0's dense output (and
  // the previous run's dense result).
  std::vector<std::vector<float>> masks = {
      dense, dense, {1, 0, 1, 0, 1}, {1, 0, 0, 0, 1}};
  ChainData second = makeChainData(ops_, masks);
  std::vector<BmmOptions> firstOp(ops_.begin(), ops_.begin() + 1);
  ChainData op0 = makeChainData(firstOp, {dense});
  ASSERT_EQ(op0.input, second.input);
  bool staleWouldShow = false;
  for (int64_t b = 0; b < 2; ++b)
    for (int64_t i = 1; i <= 3; ++i)
      for (int64_t j = 0; j < 4; ++j) {
        size_t e = static_cast<size_t>((b * 5 + i) * 4 + j);
        staleWouldShow |= op0.want[e] != 0.0f || out[e] != 0.0f;
      }
  ASSERT_TRUE(staleWouldShow) << "the test data cannot detect stale rows";

  out = runNetwork(second, nullptr);
  expectNearReference(out, second.want);
  for (int64_t b = 0; b < 2; ++b)
    for (int64_t i = 1; i <= 3; ++i)
      for (int64_t j = 0; j < 4; ++j)
        EXPECT_EQ(out[static_cast<size_t>((b * 5 + i) * 4 + j)], 0.0f)
            << "batch " << b << " row " << i << " column " << j;
  std::vector<dynaspa_run_stats_t> stats;
  EXPECT_EQ(runOneByOne(second, &stats), out);
}

TEST_F(OpenCLNetwork, LaunchOnCallerBuffersAndQueue) {
  make({4, 3, 4, 4}, true);
  ChainData d =
      makeChainData(ops_, {{1, 0, 1, 1, 1}, {1, 1, 0, 1, 1}, {0, 1, 1, 0, 1}});
  std::vector<float> want = runNetwork(d, nullptr);
  expectNearReference(want, d.want);

  void *clContext = nullptr;
  ASSERT_EQ(dynaspa_context_native_handles(ctx_, &clContext, nullptr),
            DYNASPA_OK);
  auto context = static_cast<cl_context>(clContext);
  cl_device_id device = nullptr;
  ASSERT_EQ(clGetContextInfo(context, CL_CONTEXT_DEVICES, sizeof(device),
                             &device, nullptr),
            CL_SUCCESS);
  cl_int err = CL_SUCCESS;
  cl_command_queue queue = clCreateCommandQueue(context, device, 0, &err);
  ASSERT_EQ(err, CL_SUCCESS);

  // Device copies: input, then per operator rhs and the mask as i1 bytes.
  std::vector<cl_mem> mems;
  auto upload = [&](const void *data, size_t bytes) -> void * {
    cl_int e = CL_SUCCESS;
    cl_mem m = clCreateBuffer(context, CL_MEM_READ_WRITE | CL_MEM_COPY_HOST_PTR,
                              bytes, const_cast<void *>(data), &e);
    EXPECT_EQ(e, CL_SUCCESS);
    mems.push_back(m);
    return m;
  };
  std::vector<void *> in;
  std::vector<std::vector<uint8_t>> maskBytes;
  for (size_t k = 0; k < ops_.size(); ++k) {
    in.push_back(k == 0 ? upload(d.input.data(), d.input.size() * 4) : nullptr);
    in.push_back(upload(d.rhs[k].data(), d.rhs[k].size() * 4));
    maskBytes.emplace_back(d.masks[k].begin(), d.masks[k].end());
    in.push_back(upload(maskBytes.back().data(), maskBytes.back().size()));
  }
  std::vector<float> poison(want.size(), 1234.0f);
  void *output = upload(poison.data(), poison.size() * 4);
  for (cl_command_queue q : {queue, static_cast<cl_command_queue>(nullptr)}) {
    SCOPED_TRACE(q ? "caller queue" : "the context's queue");
    cl_command_queue used = q;
    if (!q) {
      void *own = nullptr;
      ASSERT_EQ(dynaspa_context_native_handles(ctx_, nullptr, &own),
                DYNASPA_OK);
      used = static_cast<cl_command_queue>(own);
    }
    ASSERT_EQ(clEnqueueWriteBuffer(used, static_cast<cl_mem>(output), CL_TRUE,
                                   0, poison.size() * 4, poison.data(), 0,
                                   nullptr, nullptr),
              CL_SUCCESS);
    ASSERT_EQ(dynaspa_network_launch(net_, in.data(), in.size(), output, q),
              DYNASPA_OK)
        << dynaspa_context_last_error(ctx_);
    std::vector<float> got(want.size(), -1.0f);
    ASSERT_EQ(clEnqueueReadBuffer(used, static_cast<cl_mem>(output), CL_TRUE, 0,
                                  got.size() * 4, got.data(), 0, nullptr,
                                  nullptr),
              CL_SUCCESS);
    EXPECT_EQ(got, want);
  }
  for (cl_mem m : mems)
    clReleaseMemObject(m);
  clReleaseCommandQueue(queue);
}

TEST_F(OpenCLNetwork, BenchmarkTimesThePlanAndTheSerialChain) {
  make({4, 4, 4, 4}, true);
  ChainData d =
      makeChainData(ops_, {{1, 1, 0, 1, 1}, {1, 0, 1, 1, 1}, {0, 1, 1, 0, 1}});
  std::vector<float> before = runNetwork(d, nullptr);
  dynaspa_network_benchmark_result_t r = {};
  dynaspa_benchmark_options_t options = {1, 3, 2};
  ASSERT_EQ(dynaspa_network_benchmark(net_, &options, &r), DYNASPA_OK)
      << dynaspa_context_last_error(ctx_);
  EXPECT_STREQ(r.method, "opencl-host-clock");
  EXPECT_GT(r.median_us, 0.0);
  EXPECT_GT(r.serial_median_us, 0.0);
  EXPECT_LE(r.min_us, r.median_us);
  EXPECT_LE(r.serial_min_us, r.serial_median_us);
  EXPECT_EQ(r.host_selected, 0);
  RecordProperty("median_us", std::to_string(r.median_us));
  RecordProperty("serial_median_us", std::to_string(r.serial_median_us));
  EXPECT_EQ(runNetwork(d, nullptr), before);
}

TEST_F(OpenCLNetwork, CApiChecksAndLifetimes) {
  make({4, 4, 3}, true);
  size_t bad[] = {0, 9};
  dynaspa_network_t *other = nullptr;
  EXPECT_EQ(dynaspa_network_create(bundle_, bad, 2, &other),
            DYNASPA_INVALID_ARGUMENT);
  EXPECT_STREQ(dynaspa_context_last_error(ctx_),
               "network operator 1: operator index 9 out of range");
  EXPECT_EQ(other, nullptr);
  size_t misfit[] = {1, 1}; // [2,5,3] out, [2,5,4] in.
  EXPECT_EQ(dynaspa_network_create(bundle_, misfit, 2, &other),
            DYNASPA_SHAPE_MISMATCH);
  EXPECT_NE(std::string(dynaspa_context_last_error(ctx_))
                .find("cannot take the output"),
            std::string::npos);
  EXPECT_EQ(dynaspa_network_create(bundle_, nullptr, 0, &other),
            DYNASPA_INVALID_ARGUMENT);
  EXPECT_EQ(dynaspa_network_create(nullptr, bad, 1, &other),
            DYNASPA_INVALID_ARGUMENT);
  EXPECT_EQ(dynaspa_network_create(bundle_, bad, 1, nullptr),
            DYNASPA_INVALID_ARGUMENT);
  EXPECT_EQ(dynaspa_network_get_info(net_, nullptr), DYNASPA_INVALID_ARGUMENT);
  EXPECT_EQ(dynaspa_network_prepare(nullptr), DYNASPA_INVALID_ARGUMENT);
  EXPECT_EQ(dynaspa_network_run(nullptr, nullptr, 0, nullptr, nullptr),
            DYNASPA_INVALID_ARGUMENT);
  EXPECT_EQ(dynaspa_network_launch(nullptr, nullptr, 0, nullptr, nullptr),
            DYNASPA_INVALID_ARGUMENT);
  EXPECT_EQ(dynaspa_network_benchmark(net_, nullptr, nullptr),
            DYNASPA_INVALID_ARGUMENT);
  EXPECT_EQ(dynaspa_network_destroy(nullptr), DYNASPA_OK);

  // The bundle outlives its networks.
  EXPECT_EQ(dynaspa_bundle_destroy(bundle_), DYNASPA_INVALID_ARGUMENT);
  EXPECT_NE(std::string(dynaspa_context_last_error(ctx_)).find("networks"),
            std::string::npos);
  ASSERT_EQ(dynaspa_network_prepare(net_), DYNASPA_OK)
      << dynaspa_context_last_error(ctx_);
  EXPECT_EQ(dynaspa_network_destroy(net_), DYNASPA_OK);
  net_ = nullptr;
  EXPECT_EQ(dynaspa_bundle_destroy(bundle_), DYNASPA_OK);
  bundle_ = nullptr;
}

TEST(OpenCLNetworkCpp, OneOperatorThreeTimesWithItsOwnInputsEachTime) {
  Context context;
  Status s = Context::create(DYNASPA_DEVICE_OPENCL, &context);
  if (s.code() == DYNASPA_NO_DEVICE || s.code() == DYNASPA_UNSUPPORTED)
    GTEST_SKIP() << "no OpenCL device: " << s.message();
  ASSERT_TRUE(s) << s.message();
  BmmOptions o;
  o.k = o.n = 4;
  o.selfDispatch = true;
  o.binaries.emplace_back(fb::Format::OPENCL_C, maskedBmmSource());
  std::vector<uint8_t> bytes = serializeBundle(makeMaskedBmmChainBundle({o}));
  Bundle bundle;
  ASSERT_TRUE(context.loadBytes(bytes.data(), bytes.size(), &bundle));
  {
    Network net;
    ASSERT_TRUE(Network::create(bundle, {0, 0, 0}, &net));
    EXPECT_EQ(net.info().num_inputs, 9u);
    // makeChainData gives each position its own rhs; the masks differ too.
    std::vector<BmmOptions> ops(3, o);
    ChainData d =
        makeChainData(ops, {{1, 1, 0, 1, 1}, {0, 1, 1, 1, 1}, {1, 1, 1, 0, 1}});
    int64_t act[] = {o.batch, o.m, o.k}, rhs[] = {o.batch, o.k, o.n},
            mask[] = {o.m};
    std::vector<dynaspa_host_tensor_t> in;
    for (size_t k = 0; k < 3; ++k) {
      in.push_back({k ? nullptr : d.input.data(), DYNASPA_F32, 3, act});
      in.push_back({d.rhs[k].data(), DYNASPA_F32, 3, rhs});
      in.push_back({d.masks[k].data(), DYNASPA_F32, 1, mask});
    }
    std::vector<float> out(d.want.size(), 1234.0f);
    ASSERT_TRUE(net.run(in, {out.data(), DYNASPA_F32, 3, act}));
    for (size_t i = 0; i < out.size(); ++i)
      EXPECT_NEAR(out[i], d.want[i], 1e-4) << "element " << i;
    dynaspa_network_benchmark_result_t r = {};
    dynaspa_benchmark_options_t options = {0, 1, 1};
    EXPECT_TRUE(net.benchmark(&options, &r));
    // A bundle in use by a network stays.
    EXPECT_EQ(dynaspa_bundle_destroy(bundle.get()), DYNASPA_INVALID_ARGUMENT);
  }
}

} // namespace
} // namespace dynaspa::runtime::testing
