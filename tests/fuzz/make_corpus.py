#!/usr/bin/env python3
"""Writes the fuzzers' seed corpora: corpus_dns/ (queries as binary files,
one per file), corpus_hosts/ (small hosts files), corpus_upstream/ (two
config bytes, then an upstream response: fuzz_cache and fuzz_forward_reply)
and corpus_config/ (dnsortd config files). The files are
committed; this script documents where every byte comes from and rebuilds
them: python3 tests/fuzz/make_corpus.py"""
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))


def name(dotted):
    out = b""
    for label in dotted.strip(".").split("."):
        if label:
            out += bytes([len(label)]) + label.encode()
    return out + b"\0"


def opt(udp=1232, version=0, do=False, rdata=b""):
    ttl = (version << 16) | (0x8000 if do else 0)
    return b"\0" + struct.pack(">HHIH", 41, udp, ttl, len(rdata)) + rdata


def query(qname, qtype=1, qclass=1, ident=0x1234, flags=0x0100, edns=None,
          qdcount=1, raw_name=None, additional=None):
    if additional is None:
        additional = [edns] if edns is not None else []
    header = struct.pack(">HHHHHH", ident, flags, qdcount, 0, 0,
                         len(additional))
    body = (raw_name if raw_name is not None else name(qname))
    body += struct.pack(">HH", qtype, qclass)
    return header + body + b"".join(additional)


COOKIE = struct.pack(">HH", 10, 8) + bytes.fromhex("4e1a5c932d0b7701")

DNS = {
    # dig 9.18 "dig facebook.com": AD set, OPT 1232 with a client cookie.
    "dig_a_edns_cookie": query("facebook.com", ident=0x4a1d, flags=0x0120,
                               edns=opt(rdata=COOKIE)),
    # dig +noedns facebook.com
    "plain_a": query("facebook.com", ident=0xbeef),
    "aaaa_edns": query("dual.example", qtype=28, edns=opt()),
    "any_many_edns512": query("many.example", qtype=255, edns=opt(512)),
    "a_many_plain": query("many.example"),
    "wildcard_deep": query("x.a.b.example.com", edns=opt(do=True)),
    "mixed_case": query("FaCeBoOk.CoM"),
    "mx": query("facebook.com", qtype=15),
    "root_ns": query(".", qtype=2, edns=opt(4096)),
    "longest_name": query(".".join(["a" * 63] * 3 + ["b" * 61]), qtype=1),
    "badvers": query("facebook.com", edns=opt(version=1)),
    "chaos_version_bind": query("version.bind", qtype=16, qclass=3),
    "notimp_status": query("facebook.com", flags=0x1000),
    "qdcount2": query("facebook.com", qdcount=2),
    # The QNAME is a pointer to itself (offset 12): a loop if followed.
    "pointer_loop": query(None, raw_name=b"\xc0\x0c"),
    "response_qr": query("facebook.com", flags=0x8100),
    "short_header": bytes.fromhex("1234010000010000000000"),
    "opt_bad_option_length": query(
        "facebook.com", edns=opt(rdata=struct.pack(">HH", 10, 200) + b"x")),
    "two_opts": query("facebook.com", additional=[opt(), opt()]),
}

HOSTS = {
    "debian_etc_hosts": "127.0.0.1\tlocalhost\n127.0.1.1\tdebian\n\n"
    "# The following lines are desirable for IPv6 capable hosts\n"
    "::1     localhost ip6-localhost ip6-loopback\n"
    "ff02::1 ip6-allnodes\nff02::2 ip6-allrouters\n",
    "aliases_comments": "192.0.2.1 web.example www.example  # front\n"
    "\t192.0.2.2\tdb.example#primary\n#192.0.2.3 off.example\n",
    "wildcards": "192.0.2.10 *.example.com\n192.0.2.11 *.b.example.com\n"
    "192.0.2.12 exact.example.com\n2001:db8::1 *\n",
    "crlf": "192.0.2.1 crlf.example\r\n\r\n::1 six.example\r\n",
    "duplicates": "192.0.2.1 dup.example\n192.0.2.2 dup.example\n"
    "192.0.2.1 dup.example DUP.EXAMPLE.\n",
    "errors": "192.0.2.1 ok.example\nfe80::1%eth0 scoped\n",
    "no_name": "192.0.2.1\n",
    "bad_wildcard": "192.0.2.1 a.*.example\n",
    # One byte over the 4096-byte line bound, on line 2.
    "long_line": "192.0.2.1 ok\n192.0.2.2" + " alias" * 682 + "\n",
    "spec_first_line": "many.example=10.0.0.1,10.0.0.2,2001:db8::2\n"
    "10.0.0.3 many.example\n",
}


def rr(owner, rtype, ttl, rdata, rclass=1):
    return owner + struct.pack(">HHIH", rtype, rclass, ttl, len(rdata)) + rdata


def response(qname, qtype=1, flags=0x8180, ident=0xbeef, answers=(),
             authority=(), additional=(), qdcount=1, tail=b""):
    header = struct.pack(">HHHHHH", ident, flags, qdcount, len(answers),
                         len(authority), len(additional))
    body = name(qname) + struct.pack(">HH", qtype, 1)
    return (header + body + b"".join(answers) + b"".join(authority)
            + b"".join(additional) + tail)


PTR = b"\xc0\x0c"  # the question's name
SOA = (name("ns.example.com") + name("host.example.com")
       + struct.pack(">IIIII", 2024010101, 3600, 600, 86400, 300))

# The first byte: bit 0 RD, bit 1 EDNS, bit 2 DO, bit 3 TCP, bit 4 a large
# UDP size, bits 5-7 the TTL caps; the second: an age in seconds (also the
# UDP size, 512 + 4 * it). Then what the upstream sent.
UPSTREAM = {
    # unbound's answer to "dig www.example.com", OPT last.
    "a_two_records_opt": b"\x03\x00" + response(
        "www.example.com", answers=[rr(PTR, 1, 3600, bytes([93, 184, 215, 14])),
                                    rr(PTR, 1, 60, bytes([93, 184, 215, 15]))],
        additional=[opt()]),
    "aaaa_plain_tcp": b"\x09\x05" + response(
        "Dual.Example", qtype=28, answers=[rr(PTR, 28, 300, bytes(16))]),
    "cname_chain": b"\x23\x00" + response(
        "w.example.org", answers=[rr(PTR, 5, 600, name("x.example.org")),
                                  rr(b"\xc0\x2b", 1, 600, bytes(4))]),
    "nxdomain_soa": b"\x83\x02" + response(
        "nope.example.com", flags=0x8183,
        authority=[rr(name("example.com"), 6, 900, SOA)], additional=[opt()]),
    "nodata_soa_compressed": b"\x01\x00" + response(
        "v6.example.com", qtype=28, authority=[rr(b"\xc0\x0f", 6, 60, SOA)]),
    "nodata_without_soa": b"\x01\x00" + response("v4.example", qtype=28),
    "servfail": b"\x03\x00" + response("broken.example", flags=0x8182,
                                       additional=[opt()]),
    "truncated_tc": b"\x00\x00" + response("big.example", flags=0x8380),
    "big_txt_udp512": b"\x00\x00" + response(
        "txt.example", qtype=16,
        answers=[rr(PTR, 16, 120, bytes([255]) + b"t" * 255)] * 3),
    "ttl_over_31_bits": b"\x03\x00" + response(
        "t.example", answers=[rr(PTR, 1, 0x80000001, bytes(4))]),
    "opt_not_last": b"\x00\x00" + response(
        "o.example", answers=[rr(PTR, 1, 60, bytes(4))],
        additional=[opt(), rr(PTR, 1, 60, bytes(4))]),
    "badvers_ext_rcode": b"\x03\x00" + response(
        "e.example", additional=[b"\0" + struct.pack(">HHIH", 41, 1232,
                                                     1 << 24, 0)]),
    "trailing_garbage": b"\x03\x00" + response(
        "g.example", answers=[rr(PTR, 1, 30, bytes(4))], tail=b"\xde\xad"),
    "forward_pointer": b"\x00\x00" + response(
        "p.example", answers=[rr(b"\xc0\x40", 1, 30, bytes(4))]),
    "not_a_response": b"\x00\x00" + query("q.example", flags=0x0100),
    "qdcount_zero": b"\x00\x00" + response("z.example", qdcount=0),
    # What dns_cache_check keeps, drops or rejects: a chain compressed as
    # servers do, MX and SRV targets compressed, a negative answer with
    # its proofs, records for other names and zones, and a CNAME whose
    # RDATA is a pointer to itself (offset 45).
    "cname_chain_compressed": b"\x03\x00" + response(
        "www.example.com", answers=[
            rr(PTR, 5, 300, name("edge.cdn.example")),
            rr(b"\xc0\x2d", 5, 300, b"\x05node7\xc0\x32"),
            rr(b"\xc0\x4b", 1, 300, bytes([192, 0, 2, 7]))]),
    "mx_srv_targets": b"\x00\x00" + response(
        "www.example.com", qtype=15, answers=[
            rr(PTR, 15, 300, b"\x00\x0a" + PTR), rr(PTR, 33, 300, bytes(6) + PTR)]),
    "nxdomain_soa_nsec": b"\x07\x00" + response(
        "x.example.com", flags=0x8183, authority=[
            rr(name("example.com"), 6, 900, SOA),
            rr(name("w.example.com"), 47, 900, bytes(6)),
            rr(name("example.com"), 46, 900, bytes(20))], additional=[opt(do=True)]),
    "out_of_bailiwick": b"\x00\x00" + response(
        "www.example.com", answers=[rr(PTR, 1, 60, bytes(4)),
                                    rr(name("bank.example"), 1, 60, bytes(4))],
        authority=[rr(name("bank.example"), 2, 60, name("ns.evil.example"))],
        additional=[rr(name("ns.evil.example"), 1, 60, bytes(4))]),
    "self_pointer_rdata": b"\x00\x00" + response(
        "www.example.com", answers=[rr(PTR, 5, 60, b"\xc0\x2d")]),
}

# dnsortd --config files: one NAME or NAME=VALUE per line.
CONFIG = {
    "full": "# dnsortd.conf\ndns = 127.0.0.1:4343\nsort = 127.0.0.1:2015\n"
    "threads = 4\nhosts = /etc/hosts\nmap = a.example=192.0.2.1\n"
    "unknown = forward\nupstream = 192.0.2.53\nupstream = [2001:db8::53]:53\n"
    "cache-size = 10k\nlog-level = debug\nmetrics = 127.0.0.1:9153\n",
    "bom_crlf_blanks": "\ufeff\r\n  threads\t=  2 \r\n\n# comment\r\n"
    "reuseport\r\n",
    "comment_after_value": "dns = off # no DNS\nsort=127.0.0.1:0#not a comment\n",
    "errors_unknown": "threads = 2\nno-such-option = 1\n",
    "errors_dashes": "--threads = 2\n",
    "errors_no_value": "threads\n",
    "errors_value_no_name": " = 3\n",
    "errors_cli_only": "help\n",
    "errors_bad_number": "threads = lots\n",
    "forward_without_upstream": "unknown = forward\n",
    "nul_byte": "threads = 2\n\0\n",
    "no_final_newline": "threads = 2",
    "long_line": "map = " + "a" * 4100 + "\n",
}


def write(directory, files):
    path = os.path.join(HERE, directory)
    os.makedirs(path, exist_ok=True)
    for base, data in files.items():
        if isinstance(data, str):
            data = data.encode()
        with open(os.path.join(path, base), "wb") as f:
            f.write(data)


if __name__ == "__main__":
    write("corpus_dns", DNS)
    write("corpus_hosts", HOSTS)
    write("corpus_upstream", UPSTREAM)
    write("corpus_config", CONFIG)
