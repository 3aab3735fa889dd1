#!/usr/bin/env python3
"""Integration tests: the real dnsortd on ephemeral ports, driven by real
clients (dig, nslookup, kdig, drill, tools/sort-client) and raw sockets.

Run by meson test: test_integration.py --dnsortd PATH --sort-client PATH
"""
import argparse
import json
import os
import random
import re
import select
import shutil
import signal
import socket
import struct
import subprocess
import sys
import threading
import time
import unittest

DNSORTD = None
SORT_CLIENT = None
LISTEN_RE = re.compile(r"^dnsortd listening dns=udp://(\S+):(\d+) sort=tcp://(\S+):(\d+)$")


class Server:
    """A dnsortd started on port 0; ports read back from its stdout line."""

    def __init__(self, *extra, dns="127.0.0.1:0", sort="127.0.0.1:0", nofile=None):
        def limit_files():
            if nofile is not None:
                import resource
                resource.setrlimit(resource.RLIMIT_NOFILE, (nofile, nofile))

        self.proc = subprocess.Popen(
            [DNSORTD, "--dns", dns, "--sort", sort, "--log-level", "debug", *extra],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, preexec_fn=limit_files)
        ready, _, _ = select.select([self.proc.stdout], [], [], 10)
        if not ready:
            self.kill()
            raise AssertionError("dnsortd printed no listening line within 10 s")
        line = self.proc.stdout.readline().decode().strip()
        m = LISTEN_RE.match(line)
        if not m:
            self.kill()
            raise AssertionError("unexpected first line from dnsortd: %r" % line)
        self.dns_host = m.group(1).strip("[]")
        self.dns_port = int(m.group(2))
        self.sort_host = m.group(3).strip("[]")
        self.sort_port = int(m.group(4))
        self.signalled = False

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(10)

    def signal(self, signum=signal.SIGTERM):
        if signum in (signal.SIGTERM, signal.SIGINT):
            self.signalled = True
        self.proc.send_signal(signum)

    def stop(self, timeout=15):
        """SIGTERM (unless a test already sent one: a second signal means
        "exit at once") and return (exit code, stderr)."""
        if self.proc.poll() is None and not self.signalled:
            self.signal()
        try:
            _, err = self.proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise AssertionError("dnsortd did not exit within %s s of SIGTERM" % timeout)
        return self.proc.returncode, err.decode(errors="replace")


def dns_query(name, qtype=1, qid=0x1234, rd=True, edns=None, qclass=1):
    flags = 0x0100 if rd else 0
    arcount = 1 if edns is not None else 0
    pkt = struct.pack(">HHHHHH", qid, flags, 1, 0, 0, arcount)
    for label in name.rstrip(".").split("."):
        if label:
            pkt += bytes([len(label)]) + label.encode()
    pkt += b"\x00" + struct.pack(">HH", qtype, qclass)
    if edns is not None:
        pkt += b"\x00" + struct.pack(">HHIH", 41, edns, 0, 0)
    return pkt


def udp_exchange(port, pkt, timeout=2.0, host="127.0.0.1"):
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(timeout)
        s.sendto(pkt, (host, port))
        try:
            return s.recv(65535)
        except socket.timeout:
            return None


def sort_exchange(port, body, prefix=None, timeout=30.0, chunks=None):
    """Send a framed request and return the whole reply (read until EOF)."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        data = (struct.pack(">Q", len(body)) if prefix is None else prefix) + body
        if chunks:
            for i in range(0, len(data), chunks):
                s.sendall(data[i:i + chunks])
                time.sleep(0.001)
        else:
            s.sendall(data)
        return recv_all(s)


def half_closed_exchange(port, nums):
    """A client that shuts down its writing side after the request (socat,
    nc -N, shutdown(SHUT_WR)), then reads the reply."""
    body = json.dumps(nums).encode()
    with socket.create_connection(("127.0.0.1", port), timeout=60) as s:
        s.sendall(struct.pack(">Q", len(body)) + body)
        s.shutdown(socket.SHUT_WR)
        return recv_all(s)


def recv_all(s):
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


def run(cmd, timeout=20, **kw):
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, **kw)


def have(tool):
    if shutil.which(tool) is None:
        print("SKIP: %s is not installed (tools/test installs it)" % tool, file=sys.stderr)
        return False
    return True


class DnsClients(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.srv = Server()

    @classmethod
    def tearDownClass(cls):
        code, err = cls.srv.stop()
        assert code == 0, "exit %s\n%s" % (code, err)

    def dig(self, *args):
        r = run(["dig", "@127.0.0.1", "-p", str(self.srv.dns_port), "+time=2", "+tries=1", *args])
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        # RA=0 makes dig warn "recursion requested but not available", by
        # design; anything about the message itself is a defect.
        for bad in ("extra bytes", "malformed", "Warning: Message", "trailing garbage", "FORMERR"):
            self.assertNotIn(bad, r.stdout + r.stderr)
        return r.stdout

    def test_dig_a_record_for_each_seed_name(self):
        if not have("dig"):
            self.skipTest("dig missing")
        for name, addr in [("facebook.com", "173.252.120.6"), ("yougov.com", "213.52.133.246"),
                           ("wipo.int", "193.5.93.80"), ("anything.else.example", "127.0.0.1")]:
            out = self.dig(name, "A")
            self.assertIn("status: NOERROR", out)
            self.assertRegex(out, r"flags: qr aa rd;")
            self.assertRegex(out, r"%s\.\s+60\s+IN\s+A\s+%s" % (re.escape(name), re.escape(addr)))

    def test_dig_without_edns_and_with_mixed_case(self):
        if not have("dig"):
            self.skipTest("dig missing")
        out = self.dig("+noedns", "FaceBook.COM", "A")
        self.assertIn("ANSWER: 1", out)
        self.assertIn("173.252.120.6", out)
        self.assertNotIn("OPT PSEUDOSECTION", out)
        self.assertIn("FaceBook.COM.", out)  # question echoed as sent

    def test_dig_edns_gets_opt_with_1232(self):
        if not have("dig"):
            self.skipTest("dig missing")
        out = self.dig("+edns=0", "+bufsize=4096", "wipo.int")
        self.assertIn("OPT PSEUDOSECTION", out)
        self.assertIn("udp: 1232", out)
        self.assertIn("193.5.93.80", out)

    def test_dig_edns_version_1_is_badvers(self):
        if not have("dig"):
            self.skipTest("dig missing")
        r = run(["dig", "@127.0.0.1", "-p", str(self.srv.dns_port), "+time=2", "+tries=1",
                 "+edns=1", "+noednsnegotiation", "wipo.int"])
        self.assertIn("status: BADVERS", r.stdout)

    def test_dig_aaaa_mx_txt_are_nodata(self):
        if not have("dig"):
            self.skipTest("dig missing")
        for qtype in ("AAAA", "MX", "TXT"):
            out = self.dig("facebook.com", qtype)
            self.assertIn("status: NOERROR", out)
            self.assertIn("ANSWER: 0", out)

    def test_dig_class_chaos_is_refused(self):
        if not have("dig"):
            self.skipTest("dig missing")
        out = self.dig("-c", "CH", "facebook.com", "A")
        self.assertIn("status: REFUSED", out)

    def test_nslookup_seed_command(self):
        if not have("nslookup"):
            self.skipTest("nslookup missing")
        r = run(["nslookup", "-port=%d" % self.srv.dns_port, "facebook.com", "127.0.0.1"])
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertRegex(r.stdout, r"Name:\s+facebook.com\nAddress: 173\.252\.120\.6")

    def test_kdig(self):
        if not have("kdig"):
            self.skipTest("kdig missing")
        r = run(["kdig", "@127.0.0.1", "-p", str(self.srv.dns_port), "+timeout=2", "+retry=0", "yougov.com", "A"])
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertIn("NOERROR", r.stdout)
        self.assertRegex(r.stdout, r"yougov\.com\.\s+60\s+IN\s+A\s+213\.52\.133\.246")

    def test_drill(self):
        if not have("drill"):
            self.skipTest("drill missing")
        r = run(["drill", "-p", str(self.srv.dns_port), "wipo.int", "@127.0.0.1", "A"])
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertIn("rcode: NOERROR", r.stdout)
        self.assertRegex(r.stdout, r"wipo\.int\.\s+60\s+IN\s+A\s+193\.5\.93\.80")

    def test_short_packet_and_responses_are_dropped(self):
        self.assertIsNone(udp_exchange(self.srv.dns_port, b"\x12\x34\x01\x00", timeout=0.3))
        response = bytearray(dns_query("facebook.com"))
        response[2] |= 0x80  # QR=1: a response must never be answered
        self.assertIsNone(udp_exchange(self.srv.dns_port, bytes(response), timeout=0.3))

    def test_qdcount_2_is_formerr_with_id_echoed(self):
        pkt = bytearray(dns_query("facebook.com", qid=0xBEEF))
        pkt[5] = 2
        reply = udp_exchange(self.srv.dns_port, bytes(pkt))
        self.assertIsNotNone(reply)
        qid, flags = struct.unpack(">HH", reply[:4])
        self.assertEqual(qid, 0xBEEF)
        self.assertEqual(flags & 0xF, 1)  # FORMERR
        self.assertTrue(flags & 0x8000)

    def test_garbage_does_not_hurt_later_queries(self):
        rng = random.Random(4343)
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            for _ in range(2000):
                n = rng.randrange(0, 600)
                pkt = bytes(rng.randrange(256) for _ in range(n))
                if rng.random() < 0.5 and n >= 12:
                    pkt = dns_query("x.example")[:12] + pkt[12:]  # readable header, junk body
                s.sendto(pkt, ("127.0.0.1", self.srv.dns_port))
        time.sleep(0.2)
        reply = udp_exchange(self.srv.dns_port, dns_query("wipo.int"))
        self.assertIsNotNone(reply)
        self.assertEqual(reply[-4:], bytes([193, 5, 93, 80]))


class SortClient(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.srv = Server("--threads", "2", "--max-elements", "1000", "--max-request-bytes", "64k")

    @classmethod
    def tearDownClass(cls):
        code, err = cls.srv.stop()
        assert code == 0, "exit %s\n%s" % (code, err)

    def client(self, *args, stdin=None):
        return run([SORT_CLIENT, "--port", str(self.srv.sort_port), *args], input=stdin)

    def test_seed_example(self):
        r = self.client("3", "1", "2")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout, "[1, 2, 3]\n")

    def test_stdin_json_and_whitespace(self):
        r = self.client(stdin="[5, 3, 9, -1]")
        self.assertEqual(r.stdout, "[-1, 3, 5, 9]\n")
        r = self.client(stdin="5 3\n9\t-1\n")
        self.assertEqual(r.stdout, "[-1, 3, 5, 9]\n")

    def test_exact_integers_and_shortest_floats(self):
        r = self.client("9007199254740993", "-9223372036854775808", "0.1", "1e308", "5e-324", "2")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout, "[-9223372036854775808, 5e-324, 0.1, 2, 9007199254740993, 1e+308]\n")

    def test_empty_array(self):
        self.assertEqual(self.client(stdin="[]").stdout, "[]\n")

    def test_invalid_inputs_get_error_and_nonzero_exit(self):
        cases = [
            (b"not json", "invalid"),
            (b'{"a": 1}', "array"),
            (b'[1, "two", 3]', "string"),
            (b"[1, [2], 3]", "array"),
            (b"[1, null]", "null"),
            (b"[true]", "boolean"),
            (b"[NaN, 1]", "invalid"),
            (b"[Infinity]", "invalid"),
            (b"[1, 2", "invalid"),
            (b"[1] x", "invalid"),
            (b"[\"\xff\"]", "utf-8"),
        ]
        for body, word in cases:
            with self.subTest(body=body):
                r = subprocess.run([SORT_CLIENT, "--port", str(self.srv.sort_port), "--raw"],
                                   input=body, capture_output=True, timeout=20)
                self.assertNotEqual(r.returncode, 0)
                self.assertEqual(r.stdout, b"")
                self.assertIn(word, r.stderr.decode().lower())

    def test_reply_is_one_json_error_object(self):
        reply = sort_exchange(self.srv.sort_port, b"[1, \"x\"]")
        obj = json.loads(reply)
        self.assertEqual(list(obj.keys()), ["error"])
        self.assertIn("string", obj["error"])

    def test_zero_length_is_refused(self):
        reply = sort_exchange(self.srv.sort_port, b"")
        self.assertIn("empty", json.loads(reply)["error"])

    def test_oversized_prefix_is_refused_before_any_body(self):
        with socket.create_connection(("127.0.0.1", self.srv.sort_port), timeout=10) as s:
            s.sendall(struct.pack(">Q", 1 << 63))
            reply = recv_all(s)
        self.assertIn("too large", json.loads(reply)["error"])

    def test_request_bytes_at_and_past_the_limit(self):
        limit = 64 * 1024
        ok = b"[" + b" " * (limit - 3) + b"1]"
        self.assertEqual(len(ok), limit)
        self.assertEqual(sort_exchange(self.srv.sort_port, ok), b"[1]")
        over = b"[" + b" " * (limit - 2) + b"1]"
        self.assertIn("too large", json.loads(sort_exchange(self.srv.sort_port, over))["error"])

    def test_elements_at_and_past_the_limit(self):
        nums = list(range(1000, 0, -1))
        reply = sort_exchange(self.srv.sort_port, json.dumps(nums).encode())
        self.assertEqual(json.loads(reply), sorted(nums))
        reply = sort_exchange(self.srv.sort_port, json.dumps(nums + [0]).encode())
        self.assertIn("too many", json.loads(reply)["error"])

    def test_one_byte_at_a_time(self):
        body = b"[10, -3, 7.5, 0]"
        self.assertEqual(sort_exchange(self.srv.sort_port, body, chunks=1), b"[-3, 0, 7.5, 10]")

    def test_bytes_match_python_json_dumps_for_integers(self):
        rng = random.Random(7)
        nums = [rng.randrange(-10**12, 10**12) for _ in range(500)]
        reply = sort_exchange(self.srv.sort_port, json.dumps(nums).encode())
        self.assertEqual(reply, json.dumps(sorted(nums)).encode())

    def test_fifty_concurrent_clients(self):
        results = {}

        def worker(i):
            rng = random.Random(i)
            nums = [rng.randrange(-1000, 1000) for _ in range(200 + i)]
            try:
                results[i] = (nums, sort_exchange(self.srv.sort_port, json.dumps(nums).encode()))
            except OSError as e:
                results[i] = (nums, e)

        threads = [threading.Thread(target=worker, args=(i,)) for i in range(50)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        self.assertEqual(len(results), 50)
        for i, (nums, reply) in results.items():
            self.assertIsInstance(reply, bytes, "client %d: %r" % (i, reply))
            self.assertEqual(reply, json.dumps(sorted(nums)).encode(), "client %d" % i)

    def test_client_that_leaves_mid_body_hurts_no_one(self):
        for _ in range(20):
            s = socket.create_connection(("127.0.0.1", self.srv.sort_port), timeout=5)
            s.sendall(struct.pack(">Q", 1000) + b"[1, 2, ")
            s.close()
            s = socket.create_connection(("127.0.0.1", self.srv.sort_port), timeout=5)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            s.sendall(struct.pack(">Q", 1000) + b"[1, 2, ")
            s.close()  # RST
        self.assertEqual(sort_exchange(self.srv.sort_port, b"[2, 1]"), b"[1, 2]")

    def test_half_closed_truncated_request_gets_an_error(self):
        with socket.create_connection(("127.0.0.1", self.srv.sort_port), timeout=10) as s:
            s.sendall(struct.pack(">Q", 100) + b"[1, 2")
            s.shutdown(socket.SHUT_WR)
            reply = recv_all(s)
        self.assertIn("truncated", json.loads(reply)["error"])

    def test_half_closed_client_gets_its_reply(self):
        self.assertEqual(half_closed_exchange(self.srv.sort_port, [5, 3, 9, 1]), b"[1, 3, 5, 9]")

    @unittest.skipUnless(shutil.which("socat"), "socat not installed")
    def test_socat_half_close_gets_its_reply(self):
        # socat shuts down its writing side when stdin ends, then reads.
        for _ in range(20):
            r = subprocess.run(["socat", "-t", "10", "-", "TCP:127.0.0.1:%d" % self.srv.sort_port],
                               input=struct.pack(">Q", 12) + b"[5, 3, 9, 1]",
                               capture_output=True, timeout=30)
            self.assertEqual(r.stdout, b"[1, 3, 5, 9]", r.stderr)

    def test_connection_refused_is_reported_by_client(self):
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        r = run([SORT_CLIENT, "--port", str(port), "1"])
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("refused", r.stderr.lower())


def write_file(path, text):
    with open(path, "w") as f:
        f.write(text)


def a_answers(reply):
    """The IPv4 addresses in a reply's answer section (owner compressed)."""
    qd, an = struct.unpack(">HH", reply[4:8])
    pos = 12
    for _ in range(qd):
        while reply[pos] != 0:
            pos += 1 + reply[pos]
        pos += 5
    out = []
    for _ in range(an):
        if reply[pos] & 0xC0 == 0xC0:
            pos += 2
        else:
            while reply[pos] != 0:
                pos += 1 + reply[pos]
            pos += 1
        rtype, _, _, rdlen = struct.unpack(">HHIH", reply[pos:pos + 10])
        pos += 10
        if rtype == 1:
            out.append(socket.inet_ntoa(reply[pos:pos + 4]))
        pos += rdlen
    return out


class DnsConfig(unittest.TestCase):
    """--hosts, --map, wildcards, policies, TCP and reload, with real clients."""

    @classmethod
    def setUpClass(cls):
        import tempfile
        cls.tmp = tempfile.TemporaryDirectory()
        cls.hosts = os.path.join(cls.tmp.name, "hosts")
        many = "".join("10.0.0.%d many.test\n" % i for i in range(1, 41))
        write_file(cls.hosts, "# test data\n"
                   "192.0.2.1 web.test www.test  # alias\n"
                   "2001:db8::1 web.test\n"
                   "2001:db8::2 six.test\n"
                   "192.0.2.9 *.wild.test\n"
                   "192.0.2.10 exact.wild.test\n" + many)
        cls.srv = Server("--hosts", cls.hosts, "--map", "cli.test=198.51.100.7,198.51.100.8",
                         "--ttl", "300")

    @classmethod
    def tearDownClass(cls):
        code, err = cls.srv.stop()
        cls.tmp.cleanup()
        assert code == 0, "exit %s\n%s" % (code, err)

    def dig(self, *args):
        r = run(["dig", "@127.0.0.1", "-p", str(self.srv.dns_port), "+time=2", "+tries=1", *args])
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        return r.stdout

    def test_hosts_file_names_aliases_and_ttl(self):
        if not have("dig"):
            self.skipTest("dig missing")
        self.assertEqual(self.dig("+short", "web.test").split(), ["192.0.2.1"])
        self.assertEqual(self.dig("+short", "WWW.test.").split(), ["192.0.2.1"])
        self.assertRegex(self.dig("web.test"), r"web\.test\.\s+300\s+IN\s+A\s+192\.0\.2\.1")
        self.assertEqual(self.dig("+short", "cli.test").split(), ["198.51.100.7", "198.51.100.8"])
        # The default map is still there.
        self.assertEqual(self.dig("+short", "facebook.com").split(), ["173.252.120.6"])

    def test_aaaa_any_and_nodata(self):
        if not have("dig"):
            self.skipTest("dig missing")
        self.assertEqual(self.dig("+short", "web.test", "AAAA").split(), ["2001:db8::1"])
        out = self.dig("six.test", "A")
        self.assertIn("status: NOERROR", out)
        self.assertIn("ANSWER: 0", out)
        self.assertEqual(sorted(self.dig("+short", "web.test", "ANY").split()), ["192.0.2.1", "2001:db8::1"])
        out = self.dig("web.test", "MX")
        self.assertIn("status: NOERROR", out)
        self.assertIn("ANSWER: 0", out)

    def test_wildcards(self):
        if not have("dig"):
            self.skipTest("dig missing")
        self.assertEqual(self.dig("+short", "a.b.wild.test").split(), ["192.0.2.9"])
        self.assertEqual(self.dig("+short", "exact.wild.test").split(), ["192.0.2.10"])
        # *.wild.test does not cover wild.test itself: the unknown policy.
        self.assertEqual(self.dig("+short", "wild.test").split(), ["127.0.0.1"])

    def test_truncation_then_tcp_gets_all_40(self):
        if not have("dig"):
            self.skipTest("dig missing")
        out = self.dig("+notcp", "+ignore", "+noedns", "many.test")
        self.assertRegex(out, r"flags: qr aa tc rd;")
        self.assertIn("ANSWER: 0", out)
        out = self.dig("+noedns", "many.test")  # dig retries over TCP by itself
        self.assertIn("ANSWER: 40", out)
        self.assertIn("(TCP)", out)
        out = self.dig("+tcp", "many.test")
        self.assertIn("ANSWER: 40", out)
        # With EDNS 1232, 40 A records (about 660 bytes) fit in UDP.
        out = self.dig("+notcp", "+edns=0", "many.test")
        self.assertIn("ANSWER: 40", out)
        self.assertIn("(UDP)", out)

    def test_tcp_with_kdig_drill_nslookup(self):
        port = str(self.srv.dns_port)
        if have("kdig"):
            r = run(["kdig", "@127.0.0.1", "-p", port, "+tcp", "+timeout=2", "web.test"])
            self.assertIn("192.0.2.1", r.stdout)
            self.assertIn("TCP", r.stdout)
        if have("drill"):
            r = run(["drill", "-t", "-p", port, "wipo.int", "@127.0.0.1"])
            self.assertIn("193.5.93.80", r.stdout)
        if have("nslookup"):
            r = run(["nslookup", "-vc", "-port=" + port, "yougov.com", "127.0.0.1"])
            self.assertIn("213.52.133.246", r.stdout)

    def test_pipelined_tcp_queries_answered_in_order(self):
        names = ["facebook.com", "web.test", "wipo.int", "nothing.example"]
        wire = b"".join(struct.pack(">H", len(q)) + q
                        for q in (dns_query(n, qid=i + 1) for i, n in enumerate(names)))
        with socket.create_connection(("127.0.0.1", self.srv.dns_port), timeout=5) as s:
            s.sendall(wire)
            replies = []
            buf = b""
            while len(replies) < len(names):
                buf += s.recv(4096)
                while len(buf) >= 2 and len(buf) >= 2 + struct.unpack(">H", buf[:2])[0]:
                    n = struct.unpack(">H", buf[:2])[0]
                    replies.append(buf[2:2 + n])
                    buf = buf[2 + n:]
        self.assertEqual([struct.unpack(">H", r[:2])[0] for r in replies], [1, 2, 3, 4])
        self.assertEqual([a_answers(r) for r in replies],
                         [["173.252.120.6"], ["192.0.2.1"], ["193.5.93.80"], ["127.0.0.1"]])


class DnsPolicies(unittest.TestCase):
    def test_unknown_policies_and_no_default_map(self):
        for policy, rcode in (("nxdomain", 3), ("refused", 5)):
            srv = Server("--unknown", policy, "--no-default-map", "--map", "x.test=192.0.2.3")
            try:
                reply = udp_exchange(srv.dns_port, dns_query("facebook.com"))
                self.assertEqual(reply[3] & 0xF, rcode, policy)
                self.assertEqual(a_answers(udp_exchange(srv.dns_port, dns_query("x.test"))), ["192.0.2.3"])
            finally:
                self.assertEqual(srv.stop()[0], 0)
        srv = Server("--unknown-address", "10.9.8.7")
        try:
            self.assertEqual(a_answers(udp_exchange(srv.dns_port, dns_query("who.example"))), ["10.9.8.7"])
        finally:
            self.assertEqual(srv.stop()[0], 0)

    def test_bad_hosts_file_names_file_and_line(self):
        import tempfile
        with tempfile.NamedTemporaryFile("w", suffix=".hosts", delete=False) as f:
            f.write("192.0.2.1 ok.test\n\n300.1.2.3 bad.test\n")
        try:
            r = run([DNSORTD, "--dns", "127.0.0.1:0", "--sort", "127.0.0.1:0", "--hosts", f.name])
            self.assertNotEqual(r.returncode, 0)
            self.assertIn("%s:3:" % f.name, r.stderr)
            self.assertEqual(r.stdout, "")
            r = run([DNSORTD, "--hosts", "/nonexistent/hosts"])
            self.assertNotEqual(r.returncode, 0)
            self.assertIn("/nonexistent/hosts", r.stderr)
            r = run([DNSORTD, "--map", "bad..name=1.2.3.4"])
            self.assertNotEqual(r.returncode, 0)
            self.assertIn("bad..name", r.stderr)
        finally:
            os.unlink(f.name)

    def test_several_dns_addresses(self):
        try:
            with socket.socket(socket.AF_INET6, socket.SOCK_DGRAM) as s:
                s.bind(("::1", 0))
            second = "[::1]:0"
            fam, host = socket.AF_INET6, "::1"
        except OSError:
            second, fam, host = "127.0.0.2:0", socket.AF_INET, "127.0.0.2"
        srv = Server()
        srv.stop()
        p = subprocess.Popen([DNSORTD, "--dns", "127.0.0.1:0", "--dns", second, "--sort", "127.0.0.1:0"],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        try:
            line = p.stdout.readline().decode()
            ports = re.findall(r"dns=udp://(\S+):(\d+)", line)
            self.assertEqual(len(ports), 2, line)
            for (h, port) in ports:
                h = h.strip("[]")
                with socket.socket(socket.AF_INET6 if ":" in h else socket.AF_INET, socket.SOCK_DGRAM) as s:
                    s.settimeout(2)
                    s.sendto(dns_query("wipo.int"), (h, int(port)))
                    self.assertEqual(a_answers(s.recv(512)), ["193.5.93.80"])
                with socket.create_connection((h, int(port)), timeout=2) as s:
                    q = dns_query("wipo.int")
                    s.sendall(struct.pack(">H", len(q)) + q)
                    n = struct.unpack(">H", s.recv(2))[0]
                    self.assertEqual(a_answers(s.recv(n)), ["193.5.93.80"])
        finally:
            p.send_signal(signal.SIGTERM)
            p.communicate(timeout=10)
        self.assertEqual(p.returncode, 0)

    def test_reuseport_lets_two_processes_share_the_port(self):
        a = Server("--reuseport")
        try:
            b = Server("--reuseport", dns="127.0.0.1:%d" % a.dns_port, sort="127.0.0.1:%d" % a.sort_port)
            try:
                self.assertEqual(b.dns_port, a.dns_port)
                for _ in range(20):
                    self.assertEqual(a_answers(udp_exchange(a.dns_port, dns_query("wipo.int"))), ["193.5.93.80"])
                self.assertEqual(sort_exchange(a.sort_port, b"[2, 1]"), b"[1, 2]")
            finally:
                self.assertEqual(b.stop()[0], 0)
        finally:
            self.assertEqual(a.stop()[0], 0)
        # Without the option the second bind is refused.
        a = Server()
        try:
            r = run([DNSORTD, "--dns", "127.0.0.1:%d" % a.dns_port, "--sort", "127.0.0.1:0"])
            self.assertNotEqual(r.returncode, 0)
            self.assertIn("in use", r.stderr)
        finally:
            a.stop()


class DnsReload(unittest.TestCase):
    def test_sighup_under_load_swaps_without_loss_and_keeps_old_on_error(self):
        import tempfile
        tmp = tempfile.TemporaryDirectory()
        hosts = os.path.join(tmp.name, "hosts")
        write_file(hosts, "192.0.2.1 reload.test\n")
        srv = Server("--hosts", hosts)
        stop = threading.Event()
        seen = {"old": 0, "new": 0, "bad": 0, "timeout": 0}

        def client():
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
                s.settimeout(1.0)
                qid = 0
                while not stop.is_set():
                    qid = (qid + 1) & 0xFFFF
                    s.sendto(dns_query("reload.test", qid=qid), ("127.0.0.1", srv.dns_port))
                    try:
                        reply = s.recv(512)
                    except socket.timeout:
                        seen["timeout"] += 1
                        continue
                    addrs = a_answers(reply)
                    if addrs == ["192.0.2.1"]:
                        seen["old"] += 1
                    elif addrs == ["192.0.2.2"]:
                        seen["new"] += 1
                    else:
                        seen["bad"] += 1

        threads = [threading.Thread(target=client) for _ in range(4)]
        try:
            for t in threads:
                t.start()
            time.sleep(0.3)
            # A broken file: the old map stays in service.
            write_file(hosts, "192.0.2.2 reload.test\nnot-an-address broken.test\n")
            srv.signal(signal.SIGHUP)
            time.sleep(0.5)
            self.assertEqual(a_answers(udp_exchange(srv.dns_port, dns_query("reload.test"))), ["192.0.2.1"])
            # A good file: swapped in.
            write_file(hosts, "192.0.2.2 reload.test\n" + "".join(
                "192.0.2.%d n%d.test\n" % (i % 250 + 1, i) for i in range(20000)))
            for _ in range(5):
                srv.signal(signal.SIGHUP)
                time.sleep(0.05)
            deadline = time.monotonic() + 5
            while time.monotonic() < deadline and seen["new"] == 0:
                time.sleep(0.05)
            time.sleep(0.3)
        finally:
            stop.set()
            for t in threads:
                t.join(5)
            code, err = srv.stop()
            tmp.cleanup()
        self.assertEqual(code, 0, err)
        self.assertGreater(seen["old"], 0)
        self.assertGreater(seen["new"], 0)
        self.assertEqual(seen["bad"], 0)
        self.assertEqual(seen["timeout"], 0)
        self.assertIn("reload failed", err)
        self.assertIn(":2:", err)  # the line of the error
        self.assertIn("reloaded the DNS map", err)


def busy_sort_body(n=400000):
    """A request that keeps a worker busy for seconds: gnome sort's worst
    case (reversed input)."""
    return json.dumps(list(range(n, 0, -1))).encode()


class SortLimits(unittest.TestCase):
    """Each limit at and past its edge, against its own server."""

    def test_client_that_resets_while_sorting_frees_the_worker(self):
        srv = Server("--threads", "1", "--max-elements", "500000")
        try:
            for how in ("reset", "half-close then reset"):
                s = socket.create_connection(("127.0.0.1", srv.sort_port), timeout=10)
                body = busy_sort_body()
                s.sendall(struct.pack(">Q", len(body)) + body)
                if how != "reset":
                    s.shutdown(socket.SHUT_WR)
                time.sleep(0.2)  # the job is running now
                s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                s.close()
                # With the only worker still busy, this would wait for the
                # whole 100000-element sort (seconds) and time out.
                self.assertEqual(sort_exchange(srv.sort_port, b"[2, 1]", timeout=5), b"[1, 2]", how)
        finally:
            code, err = srv.stop()
        self.assertEqual(code, 0, err)
        self.assertEqual(err.count("half-closed client reset while its sort was pending"), 1, err)

    def test_half_closed_client_gets_a_20000_element_reply(self):
        srv = Server()  # the defaults: 20000 numbers are well inside them
        try:
            rng = random.Random(20000)
            nums = [rng.randint(-10**12, 10**12) for _ in range(20000)]
            self.assertEqual(json.loads(half_closed_exchange(srv.sort_port, nums)), sorted(nums))
        finally:
            code, err = srv.stop()
        self.assertEqual(code, 0, err)

    def test_yielding_workers_sort_correctly(self):
        # --worker-yield-us 1: the yield hook runs at every check.
        srv = Server("--worker-yield-us", "1", "--threads", "2")
        try:
            nums = list(range(20000, 0, -1))
            self.assertEqual(json.loads(half_closed_exchange(srv.sort_port, nums)), sorted(nums))
        finally:
            code, err = srv.stop()
        self.assertEqual(code, 0, err)
        self.assertIn("2 worker threads (set by options)", err)

    def test_cancel_on_eof_treats_a_fin_as_gone(self):
        srv = Server("--threads", "1", "--max-elements", "500000", "--cancel-on-eof")
        try:
            s = socket.create_connection(("127.0.0.1", srv.sort_port), timeout=10)
            body = busy_sort_body()
            s.sendall(struct.pack(">Q", len(body)) + body)
            time.sleep(0.2)  # the job is running now
            s.close()  # a plain FIN
            self.assertEqual(sort_exchange(srv.sort_port, b"[2, 1]", timeout=5), b"[1, 2]")
            # A half-closing client loses its reply under this option: the
            # documented trade-off.
            with socket.create_connection(("127.0.0.1", srv.sort_port), timeout=10) as h:
                h.sendall(struct.pack(">Q", len(body)) + body)
                h.shutdown(socket.SHUT_WR)
                self.assertEqual(recv_all(h), b"")
        finally:
            code, err = srv.stop()
        self.assertEqual(code, 0, err)
        self.assertEqual(err.count("client left while its sort was pending"), 2, err)

    def test_max_connections(self):
        srv = Server("--max-connections", "2")
        try:
            idle = [socket.create_connection(("127.0.0.1", srv.sort_port), timeout=5) for _ in range(2)]
            time.sleep(0.1)
            with socket.create_connection(("127.0.0.1", srv.sort_port), timeout=5) as s:
                self.assertEqual(json.loads(recv_all(s)), {"error": "server busy"})
            for c in idle:
                c.close()
            time.sleep(0.2)
            self.assertEqual(sort_exchange(srv.sort_port, b"[3, 1]"), b"[1, 3]")
        finally:
            self.assertEqual(srv.stop()[0], 0)

    def test_out_of_file_descriptors_is_survived_without_spinning(self):
        limit = 48
        # --fd-reserve 0: the sort service may take every descriptor, so
        # that this test still reaches EMFILE (the reserve is tested in
        # test_integration_hostile.py).
        srv = Server("--threads", "1", "--fd-reserve", "0", nofile=limit)
        proc, port = srv.proc, srv.sort_port
        held = []
        try:
            for _ in range(limit + 20):  # past the server's descriptor limit
                try:
                    held.append(socket.create_connection(("127.0.0.1", port), timeout=2))
                except OSError:
                    break
            time.sleep(0.5)
            ticks = os.sysconf("SC_CLK_TCK")

            def cpu():
                with open("/proc/%d/stat" % proc.pid) as f:
                    fields = f.read().rsplit(")", 1)[1].split()
                return (int(fields[11]) + int(fields[12])) / ticks

            before = cpu()
            time.sleep(1.0)
            # A listener stuck on EMFILE in a level-triggered loop would burn
            # a whole core here; a healthy one sleeps.
            self.assertLess(cpu() - before, 0.5, "the server spins while out of descriptors")
            # The connections it had no descriptor for were shed (libuv's
            # EMFILE trick accepts and closes them), not left hanging.
            shed = 0
            for c in held:
                c.settimeout(0.05)
                try:
                    shed += c.recv(1) == b""
                except ConnectionResetError:
                    shed += 1
                except socket.timeout:
                    pass
            self.assertGreater(shed, 0)
            for c in held:
                c.close()
            held = []
            time.sleep(0.3)
            self.assertEqual(sort_exchange(port, b"[2, 1]", timeout=5), b"[1, 2]")
        finally:
            for c in held:
                c.close()
            code, err = srv.stop()
        self.assertEqual(code, 0, err)

    def test_max_queued_jobs(self):
        srv = Server("--threads", "1", "--max-queued-jobs", "2", "--max-elements", "500000")
        held = []
        try:
            body = busy_sort_body()
            for _ in range(2):  # one running, one queued: at the limit
                s = socket.create_connection(("127.0.0.1", srv.sort_port), timeout=10)
                s.sendall(struct.pack(">Q", len(body)) + body)
                held.append(s)
            time.sleep(0.3)
            reply = sort_exchange(srv.sort_port, b"[1]", timeout=5)
            self.assertIn("server busy", json.loads(reply)["error"])
            for s in held:  # a reset cancels both (a FIN would be a half-close)
                s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                s.close()
            time.sleep(0.3)
            self.assertEqual(sort_exchange(srv.sort_port, b"[1]", timeout=5), b"[1]")
        finally:
            for s in held:
                s.close()
            self.assertEqual(srv.stop()[0], 0)

    def test_max_inflight_bytes(self):
        # The limit counts the request bytes held, charged as they arrive
        # (not the lengths announced): a holds the 59 bytes of its 60-byte
        # body it has sent (one send, one read: its buffer is exactly that).
        srv = Server("--max-inflight-bytes", "100")
        try:
            a = socket.create_connection(("127.0.0.1", srv.sort_port), timeout=5)
            a.sendall(struct.pack(">Q", 60) + b"[" + b" " * 57 + b"1")
            time.sleep(0.1)
            # 59 held + 42 > 100: refused before the body is read.
            reply = sort_exchange(srv.sort_port, b"[" + b" " * 39 + b"1]")
            self.assertIn("server busy", json.loads(reply)["error"])
            # 59 + 41 = 100: exactly at the limit, accepted.
            self.assertEqual(sort_exchange(srv.sort_port, b"[" + b" " * 38 + b"2]"), b"[2]")
            # A prefix alone holds nothing: the edge does not move.
            b = socket.create_connection(("127.0.0.1", srv.sort_port), timeout=5)
            b.sendall(struct.pack(">Q", 60))
            time.sleep(0.1)
            self.assertEqual(sort_exchange(srv.sort_port, b"[" + b" " * 38 + b"4]"), b"[4]")
            # a completes its request and gets its reply; then the whole
            # limit is free again.
            a.sendall(b"]")
            self.assertEqual(recv_all(a), b"[1]")
            a.close()
            b.close()
            time.sleep(0.1)
            self.assertEqual(sort_exchange(srv.sort_port, b"[" + b" " * 97 + b"3]"), b"[3]")
        finally:
            self.assertEqual(srv.stop()[0], 0)

    def test_write_timeout_closes_a_client_that_never_reads(self):
        srv = Server("--write-timeout", "0.5", "--max-elements", "2000000", "--max-request-bytes", "64M")
        try:
            n = 400000
            body = ("[" + ", ".join(["-9223372036854775808"] * n) + "]").encode()
            with socket.socket() as s:
                s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
                s.settimeout(30)
                s.connect(("127.0.0.1", srv.sort_port))
                s.sendall(struct.pack(">Q", len(body)) + body)
                time.sleep(4)  # never read while the server writes
                got = len(recv_all(s))
            self.assertLess(got, len(body), "the whole reply was delivered; no timeout happened")
        finally:
            code, err = srv.stop()
        self.assertEqual(code, 0, err)
        self.assertIn("write timeout", err)


class Lifecycle(unittest.TestCase):
    def test_help_and_version(self):
        r = run([DNSORTD, "--help"])
        self.assertEqual(r.returncode, 0)
        for opt in ("--dns", "--sort", "--threads", "--log-level", "--max-request-bytes",
                    "--max-elements", "--grace", "--read-timeout"):
            self.assertIn(opt, r.stdout)
        r = run([DNSORTD, "--version"])
        self.assertEqual(r.returncode, 0)
        self.assertTrue(r.stdout.startswith("dnsortd "))

    def test_bad_options_are_clear_errors(self):
        for args, word in [(["--dns", "nonsense"], "--dns"), (["--threads", "0"], "--threads"),
                           (["--log-level", "loud"], "--log-level"), (["--bogus"], "--bogus"),
                           (["--max-elements", "-1"], "--max-elements")]:
            r = run([DNSORTD, *args])
            self.assertEqual(r.returncode, 2, args)
            self.assertIn(word, r.stderr)
            self.assertEqual(r.stderr.count("\n"), 1, r.stderr)

    def test_port_in_use_is_a_clear_error(self):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as taken:
            taken.bind(("127.0.0.1", 0))
            port = taken.getsockname()[1]
            r = run([DNSORTD, "--dns", "127.0.0.1:%d" % port, "--sort", "127.0.0.1:0"])
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("127.0.0.1:%d" % port, r.stderr)
        self.assertIn("address already in use", r.stderr.lower())
        with socket.socket() as taken:
            taken.bind(("127.0.0.1", 0))
            taken.listen()
            port = taken.getsockname()[1]
            r = run([DNSORTD, "--dns", "127.0.0.1:0", "--sort", "127.0.0.1:%d" % port])
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("tcp://127.0.0.1:%d" % port, r.stderr)

    def test_address_that_is_not_ours_is_a_clear_error(self):
        r = run([DNSORTD, "--dns", "192.0.2.1:0", "--sort", "127.0.0.1:0"])
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("192.0.2.1", r.stderr)

    def test_ipv6_loopback(self):
        try:
            with socket.socket(socket.AF_INET6, socket.SOCK_DGRAM) as s:
                s.bind(("::1", 0))
        except OSError:
            self.skipTest("no IPv6 loopback here")
        srv = Server(dns="[::1]:0", sort="[::1]:0")
        try:
            with socket.socket(socket.AF_INET6, socket.SOCK_DGRAM) as s:
                s.settimeout(2)
                s.sendto(dns_query("facebook.com"), ("::1", srv.dns_port))
                self.assertEqual(s.recv(512)[-4:], bytes([173, 252, 120, 6]))
            with socket.create_connection(("::1", srv.sort_port), timeout=5) as s:
                s.sendall(struct.pack(">Q", 6) + b"[2, 1]")
                self.assertEqual(recv_all(s), b"[1, 2]")
        finally:
            self.assertEqual(srv.stop()[0], 0)

    def test_sigterm_with_sort_in_flight_delivers_reply_and_exits_0(self):
        srv = Server("--threads", "1", "--grace", "30")
        nums = list(range(6000, 0, -1))  # reversed: gnome sort's worst case
        body = json.dumps(nums).encode()
        with socket.create_connection(("127.0.0.1", srv.sort_port), timeout=60) as s:
            s.sendall(struct.pack(">Q", len(body)) + body)
            time.sleep(0.05)  # let the job reach the pool
            srv.signal(signal.SIGTERM)
            reply = recv_all(s)
        code, err = srv.stop(timeout=60)
        self.assertEqual(reply, json.dumps(sorted(nums)).encode())
        self.assertEqual(code, 0, err)
        # New connections are refused once draining started.
        with self.assertRaises(OSError):
            socket.create_connection(("127.0.0.1", srv.sort_port), timeout=2).close()

    def test_drain_dns_keeps_answering_after_sigterm(self):
        srv = Server("--drain-dns", "1")
        q = dns_query("facebook.com")
        self.assertIsNotNone(udp_exchange(srv.dns_port, q))
        t0 = time.monotonic()
        srv.signal(signal.SIGTERM)
        answered = 0
        while time.monotonic() - t0 < 0.7:
            r = udp_exchange(srv.dns_port, q, timeout=1)
            self.assertIsNotNone(r, "no answer %.2f s into the drain" % (time.monotonic() - t0))
            answered += 1
            time.sleep(0.05)
        code, err = srv.stop(timeout=15)
        elapsed = time.monotonic() - t0
        self.assertEqual(code, 0, err)
        self.assertGreater(answered, 5)
        self.assertGreaterEqual(elapsed, 0.9, "DNS closed before --drain-dns was over")
        self.assertIn("DNS keeps answering for 1000 ms", err)
        # After the drain, nothing listens any more.
        self.assertIsNone(udp_exchange(srv.dns_port, q, timeout=0.3))

    def test_drain_dns_defaults_to_0_without_metrics(self):
        srv = Server()
        srv.signal(signal.SIGTERM)
        code, err = srv.stop()
        self.assertEqual(code, 0, err)
        self.assertNotIn("DNS keeps answering", err)

    def test_grace_period_bounds_shutdown(self):
        srv = Server("--threads", "1", "--grace", "0.3", "--max-elements", "500000")
        body = json.dumps(list(range(400000, 0, -1))).encode()  # seconds of gnome sort
        with socket.create_connection(("127.0.0.1", srv.sort_port), timeout=30) as s:
            s.sendall(struct.pack(">Q", len(body)) + body)
            time.sleep(0.2)
            t0 = time.monotonic()
            srv.signal(signal.SIGTERM)
            reply = recv_all(s)
            code, err = srv.stop(timeout=20)
            elapsed = time.monotonic() - t0
        self.assertEqual(reply, b"")
        self.assertEqual(code, 0, err)
        self.assertLess(elapsed, 10, "shutdown took %.1f s with a 0.3 s grace" % elapsed)
        self.assertIn("grace period", err)

    def test_requests_already_sent_at_sigterm_are_served(self):
        # Requests complete in the kernel's buffers when the signal comes
        # (the server is stopped while they arrive) are sorted, not refused.
        srv = Server("--grace", "10")
        srv.proc.send_signal(signal.SIGSTOP)
        socks = []
        try:
            for _ in range(4):
                s = socket.create_connection(("127.0.0.1", srv.sort_port), timeout=10)
                s.sendall(struct.pack(">Q", 9) + b"[3, 1, 2]")
                socks.append(s)
            srv.signal(signal.SIGTERM)
        finally:
            srv.proc.send_signal(signal.SIGCONT)
        replies = [recv_all(s) for s in socks]
        for s in socks:
            s.close()
        self.assertEqual(replies, [b"[1, 2, 3]"] * 4)
        self.assertEqual(srv.stop()[0], 0)

    def test_idle_connection_is_answered_at_shutdown(self):
        srv = Server("--grace", "5")
        with socket.create_connection(("127.0.0.1", srv.sort_port), timeout=10) as s:
            s.sendall(b"\x00\x00")
            time.sleep(0.1)
            srv.signal(signal.SIGTERM)
            reply = recv_all(s)
        self.assertIn("shutting down", json.loads(reply)["error"])
        self.assertEqual(srv.stop()[0], 0)

    def test_read_timeout(self):
        srv = Server("--read-timeout", "0.3")
        try:
            with socket.create_connection(("127.0.0.1", srv.sort_port), timeout=10) as s:
                s.sendall(struct.pack(">Q", 10) + b"[1")
                t0 = time.monotonic()
                reply = recv_all(s)
                elapsed = time.monotonic() - t0
            self.assertIn("timeout", json.loads(reply)["error"])
            self.assertLess(elapsed, 5)
        finally:
            self.assertEqual(srv.stop()[0], 0)

    def test_second_signal_exits_at_once(self):
        srv = Server("--threads", "1", "--grace", "60", "--max-elements", "500000")
        body = json.dumps(list(range(400000, 0, -1))).encode()
        with socket.create_connection(("127.0.0.1", srv.sort_port), timeout=30) as s:
            s.sendall(struct.pack(">Q", len(body)) + body)
            time.sleep(0.2)
            srv.signal(signal.SIGTERM)
            time.sleep(0.2)
            self.assertIsNone(srv.proc.poll(), "exited before the grace period")
            srv.proc.send_signal(signal.SIGINT)
            try:
                srv.proc.wait(5)
            except subprocess.TimeoutExpired:
                srv.kill()
                self.fail("second signal did not end the process")
        self.assertEqual(srv.proc.returncode, 128 + signal.SIGINT)


def main():
    global DNSORTD, SORT_CLIENT
    p = argparse.ArgumentParser()
    p.add_argument("--dnsortd", required=True)
    p.add_argument("--sort-client", required=True)
    args, rest = p.parse_known_args()
    DNSORTD, SORT_CLIENT = os.path.abspath(args.dnsortd), os.path.abspath(args.sort_client)
    unittest.main(argv=[sys.argv[0], "-v", *rest])


if __name__ == "__main__":
    main()
