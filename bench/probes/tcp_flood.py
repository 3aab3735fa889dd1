#!/usr/bin/env python3
"""UDP latency and dnsortd's memory while DNS-over-TCP clients pipeline as
fast as they can (issue 14, point 5).

--conns connections each send --queries pipelined queries for a name in
the map, as fast as the kernel takes them. With --read (the default) they
read and discard every reply, so the server answers at full speed for the
whole flood; with --no-read they never read, which is what costs the
server memory. Meanwhile a separate process sends one UDP query every
--udp-interval ms and times each answer: the figures are the UDP latency
before the flood (baseline) and during it, and dnsortd's largest RSS.

  bench/probes/tcp_flood.py --dnsortd build/loop/dnsortd [--conns 1000]
      [--queries 20000] [--no-read] [-- extra dnsortd options]

Bounded: the flood stops after --flood-seconds, the probe after
--max-seconds. It needs about 2 x --conns file descriptors.
"""
import argparse
import multiprocessing
import os
import select
import socket
import struct
import sys
import threading
import time

import probe_lib

NAME = "facebook.com"    # in dnsortd's default map: the fast path


def take_replies(s, sent, results):
    """Every reply waiting on s: (send time, rtt) for the queries in sent."""
    while True:
        try:
            reply = s.recv(4096)
        except BlockingIOError:
            return
        t = sent.pop(struct.unpack(">H", reply[:2])[0], None)
        if t is not None:
            results.append((t, time.monotonic() - t))


def udp_prober(port, interval, stop_at, out):
    """Runs in its own process (no GIL shared with the flood). Sends one
    query each interval and puts (send time, rtt or None) for each on out."""
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setblocking(False)
    sent = {}
    results = []
    qid = 0
    next_send = time.monotonic()
    while time.monotonic() < stop_at:
        if time.monotonic() >= next_send:
            qid = (qid + 1) & 0xFFFF
            try:
                s.sendto(probe_lib.query(NAME, qid=qid), ("127.0.0.1", port))
                sent[qid] = time.monotonic()
            except BlockingIOError:
                pass
            next_send += interval
        wait = max(0.0, min(next_send, stop_at) - time.monotonic())
        if select.select([s], [], [], wait)[0]:
            take_replies(s, sent, results)
    # What never came back within 5 s is lost.
    deadline = time.monotonic() + 5.0
    while sent and time.monotonic() < deadline:
        if select.select([s], [], [], 0.05)[0]:
            take_replies(s, sent, results)
    results.extend((t, None) for t in sent.values())
    out.put(results)


class Flood:
    """conns non-blocking TCP connections driven by one epoll."""

    def __init__(self, port, conns, queries, read):
        q = probe_lib.query(NAME)
        self.payload = (struct.pack(">H", len(q)) + q) * queries
        self.expect = queries * (2 + len(q) + 16)   # one A record each
        self.read = read
        self.ep = select.epoll()
        self.socks = {}
        self.sent = {}
        self.got = {}
        self.received = 0
        self.refused = 0
        for _ in range(conns):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.setblocking(False)
            try:
                s.connect(("127.0.0.1", port))
            except BlockingIOError:
                pass
            self.socks[s.fileno()] = s
            self.sent[s.fileno()] = self.got[s.fileno()] = 0
            self.ep.register(s.fileno(), select.EPOLLOUT | (select.EPOLLIN if read else 0))
        self.buf = bytearray(1 << 20)

    def run(self, until):
        view = memoryview(self.payload)
        total = len(self.payload)
        while self.socks and time.monotonic() < until:
            for fd, ev in self.ep.poll(0.1):
                s = self.socks.get(fd)
                if s is None:
                    continue
                if ev & select.EPOLLIN:
                    try:
                        n = s.recv_into(self.buf)
                    except (BlockingIOError, InterruptedError):
                        n = -1
                    except OSError:
                        n = 0
                    if n == 0:
                        self._drop(fd)
                        continue
                    if n > 0:
                        self.received += n
                        self.got[fd] += n
                        if self.got[fd] >= self.expect:
                            self._drop(fd)   # every reply is in
                            continue
                if ev & select.EPOLLOUT:
                    try:
                        n = s.send(view[self.sent[fd]:])
                        self.sent[fd] += n
                    except (BlockingIOError, InterruptedError):
                        pass
                    except OSError:
                        self.refused += 1
                        self._drop(fd)
                        continue
                    if self.sent[fd] >= total:
                        if self.read:
                            self.ep.modify(fd, select.EPOLLIN)
                        else:
                            self.ep.unregister(fd)
                if ev & (select.EPOLLHUP | select.EPOLLERR) and not ev & select.EPOLLIN:
                    self._drop(fd)
            if not self.read and all(v >= total for v in self.sent.values()):
                time.sleep(0.05)

    def _drop(self, fd):
        s = self.socks.pop(fd)
        try:
            self.ep.unregister(fd)
        except (OSError, ValueError):
            pass
        s.close()

    def close(self):
        for fd in list(self.socks):
            self._drop(fd)
        self.ep.close()


def summary(label, rtts):
    got = sorted(r for r in rtts if r is not None)
    lost = sum(1 for r in rtts if r is None)
    if not rtts:
        return "%-9s no queries" % label
    return "%-9s n=%-5d lost=%-4d p50=%7.2f ms  p99=%8.2f ms  max=%8.2f ms" % (
        label, len(rtts), lost, 1000 * probe_lib.percentile(got, 50),
        1000 * probe_lib.percentile(got, 99), 1000 * (got[-1] if got else float("nan")))


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--dnsortd", required=True)
    p.add_argument("--conns", type=int, default=1000)
    p.add_argument("--queries", type=int, default=20000, help="pipelined queries per connection")
    p.add_argument("--read", dest="read", action="store_true", default=True)
    p.add_argument("--no-read", dest="read", action="store_false")
    p.add_argument("--udp-interval", type=float, default=5.0, help="ms between UDP probes")
    p.add_argument("--baseline-seconds", type=float, default=2.0)
    p.add_argument("--flood-seconds", type=float, default=30.0)
    p.add_argument("--max-seconds", type=int, default=120)
    p.add_argument("--show-log", action="store_true", help="print dnsortd's last log lines at the end")
    p.add_argument("--flood-nice", type=int, default=10, help="nice increment of the flooding process")
    p.add_argument("extra", nargs="*", help="more dnsortd options (after --)")
    args = p.parse_args()
    probe_lib.deadline_guard(args.max_seconds)

    srv = probe_lib.Dnsortd(args.dnsortd, "--log-level", "warn",
                            "--dns-tcp-max-connections", str(max(1024, args.conns)), *args.extra)
    flood = prober = None
    try:
        rss0, _ = srv.memory_kb()
        out = multiprocessing.Queue()
        t_start = time.monotonic()
        stop_at = t_start + args.baseline_seconds + args.flood_seconds + 1.0
        prober = multiprocessing.Process(target=udp_prober,
                                         args=(srv.port, args.udp_interval / 1000.0, stop_at, out))
        prober.start()
        # The flood runs at a lower priority than the prober and dnsortd:
        # on a small machine the figures are then the server's latency,
        # not the prober waiting for a CPU behind the flood.
        os.nice(args.flood_nice)
        time.sleep(args.baseline_seconds)

        peak = [rss0]
        sampling = [True]

        def sample():
            while sampling[0]:
                try:
                    peak[0] = max(peak[0], srv.memory_kb()[0])
                except OSError:
                    return
                time.sleep(0.05)
        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()

        t_flood = time.monotonic()
        flood = Flood(srv.port, args.conns, args.queries, args.read)
        flood.run(t_flood + args.flood_seconds)
        t_end = time.monotonic()
        sampling[0] = False
        sampler.join(2)
        total_bytes = len(flood.payload) * args.conns
        sent = sum(flood.sent.values())
        received, failed = flood.received, flood.refused
        flood.close()
        flood = None

        results = out.get(timeout=stop_at - time.monotonic() + 30)
        prober.join(10)
        _, hwm = srv.memory_kb()
        base = [r for t, r in results if t < t_flood]
        during = [r for t, r in results if t_flood <= t < t_end]
        print("flood: %d connections x %d queries (%s), %.1f s, %d of %d query bytes sent, "
              "%d reply bytes read, %d connections failed" %
              (args.conns, args.queries, "reading" if args.read else "not reading", t_end - t_flood,
               sent, total_bytes, received, failed))
        print(summary("baseline", base))
        print(summary("flood", during))
        print("dnsortd RSS: %d KiB at start, %d KiB peak sampled, VmHWM %d KiB" % (rss0, peak[0], hwm))
    finally:
        if flood is not None:
            flood.close()
        if prober is not None and prober.is_alive():
            prober.terminate()
            prober.join(5)
        srv.stop()
        if args.show_log:
            sys.stdout.write("".join(srv.stderr[-20:]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
