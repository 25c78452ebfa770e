//===- DeviceModelTest.cpp - built-in devices and the device file ---------===//
//
// Part of the dynaspa project.
//
//===----------------------------------------------------------------------===//
//
// The built-in descriptions verify, survive a JSON round trip (text and
// file), and a calibration file overrides just the fields it names; malformed
// files are rejected with a message rather than aborting.
//
//===----------------------------------------------------------------------===//

#include "dynaspa/Analysis/CostModel.h"

#include "gtest/gtest.h"

#include <cstdio>
#include <fstream>

using namespace dynaspa::cost;

namespace {

void expectSameDevice(const DeviceModel &a, const DeviceModel &b) {
  EXPECT_EQ(a.name, b.name);
  EXPECT_EQ(a.sms, b.sms);
  EXPECT_EQ(a.warpSize, b.warpSize);
  EXPECT_EQ(a.threadsPerSm, b.threadsPerSm);
  EXPECT_EQ(a.sharedPerSm, b.sharedPerSm);
  EXPECT_EQ(a.registersPerSm, b.registersPerSm);
  EXPECT_EQ(a.blocksPerSm, b.blocksPerSm);
  // Doubles must come back bit for bit.
  EXPECT_EQ(a.globalBandwidth, b.globalBandwidth);
  EXPECT_EQ(a.sharedBandwidth, b.sharedBandwidth);
  EXPECT_EQ(a.transactionBytes, b.transactionBytes);
  EXPECT_EQ(a.alpha, b.alpha);
  EXPECT_EQ(a.gamma, b.gamma);
  EXPECT_EQ(a.maxThreadsPerBlock, b.maxThreadsPerBlock);
  EXPECT_EQ(a.maxSharedPerBlock, b.maxSharedPerBlock);
  EXPECT_EQ(a.maxRegistersPerThread, b.maxRegistersPerThread);
  EXPECT_EQ(a.registerAllocUnit, b.registerAllocUnit);
  EXPECT_EQ(a.warpAllocGranularity, b.warpAllocGranularity);
  EXPECT_EQ(a.sharedAllocUnit, b.sharedAllocUnit);
  EXPECT_EQ(a.reservedSharedPerBlock, b.reservedSharedPerBlock);
  EXPECT_EQ(a.sharedBanks, b.sharedBanks);
  EXPECT_EQ(a.bankBytes, b.bankBytes);
  EXPECT_EQ(a.schedulersPerSm, b.schedulersPerSm);
  EXPECT_EQ(a.memoryLatencyNs, b.memoryLatencyNs);
  EXPECT_EQ(a.barrierNs, b.barrierNs);
  EXPECT_EQ(a.kernelGapNs, b.kernelGapNs);
  EXPECT_EQ(a.atomicNs, b.atomicNs);
}

TEST(DeviceModel, BuiltinsVerify) {
  std::vector<std::string> names = getBuiltinDeviceNames();
  ASSERT_EQ(names.size(), 4u);
  for (const std::string &name : names) {
    std::optional<DeviceModel> d = getBuiltinDevice(name);
    ASSERT_TRUE(d) << name;
    EXPECT_EQ(d->name, name);
    EXPECT_EQ(verifyDevice(*d), "") << name;
  }
  EXPECT_FALSE(getBuiltinDevice("rtx-9090"));
  std::optional<DeviceModel> h100 = getBuiltinDevice("h100-sxm");
  EXPECT_EQ(h100->sms, 132);
  EXPECT_EQ(h100->sharedPerSm, 233472);
}

TEST(DeviceModel, JSONRoundTrip) {
  for (const std::string &name : getBuiltinDeviceNames()) {
    DeviceModel d = *getBuiltinDevice(name);
    d.gamma = 1234.5678901234567; // Not representable in a short decimal.
    d.memoryLatencyNs = 371.25;
    d.atomicNs = 5.75;
    std::string text = printDeviceJSON(d);
    std::string error;
    std::optional<DeviceModel> back = parseDeviceJSON(text, error);
    ASSERT_TRUE(back) << error << "\n" << text;
    expectSameDevice(d, *back);
    EXPECT_EQ(printDeviceJSON(*back), text);
  }
}

TEST(DeviceModel, FileRoundTrip) {
  std::string path = testing::TempDir() + "dynaspa-device-test.json";
  DeviceModel d = *getBuiltinDevice("jetson-agx-orin");
  std::string error;
  ASSERT_TRUE(writeDeviceFile(path, d, error)) << error;
  std::optional<DeviceModel> back = readDeviceFile(path, error);
  ASSERT_TRUE(back) << error;
  expectSameDevice(d, *back);
  std::remove(path.c_str());

  EXPECT_FALSE(readDeviceFile(path, error));
  EXPECT_NE(error.find("cannot open"), std::string::npos) << error;
}

TEST(DeviceModel, CalibrationOverridesBase) {
  std::string error;
  std::optional<DeviceModel> d = parseDeviceJSON(R"({
    "base": "h100-sxm",
    "name": "h100-calibrated",
    "global_bandwidth": 2830.0,
    "alpha": 0.16,
    "gamma": 1500
  })",
                                                 error);
  ASSERT_TRUE(d) << error;
  DeviceModel expected = *getBuiltinDevice("h100-sxm");
  expected.name = "h100-calibrated";
  expected.globalBandwidth = 2830;
  expected.alpha = 0.16;
  expected.gamma = 1500; // An integer is fine for a real field.
  expectSameDevice(expected, *d);
}

TEST(DeviceModel, LatencyCalibrationWithNote) {
  // What benchmarks/model_eval.py calibrate writes
  // (docs/tuning/h100-device.json).
  std::string error;
  std::optional<DeviceModel> d = parseDeviceJSON(R"({
    "base": "h100-sxm", "kernel_gap_ns": 1241.8, "barrier_ns": 20,
    "memory_latency_ns": 371.2, "note": "where the numbers come from"
  })",
                                                 error);
  ASSERT_TRUE(d) << error;
  EXPECT_EQ(d->kernelGapNs, 1241.8);
  EXPECT_EQ(d->memoryLatencyNs, 371.2);
  EXPECT_EQ(d->barrierNs, 20);
  EXPECT_EQ(d->schedulersPerSm, 4);
  EXPECT_FALSE(parseDeviceJSON(R"({"base": "h100-sxm", "note": 1})", error));
  EXPECT_NE(error.find("'note' must be a string"), std::string::npos);
  EXPECT_FALSE(
      parseDeviceJSON(R"({"base": "h100-sxm", "barrier_ns": -1})", error));
  EXPECT_NE(error.find("non-negative"), std::string::npos);
}

TEST(DeviceModel, FullDescriptionWithoutBase) {
  std::string error;
  std::optional<DeviceModel> d = parseDeviceJSON(R"({
    "name": "toy", "sms": 2, "threads_per_sm": 1024, "shared_per_sm": 65536,
    "registers_per_sm": 65536, "blocks_per_sm": 16,
    "global_bandwidth": 100, "shared_bandwidth": 400,
    "alpha": 1.0, "gamma": 0
  })",
                                                 error);
  ASSERT_TRUE(d) << error;
  EXPECT_EQ(d->sms, 2);
  EXPECT_EQ(d->warpSize, 32); // Defaults fill the rest.
  EXPECT_EQ(d->transactionBytes, 32);
}

TEST(DeviceModel, Errors) {
  auto fails = [](const char *text, const char *message) {
    std::string error;
    EXPECT_FALSE(parseDeviceJSON(text, error)) << text;
    EXPECT_NE(error.find(message), std::string::npos)
        << "got '" << error << "' for " << text;
  };
  fails("{", "not valid JSON");
  fails("[1, 2]", "must hold a JSON object");
  fails(R"({"base": "h100-sxm", "smz": 3})", "unknown device field 'smz'");
  fails(R"({"base": "h100-sxm", "sms": "many"})", "must be an integer");
  fails(R"({"base": "h100-sxm", "sms": 1.5})", "must be an integer");
  fails(R"({"base": "h100-sxm", "alpha": "fast"})", "must be a number");
  fails(R"({"base": "h100-sxm", "sms": 0})", "'sms' must be positive");
  fails(R"({"base": "h100-sxm", "alpha": -1})", "non-negative");
  fails(R"({"base": "h100-sxm", "global_bandwidth": 0})", "must be positive");
  fails(R"({"base": "h100-sxm", "name": ""})", "non-empty name");
  fails(R"({"base": "h100-sxm", "name": 7})", "'name' must be a string");
  fails(R"({"base": "nope"})", "unknown base device 'nope'");
  fails(R"({"base": 3})", "'base' must be a string");
  // Without a base, the required capacities are missing.
  fails(R"({"name": "x"})", "must be positive");
}

} // namespace
