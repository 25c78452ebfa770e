#!/usr/bin/env python3
"""Self-test of benchmarks/model_eval.py: the metrics on hand-made cases and
one end-to-end evaluation of a tiny sweep through dynaspa-cost. Prints one
PASS/FAIL line per check and "N passed, N failed"; exits 1 on a failure.

    /usr/bin/python3 benchmarks/test_model_eval.py [--build build/bin] [--masks ../shared/masks]
"""

import argparse
import json
import math
import os
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:0] = [HERE, os.path.join(os.path.dirname(HERE), "python")]

import model_eval as me  # noqa: E402
from dynaspa.selftest import Checks  # noqa: E402

check = Checks()


@check
def schedule_strings():
    s = me.parse_schedule("channel_block = 64, split_k = 4, double_buffer = true")
    assert s == {"channel_block": 64, "split_k": 4, "double_buffer": True}, s


@check
def spearman_known_values():
    assert me.spearman([1, 2, 3, 4], [10, 20, 30, 40]) == 1
    assert me.spearman([1, 2, 3, 4], [4, 3, 2, 1]) == -1
    # Ties take their average rank: ranks (0.5, 0.5, 2) and (0, 1, 2).
    r = me.spearman([1, 1, 2], [1, 2, 3])
    assert abs(r - 0.8660254) < 1e-6, r
    assert math.isnan(me.spearman([1, 1, 1], [1, 2, 3]))


@check
def search_metrics_by_hand():
    # Ten candidates; only #7 (time 100) and #8 (103 < 100 / 0.95) are good.
    meas = [200, 300, 250, 400, 500, 600, 700, 100, 103, 900]
    # The model puts #8 second and #7 last.
    pred = [1, 3, 4, 5, 6, 7, 8, 10, 2, 9]
    s = me.search_metrics(pred, meas)
    assert s["model_trials"] == 2, s
    assert s["random_trials"] == 11 / 3, s
    assert abs(s["trials_reduction"] - (1 - 2 / (11 / 3))) < 1e-12, s
    # Top 10% = the model's first: #0 at 200, twice the best.
    assert s["prune_loss"] == 1.0, s


@check
def greedy_and_dispatch():
    # Variant 0 is best on mask 0, variant 1 on mask 2, variant 2 is the
    # best single variant.
    time = [[1, 5, 9], [9, 5, 1], [4, 3, 4]]
    assert me.greedy(time, 1) == [2]
    assert me.greedy(time, 3) == [2, 0, 1]
    # With {0, 1}, a mask at density 0.9 goes where the 1.0 mask went.
    assert me.dispatch([0, 1], time, [0.1, 0.5, 1.0], 0.9) == 1
    assert me.dispatch([0, 1], time, [0.1, 0.5, 1.0], 0.2) == 0


@check
def sweep_from_a_tune_plan():
    """from-tune: candidates in candidates.mlir order, the mean of each
    density's masks, None where a mask was not measured."""
    import numpy as np
    sched = "channel_block = 32, reduction_block = 16, threads = 64, split_k = %d"
    with tempfile.TemporaryDirectory() as plan:
        with open(os.path.join(plan, "candidates.mlir"), "w") as f:
            for i, g in enumerate(("1, 1", "4, 4")):
                f.write("func @cand%d { %%y = spsparse.masked_conv2d {spsparse.variants = "
                        "[{granularity = #spsparse.granularity<[%s]>, schedule = "
                        "#spsparse.schedule<%s>}]} }\n" % (i, g, sched % (i + 1)))
        ids = ["saliency-d0.1-s0", "saliency-d0.1-s1", "saliency-d1-s0"]
        for mid, d in zip(ids, (0.1, 0.2, 1.0)):
            np.save(os.path.join(plan, mid + ".npy"), np.arange(10) < 10 * d)
        with open(os.path.join(plan, "manifest.json"), "w") as f:
            json.dump({"candidates": [{"id": "a", "masks": ids}, {"id": "b", "masks": ids}],
                       "masks": {m: m + ".npy" for m in ids}}, f)
        results = {"results": {"a": {ids[0]: {"us": 10.0}, ids[1]: {"us": 20.0},
                                     ids[2]: {"us": 50.0}},
                               "b": {ids[0]: {"us": 5.0}, ids[2]: {"us": 40.0}}}}
        e = me.sweep_from_tune(plan, results, me.suite.OPS_BY_NAME["conv3x3_40x40x256"], 4)
    assert e["op"] == "conv3x3_40x40x256" and e["batch"] == 4 and "lowering" not in e, e
    assert e["candidates"] == [{"granularity": [1, 1], "schedule": sched % 1},
                               {"granularity": [4, 4], "schedule": sched % 2}], e["candidates"]
    assert [(m["target_density"], m["dynaspa_us"]) for m in e["masks"]] == \
        [(0.1, [15.0, None]), (1.0, [50.0, 40.0])], e["masks"]
    assert abs(e["masks"][0]["density"] - 0.15) < 1e-12, e["masks"][0]


@check
def end_to_end(build, masks):
    if not os.path.exists(os.path.join(build, "dynaspa-cost")):
        raise AssertionError("no dynaspa-cost in %s" % build)
    good = ("channel_block = 64, reduction_block = 16, threads = 128, thread_channels = 4, "
            "thread_pixels = 4, vector_width = 4, unroll = 1, tiles_per_block = 8, split_k = 4, "
            "double_buffer = true")
    slow = ("channel_block = 32, reduction_block = 16, threads = 64, thread_channels = 4, "
            "thread_pixels = 4, vector_width = 4, unroll = 1, tiles_per_block = 32, split_k = 1")
    sweep = {"gpu": "test", "results": {"conv3x3_40x40x256_b1": {
        "op": "conv3x3_40x40x256", "batch": 1,
        "candidates": [{"function": "a", "granularity": [2, 2], "schedule": good},
                       {"function": "b", "granularity": [1, 1], "schedule": slow},
                       {"function": "c", "granularity": [4, 4],
                        "schedule": good.replace("tiles_per_block = 8", "tiles_per_block = 2")}],
        "masks": [{"target_density": 0.1, "dynaspa_us": [31.8, 144.0, 50.0]},
                  {"target_density": 1.0, "dynaspa_us": [80.0, 204.0, 90.0]}]}}}
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "sweep.json")
        with open(path, "w") as f:
            json.dump(sweep, f)
        out = os.path.join(tmp, "eval.json")
        rc = me.main(["--build", build, "eval", "--sweeps", path, "--masks", masks,
                      "--registers", "estimate", "--out", out, "--plot", ""])
        assert rc == 0
        with open(out) as f:
            doc = json.load(f)
        # A second run neither merges nor overwrites an existing file unasked.
        again = ["--build", build, "eval", "--sweeps", path, "--masks", masks,
                 "--registers", "estimate", "--out", out, "--plot", ""]
        assert me.main(again) == 2
        assert me.main(again + ["--overwrite"]) == 0
    for key in ("gpu", "date", "commit", "operators"):
        assert key in doc, key
    op = doc["operators"][0]
    for key in ("op", "shape", "spearman", "prune_top10_loss", "trials_reduction",
                "k6_vs_oracle", "k6_vs_best_k1"):
        assert key in op, key
    per = op["per_density"]
    assert [d["density"] for d in per] == [0.1, 1.0], per
    assert all(d["n"] == 3 and -1 <= d["spearman"] <= 1 for d in per), per
    # The summary is the mean over densities.
    assert abs(op["spearman"] - (per[0]["spearman"] + per[1]["spearman"]) / 2) < 1e-12
    # At d = 0.1 the model's first choice is the split, double-buffered 2x2
    # schedule, the measured best (as in the H100 sweep).
    assert per[0]["prune_loss"] == 0.0 and per[0]["model_trials"] == 1, per


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--build", default=me.BUILD)
    p.add_argument("--masks", default=os.path.join(me.ROOT, "..", "shared", "masks"))
    a = p.parse_args()
    return check.run(lambda fn: fn(a.build, a.masks) if fn is end_to_end else fn())


if __name__ == "__main__":
    sys.exit(main())
