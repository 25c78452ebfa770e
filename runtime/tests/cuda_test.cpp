//===- cuda_test.cpp - end to end on a CUDA device ------------------------===//
//
// Part of the dynaspa project.
//
//===----------------------------------------------------------------------===//
//
// The CUDA twin of opencl_test.cpp, over tests/kernels/masked_bmm.cu built
// by nvcc at test-build time. Skips where there is no GPU (NO_DEVICE) or no
// nvcc; on the build machine only CApi.CudaWithoutGpuReportsNoDevice runs.
// The launch tests play PyTorch's part: they load the driver themselves,
// allocate in the primary context, and capture dynaspa_operator_launch into
// a CUDA graph on their own stream.
//
//===----------------------------------------------------------------------===//

#include "dynaspa/runtime/runtime.h"
#include "test_bundles.h"

#include <gtest/gtest.h>

#include "cuda/cuda_symbols.h"

#include <dlfcn.h>

#include <algorithm>
#include <cmath>

namespace dynaspa::runtime::testing {
namespace {

class Cuda : public ::testing::Test {
protected:
  void SetUp() override {
    dynaspa_status_t s = dynaspa_context_create(DYNASPA_DEVICE_CUDA, &ctx_);
    if (s == DYNASPA_NO_DEVICE || s == DYNASPA_UNSUPPORTED)
      GTEST_SKIP() << "no CUDA device: " << dynaspa_context_last_error(nullptr);
    ASSERT_EQ(s, DYNASPA_OK) << dynaspa_context_last_error(nullptr);
    const char *name = nullptr;
    ASSERT_EQ(dynaspa_context_device_name(ctx_, &name), DYNASPA_OK);
    device_ = name;
    if (maskedBmmPtx().empty())
      GTEST_SKIP() << "nvcc was not found when the tests were built";
  }
  void TearDown() override {
    EXPECT_EQ(dynaspa_network_destroy(net_), DYNASPA_OK);
    EXPECT_EQ(dynaspa_bundle_destroy(bundle_), DYNASPA_OK);
    EXPECT_EQ(dynaspa_context_destroy(ctx_), DYNASPA_OK);
  }

  dynaspa_status_t load(const BmmOptions &o) {
    std::vector<uint8_t> bytes = serializeBundle(makeMaskedBmmBundle(o));
    EXPECT_EQ(
        dynaspa_bundle_load_bytes(ctx_, bytes.data(), bytes.size(), &bundle_),
        DYNASPA_OK)
        << dynaspa_context_last_error(ctx_);
    return dynaspa_operator_prepare(bundle_, 0);
  }

  static std::pair<fb::Format, std::vector<uint8_t>>
  binary(fb::Format format, std::vector<uint8_t> data) {
    return {format, std::move(data)};
  }

  /// A bundle of `ops` (PTX) and a network of all of them in order.
  void loadChain(std::vector<BmmOptions> &ops) {
    for (BmmOptions &o : ops)
      o.binaries = {binary(fb::Format::PTX, maskedBmmPtx())};
    std::vector<uint8_t> bytes = serializeBundle(makeMaskedBmmChainBundle(ops));
    ASSERT_EQ(
        dynaspa_bundle_load_bytes(ctx_, bytes.data(), bytes.size(), &bundle_),
        DYNASPA_OK)
        << dynaspa_context_last_error(ctx_);
    std::vector<size_t> order;
    for (size_t i = 0; i < ops.size(); ++i)
      order.push_back(i);
    ASSERT_EQ(
        dynaspa_network_create(bundle_, order.data(), order.size(), &net_),
        DYNASPA_OK)
        << dynaspa_context_last_error(ctx_);
  }

  /// Chain operators [batch,m,w_i] x [batch,w_i,w_i+1].
  static std::vector<BmmOptions> chain(const std::vector<int64_t> &widths,
                                       bool selfDispatch, int64_t batch = 2,
                                       int64_t m = 5) {
    std::vector<BmmOptions> ops;
    for (size_t i = 0; i + 1 < widths.size(); ++i) {
      BmmOptions o;
      o.batch = batch;
      o.m = m;
      o.k = widths[i];
      o.n = widths[i + 1];
      o.rowsVariantMaxTiles = m / 2;
      o.selfDispatch = selfDispatch;
      ops.push_back(o);
    }
    return ops;
  }

  dynaspa_context_t *ctx_ = nullptr;
  dynaspa_bundle_t *bundle_ = nullptr;
  dynaspa_network_t *net_ = nullptr;
  std::string device_;
};

TEST_F(Cuda, PtxRunsAndDispatchesOnTileCount) {
  BmmOptions o;
  o.binaries.push_back(binary(fb::Format::PTX, maskedBmmPtx()));
  ASSERT_EQ(load(o), DYNASPA_OK) << dynaspa_context_last_error(ctx_);
  RecordProperty("device", device_);
  dynaspa_run_stats_t stats = runMaskedBmm(ctx_, bundle_, o, {0, 1, 0, 0, 1});
  EXPECT_EQ(stats.variant, 0);
  EXPECT_EQ(stats.tile_count, 2);
  EXPECT_GT(stats.prologue_ms, 0.0f);
  EXPECT_GT(stats.variant_ms, 0.0f);
  stats = runMaskedBmm(ctx_, bundle_, o, {1, 1, 1, 1, 0});
  EXPECT_EQ(stats.variant, 1);
  EXPECT_EQ(stats.tile_count, 4);
  stats = runMaskedBmm(ctx_, bundle_, o, {0, 0, 0, 0, 0});
  EXPECT_EQ(stats.tile_count, 0);
}

TEST_F(Cuda, LargerShapesMatchTheReference) {
  BmmOptions o;
  o.batch = 3;
  o.m = 197;
  o.k = 64;
  o.n = 70;
  o.rowsVariantMaxTiles = 50;
  o.binaries.push_back(binary(fb::Format::PTX, maskedBmmPtx()));
  ASSERT_EQ(load(o), DYNASPA_OK) << dynaspa_context_last_error(ctx_);
  std::vector<float> mask(197);
  for (size_t i = 0; i < mask.size(); ++i)
    mask[i] = i % 3 == 0 ? 1.0f : 0.0f;
  EXPECT_EQ(runMaskedBmm(ctx_, bundle_, o, mask).variant, 1);
}

TEST_F(Cuda, CubinForThisChipRuns) {
  if (device_.find("(sm_90)") == std::string::npos || maskedBmmCubin().empty())
    GTEST_SKIP() << "the test cubin is for sm_90; device is " << device_;
  BmmOptions o;
  // The cubin is preferred; the broken PTX would fail if it were tried.
  std::string broken = "not ptx";
  o.binaries.push_back(binary(
      fb::Format::PTX, std::vector<uint8_t>(broken.begin(), broken.end())));
  o.binaries.push_back(binary(fb::Format::CUBIN, maskedBmmCubin()));
  fb::BundleT b = makeMaskedBmmBundle(o);
  b.modules[0]->binaries[0]->chip = "sm_90";
  b.modules[0]->binaries[1]->chip = "sm_90";
  std::vector<uint8_t> bytes = serializeBundle(b);
  ASSERT_EQ(
      dynaspa_bundle_load_bytes(ctx_, bytes.data(), bytes.size(), &bundle_),
      DYNASPA_OK);
  ASSERT_EQ(dynaspa_operator_prepare(bundle_, 0), DYNASPA_OK)
      << dynaspa_context_last_error(ctx_);
  runMaskedBmm(ctx_, bundle_, o, {1, 0, 1, 0, 1});
}

TEST_F(Cuda, CubinForAnotherChipIsUnsupported) {
  BmmOptions o;
  o.binaries.push_back(binary(fb::Format::CUBIN, {1, 2, 3}));
  fb::BundleT b = makeMaskedBmmBundle(o);
  b.modules[0]->binaries[0]->chip = "sm_10";
  std::vector<uint8_t> bytes = serializeBundle(b);
  ASSERT_EQ(
      dynaspa_bundle_load_bytes(ctx_, bytes.data(), bytes.size(), &bundle_),
      DYNASPA_OK);
  EXPECT_EQ(dynaspa_operator_prepare(bundle_, 0), DYNASPA_UNSUPPORTED);
}

TEST_F(Cuda, BrokenPtxIsDeviceErrorWithJitLog) {
  BmmOptions o;
  std::string broken = ".version 7.8\n.target sm_80\n.address_size 64\n"
                       ".visible .entry count_rows( {";
  o.binaries.push_back(binary(
      fb::Format::PTX, std::vector<uint8_t>(broken.begin(), broken.end())));
  EXPECT_EQ(load(o), DYNASPA_DEVICE_ERROR);
  EXPECT_NE(
      std::string(dynaspa_context_last_error(ctx_)).find("cuModuleLoadDataEx"),
      std::string::npos)
      << dynaspa_context_last_error(ctx_);
}

TEST_F(Cuda, SelfDispatchPtxRuns) {
  BmmOptions o;
  o.selfDispatch = true;
  o.binaries.push_back(binary(fb::Format::PTX, maskedBmmPtx()));
  ASSERT_EQ(load(o), DYNASPA_OK) << dynaspa_context_last_error(ctx_);
  dynaspa_run_stats_t stats = runMaskedBmm(ctx_, bundle_, o, {0, 1, 0, 0, 1});
  EXPECT_EQ(stats.variant, 0);
  EXPECT_EQ(stats.tile_count, 2);
  stats = runMaskedBmm(ctx_, bundle_, o, {1, 1, 1, 1, 0});
  EXPECT_EQ(stats.variant, 1);
  runMaskedBmm(ctx_, bundle_, o, {0, 0, 0, 0, 0});
}

TEST_F(Cuda, BenchmarkUsesGraphs) {
  BmmOptions o;
  o.selfDispatch = true;
  o.binaries.push_back(binary(fb::Format::PTX, maskedBmmPtx()));
  ASSERT_EQ(load(o), DYNASPA_OK) << dynaspa_context_last_error(ctx_);
  runMaskedBmm(ctx_, bundle_, o, {1, 1, 1, 0, 1});
  dynaspa_benchmark_options_t options = {3, 20, 5};
  dynaspa_benchmark_result_t r = {};
  ASSERT_EQ(dynaspa_operator_benchmark(bundle_, 0, &options, &r), DYNASPA_OK)
      << dynaspa_context_last_error(ctx_);
  EXPECT_STREQ(r.method, "cuda-graph");
  EXPECT_GT(r.median_us, 0.0);
  EXPECT_GT(r.overhead_us, 0.0);
  EXPECT_LE(r.min_us, r.median_us);
  EXPECT_EQ(r.variant, 1);
  EXPECT_EQ(r.tile_count, 4);
  RecordProperty("median_us", std::to_string(r.median_us));
  RecordProperty("overhead_us", std::to_string(r.overhead_us));
  runMaskedBmm(ctx_, bundle_, o, {0, 0, 1, 0, 0});
}

TEST_F(Cuda, VariantLanesRunEagerlyAndInAGraph) {
  // Each variant on its own stream: the results (checked against the
  // reference by runMaskedBmm, on poisoned outputs) and the variant that ran
  // must not change, eagerly and when replayed from the benchmark's graph,
  // whose capture fails on a lane that is not joined back.
  BmmOptions o;
  o.selfDispatch = true;
  o.fillKernels = true;
  o.binaries.push_back(binary(fb::Format::PTX, maskedBmmPtx()));
  ASSERT_EQ(load(o), DYNASPA_OK) << dynaspa_context_last_error(ctx_);
  ASSERT_EQ(dynaspa_operator_set_variant_lanes(bundle_, 0, 1), DYNASPA_OK)
      << dynaspa_context_last_error(ctx_);
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(runMaskedBmm(ctx_, bundle_, o, {0, 1, 0, 0, 1}).variant, 0);
    EXPECT_EQ(runMaskedBmm(ctx_, bundle_, o, {1, 1, 1, 1, 0}).variant, 1);
  }
  dynaspa_benchmark_options_t options = {3, 20, 5};
  dynaspa_benchmark_result_t r = {};
  ASSERT_EQ(dynaspa_operator_benchmark(bundle_, 0, &options, &r), DYNASPA_OK)
      << dynaspa_context_last_error(ctx_);
  EXPECT_EQ(r.variant, 1);
  EXPECT_EQ(r.tile_count, 4);
  runMaskedBmm(ctx_, bundle_, o, {0, 0, 1, 0, 0});
  EXPECT_EQ(dynaspa_operator_set_variant_lanes(bundle_, 7, 1),
            DYNASPA_INVALID_ARGUMENT);
}

TEST_F(Cuda, FillKernelsRunOnASideStreamAlsoInAGraph) {
  // Poisoned outputs (runMaskedBmm), zeros only from the fill kernels on the
  // executor's side stream: eagerly, and forked into and joined back from
  // the benchmark's graph capture (whose end would fail on an unjoined
  // stream).
  BmmOptions o;
  o.selfDispatch = true;
  o.fillKernels = true;
  o.binaries.push_back(binary(fb::Format::PTX, maskedBmmPtx()));
  ASSERT_EQ(load(o), DYNASPA_OK) << dynaspa_context_last_error(ctx_);
  for (int i = 0; i < 3; ++i) {
    runMaskedBmm(ctx_, bundle_, o, {0, 1, 0, 0, 1});
    runMaskedBmm(ctx_, bundle_, o, {1, 1, 1, 1, 0});
  }
  dynaspa_benchmark_options_t options = {3, 20, 5};
  dynaspa_benchmark_result_t r = {};
  ASSERT_EQ(dynaspa_operator_benchmark(bundle_, 0, &options, &r), DYNASPA_OK)
      << dynaspa_context_last_error(ctx_);
  EXPECT_GT(r.zero_fill_us, 0.0);
  runMaskedBmm(ctx_, bundle_, o, {0, 0, 1, 0, 0});
}

/// The driver as a framework would use it: loaded by the test itself, with
/// the same versioned names the runtime resolves.
class CallerDriver {
public:
  bool load() {
    void *lib = dlopen("libcuda.so.1", RTLD_NOW | RTLD_LOCAL);
    if (!lib)
      return false;
#define DSP_STR2(x) #x
#define DSP_STR(x) DSP_STR2(x)
#define DSP_TEST_LOAD(name)                                                    \
  cu.name = reinterpret_cast<decltype(cu.name)>(dlsym(lib, DSP_STR(name)));    \
  if (!cu.name)                                                                \
    cu.name = reinterpret_cast<decltype(cu.name)>(dlsym(lib, #name));          \
  if (!cu.name)                                                                \
    return false;
    DSP_CU_SYMBOLS(DSP_TEST_LOAD, DSP_TEST_LOAD)
#undef DSP_TEST_LOAD
    return true;
  }
  CudaSymbols cu;
};

TEST_F(Cuda, LaunchOnCallerMemoryIsCapturableIntoAGraph) {
  CallerDriver d;
  ASSERT_TRUE(d.load());
  CudaSymbols &cu = d.cu;
  BmmOptions o;
  o.selfDispatch = true;
  o.binaries.push_back(binary(fb::Format::PTX, maskedBmmPtx()));
  std::vector<uint8_t> bytes = serializeBundle(makeMaskedBmmBundle(o));
  ASSERT_EQ(
      dynaspa_bundle_load_bytes(ctx_, bytes.data(), bytes.size(), &bundle_),
      DYNASPA_OK);

  // What PyTorch does: the primary context, current on this thread.
  CUdevice device = 0;
  CUcontext primary = nullptr;
  ASSERT_EQ(cu.cuDeviceGet(&device, 0), CUDA_SUCCESS);
  ASSERT_EQ(cu.cuDevicePrimaryCtxRetain(&primary, device), CUDA_SUCCESS);
  ASSERT_EQ(cu.cuCtxSetCurrent(primary), CUDA_SUCCESS);
  void *native = nullptr;
  ASSERT_EQ(dynaspa_context_native_handles(ctx_, &native, nullptr), DYNASPA_OK);
  EXPECT_EQ(native, primary);

  std::vector<float> rowMask = {1, 0, 1, 1, 0};
  BmmData data = makeBmmData(o, rowMask);
  std::vector<uint8_t> maskBytes(data.mask.size());
  for (size_t i = 0; i < maskBytes.size(); ++i)
    maskBytes[i] = data.mask[i] != 0.0f;
  std::vector<float> poison(data.want.size(), 1234.0f);
  CUstream stream = nullptr;
  ASSERT_EQ(cu.cuStreamCreate(&stream, CU_STREAM_NON_BLOCKING), CUDA_SUCCESS);
  CUdeviceptr ptr[4] = {0, 0, 0, 0};
  const void *host[4] = {data.lhs.data(), data.rhs.data(), maskBytes.data(),
                         poison.data()};
  size_t size[4] = {data.lhs.size() * 4, data.rhs.size() * 4, maskBytes.size(),
                    poison.size() * 4};
  for (int i = 0; i < 4; ++i) {
    ASSERT_EQ(cu.cuMemAlloc(&ptr[i], size[i]), CUDA_SUCCESS);
    ASSERT_EQ(cu.cuMemcpyHtoDAsync(ptr[i], host[i], size[i], stream),
              CUDA_SUCCESS);
  }
  void *inputs[] = {reinterpret_cast<void *>(ptr[0]),
                    reinterpret_cast<void *>(ptr[1]),
                    reinterpret_cast<void *>(ptr[2])};
  void *outputs[] = {reinterpret_cast<void *>(ptr[3])};

  // Capturing an unprepared operator is refused without breaking capture.
  ASSERT_EQ(cu.cuStreamBeginCapture(stream, CU_STREAM_CAPTURE_MODE_GLOBAL),
            CUDA_SUCCESS);
  EXPECT_EQ(dynaspa_operator_launch(bundle_, 0, inputs, 3, outputs, 1, stream),
            DYNASPA_INVALID_ARGUMENT);
  EXPECT_NE(std::string(dynaspa_context_last_error(ctx_))
                .find("dynaspa_operator_prepare"),
            std::string::npos);
  CUgraph graph = nullptr;
  ASSERT_EQ(cu.cuStreamEndCapture(stream, &graph), CUDA_SUCCESS);
  if (graph)
    cu.cuGraphDestroy(graph);

  // Prepared: an eager launch, then a captured one replayed twice.
  ASSERT_EQ(dynaspa_operator_prepare(bundle_, 0), DYNASPA_OK)
      << dynaspa_context_last_error(ctx_);
  ASSERT_EQ(dynaspa_operator_launch(bundle_, 0, inputs, 3, outputs, 1, stream),
            DYNASPA_OK)
      << dynaspa_context_last_error(ctx_);
  ASSERT_EQ(cu.cuStreamBeginCapture(stream, CU_STREAM_CAPTURE_MODE_GLOBAL),
            CUDA_SUCCESS);
  EXPECT_EQ(dynaspa_operator_launch(bundle_, 0, inputs, 3, outputs, 1, stream),
            DYNASPA_OK)
      << dynaspa_context_last_error(ctx_);
  ASSERT_EQ(cu.cuStreamEndCapture(stream, &graph), CUDA_SUCCESS);
  CUgraphExec exec = nullptr;
  ASSERT_EQ(cu.cuGraphInstantiateWithFlags(&exec, graph, 0), CUDA_SUCCESS);
  for (int rep = 0; rep < 2; ++rep) {
    // Poison between replays: each replay must zero-fill by itself.
    ASSERT_EQ(cu.cuMemcpyHtoDAsync(ptr[3], poison.data(), size[3], stream),
              CUDA_SUCCESS);
    ASSERT_EQ(cu.cuGraphLaunch(exec, stream), CUDA_SUCCESS);
    std::vector<float> got(data.want.size(), -1.0f);
    ASSERT_EQ(cu.cuMemcpyDtoHAsync(got.data(), ptr[3], size[3], stream),
              CUDA_SUCCESS);
    ASSERT_EQ(cu.cuStreamSynchronize(stream), CUDA_SUCCESS);
    for (size_t i = 0; i < got.size(); ++i)
      EXPECT_NEAR(got[i], data.want[i], 1e-5) << "element " << i;
  }
  // The runtime left this thread's context as it found it.
  CUcontext current = nullptr;
  EXPECT_EQ(cu.cuCtxGetCurrent(&current), CUDA_SUCCESS);
  EXPECT_EQ(current, primary);

  cu.cuGraphExecDestroy(exec);
  cu.cuGraphDestroy(graph);
  for (CUdeviceptr p : ptr)
    cu.cuMemFree(p);
  cu.cuStreamDestroy(stream);
  cu.cuDevicePrimaryCtxRelease(device);
}

TEST_F(Cuda, NetworkMatchesOneByOneAndTheReference) {
  for (bool selfDispatch : {false, true}) {
    SCOPED_TRACE(selfDispatch ? "self-dispatching" : "host-selected");
    EXPECT_EQ(dynaspa_network_destroy(net_), DYNASPA_OK);
    EXPECT_EQ(dynaspa_bundle_destroy(bundle_), DYNASPA_OK);
    net_ = nullptr;
    bundle_ = nullptr;
    std::vector<BmmOptions> ops = chain({3, 6, 2, 5, 4}, selfDispatch);
    loadChain(ops);
    // Operators 0 and 1 dense-ish, 2 and 3 sparser: buffer 1 held operator
    // 0's output when operator 3 writes its sparse rows into it.
    ChainData d = makeChainData(
        ops,
        {{1, 1, 1, 1, 1}, {1, 0, 1, 1, 1}, {0, 1, 0, 0, 1}, {1, 0, 0, 0, 1}});
    std::vector<dynaspa_run_stats_t> netStats, opStats;
    std::vector<float> got = runChainNetwork(ctx_, net_, ops, d, &netStats);
    EXPECT_EQ(got, runChainOneByOne(ctx_, bundle_, ops, d, &opStats));
    ASSERT_EQ(got.size(), d.want.size());
    for (size_t i = 0; i < got.size(); ++i) {
      EXPECT_NEAR(got[i], d.want[i], 1e-4) << "element " << i;
      if (d.want[i] == 0.0f) {
        EXPECT_EQ(got[i], 0.0f) << "element " << i;
      }
    }
    for (size_t k = 0; k < ops.size(); ++k) {
      EXPECT_EQ(netStats[k].variant, opStats[k].variant) << k;
      EXPECT_EQ(netStats[k].tile_count, opStats[k].tile_count) << k;
      EXPECT_GT(netStats[k].variant_ms, 0.0f) << k;
    }
  }
}

TEST_F(Cuda, NetworkLaunchIsCapturableIntoAGraph) {
  CallerDriver driver;
  ASSERT_TRUE(driver.load());
  CudaSymbols &cu = driver.cu;
  std::vector<BmmOptions> ops = chain({4, 3, 4, 4, 4}, true);
  loadChain(ops);
  ChainData d = makeChainData(
      ops,
      {{1, 1, 1, 1, 1}, {1, 1, 0, 1, 1}, {0, 1, 1, 0, 1}, {1, 0, 0, 1, 0}});
  std::vector<dynaspa_run_stats_t> stats;
  std::vector<float> want = runChainNetwork(ctx_, net_, ops, d, nullptr);
  EXPECT_EQ(want, runChainOneByOne(ctx_, bundle_, ops, d, &stats));

  CUdevice device = 0;
  CUcontext primary = nullptr;
  ASSERT_EQ(cu.cuDeviceGet(&device, 0), CUDA_SUCCESS);
  ASSERT_EQ(cu.cuDevicePrimaryCtxRetain(&primary, device), CUDA_SUCCESS);
  ASSERT_EQ(cu.cuCtxSetCurrent(primary), CUDA_SUCCESS);
  CUstream stream = nullptr;
  ASSERT_EQ(cu.cuStreamCreate(&stream, CU_STREAM_NON_BLOCKING), CUDA_SUCCESS);
  std::vector<CUdeviceptr> ptrs;
  auto upload = [&](const void *host, size_t bytes) -> void * {
    CUdeviceptr p = 0;
    EXPECT_EQ(cu.cuMemAlloc(&p, bytes), CUDA_SUCCESS);
    EXPECT_EQ(cu.cuMemcpyHtoDAsync(p, host, bytes, stream), CUDA_SUCCESS);
    ptrs.push_back(p);
    return reinterpret_cast<void *>(p);
  };
  std::vector<std::vector<uint8_t>> masks;
  std::vector<void *> in;
  for (size_t k = 0; k < ops.size(); ++k) {
    in.push_back(k ? nullptr : upload(d.input.data(), d.input.size() * 4));
    in.push_back(upload(d.rhs[k].data(), d.rhs[k].size() * 4));
    masks.emplace_back(d.masks[k].begin(), d.masks[k].end());
    in.push_back(upload(masks.back().data(), masks.back().size()));
  }
  std::vector<float> poison(want.size(), 1234.0f);
  void *out = upload(poison.data(), poison.size() * 4);
  auto outPtr = reinterpret_cast<CUdeviceptr>(out);

  // A fresh network is not prepared: capture is refused and stays intact.
  dynaspa_network_t *fresh = nullptr;
  std::vector<size_t> order = {0, 1, 2, 3};
  ASSERT_EQ(dynaspa_network_create(bundle_, order.data(), 4, &fresh),
            DYNASPA_OK);
  ASSERT_EQ(cu.cuStreamBeginCapture(stream, CU_STREAM_CAPTURE_MODE_GLOBAL),
            CUDA_SUCCESS);
  EXPECT_EQ(dynaspa_network_launch(fresh, in.data(), in.size(), out, stream),
            DYNASPA_INVALID_ARGUMENT);
  CUgraph graph = nullptr;
  ASSERT_EQ(cu.cuStreamEndCapture(stream, &graph), CUDA_SUCCESS);
  if (graph)
    cu.cuGraphDestroy(graph);
  EXPECT_EQ(dynaspa_network_destroy(fresh), DYNASPA_OK);

  // Eager, then captured (the side stream forks and joins inside the
  // capture) and replayed twice, poisoned in between.
  ASSERT_EQ(dynaspa_network_launch(net_, in.data(), in.size(), out, stream),
            DYNASPA_OK)
      << dynaspa_context_last_error(ctx_);
  std::vector<float> got(want.size(), -1.0f);
  ASSERT_EQ(cu.cuMemcpyDtoHAsync(got.data(), outPtr, got.size() * 4, stream),
            CUDA_SUCCESS);
  ASSERT_EQ(cu.cuStreamSynchronize(stream), CUDA_SUCCESS);
  EXPECT_EQ(got, want);
  ASSERT_EQ(cu.cuStreamBeginCapture(stream, CU_STREAM_CAPTURE_MODE_GLOBAL),
            CUDA_SUCCESS);
  EXPECT_EQ(dynaspa_network_launch(net_, in.data(), in.size(), out, stream),
            DYNASPA_OK)
      << dynaspa_context_last_error(ctx_);
  ASSERT_EQ(cu.cuStreamEndCapture(stream, &graph), CUDA_SUCCESS);
  CUgraphExec exec = nullptr;
  ASSERT_EQ(cu.cuGraphInstantiateWithFlags(&exec, graph, 0), CUDA_SUCCESS);
  for (int rep = 0; rep < 2; ++rep) {
    ASSERT_EQ(
        cu.cuMemcpyHtoDAsync(outPtr, poison.data(), poison.size() * 4, stream),
        CUDA_SUCCESS);
    ASSERT_EQ(cu.cuGraphLaunch(exec, stream), CUDA_SUCCESS);
    got.assign(want.size(), -1.0f);
    ASSERT_EQ(cu.cuMemcpyDtoHAsync(got.data(), outPtr, got.size() * 4, stream),
              CUDA_SUCCESS);
    ASSERT_EQ(cu.cuStreamSynchronize(stream), CUDA_SUCCESS);
    EXPECT_EQ(got, want) << "replay " << rep;
  }
  CUcontext current = nullptr;
  EXPECT_EQ(cu.cuCtxGetCurrent(&current), CUDA_SUCCESS);
  EXPECT_EQ(current, primary);
  cu.cuGraphExecDestroy(exec);
  cu.cuGraphDestroy(graph);
  for (CUdeviceptr p : ptrs)
    cu.cuMemFree(p);
  cu.cuStreamDestroy(stream);
  cu.cuDevicePrimaryCtxRelease(device);
}

TEST_F(Cuda, NetworkBenchmarkUsesGraphs) {
  // Attention-like sizes, so that the fills are not free: 6 x 197 rows.
  std::vector<BmmOptions> ops = chain({64, 64, 64, 64, 64}, true, 6, 197);
  loadChain(ops);
  std::vector<std::vector<float>> masks;
  for (size_t k = 0; k < ops.size(); ++k) {
    std::vector<float> m(197);
    for (size_t i = 0; i < m.size(); ++i)
      m[i] = (i + k) % (k + 2) == 0 ? 1.0f : 0.0f;
    masks.push_back(m);
  }
  ChainData d = makeChainData(ops, masks);
  std::vector<float> before = runChainNetwork(ctx_, net_, ops, d, nullptr);
  // Four products of 64 terms grow the values: compare relative to the
  // largest, as dynaspa-run --check does.
  double maxRef = 1.0;
  for (float w : d.want)
    maxRef = std::max(maxRef, std::fabs(static_cast<double>(w)));
  for (size_t i = 0; i < before.size(); ++i)
    ASSERT_LE(std::fabs(before[i] - d.want[i]) / maxRef, 1e-4)
        << "element " << i;
  dynaspa_benchmark_options_t options = {3, 20, 5};
  dynaspa_network_benchmark_result_t r = {};
  ASSERT_EQ(dynaspa_network_benchmark(net_, &options, &r), DYNASPA_OK)
      << dynaspa_context_last_error(ctx_);
  EXPECT_STREQ(r.method, "cuda-graph");
  EXPECT_GT(r.median_us, 0.0);
  EXPECT_GT(r.serial_median_us, 0.0);
  EXPECT_LE(r.min_us, r.median_us);
  RecordProperty("median_us", std::to_string(r.median_us));
  RecordProperty("serial_median_us", std::to_string(r.serial_median_us));
  EXPECT_EQ(runChainNetwork(ctx_, net_, ops, d, nullptr), before);
}

} // namespace
} // namespace dynaspa::runtime::testing
