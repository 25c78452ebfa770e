"""PolyKernel auto-scheduling (paper section 3.2, Algorithm 1) for masked
convolutions and batch-matmuls: the search, the greedy supermodular selection and the tuning
records (docs/tuning/records.md) that carry its evidence between machines.

The pieces that touch a device or the compiler are passed in (a `measure`
callable, a `predict` callable), so that the search itself is plain Python and
the same whether the GPU is local or on another machine. `dynaspa-tune`
(tools/dynaspa-tune) is the command-line driver.
"""

import json
import math
import random

FORMAT, VERSION = "dynaspa-tuning-records", 1
# Spacing of consecutive kernels inside a CUDA graph on the H100 (measured,
# docs/benchmarks/h100.md): the price of one more kernel in a PolyKernel.
KERNEL_SLOT_US = 2.3
# What one more granularity adds to the tile-list kernel, which builds every
# granularity's list in one grid (TileListKernel.cpp): its blocks, not a
# launch. On the H100 the prologue of PolyKernels with 3 granularities took
# 4.1-4.3 us against 3.6-4.1 us with one at similar sizes (NOTES.md entry 15).
GRANULARITY_SLOT_US = 0.5
# A batch-matmul variant with per-block lists (tiles_per_block > 1) alone in
# its PolyKernel is lowered standalone: no zero fill and no tile-list kernel
# (convert-spsparse-to-gpu), two graph nodes fewer than in a PolyKernel
# with other variants -- where its single-variant measurement leaves them
# out. Two kernel slots; on the H100 the two took 2.1 + 2.6 us at batch-1
# attention (docs/benchmarks/h100.json, session 7).
PROLOGUE_SLOT_US = 2 * KERNEL_SLOT_US


def lists_own_tiles(cand):
    """Whether `cand` is measured standalone when alone (what
    variantListsOwnTiles says in SpSparseToGPU): a batch-matmul (one
    granularity size) with tiles_per_block > 1."""
    schedule = cand.get("schedule")
    return (len(cand["granularity"]) == 1 and isinstance(schedule, dict)
            and schedule.get("tiles_per_block", 1) > 1)


class Slots:
    """What a PolyKernel pays on every run for its size, in microseconds:
    each variant after the first is launched (self-dispatch) and exits at
    once, `variant_us`; each granularity after the first adds its list's
    blocks to the tile-list kernel, `granularity_us`; a variant measured
    standalone (lists_own_tiles) pays the zero fill and tile list it was
    measured without once it has company, `prologue_us`. `from_device_file`
    takes the variant slot from a calibrated device file's kernel gap
    (dynaspa-calibrate)."""

    def __init__(self, variant_us=KERNEL_SLOT_US, granularity_us=GRANULARITY_SLOT_US,
                 prologue_us=PROLOGUE_SLOT_US):
        self.variant_us, self.granularity_us = variant_us, granularity_us
        self.prologue_us = prologue_us

    @classmethod
    def from_device_file(cls, path):
        with open(path) as f:
            gap = json.load(f).get("kernel_gap_ns")
        return cls(variant_us=gap / 1000.0) if gap else cls()

    def of(self, selection):
        grans = {tuple(c["granularity"]) for c in selection}
        standalone = len(selection) > 1 and any(lists_own_tiles(c) for c in selection)
        return (self.variant_us * (len(selection) - 1)
                + self.granularity_us * (len(grans) - 1)
                + (self.prologue_us if standalone else 0.0))


SLOTS = Slots()


# ----------------------------------------------------------- set functions
def expected_time(selection, masks, time, slots=SLOTS):
    """g(S, M): the mean over `masks` of the best time in `selection`, plus
    the kernels every run pays for (each variant is launched, each extra
    granularity adds a tile-list kernel). `time(c, m)` is None when unknown."""
    if not selection:
        return math.inf
    total = 0.0
    for m in masks:
        best = min((t for t in (time(c, m) for c in selection) if t is not None),
                   default=None)
        if best is None:
            return math.inf
        total += best
    return total / max(1, len(masks)) + slots.of(selection)


def marginal_gain(cand, selection, masks, time, slots=SLOTS):
    """Delta_g(s | S, M) (eq. 7): negative when adding `cand` helps."""
    return (expected_time(selection + [cand], masks, time, slots)
            - expected_time(selection, masks, time, slots))


def greedy_select(cands, masks, time, k, slots=SLOTS):
    """The greedy supermodular minimization (eq. 6): up to k candidates, each
    the one with the best marginal gain; stops when none improves g."""
    chosen = []
    for _ in range(k):
        best, best_gain = None, 0.0 if chosen else math.inf
        for c in cands:
            if c in chosen:
                continue
            # g of the empty set is infinite, so every first candidate's
            # marginal gain is -inf: compare g({c}) itself for the first pick
            # (until 2026-11-24 the first candidate in `cands` won it).
            gain = (marginal_gain(c, chosen, masks, time, slots) if chosen
                    else expected_time([c], masks, time, slots))
            if gain < best_gain:
                best, best_gain = c, gain
        if best is None:
            break
        chosen.append(best)
    return improve_by_swaps(chosen, cands, masks, time, slots)


def improve_by_swaps(chosen, cands, masks, time, slots=SLOTS):
    """Local search after the greedy steps: replace a chosen candidate by
    another, or drop one, while that lowers g. Greedy alone keeps its first
    pick, the best single variant, while the best pair may be two
    specialists (one for sparse masks, one for dense) of which neither is
    that pick. On 300 random small spaces it lifts the exact optimum from
    270 to 294 and bounds the excess at 20% instead of 43%
    (python/dynaspa/test_tune.py)."""
    g = expected_time(chosen, masks, time, slots)
    improved = True
    while improved and chosen:
        improved = False
        for i in range(len(chosen)):
            rest = chosen[:i] + chosen[i + 1:]
            options = [rest] if rest else []
            options += [rest[:i] + [c] + rest[i:] for c in cands if c not in chosen]
            for option in options:
                v = expected_time(option, masks, time, slots)
                if v < g - 1e-9:
                    chosen, g, improved = option, v, True
                    break
            if improved:
                break
    return chosen


# ----------------------------------------------------------------- search
def explore_exploit(cands, base, masks, score, count, rng, explore, slots=SLOTS):
    """Explore-and-Exploit with Delta_g as the energy (Algorithm 1, lines
    7-8): `count` candidates not yet in `base`, most of them those whose
    predicted marginal gain over `base` is best, a fraction `explore` drawn
    at random from the rest so that a wrong prediction can be corrected."""
    pool = [c for c in cands if c not in base]
    # g of the empty set is infinite: with nothing chosen yet, rank by g({c}).
    ranked = sorted(pool, key=lambda c: (marginal_gain(c, base, masks, score, slots) if base
                                         else expected_time([c], masks, score, slots)))
    n_explore = min(len(pool), int(round(count * explore)))
    picked = ranked[:count - n_explore]
    rest = [c for c in ranked if c not in picked]
    picked += rng.sample(rest, min(n_explore, len(rest)))
    return picked


class Tuner:
    """Algorithm 1 over a fixed candidate list and train masks.

    `measured[(cid, mid)]` holds the measured microseconds (None for a wrong
    result); `predict(c, m)` is the cost model's estimate. The cost function
    f of the paper is the measurement where there is one, else the
    prediction scaled by the median measured/predicted ratio so far (line 14:
    "update the cost function f using D")."""

    def __init__(self, cands, masks, predict, measured, seed=0, slots=SLOTS):
        self.cands, self.masks, self.predict = cands, masks, predict
        self.measured = measured
        self.rng = random.Random(seed)
        self.slots = slots

    def scale(self):
        ratios = sorted(self.measured[(c["id"], m["id"])] / p
                        for c in self.cands for m in self.masks
                        if self.measured.get((c["id"], m["id"])) is not None
                        and (p := self.predict(c, m)))
        return ratios[len(ratios) // 2] if ratios else 1.0

    def f(self, c, m):
        t = self.measured.get((c["id"], m["id"]), ())
        if t != ():
            return t
        p = self.predict(c, m)
        return None if p is None else p * self._scale

    def round(self, k, batch, per_variant, explore):
        """One iteration of the while loop: a mini-batch of masks and the
        (candidate, mask) pairs to measure next."""
        minibatch = self.rng.sample(self.masks, min(batch, len(self.masks)))
        if hasattr(self.predict, "prefetch"):
            self.predict.prefetch(
                [(c, m) for c in self.cands for m in minibatch] +
                [(c, m) for c in self.cands for m in self.masks
                 if (c["id"], m["id"]) in self.measured])
        self._scale = self.scale()
        query = []
        # Known on the whole mini-batch: nothing to learn from measuring it.
        known = [c for c in self.cands
                 if all((c["id"], m["id"]) in self.measured for m in minibatch)]
        fresh = [c for c in self.cands if c not in known]
        for _ in range(k):
            # The energy is the gain over what the slot's predecessors and the
            # known candidates already give (Delta_g(. | Q, M')).
            best_known = greedy_select(known, minibatch, self.f, 1, self.slots)
            picked = explore_exploit(fresh, query + best_known, minibatch, self.f,
                                     per_variant, self.rng, explore, self.slots)
            if not picked:
                break
            query += picked
        return [(c, m) for c in query for m in minibatch
                if (c["id"], m["id"]) not in self.measured]

    def time(self, c, m):
        return self.measured.get((c["id"], m["id"]))

    def complete(self, top):
        """Pairs to measure so that the `top` candidates have a time on every
        train mask (the final selection compares candidates on the same
        masks). Candidates are ranked by their mean ratio to the best time
        measured on each mask they were measured on: a plain mean time would
        favour those measured only on sparse (fast) masks."""
        best, seen = {}, {}
        for (cid, mid), t in self.measured.items():
            if t is not None:
                best[mid] = min(t, best.get(mid, math.inf))
        for (cid, mid), t in self.measured.items():
            if t is not None:
                seen.setdefault(cid, []).append(t / best[mid])
        ranked = sorted(seen, key=lambda cid: sum(seen[cid]) / len(seen[cid]))[:top]
        by_id = {c["id"]: c for c in self.cands}
        return [(by_id[cid], m) for cid in ranked for m in self.masks
                if (cid, m["id"]) not in self.measured]

    def select(self, k):
        full = [c for c in self.cands
                if all(self.time(c, m) is not None for m in self.masks)]
        return greedy_select(full, self.masks, self.time, k, self.slots)


def dispatch_ranges(selection, masks, time, slots=SLOTS):
    """Tile-count ranges for the chosen variants, in dispatch order (first
    match wins; the last variant takes the rest). The dispatch table gives
    each variant one range of its own count, so the train masks, in order of
    their tile count at the finest chosen granularity, are cut into
    contiguous segments, one per variant, with the least total time plus the
    kernel slots the used variants cost every run (a dynamic program over
    (masks covered, variants used)); each variant then serves up to the
    largest count, at its own granularity, of its segment. Assigning each
    variant the masks it is fastest on instead lets a variant that wins at
    both ends take everything between (found on the H100: a PolyKernel
    slower than its own second variant at d=0.3). Variants that get no
    segment are dropped."""
    gkey = lambda c: "x".join(str(x) for x in c["granularity"])  # noqa: E731
    finest = min(selection, key=lambda c: math.prod(c["granularity"]))
    order = sorted(masks, key=lambda m: (m["tiles"][gkey(finest)], m["density"]))
    n, k = len(order), len(selection)

    def seg(v, i, j):
        ts = [time(selection[v], m) for m in order[i:j]]
        return math.inf if None in ts else sum(ts)

    def slot_cost(used):
        return n * slots.of([selection[v] for v in range(k) if used >> v & 1])

    # best[(i, used)] = (time of order[:i] with the variants in `used`, plan)
    best = {(0, 0): (0.0, [])}
    for i in range(n):
        for used in range(1 << k):
            if (i, used) not in best:
                continue
            cost, plan = best[(i, used)]
            for v in range(k):
                if used >> v & 1:
                    continue
                for j in range(i + 1, n + 1):
                    key, c = (j, used | 1 << v), cost + seg(v, i, j)
                    if key not in best or c < best[key][0]:
                        best[key] = (c, plan + [(v, i, j)])
    _, plan = min(((best[(n, u)][0] + slot_cost(u), best[(n, u)][1])
                   for u in range(1, 1 << k) if (n, u) in best),
                  key=lambda e: e[0])
    out = []
    for idx, (v, i, j) in enumerate(plan):
        c = selection[v]
        entry = {"granularity": c["granularity"], "schedule": c["schedule"], "candidate": c["id"]}
        if idx + 1 < len(plan):
            entry["tiles"] = [0, max(m["tiles"][gkey(c)] for m in order[i:j])]
        out.append(entry)
    return out


def dispatched_time(variants, cands, m, time):
    """The time on mask m of the variant the dispatch table picks."""
    by_id = {c["id"]: c for c in cands}
    for v in variants:
        g = "x".join(str(x) for x in v["granularity"])
        lo, hi = v.get("tiles", [0, math.inf])
        if lo <= m["tiles"][g] <= hi:
            return time(by_id[v["candidate"]], m)
    return None


# ------------------------------------------------------------ mask split
def split_masks(masks, holdout, rng, stratum):
    """The ids of the masks to hold out: round(holdout * len(masks)) of them,
    spread over the strata (`stratum(mask)`: e.g. a mask kind at one target
    density) so that each stratum keeps as many train masks as the others,
    within one.

    A plain random split can leave a density with one train mask or none;
    the selection then weighs that density by its few masks and drops its
    specialists (NOTES.md entry 26: one d=0.1 mask among 13 train masks cost
    the 40x40x256 b4 PolyKernel its d=0.1 variant). Each stratum gives up
    floor(holdout * size) masks; the rest of the count comes one mask each
    from the strata with the most train masks left, ties broken by `rng`."""
    groups = {}
    for m in masks:
        groups.setdefault(stratum(m), []).append(m["id"])
    for ids in groups.values():
        rng.shuffle(ids)
    want = int(round(holdout * len(masks)))
    take = {key: int(holdout * len(ids)) for key, ids in groups.items()}
    keys = sorted(groups, key=str)
    rng.shuffle(keys)
    while sum(take.values()) < want:
        key = max(keys, key=lambda k: len(groups[k]) - take[k])
        if len(groups[key]) == take[key]:
            break
        take[key] += 1
    return set(i for key, ids in groups.items() for i in ids[:take[key]])


# ---------------------------------------------------------------- records
def load_records(path):
    try:
        with open(path) as f:
            doc = json.load(f)
    except FileNotFoundError:
        return {"format": FORMAT, "version": VERSION, "operators": []}
    if doc.get("format") != FORMAT or doc.get("version") != VERSION:
        raise ValueError("%s: not a version-%d %s file" % (path, VERSION, FORMAT))
    return doc


def operator_record(doc, signature):
    for op in doc["operators"]:
        if op.get("signature") == signature:
            return op
    op = {"signature": signature, "masks": [], "candidates": []}
    doc["operators"].append(op)
    return op


def save_records(doc, path):
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(doc, f, indent=1)
    import os
    os.replace(tmp, path)
