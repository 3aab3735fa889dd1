#!/usr/bin/env python3
"""Integration tests for dnsortd's options through the real binary: a
--config file, DNSORT_* environment variables and their precedence, a bad
line (FILE:LINE on stderr, exit 2), SIGHUP after editing the file, a broken
edit that keeps the old answers, --dns off, --sort off, --upstream
resolv.conf:PATH, and the man page and README against --help.

Run by meson test: test_integration_config.py --dnsortd PATH [--man PATH]
"""
import argparse
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
MAN = None          # the dnsortd.8 meson built, if given
README = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "README.md")


def clean_env(**extra):
    """The test's environment without any DNSORT_ variable of the caller's."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("DNSORT_")}
    env.update(extra)
    return env


class Lines:
    """A child's stream read on a thread, so a chatty child never blocks."""

    def __init__(self, stream):
        self.lines = []
        self.lock = threading.Lock()
        threading.Thread(target=self._run, args=(stream,), daemon=True).start()

    def _run(self, stream):
        for raw in iter(stream.readline, b""):
            with self.lock:
                self.lines.append(raw.decode(errors="replace").rstrip("\n"))

    def text(self):
        with self.lock:
            return "\n".join(self.lines)

    def wait_for(self, pattern, timeout=5.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if re.search(pattern, self.text()):
                return True
            time.sleep(0.02)
        return False


class Dnsortd:
    """dnsortd with the given arguments and environment; the bound
    addresses come from its "dnsortd listening" line."""

    def __init__(self, *args, env=None):
        self.proc = subprocess.Popen([DNSORTD, "--log-level", "debug", *args],
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     env=env if env is not None else clean_env())
        self.err = Lines(self.proc.stderr)
        ready, _, _ = select.select([self.proc.stdout], [], [], 10)
        line = self.proc.stdout.readline().decode().strip() if ready else ""
        if not line.startswith("dnsortd listening"):
            self.kill()
            raise AssertionError("no listening line: %r\n%s" % (line, self.err.text()))
        self.line = line
        self.dns = [self._addr(a) for a in re.findall(r"dns=udp://(\S+)", line)]
        self.sort = [self._addr(a) for a in re.findall(r"sort=tcp://(\S+)", line)]
        self.metrics = [self._addr(a) for a in re.findall(r"metrics=http://(\S+)", line)]

    @staticmethod
    def _addr(text):
        host, port = text.rsplit(":", 1)
        return host.strip("[]"), int(port)

    @property
    def dns_port(self):
        return self.dns[0][1]

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(10)
        self.proc.stdout.close()

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(15)
        except subprocess.TimeoutExpired:
            self.kill()
            raise AssertionError("dnsortd did not stop within 15 s of SIGTERM")
        time.sleep(0.05)  # let the reader thread take the last lines
        self.proc.stdout.close()
        return self.proc.returncode, self.err.text()


def run(args, env=None, timeout=20):
    return subprocess.run([DNSORTD, *args], capture_output=True, text=True, timeout=timeout,
                          env=env if env is not None else clean_env())


def query(name, qid=0x4242):
    pkt = struct.pack(">HHHHHH", qid, 0x0100, 1, 0, 0, 0)
    for label in name.split("."):
        pkt += bytes([len(label)]) + label.encode()
    return pkt + b"\x00" + struct.pack(">HH", 1, 1)


def answers(port, name, host="127.0.0.1"):
    """(rcode, [(address, ttl)]) of an A query over UDP."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_DGRAM) as s:
        s.settimeout(2)
        s.sendto(query(name), (host, port))
        reply = s.recv(4096)
    rcode = reply[3] & 0x0F
    qd, an = struct.unpack(">HH", reply[4:8])
    pos = 12
    for _ in range(qd):
        while reply[pos] != 0:
            pos += 1 + reply[pos]
        pos += 5
    out = []
    for _ in range(an):
        pos += 2 if reply[pos] & 0xC0 == 0xC0 else 0
        rtype, _, ttl, rdlen = struct.unpack(">HHIH", reply[pos:pos + 10])
        pos += 10
        if rtype == 1:
            out.append((socket.inet_ntoa(reply[pos:pos + 4]), ttl))
        pos += rdlen
    return rcode, out


def sort_request(port, nums):
    body = ("[" + ", ".join(str(n) for n in nums) + "]").encode()
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(struct.pack(">Q", len(body)) + body)
        out = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                return out
            out += chunk


def listening_sockets(pid):
    """The (proto, port) of every socket the process holds that is
    listening (TCP) or bound (UDP), from /proc."""
    inodes = set()
    fd_dir = "/proc/%d/fd" % pid
    for fd in os.listdir(fd_dir):
        try:
            m = re.match(r"socket:\[(\d+)\]", os.readlink(os.path.join(fd_dir, fd)))
        except OSError:
            continue
        if m:
            inodes.add(m.group(1))
    found = set()
    for proto in ("tcp", "tcp6", "udp", "udp6"):
        with open("/proc/net/" + proto) as f:
            next(f)
            for row in f:
                cols = row.split()
                local, state, inode = cols[1], cols[3], cols[9]
                if inode in inodes and (proto.startswith("udp") or state == "0A"):
                    found.add((proto.rstrip("6"), int(local.rsplit(":", 1)[1], 16)))
    return found


def write(path, text):
    with open(path, "w") as f:
        f.write(text)


class ConfigFile(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.conf = os.path.join(self.tmp.name, "dnsortd.conf")
        self.hosts = os.path.join(self.tmp.name, "hosts")

    def tearDown(self):
        self.tmp.cleanup()

    def test_options_from_a_file(self):
        write(self.hosts, "192.0.2.10 file.test\n")
        write(self.conf, "# a config file\n"
                         "dns = 127.0.0.1:0\n"
                         "sort=127.0.0.1:0\n"
                         "hosts=%s   # comment\n"
                         "map=map.test=192.0.2.20,192.0.2.21\n"
                         "ttl=42\n"
                         "no-default-map\n"
                         "unknown=nxdomain\n" % self.hosts)
        srv = Dnsortd("--config", self.conf)
        try:
            self.assertEqual(answers(srv.dns_port, "file.test"), (0, [("192.0.2.10", 42)]))
            self.assertEqual(answers(srv.dns_port, "map.test"),
                             (0, [("192.0.2.20", 42), ("192.0.2.21", 42)]))
            self.assertEqual(answers(srv.dns_port, "facebook.com"), (3, []))
            self.assertEqual(sort_request(srv.sort[0][1], [3, 1, 2]), b"[1, 2, 3]")
        finally:
            code, err = srv.stop()
        self.assertEqual(code, 0, err)

    def test_environment_and_precedence(self):
        write(self.conf, "dns=127.0.0.1:0\nsort=127.0.0.1:0\nttl=10\nmap=a.test=192.0.2.1\n"
                         "map=b.test=192.0.2.2\n")
        env = clean_env(DNSORT_CONFIG=self.conf, DNSORT_TTL="20",
                        DNSORT_MAP="c.test=192.0.2.3,192.0.2.4,d.test=192.0.2.5")
        # Environment over file; a list comes whole from the environment.
        srv = Dnsortd(env=env)
        try:
            self.assertEqual(answers(srv.dns_port, "c.test"),
                             (0, [("192.0.2.3", 20), ("192.0.2.4", 20)]))
            self.assertEqual(answers(srv.dns_port, "d.test"), (0, [("192.0.2.5", 20)]))
            # Not the file's: an unknown name gets the default answer.
            self.assertEqual(answers(srv.dns_port, "a.test"), (0, [("127.0.0.1", 20)]))
        finally:
            self.assertEqual(srv.stop()[0], 0)
        # The command line over both.
        srv = Dnsortd("--ttl", "30", "--map", "e.test=192.0.2.6", env=env)
        try:
            self.assertEqual(answers(srv.dns_port, "e.test"), (0, [("192.0.2.6", 30)]))
            self.assertEqual(answers(srv.dns_port, "c.test"), (0, [("127.0.0.1", 30)]))
        finally:
            self.assertEqual(srv.stop()[0], 0)

    def test_unknown_dnsort_variables_are_warned_about(self):
        # Other programs share the prefix (dnsdist's DNSORT_BACKENDS in
        # docker/scale); a typo must still be seen.
        srv = Dnsortd("--dns", "127.0.0.1:0", "--sort", "127.0.0.1:0",
                      env=clean_env(DNSORT_TTLL="3", DNSORT_BACKENDS="x"))
        try:
            self.assertTrue(srv.err.wait_for("ignoring DNSORT_TTLL, DNSORT_BACKENDS: not "
                                             "options of dnsortd"), srv.err.text())
        finally:
            self.assertEqual(srv.stop()[0], 0)

    def test_container_environment(self):
        env = clean_env(DNSORT_DNS="127.0.0.1:0,127.0.0.2:0", DNSORT_SORT="127.0.0.1:0",
                        DNSORT_METRICS="127.0.0.1:0", DNSORT_LOG_QUERIES="yes")
        # Arguments added to the container's command keep its addresses.
        srv = Dnsortd("--ttl", "5", env=env)
        try:
            self.assertEqual(len(srv.dns), 2, srv.line)
            self.assertEqual(srv.dns[1][0], "127.0.0.2")
            self.assertEqual(len(srv.metrics), 1, srv.line)
            for host, port in srv.dns:
                self.assertEqual(answers(port, "wipo.int", host)[1][0][1], 5)
            with socket.create_connection(srv.metrics[0], timeout=5) as s:
                s.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
                body = b""
                while True:
                    chunk = s.recv(65536)
                    if not chunk:
                        break
                    body += chunk
            self.assertIn(b"dnsort_dns_", body)
            self.assertTrue(srv.err.wait_for(r"wipo\.int"), "DNSORT_LOG_QUERIES=yes logs queries")
        finally:
            self.assertEqual(srv.stop()[0], 0)

    def test_bad_line_names_file_and_line_and_exits_2(self):
        write(self.conf, "ttl=30\n# fine so far\nmax-elements=lots\n")
        r = run(["--config", self.conf])
        self.assertEqual(r.returncode, 2)
        self.assertEqual(r.stderr,
                         "dnsortd: %s:3: max-elements: 'lots' is not a number from 1 to 100000000\n"
                         % self.conf)
        write(self.conf, "ttl=30\nthreads\n")
        r = run(["--config", self.conf])
        self.assertEqual(r.returncode, 2)
        self.assertIn("%s:2: threads needs a value" % self.conf, r.stderr)
        write(self.conf, "x" * 5000 + "\n")
        r = run(["--config", self.conf])
        self.assertEqual(r.returncode, 2)
        self.assertIn("%s:1: line longer than 4096 bytes" % self.conf, r.stderr)
        r = run(["--config", "/dev/zero"])
        self.assertEqual(r.returncode, 2)
        self.assertIn("/dev/zero: larger than 1048576 bytes", r.stderr)
        r = run(["--config", os.path.join(self.tmp.name, "missing.conf")])
        self.assertEqual(r.returncode, 2)
        self.assertIn("missing.conf: No such file or directory", r.stderr)
        r = run([], env=clean_env(DNSORT_MAX_ELEMENTS="0"))
        self.assertEqual(r.returncode, 2)
        self.assertEqual(r.stderr, "dnsortd: DNSORT_MAX_ELEMENTS: '0' is not a number from 1 "
                                   "to 100000000\n")

    def test_sighup_rereads_the_file_and_keeps_the_old_zone_on_error(self):
        write(self.hosts, "192.0.2.1 hosts.test\n")
        write(self.conf, "dns=127.0.0.1:0\nsort=127.0.0.1:0\nttl=30\nmap=m.test=192.0.2.7\n"
                         "hosts=%s\n" % self.hosts)
        srv = Dnsortd("--config", self.conf)
        try:
            self.assertEqual(answers(srv.dns_port, "m.test"), (0, [("192.0.2.7", 30)]))
            # An edit of the zone's options: applied on SIGHUP.
            write(self.conf, "dns=127.0.0.1:0\nsort=127.0.0.1:0\nttl=60\nmap=m.test=192.0.2.8\n"
                             "map=n.test=192.0.2.9\nno-default-map\nunknown=refused\n")
            srv.proc.send_signal(signal.SIGHUP)
            self.assertTrue(srv.err.wait_for("reloaded the DNS map"), srv.err.text())
            self.assertEqual(answers(srv.dns_port, "m.test"), (0, [("192.0.2.8", 60)]))
            self.assertEqual(answers(srv.dns_port, "n.test"), (0, [("192.0.2.9", 60)]))
            self.assertEqual(answers(srv.dns_port, "hosts.test"), (5, []))  # REFUSED
            self.assertEqual(answers(srv.dns_port, "wipo.int"), (5, []))
            # A broken edit: the old answers stay, the error names the line.
            write(self.conf, "dns=127.0.0.1:0\nttl=90\nmap=m.test=192.0.2.99\nttl=soon\n")
            srv.proc.send_signal(signal.SIGHUP)
            self.assertTrue(srv.err.wait_for("reload failed"), srv.err.text())
            self.assertIn("%s:4: ttl: 'soon' is not" % self.conf, srv.err.text())
            self.assertEqual(answers(srv.dns_port, "m.test"), (0, [("192.0.2.8", 60)]))
            # A map entry that does not build: the zone's own error.
            write(self.conf, "dns=127.0.0.1:0\nmap=bad..name=192.0.2.1\n")
            srv.proc.send_signal(signal.SIGHUP)
            self.assertTrue(srv.err.wait_for("reload failed.*bad\\.\\.name"), srv.err.text())
            self.assertEqual(answers(srv.dns_port, "m.test"), (0, [("192.0.2.8", 60)]))
            # An option SIGHUP does not apply: said so, the zone still swaps.
            write(self.conf, "dns=127.0.0.1:0\nsort=127.0.0.1:0\nmap=m.test=192.0.2.10\n"
                             "max-connections=7\n")
            srv.proc.send_signal(signal.SIGHUP)
            self.assertTrue(srv.err.wait_for("--max-connections changed; restart to apply"),
                            srv.err.text())
            deadline = time.monotonic() + 5
            while srv.err.text().count("reloaded the DNS map") < 2 and time.monotonic() < deadline:
                time.sleep(0.02)
            self.assertEqual(answers(srv.dns_port, "m.test")[1][0][0], "192.0.2.10")
        finally:
            code, err = srv.stop()
        self.assertEqual(code, 0, err)


class ServicesOff(unittest.TestCase):
    def test_sort_off(self):
        srv = Dnsortd("--dns", "127.0.0.1:0", "--sort", "off")
        try:
            self.assertEqual(srv.sort, [], srv.line)
            self.assertEqual(answers(srv.dns_port, "facebook.com")[0], 0)
            # Only DNS is bound: UDP and TCP on its port, nothing else.
            self.assertEqual(listening_sockets(srv.proc.pid),
                             {("udp", srv.dns_port), ("tcp", srv.dns_port)})
            self.assertTrue(srv.err.wait_for("sort=off"))
        finally:
            code, err = srv.stop()
        self.assertEqual(code, 0, err)

    def test_dns_off(self):
        srv = Dnsortd("--dns", "off", "--sort", "127.0.0.1:0", "--metrics", "127.0.0.1:0")
        try:
            self.assertEqual(srv.dns, [], srv.line)
            self.assertEqual(sort_request(srv.sort[0][1], [2, 1]), b"[1, 2]")
            self.assertEqual(listening_sockets(srv.proc.pid),
                             {("tcp", srv.sort[0][1]), ("tcp", srv.metrics[0][1])})
        finally:
            code, err = srv.stop()
        self.assertEqual(code, 0, err)

    def test_both_off_is_an_error(self):
        r = run(["--dns", "off", "--sort", "off"])
        self.assertEqual(r.returncode, 2)
        self.assertEqual(r.stderr,
                         "dnsortd: --dns off and --sort off: at least one service must stay on\n")
        r = run(["--sort", "off"], env=clean_env(DNSORT_DNS="off"))
        self.assertEqual(r.returncode, 2)
        r = run(["--dns", "off", "--dns", "127.0.0.1:0"])
        self.assertEqual(r.returncode, 2)
        self.assertIn("'off' cannot be combined", r.stderr)


class ResolvConf(unittest.TestCase):
    def test_bad_resolv_conf_is_a_clear_error(self):
        tmp = tempfile.TemporaryDirectory()
        resolv = os.path.join(tmp.name, "resolv.conf")
        try:
            # resolv.conf has no ports: glibc would skip such a line, we say so.
            write(resolv, "# generated\nsearch example\nnameserver 127.0.0.1:5353\n")
            r = run(["--unknown", "forward", "--upstream", "resolv.conf:" + resolv])
            self.assertEqual(r.returncode, 2)
            self.assertEqual(r.stderr, "dnsortd: --upstream: %s:3: '127.0.0.1:5353' is not an "
                                       "IPv4 or IPv6 address\n" % resolv)
            write(resolv, "search example\n")
            r = run(["--unknown", "forward", "--upstream", "resolv.conf:" + resolv])
            self.assertEqual(r.returncode, 2)
            self.assertIn("%s: no nameserver line" % resolv, r.stderr)
            r = run(["--unknown", "forward"], env=clean_env(DNSORT_UPSTREAM="resolv.conf:/nonexistent"))
            self.assertEqual(r.returncode, 2)
            self.assertIn("DNSORT_UPSTREAM: /nonexistent: No such file or directory", r.stderr)
        finally:
            tmp.cleanup()

    def test_forwarding_to_the_nameservers_of_a_resolv_conf(self):
        # resolv.conf means port 53: the upstream (a second dnsortd) needs
        # it, on an address of 127/8 of its own.
        host = "127.53.%d.%d" % (os.getpid() % 250 + 1, int(time.time()) % 250 + 1)
        try:
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
                probe.bind((host, 53))
        except OSError as e:
            self.skipTest("cannot bind %s:53 (%s): port 53 needs privileges" % (host, e))
        upstream = Dnsortd("--dns", host + ":53", "--sort", "off", "--no-default-map",
                           "--map", "far.test=192.0.2.77", "--unknown", "nxdomain")
        tmp = tempfile.TemporaryDirectory()
        resolv = os.path.join(tmp.name, "resolv.conf")
        try:
            write(resolv, "options edns0\nnameserver %s  # the test's upstream\n" % host)
            srv = Dnsortd("--dns", "127.0.0.1:0", "--sort", "off", "--unknown", "forward",
                          "--upstream", "resolv.conf:" + resolv)
            try:
                self.assertTrue(srv.err.wait_for(r"forwarding names outside the map to %s:53"
                                                 % re.escape(host)), srv.err.text())
                self.assertEqual(answers(srv.dns_port, "far.test")[1][0][0], "192.0.2.77")
                self.assertEqual(answers(srv.dns_port, "near.test")[0], 3)
            finally:
                self.assertEqual(srv.stop()[0], 0)
        finally:
            upstream.stop()
            tmp.cleanup()


class Documentation(unittest.TestCase):
    def help_options(self):
        r = run(["--help"])
        self.assertEqual(r.returncode, 0)
        return set(re.findall(r"^  (?:-\w, )?--([a-z0-9-]+)", r.stdout, re.M))

    def test_man_page_names_every_option_of_help(self):
        names = self.help_options()
        self.assertGreater(len(names), 30)
        r = run(["--man"])
        self.assertEqual(r.returncode, 0)
        man = r.stdout
        in_man = set(n.replace("\\-", "-") for n in
                     re.findall(r"^(?:\\fB\\-\w\\fR, )?\\fB\\-\\-((?:[a-z0-9]|\\-)+)\\fR", man, re.M))
        self.assertEqual(in_man, names)
        if MAN is not None:
            with open(MAN) as f:
                self.assertEqual(f.read(), man, "the installed page is --man's output")
        if shutil.which("groff") is None:
            print("SKIP: groff is not installed: the page is not linted", file=sys.stderr)
            return
        lint = subprocess.run(["groff", "-man", "-ww", "-z", "-Tutf8"], input=man,
                              capture_output=True, text=True, timeout=20)
        self.assertEqual(lint.returncode, 0, lint.stderr)
        self.assertEqual(lint.stderr, "")

    def test_readme_names_every_option(self):
        with open(README) as f:
            readme = f.read()
        section = readme[readme.index("### Options"):readme.index("### Hosts files")]
        missing = sorted(n for n in self.help_options() if "`--%s" % n not in section)
        self.assertEqual(missing, [], "README's options section lacks these")


def main():
    global DNSORTD, MAN
    p = argparse.ArgumentParser()
    p.add_argument("--dnsortd", required=True)
    p.add_argument("--man")
    args, rest = p.parse_known_args()
    DNSORTD = os.path.abspath(args.dnsortd)
    MAN = args.man
    unittest.main(argv=[sys.argv[0], "-v", *rest])


if __name__ == "__main__":
    main()
