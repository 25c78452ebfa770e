//===- reference.cpp - float64 reference of the masked operators ----------===//
//
// Part of the dynaspa project.
//
//===----------------------------------------------------------------------===//
//
// Deliberately naive loops: this is the definition the fast kernels are
// tested against, so it must be obviously right rather than fast. Masked
// outputs are skipped (left at exactly 0), which also keeps it usable on the
// larger benchmark shapes at low density.
//
//===----------------------------------------------------------------------===//

#include "dynaspa/runtime/reference.h"

#include <string>

namespace dynaspa::runtime {
namespace {

std::string str(const std::vector<int64_t> &shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i)
    s += (i ? "," : "") + std::to_string(shape[i]);
  return s + "]";
}

Status mismatch(const std::string &what) {
  return Status(DYNASPA_SHAPE_MISMATCH, what);
}

bool nonNegative(const std::vector<int64_t> &shape) {
  for (int64_t d : shape)
    if (d < 0)
      return false;
  return true;
}

bool isFloat(dynaspa_dtype_t t) {
  return t == DYNASPA_F32 || t == DYNASPA_F16 || t == DYNASPA_F64;
}

bool consistent(const NdArray &a) {
  return nonNegative(a.shape) &&
         static_cast<size_t>(a.numel()) * hostDtypeSize(a.dtype) ==
             a.bytes.size();
}

} // namespace

Status conv2DShapes(const Conv2DParams &p, const std::vector<int64_t> &input,
                    const std::vector<int64_t> &filter,
                    const std::vector<int64_t> &mask,
                    const std::vector<int64_t> *bias,
                    std::vector<int64_t> *result) {
  for (int i = 0; i < 2; ++i)
    if (p.strides[i] < 1 || p.dilations[i] < 1)
      return invalidArgument("conv2d: strides and dilations must be >= 1");
  for (int64_t pad : p.padding)
    if (pad < 0)
      return invalidArgument("conv2d: padding must be >= 0");
  if (input.size() != 4 || filter.size() != 4 || !nonNegative(input) ||
      !nonNegative(filter))
    return mismatch("conv2d: input " + str(input) + " and filter " +
                    str(filter) + " must be rank 4, non-negative");
  bool nhwc = p.layout == ConvLayout::NHWC;
  int64_t n = input[0], h = input[nhwc ? 1 : 2], w = input[nhwc ? 2 : 3],
          c = input[nhwc ? 3 : 1];
  int64_t kh = filter[nhwc ? 0 : 2], kw = filter[nhwc ? 1 : 3],
          kc = filter[nhwc ? 2 : 1], f = filter[nhwc ? 3 : 0];
  if (kc != c)
    return mismatch("conv2d: filter " + str(filter) +
                    " channels differ from input " + str(input));
  if (kh < 1 || kw < 1)
    return mismatch("conv2d: empty filter window " + str(filter));
  // Bound every term so that the extent arithmetic below cannot overflow
  // (the bundle verifier feeds this untrusted values).
  if (h > (int64_t(1) << 40) || w > (int64_t(1) << 40) ||
      kh > (int64_t(1) << 20) || kw > (int64_t(1) << 20) ||
      p.dilations[0] > (int64_t(1) << 20) ||
      p.dilations[1] > (int64_t(1) << 20) ||
      p.padding[0] > (int64_t(1) << 40) || p.padding[1] > (int64_t(1) << 40) ||
      p.padding[2] > (int64_t(1) << 40) || p.padding[3] > (int64_t(1) << 40) ||
      p.strides[0] > (int64_t(1) << 40) || p.strides[1] > (int64_t(1) << 40))
    return mismatch("conv2d: extents too large");
  int64_t effH = h + p.padding[0] + p.padding[1] - p.dilations[0] * (kh - 1);
  int64_t effW = w + p.padding[2] + p.padding[3] - p.dilations[1] * (kw - 1);
  if (effH < 1 || effW < 1)
    return mismatch("conv2d: filter window larger than padded input " +
                    str(input));
  int64_t ho = (effH - 1) / p.strides[0] + 1;
  int64_t wo = (effW - 1) / p.strides[1] + 1;
  std::vector<int64_t> maskBatched = {n, ho, wo}, maskShared = {ho, wo};
  if (mask != maskBatched && mask != maskShared)
    return mismatch("conv2d: mask " + str(mask) + " must be " +
                    str(maskBatched) + " or " + str(maskShared));
  if (bias && *bias != std::vector<int64_t>{f})
    return mismatch("conv2d: bias " + str(*bias) + " must be [" +
                    std::to_string(f) + "]");
  *result = nhwc ? std::vector<int64_t>{n, ho, wo, f}
                 : std::vector<int64_t>{n, f, ho, wo};
  return Status::ok();
}

Status batchMatmulShapes(const std::vector<int64_t> &lhs,
                         const std::vector<int64_t> &rhs,
                         const std::vector<int64_t> &rowMask,
                         const std::vector<int64_t> *colMask,
                         std::vector<int64_t> *result) {
  if (lhs.size() != 3 || rhs.size() != 3 || !nonNegative(lhs) ||
      !nonNegative(rhs))
    return mismatch("batch_matmul: lhs " + str(lhs) + " and rhs " + str(rhs) +
                    " must be rank 3, non-negative");
  int64_t b = lhs[0], m = lhs[1], k = lhs[2], n = rhs[2];
  if (rhs[0] != b || rhs[1] != k)
    return mismatch("batch_matmul: rhs " + str(rhs) + " does not fit lhs " +
                    str(lhs));
  if (rowMask != std::vector<int64_t>{b, m} &&
      rowMask != std::vector<int64_t>{m})
    return mismatch("batch_matmul: row mask " + str(rowMask) + " must be [" +
                    std::to_string(b) + "," + std::to_string(m) + "] or [" +
                    std::to_string(m) + "]");
  if (colMask && *colMask != std::vector<int64_t>{b, n} &&
      *colMask != std::vector<int64_t>{n})
    return mismatch("batch_matmul: column mask " + str(*colMask) +
                    " must be [" + std::to_string(b) + "," + std::to_string(n) +
                    "] or [" + std::to_string(n) + "]");
  *result = {b, m, n};
  return Status::ok();
}

Status referenceConv2D(const Conv2DParams &p, const NdArray &x,
                       const NdArray &k, const NdArray &mask,
                       const NdArray *bias, NdArray *out) {
  if (!out)
    return invalidArgument("referenceConv2D: null output");
  if (!consistent(x) || !consistent(k) || !consistent(mask) ||
      (bias && !consistent(*bias)))
    return invalidArgument("referenceConv2D: array bytes do not match shape");
  if (!isFloat(x.dtype) || !isFloat(k.dtype) || (bias && !isFloat(bias->dtype)))
    return Status(DYNASPA_DTYPE_MISMATCH,
                  "referenceConv2D: input, filter and bias must be floats");
  std::vector<int64_t> yShape;
  if (Status s = conv2DShapes(p, x.shape, k.shape, mask.shape,
                              bias ? &bias->shape : nullptr, &yShape);
      !s)
    return s;
  bool nhwc = p.layout == ConvLayout::NHWC;
  int64_t n = x.shape[0], h = x.shape[nhwc ? 1 : 2], w = x.shape[nhwc ? 2 : 3],
          c = x.shape[nhwc ? 3 : 1];
  int64_t kh = k.shape[nhwc ? 0 : 2], kw = k.shape[nhwc ? 1 : 3],
          f = k.shape[nhwc ? 3 : 0];
  int64_t ho = yShape[nhwc ? 1 : 2], wo = yShape[nhwc ? 2 : 3];
  bool maskBatched = mask.shape.size() == 3;

  auto xAt = [&](int64_t b, int64_t y, int64_t xx, int64_t ch) {
    return nhwc ? ((b * h + y) * w + xx) * c + ch
                : ((b * c + ch) * h + y) * w + xx;
  };
  auto kAt = [&](int64_t r, int64_t s, int64_t ch, int64_t oc) {
    return nhwc ? ((r * kw + s) * c + ch) * f + oc
                : ((oc * c + ch) * kh + r) * kw + s;
  };
  auto yAt = [&](int64_t b, int64_t y, int64_t xx, int64_t oc) {
    return nhwc ? ((b * ho + y) * wo + xx) * f + oc
                : ((b * f + oc) * ho + y) * wo + xx;
  };

  NdArray y = NdArray::zeros(DYNASPA_F64, yShape);
  double *yd = y.data<double>();
  for (int64_t b = 0; b < n; ++b) {
    for (int64_t oy = 0; oy < ho; ++oy) {
      for (int64_t ox = 0; ox < wo; ++ox) {
        int64_t mi = (maskBatched ? b * ho + oy : oy) * wo + ox;
        if (mask.get(mi) == 0.0)
          continue;
        for (int64_t oc = 0; oc < f; ++oc) {
          double acc = bias ? bias->get(oc) : 0.0;
          for (int64_t r = 0; r < kh; ++r) {
            int64_t iy = oy * p.strides[0] - p.padding[0] + r * p.dilations[0];
            if (iy < 0 || iy >= h)
              continue;
            for (int64_t s = 0; s < kw; ++s) {
              int64_t ix =
                  ox * p.strides[1] - p.padding[2] + s * p.dilations[1];
              if (ix < 0 || ix >= w)
                continue;
              for (int64_t ch = 0; ch < c; ++ch)
                acc += x.get(xAt(b, iy, ix, ch)) * k.get(kAt(r, s, ch, oc));
            }
          }
          yd[yAt(b, oy, ox, oc)] = acc;
        }
      }
    }
  }
  *out = std::move(y);
  return Status::ok();
}

Status referenceBatchMatmul(const NdArray &a, const NdArray &bm,
                            const NdArray &rowMask, const NdArray *colMask,
                            NdArray *out) {
  if (!out)
    return invalidArgument("referenceBatchMatmul: null output");
  if (!consistent(a) || !consistent(bm) || !consistent(rowMask) ||
      (colMask && !consistent(*colMask)))
    return invalidArgument(
        "referenceBatchMatmul: array bytes do not match shape");
  if (!isFloat(a.dtype) || !isFloat(bm.dtype))
    return Status(DYNASPA_DTYPE_MISMATCH,
                  "referenceBatchMatmul: lhs and rhs must be floats");
  std::vector<int64_t> cShape;
  if (Status s =
          batchMatmulShapes(a.shape, bm.shape, rowMask.shape,
                            colMask ? &colMask->shape : nullptr, &cShape);
      !s)
    return s;
  int64_t batch = a.shape[0], m = a.shape[1], kk = a.shape[2], n = bm.shape[2];
  bool rowBatched = rowMask.shape.size() == 2;
  bool colBatched = colMask && colMask->shape.size() == 2;
  NdArray cArr = NdArray::zeros(DYNASPA_F64, cShape);
  double *cd = cArr.data<double>();
  for (int64_t b = 0; b < batch; ++b) {
    for (int64_t i = 0; i < m; ++i) {
      if (rowMask.get(rowBatched ? b * m + i : i) == 0.0)
        continue;
      for (int64_t j = 0; j < n; ++j) {
        if (colMask && colMask->get(colBatched ? b * n + j : j) == 0.0)
          continue;
        double acc = 0.0;
        for (int64_t k = 0; k < kk; ++k)
          acc += a.get((b * m + i) * kk + k) * bm.get((b * kk + k) * n + j);
        cd[(b * m + i) * n + j] = acc;
      }
    }
  }
  *out = std::move(cArr);
  return Status::ok();
}

} // namespace dynaspa::runtime
