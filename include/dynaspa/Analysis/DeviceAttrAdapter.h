//===- DeviceAttrAdapter.h - DeviceModel <-> #spsparse.device ---*- C++ -*-===//
//
// Part of the dynaspa project.
//
//===----------------------------------------------------------------------===//
//
// The cost model is plain C++; passes see devices as `#spsparse.device<...>`
// attributes. The attribute carries the paper's fields only, so converting it
// to a DeviceModel takes the allocation granularities and per-block limits
// from the built-in device of the same name, and uses eq. 9's plain ratios
// (unit granularities, no reservation) for a device the library does not
// know.
//
//===----------------------------------------------------------------------===//

#ifndef DYNASPA_ANALYSIS_DEVICEATTRADAPTER_H
#define DYNASPA_ANALYSIS_DEVICEATTRADAPTER_H

#include "dynaspa/Analysis/CostModel.h"
#include "dynaspa/Dialect/SpSparse/IR/SpSparseAttrs.h"

namespace mlir::spsparse {

/// The cost model's view of `attr` (see the file comment for the fields the
/// attribute lacks).
dynaspa::cost::DeviceModel toDeviceModel(DeviceAttr attr);

/// The attribute for `device`; fields the attribute has no parameter for are
/// dropped. `device` must pass verifyDevice.
DeviceAttr toDeviceAttr(MLIRContext *context,
                        const dynaspa::cost::DeviceModel &device);

} // namespace mlir::spsparse

#endif // DYNASPA_ANALYSIS_DEVICEATTRADAPTER_H
