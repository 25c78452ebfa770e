//===- dynaspa_run_test.cpp - dynaspa-run from the command line -----------===//
//
// Part of the dynaspa project.
//
//===----------------------------------------------------------------------===//
//
// Runs the dynaspa-run binary as a user would, on files this test writes
// (test bundles for OpenCL C, .npy inputs, mask stacks, a PNG, broken
// bundles), and checks exit codes and the one-line error for each failure
// class: bad flags, missing / truncated / corrupted / wrong-version bundle,
// wrong dtype or shape, mask size mismatch, no usable device, a failed
// --check. Also --inspect (text and JSON), --random determinism and
// --benchmark. Running tests skip without an OpenCL device; the bundle and
// flag checks need none.
//
//===----------------------------------------------------------------------===//

#include "test_bundles.h"

#include "dynaspa/runtime/npy.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <png.h>

#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>
#include <sys/wait.h>
#include <unistd.h>

namespace dynaspa::runtime::testing {
namespace {

using nlohmann::json;

struct Result {
  int code = -1;
  std::string out, err;
};

std::string slurp(const std::string &path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in),
                     std::istreambuf_iterator<char>());
}

void spit(const std::string &path, const std::vector<uint8_t> &bytes) {
  std::ofstream out(path, std::ios::binary);
  out.write(reinterpret_cast<const char *>(bytes.data()),
            static_cast<std::streamsize>(bytes.size()));
}

class DynaspaRun : public ::testing::Test {
protected:
  static void SetUpTestSuite() {
    // One directory per process: lit runs each test as its own process, in
    // parallel, and they must not share files (or delete each other's).
    dir_ = new std::string(::testing::TempDir() + "dynaspa_run_test." +
                           std::to_string(getpid()));
    std::system(("mkdir -p '" + *dir_ + "'").c_str());
    BmmOptions o;
    o.selfDispatch = true;
    o.binaries.emplace_back(fb::Format::OPENCL_C, maskedBmmSource());
    std::vector<uint8_t> sd = serializeBundle(makeMaskedBmmBundle(o));
    spit(path("sd.dspb"), sd);
    spit(path("truncated.dspb"),
         std::vector<uint8_t>(sd.begin(), sd.begin() + sd.size() / 2));
    std::vector<uint8_t> corrupt = sd;
    for (size_t i = 8; i < 64; ++i)
      corrupt[i] ^= 0x5a;
    spit(path("corrupt.dspb"), corrupt);
    fb::BundleT old = makeMaskedBmmBundle(o);
    old.version = 0;
    spit(path("v0.dspb"), serializeBundle(old));
    // A kernel that computes the wrong thing (k = 1 instead of 3), for a
    // --check that must fail.
    fb::BundleT wrong = makeMaskedBmmBundle(o);
    wrong.operators[0]->variants[1]->launches[0]->args[6]->value = 1;
    spit(path("wrong.dspb"), serializeBundle(wrong));
    o.selfDispatch = false;
    spit(path("host.dspb"), serializeBundle(makeMaskedBmmBundle(o)));

    BmmData d = makeBmmData(o, {1, 1, 0, 1, 1});
    writeF32("lhs.npy", d.lhs, {2, 5, 3});
    writeF32("rhs.npy", d.rhs, {2, 3, 4});
    writeF32("lhs_wrong_shape.npy", d.lhs, {2, 3, 5});
    NdArray f64 = NdArray::zeros(DYNASPA_F64, {2, 5, 3});
    ASSERT_TRUE(writeNpy(path("lhs_f64.npy"), f64));
    writeU8("mask.npy", {1, 1, 0, 1, 1}, {5});
    writeU8("mask6.npy", {1, 1, 0, 1, 1, 0}, {6});
    // Three masks with 1, 2 and 5 active rows.
    writeU8("masks.npy", {0, 0, 1, 0, 0, 1, 1, 0, 0, 0, 1, 1, 1, 1, 1}, {3, 5});
    writeF32("mask_f32.npy", {0, 0.5f, 0, 0, 0}, {1, 5});
    writePng("mask.png", {0, 255, 7, 0, 0}, 5, 1);
    spit(path("not.png"), {'n', 'o', 'p', 'e'});

    // A network: [2,5,3] -> [2,5,4] -> [2,5,4] -> [2,5,3].
    std::vector<BmmOptions> chain = chainOps();
    spit(path("chain.dspb"), serializeBundle(makeMaskedBmmChainBundle(chain)));
    ChainData c = makeChainData(chain, chainMasks());
    writeF32("chain_in.npy", c.input, {2, 5, 3});
    for (size_t k = 0; k < chain.size(); ++k) {
      writeF32("chain_rhs" + std::to_string(k) + ".npy", c.rhs[k],
               {2, chain[k].k, chain[k].n});
      std::vector<uint8_t> m(c.masks[k].begin(), c.masks[k].end());
      writeU8("chain_mask" + std::to_string(k) + ".npy", m, {5});
    }
  }

  static std::vector<BmmOptions> chainOps() {
    std::vector<BmmOptions> ops;
    const int64_t widths[] = {3, 4, 4, 3};
    for (int i = 0; i < 3; ++i) {
      BmmOptions o;
      o.k = widths[i];
      o.n = widths[i + 1];
      o.selfDispatch = true;
      o.binaries.emplace_back(fb::Format::OPENCL_C, maskedBmmSource());
      ops.push_back(o);
    }
    return ops;
  }

  static std::vector<std::vector<float>> chainMasks() {
    return {{1, 1, 1, 1, 1}, {1, 0, 1, 1, 1}, {0, 1, 1, 0, 0}};
  }

  /// The chain's operators and files, masks one per operator.
  static std::string chainArgs() {
    std::string args = q("chain.dspb") +
                       " --device opencl --op bmm0 --op bmm1 --op bmm2"
                       " --input " +
                       q("chain_in.npy");
    for (int k = 0; k < 3; ++k)
      args += " --input " + q("chain_rhs" + std::to_string(k) + ".npy");
    for (int k = 0; k < 3; ++k)
      args += " --mask " + q("chain_mask" + std::to_string(k) + ".npy");
    return args;
  }

  static void TearDownTestSuite() {
    std::system(("rm -rf '" + *dir_ + "'").c_str());
    delete dir_;
  }

  static std::string path(const std::string &name) {
    return *dir_ + "/" + name;
  }

  static void writeF32(const std::string &name, const std::vector<float> &v,
                       std::vector<int64_t> shape) {
    NdArray a = NdArray::zeros(DYNASPA_F32, std::move(shape));
    ASSERT_EQ(a.bytes.size(), v.size() * 4);
    std::memcpy(a.bytes.data(), v.data(), a.bytes.size());
    ASSERT_TRUE(writeNpy(path(name), a));
  }

  static void writeU8(const std::string &name, const std::vector<uint8_t> &v,
                      std::vector<int64_t> shape) {
    NdArray a = NdArray::zeros(DYNASPA_U8, std::move(shape));
    ASSERT_EQ(a.bytes.size(), v.size());
    a.bytes = v;
    ASSERT_TRUE(writeNpy(path(name), a));
  }

  static void writePng(const std::string &name, std::vector<uint8_t> pixels,
                       uint32_t width, uint32_t height) {
    png_image image;
    std::memset(&image, 0, sizeof(image));
    image.version = PNG_IMAGE_VERSION;
    image.width = width;
    image.height = height;
    image.format = PNG_FORMAT_GRAY;
    ASSERT_TRUE(png_image_write_to_file(&image, path(name).c_str(), 0,
                                        pixels.data(), 0, nullptr))
        << image.message;
  }

  /// Runs dynaspa-run with `args` (shell words; paths are quoted by the
  /// caller through path()).
  static Result run(const std::string &args) {
    const char *fromEnv = std::getenv("DYNASPA_RUN_TOOL");
    std::string tool = fromEnv ? fromEnv : DYNASPA_RUN_TOOL;
    std::string out = path("stdout.txt"), err = path("stderr.txt");
    std::string cmd =
        "'" + tool + "' " + args + " >'" + out + "' 2>'" + err + "'";
    int status = std::system(cmd.c_str());
    Result r;
    // A signal (a crash) leaves code -1, which no expectation accepts.
    if (status != -1 && WIFEXITED(status))
      r.code = WEXITSTATUS(status);
    r.out = slurp(out);
    r.err = slurp(err);
    return r;
  }

  static std::string q(const std::string &name) {
    return "'" + path(name) + "'";
  }

  /// The inputs of a complete run of the test bundle.
  static std::string dataArgs() {
    return "--input " + q("lhs.npy") + " --input " + q("rhs.npy");
  }

  static bool haveOpenCL() {
    dynaspa_context_t *ctx = nullptr;
    if (dynaspa_context_create(DYNASPA_DEVICE_OPENCL, &ctx) != DYNASPA_OK)
      return false;
    dynaspa_context_destroy(ctx);
    return true;
  }

  /// Expects exit code `code` and one error line containing `text`.
  static void expectError(const Result &r, int code, const std::string &text) {
    EXPECT_EQ(r.code, code) << r.err;
    EXPECT_EQ(r.err.rfind("dynaspa-run: error: ", 0), 0u) << r.err;
    EXPECT_NE(r.err.find(text), std::string::npos) << r.err;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  }

  static std::string *dir_;
};

std::string *DynaspaRun::dir_ = nullptr;

#define REQUIRE_OPENCL()                                                       \
  if (!haveOpenCL())                                                           \
  GTEST_SKIP() << "no OpenCL device"

TEST_F(DynaspaRun, HelpExplainsEveryFlag) {
  Result r = run("--help");
  EXPECT_EQ(r.code, 0);
  for (const char *flag :
       {"--op", "--input", "--mask", "--mask-index", "--random", "--output",
        "--device", "--check", "--benchmark", "--reps", "--rounds", "--warmup",
        "--inspect", "--json", "--variant-lanes"})
    EXPECT_NE(r.out.find(flag), std::string::npos) << flag;
}

TEST_F(DynaspaRun, BadFlagsAreUsageErrors) {
  expectError(run(""), 2, "no bundle given");
  expectError(run(q("sd.dspb") + " --bogus"), 2, "unknown flag '--bogus'");
  expectError(run(q("sd.dspb") + " --device tpu"), 2, "--device must be");
  expectError(run(q("sd.dspb") + " --reps 5"), 2, "need --benchmark");
  expectError(run(q("sd.dspb") + " --benchmark --reps 0"), 2, "--reps");
  expectError(run(q("sd.dspb") + " --benchmark --reps 5x"), 2, "'5x'");
  expectError(run(q("sd.dspb") + " --mask-index 1"), 2, "needs --mask");
  expectError(run(q("sd.dspb") + " --input"), 2, "--input needs a value");
  expectError(run(q("sd.dspb") + " --check=yes"), 2, "takes no value");
  expectError(run(q("sd.dspb") + " " + q("sd.dspb")), 2, "unexpected argument");
  expectError(run(q("sd.dspb") + " --inspect --check"), 2, "--inspect");
  expectError(run(q("sd.dspb") + " --inspect --variant-lanes"), 2, "--inspect");
  expectError(run(q("sd.dspb") + " --op 0 --op 0 --variant-lanes"), 2,
              "--variant-lanes applies to one operator");
}

TEST_F(DynaspaRun, BadBundlesAreErrors) {
  expectError(run(q("missing.dspb") + " --inspect"), 1, "cannot open bundle");
  expectError(run(q("truncated.dspb") + " --inspect"), 1, "bad bundle");
  expectError(run(q("corrupt.dspb") + " --inspect"), 1, "bad bundle");
  expectError(run(q("v0.dspb") + " --inspect"), 1, "bundle version 0");
  expectError(run(q("lhs.npy") + " --inspect"), 1, "bad bundle");
  expectError(run(q("sd.dspb") + " --inspect --op 3"), 1, "out of range");
  expectError(run(q("sd.dspb") + " --inspect --op nope"), 1,
              "no operator named 'nope' (the bundle has: attn_qk)");
}

TEST_F(DynaspaRun, InspectNeedsNoDevice) {
  Result r = run(q("sd.dspb") + " --inspect");
  ASSERT_EQ(r.code, 0) << r.err;
  for (const char *text :
       {"attn_qk: BatchMatmul, self-dispatching", "OPENCL_C opencl",
        "[2] row_mask i1 [5]  input 2 (mask)", "[3] result f32 [2,5,4]",
        "output 0, zero-filled", "count_rows (module 0): grid [1] block [32]",
        "[0] rows: tiles [0, 2]", "[1] dense: tiles [3, inf)",
        "masked_bmm_sd (module 0): grid [2,3,2] block [2,2,1]"})
    EXPECT_NE(r.out.find(text), std::string::npos) << text << "\n" << r.out;
  r = run(q("host.dspb") + " --inspect --json --op attn_qk");
  ASSERT_EQ(r.code, 0) << r.err;
  json d = json::parse(r.out);
  EXPECT_EQ(d["version"], DYNASPA_BUNDLE_VERSION);
  EXPECT_EQ(d["modules"][0]["binaries"][0]["format"], "OPENCL_C");
  const json &op = d["operators"][0];
  EXPECT_EQ(op["self_dispatch"], false);
  EXPECT_EQ(op["variants"][1]["max_tiles"], -1);
  EXPECT_EQ(op["variants"][0]["launches"][0]["kernel"], "masked_bmm_rows");
  EXPECT_EQ(op["buffers"][4]["role"], "scratch");
}

TEST_F(DynaspaRun, RunsChecksAndWritesTheOutput) {
  REQUIRE_OPENCL();
  for (const char *bundle : {"sd.dspb", "host.dspb"}) {
    Result r = run(q(bundle) + " --device opencl " + dataArgs() + " --mask " +
                   q("mask.npy") + " --check -o " + q("out.npy"));
    ASSERT_EQ(r.code, 0) << r.err;
    EXPECT_NE(r.out.find("run: variant 1 'dense', tile count 4"),
              std::string::npos)
        << r.out;
    EXPECT_NE(r.out.find("exactly zero: ok"), std::string::npos) << r.out;
    NdArray out;
    ASSERT_TRUE(readNpy(path("out.npy"), DYNASPA_F32, &out));
    EXPECT_EQ(out.shape, (std::vector<int64_t>{2, 5, 4}));
    BmmData d = makeBmmData(BmmOptions(), {1, 1, 0, 1, 1});
    for (int64_t i = 0; i < out.numel(); ++i)
      EXPECT_NEAR(out.get(i), d.want[static_cast<size_t>(i)], 1e-5);
  }
}

TEST_F(DynaspaRun, JsonReportsRunAndCheck) {
  REQUIRE_OPENCL();
  Result r = run(q("sd.dspb") + " --device opencl --json --check " +
                 dataArgs() + " --mask " + q("mask_f32.npy"));
  ASSERT_EQ(r.code, 0) << r.err;
  json j = json::parse(r.out);
  EXPECT_EQ(j["operator"]["name"], "attn_qk");
  EXPECT_EQ(j["operator"]["self_dispatch"], true);
  EXPECT_EQ(j["run"]["variant"], 0);
  EXPECT_EQ(j["run"]["variant_name"], "rows");
  EXPECT_EQ(j["run"]["tile_count"], 1);
  EXPECT_EQ(j["check"]["ok"], true);
  EXPECT_LE(j["check"]["max_rel_err"].get<double>(), 1e-4);
  EXPECT_EQ(j["inputs"][2]["source"], path("mask_f32.npy"));
}

TEST_F(DynaspaRun, VariantLanesRunAndCheck) {
  REQUIRE_OPENCL();
  // Side by side, the variant that exits no longer comes first: the result
  // is the same, and both masks (one per variant) check exactly.
  for (const char *mask : {"mask.npy", "mask_f32.npy"}) {
    Result r = run(q("sd.dspb") + " --device opencl --json --check " +
                   "--variant-lanes " + dataArgs() + " --mask " + q(mask));
    ASSERT_EQ(r.code, 0) << r.err;
    json j = json::parse(r.out);
    EXPECT_EQ(j["variant_lanes"], true);
    EXPECT_EQ(j["check"]["ok"], true) << mask;
  }
}

TEST_F(DynaspaRun, MaskStacksPngsAndMismatches) {
  REQUIRE_OPENCL();
  std::string base = q("sd.dspb") + " --device opencl --json " + dataArgs();
  expectError(run(base + " --mask " + q("masks.npy")), 1,
              "stack of 3 masks: pick one with --mask-index");
  expectError(run(base + " --mask " + q("masks.npy") + " --mask-index 3"), 1,
              "--mask-index 3 out of range");
  expectError(run(base + " --mask " + q("mask6.npy")), 1, "mask size mismatch");
  expectError(run(base + " --mask " + q("not.png")), 1, "cannot read PNG");
  expectError(run(base + " --mask " + q("mask.png") + " --mask-index 0"), 1,
              "not to a PNG");
  const int active[] = {1, 2, 5};
  for (int index : {0, 1, 2}) {
    Result r = run(base + " --check --mask " + q("masks.npy") +
                   " --mask-index " + std::to_string(index));
    ASSERT_EQ(r.code, 0) << r.err;
    json j = json::parse(r.out);
    EXPECT_EQ(j["run"]["tile_count"], active[index]);
    EXPECT_EQ(j["check"]["ok"], true);
  }
  Result r = run(base + " --check --mask " + q("mask.png"));
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(json::parse(r.out)["run"]["tile_count"], 2);
}

TEST_F(DynaspaRun, WrongInputsAreErrors) {
  REQUIRE_OPENCL();
  std::string base = q("sd.dspb") + " --device opencl --mask " + q("mask.npy");
  expectError(
      run(base + " --input " + q("lhs_f64.npy") + " --input " + q("rhs.npy")),
      1, "must be float32, the file holds f64");
  expectError(run(base + " --input " + q("lhs_wrong_shape.npy") + " --input " +
                  q("rhs.npy")),
              1, "must have shape [2,5,3], the file has [2,3,5]");
  expectError(run(base + " --input " + q("lhs.npy")), 1, "pass --random SEED");
  expectError(run(base + " " + dataArgs() + " --input " + q("rhs.npy")), 1,
              "takes 2 data inputs");
  expectError(
      run(base + " --input " + q("missing.npy") + " --input " + q("rhs.npy")),
      1, "missing.npy");
  expectError(run(q("sd.dspb") + " --device opencl " + dataArgs()), 1,
              "no --mask");
}

TEST_F(DynaspaRun, RandomIsDeterministicAndExplicit) {
  REQUIRE_OPENCL();
  std::string base = q("sd.dspb") + " --device opencl --check --random 7";
  ASSERT_EQ(run(base + " -o " + q("r1.npy")).code, 0);
  ASSERT_EQ(run(base + " -o " + q("r2.npy")).code, 0);
  EXPECT_EQ(slurp(path("r1.npy")), slurp(path("r2.npy")));
  Result r = run(base + " --input " + q("lhs.npy") + " --json");
  ASSERT_EQ(r.code, 0) << r.err;
  json j = json::parse(r.out);
  EXPECT_EQ(j["inputs"][0]["source"], path("lhs.npy"));
  EXPECT_EQ(j["inputs"][1]["source"], "random N(0,1) (seed 7)");
  EXPECT_EQ(j["inputs"][2]["source"], "random 0/1 (seed 7)");
}

TEST_F(DynaspaRun, FailedCheckExitsThree) {
  REQUIRE_OPENCL();
  Result r = run(q("wrong.dspb") + " --device opencl --check " + dataArgs() +
                 " --mask " + q("mask.npy"));
  expectError(r, 3, "check failed");
  EXPECT_NE(r.out.find("FAILED"), std::string::npos) << r.out;
}

TEST_F(DynaspaRun, Benchmark) {
  REQUIRE_OPENCL();
  Result r = run(q("sd.dspb") +
                 " --device opencl --json --benchmark --reps 3 "
                 "--rounds 2 --warmup 1 " +
                 dataArgs() + " --mask " + q("mask.npy"));
  ASSERT_EQ(r.code, 0) << r.err;
  json b = json::parse(r.out)["benchmark"];
  EXPECT_EQ(b["method"], "opencl-host-clock");
  EXPECT_GT(b["median_us"].get<double>(), 0.0);
  EXPECT_GT(b["overhead_us"].get<double>(), 0.0);
  EXPECT_EQ(b["variant_name"], "dense");
  EXPECT_EQ(b["tile_count"], 4);
  EXPECT_EQ(b["host_selected"], false);
  r = run(q("host.dspb") + " --device opencl --benchmark --reps 2 --rounds 1 " +
          dataArgs() + " --mask " + q("mask.npy"));
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("host-selected operator"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("median"), std::string::npos) << r.out;
}

TEST_F(DynaspaRun, NetworkRunsChecksAndWritesTheOutput) {
  REQUIRE_OPENCL();
  Result r = run(chainArgs() + " --check -o " + q("chain_out.npy"));
  ASSERT_EQ(r.code, 0) << r.err;
  for (const char *text :
       {"network of 3 operators: 3 buffers of 160 bytes (one per tensor "
        "would take 560)",
        "[1] operator [1] bmm1 (BatchMatmul, self-dispatching): variant 1 "
        "'dense', tile count 4",
        "[2] operator [2] bmm2", "tile count 2",
        "input lhs [2,5,4]: the previous operator's output",
        "masked-off outputs exactly zero; vs the operators one by one: "
        "identical: ok"})
    EXPECT_NE(r.out.find(text), std::string::npos) << text << "\n" << r.out;
  NdArray out;
  ASSERT_TRUE(readNpy(path("chain_out.npy"), DYNASPA_F32, &out));
  EXPECT_EQ(out.shape, (std::vector<int64_t>{2, 5, 3}));
  ChainData c = makeChainData(chainOps(), chainMasks());
  for (int64_t i = 0; i < out.numel(); ++i)
    EXPECT_NEAR(out.get(i), c.want[static_cast<size_t>(i)], 1e-5) << i;
}

TEST_F(DynaspaRun, NetworkJsonRandomAndOneMaskForAll) {
  REQUIRE_OPENCL();
  Result r = run(q("chain.dspb") +
                 " --device opencl --json --check "
                 "--random 3 --op 0 --op 1 --op bmm2 "
                 "--mask " +
                 q("mask.npy") + " --benchmark --reps 2 --rounds 2");
  ASSERT_EQ(r.code, 0) << r.err;
  json j = json::parse(r.out);
  EXPECT_EQ(j["network"]["num_buffers"], 3);
  EXPECT_EQ(j["network"]["buffer_bytes"], 160);
  EXPECT_EQ(j["network"]["unplanned_bytes"], 560);
  ASSERT_EQ(j["operators"].size(), 3u);
  for (const json &op : j["operators"])
    EXPECT_EQ(op["run"]["tile_count"], 4) << op; // mask.npy: 4 active rows.
  EXPECT_EQ(j["operators"][0]["inputs"][0]["source"], "random N(0,1) (seed 3)");
  EXPECT_EQ(j["operators"][1]["inputs"][0]["source"],
            "the previous operator's output");
  EXPECT_EQ(j["operators"][1]["inputs"][1]["source"], "random N(0,1) (seed 4)");
  EXPECT_EQ(j["operators"][2]["inputs"][2]["source"], path("mask.npy"));
  EXPECT_EQ(j["check"]["ok"], true);
  EXPECT_EQ(j["check"]["one_by_one"]["identical"], true);
  EXPECT_EQ(j["benchmark"]["method"], "opencl-host-clock");
  EXPECT_GT(j["benchmark"]["median_us"].get<double>(), 0.0);
  EXPECT_GT(j["benchmark"]["serial_median_us"].get<double>(), 0.0);
}

TEST_F(DynaspaRun, NetworkErrors) {
  expectError(run(q("chain.dspb") + " --op 0 --op 1 --op 2 --mask " +
                  q("mask.npy") + " --mask " + q("mask.npy")),
              2,
              "give one --mask for all operators or one per --op (3), got 2");
  expectError(run(q("chain.dspb") + " --inspect --op 0 --op 1"), 2,
              "--inspect describes one --op");
  expectError(run(q("chain.dspb") + " --random 1 --op 0 --op 7"), 1,
              "--op 7 out of range");
  REQUIRE_OPENCL();
  expectError(run(q("chain.dspb") + " --device opencl --random 1 --op bmm0 "
                                    "--op bmm0"),
              1,
              "operator 1 ('bmm0') input 0 [2,5,3] F32 cannot take the output "
              "[2,5,4] F32 of operator 0 ('bmm0')");
  expectError(run(chainArgs() + " --input " + q("lhs.npy")), 1,
              "the chain takes 4 data inputs");
  expectError(run(q("chain.dspb") + " --device opencl --op 0 --op 1 --mask " +
                  q("mask.npy") + " --input " + q("chain_in.npy") +
                  " --input " + q("chain_in.npy")),
              1, "operator 0 of the chain: ");
}

TEST_F(DynaspaRun, NoUsableDeviceIsAnError) {
  dynaspa_context_t *ctx = nullptr;
  if (dynaspa_context_create(DYNASPA_DEVICE_CUDA, &ctx) == DYNASPA_OK) {
    dynaspa_context_destroy(ctx);
    GTEST_SKIP() << "a CUDA device is present";
  }
  expectError(run(q("sd.dspb") + " --device cuda --random 1"), 1,
              "no usable device");
}

} // namespace
} // namespace dynaspa::runtime::testing
