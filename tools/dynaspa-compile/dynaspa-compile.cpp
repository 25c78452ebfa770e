//===- dynaspa-compile.cpp - MLIR with masked ops -> runtime bundle -------===//
//
// Part of the dynaspa project.
//
//===----------------------------------------------------------------------===//
//
// The documented way from MLIR to a bundle:
//
//   dynaspa-compile model.mlir -o model.dspb --cuda-chips=sm_87,sm_90
//
// runs spsparse-outline-polykernels and convert-spsparse-to-gpu, then every
// requested target pipeline on a copy of the result, and writes one bundle
// with all binaries (PTX per chip, cubins where ptxas is available, SPIR-V and
// its SPIR 1.2 bitcode translation for OpenCL drivers without IL) and the
// dispatch table.
//
//===----------------------------------------------------------------------===//

#include "BundleWriter.h"

#include "dynaspa/Conversion/Passes.h"
#include "dynaspa/Dialect/SpSparse/Transforms/Passes.h"
#include "dynaspa/InitAll.h"
#include "dynaspa/Pipelines/Pipelines.h"
#include "dynaspa/runtime/runtime.h"

#include "mlir/IR/MLIRContext.h"
#include "mlir/Parser/Parser.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Support/FileUtilities.h"

#include "llvm/Support/CommandLine.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/FileUtilities.h"
#include "llvm/Support/InitLLVM.h"
#include "llvm/Support/Program.h"
#include "llvm/Support/SourceMgr.h"
#include "llvm/Support/ToolOutputFile.h"
#include "llvm/Support/WithColor.h"

using namespace mlir;
namespace cl = llvm::cl;
namespace fb = dynaspa::bundle;

static cl::OptionCategory category("dynaspa-compile options");
static cl::opt<std::string> inputFile(cl::Positional, cl::desc("<input.mlir>"),
                                      cl::init("-"), cl::cat(category));
static cl::opt<std::string> outputFile("o", cl::desc("Output bundle"),
                                       cl::value_desc("file.dspb"),
                                       cl::Required, cl::cat(category));
static cl::list<std::string>
    cudaChips("cuda-chips", cl::CommaSeparated,
              cl::desc("NVIDIA chips to emit PTX for (default: sm_90); "
                       "'none' for no CUDA code"),
              cl::cat(category));
static cl::list<std::string>
    cubinChips("cubin-chips", cl::CommaSeparated,
               cl::desc("Chips to also assemble cubins for with ptxas "
                        "(e.g. sm_87,sm_90); the driver JITs PTX otherwise"),
               cl::cat(category));
static cl::opt<bool> opencl("opencl", cl::init(true),
                            cl::desc("Emit SPIR-V for OpenCL (default on; "
                                     "--opencl=false to skip)"),
                            cl::cat(category));
static cl::opt<std::string> llvmSpirv(
    "llvm-spirv", cl::init("llvm-spirv-15"),
    cl::desc("SPIR-V -> SPIR bitcode translator for OpenCL drivers without "
             "IL support (PoCL); skipped with a warning if not found"),
    cl::cat(category));
static cl::list<int64_t>
    granularity("granularity", cl::CommaSeparated,
                cl::desc("DISTile size for masked ops without "
                         "spsparse.variants/spsparse.granularity"),
                cl::cat(category));
static cl::opt<std::string>
    schedule("schedule", cl::init(""),
             cl::desc("Schedule for those ops, e.g. "
                      "'<channel_block = 64, threads = 256>'"),
             cl::cat(category));
static cl::opt<std::string>
    records("records", cl::init(""),
            cl::desc("Tuning-record JSON file: ops it has a record for get "
                     "its chosen variants (docs/tuning/records.md)"),
            cl::cat(category));
static cl::opt<std::string>
    dumpDir("dump-binaries", cl::init(""),
            cl::desc("Also write every binary to this directory "
                     "(<module>.<chip>.ptx/.cubin/.spv/.bc) for inspection "
                     "or validation with ptxas/spirv-val"),
            cl::cat(category));
static cl::opt<bool>
    probes("probes", cl::init(false),
           cl::desc("Compile the calibration probes (no input file) instead "
                    "of masked ops: the bundle dynaspa-calibrate runs on a "
                    "device to measure the cost model's alpha, gamma and "
                    "bandwidths"),
           cl::cat(category));
static cl::opt<unsigned> indexBitwidth(
    "index-bitwidth", cl::init(0),
    cl::desc("Index arithmetic of the kernels on CUDA: 0 (default: per "
             "template, 32 for batch-matmuls, 64 for convolutions, as "
             "measured on the H100), 32 (64 where a buffer has 2^31 "
             "elements or more) or 64"),
    cl::cat(category));
static cl::opt<unsigned> sharedBuffers(
    "shared-buffers", cl::init(1),
    cl::desc("Shared-memory copies of a double_buffer variant's staged "
             "reduction chunk: 1, or 2 (store the next chunk while computing "
             "from the other copy; where the second copy fits in 48 KiB)"),
    cl::cat(category));
static cl::opt<unsigned> zeroBlocks(
    "zero-blocks", cl::init(64),
    cl::desc("With --zeros=variants (and auto's large outputs): blocks at "
             "the start of each variant's grid that write the zeros while "
             "the rest compute"),
    cl::cat(category));
static cl::opt<std::string> zeros(
    "zeros", cl::init("auto"),
    cl::desc("Where a convolution's zeros (its masked-off outputs) come "
             "from: 'auto' (default: 'variants' where the output has at least "
             "32 MiB, else 'fill-kernel'; docs/benchmarks/NOTES.md entry 30), "
             "'variants' (the first --zero-blocks blocks of the variant that "
             "runs write them while the rest compute, and the slices of a "
             "split reduction store or add in arrival order), 'fill-kernel' "
             "(a kernel of the masked-off pixels on a second queue, where no "
             "variant splits; else as 'zero-fill') or 'zero-fill' (the "
             "runtime zero-fills the output before the op)"),
    cl::value_desc("auto|variants|fill-kernel|zero-fill"), cl::cat(category));
static cl::opt<bool> printIR("print-gpu-ir", cl::init(false),
                             cl::desc("Print the GPU kernels (after "
                                      "convert-spsparse-to-gpu, or the "
                                      "probes) before the target pipelines"),
                             cl::cat(category));

static LogicalResult fail(const Twine &message) {
  llvm::WithColor::error(llvm::errs(), "dynaspa-compile") << message << "\n";
  return failure();
}

static const char *extension(fb::Format f) {
  switch (f) {
  case fb::Format::PTX: return "ptx";
  case fb::Format::CUBIN: return "cubin";
  case fb::Format::SPIRV: return "spv";
  case fb::Format::SPIR_BC: return "bc";
  case fb::Format::OPENCL_C: return "cl";
  }
  return "bin";
}

static LogicalResult writeFile(StringRef path, ArrayRef<uint8_t> bytes) {
  std::string error;
  auto out = openOutputFile(path, &error);
  if (!out)
    return fail(error);
  out->os().write(reinterpret_cast<const char *>(bytes.data()), bytes.size());
  out->keep();
  return success();
}

/// Runs `build`'s pipeline on a copy of `module` and adds its binaries.
static LogicalResult
lowerForTarget(ModuleOp module, fb::Format format, StringRef chip,
               function_ref<void(OpPassManager &)> build,
               fb::BundleT &bundle) {
  OwningOpRef<ModuleOp> copy = module.clone();
  PassManager pm(module.getContext());
  build(pm);
  if (failed(pm.run(*copy)))
    return fail("the " + chip + " pipeline failed");
  return dynaspa::addBinaries(*copy, format, chip, bundle);
}

/// Adds, next to each SPIR-V binary, its SPIR 1.2 bitcode translation.
static LogicalResult addSpirBitcode(fb::BundleT &bundle) {
  llvm::ErrorOr<std::string> tool = llvm::sys::findProgramByName(llvmSpirv);
  if (!tool) {
    llvm::WithColor::warning(llvm::errs(), "dynaspa-compile")
        << "'" << llvmSpirv
        << "' not found: no SPIR bitcode for OpenCL drivers without IL "
           "support (such as PoCL)\n";
    return success();
  }
  for (auto &m : bundle.modules) {
    std::vector<std::unique_ptr<fb::BinaryT>> added;
    for (auto &b : m->binaries) {
      if (b->format != fb::Format::SPIRV)
        continue;
      SmallString<128> spv, bc;
      if (llvm::sys::fs::createTemporaryFile("dynaspa", "spv", spv) ||
          llvm::sys::fs::createTemporaryFile("dynaspa", "bc", bc))
        return fail("cannot create temporary files");
      llvm::FileRemover removeSpv(spv), removeBc(bc);
      if (failed(writeFile(spv, b->data)))
        return failure();
      std::string error;
      int rc = llvm::sys::ExecuteAndWait(*tool, {*tool, "-r", spv, "-o", bc},
                                         std::nullopt, {}, 0, 0, &error);
      if (rc != 0) {
        // Known: llvm-spirv-15 crashes on some vector constants (vector_width
        // > 1). The SPIR-V itself is valid; only IL-less drivers lose out.
        llvm::WithColor::warning(llvm::errs(), "dynaspa-compile")
            << "'" << llvmSpirv << " -r' failed on module " << m->name
            << " (" << error << "): no SPIR bitcode for it\n";
        continue;
      }
      auto buffer = llvm::MemoryBuffer::getFile(bc);
      if (!buffer)
        return fail("cannot read " + bc);
      auto out = std::make_unique<fb::BinaryT>();
      out->format = fb::Format::SPIR_BC;
      out->chip = "spir64";
      StringRef bytes = (*buffer)->getBuffer();
      out->data.assign(bytes.begin(), bytes.end());
      added.push_back(std::move(out));
    }
    for (auto &b : added)
      m->binaries.push_back(std::move(b));
  }
  return success();
}

/// The input's masked ops as polykernels lowered to GPU kernels, with their
/// operators in `bundle`.
static OwningOpRef<ModuleOp> buildOperators(MLIRContext &context,
                                            llvm::SourceMgr &sourceMgr,
                                            fb::BundleT &bundle) {
  std::string error;
  auto file = openInputFile(inputFile, &error);
  if (!file) {
    (void)fail(error);
    return nullptr;
  }
  sourceMgr.AddNewSourceBuffer(std::move(file), llvm::SMLoc());
  OwningOpRef<ModuleOp> module = parseSourceFile<ModuleOp>(sourceMgr,
                                                           &context);
  if (!module)
    return nullptr;

  PassManager pm(&context);
  spsparse::SpSparseOutlinePolyKernelsOptions outline;
  outline.granularity.assign(granularity.begin(), granularity.end());
  outline.schedule = schedule;
  outline.records = records;
  pm.addPass(spsparse::createSpSparseOutlinePolyKernels(outline));
  spsparse::ConvertSpSparseToGPUOptions lowering;
  lowering.indexBitwidth = indexBitwidth;
  lowering.sharedBuffers = sharedBuffers;
  lowering.zeroBlocks = zeroBlocks;
  lowering.zeros = zeros;
  pm.addPass(spsparse::createConvertSpSparseToGPU(lowering));
  if (failed(pm.run(*module)) ||
      failed(dynaspa::collectOperators(*module, bundle)))
    return nullptr;
  return module;
}

/// A module holding only the calibration probes, with them in `bundle`.
static OwningOpRef<ModuleOp> buildProbes(MLIRContext &context,
                                         fb::BundleT &bundle) {
  OpBuilder builder(&context);
  OwningOpRef<ModuleOp> module =
      ModuleOp::create(FileLineColLoc::get(&context, "<probes>", 0, 0));
  StringRef name = "dynaspa_probes";
  spsparse::buildProbeModule(builder, *module, name);
  if (failed(dynaspa::collectProbes(*module, name, bundle)))
    return nullptr;
  return module;
}

static LogicalResult compile(MLIRContext &context) {
  if (probes && (inputFile != "-" || !records.empty() || !schedule.empty() ||
                 !granularity.empty()))
    return fail("--probes takes no input file, --records, --schedule or "
                "--granularity");
  if (!spsparse::parseConvZeros(zeros))
    return fail("--zeros must be 'fill-kernel', 'zero-fill' or 'variants', "
                "not '" +
                zeros + "'");
  llvm::SourceMgr sourceMgr;
  SourceMgrDiagnosticHandler diagnostics(sourceMgr, &context);
  fb::BundleT bundle;
  bundle.version = DYNASPA_BUNDLE_VERSION;
  bundle.producer = "dynaspa-compile";
  OwningOpRef<ModuleOp> module = probes
                                     ? buildProbes(context, bundle)
                                     : buildOperators(context, sourceMgr,
                                                      bundle);
  if (!module)
    return failure();
  if (printIR)
    module->print(llvm::outs());

  SmallVector<std::string> chips(cudaChips.begin(), cudaChips.end());
  if (chips.empty())
    chips.push_back("sm_90");
  for (const std::string &chip : chips) {
    if (chip == "none")
      continue;
    dynaspa::CudaPipelineOptions options;
    options.chip = chip;
    if (failed(lowerForTarget(
            *module, fb::Format::PTX, chip,
            [&](OpPassManager &p) { dynaspa::buildCudaPipeline(p, options); },
            bundle)))
      return failure();
  }
  for (const std::string &chip : cubinChips) {
    dynaspa::CudaPipelineOptions options;
    options.chip = chip;
    options.format = "bin";
    if (failed(lowerForTarget(
            *module, fb::Format::CUBIN, chip,
            [&](OpPassManager &p) { dynaspa::buildCudaPipeline(p, options); },
            bundle)))
      return failure();
  }
  if (opencl) {
    if (failed(lowerForTarget(
            *module, fb::Format::SPIRV, "spirv64",
            [&](OpPassManager &p) { dynaspa::buildOpenCLPipeline(p, {}); },
            bundle)) ||
        failed(addSpirBitcode(bundle)))
      return failure();
  }

  if (!dumpDir.empty()) {
    if (std::error_code ec = llvm::sys::fs::create_directories(dumpDir))
      return fail("cannot create " + dumpDir + ": " + ec.message());
    for (auto &m : bundle.modules)
      for (auto &b : m->binaries)
        if (failed(writeFile(dumpDir + "/" + m->name + "." + b->chip + "." +
                                 extension(b->format),
                             b->data)))
          return failure();
  }

  flatbuffers::FlatBufferBuilder builder;
  fb::FinishBundleBuffer(builder, fb::Bundle::Pack(builder, &bundle));
  return writeFile(outputFile,
                   ArrayRef(builder.GetBufferPointer(), builder.GetSize()));
}

int main(int argc, char **argv) {
  llvm::InitLLVM init(argc, argv);
  cl::HideUnrelatedOptions(category);
  cl::ParseCommandLineOptions(
      argc, argv,
      "dynaspa-compile: masked ops in MLIR -> a bundle for the dynaspa "
      "runtime\n\n"
      "Every spsparse.masked_conv2d and spsparse.masked_batch_matmul in the "
      "input's functions becomes a PolyKernel (variants from a --records "
      "tuning record, its spsparse.variants attribute, or "
      "--granularity/--schedule, or defaults) with a GPU kernel per variant and a tile-list kernel per "
      "granularity, and one operator of the bundle. The rest of a function "
      "(such as a softmax between two masked ops) is not compiled. Inspect "
      "the result with `dynaspa-run BUNDLE --inspect`.\n\n"
      "With --probes it compiles the cost model's calibration "
      "microbenchmarks instead: run them on a device with "
      "`dynaspa-calibrate BUNDLE -o device.json` and pass the file to "
      "dynaspa-cost, dynaspa-tune or spsparse-prune-schedules.\n");
  DialectRegistry registry;
  dynaspa::registerAllDialects(registry);
  MLIRContext context(registry);
  context.loadAllAvailableDialects();
  return failed(compile(context)) ? 1 : 0;
}
