/* libFuzzer target: an upstream's response, checked by dns_cache_check
 * against the question it carries itself (when it carries one the query
 * parser takes; else a fixed one). Input: the corpus_upstream layout
 * (fuzz_cache.c), whose two first bytes (config and age) this target
 * does not use, then the response. When it is
 * CLEAN: the result fits, is the input's prefix when nothing was left
 * out (an OPT that was not last aside), and checking it again leaves it exactly as it is (nothing more to
 * drop, every name readable); the cache then keeps or relays it, never
 * finding it invalid, and the relayed reply echoes the client's ID. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dns_cache.h"
#include "dns_wire.h"
#include "fuzz_check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static dns_cache_t *cache;
static uint8_t out[DNS_MAX_MESSAGE];
static uint8_t again[DNS_MAX_MESSAGE];
static uint8_t reply[DNS_MAX_MESSAGE];

/* The client's query for the input's question (ID 0x4242, RD=1, EDNS
 * 1232), or for www.example.com A when the input has none. */
static size_t client_query(const uint8_t *data, size_t size, uint8_t *q) {
  static const uint8_t fixed[] = {3, 'w', 'w', 'w', 7, 'e', 'x', 'a', 'm',
                                  'p', 'l', 'e', 3, 'c', 'o', 'm', 0,
                                  0, 1, 0, 1};
  static const uint8_t opt[] = {0, 0, 41, 0x04, 0xD0, 0, 0, 0, 0, 0, 0};
  const uint8_t *question = fixed;
  size_t question_len = sizeof(fixed);
  dns_reader_t r = dns_reader(data, size);
  dns_header_t h;
  dns_question_t dq;
  if (dns_read_header(&r, &h) && h.qdcount >= 1 &&
      dns_read_question(&r, &dq)) {
    question = data + dq.at;
    question_len = dq.name_len + 4;
  }
  const uint8_t header[DNS_HEADER_SIZE] = {0x42, 0x42, 0x01, 0, 0, 1,
                                           0,    0,    0,    0, 0, 1};
  memcpy(q, header, sizeof(header));
  memcpy(q + DNS_HEADER_SIZE, question, question_len);
  memcpy(q + DNS_HEADER_SIZE + question_len, opt, sizeof(opt));
  return DNS_HEADER_SIZE + question_len + sizeof(opt);
}

/* Does an OPT record come before another record (then the check moves
 * it last)? */
static bool opt_before_the_end(const uint8_t *msg, size_t len) {
  dns_reader_t r = dns_reader(msg, len);
  dns_header_t h;
  dns_question_t q;
  bool seen_opt = false;
  if (!dns_read_header(&r, &h) || !dns_read_question(&r, &q))
    return false;
  unsigned total = (unsigned)h.ancount + h.nscount + h.arcount;
  for (unsigned i = 0; i < total; i++) {
    dns_record_t rr;
    if (dns_read_record(&r, &rr) != DNS_RECORD_OK)
      return false;
    if (seen_opt)
      return true;
    seen_opt = rr.type == DNS_TYPE_OPT;
  }
  return false;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  uint8_t q[DNS_HEADER_SIZE + DNS_MAX_NAME + 4 + 11];
  uint8_t key[DNS_CACHE_KEY_MAX];
  dns_query_t query;
  size_t n, dropped, n2, dropped2;

  if (size < 2)
    return 0;
  data += 2;
  size -= 2;
  if (cache == NULL) {
    dns_cache_config_t cfg = {.max_entries = 64, .max_ttl = 86400,
                              .neg_ttl = 300, .hash_key = {1, 2}};
    cache = dns_cache_new(&cfg);
    FUZZ_CHECK(cache != NULL);
  }
  size_t qlen = client_query(data, size, q);
  if (dns_parse_query(q, qlen, &query) != DNS_PARSE_OK)
    return 0; /* a question the server would never forward */
  size_t key_len = dns_cache_key(&query, key);
  if (key_len == 0)
    return 0;

  if (dns_cache_check(cache, key, key_len, data, size, out, sizeof(out), &n,
                      &dropped) != DNS_CACHE_CLEAN)
    return 0;
  FUZZ_CHECK(n >= DNS_HEADER_SIZE && n <= sizeof(out));
  if (dropped == 0 && !opt_before_the_end(data, size))
    FUZZ_CHECK(n <= size && memcmp(out, data, n) == 0);
  FUZZ_CHECK(dns_cache_check(cache, key, key_len, out, n, again,
                             sizeof(again), &n2, &dropped2) ==
             DNS_CACHE_CLEAN);
  FUZZ_CHECK(dropped2 == 0 && n2 == n && memcmp(again, out, n) == 0);

  dns_cache_verdict_t v = dns_cache_store(cache, key, key_len, out, n, 0);
  FUZZ_CHECK(v != DNS_CACHE_INVALID);
  size_t r = v == DNS_CACHE_STORED
                 ? dns_cache_answer(cache, key, key_len, &query,
                                    DNS_MAX_MESSAGE, 0, reply, sizeof(reply))
                 : dns_cache_relay(out, n, &query, DNS_MAX_MESSAGE, reply,
                                   sizeof(reply));
  FUZZ_CHECK(r >= DNS_HEADER_SIZE && fuzz_be16(reply) == 0x4242);
  dns_cache_flush(cache);
  return 0;
}
