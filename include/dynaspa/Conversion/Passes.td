//===- Passes.td - dynaspa conversion passes ---------------*- tablegen -*-===//
//
// Part of the dynaspa project.
//
//===----------------------------------------------------------------------===//

#ifndef DYNASPA_CONVERSION_PASSES_TD
#define DYNASPA_CONVERSION_PASSES_TD

include "mlir/Pass/PassBase.td"

//===----------------------------------------------------------------------===//
// SpSparseToLinalg
//===----------------------------------------------------------------------===//

def ConvertSpSparseToLinalg : Pass<"convert-spsparse-to-linalg"> {
  let summary = "Lower spsparse ops to their reference meaning on tensors";
  let description = [{
    Defines what the tensor-level spsparse ops compute by rewriting each into
    upstream ops: the dense computation (`linalg.conv_2d_nhwc_hwcf`,
    `linalg.conv_2d_nchw_fchw` or `linalg.batch_matmul`, with zero padding and
    bias) followed by `select(mask != 0, dense, 0)`. The result computes every
    position, so it is not fast; it is the reference the sparse code paths are
    checked against, and it lets any spsparse program run on the CPU through
    the upstream pipelines:

    ```
    dynaspa-opt --convert-spsparse-to-linalg in.mlir |
      mlir-opt-22 --one-shot-bufferize=bufferize-function-boundaries \
        --convert-linalg-to-loops --convert-to-llvm ... | mlir-runner-22 ...
    ```

    The DISTile ops (`spsparse.bitmask`, `spsparse.distiles`,
    `spsparse.foreach_tile`) become sequential `scf.for` loops over tensors,
    so the output of granularity tiling runs too and can be checked against
    the untiled op.

    Masked ops with dynamic shapes are rewritten too (dynamic extents are
    trusted); the DISTile ops need static shapes.
  }];
  let dependentDialects = [
    "::mlir::arith::ArithDialect",
    "::mlir::scf::SCFDialect",
    "::mlir::linalg::LinalgDialect",
    "::mlir::tensor::TensorDialect"
  ];
}

//===----------------------------------------------------------------------===//
// SpSparseToGPU
//===----------------------------------------------------------------------===//

def ConvertSpSparseToGPU
    : Pass<"convert-spsparse-to-gpu", "::mlir::ModuleOp"> {
  let summary = "Lower spsparse polykernels to GPU kernels";
  let description = [{
    For every `spsparse.polykernel` (see `spsparse-outline-polykernels`)
    emits a `gpu.module @<polykernel>_kernels` holding

    - per distinct granularity, the tile-list kernel: mask -> active DISTile
      ids in increasing order + their count (the GPU form of
      `spsparse.bitmask` + `spsparse.distiles`; one block, prefix sums);
    - per variant, the kernel template its schedule parameterizes: a
      grid-stride loop over the tile list that stages each tile's data in
      shared memory (a convolution's input window with the halo and a filter
      block; a batch-matmul's lhs rows and a block of rhs columns) and
      accumulates a register tile per thread.

    Each variant kernel tests the dispatch table on the device (its tile
    count in its range, no earlier variant's in theirs), so all can be
    launched with fixed configurations and no host synchronization. Kernels
    carry `spsparse.launch` (grid, block) and `spsparse.args` (what each
    buffer argument is); the polykernel gets `spsparse.prologue` (its
    tile-list kernels), a convolution's `spsparse.fills` (its fill kernels,
    see `zeros`) and each variant its `kernel`. The host side keeps its
    `spsparse.polykernel.dispatch` ops.

    The kernels are target-neutral: `dynaspa-cuda-pipeline` and
    `dynaspa-opencl-pipeline` take them to PTX/cubin and SPIR-V.

    Index width: a module given 32-bit index arithmetic gets a data layout
    with 32-bit `index` (`dlti.dl_spec`), which convert-gpu-to-nvvm follows;
    only where every buffer has fewer than 2^31 elements. By default
    (`index-bitwidth=0`) the batch-matmul kernels get it and the convolution
    kernels keep 64-bit: on the H100 32-bit made the batch-matmuls 6% faster
    and the convolutions 4% slower (split reductions at low tile counts up
    to 30%; docs/benchmarks/NOTES.md, entry 18).
  }];
  let options = [
    Option<"indexBitwidth", "index-bitwidth", "unsigned", /*default=*/"0",
           "Index arithmetic of the kernels on CUDA: 0 (per template: 32 for "
           "batch-matmuls, 64 for convolutions), 32 (where every buffer has "
           "fewer than 2^31 elements; else 64) or 64">,
    Option<"sharedBuffers", "shared-buffers", "unsigned", /*default=*/"1",
           "Shared-memory copies of a double_buffer variant's staged "
           "reduction chunk: 1, or 2 (the next chunk is stored into one while "
           "the block computes from the other: one barrier per chunk instead "
           "of two; where the second copy fits in 48 KiB)">,
    Option<"zeroBlocks", "zero-blocks", "unsigned", /*default=*/"64",
           "With zeros=variants (and auto's large outputs): blocks at the "
           "start of each variant's grid that write the zeros while the rest "
           "compute (at least 1)">,
    Option<"zeros", "zeros", "std::string", /*default=*/"\"auto\"",
           "Where a convolution's zeros (its masked-off outputs) come from: "
           "'auto' (default: 'variants' where the output has at least 32 MiB, "
           "else 'fill-kernel'), 'variants' (the first zero-blocks blocks of "
           "the variant that runs write them while the rest compute; the "
           "slices of a split reduction store or add in arrival order), "
           "'fill-kernel' (a kernel of the masked-off pixels beside the "
           "prologue and the variants where no variant splits; else as "
           "'zero-fill') or 'zero-fill' (the runtime zero-fills the output "
           "before the op)">,
  ];
  let dependentDialects = [
    "::mlir::arith::ArithDialect",
    "::mlir::DLTIDialect",
    "::mlir::gpu::GPUDialect",
    "::mlir::LLVM::LLVMDialect",
    "::mlir::memref::MemRefDialect",
    "::mlir::nvgpu::NVGPUDialect",
    "::mlir::scf::SCFDialect",
    "::mlir::vector::VectorDialect"
  ];
}

def SpSparseLegalizeKernelsForSPIRV
    : Pass<"spsparse-legalize-kernels-for-spirv", "::mlir::gpu::GPUModuleOp"> {
  let summary = "Put dynaspa's GPU kernels in the form the SPIR-V lowering takes";
  let description = [{
    Shared memory takes opposite forms on the two GPU paths: the NVVM
    lowering wants `gpu.func` workgroup attributions (a `memref.alloc` in
    workgroup memory there silently becomes a device malloc), while
    `convert-gpu-to-spirv` for the Kernel capability fails on attributions
    and takes `memref.alloc` in memory space 3. The kernel templates emit
    attributions; this pass, run in `dynaspa-opencl-pipeline` before the
    conversion to SPIR-V, turns them into allocations at the kernel's entry
    and derives the `spirv.entry_point_abi` work-group size from
    `known_block_size`.

    It also builds vectors from runtime scalars (`vector.from_elements`,
    `vector.broadcast`) by insertion: llvm-spirv 15, which makes the SPIR
    bitcode PoCL needs, miscompiles the OpCompositeConstruct they would
    become.
  }];
  let dependentDialects = [
    "::mlir::arith::ArithDialect",
    "::mlir::vector::VectorDialect",
    "::mlir::memref::MemRefDialect",
    "::mlir::spirv::SPIRVDialect"
  ];
}

def SpSparseConvertKernelsToSPIRV
    : Pass<"spsparse-convert-kernels-to-spirv", "::mlir::ModuleOp"> {
  let summary = "Convert dynaspa's GPU kernels to OpenCL SPIR-V";
  let description = [{
    Upstream's `convert-gpu-to-spirv` for the Kernel capability (OpenCL),
    with the same pattern sets, plus integer atomic addition on global
    (CrossWorkgroup) memory, which upstream lowers only for the Vulkan
    storage classes: `memref.atomic_rmw addi` on a global buffer becomes
    `spirv.AtomicIAdd` at device scope with acquire-release semantics over
    cross-workgroup memory. `llvm.fence` (the kernels' one target-specific
    op: the GPU dialect has no fence; the kernels use it only to order those
    atomics) is dropped, since each such atomic is a global-memory fence in
    SPIR-V by its semantics. The tile-list kernel of a tile space larger than
    one block claims its list ranges that way.

    Each `gpu.module` needs a `#spirv.target_env` target with the Kernel
    capability (`gpu-spirv-attach-target`); the converted `spirv.module` is
    placed inside it and its kernels become empty declarations, as upstream
    does for OpenCL.
  }];
  let options = [
    Option<"use64bitIndex", "use-64bit-index", "bool",
           /*default=*/"false",
           "Use 64-bit integers for index types (Physical64 addressing)">,
  ];
  let dependentDialects = ["::mlir::spirv::SPIRVDialect",
                           "::mlir::func::FuncDialect"];
}

#endif // DYNASPA_CONVERSION_PASSES_TD
