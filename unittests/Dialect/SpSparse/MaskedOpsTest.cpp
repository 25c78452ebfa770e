//===- MaskedOpsTest.cpp - MaskedOpInterface tests ------------------------===//
//
// Part of the dynaspa project.
//
//===----------------------------------------------------------------------===//
//
// The interface the reference lowering and canonicalization are written
// against: which operands are masks, and what the dense half builds.
//
//===----------------------------------------------------------------------===//

#include "dynaspa/Dialect/SpSparse/IR/SpSparseOps.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Builders.h"
#include "mlir/Parser/Parser.h"
#include "gtest/gtest.h"

using namespace mlir;
using namespace mlir::spsparse;

namespace {
constexpr const char *kModule = R"mlir(
func.func @f(%x: tensor<2x8x8x4xf32>, %w: tensor<3x3x4x16xf32>,
             %m: tensor<2x4x4xi1>, %b: tensor<16xf32>,
             %q: tensor<6x10x8xf32>, %k: tensor<6x8x10xf32>,
             %r: tensor<10xi8>, %c: tensor<6x10xf32>)
    -> (tensor<2x4x4x16xf32>, tensor<6x10x10xf32>) {
  %y = spsparse.masked_conv2d %x, %w mask %m bias %b
         {strides = array<i64: 2, 2>, padding = array<i64: 1, 1, 1, 1>}
       : (tensor<2x8x8x4xf32>, tensor<3x3x4x16xf32>, tensor<2x4x4xi1>,
          tensor<16xf32>) -> tensor<2x4x4x16xf32>
  %s = spsparse.masked_batch_matmul %q, %k row_mask %r col_mask %c
       : (tensor<6x10x8xf32>, tensor<6x8x10xf32>, tensor<10xi8>,
          tensor<6x10xf32>) -> tensor<6x10x10xf32>
  return %y, %s : tensor<2x4x4x16xf32>, tensor<6x10x10xf32>
}
)mlir";

class MaskedOps : public ::testing::Test {
protected:
  MaskedOps() {
    ctx.loadDialect<SpSparseDialect, func::FuncDialect>();
    module = parseSourceString<ModuleOp>(kModule, &ctx);
  }
  MLIRContext ctx;
  OwningOpRef<ModuleOp> module;
};
} // namespace

TEST_F(MaskedOps, ConvDenseHalfIsPaddedStridedLinalgConv) {
  ASSERT_TRUE(module);
  func::FuncOp fn = *module->getOps<func::FuncOp>().begin();
  auto conv = *fn.getBody().getOps<MaskedConv2DOp>().begin();
  auto masked = cast<MaskedOpInterface>(conv.getOperation());
  ASSERT_EQ(masked.getMasks().size(), 1u);
  EXPECT_EQ(masked.getMasks()[0], conv.getMask());

  OpBuilder b(conv);
  Value dense = masked.buildDense(b);
  auto linalgConv = dense.getDefiningOp<linalg::Conv2DNhwcHwcfOp>();
  ASSERT_TRUE(linalgConv);
  EXPECT_EQ(dense.getType(), conv.getType());
  // Padding became a tensor.pad of the input; the init is the bias.
  EXPECT_TRUE(linalgConv.getInputs()[0].getDefiningOp<tensor::PadOp>());
  EXPECT_TRUE(linalgConv.getOutputs()[0].getDefiningOp<linalg::BroadcastOp>());
  EXPECT_EQ(linalgConv.getStrides().getValues<int64_t>()[0], 2);

  Value out = masked.buildApplyMasks(b, dense);
  auto select = out.getDefiningOp<linalg::GenericOp>();
  ASSERT_TRUE(select);
  EXPECT_EQ(select.getDpsInputs()[0], conv.getMask());
  // A [N, H, W] mask indexes the output's N, H and W.
  EXPECT_EQ(select.getIndexingMapsArray()[0].getNumResults(), 3u);
  EXPECT_EQ(select.getIndexingMapsArray()[0].getDimPosition(2), 2u);
}

TEST_F(MaskedOps, BatchMatmulHasRowAndColumnMasks) {
  ASSERT_TRUE(module);
  func::FuncOp fn = *module->getOps<func::FuncOp>().begin();
  auto bmm = *fn.getBody().getOps<MaskedBatchMatmulOp>().begin();
  auto masked = cast<MaskedOpInterface>(bmm.getOperation());
  EXPECT_EQ(masked.getMasks().size(), 2u);

  OpBuilder b(bmm);
  // The row mask cannot be dropped; the column mask can.
  EXPECT_EQ(masked.cloneWithoutMask(b, bmm.getRowMask()), nullptr);
  Operation *clone = masked.cloneWithoutMask(b, bmm.getColMask());
  ASSERT_NE(clone, nullptr);
  EXPECT_FALSE(cast<MaskedBatchMatmulOp>(clone).getColMask());

  Value out = masked.buildApplyMasks(b, masked.buildDense(b));
  // Two selects: the column mask's, applied to the row mask's.
  auto colSelect = out.getDefiningOp<linalg::GenericOp>();
  ASSERT_TRUE(colSelect);
  EXPECT_EQ(colSelect.getDpsInputs()[0], bmm.getColMask());
  auto rowSelect =
      colSelect.getDpsInits()[0].getDefiningOp<linalg::GenericOp>();
  ASSERT_TRUE(rowSelect);
  // A rank-1 row mask broadcasts over the batch: it indexes only M.
  AffineMap rowMap = rowSelect.getIndexingMapsArray()[0];
  ASSERT_EQ(rowMap.getNumResults(), 1u);
  EXPECT_EQ(rowMap.getDimPosition(0), 1u);
}
