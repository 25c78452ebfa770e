//===- opencl_test.cpp - end to end on an OpenCL device -------------------===//
//
// Part of the dynaspa project.
//
//===----------------------------------------------------------------------===//
//
// Builds a masked batch matmul bundle from tests/kernels/masked_bmm.cl, runs
// it through the C API on the first OpenCL device (PoCL's CPU device here)
// and checks the result against the float64 reference. Covers both kernel
// formats PoCL takes (OpenCL C; SPIR bitcode when clang-15 was found at build
// time), variant dispatch on the tile count, dtype conversion of a float
// mask, timing stats and the run-time error paths; self-dispatching
// variants, dynaspa_operator_launch on buffers and queues the test creates
// itself in the runtime's cl_context, and dynaspa_operator_benchmark. Skips
// only when no OpenCL platform or device exists.
//
//===----------------------------------------------------------------------===//

#include "dynaspa/runtime/runtime.h"
#include "opencl_fixture.h"

#include <gtest/gtest.h>

#define CL_TARGET_OPENCL_VERSION 300
#define CL_USE_DEPRECATED_OPENCL_1_2_APIS
#include <CL/cl.h>

namespace dynaspa::runtime::testing {
namespace {

class OpenCL : public OpenCLTest {
protected:
  dynaspa_run_stats_t runAndCheck(const BmmOptions &o,
                                  const std::vector<float> &rowMask) {
    return runMaskedBmm(ctx_, bundle_, o, rowMask);
  }
};

TEST_F(OpenCL, OpenCLSourceRunsAndDispatchesOnTileCount) {
  BmmOptions o;
  o.binaries.emplace_back(fb::Format::OPENCL_C, maskedBmmSource());
  load(makeMaskedBmmBundle(o));

  const char *name = nullptr;
  ASSERT_EQ(dynaspa_context_device_name(ctx_, &name), DYNASPA_OK);
  RecordProperty("device", name);
  ASSERT_EQ(dynaspa_operator_prepare(bundle_, 0), DYNASPA_OK)
      << dynaspa_context_last_error(ctx_);

  // Two active rows: the "rows" variant ([0, 2]).
  dynaspa_run_stats_t stats = runAndCheck(o, {0, 1, 0, 0, 0.5f});
  EXPECT_EQ(stats.variant, 0);
  EXPECT_EQ(stats.tile_count, 2);
  EXPECT_GE(stats.prologue_ms, 0.0f);
  EXPECT_GE(stats.variant_ms, 0.0f);
  // Four: the unbounded "dense" one. Runs reuse buffers and kernels.
  stats = runAndCheck(o, {1, 1, 0, 1, 1});
  EXPECT_EQ(stats.variant, 1);
  EXPECT_EQ(stats.tile_count, 4);
  // None active: every output exactly zero (zero fill, no kernel writes).
  stats = runAndCheck(o, {0, 0, 0, 0, 0});
  EXPECT_EQ(stats.variant, 0);
  EXPECT_EQ(stats.tile_count, 0);
}

TEST_F(OpenCL, SpirBitcodeRuns) {
  std::vector<uint8_t> spir = maskedBmmSpirBitcode();
  if (spir.empty())
    GTEST_SKIP() << "clang-15 was not found when the tests were built";
  BmmOptions o;
  o.binaries.emplace_back(fb::Format::SPIR_BC, spir);
  load(makeMaskedBmmBundle(o));
  dynaspa_status_t s = dynaspa_operator_prepare(bundle_, 0);
  if (s == DYNASPA_UNSUPPORTED)
    GTEST_SKIP() << "device takes no SPIR: "
                 << dynaspa_context_last_error(ctx_);
  ASSERT_EQ(s, DYNASPA_OK) << dynaspa_context_last_error(ctx_);
  EXPECT_EQ(runAndCheck(o, {1, 0, 1, 1, 1}).variant, 1);
}

TEST_F(OpenCL, BrokenFirstBinaryFallsBackToTheNext) {
  BmmOptions o;
  std::string broken = "__kernel void oops( {";
  o.binaries.emplace_back(fb::Format::OPENCL_C,
                          std::vector<uint8_t>(broken.begin(), broken.end()));
  o.binaries.emplace_back(fb::Format::OPENCL_C, maskedBmmSource());
  load(makeMaskedBmmBundle(o));
  runAndCheck(o, {1, 1, 1, 1, 1});
}

TEST_F(OpenCL, BuildFailureIsDeviceErrorWithLog) {
  BmmOptions o;
  std::string broken = "__kernel void count_rows( {";
  o.binaries.emplace_back(fb::Format::OPENCL_C,
                          std::vector<uint8_t>(broken.begin(), broken.end()));
  load(makeMaskedBmmBundle(o));
  EXPECT_EQ(dynaspa_operator_prepare(bundle_, 0), DYNASPA_DEVICE_ERROR);
  EXPECT_NE(
      std::string(dynaspa_context_last_error(ctx_)).find("clBuildProgram"),
      std::string::npos)
      << dynaspa_context_last_error(ctx_);
}

TEST_F(OpenCL, PtxOnlyModuleIsUnsupported) {
  BmmOptions o;
  o.binaries.emplace_back(fb::Format::PTX, std::vector<uint8_t>{'x'});
  load(makeMaskedBmmBundle(o));
  EXPECT_EQ(dynaspa_operator_prepare(bundle_, 0), DYNASPA_UNSUPPORTED);
}

TEST_F(OpenCL, MissingKernelIsDeviceError) {
  BmmOptions o;
  o.binaries.emplace_back(fb::Format::OPENCL_C, maskedBmmSource());
  fb::BundleT b = makeMaskedBmmBundle(o);
  b.operators[0]->variants[1]->launches[0]->kernel = "no_such_kernel";
  load(b);
  EXPECT_EQ(dynaspa_operator_prepare(bundle_, 0), DYNASPA_DEVICE_ERROR);
  EXPECT_NE(
      std::string(dynaspa_context_last_error(ctx_)).find("no_such_kernel"),
      std::string::npos);
}

TEST_F(OpenCL, RunRejectsWrongShapesDtypesAndCounts) {
  BmmOptions o;
  o.binaries.emplace_back(fb::Format::OPENCL_C, maskedBmmSource());
  load(makeMaskedBmmBundle(o));
  std::vector<float> a(30), b(24), m(5), c(40);
  int64_t aShape[] = {2, 5, 3}, bShape[] = {2, 3, 4}, mShape[] = {5},
          cShape[] = {2, 5, 4}, wrong[] = {2, 5, 5};
  dynaspa_host_tensor_t in[] = {{a.data(), DYNASPA_F32, 3, aShape},
                                {b.data(), DYNASPA_F32, 3, bShape},
                                {m.data(), DYNASPA_F32, 1, mShape}};
  dynaspa_host_tensor_t out[] = {{c.data(), DYNASPA_F32, 3, cShape}};
  EXPECT_EQ(dynaspa_operator_run(bundle_, 0, in, 2, out, 1, nullptr),
            DYNASPA_INVALID_ARGUMENT);
  EXPECT_EQ(dynaspa_operator_run(bundle_, 1, in, 3, out, 1, nullptr),
            DYNASPA_INVALID_ARGUMENT);
  EXPECT_EQ(dynaspa_operator_run(bundle_, 0, nullptr, 3, out, 1, nullptr),
            DYNASPA_INVALID_ARGUMENT);
  out[0].shape = wrong;
  EXPECT_EQ(dynaspa_operator_run(bundle_, 0, in, 3, out, 1, nullptr),
            DYNASPA_SHAPE_MISMATCH);
  EXPECT_NE(std::string(dynaspa_context_last_error(ctx_)).find("[2,5,4]"),
            std::string::npos)
      << dynaspa_context_last_error(ctx_);
  out[0].shape = cShape;
  in[2].rank = 2;
  EXPECT_EQ(dynaspa_operator_run(bundle_, 0, in, 3, out, 1, nullptr),
            DYNASPA_SHAPE_MISMATCH);
  in[2].rank = 1;
  in[0].dtype = DYNASPA_F64; // Neither f32 nor the buffer's dtype.
  EXPECT_EQ(dynaspa_operator_run(bundle_, 0, in, 3, out, 1, nullptr),
            DYNASPA_DTYPE_MISMATCH);
  in[0].dtype = DYNASPA_F32;
  in[1].data = nullptr;
  EXPECT_EQ(dynaspa_operator_run(bundle_, 0, in, 3, out, 1, nullptr),
            DYNASPA_INVALID_ARGUMENT);
  in[1].data = b.data();
  // The mask may also come as the device's own i1 bytes.
  std::vector<uint8_t> mBytes(5, 1);
  in[2] = {mBytes.data(), DYNASPA_I1, 1, mShape};
  EXPECT_EQ(dynaspa_operator_run(bundle_, 0, in, 3, out, 1, nullptr),
            DYNASPA_OK)
      << dynaspa_context_last_error(ctx_);
}

TEST_F(OpenCL, ContextOutlivesItsBundles) {
  BmmOptions o;
  o.binaries.emplace_back(fb::Format::OPENCL_C, maskedBmmSource());
  load(makeMaskedBmmBundle(o));
  EXPECT_EQ(dynaspa_context_destroy(ctx_), DYNASPA_INVALID_ARGUMENT);
  // TearDown destroys the bundle, then the context.
}

TEST_F(OpenCL, InfoQueries) {
  BmmOptions o;
  o.binaries.emplace_back(fb::Format::OPENCL_C, maskedBmmSource());
  load(makeMaskedBmmBundle(o));
  size_t count = 0, index = 9;
  ASSERT_EQ(dynaspa_bundle_operator_count(bundle_, &count), DYNASPA_OK);
  EXPECT_EQ(count, 1u);
  ASSERT_EQ(dynaspa_bundle_find_operator(bundle_, "attn_qk", &index),
            DYNASPA_OK);
  EXPECT_EQ(index, 0u);
  EXPECT_EQ(dynaspa_bundle_find_operator(bundle_, "nope", &index),
            DYNASPA_INVALID_ARGUMENT);
  dynaspa_operator_info_t info;
  ASSERT_EQ(dynaspa_operator_get_info(bundle_, 0, &info), DYNASPA_OK);
  EXPECT_STREQ(info.name, "attn_qk");
  EXPECT_EQ(info.kind, DYNASPA_OP_BATCH_MATMUL);
  EXPECT_EQ(info.num_inputs, 3u);
  EXPECT_EQ(info.num_outputs, 1u);
  EXPECT_EQ(info.num_variants, 2u);
  dynaspa_tensor_info_t t;
  ASSERT_EQ(dynaspa_operator_get_input(bundle_, 0, 2, &t), DYNASPA_OK);
  EXPECT_STREQ(t.name, "row_mask");
  EXPECT_EQ(t.dtype, DYNASPA_I1);
  ASSERT_EQ(t.rank, 1);
  EXPECT_EQ(t.shape[0], 5);
  ASSERT_EQ(dynaspa_operator_get_output(bundle_, 0, 0, &t), DYNASPA_OK);
  EXPECT_EQ(std::vector<int64_t>(t.shape, t.shape + t.rank),
            (std::vector<int64_t>{2, 5, 4}));
  EXPECT_EQ(dynaspa_operator_get_input(bundle_, 0, 3, &t),
            DYNASPA_INVALID_ARGUMENT);
  EXPECT_EQ(dynaspa_operator_get_output(bundle_, 0, 1, &t),
            DYNASPA_INVALID_ARGUMENT);
  EXPECT_EQ(dynaspa_operator_get_info(bundle_, 1, &info),
            DYNASPA_INVALID_ARGUMENT);
}

TEST_F(OpenCL, SelfDispatchRunsAndReportsTheVariantTheKernelsTook) {
  BmmOptions o;
  o.selfDispatch = true;
  o.binaries.emplace_back(fb::Format::OPENCL_C, maskedBmmSource());
  load(makeMaskedBmmBundle(o));
  dynaspa_run_stats_t stats = runAndCheck(o, {0, 1, 0, 0, 0.5f});
  EXPECT_EQ(stats.variant, 0);
  EXPECT_EQ(stats.tile_count, 2);
  stats = runAndCheck(o, {1, 1, 0, 1, 1});
  EXPECT_EQ(stats.variant, 1);
  EXPECT_EQ(stats.tile_count, 4);
  runAndCheck(o, {0, 0, 0, 0, 0});
}

TEST_F(OpenCL, FillKernelsWriteTheZerosOnASecondQueue) {
  // The output starts poisoned (runMaskedBmm) and is never zero-filled: the
  // fill kernels write its zeros from a second queue, the active rows' ones
  // before the variants overwrite them (a fill after a variant would leave
  // zeros where the product belongs), the masked-off rows' alongside.
  BmmOptions o;
  o.selfDispatch = true;
  o.fillKernels = true;
  o.binaries.emplace_back(fb::Format::OPENCL_C, maskedBmmSource());
  load(makeMaskedBmmBundle(o));
  for (int i = 0; i < 3; ++i) {
    runAndCheck(o, {0, 1, 0, 0, 0.5f});
    runAndCheck(o, {1, 1, 0, 1, 1});
    runAndCheck(o, {0, 0, 0, 0, 0});
  }
  dynaspa_benchmark_options_t options = {1, 3, 3};
  dynaspa_benchmark_result_t r = {};
  ASSERT_EQ(dynaspa_operator_benchmark(bundle_, 0, &options, &r), DYNASPA_OK)
      << dynaspa_context_last_error(ctx_);
  EXPECT_GT(r.zero_fill_us, 0.0); // The fill kernels, timed alone.
  runAndCheck(o, {1, 0, 1, 0, 1});
}

TEST_F(OpenCL, VariantLanesGiveTheSameResults) {
  // dynaspa_operator_set_variant_lanes: the second variant on its own
  // queue, forked after the prologue and joined before the read-back.
  BmmOptions o;
  o.selfDispatch = true;
  o.fillKernels = true;
  o.binaries.emplace_back(fb::Format::OPENCL_C, maskedBmmSource());
  load(makeMaskedBmmBundle(o));
  ASSERT_EQ(dynaspa_operator_set_variant_lanes(bundle_, 0, 1), DYNASPA_OK)
      << dynaspa_context_last_error(ctx_);
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(runAndCheck(o, {0, 1, 0, 0, 0.5f}).variant, 0);
    EXPECT_EQ(runAndCheck(o, {1, 1, 0, 1, 1}).variant, 1);
    runAndCheck(o, {0, 0, 0, 0, 0});
  }
  dynaspa_benchmark_options_t options = {1, 3, 3};
  dynaspa_benchmark_result_t r = {};
  ASSERT_EQ(dynaspa_operator_benchmark(bundle_, 0, &options, &r), DYNASPA_OK)
      << dynaspa_context_last_error(ctx_);
  runAndCheck(o, {1, 0, 1, 0, 1});
  EXPECT_EQ(dynaspa_operator_set_variant_lanes(nullptr, 0, 1),
            DYNASPA_INVALID_ARGUMENT);
}

TEST_F(OpenCL, SelfDispatchSpirBitcodeRuns) {
  std::vector<uint8_t> spir = maskedBmmSpirBitcode();
  if (spir.empty())
    GTEST_SKIP() << "clang-15 was not found when the tests were built";
  BmmOptions o;
  o.selfDispatch = true;
  o.binaries.emplace_back(fb::Format::SPIR_BC, spir);
  load(makeMaskedBmmBundle(o));
  dynaspa_status_t s = dynaspa_operator_prepare(bundle_, 0);
  if (s == DYNASPA_UNSUPPORTED)
    GTEST_SKIP() << "device takes no SPIR: "
                 << dynaspa_context_last_error(ctx_);
  ASSERT_EQ(s, DYNASPA_OK) << dynaspa_context_last_error(ctx_);
  EXPECT_EQ(runAndCheck(o, {1, 0, 1, 0, 0}).variant, 0);
  EXPECT_EQ(runAndCheck(o, {1, 1, 1, 1, 0}).variant, 1);
}

/// A cl_mem of the runtime's context, released with the test.
class ClBuffer {
public:
  ClBuffer(cl_context context, size_t bytes, const void *data) {
    cl_int err = CL_SUCCESS;
    mem_ = clCreateBuffer(context, CL_MEM_READ_WRITE, bytes, nullptr, &err);
    EXPECT_EQ(err, CL_SUCCESS);
    bytes_ = bytes;
    data_ = data;
  }
  ~ClBuffer() {
    if (mem_)
      clReleaseMemObject(mem_);
  }
  void write(cl_command_queue q) {
    EXPECT_EQ(clEnqueueWriteBuffer(q, mem_, CL_TRUE, 0, bytes_, data_, 0,
                                   nullptr, nullptr),
              CL_SUCCESS);
  }
  cl_mem get() const { return mem_; }

private:
  cl_mem mem_ = nullptr;
  size_t bytes_ = 0;
  const void *data_ = nullptr;
};

TEST_F(OpenCL, LaunchRunsOnCallerBuffersAndQueues) {
  BmmOptions o;
  o.selfDispatch = true;
  o.binaries.emplace_back(fb::Format::OPENCL_C, maskedBmmSource());
  load(makeMaskedBmmBundle(o));
  void *nativeContext = nullptr, *nativeQueue = nullptr;
  ASSERT_EQ(dynaspa_context_native_handles(ctx_, &nativeContext, &nativeQueue),
            DYNASPA_OK);
  auto context = static_cast<cl_context>(nativeContext);
  ASSERT_NE(context, nullptr);
  ASSERT_NE(nativeQueue, nullptr);
  cl_device_id device = nullptr;
  ASSERT_EQ(clGetContextInfo(context, CL_CONTEXT_DEVICES, sizeof(device),
                             &device, nullptr),
            CL_SUCCESS);
  cl_int err = CL_SUCCESS;
  cl_command_queue mine = clCreateCommandQueue(context, device, 0, &err);
  ASSERT_EQ(err, CL_SUCCESS);

  for (const std::vector<float> &rowMask :
       {std::vector<float>{0, 1, 0, 0, 1}, std::vector<float>{1, 1, 1, 0, 1}}) {
    BmmData d = makeBmmData(o, rowMask);
    std::vector<uint8_t> maskBytes(d.mask.size());
    for (size_t i = 0; i < d.mask.size(); ++i)
      maskBytes[i] = d.mask[i] != 0.0f;
    std::vector<float> poison(d.want.size(), 1234.0f);
    ClBuffer a(context, d.lhs.size() * 4, d.lhs.data());
    ClBuffer b(context, d.rhs.size() * 4, d.rhs.data());
    ClBuffer m(context, maskBytes.size(), maskBytes.data());
    ClBuffer c(context, poison.size() * 4, poison.data());
    for (ClBuffer *buf : {&a, &b, &m, &c})
      buf->write(mine);
    void *inputs[] = {a.get(), b.get(), m.get()};
    void *outputs[] = {c.get()};
    // The caller's queue, then the context's (NULL): both see the result.
    for (cl_command_queue q : {mine, static_cast<cl_command_queue>(nullptr)}) {
      ASSERT_EQ(dynaspa_operator_launch(bundle_, 0, inputs, 3, outputs, 1, q),
                DYNASPA_OK)
          << dynaspa_context_last_error(ctx_);
      cl_command_queue wait =
          q ? q : static_cast<cl_command_queue>(nativeQueue);
      ASSERT_EQ(clFinish(wait), CL_SUCCESS);
      std::vector<float> got(d.want.size(), -1.0f);
      ASSERT_EQ(clEnqueueReadBuffer(wait, c.get(), CL_TRUE, 0, got.size() * 4,
                                    got.data(), 0, nullptr, nullptr),
                CL_SUCCESS);
      for (size_t i = 0; i < got.size(); ++i)
        EXPECT_NEAR(got[i], d.want[i], 1e-5) << "element " << i;
      // Poison again: the next launch must zero-fill masked rows itself.
      c.write(wait);
    }
  }
  clReleaseCommandQueue(mine);

  void *none[] = {nullptr, nullptr, nullptr};
  EXPECT_EQ(dynaspa_operator_launch(bundle_, 0, none, 3, none, 1, nullptr),
            DYNASPA_INVALID_ARGUMENT);
  EXPECT_EQ(dynaspa_operator_launch(bundle_, 3, none, 3, none, 1, nullptr),
            DYNASPA_INVALID_ARGUMENT);
}

TEST_F(OpenCL, LaunchOfHostSelectedOperatorIsUnsupported) {
  BmmOptions o;
  o.binaries.emplace_back(fb::Format::OPENCL_C, maskedBmmSource());
  load(makeMaskedBmmBundle(o));
  void *none[] = {nullptr, nullptr, nullptr};
  EXPECT_EQ(dynaspa_operator_launch(bundle_, 0, none, 3, none, 1, nullptr),
            DYNASPA_UNSUPPORTED);
  EXPECT_NE(std::string(dynaspa_context_last_error(ctx_))
                .find("not self-dispatching"),
            std::string::npos);
}

TEST_F(OpenCL, BenchmarkTimesTheLastRunsInputs) {
  BmmOptions o;
  o.selfDispatch = true;
  o.binaries.emplace_back(fb::Format::OPENCL_C, maskedBmmSource());
  load(makeMaskedBmmBundle(o));
  runAndCheck(o, {1, 1, 1, 0, 1});
  dynaspa_benchmark_options_t options = {1, 3, 3};
  dynaspa_benchmark_result_t r = {};
  ASSERT_EQ(dynaspa_operator_benchmark(bundle_, 0, &options, &r), DYNASPA_OK)
      << dynaspa_context_last_error(ctx_);
  EXPECT_GT(r.median_us, 0.0);
  EXPECT_LE(r.min_us, r.median_us);
  EXPECT_GT(r.overhead_us, 0.0);
  EXPECT_EQ(r.variant, 1);
  EXPECT_EQ(r.tile_count, 4);
  EXPECT_EQ(r.host_selected, 0);
  EXPECT_STREQ(r.method, "opencl-host-clock");
  EXPECT_EQ(dynaspa_operator_benchmark(bundle_, 0, nullptr, nullptr),
            DYNASPA_INVALID_ARGUMENT);
  // A later run still computes correctly after the graphs were replayed.
  runAndCheck(o, {0, 0, 1, 0, 0});
}

} // namespace
} // namespace dynaspa::runtime::testing
