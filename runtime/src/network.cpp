//===- network.cpp - chains of operators on a triple buffer ---------------===//
//
// Part of the dynaspa project.
//
//===----------------------------------------------------------------------===//
//
// See network.h for the plan. The executors of the chain's operators build
// and own the kernels and scratch; this file owns the activation buffers,
// the side queue and the events that order the two queues, and binds each
// operator's user tensors per execution.
//
//===----------------------------------------------------------------------===//

#include "network.h"
#include "timing.h"

#include "dynaspa/runtime/ndarray.h"

#include <algorithm>

namespace dynaspa::runtime {

namespace fb = ::dynaspa::bundle;

namespace {

size_t tensorBytes(const fb::Tensor &t) {
  int64_t count = 0;
  elementCount(t.shape()->data(), t.shape()->size(), &count);
  return static_cast<size_t>(count) * dtypeSize(t.dtype());
}

std::string describeTensor(const fb::Tensor &t) {
  std::string s = "[";
  for (uint32_t i = 0; i < t.shape()->size(); ++i)
    s += (i ? "," : "") + std::to_string(t.shape()->Get(i));
  return s + "] " + fb::EnumNameDType(t.dtype());
}

std::string opName(size_t k, const fb::Operator &op) {
  return "operator " + std::to_string(k) + " ('" + op.name()->str() + "')";
}

} // namespace

Status NetworkExecutor::create(Backend &backend,
                               std::vector<OperatorExecutor *> ops,
                               std::unique_ptr<NetworkExecutor> *out) {
  if (ops.empty())
    return invalidArgument("a network needs at least one operator");
  std::unique_ptr<NetworkExecutor> net(new NetworkExecutor(backend));
  size_t numInputs = 0;
  for (size_t k = 0; k < ops.size(); ++k) {
    const fb::Operator &op = ops[k]->op();
    if (op.outputs()->size() != 1)
      return Status(DYNASPA_UNSUPPORTED,
                    opName(k, op) + " has " +
                        std::to_string(op.outputs()->size()) +
                        " outputs; a network chains one-output operators");
    if (!op.inputs() || op.inputs()->size() == 0)
      return invalidArgument(opName(k, op) +
                             " has no input to take the previous output");
    Step step;
    step.op = ops[k];
    step.input = op.inputs()->Get(0);
    step.output = op.outputs()->Get(0);
    step.firstInput = numInputs;
    step.inputBytes = tensorBytes(*op.buffers()->Get(step.input));
    step.outputBytes = tensorBytes(*op.buffers()->Get(step.output));
    step.sideInputs.assign(op.inputs()->size(), DeviceBuffer());
    numInputs += op.inputs()->size();
    if (k > 0) {
      const fb::Operator &prev = ops[k - 1]->op();
      const fb::Tensor &produced =
          *prev.buffers()->Get(net->steps_[k - 1].output);
      const fb::Tensor &taken = *op.buffers()->Get(step.input);
      std::string what = opName(k, op) + " input 0 " + describeTensor(taken) +
                         " cannot take the output " + describeTensor(produced) +
                         " of " + opName(k - 1, prev);
      if (produced.dtype() != taken.dtype())
        return Status(DYNASPA_DTYPE_MISMATCH, what + ": dtypes differ");
      if (produced.shape()->size() != taken.shape()->size() ||
          !std::equal(produced.shape()->begin(), produced.shape()->end(),
                      taken.shape()->begin()))
        return Status(DYNASPA_SHAPE_MISMATCH, what + ": shapes differ");
    }
    net->steps_.push_back(std::move(step));
  }
  dynaspa_network_info_t &info = net->info_;
  info.num_ops = ops.size();
  info.num_inputs = numInputs;
  // T0 and T1 need two buffers; from T2 on, the third is in rotation.
  info.num_buffers = std::min<size_t>(3, ops.size() + 1);
  info.buffer_bytes = net->steps_[0].inputBytes;
  info.unplanned_bytes = net->steps_[0].inputBytes;
  for (const Step &s : net->steps_) {
    info.buffer_bytes = std::max(info.buffer_bytes, s.outputBytes);
    info.unplanned_bytes += s.outputBytes;
  }
  *out = std::move(net);
  return Status::ok();
}

NetworkExecutor::~NetworkExecutor() {
  for (EventHandle e : timing_)
    backend_.destroyEvent(e);
  for (EventHandle e : filled_)
    backend_.destroyEvent(e);
  for (EventHandle e : done_)
    backend_.destroyEvent(e);
  if (fork_)
    backend_.destroyEvent(fork_);
  if (side_)
    backend_.destroyQueue(side_);
  for (DeviceBuffer b : buffers_)
    backend_.release(b);
  for (Step &s : steps_)
    for (DeviceBuffer b : s.sideInputs)
      backend_.release(b);
}

Status NetworkExecutor::prepare() {
  if (prepared_)
    return Status::ok();
  for (Step &s : steps_)
    if (Status st = s.op->prepare(); !st)
      return st;
  // Keep what a failed attempt made (the destructor frees it) and go on.
  while (buffers_.size() < info_.num_buffers) {
    DeviceBuffer b;
    if (Status s = backend_.allocate(info_.buffer_bytes, &b); !s)
      return s;
    buffers_.push_back(b);
    // Defined contents for a benchmark before any run; the plan itself
    // never relies on them.
    if (Status s = backend_.fillZero(b, b.bytes, backend_.ownQueue()); !s)
      return s;
  }
  if (!side_)
    if (Status s = backend_.createQueue(&side_); !s)
      return s;
  if (!fork_)
    if (Status s = backend_.createSyncEvent(&fork_); !s)
      return s;
  for (std::vector<EventHandle> *events : {&filled_, &done_}) {
    while (events->size() < steps_.size()) {
      EventHandle e = nullptr;
      if (Status s = backend_.createSyncEvent(&e); !s)
        return s;
      events->push_back(e);
    }
  }
  if (Status s = backend_.synchronize(); !s)
    return s;
  prepared_ = true;
  return Status::ok();
}

Status NetworkExecutor::allocateHostInputs() {
  if (hostInputs_)
    return Status::ok();
  for (Step &s : steps_) {
    const fb::Operator &op = s.op->op();
    for (uint32_t i = 1; i < op.inputs()->size(); ++i) {
      if (s.sideInputs[i].handle)
        continue;
      size_t bytes = tensorBytes(*op.buffers()->Get(op.inputs()->Get(i)));
      if (Status st = backend_.allocate(bytes, &s.sideInputs[i]); !st)
        return st;
      if (Status st =
              backend_.fillZero(s.sideInputs[i], bytes, backend_.ownQueue());
          !st)
        return st;
    }
  }
  if (Status s = backend_.synchronize(); !s)
    return s;
  hostInputs_ = true;
  return Status::ok();
}

template <typename SideFn>
void NetworkExecutor::bind(const DeviceBuffer *first, const DeviceBuffer *last,
                           SideFn side) {
  size_t n = steps_.size();
  for (size_t k = 0; k < n; ++k) {
    Step &s = steps_[k];
    const fb::Operator &op = s.op->op();
    s.bindings = s.op->bindings();
    s.bindings[s.input] =
        k == 0 && first ? *first
                        : DeviceBuffer{buffers_[k % 3].handle, s.inputBytes};
    s.bindings[s.output] =
        k + 1 == n && last
            ? *last
            : DeviceBuffer{buffers_[(k + 1) % 3].handle, s.outputBytes};
    for (uint32_t i = 1; i < op.inputs()->size(); ++i)
      s.bindings[op.inputs()->Get(i)] = side(k, i);
  }
}

Status NetworkExecutor::fillOutput(const Step &step, QueueHandle queue) {
  if (step.op->op().writes_zeros())
    return Status::ok(); // Its kernels write the whole output.
  const DeviceBuffer &b = step.bindings[step.output];
  return backend_.fillZero(b, b.bytes, queue);
}

Status NetworkExecutor::enqueue(QueueHandle queue, Selection selection,
                                bool sideQueue, dynaspa_run_stats_t *stats) {
  size_t n = steps_.size();
  while (stats && timing_.size() < 3 * n) {
    EventHandle e = nullptr;
    if (Status s = backend_.createEvent(&e); !s)
      return s;
    timing_.push_back(e);
  }
  if (sideQueue) {
    // Fork: the side queue starts after everything already on `queue` (a
    // previous execution may still read these buffers). Outputs 0 and 1 go
    // to buffers nothing in this execution has touched yet.
    if (Status s = backend_.recordEventOn(fork_, queue); !s)
      return s;
    if (Status s = backend_.waitEvent(side_, fork_); !s)
      return s;
    for (size_t k = 0; k < std::min<size_t>(2, n); ++k) {
      if (Status s = fillOutput(steps_[k], side_); !s)
        return s;
      if (Status s = backend_.recordEventOn(filled_[k], side_); !s)
        return s;
    }
  }
  for (size_t k = 0; k < n; ++k) {
    Step &step = steps_[k];
    bool selfDispatch = step.op->op().self_dispatch();
    // Every side-queue fill is waited for here, the last one included: that
    // wait joins the side queue back into `queue`.
    if (Status s = sideQueue ? backend_.waitEvent(queue, filled_[k])
                             : fillOutput(step, queue);
        !s)
      return s;
    if (stats)
      if (Status s = backend_.recordEvent(timing_[3 * k]); !s)
        return s;
    if (Status s =
            step.op->enqueuePrologue(step.bindings, queue, {step.output});
        !s)
      return s;
    if (stats)
      if (Status s = backend_.recordEvent(timing_[3 * k + 1]); !s)
        return s;
    int32_t variant = -1;
    int64_t tileCount = 0;
    if (!selfDispatch) {
      if (selection == Selection::Device)
        return Status(DYNASPA_UNSUPPORTED,
                      opName(k, step.op->op()) + " is not self-dispatching");
      if (selection == Selection::Host) {
        if (Status s = step.op->selectVariant(&variant, &tileCount); !s)
          return s;
        step.chosen = variant;
      }
      if (step.chosen < 0)
        return invalidArgument(opName(k, step.op->op()) +
                               " has no variant chosen yet");
      variant = step.chosen;
    }
    if (Status s = step.op->enqueueVariants(step.bindings, queue, variant); !s)
      return s;
    if (stats) {
      if (Status s = backend_.recordEvent(timing_[3 * k + 2]); !s)
        return s;
      // The counts live in the operator's scratch, which a later step of
      // the same operator overwrites: read them now.
      if (selfDispatch)
        if (Status s = step.op->selectVariant(&variant, &tileCount); !s)
          return s;
      stats[k].variant = variant;
      stats[k].tile_count = tileCount;
    }
    if (sideQueue && k + 2 < n) {
      // Step k+2 writes buffer k mod 3, this step's input: clear it once
      // this step is done, while step k+1 runs.
      if (Status s = backend_.recordEventOn(done_[k], queue); !s)
        return s;
      if (Status s = backend_.waitEvent(side_, done_[k]); !s)
        return s;
      if (Status s = fillOutput(steps_[k + 2], side_); !s)
        return s;
      if (Status s = backend_.recordEventOn(filled_[k + 2], side_); !s)
        return s;
    }
  }
  if (stats)
    for (size_t k = 0; k < n; ++k) {
      if (Status s = backend_.elapsedMs(timing_[3 * k], timing_[3 * k + 1],
                                        &stats[k].prologue_ms);
          !s)
        return s;
      if (Status s = backend_.elapsedMs(timing_[3 * k + 1], timing_[3 * k + 2],
                                        &stats[k].variant_ms);
          !s)
        return s;
    }
  return Status::ok();
}

Status NetworkExecutor::checkInputEntry(size_t k, size_t slot,
                                        bool empty) const {
  if (k == 0 || slot != 0 || empty)
    return Status::ok();
  return invalidArgument(
      "input " + std::to_string(steps_[k].firstInput) + " (" +
      opName(k, steps_[k].op->op()) +
      " input 0) is the previous operator's output: pass an empty entry");
}

Status NetworkExecutor::run(const dynaspa_host_tensor_t *inputs,
                            size_t numInputs,
                            const dynaspa_host_tensor_t *output,
                            dynaspa_run_stats_t *stats) {
  if (numInputs != info_.num_inputs)
    return invalidArgument("the network takes " +
                           std::to_string(info_.num_inputs) +
                           " inputs (every operator's, in chain order), got " +
                           std::to_string(numInputs));
  if (!inputs || !output)
    return invalidArgument("null input or output array");
  size_t n = steps_.size();
  for (size_t k = 0; k < n; ++k) {
    const Step &step = steps_[k];
    const fb::Operator &op = step.op->op();
    for (uint32_t i = 0; i < op.inputs()->size(); ++i) {
      const dynaspa_host_tensor_t &entry = inputs[step.firstInput + i];
      if (k > 0 && i == 0) {
        if (Status s = checkInputEntry(k, i, !entry.data); !s)
          return s;
        continue;
      }
      if (Status s = step.op->checkHostTensor(
              entry, op.inputs()->Get(i),
              "input " + std::to_string(step.firstInput + i) + " (" +
                  opName(k, op) + " input " + std::to_string(i) + ")");
          !s)
        return s;
    }
  }
  if (Status s = steps_.back().op->checkHostTensor(
          *output, steps_.back().output, "the network output");
      !s)
    return s;
  if (Status s = prepare(); !s)
    return s;
  if (Status s = allocateHostInputs(); !s)
    return s;

  // Uploads: the network input into buffer 0, the other inputs into the
  // steps' own copies.
  auto upload = [&](const dynaspa_host_tensor_t &host, const fb::Tensor &t,
                    DeviceBuffer dst) -> Status {
    auto deviceType = static_cast<dynaspa_dtype_t>(t.dtype());
    size_t bytes = tensorBytes(t);
    if (!bytes)
      return Status::ok();
    const void *src = host.data;
    if (host.dtype != deviceType) {
      staging_.resize(bytes);
      convertElements(src, host.dtype, staging_.data(), deviceType,
                      bytes / dtypeSize(t.dtype()));
      src = staging_.data();
    }
    return backend_.upload(dst, src, bytes);
  };
  for (size_t k = 0; k < n; ++k) {
    const Step &step = steps_[k];
    const fb::Operator &op = step.op->op();
    for (uint32_t i = k == 0 ? 0 : 1; i < op.inputs()->size(); ++i)
      if (Status s = upload(inputs[step.firstInput + i],
                            *op.buffers()->Get(op.inputs()->Get(i)),
                            i == 0 ? buffers_[0] : step.sideInputs[i]);
          !s)
        return s;
  }
  bind(nullptr, nullptr,
       [this](size_t k, uint32_t i) { return steps_[k].sideInputs[i]; });
  if (Status s = enqueue(backend_.ownQueue(), Selection::Host, true, stats); !s)
    return s;

  const fb::Tensor &t =
      *steps_.back().op->op().buffers()->Get(steps_.back().output);
  auto deviceType = static_cast<dynaspa_dtype_t>(t.dtype());
  size_t bytes = tensorBytes(t);
  if (!bytes)
    return Status::ok();
  void *dst = output->data;
  if (output->dtype != deviceType) {
    staging_.resize(bytes);
    dst = staging_.data();
  }
  if (Status s = backend_.download(buffers_[n % 3], dst, bytes); !s)
    return s;
  if (output->dtype != deviceType)
    convertElements(staging_.data(), deviceType, output->data, output->dtype,
                    bytes / dtypeSize(t.dtype()));
  return Status::ok();
}

Status NetworkExecutor::launch(void *const *inputs, size_t numInputs,
                               void *output, void *stream) {
  for (size_t k = 0; k < steps_.size(); ++k)
    if (!steps_[k].op->op().self_dispatch())
      return Status(DYNASPA_UNSUPPORTED,
                    opName(k, steps_[k].op->op()) +
                        " is not self-dispatching: an asynchronous launch "
                        "cannot read its tile counts back; use "
                        "dynaspa_network_run");
  if (numInputs != info_.num_inputs)
    return invalidArgument("the network takes " +
                           std::to_string(info_.num_inputs) +
                           " inputs (every operator's, in chain order), got " +
                           std::to_string(numInputs));
  if (!inputs)
    return invalidArgument("null input array");
  if (!output && steps_.back().outputBytes)
    return invalidArgument("the network output is null");
  for (size_t k = 0; k < steps_.size(); ++k) {
    const Step &step = steps_[k];
    const fb::Operator &op = step.op->op();
    for (uint32_t i = 0; i < op.inputs()->size(); ++i) {
      size_t j = step.firstInput + i;
      if (k > 0 && i == 0) {
        if (Status s = checkInputEntry(k, i, !inputs[j]); !s)
          return s;
      } else if (!inputs[j] &&
                 tensorBytes(*op.buffers()->Get(op.inputs()->Get(i)))) {
        return invalidArgument("input " + std::to_string(j) + " (" +
                               opName(k, op) + " input " + std::to_string(i) +
                               ") is null");
      }
    }
  }
  QueueHandle queue = backend_.callerQueue(stream);
  if (!prepared_) {
    bool capturing = false;
    if (Status s = backend_.isCapturing(queue, &capturing); !s)
      return s;
    if (capturing)
      return invalidArgument(
          "the network is not prepared and the stream is being captured: "
          "preparing allocates device memory, which capture forbids; call "
          "dynaspa_network_prepare (or launch once) before capturing");
    if (Status s = prepare(); !s)
      return s;
  }
  DeviceBuffer first{reinterpret_cast<uint64_t>(inputs[0]),
                     steps_[0].inputBytes};
  DeviceBuffer last{reinterpret_cast<uint64_t>(output),
                    steps_.back().outputBytes};
  bind(&first, &last, [&](size_t k, uint32_t i) {
    const fb::Operator &op = steps_[k].op->op();
    return DeviceBuffer{
        reinterpret_cast<uint64_t>(inputs[steps_[k].firstInput + i]),
        tensorBytes(*op.buffers()->Get(op.inputs()->Get(i)))};
  });
  return enqueue(queue, Selection::Device, true, nullptr);
}

Status NetworkExecutor::benchmark(const dynaspa_benchmark_options_t &options,
                                  dynaspa_network_benchmark_result_t *result) {
  if (options.warmup < 0 || options.reps < 1 || options.rounds < 1)
    return invalidArgument("benchmark needs warmup >= 0, reps >= 1 and "
                           "rounds >= 1");
  if (Status s = prepare(); !s)
    return s;
  if (Status s = allocateHostInputs(); !s)
    return s;
  *result = dynaspa_network_benchmark_result_t();
  result->method = backend_.kind() == DYNASPA_DEVICE_CUDA ? "cuda-graph"
                                                          : "opencl-host-clock";
  bind(nullptr, nullptr,
       [this](size_t k, uint32_t i) { return steps_[k].sideInputs[i]; });
  QueueHandle own = backend_.ownQueue();
  Selection selection = Selection::Device;
  for (const Step &s : steps_)
    if (!s.op->op().self_dispatch())
      selection = Selection::Fixed;
  if (selection == Selection::Fixed) {
    // A graph cannot hold the read-backs: choose each host-selected
    // operator's variant for these inputs once, then time that choice.
    result->host_selected = 1;
    if (Status s = enqueue(own, Selection::Host, true, nullptr); !s)
      return s;
    if (Status s = backend_.synchronize(); !s)
      return s;
  }
  EnqueueFn planned = [this, selection](QueueHandle queue) {
    return enqueue(queue, selection, true, nullptr);
  };
  EnqueueFn serial = [this, selection](QueueHandle queue) {
    return enqueue(queue, selection, false, nullptr);
  };
  GraphOwner plannedGraph(backend_), serialGraph(backend_);
  if (Status s = backend_.captureGraph(planned, &plannedGraph.graph); !s)
    return s;
  if (Status s = backend_.captureGraph(serial, &serialGraph.graph); !s)
    return s;
  for (int32_t i = 0; i < options.warmup; ++i)
    for (GraphHandle g : {plannedGraph.graph, serialGraph.graph})
      if (Status s = backend_.launchGraph(g); !s)
        return s;
  if (Status s = backend_.synchronize(); !s)
    return s;
  std::vector<double> times, serialTimes;
  for (int32_t r = 0; r < options.rounds; ++r) {
    double us = 0;
    if (Status s = backend_.timeGraph(plannedGraph.graph, options.reps, &us);
        !s)
      return s;
    times.push_back(us);
    if (Status s = backend_.timeGraph(serialGraph.graph, options.reps, &us); !s)
      return s;
    serialTimes.push_back(us);
  }
  result->median_us = median(times);
  result->min_us = *std::min_element(times.begin(), times.end());
  result->serial_median_us = median(serialTimes);
  result->serial_min_us =
      *std::min_element(serialTimes.begin(), serialTimes.end());
  return Status::ok();
}

} // namespace dynaspa::runtime
