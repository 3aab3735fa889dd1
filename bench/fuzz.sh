#!/usr/bin/env bash
# bench/fuzz.sh — a fuzzing campaign: every libFuzzer target listed in
# tests/fuzz/targets.txt, one after the other, each until it has made RUNS
# runs or spent SECONDS, whichever comes first. Prints runs, runs/s, edge
# coverage (cov) and features (ft) per target, and fails on the first crash
# (the input is kept under the results dir). tools/test runs the same
# targets for 30 s each; this is the long run recorded in bench/README.md.
#
#   bench/fuzz.sh                          # 10 M runs or 30 min per target
#   SECONDS_MAX=60 RUNS=0 bench/fuzz.sh    # one minute each, no run bound
#   TARGETS="fuzz_http fuzz_hosts" bench/fuzz.sh
#
# Environment (defaults in brackets):
#   RUNS         stop a target after this many runs; 0: no bound [10000000]
#   SECONDS_MAX  stop a target after this many seconds [1800]
#   TARGETS      which targets [all of tests/fuzz/targets.txt]
#   BUILD        the clang + libFuzzer + ASan/UBSan build dir [build-fuzz]
#   RESULTS      where logs, new inputs and crashes go
#                [bench/results/fuzz-YYYYmmdd-HHMMSS]
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
TOP=$(dirname "$HERE")
RUNS=${RUNS:-10000000}
SECONDS_MAX=${SECONDS_MAX:-1800}
BUILD=${BUILD:-$TOP/build-fuzz}
RESULTS=${RESULTS:-$HERE/results/fuzz-$(date +%Y%m%d-%H%M%S)}
TABLE="$TOP/tests/fuzz/targets.txt"

if [ ! -f "$BUILD/build.ninja" ]; then
  CC=clang meson setup "$BUILD" "$TOP" -Dfuzz=true -Db_sanitize=address,undefined \
    -Db_lundef=false >/dev/null
fi
ninja -C "$BUILD" >/dev/null

runs_flag=$RUNS
[ "$RUNS" -gt 0 ] || runs_flag=-1   # libFuzzer: -1 is no bound, 0 is none
mkdir -p "$RESULTS/crashes"
all_targets=$(grep -v '^#' "$TABLE" | awk 'NF == 2 {print $1}')
TARGETS=${TARGETS:-$all_targets}

printf '%-20s %12s %9s %10s %7s %8s\n' target runs seconds "runs/s" cov ft
status=0
for target in $TARGETS; do
  corpus=$(grep -v '^#' "$TABLE" | awk -v t="$target" '$1 == t {print $2}')
  if [ -z "$corpus" ]; then
    echo "fuzz.sh: $target is not in $TABLE" >&2
    exit 2
  fi
  work="$RESULTS/$target"
  log="$RESULTS/$target.log"
  mkdir -p "$work"
  start=$(date +%s.%N)
  # libFuzzer's own bounds stop the run; the exit code is read from the
  # log and the crashes dir, not trusted alone (a timeout exits 1 too).
  "$BUILD/tests/fuzz/$target" -runs="$runs_flag" -max_total_time="$SECONDS_MAX" \
    -print_final_stats=1 -artifact_prefix="$RESULTS/crashes/$target-" \
    "$work" "$TOP/tests/fuzz/$corpus" >"$log" 2>&1 || true
  end=$(date +%s.%N)
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  last=$(grep -E '^#[0-9]+' "$log" | tail -1)
  cov=$(sed -n 's/.* cov: \([0-9]*\).*/\1/p' <<<"$last")
  ft=$(sed -n 's/.* ft: \([0-9]*\).*/\1/p' <<<"$last")
  secs=$(awk -v a="$start" -v b="$end" 'BEGIN {printf "%.0f", b - a}')
  rate=$(awk -v r="${runs:-0}" -v s="$secs" 'BEGIN {printf "%.0f", (s > 0 ? r / s : 0)}')
  printf '%-20s %12s %9s %10s %7s %8s\n' "$target" "${runs:-?}" "$secs" "$rate" "${cov:-?}" "${ft:-?}"
  # A slow-unit artifact is an input that took over 10 s once
  # (-report_slow_units): kept and reported, not a failure by itself (a
  # stopped or starved process makes them too); replay it to see.
  slow=$(ls "$RESULTS/crashes" | grep -c "^$target-slow-unit-" || true)
  if [ "$slow" -gt 0 ]; then
    echo "fuzz.sh: $target: $slow slow unit(s) in $RESULTS/crashes (replay: $BUILD/tests/fuzz/$target FILE)" >&2
  fi
  if ls "$RESULTS/crashes" | grep "^$target-" | grep -qv -- "-slow-unit-" || grep -q '==ERROR' "$log"; then
    echo "fuzz.sh: $target failed; see $log and $RESULTS/crashes" >&2
    status=1
  fi
done
echo "logs: $RESULTS"
exit $status
