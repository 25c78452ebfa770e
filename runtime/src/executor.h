//===- executor.h - run one bundle operator on a backend --------*- C++ -*-===//
//
// Part of the dynaspa project.
//
//===----------------------------------------------------------------------===//
//
// An operator runs as data, not code: prepare() turns the bundle's tables
// into lists of Commands with every kernel built and every argument resolved
// to a device handle, and run() walks those lists. The prologue list (zero
// fills, bitmask and DISTile kernels) and each variant's list are exactly
// what a later change captures into CUDA graphs (or replays without the host
// round trip that reads the tile counts today).
//
//===----------------------------------------------------------------------===//

#ifndef DYNASPA_RUNTIME_SRC_EXECUTOR_H
#define DYNASPA_RUNTIME_SRC_EXECUTOR_H

#include "backend.h"

#include <map>
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

/// One step of an operator's device work.
struct Command {
  enum class Kind { ZeroFill, Launch };
  Kind kind = Kind::Launch;
  /// ZeroFill: the buffer to clear.
  uint32_t buffer = 0;
  /// Launch: the kernel, its configuration and its resolved arguments.
  KernelHandle kernel = nullptr;
  LaunchDims dims;
  std::vector<KernelArg> args;
};

struct VariantPlan {
  uint32_t countBuffer = 0;
  int64_t minTiles = 0;
  /// -1: unbounded.
  int64_t maxTiles = -1;
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

  /// Allocates the device buffers and builds the command lists; idempotent.
  Status prepare();

  Status run(const dynaspa_host_tensor_t *inputs, size_t numInputs,
             const dynaspa_host_tensor_t *outputs, size_t numOutputs,
             dynaspa_run_stats_t *stats);

private:
  Status buildLaunch(const bundle::Launch &launch, Command *out);
  Status checkHostTensor(const dynaspa_host_tensor_t &host, uint32_t buffer,
                         const std::string &what) const;
  Status execute(const std::vector<Command> &commands);
  Status selectVariant(int32_t *variant, int64_t *tileCount);
  Status timed(dynaspa_run_stats_t *stats, int32_t *variant,
               int64_t *tileCount);

  Backend &backend_;
  ModuleCache &modules_;
  const bundle::Operator &op_;
  bool prepared_ = false;
  std::vector<DeviceBuffer> buffers_;
  std::vector<Command> prologue_;
  std::vector<VariantPlan> variants_;
  /// start, after prologue, end; created on the first timed run.
  std::array<EventHandle, 3> events_ = {nullptr, nullptr, nullptr};
};

} // namespace dynaspa::runtime

#endif // DYNASPA_RUNTIME_SRC_EXECUTOR_H
