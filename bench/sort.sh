#!/usr/bin/env bash
# bench/sort.sh — sort-service throughput and latency of dnsortd against the
# seed's Python original (bench/seed_sort.py), in one of two modes:
#
#   MODE=pinned (default)  per-core figures: sizes 10, 1000, 5000 x
#              concurrency 1, 16, and a libuv I/O floor for size 10
#              (bench/io_floor.c: read the frame, write "[1, 2, 3]");
#              size 10 is pinned (see "Pinning" below)
#   MODE=user  what a user gets: dnsortd with its defaults (no tuning flags),
#              the original started the same way, nothing pinned (no
#              taskset), dnsort-load sort closed loop; prints the ratio to
#              the original per size, for the CELLS below
#
# A benchmark, not a test: nothing runs it automatically. See the section
# "Sort service" of bench/README.md for the method and the figures.
#
#   bench/sort.sh                        # pinned, about 4 minutes
#   MODE=user bench/sort.sh              # user, about 2-3 minutes
#   MODE=user ROUNDS=1 DURATION=3 SEED_DURATION=4 SEED_LONG_DURATION=8 bench/sort.sh
#
# Environment (defaults in brackets):
#   MODE             pinned or user [pinned]
#   SIZES, CONCS     pinned: request sizes and closed-loop concurrencies
#                    [10 1000 5000 / 1 16]
#   CELLS            user: SIZE:CONCURRENCY pairs [10:16 1000:16 5000:8]
#   DURATION         seconds per dnsortd / floor run [3]
#   ROUNDS           dnsortd (and floor) runs per cell, interleaved; the
#                    table gives the median of each figure [5]
#   SEED_DURATION    seconds per run of the original below size 5000 [4]
#   SEED_LONG_DURATION  the same from size 5000 on (it makes ~1-2 req/s
#                    there) [20]
#   DRAIN, SEED_DRAIN  after the run's seconds, replies still in flight may
#                    take this long before they count as timeouts [10 / 30];
#                    every run ends by itself after its seconds + drain
#   SERVER_CPU / CLIENT_CPU  pinned: CPUs for the size-10 runs [1 / 0]
#   DNSORTD_ARGS     extra dnsortd options, e.g. "--threads 1"; user mode is
#                    meant without any [none]
#   DNSORTD, LOAD    binaries [build-sortbench/loop/dnsortd, .../tools/dnsort-load;
#                    built with meson/ninja if missing]
#   PYTHON           Python 3.11 for the original [python3]
#   RESULTS          raw outputs [bench/results/sort-MODE-YYYYmmdd-HHMMSS]
#   QUIET_PCT, QUIET_WAIT, QUIET_BUDGET  before each run, wait until the
#                    machine's busy share over 0.5 s is at most QUIET_PCT %
#                    (neighbours), at most QUIET_WAIT s per run and
#                    QUIET_BUDGET s in all [15, 5, 60]
#   MAX_SECONDS      watchdog [480]
#
# Pinning (MODE=pinned). Size 10 is all I/O: every thread/process of every
# server is pinned to SERVER_CPU and dnsort-load to CLIENT_CPU, so that each
# side has one core and the load generator does not steal from the server.
# Sizes 1000 and 5000 are CPU-bound sorts that both servers spread over a
# pool (worker threads / worker processes): pinning the server to one core
# would halve both, so for those runs nothing is pinned (server and client
# may use both cores; the client's share is small: it memcmp()s each reply
# against a precomputed one).
#
# Only processes this script starts are signalled, by PID (checked against
# their start time); the EXIT trap stops all of them, the Python original's
# pool workers included (the original orphans them on SIGTERM).
set -u -o pipefail

# shellcheck source=bench/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

MODE=${MODE:-pinned}
SIZES=${SIZES:-10 1000 5000}
CONCS=${CONCS:-1 16}
CELLS=${CELLS:-10:16 1000:16 5000:8}
DURATION=${DURATION:-3}
ROUNDS=${ROUNDS:-5}
SEED_DURATION=${SEED_DURATION:-4}
SEED_LONG_DURATION=${SEED_LONG_DURATION:-20}
DRAIN=${DRAIN:-10}
SEED_DRAIN=${SEED_DRAIN:-30}
SERVER_CPU=${SERVER_CPU:-1}
CLIENT_CPU=${CLIENT_CPU:-0}
DNSORTD=${DNSORTD:-$TOP/build-sortbench/loop/dnsortd}
DNSORTD_ARGS=${DNSORTD_ARGS:-}
LOAD=${LOAD:-$TOP/build-sortbench/tools/dnsort-load}
PYTHON=${PYTHON:-python3}
RESULTS=${RESULTS:-$HERE/results/sort-$MODE-$(date +%Y%m%d-%H%M%S)}
MAX_SECONDS=${MAX_SECONDS:-480}
QUIET_PCT=${QUIET_PCT:-15}
QUIET_WAIT=${QUIET_WAIT:-5}
QUIET_BUDGET=${QUIET_BUDGET:-60}

case $MODE in
  pinned|user) ;;
  *) die "MODE must be pinned or user, not '$MODE'" ;;
esac

# Sum of VmHWM (kB) over PID's tree; clear_hwm resets it (clear_refs 5).
tree_hwm() {
  local p v sum=0
  for p in $(tree_pids "$1"); do
    v=$(awk '/^VmHWM:/ { print $2 }' "/proc/$p/status" 2>/dev/null)
    [ -n "$v" ] && sum=$((sum + v))
  done
  echo "$sum"
}
clear_hwm() { local p; for p in $(tree_pids "$1"); do echo 5 > "/proc/$p/clear_refs" 2>/dev/null; done; }

# ---------------------------------------------------------------- set-up
command -v taskset >/dev/null || die "taskset missing (util-linux)"
command -v pkg-config >/dev/null && pkg-config --exists libuv || die "libuv headers missing (libuv1-dev, pkg-config)"
PYEXE=$(python_exe "$PYTHON") || exit 1
if [ ! -x "$DNSORTD" ] || [ ! -x "$LOAD" ]; then
  log "building dnsortd and dnsort-load in build-sortbench (release)"
  build_bench "$TOP/build-sortbench" loop/dnsortd tools/dnsort-load || die "build failed"
fi
make_dirs sortbench
start_watchdog "$MAX_SECONDS"

{
  machine_info
  echo "python: $("$PYEXE" --version 2>&1) ($PYEXE)"
  echo "libuv: $(pkg-config --modversion libuv)"
  echo "dnsortd: $DNSORTD $DNSORTD_ARGS"
  echo "settings: MODE=$MODE SIZES='$SIZES' CONCS='$CONCS' CELLS='$CELLS' DURATION=$DURATION ROUNDS=$ROUNDS SEED_DURATION=$SEED_DURATION SEED_LONG_DURATION=$SEED_LONG_DURATION DRAIN=$DRAIN SEED_DRAIN=$SEED_DRAIN"
} > "$RESULTS/machine.txt"

# dnsortd: its defaults plus DNSORTD_ARGS; port 0.
# shellcheck disable=SC2086
start_dnsortd "$RESULTS/dnsortd." --dns 127.0.0.1:0 --sort 127.0.0.1:0 $DNSORTD_ARGS \
  || die "dnsortd did not start (see $RESULTS/dnsortd.stderr)"
D_PID=$DNSORTD_PID; D_PORT=${DNSORTD_SORT##*:}

F_PID=""
if [ "$MODE" = pinned ]; then
  cc -O2 -std=c11 -D_DEFAULT_SOURCE -o "$WORK/io_floor" "$HERE/io_floor.c" \
    $(pkg-config --cflags --libs libuv) || die "cannot build io_floor"
  "$WORK/io_floor" 0 > "$RESULTS/floor.stdout" 2> "$RESULTS/floor.stderr" &
  F_PID=$!; record "$F_PID"
  wait_line "$RESULTS/floor.stdout" 'listening' "$F_PID" || die "io_floor did not start"
  F_PORT=$(sed 's/.*://' "$RESULTS/floor.stdout")
fi

log "warm-up (the original's first request never gets EOF: its pool forks with the socket open)"
start_seed_sort "$RESULTS/seed." || die "seed_sort.py did not start (see $RESULTS/seed.stderr)"
S_PID=$SEED_PID; S_PORT=$SEED_SORT_PORT
"$LOAD" sort --sort-server "127.0.0.1:$D_PORT" --size 1000 --concurrency 16 --duration 1 > "$RESULTS/dnsortd.warmup.txt" 2>&1
log "mode $MODE; dnsortd pid $D_PID port $D_PORT; seed pid $S_PID port $S_PORT (pool: $(tree_pids "$S_PID" | grep -vx "$S_PID" | tr '\n' ' '))${F_PID:+; floor pid $F_PID port $F_PORT}"

# ---------------------------------------------------------------- runs
RUNS="$RESULTS/runs.tsv"
printf 'size\tconc\tserver\tround\trequests\tok\terrors\twrong\tduration_s\tp50_us\tp99_us\tcpu_ticks\thwm_kb\tpinned\tclient_ticks\tother_pct\n' > "$RUNS"

# run_one NAME PID PORT SIZE CONC ROUND PINNED  [extra dnsort-load args...]
run_one() {
  local name=$1 pid=$2 port=$3 size=$4 conc=$5 round=$6 pinned=$7; shift 7
  local out="$RESULTS/$name.s$size.c$conc.r$round.json" hwm="" t0 t1 b0 b1 c0 c1 w0 w1 other
  local pin=()
  [ "$pinned" = yes ] && pin=(taskset -c "$CLIENT_CPU")
  wait_quiet
  [ "$size" = 1000 ] && [ "$conc" = 16 ] && clear_hwm "$pid"
  t0=$(tree_ticks "$pid"); b0=$(machine_busy_ticks); child_ticks > "$WORK/c0"; c0=$(cat "$WORK/c0"); w0=$(date +%s.%N)
  "${pin[@]+"${pin[@]}"}" "$LOAD" sort --sort-server "127.0.0.1:$port" --size "$size" \
    --concurrency "$conc" --json "$@" > "$out" 2> "${out%.json}.stderr"
  child_ticks > "$WORK/c1"; c1=$(cat "$WORK/c1"); b1=$(machine_busy_ticks); t1=$(tree_ticks "$pid"); w1=$(date +%s.%N)
  # CPU taken meanwhile by anything but this server and this client, as a
  # share of all CPUs (the neighbours' noise; kernel work included).
  other=$(awk -v b=$((b1 - b0)) -v s=$((t1 - t0)) -v c=$((c1 - c0)) -v w0="$w0" -v w1="$w1" \
    -v n="$NCPU" -v tck="$TCK" 'BEGIN { o = (b - s - c) / (n * tck * (w1 - w0)) * 100; printf "%.0f", o < 0 ? 0 : o }')
  [ "$size" = 1000 ] && [ "$conc" = 16 ] && hwm=$(tree_hwm "$pid")
  "$PYEXE" - "$out" "$size" "$conc" "$name" "$round" "$((t1 - t0))" "$hwm" "$pinned" "$((c1 - c0))" "$other" >> "$RUNS" <<'EOF' || log "bad report: $out"
import json, sys
path, size, conc, name, rnd, ticks, hwm, pinned, cticks, other = sys.argv[1:]
d = json.load(open(path))
lat = d["latency_us"]
print("\t".join(str(x) for x in (size, conc, name, rnd, d["requests"], d["ok"], d["errors"],
      d["error_kinds"]["wrong_reply"], d["duration_s"], lat.get("p50", ""), lat.get("p99", ""),
      ticks, hwm, pinned, cticks, other)))
EOF
  tail -n 1 "$RUNS" | awk -F'\t' '{ printf "  %-8s size %-5s c=%-3s r%s: %6d req in %6.2f s, %d errors, p50 %s us, p99 %s us, other %s%%\n",
    $3, $1, $2, $4, $5, $9, $7, $10, $11, $16 }' >&2
}

# run_cell SIZE CONC PINNED: ROUNDS dnsortd runs (and floor runs, when it
# runs and the size is I/O), then one longer run of the original. Every run
# is bounded by time: its seconds, then at most the drain.
run_cell() {
  local size=$1 conc=$2 pinned=$3 r secs=$SEED_DURATION
  for r in $(seq "$ROUNDS"); do
    run_one dnsortd "$D_PID" "$D_PORT" "$size" "$conc" "$r" "$pinned" --duration "$DURATION" --timeout 10 --drain "$DRAIN"
    [ -n "$F_PID" ] && [ "$size" -le 100 ] &&
      run_one floor "$F_PID" "$F_PORT" "$size" "$conc" "$r" "$pinned" --duration "$DURATION" --timeout 10 --drain "$DRAIN"
  done
  [ "$size" -ge 5000 ] && secs=$SEED_LONG_DURATION
  run_one seed "$S_PID" "$S_PORT" "$size" "$conc" 1 "$pinned" --duration "$secs" --timeout 60 --drain "$SEED_DRAIN"
}

if [ "$MODE" = user ]; then
  for cell in $CELLS; do
    size=${cell%%:*}; conc=${cell#*:}
    [[ $size =~ ^[0-9]+$ && $conc =~ ^[0-9]+$ ]] || die "CELLS: '$cell' is not SIZE:CONCURRENCY"
    log "size $size, concurrency $conc (nothing pinned)"
    run_cell "$size" "$conc" no
  done
else
  for size in $SIZES; do
    if [ "$size" -le 100 ]; then pinned=yes; cpus=$SERVER_CPU; else pinned=no; cpus=0-$((NCPU - 1)); fi
    for pid in $D_PID $S_PID $F_PID; do pin_tree "$pid" "$cpus"; done
    for conc in $CONCS; do
      log "size $size, concurrency $conc (servers on CPU $cpus, client on $([ $pinned = yes ] && echo "$CLIENT_CPU" || echo "any"))"
      run_cell "$size" "$conc" $pinned
    done
  done
fi
record_tree "$S_PID"
echo "loadavg at end: $(cat /proc/loadavg); seconds spent waiting for quiet: $QUIET_SPENT" >> "$RESULTS/machine.txt"
echo "dnsortd lifetime VmHWM: $(tree_hwm "$D_PID") kB; seed (sum over $(tree_pids "$S_PID" | wc -l) processes): $(tree_hwm "$S_PID") kB" >> "$RESULTS/machine.txt"

# ---------------------------------------------------------------- table
"$PYEXE" - "$RUNS" "$TCK" "$MODE" > "$RESULTS/table.txt" <<'EOF'
import csv, statistics as st, sys
rows = list(csv.DictReader(open(sys.argv[1]), delimiter="\t"))
tck = int(sys.argv[2])
mode = sys.argv[3]
cells = {}
for r in rows:
    cells.setdefault((int(r["size"]), int(r["conc"]), r["server"]), []).append(r)

def fig(rs):
    """Median over rounds of each figure. For the floor every reply counts
    (dnsort-load calls its fixed "[1, 2, 3]" a wrong_reply)."""
    out = {}
    def served(r):
        n = int(r["ok"]) + (int(r["wrong"]) if r["server"] == "floor" else 0)
        return n
    rps = [served(r) / float(r["duration_s"]) for r in rs]
    out["rps"] = st.median(rps)
    out["rps_min"], out["rps_max"] = min(rps), max(rps)
    p50 = [float(r["p50_us"]) for r in rs if r["p50_us"]]
    p99 = [float(r["p99_us"]) for r in rs if r["p99_us"]]
    out["p50"] = st.median(p50) if p50 else float("nan")
    out["p99"] = st.median(p99) if p99 else float("nan")
    out["cpu_us"] = st.median(int(r["cpu_ticks"]) * 1e6 / tck / max(1, served(r)) for r in rs)
    out["client_us"] = st.median(int(r["client_ticks"]) * 1e6 / tck / max(1, served(r)) for r in rs)
    out["other"] = st.median(float(r["other_pct"]) for r in rs)
    bad = sum(int(r["errors"]) - (int(r["wrong"]) if r["server"] == "floor" else 0) for r in rs)
    out["errors"] = bad
    out["n"] = sum(served(r) for r in rs)
    out["rounds"] = len(rs)
    hw = [int(r["hwm_kb"]) for r in rs if r["hwm_kb"]]
    out["hwm"] = max(hw) if hw else None
    return out

def ms(us): return f"{us / 1000:.3f}" if us < 100000 else f"{us / 1000:.0f}"

print(f"mode: {mode}" + (" (dnsortd defaults, nothing pinned, closed loop)" if mode == "user" else " (size 10 pinned: servers on one CPU, client on the other)"))
print()
print("| size | c | server | req/s (median) | req/s min-max | p50 ms | p99 ms | server CPU us/req | client CPU us/req | other % | replies | errors | rounds |")
print("|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
F = {}
for key in sorted(cells):
    f = F[key] = fig(cells[key])
    size, conc, name = key
    print(f"| {size} | {conc} | {name} | {f['rps']:.1f} | {f['rps_min']:.0f}-{f['rps_max']:.0f} | {ms(f['p50'])} | {ms(f['p99'])} "
          f"| {f['cpu_us']:.0f} | {f['client_us']:.0f} | {f['other']:.0f} | {f['n']} | {f['errors']} | {f['rounds']} |")
print()
pairs = sorted({(k[0], k[1]) for k in cells})
if mode == "user":
    # The goals of issue 10, measured as a user runs it.
    goal = {1000: 100, 5000: 300}
    print("| size | c | dnsortd req/s | original req/s | dnsort/original | goal |")
    print("|---:|---:|---:|---:|---:|---|")
    for size, conc in pairs:
        d, s = F.get((size, conc, "dnsortd")), F.get((size, conc, "seed"))
        drps = f"{d['rps']:.1f}" if d else "-"
        srps = f"{s['rps']:.2f}" if s else "-"
        ratio = d["rps"] / s["rps"] if d and s and s["rps"] > 0 else None
        g = goal.get(size)
        met = "(connection setup bounds it)" if g is None else f">= {g}x: " + (
            "-" if ratio is None else "met" if ratio >= g else f"MISSED ({ratio / g:.0%} of it)")
        print(f"| {size} | {conc} | {drps} | {srps} | {'-' if ratio is None else f'{ratio:.1f}x'} | {met} |")
else:
    print("| size | c | dnsort/original req/s | target | dnsort/floor req/s | floor/dnsort CPU per req |")
    print("|---:|---:|---:|---|---:|---:|")
    target = {10: 20, 1000: 100, 5000: 200}
    for size, conc in pairs:
        d, s, fl = F.get((size, conc, "dnsortd")), F.get((size, conc, "seed")), F.get((size, conc, "floor"))
        r = f"{d['rps'] / s['rps']:.1f}x" if d and s and s["rps"] > 0 else "-"
        t = target.get(size)
        met = ""
        if t and d and s and s["rps"] > 0:
            met = f">= {t}x: " + ("met" if d["rps"] / s["rps"] >= t else f"MISSED ({d['rps'] / s['rps'] / t:.0%} of it)")
        fr = f"{d['rps'] / fl['rps']:.0%}" + (" (>= 70%: met)" if d['rps'] / fl['rps'] >= 0.7 else " (>= 70%: MISSED)") if d and fl else "-"
        fc = f"{fl['cpu_us'] / d['cpu_us']:.0%}" if d and fl and d["cpu_us"] > 0 else "-"
        print(f"| {size} | {conc} | {r} | {met} | {fr} | {fc} |")
print()
d, s = F.get((1000, 16, "dnsortd")), F.get((1000, 16, "seed"))
if d and d["hwm"]:
    line = f"peak RSS under size 1000, c=16 (VmHWM after clear_refs): dnsortd {d['hwm'] / 1024:.1f} MB (target <= 16 MB: {'met' if d['hwm'] <= 16 * 1024 else 'MISSED'})"
    if s and s["hwm"]:
        line += f"; original {s['hwm'] / 1024:.1f} MB (sum over its processes)"
    print(line)
EOF
cat "$RESULTS/table.txt"
log "raw outputs in $RESULTS"
