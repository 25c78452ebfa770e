# Runs random masked convolutions and batch-matmuls through the reference
# lowering on the CPU and compares every output element with an independent
# float64 NumPy computation of Y = M * (op(X, K) + b). Covers NHWC/NCHW,
# 1x1/3x3/5x5, stride 2, dilation, asymmetric padding, batch > 1, broadcast and
# per-sample masks of i1/i8/i32/f32, and real saliency and token masks.
#
# REQUIRES: numpy, shared-masks
# RUN: %python %s --dynaspa-opt dynaspa-opt --mlir-opt mlir-opt \
# RUN:   --mlir-runner mlir-runner --runner-libs %mlir_runner_utils \
# RUN:   --masks %shared_masks | FileCheck %s
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
import sys

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "..", "python"))
from dynaspa import reference as ref  # noqa: E402


def conv_case(rng, name, n, h, w, cin, cout, k, strides=(1, 1), dilations=(1, 1),
              padding=(0, 0, 0, 0), layout="nhwc", mask_dtype=np.bool_,
              per_sample=True, bias=True, mask=None, density=0.4):
    ho = ref.conv_output_size(h, k, strides[0], dilations[0], *padding[0:2])
    wo = ref.conv_output_size(w, k, strides[1], dilations[1], *padding[2:4])
    x = rng.uniform(-1, 1, (n, h, w, cin) if layout == "nhwc" else (n, cin, h, w))
    wt = rng.uniform(-1, 1, (k, k, cin, cout) if layout == "nhwc" else (cout, cin, k, k))
    if mask is None:
        mask = (rng.random((n, ho, wo) if per_sample else (ho, wo)) < density)
        mask = mask.astype(mask_dtype)
    b = rng.uniform(-1, 1, (cout,)).astype(np.float32) if bias else None
    operands = [x.astype(np.float32), wt.astype(np.float32), mask] + ([b] if bias else [])
    ys = (n, ho, wo, cout) if layout == "nhwc" else (n, cout, ho, wo)
    result_type = "tensor<%sxf32>" % "x".join(map(str, ys))
    op = ("spsparse.masked_conv2d %a0, %a1 mask %a2" + (" bias %a3" if bias else "") +
          " {{layout = #spsparse.layout<%s>, strides = array<i64: %d, %d>, "
          "dilations = array<i64: %d, %d>, padding = array<i64: %d, %d, %d, %d>}}"
          % ((layout,) + tuple(strides) + tuple(dilations) + tuple(padding)) +
          " : ({types}) -> " + result_type)
    expected = ref.conv_ref(*operands[:3], b, strides, dilations, padding, layout)
    return name, ref.harness(op, operands, result_type), expected


def bmm_case(rng, name, bsz, m, k, n, row_shape, col_shape=None, dtype=np.bool_,
             row=None, density=0.5):
    a = rng.uniform(-1, 1, (bsz, m, k)).astype(np.float32)
    b = rng.uniform(-1, 1, (bsz, k, n)).astype(np.float32)
    r = row if row is not None else (rng.random(row_shape) < density).astype(dtype)
    c = (rng.random(col_shape) < density).astype(dtype) if col_shape else None
    operands = [a, b, r] + ([c] if c is not None else [])
    result_type = "tensor<%dx%dx%dxf32>" % (bsz, m, n)
    op = ("spsparse.masked_batch_matmul %a0, %a1 row_mask %a2" +
          (" col_mask %a3" if c is not None else "") + " : ({types}) -> " + result_type)
    return name, ref.harness(op, operands, result_type), ref.bmm_ref(a, b, r, c)


def main():
    p = argparse.ArgumentParser()
    for flag in ("--dynaspa-opt", "--mlir-opt", "--mlir-runner", "--runner-libs", "--masks"):
        p.add_argument(flag, required=True)
    args = p.parse_args()
    rng = np.random.default_rng(20241104)

    saliency = np.load(os.path.join(args.masks, "saliency_40x40_d0.3.npy"))[0]
    tokens = np.load(os.path.join(args.masks, "tokens_14x14_d0.3.npy"))[:2]
    # A-ViT always keeps the class token: 197 = 1 + 14 * 14 rows.
    token_rows = np.concatenate([np.ones((2, 1), np.uint8), tokens.reshape(2, -1)], 1)

    cases = [
        conv_case(rng, "conv3x3_nhwc_bias", 2, 7, 9, 3, 5, 3, padding=(1, 1, 1, 1)),
        conv_case(rng, "conv1x1_nhwc_broadcast_i8", 1, 6, 6, 4, 6, 1,
                  mask_dtype=np.int8, per_sample=False, bias=False),
        conv_case(rng, "conv3x3s2_nchw_f32mask", 2, 9, 8, 3, 4, 3, strides=(2, 2),
                  padding=(1, 1, 1, 1), layout="nchw", mask_dtype=np.float32),
        conv_case(rng, "conv5x5_nhwc_pad2", 1, 6, 5, 2, 3, 5, padding=(2, 2, 2, 2)),
        conv_case(rng, "conv3x3_dilated_asym_pad", 1, 8, 7, 2, 3, 3, strides=(2, 1),
                  dilations=(2, 2), padding=(0, 1, 2, 0)),
        conv_case(rng, "conv1x1_saliency_40x40", 1, 40, 40, 2, 3, 1,
                  mask=saliency.astype(np.int8)),
        bmm_case(rng, "bmm_row_col", 3, 7, 5, 6, (3, 7), (6,)),
        bmm_case(rng, "bmm_row_i32", 2, 5, 4, 3, (5,), dtype=np.int32),
        bmm_case(rng, "bmm_tokens_14x14", 2, 197, 8, 16, None,
                 row=token_rows.astype(np.int8)),
    ]
    failed = 0
    for name, program, expected in cases:
        got = ref.run_on_cpu(program, args.dynaspa_opt, args.mlir_opt, args.mlir_runner,
                             args.runner_libs)
        expected = expected.reshape(-1)
        ok = got.size == expected.size
        detail = "got %d values, expected %d" % (got.size, expected.size)
        if ok:
            err = ref.max_rel_err(got, expected)
            # Masked-off positions must be exactly zero, not merely small.
            zeros_exact = bool(np.all(got[expected == 0] == 0))
            ok = err <= 1e-4 and zeros_exact
            detail = "max_rel_err=%.2e zeros_exact=%s" % (err, zeros_exact)
        failed += not ok
        print("%s %s %s" % ("PASS" if ok else "FAIL", name, detail))
    print("%d passed, %d failed" % (len(cases) - failed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
