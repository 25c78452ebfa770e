//===- network.h - chains of operators on a triple buffer -------*- C++ -*-===//
//
// Part of the dynaspa project.
//
//===----------------------------------------------------------------------===//
//
// The memory plan of the paper's section 3.4 for a sequential network of
// spatially-sparse operators. Tensor T0 is the network input, T(k+1) the
// output of operator k, which reads Tk. The plan keeps Tk in buffer k mod 3
// of three equal buffers (as large as the largest Tk):
//
//   operator k   reads  buffer k mod 3        (its input)
//                writes buffer (k+1) mod 3    (zero-filled before it starts)
//   meanwhile    buffer (k+2) mod 3 is zero-filled on the side queue for
//                operator k+1: it held T(k-1), dead once operator k-1 ended
//
// Two buffers would do for dense operators, each overwriting its whole
// output; a sparse operator writes only its active tiles, so its output must
// be zero first, and the third buffer lets that fill overlap the previous
// operator instead of delaying the next one. The fill of T(k+2) waits for
// operator k-1 (event on the main queue -> side queue) and operator k+1
// waits for the fill (side queue -> main queue); the last side-queue event
// is always waited for, so the side queue is joined back into the main one
// (which CUDA stream capture requires) and nothing blocks the host. The
// operators' own zero fill of the output is skipped (their count buffers
// are still cleared in their prologue, on the main queue).
//
// dynaspa_network_launch binds T0 and Tn to the caller's memory and only
// the intermediate tensors to the plan's buffers.
//
//===----------------------------------------------------------------------===//

#ifndef DYNASPA_RUNTIME_SRC_NETWORK_H
#define DYNASPA_RUNTIME_SRC_NETWORK_H

#include "executor.h"

#include <memory>

namespace dynaspa::runtime {

class NetworkExecutor {
public:
  /// Checks that `ops` chain (each output is the next operator's input 0:
  /// same shape and dtype; one output each) and builds the plan. `ops` are
  /// the bundle's executors, which outlive the network; one may repeat.
  static Status create(Backend &backend, std::vector<OperatorExecutor *> ops,
                       std::unique_ptr<NetworkExecutor> *out);
  NetworkExecutor(const NetworkExecutor &) = delete;
  NetworkExecutor &operator=(const NetworkExecutor &) = delete;
  ~NetworkExecutor();

  const dynaspa_network_info_t &info() const { return info_; }

  /// Prepares the operators, allocates the activation buffers, the side
  /// queue and the events; idempotent.
  Status prepare();

  /// dynaspa_network_run: host tensors, blocking.
  Status run(const dynaspa_host_tensor_t *inputs, size_t numInputs,
             const dynaspa_host_tensor_t *output, dynaspa_run_stats_t *stats);

  /// dynaspa_network_launch: caller memory and stream, never blocks.
  Status launch(void *const *inputs, size_t numInputs, void *output,
                void *stream);

  /// dynaspa_network_benchmark, on the buffers the last run() left.
  Status benchmark(const dynaspa_benchmark_options_t &options,
                   dynaspa_network_benchmark_result_t *result);

private:
  /// One operator of the chain.
  struct Step {
    OperatorExecutor *op = nullptr;
    /// Operator.buffers indices of input 0 and of the output.
    uint32_t input = 0, output = 0;
    /// Offset of this operator's inputs in the flat input array.
    size_t firstInput = 0;
    size_t inputBytes = 0, outputBytes = 0;
    /// run()'s device copies of inputs 1.. (filter, mask, ...), indexed
    /// like Operator.inputs; entry 0 stays empty.
    std::vector<DeviceBuffer> sideInputs;
    /// This execution's bindings, indexed like Operator.buffers.
    Bindings bindings;
    /// The variant of a host-selected operator, chosen by the last
    /// Selection::Host execution.
    int32_t chosen = -1;
  };

  /// How each operator's variant is chosen during enqueue().
  enum class Selection {
    /// Every variant goes; the kernels pick (self-dispatching operators).
    Device,
    /// Host-selected operators read their counts back (blocking; own queue
    /// only) and record the choice in Step::chosen.
    Host,
    /// Host-selected operators replay Step::chosen (benchmark graphs).
    Fixed,
  };

  NetworkExecutor(Backend &backend) : backend_(backend) {}

  Status allocateHostInputs();
  /// Sets every step's bindings: T0 to `first`, Tn to `last` (null: the
  /// plan's buffers), input i >= 1 of step k to `side(k, i)`.
  template <typename SideFn>
  void bind(const DeviceBuffer *first, const DeviceBuffer *last, SideFn side);
  /// Enqueues the chain on `queue` with the current bindings; `sideQueue`
  /// false serializes the zero fills on `queue` (benchmark's baseline).
  /// `stats` (own queue only) gets one entry per step.
  Status enqueue(QueueHandle queue, Selection selection, bool sideQueue,
                 dynaspa_run_stats_t *stats);
  Status fillOutput(const Step &step, QueueHandle queue);
  Status checkInputEntry(size_t step, size_t slot, bool empty) const;

  Backend &backend_;
  std::vector<Step> steps_;
  dynaspa_network_info_t info_ = {};
  bool prepared_ = false;
  bool hostInputs_ = false;
  /// The plan's activation buffers (info_.num_buffers of them).
  std::vector<DeviceBuffer> buffers_;
  QueueHandle side_ = nullptr;
  /// Sync events: the fork point, "T(k+1) zeroed" and "operator k done",
  /// one per step each.
  EventHandle fork_ = nullptr;
  std::vector<EventHandle> filled_, done_;
  /// Timing events of run() with stats, three per step, made on first use.
  std::vector<EventHandle> timing_;
  std::vector<uint8_t> staging_;
};

} // namespace dynaspa::runtime

#endif // DYNASPA_RUNTIME_SRC_NETWORK_H
