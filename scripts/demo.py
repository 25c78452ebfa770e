#!/usr/bin/env python3
"""The README's main job: compile a sample masked conv, run it sparse and dense.

1. dynaspa-compile turns the sample (examples/masked_conv3x3.mlir by default)
   into a bundle: PTX for CUDA, SPIR-V and SPIR bitcode for OpenCL.
2. dynaspa-run runs it on the default device (CUDA if a GPU is usable, else
   OpenCL, on the CPU through PoCL) with a real mask from ../shared/masks and
   --check: every output against a float64 reference, masked-off outputs
   exactly zero. The same operator with an all-ones mask (every DISTile
   computed: the dense variant) is checked too.
3. dynaspa-run --benchmark times both (CUDA: CUDA-graph replay between events;
   OpenCL: host clock to clFinish) and the demo prints the medians and
   dense/sparse. Timings, errors and tile counts are read from dynaspa-run
   --json; the speedup is the ratio of the two medians.

Exit status: 0 when both checks pass, 1 otherwise (or on any error).
"""

import argparse
import json
import os
import re
import subprocess
import sys
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
EXAMPLES = ("masked_conv3x3", "masked_conv1x1", "masked_conv3x3_s2")
# PTX for these chips (the driver JITs the highest one not above the GPU's),
# so any GPU from sm_72 on runs the bundle.
CUDA_CHIPS = "sm_72,sm_87,sm_90"
# Benchmark repetitions: dynaspa-run's defaults on CUDA; on OpenCL (PoCL on a
# CPU, a 3x3 40x40x256 conv takes a few hundred ms) few enough that the demo
# stays well under two minutes on two cores.
REPS = {"cuda": (100, 10, 10), "opencl": (3, 7, 2)}   # reps, rounds, warmup


class DemoError(Exception):
    pass


def resolve_example(name):
    if os.path.isfile(name):
        return name
    stem = name[:-5] if name.endswith(".mlir") else name
    path = os.path.join(ROOT, "examples", stem + ".mlir")
    if not os.path.isfile(path):
        raise DemoError("no example %r (pick one of %s, or give a path)"
                        % (name, ", ".join(EXAMPLES)))
    return path


def resize_nearest(mask, h, w):
    rows = np.arange(h) * mask.shape[0] // h
    cols = np.arange(w) * mask.shape[1] // w
    return mask[rows][:, cols]


def run_json(cmd, what):
    """Runs dynaspa-run with --json; returns (exit status, report)."""
    r = subprocess.run(cmd + ["--json"], capture_output=True, text=True)
    if r.returncode not in (0, 3):   # 3: --check failed, report still printed
        raise DemoError("%s failed (exit %d): %s\n  command: %s"
                        % (what, r.returncode, r.stderr.strip(), " ".join(cmd)))
    try:
        return r.returncode, json.loads(r.stdout)
    except ValueError:
        raise DemoError("%s: dynaspa-run printed no JSON:\n%s%s"
                        % (what, r.stdout, r.stderr))


def device_note(device):
    """What kind of device the runtime used, in words."""
    if device.startswith("CUDA"):
        return "cuda", "GPU"
    if re.search(r"pthread|cpu|basic", device, re.I):
        return "opencl", "CPU OpenCL through PoCL"
    return "opencl", "OpenCL"


def active_tiles(mask, granularity):
    """Active DISTiles of an [N, H, W] mask at granularity (rows, cols)."""
    gh, gw = granularity
    n, h, w = mask.shape
    m = np.pad(mask != 0, ((0, 0), (0, -h % gh), (0, -w % gw)))
    m = m.reshape(n, m.shape[1] // gh, gh, m.shape[2] // gw, gw).any(axis=(2, 4))
    return int(m.sum()), int(m.size)


def show(path):
    """path relative to the current directory if it is below it."""
    rel = os.path.relpath(path)
    return path if rel.startswith("..") else rel


def fmt(shape):
    """A shape as 1x40x40."""
    return "x".join(str(d) for d in shape)


def inspect(runner, bundle):
    """(operator 0, the whole report) of `dynaspa-run --inspect`."""
    _, info = run_json([runner, bundle, "--inspect"], "dynaspa-run --inspect")
    if not info.get("operators"):
        raise DemoError("%s has no operator" % bundle)
    return info["operators"][0], info


def variants_text(op):
    return "; ".join("variant %s: %s DISTiles%s" % (
        v["name"], fmt(v["granularity"]),
        "" if v.get("max_tiles", -1) in (-1, None) else
        " up to %d active" % v["max_tiles"]) for v in op["variants"])


def main():
    p = argparse.ArgumentParser(
        description=__doc__.splitlines()[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="\n".join(__doc__.splitlines()[2:]))
    p.add_argument("--example", default="masked_conv3x3",
                   help="%s, or a path to an .mlir with one masked_conv2d "
                        "(default: masked_conv3x3)" % ", ".join(EXAMPLES))
    p.add_argument("--mask", default=os.path.join(ROOT, "..", "shared", "masks",
                                                  "saliency_40x40_d0.3.npy"),
                   help="mask .npy, [N, H, W] stack or [H, W]; resized (nearest) "
                        "if not the operator's mask size (default: "
                        "../shared/masks/saliency_40x40_d0.3.npy)")
    p.add_argument("--mask-index", type=int, default=0,
                   help="which mask of a stack (default 0)")
    p.add_argument("--seed", type=int, default=0,
                   help="seed of the N(0,1) input, filter and bias (dynaspa-run --random)")
    p.add_argument("--device", default="auto", choices=("auto", "cuda", "opencl"),
                   help="auto (default): CUDA if a GPU is usable, else OpenCL")
    p.add_argument("--reps", type=int, help="benchmark replays per round "
                   "(default: 100 on CUDA, %d on OpenCL)" % REPS["opencl"][0])
    p.add_argument("--rounds", type=int, help="benchmark rounds; the median is "
                   "over them (default: 10 on CUDA, %d on OpenCL)" % REPS["opencl"][1])
    p.add_argument("--warmup", type=int, help="untimed replays first "
                   "(default: 10 on CUDA, %d on OpenCL)" % REPS["opencl"][2])
    p.add_argument("--build-dir", default=os.path.join(ROOT, "build"),
                   help="where bin/dynaspa-compile and runtime/bin/dynaspa-run are")
    p.add_argument("--work-dir", help="where the bundle and masks are written "
                   "(default: BUILD_DIR/demo)")
    p.add_argument("--records", help="tuning records (docs/tuning/records.md) for the "
                   "CUDA bundle (default: examples/EXAMPLE.h100-records.json if it exists: "
                   "schedules chosen by benchmarks/sweep.py on an H100); ignored on OpenCL")
    p.add_argument("--no-records", action="store_true",
                   help="the compiler's default schedule on CUDA too")
    p.add_argument("--runner", help="dynaspa-run to use (default: BUILD_DIR/runtime/bin/"
                   "dynaspa-run)")
    p.add_argument("--prebuilt", action="store_true",
                   help="do not compile: use the bundles an earlier demo run left in "
                        "--work-dir (for a GPU machine without the compiler)")
    args = p.parse_args()
    start = time.perf_counter()
    try:
        ok = demo(args)
    except DemoError as e:
        sys.stdout.flush()
        print("demo: error: %s" % e, file=sys.stderr)
        print("== FAIL")
        return 1
    print("== %s (%.0f s)" % ("PASS" if ok else "FAIL", time.perf_counter() - start))
    return 0 if ok else 1


def demo(args):
    compiler = os.path.join(args.build_dir, "bin", "dynaspa-compile")
    runner = args.runner or os.path.join(args.build_dir, "runtime", "bin", "dynaspa-run")
    for tool in ([runner] if args.prebuilt else [compiler, runner]):
        if not os.access(tool, os.X_OK):
            raise DemoError("%s is not built (run scripts/setup.sh)" % tool)
    example = resolve_example(args.example)
    records = None if args.no_records else (
        args.records or os.path.splitext(example)[0] + ".h100-records.json")
    if records and not os.path.isfile(records):
        if args.records:
            raise DemoError("no tuning-record file %s" % records)
        records = None
    work = args.work_dir or os.path.join(args.build_dir, "demo")
    if not os.path.isfile(args.mask):
        raise DemoError("no mask file %s" % args.mask)
    os.makedirs(work, exist_ok=True)
    stem = os.path.splitext(os.path.basename(example))[0]
    print("== dynaspa demo: %s" % show(example))

    # 1. Compile: a portable bundle with the default schedule, and where
    # tuning records exist a CUDA one with their variants (split-K schedules
    # add floats atomically, which the OpenCL path does not do).
    bundle = os.path.join(work, stem + ".dspb")
    tuned = os.path.join(work, stem + ".tuned.dspb") if records else None
    builds = [(bundle, ["--cuda-chips=" + CUDA_CHIPS])]
    if tuned:
        builds.append((tuned, ["--cuda-chips=" + CUDA_CHIPS, "--opencl=false",
                               "--records=" + records]))
    for path, flags in builds:
        if args.prebuilt:
            if not os.path.isfile(path):
                raise DemoError("--prebuilt: no %s (run the demo where the compiler is "
                                "first, with the same --work-dir)" % path)
            continue
        r = subprocess.run([compiler, example, "-o", path] + flags,
                           capture_output=True, text=True)
        if r.returncode != 0:
            raise DemoError("dynaspa-compile failed:\n%s" % r.stderr)
    op, info = inspect(runner, bundle)
    binaries = sorted({"%s %s" % (b["format"], b["chip"])
                       for m in info["modules"] for b in m["binaries"]})
    how = "prebuilt" if args.prebuilt else "dynaspa-compile ->"
    print("   compile: %s %s (%d bytes: %s)"
          % (how, show(bundle), info["bytes"], ", ".join(binaries)))
    if tuned:
        print("            and with --records %s: %s (CUDA only)" % (show(records), show(tuned)))
    shapes = {b["name"]: b["shape"] for b in op["buffers"]}
    mask_buf = [b for b in op["buffers"] if "(mask)" in b["role"]][0]
    mask_shape = mask_buf["shape"]
    out_buf = op["buffers"][op["outputs"][0]]
    print("   operator: %s %s, input %s, filter %s -> output %s, strides %s; %s"
          % (op["name"], op["kind"], fmt(shapes["input"]), fmt(shapes["filter"]),
             fmt(out_buf["shape"]), fmt(op["strides"]), variants_text(op)))

    # 2. The masks: the real one (resized if needed) and all ones.
    stack = np.load(args.mask)
    if stack.ndim == 3:
        if not 0 <= args.mask_index < stack.shape[0]:
            raise DemoError("--mask-index %d: %s holds %d masks"
                            % (args.mask_index, args.mask, stack.shape[0]))
        source = stack[args.mask_index]
    elif stack.ndim == 2:
        source = stack
    else:
        raise DemoError("%s: expected [N, H, W] or [H, W], got %s" % (args.mask, stack.shape))
    h, w = mask_shape[-2:]
    desc = "%s #%d" % (os.path.basename(args.mask), args.mask_index if stack.ndim == 3 else 0)
    if source.shape != (h, w):
        desc += " (%dx%d, resized nearest)" % source.shape
        source = resize_nearest(source, h, w)
    mask = np.ascontiguousarray(np.broadcast_to(source != 0, mask_shape), np.uint8)
    sparse_mask = os.path.join(work, stem + "_mask.npy")
    dense_mask = os.path.join(work, stem + "_dense_mask.npy")
    np.save(sparse_mask, mask)
    np.save(dense_mask, np.ones(mask_shape, np.uint8))
    m3 = mask.reshape(-1, h, w)
    print("   mask: %s, density %.3f at %s" % (desc, float(m3.mean()), fmt(mask_shape)))

    base = [runner, bundle, "--device", args.device, "--random", str(args.seed)]

    # 3. Run and check, sparse then dense.
    ok = True
    results = {}
    for label, path in (("sparse", sparse_mask), ("dense", dense_mask)):
        status, rep = run_json(base + ["--mask", path, "--check"],
                               "dynaspa-run --check (%s)" % label)
        if label == "sparse":
            kind, words = device_note(rep["device"])
            print("   device: %s (%s)" % (rep["device"], words))
            if kind == "cuda" and tuned:
                # The device is CUDA: from here on, the tuned bundle.
                bundle, base[1] = tuned, tuned
                op, _ = inspect(runner, bundle)
                print("   tuned: %s" % variants_text(op))
                status, rep = run_json(base + ["--mask", path, "--check"],
                                       "dynaspa-run --check (%s)" % label)
        c = rep["check"]
        good = status == 0 and c["ok"]
        ok = ok and good
        results[label] = rep
        print("   check %-6s: %s, max rel err %.2e (max abs %.2e, tolerance %g), "
              "masked-off outputs %s"
              % (label, "ok" if good else "FAILED", c["max_rel_err"], c["max_abs_err"],
                 c["tolerance"], "exactly zero" if c["zeros_exact"] else "NOT zero"))

    # Tile counts: the runtime's tile lists against the mask, each at the
    # granularity of the variant that ran.
    for label, masks in (("sparse", m3), ("dense", np.ones_like(m3))):
        run = results[label]["run"]
        g = op["variants"][run["variant"]]["granularity"]
        active, total = active_tiles(masks, g)
        tiles_ok = run["tile_count"] == active
        ok = ok and tiles_ok
        print("   DISTiles %-6s: variant %s, %s tiles: %d active of %d (%.1f%%)%s"
              % (label, op["variants"][run["variant"]]["name"], fmt(g), run["tile_count"],
                 total, 100.0 * run["tile_count"] / max(1, total),
                 "" if tiles_ok else "; MISMATCH: the mask has %d" % active))
    if not ok:
        return False

    # 4. Benchmark, sparse then dense, in the same way.
    reps, rounds, warmup = REPS[kind]
    reps, rounds, warmup = (args.reps or reps, args.rounds or rounds,
                            warmup if args.warmup is None else args.warmup)
    bench = {}
    for label, path in (("sparse", sparse_mask), ("dense", dense_mask)):
        _, rep = run_json(base + ["--mask", path, "--benchmark", "--reps", str(reps),
                                  "--rounds", str(rounds), "--warmup", str(warmup)],
                          "dynaspa-run --benchmark (%s)" % label)
        bench[label] = rep["benchmark"]
    method = bench["sparse"]["method"]
    how = {"cuda-graph": "CUDA graph replayed back to back, timed by events",
           "opencl-host-clock": "back-to-back enqueues, host clock to clFinish"}.get(method, method)
    print("   benchmark: %s; median of %d rounds x %d reps (%d warm-up)"
          % (how, rounds, reps, warmup))
    for label in ("sparse", "dense"):
        b = bench[label]
        print("     %-6s: median %10.1f us  (min %10.1f us)  %d tiles%s"
              % (label, b["median_us"], b["min_us"], b["tile_count"],
                 "" if label == "sparse" else ", all-ones mask"))
    speedup = bench["dense"]["median_us"] / bench["sparse"]["median_us"]
    print("     speedup dense/sparse: %.2fx" % speedup)
    print("     runtime overhead (bitmask + tile list): median %.1f us;"
          " zero fill of the output: %.1f us"
          % (bench["sparse"]["overhead_us"], bench["sparse"]["zero_fill_us"]))
    if kind == "opencl":
        print("   note: %s: the speedup reflects the work skipped, not GPU performance"
              % words)
    return True


if __name__ == "__main__":
    sys.exit(main())
