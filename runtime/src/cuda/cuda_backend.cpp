//===- cuda_backend.cpp - CUDA driver API backend -------------------------===//
//
// Part of the dynaspa project.
//
//===----------------------------------------------------------------------===//
//
// Device 0's primary context -- the one the CUDA runtime, and so PyTorch and
// CuPy, use -- so that their CUdeviceptr and CUstream values are valid here
// and dynaspa_operator_launch can run on them. Every entry point makes that
// context current for its duration and restores the caller's afterwards
// (ScopedContext), leaving a caller's thread state as it found it.
//
// The runtime's own work (dynaspa_operator_run, benchmarks) goes on one
// non-blocking stream, copies too, so that ordering is explicit and the same
// stream can be captured into a CUDA graph. Networks add a side stream for
// their zero fills, ordered with events (a fork/join that capture records). Modules prefer a cubin built for
// the device's exact sm_XY, then PTX for the highest sm_XY not above the
// device (the driver JIT-compiles it), trying the next candidate when one
// fails to load.
//
//===----------------------------------------------------------------------===//

#include "../backend.h"
#include "cuda_symbols.h"

#include <dlfcn.h>

#include <algorithm>
#include <cctype>
#include <cstring>

namespace dynaspa::runtime {
namespace {

namespace fb = ::dynaspa::bundle;

#define DSP_STR2(x) #x
#define DSP_STR(x) DSP_STR2(x)

/// Parses "sm_87" / "sm_90a" / "compute_90" into 87 / 90 / 90; -1 otherwise.
int chipNumber(const flatbuffers::String *chip) {
  if (!chip)
    return -1;
  std::string s = chip->str();
  size_t pos = s.find('_');
  if (pos == std::string::npos || pos + 1 >= s.size() ||
      !std::isdigit(static_cast<unsigned char>(s[pos + 1])))
    return -1;
  int n = 0;
  // Bounded so that a hostile chip string cannot overflow.
  for (++pos; pos < s.size() && n < 100000 &&
              std::isdigit(static_cast<unsigned char>(s[pos]));
       ++pos)
    n = n * 10 + (s[pos] - '0');
  return n;
}

class CudaBackend;

/// Makes the backend's context current on the calling thread for one call
/// and restores the previous one (possibly none) on destruction. Cheap: both
/// are thread-local driver calls, and nothing is switched when PyTorch or
/// CuPy already has the primary context current.
class ScopedContext {
public:
  explicit ScopedContext(CudaBackend &backend);
  ~ScopedContext();
  ScopedContext(const ScopedContext &) = delete;
  ScopedContext &operator=(const ScopedContext &) = delete;

  explicit operator bool() const { return static_cast<bool>(status_); }
  const Status &status() const { return status_; }

private:
  CudaBackend &backend_;
  CUcontext previous_ = nullptr;
  bool restore_ = false;
  Status status_;
};

class CudaBackend final : public Backend {
public:
  ~CudaBackend() override;

  Status init();

  dynaspa_device_kind_t kind() const override { return DYNASPA_DEVICE_CUDA; }
  const std::string &deviceName() const override { return name_; }
  DeviceInfo deviceInfo() const override { return info_; }

  QueueHandle ownQueue() const override { return stream_; }
  QueueHandle callerQueue(void *stream) const override { return stream; }
  void *nativeContext() const override { return context_; }

  Status isCapturing(QueueHandle queue, bool *capturing) override {
    ScopedContext bound(*this);
    if (!bound)
      return bound.status();
    CUstreamCaptureStatus status = CU_STREAM_CAPTURE_STATUS_NONE;
    if (Status s = check(syms_.cuStreamIsCapturing(stream(queue), &status),
                         "cuStreamIsCapturing");
        !s)
      return s;
    *capturing = status != CU_STREAM_CAPTURE_STATUS_NONE;
    return Status::ok();
  }

  Status allocate(size_t bytes, DeviceBuffer *out) override {
    ScopedContext bound(*this);
    if (!bound)
      return bound.status();
    CUdeviceptr ptr = 0;
    // Zero-sized allocations fail in CUDA; keep every argument valid.
    if (Status s =
            check(syms_.cuMemAlloc(&ptr, bytes ? bytes : 4), "cuMemAlloc");
        !s)
      return s;
    out->handle = ptr;
    out->bytes = bytes;
    return Status::ok();
  }

  // Releases cannot report failure; binding first makes them work from any
  // thread, as the allocating calls do.
  void release(DeviceBuffer buffer) override {
    ScopedContext bound(*this);
    if (buffer.handle && bound)
      syms_.cuMemFree(static_cast<CUdeviceptr>(buffer.handle));
  }

  Status upload(DeviceBuffer dst, const void *src, size_t bytes) override {
    ScopedContext bound(*this);
    if (!bound)
      return bound.status();
    if (Status s =
            check(syms_.cuMemcpyHtoDAsync(static_cast<CUdeviceptr>(dst.handle),
                                          src, bytes, stream_),
                  "cuMemcpyHtoDAsync");
        !s)
      return s;
    // `src` is pageable and may be freed on return.
    return synchronize();
  }

  Status download(DeviceBuffer src, void *dst, size_t bytes) override {
    ScopedContext bound(*this);
    if (!bound)
      return bound.status();
    if (Status s = check(
            syms_.cuMemcpyDtoHAsync(dst, static_cast<CUdeviceptr>(src.handle),
                                    bytes, stream_),
            "cuMemcpyDtoHAsync");
        !s)
      return s;
    return synchronize();
  }

  Status fillZero(DeviceBuffer buffer, size_t bytes,
                  QueueHandle queue) override {
    if (bytes == 0)
      return Status::ok();
    ScopedContext bound(*this);
    if (!bound)
      return bound.status();
    return check(syms_.cuMemsetD8Async(static_cast<CUdeviceptr>(buffer.handle),
                                       0, bytes, stream(queue)),
                 "cuMemsetD8Async");
  }

  Status loadModule(const fb::Module &module, ModuleHandle *out) override;

  void unloadModule(ModuleHandle module) override {
    ScopedContext bound(*this);
    if (bound)
      syms_.cuModuleUnload(static_cast<CUmodule>(module));
  }

  Status getKernel(ModuleHandle module, const std::string &name,
                   KernelHandle *out) override {
    ScopedContext bound(*this);
    if (!bound)
      return bound.status();
    CUfunction f = nullptr;
    if (Status s = check(syms_.cuModuleGetFunction(
                             &f, static_cast<CUmodule>(module), name.c_str()),
                         ("cuModuleGetFunction '" + name + "'").c_str());
        !s)
      return s;
    *out = f;
    return Status::ok();
  }

  // Functions belong to their module.
  void releaseKernel(KernelHandle) override {}

  Status launch(KernelHandle kernel, const LaunchDims &dims,
                const std::vector<KernelArg> &args, QueueHandle queue) override;

  Status createEvent(EventHandle *out) override {
    ScopedContext bound(*this);
    if (!bound)
      return bound.status();
    CUevent e = nullptr;
    if (Status s =
            check(syms_.cuEventCreate(&e, CU_EVENT_DEFAULT), "cuEventCreate");
        !s)
      return s;
    *out = e;
    return Status::ok();
  }

  void destroyEvent(EventHandle event) override {
    ScopedContext bound(*this);
    if (bound)
      syms_.cuEventDestroy(static_cast<CUevent>(event));
  }

  Status recordEvent(EventHandle event) override {
    ScopedContext bound(*this);
    if (!bound)
      return bound.status();
    return check(syms_.cuEventRecord(static_cast<CUevent>(event), stream_),
                 "cuEventRecord");
  }

  Status createSyncEvent(EventHandle *out) override {
    ScopedContext bound(*this);
    if (!bound)
      return bound.status();
    CUevent e = nullptr;
    if (Status s = check(syms_.cuEventCreate(&e, CU_EVENT_DISABLE_TIMING),
                         "cuEventCreate");
        !s)
      return s;
    *out = e;
    return Status::ok();
  }

  Status recordEventOn(EventHandle event, QueueHandle queue) override {
    ScopedContext bound(*this);
    if (!bound)
      return bound.status();
    return check(
        syms_.cuEventRecord(static_cast<CUevent>(event), stream(queue)),
        "cuEventRecord");
  }

  Status waitEvent(QueueHandle queue, EventHandle event) override {
    ScopedContext bound(*this);
    if (!bound)
      return bound.status();
    return check(syms_.cuStreamWaitEvent(stream(queue),
                                         static_cast<CUevent>(event), 0),
                 "cuStreamWaitEvent");
  }

  Status createQueue(QueueHandle *out) override {
    ScopedContext bound(*this);
    if (!bound)
      return bound.status();
    // Non-blocking, like the own stream: no implicit ordering with the
    // legacy default stream, only the events the caller places.
    CUstream s = nullptr;
    if (Status st = check(syms_.cuStreamCreate(&s, CU_STREAM_NON_BLOCKING),
                          "cuStreamCreate");
        !st)
      return st;
    *out = s;
    return Status::ok();
  }

  void destroyQueue(QueueHandle queue) override {
    ScopedContext bound(*this);
    if (queue && bound)
      syms_.cuStreamDestroy(stream(queue));
  }

  Status elapsedMs(EventHandle start, EventHandle end, float *ms) override {
    ScopedContext bound(*this);
    if (!bound)
      return bound.status();
    if (Status s = check(syms_.cuEventSynchronize(static_cast<CUevent>(end)),
                         "cuEventSynchronize");
        !s)
      return s;
    return check(syms_.cuEventElapsedTime(ms, static_cast<CUevent>(start),
                                          static_cast<CUevent>(end)),
                 "cuEventElapsedTime");
  }

  Status synchronize() override {
    ScopedContext bound(*this);
    if (!bound)
      return bound.status();
    return check(syms_.cuStreamSynchronize(stream_), "cuStreamSynchronize");
  }

  Status captureGraph(const EnqueueFn &enqueue, GraphHandle *out) override;

  void destroyGraph(GraphHandle graph) override {
    ScopedContext bound(*this);
    if (bound)
      syms_.cuGraphExecDestroy(static_cast<CUgraphExec>(graph));
  }

  Status launchGraph(GraphHandle graph) override {
    ScopedContext bound(*this);
    if (!bound)
      return bound.status();
    return check(syms_.cuGraphLaunch(static_cast<CUgraphExec>(graph), stream_),
                 "cuGraphLaunch");
  }

  Status timeGraph(GraphHandle graph, int reps, double *usPerReplay) override;

private:
  friend class ScopedContext;

  static CUstream stream(QueueHandle queue) {
    return static_cast<CUstream>(queue);
  }
  Status check(CUresult result, const char *what) const;
  Status loadSymbols();

  void *library_ = nullptr;
  CudaSymbols syms_;
  CUdevice device_ = 0;
  DeviceInfo info_;
  CUcontext context_ = nullptr;
  CUstream stream_ = nullptr;
  /// Around timeGraph's replays; created on its first call.
  CUevent timing_[2] = {nullptr, nullptr};
  int smVersion_ = 0;
  std::string name_;
};

ScopedContext::ScopedContext(CudaBackend &backend) : backend_(backend) {
  CUcontext current = nullptr;
  status_ = backend_.check(backend_.syms_.cuCtxGetCurrent(&current),
                           "cuCtxGetCurrent");
  if (!status_ || current == backend_.context_)
    return;
  status_ = backend_.check(backend_.syms_.cuCtxSetCurrent(backend_.context_),
                           "cuCtxSetCurrent");
  if (status_) {
    previous_ = current;
    restore_ = true;
  }
}

ScopedContext::~ScopedContext() {
  if (restore_)
    backend_.syms_.cuCtxSetCurrent(previous_);
}

CudaBackend::~CudaBackend() {
  if (context_) {
    ScopedContext bound(*this);
    for (CUevent e : timing_)
      if (e)
        syms_.cuEventDestroy(e);
    if (stream_)
      syms_.cuStreamDestroy(stream_);
  }
  if (context_)
    syms_.cuDevicePrimaryCtxRelease(device_);
  // libcuda is not dlclose'd: the driver keeps threads and atexit handlers
  // that must not outlive its code.
}

Status CudaBackend::check(CUresult result, const char *what) const {
  if (result == CUDA_SUCCESS)
    return Status::ok();
  const char *errName = nullptr, *errText = nullptr;
  if (syms_.cuGetErrorName)
    syms_.cuGetErrorName(result, &errName);
  if (syms_.cuGetErrorString)
    syms_.cuGetErrorString(result, &errText);
  dynaspa_status_t code = DYNASPA_DEVICE_ERROR;
  if (result == CUDA_ERROR_OUT_OF_MEMORY)
    code = DYNASPA_OUT_OF_MEMORY;
  else if (result == CUDA_ERROR_NO_DEVICE ||
           result == CUDA_ERROR_SYSTEM_DRIVER_MISMATCH ||
           result == CUDA_ERROR_NOT_INITIALIZED)
    code = DYNASPA_NO_DEVICE;
  return Status(code, std::string(what) +
                          " failed: " + (errName ? errName : "CUresult") +
                          " (" + std::to_string(static_cast<int>(result)) +
                          ")" + (errText ? std::string(": ") + errText : ""));
}

Status CudaBackend::loadSymbols() {
  library_ = dlopen("libcuda.so.1", RTLD_NOW | RTLD_LOCAL);
  if (!library_) {
    const char *err = dlerror();
    return Status(DYNASPA_NO_DEVICE,
                  std::string("CUDA driver not found (dlopen libcuda.so.1: ") +
                      (err ? err : "unknown error") + ")");
  }
  auto missing = [](const char *name) {
    return Status(DYNASPA_NO_DEVICE,
                  std::string("CUDA driver too old: libcuda.so.1 lacks ") +
                      name);
  };
#define DSP_CU_LOAD(name)                                                      \
  syms_.name =                                                                 \
      reinterpret_cast<decltype(syms_.name)>(dlsym(library_, DSP_STR(name)));  \
  if (!syms_.name)                                                             \
    return missing(DSP_STR(name));
#define DSP_CU_LOAD_OLD(name)                                                  \
  syms_.name =                                                                 \
      reinterpret_cast<decltype(syms_.name)>(dlsym(library_, DSP_STR(name)));  \
  if (!syms_.name)                                                             \
    syms_.name =                                                               \
        reinterpret_cast<decltype(syms_.name)>(dlsym(library_, #name));        \
  if (!syms_.name)                                                             \
    return missing(#name);
  DSP_CU_SYMBOLS(DSP_CU_LOAD, DSP_CU_LOAD_OLD)
#undef DSP_CU_LOAD
#undef DSP_CU_LOAD_OLD
  return Status::ok();
}

Status CudaBackend::init() {
  if (Status s = loadSymbols(); !s)
    return s;
  if (Status s = check(syms_.cuInit(0), "cuInit"); !s)
    return Status(DYNASPA_NO_DEVICE, s.message());
  int count = 0;
  if (Status s = check(syms_.cuDeviceGetCount(&count), "cuDeviceGetCount"); !s)
    return Status(DYNASPA_NO_DEVICE, s.message());
  if (count == 0)
    return Status(DYNASPA_NO_DEVICE, "no CUDA device");
  if (Status s = check(syms_.cuDeviceGet(&device_, 0), "cuDeviceGet"); !s)
    return s;
  char name[256] = {0};
  if (Status s = check(syms_.cuDeviceGetName(name, sizeof(name) - 1, device_),
                       "cuDeviceGetName");
      !s)
    return s;
  int major = 0, minor = 0;
  if (Status s = check(
          syms_.cuDeviceGetAttribute(
              &major, CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR, device_),
          "cuDeviceGetAttribute");
      !s)
    return s;
  if (Status s = check(
          syms_.cuDeviceGetAttribute(
              &minor, CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR, device_),
          "cuDeviceGetAttribute");
      !s)
    return s;
  smVersion_ = major * 10 + minor;
  for (auto [field, attribute] :
       {std::pair{&info_.computeUnits,
                  CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT},
        std::pair{&info_.maxThreadsPerComputeUnit,
                  CU_DEVICE_ATTRIBUTE_MAX_THREADS_PER_MULTIPROCESSOR},
        std::pair{&info_.maxThreadsPerBlock,
                  CU_DEVICE_ATTRIBUTE_MAX_THREADS_PER_BLOCK}}) {
    int value = 0;
    if (Status s = check(syms_.cuDeviceGetAttribute(&value, attribute, device_),
                         "cuDeviceGetAttribute");
        !s)
      return s;
    *field = static_cast<uint32_t>(value);
  }
  name_ =
      "CUDA: " + std::string(name) + " (sm_" + std::to_string(smVersion_) + ")";
  if (Status s = check(syms_.cuDevicePrimaryCtxRetain(&context_, device_),
                       "cuDevicePrimaryCtxRetain");
      !s)
    return s;
  ScopedContext bound(*this);
  if (!bound)
    return bound.status();
  return check(syms_.cuStreamCreate(&stream_, CU_STREAM_NON_BLOCKING),
               "cuStreamCreate");
}

Status CudaBackend::loadModule(const fb::Module &module, ModuleHandle *out) {
  ScopedContext bound(*this);
  if (!bound)
    return bound.status();
  // Candidates in preference order: exact cubins, then PTX newest first.
  std::vector<const fb::Binary *> candidates;
  std::vector<std::pair<int, const fb::Binary *>> ptx;
  for (const fb::Binary *b : *module.binaries()) {
    int chip = chipNumber(b->chip());
    if (b->format() == fb::Format::CUBIN && chip == smVersion_)
      candidates.push_back(b);
    else if (b->format() == fb::Format::PTX && chip <= smVersion_)
      ptx.emplace_back(chip, b);
  }
  std::stable_sort(ptx.begin(), ptx.end(), [](const auto &a, const auto &b) {
    return a.first > b.first;
  });
  for (const auto &p : ptx)
    candidates.push_back(p.second);
  if (candidates.empty())
    return Status(DYNASPA_UNSUPPORTED,
                  "no cubin for sm_" + std::to_string(smVersion_) +
                      " and no PTX for sm_" + std::to_string(smVersion_) +
                      " or older");

  std::string failures;
  for (const fb::Binary *b : candidates) {
    // PTX must be NUL-terminated; a cubin is used as is (copied so that the
    // driver never reads past the bundle's bytes either way).
    std::string image(reinterpret_cast<const char *>(b->data()->data()),
                      b->data()->size());
    char log[4096] = {0};
    CUjit_option options[] = {CU_JIT_ERROR_LOG_BUFFER,
                              CU_JIT_ERROR_LOG_BUFFER_SIZE_BYTES};
    void *values[] = {log, reinterpret_cast<void *>(sizeof(log) - 1)};
    CUmodule m = nullptr;
    Status s =
        check(syms_.cuModuleLoadDataEx(&m, image.c_str(), 2, options, values),
              "cuModuleLoadDataEx");
    if (s) {
      *out = m;
      return s;
    }
    failures += std::string("\n  ") + fb::EnumNameFormat(b->format()) + " " +
                (b->chip() ? b->chip()->str() : "?") + ": " + s.message() +
                (log[0] ? std::string("\n") + log : "");
  }
  return Status(DYNASPA_DEVICE_ERROR,
                "every candidate binary failed to load:" + failures);
}

Status CudaBackend::launch(KernelHandle kernel, const LaunchDims &dims,
                           const std::vector<KernelArg> &args,
                           QueueHandle queue) {
  ScopedContext bound(*this);
  if (!bound)
    return bound.status();
  auto f = static_cast<CUfunction>(kernel);
  // cuLaunchKernel takes a pointer to each argument's value.
  union Value {
    CUdeviceptr ptr;
    int32_t i32;
    int64_t i64;
  };
  std::vector<Value> values(args.size());
  std::vector<void *> params(args.size());
  for (size_t i = 0; i < args.size(); ++i) {
    if (args[i].kind == fb::ArgKind::Buffer)
      values[i].ptr = static_cast<CUdeviceptr>(args[i].buffer.handle);
    else if (args[i].kind == fb::ArgKind::I32)
      values[i].i32 = static_cast<int32_t>(args[i].value);
    else
      values[i].i64 = args[i].value;
    params[i] = &values[i];
  }
  // Beyond 48 KiB of dynamic shared memory a kernel must opt in.
  if (dims.sharedBytes > 48 * 1024)
    if (Status s = check(syms_.cuFuncSetAttribute(
                             f, CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES,
                             static_cast<int>(dims.sharedBytes)),
                         "cuFuncSetAttribute");
        !s)
      return s;
  return check(syms_.cuLaunchKernel(f, dims.grid[0], dims.grid[1], dims.grid[2],
                                    dims.block[0], dims.block[1], dims.block[2],
                                    dims.sharedBytes, stream(queue),
                                    params.empty() ? nullptr : params.data(),
                                    nullptr),
               "cuLaunchKernel");
}

Status CudaBackend::captureGraph(const EnqueueFn &enqueue, GraphHandle *out) {
  ScopedContext bound(*this);
  if (!bound)
    return bound.status();
  // Thread-local mode: other threads' unsafe calls (cuMemAlloc) stay legal
  // while we record; only this thread's would invalidate the capture.
  if (Status s = check(syms_.cuStreamBeginCapture(
                           stream_, CU_STREAM_CAPTURE_MODE_THREAD_LOCAL),
                       "cuStreamBeginCapture");
      !s)
    return s;
  Status recorded = enqueue(stream_);
  // End the capture whatever happened, or the stream stays unusable.
  CUgraph graph = nullptr;
  Status ended =
      check(syms_.cuStreamEndCapture(stream_, &graph), "cuStreamEndCapture");
  if (!recorded || !ended) {
    if (graph)
      syms_.cuGraphDestroy(graph);
    return !recorded ? recorded : ended;
  }
  CUgraphExec exec = nullptr;
  Status s = check(syms_.cuGraphInstantiateWithFlags(&exec, graph, 0),
                   "cuGraphInstantiateWithFlags");
  // The executable graph is independent of the graph it was made from.
  syms_.cuGraphDestroy(graph);
  if (!s)
    return s;
  *out = exec;
  return Status::ok();
}

Status CudaBackend::timeGraph(GraphHandle graph, int reps,
                              double *usPerReplay) {
  ScopedContext bound(*this);
  if (!bound)
    return bound.status();
  for (CUevent &e : timing_)
    if (!e)
      if (Status s =
              check(syms_.cuEventCreate(&e, CU_EVENT_DEFAULT), "cuEventCreate");
          !s)
        return s;
  auto exec = static_cast<CUgraphExec>(graph);
  if (Status s =
          check(syms_.cuEventRecord(timing_[0], stream_), "cuEventRecord");
      !s)
    return s;
  // Back to back, so that one replay's launch latency overlaps the previous
  // replay's execution, as inside a captured model.
  for (int i = 0; i < reps; ++i)
    if (Status s = check(syms_.cuGraphLaunch(exec, stream_), "cuGraphLaunch");
        !s)
      return s;
  if (Status s =
          check(syms_.cuEventRecord(timing_[1], stream_), "cuEventRecord");
      !s)
    return s;
  if (Status s =
          check(syms_.cuEventSynchronize(timing_[1]), "cuEventSynchronize");
      !s)
    return s;
  float ms = 0.0f;
  if (Status s = check(syms_.cuEventElapsedTime(&ms, timing_[0], timing_[1]),
                       "cuEventElapsedTime");
      !s)
    return s;
  *usPerReplay = static_cast<double>(ms) * 1000.0 / reps;
  return Status::ok();
}

} // namespace

Status createCudaBackend(std::unique_ptr<Backend> *out) {
  auto backend = std::make_unique<CudaBackend>();
  if (Status s = backend->init(); !s)
    return s;
  *out = std::move(backend);
  return Status::ok();
}

} // namespace dynaspa::runtime
