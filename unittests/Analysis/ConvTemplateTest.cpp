//===- ConvTemplateTest.cpp - the conv profile against the real template --===//
//
// Part of the dynaspa project.
//
//===----------------------------------------------------------------------===//
//
// ConvProfile.cpp describes ConvKernel.cpp from the outside; this test builds
// the kernel with the template itself (buildConvKernel) for a few thousand
// (shape, granularity, schedule) cases and checks that the profile agrees
// with what was built: the same schedules are accepted, with the same reason
// when rejected, the same static shared memory, grid and block. A change to
// the template that the profile does not follow fails here.
//
//===----------------------------------------------------------------------===//

#include "TemplateAgreement.h"

#include "dynaspa/Analysis/ConvProfile.h"
#include "dynaspa/Conversion/SpSparseToGPU/SpSparseToGPU.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/Parser/Parser.h"
#include "gtest/gtest.h"

#include <random>

using namespace mlir;
using namespace mlir::spsparse;
namespace cost = dynaspa::cost;

namespace {

struct Shape {
  int64_t n, h, w, ci, co, k, stride, pad;
};

/// A module with one masked convolution of `s` (NHWC/HWCF, "same"-style
/// padding `pad`).
std::string convModule(const Shape &s) {
  int64_t ho = (s.h + 2 * s.pad - s.k) / s.stride + 1;
  int64_t wo = (s.w + 2 * s.pad - s.k) / s.stride + 1;
  auto t = [](std::initializer_list<int64_t> dims, const char *elt) {
    std::string r = "tensor<";
    for (int64_t d : dims)
      r += std::to_string(d) + "x";
    return r + elt + ">";
  };
  std::string in = t({s.n, s.h, s.w, s.ci}, "f32"),
              f = t({s.k, s.k, s.ci, s.co}, "f32"), m = t({s.n, ho, wo}, "i1"),
              out = t({s.n, ho, wo, s.co}, "f32");
  std::string p = std::to_string(s.pad), st = std::to_string(s.stride);
  return "func.func @f(%x: " + in + ", %w: " + f + ", %m: " + m + ") -> " +
         out +
         " {\n  %y = spsparse.masked_conv2d %x, %w mask %m {strides = "
         "array<i64: " +
         st + ", " + st + ">, padding = array<i64: " + p + ", " + p + ", " + p +
         ", " + p + ">} : (" + in + ", " + f + ", " + m + ") -> " + out +
         "\n  return %y : " + out + "\n}\n";
}

std::string scheduleString(Attribute a) {
  std::string text;
  llvm::raw_string_ostream os(text);
  a.print(os);
  return text;
}

cost::ConvProblem toProblem(const Shape &s) {
  cost::ConvProblem p;
  p.batch = s.n;
  p.height = s.h;
  p.width = s.w;
  p.inChannels = s.ci;
  p.outChannels = s.co;
  p.kernelH = p.kernelW = s.k;
  p.strideH = p.strideW = s.stride;
  p.padTop = p.padBottom = p.padLeft = p.padRight = s.pad;
  return p;
}

class ConvTemplate : public ::testing::Test {
protected:
  ConvTemplate() {
    ctx.loadDialect<SpSparseDialect, func::FuncDialect, gpu::GPUDialect,
                    arith::ArithDialect, scf::SCFDialect, memref::MemRefDialect,
                    vector::VectorDialect>();
  }

  /// Builds the kernel of (g, schedule) for the op of `module` and compares
  /// it with the profile; returns whether the template accepted it.
  bool check(ModuleOp module, const Shape &shape, int64_t gh, int64_t gw,
             const cost::ConvSchedule &s) {
    MaskedConv2DOp conv;
    module.walk([&](MaskedConv2DOp op) { conv = op; });
    std::string diagnostic;
    ScopedDiagnosticHandler handler(&ctx, [&](Diagnostic &d) {
      diagnostic = d.str();
      return success();
    });
    auto schedule = ScheduleAttr::getChecked(
        [&] { return emitError(UnknownLoc::get(&ctx)); }, &ctx, s.channelBlock,
        s.reductionBlock, s.threads, s.threadChannels, s.threadPixels,
        s.vectorWidth, s.unroll, s.doubleBuffer, s.blocks, s.tilesPerBlock,
        s.splitK, s.minBlocks, /*tf32=*/false, /*compact=*/false);
    if (!schedule)
      return false; // The attribute's own verifier; not the template's.
    OpBuilder builder(&ctx);
    builder.setInsertionPointToEnd(module.getBody());
    auto gpuModule = gpu::GPUModuleOp::create(builder, module.getLoc(),
                                              "k" + std::to_string(++built));
    auto g = GranularityAttr::get(&ctx, {gh, gw});
    FailureOr<gpu::GPUFuncOp> fn =
        buildConvKernel(builder, gpuModule, conv, g, schedule, "v", {}, {});

    cost::ConvProblem p = toProblem(shape);
    cost::ConvSchedule ms = s;
    ms.tileH = gh;
    ms.tileW = gw;
    std::string why = cost::verifyConvSchedule(p, ms);
    std::string what = "case " + std::to_string(built) + ": g " +
                       std::to_string(gh) + "x" + std::to_string(gw) + " " +
                       scheduleString(schedule);
    if (std::optional<bool> stop =
            dynaspa::testing::agreeOnAcceptance(fn, why, diagnostic, what)) {
      gpuModule->erase();
      return *stop;
    }
    EXPECT_EQ(dynaspa::testing::getStaticSharedBytes(*fn),
              cost::getConvSharedBytes(p, ms))
        << what;
    // Grid and block: blocks along the list for a full mask, the profile's
    // working blocks when every tile is active.
    int64_t tiles = shape.n * llvm::divideCeil(p.getOutHeight(), gh) *
                    llvm::divideCeil(p.getOutWidth(), gw);
    llvm::ArrayRef<int64_t> grid = dynaspa::testing::expectLaunchMatches(
        *fn,
        cost::profileMaskedConv(*cost::getBuiltinDevice("h100-sxm"), p, ms,
                                tiles),
        what);
    EXPECT_EQ(grid[2], s.minBlocks > 0 ? 1 : s.splitK) << what;
    gpuModule->erase();
    return true;
  }

  MLIRContext ctx;
  int built = 0;
};

/// Hand-picked cases: each rejection of planConv that a valid
/// `#spsparse.schedule` can reach (the attribute itself already bounds
/// threads by 1024), next to an accepted neighbour.
TEST_F(ConvTemplate, EveryRejectionHasTheTemplatesReason) {
  Shape shape{1, 12, 12, 32, 24, 3, 1, 1};
  OwningOpRef<ModuleOp> module =
      parseSourceString<ModuleOp>(convModule(shape), &ctx);
  ASSERT_TRUE(module);
  cost::ConvSchedule base;
  base.channelBlock = 8;
  base.threadChannels = 4;
  base.threadPixels = 1;
  base.threads = 32; // 2 channel groups x 16 pixels of a 4x4 tile.
  auto accepts = [&](cost::ConvSchedule s, int line, int64_t g = 4) {
    SCOPED_TRACE(line);
    EXPECT_TRUE(check(*module, shape, g, g, s));
  };
  auto rejects = [&](cost::ConvSchedule s, int line, int64_t g = 4) {
    SCOPED_TRACE(line);
    EXPECT_FALSE(check(*module, shape, g, g, s));
  };
  accepts(base, __LINE__);
  cost::ConvSchedule s = base;
  s.threadPixels = 3; // 16 pixels.
  rejects(s, __LINE__);
  s = base;
  s.threads = 64;
  rejects(s, __LINE__);
  s = base;
  s.tilesPerBlock = 64; // 64 tiles of 1 pixel, 32 threads.
  s.threadPixels = 4;
  rejects(s, __LINE__, 1);
  s = base;
  s.vectorWidth = 4;    // Divides Cin, Cout, channel_block...
  s.reductionBlock = 6; // ...not reduction_block.
  s.unroll = 2;
  rejects(s, __LINE__);
  s = base;
  s.unroll = 3;
  rejects(s, __LINE__);
  s = base;
  s.splitK = 4; // 32 / 8 = 4 chunks.
  accepts(s, __LINE__);
  s.splitK = 5;
  rejects(s, __LINE__);
  s = base;
  s.reductionBlock = 32;
  s.tilesPerBlock = 8; // 8 x 6x6x32 + 9x32x8 + 40 words: 46240 B.
  s.threads = 256;
  accepts(s, __LINE__);
  s.channelBlock = 16; // 8 x 6x6x32 + 9x32x16 + 40 words: 55456 B.
  s.threads = 512;
  rejects(s, __LINE__);
  s = base;
  s.doubleBuffer = true;
  s.reductionBlock = 32; // 1152 / 32 + 2304 / 32 = 108 prefetch + 4.
  accepts(s, __LINE__);
  s.channelBlock = 16; // 1152 / 32 + 4608 / 32 = 180 prefetch + 8.
  s.threadPixels = 2;
  rejects(s, __LINE__);
}

/// Random schedules on several shapes: the template and the profile agree on
/// every one.
TEST_F(ConvTemplate, RandomSchedulesAgree) {
  std::mt19937 rng(7);
  auto pick = [&](std::initializer_list<int64_t> values) {
    std::vector<int64_t> v(values);
    return v[rng() % v.size()];
  };
  const Shape shapes[] = {{1, 40, 40, 256, 256, 3, 1, 1},
                          {1, 40, 40, 256, 1024, 1, 1, 0},
                          {1, 80, 80, 128, 128, 3, 2, 1},
                          {2, 9, 11, 12, 20, 3, 1, 1},
                          {1, 7, 7, 36, 6, 1, 1, 0}};
  int accepted = 0, total = 0;
  for (const Shape &shape : shapes) {
    OwningOpRef<ModuleOp> module =
        parseSourceString<ModuleOp>(convModule(shape), &ctx);
    ASSERT_TRUE(module);
    for (int i = 0; i < 400; ++i) {
      int64_t g = pick({1, 2, 4, 8});
      int64_t gw = rng() % 4 ? g : pick({1, 3});
      cost::ConvSchedule s;
      s.channelBlock = pick({8, 16, 32, 64, 128});
      s.reductionBlock = pick({4, 6, 8, 16, 32});
      s.threadChannels = pick({1, 2, 4, 8});
      s.threadPixels = pick({1, 2, 4, 8});
      s.vectorWidth = pick({1, 2, 4});
      s.unroll = pick({1, 2, 4});
      s.doubleBuffer = rng() % 2;
      s.blocks = pick({0, 0, 7});
      s.tilesPerBlock = pick({1, 2, 8, 32});
      s.splitK = pick({1, 2, 4, 64});
      s.minBlocks = pick({0, 0, 0, 16, 264});
      // Mostly a consistent thread count, sometimes not.
      int64_t pixels = s.tilesPerBlock * g * gw;
      s.threads = (s.channelBlock / std::max<int64_t>(s.threadChannels, 1)) *
                  (pixels / s.threadPixels);
      if (rng() % 8 == 0)
        s.threads = pick({32, 128});
      ++total;
      accepted += check(*module, shape, g, gw, s);
    }
  }
  // Enough of both kinds to mean something.
  EXPECT_GT(accepted, total / 20);
  EXPECT_LT(accepted, total);
}

} // namespace
