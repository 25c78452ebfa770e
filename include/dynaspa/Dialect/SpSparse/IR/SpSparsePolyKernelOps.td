//===- SpSparsePolyKernelOps.td - PolyKernel ops -----------*- tablegen -*-===//
//
// Part of the dynaspa project.
//
//===----------------------------------------------------------------------===//
//
// A PolyKernel (paper §3.2, §3.4) is k implementations of one masked op, each
// a (granularity, schedule) pair, with the rule the runtime uses to choose
// one from the mask at hand. Shaped like IREE's hal.executable.variant: the
// polykernel is a symbol table of variants, and a dispatch op calls it.
//
//===----------------------------------------------------------------------===//

#ifndef DYNASPA_DIALECT_SPSPARSE_IR_SPSPARSEPOLYKERNELOPS_TD
#define DYNASPA_DIALECT_SPSPARSE_IR_SPSPARSEPOLYKERNELOPS_TD

include "dynaspa/Dialect/SpSparse/IR/SpSparseAttrs.td"
include "mlir/IR/SymbolInterfaces.td"
include "mlir/IR/BuiltinAttributeInterfaces.td"
include "mlir/Interfaces/SideEffectInterfaces.td"
include "mlir/IR/CommonAttrConstraints.td"

def SpSparse_PolyKernelOp : SpSparse_Op<"polykernel", [
    Symbol, SymbolTable, IsolatedFromAbove, SingleBlock]> {
  let summary = "k implementations of one masked op and how to choose one";
  let description = [{
    A function with several implementations. The body computes the op's
    meaning on the block arguments (whose types are `function_type`'s inputs)
    and yields the results; it is what `spsparse.polykernel.dispatch`
    computes and what a CPU lowering inlines. The
    `spsparse.polykernel.variant`s at the top of the body are the GPU
    implementations: at run time they are tried in order and the first whose
    tile-count range contains the number of DISTiles the mask has at that
    variant's granularity runs. The last variant has no range: it is the
    fallback, so a choice always exists.

    ```mlir
    spsparse.polykernel @conv3x3 : (tensor<1x40x40x64xf32>,
        tensor<3x3x64x64xf32>, tensor<1x40x40xi1>) -> tensor<1x40x40x64xf32> {
    ^bb0(%x: tensor<1x40x40x64xf32>, %w: tensor<3x3x64x64xf32>,
         %m: tensor<1x40x40xi1>):
      spsparse.polykernel.variant @sparse
          granularity <[2, 2]> schedule <channel_block = 32> tiles [0, 64]
      spsparse.polykernel.variant @dense
          granularity <[8, 8]> schedule <channel_block = 64>
      %y = spsparse.masked_conv2d %x, %w mask %m {padding = array<i64: 1, 1, 1, 1>}
          : tensor<1x40x40x64xf32>, tensor<3x3x64x64xf32>, tensor<1x40x40xi1>
          -> tensor<1x40x40x64xf32>
      spsparse.yield %y : tensor<1x40x40x64xf32>
    }
    ```
  }];
  let arguments = (ins SymbolNameAttr:$sym_name,
                       TypeAttrOf<FunctionType>:$function_type);
  let regions = (region SizedRegion<1>:$body);
  let assemblyFormat = [{
    $sym_name `:` $function_type attr-dict-with-keyword $body
  }];
  let hasRegionVerifier = 1;
  let extraClassDeclaration = [{
    /// The variants in dispatch order.
    auto getVariants() { return getBody().front().getOps<PolyKernelVariantOp>(); }
    /// The one masked op the body computes, or null when the body is
    /// anything else (which only the CPU lowering then handles).
    MaskedOpInterface getMaskedOp();
  }];
}

def SpSparse_PolyKernelVariantOp : SpSparse_Op<"polykernel.variant", [
    Symbol, HasParent<"PolyKernelOp">]> {
  let summary = "one (granularity, schedule) implementation of a polykernel";
  let description = [{
    One implementation of the enclosing polykernel. `tiles [lo, hi]` is the
    inclusive range of DISTile counts (at this variant's granularity) for
    which it is chosen, and `cover` (a `#spsparse.cover`) a test of how
    clustered the mask is. The variant is chosen when the tests it has hold
    and no earlier variant was chosen. Without either it takes every mask:
    the last variant, the fallback. After outlining, `kernel` names the GPU kernel
    that implements it.

    ```mlir
    spsparse.polykernel.variant @clustered granularity <[4, 4]>
        schedule <channel_block = 64> cover <[4, 4] over [2, 2] in [0, 120]>
    ```
  }];
  let arguments = (ins SymbolNameAttr:$sym_name,
                       SpSparse_GranularityAttr:$granularity,
                       SpSparse_ScheduleAttr:$schedule,
                       OptionalAttr<DenseI64ArrayAttr>:$tiles,
                       OptionalAttr<SpSparse_CoverAttr>:$cover,
                       OptionalAttr<SymbolRefAttr>:$kernel);
  let assemblyFormat = [{
    $sym_name `granularity` $granularity
    `schedule` $schedule
    (`tiles` $tiles^)? (`cover` $cover^)? (`kernel` $kernel^)? attr-dict
  }];
  let extraClassDeclaration = [{
    /// Whether the variant has a dispatch test (a tile range or a cover):
    /// every variant but the last has one.
    bool isConditional() { return getTiles() || getCover(); }
  }];
  let hasVerifier = 1;
}

def SpSparse_PolyKernelDispatchOp : SpSparse_Op<"polykernel.dispatch", [
    DeclareOpInterfaceMethods<SymbolUserOpInterface>]> {
  let summary = "run a polykernel on operands";
  let description = [{
    Computes what the masked op the polykernel was built from computes, with
    the variant the runtime chooses for the mask in the operands.

    ```mlir
    %y = spsparse.polykernel.dispatch @conv3x3(%x, %w, %m)
        : (tensor<1x40x40x64xf32>, tensor<3x3x64x64xf32>, tensor<1x40x40xi1>)
          -> tensor<1x40x40x64xf32>
    ```
  }];
  let arguments = (ins FlatSymbolRefAttr:$polykernel,
                       Variadic<AnyType>:$args);
  let results = (outs Variadic<AnyType>:$results);
  let assemblyFormat = [{
    $polykernel `(` $args `)` attr-dict `:` functional-type($args, $results)
  }];
}

#endif // DYNASPA_DIALECT_SPSPARSE_IR_SPSPARSEPOLYKERNELOPS_TD
