//===- TileSpace.cpp - the DISTile grid of a masked op on the GPU --------===//
//
// Part of the dynaspa project.
//
//===----------------------------------------------------------------------===//

#include "TileSpace.h"

using namespace mlir;
using namespace mlir::spsparse;

/// Longest innermost tile row whose mask loads are unrolled.
static constexpr int64_t kMaxUnrolledMaskRow = 32;

FailureOr<TileSpace> TileSpace::get(MaskedOpInterface op, GranularityAttr g) {
  TileSpace space;
  auto result = cast<RankedTensorType>(op->getResult(0).getType());
  auto mask = cast<RankedTensorType>(op.getMasks().front().getType());
  if (!result.hasStaticShape() || !mask.hasStaticShape())
    return op->emitOpError("needs static shapes for the GPU lowering");
  if (auto conv = dyn_cast<MaskedConv2DOp>(op.getOperation())) {
    space.batch = result.getDimSize(0);
    space.extent = {result.getDimSize(conv.getHeightDim()),
                    result.getDimSize(conv.getWidthDim())};
  } else {
    space.batch = result.getDimSize(0);
    space.extent = {result.getDimSize(1)};
    space.maskRole = "row_mask";
  }
  ArrayRef<int64_t> sizes = g.getSizes();
  // Sizes cover the trailing mask axes; a size for the batch axis as well
  // would shift them, so only the exact count is accepted (batch tiles have
  // size 1).
  if (sizes.size() != space.extent.size())
    return op->emitOpError()
           << "granularity " << g << " has " << sizes.size()
           << " sizes; the GPU lowering needs one per tiled axis ("
           << space.extent.size() << ")";
  space.sizes.assign(sizes.begin(), sizes.begin() + space.extent.size());
  for (auto [e, s] : llvm::zip(space.extent, space.sizes))
    space.grid.push_back(llvm::divideCeil(e, s));
  space.maskHasBatch =
      mask.getRank() == static_cast<int64_t>(space.extent.size()) + 1;
  return space;
}

void TileSpace::decode(KernelBuilder &k, Value tile, Value &n,
                       SmallVectorImpl<Value> &origin) const {
  // Row-major over [batch, grid...]: peel the innermost axis first.
  origin.resize(grid.size());
  Value rest = tile;
  for (int64_t axis = grid.size() - 1; axis >= 0; --axis) {
    origin[axis] = k.mul(k.rem(rest, grid[axis]), sizes[axis]);
    rest = k.div(rest, grid[axis]);
  }
  n = rest;
}

Value TileSpace::getMaskIndex(KernelBuilder &k, Value n,
                              ArrayRef<Value> pos) const {
  Value index = maskHasBatch ? n : k.idx(0);
  for (auto [axis, p] : llvm::enumerate(pos))
    index = k.add(k.mul(index, extent[axis]), p);
  return index;
}

Value TileSpace::isInBounds(KernelBuilder &k, ArrayRef<Value> pos) const {
  Value inBounds;
  for (auto [axis, p] : llvm::enumerate(pos))
    inBounds = k.land(inBounds, k.slt(p, extent[axis]));
  return inBounds;
}

Value TileSpace::buildTileIsActive(KernelBuilder &k, Value mask,
                                   Value tile) const {
  ImplicitLocOpBuilder &b = k.b;
  Value n;
  SmallVector<Value, 2> origin;
  decode(k, tile, n, origin);
  // One loop per tiled axis, ORing the in-bounds mask values. The innermost
  // axis is unrolled when short, so that a thread's mask loads are
  // independent and in flight together rather than one loop trip each.
  SmallVector<Value, 2> pos;
  std::function<Value(unsigned, Value)> loop = [&](unsigned axis,
                                                   Value any) -> Value {
    if (axis == sizes.size()) {
      Value inBounds = isInBounds(k, pos);
      Value v = k.loadOrZero(mask, getMaskIndex(k, n, pos), inBounds);
      return arith::OrIOp::create(b, any, k.isNonZero(v));
    }
    if (axis + 1 == sizes.size() && sizes[axis] <= kMaxUnrolledMaskRow) {
      for (int64_t i = 0; i < sizes[axis]; ++i) {
        pos.push_back(k.add(origin[axis], i));
        any = loop(axis + 1, any);
        pos.pop_back();
      }
      return any;
    }
    auto forOp = scf::ForOp::create(b, k.idx(0), k.idx(sizes[axis]), k.idx(1),
                                    ValueRange{any});
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPointToStart(forOp.getBody());
    pos.push_back(k.add(origin[axis], forOp.getInductionVar()));
    Value inner = loop(axis + 1, forOp.getRegionIterArg(0));
    pos.pop_back();
    scf::YieldOp::create(b, ValueRange{inner});
    return forOp.getResult(0);
  };
  return loop(0, arith::ConstantIntOp::create(b, 0, 1));
}
