//===- opencl_backend.cpp - OpenCL backend through the ICD loader ---------===//
//
// Part of the dynaspa project.
//
//===----------------------------------------------------------------------===//
//
// One in-order, profiling-enabled queue on the first GPU (else CPU) device;
// dynaspa_operator_launch may name another queue of the same context, and
// networks make a second one for their zero fills (ordered with markers and
// barriers on the queues' events).
// OpenCL has no graphs: a "captured graph" is the enqueue function itself,
// replayed by calling it, and timeGraph measures host wall clock around
// back-to-back enqueues and clFinish (what a caller of clEnqueue* sees; on a
// CPU device like PoCL this includes the driver's enqueue cost).
// Modules are built from the first binary the device can take, in the order
// SPIR-V (devices reporting CL_DEVICE_IL_VERSION), SPIR 1.2 bitcode (devices
// with cl_khr_spir: Debian's PoCL 3.1 has no IL support but takes SPIR with
// "-x spir -spir-std=1.2"), then OpenCL C source. If a build fails the next
// candidate is tried, so a bundle carrying several formats still runs on a
// driver with a broken front end for one of them.
//
//===----------------------------------------------------------------------===//

#define CL_TARGET_OPENCL_VERSION 300
#define CL_USE_DEPRECATED_OPENCL_1_2_APIS
#include <CL/cl.h>

#include "../backend.h"

#include <chrono>
#include <cstring>

namespace dynaspa::runtime {
namespace {

namespace fb = ::dynaspa::bundle;

const char *errorName(cl_int err) {
  switch (err) {
#define DSP_CL_ERROR(e)                                                        \
  case e:                                                                      \
    return #e;
    DSP_CL_ERROR(CL_DEVICE_NOT_FOUND)
    DSP_CL_ERROR(CL_DEVICE_NOT_AVAILABLE)
    DSP_CL_ERROR(CL_COMPILER_NOT_AVAILABLE)
    DSP_CL_ERROR(CL_MEM_OBJECT_ALLOCATION_FAILURE)
    DSP_CL_ERROR(CL_OUT_OF_RESOURCES)
    DSP_CL_ERROR(CL_OUT_OF_HOST_MEMORY)
    DSP_CL_ERROR(CL_BUILD_PROGRAM_FAILURE)
    DSP_CL_ERROR(CL_INVALID_VALUE)
    DSP_CL_ERROR(CL_INVALID_PLATFORM)
    DSP_CL_ERROR(CL_INVALID_DEVICE)
    DSP_CL_ERROR(CL_INVALID_BINARY)
    DSP_CL_ERROR(CL_INVALID_BUILD_OPTIONS)
    DSP_CL_ERROR(CL_INVALID_PROGRAM_EXECUTABLE)
    DSP_CL_ERROR(CL_INVALID_KERNEL_NAME)
    DSP_CL_ERROR(CL_INVALID_KERNEL_ARGS)
    DSP_CL_ERROR(CL_INVALID_ARG_INDEX)
    DSP_CL_ERROR(CL_INVALID_ARG_SIZE)
    DSP_CL_ERROR(CL_INVALID_WORK_DIMENSION)
    DSP_CL_ERROR(CL_INVALID_WORK_GROUP_SIZE)
    DSP_CL_ERROR(CL_INVALID_WORK_ITEM_SIZE)
    DSP_CL_ERROR(CL_INVALID_GLOBAL_WORK_SIZE)
    DSP_CL_ERROR(CL_INVALID_BUFFER_SIZE)
    DSP_CL_ERROR(CL_INVALID_OPERATION)
    DSP_CL_ERROR(CL_PROFILING_INFO_NOT_AVAILABLE)
#undef DSP_CL_ERROR
  case -1001: // CL_PLATFORM_NOT_FOUND_KHR, from the ICD loader.
    return "CL_PLATFORM_NOT_FOUND_KHR";
  }
  return "CL error";
}

Status clError(const char *what, cl_int err) {
  dynaspa_status_t code = DYNASPA_DEVICE_ERROR;
  if (err == CL_MEM_OBJECT_ALLOCATION_FAILURE || err == CL_OUT_OF_HOST_MEMORY ||
      err == CL_OUT_OF_RESOURCES || err == CL_INVALID_BUFFER_SIZE)
    code = DYNASPA_OUT_OF_MEMORY;
  return Status(code, std::string(what) + " failed: " + errorName(err) + " (" +
                          std::to_string(err) + ")");
}

std::string deviceString(cl_device_id device, cl_device_info param) {
  size_t size = 0;
  if (clGetDeviceInfo(device, param, 0, nullptr, &size) != CL_SUCCESS ||
      size == 0)
    return std::string();
  std::string s(size, '\0');
  if (clGetDeviceInfo(device, param, size, s.data(), nullptr) != CL_SUCCESS)
    return std::string();
  s.resize(std::strlen(s.c_str()));
  return s;
}

/// A recorded point on the queue: the marker enqueued by the last record.
struct ClEvent {
  cl_event event = nullptr;
};

class OpenCLBackend final : public Backend {
public:
  ~OpenCLBackend() override {
    if (queue_)
      clReleaseCommandQueue(queue_);
    if (context_)
      clReleaseContext(context_);
  }

  Status init();

  dynaspa_device_kind_t kind() const override { return DYNASPA_DEVICE_OPENCL; }
  const std::string &deviceName() const override { return name_; }
  DeviceInfo deviceInfo() const override { return info_; }

  QueueHandle ownQueue() const override { return queue_; }
  QueueHandle callerQueue(void *stream) const override {
    return stream ? stream : queue_;
  }
  void *nativeContext() const override { return context_; }

  Status isCapturing(QueueHandle, bool *capturing) override {
    *capturing = false;
    return Status::ok();
  }

  Status allocate(size_t bytes, DeviceBuffer *out) override {
    cl_int err;
    // OpenCL rejects zero-sized buffers; keep every argument a valid cl_mem.
    cl_mem mem = clCreateBuffer(context_, CL_MEM_READ_WRITE, bytes ? bytes : 4,
                                nullptr, &err);
    if (err != CL_SUCCESS)
      return clError("clCreateBuffer", err);
    out->handle = reinterpret_cast<uint64_t>(mem);
    out->bytes = bytes;
    return Status::ok();
  }

  void release(DeviceBuffer buffer) override {
    if (buffer.handle)
      clReleaseMemObject(mem(buffer));
  }

  Status upload(DeviceBuffer dst, const void *src, size_t bytes) override {
    cl_int err = clEnqueueWriteBuffer(queue_, mem(dst), CL_TRUE, 0, bytes, src,
                                      0, nullptr, nullptr);
    return err == CL_SUCCESS ? Status::ok()
                             : clError("clEnqueueWriteBuffer", err);
  }

  Status download(DeviceBuffer src, void *dst, size_t bytes) override {
    cl_int err = clEnqueueReadBuffer(queue_, mem(src), CL_TRUE, 0, bytes, dst,
                                     0, nullptr, nullptr);
    return err == CL_SUCCESS ? Status::ok()
                             : clError("clEnqueueReadBuffer", err);
  }

  Status fillZero(DeviceBuffer buffer, size_t bytes,
                  QueueHandle queue) override {
    if (bytes == 0)
      return Status::ok();
    const uint8_t zero = 0;
    cl_int err = clEnqueueFillBuffer(clQueue(queue), mem(buffer), &zero, 1, 0,
                                     bytes, 0, nullptr, nullptr);
    return err == CL_SUCCESS ? Status::ok()
                             : clError("clEnqueueFillBuffer", err);
  }

  Status loadModule(const fb::Module &module, ModuleHandle *out) override;

  void unloadModule(ModuleHandle module) override {
    clReleaseProgram(static_cast<cl_program>(module));
  }

  Status getKernel(ModuleHandle module, const std::string &name,
                   KernelHandle *out) override {
    cl_int err;
    cl_kernel k =
        clCreateKernel(static_cast<cl_program>(module), name.c_str(), &err);
    if (err != CL_SUCCESS)
      return clError(("clCreateKernel '" + name + "'").c_str(), err);
    *out = k;
    return Status::ok();
  }

  void releaseKernel(KernelHandle kernel) override {
    clReleaseKernel(static_cast<cl_kernel>(kernel));
  }

  Status launch(KernelHandle kernel, const LaunchDims &dims,
                const std::vector<KernelArg> &args, QueueHandle queue) override;

  Status createEvent(EventHandle *out) override {
    *out = new ClEvent();
    return Status::ok();
  }

  void destroyEvent(EventHandle event) override {
    auto *e = static_cast<ClEvent *>(event);
    if (e->event)
      clReleaseEvent(e->event);
    delete e;
  }

  Status recordEvent(EventHandle event) override {
    return enqueueMarker(static_cast<ClEvent *>(event), queue_);
  }

  Status elapsedMs(EventHandle start, EventHandle end, float *ms) override;

  // A sync event is a timing one here: markers cost the same either way.
  Status createSyncEvent(EventHandle *out) override { return createEvent(out); }

  Status recordEventOn(EventHandle event, QueueHandle queue) override {
    if (Status s = enqueueMarker(static_cast<ClEvent *>(event), queue); !s)
      return s;
    // Another queue will wait for this marker: OpenCL only guarantees
    // progress across queues for commands already submitted, so a wait on
    // an unflushed queue may never end on some drivers.
    cl_int err = clFlush(clQueue(queue));
    return err == CL_SUCCESS ? Status::ok() : clError("clFlush", err);
  }

  Status waitEvent(QueueHandle queue, EventHandle event) override {
    auto *e = static_cast<ClEvent *>(event);
    if (!e->event)
      return invalidArgument("waitEvent: event not recorded");
    // On an in-order queue a barrier with a wait list holds back everything
    // enqueued after it until the event completes.
    cl_int err =
        clEnqueueBarrierWithWaitList(clQueue(queue), 1, &e->event, nullptr);
    return err == CL_SUCCESS ? Status::ok()
                             : clError("clEnqueueBarrierWithWaitList", err);
  }

  Status createQueue(QueueHandle *out) override {
    cl_int err;
    cl_command_queue q = clCreateCommandQueue(context_, device_, 0, &err);
    if (err != CL_SUCCESS)
      return clError("clCreateCommandQueue", err);
    *out = q;
    return Status::ok();
  }

  void destroyQueue(QueueHandle queue) override {
    if (queue)
      clReleaseCommandQueue(clQueue(queue));
  }

  Status synchronize() override {
    cl_int err = clFinish(queue_);
    return err == CL_SUCCESS ? Status::ok() : clError("clFinish", err);
  }

  Status captureGraph(const EnqueueFn &enqueue, GraphHandle *out) override {
    *out = new EnqueueFn(enqueue);
    return Status::ok();
  }

  void destroyGraph(GraphHandle graph) override {
    delete static_cast<EnqueueFn *>(graph);
  }

  Status launchGraph(GraphHandle graph) override {
    return (*static_cast<EnqueueFn *>(graph))(queue_);
  }

  Status timeGraph(GraphHandle graph, int reps, double *usPerReplay) override {
    if (Status s = synchronize(); !s)
      return s;
    auto start = std::chrono::steady_clock::now();
    for (int i = 0; i < reps; ++i)
      if (Status s = launchGraph(graph); !s)
        return s;
    if (Status s = synchronize(); !s)
      return s;
    std::chrono::duration<double, std::micro> elapsed =
        std::chrono::steady_clock::now() - start;
    *usPerReplay = elapsed.count() / reps;
    return Status::ok();
  }

private:
  static cl_mem mem(DeviceBuffer b) {
    return reinterpret_cast<cl_mem>(b.handle);
  }
  static cl_command_queue clQueue(QueueHandle q) {
    return static_cast<cl_command_queue>(q);
  }
  Status enqueueMarker(ClEvent *e, QueueHandle queue) {
    // A barrier that waits for the previous marker holds its own reference.
    if (e->event)
      clReleaseEvent(e->event);
    e->event = nullptr;
    cl_int err =
        clEnqueueMarkerWithWaitList(clQueue(queue), 0, nullptr, &e->event);
    return err == CL_SUCCESS ? Status::ok()
                             : clError("clEnqueueMarkerWithWaitList", err);
  }
  Status build(const fb::Binary &binary, cl_program *out, std::string *log);

  cl_device_id device_ = nullptr;
  DeviceInfo info_;
  cl_context context_ = nullptr;
  cl_command_queue queue_ = nullptr;
  std::string name_;
  bool hasIL_ = false;
  bool hasSpir_ = false;
};

Status OpenCLBackend::init() {
  cl_uint numPlatforms = 0;
  cl_int err = clGetPlatformIDs(0, nullptr, &numPlatforms);
  if (err != CL_SUCCESS || numPlatforms == 0)
    return Status(DYNASPA_NO_DEVICE,
                  "no OpenCL platform (" + std::string(errorName(err)) + ")");
  std::vector<cl_platform_id> platforms(numPlatforms);
  if ((err = clGetPlatformIDs(numPlatforms, platforms.data(), nullptr)) !=
      CL_SUCCESS)
    return clError("clGetPlatformIDs", err);
  // A GPU on any platform beats a CPU on the first one.
  for (cl_device_type type :
       {CL_DEVICE_TYPE_GPU, CL_DEVICE_TYPE_CPU, CL_DEVICE_TYPE_ACCELERATOR}) {
    for (cl_platform_id p : platforms) {
      if (clGetDeviceIDs(p, type, 1, &device_, nullptr) == CL_SUCCESS)
        break;
      device_ = nullptr;
    }
    if (device_)
      break;
  }
  if (!device_)
    return Status(DYNASPA_NO_DEVICE, "no OpenCL device on " +
                                         std::to_string(numPlatforms) +
                                         " platform(s)");
  name_ = "OpenCL: " + deviceString(device_, CL_DEVICE_NAME);
  cl_uint units = 0;
  size_t groupSize = 0;
  if (clGetDeviceInfo(device_, CL_DEVICE_MAX_COMPUTE_UNITS, sizeof(units),
                      &units, nullptr) == CL_SUCCESS)
    info_.computeUnits = units;
  if (clGetDeviceInfo(device_, CL_DEVICE_MAX_WORK_GROUP_SIZE,
                      sizeof(groupSize), &groupSize, nullptr) == CL_SUCCESS)
    info_.maxThreadsPerBlock = static_cast<uint32_t>(groupSize);
  hasIL_ = !deviceString(device_, CL_DEVICE_IL_VERSION).empty();
  hasSpir_ = deviceString(device_, CL_DEVICE_EXTENSIONS).find("cl_khr_spir") !=
             std::string::npos;
  context_ = clCreateContext(nullptr, 1, &device_, nullptr, nullptr, &err);
  if (err != CL_SUCCESS)
    return clError("clCreateContext", err);
  queue_ =
      clCreateCommandQueue(context_, device_, CL_QUEUE_PROFILING_ENABLE, &err);
  if (err != CL_SUCCESS)
    return clError("clCreateCommandQueue", err);
  return Status::ok();
}

Status OpenCLBackend::build(const fb::Binary &binary, cl_program *out,
                            std::string *log) {
  const uint8_t *data = binary.data()->data();
  size_t size = binary.data()->size();
  cl_int err = CL_SUCCESS;
  cl_program program = nullptr;
  const char *options = "";
  switch (binary.format()) {
  case fb::Format::SPIRV:
    program = clCreateProgramWithIL(context_, data, size, &err);
    break;
  case fb::Format::SPIR_BC:
    program = clCreateProgramWithBinary(context_, 1, &device_, &size, &data,
                                        nullptr, &err);
    options = "-x spir -spir-std=1.2";
    break;
  case fb::Format::OPENCL_C: {
    const char *src = reinterpret_cast<const char *>(data);
    program = clCreateProgramWithSource(context_, 1, &src, &size, &err);
    break;
  }
  default:
    return Status(DYNASPA_UNSUPPORTED, "not an OpenCL format");
  }
  if (err != CL_SUCCESS)
    return clError("creating the program", err);
  err = clBuildProgram(program, 1, &device_, options, nullptr, nullptr);
  if (err != CL_SUCCESS) {
    *log = deviceString(device_, CL_DEVICE_NAME); // Fallback if no log.
    size_t logSize = 0;
    if (clGetProgramBuildInfo(program, device_, CL_PROGRAM_BUILD_LOG, 0,
                              nullptr, &logSize) == CL_SUCCESS &&
        logSize > 1) {
      log->assign(logSize, '\0');
      clGetProgramBuildInfo(program, device_, CL_PROGRAM_BUILD_LOG, logSize,
                            log->data(), nullptr);
      log->resize(std::strlen(log->c_str()));
    }
    clReleaseProgram(program);
    return clError("clBuildProgram", err);
  }
  *out = program;
  return Status::ok();
}

Status OpenCLBackend::loadModule(const fb::Module &module, ModuleHandle *out) {
  std::vector<fb::Format> order;
  if (hasIL_)
    order.push_back(fb::Format::SPIRV);
  if (hasSpir_)
    order.push_back(fb::Format::SPIR_BC);
  order.push_back(fb::Format::OPENCL_C);
  std::string failures;
  for (fb::Format format : order) {
    for (const fb::Binary *binary : *module.binaries()) {
      if (binary->format() != format)
        continue;
      cl_program program = nullptr;
      std::string log;
      Status s = build(*binary, &program, &log);
      if (s) {
        *out = program;
        return s;
      }
      failures += std::string("\n  ") + fb::EnumNameFormat(format) + ": " +
                  s.message() + (log.empty() ? "" : "\n" + log);
    }
  }
  if (failures.empty())
    return Status(DYNASPA_UNSUPPORTED,
                  "no binary this OpenCL device takes (have IL: " +
                      std::string(hasIL_ ? "yes" : "no") +
                      ", cl_khr_spir: " + (hasSpir_ ? "yes" : "no") + ")");
  return Status(DYNASPA_DEVICE_ERROR,
                "every candidate binary failed to build:" + failures);
}

Status OpenCLBackend::launch(KernelHandle kernel, const LaunchDims &dims,
                             const std::vector<KernelArg> &args,
                             QueueHandle queue) {
  auto k = static_cast<cl_kernel>(kernel);
  for (cl_uint i = 0; i < args.size(); ++i) {
    const KernelArg &a = args[i];
    cl_int err;
    if (a.kind == fb::ArgKind::Buffer) {
      cl_mem m = mem(a.buffer);
      err = clSetKernelArg(k, i, sizeof(m), &m);
    } else if (a.kind == fb::ArgKind::I32) {
      auto v = static_cast<cl_int>(a.value);
      err = clSetKernelArg(k, i, sizeof(v), &v);
    } else {
      cl_long v = a.value;
      err = clSetKernelArg(k, i, sizeof(v), &v);
    }
    if (err != CL_SUCCESS)
      return clError(("clSetKernelArg " + std::to_string(i)).c_str(), err);
  }
  // shared_bytes is ignored: OpenCL kernels from the SPIR-V path declare
  // their local memory statically.
  size_t global[3], local[3];
  for (int d = 0; d < 3; ++d) {
    global[d] = size_t(dims.grid[d]) * dims.block[d];
    local[d] = dims.block[d];
  }
  cl_int err = clEnqueueNDRangeKernel(clQueue(queue), k, dims.rank, nullptr,
                                      global, local, 0, nullptr, nullptr);
  return err == CL_SUCCESS ? Status::ok()
                           : clError("clEnqueueNDRangeKernel", err);
}

Status OpenCLBackend::elapsedMs(EventHandle start, EventHandle end, float *ms) {
  auto *a = static_cast<ClEvent *>(start);
  auto *b = static_cast<ClEvent *>(end);
  if (!a->event || !b->event)
    return invalidArgument("elapsedMs: event not recorded");
  cl_int err = clWaitForEvents(1, &b->event);
  if (err != CL_SUCCESS)
    return clError("clWaitForEvents", err);
  cl_ulong t0 = 0, t1 = 0;
  err = clGetEventProfilingInfo(a->event, CL_PROFILING_COMMAND_END, sizeof(t0),
                                &t0, nullptr);
  if (err == CL_SUCCESS)
    err = clGetEventProfilingInfo(b->event, CL_PROFILING_COMMAND_END,
                                  sizeof(t1), &t1, nullptr);
  if (err != CL_SUCCESS)
    return clError("clGetEventProfilingInfo", err);
  *ms = t1 >= t0 ? static_cast<float>(t1 - t0) * 1e-6f : 0.0f;
  return Status::ok();
}

} // namespace

Status createOpenCLBackend(std::unique_ptr<Backend> *out) {
  auto backend = std::make_unique<OpenCLBackend>();
  if (Status s = backend->init(); !s)
    return s;
  *out = std::move(backend);
  return Status::ok();
}

} // namespace dynaspa::runtime
