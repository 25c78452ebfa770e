//===- executor.cpp - run one bundle operator on a backend ----------------===//
//
// Part of the dynaspa project.
//
//===----------------------------------------------------------------------===//
//
// Relies on verifyBundle: indices are in range, enums are known, dims are
// 1..3 and non-zero, so nothing here re-checks the bundle.
//
//===----------------------------------------------------------------------===//

#include "executor.h"
#include "c_enum.h"

#include "dynaspa/runtime/ndarray.h"

#include <algorithm>

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
  if (launch.args()) {
    for (const fb::Arg *arg : *launch.args()) {
      KernelArg ka;
      ka.kind = arg->kind();
      if (ka.kind == fb::ArgKind::Buffer)
        ka.buffer = buffers_[arg->buffer()];
      else
        ka.value = arg->value();
      out->args.push_back(ka);
    }
  }
  return Status::ok();
}

Status OperatorExecutor::prepare() {
  if (prepared_)
    return Status::ok();
  // Allocate into buffers_ as we go so that the destructor frees a partial
  // allocation; a failed prepare leaves prepared_ false and is retried.
  for (DeviceBuffer b : buffers_)
    backend_.release(b);
  buffers_.clear();
  prologue_.clear();
  variants_.clear();
  for (const fb::Tensor *t : *op_.buffers()) {
    DeviceBuffer b;
    if (Status s = backend_.allocate(bufferBytes(*t), &b); !s)
      return s;
    buffers_.push_back(b);
  }
  if (op_.zero_fill()) {
    for (uint32_t index : *op_.zero_fill()) {
      Command c;
      c.kind = Command::Kind::ZeroFill;
      c.buffer = index;
      prologue_.push_back(c);
    }
  }
  if (op_.prologue()) {
    for (const fb::Launch *launch : *op_.prologue()) {
      Command c;
      if (Status s = buildLaunch(*launch, &c); !s)
        return s;
      prologue_.push_back(std::move(c));
    }
  }
  for (const fb::Variant *v : *op_.variants()) {
    VariantPlan plan;
    plan.countBuffer = v->count_buffer();
    plan.minTiles = v->min_tiles();
    plan.maxTiles = v->max_tiles();
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
  prepared_ = true;
  return Status::ok();
}

Status OperatorExecutor::execute(const std::vector<Command> &commands) {
  for (const Command &c : commands) {
    Status s =
        c.kind == Command::Kind::ZeroFill
            ? backend_.fillZero(buffers_[c.buffer], buffers_[c.buffer].bytes)
            : backend_.launch(c.kernel, c.dims, c.args);
    if (!s)
      return s;
  }
  return Status::ok();
}

Status OperatorExecutor::selectVariant(int32_t *variant, int64_t *tileCount) {
  // Several variants usually share a granularity and thus a count buffer:
  // read each buffer once.
  std::map<uint32_t, int32_t> counts;
  for (size_t v = 0; v < variants_.size(); ++v) {
    const VariantPlan &plan = variants_[v];
    auto it = counts.find(plan.countBuffer);
    if (it == counts.end()) {
      int32_t count = 0;
      if (Status s = backend_.download(buffers_[plan.countBuffer], &count,
                                       sizeof(count));
          !s)
        return s;
      it = counts.emplace(plan.countBuffer, count).first;
    }
    int64_t n = it->second;
    if (n >= plan.minTiles && (plan.maxTiles < 0 || n <= plan.maxTiles)) {
      *variant = static_cast<int32_t>(v);
      *tileCount = n;
      return Status::ok();
    }
  }
  // Only a negative count escapes the unbounded last variant: a kernel bug.
  return Status(DYNASPA_DEVICE_ERROR,
                "no variant accepts the tile count " +
                    std::to_string(counts[variants_.back().countBuffer]) +
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
  if (stats)
    if (Status s = backend_.recordEvent(events_[0]); !s)
      return s;
  if (Status s = execute(prologue_); !s)
    return s;
  if (stats)
    if (Status s = backend_.recordEvent(events_[1]); !s)
      return s;
  if (Status s = selectVariant(variant, tileCount); !s)
    return s;
  if (Status s = execute(variants_[*variant].commands); !s)
    return s;
  if (!stats)
    return Status::ok();
  if (Status s = backend_.recordEvent(events_[2]); !s)
    return s;
  stats->variant = *variant;
  stats->tile_count = *tileCount;
  if (Status s =
          backend_.elapsedMs(events_[0], events_[1], &stats->prologue_ms);
      !s)
    return s;
  return backend_.elapsedMs(events_[1], events_[2], &stats->variant_ms);
}

Status OperatorExecutor::run(const dynaspa_host_tensor_t *inputs,
                             size_t numInputs,
                             const dynaspa_host_tensor_t *outputs,
                             size_t numOutputs, dynaspa_run_stats_t *stats) {
  size_t wantInputs = op_.inputs() ? op_.inputs()->size() : 0;
  size_t wantOutputs = op_.outputs()->size();
  if (numInputs != wantInputs || numOutputs != wantOutputs)
    return invalidArgument("operator '" + op_.name()->str() + "' takes " +
                           std::to_string(wantInputs) + " inputs and " +
                           std::to_string(wantOutputs) + " outputs, got " +
                           std::to_string(numInputs) + " and " +
                           std::to_string(numOutputs));
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
  if (Status s = prepare(); !s)
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
