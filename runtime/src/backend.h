//===- backend.h - the interface of every device backend -------*- C++ -*-===//
//
// Part of the dynaspa project.
//
//===----------------------------------------------------------------------===//
//
// The executor only speaks this interface; src/cuda/ and src/opencl/ each
// implement it over their driver. It is deliberately the intersection of what
// both APIs do well: opaque buffer and kernel handles, in-order work on a
// queue/stream, events for timing, and replayable recordings of enqueued work
// (CUDA graphs; on OpenCL simply the enqueue function). Launches and fills are
// asynchronous with respect to the host and take the queue explicitly: the
// backend's own one for dynaspa_operator_run, a caller's stream for
// dynaspa_operator_launch, which must never block (it may be captured into a
// caller's CUDA graph). Upload, download, synchronize and elapsedMs block and
// work on the own queue only.
//
//===----------------------------------------------------------------------===//

#ifndef DYNASPA_RUNTIME_SRC_BACKEND_H
#define DYNASPA_RUNTIME_SRC_BACKEND_H

#include "dynaspa/runtime/bundle.h"
#include "dynaspa/runtime/status.h"

#include <array>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace dynaspa::runtime {

/// A device allocation: a CUdeviceptr or a cl_mem, as an integer.
struct DeviceBuffer {
  uint64_t handle = 0;
  size_t bytes = 0;
};

/// A loaded module (CUmodule / cl_program) and a kernel in it (CUfunction /
/// cl_kernel).
using ModuleHandle = void *;
using KernelHandle = void *;
/// A timing event owned by the backend.
using EventHandle = void *;
/// A CUstream or a cl_command_queue.
using QueueHandle = void *;
/// Recorded work that can be replayed: an instantiated CUDA graph, or on
/// OpenCL the function that enqueues it.
using GraphHandle = void *;
/// Enqueues some work on the given queue.
using EnqueueFn = std::function<Status(QueueHandle)>;

/// One kernel argument, resolved to device handles.
struct KernelArg {
  bundle::ArgKind kind = bundle::ArgKind::Buffer;
  DeviceBuffer buffer;
  int64_t value = 0;
};

/// Grid and block in up to three dimensions (missing ones are 1). OpenCL's
/// global size is grid * block.
struct LaunchDims {
  /// How many dimensions the bundle gave (1..3): OpenCL's work_dim.
  uint32_t rank = 1;
  std::array<uint32_t, 3> grid = {1, 1, 1};
  std::array<uint32_t, 3> block = {1, 1, 1};
  uint32_t sharedBytes = 0;
};

/// What a calibration needs to know about the device (0 where the API does
/// not say).
struct DeviceInfo {
  /// SMs (CUDA) or compute units (OpenCL).
  uint32_t computeUnits = 0;
  /// Resident threads per SM (CUDA only).
  uint32_t maxThreadsPerComputeUnit = 0;
  uint32_t maxThreadsPerBlock = 0;
};

class Backend {
public:
  virtual ~Backend() = default;

  virtual dynaspa_device_kind_t kind() const = 0;
  virtual const std::string &deviceName() const = 0;

  virtual DeviceInfo deviceInfo() const { return {}; }

  /// The backend's own queue: every blocking call below works on it.
  virtual QueueHandle ownQueue() const = 0;
  /// The queue a C API caller passed as `stream`. CUDA: the CUstream itself
  /// (NULL is the legacy default stream); OpenCL: NULL means ownQueue().
  virtual QueueHandle callerQueue(void *stream) const = 0;
  /// Whether `queue` is being captured into a graph (CUDA stream capture);
  /// always false on OpenCL.
  virtual Status isCapturing(QueueHandle queue, bool *capturing) = 0;

  /// Allocates at least `bytes` (zero-sized buffers get a minimal allocation
  /// so that every argument is a valid handle).
  virtual Status allocate(size_t bytes, DeviceBuffer *out) = 0;
  virtual void release(DeviceBuffer buffer) = 0;
  /// Returns once `src` may be reused.
  virtual Status upload(DeviceBuffer dst, const void *src, size_t bytes) = 0;
  /// Blocks until the data is on the host.
  virtual Status download(DeviceBuffer src, void *dst, size_t bytes) = 0;
  virtual Status fillZero(DeviceBuffer buffer, size_t bytes,
                          QueueHandle queue) = 0;

  /// Builds one of the module's binaries that this device takes; fails with
  /// UNSUPPORTED when none fits.
  virtual Status loadModule(const bundle::Module &module,
                            ModuleHandle *out) = 0;
  virtual void unloadModule(ModuleHandle module) = 0;
  virtual Status getKernel(ModuleHandle module, const std::string &name,
                           KernelHandle *out) = 0;
  virtual void releaseKernel(KernelHandle kernel) = 0;
  virtual Status launch(KernelHandle kernel, const LaunchDims &dims,
                        const std::vector<KernelArg> &args,
                        QueueHandle queue) = 0;

  virtual Status createEvent(EventHandle *out) = 0;
  virtual void destroyEvent(EventHandle event) = 0;
  /// Marks the point after all work enqueued so far on the own queue.
  virtual Status recordEvent(EventHandle event) = 0;
  /// Milliseconds between two recorded events; waits for `end`.
  virtual Status elapsedMs(EventHandle start, EventHandle end, float *ms) = 0;
  virtual Status synchronize() = 0;

  /// Cross-queue ordering, for work split over two queues (the network
  /// executor's zero fills on a side queue). A sync event is cheaper than a
  /// timing one (CUDA: CU_EVENT_DISABLE_TIMING); destroy it with
  /// destroyEvent. recordEventOn marks the point after the work enqueued so
  /// far on `queue`; waitEvent makes work enqueued later on `queue` wait for
  /// the last such point of `event` (OpenCL also flushes `queue` on a
  /// record, as waits across queues require). Neither blocks the host, and on
  /// CUDA both are legal while `queue` is being captured: a record on a
  /// capturing stream and a wait for it on another stream fork that stream into
  /// the capture, and a wait of the capturing stream joins it back.
  virtual Status createSyncEvent(EventHandle *out) = 0;
  virtual Status recordEventOn(EventHandle event, QueueHandle queue) = 0;
  virtual Status waitEvent(QueueHandle queue, EventHandle event) = 0;
  /// A second queue on the same device and context as ownQueue(): CUDA a
  /// non-blocking stream, OpenCL an in-order queue. Work on it overlaps the
  /// other queues' unless ordered with events.
  virtual Status createQueue(QueueHandle *out) = 0;
  virtual void destroyQueue(QueueHandle queue) = 0;

  /// Records the work `enqueue` puts on the own queue into a graph, without
  /// running it. `enqueue` must outlive the graph (OpenCL keeps calling it).
  virtual Status captureGraph(const EnqueueFn &enqueue, GraphHandle *out) = 0;
  virtual void destroyGraph(GraphHandle graph) = 0;
  /// Replays `graph` once on the own queue, asynchronously.
  virtual Status launchGraph(GraphHandle graph) = 0;
  /// Replays `graph` `reps` times back to back on the own queue and returns
  /// the time of one replay in microseconds (total / reps). CUDA: events
  /// around the replays; OpenCL: host wall clock from the first enqueue to
  /// clFinish after the last (the queue is drained first).
  virtual Status timeGraph(GraphHandle graph, int reps,
                           double *usPerReplay) = 0;

  /// The native objects behind the backend, for callers that bring their
  /// own memory: the device context (CUcontext / cl_context) and ownQueue().
  virtual void *nativeContext() const = 0;
};

/// Opens the first CUDA device through a dlopen'ed libcuda.so.1. NO_DEVICE if
/// the driver or a device is missing; UNSUPPORTED if built without CUDA.
Status createCudaBackend(std::unique_ptr<Backend> *out);

/// Opens the first OpenCL GPU, else the first CPU device. NO_DEVICE if there
/// is no platform or device; UNSUPPORTED if built without OpenCL.
Status createOpenCLBackend(std::unique_ptr<Backend> *out);

} // namespace dynaspa::runtime

#endif // DYNASPA_RUNTIME_SRC_BACKEND_H
