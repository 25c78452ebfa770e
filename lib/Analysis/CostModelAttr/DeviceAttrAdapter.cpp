//===- DeviceAttrAdapter.cpp - DeviceModel <-> #spsparse.device -----------===//
//
// Part of the dynaspa project.
//
//===----------------------------------------------------------------------===//

#include "dynaspa/Analysis/DeviceAttrAdapter.h"

#include "mlir/IR/MLIRContext.h"

using namespace mlir;
using namespace mlir::spsparse;
using dynaspa::cost::DeviceModel;

DeviceModel mlir::spsparse::toDeviceModel(DeviceAttr attr) {
  std::optional<DeviceModel> builtin =
      dynaspa::cost::getBuiltinDevice(attr.getName().str());
  DeviceModel d;
  if (builtin) {
    d = *builtin;
  } else {
    // Eq. 9 as written: no allocation rounding, no reservation.
    d.registerAllocUnit = 1;
    d.warpAllocGranularity = 1;
    d.sharedAllocUnit = 1;
    d.reservedSharedPerBlock = 0;
  }
  d.name = attr.getName().str();
  d.sms = attr.getSms();
  d.warpSize = attr.getWarpSize();
  d.threadsPerSm = attr.getThreadsPerSm();
  d.sharedPerSm = attr.getSharedPerSm();
  d.registersPerSm = attr.getRegistersPerSm();
  d.blocksPerSm = attr.getBlocksPerSm();
  d.globalBandwidth = attr.getGlobalBandwidth().convertToDouble();
  d.sharedBandwidth = attr.getSharedBandwidth().convertToDouble();
  d.transactionBytes = attr.getTransactionBytes();
  d.alpha = attr.getAlpha().convertToDouble();
  d.gamma = attr.getGamma().convertToDouble();
  // A built-in's per-block limits may not fit a smaller attribute device.
  d.maxSharedPerBlock = std::min(d.maxSharedPerBlock, d.sharedPerSm);
  d.maxThreadsPerBlock = std::min(d.maxThreadsPerBlock, d.threadsPerSm);
  return d;
}

DeviceAttr mlir::spsparse::toDeviceAttr(MLIRContext *context,
                                        const DeviceModel &d) {
  return DeviceAttr::get(context, d.name, d.sms, d.warpSize, d.threadsPerSm,
                         d.sharedPerSm, d.registersPerSm, d.blocksPerSm,
                         llvm::APFloat(d.globalBandwidth),
                         llvm::APFloat(d.sharedBandwidth), d.transactionBytes,
                         llvm::APFloat(d.alpha), llvm::APFloat(d.gamma));
}
