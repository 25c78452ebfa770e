#!/usr/bin/env python3
"""Where the cost model mis-ranks: for each (op, batch) of a sweep-format file,
the model's rank correlation with the measured times and its mean
predicted/measured ratio, over all candidates and per class (adaptive vs
static split, DISTile size).

    /usr/bin/python3 benchmarks/model_misses.py docs/benchmarks/tune-h100-s6.json

Uses model_eval's queries (dynaspa-cost in build/bin, the device file
docs/tuning/h100-device.json, active tiles from ../shared/masks).
"""

import argparse
import math
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import model_eval as me  # noqa: E402
import suite  # noqa: E402

CLASSES = {
    "all": lambda c: True,
    "adaptive": lambda c: "min_blocks" in c["schedule"],
    "static": lambda c: "min_blocks" not in c["schedule"],
    "1x1": lambda c: c["granularity"] == [1, 1],
    "2x2": lambda c: c["granularity"] == [2, 2],
    "4x4": lambda c: c["granularity"] == [4, 4],
}


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("sweeps", nargs="+")
    p.add_argument("--masks", default=os.path.join(HERE, "..", "..", "shared", "masks"))
    p.add_argument("--device", default=me.DEVICE)
    p.add_argument("--build", default=os.path.join(HERE, "..", "build", "bin"))
    a = p.parse_args(argv)
    stats = me.MaskStats(a.masks)
    tool = os.path.join(a.build, "dynaspa-cost")
    for _, key, res in me.load_sweeps(a.sweeps):
        op, batch = suite.OPS_BY_NAME[res["op"]], res["batch"]
        cands, masks = res["candidates"], res["masks"]
        pred = me.predict(op, batch, cands, masks, stats, a.device, tool, label=key)
        cells = []
        for name, member in CLASSES.items():
            rhos, logs = [], []
            for mi, m in enumerate(masks):
                sel = [ci for ci, c in enumerate(cands) if member(c) and pred[ci][mi]]
                if len(sel) < 4:
                    continue
                pr = [pred[ci][mi] for ci in sel]
                ms = [m["dynaspa_us"][ci] * 1000 for ci in sel]
                rhos.append(me.spearman(pr, ms))
                logs += [math.log(x / y) for x, y in zip(pr, ms)]
            if rhos:
                cells.append("%s %d: rho %.2f, pred/meas %.2f" % (
                    name, sum(map(member, cands)), sum(rhos) / len(rhos),
                    math.exp(sum(logs) / len(logs))))
        print("%-24s %s" % (key, " | ".join(cells)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
