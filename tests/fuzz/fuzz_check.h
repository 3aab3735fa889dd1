/* Shared by the fuzz targets: the invariants every reply must keep, checked
 * by walking the reply bytes independently of the code that wrote them. A
 * violation abort()s, which libFuzzer reports as a crash with the input. */
#ifndef DNSORT_FUZZ_CHECK_H
#define DNSORT_FUZZ_CHECK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dns_wire.h"
#include "dns_zone.h"

#define FUZZ_FLAG_QR 0x80 /* in the flags' first byte */
#define FUZZ_FLAG_TC 0x02

static inline unsigned fuzz_be16(const uint8_t *p) {
  return (unsigned)p[0] << 8 | p[1];
}

#define FUZZ_CHECK(cond) \
  do {                   \
    if (!(cond))         \
      abort();           \
  } while (0)

/* Answers pkt with zone over transport into a buffer of cap bytes and
 * checks the result against what dns_parse_query says of the same bytes:
 * drop iff the parser drops; a reply never over the transport's limit or
 * cap, ID echoed, QR=1, the question echoed byte for byte, and exactly
 * ANCOUNT well-formed address records (owner 0xC00C, A with 4 bytes or
 * AAAA with 16) and ARCOUNT OPTs, ending exactly at the reply's end.
 * Returns the reply's ANCOUNT, or -1 when nothing was sent. */
static inline int fuzz_answer_and_check(const dns_zone_t *zone,
                                        dns_transport_t transport,
                                        const uint8_t *pkt, size_t len,
                                        uint8_t *out, size_t cap) {
  dns_query_t q;
  size_t n = 12345;
  dns_parse_t parsed = dns_parse_query(pkt, len, &q);
  dns_reply_t r = dns_zone_answer(zone, transport, pkt, len, out, cap, &n);

  if (r != DNS_REPLY_SEND) {
    FUZZ_CHECK(n == 0);
    FUZZ_CHECK((r == DNS_REPLY_DROP) == (parsed == DNS_PARSE_DROP) ||
               cap < DNS_PLAIN_UDP_LIMIT);
    FUZZ_CHECK(r != DNS_REPLY_FORWARD || parsed == DNS_PARSE_OK);
    return -1;
  }
  size_t limit = transport == DNS_TRANSPORT_TCP ? DNS_MAX_MESSAGE
                                                : dns_udp_limit(&q);
  FUZZ_CHECK(parsed != DNS_PARSE_DROP);
  FUZZ_CHECK(n >= DNS_HEADER_SIZE && n <= limit && n <= cap);
  FUZZ_CHECK(memcmp(out, pkt, 2) == 0);
  FUZZ_CHECK(out[2] & FUZZ_FLAG_QR);

  unsigned qdcount = fuzz_be16(out + 4), ancount = fuzz_be16(out + 6);
  unsigned nscount = fuzz_be16(out + 8), arcount = fuzz_be16(out + 10);
  size_t pos = DNS_HEADER_SIZE;
  FUZZ_CHECK(qdcount == (q.has_question ? 1u : 0u) && nscount == 0);
  FUZZ_CHECK(arcount == (q.has_edns ? 1u : 0u));
  FUZZ_CHECK(ancount == 0 || parsed == DNS_PARSE_OK);
  FUZZ_CHECK(ancount == 0 || !(out[2] & FUZZ_FLAG_TC));
  if (q.has_question) {
    FUZZ_CHECK(n - pos >= q.question_len);
    FUZZ_CHECK(memcmp(out + pos, q.question, q.question_len) == 0);
    pos += q.question_len;
  }
  for (unsigned i = 0; i < ancount; i++) {
    FUZZ_CHECK(n - pos >= 12);
    unsigned type = fuzz_be16(out + pos + 2), rdlen = fuzz_be16(out + pos + 10);
    FUZZ_CHECK(fuzz_be16(out + pos) == 0xC00C);
    FUZZ_CHECK((type == DNS_TYPE_A && rdlen == 4) ||
               (type == DNS_TYPE_AAAA && rdlen == 16));
    FUZZ_CHECK(type == q.qtype || q.qtype == DNS_TYPE_ANY);
    FUZZ_CHECK(fuzz_be16(out + pos + 4) == DNS_CLASS_IN);
    pos += 12;
    FUZZ_CHECK(n - pos >= rdlen);
    pos += rdlen;
  }
  if (arcount == 1) {
    FUZZ_CHECK(n - pos == 11);
    FUZZ_CHECK(out[pos] == 0 && fuzz_be16(out + pos + 1) == DNS_TYPE_OPT);
    pos += 11;
  }
  FUZZ_CHECK(pos == n);
  return (int)ancount;
}

#endif
