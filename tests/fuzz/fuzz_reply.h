/* Shared by fuzz_cache and fuzz_forward_reply: the checks a reply built
 * from an upstream response must pass, made by walking its bytes with
 * dns_wire's reader, independently of the code that wrote them. A
 * violation abort()s, which libFuzzer reports as a crash with the input. */
#ifndef DNSORT_FUZZ_REPLY_H
#define DNSORT_FUZZ_REPLY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dns_wire.h"

#define FUZZ_CHECK(cond) \
  do {                   \
    if (!(cond))         \
      abort();           \
  } while (0)

/* Does msg[0..len) read as a response with one question and exactly the
 * records its header counts (trailing bytes allowed: the cache cuts them)?
 * What the cache must see before it keeps or relays anything. */
static inline bool fuzz_response_readable(const uint8_t *msg, size_t len) {
  dns_reader_t r = dns_reader(msg, len);
  dns_header_t h;
  dns_question_t q;
  if (!dns_read_header(&r, &h) || !(h.flags & DNS_FLAG_QR) ||
      h.qdcount != 1 || !dns_read_question(&r, &q))
    return false;
  unsigned total = (unsigned)h.ancount + h.nscount + h.arcount;
  for (unsigned i = 0; i < total; i++) {
    dns_record_t rr;
    if (dns_read_record(&r, &rr) != DNS_RECORD_OK)
      return false;
  }
  return true;
}

/* out[0..n) is a reply to q: at most min(limit, cap) bytes, ID echoed,
 * QR=1, the question echoed byte for byte (the client's own
 * spelling), exactly the records its header counts and nothing after
 * them, an OPT only if q had one, at most one, and last; every other
 * record's TTL at most ttl_cap. Returns the header's flags. */
static inline uint16_t fuzz_check_reply(const uint8_t *out, size_t n,
                                        const dns_query_t *q, size_t limit,
                                        size_t cap, uint32_t ttl_cap) {
  dns_reader_t r = dns_reader(out, n);
  dns_header_t h;
  dns_question_t qq;
  FUZZ_CHECK(n <= limit && n <= cap);
  FUZZ_CHECK(dns_read_header(&r, &h));
  FUZZ_CHECK(h.id == q->id);
  FUZZ_CHECK(h.flags & DNS_FLAG_QR);
  FUZZ_CHECK(h.qdcount == 1 && dns_read_question(&r, &qq));
  FUZZ_CHECK(qq.at == DNS_HEADER_SIZE &&
             r.pos == DNS_HEADER_SIZE + q->question_len &&
             memcmp(out + DNS_HEADER_SIZE, q->question, q->question_len) == 0);
  unsigned total = (unsigned)h.ancount + h.nscount + h.arcount;
  unsigned opts = 0;
  for (unsigned i = 0; i < total; i++) {
    dns_record_t rr;
    FUZZ_CHECK(dns_read_record(&r, &rr) == DNS_RECORD_OK);
    if (rr.type == DNS_TYPE_OPT) {
      opts++;
      FUZZ_CHECK(q->has_edns && opts == 1 && i + 1 == total);
    } else {
      FUZZ_CHECK(rr.ttl <= ttl_cap);
    }
  }
  FUZZ_CHECK(r.pos == n);
  return h.flags;
}

/* A query for the question of msg (a response) when it has one, else for
 * "example.com. A IN": ID 0x4242, RD and an OPT (DO, payload size) as the
 * bits of conf say, the name's letters' case flipped when flip. Written
 * into pkt (at least DNS_HEADER_SIZE + DNS_MAX_NAME + 4 + 11 bytes) and
 * parsed into *q; returns false when the parser refuses it. */
#define FUZZ_Q_RD 0x01u
#define FUZZ_Q_EDNS 0x02u
#define FUZZ_Q_DO 0x04u
static inline bool fuzz_make_query(const uint8_t *msg, size_t len,
                                   unsigned conf, uint16_t udp_size,
                                   bool flip, uint8_t *pkt, size_t *pkt_len,
                                   dns_query_t *q) {
  static const uint8_t fallback[] = {7, 'e', 'x', 'a', 'm', 'p', 'l', 'e', 3,
                                     'c', 'o', 'm', 0, 0, 1, 0, 1};
  dns_reader_t r = dns_reader(msg, len);
  dns_header_t h;
  dns_question_t qq;
  const uint8_t *question = fallback;
  size_t question_len = sizeof(fallback);
  if (dns_read_header(&r, &h) && h.qdcount >= 1 && dns_read_question(&r, &qq)) {
    question = msg + qq.at;
    question_len = qq.name_len + 4;
  }
  size_t n = 0;
  dns_put_be16(pkt, 0x4242);
  dns_put_be16(pkt + 2, (conf & FUZZ_Q_RD) ? DNS_FLAG_RD : 0);
  dns_put_be16(pkt + 4, 1);
  dns_put_be16(pkt + 6, 0);
  dns_put_be16(pkt + 8, 0);
  dns_put_be16(pkt + 10, (conf & FUZZ_Q_EDNS) ? 1 : 0);
  n = DNS_HEADER_SIZE;
  memcpy(pkt + n, question, question_len);
  if (flip) {
    for (size_t i = 0; i + 4 < question_len; i++) {
      uint8_t c = pkt[n + i];
      if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'))
        pkt[n + i] = c ^ 0x20;
    }
  }
  n += question_len;
  if (conf & FUZZ_Q_EDNS) {
    pkt[n] = 0;
    dns_put_be16(pkt + n + 1, DNS_TYPE_OPT);
    dns_put_be16(pkt + n + 3, udp_size);
    dns_put_be32(pkt + n + 5, (conf & FUZZ_Q_DO) ? DNS_OPT_TTL_DO : 0);
    dns_put_be16(pkt + n + 9, 0);
    n += 11;
  }
  *pkt_len = n;
  return dns_parse_query(pkt, n, q) == DNS_PARSE_OK;
}

#endif
