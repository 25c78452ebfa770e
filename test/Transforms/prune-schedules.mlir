// RUN: dynaspa-opt %s -split-input-file -verify-diagnostics --spsparse-prune-schedules="keep-top=2 report=true device-file=%S/Inputs/h100-device.json" | FileCheck %s
// RUN: dynaspa-opt %s -split-input-file -verify-diagnostics --spsparse-prune-schedules="keep-fraction=0.5 report=true device-file=%S/Inputs/h100-device.json" | FileCheck %s --check-prefix=HALF
// RUN: dynaspa-opt %s -split-input-file -verify-diagnostics --spsparse-prune-schedules="report=true" | FileCheck %s --check-prefix=ATTR
// RUN: not dynaspa-opt %s --spsparse-prune-schedules="keep-top=2 keep-fraction=0.5" 2>&1 | FileCheck %s --check-prefix=BOTH
// RUN: not dynaspa-opt %s --spsparse-prune-schedules="keep-fraction=1.5" 2>&1 | FileCheck %s --check-prefix=FRACTION
// RUN: not dynaspa-opt %s --spsparse-prune-schedules="device=nope" 2>&1 | FileCheck %s --check-prefix=DEVICE
// RUN: not dynaspa-opt %s --spsparse-prune-schedules="device-file=%S/Inputs/missing.json" 2>&1 | FileCheck %s --check-prefix=FILE

// BOTH: spsparse-prune-schedules: give keep-top or keep-fraction, not both
// FRACTION: spsparse-prune-schedules: keep-fraction must be in (0, 1]
// DEVICE: spsparse-prune-schedules: unknown device 'nope'
// FILE: spsparse-prune-schedules: cannot open device file

// The paper's 3x3 40x40x256 layer at batch 1 with five candidates: the
// model puts the split, double-buffered 2x2 schedule (the H100 sweep's
// winner at d = 0.1-0.5) first and its plain twin second; the default
// schedule and a 64-thread block with one pixel per thread come last.
// With keep-top=2 the two best stay, best first.
// CHECK-LABEL: func.func @paper_layer
// CHECK: spsparse.variants = [{granularity = #spsparse.granularity<[2, 2]>, schedule = #spsparse.schedule<{{.*}}double_buffer = true, tiles_per_block = 8, split_k = 4>}, {granularity = #spsparse.granularity<[2, 2]>, schedule = #spsparse.schedule<channel_block = 64, reduction_block = 16, thread_pixels = 4, vector_width = 4, tiles_per_block = 8, split_k = 4>}]
// keep-fraction=0.5 keeps ceil(2.5) = 3.
// HALF-LABEL: func.func @paper_layer
// HALF: spsparse.variants = [{granularity = #spsparse.granularity<[2, 2]>, {{[^{]*}}double_buffer = true{{[^{]*}}}, {granularity = #spsparse.granularity<[2, 2]>, {{[^{]*}}}, {granularity = #spsparse.granularity<[1, 1]>, {{[^{]*}}}]}
// Without options: the device attribute on the function, the best 10%: one.
// ATTR-LABEL: func.func @paper_layer
// ATTR: spsparse.variants = [{granularity = #spsparse.granularity<[2, 2]>, {{[^{]*}}double_buffer = true{{[^{]*}}}]}
func.func @paper_layer(%x: tensor<1x40x40x256xf32>, %w: tensor<3x3x256x256xf32>, %m: tensor<1x40x40xi1>) -> tensor<1x40x40x256xf32>
    attributes {spsparse.device = #spsparse.device<name = "h100-sxm", sms = 132, threads_per_sm = 2048, shared_per_sm = 233472, registers_per_sm = 65536, blocks_per_sm = 32, global_bandwidth = 3350.0, shared_bandwidth = 33454.08, alpha = 0.1262626, gamma = 0.0>} {
  // expected-remark @+1 {{of 5 candidates on h100-sxm: [2]}}
  %y = spsparse.masked_conv2d %x, %w mask %m {padding = array<i64: 1, 1, 1, 1>,
      spsparse.variants = [
        {granularity = #spsparse.granularity<[4, 4]>},
        {granularity = #spsparse.granularity<[1, 1]>, schedule = #spsparse.schedule<channel_block = 32, reduction_block = 16, threads = 64, thread_channels = 4, thread_pixels = 4, vector_width = 4, tiles_per_block = 32>},
        {granularity = #spsparse.granularity<[2, 2]>, schedule = #spsparse.schedule<channel_block = 64, reduction_block = 16, threads = 128, thread_channels = 4, thread_pixels = 4, vector_width = 4, tiles_per_block = 8, split_k = 4, double_buffer = true>},
        {granularity = #spsparse.granularity<[2, 2]>, schedule = #spsparse.schedule<channel_block = 64, reduction_block = 16, threads = 128, thread_channels = 4, thread_pixels = 4, vector_width = 4, tiles_per_block = 8, split_k = 4>},
        {granularity = #spsparse.granularity<[2, 2]>, schedule = #spsparse.schedule<channel_block = 64, threads = 64>}]}
      : (tensor<1x40x40x256xf32>, tensor<3x3x256x256xf32>, tensor<1x40x40xi1>) -> tensor<1x40x40x256xf32>
  return %y : tensor<1x40x40x256xf32>
}

// -----

// A candidate the kernel template rejects (threads do not match the thread
// tile) is dropped with the template's reason; `tiles` ranges stay.
// CHECK-LABEL: func.func @rejected
// CHECK: spsparse.variants = [{granularity = #spsparse.granularity<[4, 4]>, tiles = array<i64: 0, 3>}]
func.func @rejected(%x: tensor<1x8x8x32xf32>, %w: tensor<3x3x32x32xf32>, %m: tensor<1x8x8xi1>) -> tensor<1x8x8x32xf32>
    attributes {spsparse.device = #spsparse.device<name = "h100-sxm", sms = 132, threads_per_sm = 2048, shared_per_sm = 233472, registers_per_sm = 65536, blocks_per_sm = 32, global_bandwidth = 3350.0, shared_bandwidth = 33454.08, alpha = 0.1262626, gamma = 0.0>} {
  // expected-warning @+2 {{drops candidate 1 {granularity = #spsparse.granularity<[2, 2]>, schedule = #spsparse.schedule<threads = 64>}: threads must be (channel_block / thread_channels) * (tiles_per_block * pixels / thread_pixels) = 32}}
  // expected-remark @+1 {{kept 1 of 2 candidates}}
  %y = spsparse.masked_conv2d %x, %w mask %m {padding = array<i64: 1, 1, 1, 1>,
      spsparse.variants = [
        {granularity = #spsparse.granularity<[4, 4]>, tiles = array<i64: 0, 3>},
        {granularity = #spsparse.granularity<[2, 2]>, schedule = #spsparse.schedule<threads = 64>}]}
      : (tensor<1x8x8x32xf32>, tensor<3x3x32x32xf32>, tensor<1x8x8xi1>) -> tensor<1x8x8x32xf32>
  return %y : tensor<1x8x8x32xf32>
}

// -----

// Ops without a candidate list are left alone.
// CHECK-LABEL: func.func @untouched
// CHECK: spsparse.masked_conv2d %{{.*}}, %{{.*}} mask %{{.*}} {spsparse.granularity = #spsparse.granularity<[2, 2]>}
func.func @untouched(%x: tensor<1x8x8x32xf32>, %w: tensor<1x1x32x32xf32>, %m: tensor<1x8x8xi1>) -> tensor<1x8x8x32xf32> {
  %y = spsparse.masked_conv2d %x, %w mask %m {spsparse.granularity = #spsparse.granularity<[2, 2]>}
      : (tensor<1x8x8x32xf32>, tensor<1x1x32x32xf32>, tensor<1x8x8xi1>) -> tensor<1x8x8x32xf32>
  return %y : tensor<1x8x8x32xf32>
}

// -----

// Masked batch-matmuls have no cost-model profile: warned, left alone.
// CHECK-LABEL: func.func @bmm
// CHECK: spsparse.variants = [{granularity = #spsparse.granularity<[16]>}, {granularity = #spsparse.granularity<[32]>}]
func.func @bmm(%a: tensor<6x197x64xf32>, %b: tensor<6x64x197xf32>, %r: tensor<6x197xi1>) -> tensor<6x197x197xf32> {
  // expected-warning @+1 {{has no cost-model profile yet; its candidate variants are left unpruned}}
  %y = spsparse.masked_batch_matmul %a, %b row_mask %r {spsparse.variants = [
        {granularity = #spsparse.granularity<[16]>}, {granularity = #spsparse.granularity<[32]>}]}
      : (tensor<6x197x64xf32>, tensor<6x64x197xf32>, tensor<6x197xi1>) -> tensor<6x197x197xf32>
  return %y : tensor<6x197x197xf32>
}
