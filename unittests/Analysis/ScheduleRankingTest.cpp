//===- ScheduleRankingTest.cpp - the cost model's view of masked ops -----===//
//
// Part of the dynaspa project.
//
//===----------------------------------------------------------------------===//
//
// What spsparse-prune-schedules relies on besides the model: a masked conv
// and its variants as the model's structs, the device found on an ancestor,
// and the clustered-mask tile estimate.
//
//===----------------------------------------------------------------------===//

#include "dynaspa/Analysis/ScheduleRanking.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Parser/Parser.h"
#include "gtest/gtest.h"

using namespace mlir;
using namespace mlir::spsparse;

namespace {

TEST(ScheduleRanking, TileFraction) {
  // One-pixel tiles are active exactly where the mask is.
  EXPECT_DOUBLE_EQ(estimateActiveTileFraction(0.3, 1), 0.3);
  EXPECT_DOUBLE_EQ(estimateActiveTileFraction(0, 16), 0);
  EXPECT_DOUBLE_EQ(estimateActiveTileFraction(1, 16), 1);
  // 4x4 tiles at d = 0.3: 1 - 0.7^2.5 = 0.59, the saliency masks' 0.59.
  EXPECT_NEAR(estimateActiveTileFraction(0.3, 16), 0.59, 0.005);
  // Larger tiles catch more.
  EXPECT_LT(estimateActiveTileFraction(0.1, 4),
            estimateActiveTileFraction(0.1, 64));
}

TEST(ScheduleRanking, ProblemScheduleAndDevice) {
  MLIRContext ctx;
  ctx.loadDialect<SpSparseDialect, func::FuncDialect>();
  OwningOpRef<ModuleOp> module = parseSourceString<ModuleOp>(R"mlir(
module attributes {spsparse.device = #spsparse.device<name = "toy", sms = 2,
    threads_per_sm = 2048, shared_per_sm = 65536, registers_per_sm = 65536,
    blocks_per_sm = 16, global_bandwidth = 100.0, shared_bandwidth = 400.0,
    alpha = 1.0, gamma = 0.0>} {
  func.func @f(%x: tensor<2x9x11x12xf32>, %w: tensor<3x3x12x20xf32>,
               %m: tensor<2x4x6xi1>, %b: tensor<20xf32>) -> tensor<2x4x6x20xf32> {
    %y = spsparse.masked_conv2d %x, %w mask %m bias %b
        {strides = array<i64: 2, 2>, padding = array<i64: 1, 0, 1, 2>}
        : (tensor<2x9x11x12xf32>, tensor<3x3x12x20xf32>, tensor<2x4x6xi1>,
           tensor<20xf32>) -> tensor<2x4x6x20xf32>
    return %y : tensor<2x4x6x20xf32>
  }
}
)mlir",
                                                             &ctx);
  ASSERT_TRUE(module);
  MaskedConv2DOp conv;
  module->walk([&](MaskedConv2DOp op) { conv = op; });
  FailureOr<dynaspa::cost::ConvProblem> p = getConvProblem(conv);
  ASSERT_TRUE(succeeded(p));
  EXPECT_EQ(p->batch, 2);
  EXPECT_EQ(p->height, 9);
  EXPECT_EQ(p->width, 11);
  EXPECT_EQ(p->inChannels, 12);
  EXPECT_EQ(p->outChannels, 20);
  EXPECT_EQ(p->strideH, 2);
  EXPECT_EQ(p->padBottom, 0);
  EXPECT_EQ(p->padRight, 2);
  EXPECT_TRUE(p->bias);
  // The op's output is what the model computes for it.
  EXPECT_EQ(p->getOutHeight(), 4);
  EXPECT_EQ(p->getOutWidth(), 6);

  DeviceAttr d = findDeviceAttr(conv);
  ASSERT_TRUE(d);
  EXPECT_EQ(d.getName(), "toy");

  auto g = GranularityAttr::get(&ctx, {2, 3});
  FailureOr<dynaspa::cost::ConvSchedule> s = getConvSchedule(g, nullptr);
  ASSERT_TRUE(succeeded(s));
  EXPECT_EQ(s->tileH, 2);
  EXPECT_EQ(s->tileW, 3);
  EXPECT_EQ(s->channelBlock, 32); // #spsparse.schedule<>'s default.
  EXPECT_EQ(s->threads, 128);
  EXPECT_FALSE(s->doubleBuffer);
  EXPECT_TRUE(
      failed(getConvSchedule(GranularityAttr::get(&ctx, {16}), nullptr)));
}

} // namespace
