//===- timing.h - helpers shared by the benchmark paths --------*- C++ -*-===//
//
// Part of the dynaspa project.
//
//===----------------------------------------------------------------------===//
//
// What OperatorExecutor::benchmark and NetworkExecutor::benchmark both need:
// the median of a round's times and a captured graph released on every path.
//
//===----------------------------------------------------------------------===//

#ifndef DYNASPA_RUNTIME_SRC_TIMING_H
#define DYNASPA_RUNTIME_SRC_TIMING_H

#include "backend.h"

#include <algorithm>
#include <vector>

namespace dynaspa::runtime {

/// The middle value (mean of the two middle ones for an even count).
inline double median(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  size_t n = values.size();
  return n % 2 ? values[n / 2] : 0.5 * (values[n / 2 - 1] + values[n / 2]);
}

/// Destroys a captured graph on every path out of a benchmark.
class GraphOwner {
public:
  explicit GraphOwner(Backend &backend) : backend_(backend) {}
  ~GraphOwner() {
    if (graph)
      backend_.destroyGraph(graph);
  }
  GraphOwner(const GraphOwner &) = delete;
  GraphOwner &operator=(const GraphOwner &) = delete;
  GraphHandle graph = nullptr;

private:
  Backend &backend_;
};

} // namespace dynaspa::runtime

#endif // DYNASPA_RUNTIME_SRC_TIMING_H
