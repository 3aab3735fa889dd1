/* libFuzzer target: the forwarder's cache fed an arbitrary upstream
 * response. Input: a config byte, an age byte, then the response. The
 * query is the response's own question when it has one (so that most
 * inputs reach the store), else example.com A; the config byte picks RD,
 * EDNS, DO, UDP or TCP, and the TTL caps. The cache's clock is the now_ms
 * each call takes, so time is fixed here.
 *
 * Checks: a response dns_wire's reader cannot walk is never stored nor
 * relayed (INVALID); a stored one is served to the same question, in its
 * own spelling or with the case flipped, as a well-formed reply within the
 * client's limit (fuzz_check_reply) whose TTLs never exceed the cap that
 * applied, minus the age; another QTYPE or the DO bit flipped misses; past
 * the larger cap everything has expired; a valid response not kept is
 * relayed well-formed, TTLs as received; storing twice keeps one entry.
 * The cache is freed per input, so LeakSanitizer sees every entry. */
#include "dns_cache.h"
#include "fuzz_reply.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define NOW_MS 1000000000ull
#define QUERY_MAX (DNS_HEADER_SIZE + DNS_MAX_NAME + 4 + 11)

static const uint32_t max_ttls[] = {1, 60, 300, 86400};
static const uint32_t neg_ttls[] = {0, 5, 300, 3600};

static uint32_t minus_age(uint32_t cap, uint32_t age) {
  return cap > age ? cap - age : 0;
}

/* Answer q from the cache at now and check the reply; returns its length. */
static size_t lookup(dns_cache_t *c, const dns_query_t *q, bool tcp,
                     uint64_t now, uint32_t ttl_cap, uint8_t *out,
                     size_t cap) {
  uint8_t key[DNS_CACHE_KEY_MAX];
  size_t key_len = dns_cache_key(q, key);
  size_t limit = tcp ? DNS_MAX_MESSAGE : dns_udp_limit(q);
  FUZZ_CHECK(key_len > 0);
  size_t n = dns_cache_answer(c, key, key_len, q, limit, now, out, cap);
  if (n > 0)
    fuzz_check_reply(out, n, q, limit, cap, ttl_cap);
  return n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static uint8_t out[DNS_MAX_MESSAGE];
  uint8_t pkt[QUERY_MAX], variant_pkt[QUERY_MAX];
  size_t pkt_len, variant_len;
  dns_query_t q, variant;
  uint8_t key[DNS_CACHE_KEY_MAX];

  if (size < 2)
    return 0;
  unsigned conf = data[0];
  uint32_t age = data[1];
  const uint8_t *msg = data + 2;
  size_t len = size - 2;
  bool tcp = conf & 0x08;
  uint16_t udp_size = (conf & 0x10) ? 4096 : 512 + (uint16_t)(age * 4);
  dns_cache_config_t cfg = {.max_entries = 4,
                            .max_ttl = max_ttls[(conf >> 5) & 3],
                            .neg_ttl = neg_ttls[(conf >> 7) & 1 ? 3 : 1],
                            .hash_key = {1, 2}};
  uint32_t longest = cfg.max_ttl > cfg.neg_ttl ? cfg.max_ttl : cfg.neg_ttl;

  if (!fuzz_make_query(msg, len, conf & 7, udp_size, false, pkt, &pkt_len,
                       &q))
    return 0; /* a name the query parser refuses: never forwarded */
  size_t key_len = dns_cache_key(&q, key);
  FUZZ_CHECK(key_len > 0);

  dns_cache_t *c = dns_cache_new(&cfg);
  FUZZ_CHECK(c != NULL);
  dns_cache_verdict_t v = dns_cache_store(c, key, key_len, msg, len, NOW_MS);
  if (!fuzz_response_readable(msg, len))
    FUZZ_CHECK(v == DNS_CACHE_INVALID);
  dns_cache_stats_t st;
  dns_cache_stats(c, &st);
  FUZZ_CHECK(st.entries == (v == DNS_CACHE_STORED ? 1u : 0u));

  /* The cap that applied: max_ttl for an answer, the negative lifetime
   * (at most neg_ttl) for NXDOMAIN or NODATA. */
  uint32_t ttl_cap = len >= DNS_HEADER_SIZE && dns_get_be16(msg + 6) > 0 &&
                             dns_flags_rcode(dns_get_be16(msg + 2)) == 0
                         ? cfg.max_ttl
                         : cfg.neg_ttl;
  if (v == DNS_CACHE_STORED) {
    FUZZ_CHECK(lookup(c, &q, tcp, NOW_MS, ttl_cap, out, sizeof(out)) > 0);
    /* A small buffer: a reply that does not fit is TC=1 or nothing. */
    lookup(c, &q, tcp, NOW_MS, ttl_cap, out, 64);

    FUZZ_CHECK(fuzz_make_query(msg, len, conf & 7, udp_size, true,
                               variant_pkt, &variant_len, &variant));
    FUZZ_CHECK(lookup(c, &variant, tcp, NOW_MS, ttl_cap, out, sizeof(out)) >
               0);

    variant_pkt[variant_len - (variant.has_edns ? 11 : 0) - 3] ^= 1;
    if (dns_parse_query(variant_pkt, variant_len, &variant) == DNS_PARSE_OK)
      FUZZ_CHECK(lookup(c, &variant, tcp, NOW_MS, ttl_cap, out,
                        sizeof(out)) == 0);
    if (q.has_edns) {
      memcpy(variant_pkt, pkt, pkt_len);
      variant_pkt[pkt_len - 11 + 7] ^= DNS_OPT_TTL_DO >> 8;
      FUZZ_CHECK(dns_parse_query(variant_pkt, pkt_len, &variant) ==
                 DNS_PARSE_OK);
      FUZZ_CHECK(lookup(c, &variant, tcp, NOW_MS, ttl_cap, out,
                        sizeof(out)) == 0);
    }

    /* Later (a hit or not, as the entry's lifetime says), TTLs count down. */
    lookup(c, &q, tcp, NOW_MS + age * 1000ull + 999, minus_age(ttl_cap, age),
           out, sizeof(out));

    FUZZ_CHECK(dns_cache_store(c, key, key_len, msg, len, NOW_MS + 1) ==
               DNS_CACHE_STORED);
    dns_cache_stats(c, &st);
    FUZZ_CHECK(st.entries == 1);
    FUZZ_CHECK(lookup(c, &q, tcp, NOW_MS + 1 + (uint64_t)longest * 1000, 0,
                      out, sizeof(out)) == 0);
    dns_cache_stats(c, &st);
    FUZZ_CHECK(st.entries == 0 && st.expired >= 1);
  } else if (v == DNS_CACHE_NOT_STORED) {
    size_t limit = tcp ? DNS_MAX_MESSAGE : dns_udp_limit(&q);
    size_t n = dns_cache_relay(msg, len, &q, limit, out, sizeof(out));
    FUZZ_CHECK(n > 0);
    fuzz_check_reply(out, n, &q, limit, sizeof(out), UINT32_MAX);
  }
  dns_cache_free(c);
  return 0;
}
