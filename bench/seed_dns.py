#!/usr/bin/env python3
"""The seed's DNS server, ported to Python 3.11 for bench/dns.sh.

This is the "AsyncIO for networking" example from *Python 3 Object-Oriented
Programming* (seed 004, the ``lookup_dns``/``create_response``/``DNSProtocol``
listing), kept as it is, bugs included, so that the benchmark measures the
program dnsort replaces:

- every query type gets an A record (AAAA too), flags are always 0x8180
  (QR, RD, RA; never AA), and ANCOUNT is set to QDCOUNT;
- names are matched case-sensitively (``FaceBook.com`` gets 127.0.0.1);
- everything after the header is copied into the reply, so an EDNS OPT
  record ends up between the question and the answer while ARCOUNT is 0;
- a datagram shorter than 13 bytes raises in ``datagram_received`` (asyncio
  logs it and carries on);
- two lines are printed per query (bench/dns.sh sends stdout to /dev/null).

Changes, and only these: the event loop is created with
``asyncio.new_event_loop()`` instead of the implicit ``get_event_loop()``
(deprecated outside a running loop since 3.10, removed in 3.14), and the
port comes from the first argument (default 4343, as in the seed).
"""
import asyncio
import sys
from contextlib import suppress

ip_map = {
    b'facebook.com.': '173.252.120.6',
    b'yougov.com.': '213.52.133.246',
    b'wipo.int.': '193.5.93.80'
}


def lookup_dns(data):
    domain = b''
    pointer, part_length = 13, data[12]
    while part_length:
        domain += data[pointer:pointer+part_length] + b'.'
        pointer += part_length + 1
        part_length = data[pointer - 1]

    ip = ip_map.get(domain, '127.0.0.1')

    return domain, ip


def create_response(data, ip):
    ba = bytearray
    packet = ba(data[:2]) + ba([129, 128]) + data[4:6] * 2
    packet += ba(4) + data[12:]
    packet += ba([192, 12, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4])
    for x in ip.split('.'): packet.append(int(x))
    return packet


class DNSProtocol(asyncio.DatagramProtocol):
    def connection_made(self, transport):
        self.transport = transport

    def datagram_received(self, data, addr):
        print("Received request from {}".format(addr[0]))
        domain, ip = lookup_dns(data)
        print("Sending IP {} for {} to {}".format(
            domain.decode(), ip, addr[0]))
        self.transport.sendto(
            create_response(data, ip), addr)


if __name__ == '__main__':
    # The seed runs this at module level; under a main guard so that
    # bench/seed_sort.py can put the same DNSProtocol on its loop.
    port = int(sys.argv[1]) if len(sys.argv) > 1 else 4343
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    transport, protocol = loop.run_until_complete(
        loop.create_datagram_endpoint(
            DNSProtocol, local_addr=('127.0.0.1', port)))
    print("DNS Server running")

    with suppress(KeyboardInterrupt):
        loop.run_forever()
    transport.close()
    loop.close()
