//===- KernelBuilder.cpp - shared parts of the kernel templates -----------===//
//
// Part of the dynaspa project.
//
//===----------------------------------------------------------------------===//

#include "KernelBuilder.h"

#include "mlir/Dialect/GPU/IR/GPUDialect.h"

using namespace mlir;
using namespace mlir::spsparse;

static std::string granularityString(GranularityAttr g) {
  std::string s;
  for (auto [i, size] : llvm::enumerate(g.getSizes()))
    s += (i ? "x" : "") + std::to_string(size);
  return s;
}

std::string mlir::spsparse::getTilesRole(GranularityAttr g) {
  return "tiles:" + granularityString(g);
}

std::string mlir::spsparse::getCountRole(GranularityAttr g) {
  return "count:" + granularityString(g);
}

gpu::GPUFuncOp mlir::spsparse::createKernel(
    OpBuilder &builder, gpu::GPUModuleOp module, Location loc, StringRef name,
    ArrayRef<Type> argTypes, ArrayRef<std::string> argRoles,
    ArrayRef<Type> workgroupTypes, ArrayRef<int64_t> grid, int64_t threads) {
  OpBuilder::InsertionGuard guard(builder);
  builder.setInsertionPointToEnd(module.getBody());
  MLIRContext *ctx = builder.getContext();
  // Kernel names become PTX and OpenCL identifiers ([A-Za-z0-9_$]); the
  // names they derive from are MLIR symbols, which may hold '.', ':' and
  // more (a function `@qk_d0.3` made ptxas fail).
  std::string identifier = name.str();
  for (char &c : identifier)
    if (!llvm::isAlnum(c) && c != '_' && c != '$')
      c = '_';
  auto fn = gpu::GPUFuncOp::create(builder, loc, identifier,
                                   FunctionType::get(ctx, argTypes, {}),
                                   workgroupTypes);
  fn->setAttr(gpu::GPUDialect::getKernelFuncAttrName(), UnitAttr::get(ctx));
  fn.setKnownBlockSizeAttr(
      DenseI32ArrayAttr::get(ctx, {static_cast<int32_t>(threads), 1, 1}));
  SmallVector<int64_t, 3> grid3(grid);
  grid3.resize(3, 1);
  fn->setAttr(SpSparseDialect::kLaunchAttrName,
              builder.getDictionaryAttr(
                  {builder.getNamedAttr("grid",
                                        builder.getDenseI64ArrayAttr(grid3)),
                   builder.getNamedAttr("block", builder.getDenseI64ArrayAttr(
                                                     {threads, 1, 1}))}));
  SmallVector<Attribute> roles;
  for (const std::string &role : argRoles)
    roles.push_back(builder.getStringAttr(role));
  fn->setAttr(SpSparseDialect::kArgsAttrName, builder.getArrayAttr(roles));
  builder.setInsertionPointToStart(&fn.getBody().front());
  gpu::ReturnOp::create(builder, loc);
  builder.setInsertionPointToStart(&fn.getBody().front());
  return fn;
}

void mlir::spsparse::appendTileListArgs(SmallVectorImpl<Type> &argTypes,
                                        SmallVectorImpl<std::string> &roles,
                                        GranularityAttr g, int64_t numTiles,
                                        ArrayRef<std::string> extraCountRoles) {
  Type i32 = IntegerType::get(g.getContext(), 32);
  argTypes.append({getFlatType(numTiles, i32), getFlatType(kCountSlots, i32)});
  roles.append({getTilesRole(g), getCountRole(g)});
  for (const std::string &role : extraCountRoles) {
    argTypes.push_back(getFlatType(kCountSlots, i32));
    roles.push_back(role);
  }
}

Value mlir::spsparse::buildDispatchedCount(KernelBuilder &k, gpu::GPUFuncOp fn,
                                           unsigned countArg,
                                           ArrayRef<DispatchTerm> dispatch,
                                           Value *picked) {
  ImplicitLocOpBuilder &b = k.b;
  auto load = [&](unsigned arg) {
    return k.toIndex(
        memref::LoadOp::create(b, fn.getArgument(arg),
                               ValueRange{k.idx(kCountSlot)}));
  };
  Value count = load(countArg);
  Value chosen;
  for (const DispatchTerm &t : dispatch) {
    Value c = load(t.argIndex);
    Value in = k.sge(c, t.lo);
    if (t.hi >= 0)
      in = k.land(in, k.cmp(arith::CmpIPredicate::sle, c, k.idx(t.hi)));
    if (t.cover) {
      // Positions covered, in percent, against the bounds scaled by the
      // other granularity's: integer products, no division.
      CoverAttr cover = t.cover->attr;
      Value of = k.mul(load(t.cover->ofArg),
                       100 * cover.getOfGranularity().getNumElements());
      Value over = k.mul(load(t.cover->overArg),
                         cover.getOverGranularity().getNumElements());
      in = k.land(in, k.cmp(arith::CmpIPredicate::sge, of,
                            k.mul(over, cover.getMinPercent())));
      if (cover.getMaxPercent() >= 0)
        in = k.land(in, k.cmp(arith::CmpIPredicate::sle, of,
                              k.mul(over, cover.getMaxPercent())));
    }
    if (t.negate)
      in = arith::XOrIOp::create(b, in, arith::ConstantIntOp::create(b, 1, 1));
    chosen = k.land(chosen, in);
  }
  if (picked)
    *picked = chosen ? chosen : arith::ConstantIntOp::create(b, 1, 1);
  return chosen ? k.select(chosen, count, k.idx(0)) : count;
}

int64_t mlir::spsparse::getMaxDispatchedTiles(ArrayRef<DispatchTerm> dispatch,
                                              unsigned countArg,
                                              int64_t numTiles) {
  int64_t most = numTiles;
  for (const DispatchTerm &t : dispatch)
    if (t.argIndex == countArg && !t.negate && t.hi >= 0)
      most = std::min(most, std::max<int64_t>(t.hi, 1));
  return most;
}

Value mlir::spsparse::buildBlockInclusiveScan(KernelBuilder &k, Value tid,
                                              int64_t threads, Value scan,
                                              Value value) {
  ImplicitLocOpBuilder &b = k.b;
  k.store(value, scan, tid);
  gpu::BarrierOp::create(b);
  for (int64_t offset = 1; offset < threads; offset *= 2) {
    Value left = k.loadOrZero(scan, k.sub(tid, offset), k.sge(tid, offset));
    gpu::BarrierOp::create(b);
    Value mine = memref::LoadOp::create(b, scan, ValueRange{tid});
    k.store(arith::AddIOp::create(b, mine, left), scan, tid);
    gpu::BarrierOp::create(b);
  }
  return memref::LoadOp::create(b, scan, ValueRange{tid});
}

LogicalResult mlir::spsparse::checkStagingFits(
    function_ref<InFlightDiagnostic()> fail, int64_t sharedBytes,
    bool doubleBuffer, int64_t threads, ArrayRef<int64_t> stagedFloats,
    int64_t accumulators) {
  if (sharedBytes > kMaxStaticSharedBytes)
    return fail() << "needs " << sharedBytes
                  << " bytes of shared memory (more than 48 KiB)";
  int64_t prefetch = 0;
  for (int64_t floats : stagedFloats)
    prefetch += llvm::divideCeil(floats, threads);
  if (doubleBuffer && prefetch + accumulators > 160)
    return fail() << "double_buffer needs " << prefetch
                  << " prefetch registers per thread next to " << accumulators
                  << " accumulators (at most 160 together)";
  return success();
}

void mlir::spsparse::stageChunk(KernelBuilder &k, Value tid, int64_t threads,
                                const Staging &st, Value c0) {
  ImplicitLocOpBuilder &b = k.b;
  auto loop = scf::ForOp::create(b, tid, k.idx(st.groups), k.idx(threads));
  OpBuilder::InsertionGuard guard(b);
  b.setInsertionPointToStart(loop.getBody());
  Value e = loop.getInductionVar();
  auto [index, valid] = st.source(e, c0);
  k.store(k.loadOrZero(st.src, index, valid, st.vw), st.dst, st.at(k, e));
}

SmallVector<Value> mlir::spsparse::fetchChunk(KernelBuilder &k, Value tid,
                                              int64_t threads,
                                              const Staging &st, Value c0,
                                              Value live) {
  SmallVector<Value> values;
  for (int64_t i = 0; i * threads < st.groups; ++i) {
    Value e = k.add(tid, i * threads);
    Value inside = k.slt(e, st.groups);
    // Past the end of the buffer (the last round's tail) the source is not
    // even asked: it may read shared memory indexed by `e`.
    if ((i + 1) * threads > st.groups)
      e = k.select(inside, e, k.idx(0));
    auto [index, valid] = st.source(e, c0);
    valid = k.land(k.land(valid, live), inside);
    values.push_back(k.loadOrZero(st.src, index, valid, st.vw));
  }
  return values;
}

void mlir::spsparse::putChunk(KernelBuilder &k, Value tid, int64_t threads,
                              const Staging &st, ArrayRef<Value> values,
                              Value base) {
  for (auto [i, v] : llvm::enumerate(values)) {
    Value e = k.add(tid, static_cast<int64_t>(i) * threads);
    Value at = st.at(k, e);
    if (base)
      at = k.add(base, at);
    if ((static_cast<int64_t>(i) + 1) * threads <= st.groups) {
      k.store(v, st.dst, at);
      continue;
    }
    // The last round covers the tail of the buffer only.
    auto inside = scf::IfOp::create(k.b, k.slt(e, st.groups), false);
    OpBuilder::InsertionGuard guard(k.b);
    k.b.setInsertionPointToStart(inside.thenBlock());
    k.store(v, st.dst, at);
  }
}

StagingPipeline
mlir::spsparse::chooseStagingPipeline(const KernelOptions &options,
                                      bool doubleBuffer, int64_t sharedBytes,
                                      ArrayRef<int64_t> stagedFloats) {
  if (!doubleBuffer)
    return StagingPipeline::Direct;
  int64_t second = 0;
  for (int64_t floats : stagedFloats)
    second += 4 * floats;
  return options.sharedBuffers == 2 &&
                 sharedBytes + second <= kMaxStaticSharedBytes
             ? StagingPipeline::PingPong
             : StagingPipeline::Registers;
}

SmallVector<Value> mlir::spsparse::buildStagedReduction(
    KernelBuilder &k, Value tid, int64_t threads, ArrayRef<Staging> stages,
    Value lo, Value hi, int64_t step, ArrayRef<Value> init,
    StagingPipeline pipeline,
    function_ref<SmallVector<Value>(ValueRange, ValueRange)> compute) {
  ImplicitLocOpBuilder &b = k.b;
  // Each thread's share of chunk c0 of every stage, in registers.
  auto fetchAll = [&](Value c0) {
    SmallVector<SmallVector<Value>> values;
    Value live = k.cmp(arith::CmpIPredicate::slt, c0, hi);
    for (const Staging &st : stages)
      values.push_back(fetchChunk(k, tid, threads, st, c0, live));
    return values;
  };
  // Where copy `slot` of a stage starts in its buffer (null: the only copy).
  auto copyBase = [&](const Staging &st, Value slot) {
    return slot ? k.mul(slot, st.floats()) : Value();
  };
  auto putAll = [&](ArrayRef<SmallVector<Value>> values, Value slot) {
    for (auto [st, v] : llvm::zip(stages, values))
      putChunk(k, tid, threads, st, v, copyBase(st, slot));
  };
  auto bases = [&](Value slot) {
    SmallVector<Value> at;
    for (const Staging &st : stages) {
      Value base = copyBase(st, slot);
      at.push_back(base ? base : k.idx(0));
    }
    return at;
  };

  if (pipeline == StagingPipeline::PingPong) {
    // Chunk lo goes into copy 0; iteration c0 loads chunk c0 + step, computes
    // c0 from copy `slot` and stores c0 + step into the other copy. The one
    // barrier per chunk orders both: copy `slot` is rewritten only after
    // every thread computed from it one iteration earlier.
    putAll(fetchAll(lo), Value());
    gpu::BarrierOp::create(b);
    SmallVector<Value> carriedInit(init);
    carriedInit.push_back(k.idx(0));
    auto loop = scf::ForOp::create(b, lo, hi, k.idx(step), carriedInit);
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPointToStart(loop.getBody());
    ValueRange carried = loop.getRegionIterArgs();
    Value slot = carried.back();
    SmallVector<SmallVector<Value>> next =
        fetchAll(k.add(loop.getInductionVar(), step));
    SmallVector<Value> yield = compute(carried.drop_back(), bases(slot));
    Value other = arith::SubIOp::create(b, k.idx(1), slot);
    putAll(next, other);
    gpu::BarrierOp::create(b);
    yield.push_back(other);
    scf::YieldOp::create(b, yield);
    return SmallVector<Value>(loop.getResults().drop_back());
  }

  bool registers = pipeline == StagingPipeline::Registers;
  SmallVector<Value> carriedInit(init);
  // Where each stage's prefetched values sit among the loop's carried ones.
  SmallVector<std::pair<size_t, size_t>> held;
  auto carry = [&](ArrayRef<SmallVector<Value>> values,
                   SmallVectorImpl<Value> &into) {
    held.clear();
    for (const SmallVector<Value> &v : values) {
      held.push_back({into.size(), v.size()});
      into.append(v);
    }
  };
  if (registers)
    carry(fetchAll(lo), carriedInit);
  auto loop = scf::ForOp::create(b, lo, hi, k.idx(step), carriedInit);
  OpBuilder::InsertionGuard guard(b);
  b.setInsertionPointToStart(loop.getBody());
  Value c0 = loop.getInductionVar();
  ValueRange carried = loop.getRegionIterArgs();
  SmallVector<Value> next(carried.take_front(init.size()));
  // The previous chunk is done with the staged data.
  gpu::BarrierOp::create(b);
  if (registers) {
    // Store the prefetched chunk, then start loading the next one; its
    // loads are in flight during this chunk's arithmetic.
    SmallVector<SmallVector<Value>> prefetched;
    for (auto at : held)
      prefetched.emplace_back(carried.slice(at.first, at.second));
    putAll(prefetched, Value());
    carry(fetchAll(k.add(c0, step)), next);
  } else {
    for (const Staging &st : stages)
      stageChunk(k, tid, threads, st, c0);
  }
  gpu::BarrierOp::create(b);
  SmallVector<Value> acc =
      compute(carried.take_front(init.size()), bases(Value()));
  std::copy(acc.begin(), acc.end(), next.begin());
  scf::YieldOp::create(b, next);
  return SmallVector<Value>(loop.getResults().take_front(init.size()));
}

SmallVector<Value> mlir::spsparse::buildUnrolledSteps(
    KernelBuilder &k, int64_t count, int64_t unroll, ValueRange init,
    function_ref<void(Value, MutableArrayRef<Value>)> step) {
  ImplicitLocOpBuilder &b = k.b;
  auto loop =
      scf::ForOp::create(b, k.idx(0), k.idx(count), k.idx(unroll), init);
  OpBuilder::InsertionGuard guard(b);
  b.setInsertionPointToStart(loop.getBody());
  SmallVector<Value> acc(loop.getRegionIterArgs());
  for (int64_t u = 0; u < unroll; ++u)
    step(k.add(loop.getInductionVar(), u), acc);
  scf::YieldOp::create(b, acc);
  return loop.getResults();
}

void mlir::spsparse::accumulateOuterProduct(KernelBuilder &k, ArrayRef<Value> x,
                                            ArrayRef<Value> w,
                                            MutableArrayRef<Value> acc) {
  ImplicitLocOpBuilder &b = k.b;
  auto contract = arith::FastMathFlagsAttr::get(b.getContext(),
                                                arith::FastMathFlags::contract);
  for (size_t i = 0; i < x.size(); ++i)
    for (size_t j = 0; j < w.size(); ++j) {
      Value &a = acc[i * w.size() + j];
      Value prod = arith::MulFOp::create(b, x[i], w[j], contract);
      a = arith::AddFOp::create(b, a, prod, contract);
    }
}
