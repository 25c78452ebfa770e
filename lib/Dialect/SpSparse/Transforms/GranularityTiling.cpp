//===- GranularityTiling.cpp - masked ops to DISTiles ---------------------===//
//
// Part of the dynaspa project.
//
//===----------------------------------------------------------------------===//
//
// Rewrites a masked op into bitmask -> distiles -> foreach_tile, whose body
// is the same masked op on one granularity-sized output tile. Keeping the body
// a masked op (not linalg) means every later stage — the reference lowering,
// the GPU kernel template — sees one small dense problem with its own mask,
// and tiling composes with them unchanged.
//
//===----------------------------------------------------------------------===//

#include "dynaspa/Dialect/SpSparse/IR/SpSparseOps.h"
#include "dynaspa/Dialect/SpSparse/Transforms/Passes.h"
#include "dynaspa/Dialect/SpSparse/Transforms/Phantom.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/PatternMatch.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"

namespace mlir {
namespace spsparse {
#define GEN_PASS_DEF_SPSPARSETILEBYGRANULARITY
#include "dynaspa/Dialect/SpSparse/Transforms/Passes.h.inc"
} // namespace spsparse
} // namespace mlir

using namespace mlir;
using namespace mlir::spsparse;

namespace {

/// Shared driver: pick the granularity, build bitmask/distiles/foreach_tile
/// around a tile body the op-specific pattern provides.
template <typename OpTy>
struct TileMaskedOp : OpRewritePattern<OpTy> {
  TileMaskedOp(MLIRContext *ctx, ArrayRef<int64_t> defaultGranularity)
      : OpRewritePattern<OpTy>(ctx), defaultGranularity(defaultGranularity) {}

  /// The granularity for `op`, truncated to `rank` sizes, or null.
  GranularityAttr getGranularity(OpTy op, unsigned rank) const {
    if (auto attr = op->template getAttrOfType<GranularityAttr>(
            SpSparseDialect::kGranularityAttrName))
      return attr.getSizes().size() == rank ? attr : GranularityAttr();
    if (defaultGranularity.size() < rank)
      return {};
    return GranularityAttr::getChecked(
        [&] { return op->emitError(); }, op.getContext(),
        ArrayRef(defaultGranularity).take_front(rank));
  }

  /// `mask` broadcast to `shape` (the batch) if it lacks the leading axis.
  static Value broadcastMask(OpBuilder &b, Location loc, Value mask,
                             ArrayRef<int64_t> shape) {
    auto maskTy = cast<RankedTensorType>(mask.getType());
    if (maskTy.getRank() == static_cast<int64_t>(shape.size()))
      return mask;
    Value empty = tensor::EmptyOp::create(b, loc, shape, maskTy.getElementType());
    return linalg::BroadcastOp::create(b, loc, mask, empty, ArrayRef<int64_t>{0})
        .getResult()[0];
  }

  /// Builds the DISTile form of `op` over the (batched) `mask`; `tileDims`
  /// are the result axes the mask indexes; `buildBody` computes one tile from
  /// the tile origin (one index per mask axis) and the mask tile.
  LogicalResult
  tile(OpTy op, PatternRewriter &rewriter, Value mask, GranularityAttr g,
       ArrayRef<int64_t> tileDims,
       function_ref<Value(OpBuilder &, Location, ValueRange, Value)> buildBody)
      const {
    Location loc = op.getLoc();
    auto resultTy = cast<RankedTensorType>(op->getResult(0).getType());
    auto maskTy = cast<RankedTensorType>(mask.getType());
    ArrayRef<int64_t> maskShape = maskTy.getShape();

    Value bits = BitmaskOp::create(
        rewriter, loc, BitmaskOp::getBitmaskType(maskTy), mask);
    int64_t capacity = g.getNumTiles(maskShape);
    auto distiles = DISTilesOp::create(
        rewriter, loc, RankedTensorType::get({capacity}, rewriter.getI32Type()),
        RankedTensorType::get({}, rewriter.getI32Type()), bits, g,
        rewriter.getI64IntegerAttr(maskShape.back()));

    // Tiles that are never listed stay zero: the op's value off the mask.
    Type elt = resultTy.getElementType();
    Value empty = tensor::EmptyOp::create(rewriter, loc, resultTy.getShape(), elt);
    Value zero = arith::ConstantOp::create(rewriter, loc, elt,
                                           rewriter.getZeroAttr(elt));
    Value init = linalg::FillOp::create(rewriter, loc, zero, empty).getResult(0);

    auto loop = ForeachTileOp::create(
        rewriter, loc, resultTy, distiles.getTiles(), distiles.getCount(), init,
        g, rewriter.getDenseI64ArrayAttr(tileDims));
    Block *body = rewriter.createBlock(
        &loop.getBody(), {}, SmallVector<Type>(tileDims.size(), rewriter.getIndexType()),
        SmallVector<Location>(tileDims.size(), loc));
    ValueRange origin = body->getArguments();

    // The mask tile (phantom outside the mask) drives the body's own mask.
    SmallVector<int64_t> maskTileShape(tileDims.size(), 1);
    ArrayRef<int64_t> sizes = g.getSizes();
    std::copy(sizes.begin(), sizes.end(),
              maskTileShape.end() - sizes.size());
    // Leading (batch) origins always exist; only tiled axes can overhang.
    SmallVector<bool> inBounds(tileDims.size(), false);
    std::fill(inBounds.begin(), inBounds.end() - sizes.size(), true);
    Value maskTile =
        buildPhantomRead(rewriter, loc, mask, getAsOpFoldResult(origin),
                         maskTileShape, inBounds);
    Value tileResult = buildBody(rewriter, loc, origin, maskTile);
    YieldOp::create(rewriter, loc, tileResult);

    rewriter.replaceOp(op, loop.getResult());
    return success();
  }

  bool isTileable(OpTy op, PatternRewriter &rewriter) const {
    if (op->template getParentOfType<ForeachTileOp>())
      return false; // Already a tile body.
    for (Type t : op->getOperandTypes())
      if (!cast<RankedTensorType>(t).hasStaticShape())
        return false;
    return true;
  }

  SmallVector<int64_t> defaultGranularity;
};

struct TileMaskedConv2D : TileMaskedOp<MaskedConv2DOp> {
  using TileMaskedOp::TileMaskedOp;

  LogicalResult matchAndRewrite(MaskedConv2DOp op,
                                PatternRewriter &rewriter) const override {
    if (!isTileable(op, rewriter))
      return rewriter.notifyMatchFailure(op, "not a static, untiled op");
    GranularityAttr g = getGranularity(op, 2);
    if (!g)
      return rewriter.notifyMatchFailure(op, "no rank-2 granularity");

    RankedTensorType resultTy = op.getResult().getType();
    RankedTensorType inputTy = op.getInput().getType();
    int64_t hDim = op.getHeightDim(), wDim = op.getWidthDim(),
            cDim = op.getChannelDim();
    Value mask = broadcastMask(
        rewriter, op.getLoc(), op.getMask(),
        {resultTy.getDimSize(0), resultTy.getDimSize(hDim),
         resultTy.getDimSize(wDim)});
    ArrayRef<int64_t> strides = op.getStrides(), dilations = op.getDilations(),
                      padding = op.getPadding();
    int64_t kernel[2] = {op.getKernelHeight(), op.getKernelWidth()};
    ArrayRef<int64_t> gs = g.getSizes();

    auto buildBody = [&](OpBuilder &b, Location loc, ValueRange origin,
                         Value maskTile) -> Value {
      // Input window of the tile, halo included: output row o reads input
      // rows o*s - pad_before ... o*s - pad_before + (k-1)*d.
      SmallVector<OpFoldResult> offsets(4, b.getIndexAttr(0));
      SmallVector<int64_t> sizes(inputTy.getShape());
      offsets[0] = origin[0];
      sizes[0] = 1;
      for (int axis = 0; axis < 2; ++axis) {
        int64_t dim = axis == 0 ? hDim : wDim;
        Value o = arith::MulIOp::create(
            b, loc, origin[1 + axis],
            arith::ConstantIndexOp::create(b, loc, strides[axis]));
        offsets[dim] =
            arith::SubIOp::create(
                b, loc, o,
                arith::ConstantIndexOp::create(b, loc, padding[2 * axis]))
                .getResult();
        sizes[dim] = (gs[axis] - 1) * strides[axis] +
                     (kernel[axis] - 1) * dilations[axis] + 1;
      }
      SmallVector<bool> inBounds(4, false);
      inBounds[0] = inBounds[cDim] = true;
      Value window =
          buildPhantomRead(b, loc, op.getInput(), offsets, sizes, inBounds);
      SmallVector<int64_t> tileShape(resultTy.getShape());
      tileShape[0] = 1;
      tileShape[hDim] = gs[0];
      tileShape[wDim] = gs[1];
      auto tileOp = MaskedConv2DOp::create(
          b, loc, RankedTensorType::get(tileShape, resultTy.getElementType()),
          window, op.getFilter(), maskTile, op.getBias(), op.getStridesAttr(),
          op.getDilationsAttr(), b.getDenseI64ArrayAttr({0, 0, 0, 0}),
          op.getLayoutAttr());
      return tileOp.getResult();
    };
    SmallVector<int64_t> tileDims = {0, hDim, wDim};
    return tile(op, rewriter, mask, g, tileDims, buildBody);
  }
};

struct TileMaskedBatchMatmul : TileMaskedOp<MaskedBatchMatmulOp> {
  using TileMaskedOp::TileMaskedOp;

  LogicalResult matchAndRewrite(MaskedBatchMatmulOp op,
                                PatternRewriter &rewriter) const override {
    if (!isTileable(op, rewriter))
      return rewriter.notifyMatchFailure(op, "not a static, untiled op");
    GranularityAttr g = getGranularity(op, 1);
    if (!g)
      return rewriter.notifyMatchFailure(op, "no granularity");

    RankedTensorType resultTy = op.getResult().getType();
    int64_t batch = resultTy.getDimSize(0), n = resultTy.getDimSize(2);
    int64_t k = op.getLhs().getType().getDimSize(2);
    int64_t gm = g.getSizes()[0];
    Value rows = broadcastMask(rewriter, op.getLoc(), op.getRowMask(),
                               {batch, resultTy.getDimSize(1)});

    auto buildBody = [&](OpBuilder &b, Location loc, ValueRange origin,
                         Value rowTile) -> Value {
      OpFoldResult zero = b.getIndexAttr(0);
      Value lhs = buildPhantomRead(b, loc, op.getLhs(),
                                   {origin[0], origin[1], zero}, {1, gm, k},
                                   {true, false, true});
      Value rhs = buildPhantomRead(b, loc, op.getRhs(), {origin[0], zero, zero},
                                   {1, k, n}, {true, true, true});
      Value cols = op.getColMask();
      if (cols && cast<RankedTensorType>(cols.getType()).getRank() == 2)
        cols = buildPhantomRead(b, loc, cols, {origin[0], zero}, {1, n},
                                {true, true});
      return MaskedBatchMatmulOp::create(
                 b, loc,
                 RankedTensorType::get({1, gm, n}, resultTy.getElementType()),
                 lhs, rhs, rowTile, cols)
          .getResult();
    };
    return tile(op, rewriter, rows, g, {0, 1}, buildBody);
  }
};

struct SpSparseTileByGranularityPass
    : spsparse::impl::SpSparseTileByGranularityBase<
          SpSparseTileByGranularityPass> {
  using Base::Base;

  void runOnOperation() override {
    if (llvm::any_of(granularity, [](int64_t s) { return s <= 0; })) {
      getOperation()->emitError("granularity sizes must be positive");
      return signalPassFailure();
    }
    RewritePatternSet patterns(&getContext());
    populateGranularityTilingPatterns(patterns, granularity);
    GreedyRewriteConfig config;
    config.enableFolding(false);
    if (failed(applyPatternsGreedily(getOperation(), std::move(patterns),
                                     config)))
      return signalPassFailure();
  }
};
} // namespace

void mlir::spsparse::populateGranularityTilingPatterns(
    RewritePatternSet &patterns, ArrayRef<int64_t> defaultGranularity) {
  patterns.add<TileMaskedConv2D, TileMaskedBatchMatmul>(patterns.getContext(),
                                                        defaultGranularity);
}
