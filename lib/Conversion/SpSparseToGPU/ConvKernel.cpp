//===- ConvKernel.cpp - the masked convolution kernel template ------------===//
//
// Part of the dynaspa project.
//
//===----------------------------------------------------------------------===//
//
// One PolyKernel variant of `spsparse.masked_conv2d` (NHWC / HWCF) as a GPU
// kernel, an implicit GEMM over the active DISTiles: M = the pixels of
// `tiles_per_block` tiles, N = a `channel_block` slice of the output channels
// (blockIdx.y), K = kh * kw * Cin, of which blockIdx.z owns a `split_k`
// slice. Blocks walk the DISTile list grid-stride (blockIdx.x), so the launch
// is fixed and the tile count never reaches the host. With `min_blocks` the
// split is adaptive: the kernel reads the active tile count and splits into
// as few slices (at most `split_k`) as make `min_blocks` blocks of work; the
// (group, slice) pairs are then what blockIdx.x walks. With `compact` the
// grid is 1-D instead, over this run's (group, channel block, slice) items,
// so a sparse mask's blocks with work are the first launched (NOTES.md entry
// 26). For one group of tiles:
//
//   decode the group's tiles once into shared memory (batch, window origin);
//   for each chunk of `reduction_block` input channels in this block's slice:
//     stage every tile's input window (rows/cols: (g-1)*stride+(k-1)*dil+1)
//     and the filter block [kh][kw][chunk][channel_block] in shared memory,
//     straight from global memory (no gather into a dense copy); positions
//     outside the input, and tiles past the end of the list, read as 0
//     without touching memory (phantom reads);
//     every thread accumulates its register tile of `thread_pixels` pixels x
//     `thread_channels` channels from shared memory;
//   write the register tile where the output exists and the mask is set
//   (phantom writes and masked-off pixels are skipped: their zeros come from
//   a zero fill or fill kernel, or from the grid's first blocks with
//   ConvZeros::Variants), atomically when the reduction is split.
//
// A thread's channels come in runs of up to 4 consecutive channels, one run
// per group of `channel_block / thread_channels * run` channels: lanes of a
// warp take consecutive runs, so each filter read from shared memory is one
// conflict-free vector load per run and output stores coalesce. The threads
// sharing a pixel read the same input word (a broadcast).
//
// With `tf32` the staging stays and the arithmetic moves to the tensor cores
// (buildMmaSteps): the warps tile pixels x channels in m16n8k8 fragments
// loaded from padded shared rows, and a thread's accumulators are its
// fragments' elements, written back in the fragments' layout.
//
//===----------------------------------------------------------------------===//

#include "KernelBuilder.h"
#include "TileSpace.h"

#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/NVGPU/IR/NVGPUDialect.h"

#include <limits>

using namespace mlir;
using namespace mlir::spsparse;

namespace {

struct ConvShape {
  int64_t n, h, w, ci, kh, kw, co, ho, wo;
  int64_t sh, sw, dh, dw, padTop, padLeft;
};

/// The knobs of a schedule checked against one shape and granularity.
struct ConvPlan {
  int64_t gh, gw, tilePixels; // DISTile
  int64_t tpb, pixels;        // tiles per block, pixels per block
  int64_t cb, rb;             // channel / reduction blocks
  int64_t threads, tc, tp, vw; // thread tile, global vector width
  int64_t unroll, splitK;
  int64_t minBlocks; // adaptive split: blocks of work to aim for (0: off)
  int64_t chunks;    // reduction chunks of `rb` channels in Cin
  bool doubleBuffer; // prefetch the next chunk into registers
  StagingPipeline pipeline; // how staging overlaps the arithmetic
  int64_t copies;           // shared copies of a chunk (2: ping-pong)
  int64_t channelGroups; // threads along channels: cb / tc
  int64_t pixelGroups;   // threads along pixels: pixels / tp
  int64_t run;           // consecutive channels of a thread (shared vector)
  int64_t ih, iw, window; // staged input window of one tile (floats)
  int64_t inPitch, wPitch; // staged floats per input pixel / filter row
  bool tf32;               // tensor cores: warps multiply 16x8x8 fragments
  bool compact;            // a 1-D grid over this run's work items
  int64_t warpsM, warpsN;  // tf32: the warps' grid over pixels x channels
  int64_t fragM, fragN;    // tf32: 16x8 fragments of one warp's tile
  int64_t chunksPerSplit; // reduction chunks of one static slice
  int64_t inputFloats, filterFloats;
};

/// Per tile of a block, the decoded tile in shared memory: batch (-1 for a
/// phantom tile past the end of the list), output origin, input origin.
enum TileField : int64_t { kBatch, kOutRow, kOutCol, kInRow, kInCol, kFields };

/// The i32 counter at which the slices of a split reduction meet (one per
/// tile group and channel block, with ConvZeros::Variants): bits 0-11 count
/// arrivals, bit 12 says the first to arrive has stored its sums, bits 16-31
/// count slices done; the last one done resets it to zero for the next run.
constexpr int64_t kMaxArrivals = (1 << 12) - 1, kStored = 1 << 12,
                  kDoneShift = 16, kDoneOne = 1 << kDoneShift;

/// The tensor-core layout of a tf32 plan: the warps' grid over the block's
/// pixels x channel_block in m16n8k8 fragments, and padded shared rows.
LogicalResult planTensorCores(ConvPlan &p,
                              function_ref<InFlightDiagnostic()> fail) {
  if (p.pixels % 16)
    return fail() << "tf32 needs the block's pixels (tiles_per_block x "
                     "DISTile = "
                  << p.pixels << ") to be a multiple of 16 (a fragment's rows)";
  if ((p.rb / 8) % p.unroll)
    return fail() << "with tf32, unroll must divide reduction_block / 8 (it "
                     "counts steps of 8 channels)";
  // Of the warp grids that divide the fragments evenly, the one with the
  // fewest shared loads per step: a warp loads 4 floats per thread for each
  // of its fragM A fragments and 2 for each of its fragN B fragments.
  int64_t warps = p.threads / 32, rows = p.pixels / 16, cols = p.cb / 8;
  int64_t best = -1;
  for (int64_t wm = 1; wm <= warps; ++wm) {
    if (warps % wm || rows % wm || cols % (warps / wm))
      continue;
    int64_t loads = 4 * (rows / wm) + 2 * (cols / (warps / wm));
    if (best < 0 || loads < best) {
      best = loads;
      p.warpsM = wm;
      p.warpsN = warps / wm;
    }
  }
  if (best < 0)
    return fail() << "tf32: the block's " << rows << " x " << cols
                  << " fragments (16 pixels x 8 channels) do not split evenly "
                     "over its "
                  << warps << " warps";
  p.fragM = rows / p.warpsM;
  p.fragN = cols / p.warpsN;
  // Bank-conflict-free fragment loads. An A fragment's lanes read 8 pixels
  // (lane / 4) at 4 channels (lane % 4): a pixel pitch of 4 (mod 8) floats
  // puts the 32 reads in 32 banks (for pixels one stride apart). A B
  // fragment's lanes read 4 reduction rows at 8 consecutive channels: a row
  // pitch of 8 or 24 (mod 32) does the same. Both stay multiples of 4, so
  // the staging's vector stores stay aligned.
  p.inPitch = p.rb + 4;
  p.wPitch = p.cb;
  while (p.wPitch % 32 != 8 && p.wPitch % 32 != 24)
    p.wPitch += 8;
  return success();
}

FailureOr<ConvPlan> planConv(MaskedConv2DOp op, const ConvShape &s,
                             const TileSpace &space, ScheduleAttr schedule,
                             const KernelOptions &options) {
  ConvPlan p;
  p.gh = space.sizes[0];
  p.gw = space.sizes[1];
  p.tilePixels = p.gh * p.gw;
  p.tpb = schedule.getTilesPerBlock();
  p.pixels = p.tpb * p.tilePixels;
  p.cb = schedule.getChannelBlock();
  p.rb = schedule.getReductionBlock();
  p.threads = schedule.getThreads();
  p.tc = schedule.getThreadChannels();
  p.tp = schedule.getThreadPixels();
  p.vw = schedule.getVectorWidth();
  p.unroll = schedule.getUnroll();
  p.splitK = schedule.getSplitK();
  p.minBlocks = schedule.getMinBlocks();
  auto fail = [&]() {
    return op->emitOpError() << "schedule " << schedule << " at granularity ["
                             << p.gh << ", " << p.gw << "]: ";
  };
  if (p.cb % p.tc || p.pixels % p.tp)
    return fail() << "thread_channels must divide channel_block and "
                     "thread_pixels the block's "
                  << p.pixels << " pixels (tiles_per_block x DISTile)";
  p.channelGroups = p.cb / p.tc;
  p.pixelGroups = p.pixels / p.tp;
  if (p.threads != p.channelGroups * p.pixelGroups)
    return fail() << "threads must be (channel_block / thread_channels) * "
                     "(tiles_per_block * pixels / thread_pixels) = "
                  << p.channelGroups * p.pixelGroups;
  if (p.threads > 1024)
    return fail() << "more than 1024 threads per block";
  if (p.tpb > p.threads)
    return fail() << "tiles_per_block must not exceed threads";
  if (p.vw != 1 && p.vw != 2 && p.vw != 4)
    return fail() << "vector_width must be 1, 2 or 4";
  if (s.ci % p.vw || p.rb % p.vw || s.co % p.vw || p.cb % p.vw)
    return fail() << "vector_width " << p.vw
                  << " must divide Cin, Cout, channel_block and "
                     "reduction_block";
  if (p.rb % p.unroll)
    return fail() << "unroll must divide reduction_block";
  p.doubleBuffer = schedule.getDoubleBuffer();
  p.chunks = llvm::divideCeil(s.ci, p.rb);
  if (p.splitK > p.chunks)
    return fail() << "split_k must not exceed the " << p.chunks
                  << " reduction blocks of Cin";
  if (p.splitK > kMaxArrivals)
    return fail() << "split_k must be at most " << kMaxArrivals;
  p.chunksPerSplit = llvm::divideCeil(p.chunks, p.splitK);
  // Runs of 4 (or 2) channels let a thread read its filters with one vector
  // load per run; the output store then also needs Cout to be a multiple.
  p.run = getWidestDividing(4, {p.tc, s.co});
  p.tf32 = schedule.getTf32();
  p.compact = schedule.getCompact();
  p.inPitch = p.rb;
  p.wPitch = p.cb;
  if (p.tf32 && failed(planTensorCores(p, fail)))
    return failure();
  p.ih = (p.gh - 1) * s.sh + (s.kh - 1) * s.dh + 1;
  p.iw = (p.gw - 1) * s.sw + (s.kw - 1) * s.dw + 1;
  p.window = p.ih * p.iw * p.inPitch;
  p.inputFloats = p.tpb * p.window;
  p.filterFloats = s.kh * s.kw * p.rb * p.wPitch;
  int64_t bytes = 4 * (p.inputFloats + p.filterFloats + kFields * p.tpb);
  if (failed(checkStagingFits(fail, bytes, p.doubleBuffer, p.threads,
                              {p.inputFloats, p.filterFloats}, p.tp * p.tc)))
    return failure();
  p.pipeline = chooseStagingPipeline(options, p.doubleBuffer, bytes,
                                     {p.inputFloats, p.filterFloats});
  p.copies = p.pipeline == StagingPipeline::PingPong ? 2 : 1;
  return p;
}

} // namespace

/// One staged chunk on the tensor cores (tf32): rb / 8 steps of 8 channels,
/// `unroll` per iteration; at each step and filter tap every warp loads its
/// A fragments (pixels x channels, from the staged input windows at
/// `pixAt`) and B fragments (channels x output channels, from the staged
/// filters at `wBase`) and issues fragM x fragN m16n8k8 mmas. The layouts
/// are PTX's for mma.m16n8k8 .tf32: A element (row, col) of lane l is at
/// row l / 4 (+8), col l % 4 (+4); B's at row l % 4 (+4), col l / 4; the
/// result's at row l / 4 (+8), cols 2 (l % 4) and 2 (l % 4) + 1.
static SmallVector<Value> buildMmaSteps(KernelBuilder &k, const ConvShape &s,
                                        const ConvPlan &p, Value sIn, Value sW,
                                        ArrayRef<Value> pixAt, Value wBase,
                                        Value warpCh, Value lane, Value quad,
                                        ValueRange carried) {
  ImplicitLocOpBuilder &b = k.b;
  Type f32 = b.getF32Type();
  auto aType = VectorType::get({4, 1}, f32),
       bType = VectorType::get({2, 1}, f32),
       cType = VectorType::get({2, 2}, f32);
  // Lane-dependent parts of the fragment addresses, fixed over the chunk.
  SmallVector<Value> aAt, bAt;
  for (Value at : pixAt)
    aAt.push_back(k.add(at, quad));
  for (int64_t j = 0; j < p.fragN; ++j)
    bAt.push_back(k.add(k.add(wBase, k.mul(quad, p.wPitch)),
                        k.add(k.add(warpCh, lane), j * 8)));
  auto load = [&](Value buffer, Value index) -> Value {
    return memref::LoadOp::create(b, buffer, ValueRange{index});
  };
  auto fragment = [&](VectorType type, ArrayRef<Value> elements) {
    Value v = arith::ConstantOp::create(b, b.getZeroAttr(type));
    for (auto [i, e] : llvm::enumerate(elements))
      v = vector::InsertOp::create(
          b, e, v,
          ArrayRef<int64_t>{static_cast<int64_t>(i) / type.getDimSize(1),
                            static_cast<int64_t>(i) % type.getDimSize(1)});
    return v;
  };
  // Accumulator (fragment i, j; row half h; column e), as the write-back
  // orders them.
  auto accIndex = [&](int64_t i, int64_t j, int64_t h, int64_t e) {
    return ((i * 2 + h) * p.fragN + j) * 2 + e;
  };
  return buildUnrolledSteps(
      k, p.rb / 8, p.unroll, carried,
      [&](Value step, MutableArrayRef<Value> acc) {
        Value r = k.mul(step, 8);
        for (int64_t kh = 0; kh < s.kh; ++kh) {
          for (int64_t kw = 0; kw < s.kw; ++kw) {
            int64_t winOff = (kh * s.dh * p.iw + kw * s.dw) * p.inPitch;
            Value aOff = k.add(r, winOff);
            Value bOff =
                k.add(k.mul(r, p.wPitch), (kh * s.kw + kw) * p.rb * p.wPitch);
            SmallVector<Value> aFrag, bFrag;
            for (int64_t i = 0; i < p.fragM; ++i) {
              Value top = k.add(aAt[2 * i], aOff),
                    bottom = k.add(aAt[2 * i + 1], aOff);
              aFrag.push_back(
                  fragment(aType, {load(sIn, top), load(sIn, bottom),
                                   load(sIn, k.add(top, 4)),
                                   load(sIn, k.add(bottom, 4))}));
            }
            for (int64_t j = 0; j < p.fragN; ++j) {
              Value at = k.add(bAt[j], bOff);
              bFrag.push_back(fragment(
                  bType, {load(sW, at), load(sW, k.add(at, 4 * p.wPitch))}));
            }
            for (int64_t i = 0; i < p.fragM; ++i) {
              for (int64_t j = 0; j < p.fragN; ++j) {
                Value c = fragment(cType, {acc[accIndex(i, j, 0, 0)],
                                           acc[accIndex(i, j, 0, 1)],
                                           acc[accIndex(i, j, 1, 0)],
                                           acc[accIndex(i, j, 1, 1)]});
                Value d = nvgpu::MmaSyncOp::create(b, aFrag[i], bFrag[j], c,
                                                   ArrayRef<int64_t>{16, 8, 8},
                                                   /*tf32Enabled=*/true);
                for (int64_t h = 0; h < 2; ++h)
                  for (int64_t e = 0; e < 2; ++e)
                    acc[accIndex(i, j, h, e)] = vector::ExtractOp::create(
                        b, d, ArrayRef<int64_t>{h, e});
              }
            }
          }
        }
      });
}

/// The zeros of the masked-off pixels (ConvZeros::Variants), written by the
/// first `zeroBlocks` blocks along x of the variant the dispatch table picks
/// (of the 3-D grid, those of the first channel block and slice), each a
/// contiguous run of pixels in every channel, while the blocks after them
/// compute. The stores then drain beside the arithmetic instead of in a zero
/// fill before the op. Measured on the H100 (NOTES.md entries 24 and 30):
/// each block zeroing a share before its own tiles stored with the whole
/// wave at once, as slow as the zero fill; a step of the share per
/// reduction chunk cost the arithmetic 8% even where it stored nothing.
static void buildZeroBlock(KernelBuilder &k, const ConvShape &s,
                           const ConvPlan &p, const TileSpace &space,
                           Value mask, Value output, Value picked, Value tid,
                           int64_t zeroBlocks, ArrayRef<int64_t> grid) {
  ImplicitLocOpBuilder &b = k.b;
  Value bx = gpu::BlockIdOp::create(b, gpu::Dimension::x);
  Value mine =
      k.land(picked, k.cmp(arith::CmpIPredicate::ult, bx, k.idx(zeroBlocks)));
  const gpu::Dimension dims[] = {gpu::Dimension::y, gpu::Dimension::z};
  for (auto [extent, d] : llvm::zip(grid.drop_front(), dims))
    if (extent > 1)
      mine = k.land(mine, k.cmp(arith::CmpIPredicate::eq,
                                gpu::BlockIdOp::create(b, d), k.idx(0)));
  auto ifMine = scf::IfOp::create(b, mine, /*withElse=*/false);
  OpBuilder::InsertionGuard guard(b);
  b.setInsertionPointToStart(ifMine.thenBlock());
  int64_t pixels = s.n * s.ho * s.wo;
  int64_t per = llvm::divideCeil(pixels, zeroBlocks);
  ZeroShare share;
  share.lo = arith::MinUIOp::create(b, k.mul(bx, per), k.idx(pixels));
  share.hi = arith::MinUIOp::create(b, k.add(share.lo, per), k.idx(pixels));
  share.lanes = p.threads % kWarp == 0 ? kWarp : p.threads;
  share.warp = k.div(tid, share.lanes);
  share.warps = k.idx(p.threads / share.lanes);
  share.lane = k.rem(tid, share.lanes);
  share.c0 = k.idx(0);
  share.channels = s.co;
  buildZeroMaskedOff(k, space, mask, output, s.co, share);
}

/// The slices of a split reduction meet at `counter[slot]` instead of
/// adding into a zero-filled output. Where `meeting` (uniform over the
/// block), thread 0 arrives: the first slice to arrive stores its sums, the
/// others wait there until it has, then add theirs atomically (a spin on a
/// block that has already arrived, so it cannot wait on an unscheduled one).
/// Not meeting (an adaptive split of one slice), the block stores. Returns
/// whether this block stores, for every thread (through `flags[flagAt]`).
static Value buildArrival(KernelBuilder &k, Value tid, Value counter,
                          Value slot, Value meeting, Value flags,
                          int64_t flagAt) {
  ImplicitLocOpBuilder &b = k.b;
  Type i1 = b.getI1Type(), i32 = b.getI32Type();
  auto int32 = [&](int64_t v) -> Value {
    return arith::ConstantIntOp::create(b, v, 32);
  };
  auto atomic = [&](arith::AtomicRMWKind kind, int64_t v) -> Value {
    return memref::AtomicRMWOp::create(b, kind, int32(v), counter,
                                       ValueRange{slot});
  };
  auto ifLeader = scf::IfOp::create(
      b, k.cmp(arith::CmpIPredicate::eq, tid, k.idx(0)), /*withElse=*/false);
  {
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPointToStart(ifLeader.thenBlock());
    auto ifMeet = scf::IfOp::create(b, TypeRange{i1}, meeting,
                                    /*withElse=*/true);
    b.setInsertionPointToStart(ifMeet.thenBlock());
    Value old = atomic(arith::AtomicRMWKind::addi, 1);
    Value first = arith::CmpIOp::create(
        b, arith::CmpIPredicate::eq,
        arith::AndIOp::create(b, old, int32(kMaxArrivals)), int32(0));
    auto ifWait = scf::IfOp::create(
        b,
        arith::XOrIOp::create(b, first, arith::ConstantIntOp::create(b, 1, 1)),
        /*withElse=*/false);
    {
      OpBuilder::InsertionGuard inner(b);
      b.setInsertionPointToStart(ifWait.thenBlock());
      // An atomic read (or with 0) until the first slice's stored bit is set.
      scf::WhileOp::create(
          b, TypeRange{}, ValueRange{},
          [&](OpBuilder &at, Location, ValueRange) {
            OpBuilder::InsertionGuard region(b);
            b.setInsertionPoint(at.getInsertionBlock(), at.getInsertionPoint());
            Value now = atomic(arith::AtomicRMWKind::ori, 0);
            Value stored = arith::AndIOp::create(b, now, int32(kStored));
            scf::ConditionOp::create(
                b,
                arith::CmpIOp::create(b, arith::CmpIPredicate::eq, stored,
                                      int32(0)),
                ValueRange{});
          },
          [&](OpBuilder &at, Location loc, ValueRange) {
            scf::YieldOp::create(at, loc);
          });
      // The atomics are relaxed on the GPU (NVPTX emits plain `atom`
      // whatever the ordering): the fence orders this block's adds after
      // the first slice's stores (paired with buildDeparture's).
      LLVM::FenceOp::create(b, LLVM::AtomicOrdering::acq_rel, "device");
    }
    scf::YieldOp::create(b, first);
    b.setInsertionPointToStart(ifMeet.elseBlock());
    scf::YieldOp::create(b, ValueRange{arith::ConstantIntOp::create(b, 1, 1)});
    b.setInsertionPointAfter(ifMeet);
    memref::StoreOp::create(b,
                            arith::ExtUIOp::create(b, i32, ifMeet.getResult(0)),
                            flags, ValueRange{k.idx(flagAt)});
  }
  gpu::BarrierOp::create(b);
  return k.isNonZero(
      memref::LoadOp::create(b, flags, ValueRange{k.idx(flagAt)}));
}

/// After a meeting block's writes: thread 0 (once every thread's stores are
/// done) marks the slice done, and the first slice's sums stored (a
/// release: the waiting slices' adds come after them); the last of the
/// `arrivals` slices resets the counter for the next run.
static void buildDeparture(KernelBuilder &k, Value tid, Value counter,
                           Value slot, Value meeting, Value storeSums,
                           Value arrivals) {
  ImplicitLocOpBuilder &b = k.b;
  auto int32 = [&](int64_t v) -> Value {
    return arith::ConstantIntOp::create(b, v, 32);
  };
  gpu::BarrierOp::create(b);
  Value leader =
      k.land(meeting, k.cmp(arith::CmpIPredicate::eq, tid, k.idx(0)));
  auto ifLeader = scf::IfOp::create(b, leader, /*withElse=*/false);
  OpBuilder::InsertionGuard guard(b);
  b.setInsertionPointToStart(ifLeader.thenBlock());
  // Release: every thread's stores (before the barrier) come before the
  // stored bit (paired with the waiters' fence in buildArrival).
  LLVM::FenceOp::create(b, LLVM::AtomicOrdering::acq_rel, "device");
  Value step = k.select(storeSums, int32(kStored + kDoneOne), int32(kDoneOne));
  Value old = memref::AtomicRMWOp::create(b, arith::AtomicRMWKind::addi, step,
                                          counter, ValueRange{slot});
  Value done = arith::ShRUIOp::create(b, old, int32(kDoneShift));
  Value last = arith::CmpIOp::create(b, arith::CmpIPredicate::eq,
                                     k.add(k.toIndex(done), 1), arrivals);
  auto ifLast = scf::IfOp::create(b, last, /*withElse=*/false);
  b.setInsertionPointToStart(ifLast.thenBlock());
  memref::AtomicRMWOp::create(b, arith::AtomicRMWKind::assign, int32(0),
                              counter, ValueRange{slot});
}

FailureOr<gpu::GPUFuncOp> mlir::spsparse::buildConvKernel(
    OpBuilder &builder, gpu::GPUModuleOp module, MaskedConv2DOp op,
    GranularityAttr g, ScheduleAttr schedule, StringRef name,
    ArrayRef<DispatchTerm> dispatch, ArrayRef<std::string> extraCountRoles,
    const KernelOptions &options) {
  if (op.getLayout() != Layout::nhwc)
    return op->emitOpError(
        "the GPU lowering handles NHWC/HWCF convolutions only");
  FailureOr<TileSpace> space = TileSpace::get(op, g);
  if (failed(space))
    return failure();
  auto inType = cast<RankedTensorType>(op.getInput().getType());
  auto fType = cast<RankedTensorType>(op.getFilter().getType());
  auto outType = cast<RankedTensorType>(op.getResult().getType());
  auto maskType = cast<RankedTensorType>(op.getMask().getType());
  if (!inType.getElementType().isF32() || !fType.getElementType().isF32() ||
      !outType.getElementType().isF32())
    return op->emitOpError("the GPU lowering handles f32 convolutions only");
  if (!inType.hasStaticShape() || !fType.hasStaticShape())
    return op->emitOpError("needs static shapes for the GPU lowering");
  ArrayRef<int64_t> strides = op.getStrides(), dil = op.getDilations(),
                    pad = op.getPadding();
  ConvShape s{inType.getDimSize(0), inType.getDimSize(1), inType.getDimSize(2),
              inType.getDimSize(3), fType.getDimSize(0),  fType.getDimSize(1),
              fType.getDimSize(3),  outType.getDimSize(1), outType.getDimSize(2),
              strides[0],           strides[1],           dil[0],
              dil[1],               pad[0],               pad[2]};
  FailureOr<ConvPlan> planOr = planConv(op, s, *space, schedule, options);
  if (failed(planOr))
    return failure();
  const ConvPlan &p = *planOr;

  MLIRContext *ctx = builder.getContext();
  Type f32 = Float32Type::get(ctx), i32 = IntegerType::get(ctx, 32);
  int64_t cap = space->getNumTiles();
  SmallVector<Type> argTypes = {
      getFlatType(inType.getNumElements(), f32),
      getFlatType(fType.getNumElements(), f32),
      getFlatType(maskType.getNumElements(),
                  getDeviceMaskElementType(maskType.getElementType()))};
  SmallVector<std::string> roles = {"input", "filter", "mask"};
  bool hasBias = static_cast<bool>(op.getBias());
  if (hasBias) {
    argTypes.push_back(getFlatType(s.co, f32));
    roles.push_back("bias");
  }
  argTypes.push_back(getFlatType(outType.getNumElements(), f32));
  roles.push_back("output");
  appendTileListArgs(argTypes, roles, g, cap, extraCountRoles);
  // The variant writes the zeros of the masked-off pixels itself; a split
  // reduction's slices then meet at a counter per (tile group, channel
  // block) instead of adding into a zero-filled output.
  bool writeZeros = options.zeros == ConvZeros::Variants;
  bool meet = writeZeros && p.splitK > 1;
  int64_t channelBlocks = llvm::divideCeil(s.co, p.cb);
  // Groups of the most tiles this variant computes (the top of its dispatch
  // range): blocks past them would only read the count and exit, holding SM
  // slots while they do (NOTES.md entry 25).
  int64_t maxGroups = llvm::divideCeil(
      getMaxDispatchedTiles(dispatch, roles.size() - extraCountRoles.size() - 1,
                            cap),
      p.tpb);
  if (meet) {
    argTypes.push_back(getFlatType(maxGroups * channelBlocks, i32));
    roles.push_back(("arrivals:" + name).str());
  }
  // By default one block per group of tiles of a full mask: the best
  // balance. The adaptive split's (group, slice) pairs need up to
  // ceil(min_blocks / channel blocks) blocks on a sparse mask, and never
  // more than the non-empty slices of split_k per group.
  int64_t gridX = maxGroups;
  if (p.minBlocks > 0)
    gridX = std::max(gridX,
                     std::min<int64_t>(
                         llvm::divideCeil(p.minBlocks, channelBlocks),
                         gridX * llvm::divideCeil(p.chunks, p.chunksPerSplit)));
  int64_t blocks =
      schedule.getBlocks() > 0 ? std::min(schedule.getBlocks(), gridX) : gridX;
  // A compact grid's items are decoded with 32-bit divisions.
  if (p.compact && maxGroups * channelBlocks * p.splitK >
                       std::numeric_limits<int32_t>::max())
    return op->emitOpError()
           << "compact: " << maxGroups << " tile groups x " << channelBlocks
           << " channel blocks x " << p.splitK
           << " slices are more work items than 32 bits count";
  int64_t slicesZ = p.minBlocks > 0 ? 1 : p.splitK;
  // No more zero blocks than steps of pixels to zero.
  int64_t zeroBlocks =
      writeZeros ? std::min<int64_t>(
                       options.zeroBlocks,
                       llvm::divideCeil(s.n * s.ho * s.wo, kPixelsPerStep))
                 : 0;
  SmallVector<int64_t, 3> grid = {zeroBlocks + blocks, channelBlocks, slicesZ};
  if (p.compact)
    grid = {zeroBlocks + blocks * channelBlocks * slicesZ};
  gpu::GPUFuncOp fn =
      createKernel(builder, module, op->getLoc(), name, argTypes, roles,
                   {getWorkgroupType(p.copies * p.inputFloats, f32),
                    getWorkgroupType(p.copies * p.filterFloats, f32),
                    getWorkgroupType(kFields * p.tpb + (meet ? 1 : 0), i32)},
                   grid, p.threads);
  if (writeZeros)
    fn->setAttr(SpSparseDialect::kWritesZerosAttrName, builder.getUnitAttr());

  ImplicitLocOpBuilder b(op->getLoc(), builder);
  b.setInsertionPointToStart(&fn.getBody().front());
  KernelBuilder k(b);
  unsigned arg = 0;
  Value input = fn.getArgument(arg++), filter = fn.getArgument(arg++),
        mask = fn.getArgument(arg++);
  Value bias = hasBias ? fn.getArgument(arg++) : Value();
  Value output = fn.getArgument(arg++);
  Value tiles = fn.getArgument(arg++);
  unsigned countArg = arg;
  // The last kernel argument (the workgroup buffers follow it).
  Value arrivals = meet ? fn.getArgument(argTypes.size() - 1) : Value();
  Value sIn = fn.getWorkgroupAttributions()[0];
  Value sW = fn.getWorkgroupAttributions()[1];
  Value sTile = fn.getWorkgroupAttributions()[2];

  // Device-side dispatch: this variant runs only if the table picks it;
  // otherwise its grid-stride loop is empty.
  Value picked;
  Value upper = buildDispatchedCount(k, fn, countArg, dispatch, &picked);
  Value numGroups = k.div(k.add(upper, p.tpb - 1), p.tpb);
  // The reduction's slices: split_k (blockIdx.z), or with min_blocks the
  // fewest (at most split_k) for which groups x channel blocks x slices
  // reaches min_blocks; blockIdx.x then walks (group, slice) pairs, slice
  // fastest, so the slices of one group run side by side.
  Value slices, numWork = numGroups, chunksPerSlice, split, manySlices;
  if (p.minBlocks == 0) {
    if (!p.compact)
      split = gpu::BlockIdOp::create(b, gpu::Dimension::z);
  } else {
    Value perSlice =
        k.mul(arith::MaxUIOp::create(b, numGroups, k.idx(1)), channelBlocks);
    Value want = arith::DivUIOp::create(b, k.add(perSlice, p.minBlocks - 1),
                                        perSlice); // ceil(min / per)
    slices = arith::MinUIOp::create(b, want, k.idx(p.splitK)); // want >= 1
    chunksPerSlice =
        arith::DivUIOp::create(b, k.add(slices, p.chunks - 1), slices);
    // No empty slices: 8 chunks in 6 slices are 4 slices of 2.
    slices = arith::DivUIOp::create(b, k.add(chunksPerSlice, p.chunks - 1),
                                    chunksPerSlice);
    numWork = k.mul(numGroups, slices);
    manySlices = k.cmp(arith::CmpIPredicate::ugt, slices, k.idx(1));
  }
  // A compact grid walks (group, channel block, slice) items; the 3-D
  // grid's channel block is blockIdx.y.
  Value channelBlock, co0;
  if (p.compact) {
    numWork =
        k.mul(numGroups, p.minBlocks > 0 ? k.mul(slices, channelBlocks)
                                         : k.idx(p.splitK * channelBlocks));
  } else {
    channelBlock = gpu::BlockIdOp::create(b, gpu::Dimension::y);
    co0 = k.mul(channelBlock, p.cb);
  }

  Value tid = gpu::ThreadIdOp::create(b, gpu::Dimension::x);
  Value cg = k.rem(tid, p.channelGroups);
  Value pg = k.div(tid, p.channelGroups);
  // This thread's pixels: tile of the group, (row, col) inside the tile, and
  // offset of its window in the staged input. Its channels are the runs
  // starting at (j * channelGroups + cg) * run.
  SmallVector<Value> pixTile, pixRow, pixCol, pixBase;
  auto addPixel = [&](Value pix) {
    Value local = k.rem(pix, p.tilePixels);
    pixTile.push_back(k.div(pix, p.tilePixels));
    pixRow.push_back(k.div(local, p.gw));
    pixCol.push_back(k.rem(local, p.gw));
    pixBase.push_back(k.add(k.mul(pixTile.back(), p.window),
                            k.mul(k.add(k.mul(k.mul(pixRow.back(), s.sh), p.iw),
                                        k.mul(pixCol.back(), s.sw)),
                                  p.inPitch)));
  };
  // The output runs of a thread's accumulators: `run` consecutive channels
  // from each offset, for each pixel above; accumulator
  // (pixel i, run j, element e) is sums[(i * runOff.size() + j) * run + e].
  SmallVector<Value> runOff;
  int64_t run = p.run;
  // tf32: this lane's place in the mma fragments (lane / 4 is a fragment's
  // row, lane % 4 its column pair), and its warp's corner of the block.
  Value lane, quad, warpPix, warpCh;
  if (!p.tf32) {
    for (int64_t i = 0; i < p.tp; ++i)
      addPixel(k.add(pg, i * p.pixelGroups));
    for (int64_t j = 0; j < p.tc / p.run; ++j)
      runOff.push_back(k.mul(k.add(cg, j * p.channelGroups), p.run));
  } else {
    Value warp = k.div(tid, 32);
    lane = k.div(k.rem(tid, 32), 4);
    quad = k.rem(tid, 4);
    warpPix = k.mul(k.rem(warp, p.warpsM), p.fragM * 16);
    warpCh = k.mul(k.div(warp, p.warpsM), p.fragN * 8);
    // Fragment i's rows lane and lane + 8: accumulators (i, 0, ...) and
    // (i, 1, ...) of the m16n8 result.
    for (int64_t i = 0; i < 2 * p.fragM; ++i)
      addPixel(k.add(k.add(warpPix, lane), (i / 2) * 16 + (i % 2) * 8));
    // Fragment j's columns 2 * quad and 2 * quad + 1: a run of two, or two
    // runs of one where Cout is odd.
    run = s.co % 2 ? 1 : 2;
    for (int64_t j = 0; j < p.fragN; ++j) {
      Value col = k.add(k.add(warpCh, k.mul(quad, 2)), j * 8);
      runOff.push_back(col);
      if (run == 1)
        runOff.push_back(k.add(col, 1));
    }
  }
  auto tileField = [&](Value t, int64_t field) {
    return k.toIndex(memref::LoadOp::create(
        b, sTile, ValueRange{k.add(k.mul(t, kFields), field)}));
  };

  // The blocks after the zero blocks walk the work items; the zero blocks
  // skip the loop.
  Value firstItem = gpu::BlockIdOp::create(b, gpu::Dimension::x);
  Value stride = gpu::GridDimOp::create(b, gpu::Dimension::x);
  if (zeroBlocks > 0) {
    buildZeroBlock(k, s, p, *space, mask, output, picked, tid, zeroBlocks,
                   grid);
    Value zeroing =
        k.cmp(arith::CmpIPredicate::ult, firstItem, k.idx(zeroBlocks));
    firstItem = k.select(zeroing, numWork, k.sub(firstItem, zeroBlocks));
    stride = k.sub(stride, zeroBlocks);
  }
  auto workLoop = scf::ForOp::create(b, firstItem, numWork, stride);
  b.setInsertionPointToStart(workLoop.getBody());
  Value group = workLoop.getInductionVar();
  if (p.compact) {
    // Slice fastest, group slowest: on a sparse mask the first blocks
    // launched are the ones with work. Divisions by run-time counts are
    // 32-bit (items number below 2^31): a 64-bit one is a call to a long
    // routine in SASS.
    auto divRem = [&](Value x, Value y) {
      Type i32 = b.getI32Type();
      Value x32 = arith::IndexCastUIOp::create(b, i32, x);
      Value y32 = arith::IndexCastUIOp::create(b, i32, y);
      Value quotient = k.toIndex(arith::DivUIOp::create(b, x32, y32));
      return std::make_pair(quotient,
                            k.toIndex(arith::RemUIOp::create(b, x32, y32)));
    };
    Value item = group, rest;
    if (p.minBlocks > 0) {
      std::tie(group, rest) = divRem(item, k.mul(slices, channelBlocks));
      std::tie(channelBlock, split) = divRem(rest, slices);
    } else {
      group = k.div(item, p.splitK * channelBlocks);
      rest = k.rem(item, p.splitK * channelBlocks);
      channelBlock = k.div(rest, p.splitK);
      split = k.rem(rest, p.splitK);
    }
    co0 = k.mul(channelBlock, p.cb);
  } else if (p.minBlocks > 0) {
    split = arith::RemUIOp::create(b, group, slices);
    group = arith::DivUIOp::create(b, group, slices);
  }
  // The previous group is done with the decoded tiles.
  gpu::BarrierOp::create(b);
  {
    auto decodeIf = scf::IfOp::create(b, k.slt(tid, p.tpb), false);
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPointToStart(decodeIf.thenBlock());
    Value listIndex = k.add(k.mul(group, p.tpb), tid);
    Value valid = k.cmp(arith::CmpIPredicate::slt, listIndex, upper);
    Value tile = k.toIndex(k.loadOrZero(tiles, listIndex, valid));
    Value n;
    SmallVector<Value, 2> origin;
    space->decode(k, tile, n, origin);
    Value fields[kFields] = {
        k.select(valid, n, arith::ConstantIndexOp::create(b, -1)), origin[0],
        origin[1], k.sub(k.mul(origin[0], s.sh), s.padTop),
        k.sub(k.mul(origin[1], s.sw), s.padLeft)};
    for (int64_t f = 0; f < kFields; ++f)
      memref::StoreOp::create(
          b, arith::IndexCastOp::create(b, i32, fields[f]), sTile,
          ValueRange{k.add(k.mul(tid, kFields), f)});
  }

  // This block's slice of the reduction: chunks [lo, hi) of `rb` channels.
  Value sliceWidth = p.minBlocks > 0 ? k.mul(chunksPerSlice, p.rb)
                                     : k.idx(p.chunksPerSplit * p.rb);
  Value kLo = k.mul(split, sliceWidth);
  Value kHi = arith::MinSIOp::create(b, k.add(kLo, sliceWidth), k.idx(s.ci));
  int64_t rbv = p.rb / p.vw;
  Staging inStage{
      p.tpb * p.ih * p.iw * rbv, p.vw, input, sIn, [&](Value e, Value c0) {
        Value r = k.mul(k.rem(e, rbv), p.vw);
        Value col = k.rem(k.div(e, rbv), p.iw);
        Value row = k.rem(k.div(e, rbv * p.iw), p.ih);
        Value t = k.div(e, rbv * p.iw * p.ih);
        Value n = tileField(t, kBatch);
        Value hIn = k.add(tileField(t, kInRow), row);
        Value wIn = k.add(tileField(t, kInCol), col);
        Value ci = k.add(c0, r);
        Value valid =
            k.land(k.land(k.sge(n, 0),
                          k.land(k.inRange(hIn, s.h), k.inRange(wIn, s.w))),
                   k.slt(ci, s.ci));
        Value index = k.add(
            k.mul(k.add(k.mul(k.add(k.mul(n, s.h), hIn), s.w), wIn), s.ci), ci);
        return std::make_pair(index, valid);
      }};
  int64_t cbv = p.cb / p.vw;
  Staging wStage{s.kh * s.kw * p.rb * cbv, p.vw, filter, sW,
                 [&](Value e, Value c0) {
                   Value c = k.mul(k.rem(e, cbv), p.vw);
                   Value r = k.rem(k.div(e, cbv), p.rb);
                   Value kk = k.div(e, cbv * p.rb);
                   Value co = k.add(co0, c), ci = k.add(c0, r);
                   Value valid = k.land(k.slt(co, s.co), k.slt(ci, s.ci));
                   Value index =
                       k.add(k.mul(k.add(k.mul(kk, s.ci), ci), s.co), co);
                   return std::make_pair(index, valid);
                 }};
  if (p.tf32) {
    inStage.rowGroups = rbv;
    inStage.rowPitch = p.inPitch;
    wStage.rowGroups = cbv;
    wStage.rowPitch = p.wPitch;
  }

  Value zero = arith::ConstantOp::create(b, b.getF32FloatAttr(0.0f));
  SmallVector<Value> init(p.tp * p.tc, zero);
  // The decoded tiles are visible before the first prefetch reads them.
  if (p.pipeline != StagingPipeline::Direct)
    gpu::BarrierOp::create(b);
  // One chunk's arithmetic on the staged data (stage copies at `bases`).
  auto computeChunk = [&](ValueRange carried,
                          ValueRange bases) -> SmallVector<Value> {
    SmallVector<Value> pixAt;
    for (Value base : pixBase)
      pixAt.push_back(k.add(bases[0], base));
    if (p.tf32)
      return buildMmaSteps(k, s, p, sIn, sW, pixAt, bases[1], warpCh, lane,
                           quad, carried);
    // The register tile: rb/unroll iterations of `unroll` channels each.
    return buildUnrolledSteps(
        k, p.rb, p.unroll, carried, [&](Value r, MutableArrayRef<Value> acc) {
          for (int64_t kh = 0; kh < s.kh; ++kh) {
            for (int64_t kw = 0; kw < s.kw; ++kw) {
              int64_t winOff = (kh * s.dh * p.iw + kw * s.dw) * p.inPitch;
              Value wRow = k.add(
                  bases[1], k.mul(k.add(r, (kh * s.kw + kw) * p.rb), p.wPitch));
              SmallVector<Value> x, w;
              for (int64_t i = 0; i < p.tp; ++i)
                x.push_back(memref::LoadOp::create(
                    b, sIn, ValueRange{k.add(k.add(pixAt[i], winOff), r)}));
              for (Value off : runOff) {
                Value index = k.add(wRow, off);
                if (p.run == 1) {
                  w.push_back(memref::LoadOp::create(b, sW, ValueRange{index}));
                  continue;
                }
                Value v = k.loadVector(sW, index, p.run);
                for (int64_t e = 0; e < p.run; ++e)
                  w.push_back(k.extract(v, e));
              }
              accumulateOuterProduct(k, x, w, acc);
            }
          }
        });
  };
  SmallVector<Value> sums =
      buildStagedReduction(k, tid, p.threads, {inStage, wStage}, kLo, kHi, p.rb,
                           init, p.pipeline, computeChunk);

  // Write the register tile where the output exists and the mask is set.
  // With a split reduction the partial sums add up atomically and the first
  // slice adds the bias.
  Value addBias = p.splitK > 1 ? k.cmp(arith::CmpIPredicate::eq, split,
                                       k.idx(0))
                               : Value();
  // With a split reduction, whether this block stores its sums rather than
  // adding them atomically: an adaptive split of one slice owns its outputs
  // (one vector store per run instead of `run` atomics: several % of a dense
  // layer), and so does the first slice of a group to arrive where the
  // slices meet.
  Value slot, meeting, storeSums;
  if (p.splitK > 1 && p.minBlocks > 0 && !meet)
    storeSums = arith::XOrIOp::create(b, manySlices,
                                      arith::ConstantIntOp::create(b, 1, 1));
  if (meet) {
    slot = k.add(k.mul(group, channelBlocks), channelBlock);
    meeting =
        p.minBlocks > 0 ? manySlices : arith::ConstantIntOp::create(b, 1, 1);
    storeSums =
        buildArrival(k, tid, arrivals, slot, meeting, sTile, kFields * p.tpb);
  }
  for (size_t i = 0; i < pixTile.size(); ++i) {
    Value n = tileField(pixTile[i], kBatch);
    Value oh = k.add(tileField(pixTile[i], kOutRow), pixRow[i]);
    Value ow = k.add(tileField(pixTile[i], kOutCol), pixCol[i]);
    Value inBounds = k.land(k.sge(n, 0), space->isInBounds(k, {oh, ow}));
    Value m = k.loadOrZero(mask, space->getMaskIndex(k, n, {oh, ow}), inBounds);
    Value pixelOn = k.land(inBounds, k.isNonZero(m));
    Value pixelIndex = k.add(k.mul(k.add(k.mul(n, s.ho), oh), s.wo), ow);
    for (auto [j, off] : llvm::enumerate(runOff)) {
      // Cout is a multiple of the run: a run is in range or not as a whole.
      Value co = k.add(co0, off);
      Value write = k.land(pixelOn, k.slt(co, s.co));
      auto ifWrite = scf::IfOp::create(b, write, /*withElse=*/false);
      OpBuilder::InsertionGuard guard(b);
      b.setInsertionPointToStart(ifWrite.thenBlock());
      Value dst = k.add(k.mul(pixelIndex, s.co), co);
      SmallVector<Value> vals;
      for (int64_t e = 0; e < run; ++e) {
        Value v = sums[(i * runOff.size() + j) * run + e];
        if (bias) {
          Value bv = memref::LoadOp::create(b, bias, ValueRange{k.add(co, e)});
          if (addBias)
            bv = k.select(addBias, bv, zero);
          v = arith::AddFOp::create(b, v, bv);
        }
        vals.push_back(v);
      }
      auto addAtomically = [&] {
        for (int64_t e = 0; e < run; ++e)
          memref::AtomicRMWOp::create(b, arith::AtomicRMWKind::addf, vals[e],
                                      output, ValueRange{k.add(dst, e)});
      };
      auto storeRun = [&] {
        if (run == 1)
          return k.store(vals[0], output, dst);
        k.store(vector::FromElementsOp::create(b, VectorType::get({run}, f32),
                                               vals),
                output, dst);
      };
      if (p.splitK == 1) {
        storeRun();
      } else if (!storeSums) {
        addAtomically();
      } else {
        auto ifStore = scf::IfOp::create(b, storeSums, /*withElse=*/true);
        OpBuilder::InsertionGuard g2(b);
        b.setInsertionPointToStart(ifStore.thenBlock());
        storeRun();
        b.setInsertionPointToStart(ifStore.elseBlock());
        addAtomically();
      }
    }
  }
  if (meet)
    buildDeparture(k, tid, arrivals, slot, meeting, storeSums,
                   p.minBlocks > 0 ? slices : k.idx(p.splitK));
  return fn;
}
