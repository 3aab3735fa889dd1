#!/usr/bin/env python3
"""Integration tests for tools/dnsort-load: the real dnsortd on ephemeral
ports, driven by the load generator in each mode, closed and open loop,
with the --json report parsed and checked; plus the failure paths (a closed
port, error replies, a server that never answers, bad arguments).

Run by meson test: test_integration_load.py --dnsortd PATH --load PATH
"""
import argparse
import json
import os
import re
import select
import socket
import subprocess
import sys
import tempfile
import time
import unittest

DNSORTD = None
LOAD = None
LISTEN_RE = re.compile(r"^dnsortd listening dns=udp://(\S+):(\d+) sort=tcp://(\S+):(\d+)$")
ERROR_KINDS = {"connect_refused", "timeout", "error_reply", "wrong_reply",
               "io_error", "overload"}


class Server:
    """A dnsortd on port 0; the ports are read back from its first line."""

    def __init__(self, *extra):
        self.proc = subprocess.Popen(
            [DNSORTD, "--dns", "127.0.0.1:0", "--sort", "127.0.0.1:0",
             "--log-level", "error", *extra],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        ready, _, _ = select.select([self.proc.stdout], [], [], 10)
        if not ready:
            self.stop()
            raise AssertionError("dnsortd printed no listening line within 10 s")
        line = self.proc.stdout.readline().decode().strip()
        m = LISTEN_RE.match(line)
        if not m:
            self.stop()
            raise AssertionError("unexpected first line from dnsortd: %r" % line)
        self.dns = "127.0.0.1:%s" % m.group(2)
        self.sort = "127.0.0.1:%s" % m.group(4)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
        try:
            self.proc.wait(15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.proc.stdout.close()


def run_load(*args, timeout=20):
    """Run dnsort-load; return (exit code, stdout, stderr, seconds)."""
    start = time.monotonic()
    p = subprocess.run([LOAD, *args], capture_output=True, timeout=timeout)
    return (p.returncode, p.stdout.decode(), p.stderr.decode(),
            time.monotonic() - start)


def free_port(kind=socket.SOCK_STREAM):
    """A port nobody listens on (bound, then released)."""
    with socket.socket(socket.AF_INET, kind) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class LoadAgainstDnsortd(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.server = Server()

    @classmethod
    def tearDownClass(cls):
        cls.server.stop()

    def load_json(self, *args, expect_rc=0):
        rc, out, err, secs = run_load(*args, "--dns-server", self.server.dns,
                                      "--sort-server", self.server.sort, "--json")
        self.assertEqual(rc, expect_rc, "exit %d\nstdout: %s\nstderr: %s" % (rc, out, err))
        lines = out.strip().splitlines()
        self.assertEqual(len(lines), 1, "one JSON line expected: %r" % out)
        report = json.loads(lines[0])
        self.assertEqual(set(report["error_kinds"]), ERROR_KINDS)
        return report, secs

    def assert_clean(self, section):
        self.assertGreater(section["requests"], 0)
        self.assertEqual(section["errors"], 0, section)
        self.assertEqual(section["ok"], section["requests"])
        self.assertEqual(sum(section["error_kinds"].values()), 0)
        lat = section["latency_us"]
        self.assertEqual(lat["count"], section["requests"])
        self.assertTrue(0 < lat["min"] <= lat["p50"] <= lat["p90"] <= lat["p99"]
                        <= lat["p99.9"] <= lat["max"], lat)

    def test_dns_closed_loop(self):
        r, secs = self.load_json("dns", "--concurrency", "8", "--duration", "0.5")
        self.assertEqual(r["mode"], "dns")
        self.assert_clean(r)
        self.assertEqual(r["dns"]["loop"], "closed")
        self.assertEqual(r["dns"]["concurrency"], 8)
        self.assertEqual(r["dns"]["stray_replies"], 0)
        self.assertNotIn("sort", r)
        self.assertLess(secs, 2.0)

    def test_dns_open_loop_keeps_its_rate(self):
        r, secs = self.load_json("dns", "--rate", "2000", "--duration", "0.5")
        self.assert_clean(r)
        self.assertEqual(r["dns"]["loop"], "open")
        # 0.5 s at 2000/s: the schedule decides the count, not the replies.
        self.assertGreaterEqual(r["requests"], 950)
        self.assertLessEqual(r["requests"], 1001)
        self.assertIn("send_lag_us", r["dns"])
        self.assertLess(secs, 2.0)

    def test_dns_query_types(self):
        for qtype in ("AAAA", "MX", "ANY", "a"):
            with self.subTest(qtype=qtype):
                r, _ = self.load_json("dns", "--qtype", qtype, "--requests", "200",
                                      "--concurrency", "4")
                self.assert_clean(r)
                self.assertEqual(r["requests"], 200)

    def test_requests_bound_is_exact(self):
        r, _ = self.load_json("dns", "--requests", "777", "--concurrency", "16")
        self.assertEqual(r["requests"], 777)
        self.assert_clean(r)

    def test_sort_closed_loop(self):
        r, secs = self.load_json("sort", "--concurrency", "4", "--size", "200",
                                 "--duration", "0.5")
        self.assert_clean(r)
        self.assertEqual(r["sort"]["loop"], "closed")
        self.assertLess(secs, 2.0)

    def test_sort_open_loop(self):
        r, secs = self.load_json("sort", "--rate", "200", "--size", "50",
                                 "--duration", "0.5")
        self.assert_clean(r)
        self.assertEqual(r["sort"]["loop"], "open")
        self.assertGreaterEqual(r["requests"], 95)
        self.assertLessEqual(r["requests"], 101)
        self.assertLess(secs, 2.0)

    def test_sort_payload_file_with_exact_numbers(self):
        body = ("[9007199254740993, 0.1, -5, 1e2, 9007199254740992, -0.0, 0, "
                "-9223372036854775808, 5e-324, 1.0, 1]")
        with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
            f.write(body)
        try:
            r, _ = self.load_json("sort", "--payload", f.name, "--requests", "50",
                                  "--concurrency", "4")
        finally:
            os.unlink(f.name)
        self.assert_clean(r)
        self.assertEqual(r["requests"], 50)

    def test_mixed_open_dns_closed_sort(self):
        r, secs = self.load_json("mixed", "--dns-rate", "1000", "--sort-concurrency", "2",
                                 "--size", "100", "--duration", "0.5")
        self.assertEqual(r["mode"], "mixed")
        self.assert_clean(r)
        self.assert_clean(r["dns"])
        self.assert_clean(r["sort"])
        self.assertEqual(r["dns"]["loop"], "open")
        self.assertEqual(r["sort"]["loop"], "closed")
        self.assertEqual(r["requests"], r["dns"]["requests"] + r["sort"]["requests"])
        self.assertLess(secs, 2.0)

    def test_mixed_closed_loop_both(self):
        r, _ = self.load_json("--mode", "mixed", "--concurrency", "2", "--duration", "0.4")
        self.assert_clean(r["dns"])
        self.assert_clean(r["sort"])

    def test_ramp_finds_a_knee(self):
        r, secs = self.load_json("dns", "--ramp", "--ramp-start", "500",
                                 "--ramp-step", "2x", "--ramp-step-duration", "0.2",
                                 "--ramp-p99-ms", "1000", "--duration", "1")
        steps = r["ramp"]["steps"]
        self.assertGreaterEqual(len(steps), 4)
        self.assertEqual([s["rate"] for s in steps[:3]], [500, 1000, 2000])
        self.assertIsNotNone(r["ramp"]["knee"])
        self.assertGreaterEqual(r["ramp"]["knee"]["rate"], 1000)
        self.assertLess(secs, 2.5)

    def test_text_report(self):
        rc, out, err, _ = run_load("dns", "--requests", "100", "--dns-server",
                                   self.server.dns)
        self.assertEqual(rc, 0, err)
        self.assertIn("dns: closed loop, concurrency 16", out)
        self.assertIn("requests    100 (100 ok, 0 errors)", out)
        self.assertRegex(out, r"latency +p50 [\d.]+ (us|ms)")
        # stderr is not a terminal here: no progress lines.
        self.assertEqual(err, "")


class Failures(unittest.TestCase):
    def test_closed_port_counts_connect_refused_and_exits_1(self):
        port = free_port()
        rc, out, err, secs = run_load("sort", "--sort-server", "127.0.0.1:%d" % port,
                                      "--duration", "0.3", "--json")
        self.assertEqual(rc, 1, err)
        r = json.loads(out)
        self.assertGreater(r["error_kinds"]["connect_refused"], 0)
        self.assertEqual(r["ok"], 0)
        self.assertEqual(r["errors"], r["requests"])
        self.assertIn("connect", r["sort"]["first_error"])
        self.assertLess(secs, 2.0)

    def test_closed_udp_port_counts_connect_refused(self):
        port = free_port(socket.SOCK_DGRAM)
        rc, out, err, _ = run_load("dns", "--dns-server", "127.0.0.1:%d" % port,
                                   "--duration", "0.3", "--concurrency", "1",
                                   "--timeout", "0.5", "--json")
        self.assertEqual(rc, 1, err)
        r = json.loads(out)
        self.assertGreater(r["error_kinds"]["connect_refused"], 0)
        self.assertEqual(r["ok"], 0)

    def test_error_replies_are_counted(self):
        server = Server("--max-elements", "10")
        try:
            rc, out, err, _ = run_load("sort", "--sort-server", server.sort,
                                       "--size", "20", "--requests", "30", "--json")
        finally:
            server.stop()
        self.assertEqual(rc, 1, err)
        r = json.loads(out)
        self.assertEqual(r["error_kinds"]["error_reply"], 30)
        self.assertIn('{"error"', r["sort"]["first_error"])
        # Error replies are replies: their latency is measured.
        self.assertEqual(r["latency_us"]["count"], 30)

    def test_silent_dns_server_times_out_within_the_hard_bound(self):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sink:
            sink.bind(("127.0.0.1", 0))
            rc, out, err, secs = run_load(
                "dns", "--dns-server", "127.0.0.1:%d" % sink.getsockname()[1],
                "--duration", "0.3", "--timeout", "0.1", "--rate", "500", "--json")
        self.assertEqual(rc, 1, err)
        r = json.loads(out)
        self.assertGreater(r["error_kinds"]["timeout"], 100)
        self.assertEqual(r["ok"], 0)
        self.assertLess(secs, 1.5)

    def test_silent_sort_server_is_cut_at_duration_plus_drain(self):
        # The kernel completes the handshakes; nobody ever reads or replies.
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as lsn:
            lsn.bind(("127.0.0.1", 0))
            lsn.listen(128)
            rc, out, err, secs = run_load(
                "sort", "--sort-server", "127.0.0.1:%d" % lsn.getsockname()[1],
                "--duration", "0.3", "--timeout", "30", "--drain", "0.2",
                "--concurrency", "4", "--json")
        self.assertEqual(rc, 1, err)
        r = json.loads(out)
        self.assertEqual(r["error_kinds"]["timeout"], 4)
        self.assertIn("still in flight", r["sort"]["first_error"])
        self.assertLess(secs, 1.5)

    def test_overload_is_counted_when_outstanding_is_bounded(self):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sink:
            sink.bind(("127.0.0.1", 0))
            rc, out, err, _ = run_load(
                "dns", "--dns-server", "127.0.0.1:%d" % sink.getsockname()[1],
                "--rate", "1000", "--max-outstanding", "10", "--duration", "0.3",
                "--drain", "0", "--json")
        self.assertEqual(rc, 1, err)
        r = json.loads(out)
        self.assertGreater(r["error_kinds"]["overload"], 200)
        self.assertEqual(r["error_kinds"]["timeout"], 10)

    def test_bad_arguments_exit_2_with_one_line(self):
        cases = [
            [],
            ["bogus"],
            ["dns", "sort"],
            ["dns", "--rate", "0"],
            ["dns", "--rate", "fast"],
            ["dns", "--concurrency", "4", "--rate", "10"],
            ["dns", "--sort-rate", "10"],
            ["dns", "--qtype", "TXT"],
            ["dns", "--dns-server", "localhost:53"],
            ["dns", "--dns-server", "127.0.0.1"],
            ["dns", "--timeout"],
            ["dns", "--no-such-option"],
            ["mixed", "--ramp"],
            ["dns", "--ramp", "--rate", "100"],
            ["dns", "--ramp-start", "100"],
            ["dns", "--ramp", "--ramp-step", "0.5x"],
            ["sort", "--payload", "/nonexistent/file.json"],
            ["sort", "--payload", "/dev/null"],
            ["sort", "--size", "5", "--payload", "x.json"],
        ]
        for args in cases:
            with self.subTest(args=args):
                rc, out, err, _ = run_load(*args)
                self.assertEqual(rc, 2, "%s: %s" % (args, err))
                self.assertEqual(out, "")
                self.assertEqual(len(err.strip().splitlines()), 1, err)
                self.assertTrue(err.startswith("dnsort-load: "), err)

    def test_help_documents_every_option(self):
        rc, out, _, _ = run_load("--help")
        self.assertEqual(rc, 0)
        for opt in ("--concurrency", "--rate", "--max-outstanding", "--duration",
                    "--requests", "--timeout", "--drain", "--dns-server",
                    "--sort-server", "--size", "--seed", "--payloads", "--payload",
                    "--qtype", "--dns-sockets", "--dns-rate", "--sort-concurrency",
                    "--ramp", "--ramp-start", "--ramp-step", "--ramp-step-duration",
                    "--ramp-p99-ms", "--json", "Exit status"):
            self.assertIn(opt, out)
        rc, out, _, _ = run_load("--version")
        self.assertEqual(rc, 0)
        self.assertTrue(out.startswith("dnsort-load "))


def main():
    global DNSORTD, LOAD
    ap = argparse.ArgumentParser()
    ap.add_argument("--dnsortd", required=True)
    ap.add_argument("--load", required=True)
    args, rest = ap.parse_known_args()
    DNSORTD = args.dnsortd
    LOAD = args.load
    unittest.main(argv=[sys.argv[0], "-v", *rest])


if __name__ == "__main__":
    main()
