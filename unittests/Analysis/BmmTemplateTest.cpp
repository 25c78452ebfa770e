//===- BmmTemplateTest.cpp - the bmm profile against the real template ----===//
//
// Part of the dynaspa project.
//
//===----------------------------------------------------------------------===//
//
// BmmProfile.cpp describes BmmKernel.cpp from the outside; this test builds
// the kernel with the template itself (buildBmmKernel) for a few thousand
// (shape, granularity, schedule) cases and checks that the profile agrees
// with what was built: the same schedules are accepted, with the same reason
// when rejected, the same static shared memory, grid and block. A change to
// the template that the profile does not follow fails here.
//
//===----------------------------------------------------------------------===//

#include "TemplateAgreement.h"

#include "dynaspa/Analysis/BmmProfile.h"
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

/// A module with one masked batch-matmul of `p` (row mask, and a batched
/// column mask if p.colMask).
std::string bmmModule(const cost::BmmProblem &p) {
  auto t = [](std::initializer_list<int64_t> dims, const char *elt) {
    std::string r = "tensor<";
    for (int64_t d : dims)
      r += std::to_string(d) + "x";
    return r + elt + ">";
  };
  std::string a = t({p.batch, p.m, p.k}, "f32"), b = t({p.batch, p.k, p.n}, "f32"),
              r = t({p.batch, p.m}, "i1"), c = t({p.batch, p.n}, "i1"),
              out = t({p.batch, p.m, p.n}, "f32");
  std::string args = "%a: " + a + ", %b: " + b + ", %r: " + r;
  std::string masks = "row_mask %r", types = a + ", " + b + ", " + r;
  if (p.colMask) {
    args += ", %c: " + c;
    masks += " col_mask %c";
    types += ", " + c;
  }
  return "func.func @f(" + args + ") -> " + out +
         " {\n  %y = spsparse.masked_batch_matmul %a, %b " + masks + " : (" +
         types + ") -> " + out + "\n  return %y : " + out + "\n}\n";
}

class BmmTemplate : public ::testing::Test {
protected:
  BmmTemplate() {
    ctx.loadDialect<SpSparseDialect, func::FuncDialect, gpu::GPUDialect,
                    arith::ArithDialect, scf::SCFDialect, memref::MemRefDialect,
                    vector::VectorDialect>();
  }

  /// Builds the kernel of `s` for the op of `module` and compares it with
  /// the profile; returns whether the template accepted it.
  bool check(ModuleOp module, const cost::BmmProblem &p,
             const cost::BmmSchedule &s) {
    MaskedBatchMatmulOp bmm;
    module.walk([&](MaskedBatchMatmulOp op) { bmm = op; });
    std::string diagnostic;
    ScopedDiagnosticHandler handler(&ctx, [&](Diagnostic &d) {
      diagnostic = d.str();
      return success();
    });
    auto schedule = ScheduleAttr::getChecked(
        [&] { return emitError(UnknownLoc::get(&ctx)); }, &ctx, s.channelBlock,
        s.reductionBlock, s.threads, s.threadChannels, s.threadPixels,
        s.vectorWidth, s.unroll, s.doubleBuffer, s.blocks, s.tilesPerBlock,
        /*split_k=*/int64_t(1),
        /*min_blocks=*/int64_t(0), /*tf32=*/false, /*compact=*/false);
    if (!schedule)
      return false; // The attribute's own verifier; not the template's.
    OpBuilder builder(&ctx);
    builder.setInsertionPointToEnd(module.getBody());
    auto gpuModule = gpu::GPUModuleOp::create(builder, module.getLoc(),
                                              "k" + std::to_string(++built));
    auto g = GranularityAttr::get(&ctx, {s.rows});
    FailureOr<gpu::GPUFuncOp> fn =
        buildBmmKernel(builder, gpuModule, bmm, g, schedule, "v", {}, {});

    std::string why = cost::verifyBmmSchedule(p, s);
    std::string what = "case " + std::to_string(built) + ": rows " +
                       std::to_string(s.rows) + " x " +
                       std::to_string(s.tilesPerBlock) + " " + diagnostic;
    if (std::optional<bool> stop =
            dynaspa::testing::agreeOnAcceptance(fn, why, diagnostic, what)) {
      gpuModule->erase();
      return *stop;
    }
    EXPECT_EQ(dynaspa::testing::getStaticSharedBytes(*fn),
              cost::getBmmSharedBytes(s))
        << what;
    // Grid and block: blocks along the list for a full mask, the profile's
    // working blocks when every tile is active.
    dynaspa::testing::expectLaunchMatches(
        *fn,
        cost::profileMaskedBmm(*cost::getBuiltinDevice("h100-sxm"), p, s,
                               cost::getBmmTileCount(p, s)),
        what);
    gpuModule->erase();
    return true;
  }

  MLIRContext ctx;
  int built = 0;
};

cost::BmmProblem problem(int64_t batch, int64_t m, int64_t k, int64_t n,
                         bool colMask) {
  cost::BmmProblem p;
  p.batch = batch;
  p.m = m;
  p.k = k;
  p.n = n;
  p.colMask = colMask;
  return p;
}

/// Hand-picked cases: each rejection of planBmm that a valid
/// `#spsparse.schedule` can reach, next to an accepted neighbour.
TEST_F(BmmTemplate, EveryRejectionHasTheTemplatesReason) {
  cost::BmmProblem p = problem(6, 197, 64, 196, true);
  OwningOpRef<ModuleOp> module = parseSourceString<ModuleOp>(bmmModule(p), &ctx);
  ASSERT_TRUE(module);
  cost::BmmSchedule base; // 16 rows, 8 x 16 threads.
  auto accepts = [&](cost::BmmSchedule s, int line) {
    SCOPED_TRACE(line);
    EXPECT_TRUE(check(*module, p, s));
  };
  auto rejects = [&](cost::BmmSchedule s, int line) {
    SCOPED_TRACE(line);
    EXPECT_FALSE(check(*module, p, s));
  };
  accepts(base, __LINE__);
  cost::BmmSchedule s = base;
  s.threadPixels = 3;
  rejects(s, __LINE__);
  s = base;
  s.threads = 64;
  rejects(s, __LINE__);
  s = base;
  s.vectorWidth = 4; // Divides K = 64 and N = 196.
  accepts(s, __LINE__);
  s.reductionBlock = 6; // The widest load: pairs along K.
  s.unroll = 2;
  accepts(s, __LINE__);
  s = base;
  s.unroll = 3;
  rejects(s, __LINE__);
  s = base;
  s.doubleBuffer = true;
  accepts(s, __LINE__);
  s.channelBlock = 128; // 288 prefetch floats per thread.
  s.reductionBlock = 64;
  s.threadChannels = 16;
  s.threadPixels = 4;
  s.threads = 32;
  rejects(s, __LINE__);
  s = base;
  s.reductionBlock = 64;
  s.channelBlock = 128;
  s.threads = 32 * 16; // 4 * (16 * 64 + 64 * 128) = 36864 bytes.
  accepts(s, __LINE__);
  s.channelBlock = 256;
  s.threadChannels = 8; // 69632 bytes.
  rejects(s, __LINE__);
  // Per-block lists: 32 one-token tiles of an entry, 8 x 32 threads.
  s = base;
  s.rows = 1;
  s.tilesPerBlock = 32;
  s.threads = 256;
  accepts(s, __LINE__);
  s.blocks = 7; // The grid is fixed.
  rejects(s, __LINE__);
  s = base;
  s.rows = 1;
  s.tilesPerBlock = 2;
  s.threadPixels = 2;
  s.threads = 8; // 197 tiles, 25 per thread: more than the 16 it keeps.
  s.threadChannels = 4;
  s.channelBlock = 32;
  rejects(s, __LINE__);
}

/// Random schedules on the attention shapes and odd ones: the template and
/// the profile agree on every one.
TEST_F(BmmTemplate, RandomSchedulesAgree) {
  std::mt19937 rng(11);
  auto pick = [&](std::initializer_list<int64_t> values) {
    std::vector<int64_t> v(values);
    return v[rng() % v.size()];
  };
  const cost::BmmProblem problems[] = {
      problem(6, 197, 64, 197, true), problem(6, 197, 197, 64, false),
      problem(96, 197, 64, 197, true), problem(2, 40, 12, 20, false),
      problem(3, 7, 8, 8, true)};
  int accepted = 0, total = 0;
  for (const cost::BmmProblem &p : problems) {
    OwningOpRef<ModuleOp> module =
        parseSourceString<ModuleOp>(bmmModule(p), &ctx);
    ASSERT_TRUE(module);
    for (int i = 0; i < 400; ++i) {
      cost::BmmSchedule s;
      s.rows = pick({1, 4, 8, 16, 32, 64});
      s.tilesPerBlock = pick({1, 1, 2, 8, 32});
      s.channelBlock = pick({8, 16, 32, 64, 128});
      s.reductionBlock = pick({4, 6, 8, 16, 32, 64});
      s.threadChannels = pick({1, 2, 4, 8});
      s.threadPixels = pick({1, 2, 4, 8});
      s.vectorWidth = pick({1, 2, 4});
      s.unroll = pick({1, 2, 4});
      s.doubleBuffer = rng() % 8 == 0;
      s.blocks = pick({0, 0, 7});
      s.threads = (s.channelBlock / s.threadChannels) *
                  (s.rows / s.threadPixels);
      if (rng() % 8 == 0)
        s.threads = pick({32, 128});
      ++total;
      accepted += check(*module, p, s);
    }
  }
  EXPECT_GT(accepted, total / 20);
  EXPECT_LT(accepted, total);
}

} // namespace
