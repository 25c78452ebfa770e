#!/usr/bin/env python3
"""CPU test of run.py's baselines and checks (needs PyTorch; no GPU): every
dense, gather-scatter and torch.sparse variant of small versions of the
suite's ops must equal the float64 reference, and the tensors handed to
dynaspa must be what the generated MLIR declares. Skips (exit 0) without
torch. Prints "N passed, N failed".

    /tmp/venv-with-torch/bin/python benchmarks/test_baselines.py
"""

import os
import sys
import traceback

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

try:
    import torch
    import torch.nn.functional as F
except ImportError:
    print("SKIP: no torch")
    print("0 passed, 0 failed")
    sys.exit(0)

import masks  # noqa: E402
import run  # noqa: E402
import suite  # noqa: E402

run.torch, run.F, run.DEV = torch, F, "cpu"

SMALL = [
    suite.Op("c3", "conv3x3", "t", "conv", 13, 10, 8, 12, 3, 1, ("blobs",)),
    suite.Op("c3s2", "conv3x3_s2", "t", "conv", 13, 10, 8, 12, 3, 2, ("blobs",)),
    suite.Op("c1", "conv1x1", "t", "conv", 9, 11, 8, 24, 1, 1, ("blobs",)),
    suite.OPS_BY_NAME["attn_qkt"],
    suite.OPS_BY_NAME["attn_av"],
]


def mask_for(op, batch, d, seed=0):
    rng = np.random.default_rng(seed)
    if op.kind == "conv":
        ho, wo = suite.out_size(op)
        return masks.target_density(rng.random((batch, ho, wo)), d)
    t = masks.target_density(rng.random((batch, 14, 14)), d).reshape(batch, 196)
    return np.repeat(masks.add_class_token(t), suite.HEADS, axis=0)


class FakeOper:
    """What a bundle compiled from suite.mlir() declares."""

    def __init__(self, op, batch):
        sh = suite.conv_shapes(op, batch) if op.kind == "conv" else suite.bmm_shapes(op, batch)
        names = (["input", "filter", "mask"] if op.kind == "conv"
                 else ["lhs", "rhs", "row_mask"] + (["col_mask"] if "col_mask" in sh else []))
        info = lambda n: run_rt_info(n, "i1" if "mask" in n else "f32", sh[n])  # noqa: E731
        self.inputs = [info(n) for n in names]
        self.outputs = [info("output")]


def run_rt_info(name, dtype, shape):
    sys.path.insert(0, os.path.join(os.path.dirname(HERE), "python"))
    from dynaspa.runtime import TensorInfo
    return TensorInfo(name, dtype, shape)


def cases():
    for op in SMALL:
        for batch in ((1, 2) if op.kind == "conv" else (1,)):
            for d in (0.1, 0.5, 1.0):
                yield op, batch, d


def one(op, batch, d):
    case = (run.ConvCase if op.kind == "conv" else run.BmmCase)(op, batch, 0)
    case.set_mask(mask_for(op, batch, d))
    got = {}
    # the reference itself against python/dynaspa/reference.py's NumPy one
    sys.path.insert(0, os.path.join(os.path.dirname(HERE), "python"))
    from dynaspa import reference
    if op.kind == "conv":
        p = suite.padding(op)
        npref = reference.conv_ref(case.x.numpy(), case.w.numpy(), case.m_np,
                                   strides=(op.stride, op.stride), padding=p)
    else:
        m = case.mask.numpy()
        npref = reference.bmm_ref(case.a.numpy(), case.b.numpy(), m, m if case.col else None)
    assert np.abs(case.ref.numpy() - npref).max() <= 1e-9 * max(1, np.abs(npref).max())
    for layout in ("nhwc", "nchw"):
        fn, view = case.dense_fn(torch.float32, layout)
        got["dense_" + layout] = run.rel_err(view(fn()), case.ref)
    for bo in (1, 2, 4, 8):
        g = case.gather_scatter(bo)
        if g is None:
            continue
        fn, view, _, _ = g
        fn()
        got["gs%d" % bo] = run.rel_err(view(), case.ref)
    sp = case.torch_sparse()
    if sp is not None:
        fn, view = sp
        got["sparse"] = run.rel_err(view(fn()), case.ref)
    bad = {k: v for k, v in got.items() if not v <= run.TOLERANCE}
    assert not bad, bad
    # dynaspa's tensors are what the MLIR declares (and the check says so)
    ins, outs = case.dynaspa_io()
    run.Dynaspa.check_signature(FakeOper(op, batch), ins, outs)
    assert all(t.is_contiguous() for t in ins + outs)
    if op.kind == "conv":
        assert case.x.data_ptr() == case.x_ext.data_ptr()
    return sorted(got)


def main():
    failed = n = 0
    for op, batch, d in cases():
        n += 1
        try:
            what = one(op, batch, d)
            print("PASS %s b%d d=%.1f (%s)" % (op.name, batch, d, ",".join(what)))
        except Exception:  # noqa: BLE001
            failed += 1
            print("FAIL %s b%d d=%.1f\n%s" % (op.name, batch, d, traceback.format_exc()))
    # attention with a different token count per image: gather-scatter pads
    n += 1
    try:
        op = suite.OPS_BY_NAME["attn_qkt"]
        case = run.BmmCase(op, 2, 0)
        m = np.concatenate([mask_for(op, 1, 0.1, 1), mask_for(op, 1, 0.6, 2)])
        case.set_mask(m)
        fn, view, _, kmax = case.gather_scatter(1)
        fn()
        err = run.rel_err(view(), case.ref)
        assert err <= run.TOLERANCE and kmax == m.sum(1).max(), (err, kmax)
        try:
            case.torch_sparse()
            raise AssertionError("unequal counts accepted by batched CSR")
        except ValueError:
            pass
        print("PASS attention with unequal token counts")
    except Exception:  # noqa: BLE001
        failed += 1
        print("FAIL attention with unequal token counts\n%s" % traceback.format_exc())
    # a mismatching declaration is caught
    n += 1
    try:
        op = SMALL[0]
        case = run.ConvCase(op, 1, 0)
        case.set_mask(mask_for(op, 1, 0.5))
        ins, outs = case.dynaspa_io()
        try:
            run.Dynaspa.check_signature(FakeOper(op, 2), ins, outs)
            raise AssertionError("batch mismatch not caught")
        except ValueError:
            pass
        print("PASS signature mismatch caught")
    except Exception:  # noqa: BLE001
        failed += 1
        print("FAIL signature mismatch\n%s" % traceback.format_exc())
    print("%d passed, %d failed" % (n - failed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
