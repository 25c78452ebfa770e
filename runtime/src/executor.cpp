//===- executor.cpp - run one bundle operator on a backend ----------------===//
//
// Part of the dynaspa project.
//
//===----------------------------------------------------------------------===//
//
// Relies on verifyBundle: indices are in range, enums are known, dims are
// 1..3 and non-zero, count buffers are scratch and zero_fill names no input,
// so nothing here re-checks the bundle.
//
//===----------------------------------------------------------------------===//

#include "executor.h"
#include "c_enum.h"
#include "timing.h"

#include "dynaspa/runtime/ndarray.h"

#include <algorithm>
#include <cmath>
#include <set>

namespace dynaspa::runtime {

namespace fb = ::dynaspa::bundle;

namespace {

size_t bufferBytes(const fb::Tensor &t) {
  int64_t count = 0;
  elementCount(t.shape()->data(), t.shape()->size(), &count);
  return static_cast<size_t>(count) * dtypeSize(t.dtype());
}

std::string shapeString(const int64_t *shape, size_t rank) {
  std::string s = "[";
  for (size_t i = 0; i < rank; ++i)
    s += (i ? "," : "") + std::to_string(shape[i]);
  return s + "]";
}

} // namespace

ModuleCache::~ModuleCache() {
  for (auto &entry : kernels_)
    backend_.releaseKernel(entry.second);
  for (ModuleHandle m : modules_)
    if (m)
      backend_.unloadModule(m);
}

Status ModuleCache::kernel(uint32_t module, const std::string &name,
                           KernelHandle *out) {
  auto key = std::make_pair(module, name);
  if (auto it = kernels_.find(key); it != kernels_.end()) {
    *out = it->second;
    return Status::ok();
  }
  if (!modules_[module]) {
    const fb::Module &m = *bundle_.modules()->Get(module);
    if (Status s = backend_.loadModule(m, &modules_[module]); !s)
      return Status(s.code(), "module " + std::to_string(module) +
                                  (m.name() ? " '" + m.name()->str() + "'"
                                            : std::string()) +
                                  ": " + s.message());
  }
  KernelHandle k = nullptr;
  if (Status s = backend_.getKernel(modules_[module], name, &k); !s)
    return s;
  kernels_.emplace(key, k);
  *out = k;
  return Status::ok();
}

OperatorExecutor::~OperatorExecutor() {
  for (EventHandle e : events_)
    if (e)
      backend_.destroyEvent(e);
  for (EventHandle e : sync_)
    if (e)
      backend_.destroyEvent(e);
  if (side_)
    backend_.destroyQueue(side_);
  if (lanes_.fork)
    backend_.destroyEvent(lanes_.fork);
  for (EventHandle e : lanes_.done)
    backend_.destroyEvent(e);
  for (QueueHandle q : lanes_.queues)
    backend_.destroyQueue(q);
  for (DeviceBuffer b : buffers_)
    backend_.release(b);
}

Status OperatorExecutor::buildLaunch(const fb::Launch &launch, Command *out) {
  out->kind = Command::Kind::Launch;
  if (Status s = modules_.kernel(launch.module_(), launch.kernel()->str(),
                                 &out->kernel);
      !s)
    return s;
  for (uint32_t i = 0; i < launch.grid()->size(); ++i)
    out->dims.grid[i] = launch.grid()->Get(i);
  for (uint32_t i = 0; i < launch.block()->size(); ++i)
    out->dims.block[i] = launch.block()->Get(i);
  out->dims.rank = std::max(launch.grid()->size(), launch.block()->size());
  out->dims.sharedBytes = launch.shared_bytes();
  if (launch.args())
    for (const fb::Arg *arg : *launch.args())
      out->args.push_back({arg->kind(), arg->buffer(), arg->value()});
  return Status::ok();
}

Status OperatorExecutor::prepare() {
  if (prepared_)
    return Status::ok();
  // Allocate into buffers_ as we go so that the destructor frees a partial
  // allocation; a failed prepare leaves prepared_ false and is retried.
  for (DeviceBuffer b : buffers_)
    backend_.release(b);
  hostBuffers_ = false;
  buffers_.assign(op_.buffers()->size(), DeviceBuffer());
  prologue_.clear();
  fillsBefore_.clear();
  fillsAlongside_.clear();
  variants_.clear();
  std::set<uint32_t> user(op_.outputs()->begin(), op_.outputs()->end());
  if (op_.inputs())
    user.insert(op_.inputs()->begin(), op_.inputs()->end());
  // Scratch starts zeroed: the tile-list kernels keep their cross-block
  // counters in it and leave them at zero for the next run.
  bool scratch = false;
  for (uint32_t i = 0; i < buffers_.size(); ++i) {
    if (user.count(i))
      continue;
    if (Status s = backend_.allocate(bufferBytes(*op_.buffers()->Get(i)),
                                     &buffers_[i]);
        !s)
      return s;
    if (Status s = backend_.fillZero(buffers_[i], buffers_[i].bytes,
                                     backend_.ownQueue());
        !s)
      return s;
    scratch = true;
  }
  if (scratch)
    if (Status s = backend_.synchronize(); !s)
      return s;
  // Outputs are cleared even if zero_fill forgot one: variants never write
  // inactive tiles, so a stale output would leak the previous result --
  // unless the bundle says its kernels write the zeros themselves.
  std::vector<uint32_t> fills;
  if (op_.zero_fill())
    fills.assign(op_.zero_fill()->begin(), op_.zero_fill()->end());
  if (!op_.writes_zeros())
    for (uint32_t out : *op_.outputs())
      if (std::find(fills.begin(), fills.end(), out) == fills.end())
        fills.push_back(out);
  for (uint32_t index : fills) {
    Command c;
    c.kind = Command::Kind::ZeroFill;
    c.buffer = index;
    prologue_.push_back(c);
  }
  for (auto [launches, commands] :
       {std::pair(op_.prologue(), &prologue_),
        std::pair(op_.fills_before(), &fillsBefore_),
        std::pair(op_.fills_alongside(), &fillsAlongside_)}) {
    for (uint32_t i = 0; launches && i < launches->size(); ++i) {
      Command c;
      if (Status s = buildLaunch(*launches->Get(i), &c); !s)
        return s;
      commands->push_back(std::move(c));
    }
  }
  if ((!fillsBefore_.empty() || !fillsAlongside_.empty()) && !side_) {
    if (Status s = backend_.createQueue(&side_); !s)
      return s;
    for (EventHandle &e : sync_)
      if (Status s = backend_.createSyncEvent(&e); !s)
        return s;
  }
  for (const fb::Variant *v : *op_.variants()) {
    VariantPlan plan;
    if (flatbuffers::Optional<uint32_t> count = v->count_buffer())
      plan.countBuffer = *count;
    plan.minTiles = v->min_tiles();
    plan.maxTiles = v->max_tiles();
    plan.cover = v->cover();
    if (v->launches()) {
      for (const fb::Launch *launch : *v->launches()) {
        Command c;
        if (Status s = buildLaunch(*launch, &c); !s)
          return s;
        plan.commands.push_back(std::move(c));
      }
    }
    variants_.push_back(std::move(plan));
  }
  if (Status s = createLanes(); !s)
    return s;
  prepared_ = true;
  return Status::ok();
}

Status OperatorExecutor::createLanes() {
  if (!lanesEnabled_ || !op_.self_dispatch() || variants_.size() < 2)
    return Status::ok();
  // Each creation is kept as soon as it succeeds, so that a retried call
  // completes the set and the destructor releases what exists.
  if (!lanes_.fork)
    if (Status s = backend_.createSyncEvent(&lanes_.fork); !s)
      return s;
  while (lanes_.queues.size() + 1 < variants_.size()) {
    QueueHandle q = nullptr;
    if (Status s = backend_.createQueue(&q); !s)
      return s;
    lanes_.queues.push_back(q);
  }
  while (lanes_.done.size() + 1 < variants_.size()) {
    EventHandle e = nullptr;
    if (Status s = backend_.createSyncEvent(&e); !s)
      return s;
    lanes_.done.push_back(e);
  }
  return Status::ok();
}

Status OperatorExecutor::setVariantLanes(bool enable) {
  lanesEnabled_ = enable;
  if (!prepared_)
    return Status::ok();
  Status s = createLanes();
  // An incomplete set stays unused; a later prepare() cannot complete it.
  if (!s)
    lanesEnabled_ = false;
  return s;
}

Status OperatorExecutor::prepareHostBuffers() {
  if (Status s = prepare(); !s)
    return s;
  if (hostBuffers_)
    return Status::ok();
  std::vector<uint32_t> user(op_.outputs()->begin(), op_.outputs()->end());
  if (op_.inputs())
    user.insert(user.end(), op_.inputs()->begin(), op_.inputs()->end());
  for (uint32_t i : user) {
    if (buffers_[i].handle)
      continue;
    if (Status s = backend_.allocate(bufferBytes(*op_.buffers()->Get(i)),
                                     &buffers_[i]);
        !s)
      return s;
    // Defined contents for a benchmark before any run.
    if (Status s = backend_.fillZero(buffers_[i], buffers_[i].bytes,
                                     backend_.ownQueue());
        !s)
      return s;
  }
  if (Status s = backend_.synchronize(); !s)
    return s;
  hostBuffers_ = true;
  return Status::ok();
}

Status OperatorExecutor::execute(const std::vector<Command> &commands,
                                 const Bindings &bindings, QueueHandle queue,
                                 const std::vector<uint32_t> *skipFills) {
  for (const Command &c : commands) {
    if (c.kind == Command::Kind::ZeroFill) {
      if (skipFills && std::find(skipFills->begin(), skipFills->end(),
                                 c.buffer) != skipFills->end())
        continue;
      const DeviceBuffer &b = bindings[c.buffer];
      if (Status s = backend_.fillZero(b, b.bytes, queue); !s)
        return s;
      continue;
    }
    args_.resize(c.args.size());
    for (size_t i = 0; i < c.args.size(); ++i) {
      args_[i].kind = c.args[i].kind;
      args_[i].value = c.args[i].value;
      args_[i].buffer = c.args[i].kind == fb::ArgKind::Buffer
                            ? bindings[c.args[i].buffer]
                            : DeviceBuffer();
    }
    if (Status s = backend_.launch(c.kernel, c.dims, args_, queue); !s)
      return s;
  }
  return Status::ok();
}

Status OperatorExecutor::startOp(const Bindings &bindings, QueueHandle queue,
                                 const std::vector<uint32_t> *preZeroed) {
  // The fill kernels go on the side queue, forked from `queue` (the
  // previous work on it may still read the output): those the variants
  // need first, then those that may overlap the variants.
  bool sideWork = side_ != nullptr;
  joinPending_ = false;
  if (sideWork) {
    if (Status s = backend_.recordEventOn(sync_[kFork], queue); !s)
      return s;
    if (Status s = backend_.waitEvent(side_, sync_[kFork]); !s)
      return s;
    if (Status s = execute(fillsBefore_, bindings, side_); !s)
      return s;
    if (Status s = backend_.recordEventOn(sync_[kBefore], side_); !s)
      return s;
    if (!fillsAlongside_.empty()) {
      if (Status s = execute(fillsAlongside_, bindings, side_); !s)
        return s;
      if (Status s = backend_.recordEventOn(sync_[kAlongside], side_); !s)
        return s;
      joinPending_ = true;
    }
  }
  if (Status s = execute(prologue_, bindings, queue, preZeroed); !s)
    return s;
  return sideWork ? backend_.waitEvent(queue, sync_[kBefore]) : Status::ok();
}

Status OperatorExecutor::finishOp(QueueHandle queue) {
  // The join: work enqueued after the op waits for all of its writes (and a
  // CUDA capture ends with the side stream joined).
  if (!joinPending_)
    return Status::ok();
  joinPending_ = false;
  return backend_.waitEvent(queue, sync_[kAlongside]);
}

Status OperatorExecutor::executeAll(const Bindings &bindings, QueueHandle queue,
                                    int32_t variant) {
  if (Status s = startOp(bindings, queue, nullptr); !s)
    return s;
  return enqueueVariants(bindings, queue, variant);
}

Status
OperatorExecutor::enqueuePrologue(const Bindings &bindings, QueueHandle queue,
                                  const std::vector<uint32_t> &preZeroed) {
  if (!prepared_)
    return invalidArgument("operator '" + op_.name()->str() +
                           "' is not prepared");
  return startOp(bindings, queue, &preZeroed);
}

Status OperatorExecutor::enqueueVariants(const Bindings &bindings,
                                         QueueHandle queue, int32_t variant) {
  if (!prepared_)
    return invalidArgument("operator '" + op_.name()->str() +
                           "' is not prepared");
  if (variant >= 0 && static_cast<size_t>(variant) >= variants_.size())
    return invalidArgument("operator '" + op_.name()->str() +
                           "' has no variant " + std::to_string(variant));
  if (variant >= 0) {
    if (Status s = execute(variants_[variant].commands, bindings, queue); !s)
      return s;
    return finishOp(queue);
  }
  // Complete whenever enabled on a prepared operator (prepare() and
  // setVariantLanes fail otherwise); empty for a lone variant.
  if (!lanesEnabled_ || lanes_.queues.empty()) {
    for (const VariantPlan &plan : variants_)
      if (Status s = execute(plan.commands, bindings, queue); !s)
        return s;
    return finishOp(queue);
  }
  if (Status s = backend_.recordEventOn(lanes_.fork, queue); !s)
    return s;
  if (Status s = execute(variants_[0].commands, bindings, queue); !s)
    return s;
  for (size_t v = 1; v < variants_.size(); ++v) {
    QueueHandle lane = lanes_.queues[v - 1];
    if (Status s = backend_.waitEvent(lane, lanes_.fork); !s)
      return s;
    if (Status s = execute(variants_[v].commands, bindings, lane); !s)
      return s;
    if (Status s = backend_.recordEventOn(lanes_.done[v - 1], lane); !s)
      return s;
  }
  for (EventHandle done : lanes_.done)
    if (Status s = backend_.waitEvent(queue, done); !s)
      return s;
  return finishOp(queue);
}

Status OperatorExecutor::selectVariant(int32_t *variant, int64_t *tileCount) {
  // Several variants usually share a granularity and thus a count buffer:
  // read each buffer once.
  std::map<uint32_t, int32_t> counts;
  Status failed = Status::ok();
  auto count = [&](uint32_t buffer) -> int64_t {
    auto it = counts.find(buffer);
    if (it == counts.end()) {
      int32_t n = 0;
      if (Status s = backend_.download(buffers_[buffer], &n, sizeof(n)); !s)
        failed = s;
      it = counts.emplace(buffer, n).first;
    }
    return it->second;
  };
  for (size_t v = 0; v < variants_.size(); ++v) {
    const VariantPlan &plan = variants_[v];
    if (!plan.countBuffer) {
      // The lone variant of an operator without a tile list (verifyBundle).
      *variant = static_cast<int32_t>(v);
      *tileCount = -1;
      return Status::ok();
    }
    int64_t n = count(*plan.countBuffer);
    bool holds =
        n >= plan.minTiles && (plan.maxTiles < 0 || n <= plan.maxTiles);
    if (const fb::Cover *c = plan.cover; holds && c) {
      // As the kernels test it (convert-spsparse-to-gpu); verifyBundle's
      // bounds keep the products in int64.
      int64_t of = count(c->of_buffer()) * c->of_positions() * 100;
      int64_t over = count(c->over_buffer()) * c->over_positions();
      holds = of >= over * c->min_percent() &&
              (c->max_percent() < 0 || of <= over * c->max_percent());
    }
    if (!failed)
      return failed;
    if (holds) {
      *variant = static_cast<int32_t>(v);
      *tileCount = n;
      return Status::ok();
    }
  }
  // Only a negative count escapes the unbounded last variant: a kernel bug.
  return Status(DYNASPA_DEVICE_ERROR,
                "no variant accepts the tile count " +
                    std::to_string(counts[*variants_.back().countBuffer]) +
                    " that the prologue produced");
}

Status OperatorExecutor::checkHostTensor(const dynaspa_host_tensor_t &host,
                                         uint32_t buffer,
                                         const std::string &what) const {
  const fb::Tensor &t = *op_.buffers()->Get(buffer);
  const int64_t *shape = t.shape()->data();
  size_t rank = t.shape()->size();
  bool sameShape = host.rank >= 0 && static_cast<size_t>(host.rank) == rank &&
                   (rank == 0 || host.shape);
  for (size_t i = 0; sameShape && i < rank; ++i)
    sameShape = host.shape[i] == shape[i];
  if (!sameShape) {
    // Print the caller's dims only when the rank agrees: `shape` is theirs
    // and only `rank` long.
    std::string got = host.rank >= 0 && static_cast<size_t>(host.rank) == rank
                          ? shapeString(host.shape, rank)
                          : "rank " + std::to_string(host.rank);
    return Status(DYNASPA_SHAPE_MISMATCH, what + " must have shape " +
                                              shapeString(shape, rank) +
                                              ", got " + got);
  }
  auto deviceType = static_cast<dynaspa_dtype_t>(t.dtype());
  long long hostType = cEnumValue(host.dtype);
  if (hostType != DYNASPA_F32 && hostType != deviceType)
    return Status(DYNASPA_DTYPE_MISMATCH,
                  what + " must be f32 or the device dtype " +
                      std::to_string(static_cast<int>(deviceType)));
  if (!host.data && bufferBytes(t) != 0)
    return invalidArgument(what + " has no data");
  return Status::ok();
}

Status OperatorExecutor::timed(dynaspa_run_stats_t *stats, int32_t *variant,
                               int64_t *tileCount) {
  if (stats && !events_[0]) {
    for (EventHandle &e : events_)
      if (Status s = backend_.createEvent(&e); !s)
        return s;
  }
  QueueHandle queue = backend_.ownQueue();
  if (stats)
    if (Status s = backend_.recordEvent(events_[0]); !s)
      return s;
  if (Status s = startOp(buffers_, queue, nullptr); !s)
    return s;
  if (stats)
    if (Status s = backend_.recordEvent(events_[1]); !s)
      return s;
  // Self-dispatching: every variant goes (-1) and the kernels pick; no
  // count is read before the last launch, so the device never waits for the
  // host.
  if (!op_.self_dispatch())
    if (Status s = selectVariant(variant, tileCount); !s)
      return s;
  if (Status s =
          enqueueVariants(buffers_, queue, op_.self_dispatch() ? -1 : *variant);
      !s)
    return s;
  if (!stats)
    return Status::ok();
  if (Status s = backend_.recordEvent(events_[2]); !s)
    return s;
  // Only for the report: which variant the kernels took.
  if (op_.self_dispatch())
    if (Status s = selectVariant(variant, tileCount); !s)
      return s;
  stats->variant = *variant;
  stats->tile_count = *tileCount;
  if (Status s =
          backend_.elapsedMs(events_[0], events_[1], &stats->prologue_ms);
      !s)
    return s;
  return backend_.elapsedMs(events_[1], events_[2], &stats->variant_ms);
}

Status OperatorExecutor::checkCounts(size_t numInputs,
                                     size_t numOutputs) const {
  size_t wantInputs = op_.inputs() ? op_.inputs()->size() : 0;
  size_t wantOutputs = op_.outputs()->size();
  if (numInputs != wantInputs || numOutputs != wantOutputs)
    return invalidArgument("operator '" + op_.name()->str() + "' takes " +
                           std::to_string(wantInputs) + " inputs and " +
                           std::to_string(wantOutputs) + " outputs, got " +
                           std::to_string(numInputs) + " and " +
                           std::to_string(numOutputs));
  return Status::ok();
}

Status OperatorExecutor::launch(void *const *inputs, size_t numInputs,
                                void *const *outputs, size_t numOutputs,
                                void *stream) {
  if (!op_.self_dispatch())
    return Status(DYNASPA_UNSUPPORTED,
                  "operator '" + op_.name()->str() +
                      "' is not self-dispatching: its variant is chosen by "
                      "reading tile counts on the host, which an "
                      "asynchronous launch cannot do; use "
                      "dynaspa_operator_run or a bundle compiled with "
                      "self-dispatch");
  if (Status s = checkCounts(numInputs, numOutputs); !s)
    return s;
  if ((numInputs && !inputs) || (numOutputs && !outputs))
    return invalidArgument("null input or output array");
  QueueHandle queue = backend_.callerQueue(stream);
  if (!prepared_) {
    bool capturing = false;
    if (Status s = backend_.isCapturing(queue, &capturing); !s)
      return s;
    if (capturing)
      return invalidArgument(
          "operator '" + op_.name()->str() +
          "' is not prepared and the stream is being captured: preparing "
          "allocates device memory and loads modules, which capture "
          "forbids; call dynaspa_operator_prepare (or launch once) before "
          "capturing");
    if (Status s = prepare(); !s)
      return s;
  }
  callerBindings_ = buffers_;
  for (size_t i = 0; i < numInputs + numOutputs; ++i) {
    bool isInput = i < numInputs;
    size_t j = isInput ? i : i - numInputs;
    uint32_t index = isInput ? op_.inputs()->Get(j) : op_.outputs()->Get(j);
    void *handle = isInput ? inputs[j] : outputs[j];
    size_t bytes = bufferBytes(*op_.buffers()->Get(index));
    if (!handle && bytes)
      return invalidArgument((isInput ? "input " : "output ") +
                             std::to_string(j) + " is null");
    callerBindings_[index] = {reinterpret_cast<uint64_t>(handle), bytes};
  }
  return executeAll(callerBindings_, queue, -1);
}

Status OperatorExecutor::benchmark(const dynaspa_benchmark_options_t &options,
                                   dynaspa_benchmark_result_t *result) {
  if (options.warmup < 0 || options.reps < 1 || options.rounds < 1)
    return invalidArgument("benchmark needs warmup >= 0, reps >= 1 and "
                           "rounds >= 1");
  if (Status s = prepareHostBuffers(); !s)
    return s;
  *result = dynaspa_benchmark_result_t();
  result->method = backend_.kind() == DYNASPA_DEVICE_CUDA ? "cuda-graph"
                                                          : "opencl-host-clock";
  // A host-selected operator cannot be recorded with its read-back: choose
  // its variant for these inputs once, then time that variant alone.
  int32_t chosen = -1;
  if (!op_.self_dispatch()) {
    result->host_selected = 1;
    if (Status s = execute(prologue_, buffers_, backend_.ownQueue()); !s)
      return s;
    if (Status s = selectVariant(&chosen, &result->tile_count); !s)
      return s;
  }
  EnqueueFn full = [this, chosen](QueueHandle queue) {
    return executeAll(buffers_, queue, chosen);
  };
  // The overhead is the paper's (bitmask, DISTile lists; selection happens
  // in the variant kernels): the prologue without the outputs' zeros, which
  // are timed on their own (the zero fill, or the fill kernels back to back
  // on one queue): they are as large as the output whatever the mask. In
  // the op the fill kernels run on a second queue alongside the prologue
  // and the variants, and a network's memory plan moves a zero fill off the
  // critical path.
  std::vector<Command> fills, launches;
  for (const Command &c : prologue_) {
    bool outputFill =
        c.kind == Command::Kind::ZeroFill &&
        std::find(op_.outputs()->begin(), op_.outputs()->end(), c.buffer) !=
            op_.outputs()->end();
    (outputFill ? fills : launches).push_back(c);
  }
  fills.insert(fills.end(), fillsBefore_.begin(), fillsBefore_.end());
  fills.insert(fills.end(), fillsAlongside_.begin(), fillsAlongside_.end());
  // Inside the op the prologue costs its kernels and the gaps between
  // consecutive kernels of one graph; a graph of its own, replayed, would
  // also cost a graph launch per replay, which the op pays once. So the
  // overhead graph holds kOverheadCopies prologues back to back (each
  // leaves the counters as it found them), and one is its time / copies.
  constexpr int kOverheadCopies = 8;
  EnqueueFn overhead = [this, &launches](QueueHandle queue) {
    for (int i = 0; i < kOverheadCopies; ++i)
      if (Status s = execute(launches, buffers_, queue); !s)
        return s;
    return Status::ok();
  };
  EnqueueFn zeroFill = [this, &fills](QueueHandle queue) {
    return execute(fills, buffers_, queue);
  };
  // An empty part (no prologue kernels, or kernels that write the zeros
  // themselves) costs nothing: it is not timed, since an empty graph's
  // replay would measure only the launch floor.
  GraphOwner fullGraph(backend_), overheadGraph(backend_),
      zeroFillGraph(backend_);
  if (Status s = backend_.captureGraph(full, &fullGraph.graph); !s)
    return s;
  if (!launches.empty())
    if (Status s = backend_.captureGraph(overhead, &overheadGraph.graph); !s)
      return s;
  if (!fills.empty())
    if (Status s = backend_.captureGraph(zeroFill, &zeroFillGraph.graph); !s)
      return s;
  // The prologue's graph last in each round, so that the counts read below
  // are those of the inputs timed (a bundle may zero-fill a count buffer).
  GraphHandle graphs[] = {fullGraph.graph, zeroFillGraph.graph,
                          overheadGraph.graph};
  // Every graph: a graph's first launch also uploads it to the device.
  for (int32_t i = 0; i < options.warmup; ++i)
    for (GraphHandle g : graphs)
      if (g)
        if (Status s = backend_.launchGraph(g); !s)
          return s;
  if (Status s = backend_.synchronize(); !s)
    return s;
  // The parts are far shorter than the op. Replayed R times like it, a
  // ms-long op's small R would leave a few µs of prologue on the timer's
  // floor (about 17 µs per window on an H100), so each part gets as many
  // replays as fill the op's window: at least R, at most kMaxPartReps. One
  // window of R replays of each graph estimates the lengths; an estimate
  // that still holds the floor errs towards fewer replays.
  constexpr int32_t kMaxPartReps = 4096;
  int32_t reps[3] = {options.reps, options.reps, options.reps};
  double estimate[3] = {0, 0, 0};
  for (int g = 0; g < 3; ++g)
    if (graphs[g])
      if (Status s = backend_.timeGraph(graphs[g], options.reps, &estimate[g]);
          !s)
        return s;
  for (int g = 1; g < 3; ++g)
    if (estimate[g] > 0)
      reps[g] = static_cast<int32_t>(std::clamp<double>(
          std::ceil(options.reps * estimate[0] / estimate[g]), options.reps,
          std::max(options.reps, kMaxPartReps)));
  std::vector<double> times[3];
  for (int32_t r = 0; r < options.rounds; ++r) {
    for (int g = 0; g < 3; ++g) {
      double us = 0;
      if (graphs[g])
        if (Status s = backend_.timeGraph(graphs[g], reps[g], &us); !s)
          return s;
      times[g].push_back(us);
    }
  }
  result->median_us = median(times[0]);
  result->min_us = *std::min_element(times[0].begin(), times[0].end());
  result->zero_fill_us = median(times[1]);
  result->overhead_us = median(times[2]) / kOverheadCopies;
  result->overhead_min_us =
      *std::min_element(times[2].begin(), times[2].end()) / kOverheadCopies;
  // The prologue ran last, so the counts are those of the inputs timed.
  return selectVariant(&result->variant, &result->tile_count);
}

Status OperatorExecutor::run(const dynaspa_host_tensor_t *inputs,
                             size_t numInputs,
                             const dynaspa_host_tensor_t *outputs,
                             size_t numOutputs, dynaspa_run_stats_t *stats) {
  if (Status s = checkCounts(numInputs, numOutputs); !s)
    return s;
  if ((numInputs && !inputs) || (numOutputs && !outputs))
    return invalidArgument("null input or output array");
  for (size_t i = 0; i < numInputs; ++i)
    if (Status s = checkHostTensor(inputs[i], op_.inputs()->Get(i),
                                   "input " + std::to_string(i));
        !s)
      return s;
  for (size_t i = 0; i < numOutputs; ++i)
    if (Status s = checkHostTensor(outputs[i], op_.outputs()->Get(i),
                                   "output " + std::to_string(i));
        !s)
      return s;
  if (Status s = prepareHostBuffers(); !s)
    return s;

  std::vector<uint8_t> staging;
  for (size_t i = 0; i < numInputs; ++i) {
    uint32_t index = op_.inputs()->Get(i);
    const fb::Tensor &t = *op_.buffers()->Get(index);
    auto deviceType = static_cast<dynaspa_dtype_t>(t.dtype());
    size_t bytes = bufferBytes(t);
    const void *src = inputs[i].data;
    if (inputs[i].dtype != deviceType) {
      staging.resize(bytes);
      convertElements(src, inputs[i].dtype, staging.data(), deviceType,
                      bytes / dtypeSize(t.dtype()));
      src = staging.data();
    }
    if (bytes)
      if (Status s = backend_.upload(buffers_[index], src, bytes); !s)
        return s;
  }

  int32_t variant = -1;
  int64_t tileCount = 0;
  if (Status s = timed(stats, &variant, &tileCount); !s)
    return s;

  for (size_t i = 0; i < numOutputs; ++i) {
    uint32_t index = op_.outputs()->Get(i);
    const fb::Tensor &t = *op_.buffers()->Get(index);
    auto deviceType = static_cast<dynaspa_dtype_t>(t.dtype());
    size_t bytes = bufferBytes(t);
    if (!bytes)
      continue;
    void *dst = outputs[i].data;
    if (outputs[i].dtype != deviceType) {
      staging.resize(bytes);
      dst = staging.data();
    }
    if (Status s = backend_.download(buffers_[index], dst, bytes); !s)
      return s;
    if (outputs[i].dtype != deviceType)
      convertElements(staging.data(), deviceType, outputs[i].data,
                      outputs[i].dtype, bytes / dtypeSize(t.dtype()));
  }
  return Status::ok();
}

} // namespace dynaspa::runtime
