//===- c_api.cpp - the extern "C" surface of the runtime ------------------===//
//
// Part of the dynaspa project.
//
//===----------------------------------------------------------------------===//
//
// Thin: argument checks, handle bookkeeping and turning Status into a code
// plus a stored message. No exception may cross the C boundary, so each entry
// point that allocates catches std::bad_alloc (and, defensively, anything
// else) and reports it as a status.
//
//===----------------------------------------------------------------------===//

#include "dynaspa/runtime/runtime.h"

#include "backend.h"
#include "c_enum.h"
#include "executor.h"
#include "network.h"
#include "probe.h"

#include <cstring>
#include <fstream>
#include <iterator>
#include <limits>
#include <memory>
#include <new>

using namespace dynaspa::runtime;
namespace fb = ::dynaspa::bundle;

struct dynaspa_context {
  std::unique_ptr<Backend> backend;
  std::string lastError;
  size_t liveBundles = 0;
};

struct dynaspa_bundle {
  dynaspa_context *context = nullptr;
  /// The verified bytes; uint64_t storage keeps them 8-byte aligned.
  std::vector<uint64_t> storage;
  const fb::Bundle *root = nullptr;
  std::unique_ptr<ModuleCache> modules;
  /// Created on first use, one per operator. Declared after `modules` so
  /// they are destroyed (and free their buffers) first.
  std::vector<std::unique_ptr<OperatorExecutor>> executors;
  /// The calibration probes' runner, created on first use.
  std::unique_ptr<ProbeBench> probes;
  /// Networks use the executors: the bundle refuses to go first.
  size_t liveNetworks = 0;
};

struct dynaspa_network {
  dynaspa_bundle *bundle = nullptr;
  std::unique_ptr<NetworkExecutor> executor;
};

namespace {

thread_local std::string threadLastError;

dynaspa_status_t report(dynaspa_context *context, const Status &s) {
  if (!s) {
    try {
      (context ? context->lastError : threadLastError) = s.message();
    } catch (...) {
      // Keep the code even when the message cannot be stored.
    }
  }
  return s.code();
}

/// Runs `body` and converts exceptions into statuses.
template <typename F>
dynaspa_status_t guarded(dynaspa_context *context, F &&body) {
  try {
    return report(context, body());
  } catch (const std::bad_alloc &) {
    return report(context, Status(DYNASPA_OUT_OF_MEMORY, "out of host memory"));
  } catch (const std::exception &e) {
    return report(context, Status(DYNASPA_DEVICE_ERROR,
                                  std::string("internal error: ") + e.what()));
  } catch (...) {
    return report(context, Status(DYNASPA_DEVICE_ERROR, "internal error"));
  }
}

Status loadBundle(dynaspa_context *context, const void *data, size_t size,
                  dynaspa_bundle_t **out) {
  auto bundle = std::make_unique<dynaspa_bundle>();
  bundle->context = context;
  bundle->storage.resize((size + 7) / 8);
  if (size)
    std::memcpy(bundle->storage.data(), data, size);
  if (Status s = verifyBundle(
          reinterpret_cast<const uint8_t *>(bundle->storage.data()), size,
          &bundle->root);
      !s)
    return s;
  bundle->modules =
      std::make_unique<ModuleCache>(*context->backend, *bundle->root);
  size_t numOps =
      bundle->root->operators() ? bundle->root->operators()->size() : 0;
  bundle->executors.resize(numOps);
  ++context->liveBundles;
  *out = bundle.release();
  return Status::ok();
}

const fb::Operator *getOperator(const dynaspa_bundle_t *bundle, size_t op) {
  if (!bundle->root->operators() || op >= bundle->root->operators()->size())
    return nullptr;
  return bundle->root->operators()->Get(static_cast<uint32_t>(op));
}

Status noOperator(size_t op) {
  return invalidArgument("operator index " + std::to_string(op) +
                         " out of range");
}

Status getExecutor(dynaspa_bundle_t *bundle, size_t op,
                   OperatorExecutor **out) {
  const fb::Operator *fop = getOperator(bundle, op);
  if (!fop)
    return noOperator(op);
  auto &slot = bundle->executors[op];
  if (!slot)
    slot = std::make_unique<OperatorExecutor>(*bundle->context->backend,
                                              *bundle->modules, *fop);
  *out = slot.get();
  return Status::ok();
}

void fillTensorInfo(const fb::Tensor &t, dynaspa_tensor_info_t *out) {
  out->name = t.name() ? t.name()->c_str() : "";
  out->dtype = static_cast<dynaspa_dtype_t>(t.dtype());
  out->rank = static_cast<int32_t>(t.shape()->size());
  out->shape = t.shape()->data();
}

const char *kNullArgument = "null argument";

} // namespace

extern "C" {

const char *dynaspa_status_string(dynaspa_status_t status) {
  switch (cEnumValue(status)) {
  case DYNASPA_OK:
    return "DYNASPA_OK";
  case DYNASPA_INVALID_ARGUMENT:
    return "DYNASPA_INVALID_ARGUMENT";
  case DYNASPA_BAD_BUNDLE:
    return "DYNASPA_BAD_BUNDLE";
  case DYNASPA_VERSION_MISMATCH:
    return "DYNASPA_VERSION_MISMATCH";
  case DYNASPA_SHAPE_MISMATCH:
    return "DYNASPA_SHAPE_MISMATCH";
  case DYNASPA_DTYPE_MISMATCH:
    return "DYNASPA_DTYPE_MISMATCH";
  case DYNASPA_NO_DEVICE:
    return "DYNASPA_NO_DEVICE";
  case DYNASPA_DEVICE_ERROR:
    return "DYNASPA_DEVICE_ERROR";
  case DYNASPA_OUT_OF_MEMORY:
    return "DYNASPA_OUT_OF_MEMORY";
  case DYNASPA_UNSUPPORTED:
    return "DYNASPA_UNSUPPORTED";
  case DYNASPA_IO_ERROR:
    return "DYNASPA_IO_ERROR";
  }
  return "DYNASPA_UNKNOWN_STATUS";
}

const char *dynaspa_context_last_error(const dynaspa_context_t *context) {
  return context ? context->lastError.c_str() : threadLastError.c_str();
}

dynaspa_status_t dynaspa_context_create(dynaspa_device_kind_t kind,
                                        dynaspa_context_t **out_context) {
  return guarded(nullptr, [&]() -> Status {
    if (!out_context)
      return invalidArgument(kNullArgument);
    *out_context = nullptr;
    std::unique_ptr<Backend> backend;
    Status s;
    switch (cEnumValue(kind)) {
    case DYNASPA_DEVICE_CUDA:
      s = createCudaBackend(&backend);
      break;
    case DYNASPA_DEVICE_OPENCL:
      s = createOpenCLBackend(&backend);
      break;
    case DYNASPA_DEVICE_AUTO: {
      s = createCudaBackend(&backend);
      if (!s) {
        Status cl = createOpenCLBackend(&backend);
        if (!cl)
          s = Status(cl.code(), "no usable device. CUDA: " + s.message() +
                                    "; OpenCL: " + cl.message());
        else
          s = cl;
      }
      break;
    }
    default:
      return invalidArgument("unknown device kind " +
                             std::to_string(cEnumValue(kind)));
    }
    if (!s)
      return s;
    auto context = std::make_unique<dynaspa_context>();
    context->backend = std::move(backend);
    *out_context = context.release();
    return Status::ok();
  });
}

dynaspa_status_t dynaspa_context_destroy(dynaspa_context_t *context) {
  if (!context)
    return DYNASPA_OK;
  if (context->liveBundles)
    return report(context,
                  invalidArgument(std::to_string(context->liveBundles) +
                                  " bundles still use this context"));
  delete context;
  return DYNASPA_OK;
}

dynaspa_status_t dynaspa_context_device_kind(const dynaspa_context_t *context,
                                             dynaspa_device_kind_t *out_kind) {
  if (!context || !out_kind)
    return report(nullptr, invalidArgument(kNullArgument));
  *out_kind = context->backend->kind();
  return DYNASPA_OK;
}

dynaspa_status_t dynaspa_context_device_name(const dynaspa_context_t *context,
                                             const char **out_name) {
  if (!context || !out_name)
    return report(nullptr, invalidArgument(kNullArgument));
  *out_name = context->backend->deviceName().c_str();
  return DYNASPA_OK;
}

dynaspa_status_t dynaspa_context_device_info(const dynaspa_context_t *context,
                                             dynaspa_device_info_t *out_info) {
  if (!context || !out_info)
    return report(nullptr, invalidArgument(kNullArgument));
  DeviceInfo info = context->backend->deviceInfo();
  out_info->compute_units = info.computeUnits;
  out_info->max_threads_per_compute_unit = info.maxThreadsPerComputeUnit;
  out_info->max_threads_per_block = info.maxThreadsPerBlock;
  return DYNASPA_OK;
}

dynaspa_status_t
dynaspa_context_native_handles(const dynaspa_context_t *context,
                               void **out_device_context, void **out_queue) {
  if (!context)
    return report(nullptr, invalidArgument(kNullArgument));
  if (out_device_context)
    *out_device_context = context->backend->nativeContext();
  if (out_queue)
    *out_queue = context->backend->ownQueue();
  return DYNASPA_OK;
}

dynaspa_status_t dynaspa_bundle_load_file(dynaspa_context_t *context,
                                          const char *path,
                                          dynaspa_bundle_t **out_bundle) {
  return guarded(context, [&]() -> Status {
    if (!context || !path || !out_bundle)
      return invalidArgument(kNullArgument);
    *out_bundle = nullptr;
    std::ifstream in(path, std::ios::binary);
    if (!in)
      return Status(DYNASPA_IO_ERROR,
                    std::string("cannot open bundle '") + path + "'");
    std::vector<char> bytes((std::istreambuf_iterator<char>(in)),
                            std::istreambuf_iterator<char>());
    if (in.bad())
      return Status(DYNASPA_IO_ERROR,
                    std::string("cannot read bundle '") + path + "'");
    Status s = loadBundle(context, bytes.data(), bytes.size(), out_bundle);
    if (!s)
      return Status(s.code(), std::string(path) + ": " + s.message());
    return s;
  });
}

dynaspa_status_t dynaspa_bundle_load_bytes(dynaspa_context_t *context,
                                           const void *data, size_t size,
                                           dynaspa_bundle_t **out_bundle) {
  return guarded(context, [&]() -> Status {
    if (!context || !out_bundle || (!data && size))
      return invalidArgument(kNullArgument);
    *out_bundle = nullptr;
    return loadBundle(context, data, size, out_bundle);
  });
}

dynaspa_status_t dynaspa_bundle_destroy(dynaspa_bundle_t *bundle) {
  if (!bundle)
    return DYNASPA_OK;
  if (bundle->liveNetworks)
    return report(bundle->context,
                  invalidArgument(std::to_string(bundle->liveNetworks) +
                                  " networks still use this bundle"));
  --bundle->context->liveBundles;
  delete bundle;
  return DYNASPA_OK;
}

dynaspa_status_t dynaspa_bundle_operator_count(const dynaspa_bundle_t *bundle,
                                               size_t *out_count) {
  if (!bundle || !out_count)
    return report(nullptr, invalidArgument(kNullArgument));
  *out_count = bundle->executors.size();
  return DYNASPA_OK;
}

dynaspa_status_t dynaspa_bundle_find_operator(const dynaspa_bundle_t *bundle,
                                              const char *name,
                                              size_t *out_index) {
  if (!bundle || !name || !out_index)
    return report(nullptr, invalidArgument(kNullArgument));
  return guarded(bundle->context, [&]() -> Status {
    for (size_t i = 0; i < bundle->executors.size(); ++i) {
      if (getOperator(bundle, i)->name()->str() == name) {
        *out_index = i;
        return Status::ok();
      }
    }
    return invalidArgument(std::string("no operator named '") + name + "'");
  });
}

dynaspa_status_t dynaspa_operator_get_info(const dynaspa_bundle_t *bundle,
                                           size_t op,
                                           dynaspa_operator_info_t *out_info) {
  if (!bundle || !out_info)
    return report(nullptr, invalidArgument(kNullArgument));
  const fb::Operator *fop = getOperator(bundle, op);
  if (!fop)
    return report(bundle->context, noOperator(op));
  out_info->name = fop->name()->c_str();
  out_info->kind = static_cast<dynaspa_op_kind_t>(fop->kind());
  out_info->num_inputs = fop->inputs() ? fop->inputs()->size() : 0;
  out_info->num_outputs = fop->outputs()->size();
  out_info->num_variants = fop->variants()->size();
  out_info->num_tf32_variants = countTf32Variants(*fop);
  return DYNASPA_OK;
}

dynaspa_status_t dynaspa_operator_get_input(const dynaspa_bundle_t *bundle,
                                            size_t op, size_t i,
                                            dynaspa_tensor_info_t *out_info) {
  if (!bundle || !out_info)
    return report(nullptr, invalidArgument(kNullArgument));
  const fb::Operator *fop = getOperator(bundle, op);
  if (!fop)
    return report(bundle->context, noOperator(op));
  if (!fop->inputs() || i >= fop->inputs()->size())
    return report(
        bundle->context,
        invalidArgument("input index " + std::to_string(i) + " out of range"));
  fillTensorInfo(
      *fop->buffers()->Get(fop->inputs()->Get(static_cast<uint32_t>(i))),
      out_info);
  return DYNASPA_OK;
}

dynaspa_status_t dynaspa_operator_get_output(const dynaspa_bundle_t *bundle,
                                             size_t op, size_t i,
                                             dynaspa_tensor_info_t *out_info) {
  if (!bundle || !out_info)
    return report(nullptr, invalidArgument(kNullArgument));
  const fb::Operator *fop = getOperator(bundle, op);
  if (!fop)
    return report(bundle->context, noOperator(op));
  if (i >= fop->outputs()->size())
    return report(
        bundle->context,
        invalidArgument("output index " + std::to_string(i) + " out of range"));
  fillTensorInfo(
      *fop->buffers()->Get(fop->outputs()->Get(static_cast<uint32_t>(i))),
      out_info);
  return DYNASPA_OK;
}

dynaspa_status_t dynaspa_operator_prepare(dynaspa_bundle_t *bundle, size_t op) {
  if (!bundle)
    return report(nullptr, invalidArgument(kNullArgument));
  return guarded(bundle->context, [&]() -> Status {
    OperatorExecutor *executor = nullptr;
    if (Status s = getExecutor(bundle, op, &executor); !s)
      return s;
    return executor->prepare();
  });
}

dynaspa_status_t dynaspa_operator_set_variant_lanes(dynaspa_bundle_t *bundle,
                                                    size_t op, int enable) {
  if (!bundle)
    return report(nullptr, invalidArgument(kNullArgument));
  return guarded(bundle->context, [&]() -> Status {
    OperatorExecutor *executor = nullptr;
    if (Status s = getExecutor(bundle, op, &executor); !s)
      return s;
    return executor->setVariantLanes(enable != 0);
  });
}

dynaspa_status_t dynaspa_operator_run(dynaspa_bundle_t *bundle, size_t op,
                                      const dynaspa_host_tensor_t *inputs,
                                      size_t num_inputs,
                                      const dynaspa_host_tensor_t *outputs,
                                      size_t num_outputs,
                                      dynaspa_run_stats_t *stats) {
  if (!bundle)
    return report(nullptr, invalidArgument(kNullArgument));
  return guarded(bundle->context, [&]() -> Status {
    OperatorExecutor *executor = nullptr;
    if (Status s = getExecutor(bundle, op, &executor); !s)
      return s;
    return executor->run(inputs, num_inputs, outputs, num_outputs, stats);
  });
}

dynaspa_status_t dynaspa_operator_launch(dynaspa_bundle_t *bundle, size_t op,
                                         void *const *inputs, size_t num_inputs,
                                         void *const *outputs,
                                         size_t num_outputs, void *stream) {
  if (!bundle)
    return report(nullptr, invalidArgument(kNullArgument));
  return guarded(bundle->context, [&]() -> Status {
    OperatorExecutor *executor = nullptr;
    if (Status s = getExecutor(bundle, op, &executor); !s)
      return s;
    return executor->launch(inputs, num_inputs, outputs, num_outputs, stream);
  });
}

dynaspa_status_t
dynaspa_operator_benchmark(dynaspa_bundle_t *bundle, size_t op,
                           const dynaspa_benchmark_options_t *options,
                           dynaspa_benchmark_result_t *result) {
  if (!bundle || !result)
    return report(nullptr, invalidArgument(kNullArgument));
  return guarded(bundle->context, [&]() -> Status {
    OperatorExecutor *executor = nullptr;
    if (Status s = getExecutor(bundle, op, &executor); !s)
      return s;
    dynaspa_benchmark_options_t defaults = {10, 100, 10};
    return executor->benchmark(options ? *options : defaults, result);
  });
}

dynaspa_status_t dynaspa_network_create(dynaspa_bundle_t *bundle,
                                        const size_t *ops, size_t num_ops,
                                        dynaspa_network_t **out_network) {
  if (!bundle)
    return report(nullptr, invalidArgument(kNullArgument));
  return guarded(bundle->context, [&]() -> Status {
    if (!out_network || (!ops && num_ops))
      return invalidArgument(kNullArgument);
    *out_network = nullptr;
    std::vector<OperatorExecutor *> executors;
    for (size_t k = 0; k < num_ops; ++k) {
      OperatorExecutor *executor = nullptr;
      if (Status s = getExecutor(bundle, ops[k], &executor); !s)
        return Status(s.code(), "network operator " + std::to_string(k) + ": " +
                                    s.message());
      executors.push_back(executor);
    }
    auto network = std::make_unique<dynaspa_network>();
    network->bundle = bundle;
    if (Status s =
            NetworkExecutor::create(*bundle->context->backend,
                                    std::move(executors), &network->executor);
        !s)
      return s;
    ++bundle->liveNetworks;
    *out_network = network.release();
    return Status::ok();
  });
}

dynaspa_status_t dynaspa_network_destroy(dynaspa_network_t *network) {
  if (!network)
    return DYNASPA_OK;
  --network->bundle->liveNetworks;
  delete network;
  return DYNASPA_OK;
}

dynaspa_status_t dynaspa_network_get_info(const dynaspa_network_t *network,
                                          dynaspa_network_info_t *out_info) {
  if (!network || !out_info)
    return report(nullptr, invalidArgument(kNullArgument));
  *out_info = network->executor->info();
  return DYNASPA_OK;
}

dynaspa_status_t dynaspa_network_prepare(dynaspa_network_t *network) {
  if (!network)
    return report(nullptr, invalidArgument(kNullArgument));
  return guarded(network->bundle->context,
                 [&]() { return network->executor->prepare(); });
}

dynaspa_status_t dynaspa_network_run(dynaspa_network_t *network,
                                     const dynaspa_host_tensor_t *inputs,
                                     size_t num_inputs,
                                     const dynaspa_host_tensor_t *output,
                                     dynaspa_run_stats_t *stats) {
  if (!network)
    return report(nullptr, invalidArgument(kNullArgument));
  return guarded(network->bundle->context, [&]() {
    return network->executor->run(inputs, num_inputs, output, stats);
  });
}

dynaspa_status_t dynaspa_network_launch(dynaspa_network_t *network,
                                        void *const *inputs, size_t num_inputs,
                                        void *output, void *stream) {
  if (!network)
    return report(nullptr, invalidArgument(kNullArgument));
  return guarded(network->bundle->context, [&]() {
    return network->executor->launch(inputs, num_inputs, output, stream);
  });
}

dynaspa_status_t
dynaspa_network_benchmark(dynaspa_network_t *network,
                          const dynaspa_benchmark_options_t *options,
                          dynaspa_network_benchmark_result_t *result) {
  if (!network || !result)
    return report(nullptr, invalidArgument(kNullArgument));
  return guarded(network->bundle->context, [&]() {
    dynaspa_benchmark_options_t defaults = {10, 100, 10};
    return network->executor->benchmark(options ? *options : defaults, result);
  });
}

dynaspa_status_t dynaspa_bundle_probe_count(const dynaspa_bundle_t *bundle,
                                            size_t *out_count) {
  if (!bundle || !out_count)
    return report(nullptr, invalidArgument(kNullArgument));
  *out_count = bundle->root->probes() ? bundle->root->probes()->size() : 0;
  return DYNASPA_OK;
}

static_assert(DYNASPA_PROBE_FMA == static_cast<int>(fb::ProbeKind::Fma) &&
                  DYNASPA_PROBE_FMA_CHAIN ==
                      static_cast<int>(fb::ProbeKind::FmaChain) &&
                  DYNASPA_PROBE_SHARED ==
                      static_cast<int>(fb::ProbeKind::Shared) &&
                  DYNASPA_PROBE_COPY == static_cast<int>(fb::ProbeKind::Copy),
              "dynaspa_probe_kind_t must match bundle.fbs ProbeKind");

dynaspa_status_t dynaspa_probe_get_info(const dynaspa_bundle_t *bundle,
                                        size_t probe,
                                        dynaspa_probe_info_t *out_info) {
  if (!bundle || !out_info)
    return report(nullptr, invalidArgument(kNullArgument));
  const auto *probes = bundle->root->probes();
  if (!probes || probe >= probes->size())
    return report(bundle->context,
                  invalidArgument("probe index " + std::to_string(probe) +
                                  " out of range"));
  const fb::Probe *p = probes->Get(static_cast<uint32_t>(probe));
  out_info->kind = static_cast<dynaspa_probe_kind_t>(p->kind());
  out_info->kernel = p->kernel()->c_str();
  out_info->block = p->block();
  out_info->elements = p->elements();
  out_info->work = p->work();
  return DYNASPA_OK;
}

dynaspa_status_t dynaspa_probe_benchmark(
    dynaspa_bundle_t *bundle, size_t probe, uint32_t grid, int64_t count,
    uint32_t launches, const dynaspa_benchmark_options_t *options,
    double *out_us) {
  if (!bundle || !out_us)
    return report(nullptr, invalidArgument(kNullArgument));
  return guarded(bundle->context, [&]() -> Status {
    if (!bundle->probes)
      bundle->probes = std::make_unique<ProbeBench>(
          *bundle->context->backend, *bundle->modules, *bundle->root);
    if (probe > std::numeric_limits<uint32_t>::max())
      return invalidArgument("probe index out of range");
    dynaspa_benchmark_options_t defaults = {10, 100, 10};
    return bundle->probes->benchmark(static_cast<uint32_t>(probe), grid, count,
                                     launches, options ? *options : defaults,
                                     out_us);
  });
}

} // extern "C"
