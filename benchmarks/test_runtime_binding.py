#!/usr/bin/env python3
"""Test of python/dynaspa/runtime.py against a real libdynaspa_runtime.so on
an OpenCL device (PoCL on the build machine): a hand-made bundle (JSON ->
flatc -> .dspb) with the runtime tests' OpenCL C masked-bmm kernels, loaded,
inspected and run on host arrays through the binding; the result must equal
python/dynaspa/reference.py's. Skips (exit 0) without a library, flatc or an
OpenCL device. Prints "N passed, N failed".

    /usr/bin/python3 benchmarks/test_runtime_binding.py --lib path/to/libdynaspa_runtime.so

(a shared library from the static one: g++ -shared -o libdynaspa_runtime.so
 -Wl,--whole-archive build-runtime/libdynaspa_runtime.a -Wl,--no-whole-archive -lOpenCL -ldl)
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import traceback

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(ROOT, "python"))

from dynaspa import reference  # noqa: E402
from dynaspa import runtime as rt  # noqa: E402

B, M, K, N = 2, 5, 3, 4


def bundle_json(source, self_dispatch):
    def buf(i):
        return {"kind": "Buffer", "buffer": i}

    def i32(v):
        return {"kind": "I32", "value": v}

    def launch(kernel, grid, block, args):
        return {"module": 0, "kernel": kernel, "grid": grid, "block": block, "args": args}

    args = [buf(0), buf(1), buf(2), buf(3), i32(B), i32(M), i32(K), i32(N)]
    kernel = "masked_bmm"
    if self_dispatch:
        kernel += "_sd"
        args += [buf(4), {"kind": "I64", "value": 0}, {"kind": "I64", "value": -1}]
    return {
        "version": 2, "producer": "test_runtime_binding.py",
        "modules": [{"name": "masked_bmm", "binaries": [
            {"format": "OPENCL_C", "chip": "opencl", "data": list(source)}]}],
        "operators": [{
            "name": "attn_qk", "kind": "BatchMatmul",
            "buffers": [{"name": "lhs", "dtype": "F32", "shape": [B, M, K]},
                        {"name": "rhs", "dtype": "F32", "shape": [B, K, N]},
                        {"name": "row_mask", "dtype": "I1", "shape": [M]},
                        {"name": "result", "dtype": "F32", "shape": [B, M, N]},
                        {"name": "count", "dtype": "I32", "shape": [1]}],
            "inputs": [0, 1, 2], "outputs": [3], "zero_fill": [3, 4],
            "prologue": [launch("count_rows", [1], [M], [buf(2), buf(4), i32(M)])],
            "variants": [{"name": "dense", "granularity": [1], "count_buffer": 4,
                          "min_tiles": 0, "max_tiles": -1,
                          "launches": [launch(kernel, [N, M, B], [1, 1, 1], args)]}],
            "self_dispatch": self_dispatch,
        }],
    }


def make_bundle(tmp, self_dispatch):
    src = open(os.path.join(ROOT, "runtime", "tests", "kernels", "masked_bmm.cl"), "rb").read()
    js = os.path.join(tmp, "b%d.json" % self_dispatch)
    with open(js, "w") as f:
        json.dump(bundle_json(src, self_dispatch), f)
    subprocess.run(["flatc", "-b", "-o", tmp, os.path.join(ROOT, "runtime", "schema",
                                                            "bundle.fbs"), js], check=True)
    return os.path.join(tmp, "b%d.dspb" % self_dispatch)   # the schema's file_extension


def main(argv=None):
    p = argparse.ArgumentParser()
    p.add_argument("--lib", default=os.environ.get("DYNASPA_RUNTIME_LIB"))
    a = p.parse_args(argv)
    if not a.lib or not os.path.exists(a.lib) or not shutil.which("flatc"):
        print("SKIP: no --lib or no flatc\n0 passed, 0 failed")
        return 0
    lib = rt.Library(a.lib)
    try:
        ctx = lib.context("opencl")
    except rt.DynaspaError as e:
        print("SKIP: %s\n0 passed, 0 failed" % e)
        return 0
    tmp = tempfile.mkdtemp()
    results = []

    def check(name, fn):
        try:
            note = fn()
            results.append(True)
            print("PASS %s%s" % (name, " (%s)" % note if note else ""))
        except Exception:  # noqa: BLE001
            results.append(False)
            print("FAIL %s\n%s" % (name, traceback.format_exc()))

    rng = np.random.default_rng(0)
    lhs = rng.uniform(-1, 1, (B, M, K)).astype(np.float32)
    rhs = rng.uniform(-1, 1, (B, K, N)).astype(np.float32)
    mask = np.array([1, 0, 1, 1, 0], bool)
    want = reference.bmm_ref(lhs, rhs, np.broadcast_to(mask, (B, M)))

    def info():
        bundle = ctx.load_bundle(make_bundle(tmp, False))
        assert bundle.operator_count() == 1 and bundle.find_operator("attn_qk") == 0
        op = bundle.operator("attn_qk")
        assert op.kind == "batch_matmul" and op.num_variants == 1, op
        assert [tuple(i) for i in op.inputs] == [("lhs", "f32", (B, M, K)),
                                                 ("rhs", "f32", (B, K, N)),
                                                 ("row_mask", "i1", (M,))], op.inputs
        assert [tuple(o) for o in op.outputs] == [("result", "f32", (B, M, N))]
        try:
            bundle.find_operator("nope")
            raise AssertionError("unknown operator found")
        except rt.DynaspaError as e:
            assert e.status == rt.INVALID_ARGUMENT or e.status is not None, e
        return ctx.device_name()

    def run(self_dispatch, mask_arg):
        def fn():
            bundle = ctx.load_bundle(make_bundle(tmp, self_dispatch))
            op = bundle.operator(0)
            op.prepare()
            (got,), stats = op.run([lhs, rhs, mask_arg], with_stats=True)
            err = reference.max_rel_err(got, want)
            assert err <= 1e-6 and (got[:, ~mask] == 0).all(), err
            assert stats["tile_count"] == mask.sum(), stats
            return "stats %s" % stats
        return fn

    def bad_shape():
        bundle = ctx.load_bundle(make_bundle(tmp, False))
        try:
            bundle.operator(0).run([lhs[:1], rhs, mask])
            raise AssertionError("wrong shape accepted")
        except rt.DynaspaError as e:
            assert e.status == rt.SHAPE_MISMATCH, e
            return e.message

    def launch_or_benchmark():
        if not lib.has("operator_benchmark"):
            return "skipped: this library has no dynaspa_operator_benchmark"
        bundle = ctx.load_bundle(make_bundle(tmp, True))
        op = bundle.operator(0)
        op.run([lhs, rhs, mask])
        r = op.benchmark(warmup=1, reps=3, rounds=2)
        assert r["median_us"] > 0 and r["overhead_us"] > 0 and r["method"], r
        return "%s" % r

    def launch():
        """dynaspa_operator_launch on caller-owned cl_mem (what run.py does
        with CUDA pointers)."""
        if not lib.has("operator_launch") or not lib.has("context_native_handles"):
            return "skipped: this library has no dynaspa_operator_launch"
        import ctypes
        import ctypes.util
        cl = ctypes.CDLL(ctypes.util.find_library("OpenCL") or "libOpenCL.so.1")
        cl.clCreateBuffer.restype = ctypes.c_void_p
        cl.clCreateBuffer.argtypes = [ctypes.c_void_p, ctypes.c_uint64, ctypes.c_size_t,
                                      ctypes.c_void_p, ctypes.POINTER(ctypes.c_int32)]
        cl.clEnqueueReadBuffer.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_uint32,
                                           ctypes.c_size_t, ctypes.c_size_t, ctypes.c_void_p,
                                           ctypes.c_uint32, ctypes.c_void_p, ctypes.c_void_p]
        cl.clReleaseMemObject.argtypes = [ctypes.c_void_p]
        clctx, queue = ctx.native_handles()
        bufs = []

        def mem(arr):
            arr = np.ascontiguousarray(arr)
            err = ctypes.c_int32()
            m = cl.clCreateBuffer(clctx, 1 | (1 << 5), arr.nbytes, arr.ctypes.data,
                                  ctypes.byref(err))   # READ_WRITE | COPY_HOST_PTR
            assert err.value == 0 and m, err.value
            bufs.append(m)
            return m

        bundle = ctx.load_bundle(make_bundle(tmp, True))
        op = bundle.operator(0)
        op.prepare()
        out = np.full((B, M, N), np.nan, np.float32)   # the launch must zero-fill
        ins = [mem(lhs), mem(rhs), mem(mask.astype(np.uint8))]
        outm = mem(out)
        op.launch(ins, [outm], None)
        assert cl.clEnqueueReadBuffer(queue, outm, 1, 0, out.nbytes, out.ctypes.data,
                                      0, None, None) == 0
        for m in bufs:
            cl.clReleaseMemObject(m)
        err = reference.max_rel_err(out, want)
        assert err <= 1e-6 and (out[:, ~mask] == 0).all(), (err, out)
        try:
            op2 = ctx.load_bundle(make_bundle(tmp, False)).operator(0)
            op2.prepare()
            op2.launch(ins, [outm], None)
            raise AssertionError("host-selected operator launched")
        except rt.DynaspaError as e:
            assert e.status == rt.UNSUPPORTED, e
        return "ok; host-selected -> UNSUPPORTED"

    try:
        check("operator info", info)
        check("launch on caller memory", launch)
        check("run, bool mask", run(False, mask))
        check("run, f32 mask", run(False, mask.astype(np.float32)))
        check("run, self-dispatching", run(True, mask))
        check("shape mismatch raises", bad_shape)
        check("benchmark", launch_or_benchmark)
    finally:
        ctx.close()
        shutil.rmtree(tmp)
    print("%d passed, %d failed" % (sum(results), len(results) - sum(results)))
    return 0 if all(results) else 1


if __name__ == "__main__":
    sys.exit(main())
