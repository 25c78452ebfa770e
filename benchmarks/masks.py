"""Benchmark masks: read a mask directory, resize to a layer, hit a density.

NumPy only (no torch), so the rule below is unit-tested on the build machine
(benchmarks/test_masks.py).

Mask directory format (as ``../shared/masks``): ``index.json`` with a list
``files`` of ``{"file", "kind", "H", "W", "target_density", ...}`` and one
``.npy`` per entry holding a uint8/bool array ``[count, H, W]`` (1 = active).

The rule that turns a mask set into a mask of density ``d`` at ``Ho x Wo``
(documented in benchmarks/README.md):

1. Source file: among the files of the kind, the smallest resolution that is
   at least ``Ho x Wo`` (else the largest), and at that resolution the file
   whose ``target_density`` is nearest ``d`` (ties: the denser one, so that
   we erode rather than dilate).
2. Sample ``i`` of a batch is sample ``i mod count`` of the file.
3. Resize by area averaging (exact box resampling, up or down) to a soft map
   ``p`` in [0, 1]; the binary resized mask is ``p >= 0.5``.
4. Rank every pixel by a signed chessboard distance to the boundary of that
   binary mask: inside pixels by how many 3x3 erosions they survive (1 = on
   the boundary), outside pixels by minus the number of 3x3 dilations that
   reach them; ties by the soft coverage ``p`` and a 5x5-blurred ``p``, then
   a fixed pseudo-random jitter.
5. Keep the top ``round(d * Ho * Wo)`` pixels of each sample (at least one).

So every sample has exactly the target density (up to rounding), shapes are
the source's, grown by dilation or shrunk by erosion, and the masks of one
sample at increasing densities are nested. ``d = 1`` is all ones.

Token masks (``tokens`` kind, 14x14 patch grid) use the same rule on the
grid, are flattened to 196 patch tokens and get the class token (always
active) prepended: 197 tokens.
"""

import json
import os

import numpy as np


class MaskSet:
    """The files of one mask directory, loaded lazily."""

    def __init__(self, directory):
        self.directory = directory
        path = os.path.join(directory, "index.json")
        if not os.path.exists(path):
            raise FileNotFoundError("no index.json in mask directory %r" % directory)
        with open(path) as f:
            self.index = json.load(f)
        self.files = list(self.index["files"])
        self._cache = {}

    def kinds(self):
        return sorted({f["kind"] for f in self.files})

    def load(self, entry):
        name = entry["file"]
        if name not in self._cache:
            arr = np.load(os.path.join(self.directory, name))
            if arr.ndim == 2:
                arr = arr[None]
            if arr.ndim != 3:
                raise ValueError("%s: expected [N,H,W], got shape %s" % (name, arr.shape))
            self._cache[name] = (arr != 0)
        return self._cache[name]

    def choose(self, kind, ho, wo, density):
        """The index entry the rule (steps 1) takes for ``kind`` at ``ho x wo``."""
        cands = [f for f in self.files if f["kind"] == kind]
        if not cands:
            raise KeyError("mask kind %r not in %s (has: %s)"
                           % (kind, self.directory, ", ".join(self.kinds())))
        big = [f for f in cands if f["H"] >= ho and f["W"] >= wo]
        if big:
            res = min((f["H"] * f["W"], f["H"], f["W"]) for f in big)[1:]
        else:
            res = max((f["H"] * f["W"], f["H"], f["W"]) for f in cands)[1:]
        at_res = [f for f in cands if (f["H"], f["W"]) == res]
        return min(at_res, key=lambda f: (abs(f["target_density"] - density),
                                          -f["target_density"]))

    def spatial(self, kind, batch, ho, wo, density, seed=0):
        """A bool mask ``[batch, ho, wo]`` of ``kind`` at ``density``; also
        returns the source file name."""
        entry = self.choose(kind, ho, wo, density)
        src = self.load(entry)
        idx = np.arange(batch) % src.shape[0]
        return target_density(resize_area(src[idx], ho, wo), density, seed), entry["file"]

    def tokens(self, kind, batch, density, seed=0):
        """A bool token mask ``[batch, 1 + H*W]`` (class token first, always
        active) from a token-grid mask set."""
        cands = [f for f in self.files if f["kind"] == kind]
        if not cands:
            raise KeyError("mask kind %r not in %s" % (kind, self.directory))
        h, w = cands[0]["H"], cands[0]["W"]
        grid, name = self.spatial(kind, batch, h, w, density, seed)
        return add_class_token(grid.reshape(batch, h * w)), name


# --------------------------------------------------------------- resizing
def area_matrix(n_in, n_out):
    """``[n_out, n_in]`` weights of exact box resampling: row ``i`` holds the
    overlap of output pixel ``i`` (length n_in/n_out in input units) with
    each input pixel, divided by that length (rows sum to 1)."""
    scale = n_in / n_out
    lo = np.arange(n_out)[:, None] * scale
    hi = lo + scale
    j = np.arange(n_in)[None, :]
    overlap = np.clip(np.minimum(hi, j + 1) - np.maximum(lo, j), 0, None)
    return overlap / scale


def resize_area(masks, ho, wo):
    """Soft coverage ``[N, ho, wo]`` in [0, 1] of 0/1 masks ``[N, H, W]``."""
    m = np.asarray(masks, np.float64)
    ah = area_matrix(m.shape[1], ho)
    aw = area_matrix(m.shape[2], wo)
    return np.matmul(np.matmul(ah, m), aw.T)


# ------------------------------------------------------ density targeting
def _shift_min(a, op):
    """3x3 min (``op=np.minimum``) or max filter with edge replication,
    separably."""
    p = np.pad(a, ((0, 0), (1, 1), (1, 1)), mode="edge")
    r = op(op(p[:, :, :-2], p[:, :, 1:-1]), p[:, :, 2:])
    return op(op(r[:, :-2, :], r[:, 1:-1, :]), r[:, 2:, :])


def signed_levels(b, keep=None):
    """Signed chessboard level of each pixel of bool masks ``[N, H, W]``:
    ``k >= 1`` inside (survives ``k - 1`` 3x3 erosions), ``-k`` outside
    (reached by the ``k``-th 3x3 dilation). Pixels of an all-empty sample get
    ``-(H + W)``.

    With ``keep`` (the number of pixels a caller will keep per sample), the
    levels are only resolved as far as a top-``keep`` selection needs: erosion
    stops once no sample has more than ``keep`` pixels left (the rest share
    the last level), dilation once every sample has reached ``keep``."""
    b = np.asarray(b, bool)
    n, h, w = b.shape
    level = np.zeros(b.shape, np.int64)
    cur = b.copy()
    k = 0
    while cur.any():                       # erosions
        k += 1
        level[cur] = k
        if keep is not None and cur.sum(axis=(1, 2)).max() <= keep:
            break
        nxt = _shift_min(cur, np.minimum)
        if np.array_equal(nxt, cur):       # a full sample never erodes
            break
        cur = nxt
    cur = b.copy()
    k = 0
    unreached = ~b
    while unreached.any() and k < h + w:   # dilations
        if keep is not None and cur.sum(axis=(1, 2)).min() >= keep:
            break
        k += 1
        nxt = _shift_min(cur, np.maximum)
        new = nxt & ~cur
        if not new.any():
            break
        level[new] = -k
        unreached &= ~new
        cur = nxt
    level[unreached] = -(h + w)
    return level


def _blur5(p):
    q = np.pad(p, ((0, 0), (2, 2), (2, 2)), mode="edge")
    h, w = p.shape[1:]
    s = sum(q[:, i:i + h, :] for i in range(5))
    return sum(s[:, :, j:j + w] for j in range(5)) / 25.0


def target_density(soft, density, seed=0):
    """Bool masks ``[N, H, W]`` with exactly ``max(1, round(density*H*W))``
    active pixels per sample, chosen from soft masks ``soft`` (values in
    [0, 1]; a 0/1 mask works too) by the signed-distance rank of the module
    docstring."""
    soft = np.asarray(soft, np.float64)
    n, h, w = soft.shape
    k = int(np.clip(round(density * h * w), 1, h * w))
    if k == h * w:
        return np.ones(soft.shape, bool)
    b = soft >= 0.5
    for i in range(n):                     # an empty sample: seed from any coverage
        if not b[i].any():
            b[i] = soft[i] > 0
    rng = np.random.default_rng(seed)
    jitter = rng.random(soft.shape)
    score = (signed_levels(b, k) + 0.25 * soft + 0.2 * _blur5(soft) + 1e-3 * jitter)
    flat = score.reshape(n, h * w)
    order = np.argsort(-flat, axis=1, kind="stable")[:, :k]
    out = np.zeros((n, h * w), bool)
    np.put_along_axis(out, order, True, axis=1)
    return out.reshape(n, h, w)


def add_class_token(tokens):
    """``[N, T]`` -> ``[N, 1 + T]`` with the class token (always active) first."""
    tokens = np.asarray(tokens, bool)
    return np.concatenate([np.ones((tokens.shape[0], 1), bool), tokens], axis=1)


def density_of(mask):
    return float(np.asarray(mask, bool).mean())
