//===- capi_test.cpp - C API behaviour that needs no device ---------------===//
//
// Part of the dynaspa project.
//
//===----------------------------------------------------------------------===//
//
// Status strings, null handling, loading bad bundles through the C API, and
// the CUDA backend's behaviour without a GPU (NO_DEVICE, not a crash).
//
//===----------------------------------------------------------------------===//

#include "dynaspa/runtime/runtime.h"
#include "dynaspa/runtime/runtime.hpp"
#include "test_bundles.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>

namespace dynaspa::runtime::testing {
namespace {

TEST(CApi, StatusStrings) {
  EXPECT_STREQ(dynaspa_status_string(DYNASPA_OK), "DYNASPA_OK");
  EXPECT_STREQ(dynaspa_status_string(DYNASPA_BAD_BUNDLE), "DYNASPA_BAD_BUNDLE");
  EXPECT_STREQ(dynaspa_status_string(DYNASPA_IO_ERROR), "DYNASPA_IO_ERROR");
  EXPECT_STREQ(dynaspa_status_string(static_cast<dynaspa_status_t>(77)),
               "DYNASPA_UNKNOWN_STATUS");
}

TEST(CApi, NullArgumentsAreInvalid) {
  EXPECT_EQ(dynaspa_context_create(DYNASPA_DEVICE_AUTO, nullptr),
            DYNASPA_INVALID_ARGUMENT);
  EXPECT_STRNE(dynaspa_context_last_error(nullptr), "");
  dynaspa_context_t *ctx = nullptr;
  EXPECT_EQ(dynaspa_context_create(static_cast<dynaspa_device_kind_t>(9), &ctx),
            DYNASPA_INVALID_ARGUMENT);
  EXPECT_EQ(ctx, nullptr);
  EXPECT_EQ(dynaspa_context_destroy(nullptr), DYNASPA_OK);
  EXPECT_EQ(dynaspa_bundle_destroy(nullptr), DYNASPA_OK);
  EXPECT_EQ(dynaspa_bundle_load_bytes(nullptr, nullptr, 0, nullptr),
            DYNASPA_INVALID_ARGUMENT);
  size_t n;
  EXPECT_EQ(dynaspa_bundle_operator_count(nullptr, &n),
            DYNASPA_INVALID_ARGUMENT);
  EXPECT_EQ(dynaspa_operator_run(nullptr, 0, nullptr, 0, nullptr, 0, nullptr),
            DYNASPA_INVALID_ARGUMENT);
  EXPECT_EQ(dynaspa_operator_prepare(nullptr, 0), DYNASPA_INVALID_ARGUMENT);
  EXPECT_EQ(
      dynaspa_operator_launch(nullptr, 0, nullptr, 0, nullptr, 0, nullptr),
      DYNASPA_INVALID_ARGUMENT);
  dynaspa_benchmark_result_t result;
  EXPECT_EQ(dynaspa_operator_benchmark(nullptr, 0, nullptr, &result),
            DYNASPA_INVALID_ARGUMENT);
  EXPECT_EQ(dynaspa_context_native_handles(nullptr, nullptr, nullptr),
            DYNASPA_INVALID_ARGUMENT);
}

TEST(CApi, CudaWithoutGpuReportsNoDevice) {
  dynaspa_context_t *ctx = nullptr;
  dynaspa_status_t s = dynaspa_context_create(DYNASPA_DEVICE_CUDA, &ctx);
  if (s == DYNASPA_OK) {
    const char *name = nullptr;
    EXPECT_EQ(dynaspa_context_device_name(ctx, &name), DYNASPA_OK);
    std::string device = name; // `name` dies with the context.
    RecordProperty("cuda_device", device);
    EXPECT_EQ(dynaspa_context_destroy(ctx), DYNASPA_OK);
    GTEST_SKIP() << "a CUDA device is present: " << device;
  }
  EXPECT_TRUE(s == DYNASPA_NO_DEVICE || s == DYNASPA_UNSUPPORTED)
      << dynaspa_status_string(s) << ": "
      << dynaspa_context_last_error(nullptr);
  EXPECT_EQ(ctx, nullptr);
  EXPECT_STRNE(dynaspa_context_last_error(nullptr), "");
}

TEST(CApi, AutoPicksSomeDeviceOrReportsBoth) {
  dynaspa_context_t *ctx = nullptr;
  dynaspa_status_t s = dynaspa_context_create(DYNASPA_DEVICE_AUTO, &ctx);
  if (s != DYNASPA_OK) {
    EXPECT_NE(std::string(dynaspa_context_last_error(nullptr)).find("CUDA"),
              std::string::npos);
    GTEST_SKIP() << dynaspa_context_last_error(nullptr);
  }
  dynaspa_device_kind_t kind = DYNASPA_DEVICE_AUTO;
  EXPECT_EQ(dynaspa_context_device_kind(ctx, &kind), DYNASPA_OK);
  EXPECT_NE(kind, DYNASPA_DEVICE_AUTO);
  EXPECT_EQ(dynaspa_context_destroy(ctx), DYNASPA_OK);
}

class CApiLoad : public ::testing::Test {
protected:
  void SetUp() override {
    if (dynaspa_context_create(DYNASPA_DEVICE_AUTO, &ctx_) != DYNASPA_OK)
      GTEST_SKIP() << "no device: " << dynaspa_context_last_error(nullptr);
  }
  void TearDown() override { EXPECT_EQ(dynaspa_context_destroy(ctx_), 0); }
  dynaspa_context_t *ctx_ = nullptr;
};

TEST_F(CApiLoad, BadBytesGiveStatusAndMessage) {
  std::vector<uint8_t> bytes = serializeBundle(makeDefaultBundle());
  dynaspa_bundle_t *bundle = nullptr;
  // Odd sizes exercise the copy into aligned storage.
  EXPECT_EQ(
      dynaspa_bundle_load_bytes(ctx_, bytes.data(), bytes.size() - 3, &bundle),
      DYNASPA_BAD_BUNDLE);
  EXPECT_EQ(bundle, nullptr);
  EXPECT_NE(std::string(dynaspa_context_last_error(ctx_)).find("bad bundle"),
            std::string::npos);
  fb::BundleT old = makeDefaultBundle();
  old.version = 0;
  bytes = serializeBundle(old);
  EXPECT_EQ(
      dynaspa_bundle_load_bytes(ctx_, bytes.data(), bytes.size(), &bundle),
      DYNASPA_VERSION_MISMATCH);
  EXPECT_EQ(dynaspa_bundle_load_bytes(ctx_, nullptr, 0, &bundle),
            DYNASPA_BAD_BUNDLE);
}

TEST_F(CApiLoad, Files) {
  dynaspa_bundle_t *bundle = nullptr;
  EXPECT_EQ(dynaspa_bundle_load_file(ctx_, "/nonexistent/x.dspb", &bundle),
            DYNASPA_IO_ERROR);
  std::string path = ::testing::TempDir() + "dynaspa_capi_test.dspb";
  std::vector<uint8_t> bytes = serializeBundle(makeDefaultBundle());
  {
    std::ofstream out(path, std::ios::binary);
    out.write(reinterpret_cast<const char *>(bytes.data()),
              static_cast<std::streamsize>(bytes.size()));
  }
  ASSERT_EQ(dynaspa_bundle_load_file(ctx_, path.c_str(), &bundle), DYNASPA_OK)
      << dynaspa_context_last_error(ctx_);
  size_t n = 0;
  EXPECT_EQ(dynaspa_bundle_operator_count(bundle, &n), DYNASPA_OK);
  EXPECT_EQ(n, 1u);
  EXPECT_EQ(dynaspa_bundle_destroy(bundle), DYNASPA_OK);
  std::remove(path.c_str());
}

TEST(CppLayer, OwnsHandlesAndCarriesMessages) {
  Context context;
  if (Status s = Context::create(DYNASPA_DEVICE_AUTO, &context); !s)
    GTEST_SKIP() << "no device: " << s.message();
  EXPECT_FALSE(context.deviceName().empty());
  std::vector<uint8_t> bytes = serializeBundle(makeDefaultBundle());
  Bundle bundle;
  Status s = context.loadBytes(bytes.data(), bytes.size() / 2, &bundle);
  EXPECT_EQ(s.code(), DYNASPA_BAD_BUNDLE);
  EXPECT_NE(s.message().find("bad bundle"), std::string::npos);
  EXPECT_FALSE(bundle);
  ASSERT_TRUE(context.loadBytes(bytes.data(), bytes.size(), &bundle));
  // Loading again into the same handle frees the first bundle.
  ASSERT_TRUE(context.loadBytes(bytes.data(), bytes.size(), &bundle));
  EXPECT_EQ(bundle.operatorCount(), 1u);
  size_t index = 7;
  EXPECT_TRUE(bundle.findOperator("attn_qk", &index));
  EXPECT_EQ(index, 0u);
  Status missing = bundle.findOperator("nope", &index);
  EXPECT_EQ(missing.code(), DYNASPA_INVALID_ARGUMENT);
  EXPECT_NE(missing.message().find("nope"), std::string::npos);
  void *native = nullptr, *queue = nullptr;
  EXPECT_TRUE(context.nativeHandles(&native, &queue));
  EXPECT_NE(native, nullptr);
  EXPECT_NE(queue, nullptr);
  // makeDefaultBundle is host-selected: no asynchronous launch.
  Status launch = bundle.launch(0, {nullptr, nullptr, nullptr}, {nullptr});
  EXPECT_EQ(launch.code(), DYNASPA_UNSUPPORTED);
  EXPECT_NE(launch.message().find("self-dispatching"), std::string::npos);
  dynaspa_benchmark_options_t bad = {0, 0, 0};
  dynaspa_benchmark_result_t result;
  EXPECT_EQ(bundle.benchmark(0, &bad, &result).code(),
            DYNASPA_INVALID_ARGUMENT);
  // `bundle` is declared after `context`, so it is destroyed first.
}

} // namespace
} // namespace dynaspa::runtime::testing
