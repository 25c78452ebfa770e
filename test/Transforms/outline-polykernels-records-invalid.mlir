// Tuning records that do not fit: variants that do not fit the op they
// match are errors on the op (with a note naming the record); files that do
// not follow the format are errors before any op is touched, naming the
// file and the JSON path of the first problem.
// RUN: rm -rf %t && split-file %s %t
// RUN: dynaspa-opt %t/ops.mlir -split-input-file -verify-diagnostics --spsparse-outline-polykernels="records=%t/mismatch.json"
// RUN: not dynaspa-opt %t/ops.mlir --spsparse-outline-polykernels="records=%t/missing.json" 2>&1 | FileCheck %s --check-prefix=MISSING
// RUN: not dynaspa-opt %t/ops.mlir --spsparse-outline-polykernels="records=%t/notjson.json" 2>&1 | FileCheck %s --check-prefix=NOTJSON
// RUN: not dynaspa-opt %t/ops.mlir --spsparse-outline-polykernels="records=%t/format.json" 2>&1 | FileCheck %s --check-prefix=FORMAT
// RUN: not dynaspa-opt %t/ops.mlir --spsparse-outline-polykernels="records=%t/version.json" 2>&1 | FileCheck %s --check-prefix=VERSION
// RUN: not dynaspa-opt %t/ops.mlir --spsparse-outline-polykernels="records=%t/signature.json" 2>&1 | FileCheck %s --check-prefix=SIGNATURE
// RUN: not dynaspa-opt %t/ops.mlir --spsparse-outline-polykernels="records=%t/ranges.json" 2>&1 | FileCheck %s --check-prefix=RANGES
// RUN: not dynaspa-opt %t/ops.mlir --spsparse-outline-polykernels="records=%t/fallback.json" 2>&1 | FileCheck %s --check-prefix=FALLBACK
// RUN: not dynaspa-opt %t/ops.mlir --spsparse-outline-polykernels="records=%t/tiles.json" 2>&1 | FileCheck %s --check-prefix=TILES
// RUN: not dynaspa-opt %t/ops.mlir --spsparse-outline-polykernels="records=%t/key.json" 2>&1 | FileCheck %s --check-prefix=KEY
// RUN: not dynaspa-opt %t/ops.mlir --spsparse-outline-polykernels="records=%t/knob.json" 2>&1 | FileCheck %s --check-prefix=KNOB
// RUN: not dynaspa-opt %t/ops.mlir --spsparse-outline-polykernels="records=%t/duplicate.json" 2>&1 | FileCheck %s --check-prefix=DUPLICATE
// RUN: not dynaspa-opt %t/ops.mlir --spsparse-outline-polykernels="records=%t/cover.json" 2>&1 | FileCheck %s --check-prefix=COVER
// RUN: not dynaspa-opt %t/ops.mlir --spsparse-outline-polykernels="records=%t/coverlast.json" 2>&1 | FileCheck %s --check-prefix=COVERLAST

// MISSING: error: spsparse-outline-polykernels: cannot read tuning records '{{.*}}missing.json'
// NOTJSON: error: spsparse-outline-polykernels: {{.*}}notjson.json: [2:1, byte=
// FORMAT: error: spsparse-outline-polykernels: {{.*}}format.json: format: expected "dynaspa-tuning-records"
// VERSION: error: spsparse-outline-polykernels: {{.*}}version.json: version: expected 1
// SIGNATURE: error: spsparse-outline-polykernels: {{.*}}signature.json: operators[0].signature: expected an object with 'op', 'operands' and 'results'
// RANGES: error: spsparse-outline-polykernels: {{.*}}ranges.json: operators[0].variants[0]: every variant but the last needs a 'tiles' range or a 'cover'
// FALLBACK: error: spsparse-outline-polykernels: {{.*}}fallback.json: operators[0].variants[1]: the last variant is the fallback and takes no 'tiles' or 'cover'
// COVER: error: spsparse-outline-polykernels: {{.*}}cover.json: operators[0].variants[0]: 'cover' must be {"of": [sizes], "over": [sizes], "percent": [lo, hi]}
// COVERLAST: error: spsparse-outline-polykernels: {{.*}}coverlast.json: operators[0].variants[1]: the last variant is the fallback and takes no 'tiles' or 'cover'
// TILES: error: spsparse-outline-polykernels: {{.*}}tiles.json: operators[0].variants[0]: 'tiles' must be [lo, hi] with 0 <= lo <= hi
// KEY: error: spsparse-outline-polykernels: {{.*}}key.json: operators[0].variants[0]: unknown key 'tile' (expected granularity, schedule, tiles, cover, candidate)
// KNOB: error: spsparse-outline-polykernels: {{.*}}knob.json: operators[0].variants[0]: schedule knob 'channel_block' must be an integer or a boolean
// DUPLICATE: error: spsparse-outline-polykernels: {{.*}}duplicate.json: operators[1]: has the same signature as operators[0]

//--- ops.mlir
// A recorded granularity of the wrong rank for a convolution.
func.func @rank(%x: tensor<1x5x5x8xf32>, %w: tensor<3x3x8x8xf32>, %m: tensor<1x5x5xi1>) -> tensor<1x5x5x8xf32> {
  // expected-error @+2 {{'spsparse.masked_conv2d' op tiles 2 axes, but the recorded granularity has 1 sizes}}
  // expected-note @+1 {{in tuning record}}
  %y = spsparse.masked_conv2d %x, %w mask %m {padding = array<i64: 1, 1, 1, 1>}
      : (tensor<1x5x5x8xf32>, tensor<3x3x8x8xf32>, tensor<1x5x5xi1>) -> tensor<1x5x5x8xf32>
  return %y : tensor<1x5x5x8xf32>
}

// -----

// A knob the schedule does not have.
func.func @knob(%x: tensor<1x6x6x8xf32>, %w: tensor<3x3x8x8xf32>, %m: tensor<1x6x6xi1>) -> tensor<1x6x6x8xf32> {
  // expected-error @+2 {{has an invalid recorded schedule <chanel_block = 8>}}
  // expected-note @+1 {{in tuning record}}
  %y = spsparse.masked_conv2d %x, %w mask %m {padding = array<i64: 1, 1, 1, 1>}
      : (tensor<1x6x6x8xf32>, tensor<3x3x8x8xf32>, tensor<1x6x6xi1>) -> tensor<1x6x6x8xf32>
  return %y : tensor<1x6x6x8xf32>
}

// -----

// A knob value the schedule attribute rejects.
func.func @value(%x: tensor<1x7x7x8xf32>, %w: tensor<3x3x8x8xf32>, %m: tensor<1x7x7xi1>) -> tensor<1x7x7x8xf32> {
  // expected-error @+2 {{has an invalid recorded schedule <threads = 48>: schedule knob 'threads' must be a multiple of 32 and at most 1024, got 48}}
  // expected-note @+1 {{in tuning record}}
  %y = spsparse.masked_conv2d %x, %w mask %m {padding = array<i64: 1, 1, 1, 1>}
      : (tensor<1x7x7x8xf32>, tensor<3x3x8x8xf32>, tensor<1x7x7xi1>) -> tensor<1x7x7x8xf32>
  return %y : tensor<1x7x7x8xf32>
}

// -----

// A recorded cover the attribute rejects.
func.func @cover(%x: tensor<1x8x8x8xf32>, %w: tensor<3x3x8x8xf32>, %m: tensor<1x8x8xi1>) -> tensor<1x8x8x8xf32> {
  // expected-error @+2 {{has an invalid recorded cover: cover range [0, 100000] must have 0 <= lo <= 65536}}
  // expected-note @+1 {{in tuning record}}
  %y = spsparse.masked_conv2d %x, %w mask %m {padding = array<i64: 1, 1, 1, 1>}
      : (tensor<1x8x8x8xf32>, tensor<3x3x8x8xf32>, tensor<1x8x8xi1>) -> tensor<1x8x8x8xf32>
  return %y : tensor<1x8x8x8xf32>
}

//--- mismatch.json
{"format": "dynaspa-tuning-records", "version": 1, "operators": [
 {"signature": {"op": "spsparse.masked_conv2d",
   "operands": ["tensor<1x5x5x8xf32>", "tensor<3x3x8x8xf32>", "tensor<1x5x5xi1>"],
   "results": ["tensor<1x5x5x8xf32>"],
   "strides": [1, 1], "dilations": [1, 1], "padding": [1, 1, 1, 1], "layout": "nhwc"},
  "variants": [{"granularity": [4]}]},
 {"signature": {"op": "spsparse.masked_conv2d",
   "operands": ["tensor<1x6x6x8xf32>", "tensor<3x3x8x8xf32>", "tensor<1x6x6xi1>"],
   "results": ["tensor<1x6x6x8xf32>"],
   "strides": [1, 1], "dilations": [1, 1], "padding": [1, 1, 1, 1], "layout": "nhwc"},
  "variants": [{"granularity": [2, 2], "schedule": {"chanel_block": 8}}]},
 {"signature": {"op": "spsparse.masked_conv2d",
   "operands": ["tensor<1x7x7x8xf32>", "tensor<3x3x8x8xf32>", "tensor<1x7x7xi1>"],
   "results": ["tensor<1x7x7x8xf32>"],
   "strides": [1, 1], "dilations": [1, 1], "padding": [1, 1, 1, 1], "layout": "nhwc"},
  "variants": [{"granularity": [2, 2], "schedule": {"threads": 48}}]},
 {"signature": {"op": "spsparse.masked_conv2d",
   "operands": ["tensor<1x8x8x8xf32>", "tensor<3x3x8x8xf32>", "tensor<1x8x8xi1>"],
   "results": ["tensor<1x8x8x8xf32>"],
   "strides": [1, 1], "dilations": [1, 1], "padding": [1, 1, 1, 1], "layout": "nhwc"},
  "variants": [{"granularity": [4, 4], "cover": {"of": [4, 4], "over": [1, 1], "percent": [0, 100000]}},
               {"granularity": [1, 1]}]}
]}
//--- notjson.json
{"format": "dynaspa-tuning-records",
]
//--- format.json
{"format": "something-else", "version": 1, "operators": []}
//--- version.json
{"format": "dynaspa-tuning-records", "version": 2, "operators": []}
//--- signature.json
{"format": "dynaspa-tuning-records", "version": 1, "operators": [
 {"signature": {"op": "spsparse.masked_conv2d"}, "variants": [{"granularity": [2, 2]}]}]}
//--- ranges.json
{"format": "dynaspa-tuning-records", "version": 1, "operators": [
 {"signature": {"op": "x", "operands": [], "results": []},
  "variants": [{"granularity": [2, 2]}, {"granularity": [4, 4]}]}]}
//--- fallback.json
{"format": "dynaspa-tuning-records", "version": 1, "operators": [
 {"signature": {"op": "x", "operands": [], "results": []},
  "variants": [{"granularity": [2, 2], "tiles": [0, 3]}, {"granularity": [4, 4], "tiles": [4, 9]}]}]}
//--- tiles.json
{"format": "dynaspa-tuning-records", "version": 1, "operators": [
 {"signature": {"op": "x", "operands": [], "results": []},
  "variants": [{"granularity": [2, 2], "tiles": [5, 2]}, {"granularity": [4, 4]}]}]}
//--- key.json
{"format": "dynaspa-tuning-records", "version": 1, "operators": [
 {"signature": {"op": "x", "operands": [], "results": []},
  "variants": [{"granularity": [2, 2], "tile": [0, 2]}, {"granularity": [4, 4]}]}]}
//--- knob.json
{"format": "dynaspa-tuning-records", "version": 1, "operators": [
 {"signature": {"op": "x", "operands": [], "results": []},
  "variants": [{"granularity": [2, 2], "schedule": {"channel_block": "64"}}]}]}
//--- duplicate.json
{"format": "dynaspa-tuning-records", "version": 1, "operators": [
 {"signature": {"op": "x", "operands": [], "results": []}, "variants": [{"granularity": [2]}]},
 {"signature": {"op": "x", "operands": [], "results": []}, "variants": [{"granularity": [4]}]}]}
//--- cover.json
{"format": "dynaspa-tuning-records", "version": 1, "operators": [
 {"signature": {"op": "x", "operands": [], "results": []},
  "variants": [{"granularity": [2, 2], "cover": {"of": [2, 2], "over": [1, 1]}}, {"granularity": [4, 4]}]}]}
//--- coverlast.json
{"format": "dynaspa-tuning-records", "version": 1, "operators": [
 {"signature": {"op": "x", "operands": [], "results": []},
  "variants": [{"granularity": [2, 2], "tiles": [0, 3]},
               {"granularity": [4, 4], "cover": {"of": [4, 4], "over": [2, 2], "percent": [0, 120]}}]}]}
