//===- KernelBuilder.h - terse index arithmetic for kernel templates -----===//
//
// Part of the dynaspa project.
//
//===----------------------------------------------------------------------===//
//
// The kernel templates compute every address themselves on 1-D buffers (the
// SPIR-V path cannot legalize dynamic multi-dimensional memrefs), so they are
// mostly index arithmetic. This wrapper keeps that arithmetic readable.
//
//===----------------------------------------------------------------------===//

#ifndef DYNASPA_LIB_CONVERSION_SPSPARSETOGPU_KERNELBUILDER_H
#define DYNASPA_LIB_CONVERSION_SPSPARSETOGPU_KERNELBUILDER_H

#include "dynaspa/Conversion/SpSparseToGPU/SpSparseToGPU.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "mlir/IR/ImplicitLocOpBuilder.h"

namespace mlir {
namespace spsparse {

struct TileSpace;

/// Workgroup memory is memory space 3 on both GPU targets.
constexpr unsigned kWorkgroupMemorySpace = 3;

/// Static shared memory a kernel may declare (the kernels do not opt in to
/// more).
constexpr int64_t kMaxStaticSharedBytes = 48 * 1024;

/// The i32 slots of a tile count buffer: the count the variant kernels read,
/// then two counters the multi-block tile-list kernel uses and leaves at zero
/// (see TileListKernel.cpp).
constexpr int64_t kCountSlot = 0, kClaimSlot = 1, kDoneSlot = 2,
                  kCountSlots = 3;

class KernelBuilder {
public:
  explicit KernelBuilder(ImplicitLocOpBuilder &b) : b(b) {}

  ImplicitLocOpBuilder &b;

  Value idx(int64_t v) { return arith::ConstantIndexOp::create(b, v); }
  Value add(Value x, Value y) { return arith::AddIOp::create(b, x, y); }
  Value add(Value x, int64_t y) { return y ? add(x, idx(y)) : x; }
  Value sub(Value x, int64_t y) { return y ? arith::SubIOp::create(b, x, idx(y)) : x; }
  Value mul(Value x, int64_t y) { return y == 1 ? x : arith::MulIOp::create(b, x, idx(y)).getResult(); }
  Value mul(Value x, Value y) { return arith::MulIOp::create(b, x, y); }
  Value div(Value x, int64_t y) { return y == 1 ? x : arith::DivUIOp::create(b, x, idx(y)).getResult(); }
  Value rem(Value x, int64_t y) { return arith::RemUIOp::create(b, x, idx(y)); }
  Value cmp(arith::CmpIPredicate p, Value x, Value y) {
    return arith::CmpIOp::create(b, p, x, y);
  }
  Value slt(Value x, int64_t y) { return cmp(arith::CmpIPredicate::slt, x, idx(y)); }
  Value sge(Value x, int64_t y) { return cmp(arith::CmpIPredicate::sge, x, idx(y)); }
  Value land(Value x, Value y) { return x ? (y ? arith::AndIOp::create(b, x, y).getResult() : x) : y; }
  Value select(Value c, Value x, Value y) { return arith::SelectOp::create(b, c, x, y); }
  /// `x` in [0, bound), for a possibly negative signed index.
  Value inRange(Value x, int64_t bound) { return land(sge(x, 0), slt(x, bound)); }
  Value toIndex(Value i32) { return arith::IndexCastOp::create(b, b.getIndexType(), i32); }

  /// `buffer[valid ? index : 0]`, or 0 where invalid: reads that never touch
  /// memory outside the buffer and need no branch (phantom reads). A vector
  /// load assumes its own alignment (see vectorAlignment): `index` must be a
  /// multiple of `width`.
  Value loadOrZero(Value buffer, Value index, Value valid, int64_t width = 1) {
    Value safe = valid ? select(valid, index, idx(0)) : index;
    auto type = cast<MemRefType>(buffer.getType());
    Type elem = type.getElementType();
    Value v, zero;
    if (width == 1) {
      v = memref::LoadOp::create(b, buffer, ValueRange{safe});
      zero = arith::ConstantOp::create(b, b.getZeroAttr(elem));
    } else {
      auto vt = VectorType::get({width}, elem);
      v = vector::LoadOp::create(b, vt, buffer, ValueRange{safe},
                                 /*nontemporal=*/false,
                                 vectorAlignment(vt));
      zero = arith::ConstantOp::create(b, b.getZeroAttr(vt));
    }
    if (!valid)
      return v;
    // SPIR-V before 1.4 selects vectors only with a vector of conditions.
    if (auto vt = dyn_cast<VectorType>(v.getType()))
      valid = vector::BroadcastOp::create(
          b, VectorType::get(vt.getShape(), b.getI1Type()), valid);
    return select(valid, v, zero);
  }
  /// `width` consecutive elements at `buffer[index]` (index a multiple of
  /// `width`) as one vector.
  Value loadVector(Value buffer, Value index, int64_t width) {
    auto vt = VectorType::get(
        {width}, cast<MemRefType>(buffer.getType()).getElementType());
    return vector::LoadOp::create(b, vt, buffer, ValueRange{index},
                                  /*nontemporal=*/false, vectorAlignment(vt));
  }
  Value extract(Value vector, int64_t i) {
    return vector::ExtractOp::create(b, vector, ArrayRef<int64_t>{i});
  }
  void store(Value v, Value buffer, Value index) {
    if (auto vt = dyn_cast<VectorType>(v.getType()))
      vector::StoreOp::create(b, v, buffer, ValueRange{index},
                              /*nontemporal=*/false, vectorAlignment(vt));
    else
      memref::StoreOp::create(b, v, buffer, ValueRange{index});
  }
  /// Vector accesses are aligned to their whole size: the templates only
  /// issue them at multiples of the width, and every kernel buffer is a
  /// device allocation of its own (aligned to at least 128 bytes). Without
  /// this the backends must assume element alignment and split them into
  /// scalar accesses.
  static llvm::MaybeAlign vectorAlignment(VectorType vt) {
    return llvm::Align(vt.getNumElements() *
                       vt.getElementType().getIntOrFloatBitWidth() / 8);
  }
  /// Non-zero test of a mask element of any type.
  Value isNonZero(Value v) {
    Type t = v.getType();
    Value zero = arith::ConstantOp::create(b, b.getZeroAttr(t));
    if (isa<FloatType>(t))
      return arith::CmpFOp::create(b, arith::CmpFPredicate::UNE, v, zero);
    return arith::CmpIOp::create(b, arith::CmpIPredicate::ne, v, zero);
  }
};

/// Memref type of a flat global buffer of `numElements` of `elem`.
inline MemRefType getFlatType(int64_t numElements, Type elem) {
  return MemRefType::get({numElements}, elem);
}

/// The element type a mask tensor has on the device: masks of i1 travel as
/// bytes.
inline Type getDeviceMaskElementType(Type elem) {
  if (elem.isInteger(1))
    return IntegerType::get(elem.getContext(), 8);
  return elem;
}

/// The widest of `maxWidth`, maxWidth / 2, ..., 1 that divides every one of
/// `extents`: a vector access that never straddles a row or a block (the
/// cost model's profiles use the same rule, CostModel.h).
inline int64_t getWidestDividing(int64_t maxWidth,
                                 std::initializer_list<int64_t> extents) {
  int64_t w = maxWidth;
  while (w > 1 && llvm::any_of(extents, [&](int64_t e) { return e % w; }))
    w /= 2;
  return w;
}

/// A flat workgroup buffer of `numElements` of `elem`.
inline MemRefType getWorkgroupType(int64_t numElements, Type elem) {
  return MemRefType::get({numElements}, elem, AffineMap(),
                         IntegerAttr::get(IntegerType::get(elem.getContext(), 64),
                                          kWorkgroupMemorySpace));
}

/// Creates a kernel `name` in `module` with flat buffer arguments, workgroup
/// buffers of `workgroupTypes`, a 1-D block of `threads`, and the launch and
/// role attributes. The builder is left at the start of its body, before the
/// gpu.return.
gpu::GPUFuncOp createKernel(OpBuilder &builder, gpu::GPUModuleOp module,
                            Location loc, StringRef name,
                            ArrayRef<Type> argTypes,
                            ArrayRef<std::string> argRoles,
                            ArrayRef<Type> workgroupTypes,
                            ArrayRef<int64_t> grid, int64_t threads);

/// Appends the arguments every variant kernel ends with, in the order the
/// dispatch terms index them: its DISTile list (`numTiles` ids) and count at
/// granularity `g`, then one count per role in `extraCountRoles` (the counts
/// of earlier variants at other granularities).
void appendTileListArgs(SmallVectorImpl<Type> &argTypes,
                        SmallVectorImpl<std::string> &roles, GranularityAttr g,
                        int64_t numTiles, ArrayRef<std::string> extraCountRoles);

/// The tile count a variant kernel walks: the count in kernel argument
/// `countArg`, or 0 where the `dispatch` terms say the dispatch table picks
/// another variant (device-side dispatch: every variant is launched, all but
/// one with an empty grid-stride loop). With `picked`, also whether the
/// table picks this variant (an i1).
Value buildDispatchedCount(KernelBuilder &k, gpu::GPUFuncOp fn,
                           unsigned countArg, ArrayRef<DispatchTerm> dispatch,
                           Value *picked = nullptr);

/// The most tiles a variant whose count is kernel argument `countArg` ever
/// computes: `numTiles`, or the top of its own range in `dispatch` (a grid
/// sized for more would launch blocks that never find work).
int64_t getMaxDispatchedTiles(ArrayRef<DispatchTerm> dispatch,
                              unsigned countArg, int64_t numTiles);

/// Block-wide inclusive Hillis-Steele scan of each thread's `value` (i32)
/// over the first `threads` slots of the workgroup buffer `scan`
/// (ceil(log2(threads)) steps between barriers). Returns this thread's
/// inclusive sum; slot threads - 1 holds the block's total.
Value buildBlockInclusiveScan(KernelBuilder &k, Value tid, int64_t threads,
                              Value scan, Value value);

/// The limits both templates' plans check on what a block stages per
/// reduction chunk: `sharedBytes` of static shared memory (at most 48 KiB: the
/// kernels do not opt in to more) and, with `doubleBuffer`, a thread's share
/// of the next chunk (`stagedFloats` over `threads`) held in registers next
/// to its `accumulators` (at most 160 together; past that the kernel would
/// spill). Reports a violation through `fail`, which starts the diagnostic.
LogicalResult checkStagingFits(function_ref<InFlightDiagnostic()> fail,
                               int64_t sharedBytes, bool doubleBuffer,
                               int64_t threads, ArrayRef<int64_t> stagedFloats,
                               int64_t accumulators);

/// One buffer staged into shared memory per reduction chunk: `groups`
/// vectors of `vw` elements from `src`, where `source(e, c0)` gives the
/// global index and validity of vector `e` of the chunk starting at
/// reduction offset `c0`.
struct Staging {
  int64_t groups, vw;
  Value src, dst;
  std::function<std::pair<Value, Value>(Value, Value)> source;
  /// Padded rows: with `rowGroups` > 0, every `rowGroups` vectors start a
  /// new row `rowPitch` floats after the last one (the tensor-core path pads
  /// rows so that a warp's fragment loads hit distinct banks). 0: packed,
  /// vector e at e * vw.
  int64_t rowGroups = 0, rowPitch = 0;

  /// Where vector `e` of a chunk goes in `dst` (floats from the copy's start).
  Value at(KernelBuilder &k, Value e) const {
    if (!rowGroups)
      return k.mul(e, vw);
    return k.add(k.mul(k.div(e, rowGroups), rowPitch),
                 k.mul(k.rem(e, rowGroups), vw));
  }
  /// Floats one staged copy of a chunk takes in `dst`.
  int64_t floats() const {
    return rowGroups ? groups / rowGroups * rowPitch : groups * vw;
  }
};

/// Copies chunk `c0` of `st` into shared memory, `threads` cooperating.
void stageChunk(KernelBuilder &k, Value tid, int64_t threads,
                const Staging &st, Value c0);

/// This thread's share of chunk `c0` of `st`, loaded into registers (vector
/// `tid + i * threads` for each i); where `live` is false nothing is read
/// and the values are 0. Loads carry no branch, so they are all in flight
/// together while the block computes on the previous chunk (double_buffer).
SmallVector<Value> fetchChunk(KernelBuilder &k, Value tid, int64_t threads,
                              const Staging &st, Value c0, Value live);

/// Stores what `fetchChunk` loaded into shared memory, at `base` (floats,
/// 0 when null) in `st.dst`.
void putChunk(KernelBuilder &k, Value tid, int64_t threads, const Staging &st,
              ArrayRef<Value> values, Value base = Value());

/// How a reduction overlaps staging a chunk with the arithmetic of another.
enum class StagingPipeline {
  /// Each chunk is copied global -> shared between two barriers, then
  /// computed: nothing overlaps.
  Direct,
  /// double_buffer: chunk c+1 is loaded into registers while chunk c is
  /// computed, and stored to shared memory between two barriers.
  Registers,
  /// Registers, plus two shared copies of every stage: chunk c+1 is stored
  /// into one while chunk c is computed from the other, so a chunk needs one
  /// barrier instead of two and no thread waits for the slowest thread's
  /// stores before computing. The stages' `dst` hold two chunks each.
  PingPong,
};

/// The reduction loop of both templates: chunks c0 = lo, lo + step, ... < hi,
/// staged through shared memory as `pipeline` says, then
/// `compute(acc, bases)` builds the chunk's arithmetic on the staged data
/// (stage i's chunk starts at float `bases[i]` of its `dst`) and returns the
/// new accumulators. Registers and PingPong fetch chunk lo before the loop,
/// so whatever the sources read must be ready there. Returns the
/// accumulators after the last chunk.
SmallVector<Value> buildStagedReduction(
    KernelBuilder &k, Value tid, int64_t threads, ArrayRef<Staging> stages,
    Value lo, Value hi, int64_t step, ArrayRef<Value> init,
    StagingPipeline pipeline,
    function_ref<SmallVector<Value>(ValueRange, ValueRange)> compute);

/// The pipeline a plan gets: Direct without `doubleBuffer`; PingPong where
/// `options` asks for two shared buffers and the block's `sharedBytes` plus a
/// second copy of `stagedFloats` still fit in 48 KiB; else Registers.
StagingPipeline chooseStagingPipeline(const KernelOptions &options,
                                      bool doubleBuffer, int64_t sharedBytes,
                                      ArrayRef<int64_t> stagedFloats);

/// The register tile's loop over one staged chunk, shared by both
/// templates: `count / unroll` iterations of `unroll` steps each, carrying
/// the accumulators `init`; `step(r, acc)` adds step r's products to `acc`.
/// Returns the accumulators after the chunk.
SmallVector<Value>
buildUnrolledSteps(KernelBuilder &k, int64_t count, int64_t unroll,
                   ValueRange init,
                   function_ref<void(Value, MutableArrayRef<Value>)> step);

/// `kWarp` threads share a pixel when zeroing masked-off outputs: a warp on
/// NVIDIA GPUs; elsewhere only a grouping of the threads. Each such group
/// takes `kPixelsPerStep` consecutive pixels per step and issues their mask
/// loads before any store, so one load latency covers the step.
constexpr int64_t kWarp = 32, kPixelsPerStep = 8;

/// Who zeroes which masked-off outputs: pixels [lo, hi) of the pixel grid
/// (row-major over batch and output rows and columns), channels [c0, c0 +
/// channels) of each (clipped to Cout), by groups `warp` of `warps` (a
/// grid-stride loop over steps of kPixelsPerStep pixels), lane `lane` of
/// each group taking every `lanes`-th channel vector.
struct ZeroShare {
  Value lo, hi, warp, warps, lane, c0;
  int64_t channels;
  /// Threads of a group (kWarp, or fewer in a smaller block).
  int64_t lanes = kWarp;
};

/// Writes zeros to `output` (NHWC, `co` channels) at the pixels of `share`
/// whose mask element is zero: the variants' own mask test negated, so the
/// zeros and the variants' stores never touch the same element
/// (FillKernel.cpp). `space` is the op's tile space at granularity 1x1.
void buildZeroMaskedOff(KernelBuilder &k, const TileSpace &space, Value mask,
                        Value output, int64_t co, const ZeroShare &share);

/// acc[i * w.size() + j] += x[i] * w[j], contractable into FMAs.
void accumulateOuterProduct(KernelBuilder &k, ArrayRef<Value> x,
                            ArrayRef<Value> w, MutableArrayRef<Value> acc);

} // namespace spsparse
} // namespace mlir

#endif // DYNASPA_LIB_CONVERSION_SPSPARSETOGPU_KERNELBUILDER_H
