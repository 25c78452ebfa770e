//===- SpSparseBase.td - SpSparse dialect definition -------*- tablegen -*-===//
//
// Part of the dynaspa project.
//
//===----------------------------------------------------------------------===//
//
// The dialect and the base class of its ops. How the .td files depend on each
// other:
//
//   SpSparseBase.td         dialect, op base class
//     <- SpSparseAttrs.td    #spsparse.layout/granularity/schedule/device
//     <- SpSparseInterfaces.td  MaskedOpInterface (tensor-level masked ops)
//       <- SpSparseOps.td    umbrella for the ops, one file per stage:
//            SpSparseMaskedOps.td      masked_conv2d, masked_batch_matmul
//            SpSparseTileOps.td        bitmask, distiles, foreach_tile, yield
//            SpSparsePolyKernelOps.td  polykernel, .variant, .dispatch
//
//===----------------------------------------------------------------------===//

#ifndef DYNASPA_DIALECT_SPSPARSE_IR_SPSPARSEBASE_TD
#define DYNASPA_DIALECT_SPSPARSE_IR_SPSPARSEBASE_TD

include "mlir/IR/OpBase.td"

def SpSparse_Dialect : Dialect {
  let name = "spsparse";
  let cppNamespace = "::mlir::spsparse";
  let summary = "Operators with dynamic spatial sparsity and their DISTile form";
  let description = [{
    The `spsparse` dialect models DNN operators whose output is only needed
    where a per-pixel (or per-token) mask is non-zero, as in DynConv, A-ViT and
    SIGE, following DynaSpa (SenSys'24).

    It has three levels, each produced from the one above by a pass:

    1. Tensor-level masked ops, the user's entry points:
       `spsparse.masked_conv2d` and `spsparse.masked_batch_matmul`. Their
       meaning is `Y = M ⊙ op(X, K)`: wherever the mask is zero the result is
       exactly zero.
    2. The Dense-In-Sparse Tile (DISTile) form: `spsparse.bitmask` packs the
       mask, `spsparse.distiles` lists the granularity-sized tiles that hold
       at least one active position, and `spsparse.foreach_tile` runs a dense
       body on each listed tile.
    3. PolyKernels: `spsparse.polykernel` groups k variants (granularity +
       schedule) of one operator with the tile-count ranges the runtime uses
       to pick one; `spsparse.polykernel.dispatch` calls it.
  }];
  let useDefaultAttributePrinterParser = 1;
  let hasCanonicalizer = 1;
  let hasOperationAttrVerify = 1;
  let extraClassDeclaration = [{
    /// Discardable attributes that request a granularity, a schedule or a
    /// device for the op (or the ops nested in it) they sit on.
    static constexpr ::llvm::StringLiteral kGranularityAttrName =
        "spsparse.granularity";
    static constexpr ::llvm::StringLiteral kScheduleAttrName =
        "spsparse.schedule";
    static constexpr ::llvm::StringLiteral kDeviceAttrName = "spsparse.device";
    /// PolyKernel variants requested for a masked op: an array of
    /// dictionaries `{granularity = #spsparse.granularity<..>,
    /// schedule = #spsparse.schedule<..>, tiles = array<i64: lo, hi>,
    /// cover = #spsparse.cover<..>}` (all but `granularity` optional), in
    /// dispatch order.
    static constexpr ::llvm::StringLiteral kVariantsAttrName =
        "spsparse.variants";
    /// On a lowered polykernel: its tile-list kernels, run before the
    /// variants.
    static constexpr ::llvm::StringLiteral kPrologueAttrName =
        "spsparse.prologue";
    /// On a lowered polykernel whose output's zeros come from fill kernels:
    /// `{before = [kernels], alongside = [kernels]}` (either may be absent),
    /// run on a second queue, before the variants or alongside them.
    static constexpr ::llvm::StringLiteral kFillsAttrName = "spsparse.fills";
    /// On an emitted GPU kernel: its fixed launch configuration
    /// `{grid = array<i64: x, y, z>, block = array<i64: x, y, z>}` and what
    /// each of its buffer arguments is (an array of role strings; see
    /// dynaspa/Conversion/SpSparseToGPU/SpSparseToGPU.h).
    static constexpr ::llvm::StringLiteral kLaunchAttrName = "spsparse.launch";
    static constexpr ::llvm::StringLiteral kArgsAttrName = "spsparse.args";
    /// On an emitted variant kernel: it writes every output element, zeros
    /// where the mask is off (the output needs no zero fill before it).
    static constexpr ::llvm::StringLiteral kWritesZerosAttrName =
        "spsparse.writes_zeros";
    /// On a calibration probe kernel (dynaspa-compile --probes):
    /// `{kind = "fma" | "fma_chain" | "shared" | "copy", work = N}`, see
    /// dynaspa/Conversion/SpSparseToGPU/SpSparseToGPU.h.
    static constexpr ::llvm::StringLiteral kProbeAttrName = "spsparse.probe";
  }];
  let dependentDialects = [
    "::mlir::arith::ArithDialect",
    "::mlir::linalg::LinalgDialect",
    "::mlir::tensor::TensorDialect"
  ];
}

class SpSparse_Op<string mnemonic, list<Trait> traits = []>
    : Op<SpSparse_Dialect, mnemonic, traits>;

#endif // DYNASPA_DIALECT_SPSPARSE_IR_SPSPARSEBASE_TD
