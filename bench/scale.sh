#!/usr/bin/env bash
# bench/scale.sh — dnsortd beyond one process, on loopback:
#
#   direct1   1 dnsortd, clients straight at it
#   reuse2    2 dnsortd with --reuseport on the same ports (the kernel spreads
#             UDP flows and TCP connections)
#   lb2       2 dnsortd behind dnsdist (DNS) and HAProxy (sort), running
#             docker/scale/dnsdist.conf and docker/scale/haproxy.cfg
#   lb1       1 dnsortd behind the same balancers (what the balancer costs)
#
# DNS throughput with dnsperf (saturation), DNS p99 with dnsort-load at a
# fixed rate, sort with dnsort-load (size 1000, concurrency 16). For every
# run: CPU seconds of each process (/proc/PID/stat), of the client, and of
# the rest of the machine (/proc/stat). Then the failure drills: load through
# the balancers while one backend gets SIGTERM (drain) or SIGKILL. See
# bench/README.md, "Scale-out", for the figures and what they mean.
#
#   bench/scale.sh              # everything, 3-4 minutes
#   bench/scale.sh --check      # only check the configs (haproxy -c, dnsdist
#                               # --check-config, compose.yaml parsed)
#   ROUNDS=2 SCENARIOS="direct1 reuse2" DRILLS="" bench/scale.sh
#
# Environment (defaults in brackets):
#   SCENARIOS      which set-ups to measure [direct1 reuse2 lb2 lb1]
#   ROUNDS         repeat the scenarios, interleaved; tables give the mean
#                  and the range [2]
#   DNS_DURATION   dnsperf seconds per scenario [4]
#   DNSPERF_OPTS   [-T 2 -c 8 -q 250 -b 4096 -t 1]
#   LAT_QPS        fixed rate of the DNS latency run [10000]
#   LAT_DURATION   its seconds [3]
#   SORT_DURATION  seconds of the sort run [4]
#   SORT_SIZE      numbers per sort request [1000]
#   SORT_CONC      sort requests in flight [16]
#   DRILLS         failure drills [none term kill drain reuseport]
#   DRILL_DURATION seconds of load per drill [10]
#   DRILL_AT       the backend is signalled this many seconds in [3]
#   DRILL_DNS_RATE DNS queries/s during a drill [2000]
#   LB_DRAIN       on: the lb1/lb2 backends run like compose.yaml's replicas,
#                  with --health-name health.dnsort.invalid. (dnsdist.conf's
#                  checkName) and --drain-dns 4; off: neither, as before
#                  --health-name (a SIGTERM then loses queries) [on]
#   BUILD          build dir [build-scale], built if dnsortd/dnsort-load are missing
#   RESULTS        raw outputs [bench/results/scale-YYYYmmdd-HHMMSS]
#   MAX_SECONDS    watchdog: the script ends itself after this long [420]
#   QUIET_BUDGET   seconds (in all) to wait for an idle machine before runs [45]
#   DNSDIST_POLICY, DNSDIST_LISTENERS   passed on to docker/scale/dnsdist.conf
#
# Everything listens on 127.0.0.1 only, on ports the kernel or a free-port
# probe picks. Every process the script starts is recorded (PID and start
# time) and stopped by PID on every exit path (SIGTERM, SIGKILL after 5 s);
# temp files live under one mktemp -d, removed at exit.
set -u -o pipefail

# Messages go to fd 3, a copy of the script's stderr, so that a trap that
# fires while a measurement has fd 2 redirected still reaches the terminal.
exec 3>&2
BENCH_LOG_FD=3
# shellcheck source=bench/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
SCALE=$TOP/docker/scale
T0=$EPOCHREALTIME

SCENARIOS=${SCENARIOS-direct1 reuse2 lb2 lb1}
ROUNDS=${ROUNDS:-2}
DNS_DURATION=${DNS_DURATION:-4}
DNSPERF_OPTS=${DNSPERF_OPTS:--T 2 -c 8 -q 250 -b 4096 -t 1}
LAT_QPS=${LAT_QPS:-10000}
LAT_DURATION=${LAT_DURATION:-3}
SORT_DURATION=${SORT_DURATION:-4}
SORT_SIZE=${SORT_SIZE:-1000}
SORT_CONC=${SORT_CONC:-16}
DRILLS=${DRILLS-none term kill drain reuseport}
DRILL_DURATION=${DRILL_DURATION:-10}
DRILL_AT=${DRILL_AT:-3}
DRILL_DNS_RATE=${DRILL_DNS_RATE:-2000}
LB_DRAIN=${LB_DRAIN:-on}
case $LB_DRAIN in
  on) LB_ARGS=(--health-name health.dnsort.invalid. --drain-dns 4) ;;
  off) LB_ARGS=() ;;
  *) echo "LB_DRAIN: on or off, not '$LB_DRAIN'" >&2; exit 2 ;;
esac
BUILD=${BUILD:-build-scale}
RESULTS=${RESULTS:-$HERE/results/scale-$(date +%Y%m%d-%H%M%S)}
MAX_SECONDS=${MAX_SECONDS:-420}
# Before each measurement, wait until at most QUIET_PCT % of the machine is
# busy (about 15 % of one of 2 CPUs: nobody else running a benchmark), at
# most QUIET_BUDGET seconds over the whole run.
QUIET_PCT=${QUIET_PCT:-7}
QUIET_BUDGET=${QUIET_BUDGET:-45}
QUIET_WAIT=${QUIET_WAIT:-$QUIET_BUDGET}

CHECK_ONLY=0
case "${1:-}" in
  --check) CHECK_ONLY=1 ;;
  "") ;;
  -h|--help) sed -n '2,/^set -u/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
  *) echo "usage: $0 [--check]" >&2; exit 2 ;;
esac

# ------------------------------------------------------------------ install
install_missing() {
  local want
  want=$(missing_packages dnsdist=dnsdist haproxy=haproxy dnsperf=dnsperf python3=python3 \
    perl=perl-base meson=meson ninja=ninja-build)
  python3 -c 'import yaml' 2>/dev/null || want+=" python3-yaml"
  # shellcheck disable=SC2086  # one word per package
  install_packages $want
}

# ------------------------------------------------------------------ configs
# haproxy.cfg with its BACKENDS block replaced by "server NAME ADDR" lines.
haproxy_cfg() {   # OUT ADDR...
  local out=$1 i=0 a lines=""
  shift
  for a in "$@"; do i=$((i + 1)); lines+="    server dnsort$i $a"$'\n'; done
  awk -v lines="$lines" '
    /# BEGIN BACKENDS/ { print; printf "%s", lines; skip = 1; next }
    /# END BACKENDS/   { skip = 0 }
    !skip' "$SCALE/haproxy.cfg" > "$out"
  grep -q '^    server dnsort1 ' "$out" || die "haproxy.cfg: no BACKENDS block"
}

# haproxy -c and dnsdist --check-config on the files as shipped and as the
# bench fills them; compose.yaml parsed by Python's yaml (PyYAML) and checked
# against the other two (addresses, ports).
check_configs() {
  local d=$1 ok=1
  haproxy -c -q -f "$SCALE/haproxy.cfg" || { log "haproxy.cfg: haproxy -c failed"; ok=0; }
  haproxy_cfg "$d/check-haproxy.cfg" 127.0.0.1:1 127.0.0.1:2
  HAPROXY_SORT_BIND=127.0.0.1:1 HAPROXY_ADMIN_SOCK=$d/check.sock \
    haproxy -c -q -f "$d/check-haproxy.cfg" || { log "generated haproxy.cfg invalid"; ok=0; }
  dnsdist --check-config -C "$SCALE/dnsdist.conf" >/dev/null \
    || { log "dnsdist.conf: dnsdist --check-config failed"; ok=0; }
  DNSORT_BACKENDS="127.0.0.1:1 127.0.0.1:2" DNSDIST_LISTEN=127.0.0.1:1 DNSDIST_LISTENERS=2 \
    DNSDIST_CONSOLE_KEY=$(head -c32 /dev/urandom | base64) DNSDIST_CONSOLE=127.0.0.1:1 \
    dnsdist --check-config -C "$SCALE/dnsdist.conf" >/dev/null \
    || { log "dnsdist.conf with the bench's variables: --check-config failed"; ok=0; }
  python3 - "$SCALE" <<'PY' || ok=0
import re, sys
d = sys.argv[1]
try:
    import yaml
except ImportError:
    print("compose.yaml: PyYAML (python3-yaml) missing, not checked", file=sys.stderr)
    sys.exit(1)
errors = []
conf = open(d + "/dnsdist.conf").read()
health_name = re.search(r'env\("DNSORT_HEALTH_NAME", "([^"]+)"\)', conf).group(1).rstrip(".").lower()
check_interval = int(re.search(r"checkInterval = (\d+)", conf).group(1))
check_timeout = int(re.search(r"checkTimeout = (\d+)", conf).group(1)) / 1000
c = yaml.safe_load(open(d + "/compose.yaml"))
svc = c["services"]
reps = {k: v for k, v in svc.items() if k.startswith("dnsort-")}
ips = {}
for k, v in sorted(reps.items()):
    if v.get("image") != "dnsort:latest":
        errors.append(f"{k}: image {v.get('image')!r}, not dnsort:latest")
    cmd = v.get("command", [])
    if cmd[:4] != ["--dns", "0.0.0.0:4343", "--sort", "0.0.0.0:2015"]:
        errors.append(f"{k}: command {cmd}")
    sgp = float(str(v.get("stop_grace_period", "10s")).rstrip("s"))
    for opt in ("--grace", "--drain-dns"):
        if opt not in cmd:
            errors.append(f"{k}: no {opt}")
        elif sgp <= float(cmd[cmd.index(opt) + 1]):
            errors.append(f"{k}: stop_grace_period {sgp}s not above {opt} {cmd[cmd.index(opt) + 1]}")
    # dnsdist must see the health name fail before the sockets close.
    if "--drain-dns" in cmd and float(cmd[cmd.index("--drain-dns") + 1]) <= check_interval + check_timeout:
        errors.append(f"{k}: --drain-dns not above dnsdist's checkInterval + checkTimeout "
                      f"({check_interval} + {check_timeout} s)")
    if "--health-name" not in cmd or cmd[cmd.index("--health-name") + 1].rstrip(".").lower() != health_name:
        errors.append(f"{k}: no --health-name {health_name} (dnsdist.conf's checkName)")
    if "ports" in v:
        errors.append(f"{k}: a replica publishes ports (only the balancers should)")
    ips[k] = v["networks"]["scale"]["ipv4_address"]
if len(reps) < 2:
    errors.append("fewer than 2 replicas")
if "build" not in svc.get("dnsort-1", {}):
    errors.append("dnsort-1 does not build the image")
elif svc["dnsort-1"]["build"].get("dockerfile") != "docker/Dockerfile":
    errors.append("dnsort-1 builds from another Dockerfile")
dd = svc["dnsdist"]
be = re.split(r"[\s,]+", dd["environment"]["DNSORT_BACKENDS"].strip())
want_dns = sorted(f"{ip}:4343" for ip in ips.values())
if sorted(be) != want_dns:
    errors.append(f"dnsdist DNSORT_BACKENDS {be} != replicas {want_dns}")
if "./dnsdist.conf:/etc/dnsdist/dnsort.conf:ro" not in dd["volumes"] or "/etc/dnsdist/dnsort.conf" not in dd["command"]:
    errors.append("dnsdist: config not mounted where the command reads it")
if not ("127.0.0.1:4343:4343/udp" in dd["ports"] and "127.0.0.1:4343:4343/tcp" in dd["ports"]):
    errors.append("dnsdist: 4343 udp+tcp not published")
hp = svc["haproxy"]
cfg = open(d + "/haproxy.cfg").read()
block = cfg.split("# BEGIN BACKENDS")[1].split("# END BACKENDS")[0]
servers = sorted(re.findall(r"^\s*server\s+\S+\s+(\S+)", block, re.M))
want_sort = sorted(f"{ip}:2015" for ip in ips.values())
if servers != want_sort:
    errors.append(f"haproxy.cfg servers {servers} != replicas {want_sort}")
if hp["environment"].get("HAPROXY_SORT_BIND") != ":2015" or "127.0.0.1:2015:2015/tcp" not in hp["ports"]:
    errors.append("haproxy: bind/publish of 2015 disagree")
if not any(v.endswith(":/usr/local/etc/haproxy/haproxy.cfg:ro") for v in hp["volumes"]):
    errors.append("haproxy: config not mounted")
subnet = c["networks"]["scale"]["ipam"]["config"][0]["subnet"]
import ipaddress
net = ipaddress.ip_network(subnet)
for k in list(reps) + ["dnsdist", "haproxy"]:
    ip = ipaddress.ip_address(svc[k]["networks"]["scale"]["ipv4_address"])
    if ip not in net:
        errors.append(f"{k}: {ip} outside {subnet}")
for e in errors:
    print("compose.yaml: " + e, file=sys.stderr)
print(f"compose.yaml: parsed (PyYAML {yaml.__version__}), {len(reps)} replicas, "
      f"dnsdist and haproxy agree" if not errors else "compose.yaml: FAILED", file=sys.stderr)
sys.exit(1 if errors else 0)
PY
  [ $ok = 1 ]
}

# ------------------------------------------------------------------ helpers
# Kernel drops (receive buffer full): the "drops" column (the last) of
# /proc/net/udp, summed over the UDP sockets the given processes hold (the
# servers' and dnsdist's, its sockets towards the backends included).
udp_drops_of() {   # PID...
  local dirs=() p
  for p in "$@"; do [ -d "/proc/$p/fd" ] && dirs+=("/proc/$p/fd"); done
  [ ${#dirs[@]} = 0 ] && { echo 0; return; }
  find "${dirs[@]}" -lname 'socket:*' -printf '%l\n' 2>/dev/null | tr -dc '0-9\n' |
    awk 'FNR == NR { want[$1] = 1; next } FNR > 1 && ($10 in want) { d += $NF } END { print d + 0 }' - /proc/net/udp
}

# "pid ticks" (utime+stime) of the scenario's processes and the extra PIDs
# given; ticks_delta sums after - before over the PIDs present in both, so a
# process that exits in between (the victim) does not count negative.
ours_ticks() {
  local files=() p
  for p in "${PROC_PIDS[@]}" "$@"; do files+=("/proc/$p/stat"); done
  cat "${files[@]}" 2>/dev/null | awk '{ s = $0; sub(/^.*\) /, "", s); split(s, a, " "); print $1, a[12] + a[13] }'
}
ticks_delta() {   # BEFORE AFTER (ours_ticks outputs)
  awk -v a="$1" -v b="$2" 'BEGIN { n = split(a, x, "\n"); for (i = 1; i <= n; i++) { split(x[i], f, " "); t0[f[1]] = f[2] }
                                   n = split(b, y, "\n"); for (i = 1; i <= n; i++) { split(y[i], f, " "); if (f[1] in t0) d += f[2] - t0[f[1]] }
                                   print d + 0 }'
}

# Time-stamps each line (epoch seconds, ms) for the drills' logs.
stamp() { perl -MTime::HiRes=time -ne 'BEGIN { $| = 1 } printf "%.3f %s", time, $_'; }

# The scenario's processes: "role pid" lines (roles: srv, dnsdist, haproxy).
declare -a PROCS=() PROC_PIDS=()
FRONT_DNS=""; FRONT_SORT=""; BACKEND_DNS=(); BACKEND_SORT=(); SRV_PIDS=()
DNSDIST_ENV=()

# start_backend NAME DNS SORT [--reuseport]: sets LAST_PID, LAST_DNS, LAST_SORT.
start_backend() {
  local name=$1 dns=$2 sort=$3; shift 3
  mkdir -p "$WORK/$name"
  start_dnsortd "$WORK/$name/" --dns "$dns" --sort "$sort" "$@" \
    || die "$name did not start: $(cat "$WORK/$name/stderr")"
  LAST_PID=$DNSORTD_PID; LAST_DNS=$DNSORTD_DNS; LAST_SORT=$DNSORTD_SORT
  PROCS+=("srv $LAST_PID"); SRV_PIDS+=("$LAST_PID")
}

hap() {   # hap SOCKET COMMAND: HAProxy runtime API
  python3 - "$1" "$2" <<'PY'
import socket, sys
s = socket.socket(socket.AF_UNIX)
s.settimeout(2)
s.connect(sys.argv[1]); s.sendall(sys.argv[2].encode() + b"\n")
out = b""
while True:
    b = s.recv(65536)
    if not b: break
    out += b
sys.stdout.write(out.decode())
PY
}
dd_console() { env "${DNSDIST_ENV[@]}" dnsdist -C "$SCALE/dnsdist.conf" -c -e "$1" 2>/dev/null; }

# start_balancers N_EXPECTED [stamp]: dnsdist + HAProxy in front of
# BACKEND_DNS / BACKEND_SORT; returns once both see every backend up.
start_balancers() {
  local n=$1 how=${2:-}
  local dir=$WORK/lb
  mkdir -p "$dir"
  FRONT_DNS=127.0.0.1:$(free_port)
  FRONT_SORT=127.0.0.1:$(free_port)
  local console
  console=127.0.0.1:$(free_port)
  DNSDIST_ENV=(DNSORT_BACKENDS="${BACKEND_DNS[*]}" DNSDIST_LISTEN="$FRONT_DNS" DNSDIST_LISTENERS="${DNSDIST_LISTENERS:-1}"
               DNSDIST_CONSOLE_KEY="$(head -c32 /dev/urandom | base64)" DNSDIST_CONSOLE="$console")
  haproxy_cfg "$dir/haproxy.cfg" "${BACKEND_SORT[@]}"
  HAP_SOCK=$dir/admin.sock
  if [ "$how" = stamp ]; then
    env "${DNSDIST_ENV[@]}" dnsdist --supervised --disable-syslog -C "$SCALE/dnsdist.conf" \
      > >(stamp > "$dir/dnsdist.log") 2>&1 &
  else
    env "${DNSDIST_ENV[@]}" dnsdist --supervised --disable-syslog -C "$SCALE/dnsdist.conf" \
      > "$dir/dnsdist.log" 2>&1 &
  fi
  DNSDIST_PID=$!; record "$DNSDIST_PID"; PROCS+=("dnsdist $DNSDIST_PID")
  # -db: foreground, one process (no master), so its PID is the one that works.
  if [ "$how" = stamp ]; then
    HAPROXY_SORT_BIND=$FRONT_SORT HAPROXY_ADMIN_SOCK=$HAP_SOCK \
      haproxy -db -f "$dir/haproxy.cfg" > >(stamp > "$dir/haproxy.log") 2>&1 &
  else
    HAPROXY_SORT_BIND=$FRONT_SORT HAPROXY_ADMIN_SOCK=$HAP_SOCK \
      haproxy -db -f "$dir/haproxy.cfg" > "$dir/haproxy.log" 2>&1 &
  fi
  HAPROXY_PID=$!; record "$HAPROXY_PID"; PROCS+=("haproxy $HAPROXY_PID")
  # Both balancers need "rise 2" good checks at 1 s: about 2 s.
  local up_d up_h
  for _ in $(seq 60); do
    sleep 0.2
    kill -0 "$DNSDIST_PID" 2>/dev/null || die "dnsdist exited: $(tail -3 "$dir/dnsdist.log")"
    kill -0 "$HAPROXY_PID" 2>/dev/null || die "haproxy exited: $(tail -3 "$dir/haproxy.log")"
    up_d=$(dd_console 'showServers()' | awk '$1 ~ /^[0-9]+$/ && $4 == "up"' | wc -l)
    up_h=$(hap "$HAP_SOCK" "show servers state dnsort_sort" 2>/dev/null | awk '$1 ~ /^[0-9]+$/ && $6 == 2' | wc -l)
    [ "$up_d" = "$n" ] && [ "$up_h" = "$n" ] && break
  done
  [ "$up_d" = "$n" ] && [ "$up_h" = "$n" ] || die "balancers: $up_d/$n up in dnsdist, $up_h/$n in HAProxy"
}

# start_scenario NAME: fills FRONT_DNS/FRONT_SORT and PROCS.
start_scenario() {
  local s=$1 how=${2:-}
  PROCS=(); SRV_PIDS=(); BACKEND_DNS=(); BACKEND_SORT=(); DNSDIST_PID=""; HAPROXY_PID=""
  rm -rf "${WORK:?}/b1" "$WORK/b2" "$WORK/lb"
  case $s in
    direct1)
      start_backend b1 127.0.0.1:0 127.0.0.1:0
      FRONT_DNS=$LAST_DNS; FRONT_SORT=$LAST_SORT ;;
    reuse2)
      start_backend b1 127.0.0.1:0 127.0.0.1:0 --reuseport
      FRONT_DNS=$LAST_DNS; FRONT_SORT=$LAST_SORT
      start_backend b2 "$FRONT_DNS" "$FRONT_SORT" --reuseport ;;
    lb1|lb2)
      local i
      for i in $(seq "${s#lb}"); do
        start_backend "b$i" 127.0.0.1:0 127.0.0.1:0 ${LB_ARGS[@]+"${LB_ARGS[@]}"}
        BACKEND_DNS+=("$LAST_DNS"); BACKEND_SORT+=("$LAST_SORT")
      done
      start_balancers "${s#lb}" "$how" ;;
    *) die "unknown scenario $s" ;;
  esac
  PROC_PIDS=()
  local e
  for e in "${PROCS[@]}"; do PROC_PIDS+=("${e#* }"); done
  "$CHECK" --dns "$FRONT_DNS" --sort "$FRONT_SORT" --timeout 2 \
    || die "$s: dnsort-check against dns=$FRONT_DNS sort=$FRONT_SORT failed"
}

stop_scenario() {
  stop_recorded
  PROCS=(); SRV_PIDS=()
}

# CPU snapshot of the scenario's processes: "role ticks" lines.
snap() {
  local e
  for e in "${PROCS[@]}"; do echo "${e%% *} $(pid_ticks "${e#* }") ${e#* }"; done
  echo "machine $(machine_busy_ticks) 0"
}

# measure KIND OUT_PREFIX COMMAND...: runs the client in the foreground under
# bash's `time` (its user+sys, children included), with CPU snapshots of the
# scenario's processes around it. Writes OUT.cpu: "role seconds" lines.
measure() {
  local out=$1; shift
  local before after t0 t1 d0 d1
  wait_quiet
  echo "$QUIET_LAST" > "$out.quiet"
  d0=$(udp_drops_of "${PROC_PIDS[@]}")
  before=$(snap)
  t0=$EPOCHREALTIME
  local TIMEFORMAT='%3U %3S'
  { time "$@" > "$out.out" 2> "$out.err"; } 2> "$out.time"
  t1=$EPOCHREALTIME
  after=$(snap)
  d1=$(udp_drops_of "${PROC_PIDS[@]}")
  {
    echo "kdrops $((d1 - d0))"
    echo "wall $(awk -v a="$t0" -v b="$t1" 'BEGIN { print b - a }')"
    echo "client $(awk '{ print $1 + $2 }' "$out.time")"
    # srv lines are summed per role, each process also listed as srv.PID.
    join <(echo "$before" | awk '{ print $1 "." $3, $2 }' | sort) \
         <(echo "$after"  | awk '{ print $1 "." $3, $2 }' | sort) |
      awk -v tck="$TCK" '{ split($1, r, "."); d = ($3 - $2) / tck
                          print $1, d; sum[r[1]] += d }
                        END { for (k in sum) print k, sum[k] }'
  } > "$out.cpu"
}

cpu_of() { awk -v k="$2" '$1 == k { print $2; f = 1 } END { if (!f) print 0 }' "$1.cpu"; }

# ------------------------------------------------------------------ scenarios
DNS_QUERIES=""
write_queries() {
  DNS_QUERIES=$WORK/queries.txt
  cat > "$DNS_QUERIES" <<'EOF'
facebook.com A
yougov.com A
wipo.int A
FaceBook.com A
WIPO.INT A
www.example.org A
mail.example.net A
a.b.c.d.example.com A
yougov.com AAAA
facebook.com AAAA
api.example.io A
cdn.example.co.uk A
EOF
}

run_scenario() {   # NAME ROUND
  local s=$1 r=$2 o
  log "scenario $s, round $r"
  start_scenario "$s"
  o=$RESULTS/$s.r$r
  # shellcheck disable=SC2086
  measure "$o.dnsperf" timeout -k 2 $((DNS_DURATION + 15)) \
    dnsperf -s "${FRONT_DNS%:*}" -p "${FRONT_DNS##*:}" -d "$DNS_QUERIES" -l "$DNS_DURATION" $DNSPERF_OPTS
  measure "$o.dnslat" timeout -k 2 $((LAT_DURATION + 15)) \
    "$LOAD" dns --dns-server "$FRONT_DNS" --rate "$LAT_QPS" --duration "$LAT_DURATION" \
      --dns-sockets 8 --timeout 1 --json
  measure "$o.sort" timeout -k 2 $((SORT_DURATION + 15)) \
    "$LOAD" sort --sort-server "$FRONT_SORT" --size "$SORT_SIZE" --concurrency "$SORT_CONC" \
      --duration "$SORT_DURATION" --timeout 5 --json
  # How the kernel spread the load over the two reuseport processes.
  stop_scenario
  summarize_run "$s" "$r" "$o"
}

# One TSV line per measurement in RESULTS/runs.tsv.
summarize_run() {
  local s=$1 r=$2 o=$3
  local qps lost avg
  qps=$(awk '/Queries per second:/ { print $4 }' "$o.dnsperf.out")
  lost=$(awk '/Queries lost:/ { print $3 }' "$o.dnsperf.out")
  avg=$(awk '/Average Latency/ { print $4 * 1000 }' "$o.dnsperf.out")
  local lat_p99 lat_err sort_rps sort_p99 sort_err
  read -r lat_p99 lat_err < <(python3 -c 'import json,sys; j=json.load(open(sys.argv[1])); print(j["latency_us"]["p99"]/1000, j["errors"])' "$o.dnslat.out")
  read -r sort_rps sort_p99 sort_err < <(python3 -c 'import json,sys; j=json.load(open(sys.argv[1])); print(j["throughput_rps"], j["latency_us"]["p99"]/1000, j["errors"])' "$o.sort.out")
  local k
  for k in dnsperf sort; do
    local f=$o.$k wall srv dd hp cl mach other per_srv_a per_srv_b
    wall=$(cpu_of "$f" wall); srv=$(cpu_of "$f" srv); dd=$(cpu_of "$f" dnsdist)
    hp=$(cpu_of "$f" haproxy); cl=$(cpu_of "$f" client); mach=$(cpu_of "$f" machine)
    # the two servers' shares (reuse2/lb2), to see how evenly they were fed
    per_srv_a=$(awk '$1 ~ /^srv\./ { print $2; exit }' "$f.cpu")
    per_srv_b=$(awk '$1 ~ /^srv\./ { n++; if (n == 2) print $2 }' "$f.cpu")
    other=$(awk -v m="$mach" -v s="$srv" -v d="$dd" -v h="$hp" -v c="$cl" 'BEGIN { print m - s - d - h - c }')
    if [ "$k" = dnsperf ]; then
      printf '%s\t%s\tdns\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' \
        "$s" "$r" "$qps" "$lost" "$avg" "$lat_p99" "$lat_err" "$wall" "$srv" "$dd" "$hp" "$cl" "$mach" "$other" \
        "${per_srv_a:-0}" "${per_srv_b:-0}" "$LAT_QPS" "$(cpu_of "$f" kdrops)"
    else
      printf '%s\t%s\tsort\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' \
        "$s" "$r" "$sort_rps" "$sort_err" "-" "$sort_p99" "-" "$wall" "$srv" "$dd" "$hp" "$cl" "$mach" "$other" \
        "${per_srv_a:-0}" "${per_srv_b:-0}" "-" "-"
    fi
  done >> "$RESULTS/runs.tsv"
}

# ------------------------------------------------------------------ drills
# One drill: load through the front for DRILL_DURATION s (sort: one
# closed-loop dnsort-load run; DNS: back-to-back 1 s open-loop dnsort-load
# runs, so errors can be placed in time); at DRILL_AT s backend 1 gets the
# drill's treatment.
run_drill() {
  local d=$1 scen=lb2 o
  o=$RESULTS/drill-$d
  [ "$d" = reuseport ] && scen=reuse2
  log "drill $d ($scen)"
  mkdir -p "$o"
  start_scenario "$scen" stamp
  local victim=${SRV_PIDS[0]} t_start t_sig="" w
  local windows=$DRILL_DURATION
  t_start=$EPOCHREALTIME
  timeout -k 2 $((DRILL_DURATION + 15)) "$LOAD" sort --sort-server "$FRONT_SORT" --size "$SORT_SIZE" \
    --concurrency "$SORT_CONC" --duration "$DRILL_DURATION" --timeout 5 --drain 6 --json \
    > "$o/sort.json" 2> "$o/sort.err" &
  local sort_pid=$!
  record "$sort_pid"
  : > "$o/dns-windows.tsv"
  for w in $(seq 0 $((windows - 1))); do
    if [ "$w" = "$DRILL_AT" ]; then
      case $d in
        none) ;;
        term|reuseport) t_sig=$EPOCHREALTIME; kill -TERM "$victim" ;;
        kill) t_sig=$EPOCHREALTIME; kill -KILL "$victim" ;;
        drain)
          # What a rolling restart should do: take the backend out of both
          # balancers first, let them stop sending, then SIGTERM it.
          t_sig=$EPOCHREALTIME
          dd_console 'getServer(0):setDown()' > "$o/dnsdist-setdown.txt"
          hap "$HAP_SOCK" "set server dnsort_sort/dnsort1 state drain" > "$o/haproxy-drain.txt"
          echo "$t_sig" > "$o/t_out_of_rotation"
          ;;
      esac
    fi
    if [ "$d" = drain ] && [ "$w" = $((DRILL_AT + 1)) ]; then
      # One second after taking it out of rotation (every 1 s window is an
      # open-loop run, so this happens between two windows).
      hap "$HAP_SOCK" "show servers state dnsort_sort" > "$o/haproxy-state-before-term.txt"
      t_sig=$EPOCHREALTIME; kill -TERM "$victim"
    fi
    # Per window: what the rest of the machine took (busy CPU minus ours:
    # servers, balancers, both load generators), steal, and kernel drops at
    # dnsdist's and at the servers' UDP sockets: a DNS loss can then be told
    # apart from a stall caused by someone else.
    local ws m0 m1 o0 o1 c dds0 dds1 srvd0 srvd1
    m0=$(awk '/^cpu / { print $2 + $3 + $4 + $7 + $8 + $9, $9; exit }' /proc/stat)
    o0=$(ours_ticks "$sort_pid")
    dds0=$(udp_drops_of ${DNSDIST_PID:+"$DNSDIST_PID"} 0); srvd0=$(udp_drops_of "${SRV_PIDS[@]:1}")
    ws=$EPOCHREALTIME
    local TIMEFORMAT='%3U %3S'
    { time timeout -k 2 10 "$LOAD" dns --dns-server "$FRONT_DNS" --rate "$DRILL_DNS_RATE" --duration 1 \
      --timeout 0.5 --dns-sockets 8 --json > "$o/dns-w$w.json" 2> "$o/dns-w$w.err"; } 2> "$o/dns-w$w.time"
    m1=$(awk '/^cpu / { print $2 + $3 + $4 + $7 + $8 + $9, $9; exit }' /proc/stat)
    o1=$(ours_ticks "$sort_pid")
    dds1=$(udp_drops_of ${DNSDIST_PID:+"$DNSDIST_PID"} 0); srvd1=$(udp_drops_of "${SRV_PIDS[@]:1}")
    c=$(awk '{ print $1 + $2 }' "$o/dns-w$w.time")
    printf '%s\t%s\t%s\t%s\t%s\n' "$w" "$ws" \
      "$(awk -v a="$m0" -v b="$m1" -v od="$(ticks_delta "$o0" "$o1")" -v c="$c" -v tck="$TCK" -v t0="$ws" -v t1="$EPOCHREALTIME" 'BEGIN {
          split(a, x, " "); split(b, y, " "); w = t1 - t0
          o = 100 * (((y[1] - x[1]) - od) / tck - c) / w
          printf "%.0f\t%.0f", (o > 0 ? o : 0), 100 * (y[2] - x[2]) / tck / w }')" \
      "$((dds1 - dds0))" "$((srvd1 - srvd0))" >> "$o/dns-windows.tsv"
  done
  wait "$sort_pid"
  # The victim's end: exit code (0 = drained cleanly) and its drain summary.
  local vrc="?"
  if [ "$d" != none ]; then
    for _ in $(seq 80); do kill -0 "$victim" 2>/dev/null || break; sleep 0.1; done
    if ! kill -0 "$victim" 2>/dev/null; then wait "$victim" 2>/dev/null; vrc=$?; fi
  fi
  [ "$scen" = lb2 ] && {
    dd_console 'showServers()' > "$o/dnsdist-servers.txt"
    hap "$HAP_SOCK" "show stat" > "$o/haproxy-stat.csv"
  }
  stop_scenario
  cp -r "$WORK/b1" "$o/b1"; cp -r "$WORK/b2" "$o/b2"
  [ "$scen" = lb2 ] && cp "$WORK/lb/dnsdist.log" "$WORK/lb/haproxy.log" "$WORK/lb/haproxy.cfg" "$o/"
  printf '%s\n' "$t_start" > "$o/t_start"
  printf '%s\n' "$t_sig" > "$o/t_sig"
  echo "$vrc" > "$o/victim_rc"
}

# ------------------------------------------------------------------ reports
report() {
  DNSPERF_OPTS_SHOWN="$DNSPERF_OPTS" python3 - "$RESULTS" "$SCENARIOS" "$DRILLS" "$DRILL_AT" "$LAT_QPS" "$SORT_SIZE" "$SORT_CONC" "$DRILL_DNS_RATE" <<'PY'
import json, os, re, sys, statistics, glob
res, scen, drills = sys.argv[1], sys.argv[2].split(), sys.argv[3].split()
drill_at, lat_qps, size, conc, drill_rate = sys.argv[4:9]
rows = []
if os.path.exists(res + "/runs.tsv"):
    for line in open(res + "/runs.tsv"):
        f = line.rstrip("\n").split("\t")
        rows.append(f)
def num(x):
    try: return float(x)
    except ValueError: return float("nan")
def pooled(s, kind):
    rs = [r for r in rows if r[0] == s and r[2] == kind]
    if not rs: return None
    cols = list(zip(*rs))
    m = lambda i: statistics.mean(num(v) for v in cols[i])
    rng = lambda i: (min(num(v) for v in cols[i]), max(num(v) for v in cols[i]))
    d = dict(rate=m(3), err=m(4), avg=m(5) if kind == "dns" else float("nan"), p99=m(6),
             laterr=m(7) if kind == "dns" else 0, wall=m(8), srv=m(9), dnsdist=m(10), haproxy=m(11),
             client=m(12), machine=m(13), other=m(14), a=m(15), b=m(16), n=len(rs), range=rng(3),
             kdrops=m(18) if kind == "dns" else 0)
    return d
out = []
P = out.append
for kind, title in (("dns", "DNS: dnsperf at saturation (%s); p99 from dnsort-load at a fixed %s q/s" % (os.environ.get("DNSPERF_OPTS_SHOWN", ""), lat_qps)),
                    ("sort", "Sort: dnsort-load, %s random integers per request, %s in flight (closed loop)" % (size, conc))):
    if not any(pooled(x, kind) for x in scen):
        continue
    P(f"\n{title}\n")
    unit = "qps" if kind == "dns" else "req/s"
    bal = "dnsdist" if kind == "dns" else "haproxy"
    if kind == "dns":
        P(f"| set-up | {unit} | lost (kernel drops) | avg ms | p99 ms | CPU, % of one core: servers / {bal} / client / other | CPU µs per query: servers / {bal} / client | qps per server core | servers' split |")
    else:
        P(f"| set-up | {unit} | errors | p99 ms | CPU, % of one core: servers / {bal} / client / other | CPU µs per request: servers / {bal} / client | req/s per server core | servers' split |")
    P("|" + "---|" * 9)
    got = {}
    for s in scen:
        d = pooled(s, kind)
        if not d: continue
        got[s] = d
        w, rate = d["wall"], d["rate"]
        per_srv = rate / (d["srv"] / w) if d["srv"] else float("nan")
        split = "%.0f:%.0f" % (100 * d["a"] / (d["a"] + d["b"]), 100 * d["b"] / (d["a"] + d["b"])) if d["b"] > 0 else "-"
        rng = "" if d["n"] == 1 else " (%.0f–%.0f)" % d["range"]
        pc = lambda x: "%.0f" % (100 * x / w)
        us = lambda x: "%.1f" % (x / (rate * w) * 1e6) if rate else "-"
        b = d[bal]
        cpu = f"{pc(d['srv'])} / {pc(b) if s.startswith('lb') else '-'} / {pc(d['client'])} / {pc(d['other'])}"
        cost = f"{us(d['srv'])} / {us(b) if s.startswith('lb') else '-'} / {us(d['client'])}"
        if kind == "dns":
            p99 = f"{d['p99']:.2f}" + (f" ({d['laterr']:.0f} lost)" if d["laterr"] else "")
            P(f"| {s} | {rate:.0f}{rng} | {d['err']:.0f} ({d['kdrops']:.0f}) | {d['avg']:.2f} | {p99} | {cpu} | {cost} | {per_srv:.0f} | {split} |")
        else:
            P(f"| {s} | {rate:.0f}{rng} | {d['err']:.0f} | {d['p99']:.2f} | {cpu} | {cost} | {per_srv:.0f} | {split} |")
    def ratio(a, b):
        return "%.2f" % (got[a]["rate"] / got[b]["rate"]) if a in got and b in got and got[b]["rate"] else "n/a"
    P("")
    P(f"- scaling N=2/N=1: with --reuseport {ratio('reuse2', 'direct1')}, behind the balancers {ratio('lb2', 'lb1')}")
    P(f"- balancer overhead, direct/behind: N=1 {ratio('direct1', 'lb1')}, N=2 {ratio('reuse2', 'lb2')}")
print("\n".join(out))

# drills
if drills:
    print("\nFailure drills (load through the front for the drill's length; backend 1 signalled at %s s)\n" % drill_at)
    print("| drill | signal at | dnsdist marks it down | HAProxy marks it down | DNS queries | DNS errors (per 1 s window) | DNS errors after dnsdist noticed | sort requests | sort errors | sort error kinds | HAProxy: retried/redispatched | HAProxy: sessions on it when marked down | victim: lifetime ok/error/cancelled replies, exit code |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
notes = []
for d in drills:
    o = f"{res}/drill-{d}"
    if not os.path.isdir(o): continue
    t_start = float(open(o + "/t_start").read())
    ts = open(o + "/t_sig").read().strip()
    t_sig = float(ts) if ts else None
    def first(path, pat):
        if not os.path.exists(path): return None
        for line in open(path):
            if re.search(pat, line):
                return float(line.split()[0])
        return None
    n_dd = first(o + "/dnsdist.log", r"dnsort1 .*as 'down'")
    n_hp = first(o + "/haproxy.log", r"dnsort_sort/dnsort1 is DOWN")
    active = "-"
    if os.path.exists(o + "/haproxy.log"):
        for line in open(o + "/haproxy.log"):
            m = re.search(r"dnsort_sort/dnsort1 is (?:DOWN|going DOWN for maintenance|DRAIN).*?(\d+) sessions active", line)
            if m: active = m.group(1); break
    if d == "drain":
        t_out = float(open(o + "/t_out_of_rotation").read())
        n_dd = n_hp = t_out   # taken out by hand before the signal
    # dns-windows.tsv: index, start, other CPU %, steal %, kernel drops at
    # dnsdist, at the surviving backend; requests/errors from the window's JSON.
    windows = []
    for l in open(o + "/dns-windows.tsv"):
        f = l.rstrip("\n").split("\t")
        jw = json.load(open(f"{o}/dns-w{f[0]}.json"))
        kinds_w = " ".join(f"{a}={b}" for a, b in jw["error_kinds"].items() if b) or "-"
        windows.append([f[0], f[1], str(jw["requests"]), str(jw["errors"]), kinds_w] + f[2:6])
    dq = sum(int(w[2]) for w in windows); de = sum(int(w[3]) for w in windows)
    notice = n_dd if d != "reuseport" else t_sig
    late = 0
    for w in windows:
        ws = float(w[1])
        if notice is not None and ws >= notice and int(w[3]):
            late += int(w[3])
    per_window = " ".join(w[3] for w in windows)
    sj = json.load(open(o + "/sort.json"))
    kinds = ", ".join(f"{k} {v}" for k, v in sj["error_kinds"].items() if v) or "-"
    retr = "-"
    if os.path.exists(o + "/haproxy.log"):
        r = rd = 0
        for line in open(o + "/haproxy.log"):
            m = re.search(r" (\S\S) \d+/\d+/\d+/\d+/(\+?)(\d+) ", line)
            if m and int(m.group(3)) > 0:
                r += 1
                if m.group(2): rd += 1
        retr = f"{r}/{rd}"
    vic = "-"
    vlog = o + "/b1/stderr"
    if d != "none" and os.path.exists(vlog):
        m = None
        for line in open(vlog):
            mm = re.search(r"drained: (\d+) ok, (\d+) error replies, (\d+) cancelled(?:, (\d+) refused as shutting down)?", line)
            if mm: m = mm
        rc = open(o + "/victim_rc").read().strip()
        vic = (f"{m.group(1)}/{m.group(2)}/{m.group(3)}" + (f", {m.group(4)} refused as shutting down" if m.group(4) else "")
               if m else "no drain line") + f", exit {rc}"
    rel = lambda t: "%.2f s" % (t - t_start) if t is not None else "-"
    after = lambda t: "%+.2f s" % (t - t_sig) if (t is not None and t_sig is not None) else "-"
    if d == "drain":
        nd = nh = "out of rotation by hand %.2f s before" % (t_sig - n_dd)
    elif d == "reuseport":
        nd = nh = "n/a (no balancer)"
    else:
        nd, nh = after(n_dd), after(n_hp)
    print(f"| {d} | {rel(t_sig) if t_sig else '-'} | {nd} | {nh} | {dq} | {de} ({per_window}) | {late} | {sj['requests']} | {sj['errors']} | {kinds} | {retr} | {active} | {vic} |")
    firsts = []
    if sj["sort"].get("first_error"):
        firsts.append("sort: " + sj["sort"]["first_error"])
    for w in windows:
        jw = json.load(open(f"{o}/dns-w{w[0]}.json"))
        if jw["dns"].get("first_error"):
            firsts.append(f"dns window {w[0]}: " + jw["dns"]["first_error"]); break
    if firsts:
        notes.append(f"- {d}: first errors: " + "; ".join(firsts))
    bad = [w for w in windows if int(w[3])]
    if bad or d == "none":
        ws_ = bad or windows
        notes.append(f"- {d}: " + ("windows with DNS errors" if bad else "no DNS error; windows") + ": " + "; ".join(
            f"w{w[0]} {w[3]} errors, other processes {w[5]}% of a core, steal {w[6]}%, kernel drops dnsdist {w[7]} / surviving backend {w[8]}"
            for w in (ws_ if bad else [max(windows, key=lambda w: int(w[5]))])) + ("" if bad else " (the busiest)"))
if drills and notes:
    print()
    print("\n".join(notes))
PY
}

# ------------------------------------------------------------------ main
install_missing
WORK=$(mktemp -d /tmp/dnsort-scale.XXXXXX)

if [ $CHECK_ONLY = 1 ]; then
  check_configs "$WORK" && { log "configs OK"; exit 0; }
  die "config check failed"
fi
mkdir -p "$RESULTS"
start_watchdog "$MAX_SECONDS"

DNSORTD=$TOP/$BUILD/loop/dnsortd
LOAD=$TOP/$BUILD/tools/dnsort-load
CHECK=$TOP/$BUILD/tools/check/dnsort-check
# Always brought up to date (a no-op when it is), so that the figures are
# those of the current source; if the tree does not build right now, the
# binaries already there are used, and machine.txt says so.
BUILD_NOTE="up to date with the source"
if ! build_bench "$TOP/$BUILD" loop/dnsortd tools/dnsort-load tools/check/dnsort-check 2> "$WORK/ninja.log"; then
  [ -x "$DNSORTD" ] && [ -x "$LOAD" ] && [ -x "$CHECK" ] || { cat "$WORK/ninja.log" >&2; die "build failed"; }
  BUILD_NOTE="the source did not build; older binaries used"
  log "warning: $BUILD does not build from the current source; using the binaries already there"
fi

check_configs "$WORK" || die "config check failed"
write_queries
cp "$DNS_QUERIES" "$RESULTS/queries.txt"
{
  machine_info "$@"
  echo "dnsortd: $("$DNSORTD" --version 2>&1 | head -1), built $(date -r "$DNSORTD" -Is) ($BUILD_NOTE)"
  tool_versions dnsdist haproxy dnsperf
  echo "settings: SCENARIOS='$SCENARIOS' ROUNDS=$ROUNDS DNS_DURATION=$DNS_DURATION DNSPERF_OPTS='$DNSPERF_OPTS' LAT_QPS=$LAT_QPS LAT_DURATION=$LAT_DURATION SORT_DURATION=$SORT_DURATION SORT_SIZE=$SORT_SIZE SORT_CONC=$SORT_CONC DRILLS='$DRILLS' DRILL_DURATION=$DRILL_DURATION DRILL_AT=$DRILL_AT DRILL_DNS_RATE=$DRILL_DNS_RATE LB_DRAIN=$LB_DRAIN"
} > "$RESULTS/machine.txt"
cat "$RESULTS/machine.txt" >&2

: > "$RESULTS/runs.tsv"
for r in $(seq "$ROUNDS"); do
  for s in $SCENARIOS; do run_scenario "$s" "$r"; done
done
for d in $DRILLS; do run_drill "$d"; done
echo "loadavg at end: $(cat /proc/loadavg)" >> "$RESULTS/machine.txt"

report | tee "$RESULTS/table.md"
log "done in $(awk -v a="$T0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.0f", b - a }') s; raw outputs in $RESULTS"
