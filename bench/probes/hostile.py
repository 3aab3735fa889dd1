#!/usr/bin/env python3
"""bench/probes/hostile.py: what a few cheap, hostile clients take from
everyone else (issue 14), measured against one or more dnsortd binaries so
that a fix can be shown before and after.

A probe, not a test: nothing runs it automatically, and it prints figures
rather than asserting them. Every probe starts its own dnsortd on
127.0.0.1 port 0, talks only to 127.0.0.0/8 (the attacker and the
bystander use different loopback addresses where it matters), is bounded
in time and count, and stops what it started by PID.

    bench/probes/hostile.py --dnsortd old=PATH --dnsortd new=PATH PROBE...

Probes (all by default):
  prefix-flood  64 connections each send only a length prefix announcing
                8 MiB (reconnecting when the server closes them); a
                bystander sends [2,1] in a loop: how many it gets sorted.
  slow-sort     one worst-case sort (--sort-size numbers, reversed): how
                long until its client hears back, and what.
  queue-hog     one address sends 64 worst-case sorts at once (--threads 1:
                the whole default queue); another sends [2,1] every second:
                how many are refused, answered, and how long they wait.
  hup           four worst-case sorts queued, then SIGHUP with a changed
                hosts file: time until DNS serves the new answer.
  fd-limit      dnsortd under an open-file limit of 128 and 300 idle sort
                connections: do DNS over TCP, UDP and /metrics still answer.
Python standard library only; see bench/probes/README.md for figures.
"""
import argparse
import json
import os
import re
import resource
import select
import signal
import socket
import statistics
import struct
import subprocess
import sys
import tempfile
import threading
import time

LISTEN_RE = re.compile(r"dns=udp://[^ ]+:(\d+) sort=tcp://[^ ]+:(\d+)(?: metrics=http://[^ ]+:(\d+))?")
BYSTANDER, ATTACKER = "127.0.0.3", "127.0.0.2"


class Server:
    def __init__(self, binary, *extra, nofile=None, metrics=False):
        def limits():
            if nofile is not None:
                resource.setrlimit(resource.RLIMIT_NOFILE, (nofile, nofile))

        args = [binary, "--dns", "127.0.0.1:0", "--sort", "127.0.0.1:0", "--log-level", "error",
                *extra]
        if metrics:
            args += ["--metrics", "127.0.0.1:0"]
        self.proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                     preexec_fn=limits)
        ready, _, _ = select.select([self.proc.stdout], [], [], 10)
        m = LISTEN_RE.search(self.proc.stdout.readline().decode()) if ready else None
        if m is None:
            self.stop()
            raise SystemExit("%s did not start" % binary)
        self.dns_port, self.sort_port = int(m.group(1)), int(m.group(2))
        self.metrics_port = int(m.group(3)) if m.group(3) else None

    def rss_kib(self):
        with open("/proc/%d/status" % self.proc.pid) as f:
            return int(next(l for l in f if l.startswith("VmRSS")).split()[1])

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        self.proc.stdout.close()


def recv_all(s):
    out = b""
    while True:
        try:
            chunk = s.recv(65536)
        except (ConnectionResetError, socket.timeout, TimeoutError):
            break
        if not chunk:
            break
        out += chunk
    return out


def sort_request(srv, body, source="127.0.0.1", timeout=10.0):
    """(reply bytes, seconds); b"" when the connection failed or was shed."""
    t0 = time.monotonic()
    try:
        with socket.create_connection(("127.0.0.1", srv.sort_port), timeout=timeout,
                                      source_address=(source, 0)) as s:
            s.sendall(struct.pack(">Q", len(body)) + body)
            reply = recv_all(s)
    except OSError:
        reply = b""
    return reply, time.monotonic() - t0


def outcome(reply):
    if reply.startswith(b"["):
        return "sorted"
    if not reply:
        return "no reply"
    try:
        return json.loads(reply)["error"]
    except (ValueError, KeyError):
        return "garbage"


def worst_case(args):
    """Gnome sort's worst case, reversed numbers: --sort-size of them (the
    server is started with --max-elements to match)."""
    return json.dumps(list(range(args.sort_size, 0, -1))).encode()


def big_sorts(args):
    """Server options that let worst_case through."""
    return ("--max-elements", str(args.sort_size))


def dns_query(name, qid=7):
    pkt = struct.pack(">HHHHHH", qid, 0x0100, 1, 0, 0, 0)
    for label in name.split("."):
        pkt += bytes([len(label)]) + label.encode()
    return pkt + b"\x00" + struct.pack(">HH", 1, 1)


def first_a(reply):
    """The first A record's address in a reply to dns_query, or None."""
    if not reply or len(reply) < 12 or struct.unpack(">H", reply[6:8])[0] == 0:
        return None
    pos = 12
    while reply[pos]:
        pos += reply[pos] + 1
    pos += 5 + 2 + 10  # the question's end, a name pointer, type..rdlength
    return socket.inet_ntoa(reply[pos:pos + 4])


def udp_query(port, name, timeout=1.0):
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(timeout)
        s.sendto(dns_query(name), ("127.0.0.1", port))
        try:
            return s.recv(4096)
        except socket.timeout:
            return None


def tcp_query(port, name, timeout=2.0):
    """One query over DNS-over-TCP; the reply, or None."""
    pkt = dns_query(name)
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
            s.sendall(struct.pack(">H", len(pkt)) + pkt)
            data = b""
            while len(data) < 2 or len(data) < 2 + struct.unpack(">H", data[:2])[0]:
                chunk = s.recv(4096)
                if not chunk:
                    return None
                data += chunk
        return data[2:]
    except OSError:
        return None


def http_metrics(port, timeout=2.0):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
            s.sendall(b"GET /metrics HTTP/1.0\r\n\r\n")
            return recv_all(s).startswith(b"HTTP/1.1 200")
    except OSError:
        return False


def reset(s):
    try:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    except OSError:
        pass
    s.close()


# ---- the probes: each returns {figure: value} ----

def probe_prefix_flood(binary, args):
    srv = Server(binary)
    stop = threading.Event()
    attackers = []

    def attacker():
        while not stop.is_set():
            try:
                with socket.create_connection(("127.0.0.1", srv.sort_port), timeout=1) as s:
                    s.sendall(struct.pack(">Q", 8 << 20))
                    while not stop.is_set():  # until the server closes it
                        try:
                            if not s.recv(4096):
                                break
                        except socket.timeout:
                            continue
            except OSError:
                time.sleep(0.05)

    try:
        for _ in range(args.prefix_connections):
            t = threading.Thread(target=attacker, daemon=True)
            t.start()
            attackers.append(t)
        time.sleep(1.0)
        counts, rss, lat = {}, [], []
        deadline = time.monotonic() + args.duration
        while time.monotonic() < deadline:
            reply, secs = sort_request(srv, b"[2, 1]", source=BYSTANDER, timeout=5)
            o = outcome(reply)
            counts[o] = counts.get(o, 0) + 1
            if o == "sorted":
                lat.append(secs)
            rss.append(srv.rss_kib())
            time.sleep(0.05)
        total = sum(counts.values())
        return {"bystander requests": total,
                "sorted": "%d (%.0f %%)" % (counts.get("sorted", 0),
                                            100.0 * counts.get("sorted", 0) / max(total, 1)),
                "refused or failed": {k: v for k, v in counts.items() if k != "sorted"},
                "median latency ms": round(1000 * statistics.median(lat), 2) if lat else None,
                "server RSS max MiB": round(max(rss) / 1024, 1)}
    finally:
        stop.set()
        srv.stop()
        for t in attackers:
            t.join(3)


def probe_slow_sort(binary, args):
    srv = Server(binary, "--threads", "1", *big_sorts(args))
    try:
        reply, secs = sort_request(srv, worst_case(args), timeout=120)
        return {"reply after s": round(secs, 2), "reply": outcome(reply)[:60]}
    finally:
        srv.stop()


def probe_queue_hog(binary, args):
    srv = Server(binary, "--threads", "1", *big_sorts(args))
    body = worst_case(args)
    hog = []
    try:
        for _ in range(64):
            s = socket.create_connection(("127.0.0.1", srv.sort_port), timeout=600,
                                         source_address=(ATTACKER, 0))
            s.sendall(struct.pack(">Q", len(body)) + body)
            hog.append(s)
        time.sleep(1.0)
        # The attacker's own replies, as far as they came back at once.
        attacker = {}
        for s in hog:
            s.settimeout(0.02)
            try:
                o = outcome(s.recv(200))
                if o != "no reply":
                    attacker[o] = attacker.get(o, 0) + 1
            except (socket.timeout, ConnectionResetError):
                pass
            results, lock = [], threading.Lock()
        t0 = time.monotonic()

        def bystander():
            reply, secs = sort_request(srv, b"[2, 1]", source=BYSTANDER, timeout=args.hog_window)
            with lock:
                results.append((outcome(reply), time.monotonic() - t0, secs))

        threads = []
        while time.monotonic() - t0 < args.hog_window:
            t = threading.Thread(target=bystander, daemon=True)
            t.start()
            threads.append(t)
            time.sleep(1.0)
        for t in threads:
            t.join(args.hog_window + 5)
        refused = sum(1 for o, _, _ in results if o.startswith("server busy"))
        answered = [(at, secs) for o, at, secs in results if o == "sorted"]
        waits = [secs for _, secs in answered]
        return {"attacker replies at once": attacker or "none",
                "bystander requests": len(results), "refused busy": refused,
                "answered within %d s" % args.hog_window: len(answered),
                "first answer after s": round(min(at for at, _ in answered), 1) if answered else None,
                "wait median/max s": "%.2f/%.2f" % (statistics.median(waits), max(waits))
                if waits else None}
    finally:
        for s in hog:
            reset(s)
        srv.stop()


def probe_hup(binary, args):
    tmp = tempfile.TemporaryDirectory()
    hosts = os.path.join(tmp.name, "hosts")
    with open(hosts, "w") as f:
        f.write("192.0.2.1 reload.test\n")
    srv = Server(binary, "--threads", "1", "--hosts", hosts, *big_sorts(args))
    body = worst_case(args)
    held = []
    try:
        for _ in range(4):
            s = socket.create_connection(("127.0.0.1", srv.sort_port), timeout=600)
            s.sendall(struct.pack(">Q", len(body)) + body)
            held.append(s)
        time.sleep(1.0)
        with open(hosts, "w") as f:
            f.write("192.0.2.2 reload.test\n")
        t0 = time.monotonic()
        srv.proc.send_signal(signal.SIGHUP)
        applied = None
        while time.monotonic() - t0 < args.hup_wait:
            if first_a(udp_query(srv.dns_port, "reload.test")) == "192.0.2.2":
                applied = time.monotonic() - t0
                break
            time.sleep(0.005)
        return {"HUP to new answer s": round(applied, 3) if applied is not None
                else "not within %d s" % args.hup_wait}
    finally:
        for s in held:
            reset(s)
        srv.stop()
        tmp.cleanup()


def probe_fd_limit(binary, args):
    srv = Server(binary, nofile=128, metrics=True)
    held = []
    try:
        for _ in range(300):
            try:
                held.append(socket.create_connection(("127.0.0.1", srv.sort_port), timeout=2))
            except OSError:
                break
        time.sleep(1.0)
        tcp = sum(first_a(tcp_query(srv.dns_port, "wipo.int")) == "193.5.93.80" for _ in range(10))
        udp = sum(first_a(udp_query(srv.dns_port, "wipo.int")) == "193.5.93.80" for _ in range(10))
        metrics = sum(http_metrics(srv.metrics_port) for _ in range(10))
        busy = shed = 0
        for s in held:
            s.settimeout(0.02)
            try:
                data = s.recv(200)
                busy += b"server busy" in data
                shed += data == b""
            except socket.timeout:
                pass
            except ConnectionResetError:
                shed += 1
        return {"sort connections made": len(held), "told busy": busy, "shed": shed,
                "DNS/TCP answered": "%d/10" % tcp, "DNS/UDP answered": "%d/10" % udp,
                "/metrics answered": "%d/10" % metrics}
    finally:
        for s in held:
            s.close()
        srv.stop()


PROBES = {"prefix-flood": probe_prefix_flood, "slow-sort": probe_slow_sort,
          "queue-hog": probe_queue_hog, "hup": probe_hup, "fd-limit": probe_fd_limit}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--dnsortd", action="append", required=True, metavar="NAME=PATH",
                    help="a binary to probe; repeat to compare (old=..., new=...)")
    ap.add_argument("--duration", type=float, default=12.0,
                    help="seconds of bystander traffic in prefix-flood [12]")
    ap.add_argument("--prefix-connections", type=int, default=64)
    ap.add_argument("--sort-size", type=int, default=400000,
                    help="numbers in a worst-case sort: seconds of work each (400000: "
                         "about 24 s on the 2-core machine of bench/probes/README.md; "
                         "100000 take under a second with the vectorised kernel) [400000]")
    ap.add_argument("--hog-window", type=int, default=30,
                    help="seconds the queue-hog bystander keeps trying [30]")
    ap.add_argument("--hup-wait", type=int, default=120,
                    help="longest wait for the reload in hup [120]")
    ap.add_argument("probes", nargs="*", choices=[[]] + list(PROBES), default=[])
    args = ap.parse_args()
    binaries = []
    for spec in args.dnsortd:
        name, _, path = spec.rpartition("=")
        binaries.append((name or path, os.path.abspath(path)))
    for probe in args.probes or list(PROBES):
        for name, path in binaries:
            result = PROBES[probe](path, args)
            print("%-12s %-6s %s" % (probe, name, json.dumps(result)), flush=True)


if __name__ == "__main__":
    main()
