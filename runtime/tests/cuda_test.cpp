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

  dynaspa_context_t *ctx_ = nullptr;
  dynaspa_bundle_t *bundle_ = nullptr;
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

} // namespace
} // namespace dynaspa::runtime::testing
