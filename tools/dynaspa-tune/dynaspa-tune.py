#!/usr/bin/env python3
"""dynaspa-tune: choose the k variants of a masked convolution's or masked
batch-matmul's (attention) PolyKernel by measurement (paper Algorithm 1) and
write them as tuning records.

  dynaspa-tune run  OP.mlir --masks DIR --records R.json      compile and measure here
  dynaspa-tune plan OP.mlir --masks DIR --records R.json --out W   next measurements -> W
  dynaspa-tune measure W --runtime libdynaspa_runtime.so      on the device (no compiler)
  dynaspa-tune update OP.mlir --masks DIR --records R.json --results W/results.json
  dynaspa-tune plan OP.mlir ... --all --out W        every (candidate, mask) pair at once
  dynaspa-tune run OP.mlir ... --replay W/results.json   the search on those measurements

`run` is plan + measure + update in a loop until the trial budget is spent,
then the greedy selection of k variants; `plan`/`measure`/`update` are the
same steps for a GPU on another machine (Jetson, Adreno, our H100): compile a
bundle of candidates here, measure it there with the runtime alone, feed the
results back. Every measurement goes into the records file at once, keyed by
candidate and mask, so an interrupted run resumes where it stopped. The masks
are split (by --seed) into train masks, which the search and the selection
see, and held-out masks, on which the chosen PolyKernel is evaluated. See
docs/tuning/tune.md.
"""

import argparse
import contextlib
import json
import math
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path[:0] = [os.path.join(ROOT, "python"), os.path.join(ROOT, "benchmarks")]

import numpy as np  # noqa: E402

import schedules  # noqa: E402  (benchmarks/: the conv template's schedule space)
from dynaspa import tune  # noqa: E402
from dynaspa.runtime import FP32_TOLERANCE, TF32_TOLERANCE  # noqa: E402

KNOBS = ("channel_block", "reduction_block", "threads", "thread_channels", "thread_pixels",
         "vector_width", "unroll", "tiles_per_block", "split_k", "min_blocks",
         "double_buffer", "tf32", "compact")


def fail(msg):
    sys.stderr.write("dynaspa-tune: error: %s\n" % msg)
    sys.exit(1)


def progress(done, total, what, start):
    """One line on stderr, rewritten in place."""
    width = 30
    filled = int(width * done / max(1, total))
    rate = done / max(1e-9, time.time() - start)
    eta = (total - done) / rate if rate > 0 else 0
    sys.stderr.write("\r  [%s%s] %d/%d %s, %.0f s left " % (
        "#" * filled, "." * (width - filled), done, total, what, eta))
    if done == total:
        sys.stderr.write("\n")
    sys.stderr.flush()


# ------------------------------------------------------------ the operator
class Conv:
    """A masked_conv2d from its record signature (what the compiler matches
    records by, so the tuner and the compiler agree on what an op is)."""

    kind = "conv"
    suffix = "_masked_conv2d_0"

    def __init__(self, sig):
        if sig.get("layout") != "nhwc" or sig.get("dilations") != [1, 1]:
            fail("only NHWC convolutions without dilation are tuned")
        dims = lambda t: [int(x) for x in re.match(r"tensor<(.*)x\w+>", t).group(1).split("x")]  # noqa
        self.sig = sig
        self.input, self.filter, self.maskshape = (dims(t) for t in sig["operands"][:3])
        self.out = dims(sig["results"][0])
        self.bias = len(sig["operands"]) == 4
        self.mask_type = sig["operands"][2]
        self.batch, self.H, self.W, self.Cin = self.input
        self.k, _, _, self.Cout = self.filter
        self.stride = sig["strides"][0]
        self.padding = sig["padding"]
        self.name = "tuned"

    def mlir(self, fn, variants):
        """A function applying this op with `variants` ([(g, schedule)])."""
        types = self.sig["operands"]
        args = ", ".join("%%a%d: %s" % (i, t) for i, t in enumerate(types))
        vs = ", ".join("{granularity = #spsparse.granularity<[%d, %d]>, "
                       "schedule = #spsparse.schedule<%s>}" % (g[0], g[1], s) for g, s in variants)
        operands = "%a0, %a1 mask %a2" + (" bias %a3" if self.bias else "")
        return ("func.func @%s(%s) -> %s {\n  %%y = spsparse.masked_conv2d %s "
                "{strides = array<i64: %d, %d>, padding = array<i64: %s>, spsparse.variants = [%s]}"
                "\n      : (%s) -> %s\n  return %%y : %s\n}\n" % (
                    fn, args, self.sig["results"][0], operands, self.stride, self.stride,
                    ", ".join(map(str, self.padding)), vs, ", ".join(types),
                    self.sig["results"][0], self.sig["results"][0]))


class Bmm:
    """A masked_batch_matmul from its record signature: [B, M, K] x [B, K, N]
    with a row mask [B, M] and maybe a column mask. Attention's token masks
    are per image: B = images x `heads`, each image's mask repeated for its
    heads, and a column mask (QK^T: only pairs of kept tokens) is the same
    token mask."""
    kind = "bmm"
    suffix = "_masked_batch_matmul_0"

    def __init__(self, sig, heads):
        dims = lambda t: [int(x) for x in re.match(r"tensor<(.*)x\w+>", t).group(1).split("x")]  # noqa
        self.sig = sig
        self.lhs, self.rhs, self.row = (dims(t) for t in sig["operands"][:3])
        self.col_mask = len(sig["operands"]) == 4
        if self.col_mask and dims(sig["operands"][3]) != [self.rhs[0], self.rhs[2]]:
            fail("the column mask must be [batch, N] (one token mask for rows and columns)")
        if self.col_mask and self.rhs[2] != self.lhs[1]:
            fail("a column mask needs N = M (the same tokens as the rows)")
        self.batch, self.M, self.K = self.lhs
        self.N = self.rhs[2]
        if self.batch % heads:
            fail("batch %d is not a multiple of --heads %d" % (self.batch, heads))
        self.heads, self.images = heads, self.batch // heads
        # The schedule space (benchmarks/schedules.py) reads an op like the
        # suite's: H rows, Cin = K, W = N.
        self.H, self.Cin, self.W = self.M, self.K, self.N
        self.maskshape = [self.batch, self.M]
        self.name = "tuned"

    def mlir(self, fn, variants):
        types = self.sig["operands"]
        args = ", ".join("%%a%d: %s" % (i, t) for i, t in enumerate(types))
        vs = ", ".join("{granularity = #spsparse.granularity<[%s]>, "
                       "schedule = #spsparse.schedule<%s>}" % (", ".join(map(str, g)), s)
                       for g, s in variants)
        operands = "%a0, %a1 row_mask %a2" + (" col_mask %a3" if self.col_mask else "")
        return ("func.func @%s(%s) -> %s {\n  %%y = spsparse.masked_batch_matmul %s "
                "{spsparse.variants = [%s]}\n      : (%s) -> %s\n  return %%y : %s\n}\n" % (
                    fn, args, self.sig["results"][0], operands, vs, ", ".join(types),
                    self.sig["results"][0], self.sig["results"][0]))


def make_op(sig, heads=6):
    """The tuner's view of the op a signature names."""
    if sig["op"] == "spsparse.masked_conv2d":
        return Conv(sig)
    if sig["op"] == "spsparse.masked_batch_matmul":
        return Bmm(sig, heads)
    fail("only spsparse.masked_conv2d and spsparse.masked_batch_matmul are tuned (got %s)"
         % sig["op"])


def gkey(g):
    """A granularity as a mask's tile-count key: "2x2", "16"."""
    return "x".join(str(v) for v in g)


def signature_of(path, compiler):
    """The op's record signature, as the compiler computes it: it prints it
    for an op that no record matches."""
    with tempfile.TemporaryDirectory() as tmp:
        empty = os.path.join(tmp, "empty.json")
        with open(empty, "w") as f:
            json.dump({"format": tune.FORMAT, "version": tune.VERSION, "operators": []}, f)
        r = subprocess.run([compiler, path, "-o", os.path.join(tmp, "x.dspb"), "--records",
                            empty, "--cuda-chips=none", "--opencl=false"],
                           capture_output=True, text=True)
    sigs = re.findall(r"\(signature (\{.*\})\)", r.stderr)
    if not sigs:
        fail("%s: no masked op found (compiler said: %s)" % (path, r.stderr.strip()[:400]))
    if len(sigs) > 1:
        fail("%s: %d masked ops; dynaspa-tune tunes one operator per file" % (path, len(sigs)))
    return json.loads(sigs[0])


def candidate(g, knobs):
    """A candidate with its stable id: the granularity, then each knob's
    initials and value ("g2x2-cb64-rb16-...-db1")."""
    cid = "g%s-" % gkey(g) + "-".join(
        "%s%s" % ("".join(w[0] for w in k.split("_")), int(knobs[k])) for k in KNOBS if k in knobs)
    return {"id": cid, "granularity": list(g), "schedule": knobs}


def candidates(conv, limit, device, math_mode="fp32"):
    """The template's schedule space for this op (benchmarks/schedules.py),
    each with and without double buffering, and in both grid orders where
    they differ (schedules.has_compact_form). OpenCL has no float atomics, so
    no split reduction there. With `math_mode` "tf32", the conv template's
    tensor-core space (schedules.conv_tf32_candidates)."""
    out = []
    if math_mode == "tf32":
        if conv.kind == "bmm":
            fail("--math tf32: tensor-core variants are for convolutions only")
        if device != "cuda":
            fail("--math tf32: only the CUDA target has tensor-core variants")
        return [candidate(g, schedules.parse_schedule(sched))
                for g, sched in schedules.conv_tf32_candidates(conv, conv.batch, limit)]
    if conv.kind == "bmm":
        # The bmm space lists its double-buffered schedules itself (those
        # whose prefetch fits); the bmm template has no split reduction.
        return [candidate(g, schedules.parse_schedule(sched))
                for g, sched in schedules.bmm_candidates(conv, conv.batch, limit)]
    for g, sched in schedules.conv_candidates(conv, conv.batch, limit):
        if device == "opencl" and "split_k = 1" not in sched:
            continue
        for db in (False, True):
            knobs = schedules.parse_schedule(sched)
            if db:
                # planConv: a thread's share of the next chunk and its
                # accumulators must fit. (Pruning drops such candidates as
                # invalid; --limit alone must too.)
                if schedules.conv_prefetch(conv, g, knobs) + knobs["thread_channels"] * \
                        knobs["thread_pixels"] > schedules.REGISTER_LIMIT:
                    continue
                knobs["double_buffer"] = True
            out.append(candidate(g, knobs))
            if schedules.has_compact_form(conv, knobs):
                out.append(candidate(g, dict(knobs, compact=True)))
    return out


# ----------------------------------------------------------------- masks
def make_masks(conv, a, grans):
    import masks as maskmod
    ms = maskmod.MaskSet(a.masks)
    # Token grids are attention's masks, not images.
    kinds = a.kinds or [k for k in ms.kinds() if (k == "tokens") == (conv.kind == "bmm")]
    out = []
    for kind in kinds:
        for d in a.densities:
            for s in range(a.first_mask_seed, a.first_mask_seed + a.per_density):
                if conv.kind == "bmm":
                    tok, src = ms.tokens(kind, conv.images, d, seed=s)
                    if tok.shape[1] != conv.M:
                        fail("%s masks have %d tokens, the op has %d rows"
                             % (kind, tok.shape[1], conv.M))
                    arr = np.repeat(tok, conv.heads, axis=0)
                    m = {"id": "%s-d%g-s%d" % (kind, d, s), "kind": kind,
                         "density": float(arr.mean()), "source": src, "seed": s, "tiles": {}}
                    for (g,) in grans:
                        pad = np.pad(arr, ((0, 0), (0, -conv.M % g)))
                        m["tiles"][gkey((g,))] = int(
                            pad.reshape(conv.batch, -1, g).any(axis=2).sum())
                    m["_array"] = arr
                    out.append(m)
                    continue
                n, ho, wo = conv.maskshape
                arr, src = ms.spatial(kind, n, ho, wo, d, seed=s)
                m = {"id": "%s-d%g-s%d" % (kind, d, s), "kind": kind, "density": float(arr.mean()),
                     "source": src, "seed": s, "tiles": {}}
                for g in grans:
                    gh, gw = g
                    pad = np.pad(arr, ((0, 0), (0, -ho % gh), (0, -wo % gw)))
                    t = pad.reshape(n, pad.shape[1] // gh, gh, pad.shape[2] // gw, gw).any(axis=(2, 4))
                    m["tiles"][gkey(g)] = int(t.sum())
                m["_array"] = arr
                out.append(m)
    rng = random.Random(a.seed)
    if a.split == "stratified":
        # A stratum is a kind at one target density: the id less its seed.
        held = tune.split_masks(out, a.holdout, rng, lambda m: m["id"].rsplit("-s", 1)[0])
    else:
        order = out[:]
        rng.shuffle(order)
        held = set(m["id"] for m in order[:int(round(a.holdout * len(order)))])
    for m in out:
        m["split"] = "heldout" if m["id"] in held else "train"
    return out


# ------------------------------------------------------------ cost model
class Predictor:
    """predict(c, m) in microseconds from dynaspa-cost, or None where the
    model has no answer. Queries go in batches (`prefetch`): the model is
    asked only about the pairs a round scores, not the whole space."""

    def __init__(self, conv, a):
        self.conv, self.a, self.table = conv, a, {}

    def prefetch(self, pairs):
        conv, queries, keys = self.conv, [], []
        for c, m in pairs:
            if (c["id"], m["id"]) in self.table:
                continue
            if c["schedule"].get("tf32"):
                # The model has no tensor-core profile: no prediction.
                self.table[(c["id"], m["id"])] = None
                continue
            tiles = m["tiles"][gkey(c["granularity"])]
            if conv.kind == "bmm":
                queries.append(self.bmm_query(c, m, tiles))
                keys.append((c["id"], m["id"]))
                continue
            area = c["granularity"][0] * c["granularity"][1]
            active = float(m["density"]) * conv.maskshape[1] * conv.maskshape[2] * conv.batch
            queries.append({"conv": {"batch": conv.batch, "height": conv.H, "width": conv.W,
                                     "in_channels": conv.Cin, "out_channels": conv.Cout,
                                     "kernel": [conv.k, conv.k], "strides": [conv.stride] * 2,
                                     "padding": conv.padding, "bias": conv.bias},
                            "granularity": c["granularity"], "schedule": c["schedule"],
                            "active_tiles": tiles,
                            "pixel_fraction": min(1.0, active / max(1, tiles * area))})
            keys.append((c["id"], m["id"]))
        if not queries:
            return
        cmd = [self.a.cost]
        if self.a.cost_device_file:
            cmd += ["--device-file", self.a.cost_device_file]
        r = subprocess.run(cmd + ["-"], input=json.dumps({"queries": queries}),
                           capture_output=True, text=True)
        if r.returncode:
            fail("dynaspa-cost failed: %s" % r.stderr.strip()[:400])
        for k, p in zip(keys, json.loads(r.stdout)["predictions"]):
            self.table[k] = p["ns"] / 1000.0 if "ns" in p else None

    def __call__(self, c, m):
        return self.table.get((c["id"], m["id"]))

    def bmm_query(self, c, m, tiles):
        """The model's query for a bmm candidate: the outputs written are the
        set rows (times the set columns with a column mask) of the active
        tiles' rows."""
        op, arr, rows = self.conv, m["_array"], c["granularity"][0]
        pad = np.pad(arr, ((0, 0), (0, -op.M % rows)))
        active = np.repeat(pad.reshape(op.batch, -1, rows).any(axis=2), rows, axis=1)[:, :op.M]
        cols = arr.sum(axis=1) if op.col_mask else np.full(op.batch, op.N)
        written = float((arr.sum(axis=1) * cols).sum())
        covered = float((active.sum(axis=1) * op.N).sum())
        return {"bmm": {"batch": op.batch, "m": op.M, "k": op.K, "n": op.N,
                        "col_mask": op.col_mask},
                "granularity": c["granularity"], "schedule": c["schedule"],
                "active_tiles": tiles,
                "write_fraction": min(1.0, written / covered) if covered else 1.0}


# ------------------------------------------------------------ measurement
def target_flags(a):
    """dynaspa-compile's target flags: PTX and, where ptxas is, a cubin for
    --chip (else the driver JITs the PTX); or SPIR-V for OpenCL."""
    if a.device != "cuda":
        return ["--cuda-chips=none"]
    ptxas = shutil.which("ptxas") or os.path.exists("/usr/local/cuda/bin/ptxas")
    return (["--cuda-chips=" + a.chip, "--opencl=false"]
            + (["--cubin-chips=" + a.chip] if ptxas else []))


def write_plan(conv, pairs, masks, a, out):
    """A bundle of the candidates in `pairs` and what to measure on which
    mask, in `out` (everything `measure` needs on the device)."""
    os.makedirs(out, exist_ok=True)
    # measure resumes from a results.json in the folder: not from another plan's.
    if os.path.exists(os.path.join(out, "results.json")):
        os.remove(os.path.join(out, "results.json"))
    cands = {}
    for c, m in pairs:
        cands.setdefault(c["id"], (c, []))[1].append(m["id"])
    funcs = []
    manifest = {"signature": conv.sig, "seed": a.seed, "candidates": [], "masks": {},
                "heads": getattr(conv, "heads", None)}
    for i, (cid, (c, mids)) in enumerate(cands.items()):
        fn = "cand%d" % i
        funcs.append(conv.mlir(fn, [(c["granularity"], schedules.format_schedule(c["schedule"]))]))
        manifest["candidates"].append({"id": cid, "operator": fn + conv.suffix,
                                       "masks": mids})
    needed = {mid for _, (_, mids) in cands.items() for mid in mids}
    for m in masks:
        if m["id"] in needed:
            np.save(os.path.join(out, m["id"] + ".npy"), m["_array"])
            manifest["masks"][m["id"]] = m["id"] + ".npy"
    src = os.path.join(out, "candidates.mlir")
    with open(src, "w") as f:
        f.write("\n".join(funcs))
    r = subprocess.run([a.compiler, src, "-o", os.path.join(out, "candidates.dspb")] + target_flags(a),
                       capture_output=True, text=True)
    if r.returncode:
        fail("dynaspa-compile failed on the candidates:\n%s" % r.stderr[-2000:])
    with open(os.path.join(out, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=1)
    return manifest


def reference(x, w, bias, stride, pad):
    """The op's meaning before the mask, in float64: NHWC conv and bias. On
    the GPU through PyTorch where there is one (a batch-16 SIGE layer is
    ~155 GFLOP: minutes in NumPy), as a CUDA tensor; else in NumPy."""
    try:
        import torch
        cuda = torch.cuda.is_available()
    except ImportError:
        cuda = False
    if cuda:
        import torch.nn.functional as F
        xt = torch.from_numpy(x).cuda().double().permute(0, 3, 1, 2)
        wt = torch.from_numpy(w).cuda().double().permute(3, 2, 0, 1)
        y = F.conv2d(F.pad(xt, (pad[2], pad[3], pad[0], pad[1])), wt, stride=stride)
        if bias is not None:
            y += torch.from_numpy(bias).cuda().double()[None, :, None, None]
        return y.permute(0, 2, 3, 1).contiguous()
    n, h, wd, ci = x.shape
    kh, kw, _, co = w.shape
    xp = np.pad(x.astype(np.float64), ((0, 0), (pad[0], pad[1]), (pad[2], pad[3]), (0, 0)))
    ho = (h + pad[0] + pad[1] - kh) // stride + 1
    wo = (wd + pad[2] + pad[3] - kw) // stride + 1
    y = np.zeros((n, ho, wo, co))
    for i in range(kh):
        for j in range(kw):
            win = xp[:, i:i + stride * ho:stride, j:j + stride * wo:stride, :]
            y += np.einsum("nhwc,cd->nhwd", win, w[i, j].astype(np.float64))
    if bias is not None:
        y += bias
    return y


def masked_error(got, full, keep):
    """max |got - keep * full| / max(1, max |keep * full|): `full` the
    unmasked float64 result (NumPy or a CUDA tensor), `keep` the boolean
    mask broadcast against it."""
    if not isinstance(full, np.ndarray):
        import torch
        ref = full * torch.from_numpy(np.ascontiguousarray(keep)).to(full.device)
        diff = (torch.from_numpy(got).to(full.device).double() - ref).abs().max().item()
        return diff / max(1.0, ref.abs().max().item())
    ref = full * keep
    return float(np.abs(got - ref).max() / max(1.0, np.abs(ref).max()))


def save_results(path, device, a, results):
    """results.json, replaced whole (a kill mid-write leaves the last copy),
    with the timing settings it was measured with."""
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump({"device": device, "timing": {"warmup": a.warmup, "reps": a.reps,
                                                "rounds": a.rounds},
                   "results": results}, f, indent=1)
    os.replace(tmp, path)


def measure(a):
    """Runtime only: every (candidate, mask) of the plan, checked against
    float64 before it is timed. Resumable: the pairs a results.json from the
    same device already holds are skipped, and the file is saved as it goes
    (every 30 s and at the end), so a long plan can span several device
    sessions (--max-minutes stops cleanly)."""
    with open(os.path.join(a.plan, "manifest.json")) as f:
        man = json.load(f)
    op = make_op(man["signature"], man.get("heads") or 6)
    rng = np.random.default_rng(man["seed"])
    masks = {mid: np.load(os.path.join(a.plan, p)) for mid, p in man["masks"].items()}
    if op.kind == "bmm":
        # Random operands; the float64 reference masked by rows (and columns).
        lhs = rng.uniform(-1, 1, op.lhs).astype(np.float32)
        rhs = rng.uniform(-1, 1, op.rhs).astype(np.float32)
        full = np.matmul(lhs.astype(np.float64), rhs.astype(np.float64))
        masks = {mid: m != 0 for mid, m in masks.items()}

        def case(m):
            # The mask is applied per check (a float64 B x M x N per mask
            # would not fit for long sequences).
            keep = lambda: m[:, :, None] & (m[:, None, :] if op.col_mask else True)  # noqa
            return [lhs, rhs, m] + ([m] if op.col_mask else []), keep
    else:
        x = rng.standard_normal(op.input).astype(np.float32)
        w = (rng.standard_normal(op.filter) / math.sqrt(op.k * op.k * op.Cin)).astype(np.float32)
        b = rng.standard_normal(op.Cout).astype(np.float32) if op.bias else None
        # One unmasked reference; each mask only selects from it.
        full = reference(x, w, b, op.stride, op.padding)

        def case(m):
            return [x, w, m != 0] + ([b] if op.bias else []), lambda: (m != 0)[..., None]
    cases = {mid: case(m) for mid, m in masks.items()}

    from dynaspa import runtime as rt
    ctx = rt.Library(a.runtime).context(a.device)
    bundle = ctx.load_bundle(os.path.join(a.plan, "candidates.dspb"))
    out = os.path.join(a.plan, "results.json")
    results = {}
    if os.path.exists(out):
        with open(out) as f:
            old = json.load(f)
        if old.get("device") == ctx.device_name():
            results = old["results"]
        else:
            print("%s: measured on %s, not %s: measuring again"
                  % (out, old.get("device"), ctx.device_name()), file=sys.stderr)
    todo = [(c, mid) for c in man["candidates"] for mid in c["masks"]
            if mid not in results.get(c["id"], {})]
    total = sum(len(c["masks"]) for c in man["candidates"])
    if len(todo) < total:
        print("resuming: %d of %d already measured" % (total - len(todo), total))
    done, start = 0, time.time()
    saved, oper, prepared = start, None, None
    for c, mid in todo:
        if a.max_minutes and time.time() - start > 60 * a.max_minutes:
            break
        if prepared != c["id"]:
            oper = bundle.operator(bundle.find_operator(c["operator"]))
            oper.prepare()
            prepared = c["id"]
        inputs, keep = cases[mid]
        got = oper.run(inputs)[0]
        err = masked_error(got, full, keep())
        entry = {"max_rel_err": err}
        if err <= oper.tolerance:
            entry["us"] = oper.benchmark(warmup=a.warmup, reps=a.reps,
                                         rounds=a.rounds)["median_us"]
        results.setdefault(c["id"], {})[mid] = entry
        done += 1
        progress(done, len(todo), "measurements", start)
        if time.time() - saved > 30:
            save_results(out, ctx.device_name(), a, results)
            saved = time.time()
    save_results(out, ctx.device_name(), a, results)
    have = sum(len(r) for r in results.values())
    print("wrote %s (%d measurements on %s%s)" % (
        out, have, ctx.device_name(),
        "" if have == total else "; %d of %d left: run measure again" % (total - have, total)))
    return 0


# ------------------------------------------------------------- the state
class State:
    """The records file's operator entry, the candidates and masks, and the
    tuner over the train masks."""

    def __init__(self, a):
        self.a = a
        if not os.path.isfile(a.op):
            fail("no such file %s" % a.op)
        self.sig = signature_of(a.op, a.compiler)
        self.conv = make_op(self.sig, a.heads)
        try:
            self.doc = tune.load_records(a.records)
        except (ValueError, json.JSONDecodeError) as e:
            fail(str(e))
        self.rec = tune.operator_record(self.doc, self.sig)
        self.cands = candidates(self.conv, a.limit, a.device, a.math)
        grans = sorted({tuple(c["granularity"]) for c in self.cands})
        self.masks = make_masks(self.conv, a, grans)
        by_id = {c["id"]: c for c in self.rec["candidates"]}
        self.measured = {}
        for c in self.cands:
            for mid, e in by_id.get(c["id"], {}).get("measurements", {}).items():
                self.measured[(c["id"], mid)] = e.get("us")
        self.train = [m for m in self.masks if m["split"] == "train"]
        self.heldout = [m for m in self.masks if m["split"] == "heldout"]
        self.predict = Predictor(self.conv, a) if a.cost else (lambda c, m: None)
        if a.prune_top:
            self.prune(a.prune_top)
        if a.refine_top:
            self.refine(a.refine_top)
        if a.remeasure:
            # The records' times of these candidates are from another
            # compiler or runtime: the new ones replace them.
            self.measured = {}
        # A launched variant costs the device's kernel gap where the device
        # file has a calibrated one (dynaspa-calibrate), else the default.
        self.slots = (tune.Slots.from_device_file(a.cost_device_file)
                      if a.cost_device_file else tune.Slots())
        self.tuner = tune.Tuner(self.cands, self.train, self.predict, self.measured,
                                seed=a.seed + self.trials(), slots=self.slots)

    def prune(self, top):
        """Keeps the `top` candidates by the model's mean predicted time over
        the train masks (what spsparse-prune-schedules does in the
        compiler), so that `plan --all` can measure the pruned space
        exhaustively."""
        if not self.a.cost:
            fail("--prune-top needs the cost model (--cost)")
        if self.a.math == "tf32":
            fail("--prune-top: the cost model has no tensor-core (tf32) profile; measure the "
                 "tf32 space instead (plan --all, or run without --prune-top)")
        self.predict.prefetch([(c, m) for c in self.cands for m in self.train])

        def score(c):
            ts = [self.predict(c, m) for m in self.train]
            return math.inf if None in ts else sum(ts) / len(ts)
        self.keep(sorted(self.cands, key=score)[:top])

    def keep(self, cands):
        """Narrows the space to `cands`. Records may hold candidates outside
        it (another N, another device file): the search and its budget see
        only the kept ones."""
        self.cands = cands
        kept = {c["id"] for c in cands}
        self.measured = {k: v for k, v in self.measured.items() if k[0] in kept}

    def refine(self, top):
        """Keeps the `top` candidates measured best on each train mask (from
        the records; the union over the masks, so that a variant that wins
        only on sparse or only on dense masks stays) and each one's other
        grid order (`compact`): a search around what won, for a knob the
        records' search did not have."""
        best = set()
        for m in self.train:
            timed = [(self.measured[(c["id"], m["id"])], c["id"]) for c in self.cands
                     if self.measured.get((c["id"], m["id"])) is not None]
            best.update(cid for _, cid in sorted(timed)[:top])
        if not best:
            fail("--refine-top: no candidate of this space is measured on a train mask "
                 "in %s" % self.a.records)

        def twin_key(c):
            return (tuple(c["granularity"]),
                    tuple(sorted((k, v) for k, v in c["schedule"].items() if k != "compact")))
        keys = {twin_key(c) for c in self.cands if c["id"] in best}
        self.keep([c for c in self.cands if twin_key(c) in keys])

    def trials(self):
        return sum(1 for k in self.measured if any(m["id"] == k[1] for m in self.train))

    def next_pairs(self):
        """The search's next measurements while the budget lasts; then those
        that put the best candidates on every train mask; then the held-out
        masks for every candidate known on all train masks (the evaluation's
        per-mask oracle is over those)."""
        a = self.a
        if self.trials() < a.trials:
            pairs = self.tuner.round(a.k, a.batch, a.per_variant, a.explore)
            if pairs:
                return pairs[:a.trials - self.trials()]
        pairs = self.tuner.complete(a.top)
        if pairs:
            return pairs
        full = [c for c in self.cands
                if all(self.measured.get((c["id"], m["id"])) is not None for m in self.train)]
        return [(c, m) for c in full for m in self.heldout
                if (c["id"], m["id"]) not in self.measured]

    def absorb(self, results):
        by_id = {c["id"]: c for c in self.rec["candidates"]}
        for cid, per in results.items():
            c = next(c for c in self.cands if c["id"] == cid)
            entry = by_id.get(cid)
            if entry is None:
                entry = {"id": cid, "granularity": c["granularity"], "schedule": c["schedule"],
                         "status": "ok", "measurements": {}}
                self.rec["candidates"].append(entry)
                by_id[cid] = entry
            for mid, e in per.items():
                entry["measurements"][mid] = e
                self.measured[(cid, mid)] = e.get("us")
                if e.get("us") is None:
                    entry["status"] = "wrong result"
        self.rec["masks"] = [{k: v for k, v in m.items() if not k.startswith("_")}
                             for m in self.masks]
        tune.save_records(self.doc, self.a.records)

    def finish(self):
        """Greedy selection on the train masks, dispatch ranges, evaluation
        on the held-out masks; the variants go into the records."""
        a = self.a
        chosen = self.tuner.select(a.k)
        if not chosen:
            fail("no candidate has a correct measurement on every train mask yet")
        variants = tune.dispatch_ranges(chosen, self.train, self.tuner.time, self.slots)
        t = self.tuner.time
        full = [c for c in self.cands if all(t(c, m) is not None for m in self.masks)]
        best1 = tune.greedy_select(
            [c for c in self.cands if all(t(c, m) is not None for m in self.train)],
            self.train, t, 1, self.slots)
        evalset = [m for m in self.heldout if all(t(c, m) is not None for c in chosen + best1)]

        def mean(xs):
            return sum(xs) / len(xs) if xs else None
        disp = mean([tune.dispatched_time(variants, self.cands, m, t) for m in evalset])
        oracle = mean([min(t(c, m) for c in full) for m in evalset]) if full else None
        single = mean([t(best1[0], m) for m in evalset]) if best1 else None
        self.rec["selection"] = {
            "method": "greedy supermodular (dynaspa-tune)", "k": a.k, "seed": a.seed,
            "masks": [m["id"] for m in self.train],
            "slots_us": {"variant": self.slots.variant_us,
                         "granularity": self.slots.granularity_us},
            "expected_us": tune.expected_time(chosen, self.train, t, self.slots),
            "heldout": {"masks": [m["id"] for m in evalset], "dispatched_us": disp,
                        "oracle_us": oracle, "best_single_us": single,
                        "best_single": best1[0]["id"] if best1 else None}}
        self.rec["variants"] = [{k: v for k, v in x.items()} for x in variants]
        tune.save_records(self.doc, a.records)
        print("\n%-4s %-44s %-9s %s" % ("", "variant", "tiles", "wins (train masks)"))
        for i, v in enumerate(variants):
            wins = sum(1 for m in self.train
                       if min(chosen, key=lambda c: t(c, m))["id"] == v["candidate"])
            print("%-4d %-44s %-9s %d" % (i, v["candidate"][:44],
                                          "%s" % v.get("tiles", "rest"), wins))
        fmt = lambda v: "-" if v is None else "%.1f us" % v  # noqa: E731
        print("\nheld-out masks (%d): PolyKernel %s, per-mask oracle %s, best single variant %s"
              % (len(evalset), fmt(disp), fmt(oracle), fmt(single)))
        print("measurements: %d (%d on train masks); records: %s"
              % (len(self.measured), self.trials(), a.records))
        if a.bundle:
            r = subprocess.run([a.compiler, a.op, "-o", a.bundle, "--records", a.records]
                               + target_flags(a),
                               capture_output=True, text=True)
            if r.returncode:
                fail("dynaspa-compile with the records failed:\n%s" % r.stderr[-2000:])
            print("tuned bundle: %s" % a.bundle)


def run(a):
    st = State(a)
    rounds = 0
    replay = None
    if a.replay:
        with open(a.replay) as f:
            replay = json.load(f)["results"]
    while True:
        pairs = st.next_pairs()
        if not pairs:
            break
        rounds += 1
        with tempfile.TemporaryDirectory() as work:
            print("round %d: %d measurements of %d candidates" % (
                rounds, len(pairs), len({c["id"] for c, _ in pairs})), flush=True)
            if replay is not None:
                # Only the pairs this round asks for, from the earlier
                # measurements, so the search sees what it would have seen.
                missing = [(c["id"], m["id"]) for c, m in pairs
                           if m["id"] not in replay.get(c["id"], {})]
                if missing:
                    fail("%s has no measurement of %s on %s" % (a.replay, *missing[0]))
                st.absorb({cid: {mid: replay[cid][mid] for c, m in pairs
                                 if c["id"] == cid for mid in [m["id"]]}
                           for cid in {c["id"] for c, _ in pairs}})
                continue
            write_plan(st.conv, pairs, st.masks, a, work)
            ma = argparse.Namespace(plan=work, runtime=a.runtime, device=a.device,
                                    warmup=a.warmup, reps=a.reps, rounds=a.rounds,
                                    max_minutes=0)
            with contextlib.redirect_stdout(sys.stderr):
                measure(ma)
            with open(os.path.join(work, "results.json")) as f:
                st.absorb(json.load(f)["results"])
    st.finish()
    return 0


def plan(a):
    st = State(a)
    # --all: every candidate on every mask, for a device that is lent too
    # briefly for a plan/measure/update cycle per round; `run --replay`
    # then searches with those measurements.
    pairs = ([(c, m) for c in st.cands for m in st.masks
              if (c["id"], m["id"]) not in st.measured] if a.all else st.next_pairs())
    if not pairs:
        print("nothing left to measure: run `dynaspa-tune update` without --results to select")
        return 0
    write_plan(st.conv, pairs, st.masks, a, a.out)
    print("wrote %s: %d measurements of %d candidates; on the device: dynaspa-tune measure %s "
          "--runtime <libdynaspa_runtime.so>" % (a.out, len(pairs),
                                                 len({c["id"] for c, _ in pairs}), a.out))
    return 0


def update(a):
    st = State(a)
    if a.results:
        with open(a.results) as f:
            doc = json.load(f)
        if doc.get("results") is None:
            fail("%s: no results" % a.results)
        st.absorb(doc["results"])
    if st.next_pairs():
        print("recorded; more to measure (trials %d of %d): run `dynaspa-tune plan` again"
              % (st.trials(), a.trials))
        return 0
    st.finish()
    return 0


def main(argv=None):
    p = argparse.ArgumentParser(prog="dynaspa-tune", description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter,
                                epilog=__doc__.split("\n\n", 1)[1])
    sub = p.add_subparsers(dest="cmd", required=True)
    build = os.path.join(ROOT, "build")

    def common(q):
        q.add_argument("op", help="MLIR file with one spsparse.masked_conv2d or "
                       "spsparse.masked_batch_matmul")
        q.add_argument("--heads", type=int, default=6,
                       help="batch-matmul: attention heads per image (a token mask per image)")
        q.add_argument("--masks", required=True, help="mask directory (index.json + .npy)")
        q.add_argument("--records", required=True, help="tuning-record JSON (read and written)")
        q.add_argument("--k", type=int, default=6, help="variants in the PolyKernel")
        q.add_argument("--trials", type=int, default=200,
                       help="budget: measurements on train masks before the selection")
        q.add_argument("--batch", type=int, default=4, help="masks per mini-batch")
        q.add_argument("--per-variant", type=int, default=2,
                       help="candidates explored per variant slot and round")
        q.add_argument("--explore", type=float, default=0.25,
                       help="fraction of each round's candidates drawn at random")
        q.add_argument("--top", type=int, default=8,
                       help="candidates measured on every train mask before the selection")
        q.add_argument("--limit", type=int, default=None, help="candidate space size")
        q.add_argument("--prune-top", type=int, default=None,
                       help="keep only the cost model's best N candidates (mean predicted "
                       "time over the train masks)")
        q.add_argument("--refine-top", type=int, default=None,
                       help="keep only the N candidates measured best on each train mask "
                       "(from --records) and their other grid order (compact)")
        q.add_argument("--remeasure", action="store_true",
                       help="measure the kept candidates again, ignoring their times in "
                       "--records (after a compiler or runtime change)")
        q.add_argument("--kinds", nargs="+", help="mask kinds (default: all in --masks)")
        q.add_argument("--densities", nargs="+", type=float, default=[0.1, 0.3, 0.5, 0.7, 1.0])
        q.add_argument("--per-density", type=int, default=2, help="masks per kind and density")
        q.add_argument("--first-mask-seed", type=int, default=0,
                       help="masks per kind and density get the seeds from this one on (the "
                       "benchmark suite's are 0: tune on 1 and up to keep its masks unseen)")
        q.add_argument("--holdout", type=float, default=0.3, help="fraction of masks held out")
        q.add_argument("--split", choices=("stratified", "random"), default="stratified",
                       help="how the held-out masks are drawn: 'stratified' (default) takes "
                       "them evenly from every kind and density, so each keeps as many train "
                       "masks as the others; 'random' from all masks at once (the records of "
                       "sessions 4-17)")
        q.add_argument("--seed", type=int, default=0)
        q.add_argument("--device", choices=("cuda", "opencl"), default="cuda")
        q.add_argument("--chip", default="sm_90")
        q.add_argument("--compiler", default=os.path.join(build, "bin", "dynaspa-compile"))
        cost = os.path.join(build, "bin", "dynaspa-cost")
        q.add_argument("--cost", default=cost if os.path.exists(cost) else None,
                       help="dynaspa-cost (the analytical model ranks unmeasured candidates)")
        dev = os.path.join(ROOT, "docs", "tuning", "h100-device.json")
        q.add_argument("--cost-device-file", default=dev if os.path.exists(dev) else None)
        q.add_argument("--bundle", help="also compile the tuned bundle here")
        q.add_argument("--math", choices=("fp32", "tf32"), default="fp32",
                       help="the candidates' arithmetic: fp32 FMAs, or tf32 tensor cores "
                       "(convolutions on CUDA; checked at %g instead of %g; the cost model "
                       "does not rank them, so they are measured)"
                       % (TF32_TOLERANCE, FP32_TOLERANCE))

    def timing(q):
        q.add_argument("--runtime", default=os.path.join(ROOT, "device-out", "rt",
                                                         "libdynaspa_runtime.so"))
        q.add_argument("--warmup", type=int, default=2)
        q.add_argument("--reps", type=int, default=20)
        q.add_argument("--rounds", type=int, default=3)

    r = sub.add_parser("run", help="compile and measure on this machine's device")
    common(r)
    timing(r)
    r.add_argument("--replay", help="a `measure` results.json (of `plan --all`) to take the "
                   "measurements from instead of a device")
    pl = sub.add_parser("plan", help="write the next measurements (bundle + masks) to --out")
    common(pl)
    pl.add_argument("--out", required=True)
    pl.add_argument("--all", action="store_true",
                    help="every candidate on every mask (for `run --replay`)")
    m = sub.add_parser("measure", help="on the device: measure a plan (runtime only)")
    m.add_argument("plan")
    m.add_argument("--device", choices=("cuda", "opencl"), default="cuda")
    m.add_argument("--max-minutes", type=float, default=0,
                   help="stop after this long (results.json keeps what was measured; "
                   "measure again to go on)")
    timing(m)
    u = sub.add_parser("update", help="record a plan's results; select when the budget is spent")
    common(u)
    u.add_argument("--results")
    a = p.parse_args(argv)
    if getattr(a, "cmd", None) != "measure" and not os.access(a.compiler, os.X_OK):
        fail("no compiler at %s (--compiler)" % a.compiler)
    return {"run": run, "plan": plan, "measure": measure, "update": update}[a.cmd](a)


if __name__ == "__main__":
    sys.exit(main())
