// RUN: dynaspa-opt %s -split-input-file -verify-diagnostics --spsparse-outline-polykernels | FileCheck %s
// RUN: dynaspa-opt %s -split-input-file -verify-diagnostics --spsparse-outline-polykernels="granularity=8,8 schedule=<channel_block=64>" | FileCheck %s --check-prefix=OPT

// The variants attribute becomes the dispatch table; the op moves into the
// polykernel's body and is replaced by a dispatch.
// CHECK-LABEL: spsparse.polykernel @f_masked_conv2d_0
// CHECK-NEXT: ^bb0(%[[X:.*]]: tensor<1x5x5x8xf32>, %[[W:.*]]: tensor<3x3x8x8xf32>, %[[M:.*]]: tensor<1x5x5xi1>):
// CHECK-NEXT: spsparse.polykernel.variant @v0 granularity <[2, 2]> schedule <channel_block = 8, threads = 32, thread_channels = 1> tiles [0, 4]
// CHECK-NEXT: spsparse.polykernel.variant @v1 granularity <[4, 4]> schedule <>
// CHECK-NEXT: %[[Y:.*]] = spsparse.masked_conv2d %[[X]], %[[W]] mask %[[M]] {padding = array<i64: 1, 1, 1, 1>}
// CHECK-NEXT: spsparse.yield %[[Y]]
// CHECK-LABEL: func.func @f
// CHECK: %[[D:.*]] = spsparse.polykernel.dispatch @f_masked_conv2d_0(%{{.*}}, %{{.*}}, %{{.*}})
// CHECK: return %[[D]]
// OPT-LABEL: spsparse.polykernel @f_masked_conv2d_0
// OPT: variant @v0 granularity <[2, 2]>
func.func @f(%x: tensor<1x5x5x8xf32>, %w: tensor<3x3x8x8xf32>, %m: tensor<1x5x5xi1>) -> tensor<1x5x5x8xf32> {
  %y = spsparse.masked_conv2d %x, %w mask %m {padding = array<i64: 1, 1, 1, 1>,
      spsparse.variants = [
        {granularity = #spsparse.granularity<[2, 2]>, schedule = #spsparse.schedule<channel_block = 8, threads = 32, thread_channels = 1>, tiles = array<i64: 0, 4>},
        {granularity = #spsparse.granularity<[4, 4]>}]}
      : (tensor<1x5x5x8xf32>, tensor<3x3x8x8xf32>, tensor<1x5x5xi1>) -> tensor<1x5x5x8xf32>
  return %y : tensor<1x5x5x8xf32>
}

// -----

// Without attributes: the pass options, else the 4x4 default. Two ops give
// two polykernels.
// CHECK-LABEL: spsparse.polykernel @g_masked_conv2d_0
// CHECK: variant @v0 granularity <[4, 4]> schedule <>
// CHECK-LABEL: spsparse.polykernel @g_masked_conv2d_1
// CHECK: variant @v0 granularity <[3, 3]> schedule <>
// CHECK-LABEL: func.func @g
// CHECK: spsparse.polykernel.dispatch @g_masked_conv2d_0
// CHECK: spsparse.polykernel.dispatch @g_masked_conv2d_1
// OPT-LABEL: spsparse.polykernel @g_masked_conv2d_0
// OPT: variant @v0 granularity <[8, 8]> schedule <channel_block = 64>
func.func @g(%x: tensor<1x5x5x8xf32>, %w: tensor<1x1x8x8xf32>, %m: tensor<5x5xi1>) -> tensor<1x5x5x8xf32> {
  %a = spsparse.masked_conv2d %x, %w mask %m
      : (tensor<1x5x5x8xf32>, tensor<1x1x8x8xf32>, tensor<5x5xi1>) -> tensor<1x5x5x8xf32>
  %b = spsparse.masked_conv2d %a, %w mask %m {spsparse.granularity = #spsparse.granularity<[3, 3]>}
      : (tensor<1x5x5x8xf32>, tensor<1x1x8x8xf32>, tensor<5x5xi1>) -> tensor<1x5x5x8xf32>
  return %b : tensor<1x5x5x8xf32>
}

// -----

// Only the last variant may lack a range and a cover.
func.func @h(%x: tensor<1x5x5x8xf32>, %w: tensor<1x1x8x8xf32>, %m: tensor<5x5xi1>) -> tensor<1x5x5x8xf32> {
  // expected-error @+1 {{every variant but the last needs a 'tiles' range or a 'cover'}}
  %a = spsparse.masked_conv2d %x, %w mask %m {spsparse.variants = [
        {granularity = #spsparse.granularity<[2, 2]>}, {granularity = #spsparse.granularity<[4, 4]>}]}
      : (tensor<1x5x5x8xf32>, tensor<1x1x8x8xf32>, tensor<5x5xi1>) -> tensor<1x5x5x8xf32>
  return %a : tensor<1x5x5x8xf32>
}

// -----

// A variant may be chosen by a cover alone (here: 4x4 DISTiles while they
// cover at most 120% of the pixels the 2x2 ones do).
// CHECK-LABEL: spsparse.polykernel @c_masked_conv2d_0
// CHECK-NEXT: ^bb0
// CHECK-NEXT: spsparse.polykernel.variant @v0 granularity <[4, 4]> schedule <> cover <[4, 4] over [2, 2] in [0, 120]>
// CHECK-NEXT: spsparse.polykernel.variant @v1 granularity <[2, 2]> schedule <>{{$}}
func.func @c(%x: tensor<1x5x5x8xf32>, %w: tensor<3x3x8x8xf32>, %m: tensor<1x5x5xi1>) -> tensor<1x5x5x8xf32> {
  %y = spsparse.masked_conv2d %x, %w mask %m {padding = array<i64: 1, 1, 1, 1>,
      spsparse.variants = [
        {granularity = #spsparse.granularity<[4, 4]>, cover = #spsparse.cover<[4, 4] over [2, 2] in [0, 120]>},
        {granularity = #spsparse.granularity<[2, 2]>}]}
      : (tensor<1x5x5x8xf32>, tensor<3x3x8x8xf32>, tensor<1x5x5xi1>) -> tensor<1x5x5x8xf32>
  return %y : tensor<1x5x5x8xf32>
}

// -----

// The fallback takes no cover either.
func.func @d(%x: tensor<1x5x5x8xf32>, %w: tensor<1x1x8x8xf32>, %m: tensor<5x5xi1>) -> tensor<1x5x5x8xf32> {
  // expected-error @+1 {{the last variant is the fallback and takes no 'tiles' or 'cover'}}
  %a = spsparse.masked_conv2d %x, %w mask %m {spsparse.variants = [
        {granularity = #spsparse.granularity<[2, 2]>, tiles = array<i64: 0, 3>},
        {granularity = #spsparse.granularity<[4, 4]>, cover = #spsparse.cover<[4, 4] over [2, 2] in [0, 120]>}]}
      : (tensor<1x5x5x8xf32>, tensor<1x1x8x8xf32>, tensor<5x5xi1>) -> tensor<1x5x5x8xf32>
  return %a : tensor<1x5x5x8xf32>
}

// -----

// A cover of another rank than the variant's granularity.
func.func @e(%x: tensor<1x5x5x8xf32>, %w: tensor<1x1x8x8xf32>, %m: tensor<5x5xi1>) -> tensor<1x5x5x8xf32> {
  // expected-error @+1 {{cover #spsparse.cover<[4] over [2] in [0, 120]> compares granularities of another rank than #spsparse.granularity<[2, 2]>}}
  %a = spsparse.masked_conv2d %x, %w mask %m {spsparse.variants = [
        {granularity = #spsparse.granularity<[2, 2]>, cover = #spsparse.cover<[4] over [2] in [0, 120]>},
        {granularity = #spsparse.granularity<[4, 4]>}]}
      : (tensor<1x5x5x8xf32>, tensor<1x1x8x8xf32>, tensor<5x5xi1>) -> tensor<1x5x5x8xf32>
  return %a : tensor<1x5x5x8xf32>
}
