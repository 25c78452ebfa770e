"""The masked-conv and masked-bmm schedule spaces the sweep measures, and the
PolyKernel variants the benchmark bundles use.

A candidate is (granularity, schedule string) for the kernel template of
lib/Conversion/SpSparseToGPU/ConvKernel.cpp; the constraints below mirror the
template's (planConv): threads = (channel_block / thread_channels) *
(tiles_per_block * pixels / thread_pixels), static shared memory <= 48 KiB,
split_k <= ceil(Cin / reduction_block).
"""

import json
import math
import os

HERE = os.path.dirname(os.path.abspath(__file__))
# Chosen variants per (op name, batch), written by `sweep.py choose` from
# measurements on the H100; make_bundles.py uses them when present.
CHOSEN = os.path.join(HERE, "schedules.json")

SHARED_LIMIT = 48 * 1024
# planConv / planBmm: a double-buffered thread's prefetch registers plus its
# accumulators.
REGISTER_LIMIT = 160


def staged_floats(op, g, tpb, cb, rb, tf32=False):
    """Floats a chunk stages in shared memory (planConv): the input windows
    of tpb DISTiles (a pixel's rb channels per row) and the filter block
    (k x k taps x rb rows of cb channels); tf32 pads both rows
    (planTensorCores: input pixels + 4, filter rows to 8 or 24 mod 32)."""
    ih = (g[0] - 1) * op.stride + op.k
    iw = (g[1] - 1) * op.stride + op.k
    in_pitch, w_pitch = rb, cb
    if tf32:
        in_pitch = rb + 4
        while w_pitch % 32 not in (8, 24):
            w_pitch += 8
    return tpb * ih * iw * in_pitch, op.k * op.k * rb * w_pitch


def shared_bytes(op, g, tpb, cb, rb, tf32=False):
    return 4 * (sum(staged_floats(op, g, tpb, cb, rb, tf32)) + 5 * tpb)


def conv_prefetch(op, g, knobs):
    """Registers a double-buffered thread holds of the next chunk (planConv):
    its share of the staged input windows and of the filter block."""
    t = knobs["threads"]
    return sum(-(-f // t) for f in staged_floats(
        op, g, knobs.get("tiles_per_block", 1), knobs["channel_block"],
        knobs["reduction_block"], knobs.get("tf32", False)))


def schedule_string(cb, rb, threads, tc, tp, vw, unroll, tpb, split):
    return ("channel_block = %d, reduction_block = %d, threads = %d, thread_channels = %d, "
            "thread_pixels = %d, vector_width = %d, unroll = %d, tiles_per_block = %d, "
            "split_k = %d" % (cb, rb, threads, tc, tp, vw, unroll, tpb, split))


def parse_schedule(text):
    """`#spsparse.schedule` text ("channel_block = 64, ..., double_buffer =
    true") as a dict of knobs, the form tuning records use."""
    out = {}
    for part in text.split(","):
        name, value = (x.strip() for x in part.split("="))
        out[name] = value == "true" if value in ("true", "false") else int(value)
    return out


def format_schedule(knobs):
    """The inverse of parse_schedule."""
    return ", ".join("%s = %s" % (k, str(v).lower() if isinstance(v, bool) else v)
                     for k, v in knobs.items())


def _pixel_blocks(op):
    """(granularity, pixels, tiles_per_block) of the blocks both conv spaces
    try: 32, 64 or 128 pixels of 1x1, 2x2, 4x4 (and, on large maps, 8x8)
    DISTiles."""
    grans = [(1, 1), (2, 2), (4, 4)] + ([(8, 8)] if op.H * op.W >= 64 * 64 else [])
    for g in grans:
        tile = g[0] * g[1]
        for pixels in (32, 64, 128):
            if pixels % tile == 0:
                yield g, pixels, pixels // tile


def _thin(out, limit):
    """At most `limit` candidates, evenly spaced over the space."""
    if limit and len(out) > limit:
        step = len(out) / limit
        out = [out[int(i * step)] for i in range(limit)]
    return out


def conv_candidates(op, batch, limit=None):
    """Valid (granularity, schedule) pairs of the template for a conv op,
    from small blocks (parallelism at batch 1) to 128x128 register-tiled
    ones (efficiency on large work)."""
    out = []
    vw = 4 if op.Cin % 4 == 0 and op.Cout % 4 == 0 else 1
    for g, pixels, tpb in _pixel_blocks(op):
        for cb in (32, 64, 128):
            if cb > 2 * op.Cout:
                continue
            for tc, tp in ((4, 4), (8, 4), (4, 8), (8, 8)):
                if cb % tc or pixels % tp:
                    continue
                threads = (cb // tc) * (pixels // tp)
                if threads not in (64, 128, 256) or tpb > threads:
                    continue
                rb = next((r for r in (16, 8, 4)
                           if r % vw == 0 and shared_bytes(op, g, tpb, cb, r) <= SHARED_LIMIT),
                          None)
                if rb is None:
                    continue
                chunks = math.ceil(op.Cin / rb)
                splits = (1, 2, 4, 8) if batch == 1 else (1, 2)
                unroll = 4 if op.k == 1 else 1
                for split in splits:
                    if split > chunks:
                        continue
                    out.append((g, schedule_string(cb, rb, threads, tc, tp, vw, unroll,
                                                   tpb, split)))
                # And the adaptive split of the default PolyKernels.
                split = min(MAX_SPLIT, chunks // SLICE_CHUNKS)
                if split > 1:
                    out.append((g, schedule_string(cb, rb, threads, tc, tp, vw, unroll,
                                                   tpb, split)
                                + ", min_blocks = %d" % MIN_BLOCKS))
    return _thin(out, limit)


def has_compact_form(op, knobs):
    """Whether `compact = true` (a 1-D grid of work items, group slowest)
    launches other blocks than the 3-D grid for a conv schedule: only where
    there is more than one channel block or slice; else both grids are one
    row of tile groups."""
    return op.kind == "conv" and (knobs.get("split_k", 1) > 1 or
                                  op.Cout > knobs.get("channel_block", 32))


def tf32_warp_grid(pixels, cb, threads):
    """Whether the block's (pixels / 16) x (cb / 8) m16n8k8 fragments split
    evenly over its warps in some grid (planTensorCores)."""
    warps, rows, cols = threads // 32, pixels // 16, cb // 8
    return any(warps % wm == 0 and rows % wm == 0 and cols % (warps // wm) == 0
               for wm in range(1, warps + 1))


def conv_tf32_candidates(op, batch, limit=None):
    """Valid (granularity, schedule) pairs of the conv template's tensor-core
    form (`tf32 = true`) for a conv op, mirroring planConv and
    planTensorCores: blocks of 32, 64 or 128 pixels (a multiple of a
    fragment's 16 rows) of 1x1, 2x2 or 4x4 DISTiles, 64 or 128 output
    channels, 128 threads (4 warps: every schedule that won on the H100 in
    NOTES.md entry 22 had them), the deepest reduction block of 32, 16 or 8
    channels that fits in 48 KiB with the padded rows, with and without
    double buffering, and without a split or with the adaptive one. The cost
    model has no tensor-core profile, so this space is measured, not
    pruned (dynaspa-tune --math tf32)."""
    out = []
    vw = 4 if op.Cin % 4 == 0 and op.Cout % 4 == 0 else 1
    threads = 128
    for g, pixels, tpb in _pixel_blocks(op):
        for cb in (64, 128):
            if cb > 2 * op.Cout or not tf32_warp_grid(pixels, cb, threads):
                continue
            # threads = (cb / tc) * (pixels / tp): the staging's and the
            # write-back's thread grid.
            tp = next((t for t in (4, 2, 8, 1) if pixels % t == 0
                       and (cb * pixels) % (t * threads) == 0
                       and cb % ((cb * pixels) // (t * threads)) == 0), None)
            if tp is None:
                continue
            tc = cb * pixels // (tp * threads)
            rb = next((r for r in (32, 16, 8)
                       if shared_bytes(op, g, tpb, cb, r, tf32=True) <= SHARED_LIMIT), None)
            if rb is None:
                continue
            # unroll counts steps of 8 channels; a 3x3 conv's 9 taps
            # already give each step enough independent mmas.
            unroll = min(4, rb // 8) if op.k == 1 else 1
            split = min(MAX_SPLIT, math.ceil(op.Cin / rb) // SLICE_CHUNKS)
            splits = [(1, "")] + ([(split, ", min_blocks = %d" % MIN_BLOCKS)]
                                  if split > 1 else [])
            prefetch = conv_prefetch(op, g, dict(threads=threads, tiles_per_block=tpb,
                                                 channel_block=cb, reduction_block=rb,
                                                 tf32=True))
            for db in (False, True):
                if db and prefetch + tc * tp > REGISTER_LIMIT:
                    continue
                for sk, adaptive in splits:
                    out.append((g, schedule_string(cb, rb, threads, tc, tp, vw, unroll, tpb, sk)
                                + adaptive + (", double_buffer = true" if db else "")
                                + ", tf32 = true"))
    return _thin(out, limit)


def bmm_schedule_string(cb, rb, threads, tc, tp, vw, unroll, tpb=1):
    """A schedule of the bmm template (BmmKernel.cpp), which reads no
    split_k; tiles_per_block > 1 gathers that many DISTiles of one batch
    entry per block from a list the block builds itself."""
    s = ("channel_block = %d, reduction_block = %d, threads = %d, thread_channels = %d, "
         "thread_pixels = %d, vector_width = %d, unroll = %d" % (cb, rb, threads, tc, tp, vw,
                                                                 unroll))
    return s + (", tiles_per_block = %d" % tpb if tpb > 1 else "")


def bmm_candidates(op, batch, limit=None):
    """Valid (granularity, schedule) pairs of the bmm template for a
    masked_batch_matmul op (suite.Op of kind "bmm": H rows, Cin = K, W = N).
    The constraints mirror planBmm (and BmmProfile.cpp): threads =
    (channel_block / thread_channels) * (rows / thread_pixels), static shared
    memory <= 48 KiB. vector_width is 4, the widest load: each operand takes
    the widest that divides its row (attention's K or N is 197: that operand
    loads floats, the other vectors)."""
    out = []
    vw = 4
    # (DISTile rows, tiles per block): tiles of the global list, or 1-token
    # tiles gathered per block (token masks are scattered: the work follows
    # the density only with 1-token tiles).
    shapes = [(r, 1) for r in (8, 16, 32, 64)] + [(1, t) for t in (16, 32, 64)]
    for g, tpb in shapes:
        rows = g * tpb
        for cb in (16, 32, 64, 128):
            if cb > 2 * op.W:
                continue
            for tc, tp in ((1, 1), (2, 2), (4, 1), (4, 2), (4, 4), (2, 4), (8, 4),
                           (4, 8), (8, 8)):
                if cb % tc or rows % tp or tc * vw > cb:
                    continue
                threads = (cb // tc) * (rows // tp)
                if threads not in (64, 128, 256):
                    continue
                # A thread scans at most 16 of an entry's tiles (planBmm).
                if tpb > 1 and -(-op.H // g) > 16 * threads:
                    continue
                lists = threads + tpb if tpb > 1 else 0
                for rb in (8, 16, 32):
                    if (4 * (rows * rb + rb * cb + lists) > SHARED_LIMIT
                            or rb > 2 * op.Cin):
                        continue
                    sched = bmm_schedule_string(cb, rb, threads, tc, tp, vw,
                                                4 if rb % 4 == 0 else 1, tpb)
                    out.append(((g,), sched))
                    # double_buffer where the next chunk fits in registers
                    # next to the accumulators (planBmm: at most 160).
                    prefetch = -(-rows * rb // threads) + -(-rb * cb // threads)
                    if prefetch + tc * tp <= REGISTER_LIMIT:
                        out.append(((g,), sched + ", double_buffer = true"))
    return _thin(out, limit)


def candidates(op, batch, limit=None):
    """The template's schedule space for a suite op of either kind."""
    return (conv_candidates if op.kind == "conv" else bmm_candidates)(op, batch, limit)


def fit(op, batch, g, cb, threads, tc, tp, tpb, split, min_blocks=0,
        slice_chunks=1, compact=False):
    """One variant of the given shape class made valid for `op`: channel block
    no wider than needed, the largest reduction block that fits in shared
    memory (16 channels only for 1x1 convs, whose records all chose it), split_k
    within the reduction and at least `slice_chunks` reduction blocks per
    slice, double buffered where its registers fit; with `min_blocks` the
    split is adaptive (the kernel splits only as far as the active tiles
    need); `compact` where it changes the grid."""
    cout_pad = 32 * math.ceil(op.Cout / 32)
    while cb > cout_pad and cb > 32:
        # Fewer channels per thread before fewer threads: a thread's share of
        # the staged chunk (its double-buffer registers) stays the same.
        cb //= 2
        if tc > 4:
            tc //= 2
        else:
            threads //= 2
    vw = 4 if op.Cin % 4 == 0 and op.Cout % 4 == 0 else 1
    rbs = (16, 8, 4) if op.k == 1 else (8, 4)
    rb = next(r for r in rbs if shared_bytes(op, g, tpb, cb, r) <= SHARED_LIMIT)
    split = max(1, min(split, math.ceil(op.Cin / rb) // slice_chunks))
    unroll = 4 if op.k == 1 else 1
    knobs = parse_schedule(schedule_string(cb, rb, threads, tc, tp, vw, unroll, tpb, split))
    # planConv: the next chunk's registers and the accumulators must fit.
    knobs["double_buffer"] = (conv_prefetch(op, g, knobs) + tc * tp <= REGISTER_LIMIT)
    if min_blocks and split > 1:
        knobs["min_blocks"] = min_blocks
    if compact and has_compact_form(op, knobs):
        knobs["compact"] = True
    return format_schedule(knobs)


# The suite's schedules are the H100's.
H100_SMS = 132
# The adaptive split (`min_blocks`): blocks of work to aim for, and the most
# slices. 0 gives a static split (4 ways at batch 1, none above).
MIN_BLOCKS = 4 * H100_SMS
MAX_SPLIT = 16
# Reduction blocks a slice keeps at least: a short slice spends much of its
# time on its prologue (tile decode, first fetch) and atomic epilogue. 2 and
# 4 were 2.4% apart over the small ResNet layers on the H100 (geometric mean;
# each better on some shapes by up to 20%), 2 ahead; NOTES.md entry 12.
SLICE_CHUNKS = 2
# Dispatch of the default PolyKernels of 3x3 convs, as fractions of the map:
# 1x1 DISTiles while at most PIXEL_FRACTION of the output pixels are
# active, then 2x2 ones while at most SMALL_FRACTION of the 2x2 tiles are,
# then 4x4. The ten tuned conv records (docs/tuning/h100-records.json) put
# these switches at 0.3-0.5 and 0.63-0.94 of their own counts.
PIXEL_FRACTION = 0.15
SMALL_FRACTION = 0.75
# ...and 1x1 tiles only where the mask is scattered enough for them to save
# work (#spsparse.cover, NOTES.md entry 28): where the active 2x2 tiles would
# cover at least PIXEL_COVER percent of the active pixels. A clustered mask
# (an edit region, any mask upsampled to 128x128 and more) goes to the 2x2
# variant, whose blocks ran at about 1.3x the rate of the 1x1 ones on the
# H100 (the active-tile table of h100.md): 6-22% faster on such masks at
# d=0.1. The same test between 2x2 and 4x4 tiles (4x4 where they cover under
# 120% of the 2x2 tiles' pixels) lost as often as it won, by up to 13%: it is
# not used.
PIXEL_COVER = 130
# 1x1 convs: one channel-block width up to this fraction of the pixels, a
# wider one above.
POINTWISE_FRACTION = 0.3
# 3x3 convs below this many dense FLOPs are launch-bound on the H100 (15-40
# us): a third variant and tile list cost them more than its larger blocks
# save, and they keep the two-variant PolyKernel of small blocks (NOTES.md
# entry 27: 11% slower with three variants below 0.5 GFLOP, 13% faster above
# 1 GFLOP, over the suite's and five unseen shapes).
LAUNCH_BOUND_FLOPS = 1e9
# No small-tile variant of a 3x3 conv whose DISTiles cover the output in more
# than this many tiles: the runtime's prologue scans every tile of every
# granularity, and on the H100 it took 7.9-8.5 us with a 1x1 list of 262,144
# pixels, 16.9 us with one of 1,048,576 and 8.3-10.0 us with a 2x2 list of
# 262,144 tiles (SIGE 128x128 b16, 256x256 b4/b16), against 4.3-6.4 us
# without them (NOTES.md entry 27).
MAX_LIST_TILES = 1 << 17
# The dense variant of every default 3x3 PolyKernel: its channel block and
# its 4x4 tiles per block.
DENSE_CB, DENSE_TPB = 64, 8


def default_variants(op, batch, min_blocks=MIN_BLOCKS, small_tiles=True,
                     slice_chunks=SLICE_CHUNKS, covers=True, max_list_tiles=MAX_LIST_TILES):
    """The PolyKernel for shapes without tuning records, from the variants
    dynaspa-tune chose for the ten tuned conv records (NOTES.md entry 27):
    - 3x3 convs: blocks of 32 1x1 DISTiles while the mask is sparse (a
      pixel's window is read per pixel, but no inactive pixel is computed),
      16 2x2 DISTiles at middle densities, 8 4x4 DISTiles of 64 channels for
      dense masks (and for all masks where a small-tile list would be over
      MAX_LIST_TILES); the first two in the compact grid order, which the
      records chose for most of their sparse variants.
    - 1x1 convs: 1x1 DISTiles only (a pixel has no halo, so finer tiles cost
      nothing but the tile list): 64-channel blocks of 64 pixels while sparse,
      128-channel blocks of 32 above.
    Double buffered where the registers fit, the reduction split adaptively up to MAX_SPLIT ways
    for `min_blocks` blocks of work (statically with min_blocks = 0: 4 ways at
    batch 1, none above). `small_tiles=False` leaves out the 1x1 and 2x2
    variants of 3x3 convs, `covers=False` the 1x1 variant's cover,
    `max_list_tiles` moves the MAX_LIST_TILES limit (A/B runs).
    Launch-bound 3x3 convs (under
    LAUNCH_BOUND_FLOPS) get _launch_bound_variants.

    Each variant is (granularity, schedule, tile range or None, cover or
    None), a cover being (of granularity, over granularity, lo %, hi %): the
    fields of #spsparse.cover."""
    split = MAX_SPLIT if min_blocks else (4 if batch == 1 else 1)
    knobs = dict(min_blocks=min_blocks, slice_chunks=slice_chunks if min_blocks else 1)
    ho, wo = (op.H - 1) // op.stride + 1, (op.W - 1) // op.stride + 1
    pixels = batch * ho * wo
    if op.k == 1:
        sparse = ((1, 1), fit(op, batch, (1, 1), 64, 128, 4, 8, 64, split, compact=True,
                              **knobs), [0, int(POINTWISE_FRACTION * pixels)], None)
        dense = ((1, 1), fit(op, batch, (1, 1), 128, 128, 4, 8, 32, split, compact=True,
                             **knobs), None, None)
        return [sparse, dense]
    tiles2 = batch * math.ceil(ho / 2) * math.ceil(wo / 2)
    dense = ((4, 4), fit(op, batch, (4, 4), DENSE_CB, 128, 8, 8, DENSE_TPB, split, **knobs),
             None, None)
    if not small_tiles:
        return [dense]
    if 2 * pixels * op.Cout * op.Cin * op.k * op.k < LAUNCH_BOUND_FLOPS:
        return _launch_bound_variants(op, batch, split, knobs, tiles2, dense)
    pix = ((1, 1), fit(op, batch, (1, 1), 128, 128, 8, 4, 32, split, compact=True, **knobs),
           [0, int(PIXEL_FRACTION * pixels)],
           ((2, 2), (1, 1), PIXEL_COVER, -1) if covers else None)
    mid = ((2, 2), fit(op, batch, (2, 2), 128, 128, 8, 8, 16, split, compact=True, **knobs),
           [0, int(SMALL_FRACTION * tiles2)], None)
    # (The 1x1 list is the longer one: where it is kept, so is the 2x2 list
    # its cover reads.)
    return [v for v, n in ((pix, pixels), (mid, tiles2)) if n <= max_list_tiles] + [dense]


def _launch_bound_variants(op, batch, split, knobs, tiles2, dense):
    """Two variants for a launch-bound 3x3 conv: blocks of 8 2x2 DISTiles
    while few tiles are active, then `dense` (the shape classes that won the
    H100 sweep, docs/benchmarks/sweep-h100-*)."""
    # On the H100 the 2x2 variant of a 3x3 conv ran at 22-60% of the fp32
    # peak on its tiles, the 4x4 one at 72-82% (NOTES.md entry 7): 2x2 tiles
    # only while the 4x4 variant's grid (DENSE_TPB tiles per block, one block
    # per channel block and slice) would not give every SM a block, taking
    # ~3 active 2x2 tiles per active 4x4 one (clustered masks).
    blocks_per_tile_group = (math.ceil(op.Cout / DENSE_CB) *
                             parse_schedule(dense[1])["split_k"])
    hi = min(int(0.6 * tiles2), 3 * DENSE_TPB * math.ceil(H100_SMS / blocks_per_tile_group))
    sparse = ((2, 2), fit(op, batch, (2, 2), 128, 256, 4, 4, 8, split, **knobs), [0, hi], None)
    # Every run builds every granularity's tile list and launches every
    # variant: a 2x2 variant for under 5% of the tiles is not worth that.
    if hi < 0.05 * tiles2:
        return [dense]
    return [sparse, dense]


def chosen_variants(op, batch, use_chosen=True, **default_knobs):
    """[(granularity, schedule, tiles, cover)] chosen for (op, batch):
    measured by the sweep if it covered the shape (and `use_chosen`), else
    default_variants(op, batch, **default_knobs)."""
    table = {}
    if use_chosen and os.path.exists(CHOSEN):
        with open(CHOSEN) as f:
            table = json.load(f).get("variants", {})
    entry = table.get("%s_b%d" % (op.name, batch))
    if not entry:
        return default_variants(op, batch, **default_knobs)
    return [(tuple(v["granularity"]), v["schedule"], v.get("tiles"), None) for v in entry]
