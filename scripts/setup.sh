#!/usr/bin/env bash
#===- setup.sh - install dynaspa's dependencies and build it -------------===#
#
# Idempotent and non-interactive: installs the Debian packages dynaspa needs
# (only those missing; apt-get needs root or sudo), configures the build once
# and brings it up to date. Python: Debian's /usr/bin/python3, which sees
# python3-numpy from apt (a pyenv python3 on PATH would not).
#
#   DYNASPA_BUILD_DIR   build directory (default: <repo>/build)
#   DYNASPA_BUILD_TYPE  CMake build type (default: Release)
#
#===----------------------------------------------------------------------===#
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD_DIR=${DYNASPA_BUILD_DIR:-$ROOT/build}
BUILD_TYPE=${DYNASPA_BUILD_TYPE:-Release}
LLVM_PREFIX=/usr/lib/llvm-22

PACKAGES=(
  # Toolchain.
  cmake ninja-build g++ ccache git
  # LLVM/MLIR 22 (mlir-22-tools: MLIRTargets imports mlir-tblgen).
  llvm-22-dev llvm-22-tools libmlir-22-dev mlir-22-tools
  # Tests.
  libgtest-dev python3 python3-numpy
  # OpenCL on the CPU (PoCL) and the SPIR-V tools of the OpenCL path.
  ocl-icd-opencl-dev opencl-headers pocl-opencl-icd clinfo spirv-tools llvm-spirv-15
  clang-15
  # Bundle schema, JSON and PNG masks for the runtime and dynaspa-run.
  libflatbuffers-dev flatbuffers-compiler nlohmann-json3-dev libpng-dev
)

missing=()
for pkg in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "ok installed"; then
    missing+=("$pkg")
  fi
done
if ((${#missing[@]})); then
  echo "setup: installing ${missing[*]}"
  SUDO=""
  if [[ $(id -u) -ne 0 ]]; then SUDO="sudo"; fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq \
    --no-install-recommends "${missing[@]}" >/dev/null
fi

if [[ ! -f "$BUILD_DIR/build.ninja" ]]; then
  cmake -G Ninja -S "$ROOT" -B "$BUILD_DIR" \
    -DCMAKE_BUILD_TYPE="$BUILD_TYPE" \
    -DMLIR_DIR="$LLVM_PREFIX/lib/cmake/mlir" \
    -DLLVM_EXTERNAL_LIT="$LLVM_PREFIX/bin/lit" \
    -DPython3_EXECUTABLE=/usr/bin/python3
fi
ninja -C "$BUILD_DIR"
