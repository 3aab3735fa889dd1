# shellcheck shell=bash
# bench/lib.sh — what the benchmark scripts share. Sourced, not run:
#
#   . "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
#
# It sets HERE (bench/), TOP (the source tree) and the log prefix (the
# script's name), and the EXIT/INT/TERM traps that stop, by PID, every
# process the script recorded (and only those), remove WORK and end the
# watchdog.
# Everything here talks to 127.0.0.1 only and reads /proc; nothing is
# signalled by name.

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
TOP=$(dirname "$HERE")
BENCH_NAME=${BENCH_NAME:-$(basename "$0")}
BENCH_LOG_FD=${BENCH_LOG_FD:-2}   # scale.sh logs to a copy of stderr (fd 3)
PATH=$PATH:/usr/sbin:/sbin         # dnsmasq, unbound, nsd, knotd live there
TCK=$(getconf CLK_TCK)
NCPU=$(nproc)

log() { printf '[%s %s] %s\n' "$BENCH_NAME" "$(date +%T)" "$*" >&"$BENCH_LOG_FD"; }
die() { log "error: $*"; exit 1; }

# ---------------------------------------------------------------- processes
# A process is named by PID and start time (field 22 of /proc/PID/stat),
# which exec does not change and a reused PID would: a recorded process is
# signalled only while it is still the one we started. Zombies count as gone.
WORK=""
WATCHDOG_PID=""
POLICY_RC_CREATED=0
declare -a STARTED=()   # "pid starttime" of every process recorded

start_time() {
  awk '{ s = $0; sub(/^.*\) /, "", s); split(s, a, " "); print (a[1] == "Z" ? "" : a[20]) }' \
    "/proc/$1/stat" 2>/dev/null
}
alive_as() {   # PID STARTTIME
  local st
  st=$(start_time "$1") || return 1
  [ -n "$st" ] && [ "$st" = "$2" ]
}

# PID and all its descendants, one per line. Through cat: a process may end
# between the glob and the read, and mawk gives up on a missing file.
tree_pids() {
  cat /proc/[0-9]*/stat 2>/dev/null | awk -v root="$1" '
    { s = $0; pid = $1; sub(/^.*\) /, "", s); split(s, a, " "); parent[pid] = a[2]; all[pid] = 1 }
    END { want[root] = 1; changed = 1
          while (changed) { changed = 0
            for (p in all) if (!(p in want) && (parent[p] in want)) { want[p] = 1; changed = 1 } }
          for (p in want) if (p in all) print p }'
}

# record PID: one process; record_tree PID: it and every descendant now
# (servers that fork workers: NSD, the Python original's pool).
record() {
  local st
  st=$(start_time "$1")
  [ -n "$st" ] || return 0
  case " ${STARTED[*]+"${STARTED[*]}"} " in *" $1 $st "*) ;; *) STARTED+=("$1 $st") ;; esac
}
record_tree() { local p; for p in $(tree_pids "$1"); do record "$p"; done; }
# The entry ("pid starttime") recorded last.
last_recorded() { echo "${STARTED[${#STARTED[@]}-1]}"; }

# stop_entries "pid starttime"...: TERM, up to 5 s, then KILL; reaps those
# that are our children (waiting on others is a no-op).
stop_entries() {
  local e any
  for e in "$@"; do alive_as "${e%% *}" "${e#* }" && kill -TERM "${e%% *}" 2>/dev/null; done
  for _ in $(seq 50); do
    any=0
    for e in "$@"; do alive_as "${e%% *}" "${e#* }" && any=1; done
    [ $any = 0 ] && break
    sleep 0.1
  done
  for e in "$@"; do
    if alive_as "${e%% *}" "${e#* }"; then
      log "pid ${e%% *} ($(cat "/proc/${e%% *}/comm" 2>/dev/null)) ignored SIGTERM for 5 s: SIGKILL"
      kill -KILL "${e%% *}" 2>/dev/null
    fi
  done
  for e in "$@"; do wait "${e%% *}" 2>/dev/null; done
}
# forget "pid starttime"...: drop entries that stop_entries has stopped.
forget() {
  local keep=() e x drop
  for e in "${STARTED[@]+"${STARTED[@]}"}"; do
    drop=0
    for x in "$@"; do [ "$e" = "$x" ] && drop=1; done
    [ $drop = 0 ] && keep+=("$e")
  done
  STARTED=("${keep[@]+"${keep[@]}"}")
}
stop_recorded() { stop_entries "${STARTED[@]+"${STARTED[@]}"}"; STARTED=(); }

bench_cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  if [ -n "$WATCHDOG_PID" ]; then kill "$WATCHDOG_PID" 2>/dev/null; wait "$WATCHDOG_PID" 2>/dev/null; fi
  stop_recorded
  [ "$POLICY_RC_CREATED" = 1 ] && rm -f /usr/sbin/policy-rc.d
  [ -n "$WORK" ] && rm -rf "$WORK"
  exit $rc
}
trap bench_cleanup EXIT
trap 'log "interrupted"; exit 130' INT
trap 'log "terminated (watchdog or signal)"; exit 143' TERM

# start_watchdog SECONDS: TERMs this script after SECONDS (the TERM trap
# then cleans up). Its sleep is killed with it, and it holds none of our
# output pipes or fd 3.
start_watchdog() {
  ( sp=""; trap '[ -n "$sp" ] && kill "$sp" 2>/dev/null; exit 0' TERM
    sleep "$1" & sp=$!; wait "$sp" && kill -TERM $$ 2>/dev/null ) > /dev/null 2>&1 < /dev/null 3>&- &
  WATCHDOG_PID=$!
}

# make_dirs TAG: RESULTS (kept) and WORK, a fresh /tmp/TAG.XXXXXX removed
# at exit.
make_dirs() {
  mkdir -p "$RESULTS" || die "cannot create $RESULTS"
  WORK=$(mktemp -d "/tmp/$1.XXXXXX") || die "mktemp failed"
  chmod 755 "$WORK"
}

# ---------------------------------------------------------------- set-up
# missing_packages CMD=PACKAGE...: the packages of the commands not found.
missing_packages() {
  local e
  for e in "$@"; do command -v "${e%%=*}" >/dev/null 2>&1 || echo "${e#*=}"; done
}
# install_packages PACKAGE...: apt-get install (root only; nothing to do
# when called without packages). Peers ship a service their postinst would
# start on port 53 or 80: a policy-rc.d that says no (101) refuses it, and
# is removed again at once (and by the EXIT trap) if we created it.
install_packages() {
  [ $# = 0 ] && return 0
  [ "$(id -u)" = 0 ] || die "missing packages ($*) and not root"
  log "installing $*"
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod 755 /usr/sbin/policy-rc.d
    POLICY_RC_CREATED=1
  fi
  export DEBIAN_FRONTEND=noninteractive
  timeout 300 apt-get install -y -q --no-install-recommends "$@" >&2 \
    || { timeout 120 apt-get update -q >&2 &&
         timeout 300 apt-get install -y -q --no-install-recommends "$@" >&2; } \
    || die "apt-get install $* failed"
  if [ "$POLICY_RC_CREATED" = 1 ]; then rm -f /usr/sbin/policy-rc.d; POLICY_RC_CREATED=0; fi
}

# build_bench DIR TARGET...: a release build of the current source in DIR
# (configured once, without tests), then ninja TARGETs; output on stderr.
build_bench() {
  local dir=$1; shift
  if [ ! -f "$dir/build.ninja" ]; then
    timeout 300 meson setup "$dir" "$TOP" --buildtype=release -Dtests=false >&2 || return 1
  fi
  timeout 600 ninja -C "$dir" "$@" >&2
}

# default_dnsortd DIR: unless DNSORTD is set, DIR's dnsortd, brought up to
# date with the current source when SERVERS names dnsortd.
default_dnsortd() {
  [ -n "${DNSORTD:-}" ] && return 0
  DNSORTD=$1/loop/dnsortd
  [[ " $SERVERS " == *" dnsortd "* ]] || return 0
  log "building dnsortd in ${1##*/} (release)"
  build_bench "$1" loop/dnsortd || die "building dnsortd failed"
}

# need_cpus CPU...: the CPUs that taskset will be given exist.
need_cpus() {
  local c
  for c in "$@"; do [ "$c" -lt "$NCPU" ] || die "need CPU $c (nproc=$NCPU)"; done
}

# python_exe PYTHON: the interpreter itself (not a wrapper such as a pyenv
# shim, whose PID would not be the server's), Python >= 3.8.
python_exe() {
  "$1" -c 'import sys; assert sys.version_info >= (3, 8); print(sys.executable)' \
    || die "$1 is not a usable Python 3"
}

# The lines every results/machine.txt starts with.
machine_info() {
  echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
  echo "command: $0 $*"
  echo "nproc: $NCPU"
  echo "cpu: $(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)"
  echo "kernel: $(uname -srm)"
  echo "clk_tck: $TCK"
  echo "loadavg at start: $(cat /proc/loadavg)"
}

# tool_versions TOOL...: one "tool: version" line each, for machine.txt.
tool_versions() {
  local t
  for t in "$@"; do
    case $t in
      dnsperf) echo "dnsperf: $(dnsperf -h 2>&1 | awk '/^Version/ { print $2; exit }')" ;;
      dnsmasq) echo "dnsmasq: $(dnsmasq -v 2>/dev/null | awk 'NR == 1 { print $3 }')" ;;
      unbound) echo "unbound: $(unbound -V 2>/dev/null | awk '/^Version/ { print $2 }')" ;;
      nsd)     echo "nsd: $(nsd -v 2>&1 | awk 'NR == 1 { print $3 }')" ;;
      knotd)   echo "knotd: $(knotd -V 2>&1 | awk '{ print $NF }')" ;;
      dnsdist) echo "dnsdist: $(dnsdist --version 2>&1 | head -1)" ;;
      haproxy) echo "haproxy: $(haproxy -v 2>&1 | head -1)" ;;
      *)       echo "$t: $("$t" --version 2>&1 | head -1)" ;;
    esac
  done
}

# ---------------------------------------------------------------- ports
# A 127.0.0.1 port free for UDP and TCP (v4 and v6 tables) right now.
free_port() {
  local p hex
  for _ in $(seq 100); do
    p=$((20000 + RANDOM % 40000)); hex=$(printf ':%04X ' "$p")
    cat /proc/net/udp /proc/net/tcp /proc/net/udp6 /proc/net/tcp6 2>/dev/null \
      | awk '{ print $2 " " }' | grep -qF "$hex" || { echo "$p"; return 0; }
  done
  die "no free port found"
}
tcp_listening() {   # PORT: is something listening on 127.0.0.1:PORT?
  local hex; hex=$(printf '0100007F:%04X' "$1")
  awk -v a="$hex" '$2 == a && $4 == "0A" { f = 1 } END { exit !f }' /proc/net/tcp
}
wait_line() {   # FILE REGEX PID: wait up to 10 s for REGEX in FILE while PID lives
  for _ in $(seq 100); do
    grep -qE "$2" "$1" 2>/dev/null && return 0
    kill -0 "$3" 2>/dev/null || return 1
    sleep 0.1
  done
  return 1
}
# Kernel receive-queue drops (the last column of /proc/net/udp) of the UDP
# sockets bound to 127.0.0.1:PORT; with "peer", also of those connected to
# it (a forwarder's sockets towards its upstream).
udp_drops() {
  awk -v a="$(printf '0100007F:%04X' "$1")" -v peer="${2:-}" \
    '$2 == a || (peer != "" && $3 == a) { d += $NF } END { print d + 0 }' /proc/net/udp
}

# ---------------------------------------------------------------- CPU time
# All in clock ticks (TCK per second), from /proc.
pid_ticks() {   # PID: utime+stime of one process, threads included; 0 once gone
  awk '{ s = $0; sub(/^.*\) /, "", s); split(s, a, " "); print a[12] + a[13] }' "/proc/$1/stat" 2>/dev/null || echo 0
}
tree_cpu() {    # PID: "utime stime" summed over PID and its descendants
  local p t u=0 s=0
  for p in $(tree_pids "$1"); do
    t=$(awk '{ s = $0; sub(/^.*\) /, "", s); split(s, a, " "); print a[12], a[13] }' "/proc/$p/stat" 2>/dev/null) || continue
    [ -n "$t" ] || continue
    u=$((u + ${t% *})); s=$((s + ${t#* }))
  done
  echo "$u $s"
}
tree_ticks() { local t; t=$(tree_cpu "$1"); echo $((${t% *} + ${t#* })); }
# Busy ticks of all CPUs: user nice system irq softirq steal.
machine_busy_ticks() { awk '/^cpu / { print $2 + $3 + $4 + $7 + $8 + $9; exit }' /proc/stat; }
# This shell's reaped children's user+system ticks (with "user": user only).
# bash's `times` must run in this shell, not in a $(...) subshell, whose
# children's times are zero: so through a file under WORK.
child_ticks() {
  times > "$WORK/times"
  awk -v tck="$TCK" -v only="${1:-}" 'NR == 2 { s = 0
      for (i = 1; i <= (only == "user" ? 1 : 2); i++) { m = $i; sub(/s$/, "", m); split(m, b, "m"); s += b[1] * 60 + b[2] }
      printf "%d\n", s * tck + 0.5 }' "$WORK/times"
}

# pin_tree PID CPUS: the CPU affinity of every thread of every process in
# PID's tree (servers that set their own, such as knotd, are pinned again).
pin_tree() { local p; for p in $(tree_pids "$1"); do taskset -a -p -c "$2" "$p" >/dev/null 2>&1; done; }

# The machine is shared: wait (boundedly) until at most QUIET_PCT % of all
# CPUs is busy over half a second: at most QUIET_WAIT s per call and
# QUIET_BUDGET s in all (unset: no total bound); each script sets and
# documents its defaults. QUIET_LAST is what it saw last.
QUIET_SPENT=0
QUIET_LAST=0
wait_quiet() {
  local t0=$SECONDS b0 b1 i0 i1
  while :; do
    read -r b0 i0 < <(awk '/^cpu / { print $2 + $3 + $4 + $7 + $8 + $9, $5 + $6; exit }' /proc/stat)
    sleep 0.5
    read -r b1 i1 < <(awk '/^cpu / { print $2 + $3 + $4 + $7 + $8 + $9, $5 + $6; exit }' /proc/stat)
    QUIET_LAST=$((100 * (b1 - b0) / (b1 - b0 + i1 - i0 + 1)))
    [ "$QUIET_LAST" -le "${QUIET_PCT:-15}" ] && break
    if [ $((SECONDS - t0)) -ge "${QUIET_WAIT:-5}" ] ||
       { [ -n "${QUIET_BUDGET:-}" ] && [ $((QUIET_SPENT + SECONDS - t0)) -ge "$QUIET_BUDGET" ]; }; then
      log "machine still ${QUIET_LAST}% busy (neighbours): running anyway"; break
    fi
  done
  QUIET_SPENT=$((QUIET_SPENT + SECONDS - t0))
}

# ---------------------------------------------------------------- servers
# start_dnsortd PREFIX ARG...: DNSORTD with ARGs, its output in
# PREFIXstdout and PREFIXstderr; waits for its listening line and sets
# DNSORTD_PID, DNSORTD_DNS and DNSORTD_SORT (ADDR:PORT of each service).
start_dnsortd() {
  local prefix=$1; shift
  "$DNSORTD" "$@" > "${prefix}stdout" 2> "${prefix}stderr" &
  DNSORTD_PID=$!
  record "$DNSORTD_PID"
  wait_line "${prefix}stdout" '^dnsortd listening' "$DNSORTD_PID" || return 1
  DNSORTD_DNS=$(sed -n 's|.*dns=udp://\([^ ]*\).*|\1|p' "${prefix}stdout")
  DNSORTD_SORT=$(sed -n 's|.*sort=tcp://\([^ ]*\).*|\1|p' "${prefix}stdout")
}

# start_seed_sort PREFIX: the seed's Python original (bench/seed_sort.py,
# PYEXE) on two free ports, stderr in PREFIXstderr (it prints lines per
# request on stdout: /dev/null). Sets SEED_PID, SEED_SORT_PORT and
# SEED_DNS_PORT once it listens, then spends one throw-away request: the
# original forks its ProcessPoolExecutor at the first request, and the
# workers inherit every socket open at that moment, so that connection gets
# its reply but never EOF (faithful to the seed's fork start method).
start_seed_sort() {
  local prefix=$1
  SEED_SORT_PORT=$(free_port); SEED_DNS_PORT=$(free_port)
  while [ "$SEED_DNS_PORT" = "$SEED_SORT_PORT" ]; do SEED_DNS_PORT=$(free_port); done
  "$PYEXE" "$HERE/seed_sort.py" "$SEED_SORT_PORT" "$SEED_DNS_PORT" > /dev/null 2> "${prefix}stderr" &
  SEED_PID=$!
  record "$SEED_PID"
  for _ in $(seq 100); do
    tcp_listening "$SEED_SORT_PORT" && break
    kill -0 "$SEED_PID" 2>/dev/null || break
    sleep 0.1
  done
  tcp_listening "$SEED_SORT_PORT" || return 1
  "$LOAD" sort --sort-server "127.0.0.1:$SEED_SORT_PORT" --size 10 --requests 1 --timeout 2 \
    > "${prefix}warmup.txt" 2>&1
  record_tree "$SEED_PID"
}

# ---------------------------------------------------------------- dnsperf
# stat_of FILE LABEL: the first number after "LABEL:" in a dnsperf report
# (no regex: labels have parentheses).
stat_of() {
  awk -v l="$2:" '{ i = index($0, l) } i { s = substr($0, i + length(l)); sub(/^[ \t]+/, "", s); print s + 0; exit }' "$1"
}
# dnsperf_percentiles FILE...: "p50<TAB>p99" in ms over every answer of
# dnsperf -v runs ("> RCODE name type seconds" lines); "-<TAB>-" without any.
dnsperf_percentiles() {
  cat "$@" 2>/dev/null \
    | awk '/^> / && NF >= 5 && $NF ~ /^[0-9.]+$/ { print $NF * 1000 }' | sort -g \
    | awk '{ v[NR] = $1 } END {
             if (NR == 0) { print "-\t-"; exit }
             i50 = int(NR * 0.50 + 0.999); i99 = int(NR * 0.99 + 0.999)
             printf "%.3f\t%.3f\n", v[i50], v[i99] }'
}
