#!/usr/bin/env bash
#===- test.sh - set up dynaspa and run the whole test suite --------------===#
#
# Installs what is missing, builds, and runs check-dynaspa: every lit test
# (dialect, passes, plugin, CPU execution) and every GoogleTest binary.
#
#===----------------------------------------------------------------------===#
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD_DIR=${DYNASPA_BUILD_DIR:-$ROOT/build}

"$ROOT/scripts/setup.sh"

log=$(mktemp)
trap 'rm -f "$log"' EXIT
status=0
ninja -C "$BUILD_DIR" check-dynaspa 2>&1 | tee "$log" || status=$?

# One plain summary line: lit's counts of passed and failed tests.
passed=$(sed -n 's/^ *Passed *: *\([0-9]*\).*/\1/p' "$log" | tail -1)
failed=$(sed -n 's/^ *Failed *: *\([0-9]*\).*/\1/p' "$log" | tail -1)
skipped=$(sed -n 's/^ *Skipped *: *\([0-9]*\).*/\1/p' "$log" | tail -1)
# Skipped: GPU tests on a machine without a GPU driver.
echo "${passed:-0} passed, ${failed:-0} failed, ${skipped:-0} skipped"
exit $status
