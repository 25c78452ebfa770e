//===- dynaspa-run.cpp - run or inspect a dynaspa bundle ------------------===//
//
// Part of the dynaspa project.
//
//===----------------------------------------------------------------------===//
//
// The command-line face of the runtime: loads a bundle, runs one operator
// (or a chain of them as a network) on .npy/.png inputs, optionally checks
// it against the float64 reference, times it (dynaspa_operator_benchmark /
// dynaspa_network_benchmark) or only describes the bundle. See helpText()
// in options.cpp for the interface.
//
// The bundle is read and verified here before any device is opened, so a
// bad file is reported the same way on a machine without a GPU. Every
// failure becomes one "dynaspa-run: error: ..." line and a non-zero exit;
// exceptions (bad_alloc, a JSON encoding error) are caught in main.
//
//===----------------------------------------------------------------------===//

#include "inputs.h"
#include "inspect.h"
#include "options.h"

#include "dynaspa/runtime/bundle.h"
#include "dynaspa/runtime/npy.h"
#include "dynaspa/runtime/reference.h"
#include "dynaspa/runtime/runtime.hpp"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <fstream>
#include <iostream>
#include <iterator>

namespace dynaspa::run {
namespace {

namespace fb = ::dynaspa::bundle;
using nlohmann::json;
using runtime::NdArray;
using runtime::Status;

enum ExitCode { kOk = 0, kError = 1, kUsage = 2, kCheckFailed = 3 };

int fail(const std::string &message, int code = kError) {
  std::cerr << "dynaspa-run: error: " << message << "\n";
  return code;
}

/// Where the mask is among an operator's inputs: conv2d (input, filter,
/// mask[, bias]), batch_matmul (lhs, rhs, row_mask[, col_mask]).
constexpr size_t kMaskInput = 2;

/// The relative tolerance of --check, as in python/dynaspa/reference.py, and
/// the one for an operator with a variant on tensor cores: TF32 operands
/// keep 10 bits of mantissa, so a sum of K products is off by about
/// sqrt(K) 2^-11 of its terms' scale.
constexpr double kTolerance = 1e-4, kTf32Tolerance = 5e-3;

double toleranceOf(const fb::Operator &op) {
  return runtime::countTf32Variants(op) ? kTf32Tolerance : kTolerance;
}

/// The bundle file's bytes, 8-byte aligned as verifyBundle needs.
struct BundleFile {
  std::vector<uint64_t> words;
  size_t size = 0;
  const fb::Bundle *root = nullptr;
  const uint8_t *data() const {
    return reinterpret_cast<const uint8_t *>(words.data());
  }
};

Status readBundle(const std::string &path, BundleFile *out) {
  std::ifstream in(path, std::ios::binary);
  if (!in)
    return Status(DYNASPA_IO_ERROR,
                  "cannot open bundle '" + path + "': " + std::strerror(errno));
  std::vector<char> bytes((std::istreambuf_iterator<char>(in)),
                          std::istreambuf_iterator<char>());
  if (in.bad())
    return Status(DYNASPA_IO_ERROR, "cannot read bundle '" + path + "'");
  out->size = bytes.size();
  out->words.assign((bytes.size() + 7) / 8, 0);
  if (!bytes.empty())
    std::memcpy(out->words.data(), bytes.data(), bytes.size());
  if (Status s = runtime::verifyBundle(out->data(), out->size, &out->root); !s)
    return Status(s.code(), path + ": " + s.message());
  return Status::ok();
}

Status findOperator(const fb::Bundle &bundle, const std::string &spec,
                    uint32_t *out) {
  uint32_t count = bundle.operators() ? bundle.operators()->size() : 0;
  if (count == 0)
    return runtime::invalidArgument(
        "the bundle has no operators (a calibration bundle: run it with "
        "dynaspa-calibrate)");
  if (spec.empty()) {
    *out = 0;
    return Status::ok();
  }
  if (std::all_of(spec.begin(), spec.end(),
                  [](char c) { return c >= '0' && c <= '9'; }) &&
      spec.size() < 10) {
    uint32_t index = static_cast<uint32_t>(std::stoul(spec));
    if (index >= count)
      return runtime::invalidArgument("--op " + spec +
                                      " out of range: the "
                                      "bundle has " +
                                      std::to_string(count) + " operators");
    *out = index;
    return Status::ok();
  }
  std::string names;
  for (uint32_t i = 0; i < count; ++i) {
    std::string name = bundle.operators()->Get(i)->name()->str();
    if (name == spec) {
      *out = i;
      return Status::ok();
    }
    names += (i ? ", " : "") + name;
  }
  return runtime::invalidArgument("no operator named '" + spec +
                                  "' (the bundle has: " + names + ")");
}

Status reference(const fb::Operator &op, const std::vector<NdArray> &in,
                 NdArray *out) {
  const NdArray *extra = in.size() > 3 ? &in[3] : nullptr;
  if (op.kind() == fb::OpKind::BatchMatmul)
    return runtime::referenceBatchMatmul(in[0], in[1], in[2], extra, out);
  runtime::Conv2DParams p;
  p.layout = op.layout() == fb::Layout::NHWC ? runtime::ConvLayout::NHWC
                                             : runtime::ConvLayout::NCHW;
  // The verifier allows these to be empty (defaults) or exactly 2 / 4 long.
  if (op.strides() && op.strides()->size() == 2)
    p.strides = {op.strides()->Get(0), op.strides()->Get(1)};
  if (op.dilations() && op.dilations()->size() == 2)
    p.dilations = {op.dilations()->Get(0), op.dilations()->Get(1)};
  if (op.padding() && op.padding()->size() == 4)
    for (uint32_t i = 0; i < 4; ++i)
      p.padding[i] = op.padding()->Get(i);
  return runtime::referenceConv2D(p, in[0], in[1], in[2], extra, out);
}

/// max |got - ref|, that relative to max(1, max |ref|), and whether every
/// output whose reference is zero (masked off) is exactly zero.
json compare(const NdArray &got, const NdArray &ref, double tolerance) {
  double maxAbs = 0, maxRef = 0;
  bool zerosExact = true;
  for (int64_t i = 0; i < ref.numel(); ++i) {
    double r = ref.get(i), g = got.get(i);
    double err = std::isnan(g) ? INFINITY : std::fabs(g - r);
    maxAbs = std::max(maxAbs, err);
    maxRef = std::max(maxRef, std::fabs(r));
    if (r == 0.0 && g != 0.0)
      zerosExact = false;
  }
  double maxRel = maxAbs / std::max(1.0, maxRef);
  return {{"max_abs_err", maxAbs},
          {"max_rel_err", maxRel},
          {"zeros_exact", zerosExact},
          {"tolerance", tolerance},
          {"ok", maxRel <= tolerance && zerosExact}};
}

std::string variantName(const fb::Operator &op, int32_t v) {
  if (v < 0 || static_cast<uint32_t>(v) >= op.variants()->size())
    return "?";
  const flatbuffers::String *name = op.variants()->Get(v)->name();
  return name ? name->str() : std::string();
}

/// --device auto: a bundle with binaries for only one backend picks it;
/// otherwise the runtime's choice (CUDA if usable, else OpenCL).
dynaspa_device_kind_t pickDevice(const fb::Bundle &bundle,
                                 dynaspa_device_kind_t requested) {
  if (requested != DYNASPA_DEVICE_AUTO || !bundle.modules())
    return requested;
  bool cuda = false, opencl = false;
  for (const fb::Module *m : *bundle.modules())
    for (const fb::Binary *b : *m->binaries())
      (b->format() == fb::Format::PTX || b->format() == fb::Format::CUBIN
           ? cuda
           : opencl) = true;
  if (cuda != opencl)
    return cuda ? DYNASPA_DEVICE_CUDA : DYNASPA_DEVICE_OPENCL;
  return requested;
}

int runOperator(const Options &o, const BundleFile &file, uint32_t opIndex) {
  const fb::Operator &op = *file.root->operators()->Get(opIndex);
  const fb::Tensor &outT = *op.buffers()->Get(op.outputs()->Get(0));
  std::vector<int64_t> outShape(outT.shape()->begin(), outT.shape()->end());
  HostInputs inputs;
  if (Status s = loadInputs(o, op, &inputs); !s)
    return fail(s.message());

  runtime::Context context;
  if (Status s =
          runtime::Context::create(pickDevice(*file.root, o.device), &context);
      !s)
    return fail(s.message().rfind("no usable device", 0) == 0
                    ? s.message()
                    : "no usable device: " + s.message());
  int code = kOk;
  json report;
  {
    // The bundle must go before the context.
    runtime::Bundle bundle;
    if (Status s = context.loadBytes(file.data(), file.size, &bundle); !s)
      return fail(o.bundle + ": " + s.message());
    if (o.variantLanes)
      if (Status s = bundle.setVariantLanes(opIndex, true); !s)
        return fail("--variant-lanes: " + s.message());

    NdArray output = NdArray::zeros(DYNASPA_F32, outShape);
    std::vector<dynaspa_host_tensor_t> hostIn;
    for (NdArray &a : inputs.arrays)
      hostIn.push_back({a.bytes.data(), DYNASPA_F32,
                        static_cast<int32_t>(a.shape.size()), a.shape.data()});
    std::vector<dynaspa_host_tensor_t> hostOut = {
        {output.bytes.data(), DYNASPA_F32,
         static_cast<int32_t>(output.shape.size()), output.shape.data()}};
    if (o.check) {
      // Leave the device output of the complement mask behind: every element
      // the checked run must set to zero is then non-zero (unless its value
      // happens to be 0), whether the runtime clears the output or the
      // kernels write their zeros.
      NdArray complement = inputs.arrays[kMaskInput];
      for (int64_t i = 0; i < complement.numel(); ++i)
        complement.set(i, complement.get(i) == 0 ? 1 : 0);
      std::vector<dynaspa_host_tensor_t> flipped = hostIn;
      flipped[kMaskInput].data = complement.bytes.data();
      if (Status s = bundle.run(opIndex, flipped, hostOut, nullptr); !s)
        return fail("the complement-mask run before --check: " + s.message());
      // And the mask itself once: an active element the checked run adds to
      // (a split reduction) without zeroing it first then holds this run's
      // value twice. Stale elements of the complement run stay stale.
      if (Status s = bundle.run(opIndex, hostIn, hostOut, nullptr); !s)
        return fail("the pre-run before --check: " + s.message());
    }
    dynaspa_run_stats_t stats = {};
    if (Status s = bundle.run(opIndex, hostIn, hostOut, &stats); !s)
      return fail(s.message());

    report["device"] = context.deviceName();
    report["variant_lanes"] = o.variantLanes;
    report["operator"] = {{"index", opIndex},
                          {"name", op.name()->str()},
                          {"kind", fb::EnumNameOpKind(op.kind())},
                          {"self_dispatch", op.self_dispatch()}};
    json in = json::array();
    for (size_t i = 0; i < inputs.arrays.size(); ++i) {
      const fb::Tensor &t =
          *op.buffers()->Get(op.inputs()->Get(static_cast<uint32_t>(i)));
      in.push_back({{"name", t.name() ? t.name()->str() : std::string()},
                    {"shape", inputs.arrays[i].shape},
                    {"source", inputs.sources[i]}});
    }
    report["inputs"] = in;
    report["run"] = {{"variant", stats.variant},
                     {"variant_name", variantName(op, stats.variant)},
                     {"tile_count", stats.tile_count},
                     {"prologue_ms", stats.prologue_ms},
                     {"variant_ms", stats.variant_ms}};

    if (!o.output.empty()) {
      if (Status s = runtime::writeNpy(o.output, output); !s)
        return fail(o.output + ": " + s.message());
      report["output"] = o.output;
    }
    if (o.check) {
      NdArray want;
      if (Status s = reference(op, inputs.arrays, &want); !s)
        return fail("reference: " + s.message());
      report["check"] = compare(output, want, toleranceOf(op));
      if (!report["check"]["ok"].get<bool>())
        code = kCheckFailed;
    }
    if (o.benchmark) {
      dynaspa_benchmark_options_t bo = {o.warmup, o.reps, o.rounds};
      dynaspa_benchmark_result_t r = {};
      if (Status s = bundle.benchmark(opIndex, &bo, &r); !s)
        return fail("benchmark: " + s.message());
      report["benchmark"] = {{"method", r.method},
                             {"reps", o.reps},
                             {"rounds", o.rounds},
                             {"warmup", o.warmup},
                             {"median_us", r.median_us},
                             {"min_us", r.min_us},
                             {"overhead_us", r.overhead_us},
                             {"overhead_min_us", r.overhead_min_us},
                             {"zero_fill_us", r.zero_fill_us},
                             {"variant", r.variant},
                             {"variant_name", variantName(op, r.variant)},
                             {"tile_count", r.tile_count},
                             {"host_selected", r.host_selected != 0}};
    }
  }

  if (o.json) {
    std::cout << report.dump(2, ' ', false, json::error_handler_t::replace)
              << "\n";
  } else {
    const json &r = report["run"];
    std::cout << "device: " << report["device"].get<std::string>() << "\n"
              << "operator [" << opIndex << "] " << op.name()->str() << " ("
              << fb::EnumNameOpKind(op.kind())
              << (op.self_dispatch() ? ", self-dispatching" : "") << ")\n";
    for (const json &i : report["inputs"])
      std::cout << "  input " << i["name"].get<std::string>() << " "
                << shapeString(i["shape"].get<std::vector<int64_t>>()) << ": "
                << i["source"].get<std::string>() << "\n";
    std::cout << "run: variant " << r["variant"].get<int>() << " '"
              << r["variant_name"].get<std::string>() << "', tile count "
              << r["tile_count"].get<int64_t>() << ", prologue "
              << r["prologue_ms"].get<double>() << " ms, variants "
              << r["variant_ms"].get<double>() << " ms\n";
    if (report.contains("output"))
      std::cout << "output: " << shapeString(outShape) << " -> " << o.output
                << "\n";
    if (report.contains("check")) {
      const json &c = report["check"];
      std::cout << "check: max abs err " << c["max_abs_err"].get<double>()
                << ", max rel err " << c["max_rel_err"].get<double>()
                << " (tolerance " << c["tolerance"].get<double>()
                << "), masked-off outputs "
                << (c["zeros_exact"].get<bool>() ? "exactly zero"
                                                 : "NOT all zero")
                << ": " << (c["ok"].get<bool>() ? "ok" : "FAILED") << "\n";
    }
    if (report.contains("benchmark")) {
      const json &b = report["benchmark"];
      std::cout << "benchmark (" << b["method"].get<std::string>() << ", "
                << o.reps << " reps x " << o.rounds << " rounds, " << o.warmup
                << " warmup): median " << b["median_us"].get<double>()
                << " us, min " << b["min_us"].get<double>() << " us; overhead "
                << "(bitmask + tile lists) " << b["overhead_us"].get<double>()
                << " us; zero fill " << b["zero_fill_us"].get<double>()
                << " us; variant " << b["variant"].get<int>() << " '"
                << b["variant_name"].get<std::string>() << "', tile count "
                << b["tile_count"].get<int64_t>()
                << (b["host_selected"].get<bool>()
                        ? " (host-selected operator: the variant was chosen "
                          "once before timing)"
                        : "")
                << "\n";
    }
  }
  if (code == kCheckFailed)
    return fail(
        "check failed: max rel err " +
            std::to_string(report["check"]["max_rel_err"].get<double>()) +
            (report["check"]["zeros_exact"].get<bool>()
                 ? ""
                 : ", masked-off outputs not zero"),
        kCheckFailed);
  return kOk;
}

/// Several --op: a network. Inputs are split over the operators (see
/// --help), run through dynaspa_network_run, checked against the float64
/// chain and the operators run one by one, and timed with
/// dynaspa_network_benchmark.
int runChain(const Options &o, const BundleFile &file,
             const std::vector<uint32_t> &opIndices) {
  size_t n = opIndices.size();
  auto opAt = [&](size_t k) -> const fb::Operator & {
    return *file.root->operators()->Get(opIndices[k]);
  };
  std::vector<HostInputs> inputs(n);
  size_t nextFile = 0;
  for (size_t k = 0; k < n; ++k) {
    const fb::Operator &op = opAt(k);
    Options ok = o;
    size_t wanted = op.inputs()->size() - (k ? 2 : 1);
    size_t take = std::min(wanted, o.inputs.size() - nextFile);
    ok.inputs.assign(o.inputs.begin() + static_cast<ptrdiff_t>(nextFile),
                     o.inputs.begin() +
                         static_cast<ptrdiff_t>(nextFile + take));
    nextFile += take;
    ok.mask = o.masks.size() > 1 ? o.masks[k] : o.mask;
    if (o.randomSeed)
      ok.randomSeed = *o.randomSeed + k;
    if (Status s = loadInputs(ok, op, &inputs[k], k > 0); !s)
      return fail("operator " + std::to_string(k) +
                  " of the chain: " + s.message());
  }
  if (nextFile < o.inputs.size())
    return fail("the chain takes " + std::to_string(nextFile) +
                " data inputs (every operator's but the chained input 0), "
                "got " +
                std::to_string(o.inputs.size()) + " --input");
  const fb::Tensor &outT =
      *opAt(n - 1).buffers()->Get(opAt(n - 1).outputs()->Get(0));
  std::vector<int64_t> outShape(outT.shape()->begin(), outT.shape()->end());

  runtime::Context context;
  if (Status s =
          runtime::Context::create(pickDevice(*file.root, o.device), &context);
      !s)
    return fail(s.message().rfind("no usable device", 0) == 0
                    ? s.message()
                    : "no usable device: " + s.message());
  int code = kOk;
  json report;
  NdArray output = NdArray::zeros(DYNASPA_F32, outShape);
  {
    // The network goes before the bundle, the bundle before the context.
    runtime::Bundle bundle;
    if (Status s = context.loadBytes(file.data(), file.size, &bundle); !s)
      return fail(o.bundle + ": " + s.message());
    runtime::Network network;
    std::vector<size_t> chain(opIndices.begin(), opIndices.end());
    if (Status s = runtime::Network::create(bundle, chain, &network); !s)
      return fail(s.message());
    std::vector<dynaspa_host_tensor_t> flat;
    for (size_t k = 0; k < n; ++k)
      for (NdArray &a : inputs[k].arrays)
        flat.push_back({a.bytes.empty() ? nullptr : a.bytes.data(), DYNASPA_F32,
                        static_cast<int32_t>(a.shape.size()), a.shape.data()});
    std::vector<dynaspa_run_stats_t> stats(n);
    if (Status s = network.run(flat,
                               {output.bytes.data(), DYNASPA_F32,
                                static_cast<int32_t>(outShape.size()),
                                outShape.data()},
                               stats.data());
        !s)
      return fail(s.message());

    dynaspa_network_info_t info = network.info();
    report["device"] = context.deviceName();
    report["network"] = {{"num_ops", n},
                         {"num_buffers", info.num_buffers},
                         {"buffer_bytes", info.buffer_bytes},
                         {"unplanned_bytes", info.unplanned_bytes}};
    json ops = json::array();
    for (size_t k = 0; k < n; ++k) {
      const fb::Operator &op = opAt(k);
      json in = json::array();
      for (size_t i = 0; i < inputs[k].arrays.size(); ++i) {
        const fb::Tensor &t =
            *op.buffers()->Get(op.inputs()->Get(static_cast<uint32_t>(i)));
        in.push_back({{"name", t.name() ? t.name()->str() : std::string()},
                      {"shape", std::vector<int64_t>(t.shape()->begin(),
                                                     t.shape()->end())},
                      {"source", inputs[k].sources[i]}});
      }
      ops.push_back({{"index", opIndices[k]},
                     {"name", op.name()->str()},
                     {"kind", fb::EnumNameOpKind(op.kind())},
                     {"self_dispatch", op.self_dispatch()},
                     {"inputs", in},
                     {"run",
                      {{"variant", stats[k].variant},
                       {"variant_name", variantName(op, stats[k].variant)},
                       {"tile_count", stats[k].tile_count},
                       {"prologue_ms", stats[k].prologue_ms},
                       {"variant_ms", stats[k].variant_ms}}}});
    }
    report["operators"] = ops;

    if (!o.output.empty()) {
      if (Status s = runtime::writeNpy(o.output, output); !s)
        return fail(o.output + ": " + s.message());
      report["output"] = o.output;
    }
    if (o.check) {
      // The float64 chain: each reference starts from the previous one's
      // exact result.
      NdArray want;
      for (size_t k = 0; k < n; ++k) {
        std::vector<NdArray> in = inputs[k].arrays;
        if (k > 0)
          in[0] = want;
        if (Status s = reference(opAt(k), in, &want); !s)
          return fail("reference of operator " + std::to_string(k) + ": " +
                      s.message());
      }
      double tolerance = kTolerance;
      for (size_t k = 0; k < n; ++k)
        tolerance = std::max(tolerance, toleranceOf(opAt(k)));
      json check = compare(output, want, tolerance);
      // The operators one by one through dynaspa_operator_run, each on the
      // previous one's f32 output.
      NdArray x;
      for (size_t k = 0; k < n; ++k) {
        const fb::Operator &op = opAt(k);
        const fb::Tensor &t = *op.buffers()->Get(op.outputs()->Get(0));
        NdArray y =
            NdArray::zeros(DYNASPA_F32, std::vector<int64_t>(t.shape()->begin(),
                                                             t.shape()->end()));
        std::vector<dynaspa_host_tensor_t> in;
        for (size_t i = 0; i < inputs[k].arrays.size(); ++i) {
          NdArray &a = i == 0 && k > 0 ? x : inputs[k].arrays[i];
          in.push_back({a.bytes.data(), DYNASPA_F32,
                        static_cast<int32_t>(a.shape.size()), a.shape.data()});
        }
        if (Status s = bundle.run(
                opIndices[k], in,
                {{y.bytes.data(), DYNASPA_F32,
                  static_cast<int32_t>(y.shape.size()), y.shape.data()}});
            !s)
          return fail("operator " + std::to_string(k) +
                      " run alone: " + s.message());
        x = std::move(y);
      }
      json alone = compare(output, x, tolerance);
      check["one_by_one"] = {
          {"max_abs_diff", alone["max_abs_err"]},
          {"identical", alone["max_abs_err"] == 0.0},
          {"ok", alone["max_rel_err"].get<double>() <= tolerance}};
      check["ok"] = check["ok"].get<bool>() && check["one_by_one"]["ok"];
      report["check"] = check;
      if (!check["ok"].get<bool>())
        code = kCheckFailed;
    }
    if (o.benchmark) {
      dynaspa_benchmark_options_t bo = {o.warmup, o.reps, o.rounds};
      dynaspa_network_benchmark_result_t r = {};
      if (Status s = network.benchmark(&bo, &r); !s)
        return fail("benchmark: " + s.message());
      report["benchmark"] = {{"method", r.method},
                             {"reps", o.reps},
                             {"rounds", o.rounds},
                             {"warmup", o.warmup},
                             {"median_us", r.median_us},
                             {"min_us", r.min_us},
                             {"serial_median_us", r.serial_median_us},
                             {"serial_min_us", r.serial_min_us},
                             {"host_selected", r.host_selected != 0}};
    }
  }

  if (o.json) {
    std::cout << report.dump(2, ' ', false, json::error_handler_t::replace)
              << "\n";
  } else {
    const json &net = report["network"];
    std::cout << "device: " << report["device"].get<std::string>() << "\n"
              << "network of " << n
              << " operators: " << net["num_buffers"].get<size_t>()
              << " buffers of " << net["buffer_bytes"].get<size_t>()
              << " bytes (one per tensor would take "
              << net["unplanned_bytes"].get<size_t>() << ")\n";
    for (size_t k = 0; k < n; ++k) {
      const json &op = report["operators"][k];
      const json &r = op["run"];
      std::cout << "[" << k << "] operator [" << op["index"].get<uint32_t>()
                << "] " << op["name"].get<std::string>() << " ("
                << op["kind"].get<std::string>()
                << (op["self_dispatch"].get<bool>() ? ", self-dispatching" : "")
                << "): variant " << r["variant"].get<int>() << " '"
                << r["variant_name"].get<std::string>() << "', tile count "
                << r["tile_count"].get<int64_t>() << ", prologue "
                << r["prologue_ms"].get<double>() << " ms, variants "
                << r["variant_ms"].get<double>() << " ms\n";
      for (const json &i : op["inputs"])
        std::cout << "  input " << i["name"].get<std::string>() << " "
                  << shapeString(i["shape"].get<std::vector<int64_t>>()) << ": "
                  << i["source"].get<std::string>() << "\n";
    }
    if (report.contains("output"))
      std::cout << "output: " << shapeString(outShape) << " -> " << o.output
                << "\n";
    if (report.contains("check")) {
      const json &c = report["check"];
      const json &a = c["one_by_one"];
      std::cout << "check: max abs err " << c["max_abs_err"].get<double>()
                << ", max rel err " << c["max_rel_err"].get<double>()
                << " (tolerance " << c["tolerance"].get<double>()
                << "), masked-off outputs "
                << (c["zeros_exact"].get<bool>() ? "exactly zero"
                                                 : "NOT all zero")
                << "; vs the operators one by one: "
                << (a["identical"].get<bool>()
                        ? std::string("identical")
                        : "max abs diff " +
                              std::to_string(a["max_abs_diff"].get<double>()))
                << ": " << (c["ok"].get<bool>() ? "ok" : "FAILED") << "\n";
    }
    if (report.contains("benchmark")) {
      const json &b = report["benchmark"];
      std::cout << "benchmark (" << b["method"].get<std::string>() << ", "
                << o.reps << " reps x " << o.rounds << " rounds, " << o.warmup
                << " warmup): median " << b["median_us"].get<double>()
                << " us, min " << b["min_us"].get<double>()
                << " us; zero fills serialized on the main queue: median "
                << b["serial_median_us"].get<double>() << " us, min "
                << b["serial_min_us"].get<double>() << " us"
                << (b["host_selected"].get<bool>()
                        ? " (host-selected operators: variants chosen once "
                          "before timing)"
                        : "")
                << "\n";
    }
  }
  if (code == kCheckFailed)
    return fail(
        "check failed: max rel err " +
            std::to_string(report["check"]["max_rel_err"].get<double>()) +
            (report["check"]["zeros_exact"].get<bool>()
                 ? ""
                 : ", masked-off outputs not zero") +
            (report["check"]["one_by_one"]["ok"].get<bool>()
                 ? ""
                 : ", differs from the operators run one by one"),
        kCheckFailed);
  return kOk;
}

int runTool(const std::vector<std::string> &args) {
  Options o;
  if (Status s = parseOptions(args, &o); !s)
    return fail(s.message(), kUsage);
  if (o.help) {
    std::cout << helpText();
    return kOk;
  }
  BundleFile file;
  if (Status s = readBundle(o.bundle, &file); !s)
    return fail(s.message());
  uint32_t op = 0;
  // A probe bundle has nothing to run but can be inspected.
  bool inspectAll = o.inspect && o.op.empty();
  if (Status s = findOperator(*file.root, o.op, &op); !s && !inspectAll)
    return fail(s.message());
  if (o.ops.size() > 1) {
    std::vector<uint32_t> chain;
    for (const std::string &spec : o.ops) {
      uint32_t index = 0;
      if (Status s = findOperator(*file.root, spec, &index); !s)
        return fail(s.message());
      chain.push_back(index);
    }
    return runChain(o, file, chain);
  }
  if (o.inspect) {
    std::optional<uint32_t> only;
    if (!o.op.empty())
      only = op;
    json d = describeBundle(*file.root, file.size, only);
    if (o.json)
      std::cout << d.dump(2, ' ', false, json::error_handler_t::replace)
                << "\n";
    else
      printDescription(d, std::cout);
    return kOk;
  }
  return runOperator(o, file, op);
}

} // namespace
} // namespace dynaspa::run

int main(int argc, char **argv) {
  try {
    std::vector<std::string> args(argv + 1, argv + argc);
    return dynaspa::run::runTool(args);
  } catch (const std::exception &e) {
    return dynaspa::run::fail(std::string("internal error: ") + e.what());
  } catch (...) {
    return dynaspa::run::fail("internal error");
  }
}
