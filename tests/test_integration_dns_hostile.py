#!/usr/bin/env python3
"""Hostile DNS clients and upstreams against the real dnsortd (issue 14,
points 4 and 5), through real sockets on 127.0.0.1:

- DNS-over-TCP clients that pipeline far more than the server will hold
  for them: what one connection can make the server hold is bounded (read
  from --metrics), every query is still answered, in order; and UDP is
  answered while many such connections flood.
- Upstreams that answer the forwarder with malformed or overreaching
  messages (a fake upstream in the test, a UDP socket answering from a
  script): pointer loops and self-pointing pointers are SERVFAIL and
  counted, records outside the question's name chain are dropped, a good
  CNAME chain is relayed whole.

No test asserts a timing: waits are bounded by generous timeouts only.

Run by meson test: test_integration_dns_hostile.py --dnsortd PATH
"""
import argparse
import os
import select
import socket
import struct
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import test_integration_forward as fwd  # noqa: E402  (DNS messages)
import test_integration_metrics as met  # noqa: E402  (dnsortd with --metrics)

DNS_TCP_MAX_PENDING = 64 * 1024       # DNS_TCP_DEFAULT_MAX_PENDING_BYTES
DNS_TCP_READ_CHUNK = 4096
DNS_STREAM_MIN_BUF = 512


def metric(srv, name):
    samples = srv.scrape()
    return samples[(name, frozenset())]


def framed(pkt):
    return struct.pack(">H", len(pkt)) + pkt


def burst(name, n, first_id=0):
    """n pipelined framed queries for name, IDs first_id, first_id + 1, ..."""
    return b"".join(framed(fwd.query(name, qid=(first_id + i) & 0xFFFF)) for i in range(n))


class FramedReader:
    """Length-prefixed messages from a TCP socket; bytes of a message cut
    between two reads are kept for the next."""

    def __init__(self, sock):
        self.sock = sock
        self.buf = bytearray()

    def read(self, n, timeout):
        """The next n messages, within timeout seconds overall."""
        deadline = time.monotonic() + timeout
        out = []
        while True:
            pos = 0
            while len(out) < n and len(self.buf) - pos >= 2:
                (length,) = struct.unpack_from(">H", self.buf, pos)
                if len(self.buf) - pos < 2 + length:
                    break
                out.append(bytes(self.buf[pos + 2:pos + 2 + length]))
                pos += 2 + length
            del self.buf[:pos]
            if len(out) == n:
                return out
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError("%d of %d replies within %s s" % (len(out), n, timeout))
            self.sock.settimeout(left)
            chunk = self.sock.recv(1 << 20)
            if not chunk:
                raise AssertionError("connection closed after %d of %d replies" % (len(out), n))
            self.buf += chunk


class TcpPipelining(unittest.TestCase):

    def test_pipelining_far_past_the_bound_holds_at_most_the_bound_and_answers_all_in_order(self):
        """One connection pipelines queries and reads nothing until the
        kernel's buffers are full and the server holds its bound: the
        server holds no more for it than --dns-tcp-max-pending (64k by
        default) plus one read of queries and one partial message; once the
        client reads, every reply comes, in order."""
        chunk, max_chunks = 10000, 60      # at most 600000 queries, 19 MB
        srv = met.Server(log_level="warn")
        try:
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            # A small receive buffer on our side: the kernel still takes
            # megabytes of replies on the server's side before the
            # server's own bound is what holds them back.
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            s.connect(("127.0.0.1", srv.dns_port))
            stop = threading.Event()
            sent = [0]

            def send():
                for k in range(max_chunks):
                    if stop.is_set():
                        return
                    s.sendall(burst("facebook.com", chunk, first_id=k * chunk))
                    sent[0] += chunk
            sender = threading.Thread(target=send, daemon=True)
            sender.start()

            deadline = time.monotonic() + 120
            held = 0
            while time.monotonic() < deadline and sender.is_alive():
                held = metric(srv, "dnsort_dns_tcp_connection_buffered_bytes_max")
                if held >= DNS_TCP_MAX_PENDING:
                    break
                time.sleep(0.05)
            stop.set()
            self.assertGreaterEqual(held, DNS_TCP_MAX_PENDING,
                                    "the client never made the server hold its bound")
            time.sleep(0.5)   # the client still does not read: nothing more is taken
            reply_len = len(framed(fwd.query("facebook.com"))) + 16
            bound = DNS_TCP_MAX_PENDING + reply_len + DNS_TCP_READ_CHUNK + DNS_STREAM_MIN_BUF
            self.assertLessEqual(metric(srv, "dnsort_dns_tcp_connection_buffered_bytes_max"), bound)
            self.assertLessEqual(metric(srv, "dnsort_dns_tcp_buffered_bytes"), bound)

            # Read while the sender finishes its last chunk.
            reader = FramedReader(s)
            replies = []
            deadline = time.monotonic() + 180
            while sender.is_alive() or len(replies) < sent[0]:
                self.assertLess(time.monotonic(), deadline, "replies did not all come")
                want = chunk if sender.is_alive() else sent[0] - len(replies)
                replies += reader.read(min(want, chunk), timeout=60)
            self.assertEqual(len(replies), sent[0])
            self.assertGreater(sent[0], DNS_TCP_MAX_PENDING // reply_len)
            for i, r in enumerate(replies):
                p = fwd.parse(r)
                if p["id"] != i & 0xFFFF or p["rcode"] != fwd.NOERROR or len(p["answer"]) != 1:
                    self.fail("reply %d: id %d rcode %d answers %d" % (i, p["id"], p["rcode"], len(p["answer"])))
            self.assertLessEqual(metric(srv, "dnsort_dns_tcp_connection_buffered_bytes_max"), bound)
            s.close()
            self.assertGreater(metric(srv, "dnsort_dns_tcp_deferred_total"), 0)
        finally:
            srv.stop()

    def test_udp_is_answered_during_a_tcp_pipelining_flood(self):
        """200 connections each pipeline 20000 queries and read their
        replies as fast as they can; meanwhile 40 UDP queries, one after
        the other, each get their answer within a generous 2 s, and every
        TCP query is answered too."""
        conns, per_conn, udp_queries = 200, 20000, 40
        srv = met.Server(log_level="warn")
        flood = None
        try:
            reply_len = len(framed(fwd.query("facebook.com"))) + 16
            flood = TcpFlood(srv.dns_port, conns, burst("facebook.com", per_conn),
                             per_conn * reply_len)
            flood.start()
            self.assertTrue(flood.started.wait(30), "the flood's connections did not open")
            time.sleep(0.2)
            udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            answered = []
            for i in range(udp_queries):
                udp.sendto(fwd.query("wipo.int", qid=i), ("127.0.0.1", srv.dns_port))
                udp.settimeout(2.0)
                try:
                    while True:
                        r = fwd.parse(udp.recv(4096))
                        if r["id"] == i:
                            break
                except socket.timeout:
                    self.fail("UDP query %d (of %d) had no answer within 2 s during the flood "
                              "(flood: %d of %d connections done)" % (i, udp_queries, flood.done, conns))
                self.assertEqual(r["rcode"], fwd.NOERROR)
                answered.append(i)
                time.sleep(0.02)
            udp.close()
            self.assertEqual(len(answered), udp_queries)
            flood.join(300)
            self.assertFalse(flood.is_alive(), "the flood did not finish")
            self.assertEqual(flood.failed, 0)
            self.assertEqual(flood.done, conns)
        finally:
            if flood is not None:
                flood.stop()
            srv.stop()


class TcpFlood(threading.Thread):
    """conns connections that each send the same pipelined queries and read
    until they have expect bytes of replies (or the connection ends)."""

    def __init__(self, port, conns, payload, expect):
        super().__init__(daemon=True)
        self.port, self.conns, self.payload, self.expect = port, conns, payload, expect
        self.started = threading.Event()
        self.running = True
        self.done = 0
        self.failed = 0

    def stop(self):
        self.running = False
        self.join(30)

    def run(self):
        ep = select.epoll()
        socks, sent, got = {}, {}, {}
        try:
            for _ in range(self.conns):
                s = socket.create_connection(("127.0.0.1", self.port), timeout=10)
                s.setblocking(False)
                socks[s.fileno()] = s
                sent[s.fileno()] = got[s.fileno()] = 0
                ep.register(s.fileno(), select.EPOLLOUT | select.EPOLLIN)
            self.started.set()
            view = memoryview(self.payload)
            buf = bytearray(1 << 20)
            deadline = time.monotonic() + 300
            while socks and self.running and time.monotonic() < deadline:
                for fd, ev in ep.poll(0.1):
                    s = socks.get(fd)
                    if s is None:
                        continue
                    try:
                        if ev & select.EPOLLOUT and sent[fd] < len(self.payload):
                            sent[fd] += s.send(view[sent[fd]:])
                            if sent[fd] == len(self.payload):
                                ep.modify(fd, select.EPOLLIN)
                        if ev & (select.EPOLLIN | select.EPOLLHUP | select.EPOLLERR):
                            n = s.recv_into(buf)
                            if n == 0:
                                raise ConnectionError("closed by the server")
                            got[fd] += n
                    except (BlockingIOError, InterruptedError):
                        continue
                    except OSError:
                        self.failed += 1
                        got[fd] = -1
                    if got[fd] < 0 or got[fd] >= self.expect:
                        if got[fd] >= self.expect:
                            self.done += 1
                        ep.unregister(fd)
                        socks.pop(fd).close()
        finally:
            for s in socks.values():
                s.close()
            ep.close()
            self.started.set()


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--dnsortd", required=True)
    args, rest = p.parse_known_args()
    fwd.DNSORTD = met.DNSORTD = os.path.abspath(args.dnsortd)
    unittest.main(argv=[sys.argv[0], "-v", *rest])


if __name__ == "__main__":
    main()
