#!/usr/bin/env python3
"""Markdown tables and PNG plots from a benchmark JSON (benchmarks/run.py).

    /usr/bin/python3 benchmarks/report.py docs/benchmarks/h100.json
        -> docs/benchmarks/h100.md, docs/benchmarks/h100_speedup.png,
           docs/benchmarks/h100_<op>.png (one per operator)

Speedups are against cuDNN fp32 (TF32 off) of the same run: cudnn_fp32_us / t.
The ideal curve is cudnn_fp32_us / ideal_us, ideal_us = work density x dense
FLOPs / measured fp32 peak. A run whose every record is a TF32 PolyKernel
(`"math": "tf32"`, tensor cores) is compared with cuDNN TF32 instead, with no
ideal (the measured peak is fp32's). Without matplotlib only the markdown is
written.
"""

import argparse
import collections
import json
import math
import os
import sys

SERIES = (  # field, label, matplotlib style
    ("dynaspa_us", "dynaspa", dict(color="C3", marker="o", lw=2)),
    ("gather_scatter_us", "gather-scatter (PyTorch)", dict(color="C0", marker="s", ls="--")),
    ("torch_sparse_us", "torch.sparse (cuSPARSE)", dict(color="C4", marker="^", ls="--")),
    ("cudnn_tf32_us", "cuDNN TF32", dict(color="C2", ls=":")),
    ("cudnn_fp16_us", "cuDNN fp16", dict(color="C1", ls=":")),
    ("ideal_us", "ideal (d x FLOPs / peak)", dict(color="k", ls="-", lw=1)),
)


Baseline = collections.namedtuple("Baseline", "field label ideal")


def baseline(doc):
    """What the speedups are against: cuDNN of the same precision."""
    recs = doc["records"]
    if recs and all(r.get("math") == "tf32" for r in recs):
        return Baseline("cudnn_tf32_us", "cuDNN TF32", False)
    return Baseline("cudnn_fp32_us", "cuDNN fp32", True)


def group_key(r):
    return r["name"]


def grouped(recs):
    """Records by operator, in the suite's order (unknown names last)."""
    try:
        sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
        import suite
        order = {o.name: i for i, o in enumerate(suite.OPS)}
    except ImportError:
        order = {}
    groups = collections.OrderedDict()
    for r in sorted(recs, key=lambda r: (order.get(group_key(r), 1 << 30), group_key(r))):
        groups.setdefault(group_key(r), []).append(r)
    return groups


def shape_str(r):
    if r.get("k") is None:
        return "[%d*%d, %d, %d] x [%d*%d, %d, %d]" % (
            r["batch"], r.get("heads", 6), r["M"], r["K"], r["batch"], r.get("heads", 6),
            r["K"], r["N"])
    return "%dx%d %d->%d k%d s%d" % (r["H"], r["W"], r["Cin"], r["Cout"], r["k"], r["stride"])


def title(r):
    if r.get("k") is None:
        return "%s: %d tokens, %d heads, head dim 64" % (r["op"], r.get("tokens", r["M"]),
                                                         r.get("heads", 6))
    return "%s %s (%s)" % (r["op"], shape_str(r), r["family"])


def speedup(r, field, base_field="cudnn_fp32_us"):
    base, t = r.get(base_field), r.get(field)
    if not base or not t:
        return None
    return base / t


def fmt(v, digits=1):
    if v is None:
        return "–"
    if isinstance(v, float):
        if v != v:
            return "nan"
        return "%.*f" % (digits, v)
    return str(v)


# The performance bars of the fp32 suite (issue 6), each checked on every
# row it applies to: bar_rows gives (title, value format, [(row, value, met)]).
LARGE_WORK_FLOPS = 5e9
PAPER_SHAPES = ("conv3x3_40x40x256", "conv1x1_40x40x256", "conv3x3s2_80x80x128")


def geomean(xs):
    return math.exp(sum(math.log(x) for x in xs) / len(xs)) if xs else None


def bar_rows(recs):
    """[(bar, [(row label, value, met)])] for the issue's bars; a speedup is
    the geometric mean over the mask kinds at one target density."""
    by = collections.defaultdict(list)
    for r in recs:
        by[(r["name"], r["batch"], r["target_density"])].append(r)

    def speedups(pred, density):
        out = []
        for (name, b, d), rs in sorted(by.items()):
            if d != density or not pred(rs[0]):
                continue
            s = geomean([x for x in (speedup(r, "dynaspa_us") for r in rs) if x])
            if s is not None:
                out.append(("%s b%d" % (name, b), s))
        return out

    large = lambda r: r.get("k") is not None and (r.get("flops") or 0) >= LARGE_WORK_FLOPS
    paper = lambda r: r["name"] in PAPER_SHAPES and r["batch"] == 1
    bars = []
    for label, pred, targets in (("large work", large, ((0.1, 8), (0.3, 2.7), (0.5, 1.7))),
                                 ("paper shapes, batch 1", paper,
                                  ((0.1, 4.4), (0.3, 2.5), (0.5, 1.5)))):
        for d, t in targets:
            bars.append(("%s: >= %gx at d=%g" % (label, t, d), "%.2fx",
                         [(n, v, v >= t) for n, v in speedups(pred, d)]))
    bars.append(("full mask: >= 0.85x", "%.2fx",
                 [(n, v, v >= 0.85) for n, v in speedups(lambda r: True, 1.0)]))
    timed = [r for r in recs if r.get("overhead_us") is not None and r.get("dynaspa_us")]
    label = lambda r: "%s b%d %s d=%g" % (r["name"], r["batch"], r["mask_kind"],
                                           r["target_density"])
    bars.append(("overhead <= 8 µs", "%.1f µs",
                 [(label(r), r["overhead_us"], r["overhead_us"] <= 8) for r in timed]))
    bars.append(("overhead <= 6% of the op (large work)", "%.1f%%",
                 [(label(r), 100 * r["overhead_us"] / r["dynaspa_us"],
                   r["overhead_us"] <= 0.06 * r["dynaspa_us"]) for r in timed if large(r)]))
    gs = [r for r in recs if r.get("gather_scatter_us") and r.get("dynaspa_us")]
    bars.append((">= 3x faster than gather-scatter", "%.2fx",
                 [(label(r), r["gather_scatter_us"] / r["dynaspa_us"],
                   r["gather_scatter_us"] >= 3 * r["dynaspa_us"]) for r in gs]))
    eff = [r for r in recs if r.get("active_tile_peak_fraction") is not None and large(r)]
    bars.append(("active tiles >= 60% of the fp32 peak (large work)", "%.0f%%",
                 [(label(r), 100 * r["active_tile_peak_fraction"],
                   r["active_tile_peak_fraction"] >= 0.6) for r in eff]))
    return bars


def bars_markdown(recs, shown=6):
    out = ["## Bars (fp32, issue 6)", "",
           "Each bar on every row it applies to; a missed row is listed with its value "
           "(worst first, at most %d). Speedups are geometric means over the mask kinds." % shown,
           "", "| bar | met | missed (worst first) |", "|---|---|---|"]
    for title_, form, rows in bar_rows(recs):
        missed = sorted((r for r in rows if not r[2]), key=lambda r: r[1],
                        reverse=title_.startswith("overhead"))
        cell = ", ".join("%s %s" % (n, form % v) for n, v, _ in missed[:shown])
        if len(missed) > shown:
            cell += ", … (%d more)" % (len(missed) - shown)
        out.append("| %s | %d of %d | %s |" % (title_, len(rows) - len(missed), len(rows),
                                                cell or "–"))
    out.append("")
    return out


def markdown(doc, path_stem):
    recs = doc["records"]
    base = baseline(doc)
    out = []
    out.append("# Benchmarks: %s" % doc.get("gpu", "?"))
    out.append("")
    out.append("Generated by `benchmarks/report.py` from `%s` (run by `benchmarks/run.py`)."
               % os.path.basename(path_stem + ".json"))
    out.append("")
    out.append("| | |\n|---|---|")
    for k, label in (("gpu", "GPU"), ("date", "date"), ("commit", "commit"),
                     ("torch", "PyTorch"), ("cudnn", "cuDNN"), ("cuda", "CUDA")):
        out.append("| %s | %s |" % (label, doc.get(k)))
    out.append("| measured fp32 peak (SGEMM 8192³, TF32 off) | %.1f TFLOP/s |"
               % doc.get("peak_fp32_tflops", float("nan")))
    out.append("| launch floor: one graph replay timed alone | %s µs |"
               % fmt(doc.get("launch_floor_us"), 1))
    out.append("| one-kernel graph replayed back to back | %s µs |"
               % fmt(doc.get("graph_replay_us"), 2))
    out.append("| kernel-to-kernel inside a graph | %s µs |" % fmt(doc.get("graph_kernel_gap_us"), 2))
    out.append("| quick run | %s |" % doc.get("quick"))
    # A merged file holds records of several runs; each names its commit.
    by_commit = collections.Counter(r.get("commit") or doc.get("commit") for r in recs)
    if len(by_commit) > 1:
        out.append("| records measured at | %s |" % ", ".join(
            "%s (%d)" % (c, n) for c, n in sorted(by_commit.items(), key=lambda x: -x[1])))
    if doc.get("incomplete"):
        out.append("| **incomplete** | the run hit its time budget |")
    out.append("")
    out.append(("Timing: %s. Every time is per op (µs). Speedup = " + base.label + " time / time. "
               "Dense baselines compute the full op then multiply by the mask; they do not "
               "depend on the mask's content and are timed once per (op, batch). "
               "gather-scatter = SBNet/SIGE scheme in PyTorch (index_select → cuDNN/cuBLAS → "
               "index_copy_, best output tile size `b`); its per-mask index build "
               "(`idx µs`, eager, with a host sync) is not in its time. "
               "overhead = the runtime's prologue (bitmask, DISTile lists) alone, one of 8 "
               "back to back in a graph; zero fill = zeroing "
               "the output alone (part of the dynaspa time; as large as the output whatever the mask).") %
               doc.get("timing", ""))
    if doc.get("dynaspa_note"):
        out.append("")
        out.append("**dynaspa not measured:** %s" % doc["dynaspa_note"])
    out.append("")

    groups = grouped(recs)

    # summary: dynaspa speedup per op/batch/density
    dens = sorted({r["target_density"] for r in recs})
    if not base.ideal:
        out.append("")
        out.append("Every dynaspa record here is a TF32 PolyKernel (tensor cores, operands "
                   "reduced to TF32, checked against float64 at %g): speedups are against cuDNN "
                   "TF32, and there is no ideal (the measured peak is fp32's)."
                   % doc.get("tf32_tolerance", 5e-3))
        out.append("")
    out.append("## Summary: dynaspa speedup over %s%s" % (
        base.label, " (ideal in parentheses)" if base.ideal else ""))
    out.append("")
    out.append("| op | batch | mask | " + " | ".join("d=%g" % d for d in dens) + " |")
    out.append("|---|---|---|" + "---|" * len(dens))
    for name, rs in groups.items():
        by = collections.defaultdict(dict)
        for r in rs:
            by[(r["batch"], r["mask_kind"])][r["target_density"]] = r
        for (b, kind), row in sorted(by.items()):
            cells = []
            for d in dens:
                r = row.get(d)
                if r is None:
                    cells.append("")
                    continue
                s = fmt(speedup(r, "dynaspa_us", base.field), 2) + ("⚑" if r.get("flag") else "")
                if base.ideal:
                    s += " (%s)" % fmt(speedup(r, "ideal_us"), 1)
                cells.append(s)
            out.append("| %s | %d | %s | %s |" % (name, b, kind, " | ".join(cells)))
    out.append("")

    if base.ideal:
        out += bars_markdown(recs)

    eff = [r for r in recs if r.get("active_tile_peak_fraction") is not None
           and r["flops"] >= LARGE_WORK_FLOPS]
    if eff:
        out.append("## Active tiles: large-work conv kernels (dense conv >= 5 GFLOP)")
        out.append("")
        out.append("What the variant kernels do on the DISTiles they compute. overshoot = "
                   "pixels of the active DISTiles / active pixels; kernel = dynaspa time "
                   "minus overhead and zero fill; rate = conv FLOPs of the active tiles' "
                   "pixels / kernel time, and as a fraction of the measured fp32 peak.")
        out.append("")
        out.append("| op | batch | mask | d | DISTile | tiles | overshoot | kernel µs "
                   "| TFLOP/s on active tiles | of fp32 peak |")
        out.append("|---|---|---|---|---|---|---|---|---|---|")
        for r in sorted(eff, key=lambda r: (r["name"], r["batch"], r["mask_kind"],
                                            r["target_density"])):
            out.append("| %s | %d | %s | %g | %s | %d | %.2f | %s | %.1f | %.0f%% |" % (
                r["name"], r["batch"], r["mask_kind"], r["target_density"],
                "x".join(str(g) for g in r["dynaspa_granularity"]), r["dynaspa_tile_count"],
                r["tile_overshoot"], fmt(r["kernel_us"]), r["active_tile_tflops"],
                100 * r["active_tile_peak_fraction"]))
        out.append("")

    for name, rs in groups.items():
        out.append("## %s" % title(rs[0]))
        out.append("")
        out.append("| batch | mask | target d | d | dynaspa | overhead | zero fill | cuDNN fp32 | TF32 "
                   "| fp16 | gather-scatter (b) | idx µs | torch.sparse | ideal | speedup "
                   "| ideal speedup | max rel err |")
        out.append("|" + "---|" * 17)
        for r in sorted(rs, key=lambda r: (r["batch"], r["mask_kind"], r["target_density"])):
            gs = fmt(r.get("gather_scatter_us"))
            if r.get("gather_scatter_block") is not None:
                gs += " (%d)" % r["gather_scatter_block"]
            err = fmt(r.get("max_rel_err"), 0) if r.get("max_rel_err") is None else \
                "%.1e" % r["max_rel_err"]
            if r.get("flag"):
                err += " ⚑ " + r["flag"]
            out.append("| %d | %s | %g | %.3f | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |" % (
                r["batch"], r["mask_kind"], r["target_density"], r["density"],
                fmt(r.get("dynaspa_us")), fmt(r.get("overhead_us")), fmt(r.get("zero_fill_us")),
                fmt(r.get("cudnn_fp32_us")),
                fmt(r.get("cudnn_tf32_us")), fmt(r.get("cudnn_fp16_us")), gs,
                fmt(r.get("gather_scatter_index_us"), 0), fmt(r.get("torch_sparse_us")),
                fmt(r.get("ideal_us")), fmt(speedup(r, "dynaspa_us", base.field), 2),
                fmt(speedup(r, "ideal_us"), 2), err))
        notes = sorted({n for r in rs for n in r.get("notes", []) if n})
        if notes:
            out.append("")
            out.append("Notes: " + "; ".join(notes[:6]) + (" …" if len(notes) > 6 else ""))
        out.append("")
    return "\n".join(out) + "\n"


def plots(doc, path_stem):
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib missing: no PNG plots (run report.py where it is, e.g. "
              "/usr/bin/python3 with python3-matplotlib)", file=sys.stderr)
        return []
    from matplotlib.ticker import FuncFormatter
    groups = grouped(doc["records"])
    written = []
    base = baseline(doc)
    series = [s for s in SERIES if s[0] != base.field and (base.ideal or s[0] != "ideal_us")]

    def curve(ax, rs, field, style, label):
        pts = sorted((r["density"], speedup(r, field, base.field)) for r in rs)
        pts = [(x, y) for x, y in pts if y is not None]
        if pts:
            ax.plot([p[0] for p in pts], [p[1] for p in pts], label=label, **style)

    def decorate(ax):
        ax.axhline(1.0, color="grey", lw=0.8)
        ax.set_yscale("log")
        ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: "%g" % v))
        ax.yaxis.set_minor_formatter(FuncFormatter(
            lambda v, _: "%g" % v if ("%.0e" % v)[0] in "25" else ""))
        ax.tick_params(axis="y", which="minor", labelsize=7)
        ax.set_xlim(0, 1.05)
        ax.set_xlabel("density")
        ax.grid(True, which="both", alpha=0.3)

    # one figure per operator: a panel per batch (and mask kind)
    for name, rs in groups.items():
        panels = sorted({(r["batch"], r["mask_kind"]) for r in rs})
        fig, axes = plt.subplots(1, len(panels), figsize=(max(6.5, 4.2 * len(panels)), 3.8),
                                 squeeze=False)
        for ax, (b, kind) in zip(axes[0], panels):
            sub = [r for r in rs if r["batch"] == b and r["mask_kind"] == kind]
            for field, label, style in series:
                curve(ax, sub, field, style, label)
            decorate(ax)
            ax.set_title("batch %d, %s masks" % (b, kind), fontsize=9)
        axes[0][0].set_ylabel("speedup over " + base.label)
        axes[0][-1].legend(fontsize=7, loc="best")
        fig.suptitle("%s — %s" % (title(rs[0]), doc.get("gpu", "")), fontsize=10)
        fig.tight_layout()
        p = "%s_%s.png" % (path_stem, name)
        fig.savefig(p, dpi=110)
        plt.close(fig)
        written.append(p)

    # overview: a panel per operator, dynaspa (solid) and ideal (thin) per batch
    n = len(groups)
    cols = min(4, n) or 1
    rows = max(1, math.ceil(n / cols))
    fig, axes = plt.subplots(rows, cols, figsize=(4.0 * cols, 3.3 * rows), squeeze=False)
    for i, (name, rs) in enumerate(groups.items()):
        ax = axes[i // cols][i % cols]
        for j, b in enumerate(sorted({r["batch"] for r in rs})):
            sub = [r for r in rs if r["batch"] == b]
            c = "C%d" % j
            curve(ax, sub, "dynaspa_us", dict(color=c, marker="o", lw=2), "dynaspa b%d" % b)
            curve(ax, sub, "gather_scatter_us", dict(color=c, ls="--", lw=1),
                  "gather-scatter b%d" % b)
            if base.ideal:
                curve(ax, sub, "ideal_us", dict(color=c, ls=":", lw=1), "ideal b%d" % b)
        decorate(ax)
        ax.set_title(name, fontsize=9)
        ax.legend(fontsize=6)
    for j in range(n, rows * cols):
        axes[j // cols][j % cols].axis("off")
    fig.suptitle("speedup over %s vs density — %s" % (base.label, doc.get("gpu", "")),
                 fontsize=11)
    fig.tight_layout()
    p = path_stem + "_speedup.png"
    fig.savefig(p, dpi=100)
    plt.close(fig)
    written.append(p)
    return written


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("json", nargs="?", default=os.path.join(
        os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "docs", "benchmarks",
        "h100.json"))
    ap.add_argument("--out-dir", help="default: the JSON's folder")
    ap.add_argument("--no-plots", action="store_true")
    a = ap.parse_args(argv)
    with open(a.json) as f:
        doc = json.load(f)
    out_dir = a.out_dir or os.path.dirname(os.path.abspath(a.json))
    os.makedirs(out_dir, exist_ok=True)
    stem = os.path.join(out_dir, os.path.splitext(os.path.basename(a.json))[0])
    with open(stem + ".md", "w") as f:
        f.write(markdown(doc, stem))
    written = [stem + ".md"]
    if not a.no_plots:
        written += plots(doc, stem)
    for p in written:
        print("wrote", p)
    return 0


if __name__ == "__main__":
    sys.exit(main())
