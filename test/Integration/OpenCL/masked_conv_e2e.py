# Generated masked-conv kernels, end to end on OpenCL (PoCL in CI): compile
# with dynaspa-compile, run with dynaspa-run --check (float64 reference,
# max relative error <= 1e-4, masked-off outputs exactly zero), then replay it
# a few times (--benchmark) and check that the runtime's DISTile count is
# still the mask's: the tile-list kernels keep counters in scratch memory that
# each run must leave at zero.
#
# REQUIRES: numpy, llvm-spirv
# RUN: rm -rf %t && mkdir -p %t
# RUN: %python %s --compile dynaspa-compile --run %dynaspa_run --work %t --masks %shared_masks | FileCheck %s
# Again with two shared copies of the double_buffer cases' staged chunks:
# RUN: rm -rf %t && mkdir -p %t
# RUN: %python %s --compile dynaspa-compile --run %dynaspa_run --work %t --masks %shared_masks --compile-flag=--shared-buffers=2 | FileCheck %s
# And with the zeros written by the variants themselves, and by the
# runtime's zero fill of the whole output, instead of a fill kernel:
# RUN: rm -rf %t && mkdir -p %t
# RUN: %python %s --compile dynaspa-compile --run %dynaspa_run --work %t --masks %shared_masks --compile-flag=--zeros=variants | FileCheck %s
# RUN: rm -rf %t && mkdir -p %t
# RUN: %python %s --compile dynaspa-compile --run %dynaspa_run --work %t --masks %shared_masks --compile-flag=--zeros=zero-fill | FileCheck %s
#
# CHECK-COUNT-20: ok
# CHECK: all 22 cases passed

import argparse, collections, json, os, subprocess, sys
import numpy as np

def conv_mlir(name, n, h, w, ci, co, k, stride, pad, variants, bias):
    ho = (h + 2 * pad - k) // stride + 1
    wo = (w + 2 * pad - k) // stride + 1
    x, f = f"tensor<{n}x{h}x{w}x{ci}xf32>", f"tensor<{k}x{k}x{ci}x{co}xf32>"
    m, y, b = f"tensor<{n}x{ho}x{wo}xi1>", f"tensor<{n}x{ho}x{wo}x{co}xf32>", f"tensor<{co}xf32>"
    args = f"%x: {x}, %w: {f}, %m: {m}" + (f", %b: {b}" if bias else "")
    operands = "%x, %w mask %m" + (" bias %b" if bias else "")
    types = f"{x}, {f}, {m}" + (f", {b}" if bias else "")
    vs = ",\n      ".join(v.attr() for v in variants)
    return (f"func.func @{name}({args}) -> {y} {{\n"
            f"  %y = spsparse.masked_conv2d {operands} {{strides = array<i64: {stride}, {stride}>,"
            f" padding = array<i64: {pad}, {pad}, {pad}, {pad}>,\n      spsparse.variants = [{vs}]}}\n"
            f"      : ({types}) -> {y}\n  return %y : {y}\n}}\n"), (n, ho, wo)

class Variant(collections.namedtuple("Variant", "granularity schedule tiles cover")):
    """One entry of spsparse.variants; a cover is (of, over, lo %, hi %)."""

    def attr(self):
        (gh, gw), t = self.granularity, ""
        if self.tiles:
            t = f", tiles = array<i64: {self.tiles[0]}, {self.tiles[1]}>"
        if self.cover:
            (oh, ow), (vh, vw), lo, hi = self.cover
            t += f", cover = #spsparse.cover<[{oh}, {ow}] over [{vh}, {vw}] in [{lo}, {hi}]>"
        return (f"{{granularity = #spsparse.granularity<[{gh}, {gw}]>,"
                f" schedule = #spsparse.schedule<{self.schedule}>{t}}}")

def variant(g, sched, tiles=None, cover=None):
    return Variant(tuple(g), sched, tiles, cover)

# 2x2 tiles (4 px) x 8 channels = 32 threads; 4x4 (16 px) x 8 channels / 4 = 32.
SMALL = "channel_block = 8, reduction_block = 4, threads = 32, thread_channels = 1"
WIDE = "channel_block = 8, threads = 32, thread_channels = 2, thread_pixels = 2, unroll = 2"
DEFAULT = ""  # 4x4 tiles, 32 channels, 128 threads, 4 channels per thread

def active_tiles(mask, g):
    """DISTiles of granularity g (rows, cols) with any active pixel."""
    gh, gw = g
    n, h, w = mask.shape
    padded = np.zeros((n, -(-h // gh) * gh, -(-w // gw) * gw), bool)
    padded[:, :h, :w] = mask != 0
    tiles = padded.reshape(n, padded.shape[1] // gh, gh, padded.shape[2] // gw, gw)
    return int(tiles.any(axis=(2, 4)).sum())

def check_report(r, want, want_variant=None):
    """None if dynaspa-run's JSON report shows a passing check and the same
    tile count after the replays as in the first run (and `want` if given),
    and the variant `want_variant` ran if given."""
    try:
        report = json.loads(r.stdout)
    except ValueError:
        return (r.stderr or r.stdout).strip()
    check = report.get("check", {})
    if r.returncode != 0 or not check.get("ok"):
        return json.dumps(check) + " " + r.stderr.strip()
    first, replayed = report["run"]["tile_count"], report["benchmark"]["tile_count"]
    if first != replayed or (want is not None and first != want):
        return f"tile count {first}, after replays {replayed}, mask has {want}"
    ran = report["run"]["variant"]
    if want_variant is not None and ran != want_variant:
        return f"variant {ran} ran, the dispatch table picks {want_variant}"
    return None

def picked_variant(mask, variants):
    """The variant the dispatch table picks for `mask`: the first whose tile
    range and cover hold, as the runtime and the kernels test them
    (#spsparse.cover)."""
    for i, v in enumerate(variants):
        ok = True
        if v.tiles:
            ok = v.tiles[0] <= active_tiles(mask, v.granularity) <= v.tiles[1]
        if ok and v.cover:
            of, over, lo, hi = v.cover
            num = active_tiles(mask, of) * of[0] * of[1] * 100
            den = active_tiles(mask, over) * over[0] * over[1]
            ok = num >= lo * den and (hi < 0 or num <= hi * den)
        if ok:
            return i
    return len(variants) - 1

def main():
    p = argparse.ArgumentParser()
    p.add_argument("--compile", required=True)
    p.add_argument("--compile-flag", action="append", default=[],
                   help="a further dynaspa-compile flag for every case "
                        "(repeatable), e.g. --shared-buffers=2")
    p.add_argument("--run", required=True)
    p.add_argument("--work", required=True)
    p.add_argument("--masks", required=True)
    p.add_argument("--cuda-chip", default=None,
                   help="compile for this CUDA chip instead of OpenCL, add the "
                        "CUDA-only cases (split reductions: float atomics) and "
                        "only write the bundles and masks: the GPU machine runs "
                        "them (see docs/benchmarks/README.md)")
    a = p.parse_args()
    rng = np.random.default_rng(7)

    def random_mask(shape, d):
        return (rng.random(shape) < d).astype(np.uint8)

    def corners(shape):
        m = np.zeros(shape, np.uint8)
        m[:, 0, 0] = m[:, 0, -1] = m[:, -1, 0] = m[:, -1, -1] = 1
        return m

    two = [variant((2, 2), SMALL, (0, 6)), variant((4, 4), WIDE)]
    cases = [
        # name, (n,h,w,ci,co,k,stride,pad), variants, bias, mask maker
        ("fig5_5x5_2x2", (1, 5, 5, 8, 8, 3, 1, 1), two, True, lambda s: random_mask(s, 0.3)),
        ("nondiv_9x7_batch2", (2, 9, 7, 12, 16, 3, 1, 1), two, True, lambda s: random_mask(s, 0.4)),
        ("empty", (1, 9, 7, 8, 8, 3, 1, 1), two, False, lambda s: np.zeros(s, np.uint8)),
        ("full", (1, 9, 7, 8, 8, 3, 1, 1), two, False, lambda s: np.ones(s, np.uint8)),
        ("corners", (2, 9, 7, 8, 16, 3, 1, 1), two, True, corners),
        ("conv1x1", (1, 10, 10, 16, 24, 1, 1, 0), two, False, lambda s: random_mask(s, 0.5)),
        ("conv3x3_s2", (1, 11, 11, 8, 8, 3, 2, 1), two, True, lambda s: random_mask(s, 0.5)),
        ("default_schedule", (1, 12, 12, 20, 40, 3, 1, 1), [variant((4, 4), DEFAULT)], True,
         lambda s: random_mask(s, 0.2)),
        ("cin_tail_cout_tail", (1, 6, 6, 5, 9, 3, 1, 1), two, True, lambda s: random_mask(s, 0.6)),
        # Several DISTiles per block: pixel granularity (16 tiles of 1x1 per
        # block, the last group partly phantom), and 2x2 tiles with runs of 4
        # and of 2 output channels.
        ("grouped_1x1_batch2", (2, 9, 7, 8, 16, 3, 1, 1),
         [variant((1, 1), "channel_block = 16, reduction_block = 4, threads = 64, "
                  "thread_channels = 4, tiles_per_block = 16")],
         True, lambda s: random_mask(s, 0.3)),
        ("grouped_2x2_runs", (1, 9, 7, 12, 12, 3, 1, 1),
         [variant((2, 2), "channel_block = 16, reduction_block = 4, threads = 64, "
                  "thread_channels = 4, tiles_per_block = 4, thread_pixels = 1, vector_width = 4")],
         False, lambda s: random_mask(s, 0.5)),
        ("grouped_s2_cout10", (1, 11, 11, 8, 10, 3, 2, 1),
         [variant((2, 2), "channel_block = 16, reduction_block = 8, threads = 32, "
                  "thread_channels = 2, tiles_per_block = 2, thread_pixels = 2")],
         True, lambda s: random_mask(s, 0.5)),
        # Double buffering: the next chunk is prefetched into registers (Cin
        # 20 in chunks of 8: a partial last chunk; batch 2, phantom tiles).
        ("double_buffer_batch2", (2, 9, 7, 20, 16, 3, 1, 1),
         [variant((2, 2), "channel_block = 16, reduction_block = 8, threads = 64, "
                  "thread_channels = 4, tiles_per_block = 4, double_buffer = true, vector_width = 4")],
         True, lambda s: random_mask(s, 0.4)),
        ("double_buffer_s2", (1, 11, 11, 8, 8, 3, 2, 1),
         [variant((4, 4), "channel_block = 8, reduction_block = 4, threads = 32, "
                  "thread_channels = 4, thread_pixels = 4, tiles_per_block = 4, double_buffer = true")],
         False, lambda s: random_mask(s, 0.5)),
        # A compact grid: one 1-D grid of (tile group, channel block)
        # items, 3 channel blocks of 8 (batch 2, phantom tiles).
        ("compact_channel_blocks", (2, 9, 7, 8, 24, 3, 1, 1),
         [variant((2, 2), "channel_block = 8, reduction_block = 4, threads = 32, "
                  "thread_channels = 2, tiles_per_block = 2, compact = true")],
         True, lambda s: random_mask(s, 0.4)),
    ]
    # Tile spaces larger than one tile-list block (256 tiles): 3200 pixel
    # tiles over a batch of 2 (13 blocks claiming list ranges atomically) and
    # 400 2x2 tiles of a real mask (2 blocks).
    saliency = np.load(os.path.join(a.masks, "saliency_40x40_d0.3.npy"))
    cases += [
        ("multiblock_1x1_tiles_batch2", (2, 40, 40, 8, 8, 3, 1, 1),
         [variant((1, 1), "channel_block = 8, reduction_block = 8, threads = 64, "
                  "thread_channels = 1, tiles_per_block = 8")],
         True, lambda s: random_mask(s, 0.3)),
        ("multiblock_2x2_saliency", (1, 40, 40, 8, 8, 3, 1, 1), [variant((2, 2), SMALL)],
         False, lambda s: (saliency[1:2] != 0).astype(np.uint8).reshape(s)),
    ]
    # A cover picks by clustering, not count: 1x1 DISTiles for a scattered
    # mask (its 2x2 tiles would cover 1.3x its pixels and more), 4x4 for a
    # clustered one of the same density; the fallback's kernel negates the
    # first variant's whole test.
    pixels = variant((1, 1), "channel_block = 8, reduction_block = 4, threads = 32, "
                     "thread_channels = 1, tiles_per_block = 4", (0, 1000),
                     ((2, 2), (1, 1), 130, -1))
    covered = [pixels, variant((4, 4), WIDE)]

    def block(s):
        m = np.zeros(s, np.uint8)
        m[:, 4:10, 2:10] = 1
        return m
    cases += [
        ("cover_scattered", (1, 16, 16, 8, 8, 3, 1, 1), covered, False,
         lambda s: random_mask(s, 0.2)),
        ("cover_clustered", (1, 16, 16, 8, 8, 3, 1, 1), covered, True, block),
    ]
    # Real masks: saliency and edit sets at 40x40 (a small channel count keeps
    # PoCL fast).
    for kind in ("saliency", "edit", "blobs"):
        path = os.path.join(a.masks, f"{kind}_40x40_d0.3.npy")
        stack = np.load(path)
        cases.append((f"{kind}_40x40", (1, 40, 40, 8, 8, 3, 1, 1),
                      [variant((4, 4), WIDE, (0, 40)), variant((8, 8), "channel_block = 8, threads = 128, thread_channels = 2, thread_pixels = 2")],
                      True, lambda s, st=stack: (st[:1] != 0).astype(np.uint8).reshape(s)))

    def adaptive(min_blocks):
        return [variant((2, 2), "channel_block = 32, reduction_block = 8, threads = 128, "
                        "thread_channels = 4, tiles_per_block = 4, thread_pixels = 1, split_k = 8, "
                        "double_buffer = true, vector_width = 4, min_blocks = %d" % min_blocks)]

    compact_adaptive = [variant((2, 2), "channel_block = 16, reduction_block = 8, threads = 64, "
                                "thread_channels = 4, tiles_per_block = 4, thread_pixels = 1, "
                                "split_k = 8, double_buffer = true, vector_width = 4, "
                                "min_blocks = 64, compact = true")]
    if a.cuda_chip:
        cases += [
            ("split_k2_grouped", (1, 9, 7, 16, 16, 3, 1, 1),
             [variant((2, 2), "channel_block = 16, reduction_block = 4, threads = 64, "
                      "thread_channels = 4, tiles_per_block = 4, split_k = 2")],
             True, lambda s: random_mask(s, 0.5)),
            ("split_k4_batch2_1x1", (2, 10, 10, 32, 24, 1, 1, 0),
             [variant((1, 1), "channel_block = 32, reduction_block = 8, threads = 64, "
                      "thread_channels = 4, tiles_per_block = 8, split_k = 4, unroll = 4")],
             True, lambda s: random_mask(s, 0.3)),
            ("split_k2_double_buffer", (1, 12, 12, 64, 32, 3, 1, 1),
             [variant((2, 2), "channel_block = 32, reduction_block = 8, threads = 128, "
                      "thread_channels = 4, tiles_per_block = 4, thread_pixels = 1, split_k = 2, "
                      "double_buffer = true, vector_width = 4")],
             True, lambda s: random_mask(s, 0.3)),
            # The adaptive split: 8 slices at most, as many as the active
            # tiles need for min_blocks blocks of work (8 reduction chunks, 1
            # channel block). Sparse (~8 groups of 4 tiles): 8 slices of one
            # chunk; 30 blocks at d=0.2 (~11 groups): 3 slices of 3, 3 and 2
            # chunks; a full mask with the same variant: one slice.
            ("split_adaptive_sparse", (2, 12, 12, 64, 32, 3, 1, 1), adaptive(64),
             True, lambda s: random_mask(s, 0.1)),
            ("split_adaptive_uneven", (2, 12, 12, 64, 32, 3, 1, 1), adaptive(30),
             True, lambda s: random_mask(s, 0.2)),
            ("split_adaptive_full", (2, 12, 12, 64, 32, 3, 1, 1), adaptive(64),
             False, lambda s: np.ones(s, np.uint8)),
            # Compact grids with a split: (group, channel block, slice)
            # items, slice fastest; statically 2 slices x 2 channel blocks,
            # adaptively up to 8 slices x 2 channel blocks.
            ("compact_split_k2", (1, 12, 12, 64, 32, 3, 1, 1),
             [variant((2, 2), "channel_block = 16, reduction_block = 8, threads = 64, "
                      "thread_channels = 4, tiles_per_block = 4, thread_pixels = 1, split_k = 2, "
                      "vector_width = 4, compact = true")],
             True, lambda s: random_mask(s, 0.3)),
            ("compact_adaptive_sparse", (2, 12, 12, 64, 32, 3, 1, 1), compact_adaptive,
             True, lambda s: random_mask(s, 0.1)),
            ("compact_adaptive_full", (2, 12, 12, 64, 32, 3, 1, 1), compact_adaptive,
             False, lambda s: np.ones(s, np.uint8)),
            # Tensor cores (tf32, checked at dynaspa-run's TF32 tolerance):
            # warps along channels; one warp with three B fragments (Cout
            # 24, unpadded filter rows); split-K with double buffering and
            # two steps per chunk; stride 2 with an odd Cout (runs of one)
            # and a channel block past Cout.
            ("tf32_3x3", (1, 12, 12, 64, 32, 3, 1, 1),
             [variant((4, 4), "channel_block = 32, reduction_block = 8, threads = 64, "
                      "thread_channels = 4, thread_pixels = 2, vector_width = 4, tf32 = true")],
             True, lambda s: random_mask(s, 0.3)),
            ("tf32_grouped_1x1", (2, 10, 10, 32, 24, 1, 1, 0),
             [variant((1, 1), "channel_block = 24, reduction_block = 8, threads = 32, "
                      "thread_channels = 3, thread_pixels = 4, tiles_per_block = 16, "
                      "vector_width = 4, tf32 = true")],
             False, lambda s: random_mask(s, 0.4)),
            ("tf32_split_db", (1, 12, 12, 64, 32, 3, 1, 1),
             [variant((2, 2), "channel_block = 32, reduction_block = 16, threads = 128, "
                      "thread_channels = 4, tiles_per_block = 4, split_k = 2, unroll = 2, "
                      "double_buffer = true, vector_width = 4, tf32 = true")],
             True, lambda s: random_mask(s, 0.3)),
            ("tf32_s2_odd_cout", (1, 15, 13, 16, 9, 3, 2, 1),
             [variant((4, 4), "channel_block = 16, reduction_block = 8, threads = 32, "
                      "thread_channels = 4, thread_pixels = 2, tf32 = true")],
             True, lambda s: random_mask(s, 0.5)),
        ]

    failed = 0
    for name, shape, variants, bias, make_mask in cases:
        src, mshape = conv_mlir(name, *shape, variants, bias)
        mlir = os.path.join(a.work, name + ".mlir")
        open(mlir, "w").write(src)
        bundle = os.path.join(a.work, name + ".dspb")
        target = (["--cuda-chips=" + a.cuda_chip, "--cubin-chips=" + a.cuda_chip,
                   "--opencl=false"] if a.cuda_chip else ["--cuda-chips=none"])
        subprocess.run([a.compile, mlir, "-o", bundle] + target + a.compile_flag,
                       check=True)
        mask_path = os.path.join(a.work, name + "_mask.npy")
        mask = make_mask(mshape)
        np.save(mask_path, mask)
        # With one variant the count the runtime reports is that of its
        # granularity (scripts/gpu-e2e.sh checks the same file on CUDA).
        want = active_tiles(mask, variants[0].granularity) if len(variants) == 1 else None
        want_variant = picked_variant(mask, variants)
        with open(os.path.join(a.work, name + "_tiles.json"), "w") as f:
            json.dump({"tiles": want, "variant": want_variant}, f)
        if a.cuda_chip:
            continue
        r = subprocess.run([a.run, bundle, "--device", "opencl", "--random", "3",
                            "--mask", mask_path, "--check", "--json", "--benchmark",
                            "--reps", "2", "--rounds", "1", "--warmup", "1"],
                           capture_output=True, text=True)
        problem = check_report(r, want, want_variant)
        failed += problem is not None
        print(f"{name}: {'FAILED ' + problem if problem else 'ok'}")
    if a.cuda_chip:
        print(f"wrote {len(cases)} bundles for {a.cuda_chip} to {a.work}")
        return 0
    if failed:
        print(f"{failed} of {len(cases)} cases failed")
        return 1
    print(f"all {len(cases)} cases passed")
    return 0

if __name__ == "__main__":
    sys.exit(main())
