#!/usr/bin/env bash
# bench/responsiveness.sh — does the event loop stay responsive while sorts
# saturate the worker pool? DNS latency at a fixed low rate, first idle, then
# while `dnsort-load sort --size 5000 --concurrency 2*POOL` keeps every
# worker busy; for dnsortd (several --threads / --worker-nice settings) and
# for the seed's Python original (bench/seed_sort.py: its DNS responder and
# sort service on one asyncio loop, a ProcessPoolExecutor of CPU-count
# processes).
#
# A benchmark, not a test: nothing runs it automatically. See the section
# "Sort service" of bench/README.md.
#
#   bench/responsiveness.sh                 # about 8 minutes (7 configs, 2 rounds)
#   ROUNDS=3 bench/responsiveness.sh        # 3 interleaved rounds, medians
#   CONFIGS="t2n10 t2n0 seed" bench/responsiveness.sh
#
# Environment (defaults in brackets):
#   CONFIGS     which servers, in order [t2n10 t2n0 t1n10 t1n0 t3n10 t3n0 seed]
#               tTnN = dnsortd --threads T --worker-nice N; t2n10 is the
#               default on a 2-core machine (threads = CPUs, nice 10)
#   DNS_RATE    DNS queries per second, open loop [1000]
#   DURATION    seconds of each DNS run, idle and loaded [10]
#   SORT_SIZE   numbers per sort request of the background load [5000]
#   SETTLE      seconds between starting the sort load and the DNS run [2]
#   ROUNDS      repeat the whole list, interleaved; medians are printed [2]
#   GEN_SCHED   fifo: the DNS load generator runs SCHED_FIFO 1 (chrt), so
#               that its own wait for a CPU is not counted as the server's
#               latency (it stands in for clients on other machines);
#               normal: plain nice 0, like everything else [fifo if chrt -f
#               works, else normal]
#   QUIET_PCT, QUIET_WAIT  before each phase, wait up to QUIET_WAIT s until
#               the machine (our server idle) is at most QUIET_PCT % busy [15, 15]
#   NOISE_MAX, RETRIES  a phase during which the neighbours took more than
#               NOISE_MAX % of a CPU is run again, up to RETRIES attempts in
#               all; the last attempt is kept [25, 3]
#   DNSORTD, LOAD, PYTHON, RESULTS [build-sortbench/..., python3,
#               bench/results/resp-YYYYmmdd-HHMMSS]
#   MAX_SECONDS watchdog [60 + 45 * configs * ROUNDS]
#
# The columns and the method are explained in bench/README.md.
# Nothing is pinned: the question is precisely who gets the two cores when
# the pool wants all of them, and both load generators share them too (the
# DNS one needs little: 1000 q/s; the sort one sends a few requests/s).
# Only processes this script starts are signalled, by PID; the EXIT trap
# stops all of them, the original's orphan-prone pool workers included.
set -u -o pipefail

# shellcheck source=bench/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

CONFIGS=${CONFIGS:-t2n10 t2n0 t1n10 t1n0 t3n10 t3n0 seed}
DNS_RATE=${DNS_RATE:-1000}
DURATION=${DURATION:-10}
SORT_SIZE=${SORT_SIZE:-5000}
SETTLE=${SETTLE:-2}
ROUNDS=${ROUNDS:-2}
GEN_SCHED=${GEN_SCHED:-}
QUIET_PCT=${QUIET_PCT:-15}
QUIET_WAIT=${QUIET_WAIT:-15}
NOISE_MAX=${NOISE_MAX:-25}
RETRIES=${RETRIES:-3}
DNSORTD=${DNSORTD:-$TOP/build-sortbench/loop/dnsortd}
LOAD=${LOAD:-$TOP/build-sortbench/tools/dnsort-load}
PYTHON=${PYTHON:-python3}
RESULTS=${RESULTS:-$HERE/results/resp-$(date +%Y%m%d-%H%M%S)}
set -- $CONFIGS
MAX_SECONDS=${MAX_SECONDS:-$((120 + 90 * $# * ROUNDS))}
set --

# CPU ticks of the server, split: "LOOP POOL". LOOP is the main thread of
# the main process (dnsortd's libuv loop; the original's asyncio loop).
# POOL is everything else in the tree: dnsortd's worker threads, the
# original's pool processes and its executor manager/feeder threads.
cpu_split() {
  local root=$1 p t loop=0 pool=0 v
  for p in $(tree_pids "$root"); do
    for t in /proc/$p/task/[0-9]*; do
      v=$(awk '{ s = $0; sub(/^.*\) /, "", s); split(s, a, " "); print a[12] + a[13] }' "$t/stat" 2>/dev/null) || continue
      [ -n "$v" ] || continue
      if [ "$p" = "$root" ] && [ "${t##*/}" = "$root" ]; then loop=$((loop + v)); else pool=$((pool + v)); fi
    done
  done
  echo "$loop $pool"
}
# neighbours CPUFILE: % of one CPU that others took during a dns_run.
neighbours() {
  awk -v tck="$TCK" '{ w = $5 - $4; p = w > 0 ? $3 / tck / w * 100 : 0; printf "%d\n", p < 0 ? 0 : p }' "$1"
}

# ---------------------------------------------------------------- set-up
PYEXE=$(python_exe "$PYTHON") || exit 1
if [ ! -x "$DNSORTD" ] || [ ! -x "$LOAD" ]; then
  log "building dnsortd and dnsort-load in build-sortbench (release)"
  build_bench "$TOP/build-sortbench" loop/dnsortd tools/dnsort-load || die "build failed"
fi
make_dirs respbench
if [ -z "$GEN_SCHED" ]; then
  if chrt -f 1 true 2>/dev/null; then GEN_SCHED=fifo; else GEN_SCHED=normal; fi
fi
case $GEN_SCHED in
  fifo) GEN=(chrt -f 1) ;;
  normal) GEN=() ;;
  *) die "GEN_SCHED must be fifo or normal" ;;
esac

start_watchdog "$MAX_SECONDS"

{
  machine_info
  echo "python: $("$PYEXE" --version 2>&1) ($PYEXE)"
  echo "dnsortd: $DNSORTD"
  echo "settings: CONFIGS='$CONFIGS' DNS_RATE=$DNS_RATE DURATION=$DURATION SORT_SIZE=$SORT_SIZE SETTLE=$SETTLE ROUNDS=$ROUNDS GEN_SCHED=$GEN_SCHED"
} > "$RESULTS/machine.txt"

RUNS="$RESULTS/runs.tsv"
printf 'config\tround\tphase\tdns_sent\tdns_ok\tdns_errors\tp50_us\tp99_us\tp999_us\tmax_us\tlag_p99_us\tsort_ok\tsort_errors\tsort_rps\tloop_pct\tpool_pct\tother_pct\tattempt\n' > "$RUNS"

# dns_run CONFIG ROUND PHASE PID DNS_PORT [SORT_GEN_PID]: one DNS run, with
# the server's CPU split over it and what everybody else took meanwhile.
dns_run() {
  local cfg=$1 rnd=$2 phase=$3 pid=$4 dport=$5 sgen=${6:-} out l0 l1 p0 p1 b0 b1 c0 c1 g0=0 g1=0 w0 w1
  out="$RESULTS/$cfg.r$rnd.dns-$phase.json"
  child_ticks > "$WORK/c"; c0=$(cat "$WORK/c"); [ -n "$sgen" ] && g0=$(pid_ticks "$sgen")
  read -r l0 p0 < <(cpu_split "$pid"); b0=$(machine_busy_ticks); w0=$(date +%s.%N)
  "${GEN[@]+"${GEN[@]}"}" "$LOAD" dns --dns-server 127.0.0.1:$dport --rate "$DNS_RATE" --duration "$DURATION" --json \
    > "$out" 2> "${out%.json}.stderr"
  read -r l1 p1 < <(cpu_split "$pid"); b1=$(machine_busy_ticks); w1=$(date +%s.%N)
  child_ticks > "$WORK/c"; c1=$(cat "$WORK/c"); [ -n "$sgen" ] && g1=$(pid_ticks "$sgen")
  # rest = all CPUs' busy ticks - server - both load generators: neighbours
  # (and kernel work not charged to us).
  echo "$((l1 - l0)) $((p1 - p0)) $((b1 - b0 - (l1 - l0) - (p1 - p0) - (c1 - c0) - (g1 - g0))) $w0 $w1" > "${out%.json}.cpu"
}
# row CONFIG ROUND PHASE SORT_JSON ATTEMPT: appends the row for a finished phase.
row() {
  local cfg=$1 rnd=$2 phase=$3 sortjson=${4:-} attempt=${5:-1}
  local out="$RESULTS/$cfg.r$rnd.dns-$phase.json"
  "$PYEXE" - "$out" "${out%.json}.cpu" "$cfg" "$rnd" "$phase" "$TCK" "$NCPU" "$sortjson" "$attempt" >> "$RUNS" <<'EOF' || log "bad report: $out"
import json, sys
out, cpu, cfg, rnd, phase, tck, ncpu, sortjson, attempt = sys.argv[1:]
d = json.load(open(out))
lat = d["latency_us"]
dd = d.get("dns", d)
lag = dd.get("send_lag_us", {}) or {}
loop, pool, rest, w0, w1 = open(cpu).read().split()
wall = float(w1) - float(w0)
tck, ncpu = int(tck), int(ncpu)
loop_pct = int(loop) / tck / wall * 100
pool_pct = int(pool) / tck / wall * 100
other_pct = max(0.0, int(rest) / tck / wall * 100)
so = se = sr = ""
if sortjson:
    try:
        s = json.load(open(sortjson))
        so, se, sr = s["ok"], s["errors"], f'{s["throughput_rps"]:.1f}'
    except Exception as e:
        so = se = sr = "?"
print("\t".join(str(x) for x in (cfg, rnd, phase, d["requests"], d["ok"], d["errors"],
      lat.get("p50", ""), lat.get("p99", ""), lat.get("p99.9", ""), lat.get("max", ""),
      lag.get("p99", ""), so, se, sr, f"{loop_pct:.1f}", f"{pool_pct:.1f}", f"{other_pct:.1f}", attempt)))
EOF
  tail -n 1 "$RUNS" | awk -F'\t' '{ printf "  %-6s r%s %-6s: dns %d ok, %d errors, p50 %s us, p99 %s us; sort ok %s (%s/s); cpu%%: loop %s, pool %s, neighbours %s\n",
    $1, $2, $3, $5, $6, $7, $8, $12, $14, $15, $16, $17 }' >&2
}

# ---------------------------------------------------------------- one config
run_config() {
  local cfg=$1 rnd=$2 pid dport sport threads nice pool sortpid sortjson
  if [ "$cfg" = seed ]; then
    start_seed_sort "$RESULTS/$cfg.r$rnd." || die "seed_sort.py did not start"
    pid=$SEED_PID; sport=$SEED_SORT_PORT; dport=$SEED_DNS_PORT
    pool=$NCPU   # ProcessPoolExecutor() default: os.cpu_count()
  else
    threads=${cfg#t}; threads=${threads%n*}; nice=${cfg#*n}
    start_dnsortd "$RESULTS/$cfg.r$rnd." --dns 127.0.0.1:0 --sort 127.0.0.1:0 \
      --threads "$threads" --worker-nice "$nice" || die "dnsortd ($cfg) did not start"
    pid=$DNSORTD_PID; dport=${DNSORTD_DNS##*:}; sport=${DNSORTD_SORT##*:}
    pool=$threads
  fi
  log "$cfg round $rnd: pid $pid, dns $dport, sort $sport, pool $pool"
  # Warm-up: one DNS second (first packets, page faults).
  "$LOAD" dns --dns-server 127.0.0.1:$dport --rate "$DNS_RATE" --duration 1 > /dev/null 2>&1

  local attempt noise
  for attempt in $(seq "$RETRIES"); do
    wait_quiet
    dns_run "$cfg" "$rnd" idle "$pid" "$dport"
    noise=$(neighbours "$RESULTS/$cfg.r$rnd.dns-idle.cpu")
    [ "$noise" -le "$NOISE_MAX" ] && break
    log "$cfg idle: neighbours took ${noise}% of a CPU during the run (> $NOISE_MAX): attempt $attempt of $RETRIES"
  done
  row "$cfg" "$rnd" idle "" "$attempt"

  sortjson="$RESULTS/$cfg.r$rnd.sort.json"
  for attempt in $(seq "$RETRIES"); do
    wait_quiet
    "$LOAD" sort --sort-server 127.0.0.1:$sport --size "$SORT_SIZE" --concurrency $((2 * pool)) \
      --duration "$(awk -v a="$SETTLE" -v b="$DURATION" 'BEGIN { print a + b + 0.5 }')" \
      --timeout 60 --drain 15 --json > "$sortjson" 2> "${sortjson%.json}.stderr" &
    sortpid=$!; record_tree $sortpid
    sleep "$SETTLE"
    dns_run "$cfg" "$rnd" loaded "$pid" "$dport" "$sortpid"
    wait $sortpid
    noise=$(neighbours "$RESULTS/$cfg.r$rnd.dns-loaded.cpu")
    [ "$noise" -le "$NOISE_MAX" ] && break
    log "$cfg loaded: neighbours took ${noise}% of a CPU during the run (> $NOISE_MAX): attempt $attempt of $RETRIES"
  done
  row "$cfg" "$rnd" loaded "$sortjson" "$attempt"
  stop_recorded
}

for rnd in $(seq "$ROUNDS"); do
  for cfg in $CONFIGS; do
    case $cfg in seed|t[0-9]*n[0-9]*) ;; *) die "unknown config '$cfg'" ;; esac
    run_config "$cfg" "$rnd"
  done
done
echo "loadavg at end: $(cat /proc/loadavg)" >> "$RESULTS/machine.txt"

# ---------------------------------------------------------------- table
"$PYEXE" - "$RUNS" "$NOISE_MAX" > "$RESULTS/table.txt" <<'EOF'
import csv, statistics as st, sys
rows = list(csv.DictReader(open(sys.argv[1]), delimiter="\t"))
noise_max = float(sys.argv[2])
by = {}
for r in rows:
    by.setdefault(r["config"], {}).setdefault(r["round"], {})[r["phase"]] = r
def name(c):
    if c == "seed":
        return "original (asyncio + ProcessPoolExecutor)"
    t, n = c[1:].split("n")
    return f"dnsortd --threads {t} --worker-nice {n}"
def ms(x): return f"{float(x) / 1000:.3f}"
def clean(v):
    return all(float(v[p]["other_pct"]) <= noise_max for p in ("idle", "loaded"))
def table(title, keep):
    print(title)
    print()
    print("| server | idle p50 ms | idle p99 ms | loaded p50 ms | loaded p99 ms | loaded/idle p99 | loaded p99.9 ms | loaded send lag p99 ms | sort req/s under load | CPU % loop / pool (loaded) | neighbours % idle / loaded | DNS errors | rounds (attempts) |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---|---|---:|---|")
    for cfg in by:
        rs = [v for v in by[cfg].values() if "idle" in v and "loaded" in v and keep(v)]
        if not rs:
            print(f"| {name(cfg)} | no round | | | | | | | | | | | 0 |")
            continue
        med = lambda ph, k: st.median(float(v[ph][k]) for v in rs if v[ph][k] not in ("", "?"))
        ratios = [float(v["loaded"]["p99_us"]) / float(v["idle"]["p99_us"]) for v in rs]
        ratio = st.median(ratios)
        errs = sum(int(v["idle"]["dns_errors"]) + int(v["loaded"]["dns_errors"]) for v in rs)
        target = "" if cfg == "seed" else (" (<= 1.5: met)" if ratio <= 1.5 else " (<= 1.5: MISSED)")
        each = "" if len(rs) == 1 else " [" + ", ".join(f"{x:.1f}" for x in ratios) + "]"
        print(f"| {name(cfg)} | {ms(med('idle', 'p50_us'))} | {ms(med('idle', 'p99_us'))} | {ms(med('loaded', 'p50_us'))} "
              f"| {ms(med('loaded', 'p99_us'))} | {ratio:.2f}{target}{each} | {ms(med('loaded', 'p999_us'))} | {ms(med('loaded', 'lag_p99_us'))} | {med('loaded', 'sort_rps'):.1f} "
              f"| {med('loaded', 'loop_pct'):.0f} / {med('loaded', 'pool_pct'):.0f} | {med('idle', 'other_pct'):.0f} / {med('loaded', 'other_pct'):.0f} | {errs} "
              f"| {len(rs)} ({sum(int(v[p]['attempt']) for v in rs for p in ('idle', 'loaded'))}) |")
    print()
table("All rounds (medians; the ratio is the median of the per-round ratios, each round's in brackets):", lambda v: True)
table(f"Clean rounds only (neighbours took at most {noise_max:.0f} % of a CPU in both phases):", clean)
EOF
cat "$RESULTS/table.txt"
log "raw outputs in $RESULTS"
