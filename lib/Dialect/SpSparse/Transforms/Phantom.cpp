//===- Phantom.cpp - phantom reads of DISTile windows ---------------------===//
//
// Part of the dynaspa project.
//
//===----------------------------------------------------------------------===//

#include "dynaspa/Dialect/SpSparse/Transforms/Phantom.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Arith/Utils/Utils.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/Dialect/Utils/StaticValueUtils.h"

using namespace mlir;

Value spsparse::buildPhantomRead(OpBuilder &b, Location loc, Value source,
                                 ArrayRef<OpFoldResult> offsets,
                                 ArrayRef<int64_t> sizes,
                                 ArrayRef<bool> inBounds) {
  auto sourceTy = cast<RankedTensorType>(source.getType());
  auto cst = [&](int64_t v) -> Value {
    return arith::ConstantIndexOp::create(b, loc, v);
  };
  SmallVector<OpFoldResult> starts, lens, low, high;
  for (auto [i, dim, offset, size] :
       llvm::enumerate(sourceTy.getShape(), offsets, sizes)) {
    std::optional<int64_t> off = getConstantIntValue(offset);
    // In bounds by construction or statically: a plain slice, no padding.
    if ((i < inBounds.size() && inBounds[i]) ||
        (off && *off >= 0 && *off + size <= dim)) {
      starts.push_back(offset);
      lens.push_back(b.getIndexAttr(size));
      low.push_back(b.getIndexAttr(0));
      high.push_back(b.getIndexAttr(0));
      continue;
    }
    // start = clamp(off, 0, dim), end = clamp(off + size, 0, dim): the
    // in-bounds part, possibly empty. The rest of the window is padding.
    Value o = getValueOrCreateConstantIndexOp(b, loc, offset);
    Value zero = cst(0), extent = cst(dim);
    auto clamp = [&](Value v) {
      return arith::MinSIOp::create(
          b, loc, arith::MaxSIOp::create(b, loc, v, zero), extent);
    };
    Value start = clamp(o);
    Value end = clamp(arith::AddIOp::create(b, loc, o, cst(size)));
    Value len = arith::SubIOp::create(b, loc, end, start);
    Value padLow = arith::SubIOp::create(b, loc, start, o);
    Value padHigh = arith::SubIOp::create(
        b, loc, cst(size), arith::AddIOp::create(b, loc, len, padLow));
    starts.push_back(start);
    lens.push_back(len);
    low.push_back(padLow);
    high.push_back(padHigh);
  }
  SmallVector<OpFoldResult> strides(sizes.size(), b.getIndexAttr(1));
  Value slice =
      tensor::ExtractSliceOp::create(b, loc, source, starts, lens, strides);
  auto windowTy = RankedTensorType::get(sizes, sourceTy.getElementType());
  if (slice.getType() == windowTy)
    return slice;
  Type elt = sourceTy.getElementType();
  Value zero = arith::ConstantOp::create(b, loc, elt, b.getZeroAttr(elt));
  return tensor::PadOp::create(b, loc, windowTy, slice, low, high, zero);
}
