#!/usr/bin/env python3
"""Writes the fuzzers' seed corpora: corpus_dns/ (queries as binary files,
one per file) and corpus_hosts/ (small hosts files). The files are
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
