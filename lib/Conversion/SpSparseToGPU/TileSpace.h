//===- TileSpace.h - the DISTile grid of a masked op on the GPU ----------===//
//
// Part of the dynaspa project.
//
//===----------------------------------------------------------------------===//
//
// How a masked op's output is cut into DISTiles, shared by the tile-list
// kernel (which lists them) and the variant kernels (which decode the ids):
// tile id = row-major index over [batch, grid...], as `spsparse.distiles`
// defines it.
//
//===----------------------------------------------------------------------===//

#ifndef DYNASPA_LIB_CONVERSION_SPSPARSETOGPU_TILESPACE_H
#define DYNASPA_LIB_CONVERSION_SPSPARSETOGPU_TILESPACE_H

#include "KernelBuilder.h"

namespace mlir {
namespace spsparse {

struct TileSpace {
  /// Images (convolution) or batch entries (batch-matmul).
  int64_t batch = 1;
  /// Masked output extent per tiled axis: (Ho, Wo) or (M).
  SmallVector<int64_t, 2> extent;
  /// DISTile size per tiled axis.
  SmallVector<int64_t, 2> sizes;
  /// Tiles per tiled axis: ceil(extent / sizes).
  SmallVector<int64_t, 2> grid;
  /// Whether the mask has the batch axis (else it is shared by the batch).
  bool maskHasBatch = true;
  /// The `spsparse.args` role of the mask that defines the tiles: the
  /// tile-list kernel reads the op's own mask buffer, so the name must be the
  /// op's operand role ("mask", or "row_mask" of a batch-matmul).
  StringRef maskRole = "mask";

  /// The tile space of `op` at granularity `g`; emits an error on `op` if
  /// the GPU lowering does not handle it.
  static FailureOr<TileSpace> get(MaskedOpInterface op, GranularityAttr g);

  int64_t getNumTiles() const {
    int64_t n = batch;
    for (int64_t t : grid)
      n *= t;
    return n;
  }

  /// Splits a tile id into its batch index and its origin on each axis.
  void decode(KernelBuilder &k, Value tile, Value &n,
              SmallVectorImpl<Value> &origin) const;

  /// The mask element index of position `pos` (one index per axis) of batch
  /// entry `n`.
  Value getMaskIndex(KernelBuilder &k, Value n, ArrayRef<Value> pos) const;

  /// Whether `pos` lies inside the masked extent.
  Value isInBounds(KernelBuilder &k, ArrayRef<Value> pos) const;

  /// Whether any in-bounds mask position of tile `tile` is non-zero.
  Value buildTileIsActive(KernelBuilder &k, Value mask, Value tile) const;
};

} // namespace spsparse
} // namespace mlir

#endif // DYNASPA_LIB_CONVERSION_SPSPARSETOGPU_TILESPACE_H
