"""What the hostile-client probes in bench/probes/ share: starting dnsortd
on ephemeral 127.0.0.1 ports (and stopping it by its PID only), reading its
memory from /proc, DNS messages in and out, and percentiles.

Probes are measurements, not tests: they print figures and never assert.
"""
import os
import re
import select
import signal
import socket
import struct
import subprocess
import threading
import time

LISTEN_RE = re.compile(r"^dnsortd listening dns=udp://(\S+):(\d+) sort=tcp://\S+:\d+(?: metrics=http://(\S+):(\d+))?$")

TYPE_A, TYPE_CNAME, TYPE_OPT = 1, 5, 41


class Dnsortd:
    """dnsortd on ephemeral ports; the real ports come from its stdout. Its
    stderr is drained on a thread so a chatty server never blocks."""

    def __init__(self, binary, *extra, start_timeout=10.0):
        self.proc = subprocess.Popen(
            [binary, "--dns", "127.0.0.1:0", "--sort", "127.0.0.1:0", *extra],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self.stderr = []
        self.reader = threading.Thread(target=self._drain, daemon=True)
        self.reader.start()
        ready, _, _ = select.select([self.proc.stdout], [], [], start_timeout)
        line = self.proc.stdout.readline().decode().strip() if ready else ""
        m = LISTEN_RE.match(line)
        if not m:
            self.stop()
            raise RuntimeError("dnsortd did not start (%r): %s" % (line, "".join(self.stderr)))
        self.port = int(m.group(2))

    def _drain(self):
        for raw in iter(self.proc.stderr.readline, b""):
            if len(self.stderr) < 1000:
                self.stderr.append(raw.decode(errors="replace"))

    def memory_kb(self):
        """(VmRSS, VmHWM) in KiB, from /proc/PID/status."""
        fields = {}
        with open("/proc/%d/status" % self.proc.pid) as f:
            for line in f:
                key, _, value = line.partition(":")
                if key in ("VmRSS", "VmHWM"):
                    fields[key] = int(value.split()[0])
        return fields.get("VmRSS", 0), fields.get("VmHWM", 0)

    def stop(self, timeout=10.0):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout)
        self.reader.join(5)
        self.proc.stdout.close()
        self.proc.stderr.close()
        return self.proc.returncode


def encode_name(name):
    out = b""
    for label in name.rstrip(".").split("."):
        if label:
            out += bytes([len(label)]) + label.encode()
    return out + b"\x00"


def query(name, qtype=TYPE_A, qid=0, rd=True):
    flags = 0x0100 if rd else 0
    return struct.pack(">HHHHHH", qid, flags, 1, 0, 0, 0) + encode_name(name) + struct.pack(">HH", qtype, 1)


def question_end(msg):
    """Where the first question ends (its name must be uncompressed)."""
    pos = 12
    while msg[pos] != 0:
        pos += 1 + msg[pos]
    return pos + 1 + 4


def answer_a(q, address, ttl=60):
    """A NOERROR reply to q (its OPT dropped) with one A record for the
    question's name."""
    end = question_end(q)
    qid, flags = struct.unpack(">HH", q[:4])
    head = struct.pack(">HHHHHH", qid, 0x8000 | 0x0080 | (flags & 0x0100), 1, 1, 0, 0)
    rr = b"\xc0\x0c" + struct.pack(">HHIH", TYPE_A, 1, ttl, 4) + socket.inet_aton(address)
    return head + q[12:end] + rr


def percentile(sorted_values, p):
    if not sorted_values:
        return float("nan")
    k = min(len(sorted_values) - 1, max(0, int(round(p / 100.0 * (len(sorted_values) - 1)))))
    return sorted_values[k]


def deadline_guard(seconds):
    """Ends the whole probe (and, through the finally blocks, dnsortd) if it
    runs past its bound."""
    def on_alarm(signum, frame):
        raise TimeoutError("probe ran longer than %d s" % seconds)
    signal.signal(signal.SIGALRM, on_alarm)
    signal.alarm(seconds)


def here():
    return os.path.dirname(os.path.abspath(__file__))
