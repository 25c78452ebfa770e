//===- opencl_fixture.h - a test on the first OpenCL device ----*- C++ -*-===//
//
// Part of the dynaspa project.
//
//===----------------------------------------------------------------------===//
//
// The fixture the OpenCL tests share: a C API context on the first OpenCL
// device (PoCL's CPU device in CI), skipped only when there is no OpenCL
// platform or device, and one bundle loaded from a BundleT.
//
//===----------------------------------------------------------------------===//

#ifndef DYNASPA_RUNTIME_TESTS_OPENCL_FIXTURE_H
#define DYNASPA_RUNTIME_TESTS_OPENCL_FIXTURE_H

#include "test_bundles.h"

#include <gtest/gtest.h>

namespace dynaspa::runtime::testing {

class OpenCLTest : public ::testing::Test {
protected:
  void SetUp() override {
    dynaspa_status_t s = dynaspa_context_create(DYNASPA_DEVICE_OPENCL, &ctx_);
    if (s == DYNASPA_NO_DEVICE || s == DYNASPA_UNSUPPORTED)
      GTEST_SKIP() << "no OpenCL device: "
                   << dynaspa_context_last_error(nullptr);
    ASSERT_EQ(s, DYNASPA_OK) << dynaspa_context_last_error(nullptr);
  }
  void TearDown() override {
    EXPECT_EQ(dynaspa_bundle_destroy(bundle_), DYNASPA_OK);
    EXPECT_EQ(dynaspa_context_destroy(ctx_), DYNASPA_OK);
  }

  /// Serializes, loads and keeps `b` as bundle_.
  void load(const fb::BundleT &b) {
    std::vector<uint8_t> bytes = serializeBundle(b);
    ASSERT_EQ(
        dynaspa_bundle_load_bytes(ctx_, bytes.data(), bytes.size(), &bundle_),
        DYNASPA_OK)
        << dynaspa_context_last_error(ctx_);
  }

  dynaspa_context_t *ctx_ = nullptr;
  dynaspa_bundle_t *bundle_ = nullptr;
};

} // namespace dynaspa::runtime::testing

#endif // DYNASPA_RUNTIME_TESTS_OPENCL_FIXTURE_H
