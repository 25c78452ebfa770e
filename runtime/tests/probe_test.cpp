//===- probe_test.cpp - calibration probes through the C API --------------===//
//
// Part of the dynaspa project.
//
//===----------------------------------------------------------------------===//
//
// A probe-only bundle (what `dynaspa-compile --probes` writes) with OpenCL C
// stand-ins for the generated probes: it loads, reports its probes, times
// them on the first OpenCL device (PoCL here) and rejects launch shapes the
// probes cannot take. The generated probes themselves are run end to end by
// test/Tools/dynaspa-calibrate.test. Skips only without an OpenCL device.
//
//===----------------------------------------------------------------------===//

#include "dynaspa/runtime/runtime.h"
#include "opencl_fixture.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>

namespace dynaspa::runtime::testing {
namespace {

const char *kProbeSource = R"(
kernel void probe_fma(global const float *src, global float *dst, int count) {
  size_t gid = get_global_id(0);
  float a = src[gid], b = a + 0.5f;
  for (int i = 0; i < count; ++i)
    a = fma(a, b, 1.0f);
  dst[gid] = a;
}
kernel void probe_copy(global const float *src, global float *dst, int count) {
  for (size_t i = get_global_id(0) * 4; i < (size_t)count;
       i += get_global_size(0) * 4)
    vstore4(vload4(0, src + i), 0, dst + i);
}
)";

constexpr int64_t kElements = 1 << 16;

fb::BundleT makeProbeBundle() {
  fb::BundleT b;
  b.version = DYNASPA_BUNDLE_VERSION;
  b.producer = "probe_test";
  auto m = std::make_unique<fb::ModuleT>();
  m->name = "probes";
  auto bin = std::make_unique<fb::BinaryT>();
  bin->format = fb::Format::OPENCL_C;
  bin->chip = "opencl";
  bin->data.assign(kProbeSource, kProbeSource + std::strlen(kProbeSource));
  m->binaries.push_back(std::move(bin));
  b.modules.push_back(std::move(m));
  for (auto [kind, kernel, work] :
       {std::tuple{fb::ProbeKind::Fma, "probe_fma", 1u},
        std::tuple{fb::ProbeKind::Copy, "probe_copy", 4u}}) {
    auto p = std::make_unique<fb::ProbeT>();
    p->kind = kind;
    p->module_ = 0;
    p->kernel = kernel;
    p->block = 64;
    p->elements = kElements;
    p->work = work;
    b.probes.push_back(std::move(p));
  }
  return b;
}

class Probes : public OpenCLTest {
protected:
  void SetUp() override {
    OpenCLTest::SetUp();
    if (!IsSkipped() && !HasFatalFailure())
      load(makeProbeBundle());
  }

  dynaspa_status_t bench(size_t probe, uint32_t grid, int64_t count,
                         uint32_t launches = 2) {
    dynaspa_benchmark_options_t options = {1, 2, 3};
    us_ = -1;
    return dynaspa_probe_benchmark(bundle_, probe, grid, count, launches,
                                   &options, &us_);
  }

  double us_ = -1;
};

TEST_F(Probes, DeviceInfoNamesComputeUnits) {
  dynaspa_device_info_t info;
  ASSERT_EQ(dynaspa_context_device_info(ctx_, &info), DYNASPA_OK);
  EXPECT_GT(info.compute_units, 0u);
  EXPECT_GT(info.max_threads_per_block, 0u);
  EXPECT_EQ(dynaspa_context_device_info(ctx_, nullptr),
            DYNASPA_INVALID_ARGUMENT);
}

TEST_F(Probes, ProbeOnlyBundleReportsItsProbesAndNoOperators) {
  size_t n = 0;
  ASSERT_EQ(dynaspa_bundle_probe_count(bundle_, &n), DYNASPA_OK);
  EXPECT_EQ(n, 2u);
  ASSERT_EQ(dynaspa_bundle_operator_count(bundle_, &n), DYNASPA_OK);
  EXPECT_EQ(n, 0u);
  dynaspa_probe_info_t info;
  ASSERT_EQ(dynaspa_probe_get_info(bundle_, 1, &info), DYNASPA_OK);
  EXPECT_EQ(info.kind, DYNASPA_PROBE_COPY);
  EXPECT_STREQ(info.kernel, "probe_copy");
  EXPECT_EQ(info.block, 64u);
  EXPECT_EQ(info.elements, kElements);
  EXPECT_EQ(info.work, 4u);
  EXPECT_EQ(dynaspa_probe_get_info(bundle_, 2, &info),
            DYNASPA_INVALID_ARGUMENT);
  EXPECT_EQ(dynaspa_operator_prepare(bundle_, 0), DYNASPA_INVALID_ARGUMENT);
}

TEST_F(Probes, BenchmarkTimesEveryProbe) {
  ASSERT_EQ(bench(0, 4, 100), DYNASPA_OK) << dynaspa_context_last_error(ctx_);
  EXPECT_TRUE(std::isfinite(us_) && us_ > 0) << us_;
  // A grid as large as the buffers allow; a copy of all of them.
  ASSERT_EQ(bench(0, kElements / 64, 0), DYNASPA_OK)
      << dynaspa_context_last_error(ctx_);
  ASSERT_EQ(bench(1, 8, kElements), DYNASPA_OK)
      << dynaspa_context_last_error(ctx_);
  EXPECT_TRUE(std::isfinite(us_) && us_ > 0) << us_;
}

TEST_F(Probes, BenchmarkRejectsShapesTheProbesCannotTake) {
  struct Case {
    size_t probe;
    uint32_t grid;
    int64_t count;
    uint32_t launches;
    const char *message;
  };
  const Case cases[] = {
      {0, kElements / 64 + 1, 1, 1, "exceeds the probe's"},
      {1, 4, kElements + 4, 1, "at most"},
      {1, 4, 6, 1, "multiple of 4"},
      {0, 4, -1, 1, "out of range"},
      {0, 4, int64_t(1) << 31, 1, "out of range"},
      {0, 0, 1, 1, "grid >= 1"},
      {0, 0x80000000u, 1, 1, "at most 2^31 - 1"},
      {0, 4, 1, 0, "launches >= 1"},
      {2, 4, 1, 1, "probe index 2"},
  };
  for (const Case &c : cases) {
    EXPECT_EQ(bench(c.probe, c.grid, c.count, c.launches),
              DYNASPA_INVALID_ARGUMENT)
        << c.message;
    EXPECT_NE(std::string(dynaspa_context_last_error(ctx_)).find(c.message),
              std::string::npos)
        << dynaspa_context_last_error(ctx_);
  }
  dynaspa_benchmark_options_t bad = {0, 0, 1};
  EXPECT_EQ(dynaspa_probe_benchmark(bundle_, 0, 1, 1, 1, &bad, &us_),
            DYNASPA_INVALID_ARGUMENT);
  EXPECT_EQ(dynaspa_probe_benchmark(bundle_, 0, 1, 1, 1, nullptr, nullptr),
            DYNASPA_INVALID_ARGUMENT);
}

} // namespace
} // namespace dynaspa::runtime::testing
