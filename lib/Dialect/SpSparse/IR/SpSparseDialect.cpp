//===- SpSparseDialect.cpp - SpSparse dialect -----------------------------===//
//
// Part of the dynaspa project.
//
//===----------------------------------------------------------------------===//
//
// Dialect registration and the generated op definitions. Op verifiers and
// builders live in one file per stage (SpSparseMaskedOps.cpp,
// SpSparseTileOps.cpp, SpSparsePolyKernelOps.cpp).
//
//===----------------------------------------------------------------------===//

#include "dynaspa/Dialect/SpSparse/IR/SpSparseOps.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/DialectImplementation.h"
#include "mlir/IR/OpImplementation.h"
#include "llvm/ADT/TypeSwitch.h"

using namespace mlir;
using namespace mlir::spsparse;

#include "dynaspa/Dialect/SpSparse/IR/SpSparseDialect.cpp.inc"
#include "dynaspa/Dialect/SpSparse/IR/SpSparseEnums.cpp.inc"
#include "dynaspa/Dialect/SpSparse/IR/SpSparseInterfaces.cpp.inc"

#define GET_ATTRDEF_CLASSES
#include "dynaspa/Dialect/SpSparse/IR/SpSparseAttrs.cpp.inc"

#define GET_OP_CLASSES
#include "dynaspa/Dialect/SpSparse/IR/SpSparseOps.cpp.inc"

void SpSparseDialect::initialize() {
  addAttributes<
#define GET_ATTRDEF_LIST
#include "dynaspa/Dialect/SpSparse/IR/SpSparseAttrs.cpp.inc"
      >();
  addOperations<
#define GET_OP_LIST
#include "dynaspa/Dialect/SpSparse/IR/SpSparseOps.cpp.inc"
      >();
}

LogicalResult SpSparseDialect::verifyOperationAttribute(Operation *op,
                                                        NamedAttribute attr) {
  StringRef name = attr.getName().strref();
  Attribute value = attr.getValue();
  if (name == kGranularityAttrName && !isa<GranularityAttr>(value))
    return op->emitError() << "'" << name
                           << "' must be a #spsparse.granularity, got " << value;
  if (name == kScheduleAttrName && !isa<ScheduleAttr>(value))
    return op->emitError() << "'" << name
                           << "' must be a #spsparse.schedule, got " << value;
  if (name == kDeviceAttrName && !isa<DeviceAttr>(value))
    return op->emitError() << "'" << name
                           << "' must be a #spsparse.device, got " << value;
  if (name == kVariantsAttrName) {
    auto variants = dyn_cast<ArrayAttr>(value);
    if (!variants || variants.empty())
      return op->emitError() << "'" << name
                             << "' must be a non-empty array of variants";
    for (Attribute v : variants) {
      auto dict = dyn_cast<DictionaryAttr>(v);
      if (!dict || !isa_and_present<GranularityAttr>(dict.get("granularity")))
        return op->emitError()
               << "'" << name << "': each variant must be a dictionary with "
               << "a '#spsparse.granularity', got " << v;
      for (NamedAttribute entry : dict) {
        StringRef key = entry.getName().strref();
        bool ok = key == "granularity" ||
                  (key == "schedule" && isa<ScheduleAttr>(entry.getValue())) ||
                  (key == "tiles" && isa<DenseI64ArrayAttr>(entry.getValue()) &&
                   cast<DenseI64ArrayAttr>(entry.getValue()).size() == 2) ||
                  (key == "cover" && isa<CoverAttr>(entry.getValue()));
        if (!ok)
          return op->emitError()
                 << "'" << name << "': unexpected entry '" << key << " = "
                 << entry.getValue()
                 << "' (expected granularity, schedule = #spsparse.schedule, "
                    "tiles = array<i64: lo, hi>, cover = #spsparse.cover)";
      }
      auto g = cast<GranularityAttr>(dict.get("granularity"));
      if (auto cover = dict.getAs<CoverAttr>("cover");
          cover && cover.getOf().size() != g.getSizes().size())
        return op->emitError()
               << "'" << name << "': cover " << cover
               << " compares granularities of another rank than " << g;
    }
    return success();
  }
  if (name == kPrologueAttrName) {
    auto refs = dyn_cast<ArrayAttr>(value);
    if (!refs || !llvm::all_of(refs, llvm::IsaPred<SymbolRefAttr>))
      return op->emitError() << "'" << name
                             << "' must be an array of kernel symbols";
    return success();
  }
  if (name == kFillsAttrName) {
    auto dict = dyn_cast<DictionaryAttr>(value);
    auto isKernels = [](Attribute a) {
      auto refs = dyn_cast<ArrayAttr>(a);
      return refs && llvm::all_of(refs, llvm::IsaPred<SymbolRefAttr>);
    };
    if (!dict || !llvm::all_of(dict, [&](NamedAttribute e) {
          return (e.getName() == "before" || e.getName() == "alongside") &&
                 isKernels(e.getValue());
        }))
      return op->emitError() << "'" << name
                             << "' must be {before = [kernels], alongside = "
                                "[kernels]} (either may be absent), got "
                             << value;
    return success();
  }
  if (name == kLaunchAttrName) {
    auto dict = dyn_cast<DictionaryAttr>(value);
    auto isDims = [](Attribute a) {
      auto dims = dyn_cast_if_present<DenseI64ArrayAttr>(a);
      return dims && dims.size() == 3 &&
             llvm::all_of(dims.asArrayRef(), [](int64_t d) { return d > 0; });
    };
    if (!dict || dict.size() != 2 || !isDims(dict.get("grid")) ||
        !isDims(dict.get("block")))
      return op->emitError() << "'" << name
                             << "' must be {grid = array<i64: x, y, z>, "
                                "block = array<i64: x, y, z>} of positive "
                                "sizes, got "
                             << value;
    return success();
  }
  if (name == kArgsAttrName) {
    auto roles = dyn_cast<ArrayAttr>(value);
    if (!roles || !llvm::all_of(roles, llvm::IsaPred<StringAttr>))
      return op->emitError() << "'" << name
                             << "' must be an array of argument roles";
    return success();
  }
  if (name == kProbeAttrName) {
    auto dict = dyn_cast<DictionaryAttr>(value);
    auto kind = dict ? dict.getAs<StringAttr>("kind") : nullptr;
    auto work = dict ? dict.getAs<IntegerAttr>("work") : nullptr;
    if (!dict || dict.size() != 2 || !kind ||
        !llvm::is_contained({"fma", "fma_chain", "shared", "copy"},
                            kind.getValue()) ||
        !work || work.getInt() <= 0)
      return op->emitError() << "'" << name
                             << "' must be {kind = \"fma\" | \"fma_chain\" | "
                                "\"shared\" | \"copy\", work = N > 0}, got "
                             << value;
    return success();
  }
  if (name == kWritesZerosAttrName) {
    if (!isa<UnitAttr>(value))
      return op->emitError() << "'" << name << "' must be a unit attribute";
    return success();
  }
  if (name != kGranularityAttrName && name != kScheduleAttrName &&
      name != kDeviceAttrName)
    return op->emitError() << "unknown spsparse attribute '" << name << "'";
  return success();
}
