//===- inputs.cpp - dynaspa-run's host inputs -----------------------------===//
//
// Part of the dynaspa project.
//
//===----------------------------------------------------------------------===//
//
// Data inputs must be float32 .npy files of exactly the bundle's shape: a
// silent conversion from float64 or a reshape would hide a mix-up of files.
// Masks are more forgiving, because mask sets are stored as stacks and
// images: any 0/1-like dtype, leading dimensions of size 1 ignored, a stack
// indexed with --mask-index, or a PNG.
//
// --random draws from its own Box-Muller over std::mt19937_64 (whose output
// the standard fixes) rather than std::normal_distribution (whose algorithm
// each standard library chooses), so a seed means the same data everywhere.
//
//===----------------------------------------------------------------------===//

#include "inputs.h"
#include "inspect.h"

#include "dynaspa/runtime/npy.h"

#include <cmath>
#include <cstring>
#include <random>

#ifdef DYNASPA_RUN_HAVE_PNG
#include <png.h>
#endif

namespace dynaspa::run {

namespace fb = ::dynaspa::bundle;
using runtime::invalidArgument;
using runtime::NdArray;
using runtime::Status;

namespace {

constexpr double kPi = 3.14159265358979323846;

/// Deterministic N(0,1) and uniform draws.
class Random {
public:
  explicit Random(uint64_t seed) : gen_(seed) {}
  /// In [0, 1).
  double uniform() { return static_cast<double>(gen_() >> 11) * 0x1.0p-53; }
  double normal() {
    if (hasSpare_) {
      hasSpare_ = false;
      return spare_;
    }
    double u1 = 1.0 - uniform(); // (0, 1]: log is finite.
    double u2 = uniform();
    double r = std::sqrt(-2.0 * std::log(u1));
    spare_ = r * std::sin(2.0 * kPi * u2);
    hasSpare_ = true;
    return r * std::cos(2.0 * kPi * u2);
  }

private:
  std::mt19937_64 gen_;
  double spare_ = 0.0;
  bool hasSpare_ = false;
};

std::vector<int64_t> shapeOf(const fb::Tensor &t) {
  return std::vector<int64_t>(t.shape()->begin(), t.shape()->end());
}

std::vector<int64_t> dropLeadingOnes(std::vector<int64_t> shape) {
  size_t i = 0;
  while (i + 1 < shape.size() && shape[i] == 1)
    ++i;
  shape.erase(shape.begin(), shape.begin() + static_cast<ptrdiff_t>(i));
  return shape;
}

const char *hostDtypeName(dynaspa_dtype_t t) {
  return dtypeName(static_cast<fb::DType>(t));
}

std::string tensorName(const fb::Tensor &t, uint32_t input) {
  return "input " + std::to_string(input) + " '" +
         (t.name() ? t.name()->str() : std::string()) + "'";
}

Status loadDataInput(const std::string &path, const fb::Tensor &t,
                     uint32_t input, NdArray *out) {
  NdArray a;
  if (Status s = runtime::readNpy(path, &a); !s)
    return Status(s.code(), path + ": " + s.message());
  std::string what = tensorName(t, input);
  if (a.dtype != DYNASPA_F32)
    return Status(DYNASPA_DTYPE_MISMATCH,
                  path + ": " + what + " must be float32, the file holds " +
                      hostDtypeName(a.dtype));
  if (a.shape != shapeOf(t))
    return Status(DYNASPA_SHAPE_MISMATCH,
                  path + ": " + what + " must have shape " +
                      shapeString(shapeOf(t)) + ", the file has " +
                      shapeString(a.shape));
  *out = std::move(a);
  return Status::ok();
}

/// Picks the mask out of `file` (one mask or a stack) and returns it as f32
/// 0/1 with exactly the bundle's shape.
Status fitMask(const Options &o, const fb::Tensor &t, const NdArray &file,
               NdArray *out, std::string *source) {
  std::vector<int64_t> want = shapeOf(t);
  std::vector<int64_t> shape = file.shape;
  int64_t offset = 0;
  auto mismatch = [&](const std::string &detail) {
    return Status(DYNASPA_SHAPE_MISMATCH,
                  "mask size mismatch: " + o.mask + " has shape " +
                      shapeString(file.shape) + ", the operator's mask '" +
                      (t.name() ? t.name()->str() : std::string()) + "' is " +
                      shapeString(want) + detail);
  };
  // The shape of one mask if the file is a stack [K, ...].
  std::vector<int64_t> inner = shape;
  if (!inner.empty())
    inner.erase(inner.begin());
  if (o.maskIndex) {
    if (shape.empty())
      return mismatch(" (--mask-index needs a stack [K, ...])");
    if (*o.maskIndex >= shape[0])
      return Status(DYNASPA_INVALID_ARGUMENT,
                    "--mask-index " + std::to_string(*o.maskIndex) +
                        " out of range: " + o.mask + " holds " +
                        std::to_string(shape[0]) + " masks");
    int64_t per = 1;
    for (int64_t d : inner)
      per *= d;
    offset = *o.maskIndex * per;
    *source += "[" + std::to_string(*o.maskIndex) + "]";
    shape.swap(inner);
  } else if (dropLeadingOnes(shape) != dropLeadingOnes(want) &&
             !shape.empty() && shape[0] > 1 &&
             dropLeadingOnes(inner) == dropLeadingOnes(want)) {
    return mismatch("; it is a stack of " + std::to_string(shape[0]) +
                    " masks: pick one with --mask-index");
  }
  if (dropLeadingOnes(shape) != dropLeadingOnes(want))
    return mismatch("");
  *out = NdArray::zeros(DYNASPA_F32, want);
  for (int64_t i = 0; i < out->numel(); ++i)
    out->set(i, file.get(offset + i) != 0.0 ? 1.0 : 0.0);
  return Status::ok();
}

Status loadMask(const Options &o, const fb::Tensor &t, NdArray *out,
                std::string *source) {
  NdArray file;
  bool png = o.mask.size() >= 4 &&
             (o.mask.compare(o.mask.size() - 4, 4, ".png") == 0 ||
              o.mask.compare(o.mask.size() - 4, 4, ".PNG") == 0);
  if (png) {
    if (o.maskIndex)
      return invalidArgument("--mask-index applies to stacked .npy masks, "
                             "not to a PNG");
    if (Status s = readPngMask(o.mask, &file); !s)
      return s;
  } else if (Status s = runtime::readNpy(o.mask, &file); !s) {
    return Status(s.code(), o.mask + ": " + s.message());
  }
  *source = o.mask;
  return fitMask(o, t, file, out, source);
}

} // namespace

Status readPngMask(const std::string &path, NdArray *out) {
#ifdef DYNASPA_RUN_HAVE_PNG
  png_image image;
  std::memset(&image, 0, sizeof(image));
  image.version = PNG_IMAGE_VERSION;
  if (!png_image_begin_read_from_file(&image, path.c_str()))
    return Status(DYNASPA_IO_ERROR,
                  path + ": cannot read PNG: " + std::string(image.message));
  image.format = PNG_FORMAT_GRAY;
  // Refuse absurd dimensions before allocating (a corrupt header could ask
  // for gigabytes).
  if (image.width == 0 || image.height == 0 ||
      uint64_t(image.width) * image.height > (uint64_t(1) << 30)) {
    png_image_free(&image);
    return Status(DYNASPA_INVALID_ARGUMENT,
                  path + ": PNG of " + std::to_string(image.width) + "x" +
                      std::to_string(image.height) + " pixels is not a mask");
  }
  NdArray a =
      NdArray::zeros(DYNASPA_U8, {int64_t(image.height), int64_t(image.width)});
  if (!png_image_finish_read(&image, nullptr, a.bytes.data(), 0, nullptr))
    return Status(DYNASPA_IO_ERROR,
                  path + ": cannot decode PNG: " + std::string(image.message));
  *out = std::move(a);
  return Status::ok();
#else
  (void)out;
  return Status(DYNASPA_UNSUPPORTED,
                path + ": this dynaspa-run was built without libpng");
#endif
}

Status loadInputs(const Options &o, const fb::Operator &op, HostInputs *out,
                  bool chained) {
  uint32_t numInputs = op.inputs()->size();
  uint32_t numData = numInputs - (chained ? 2 : 1);
  if (o.inputs.size() > numData)
    return invalidArgument("operator '" + op.name()->str() + "' takes " +
                           std::to_string(numData) +
                           " data inputs (the mask comes by --mask), got " +
                           std::to_string(o.inputs.size()) + " --input");
  if (o.inputs.size() < numData && !o.randomSeed) {
    std::string names;
    for (uint32_t i = chained ? 1 : 0; i < numInputs; ++i)
      if (i != kMaskInput)
        names += (names.empty() ? "" : ", ") +
                 tensorName(*op.buffers()->Get(op.inputs()->Get(i)), i) + " " +
                 shapeString(shapeOf(*op.buffers()->Get(op.inputs()->Get(i))));
    return invalidArgument("operator '" + op.name()->str() + "' takes " +
                           std::to_string(numData) + " data inputs (" + names +
                           "), got " + std::to_string(o.inputs.size()) +
                           "; pass --random SEED to fill the missing ones");
  }
  if (o.mask.empty() && !o.randomSeed)
    return invalidArgument("no --mask given (or pass --random SEED for a "
                           "random one)");
  Random random(o.randomSeed.value_or(0));
  HostInputs result;
  size_t nextFile = 0;
  for (uint32_t i = 0; i < numInputs; ++i) {
    const fb::Tensor &t = *op.buffers()->Get(op.inputs()->Get(i));
    NdArray a;
    std::string source;
    if (chained && i == 0) {
      source = "the previous operator's output";
    } else if (i == kMaskInput && !o.mask.empty()) {
      if (Status s = loadMask(o, t, &a, &source); !s)
        return s;
    } else if (i != kMaskInput && nextFile < o.inputs.size()) {
      source = o.inputs[nextFile++];
      if (Status s = loadDataInput(source, t, i, &a); !s)
        return s;
    } else {
      // Masks (and mask-like integer inputs such as a column mask) get 0/1
      // at density 0.5; data gets N(0,1).
      bool binary = i == kMaskInput || (t.dtype() != fb::DType::F32 &&
                                        t.dtype() != fb::DType::F16 &&
                                        t.dtype() != fb::DType::F64);
      a = NdArray::zeros(DYNASPA_F32, shapeOf(t));
      for (int64_t e = 0; e < a.numel(); ++e)
        a.set(e,
              binary ? (random.uniform() < 0.5 ? 1.0 : 0.0) : random.normal());
      source = std::string(binary ? "random 0/1" : "random N(0,1)") +
               " (seed " + std::to_string(*o.randomSeed) + ")";
    }
    result.arrays.push_back(std::move(a));
    result.sources.push_back(source);
  }
  *out = std::move(result);
  return Status::ok();
}

} // namespace dynaspa::run
