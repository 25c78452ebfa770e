//===- probe.cpp - time the cost model's calibration probes ---------------===//
//
// Part of the dynaspa project.
//
//===----------------------------------------------------------------------===//

#include "probe.h"

#include "timing.h"

#include <algorithm>
#include <limits>

using namespace dynaspa::runtime;
namespace fb = ::dynaspa::bundle;

ProbeBench::~ProbeBench() {
  if (src_.handle)
    backend_.release(src_);
  if (dst_.handle)
    backend_.release(dst_);
}

Status ProbeBench::allocate() {
  if (ready_)
    return Status::ok();
  int64_t elements = 0;
  for (const fb::Probe *p : *bundle_.probes())
    elements = std::max(elements, p->elements());
  size_t bytes = static_cast<size_t>(elements) * sizeof(float);
  Status s = Status::ok();
  for (DeviceBuffer *b : {&src_, &dst_}) {
    if (!b->handle)
      s = backend_.allocate(bytes, b);
    // Zeros: every probe computes on finite, normal inputs (no denormal
    // slow paths on CPUs).
    if (s)
      s = backend_.fillZero(*b, bytes, backend_.ownQueue());
    if (!s)
      break;
  }
  if (s)
    s = backend_.synchronize();
  if (!s) {
    // Nothing half-made survives a failure: the next call starts over.
    for (DeviceBuffer *b : {&src_, &dst_})
      if (b->handle) {
        backend_.release(*b);
        *b = DeviceBuffer();
      }
    return s;
  }
  ready_ = true;
  return Status::ok();
}

Status ProbeBench::benchmark(uint32_t index, uint32_t grid, int64_t count,
                             uint32_t launches,
                             const dynaspa_benchmark_options_t &options,
                             double *us) {
  size_t numProbes = bundle_.probes() ? bundle_.probes()->size() : 0;
  if (index >= numProbes)
    return invalidArgument("probe index " + std::to_string(index) +
                           " out of range (" + std::to_string(numProbes) +
                           " probes)");
  const fb::Probe &probe = *bundle_.probes()->Get(index);
  if (options.warmup < 0 || options.reps < 1 || options.rounds < 1)
    return invalidArgument("benchmark needs warmup >= 0, reps >= 1 and "
                           "rounds >= 1");
  if (grid < 1 || launches < 1)
    return invalidArgument("a probe needs grid >= 1 and launches >= 1");
  if (grid > static_cast<uint32_t>(std::numeric_limits<int32_t>::max()))
    return invalidArgument("a grid of " + std::to_string(grid) +
                           " blocks is out of range (at most 2^31 - 1)");
  if (count < 0 || count > std::numeric_limits<int32_t>::max())
    return invalidArgument("probe count " + std::to_string(count) +
                           " out of range [0, 2^31)");
  if (probe.kind() == fb::ProbeKind::Copy) {
    if (count > probe.elements() || count % probe.work() != 0)
      return invalidArgument("the copy probe copies a multiple of " +
                             std::to_string(probe.work()) + " elements, at "
                             "most " + std::to_string(probe.elements()));
  } else if (static_cast<int64_t>(grid) * probe.block() > probe.elements()) {
    return invalidArgument("a grid of " + std::to_string(grid) + " x " +
                           std::to_string(probe.block()) +
                           " threads exceeds the probe's " +
                           std::to_string(probe.elements()) + " elements");
  }
  if (Status s = allocate(); !s)
    return s;
  KernelHandle kernel = nullptr;
  if (Status s = modules_.kernel(probe.module_(), probe.kernel()->str(),
                                 &kernel);
      !s)
    return s;
  LaunchDims dims;
  dims.grid = {grid, 1, 1};
  dims.block = {probe.block(), 1, 1};
  std::vector<KernelArg> args(3);
  args[0].buffer = src_;
  args[1].buffer = dst_;
  args[2].kind = fb::ArgKind::I32;
  args[2].value = count;
  EnqueueFn enqueue = [&](QueueHandle queue) -> Status {
    for (uint32_t i = 0; i < launches; ++i)
      if (Status s = backend_.launch(kernel, dims, args, queue);
          !s)
        return s;
    return Status::ok();
  };
  GraphOwner graph(backend_);
  if (Status s = backend_.captureGraph(enqueue, &graph.graph); !s)
    return s;
  for (int32_t i = 0; i < options.warmup; ++i)
    if (Status s = backend_.launchGraph(graph.graph); !s)
      return s;
  if (Status s = backend_.synchronize(); !s)
    return s;
  std::vector<double> times;
  for (int32_t r = 0; r < options.rounds; ++r) {
    double t = 0;
    if (Status s = backend_.timeGraph(graph.graph, options.reps, &t); !s)
      return s;
    times.push_back(t / launches);
  }
  *us = median(times);
  return Status::ok();
}
