#!/usr/bin/env python3
"""Run the benchmark suite on a CUDA GPU: dynaspa and every baseline, timed
the same way, into one JSON file (see benchmarks/README.md).

    python3 benchmarks/run.py --bundles device-out/bundles --masks ../shared/masks \
        --runtime device-out/rt/libdynaspa_runtime.so --out docs/benchmarks/h100.json [--quick]
    python3 benchmarks/run.py --dry-run --masks ../shared/masks --bundles device-out/bundles

Timing (identical for dynaspa and every baseline): one op is captured in a
CUDA graph; a round replays it R times back to back between two CUDA events
(behind a short device-side sleep, so that the host has queued the replays
before the GPU starts and the GPU never waits for the host); time = round /
R; the result is the median over rounds. R is chosen per op so that a round
lasts about --round-ms.
"""

import argparse
import datetime
import json
import math
import os
import statistics
import subprocess
import sys
import time

import warnings

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(ROOT, "python"))

import masks as maskmod  # noqa: E402
import suite  # noqa: E402
from dynaspa.runtime import FP32_TOLERANCE as TOLERANCE, TF32_TOLERANCE  # noqa: E402
torch = None   # imported in main() (the dry run needs no torch)
F = None
DEV = "cuda"   # the cases also run on "cpu" (benchmarks/test_baselines.py)


def sync():
    if DEV == "cuda":
        torch.cuda.synchronize()


# ====================================================================== plan
def default_masks():
    for d in (os.path.join(os.path.dirname(ROOT), "shared", "masks"),
              os.path.join(ROOT, "shared", "masks")):
        if os.path.exists(os.path.join(d, "index.json")):
            return d
    return os.path.join(os.path.dirname(ROOT), "shared", "masks")


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--bundles", default=os.path.join(ROOT, "device-out", "bundles"),
                   help="folder of <op>_b<batch>.dspb from make_bundles.py")
    p.add_argument("--masks", default=default_masks(),
                   help="mask directory (index.json + .npy); default ../shared/masks "
                        "or ./shared/masks")
    p.add_argument("--runtime", default=None,
                   help="libdynaspa_runtime.so (default: $DYNASPA_RUNTIME_LIB or build folders)")
    p.add_argument("--out", default=os.path.join(ROOT, "docs", "benchmarks", "h100.json"))
    p.add_argument("--quick", action="store_true",
                   help="few shapes/densities, fewer reps (< 3 min on an H100)")
    p.add_argument("--ops", nargs="*", help="op names, op kinds or families (default: all)")
    p.add_argument("--batches", nargs="*", type=int)
    p.add_argument("--densities", nargs="*", type=float)
    p.add_argument("--mask-kinds", nargs="*",
                   help="mask kinds to use (default per op: saliency for DynConv, edit for "
                        "SIGE, tokens for attention)")
    p.add_argument("--no-dynaspa", action="store_true", help="baselines only")
    p.add_argument("--no-torch-sparse", action="store_true",
                   help="skip the torch.sparse (cuSPARSE) baseline")
    p.add_argument("--dynaspa-only", action="store_true",
                   help="A/B runs of two bundle sets: dynaspa alone (still checked against "
                        "float64 first), no baselines; the speedup columns stay empty")
    p.add_argument("--variant-lanes", action="store_true",
                   help="run each operator's variants side by side "
                        "(dynaspa_operator_set_variant_lanes; A/B runs)")
    p.add_argument("--rounds", type=int, help="timing rounds (default 7, quick 3)")
    p.add_argument("--round-ms", type=float, help="target length of a round (default 10, quick 3)")
    p.add_argument("--max-reps", type=int, default=1000)
    p.add_argument("--gs-blocks", default=None,
                   help="gather-scatter output tile sizes tried for 3x3 (default 1,2,4,8; quick 1,4)")
    p.add_argument("--dense-layouts", default=None,
                   help="layouts tried for the cuDNN fp32 baseline (default nhwc,nchw; quick nhwc)")
    p.add_argument("--merge", action="store_true",
                   help="keep the records of --out not re-measured by this run")
    p.add_argument("--max-minutes", type=float, default=9.0,
                   help="start no new record after this long (the JSON says incomplete)")
    p.add_argument("--commit", default=None, help="default: git, else the bundles' manifest")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--dry-run", action="store_true", help="list the plan; needs no GPU")
    p.add_argument("--cpu-smoke", action="store_true",
                   help="test the script on the CPU (no dynaspa, meaningless times)")
    a = p.parse_args(argv)
    a.rounds = a.rounds or (3 if a.quick else 7)
    a.round_ms = a.round_ms or (3.0 if a.quick else 10.0)
    a.gs_blocks = [int(x) for x in (a.gs_blocks or ("1,4" if a.quick else "1,2,4,8")).split(",")]
    a.dense_layouts = (a.dense_layouts or ("nhwc" if a.quick else "nhwc,nchw")).split(",")
    a.op_list = suite.select_ops(a.ops, a.quick)
    a.batch_list = a.batches or (suite.QUICK_BATCHES if a.quick else suite.BATCHES)
    a.density_list = a.densities or (suite.QUICK_DENSITIES if a.quick else suite.DENSITIES)
    return a


def make_mask(maskset, op, batch, kind, density, seed):
    """(mask as NumPy bool, source file): conv [N, Ho, Wo]; bmm [N*heads, T]
    (each image's token mask repeated for its heads)."""
    if op.kind == "conv":
        ho, wo = suite.out_size(op)
        return maskset.spatial(kind, batch, ho, wo, density, seed)
    tok, src = maskset.tokens(kind, batch, density, seed)
    if tok.shape[1] != op.H:
        raise ValueError("token mask has %d tokens, op wants %d" % (tok.shape[1], op.H))
    return np.repeat(tok, suite.HEADS, axis=0), src


def work_density(op, m):
    """Fraction of the dense FLOPs a perfect sparse op needs."""
    if op.kind == "conv" or op.name != "attn_qkt" or not suite.QKT_COL_MASK:
        return float(m.mean())
    d = m.mean(axis=1)
    return float((d * d).mean())


def active_tile_stats(op, rec, granularity, peak_tflops):
    """What the conv kernels do on the DISTiles they compute: tile pixels
    over active pixels (the overshoot a DISTile size costs) and the FLOP rate
    on those tiles' pixels, as a fraction of the measured fp32 peak (the
    issue's "on active tiles" bar). Kernel time = the op's time minus the
    separately timed overhead and zero fill."""
    if op.kind != "conv" or not granularity or rec.get("dynaspa_tile_count") is None:
        return {}
    ho, wo = suite.out_size(op)
    tile_pixels = rec["dynaspa_tile_count"] * granularity[0] * granularity[1]
    active = rec["density"] * rec["batch"] * ho * wo
    kernel_us = rec["dynaspa_us"] - (rec.get("overhead_us") or 0) - (rec.get("zero_fill_us") or 0)
    out = {"dynaspa_granularity": list(granularity), "active_tile_pixels": tile_pixels,
           "tile_overshoot": tile_pixels / active if active else None}
    if kernel_us > 0:
        tflops = 2 * op.Cin * op.Cout * op.k * op.k * tile_pixels / kernel_us / 1e6
        out.update(kernel_us=kernel_us, active_tile_tflops=tflops,
                   active_tile_peak_fraction=tflops / peak_tflops)
    return out


def bundle_variants(bundles, op, batch):
    """The variants make_bundles.py recorded for this bundle, if any."""
    try:
        with open(os.path.join(bundles, "manifest.json")) as f:
            entry = json.load(f)["bundles"].get(suite.bundle_key(op, batch)) or {}
    except (OSError, ValueError):
        return None
    return entry.get("variants")


def bundle_path(bundles, op, batch):
    return os.path.join(bundles, suite.bundle_key(op, batch) + ".dspb")


def dry_run(a):
    maskset = maskmod.MaskSet(a.masks)
    plan = suite.plan(a.op_list, a.batch_list, a.density_list, a.mask_kinds)
    print("plan: %d records (%d ops x %d batches x densities %s), masks %s"
          % (len(plan), len(a.op_list), len(a.batch_list),
             ",".join(str(d) for d in a.density_list), a.masks))
    print("%-22s %5s %-9s %6s %8s %8s %12s  %-28s %s" % (
        "op", "batch", "kind", "target", "density", "work", "GFLOP", "mask source", "bundle"))
    for op, b, kind, d in plan:
        m, src = make_mask(maskset, op, b, kind, d, a.seed)
        bp = bundle_path(a.bundles, op, b)
        print("%-22s %5d %-9s %6.2f %8.4f %8.4f %12.3f  %-28s %s" % (
            op.name, b, kind, d, m.mean(), work_density(op, m), suite.flops(op, b) / 1e9,
            src, os.path.basename(bp) if os.path.exists(bp) else "MISSING " + bp))
    return 0


# ==================================================================== timing
class Timer:
    """Captures ops in CUDA graphs and times R back-to-back replays between
    two events (median over rounds)."""

    def __init__(self, rounds, round_ms, max_reps):
        self.rounds, self.round_ms, self.max_reps = rounds, round_ms, max_reps
        self.cycles_per_us = self._sleep_rate()

    @staticmethod
    def _sleep_rate():
        torch.cuda._sleep(1000)
        s, e = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        s.record()
        torch.cuda._sleep(20_000_000)
        e.record()
        e.synchronize()
        return 20_000_000 / (s.elapsed_time(e) * 1000.0)

    @staticmethod
    def capture(fn, warmup=2):
        """fn run ``warmup`` times on a side stream (cuDNN autotuning,
        lazy init), then captured once."""
        torch.cuda.synchronize()
        s = torch.cuda.Stream()
        s.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(s):
            for _ in range(warmup):
                fn()
        torch.cuda.current_stream().wait_stream(s)
        torch.cuda.synchronize()
        g = torch.cuda.CUDAGraph()
        with torch.cuda.graph(g):
            fn()
        torch.cuda.synchronize()
        return g

    def replays(self, g, reps, sleep_us=0.0):
        s, e = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        if sleep_us > 0:
            torch.cuda._sleep(int(sleep_us * self.cycles_per_us))
        t0 = time.perf_counter()
        s.record()
        for _ in range(reps):
            g.replay()
        e.record()
        host_us = (time.perf_counter() - t0) * 1e6
        e.synchronize()
        return s.elapsed_time(e) * 1000.0 / reps, host_us

    def time_graph(self, g):
        """(median us per replay, R)."""
        for _ in range(3):
            g.replay()
        torch.cuda.synchronize()
        est, host = self.replays(g, 5)
        reps = int(min(self.max_reps, max(3, round(self.round_ms * 1000.0 / max(est, 0.5)))))
        # First round also measures how long the host takes to queue R replays.
        _, host = self.replays(g, reps, sleep_us=min(50_000, 20.0 * reps + 100))
        times = [self.replays(g, reps, sleep_us=min(100_000, 1.5 * host + 100))[0]
                 for _ in range(self.rounds)]
        return statistics.median(times), reps

    def time_fn(self, fn):
        g = self.capture(fn)
        try:
            return self.time_graph(g)
        finally:
            del g

    def single_replay(self, g, n=30):
        """Median of one replay timed alone between two events."""
        out = []
        for _ in range(n):
            torch.cuda.synchronize()
            s, e = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            s.record()
            g.replay()
            e.record()
            e.synchronize()
            out.append(s.elapsed_time(e) * 1000.0)
        return statistics.median(out)


class CpuTimer:
    """--cpu-smoke only: wall-clock timing of eager calls on the CPU, to test
    the orchestration without a GPU. Its numbers mean nothing."""

    def __init__(self, rounds):
        self.rounds = rounds

    def time_fn(self, fn):
        fn()
        times = []
        for _ in range(self.rounds):
            t0 = time.perf_counter()
            fn()
            times.append((time.perf_counter() - t0) * 1e6)
        return statistics.median(times), 1


def machine_facts(timer, quick):
    """Measured fp32 peak (SGEMM, TF32 off) and launch costs."""
    facts = {}
    if DEV == "cpu":
        n = 512
        a, b = torch.randn(n, n), torch.randn(n, n)
        us, _ = timer.time_fn(lambda: torch.mm(a, b))
        facts.update(peak_fp32_tflops=2.0 * n ** 3 / (us * 1e-6) / 1e12, launch_floor_us=None,
                     graph_replay_us=None, graph_kernel_gap_us=None,
                     peak_sgemm={"m": n, "n": n, "k": n, "us": us})
        return facts
    n = 8192
    a = torch.randn(n, n, device="cuda")
    b = torch.randn(n, n, device="cuda")
    c = torch.empty(n, n, device="cuda")
    us, _ = timer.time_fn(lambda: torch.mm(a, b, out=c))
    facts["peak_fp32_tflops"] = 2.0 * n ** 3 / (us * 1e-6) / 1e12
    facts["peak_sgemm"] = {"m": n, "n": n, "k": n, "us": us}
    tiny = torch.zeros(1, device="cuda")
    g1 = timer.capture(lambda: tiny.add_(1))
    facts["launch_floor_us"] = timer.single_replay(g1)           # one replay alone
    facts["graph_replay_us"] = timer.time_graph(g1)[0]           # back to back, 1 kernel
    g20 = timer.capture(lambda: [tiny.add_(1) for _ in range(20)])
    facts["graph_kernel_gap_us"] = timer.time_graph(g20)[0] / 20  # kernels inside a graph
    del g1, g20
    return facts


# ============================================================= references
def rel_err(got, ref):
    """max |got - ref| / max |ref| (NaN/inf in got -> inf)."""
    got = got.double()
    diff = (got - ref).abs().max().item()
    scale = max(ref.abs().max().item(), 1e-30)
    return diff / scale if math.isfinite(diff) else float("inf")


# =============================================================== dynaspa
class Dynaspa:
    """dynaspa through the C runtime (python/dynaspa/runtime.py). Each piece
    of the interface is one small method, so it is easy to adjust."""

    def __init__(self, lib_path, bundles, variant_lanes=False):
        from dynaspa import runtime as rt
        self.rt = rt
        self.variant_lanes = variant_lanes
        self.lib = rt.Library(lib_path)
        self.ctx = self.lib.context("cuda")
        self.bundles = bundles
        self.device = self.ctx.device_name()

    def load(self, op, batch):
        """(bundle, operator), the operator prepared: the one named like the
        function, else the only one."""
        path = bundle_path(self.bundles, op, batch)
        if not os.path.exists(path):
            raise FileNotFoundError("no bundle %s" % path)
        bundle = self.ctx.load_bundle(path)
        key = suite.bundle_key(op, batch)
        try:
            index = bundle.find_operator(key)
        except self.rt.DynaspaError:
            if bundle.operator_count() != 1:
                raise
            index = 0
        oper = bundle.operator(index)
        oper.prepare()
        if self.variant_lanes:
            oper.set_variant_lanes(True)
        return bundle, oper

    @staticmethod
    def check_signature(oper, tensors, outputs):
        """Shapes/dtypes we pass must be what the bundle declares."""
        want = [(tuple(i.shape), i.dtype) for i in oper.inputs + oper.outputs]
        elt = {torch.float32: "f32", torch.float16: "f16", torch.bool: "i1", torch.uint8: "u8"}
        have = [(tuple(t.shape), elt.get(t.dtype, str(t.dtype))) for t in tensors + outputs]
        ok = len(want) == len(have) and all(
            w[0] == h[0] and (w[1] == h[1] or {w[1], h[1]} <= {"i1", "u8"})
            for w, h in zip(want, have))
        if not ok:
            raise ValueError("bundle declares %s, benchmark passes %s" % (want, have))

    @staticmethod
    def launch(oper, tensors, outputs):
        """THE launch: inputs then outputs as device pointers, on torch's
        current stream (inside graph capture: the capturing stream)."""
        oper.launch([t.data_ptr() for t in tensors], [o.data_ptr() for o in outputs],
                    torch.cuda.current_stream().cuda_stream)

    def runtime_benchmark(self, oper, tensors, reps, rounds):
        """The runtime's own timing of the same inputs (the prologue's
        kernels alone give the overhead; the zero fill is timed alone too):
        needs dynaspa_operator_run first."""
        outs = oper.run([t.cpu().numpy() for t in tensors])
        res = oper.benchmark(warmup=3, reps=reps, rounds=rounds)
        return res, outs

    def close(self):
        self.ctx.close()


# ============================================================ operator cases
class ConvCase:
    """One (conv op, batch): inputs, dense baselines, reference."""

    def __init__(self, op, batch, seed):
        self.op, self.batch = op, batch
        g = torch.Generator(device=DEV).manual_seed(seed)
        ho, wo = suite.out_size(op)
        self.ho, self.wo = ho, wo
        self.pad = suite.padding(op)[0]
        n, cin, cout, k = batch, op.Cin, op.Cout, op.k
        # Input stored NHWC with one extra zero row (the gather-scatter
        # baseline's "padding" pixel); dynaspa sees the first N*H*W rows.
        self.x_ext = torch.zeros(n * op.H * op.W + 1, cin, device=DEV)
        self.x_ext[:-1].uniform_(-1, 1, generator=g)
        self.x = self.x_ext[:-1].view(n, op.H, op.W, cin)                 # NHWC
        self.w = ((torch.rand(k, k, cin, cout, device=DEV, generator=g) * 2 - 1)
                  / math.sqrt(cin * k * k)).contiguous()                   # HWCF
        self.x_cl = self.x.permute(0, 3, 1, 2)                             # NCHW view, channels_last
        self.w_oihw = self.w.permute(3, 2, 0, 1).contiguous()
        self.w_cl = self.w_oihw.contiguous(memory_format=torch.channels_last)
        self.out = torch.empty(n, ho, wo, cout, device=DEV)
        with torch.no_grad():
            self.ref_full = F.conv2d(self.x_cl.double().contiguous(), self.w_oihw.double(), None,
                                     op.stride, self.pad).permute(0, 2, 3, 1)   # NHWC f64

    def set_mask(self, m_np):
        self.m_np = m_np
        self.mask = torch.from_numpy(m_np).to(DEV)                          # [N,Ho,Wo] bool
        self.mask_f = self.mask.float()[:, None]                           # [N,1,Ho,Wo]
        self.ref = self.ref_full * self.mask[..., None]

    def dynaspa_io(self):
        return [self.x, self.w, self.mask], [self.out]

    def dynaspa_result(self):
        return self.out

    # dense baselines: conv then multiply by the mask, as models do
    def dense_fn(self, dtype, layout):
        s, p = self.op.stride, self.pad
        if layout == "nhwc":
            x, w = self.x_cl, self.w_cl
        else:
            x, w = self.x_cl.contiguous(), self.w_oihw
        x, w, m = x.to(dtype), w.to(dtype), self.mask_f.to(dtype)

        def fn():
            y = F.conv2d(x, w, None, s, p)
            y.mul_(m)
            return y
        return fn, lambda y: y.permute(0, 2, 3, 1)

    # gather -> conv -> scatter (SBNet / SIGE), output tiles of bo x bo
    def gather_scatter(self, bo):
        op, n, ho, wo = self.op, self.batch, self.ho, self.wo
        s, k, p, cin, cout = op.stride, op.k, self.pad, op.Cin, op.Cout
        if op.k == 1 and bo != 1:
            return None
        t0 = time.perf_counter()
        act = F.max_pool2d(self.mask_f, bo, bo, ceil_mode=True)[:, 0] > 0    # [N,th,tw]
        tiles = act.nonzero()                                                 # sync
        t_cnt = tiles.shape[0]
        tn, ty, tx = tiles[:, 0:1, None], tiles[:, 1:2, None], tiles[:, 2:3, None]
        bi = (bo - 1) * s + k
        ii = torch.arange(bi, device=DEV)
        r = ty * bo * s - p + ii[None, :, None]
        c = tx * bo * s - p + ii[None, None, :]
        ok = (r >= 0) & (r < op.H) & (c >= 0) & (c < op.W)
        gidx = torch.where(ok, tn * op.H * op.W + r * op.W + c,
                           torch.full_like(r, n * op.H * op.W)).reshape(-1)
        oo = torch.arange(bo, device=DEV)
        ro = ty * bo + oo[None, :, None]
        co = tx * bo + oo[None, None, :]
        oko = (ro < ho) & (co < wo)
        oidx = torch.where(oko, tn * ho * wo + ro * wo + co,
                           torch.full_like(ro, n * ho * wo)).reshape(-1)
        mflat = torch.cat([self.mask.reshape(-1).float(), torch.zeros(1, device=DEV)])
        mtile = mflat[oidx].view(t_cnt, 1, bo, bo).contiguous(memory_format=torch.channels_last)
        sync()
        index_us = (time.perf_counter() - t0) * 1e6
        out_ext = torch.empty(n * ho * wo + 1, cout, device=DEV)
        x_ext, w_cl = self.x_ext, self.w_cl
        w2d = self.w.view(k * k * cin, cout)

        if bo == 1:     # one output pixel per tile: an im2col GEMM, no mask multiply
            def fn():
                out_ext.zero_()
                g = x_ext.index_select(0, gidx).view(t_cnt, bi * bi * cin)
                out_ext.index_copy_(0, oidx, torch.mm(g, w2d))
        else:
            def fn():
                out_ext.zero_()
                g = x_ext.index_select(0, gidx).view(t_cnt, bi, bi, cin).permute(0, 3, 1, 2)
                y = F.conv2d(g, w_cl, None, s, 0)
                y.mul_(mtile)
                out_ext.index_copy_(0, oidx, y.permute(0, 2, 3, 1).reshape(-1, cout))
        result = lambda _=None: out_ext[:-1].view(n, ho, wo, cout)  # noqa: E731
        return fn, result, index_us, t_cnt

    # torch.sparse (cuSPARSE SDDMM) for the 1x1 conv: the output pattern is
    # the active pixels' rows, all output channels
    def torch_sparse(self):
        if self.op.k != 1:
            return None
        n, cin, cout = self.batch, self.op.Cin, self.op.Cout
        rows = self.mask.reshape(-1)
        nnz_row = rows.long() * cout
        crow = torch.cat([torch.zeros(1, dtype=torch.long, device=DEV), nnz_row.cumsum(0)])
        p = int(rows.sum().item())
        col = torch.arange(cout, device=DEV).repeat(p)
        pattern = torch.sparse_csr_tensor(crow, col, torch.zeros(p * cout, device=DEV),
                                          size=(rows.numel(), cout), check_invariants=False)
        x2d, w2d = self.x.reshape(-1, cin), self.w.view(cin, cout)

        def fn():
            return torch.sparse.sampled_addmm(pattern, x2d, w2d, beta=0.0)
        return fn, lambda y: y.to_dense().view(n, self.ho, self.wo, cout)


class BmmCase:
    """One (attention product, batch): [B*h, M, K] x [B*h, K, N]."""

    def __init__(self, op, batch, seed):
        self.op, self.batch = op, batch
        g = torch.Generator(device=DEV).manual_seed(seed)
        sh = suite.bmm_shapes(op, batch)
        self.bsz, self.m, self.k, self.n = sh["lhs"][0], op.H, op.Cin, op.W
        self.a = torch.rand(sh["lhs"], device=DEV, generator=g) * 2 - 1
        self.b = torch.rand(sh["rhs"], device=DEV, generator=g) * 2 - 1
        if op.name == "attn_av":                       # rows of attention probabilities
            self.a = torch.softmax(self.a * 4, dim=-1)
        self.col = "col_mask" in sh
        self.out = torch.empty(sh["output"], device=DEV)
        self.ref_full = torch.bmm(self.a.double(), self.b.double())

    def set_mask(self, m_np):
        self.mask = torch.from_numpy(m_np).to(DEV)                  # [B, M] bool
        pm = self.mask[:, :, None].float()
        if self.col:
            pm = pm * self.mask[:, None, :].float()
        self.pm = pm                                                 # [B,M,1] or [B,M,N]
        self.ref = self.ref_full * pm.double()

    def dynaspa_io(self):
        ins = [self.a, self.b, self.mask] + ([self.mask] if self.col else [])
        return ins, [self.out]

    def dynaspa_result(self):
        return self.out

    def dense_fn(self, dtype, layout):
        a, b, pm = self.a.to(dtype), self.b.to(dtype), self.pm.to(dtype)

        def fn():
            y = torch.bmm(a, b)
            y.mul_(pm)
            return y
        return fn, lambda y: y

    def _indices(self, mask):
        """[B, K] indices of active tokens, padded with repeats of the first
        active one (so that batches of unequal counts stay rectangular; a
        repeated index computes and writes the same value twice)."""
        cnt = mask.sum(1)
        kmax = int(cnt.max().item())
        order = torch.argsort((~mask).to(torch.int8), dim=1, stable=True)[:, :kmax]
        pos = torch.arange(kmax, device=DEV)[None]
        return torch.where(pos < cnt[:, None], order, order[:, :1]), kmax

    def gather_scatter(self, bo):
        if bo != 1:
            return None
        t0 = time.perf_counter()
        bsz, k, n = self.bsz, self.k, self.n
        ridx, kr = self._indices(self.mask)
        a, b, out = self.a, self.b, self.out.new_empty(self.out.shape)
        gi_a = ridx[:, :, None].expand(bsz, kr, k)
        if self.col:
            cidx, kc = ridx, kr
            gi_b = cidx[:, None, :].expand(bsz, k, kc)
            flat = (ridx[:, :, None] * n + cidx[:, None, :]).reshape(bsz, -1)
        else:
            si = ridx[:, :, None].expand(bsz, kr, n)
        sync()
        index_us = (time.perf_counter() - t0) * 1e6
        if self.col:
            def fn():
                out.zero_()
                s = torch.bmm(torch.gather(a, 1, gi_a), torch.gather(b, 2, gi_b))
                out.view(bsz, -1).scatter_(1, flat, s.view(bsz, -1))
        else:
            def fn():
                out.zero_()
                out.scatter_(1, si, torch.bmm(torch.gather(a, 1, gi_a), b))
        return fn, lambda _=None: out, index_us, kr

    def torch_sparse(self):
        """cuSPARSE SDDMM (torch.sparse.sampled_addmm) on the output pattern;
        batched CSR needs the same nnz in every batch."""
        cnt = self.mask.sum(1)
        if bool((cnt != cnt[0]).any()):
            raise ValueError("batched CSR needs equal token counts per batch")
        bsz, m, n = self.bsz, self.m, self.n
        rows = self.mask.long()
        cols_mask = self.mask if self.col else torch.ones(bsz, n, dtype=torch.bool,
                                                           device=DEV)
        ncol = int(cols_mask[0].sum().item())
        crow = torch.cat([torch.zeros(bsz, 1, dtype=torch.long, device=DEV),
                          (rows * ncol).cumsum(1)], 1)
        colidx = torch.argsort((~cols_mask).to(torch.int8), dim=1, stable=True)[:, :ncol]
        nrow = int(cnt[0].item())
        col = colidx.repeat(1, nrow)
        pattern = torch.sparse_csr_tensor(crow, col, torch.zeros(bsz, nrow * ncol,
                                                                 device=DEV),
                                          size=(bsz, m, n), check_invariants=False)
        a, b = self.a, self.b

        def fn():
            return torch.sparse.sampled_addmm(pattern, a, b, beta=0.0)
        return fn, lambda y: y.to_dense()


# ================================================================== records
def base_record(op, batch):
    r = dict(op=op.op, name=op.name, family=op.family, H=op.H, W=op.W, Cin=op.Cin,
             Cout=op.Cout, k=op.k, stride=op.stride, batch=batch)
    if op.kind == "bmm":
        r.update(heads=suite.HEADS, tokens=suite.TOKENS, W=None, k=None, stride=None,
                 M=op.H, K=op.Cin, N=op.W)
    return r


def run_group(a, op, batch, items, dyn, timer, facts, log):
    """All records of one (op, batch): dense baselines once (they do not
    depend on the mask's content), the rest per mask."""
    case = (ConvCase if op.kind == "conv" else BmmCase)(op, batch, a.seed)
    notes_group = []
    maskset = a.maskset
    m0, _ = make_mask(maskset, op, batch, items[0][0], items[0][1], a.seed)
    case.set_mask(m0)

    dense = {}
    for key, dtype, tf32, layouts in () if a.dynaspa_only else (
            ("cudnn_fp32_us", torch.float32, False, a.dense_layouts),
            ("cudnn_tf32_us", torch.float32, True, ["nhwc"]),
            ("cudnn_fp16_us", torch.float16, False, ["nhwc"])):
        best = None
        for layout in (layouts if op.kind == "conv" else ["bmm"]):
            torch.backends.cudnn.allow_tf32 = tf32
            torch.backends.cuda.matmul.allow_tf32 = tf32
            try:
                fn, view = case.dense_fn(dtype, layout)
                if key == "cudnn_fp32_us":
                    dense["cudnn_fp32_err"] = rel_err(view(fn()), case.ref)
                us, _ = timer.time_fn(fn)
                if best is None or us < best[0]:
                    best = (us, layout)
            except Exception as e:  # noqa: BLE001
                notes_group.append("%s %s: %s" % (key, layout, str(e)[:200]))
            finally:
                torch.backends.cudnn.allow_tf32 = False
                torch.backends.cuda.matmul.allow_tf32 = False
        dense[key] = best[0] if best else None
        if key == "cudnn_fp32_us" and best:
            dense["cudnn_fp32_layout"] = best[1]

    oper, bundle, dyn_err = None, None, None
    if dyn is not None:
        try:
            bundle, oper = dyn.load(op, batch)
            ins, outs = case.dynaspa_io()
            dyn.check_signature(oper, ins, outs)
        except Exception as e:  # noqa: BLE001
            dyn_err = "dynaspa: %s" % e
            oper = None
    else:
        dyn_err = "dynaspa not run (%s)" % a.no_dynaspa_reason

    recs = []
    for kind, dens in items:
        if time.time() > a.deadline:
            log("time budget spent; stopping before %s b%d %s %.2f" % (op.name, batch, kind, dens))
            a.incomplete = True
            break
        m, src = make_mask(maskset, op, batch, kind, dens, a.seed)
        case.set_mask(m)
        rec = base_record(op, batch)
        wd = work_density(op, m)
        fl = suite.flops(op, batch)
        rec.update(mask_kind=kind, mask_source=src, target_density=dens,
                   density=float(m.mean()), work_density=wd, flops=fl,
                   ideal_us=wd * fl / (facts["peak_fp32_tflops"] * 1e12) * 1e6,
                   dynaspa_us=None, overhead_us=None, dynaspa_runtime_us=None,
                   dynaspa_method=None, max_rel_err=None, flag=None,
                   cudnn_fp32_us=None, cudnn_tf32_us=None, cudnn_fp16_us=None,
                   notes=list(notes_group))
        rec.update({k: v for k, v in dense.items() if not k.endswith("_err")})
        rec["baseline_max_rel_err"] = {"cudnn_fp32": dense.get("cudnn_fp32_err")}

        # ---- dynaspa: check, then time
        if oper is None:
            rec["notes"].append(dyn_err)
        else:
            try:
                dynaspa_record(a, dyn, oper, case, timer, rec)
                variants = bundle_variants(a.bundles, op, batch)
                if variants and rec.get("dynaspa_variant") is not None and rec.get("dynaspa_us"):
                    rec.update(active_tile_stats(
                        op, rec, variants[rec["dynaspa_variant"]]["granularity"],
                        facts["peak_fp32_tflops"]))
            except Exception as e:  # noqa: BLE001
                rec["notes"].append("dynaspa: %s" % str(e)[:400])

        # ---- gather-scatter: the fastest tile size
        best = None
        for bo in [] if a.dynaspa_only else a.gs_blocks:
            try:
                got = case.gather_scatter(bo)
                if got is None:
                    continue
                fn, view, index_us, count = got
                fn()
                err = rel_err(view(), case.ref)
                if not err <= TOLERANCE:
                    rec["notes"].append("gather-scatter b%d wrong: err %.2e" % (bo, err))
                    continue
                us, _ = timer.time_fn(fn)
                if best is None or us < best[0]:
                    best = (us, bo, index_us, count, err)
            except Exception as e:  # noqa: BLE001
                rec["notes"].append("gather-scatter b%d: %s" % (bo, str(e)[:200]))
        rec["gather_scatter_us"] = best[0] if best else None
        rec["gather_scatter_block"] = best[1] if best else None
        rec["gather_scatter_index_us"] = best[2] if best else None
        rec["gather_scatter_tiles"] = best[3] if best else None
        rec["baseline_max_rel_err"]["gather_scatter"] = best[4] if best else None

        # ---- torch.sparse (cuSPARSE) where it applies
        rec["torch_sparse_us"] = None
        try:
            got = None if a.no_torch_sparse or a.dynaspa_only else case.torch_sparse()
            if got is not None:
                fn, view = got
                err = rel_err(view(fn()), case.ref)
                rec["baseline_max_rel_err"]["torch_sparse"] = err
                if err <= TOLERANCE:
                    rec["torch_sparse_us"] = timer.time_fn(fn)[0]
                else:
                    rec["notes"].append("torch.sparse wrong: err %.2e" % err)
        except Exception as e:  # noqa: BLE001
            rec["notes"].append("torch.sparse: %s" % str(e)[:200])

        log(fmt_record(rec))
        recs.append(rec)
    del case, oper
    if bundle is not None:
        bundle.close()
    torch.cuda.empty_cache()
    return recs


def dynaspa_record(a, dyn, oper, case, timer, rec):
    ins, outs = case.dynaspa_io()
    launched = True
    try:
        for o in outs:
            o.fill_(float("nan"))        # the op must zero-fill its output itself
        dyn.launch(oper, ins, outs)
        torch.cuda.synchronize()
    except dyn.rt.DynaspaError as e:
        if e.status not in (dyn.rt.UNSUPPORTED, None) or not dyn.lib.has("operator_benchmark"):
            raise
        # Not self-dispatching (or no launch in this runtime): only the
        # runtime's own benchmark can time it.
        launched = False
        rec["notes"].append("dynaspa launch unavailable: %s" % e.message[:200])
    bench = None
    if launched:
        err = rel_err(case.dynaspa_result(), case.ref)
    else:
        bench, got = dyn.runtime_benchmark(oper, ins, reps=50, rounds=a.rounds)
        err = rel_err(torch.from_numpy(got[0]).to(DEV), case.ref)
    rec["max_rel_err"] = err
    tolerance = oper.tolerance
    if oper.num_tf32_variants:
        rec["math"] = "tf32"
    if not err <= tolerance:
        rec["flag"] = "max_rel_err %.3g > %g: not timed" % (err, tolerance)
        return
    if launched:
        us, reps = timer.time_fn(lambda: dyn.launch(oper, ins, outs))
        rec.update(dynaspa_us=us, dynaspa_method="torch-cuda-graph", reps=reps)
        if dyn.lib.has("operator_benchmark"):
            bench, _ = dyn.runtime_benchmark(oper, ins, reps=reps, rounds=a.rounds)
    elif bench is not None:
        rec.update(dynaspa_us=bench["median_us"], dynaspa_method="runtime-benchmark")
    if bench is not None:
        rec.update(overhead_us=bench["overhead_us"], zero_fill_us=bench.get("zero_fill_us"),
                   dynaspa_runtime_us=bench["median_us"],
                   dynaspa_variant=bench["variant"],
                   # -1: a standalone kernel builds no tile list.
                   dynaspa_tile_count=bench["tile_count"] if bench["tile_count"] >= 0 else None,
                   dynaspa_host_selected=bench["host_selected"])
    else:
        rec["notes"].append("overhead not measured: runtime has no dynaspa_operator_benchmark")


def fmt_record(r):
    def f(v):
        return "%9.1f" % v if isinstance(v, (int, float)) and v is not None else "        -"
    return ("%-20s b%-2d %-8s d=%.2f (%.3f) dyn %s ovh %s fp32 %s tf32 %s fp16 %s gs %s sp %s "
            "ideal %s err %s%s" % (
                r["name"], r["batch"], r["mask_kind"], r["target_density"], r["density"],
                f(r["dynaspa_us"]), f(r["overhead_us"]), f(r["cudnn_fp32_us"]),
                f(r["cudnn_tf32_us"]), f(r["cudnn_fp16_us"]), f(r["gather_scatter_us"]),
                f(r["torch_sparse_us"]), f(r["ideal_us"]),
                "%.1e" % r["max_rel_err"] if r["max_rel_err"] is not None else "-",
                ("  FLAG " + r["flag"]) if r["flag"] else ""))


def record_key(r):
    return (r["name"], r["batch"], r["mask_kind"], r["target_density"])


def git_commit(a):
    if a.commit:
        return a.commit
    try:
        return subprocess.run(["git", "-C", ROOT, "rev-parse", "--short=12", "HEAD"],
                              capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        pass
    try:
        with open(os.path.join(a.bundles, "manifest.json")) as f:
            return json.load(f).get("commit", "unknown") + " (bundles)"
    except (OSError, ValueError):
        return os.environ.get("DYNASPA_COMMIT", "unknown")


def write(a, doc, records):
    doc["records"] = sorted(records, key=lambda r: (r["name"], r["batch"], r["mask_kind"],
                                                    r["target_density"]))
    doc["incomplete"] = bool(a.incomplete)
    os.makedirs(os.path.dirname(os.path.abspath(a.out)) or ".", exist_ok=True)
    tmp = a.out + ".tmp"
    with open(tmp, "w") as f:
        json.dump(doc, f, indent=1)
    os.replace(tmp, a.out)


def main(argv=None):
    global torch, F, DEV
    a = parse_args(argv)
    if a.dry_run:
        return dry_run(a)
    t_start = time.time()
    a.deadline = t_start + a.max_minutes * 60
    a.incomplete = False
    import torch as _torch
    import torch.nn.functional as _F
    torch, F = _torch, _F
    if a.cpu_smoke:
        DEV = "cpu"
        a.no_dynaspa = True
    elif not torch.cuda.is_available():
        print("no CUDA device (use --dry-run to list the plan)", file=sys.stderr)
        return 2
    torch.backends.cudnn.benchmark = True
    torch.backends.cudnn.allow_tf32 = False
    torch.backends.cuda.matmul.allow_tf32 = False
    a.maskset = maskmod.MaskSet(a.masks)
    warnings.filterwarnings("ignore", message="Sparse CSR tensor support is in beta")

    def log(msg):
        print("[%6.1fs] %s" % (time.time() - t_start, msg), flush=True)

    timer = CpuTimer(a.rounds) if DEV == "cpu" else Timer(a.rounds, a.round_ms, a.max_reps)
    facts = machine_facts(timer, a.quick)
    log("peak fp32 %.1f TFLOP/s, launch floor %s us, graph replay %s us, kernel gap %s us"
        % (facts["peak_fp32_tflops"], facts["launch_floor_us"], facts["graph_replay_us"],
           facts["graph_kernel_gap_us"]))

    dyn = None
    a.no_dynaspa_reason = "--no-dynaspa"
    if not a.no_dynaspa:
        try:
            dyn = Dynaspa(a.runtime, a.bundles, a.variant_lanes)
            log("dynaspa runtime %s on %s" % (dyn.lib.path, dyn.device))
            if not dyn.lib.has("operator_launch"):
                log("WARNING: runtime has no dynaspa_operator_launch; only host-timed runs")
        except Exception as e:  # noqa: BLE001
            a.no_dynaspa_reason = "runtime unavailable: %s" % e
            log("dynaspa disabled: %s" % a.no_dynaspa_reason)

    doc = {
        "gpu": torch.cuda.get_device_name(0) if DEV == "cuda" else "CPU (smoke test)",
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "commit": git_commit(a),
        "peak_fp32_tflops": facts["peak_fp32_tflops"],
        "launch_floor_us": facts["launch_floor_us"],
        "graph_replay_us": facts["graph_replay_us"],
        "graph_kernel_gap_us": facts["graph_kernel_gap_us"],
        "peak_sgemm": facts["peak_sgemm"],
        "sms": torch.cuda.get_device_properties(0).multi_processor_count if DEV == "cuda"
        else None,
        "torch": torch.__version__, "cuda": torch.version.cuda,
        "cudnn": torch.backends.cudnn.version(),
        "timing": ("CUDA graph of one op; R back-to-back replays between two events "
                   "(after a device-side sleep so the host is ahead); time/R; median of "
                   "%d rounds; round ~%.0f ms" % (a.rounds, a.round_ms)),
        "launch_floor_note": ("launch_floor_us: one replay of a 1-kernel graph timed alone "
                              "with events; graph_replay_us: the same graph replayed back to "
                              "back; graph_kernel_gap_us: per kernel in a graph of 20 tiny "
                              "kernels. Single-replay timings of small ops sit on the floor."),
        "masks": os.path.abspath(a.masks),
        "quick": a.quick,
        "tolerance": TOLERANCE,
        "tf32_tolerance": TF32_TOLERANCE,
        "runtime": dyn.lib.path if dyn else None,
        "variant_lanes": bool(a.variant_lanes),
        "dynaspa_note": None if dyn else a.no_dynaspa_reason,
        "overhead_note": ("overhead_us: the prologue's kernels (bitmask, DISTile lists; "
                          "variants select themselves on the device) alone, timed by "
                          "dynaspa_operator_benchmark as in the op: a graph of 8 prologues "
                          "back to back, replayed to fill the op's window, / 8; zero_fill_us: zeroing "
                          "the output alone (part of dynaspa_us, as large as the output "
                          "whatever the mask)"),
    }
    records = {}
    if a.merge and os.path.exists(a.out):
        with open(a.out) as f:
            old = json.load(f)
        for r in old.get("records", []):
            # Each record says which commit measured it: a merged file mixes
            # runs, and the top-level commit is only the latest run's.
            r.setdefault("commit", old.get("commit"))
            records[record_key(r)] = r

    plan = suite.plan(a.op_list, a.batch_list, a.density_list, a.mask_kinds)
    groups = {}
    for op, b, kind, d in plan:
        groups.setdefault((op.name, b), (op, b, []))[2].append((kind, d))
    log("%d records in %d groups" % (len(plan), len(groups)))
    for op, b, items in groups.values():
        if time.time() > a.deadline:
            a.incomplete = True
            log("time budget spent; skipping %s b%d" % (op.name, b))
            continue
        try:
            for r in run_group(a, op, b, items, dyn, timer, facts, log):
                r["commit"] = doc["commit"]
                records[record_key(r)] = r
        except torch.OutOfMemoryError as e:
            log("%s b%d: out of memory: %s" % (op.name, b, e))
            torch.cuda.empty_cache()
        write(a, doc, list(records.values()))
    write(a, doc, list(records.values()))
    flagged = [r for r in records.values() if r.get("flag")]
    log("wrote %d records to %s (%d flagged)%s" % (len(records), a.out, len(flagged),
                                                    " INCOMPLETE" if a.incomplete else ""))
    if dyn:
        dyn.close()
    return 1 if flagged else 0


if __name__ == "__main__":
    sys.exit(main())
