# Granularity tiling must not change what a masked op computes: each case is
# tiled into DISTiles (bitmask -> distiles -> foreach_tile), run on the CPU
# through the reference lowering, and compared element by element with a
# float64 NumPy reference. Covers the paper's Fig. 5 (5x5 mask, 2x2 tiles),
# tiles that do not divide the output, single pixels in every corner, empty and
# full masks, batch > 1, stride 2, NCHW, 1x1, a real saliency mask and token
# tiles of attention.
#
# REQUIRES: numpy, shared-masks
# RUN: %python %s --dynaspa-opt dynaspa-opt --mlir-opt mlir-opt \
# RUN:   --mlir-runner mlir-runner --runner-libs %mlir_runner_utils \
# RUN:   --masks %shared_masks | FileCheck %s
#
# CHECK: PASS fig5_5x5_g2x2
# CHECK: PASS corners_7x7_g3x3
# CHECK: PASS empty_mask_g2x2
# CHECK: PASS full_mask_g4x4
# CHECK: PASS batch2_bias_g4x8
# CHECK: PASS s2_nchw_g2x3
# CHECK: PASS conv1x1_broadcast_option_g3x3
# CHECK: PASS saliency_40x40_g8x8
# CHECK: PASS tokens_197_g16_col
# CHECK: PASS bmm_rank1_row_g4
# CHECK: 10 passed, 0 failed

import os
import sys

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "..", "python"))
from dynaspa import reference as ref  # noqa: E402


def gran(*sizes):
    return "spsparse.granularity = #spsparse.granularity<[%s]>" % ", ".join(map(str, sizes))


def main():
    args = ref.parse_tool_args()
    rng = np.random.default_rng(7)
    tile = "--spsparse-tile-by-granularity"

    fig5 = np.zeros((1, 5, 5), np.bool_)
    fig5[0, 0, 1] = fig5[0, 2, 4] = fig5[0, 3, 4] = fig5[0, 4, 0] = True
    corners = np.zeros((7, 7), np.int8)
    corners[0, 0] = corners[0, 6] = corners[6, 0] = corners[6, 6] = 1
    saliency = np.load(os.path.join(args.masks, "saliency_40x40_d0.3.npy"))[3]
    tokens = np.load(os.path.join(args.masks, "tokens_14x14_d0.3.npy"))[:3]
    token_rows = np.concatenate([np.ones((3, 1), np.uint8), tokens.reshape(3, -1)], 1)

    cases = [
        ("fig5_5x5_g2x2", [tile], ref.conv_problem(
            rng, 1, 5, 5, 3, 4, 3, padding=(1, 1, 1, 1), mask=fig5,
            extra_attrs=gran(2, 2))),
        ("corners_7x7_g3x3", [tile], ref.conv_problem(
            rng, 1, 7, 7, 2, 3, 3, padding=(1, 1, 1, 1), mask=corners,
            extra_attrs=gran(3, 3))),
        ("empty_mask_g2x2", [tile], ref.conv_problem(
            rng, 1, 6, 6, 2, 2, 3, padding=(1, 1, 1, 1),
            mask=np.zeros((1, 6, 6), np.bool_), extra_attrs=gran(2, 2))),
        ("full_mask_g4x4", [tile], ref.conv_problem(
            rng, 1, 6, 7, 2, 3, 3, padding=(1, 1, 1, 1),
            mask=np.ones((1, 6, 7), np.bool_), extra_attrs=gran(4, 4))),
        ("batch2_bias_g4x8", [tile], ref.conv_problem(
            rng, 2, 10, 13, 3, 4, 3, padding=(1, 1, 1, 1), density=0.2,
            extra_attrs=gran(4, 8))),
        ("s2_nchw_g2x3", [tile], ref.conv_problem(
            rng, 2, 9, 8, 3, 4, 3, strides=(2, 2), padding=(1, 1, 1, 1),
            layout="nchw", mask_dtype=np.float32, extra_attrs=gran(2, 3))),
        ("conv1x1_broadcast_option_g3x3", [tile + "=granularity=3,3"], ref.conv_problem(
            rng, 2, 8, 8, 4, 5, 1, per_sample=False, mask_dtype=np.int8, bias=False)),
        ("saliency_40x40_g8x8", [tile], ref.conv_problem(
            rng, 1, 40, 40, 2, 3, 3, padding=(1, 1, 1, 1),
            mask=saliency[None].astype(np.int8), extra_attrs=gran(8, 8))),
        ("tokens_197_g16_col", [tile], ref.bmm_problem(
            rng, 3, 197, 8, 12, col_shape=(3, 12), row=token_rows.astype(np.int8),
            extra_attrs=gran(16))),
        ("bmm_rank1_row_g4", [tile + "=granularity=4"], ref.bmm_problem(
            rng, 3, 7, 5, 6, row_shape=(7,))),
    ]
    # A case only means something if the op was really tiled.
    return ref.check_cases(cases, args,
                           require=("spsparse.distiles", "spsparse.foreach_tile"))

if __name__ == "__main__":
    sys.exit(main())
