#!/usr/bin/env python3
"""The cost model against measured H100 times: how well it ranks schedules,
what pruning with it loses, and how far greedy PolyKernel selection gets.

    # registers of every swept kernel (dynaspa-compile + ptxas, no GPU)
    /usr/bin/python3 benchmarks/model_eval.py registers
    # the device file: dynaspa-calibrate's measurements + latencies fitted to the suite
    /usr/bin/python3 benchmarks/model_eval.py calibrate
    # the evaluation: docs/tuning/h100-eval.json and the scatter plots
    /usr/bin/python3 benchmarks/model_eval.py eval
    # a sweep entry from a `dynaspa-tune plan --all` folder measured on the GPU
    /usr/bin/python3 benchmarks/model_eval.py from-tune W --op NAME --batch B --out SWEEP.json

The model is the analysis library itself, through `dynaspa-cost` (JSON in,
JSON out); this script only builds queries and scores answers. Any sweep JSON
written by `benchmarks/sweep.py measure` can be evaluated (`eval --sweeps`).
Definitions of every number are in docs/tuning/h100-eval.md.
"""

import argparse
import datetime
import glob
import json
import math
import os
import re
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(ROOT, "python"))

import masks as maskmod  # noqa: E402
import suite  # noqa: E402
from dynaspa import tune  # noqa: E402

TUNING = os.path.join(ROOT, "docs", "tuning")
SWEEPS = sorted(glob.glob(os.path.join(ROOT, "docs", "benchmarks", "sweep-h100-*.json")))
REGISTERS = os.path.join(TUNING, "h100-registers.json")
DEVICE = os.path.join(TUNING, "h100-device.json")
BUILD = os.path.join(ROOT, "build", "bin")
PTXAS = "/usr/local/cuda/bin/ptxas"
# Bars of issue 5 (fractions).
BARS = dict(spearman=0.7, prune_top10_loss=0.03, trials_reduction=0.46,
            k6_vs_oracle=0.05, k6_vs_best_k1=0.15)


# ------------------------------------------------------------------ inputs
def parse_schedule(text):
    """`#spsparse.schedule` body ("channel_block = 64, ...") as a dict."""
    out = {}
    for item in filter(None, (s.strip() for s in text.split(","))):
        key, value = (s.strip() for s in item.split("="))
        out[key] = value == "true" if value in ("true", "false") else int(value)
    return out


def load_sweeps(paths):
    """[(source, key, result)] for every (op, batch) of every sweep file."""
    out = []
    for path in paths:
        with open(path) as f:
            doc = json.load(f)
        for key, res in doc["results"].items():
            out.append((os.path.relpath(path, ROOT), key, res))
    return out


def conv_json(op, batch):
    pad = suite.padding(op)
    return {"batch": batch, "height": op.H, "width": op.W, "in_channels": op.Cin,
            "out_channels": op.Cout, "kernel": [op.k, op.k],
            "strides": [op.stride, op.stride], "padding": list(pad)}


def bmm_json(op, batch):
    return {"batch": batch * suite.HEADS, "m": op.H, "k": op.Cin, "n": op.W,
            "col_mask": op.name == "attn_qkt" and suite.QKT_COL_MASK}


def output_bytes(op, batch):
    if op.kind == "conv":
        return 4 * batch * op.Cout * math.prod(suite.out_size(op))
    return 4 * batch * suite.HEADS * op.H * op.W


def describe(op, batch):
    if op.kind == "conv":
        return "%dx%d %dx%dx%d->%d stride %d, batch %d" % (
            op.k, op.k, op.H, op.W, op.Cin, op.Cout, op.stride, batch)
    return "bmm [%d, %d, %d] x [%d, %d, %d] (%d heads x batch %d), token mask%s" % (
        batch * suite.HEADS, op.H, op.Cin, batch * suite.HEADS, op.Cin, op.W, suite.HEADS,
        batch, "s on rows and columns" if bmm_json(op, batch)["col_mask"] else " on rows")


class MaskStats:
    """Active tiles and set-pixel fraction of the masks sweep.py measured
    (the same rule: run.make_mask, seed 0), per granularity."""

    def __init__(self, directory):
        self.set = maskmod.MaskSet(directory)
        self.cache = {}

    def mask(self, op, batch, density):
        key = (op.name, batch, density)
        if key not in self.cache:
            if op.kind == "bmm":
                # run.make_mask: each image's token mask for its heads.
                import numpy as np
                tok = self.set.tokens(op.mask_kinds[0], batch, density, 0)[0]
                self.cache[key] = np.repeat(tok, suite.HEADS, axis=0)
            else:
                ho, wo = suite.out_size(op)
                self.cache[key] = self.set.spatial(op.mask_kinds[0], batch, ho, wo, density,
                                                   0)[0]
        return self.cache[key]

    def bmm_tiles(self, op, batch, density, rows):
        """Active tiles of `rows` tokens, the fraction of the active tiles'
        outputs the row (and QK^T's column) mask keeps, and the tiles of a
        full mask."""
        import numpy as np
        m = self.mask(op, batch, density)
        b, t = m.shape
        pad = np.pad(m, ((0, 0), (0, -t % rows)))
        active = pad.reshape(b, -1, rows).any(axis=2)
        covered = np.repeat(active, rows, axis=1)[:, :t].sum(axis=1) * op.W
        cols = m.sum(axis=1) if op.name == "attn_qkt" and suite.QKT_COL_MASK else op.W
        written = (m.sum(axis=1) * cols).sum()
        return (int(active.sum()), float(written / covered.sum()) if covered.sum() else 1.0,
                b * active.shape[1])

    def tiles(self, op, batch, density, g):
        import numpy as np
        if op.kind == "bmm":
            return self.bmm_tiles(op, batch, density, g[0])
        m = self.mask(op, batch, density)
        n, ho, wo = m.shape
        th, tw = -(-ho // g[0]), -(-wo // g[1])
        pad = np.zeros((n, th * g[0], tw * g[1]), bool)
        pad[:, :ho, :wo] = m
        active = pad.reshape(n, th, g[0], tw, g[1]).any(axis=(2, 4))
        count = int(active.sum())
        # Set pixels over the in-bounds pixels of the active tiles.
        inb = np.zeros_like(pad)
        inb[:, :ho, :wo] = True
        cover = (inb.reshape(n, th, g[0], tw, g[1]).sum(axis=(2, 4)) * active).sum()
        return count, float(m.sum() / cover) if cover else 1.0, n * th * tw


def registers_table():
    if not os.path.exists(REGISTERS):
        return {}
    with open(REGISTERS) as f:
        doc = json.load(f)
    return {(k["op"], k["batch"], tuple(k["granularity"]), k["schedule"]): k["registers"]
            for k in doc["kernels"]}


def run_cost(queries, device_file, tool):
    with tempfile.TemporaryDirectory() as tmp:
        req = os.path.join(tmp, "q.json")
        with open(req, "w") as f:
            json.dump({"queries": queries}, f)
        cmd = [tool, req] + (["--device-file", device_file] if device_file else
                             ["--device", "h100-sxm"])
        out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    return json.loads(out)["predictions"]


# ----------------------------------------------------------------- metrics
def ranks(xs):
    order = sorted(range(len(xs)), key=lambda i: xs[i])
    r = [0.0] * len(xs)
    i = 0
    while i < len(order):
        j = i
        while j + 1 < len(order) and xs[order[j + 1]] == xs[order[i]]:
            j += 1
        for k in range(i, j + 1):
            r[order[k]] = (i + j) / 2.0
        i = j + 1
    return r


def spearman(a, b):
    ra, rb = ranks(a), ranks(b)
    n = len(a)
    ma, mb = sum(ra) / n, sum(rb) / n
    cov = sum((x - ma) * (y - mb) for x, y in zip(ra, rb))
    va = sum((x - ma) ** 2 for x in ra)
    vb = sum((y - mb) ** 2 for y in rb)
    return cov / math.sqrt(va * vb) if va and vb else float("nan")


def search_metrics(pred, meas, keep=0.1, target=0.95):
    """Pruning and search-order numbers of one (op, batch, density).

    prune_loss: best measured time among the model's top ceil(keep * N)
    over the best of all, minus 1. Trials to reach `target` of the best
    (a time <= best / target): with the model's order, the 1-based position
    of the first such candidate; without (random order), its expectation
    over all permutations, (N + 1) / (G + 1) for G such candidates."""
    n = len(meas)
    best = min(meas)
    order = sorted(range(n), key=lambda i: (pred[i], i))
    kept = order[:max(1, math.ceil(keep * n))]
    good = [i for i in range(n) if meas[i] <= best / target]
    model_trials = 1 + next(k for k, i in enumerate(order) if i in good)
    random_trials = (n + 1) / (len(good) + 1)
    return dict(prune_loss=min(meas[i] for i in kept) / best - 1,
                model_trials=model_trials, random_trials=random_trials,
                trials_reduction=1 - model_trials / random_trials,
                spearman=spearman(pred, meas), n=n)


def greedy(time, k):
    """Algorithm 1's greedy step: indices of at most k rows of `time`
    (variants x masks) minimizing the mean per-mask minimum."""
    chosen, best = [], [math.inf] * len(time[0])
    for _ in range(k):
        pick, pick_g = None, sum(best) / len(best)
        for v, row in enumerate(time):
            if v in chosen:
                continue
            g = sum(min(b, t) for b, t in zip(best, row)) / len(best)
            if g < pick_g:
                pick, pick_g = v, g
        if pick is None:
            break
        chosen.append(pick)
        best = [min(b, t) for b, t in zip(best, time[pick])]
    return chosen


def dispatch(chosen, time, train_d, d):
    """The variant a PolyKernel of `chosen` runs on a mask of density d:
    the one that wins the nearest training mask (the tile-count ranges
    split halfway between training masks)."""
    near = min(range(len(train_d)), key=lambda m: (abs(train_d[m] - d), -train_d[m]))
    return min(chosen, key=lambda v: time[v][near])


# ------------------------------------------------------------------- eval
def predict(op, batch, cands, masks, stats, device, tool, tiles="masks", single_block=False,
            regs=None, label="", standalone=False):
    """P[ci][mi]: the model's time (ns) of candidate ci on mask mi of a sweep
    (None where it has no answer), with the active tiles of the mask set
    (`tiles` "masks") or the pruning pass's estimate ("estimate"), and ptxas
    register counts from `regs` where known. With `standalone` (a sweep whose
    bundles lower a lone per-block-list variant standalone) such candidates
    carry no zero fill and no tile list."""
    queries, index = [], []
    for ci, c in enumerate(cands):
        g = tuple(c["granularity"])
        sched = parse_schedule(c["schedule"])
        for mi, m in enumerate(masks):
            active, frac, cap = stats.tiles(op, batch, m["target_density"], g)
            if tiles == "estimate":
                # What spsparse-prune-schedules assumes without masks
                # (estimateActiveTileFraction in ScheduleRanking.h).
                d = m["target_density"]
                f = 1 - (1 - d) ** ((1 + math.sqrt(g[0] * g[1])) / 2)
                active, frac = math.ceil(f * cap), min(1.0, d / f) if f else 1.0
            operator = {"output_bytes": output_bytes(op, batch),
                        "tile_lists": [{"tiles": cap, "tile_pixels": math.prod(g),
                                        "single_block": single_block}],
                        "variant_kernels": 1}
            if standalone and tune.lists_own_tiles({"granularity": g, "schedule": sched}):
                operator.update(tile_lists=[], zero_fill=False)
            q = {"granularity": list(g), "schedule": sched, "active_tiles": active,
                 "operator": operator}
            if op.kind == "conv":
                q.update(conv=conv_json(op, batch), pixel_fraction=frac)
            else:
                q.update(bmm=bmm_json(op, batch), write_fraction=frac)
            r = (regs or {}).get((op.name, batch, g, c["schedule"]))
            if r:
                q["registers"] = r
            queries.append(q)
            index.append((ci, mi))
    P = [[None] * len(masks) for _ in cands]
    for (ci, mi), p in zip(index, run_cost(queries, device, tool)):
        P[ci][mi] = p.get("ns")
        if "error" in p:
            print("%s %s: model rejects %s: %s" % (label, masks[mi]["target_density"],
                                                  cands[ci]["schedule"], p["error"]))
    return P


def evaluate(a):
    tool = os.path.join(a.build, "dynaspa-cost")
    stats = MaskStats(a.masks)
    regs = registers_table() if a.registers == "ptxas" else {}
    device = json.load(open(a.device)) if a.device else {}
    gap = device.get("kernel_gap_ns", 0.0)
    ops_out, scatter = [], []
    for source, key, res in load_sweeps(a.sweeps):
        op = suite.OPS_BY_NAME[res["op"]]
        batch = res["batch"]
        cands = res["candidates"]
        masks = res["masks"]
        P = predict(op, batch, cands, masks, stats, a.device, tool, tiles=a.tiles,
                    single_block=a.tile_list == "single-block", regs=regs, label=key,
                    standalone=res.get("lowering") == "standalone")
        M = [[m["dynaspa_us"][ci] for m in masks] for ci in range(len(cands))]
        per_density = []
        for mi, m in enumerate(masks):
            ok = [ci for ci in range(len(cands))
                  if M[ci][mi] is not None and P[ci][mi] is not None]
            meas = [M[ci][mi] * 1000 for ci in ok]
            pred = [P[ci][mi] for ci in ok]
            s = search_metrics(pred, meas)
            s["density"] = m["target_density"]
            per_density.append(s)
            label = "%s (%s)" % (key, re.sub(r"^(sweep|tune)-|\.json$", "",
                                             os.path.basename(source)))
            scatter += [(label, m["target_density"], p, t) for p, t in zip(pred, meas)]
        sel = select_eval(cands, masks, M, P, gap, a.k)
        entry = {
            "op": op.name, "batch": batch, "source": source,
            "shape": describe(op, batch),
            "candidates": len(cands),
            "spearman": mean([d["spearman"] for d in per_density]),
            "prune_top10_loss": mean([d["prune_loss"] for d in per_density]),
            "trials_reduction": mean([d["trials_reduction"] for d in per_density]),
            "k6_vs_oracle": sel["measured"]["vs_oracle"],
            "k6_vs_best_k1": sel["measured"]["vs_k1"],
            "per_density": per_density,
            "selection": sel,
        }
        ops_out.append(entry)
        print("%-24s %-30s N=%2d spearman %.2f prune loss %5.1f%% trials -%3.0f%% "
              "k6/oracle +%4.1f%% k6 vs k1 %+5.1f%%" % (
                  key, os.path.basename(source), len(cands), entry["spearman"],
                  100 * entry["prune_top10_loss"], 100 * entry["trials_reduction"],
                  100 * entry["k6_vs_oracle"], 100 * entry["k6_vs_best_k1"]))
    return ops_out, scatter


def mean(xs):
    xs = [x for x in xs if x == x]
    return sum(xs) / len(xs) if xs else float("nan")


def select_eval(cands, masks, M, P, gap, k):
    """k-variant PolyKernels against the per-mask oracle and the best single
    variant, on held-out masks.

    measured: leave one density out; greedy k on the measured times of the
    other densities (k is at most their number), dispatch the held-out mask
    to the variant of the nearest training mask. model: greedy k on the
    model's times of all densities, evaluated on the measured times of all
    (nothing measured is used to choose). Candidates missing a time on any
    mask are left out. `with_dispatch` adds what the extra variants cost the
    runtime: a graph gap per extra kernel (tile lists of other granularities
    not counted)."""
    dens = [m["target_density"] for m in masks]
    full = [ci for ci in range(len(cands)) if all(t is not None for t in M[ci])
            and all(p is not None for p in P[ci])]
    Mt = [M[ci] for ci in full]
    Pt = [P[ci] for ci in full]
    out = {}
    folds = []
    for held in range(len(masks)):
        train = [m for m in range(len(masks)) if m != held]
        T = [[row[m] for m in train] for row in Mt]
        chosen = greedy(T, k)
        v = dispatch(chosen, T, [dens[m] for m in train], dens[held])
        # The same set, with the ranges from the model (its time of each
        # chosen variant at the held-out mask's tile count).
        vm = min(chosen, key=lambda c: Pt[c][held])
        k1 = min(range(len(Mt)), key=lambda c: sum(T[c]))
        oracle = min(row[held] for row in Mt)
        t = Mt[v][held]
        extra = gap * (len(chosen) - 1) / 1000
        folds.append(dict(held_out=dens[held], variants=[full[c] for c in chosen],
                          time_us=t, model_ranges_us=Mt[vm][held], oracle_us=oracle,
                          k1_us=Mt[k1][held], with_dispatch_us=t + extra))
    out["measured"] = dict(
        folds=folds,
        vs_oracle=mean([f["time_us"] / f["oracle_us"] - 1 for f in folds]),
        vs_k1=mean([1 - f["time_us"] / f["k1_us"] for f in folds]),
        model_ranges_vs_oracle=mean([f["model_ranges_us"] / f["oracle_us"] - 1 for f in folds]),
        model_ranges_vs_k1=mean([1 - f["model_ranges_us"] / f["k1_us"] for f in folds]),
        with_dispatch_vs_oracle=mean([f["with_dispatch_us"] / f["oracle_us"] - 1 for f in folds]),
        with_dispatch_vs_k1=mean([1 - f["with_dispatch_us"] / f["k1_us"] for f in folds]))
    chosen = greedy(Pt, k)
    runs = []
    for m in range(len(masks)):
        v = min(chosen, key=lambda c: Pt[c][m])
        runs.append(dict(density=dens[m], time_us=Mt[v][m],
                         oracle_us=min(row[m] for row in Mt)))
    k1 = min(range(len(Mt)), key=lambda c: sum(Mt[c]))
    out["model"] = dict(
        variants=[full[c] for c in chosen], runs=runs,
        vs_oracle=mean([r["time_us"] / r["oracle_us"] - 1 for r in runs]),
        vs_best_measured_k1=mean([1 - r["time_us"] / Mt[k1][m] for m, r in enumerate(runs)]))
    return out


def plot(scatter, path, title):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    keys = sorted({s[0] for s in scatter})
    cols = 4
    rows = -(-len(keys) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(4.0 * cols, 3.6 * rows), squeeze=False)
    colors = {0.1: "tab:blue", 0.3: "tab:orange", 0.5: "tab:green", 1.0: "tab:red"}
    for ax, key in zip(axes.flat, keys):
        pts = [s for s in scatter if s[0] == key]
        for d in sorted({s[1] for s in pts}):
            xs = [s[2] / 1000 for s in pts if s[1] == d]
            ys = [s[3] / 1000 for s in pts if s[1] == d]
            ax.scatter(xs, ys, s=10, color=colors.get(d), label="d=%.1f" % d)
        lo = min(min(s[2], s[3]) for s in pts) / 1000
        hi = max(max(s[2], s[3]) for s in pts) / 1000
        ax.plot([lo, hi], [lo, hi], "k:", lw=0.8)
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_title(key, fontsize=8)
        ax.set_xlabel("model (µs)")
        ax.set_ylabel("measured (µs)")
        ax.legend(fontsize=7)
    for ax in list(axes.flat)[len(keys):]:
        ax.axis("off")
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def cmd_eval(a):
    if a.out and os.path.exists(a.out) and not (a.merge or a.overwrite):
        # The default --out is the curated docs/tuning/h100-eval.json, which
        # holds other sweeps' entries and the dynaspa_tune results.
        print("model_eval.py eval: %s exists: --merge replaces only this run's entries, "
              "--overwrite replaces the whole file" % a.out, file=sys.stderr)
        return 2
    ops, scatter = evaluate(a)
    if a.plot:
        plot(scatter, a.plot, a.title)
    if not a.out:
        return 0
    if a.merge and os.path.exists(a.out):
        # Replace only the (op, source) entries this run evaluated; keep the
        # rest of the file (other sweeps, dynaspa_tune, notes).
        with open(a.out) as f:
            old = json.load(f)
        done = {(o["op"], o["batch"], o["source"]) for o in ops}
        old["operators"] = [o for o in old["operators"]
                            if (o["op"], o["batch"], o["source"]) not in done] + ops
        old["notes"] = [n for n in old.get("notes", []) if "cover conv only" not in n]
        for n in NOTES_BMM:
            if n not in old["notes"]:
                old["notes"].append(n)
        with open(a.out, "w") as f:
            json.dump(old, f, indent=1)
        print("merged into", a.out)
        return 0
    commit = subprocess.run(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"],
                            capture_output=True, text=True).stdout.strip()
    doc = {"gpu": "NVIDIA H100 80GB HBM3 (measured: %s)" % ", ".join(
        sorted({os.path.basename(s) for s in a.sweeps})),
        "date": datetime.date.today().isoformat(), "commit": commit,
        "device": os.path.relpath(a.device, ROOT) if a.device else "h100-sxm (built-in)",
        "registers": a.registers, "k": a.k, "bars": BARS,
        "notes": NOTES, "operators": ops}
    with open(a.out, "w") as f:
        json.dump(doc, f, indent=1)
    print("wrote", a.out)
    return 0


NOTES = [
    "Fractions. spearman, prune_top10_loss, trials_reduction: means over the sweep's densities "
    "(0.1, 0.3, 0.5, 1.0) of per-density values; see per_density.",
    "k6_vs_oracle / k6_vs_best_k1: selection.measured (leave one density out: greedy on the "
    "measured times of the other three densities, so k is at most 3; the held-out mask runs "
    "the variant of the nearest training density). selection.model chooses k=6 on the model's "
    "times instead and is scored on all measured densities.",
    "The sweeps cover conv only: no attention (masked_batch_matmul) sweep and no cost-model "
    "profile for the bmm template exist yet; 1x1 40x40x256->1024 is covered at batch 1 only.",
]


NOTES_BMM = [
    "Attention (attn_qkt, attn_av: masked_batch_matmul, 6 heads x 197 tokens, head dim 64, "
    "token masks): docs/benchmarks/sweep-h100-attn-b1.json, evaluated with --tile-list "
    "multi-block (the runtime it ran with) and the bmm template's profile (BmmProfile.cpp); "
    "densities 0.1/0.2/0.3/0.5/0.7/1.0, so leave-one-density-out k is at most 5.",
]


# -------------------------------------------------------------- from-tune
VARIANT = re.compile(r"granularity<\[([\d, ]+)\]>, schedule = #spsparse\.schedule<([^>]*)>")


def sweep_from_tune(plan, results, op, batch):
    """A sweep entry (what `eval` reads) from a `dynaspa-tune plan --all`
    folder and the results.json `dynaspa-tune measure` wrote there: each
    candidate's time per target density is the mean over that density's
    masks (the tuner's mask ids are KIND-dDENSITY-sSEED)."""
    import numpy as np
    with open(os.path.join(plan, "manifest.json")) as f:
        manifest = json.load(f)
    with open(os.path.join(plan, "candidates.mlir")) as f:
        variants = VARIANT.findall(f.read())
    if len(variants) != len(manifest["candidates"]):
        raise SystemExit("%s: %d variants in candidates.mlir, %d candidates in the manifest"
                         % (plan, len(variants), len(manifest["candidates"])))
    measured = results["results"]
    groups = {}
    for mid, npy in sorted(manifest["masks"].items()):
        m = re.fullmatch(r"(\w+)-d([\d.]+)-s\d+", mid)
        if not m:
            raise SystemExit("%s: mask id %r is not KIND-dDENSITY-sSEED" % (plan, mid))
        g = groups.setdefault((m.group(1), float(m.group(2))), {"ids": [], "density": []})
        g["ids"].append(mid)
        g["density"].append(float(np.load(os.path.join(plan, npy)).mean()))
    cands, masks = [], []
    for (gran, sched) in variants:
        cands.append({"granularity": [int(x) for x in gran.split(",")],
                      "schedule": sched.strip()})
    for (kind, target), g in sorted(groups.items(), key=lambda kv: kv[0][1]):
        times = []
        for c in manifest["candidates"]:
            got = [measured.get(c["id"], {}).get(mid, {}).get("us") for mid in g["ids"]]
            times.append(None if None in got else sum(got) / len(got))
        masks.append({"kind": kind, "target_density": target,
                      "density": sum(g["density"]) / len(g["density"]), "dynaspa_us": times})
    entry = {"op": op.name, "batch": batch, "candidates": cands, "masks": masks}
    if op.kind == "bmm":
        # dynaspa-compile lowers a lone variant that lists its own tiles
        # standalone (no tile list, no zero fill).
        entry["lowering"] = "standalone"
    return entry


def cmd_from_tune(a):
    op = suite.OPS_BY_NAME[a.op]
    with open(a.results or os.path.join(a.plan, "results.json")) as f:
        results = json.load(f)
    entry = sweep_from_tune(a.plan, results, op, a.batch)
    t = results.get("timing")
    timing = ("dynaspa-tune measure: CUDA-graph replay (runtime benchmark API), %s, median; "
              "every pair checked against float64 first"
              % ("%(reps)d reps x %(rounds)d rounds" % t if t else "reps and rounds not recorded"))
    doc = {"gpu": results.get("device", ""), "timing": timing, "note": a.note, "results": {}}
    if os.path.exists(a.out):
        with open(a.out) as f:
            doc = json.load(f)
    doc.setdefault("results", {})["%s_b%d" % (op.name, a.batch)] = entry
    with open(a.out, "w") as f:
        json.dump(doc, f, indent=1)
    print("%s: %s_b%d, %d candidates x %d densities" % (a.out, op.name, a.batch,
                                                      len(entry["candidates"]),
                                                      len(entry["masks"])))
    return 0


# -------------------------------------------------------------- registers
def cmd_registers(a):
    """ptxas -v registers of every candidate of the given sweeps."""
    compiler = os.path.join(a.build, "dynaspa-compile")
    want = {}
    for _, _, res in load_sweeps(a.sweeps):
        for c in res["candidates"]:
            want[(res["op"], res["batch"], tuple(c["granularity"]), c["schedule"])] = 1
    groups = {}
    for k in want:
        groups.setdefault(k[:2], []).append(k)
    kernels = []
    with tempfile.TemporaryDirectory() as tmp:
        for (name, batch), items in sorted(groups.items()):
            op = suite.OPS_BY_NAME[name]
            mlir = os.path.join(tmp, "%s_b%d.mlir" % (name, batch))
            with open(mlir, "w") as f:
                f.write("\n".join(suite.mlir(op, batch, [(k[2], k[3], None, None)],
                                             fn="%s_b%d_r%d" % (name, batch, i))
                                  for i, k in enumerate(items)))
            bins = os.path.join(tmp, "bin")
            subprocess.run([compiler, mlir, "-o", os.path.join(tmp, "x.dspb"), "--opencl=false",
                            "--cuda-chips=sm_90", "--dump-binaries=" + bins], check=True)
            for i, k in enumerate(items):
                ptx = os.path.join(bins, "%s_b%d_r%d%s_kernels.sm_90.ptx"
                                   % (name, batch, i, "_masked_conv2d_0" if op.kind == "conv"
                                      else "_masked_batch_matmul_0"))
                log = subprocess.run([PTXAS, "-arch=sm_90", "-v", ptx, "-o", os.devnull],
                                     capture_output=True, text=True, check=True).stderr
                entry = None
                for line in log.splitlines():
                    m = re.search(r"Compiling entry function '(\S+)'", line)
                    if m:
                        entry = m.group(1)
                    if entry and entry.endswith("_v0"):
                        m = re.search(r"(\d+) bytes spill stores", line)
                        spill = int(m.group(1)) if m else locals().get("spill", 0)
                        m = re.search(r"Used (\d+) registers", line)
                        if m:
                            kernels.append({"op": name, "batch": batch, "granularity": list(k[2]),
                                            "schedule": k[3], "registers": int(m.group(1)),
                                            "spill_bytes": spill})
    commit = subprocess.run(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"],
                            capture_output=True, text=True).stdout.strip()
    version = subprocess.run([PTXAS, "--version"], capture_output=True,
                             text=True).stdout.strip().splitlines()[-1]
    kernels.sort(key=lambda k: (k["op"], k["batch"], k["granularity"], k["schedule"]))
    with open(a.out, "w") as f:
        json.dump({"compiler": "dynaspa-compile at %s, --cuda-chips=sm_90; ptxas -arch=sm_90 -v "
                               "(%s)" % (commit, version), "kernels": kernels}, f, indent=1)
    print("wrote %s: %d kernels" % (a.out, len(kernels)))
    return 0


# -------------------------------------------------------------- calibrate
def load_json(spec):
    """A JSON file, or `REV:PATH` for a file as of a git revision."""
    if os.path.exists(spec) or ":" not in spec:
        with open(spec) as f:
            return json.load(f)
    out = subprocess.run(["git", "-C", ROOT, "show", spec], capture_output=True,
                         text=True, check=True).stdout
    return json.loads(out)


def overhead_rows(doc, table, single_block):
    """(name, batch, median measured overhead ns, output bytes, tile lists) of
    every (op, batch) of a suite JSON; `table` is the schedules.json it was
    measured with (its granularities give the tile lists)."""
    import schedules
    per = {}
    for r in doc["records"]:
        # Since 79e19c4 the fill is timed apart; the model counts both.
        ns = (r["overhead_us"] + (r.get("zero_fill_us") or 0)) * 1000
        per.setdefault((r["name"], r["batch"]), []).append(ns)
    rows = []
    for (name, batch), vals in sorted(per.items()):
        op = suite.OPS_BY_NAME[name]
        vals.sort()
        if op.kind == "conv":
            ho, wo = suite.out_size(op)
            entry = table.get(suite.bundle_key(op, batch))
            variants = ([(v["granularity"], None, None, None) for v in entry] if entry
                        else schedules.default_variants(op, batch))
            # Every granularity a variant or a cover lists.
            grans = []
            for g, _, _, cover in variants:
                for t in [g] + (list(cover[:2]) if cover else []):
                    if tuple(t) not in grans:
                        grans.append(tuple(t))
            lists = [(batch * -(-ho // g[0]) * -(-wo // g[1]), g[0] * g[1]) for g in grans]
            out_bytes = 4 * batch * ho * wo * op.Cout
        else:
            rows_ = batch * suite.HEADS
            lists = [(rows_ * -(-op.H // 16), 16)]
            out_bytes = 4 * rows_ * op.H * op.W
        rows.append((name, batch, vals[len(vals) // 2], out_bytes,
                     [{"tiles": t, "tile_pixels": p, "single_block": single_block}
                      for t, p in lists]))
    return rows


def fit_one(rows, dev, key, tool):
    """Least squares for the one device field `key` (the overhead is affine
    in each of them); returns (value, relative errors)."""
    def predict(value):
        dev[key] = value
        with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
            json.dump(dev, f)
        qs = [{"operator": {"output_bytes": ob, "tile_lists": lists, "variant_kernels": 0}}
              for _, _, _, ob, lists in rows]
        out = [p["overhead_ns"] for p in run_cost(qs, f.name, tool)]
        os.unlink(f.name)
        return out
    p0, p1 = predict(0.0), predict(1000.0)
    slope = [(b - c) / 1000 for b, c in zip(p1, p0)]
    meas = [r[2] for r in rows]
    value = max(0.0, sum(s * (m - c) for s, m, c in zip(slope, meas, p0))
                / sum(s * s for s in slope))
    fit = predict(round(value, 1))
    for (name, batch, m, _, _), f in zip(rows, fit):
        print("  %-22s b%-2d overhead %7.1f us, model %7.1f us" % (name, batch, m / 1000, f / 1000))
    return round(value, 1), [abs(f - m) / m for f, m in zip(fit, meas)]


def cmd_calibrate(a):
    """The device file the evaluation uses: dynaspa-calibrate's measurements
    (--calibrated) plus the latency constants, fitted to the runtime's
    overhead measurements of the suite (zero fill + tile-list kernels, no
    variant kernel); none of the sweeps is used. memory_latency_ns from the
    suite run with the single-block tile list (the kernel the sweeps ran
    with), atomic_ns from the current suite (multi-block tile lists) with
    that latency; barrier_ns is assumed."""
    old = load_json(a.single_block_suite)
    old_table = load_json(a.single_block_schedules).get("variants", {})
    new = load_json(a.suite)
    new_table = load_json(a.schedules).get("variants", {})
    tool = os.path.join(a.build, "dynaspa-cost")
    # Speeds and the kernel gap as dynaspa-calibrate measured them on the
    # device (docs/tuning/calibration.md); only the latencies, which no probe
    # isolates, are fitted here.
    calibrated = load_json(a.calibrated)
    dev = {k: v for k, v in calibrated.items() if k != "note"}
    dev.update({"barrier_ns": a.barrier_ns, "memory_latency_ns": 0.0, "atomic_ns": 0.0})
    print("memory_latency_ns from %s (single-block tile lists):" % a.single_block_suite)
    latency, err_old = fit_one(overhead_rows(old, old_table, True), dev, "memory_latency_ns",
                               tool)
    dev["memory_latency_ns"] = latency
    print("atomic_ns from %s (multi-block tile lists):" % a.suite)
    atomic, err_new = fit_one(overhead_rows(new, new_table, False), dev, "atomic_ns", tool)
    dev["atomic_ns"] = atomic
    rel = lambda spec: os.path.relpath(spec, ROOT) if os.path.exists(spec) else spec
    dev["note"] = (
        "sms, alpha, gamma, global/shared_bandwidth, kernel_gap_ns: dynaspa-calibrate (%s); "
        "barrier_ns: assumed; "
        "memory_latency_ns: least squares on the median runtime overhead (zero fill + "
        "single-block tile lists) of %d (op, batch) bundles of %s, mean relative error %.0f%%, "
        "max %.0f%%; atomic_ns: likewise on %d bundles of %s (multi-block tile lists), %.0f%% / "
        "%.0f%%. No sweep data used." % (
            rel(a.calibrated), len(err_old), rel(a.single_block_suite), 100 * mean(err_old),
            100 * max(err_old), len(err_new), rel(a.suite), 100 * mean(err_new),
            100 * max(err_new)))
    print("memory_latency_ns = %.1f, atomic_ns = %.1f" % (latency, atomic))
    with open(a.device, "w") as f:
        json.dump(dev, f, indent=1)
    print("wrote", a.device)
    return 0


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--build", default=BUILD, help="directory of dynaspa-cost/dynaspa-compile")
    sub = p.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("registers")
    r.add_argument("--sweeps", nargs="+", default=SWEEPS)
    r.add_argument("--out", default=REGISTERS)
    c = sub.add_parser("calibrate")
    c.add_argument("--suite", default=os.path.join(ROOT, "docs", "benchmarks", "h100.json"))
    c.add_argument("--schedules", default=os.path.join(HERE, "schedules.json"),
                   help="the schedules.json --suite was measured with")
    # The last suite run before the multi-block tile list (commit 1f1410f),
    # with the variants it used.
    c.add_argument("--single-block-suite", default="cd2a52b:docs/benchmarks/h100.json",
                   help="a file, or REV:PATH in git")
    c.add_argument("--single-block-schedules", default="cd2a52b:benchmarks/schedules.json")
    c.add_argument("--calibrated", default=os.path.join(TUNING, "h100-calibrated.json"),
                   help="the device file dynaspa-calibrate wrote on the GPU")
    c.add_argument("--device", default=DEVICE)
    c.add_argument("--barrier-ns", type=float, default=20.0)
    e = sub.add_parser("eval")
    e.add_argument("--sweeps", nargs="+", default=SWEEPS)
    e.add_argument("--masks", default=os.path.join(ROOT, "..", "shared", "masks"))
    e.add_argument("--device", default=DEVICE, help="device JSON ('' = built-in h100-sxm)")
    e.add_argument("--registers", choices=("ptxas", "estimate"), default="ptxas")
    e.add_argument("--tiles", choices=("masks", "estimate"), default="masks",
                   help="active tiles from the measured masks, or the pruning "
                   "pass's clustered-mask estimate")
    # docs/benchmarks/sweep-h100-*.json ran with the single-block tile list.
    e.add_argument("--tile-list", choices=("single-block", "multi-block"),
                   default="single-block", help="the tile-list kernel the sweeps ran with")
    e.add_argument("--k", type=int, default=6)
    e.add_argument("--merge", action="store_true",
                   help="replace only this run's entries in --out, keep the others")
    e.add_argument("--overwrite", action="store_true",
                   help="replace an existing --out with this run's entries alone")
    e.add_argument("--out", default=os.path.join(TUNING, "h100-eval.json"))
    e.add_argument("--plot", default=os.path.join(TUNING, "h100-model-vs-measured.png"))
    e.add_argument("--title", default="cost model vs measured H100 time per schedule candidate")
    t = sub.add_parser("from-tune", help="a sweep entry from a measured dynaspa-tune plan")
    t.add_argument("plan", help="the `dynaspa-tune plan --all` folder")
    t.add_argument("--results", help="its measured results.json (default PLAN/results.json)")
    t.add_argument("--op", required=True, choices=sorted(suite.OPS_BY_NAME))
    t.add_argument("--batch", type=int, required=True)
    t.add_argument("--out", required=True, help="sweep JSON to add the entry to (or create)")
    t.add_argument("--note", default="", help="the new file's note (how it was measured)")
    a = p.parse_args(argv)
    return {"registers": cmd_registers, "calibrate": cmd_calibrate, "eval": cmd_eval,
            "from-tune": cmd_from_tune}[a.cmd](a)


if __name__ == "__main__":
    sys.exit(main())
