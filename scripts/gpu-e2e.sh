#!/usr/bin/env bash
#===- gpu-e2e.sh - the end-to-end suite on a CUDA GPU ----------------------===#
#
# On the GPU machine, after scripts/gpu-e2e-prepare.sh on the build machine
# (device-out/gpu carried): the runtime's CUDA gtests, every generated kernel
# of the end-to-end suite against the float64 reference, and
# compute-sanitizer memcheck and racecheck on the cases that exercise
# grouping, split-K atomics (static and adaptive), compact grids, double
# buffering and the batch-matmul's per-block lists and mixed load widths.
# Exit status 1 on any failure.
#
#===----------------------------------------------------------------------===#
set -uo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
G=${G:-$ROOT/device-out/gpu}
export LD_LIBRARY_PATH=$G/bin:${LD_LIBRARY_PATH:-}
status=0
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader
echo "== runtime CUDA gtests"
(cd "$G/rt" && DYNASPA_TEST_PTX=$PWD/masked_bmm.ptx DYNASPA_TEST_CUBIN=$PWD/masked_bmm.sm_90.cubin \
  ./dynaspa_runtime_tests --gtest_filter='Cuda.*' 2>&1 | tail -3) || status=1
echo "== generated kernels on CUDA vs float64, then replayed"
# A run checked against float64, then graph replays: the DISTile count after
# them must still be the mask's (the multi-block tile-list kernels reset
# their counters themselves), from <case>_tiles.json where one variant fixes
# the granularity; and the variant that ran must be the one the dispatch
# table picks for the mask (tile ranges and covers, worked out in Python).
verdict='import json, sys
r = json.load(sys.stdin); spec = json.load(open(sys.argv[1])); want = spec["tiles"]
c = r.get("check", {}); err = c.get("max_rel_err"); first = r["run"]["tile_count"]; after = r["benchmark"]["tile_count"]
ran = r["run"]["variant"]; pick = spec.get("variant")
ok = c.get("ok") and first == after and want in (None, first) and pick in (None, ran)
print(("ok" if ok else "FAILED") + f" max rel err {err}, tiles {first} then {after} (mask {want}), variant {ran} (table {pick})")
sys.exit(0 if ok else 1)'
pass=0; fail=0
for b in "$G"/e2e/*.dspb; do
  n=$(basename "$b" .dspb)
  if r=$("$G/bin/dynaspa-run" "$b" --device cuda --random 3 --mask "$G/e2e/${n}_mask.npy" --check \
         --json --benchmark --reps 20 --rounds 3 --warmup 2 | python3 -c "$verdict" "$G/e2e/${n}_tiles.json" 2>&1); then
    pass=$((pass + 1)); else fail=$((fail + 1)); status=1; fi
  echo "$n: $r"
done
echo "e2e: $pass passed, $fail failed"
for n in split_k2_double_buffer split_adaptive_sparse split_adaptive_uneven double_buffer_batch2 double_buffer_s2 grouped_1x1_batch2 saliency_40x40 \
         multiblock_1x1_tiles_batch2 multiblock_2x2_saliency av_gather_d0.3 qk_gather_d0.3 \
         small_nondiv_gather av_d0.3 av_gather_db_d0.3 small_nondiv_db_v1 qk_wide_alone av_wide_pair \
         tf32_3x3 tf32_split_db tf32_s2_odd_cout compact_split_k2 compact_adaptive_sparse compact_channel_blocks \
         cover_scattered cover_clustered; do
  run=("$G/bin/dynaspa-run" "$G/e2e/$n.dspb" --device cuda --random 3 --mask "$G/e2e/${n}_mask.npy" --check)
  m=$(compute-sanitizer --tool memcheck --report-api-errors no "${run[@]}" 2>&1 | grep "ERROR SUMMARY")
  r=$(compute-sanitizer --tool racecheck "${run[@]}" 2>&1 | grep "RACECHECK SUMMARY")
  echo "$n: memcheck ${m#*= } | racecheck ${r#*= }"
  [[ $m == *" 0 errors"* && $r == *" 0 hazards"* ]] || status=1
done
exit $status
