#!/bin/sh
# Builds libdynaspa_runtime.so for run.py on the build machine (the GPU
# machine has no FlatBuffers): CUDA backend only, tests off; a shared library
# made from the static one unless the runtime's CMake already makes one;
# libstdc++ linked in statically with its symbols hidden (the GPU machine's
# libstdc++ may be older; PyTorch loads its own). Carry device-out/rt/.
#   sh benchmarks/build_runtime_so.sh        -> device-out/rt/libdynaspa_runtime.so
set -eu
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${BUILD:-$ROOT/build-runtime-bench}
DEST=${DEST:-$ROOT/device-out/rt}
cmake -S "$ROOT/runtime" -B "$BUILD" -G Ninja -DDYNASPA_RUNTIME_OPENCL=OFF \
  -DDYNASPA_RUNTIME_CUDA=ON -DDYNASPA_RUNTIME_TESTS=OFF -DCMAKE_BUILD_TYPE=Release >/dev/null
ninja -C "$BUILD" -j"${JOBS:-2}" dynaspa_runtime
mkdir -p "$DEST"
if [ -f "$BUILD/libdynaspa_runtime.so" ]; then
  cp "$BUILD/libdynaspa_runtime.so" "$DEST/"
else
  g++ -shared -o "$DEST/libdynaspa_runtime.so" \
    -Wl,--whole-archive "$BUILD/libdynaspa_runtime.a" -Wl,--no-whole-archive \
    -static-libstdc++ -static-libgcc -Wl,--exclude-libs,libstdc++.a:libgcc.a:libgcc_eh.a -ldl
fi
nm -D --defined-only "$DEST/libdynaspa_runtime.so" | grep -c ' T dynaspa_' | \
  xargs printf '%s: %s dynaspa_* functions exported\n' "$DEST/libdynaspa_runtime.so"
