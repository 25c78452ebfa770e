#!/usr/bin/env bash
#===- demo.sh - set up dynaspa and run the main job ----------------------===#
#
# Installs what is missing, builds (dynaspa-compile and the runtime's
# dynaspa-run), then compiles the sample masked 3x3 convolution
# (examples/masked_conv3x3.mlir) into a bundle, runs it on CUDA (or OpenCL on
# the CPU through PoCL) with a real mask, checks it against a float64
# reference and times it against the dense (all-ones mask) run. Extra
# arguments go to scripts/demo.py (--example, --mask, --mask-index, --device,
# --seed, --reps, --rounds, --warmup; see scripts/demo.py --help).
#
#===----------------------------------------------------------------------===#
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
"$ROOT/scripts/setup.sh"
exec /usr/bin/python3 "$ROOT/scripts/demo.py" \
  --build-dir "${DYNASPA_BUILD_DIR:-$ROOT/build}" "$@"
