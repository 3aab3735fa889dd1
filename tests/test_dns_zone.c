/* dns_zone: from query bytes to reply bytes, with the map, wildcards, the
 * unknown-name policies and the transports' size limits. */
#include "test_util.h"

#include <stdbool.h>

#include "dns_map.h"
#include "dns_wire.h"
#include "dns_zone.h"

/* The reply's header fields, for reading replies. */
#define OFF_ID 0
#define OFF_FLAGS 2
#define OFF_QDCOUNT 4
#define OFF_ANCOUNT 6
#define OFF_NSCOUNT 8
#define OFF_ARCOUNT 10
#define OFF_QUESTION 12
#define FLAG_QR 0x8000
#define FLAG_AA 0x0400
#define FLAG_TC 0x0200
#define FLAG_RD 0x0100
#define FLAG_RA 0x0080
#define RCODE_MASK 0x000F
#define RR_FIXED 12   /* compressed owner, type, class, TTL, rdlen */
#define A_RR 16
#define AAAA_RR 28
#define OPT_RR 11

/* dig 9.18 "dig +noedns facebook.com". */
static const uint8_t q_facebook_plain[] = {
    0xbe, 0xef,             /* ID */
    0x01, 0x00,             /* RD */
    0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    8, 'f', 'a', 'c', 'e', 'b', 'o', 'o', 'k', 3, 'c', 'o', 'm', 0,
    0x00, 0x01,             /* A */
    0x00, 0x01,             /* IN */
};

/* The seed's exact reply to q_facebook_plain, as dns_answer made it. */
static const uint8_t r_facebook_plain[] = {
    0xbe, 0xef,             /* ID echoed */
    0x85, 0x00,             /* QR AA RD; RA=0; NOERROR */
    0x00, 0x01, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00,
    8, 'f', 'a', 'c', 'e', 'b', 'o', 'o', 'k', 3, 'c', 'o', 'm', 0,
    0x00, 0x01, 0x00, 0x01,
    0xc0, 0x0c,             /* owner: the question name */
    0x00, 0x01, 0x00, 0x01, /* A IN */
    0x00, 0x00, 0x00, 0x3c, /* TTL 60 */
    0x00, 0x04, 173, 252, 120, 6,
};

/* dig 9.18 "dig facebook.com": AD, OPT 1232 with a client COOKIE. */
static const uint8_t q_facebook_dig[] = {
    0x4a, 0x1d, 0x01, 0x20, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01,
    8, 'f', 'a', 'c', 'e', 'b', 'o', 'o', 'k', 3, 'c', 'o', 'm', 0,
    0x00, 0x01, 0x00, 0x01,
    0x00, 0x00, 0x29, 0x04, 0xd0, 0x00, 0x00, 0x00, 0x00, 0x00, 0x0c,
    0x00, 0x0a, 0x00, 0x08, 0x4e, 0x1a, 0x5c, 0x93, 0x2d, 0x0b, 0x77, 0x01,
};

/* The reply to q_facebook_dig: the answer, then our own OPT (no cookie
 * echoed: we support no option). */
static const uint8_t r_facebook_dig[] = {
    0x4a, 0x1d,             /* ID echoed */
    0x85, 0x00,             /* QR AA RD; AD not copied; NOERROR */
    0x00, 0x01, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01,
    8, 'f', 'a', 'c', 'e', 'b', 'o', 'o', 'k', 3, 'c', 'o', 'm', 0,
    0x00, 0x01, 0x00, 0x01,
    0xc0, 0x0c, 0x00, 0x01, 0x00, 0x01, 0x00, 0x00, 0x00, 0x3c,
    0x00, 0x04, 173, 252, 120, 6,
    0x00,                   /* OPT owner: root */
    0x00, 0x29,             /* OPT */
    0x04, 0xd0,             /* we accept 1232 */
    0x00, 0x00, 0x00, 0x00, /* ext rcode 0, version 0, no DO */
    0x00, 0x00,             /* no options */
};

static const uint8_t v6_addr[16] = {0x20, 0x01, 0x0d, 0xb8, [15] = 0x42};
static const uint8_t dual_a[4] = {192, 0, 2, 1};
static const uint8_t wild_a[4] = {192, 0, 2, 10};     /* *.example.com */
static const uint8_t wild_b_a[4] = {192, 0, 2, 11};   /* *.b.example.com */
static const uint8_t exact_a[4] = {192, 0, 2, 12};    /* exact.example.com */
static const uint8_t example_a[4] = {192, 0, 2, 13};  /* example.com */
static const uint8_t localhost[4] = {127, 0, 0, 1};

typedef struct {
  dns_zone_t *zone;            /* the seed map plus the names below */
  uint8_t q[600];
  size_t qlen;
  uint8_t out[DNS_MAX_MESSAGE];
  size_t n;
} fixture_t;

static fixture_t fx;

static void many_addr(unsigned i, uint8_t a[4], uint8_t a6[16]) {
  const uint8_t v4[4] = {10, 1, 0, (uint8_t)i};
  const uint8_t v6[16] = {0x20, 0x01, 0x0d, 0xb8, 1, [15] = (uint8_t)i};
  memcpy(a, v4, 4);
  memcpy(a6, v6, 16);
}

/* The seed map plus: many.example with 40 A and 40 AAAA, dual.example
 * with one of each, only6.example with an AAAA, and the wildcards
 * *.example.com, *.b.example.com (A) and *.six.example (AAAA only) beside
 * exact.example.com and example.com. */
static dns_map_t *fixture_map(void) {
  dns_map_t *map = dns_map_new_default();
  if (map == NULL)
    return NULL;
  for (unsigned i = 0; i < 40; i++) {
    uint8_t a[4], a6[16];
    many_addr(i, a, a6);
    if (dns_map_add(map, "many.example", 4, a) != 0 ||
        dns_map_add(map, "many.example", 6, a6) != 0)
      goto fail;
  }
  if (dns_map_add(map, "dual.example", 4, dual_a) != 0 ||
      dns_map_add(map, "dual.example", 6, v6_addr) != 0 ||
      dns_map_add(map, "only6.example", 6, v6_addr) != 0 ||
      dns_map_add(map, "*.example.com", 4, wild_a) != 0 ||
      dns_map_add(map, "*.b.example.com", 4, wild_b_a) != 0 ||
      dns_map_add(map, "exact.example.com", 4, exact_a) != 0 ||
      dns_map_add(map, "example.com", 4, example_a) != 0 ||
      dns_map_add(map, "*.six.example", 6, v6_addr) != 0)
    goto fail;
  return map;
fail:
  dns_map_free(map);
  return NULL;
}

static int group_setup(void **state) {
  dns_zone_options_t opts;
  (void)state;

  dns_zone_options_default(&opts);
  fx.zone = dns_zone_new(fixture_map(), &opts);
  return fx.zone == NULL ? -1 : 0;
}

static int group_teardown(void **state) {
  (void)state;
  dns_zone_free(fx.zone);
  return 0;
}

/* A standard query (ID 0x1234, RD) for a dotted name, optionally with an
 * OPT of the given UDP size; returns its length. */
static size_t make_query(uint8_t *p, const char *name, uint16_t qtype,
                         uint16_t edns_udp) {
  const uint8_t header[] = {0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0,
                            edns_udp ? 1 : 0};
  size_t pos = 0;

  memcpy(p, header, sizeof(header));
  pos += sizeof(header);
  while (*name != '\0') {
    size_t len = strcspn(name, ".");
    p[pos++] = (uint8_t)len;
    memcpy(p + pos, name, len);
    pos += len;
    name += len;
    if (*name == '.')
      name++;
  }
  p[pos++] = 0;
  p[pos++] = (uint8_t)(qtype >> 8);
  p[pos++] = (uint8_t)qtype;
  p[pos++] = 0;
  p[pos++] = DNS_CLASS_IN;
  if (edns_udp) {
    const uint8_t opt[] = {0, 0, 41, (uint8_t)(edns_udp >> 8),
                           (uint8_t)edns_udp, 0, 0, 0, 0, 0, 0};
    memcpy(p + pos, opt, sizeof(opt));
    pos += sizeof(opt);
  }
  return pos;
}

static unsigned be16(const uint8_t *p, size_t off) {
  return (unsigned)p[off] << 8 | p[off + 1];
}

static dns_reply_t ask_zone(const dns_zone_t *zone, dns_transport_t t,
                            const char *name, uint16_t qtype,
                            uint16_t edns) {
  fx.qlen = make_query(fx.q, name, qtype, edns);
  return dns_zone_answer(zone, t, fx.q, fx.qlen, fx.out, sizeof(fx.out),
                         &fx.n);
}

/* A UDP query to the fixture zone that must be answered. */
static void ask(const char *name, uint16_t qtype, uint16_t edns) {
  assert_int_equal(ask_zone(fx.zone, DNS_TRANSPORT_UDP, name, qtype, edns),
                   DNS_REPLY_SEND);
}

/* Wire length of the question of the query in fx.q (no OPT). */
static size_t question_len(void) {
  size_t pos = OFF_QUESTION;
  while (fx.q[pos] != 0)
    pos += 1u + fx.q[pos];
  return pos + 1 + 4 - OFF_QUESTION;
}

/* The i-th answer's rdata, for answers of equal rdlen. */
static const uint8_t *nth_rdata(size_t rr_size, size_t i) {
  return fx.out + OFF_QUESTION + question_len() + i * rr_size + RR_FIXED;
}

static unsigned rcode(void) { return be16(fx.out, OFF_FLAGS) & RCODE_MASK; }

/* A reply with one A answer holding addr. */
static void assert_one_a(const uint8_t addr[4]) {
  assert_int_equal(rcode(), DNS_RCODE_NOERROR);
  assert_int_equal(be16(fx.out, OFF_ANCOUNT), 1);
  assert_int_equal(fx.n, OFF_QUESTION + question_len() + A_RR);
  assert_int_equal(be16(fx.out, OFF_QUESTION + question_len() + 2),
                   DNS_TYPE_A);
  assert_memory_equal(nth_rdata(A_RR, 0), addr, 4);
}

/* NOERROR with no answer, no TC: the name exists, the type does not. */
static void assert_nodata(void) {
  assert_int_equal(rcode(), DNS_RCODE_NOERROR);
  assert_int_equal(be16(fx.out, OFF_ANCOUNT), 0);
  assert_int_equal(be16(fx.out, OFF_FLAGS) & FLAG_TC, 0);
  assert_int_equal(fx.n, OFF_QUESTION + question_len());
}

/* What dns_build_response makes of q with the given records: the zone's
 * precomputed bytes must come out the same. */
static size_t build_expected(const uint8_t *q, size_t qlen,
                             const dns_rr_t *rrs, size_t n, size_t limit,
                             uint8_t *out) {
  dns_query_t parsed;
  assert_int_equal(dns_parse_query(q, qlen, &parsed), DNS_PARSE_OK);
  return dns_build_response(&parsed, DNS_RCODE_NOERROR, rrs, n, 60, out,
                            DNS_MAX_MESSAGE, limit);
}

/* --- the seed's behaviour, unchanged with default options --- */

static void test_options_default_to_the_seed(void **state) {
  dns_zone_options_t opts;
  (void)state;

  memset(&opts, 0xff, sizeof(opts));
  dns_zone_options_default(&opts);
  assert_int_equal(opts.ttl, 60);
  assert_int_equal(opts.unknown, DNS_UNKNOWN_ANSWER);
  assert_int_equal(opts.n_unknown_addrs, 1);
  assert_int_equal(opts.unknown_addrs[0].family, 4);
  assert_memory_equal(opts.unknown_addrs[0].addr, localhost, 4);
  assert_null(dns_zone_options_check(&opts));
}

static void test_seed_plain_query_gets_the_seeds_exact_reply(void **state) {
  dns_zone_options_t opts;
  size_t n;
  uint8_t out[512];
  (void)state;

  dns_zone_options_default(&opts);
  dns_zone_t *zone = dns_zone_new(dns_map_new_default(), &opts);
  assert_non_null(zone);
  assert_int_equal(dns_zone_names(zone), 3);
  assert_int_equal(dns_zone_answer(zone, DNS_TRANSPORT_UDP, q_facebook_plain,
                                   sizeof(q_facebook_plain), out, sizeof(out),
                                   &n),
                   DNS_REPLY_SEND);
  assert_int_equal(n, sizeof(r_facebook_plain));
  assert_memory_equal(out, r_facebook_plain, sizeof(r_facebook_plain));
  dns_zone_free(zone);
}

static void test_seed_dig_query_gets_answer_and_opt(void **state) {
  (void)state;

  assert_int_equal(dns_zone_answer(fx.zone, DNS_TRANSPORT_UDP, q_facebook_dig,
                                   sizeof(q_facebook_dig), fx.out,
                                   sizeof(fx.out), &fx.n),
                   DNS_REPLY_SEND);
  assert_int_equal(fx.n, sizeof(r_facebook_dig));
  assert_memory_equal(fx.out, r_facebook_dig, sizeof(r_facebook_dig));
}

static void test_seed_names_get_their_addresses_ttl_60(void **state) {
  (void)state;

  ask("yougov.com", DNS_TYPE_A, 0);
  assert_one_a((const uint8_t[]){213, 52, 133, 246});
  ask("wipo.int", DNS_TYPE_A, 0);
  assert_one_a((const uint8_t[]){193, 5, 93, 80});
  /* TTL: the 4 bytes after owner, type and class. */
  assert_int_equal(be16(fx.out, OFF_QUESTION + question_len() + 6), 0);
  assert_int_equal(be16(fx.out, OFF_QUESTION + question_len() + 8), 60);
}

static void test_seed_unknown_name_gets_localhost(void **state) {
  (void)state;

  ask("nowhere.example", DNS_TYPE_A, 0);
  assert_one_a(localhost);
}

static void test_seed_aaaa_is_nodata(void **state) {
  (void)state;

  ask("facebook.com", DNS_TYPE_AAAA, 0);
  assert_nodata();
  ask("nowhere.example", DNS_TYPE_AAAA, 0);
  assert_nodata();
}

static void test_header_echoes_id_and_rd_sets_aa_not_ra(void **state) {
  (void)state;

  fx.qlen = make_query(fx.q, "facebook.com", DNS_TYPE_A, 0);
  fx.q[OFF_ID] = 0xab;
  fx.q[OFF_ID + 1] = 0xcd;
  fx.q[OFF_FLAGS] = 0x00; /* RD clear */
  assert_int_equal(dns_zone_answer(fx.zone, DNS_TRANSPORT_UDP, fx.q, fx.qlen,
                                   fx.out, sizeof(fx.out), &fx.n),
                   DNS_REPLY_SEND);
  assert_int_equal(be16(fx.out, OFF_ID), 0xabcd);
  unsigned flags = be16(fx.out, OFF_FLAGS);
  assert_true(flags & FLAG_QR);
  assert_true(flags & FLAG_AA);
  assert_false(flags & FLAG_RD);
  assert_false(flags & FLAG_RA);
  assert_int_equal(be16(fx.out, OFF_QDCOUNT), 1);
  assert_int_equal(be16(fx.out, OFF_NSCOUNT), 0);

  ask("facebook.com", DNS_TYPE_A, 0); /* RD set */
  assert_int_equal(be16(fx.out, OFF_ID), 0x1234);
  assert_true(be16(fx.out, OFF_FLAGS) & FLAG_RD);
}

static void test_mixed_case_is_matched_and_echoed_as_sent(void **state) {
  (void)state;

  ask("FaCeBoOk.CoM", DNS_TYPE_A, 0);
  assert_one_a((const uint8_t[]){173, 252, 120, 6});
  assert_memory_equal(fx.out + OFF_QUESTION, fx.q + OFF_QUESTION,
                      question_len());
}

/* --- qtypes --- */

static void test_a_aaaa_and_any_for_a_dual_name(void **state) {
  (void)state;

  ask("dual.example", DNS_TYPE_A, 0);
  assert_one_a(dual_a);

  ask("dual.example", DNS_TYPE_AAAA, 0);
  assert_int_equal(be16(fx.out, OFF_ANCOUNT), 1);
  assert_int_equal(fx.n, OFF_QUESTION + question_len() + AAAA_RR);
  assert_int_equal(be16(fx.out, OFF_QUESTION + question_len() + 2),
                   DNS_TYPE_AAAA);
  assert_memory_equal(nth_rdata(AAAA_RR, 0), v6_addr, 16);

  /* ANY: every A, then every AAAA. */
  ask("dual.example", DNS_TYPE_ANY, 0);
  size_t at = OFF_QUESTION + question_len();
  assert_int_equal(be16(fx.out, OFF_ANCOUNT), 2);
  assert_int_equal(fx.n, at + A_RR + AAAA_RR);
  assert_int_equal(be16(fx.out, at + 2), DNS_TYPE_A);
  assert_memory_equal(fx.out + at + RR_FIXED, dual_a, 4);
  assert_int_equal(be16(fx.out, at + A_RR + 2), DNS_TYPE_AAAA);
  assert_memory_equal(fx.out + at + A_RR + RR_FIXED, v6_addr, 16);
}

static void test_a_for_a_name_with_only_aaaa_is_nodata(void **state) {
  (void)state;

  ask("only6.example", DNS_TYPE_A, 0);
  assert_nodata();
  ask("only6.example", DNS_TYPE_ANY, 0);
  assert_int_equal(be16(fx.out, OFF_ANCOUNT), 1);
  assert_memory_equal(nth_rdata(AAAA_RR, 0), v6_addr, 16);
}

static void test_other_types_are_nodata(void **state) {
  static const uint16_t types[] = {DNS_TYPE_MX, DNS_TYPE_TXT, DNS_TYPE_NS,
                                   DNS_TYPE_SOA, DNS_TYPE_CNAME, DNS_TYPE_PTR,
                                   65535};
  (void)state;

  for (size_t i = 0; i < ARRAY_LEN(types); i++) {
    ask("dual.example", types[i], 0);
    assert_nodata();
    /* An unknown name under the answer policy too. */
    ask("nowhere.example", types[i], 0);
    assert_nodata();
  }
}

static void test_addresses_come_in_insertion_order(void **state) {
  uint8_t a[4], a6[16];
  (void)state;

  /* 40 AAAA do not fit in 512 bytes; over TCP they do. */
  assert_int_equal(ask_zone(fx.zone, DNS_TRANSPORT_TCP, "many.example",
                            DNS_TYPE_AAAA, 0),
                   DNS_REPLY_SEND);
  assert_int_equal(be16(fx.out, OFF_ANCOUNT), 40);
  for (unsigned i = 0; i < 40; i++) {
    many_addr(i, a, a6);
    assert_memory_equal(nth_rdata(AAAA_RR, i), a6, 16);
  }
}

/* --- wildcards --- */

static void test_wildcard_matches_a_name_below_its_base(void **state) {
  (void)state;

  ask("www.example.com", DNS_TYPE_A, 0);
  assert_one_a(wild_a);
  /* Any depth, any case, and the question echoed as sent. */
  ask("A.Deep.Name.Example.COM", DNS_TYPE_A, 0);
  assert_one_a(wild_a);
  assert_memory_equal(fx.out + OFF_QUESTION, fx.q + OFF_QUESTION,
                      question_len());
}

static void test_exact_name_beats_wildcard(void **state) {
  (void)state;

  ask("exact.example.com", DNS_TYPE_A, 0);
  assert_one_a(exact_a);
  /* An exact name with no record of the type is NODATA: the wildcard is
   * not consulted. */
  ask("exact.example.com", DNS_TYPE_AAAA, 0);
  assert_nodata();
}

static void test_most_specific_wildcard_wins(void **state) {
  (void)state;

  ask("a.b.example.com", DNS_TYPE_A, 0);
  assert_one_a(wild_b_a);
  ask("x.y.a.b.example.com", DNS_TYPE_A, 0);
  assert_one_a(wild_b_a);
  /* b.example.com is the base of *.b.example.com, so *.example.com. */
  ask("b.example.com", DNS_TYPE_A, 0);
  assert_one_a(wild_a);
}

static void test_wildcard_does_not_match_its_base_name(void **state) {
  dns_zone_options_t opts;
  dns_map_t *map = dns_map_new();
  (void)state;

  /* In the fixture example.com exists; here only the wildcard does, and
   * the unknown policy makes a miss visible. */
  assert_non_null(map);
  assert_int_equal(dns_map_add(map, "*.example.com", 4, wild_a), 0);
  dns_zone_options_default(&opts);
  opts.unknown = DNS_UNKNOWN_NXDOMAIN;
  dns_zone_t *zone = dns_zone_new(map, &opts);
  assert_non_null(zone);

  assert_int_equal(
      ask_zone(zone, DNS_TRANSPORT_UDP, "example.com", DNS_TYPE_A, 0),
      DNS_REPLY_SEND);
  assert_int_equal(rcode(), DNS_RCODE_NXDOMAIN);
  assert_int_equal(ask_zone(zone, DNS_TRANSPORT_UDP, "com", DNS_TYPE_A, 0),
                   DNS_REPLY_SEND);
  assert_int_equal(rcode(), DNS_RCODE_NXDOMAIN);
  assert_int_equal(
      ask_zone(zone, DNS_TRANSPORT_UDP, "notexample.com", DNS_TYPE_A, 0),
      DNS_REPLY_SEND);
  assert_int_equal(rcode(), DNS_RCODE_NXDOMAIN);
  assert_int_equal(
      ask_zone(zone, DNS_TRANSPORT_UDP, "w.example.com", DNS_TYPE_A, 0),
      DNS_REPLY_SEND);
  assert_one_a(wild_a);
  dns_zone_free(zone);
}

static void test_example_com_itself_is_its_own_entry(void **state) {
  (void)state;

  ask("example.com", DNS_TYPE_A, 0);
  assert_one_a(example_a);
}

static void test_literal_star_query_gets_the_wildcard(void **state) {
  (void)state;

  ask("*.example.com", DNS_TYPE_A, 0);
  assert_one_a(wild_a);
  ask("x.*.example.com", DNS_TYPE_A, 0); /* below the literal "*" name */
  assert_one_a(wild_a);
}

static void test_wildcard_with_only_aaaa_gives_nodata_for_a(void **state) {
  (void)state;

  ask("host.six.example", DNS_TYPE_A, 0);
  assert_nodata();
  ask("host.six.example", DNS_TYPE_AAAA, 0);
  assert_int_equal(be16(fx.out, OFF_ANCOUNT), 1);
  assert_memory_equal(nth_rdata(AAAA_RR, 0), v6_addr, 16);
  /* six.example itself is not in the map: the unknown answer. */
  ask("six.example", DNS_TYPE_A, 0);
  assert_one_a(localhost);
}

static void test_star_alone_matches_every_name_below_the_root(void **state) {
  dns_zone_options_t opts;
  dns_map_t *map = dns_map_new();
  const uint8_t any_a[4] = {198, 51, 100, 1};
  (void)state;

  assert_non_null(map);
  assert_int_equal(dns_map_add(map, "*", 4, any_a), 0);
  assert_int_equal(dns_map_add(map, "*.b.c", 4, wild_b_a), 0);
  dns_zone_options_default(&opts);
  opts.unknown = DNS_UNKNOWN_NXDOMAIN;
  dns_zone_t *zone = dns_zone_new(map, &opts);
  assert_non_null(zone);

  assert_int_equal(ask_zone(zone, DNS_TRANSPORT_UDP, "com", DNS_TYPE_A, 0),
                   DNS_REPLY_SEND);
  assert_one_a(any_a);
  assert_int_equal(
      ask_zone(zone, DNS_TRANSPORT_UDP, "a.b.c", DNS_TYPE_A, 0),
      DNS_REPLY_SEND);
  assert_one_a(wild_b_a);
  assert_int_equal(
      ask_zone(zone, DNS_TRANSPORT_UDP, "b.c", DNS_TYPE_A, 0),
      DNS_REPLY_SEND);
  assert_one_a(any_a);
  /* The root is the base of "*" and stays unknown. */
  assert_int_equal(ask_zone(zone, DNS_TRANSPORT_UDP, "", DNS_TYPE_A, 0),
                   DNS_REPLY_SEND);
  assert_int_equal(rcode(), DNS_RCODE_NXDOMAIN);
  dns_zone_free(zone);
}

static void test_deepest_names_probe_wildcards_correctly(void **state) {
  dns_zone_options_t opts;
  dns_map_t *map = dns_map_new();
  char name[300];
  (void)state;

  /* A 127-label name (the most a 255-octet name holds) below a wildcard
   * whose base has 2 labels: everything above the base is skipped. */
  assert_non_null(map);
  assert_int_equal(dns_map_add(map, "*.b.c", 4, wild_b_a), 0);
  dns_zone_options_default(&opts);
  opts.unknown = DNS_UNKNOWN_NXDOMAIN;
  dns_zone_t *zone = dns_zone_new(map, &opts);
  assert_non_null(zone);
  size_t pos = 0;
  for (int i = 0; i < 125; i++) {
    name[pos++] = 'x';
    name[pos++] = '.';
  }
  strcpy(name + pos, "b.c");
  assert_int_equal(ask_zone(zone, DNS_TRANSPORT_UDP, name, DNS_TYPE_A, 0),
                   DNS_REPLY_SEND);
  assert_one_a(wild_b_a);
  strcpy(name + pos, "b.d");
  assert_int_equal(ask_zone(zone, DNS_TRANSPORT_UDP, name, DNS_TYPE_A, 0),
                   DNS_REPLY_SEND);
  assert_int_equal(rcode(), DNS_RCODE_NXDOMAIN);
  dns_zone_free(zone);
}

/* --- the unknown-name policies --- */

static dns_zone_t *policy_zone(dns_unknown_t policy) {
  dns_zone_options_t opts;
  dns_zone_options_default(&opts);
  opts.unknown = policy;
  return dns_zone_new(dns_map_new_default(), &opts);
}

static void test_unknown_nxdomain_policy(void **state) {
  dns_zone_t *zone = policy_zone(DNS_UNKNOWN_NXDOMAIN);
  (void)state;

  assert_non_null(zone);
  assert_int_equal(
      ask_zone(zone, DNS_TRANSPORT_UDP, "nowhere.example", DNS_TYPE_A, 1232),
      DNS_REPLY_SEND);
  assert_int_equal(rcode(), DNS_RCODE_NXDOMAIN);
  assert_true(be16(fx.out, OFF_FLAGS) & FLAG_AA);
  assert_int_equal(be16(fx.out, OFF_ANCOUNT), 0);
  assert_int_equal(be16(fx.out, OFF_ARCOUNT), 1);
  assert_int_equal(fx.n, OFF_QUESTION + question_len() + OPT_RR);
  /* Every type, and known names are still answered. */
  assert_int_equal(
      ask_zone(zone, DNS_TRANSPORT_UDP, "nowhere.example", DNS_TYPE_MX, 0),
      DNS_REPLY_SEND);
  assert_int_equal(rcode(), DNS_RCODE_NXDOMAIN);
  assert_int_equal(
      ask_zone(zone, DNS_TRANSPORT_UDP, "facebook.com", DNS_TYPE_A, 0),
      DNS_REPLY_SEND);
  assert_one_a((const uint8_t[]){173, 252, 120, 6});
  assert_int_equal(
      ask_zone(zone, DNS_TRANSPORT_UDP, "facebook.com", DNS_TYPE_AAAA, 0),
      DNS_REPLY_SEND);
  assert_nodata();
  dns_zone_free(zone);
}

static void test_unknown_refused_policy(void **state) {
  dns_zone_t *zone = policy_zone(DNS_UNKNOWN_REFUSED);
  (void)state;

  assert_non_null(zone);
  assert_int_equal(
      ask_zone(zone, DNS_TRANSPORT_TCP, "nowhere.example", DNS_TYPE_A, 0),
      DNS_REPLY_SEND);
  assert_int_equal(rcode(), DNS_RCODE_REFUSED);
  assert_int_equal(be16(fx.out, OFF_ANCOUNT), 0);
  assert_int_equal(fx.n, OFF_QUESTION + question_len());
  assert_int_equal(
      ask_zone(zone, DNS_TRANSPORT_UDP, "wipo.int", DNS_TYPE_A, 0),
      DNS_REPLY_SEND);
  assert_one_a((const uint8_t[]){193, 5, 93, 80});
  dns_zone_free(zone);
}

static void test_unknown_forward_policy_writes_nothing(void **state) {
  dns_zone_t *zone = policy_zone(DNS_UNKNOWN_FORWARD);
  (void)state;

  assert_non_null(zone);
  memset(fx.out, 0xa5, 64);
  fx.n = 99;
  assert_int_equal(
      ask_zone(zone, DNS_TRANSPORT_UDP, "nowhere.example", DNS_TYPE_A, 0),
      DNS_REPLY_FORWARD);
  assert_int_equal(fx.n, 0);
  for (size_t i = 0; i < 64; i++)
    assert_int_equal(fx.out[i], 0xa5);
  /* Every type is forwarded for an unknown name ... */
  assert_int_equal(
      ask_zone(zone, DNS_TRANSPORT_TCP, "nowhere.example", DNS_TYPE_MX, 0),
      DNS_REPLY_FORWARD);
  /* ... known names are answered, and errors are still ours to answer. */
  assert_int_equal(
      ask_zone(zone, DNS_TRANSPORT_UDP, "facebook.com", DNS_TYPE_MX, 0),
      DNS_REPLY_SEND);
  assert_nodata();
  fx.qlen = make_query(fx.q, "nowhere.example", DNS_TYPE_A, 0);
  fx.q[OFF_QDCOUNT + 1] = 2;
  assert_int_equal(dns_zone_answer(zone, DNS_TRANSPORT_UDP, fx.q, fx.qlen,
                                   fx.out, sizeof(fx.out), &fx.n),
                   DNS_REPLY_SEND);
  assert_int_equal(rcode(), DNS_RCODE_FORMERR);
  dns_zone_free(zone);
}

static void test_unknown_answer_policy_per_family(void **state) {
  dns_zone_options_t opts;
  const uint8_t u4a[4] = {192, 0, 2, 100}, u4b[4] = {192, 0, 2, 101};
  const uint8_t u6[16] = {0xfd, 0, [15] = 1};
  (void)state;

  dns_zone_options_default(&opts);
  opts.ttl = 300;
  opts.n_unknown_addrs = 3;
  opts.unknown_addrs[0].family = 4;
  memcpy(opts.unknown_addrs[0].addr, u4a, 4);
  opts.unknown_addrs[1].family = 6;
  memcpy(opts.unknown_addrs[1].addr, u6, 16);
  opts.unknown_addrs[2].family = 4;
  memcpy(opts.unknown_addrs[2].addr, u4b, 4);
  dns_zone_t *zone = dns_zone_new(dns_map_new(), &opts);
  assert_non_null(zone);
  assert_int_equal(dns_zone_names(zone), 0);

  assert_int_equal(ask_zone(zone, DNS_TRANSPORT_UDP, "x.test", DNS_TYPE_A, 0),
                   DNS_REPLY_SEND);
  assert_int_equal(be16(fx.out, OFF_ANCOUNT), 2);
  assert_memory_equal(nth_rdata(A_RR, 0), u4a, 4);
  assert_memory_equal(nth_rdata(A_RR, 1), u4b, 4);
  assert_int_equal(be16(fx.out, OFF_QUESTION + question_len() + 8), 300);

  assert_int_equal(
      ask_zone(zone, DNS_TRANSPORT_UDP, "x.test", DNS_TYPE_AAAA, 0),
      DNS_REPLY_SEND);
  assert_int_equal(be16(fx.out, OFF_ANCOUNT), 1);
  assert_memory_equal(nth_rdata(AAAA_RR, 0), u6, 16);

  assert_int_equal(
      ask_zone(zone, DNS_TRANSPORT_UDP, "x.test", DNS_TYPE_ANY, 0),
      DNS_REPLY_SEND);
  assert_int_equal(be16(fx.out, OFF_ANCOUNT), 3);
  assert_int_equal(fx.n, OFF_QUESTION + question_len() + 2 * A_RR + AAAA_RR);
  dns_zone_free(zone);

  /* Only IPv6: A becomes NODATA. No address at all: NODATA for both. */
  opts.n_unknown_addrs = 1;
  opts.unknown_addrs[0] = opts.unknown_addrs[1];
  zone = dns_zone_new(dns_map_new(), &opts);
  assert_non_null(zone);
  assert_int_equal(ask_zone(zone, DNS_TRANSPORT_UDP, "x.test", DNS_TYPE_A, 0),
                   DNS_REPLY_SEND);
  assert_nodata();
  dns_zone_free(zone);

  opts.n_unknown_addrs = 0;
  zone = dns_zone_new(dns_map_new(), &opts);
  assert_non_null(zone);
  assert_int_equal(ask_zone(zone, DNS_TRANSPORT_UDP, "x.test", DNS_TYPE_A, 0),
                   DNS_REPLY_SEND);
  assert_nodata();
  dns_zone_free(zone);
}

/* --- size limits and transports --- */

static void assert_truncated(bool with_opt) {
  unsigned flags = be16(fx.out, OFF_FLAGS);
  assert_true(flags & FLAG_TC);
  assert_int_equal(flags & RCODE_MASK, DNS_RCODE_NOERROR);
  assert_int_equal(be16(fx.out, OFF_QDCOUNT), 1);
  assert_int_equal(be16(fx.out, OFF_ANCOUNT), 0);
  assert_int_equal(be16(fx.out, OFF_ARCOUNT), with_opt ? 1 : 0);
  assert_int_equal(fx.n,
                   OFF_QUESTION + question_len() + (with_opt ? OPT_RR : 0));
}

static void test_forty_addresses_truncate_over_plain_udp(void **state) {
  (void)state;

  /* 40 A: header 12 + question 18 + 40 * 16 = 670 bytes, over 512. */
  ask("many.example", DNS_TYPE_A, 0);
  assert_truncated(false);
}

static void test_forty_addresses_truncate_over_small_edns(void **state) {
  (void)state;

  /* EDNS 512 (and anything below is read as 512): still too small, and
   * the truncated reply keeps its OPT. */
  ask("many.example", DNS_TYPE_A, 512);
  assert_truncated(true);
  ask("many.example", DNS_TYPE_A, 100);
  assert_truncated(true);
  /* 680 is one byte short of 12 + 18 + 640 + 11. */
  ask("many.example", DNS_TYPE_A, 680);
  assert_truncated(true);
}

static void test_forty_addresses_fit_in_edns_1232(void **state) {
  (void)state;

  ask("many.example", DNS_TYPE_A, 681);
  assert_int_equal(fx.n, 681);
  assert_int_equal(be16(fx.out, OFF_ANCOUNT), 40);
  ask("many.example", DNS_TYPE_A, 4096); /* clamped to 1232 */
  assert_int_equal(be16(fx.out, OFF_ANCOUNT), 40);
  assert_false(be16(fx.out, OFF_FLAGS) & FLAG_TC);
  /* ANY: 40 * 16 + 40 * 28 = 1760 bytes of answers, over 1232. */
  ask("many.example", DNS_TYPE_ANY, 4096);
  assert_truncated(true);
}

static void test_forty_addresses_come_complete_over_tcp(void **state) {
  uint8_t a[4], a6[16];
  (void)state;

  /* Without EDNS, where UDP would allow only 512. */
  assert_int_equal(ask_zone(fx.zone, DNS_TRANSPORT_TCP, "many.example",
                            DNS_TYPE_ANY, 0),
                   DNS_REPLY_SEND);
  assert_false(be16(fx.out, OFF_FLAGS) & FLAG_TC);
  assert_int_equal(be16(fx.out, OFF_ANCOUNT), 80);
  size_t at = OFF_QUESTION + question_len();
  assert_int_equal(fx.n, at + 40 * A_RR + 40 * AAAA_RR);
  for (unsigned i = 0; i < 40; i++) {
    many_addr(i, a, a6);
    assert_memory_equal(fx.out + at + i * A_RR + RR_FIXED, a, 4);
    assert_memory_equal(fx.out + at + 40 * A_RR + i * AAAA_RR + RR_FIXED, a6,
                        16);
  }
  /* And with EDNS, the OPT follows the answers. */
  assert_int_equal(ask_zone(fx.zone, DNS_TRANSPORT_TCP, "many.example",
                            DNS_TYPE_A, 512),
                   DNS_REPLY_SEND);
  assert_int_equal(be16(fx.out, OFF_ANCOUNT), 40);
  assert_int_equal(fx.n, OFF_QUESTION + question_len() + 40 * A_RR + OPT_RR);
  assert_int_equal(fx.out[fx.n - OPT_RR], 0);
  assert_int_equal(be16(fx.out, fx.n - OPT_RR + 1), DNS_TYPE_OPT);
}

static void test_cap_smaller_than_the_limit_truncates(void **state) {
  uint8_t small[300];
  (void)state;

  fx.qlen = make_query(fx.q, "many.example", DNS_TYPE_A, 0);
  assert_int_equal(dns_zone_answer(fx.zone, DNS_TRANSPORT_TCP, fx.q, fx.qlen,
                                   small, sizeof(small), &fx.n),
                   DNS_REPLY_SEND);
  memcpy(fx.out, small, fx.n);
  assert_truncated(false);
  /* Too small for even the question: nothing to send. */
  assert_int_equal(dns_zone_answer(fx.zone, DNS_TRANSPORT_TCP, fx.q, fx.qlen,
                                   small, 20, &fx.n),
                   DNS_REPLY_DROP);
  assert_int_equal(fx.n, 0);
}

static void test_largest_possible_answer_fits_over_tcp(void **state) {
  dns_zone_options_t opts;
  dns_map_t *map = dns_map_new();
  char name[300];
  (void)state;

  /* The longest name (255 octets) with the most addresses, all AAAA, and
   * an OPT: the bound in dns_map.h promises this still fits. */
  memset(name, 'z', 253);
  name[63] = name[127] = name[191] = '.';
  name[253] = '\0';
  assert_non_null(map);
  for (unsigned i = 0; i < DNS_MAP_MAX_ADDRS; i++) {
    uint8_t a6[16] = {0x20, 0x01, [14] = (uint8_t)(i >> 8), [15] = (uint8_t)i};
    assert_int_equal(dns_map_add(map, name, 6, a6), 0);
  }
  dns_zone_options_default(&opts);
  dns_zone_t *zone = dns_zone_new(map, &opts);
  assert_non_null(zone);
  assert_int_equal(
      ask_zone(zone, DNS_TRANSPORT_TCP, name, DNS_TYPE_ANY, 1232),
      DNS_REPLY_SEND);
  assert_int_equal(be16(fx.out, OFF_ANCOUNT), DNS_MAP_MAX_ADDRS);
  assert_int_equal(fx.n, OFF_QUESTION + 259 +
                             (size_t)DNS_MAP_MAX_ADDRS * AAAA_RR + OPT_RR);
  assert_true(fx.n <= DNS_MAX_MESSAGE);
  dns_zone_free(zone);
}

/* --- EDNS and errors --- */

static void test_opt_present_only_when_the_query_had_one(void **state) {
  (void)state;

  ask("dual.example", DNS_TYPE_A, 0);
  assert_int_equal(be16(fx.out, OFF_ARCOUNT), 0);
  assert_int_equal(fx.n, OFF_QUESTION + question_len() + A_RR);

  ask("dual.example", DNS_TYPE_A, 1400);
  assert_int_equal(be16(fx.out, OFF_ARCOUNT), 1);
  assert_int_equal(fx.n, OFF_QUESTION + question_len() + A_RR + OPT_RR);
  const uint8_t opt[] = {0x00, 0x00, 0x29, 0x04, 0xd0, 0, 0, 0, 0, 0, 0};
  assert_memory_equal(fx.out + fx.n - OPT_RR, opt, OPT_RR);
  /* NODATA with EDNS keeps it too. */
  ask("dual.example", DNS_TYPE_MX, 1400);
  assert_int_equal(be16(fx.out, OFF_ARCOUNT), 1);
  assert_int_equal(fx.n, OFF_QUESTION + question_len() + OPT_RR);
}

static void test_do_bit_is_echoed(void **state) {
  (void)state;

  fx.qlen = make_query(fx.q, "dual.example", DNS_TYPE_A, 1232);
  fx.q[fx.qlen - 4] = 0x80; /* DO, in the OPT TTL's third byte */
  assert_int_equal(dns_zone_answer(fx.zone, DNS_TRANSPORT_UDP, fx.q, fx.qlen,
                                   fx.out, sizeof(fx.out), &fx.n),
                   DNS_REPLY_SEND);
  assert_int_equal(be16(fx.out, OFF_ANCOUNT), 1);
  assert_int_equal(fx.out[fx.n - 4], 0x80);
}

static void test_edns_version_1_gets_badvers(void **state) {
  (void)state;

  fx.qlen = make_query(fx.q, "dual.example", DNS_TYPE_A, 1232);
  fx.q[fx.qlen - 5] = 1; /* VERSION, in the OPT TTL's second byte */
  assert_int_equal(dns_zone_answer(fx.zone, DNS_TRANSPORT_UDP, fx.q, fx.qlen,
                                   fx.out, sizeof(fx.out), &fx.n),
                   DNS_REPLY_SEND);
  /* BADVERS is 16: 0 in the header's four bits, 1 in the OPT's upper. */
  const uint8_t opt[] = {0x00, 0x00, 0x29, 0x04, 0xd0, 0x01, 0, 0, 0, 0, 0};
  assert_int_equal(rcode(), 0);
  assert_int_equal(be16(fx.out, OFF_ANCOUNT), 0);
  assert_int_equal(fx.n, OFF_QUESTION + question_len() + OPT_RR);
  assert_memory_equal(fx.out + fx.n - OPT_RR, opt, OPT_RR);
}

static void test_malformed_queries_get_error_replies(void **state) {
  (void)state;

  /* QDCOUNT 2: FORMERR. */
  fx.qlen = make_query(fx.q, "facebook.com", DNS_TYPE_A, 0);
  fx.q[OFF_QDCOUNT + 1] = 2;
  assert_int_equal(dns_zone_answer(fx.zone, DNS_TRANSPORT_UDP, fx.q, fx.qlen,
                                   fx.out, sizeof(fx.out), &fx.n),
                   DNS_REPLY_SEND);
  assert_int_equal(rcode(), DNS_RCODE_FORMERR);
  assert_int_equal(be16(fx.out, OFF_ANCOUNT), 0);

  /* Opcode 2 (STATUS): NOTIMP. */
  fx.qlen = make_query(fx.q, "facebook.com", DNS_TYPE_A, 0);
  fx.q[OFF_FLAGS] |= 2 << 3;
  assert_int_equal(dns_zone_answer(fx.zone, DNS_TRANSPORT_UDP, fx.q, fx.qlen,
                                   fx.out, sizeof(fx.out), &fx.n),
                   DNS_REPLY_SEND);
  assert_int_equal(rcode(), DNS_RCODE_NOTIMP);

  /* Class CH: REFUSED. */
  fx.qlen = make_query(fx.q, "facebook.com", DNS_TYPE_A, 0);
  fx.q[fx.qlen - 1] = 3;
  assert_int_equal(dns_zone_answer(fx.zone, DNS_TRANSPORT_UDP, fx.q, fx.qlen,
                                   fx.out, sizeof(fx.out), &fx.n),
                   DNS_REPLY_SEND);
  assert_int_equal(rcode(), DNS_RCODE_REFUSED);
  assert_int_equal(be16(fx.out, OFF_ANCOUNT), 0);

  /* A compression pointer loop as the QNAME: FORMERR, no question. */
  const uint8_t loop[] = {0x77, 0x77, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0,
                          0xc0, 0x0c, 0x00, 0x01, 0x00, 0x01};
  assert_int_equal(dns_zone_answer(fx.zone, DNS_TRANSPORT_UDP, loop,
                                   sizeof(loop), fx.out, sizeof(fx.out),
                                   &fx.n),
                   DNS_REPLY_SEND);
  assert_int_equal(rcode(), DNS_RCODE_FORMERR);
  assert_int_equal(be16(fx.out, OFF_ID), 0x7777);
  assert_int_equal(fx.n, DNS_HEADER_SIZE);
}

static void test_short_packets_and_responses_are_dropped(void **state) {
  (void)state;

  fx.n = 99;
  assert_int_equal(dns_zone_answer(fx.zone, DNS_TRANSPORT_UDP, fx.q, 11,
                                   fx.out, sizeof(fx.out), &fx.n),
                   DNS_REPLY_DROP);
  assert_int_equal(fx.n, 0);
  fx.qlen = make_query(fx.q, "facebook.com", DNS_TYPE_A, 0);
  fx.q[OFF_FLAGS] |= 0x80; /* QR */
  assert_int_equal(dns_zone_answer(fx.zone, DNS_TRANSPORT_TCP, fx.q, fx.qlen,
                                   fx.out, sizeof(fx.out), &fx.n),
                   DNS_REPLY_DROP);
  assert_int_equal(fx.n, 0);
}

/* --- equivalence with the record-by-record builder --- */

static void test_zone_bytes_equal_dns_build_response(void **state) {
  dns_rr_t rrs[80];
  uint8_t a[40][4], a6[40][16];
  uint8_t expected[DNS_MAX_MESSAGE];
  static const uint16_t sizes[] = {0, 512, 1232};
  (void)state;

  for (unsigned i = 0; i < 40; i++) {
    many_addr(i, a[i], a6[i]);
    rrs[i] = (dns_rr_t){DNS_TYPE_A, 4, a[i]};
    rrs[40 + i] = (dns_rr_t){DNS_TYPE_AAAA, 16, a6[i]};
  }
  /* Every transport and EDNS size, answers fitting or truncated. */
  for (size_t s = 0; s < ARRAY_LEN(sizes); s++) {
    for (int tcp = 0; tcp <= 1; tcp++) {
      dns_transport_t t = tcp ? DNS_TRANSPORT_TCP : DNS_TRANSPORT_UDP;
      struct {
        uint16_t qtype;
        const dns_rr_t *rrs;
        size_t n;
      } cases[] = {
          {DNS_TYPE_A, rrs, 40},
          {DNS_TYPE_AAAA, rrs + 40, 40},
          {DNS_TYPE_ANY, rrs, 80},
          {DNS_TYPE_MX, NULL, 0},
      };
      for (size_t c = 0; c < ARRAY_LEN(cases); c++) {
        assert_int_equal(ask_zone(fx.zone, t, "Many.Example", cases[c].qtype,
                                  sizes[s]),
                         DNS_REPLY_SEND);
        dns_query_t q;
        assert_int_equal(dns_parse_query(fx.q, fx.qlen, &q), DNS_PARSE_OK);
        size_t limit = tcp ? DNS_MAX_MESSAGE : dns_udp_limit(&q);
        size_t n = build_expected(fx.q, fx.qlen, cases[c].rrs, cases[c].n,
                                  limit, expected);
        assert_int_equal(fx.n, n);
        assert_memory_equal(fx.out, expected, n);
      }
    }
  }

  /* A single record, through a wildcard. */
  ask("host.six.example", DNS_TYPE_AAAA, 1232);
  rrs[0] = (dns_rr_t){DNS_TYPE_AAAA, 16, v6_addr};
  size_t n = build_expected(fx.q, fx.qlen, rrs, 1, 1232, expected);
  assert_int_equal(fx.n, n);
  assert_memory_equal(fx.out, expected, n);
}

/* --- the health name (--health-name) --- */

static dns_reply_t ask_draining(const dns_zone_t *zone, dns_transport_t t,
                                const char *name, uint16_t qtype) {
  fx.qlen = make_query(fx.q, name, qtype, 0);
  return dns_zone_answer_draining(zone, t, fx.q, fx.qlen, fx.out,
                                  sizeof(fx.out), &fx.n);
}

static void test_health_name_fails_only_while_draining(void **state) {
  dns_zone_options_t opts;
  (void)state;

  dns_zone_options_default(&opts);
  opts.unknown = DNS_UNKNOWN_NXDOMAIN;
  strcpy(opts.health_name, "Health.dnsort.test.");
  dns_map_t *map = dns_map_new_default();
  assert_non_null(map);
  /* A wildcard above it: the health name itself must still be told
   * apart from the names the wildcard answers. */
  assert_int_equal(dns_map_add(map, "*.dnsort.test", 4,
                               (const uint8_t[]){192, 0, 2, 7}),
                   0);
  dns_zone_t *zone = dns_zone_new(map, &opts);
  assert_non_null(zone);
  assert_int_equal(dns_zone_names(zone), 5);

  /* Serving: A 127.0.0.1, any case; AAAA is NODATA. */
  assert_int_equal(ask_zone(zone, DNS_TRANSPORT_UDP, "health.DNSORT.test",
                            DNS_TYPE_A, 0),
                   DNS_REPLY_SEND);
  assert_one_a(localhost);
  assert_int_equal(ask_zone(zone, DNS_TRANSPORT_TCP, "health.dnsort.test",
                            DNS_TYPE_AAAA, 0),
                   DNS_REPLY_SEND);
  assert_nodata();

  /* Draining: SERVFAIL for it, over both transports and for any type... */
  assert_int_equal(ask_draining(zone, DNS_TRANSPORT_UDP, "HEALTH.dnsort.test",
                                DNS_TYPE_A),
                   DNS_REPLY_SEND);
  assert_int_equal(rcode(), DNS_RCODE_SERVFAIL);
  assert_int_equal(be16(fx.out, OFF_ANCOUNT), 0);
  assert_int_equal(ask_draining(zone, DNS_TRANSPORT_TCP, "health.dnsort.test",
                                DNS_TYPE_AAAA),
                   DNS_REPLY_SEND);
  assert_int_equal(rcode(), DNS_RCODE_SERVFAIL);
  /* ...and every other name as before: map, wildcard, unknown. */
  assert_int_equal(ask_draining(zone, DNS_TRANSPORT_UDP, "wipo.int",
                                DNS_TYPE_A),
                   DNS_REPLY_SEND);
  assert_one_a((const uint8_t[]){193, 5, 93, 80});
  assert_int_equal(ask_draining(zone, DNS_TRANSPORT_UDP, "x.health.dnsort.test",
                                DNS_TYPE_A),
                   DNS_REPLY_SEND);
  assert_one_a((const uint8_t[]){192, 0, 2, 7});
  assert_int_equal(ask_draining(zone, DNS_TRANSPORT_UDP, "nowhere.example",
                                DNS_TYPE_A),
                   DNS_REPLY_SEND);
  assert_int_equal(rcode(), DNS_RCODE_NXDOMAIN);
  dns_zone_free(zone);
}

static void test_without_health_name_draining_answers_as_usual(void **state) {
  (void)state;

  /* The fixture zone has no health name; unknown names get 127.0.0.1. */
  assert_int_equal(ask_draining(fx.zone, DNS_TRANSPORT_UDP, "nowhere.example",
                                DNS_TYPE_A),
                   DNS_REPLY_SEND);
  assert_one_a(localhost);
  assert_int_equal(ask_draining(fx.zone, DNS_TRANSPORT_TCP, "yougov.com",
                                DNS_TYPE_A),
                   DNS_REPLY_SEND);
  assert_one_a((const uint8_t[]){213, 52, 133, 246});
}

static void test_health_name_keeps_the_maps_addresses(void **state) {
  dns_zone_options_t opts;
  (void)state;

  /* A name the map holds: 127.0.0.1 is added after its addresses. */
  dns_zone_options_default(&opts);
  strcpy(opts.health_name, "wipo.int");
  dns_zone_t *zone = dns_zone_new(dns_map_new_default(), &opts);
  assert_non_null(zone);
  assert_int_equal(dns_zone_names(zone), 3);
  assert_int_equal(ask_zone(zone, DNS_TRANSPORT_UDP, "wipo.int", DNS_TYPE_A, 0),
                   DNS_REPLY_SEND);
  assert_int_equal(be16(fx.out, OFF_ANCOUNT), 2);
  assert_memory_equal(nth_rdata(A_RR, 0), ((const uint8_t[]){193, 5, 93, 80}),
                      4);
  assert_memory_equal(nth_rdata(A_RR, 1), localhost, 4);
  dns_zone_free(zone);
}

/* --- building --- */

static void test_invalid_options_are_refused_and_the_map_freed(void **state) {
  dns_zone_options_t opts;
  (void)state;

  /* Each dns_zone_new below must free its map (the leak checkers see). */
  dns_zone_options_default(&opts);
  opts.ttl = 2147483648u;
  assert_non_null(dns_zone_options_check(&opts));
  assert_null(dns_zone_new(dns_map_new_default(), &opts));

  dns_zone_options_default(&opts);
  opts.n_unknown_addrs = DNS_ZONE_MAX_UNKNOWN_ADDRS + 1;
  assert_non_null(dns_zone_options_check(&opts));
  assert_null(dns_zone_new(dns_map_new_default(), &opts));

  dns_zone_options_default(&opts);
  opts.unknown_addrs[0].family = 5;
  assert_non_null(dns_zone_options_check(&opts));
  assert_null(dns_zone_new(dns_map_new_default(), &opts));

  dns_zone_options_default(&opts);
  opts.unknown = (dns_unknown_t)42;
  assert_non_null(dns_zone_options_check(&opts));
  assert_null(dns_zone_new(dns_map_new_default(), &opts));

  const char *bad_health[] = {"*.dnsort.test", "*", "a..b", "."};
  for (size_t i = 0; i < sizeof(bad_health) / sizeof(bad_health[0]); i++) {
    dns_zone_options_default(&opts);
    strcpy(opts.health_name, bad_health[i]);
    assert_non_null(dns_zone_options_check(&opts));
    assert_null(dns_zone_new(dns_map_new_default(), &opts));
  }
  /* Not terminated within the array. */
  dns_zone_options_default(&opts);
  memset(opts.health_name, 'a', sizeof(opts.health_name));
  assert_non_null(dns_zone_options_check(&opts));
  assert_null(dns_zone_new(dns_map_new_default(), &opts));

  assert_non_null(dns_zone_options_check(NULL));
  assert_null(dns_zone_new(dns_map_new_default(), NULL));
  dns_zone_options_default(&opts);
  assert_null(dns_zone_new(NULL, &opts));

  opts.ttl = 2147483647u;
  assert_null(dns_zone_options_check(&opts));
  dns_zone_free(NULL);
  assert_int_equal(dns_zone_names(NULL), 0);
}

static void test_zone_counts_its_names(void **state) {
  (void)state;

  /* 3 seed names, many, dual, only6, 3 wildcards, exact, example.com. */
  assert_int_equal(dns_zone_names(fx.zone), 11);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_options_default_to_the_seed),
      cmocka_unit_test(test_seed_plain_query_gets_the_seeds_exact_reply),
      cmocka_unit_test(test_seed_dig_query_gets_answer_and_opt),
      cmocka_unit_test(test_seed_names_get_their_addresses_ttl_60),
      cmocka_unit_test(test_seed_unknown_name_gets_localhost),
      cmocka_unit_test(test_seed_aaaa_is_nodata),
      cmocka_unit_test(test_header_echoes_id_and_rd_sets_aa_not_ra),
      cmocka_unit_test(test_mixed_case_is_matched_and_echoed_as_sent),
      cmocka_unit_test(test_a_aaaa_and_any_for_a_dual_name),
      cmocka_unit_test(test_a_for_a_name_with_only_aaaa_is_nodata),
      cmocka_unit_test(test_other_types_are_nodata),
      cmocka_unit_test(test_addresses_come_in_insertion_order),
      cmocka_unit_test(test_wildcard_matches_a_name_below_its_base),
      cmocka_unit_test(test_exact_name_beats_wildcard),
      cmocka_unit_test(test_most_specific_wildcard_wins),
      cmocka_unit_test(test_wildcard_does_not_match_its_base_name),
      cmocka_unit_test(test_example_com_itself_is_its_own_entry),
      cmocka_unit_test(test_literal_star_query_gets_the_wildcard),
      cmocka_unit_test(test_wildcard_with_only_aaaa_gives_nodata_for_a),
      cmocka_unit_test(test_star_alone_matches_every_name_below_the_root),
      cmocka_unit_test(test_deepest_names_probe_wildcards_correctly),
      cmocka_unit_test(test_unknown_nxdomain_policy),
      cmocka_unit_test(test_unknown_refused_policy),
      cmocka_unit_test(test_unknown_forward_policy_writes_nothing),
      cmocka_unit_test(test_unknown_answer_policy_per_family),
      cmocka_unit_test(test_forty_addresses_truncate_over_plain_udp),
      cmocka_unit_test(test_forty_addresses_truncate_over_small_edns),
      cmocka_unit_test(test_forty_addresses_fit_in_edns_1232),
      cmocka_unit_test(test_forty_addresses_come_complete_over_tcp),
      cmocka_unit_test(test_cap_smaller_than_the_limit_truncates),
      cmocka_unit_test(test_largest_possible_answer_fits_over_tcp),
      cmocka_unit_test(test_opt_present_only_when_the_query_had_one),
      cmocka_unit_test(test_do_bit_is_echoed),
      cmocka_unit_test(test_edns_version_1_gets_badvers),
      cmocka_unit_test(test_malformed_queries_get_error_replies),
      cmocka_unit_test(test_short_packets_and_responses_are_dropped),
      cmocka_unit_test(test_zone_bytes_equal_dns_build_response),
      cmocka_unit_test(test_health_name_fails_only_while_draining),
      cmocka_unit_test(test_without_health_name_draining_answers_as_usual),
      cmocka_unit_test(test_health_name_keeps_the_maps_addresses),
      cmocka_unit_test(test_invalid_options_are_refused_and_the_map_freed),
      cmocka_unit_test(test_zone_counts_its_names),
  };
  return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
