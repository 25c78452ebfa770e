//===- KernelBuilder.cpp - shared parts of the kernel templates -----------===//
//
// Part of the dynaspa project.
//
//===----------------------------------------------------------------------===//

#include "KernelBuilder.h"

#include "mlir/Dialect/GPU/IR/GPUDialect.h"

using namespace mlir;
using namespace mlir::spsparse;

static std::string granularityString(GranularityAttr g) {
  std::string s;
  for (auto [i, size] : llvm::enumerate(g.getSizes()))
    s += (i ? "x" : "") + std::to_string(size);
  return s;
}

std::string mlir::spsparse::getTilesRole(GranularityAttr g) {
  return "tiles:" + granularityString(g);
}

std::string mlir::spsparse::getCountRole(GranularityAttr g) {
  return "count:" + granularityString(g);
}

gpu::GPUFuncOp mlir::spsparse::createKernel(
    OpBuilder &builder, gpu::GPUModuleOp module, Location loc, StringRef name,
    ArrayRef<Type> argTypes, ArrayRef<std::string> argRoles,
    ArrayRef<Type> workgroupTypes, ArrayRef<int64_t> grid, int64_t threads) {
  OpBuilder::InsertionGuard guard(builder);
  builder.setInsertionPointToEnd(module.getBody());
  MLIRContext *ctx = builder.getContext();
  auto fn = gpu::GPUFuncOp::create(builder, loc, name,
                                   FunctionType::get(ctx, argTypes, {}),
                                   workgroupTypes);
  fn->setAttr(gpu::GPUDialect::getKernelFuncAttrName(), UnitAttr::get(ctx));
  fn.setKnownBlockSizeAttr(
      DenseI32ArrayAttr::get(ctx, {static_cast<int32_t>(threads), 1, 1}));
  SmallVector<int64_t, 3> grid3(grid);
  grid3.resize(3, 1);
  fn->setAttr(SpSparseDialect::kLaunchAttrName,
              builder.getDictionaryAttr(
                  {builder.getNamedAttr("grid",
                                        builder.getDenseI64ArrayAttr(grid3)),
                   builder.getNamedAttr("block", builder.getDenseI64ArrayAttr(
                                                     {threads, 1, 1}))}));
  SmallVector<Attribute> roles;
  for (const std::string &role : argRoles)
    roles.push_back(builder.getStringAttr(role));
  fn->setAttr(SpSparseDialect::kArgsAttrName, builder.getArrayAttr(roles));
  builder.setInsertionPointToStart(&fn.getBody().front());
  gpu::ReturnOp::create(builder, loc);
  builder.setInsertionPointToStart(&fn.getBody().front());
  return fn;
}
