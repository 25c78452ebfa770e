//===- DISTilesToLoops.cpp - reference lowering of DISTile ops ------------===//
//
// Part of the dynaspa project.
//
//===----------------------------------------------------------------------===//
//
// Sequential CPU meaning of bitmask, distiles and foreach_tile, in scf loops
// over tensors. Like the masked-op lowering it favours obviousness over speed:
// it is what the GPU kernels of the same ops are checked against, and what
// makes the output of granularity tiling executable.
//
//===----------------------------------------------------------------------===//

#include "dynaspa/Conversion/SpSparseToLinalg/SpSparseToLinalg.h"

#include "dynaspa/Dialect/SpSparse/IR/SpSparseOps.h"
#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/PatternMatch.h"

using namespace mlir;
using namespace mlir::spsparse;

static constexpr int64_t kBitsPerWord = BitmaskOp::kBitsPerWord;

static Value cst(OpBuilder &b, Location loc, int64_t v) {
  return arith::ConstantIndexOp::create(b, loc, v);
}

/// Row-major coordinates of linear index `id` in `grid`.
static SmallVector<Value> delinearize(OpBuilder &b, Location loc, Value id,
                                      ArrayRef<int64_t> grid) {
  SmallVector<Value> coords(grid.size());
  for (int64_t d = grid.size() - 1; d >= 0; --d) {
    Value extent = cst(b, loc, grid[d]);
    coords[d] = arith::RemUIOp::create(b, loc, id, extent);
    id = arith::DivUIOp::create(b, loc, id, extent);
  }
  return coords;
}

static Value toIndex(OpBuilder &b, Location loc, Value i32) {
  return arith::IndexCastOp::create(b, loc, b.getIndexType(), i32);
}

namespace {
/// Each word ORs in 32 mask positions; positions past the width are 0.
struct LowerBitmask : OpRewritePattern<BitmaskOp> {
  using OpRewritePattern::OpRewritePattern;

  LogicalResult matchAndRewrite(BitmaskOp op,
                                PatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    Value mask = op.getMask();
    auto maskTy = op.getMask().getType();
    if (!maskTy.hasStaticShape())
      return rewriter.notifyMatchFailure(op, "dynamic mask shape");
    int64_t width = maskTy.getShape().back();
    auto gen = tensor::GenerateOp::create(
        rewriter, loc, op.getBitmask().getType(), ValueRange{},
        [&](OpBuilder &b, Location l, ValueRange idx) {
          Value zero = arith::ConstantIntOp::create(b, l, 0, 32);
          auto loop = scf::ForOp::create(
              b, l, cst(b, l, 0), cst(b, l, kBitsPerWord), cst(b, l, 1),
              ValueRange{zero},
              [&](OpBuilder &fb, Location fl, Value j, ValueRange acc) {
                Value col = arith::AddIOp::create(
                    fb, fl,
                    arith::MulIOp::create(fb, fl, idx.back(),
                                          cst(fb, fl, kBitsPerWord)),
                    j);
                Value inBounds = arith::CmpIOp::create(
                    fb, fl, arith::CmpIPredicate::slt, col,
                    cst(fb, fl, width));
                // Read a valid position even for the padding bits; the
                // bounds test masks the value out.
                SmallVector<Value> at(idx.drop_back());
                at.push_back(arith::SelectOp::create(fb, fl, inBounds, col,
                                                     cst(fb, fl, 0)));
                Value elem = tensor::ExtractOp::create(fb, fl, mask, at);
                Value active = arith::AndIOp::create(
                    fb, fl, inBounds, buildMaskIsActive(fb, fl, elem));
                Value bit = arith::ShLIOp::create(
                    fb, fl,
                    arith::ExtUIOp::create(fb, fl, fb.getI32Type(), active),
                    arith::IndexCastOp::create(fb, fl, fb.getI32Type(), j));
                scf::YieldOp::create(
                    fb, fl, ValueRange{arith::OrIOp::create(fb, fl, acc[0], bit)});
              });
          tensor::YieldOp::create(b, l, loop.getResult(0));
        });
    rewriter.replaceOp(op, gen.getResult());
    return success();
  }
};

/// Visits every tile of the grid in order, tests its in-bounds positions in
/// the bitmask, and appends the ids of tiles with an active position.
struct LowerDISTiles : OpRewritePattern<DISTilesOp> {
  using OpRewritePattern::OpRewritePattern;

  LogicalResult matchAndRewrite(DISTilesOp op,
                                PatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    SmallVector<int64_t> maskShape = op.getMaskShape();
    if (ShapedType::isDynamicShape(maskShape))
      return rewriter.notifyMatchFailure(op, "dynamic mask shape");
    ArrayRef<int64_t> sizes = op.getGranularity().getSizes();
    SmallVector<int64_t> grid = op.getGranularity().getGrid(maskShape);
    size_t lead = grid.size() - sizes.size();
    int64_t capacity = op.getGranularity().getNumTiles(maskShape);

    Value bits = op.getBitmask();
    auto listTy = op.getTiles().getType();
    Value empty = tensor::EmptyOp::create(rewriter, loc, listTy.getShape(),
                                          rewriter.getI32Type());
    Value zero32 = arith::ConstantIntOp::create(rewriter, loc, 0, 32);
    Value list = linalg::FillOp::create(rewriter, loc, zero32, empty).getResult(0);

    auto loop = scf::ForOp::create(
        rewriter, loc, cst(rewriter, loc, 0), cst(rewriter, loc, capacity),
        cst(rewriter, loc, 1), ValueRange{list, cst(rewriter, loc, 0)},
        [&](OpBuilder &b, Location l, Value t, ValueRange acc) {
          SmallVector<Value> coords = delinearize(b, l, t, grid);
          SmallVector<Value> lbs, ubs, steps;
          for (auto [i, size] : llvm::enumerate(sizes)) {
            Value lo =
                arith::MulIOp::create(b, l, coords[lead + i], cst(b, l, size));
            Value hi = arith::MinSIOp::create(
                b, l, arith::AddIOp::create(b, l, lo, cst(b, l, size)),
                cst(b, l, maskShape[lead + i]));
            lbs.push_back(lo);
            ubs.push_back(hi);
            steps.push_back(cst(b, l, 1));
          }
          Value none = arith::ConstantIntOp::create(b, l, 0, 1);
          scf::LoopNest nest = scf::buildLoopNest(
              b, l, lbs, ubs, steps, ValueRange{none},
              [&](OpBuilder &nb, Location nl, ValueRange ivs,
                  ValueRange any) -> scf::ValueVector {
                SmallVector<Value> at(coords.begin(), coords.begin() + lead);
                at.append(ivs.begin(), ivs.end());
                Value col = at.back();
                at.back() = arith::DivUIOp::create(nb, nl, col,
                                                   cst(nb, nl, kBitsPerWord));
                Value word = tensor::ExtractOp::create(nb, nl, bits, at);
                Value shift = arith::IndexCastOp::create(
                    nb, nl, nb.getI32Type(),
                    arith::RemUIOp::create(nb, nl, col,
                                           cst(nb, nl, kBitsPerWord)));
                Value bit = arith::TruncIOp::create(
                    nb, nl, nb.getI1Type(),
                    arith::ShRUIOp::create(nb, nl, word, shift));
                return {arith::OrIOp::create(nb, nl, any[0], bit)};
              });
          Value active = nest.results[0];
          auto append = scf::IfOp::create(
              b, l, active,
              [&](OpBuilder &ib, Location il) {
                Value id = arith::IndexCastOp::create(ib, il, ib.getI32Type(), t);
                Value next =
                    tensor::InsertOp::create(ib, il, id, acc[0], ValueRange{acc[1]});
                scf::YieldOp::create(ib, il, next);
              },
              [&](OpBuilder &ib, Location il) {
                scf::YieldOp::create(ib, il, acc[0]);
              });
          Value count = arith::AddIOp::create(
              b, l, acc[1],
              arith::IndexCastOp::create(
                  b, l, b.getIndexType(),
                  arith::ExtUIOp::create(b, l, b.getI32Type(), active)));
          scf::YieldOp::create(b, l, ValueRange{append.getResult(0), count});
        });
    Value count32 = arith::IndexCastOp::create(rewriter, loc, rewriter.getI32Type(),
                                               loop.getResult(1));
    Value countTensor = tensor::FromElementsOp::create(
        rewriter, loc, op.getCount().getType(), ValueRange{count32});
    rewriter.replaceOp(op, {loop.getResult(0), countTensor});
    return success();
  }
};

/// One loop iteration per listed tile: the body, inlined at the tile origin,
/// then the tile inserted with its phantom part (outside the result) cut off.
struct LowerForeachTile : OpRewritePattern<ForeachTileOp> {
  using OpRewritePattern::OpRewritePattern;

  LogicalResult matchAndRewrite(ForeachTileOp op,
                                PatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    RankedTensorType resultTy = op.getInit().getType();
    SmallVector<int64_t> grid = op.getGrid();
    if (!resultTy.hasStaticShape() || ShapedType::isDynamicShape(grid))
      return rewriter.notifyMatchFailure(op, "dynamic shape");
    SmallVector<int64_t> tileShape = op.getTileShape();
    ArrayRef<int64_t> tileDims = op.getTileDims();

    Value count = toIndex(rewriter, loc,
                          tensor::ExtractOp::create(rewriter, loc, op.getCount(),
                                                    ValueRange{}));
    auto loop = scf::ForOp::create(rewriter, loc, cst(rewriter, loc, 0), count,
                                   cst(rewriter, loc, 1),
                                   ValueRange{op.getInit()});
    Block *loopBody = loop.getBody();
    rewriter.setInsertionPointToStart(loopBody);
    Value id = toIndex(rewriter, loc,
                       tensor::ExtractOp::create(rewriter, loc, op.getTiles(),
                                                 loop.getInductionVar()));
    SmallVector<Value> origin = delinearize(rewriter, loc, id, grid);
    for (auto [i, d] : llvm::enumerate(tileDims))
      origin[i] = arith::MulIOp::create(rewriter, loc, origin[i],
                                        cst(rewriter, loc, tileShape[d]));

    Block &tileBody = op.getBody().front();
    auto yield = cast<YieldOp>(tileBody.getTerminator());
    rewriter.inlineBlockBefore(&tileBody, loopBody, loopBody->end(), origin);

    rewriter.setInsertionPoint(yield);
    SmallVector<OpFoldResult> offsets(resultTy.getRank(), rewriter.getIndexAttr(0));
    SmallVector<OpFoldResult> sizes, strides(resultTy.getRank(),
                                             rewriter.getIndexAttr(1));
    for (int64_t d = 0; d < resultTy.getRank(); ++d)
      sizes.push_back(rewriter.getIndexAttr(tileShape[d]));
    for (auto [i, d] : llvm::enumerate(tileDims)) {
      offsets[d] = origin[i];
      if (resultTy.getDimSize(d) % tileShape[d] == 0)
        continue; // Tiles divide this axis: never clipped.
      sizes[d] = arith::MinSIOp::create(
                     rewriter, loc, cst(rewriter, loc, tileShape[d]),
                     arith::SubIOp::create(
                         rewriter, loc, cst(rewriter, loc, resultTy.getDimSize(d)),
                         origin[i]))
                     .getResult();
    }
    SmallVector<OpFoldResult> zeros(resultTy.getRank(), rewriter.getIndexAttr(0));
    Value inBounds = tensor::ExtractSliceOp::create(
        rewriter, loc, yield.getValues()[0], zeros, sizes, strides);
    Value updated = tensor::InsertSliceOp::create(
        rewriter, loc, inBounds, loopBody->getArgument(1), offsets, sizes,
        strides);
    rewriter.replaceOpWithNewOp<scf::YieldOp>(yield, updated);
    rewriter.replaceOp(op, loop.getResults());
    return success();
  }
};
} // namespace

void mlir::spsparse::populateDISTilesToLoopsPatterns(
    RewritePatternSet &patterns) {
  patterns.add<LowerBitmask, LowerDISTiles, LowerForeachTile>(
      patterns.getContext());
}
