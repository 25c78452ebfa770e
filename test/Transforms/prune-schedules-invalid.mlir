// RUN: dynaspa-opt %s -split-input-file -verify-diagnostics --spsparse-prune-schedules

// No device: neither an option nor a spsparse.device attribute around.
func.func @no_device(%x: tensor<1x8x8x32xf32>, %w: tensor<1x1x32x32xf32>, %m: tensor<1x8x8xi1>) -> tensor<1x8x8x32xf32> {
  // expected-error @+1 {{has no device for the cost model: put a spsparse.device attribute on it or an enclosing op, or pass device= or device-file=}}
  %y = spsparse.masked_conv2d %x, %w mask %m {spsparse.variants = [{granularity = #spsparse.granularity<[2, 2]>}]}
      : (tensor<1x8x8x32xf32>, tensor<1x1x32x32xf32>, tensor<1x8x8xi1>) -> tensor<1x8x8x32xf32>
  return %y : tensor<1x8x8x32xf32>
}

// -----

// The cost model describes the NHWC template only.
module attributes {spsparse.device = #spsparse.device<name = "h100-sxm", sms = 132, threads_per_sm = 2048, shared_per_sm = 233472, registers_per_sm = 65536, blocks_per_sm = 32, global_bandwidth = 3350.0, shared_bandwidth = 33454.08, alpha = 0.1262626, gamma = 0.0>} {
  func.func @nchw(%x: tensor<1x32x8x8xf32>, %w: tensor<32x32x1x1xf32>, %m: tensor<1x8x8xi1>) -> tensor<1x32x8x8xf32> {
    // expected-error @+1 {{the cost model describes the NHWC/HWCF conv template only}}
    %y = spsparse.masked_conv2d %x, %w mask %m {layout = #spsparse.layout<nchw>,
        spsparse.variants = [{granularity = #spsparse.granularity<[2, 2]>}]}
        : (tensor<1x32x8x8xf32>, tensor<32x32x1x1xf32>, tensor<1x8x8xi1>) -> tensor<1x32x8x8xf32>
    return %y : tensor<1x32x8x8xf32>
  }
}

// -----

// Every candidate rejected by the template: nothing to keep.
module attributes {spsparse.device = #spsparse.device<name = "h100-sxm", sms = 132, threads_per_sm = 2048, shared_per_sm = 233472, registers_per_sm = 65536, blocks_per_sm = 32, global_bandwidth = 3350.0, shared_bandwidth = 33454.08, alpha = 0.1262626, gamma = 0.0>} {
  func.func @none_valid(%x: tensor<1x8x8x32xf32>, %w: tensor<1x1x32x32xf32>, %m: tensor<1x8x8xi1>) -> tensor<1x8x8x32xf32> {
    // expected-warning @+3 {{drops candidate 0}}
    // expected-warning @+2 {{drops candidate 1 {granularity = #spsparse.granularity<[2, 2, 2]>}: a convolution's granularity has two sizes (rows, columns)}}
    // expected-error @+1 {{has no candidate variant the template accepts}}
    %y = spsparse.masked_conv2d %x, %w mask %m {spsparse.variants = [
          {granularity = #spsparse.granularity<[2, 2]>, schedule = #spsparse.schedule<split_k = 8>},
          {granularity = #spsparse.granularity<[2, 2, 2]>}]}
        : (tensor<1x8x8x32xf32>, tensor<1x1x32x32xf32>, tensor<1x8x8xi1>) -> tensor<1x8x8x32xf32>
    return %y : tensor<1x8x8x32xf32>
  }
}
