// The reference meaning of the DISTile ops: sequential loops over tensors.
// RUN: dynaspa-opt %s -split-input-file -convert-spsparse-to-linalg | FileCheck %s

// Bitmask: each word ORs 32 positions; positions past the width read a valid
// element but are masked out by the bounds test.
// CHECK-LABEL: func @bitmask
// CHECK: tensor.generate {
// CHECK-NEXT: ^bb0(%[[N:.*]]: index, %[[R:.*]]: index, %[[WORD:.*]]: index):
// CHECK: scf.for %[[J:.*]] = %c0 to %c32 step %c1 iter_args(%[[ACC:.*]] = %c0_i32) -> (i32)
// CHECK: %[[COL:.*]] = arith.addi
// CHECK: %[[INB:.*]] = arith.cmpi slt, %[[COL]], %c5
// CHECK: tensor.extract %{{.*}}[%[[N]], %[[R]], %{{.*}}] : tensor<1x5x5xi8>
// CHECK: arith.cmpi ne
// CHECK: arith.shli
// CHECK: arith.ori %[[ACC]]
// CHECK: tensor.yield
// CHECK: } : tensor<1x5x1xi32>
func.func @bitmask(%m: tensor<1x5x5xi8>) -> tensor<1x5x1xi32> {
  %b = spsparse.bitmask %m : tensor<1x5x5xi8> -> tensor<1x5x1xi32>
  return %b : tensor<1x5x1xi32>
}

// -----

// DISTiles: one iteration per tile of the 1x3x3 grid; an inner nest over the
// tile's in-bounds rows and columns ORs the bits; active tiles are appended.
// CHECK-LABEL: func @distiles
// CHECK: %[[LIST0:.*]] = linalg.fill ins(%c0_i32 : i32) outs(%{{.*}} : tensor<9xi32>)
// CHECK: %[[RES:.*]]:2 = scf.for %[[T:.*]] = %c0 to %c9 step %c1 iter_args(%[[LIST:.*]] = %[[LIST0]], %[[CNT:.*]] = %c0) -> (tensor<9xi32>, index)
// CHECK: arith.minsi %{{.*}}, %c5 : index
// CHECK: %[[ACTIVE:.*]] = scf.for
// CHECK: scf.for
// CHECK: tensor.extract %{{.*}} : tensor<1x5x1xi32>
// CHECK: arith.shrui
// CHECK: scf.if %[[ACTIVE]] -> (tensor<9xi32>)
// CHECK: tensor.insert %{{.*}} into %[[LIST]][%[[CNT]]] : tensor<9xi32>
// CHECK: %[[C32:.*]] = arith.index_cast %[[RES]]#1 : index to i32
// CHECK: %[[COUNT:.*]] = tensor.from_elements %[[C32]] : tensor<i32>
// CHECK: return %[[RES]]#0, %[[COUNT]]
func.func @distiles(%b: tensor<1x5x1xi32>) -> (tensor<9xi32>, tensor<i32>) {
  %t, %c = spsparse.distiles %b {granularity = #spsparse.granularity<[2, 2]>, width = 5 : i64}
      : tensor<1x5x1xi32> -> tensor<9xi32>, tensor<i32>
  return %t, %c : tensor<9xi32>, tensor<i32>
}

// -----

// foreach_tile: a loop over the first `count` ids; the body is inlined at the
// decoded origin and its tile inserted with the phantom part cut off where the
// granularity does not divide the result (H, W = 5), not along the batch.
// CHECK-LABEL: func @foreach_tile
// CHECK-SAME: (%[[TILES:.*]]: tensor<9xi32>, %[[COUNT:.*]]: tensor<i32>, %[[INIT:.*]]: tensor<1x5x5x8xf32>, %[[TILE:.*]]: tensor<1x2x2x8xf32>)
// CHECK: %[[C:.*]] = tensor.extract %[[COUNT]][] : tensor<i32>
// CHECK: %[[N:.*]] = arith.index_cast %[[C]] : i32 to index
// CHECK: %[[Y:.*]] = scf.for %[[I:.*]] = %c0 to %[[N]] step %c1 iter_args(%[[ACC:.*]] = %[[INIT]])
// CHECK: %[[ID32:.*]] = tensor.extract %[[TILES]][%[[I]]]
// CHECK: arith.remui
// CHECK: arith.divui
// CHECK: %[[HLEN:.*]] = arith.minsi %c2, %{{.*}} : index
// CHECK: %[[WLEN:.*]] = arith.minsi %c2, %{{.*}} : index
// CHECK: %[[PART:.*]] = tensor.extract_slice %[[TILE]][0, 0, 0, 0] [1, %[[HLEN]], %[[WLEN]], 8] [1, 1, 1, 1]
// CHECK: %[[NEW:.*]] = tensor.insert_slice %[[PART]] into %[[ACC]][%{{.*}}, %{{.*}}, %{{.*}}, 0] [1, %[[HLEN]], %[[WLEN]], 8] [1, 1, 1, 1]
// CHECK: scf.yield %[[NEW]]
// CHECK: return %[[Y]]
func.func @foreach_tile(%tiles: tensor<9xi32>, %count: tensor<i32>, %init: tensor<1x5x5x8xf32>,
                        %t: tensor<1x2x2x8xf32>) -> tensor<1x5x5x8xf32> {
  %y = spsparse.foreach_tile %tiles[%count] into %init
      {granularity = #spsparse.granularity<[2, 2]>, tile_dims = array<i64: 0, 1, 2>}
      : tensor<9xi32>, tensor<i32>, tensor<1x5x5x8xf32> {
  ^bb0(%n: index, %h: index, %w: index):
    spsparse.yield %t : tensor<1x2x2x8xf32>
  }
  return %y : tensor<1x5x5x8xf32>
}
