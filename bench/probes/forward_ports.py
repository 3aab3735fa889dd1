#!/usr/bin/env python3
"""How many UDP source ports dnsortd's forwarder uses for a burst of
overlapping upstream queries (issue 14, point 4).

A fake upstream on 127.0.0.1 records the source port of every query and
holds its answers until all of them have arrived (or --hold seconds have
passed since the last one), so every upstream query is in flight at once.
The client sends --queries queries for distinct names to dnsortd over UDP
and counts the answers. With one socket per forwarder, every query leaves
from one port and only the 16-bit ID stands between a spoofer and the
cache.

  bench/probes/forward_ports.py --dnsortd build/loop/dnsortd [--queries 1000]
      [-- extra dnsortd options, e.g. --forward-udp-max-queries 16]

Bounded: the probe ends itself after --max-seconds (default 60).
"""
import argparse
import collections
import select
import socket
import struct
import sys
import threading
import time

import probe_lib


class HoldingUpstream:
    """Reads queries, notes their source ports, answers all of them at once
    when `expect` have arrived or nothing came for `hold` seconds."""

    def __init__(self, expect, hold):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.expect, self.hold = expect, hold
        self.ports = collections.Counter()
        self.names = set()
        self.held = []
        self.running = True
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _release(self):
        for i, (pkt, addr) in enumerate(self.held):
            try:
                self.sock.sendto(probe_lib.answer_a(pkt, "192.0.2.1"), addr)
            except (OSError, IndexError):
                pass
            # Paced: dnsortd's upstream sockets have the default receive
            # buffer, and a dropped answer means a retry after a timeout.
            if i % 50 == 49:
                time.sleep(0.005)
        self.held = []

    def _run(self):
        last = None
        while self.running:
            ready, _, _ = select.select([self.sock], [], [], 0.02)
            if ready:
                pkt, addr = self.sock.recvfrom(65535)
                self.ports[addr[1]] += 1
                self.names.add(pkt[12:probe_lib.question_end(pkt)].lower())
                self.held.append((pkt, addr))
                last = time.monotonic()
                if len(self.names) >= self.expect:
                    self._release()
            elif self.held and time.monotonic() - last >= self.hold:
                self._release()

    def close(self):
        self.running = False
        self.thread.join(5)
        self.sock.close()


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--dnsortd", required=True)
    p.add_argument("--queries", type=int, default=1000)
    p.add_argument("--hold", type=float, default=0.5,
                   help="seconds of upstream silence before the held queries are answered")
    p.add_argument("--max-seconds", type=int, default=60)
    p.add_argument("extra", nargs="*", help="more dnsortd options (after --)")
    args = p.parse_args()
    probe_lib.deadline_guard(args.max_seconds)

    upstream = HoldingUpstream(args.queries, args.hold)
    srv = None
    try:
        srv = probe_lib.Dnsortd(args.dnsortd, "--unknown", "forward", "--upstream",
                                "127.0.0.1:%d" % upstream.port, "--upstream-timeout", "20",
                                "--max-upstream-inflight", str(max(1024, args.queries)),
                                "--log-level", "warn", *args.extra)
        client = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        client.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
        t0 = time.monotonic()
        for i in range(args.queries):
            client.sendto(probe_lib.query("n%d.ports.probe" % i, qid=i), ("127.0.0.1", srv.port))
            # Paced a little, so that the upstream's socket buffer (capped
            # by net.core.rmem_max) drops nothing: a drop means a retry.
            if i % 50 == 49:
                time.sleep(0.005)
        answered = servfail = 0
        client.settimeout(10)
        try:
            while answered + servfail < args.queries:
                reply = client.recv(65535)
                rcode = struct.unpack(">H", reply[2:4])[0] & 0xF
                if rcode == 0:
                    answered += 1
                else:
                    servfail += 1
        except socket.timeout:
            pass
        elapsed = time.monotonic() - t0
        client.close()
        ports = upstream.ports
        seen = sum(ports.values())
        busiest = ports.most_common(1)[0][1] if ports else 0
        print("queries %d  answered %d  other-rcode %d  in %.2f s" % (args.queries, answered, servfail, elapsed))
        print("upstream queries %d (distinct names %d)  distinct source ports %d  most queries on one port %d" %
              (seen, len(upstream.names), len(ports), busiest))
        if seen:
            print("ports per 1000 upstream queries: %.1f" % (1000.0 * len(ports) / seen))
        rss, hwm = srv.memory_kb()
        print("dnsortd RSS %d KiB, VmHWM %d KiB" % (rss, hwm))
    finally:
        if srv is not None:
            srv.stop()
        upstream.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
