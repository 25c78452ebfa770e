"""The meaning of spsparse's masked ops, executable two independent ways.

* ``conv_ref`` / ``bmm_ref``: float64 NumPy implementations of
  ``Y = M * (op(X, K) + b)``.
* ``run_on_cpu``: compiles an MLIR program through dynaspa's reference lowering
  (``--convert-spsparse-to-linalg``) and the upstream CPU pipeline, runs it with
  ``mlir-runner`` and returns what it printed.

Tests and the demo compare the two. Only NumPy is needed.
"""

import re
import subprocess

import numpy as np

CPU_PIPELINE = (
    "--one-shot-bufferize=bufferize-function-boundaries "
    "--convert-linalg-to-loops --convert-scf-to-cf --expand-strided-metadata "
    "--lower-affine --convert-to-llvm --reconcile-unrealized-casts")

_MLIR_ELT = {np.bool_: "i1", np.int8: "i8", np.uint8: "i8", np.int32: "i32",
             np.float32: "f32", np.float64: "f64"}


class ToolError(RuntimeError):
    """A compiler or runner step failed; the message holds its stderr."""


# ------------------------------------------------------------- references
def conv_output_size(size, k, stride, dilation, pad_before, pad_after):
    return (size + pad_before + pad_after - dilation * (k - 1) - 1) // stride + 1


def conv_ref(x, w, mask, bias=None, strides=(1, 1), dilations=(1, 1),
             padding=(0, 0, 0, 0), layout="nhwc"):
    """float64 ``mask * (conv2d(x, w) + bias)``.

    NHWC input with HWCF filter, or NCHW input with FCHW filter; padding is
    [top, bottom, left, right]; mask is [N, Ho, Wo] or [Ho, Wo], active where
    non-zero.
    """
    x = np.asarray(x, np.float64)
    w = np.asarray(w, np.float64)
    if layout == "nchw":
        x = x.transpose(0, 2, 3, 1)
        w = w.transpose(2, 3, 1, 0)
    n, h, wd, _ = x.shape
    kh, kw, _, cout = w.shape
    xp = np.pad(x, ((0, 0), tuple(padding[0:2]), tuple(padding[2:4]), (0, 0)))
    ho = conv_output_size(h, kh, strides[0], dilations[0], *padding[0:2])
    wo = conv_output_size(wd, kw, strides[1], dilations[1], *padding[2:4])
    y = np.zeros((n, ho, wo, cout))
    for r in range(kh):
        for s in range(kw):
            r0, s0 = r * dilations[0], s * dilations[1]
            patch = xp[:, r0:r0 + strides[0] * (ho - 1) + 1:strides[0],
                       s0:s0 + strides[1] * (wo - 1) + 1:strides[1], :]
            y += patch @ w[r, s]
    if bias is not None:
        y += np.asarray(bias, np.float64)
    active = np.broadcast_to(np.asarray(mask) != 0, (n, ho, wo))
    y = y * active[..., None]
    return y.transpose(0, 3, 1, 2) if layout == "nchw" else y


def bmm_ref(a, b, row_mask, col_mask=None):
    """float64 ``R[b,i] * Q[b,j] * sum_k A[b,i,k] B[b,k,j]``."""
    y = np.asarray(a, np.float64) @ np.asarray(b, np.float64)
    y = y * np.broadcast_to(np.asarray(row_mask) != 0, y.shape[:2])[:, :, None]
    if col_mask is not None:
        cols = np.broadcast_to(np.asarray(col_mask) != 0, (y.shape[0], y.shape[2]))
        y = y * cols[:, None, :]
    return y


def max_rel_err(got, ref):
    """max |got - ref| / max(1, max |ref|)."""
    ref = np.asarray(ref, np.float64)
    return float(np.abs(np.asarray(got, np.float64) - ref).max()) / max(
        1.0, float(np.abs(ref).max()))


# ----------------------------------------------------------- MLIR programs
def tensor_type(a):
    return "tensor<%sx%s>" % ("x".join(str(d) for d in a.shape),
                              _MLIR_ELT[a.dtype.type])


def dense_literal(a):
    """An ``arith.constant`` payload for ``a``. Floats travel as a hex blob,
    which parses fast even for large tensors; masks as nested literals."""
    if a.dtype.kind == "f":
        return 'dense<"0x%s"> : %s' % (np.ascontiguousarray(a).astype(
            a.dtype.newbyteorder("<")).tobytes().hex().upper(), tensor_type(a))

    def rec(x):
        if x.ndim == 0:
            v = x.item()
            return ("true" if v else "false") if a.dtype == np.bool_ else str(int(v))
        return "[" + ", ".join(rec(s) for s in x) + "]"
    return "dense<%s> : %s" % (rec(a), tensor_type(a))


def harness(callee, operands, result_type, prelude=""):
    """A module that builds ``operands`` as constants, calls ``callee`` (a
    function in ``prelude``, or an op template with ``{args}`` and ``{types}``)
    and prints the f32 result."""
    lines = [prelude, "func.func private @printMemrefF32(tensor<*xf32>)",
             "func.func @main() {"]
    names = []
    for i, arr in enumerate(operands):
        names.append("%%a%d" % i)
        lines.append("  %s = arith.constant %s" % (names[-1], dense_literal(arr)))
    args = ", ".join(names)
    types = ", ".join(tensor_type(a) for a in operands)
    if callee.startswith("@"):
        lines.append("  %%y = func.call %s(%s) : (%s) -> %s" % (callee, args, types, result_type))
    else:
        lines.append("  %y = " + callee.format(args=args, types=types))
    lines.append("  %%u = tensor.cast %%y : %s to tensor<*xf32>" % result_type)
    lines.append("  call @printMemrefF32(%u) : (tensor<*xf32>) -> ()")
    lines.append("  return")
    lines.append("}")
    return "\n".join(lines) + "\n"


def _step(cmd, text):
    proc = subprocess.run(cmd, input=text, capture_output=True, text=True)
    if proc.returncode != 0:
        raise ToolError("%s failed:\n%s" % (" ".join(cmd[:2]), proc.stderr))
    return proc.stdout


def apply_passes(program, dynaspa_opt, passes):
    """``program`` after dynaspa-opt ``passes`` (a list of flags)."""
    return _step([dynaspa_opt] + list(passes), program)


def run_on_cpu(program, dynaspa_opt, mlir_opt, mlir_runner, runner_libs,
               pipeline=CPU_PIPELINE, passes=()):
    """Compile ``program`` through dynaspa ``passes`` (e.g. granularity tiling)
    and the reference lowering, and run it; returns the flat array
    ``printMemrefF32`` printed."""
    linalg = _step([dynaspa_opt] + list(passes) + ["--convert-spsparse-to-linalg"],
                   program)
    llvm = _step([mlir_opt] + pipeline.split(), linalg)
    out = _step([mlir_runner, "-e", "main", "-entry-point-result=void",
                 "-shared-libs=" + runner_libs], llvm)
    data = out.split("data =", 1)[1]
    nums = re.findall(r"-?(?:nan|inf|\d+(?:\.\d*)?(?:e[-+]?\d+)?)", data)
    return np.array([float(v) for v in nums])


# ------------------------------------------------------------- problems
def conv_problem(rng, n, h, w, cin, cout, k, strides=(1, 1), dilations=(1, 1),
                 padding=(0, 0, 0, 0), layout="nhwc", mask=None,
                 mask_dtype=np.bool_, per_sample=True, bias=True, density=0.4,
                 extra_attrs=""):
    """A random masked_conv2d as a runnable program, and its float64 result.

    ``mask`` (if given) is used as is; otherwise a random one of
    ``mask_dtype``, per sample or broadcast. ``extra_attrs`` is appended to
    the op's attribute dictionary (e.g. a granularity)."""
    ho = conv_output_size(h, k, strides[0], dilations[0], *padding[0:2])
    wo = conv_output_size(w, k, strides[1], dilations[1], *padding[2:4])
    x = rng.uniform(-1, 1, (n, h, w, cin) if layout == "nhwc" else (n, cin, h, w))
    wt = rng.uniform(-1, 1, (k, k, cin, cout) if layout == "nhwc" else (cout, cin, k, k))
    if mask is None:
        mask = (rng.random((n, ho, wo) if per_sample else (ho, wo)) < density)
        mask = mask.astype(mask_dtype)
    b = rng.uniform(-1, 1, (cout,)).astype(np.float32) if bias else None
    operands = [x.astype(np.float32), wt.astype(np.float32), mask] + ([b] if bias else [])
    ys = (n, ho, wo, cout) if layout == "nhwc" else (n, cout, ho, wo)
    result_type = "tensor<%sxf32>" % "x".join(map(str, ys))
    attrs = ("layout = #spsparse.layout<%s>, strides = array<i64: %d, %d>, "
             "dilations = array<i64: %d, %d>, padding = array<i64: %d, %d, %d, %d>"
             % ((layout,) + tuple(strides) + tuple(dilations) + tuple(padding)))
    if extra_attrs:
        attrs += ", " + extra_attrs
    op = ("spsparse.masked_conv2d %a0, %a1 mask %a2" + (" bias %a3" if bias else "") +
          " {{" + attrs + "}} : ({types}) -> " + result_type)
    expected = conv_ref(*operands[:3], b, strides, dilations, padding, layout)
    return harness(op, operands, result_type), expected


def bmm_problem(rng, bsz, m, k, n, row_shape=None, col_shape=None,
                mask_dtype=np.bool_, row=None, density=0.5, extra_attrs=""):
    """A random masked_batch_matmul as a runnable program, and its float64
    result; ``row`` overrides the random row mask."""
    a = rng.uniform(-1, 1, (bsz, m, k)).astype(np.float32)
    b = rng.uniform(-1, 1, (bsz, k, n)).astype(np.float32)
    r = row if row is not None else (rng.random(row_shape) < density).astype(mask_dtype)
    c = (rng.random(col_shape) < density).astype(mask_dtype) if col_shape else None
    operands = [a, b, r] + ([c] if c is not None else [])
    result_type = "tensor<%dx%dx%dxf32>" % (bsz, m, n)
    op = ("spsparse.masked_batch_matmul %a0, %a1 row_mask %a2" +
          (" col_mask %a3" if c is not None else "") +
          (" {{" + extra_attrs + "}}" if extra_attrs else "") +
          " : ({types}) -> " + result_type)
    return harness(op, operands, result_type), bmm_ref(a, b, r, c)


def compare(got, expected, tolerance=1e-4):
    """(ok, detail): every value within ``tolerance`` relative error, and
    exact zeros wherever the reference is zero (masked-off outputs)."""
    expected = np.asarray(expected).reshape(-1)
    if got.size != expected.size:
        return False, "got %d values, expected %d" % (got.size, expected.size)
    err = max_rel_err(got, expected)
    zeros_exact = bool(np.all(got[expected == 0] == 0))
    return (err <= tolerance and zeros_exact,
            "max_rel_err=%.2e zeros_exact=%s" % (err, zeros_exact))


# ------------------------------------------------------------ test driver
def parse_tool_args(argv=None):
    """The flags every execution test takes: the tools, the runner's
    libraries and the mask directory."""
    import argparse
    p = argparse.ArgumentParser()
    for flag in ("--dynaspa-opt", "--mlir-opt", "--mlir-runner", "--runner-libs", "--masks"):
        p.add_argument(flag, required=True)
    return p.parse_args(argv)


def check_cases(cases, args, require=()):
    """Runs ``cases`` — (name, passes, (program, expected)) — on the CPU and
    prints one PASS/FAIL line each and an "N passed, N failed" summary.
    Every string in ``require`` must appear in the IR after ``passes`` (so a
    pass that silently did nothing fails). Returns the process exit code."""
    failed = 0
    for name, passes, (program, expected) in cases:
        transformed = apply_passes(program, args.dynaspa_opt, passes)
        missing = [r for r in require if r not in transformed]
        if missing:
            ok, detail = False, "no %s after %s" % (", ".join(missing), " ".join(passes))
        else:
            got = run_on_cpu(program, args.dynaspa_opt, args.mlir_opt, args.mlir_runner,
                             args.runner_libs, passes=passes)
            ok, detail = compare(got, expected)
        failed += not ok
        print("%s %s %s" % ("PASS" if ok else "FAIL", name, detail))
    print("%d passed, %d failed" % (len(cases) - failed, failed))
    return 1 if failed else 0
