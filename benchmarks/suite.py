"""The benchmark suite: operators, shapes, batches, densities, and the MLIR
each (operator, shape, batch) is compiled from. NumPy-free and torch-free, so
the plan can be listed and tested anywhere.
"""

import collections

DENSITIES = (0.1, 0.3, 0.5, 0.7, 0.9, 1.0)
BATCHES = (1, 4, 16)
HEADS = 6
TOKENS = 197          # class token + 14x14 patches
HEAD_DIM = 64
# QK^T is masked on rows and columns (only pairs of kept tokens), as in
# examples/masked_attention.mlir; AV on rows only.
QKT_COL_MASK = True

QUICK_OPS = ("conv3x3_56x56x64", "conv3x3_40x40x256", "conv1x1_40x40x256",
             "conv3x3s2_80x80x128", "sige3x3_128x128x256", "attn_qkt", "attn_av")
QUICK_BATCHES = (1, 16)
QUICK_DENSITIES = (0.1, 0.5, 1.0)

Op = collections.namedtuple(
    "Op", "name op family kind H W Cin Cout k stride mask_kinds")
# kind: "conv" or "bmm". For bmm: H = rows (tokens), W = output columns,
# Cin = the reduction dimension, Cout = W; k/stride are None.


def _conv(name, op, family, h, w, cin, cout, k, stride, kinds):
    return Op(name, op, family, "conv", h, w, cin, cout, k, stride, kinds)


OPS = (
    # DynConv (ResNet stages + the paper's layer)
    _conv("conv3x3_56x56x64", "conv3x3", "dynconv", 56, 56, 64, 64, 3, 1, ("saliency",)),
    _conv("conv3x3_28x28x128", "conv3x3", "dynconv", 28, 28, 128, 128, 3, 1, ("saliency",)),
    _conv("conv3x3_14x14x256", "conv3x3", "dynconv", 14, 14, 256, 256, 3, 1, ("saliency",)),
    _conv("conv3x3_7x7x512", "conv3x3", "dynconv", 7, 7, 512, 512, 3, 1, ("saliency",)),
    _conv("conv3x3_40x40x256", "conv3x3", "dynconv", 40, 40, 256, 256, 3, 1, ("saliency",)),
    _conv("conv1x1_40x40x256", "conv1x1", "dynconv", 40, 40, 256, 1024, 1, 1, ("saliency",)),
    _conv("conv3x3s2_80x80x128", "conv3x3_s2", "dynconv", 80, 80, 128, 128, 3, 2, ("saliency",)),
    # SIGE-like image editing layers
    _conv("sige3x3_128x128x256", "conv3x3", "sige", 128, 128, 256, 256, 3, 1, ("edit",)),
    _conv("sige3x3_256x256x128", "conv3x3", "sige", 256, 256, 128, 128, 3, 1, ("edit",)),
    # A-ViT attention, per image HEADS heads of TOKENS tokens
    Op("attn_qkt", "attn_qkt", "attention", "bmm", TOKENS, TOKENS, HEAD_DIM, TOKENS,
       None, None, ("tokens",)),
    Op("attn_av", "attn_av", "attention", "bmm", TOKENS, HEAD_DIM, TOKENS, HEAD_DIM,
       None, None, ("tokens",)),
    # Shapes nothing was tuned or chosen on (no records, no sweep): how the
    # default PolyKernels (schedules.default_variants) do on layers they were
    # not derived from. Not in the default selection: `--ops unseen`.
    _conv("conv3x3_20x20x384", "conv3x3", "unseen", 20, 20, 384, 384, 3, 1, ("saliency",)),
    _conv("conv3x3_32x32x192", "conv3x3", "unseen", 32, 32, 192, 192, 3, 1, ("saliency",)),
    _conv("conv3x3_64x64x96", "conv3x3", "unseen", 64, 64, 96, 96, 3, 1, ("saliency",)),
    _conv("conv1x1_28x28x512", "conv1x1", "unseen", 28, 28, 512, 128, 1, 1, ("saliency",)),
    _conv("conv3x3s2_56x56x64", "conv3x3_s2", "unseen", 56, 56, 64, 128, 3, 2, ("saliency",)),
)
# Families a plain run (no --ops) leaves out.
OPT_IN_FAMILIES = ("unseen",)
OPS_BY_NAME = {o.name: o for o in OPS}


def out_size(op):
    """(Ho, Wo) of a conv with "same" padding for k = 3 (0 for k = 1)."""
    pad = (op.k - 1) // 2
    ho = (op.H + 2 * pad - op.k) // op.stride + 1
    wo = (op.W + 2 * pad - op.k) // op.stride + 1
    return ho, wo


def padding(op):
    p = (op.k - 1) // 2
    return (p, p, p, p)


def flops(op, batch):
    """Dense multiply-add FLOPs (2 per MAC)."""
    if op.kind == "conv":
        ho, wo = out_size(op)
        return 2 * batch * ho * wo * op.Cout * op.Cin * op.k * op.k
    return 2 * batch * HEADS * op.H * op.Cin * op.W


def select_ops(names=None, quick=False):
    if not names:
        names = QUICK_OPS if quick else [o.name for o in OPS
                                         if o.family not in OPT_IN_FAMILIES]
    out = []
    for n in names:
        hits = [o for o in OPS if o.name == n or o.op == n or o.family == n]
        if not hits:
            raise KeyError("unknown op %r; known: %s" % (n, ", ".join(OPS_BY_NAME)))
        out += [h for h in hits if h not in out]
    return out


def bundle_key(op, batch):
    """The name of the bundle (file stem) and of the function in it."""
    return "%s_b%d" % (op.name, batch)


# ------------------------------------------------------------------ MLIR
def _t(shape, elt):
    return "tensor<%sx%s>" % ("x".join(str(d) for d in shape), elt)


def conv_shapes(op, batch):
    ho, wo = out_size(op)
    return dict(input=(batch, op.H, op.W, op.Cin), filter=(op.k, op.k, op.Cin, op.Cout),
                mask=(batch, ho, wo), output=(batch, ho, wo, op.Cout))


def bmm_shapes(op, batch):
    b = batch * HEADS
    s = dict(lhs=(b, op.H, op.Cin), rhs=(b, op.Cin, op.W), row_mask=(b, op.H),
             output=(b, op.H, op.W))
    if op.name == "attn_qkt" and QKT_COL_MASK:
        s["col_mask"] = (b, op.W)
    return s


def variants_attr(variants):
    """`spsparse.variants = [...]` for a list of (granularity tuple, schedule
    string, tile range or None, cover or None), in dispatch order; a cover is
    (of granularity, over granularity, lo %, hi %), see #spsparse.cover."""
    def sizes(g):
        return ", ".join(str(v) for v in g)
    items = []
    for g, sched, tiles, cover in variants:
        d = "granularity = #spsparse.granularity<[%s]>" % sizes(g)
        if sched:
            d += ", schedule = #spsparse.schedule<%s>" % sched
        if tiles is not None:
            d += ", tiles = array<i64: %d, %d>" % tuple(tiles)
        if cover is not None:
            of, over, lo, hi = cover
            d += ", cover = #spsparse.cover<[%s] over [%s] in [%d, %d]>" % (
                sizes(of), sizes(over), lo, hi)
        items.append("{" + d + "}")
    return "spsparse.variants = [" + ", ".join(items) + "]"


def mlir(op, batch, variants=None, fn=None):
    """A module with one function holding one masked op (no bias; f32 data,
    i1 masks; NHWC/HWCF convs with "same" padding), with the PolyKernel
    `variants` (see variants_attr) if given, else the outlining defaults."""
    fn = fn or bundle_key(op, batch)
    if op.kind == "conv":
        s = conv_shapes(op, batch)
        ti, tf, tm, to = (_t(s["input"], "f32"), _t(s["filter"], "f32"),
                          _t(s["mask"], "i1"), _t(s["output"], "f32"))
        attrs = [variants_attr(variants)] if variants else []
        if op.stride != 1:
            attrs.append("strides = array<i64: %d, %d>" % (op.stride, op.stride))
        if any(padding(op)):
            attrs.append("padding = array<i64: %d, %d, %d, %d>" % padding(op))
        attr = (" {" + ", ".join(attrs) + "}") if attrs else ""
        return (
            "// %s, batch %d (generated by benchmarks/make_bundles.py)\n"
            "func.func @%s(%%input: %s, %%filter: %s,\n    %%mask: %s) -> %s {\n"
            "  %%y = spsparse.masked_conv2d %%input, %%filter mask %%mask%s\n"
            "       : (%s, %s, %s) -> %s\n"
            "  return %%y : %s\n}\n"
            % (op.name, batch, fn, ti, tf, tm, to, attr, ti, tf, tm, to, to))
    s = bmm_shapes(op, batch)
    ta, tb, tr, to = (_t(s["lhs"], "f32"), _t(s["rhs"], "f32"),
                      _t(s["row_mask"], "i1"), _t(s["output"], "f32"))
    args = "%%lhs: %s, %%rhs: %s, %%row_mask: %s" % (ta, tb, tr)
    masks = "row_mask %row_mask"
    types = "%s, %s, %s" % (ta, tb, tr)
    if "col_mask" in s:
        tc = _t(s["col_mask"], "i1")
        args += ", %%col_mask: %s" % tc
        masks += " col_mask %col_mask"
        types += ", " + tc
    # The variants, as for the conv (until 2026-11-24 they were dropped here,
    # so every bmm "candidate" of a sweep was the outlining default).
    attr = (" {" + variants_attr(variants) + "}") if variants else ""
    return (
        "// %s, batch %d x %d heads (generated by benchmarks/make_bundles.py)\n"
        "func.func @%s(%s) -> %s {\n"
        "  %%y = spsparse.masked_batch_matmul %%lhs, %%rhs %s%s\n"
        "       : (%s) -> %s\n"
        "  return %%y : %s\n}\n"
        % (op.name, batch, HEADS, fn, args, to, masks, attr, types, to, to))


def plan(ops, batches, densities, mask_kinds=None):
    """Every record a run makes: (op, batch, mask_kind, density)."""
    out = []
    for op in ops:
        kinds = op.mask_kinds
        if mask_kinds:
            want = [k for k in mask_kinds if (k == "tokens") == (op.kind == "bmm")]
            kinds = tuple(want) or kinds
        for b in batches:
            for kind in kinds:
                for d in densities:
                    out.append((op, b, kind, d))
    return out
