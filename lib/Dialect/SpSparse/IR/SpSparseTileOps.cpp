//===- SpSparseTileOps.cpp - DISTile ops ----------------------------------===//
//
// Part of the dynaspa project.
//
//===----------------------------------------------------------------------===//
//
// Verifiers of bitmask, distiles and foreach_tile. The three must agree on
// one DISTile grid (GranularityAttr::getGrid), which is what they check.
//
//===----------------------------------------------------------------------===//

#include "dynaspa/Dialect/SpSparse/IR/SpSparseOps.h"

using namespace mlir;
using namespace mlir::spsparse;

static bool mismatch(int64_t a, int64_t b) {
  return !ShapedType::isDynamic(a) && !ShapedType::isDynamic(b) && a != b;
}

//===----------------------------------------------------------------------===//
// BitmaskOp
//===----------------------------------------------------------------------===//

RankedTensorType BitmaskOp::getBitmaskType(RankedTensorType maskType) {
  SmallVector<int64_t> shape(maskType.getShape());
  if (!shape.empty() && !ShapedType::isDynamic(shape.back()))
    shape.back() = llvm::divideCeil(shape.back(), kBitsPerWord);
  return RankedTensorType::get(shape,
                               IntegerType::get(maskType.getContext(), 32));
}

LogicalResult BitmaskOp::verify() {
  RankedTensorType maskTy = getMask().getType();
  RankedTensorType bitsTy = getBitmask().getType();
  if (maskTy.getRank() < 1)
    return emitOpError("expects a mask of rank >= 1");
  if (bitsTy.getRank() != maskTy.getRank())
    return emitOpError() << "expects a bitmask of the mask's rank "
                         << maskTy.getRank() << ", got " << bitsTy;
  RankedTensorType expected = getBitmaskType(maskTy);
  for (int64_t i = 0, e = maskTy.getRank(); i < e; ++i) {
    int64_t want = expected.getDimSize(i);
    if (mismatch(bitsTy.getDimSize(i), want))
      return emitOpError() << "bitmask dimension " << i << " is "
                           << bitsTy.getDimSize(i) << ", expected " << want
                           << (i == e - 1 ? " (32 mask positions per word)"
                                          : "");
  }
  return success();
}

//===----------------------------------------------------------------------===//
// DISTilesOp
//===----------------------------------------------------------------------===//

SmallVector<int64_t> DISTilesOp::getMaskShape() {
  SmallVector<int64_t> shape(getBitmask().getType().getShape());
  shape.back() = getWidth();
  return shape;
}

LogicalResult DISTilesOp::verify() {
  RankedTensorType bitsTy = getBitmask().getType();
  ArrayRef<int64_t> sizes = getGranularity().getSizes();
  if (bitsTy.getRank() < 1)
    return emitOpError("expects a bitmask of rank >= 1");
  if (static_cast<int64_t>(sizes.size()) > bitsTy.getRank())
    return emitOpError() << "granularity of rank " << sizes.size()
                         << " is deeper than the rank-" << bitsTy.getRank()
                         << " mask";
  int64_t words = llvm::divideCeil(getWidth(), BitmaskOp::kBitsPerWord);
  if (mismatch(bitsTy.getShape().back(), words))
    return emitOpError() << "a mask of width " << getWidth() << " packs into "
                         << words << " words, but the bitmask has "
                         << bitsTy.getShape().back();
  int64_t tiles = getGranularity().getNumTiles(getMaskShape());
  if (mismatch(getTiles().getType().getDimSize(0), tiles))
    return emitOpError() << "expects a tile list of capacity " << tiles
                         << " (one slot per tile of the grid), got "
                         << getTiles().getType();
  return success();
}

//===----------------------------------------------------------------------===//
// ForeachTileOp
//===----------------------------------------------------------------------===//

SmallVector<int64_t> ForeachTileOp::getGrid() {
  ArrayRef<int64_t> shape = getInit().getType().getShape();
  SmallVector<int64_t> tiled;
  for (int64_t d : getTileDims())
    tiled.push_back(shape[d]);
  return getGranularity().getGrid(tiled);
}

SmallVector<int64_t> ForeachTileOp::getTileShape() {
  SmallVector<int64_t> shape(getInit().getType().getShape());
  ArrayRef<int64_t> dims = getTileDims();
  ArrayRef<int64_t> sizes = getGranularity().getSizes();
  size_t lead = dims.size() - sizes.size();
  for (auto [i, d] : llvm::enumerate(dims))
    shape[d] = i < lead ? 1 : sizes[i - lead];
  return shape;
}

LogicalResult ForeachTileOp::verify() {
  RankedTensorType initTy = getInit().getType();
  ArrayRef<int64_t> dims = getTileDims();
  if (dims.size() < getGranularity().getSizes().size())
    return emitOpError() << "expects at least as many 'tile_dims' as "
                            "granularity sizes ("
                         << getGranularity().getSizes().size() << "), got "
                         << dims.size();
  for (auto [i, d] : llvm::enumerate(dims)) {
    if (d < 0 || d >= initTy.getRank())
      return emitOpError() << "tile dimension " << d << " is out of range for "
                           << initTy;
    if (i > 0 && d <= dims[i - 1])
      return emitOpError("expects strictly increasing 'tile_dims'");
  }
  SmallVector<int64_t> tiled;
  for (int64_t d : dims)
    tiled.push_back(initTy.getDimSize(d));
  int64_t tiles = getGranularity().getNumTiles(tiled);
  if (mismatch(getTiles().getType().getDimSize(0), tiles))
    return emitOpError() << "expects a tile list of capacity " << tiles
                         << " (one slot per tile of the grid), got "
                         << getTiles().getType();
  return success();
}

LogicalResult ForeachTileOp::verifyRegions() {
  Block &body = getBody().front();
  size_t numDims = getTileDims().size();
  if (body.getNumArguments() != numDims ||
      !llvm::all_of(body.getArgumentTypes(),
                    [](Type t) { return t.isIndex(); }))
    return emitOpError() << "expects the body to take " << numDims
                         << " index arguments (the tile origin)";
  auto yield = cast<YieldOp>(body.getTerminator());
  if (yield.getValues().size() != 1)
    return yield.emitOpError("expects to yield exactly one tile");
  auto tileTy = cast<RankedTensorType>(yield.getValues()[0].getType());
  auto expected = RankedTensorType::get(getTileShape(),
                                        getInit().getType().getElementType());
  if (tileTy.getElementType() != expected.getElementType() ||
      tileTy.getRank() != expected.getRank() ||
      llvm::any_of(llvm::zip(tileTy.getShape(), expected.getShape()),
                   [](auto p) {
                     return mismatch(std::get<0>(p), std::get<1>(p));
                   }))
    return yield.emitOpError() << "yields " << tileTy
                               << " but the granularity makes tiles of "
                               << expected;
  return success();
}
