//===- DeviceModel.cpp - built-in GPUs and the device file format ---------===//
//
// Part of the dynaspa project.
//
//===----------------------------------------------------------------------===//
//
// The four GPUs of the paper's evaluation (plus the H100 the project runs on)
// from published specifications, and a JSON device file through nlohmann/json.
// The speeds here are spec-sheet peaks: a calibration run on the device (the
// Fig. 7 microbenchmark and a copy kernel) should write a file with
// `"base": "<name>"` and the measured `global_bandwidth`, `shared_bandwidth`,
// `alpha` and `gamma`; parseDeviceJSON overlays it on the built-in entry.
//
// alpha is derived from the FP32 pipe width: an SM that issues F warp-wide
// FMA instructions per clock at f GHz spends 1/(F*f) ns per warp MAC.
// gamma (the per-wave constant of Fig. 7) is not published for any device;
// it is 0 until calibrated.
//
// The project is built with -fno-exceptions, so JSON is parsed with
// allow_exceptions=false and every value's type is checked before get<>().
//
//===----------------------------------------------------------------------===//

#include "dynaspa/Analysis/CostModel.h"

#include <nlohmann/json.hpp>

#include <fstream>
#include <sstream>
#include <variant>

using namespace dynaspa::cost;
using json = nlohmann::json;

//===----------------------------------------------------------------------===//
// Built-in descriptions
//===----------------------------------------------------------------------===//

/// ns per warp-wide MAC for `fp32LanesPerSm` FP32 lanes at `ghz`.
static double alphaFromPipe(int64_t fp32LanesPerSm, int64_t warpSize,
                            double ghz) {
  double warpMacsPerClock = static_cast<double>(fp32LanesPerSm) / warpSize;
  return 1.0 / (warpMacsPerClock * ghz);
}

static DeviceModel makeH100Sxm() {
  DeviceModel d;
  d.name = "h100-sxm";
  // NVIDIA H100 Tensor Core GPU Architecture whitepaper (2022): H100 SXM5 has
  // 132 SMs of 128 FP32 cores; H100 SXM5 datasheet: 3.35 TB/s HBM3, 67 TFLOPS
  // FP32 (= 132 * 128 * 2 * 1.98 GHz, the boost clock used below).
  d.sms = 132;
  d.globalBandwidth = 3350;
  constexpr double ghz = 1.98;
  // CUDA C++ Programming Guide, "Technical Specifications per Compute
  // Capability", CC 9.0: 2048 threads, 32 blocks, 64K registers, 228 KB
  // shared memory per SM, 227 KB per block (opt-in), 1 KB reserved per
  // block; 255 registers per thread.
  d.threadsPerSm = 2048;
  d.blocksPerSm = 32;
  d.registersPerSm = 65536;
  d.sharedPerSm = 228 * 1024;
  d.maxSharedPerBlock = 227 * 1024;
  d.reservedSharedPerBlock = 1024;
  // CUDA Occupancy Calculator (cuda_occupancy.h) for sm_90: registers in
  // units of 256 per warp, register-limited warps in multiples of 4, shared
  // memory in units of 128 B.
  d.registerAllocUnit = 256;
  d.warpAllocGranularity = 4;
  d.sharedAllocUnit = 128;
  // 32 banks x 4 B per clock per SM (CUDA Programming Guide, shared memory
  // section), so 128 B/clk/SM.
  d.sharedBandwidth = 128.0 * d.sms * ghz;
  // CUDA Best Practices Guide: global accesses are served in 32-byte sectors.
  d.transactionBytes = 32;
  d.alpha = alphaFromPipe(128, 32, ghz);
  return d;
}

static DeviceModel makeJetsonAgxOrin() {
  DeviceModel d;
  d.name = "jetson-agx-orin";
  // NVIDIA Jetson AGX Orin Series Technical Brief / data sheet (AGX Orin
  // 64GB): 2048-core Ampere GPU in 16 SMs (128 FP32 cores each), max GPU
  // clock 1.3 GHz (5.3 TFLOPS FP32), 256-bit LPDDR5 at 204.8 GB/s.
  d.sms = 16;
  d.globalBandwidth = 204.8;
  constexpr double ghz = 1.3;
  // CUDA C++ Programming Guide, CC 8.7: 1536 threads (48 warps), 16 blocks,
  // 64K registers, 164 KB shared per SM, 163 KB per block, 1 KB reserved.
  d.threadsPerSm = 1536;
  d.blocksPerSm = 16;
  d.registersPerSm = 65536;
  d.sharedPerSm = 164 * 1024;
  d.maxSharedPerBlock = 163 * 1024;
  d.reservedSharedPerBlock = 1024;
  d.registerAllocUnit = 256; // CUDA Occupancy Calculator, sm_8x.
  d.warpAllocGranularity = 4;
  d.sharedAllocUnit = 128;
  d.sharedBandwidth = 128.0 * d.sms * ghz;
  d.transactionBytes = 32;
  d.alpha = alphaFromPipe(128, 32, ghz);
  return d;
}

static DeviceModel makeJetsonAgxXavier() {
  DeviceModel d;
  d.name = "jetson-agx-xavier";
  // NVIDIA Jetson AGX Xavier data sheet: 512-core Volta GPU in 8 SMs (64 FP32
  // cores each), max GPU clock 1377 MHz (1.41 TFLOPS FP32), 256-bit LPDDR4x
  // at 137 GB/s.
  d.sms = 8;
  d.globalBandwidth = 137;
  constexpr double ghz = 1.377;
  // CUDA C++ Programming Guide, CC 7.2: 2048 threads, 32 blocks, 64K
  // registers, up to 96 KB shared per SM and per block (opt-in above 48 KB);
  // no per-block reservation before CC 8.0.
  d.threadsPerSm = 2048;
  d.blocksPerSm = 32;
  d.registersPerSm = 65536;
  d.sharedPerSm = 96 * 1024;
  d.maxSharedPerBlock = 96 * 1024;
  d.reservedSharedPerBlock = 0;
  // CUDA Occupancy Calculator, sm_7x: shared memory in units of 256 B.
  d.registerAllocUnit = 256;
  d.warpAllocGranularity = 4;
  d.sharedAllocUnit = 256;
  d.sharedBandwidth = 128.0 * d.sms * ghz;
  d.transactionBytes = 32;
  d.alpha = alphaFromPipe(64, 32, ghz);
  return d;
}

static DeviceModel makeAdreno650() {
  DeviceModel d;
  d.name = "adreno-650";
  // Qualcomm Snapdragon 865 product brief: LPDDR5 at 2750 MHz on a 64-bit
  // bus, 44 GB/s. GPU clock 587 MHz and ~1.2 TFLOPS FP32 (Wikipedia "Adreno"
  // table for the Snapdragon 865), i.e. 1024 FP32 lanes.
  d.globalBandwidth = 44;
  constexpr double ghz = 0.587;
  constexpr int64_t fp32Lanes = 1024;
  // Qualcomm Snapdragon OpenCL General Programming and Optimization guide
  // (80-NB295-11): Adreno 6xx waves are 64 work-items (full precision), at
  // most 1024 work-items per work-group and 32 KB of local memory.
  d.warpSize = 64;
  d.maxThreadsPerBlock = 1024;
  d.maxSharedPerBlock = 32 * 1024;
  // Not published; estimates to be replaced by a device file: 3 compute
  // units (what CL_DEVICE_MAX_COMPUTE_UNITS reports in public clinfo dumps),
  // one work-group's worth of local memory and threads per compute unit, no
  // register-file limit modelled, 64-byte memory transactions, 64 B/clk of
  // local memory per compute unit.
  d.sms = 3;
  d.threadsPerSm = 1024;
  d.sharedPerSm = 32 * 1024;
  d.registersPerSm = 1 << 30;
  d.blocksPerSm = 16;
  d.registerAllocUnit = 1;
  d.warpAllocGranularity = 1;
  d.sharedAllocUnit = 1;
  d.transactionBytes = 64;
  d.sharedBandwidth = 64.0 * d.sms * ghz;
  d.alpha = alphaFromPipe(fp32Lanes / d.sms, d.warpSize, ghz);
  return d;
}

std::vector<std::string> dynaspa::cost::getBuiltinDeviceNames() {
  return {"h100-sxm", "jetson-agx-orin", "jetson-agx-xavier", "adreno-650"};
}

std::optional<DeviceModel>
dynaspa::cost::getBuiltinDevice(std::string_view name) {
  if (name == "h100-sxm")
    return makeH100Sxm();
  if (name == "jetson-agx-orin")
    return makeJetsonAgxOrin();
  if (name == "jetson-agx-xavier")
    return makeJetsonAgxXavier();
  if (name == "adreno-650")
    return makeAdreno650();
  return std::nullopt;
}

//===----------------------------------------------------------------------===//
// Verification
//===----------------------------------------------------------------------===//

namespace {
/// One serialized field: its JSON key and where it lives in DeviceModel.
struct Field {
  const char *key;
  std::variant<int64_t DeviceModel::*, double DeviceModel::*> member;
};
} // namespace

/// Every numeric field, in file order. The first twelve keys are those of
/// `#spsparse.device`.
static const Field kFields[] = {
    {"sms", &DeviceModel::sms},
    {"warp_size", &DeviceModel::warpSize},
    {"threads_per_sm", &DeviceModel::threadsPerSm},
    {"shared_per_sm", &DeviceModel::sharedPerSm},
    {"registers_per_sm", &DeviceModel::registersPerSm},
    {"blocks_per_sm", &DeviceModel::blocksPerSm},
    {"global_bandwidth", &DeviceModel::globalBandwidth},
    {"shared_bandwidth", &DeviceModel::sharedBandwidth},
    {"transaction_bytes", &DeviceModel::transactionBytes},
    {"alpha", &DeviceModel::alpha},
    {"gamma", &DeviceModel::gamma},
    {"max_threads_per_block", &DeviceModel::maxThreadsPerBlock},
    {"max_shared_per_block", &DeviceModel::maxSharedPerBlock},
    {"max_registers_per_thread", &DeviceModel::maxRegistersPerThread},
    {"register_alloc_unit", &DeviceModel::registerAllocUnit},
    {"warp_alloc_granularity", &DeviceModel::warpAllocGranularity},
    {"shared_alloc_unit", &DeviceModel::sharedAllocUnit},
    {"reserved_shared_per_block", &DeviceModel::reservedSharedPerBlock},
    {"shared_banks", &DeviceModel::sharedBanks},
    {"bank_bytes", &DeviceModel::bankBytes},
    {"schedulers_per_sm", &DeviceModel::schedulersPerSm},
    {"memory_latency_ns", &DeviceModel::memoryLatencyNs},
    {"barrier_ns", &DeviceModel::barrierNs},
    {"kernel_gap_ns", &DeviceModel::kernelGapNs},
    {"atomic_ns", &DeviceModel::atomicNs},
};

std::string dynaspa::cost::verifyDevice(const DeviceModel &d) {
  if (d.name.empty())
    return "device needs a non-empty name";
  for (const Field &f : kFields) {
    std::string key = f.key;
    if (auto *m = std::get_if<int64_t DeviceModel::*>(&f.member)) {
      // Only the reservation may be 0.
      int64_t v = d.*(*m);
      if (v < 0 || (v == 0 && key != "reserved_shared_per_block"))
        return "device field '" + key + "' must be positive, got " +
               std::to_string(v);
      continue;
    }
    double v = d.*std::get<double DeviceModel::*>(f.member);
    // alpha, gamma and the latencies may be 0 (uncalibrated); bandwidths
    // may not. NaN fails.
    bool isCoefficient = key == "alpha" || key == "gamma" ||
                         key == "memory_latency_ns" || key == "barrier_ns" ||
                         key == "kernel_gap_ns" || key == "atomic_ns";
    if (!(isCoefficient ? v >= 0 : v > 0))
      return "device field '" + key + "' must be " +
             (isCoefficient ? "non-negative" : "positive") + ", got " +
             std::to_string(v);
  }
  if (d.maxSharedPerBlock > d.sharedPerSm)
    return "max_shared_per_block exceeds shared_per_sm";
  if (d.maxThreadsPerBlock > d.threadsPerSm)
    return "max_threads_per_block exceeds threads_per_sm";
  return "";
}

//===----------------------------------------------------------------------===//
// JSON
//===----------------------------------------------------------------------===//

std::optional<DeviceModel> dynaspa::cost::parseDeviceJSON(std::string_view text,
                                                          std::string &error) {
  json root = json::parse(text.begin(), text.end(), /*cb=*/nullptr,
                          /*allow_exceptions=*/false);
  if (root.is_discarded()) {
    error = "device file is not valid JSON";
    return std::nullopt;
  }
  if (!root.is_object()) {
    error = "device file must hold a JSON object";
    return std::nullopt;
  }
  DeviceModel d;
  auto base = root.find("base");
  if (base != root.end()) {
    if (!base->is_string()) {
      error = "'base' must be a string";
      return std::nullopt;
    }
    std::optional<DeviceModel> builtin =
        getBuiltinDevice(base->get<std::string>());
    if (!builtin) {
      error = "unknown base device '" + base->get<std::string>() + "'";
      return std::nullopt;
    }
    d = *builtin;
  }
  for (auto it = root.begin(); it != root.end(); ++it) {
    const std::string &key = it.key();
    const json &value = it.value();
    // "base" was applied above; "note" says where the numbers come from.
    if (key == "base" || key == "note") {
      if (!value.is_string()) {
        error = "'" + key + "' must be a string";
        return std::nullopt;
      }
      continue;
    }
    if (key == "name") {
      if (!value.is_string()) {
        error = "'name' must be a string";
        return std::nullopt;
      }
      d.name = value.get<std::string>();
      continue;
    }
    const Field *field = nullptr;
    for (const Field &f : kFields)
      if (key == f.key)
        field = &f;
    if (!field) {
      error = "unknown device field '" + key + "'";
      return std::nullopt;
    }
    if (auto *m = std::get_if<int64_t DeviceModel::*>(&field->member)) {
      if (!value.is_number_integer()) {
        error = "device field '" + key + "' must be an integer";
        return std::nullopt;
      }
      d.*(*m) = value.get<int64_t>();
    } else {
      if (!value.is_number()) {
        error = "device field '" + key + "' must be a number";
        return std::nullopt;
      }
      d.*std::get<double DeviceModel::*>(field->member) = value.get<double>();
    }
  }
  error = verifyDevice(d);
  if (!error.empty())
    return std::nullopt;
  return d;
}

std::string dynaspa::cost::printDeviceJSON(const DeviceModel &d) {
  // ordered_json keeps the file in kFields order, which reads better than
  // alphabetical and matches the attribute's parameter order.
  nlohmann::ordered_json root;
  root["name"] = d.name;
  for (const Field &f : kFields) {
    if (auto *m = std::get_if<int64_t DeviceModel::*>(&f.member))
      root[f.key] = d.*(*m);
    else
      root[f.key] = d.*std::get<double DeviceModel::*>(f.member);
  }
  return root.dump(2) + "\n";
}

std::optional<DeviceModel>
dynaspa::cost::readDeviceFile(const std::string &path, std::string &error) {
  std::ifstream in(path);
  if (!in) {
    error = "cannot open device file '" + path + "'";
    return std::nullopt;
  }
  std::stringstream text;
  text << in.rdbuf();
  std::optional<DeviceModel> d = parseDeviceJSON(text.str(), error);
  if (!d)
    error = path + ": " + error;
  return d;
}

bool dynaspa::cost::writeDeviceFile(const std::string &path,
                                    const DeviceModel &device,
                                    std::string &error) {
  std::ofstream out(path);
  out << printDeviceJSON(device);
  out.close();
  if (!out) {
    error = "cannot write device file '" + path + "'";
    return false;
  }
  return true;
}
