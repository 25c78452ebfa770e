#!/usr/bin/env bash
#===- gpu-e2e-prepare.sh - bundles and binaries for the GPU machine -------===#
#
# On the build machine (it has LLVM/MLIR; the GPU machine has only CUDA):
# compiles the end-to-end suite's masked convolutions (plus the CUDA-only
# split-K cases) and batch-matmuls for sm_90, and copies dynaspa-run, the runtime's tests and
# the mask set into device-out/gpu/, which scripts/gpu-e2e.sh runs there.
#
#===----------------------------------------------------------------------===#
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
G=$ROOT/device-out/gpu
CHIP=${CHIP:-sm_90}
rm -rf "$G/e2e" && mkdir -p "$G/e2e" "$G/bin" "$G/rt"
/usr/bin/python3 "$ROOT/test/Integration/OpenCL/masked_conv_e2e.py" \
  --compile "$ROOT/build/bin/dynaspa-compile" --run unused --work "$G/e2e" \
  --masks "$ROOT/../shared/masks" --cuda-chip "$CHIP"
/usr/bin/python3 "$ROOT/test/Integration/OpenCL/masked_bmm_e2e.py" \
  --compile "$ROOT/build/bin/dynaspa-compile" --run unused --work "$G/e2e" \
  --example unused --cuda-chip "$CHIP"
cp "$ROOT/build/runtime/bin/dynaspa-run" "$G/bin/"
for lib in libpng16.so.16 libOpenCL.so.1; do
  cp "$(ldconfig -p | awk -v l=$lib '$1 == l {print $NF; exit}')" "$G/bin/"
done
# The runtime's CUDA tests (CUDA backend only; see docs/runtime/h100-2026-11-24.md).
cmake -S "$ROOT/runtime" -B "$ROOT/build-cuda-rt" -G Ninja -DDYNASPA_RUNTIME_OPENCL=OFF \
  -DCMAKE_EXE_LINKER_FLAGS="-static-libstdc++ -static-libgcc" >/dev/null
ninja -C "$ROOT/build-cuda-rt" >/dev/null
cp "$ROOT"/build-cuda-rt/tests/{dynaspa_runtime_tests,masked_bmm.ptx,masked_bmm.sm_90.cubin} "$G/rt/"
strip "$G/bin/dynaspa-run" "$G/rt/dynaspa_runtime_tests"
rm -rf "$G/masks" && cp -r "$ROOT/../shared/masks" "$G/masks"
du -sh "$G"
