/* Unit tests for the forwarder's cache (dns_cache): keys, what is kept and
 * for how long, TTLs counting down on an injected clock, LRU eviction, the
 * byte bound, negative caching from the SOA (RFC 2308), and size 0. */
#include "test_util.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>

#include "dns_cache.h"
#include "dns_wire.h"

/* ---- building packets ---- */

typedef struct {
  uint8_t b[8192];
  size_t n;
} pkt_t;

static void put8(pkt_t *p, uint8_t v) { p->b[p->n++] = v; }
static void put16(pkt_t *p, uint16_t v) {
  put8(p, (uint8_t)(v >> 8));
  put8(p, (uint8_t)v);
}
static void put32(pkt_t *p, uint32_t v) {
  put16(p, (uint16_t)(v >> 16));
  put16(p, (uint16_t)v);
}
static uint16_t get16(const uint8_t *b) { return (uint16_t)(b[0] << 8 | b[1]); }
static uint32_t get32(const uint8_t *b) {
  return (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
}

/* "www.Example.com" as a wire name. */
static void put_name(pkt_t *p, const char *dotted) {
  const char *s = dotted;
  while (*s) {
    const char *dot = strchr(s, '.');
    size_t len = dot ? (size_t)(dot - s) : strlen(s);
    put8(p, (uint8_t)len);
    memcpy(p->b + p->n, s, len);
    p->n += len;
    s += len;
    if (*s == '.')
      s++;
  }
  put8(p, 0);
}

static void header(pkt_t *p, uint16_t id, uint16_t flags, uint16_t qd,
                   uint16_t an, uint16_t ns, uint16_t ar) {
  p->n = 0;
  put16(p, id);
  put16(p, flags);
  put16(p, qd);
  put16(p, an);
  put16(p, ns);
  put16(p, ar);
}

/* A query, optionally with an OPT (udp size, DO). */
static void make_query(pkt_t *p, uint16_t id, const char *name, uint16_t qtype,
                       int edns_size, bool dnssec_ok) {
  header(p, id, 0x0100, 1, 0, 0, edns_size > 0 ? 1 : 0);
  put_name(p, name);
  put16(p, qtype);
  put16(p, DNS_CLASS_IN);
  if (edns_size > 0) {
    put8(p, 0);
    put16(p, DNS_TYPE_OPT);
    put16(p, (uint16_t)edns_size);
    put32(p, dnssec_ok ? 0x8000u : 0);
    put16(p, 0);
  }
}

/* A record owned by the question name (pointer 0xC00C). */
static void rr_a(pkt_t *p, uint32_t ttl, uint8_t last_octet) {
  put16(p, 0xC00C);
  put16(p, DNS_TYPE_A);
  put16(p, DNS_CLASS_IN);
  put32(p, ttl);
  put16(p, 4);
  put8(p, 192);
  put8(p, 0);
  put8(p, 2);
  put8(p, last_octet);
}

/* SOA for "example.com" written in full, with its TTL and MINIMUM. */
static void rr_soa(pkt_t *p, uint32_t ttl, uint32_t minimum) {
  put_name(p, "example.com");
  put16(p, DNS_TYPE_SOA);
  put16(p, DNS_CLASS_IN);
  put32(p, ttl);
  size_t rdlen_at = p->n;
  put16(p, 0);
  size_t start = p->n;
  put_name(p, "ns.example.com");
  put_name(p, "host.example.com");
  put32(p, 2024010101); /* serial */
  put32(p, 3600);
  put32(p, 600);
  put32(p, 86400);
  put32(p, minimum);
  size_t rdlen = p->n - start;
  p->b[rdlen_at] = (uint8_t)(rdlen >> 8);
  p->b[rdlen_at + 1] = (uint8_t)rdlen;
}

static void rr_opt(pkt_t *p) {
  put8(p, 0);
  put16(p, DNS_TYPE_OPT);
  put16(p, 1232);
  put32(p, 0);
  put16(p, 0);
}

/* The upstream's answer: n A records with the given TTLs, OPT last. */
static void make_positive(pkt_t *p, const char *name, const uint32_t *ttls,
                          size_t n, bool with_opt) {
  header(p, 0xBEEF, 0x8180, 1, (uint16_t)n, 0, with_opt ? 1 : 0);
  put_name(p, name);
  put16(p, DNS_TYPE_A);
  put16(p, DNS_CLASS_IN);
  for (size_t i = 0; i < n; i++)
    rr_a(p, ttls[i], (uint8_t)(i + 1));
  if (with_opt)
    rr_opt(p);
}

static void make_negative(pkt_t *p, const char *name, uint16_t qtype,
                          unsigned rcode, bool with_soa, uint32_t soa_ttl,
                          uint32_t soa_min) {
  header(p, 0xBEEF, (uint16_t)(0x8180 | rcode), 1, 0, with_soa ? 1 : 0, 1);
  put_name(p, name);
  put16(p, qtype);
  put16(p, DNS_CLASS_IN);
  if (with_soa)
    rr_soa(p, soa_ttl, soa_min);
  rr_opt(p);
}

/* ---- fixtures ---- */

typedef struct {
  dns_query_t q;
  pkt_t pkt;
  uint8_t key[DNS_CACHE_KEY_MAX];
  size_t key_len;
} client_t;

static void client(client_t *c, uint16_t id, const char *name, uint16_t qtype,
                   int edns_size, bool dnssec_ok) {
  make_query(&c->pkt, id, name, qtype, edns_size, dnssec_ok);
  assert_int_equal(dns_parse_query(c->pkt.b, c->pkt.n, &c->q), DNS_PARSE_OK);
  c->key_len = dns_cache_key(&c->q, c->key);
  assert_true(c->key_len > 0);
}

static dns_cache_t *new_cache(size_t entries, size_t bytes) {
  dns_cache_config_t cfg = {
      .max_entries = entries,
      .max_bytes = bytes,
      .max_ttl = 86400,
      .neg_ttl = 300,
      .hash_key = {1, 2},
  };
  dns_cache_t *c = dns_cache_new(&cfg);
  assert_non_null(c);
  return c;
}

/* TTL of the record whose TTL field starts at the first answer's offset. */
static size_t first_answer_ttl_at(const client_t *c) {
  return DNS_HEADER_SIZE + c->q.question_len + 2 + 2 + 2;
}

static uint8_t out[65535];

/* ---- tests ---- */

static void test_siphash_matches_the_reference_vectors(void **state) {
  (void)state;
  /* Key 00 01 .. 0f, messages 00 01 .. (len-1): the paper's appendix. */
  dns_cache_config_t cfg = {.hash_key = {0x0706050403020100ull,
                                         0x0f0e0d0c0b0a0908ull}};
  dns_cache_t *c = dns_cache_new(&cfg);
  uint8_t msg[15];
  for (size_t i = 0; i < sizeof(msg); i++)
    msg[i] = (uint8_t)i;
  assert_true(dns_cache_hash(c, msg, 0) == 0x726fdb47dd0e0e31ull);
  assert_true(dns_cache_hash(c, msg, 15) == 0xa129ca6149be45e5ull);
  dns_cache_free(c);
}

static void test_key_ignores_case_but_not_type_or_flags(void **state) {
  (void)state;
  client_t a, b, other;
  client(&a, 1, "WWW.Example.COM", DNS_TYPE_A, 0, false);
  client(&b, 2, "www.example.com", DNS_TYPE_A, 1232, false);
  assert_int_equal(a.key_len, b.key_len);
  assert_memory_equal(a.key, b.key, a.key_len);

  client(&other, 3, "www.example.com", DNS_TYPE_AAAA, 0, false);
  assert_memory_not_equal(a.key, other.key, a.key_len);
  client(&other, 4, "www.example.com", DNS_TYPE_A, 1232, true); /* DO */
  assert_memory_not_equal(a.key, other.key, a.key_len);
  /* CD and RD are in the key too. */
  client(&other, 5, "www.example.com", DNS_TYPE_A, 0, false);
  other.pkt.b[3] |= 0x10; /* CD */
  assert_int_equal(dns_parse_query(other.pkt.b, other.pkt.n, &other.q), DNS_PARSE_OK);
  assert_int_equal(dns_cache_key(&other.q, other.key), a.key_len);
  assert_memory_not_equal(a.key, other.key, a.key_len);
  other.pkt.b[3] &= (uint8_t)~0x10;
  other.pkt.b[2] &= (uint8_t)~0x01; /* RD=0 */
  assert_int_equal(dns_parse_query(other.pkt.b, other.pkt.n, &other.q), DNS_PARSE_OK);
  dns_cache_key(&other.q, other.key);
  assert_memory_not_equal(a.key, other.key, a.key_len);
}

static void test_hit_has_clients_id_and_question_spelling(void **state) {
  (void)state;
  dns_cache_t *c = new_cache(10, 0);
  client_t first, second;
  pkt_t up;
  const uint32_t ttls[] = {300};
  client(&first, 0x1111, "www.example.com", DNS_TYPE_A, 1232, false);
  make_positive(&up, "www.example.com", ttls, 1, true);
  assert_int_equal(dns_cache_store(c, first.key, first.key_len, up.b, up.n, 1000),
                   DNS_CACHE_STORED);

  client(&second, 0x2222, "WwW.ExAmPlE.CoM", DNS_TYPE_A, 1232, false);
  size_t n = dns_cache_answer(c, second.key, second.key_len, &second.q, 1232,
                              1000, out, sizeof(out));
  assert_int_equal(n, up.n);
  assert_int_equal(get16(out), 0x2222);
  assert_memory_equal(out + 2, up.b + 2, 10); /* flags and counts as sent */
  assert_memory_equal(out + DNS_HEADER_SIZE, second.q.question, second.q.question_len);
  /* The rest (answers, OPT) is the upstream's. */
  size_t rest = DNS_HEADER_SIZE + second.q.question_len;
  assert_memory_equal(out + rest, up.b + rest, up.n - rest);
  dns_cache_free(c);
}

static void test_ttl_counts_down_and_entry_expires(void **state) {
  (void)state;
  dns_cache_t *c = new_cache(10, 0);
  client_t q;
  pkt_t up;
  const uint32_t ttls[] = {100, 30, 60}; /* the smallest decides: 30 s */
  client(&q, 7, "a.example.com", DNS_TYPE_A, 0, false);
  make_positive(&up, "a.example.com", ttls, 3, true);
  assert_int_equal(dns_cache_store(c, q.key, q.key_len, up.b, up.n, 5000),
                   DNS_CACHE_STORED);
  size_t at = first_answer_ttl_at(&q);
  size_t rr = 16; /* pointer + fixed + 4 bytes of A */

  size_t n = dns_cache_answer(c, q.key, q.key_len, &q.q, 512, 5000, out, sizeof(out));
  assert_true(n > 0);
  assert_int_equal(get32(out + at), 100);
  assert_int_equal(get32(out + at + rr), 30);

  /* 12.9 s later: whole seconds only. */
  n = dns_cache_answer(c, q.key, q.key_len, &q.q, 512, 17900, out, sizeof(out));
  assert_true(n > 0);
  assert_int_equal(get32(out + at), 88);
  assert_int_equal(get32(out + at + rr), 18);
  assert_int_equal(get32(out + at + 2 * rr), 48);

  /* Alive at 29.999 s, gone at 30 s. */
  assert_true(dns_cache_answer(c, q.key, q.key_len, &q.q, 512, 34999, out, sizeof(out)) > 0);
  assert_int_equal(get32(out + at + rr), 1);
  assert_int_equal(dns_cache_answer(c, q.key, q.key_len, &q.q, 512, 35000, out, sizeof(out)), 0);
  dns_cache_stats_t st;
  dns_cache_stats(c, &st);
  assert_int_equal(st.entries, 0);
  assert_int_equal(st.expired, 1);
  assert_int_equal(st.bytes, 0);
  dns_cache_free(c);
}

static void test_positive_ttl_is_capped_by_max_ttl(void **state) {
  (void)state;
  dns_cache_config_t cfg = {.max_entries = 4, .max_ttl = 10, .neg_ttl = 5};
  dns_cache_t *c = dns_cache_new(&cfg);
  client_t q;
  pkt_t up;
  const uint32_t ttls[] = {3600};
  client(&q, 7, "a.example.com", DNS_TYPE_A, 0, false);
  make_positive(&up, "a.example.com", ttls, 1, false);
  assert_int_equal(dns_cache_store(c, q.key, q.key_len, up.b, up.n, 0), DNS_CACHE_STORED);
  assert_true(dns_cache_answer(c, q.key, q.key_len, &q.q, 512, 2000, out, sizeof(out)) > 0);
  /* Served TTLs never promise more than we keep. */
  assert_int_equal(get32(out + first_answer_ttl_at(&q)), 8);
  assert_int_equal(dns_cache_answer(c, q.key, q.key_len, &q.q, 512, 10000, out, sizeof(out)), 0);
  dns_cache_free(c);
}

static void test_negative_ttl_is_soa_minimum_capped(void **state) {
  (void)state;
  dns_cache_config_t cfg = {.max_entries = 4, .max_ttl = 86400, .neg_ttl = 300};
  dns_cache_t *c = dns_cache_new(&cfg);
  client_t q;
  pkt_t up;

  /* RFC 2308 5: min(SOA TTL 3600, MINIMUM 60) = 60 s. */
  client(&q, 9, "nx.example.com", DNS_TYPE_A, 1232, false);
  make_negative(&up, "nx.example.com", DNS_TYPE_A, DNS_RCODE_NXDOMAIN, true, 3600, 60);
  assert_int_equal(dns_cache_store(c, q.key, q.key_len, up.b, up.n, 0), DNS_CACHE_STORED);
  size_t n = dns_cache_answer(c, q.key, q.key_len, &q.q, 1232, 20500, out, sizeof(out));
  assert_int_equal(n, up.n);
  assert_int_equal(out[3] & 0xF, DNS_RCODE_NXDOMAIN);
  /* The SOA's TTL is served as the negative lifetime, counting down. */
  size_t soa_ttl_at = DNS_HEADER_SIZE + q.q.question_len + 13 + 4;
  assert_int_equal(get32(out + soa_ttl_at), 40);
  assert_true(dns_cache_answer(c, q.key, q.key_len, &q.q, 1232, 59999, out, sizeof(out)) > 0);
  assert_int_equal(dns_cache_answer(c, q.key, q.key_len, &q.q, 1232, 60000, out, sizeof(out)), 0);

  /* The SOA TTL when it is the smaller, and the --cache-neg-ttl cap. */
  make_negative(&up, "nx.example.com", DNS_TYPE_A, DNS_RCODE_NXDOMAIN, true, 20, 60);
  assert_int_equal(dns_cache_store(c, q.key, q.key_len, up.b, up.n, 0), DNS_CACHE_STORED);
  assert_true(dns_cache_answer(c, q.key, q.key_len, &q.q, 1232, 19999, out, sizeof(out)) > 0);
  assert_int_equal(dns_cache_answer(c, q.key, q.key_len, &q.q, 1232, 20000, out, sizeof(out)), 0);
  dns_cache_free(c);

  cfg.neg_ttl = 5;
  c = dns_cache_new(&cfg);
  make_negative(&up, "nx.example.com", DNS_TYPE_A, DNS_RCODE_NXDOMAIN, true, 3600, 600);
  assert_int_equal(dns_cache_store(c, q.key, q.key_len, up.b, up.n, 0), DNS_CACHE_STORED);
  assert_true(dns_cache_answer(c, q.key, q.key_len, &q.q, 1232, 4999, out, sizeof(out)) > 0);
  assert_int_equal(get32(out + soa_ttl_at), 1);
  assert_int_equal(dns_cache_answer(c, q.key, q.key_len, &q.q, 1232, 5000, out, sizeof(out)), 0);
  dns_cache_free(c);
}

static void test_nodata_with_soa_is_cached_without_soa_is_not(void **state) {
  (void)state;
  dns_cache_t *c = new_cache(4, 0);
  client_t q;
  pkt_t up;
  client(&q, 9, "www.example.com", DNS_TYPE_AAAA, 0, false);
  make_negative(&up, "www.example.com", DNS_TYPE_AAAA, DNS_RCODE_NOERROR, true, 300, 120);
  assert_int_equal(dns_cache_store(c, q.key, q.key_len, up.b, up.n, 0), DNS_CACHE_STORED);
  assert_true(dns_cache_answer(c, q.key, q.key_len, &q.q, 512, 119000, out, sizeof(out)) > 0);
  dns_cache_free(c);

  /* RFC 2308 5: no SOA, no negative caching; still a valid reply. */
  c = new_cache(4, 0);
  make_negative(&up, "www.example.com", DNS_TYPE_AAAA, DNS_RCODE_NXDOMAIN, false, 0, 0);
  assert_int_equal(dns_cache_store(c, q.key, q.key_len, up.b, up.n, 0), DNS_CACHE_NOT_STORED);
  assert_int_equal(dns_cache_answer(c, q.key, q.key_len, &q.q, 512, 0, out, sizeof(out)), 0);
  size_t n = dns_cache_relay(up.b, up.n, &q.q, 512, out, sizeof(out));
  assert_true(n > 0);
  assert_int_equal(get16(out), 9);
  assert_int_equal(out[3] & 0xF, DNS_RCODE_NXDOMAIN);
  dns_cache_free(c);
}

static void test_uncacheable_responses_are_not_stored(void **state) {
  (void)state;
  dns_cache_t *c = new_cache(4, 0);
  client_t q;
  pkt_t up;
  const uint32_t zero[] = {0};
  const uint32_t ttls[] = {60};
  client(&q, 9, "www.example.com", DNS_TYPE_A, 0, false);

  make_positive(&up, "www.example.com", zero, 1, false); /* TTL 0 */
  assert_int_equal(dns_cache_store(c, q.key, q.key_len, up.b, up.n, 0), DNS_CACHE_NOT_STORED);
  make_positive(&up, "www.example.com", ttls, 1, false);
  up.b[2] |= 0x02; /* TC */
  assert_int_equal(dns_cache_store(c, q.key, q.key_len, up.b, up.n, 0), DNS_CACHE_NOT_STORED);
  make_positive(&up, "www.example.com", ttls, 1, false);
  up.b[3] = (uint8_t)((up.b[3] & 0xF0) | DNS_RCODE_SERVFAIL);
  assert_int_equal(dns_cache_store(c, q.key, q.key_len, up.b, up.n, 0), DNS_CACHE_NOT_STORED);
  /* A TTL with the top bit set reads as 0 (RFC 2181 8). */
  const uint32_t huge[] = {0x80000000u};
  make_positive(&up, "www.example.com", huge, 1, false);
  assert_int_equal(dns_cache_store(c, q.key, q.key_len, up.b, up.n, 0), DNS_CACHE_NOT_STORED);
  dns_cache_stats_t st;
  dns_cache_stats(c, &st);
  assert_int_equal(st.entries, 0);
  dns_cache_free(c);
}

static void test_responses_for_another_question_are_invalid(void **state) {
  (void)state;
  dns_cache_t *c = new_cache(4, 0);
  client_t q;
  pkt_t up;
  const uint32_t ttls[] = {60};
  client(&q, 9, "www.example.com", DNS_TYPE_A, 0, false);

  make_positive(&up, "www.example.org", ttls, 1, false);
  assert_int_equal(dns_cache_store(c, q.key, q.key_len, up.b, up.n, 0), DNS_CACHE_INVALID);
  make_positive(&up, "www.example.com", ttls, 1, false);
  up.b[DNS_HEADER_SIZE + 17 + 1] = DNS_TYPE_AAAA; /* QTYPE */
  assert_int_equal(dns_cache_store(c, q.key, q.key_len, up.b, up.n, 0), DNS_CACHE_INVALID);
  make_positive(&up, "www.example.com", ttls, 1, false);
  up.b[2] &= 0x7F; /* QR=0: a query, not a response */
  assert_int_equal(dns_cache_store(c, q.key, q.key_len, up.b, up.n, 0), DNS_CACHE_INVALID);
  make_positive(&up, "www.example.com", ttls, 1, false);
  assert_int_equal(dns_cache_store(c, q.key, q.key_len, up.b, up.n - 1, 0), DNS_CACHE_INVALID);
  assert_int_equal(dns_cache_store(c, q.key, q.key_len, up.b, 11, 0), DNS_CACHE_INVALID);
  /* Case differences in the echoed question are fine (RFC 4343). */
  make_positive(&up, "WWW.EXAMPLE.COM", ttls, 1, false);
  assert_int_equal(dns_cache_store(c, q.key, q.key_len, up.b, up.n, 0), DNS_CACHE_STORED);
  dns_cache_free(c);
}

/* Owner names are read through their pointers: a pointer that loops, aims
 * forward or into the header makes the response invalid (SERVFAIL), as
 * does a response cut anywhere; a pointer to an earlier name is fine. */
static void test_bad_compression_pointers_make_a_response_invalid(void **state) {
  (void)state;
  dns_cache_t *c = new_cache(4, 0);
  client_t q;
  pkt_t up;
  const uint32_t ttls[] = {60};
  enum { owner_at = DNS_HEADER_SIZE + 17 + 4 }; /* after the question */
  static const uint16_t bad[] = {
      0xC000 | owner_at,       /* the owner itself */
      0xC000 | (owner_at + 2), /* forward: its own TYPE, 00 01, reads as root */
      0xC000 | 4,              /* into the header */
  };
  client(&q, 9, "www.example.com", DNS_TYPE_A, 0, false);

  for (size_t i = 0; i < ARRAY_LEN(bad); i++) {
    make_positive(&up, "www.example.com", ttls, 1, false);
    up.b[owner_at] = (uint8_t)(bad[i] >> 8);
    up.b[owner_at + 1] = (uint8_t)bad[i];
    assert_int_equal(dns_cache_store(c, q.key, q.key_len, up.b, up.n, 0),
                     DNS_CACHE_INVALID);
    assert_int_equal(dns_cache_relay(up.b, up.n, &q.q, 512, out, sizeof(out)), 0);
  }
  /* Pointing at "example.com" inside the question: a good owner. */
  make_positive(&up, "www.example.com", ttls, 1, false);
  up.b[owner_at + 1] = DNS_HEADER_SIZE + 4;
  for (size_t len = 0; len < up.n; len++)
    assert_int_equal(dns_cache_store(c, q.key, q.key_len, up.b, len, 0),
                     DNS_CACHE_INVALID);
  assert_int_equal(dns_cache_store(c, q.key, q.key_len, up.b, up.n, 0),
                   DNS_CACHE_STORED);
  dns_cache_free(c);
}

/* ---- dns_cache_check ---- */

/* A record with a written-out owner ("" for the root); returns where its
 * RDLENGTH is, for rr_end once the RDATA is written. */
static size_t rr_begin(pkt_t *p, const char *owner, uint16_t type,
                       uint16_t rclass, uint32_t ttl) {
  put_name(p, owner);
  put16(p, type);
  put16(p, rclass);
  put32(p, ttl);
  size_t at = p->n;
  put16(p, 0);
  return at;
}

static void rr_end(pkt_t *p, size_t rdlen_at) {
  size_t rdlen = p->n - rdlen_at - 2;
  p->b[rdlen_at] = (uint8_t)(rdlen >> 8);
  p->b[rdlen_at + 1] = (uint8_t)rdlen;
}

/* A response's header (ID 1, NOERROR, RD, RA) and its question. */
static void response_start(pkt_t *p, const char *qname, uint16_t qtype,
                           uint16_t flags, uint16_t an, uint16_t ns,
                           uint16_t ar) {
  header(p, 1, flags, 1, an, ns, ar);
  put_name(p, qname);
  put16(p, qtype);
  put16(p, DNS_CLASS_IN);
}

static void rr_name(pkt_t *p, const char *owner, uint16_t type,
                    const char *target) {
  size_t at = rr_begin(p, owner, type, DNS_CLASS_IN, 300);
  put_name(p, target);
  rr_end(p, at);
}

static void rr_addr(pkt_t *p, const char *owner, uint8_t last_octet) {
  size_t at = rr_begin(p, owner, DNS_TYPE_A, DNS_CLASS_IN, 300);
  put32(p, 0xC0000200u | last_octet);
  rr_end(p, at);
}

static void rr_opaque(pkt_t *p, const char *owner, uint16_t type) {
  size_t at = rr_begin(p, owner, type, DNS_CLASS_IN, 300);
  put32(p, 0x01020304);
  rr_end(p, at);
}

/* What a checked response holds, record by record, read back with
 * dns_wire's strict reader: "section owner type" lines. */
static void describe(const uint8_t *msg, size_t len, char *text, size_t cap) {
  dns_reader_t r = dns_reader(msg, len);
  dns_header_t h = {0};  /* gcc 14 cannot see through assert_true */
  dns_question_t q;
  size_t used = 0;
  assert_true(dns_read_header(&r, &h));
  assert_true(dns_read_question(&r, &q));
  unsigned total = (unsigned)h.ancount + h.nscount + h.arcount;
  text[0] = '\0';
  for (unsigned i = 0; i < total; i++) {
    dns_record_t rr;
    assert_int_equal(dns_read_record(&r, &rr), DNS_RECORD_OK);
    dns_reader_t nr = dns_reader(msg, len);
    uint8_t name[DNS_MAX_NAME];
    size_t name_len;
    char dotted[DNS_MAX_NAME + 1] = "";
    nr.pos = rr.at;
    assert_int_equal(dns_read_name(&nr, name, &name_len), DNS_NAME_OK);
    size_t d = 0;
    for (size_t at = 0; name[at] != 0; at += 1u + name[at]) {
      memcpy(dotted + d, name + at + 1, name[at]);
      d += name[at];
      dotted[d++] = '.';
    }
    dotted[d] = '\0';
    const char *sec = i < h.ancount ? "an" : i < (unsigned)h.ancount + h.nscount ? "ns" : "ar";
    used += (size_t)snprintf(text + used, cap - used, "%s %s %u\n", sec,
                             dotted[0] ? dotted : ".", rr.type);
  }
  assert_int_equal(r.pos, len);
}

static void check_clean(dns_cache_t *c, const client_t *q, const pkt_t *up,
                        size_t *out_len, size_t *dropped) {
  assert_int_equal(dns_cache_check(c, q->key, q->key_len, up->b, up->n, out,
                                   sizeof(out), out_len, dropped),
                   DNS_CACHE_CLEAN);
}

static dns_cache_check_t check(dns_cache_t *c, const client_t *q,
                               const pkt_t *up) {
  size_t n, dropped;
  return dns_cache_check(c, q->key, q->key_len, up->b, up->n, out,
                         sizeof(out), &n, &dropped);
}

/* Nothing to leave out: the response comes back byte for byte. */
static void test_check_passes_a_clean_answer_as_received(void **state) {
  (void)state;
  dns_cache_t *c = new_cache(4, 0);
  client_t q;
  pkt_t up;
  size_t n, dropped;
  const uint32_t ttls[] = {60, 60};
  client(&q, 9, "www.example.com", DNS_TYPE_A, 1232, false);
  make_positive(&up, "WWW.example.com", ttls, 2, true);
  up.b[up.n++] = 0xEE; /* trailing garbage goes */
  check_clean(c, &q, &up, &n, &dropped);
  assert_int_equal(dropped, 0);
  assert_int_equal(n, up.n - 1);
  assert_memory_equal(out, up.b, n);
  dns_cache_free(c);
}

/* An OPT record before another record is moved last (nothing is left
 * out); one not owned by the root is rejected. */
static void test_check_moves_an_opt_that_is_not_last(void **state) {
  (void)state;
  dns_cache_t *c = new_cache(4, 0);
  client_t q;
  pkt_t up;
  size_t n, dropped;
  char text[256];
  client(&q, 9, "www.example.com", DNS_TYPE_A, 1232, false);
  response_start(&up, "www.example.com", DNS_TYPE_A, 0x8180, 1, 0, 2);
  rr_addr(&up, "www.example.com", 1);
  rr_opt(&up);
  rr_addr(&up, "www.example.com", 2);
  check_clean(c, &q, &up, &n, &dropped);
  assert_int_equal(dropped, 0);
  describe(out, n, text, sizeof(text));
  assert_string_equal(text, "an www.example.com. 1\n"
                            "ar www.example.com. 1\n"
                            "ar . 41\n");
  pkt_t clean;
  memcpy(clean.b, out, n);
  clean.n = n;
  assert_int_equal(dns_cache_store(c, q.key, q.key_len, clean.b, clean.n, 0),
                   DNS_CACHE_STORED);

  response_start(&up, "www.example.com", DNS_TYPE_A, 0x8180, 0, 0, 1);
  put16(&up, 0xC00C); /* an OPT owned by the question's name */
  put16(&up, DNS_TYPE_OPT);
  put16(&up, 1232);
  put32(&up, 0);
  put16(&up, 0);
  assert_int_equal(check(c, &q, &up), DNS_CACHE_REJECTED);
  dns_cache_free(c);
}

/* A CNAME whose target is a pointer to itself, into the header or
 * forward, a pair of pointers aiming at each other, an RDATA longer
 * than its name, an OPT among the answers, a second OPT, another
 * question: all rejected, as is the response cut anywhere. The same CNAME
 * pointing back at the question's name is fine. */
static void test_check_rejects_bad_names_anywhere(void **state) {
  (void)state;
  dns_cache_t *c = new_cache(4, 0);
  client_t q, other;
  pkt_t up;
  client(&q, 9, "www.example.com", DNS_TYPE_A, 0, false);
  client(&other, 9, "xyz.example.com", DNS_TYPE_A, 0, false);
  enum { qend = DNS_HEADER_SIZE + 17 + 4 };

  /* www.example.com CNAME <pointer>, at a known offset. */
  enum { target_at = qend + 2 + 10 };
  const uint16_t targets[] = {0xC000 | target_at, 0xC000 | 4,
                              0xC000 | (target_at + 2)};
  for (size_t i = 0; i < ARRAY_LEN(targets); i++) {
    response_start(&up, "www.example.com", DNS_TYPE_A, 0x8180, 1, 0, 0);
    put16(&up, 0xC00C);
    put16(&up, DNS_TYPE_CNAME);
    put16(&up, DNS_CLASS_IN);
    put32(&up, 60);
    put16(&up, 2);
    assert_int_equal(up.n, target_at);
    put16(&up, targets[i]);
    assert_int_equal(check(c, &q, &up), DNS_CACHE_REJECTED);
  }
  /* Two pointers that aim at each other, in an owner. */
  response_start(&up, "www.example.com", DNS_TYPE_A, 0x8180, 1, 0, 0);
  put16(&up, 0xC000 | (qend + 2));
  put16(&up, 0xC000 | qend);
  assert_int_equal(check(c, &q, &up), DNS_CACHE_REJECTED);

  /* A good CNAME back to the question, then the same with a spare byte
   * in its RDATA. */
  response_start(&up, "www.example.com", DNS_TYPE_A, 0x8180, 1, 0, 0);
  put16(&up, 0xC00C);
  put16(&up, DNS_TYPE_CNAME);
  put16(&up, DNS_CLASS_IN);
  put32(&up, 60);
  put16(&up, 2);
  put16(&up, 0xC00C);
  assert_int_equal(check(c, &q, &up), DNS_CACHE_CLEAN);
  for (size_t len = 0; len < up.n; len++) {
    size_t n, dropped;
    assert_int_equal(dns_cache_check(c, q.key, q.key_len, up.b, len, out,
                                     sizeof(out), &n, &dropped),
                     DNS_CACHE_REJECTED);
  }
  assert_int_equal(check(c, &other, &up), DNS_CACHE_REJECTED);
  up.b[up.n - 3] = 3;
  up.b[up.n++] = 0;
  assert_int_equal(check(c, &q, &up), DNS_CACHE_REJECTED);

  /* OPT in the answer section; two OPTs. */
  response_start(&up, "www.example.com", DNS_TYPE_A, 0x8180, 1, 0, 0);
  rr_opt(&up);
  assert_int_equal(check(c, &q, &up), DNS_CACHE_REJECTED);
  response_start(&up, "www.example.com", DNS_TYPE_A, 0x8180, 0, 0, 2);
  rr_opt(&up);
  rr_opt(&up);
  assert_int_equal(check(c, &q, &up), DNS_CACHE_REJECTED);
  dns_cache_free(c);
}

/* www.example.com -> a.example.net -> b.example.org, the records in
 * reverse order, with out-of-bailiwick extras in every section: the chain,
 * the zone's NS above it, the chain's own additional record and the OPT
 * stay (the OPT last); everything else goes. The rebuilt response reads
 * back strictly, is cached and answers the client. */
static void test_check_keeps_the_cname_chain_and_drops_the_rest(void **state) {
  (void)state;
  dns_cache_t *c = new_cache(4, 0);
  client_t q;
  pkt_t up;
  size_t n, dropped;
  char text[1024];
  client(&q, 0x4242, "www.example.com", DNS_TYPE_A, 1232, false);

  response_start(&up, "www.example.com", DNS_TYPE_A, 0x8180, 5, 2, 4);
  rr_addr(&up, "b.example.org", 7);
  rr_addr(&up, "evil.example", 66);
  rr_name(&up, "a.example.net", DNS_TYPE_CNAME, "b.example.org");
  rr_name(&up, "www.example.com", DNS_TYPE_CNAME, "a.example.net");
  size_t ch = rr_begin(&up, "b.example.org", DNS_TYPE_A, 3, 300); /* CHAOS */
  put32(&up, 1);
  rr_end(&up, ch);
  rr_name(&up, "example.org", DNS_TYPE_NS, "ns.example.org");
  rr_name(&up, "evil.example", DNS_TYPE_NS, "ns.evil.example");
  rr_opt(&up);                      /* not last: moved to the end */
  rr_addr(&up, "ns.evil.example", 9);
  rr_opaque(&up, "b.example.org", DNS_TYPE_AAAA);
  rr_addr(&up, "ns.example.org", 8); /* glue, not for the chain */

  check_clean(c, &q, &up, &n, &dropped);
  assert_int_equal(dropped, 5);
  describe(out, n, text, sizeof(text));
  assert_string_equal(text, "an b.example.org. 1\n"
                            "an a.example.net. 5\n"
                            "an www.example.com. 5\n"
                            "ns example.org. 2\n"
                            "ar b.example.org. 28\n"
                            "ar . 41\n");
  /* The question's name is the question's bytes, by pointer. */
  assert_non_null(memmem(out, n, "\xc0\x0c\x00\x05", 4));

  /* Checked and rebuilt, it is an ordinary response to keep and serve. */
  pkt_t clean;
  memcpy(clean.b, out, n);
  clean.n = n;
  assert_int_equal(dns_cache_store(c, q.key, q.key_len, clean.b, clean.n, 0),
                   DNS_CACHE_STORED);
  size_t r = dns_cache_answer(c, q.key, q.key_len, &q.q, 1232, 0, out,
                              sizeof(out));
  assert_true(r > 0);
  assert_int_equal(get16(out), 0x4242);
  assert_int_equal(get16(out + 6), 3);
  dns_cache_free(c);
}

/* NXDOMAIN: the SOA of a zone above the name and the NSEC and RRSIG
 * records under that zone stay; an NSEC of another zone, an A record for
 * another name and an NS below the question's name go. A query for the
 * CNAME itself does not follow it; a CNAME loop ends. */
static void test_check_keeps_negative_proofs_and_ends_loops(void **state) {
  (void)state;
  dns_cache_t *c = new_cache(4, 0);
  client_t q, cname_q;
  pkt_t up;
  size_t n, dropped;
  char text[1024];
  client(&q, 1, "x.example.com", DNS_TYPE_A, 1232, true);

  response_start(&up, "x.example.com", DNS_TYPE_A, 0x8183, 0, 6, 1);
  rr_opaque(&up, "w.example.com", 47);   /* NSEC before its SOA */
  rr_soa(&up, 300, 60);
  rr_opaque(&up, "example.com", 46);     /* RRSIG */
  rr_opaque(&up, "a.evil.example", 47);
  rr_addr(&up, "ns.example.com", 5);
  rr_name(&up, "y.x.example.com", DNS_TYPE_NS, "ns.example.com");
  rr_opt(&up);
  check_clean(c, &q, &up, &n, &dropped);
  assert_int_equal(dropped, 3);
  describe(out, n, text, sizeof(text));
  assert_string_equal(text, "ns w.example.com. 47\n"
                            "ns example.com. 6\n"
                            "ns example.com. 46\n"
                            "ar . 41\n");

  /* a CNAME b, b CNAME a: both kept, the walk ends. Asked for the CNAME
   * of a, b's record is not part of the answer. */
  client(&q, 1, "a.example.com", DNS_TYPE_A, 0, false);
  client(&cname_q, 1, "a.example.com", DNS_TYPE_CNAME, 0, false);
  for (int type = 0; type < 2; type++) {
    response_start(&up, "a.example.com", type == 0 ? DNS_TYPE_A : DNS_TYPE_CNAME, 0x8180, 2, 0, 0);
    rr_name(&up, "a.example.com", DNS_TYPE_CNAME, "b.example.com");
    rr_name(&up, "b.example.com", DNS_TYPE_CNAME, "a.example.com");
    check_clean(c, type == 0 ? &q : &cname_q, &up, &n, &dropped);
    assert_int_equal(dropped, (size_t)type);
  }
  dns_cache_free(c);
}

static void test_lru_evicts_the_least_recently_used(void **state) {
  (void)state;
  dns_cache_t *c = new_cache(2, 0);
  client_t a, b, d;
  pkt_t up;
  const uint32_t ttls[] = {600};
  client(&a, 1, "a.example.com", DNS_TYPE_A, 0, false);
  client(&b, 2, "b.example.com", DNS_TYPE_A, 0, false);
  client(&d, 3, "d.example.com", DNS_TYPE_A, 0, false);
  make_positive(&up, "a.example.com", ttls, 1, false);
  assert_int_equal(dns_cache_store(c, a.key, a.key_len, up.b, up.n, 0), DNS_CACHE_STORED);
  make_positive(&up, "b.example.com", ttls, 1, false);
  assert_int_equal(dns_cache_store(c, b.key, b.key_len, up.b, up.n, 0), DNS_CACHE_STORED);
  /* Touch a: b becomes the oldest. */
  assert_true(dns_cache_answer(c, a.key, a.key_len, &a.q, 512, 1, out, sizeof(out)) > 0);
  make_positive(&up, "d.example.com", ttls, 1, false);
  assert_int_equal(dns_cache_store(c, d.key, d.key_len, up.b, up.n, 2), DNS_CACHE_STORED);

  assert_true(dns_cache_answer(c, a.key, a.key_len, &a.q, 512, 3, out, sizeof(out)) > 0);
  assert_int_equal(dns_cache_answer(c, b.key, b.key_len, &b.q, 512, 3, out, sizeof(out)), 0);
  assert_true(dns_cache_answer(c, d.key, d.key_len, &d.q, 512, 3, out, sizeof(out)) > 0);
  dns_cache_stats_t st;
  dns_cache_stats(c, &st);
  assert_int_equal(st.entries, 2);
  assert_int_equal(st.evicted, 1);
  dns_cache_free(c);
}

static void test_byte_bound_evicts_and_refuses_oversized(void **state) {
  (void)state;
  client_t q[8];
  pkt_t up;
  uint32_t ttls[40];
  for (size_t i = 0; i < 40; i++)
    ttls[i] = 600;
  /* Room for two entries of 40 A records (~860 bytes each), not three. */
  dns_cache_t *c = new_cache(100, 2000);
  char name[32];
  for (int i = 0; i < 8; i++) {
    snprintf(name, sizeof(name), "n%d.example.com", i);
    client(&q[i], 1, name, DNS_TYPE_A, 1232, false);
    make_positive(&up, name, ttls, 40, true);
    assert_int_equal(dns_cache_store(c, q[i].key, q[i].key_len, up.b, up.n, 0), DNS_CACHE_STORED);
    dns_cache_stats_t st;
    dns_cache_stats(c, &st);
    assert_true(st.bytes <= 2000);
  }
  assert_true(dns_cache_answer(c, q[7].key, q[7].key_len, &q[7].q, 1232, 0, out, sizeof(out)) > 0);
  assert_true(dns_cache_answer(c, q[6].key, q[6].key_len, &q[6].q, 1232, 0, out, sizeof(out)) > 0);
  assert_int_equal(dns_cache_answer(c, q[5].key, q[5].key_len, &q[5].q, 1232, 0, out, sizeof(out)), 0);
  assert_int_equal(dns_cache_answer(c, q[0].key, q[0].key_len, &q[0].q, 1232, 0, out, sizeof(out)), 0);

  /* One answer bigger than the whole budget is relayed, not kept. */
  uint32_t many[150];
  for (size_t i = 0; i < 150; i++)
    many[i] = 600;
  make_positive(&up, "n0.example.com", many, 150, true);
  assert_int_equal(dns_cache_store(c, q[0].key, q[0].key_len, up.b, up.n, 0), DNS_CACHE_NOT_STORED);
  dns_cache_free(c);
}

static void test_size_zero_stores_nothing_but_still_checks(void **state) {
  (void)state;
  dns_cache_t *c = new_cache(0, 0);
  client_t q;
  pkt_t up;
  const uint32_t ttls[] = {600};
  client(&q, 1, "a.example.com", DNS_TYPE_A, 0, false);
  make_positive(&up, "a.example.com", ttls, 1, false);
  assert_int_equal(dns_cache_store(c, q.key, q.key_len, up.b, up.n, 0), DNS_CACHE_NOT_STORED);
  assert_int_equal(dns_cache_answer(c, q.key, q.key_len, &q.q, 512, 0, out, sizeof(out)), 0);
  make_positive(&up, "b.example.com", ttls, 1, false);
  assert_int_equal(dns_cache_store(c, q.key, q.key_len, up.b, up.n, 0), DNS_CACHE_INVALID);
  dns_cache_stats_t st;
  dns_cache_stats(c, &st);
  assert_int_equal(st.entries, 0);
  assert_int_equal(st.index_bytes, 0);
  dns_cache_flush(c);
  dns_cache_free(c);
}

static void test_too_big_for_client_is_tc_with_question_only(void **state) {
  (void)state;
  dns_cache_t *c = new_cache(4, 0);
  client_t plain, edns;
  pkt_t up;
  uint32_t ttls[40];
  for (size_t i = 0; i < 40; i++)
    ttls[i] = 600;
  client(&plain, 0x0A0A, "big.example.com", DNS_TYPE_A, 0, false);
  client(&edns, 0x0B0B, "big.example.com", DNS_TYPE_A, 1232, false);
  make_positive(&up, "big.example.com", ttls, 40, true); /* 697 bytes */
  assert_true(up.n > 512 && up.n < 1232);
  assert_int_equal(dns_cache_store(c, plain.key, plain.key_len, up.b, up.n, 0), DNS_CACHE_STORED);

  size_t n = dns_cache_answer(c, plain.key, plain.key_len, &plain.q, 512, 0, out, sizeof(out));
  assert_int_equal(n, DNS_HEADER_SIZE + plain.q.question_len);
  assert_int_equal(get16(out), 0x0A0A);
  assert_true(out[2] & 0x02);           /* TC */
  assert_true(out[2] & 0x80);           /* QR */
  assert_true(out[3] & 0x80);           /* RA, from the upstream */
  assert_int_equal(get16(out + 6), 0);  /* no answers */
  assert_int_equal(get16(out + 10), 0); /* no OPT: the client sent none */

  n = dns_cache_answer(c, edns.key, edns.key_len, &edns.q, 1232, 0, out, sizeof(out));
  assert_int_equal(n, up.n);
  assert_int_equal(get16(out + 6), 40);
  /* Over TCP the same client would get it all whatever its EDNS size. */
  n = dns_cache_answer(c, plain.key, plain.key_len, &plain.q, 65535, 0, out, sizeof(out));
  assert_int_equal(n, up.n - 11);
  dns_cache_free(c);
}

static void test_opt_is_left_out_for_clients_without_edns(void **state) {
  (void)state;
  dns_cache_t *c = new_cache(4, 0);
  client_t plain, edns;
  pkt_t up;
  const uint32_t ttls[] = {60};
  client(&plain, 1, "o.example.com", DNS_TYPE_A, 0, false);
  client(&edns, 2, "o.example.com", DNS_TYPE_A, 4096, false);
  make_positive(&up, "o.example.com", ttls, 1, true);
  assert_int_equal(dns_cache_store(c, plain.key, plain.key_len, up.b, up.n, 0), DNS_CACHE_STORED);

  size_t n = dns_cache_answer(c, plain.key, plain.key_len, &plain.q, 512, 0, out, sizeof(out));
  assert_int_equal(n, up.n - 11);
  assert_int_equal(get16(out + 10), 0);
  dns_query_t check;
  /* What we send must read back as a sane message: parse it as a query
   * after flipping QR, which walks every record. */
  out[2] &= 0x7F;
  assert_int_equal(dns_parse_query(out, n, &check), DNS_PARSE_OK);
  assert_false(check.has_edns);

  /* The upstream said 4096; we say what we take. */
  up.b[up.n - 11 + 3] = 0x10;
  up.b[up.n - 11 + 4] = 0x00;
  assert_int_equal(dns_cache_store(c, plain.key, plain.key_len, up.b, up.n, 0), DNS_CACHE_STORED);
  n = dns_cache_answer(c, edns.key, edns.key_len, &edns.q, 1232, 0, out, sizeof(out));
  assert_int_equal(n, up.n);
  assert_int_equal(get16(out + 10), 1);
  assert_int_equal(get16(out + n - 11 + 3), 1232);
  dns_cache_free(c);
}

/* Found by fuzz_cache: with an A record after the OPT, the OPT could not
 * be cut off the end, and a client without EDNS got it relayed. */
static void test_opt_not_last_is_invalid(void **state) {
  (void)state;
  dns_cache_t *c = new_cache(4, 0);
  client_t plain;
  pkt_t up;
  client(&plain, 1, "n.example.com", DNS_TYPE_A, 0, false);
  header(&up, 0xBEEF, 0x8180, 1, 1, 0, 2);
  put_name(&up, "n.example.com");
  put16(&up, DNS_TYPE_A);
  put16(&up, DNS_CLASS_IN);
  rr_a(&up, 60, 1);
  rr_opt(&up);
  rr_a(&up, 60, 2);
  assert_int_equal(dns_cache_store(c, plain.key, plain.key_len, up.b, up.n, 0),
                   DNS_CACHE_INVALID);
  assert_int_equal(dns_cache_relay(up.b, up.n, &plain.q, 512, out, sizeof(out)), 0);
  dns_cache_stats_t st;
  dns_cache_stats(c, &st);
  assert_int_equal(st.entries, 0);
  dns_cache_free(c);
}

/* Found by fuzz_cache: a compression pointer may aim at any earlier byte,
 * a TTL field too, and counting that TTL down changed the name: served
 * from the cache, the second record here became another name. Such a
 * response is relayed as it came, never kept. */
static void test_name_in_a_ttl_field_is_not_kept(void **state) {
  (void)state;
  dns_cache_t *c = new_cache(4, 0);
  client_t q;
  pkt_t up;
  client(&q, 1, "a.example", DNS_TYPE_A, 0, false);
  header(&up, 0xBEEF, 0x8180, 1, 2, 0, 0);
  put_name(&up, "a.example");
  put16(&up, DNS_TYPE_A);
  put16(&up, DNS_CLASS_IN);
  size_t ttl_at = up.n + 6;
  rr_a(&up, 0x01780000, 1); /* the TTL's bytes read as the name "x." */
  put16(&up, (uint16_t)(0xC000 | ttl_at));
  put16(&up, DNS_TYPE_A);
  put16(&up, DNS_CLASS_IN);
  put32(&up, 60);
  put16(&up, 4);
  put32(&up, 0xC0000202);
  assert_int_equal(dns_cache_store(c, q.key, q.key_len, up.b, up.n, 0),
                   DNS_CACHE_NOT_STORED);
  size_t n = dns_cache_relay(up.b, up.n, &q.q, 512, out, sizeof(out));
  assert_int_equal(n, up.n);
  assert_memory_equal(out + ttl_at, up.b + ttl_at, 4);
  dns_cache_free(c);
}

/* Found by fuzz_cache: an owner name pointing into the middle of the
 * question, at a byte that reads as a 40-byte label running on past the
 * pointer into the trailing bytes the cache cuts off: the reader took it,
 * and the reply made from it was malformed. */
static void test_name_reading_past_its_pointer_is_invalid(void **state) {
  (void)state;
  dns_cache_t *c = new_cache(4, 0);
  client_t q;
  pkt_t up;
  client(&q, 1, "x(.example", DNS_TYPE_A, 0, false); /* '(' is 40 */
  header(&up, 0xBEEF, 0x8180, 1, 1, 0, 0);
  put_name(&up, "x(.example");
  put16(&up, DNS_TYPE_A);
  put16(&up, DNS_CLASS_IN);
  size_t label_at = DNS_HEADER_SIZE + 2;
  rr_a(&up, 60, 1);
  up.b[up.n - 16] = 0xC0; /* the owner: a pointer to the '(' */
  up.b[up.n - 15] = (uint8_t)label_at;
  while (up.n <= label_at + 41)
    put8(&up, 0); /* trailing bytes, and the root label at the end */
  assert_int_equal(dns_cache_store(c, q.key, q.key_len, up.b, up.n, 0),
                   DNS_CACHE_INVALID);
  assert_int_equal(dns_cache_relay(up.b, up.n, &q.q, 512, out, sizeof(out)), 0);

  /* Found by fuzz_forward_reply: the same, reached through a label that
   * reads a TTL byte first (which alone would only stop it being kept).
   * The second record's owner aims at the first's last CLASS byte, 1: a
   * one-byte label holding the TTL's first byte, then a 40-byte label. */
  header(&up, 0xBEEF, 0x8180, 1, 2, 0, 0);
  put_name(&up, "x(.example");
  put16(&up, DNS_TYPE_A);
  put16(&up, DNS_CLASS_IN);
  size_t class_low = up.n + 5;
  rr_a(&up, 0x00280000, 1); /* TTL bytes: 00 28 ... */
  put16(&up, (uint16_t)(0xC000 | class_low));
  put16(&up, DNS_TYPE_A);
  put16(&up, DNS_CLASS_IN);
  put32(&up, 60);
  put16(&up, 4);
  put32(&up, 0xC0000202);
  while (up.n <= class_low + 2 + 41)
    put8(&up, 0);
  assert_int_equal(dns_cache_store(c, q.key, q.key_len, up.b, up.n, 0),
                   DNS_CACHE_INVALID);
  assert_int_equal(dns_cache_relay(up.b, up.n, &q.q, 512, out, sizeof(out)), 0);
  dns_cache_free(c);
}

/* Found by fuzz_cache: an OPT owned by another name than the root. The
 * payload size we put in a served OPT went to the wrong bytes and broke
 * the record. */
static void test_opt_not_owned_by_the_root_is_invalid(void **state) {
  (void)state;
  dns_cache_t *c = new_cache(4, 0);
  client_t q;
  pkt_t up;
  const uint32_t ttls[] = {60};
  client(&q, 1, "r.example.com", DNS_TYPE_A, 1232, false);
  make_positive(&up, "r.example.com", ttls, 1, false);
  up.b[11] = 1; /* ARCOUNT */
  put16(&up, 0xC00C);
  put16(&up, DNS_TYPE_OPT);
  put16(&up, 4096);
  put32(&up, 0);
  put16(&up, 0);
  assert_int_equal(dns_cache_store(c, q.key, q.key_len, up.b, up.n, 0),
                   DNS_CACHE_INVALID);
  assert_int_equal(dns_cache_relay(up.b, up.n, &q.q, 1232, out, sizeof(out)), 0);
  dns_cache_free(c);
}

static void test_trailing_bytes_are_dropped_and_flush_empties(void **state) {
  (void)state;
  dns_cache_t *c = new_cache(4, 0);
  client_t q;
  pkt_t up;
  const uint32_t ttls[] = {60};
  client(&q, 1, "t.example.com", DNS_TYPE_A, 1232, false);
  make_positive(&up, "t.example.com", ttls, 1, true);
  size_t real = up.n;
  put32(&up, 0xDEADBEEF);
  assert_int_equal(dns_cache_store(c, q.key, q.key_len, up.b, up.n, 0), DNS_CACHE_STORED);
  assert_int_equal(dns_cache_answer(c, q.key, q.key_len, &q.q, 1232, 0, out, sizeof(out)), real);

  /* Storing the same key again replaces the entry. */
  assert_int_equal(dns_cache_store(c, q.key, q.key_len, up.b, up.n, 0), DNS_CACHE_STORED);
  dns_cache_stats_t st;
  dns_cache_stats(c, &st);
  assert_int_equal(st.entries, 1);
  assert_true(st.bytes > 0);
  dns_cache_flush(c);
  dns_cache_stats(c, &st);
  assert_int_equal(st.entries, 0);
  assert_int_equal(st.bytes, 0);
  assert_int_equal(dns_cache_answer(c, q.key, q.key_len, &q.q, 1232, 0, out, sizeof(out)), 0);
  dns_cache_free(c);
}

static void test_relay_patches_id_and_question_only(void **state) {
  (void)state;
  client_t q;
  pkt_t up;
  const uint32_t ttls[] = {77};
  client(&q, 0x4242, "R.Example.Com", DNS_TYPE_A, 1232, false);
  make_positive(&up, "r.example.com", ttls, 1, true);
  size_t n = dns_cache_relay(up.b, up.n, &q.q, 1232, out, sizeof(out));
  assert_int_equal(n, up.n);
  assert_int_equal(get16(out), 0x4242);
  assert_memory_equal(out + DNS_HEADER_SIZE, q.q.question, q.q.question_len);
  assert_int_equal(get32(out + first_answer_ttl_at(&q)), 77);
  /* Garbage is not relayed. */
  assert_int_equal(dns_cache_relay(up.b, 20, &q.q, 1232, out, sizeof(out)), 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_siphash_matches_the_reference_vectors),
      cmocka_unit_test(test_key_ignores_case_but_not_type_or_flags),
      cmocka_unit_test(test_hit_has_clients_id_and_question_spelling),
      cmocka_unit_test(test_ttl_counts_down_and_entry_expires),
      cmocka_unit_test(test_positive_ttl_is_capped_by_max_ttl),
      cmocka_unit_test(test_negative_ttl_is_soa_minimum_capped),
      cmocka_unit_test(test_nodata_with_soa_is_cached_without_soa_is_not),
      cmocka_unit_test(test_uncacheable_responses_are_not_stored),
      cmocka_unit_test(test_responses_for_another_question_are_invalid),
      cmocka_unit_test(test_bad_compression_pointers_make_a_response_invalid),
      cmocka_unit_test(test_check_passes_a_clean_answer_as_received),
      cmocka_unit_test(test_check_rejects_bad_names_anywhere),
      cmocka_unit_test(test_check_moves_an_opt_that_is_not_last),
      cmocka_unit_test(test_check_keeps_the_cname_chain_and_drops_the_rest),
      cmocka_unit_test(test_check_keeps_negative_proofs_and_ends_loops),
      cmocka_unit_test(test_lru_evicts_the_least_recently_used),
      cmocka_unit_test(test_byte_bound_evicts_and_refuses_oversized),
      cmocka_unit_test(test_size_zero_stores_nothing_but_still_checks),
      cmocka_unit_test(test_too_big_for_client_is_tc_with_question_only),
      cmocka_unit_test(test_opt_is_left_out_for_clients_without_edns),
      cmocka_unit_test(test_opt_not_last_is_invalid),
      cmocka_unit_test(test_name_in_a_ttl_field_is_not_kept),
      cmocka_unit_test(test_name_reading_past_its_pointer_is_invalid),
      cmocka_unit_test(test_opt_not_owned_by_the_root_is_invalid),
      cmocka_unit_test(test_trailing_bytes_are_dropped_and_flush_empties),
      cmocka_unit_test(test_relay_patches_id_and_question_only),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
