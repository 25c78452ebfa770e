//===- bundle_test.cpp - bundle writer and verifier -----------------------===//
//
// Part of the dynaspa project.
//
//===----------------------------------------------------------------------===//
//
// Valid bundles round-trip through serializeBundle/verifyBundle; each
// semantic rule of the verifier has a case that breaks exactly that rule
// and expects the documented status.
//
//===----------------------------------------------------------------------===//

#include "test_bundles.h"

#include <gtest/gtest.h>

#include <functional>

namespace dynaspa::runtime::testing {
namespace {

/// Serialized bytes in 8-byte aligned storage, as the runtime keeps them.
struct AlignedBytes {
  explicit AlignedBytes(const std::vector<uint8_t> &bytes)
      : size(bytes.size()), words((bytes.size() + 7) / 8) {
    if (size)
      std::memcpy(words.data(), bytes.data(), size);
  }
  const uint8_t *data() const {
    return reinterpret_cast<const uint8_t *>(words.data());
  }
  size_t size;
  std::vector<uint64_t> words;
};

Status verify(const fb::BundleT &b, const fb::Bundle **root = nullptr) {
  AlignedBytes bytes(serializeBundle(b));
  const fb::Bundle *r = nullptr;
  Status s = verifyBundle(bytes.data(), bytes.size, &r);
  if (root)
    *root = r;
  return s;
}

/// The default bundle with a calibration probe appended.
fb::ProbeT &probe0(fb::BundleT &b) {
  auto p = std::make_unique<fb::ProbeT>();
  p->kind = fb::ProbeKind::Fma;
  p->module_ = 0;
  p->kernel = "probe_fma";
  p->block = 256;
  p->elements = 1 << 20;
  p->work = 32;
  b.probes.push_back(std::move(p));
  return *b.probes.back();
}

TEST(Bundle, ValidBundleVerifiesAndReadsBack) {
  fb::BundleT b = makeDefaultBundle();
  AlignedBytes bytes(serializeBundle(b));
  const fb::Bundle *root = nullptr;
  Status s = verifyBundle(bytes.data(), bytes.size, &root);
  ASSERT_TRUE(s) << s.message();
  ASSERT_NE(root, nullptr);
  EXPECT_EQ(root->version(), DYNASPA_BUNDLE_VERSION);
  EXPECT_EQ(root->producer()->str(), "dynaspa runtime tests");
  ASSERT_EQ(root->operators()->size(), 1u);
  const fb::Operator *op = root->operators()->Get(0);
  EXPECT_EQ(op->name()->str(), "attn_qk");
  EXPECT_EQ(op->kind(), fb::OpKind::BatchMatmul);
  EXPECT_EQ(op->variants()->size(), 2u);
  EXPECT_EQ(op->variants()->Get(1)->max_tiles(), -1);
  EXPECT_EQ(op->buffers()->Get(2)->dtype(), fb::DType::I1);
  EXPECT_EQ(root->modules()->Get(0)->binaries()->Get(0)->format(),
            fb::Format::OPENCL_C);
  // The object API reads it back unchanged.
  std::unique_ptr<fb::BundleT> back(root->UnPack());
  EXPECT_EQ(serializeBundle(*back), serializeBundle(b));
}

TEST(Bundle, CountsTf32Variants) {
  fb::BundleT b = makeDefaultBundle();
  b.operators[0]->variants[1]->math = fb::Math::TF32;
  AlignedBytes bytes(serializeBundle(b));
  const fb::Bundle *root = nullptr;
  ASSERT_TRUE(verifyBundle(bytes.data(), bytes.size, &root));
  // The default is FP32: only the variant marked TF32 counts.
  EXPECT_EQ(countTf32Variants(*root->operators()->Get(0)), 1u);
}

TEST(Bundle, ValidConv2DVerifies) {
  fb::BundleT b = makeDefaultBundle();
  fb::OperatorT &op = *b.operators[0];
  op.kind = fb::OpKind::Conv2D;
  op.layout = fb::Layout::NHWC;
  op.strides = {2, 2};
  op.padding = {1, 1, 1, 1};
  // x [1,8,8,3], k [3,3,3,4], mask [4,4], y [1,4,4,4].
  op.buffers[0]->shape = {1, 8, 8, 3};
  op.buffers[1]->shape = {3, 3, 3, 4};
  op.buffers[2]->shape = {4, 4};
  op.buffers[3]->shape = {1, 4, 4, 4};
  Status s = verify(b);
  EXPECT_TRUE(s) << s.message();
  op.layout = fb::Layout::NCHW; // Now the shapes no longer fit.
  EXPECT_EQ(verify(b).code(), DYNASPA_BAD_BUNDLE);
}

TEST(Bundle, ProbeOnlyBundleVerifies) {
  fb::BundleT b = makeDefaultBundle();
  b.operators.clear();
  probe0(b);
  Status s = verify(b);
  EXPECT_TRUE(s) << s.message();
}

TEST(Bundle, WrongVersionIsVersionMismatch) {
  fb::BundleT b = makeDefaultBundle();
  b.version = DYNASPA_BUNDLE_VERSION + 1;
  Status s = verify(b);
  EXPECT_EQ(s.code(), DYNASPA_VERSION_MISMATCH) << s.message();
}

TEST(Bundle, WrongFileIdentifierIsRejected) {
  std::vector<uint8_t> bytes = serializeBundle(makeDefaultBundle());
  bytes[4] = 'X'; // The identifier follows the 4-byte root offset.
  AlignedBytes aligned(bytes);
  const fb::Bundle *root = nullptr;
  Status s = verifyBundle(aligned.data(), aligned.size, &root);
  EXPECT_EQ(s.code(), DYNASPA_BAD_BUNDLE);
  EXPECT_NE(s.message().find("identifier"), std::string::npos);
  EXPECT_EQ(root, nullptr);
}

TEST(Bundle, EmptyAndTinyInputsAreRejected) {
  const fb::Bundle *root = nullptr;
  uint64_t zero = 0;
  EXPECT_EQ(verifyBundle(nullptr, 0, &root).code(), DYNASPA_BAD_BUNDLE);
  EXPECT_EQ(verifyBundle(reinterpret_cast<uint8_t *>(&zero), 4, &root).code(),
            DYNASPA_BAD_BUNDLE);
  EXPECT_EQ(verifyBundle(reinterpret_cast<uint8_t *>(&zero), 8, &root).code(),
            DYNASPA_BAD_BUNDLE);
  EXPECT_EQ(verifyBundle(reinterpret_cast<uint8_t *>(&zero), 8, nullptr).code(),
            DYNASPA_INVALID_ARGUMENT);
}

TEST(Bundle, MisalignedDataIsInvalidArgument) {
  std::vector<uint8_t> bytes = serializeBundle(makeDefaultBundle());
  std::vector<uint64_t> words(bytes.size() / 8 + 2);
  auto *p = reinterpret_cast<uint8_t *>(words.data()) + 1;
  std::memcpy(p, bytes.data(), bytes.size());
  const fb::Bundle *root = nullptr;
  EXPECT_EQ(verifyBundle(p, bytes.size(), &root).code(),
            DYNASPA_INVALID_ARGUMENT);
}

/// One semantic rule broken per case; all must give BAD_BUNDLE and a message
/// naming the place.
struct Breakage {
  const char *name;
  const char *where;
  std::function<void(fb::BundleT &)> apply;
};

class BrokenBundle : public ::testing::TestWithParam<Breakage> {};

TEST_P(BrokenBundle, IsBadBundle) {
  fb::BundleT b = makeDefaultBundle();
  GetParam().apply(b);
  Status s = verify(b);
  EXPECT_EQ(s.code(), DYNASPA_BAD_BUNDLE) << s.message();
  EXPECT_NE(s.message().find(GetParam().where), std::string::npos)
      << s.message();
}

fb::OperatorT &op0(fb::BundleT &b) { return *b.operators[0]; }
fb::LaunchT &prologue0(fb::BundleT &b) { return *op0(b).prologue[0]; }
fb::LaunchT &dense(fb::BundleT &b) { return *op0(b).variants[1]->launches[0]; }
std::unique_ptr<fb::CoverT> cover(uint32_t of, uint32_t over, int64_t lo,
                                  int64_t hi) {
  auto c = std::make_unique<fb::CoverT>();
  c->of_buffer = of;
  c->over_buffer = over;
  c->of_positions = 4;
  c->over_positions = 1;
  c->min_percent = lo;
  c->max_percent = hi;
  return c;
}

const Breakage kBreakages[] = {
    {"NoOperatorsNoProbes", "no operators and no probes",
     [](fb::BundleT &b) { b.operators.clear(); }},
    {"ProbeKind", "probes[0]",
     [](fb::BundleT &b) { probe0(b).kind = fb::ProbeKind(9); }},
    {"ProbeModuleIndex", "probes[0]",
     [](fb::BundleT &b) { probe0(b).module_ = 1; }},
    {"ProbeNoKernel", "probes[0]",
     [](fb::BundleT &b) { probe0(b).kernel.clear(); }},
    {"ProbeBlock", "probes[0]", [](fb::BundleT &b) { probe0(b).block = 0; }},
    {"ProbeElements", "probes[0]",
     [](fb::BundleT &b) { probe0(b).elements = int64_t(1) << 31; }},
    {"ProbeNoWork", "probes[0]", [](fb::BundleT &b) { probe0(b).work = 0; }},
    {"ModuleIndex", "prologue[0]",
     [](fb::BundleT &b) { prologue0(b).module_ = 1; }},
    {"ArgBufferIndex", "args[1]",
     [](fb::BundleT &b) { prologue0(b).args[1]->buffer = 5; }},
    {"FillArgBufferIndex", "fills_alongside[0]",
     [](fb::BundleT &b) {
       auto fill = std::make_unique<fb::LaunchT>(prologue0(b));
       fill->args[1]->buffer = 5;
       op0(b).fills_alongside.push_back(std::move(fill));
     }},
    {"FillModuleIndex", "fills_before[0]",
     [](fb::BundleT &b) {
       auto fill = std::make_unique<fb::LaunchT>(prologue0(b));
       fill->module_ = 1;
       op0(b).fills_before.push_back(std::move(fill));
     }},
    {"ArgKind", "args[0]",
     [](fb::BundleT &b) { dense(b).args[0]->kind = fb::ArgKind(7); }},
    {"I32ValueRange", "args[4]",
     [](fb::BundleT &b) { dense(b).args[4]->value = int64_t(1) << 40; }},
    {"InputIndex", "inputs[2]", [](fb::BundleT &b) { op0(b).inputs[2] = 99; }},
    {"OutputIndex", "outputs[0]",
     [](fb::BundleT &b) { op0(b).outputs[0] = 5; }},
    {"ZeroFillIndex", "zero_fill[1]",
     [](fb::BundleT &b) { op0(b).zero_fill[1] = 1000; }},
    {"NegativeShape", "buffers[1]",
     [](fb::BundleT &b) { op0(b).buffers[1]->shape[0] = -1; }},
    {"OverflowingShape", "buffers[0]",
     [](fb::BundleT &b) {
       op0(b).buffers[0]->shape = {int64_t(1) << 40, int64_t(1) << 40};
     }},
    {"UnknownDType", "buffers[3]",
     [](fb::BundleT &b) { op0(b).buffers[3]->dtype = fb::DType(42); }},
    {"GridRankZero", "prologue[0]",
     [](fb::BundleT &b) { prologue0(b).grid.clear(); }},
    {"GridRankFour", "launches[0]",
     [](fb::BundleT &b) {
       dense(b).grid = {1, 1, 1, 1};
     }},
    {"BlockDimZero", "launches[0]",
     [](fb::BundleT &b) {
       dense(b).block = {2, 0, 1};
     }},
    {"NoKernelName", "prologue[0]",
     [](fb::BundleT &b) { prologue0(b).kernel.clear(); }},
    {"NoVariants", "no variants",
     [](fb::BundleT &b) { op0(b).variants.clear(); }},
    {"LastVariantBounded", "variants[1]",
     [](fb::BundleT &b) { op0(b).variants[1]->max_tiles = 100; }},
    {"LastVariantCovered", "and have no cover",
     [](fb::BundleT &b) { op0(b).variants[1]->cover = cover(4, 4, 0, 150); }},
    {"CoverBufferIndex", "cover count buffer 9 out of range",
     [](fb::BundleT &b) { op0(b).variants[0]->cover = cover(9, 4, 0, 150); }},
    {"CoverBufferIsInput", "cover count buffers must be i32 scratch",
     [](fb::BundleT &b) { op0(b).variants[0]->cover = cover(4, 0, 0, 150); }},
    {"CoverRange", "cover percents",
     [](fb::BundleT &b) { op0(b).variants[0]->cover = cover(4, 4, 150, 100); }},
    {"CoverPercentTooLarge", "cover percents",
     [](fb::BundleT &b) {
       op0(b).variants[0]->cover = cover(4, 4, 0, int64_t(1) << 40);
     }},
    {"CoverPositions", "cover positions must be in [1, 65536]",
     [](fb::BundleT &b) {
       op0(b).variants[0]->cover = cover(4, 4, 0, 150);
       op0(b).variants[0]->cover->of_positions = 0;
     }},
    {"MaxBelowMin", "variants[0]",
     [](fb::BundleT &b) { op0(b).variants[0]->min_tiles = 3; }},
    {"NegativeMin", "variants[0]",
     [](fb::BundleT &b) { op0(b).variants[0]->min_tiles = -2; }},
    {"CountBufferIndex", "variants[1]",
     [](fb::BundleT &b) { op0(b).variants[1]->count_buffer = 9; }},
    {"CountBufferDType", "variants[0]",
     [](fb::BundleT &b) { op0(b).variants[0]->count_buffer = 0; }},
    {"CountBufferIsInput", "must be scratch",
     [](fb::BundleT &b) {
       op0(b).buffers[2]->dtype = fb::DType::I32;
       op0(b).variants[0]->count_buffer = 2;
     }},
    {"NoCountWithTwoVariants",
     "without a count buffer must be the operator's only one",
     [](fb::BundleT &b) {
       op0(b).variants[1]->count_buffer = flatbuffers::nullopt;
     }},
    {"NoCountWithBoundedRange", "with tiles [0, -1]",
     [](fb::BundleT &b) {
       op0(b).variants.erase(op0(b).variants.begin());
       op0(b).variants[0]->count_buffer = flatbuffers::nullopt;
       op0(b).variants[0]->min_tiles = 1;
     }},
    {"ZeroFillOfInput", "zero_fill[0]",
     [](fb::BundleT &b) { op0(b).zero_fill[0] = 1; }},
    {"OutputIsInput", "named twice",
     [](fb::BundleT &b) { op0(b).outputs[0] = 0; }},
    {"EmptyCountBuffer", "variants[0]",
     [](fb::BundleT &b) { op0(b).buffers[4]->shape = {0}; }},
    {"NoBinaries", "modules[0]",
     [](fb::BundleT &b) { b.modules[0]->binaries.clear(); }},
    {"EmptyBinary", "binaries[0]",
     [](fb::BundleT &b) { b.modules[0]->binaries[0]->data.clear(); }},
    {"UnknownFormat", "binaries[0]",
     [](fb::BundleT &b) { b.modules[0]->binaries[0]->format = fb::Format(9); }},
    {"UnknownKind", "operator kind",
     [](fb::BundleT &b) { op0(b).kind = fb::OpKind(5); }},
    {"NoName", "no name", [](fb::BundleT &b) { op0(b).name.clear(); }},
    {"DuplicateName", "duplicate",
     [](fb::BundleT &b) {
       b.operators.push_back(std::unique_ptr<fb::OperatorT>(
           makeDefaultBundle().operators[0].release()));
     }},
    {"TooFewInputs", "3 or 4 inputs",
     [](fb::BundleT &b) { op0(b).inputs.pop_back(); }},
    {"ResultShape", "result shape",
     [](fb::BundleT &b) { op0(b).buffers[3]->shape[2] = 7; }},
    {"MaskShape", "row mask",
     [](fb::BundleT &b) {
       op0(b).buffers[2]->shape = {2, 2};
     }},
    {"IntegerLhs", "floating point",
     [](fb::BundleT &b) { op0(b).buffers[0]->dtype = fb::DType::I32; }},
    {"ConvPaddingArity", "padding",
     [](fb::BundleT &b) {
       op0(b).kind = fb::OpKind::Conv2D;
       op0(b).padding = {1, 1};
     }},
};

INSTANTIATE_TEST_SUITE_P(Rules, BrokenBundle, ::testing::ValuesIn(kBreakages),
                         [](const auto &info) {
                           return std::string(info.param.name);
                         });

TEST(Bundle, ElementCount) {
  int64_t n = 0;
  int64_t shape[] = {2, 3, 4};
  EXPECT_TRUE(elementCount(shape, 3, &n));
  EXPECT_EQ(n, 24);
  EXPECT_TRUE(elementCount(nullptr, 0, &n));
  EXPECT_EQ(n, 1);
  int64_t negative[] = {2, -1};
  EXPECT_FALSE(elementCount(negative, 2, &n));
  int64_t huge[] = {int64_t(1) << 31, int64_t(1) << 31};
  EXPECT_FALSE(elementCount(huge, 2, &n));
  int64_t withZero[] = {0, int64_t(1) << 62, int64_t(1) << 62};
  EXPECT_TRUE(elementCount(withZero, 3, &n));
  EXPECT_EQ(n, 0);
}

} // namespace
} // namespace dynaspa::runtime::testing
