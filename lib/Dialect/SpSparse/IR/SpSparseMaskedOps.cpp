//===- SpSparseMaskedOps.cpp - tensor-level masked ops --------------------===//
//
// Part of the dynaspa project.
//
//===----------------------------------------------------------------------===//
//
// Verifiers of masked_conv2d / masked_batch_matmul, their MaskedOpInterface
// implementation (the dense computation and the mask select, built from
// upstream ops: this is the ops' executable meaning), and the canonicalization
// of constant masks.
//
//===----------------------------------------------------------------------===//

#include "dynaspa/Dialect/SpSparse/IR/SpSparseOps.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/Matchers.h"
#include "mlir/IR/PatternMatch.h"

using namespace mlir;
using namespace mlir::spsparse;

//===----------------------------------------------------------------------===//
// Shared helpers
//===----------------------------------------------------------------------===//

/// True when both extents are known and differ.
static bool mismatch(int64_t a, int64_t b) {
  return !ShapedType::isDynamic(a) && !ShapedType::isDynamic(b) && a != b;
}

/// Prints an extent, `?` when dynamic.
static std::string dimStr(int64_t d) {
  return ShapedType::isDynamic(d) ? std::string("?") : std::to_string(d);
}

/// Checks that `mask` is `[batch, rows...]` or `[rows...]` (broadcast over the
/// batch), where `expected` is the full `[batch, rows...]` shape.
static LogicalResult verifyMaskShape(Operation *op, StringRef name,
                                     RankedTensorType mask,
                                     ArrayRef<int64_t> expected) {
  int64_t rank = mask.getRank();
  int64_t full = expected.size();
  if (rank != full && rank != full - 1)
    return op->emitOpError() << "expects " << name << " of rank " << full - 1
                             << " or " << full << ", got rank " << rank;
  ArrayRef<int64_t> want = expected.take_back(rank);
  for (int64_t i = 0; i < rank; ++i)
    if (mismatch(mask.getDimSize(i), want[i])) {
      std::string wantStr;
      llvm::raw_string_ostream os(wantStr);
      llvm::interleave(want, os, [&](int64_t d) { os << dimStr(d); }, "x");
      return op->emitOpError()
             << name << " shape " << mask << " does not match the result's "
             << wantStr << " (dimension " << i << ")";
    }
  return success();
}

Value mlir::spsparse::buildMaskIsActive(OpBuilder &b, Location loc, Value m) {
  Type t = m.getType();
  if (t.isInteger(1))
    return m;
  Value zero = arith::ConstantOp::create(b, loc, t, b.getZeroAttr(t));
  if (isa<FloatType>(t))
    return arith::CmpFOp::create(b, loc, arith::CmpFPredicate::UNE, m, zero);
  return arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ne, m, zero);
}

/// `select(mask != 0, dense, 0)` where mask dimension i indexes dense
/// dimension maskDims[i] (a mask of lower rank broadcasts).
static Value selectByMask(OpBuilder &b, Location loc, Value dense, Value mask,
                          ArrayRef<unsigned> maskDims) {
  auto denseTy = cast<RankedTensorType>(dense.getType());
  MLIRContext *ctx = b.getContext();
  SmallVector<AffineExpr> exprs;
  for (unsigned d : maskDims)
    exprs.push_back(getAffineDimExpr(d, ctx));
  unsigned rank = denseTy.getRank();
  SmallVector<AffineMap> maps = {AffineMap::get(rank, 0, exprs, ctx),
                                 AffineMap::getMultiDimIdentityMap(rank, ctx)};
  SmallVector<utils::IteratorType> iters(rank, utils::IteratorType::parallel);
  auto generic = linalg::GenericOp::create(
      b, loc, TypeRange{denseTy}, ValueRange{mask}, ValueRange{dense}, maps,
      iters, /*doc=*/"", /*libraryCall=*/"",
      [&](OpBuilder &nb, Location nloc, ValueRange args) {
        Type elt = args[1].getType();
        Value zero =
            arith::ConstantOp::create(nb, nloc, elt, nb.getZeroAttr(elt));
        Value sel = arith::SelectOp::create(
            nb, nloc, buildMaskIsActive(nb, nloc, args[0]), args[1], zero);
        linalg::YieldOp::create(nb, nloc, sel);
      });
  return generic.getResult(0);
}

/// A zero-filled tensor of `type`, with dynamic extents taken from `sizes`.
static Value buildZeros(OpBuilder &b, Location loc, RankedTensorType type,
                        ArrayRef<OpFoldResult> sizes) {
  Value empty = tensor::EmptyOp::create(b, loc, sizes, type.getElementType());
  Value zero = arith::ConstantOp::create(b, loc, type.getElementType(),
                                         b.getZeroAttr(type.getElementType()));
  return linalg::FillOp::create(b, loc, zero, empty).getResult(0);
}

/// The index value `(in + padBefore + padAfter - effKernel) / stride + 1`.
static OpFoldResult convOutputSize(OpBuilder &b, Location loc,
                                   OpFoldResult in, int64_t pad,
                                   int64_t effKernel, int64_t stride) {
  if (auto c = getConstantIntValue(in))
    return b.getIndexAttr((*c + pad - effKernel) / stride + 1);
  auto cst = [&](int64_t v) {
    return arith::ConstantIndexOp::create(b, loc, v).getResult();
  };
  Value v = arith::AddIOp::create(b, loc, cast<Value>(in), cst(pad - effKernel));
  v = arith::DivUIOp::create(b, loc, v, cst(stride));
  return arith::AddIOp::create(b, loc, v, cst(1)).getResult();
}

//===----------------------------------------------------------------------===//
// MaskedConv2DOp
//===----------------------------------------------------------------------===//

int64_t MaskedConv2DOp::getKernelHeight() {
  return getFilter().getType().getDimSize(getLayout() == Layout::nhwc ? 0 : 2);
}

int64_t MaskedConv2DOp::getKernelWidth() {
  return getFilter().getType().getDimSize(getLayout() == Layout::nhwc ? 1 : 3);
}

LogicalResult MaskedConv2DOp::verify() {
  RankedTensorType inputTy = getInput().getType();
  RankedTensorType filterTy = getFilter().getType();
  RankedTensorType resultTy = getResult().getType();
  for (auto [name, ty] : {std::pair<StringRef, RankedTensorType>{"input", inputTy},
                          {"filter", filterTy},
                          {"result", resultTy}})
    if (ty.getRank() != 4)
      return emitOpError() << "expects a rank-4 " << name << ", got " << ty;

  Type elt = inputTy.getElementType();
  if (filterTy.getElementType() != elt || resultTy.getElementType() != elt)
    return emitOpError() << "expects input, filter and result of one element "
                            "type, got "
                         << elt << ", " << filterTy.getElementType() << ", "
                         << resultTy.getElementType();

  ArrayRef<int64_t> strides = getStrides(), dilations = getDilations(),
                    padding = getPadding();
  if (strides.size() != 2 || llvm::any_of(strides, [](int64_t s) { return s <= 0; }))
    return emitOpError("expects 'strides' to be two positive integers");
  if (dilations.size() != 2 ||
      llvm::any_of(dilations, [](int64_t d) { return d <= 0; }))
    return emitOpError("expects 'dilations' to be two positive integers");
  if (padding.size() != 4 || llvm::any_of(padding, [](int64_t p) { return p < 0; }))
    return emitOpError("expects 'padding' to be four non-negative integers "
                       "[top, bottom, left, right]");

  bool nhwc = getLayout() == Layout::nhwc;
  int64_t kh = getKernelHeight(), kw = getKernelWidth();
  int64_t fCin = filterTy.getDimSize(nhwc ? 2 : 1);
  int64_t fCout = filterTy.getDimSize(nhwc ? 3 : 0);
  for (int64_t k : {kh, kw})
    if (!ShapedType::isDynamic(k) && (k <= 0 || k % 2 == 0))
      return emitOpError() << "expects odd kernel sizes, got " << dimStr(kh)
                           << "x" << dimStr(kw);

  if (mismatch(inputTy.getDimSize(getChannelDim()), fCin))
    return emitOpError() << "input has " << inputTy.getDimSize(getChannelDim())
                         << " channels but the filter expects " << fCin;
  if (mismatch(resultTy.getDimSize(getChannelDim()), fCout))
    return emitOpError() << "result has "
                         << resultTy.getDimSize(getChannelDim())
                         << " channels but the filter produces " << fCout;
  if (mismatch(resultTy.getDimSize(0), inputTy.getDimSize(0)))
    return emitOpError() << "result batch " << resultTy.getDimSize(0)
                         << " differs from input batch "
                         << inputTy.getDimSize(0);

  // Output extent along H and W.
  for (auto [axis, name, k] :
       {std::tuple<int, StringRef, int64_t>{0, "height", kh}, {1, "width", kw}}) {
    int64_t dim = axis == 0 ? getHeightDim() : getWidthDim();
    int64_t in = inputTy.getDimSize(dim), out = resultTy.getDimSize(dim);
    if (ShapedType::isDynamic(in) || ShapedType::isDynamic(k))
      continue;
    int64_t padded = in + padding[2 * axis] + padding[2 * axis + 1];
    int64_t window = dilations[axis] * (k - 1) + 1;
    if (padded < window)
      return emitOpError() << "filter window " << window << " along " << name
                           << " is larger than the padded input " << padded;
    int64_t expected = (padded - window) / strides[axis] + 1;
    if (mismatch(out, expected))
      return emitOpError() << "result " << name << " " << out
                           << " does not match the convolution's " << expected;
  }

  if (Value bias = getBias()) {
    auto biasTy = cast<RankedTensorType>(bias.getType());
    if (biasTy.getRank() != 1 || biasTy.getElementType() != elt)
      return emitOpError() << "expects a rank-1 bias of " << elt << ", got "
                           << biasTy;
    if (mismatch(biasTy.getDimSize(0), fCout))
      return emitOpError() << "bias has " << biasTy.getDimSize(0)
                           << " elements but the filter produces " << fCout
                           << " channels";
  }

  return verifyMaskShape(*this, "mask", getMask().getType(),
                         {resultTy.getDimSize(0),
                          resultTy.getDimSize(getHeightDim()),
                          resultTy.getDimSize(getWidthDim())});
}

SmallVector<Value> MaskedConv2DOp::getMasks() { return {getMask()}; }

Value MaskedConv2DOp::buildDense(OpBuilder &b) {
  Location loc = getLoc();
  RankedTensorType resultTy = getResult().getType();
  Type elt = resultTy.getElementType();
  bool nhwc = getLayout() == Layout::nhwc;
  ArrayRef<int64_t> pad = getPadding();

  // Zero padding as an explicit tensor.pad: linalg convolutions take none.
  Value input = getInput();
  if (llvm::any_of(pad, [](int64_t p) { return p != 0; })) {
    SmallVector<OpFoldResult> low(4, b.getIndexAttr(0)), high = low;
    low[getHeightDim()] = b.getIndexAttr(pad[0]);
    high[getHeightDim()] = b.getIndexAttr(pad[1]);
    low[getWidthDim()] = b.getIndexAttr(pad[2]);
    high[getWidthDim()] = b.getIndexAttr(pad[3]);
    Value zero = arith::ConstantOp::create(b, loc, elt, b.getZeroAttr(elt));
    input = tensor::PadOp::create(b, loc, /*resultType=*/Type(), input, low,
                                  high, zero);
  }

  // Result extents (dynamic ones computed from the operands).
  SmallVector<OpFoldResult> sizes(4);
  sizes[0] = tensor::getMixedSize(b, loc, getInput(), 0);
  sizes[getChannelDim()] =
      tensor::getMixedSize(b, loc, getFilter(), nhwc ? 3 : 0);
  ArrayRef<int64_t> strides = getStrides(), dilations = getDilations();
  int64_t kernel[2] = {getKernelHeight(), getKernelWidth()};
  for (int axis = 0; axis < 2; ++axis) {
    int64_t dim = axis == 0 ? getHeightDim() : getWidthDim();
    if (!resultTy.isDynamicDim(dim)) {
      sizes[dim] = b.getIndexAttr(resultTy.getDimSize(dim));
      continue;
    }
    int64_t k = ShapedType::isDynamic(kernel[axis]) ? 1 : kernel[axis];
    sizes[dim] = convOutputSize(
        b, loc, tensor::getMixedSize(b, loc, getInput(), dim),
        pad[2 * axis] + pad[2 * axis + 1], dilations[axis] * (k - 1) + 1,
        strides[axis]);
  }

  // The accumulator starts as the broadcast bias, or zeros.
  Value init;
  if (Value bias = getBias()) {
    Value empty = tensor::EmptyOp::create(b, loc, sizes, elt);
    SmallVector<int64_t> bcastDims;
    for (int64_t d = 0; d < 4; ++d)
      if (d != getChannelDim())
        bcastDims.push_back(d);
    init = linalg::BroadcastOp::create(b, loc, bias, empty, bcastDims)
               .getResult()[0];
  } else {
    init = buildZeros(b, loc, resultTy, sizes);
  }

  auto i64x2 = RankedTensorType::get({2}, b.getI64Type());
  Attribute stridesAttr = DenseIntElementsAttr::get(i64x2, strides);
  Attribute dilationsAttr = DenseIntElementsAttr::get(i64x2, dilations);
  if (nhwc)
    return linalg::Conv2DNhwcHwcfOp::create(b, loc, TypeRange{resultTy},
                                            ValueRange{input, getFilter()},
                                            ValueRange{init}, stridesAttr,
                                            dilationsAttr)
        .getResult(0);
  return linalg::Conv2DNchwFchwOp::create(b, loc, TypeRange{resultTy},
                                          ValueRange{input, getFilter()},
                                          ValueRange{init}, stridesAttr,
                                          dilationsAttr)
      .getResult(0);
}

Value MaskedConv2DOp::buildApplyMasks(OpBuilder &b, Value dense) {
  SmallVector<unsigned> dims;
  if (getMask().getType().getRank() == 3)
    dims.push_back(0);
  dims.push_back(getHeightDim());
  dims.push_back(getWidthDim());
  return selectByMask(b, getLoc(), dense, getMask(), dims);
}

Operation *MaskedConv2DOp::cloneWithoutMask(OpBuilder &, Value) {
  return nullptr; // The mask is the only one.
}

//===----------------------------------------------------------------------===//
// MaskedBatchMatmulOp
//===----------------------------------------------------------------------===//

LogicalResult MaskedBatchMatmulOp::verify() {
  RankedTensorType lhsTy = getLhs().getType(), rhsTy = getRhs().getType(),
                   resultTy = getResult().getType();
  for (auto [name, ty] : {std::pair<StringRef, RankedTensorType>{"lhs", lhsTy},
                          {"rhs", rhsTy},
                          {"result", resultTy}})
    if (ty.getRank() != 3)
      return emitOpError() << "expects a rank-3 " << name << ", got " << ty;
  Type elt = lhsTy.getElementType();
  if (rhsTy.getElementType() != elt || resultTy.getElementType() != elt)
    return emitOpError() << "expects lhs, rhs and result of one element type, "
                            "got "
                         << elt << ", " << rhsTy.getElementType() << ", "
                         << resultTy.getElementType();
  int64_t b = lhsTy.getDimSize(0), m = lhsTy.getDimSize(1),
          k = lhsTy.getDimSize(2), n = rhsTy.getDimSize(2);
  if (mismatch(rhsTy.getDimSize(0), b) || mismatch(resultTy.getDimSize(0), b))
    return emitOpError() << "batch sizes differ: lhs " << dimStr(b) << ", rhs "
                         << dimStr(rhsTy.getDimSize(0)) << ", result "
                         << dimStr(resultTy.getDimSize(0));
  if (mismatch(rhsTy.getDimSize(1), k))
    return emitOpError() << "contraction sizes differ: lhs has " << dimStr(k)
                         << ", rhs has " << dimStr(rhsTy.getDimSize(1));
  if (mismatch(resultTy.getDimSize(1), m) || mismatch(resultTy.getDimSize(2), n))
    return emitOpError() << "result " << resultTy << " is not [B, "
                         << dimStr(m) << ", " << dimStr(n) << "]";
  if (failed(verifyMaskShape(*this, "row_mask", getRowMask().getType(),
                             {resultTy.getDimSize(0), resultTy.getDimSize(1)})))
    return failure();
  if (Value colMask = getColMask())
    return verifyMaskShape(*this, "col_mask",
                           cast<RankedTensorType>(colMask.getType()),
                           {resultTy.getDimSize(0), resultTy.getDimSize(2)});
  return success();
}

SmallVector<Value> MaskedBatchMatmulOp::getMasks() {
  SmallVector<Value> masks = {getRowMask()};
  if (Value colMask = getColMask())
    masks.push_back(colMask);
  return masks;
}

Value MaskedBatchMatmulOp::buildDense(OpBuilder &b) {
  Location loc = getLoc();
  SmallVector<OpFoldResult> sizes = {
      tensor::getMixedSize(b, loc, getLhs(), 0),
      tensor::getMixedSize(b, loc, getLhs(), 1),
      tensor::getMixedSize(b, loc, getRhs(), 2)};
  Value init = buildZeros(b, loc, getResult().getType(), sizes);
  return linalg::BatchMatmulOp::create(b, loc, TypeRange{getResult().getType()},
                                       ValueRange{getLhs(), getRhs()},
                                       ValueRange{init})
      .getResult(0);
}

Value MaskedBatchMatmulOp::buildApplyMasks(OpBuilder &b, Value dense) {
  auto dimsFor = [](Value mask, unsigned axis) {
    SmallVector<unsigned> dims;
    if (cast<RankedTensorType>(mask.getType()).getRank() == 2)
      dims.push_back(0);
    dims.push_back(axis);
    return dims;
  };
  Value out = selectByMask(b, getLoc(), dense, getRowMask(),
                           dimsFor(getRowMask(), 1));
  if (Value colMask = getColMask())
    out = selectByMask(b, getLoc(), out, colMask, dimsFor(colMask, 2));
  return out;
}

Operation *MaskedBatchMatmulOp::cloneWithoutMask(OpBuilder &b, Value mask) {
  // Only the column mask is optional.
  if (!getColMask() || mask != getColMask())
    return nullptr;
  return MaskedBatchMatmulOp::create(b, getLoc(), getResult().getType(),
                                     getLhs(), getRhs(), getRowMask(),
                                     /*col_mask=*/Value());
}

//===----------------------------------------------------------------------===//
// Canonicalization
//===----------------------------------------------------------------------===//

namespace {
enum class Uniform { AllZero, AllOne };

/// Whether `mask` is a constant whose elements are all zero or all non-zero.
std::optional<Uniform> getUniformMask(Value mask) {
  DenseElementsAttr attr;
  if (!matchPattern(mask, m_Constant(&attr)))
    return std::nullopt;
  auto isSet = [](Attribute a) {
    if (auto i = dyn_cast<IntegerAttr>(a))
      return !i.getValue().isZero();
    return !cast<FloatAttr>(a).getValue().isZero();
  };
  auto values = attr.getValues<Attribute>();
  if (values.empty())
    return std::nullopt;
  bool first = isSet(*values.begin());
  if (!attr.isSplat() &&
      llvm::any_of(values, [&](Attribute a) { return isSet(a) != first; }))
    return std::nullopt;
  return first ? Uniform::AllOne : Uniform::AllZero;
}

/// An all-zeros mask makes the result zeros; an all-ones mask is dropped, and
/// once no mask is left the op is its plain dense computation.
struct FoldConstantMask : OpInterfaceRewritePattern<MaskedOpInterface> {
  using OpInterfaceRewritePattern::OpInterfaceRewritePattern;

  LogicalResult matchAndRewrite(MaskedOpInterface op,
                                PatternRewriter &rewriter) const override {
    SmallVector<Value> masks = op.getMasks();
    auto resultTy = cast<RankedTensorType>(op->getResult(0).getType());
    for (Value mask : masks) {
      std::optional<Uniform> uniform = getUniformMask(mask);
      if (!uniform)
        continue;
      if (*uniform == Uniform::AllZero) {
        if (!resultTy.hasStaticShape())
          continue;
        rewriter.replaceOpWithNewOp<arith::ConstantOp>(
            op, resultTy, rewriter.getZeroAttr(resultTy));
        return success();
      }
      if (Operation *clone = op.cloneWithoutMask(rewriter, mask)) {
        rewriter.replaceOp(op, clone->getResults());
        return success();
      }
    }
    if (llvm::all_of(masks, [](Value m) {
          return getUniformMask(m) == Uniform::AllOne;
        })) {
      rewriter.replaceOp(op, op.buildDense(rewriter));
      return success();
    }
    return failure();
  }
};
} // namespace

void SpSparseDialect::getCanonicalizationPatterns(
    RewritePatternSet &results) const {
  results.add<FoldConstantMask>(getContext());
}
