//===- AttrsTest.cpp - SpSparse attribute tests ---------------------------===//
//
// Part of the dynaspa project.
//
//===----------------------------------------------------------------------===//
//
// The DISTile grid arithmetic every later stage relies on, and the parsing
// and verification of the schedule and device attributes.
//
//===----------------------------------------------------------------------===//

#include "dynaspa/Dialect/SpSparse/IR/SpSparseOps.h"

#include "mlir/AsmParser/AsmParser.h"
#include "mlir/IR/MLIRContext.h"
#include "gtest/gtest.h"

using namespace mlir;
using namespace mlir::spsparse;

namespace {
class SpSparseAttrs : public ::testing::Test {
protected:
  SpSparseAttrs() { ctx.getOrLoadDialect<SpSparseDialect>(); }

  /// Parses `text`, discarding diagnostics; null on failure.
  Attribute parse(StringRef text) {
    ScopedDiagnosticHandler silence(&ctx, [](Diagnostic &) { return success(); });
    return parseAttribute(text, &ctx);
  }

  MLIRContext ctx;
};
} // namespace

TEST_F(SpSparseAttrs, GridOfPaperFig5) {
  // A 5x5 mask cut into 2x2 tiles gives a 3x3 grid; the last row and column
  // of tiles are half phantom.
  auto g = GranularityAttr::get(&ctx, {2, 2});
  EXPECT_EQ(g.getGrid({5, 5}), (SmallVector<int64_t>{3, 3}));
  EXPECT_EQ(g.getNumElements(), 4);
}

TEST_F(SpSparseAttrs, GridTilesLeadingAxesByOne) {
  auto g = GranularityAttr::get(&ctx, {4, 8});
  EXPECT_EQ(g.getGrid({3, 40, 40}), (SmallVector<int64_t>{3, 10, 5}));
  auto tokens = GranularityAttr::get(&ctx, {16});
  EXPECT_EQ(tokens.getGrid({6, 197}), (SmallVector<int64_t>{6, 13}));
}

TEST_F(SpSparseAttrs, GridKeepsDynamicExtents) {
  auto g = GranularityAttr::get(&ctx, {2, 2});
  SmallVector<int64_t> grid = g.getGrid({ShapedType::kDynamic, 7, 8});
  EXPECT_TRUE(ShapedType::isDynamic(grid[0]));
  EXPECT_EQ(grid[1], 4);
  EXPECT_EQ(grid[2], 4);
}

TEST_F(SpSparseAttrs, GranularityRejectsNonPositive) {
  EXPECT_TRUE(parse("#spsparse.granularity<[2, 2]>"));
  EXPECT_FALSE(parse("#spsparse.granularity<[0, 2]>"));
  EXPECT_FALSE(parse("#spsparse.granularity<[]>"));
}

TEST_F(SpSparseAttrs, ScheduleDefaultsAndChecks) {
  auto s = dyn_cast_or_null<ScheduleAttr>(parse("#spsparse.schedule<>"));
  ASSERT_TRUE(s);
  EXPECT_EQ(s.getThreads(), 128);
  EXPECT_EQ(s.getVectorWidth(), 1);
  auto t = dyn_cast_or_null<ScheduleAttr>(
      parse("#spsparse.schedule<channel_block = 64, thread_channels = 8, "
            "vector_width = 4, double_buffer = true>"));
  ASSERT_TRUE(t);
  EXPECT_EQ(t.getChannelBlock(), 64);
  EXPECT_TRUE(t.getDoubleBuffer());
  EXPECT_FALSE(parse("#spsparse.schedule<vector_width = 3>"));
  EXPECT_FALSE(parse("#spsparse.schedule<threads = 100>"));
  EXPECT_FALSE(parse("#spsparse.schedule<channel_block = 6, thread_channels = 4>"));
}

TEST_F(SpSparseAttrs, DeviceParsesFloats) {
  auto d = dyn_cast_or_null<DeviceAttr>(parse(
      "#spsparse.device<name = \"h100\", sms = 132, threads_per_sm = 2048, "
      "shared_per_sm = 233472, registers_per_sm = 65536, blocks_per_sm = 32, "
      "global_bandwidth = 2830.0, shared_bandwidth = 33000.5, alpha = 0.0039, "
      "gamma = 2000.0>"));
  ASSERT_TRUE(d);
  EXPECT_EQ(d.getName(), "h100");
  EXPECT_EQ(d.getWarpSize(), 32);
  EXPECT_DOUBLE_EQ(d.getSharedBandwidth().convertToDouble(), 33000.5);
  EXPECT_DOUBLE_EQ(d.getAlpha().convertToDouble(), 0.0039);
  // Round trip through the printer keeps every value.
  std::string text;
  llvm::raw_string_ostream os(text);
  os << Attribute(d);
  EXPECT_EQ(parse(text), d);
}
