//===- npy_test.cpp - .npy reader and writer ------------------------------===//
//
// Part of the dynaspa project.
//
//===----------------------------------------------------------------------===//
//
// Round trips for every supported dtype, byte-exact comparison with files
// NumPy writes (headers copied from numpy 1.26 output), and rejection of
// what the reader must not guess at.
//
//===----------------------------------------------------------------------===//

#include "dynaspa/runtime/npy.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <string>

namespace dynaspa::runtime {
namespace {

std::vector<uint8_t> npyFile(const std::string &header,
                             const std::vector<uint8_t> &payload,
                             uint8_t major = 1) {
  std::string padded = header;
  size_t prefix = major == 1 ? 10 : 12;
  while ((prefix + padded.size() + 1) % 64)
    padded += ' ';
  padded += '\n';
  std::vector<uint8_t> out = {0x93, 'N', 'U', 'M', 'P', 'Y', major, 0};
  size_t n = padded.size();
  out.push_back(n & 0xff);
  out.push_back((n >> 8) & 0xff);
  if (major != 1) {
    out.push_back((n >> 16) & 0xff);
    out.push_back((n >> 24) & 0xff);
  }
  out.insert(out.end(), padded.begin(), padded.end());
  out.insert(out.end(), payload.begin(), payload.end());
  return out;
}

class NpyRoundTrip : public ::testing::TestWithParam<dynaspa_dtype_t> {};

TEST_P(NpyRoundTrip, PreservesDtypeShapeAndValues) {
  NdArray a = NdArray::zeros(GetParam(), {2, 3, 4});
  for (int64_t i = 0; i < a.numel(); ++i)
    a.set(i, (i % 5) * (i % 2 ? 1 : -1) + (GetParam() == DYNASPA_U8 ? 5 : 0));
  std::vector<uint8_t> bytes;
  ASSERT_TRUE(serializeNpy(a, &bytes));
  // NumPy aligns the data to 64 bytes.
  EXPECT_EQ((bytes.size() - a.bytes.size()) % 64, 0u);
  NdArray b;
  Status s = parseNpy(bytes.data(), bytes.size(), &b);
  ASSERT_TRUE(s) << s.message();
  EXPECT_EQ(b.dtype, a.dtype);
  EXPECT_EQ(b.shape, a.shape);
  EXPECT_EQ(b.bytes, a.bytes);
}

INSTANTIATE_TEST_SUITE_P(AllDtypes, NpyRoundTrip,
                         ::testing::Values(DYNASPA_F32, DYNASPA_F64,
                                           DYNASPA_F16, DYNASPA_I32, DYNASPA_U8,
                                           DYNASPA_I1));

TEST(Npy, ScalarAndEmptyShapesRoundTrip) {
  for (std::vector<int64_t> shape :
       {std::vector<int64_t>{}, {0}, {7}, {3, 0, 2}}) {
    NdArray a = NdArray::zeros(DYNASPA_F32, shape);
    std::vector<uint8_t> bytes;
    ASSERT_TRUE(serializeNpy(a, &bytes));
    NdArray b;
    ASSERT_TRUE(parseNpy(bytes.data(), bytes.size(), &b));
    EXPECT_EQ(b.shape, shape);
  }
}

TEST(Npy, WriterMatchesNumPyHeader) {
  NdArray a = NdArray::zeros(DYNASPA_U8, {2, 3});
  std::vector<uint8_t> bytes;
  ASSERT_TRUE(serializeNpy(a, &bytes));
  std::string header(bytes.begin() + 10, bytes.end() - 6);
  // np.save of np.zeros((2, 3), np.uint8), header up to the padding.
  EXPECT_EQ(header.rfind("{'descr': '|u1', 'fortran_order': False, "
                         "'shape': (2, 3), }",
                         0),
            0u);
  NdArray v = NdArray::zeros(DYNASPA_F32, {5});
  ASSERT_TRUE(serializeNpy(v, &bytes));
  EXPECT_NE(std::string(bytes.begin(), bytes.end()).find("'shape': (5,), }"),
            std::string::npos);
}

TEST(Npy, ReadsNumPyFiles) {
  std::vector<uint8_t> payload(2 * 4);
  float values[] = {1.5f, -2.0f};
  std::memcpy(payload.data(), values, 8);
  NdArray a;
  auto v1 = npyFile("{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }",
                    payload);
  ASSERT_TRUE(parseNpy(v1.data(), v1.size(), &a));
  EXPECT_EQ(a.dtype, DYNASPA_F32);
  EXPECT_EQ(a.get(1), -2.0);
  // Version 2.0 (4-byte header length) and double quotes, no trailing comma.
  auto v2 = npyFile(
      "{\"descr\": \"<f4\", \"fortran_order\": False, \"shape\": (1, 2)}",
      payload, 2);
  ASSERT_TRUE(parseNpy(v2.data(), v2.size(), &a));
  EXPECT_EQ(a.shape, (std::vector<int64_t>{1, 2}));
  // Bool bytes other than 0/1 are normalized.
  auto b1 = npyFile("{'descr': '|b1', 'fortran_order': False, 'shape': (3,), }",
                    {0, 1, 2});
  ASSERT_TRUE(parseNpy(b1.data(), b1.size(), &a));
  EXPECT_EQ(a.dtype, DYNASPA_I1);
  EXPECT_EQ(a.bytes, (std::vector<uint8_t>{0, 1, 1}));
}

TEST(Npy, RejectsFortranOrder) {
  auto f = npyFile("{'descr': '<f4', 'fortran_order': True, 'shape': (2,), }",
                   std::vector<uint8_t>(8));
  NdArray a;
  EXPECT_EQ(parseNpy(f.data(), f.size(), &a).code(), DYNASPA_UNSUPPORTED);
}

TEST(Npy, RejectsUnsupportedDtypes) {
  NdArray a;
  for (const char *descr : {">f4", "<i8", "<c8", "|O", "<u2", ">i4"}) {
    auto f = npyFile(std::string("{'descr': '") + descr +
                         "', 'fortran_order': False, 'shape': (1,), }",
                     std::vector<uint8_t>(8));
    EXPECT_EQ(parseNpy(f.data(), f.size(), &a).code(), DYNASPA_UNSUPPORTED)
        << descr;
  }
}

TEST(Npy, RejectsMalformedFiles) {
  NdArray a;
  std::vector<uint8_t> good =
      npyFile("{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }",
              std::vector<uint8_t>(8));
  // Every truncation fails cleanly.
  for (size_t len = 0; len < good.size(); ++len)
    EXPECT_FALSE(parseNpy(good.data(), len, &a)) << len;
  // Extra payload, bad magic, bad shapes, missing keys, bad version.
  std::vector<uint8_t> longer = good;
  longer.push_back(0);
  EXPECT_EQ(parseNpy(longer.data(), longer.size(), &a).code(),
            DYNASPA_INVALID_ARGUMENT);
  std::vector<uint8_t> magic = good;
  magic[1] = 'X';
  EXPECT_EQ(parseNpy(magic.data(), magic.size(), &a).code(),
            DYNASPA_INVALID_ARGUMENT);
  std::vector<uint8_t> version = good;
  version[6] = 9;
  EXPECT_EQ(parseNpy(version.data(), version.size(), &a).code(),
            DYNASPA_UNSUPPORTED);
  for (const char *header :
       {"{'descr': '<f4', 'fortran_order': False, 'shape': (-2,), }",
        "{'descr': '<f4', 'fortran_order': False, 'shape': (2,",
        "{'descr': '<f4', 'fortran_order': False, }",
        "{'descr': '<f4', 'shape': (2,), }",
        "{'fortran_order': False, 'shape': (2,), }",
        "{'descr': '<f4', 'fortran_order': Maybe, 'shape': (2,), }",
        "{'descr': '<f4', 'fortran_order': False, 'shape': "
        "(99999999999999999999,), }",
        "{'descr': '<f4', 'fortran_order': False, 'shape': "
        "(4294967296, 4294967296, 4294967296), }"}) {
    auto f = npyFile(header, std::vector<uint8_t>(8));
    EXPECT_EQ(parseNpy(f.data(), f.size(), &a).code(), DYNASPA_INVALID_ARGUMENT)
        << header;
  }
}

TEST(Npy, FileRoundTripAndExpectedDtype) {
  std::string path = ::testing::TempDir() + "dynaspa_npy_test.npy";
  NdArray a = NdArray::zeros(DYNASPA_F64, {3});
  a.set(2, 0.25);
  ASSERT_TRUE(writeNpy(path, a));
  NdArray b;
  ASSERT_TRUE(readNpy(path, DYNASPA_F64, &b));
  EXPECT_EQ(b.get(2), 0.25);
  EXPECT_EQ(readNpy(path, DYNASPA_F32, &b).code(), DYNASPA_DTYPE_MISMATCH);
  std::remove(path.c_str());
  EXPECT_EQ(readNpy(path, &b).code(), DYNASPA_IO_ERROR);
  EXPECT_EQ(writeNpy("/nonexistent-dir/x.npy", a).code(), DYNASPA_IO_ERROR);
}

TEST(Npy, WriterRejectsInconsistentArrays) {
  NdArray a = NdArray::zeros(DYNASPA_F32, {2});
  a.bytes.pop_back();
  std::vector<uint8_t> bytes;
  EXPECT_EQ(serializeNpy(a, &bytes).code(), DYNASPA_INVALID_ARGUMENT);
}

TEST(Half, ConversionsRoundToNearestEven) {
  EXPECT_EQ(floatToHalf(1.0f), 0x3c00);
  EXPECT_EQ(floatToHalf(-2.0f), 0xc000);
  EXPECT_EQ(floatToHalf(65504.0f), 0x7bff);
  EXPECT_EQ(floatToHalf(65520.0f), 0x7c00);           // Rounds up to infinity.
  EXPECT_EQ(floatToHalf(1.0f + 1.0f / 2048), 0x3c00); // Tie to even.
  EXPECT_EQ(floatToHalf(1.0f + 3.0f / 2048), 0x3c02); // Tie to even, up.
  EXPECT_EQ(floatToHalf(5.9604645e-8f), 0x0001);      // Smallest subnormal.
  EXPECT_EQ(halfToFloat(0x0001), 5.9604645e-8f);
  EXPECT_EQ(halfToFloat(0x3555), 0.333251953125f);
  EXPECT_TRUE(std::isnan(halfToFloat(floatToHalf(std::nanf("")))));
  for (uint32_t h = 0; h < 0x7c00; ++h) // Every finite half round-trips.
    ASSERT_EQ(floatToHalf(halfToFloat(static_cast<uint16_t>(h))), h) << h;
}

} // namespace
} // namespace dynaspa::runtime
