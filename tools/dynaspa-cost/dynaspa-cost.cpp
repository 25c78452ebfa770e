//===- dynaspa-cost.cpp - the cost model's predictions as JSON ------------===//
//
// Part of the dynaspa project.
//
//===----------------------------------------------------------------------===//
//
// Answers "how long would this conv or batch-matmul variant take on this
// mask?" for many queries at once, with the analysis library itself, so that
// scripts (the model-vs-measurement evaluation in benchmarks/model_eval.py, a
// tuner) do not re-implement the model. Reads a JSON request, writes JSON:
//
//   {"device": "h100-sxm" | {device file object},        (optional)
//    "queries": [{
//      "conv": {"batch", "height", "width", "in_channels", "out_channels",
//               "kernel": [kh, kw], "strides": [1, 1], "dilations": [1, 1],
//               "padding": [top, bottom, left, right], "bias": false},
//      "granularity": [gh, gw],
//      "schedule": {"channel_block": 64, ...},  (#spsparse.schedule's names)
//      "active_tiles": 76, "pixel_fraction": 1.0, "registers": 85,
//      "operator": {"output_bytes", "tile_lists": [{"tiles", "tile_pixels",
//                   "single_block"}], "variant_kernels",
//                   "zero_fill": true}}]}   (optional; zero_fill false: a
//                   standalone op whose kernel writes its zeros)
//
// A batch-matmul query has "bmm": {"batch", "m", "k", "n", "col_mask":
// false, "col_mask_batch": true} instead of "conv", "granularity": [rows],
// the knobs its template reads (no split_k or min_blocks), and "write_fraction"
// (the share of the active tiles' outputs the masks keep) instead of
// "pixel_fraction".
//
// and answers {"device": name, "predictions": [{"ns", "kernel_ns",
// "overhead_ns", "global_ns", "shared_ns", "compute_ns", "latency_ns",
// "bound", "blocks", "blocks_per_sm", "waves", "registers"} or {"error"}]},
// one per query in order. "ns" is the kernel plus, with "operator", the
// runtime's overhead around it; a query of only an "operator" gets that
// overhead alone. --device / --device-file override the
// request's device.
//
//===----------------------------------------------------------------------===//

#include "dynaspa/Analysis/BmmProfile.h"
#include "dynaspa/Analysis/ConvProfile.h"

#include "llvm/Support/CommandLine.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/JSON.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/ToolOutputFile.h"
#include "llvm/Support/WithColor.h"

using namespace llvm;
namespace cost = dynaspa::cost;

static cl::opt<std::string>
    inputFile(cl::Positional, cl::desc("<request.json>"), cl::init("-"));
static cl::opt<std::string> outputFile("o", cl::desc("Output file"),
                                       cl::value_desc("file"), cl::init("-"));
static cl::opt<std::string>
    deviceName("device", cl::desc("Built-in device (e.g. h100-sxm)"));
static cl::opt<std::string>
    deviceFile("device-file",
               cl::desc("Device JSON file (see CostModel.h parseDeviceJSON)"));

namespace {
/// Reads the fields of one query; the first problem found is the error.
class QueryReader {
public:
  explicit QueryReader(const json::Object &q) : q(q) {}

  std::optional<int64_t> integer(const json::Object &o, StringRef key,
                                 std::optional<int64_t> fallback) {
    const json::Value *v = o.get(key);
    if (!v) {
      if (!fallback)
        fail("missing '" + key + "'");
      return fallback;
    }
    std::optional<int64_t> i = v->getAsInteger();
    if (!i)
      fail("'" + key + "' must be an integer");
    return i;
  }

  /// `key` as `n` integers, or `fallback` repeated if absent.
  SmallVector<int64_t> integers(const json::Object &o, StringRef key, size_t n,
                                std::optional<int64_t> fallback) {
    SmallVector<int64_t> out;
    const json::Array *a = o.getArray(key);
    if (!a) {
      if (o.get(key) || !fallback)
        fail("'" + key + "' must be an array of " + Twine(n) + " integers");
      else
        out.assign(n, *fallback);
      return out;
    }
    for (const json::Value &v : *a)
      if (std::optional<int64_t> i = v.getAsInteger())
        out.push_back(*i);
    if (out.size() != n || a->size() != n)
      fail("'" + key + "' must be an array of " + Twine(n) + " integers");
    return out;
  }

  void fail(const Twine &message) {
    if (error.empty())
      error = message.str();
  }

  const json::Object &q;
  std::string error;
};
} // namespace

/// The runtime's overhead of the query's "operator" object (0 without one),
/// or an error.
static std::optional<double> operatorOverhead(const cost::DeviceModel &device,
                                              const json::Object &q,
                                              std::string &error) {
  const json::Object *op = q.getObject("operator");
  if (!op)
    return 0.0;
  QueryReader r(*op);
  std::vector<cost::TileListWork> lists;
  if (const json::Array *a = op->getArray("tile_lists"))
    for (const json::Value &l : *a) {
      const json::Object *lo = l.getAsObject();
      if (!lo) {
        error = "operator: 'tile_lists' entries must be objects";
        return std::nullopt;
      }
      lists.push_back({r.integer(*lo, "tiles", std::nullopt).value_or(0),
                       r.integer(*lo, "tile_pixels", 1).value_or(1),
                       lo->getBoolean("single_block").value_or(false)});
    }
  int64_t bytes = r.integer(*op, "output_bytes", std::nullopt).value_or(0);
  int64_t kernels = r.integer(*op, "variant_kernels", 1).value_or(1);
  bool zeroFill = op->getBoolean("zero_fill").value_or(true);
  if (!r.error.empty()) {
    error = "operator: " + r.error;
    return std::nullopt;
  }
  return cost::estimateOperatorOverhead(device, bytes, lists, kernels,
                                        zeroFill);
}

/// The prediction's fields for `profile` plus the runtime's `overhead`.
static json::Value answer(const cost::DeviceModel &device,
                          const cost::KernelProfile &profile,
                          double overhead) {
  cost::CostBreakdown c = cost::estimateCost(device, profile);
  return json::Object{
      {"ns", c.totalNs + overhead},  {"kernel_ns", c.totalNs},
      {"overhead_ns", overhead},     {"global_ns", c.globalNs},
      {"shared_ns", c.sharedNs},     {"compute_ns", c.computeNs},
      {"latency_ns", c.latencyNs},   {"bound", cost::toString(c.bound)},
      {"blocks", profile.blocks},    {"blocks_per_sm", c.occupancy.blocksPerSm},
      {"waves", c.occupancy.waves},  {"registers", profile.registersPerThread}};
}

/// A batch-matmul query (its "bmm" object is `bmm`).
/// A schedule knob by its #spsparse.schedule name.
template <typename Schedule> struct Knob {
  const char *name;
  int64_t Schedule::*field;
};

/// Sets `s`'s fields from the request's "schedule" object; an unknown name
/// is an error so that a typo does not silently keep a default. `ignored`
/// knobs are accepted only at their default (1): the template does not read
/// them. Returns the error, or an empty string.
template <typename Schedule>
static std::string
readSchedule(const json::Object &schedule, ArrayRef<Knob<Schedule>> knobs,
             ArrayRef<StringRef> ignored, StringRef what, Schedule &s) {
  for (const auto &[key, v] : schedule) {
    if (key == "double_buffer") {
      std::optional<bool> b = v.getAsBoolean();
      if (!b)
        return "'double_buffer' must be a boolean";
      s.doubleBuffer = *b;
      continue;
    }
    if (key == "tf32") {
      std::optional<bool> b = v.getAsBoolean();
      if (!b)
        return "'tf32' must be a boolean";
      if (*b)
        return cost::kNoTensorCoreProfile;
      continue;
    }
    if (key == "compact") {
      std::optional<bool> b = v.getAsBoolean();
      if (!b)
        return "'compact' must be a boolean";
      // The model charges only the blocks with work (ConvProfile.cpp A1),
      // which are the same in either grid: it predicts both alike.
      if (*b && !std::is_same_v<Schedule, cost::ConvSchedule>)
        return "'compact' (a 1-D grid of work items) is for convolutions only";
      continue;
    }
    if (llvm::is_contained(ignored, key.str()) && v.getAsInteger() == 1)
      continue;
    const Knob<Schedule> *knob = nullptr;
    for (const Knob<Schedule> &kn : knobs)
      if (key == kn.name)
        knob = &kn;
    std::optional<int64_t> i = v.getAsInteger();
    if (!knob || !i)
      return ("unknown or non-integer " + what + "schedule knob '" + key.str() +
              "'")
          .str();
    s.*(knob->field) = *i;
  }
  return "";
}

static json::Value predictBmm(const cost::DeviceModel &device,
                              const json::Object &q, const json::Object &bmm,
                              const json::Object &schedule, double overhead) {
  QueryReader r(q);
  cost::BmmProblem p;
  cost::BmmSchedule s;
  p.batch = r.integer(bmm, "batch", 1).value_or(0);
  p.m = r.integer(bmm, "m", std::nullopt).value_or(0);
  p.k = r.integer(bmm, "k", std::nullopt).value_or(0);
  p.n = r.integer(bmm, "n", std::nullopt).value_or(0);
  p.colMask = bmm.getBoolean("col_mask").value_or(false);
  p.colMaskHasBatch = bmm.getBoolean("col_mask_batch").value_or(true);
  SmallVector<int64_t> g = r.integers(q, "granularity", 1, std::nullopt);
  if (!r.error.empty())
    return json::Object{{"error", r.error}};
  s.rows = g[0];
  static const Knob<cost::BmmSchedule> knobs[] = {
      {"channel_block", &cost::BmmSchedule::channelBlock},
      {"reduction_block", &cost::BmmSchedule::reductionBlock},
      {"threads", &cost::BmmSchedule::threads},
      {"thread_channels", &cost::BmmSchedule::threadChannels},
      {"thread_pixels", &cost::BmmSchedule::threadPixels},
      {"vector_width", &cost::BmmSchedule::vectorWidth},
      {"unroll", &cost::BmmSchedule::unroll},
      {"blocks", &cost::BmmSchedule::blocks},
      {"tiles_per_block", &cost::BmmSchedule::tilesPerBlock}};
  // Knobs the conv template reads and the bmm template ignores.
  static const StringRef convOnly[] = {"split_k", "min_blocks"};
  if (std::string e = readSchedule<cost::BmmSchedule>(
          schedule, knobs, convOnly, "batch-matmul ", s);
      !e.empty())
    return json::Object{{"error", e}};
  int64_t tiles = r.integer(q, "active_tiles", std::nullopt).value_or(0);
  s.registersPerThread = r.integer(q, "registers", 0).value_or(0);
  double fraction = q.getNumber("write_fraction").value_or(1.0);
  if (!r.error.empty())
    return json::Object{{"error", r.error}};
  std::string error;
  std::optional<cost::KernelProfile> prof =
      cost::profileMaskedBmm(device, p, s, tiles, &error, fraction);
  if (!prof)
    return json::Object{{"error", error}};
  return answer(device, *prof, overhead);
}

/// One query's prediction, or {"error"}.
static json::Value predict(const cost::DeviceModel &device,
                           const json::Value &value) {
  const json::Object *q = value.getAsObject();
  if (!q)
    return json::Object{{"error", "a query must be an object"}};
  std::string error;
  std::optional<double> overhead = operatorOverhead(device, *q, error);
  if (!overhead)
    return json::Object{{"error", error}};
  QueryReader r(*q);
  cost::ConvProblem p;
  cost::ConvSchedule s;
  const json::Object *conv = q->getObject("conv");
  const json::Object *schedule = q->getObject("schedule");
  const json::Object *bmm = q->getObject("bmm");
  // The runtime's part alone.
  if (!conv && !bmm && !schedule && q->getObject("operator"))
    return json::Object{{"ns", *overhead}, {"overhead_ns", *overhead}};
  if (conv && bmm)
    return json::Object{{"error", "a query has 'conv' or 'bmm', not both"}};
  if (bmm && schedule)
    return predictBmm(device, *q, *bmm, *schedule, *overhead);
  if (!conv || !schedule)
    return json::Object{
        {"error", "a query needs 'conv' or 'bmm', and 'schedule'"}};
  p.batch = r.integer(*conv, "batch", 1).value_or(0);
  p.height = r.integer(*conv, "height", std::nullopt).value_or(0);
  p.width = r.integer(*conv, "width", std::nullopt).value_or(0);
  p.inChannels = r.integer(*conv, "in_channels", std::nullopt).value_or(0);
  p.outChannels = r.integer(*conv, "out_channels", std::nullopt).value_or(0);
  SmallVector<int64_t> k = r.integers(*conv, "kernel", 2, std::nullopt);
  SmallVector<int64_t> st = r.integers(*conv, "strides", 2, 1);
  SmallVector<int64_t> dil = r.integers(*conv, "dilations", 2, 1);
  SmallVector<int64_t> pad = r.integers(*conv, "padding", 4, 0);
  SmallVector<int64_t> g = r.integers(*q, "granularity", 2, std::nullopt);
  if (!r.error.empty())
    return json::Object{{"error", r.error}};
  p.kernelH = k[0];
  p.kernelW = k[1];
  p.strideH = st[0];
  p.strideW = st[1];
  p.dilationH = dil[0];
  p.dilationW = dil[1];
  p.padTop = pad[0];
  p.padBottom = pad[1];
  p.padLeft = pad[2];
  p.padRight = pad[3];
  p.bias = conv->getBoolean("bias").value_or(false);
  s.tileH = g[0];
  s.tileW = g[1];

  static const Knob<cost::ConvSchedule> knobs[] = {
      {"channel_block", &cost::ConvSchedule::channelBlock},
      {"reduction_block", &cost::ConvSchedule::reductionBlock},
      {"threads", &cost::ConvSchedule::threads},
      {"thread_channels", &cost::ConvSchedule::threadChannels},
      {"thread_pixels", &cost::ConvSchedule::threadPixels},
      {"vector_width", &cost::ConvSchedule::vectorWidth},
      {"unroll", &cost::ConvSchedule::unroll},
      {"blocks", &cost::ConvSchedule::blocks},
      {"tiles_per_block", &cost::ConvSchedule::tilesPerBlock},
      {"split_k", &cost::ConvSchedule::splitK},
      {"min_blocks", &cost::ConvSchedule::minBlocks}};
  if (std::string e =
          readSchedule<cost::ConvSchedule>(*schedule, knobs, {}, "", s);
      !e.empty())
    return json::Object{{"error", e}};
  int64_t tiles = r.integer(*q, "active_tiles", std::nullopt).value_or(0);
  s.registersPerThread = r.integer(*q, "registers", 0).value_or(0);
  double fraction = q->getNumber("pixel_fraction").value_or(1.0);
  if (!r.error.empty())
    return json::Object{{"error", r.error}};

  std::optional<cost::KernelProfile> prof =
      cost::profileMaskedConv(device, p, s, tiles, &error, fraction);
  if (!prof)
    return json::Object{{"error", error}};
  return answer(device, *prof, *overhead);
}

static int fail(const Twine &message) {
  WithColor::error(errs(), "dynaspa-cost") << message << "\n";
  return 1;
}

int main(int argc, char **argv) {
  cl::ParseCommandLineOptions(
      argc, argv,
      "dynaspa-cost: the analytical cost model's predictions for conv and "
      "batch-matmul variants, JSON in and out (see the file header for the format)\n");
  ErrorOr<std::unique_ptr<MemoryBuffer>> buffer =
      MemoryBuffer::getFileOrSTDIN(inputFile);
  if (!buffer)
    return fail("cannot read '" + inputFile + "'");
  Expected<json::Value> request = json::parse((*buffer)->getBuffer());
  if (!request)
    return fail(inputFile + ": " + toString(request.takeError()));
  const json::Object *root = request->getAsObject();
  const json::Array *queries = root ? root->getArray("queries") : nullptr;
  if (!queries)
    return fail(inputFile + ": expected an object with a 'queries' array");

  // The device: options first, then the request, then the H100.
  std::optional<cost::DeviceModel> device;
  std::string error;
  if (!deviceFile.empty()) {
    device = cost::readDeviceFile(deviceFile, error);
  } else if (!deviceName.empty()) {
    device = cost::getBuiltinDevice(deviceName);
    error = "unknown device '" + deviceName + "'";
  } else if (const json::Value *d = root->get("device")) {
    if (std::optional<StringRef> name = d->getAsString()) {
      device = cost::getBuiltinDevice(*name);
      error = ("unknown device '" + *name + "'").str();
    } else {
      std::string text;
      raw_string_ostream os(text);
      os << *d;
      device = cost::parseDeviceJSON(text, error);
    }
  } else {
    device = cost::getBuiltinDevice("h100-sxm");
  }
  if (!device)
    return fail(error);

  json::Array predictions;
  for (const json::Value &q : *queries)
    predictions.push_back(predict(*device, q));

  std::error_code ec;
  ToolOutputFile out(outputFile, ec, sys::fs::OF_Text);
  if (ec)
    return fail("cannot write '" + outputFile + "': " + ec.message());
  out.os() << formatv("{0:2}\n", json::Value(json::Object{
                                     {"device", device->name},
                                     {"predictions", std::move(predictions)}}));
  out.keep();
  return 0;
}
