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

import os
import sys

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "..", "python"))
from dynaspa import reference as ref  # noqa: E402


def conv_case(rng, name, *args, **kwargs):
    return name, [], ref.conv_problem(rng, *args, **kwargs)


def bmm_case(rng, name, bsz, m, k, n, row_shape, col_shape=None, dtype=np.bool_,
             row=None):
    return name, [], ref.bmm_problem(rng, bsz, m, k, n, row_shape, col_shape, dtype, row)


def main():
    args = ref.parse_tool_args()
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
    return ref.check_cases(cases, args)

if __name__ == "__main__":
    sys.exit(main())
