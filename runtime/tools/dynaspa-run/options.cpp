//===- options.cpp - dynaspa-run's command line ---------------------------===//
//
// Part of the dynaspa project.
//
//===----------------------------------------------------------------------===//
//
// Flags take their value as the next argument or after '=' (--reps 5,
// --reps=5). Numbers must be whole decimal integers in range: "5x" or "1e3"
// is an error rather than a silent 5 or 1, because a mistyped repetition
// count would otherwise produce a plausible but wrong benchmark.
//
//===----------------------------------------------------------------------===//

#include "options.h"

#include <cerrno>
#include <cstdlib>
#include <functional>
#include <limits>

namespace dynaspa::run {

using runtime::invalidArgument;
using runtime::Status;

namespace {

Status parseInt(const std::string &flag, const std::string &text, int64_t min,
                int64_t max, int64_t *out) {
  const char *s = text.c_str();
  char *end = nullptr;
  errno = 0;
  long long v = std::strtoll(s, &end, 10);
  if (text.empty() || *end != '\0' || errno == ERANGE || v < min || v > max)
    return invalidArgument(flag + " needs an integer in [" +
                           std::to_string(min) + ", " + std::to_string(max) +
                           "], got '" + text + "'");
  *out = v;
  return Status::ok();
}

Status parseInt32(const std::string &flag, const std::string &text, int64_t min,
                  int32_t *out) {
  int64_t v = 0;
  if (Status s =
          parseInt(flag, text, min, std::numeric_limits<int32_t>::max(), &v);
      !s)
    return s;
  *out = static_cast<int32_t>(v);
  return Status::ok();
}

struct Flag {
  const char *name;
  /// Null for flags without a value.
  std::function<Status(Options &, const std::string &)> set;
  std::function<void(Options &)> on;
};

const std::vector<Flag> &flags() {
  using O = Options;
  using S = const std::string &;
  static const std::vector<Flag> table = {
      {"--op",
       [](O &o, S v) {
         o.ops.push_back(v);
         return Status::ok();
       },
       nullptr},
      {"--input",
       [](O &o, S v) {
         o.inputs.push_back(v);
         return Status::ok();
       },
       nullptr},
      {"--mask",
       [](O &o, S v) {
         o.masks.push_back(v);
         return Status::ok();
       },
       nullptr},
      {"--mask-index",
       [](O &o, S v) {
         int64_t i = 0;
         Status s = parseInt("--mask-index", v, 0,
                             std::numeric_limits<int64_t>::max(), &i);
         o.maskIndex = i;
         return s;
       },
       nullptr},
      {"-o",
       [](O &o, S v) {
         o.output = v;
         return Status::ok();
       },
       nullptr},
      {"--output",
       [](O &o, S v) {
         o.output = v;
         return Status::ok();
       },
       nullptr},
      {"--device",
       [](O &o, S v) {
         if (v == "auto")
           o.device = DYNASPA_DEVICE_AUTO;
         else if (v == "cuda")
           o.device = DYNASPA_DEVICE_CUDA;
         else if (v == "opencl")
           o.device = DYNASPA_DEVICE_OPENCL;
         else
           return invalidArgument("--device must be auto, cuda or opencl, "
                                  "got '" +
                                  v + "'");
         return Status::ok();
       },
       nullptr},
      {"--random",
       [](O &o, S v) {
         int64_t seed = 0;
         Status s = parseInt("--random", v, 0,
                             std::numeric_limits<int64_t>::max(), &seed);
         o.randomSeed = static_cast<uint64_t>(seed);
         return s;
       },
       nullptr},
      {"--reps", [](O &o, S v) { return parseInt32("--reps", v, 1, &o.reps); },
       nullptr},
      {"--rounds",
       [](O &o, S v) { return parseInt32("--rounds", v, 1, &o.rounds); },
       nullptr},
      {"--warmup",
       [](O &o, S v) { return parseInt32("--warmup", v, 0, &o.warmup); },
       nullptr},
      {"--check", nullptr, [](O &o) { o.check = true; }},
      {"--benchmark", nullptr, [](O &o) { o.benchmark = true; }},
      {"--variant-lanes", nullptr, [](O &o) { o.variantLanes = true; }},
      {"--inspect", nullptr, [](O &o) { o.inspect = true; }},
      {"--json", nullptr, [](O &o) { o.json = true; }},
      {"--help", nullptr, [](O &o) { o.help = true; }},
      {"-h", nullptr, [](O &o) { o.help = true; }},
  };
  return table;
}

} // namespace

Status parseOptions(const std::vector<std::string> &args, Options *out) {
  Options o;
  bool benchmarkKnobs = false;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string &arg = args[i];
    if (arg.size() < 2 || arg[0] != '-') {
      if (!o.bundle.empty())
        return invalidArgument("unexpected argument '" + arg +
                               "' (the bundle is '" + o.bundle + "')");
      o.bundle = arg;
      continue;
    }
    std::string name = arg, value;
    bool hasValue = false;
    if (size_t eq = arg.find('='); eq != std::string::npos) {
      name = arg.substr(0, eq);
      value = arg.substr(eq + 1);
      hasValue = true;
    }
    const Flag *flag = nullptr;
    for (const Flag &f : flags())
      if (name == f.name)
        flag = &f;
    if (!flag)
      return invalidArgument("unknown flag '" + name + "' (see --help)");
    if (!flag->set) {
      if (hasValue)
        return invalidArgument(name + " takes no value");
      flag->on(o);
      continue;
    }
    if (!hasValue) {
      if (i + 1 >= args.size())
        return invalidArgument(name + " needs a value");
      value = args[++i];
    }
    if (Status s = flag->set(o, value); !s)
      return s;
    benchmarkKnobs |=
        name == "--reps" || name == "--rounds" || name == "--warmup";
  }
  if (!o.ops.empty())
    o.op = o.ops.front();
  if (!o.masks.empty())
    o.mask = o.masks.front();
  if (o.help) {
    *out = o;
    return Status::ok();
  }
  if (o.bundle.empty())
    return invalidArgument("no bundle given (see --help)");
  if (benchmarkKnobs && !o.benchmark)
    return invalidArgument("--reps, --rounds and --warmup need --benchmark");
  if (o.maskIndex && o.mask.empty())
    return invalidArgument("--mask-index needs --mask");
  if (o.masks.size() > 1 && o.masks.size() != o.ops.size())
    return invalidArgument(
        "give one --mask for all operators or one per --op (" +
        std::to_string(o.ops.size()) + "), got " +
        std::to_string(o.masks.size()));
  if (o.variantLanes && o.ops.size() > 1)
    return invalidArgument("--variant-lanes applies to one operator, not a "
                           "network");
  if (o.inspect && o.ops.size() > 1)
    return invalidArgument("--inspect describes one --op or the whole bundle");
  if (o.inspect && (!o.inputs.empty() || !o.mask.empty() || !o.output.empty() ||
                    o.randomSeed || o.check || o.benchmark || o.variantLanes))
    return invalidArgument("--inspect only reads the bundle; it takes only "
                           "--op and --json");
  *out = o;
  return Status::ok();
}

const char *helpText() {
  return R"(usage: dynaspa-run BUNDLE [options]

Runs one operator of a dynaspa bundle (written by dynaspa-opt) on a CUDA or
OpenCL device through the dynaspa runtime, or describes the bundle.

Operator and data:
  --op NAME|INDEX       the operator to run (default: operator 0); repeat to
                        run a chain as a network (see Networks below)
  --input FILE.npy      a data input, float32, exactly the operator's shape;
                        repeat in the operator's input order, leaving out the
                        mask: conv2d (input, filter[, bias]), batch_matmul
                        (lhs, rhs[, col_mask])
  --mask FILE           the mask, non-zero = active: a .npy (uint8, bool,
                        int32, float16/32/64) of the operator's mask shape
                        (leading 1-sized dimensions may differ), a stack
                        [K, ...] of such masks with --mask-index, or an 8-bit
                        PNG (colour is converted to gray)
  --mask-index I        pick mask I of a stacked .npy (e.g. the [N,H,W] sets
                        in shared/masks)
  --random SEED         fill every data input not given with deterministic
                        N(0,1) values (and a missing mask with 0/1 at density
                        0.5); without it, missing inputs are an error
  -o, --output FILE     write the result as float32 .npy

Device:
  --device auto|cuda|opencl   auto (default): the backend the bundle has
                        binaries for; with both, CUDA if usable, else OpenCL

Modes (a run always happens unless --inspect):
  --check               compare with the float64 reference of the operator's
                        meaning; prints max abs and relative error, relative
                        = max|got - ref| / max(1, max|ref|); fails above 1e-4
                        (5e-3 for an operator with a TF32 variant: tensor
                        cores on 10-bit mantissas) or if a masked-off output
                        is not exactly zero. The
                        operator first runs once with the complement of the
                        mask, so an element the checked run fails to write
                        holds a stale value, not a lucky zero, and once with
                        the mask, so one it accumulates into without zeroing
                        it first comes out doubled
  --benchmark           time the operator on the run's inputs: CUDA: a graph
                        of zero fill + prologue + variants replayed R times
                        back to back between events, time/R, median and min
                        over N rounds; OpenCL: R back-to-back enqueues timed
                        by the host clock to clFinish. Also times the
                        prologue alone (bitmask and tile lists: the runtime's
                        overhead; as in the op, inside a graph, of which it
                        is an eighth) and the output's zero fill alone, each
                        replayed until it fills the op's R replays' time. Prints
                        median/min us, overhead us, zero fill us, the chosen
                        variant and its tile count
    --reps R            replays per round (default 100)
    --rounds N          rounds (default 10)
    --warmup W          untimed replays first (default 10)
  --variant-lanes       launch the variants side by side, each on its own
                        queue after the prologue, instead of one after another
                        (dynaspa_operator_set_variant_lanes; one operator only)
  --inspect             describe the bundle (modules, binaries, operators,
                        buffers, prologue, variants with their tile ranges and
                        launch configurations) without a device
  --json                machine-readable output on stdout
  -h, --help            this text

Networks (two or more --op):
  The operators run in the given order, each output feeding input 0 of the
  next (conv2d: input; batch_matmul: lhs), on the runtime's triple-buffer
  plan: three activation buffers, the next output zero-filled on a side
  queue while the current operator runs. --input lists the data inputs in
  chain order: all of the first operator's, then each later operator's
  without its input 0. --mask: one for every operator or one per --op
  (--mask-index applies to each). --random SEED fills operator k's missing
  inputs from seed SEED + k. --check compares the result with the float64
  reference of the whole chain and with the operators run one by one;
  --benchmark times the network (the --benchmark text above, for the whole
  chain) and the same chain with the zero fills serialized on the main
  queue; -o writes the last operator's output.

Exit status: 0 success; 1 error (unreadable, truncated, corrupted or
wrong-version bundle, wrong shape or dtype, mask size mismatch, no usable
device, device failure); 2 bad command line; 3 --check failed. Errors are one
line on stderr: "dynaspa-run: error: ...".
)";
}

} // namespace dynaspa::run
