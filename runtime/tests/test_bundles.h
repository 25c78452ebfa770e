//===- test_bundles.h - bundles the runtime tests build ---------*- C++ -*-===//
//
// Part of the dynaspa project.
//
//===----------------------------------------------------------------------===//
//
// Builds bundles through the object API, the way the compiler will: a masked
// batch matmul whose kernels are tests/kernels/masked_bmm.cl (as OpenCL C
// and, where clang-15 exists at build time, SPIR 1.2 bitcode).
//
//===----------------------------------------------------------------------===//

#ifndef DYNASPA_RUNTIME_TESTS_TEST_BUNDLES_H
#define DYNASPA_RUNTIME_TESTS_TEST_BUNDLES_H

#include "dynaspa/runtime/bundle.h"
#include "dynaspa/runtime/runtime.h"

#include <string>
#include <vector>

namespace dynaspa::runtime::testing {

namespace fb = ::dynaspa::bundle;

/// Contents of a test input file; empty if it does not exist. The path is
/// taken from environment variable `envName` when set (to run the binary on
/// another machine, where the build paths do not exist), else `path`.
std::vector<uint8_t> readTestFile(const char *envName, const std::string &path);
/// tests/kernels/masked_bmm.cl.
std::vector<uint8_t> maskedBmmSource();
/// The same compiled to SPIR bitcode at build time; empty without clang-15.
std::vector<uint8_t> maskedBmmSpirBitcode();
/// tests/kernels/masked_bmm.cu compiled by nvcc at build time to PTX
/// (compute_80) and a cubin (sm_90); empty without nvcc.
std::vector<uint8_t> maskedBmmPtx();
std::vector<uint8_t> maskedBmmCubin();

struct BmmOptions {
  int64_t batch = 2, m = 5, k = 3, n = 4;
  /// Tile counts up to this pick the row-loop variant, above it the dense one.
  int64_t rowsVariantMaxTiles = 2;
  /// Operator.self_dispatch, with the *_sd kernels that check their range.
  bool selfDispatch = false;
  /// The output's zeros from fill kernels instead of a zero fill
  /// (writes_zeros): zero_rows of the active rows in fills_before, of the
  /// masked-off rows in fills_alongside.
  bool fillKernels = false;
  /// Binaries of module 0 in this order (a binary per entry).
  std::vector<std::pair<fb::Format, std::vector<uint8_t>>> binaries;
};

/// Buffers: 0 lhs [B,M,K] f32, 1 rhs [B,K,N] f32, 2 row mask [M] i1,
/// 3 result [B,M,N] f32, 4 count [1] i32. Variants: 0 "rows" (i64 sizes),
/// 1 "dense"; self-dispatching ones also take (count, lo, hi).
fb::BundleT makeMaskedBmmBundle(const BmmOptions &options);

/// Runs operator 0 of a makeMaskedBmmBundle bundle with deterministic inputs
/// and `rowMask` (as f32, converted to the bundle's i1), checks the result
/// against the float64 reference with gtest expectations and returns the
/// run's stats.
dynaspa_run_stats_t runMaskedBmm(dynaspa_context_t *context,
                                 dynaspa_bundle_t *bundle, const BmmOptions &o,
                                 const std::vector<float> &rowMask);

/// Deterministic inputs of runMaskedBmm (lhs, rhs) and the float64
/// reference result for `rowMask`, as f32 vectors in C order.
struct BmmData {
  std::vector<float> lhs, rhs, mask, want;
};
BmmData makeBmmData(const BmmOptions &o, const std::vector<float> &rowMask);

/// Operators 0..n-1 of one bundle, operator i being makeMaskedBmmBundle's
/// for `ops[i]`, named "bmm<i>" (module and binaries from ops[0]). Chain
/// them by giving operator i+1 k = operator i's n.
fb::BundleT makeMaskedBmmChainBundle(const std::vector<BmmOptions> &ops);

/// Deterministic inputs of a chain of such operators: the network input
/// (lhs of operator 0), every operator's rhs and row mask (f32 0/1), and the
/// float64 reference of the whole chain (each product computed in float64
/// from the previous one), rounded to f32.
struct ChainData {
  std::vector<float> input;
  std::vector<std::vector<float>> rhs, masks;
  std::vector<float> want;
};
ChainData makeChainData(const std::vector<BmmOptions> &ops,
                        const std::vector<std::vector<float>> &rowMasks);

/// dynaspa_network_run of a network of `ops` (in order) on `d`, with a
/// poisoned output; gtest-checks the status. `stats`: nullptr, or resized
/// to one entry per operator.
std::vector<float> runChainNetwork(dynaspa_context_t *context,
                                   dynaspa_network_t *network,
                                   const std::vector<BmmOptions> &ops,
                                   ChainData &d,
                                   std::vector<dynaspa_run_stats_t> *stats);
/// The same chain operator by operator with dynaspa_operator_run
/// (operator k of `bundle` is ops[k]); `stats` gets one entry per operator.
std::vector<float> runChainOneByOne(dynaspa_context_t *context,
                                    dynaspa_bundle_t *bundle,
                                    const std::vector<BmmOptions> &ops,
                                    ChainData &d,
                                    std::vector<dynaspa_run_stats_t> *stats);

/// A valid bundle with an OpenCL C module (no device needed to verify).
inline fb::BundleT makeDefaultBundle() {
  BmmOptions options;
  options.binaries.emplace_back(fb::Format::OPENCL_C, maskedBmmSource());
  return makeMaskedBmmBundle(options);
}

} // namespace dynaspa::runtime::testing

#endif // DYNASPA_RUNTIME_TESTS_TEST_BUNDLES_H
