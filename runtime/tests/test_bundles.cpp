//===- test_bundles.cpp - bundles the runtime tests build -----------------===//
//
// Part of the dynaspa project.
//
//===----------------------------------------------------------------------===//

#include "test_bundles.h"

#include "dynaspa/runtime/reference.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>
#include <memory>

namespace dynaspa::runtime::testing {
namespace {

std::unique_ptr<fb::TensorT> tensor(std::string name, fb::DType dtype,
                                    std::vector<int64_t> shape) {
  auto t = std::make_unique<fb::TensorT>();
  t->name = std::move(name);
  t->dtype = dtype;
  t->shape = std::move(shape);
  return t;
}

std::unique_ptr<fb::ArgT> buffer(uint32_t index) {
  auto a = std::make_unique<fb::ArgT>();
  a->kind = fb::ArgKind::Buffer;
  a->buffer = index;
  return a;
}

std::unique_ptr<fb::ArgT> scalar(fb::ArgKind kind, int64_t value) {
  auto a = std::make_unique<fb::ArgT>();
  a->kind = kind;
  a->value = value;
  return a;
}

uint32_t ceilDiv(int64_t a, int64_t b) {
  return static_cast<uint32_t>(std::max<int64_t>(1, (a + b - 1) / b));
}

} // namespace

std::vector<uint8_t> readTestFile(const char *envName,
                                  const std::string &path) {
  const char *fromEnv = std::getenv(envName);
  std::ifstream in(fromEnv ? std::string(fromEnv) : path, std::ios::binary);
  if (!in)
    return {};
  return std::vector<uint8_t>(std::istreambuf_iterator<char>(in),
                              std::istreambuf_iterator<char>());
}

std::vector<uint8_t> maskedBmmSource() {
  return readTestFile("DYNASPA_TEST_CL",
                      DYNASPA_TEST_KERNEL_DIR "/masked_bmm.cl");
}

std::vector<uint8_t> maskedBmmSpirBitcode() {
  return readTestFile("DYNASPA_TEST_SPIR_BC", DYNASPA_TEST_SPIR_BC);
}

std::vector<uint8_t> maskedBmmPtx() {
  return readTestFile("DYNASPA_TEST_PTX", DYNASPA_TEST_PTX);
}

std::vector<uint8_t> maskedBmmCubin() {
  return readTestFile("DYNASPA_TEST_CUBIN", DYNASPA_TEST_CUBIN);
}

namespace {

NdArray fromVector(const std::vector<float> &v, std::vector<int64_t> shape) {
  NdArray a = NdArray::zeros(DYNASPA_F32, std::move(shape));
  std::memcpy(a.bytes.data(), v.data(), a.bytes.size());
  return a;
}

} // namespace

BmmData makeBmmData(const BmmOptions &o, const std::vector<float> &rowMask) {
  BmmData d;
  d.lhs.resize(static_cast<size_t>(o.batch * o.m * o.k));
  d.rhs.resize(static_cast<size_t>(o.batch * o.k * o.n));
  for (size_t i = 0; i < d.lhs.size(); ++i)
    d.lhs[i] = static_cast<float>(i % 7) - 3.0f;
  for (size_t i = 0; i < d.rhs.size(); ++i)
    d.rhs[i] = static_cast<float>(i % 5) * 0.5f;
  d.mask.assign(rowMask.begin(), rowMask.begin() + o.m);
  NdArray want;
  EXPECT_TRUE(referenceBatchMatmul(fromVector(d.lhs, {o.batch, o.m, o.k}),
                                   fromVector(d.rhs, {o.batch, o.k, o.n}),
                                   fromVector(d.mask, {o.m}), nullptr, &want));
  d.want.resize(static_cast<size_t>(want.numel()));
  for (int64_t i = 0; i < want.numel(); ++i)
    d.want[static_cast<size_t>(i)] = static_cast<float>(want.get(i));
  return d;
}

dynaspa_run_stats_t runMaskedBmm(dynaspa_context_t *context,
                                 dynaspa_bundle_t *bundle, const BmmOptions &o,
                                 const std::vector<float> &rowMask) {
  BmmData d = makeBmmData(o, rowMask);
  // Poison the output: masked entries must come back as exact zeros.
  std::vector<float> c(d.want.size(), 1234.0f);
  int64_t aShape[] = {o.batch, o.m, o.k}, bShape[] = {o.batch, o.k, o.n},
          mShape[] = {o.m}, cShape[] = {o.batch, o.m, o.n};
  // The mask goes in as f32 and is converted to the bundle's i1.
  dynaspa_host_tensor_t inputs[] = {{d.lhs.data(), DYNASPA_F32, 3, aShape},
                                    {d.rhs.data(), DYNASPA_F32, 3, bShape},
                                    {d.mask.data(), DYNASPA_F32, 1, mShape}};
  dynaspa_host_tensor_t outputs[] = {{c.data(), DYNASPA_F32, 3, cShape}};
  dynaspa_run_stats_t stats = {};
  EXPECT_EQ(dynaspa_operator_run(bundle, 0, inputs, 3, outputs, 1, &stats),
            DYNASPA_OK)
      << dynaspa_context_last_error(context);
  for (size_t i = 0; i < c.size(); ++i)
    EXPECT_NEAR(c[i], d.want[i], 1e-5) << "element " << i;
  return stats;
}

fb::BundleT makeMaskedBmmBundle(const BmmOptions &o) {
  fb::BundleT b;
  b.version = DYNASPA_BUNDLE_VERSION;
  b.producer = "dynaspa runtime tests";
  auto module = std::make_unique<fb::ModuleT>();
  module->name = "masked_bmm";
  for (const auto &[format, data] : o.binaries) {
    auto bin = std::make_unique<fb::BinaryT>();
    bin->format = format;
    bin->chip = format == fb::Format::SPIR_BC ? "spir64" : "opencl";
    bin->data = data;
    module->binaries.push_back(std::move(bin));
  }
  b.modules.push_back(std::move(module));

  auto op = std::make_unique<fb::OperatorT>();
  op->name = "attn_qk";
  op->kind = fb::OpKind::BatchMatmul;
  op->buffers.push_back(tensor("lhs", fb::DType::F32, {o.batch, o.m, o.k}));
  op->buffers.push_back(tensor("rhs", fb::DType::F32, {o.batch, o.k, o.n}));
  op->buffers.push_back(tensor("row_mask", fb::DType::I1, {o.m}));
  op->buffers.push_back(tensor("result", fb::DType::F32, {o.batch, o.m, o.n}));
  op->buffers.push_back(tensor("count", fb::DType::I32, {1}));
  op->inputs = {0, 1, 2};
  op->outputs = {3};
  op->zero_fill = {3, 4};

  auto count = std::make_unique<fb::LaunchT>();
  count->module_ = 0;
  count->kernel = "count_rows";
  count->grid = {ceilDiv(o.m, 32)};
  count->block = {32};
  count->args.push_back(buffer(2));
  count->args.push_back(buffer(4));
  count->args.push_back(scalar(fb::ArgKind::I32, o.m));
  op->prologue.push_back(std::move(count));

  op->self_dispatch = o.selfDispatch;
  // The self-dispatching kernels take their variant's range after the
  // usual arguments.
  auto addGuard = [&](fb::LaunchT &launch, int64_t lo, int64_t hi) {
    if (!o.selfDispatch)
      return;
    launch.kernel += "_sd";
    launch.args.push_back(buffer(4));
    launch.args.push_back(scalar(fb::ArgKind::I64, lo));
    launch.args.push_back(scalar(fb::ArgKind::I64, hi));
  };

  auto rows = std::make_unique<fb::VariantT>();
  rows->name = "rows";
  rows->granularity = {1};
  rows->count_buffer = 4;
  rows->min_tiles = 0;
  rows->max_tiles = o.rowsVariantMaxTiles;
  auto rowsLaunch = std::make_unique<fb::LaunchT>();
  rowsLaunch->module_ = 0;
  rowsLaunch->kernel = "masked_bmm_rows";
  rowsLaunch->grid = {ceilDiv(o.m, 4), static_cast<uint32_t>(o.batch)};
  rowsLaunch->block = {4, 1};
  for (uint32_t i : {0u, 1u, 2u, 3u})
    rowsLaunch->args.push_back(buffer(i));
  for (int64_t v : {o.batch, o.m, o.k, o.n})
    rowsLaunch->args.push_back(scalar(fb::ArgKind::I64, v));
  addGuard(*rowsLaunch, rows->min_tiles, rows->max_tiles);
  rows->launches.push_back(std::move(rowsLaunch));
  op->variants.push_back(std::move(rows));

  auto dense = std::make_unique<fb::VariantT>();
  dense->name = "dense";
  dense->granularity = {1};
  dense->count_buffer = 4;
  dense->min_tiles = o.rowsVariantMaxTiles + 1;
  dense->max_tiles = -1;
  auto denseLaunch = std::make_unique<fb::LaunchT>();
  denseLaunch->module_ = 0;
  denseLaunch->kernel = "masked_bmm";
  denseLaunch->grid = {ceilDiv(o.n, 2), ceilDiv(o.m, 2),
                       static_cast<uint32_t>(o.batch)};
  denseLaunch->block = {2, 2, 1};
  for (uint32_t i : {0u, 1u, 2u, 3u})
    denseLaunch->args.push_back(buffer(i));
  for (int64_t v : {o.batch, o.m, o.k, o.n})
    denseLaunch->args.push_back(scalar(fb::ArgKind::I32, v));
  addGuard(*denseLaunch, dense->min_tiles, dense->max_tiles);
  dense->launches.push_back(std::move(denseLaunch));
  op->variants.push_back(std::move(dense));

  if (o.fillKernels) {
    op->zero_fill = {4};
    op->writes_zeros = true;
    for (int active : {1, 0}) {
      auto fill = std::make_unique<fb::LaunchT>();
      fill->module_ = 0;
      fill->kernel = "zero_rows";
      fill->grid = {ceilDiv(o.batch * o.m * o.n, 32)};
      fill->block = {32};
      fill->args.push_back(buffer(2));
      fill->args.push_back(buffer(3));
      for (int64_t v : {o.batch, o.m, o.n, int64_t(active)})
        fill->args.push_back(scalar(fb::ArgKind::I32, v));
      (active ? op->fills_before : op->fills_alongside)
          .push_back(std::move(fill));
    }
  }

  b.operators.push_back(std::move(op));
  return b;
}

fb::BundleT makeMaskedBmmChainBundle(const std::vector<BmmOptions> &ops) {
  fb::BundleT b = makeMaskedBmmBundle(ops.at(0));
  b.operators.clear();
  for (size_t i = 0; i < ops.size(); ++i) {
    fb::BundleT one = makeMaskedBmmBundle(ops[i]);
    one.operators[0]->name = "bmm" + std::to_string(i);
    b.operators.push_back(std::move(one.operators[0]));
  }
  return b;
}

ChainData makeChainData(const std::vector<BmmOptions> &ops,
                        const std::vector<std::vector<float>> &rowMasks) {
  ChainData d;
  const BmmOptions &o0 = ops.at(0);
  d.input.resize(static_cast<size_t>(o0.batch * o0.m * o0.k));
  for (size_t i = 0; i < d.input.size(); ++i)
    d.input[i] = static_cast<float>(i % 7) * 0.25f - 0.75f;
  NdArray x = fromVector(d.input, {o0.batch, o0.m, o0.k});
  for (size_t op = 0; op < ops.size(); ++op) {
    const BmmOptions &o = ops[op];
    std::vector<float> rhs(static_cast<size_t>(o.batch * o.k * o.n));
    // Different per operator, so that a swapped binding shows.
    for (size_t i = 0; i < rhs.size(); ++i)
      rhs[i] = static_cast<float>((i + 3 * op) % 5) * 0.5f - 0.5f;
    d.rhs.push_back(rhs);
    d.masks.emplace_back(rowMasks.at(op).begin(),
                         rowMasks.at(op).begin() + o.m);
    NdArray y;
    EXPECT_TRUE(referenceBatchMatmul(x, fromVector(rhs, {o.batch, o.k, o.n}),
                                     fromVector(d.masks.back(), {o.m}), nullptr,
                                     &y));
    x = std::move(y); // F64: the next product starts from exact values.
  }
  d.want.resize(static_cast<size_t>(x.numel()));
  for (int64_t i = 0; i < x.numel(); ++i)
    d.want[static_cast<size_t>(i)] = static_cast<float>(x.get(i));
  return d;
}

std::vector<float> runChainNetwork(dynaspa_context_t *context,
                                   dynaspa_network_t *network,
                                   const std::vector<BmmOptions> &ops,
                                   ChainData &d,
                                   std::vector<dynaspa_run_stats_t> *stats) {
  std::vector<std::array<int64_t, 3>> shapes;
  shapes.reserve(3 * ops.size());
  std::vector<dynaspa_host_tensor_t> in;
  for (size_t k = 0; k < ops.size(); ++k) {
    const BmmOptions &o = ops[k];
    shapes.push_back({o.batch, o.m, o.k});
    shapes.push_back({o.batch, o.k, o.n});
    shapes.push_back({o.m, 0, 0});
    // Input 0 of every operator after the first is the previous output.
    in.push_back({k == 0 ? d.input.data() : nullptr, DYNASPA_F32, 3,
                  shapes[3 * k].data()});
    in.push_back({d.rhs[k].data(), DYNASPA_F32, 3, shapes[3 * k + 1].data()});
    in.push_back({d.masks[k].data(), DYNASPA_F32, 1, shapes[3 * k + 2].data()});
  }
  const BmmOptions &o = ops.back();
  // Poisoned: masked-off outputs must come back as exact zeros.
  std::vector<float> out(static_cast<size_t>(o.batch * o.m * o.n), 1234.0f);
  int64_t outShape[] = {o.batch, o.m, o.n};
  dynaspa_host_tensor_t output = {out.data(), DYNASPA_F32, 3, outShape};
  if (stats)
    stats->assign(ops.size(), dynaspa_run_stats_t());
  EXPECT_EQ(dynaspa_network_run(network, in.data(), in.size(), &output,
                                stats ? stats->data() : nullptr),
            DYNASPA_OK)
      << dynaspa_context_last_error(context);
  return out;
}

std::vector<float> runChainOneByOne(dynaspa_context_t *context,
                                    dynaspa_bundle_t *bundle,
                                    const std::vector<BmmOptions> &ops,
                                    ChainData &d,
                                    std::vector<dynaspa_run_stats_t> *stats) {
  std::vector<float> x = d.input;
  stats->clear();
  for (size_t k = 0; k < ops.size(); ++k) {
    const BmmOptions &o = ops[k];
    int64_t aShape[] = {o.batch, o.m, o.k}, bShape[] = {o.batch, o.k, o.n},
            mShape[] = {o.m}, cShape[] = {o.batch, o.m, o.n};
    std::vector<float> y(static_cast<size_t>(o.batch * o.m * o.n), -1.0f);
    dynaspa_host_tensor_t in[] = {{x.data(), DYNASPA_F32, 3, aShape},
                                  {d.rhs[k].data(), DYNASPA_F32, 3, bShape},
                                  {d.masks[k].data(), DYNASPA_F32, 1, mShape}};
    dynaspa_host_tensor_t out[] = {{y.data(), DYNASPA_F32, 3, cShape}};
    dynaspa_run_stats_t s = {};
    EXPECT_EQ(dynaspa_operator_run(bundle, k, in, 3, out, 1, &s), DYNASPA_OK)
        << dynaspa_context_last_error(context);
    stats->push_back(s);
    x = std::move(y);
  }
  return x;
}

} // namespace dynaspa::runtime::testing
