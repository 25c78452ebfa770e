//===- cuda_test.cpp - end to end on a CUDA device ------------------------===//
//
// Part of the dynaspa project.
//
//===----------------------------------------------------------------------===//
//
// The CUDA twin of opencl_test.cpp, over tests/kernels/masked_bmm.cu built
// by nvcc at test-build time. Skips where there is no GPU (NO_DEVICE) or no
// nvcc; on the build machine only CApi.CudaWithoutGpuReportsNoDevice runs.
//
//===----------------------------------------------------------------------===//

#include "dynaspa/runtime/runtime.h"
#include "test_bundles.h"

#include <gtest/gtest.h>

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

} // namespace
} // namespace dynaspa::runtime::testing
