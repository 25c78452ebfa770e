//===- probe.h - time the cost model's calibration probes ------*- C++ -*-===//
//
// Part of the dynaspa project.
//
//===----------------------------------------------------------------------===//
//
// A bundle compiled with `dynaspa-compile --probes` holds microbenchmark
// kernels (bundle.fbs, table Probe). The runtime only times them, with the
// launch shapes a caller picks; what to measure and how to turn times into
// alpha, gamma and bandwidths is dynaspa-calibrate's business.
//
//===----------------------------------------------------------------------===//

#ifndef DYNASPA_RUNTIME_SRC_PROBE_H
#define DYNASPA_RUNTIME_SRC_PROBE_H

#include "executor.h"

namespace dynaspa::runtime {

/// The probes of one bundle and the two buffers they share (allocated on
/// first use, as large as the largest probe's).
class ProbeBench {
public:
  ProbeBench(Backend &backend, ModuleCache &modules,
             const bundle::Bundle &bundle)
      : backend_(backend), modules_(modules), bundle_(bundle) {}
  ProbeBench(const ProbeBench &) = delete;
  ProbeBench &operator=(const ProbeBench &) = delete;
  ~ProbeBench();

  /// Records `launches` launches of probe `index` (a grid of `grid` blocks,
  /// argument `count`) into one graph, replays it options.reps times per
  /// round and returns the median over rounds of one launch's time.
  Status benchmark(uint32_t index, uint32_t grid, int64_t count,
                   uint32_t launches,
                   const dynaspa_benchmark_options_t &options, double *us);

private:
  Status allocate();

  Backend &backend_;
  ModuleCache &modules_;
  const bundle::Bundle &bundle_;
  DeviceBuffer src_, dst_;
  /// Both buffers allocated and zeroed.
  bool ready_ = false;
};

} // namespace dynaspa::runtime

#endif // DYNASPA_RUNTIME_SRC_PROBE_H
