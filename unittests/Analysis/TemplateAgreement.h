//===- TemplateAgreement.h - a kernel template vs its profile ---*- C++ -*-===//
//
// Part of the dynaspa project.
//
//===----------------------------------------------------------------------===//
//
// What ConvTemplateTest and BmmTemplateTest check the same way for a
// schedule: that the kernel template and the cost-model profile mirroring it
// accept and reject the same schedules for the same reason, and what a built
// kernel's static shared memory and launch are.
//
//===----------------------------------------------------------------------===//

#ifndef DYNASPA_UNITTESTS_ANALYSIS_TEMPLATEAGREEMENT_H
#define DYNASPA_UNITTESTS_ANALYSIS_TEMPLATEAGREEMENT_H

#include "dynaspa/Analysis/CostModel.h"

#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "gtest/gtest.h"

#include <optional>
#include <string>

namespace dynaspa::testing {

/// Compares the template's answer (`fn`, with the diagnostic it emitted)
/// with the profile's (`why`, empty when it accepts). Returns nullopt when
/// both accepted (go on comparing), else what the check returns: false when
/// the template rejected (the profile must give the template's reason),
/// true when only the profile rejected (a reported mismatch).
inline std::optional<bool>
agreeOnAcceptance(mlir::FailureOr<mlir::gpu::GPUFuncOp> fn,
                  const std::string &why, const std::string &diagnostic,
                  const std::string &what) {
  if (mlir::failed(fn)) {
    EXPECT_FALSE(why.empty()) << what << " template: " << diagnostic;
    EXPECT_NE(diagnostic.find(why), std::string::npos)
        << what << "\n template: " << diagnostic << "\n profile: " << why;
    return false;
  }
  EXPECT_TRUE(why.empty()) << what << " profile rejects: " << why;
  if (!why.empty())
    return true;
  return std::nullopt;
}

/// Bytes of the kernel's workgroup attributions (its static shared memory).
inline int64_t getStaticSharedBytes(mlir::gpu::GPUFuncOp fn) {
  int64_t bytes = 0;
  for (mlir::BlockArgument a : fn.getWorkgroupAttributions()) {
    auto type = mlir::cast<mlir::MemRefType>(a.getType());
    bytes += type.getNumElements() * type.getElementTypeBitWidth() / 8;
  }
  return bytes;
}

/// The kernel's fixed launch (`spsparse.launch`) against the profile's
/// blocks and threads; returns the grid for further checks.
inline llvm::ArrayRef<int64_t>
expectLaunchMatches(mlir::gpu::GPUFuncOp fn,
                    const std::optional<cost::KernelProfile> &prof,
                    const std::string &what) {
  auto launch = fn->getAttrOfType<mlir::DictionaryAttr>("spsparse.launch");
  auto grid = launch.getAs<mlir::DenseI64ArrayAttr>("grid").asArrayRef();
  auto block = launch.getAs<mlir::DenseI64ArrayAttr>("block").asArrayRef();
  EXPECT_TRUE(prof) << what;
  if (prof) {
    EXPECT_EQ(grid[0] * grid[1] * grid[2], prof->blocks) << what;
    EXPECT_EQ(block[0] * block[1] * block[2], prof->threadsPerBlock) << what;
  }
  return grid;
}

} // namespace dynaspa::testing

#endif // DYNASPA_UNITTESTS_ANALYSIS_TEMPLATEAGREEMENT_H
