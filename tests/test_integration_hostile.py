#!/usr/bin/env python3
"""Hostile clients against the real dnsortd: what a few cheap clients could
once take from everyone else, each checked through real sockets on
127.0.0.0/8 (issue 14).

- Length prefixes that announce big bodies and send none hold no memory,
  so they cannot lock others out of --max-inflight-bytes; a body that
  stalls gives its bytes back at --read-timeout.
- A sort that runs past --max-sort-time is stopped and its client told;
  the bound counts from the start on a worker, not from queueing.
- One client address cannot hold more than --max-jobs-per-client of the
  queue, and a free worker goes to the client that has had the least
  worker time rather than to the oldest sort.
- SIGHUP reloads are not queued behind sorts.
- With a small open-file limit, sort connections leave --fd-reserve
  descriptors to DNS over TCP and metrics; when the connections together
  still use every descriptor, libuv sheds new ones without telling
  dnsortd, and dnsortd says so (a warning, dnsort_fd_exhaustions_total).

Python standard library only. Run by meson test:
    test_integration_hostile.py --dnsortd PATH
"""
import argparse
import json
import math
import os
import re
import resource
import select
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time
import unittest

from test_integration_metrics import (LineCollector, dns_query, has, parse_exposition, recv_all,
                                      tcp_exchange, udp_exchange, val, wait_until)

DNSORTD = None
LISTEN_RE = re.compile(r"^dnsortd listening dns=udp://(\S+):(\d+) sort=tcp://(\S+):(\d+)"
                       r" metrics=http://(\S+):(\d+)$")


class Server:
    """dnsortd on port 0 with metrics; nofile=(soft, hard) sets its
    open-file limit before it starts."""

    def __init__(self, *extra, nofile=None):
        def limit_files():
            if nofile is not None:
                resource.setrlimit(resource.RLIMIT_NOFILE, nofile)

        self.proc = subprocess.Popen(
            [DNSORTD, "--dns", "127.0.0.1:0", "--sort", "127.0.0.1:0", "--metrics",
             "127.0.0.1:0", "--log-level", "debug", *extra],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, preexec_fn=limit_files)
        self.log = LineCollector(self.proc.stderr)
        ready, _, _ = select.select([self.proc.stdout], [], [], 10)
        line = self.proc.stdout.readline().decode().strip() if ready else ""
        m = LISTEN_RE.match(line)
        if not m:
            self.kill()
            raise AssertionError("unexpected first line from dnsortd: %r\n%s"
                                 % (line, "\n".join(self.log.snapshot())))
        self.dns_port = int(m.group(2))
        self.sort_port = int(m.group(4))
        self.metrics_port = int(m.group(6))

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(10)
        self.log.thread.join(5)
        self.proc.stdout.close()
        self.proc.stderr.close()

    def stop(self, timeout=20):
        """SIGTERM; returns (exit code, stderr text)."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise AssertionError("dnsortd did not exit within %s s of SIGTERM" % timeout)
        self.log.thread.join(5)
        self.proc.stdout.close()
        self.proc.stderr.close()
        return self.proc.returncode, "\n".join(self.log.snapshot())

    def scrape(self, timeout=5.0):
        """The metrics, over a raw HTTP/1.0 request (no client library that
        might retry or pool connections)."""
        with socket.create_connection(("127.0.0.1", self.metrics_port), timeout=timeout) as s:
            s.sendall(b"GET /metrics HTTP/1.0\r\n\r\n")
            raw = recv_all(s)
        head, _, body = raw.partition(b"\r\n\r\n")
        if not head.startswith(b"HTTP/1.1 200"):
            raise AssertionError("GET /metrics: %r" % head[:80])
        return parse_exposition(body.decode())

    def connect(self, source="127.0.0.1", timeout=30):
        return socket.create_connection(("127.0.0.1", self.sort_port), timeout=timeout,
                                        source_address=(source, 0))

    def exchange(self, body, source="127.0.0.1", timeout=30):
        with self.connect(source, timeout) as s:
            s.sendall(struct.pack(">Q", len(body)) + body)
            return recv_all(s)


def frame(body):
    return struct.pack(">Q", len(body)) + body


def reversed_body(n):
    """Gnome sort's worst case: seconds of work for 400000 numbers
    (100000 take under half a second with the vectorised walk)."""
    return json.dumps(list(range(n, 0, -1))).encode()


def jobs_in_all(snap):
    """Sorts queued plus running, from one scrape: summed over two, a job
    that starts between them is counted twice, and a request still
    arriving looks queued."""
    return (val(snap, "dnsort_sort_jobs", state="queued")
            + val(snap, "dnsort_sort_jobs", state="running"))


def reset(s):
    """Close with a RST: the server cancels the client's sort at once (a
    plain FIN would be a half-close, and the reply still written)."""
    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    s.close()


class InflightBytes(unittest.TestCase):
    def test_prefix_only_connections_do_not_lock_others_out(self):
        # Each announces the largest body allowed and sends nothing more:
        # 64 x 8 MiB is twice the default --max-inflight-bytes. Charged at
        # the prefix, they left no room for anyone.
        srv = Server()
        held = []
        try:
            for _ in range(64):
                s = srv.connect()
                s.sendall(struct.pack(">Q", 8 << 20))
                held.append(s)
            self.assertTrue(wait_until(lambda: val(srv.scrape(), "dnsort_sort_connections") >= 64))
            for _ in range(5):
                self.assertEqual(srv.exchange(b"[2, 1]", timeout=10), b"[1, 2]")
            self.assertEqual(val(srv.scrape(), "dnsort_sort_inflight_bytes"), 0)
            # A body announced past what is free is still refused as soon as
            # its prefix arrives: only bytes held count, and none are.
            self.assertEqual(srv.exchange(b"[" + b" " * 1000 + b"3]", timeout=10), b"[3]")
        finally:
            for s in held:
                s.close()
            code, err = srv.stop()
        self.assertEqual(code, 0, err)

    def test_bytes_are_charged_as_they_arrive_and_freed_at_the_read_timeout(self):
        srv = Server("--max-inflight-bytes", "1000", "--read-timeout", "3")
        try:
            a = srv.connect()
            a.sendall(struct.pack(">Q", 900) + b"[" + b" " * 399)  # 400 of 900
            self.assertTrue(wait_until(lambda: val(srv.scrape(), "dnsort_sort_inflight_bytes") == 400))
            # 400 held: 600 is free, 601 is not (refused at its prefix).
            self.assertEqual(srv.exchange(b"[" + b" " * 597 + b"1]", timeout=10), b"[1]")
            self.assertIn("too many request bytes in flight",
                          json.loads(srv.exchange(b"[" + b" " * 598 + b"1]", timeout=10))["error"])
            # a grows past what is free while others hold bytes: b holds
            # 500, a's next 200 bytes would make 1100.
            b = srv.connect()
            b.sendall(struct.pack(">Q", 600) + b"[" + b" " * 499)
            self.assertTrue(wait_until(lambda: val(srv.scrape(), "dnsort_sort_inflight_bytes") == 900))
            a.sendall(b" " * 200)
            self.assertIn("too many request bytes in flight", json.loads(recv_all(a))["error"])
            a.close()
            # a's bytes went with its error; b's stay until its read timeout,
            # then go too.
            self.assertTrue(wait_until(lambda: val(srv.scrape(), "dnsort_sort_inflight_bytes") == 500))
            self.assertIn("timeout", json.loads(recv_all(b))["error"])
            b.close()
            self.assertEqual(val(srv.scrape(), "dnsort_sort_inflight_bytes"), 0)
            self.assertEqual(srv.exchange(b"[" + b" " * 997 + b"2]", timeout=10), b"[2]")
        finally:
            code, err = srv.stop()
        self.assertEqual(code, 0, err)


class SortTime(unittest.TestCase):
    def test_a_sort_past_max_sort_time_is_stopped_and_its_client_told(self):
        srv = Server("--threads", "1", "--max-sort-time", "0.5", "--max-elements", "500000")
        try:
            reply = srv.exchange(reversed_body(400000), timeout=60)
            self.assertEqual(json.loads(reply), {"error": "sort took longer than 0.5 s"})
            # The worker is free again: the next one does not wait behind it.
            self.assertEqual(srv.exchange(b"[2, 1]", timeout=10), b"[1, 2]")
            snap = srv.scrape()
            self.assertEqual(val(snap, "dnsort_sort_requests_total", outcome="timeout"), 1)
            self.assertEqual(val(snap, "dnsort_sort_requests_total", outcome="cancelled"), 0)
        finally:
            code, err = srv.stop()
        self.assertEqual(code, 0, err)
        self.assertIn("--max-sort-time", err)

    def test_the_bound_counts_from_the_start_on_a_worker_not_from_queueing(self):
        # One worker. The first sort holds it for the whole bound (and is
        # stopped); the second waits that long in the queue, then needs a
        # fraction of the bound to run: counted from queueing it would be
        # stopped as soon as it started.
        srv = Server("--threads", "1", "--max-sort-time", "4", "--max-elements", "500000")
        try:
            # The second sort must run for many deadline checks (100 ms
            # apart) and well inside the bound, whatever this build's
            # speed: sized from a timed sort, for about a second (gnome
            # sort's time grows with the square of the count).
            t0 = time.monotonic()
            self.assertTrue(srv.exchange(reversed_body(50000)).startswith(b"[1, 2, "))
            took = max(time.monotonic() - t0, 0.01)
            n = min(400000, max(10000, int(50000 * math.sqrt(1.0 / took))))
            first = srv.connect(timeout=60)
            first.sendall(frame(reversed_body(400000)))
            self.assertTrue(wait_until(lambda: val(srv.scrape(), "dnsort_sort_jobs", state="running") == 1))
            nums = list(range(n, 0, -1))
            second = srv.connect(timeout=60)
            second.sendall(frame(json.dumps(nums).encode()))
            self.assertEqual(json.loads(recv_all(first)), {"error": "sort took longer than 4 s"})
            self.assertEqual(json.loads(recv_all(second)), sorted(nums))
            first.close()
            second.close()
        finally:
            code, err = srv.stop()
        self.assertEqual(code, 0, err)

    def test_bad_values_are_refused(self):
        for bad in ("0", "-1", "0.0004", "86401", "x"):
            r = subprocess.run([DNSORTD, "--max-sort-time", bad], capture_output=True, text=True,
                               timeout=10)
            self.assertEqual(r.returncode, 2, bad)
            self.assertIn("--max-sort-time", r.stderr)


class FairShare(unittest.TestCase):
    def test_one_address_cannot_take_the_whole_queue(self):
        # Four jobs in all, two per address: at the edge, then past it.
        srv = Server("--threads", "1", "--max-queued-jobs", "4", "--max-jobs-per-client", "2",
                     "--max-elements", "500000")
        hog = []
        try:
            body = frame(reversed_body(400000))
            for _ in range(2):
                s = srv.connect("127.0.0.2")
                s.sendall(body)
                hog.append(s)
            self.assertTrue(wait_until(lambda: jobs_in_all(srv.scrape()) == 2))
            self.assertEqual(json.loads(srv.exchange(b"[1]", source="127.0.0.2", timeout=10)),
                             {"error": "server busy: too many sorts from your address"})
            # Another address still gets into the queue: its sort is
            # answered once the hog's (reset, so cancelled) are gone.
            other = srv.connect("127.0.0.3")
            other.sendall(frame(b"[2, 1]"))
            self.assertTrue(wait_until(lambda: val(srv.scrape(), "dnsort_sort_jobs", state="queued") == 2))
            for s in hog:
                reset(s)
            hog = []
            self.assertEqual(recv_all(other), b"[1, 2]")
            other.close()
            # The hog's share is free again.
            self.assertEqual(srv.exchange(b"[3, 1]", source="127.0.0.2", timeout=10), b"[1, 3]")
        finally:
            for s in hog:
                s.close()
            code, err = srv.stop()
        self.assertEqual(code, 0, err)

    def test_a_client_with_many_sorts_waits_for_its_own_not_others_for_them(self):
        # One worker; the hog queues three sorts, each stopped after 1 s. A
        # sort sent after them by another address runs as soon as the
        # worker is free (its client has had less worker time), not after
        # all three (libuv's pool alone is FIFO).
        srv = Server("--threads", "1", "--max-queued-jobs", "8", "--max-jobs-per-client", "4",
                     "--max-sort-time", "1", "--max-elements", "500000")
        hog = []
        try:
            body = frame(reversed_body(400000))
            for _ in range(3):
                s = srv.connect("127.0.0.2")
                s.sendall(body)
                hog.append(s)
            self.assertTrue(wait_until(lambda: val(srv.scrape(), "dnsort_sort_jobs", state="queued") == 2))
            self.assertEqual(srv.exchange(b"[2, 1]", source="127.0.0.3", timeout=30), b"[1, 2]")
            # Answered while two of the hog's sorts are still to run.
            snap = srv.scrape()
            self.assertEqual(jobs_in_all(snap), 2)
            self.assertEqual(json.loads(recv_all(hog[0])), {"error": "sort took longer than 1 s"})
        finally:
            for s in hog:
                reset(s)
            code, err = srv.stop()
        self.assertEqual(code, 0, err)

    def test_default_is_half_the_queue(self):
        srv = Server("--threads", "1", "--max-queued-jobs", "3", "--max-elements", "500000")
        hog = []
        try:
            s = srv.connect("127.0.0.4")
            s.sendall(frame(reversed_body(400000)))
            hog.append(s)
            self.assertTrue(wait_until(lambda: val(srv.scrape(), "dnsort_sort_jobs", state="running") == 1))
            # 3 / 2 = 1 per address.
            self.assertIn("too many sorts from your address",
                          json.loads(srv.exchange(b"[1]", source="127.0.0.4", timeout=10))["error"])
        finally:
            for s in hog:
                reset(s)
            code, err = srv.stop()
        self.assertEqual(code, 0, err)


def a_answers(reply):
    """The IPv4 addresses in the answer section of a reply to dns_query."""
    if reply is None or len(reply) < 12:
        return []
    ancount = struct.unpack(">H", reply[6:8])[0]
    pos = 12
    while reply[pos] != 0:
        pos += reply[pos] + 1
    pos += 5
    out = []
    for _ in range(ancount):
        pos += 2  # a pointer to the question's name
        rtype, _, _, rdlen = struct.unpack(">HHIH", reply[pos:pos + 10])
        pos += 10
        if rtype == 1:
            out.append(socket.inet_ntoa(reply[pos:pos + rdlen]))
        pos += rdlen
    return out


class Reload(unittest.TestCase):
    def test_sighup_is_applied_while_sorts_fill_every_worker(self):
        tmp = tempfile.TemporaryDirectory()
        hosts = os.path.join(tmp.name, "hosts")
        with open(hosts, "w") as f:
            f.write("192.0.2.1 reload.test\n")
        srv = Server("--threads", "1", "--hosts", hosts, "--max-elements", "500000")
        sorts = []
        try:
            body = frame(reversed_body(400000))
            for _ in range(4):  # one running, three queued: tens of seconds of work
                s = srv.connect(timeout=120)
                s.sendall(body)
                sorts.append(s)
            self.assertTrue(wait_until(lambda: val(srv.scrape(), "dnsort_sort_jobs", state="queued") == 3))
            with open(hosts, "w") as f:
                f.write("192.0.2.2 reload.test\n")
            srv.proc.send_signal(signal.SIGHUP)
            self.assertTrue(wait_until(
                lambda: a_answers(udp_exchange(srv.dns_port, dns_query("reload.test"))) == ["192.0.2.2"],
                timeout=10), "the reload waited behind the sorts")
            # Still behind them: every sort is pending, none was answered.
            snap = srv.scrape()
            self.assertEqual(val(snap, "dnsort_sort_jobs", state="queued")
                             + val(snap, "dnsort_sort_jobs", state="running"), 4)
            self.assertEqual(val(snap, "dnsort_dns_map_reloads_total", result="ok"), 1)
        finally:
            for s in sorts:
                reset(s)
            code, err = srv.stop()
            tmp.cleanup()
        self.assertEqual(code, 0, err)


class FileDescriptors(unittest.TestCase):
    def test_idle_sort_connections_leave_dns_tcp_and_metrics_working(self):
        srv = Server(nofile=(128, 128))
        held = []
        try:
            for _ in range(300):
                held.append(srv.connect(timeout=5))
            # DNS over TCP, metrics and UDP keep working...
            for i in range(5):
                replies = tcp_exchange(srv.dns_port, [dns_query("wipo.int", qid=i)])
                self.assertEqual(len(replies), 1)
                self.assertEqual(a_answers(replies[0]), ["193.5.93.80"])
            self.assertEqual(a_answers(udp_exchange(srv.dns_port, dns_query("wipo.int"))),
                             ["193.5.93.80"])
            # ... because the sort service stopped at its budget (64 open at
            # most with the default reserve of 64: 52 served, 12 told busy,
            # the other 236 dropped) rather than at EMFILE.
            self.assertTrue(wait_until(
                lambda: val(srv.scrape(), "dnsort_sort_connections_accepted_total") == 64))
            snap = srv.scrape()
            self.assertEqual(val(snap, "dnsort_sort_requests_total", outcome="busy"), 300 - 52)
            self.assertEqual(val(snap, "dnsort_sort_accept_errors_total"), 0)
            self.assertEqual(val(snap, "dnsort_dns_tcp_accept_errors_total"), 0)
            # Every sort connection past the served 52 was told or shed.
            busy = 0
            for s in held:
                s.settimeout(0.05)
                try:
                    busy += b"server busy" in s.recv(100)
                except (socket.timeout, ConnectionResetError):
                    pass
            self.assertEqual(busy, 64 - 52)
            for s in held:
                s.close()
            held = []
            self.assertTrue(wait_until(lambda: val(srv.scrape(), "dnsort_sort_connections") == 0))
            self.assertEqual(srv.exchange(b"[2, 1]", timeout=10), b"[1, 2]")
        finally:
            for s in held:
                s.close()
            code, err = srv.stop()
        self.assertEqual(code, 0, err)
        self.assertIn("exceed the open-file limit of 128", err)
        self.assertIn("sort: at most 64 connections open (52 served", err)

    def test_running_out_of_descriptors_is_warned_and_counted(self):
        # Nothing times out by itself while the descriptors are held.
        srv = Server("--read-timeout", "60", "--dns-tcp-idle-timeout", "60", nofile=(128, 128))
        held = []
        warned = lambda lines: any("open files 128 of limit 128: new TCP connections" in l
                                   and "--max-connections" in l for l in lines)
        try:
            snap = srv.scrape()
            self.assertTrue(has(snap, "dnsort_fd_exhaustions_total"))
            self.assertEqual(val(snap, "dnsort_fd_exhaustions_total"), 0)
            self.assertTrue(has(snap, "dnsort_fd_exhausted"))
            self.assertEqual(val(snap, "dnsort_fd_exhausted"), 0)
            # Idle sort connections, as many as the sort service serves
            # within its share (52 of 64 of 128: told "server busy", more
            # would be closed and give their descriptors back), then idle
            # DNS-over-TCP connections (--dns-tcp-max-connections 1024,
            # more than the limit leaves) take the rest.
            for _ in range(52):
                held.append(srv.connect(timeout=5))
            self.assertTrue(wait_until(lambda: val(srv.scrape(), "dnsort_sort_connections") == 52))
            self.assertFalse(warned(srv.log.snapshot()))
            for _ in range(80):
                held.append(socket.create_connection(("127.0.0.1", srv.dns_port), timeout=5))
            self.assertTrue(srv.log.wait_for(warned, timeout=10), "\n".join(srv.log.snapshot()))
            # A connection past the limit: libuv accepts and closes it
            # before dnsortd sees it, so no reply, only the end.
            with srv.connect(timeout=5) as late:
                try:
                    late.sendall(frame(b"[2, 1]"))
                    self.assertEqual(late.recv(100), b"")
                except (ConnectionResetError, BrokenPipeError):
                    pass
            for s in held:
                s.close()
            held = []
            self.assertTrue(srv.log.wait_for(
                lambda lines: any("file descriptors free again" in l for l in lines), timeout=10))
            snap = srv.scrape()
            self.assertEqual(val(snap, "dnsort_fd_exhaustions_total"), 1)
            self.assertEqual(val(snap, "dnsort_fd_exhausted"), 0)
            # libuv told net_tcp nothing: the accept errors stay at 0.
            self.assertEqual(val(snap, "dnsort_sort_accept_errors_total"), 0)
            self.assertEqual(val(snap, "dnsort_dns_tcp_accept_errors_total"), 0)
            self.assertEqual(srv.exchange(b"[2, 1]", timeout=10), b"[1, 2]")
        finally:
            for s in held:
                s.close()
            code, err = srv.stop()
        self.assertEqual(code, 0, err)
        self.assertEqual(sum(1 for l in err.splitlines() if "open files 128 of limit 128" in l), 1)

    def test_soft_limit_is_raised_to_the_hard_one(self):
        srv = Server(nofile=(128, 1024))
        try:
            with open("/proc/%d/limits" % srv.proc.pid) as f:
                line = next(l for l in f if l.startswith("Max open files"))
            self.assertEqual(line.split()[3:5], ["1024", "1024"])
        finally:
            code, err = srv.stop()
        self.assertEqual(code, 0, err)
        self.assertIn("open-file limit raised from 128 to 1024", err)


def main():
    global DNSORTD
    ap = argparse.ArgumentParser()
    ap.add_argument("--dnsortd", required=True)
    args, rest = ap.parse_known_args()
    DNSORTD = os.path.abspath(args.dnsortd)
    unittest.main(argv=[sys.argv[0], *rest], verbosity=2)


if __name__ == "__main__":
    main()
