"""ctypes binding of the dynaspa runtime's C API (runtime/include/dynaspa/runtime/runtime.h).

Only the standard library is needed; NumPy only for ``Operator.run`` (host
tensors). Device tensors are passed as raw pointers (ints), e.g. a torch CUDA
tensor's ``data_ptr()``, so the binding does not depend on torch.

    from dynaspa import runtime as rt
    lib = rt.Library("build-runtime/libdynaspa_runtime.so")
    with lib.context("cuda") as ctx, ctx.load_bundle("op.dspb") as bundle:
        op = bundle.operator("conv3x3_40x40x256_b1")    # or bundle.operator(0)
        op.prepare()
        op.launch([x.data_ptr(), w.data_ptr(), m.data_ptr()], [y.data_ptr()],
                  torch.cuda.current_stream().cuda_stream)

Every failing call raises ``DynaspaError`` with the status name and the
runtime's message. Functions that a library build may not have yet
(``launch``, ``benchmark``, ``native_handles``) raise ``DynaspaError`` with
status ``None`` when missing; ``Library.has(name)`` tells beforehand.
"""

import ctypes
import os

# --- enums (values equal the C header's) -------------------------------
STATUS = ("DYNASPA_OK", "DYNASPA_INVALID_ARGUMENT", "DYNASPA_BAD_BUNDLE",
          "DYNASPA_VERSION_MISMATCH", "DYNASPA_SHAPE_MISMATCH", "DYNASPA_DTYPE_MISMATCH",
          "DYNASPA_NO_DEVICE", "DYNASPA_DEVICE_ERROR", "DYNASPA_OUT_OF_MEMORY",
          "DYNASPA_UNSUPPORTED", "DYNASPA_IO_ERROR")
OK, INVALID_ARGUMENT, BAD_BUNDLE, VERSION_MISMATCH, SHAPE_MISMATCH, DTYPE_MISMATCH, \
    NO_DEVICE, DEVICE_ERROR, OUT_OF_MEMORY, UNSUPPORTED, IO_ERROR = range(11)
DEVICE_KINDS = {"auto": 0, "cuda": 1, "opencl": 2}
DTYPES = ("f32", "f16", "f64", "i32", "u8", "i1")   # index = dynaspa_dtype_t
OP_KINDS = ("conv2d", "batch_matmul")
# What a result may differ from its float64 reference, max |got - ref| /
# max(1, max |ref|), as dynaspa-run --check judges it: an operator with a
# TF32 variant (tensor cores: operands keep 10 mantissa bits) gets the wider.
FP32_TOLERANCE = 1e-4
TF32_TOLERANCE = 5e-3
_NUMPY = {"f32": "float32", "f16": "float16", "f64": "float64", "i32": "int32",
          "u8": "uint8", "i1": "bool"}

_p = ctypes.c_void_p
_sz = ctypes.c_size_t
_st = ctypes.c_int


class HostTensor(ctypes.Structure):
    _fields_ = [("data", _p), ("dtype", ctypes.c_int), ("rank", ctypes.c_int32),
                ("shape", ctypes.POINTER(ctypes.c_int64))]


class TensorInfoC(ctypes.Structure):
    _fields_ = [("name", ctypes.c_char_p), ("dtype", ctypes.c_int), ("rank", ctypes.c_int32),
                ("shape", ctypes.POINTER(ctypes.c_int64))]


class OperatorInfoC(ctypes.Structure):
    _fields_ = [("name", ctypes.c_char_p), ("kind", ctypes.c_int), ("num_inputs", _sz),
                ("num_outputs", _sz), ("num_variants", _sz),
                ("num_tf32_variants", _sz)]


class RunStats(ctypes.Structure):
    _fields_ = [("variant", ctypes.c_int32), ("tile_count", ctypes.c_int64),
                ("prologue_ms", ctypes.c_float), ("variant_ms", ctypes.c_float)]


class BenchmarkOptions(ctypes.Structure):
    _fields_ = [("warmup", ctypes.c_int32), ("reps", ctypes.c_int32),
                ("rounds", ctypes.c_int32)]


class BenchmarkResult(ctypes.Structure):
    _fields_ = [("median_us", ctypes.c_double), ("min_us", ctypes.c_double),
                ("overhead_us", ctypes.c_double), ("overhead_min_us", ctypes.c_double),
                ("variant", ctypes.c_int32), ("tile_count", ctypes.c_int64),
                ("host_selected", ctypes.c_int32), ("method", ctypes.c_char_p),
                ("zero_fill_us", ctypes.c_double)]


# name -> (restype, argtypes); every function returns dynaspa_status_t unless noted.
_SIGNATURES = {
    "dynaspa_status_string": (ctypes.c_char_p, [_st]),
    "dynaspa_context_last_error": (ctypes.c_char_p, [_p]),
    "dynaspa_context_create": (_st, [ctypes.c_int, ctypes.POINTER(_p)]),
    "dynaspa_context_destroy": (_st, [_p]),
    "dynaspa_context_device_kind": (_st, [_p, ctypes.POINTER(ctypes.c_int)]),
    "dynaspa_context_device_name": (_st, [_p, ctypes.POINTER(ctypes.c_char_p)]),
    "dynaspa_context_native_handles": (_st, [_p, ctypes.POINTER(_p), ctypes.POINTER(_p)]),
    "dynaspa_bundle_load_file": (_st, [_p, ctypes.c_char_p, ctypes.POINTER(_p)]),
    "dynaspa_bundle_load_bytes": (_st, [_p, ctypes.c_char_p, _sz, ctypes.POINTER(_p)]),
    "dynaspa_bundle_destroy": (_st, [_p]),
    "dynaspa_bundle_operator_count": (_st, [_p, ctypes.POINTER(_sz)]),
    "dynaspa_bundle_find_operator": (_st, [_p, ctypes.c_char_p, ctypes.POINTER(_sz)]),
    "dynaspa_operator_get_info": (_st, [_p, _sz, ctypes.POINTER(OperatorInfoC)]),
    "dynaspa_operator_get_input": (_st, [_p, _sz, _sz, ctypes.POINTER(TensorInfoC)]),
    "dynaspa_operator_get_output": (_st, [_p, _sz, _sz, ctypes.POINTER(TensorInfoC)]),
    "dynaspa_operator_prepare": (_st, [_p, _sz]),
    "dynaspa_operator_set_variant_lanes": (_st, [_p, _sz, ctypes.c_int]),
    "dynaspa_operator_run": (_st, [_p, _sz, ctypes.POINTER(HostTensor), _sz,
                                   ctypes.POINTER(HostTensor), _sz, ctypes.POINTER(RunStats)]),
    "dynaspa_operator_launch": (_st, [_p, _sz, ctypes.POINTER(_p), _sz,
                                      ctypes.POINTER(_p), _sz, _p]),
    "dynaspa_operator_benchmark": (_st, [_p, _sz, ctypes.POINTER(BenchmarkOptions),
                                         ctypes.POINTER(BenchmarkResult)]),
}


class DynaspaError(RuntimeError):
    """A failing runtime call: ``status`` (int or None for a missing
    function), ``status_name`` and the runtime's ``message``."""

    def __init__(self, func, status, message):
        self.func = func
        self.status = status
        self.status_name = STATUS[status] if status is not None and 0 <= status < len(
            STATUS) else ("missing function" if status is None else "status %s" % status)
        self.message = message
        super().__init__("%s: %s: %s" % (func, self.status_name, message))


class TensorInfo(tuple):
    """(name, dtype, shape) with dtype one of DTYPES."""
    __slots__ = ()

    def __new__(cls, name, dtype, shape):
        return tuple.__new__(cls, (name, dtype, tuple(shape)))

    name = property(lambda s: s[0])
    dtype = property(lambda s: s[1])
    shape = property(lambda s: s[2])


def default_library_path():
    """$DYNASPA_RUNTIME_LIB, else the usual build folders' shared library."""
    env = os.environ.get("DYNASPA_RUNTIME_LIB")
    if env:
        return env
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    for d in ("build-runtime", "build-cuda-rt", "device-out/rt", "build/runtime"):
        p = os.path.join(root, d, "libdynaspa_runtime.so")
        if os.path.exists(p):
            return p
    return "libdynaspa_runtime.so"


class Library:
    """The loaded shared library (``libdynaspa_runtime.so``)."""

    def __init__(self, path=None):
        self.path = path or default_library_path()
        self.lib = ctypes.CDLL(self.path)
        self._fns = {}
        for name, (res, args) in _SIGNATURES.items():
            fn = getattr(self.lib, name, None)
            if fn is None:
                continue
            fn.restype, fn.argtypes = res, args
            self._fns[name] = fn

    def has(self, name):
        return ("dynaspa_" + name if not name.startswith("dynaspa_") else name) in self._fns

    def status_string(self, status):
        return self._fns["dynaspa_status_string"](status).decode()

    def last_error(self, context=None):
        msg = self._fns["dynaspa_context_last_error"](context)
        return msg.decode(errors="replace") if msg else ""

    def call(self, name, *args, context=None):
        """Calls ``name``; raises DynaspaError (with ``context``'s last error
        message, or the thread's when the call has no context)."""
        fn = self._fns.get(name)
        if fn is None:
            raise DynaspaError(name, None, "not exported by %s (older runtime?)" % self.path)
        status = fn(*args)
        if status != OK:
            msg = self.last_error(context)
            if context is not None and not msg:
                msg = self.last_error(None)
            raise DynaspaError(name, status, msg)

    def context(self, kind="cuda"):
        return Context(self, kind)


class Context:
    def __init__(self, lib, kind="cuda"):
        self.lib = lib
        self.handle = _p()
        lib.call("dynaspa_context_create", DEVICE_KINDS[kind], ctypes.byref(self.handle))
        self._bundles = []

    def device_name(self):
        out = ctypes.c_char_p()
        self.lib.call("dynaspa_context_device_name", self.handle, ctypes.byref(out),
                      context=self.handle)
        return out.value.decode()

    def device_kind(self):
        out = ctypes.c_int()
        self.lib.call("dynaspa_context_device_kind", self.handle, ctypes.byref(out),
                      context=self.handle)
        return {v: k for k, v in DEVICE_KINDS.items()}[out.value]

    def native_handles(self):
        """(CUcontext / cl_context, own stream / queue) as ints."""
        c, q = _p(), _p()
        self.lib.call("dynaspa_context_native_handles", self.handle, ctypes.byref(c),
                      ctypes.byref(q), context=self.handle)
        return c.value, q.value

    def load_bundle(self, path):
        b = Bundle(self, path)
        self._bundles.append(b)
        return b

    def load_bundle_bytes(self, data):
        b = Bundle(self, None, data)
        self._bundles.append(b)
        return b

    def close(self):
        for b in self._bundles:
            b.close()
        self._bundles = []
        if self.handle:
            self.lib.call("dynaspa_context_destroy", self.handle)
            self.handle = _p()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class Bundle:
    def __init__(self, ctx, path=None, data=None):
        self.ctx, self.lib, self.path = ctx, ctx.lib, path
        self.handle = _p()
        if path is not None:
            self.lib.call("dynaspa_bundle_load_file", ctx.handle, os.fsencode(path),
                          ctypes.byref(self.handle), context=ctx.handle)
        else:
            self.lib.call("dynaspa_bundle_load_bytes", ctx.handle, bytes(data), len(data),
                          ctypes.byref(self.handle), context=ctx.handle)

    def _call(self, name, *args):
        self.lib.call(name, *args, context=self.ctx.handle)

    def operator_count(self):
        n = _sz()
        self._call("dynaspa_bundle_operator_count", self.handle, ctypes.byref(n))
        return n.value

    def find_operator(self, name):
        i = _sz()
        self._call("dynaspa_bundle_find_operator", self.handle, name.encode(), ctypes.byref(i))
        return i.value

    def operator(self, which=0):
        """The operator with this index or name."""
        index = which if isinstance(which, int) else self.find_operator(which)
        return Operator(self, index)

    def operators(self):
        return [Operator(self, i) for i in range(self.operator_count())]

    def close(self):
        if self.handle:
            self.lib.call("dynaspa_bundle_destroy", self.handle)
            self.handle = _p()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def _tensor_info(t):
    return TensorInfo(t.name.decode() if t.name else "", DTYPES[t.dtype],
                      [t.shape[i] for i in range(t.rank)])


class Operator:
    def __init__(self, bundle, index):
        self.bundle, self.index = bundle, index
        self._call = bundle._call
        info = OperatorInfoC()
        self._call("dynaspa_operator_get_info", bundle.handle, index, ctypes.byref(info))
        self.name = info.name.decode() if info.name else ""
        self.kind = OP_KINDS[info.kind] if info.kind < len(OP_KINDS) else info.kind
        self.num_variants = info.num_variants
        self.num_tf32_variants = info.num_tf32_variants
        self.tolerance = TF32_TOLERANCE if self.num_tf32_variants else FP32_TOLERANCE
        self.inputs = []
        self.outputs = []
        for i in range(info.num_inputs):
            t = TensorInfoC()
            self._call("dynaspa_operator_get_input", bundle.handle, index, i, ctypes.byref(t))
            self.inputs.append(_tensor_info(t))
        for i in range(info.num_outputs):
            t = TensorInfoC()
            self._call("dynaspa_operator_get_output", bundle.handle, index, i, ctypes.byref(t))
            self.outputs.append(_tensor_info(t))

    def __repr__(self):
        return "Operator(%r, %s, inputs=%s, outputs=%s)" % (self.name, self.kind,
                                                            self.inputs, self.outputs)

    def prepare(self):
        self._call("dynaspa_operator_prepare", self.bundle.handle, self.index)

    def set_variant_lanes(self, enable):
        """Whether the variants of a self-dispatching operator run side by
        side (dynaspa_operator_set_variant_lanes; off by default)."""
        self._call("dynaspa_operator_set_variant_lanes", self.bundle.handle,
                   self.index, 1 if enable else 0)

    def launch(self, inputs, outputs, stream=None):
        """Enqueues the whole operator on ``stream`` (an int CUstream /
        cl_command_queue, or None) on device pointers ``inputs`` then
        ``outputs`` (ints, in the bundle's order). Never synchronizes."""
        ins = (_p * max(1, len(inputs)))(*[_p(int(x)) for x in inputs])
        outs = (_p * max(1, len(outputs)))(*[_p(int(x)) for x in outputs])
        self._call("dynaspa_operator_launch", self.bundle.handle, self.index, ins,
                   len(inputs), outs, len(outputs), _p(stream) if stream else None)

    def run(self, inputs, with_stats=False):
        """Runs on host NumPy arrays (uploaded, converted as the C API says);
        returns the outputs as NumPy arrays (and the RunStats as a dict)."""
        import numpy as np
        keep = []

        codes = {np.dtype(v): DTYPES.index(k) for k, v in _NUMPY.items()}

        def host(arr, info=None):
            # Inputs go as they are (f32, or the buffer's exact dtype; bool is
            # one byte, as I1); outputs are allocated as the bundle declares.
            if info is not None:
                arr = np.empty(info.shape, _NUMPY[info.dtype])
            else:
                arr = np.ascontiguousarray(arr)
                if arr.dtype not in codes:
                    arr = arr.astype(np.float32)
            shape = (ctypes.c_int64 * max(1, arr.ndim))(*arr.shape)
            keep.append((arr, shape))
            return HostTensor(arr.ctypes.data, codes[arr.dtype], arr.ndim, shape), arr

        ins = [host(a)[0] for a in inputs]
        outs = [host(None, o) for o in self.outputs]
        ins_c = (HostTensor * max(1, len(ins)))(*ins)
        outs_c = (HostTensor * max(1, len(outs)))(*[o[0] for o in outs])
        stats = RunStats()
        self._call("dynaspa_operator_run", self.bundle.handle, self.index, ins_c, len(ins),
                   outs_c, len(outs), ctypes.byref(stats) if with_stats else None)
        result = [o[1] for o in outs]
        if with_stats:
            return result, dict(variant=stats.variant, tile_count=stats.tile_count,
                                prologue_ms=stats.prologue_ms, variant_ms=stats.variant_ms)
        return result

    def benchmark(self, warmup=10, reps=100, rounds=10):
        """The runtime's own timing (``dynaspa_operator_benchmark``) of the
        inputs of the last ``run``: a dict of median_us, min_us, overhead_us,
        overhead_min_us, variant, tile_count, host_selected, method,
        zero_fill_us."""
        opts = BenchmarkOptions(warmup, reps, rounds)
        r = BenchmarkResult()
        self._call("dynaspa_operator_benchmark", self.bundle.handle, self.index,
                   ctypes.byref(opts), ctypes.byref(r))
        out = {f: getattr(r, f) for f, _ in BenchmarkResult._fields_}
        out["method"] = r.method.decode() if r.method else None
        out["host_selected"] = bool(r.host_selected)
        return out
