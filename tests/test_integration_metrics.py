#!/usr/bin/env python3
"""Integration tests for --metrics, --log-format and --log-queries: the
real dnsortd on ephemeral ports, scraped over HTTP before and after real
traffic, with every counter checked to move by exactly what was sent; the
endpoint's error answers and bounds (404/405/400/414/431, the connection
limit, a slowloris client); the probes /health and /ready, before and
during a drain; the --health-name that fails from SIGTERM on while DNS
still answers; SIGTERM with metrics connections open; JSON
log lines that parse; one query line per query.

Python standard library only. Run by meson test:
    test_integration_metrics.py --dnsortd PATH
"""
import argparse
import http.client
import json
import os
import re
import select
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
import unittest

DNSORTD = None
LISTEN_RE = re.compile(r"^dnsortd listening dns=udp://(\S+):(\d+) sort=tcp://(\S+):(\d+)"
                       r"(?: metrics=http://(\S+):(\d+))?$")
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
METRICS_TIMEOUT_S = 5.0     # LOOP_METRICS_DEFAULT_TIMEOUT_MS
METRICS_MAX_CONNECTIONS = 64


class LineCollector:
    """Reads a child's stderr on a thread, so that a chatty child (one line
    per query) never blocks on a full pipe."""

    def __init__(self, stream):
        self.lines = []
        self.lock = threading.Lock()
        self.thread = threading.Thread(target=self._run, args=(stream,), daemon=True)
        self.thread.start()

    def _run(self, stream):
        for raw in iter(stream.readline, b""):
            with self.lock:
                self.lines.append(raw.decode("utf-8", errors="replace").rstrip("\n"))

    def snapshot(self):
        with self.lock:
            return list(self.lines)

    def wait_for(self, pred, timeout=5.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if pred(self.snapshot()):
                return True
            time.sleep(0.02)
        return False


class Server:
    """dnsortd on port 0 with --metrics 127.0.0.1:0; every port is read
    back from its listening line."""

    def __init__(self, *extra, metrics=True, log_level="debug"):
        args = [DNSORTD, "--dns", "127.0.0.1:0", "--sort", "127.0.0.1:0",
                "--log-level", log_level, *extra]
        if metrics:
            args += ["--metrics", "127.0.0.1:0"]
        self.proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self.log = LineCollector(self.proc.stderr)
        ready, _, _ = select.select([self.proc.stdout], [], [], 10)
        self.line = self.proc.stdout.readline().decode().strip() if ready else ""
        m = LISTEN_RE.match(self.line)
        if not m or bool(m.group(5)) != metrics:
            self.kill()
            raise AssertionError("unexpected first line from dnsortd: %r\n%s"
                                 % (self.line, "\n".join(self.log.snapshot())))
        self.dns_port = int(m.group(2))
        self.sort_port = int(m.group(4))
        self.metrics_port = int(m.group(6)) if metrics else None
        self.signalled = False

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(10)
        self.close_pipes()

    def close_pipes(self):
        self.log.thread.join(5)
        self.proc.stdout.close()
        self.proc.stderr.close()

    def signal(self, signum=signal.SIGTERM):
        if signum in (signal.SIGTERM, signal.SIGINT):
            self.signalled = True
        self.proc.send_signal(signum)

    def stop(self, timeout=15):
        """SIGTERM (unless a test already sent one: a second one means "exit
        at once"); returns (exit code, stderr lines)."""
        if self.proc.poll() is None and not self.signalled:
            self.signal()
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise AssertionError("dnsortd did not exit within %s s of SIGTERM" % timeout)
        self.close_pipes()
        return self.proc.returncode, self.log.snapshot()

    # ---- HTTP ----

    def http(self, method="GET", path="/metrics"):
        """(status, headers dict, body text) of one request."""
        conn = http.client.HTTPConnection("127.0.0.1", self.metrics_port, timeout=10)
        try:
            conn.request(method, path)
            r = conn.getresponse()
            body = r.read().decode("utf-8")
            return r.status, {k.lower(): v for k, v in r.getheaders()}, body
        finally:
            conn.close()

    def raw_http(self, data, timeout=10):
        """Send bytes, return everything the server sends until it closes."""
        with socket.create_connection(("127.0.0.1", self.metrics_port), timeout=timeout) as s:
            s.sendall(data)
            s.shutdown(socket.SHUT_WR)
            return recv_all(s)

    def scrape(self):
        status, headers, body = self.http()
        if status != 200:
            raise AssertionError("GET /metrics: %d %s" % (status, body))
        if headers.get("content-type") != CONTENT_TYPE:
            raise AssertionError("Content-Type %r" % headers.get("content-type"))
        if int(headers["content-length"]) != len(body.encode()):
            raise AssertionError("Content-Length differs from the body")
        return parse_exposition(body)


def recv_all(s):
    out = b""
    while True:
        try:
            chunk = s.recv(65536)
        except (ConnectionResetError, socket.timeout):
            break
        if not chunk:
            break
        out += chunk
    return out


# ------------------------------------------------- the text format ----

SAMPLE_RE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$")
LABEL_RE = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"(,|$)')


def unescape(v):
    return re.sub(r"\\(.)", lambda m: {"n": "\n"}.get(m.group(1), m.group(1)), v)


def parse_exposition(text):
    """{(name, frozenset of label pairs): float}, with the format checked:
    each family has HELP then TYPE, once, before its samples."""
    samples, types = {}, {}
    lines = text.split("\n")
    if lines[-1] != "":
        raise AssertionError("the exposition must end with a newline")
    last_help = None
    for line in lines[:-1]:
        if line.startswith("# HELP "):
            name = line.split(" ", 3)[2]
            if name in types or last_help is not None:
                raise AssertionError("HELP twice or without TYPE: %r" % line)
            last_help = name
            continue
        if line.startswith("# TYPE "):
            _, _, name, kind = line.split(" ")
            if name != last_help:
                raise AssertionError("TYPE without its HELP: %r" % line)
            if kind not in ("counter", "gauge", "histogram"):
                raise AssertionError("TYPE %r" % kind)
            types[name] = kind
            last_help = None
            continue
        m = SAMPLE_RE.match(line)
        if not m:
            raise AssertionError("not a sample line: %r" % line)
        name, labels_text, value = m.groups()
        family = name
        for suffix in ("_bucket", "_sum", "_count"):
            if name.endswith(suffix) and types.get(name[:-len(suffix)]) == "histogram":
                family = name[:-len(suffix)]
        if family not in types:
            raise AssertionError("sample before its TYPE: %r" % line)
        if types[family] == "counter" and not name.endswith("_total"):
            raise AssertionError("a counter without _total: %s" % name)
        labels = []
        if labels_text:
            pos = 0
            while pos < len(labels_text):
                lm = LABEL_RE.match(labels_text, pos)
                if not lm:
                    raise AssertionError("bad labels: %r" % line)
                labels.append((lm.group(1), unescape(lm.group(2))))
                pos = lm.end()
        key = (name, frozenset(labels))
        if key in samples:
            raise AssertionError("sample twice: %r" % line)
        samples[key] = float(value)
    samples["__types__"] = types
    return samples


def val(samples, name, **labels):
    """A sample's value; 0 for a series that is not there."""
    return samples.get((name, frozenset(labels.items())), 0.0)


def has(samples, name, **labels):
    return (name, frozenset(labels.items())) in samples


# ---------------------------------------------------------- clients ----

def dns_query(name, qtype=1, qid=0x1234, flags=0x0100):
    pkt = struct.pack(">HHHHHH", qid, flags, 1, 0, 0, 0)
    for label in name.rstrip(".").split("."):
        pkt += bytes([len(label)]) + label.encode()
    return pkt + b"\x00" + struct.pack(">HH", qtype, 1)


def udp_exchange(port, pkt, timeout=2.0):
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(timeout)
        s.sendto(pkt, ("127.0.0.1", port))
        try:
            return s.recv(65535)
        except socket.timeout:
            return None


def udp_send_only(port, pkt):
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.sendto(pkt, ("127.0.0.1", port))


def tcp_exchange(port, pkts, timeout=5.0):
    """Send every message on one connection, pipelined; return the replies."""
    wire = b"".join(struct.pack(">H", len(p)) + p for p in pkts)
    replies, buf = [], b""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(wire)
        while len(replies) < len(pkts):
            chunk = s.recv(65536)
            if not chunk:
                break
            buf += chunk
            while len(buf) >= 2 and len(buf) >= 2 + struct.unpack(">H", buf[:2])[0]:
                n = struct.unpack(">H", buf[:2])[0]
                replies.append(buf[2:2 + n])
                buf = buf[2 + n:]
    return replies


def read_tcp_replies(conn, n):
    """n length-prefixed messages from an open DNS-over-TCP connection."""
    replies, buf = [], b""
    while len(replies) < n:
        if len(buf) >= 2 and len(buf) >= 2 + struct.unpack(">H", buf[:2])[0]:
            size = struct.unpack(">H", buf[:2])[0]
            replies.append(buf[2:2 + size])
            buf = buf[2 + size:]
            continue
        chunk = conn.recv(65536)
        if not chunk:
            raise AssertionError("connection closed after %d of %d replies" % (len(replies), n))
        buf += chunk
    return replies


def sort_exchange(port, body, prefix=None, timeout=30.0):
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall((struct.pack(">Q", len(body)) if prefix is None else prefix) + body)
        return recv_all(s)


def wait_until(pred, timeout=5.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return True
        time.sleep(0.05)
    return pred()


# ------------------------------------------------------------ tests ----

class CountersMove(unittest.TestCase):
    """N queries and M sort requests move each counter by exactly N and M."""

    def setUp(self):
        self.srv = Server("--threads", "2", "--max-request-bytes", "1k",
                          "--map", "many.test=" + ",".join("10.0.0.%d" % i for i in range(1, 41)))

    def tearDown(self):
        code, _ = self.srv.stop()
        self.assertEqual(code, 0)

    def test_dns_counters(self):
        before = self.srv.scrape()
        n_udp, n_tcp, n_bad, n_formerr = 23, 9, 4, 3
        for i in range(n_udp):
            r = udp_exchange(self.srv.dns_port, dns_query("facebook.com", qid=i))
            self.assertIsNotNone(r)
        replies = tcp_exchange(self.srv.dns_port,
                               [dns_query("wipo.int", qtype=28, qid=i) for i in range(n_tcp)])
        self.assertEqual(len(replies), n_tcp)
        # Responses (QR=1) are dropped, never answered.
        for i in range(n_bad):
            udp_send_only(self.srv.dns_port, dns_query("x.test", qid=i, flags=0x8000))
        # QDCOUNT 2: FORMERR with no question echoed.
        for i in range(n_formerr):
            pkt = struct.pack(">HHHHHH", i, 0x0100, 2, 0, 0, 0)
            self.assertIsNotNone(udp_exchange(self.srv.dns_port, pkt))
        # 40 addresses do not fit 512 bytes: TC=1.
        r = udp_exchange(self.srv.dns_port, dns_query("many.test"))
        self.assertTrue(r[2] & 0x02, "expected TC=1")
        # The dropped datagrams have no reply to wait for: the counter is.
        self.assertTrue(wait_until(lambda: val(self.srv.scrape(), "dnsort_dns_dropped_total",
                                                proto="udp", reason="invalid")
                                   - val(before, "dnsort_dns_dropped_total",
                                         proto="udp", reason="invalid") >= n_bad))
        self.assertTrue(wait_until(lambda: val(self.srv.scrape(), "dnsort_dns_tcp_connections") == 0))
        after = self.srv.scrape()

        def delta(name, **labels):
            return val(after, name, **labels) - val(before, name, **labels)

        self.assertEqual(delta("dnsort_dns_queries_total", proto="udp"), n_udp + n_bad + n_formerr + 1)
        self.assertEqual(delta("dnsort_dns_queries_total", proto="tcp"), n_tcp)
        self.assertEqual(delta("dnsort_dns_responses_total", proto="udp", qtype="A", rcode="NOERROR"),
                         n_udp + 1)
        self.assertEqual(delta("dnsort_dns_responses_total", proto="tcp", qtype="AAAA", rcode="NOERROR"),
                         n_tcp)
        self.assertEqual(delta("dnsort_dns_responses_total", proto="udp", qtype="none", rcode="FORMERR"),
                         n_formerr)
        self.assertEqual(delta("dnsort_dns_truncated_responses_total", proto="udp"), 1)
        self.assertEqual(delta("dnsort_dns_dropped_total", proto="udp", reason="invalid"), n_bad)
        self.assertEqual(delta("dnsort_dns_dropped_total", proto="udp", reason="send"), 0)
        self.assertEqual(delta("dnsort_dns_tcp_connections_accepted_total"), 1)
        self.assertEqual(delta("dnsort_dns_tcp_connections_refused_total"), 0)
        # Nothing else moved: the sum over every response series is exact.
        total = sum(v - val(before, k[0], **dict(k[1])) for k, v in after.items()
                    if k != "__types__" and k[0] == "dnsort_dns_responses_total")
        self.assertEqual(total, n_udp + n_tcp + n_formerr + 1)
        self.assertEqual(val(after, "dnsort_dns_map_names"), 4)

    def test_sort_counters_and_histograms(self):
        before = self.srv.scrape()
        valid = [b"[3, 1, 2]", b"[]", b"[1.5, -2, 7, 0]", json.dumps(list(range(100, 0, -1))).encode()]
        invalid = [b"[1, 2", b'["a"]', b"{}"]
        for body in valid:
            self.assertTrue(sort_exchange(self.srv.sort_port, body).startswith(b"["))
        for body in invalid:
            self.assertIn(b'"error"', sort_exchange(self.srv.sort_port, body))
        too_large = 2
        for _ in range(too_large):
            reply = sort_exchange(self.srv.sort_port, b"", prefix=struct.pack(">Q", 4096))
            self.assertIn(b"too large", reply)
        self.assertTrue(wait_until(lambda: val(self.srv.scrape(), "dnsort_sort_connections") == 0))
        after = self.srv.scrape()

        def delta(name, **labels):
            return val(after, name, **labels) - val(before, name, **labels)

        self.assertEqual(delta("dnsort_sort_requests_total", outcome="ok"), len(valid))
        self.assertEqual(delta("dnsort_sort_requests_total", outcome="bad_input"), len(invalid))
        self.assertEqual(delta("dnsort_sort_requests_total", outcome="too_large"), too_large)
        for outcome in ("timeout", "busy", "cancelled", "shutdown"):
            self.assertEqual(delta("dnsort_sort_requests_total", outcome=outcome), 0, outcome)
        self.assertEqual(delta("dnsort_sort_error_replies_total"), len(invalid) + too_large)
        self.assertEqual(delta("dnsort_sort_connections_accepted_total"),
                         len(valid) + len(invalid) + too_large)
        # Complete requests only (a too-large one never is), each once.
        complete = valid + invalid
        self.assertEqual(delta("dnsort_sort_request_size_bytes_count"), len(complete))
        self.assertEqual(delta("dnsort_sort_request_size_bytes_sum"), sum(len(b) for b in complete))
        self.assertEqual(delta("dnsort_sort_request_size_bytes_bucket", le="16"),
                         len([b for b in complete if len(b) <= 16]))
        self.assertEqual(delta("dnsort_sort_request_size_bytes_bucket", le="+Inf"), len(complete))
        # Every job that produced a reply, in seconds: well under one each.
        self.assertEqual(delta("dnsort_sort_duration_seconds_count"), len(complete))
        self.assertGreater(delta("dnsort_sort_duration_seconds_sum"), 0)
        self.assertLess(delta("dnsort_sort_duration_seconds_sum"), len(complete))
        self.assertEqual(delta("dnsort_sort_duration_seconds_bucket", le="10"), len(complete))
        # Buckets are cumulative.
        buckets = sorted((float(dict(k[1])["le"]), v) for k, v in after.items()
                         if k != "__types__" and k[0] == "dnsort_sort_duration_seconds_bucket")
        self.assertEqual([v for _, v in buckets], sorted(v for _, v in buckets))
        self.assertEqual(buckets[-1][0], float("inf"))
        self.assertEqual(val(after, "dnsort_sort_jobs", state="queued"), 0)
        self.assertEqual(val(after, "dnsort_sort_jobs", state="running"), 0)
        self.assertEqual(val(after, "dnsort_sort_inflight_bytes"), 0)

    def test_scrapes_during_a_load_are_monotonic_and_end_exact(self):
        before = self.srv.scrape()
        threads, per_thread = 4, 150
        errors = []

        def client(t):
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
                s.settimeout(2)
                for i in range(per_thread):
                    s.sendto(dns_query("yougov.com", qid=i), ("127.0.0.1", self.srv.dns_port))
                    try:
                        s.recv(512)
                    except socket.timeout:
                        errors.append((t, i))

        workers = [threading.Thread(target=client, args=(t,)) for t in range(threads)]
        for w in workers:
            w.start()
        seen = []
        while any(w.is_alive() for w in workers):
            seen.append(val(self.srv.scrape(), "dnsort_dns_responses_total",
                            proto="udp", qtype="A", rcode="NOERROR"))
        for w in workers:
            w.join()
        self.assertEqual(errors, [])
        self.assertGreater(len(seen), 1, "no scrape happened during the load")
        self.assertEqual(seen, sorted(seen), "a counter went down")
        after = self.srv.scrape()
        self.assertEqual(val(after, "dnsort_dns_responses_total", proto="udp", qtype="A", rcode="NOERROR")
                         - val(before, "dnsort_dns_responses_total", proto="udp", qtype="A",
                               rcode="NOERROR"), threads * per_thread)

    def test_gauges_while_a_sort_runs(self):
        srv = Server("--threads", "1", "--max-elements", "500000")
        try:
            # Reversed: 7.2e9 steps, about 0.5 s with the vectorised walk
            # (40000 took 55 ms, about one of the 50 ms polls below).
            body = json.dumps(list(range(120000, 0, -1))).encode()
            s = socket.create_connection(("127.0.0.1", srv.sort_port), timeout=30)
            s.sendall(struct.pack(">Q", len(body)) + body)
            self.assertTrue(wait_until(lambda: val(srv.scrape(), "dnsort_sort_jobs", state="running") == 1))
            snap = srv.scrape()
            self.assertEqual(val(snap, "dnsort_sort_connections"), 1)
            self.assertEqual(val(snap, "dnsort_sort_inflight_bytes"), len(body))
            self.assertEqual(val(snap, "dnsort_sort_jobs", state="queued"), 0)
            reply = recv_all(s)
            s.close()
            self.assertTrue(reply.startswith(b"[1, 2, 3"))
            self.assertTrue(wait_until(lambda: val(srv.scrape(), "dnsort_sort_connections") == 0))
            snap = srv.scrape()
            self.assertEqual(val(snap, "dnsort_sort_jobs", state="running"), 0)
            self.assertEqual(val(snap, "dnsort_sort_inflight_bytes"), 0)
        finally:
            self.assertEqual(srv.stop()[0], 0)


class ProcessAndBuild(unittest.TestCase):
    def test_process_families_and_build_info(self):
        t0 = time.time()
        srv = Server()
        try:
            snap = srv.scrape()
            version = subprocess.run([DNSORTD, "--version"], capture_output=True, text=True).stdout
            m = re.match(r"dnsortd (\S+) \(libuv (\S+)\)", version)
            self.assertIsNotNone(m)
            self.assertEqual(val(snap, "dnsort_build_info", version=m.group(1), libuv=m.group(2)), 1)
            self.assertGreater(val(snap, "process_resident_memory_bytes"), 1 << 20)
            self.assertGreater(val(snap, "process_virtual_memory_bytes"),
                               val(snap, "process_resident_memory_bytes"))
            self.assertGreaterEqual(val(snap, "process_cpu_seconds_total"), 0)
            start = val(snap, "process_start_time_seconds")
            self.assertLessEqual(abs(start - t0), 10)
            # Descriptors: the limit is ours to read, and 20 more TCP
            # connections are 20 more open.
            with open("/proc/%d/limits" % srv.proc.pid) as f:
                limits = f.read()
            m = re.search(r"^Max open files\s+(\d+|unlimited)", limits, re.M)
            if m.group(1) != "unlimited":
                self.assertEqual(val(snap, "process_max_fds"), int(m.group(1)))
            fds = val(snap, "process_open_fds")
            # The scrape's own connection was open when it counted.
            self.assertLessEqual(abs(fds - len(os.listdir("/proc/%d/fd" % srv.proc.pid))), 1)
            conns = [socket.create_connection(("127.0.0.1", srv.dns_port)) for _ in range(20)]
            try:
                self.assertTrue(wait_until(lambda: val(srv.scrape(), "process_open_fds") >= fds + 20))
            finally:
                for c in conns:
                    c.close()
            types = snap["__types__"]
            self.assertEqual(types["process_cpu_seconds_total"], "counter")
            self.assertEqual(types["dnsort_sort_duration_seconds"], "histogram")
            self.assertEqual(types["dnsort_sort_request_size_bytes"], "histogram")
            self.assertEqual(types["dnsort_dns_map_names"], "gauge")
            for name in types:
                self.assertTrue(name.startswith("dnsort_") or name.startswith("process_"), name)
            # No forwarder: no forwarding families.
            self.assertFalse(any(n.startswith("dnsort_dns_forward") or n.startswith("dnsort_dns_cache")
                                 for n in types))
        finally:
            self.assertEqual(srv.stop()[0], 0)


class MapAndForward(unittest.TestCase):
    def test_reloads_ok_and_failed_and_names(self):
        with tempfile.TemporaryDirectory() as d:
            hosts = os.path.join(d, "hosts")
            with open(hosts, "w") as f:
                f.write("192.0.2.1 a.test b.test\n")
            srv = Server("--hosts", hosts, "--no-default-map")
            try:
                snap = srv.scrape()
                self.assertEqual(val(snap, "dnsort_dns_map_names"), 2)
                self.assertEqual(val(snap, "dnsort_dns_map_reloads_total", result="ok"), 0)
                loaded_at_start = val(snap, "dnsort_zone_reload_timestamp_seconds")
                self.assertLessEqual(abs(loaded_at_start - time.time()), 10)
                self.assertEqual(val(snap, "dnsort_zone_reload_failures_total"), 0)
                time.sleep(0.05)  # so that a reload's stamp differs from the start's
                with open(hosts, "w") as f:
                    f.write("192.0.2.1 a.test b.test\n192.0.2.2 c.test\n")
                srv.signal(signal.SIGHUP)
                self.assertTrue(wait_until(lambda: val(srv.scrape(), "dnsort_dns_map_reloads_total",
                                                       result="ok") == 1))
                self.assertEqual(val(srv.scrape(), "dnsort_dns_map_names"), 3)
                reloaded_at = val(srv.scrape(), "dnsort_zone_reload_timestamp_seconds")
                self.assertGreater(reloaded_at, loaded_at_start)
                with open(hosts, "w") as f:
                    f.write("300.1.2.3 broken.test\n")
                srv.signal(signal.SIGHUP)
                self.assertTrue(wait_until(lambda: val(srv.scrape(), "dnsort_dns_map_reloads_total",
                                                       result="failed") == 1))
                snap = srv.scrape()
                self.assertEqual(val(snap, "dnsort_dns_map_reloads_total", result="ok"), 1)
                self.assertEqual(val(snap, "dnsort_dns_map_names"), 3)
                # A failed reload counts, and the stamp stays the old map's.
                self.assertEqual(val(snap, "dnsort_zone_reload_failures_total"), 1)
                self.assertEqual(val(snap, "dnsort_zone_reload_timestamp_seconds"), reloaded_at)
            finally:
                self.assertEqual(srv.stop()[0], 0)

    def test_forward_and_cache_counters(self):
        upstream = Server(metrics=False)
        try:
            srv = Server("--unknown", "forward", "--upstream", "127.0.0.1:%d" % upstream.dns_port)
            try:
                before = srv.scrape()
                for name in ("one.example", "two.example", "one.example", "one.example"):
                    r = udp_exchange(srv.dns_port, dns_query(name))
                    self.assertIsNotNone(r)
                    self.assertEqual(r[3] & 0x0F, 0)
                after = srv.scrape()

                def delta(name):
                    return val(after, name) - val(before, name)

                self.assertEqual(delta("dnsort_dns_forward_queries_total"), 4)
                self.assertEqual(delta("dnsort_dns_forward_upstream_queries_total"), 2)
                self.assertEqual(delta("dnsort_dns_cache_hits_total"), 2)
                self.assertEqual(delta("dnsort_dns_cache_misses_total"), 2)
                self.assertEqual(delta("dnsort_dns_forward_upstream_failures_total"), 0)
                self.assertEqual(val(after, "dnsort_dns_cache_entries"), 2)
                self.assertGreater(val(after, "dnsort_dns_cache_memory_bytes"), 0)
                self.assertEqual(val(after, "dnsort_dns_forward_inflight"), 0)
            finally:
                self.assertEqual(srv.stop()[0], 0)
        finally:
            self.assertEqual(upstream.stop()[0], 0)


def closed_udp_port(host):
    """A port on host that nothing listens on (bound, then closed): queries
    sent there get ICMP port unreachable."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def stamp_ms(line):
    """The milliseconds of a text log line's time stamp, from midnight."""
    m = re.match(r"^\d{4}-\d\d-\d\dT(\d\d):(\d\d):(\d\d)\.(\d{3})Z ", line)
    h, mi, s, ms = map(int, m.groups())
    return ((h * 60 + mi) * 60 + s) * 1000 + ms


class Observability(unittest.TestCase):
    def test_dns_duration_histograms_move_by_proto(self):
        srv = Server()
        try:
            before = srv.scrape()
            n_udp, n_tcp = 9, 4
            for i in range(n_udp):
                self.assertIsNotNone(udp_exchange(srv.dns_port, dns_query("wipo.int", qid=i)))
            self.assertEqual(len(tcp_exchange(srv.dns_port, [dns_query("wipo.int", qid=i)
                                                             for i in range(n_tcp)])), n_tcp)
            after = srv.scrape()
            name = "dnsort_dns_request_duration_seconds"
            self.assertEqual(after["__types__"][name], "histogram")
            for proto, n in (("udp", n_udp), ("tcp", n_tcp)):
                def delta(series, **labels):
                    return val(after, series, proto=proto, **labels) - val(before, series, proto=proto,
                                                                          **labels)
                self.assertEqual(delta(name + "_count"), n)
                self.assertEqual(delta(name + "_bucket", le="+Inf"), n)
                self.assertGreaterEqual(delta(name + "_sum"), 0)
                # Cumulative: never down from one bound to the next.
                buckets = sorted((float(dict(k[1])["le"]), v) for k, v in after.items()
                                 if k != "__types__" and k[0] == name + "_bucket"
                                 and dict(k[1])["proto"] == proto)
                self.assertEqual(len(buckets), 17)  # 16 bounds and +Inf
                counts = [v for _, v in buckets]
                self.assertEqual(counts, sorted(counts))
        finally:
            self.assertEqual(srv.stop()[0], 0)

    def test_forward_by_upstream_with_a_dead_and_a_live_one(self):
        upstream = Server(metrics=False)
        dead = "127.0.0.3:%d" % closed_udp_port("127.0.0.3")
        live = "127.0.0.1:%d" % upstream.dns_port
        try:
            srv = Server("--unknown", "forward", "--upstream", dead, "--upstream", live,
                         "--upstream-timeout", "3")
            try:
                before = srv.scrape()
                n = 6
                for i in range(n):
                    r = udp_exchange(srv.dns_port, dns_query("n%d.example" % i), timeout=5)
                    self.assertIsNotNone(r)
                    self.assertEqual(r[3] & 0x0F, 0)  # answered by the live one
                after = srv.scrape()
            finally:
                code, lines = srv.stop()
                self.assertEqual(code, 0)

            def delta(name, **labels):
                return val(after, name, **labels) - val(before, name, **labels)

            for name in ("dnsort_forward_requests_total", "dnsort_forward_responses_total",
                         "dnsort_forward_errors_total"):
                self.assertEqual(after["__types__"][name], "counter")
                self.assertTrue(has(after, name, upstream=dead), name)
                self.assertTrue(has(after, name, upstream=live), name)
            self.assertGreaterEqual(delta("dnsort_forward_requests_total", upstream=dead), 1)
            self.assertGreaterEqual(delta("dnsort_forward_errors_total", upstream=dead), 1)
            self.assertEqual(delta("dnsort_forward_responses_total", upstream=dead), 0)
            self.assertGreaterEqual(delta("dnsort_forward_responses_total", upstream=live), n)
            self.assertEqual(delta("dnsort_forward_errors_total", upstream=live), 0)
            hist = "dnsort_forward_request_duration_seconds"
            self.assertEqual(after["__types__"][hist], "histogram")
            self.assertEqual(delta(hist + "_count"), n)
            self.assertEqual(delta(hist + "_bucket", le="+Inf"), n)
            # The dead one is named in a warning; the live one never is.
            warns = [l for l in lines if " dnsortd warn: upstream " in l]
            self.assertTrue(any(("upstream %s failed: Connection refused" % dead) in l
                                for l in warns), "\n".join(lines))
            self.assertFalse(any(("upstream %s failed" % live) in l for l in warns))
        finally:
            self.assertEqual(upstream.stop()[0], 0)

    def test_a_dead_upstream_warns_at_most_once_a_second_with_a_count(self):
        dead = "127.0.0.3:%d" % closed_udp_port("127.0.0.3")
        srv = Server("--unknown", "forward", "--upstream", dead, "--upstream-timeout", "0.5",
                     metrics=False, log_level="warn")
        sent = 0
        t_end = time.monotonic() + 2.6
        while time.monotonic() < t_end:
            r = udp_exchange(srv.dns_port, dns_query("q%d.example" % sent, qid=sent), timeout=3)
            self.assertIsNotNone(r)
            self.assertEqual(r[3] & 0x0F, 2)  # SERVFAIL
            sent += 1
            time.sleep(0.05)
        code, lines = srv.stop()
        self.assertEqual(code, 0)
        warns = [l for l in lines if " dnsortd warn: upstream " in l]
        self.assertGreaterEqual(len(warns), 2, "\n".join(lines))
        self.assertIn("upstream %s failed" % dead, warns[0])
        # Far fewer lines than events (each query: a refused socket, then
        # the query's own failure), spaced by the limiter's second (the
        # stamp is written a little after the loop's cached clock).
        self.assertLess(len(warns), sent)
        stamps = [stamp_ms(l) for l in warns]
        for a, b in zip(stamps, stamps[1:]):
            self.assertGreaterEqual(b - a, 950, "\n".join(warns))
        suppressed = [int(m.group(1)) for m in
                      (re.search(r" \((\d+) more suppressed\)$", l) for l in warns[1:]) if m]
        self.assertEqual(len(suppressed), len(warns) - 1, "\n".join(warns))
        self.assertTrue(all(n > 0 for n in suppressed))
        # Every event is a line or counted in the next one, except those
        # after the last line. Per query: a refused socket per try (c-ares
        # tries each server twice), then the query's failure.
        self.assertLessEqual(len(warns) + sum(suppressed), 3 * sent)
        self.assertGreaterEqual(len(warns) + sum(suppressed), sent)

    def test_a_silent_upstream_is_named_when_queries_time_out(self):
        # A socket that reads and never answers: c-ares' timeouts, not a
        # refusal.
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as hole:
            hole.bind(("127.0.0.1", 0))
            silent = "127.0.0.1:%d" % hole.getsockname()[1]
            srv = Server("--unknown", "forward", "--upstream", silent, "--upstream-timeout", "0.3")
            try:
                r = udp_exchange(srv.dns_port, dns_query("t.example"), timeout=3)
                self.assertIsNotNone(r)
                self.assertEqual(r[3] & 0x0F, 2)  # SERVFAIL
                snap = srv.scrape()
            finally:
                code, lines = srv.stop()
            self.assertEqual(code, 0)
        self.assertGreaterEqual(val(snap, "dnsort_forward_requests_total", upstream=silent), 2)
        self.assertEqual(val(snap, "dnsort_forward_responses_total", upstream=silent), 0)
        self.assertEqual(val(snap, "dnsort_forward_errors_total", upstream=silent), 0)
        warns = [l for l in lines if " dnsortd warn: upstream query failed: " in l]
        self.assertEqual(len(warns), 1, "\n".join(lines))
        self.assertRegex(warns[0], r"failed: .+ after \d+ timeout\(s\), "
                         r"SERVFAIL to the client; silent upstreams: %s \(\d+ unanswered\)$"
                         % re.escape(silent))

    def test_shed_connections_warn_once_a_second(self):
        srv = Server("--dns-tcp-max-connections", "2", metrics=False, log_level="warn")
        kept = [socket.create_connection(("127.0.0.1", srv.dns_port)) for _ in range(2)]
        try:
            # Both held open connections answer: the limit is reached.
            for c in kept:
                c.settimeout(5)
                q = dns_query("wipo.int")
                c.sendall(struct.pack(">H", len(q)) + q)
                self.assertGreater(len(c.recv(2)), 0)
            shed = 0
            for _ in range(5):
                with socket.create_connection(("127.0.0.1", srv.dns_port), timeout=5) as c:
                    shed += c.recv(1) == b""  # closed at once
            self.assertEqual(shed, 5)
        finally:
            for c in kept:
                c.close()
        code, lines = srv.stop()
        self.assertEqual(code, 0)
        warns = [l for l in lines if " dnsortd warn: dns-tcp: connection shed: " in l]
        self.assertEqual(len(warns), 1, "\n".join(lines))
        self.assertRegex(warns[0], r"2 open, the limit \(1 refused so far\)$")

    def test_past_the_hard_limit_connections_are_shed_with_a_warning(self):
        # --max-connections 1: the next ones get "server busy" while they
        # last, and past the hard limit (1 + 1/4 + 64 = 65 open) they are
        # dropped unanswered. One line for all of it, within the second.
        srv = Server("--max-connections", "1", metrics=False, log_level="warn")
        conns = []
        try:
            for _ in range(100):
                conns.append(socket.create_connection(("127.0.0.1", srv.sort_port), timeout=5))
        finally:
            for c in conns:
                c.close()
        code, lines = srv.stop()
        self.assertEqual(code, 0)
        shed = [l for l in lines if " dnsortd warn: sort: connection shed: 65 open, the hard limit" in l]
        busy = [l for l in lines if " dnsortd warn: sort: refused a request: server busy" in l]
        self.assertGreaterEqual(len(shed), 1, "\n".join(lines))
        self.assertLessEqual(len(shed), 3, "\n".join(shed))
        self.assertGreaterEqual(len(busy), 1, "\n".join(lines))

    def test_sorts_refused_busy_warn_with_a_count(self):
        srv = Server("--max-inflight-bytes", "64", metrics=False, log_level="warn")
        body = b"[" + b",".join(b"1" for _ in range(60)) + b"]"
        replies = [sort_exchange(srv.sort_port, body) for _ in range(5)]
        code, lines = srv.stop()
        self.assertEqual(code, 0)
        self.assertTrue(all(b"busy" in r for r in replies), replies)
        warns = [l for l in lines if " dnsortd warn: sort: refused a request: server busy" in l]
        # Five refusals within a second: one line now, the rest counted
        # (and reported with the next line, which never comes here).
        self.assertEqual(len(warns), 1, "\n".join(lines))
        self.assertIn("refused busy so far", warns[0])

    def test_promtool_accepts_the_metrics(self):
        promtool = shutil.which("promtool")
        if promtool is None:
            self.skipTest("promtool is not installed (Debian package prometheus)")
        upstream = Server(metrics=False)
        try:
            srv = Server("--unknown", "forward", "--upstream",
                         "127.0.0.1:%d" % upstream.dns_port)
            try:
                udp_exchange(srv.dns_port, dns_query("x.example"))
                tcp_exchange(srv.dns_port, [dns_query("wipo.int")])
                status, _, body = srv.http()
                self.assertEqual(status, 200)
            finally:
                self.assertEqual(srv.stop()[0], 0)
        finally:
            self.assertEqual(upstream.stop()[0], 0)
        r = subprocess.run([promtool, "check", "metrics"], input=body, capture_output=True,
                           text=True, timeout=30)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertEqual((r.stdout + r.stderr).strip(), "", "promtool lint: " + r.stdout + r.stderr)


class Endpoint(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.srv = Server()

    @classmethod
    def tearDownClass(cls):
        code, _ = cls.srv.stop()
        assert code == 0, code

    def status_of(self, raw):
        reply = self.srv.raw_http(raw)
        m = re.match(rb"HTTP/1\.1 (\d{3}) ", reply)
        self.assertIsNotNone(m, reply[:200])
        head, _, body = reply.partition(b"\r\n\r\n")
        self.assertIn(b"\r\nConnection: close\r\n", head + b"\r\n")
        return int(m.group(1)), head.decode(), body

    def test_errors_404_405_400_414_431(self):
        before = self.srv.scrape()
        self.assertEqual(self.srv.http("GET", "/")[0], 404)
        self.assertEqual(self.srv.http("GET", "/metrics/x")[0], 404)
        status, headers, _ = self.srv.http("POST", "/metrics")
        self.assertEqual(status, 405)
        self.assertEqual(headers.get("allow"), "GET, HEAD")
        self.assertEqual(self.srv.http("DELETE", "/metrics")[0], 405)
        self.assertEqual(self.status_of(b"hello there\r\n\r\n")[0], 400)
        self.assertEqual(self.status_of(b"GET /metrics HTTP/1.1\r\nno colon\r\n\r\n")[0], 400)
        self.assertEqual(self.status_of(b"GET /" + b"a" * 2000 + b" HTTP/1.1\r\n\r\n")[0], 414)
        self.assertEqual(self.status_of(b"GET /metrics HTTP/1.1\r\n" + b"X-A: b\r\n" * 2000
                                        + b"\r\n")[0], 431)
        after = self.srv.scrape()
        for code, n in (("404", 2), ("405", 2), ("400", 2), ("414", 1), ("431", 1), ("200", 1)):
            self.assertEqual(val(after, "dnsort_metrics_http_responses_total", code=code)
                             - val(before, "dnsort_metrics_http_responses_total", code=code), n, code)

    def test_head_has_the_headers_of_get_and_no_body(self):
        status, head, body = self.status_of(b"HEAD /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
        self.assertEqual(status, 200)
        self.assertEqual(body, b"")
        self.assertIn("Content-Type: " + CONTENT_TYPE, head)
        length = int(re.search(r"Content-Length: (\d+)", head).group(1))
        self.assertGreater(length, 1000)

    def test_http_1_0_and_pipelined_requests_get_one_response(self):
        status, _, body = self.status_of(b"GET /metrics HTTP/1.0\r\n\r\nGET /metrics HTTP/1.0\r\n\r\n")
        self.assertEqual(status, 200)
        self.assertEqual(body.count(b"# TYPE dnsort_build_info gauge"), 1)

    def test_slowloris_is_closed_after_the_timeout(self):
        before = self.srv.scrape()
        s = socket.create_connection(("127.0.0.1", self.srv.metrics_port), timeout=15)
        t0 = time.monotonic()
        s.sendall(b"GET /metr")
        closed_at = None
        try:
            # A byte every half second: each read is new data, but the
            # bound is on the whole request.
            for ch in b"ics HTTP/1.1\r\nX-Slow: " + b"z" * 40:
                r, _, _ = select.select([s], [], [], 0.5)
                if r:
                    data = s.recv(100)
                    if not data:
                        closed_at = time.monotonic() - t0
                        break
                    self.fail("the server answered a request that never ended: %r" % data)
                # Scrapes meanwhile are unaffected.
                if ch == ord("H"):
                    self.assertEqual(self.srv.http()[0], 200)
                try:
                    s.sendall(bytes([ch]))
                except (BrokenPipeError, ConnectionResetError):
                    closed_at = time.monotonic() - t0
                    break
        finally:
            s.close()
        self.assertIsNotNone(closed_at, "the slow client was never closed")
        self.assertGreaterEqual(closed_at, METRICS_TIMEOUT_S - 0.5)
        self.assertLess(closed_at, METRICS_TIMEOUT_S + 2.5)
        after = self.srv.scrape()
        self.assertEqual(val(after, "dnsort_metrics_http_timeouts_total")
                         - val(before, "dnsort_metrics_http_timeouts_total"), 1)

    def test_connection_limit(self):
        before = self.srv.scrape()
        held = []
        # The scrape above may still hold a connection for a moment (the
        # server closes it when it reads the client's FIN), so one of ours
        # can be refused: keep opening until 64 are open and stay open.
        refused = 0
        deadline = time.monotonic() + 10
        try:
            while True:
                while len(held) < METRICS_MAX_CONNECTIONS:
                    held.append(socket.create_connection(("127.0.0.1", self.srv.metrics_port),
                                                         timeout=5))
                time.sleep(0.3)  # let the server accept (or refuse) them all
                closed = [c for c in held if select.select([c], [], [], 0)[0]]
                if not closed:
                    break
                refused += len(closed)
                for c in closed:
                    held.remove(c)
                    c.close()
                self.assertLess(time.monotonic(), deadline)
            with socket.create_connection(("127.0.0.1", self.srv.metrics_port), timeout=5) as extra:
                extra.sendall(b"GET /metrics HTTP/1.1\r\n\r\n")
                self.assertEqual(recv_all(extra), b"", "the connection over the limit was served")
            refused += 1
        finally:
            for c in held:
                c.close()
        # Closed by their clients, the held ones go as soon as the server
        # reads their FIN; a scrape that comes first is refused too.
        deadline = time.monotonic() + 5
        while True:
            try:
                after = self.srv.scrape()
                break
            except (ConnectionError, http.client.HTTPException):
                refused += 1
                self.assertLess(time.monotonic(), deadline, "still refused after 5 s")
                time.sleep(0.05)
        self.assertEqual(val(after, "dnsort_metrics_http_refused_connections_total")
                         - val(before, "dnsort_metrics_http_refused_connections_total"), refused)


class Probes(unittest.TestCase):
    """GET/HEAD /health and /ready: what the container HEALTHCHECK and the
    Kubernetes probes ask."""

    def check_text(self, srv, method, path, want_status, want_body):
        status, headers, body = srv.http(method, path)
        self.assertEqual((status, headers.get("content-type")),
                         (want_status, "text/plain; charset=utf-8"), "%s %s" % (method, path))
        self.assertEqual(int(headers["content-length"]), len(want_body))
        self.assertEqual(headers.get("connection"), "close")
        self.assertEqual(body, "" if method == "HEAD" else want_body)

    def test_health_and_ready_on_a_running_server(self):
        srv = Server()
        try:
            before = srv.scrape()
            self.check_text(srv, "GET", "/health", 200, "ok\n")
            self.check_text(srv, "HEAD", "/health", 200, "ok\n")
            self.check_text(srv, "GET", "/ready", 200, "ready\n")
            self.check_text(srv, "HEAD", "/ready", 200, "ready\n")
            self.check_text(srv, "GET", "/health?from=kubelet", 200, "ok\n")
            for path in ("/healthz", "/health/", "/ready/now", "/readyz"):
                self.assertEqual(srv.http("GET", path)[0], 404, path)
            self.assertEqual(srv.http("POST", "/ready")[0], 405)
            after = srv.scrape()
            # Five probes and one scrape are 200s; none was a 503.
            self.assertEqual(val(after, "dnsort_metrics_http_responses_total", code="200")
                             - val(before, "dnsort_metrics_http_responses_total", code="200"), 6)
            self.assertEqual(val(after, "dnsort_metrics_http_responses_total", code="503"), 0)
        finally:
            self.assertEqual(srv.stop()[0], 0)

    def test_probes_ignore_a_full_sort_queue_and_an_empty_zone(self):
        # One worker busy for seconds, a queue of one that is full: the
        # sort service says busy, and both probes still say yes.
        srv = Server("--threads", "1", "--max-queued-jobs", "1", "--max-elements", "500000",
                     "--no-default-map", "--grace", "0.3")
        try:
            body = json.dumps(list(range(400000, 0, -1))).encode()  # seconds of gnome sort
            long_sort = socket.create_connection(("127.0.0.1", srv.sort_port), timeout=30)
            long_sort.sendall(struct.pack(">Q", len(body)) + body)
            self.assertTrue(wait_until(lambda: val(srv.scrape(), "dnsort_sort_jobs", state="running") == 1))
            self.assertIn(b"server busy", sort_exchange(srv.sort_port, b"[2, 1]"))
            self.assertEqual(val(srv.scrape(), "dnsort_dns_map_names"), 0)
            self.check_text(srv, "GET", "/health", 200, "ok\n")
            self.check_text(srv, "GET", "/ready", 200, "ready\n")
        finally:
            code, lines = srv.stop()
            long_sort.close()
        self.assertEqual(code, 0, "\n".join(lines))

    def test_ready_is_503_while_draining_and_health_stays_200(self):
        # A sort that takes seconds and a 2 s grace period: the drain lasts
        # until the grace period ends, and the endpoint answers meanwhile.
        grace = 2.0
        srv = Server("--threads", "1", "--max-elements", "500000", "--grace", str(grace))
        body = json.dumps(list(range(400000, 0, -1))).encode()
        s = socket.create_connection(("127.0.0.1", srv.sort_port), timeout=30)
        try:
            s.sendall(struct.pack(">Q", len(body)) + body)
            self.assertTrue(wait_until(lambda: val(srv.scrape(), "dnsort_sort_jobs", state="running") == 1))
            self.check_text(srv, "GET", "/ready", 200, "ready\n")
            t0 = time.monotonic()
            srv.signal()
            # The signal is handled on the loop: poll until /ready turns.
            self.assertTrue(wait_until(lambda: srv.http("GET", "/ready")[0] == 503, timeout=grace),
                            "/ready never answered 503 during the drain")
            self.check_text(srv, "GET", "/ready", 503, "not ready\n")
            self.check_text(srv, "HEAD", "/ready", 503, "not ready\n")
            self.check_text(srv, "GET", "/health", 200, "ok\n")
            snap = srv.scrape()
            self.assertGreaterEqual(val(snap, "dnsort_metrics_http_responses_total", code="503"), 3)
            self.assertEqual(val(snap, "dnsort_sort_jobs", state="running"), 1)
            self.assertLess(time.monotonic() - t0, grace, "the checks outlasted the drain")
            # The DNS and sort listeners are already closed.
            with self.assertRaises(OSError):
                socket.create_connection(("127.0.0.1", srv.sort_port), timeout=2).close()
            self.assertEqual(recv_all(s), b"", "the aborted sort sent a reply")
        finally:
            s.close()
            code, lines = srv.stop()
        self.assertEqual(code, 0, "\n".join(lines))
        self.assertIn("grace period", "\n".join(lines))
        # Gone with the process.
        with self.assertRaises(OSError):
            srv.http("GET", "/health")

    def test_ready_is_503_during_the_dns_drain_without_sorts(self):
        # No sort in flight: --drain-dns alone holds the endpoint open, and
        # DNS still answers while /ready says 503.
        srv = Server("--drain-dns", "1.5")
        try:
            self.check_text(srv, "GET", "/ready", 200, "ready\n")
            t0 = time.monotonic()
            srv.signal()
            self.assertTrue(wait_until(lambda: srv.http("GET", "/ready")[0] == 503, timeout=1.5),
                            "/ready never answered 503 during the DNS drain")
            self.check_text(srv, "GET", "/health", 200, "ok\n")
            self.assertIsNotNone(udp_exchange(srv.dns_port, dns_query("wipo.int")))
            self.assertLess(time.monotonic() - t0, 1.5, "the checks outlasted the drain")
        finally:
            code, lines = srv.stop()
        self.assertEqual(code, 0, "\n".join(lines))
        self.assertGreaterEqual(time.monotonic() - t0, 1.4, "closed before --drain-dns was over")
        with self.assertRaises(OSError):
            srv.http("GET", "/ready")


class HealthName(unittest.TestCase):
    """--health-name: what dnsdist's health check asks (checkName). NOERROR
    while serving; SERVFAIL from SIGTERM on, while every other name is
    still answered until --drain-dns ends and the sockets close."""

    HEALTH = "health.dnsort.test"

    def reply(self, pkt):
        self.assertIsNotNone(pkt, "no reply")
        rcode = pkt[3] & 0x0F
        ancount = struct.unpack(">H", pkt[6:8])[0]
        return rcode, ancount, pkt[-4:] if ancount == 1 else None

    def test_fails_from_sigterm_while_other_names_are_answered(self):
        # No --metrics: --health-name alone implies the 2 s drain.
        srv = Server("--health-name", "Health.DNSORT.test.", "--unknown", "nxdomain",
                     metrics=False)
        try:
            self.assertEqual(self.reply(udp_exchange(srv.dns_port, dns_query(self.HEALTH))),
                             (0, 1, bytes([127, 0, 0, 1])))
            tcp = tcp_exchange(srv.dns_port, [dns_query(self.HEALTH), dns_query(self.HEALTH, 28)])
            self.assertEqual([self.reply(r) for r in tcp], [(0, 1, bytes([127, 0, 0, 1])), (0, 0, None)])
            # A TCP connection opened before the signal, used after it.
            conn = socket.create_connection(("127.0.0.1", srv.dns_port), timeout=5)
            t0 = time.monotonic()
            srv.signal()
            self.assertTrue(wait_until(lambda: self.reply(udp_exchange(
                srv.dns_port, dns_query(self.HEALTH)))[0] == 2, timeout=1.5),
                "the health name never got SERVFAIL")
            # From here until the sockets close: the health name fails,
            # everything else is answered as before.
            answered_until, rounds = t0, 0
            while True:
                other = udp_exchange(srv.dns_port, dns_query("wipo.int"), timeout=0.3)
                if other is None:
                    break
                self.assertEqual(self.reply(other), (0, 1, bytes([193, 5, 93, 80])))
                health = udp_exchange(srv.dns_port, dns_query(self.HEALTH), timeout=0.3)
                if health is None:
                    break
                self.assertEqual(self.reply(health), (2, 0, None))
                unknown = udp_exchange(srv.dns_port, dns_query("no.such.test"), timeout=0.3)
                if unknown is None:
                    break
                self.assertEqual(self.reply(unknown), (3, 0, None))
                if rounds == 0:
                    wire = b"".join(struct.pack(">H", len(p)) + p for p in
                                    (dns_query(self.HEALTH), dns_query("yougov.com")))
                    conn.sendall(wire)
                    replies = read_tcp_replies(conn, 2)
                    self.assertEqual([self.reply(r) for r in replies],
                                     [(2, 0, None), (0, 1, bytes([213, 52, 133, 246]))])
                answered_until, rounds = time.monotonic(), rounds + 1
                time.sleep(0.05)
            conn.close()
        finally:
            code, lines = srv.stop()
        self.assertEqual(code, 0, "\n".join(lines))
        self.assertGreater(rounds, 0)
        # The implied drain: answers went on well past the signal.
        self.assertGreaterEqual(answered_until - t0, 1.5, "DNS closed before the 2 s drain was over")
        self.assertTrue(any("health name Health.DNSORT.test.: SERVFAIL" in l for l in lines),
                        "\n".join(lines))


class Lifecycle(unittest.TestCase):
    def test_listening_line_without_metrics_is_unchanged(self):
        srv = Server(metrics=False)
        try:
            self.assertRegex(srv.line, r"^dnsortd listening dns=udp://127\.0\.0\.1:\d+ "
                                       r"sort=tcp://127\.0\.0\.1:\d+$")
        finally:
            self.assertEqual(srv.stop()[0], 0)

    def test_sigterm_with_metrics_connections_open_exits_0(self):
        srv = Server()
        idle = socket.create_connection(("127.0.0.1", srv.metrics_port), timeout=5)
        half = socket.create_connection(("127.0.0.1", srv.metrics_port), timeout=5)
        half.sendall(b"GET /metrics HTTP/1.1\r\n")
        time.sleep(0.2)
        t0 = time.monotonic()
        code, lines = srv.stop()
        self.assertEqual(code, 0, "\n".join(lines))
        self.assertLess(time.monotonic() - t0, METRICS_TIMEOUT_S, "shutdown waited for metrics clients")
        self.assertIn("stopped cleanly", "\n".join(lines))
        self.assertEqual(recv_all(idle), b"")
        idle.close()
        half.close()

    def test_shutdown_outcome_is_counted_in_the_drain_line(self):
        # The endpoint closes once the sorts have drained, so the shutdown
        # outcome is reported by the drain summary.
        srv = Server()
        s = socket.create_connection(("127.0.0.1", srv.sort_port), timeout=10)
        s.sendall(struct.pack(">Q", 10) + b"[1,")
        self.assertTrue(wait_until(lambda: val(srv.scrape(), "dnsort_sort_connections") == 1))
        srv.signal()
        self.assertIn(b"server shutting down", recv_all(s))
        s.close()
        code, lines = srv.stop()
        self.assertEqual(code, 0)
        self.assertTrue(any(re.search(r"drained: 0 ok, 1 error replies, 0 cancelled, "
                                      r"1 refused as shutting down", l) for l in lines),
                        "\n".join(lines))

    def test_metrics_port_in_use_is_a_clear_error(self):
        with socket.socket() as taken:
            taken.bind(("127.0.0.1", 0))
            taken.listen(1)
            port = taken.getsockname()[1]
            r = subprocess.run([DNSORTD, "--dns", "127.0.0.1:0", "--sort", "127.0.0.1:0",
                                "--metrics", "127.0.0.1:%d" % port],
                               capture_output=True, text=True, timeout=10)
        self.assertEqual(r.returncode, 1)
        self.assertIn("dnsortd: cannot listen for metrics on tcp://127.0.0.1:%d: address already in use"
                      % port, r.stderr)
        self.assertEqual(r.stdout, "")

    def test_bad_metrics_address_exits_2(self):
        r = subprocess.run([DNSORTD, "--metrics", "localhost:9153"], capture_output=True, text=True,
                           timeout=10)
        self.assertEqual(r.returncode, 2)
        self.assertIn("--metrics", r.stderr)


class Logs(unittest.TestCase):
    def send_queries(self, srv, n_udp, n_tcp):
        for i in range(n_udp):
            self.assertIsNotNone(udp_exchange(srv.dns_port, dns_query("WiPo.int", qid=i)))
        if n_tcp:
            self.assertEqual(len(tcp_exchange(srv.dns_port,
                                              [dns_query("nope.example", qtype=15, qid=i)
                                               for i in range(n_tcp)])), n_tcp)

    def test_json_lines_parse_and_log_queries_logs_one_line_per_query(self):
        srv = Server("--log-format", "json", "--log-queries", "--threads", "1", metrics=False)
        n_udp, n_tcp = 12, 5
        self.send_queries(srv, n_udp, n_tcp)
        # A sort error logs at debug level with a quote in it.
        sort_exchange(srv.sort_port, b'["x"]')
        code, lines = srv.stop()
        self.assertEqual(code, 0)
        objs = []
        for line in lines:
            try:
                obj = json.loads(line)
            except ValueError:
                self.fail("not JSON: %r" % line)
            self.assertIsInstance(obj, dict)
            self.assertRegex(obj.get("ts", ""), r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
            self.assertIn(obj.get("level"), ("error", "warn", "info", "debug"))
            self.assertIsInstance(obj.get("msg"), str)
            objs.append(obj)
        queries = [o for o in objs if o["msg"] == "query"]
        self.assertEqual(len(queries), n_udp + n_tcp)
        udp = [o for o in queries if o["proto"] == "udp"]
        tcp = [o for o in queries if o["proto"] == "tcp"]
        self.assertEqual(len(udp), n_udp)
        self.assertEqual(len(tcp), n_tcp)
        for o in udp:
            self.assertEqual((o["qname"], o["qtype"], o["rcode"]), ("WiPo.int.", "A", "NOERROR"))
            self.assertRegex(o["client"], r"^127\.0\.0\.1:\d+$")
            self.assertEqual(o["level"], "info")
            # 12 header + 14 question + 16 for one A record (name compressed)
            self.assertEqual((o["source"], o["size"]), ("map", "42"))
            self.assertRegex(o["duration_us"], r"^\d+$")
        self.assertEqual(sorted(int(o["id"]) for o in udp), list(range(n_udp)))
        for o in tcp:
            self.assertEqual((o["qname"], o["qtype"], o["rcode"]), ("nope.example.", "MX", "NOERROR"))
            # Over TCP too: the client's address, as the connection's peer.
            self.assertRegex(o["client"], r"^127\.0\.0\.1:\d+$")
            self.assertEqual(o["source"], "map")
            self.assertRegex(o["duration_us"], r"^\d+$")
        self.assertEqual(len({o["client"] for o in tcp}), 1)  # one connection
        self.assertEqual(sorted(int(o["id"]) for o in tcp), list(range(n_tcp)))
        self.assertTrue(any(o["msg"].startswith("ready:") for o in objs))
        self.assertTrue(any(o["msg"] == "stopped cleanly" for o in objs))

    def test_text_query_lines(self):
        srv = Server("--log-queries", metrics=False, log_level="error")
        self.send_queries(srv, 7, 2)
        # A FORMERR without a question, and a name that needs escaping.
        udp_exchange(srv.dns_port, struct.pack(">HHHHHH", 1, 0x0100, 2, 0, 0, 0))
        pkt = struct.pack(">HHHHHH", 2, 0x0100, 1, 0, 0, 0) + b"\x03a b\x00\x00\x01\x00\x01"
        udp_exchange(srv.dns_port, pkt)
        code, lines = srv.stop()
        self.assertEqual(code, 0)
        # --log-queries is its own switch: the lines come whatever the level.
        queries = [l for l in lines if " dnsortd info: query " in l]
        self.assertEqual(len(queries), 11, "\n".join(lines))
        line_re = re.compile(r"^\d{4}-\d\d-\d\dT[\d:.]+Z dnsortd info: query proto=(udp|tcp)"
                             r" client=127\.0\.0\.1:\d+ id=(\d+) qname=(\S+) qtype=(\S+) rcode=(\S+)"
                             r" size=(\d+) source=(map|policy) duration_us=(\d+)$")
        parsed, extra = [], []
        for l in queries:
            m = line_re.match(l)
            self.assertIsNotNone(m, l)
            proto, qid, qname, qtype, rcode, size, source, _ = m.groups()
            parsed.append((proto, qname, qtype, rcode))
            extra.append((proto, int(qid), qname, int(size), source))
        self.assertEqual(parsed.count(("udp", "WiPo.int.", "A", "NOERROR")), 7)
        self.assertEqual(parsed.count(("tcp", "nope.example.", "MX", "NOERROR")), 2)
        self.assertIn(("udp", "-", "-", "FORMERR"), parsed)
        self.assertIn(("udp", "a\\032b.", "A", "NOERROR"), parsed)
        # The ID as sent, the reply's size, where the answer came from: a
        # FORMERR is the policy's (an error), a map name the map's.
        self.assertIn(("udp", 1, "-", 12, "policy"), extra)
        self.assertIn(("udp", 2, "a\\032b.", 12 + 9 + 16, "map"), extra)
        self.assertIn(("tcp", 1, "nope.example.", 30, "map"), extra)
        # Nothing below error but the query lines.
        self.assertEqual([l for l in lines if l not in queries], [])

    def test_no_query_lines_by_default(self):
        srv = Server(metrics=False)
        self.send_queries(srv, 5, 1)
        code, lines = srv.stop()
        self.assertEqual(code, 0)
        self.assertFalse([l for l in lines if "query proto=" in l])

    def test_startup_error_in_json(self):
        r = subprocess.run([DNSORTD, "--log-format", "json", "--hosts", "/nonexistent/hosts"],
                           capture_output=True, text=True, timeout=10)
        self.assertEqual(r.returncode, 2)
        lines = r.stderr.strip().split("\n")
        self.assertEqual(len(lines), 1, r.stderr)
        obj = json.loads(lines[0])
        self.assertEqual(obj["level"], "error")
        self.assertIn("/nonexistent/hosts", obj["msg"])


def main():
    global DNSORTD
    ap = argparse.ArgumentParser()
    ap.add_argument("--dnsortd", required=True)
    args, rest = ap.parse_known_args()
    DNSORTD = os.path.abspath(args.dnsortd)
    unittest.main(argv=[sys.argv[0], *rest], verbosity=2)


if __name__ == "__main__":
    main()
