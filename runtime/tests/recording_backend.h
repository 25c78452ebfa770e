//===- recording_backend.h - a Backend that logs its calls ------*- C++ -*-===//
//
// Part of the dynaspa project.
//
//===----------------------------------------------------------------------===//
//
// What a real device cannot show is the order of the executors' calls: this
// fake Backend logs every call as a line ("alloc 3 160", "fill 3 q1",
// "launch count_rows 2 4 q1", "record e1000 q5", "wait q100 e1000"), with
// buffers, queues and events as small integers so that tests can name them.
// It runs nothing.
//
//===----------------------------------------------------------------------===//

#ifndef DYNASPA_RUNTIME_TESTS_RECORDING_BACKEND_H
#define DYNASPA_RUNTIME_TESTS_RECORDING_BACKEND_H

#include "backend.h"

#include <cstring>
#include <deque>
#include <map>
#include <string>
#include <vector>

namespace dynaspa::runtime::testing {

/// Logs calls as strings; handles are small integers so tests can name them.
class RecordingBackend final : public Backend {
public:
  std::vector<std::string> log;
  /// What a download of a count buffer returns: `counts` by handle, else
  /// `count`.
  int32_t count = 0;
  std::map<uint64_t, int32_t> counts;
  bool capturing = false;
  /// timeGraph's answers, in call order.
  std::deque<double> times;
  /// The byte count of every fillZero, in call order.
  std::vector<size_t> fillBytes;
  /// The size of every allocation by handle (kept when the log is cleared).
  std::map<uint64_t, size_t> sizes;

  dynaspa_device_kind_t kind() const override { return DYNASPA_DEVICE_CUDA; }
  const std::string &deviceName() const override { return name_; }
  QueueHandle ownQueue() const override { return queue(1); }
  QueueHandle callerQueue(void *stream) const override { return stream; }
  void *nativeContext() const override { return nullptr; }
  Status isCapturing(QueueHandle, bool *out) override {
    *out = capturing;
    return Status::ok();
  }

  Status allocate(size_t bytes, DeviceBuffer *out) override {
    out->handle = nextHandle_++;
    out->bytes = bytes;
    sizes[out->handle] = bytes;
    log.push_back("alloc " + std::to_string(out->handle) + " " +
                  std::to_string(bytes));
    return Status::ok();
  }
  void release(DeviceBuffer b) override {
    log.push_back("release " + std::to_string(b.handle));
  }
  Status upload(DeviceBuffer dst, const void *, size_t) override {
    log.push_back("upload " + std::to_string(dst.handle));
    return Status::ok();
  }
  Status download(DeviceBuffer src, void *dst, size_t bytes) override {
    log.push_back("download " + std::to_string(src.handle));
    if (bytes == sizeof(int32_t)) {
      auto it = counts.find(src.handle);
      std::memcpy(dst, it == counts.end() ? &count : &it->second,
                  sizeof(count));
    } else
      std::memset(dst, 0, bytes);
    return Status::ok();
  }
  Status fillZero(DeviceBuffer b, size_t bytes, QueueHandle q) override {
    log.push_back("fill " + std::to_string(b.handle) + " q" + queueName(q));
    fillBytes.push_back(bytes);
    return Status::ok();
  }
  Status loadModule(const bundle::Module &, ModuleHandle *out) override {
    *out = this;
    return Status::ok();
  }
  void unloadModule(ModuleHandle) override {}
  Status getKernel(ModuleHandle, const std::string &name,
                   KernelHandle *out) override {
    names_.push_back(name);
    *out = &names_.back();
    return Status::ok();
  }
  void releaseKernel(KernelHandle) override {}
  Status launch(KernelHandle kernel, const LaunchDims &,
                const std::vector<KernelArg> &args, QueueHandle q) override {
    std::string line = "launch " + *static_cast<std::string *>(kernel);
    for (const KernelArg &a : args)
      if (a.kind == bundle::ArgKind::Buffer)
        line += " " + std::to_string(a.buffer.handle);
    log.push_back(line + " q" + queueName(q));
    return Status::ok();
  }
  Status createEvent(EventHandle *out) override {
    *out = this;
    return Status::ok();
  }
  void destroyEvent(EventHandle) override {}
  Status recordEvent(EventHandle) override { return Status::ok(); }
  Status elapsedMs(EventHandle, EventHandle, float *ms) override {
    *ms = 1.0f;
    return Status::ok();
  }
  Status synchronize() override {
    log.push_back("sync");
    return Status::ok();
  }
  Status createSyncEvent(EventHandle *out) override {
    *out = reinterpret_cast<EventHandle>(nextEvent_++);
    log.push_back("event " + eventName(*out));
    return Status::ok();
  }
  Status recordEventOn(EventHandle e, QueueHandle q) override {
    log.push_back("record e" + eventName(e) + " q" + queueName(q));
    return Status::ok();
  }
  Status waitEvent(QueueHandle q, EventHandle e) override {
    log.push_back("wait q" + queueName(q) + " e" + eventName(e));
    return Status::ok();
  }
  Status createQueue(QueueHandle *out) override {
    *out = queue(nextQueue_++);
    log.push_back("queue " + queueName(*out));
    return Status::ok();
  }
  void destroyQueue(QueueHandle q) override {
    log.push_back("destroy queue " + queueName(q));
  }
  Status captureGraph(const EnqueueFn &enqueue, GraphHandle *out) override {
    log.push_back("capture begin");
    Status s = enqueue(queue(7));
    log.push_back("capture end");
    *out = new EnqueueFn(enqueue);
    return s;
  }
  void destroyGraph(GraphHandle g) override {
    delete static_cast<EnqueueFn *>(g);
  }
  Status launchGraph(GraphHandle) override {
    log.push_back("replay");
    return Status::ok();
  }
  Status timeGraph(GraphHandle, int reps, double *us) override {
    log.push_back("time " + std::to_string(reps));
    *us = times.empty() ? 1.0 : times.front();
    if (!times.empty())
      times.pop_front();
    return Status::ok();
  }

  static QueueHandle queue(uintptr_t n) {
    return reinterpret_cast<QueueHandle>(n);
  }

  static std::string queueName(QueueHandle q) {
    return std::to_string(reinterpret_cast<uintptr_t>(q));
  }
  static std::string eventName(EventHandle e) {
    return std::to_string(reinterpret_cast<uintptr_t>(e));
  }

private:
  std::string name_ = "recording";
  uint64_t nextHandle_ = 1;
  /// Side queues are q100, q101, ...; sync events e1000, e1001, ...
  uintptr_t nextQueue_ = 100;
  uintptr_t nextEvent_ = 1000;
  std::deque<std::string> names_;
};

/// Log lines that start with `prefix`.
inline std::vector<std::string> grep(const std::vector<std::string> &log,
                                     const std::string &prefix) {
  std::vector<std::string> out;
  for (const std::string &line : log)
    if (line.rfind(prefix, 0) == 0)
      out.push_back(line);
  return out;
}

/// Index of the first/last line starting with `prefix`, or -1.
inline int first(const std::vector<std::string> &log,
                 const std::string &prefix) {
  for (size_t i = 0; i < log.size(); ++i)
    if (log[i].rfind(prefix, 0) == 0)
      return static_cast<int>(i);
  return -1;
}
inline int last(const std::vector<std::string> &log,
                const std::string &prefix) {
  for (size_t i = log.size(); i-- > 0;)
    if (log[i].rfind(prefix, 0) == 0)
      return static_cast<int>(i);
  return -1;
}

} // namespace dynaspa::runtime::testing

#endif // DYNASPA_RUNTIME_TESTS_RECORDING_BACKEND_H
