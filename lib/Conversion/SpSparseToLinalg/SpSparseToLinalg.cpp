//===- SpSparseToLinalg.cpp - reference lowering of masked ops ------------===//
//
// Part of the dynaspa project.
//
//===----------------------------------------------------------------------===//
//
// The reference meaning of every tensor-level masked op, written once against
// MaskedOpInterface: the op's dense computation, then the mask select. The ops
// themselves know how to build both halves.
//
//===----------------------------------------------------------------------===//

#include "dynaspa/Conversion/SpSparseToLinalg/SpSparseToLinalg.h"

#include "dynaspa/Dialect/SpSparse/IR/SpSparseOps.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"

namespace mlir {
namespace spsparse {
#define GEN_PASS_DEF_CONVERTSPSPARSETOLINALG
#include "dynaspa/Conversion/Passes.h.inc"
} // namespace spsparse
} // namespace mlir

using namespace mlir;
using namespace mlir::spsparse;

namespace {
struct LowerMaskedOp : OpInterfaceRewritePattern<MaskedOpInterface> {
  using OpInterfaceRewritePattern::OpInterfaceRewritePattern;

  LogicalResult matchAndRewrite(MaskedOpInterface op,
                                PatternRewriter &rewriter) const override {
    Value dense = op.buildDense(rewriter);
    rewriter.replaceOp(op, op.buildApplyMasks(rewriter, dense));
    return success();
  }
};

struct ConvertSpSparseToLinalgPass
    : spsparse::impl::ConvertSpSparseToLinalgBase<ConvertSpSparseToLinalgPass> {
  void runOnOperation() override {
    RewritePatternSet patterns(&getContext());
    populateSpSparseToLinalgPatterns(patterns);
    populateDISTilesToLoopsPatterns(patterns);
    // The rewrite is one-shot per op; a greedy walk is enough and keeps
    // unrelated IR as is (no folding).
    GreedyRewriteConfig config;
    config.enableFolding(false);
    if (failed(applyPatternsGreedily(getOperation(), std::move(patterns),
                                     config)))
      return signalPassFailure();
  }
};
} // namespace

void mlir::spsparse::populateSpSparseToLinalgPatterns(
    RewritePatternSet &patterns) {
  patterns.add<LowerMaskedOp>(patterns.getContext());
}
