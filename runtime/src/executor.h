//===- executor.h - run one bundle operator on a backend --------*- C++ -*-===//
//
// Part of the dynaspa project.
//
//===----------------------------------------------------------------------===//
//
// An operator runs as data, not code: prepare() turns the bundle's tables
// into lists of Commands with every kernel built, and each execution binds
// the commands' buffer indices to device handles -- the runtime's own
// buffers for run() and benchmark(), the caller's memory for the user
// tensors in launch(). The prologue list (zero fills, bitmask and DISTile
// kernels) and each variant's list are replayed as they are, on any queue,
// or recorded once into a CUDA graph.
//
// Variant selection has two forms. Host-selected operators read the tile
// counts back after the prologue and launch one variant (a host round trip
// per run). Self-dispatching ones (Operator.self_dispatch) launch every
// variant in order and let the kernels decide on the device, so nothing
// waits for the host: that is what launch() and graph capture need.
//
//===----------------------------------------------------------------------===//

#ifndef DYNASPA_RUNTIME_SRC_EXECUTOR_H
#define DYNASPA_RUNTIME_SRC_EXECUTOR_H

#include "backend.h"

#include <map>
#include <optional>
#include <utility>

namespace dynaspa::runtime {

/// Modules and kernels of one bundle, built on first use and shared by its
/// operators (the prologue kernels of all operators usually live in one
/// module).
class ModuleCache {
public:
  ModuleCache(Backend &backend, const bundle::Bundle &bundle)
      : backend_(backend), bundle_(bundle),
        modules_(bundle.modules() ? bundle.modules()->size() : 0, nullptr) {}
  ModuleCache(const ModuleCache &) = delete;
  ModuleCache &operator=(const ModuleCache &) = delete;
  ~ModuleCache();

  Status kernel(uint32_t module, const std::string &name, KernelHandle *out);

private:
  Backend &backend_;
  const bundle::Bundle &bundle_;
  std::vector<ModuleHandle> modules_;
  std::map<std::pair<uint32_t, std::string>, KernelHandle> kernels_;
};

/// A kernel argument as the bundle states it: a buffer index (bound to a
/// device handle per execution) or an immediate.
struct ArgRef {
  bundle::ArgKind kind = bundle::ArgKind::Buffer;
  uint32_t buffer = 0;
  int64_t value = 0;
};

/// One step of an operator's device work.
struct Command {
  enum class Kind { ZeroFill, Launch };
  Kind kind = Kind::Launch;
  /// ZeroFill: the buffer to clear.
  uint32_t buffer = 0;
  /// Launch: the kernel, its configuration and its arguments.
  KernelHandle kernel = nullptr;
  LaunchDims dims;
  std::vector<ArgRef> args;
};

/// The device handle of every buffer index of an operator for one execution.
using Bindings = std::vector<DeviceBuffer>;

struct VariantPlan {
  /// None for a lone variant that lists its own tiles (no count exists).
  std::optional<uint32_t> countBuffer;
  int64_t minTiles = 0;
  /// -1: unbounded.
  int64_t maxTiles = -1;
  /// The variant's cover test (bundle.fbs, table Cover), or null.
  const bundle::Cover *cover = nullptr;
  std::vector<Command> commands;
};

class OperatorExecutor {
public:
  OperatorExecutor(Backend &backend, ModuleCache &modules,
                   const bundle::Operator &op)
      : backend_(backend), modules_(modules), op_(op) {}
  OperatorExecutor(const OperatorExecutor &) = delete;
  OperatorExecutor &operator=(const OperatorExecutor &) = delete;
  ~OperatorExecutor();

  /// Allocates the scratch buffers (all but the user inputs and outputs)
  /// and builds the command lists; idempotent.
  Status prepare();

  /// dynaspa_operator_set_variant_lanes: whether a self-dispatching
  /// operator's variants run side by side (see Lanes); creates the lanes now
  /// if the operator is prepared.
  Status setVariantLanes(bool enable);

  /// dynaspa_operator_run: host tensors in and out, blocking.
  Status run(const dynaspa_host_tensor_t *inputs, size_t numInputs,
             const dynaspa_host_tensor_t *outputs, size_t numOutputs,
             dynaspa_run_stats_t *stats);

  /// dynaspa_operator_launch: caller device memory, caller stream, never
  /// waits for the device.
  Status launch(void *const *inputs, size_t numInputs, void *const *outputs,
                size_t numOutputs, void *stream);

  /// dynaspa_operator_benchmark, on the runtime's own buffers.
  Status benchmark(const dynaspa_benchmark_options_t &options,
                   dynaspa_benchmark_result_t *result);

  // For NetworkExecutor (network.h), which binds the user tensors to its own
  // rotating buffers and zero-fills outputs ahead of time on a side queue.

  const bundle::Operator &op() const { return op_; }
  /// Indexed like Operator.buffers: the scratch buffers once prepared; the
  /// user tensor entries are not the caller's and must be overridden.
  const Bindings &bindings() const { return buffers_; }
  /// Zero fills + prologue with `bindings` on `queue`, without the zero fill
  /// of the buffers in `preZeroed` (outputs already cleared on that queue's
  /// behalf). Needs prepare(); enqueueVariants must follow (it joins the
  /// fills' queue back).
  Status enqueuePrologue(const Bindings &bindings, QueueHandle queue,
                         const std::vector<uint32_t> &preZeroed);
  /// Variant `variant`, or every variant for -1 (in order on `queue`, or
  /// side by side with lanes: see lanes_); then waits on `queue` for the
  /// fills still running alongside.
  Status enqueueVariants(const Bindings &bindings, QueueHandle queue,
                         int32_t variant);
  /// Reads the tile counts (blocking, own queue) and applies the dispatch
  /// rule.
  Status selectVariant(int32_t *variant, int64_t *tileCount);
  Status checkHostTensor(const dynaspa_host_tensor_t &host, uint32_t buffer,
                         const std::string &what) const;

private:
  Status buildLaunch(const bundle::Launch &launch, Command *out);
  /// Allocates (and zeroes) the runtime's copies of the user tensors, which
  /// only run() and benchmark() use; launch() binds the caller's instead.
  Status prepareHostBuffers();
  Status checkCounts(size_t numInputs, size_t numOutputs) const;
  /// Enqueues `commands`, skipping the zero fill of buffers in `skipFills`.
  Status execute(const std::vector<Command> &commands, const Bindings &bindings,
                 QueueHandle queue,
                 const std::vector<uint32_t> *skipFills = nullptr);
  /// Forks the fill kernels onto side_, enqueues zero fills (but those of
  /// `preZeroed`) and the prologue on `queue` and makes `queue` wait for the
  /// fills the variants need first.
  Status startOp(const Bindings &bindings, QueueHandle queue,
                 const std::vector<uint32_t> *preZeroed);
  /// Joins the fills that run alongside the variants back into `queue`.
  Status finishOp(QueueHandle queue);
  /// Zero fills + prologue, then variant `variant`, or every variant in
  /// order for -1 (self-dispatching operators).
  Status executeAll(const Bindings &bindings, QueueHandle queue,
                    int32_t variant);
  Status timed(dynaspa_run_stats_t *stats, int32_t *variant,
               int64_t *tileCount);

  Backend &backend_;
  ModuleCache &modules_;
  const bundle::Operator &op_;
  bool prepared_ = false;
  bool hostBuffers_ = false;
  /// Indexed like Operator.buffers; user tensors stay null until
  /// prepareHostBuffers.
  Bindings buffers_;
  /// launch()'s bindings, kept to avoid an allocation per launch.
  Bindings callerBindings_;
  /// execute()'s resolved arguments, likewise.
  std::vector<KernelArg> args_;
  std::vector<Command> prologue_;
  /// Operator.fills_before and fills_alongside, both on side_.
  std::vector<Command> fillsBefore_, fillsAlongside_;
  std::vector<VariantPlan> variants_;
  /// The second queue of the fills and its sync events (fork, fills_before
  /// done, fills_alongside done), created by prepare() where there are
  /// fills.
  QueueHandle side_ = nullptr;
  enum SyncPoint { kFork, kBefore, kAlongside };
  std::array<EventHandle, 3> sync_ = {nullptr, nullptr, nullptr};
  /// startOp forked work that finishOp has yet to join.
  bool joinPending_ = false;
  /// A self-dispatching operator of several variants launches all of them
  /// and all but one find, in their first instructions, that the dispatch
  /// table is not theirs. On one queue each such kernel still sits on the
  /// critical path (a launch, and its blocks reading the counts: 2-5 us on
  /// the H100). With lanes, variant 0 goes on the op's queue and variant
  /// i > 0 on queues[i - 1], forked after the prologue (`fork`) and joined
  /// back (`done[i - 1]`): the kernels that exit do so beside the chosen
  /// one. Off by default: where a later variant is chosen, the earlier ones
  /// launched beside it can slow it down (NOTES.md, entry 29).
  bool lanesEnabled_ = false;
  struct Lanes {
    std::vector<QueueHandle> queues;
    EventHandle fork = nullptr;
    std::vector<EventHandle> done;
  } lanes_;
  /// Creates the lanes this operator lacks (none unless lanesEnabled_, the
  /// operator self-dispatches and has several variants).
  Status createLanes();
  /// start, after prologue, end; created on the first timed run.
  std::array<EventHandle, 3> events_ = {nullptr, nullptr, nullptr};
};

} // namespace dynaspa::runtime

#endif // DYNASPA_RUNTIME_SRC_EXECUTOR_H
