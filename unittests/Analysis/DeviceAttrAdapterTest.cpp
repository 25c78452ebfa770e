//===- DeviceAttrAdapterTest.cpp - DeviceModel <-> #spsparse.device -------===//
//
// Part of the dynaspa project.
//
//===----------------------------------------------------------------------===//
//
// A parsed `#spsparse.device` becomes a DeviceModel with the attribute's
// fields and, for a known name, the built-in device's granularities; a
// built-in device survives the trip through the attribute.
//
//===----------------------------------------------------------------------===//

#include "dynaspa/Analysis/DeviceAttrAdapter.h"
#include "dynaspa/Dialect/SpSparse/IR/SpSparseOps.h"

#include "mlir/AsmParser/AsmParser.h"
#include "mlir/IR/MLIRContext.h"
#include "gtest/gtest.h"

using namespace mlir;
using namespace mlir::spsparse;
using dynaspa::cost::DeviceModel;

namespace {

class DeviceAttrAdapter : public ::testing::Test {
protected:
  DeviceAttrAdapter() { ctx.getOrLoadDialect<SpSparseDialect>(); }
  MLIRContext ctx;
};

TEST_F(DeviceAttrAdapter, FromParsedAttr) {
  auto attr = dyn_cast_or_null<DeviceAttr>(parseAttribute(
      "#spsparse.device<name = \"toy\", sms = 4, threads_per_sm = 1024, "
      "shared_per_sm = 65536, registers_per_sm = 32768, blocks_per_sm = 8, "
      "global_bandwidth = 100.0, shared_bandwidth = 800.0, alpha = 0.5, "
      "gamma = 20.0>",
      &ctx));
  ASSERT_TRUE(attr);
  DeviceModel d = toDeviceModel(attr);
  EXPECT_EQ(d.name, "toy");
  EXPECT_EQ(d.sms, 4);
  EXPECT_EQ(d.warpSize, 32);
  EXPECT_EQ(d.threadsPerSm, 1024);
  EXPECT_EQ(d.registersPerSm, 32768);
  EXPECT_EQ(d.transactionBytes, 32);
  EXPECT_DOUBLE_EQ(d.globalBandwidth, 100);
  EXPECT_DOUBLE_EQ(d.alpha, 0.5);
  EXPECT_DOUBLE_EQ(d.gamma, 20);
  // Unknown device: eq. 9 as written.
  EXPECT_EQ(d.registerAllocUnit, 1);
  EXPECT_EQ(d.sharedAllocUnit, 1);
  EXPECT_EQ(d.reservedSharedPerBlock, 0);
  EXPECT_EQ(dynaspa::cost::verifyDevice(d), "");
}

TEST_F(DeviceAttrAdapter, BuiltinRoundTrip) {
  for (const std::string &name : dynaspa::cost::getBuiltinDeviceNames()) {
    DeviceModel d = *dynaspa::cost::getBuiltinDevice(name);
    d.gamma = 1500;
    DeviceAttr attr = toDeviceAttr(&ctx, d);
    ASSERT_TRUE(attr);
    // The printed attribute parses back to the same attribute.
    std::string text;
    llvm::raw_string_ostream os(text);
    os << Attribute(attr);
    EXPECT_EQ(parseAttribute(text, &ctx), Attribute(attr)) << text;
    DeviceModel back = toDeviceModel(attr);
    EXPECT_EQ(dynaspa::cost::printDeviceJSON(back),
              dynaspa::cost::printDeviceJSON(d))
        << name;
  }
}

} // namespace
