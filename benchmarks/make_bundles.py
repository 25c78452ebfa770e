#!/usr/bin/env python3
"""Write the MLIR of every (operator, shape, batch) of the benchmark suite and
compile each into a bundle, on the build machine (the GPU machine has no
LLVM/MLIR).

    /usr/bin/python3 benchmarks/make_bundles.py                # -> device-out/bundles/
    /usr/bin/python3 benchmarks/make_bundles.py --quick --ops attn_qkt --batches 1
    /usr/bin/python3 benchmarks/make_bundles.py --mlir-only    # no compiler needed

Output directory (default ``device-out/bundles``, git-ignored, carried to the
GPU machine): ``mlir/<key>.mlir``, ``<key>.dspb`` and ``manifest.json``
(``{"commit", "chip", "bundles": {key: {"op", "batch", "function", "mlir",
"bundle", "status", "error"}}}``), where key = ``<op>_b<batch>``, also the
name of the function in the MLIR.
Exit status: 0 if every bundle compiled, 1 if some failed, 2 if the compiler
is missing (the MLIR is still written).
"""

import argparse
import concurrent.futures
import json
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)

import schedules  # noqa: E402
import suite  # noqa: E402

DEFAULT_COMPILER = os.path.join(ROOT, "build", "bin", "dynaspa-compile")


def compile_command(compiler, mlir_path, bundle_path, chip, extra):
    """THE compiler invocation (one place to adjust)."""
    return [compiler, mlir_path, "-o", bundle_path, "--cuda-chips=" + chip] + list(extra)


def bundle_variants(runner, bundle_path):
    """The dispatch table of a bundle's operator (name, granularity, tile
    range per variant) as `dynaspa-run --inspect` reads it, so that run.py
    can say which DISTile size the variant that ran used; None without the
    runner."""
    if not (os.path.isfile(runner) and os.access(runner, os.X_OK)):
        return None
    proc = subprocess.run([runner, bundle_path, "--inspect", "--json"],
                          capture_output=True, text=True)
    if proc.returncode != 0:
        return None
    op = json.loads(proc.stdout)["operators"][0]
    return [{"name": v["name"], "granularity": v["granularity"],
             "min_tiles": v["min_tiles"], "max_tiles": v["max_tiles"]}
            for v in op["variants"]]


def git_commit():
    try:
        return subprocess.run(["git", "-C", ROOT, "rev-parse", "--short=12", "HEAD"],
                               capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--out", default=os.path.join(ROOT, "device-out", "bundles"))
    p.add_argument("--compiler", default=DEFAULT_COMPILER)
    p.add_argument("--chip", default="sm_90")
    p.add_argument("--ops", nargs="*", help="op names, op kinds or families (default: all)")
    p.add_argument("--batches", nargs="*", type=int)
    p.add_argument("--quick", action="store_true", help="only what run.py --quick needs")
    p.add_argument("--mlir-only", action="store_true")
    p.add_argument("--jobs", type=int, default=2)
    p.add_argument("--runner", default=os.path.join(ROOT, "build", "runtime", "bin", "dynaspa-run"),
                   help="dynaspa-run, to record each bundle's variants in the manifest")
    p.add_argument("--default-variants", action="store_true",
                   help="A/B runs: the default PolyKernel for every conv shape, not the "
                        "sweep's choice (benchmarks/schedules.json)")
    p.add_argument("--min-blocks", type=int, default=schedules.MIN_BLOCKS,
                   help="A/B runs: the default PolyKernels' adaptive-split target "
                        "(0: the static split)")
    p.add_argument("--slice-chunks", type=int, default=schedules.SLICE_CHUNKS,
                   help="A/B runs: reduction blocks a slice of the default PolyKernels' "
                        "adaptive split keeps at least")
    p.add_argument("--no-small-tiles", action="store_true",
                   help="A/B runs: default PolyKernels without the 2x2-DISTile variant")
    p.add_argument("--no-covers", action="store_true",
                   help="A/B runs: default PolyKernels whose 1x1 variant has no "
                        "cover test (dispatch by tile counts alone)")
    p.add_argument("--max-list-tiles", type=int, default=schedules.MAX_LIST_TILES,
                   help="A/B runs: no small-tile variant in a default PolyKernel whose "
                        "DISTiles cover the output in more tiles than this")
    p.add_argument("--variant", metavar="HxW:SCHEDULE",
                   help="A/B runs: every conv bundle has this one variant, e.g. "
                        "'4x4:channel_block = 64, threads = 128, tf32 = true' (a schedule "
                        "sweep, or tensor cores against the fp32 PolyKernels)")
    p.add_argument("--extra", nargs=argparse.REMAINDER, default=[],
                   help="further compiler flags (must come last)")
    a = p.parse_args(argv)
    # --extra takes the rest of the line: one of this script's own flags
    # after it would silently go to the compiler instead.
    own = {o for act in p._actions for o in act.option_strings}
    for flag in a.extra:
        if flag.split("=", 1)[0] in own:
            p.error("%s comes after --extra, which passes everything after it to the "
                    "compiler: put --extra last" % flag.split("=", 1)[0])
    only = None
    if a.variant:
        g, _, sched = a.variant.partition(":")
        try:
            only = [(tuple(int(v) for v in g.split("x")), sched.strip(), None, None)]
        except ValueError:
            p.error("--variant: want HxW:SCHEDULE, e.g. 4x4:channel_block = 64, got %r" % a.variant)

    ops = suite.select_ops(a.ops, a.quick)
    batches = a.batches or (suite.QUICK_BATCHES if a.quick else suite.BATCHES)
    mdir = os.path.join(a.out, "mlir")
    os.makedirs(mdir, exist_ok=True)
    manifest_path = os.path.join(a.out, "manifest.json")
    manifest = {"bundles": {}}
    if os.path.exists(manifest_path):
        with open(manifest_path) as f:
            manifest = json.load(f)
    manifest.update(commit=git_commit(), chip=a.chip)

    jobs = []
    for op in ops:
        for b in batches:
            key = suite.bundle_key(op, b)
            mpath = os.path.join(mdir, key + ".mlir")
            with open(mpath, "w") as f:
                variants = None
                if op.kind == "conv":
                    variants = only or schedules.chosen_variants(
                        op, b, use_chosen=not a.default_variants, min_blocks=a.min_blocks,
                        small_tiles=not a.no_small_tiles, slice_chunks=a.slice_chunks,
                        covers=not a.no_covers, max_list_tiles=a.max_list_tiles)
                f.write(suite.mlir(op, b, variants))
            jobs.append((key, op, b, mpath, os.path.join(a.out, key + ".dspb")))
    print("wrote %d MLIR files to %s" % (len(jobs), mdir))

    have = os.path.isfile(a.compiler) and os.access(a.compiler, os.X_OK)
    if a.mlir_only or not have:
        for key, op, b, mpath, bpath in jobs:
            manifest["bundles"][key] = dict(op=op.name, batch=b, function=key,
                                            mlir=os.path.relpath(mpath, a.out),
                                            bundle=None, status="not compiled",
                                            error=None if a.mlir_only else "no compiler")
        with open(manifest_path, "w") as f:
            json.dump(manifest, f, indent=1, sort_keys=True)
        if a.mlir_only:
            return 0
        print("ERROR: the dynaspa compiler is not at %s.\n"
              "Build it (ninja -C build dynaspa-compile) or pass --compiler PATH; "
              "use --mlir-only to write only the MLIR." % a.compiler, file=sys.stderr)
        return 2

    def one(job):
        key, op, b, mpath, bpath = job
        cmd = compile_command(a.compiler, mpath, bpath, a.chip, a.extra)
        try:
            proc = subprocess.run(cmd, capture_output=True, text=True, timeout=1800)
            err = None if proc.returncode == 0 and os.path.exists(bpath) else (
                "exit %d: %s" % (proc.returncode, (proc.stderr or proc.stdout)[-2000:]))
        except subprocess.TimeoutExpired:
            err = "timed out"
        if err and os.path.exists(bpath):
            os.remove(bpath)
        return key, op, b, mpath, bpath, err, " ".join(cmd)

    failed = 0
    with concurrent.futures.ThreadPoolExecutor(max(1, a.jobs)) as ex:
        for key, op, b, mpath, bpath, err, cmd in ex.map(one, jobs):
            failed += err is not None
            manifest["bundles"][key] = dict(
                op=op.name, batch=b, function=key, mlir=os.path.relpath(mpath, a.out),
                bundle=os.path.basename(bpath) if err is None else None,
                status="ok" if err is None else "failed", error=err,
                variants=bundle_variants(a.runner, bpath) if err is None else None)
            print("%-6s %s%s" % ("ok" if err is None else "FAIL", key,
                                 "" if err is None else "\n  " + cmd + "\n  " +
                                 err.strip().replace("\n", "\n  ")))
            with open(manifest_path, "w") as f:
                json.dump(manifest, f, indent=1, sort_keys=True)
    print("%d compiled, %d failed -> %s" % (len(jobs) - failed, failed, a.out))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
