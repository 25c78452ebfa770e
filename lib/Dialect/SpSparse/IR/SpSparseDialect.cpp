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
  if (name != kGranularityAttrName && name != kScheduleAttrName &&
      name != kDeviceAttrName)
    return op->emitError() << "unknown spsparse attribute '" << name << "'";
  return success();
}
