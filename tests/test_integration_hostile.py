#!/usr/bin/env python3
"""Hostile clients against the real dnsortd: what a few cheap clients could
once take from everyone else, each checked through real sockets on
127.0.0.0/8 (issue 14).

- Length prefixes that announce big bodies and send none hold no memory,
  so they cannot lock others out of --max-inflight-bytes; a body that
  stalls gives its bytes back at --read-timeout.

Python standard library only. Run by meson test:
    test_integration_hostile.py --dnsortd PATH
"""
import argparse
import json
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

from test_integration_metrics import (LineCollector, dns_query, parse_exposition, recv_all,
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
    """Gnome sort's worst case: seconds of work for 100000 numbers."""
    return json.dumps(list(range(n, 0, -1))).encode()


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



def main():
    global DNSORTD
    ap = argparse.ArgumentParser()
    ap.add_argument("--dnsortd", required=True)
    args, rest = ap.parse_known_args()
    DNSORTD = os.path.abspath(args.dnsortd)
    unittest.main(argv=[sys.argv[0], *rest], verbosity=2)


if __name__ == "__main__":
    main()
