//===- ndarray.cpp - host tensor and element conversions ------------------===//
//
// Part of the dynaspa project.
//
//===----------------------------------------------------------------------===//

#include "dynaspa/runtime/ndarray.h"

#include <cmath>
#include <cstring>

namespace dynaspa::runtime {

size_t hostDtypeSize(dynaspa_dtype_t dtype) {
  switch (dtype) {
  case DYNASPA_F32:
  case DYNASPA_I32:
    return 4;
  case DYNASPA_F16:
    return 2;
  case DYNASPA_F64:
    return 8;
  case DYNASPA_U8:
  case DYNASPA_I1:
    return 1;
  }
  return 0;
}

float halfToFloat(uint16_t h) {
  uint32_t sign = static_cast<uint32_t>(h & 0x8000u) << 16;
  uint32_t exp = (h >> 10) & 0x1fu;
  uint32_t mant = h & 0x3ffu;
  uint32_t bits;
  if (exp == 0x1f) { // Inf or NaN; keep the payload.
    bits = sign | 0x7f800000u | (mant << 13);
  } else if (exp != 0) { // Normal: rebias 15 -> 127.
    bits = sign | ((exp + 112) << 23) | (mant << 13);
  } else if (mant == 0) {
    bits = sign;
  } else { // Subnormal half = mant * 2^-24, exact in float.
    float f = std::ldexp(static_cast<float>(mant), -24);
    std::memcpy(&bits, &f, 4);
    bits |= sign;
  }
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

uint16_t floatToHalf(float f) {
  uint32_t bits;
  std::memcpy(&bits, &f, 4);
  uint16_t sign = static_cast<uint16_t>((bits >> 16) & 0x8000u);
  uint32_t absBits = bits & 0x7fffffffu;
  if (absBits >= 0x7f800000u) // Inf stays Inf, NaN stays a quiet NaN.
    return sign | (absBits > 0x7f800000u ? 0x7e00u : 0x7c00u);
  if (absBits >= 0x477ff000u) // Rounds to >= 65520: overflow to Inf.
    return sign | 0x7c00u;
  if (absBits < 0x38800000u) { // Below the smallest normal half (2^-14).
    // Scale to units of 2^-24 and let the FPU round to nearest even.
    float a;
    std::memcpy(&a, &absBits, 4);
    return sign | static_cast<uint16_t>(std::nearbyint(std::ldexp(a, 24)));
  }
  // Normal: drop 13 mantissa bits with round to nearest even; a carry into
  // the exponent is the correct result.
  uint32_t rebased = absBits - (112u << 23);
  uint32_t lsb = (rebased >> 13) & 1u;
  return sign | static_cast<uint16_t>((rebased + 0xfffu + lsb) >> 13);
}

NdArray NdArray::zeros(dynaspa_dtype_t dtype, std::vector<int64_t> shape) {
  NdArray a;
  a.dtype = dtype;
  a.shape = std::move(shape);
  a.bytes.assign(static_cast<size_t>(a.numel()) * hostDtypeSize(dtype), 0);
  return a;
}

int64_t NdArray::numel() const {
  // Unsigned so that a corrupt shape wraps (and then fails the byte-size
  // checks of the callers) instead of being undefined behaviour.
  uint64_t n = 1;
  for (int64_t d : shape)
    n *= static_cast<uint64_t>(d);
  return static_cast<int64_t>(n);
}

namespace {

double load(const uint8_t *p, dynaspa_dtype_t dtype) {
  switch (dtype) {
  case DYNASPA_F32: {
    float v;
    std::memcpy(&v, p, 4);
    return v;
  }
  case DYNASPA_F16: {
    uint16_t v;
    std::memcpy(&v, p, 2);
    return halfToFloat(v);
  }
  case DYNASPA_F64: {
    double v;
    std::memcpy(&v, p, 8);
    return v;
  }
  case DYNASPA_I32: {
    int32_t v;
    std::memcpy(&v, p, 4);
    return v;
  }
  case DYNASPA_U8:
    return *p;
  case DYNASPA_I1:
    return *p != 0 ? 1.0 : 0.0;
  }
  return 0.0;
}

void store(uint8_t *p, dynaspa_dtype_t dtype, double v) {
  switch (dtype) {
  case DYNASPA_F32: {
    float f = static_cast<float>(v);
    std::memcpy(p, &f, 4);
    return;
  }
  case DYNASPA_F16: {
    uint16_t h = floatToHalf(static_cast<float>(v));
    std::memcpy(p, &h, 2);
    return;
  }
  case DYNASPA_F64:
    std::memcpy(p, &v, 8);
    return;
  case DYNASPA_I32: {
    // Saturate instead of invoking UB on out-of-range or NaN values.
    int32_t x = std::isnan(v)        ? 0
                : v >= 2147483647.0  ? INT32_MAX
                : v <= -2147483648.0 ? INT32_MIN
                                     : static_cast<int32_t>(v);
    std::memcpy(p, &x, 4);
    return;
  }
  case DYNASPA_U8:
    *p = std::isnan(v) ? 0
         : v >= 255.0  ? 255
         : v <= 0.0    ? 0
                       : static_cast<uint8_t>(v);
    return;
  case DYNASPA_I1:
    *p = v != 0.0 ? 1 : 0;
    return;
  }
}

} // namespace

double NdArray::get(int64_t i) const {
  return load(bytes.data() + i * hostDtypeSize(dtype), dtype);
}

void NdArray::set(int64_t i, double v) {
  store(bytes.data() + i * hostDtypeSize(dtype), dtype, v);
}

void convertElements(const void *src, dynaspa_dtype_t srcType, void *dst,
                     dynaspa_dtype_t dstType, size_t n) {
  if (srcType == dstType) {
    std::memcpy(dst, src, n * hostDtypeSize(srcType));
    return;
  }
  const auto *in = static_cast<const uint8_t *>(src);
  auto *out = static_cast<uint8_t *>(dst);
  size_t inSize = hostDtypeSize(srcType), outSize = hostDtypeSize(dstType);
  for (size_t i = 0; i < n; ++i)
    store(out + i * outSize, dstType, load(in + i * inSize, srcType));
}

NdArray NdArray::to(dynaspa_dtype_t target) const {
  NdArray out = zeros(target, shape);
  int64_t n = numel();
  for (int64_t i = 0; i < n; ++i)
    out.set(i, get(i));
  return out;
}

} // namespace dynaspa::runtime
