#!/usr/bin/env bash
# bench/dns.sh — how much CPU does a DNS answer cost in dnsortd, compared
# with the seed's Python server, dnsmasq, unbound, NSD, Knot DNS and a
# recvmmsg/sendmmsg floor (bench/udp_floor.c)?
#
# A benchmark, not a test: nothing runs it automatically. See bench/README.md
# for what the columns mean and how each peer is configured.
#
#   bench/dns.sh                       # everything, about 2-3 minutes
#   DURATION=20 bench/dns.sh           # longer saturation runs
#   SERVERS="dnsortd floor" bench/dns.sh
#
# Environment (defaults in brackets):
#   DURATION       saturation seconds per server, half plain, half EDNS [10]
#   SEED_DURATION  the same for the Python seed, which is slow [4]
#   LAT_DURATION   seconds of the fixed-rate latency run per server [5]
#   LAT_QPS        rate of the latency run, queries/s [1000]
#   DNSPERF_OPTS   dnsperf load options for saturation [-T 2 -c 8 -q 250 -b 4096]
#   SERVERS        which servers, in order [dnsortd seed dnsmasq unbound nsd knot floor]
#   ROUNDS         run the whole list this many times, interleaved, and pool [1]
#   SERVER_CPU / CLIENT_CPU   CPUs for taskset [1 / 0]
#   DNSORTD        dnsortd binary [build-bench/loop/dnsortd, built if missing]
#   DNSORTD_ARGS   extra dnsortd options, e.g. "--rrl-rate 1000000" to
#                  measure what RRL costs a reply without limiting any []
#   RESULTS        results dir [bench/results/dns-YYYYmmdd-HHMMSS]
#   MAX_SECONDS    watchdog: the script ends itself after this long [240*ROUNDS+360]
#   PYTHON         Python 3.11 for the seed [python3]
#
# Every server runs in its own dir under one mktemp -d, on a free 127.0.0.1
# high port, pinned to SERVER_CPU; dnsperf runs pinned to CLIENT_CPU. Only
# the processes this script starts are ever signalled, by PID, and the EXIT
# trap stops all of them (and removes the temp dir) on every exit path.
set -u -o pipefail

# shellcheck source=bench/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

DURATION=${DURATION:-10}
SEED_DURATION=${SEED_DURATION:-4}
LAT_DURATION=${LAT_DURATION:-5}
LAT_QPS=${LAT_QPS:-1000}
DNSPERF_OPTS=${DNSPERF_OPTS:--T 2 -c 8 -q 250 -b 4096}
SERVERS=${SERVERS:-dnsortd seed dnsmasq unbound nsd knot floor}
SERVER_CPU=${SERVER_CPU:-1}
CLIENT_CPU=${CLIENT_CPU:-0}
DNSORTD=${DNSORTD:-}
DNSORTD_ARGS=${DNSORTD_ARGS:-}
RESULTS=${RESULTS:-$HERE/results/dns-$(date +%Y%m%d-%H%M%S)}
ROUNDS=${ROUNDS:-1}
MAX_SECONDS=${MAX_SECONDS:-$((240 * ROUNDS + 360))}
PYTHON=${PYTHON:-python3}

# ---------------------------------------------------------------- helpers
# User, nice and steal clock ticks of one CPU, from /proc/stat: minus the
# server's own user time, that is what other processes (and the hypervisor)
# took from the server's CPU. Kernel time is left out on purpose: softirq
# packet work is charged to whichever task or CPU happens to run it.
cpu_user_steal() {
  awk -v c="cpu$1" '$1 == c { print $2 + $3 + $9; exit }' /proc/stat
}


# ---------------------------------------------------------------- servers
# start_server NAME DIR PORT: starts NAME pinned to SERVER_CPU; sets SRV_PID.
start_server() {
  local name=$1 dir=$2 port=$3 f
  for f in dnsmasq.conf unbound.conf nsd.conf knot.conf root.zone; do
    sed "s|@PORT@|$port|g; s|@DIR@|$dir|g" "$HERE/peers/$f" > "$dir/$f"
  done
  cd "$dir" || die "cd $dir"
  case $name in
    # DNSORTD_ARGS is split into words on purpose.
    # shellcheck disable=SC2086
    dnsortd) taskset -c "$SERVER_CPU" "$DNSORTD" --dns "127.0.0.1:$port" --sort 127.0.0.1:0 \
               $DNSORTD_ARGS > "$dir/stdout" 2> "$dir/stderr" & ;;
    # The seed prints two lines per query; they go to /dev/null.
    seed)    taskset -c "$SERVER_CPU" "$PYTHON" "$HERE/seed_dns.py" "$port" \
               > /dev/null 2> "$dir/stderr" & ;;
    dnsmasq) taskset -c "$SERVER_CPU" dnsmasq -k -C "$dir/dnsmasq.conf" \
               > "$dir/stdout" 2> "$dir/stderr" & ;;
    unbound) taskset -c "$SERVER_CPU" unbound -d -c "$dir/unbound.conf" \
               > "$dir/stdout" 2> "$dir/stderr" & ;;
    nsd)     taskset -c "$SERVER_CPU" nsd -d -c "$dir/nsd.conf" \
               > "$dir/stdout" 2> "$dir/stderr" & ;;
    knot)    taskset -c "$SERVER_CPU" knotd -c "$dir/knot.conf" \
               > "$dir/stdout" 2> "$dir/stderr" & ;;
    floor)   taskset -c "$SERVER_CPU" "$WORK/udp_floor" "$port" \
               > "$dir/stdout" 2> "$dir/stderr" & ;;
    *) die "unknown server $name" ;;
  esac
  # taskset execs the server, so $! is the server's own PID.
  SRV_PID=$!
  cd "$HERE" || true
  record "$SRV_PID"
}

# Ready when facebook.com A is answered with an address (10 s max; the
# floor answers 127.0.0.1, the others the seed's 173.252.120.6: see the
# .sanity.txt files). Without EDNS: the seed copies a query's OPT record
# into its answer, which dig cannot parse.
wait_ready() {
  local pid=$1 port=$2
  for _ in $(seq 40); do
    kill -0 "$pid" 2>/dev/null || return 1
    dig @127.0.0.1 -p "$port" +tries=1 +time=1 +noedns +short facebook.com A 2>/dev/null \
      | grep -qE '^[0-9]+(\.[0-9]+){3}$' && return 0
    sleep 0.25
  done
  return 1
}

# What each server says to a few probes (plain, then EDNS), kept with the
# results: a quick check that every peer serves the same data.
sanity() {
  local port=$1 q e
  for q in "facebook.com A" "FaceBook.COM A" "www.debian.org A" "wipo.int AAAA"; do
    for e in +noedns +edns=0; do
      echo "### dig $e $q"
      # shellcheck disable=SC2086
      dig @127.0.0.1 -p "$port" +tries=1 +time=1 $e +nocmd +nostats $q 2>&1
    done
  done
}

# ---------------------------------------------------------------- load
# dnsperf OUT PORT SECONDS [options...]: one dnsperf run pinned to CLIENT_CPU.
dnsperf_run() {
  local out=$1 port=$2 secs=$3; shift 3
  # -t 1: an answer later than 1 s counts as lost (and bounds the tail).
  timeout $((${secs%.*} + 20)) taskset -c "$CLIENT_CPU" \
    dnsperf -s 127.0.0.1 -p "$port" -d "$RESULTS/queries.txt" -l "$secs" -t 1 "$@" > "$out" 2>&1
}

# bench_one NAME ROUND: start, check, saturate (plain half + EDNS half),
# measure CPU, then the fixed-rate latency run, then stop. Appends one row of
# raw sums to summary.tsv; report() turns the rows into the table.
bench_one() {
  local name=$1 round=$2 dir port secs half lhalf f out
  dir="$WORK/$name.r$round"; mkdir -p "$dir"
  out="$RESULTS/$name.r$round"
  port=$(free_port)
  secs=$DURATION; [ "$name" = seed ] && secs=$SEED_DURATION
  half=$(awk -v s="$secs" 'BEGIN { printf "%g", s / 2 }')
  lhalf=$(awk -v s="$LAT_DURATION" 'BEGIN { printf "%g", s / 2 }')

  log "$name (round $round): starting on 127.0.0.1:$port"
  start_server "$name" "$dir" "$port"
  if ! wait_ready "$SRV_PID" "$port"; then
    log "$name: did not answer within 10 s; skipped (see $out.stderr)"
    cp "$dir/stderr" "$out.stderr" 2>/dev/null
    stop_recorded
    printf '%s\t%s\tFAILED\n' "$name" "$round" >> "$RESULTS/summary.tsv"
    return
  fi
  record_tree "$SRV_PID"
  # Pin every thread again: knotd sets its own thread affinity, and with
  # udp-workers: 1 one of its threads ends up on CPU 0, the client's.
  pin_tree "$SRV_PID" "$SERVER_CPU"
  sanity "$port" > "$out.sanity.txt" 2>&1

  # Saturation: the same query file, plain for the first half of the time,
  # EDNS (-e, OPT with a 4096-byte payload) for the second half.
  log "$name: saturation, ${half}s plain + ${half}s EDNS ($DNSPERF_OPTS)"
  local t0 t1 d0 d1 b0 b1 w0 w1 c0 c1 cu0 cu1
  w0=$(date +%s.%N)
  child_ticks user > "$WORK/cu0"
  t0=$(tree_cpu "$SRV_PID"); d0=$(udp_drops "$port"); b0=$(cpu_user_steal "$SERVER_CPU")
  c0=$(cpu_user_steal "$CLIENT_CPU")
  # shellcheck disable=SC2086
  dnsperf_run "$out.sat-plain.txt" "$port" "$half" $DNSPERF_OPTS
  # shellcheck disable=SC2086
  dnsperf_run "$out.sat-edns.txt" "$port" "$half" $DNSPERF_OPTS -e
  record_tree "$SRV_PID"
  t1=$(tree_cpu "$SRV_PID"); d1=$(udp_drops "$port"); b1=$(cpu_user_steal "$SERVER_CPU")
  c1=$(cpu_user_steal "$CLIENT_CPU")
  child_ticks user > "$WORK/cu1"
  cu0=$(cat "$WORK/cu0"); cu1=$(cat "$WORK/cu1")
  w1=$(date +%s.%N)
  {
    printf 'server ticks (utime stime) %s -> %s\n' "$t0" "$t1"
    printf 'cpu%s user+nice+steal ticks %s -> %s\nwall %s -> %s\n' "$SERVER_CPU" "$b0" "$b1" "$w0" "$w1"
    printf 'client cpu%s user+nice+steal ticks %s -> %s, dnsperf utime ticks %s -> %s\n' \
      "$CLIENT_CPU" "$c0" "$c1" "$cu0" "$cu1"
    local task
    for task in $(tree_pids "$SRV_PID" | sed 's|.*|/proc/&/task/*|'); do
      printf '%s %s %s\n' "${task#/proc/}" "$(cat "$task/comm" 2>/dev/null)" \
        "$(grep Cpus_allowed_list "$task/status" 2>/dev/null | tr -d '\t')"
    done
  } > "$out.cpu.txt"

  # Latency at a fixed, low rate; -v prints every answer's latency.
  log "$name: latency, ${lhalf}s plain + ${lhalf}s EDNS at $LAT_QPS q/s"
  dnsperf_run "$out.lat-plain.txt" "$port" "$lhalf" -Q "$LAT_QPS" -v
  dnsperf_run "$out.lat-edns.txt" "$port" "$lhalf" -Q "$LAT_QPS" -v -e

  local alive=yes
  kill -0 "$SRV_PID" 2>/dev/null || alive=no
  stop_recorded
  for f in stdout stderr dnsmasq.log unbound.log nsd.log knot.log; do
    [ -s "$dir/$f" ] && cp "$dir/$f" "$out.$f"
  done
  [ $alive = no ] && log "$name: the server died during the run"

  local sent=0 done_=0 lost=0 rt=0 latsum=0 codes="" llost=0 v
  for f in "$out.sat-plain.txt" "$out.sat-edns.txt"; do
    v=$(stat_of "$f" "Queries sent"); sent=$((sent + ${v:-0}))
    v=$(stat_of "$f" "Queries lost"); lost=$((lost + ${v:-0}))
    v=$(stat_of "$f" "Run time (s)"); rt=$(awk -v x="$rt" -v y="${v:-0}" 'BEGIN { print x + y }')
    local c a
    c=$(stat_of "$f" "Queries completed"); done_=$((done_ + ${c:-0}))
    a=$(stat_of "$f" "Average Latency (s)")
    latsum=$(awk -v x="$latsum" -v a="${a:-0}" -v c="${c:-0}" 'BEGIN { print x + a * c }')
    codes+="$(grep -m1 'Response codes:' "$f" | sed 's/.*codes:[[:space:]]*//') ; "
  done
  for f in "$out.lat-plain.txt" "$out.lat-edns.txt"; do
    v=$(stat_of "$f" "Queries lost"); llost=$((llost + ${v:-0}))
  done
  # Raw sums, so that rounds can be pooled: name round sent done lost kdrops
  # runtime_s latency_sum_s server_ticks other_ticks window_s lat_lost alive
  # codes client_other_ticks. other_ticks: user+nice+steal on the server's
  # CPU minus the server's own user time, i.e. what other processes or the
  # hypervisor took; client_other_ticks: the same on the client's CPU.
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' \
    "$name" "$round" "$sent" "$done_" "$lost" "$((d1 - d0))" "$rt" "$latsum" \
    "$(( ${t1% *} + ${t1#* } - ${t0% *} - ${t0#* } ))" \
    "$(( b1 - b0 - (${t1% *} - ${t0% *}) ))" \
    "$(awk -v a="$w0" -v b="$w1" 'BEGIN { print b - a }')" \
    "$llost" "$alive" "$codes" "$(( c1 - c0 - (cu1 - cu0) ))" >> "$RESULTS/summary.tsv"
}

# ---------------------------------------------------------------- report
report() {
  local name
  for name in $SERVERS; do
    # p50 and p99 in ms over every answer of the fixed-rate runs, all rounds.
    printf '%s\t%s\n' "$name" "$(dnsperf_percentiles "$RESULTS/$name".r*.lat-*.txt)"
  done > "$RESULTS/percentiles.tsv"
  awk -F'\t' -v tck="$TCK" -v latqps="$LAT_QPS" -v rounds="$ROUNDS" '
    function r(a, b) { return (a > 0 && b > 0) ? sprintf("%.2f", a / b) : "-" }
    # Share of a window, in %; tick sampling can make a near-zero one negative.
    function pct(t, w) { return sprintf("%.0f%%", (w > 0 && t > 0) ? 100 * t / tck / w : 0) }
    NR == FNR { p50[$1] = $2; p99[$1] = $3; next }
    $3 == "FAILED" { failed[$1]++; if (!($1 in seen)) { seen[$1] = 1; order[++n] = $1 }; next }
    {
      k = $1
      if (!(k in seen)) { seen[k] = 1; order[++n] = k }
      ok[k]++; sent[k] += $3; done_[k] += $4; lost[k] += $5; kd[k] += $6
      rt[k] += $7; latsum[k] += $8; ticks[k] += $9; oticks[k] += $10; win[k] += $11; cticks[k] += $15
      llost[k] += $12; if ($13 != "yes") died[k]++
      c = $14; gsub(/NOERROR [0-9]+ \(100\.00%\) ; /, "", c); if (c != "") odd[k] = odd[k] $14
      pc = $9 > 0 ? $4 / ($9 / tck) : 0
      if (!(k in lo) || pc < lo[k]) lo[k] = pc
      if (!(k in hi) || pc > hi[k]) hi[k] = pc
    }
    END {
      for (i = 1; i <= n; i++) {
        k = order[i]
        qps[k] = rt[k] > 0 ? done_[k] / rt[k] : 0
        cpu[k] = ticks[k] / tck
        # qps per fully used core = qps / utilisation = answers per CPU second
        core[k] = cpu[k] > 0 ? done_[k] / cpu[k] : 0
      }
      ref = ("dnsortd" in ok) ? "dnsortd" : ""
      fmt = "%-8s %7s %13s %6s %6s %6s %6s %6s %5s %5s %5s %8s %13s %5s %6s\n"
      printf fmt, "server", "qps", "lost (%)", "kdrops", "avg ms", "p50 ms", "p99 ms", "cpu s", "util",
        "other", "cl.ot", "qps/core", "q/core range", "d/qps", "d/core"
      for (i = 1; i <= n; i++) {
        k = order[i]
        if (!(k in ok)) continue
        # (printf with parentheses: a bare ">" in its arguments would redirect)
        range = ok[k] > 1 ? sprintf("%.0f-%.0f", lo[k], hi[k]) : "-"
        printf(fmt, k, sprintf("%.0f", qps[k]),
          sprintf("%d (%.2f)", lost[k], sent[k] ? 100 * lost[k] / sent[k] : 0), kd[k],
          sprintf("%.3f", done_[k] ? latsum[k] / done_[k] * 1000 : 0), p50[k], p99[k],
          sprintf("%.2f", cpu[k]), sprintf("%.0f%%", rt[k] ? 100 * cpu[k] / rt[k] : 0),
          pct(oticks[k], win[k]), pct(cticks[k], win[k]),
          sprintf("%.0f", core[k]), range,
          ref ? r(qps[ref], qps[k]) : "-", ref ? r(core[ref], core[k]) : "-")
        if (llost[k] > 0) note = note sprintf("  %s lost %d queries in the %s q/s latency runs\n", k, llost[k], latqps)
        if (died[k]) note = note sprintf("  %s died during %d run(s)\n", k, died[k])
        if (odd[k] != "") note = note sprintf("  %s answered other than NOERROR: %s\n", k, odd[k])
      }
      for (k in failed) note = note sprintf("  %s failed to start %d time(s) (see its .stderr)\n", k, failed[k])
      printf "\n"
      if (rounds > 1) printf "%d rounds, pooled: totals of all rounds; q/core range: the rounds apart.\n", rounds
      printf "qps, lost, kdrops (drops at the server socket), avg ms, cpu s, util, other: saturation runs;\n"
      printf "p50/p99 ms: fixed-rate runs. other, cl.ot: server / client CPU taken by other processes or steal.\n"
      printf "qps/core = answers per server CPU second. d/qps, d/core: dnsortd / that row.\n"
      if (note != "") printf "\n%s", note
    }' "$RESULTS/percentiles.tsv" "$RESULTS/summary.tsv"
}

# ---------------------------------------------------------------- main
main() {
  local started_at=$SECONDS
  start_watchdog "$MAX_SECONDS"
  # shellcheck disable=SC2046  # one word per package
  install_packages $(missing_packages dnsperf=dnsperf dnsmasq=dnsmasq-base unbound=unbound \
    nsd=nsd knotd=knot dig=bind9-dnsutils cc=gcc python3=python3 taskset=util-linux)
  need_cpus "$SERVER_CPU" "$CLIENT_CPU"
  default_dnsortd "$TOP/build-bench"
  PYTHON=$(python_exe "$PYTHON") || exit 1
  make_dirs dnsort-bench
  if [[ " $SERVERS " == *" floor "* ]]; then
    cc -O2 -Wall -o "$WORK/udp_floor" "$HERE/udp_floor.c" || die "cannot build udp_floor"
  fi

  # The query mix, in the order dnsperf sends it (it loops over the file):
  # 40 queries, of which 12 seed names in lower case, 6 seed names in mixed
  # case, 16 other names (2 in mixed case) that every server answers with
  # 127.0.0.1, and 6 AAAA (NODATA everywhere but the seed and the floor).
  # No names under the three seed names and none under a special-use TLD
  # (.test, .invalid, .localhost: unbound answers those itself).
  cat > "$RESULTS/queries.txt" <<'EOF'
facebook.com A
yougov.com A
wipo.int A
www.debian.org A
FaceBook.com A
unknown.example.com A
facebook.com AAAA
yougov.com A
mail.example.net A
a.b.c.d.e.f.example.net A
WIPO.INT A
wipo.int A
x1.dnsort-bench.org A
facebook.com A
www.debian.org AAAA
YouGov.Com A
cdn.static-assets.example.org A
yougov.com A
WWW.Debian.ORG A
wipo.int A
x2.dnsort-bench.org A
wipo.int AAAA
facebook.com A
very-long-label-to-make-the-question-a-little-longer-than-usual.example.com A
fAcEbOoK.cOm A
x3.dnsort-bench.org A
yougov.com A
unknown.example.com AAAA
ns1.example.net A
wipo.int A
Mail.Example.NET A
facebook.com A
yougov.com AAAA
api.service.internal.example.com A
WiPo.InT A
x4.dnsort-bench.org A
yougov.com A
x5.dnsort-bench.org AAAA
printer.office.example.org A
facebook.com A
EOF

  {
    machine_info "$@"
    echo "settings: DURATION=$DURATION SEED_DURATION=$SEED_DURATION LAT_DURATION=$LAT_DURATION LAT_QPS=$LAT_QPS DNSPERF_OPTS='$DNSPERF_OPTS' SERVERS='$SERVERS' ROUNDS=$ROUNDS"
    tool_versions dnsperf dnsmasq unbound nsd knotd
    echo "python: $PYTHON, $("$PYTHON" -V 2>&1)"
    echo "dnsortd: $DNSORTD"
    echo "dnsortd options: ${DNSORTD_ARGS:-(none)}"
  } > "$RESULTS/machine.txt"

  : > "$RESULTS/summary.tsv"
  local name round
  for round in $(seq "$ROUNDS"); do
    for name in $SERVERS; do
      bench_one "$name" "$round"
    done
  done

  {
    echo "dnsort DNS benchmark — $(date -u +%Y-%m-%dT%H:%M:%SZ), $(nproc) CPUs, $(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo), kernel $(uname -r)"
    echo "saturation: ${DURATION}s per server (seed ${SEED_DURATION}s) per round, $ROUNDS round(s), half plain + half EDNS, dnsperf $DNSPERF_OPTS"
    echo "latency: ${LAT_DURATION}s per server at $LAT_QPS q/s (p50/p99); server on CPU $SERVER_CPU, dnsperf on CPU $CLIENT_CPU"
    echo
    report
  } | tee "$RESULTS/table.txt"
  echo
  echo "raw dnsperf outputs, server logs and probes: $RESULTS"
  log "done in $((SECONDS - started_at)) s"
}

main "$@"
