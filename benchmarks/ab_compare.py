#!/usr/bin/env python3
"""Compare two sets of run.py results (an A/B of two bundle sets).

    ab_compare.py A1.json[,A2.json...] B1.json[,B2.json...] [-v]

Rows are matched by (op, shape, batch, mask kind, target density); each
side's time is the mean of its files' dynaspa_us (e.g. the A and B runs of an
ABBA call). Prints the geometric mean of B/A over all rows, by density and by
batch, and per (op, shape, batch); -v lists every row's times.
"""
import argparse
import collections
import json
import math


def load(path):
    rows = {}
    for r in json.load(open(path))["records"]:
        key = (r["op"], r["H"], r["W"], r.get("Cin"), r.get("Cout"), r.get("k"),
               r.get("stride"), r["batch"], r["mask_kind"], r["target_density"])
        rows[key] = r
    return rows


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("a", help="comma-separated run.py JSON files of side A")
    ap.add_argument("b", help="comma-separated run.py JSON files of side B")
    ap.add_argument("-v", action="store_true", help="every row's times")
    args = ap.parse_args()
    a = [load(p) for p in args.a.split(",")]
    b = [load(p) for p in args.b.split(",")]

    def mean_us(side, key):
        v = [d[key]["dynaspa_us"] for d in side if d.get(key, {}).get("dynaspa_us")]
        return sum(v) / len(v) if v else None

    keys = [k for k in sorted(set(a[0]) & set(b[0]))
            if mean_us(a, k) and mean_us(b, k)]
    ratio = {k: mean_us(b, k) / mean_us(a, k) for k in keys}

    def gmean(ks):
        return math.exp(sum(math.log(ratio[k]) for k in ks) / len(ks)) if ks else float("nan")

    print("B/A geometric mean %.3f over %d rows" % (gmean(keys), len(keys)))
    for d in sorted({k[9] for k in keys}):
        print("  d=%s %.3f" % (d, gmean([k for k in keys if k[9] == d])))
    for n in sorted({k[7] for k in keys}):
        print("  b=%s %.3f" % (n, gmean([k for k in keys if k[7] == n])))
    groups = collections.defaultdict(list)
    for k in keys:
        groups[(k[0], k[1], k[3], k[7])].append(k)
    for g, ks in sorted(groups.items()):
        line = "  %s %.3f" % (g, gmean(ks))
        if args.v:
            line += "  " + " ".join("%s/%s:%.0f->%.0f" % (k[8][:3], k[9], mean_us(a, k), mean_us(b, k))
                                    for k in ks)
        print(line)


if __name__ == "__main__":
    main()
