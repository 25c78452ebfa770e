# Generated masked batch-matmul kernels (attention's QKᵀ and AV under token
# halting), end to end on OpenCL (PoCL in CI): compile with dynaspa-compile,
# run with dynaspa-run --check (float64 reference, max relative error <= 1e-4,
# masked-off outputs exactly zero, after a run with the complement mask left
# stale values wherever the checked run must write). Schedules keep vector_width = 1: PoCL needs
# the SPIR translation, which llvm-spirv-15 cannot make of vector constants.
#
# REQUIRES: numpy, llvm-spirv
# RUN: rm -rf %t && mkdir -p %t
# RUN: %python %s --compile dynaspa-compile --run %dynaspa_run --work %t --example %dynaspa_src/examples/masked_attention.mlir | FileCheck %s
# Again with two shared copies of the double_buffer cases' staged chunks:
# RUN: rm -rf %t && mkdir -p %t
# RUN: %python %s --compile dynaspa-compile --run %dynaspa_run --work %t --example %dynaspa_src/examples/masked_attention.mlir --compile-flag=--shared-buffers=2 | FileCheck %s
#
# CHECK-COUNT-34: ok
# CHECK: all 34 cases passed

import argparse, os, re, subprocess, sys
import numpy as np

TOLERANCE = 1e-4

def ty(shape, elem="f32"):
    return "tensor<" + "x".join(str(d) for d in shape) + f"x{elem}>"

def bmm_mlir(name, b, m, k, n, col_mask, rank1, variants):
    """One function with one masked_batch_matmul [b,m,k] x [b,k,n]."""
    a, bt, y = ty((b, m, k)), ty((b, k, n)), ty((b, m, n))
    r = ty((m,) if rank1 else (b, m), "i1")
    c = ty((n,) if rank1 else (b, n), "i1")
    args = f"%a: {a}, %b: {bt}, %r: {r}" + (f", %c: {c}" if col_mask else "")
    operands = "%a, %b row_mask %r" + (" col_mask %c" if col_mask else "")
    types = f"{a}, {bt}, {r}" + (f", {c}" if col_mask else "")
    attr = ""
    if variants:
        attr = " {spsparse.variants = [" + ",\n      ".join(variants) + "]}"
    return (f"func.func @{name}({args}) -> {y} {{\n"
            f"  %y = spsparse.masked_batch_matmul {operands}{attr}\n"
            f"      : ({types}) -> {y}\n  return %y : {y}\n}}\n")

def variant(g, sched, tiles=None):
    t = f", tiles = array<i64: {tiles[0]}, {tiles[1]}>" if tiles else ""
    return (f"{{granularity = #spsparse.granularity<[{g}]>,"
            f" schedule = #spsparse.schedule<{sched}>{t}}}")

# 8 tokens x 16 columns, 2x2 per thread: 32 threads; K in chunks of 4.
SMALL = "channel_block = 16, reduction_block = 4, threads = 32, thread_channels = 2, thread_pixels = 2"
# 16 tokens x 32 columns, 4 columns per thread (the default), unrolled.
UNROLLED = "unroll = 2"
TWO = [variant(8, SMALL, (0, 6)), variant(16, UNROLLED)]
# Per-block lists (tiles_per_block > 1): 8 one-token DISTiles of an entry
# gathered per block, or 4 two-token ones.
GATHER8 = SMALL + ", tiles_per_block = 8"
GATHER4 = SMALL + ", tiles_per_block = 4"
LOCAL = [variant(1, GATHER8)]
# The per-block list as the fallback of a dispatched pair.
TWO_LOCAL = [variant(8, SMALL, (0, 6)), variant(2, GATHER4)]
# double_buffer: the next chunk of K loaded into registers (K = 197 and 13
# end in a partial chunk).
DB = ", double_buffer = true"
LOCAL_DB = [variant(1, GATHER8 + DB)]
TWO_DB = [variant(8, SMALL + DB, (0, 6)), variant(2, GATHER4 + DB)]

def main():
    p = argparse.ArgumentParser()
    p.add_argument("--compile", required=True)
    p.add_argument("--compile-flag", action="append", default=[],
                   help="a further dynaspa-compile flag for every case "
                        "(repeatable), e.g. --shared-buffers=2")
    p.add_argument("--run", required=True)
    p.add_argument("--work", required=True)
    p.add_argument("--example", required=True)
    p.add_argument("--cuda-chip", default=None,
                   help="compile for this CUDA chip instead of OpenCL and only "
                        "write the bundles and row masks (<case>.dspb, "
                        "<case>_mask.npy, <case>_tiles.json): the GPU machine "
                        "runs them (scripts/gpu-e2e.sh)")
    a = p.parse_args()
    rng = np.random.default_rng(11)

    def tokens(shape, d):
        return (rng.random(shape) < d).astype(np.uint8)

    def only(shape, index):
        mk = np.zeros(shape, np.uint8)
        mk[..., index] = 1
        return mk

    H, N, D = 6, 197, 64
    # name, (b, m, k, n), kind, rank1 masks, variants, mask maker over [.., M]
    # kind: "qk" (row and column mask = the token mask), "qk_indep" (column
    # mask drawn independently), "av" (row mask only).
    cases = []
    makers = [
        ("d0.3", lambda s: tokens(s, 0.3)),
        ("d0.7", lambda s: tokens(s, 0.7)),
        ("empty", lambda s: np.zeros(s, np.uint8)),
        ("full", lambda s: np.ones(s, np.uint8)),
        ("first_token", lambda s: only(s, 0)),
        ("last_token", lambda s: only(s, -1)),
    ]
    for label, maker in makers:
        cases.append((f"qk_{label}", (H, N, D, N), "qk", False, [], maker))
        cases.append((f"av_{label}", (H, N, N, D), "av", False, [], maker))
    for label, maker in makers[:4] + makers[5:]:
        cases.append((f"av_gather_{label}", (H, N, N, D), "av", False, LOCAL, maker))
    cases += [
        ("qk_gather_d0.3", (H, N, D, N), "qk", False, LOCAL, lambda s: tokens(s, 0.3)),
        ("av_gather_rank1", (H, N, N, D), "av", True, LOCAL, lambda s: tokens(s, 0.5)),
        ("av_gather_db_d0.3", (H, N, N, D), "av", False, LOCAL_DB, lambda s: tokens(s, 0.3)),
        ("qk_gather_db_d0.7", (H, N, D, N), "qk", False, LOCAL_DB, lambda s: tokens(s, 0.7)),
    ]
    cases += [
        # One token mask for all heads (rank-1 masks broadcast over batch).
        ("qk_rank1", (H, N, D, N), "qk", True, [], lambda s: tokens(s, 0.5)),
        ("av_rank1", (H, N, N, D), "av", True, [], lambda s: tokens(s, 0.5)),
        # Column mask unrelated to the row mask: catches a swapped mask.
        ("qk_indep_cols", (H, N, D, N), "qk_indep", False, [], lambda s: tokens(s, 0.5)),
        # Nothing divides: 37 tokens (tiles of 8 and 16), K = 13 (chunks of 4
        # and 8), 29 columns (blocks of 16 and 32). Two variants dispatched on
        # the device by the tile count: tokens only among the first 16 of
        # each batch entry make 4 tiles of 8 (variant v0, range [0, 6]), a
        # random mask makes more (the fallback v1).
        ("small_nondiv_v0", (2, 37, 13, 29), "qk_indep", False, TWO,
         lambda s: np.concatenate([tokens((s[0], 16), 0.5),
                                   np.zeros((s[0], s[1] - 16), np.uint8)], 1), "v0"),
        ("small_nondiv_v1", (2, 37, 13, 29), "qk_indep", False, TWO,
         lambda s: tokens(s, 0.6), "v1"),
        ("small_nondiv_full", (2, 37, 13, 29), "qk_indep", False, TWO,
         lambda s: np.ones(s, np.uint8), "v1"),
        # Two-token tiles, the last one half outside M; the entry's last
        # block only partly filled.
        ("small_nondiv_gather", (2, 37, 13, 29), "qk_indep", False, TWO_LOCAL,
         lambda s: tokens(s, 0.6), "v1"),
        ("small_nondiv_gather_full", (2, 37, 13, 29), "qk_indep", False, TWO_LOCAL,
         lambda s: np.ones(s, np.uint8), "v1"),
        # The same per-block list alone (standalone: no tile list, no zero
        # fill): the kernel writes the zeros of masked rows inside its
        # two-token tiles, of masked columns and of inactive tiles.
        ("small_nondiv_gather_alone", (2, 37, 13, 29), "qk_indep", False,
         [variant(2, GATHER4)], lambda s: tokens(s, 0.4)),
        ("small_nondiv_db_v0", (2, 37, 13, 29), "qk_indep", False, TWO_DB,
         lambda s: np.concatenate([tokens((s[0], 16), 0.5),
                                   np.zeros((s[0], s[1] - 16), np.uint8)], 1), "v0"),
        ("small_nondiv_db_v1", (2, 37, 13, 29), "qk_indep", False, TWO_DB,
         lambda s: tokens(s, 0.6), "v1"),
    ]

    if a.cuda_chip:
        # CUDA only (PoCL's SPIR translation takes no vector constants): the
        # widest load of each operand under vector_width = 4. QKᵀ's lhs rows
        # (K = 64) and AV's rhs rows (N = 64) load 16-byte vectors, the
        # 197-token operand floats; per-block lists, double buffered, alone
        # (standalone) and as the fallback of a dispatched pair.
        wide = GATHER8 + DB + ", vector_width = 4"
        cases += [
            ("qk_wide_alone", (H, N, D, N), "qk", False, [variant(1, wide)],
             lambda s: tokens(s, 0.3)),
            ("av_wide_alone", (H, N, N, D), "av", False, [variant(1, wide)],
             lambda s: tokens(s, 0.3)),
            ("av_wide_pair", (H, N, N, D), "av", False,
             [variant(8, SMALL + ", vector_width = 4", (0, 6)), variant(1, wide)],
             lambda s: tokens(s, 0.5), "v1"),
        ]

    failed = 0
    total = 0

    def run(name, bundle, extra, want_variant=None):
        nonlocal failed, total
        total += 1
        r = subprocess.run([a.run, bundle, "--device", "opencl", "--check"] + extra,
                           capture_output=True, text=True)
        check = [l for l in r.stdout.splitlines() if l.startswith("check")]
        # Belt and braces: the tolerance asked of this test, not only the
        # runner's.
        rel = re.search(r"max rel err ([0-9.eE+-]+|inf|nan)", check[0]) if check else None
        ok = r.returncode == 0 and rel is not None and float(rel.group(1)) <= TOLERANCE
        ran = re.search(r"^run: variant \d+ '(\w+)'", r.stdout, re.M)
        note = ""
        if want_variant:
            got = ran.group(1) if ran else "?"
            ok = ok and got == want_variant
            note = f" [variant {got}, expected {want_variant}]"
        failed += not ok
        print(f"{name}: {'ok' if ok else 'FAILED'} {check[0] if check else r.stderr.strip()}{note}")

    for name, (b, m, k, n), kind, rank1, variants, maker, *want in cases:
        col = kind != "av"
        src = bmm_mlir(name, b, m, k, n, col, rank1, variants)
        mlir = os.path.join(a.work, name + ".mlir")
        open(mlir, "w").write(src)
        bundle = os.path.join(a.work, name + ".dspb")
        target = (["--cuda-chips=" + a.cuda_chip, "--cubin-chips=" + a.cuda_chip,
                   "--opencl=false"] if a.cuda_chip else ["--cuda-chips=none"])
        subprocess.run([a.compile, mlir, "-o", bundle] + target + a.compile_flag,
                       check=True)
        row_mask = maker((m,) if rank1 else (b, m))
        if a.cuda_chip:
            # The column mask (if any) comes from the runner's --random.
            np.save(os.path.join(a.work, name + "_mask.npy"), row_mask)
            with open(os.path.join(a.work, name + "_tiles.json"), "w") as f:
                f.write('{"tiles": null}')
            continue
        files = []
        def save(suffix, array):
            path = os.path.join(a.work, f"{name}_{suffix}.npy")
            np.save(path, array)
            files.append(path)
        save("lhs", rng.standard_normal((b, m, k)).astype(np.float32))
        save("rhs", rng.standard_normal((b, k, n)).astype(np.float32))
        if col:
            col_shape = (n,) if rank1 else (b, n)
            if kind == "qk":
                col_mask = row_mask  # QKᵀ: the keys are the same tokens.
            else:
                col_mask = tokens(col_shape, 0.5)
            save("col", col_mask.astype(np.float32))
        mask_path = os.path.join(a.work, name + "_mask.npy")
        np.save(mask_path, row_mask)
        extra = ["--mask", mask_path]
        for f in files:
            extra += ["--input", f]
        run(name, bundle, extra, *want)

    if a.cuda_chip:
        print(f"wrote {len(cases)} bundles for {a.cuda_chip} to {a.work}")
        return 0

    # examples/masked_attention.mlir: both masked ops become operators of one
    # bundle (the softmax between them stays host-side IR, not in the bundle).
    bundle = os.path.join(a.work, "masked_attention.dspb")
    subprocess.run([a.compile, a.example, "-o", bundle, "--cuda-chips=none"], check=True)
    for op in ("masked_attention_masked_batch_matmul_0",
               "masked_attention_masked_batch_matmul_1"):
        run("example_" + op, bundle, ["--op", op, "--random", "5"])

    if failed:
        print(f"{failed} of {total} cases failed")
        return 1
    print(f"all {total} cases passed")
    return 0

if __name__ == "__main__":
    sys.exit(main())
