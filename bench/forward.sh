#!/usr/bin/env bash
# bench/forward.sh — what a forwarded answer costs in `dnsortd --unknown
# forward`, cache cold and warm, next to dnsmasq with its cache, both in
# front of the same upstream (unbound answering every name from local data).
#
# A benchmark, not a test: nothing runs it automatically. See the
# "Forwarding" section of bench/README.md for a recorded run.
#
#   bench/forward.sh                    # both servers, about 2 minutes
#   DURATION=20 bench/forward.sh        # longer warm saturation runs
#   SERVERS=dnsortd bench/forward.sh
#
# Per server, in this order:
#   cold   latency: LAT_QPS q/s of names never asked before, for
#          LAT_DURATION s; then saturation: COLD_NAMES other new names,
#          once each (dnsperf -n 1): every query a miss that goes upstream
#   warm   the WARM_NAMES names of warm.txt once, to fill the cache; then
#          latency: LAT_QPS q/s over them for LAT_DURATION s; then
#          saturation: DURATION s looping over them (every query a hit)
# qps = completed / run time; CPU = utime + stime of the server from
# /proc/PID/stat over the saturation run; µs/q = CPU per answered query;
# qps/core = answers per CPU second (what one fully used core would give).
#
# Environment (defaults in brackets):
#   DURATION       warm saturation seconds [10]
#   COLD_NAMES     names in the cold saturation run [100000]
#   WARM_NAMES     names in the warm set, 80% A, 20% AAAA (NODATA) [1000]
#   LAT_DURATION   seconds of each fixed-rate latency run [5]
#   LAT_QPS        rate of the latency runs, queries/s [2000]
#   DNSPERF_OPTS   dnsperf load options for saturation [-c 8 -q 200]
#   CACHE_SIZE     cache entries of both forwarders [10000]
#   SERVERS        which forwarders, in order [dnsortd dnsmasq]
#   SERVER_CPU     CPU of the forwarder under test [1]
#   CLIENT_CPU     CPU of dnsperf and of the upstream unbound [0]
#   DNSORTD        dnsortd binary [build-fwd-bench/loop/dnsortd, built if missing]
#   RESULTS        results dir [bench/results/forward-YYYYmmdd-HHMMSS]
#   MAX_SECONDS    watchdog: the script ends itself after this long [900]
#
# Every process runs in one mktemp -d, on free 127.0.0.1 high ports. Only
# the processes this script starts are ever signalled, by PID, and the EXIT
# trap stops all of them (and removes the temp dir) on every exit path.
set -u -o pipefail

# shellcheck source=bench/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

DURATION=${DURATION:-10}
COLD_NAMES=${COLD_NAMES:-100000}
WARM_NAMES=${WARM_NAMES:-1000}
LAT_DURATION=${LAT_DURATION:-5}
LAT_QPS=${LAT_QPS:-2000}
DNSPERF_OPTS=${DNSPERF_OPTS:--c 8 -q 200}
CACHE_SIZE=${CACHE_SIZE:-10000}
SERVERS=${SERVERS:-dnsortd dnsmasq}
SERVER_CPU=${SERVER_CPU:-1}
CLIENT_CPU=${CLIENT_CPU:-0}
DNSORTD=${DNSORTD:-}
RESULTS=${RESULTS:-$HERE/results/forward-$(date +%Y%m%d-%H%M%S)}
MAX_SECONDS=${MAX_SECONDS:-900}
ANSWER=198.51.100.53   # what the upstream says for every A

# ---------------------------------------------------------------- helpers
# start CPU LOGBASE command...: starts a process pinned to CPU, records
# it; sets PID. taskset execs, so $! is the program itself.
start() {
  local cpu=$1 base=$2; shift 2
  taskset -c "$cpu" "$@" > "$base.stdout" 2> "$base.stderr" &
  PID=$!
  record "$PID"
}

fill() { # fill TEMPLATE OUT: the @...@ placeholders
  sed "s|@PORT@|$PORT|g; s|@DIR@|$DIR|g; s|@UPSTREAM@|$UPSTREAM_PORT|g; s|@CACHE@|$CACHE_SIZE|g" "$1" > "$2"
}

# Ready when NAME A comes back as the upstream's answer, through PORT.
wait_answer() {
  local pid=$1 port=$2 name=$3
  for _ in $(seq 40); do
    kill -0 "$pid" 2>/dev/null || return 1
    [ "$(dig @127.0.0.1 -p "$port" +tries=1 +time=1 +short "$name" A 2>/dev/null)" = "$ANSWER" ] && return 0
    sleep 0.25
  done
  return 1
}

# dnsperf_run OUT PORT [options...]: one run pinned to CLIENT_CPU; -t 2: an
# answer later than 2 s counts as lost.
dnsperf_run() {
  local out=$1 port=$2; shift 2
  timeout 300 taskset -c "$CLIENT_CPU" dnsperf -s 127.0.0.1 -p "$port" -t 2 "$@" > "$out" 2>&1
}

# names N PREFIX: N unique names, 80% A and 20% AAAA, one per line.
names() {
  awk -v n="$1" -v p="$2" 'BEGIN { for (i = 0; i < n; i++) printf "%s%d.fwd.bench %s\n", p, i, (i % 5 == 4 ? "AAAA" : "A") }'
}

# One saturation run of FILE: dnsperf OPTS, server CPU and socket drops
# around it. Appends a row to summary.tsv: server phase sent done lost
# runtime avg_ms cpu_s p50 p99 drops_server drops_upstream codes
saturate() {
  local name=$1 phase=$2 port=$3 pid=$4 lat=$5; shift 5
  local out="$RESULTS/$name.$phase.txt" t0 t1 d0 d1 u0 u1
  t0=$(pid_ticks "$pid"); d0=$(udp_drops "$port" peer); u0=$(udp_drops "$UPSTREAM_PORT" peer)
  # shellcheck disable=SC2086
  dnsperf_run "$out" "$port" "$@" $DNSPERF_OPTS
  t1=$(pid_ticks "$pid"); d1=$(udp_drops "$port" peer); u1=$(udp_drops "$UPSTREAM_PORT" peer)
  local sent done_ lost rt avg codes
  sent=$(stat_of "$out" "Queries sent"); done_=$(stat_of "$out" "Queries completed")
  lost=$(stat_of "$out" "Queries lost"); rt=$(stat_of "$out" "Run time (s)")
  avg=$(stat_of "$out" "Average Latency (s)")
  codes=$(grep -m1 'Response codes:' "$out" | sed 's/.*codes:[[:space:]]*//')
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%.3f\t%.2f\t%s\t%s\t%s\t%s\n' "$name" "$phase" "${sent:-0}" \
    "${done_:-0}" "${lost:-0}" "${rt:-0}" "$(awk -v a="${avg:-0}" 'BEGIN { print a * 1000 }')" \
    "$(awk -v t="$((t1 - t0))" -v k="$TCK" 'BEGIN { print t / k }')" \
    "$(dnsperf_percentiles "$lat")" "$((d1 - d0))" "$((u1 - u0))" "$codes" >> "$RESULTS/summary.tsv"
}

# ---------------------------------------------------------------- per server
bench_one() {
  local name=$1
  DIR="$WORK/$name"; mkdir -p "$DIR"
  PORT=$(free_port)
  log "$name: starting on 127.0.0.1:$PORT (CPU $SERVER_CPU), upstream unbound 127.0.0.1:$UPSTREAM_PORT"
  case $name in
    dnsortd) start "$SERVER_CPU" "$DIR/dnsortd" "$DNSORTD" --dns "127.0.0.1:$PORT" --sort 127.0.0.1:0 \
               --threads 1 --unknown forward --upstream "127.0.0.1:$UPSTREAM_PORT" \
               --cache-size "$CACHE_SIZE" ;;
    dnsmasq) fill "$HERE/peers/forward-dnsmasq.conf" "$DIR/dnsmasq.conf"
             start "$SERVER_CPU" "$DIR/dnsmasq" dnsmasq -k -C "$DIR/dnsmasq.conf" ;;
    *) die "unknown server $name" ;;
  esac
  local pid=$PID entry
  entry=$(last_recorded)
  if ! wait_answer "$pid" "$PORT" "ready.$name.fwd.bench"; then
    log "$name: no answer through it within 10 s; skipped"
    cp "$DIR/$name.stderr" "$RESULTS/$name.stderr" 2>/dev/null
    stop_entries "$entry"; forget "$entry"
    return
  fi
  {
    for q in "ready.$name.fwd.bench A" "x.fwd.bench AAAA" "Mixed.Case.Fwd.Bench A"; do
      echo "### dig $q"
      # shellcheck disable=SC2086
      dig @127.0.0.1 -p "$PORT" +tries=1 +time=2 +nocmd +nostats $q 2>&1
    done
  } > "$RESULTS/$name.sanity.txt"

  local tag="r$RANDOM$RANDOM"
  names "$COLD_NAMES" "cold-$tag-" > "$WORK/cold-$name.txt"
  names $((LAT_QPS * LAT_DURATION)) "lat-$tag-" > "$WORK/coldlat-$name.txt"

  log "$name: cold, $COLD_NAMES new names once ($DNSPERF_OPTS)"
  dnsperf_run "$RESULTS/$name.cold-lat.txt" "$PORT" -d "$WORK/coldlat-$name.txt" -n 1 -Q "$LAT_QPS" -v
  saturate "$name" cold "$PORT" "$pid" "$RESULTS/$name.cold-lat.txt" -d "$WORK/cold-$name.txt" -n 1

  log "$name: warm, $WARM_NAMES names: fill, then ${DURATION}s saturation and ${LAT_DURATION}s at $LAT_QPS q/s"
  dnsperf_run "$RESULTS/$name.fill.txt" "$PORT" -d "$WORK/warm.txt" -n 1 -Q 20000
  dnsperf_run "$RESULTS/$name.warm-lat.txt" "$PORT" -d "$WORK/warm.txt" -l "$LAT_DURATION" -Q "$LAT_QPS" -v
  saturate "$name" warm "$PORT" "$pid" "$RESULTS/$name.warm-lat.txt" -d "$WORK/warm.txt" -l "$DURATION"

  kill -0 "$pid" 2>/dev/null || log "$name: died during the run"
  stop_entries "$entry"; forget "$entry"
  for f in "$DIR"/*.stderr "$DIR"/*.log; do [ -s "$f" ] && cp "$f" "$RESULTS/$name.$(basename "$f")"; done
}

# ---------------------------------------------------------------- report
report() {
  awk -F'\t' '
    function ratio(a, b) { return (a > 0 && b > 0) ? sprintf("%.2f", a / b) : "-" }
    {
      k = $1 "/" $2; rows[++n] = k; srv[k] = $1; ph[k] = $2
      done_[k] = $4; lost[k] = $5; rt = $6; avg[k] = $7; cpu[k] = $8; p50[k] = $9; p99[k] = $10
      kd[k] = $11; ud[k] = $12
      qps[k] = rt > 0 ? $4 / rt : 0
      util[k] = rt > 0 ? $8 / rt : 0
      core[k] = $8 > 0 ? $4 / $8 : 0
      usq[k] = $4 > 0 ? $8 / $4 * 1e6 : 0
    }
    END {
      fmt = "%-8s %-5s %8s %6s %11s %8s %8s %8s %6s %5s %7s %9s\n"
      printf fmt, "server", "cache", "qps", "lost", "drops s/up", "avg ms", "p50 ms", "p99 ms", "cpu s", "util", "us/q", "qps/core"
      for (i = 1; i <= n; i++) {
        k = rows[i]
        printf fmt, srv[k], ph[k], sprintf("%.0f", qps[k]), lost[k], kd[k] "/" ud[k], avg[k], p50[k], p99[k], cpu[k],
          sprintf("%.0f%%", 100 * util[k]), sprintf("%.2f", usq[k]), sprintf("%.0f", core[k])
      }
      printf "\nlost: no answer within 2 s (dnsperf -t 2); drops s/up: kernel drops in the\n"
      printf "forwarder'"'"'s listening socket / in the sockets to and at the upstream port.\n"
      printf "p50/p99: the fixed-rate run; the rest: the saturation run.\n"
      printf "\ndnsortd / dnsmasq:\n"
      for (i = 1; i <= n; i++) {
        k = rows[i]
        if (srv[k] != "dnsortd") continue
        o = "dnsmasq/" ph[k]
        if (!(o in qps)) continue
        printf "  %-5s qps %s, qps per core %s, CPU per query %s, p99 %s\n", ph[k],
          ratio(qps[k], qps[o]), ratio(core[k], core[o]), ratio(usq[k], usq[o]), ratio(p99[k], p99[o])
      }
    }' "$RESULTS/summary.tsv"
}

# ---------------------------------------------------------------- main
main() {
  start_watchdog "$MAX_SECONDS"
  # shellcheck disable=SC2046  # one word per package
  install_packages $(missing_packages dnsperf=dnsperf dnsmasq=dnsmasq-base unbound=unbound \
    dig=bind9-dnsutils taskset=util-linux)
  need_cpus "$SERVER_CPU" "$CLIENT_CPU"
  default_dnsortd "$TOP/build-fwd-bench"
  make_dirs dnsort-forward
  names "$WARM_NAMES" "warm" > "$WORK/warm.txt"
  cp "$WORK/warm.txt" "$RESULTS/warm.txt"

  {
    machine_info "$@"
    echo "settings: DURATION=$DURATION COLD_NAMES=$COLD_NAMES WARM_NAMES=$WARM_NAMES LAT_DURATION=$LAT_DURATION LAT_QPS=$LAT_QPS DNSPERF_OPTS='$DNSPERF_OPTS' CACHE_SIZE=$CACHE_SIZE SERVERS='$SERVERS'"
    tool_versions dnsperf dnsmasq unbound
    echo "dnsortd: $DNSORTD ($("$DNSORTD" --version 2>/dev/null))"
  } > "$RESULTS/machine.txt"

  # The upstream, shared by both forwarders, on the client's CPU so that
  # the forwarder under test has its CPU to itself.
  DIR="$WORK/unbound"; mkdir -p "$DIR"
  UPSTREAM_PORT=$(free_port); PORT=$UPSTREAM_PORT
  fill "$HERE/peers/forward-unbound.conf" "$DIR/unbound.conf"
  start "$CLIENT_CPU" "$DIR/unbound" unbound -d -c "$DIR/unbound.conf"
  wait_answer "$PID" "$UPSTREAM_PORT" "ready.fwd.bench" || die "unbound did not start (see $DIR)"

  : > "$RESULTS/summary.tsv"
  local name
  for name in $SERVERS; do
    bench_one "$name"
  done

  echo "loadavg at end: $(cat /proc/loadavg)" >> "$RESULTS/machine.txt"
  {
    echo "dnsort forwarding benchmark — $(date -u +%Y-%m-%dT%H:%M:%SZ), $(nproc) CPUs, $(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo), kernel $(uname -r)"
    echo "load average at start / end (other work on the machine): $(sed -n 's/^loadavg at start: //p' "$RESULTS/machine.txt" | cut -d' ' -f1-3) / $(sed -n 's/^loadavg at end: //p' "$RESULTS/machine.txt" | cut -d' ' -f1-3)"
    echo "cold: $COLD_NAMES new names once; warm: $WARM_NAMES cached names for ${DURATION}s; dnsperf $DNSPERF_OPTS"
    echo "latency: ${LAT_DURATION}s at $LAT_QPS q/s per phase (p50/p99); forwarder on CPU $SERVER_CPU, dnsperf and unbound on CPU $CLIENT_CPU"
    echo
    report
  } | tee "$RESULTS/table.txt"
  log "results in $RESULTS"
}

main "$@"
