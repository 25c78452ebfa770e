//===- cuda_backend.cpp - CUDA driver API backend -------------------------===//
//
// Part of the dynaspa project.
//
//===----------------------------------------------------------------------===//
//
// Device 0's primary context and one non-blocking stream. All work goes on
// that stream (copies too) so that ordering is explicit and the same stream
// can later be captured into a CUDA graph. Modules prefer a cubin built for
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

class CudaBackend final : public Backend {
public:
  ~CudaBackend() override;

  Status init();

  dynaspa_device_kind_t kind() const override { return DYNASPA_DEVICE_CUDA; }
  const std::string &deviceName() const override { return name_; }

  Status allocate(size_t bytes, DeviceBuffer *out) override {
    if (Status s = bind(); !s)
      return s;
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
    if (buffer.handle && bind())
      syms_.cuMemFree(static_cast<CUdeviceptr>(buffer.handle));
  }

  Status upload(DeviceBuffer dst, const void *src, size_t bytes) override {
    if (Status s = bind(); !s)
      return s;
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
    if (Status s = bind(); !s)
      return s;
    if (Status s = check(
            syms_.cuMemcpyDtoHAsync(dst, static_cast<CUdeviceptr>(src.handle),
                                    bytes, stream_),
            "cuMemcpyDtoHAsync");
        !s)
      return s;
    return synchronize();
  }

  Status fillZero(DeviceBuffer buffer, size_t bytes) override {
    if (bytes == 0)
      return Status::ok();
    if (Status s = bind(); !s)
      return s;
    return check(syms_.cuMemsetD8Async(static_cast<CUdeviceptr>(buffer.handle),
                                       0, bytes, stream_),
                 "cuMemsetD8Async");
  }

  Status loadModule(const fb::Module &module, ModuleHandle *out) override;

  void unloadModule(ModuleHandle module) override {
    if (bind())
      syms_.cuModuleUnload(static_cast<CUmodule>(module));
  }

  Status getKernel(ModuleHandle module, const std::string &name,
                   KernelHandle *out) override {
    if (Status s = bind(); !s)
      return s;
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
                const std::vector<KernelArg> &args) override;

  Status createEvent(EventHandle *out) override {
    if (Status s = bind(); !s)
      return s;
    CUevent e = nullptr;
    if (Status s =
            check(syms_.cuEventCreate(&e, CU_EVENT_DEFAULT), "cuEventCreate");
        !s)
      return s;
    *out = e;
    return Status::ok();
  }

  void destroyEvent(EventHandle event) override {
    if (bind())
      syms_.cuEventDestroy(static_cast<CUevent>(event));
  }

  Status recordEvent(EventHandle event) override {
    return check(syms_.cuEventRecord(static_cast<CUevent>(event), stream_),
                 "cuEventRecord");
  }

  Status elapsedMs(EventHandle start, EventHandle end, float *ms) override {
    if (Status s = check(syms_.cuEventSynchronize(static_cast<CUevent>(end)),
                         "cuEventSynchronize");
        !s)
      return s;
    return check(syms_.cuEventElapsedTime(ms, static_cast<CUevent>(start),
                                          static_cast<CUevent>(end)),
                 "cuEventElapsedTime");
  }

  Status synchronize() override {
    return check(syms_.cuStreamSynchronize(stream_), "cuStreamSynchronize");
  }

private:
  Status check(CUresult result, const char *what) const;
  /// The driver's current context is per thread; make ours current so that
  /// a context may be used from any (one at a time) thread.
  Status bind() {
    return check(syms_.cuCtxSetCurrent(context_), "cuCtxSetCurrent");
  }
  Status loadSymbols();

  void *library_ = nullptr;
  CudaSymbols syms_;
  CUdevice device_ = 0;
  CUcontext context_ = nullptr;
  CUstream stream_ = nullptr;
  int smVersion_ = 0;
  std::string name_;
};

CudaBackend::~CudaBackend() {
  if (stream_)
    syms_.cuStreamDestroy(stream_);
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
  name_ =
      "CUDA: " + std::string(name) + " (sm_" + std::to_string(smVersion_) + ")";
  if (Status s = check(syms_.cuDevicePrimaryCtxRetain(&context_, device_),
                       "cuDevicePrimaryCtxRetain");
      !s)
    return s;
  if (Status s = check(syms_.cuCtxSetCurrent(context_), "cuCtxSetCurrent"); !s)
    return s;
  return check(syms_.cuStreamCreate(&stream_, CU_STREAM_NON_BLOCKING),
               "cuStreamCreate");
}

Status CudaBackend::loadModule(const fb::Module &module, ModuleHandle *out) {
  if (Status s = bind(); !s)
    return s;
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
                           const std::vector<KernelArg> &args) {
  if (Status s = bind(); !s)
    return s;
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
  return check(syms_.cuLaunchKernel(
                   f, dims.grid[0], dims.grid[1], dims.grid[2], dims.block[0],
                   dims.block[1], dims.block[2], dims.sharedBytes, stream_,
                   params.empty() ? nullptr : params.data(), nullptr),
               "cuLaunchKernel");
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
