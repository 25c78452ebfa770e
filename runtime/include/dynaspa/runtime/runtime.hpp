//===- runtime.hpp - C++ RAII layer over the runtime C API ------*- C++ -*-===//
//
// Part of the dynaspa project.
//
//===----------------------------------------------------------------------===//
//
// Header-only convenience for C++ tools and tests: owning handles that free
// themselves, and Status (code + message) instead of code + last-error
// lookups. It adds no behaviour; everything goes through runtime.h, so the C
// API stays the one tested surface. A Network must be destroyed before its
// Bundle, and a Bundle before the Context it was loaded in (the C API
// refuses to destroy either while in use).
//
//===----------------------------------------------------------------------===//

#ifndef DYNASPA_RUNTIME_RUNTIME_HPP
#define DYNASPA_RUNTIME_RUNTIME_HPP

#include "dynaspa/runtime/runtime.h"
#include "dynaspa/runtime/status.h"

#include <string>
#include <utility>
#include <vector>

namespace dynaspa::runtime {

/// The status of a C API call, with the message stored for `context` (or the
/// thread's, for context == nullptr).
inline Status fromC(dynaspa_status_t code, const dynaspa_context_t *context) {
  if (code == DYNASPA_OK)
    return Status::ok();
  return Status(code, dynaspa_context_last_error(context));
}

class Bundle {
public:
  Bundle() = default;
  Bundle(Bundle &&other) noexcept { *this = std::move(other); }
  Bundle &operator=(Bundle &&other) noexcept {
    std::swap(bundle_, other.bundle_);
    std::swap(context_, other.context_);
    return *this;
  }
  Bundle(const Bundle &) = delete;
  Bundle &operator=(const Bundle &) = delete;
  ~Bundle() { dynaspa_bundle_destroy(bundle_); }

  dynaspa_bundle_t *get() const { return bundle_; }
  explicit operator bool() const { return bundle_ != nullptr; }

  size_t operatorCount() const {
    size_t n = 0;
    dynaspa_bundle_operator_count(bundle_, &n);
    return n;
  }

  Status findOperator(const std::string &name, size_t *index) const {
    return fromC(dynaspa_bundle_find_operator(bundle_, name.c_str(), index),
                 context_);
  }

  Status info(size_t op, dynaspa_operator_info_t *out) const {
    return fromC(dynaspa_operator_get_info(bundle_, op, out), context_);
  }

  Status input(size_t op, size_t i, dynaspa_tensor_info_t *out) const {
    return fromC(dynaspa_operator_get_input(bundle_, op, i, out), context_);
  }

  Status output(size_t op, size_t i, dynaspa_tensor_info_t *out) const {
    return fromC(dynaspa_operator_get_output(bundle_, op, i, out), context_);
  }

  Status prepare(size_t op) {
    return fromC(dynaspa_operator_prepare(bundle_, op), context_);
  }

  /// dynaspa_operator_set_variant_lanes.
  Status setVariantLanes(size_t op, bool enable) {
    return fromC(
        dynaspa_operator_set_variant_lanes(bundle_, op, enable ? 1 : 0),
        context_);
  }

  size_t probeCount() const {
    size_t n = 0;
    dynaspa_bundle_probe_count(bundle_, &n);
    return n;
  }

  Status probeInfo(size_t probe, dynaspa_probe_info_t *out) const {
    return fromC(dynaspa_probe_get_info(bundle_, probe, out), context_);
  }

  Status benchmarkProbe(size_t probe, uint32_t grid, int64_t count,
                        uint32_t launches,
                        const dynaspa_benchmark_options_t *options,
                        double *us) {
    return fromC(dynaspa_probe_benchmark(bundle_, probe, grid, count, launches,
                                         options, us),
                 context_);
  }

  Status run(size_t op, const std::vector<dynaspa_host_tensor_t> &inputs,
             const std::vector<dynaspa_host_tensor_t> &outputs,
             dynaspa_run_stats_t *stats = nullptr) {
    return fromC(dynaspa_operator_run(bundle_, op, inputs.data(), inputs.size(),
                                      outputs.data(), outputs.size(), stats),
                 context_);
  }

  /// dynaspa_operator_launch: device handles (CUdeviceptr / cl_mem as
  /// void*), a CUstream / cl_command_queue or nullptr.
  Status launch(size_t op, const std::vector<void *> &inputs,
                const std::vector<void *> &outputs, void *stream = nullptr) {
    return fromC(dynaspa_operator_launch(bundle_, op, inputs.data(),
                                         inputs.size(), outputs.data(),
                                         outputs.size(), stream),
                 context_);
  }

  /// dynaspa_operator_benchmark; `options` may be nullptr (defaults).
  Status benchmark(size_t op, const dynaspa_benchmark_options_t *options,
                   dynaspa_benchmark_result_t *result) {
    return fromC(dynaspa_operator_benchmark(bundle_, op, options, result),
                 context_);
  }

private:
  friend class Context;
  friend class Network;
  dynaspa_bundle_t *bundle_ = nullptr;
  const dynaspa_context_t *context_ = nullptr;
};

/// A chain of operators of one bundle (dynaspa_network_*); destroy it
/// before the bundle.
class Network {
public:
  static Status create(const Bundle &bundle, const std::vector<size_t> &ops,
                       Network *out) {
    Network fresh;
    fresh.context_ = bundle.context_;
    dynaspa_status_t code = dynaspa_network_create(bundle.bundle_, ops.data(),
                                                   ops.size(), &fresh.network_);
    *out = std::move(fresh);
    return fromC(code, bundle.context_);
  }

  Network() = default;
  Network(Network &&other) noexcept { *this = std::move(other); }
  Network &operator=(Network &&other) noexcept {
    std::swap(network_, other.network_);
    std::swap(context_, other.context_);
    return *this;
  }
  Network(const Network &) = delete;
  Network &operator=(const Network &) = delete;
  ~Network() { dynaspa_network_destroy(network_); }

  dynaspa_network_t *get() const { return network_; }
  explicit operator bool() const { return network_ != nullptr; }

  dynaspa_network_info_t info() const {
    dynaspa_network_info_t info = {};
    dynaspa_network_get_info(network_, &info);
    return info;
  }

  Status prepare() {
    return fromC(dynaspa_network_prepare(network_), context_);
  }

  /// `inputs`: every operator's inputs in chain order, input 0 of each
  /// operator after the first empty (data nullptr). `stats`: nullptr or
  /// info().num_ops entries.
  Status run(const std::vector<dynaspa_host_tensor_t> &inputs,
             const dynaspa_host_tensor_t &output,
             dynaspa_run_stats_t *stats = nullptr) {
    return fromC(dynaspa_network_run(network_, inputs.data(), inputs.size(),
                                     &output, stats),
                 context_);
  }

  /// dynaspa_network_launch: device handles as void*, the chained entries
  /// nullptr.
  Status launch(const std::vector<void *> &inputs, void *output,
                void *stream = nullptr) {
    return fromC(dynaspa_network_launch(network_, inputs.data(), inputs.size(),
                                        output, stream),
                 context_);
  }

  Status benchmark(const dynaspa_benchmark_options_t *options,
                   dynaspa_network_benchmark_result_t *result) {
    return fromC(dynaspa_network_benchmark(network_, options, result),
                 context_);
  }

private:
  dynaspa_network_t *network_ = nullptr;
  const dynaspa_context_t *context_ = nullptr;
};

class Context {
public:
  static Status create(dynaspa_device_kind_t kind, Context *out) {
    dynaspa_context_t *context = nullptr;
    if (Status s = fromC(dynaspa_context_create(kind, &context), nullptr); !s)
      return s;
    *out = Context();
    out->context_ = context;
    return Status::ok();
  }

  Context() = default;
  Context(Context &&other) noexcept { *this = std::move(other); }
  Context &operator=(Context &&other) noexcept {
    std::swap(context_, other.context_);
    return *this;
  }
  Context(const Context &) = delete;
  Context &operator=(const Context &) = delete;
  ~Context() { dynaspa_context_destroy(context_); }

  dynaspa_context_t *get() const { return context_; }
  explicit operator bool() const { return context_ != nullptr; }

  dynaspa_device_kind_t kind() const {
    dynaspa_device_kind_t kind = DYNASPA_DEVICE_AUTO;
    dynaspa_context_device_kind(context_, &kind);
    return kind;
  }

  std::string deviceName() const {
    const char *name = nullptr;
    if (dynaspa_context_device_name(context_, &name) != DYNASPA_OK)
      return std::string();
    return name;
  }

  dynaspa_device_info_t deviceInfo() const {
    dynaspa_device_info_t info = {};
    dynaspa_context_device_info(context_, &info);
    return info;
  }

  /// dynaspa_context_native_handles; either pointer may be nullptr.
  Status nativeHandles(void **deviceContext, void **queue) const {
    return fromC(dynaspa_context_native_handles(context_, deviceContext, queue),
                 context_);
  }

  Status loadFile(const std::string &path, Bundle *out) {
    Bundle fresh;
    fresh.context_ = context_;
    dynaspa_status_t code =
        dynaspa_bundle_load_file(context_, path.c_str(), &fresh.bundle_);
    *out = std::move(fresh); // Frees whatever `out` held before.
    return fromC(code, context_);
  }

  Status loadBytes(const void *data, size_t size, Bundle *out) {
    Bundle fresh;
    fresh.context_ = context_;
    dynaspa_status_t code =
        dynaspa_bundle_load_bytes(context_, data, size, &fresh.bundle_);
    *out = std::move(fresh);
    return fromC(code, context_);
  }

private:
  dynaspa_context_t *context_ = nullptr;
};

} // namespace dynaspa::runtime

#endif // DYNASPA_RUNTIME_RUNTIME_HPP
