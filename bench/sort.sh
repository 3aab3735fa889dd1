#!/usr/bin/env bash
# bench/sort.sh — sort-service throughput and latency of dnsortd against the
# seed's Python original (bench/seed_sort.py) and, for small requests, a
# libuv I/O floor (bench/io_floor.c: read the frame, write "[1, 2, 3]").
#
# A benchmark, not a test: nothing runs it automatically. See the section
# "Sort service" of bench/README.md for the method and the figures.
#
#   bench/sort.sh                        # about 4 minutes
#   ROUNDS=1 DURATION=2 bench/sort.sh    # quicker, noisier
#
# Environment (defaults in brackets):
#   SIZES, CONCS     request sizes and closed-loop concurrencies [10 1000 5000 / 1 16]
#   DURATION         seconds per dnsortd / floor run [3]
#   ROUNDS           dnsortd and floor runs per cell, interleaved; the table
#                    gives the median of each figure [3]
#   SEED_DURATION    seconds per Python run for sizes below 5000 [4]
#   SEED_REQUESTS    Python requests per run at size >= 5000 (c=1; c=16 gets
#                    twice the concurrency) [20]
#   SERVER_CPU / CLIENT_CPU  CPUs for the size-10 runs [1 / 0]
#   DNSORTD_ARGS     extra dnsortd options, e.g. "--threads 1" [none]
#   DNSORTD, LOAD    binaries [build-sortbench/loop/dnsortd, .../tools/dnsort-load;
#                    built with meson/ninja if missing]
#   PYTHON           Python 3.11 for the original [python3]
#   RESULTS          raw outputs [bench/results/sort-YYYYmmdd-HHMMSS]
#   QUIET_PCT, QUIET_WAIT, QUIET_BUDGET  before each run, wait until the
#                    machine's busy share over 0.5 s is at most QUIET_PCT %
#                    (neighbours), at most QUIET_WAIT s per run and
#                    QUIET_BUDGET s in all [15, 5, 60]
#   MAX_SECONDS      watchdog [480]
#
# Pinning. Size 10 is all I/O: every thread/process of every server is
# pinned to SERVER_CPU and dnsort-load to CLIENT_CPU, so that each side has
# one core and the load generator does not steal from the server. Sizes 1000
# and 5000 are CPU-bound sorts that both servers spread over a pool (two
# worker threads / two worker processes on this 2-core machine): pinning the
# server to one core would halve both, so for those runs nothing is pinned
# (server and client may use both cores; the client's share is small: it
# memcmp()s each reply against a precomputed one).
#
# Only processes this script starts are signalled, by PID (checked against
# their start time); the EXIT trap stops all of them, the Python original's
# pool workers included (the original orphans them on SIGTERM).
set -u -o pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
TOP=$(dirname "$HERE")

SIZES=${SIZES:-10 1000 5000}
CONCS=${CONCS:-1 16}
DURATION=${DURATION:-3}
ROUNDS=${ROUNDS:-5}
SEED_DURATION=${SEED_DURATION:-4}
SEED_REQUESTS=${SEED_REQUESTS:-20}
SERVER_CPU=${SERVER_CPU:-1}
CLIENT_CPU=${CLIENT_CPU:-0}
DNSORTD=${DNSORTD:-$TOP/build-sortbench/loop/dnsortd}
DNSORTD_ARGS=${DNSORTD_ARGS:-}
LOAD=${LOAD:-$TOP/build-sortbench/tools/dnsort-load}
PYTHON=${PYTHON:-python3}
RESULTS=${RESULTS:-$HERE/results/sort-$(date +%Y%m%d-%H%M%S)}
MAX_SECONDS=${MAX_SECONDS:-480}
QUIET_PCT=${QUIET_PCT:-15}
QUIET_WAIT=${QUIET_WAIT:-5}
QUIET_BUDGET=${QUIET_BUDGET:-60}
QUIET_SPENT=0
ALL_CPUS=0-$(($(nproc) - 1))

log() { printf '[sort.sh %s] %s\n' "$(date +%T)" "$*" >&2; }
die() { log "error: $*"; exit 1; }

# ---------------------------------------------------------------- cleanup
WORK=""
WATCHDOG_PID=""
declare -a STARTED=()   # "pid starttime" of every process started (or forked by one)

start_time() {   # field 22 of /proc/PID/stat; empty for a zombie
  awk '{ s = $0; sub(/^.*\) /, "", s); split(s, a, " "); print (a[1] == "Z" ? "" : a[20]) }' \
    "/proc/$1/stat" 2>/dev/null
}
alive_as() { local st; st=$(start_time "$1") || return 1; [ -n "$st" ] && [ "$st" = "$2" ]; }

# PID and its descendants, one per line.
tree_pids() {
  cat /proc/[0-9]*/stat 2>/dev/null | awk -v root="$1" '
    { s = $0; pid = $1; sub(/^.*\) /, "", s); split(s, a, " "); parent[pid] = a[2]; all[pid] = 1 }
    END { want[root] = 1; changed = 1
          while (changed) { changed = 0
            for (p in all) if (!(p in want) && (parent[p] in want)) { want[p] = 1; changed = 1 } }
          for (p in want) if (p in all) print p }'
}
record_tree() {
  local p st
  for p in $(tree_pids "$1"); do
    st=$(start_time "$p"); [ -n "$st" ] || continue
    case " ${STARTED[*]+"${STARTED[*]}"} " in *" $p $st "*) ;; *) STARTED+=("$p $st") ;; esac
  done
}
stop_recorded() {
  local e any
  for e in "${STARTED[@]+"${STARTED[@]}"}"; do
    alive_as "${e%% *}" "${e#* }" && kill -TERM "${e%% *}" 2>/dev/null
  done
  for _ in $(seq 50); do
    any=0
    for e in "${STARTED[@]+"${STARTED[@]}"}"; do alive_as "${e%% *}" "${e#* }" && any=1; done
    [ $any = 0 ] && break
    sleep 0.1
  done
  for e in "${STARTED[@]+"${STARTED[@]}"}"; do
    if alive_as "${e%% *}" "${e#* }"; then
      log "pid ${e%% *} ignored SIGTERM for 5 s: SIGKILL"; kill -KILL "${e%% *}" 2>/dev/null
    fi
  done
  for e in "${STARTED[@]+"${STARTED[@]}"}"; do wait "${e%% *}" 2>/dev/null; done
  STARTED=()
}
cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  [ -n "$WATCHDOG_PID" ] && kill "$WATCHDOG_PID" 2>/dev/null
  stop_recorded
  [ -n "$WORK" ] && rm -rf "$WORK"
  exit $rc
}
trap cleanup EXIT
trap 'log "interrupted"; exit 130' INT
trap 'log "terminated (watchdog or signal)"; exit 143' TERM

# ---------------------------------------------------------------- helpers
# "user+system" clock ticks summed over PID's tree (threads are already summed).
tree_ticks() {
  local p t sum=0
  for p in $(tree_pids "$1"); do
    t=$(awk '{ s = $0; sub(/^.*\) /, "", s); split(s, a, " "); print a[12] + a[13] }' \
      "/proc/$p/stat" 2>/dev/null) || continue
    [ -n "$t" ] && sum=$((sum + t))
  done
  echo "$sum"
}
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
# Sets the CPU affinity of every thread of every process in PID's tree.
pin_tree() { local p; for p in $(tree_pids "$1"); do taskset -a -p -c "$2" "$p" >/dev/null 2>&1; done; }

free_port() {   # a 127.0.0.1 port free for UDP and TCP
  local p hex
  for _ in $(seq 100); do
    p=$((20000 + RANDOM % 40000)); hex=$(printf ':%04X ' "$p")
    cat /proc/net/udp /proc/net/tcp 2>/dev/null | awk '{ print $2 " " }' | grep -qF "$hex" \
      || { echo "$p"; return 0; }
  done
  die "no free port found"
}
tcp_listening() {  # PORT: is something listening on 127.0.0.1:PORT?
  local hex; hex=$(printf '0100007F:%04X' "$1")
  awk -v a="$hex" '$2 == a && $4 == "0A" { f = 1 } END { exit !f }' /proc/net/tcp
}
wait_line() {   # FILE REGEX PID: wait up to 10 s for REGEX in FILE
  for _ in $(seq 100); do
    grep -qE "$2" "$1" 2>/dev/null && return 0
    kill -0 "$3" 2>/dev/null || return 1
    sleep 0.1
  done
  return 1
}

# The machine is shared: wait (boundedly) for the neighbours to be quiet.
wait_quiet() {
  local t0=$SECONDS b0 b1 i0 i1 pct
  while :; do
    read -r b0 i0 < <(awk '/^cpu / { print $2 + $3 + $4 + $7 + $8 + $9, $5 + $6; exit }' /proc/stat)
    sleep 0.5
    read -r b1 i1 < <(awk '/^cpu / { print $2 + $3 + $4 + $7 + $8 + $9, $5 + $6; exit }' /proc/stat)
    pct=$((100 * (b1 - b0) / (b1 - b0 + i1 - i0 + 1)))
    [ "$pct" -le "$QUIET_PCT" ] && break
    if [ $((SECONDS - t0)) -ge "$QUIET_WAIT" ] || [ $((QUIET_SPENT + SECONDS - t0)) -ge "$QUIET_BUDGET" ]; then
      log "machine still ${pct}% busy (neighbours): running anyway"; break
    fi
  done
  QUIET_SPENT=$((QUIET_SPENT + SECONDS - t0))
}

# ---------------------------------------------------------------- set-up
command -v taskset >/dev/null || die "taskset missing (util-linux)"
command -v pkg-config >/dev/null && pkg-config --exists libuv || die "libuv headers missing (libuv1-dev, pkg-config)"
PYEXE=$("$PYTHON" -c 'import sys; assert sys.version_info >= (3, 8); print(sys.executable)') \
  || die "$PYTHON is not a usable Python 3"
if [ ! -x "$DNSORTD" ] || [ ! -x "$LOAD" ]; then
  log "building dnsortd and dnsort-load in build-sortbench (release)"
  ( cd "$TOP" && { [ -d build-sortbench ] || meson setup build-sortbench --buildtype=release -Dtests=false; } \
    && ninja -C build-sortbench loop/dnsortd tools/dnsort-load ) >&2 || die "build failed"
fi
mkdir -p "$RESULTS" || die "cannot create $RESULTS"
WORK=$(mktemp -d /tmp/sortbench.XXXXXX)
cc -O2 -std=c11 -D_DEFAULT_SOURCE -o "$WORK/io_floor" "$HERE/io_floor.c" \
  $(pkg-config --cflags --libs libuv) || die "cannot build io_floor"

# Watchdog: TERMs this script after MAX_SECONDS. Its own sleep is killed
# with it (trap) and holds none of our output pipes.
( sp=""; trap '[ -n "$sp" ] && kill "$sp" 2>/dev/null; exit 0' TERM
  sleep "$MAX_SECONDS" & sp=$!; wait "$sp" && kill -TERM $$ ) > /dev/null 2>&1 < /dev/null &
WATCHDOG_PID=$!

{
  echo "date: $(date -Is)"
  echo "nproc: $(nproc)"
  echo "cpu: $(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)"
  echo "kernel: $(uname -srm)"
  echo "python: $("$PYEXE" --version 2>&1) ($PYEXE)"
  echo "libuv: $(pkg-config --modversion libuv)"
  echo "dnsortd: $DNSORTD $DNSORTD_ARGS"
  echo "loadavg before: $(cat /proc/loadavg)"
  echo "settings: SIZES='$SIZES' CONCS='$CONCS' DURATION=$DURATION ROUNDS=$ROUNDS SEED_DURATION=$SEED_DURATION SEED_REQUESTS=$SEED_REQUESTS"
} > "$RESULTS/machine.txt"

# dnsortd: defaults (threads = CPUs, worker nice 10) plus DNSORTD_ARGS; port 0.
# shellcheck disable=SC2086
"$DNSORTD" --dns 127.0.0.1:0 --sort 127.0.0.1:0 $DNSORTD_ARGS > "$RESULTS/dnsortd.stdout" 2> "$RESULTS/dnsortd.stderr" &
D_PID=$!; record_tree $D_PID
wait_line "$RESULTS/dnsortd.stdout" 'sort=tcp://' $D_PID || die "dnsortd did not start"
D_PORT=$(grep -o 'sort=tcp://127.0.0.1:[0-9]*' "$RESULTS/dnsortd.stdout" | sed 's/.*://')

"$WORK/io_floor" 0 > "$RESULTS/floor.stdout" 2> "$RESULTS/floor.stderr" &
F_PID=$!; record_tree $F_PID
wait_line "$RESULTS/floor.stdout" 'listening' $F_PID || die "io_floor did not start"
F_PORT=$(sed 's/.*://' "$RESULTS/floor.stdout")

# The original prints lines per request: stdout to /dev/null.
S_PORT=$(free_port); S_DNS_PORT=$(free_port)
"$PYEXE" "$HERE/seed_sort.py" "$S_PORT" "$S_DNS_PORT" > /dev/null 2> "$RESULTS/seed.stderr" &
S_PID=$!; record_tree $S_PID
for _ in $(seq 100); do tcp_listening "$S_PORT" && break; kill -0 $S_PID 2>/dev/null || break; sleep 0.1; done
tcp_listening "$S_PORT" || die "seed_sort.py did not start (see $RESULTS/seed.stderr)"

# Warm-up. The original forks its ProcessPoolExecutor at the first request,
# and the workers inherit every socket open at that moment: those
# connections never see their close (the reply arrives, EOF never does).
# Faithful to the seed (fork start method); one throw-away request takes it.
log "warm-up (the original's first request never gets EOF: its pool forks with the socket open)"
"$LOAD" sort --sort-server 127.0.0.1:$S_PORT --size 10 --requests 1 --timeout 2 > "$RESULTS/seed.warmup.txt" 2>&1
"$LOAD" sort --sort-server 127.0.0.1:$D_PORT --size 1000 --concurrency 16 --duration 1 > "$RESULTS/dnsortd.warmup.txt" 2>&1
record_tree $S_PID
log "dnsortd pid $D_PID port $D_PORT; seed pid $S_PID port $S_PORT (pool: $(tree_pids $S_PID | grep -vx $S_PID | tr '\n' ' ')); floor pid $F_PID port $F_PORT"

# ---------------------------------------------------------------- runs
RUNS="$RESULTS/runs.tsv"
printf 'size\tconc\tserver\tround\trequests\tok\terrors\twrong\tduration_s\tp50_us\tp99_us\tcpu_ticks\thwm_kb\tpinned\tclient_ticks\tother_pct\n' > "$RUNS"
TCK=$(getconf CLK_TCK)
NCPU=$(nproc)

busy_ticks() {  # user+nice+system+irq+softirq+steal of all CPUs, /proc/stat
  awk '/^cpu / { print $2 + $3 + $4 + $7 + $8 + $9; exit }' /proc/stat
}
# Children's user+system time of this shell, in ticks: bash's `times`, run
# in this shell (a pipe or $(...) would run it in a fresh subshell, whose
# children's times are zero), into a file.
child_ticks() {
  local l; times > "$WORK/times"; l=$(tail -n 1 "$WORK/times")
  awk -v tck="$TCK" -v l="$l" 'BEGIN { n = split(l, a, " "); s = 0
    for (i = 1; i <= n; i++) { m = a[i]; sub(/s$/, "", m); split(m, b, "m"); s += b[1] * 60 + b[2] }
    printf "%d\n", s * tck + 0.5 }'
}

# run_one NAME PID PORT SIZE CONC ROUND PINNED  [extra dnsort-load args...]
run_one() {
  local name=$1 pid=$2 port=$3 size=$4 conc=$5 round=$6 pinned=$7; shift 7
  local out="$RESULTS/$name.s$size.c$conc.r$round.json" t0 t1 hwm="" client_cpus=$ALL_CPUS
  [ "$pinned" = yes ] && client_cpus=$CLIENT_CPU
  wait_quiet
  [ "$size" = 1000 ] && [ "$conc" = 16 ] && clear_hwm "$pid"
  t0=$(tree_ticks "$pid"); b0=$(busy_ticks); child_ticks > "$WORK/c0"; c0=$(cat "$WORK/c0"); w0=$(date +%s.%N)
  taskset -c "$client_cpus" "$LOAD" sort --sort-server 127.0.0.1:$port --size "$size" \
    --concurrency "$conc" --json "$@" > "$out" 2> "${out%.json}.stderr"
  child_ticks > "$WORK/c1"; c1=$(cat "$WORK/c1"); b1=$(busy_ticks); t1=$(tree_ticks "$pid"); w1=$(date +%s.%N)
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

for size in $SIZES; do
  if [ "$size" -le 100 ]; then pinned=yes; cpus=$SERVER_CPU; else pinned=no; cpus=$ALL_CPUS; fi
  for pid in $D_PID $S_PID $F_PID; do pin_tree $pid "$cpus"; done
  for conc in $CONCS; do
    log "size $size, concurrency $conc (servers on CPU $cpus, client on $([ $pinned = yes ] && echo $CLIENT_CPU || echo $ALL_CPUS))"
    for r in $(seq "$ROUNDS"); do
      run_one dnsortd $D_PID $D_PORT "$size" "$conc" "$r" $pinned --duration "$DURATION" --timeout 10 --drain 5
      [ "$size" -le 100 ] && run_one floor $F_PID $F_PORT "$size" "$conc" "$r" $pinned --duration "$DURATION" --timeout 10 --drain 5
    done
    # The original, once per cell: slow, so long runs of its own.
    if [ "$size" -ge 5000 ]; then
      n=$SEED_REQUESTS; [ "$conc" -gt 1 ] && n=$((conc * 2 > SEED_REQUESTS ? conc * 2 : SEED_REQUESTS))
      run_one seed $S_PID $S_PORT "$size" "$conc" 1 $pinned --requests "$n" --timeout 60
    else
      run_one seed $S_PID $S_PORT "$size" "$conc" 1 $pinned --duration "$SEED_DURATION" --timeout 30 --drain 10
    fi
  done
done
record_tree $S_PID
echo "loadavg after: $(cat /proc/loadavg); seconds spent waiting for quiet: $QUIET_SPENT" >> "$RESULTS/machine.txt"
echo "dnsortd lifetime VmHWM: $(tree_hwm $D_PID) kB; seed (sum over $(tree_pids $S_PID | wc -l) processes): $(tree_hwm $S_PID) kB" >> "$RESULTS/machine.txt"

# ---------------------------------------------------------------- table
"$PYEXE" - "$RUNS" "$TCK" > "$RESULTS/table.txt" <<'EOF'
import csv, statistics as st, sys
rows = list(csv.DictReader(open(sys.argv[1]), delimiter="\t"))
tck = int(sys.argv[2])
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
    out["p50"] = st.median(float(r["p50_us"]) for r in rs if r["p50_us"])
    out["p99"] = st.median(float(r["p99_us"]) for r in rs if r["p99_us"])
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

print("| size | c | server | req/s (median) | req/s min-max | p50 ms | p99 ms | server CPU us/req | client CPU us/req | other % | replies | errors | rounds |")
print("|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
F = {}
for key in sorted(cells):
    f = F[key] = fig(cells[key])
    size, conc, name = key
    print(f"| {size} | {conc} | {name} | {f['rps']:.1f} | {f['rps_min']:.0f}-{f['rps_max']:.0f} | {ms(f['p50'])} | {ms(f['p99'])} "
          f"| {f['cpu_us']:.0f} | {f['client_us']:.0f} | {f['other']:.0f} | {f['n']} | {f['errors']} | {f['rounds']} |")
print()
print("| size | c | dnsort/original req/s | target | dnsort/floor req/s | floor/dnsort CPU per req |")
print("|---:|---:|---:|---|---:|---:|")
target = {10: 20, 1000: 100, 5000: 200}
for size, conc in sorted({(k[0], k[1]) for k in cells}):
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
