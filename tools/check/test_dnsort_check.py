#!/usr/bin/env python3
"""dnsort-check against the real dnsortd (must pass) and against fake
servers that get one detail wrong each (must fail with exit 1 and one line
on stderr naming the problem), plus its usage errors (exit 2). --http
against dnsortd's /health, /ready and /metrics and against fake HTTP
servers.

Run by meson test: test_dnsort_check.py --check PATH --dnsortd PATH
"""
import argparse
import re
import select
import socket
import struct
import subprocess
import sys
import threading
import unittest

CHECK = None
DNSORTD = None
LISTEN_RE = re.compile(r"^dnsortd listening dns=udp://(\S+):(\d+) sort=tcp://(\S+):(\d+)"
                       r"(?: metrics=http://(\S+):(\d+))?$")
FACEBOOK = bytes([173, 252, 120, 6])


def run_check(*args, timeout=10):
    p = subprocess.run([CHECK, *args], capture_output=True, text=True, timeout=timeout)
    return p.returncode, p.stdout, p.stderr


class Dnsortd:
    def __init__(self, *extra):
        self.proc = subprocess.Popen(
            [DNSORTD, "--dns", "127.0.0.1:0", "--sort", "127.0.0.1:0", *extra],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        ready, _, _ = select.select([self.proc.stdout], [], [], 10)
        line = self.proc.stdout.readline().decode().strip() if ready else ""
        m = LISTEN_RE.match(line)
        if not m:
            self.proc.kill()
            self.proc.wait()
            raise AssertionError("dnsortd did not start: %r" % line)
        self.dns = "127.0.0.1:%s" % m.group(2)
        self.sort = "127.0.0.1:%s" % m.group(4)
        self.metrics = "127.0.0.1:%s" % m.group(6) if m.group(6) else None

    def close(self):
        self.proc.terminate()
        self.proc.wait(15)


class FakeDns(threading.Thread):
    """Answers each query with reply(query) -> list of packets."""

    def __init__(self, reply):
        super().__init__(daemon=True)
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.addr = "127.0.0.1:%d" % self.sock.getsockname()[1]
        self.reply = reply
        self.start()

    def run(self):
        while True:
            try:
                q, peer = self.sock.recvfrom(4096)
            except OSError:
                return
            for pkt in self.reply(q):
                self.sock.sendto(pkt, peer)

    def close(self):
        self.sock.close()


def answer(q, qid=None, flags=0x8500, addr=FACEBOOK, question=None, rtype=1):
    """A response to query q: header, the question echoed, one record."""
    qid = struct.unpack(">H", q[:2])[0] if qid is None else qid
    question = q[12:] if question is None else question
    ancount = 0 if addr is None else 1
    pkt = struct.pack(">HHHHHH", qid, flags, 1, ancount, 0, 0) + question
    if addr is not None:
        pkt += b"\xc0\x0c" + struct.pack(">HHIH", rtype, 1, 60, len(addr)) + addr
    return pkt


class FakeTcp(threading.Thread):
    """A listener on 127.0.0.1: each connection's request is read with
    read_request(conn), kept in requests, and answered with reply (None:
    nothing); then the connection is closed, or with hold=True kept open
    until close()."""

    def __init__(self, reply, hold=False):
        super().__init__(daemon=True)
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.addr = "127.0.0.1:%d" % self.sock.getsockname()[1]
        self.reply = reply
        self.hold = hold
        self.requests = []
        self.held = []
        self.start()

    def run(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.requests.append(self.read_request(conn))
            if self.reply is not None:
                conn.sendall(self.reply)
            if self.hold:
                self.held.append(conn)
            else:
                conn.close()

    def close(self):
        self.sock.close()
        for c in self.held:
            c.close()


class FakeSort(FakeTcp):
    """Reads the framed request (8-byte length, body)."""

    @staticmethod
    def read_request(conn):
        data = b""
        while True:
            chunk = conn.recv(4096)
            if not chunk:
                break
            data += chunk
            if len(data) >= 8 and len(data) >= 8 + struct.unpack(">Q", data[:8])[0]:
                break
        return data


class FakeHttp(FakeTcp):
    """Reads a request head, up to the blank line."""

    @staticmethod
    def read_request(conn):
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = conn.recv(4096)
            if not chunk:
                break
            data += chunk
        return data


def closed_port(kind):
    s = socket.socket(socket.AF_INET, kind)
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return "127.0.0.1:%d" % port


class RealServer(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.srv = Dnsortd()

    @classmethod
    def tearDownClass(cls):
        cls.srv.close()

    def test_passes(self):
        rc, out, err = run_check("--dns", self.srv.dns, "--sort", self.srv.sort)
        self.assertEqual((rc, err), (0, ""))
        self.assertIn("ok", out)

    def test_other_name(self):
        rc, _, err = run_check("--dns", self.srv.dns, "--sort", self.srv.sort,
                               "--name", "wipo.int", "--expect", "193.5.93.80")
        self.assertEqual((rc, err), (0, ""))

    def test_wrong_expectation(self):
        rc, _, err = run_check("--dns", self.srv.dns, "--sort", self.srv.sort,
                               "--expect", "192.0.2.1")
        self.assertEqual(rc, 1)
        self.assertIn("173.252.120.6", err)
        self.assertEqual(err.count("\n"), 1)

    def test_dns_port_closed(self):
        rc, _, err = run_check("--dns", closed_port(socket.SOCK_DGRAM), "--sort", self.srv.sort)
        self.assertEqual(rc, 1)
        self.assertRegex(err, r"^dnsort-check: dns: .*(refused|no reply)")

    def test_sort_port_closed(self):
        rc, _, err = run_check("--dns", self.srv.dns, "--sort", closed_port(socket.SOCK_STREAM))
        self.assertEqual(rc, 1)
        self.assertRegex(err, r"^dnsort-check: sort: .*refused")


class FakeServers(unittest.TestCase):
    """A real dnsortd for the side that is not under test."""

    @classmethod
    def setUpClass(cls):
        cls.srv = Dnsortd()

    @classmethod
    def tearDownClass(cls):
        cls.srv.close()

    def dns_case(self, reply, *args):
        fake = FakeDns(reply)
        try:
            return run_check("--dns", fake.addr, "--sort", self.srv.sort, "--timeout", "1.5", *args)
        finally:
            fake.close()

    def sort_case(self, reply):
        fake = FakeSort(reply)
        try:
            rc, out, err = run_check("--dns", self.srv.dns, "--sort", fake.addr, "--timeout", "1.5")
        finally:
            fake.close()
        return rc, out, err, fake.requests

    def test_foreign_ids_are_ignored(self):
        rc, _, err = self.dns_case(lambda q: [answer(q, qid=struct.unpack(">H", q[:2])[0] ^ 1), answer(q)])
        self.assertEqual((rc, err), (0, ""))

    def test_only_wrong_id(self):
        rc, _, err = self.dns_case(lambda q: [answer(q, qid=struct.unpack(">H", q[:2])[0] ^ 0x8000)])
        self.assertEqual(rc, 1)
        self.assertIn("another ID", err)

    def test_query_shape(self):
        seen = []
        rc, _, _ = self.dns_case(lambda q: (seen.append(q), [answer(q)])[1])
        self.assertEqual(rc, 0)
        q = seen[0]
        self.assertEqual(struct.unpack(">HHHH", q[2:10]), (0x0100, 1, 0, 0))
        self.assertEqual(q[12:], b"\x08facebook\x03com\x00\x00\x01\x00\x01")

    def test_qr_zero(self):
        rc, _, err = self.dns_case(lambda q: [answer(q, flags=0x0500)])
        self.assertEqual(rc, 1)
        self.assertIn("QR=0", err)

    def test_truncated(self):
        rc, _, err = self.dns_case(lambda q: [answer(q, flags=0x8700)])
        self.assertEqual(rc, 1)
        self.assertIn("TC=1", err)

    def test_nxdomain(self):
        rc, _, err = self.dns_case(lambda q: [answer(q, flags=0x8503, addr=None)])
        self.assertEqual(rc, 1)
        self.assertIn("NXDOMAIN", err)

    def test_wrong_address(self):
        rc, _, err = self.dns_case(lambda q: [answer(q, addr=bytes([127, 0, 0, 1]))])
        self.assertEqual(rc, 1)
        self.assertIn("127.0.0.1, expected 173.252.120.6", err)

    def test_no_answer(self):
        rc, _, err = self.dns_case(lambda q: [answer(q, addr=None)])
        self.assertEqual(rc, 1)
        self.assertIn("no answer", err)

    def test_aaaa_only(self):
        rc, _, err = self.dns_case(lambda q: [answer(q, addr=bytes(16), rtype=28)])
        self.assertEqual(rc, 1)
        self.assertIn("no A record", err)

    def test_question_not_echoed(self):
        rc, _, err = self.dns_case(
            lambda q: [answer(q, question=b"\x08facebook\x03org\x00\x00\x01\x00\x01")])
        self.assertEqual(rc, 1)
        self.assertIn("question", err)

    def test_truncated_record(self):
        rc, _, err = self.dns_case(lambda q: [answer(q)[:-2]])
        self.assertEqual(rc, 1)
        self.assertIn("answer record 1", err)

    def test_owner_pointer_to_itself(self):
        def reply(q):
            pkt = bytearray(answer(q))
            pkt[len(q) + 1] = len(q)  # the owner's pointer aims at itself
            return [bytes(pkt)]
        rc, _, err = self.dns_case(reply)
        self.assertEqual(rc, 1)
        self.assertIn("malformed answer record 1", err)

    def test_silent_dns(self):
        rc, _, err = self.dns_case(lambda q: [])
        self.assertEqual(rc, 1)
        self.assertIn("no reply", err)

    def test_sort_request_framing(self):
        rc, _, err, reqs = self.sort_case(b"[1, 2, 3]")
        self.assertEqual((rc, err), (0, ""))
        self.assertEqual(reqs[0], struct.pack(">Q", 9) + b"[3, 1, 2]")

    def test_sort_wrong_format(self):
        rc, _, err, _ = self.sort_case(b"[1,2,3]")
        self.assertEqual(rc, 1)
        self.assertIn("got [1,2,3]", err)

    def test_sort_error_reply(self):
        rc, _, err, _ = self.sort_case(b'{"error": "server busy"}')
        self.assertEqual(rc, 1)
        self.assertIn("server busy", err)

    def test_sort_extra_bytes(self):
        rc, _, err, _ = self.sort_case(b"[1, 2, 3]\n")
        self.assertEqual(rc, 1)

    def test_sort_no_reply(self):
        rc, _, err, _ = self.sort_case(None)
        self.assertEqual(rc, 1)
        self.assertIn("without a reply", err)

    def test_sort_silent(self):
        # Accepts but never answers: the deadline ends it.
        lst = socket.socket()
        lst.bind(("127.0.0.1", 0))
        lst.listen(1)
        try:
            rc, _, err = run_check("--dns", self.srv.dns, "--sort",
                                   "127.0.0.1:%d" % lst.getsockname()[1], "--timeout", "0.5")
        finally:
            lst.close()
        self.assertEqual(rc, 1)
        self.assertIn("no reply", err)


class Http(unittest.TestCase):
    """--http against dnsortd's metrics listener and against fakes."""

    @classmethod
    def setUpClass(cls):
        cls.srv = Dnsortd("--metrics", "127.0.0.1:0")

    @classmethod
    def tearDownClass(cls):
        cls.srv.close()

    def test_health_ready_and_metrics_of_dnsortd(self):
        for arg, path in ((self.srv.metrics, "/health"), ("http://%s/ready" % self.srv.metrics, "/ready"),
                          (self.srv.metrics + "/metrics", "/metrics")):
            rc, out, err = run_check("--http", arg)
            self.assertEqual((rc, err), (0, ""), arg)
            # --http alone checks nothing else.
            self.assertEqual(out, "dnsort-check: ok: 200 from http://%s%s\n" % (self.srv.metrics, path))

    def test_http_with_dns_and_sort(self):
        rc, out, err = run_check("--http", self.srv.metrics, "--dns", self.srv.dns, "--sort", self.srv.sort)
        self.assertEqual((rc, err), (0, ""))
        for part in ("udp://" + self.srv.dns, "tcp://" + self.srv.sort, "http://" + self.srv.metrics):
            self.assertIn(part, out)
        # The DNS check still runs, and still fails when it should.
        rc, _, err = run_check("--http", self.srv.metrics, "--dns", self.srv.dns, "--expect", "192.0.2.1")
        self.assertEqual(rc, 1)
        self.assertIn("expected 192.0.2.1", err)

    def test_not_found(self):
        rc, _, err = run_check("--http", self.srv.metrics + "/healthz")
        self.assertEqual(rc, 1)
        self.assertEqual(err, "dnsort-check: http: http://%s/healthz: 404 Not Found\n" % self.srv.metrics)

    def test_port_closed(self):
        rc, _, err = run_check("--http", closed_port(socket.SOCK_STREAM))
        self.assertEqual(rc, 1)
        self.assertRegex(err, r"^dnsort-check: http: tcp://127\.0\.0\.1:\d+: Connection refused\n$")

    def fake(self, reply, *args, hold=False, path="/ready"):
        f = FakeHttp(reply, hold=hold)
        try:
            rc, out, err = run_check("--http", f.addr + path, "--timeout", "1", *args)
        finally:
            f.close()
        return rc, out, err, f.requests

    def test_request_shape(self):
        rc, _, err, reqs = self.fake(b"HTTP/1.0 200 OK\r\n\r\n")
        self.assertEqual((rc, err), (0, ""))
        lines = reqs[0].decode().split("\r\n")
        self.assertEqual(lines[0], "GET /ready HTTP/1.1")
        self.assertIn("Connection: close", lines)
        self.assertTrue(any(re.fullmatch(r"Host: 127\.0\.0\.1:\d+", l) for l in lines), lines)
        self.assertTrue(reqs[0].endswith(b"\r\n\r\n"))

    def test_503(self):
        rc, _, err, _ = self.fake(b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 10\r\n\r\nnot ready\n")
        self.assertEqual(rc, 1)
        self.assertRegex(err, r"^dnsort-check: http: http://127\.0\.0\.1:\d+/ready: 503 Service Unavailable\n$")

    def test_not_http(self):
        rc, _, err, _ = self.fake(b"SSH-2.0-OpenSSH_9.2\r\n")
        self.assertEqual(rc, 1)
        self.assertIn("not an HTTP response: SSH-2.0", err)
        rc, _, err, _ = self.fake(b"HTTP/1.1 2000 OK\r\n\r\n")
        self.assertEqual(rc, 1)
        self.assertIn("not an HTTP response", err)

    def test_closed_without_response(self):
        rc, _, err, _ = self.fake(None)
        self.assertEqual(rc, 1)
        self.assertIn("without a response", err)

    def test_silent_and_partial(self):
        rc, _, err, _ = self.fake(None, hold=True)
        self.assertEqual(rc, 1)
        self.assertIn("no response", err)
        rc, _, err, _ = self.fake(b"HTTP/1.1 20", hold=True)
        self.assertEqual(rc, 1)
        self.assertIn("partial response: HTTP/1.1 20", err)
        # A whole status line is enough, even if the connection stays open.
        rc, _, err, _ = self.fake(b"HTTP/1.1 200 OK\r\n", hold=True)
        self.assertEqual((rc, err), (0, ""))


class Usage(unittest.TestCase):
    def test_help(self):
        rc, out, err = run_check("--help")
        self.assertEqual(rc, 0)
        self.assertIn("Usage: dnsort-check", out)

    def test_errors(self):
        for args in (["--dns", "localhost:53"], ["--sort", "127.0.0.1"], ["--dns", "[::1]:99999"],
                     ["--timeout", "0"], ["--timeout", "x"], ["--expect", "::1"],
                     ["--name", "a..b"], ["--bogus"], ["--dns"], ["extra"],
                     ["--http", "localhost:9153"], ["--http", "127.0.0.1"], ["--http", ""],
                     ["--http", "127.0.0.1:0/health"], ["--http", "127.0.0.1:9153/a b"],
                     ["--http", "127.0.0.1:9153/" + "a" * 300], ["--http", "http://"],
                     ["--http", "127.0.0.1:9153", "--name", "wipo.int"]):
            rc, out, err = run_check(*args)
            self.assertEqual(rc, 2, args)
            self.assertEqual(err.count("\n"), 1, (args, err))
            self.assertTrue(err.startswith("dnsort-check: "), (args, err))


def main():
    global CHECK, DNSORTD
    ap = argparse.ArgumentParser()
    ap.add_argument("--check", required=True)
    ap.add_argument("--dnsortd", required=True)
    args, rest = ap.parse_known_args()
    CHECK, DNSORTD = args.check, args.dnsortd
    unittest.main(argv=[sys.argv[0], *rest], verbosity=2)


if __name__ == "__main__":
    main()
