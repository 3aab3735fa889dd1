#!/usr/bin/env python3
"""The seed's sort service and DNS responder on one asyncio loop, ported to
Python 3.11 for bench/sort.sh and bench/responsiveness.sh.

Seed 004 (*Python 3 Object-Oriented Programming*, chapter "Concurrency")
has two separate listings: "AsyncIO for networking" (the UDP DNS responder
on 127.0.0.1:4343) and "Using executors to wrap blocking code" (sort as a
service on 127.0.0.1:2015, gnome sort in a ProcessPoolExecutor). dnsortd
serves both from one event loop, so to compare like with like (DNS latency
while the sort pool is saturated) this file COMBINES THE TWO SEED SERVERS
INTO ONE LOOP, ONE PROCESS: both listeners are created on the same loop
before ``run_forever()``. Nothing else is added: no limits, no timeouts, no
error replies, the same prints (two per DNS query, three per sort request;
the bench scripts send stdout to /dev/null).

Kept exactly: ``sort_in_process`` (json.loads, gnome sort, json.dumps, bytes
in and bytes out), ``sort_request`` (``read(8)`` then ``readexactly`` of the
big-endian length, the sort in the executor, write, close without waiting),
``lookup_dns``, ``create_response`` and ``DNSProtocol`` (imported from
bench/seed_dns.py, bugs included). The executor is the seed's:
``ProcessPoolExecutor()`` with its default size (``os.cpu_count()``
processes, forked on Linux).

Changes, and only these, all forced by Python 3.11:
- ``@asyncio.coroutine`` / ``yield from`` (removed in 3.11) become
  ``async def`` / ``await``;
- ``loop.set_default_executor(ProcessPoolExecutor())`` raises TypeError
  since 3.11 (the default executor must be a ThreadPoolExecutor), so the
  pool is kept in ``executor`` and passed to ``run_in_executor`` instead of
  ``None``: the same pool, used the same way;
- the loop is made with ``asyncio.new_event_loop()`` (``get_event_loop()``
  outside a running loop is deprecated);
- the ports come from the command line: ``seed_sort.py [SORT_PORT [DNS_PORT]]``
  (defaults 2015 and 4343, the seed's).

bench/seed_dns.py is not imported: it starts its server at import time (it
is a script, like the seed), so the three DNS definitions are repeated here
unchanged.
"""
import asyncio
import json
import os
import sys
from concurrent.futures import ProcessPoolExecutor
from contextlib import suppress

# ---------------------------------------------------------------- sort (seed)

def sort_in_process(data):
    nums = json.loads(data.decode())
    curr = 1
    while curr < len(nums):
        if nums[curr] >= nums[curr-1]:
            curr += 1
        else:
            nums[curr], nums[curr-1] = \
                nums[curr-1], nums[curr]
            if curr > 1:
                curr -= 1

    return json.dumps(nums).encode()


async def sort_request(reader, writer):
    print("Received connection")
    length = await reader.read(8)
    data = await reader.readexactly(
        int.from_bytes(length, 'big'))
    result = await asyncio.get_event_loop().run_in_executor(
        executor, sort_in_process, data)
    print("Sorted list")
    writer.write(result)
    writer.close()
    print("Connection closed")

# ---------------------------------------------------------------- DNS (seed)

# The seed's DNS responder, bugs included: the very code of seed_dns.py.
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from seed_dns import DNSProtocol  # noqa: E402

# ---------------------------------------------------------------- one loop

if __name__ == '__main__':
    sort_port = int(sys.argv[1]) if len(sys.argv) > 1 else 2015
    dns_port = int(sys.argv[2]) if len(sys.argv) > 2 else 4343

    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    executor = ProcessPoolExecutor()

    transport, protocol = loop.run_until_complete(
        loop.create_datagram_endpoint(
            DNSProtocol, local_addr=('127.0.0.1', dns_port)))
    print("DNS Server running")
    server = loop.run_until_complete(
        asyncio.start_server(sort_request, '127.0.0.1', sort_port))
    print("Sort Service running")

    with suppress(KeyboardInterrupt):
        loop.run_forever()
    transport.close()
    server.close()
    loop.run_until_complete(server.wait_closed())
    loop.close()
