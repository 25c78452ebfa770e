//===- BundleWriter.cpp - lowered spsparse IR -> bundle -------------------===//
//
// Part of the dynaspa project.
//
//===----------------------------------------------------------------------===//
//
// Reads the contract convert-spsparse-to-gpu leaves on its kernels
// (spsparse.launch, spsparse.args, the polykernel's prologue and variant
// kernels) and writes it as the runtime's dispatch table.
//
//===----------------------------------------------------------------------===//

#include "BundleWriter.h"

#include "dynaspa/Conversion/SpSparseToGPU/SpSparseToGPU.h"
#include "dynaspa/Dialect/SpSparse/IR/SpSparseOps.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/IR/SymbolTable.h"

#include "llvm/ADT/StringSwitch.h"

using namespace mlir;
using namespace mlir::spsparse;
namespace fb = dynaspa::bundle;

namespace {

fb::DType getDType(Type elem) {
  if (elem.isF32())
    return fb::DType::F32;
  if (elem.isF16())
    return fb::DType::F16;
  if (elem.isF64())
    return fb::DType::F64;
  if (elem.isInteger(1))
    return fb::DType::I1;
  if (elem.isInteger(8))
    return fb::DType::U8;
  return fb::DType::I32;
}

std::unique_ptr<fb::TensorT> makeTensor(StringRef name, ShapedType type,
                                        Type elem) {
  auto t = std::make_unique<fb::TensorT>();
  t->name = name.str();
  t->dtype = getDType(elem);
  t->shape.assign(type.getShape().begin(), type.getShape().end());
  return t;
}

/// Builds one operator; `moduleIndex` is the bundle module of its kernels.
struct OperatorWriter {
  PolyKernelOp pk;
  MaskedOpInterface masked;
  uint32_t moduleIndex;
  fb::OperatorT &op;
  llvm::StringMap<uint32_t> buffers; // role -> index into op.buffers

  LogicalResult addLaunch(gpu::GPUFuncOp fn,
                          std::vector<std::unique_ptr<fb::LaunchT>> &out) {
    auto launch = std::make_unique<fb::LaunchT>();
    launch->module_ = moduleIndex;
    launch->kernel = fn.getName().str();
    auto config = fn->getAttrOfType<DictionaryAttr>(
        SpSparseDialect::kLaunchAttrName);
    auto roles = fn->getAttrOfType<ArrayAttr>(SpSparseDialect::kArgsAttrName);
    if (!config || !roles || roles.size() != fn.getNumArguments())
      return fn.emitOpError("is not a dynaspa kernel: it lacks '")
             << SpSparseDialect::kLaunchAttrName << "' or '"
             << SpSparseDialect::kArgsAttrName << "'";
    for (int64_t d : cast<DenseI64ArrayAttr>(config.get("grid")).asArrayRef())
      launch->grid.push_back(d);
    for (int64_t d : cast<DenseI64ArrayAttr>(config.get("block")).asArrayRef())
      launch->block.push_back(d);
    for (auto [role, arg] :
         llvm::zip(roles.getAsValueRange<StringAttr>(), fn.getArguments())) {
      auto it = buffers.find(role);
      if (it == buffers.end()) {
        // A scratch buffer: first use declares it.
        auto type = cast<MemRefType>(arg.getType());
        it = buffers.try_emplace(role, op.buffers.size()).first;
        op.buffers.push_back(makeTensor(role, type, type.getElementType()));
      }
      auto a = std::make_unique<fb::ArgT>();
      a->kind = fb::ArgKind::Buffer;
      a->buffer = it->second;
      launch->args.push_back(std::move(a));
    }
    out.push_back(std::move(launch));
    return success();
  }

  LogicalResult run(SymbolTableCollection &symbols) {
    op.name = pk.getSymName().str();
    // The user's operands in call order, then the result.
    static constexpr StringLiteral convRoles[] = {"input", "filter", "mask",
                                                  "bias"};
    static constexpr StringLiteral bmmRoles[] = {"lhs", "rhs", "row_mask",
                                                 "col_mask"};
    auto conv = dyn_cast<MaskedConv2DOp>(masked.getOperation());
    if (conv) {
      op.kind = fb::OpKind::Conv2D;
      op.layout = conv.getLayout() == Layout::nhwc ? fb::Layout::NHWC
                                                   : fb::Layout::NCHW;
      op.strides.assign(conv.getStrides().begin(), conv.getStrides().end());
      op.dilations.assign(conv.getDilations().begin(),
                          conv.getDilations().end());
      op.padding.assign(conv.getPadding().begin(), conv.getPadding().end());
    } else {
      op.kind = fb::OpKind::BatchMatmul;
    }
    // Operands by their ODS names: optional ones may be absent.
    auto named = [&](StringRef role) -> Value {
      if (conv) {
        if (role == "input") return conv.getInput();
        if (role == "filter") return conv.getFilter();
        if (role == "mask") return conv.getMask();
        return conv.getBias();
      }
      auto bmm = cast<MaskedBatchMatmulOp>(masked.getOperation());
      if (role == "lhs") return bmm.getLhs();
      if (role == "rhs") return bmm.getRhs();
      if (role == "row_mask") return bmm.getRowMask();
      return bmm.getColMask();
    };
    ArrayRef<StringLiteral> roles = conv ? ArrayRef(convRoles)
                                         : ArrayRef(bmmRoles);
    for (StringRef role : roles) {
      Value v = named(role);
      if (!v)
        continue;
      auto type = cast<RankedTensorType>(v.getType());
      buffers[role] = op.buffers.size();
      op.inputs.push_back(op.buffers.size());
      op.buffers.push_back(makeTensor(role, type, type.getElementType()));
    }
    auto resultType = cast<RankedTensorType>(masked->getResult(0).getType());
    buffers["output"] = op.buffers.size();
    op.outputs.push_back(op.buffers.size());
    op.buffers.push_back(
        makeTensor("output", resultType, resultType.getElementType()));

    auto lookup = [&](SymbolRefAttr ref) {
      // From the module: the polykernel is a symbol table of its own.
      return dyn_cast_if_present<gpu::GPUFuncOp>(
          symbols.lookupSymbolIn(pk->getParentOp(), ref));
    };
    auto prologue =
        pk->getAttrOfType<ArrayAttr>(SpSparseDialect::kPrologueAttrName);
    if (!prologue)
      return pk.emitOpError("has not been lowered (run convert-spsparse-to-gpu)");
    for (auto ref : prologue.getAsRange<SymbolRefAttr>()) {
      gpu::GPUFuncOp fn = lookup(ref);
      if (!fn)
        return pk.emitOpError() << "prologue kernel " << ref << " not found";
      if (failed(addLaunch(fn, op.prologue)))
        return failure();
    }
    bool writesZeros = true;
    for (PolyKernelVariantOp v : pk.getVariants()) {
      gpu::GPUFuncOp fn = v.getKernel() ? lookup(*v.getKernel()) : nullptr;
      if (!fn)
        return v.emitOpError("has no GPU kernel");
      auto variant = std::make_unique<fb::VariantT>();
      variant->name = v.getSymName().str();
      ArrayRef<int64_t> sizes = v.getGranularity().getSizes();
      variant->granularity.assign(sizes.begin(), sizes.end());
      if (failed(addLaunch(fn, variant->launches)))
        return failure();
      // A kernel that lists its own DISTiles takes no count.
      auto count = buffers.find(getCountRole(v.getGranularity()));
      if (count != buffers.end())
        variant->count_buffer = count->second;
      std::optional<ArrayRef<int64_t>> range = v.getTiles();
      variant->min_tiles = range ? (*range)[0] : 0;
      variant->max_tiles = range ? (*range)[1] : -1;
      if (CoverAttr cover = v.getCoverAttr()) {
        // The lowering lists both granularities' tiles in the prologue.
        auto of = buffers.find(getCountRole(cover.getOfGranularity()));
        auto over = buffers.find(getCountRole(cover.getOverGranularity()));
        if (of == buffers.end() || over == buffers.end())
          return v.emitOpError("has a cover whose tile counts no kernel "
                               "computes");
        variant->cover = std::make_unique<fb::CoverT>();
        variant->cover->of_buffer = of->second;
        variant->cover->over_buffer = over->second;
        variant->cover->of_positions =
            cover.getOfGranularity().getNumElements();
        variant->cover->over_positions =
            cover.getOverGranularity().getNumElements();
        variant->cover->min_percent = cover.getMinPercent();
        variant->cover->max_percent = cover.getMaxPercent();
      }
      if (v.getSchedule().getTf32())
        variant->math = fb::Math::TF32;
      op.variants.push_back(std::move(variant));
      writesZeros &= fn->hasAttr(SpSparseDialect::kWritesZerosAttrName);
    }
    // Fill kernels write the zeros the variants leave.
    if (auto fills = pk->getAttrOfType<DictionaryAttr>(
            SpSparseDialect::kFillsAttrName)) {
      for (auto [key, list] : {std::pair("before", &op.fills_before),
                               std::pair("alongside", &op.fills_alongside)}) {
        auto refs = fills.getAs<ArrayAttr>(key);
        if (!refs)
          continue;
        for (auto ref : refs.getAsRange<SymbolRefAttr>()) {
          gpu::GPUFuncOp fn = lookup(ref);
          if (!fn)
            return pk.emitOpError() << "fill kernel " << ref << " not found";
          if (failed(addLaunch(fn, *list)))
            return failure();
        }
      }
      writesZeros = true;
    }
    // The output is zero-filled unless the kernels write its zeros.
    op.writes_zeros = writesZeros;
    if (!writesZeros)
      op.zero_fill.push_back(buffers["output"]);
    // The kernels test the dispatch table themselves (convert-spsparse-to-gpu).
    op.self_dispatch = true;
    return success();
  }
};

} // namespace

LogicalResult dynaspa::collectOperators(ModuleOp module,
                                        fb::BundleT &bundle) {
  SymbolTableCollection symbols;
  for (auto pk : module.getOps<PolyKernelOp>()) {
    MaskedOpInterface masked = pk.getMaskedOp();
    if (!masked)
      return pk.emitOpError("has no masked op body to describe");
    auto gpuModule = module.lookupSymbol<gpu::GPUModuleOp>(
        (pk.getSymName() + "_kernels").str());
    if (!gpuModule)
      return pk.emitOpError("has not been lowered (run convert-spsparse-to-gpu)");
    auto m = std::make_unique<fb::ModuleT>();
    m->name = gpuModule.getName().str();
    uint32_t moduleIndex = bundle.modules.size();
    bundle.modules.push_back(std::move(m));
    auto op = std::make_unique<fb::OperatorT>();
    OperatorWriter writer{pk, masked, moduleIndex, *op, {}};
    if (failed(writer.run(symbols)))
      return failure();
    bundle.operators.push_back(std::move(op));
  }
  if (bundle.operators.empty())
    return module.emitError("no masked op to compile: expected "
                            "spsparse.masked_conv2d or "
                            "spsparse.masked_batch_matmul in a function");
  return success();
}

LogicalResult dynaspa::collectProbes(ModuleOp module, StringRef name,
                                     fb::BundleT &bundle) {
  auto gpuModule = module.lookupSymbol<gpu::GPUModuleOp>(name);
  if (!gpuModule)
    return module.emitError("no probe module '") << name << "'";
  uint32_t moduleIndex = bundle.modules.size();
  auto m = std::make_unique<fb::ModuleT>();
  m->name = name.str();
  bundle.modules.push_back(std::move(m));
  for (auto fn : gpuModule.getOps<gpu::GPUFuncOp>()) {
    auto probe = fn->getAttrOfType<DictionaryAttr>(SpSparseDialect::kProbeAttrName);
    auto config = fn->getAttrOfType<DictionaryAttr>(
        SpSparseDialect::kLaunchAttrName);
    auto kind = probe ? probe.getAs<StringAttr>("kind") : nullptr;
    auto work = probe ? probe.getAs<IntegerAttr>("work") : nullptr;
    if (!kind || !work || !config || fn.getNumArguments() != 3)
      return fn.emitOpError("is not a calibration probe");
    std::optional<fb::ProbeKind> k =
        llvm::StringSwitch<std::optional<fb::ProbeKind>>(kind.getValue())
            .Case("fma", fb::ProbeKind::Fma)
            .Case("fma_chain", fb::ProbeKind::FmaChain)
            .Case("shared", fb::ProbeKind::Shared)
            .Case("copy", fb::ProbeKind::Copy)
            .Default(std::nullopt);
    if (!k)
      return fn.emitOpError("has an unknown probe kind ") << kind;
    auto p = std::make_unique<fb::ProbeT>();
    p->kind = *k;
    p->module_ = moduleIndex;
    p->kernel = fn.getName().str();
    p->block = cast<DenseI64ArrayAttr>(config.get("block")).asArrayRef()[0];
    p->elements = cast<MemRefType>(fn.getArgument(0).getType()).getNumElements();
    p->work = work.getInt();
    bundle.probes.push_back(std::move(p));
  }
  return success();
}

LogicalResult dynaspa::addBinaries(ModuleOp lowered, fb::Format format,
                                   StringRef chip, fb::BundleT &bundle) {
  for (auto binary : lowered.getOps<gpu::BinaryOp>()) {
    auto it = llvm::find_if(bundle.modules, [&](const auto &m) {
      return m->name == binary.getName();
    });
    if (it == bundle.modules.end())
      continue;
    for (auto object : binary.getObjects().getAsRange<gpu::ObjectAttr>()) {
      auto b = std::make_unique<fb::BinaryT>();
      b->format = format;
      b->chip = chip.str();
      StringRef bytes = object.getObject().getValue();
      b->data.assign(bytes.begin(), bytes.end());
      (*it)->binaries.push_back(std::move(b));
    }
  }
  return success();
}
