//===- dynaspa-calibrate.cpp - measure the cost model's speeds on a device ===//
//
// Part of the dynaspa project.
//
//===----------------------------------------------------------------------===//
//
// Runs the probes of a bundle from `dynaspa-compile --probes` on the device
// and writes the device file the compiler reads (dynaspa-cost --device-file,
// dynaspa-tune --device, spsparse-prune-schedules device-file=...):
//
//   - kernel_gap_ns: an empty launch inside a graph;
//   - alpha, gamma (eq. 11, the paper's Fig. 7): time = alpha * N_ops *
//     N_warp + gamma per wave, fitted over one-wave grids of 1/4 .. all of an
//     SM's threads and four loop lengths, the gap subtracted;
//   - shared_bandwidth, global_bandwidth: the slope of time against bytes
//     (so launch and tail costs do not bias it) of the shared-load and copy
//     probes.
//
// The file starts from a built-in description (`"base"`, guessed from the
// device name or --base) and overrides only what was measured, plus `sms`
// as the device reports it. The fits use the cost library itself
// (fitComputeLatency, fitLine), which is plain C++ like this runtime.
//
//===----------------------------------------------------------------------===//

#include "dynaspa/Analysis/CostModel.h"
#include "dynaspa/runtime/runtime.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <map>
#include <optional>
#include <sstream>

using namespace dynaspa;
using runtime::Status;
using json = nlohmann::ordered_json;

namespace {

const char *kUsage = R"(usage: dynaspa-calibrate PROBES.dspb -o DEVICE.json [options]

Times the cost model's calibration probes (a bundle from
`dynaspa-compile --probes`) on this machine's device and writes a device file
for dynaspa-cost, dynaspa-tune and spsparse-prune-schedules: alpha and gamma
(the paper's Fig. 7 microbenchmark), shared and global bandwidth, the kernel
gap inside a CUDA graph, and the SM count.

options:
  -o FILE           the device file to write (required)
  --device KIND     auto (default: CUDA if present, else OpenCL), cuda, opencl
  --base NAME       built-in description the file starts from (default:
                    guessed from the device name); one of )";

struct Options {
  std::string bundle, output, samples, base;
  dynaspa_device_kind_t device = DYNASPA_DEVICE_AUTO;
  bool quick = false;
  bool chainAlpha = false;
};

Status usageError(const std::string &what) {
  return runtime::invalidArgument(what + " (see --help)");
}

std::string builtinNames() {
  std::string names;
  for (const std::string &n : cost::getBuiltinDeviceNames())
    names += (names.empty() ? "" : ", ") + n;
  return names;
}

void printHelp() {
  std::cout << kUsage << builtinNames() << R"(
  --alpha-from-chain  take alpha and gamma from the dependent Fig. 7 chain
                    instead of independent FMAs (the templates' register
                    tiles issue independent FMAs, so that is the default)
  --samples FILE    also write every timed launch and fit as JSON
  --quick           small sizes and few repetitions (CPU devices, tests):
                    the numbers are then only a smoke test

Times are CUDA-graph replays (OpenCL: host clock) of 10 launches back to
back, median over rounds. Run it on an idle device.
)";
}

Status parseArgs(int argc, char **argv, Options *o, bool *help) {
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto value = [&](std::string *out) -> Status {
      if (i + 1 >= argc)
        return usageError(a + " needs a value");
      *out = argv[++i];
      return Status::ok();
    };
    Status s = Status::ok();
    if (a == "-h" || a == "--help") {
      *help = true;
      return Status::ok();
    } else if (a == "-o") {
      s = value(&o->output);
    } else if (a == "--samples") {
      s = value(&o->samples);
    } else if (a == "--base") {
      s = value(&o->base);
    } else if (a == "--device") {
      std::string kind;
      s = value(&kind);
      if (s && kind == "auto")
        o->device = DYNASPA_DEVICE_AUTO;
      else if (s && kind == "cuda")
        o->device = DYNASPA_DEVICE_CUDA;
      else if (s && kind == "opencl")
        o->device = DYNASPA_DEVICE_OPENCL;
      else if (s)
        s = usageError("--device must be auto, cuda or opencl, got '" + kind +
                       "'");
    } else if (a == "--quick") {
      o->quick = true;
    } else if (a == "--alpha-from-chain") {
      o->chainAlpha = true;
    } else if (!a.empty() && a[0] == '-') {
      s = usageError("unknown option '" + a + "'");
    } else if (o->bundle.empty()) {
      o->bundle = a;
    } else {
      s = usageError("more than one bundle given");
    }
    if (!s)
      return s;
  }
  if (o->bundle.empty())
    return usageError("no probe bundle given");
  if (o->output.empty())
    return usageError("no output file given (-o DEVICE.json)");
  return Status::ok();
}

/// The built-in description a device name most likely is.
std::optional<std::string> guessBase(const std::string &deviceName) {
  static const std::pair<const char *, const char *> kKnown[] = {
      {"H100", "h100-sxm"},
      {"Orin", "jetson-agx-orin"},
      {"Xavier", "jetson-agx-xavier"},
      {"Adreno", "adreno-650"}};
  for (auto [needle, name] : kKnown)
    if (deviceName.find(needle) != std::string::npos)
      return std::string(name);
  return std::nullopt;
}

/// One timed launch configuration of a probe.
struct Sample {
  uint32_t grid = 0;
  int64_t count = 0;
  double us = 0;
};

class Calibration {
public:
  Calibration(runtime::Bundle &bundle, const Options &options)
      : bundle_(bundle), quick_(options.quick) {
    timing_ = quick_ ? dynaspa_benchmark_options_t{1, 1, 3}
                     : dynaspa_benchmark_options_t{3, 10, 7};
    launches_ = quick_ ? 1 : 10;
  }

  Status findProbes() {
    for (size_t i = 0; i < bundle_.probeCount(); ++i) {
      dynaspa_probe_info_t info;
      if (Status s = bundle_.probeInfo(i, &info); !s)
        return s;
      probes_[info.kind] = {i, info};
    }
    for (dynaspa_probe_kind_t k :
         {DYNASPA_PROBE_FMA, DYNASPA_PROBE_FMA_CHAIN, DYNASPA_PROBE_SHARED,
          DYNASPA_PROBE_COPY})
      if (!probes_.count(k))
        return runtime::invalidArgument(
            "the bundle lacks a probe of kind " + std::to_string(k) +
            " (compile it with dynaspa-compile --probes)");
    return Status::ok();
  }

  const dynaspa_probe_info_t &info(dynaspa_probe_kind_t k) {
    return probes_[k].second;
  }

  /// Median time of one launch, in microseconds.
  Status time(dynaspa_probe_kind_t kind, uint32_t grid, int64_t count,
              uint32_t launches, Sample *out) {
    out->grid = grid;
    out->count = count;
    return bundle_.benchmarkProbe(probes_[kind].first, grid, count, launches,
                                  &timing_, &out->us);
  }

  /// The largest loop count whose launch takes about `targetUs` beyond the
  /// gap, found by doubling (the cost per iteration is unknown up front).
  Status scaleCount(dynaspa_probe_kind_t kind, uint32_t grid, double gapUs,
                    double targetUs, int64_t *count) {
    int64_t c = 16;
    Sample s;
    for (;;) {
      if (Status st = time(kind, grid, c, 1, &s); !st)
        return st;
      double work = s.us - gapUs;
      if (work >= targetUs / 8 || c >= (int64_t(1) << 28)) {
        double perIteration = std::max(work, 1e-3) / c;
        *count = std::clamp<int64_t>(
            static_cast<int64_t>(targetUs / perIteration), 4, INT32_MAX / 2);
        return Status::ok();
      }
      c *= 4;
    }
  }

  bool quick() const { return quick_; }
  uint32_t launches() const { return launches_; }

private:
  runtime::Bundle &bundle_;
  bool quick_;
  dynaspa_benchmark_options_t timing_;
  uint32_t launches_;
  std::map<int, std::pair<size_t, dynaspa_probe_info_t>> probes_;
};

json samplesJson(const std::vector<Sample> &samples) {
  json a = json::array();
  for (const Sample &s : samples)
    a.push_back({{"grid", s.grid}, {"count", s.count}, {"us", s.us}});
  return a;
}

/// `v` to 5 significant digits: what the timings resolve, and readable.
double significant(double v) {
  if (v == 0 || !std::isfinite(v))
    return v;
  double scale = std::pow(10.0, 4 - std::floor(std::log10(std::fabs(v))));
  return std::round(v * scale) / scale;
}

Status run(const Options &o) {
  runtime::Context context;
  if (Status s = runtime::Context::create(o.device, &context); !s)
    return s;
  runtime::Bundle bundle;
  if (Status s = context.loadFile(o.bundle, &bundle); !s)
    return s;
  std::string deviceName = context.deviceName();
  std::string base = o.base;
  if (base.empty()) {
    std::optional<std::string> guess = guessBase(deviceName);
    if (!guess)
      return runtime::invalidArgument(
          "cannot tell which built-in description '" + deviceName +
          "' is closest to: pass --base (one of " + builtinNames() + ")");
    base = *guess;
  }
  std::optional<cost::DeviceModel> model = cost::getBuiltinDevice(base);
  if (!model)
    return runtime::invalidArgument("unknown --base '" + base + "' (one of " +
                                    builtinNames() + ")");
  Calibration cal(bundle, o);
  if (Status s = cal.findProbes(); !s)
    return s;

  dynaspa_device_info_t dev = context.deviceInfo();
  int64_t sms = dev.compute_units ? dev.compute_units : model->sms;
  int64_t threadsPerSm = dev.max_threads_per_compute_unit
                             ? dev.max_threads_per_compute_unit
                             : model->threadsPerSm;
  const dynaspa_probe_info_t &fmaInfo = cal.info(DYNASPA_PROBE_FMA);
  int64_t block = fmaInfo.block;
  int64_t fullBlocks = std::max<int64_t>(1, threadsPerSm / block);
  if (sms * fullBlocks * block > fmaInfo.elements)
    fullBlocks = std::max<int64_t>(1, fmaInfo.elements / (sms * block));
  // One wave at 1/4, 1/2, 3/4 and all of an SM's threads: below a quarter a
  // dependent chain is latency-bound and eq. 11's line does not hold.
  std::vector<int64_t> blocksPerSm;
  for (int64_t q = 1; q <= 4; ++q)
    blocksPerSm.push_back(std::max<int64_t>(1, fullBlocks * q / 4));
  if (cal.quick())
    blocksPerSm = {std::max<int64_t>(1, fullBlocks / 2), fullBlocks};
  blocksPerSm.erase(std::unique(blocksPerSm.begin(), blocksPerSm.end()),
                    blocksPerSm.end());
  uint32_t fullGrid = static_cast<uint32_t>(sms * fullBlocks);
  double targetUs = cal.quick() ? 20000 : 300;
  json record = {{"device", deviceName},
                 {"base", base},
                 {"sms", sms},
                 {"threads_per_sm", threadsPerSm}};

  std::cout << "dynaspa-calibrate on " << deviceName << " (" << sms
            << " SMs, base '" << base << "')\n";

  // The cost of one empty launch in a graph.
  Sample gap;
  if (Status s = cal.time(DYNASPA_PROBE_FMA, 1, 0, 20, &gap); !s)
    return s;
  record["kernel_gap"] = samplesJson({gap});
  std::cout << "  kernel gap            " << std::setw(9) << std::fixed
            << std::setprecision(2) << gap.us << " us\n";

  // alpha and gamma from each FMA probe.
  std::map<dynaspa_probe_kind_t, cost::ComputeFit> computeFits;
  for (auto [kind, name] : {std::pair{DYNASPA_PROBE_FMA, "fma"},
                            std::pair{DYNASPA_PROBE_FMA_CHAIN, "fma_chain"}}) {
    const dynaspa_probe_info_t &info = cal.info(kind);
    int64_t maxCount = 0;
    if (Status s = cal.scaleCount(kind, fullGrid, gap.us, targetUs, &maxCount);
        !s)
      return s;
    std::vector<cost::ComputeSample> points;
    std::vector<Sample> samples;
    for (int64_t b : blocksPerSm) {
      for (int64_t q = 1; q <= 4; ++q) {
        Sample s;
        int64_t count = std::max<int64_t>(1, maxCount * q / 4);
        if (Status st = cal.time(kind, static_cast<uint32_t>(sms * b), count,
                                 cal.launches(), &s);
            !st)
          return st;
        samples.push_back(s);
        points.push_back({static_cast<double>(count * info.work),
                          static_cast<double>(b * block) / model->warpSize,
                          (s.us - gap.us) * 1e3});
      }
    }
    std::optional<cost::ComputeFit> fit = cost::fitComputeLatency(points);
    if (!fit)
      return Status(DYNASPA_DEVICE_ERROR,
                    std::string("the ") + name + " probe's times fit no line");
    computeFits[kind] = *fit;
    record[name] = {{"samples", samplesJson(samples)},
                    {"alpha", fit->alpha},
                    {"gamma", fit->gamma},
                    {"r2", fit->r2}};
    std::cout << "  " << std::left << std::setw(22)
              << (std::string(name) + " alpha") << std::right << std::setw(9)
              << std::setprecision(4) << fit->alpha
              << " ns per warp MAC per SM, gamma " << std::setprecision(1)
              << fit->gamma << " ns, R^2 " << std::setprecision(4) << fit->r2
              << "\n";
  }

  // Bandwidths: the slope of time against bytes moved.
  auto bandwidth = [&](dynaspa_probe_kind_t kind, const char *name,
                       double *gbPerS) -> Status {
    const dynaspa_probe_info_t &info = cal.info(kind);
    std::vector<int64_t> counts;
    if (kind == DYNASPA_PROBE_COPY) {
      int64_t max = cal.quick() ? info.elements / 64 : info.elements;
      for (int64_t q = 1; q <= 4; ++q)
        counts.push_back(max * q / 4 / info.work * info.work);
    } else {
      int64_t maxCount = 0;
      if (Status s =
              cal.scaleCount(kind, fullGrid, gap.us, targetUs, &maxCount);
          !s)
        return s;
      for (int64_t q = 1; q <= 4; ++q)
        counts.push_back(std::max<int64_t>(1, maxCount * q / 4));
    }
    std::vector<double> bytes, ns;
    std::vector<Sample> samples;
    for (int64_t count : counts) {
      Sample s;
      if (Status st = cal.time(kind, fullGrid, count, cal.launches(), &s); !st)
        return st;
      samples.push_back(s);
      // Copy: read and written once; shared: `work` words per iteration per
      // thread.
      bytes.push_back(kind == DYNASPA_PROBE_COPY
                          ? 2.0 * 4 * count
                          : 4.0 * info.work * count * fullGrid * block);
      ns.push_back(s.us * 1e3);
    }
    std::optional<cost::LineFit> fit = cost::fitLine(bytes, ns);
    if (!fit || !(fit->slope > 0))
      return Status(DYNASPA_DEVICE_ERROR,
                    std::string("the ") + name +
                        " probe's times do not grow with the bytes moved");
    *gbPerS = 1 / fit->slope;
    record[name] = {{"samples", samplesJson(samples)},
                    {"bandwidth_gb_s", *gbPerS},
                    {"r2", fit->r2}};
    std::cout << "  " << std::left << std::setw(22)
              << (std::string(name) + " bandwidth") << std::right
              << std::setw(9) << std::setprecision(1) << *gbPerS
              << " GB/s, R^2 " << std::setprecision(4) << fit->r2 << "\n";
    return Status::ok();
  };
  double sharedBw = 0, globalBw = 0;
  if (Status s = bandwidth(DYNASPA_PROBE_SHARED, "shared", &sharedBw); !s)
    return s;
  if (Status s = bandwidth(DYNASPA_PROBE_COPY, "copy", &globalBw); !s)
    return s;

  const cost::ComputeFit &compute =
      computeFits[o.chainAlpha ? DYNASPA_PROBE_FMA_CHAIN : DYNASPA_PROBE_FMA];
  model->sms = sms;
  model->alpha = compute.alpha;
  model->gamma = compute.gamma;
  model->sharedBandwidth = sharedBw;
  model->globalBandwidth = globalBw;
  model->kernelGapNs = gap.us * 1e3;
  if (std::string why = cost::verifyDevice(*model); !why.empty())
    return Status(DYNASPA_DEVICE_ERROR,
                  "the measurements make an invalid device: " + why);

  std::time_t now = std::time(nullptr);
  char date[16];
  std::strftime(date, sizeof(date), "%Y-%m-%d", std::gmtime(&now));
  std::ostringstream note;
  note << "dynaspa-calibrate on " << deviceName << ", " << date
       << (o.quick ? " (--quick: a smoke test, not a calibration)" : "")
       << ": alpha/gamma from the "
       << (o.chainAlpha ? "fma_chain (Fig. 7)" : "fma (independent)")
       << " probe (R^2 " << std::setprecision(4) << compute.r2
       << "), bandwidths from the slope of time against bytes, kernel gap "
          "from an empty launch in a graph";
  json file = {{"base", base},
               {"sms", model->sms},
               {"alpha", significant(model->alpha)},
               {"gamma", significant(model->gamma)},
               {"global_bandwidth", significant(model->globalBandwidth)},
               {"shared_bandwidth", significant(model->sharedBandwidth)},
               {"kernel_gap_ns", significant(model->kernelGapNs)},
               {"note", note.str()}};
  // Written beside the target, read back the way the compiler reads it, and
  // only then renamed: a file the compiler would reject never lands at -o.
  std::string tmp = o.output + ".tmp";
  {
    std::ofstream out(tmp);
    out << file.dump(1) << "\n";
    if (!out)
      return runtime::invalidArgument("cannot write " + tmp);
  }
  std::string error;
  if (!cost::readDeviceFile(tmp, error)) {
    std::remove(tmp.c_str());
    return Status(DYNASPA_DEVICE_ERROR,
                  "the measurements make a device file the compiler "
                  "rejects: " + error);
  }
  if (std::rename(tmp.c_str(), o.output.c_str()) != 0) {
    std::remove(tmp.c_str());
    return runtime::invalidArgument("cannot write " + o.output);
  }
  if (!o.samples.empty()) {
    std::ofstream out(o.samples);
    out << record.dump(1) << "\n";
    if (!out)
      return runtime::invalidArgument("cannot write " + o.samples);
  }
  std::cout << "wrote " << o.output << "\n";
  return Status::ok();
}

} // namespace

int main(int argc, char **argv) {
  Options options;
  bool help = false;
  Status s = parseArgs(argc, argv, &options, &help);
  if (help) {
    printHelp();
    return 0;
  }
  if (s)
    s = run(options);
  if (!s) {
    std::cerr << "dynaspa-calibrate: error: " << s.message() << "\n";
    return 1;
  }
  return 0;
}
