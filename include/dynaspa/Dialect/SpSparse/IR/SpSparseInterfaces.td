//===- SpSparseInterfaces.td - SpSparse op interfaces ------*- tablegen -*-===//
//
// Part of the dynaspa project.
//
//===----------------------------------------------------------------------===//
//
// MaskedOpInterface is what every tensor-level masked op has in common: the
// meaning `Y = M ⊙ dense(X, ...)`. Passes that only care about that meaning
// (the reference lowering, mask canonicalization) are written once against
// the interface instead of once per op.
//
//===----------------------------------------------------------------------===//

#ifndef DYNASPA_DIALECT_SPSPARSE_IR_SPSPARSEINTERFACES_TD
#define DYNASPA_DIALECT_SPSPARSE_IR_SPSPARSEINTERFACES_TD

include "mlir/IR/OpBase.td"

def SpSparse_MaskedOpInterface : OpInterface<"MaskedOpInterface"> {
  let cppNamespace = "::mlir::spsparse";
  let description = [{
    A tensor-level op whose single result is a dense computation multiplied by
    one or more spatial masks. A mask element is active when it is non-zero;
    where any mask is inactive the result is exactly zero.
  }];
  let methods = [
    InterfaceMethod<"The mask operands (at least one).",
      "::llvm::SmallVector<::mlir::Value>", "getMasks">,
    InterfaceMethod<[{
        Build the op's result as if every mask were all ones, from upstream
        ops only (linalg/tensor/arith). Returns the dense result tensor.
      }],
      "::mlir::Value", "buildDense", (ins "::mlir::OpBuilder &":$builder)>,
    InterfaceMethod<[{
        Build `select(mask != 0, dense, 0)` for every mask of the op, given
        the dense result built by `buildDense`.
      }],
      "::mlir::Value", "buildApplyMasks",
      (ins "::mlir::OpBuilder &":$builder, "::mlir::Value":$dense)>,
    InterfaceMethod<[{
        Return a copy of this op without the mask `mask`, or null if the op
        cannot exist without it (its only mask). Used to drop all-ones masks.
      }],
      "::mlir::Operation *", "cloneWithoutMask",
      (ins "::mlir::OpBuilder &":$builder, "::mlir::Value":$mask)>
  ];
}

#endif // DYNASPA_DIALECT_SPSPARSE_IR_SPSPARSEINTERFACES_TD
