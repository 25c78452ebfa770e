# Runs random masked convolutions and batch-matmuls through the reference
# lowering on the CPU and compares every output element with an independent
# float64 NumPy computation of Y = M * (op(X, K) + b). Covers NHWC/NCHW,
# 1x1/3x3/5x5, stride 2, dilation, asymmetric padding, batch > 1, broadcast and
# per-sample masks of i1/i8/f32, and a real saliency mask.
#
# REQUIRES: numpy, shared-masks
# RUN: %python %s --dynaspa-opt dynaspa-opt --mlir-opt mlir-opt \
# RUN:   --mlir-runner mlir-runner --runner-libs %mlir_runner_utils \
# RUN:   --masks %shared_masks --pipeline="%cpu_pipeline" | FileCheck %s
#
# CHECK: PASS conv3x3_nhwc_bias
# CHECK: PASS conv1x1_nhwc_broadcast_i8
# CHECK: PASS conv3x3s2_nchw_f32mask
# CHECK: PASS conv5x5_nhwc_pad2
# CHECK: PASS conv3x3_dilated_asym_pad
# CHECK: PASS conv1x1_saliency_40x40
# CHECK: PASS bmm_row_col
# CHECK: PASS bmm_row_i32
# CHECK: PASS bmm_tokens_14x14
# CHECK: 9 passed, 0 failed

import argparse
import os
import re
import subprocess
import sys

import numpy as np

MLIR_DTYPE = {np.bool_: "i1", np.int8: "i8", np.int32: "i32", np.float32: "f32"}


def mlir_type(a):
    elt = MLIR_DTYPE[a.dtype.type]
    return "tensor<" + "x".join(str(d) for d in a.shape) + "x" + elt + ">"


def mlir_dense(a):
    """An arith.constant literal for `a`, nested like its shape."""
    def fmt(v):
        if a.dtype == np.bool_:
            return "true" if v else "false"
        if a.dtype.kind == "f":
            return repr(float(np.float32(v)))
        return str(int(v))

    def rec(x):
        if x.ndim == 0:
            return fmt(x.item())
        return "[" + ", ".join(rec(s) for s in x) + "]"
    return "dense<" + rec(a) + "> : " + mlir_type(a)


# ---------------------------------------------------------------- references
def conv_ref(x, w, m, b, strides, dilations, pad, layout):
    """float64 Y = M * (conv(X, W) + b); NHWC/HWCF or NCHW/FCHW."""
    x = x.astype(np.float64)
    w = w.astype(np.float64)
    if layout == "nchw":
        x = x.transpose(0, 2, 3, 1)
        w = w.transpose(2, 3, 1, 0)
    n, h, wd, _ = x.shape
    kh, kw, _, cout = w.shape
    xp = np.pad(x, ((0, 0), (pad[0], pad[1]), (pad[2], pad[3]), (0, 0)))
    ho = (h + pad[0] + pad[1] - dilations[0] * (kh - 1) - 1) // strides[0] + 1
    wo = (wd + pad[2] + pad[3] - dilations[1] * (kw - 1) - 1) // strides[1] + 1
    y = np.zeros((n, ho, wo, cout))
    for r in range(kh):
        for s in range(kw):
            patch = xp[:, r * dilations[0]: r * dilations[0] + strides[0] * (ho - 1) + 1: strides[0],
                       s * dilations[1]: s * dilations[1] + strides[1] * (wo - 1) + 1: strides[1], :]
            y += patch @ w[r, s]
    if b is not None:
        y += b
    mk = (m != 0)
    if mk.ndim == 2:
        mk = np.broadcast_to(mk, (n,) + mk.shape)
    y = y * mk[..., None]
    return y.transpose(0, 3, 1, 2) if layout == "nchw" else y


def bmm_ref(a, b, r, c):
    y = a.astype(np.float64) @ b.astype(np.float64)
    y = y * np.broadcast_to(r != 0, y.shape[:2])[:, :, None]
    if c is not None:
        y = y * np.broadcast_to(c != 0, (y.shape[0], y.shape[2]))[:, None, :]
    return y


# -------------------------------------------------------------- MLIR program
def program(op_text, operands, result_type):
    lines = ["func.func private @printMemrefF32(tensor<*xf32>)", "func.func @main() {"]
    for name, arr in operands:
        lines.append("  %%%s = arith.constant %s" % (name, mlir_dense(arr)))
    lines.append("  %y = " + op_text)
    lines.append("  %%u = tensor.cast %%y : %s to tensor<*xf32>" % result_type)
    lines.append("  call @printMemrefF32(%u) : (tensor<*xf32>) -> ()")
    lines.append("  return")
    lines.append("}")
    return "\n".join(lines) + "\n"


def step(cmd, text):
    proc = subprocess.run(cmd, input=text, capture_output=True, text=True)
    if proc.returncode != 0:
        sys.exit("%s failed:\n%s" % (cmd[0], proc.stderr))
    return proc.stdout


def run(args, text):
    linalg = step([args.dynaspa_opt, "--convert-spsparse-to-linalg"], text)
    llvm = step([args.mlir_opt] + args.pipeline.split(), linalg)
    out = step([args.mlir_runner, "-e", "main", "-entry-point-result=void",
                "-shared-libs=" + args.runner_libs], llvm)
    data = out.split("data =", 1)[1]
    nums = re.findall(r"-?(?:nan|inf|\d+(?:\.\d*)?(?:e[-+]?\d+)?)", data)
    return np.array([float(v) for v in nums])


def check(name, got, ref):
    ref = ref.reshape(-1)
    if got.size != ref.size:
        return False, "got %d values, expected %d" % (got.size, ref.size)
    scale = max(1.0, float(np.abs(ref).max()))
    err = float(np.abs(got - ref).max()) / scale
    # Masked-off positions must be exactly zero, not merely small.
    zeros_exact = bool(np.all(got[ref == 0] == 0)) if np.any(ref == 0) else True
    ok = err <= 1e-4 and zeros_exact
    return ok, "max_rel_err=%.2e zeros_exact=%s" % (err, zeros_exact)


def conv_case(rng, name, n, h, w, cin, cout, k, strides=(1, 1), dilations=(1, 1),
              pad=(0, 0, 0, 0), layout="nhwc", mask_dtype=np.bool_, per_sample=True,
              bias=True, mask=None, density=0.4):
    ho = (h + pad[0] + pad[1] - dilations[0] * (k - 1) - 1) // strides[0] + 1
    wo = (w + pad[2] + pad[3] - dilations[1] * (k - 1) - 1) // strides[1] + 1
    xs = (n, h, w, cin) if layout == "nhwc" else (n, cin, h, w)
    ws = (k, k, cin, cout) if layout == "nhwc" else (cout, cin, k, k)
    x = rng.uniform(-1, 1, xs).astype(np.float32)
    wt = rng.uniform(-1, 1, ws).astype(np.float32)
    if mask is None:
        ms = (n, ho, wo) if per_sample else (ho, wo)
        mask = (rng.random(ms) < density).astype(mask_dtype)
    b = rng.uniform(-1, 1, (cout,)).astype(np.float32) if bias else None
    ys = (n, ho, wo, cout) if layout == "nhwc" else (n, cout, ho, wo)
    res_ty = "tensor<%sxf32>" % "x".join(map(str, ys))
    operands = [("x", x), ("w", wt), ("m", mask)] + ([("b", b)] if bias else [])
    attrs = "{layout = #spsparse.layout<%s>, strides = array<i64: %d, %d>, dilations = array<i64: %d, %d>, padding = array<i64: %d, %d, %d, %d>}" % (
        (layout,) + tuple(strides) + tuple(dilations) + tuple(pad))
    op = "spsparse.masked_conv2d %%x, %%w mask %%m%s %s : (%s) -> %s" % (
        " bias %b" if bias else "", attrs,
        ", ".join(mlir_type(a) for _, a in operands), res_ty)
    ref = conv_ref(x, wt, mask, b, strides, dilations, pad, layout)
    return name, program(op, operands, res_ty), ref


def bmm_case(rng, name, bsz, m, k, n, row_shape, col_shape=None, dtype=np.bool_,
             row=None, density=0.5):
    a = rng.uniform(-1, 1, (bsz, m, k)).astype(np.float32)
    b = rng.uniform(-1, 1, (bsz, k, n)).astype(np.float32)
    r = row if row is not None else (rng.random(row_shape) < density).astype(dtype)
    c = (rng.random(col_shape) < density).astype(dtype) if col_shape else None
    operands = [("a", a), ("b", b), ("r", r)] + ([("c", c)] if c is not None else [])
    res_ty = "tensor<%dx%dx%dxf32>" % (bsz, m, n)
    op = "spsparse.masked_batch_matmul %%a, %%b row_mask %%r%s : (%s) -> %s" % (
        " col_mask %c" if c is not None else "",
        ", ".join(mlir_type(x) for _, x in operands), res_ty)
    return name, program(op, operands, res_ty), bmm_ref(a, b, r, c)


def main():
    p = argparse.ArgumentParser(description=__doc__)
    for flag in ("--dynaspa-opt", "--mlir-opt", "--mlir-runner", "--runner-libs",
                 "--pipeline", "--masks"):
        p.add_argument(flag, required=True)
    args = p.parse_args()
    rng = np.random.default_rng(20241104)

    saliency = np.load(os.path.join(args.masks, "saliency_40x40_d0.3.npy"))[0]
    tokens = np.load(os.path.join(args.masks, "tokens_14x14_d0.3.npy"))[:2]
    # A-ViT keeps the class token: 197 = 1 + 14*14 rows.
    token_rows = np.concatenate([np.ones((2, 1), np.uint8), tokens.reshape(2, -1)], 1)

    cases = [
        conv_case(rng, "conv3x3_nhwc_bias", 2, 7, 9, 3, 5, 3, pad=(1, 1, 1, 1)),
        conv_case(rng, "conv1x1_nhwc_broadcast_i8", 1, 6, 6, 4, 6, 1,
                  mask_dtype=np.int8, per_sample=False, bias=False),
        conv_case(rng, "conv3x3s2_nchw_f32mask", 2, 9, 8, 3, 4, 3, strides=(2, 2),
                  pad=(1, 1, 1, 1), layout="nchw", mask_dtype=np.float32),
        conv_case(rng, "conv5x5_nhwc_pad2", 1, 6, 5, 2, 3, 5, pad=(2, 2, 2, 2)),
        conv_case(rng, "conv3x3_dilated_asym_pad", 1, 8, 7, 2, 3, 3, strides=(2, 1),
                  dilations=(2, 2), pad=(0, 1, 2, 0)),
        conv_case(rng, "conv1x1_saliency_40x40", 1, 40, 40, 2, 3, 1,
                  mask=saliency.astype(np.int8)),
        bmm_case(rng, "bmm_row_col", 3, 7, 5, 6, (3, 7), (6,)),
        bmm_case(rng, "bmm_row_i32", 2, 5, 4, 3, (5,), dtype=np.int32),
        bmm_case(rng, "bmm_tokens_14x14", 2, 197, 8, 16, None,
                 row=token_rows.astype(np.int8)),
    ]
    failed = 0
    for name, text, ref in cases:
        ok, detail = check(name, run(args, text), ref)
        failed += not ok
        print("%s %s %s" % ("PASS" if ok else "FAIL", name, detail))
    print("%d passed, %d failed" % (len(cases) - failed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
