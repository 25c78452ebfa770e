//===- SpSparseTileOps.td - DISTile ops --------------------*- tablegen -*-===//
//
// Part of the dynaspa project.
//
//===----------------------------------------------------------------------===//
//
// The Dense-In-Sparse Tile form (paper §3.1, Fig. 5 and Fig. 8): a mask is
// packed into a bitmask, the bitmask is turned into a list of the tiles that
// hold at least one active position, and a loop runs a dense body on each
// listed tile. Granularity tiling produces these ops from the masked ops.
//
//===----------------------------------------------------------------------===//

#ifndef DYNASPA_DIALECT_SPSPARSE_IR_SPSPARSETILEOPS_TD
#define DYNASPA_DIALECT_SPSPARSE_IR_SPSPARSETILEOPS_TD

include "dynaspa/Dialect/SpSparse/IR/SpSparseAttrs.td"
include "mlir/Interfaces/ControlFlowInterfaces.td"
include "mlir/Interfaces/SideEffectInterfaces.td"
include "mlir/IR/CommonAttrConstraints.td"

def SpSparse_BitmaskOp : SpSparse_Op<"bitmask", [Pure]> {
  let summary = "pack a spatial mask into 32-bit words";
  let description = [{
    Packs the innermost axis of a mask into `i32` words: bit `j` of word `w`
    of row `r` is set iff `mask[r, 32 * w + j]` is non-zero. Bits past the
    mask's width are zero. The result has the mask's shape except for the
    innermost axis, which becomes `ceil(W / 32)`.

    ```mlir
    %bits = spsparse.bitmask %m : tensor<1x40x40xi1> -> tensor<1x40x2xi32>
    ```
  }];
  let arguments = (ins RankedTensorOf<[AnySignlessInteger, AnyFloat]>:$mask);
  let results = (outs RankedTensorOf<[I32]>:$bitmask);
  let assemblyFormat = "$mask attr-dict `:` type($mask) `->` type($bitmask)";
  let hasVerifier = 1;
  let extraClassDeclaration = [{
    /// Mask positions per bitmask word.
    static constexpr int64_t kBitsPerWord = 32;
    /// The bitmask type of a mask of type `maskType`.
    static ::mlir::RankedTensorType
    getBitmaskType(::mlir::RankedTensorType maskType);
  }];
}

def SpSparse_DISTilesOp : SpSparse_Op<"distiles", [Pure]> {
  let summary = "list the DISTiles of a bitmask that hold an active position";
  let description = [{
    Generate_DISTiles (paper Fig. 5/8): cuts the mask described by `bitmask`
    (whose innermost axis has `width` positions) into tiles of `granularity`
    and lists, in increasing order, the linear ids of the tiles that hold at
    least one active position. The granularity covers the trailing axes of
    the mask; leading axes are tiled with size 1. With the DISTile grid
    `[G0, ..., Gr-1]` (see `#spsparse.granularity`), the id of tile
    `(t0, ..., tr-1)` is its row-major linear index.

    `tiles` has one slot per tile of the grid; only the first `count` are
    defined. A tile that overhangs the mask's edge is listed if its in-bounds
    part is active: the overhang is phantom.

    ```mlir
    %tiles, %count = spsparse.distiles %bits
        {granularity = #spsparse.granularity<[2, 2]>, width = 5 : i64}
        : tensor<1x5x1xi32> -> tensor<9xi32>, tensor<i32>
    ```
  }];
  let arguments = (ins RankedTensorOf<[I32]>:$bitmask,
                       SpSparse_GranularityAttr:$granularity,
                       ConfinedAttr<I64Attr, [IntPositive]>:$width);
  let results = (outs 1DTensorOf<[I32]>:$tiles, 0DTensorOf<[I32]>:$count);
  let assemblyFormat = [{
    $bitmask attr-dict `:` type($bitmask) `->` type($tiles) `,` type($count)
  }];
  let hasVerifier = 1;
  let extraClassDeclaration = [{
    /// The shape of the mask the bitmask was packed from.
    ::llvm::SmallVector<int64_t> getMaskShape();
  }];
}

def SpSparse_ForeachTileOp : SpSparse_Op<"foreach_tile", [
    RecursiveMemoryEffects, SingleBlockImplicitTerminator<"YieldOp">,
    AllTypesMatch<["init", "result"]>]> {
  let summary = "run a dense body on every listed DISTile";
  let description = [{
    The "virtually dense nested loop" of DynaSpa. For each of the first
    `count` tile ids in `tiles` (as produced by `spsparse.distiles` for
    `granularity` over a mask shaped `grid`-many tiles), the body receives the
    tile's origin in output coordinates, one `index` per axis of `tile_dims`,
    and yields a dense tile. The result is `init` with every yielded tile
    written at its origin.

    `tile_dims` names the result axes the tile coordinates index, outermost
    first; the last `rank(granularity)` of them are tiled by the granularity,
    the others (the batch) by 1. Along every other axis the yielded tile
    spans the whole result. Elements of a tile that fall outside the result
    are phantom and dropped: tile bodies need no boundary branches.
    Tiles are disjoint, so iterations are independent and may run in any
    order or in parallel.

    ```mlir
    %y = spsparse.foreach_tile %tiles[%count] into %init
        {granularity = #spsparse.granularity<[2, 2]>,
         tile_dims = array<i64: 0, 1, 2>}
        : tensor<9xi32>, tensor<i32>, tensor<1x5x5x8xf32> {
    ^bb0(%n: index, %h: index, %w: index):
      %t = ... : tensor<1x2x2x8xf32>
      spsparse.yield %t : tensor<1x2x2x8xf32>
    }
    ```
  }];
  let arguments = (ins 1DTensorOf<[I32]>:$tiles, 0DTensorOf<[I32]>:$count,
                       AnyRankedTensor:$init,
                       SpSparse_GranularityAttr:$granularity,
                       DenseI64ArrayAttr:$tile_dims);
  let results = (outs AnyRankedTensor:$result);
  let regions = (region SizedRegion<1>:$body);
  let assemblyFormat = [{
    $tiles `[` $count `]` `into` $init attr-dict `:` type($tiles) `,`
    type($count) `,` type($init) $body
  }];
  let hasVerifier = 1;
  let hasRegionVerifier = 1;
  let extraClassDeclaration = [{
    /// The DISTile grid: tiles along each of `tile_dims`.
    ::llvm::SmallVector<int64_t> getGrid();
    /// The shape every iteration yields.
    ::llvm::SmallVector<int64_t> getTileShape();
  }];
}

def SpSparse_YieldOp : SpSparse_Op<"yield", [
    Pure, Terminator, ReturnLike,
    ParentOneOf<["ForeachTileOp", "PolyKernelOp"]>]> {
  let summary = "yield a foreach_tile iteration's tile or a polykernel's results";
  let arguments = (ins Variadic<AnyRankedTensor>:$values);
  let builders = [OpBuilder<(ins), [{ /* nothing to yield */ }]>];
  let assemblyFormat = "attr-dict ($values^ `:` type($values))?";
}

#endif // DYNASPA_DIALECT_SPSPARSE_IR_SPSPARSETILEOPS_TD
