//===- reference_test.cpp - float64 reference operators -------------------===//
//
// Part of the dynaspa project.
//
//===----------------------------------------------------------------------===//
//
// Tiny cases with hand-computed answers (noted next to each expectation),
// plus the NHWC/NCHW equivalence on random data.
//
//===----------------------------------------------------------------------===//

#include "dynaspa/runtime/reference.h"

#include <gtest/gtest.h>

namespace dynaspa::runtime {
namespace {

NdArray make(dynaspa_dtype_t dtype, std::vector<int64_t> shape,
             std::vector<double> values) {
  NdArray a = NdArray::zeros(dtype, std::move(shape));
  EXPECT_EQ(static_cast<size_t>(a.numel()), values.size());
  for (size_t i = 0; i < values.size(); ++i)
    a.set(static_cast<int64_t>(i), values[i]);
  return a;
}

NdArray iota(std::vector<int64_t> shape, double start = 1.0) {
  NdArray a = NdArray::zeros(DYNASPA_F32, std::move(shape));
  for (int64_t i = 0; i < a.numel(); ++i)
    a.set(i, start + static_cast<double>(i));
  return a;
}

std::vector<double> values(const NdArray &a) {
  std::vector<double> v(static_cast<size_t>(a.numel()));
  for (int64_t i = 0; i < a.numel(); ++i)
    v[static_cast<size_t>(i)] = a.get(i);
  return v;
}

TEST(ReferenceConv2D, Pad1With3x3OnesAndBias) {
  // X = 1..9 as 3x3, K = ones, padding 1: Y(0,0) = 1+2+4+5 = 12,
  // Y(1,1) = 45; bias 0.5; mask keeps (0,0) and (1,1) only.
  Conv2DParams p;
  p.padding = {1, 1, 1, 1};
  NdArray x = iota({1, 3, 3, 1});
  NdArray k = make(DYNASPA_F32, {3, 3, 1, 1}, std::vector<double>(9, 1.0));
  NdArray m = make(DYNASPA_U8, {3, 3}, {1, 0, 0, 0, 7, 0, 0, 0, 0});
  NdArray b = make(DYNASPA_F32, {1}, {0.5});
  NdArray y;
  Status s = referenceConv2D(p, x, k, m, &b, &y);
  ASSERT_TRUE(s) << s.message();
  EXPECT_EQ(y.dtype, DYNASPA_F64);
  EXPECT_EQ(y.shape, (std::vector<int64_t>{1, 3, 3, 1}));
  EXPECT_EQ(values(y), (std::vector<double>{12.5, 0, 0, 0, 45.5, 0, 0, 0, 0}));
}

TEST(ReferenceConv2D, Stride2) {
  // Ho = (3 + 2 - 2 - 1) / 2 + 1 = 2: the stride-1 outputs at the corners,
  // 1+2+4+5, 2+3+5+6, 4+5+7+8, 5+6+8+9.
  Conv2DParams p;
  p.strides = {2, 2};
  p.padding = {1, 1, 1, 1};
  NdArray y;
  ASSERT_TRUE(referenceConv2D(
      p, iota({1, 3, 3, 1}),
      make(DYNASPA_F32, {3, 3, 1, 1}, std::vector<double>(9, 1.0)),
      make(DYNASPA_I1, {1, 2, 2}, {1, 1, 1, 1}), nullptr, &y));
  EXPECT_EQ(y.shape, (std::vector<int64_t>{1, 2, 2, 1}));
  EXPECT_EQ(values(y), (std::vector<double>{12, 16, 24, 28}));
}

TEST(ReferenceConv2D, Dilation2AsymmetricPaddingAndChannels) {
  // X = 0..24 as 5x5, dilation 2, no padding: one output, the sum of rows
  // and columns {0,2,4}: (0+2+4)+(10+12+14)+(20+22+24) = 108. Two output
  // channels with filters 1 and -2.
  Conv2DParams p;
  p.dilations = {2, 2};
  NdArray k = NdArray::zeros(DYNASPA_F32, {3, 3, 1, 2});
  for (int64_t i = 0; i < 9; ++i) {
    k.set(2 * i, 1.0);
    k.set(2 * i + 1, -2.0);
  }
  NdArray y;
  ASSERT_TRUE(referenceConv2D(p, iota({1, 5, 5, 1}, 0.0), k,
                              make(DYNASPA_F32, {1, 1}, {0.5}), nullptr, &y));
  EXPECT_EQ(values(y), (std::vector<double>{108, -216}));

  // Padding only at the bottom/right: [top,bottom,left,right] = [0,1,0,1],
  // 2x2 ones filter over X = 1..4 (2x2): 1+2+3+4, 2+4, 3+4, 4.
  Conv2DParams q;
  q.padding = {0, 1, 0, 1};
  ASSERT_TRUE(referenceConv2D(
      q, iota({1, 2, 2, 1}), make(DYNASPA_F32, {2, 2, 1, 1}, {1, 1, 1, 1}),
      make(DYNASPA_F32, {2, 2}, {1, 1, 1, 1}), nullptr, &y));
  EXPECT_EQ(values(y), (std::vector<double>{10, 6, 7, 4}));
}

TEST(ReferenceConv2D, NCHWMatchesNHWC) {
  const int64_t n = 2, h = 5, w = 4, c = 3, f = 2;
  NdArray xNhwc = NdArray::zeros(DYNASPA_F32, {n, h, w, c});
  NdArray xNchw = NdArray::zeros(DYNASPA_F32, {n, c, h, w});
  NdArray kHwcf = NdArray::zeros(DYNASPA_F32, {3, 3, c, f});
  NdArray kFchw = NdArray::zeros(DYNASPA_F32, {f, c, 3, 3});
  uint32_t state = 12345;
  auto next = [&] {
    state = state * 1664525u + 1013904223u;
    return static_cast<double>(state >> 8) / (1 << 24) - 0.5;
  };
  for (int64_t b = 0; b < n; ++b)
    for (int64_t y = 0; y < h; ++y)
      for (int64_t x = 0; x < w; ++x)
        for (int64_t ch = 0; ch < c; ++ch) {
          double v = next();
          xNhwc.set(((b * h + y) * w + x) * c + ch, v);
          xNchw.set(((b * c + ch) * h + y) * w + x, v);
        }
  for (int64_t r = 0; r < 3; ++r)
    for (int64_t s = 0; s < 3; ++s)
      for (int64_t ch = 0; ch < c; ++ch)
        for (int64_t o = 0; o < f; ++o) {
          double v = next();
          kHwcf.set(((r * 3 + s) * c + ch) * f + o, v);
          kFchw.set(((o * c + ch) * 3 + r) * 3 + s, v);
        }
  Conv2DParams p;
  p.strides = {2, 1};
  p.padding = {1, 0, 1, 1};
  std::vector<int64_t> yShape;
  ASSERT_TRUE(
      conv2DShapes(p, xNhwc.shape, kHwcf.shape, {n, 2, 4}, nullptr, &yShape));
  NdArray mask = NdArray::zeros(DYNASPA_I1, {n, 2, 4});
  for (int64_t i = 0; i < mask.numel(); ++i)
    mask.set(i, i % 3 != 0);
  NdArray bias = make(DYNASPA_F64, {f}, {0.25, -1});
  NdArray a, b;
  ASSERT_TRUE(referenceConv2D(p, xNhwc, kHwcf, mask, &bias, &a));
  p.layout = ConvLayout::NCHW;
  ASSERT_TRUE(referenceConv2D(p, xNchw, kFchw, mask, &bias, &b));
  EXPECT_EQ(b.shape, (std::vector<int64_t>{n, f, 2, 4}));
  for (int64_t bb = 0; bb < n; ++bb)
    for (int64_t y = 0; y < 2; ++y)
      for (int64_t x = 0; x < 4; ++x)
        for (int64_t o = 0; o < f; ++o) {
          double va = a.get(((bb * 2 + y) * 4 + x) * f + o);
          double vb = b.get(((bb * f + o) * 2 + y) * 4 + x);
          EXPECT_DOUBLE_EQ(va, vb);
          if (!mask.get((bb * 2 + y) * 4 + x)) {
            EXPECT_EQ(va, 0.0);
          }
        }
}

TEST(ReferenceConv2D, ShapeErrors) {
  Conv2DParams p;
  NdArray y;
  NdArray k = NdArray::zeros(DYNASPA_F32, {3, 3, 2, 1});
  // Channels differ.
  EXPECT_EQ(referenceConv2D(p, iota({1, 4, 4, 1}), k,
                            NdArray::zeros(DYNASPA_I1, {2, 2}), nullptr, &y)
                .code(),
            DYNASPA_SHAPE_MISMATCH);
  // Mask at input resolution instead of output resolution.
  NdArray k1 = NdArray::zeros(DYNASPA_F32, {3, 3, 1, 1});
  EXPECT_EQ(referenceConv2D(p, iota({1, 4, 4, 1}), k1,
                            NdArray::zeros(DYNASPA_I1, {4, 4}), nullptr, &y)
                .code(),
            DYNASPA_SHAPE_MISMATCH);
  // Bias of the wrong length, window larger than the input.
  NdArray bias = NdArray::zeros(DYNASPA_F32, {2});
  EXPECT_EQ(referenceConv2D(p, iota({1, 4, 4, 1}), k1,
                            NdArray::zeros(DYNASPA_I1, {2, 2}), &bias, &y)
                .code(),
            DYNASPA_SHAPE_MISMATCH);
  EXPECT_EQ(referenceConv2D(p, iota({1, 2, 2, 1}), k1,
                            NdArray::zeros(DYNASPA_I1, {1, 1}), nullptr, &y)
                .code(),
            DYNASPA_SHAPE_MISMATCH);
  p.strides = {0, 1};
  EXPECT_EQ(referenceConv2D(p, iota({1, 4, 4, 1}), k1,
                            NdArray::zeros(DYNASPA_I1, {2, 2}), nullptr, &y)
                .code(),
            DYNASPA_INVALID_ARGUMENT);
  // Integer activations.
  p.strides = {1, 1};
  EXPECT_EQ(referenceConv2D(p, NdArray::zeros(DYNASPA_I32, {1, 4, 4, 1}), k1,
                            NdArray::zeros(DYNASPA_I1, {2, 2}), nullptr, &y)
                .code(),
            DYNASPA_DTYPE_MISMATCH);
}

TEST(ReferenceBatchMatmul, RowAndColumnMasks) {
  // [[1,2],[3,4]] x [[5,6],[7,8]] = [[19,22],[43,50]].
  NdArray a = make(DYNASPA_F32, {1, 2, 2}, {1, 2, 3, 4});
  NdArray b = make(DYNASPA_F32, {1, 2, 2}, {5, 6, 7, 8});
  NdArray c;
  ASSERT_TRUE(
      referenceBatchMatmul(a, b, make(DYNASPA_I1, {2}, {1, 1}), nullptr, &c));
  EXPECT_EQ(values(c), (std::vector<double>{19, 22, 43, 50}));
  ASSERT_TRUE(
      referenceBatchMatmul(a, b, make(DYNASPA_F32, {2}, {1, 0}), nullptr, &c));
  EXPECT_EQ(values(c), (std::vector<double>{19, 22, 0, 0}));
  NdArray col = make(DYNASPA_U8, {1, 2}, {0, 1});
  ASSERT_TRUE(
      referenceBatchMatmul(a, b, make(DYNASPA_F32, {1, 2}, {1, 1}), &col, &c));
  EXPECT_EQ(values(c), (std::vector<double>{0, 22, 0, 50}));
}

TEST(ReferenceBatchMatmul, BatchedMasksPickTheirBatch) {
  // Batch 0: identity x [[1],[2]]; batch 1: [[1,1],[1,1]] x [[3],[4]].
  NdArray a = make(DYNASPA_F32, {2, 2, 2}, {1, 0, 0, 1, 1, 1, 1, 1});
  NdArray b = make(DYNASPA_F32, {2, 2, 1}, {1, 2, 3, 4});
  NdArray rows = make(DYNASPA_I1, {2, 2}, {0, 1, 1, 0});
  NdArray c;
  ASSERT_TRUE(referenceBatchMatmul(a, b, rows, nullptr, &c));
  EXPECT_EQ(c.shape, (std::vector<int64_t>{2, 2, 1}));
  EXPECT_EQ(values(c), (std::vector<double>{0, 2, 7, 0}));
}

TEST(ReferenceBatchMatmul, ShapeErrors) {
  NdArray c;
  NdArray a = NdArray::zeros(DYNASPA_F32, {2, 3, 4});
  NdArray b = NdArray::zeros(DYNASPA_F32, {2, 4, 5});
  EXPECT_TRUE(
      referenceBatchMatmul(a, b, NdArray::zeros(DYNASPA_I1, {3}), nullptr, &c));
  EXPECT_EQ(referenceBatchMatmul(a, NdArray::zeros(DYNASPA_F32, {2, 3, 5}),
                                 NdArray::zeros(DYNASPA_I1, {3}), nullptr, &c)
                .code(),
            DYNASPA_SHAPE_MISMATCH);
  EXPECT_EQ(
      referenceBatchMatmul(a, b, NdArray::zeros(DYNASPA_I1, {5}), nullptr, &c)
          .code(),
      DYNASPA_SHAPE_MISMATCH);
  NdArray col = NdArray::zeros(DYNASPA_I1, {3});
  EXPECT_EQ(
      referenceBatchMatmul(a, b, NdArray::zeros(DYNASPA_I1, {3}), &col, &c)
          .code(),
      DYNASPA_SHAPE_MISMATCH);
  NdArray broken = a;
  broken.bytes.resize(3);
  EXPECT_EQ(referenceBatchMatmul(broken, b, NdArray::zeros(DYNASPA_I1, {3}),
                                 nullptr, &c)
                .code(),
            DYNASPA_INVALID_ARGUMENT);
}

} // namespace
} // namespace dynaspa::runtime
