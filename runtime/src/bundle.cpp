//===- bundle.cpp - bundle serialization and verification -----------------===//
//
// Part of the dynaspa project.
//
//===----------------------------------------------------------------------===//
//
// verifyBundle is the gate between untrusted bytes and the executor: after it
// succeeds, every index in the bundle is in range and every enum value is
// known, so the executor indexes without checking. The semantic checks run
// after the FlatBuffers verifier, which guarantees that reading any field is
// memory-safe but says nothing about its meaning.
//
//===----------------------------------------------------------------------===//

#include "dynaspa/runtime/bundle.h"
#include "dynaspa/runtime/reference.h"

#include <array>
#include <limits>
#include <set>
#include <string>

namespace dynaspa::runtime {

namespace fb = ::dynaspa::bundle;

std::vector<uint8_t> serializeBundle(const fb::BundleT &bundle) {
  flatbuffers::FlatBufferBuilder builder;
  fb::FinishBundleBuffer(builder, fb::Bundle::Pack(builder, &bundle));
  return std::vector<uint8_t>(builder.GetBufferPointer(),
                              builder.GetBufferPointer() + builder.GetSize());
}

size_t countTf32Variants(const fb::Operator &op) {
  size_t n = 0;
  if (op.variants())
    for (const fb::Variant *v : *op.variants())
      n += v->math() == fb::Math::TF32;
  return n;
}

size_t dtypeSize(fb::DType dtype) {
  switch (dtype) {
  case fb::DType::F32:
  case fb::DType::I32:
    return 4;
  case fb::DType::F16:
    return 2;
  case fb::DType::F64:
    return 8;
  case fb::DType::U8:
  case fb::DType::I1:
    return 1;
  }
  return 0;
}

bool elementCount(const int64_t *shape, size_t rank, int64_t *count) {
  // Leave room for the widest element so that bytes = count * size fits too.
  constexpr int64_t kMax = std::numeric_limits<int64_t>::max() / 16;
  int64_t n = 1;
  for (size_t i = 0; i < rank; ++i) {
    if (shape[i] < 0)
      return false;
    if (shape[i] != 0 && n > kMax / shape[i])
      return false;
    n *= shape[i];
  }
  *count = n;
  return true;
}

namespace {

/// Semantic checks with a breadcrumb path for the error message, e.g.
/// "operators[0] 'conv': variants[1].launches[0].args[2]".
class Checker {
public:
  explicit Checker(const fb::Bundle &bundle) : bundle_(bundle) {}

  Status run();

private:
  Status fail(const std::string &where, const std::string &what) const {
    return Status(DYNASPA_BAD_BUNDLE, "bad bundle: " + where + ": " + what);
  }
  Status checkModule(const fb::Module *module, const std::string &where);
  Status checkOperator(const fb::Operator *op, const std::string &where);
  Status checkProbe(const fb::Probe *probe, const std::string &where);
  Status checkKernelRef(uint32_t module, const flatbuffers::String *kernel,
                        const std::string &where);
  Status checkOpShapes(const fb::Operator *op, const std::string &where);
  Status checkLaunch(const fb::Launch *launch, const fb::Operator *op,
                     const std::string &where);
  Status checkIndices(const flatbuffers::Vector<uint32_t> *indices,
                      uint32_t limit, const std::string &where);

  const fb::Bundle &bundle_;
  uint32_t numModules_ = 0;
};

template <typename E> bool knownEnum(E value, E last) {
  return static_cast<unsigned>(value) <= static_cast<unsigned>(last);
}

std::vector<int64_t> shapeOf(const fb::Tensor *t) {
  return std::vector<int64_t>(t->shape()->begin(), t->shape()->end());
}

/// FlatBuffers 2.0 verifies only the 4-byte alignment of a vector's length,
/// not the 8-byte alignment of its [long] elements; a corrupted bundle can
/// misalign them, and reading them in place would be undefined behaviour.
bool aligned(const flatbuffers::Vector<int64_t> *v) {
  return !v || reinterpret_cast<uintptr_t>(v->data()) % alignof(int64_t) == 0;
}

bool isFloat(fb::DType t) {
  return t == fb::DType::F32 || t == fb::DType::F16 || t == fb::DType::F64;
}

Status Checker::run() {
  numModules_ = bundle_.modules() ? bundle_.modules()->size() : 0;
  for (uint32_t i = 0; i < numModules_; ++i) {
    if (Status s = checkModule(bundle_.modules()->Get(i),
                               "modules[" + std::to_string(i) + "]");
        !s)
      return s;
  }
  std::set<std::string> names;
  uint32_t numOps = bundle_.operators() ? bundle_.operators()->size() : 0;
  uint32_t numProbes = bundle_.probes() ? bundle_.probes()->size() : 0;
  if (numOps == 0 && numProbes == 0)
    return fail("bundle", "no operators and no probes");
  for (uint32_t i = 0; i < numProbes; ++i)
    if (Status s = checkProbe(bundle_.probes()->Get(i),
                              "probes[" + std::to_string(i) + "]");
        !s)
      return s;
  for (uint32_t i = 0; i < numOps; ++i) {
    const fb::Operator *op = bundle_.operators()->Get(i);
    std::string where = "operators[" + std::to_string(i) + "]";
    if (!op->name() || op->name()->size() == 0)
      return fail(where, "operator has no name");
    where += " '" + op->name()->str() + "'";
    if (!names.insert(op->name()->str()).second)
      return fail(where, "duplicate operator name");
    if (Status s = checkOperator(op, where); !s)
      return s;
  }
  return Status::ok();
}

Status Checker::checkModule(const fb::Module *module,
                            const std::string &where) {
  if (!module->binaries() || module->binaries()->size() == 0)
    return fail(where, "module has no binaries");
  for (uint32_t i = 0; i < module->binaries()->size(); ++i) {
    const fb::Binary *bin = module->binaries()->Get(i);
    std::string at = where + ".binaries[" + std::to_string(i) + "]";
    if (!knownEnum(bin->format(), fb::Format::MAX))
      return fail(at, "unknown format " +
                          std::to_string(static_cast<int>(bin->format())));
    if (!bin->data() || bin->data()->size() == 0)
      return fail(at, "empty binary");
  }
  return Status::ok();
}

Status Checker::checkKernelRef(uint32_t module,
                               const flatbuffers::String *kernel,
                               const std::string &where) {
  if (module >= numModules_)
    return fail(where, "module index " + std::to_string(module) +
                           " out of range (" + std::to_string(numModules_) +
                           " modules)");
  if (!kernel || kernel->size() == 0)
    return fail(where, "no kernel name");
  return Status::ok();
}

Status Checker::checkProbe(const fb::Probe *probe, const std::string &where) {
  if (!knownEnum(probe->kind(), fb::ProbeKind::MAX))
    return fail(where, "unknown probe kind");
  if (Status s = checkKernelRef(probe->module_(), probe->kernel(), where); !s)
    return s;
  if (probe->block() == 0 || probe->block() > 1024)
    return fail(where, "block of " + std::to_string(probe->block()) +
                           " threads out of range");
  // Counts are i32 and the copy probe indexes whole buffers with them.
  if (probe->elements() < probe->block() ||
      probe->elements() > std::numeric_limits<int32_t>::max())
    return fail(where, "buffer of " + std::to_string(probe->elements()) +
                           " elements out of range");
  if (probe->work() == 0)
    return fail(where, "probe does no work per iteration");
  return Status::ok();
}

Status Checker::checkIndices(const flatbuffers::Vector<uint32_t> *indices,
                             uint32_t limit, const std::string &where) {
  if (!indices)
    return Status::ok();
  for (uint32_t i = 0; i < indices->size(); ++i)
    if (indices->Get(i) >= limit)
      return fail(where + "[" + std::to_string(i) + "]",
                  "buffer index " + std::to_string(indices->Get(i)) +
                      " out of range (" + std::to_string(limit) + " buffers)");
  return Status::ok();
}

Status Checker::checkLaunch(const fb::Launch *launch, const fb::Operator *op,
                            const std::string &where) {
  if (Status s = checkKernelRef(launch->module_(), launch->kernel(), where); !s)
    return s;
  for (auto [dims, name] : {std::pair{launch->grid(), "grid"},
                            std::pair{launch->block(), "block"}}) {
    if (!dims || dims->size() < 1 || dims->size() > 3)
      return fail(where, std::string(name) + " must have 1 to 3 dimensions");
    for (uint32_t d : *dims)
      if (d == 0 || d > static_cast<uint32_t>(std::numeric_limits<int>::max()))
        return fail(where, std::string(name) + " dimension " +
                               std::to_string(d) + " out of range");
  }
  uint32_t numBuffers = op->buffers()->size();
  if (!launch->args())
    return Status::ok();
  for (uint32_t i = 0; i < launch->args()->size(); ++i) {
    const fb::Arg *arg = launch->args()->Get(i);
    std::string at = where + ".args[" + std::to_string(i) + "]";
    if (!knownEnum(arg->kind(), fb::ArgKind::MAX))
      return fail(at, "unknown argument kind");
    if (arg->kind() == fb::ArgKind::Buffer && arg->buffer() >= numBuffers)
      return fail(at, "buffer index " + std::to_string(arg->buffer()) +
                          " out of range (" + std::to_string(numBuffers) +
                          " buffers)");
    if (arg->kind() == fb::ArgKind::I32 &&
        (arg->value() < std::numeric_limits<int32_t>::min() ||
         arg->value() > std::numeric_limits<int32_t>::max()))
      return fail(at, "i32 argument value out of range");
  }
  return Status::ok();
}

Status Checker::checkOperator(const fb::Operator *op,
                              const std::string &where) {
  if (!knownEnum(op->kind(), fb::OpKind::MAX))
    return fail(where, "unknown operator kind");
  if (!knownEnum(op->layout(), fb::Layout::MAX))
    return fail(where, "unknown layout");
  if (!aligned(op->strides()) || !aligned(op->dilations()) ||
      !aligned(op->padding()))
    return fail(where, "misaligned strides, dilations or padding");
  if (!op->buffers() || op->buffers()->size() == 0)
    return fail(where, "operator has no buffers");
  uint32_t numBuffers = op->buffers()->size();
  for (uint32_t i = 0; i < numBuffers; ++i) {
    const fb::Tensor *t = op->buffers()->Get(i);
    std::string at = where + ".buffers[" + std::to_string(i) + "]";
    if (!knownEnum(t->dtype(), fb::DType::MAX))
      return fail(at, "unknown dtype");
    int64_t count;
    if (!t->shape() || !aligned(t->shape()) ||
        !elementCount(t->shape()->data(), t->shape()->size(), &count))
      return fail(at, "missing, misaligned, negative or overflowing shape");
  }
  if (Status s = checkIndices(op->inputs(), numBuffers, where + ".inputs"); !s)
    return s;
  if (Status s = checkIndices(op->outputs(), numBuffers, where + ".outputs");
      !s)
    return s;
  if (Status s =
          checkIndices(op->zero_fill(), numBuffers, where + ".zero_fill");
      !s)
    return s;
  if (!op->outputs() || op->outputs()->size() == 0)
    return fail(where, "operator has no outputs");
  // User tensors may be caller memory (dynaspa_operator_launch): each is
  // bound once, the runtime never clears an input, and counts (which the
  // runtime reads back) live in its own scratch.
  std::set<uint32_t> inputs, user;
  if (op->inputs())
    inputs.insert(op->inputs()->begin(), op->inputs()->end());
  for (auto *list : {op->inputs(), op->outputs()})
    for (uint32_t i = 0; list && i < list->size(); ++i)
      if (!user.insert(list->Get(i)).second)
        return fail(where, "buffer " + std::to_string(list->Get(i)) +
                               " is named twice among inputs and outputs");
  if (op->zero_fill())
    for (uint32_t i = 0; i < op->zero_fill()->size(); ++i)
      if (inputs.count(op->zero_fill()->Get(i)))
        return fail(where + ".zero_fill[" + std::to_string(i) + "]",
                    "zero fill of input buffer " +
                        std::to_string(op->zero_fill()->Get(i)));
  if (Status s = checkOpShapes(op, where); !s)
    return s;

  for (auto [list, name] :
       {std::pair(op->prologue(), ".prologue"),
        std::pair(op->fills_before(), ".fills_before"),
        std::pair(op->fills_alongside(), ".fills_alongside")})
    for (uint32_t i = 0; list && i < list->size(); ++i)
      if (Status s = checkLaunch(list->Get(i), op,
                                 where + name + "[" + std::to_string(i) + "]");
          !s)
        return s;

  if (!op->variants() || op->variants()->size() == 0)
    return fail(where, "operator has no variants");
  uint32_t numVariants = op->variants()->size();
  for (uint32_t v = 0; v < numVariants; ++v) {
    const fb::Variant *var = op->variants()->Get(v);
    std::string at = where + ".variants[" + std::to_string(v) + "]";
    if (!aligned(var->granularity()))
      return fail(at, "misaligned granularity");
    flatbuffers::Optional<uint32_t> countBuffer = var->count_buffer();
    if (!countBuffer) {
      // Nothing to dispatch on: only a lone variant may do without a count.
      if (numVariants != 1 || var->min_tiles() != 0 || var->max_tiles() != -1)
        return fail(at, "a variant without a count buffer must be the "
                        "operator's only one, with tiles [0, -1]");
    } else {
      if (*countBuffer >= numBuffers)
        return fail(at, "count buffer " + std::to_string(*countBuffer) +
                            " out of range");
      const fb::Tensor *count = op->buffers()->Get(*countBuffer);
      int64_t n;
      elementCount(count->shape()->data(), count->shape()->size(), &n);
      if (count->dtype() != fb::DType::I32 || n < 1)
        return fail(at, "count buffer must be i32 with at least one element");
      if (user.count(*countBuffer))
        return fail(at, "count buffer must be scratch, not an input or output");
    }
    if (var->min_tiles() < 0)
      return fail(at, "min_tiles must be >= 0");
    if (var->max_tiles() != -1 && var->max_tiles() < var->min_tiles())
      return fail(at, "max_tiles must be -1 or >= min_tiles");
    if (v + 1 == numVariants && (var->max_tiles() != -1 || var->cover()))
      return fail(at, "the last variant must be unbounded (max_tiles = -1) "
                      "and have no cover so that every tile count has a "
                      "kernel");
    if (const fb::Cover *cover = var->cover()) {
      if (!countBuffer)
        return fail(at, "a variant with a cover needs a count buffer");
      for (uint32_t b : {cover->of_buffer(), cover->over_buffer()}) {
        if (b >= numBuffers)
          return fail(at, "cover count buffer " + std::to_string(b) +
                              " out of range");
        const fb::Tensor *count = op->buffers()->Get(b);
        int64_t n;
        elementCount(count->shape()->data(), count->shape()->size(), &n);
        if (count->dtype() != fb::DType::I32 || n < 1 || user.count(b))
          return fail(at, "cover count buffers must be i32 scratch with at "
                          "least one element");
      }
      // The bounds of #spsparse.cover: a non-negative I32 count times two
      // of these stays below 2^63.
      constexpr int64_t kMax = int64_t(1) << 16;
      if (cover->of_positions() < 1 || cover->over_positions() < 1 ||
          cover->of_positions() > kMax || cover->over_positions() > kMax)
        return fail(at, "cover positions must be in [1, 65536]");
      if (cover->min_percent() < 0 || cover->min_percent() > kMax ||
          cover->max_percent() > kMax ||
          (cover->max_percent() != -1 &&
           cover->max_percent() < cover->min_percent()))
        return fail(at, "cover percents must satisfy 0 <= min_percent <= "
                        "65536 and max_percent = -1 or min_percent <= "
                        "max_percent <= 65536");
    }
    if (!var->launches())
      continue;
    for (uint32_t i = 0; i < var->launches()->size(); ++i)
      if (Status s = checkLaunch(var->launches()->Get(i), op,
                                 at + ".launches[" + std::to_string(i) + "]");
          !s)
        return s;
  }
  return Status::ok();
}

/// The user-facing tensors must be what the operator's meaning requires:
/// tools derive the reference computation from them.
Status Checker::checkOpShapes(const fb::Operator *op,
                              const std::string &where) {
  size_t numInputs = op->inputs() ? op->inputs()->size() : 0;
  if (numInputs != 3 && numInputs != 4)
    return fail(where, "operator takes 3 or 4 inputs, has " +
                           std::to_string(numInputs));
  if (op->outputs()->size() != 1)
    return fail(where, "operator must have exactly one output");
  auto tensor = [&](uint32_t i) { return op->buffers()->Get(i); };
  const fb::Tensor *lhs = tensor(op->inputs()->Get(0));
  const fb::Tensor *rhs = tensor(op->inputs()->Get(1));
  const fb::Tensor *mask = tensor(op->inputs()->Get(2));
  const fb::Tensor *extra =
      numInputs == 4 ? tensor(op->inputs()->Get(3)) : nullptr;
  const fb::Tensor *result = tensor(op->outputs()->Get(0));
  std::vector<int64_t> extraShape;
  if (extra)
    extraShape = shapeOf(extra);
  std::vector<int64_t> expected;
  Status s;
  if (op->kind() == fb::OpKind::Conv2D) {
    if (!isFloat(lhs->dtype()) || !isFloat(rhs->dtype()) ||
        !isFloat(result->dtype()) || (extra && !isFloat(extra->dtype())))
      return fail(where, "conv2d input, filter, bias and result must be "
                         "floating point");
    auto two = [](const flatbuffers::Vector<int64_t> *v, int64_t dflt,
                  std::array<int64_t, 2> *out) {
      if (!v || v->size() == 0) {
        *out = {dflt, dflt};
        return true;
      }
      if (v->size() != 2)
        return false;
      *out = {v->Get(0), v->Get(1)};
      return true;
    };
    Conv2DParams params;
    params.layout =
        op->layout() == fb::Layout::NHWC ? ConvLayout::NHWC : ConvLayout::NCHW;
    if (!two(op->strides(), 1, &params.strides) ||
        !two(op->dilations(), 1, &params.dilations))
      return fail(where, "strides and dilations need 2 values");
    if (op->padding() && op->padding()->size() != 0) {
      if (op->padding()->size() != 4)
        return fail(where, "padding needs 4 values [top,bottom,left,right]");
      for (int i = 0; i < 4; ++i)
        params.padding[i] = op->padding()->Get(i);
    }
    s = conv2DShapes(params, shapeOf(lhs), shapeOf(rhs), shapeOf(mask),
                     extra ? &extraShape : nullptr, &expected);
  } else {
    if (!isFloat(lhs->dtype()) || !isFloat(rhs->dtype()) ||
        !isFloat(result->dtype()))
      return fail(where, "batch_matmul lhs, rhs and result must be floating "
                         "point");
    s = batchMatmulShapes(shapeOf(lhs), shapeOf(rhs), shapeOf(mask),
                          extra ? &extraShape : nullptr, &expected);
  }
  if (!s)
    return fail(where, s.message());
  if (shapeOf(result) != expected)
    return fail(where, "result shape does not match the operator");
  return Status::ok();
}

} // namespace

Status verifyBundle(const uint8_t *data, size_t size, const fb::Bundle **root) {
  if (!root || (!data && size))
    return invalidArgument("verifyBundle: null argument");
  if (reinterpret_cast<uintptr_t>(data) % 8 != 0)
    return invalidArgument("verifyBundle: data must be 8-byte aligned");
  // The verifier asserts on sizes it cannot address; reject them first.
  if (size < 8 || size >= FLATBUFFERS_MAX_BUFFER_SIZE)
    return Status(DYNASPA_BAD_BUNDLE, "bad bundle: size " +
                                          std::to_string(size) +
                                          " is not that of a bundle");
  if (!fb::BundleBufferHasIdentifier(data))
    return Status(DYNASPA_BAD_BUNDLE,
                  "bad bundle: file identifier is not \"DSPB\"");
  flatbuffers::Verifier verifier(data, size);
  if (!fb::VerifyBundleBuffer(verifier))
    return Status(DYNASPA_BAD_BUNDLE,
                  "bad bundle: FlatBuffers verification failed (truncated or "
                  "corrupted)");
  const fb::Bundle *bundle = fb::GetBundle(data);
  if (bundle->version() != DYNASPA_BUNDLE_VERSION)
    return Status(DYNASPA_VERSION_MISMATCH,
                  "bundle version " + std::to_string(bundle->version()) +
                      ", this runtime reads version " +
                      std::to_string(DYNASPA_BUNDLE_VERSION));
  if (Status s = Checker(*bundle).run(); !s)
    return s;
  *root = bundle;
  return Status::ok();
}

} // namespace dynaspa::runtime
