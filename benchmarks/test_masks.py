#!/usr/bin/env python3
"""Self-test of the benchmark suite's host-side logic (NumPy only): mask
resizing and density targeting, the suite plan and its MLIR, the report.
Prints one PASS/FAIL line per check and "N passed, N failed"; exits 1 on a
failure.

    /usr/bin/python3 benchmarks/test_masks.py [--masks ../shared/masks] [--dynaspa-opt build/bin/dynaspa-opt]

For lit: RUN: %python %s --masks %S/../../shared/masks   (paths to adjust)
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path[:0] = [HERE, os.path.join(ROOT, "python")]

import masks  # noqa: E402
import schedules  # noqa: E402
import suite  # noqa: E402
from dynaspa.selftest import Checks  # noqa: E402

check = Checks()


# ------------------------------------------------------------- resizing
@check
def area_rows_sum_to_one(_):
    for n_in, n_out in ((40, 7), (56, 28), (128, 256), (5, 3), (3, 5), (80, 80)):
        a = masks.area_matrix(n_in, n_out)
        assert a.shape == (n_out, n_in)
        assert np.allclose(a.sum(1), 1.0), (n_in, n_out)
        assert (a >= 0).all()


@check
def area_downsample_by_two(_):
    m = np.zeros((1, 4, 4))
    m[0, :2, :2] = 1
    m[0, 2, 3] = 1
    p = masks.resize_area(m, 2, 2)
    assert np.allclose(p[0], [[1.0, 0.0], [0.0, 0.25]]), p


@check
def area_upsample_is_nearest_for_integer_factors(_):
    rng = np.random.default_rng(1)
    m = rng.random((3, 5, 7)) < 0.4
    p = masks.resize_area(m, 10, 21)
    assert np.allclose(p, np.repeat(np.repeat(m, 2, axis=1), 3, axis=2))


@check
def area_identity(_):
    m = np.random.default_rng(2).random((2, 9, 9)) < 0.5
    assert np.allclose(masks.resize_area(m, 9, 9), m)


@check
def area_non_integer_factor_keeps_mass(_):
    m = np.random.default_rng(3).random((4, 40, 40)) < 0.3
    p = masks.resize_area(m, 7, 7)
    assert np.allclose(p.mean(axis=(1, 2)), m.mean(axis=(1, 2)))


# ------------------------------------------------------ density targeting
@check
def levels_of_a_square(_):
    b = np.zeros((1, 7, 7), bool)
    b[0, 1:6, 1:6] = True
    lv = masks.signed_levels(b)[0]
    assert lv[3, 3] == 3 and lv[1, 1] == 1 and lv[2, 2] == 2, lv
    assert lv[0, 0] == -1 and lv[0, 3] == -1
    full = masks.signed_levels(np.ones((1, 4, 4), bool))
    assert (full == 1).all()
    empty = masks.signed_levels(np.zeros((1, 3, 3), bool))
    assert (empty == -6).all()


@check
def exact_density_every_sample(_):
    rng = np.random.default_rng(4)
    soft = masks.resize_area(rng.random((6, 40, 40)) < 0.3, 14, 14)
    for d in suite.DENSITIES:
        m = masks.target_density(soft, d)
        want = max(1, round(d * 196))
        assert m.dtype == bool and m.shape == (6, 14, 14)
        assert (m.reshape(6, -1).sum(1) == want).all(), (d, m.reshape(6, -1).sum(1))


@check
def density_one_is_all_ones(_):
    m = masks.target_density(np.zeros((2, 5, 5)), 1.0)
    assert m.all()


@check
def tiny_density_keeps_one(_):
    m = masks.target_density(np.ones((2, 7, 7)) * 0.7, 0.001)
    assert (m.reshape(2, -1).sum(1) == 1).all()


@check
def nested_across_densities(_):
    rng = np.random.default_rng(5)
    soft = masks.resize_area(rng.random((4, 56, 56)) < 0.2, 28, 28)
    prev = None
    for d in (0.05, 0.1, 0.3, 0.5, 0.7, 0.9, 1.0):
        m = masks.target_density(soft, d)
        if prev is not None:
            assert not (prev & ~m).any(), "mask at density %g drops pixels" % d
        prev = m


@check
def keeps_the_source_when_density_matches(_):
    b = np.zeros((1, 20, 20), bool)
    b[0, 5:15, 3:13] = True          # 100 pixels = 0.25
    m = masks.target_density(b.astype(float), 0.25)
    assert (m == b).all()


@check
def grows_by_dilation_shrinks_by_erosion(_):
    b = np.zeros((1, 21, 21), bool)
    b[0, 8:13, 8:13] = True          # 5x5 square at the centre
    grown = masks.target_density(b.astype(float), 49 / 441)
    want = np.zeros_like(b)
    want[0, 7:14, 7:14] = True
    assert (grown == want).all()
    shrunk = masks.target_density(b.astype(float), 9 / 441)
    want = np.zeros_like(b)
    want[0, 9:12, 9:12] = True
    assert (shrunk == want).all()


@check
def deterministic(_):
    soft = masks.resize_area(np.random.default_rng(6).random((3, 30, 30)) < 0.5, 11, 13)
    assert (masks.target_density(soft, 0.37) == masks.target_density(soft, 0.37)).all()


@check
def class_token_first(_):
    t = masks.add_class_token(np.zeros((2, 196), bool))
    assert t.shape == (2, 197) and t[:, 0].all() and not t[:, 1:].any()


# --------------------------------------------------------- mask directory
def synthetic_mask_dir(path):
    rng = np.random.default_rng(7)
    files = []
    for kind, (h, w) in (("blobs", (40, 40)), ("blobs", (80, 80)), ("tokens", (14, 14))):
        for d in (0.1, 0.3, 0.5):
            name = "%s_%dx%d_d%g.npy" % (kind, h, w, d)
            arr = (rng.random((5, h, w)) < d).astype(np.uint8)
            np.save(os.path.join(path, name), arr)
            files.append(dict(file=name, kind=kind, H=h, W=w, target_density=d,
                              mean_density=float(arr.mean()), count=5))
    with open(os.path.join(path, "index.json"), "w") as f:
        json.dump({"format": "test", "files": files}, f)


@check
def choose_rule(_):
    d = tempfile.mkdtemp()
    try:
        synthetic_mask_dir(d)
        ms = masks.MaskSet(d)
        assert ms.choose("blobs", 40, 40, 0.1)["file"] == "blobs_40x40_d0.1.npy"
        assert ms.choose("blobs", 28, 28, 0.35)["file"] == "blobs_40x40_d0.3.npy"
        assert ms.choose("blobs", 56, 56, 0.2)["file"] == "blobs_80x80_d0.3.npy"   # tie: denser
        assert ms.choose("blobs", 256, 256, 0.9)["file"] == "blobs_80x80_d0.5.npy"
        m, src = ms.spatial("blobs", 7, 28, 28, 0.7)          # batch 7 > 5 samples: wraps
        assert m.shape == (7, 28, 28) and src == "blobs_40x40_d0.5.npy"
        assert (m.reshape(7, -1).sum(1) == round(0.7 * 784)).all()
        t, _ = ms.tokens("tokens", 3, 0.3)
        assert t.shape == (3, 197) and t[:, 0].all()
        assert (t[:, 1:].sum(1) == round(0.3 * 196)).all()
        try:
            ms.choose("nope", 4, 4, 0.5)
            raise AssertionError("unknown kind accepted")
        except KeyError:
            pass
    finally:
        shutil.rmtree(d)


@check
def shared_masks_every_layer(args):
    if not args.masks or not os.path.exists(os.path.join(args.masks, "index.json")):
        return "skipped (no --masks)"
    ms = masks.MaskSet(args.masks)
    plan = suite.plan(suite.OPS, (1, 4), suite.DENSITIES)
    seen = 0
    for op, b, kind, d in plan:
        if kind not in ms.kinds():
            continue
        if op.kind == "conv":
            m, _ = ms.spatial(kind, b, *suite.out_size(op), d)
            n = m[0].size
        else:
            m, _ = ms.tokens(kind, b, d)
            m, n = m[:, 1:], 196
        got = m.reshape(b, -1).sum(1)
        assert (got == max(1, round(d * n))).all(), (op.name, kind, d, got)
        seen += 1
    assert seen > 0


# --------------------------------------------------------------- suite
@check
def suite_plan_and_shapes(_):
    assert len(suite.OPS) == 16
    # The suite proper: 11 ops; the "unseen" shapes only when asked for.
    suite_ops = suite.select_ops(None)
    assert len(suite_ops) == 11 and all(o.family != "unseen" for o in suite_ops)
    assert len(suite.select_ops(["unseen"])) == 5
    full = suite.plan(suite_ops, suite.BATCHES, suite.DENSITIES)
    assert len(full) == 11 * 3 * 6
    quick = suite.plan(suite.select_ops(None, True), suite.QUICK_BATCHES, suite.QUICK_DENSITIES)
    assert len(quick) < len(full) / 3
    s2 = suite.OPS_BY_NAME["conv3x3s2_80x80x128"]
    assert suite.out_size(s2) == (40, 40)
    assert suite.out_size(suite.OPS_BY_NAME["conv1x1_40x40x256"]) == (40, 40)
    assert suite.flops(suite.OPS_BY_NAME["conv3x3_40x40x256"], 1) == 2 * 1600 * 256 * 256 * 9
    assert suite.flops(suite.OPS_BY_NAME["attn_qkt"], 2) == 2 * 12 * 197 * 64 * 197
    assert [o.name for o in suite.select_ops(["attention"])] == ["attn_qkt", "attn_av"]
    kinds = {k for _, _, k, _ in suite.plan(suite.OPS, (1,), (0.5,), ["blobs", "tokens"])}
    assert kinds == {"blobs", "tokens"}


@check
def default_polykernels(_):
    # The default PolyKernel's shape classes (schedules.default_variants,
    # NOTES.md entry 27): ranges ascend in each variant's own tiles, the last
    # variant takes the rest, and every variant fits the template's limits.
    ops = suite.OPS_BY_NAME

    def grans(name, batch):
        vs = schedules.default_variants(ops[name], batch)
        assert vs[-1][2:] == (None, None) and all(v[2] for v in vs[:-1]), vs
        listed = {g for g, _, _, _ in vs}
        for g, sched, _, cover in vs:
            k = schedules.parse_schedule(sched)
            pixels = k["tiles_per_block"] * g[0] * g[1]
            assert k["threads"] == (k["channel_block"] // k["thread_channels"]) * (
                pixels // k["thread_pixels"]), sched
            # A cover compares the variant's tiles' coarser neighbour with
            # them, both of granularities some variant lists anyway.
            if cover:
                assert cover[1] == g and set(cover[:2]) <= listed, (g, cover)
        return [g for g, _, _, _ in vs]
    # 1x1 convs on pixels; a 3x3 conv: pixels, 2x2, 4x4; launch-bound ones
    # (under 1 GFLOP) the two variants of small blocks; the largest maps no
    # small-tile list over 2^17 tiles.
    assert grans("conv1x1_40x40x256", 4) == [(1, 1), (1, 1)]
    assert grans("conv3x3_40x40x256", 4) == [(1, 1), (2, 2), (4, 4)]
    assert grans("conv3x3_28x28x128", 1) == [(2, 2), (4, 4)]
    assert grans("sige3x3_128x128x256", 16) == [(2, 2), (4, 4)]
    assert grans("sige3x3_256x256x128", 16) == [(4, 4)]
    assert grans("conv3x3_64x64x96", 16) == [(1, 1), (2, 2), (4, 4)]
    # Narrow outputs (96 channels) halve the channel block, not the
    # double-buffer headroom.
    for _, sched, _, _ in schedules.default_variants(ops["conv3x3_64x64x96"], 16):
        assert "channel_block = 64" in sched and "double_buffer = true" in sched, sched
    # The 3x3 conv's 1x1 variant only for scattered masks; the launch-bound
    # and 1x1 convs have no cover.
    covers = [v[3] for v in schedules.default_variants(ops["conv3x3_40x40x256"], 4)]
    assert covers == [((2, 2), (1, 1), schedules.PIXEL_COVER, -1), None, None], covers
    for name, batch in (("conv3x3_28x28x128", 1), ("conv1x1_40x40x256", 4)):
        assert all(v[3] is None for v in schedules.default_variants(ops[name], batch))
    text = suite.variants_attr(schedules.default_variants(ops["conv3x3_40x40x256"], 4))
    assert "cover = #spsparse.cover<[2, 2] over [1, 1] in [130, -1]>" in text, text


@check
def mlir_text(args):
    op = suite.OPS_BY_NAME["conv3x3s2_80x80x128"]
    t = suite.mlir(op, 4)
    assert "func.func @conv3x3s2_80x80x128_b4(" in t
    assert "tensor<4x80x80x128xf32>" in t and "tensor<3x3x128x128xf32>" in t
    assert "tensor<4x40x40xi1>" in t and "-> tensor<4x40x40x128xf32>" in t
    assert "strides = array<i64: 2, 2>" in t and "padding = array<i64: 1, 1, 1, 1>" in t
    t1 = suite.mlir(suite.OPS_BY_NAME["conv1x1_40x40x256"], 1)
    assert "padding" not in t1 and "tensor<1x1x256x1024xf32>" in t1
    q = suite.mlir(suite.OPS_BY_NAME["attn_qkt"], 16)
    assert "tensor<96x197x64xf32>" in q and "tensor<96x64x197xf32>" in q
    assert "row_mask %row_mask col_mask %col_mask" in q and "-> tensor<96x197x197xf32>" in q
    v = suite.mlir(suite.OPS_BY_NAME["attn_av"], 1)
    assert "tensor<6x197x197xf32>" in v and "col_mask" not in v
    if args.dynaspa_opt and os.path.exists(args.dynaspa_opt):
        for o in suite.OPS:
            proc = subprocess.run([args.dynaspa_opt], input=suite.mlir(o, 4),
                                  capture_output=True, text=True)
            assert proc.returncode == 0, (o.name, proc.stderr)
        return "parsed by dynaspa-opt"
    return "dynaspa-opt not run"


@check
def make_bundles_without_compiler(_):
    d = tempfile.mkdtemp()
    try:
        proc = subprocess.run([sys.executable, os.path.join(HERE, "make_bundles.py"),
                               "--out", d, "--compiler", os.path.join(d, "none"),
                               "--ops", "attn_av", "--batches", "1", "4"],
                              capture_output=True, text=True)
        assert proc.returncode == 2, proc.returncode
        assert "compiler is not at" in proc.stderr, proc.stderr
        assert sorted(os.listdir(os.path.join(d, "mlir"))) == ["attn_av_b1.mlir", "attn_av_b4.mlir"]
        man = json.load(open(os.path.join(d, "manifest.json")))
        assert set(man["bundles"]) == {"attn_av_b1", "attn_av_b4"}
        # a fake compiler that writes its output: the manifest says ok
        fake = os.path.join(d, "fake-compile")
        with open(fake, "w") as f:
            f.write("#!/bin/sh\n# IN -o OUT --cuda-chips=..\necho bundle > \"$3\"\n")
        os.chmod(fake, 0o755)
        proc = subprocess.run([sys.executable, os.path.join(HERE, "make_bundles.py"),
                               "--out", d, "--compiler", fake, "--ops", "attn_av",
                               "--batches", "1"], capture_output=True, text=True)
        assert proc.returncode == 0, proc.stdout + proc.stderr
        assert os.path.exists(os.path.join(d, "attn_av_b1.dspb"))
        man = json.load(open(os.path.join(d, "manifest.json")))
        assert man["bundles"]["attn_av_b1"]["status"] == "ok"
        # A flag of its own after --extra is an error, not a compiler flag.
        proc = subprocess.run([sys.executable, os.path.join(HERE, "make_bundles.py"),
                               "--out", d, "--compiler", fake, "--extra", "--records=r.json",
                               "--ops", "attn_av"], capture_output=True, text=True)
        assert proc.returncode == 2 and "put --extra last" in proc.stderr, proc.stderr
    finally:
        shutil.rmtree(d)


@check
def run_dry_run(args):
    if not args.masks or not os.path.exists(os.path.join(args.masks, "index.json")):
        d = tempfile.mkdtemp()
        synthetic_mask_dir(d)
        mdir, kinds = d, ["blobs", "tokens"]
    else:
        d, mdir, kinds = None, args.masks, None
    try:
        cmd = [sys.executable, os.path.join(HERE, "run.py"), "--dry-run", "--quick",
               "--masks", mdir, "--bundles", "/nonexistent"]
        if kinds:
            cmd += ["--mask-kinds"] + kinds
        proc = subprocess.run(cmd, capture_output=True, text=True)
        assert proc.returncode == 0, proc.stderr
        assert "plan: 42 records" in proc.stdout, proc.stdout[:300]
        assert "MISSING" in proc.stdout
    finally:
        if d:
            shutil.rmtree(d)


@check
def report_from_synthetic_json(_):
    recs = []
    for name, op, fam in (("conv3x3_40x40x256", "conv3x3", "dynconv"), ("attn_qkt", "attn_qkt",
                                                                         "attention")):
        for b in (1, 16):
            for d in (0.1, 0.5, 1.0):
                r = dict(op=op, name=name, family=fam, H=40, W=40, Cin=256, Cout=256, k=3,
                         stride=1, batch=b, mask_kind="saliency", target_density=d, density=d,
                         dynaspa_us=100 * d + 10 if d < 1 else None, overhead_us=3.0,
                         cudnn_fp32_us=95.0 * b, cudnn_tf32_us=25.0 * b, cudnn_fp16_us=19.0 * b,
                         gather_scatter_us=120 * d + 20, gather_scatter_block=4,
                         gather_scatter_index_us=300.0, torch_sparse_us=None,
                         ideal_us=36.8 * d * b, max_rel_err=1e-6,
                         flag=None if d < 1 else "max_rel_err 1 > 1e-4: not timed", notes=["x"])
                if op == "attn_qkt":
                    r.update(k=None, stride=None, W=None, M=197, K=64, N=197, heads=6,
                             tokens=197, Cin=64, Cout=197, H=197)
                recs.append(r)
    doc = dict(gpu="Test GPU", date="2026-11-24", commit="abc", peak_fp32_tflops=51.3,
               launch_floor_us=17.0, graph_replay_us=2.4, graph_kernel_gap_us=2.3,
               timing="test", records=recs)
    d = tempfile.mkdtemp()
    try:
        path = os.path.join(d, "t.json")
        with open(path, "w") as f:
            json.dump(doc, f)
        proc = subprocess.run([sys.executable, os.path.join(HERE, "report.py"), path],
                              capture_output=True, text=True)
        assert proc.returncode == 0, proc.stderr
        md = open(os.path.join(d, "t.md")).read()
        assert "## conv3x3 40x40 256->256 k3 s1 (dynconv)" in md, md[:2000]
        assert "51.3 TFLOP/s" in md and "17.0 µs" in md and "⚑" in md
        # The bars: 95 / 20 µs at d=0.1 meets 4.4x; gather-scatter is 1.6x
        # slower there and 1.33x at d=0.5, which miss 3x (the worst listed first).
        assert "| paper shapes, batch 1: >= 4.4x at d=0.1 | 1 of 1 | – |" in md, md[:3000]
        assert "| overhead <= 8 µs | 8 of 8 | – |" in md
        assert ("| >= 3x faster than gather-scatter | 0 of 8 | "
                "conv3x3_40x40x256 b1 saliency d=0.5 1.33x") in md, md[:3000]
        pngs = sorted(f for f in os.listdir(d) if f.endswith(".png"))
        try:
            import matplotlib  # noqa: F401
        except ImportError:
            return "markdown only (no matplotlib)"
        assert pngs == ["t_attn_qkt.png", "t_conv3x3_40x40x256.png", "t_speedup.png"], pngs
    finally:
        shutil.rmtree(d)


def main(argv=None):
    p = argparse.ArgumentParser()
    default_masks = os.path.join(os.path.dirname(ROOT), "shared", "masks")
    p.add_argument("--masks", default=default_masks if os.path.exists(default_masks) else None)
    default_opt = os.path.join(ROOT, "build", "bin", "dynaspa-opt")
    p.add_argument("--dynaspa-opt", default=default_opt if os.path.exists(default_opt) else None)
    args = p.parse_args(argv)
    return check.run(lambda fn: fn(args))


if __name__ == "__main__":
    sys.exit(main())
