//===- npy.cpp - NumPy .npy reader and writer -----------------------------===//
//
// Part of the dynaspa project.
//
//===----------------------------------------------------------------------===//
//
// The header is a Python dict literal, e.g.
//   {'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }
// NumPy always writes exactly these three keys, so a small scanner for them
// is enough; anything it does not understand is rejected.
//
//===----------------------------------------------------------------------===//

#include "dynaspa/runtime/npy.h"

#include <cctype>
#include <cstring>
#include <fstream>
#include <iterator>
#include <limits>

namespace dynaspa::runtime {
namespace {

const char kMagic[] = "\x93NUMPY";
constexpr size_t kMagicLen = 6;

Status malformed(const std::string &why) {
  return Status(DYNASPA_INVALID_ARGUMENT, "malformed .npy: " + why);
}

struct DescrEntry {
  const char *descr;
  dynaspa_dtype_t dtype;
};

// '|' marks byte-sized types (no byte order); NumPy writes '<' for the
// others on little-endian hosts. '=' is native order, little endian here.
const DescrEntry kDescrs[] = {
    {"<f4", DYNASPA_F32}, {"=f4", DYNASPA_F32}, {"<f8", DYNASPA_F64},
    {"=f8", DYNASPA_F64}, {"<f2", DYNASPA_F16}, {"=f2", DYNASPA_F16},
    {"<i4", DYNASPA_I32}, {"=i4", DYNASPA_I32}, {"|u1", DYNASPA_U8},
    {"<u1", DYNASPA_U8},  {"|b1", DYNASPA_I1},  {"<b1", DYNASPA_I1},
};

const char *descrFor(dynaspa_dtype_t dtype) {
  switch (dtype) {
  case DYNASPA_F32:
    return "<f4";
  case DYNASPA_F64:
    return "<f8";
  case DYNASPA_F16:
    return "<f2";
  case DYNASPA_I32:
    return "<i4";
  case DYNASPA_U8:
    return "|u1";
  case DYNASPA_I1:
    return "|b1";
  }
  return nullptr;
}

/// Finds `'key':` in the header and returns the position just after it.
bool findKey(const std::string &header, const char *key, size_t *pos) {
  std::string quoted[2] = {std::string("'") + key + "'",
                           std::string("\"") + key + "\""};
  for (const std::string &q : quoted) {
    size_t at = header.find(q);
    if (at == std::string::npos)
      continue;
    at += q.size();
    while (at < header.size() && std::isspace(header[at]))
      ++at;
    if (at >= header.size() || header[at] != ':')
      return false;
    ++at;
    while (at < header.size() && std::isspace(header[at]))
      ++at;
    *pos = at;
    return true;
  }
  return false;
}

Status parseHeader(const std::string &header, dynaspa_dtype_t *dtype,
                   std::vector<int64_t> *shape) {
  size_t pos;
  if (!findKey(header, "descr", &pos) || pos >= header.size() ||
      (header[pos] != '\'' && header[pos] != '"'))
    return malformed("no 'descr' string");
  char quote = header[pos];
  size_t end = header.find(quote, pos + 1);
  if (end == std::string::npos)
    return malformed("unterminated 'descr'");
  std::string descr = header.substr(pos + 1, end - pos - 1);
  bool known = false;
  for (const DescrEntry &e : kDescrs) {
    if (descr == e.descr) {
      *dtype = e.dtype;
      known = true;
    }
  }
  if (!known)
    return Status(DYNASPA_UNSUPPORTED,
                  ".npy dtype '" + descr +
                      "' is not supported (want little-endian f4, f8, f2, i4, "
                      "u1 or b1)");

  if (!findKey(header, "fortran_order", &pos))
    return malformed("no 'fortran_order'");
  if (header.compare(pos, 4, "True") == 0)
    return Status(DYNASPA_UNSUPPORTED,
                  "Fortran-order .npy is not supported; save a C-order array");
  if (header.compare(pos, 5, "False") != 0)
    return malformed("'fortran_order' is neither True nor False");

  if (!findKey(header, "shape", &pos) || pos >= header.size() ||
      header[pos] != '(')
    return malformed("no 'shape' tuple");
  ++pos;
  shape->clear();
  while (true) {
    while (pos < header.size() && std::isspace(header[pos]))
      ++pos;
    if (pos >= header.size())
      return malformed("unterminated 'shape'");
    if (header[pos] == ')')
      break;
    if (!std::isdigit(header[pos]))
      return malformed("bad dimension in 'shape'");
    int64_t dim = 0;
    while (pos < header.size() && std::isdigit(header[pos])) {
      int digit = header[pos] - '0';
      if (dim > (std::numeric_limits<int64_t>::max() - digit) / 10)
        return malformed("dimension overflows");
      dim = dim * 10 + digit;
      ++pos;
    }
    // Python writes a trailing 'L' for longs in old files.
    if (pos < header.size() && header[pos] == 'L')
      ++pos;
    shape->push_back(dim);
    while (pos < header.size() && std::isspace(header[pos]))
      ++pos;
    if (pos < header.size() && header[pos] == ',')
      ++pos;
  }
  return Status::ok();
}

Status readFile(const std::string &path, std::vector<uint8_t> *bytes) {
  std::ifstream in(path, std::ios::binary);
  if (!in)
    return Status(DYNASPA_IO_ERROR, "cannot open '" + path + "'");
  bytes->assign(std::istreambuf_iterator<char>(in),
                std::istreambuf_iterator<char>());
  if (in.bad())
    return Status(DYNASPA_IO_ERROR, "cannot read '" + path + "'");
  return Status::ok();
}

} // namespace

Status parseNpy(const uint8_t *data, size_t size, NdArray *out) {
  if (!out || (!data && size))
    return invalidArgument("parseNpy: null argument");
  if (size < kMagicLen + 4 || std::memcmp(data, kMagic, kMagicLen) != 0)
    return malformed("missing \\x93NUMPY magic");
  uint8_t major = data[6];
  size_t headerLen, headerStart;
  if (major == 1) {
    headerLen = data[8] | (size_t(data[9]) << 8);
    headerStart = 10;
  } else if (major == 2 || major == 3) {
    if (size < 12)
      return malformed("truncated header length");
    headerLen = data[8] | (size_t(data[9]) << 8) | (size_t(data[10]) << 16) |
                (size_t(data[11]) << 24);
    headerStart = 12;
  } else {
    return Status(DYNASPA_UNSUPPORTED, ".npy format version " +
                                           std::to_string(major) +
                                           " is not supported");
  }
  if (headerLen > size - headerStart)
    return malformed("truncated header");
  std::string header(reinterpret_cast<const char *>(data + headerStart),
                     headerLen);
  NdArray array;
  if (Status s = parseHeader(header, &array.dtype, &array.shape); !s)
    return s;
  size_t elemSize = hostDtypeSize(array.dtype);
  uint64_t count = 1;
  for (int64_t d : array.shape) {
    if (d != 0 && count > std::numeric_limits<uint64_t>::max() / elemSize /
                              static_cast<uint64_t>(d))
      return malformed("shape overflows");
    count *= static_cast<uint64_t>(d);
  }
  size_t payload = size - headerStart - headerLen;
  if (count * elemSize != payload)
    return malformed("payload is " + std::to_string(payload) +
                     " bytes, shape needs " + std::to_string(count * elemSize));
  const uint8_t *begin = data + headerStart + headerLen;
  array.bytes.assign(begin, begin + payload);
  if (array.dtype == DYNASPA_I1) {
    for (uint8_t &b : array.bytes)
      b = b != 0;
  }
  *out = std::move(array);
  return Status::ok();
}

Status readNpy(const std::string &path, NdArray *out) {
  std::vector<uint8_t> bytes;
  if (Status s = readFile(path, &bytes); !s)
    return s;
  Status s = parseNpy(bytes.data(), bytes.size(), out);
  if (!s)
    return Status(s.code(), path + ": " + s.message());
  return s;
}

Status readNpy(const std::string &path, dynaspa_dtype_t expected,
               NdArray *out) {
  NdArray array;
  if (Status s = readNpy(path, &array); !s)
    return s;
  if (array.dtype != expected)
    return Status(DYNASPA_DTYPE_MISMATCH,
                  path + ": dtype is " + descrFor(array.dtype) + ", expected " +
                      (descrFor(expected) ? descrFor(expected) : "?"));
  *out = std::move(array);
  return Status::ok();
}

Status serializeNpy(const NdArray &array, std::vector<uint8_t> *out) {
  const char *descr = descrFor(array.dtype);
  if (!out || !descr)
    return invalidArgument("serializeNpy: null output or unknown dtype");
  uint64_t count = 1;
  for (int64_t d : array.shape) {
    if (d < 0)
      return invalidArgument("serializeNpy: negative dimension");
    count *= static_cast<uint64_t>(d);
  }
  if (count * hostDtypeSize(array.dtype) != array.bytes.size())
    return invalidArgument("serializeNpy: byte size does not match shape");
  std::string header = std::string("{'descr': '") + descr +
                       "', 'fortran_order': False, 'shape': (";
  for (int64_t d : array.shape)
    header += std::to_string(d) + ", ";
  if (array.shape.size() > 1) // Python writes (n,) but (a, b).
    header.erase(header.size() - 2);
  else if (array.shape.size() == 1)
    header.pop_back();
  header += "), }";
  // NumPy pads so that the data starts at a multiple of 64 bytes.
  size_t total = kMagicLen + 4 + header.size() + 1;
  header.append((64 - total % 64) % 64, ' ');
  header += '\n';
  if (header.size() > 0xffff)
    return Status(DYNASPA_UNSUPPORTED, "serializeNpy: header too long");
  std::string prefix(kMagic, kMagicLen);
  prefix += {1, 0, static_cast<char>(header.size() & 0xff),
             static_cast<char>(header.size() >> 8)};
  prefix += header;
  out->assign(prefix.begin(), prefix.end());
  out->insert(out->end(), array.bytes.begin(), array.bytes.end());
  return Status::ok();
}

Status writeNpy(const std::string &path, const NdArray &array) {
  std::vector<uint8_t> bytes;
  if (Status s = serializeNpy(array, &bytes); !s)
    return s;
  std::ofstream outFile(path, std::ios::binary);
  if (!outFile)
    return Status(DYNASPA_IO_ERROR, "cannot create '" + path + "'");
  outFile.write(reinterpret_cast<const char *>(bytes.data()),
                static_cast<std::streamsize>(bytes.size()));
  if (!outFile)
    return Status(DYNASPA_IO_ERROR, "cannot write '" + path + "'");
  return Status::ok();
}

} // namespace dynaspa::runtime
