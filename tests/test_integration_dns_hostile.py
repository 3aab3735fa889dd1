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
import fcntl
import os
import select
import signal
import socket
import struct
import sys
import termios
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
        """200 connections have 1.6 million pipelined queries waiting for
        the server at once (it is stopped with SIGSTOP while they are
        written, so that all of them are there when it goes on), and a UDP
        query came last. The UDP query is answered within a generous 2 s,
        and before the server has answered even half of the TCP queries
        that were there first (the replies it has sent are counted in our
        sockets' receive queues when the UDP answer arrives); so are 20
        more UDP queries while the flood is served."""
        conns, per_conn = 200, 8192
        srv = met.Server(log_level="warn")
        socks = []
        try:
            query_len = len(framed(fwd.query("facebook.com")))
            reply_len = query_len + 16
            for _ in range(conns):
                s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                # Room for every reply, so that the server is never held
                # back by us not reading.
                s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 2 * per_conn * reply_len)
                s.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 2 * per_conn * query_len)
                s.connect(("127.0.0.1", srv.dns_port))
                s.setblocking(False)
                socks.append(s)
            payload = burst("facebook.com", per_conn)
            udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            srv.proc.send_signal(signal.SIGSTOP)
            try:
                queued = 0
                for s in socks:
                    try:
                        queued += s.send(payload)
                    except BlockingIOError:
                        pass
                udp.sendto(fwd.query("wipo.int", qid=0), ("127.0.0.1", srv.dns_port))
            finally:
                srv.proc.send_signal(signal.SIGCONT)
            queued_queries = queued // query_len
            self.assertGreater(queued_queries, conns * per_conn // 2,
                               "the kernel took too little to flood")
            for i in range(21):
                if i > 0:
                    time.sleep(0.02)
                    udp.sendto(fwd.query("wipo.int", qid=i), ("127.0.0.1", srv.dns_port))
                udp.settimeout(2.0)
                try:
                    while True:
                        r = fwd.parse(udp.recv(4096))
                        if r["id"] == i:
                            break
                except socket.timeout:
                    self.fail("UDP query %d had no answer within 2 s with %d TCP queries waiting"
                              % (i, queued_queries))
                if i == 0:
                    waiting = bytearray(4)
                    answered = 0
                    for s in socks:
                        fcntl.ioctl(s, termios.FIONREAD, waiting)
                        answered += struct.unpack("i", waiting)[0] // reply_len
                    self.assertLess(answered, queued_queries // 2,
                                    "UDP waited for %d of %d TCP queries" % (answered, queued_queries))
                self.assertEqual(r["rcode"], fwd.NOERROR)
            udp.close()
        finally:
            for s in socks:
                s.close()
            srv.stop()


# ---- forwarding: a fake upstream that answers from a script ----

class FakeUpstream:
    """A UDP socket on 127.0.0.1 that answers each query with
    respond(query) (None: no answer), notes the source port of every query,
    and, with hold=N, keeps its answers until N queries have come (or
    nothing came for hold_s), so that they are all in flight at once."""

    def __init__(self, respond, hold=0, hold_s=0.5):
        self.respond, self.hold, self.hold_s = respond, hold, hold_s
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.ports = {}
        self.queries = 0
        self.held = []
        self.lock = threading.Lock()
        self.running = True
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _send(self, pkt, addr):
        reply = self.respond(pkt)
        if reply is not None:
            self.sock.sendto(reply, addr)

    def _run(self):
        last = time.monotonic()
        while self.running:
            ready, _, _ = select.select([self.sock], [], [], 0.02)
            if ready:
                pkt, addr = self.sock.recvfrom(65535)
                last = time.monotonic()
                with self.lock:
                    self.queries += 1
                    self.ports[addr[1]] = self.ports.get(addr[1], 0) + 1
                if self.hold:
                    self.held.append((pkt, addr))
                    if len(self.held) >= self.hold:
                        self._release()
                else:
                    self._send(pkt, addr)
            elif self.held and time.monotonic() - last >= self.hold_s:
                self._release()

    def _release(self):
        for i, (pkt, addr) in enumerate(self.held):
            self._send(pkt, addr)
            if i % 50 == 49:
                time.sleep(0.005)   # the forwarder's sockets have default buffers
        self.held = []

    def count(self):
        with self.lock:
            return self.queries

    def close(self):
        self.running = False
        self.thread.join(5)
        self.sock.close()


def name_wire(name):
    return fwd.encode_name(name)


def rr(owner, rtype, rdata, ttl=300):
    """A record: owner as wire bytes (a name or a pointer), then the rest."""
    return owner + struct.pack(">HHIH", rtype, 1, ttl, len(rdata)) + rdata


def question_end(query):
    """Where the query's question ends (after QTYPE and QCLASS). Not the
    OPT's start counted from the end: c-ares >= 1.33 adds a COOKIE option
    to the forwarder's OPT, so its length varies."""
    end = 12
    while query[end] != 0:
        end += 1 + query[end]
    return end + 5


def response(query, answers=(), authority=(), additional=(), rcode=0):
    """The upstream's response to query: its ID and question, the records
    given (as bytes), no OPT."""
    end = question_end(query)
    qid, flags = struct.unpack(">HH", query[:4])
    head = struct.pack(">HHHHHH", qid, 0x8180 | (flags & 0x0100) | rcode, 1,
                       len(answers), len(authority), len(additional))
    return head + query[12:end] + b"".join(answers) + b"".join(authority) + b"".join(additional)


QNAME_PTR = b"\xc0\x0c"
TYPE_CNAME = 5


def check_pointers_backwards(msg):
    """Parse msg as a strict reader would (dnspython, BIND): every pointer
    aims before the name it is in and before every earlier target. Returns
    the records as (section, owner, type, data) tuples."""
    def name(pos):
        labels, end, floor = [], None, pos
        while True:
            n = msg[pos]
            if n & 0xC0 == 0xC0:
                target = ((n & 0x3F) << 8) | msg[pos + 1]
                if end is None:
                    end = pos + 2
                if target >= floor or target < 12:
                    raise AssertionError("bad pointer at %d to %d" % (pos, target))
                floor = pos = target
                continue
            if n & 0xC0:
                raise AssertionError("bad label type at %d" % pos)
            if n == 0:
                return ".".join(labels).lower(), (end if end is not None else pos + 1)
            labels.append(msg[pos + 1:pos + 1 + n].decode("latin-1"))
            pos += 1 + n
    qd, an, ns, ar = struct.unpack(">HHHH", msg[4:12])
    _, pos = name(12)
    pos += 4
    out = []
    for section, count in (("an", an), ("ns", ns), ("ar", ar)):
        for _ in range(count):
            owner, pos = name(pos)
            rtype, _, _, rdlen = struct.unpack(">HHIH", msg[pos:pos + 10])
            pos += 10
            data = msg[pos:pos + rdlen]
            if rtype in (TYPE_CNAME, fwd.TYPE_NS):
                data, after = name(pos)
                if after != pos + rdlen:
                    raise AssertionError("RDATA longer than its name")
            out.append((section, owner, rtype, data))
            pos += rdlen
    if pos != len(msg):
        raise AssertionError("%d bytes after the last record" % (len(msg) - pos))
    return out


class Forwarding(unittest.TestCase):

    def forwarder(self, upstream, *extra):
        return met.Server("--unknown", "forward", "--upstream", "127.0.0.1:%d" % upstream.port,
                          "--upstream-timeout", "10", *extra, log_level="warn")

    def ask(self, srv, name, qid=7):
        reply = fwd.udp_exchange(srv.dns_port, fwd.query(name, qid=qid), timeout=15)
        self.assertIsNotNone(reply, "no reply for %s" % name)
        return reply

    def test_overlapping_queries_leave_from_many_source_ports(self):
        """400 overlapping upstream queries (the upstream holds its answers
        until all have come): with the default of 16 queries per socket
        they leave from at least 25 ports, none carrying more than 16; all
        are answered."""
        n = 400
        up = FakeUpstream(lambda q: response(q, [rr(QNAME_PTR, fwd.TYPE_A, bytes([192, 0, 2, 1]))]),
                          hold=n)
        srv = self.forwarder(up)
        try:
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
            for i in range(n):
                s.sendto(fwd.query("n%d.ports.test" % i, qid=i), ("127.0.0.1", srv.dns_port))
                if i % 50 == 49:
                    time.sleep(0.005)
            answered = set()
            s.settimeout(15)
            while len(answered) < n:
                r = fwd.parse(s.recv(4096))
                self.assertEqual(r["rcode"], fwd.NOERROR)
                answered.add(r["id"])
            s.close()
            self.assertEqual(up.count(), n)
            self.assertGreaterEqual(len(up.ports), n // 16, up.ports)
            self.assertLessEqual(max(up.ports.values()), 16, up.ports)
        finally:
            srv.stop()
            up.close()

    def test_answers_with_bad_pointers_are_servfail_and_not_cached(self):
        """An answer whose CNAME points at itself, whose owner points at
        itself, or whose owner is two pointers aiming at each other is
        SERVFAIL (dnspython would call it BadPointer), counted as invalid,
        and not cached: asking again asks the upstream again."""
        qend = question_end
        cases = {
            # www CNAME <pointer to the RDATA itself>
            "self-cname": lambda q: response(q, [QNAME_PTR + struct.pack(">HHIH", TYPE_CNAME, 1, 60, 2)
                                                 + struct.pack(">H", 0xC000 | (qend(q) + 12))]),
            # an owner that is a pointer to itself
            "self-owner": lambda q: response(q, [struct.pack(">H", 0xC000 | qend(q))
                                                 + struct.pack(">HHIH", fwd.TYPE_A, 1, 60, 4) + bytes(4)]),
            # an owner pointing forward at a pointer that points back at it
            "loop": lambda q: response(q, [struct.pack(">HH", 0xC000 | (qend(q) + 2), 0xC000 | qend(q))
                                           + struct.pack(">HHIH", fwd.TYPE_A, 1, 60, 4) + bytes(4)]),
        }
        for label, make in cases.items():
            with self.subTest(label):
                up = FakeUpstream(make)
                srv = self.forwarder(up, "--metrics", "127.0.0.1:0")
                try:
                    per_attempt = None
                    for attempt in (1, 2):
                        r = fwd.parse(self.ask(srv, "www.%s.test" % label, qid=attempt))
                        self.assertEqual(r["rcode"], fwd.SERVFAIL)
                        self.assertEqual(r["answer"], [])
                        if per_attempt is None:
                            # c-ares 1.18 hands the answer over and dns_cache_check
                            # refuses it: one query. c-ares 1.34 refuses it itself
                            # and tries once more: two, an upstream failure.
                            per_attempt = up.count()
                            self.assertIn(per_attempt, (1, 2))
                        self.assertEqual(up.count(), attempt * per_attempt)  # not cached
                    self.assertEqual(metric(srv, "dnsort_dns_forward_invalid_answers_total")
                                     + metric(srv, "dnsort_dns_forward_upstream_failures_total"), 2)
                finally:
                    srv.stop()
                    up.close()

    def test_records_outside_the_question_are_dropped(self):
        """The upstream adds an answer for another name, an NS for another
        zone and its glue: the client gets the one A record for its name,
        and the message reads strictly."""
        def make(q):
            return response(q,
                            [rr(QNAME_PTR, fwd.TYPE_A, bytes([192, 0, 2, 10])),
                             rr(name_wire("www.bank.test"), fwd.TYPE_A, bytes([203, 0, 113, 66]))],
                            [rr(name_wire("bank.test"), fwd.TYPE_NS, name_wire("ns.evil.test"))],
                            [rr(name_wire("ns.evil.test"), fwd.TYPE_A, bytes([203, 0, 113, 53]))])
        up = FakeUpstream(make)
        srv = self.forwarder(up, "--metrics", "127.0.0.1:0")
        try:
            for attempt in (1, 2):   # the upstream's answer, then the cache's
                reply = self.ask(srv, "www.shop.test", qid=attempt)
                records = check_pointers_backwards(reply)
                self.assertEqual([(s, o, t) for s, o, t, _ in records],
                                 [("an", "www.shop.test", fwd.TYPE_A)])
                self.assertEqual(records[0][3], bytes([192, 0, 2, 10]))
            self.assertEqual(up.count(), 1)
            self.assertEqual(metric(srv, "dnsort_dns_forward_dropped_records_total"), 3)
            self.assertEqual(metric(srv, "dnsort_dns_forward_invalid_answers_total"), 0)
        finally:
            srv.stop()
            up.close()

    def test_a_good_cname_chain_is_relayed_whole_and_cached(self):
        """www.shop.test -> edge.cdn.test -> node7.cdn.test A, compressed as
        servers do (pointers back into earlier names): every record of the
        chain reaches the client, a second client is answered from the
        cache, nothing is counted as dropped or invalid."""
        def make(q):
            qend = question_end(q)
            edge = name_wire("edge.cdn.test")
            cname1 = rr(QNAME_PTR, TYPE_CNAME, edge)
            edge_at = qend + 12            # where "edge.cdn.test" starts
            node = b"\x05node7" + struct.pack(">H", 0xC000 | (edge_at + 5))   # node7 + "cdn.test"
            cname2 = rr(struct.pack(">H", 0xC000 | edge_at), TYPE_CNAME, node)
            node_at = qend + len(cname1) + 12
            a = rr(struct.pack(">H", 0xC000 | node_at), fwd.TYPE_A, bytes([192, 0, 2, 77]))
            return response(q, [cname1, cname2, a])
        up = FakeUpstream(make)
        srv = self.forwarder(up, "--metrics", "127.0.0.1:0")
        try:
            for attempt in (1, 2):
                records = check_pointers_backwards(self.ask(srv, "www.shop.test", qid=attempt))
                self.assertEqual([(o, t, d) for _, o, t, d in records],
                                 [("www.shop.test", TYPE_CNAME, "edge.cdn.test"),
                                  ("edge.cdn.test", TYPE_CNAME, "node7.cdn.test"),
                                  ("node7.cdn.test", fwd.TYPE_A, bytes([192, 0, 2, 77]))])
            self.assertEqual(up.count(), 1)
            self.assertEqual(metric(srv, "dnsort_dns_forward_dropped_records_total"), 0)
            self.assertEqual(metric(srv, "dnsort_dns_forward_invalid_answers_total"), 0)
        finally:
            srv.stop()
            up.close()


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--dnsortd", required=True)
    args, rest = p.parse_known_args()
    fwd.DNSORTD = met.DNSORTD = os.path.abspath(args.dnsortd)
    unittest.main(argv=[sys.argv[0], "-v", *rest])


if __name__ == "__main__":
    main()
