/* dns_answer: the responder's policy, from query bytes to reply bytes. */
#include "test_util.h"

#include "dns_answer.h"
#include "dns_wire.h"

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
#define RR_FIXED 12 /* compressed owner, type, class, TTL, rdlen */

/* dig 9.18 "dig +noedns facebook.com". */
static const uint8_t q_facebook_plain[] = {
    0xbe, 0xef,             /* ID */
    0x01, 0x00,             /* RD */
    0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    8, 'f', 'a', 'c', 'e', 'b', 'o', 'o', 'k', 3, 'c', 'o', 'm', 0,
    0x00, 0x01,             /* A */
    0x00, 0x01,             /* IN */
};

/* dig 9.18 "dig facebook.com": AD, OPT 1232 with a client COOKIE. */
static const uint8_t q_facebook_dig[] = {
    0x4a, 0x1d, 0x01, 0x20, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01,
    8, 'f', 'a', 'c', 'e', 'b', 'o', 'o', 'k', 3, 'c', 'o', 'm', 0,
    0x00, 0x01, 0x00, 0x01,
    0x00, 0x00, 0x29, 0x04, 0xd0, 0x00, 0x00, 0x00, 0x00, 0x00, 0x0c,
    0x00, 0x0a, 0x00, 0x08, 0x4e, 0x1a, 0x5c, 0x93, 0x2d, 0x0b, 0x77, 0x01,
};

/* The exact reply to q_facebook_plain. */
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

static const uint8_t v6_addr[16] = {0x20, 0x01, 0x0d, 0xb8, [15] = 0x42};

typedef struct {
  dns_map_t *map;
  dns_answer_config_t cfg;
  uint8_t out[DNS_MAX_MESSAGE];
} fixture_t;

static fixture_t fx;

/* The seed map plus: many.example with 40 A, huge.example with 100 A,
 * dual.example with an A and an AAAA, only6.example with an AAAA alone. */
static int group_setup(void **state) {
  (void)state;
  fx.map = dns_map_new_default();
  if (fx.map == NULL)
    return -1;
  for (unsigned i = 0; i < 100; i++) {
    uint8_t a[4] = {10, 1, 0, (uint8_t)i};
    if ((i < 40 && dns_map_add(fx.map, "many.example", 4, a) != 0) ||
        dns_map_add(fx.map, "huge.example", 4, a) != 0)
      return -1;
  }
  static const uint8_t dual_a[4] = {192, 0, 2, 1};
  if (dns_map_add(fx.map, "dual.example", 4, dual_a) != 0 ||
      dns_map_add(fx.map, "dual.example", 6, v6_addr) != 0 ||
      dns_map_add(fx.map, "only6.example", 6, v6_addr) != 0)
    return -1;
  fx.cfg = (dns_answer_config_t){fx.map, 60, {127, 0, 0, 1}};
  return 0;
}

static int group_teardown(void **state) {
  (void)state;
  dns_map_free(fx.map);
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

static size_t answer(const uint8_t *pkt, size_t len) {
  return dns_answer(&fx.cfg, pkt, len, fx.out, sizeof(fx.out));
}

/* The rdata of the i-th answer of a reply with one question of qlen bytes
 * and answers of equal rdlen. */
static const uint8_t *nth_rdata(size_t qlen, size_t rdlen, size_t i) {
  return fx.out + OFF_QUESTION + qlen + i * (RR_FIXED + rdlen) + RR_FIXED;
}

static void test_plain_query_gets_exact_reply(void **state) {
  (void)state;

  size_t n = answer(q_facebook_plain, sizeof(q_facebook_plain));
  assert_int_equal(n, sizeof(r_facebook_plain));
  assert_memory_equal(fx.out, r_facebook_plain, sizeof(r_facebook_plain));
}

static void test_dig_query_with_edns_gets_answer_and_opt(void **state) {
  const uint8_t opt[] = {0x00, 0x00, 0x29, 0x04, 0xd0, 0, 0, 0, 0, 0, 0};
  (void)state;

  size_t n = answer(q_facebook_dig, sizeof(q_facebook_dig));
  assert_int_equal(n, sizeof(r_facebook_plain) + sizeof(opt));
  assert_int_equal(be16(fx.out, OFF_ID), 0x4a1d);
  assert_int_equal(be16(fx.out, OFF_FLAGS), FLAG_QR | FLAG_AA | FLAG_RD);
  assert_int_equal(be16(fx.out, OFF_ANCOUNT), 1);
  assert_int_equal(be16(fx.out, OFF_ARCOUNT), 1);
  /* Past the header, the same as the plain reply, then our OPT. */
  assert_memory_equal(fx.out + 12, r_facebook_plain + 12,
                      sizeof(r_facebook_plain) - 12);
  assert_memory_equal(fx.out + sizeof(r_facebook_plain), opt, sizeof(opt));
}

static void test_reply_echoes_id_and_rd_and_sets_aa_not_ra(void **state) {
  uint8_t p[sizeof(q_facebook_plain)];
  (void)state;

  memcpy(p, q_facebook_plain, sizeof(p));
  p[0] = 0x00;
  p[1] = 0x01;
  p[2] = 0x00; /* RD clear */
  assert_int_equal(answer(p, sizeof(p)), sizeof(r_facebook_plain));
  assert_int_equal(be16(fx.out, OFF_ID), 0x0001);
  assert_int_equal(be16(fx.out, OFF_FLAGS), FLAG_QR | FLAG_AA);
  assert_int_equal(be16(fx.out, OFF_FLAGS) & FLAG_RA, 0);
}

static void test_ttl_is_60_seconds(void **state) {
  const uint8_t ttl60[] = {0x00, 0x00, 0x00, 0x3c};
  (void)state;

  size_t n = answer(q_facebook_plain, sizeof(q_facebook_plain));
  /* TTL sits 10 bytes before the end: TTL, RDLEN, 4 bytes of address. */
  assert_memory_equal(fx.out + n - 10, ttl60, 4);
}

static void test_mixed_case_name_is_echoed_and_found(void **state) {
  uint8_t p[512];
  (void)state;

  size_t len = make_query(p, "FaceBook.COM", DNS_TYPE_A, 0);
  size_t n = answer(p, len);
  assert_int_equal(n, len + 16);
  assert_int_equal(be16(fx.out, OFF_ANCOUNT), 1);
  assert_memory_equal(fx.out + OFF_QUESTION, p + OFF_QUESTION,
                      len - OFF_QUESTION);
  assert_memory_equal(fx.out + n - 4, ((uint8_t[]){173, 252, 120, 6}), 4);
}

static void test_unknown_name_gets_127_0_0_1(void **state) {
  uint8_t p[512];
  (void)state;

  size_t len = make_query(p, "nowhere.example", DNS_TYPE_A, 0);
  size_t n = answer(p, len);
  assert_int_equal(n, len + 16);
  assert_int_equal(be16(fx.out, OFF_FLAGS) & 0x000f, DNS_RCODE_NOERROR);
  assert_memory_equal(fx.out + n - 4, ((uint8_t[]){127, 0, 0, 1}), 4);
}

static void test_root_name_is_an_unknown_name(void **state) {
  uint8_t p[512];
  (void)state;

  size_t len = make_query(p, "", DNS_TYPE_A, 0);
  assert_int_equal(len, 12 + 5);
  size_t n = answer(p, len);
  assert_int_equal(n, len + 16);
  assert_memory_equal(fx.out + n - 4, ((uint8_t[]){127, 0, 0, 1}), 4);
}

static void test_aaaa_for_name_without_aaaa_is_nodata(void **state) {
  uint8_t p[512];
  (void)state;

  size_t len = make_query(p, "facebook.com", DNS_TYPE_AAAA, 0);
  assert_int_equal(answer(p, len), len);
  assert_int_equal(be16(fx.out, OFF_FLAGS), FLAG_QR | FLAG_AA | FLAG_RD);
  assert_int_equal(be16(fx.out, OFF_QDCOUNT), 1);
  assert_int_equal(be16(fx.out, OFF_ANCOUNT), 0);
}

static void test_aaaa_for_unknown_name_is_nodata(void **state) {
  uint8_t p[512];
  (void)state;

  size_t len = make_query(p, "nowhere.example", DNS_TYPE_AAAA, 0);
  assert_int_equal(answer(p, len), len);
  assert_int_equal(be16(fx.out, OFF_ANCOUNT), 0);
}

static void test_aaaa_for_name_with_aaaa_answers_it(void **state) {
  uint8_t p[512];
  (void)state;

  size_t len = make_query(p, "Only6.Example", DNS_TYPE_AAAA, 0);
  size_t n = answer(p, len);
  assert_int_equal(n, len + RR_FIXED + 16);
  assert_int_equal(be16(fx.out, OFF_ANCOUNT), 1);
  assert_int_equal(be16(fx.out, len + 2), DNS_TYPE_AAAA);
  assert_int_equal(be16(fx.out, len + 10), 16);
  assert_memory_equal(fx.out + n - 16, v6_addr, 16);
}

static void test_a_for_name_with_only_aaaa_is_nodata(void **state) {
  uint8_t p[512];
  (void)state;

  size_t len = make_query(p, "only6.example", DNS_TYPE_A, 0);
  assert_int_equal(answer(p, len), len);
  assert_int_equal(be16(fx.out, OFF_ANCOUNT), 0);
}

static void test_mx_and_txt_are_nodata(void **state) {
  uint8_t p[512];
  (void)state;

  size_t len = make_query(p, "facebook.com", DNS_TYPE_MX, 0);
  assert_int_equal(answer(p, len), len);
  assert_int_equal(be16(fx.out, OFF_FLAGS) & 0x000f, DNS_RCODE_NOERROR);
  assert_int_equal(be16(fx.out, OFF_ANCOUNT), 0);

  len = make_query(p, "nowhere.example", DNS_TYPE_TXT, 0);
  assert_int_equal(answer(p, len), len);
  assert_int_equal(be16(fx.out, OFF_ANCOUNT), 0);
}

static void test_any_returns_the_a_record(void **state) {
  uint8_t p[512];
  (void)state;

  size_t len = make_query(p, "facebook.com", DNS_TYPE_ANY, 0);
  size_t n = answer(p, len);
  assert_int_equal(n, len + 16);
  assert_int_equal(be16(fx.out, len + 2), DNS_TYPE_A);
  assert_memory_equal(fx.out + n - 4, ((uint8_t[]){173, 252, 120, 6}), 4);

  len = make_query(p, "nowhere.example", DNS_TYPE_ANY, 0);
  n = answer(p, len);
  assert_int_equal(n, len + 16);
  assert_memory_equal(fx.out + n - 4, ((uint8_t[]){127, 0, 0, 1}), 4);
}

static void test_any_returns_a_then_aaaa(void **state) {
  uint8_t p[512];
  (void)state;

  size_t len = make_query(p, "dual.example", DNS_TYPE_ANY, 0);
  size_t n = answer(p, len);
  assert_int_equal(n, len + 16 + 28);
  assert_int_equal(be16(fx.out, OFF_ANCOUNT), 2);
  assert_int_equal(be16(fx.out, len + 2), DNS_TYPE_A);
  assert_int_equal(be16(fx.out, len + 16 + 2), DNS_TYPE_AAAA);
  assert_memory_equal(fx.out + n - 16, v6_addr, 16);
}

static void test_forty_addresses_without_edns_truncate(void **state) {
  uint8_t p[512];
  (void)state;

  /* 12 + 18 + 40 * 16 = 670 > 512. */
  size_t len = make_query(p, "many.example", DNS_TYPE_A, 0);
  size_t n = answer(p, len);
  assert_int_equal(n, len);
  assert_true(be16(fx.out, OFF_FLAGS) & FLAG_TC);
  assert_int_equal(be16(fx.out, OFF_QDCOUNT), 1);
  assert_int_equal(be16(fx.out, OFF_ANCOUNT), 0);
  assert_int_equal(be16(fx.out, OFF_ARCOUNT), 0);
}

static void test_forty_addresses_fit_with_edns_1232(void **state) {
  uint8_t p[512];
  (void)state;

  size_t len = make_query(p, "many.example", DNS_TYPE_A, 1232);
  size_t qlen = len - OFF_QUESTION - 11;
  size_t n = answer(p, len);
  assert_int_equal(n, OFF_QUESTION + qlen + 40 * 16 + 11);
  assert_int_equal(be16(fx.out, OFF_FLAGS) & FLAG_TC, 0);
  assert_int_equal(be16(fx.out, OFF_ANCOUNT), 40);
  assert_int_equal(be16(fx.out, OFF_ARCOUNT), 1);
  for (size_t i = 0; i < 40; i++)
    assert_memory_equal(nth_rdata(qlen, 4, i),
                        ((uint8_t[]){10, 1, 0, (uint8_t)i}), 4);
}

static void test_edns_size_above_1232_is_capped(void **state) {
  uint8_t p[512];
  (void)state;

  /* 100 addresses need 1600 bytes; a client offering 4096 still gets TC
   * because we never send more than 1232. */
  size_t len = make_query(p, "huge.example", DNS_TYPE_A, 4096);
  size_t n = answer(p, len);
  assert_int_equal(n, len);
  assert_true(be16(fx.out, OFF_FLAGS) & FLAG_TC);
  assert_int_equal(be16(fx.out, OFF_ANCOUNT), 0);
  assert_int_equal(be16(fx.out, OFF_ARCOUNT), 1);
}

static void test_reply_never_exceeds_cap(void **state) {
  uint8_t p[512];
  uint8_t small[100];
  (void)state;

  size_t len = make_query(p, "many.example", DNS_TYPE_A, 1232);
  size_t n = dns_answer(&fx.cfg, p, len, small, sizeof(small));
  assert_int_equal(n, len);
  assert_true(((unsigned)small[2] << 8 | small[3]) & FLAG_TC);
  /* Not even the question fits: nothing to send. */
  assert_int_equal(dns_answer(&fx.cfg, p, len, small, 20), 0);
}

static void test_short_packet_and_responses_get_no_reply(void **state) {
  uint8_t p[sizeof(q_facebook_plain)];
  (void)state;

  assert_int_equal(answer(q_facebook_plain, 11), 0);
  memcpy(p, q_facebook_plain, sizeof(p));
  p[2] |= 0x80; /* QR */
  assert_int_equal(answer(p, sizeof(p)), 0);
}

static void test_pointer_in_qname_gets_formerr(void **state) {
  const uint8_t p[] = {
      0x00, 0x09, 0x01, 0x00, 0x00, 0x01, 0, 0, 0, 0, 0, 0,
      0xc0, 0x0c,             /* QNAME: pointer to itself */
      0x00, 0x01, 0x00, 0x01,
  };
  const uint8_t want[] = {
      0x00, 0x09, 0x85, 0x01, /* QR AA RD, FORMERR */
      0, 0, 0, 0, 0, 0, 0, 0, /* no question echoed */
  };
  (void)state;

  assert_int_equal(answer(p, sizeof(p)), sizeof(want));
  assert_memory_equal(fx.out, want, sizeof(want));
}

static void test_broken_opt_gets_formerr_without_opt(void **state) {
  uint8_t p[sizeof(q_facebook_dig)];
  (void)state;

  memcpy(p, q_facebook_dig, sizeof(p));
  p[sizeof(p) - 9] = 0x09; /* COOKIE length 9 > the 8 bytes there */
  size_t n = answer(p, sizeof(p));
  assert_int_equal(n, 12 + 18);
  assert_int_equal(be16(fx.out, OFF_FLAGS) & 0x000f, DNS_RCODE_FORMERR);
  assert_int_equal(be16(fx.out, OFF_ANCOUNT), 0);
  assert_int_equal(be16(fx.out, OFF_ARCOUNT), 0);
}

static void test_opcode_2_gets_notimp(void **state) {
  uint8_t p[sizeof(q_facebook_plain)];
  (void)state;

  memcpy(p, q_facebook_plain, sizeof(p));
  p[2] = 0x11; /* OPCODE 2, RD */
  assert_int_equal(answer(p, sizeof(p)), sizeof(p));
  assert_int_equal(be16(fx.out, OFF_FLAGS),
                   FLAG_QR | 2 << 11 | FLAG_AA | FLAG_RD | DNS_RCODE_NOTIMP);
  assert_int_equal(be16(fx.out, OFF_ANCOUNT), 0);
}

static void test_class_ch_gets_refused_with_question(void **state) {
  uint8_t p[sizeof(q_facebook_plain)];
  (void)state;

  memcpy(p, q_facebook_plain, sizeof(p));
  p[sizeof(p) - 1] = 3; /* CH */
  assert_int_equal(answer(p, sizeof(p)), sizeof(p));
  assert_int_equal(be16(fx.out, OFF_FLAGS) & 0x000f, DNS_RCODE_REFUSED);
  assert_int_equal(be16(fx.out, OFF_QDCOUNT), 1);
  assert_int_equal(be16(fx.out, OFF_ANCOUNT), 0);
  assert_memory_equal(fx.out + OFF_QUESTION, p + OFF_QUESTION, 18);
}

static void test_edns_version_1_gets_badvers_in_opt(void **state) {
  uint8_t p[sizeof(q_facebook_dig)];
  const uint8_t opt[] = {
      0x00, 0x00, 0x29, 0x04, 0xd0,
      0x01, 0x00, 0x00, 0x00, /* TTL: ext rcode 1 (16 >> 4), version 0 */
      0x00, 0x00,
  };
  (void)state;

  memcpy(p, q_facebook_dig, sizeof(p));
  p[12 + 18 + 6] = 1; /* OPT version */
  size_t n = answer(p, sizeof(p));
  assert_int_equal(n, 12 + 18 + sizeof(opt));
  assert_int_equal(be16(fx.out, OFF_FLAGS) & 0x000f, 0);
  assert_int_equal(be16(fx.out, OFF_ANCOUNT), 0);
  assert_int_equal(be16(fx.out, OFF_ARCOUNT), 1);
  assert_memory_equal(fx.out + n - sizeof(opt), opt, sizeof(opt));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_plain_query_gets_exact_reply),
      cmocka_unit_test(test_dig_query_with_edns_gets_answer_and_opt),
      cmocka_unit_test(test_reply_echoes_id_and_rd_and_sets_aa_not_ra),
      cmocka_unit_test(test_ttl_is_60_seconds),
      cmocka_unit_test(test_mixed_case_name_is_echoed_and_found),
      cmocka_unit_test(test_unknown_name_gets_127_0_0_1),
      cmocka_unit_test(test_root_name_is_an_unknown_name),
      cmocka_unit_test(test_aaaa_for_name_without_aaaa_is_nodata),
      cmocka_unit_test(test_aaaa_for_unknown_name_is_nodata),
      cmocka_unit_test(test_aaaa_for_name_with_aaaa_answers_it),
      cmocka_unit_test(test_a_for_name_with_only_aaaa_is_nodata),
      cmocka_unit_test(test_mx_and_txt_are_nodata),
      cmocka_unit_test(test_any_returns_the_a_record),
      cmocka_unit_test(test_any_returns_a_then_aaaa),
      cmocka_unit_test(test_forty_addresses_without_edns_truncate),
      cmocka_unit_test(test_forty_addresses_fit_with_edns_1232),
      cmocka_unit_test(test_edns_size_above_1232_is_capped),
      cmocka_unit_test(test_reply_never_exceeds_cap),
      cmocka_unit_test(test_short_packet_and_responses_get_no_reply),
      cmocka_unit_test(test_pointer_in_qname_gets_formerr),
      cmocka_unit_test(test_broken_opt_gets_formerr_without_opt),
      cmocka_unit_test(test_opcode_2_gets_notimp),
      cmocka_unit_test(test_class_ch_gets_refused_with_question),
      cmocka_unit_test(test_edns_version_1_gets_badvers_in_opt),
  };
  return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
