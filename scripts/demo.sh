#!/usr/bin/env bash
#===- demo.sh - set up dynaspa and run the main job ----------------------===#
#
# Installs what is missing, builds, then compiles the sample masked 3x3
# convolution (examples/masked_conv3x3.mlir) and runs it, checking the result
# against a float64 reference. Extra arguments go to scripts/demo.py
# (--example, --mask, --seed).
#
#===----------------------------------------------------------------------===#
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
"$ROOT/scripts/setup.sh"
exec /usr/bin/python3 "$ROOT/scripts/demo.py" \
  --build-dir "${DYNASPA_BUILD_DIR:-$ROOT/build}" "$@"
