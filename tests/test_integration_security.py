#!/usr/bin/env python3
"""Integration tests for --allow, --sort-allow and response rate limiting
(--rrl-rate, --rrl-slip): the real dnsortd on ephemeral ports on
127.0.0.1, clients bound to other addresses of 127/8 (all of it is local),
raw sockets and dig. Each behaviour is checked on the wire and in the
metrics counters.

Python standard library (and dig, when installed). Run by meson test:
    test_integration_security.py --dnsortd PATH
"""
import argparse
import http.client
import re
import select
import shutil
import socket
import struct
import subprocess
import sys
import threading
import time
import unittest

DNSORTD = None
LISTEN_RE = re.compile(r"^dnsortd listening dns=udp://(\S+):(\d+) sort=tcp://(\S+):(\d+)"
                       r" metrics=http://(\S+):(\d+)$")
SAMPLE_RE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$')
RCODE_NOERROR, RCODE_FORMERR, RCODE_REFUSED = 0, 1, 5
FLAG_TC = 0x0200
FACEBOOK = bytes([173, 252, 120, 6])   # the built-in map's facebook.com
WIPO = bytes([193, 5, 93, 80])
# How long a client waits for a reply that should come (loaded machine)
# and one that should not.
REPLY_WAIT_S = 5.0
SILENCE_S = 0.3


class Server:
    """dnsortd on port 0 with metrics; the ports are read back from its
    listening line. stderr is collected on a thread (so a chatty child
    never blocks)."""

    def __init__(self, *extra, dns="127.0.0.1:0"):
        args = [DNSORTD, "--dns", dns, "--sort", "127.0.0.1:0",
                "--metrics", "127.0.0.1:0", *extra]
        self.proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self.lines = []
        self.reader = threading.Thread(target=self._read_stderr, daemon=True)
        self.reader.start()
        ready, _, _ = select.select([self.proc.stdout], [], [], 10)
        line = self.proc.stdout.readline().decode().strip() if ready else ""
        m = LISTEN_RE.match(line)
        if not m:
            self.stop()
            raise AssertionError("unexpected first line from dnsortd: %r\n%s"
                                 % (line, "\n".join(self.lines)))
        self.dns_host = m.group(1).strip("[]")
        self.dns_port = int(m.group(2))
        self.sort_port = int(m.group(4))
        self.metrics_port = int(m.group(6))

    def _read_stderr(self):
        for raw in iter(self.proc.stderr.readline, b""):
            self.lines.append(raw.decode("utf-8", "replace").rstrip("\n"))

    def stop(self):
        """SIGTERM; returns the exit code."""
        if self.proc.poll() is None:
            self.proc.terminate()
        try:
            self.proc.wait(15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)
        self.reader.join(5)
        self.proc.stdout.close()
        self.proc.stderr.close()
        return self.proc.returncode

    def metrics(self):
        """{name{labels}: value} of one scrape."""
        conn = http.client.HTTPConnection("127.0.0.1", self.metrics_port, timeout=10)
        try:
            conn.request("GET", "/metrics")
            r = conn.getresponse()
            body = r.read().decode()
        finally:
            conn.close()
        out = {}
        for line in body.splitlines():
            m = SAMPLE_RE.match(line)
            if m and not line.startswith("#"):
                key = m.group(1) + ("{%s}" % m.group(2) if m.group(2) else "")
                out[key] = float(m.group(3))
        return out


# ---------------------------------------------------------------- DNS --

def query(name, qid=0x4242, qtype=1, edns=False):
    flags = 0x0100
    pkt = struct.pack(">HHHHHH", qid, flags, 1, 0, 0, 1 if edns else 0)
    for label in name.split("."):
        pkt += bytes([len(label)]) + label.encode()
    pkt += b"\x00" + struct.pack(">HH", qtype, 1)
    if edns:
        pkt += b"\x00" + struct.pack(">HHIH", 41, 1232, 0, 0)
    return pkt


def parse_reply(data):
    """(id, flags, rcode, ancount, the A addresses in the answer)."""
    qid, flags, qd, an, _, _ = struct.unpack(">HHHHHH", data[:12])
    pos = 12
    for _ in range(qd):
        while data[pos] != 0:
            pos += 1 + data[pos]
        pos += 5
    addrs = []
    for _ in range(an):
        if data[pos] & 0xC0 == 0xC0:
            pos += 2
        else:
            while data[pos] != 0:
                pos += 1 + data[pos]
            pos += 1
        rtype, _, _, rdlen = struct.unpack(">HHIH", data[pos:pos + 10])
        pos += 10
        if rtype == 1:
            addrs.append(data[pos:pos + rdlen])
        pos += rdlen
    return qid, flags, flags & 0x000F, an, addrs


def udp_client(source, family=socket.AF_INET):
    s = socket.socket(family, socket.SOCK_DGRAM)
    s.bind((source, 0))
    return s


def udp_ask(server, source, pkt, wait=REPLY_WAIT_S, family=socket.AF_INET):
    """The reply to one datagram from source, or None."""
    with udp_client(source, family) as s:
        s.settimeout(wait)
        s.sendto(pkt, (server.dns_host, server.dns_port))
        try:
            return s.recv(65535)
        except socket.timeout:
            return None


def tcp_ask(server, source, pkts, family=socket.AF_INET):
    """The replies to pkts, pipelined on one connection from source."""
    with socket.socket(family, socket.SOCK_STREAM) as s:
        s.settimeout(REPLY_WAIT_S)
        s.bind((source, 0))
        s.connect((server.dns_host, server.dns_port))
        s.sendall(b"".join(struct.pack(">H", len(p)) + p for p in pkts))
        replies, buf = [], b""
        while len(replies) < len(pkts):
            chunk = s.recv(65535)
            if not chunk:
                break
            buf += chunk
            while len(buf) >= 2 and len(buf) >= 2 + struct.unpack(">H", buf[:2])[0]:
                n = struct.unpack(">H", buf[:2])[0]
                replies.append(buf[2:2 + n])
                buf = buf[2 + n:]
        return replies


def flood(server, source, pkt, count, collect_s=1.0):
    """Send count copies of pkt from source as fast as the socket takes
    them; return the replies that come back within collect_s of the
    last one sent."""
    replies = []
    with udp_client(source) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
        for _ in range(count):
            s.sendto(pkt, (server.dns_host, server.dns_port))
        deadline = time.monotonic() + collect_s
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                break
            s.settimeout(left)
            try:
                replies.append(s.recv(65535))
            except socket.timeout:
                break
    return replies


def dig(server, *args):
    out = subprocess.run(["dig", "@" + server.dns_host, "-p", str(server.dns_port),
                          "+tries=1", "+time=3", *args],
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=30)
    return out.stdout.decode()


def sort_request(server, source, numbers=b"[3, 1, 2]"):
    """What the sort port sends back to a request from source, until it
    closes."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.settimeout(REPLY_WAIT_S)
        s.bind((source, 0))
        s.connect(("127.0.0.1", server.sort_port))
        try:
            s.sendall(struct.pack(">Q", len(numbers)) + numbers)
        except (BrokenPipeError, ConnectionResetError):
            return b""
        out = b""
        while True:
            try:
                chunk = s.recv(65536)
            except ConnectionResetError:
                break
            if not chunk:
                break
            out += chunk
        return out


HAVE_DIG = shutil.which("dig") is not None


# -------------------------------------------------------------- tests --

class AllowList(unittest.TestCase):
    """--allow 127.0.0.1/32: 127.0.0.2 is outside it."""

    @classmethod
    def setUpClass(cls):
        cls.srv = Server("--allow", "127.0.0.1/32", "--sort-allow", "127.0.0.1/32")

    @classmethod
    def tearDownClass(cls):
        code = cls.srv.stop()
        if code != 0:
            raise AssertionError("dnsortd exited %d\n%s" % (code, "\n".join(cls.srv.lines)))

    def test_startup_log_names_the_lists(self):
        text = "\n".join(self.srv.lines)
        self.assertIn("DNS clients allowed by 1 --allow rule(s)", text)
        self.assertIn("sort clients allowed by 1 --sort-allow rule(s)", text)
        self.assertIn("response rate limiting off (every DNS listener is on loopback", text)

    def test_udp_inside_is_answered_outside_is_refused(self):
        before = self.srv.metrics()
        reply = udp_ask(self.srv, "127.0.0.1", query("facebook.com", qid=1))
        self.assertIsNotNone(reply)
        qid, flags, rcode, an, addrs = parse_reply(reply)
        self.assertEqual((qid, rcode, addrs), (1, RCODE_NOERROR, [FACEBOOK]))

        pkt = query("facebook.com", qid=2, edns=True)
        reply = udp_ask(self.srv, "127.0.0.2", pkt)
        self.assertIsNotNone(reply, "no REFUSED for 127.0.0.2")
        qid, flags, rcode, an, addrs = parse_reply(reply)
        self.assertEqual((qid, rcode, an), (2, RCODE_REFUSED, 0))
        self.assertTrue(flags & 0x8000)
        self.assertEqual(reply[12:12 + 18], pkt[12:12 + 18])    # the question
        self.assertLessEqual(len(reply), len(pkt))               # no amplification
        after = self.srv.metrics()
        key = 'dnsort_dns_acl_refused_total{proto="udp"}'
        self.assertEqual(after[key] - before[key], 1)
        key = 'dnsort_dns_responses_total{proto="udp",qtype="A",rcode="REFUSED"}'
        self.assertEqual(after[key] - before[key], 1)

    def test_udp_malformed_from_outside_is_still_dropped(self):
        before = self.srv.metrics()
        response = bytearray(query("facebook.com", qid=3))
        response[2] |= 0x80                                     # QR=1
        self.assertIsNone(udp_ask(self.srv, "127.0.0.2", bytes(response), wait=SILENCE_S))
        self.assertIsNone(udp_ask(self.srv, "127.0.0.2", b"\x00" * 11, wait=SILENCE_S))
        # A query whose body is bad is still a query: REFUSED, header only.
        bad = bytearray(query("facebook.com", qid=4))
        bad[5] = 2                                              # QDCOUNT 2
        reply = udp_ask(self.srv, "127.0.0.2", bytes(bad))
        self.assertIsNotNone(reply)
        self.assertEqual(len(reply), 12)
        self.assertEqual(parse_reply(reply)[2], RCODE_REFUSED)
        after = self.srv.metrics()
        key = 'dnsort_dns_acl_refused_total{proto="udp"}'
        self.assertEqual(after[key] - before[key], 3)
        key = 'dnsort_dns_dropped_total{proto="udp",reason="invalid"}'
        self.assertEqual(after[key] - before[key], 2)

    def test_tcp_inside_is_answered_outside_is_refused_per_query(self):
        before = self.srv.metrics()
        replies = tcp_ask(self.srv, "127.0.0.1", [query("wipo.int", qid=5)])
        self.assertEqual(len(replies), 1)
        self.assertEqual(parse_reply(replies[0])[4], [WIPO])
        replies = tcp_ask(self.srv, "127.0.0.2",
                          [query("wipo.int", qid=6), query("facebook.com", qid=7)])
        self.assertEqual([(r[0], r[2]) for r in map(parse_reply, replies)],
                         [(6, RCODE_REFUSED), (7, RCODE_REFUSED)])
        after = self.srv.metrics()
        for key, want in (('dnsort_dns_acl_refused_total{proto="tcp"}', 2),
                          ('dnsort_acl_denied_connections_total{service="dns"}', 1)):
            self.assertEqual(after[key] - before[key], want, key)

    @unittest.skipUnless(HAVE_DIG, "dig is not installed")
    def test_dig_from_outside_says_refused(self):
        out = dig(self.srv, "-b", "127.0.0.2", "facebook.com")
        self.assertIn("status: REFUSED", out)
        out = dig(self.srv, "+tcp", "-b", "127.0.0.3", "facebook.com")
        self.assertIn("status: REFUSED", out)
        out = dig(self.srv, "-b", "127.0.0.1", "facebook.com")
        self.assertIn("status: NOERROR", out)
        self.assertIn("173.252.120.6", out)

    def test_sort_outside_is_closed_unread(self):
        before = self.srv.metrics()
        self.assertEqual(sort_request(self.srv, "127.0.0.2"), b"")
        self.assertEqual(sort_request(self.srv, "127.0.0.1"), b"[1, 2, 3]")
        after = self.srv.metrics()
        key = 'dnsort_acl_denied_connections_total{service="sort"}'
        self.assertEqual(after[key] - before[key], 1)
        key = 'dnsort_sort_requests_total{outcome="ok"}'
        self.assertEqual(after[key] - before[key], 1)


class MappedClients(unittest.TestCase):
    """A dual-stack listener on ::ffff:127.0.0.1 sees IPv4 clients as
    ::ffff:a.b.c.d; they match the IPv4 rules."""

    def test_mapped_clients_match_ipv4_rules(self):
        try:
            srv = Server("--allow", "127.0.0.1/32", dns="[::ffff:127.0.0.1]:0")
        except AssertionError as e:
            self.skipTest("cannot bind ::ffff:127.0.0.1 here: %s" % e)
        try:
            reply = udp_ask(srv, "127.0.0.1", query("facebook.com", qid=8))
            self.assertEqual(parse_reply(reply)[2], RCODE_NOERROR)
            reply = udp_ask(srv, "127.0.0.2", query("facebook.com", qid=9))
            self.assertEqual(parse_reply(reply)[2], RCODE_REFUSED)
            replies = tcp_ask(srv, "127.0.0.2", [query("facebook.com", qid=10)])
            self.assertEqual(parse_reply(replies[0])[2], RCODE_REFUSED)
        finally:
            self.assertEqual(srv.stop(), 0)


class AllowOptions(unittest.TestCase):
    def run_bad(self, *args):
        out = subprocess.run([DNSORTD, *args], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, timeout=10)
        return out.returncode, out.stderr.decode().strip()

    def test_bad_rules_are_named(self):
        self.assertEqual(self.run_bad("--allow", "10.0.0.1/8"),
                         (2, "dnsortd: --allow: '10.0.0.1/8' has bits set past its prefix length"))
        self.assertEqual(self.run_bad("--sort-allow", "localhost"),
                         (2, "dnsortd: --sort-allow: 'localhost' is not ADDR or ADDR/LEN (IPv4 or IPv6)"))
        self.assertEqual(self.run_bad("--rrl-rate", "1000001")[0], 2)

    def test_rule_limit_past_the_edge(self):
        args = []
        for i in range(1025):
            args += ["--allow", "10.%d.%d.0/24" % (i >> 8, i & 255)]
        self.assertEqual(self.run_bad(*args), (2, "dnsortd: --allow: at most 1024 rules"))


class RateLimit(unittest.TestCase):
    """--rrl-rate 5 --rrl-slip 2 on loopback (where it is off unless asked).
    127.0.0.2 floods; 127.0.0.3 is in its /24, 127.0.1.3 is not."""

    RATE = 5

    def setUp(self):
        self.srv = Server("--rrl-rate", str(self.RATE), "--rrl-slip", "2")

    def tearDown(self):
        self.assertEqual(self.srv.stop(), 0, "\n".join(self.srv.lines))

    def test_a_flood_is_dropped_and_slipped_others_are_answered(self):
        text = "\n".join(self.srv.lines)
        self.assertIn("response rate limiting: 5 UDP replies/s per client /24 (IPv4) "
                      "or /56 (IPv6) and answer, slip 2, 65536 buckets (1024 KiB)", text)
        sent = 300
        replies = flood(self.srv, "127.0.0.2", query("facebook.com", qid=11), sent)
        full = [r for r in replies if not parse_reply(r)[1] & FLAG_TC]
        slipped = [r for r in replies if parse_reply(r)[1] & FLAG_TC]
        for r in full:
            self.assertEqual(parse_reply(r)[4], [FACEBOOK])
        # A bucket holds one second of replies and refills at the rate: a
        # flood of 300 gets a handful through, whatever the machine's pace.
        self.assertGreaterEqual(len(full), self.RATE)
        self.assertLess(len(full), sent // 4)
        self.assertGreater(len(slipped), 0)
        self.assertLess(len(replies), sent)
        for r in slipped:
            qid, flags, rcode, an, _ = parse_reply(r)
            self.assertEqual((qid, rcode, an), (11, RCODE_NOERROR, 0))
            self.assertEqual(r[12:], query("facebook.com")[12:])  # question only

        # Another /24 has its own bucket: answered in full.
        for i in range(self.RATE):
            reply = udp_ask(self.srv, "127.0.1.3", query("facebook.com", qid=100 + i))
            self.assertIsNotNone(reply)
            self.assertEqual(parse_reply(reply)[1] & FLAG_TC, 0)
            self.assertEqual(parse_reply(reply)[4], [FACEBOOK])
        # The same /24 asking for a different answer: its own bucket too.
        for i in range(self.RATE):
            reply = udp_ask(self.srv, "127.0.0.2", query("wipo.int", qid=200 + i))
            self.assertEqual(parse_reply(reply)[4], [WIPO])
        # 127.0.0.3 shares 127.0.0.2's /24 and answer: limited with it.
        more = flood(self.srv, "127.0.0.3", query("facebook.com", qid=12), 30)
        self.assertLess(len([r for r in more if not parse_reply(r)[1] & FLAG_TC]), 30)

        # TCP is never limited.
        replies = tcp_ask(self.srv, "127.0.0.2", [query("facebook.com", qid=300 + i)
                                                   for i in range(50)])
        self.assertEqual(len(replies), 50)
        self.assertTrue(all(parse_reply(r)[4] == [FACEBOOK] for r in replies))

        m = self.srv.metrics()
        dropped = m['dnsort_dns_rrl_limited_total{action="dropped"}']
        slips = m['dnsort_dns_rrl_limited_total{action="slipped"}']
        self.assertGreater(dropped, 0)
        self.assertGreaterEqual(slips, len(slipped))
        # Slip 2: every other reply past the rate (per bucket) goes out.
        self.assertLessEqual(abs(dropped - slips), 2)
        received = m['dnsort_dns_queries_total{proto="udp"}']
        answered = sum(v for k, v in m.items()
                       if k.startswith('dnsort_dns_responses_total{proto="udp"'))
        self.assertEqual(answered + dropped, received)
        self.assertEqual(m['dnsort_dns_truncated_responses_total{proto="udp"}'], slips)


class SlipToTcp(unittest.TestCase):
    @unittest.skipUnless(HAVE_DIG, "dig is not installed")
    def test_dig_retries_over_tcp_on_a_slipped_reply(self):
        # Keep 127.0.0.2's bucket empty while dig asks from the same /24
        # for the same answer: with slip 1 every limited reply is a TC=1.
        srv = Server("--rrl-rate", "1", "--rrl-slip", "1")
        stop = threading.Event()

        def keep_flooding():
            with udp_client("127.0.0.2") as s:
                while not stop.is_set():
                    s.sendto(query("facebook.com"), (srv.dns_host, srv.dns_port))
                    time.sleep(0.005)

        flooder = threading.Thread(target=keep_flooding, daemon=True)
        flooder.start()
        try:
            time.sleep(0.2)
            before = srv.metrics()
            out = dig(srv, "-b", "127.0.0.4", "facebook.com")
            after = srv.metrics()
        finally:
            stop.set()
            flooder.join(5)
            code = srv.stop()
        self.assertEqual(code, 0)
        self.assertIn("Truncated, retrying in TCP mode", out)
        self.assertIn("status: NOERROR", out)
        self.assertIn("173.252.120.6", out)
        key = 'dnsort_dns_queries_total{proto="tcp"}'
        self.assertEqual(after[key] - before[key], 1)


def main():
    global DNSORTD
    ap = argparse.ArgumentParser()
    ap.add_argument("--dnsortd", required=True)
    args, rest = ap.parse_known_args()
    DNSORTD = args.dnsortd
    unittest.main(argv=[sys.argv[0]] + rest, verbosity=2)


if __name__ == "__main__":
    main()
