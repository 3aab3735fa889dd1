/* dns_wire: the reader, the query parser and the response builders, fed
 * byte arrays. */
#include "test_util.h"

#include <stdbool.h>
#include <stdlib.h>

#include "dns_wire.h"

/* Pinned packets. The question section of each is at offset 12. */

/* dig 9.18 "dig +noedns facebook.com": a plain A query, RD set. */
static const uint8_t q_facebook_plain[] = {
    0xbe, 0xef,             /* ID */
    0x01, 0x00,             /* QR=0 OPCODE=QUERY RD=1 */
    0x00, 0x01,             /* QDCOUNT 1 */
    0x00, 0x00,             /* ANCOUNT 0 */
    0x00, 0x00,             /* NSCOUNT 0 */
    0x00, 0x00,             /* ARCOUNT 0 */
    8, 'f', 'a', 'c', 'e', 'b', 'o', 'o', 'k', 3, 'c', 'o', 'm', 0,
    0x00, 0x01,             /* QTYPE A */
    0x00, 0x01,             /* QCLASS IN */
};

/* dig 9.18 "dig facebook.com": RD and AD set, an OPT advertising 1232 bytes
 * and carrying an 8-byte client COOKIE (RFC 7873). */
static const uint8_t q_facebook_dig[] = {
    0x4a, 0x1d,             /* ID */
    0x01, 0x20,             /* RD=1 AD=1 */
    0x00, 0x01,             /* QDCOUNT 1 */
    0x00, 0x00,             /* ANCOUNT 0 */
    0x00, 0x00,             /* NSCOUNT 0 */
    0x00, 0x01,             /* ARCOUNT 1 */
    8, 'f', 'a', 'c', 'e', 'b', 'o', 'o', 'k', 3, 'c', 'o', 'm', 0,
    0x00, 0x01,             /* QTYPE A */
    0x00, 0x01,             /* QCLASS IN */
    0x00,                   /* OPT owner: root */
    0x00, 0x29,             /* TYPE OPT */
    0x04, 0xd0,             /* CLASS: UDP payload 1232 */
    0x00, 0x00, 0x00, 0x00, /* TTL: ext rcode 0, version 0, DO=0 */
    0x00, 0x0c,             /* RDLEN 12 */
    0x00, 0x0a, 0x00, 0x08, /* option COOKIE, length 8 */
    0x4e, 0x1a, 0x5c, 0x93, 0x2d, 0x0b, 0x77, 0x01,
};

#define OFF_FLAGS_HI 2
#define OFF_FLAGS_LO 3
#define OFF_QDCOUNT_LO 5
#define OFF_ARCOUNT_LO 11
#define OFF_QUESTION 12
#define FACEBOOK_QNAME_LEN 14
#define FACEBOOK_QUESTION_LEN 18
/* In q_facebook_dig: where the OPT's CLASS, TTL and rdata start. */
#define OFF_OPT (OFF_QUESTION + FACEBOOK_QUESTION_LEN)
#define OFF_OPT_VERSION (OFF_OPT + 6)
#define OFF_OPT_DO (OFF_OPT + 7)

/* A header for a standard query with the given counts. */
static size_t put_header(uint8_t *p, uint16_t qd, uint16_t an, uint16_t ns,
                         uint16_t ar) {
  const uint8_t h[] = {0x12, 0x34, 0x01, 0x00,
                       (uint8_t)(qd >> 8), (uint8_t)qd,
                       (uint8_t)(an >> 8), (uint8_t)an,
                       (uint8_t)(ns >> 8), (uint8_t)ns,
                       (uint8_t)(ar >> 8), (uint8_t)ar};
  memcpy(p, h, sizeof(h));
  return sizeof(h);
}

static size_t put_bytes(uint8_t *p, const void *b, size_t n) {
  memcpy(p, b, n);
  return n;
}

/* A name of `total` wire octets (root included) made of labels of 63 and
 * one shorter label: only its length matters. */
static size_t put_long_name(uint8_t *p, size_t total) {
  size_t pos = 0;
  while (total - pos > 1) {
    size_t label = total - pos - 2;
    if (label > 63)
      label = 63;
    p[pos++] = (uint8_t)label;
    memset(p + pos, 'x', label);
    pos += label;
  }
  p[pos++] = 0;
  return pos;
}

static const uint8_t qtype_a_class_in[] = {0x00, 0x01, 0x00, 0x01};

/* ---- parsing: well-formed queries ---- */

static void test_plain_dig_query_parses(void **state) {
  dns_query_t q;
  (void)state;

  assert_int_equal(dns_parse_query(q_facebook_plain, sizeof(q_facebook_plain),
                                   &q),
                   DNS_PARSE_OK);
  assert_int_equal(q.id, 0xbeef);
  assert_true(q.rd);
  assert_int_equal(q.opcode, 0);
  assert_true(q.has_question);
  assert_ptr_equal(q.question, q_facebook_plain + OFF_QUESTION);
  assert_int_equal(q.question_len, FACEBOOK_QUESTION_LEN);
  assert_int_equal(q.qname_len, FACEBOOK_QNAME_LEN);
  assert_int_equal(q.qtype, DNS_TYPE_A);
  assert_int_equal(q.qclass, DNS_CLASS_IN);
  assert_false(q.has_edns);
}

static void test_dig_query_with_opt_and_cookie_parses(void **state) {
  dns_query_t q;
  (void)state;

  assert_int_equal(dns_parse_query(q_facebook_dig, sizeof(q_facebook_dig), &q),
                   DNS_PARSE_OK);
  assert_int_equal(q.id, 0x4a1d);
  assert_int_equal(q.flags, 0x0120);
  assert_true(q.has_question);
  assert_true(q.has_edns);
  assert_int_equal(q.edns_udp_size, 1232);
  assert_int_equal(q.edns_version, 0);
  assert_false(q.edns_do);
}

static void test_do_bit_is_read_from_opt_ttl(void **state) {
  uint8_t p[sizeof(q_facebook_dig)];
  dns_query_t q;
  (void)state;

  memcpy(p, q_facebook_dig, sizeof(p));
  p[OFF_OPT_DO] = 0x80; /* top bit of the TTL's low 16 bits */
  assert_int_equal(dns_parse_query(p, sizeof(p), &q), DNS_PARSE_OK);
  assert_true(q.edns_do);
}

static void test_query_without_rd_parses_rd_false(void **state) {
  uint8_t p[sizeof(q_facebook_plain)];
  dns_query_t q;
  (void)state;

  memcpy(p, q_facebook_plain, sizeof(p));
  p[OFF_FLAGS_HI] = 0x00;
  assert_int_equal(dns_parse_query(p, sizeof(p), &q), DNS_PARSE_OK);
  assert_false(q.rd);
}

static void test_root_name_query_parses(void **state) {
  const uint8_t p[] = {
      0x00, 0x07, 0x01, 0x00, 0x00, 0x01, 0, 0, 0, 0, 0, 0,
      0x00,                   /* QNAME: the root */
      0x00, 0x02, 0x00, 0x01, /* NS IN */
  };
  dns_query_t q;
  (void)state;

  assert_int_equal(dns_parse_query(p, sizeof(p), &q), DNS_PARSE_OK);
  assert_int_equal(q.qname_len, 1);
  assert_int_equal(q.question_len, 5);
  assert_int_equal(q.qtype, DNS_TYPE_NS);
}

static void test_name_of_255_octets_is_accepted(void **state) {
  uint8_t p[512];
  size_t n = put_header(p, 1, 0, 0, 0);
  dns_query_t q;
  (void)state;

  n += put_long_name(p + n, 255);
  n += put_bytes(p + n, qtype_a_class_in, 4);
  assert_int_equal(dns_parse_query(p, n, &q), DNS_PARSE_OK);
  assert_int_equal(q.qname_len, 255);
}

static void test_compressed_owner_in_additional_is_skipped(void **state) {
  /* A TSIG-like record whose owner points back at the QNAME: skipped, not
   * followed. */
  const uint8_t p[] = {
      0x00, 0x01, 0x01, 0x00, 0x00, 0x01, 0, 0, 0, 0, 0x00, 0x01,
      1, 'a', 0, 0x00, 0x01, 0x00, 0x01,
      0xc0, 0x0c,             /* owner: pointer to offset 12 */
      0x00, 0xfa, 0x00, 0xff, /* TSIG ANY */
      0, 0, 0, 0,             /* TTL */
      0x00, 0x02, 0xaa, 0xbb, /* RDLEN 2 + rdata */
  };
  dns_query_t q;
  (void)state;

  assert_int_equal(dns_parse_query(p, sizeof(p), &q), DNS_PARSE_OK);
  assert_false(q.has_edns);
}

static void test_records_in_answer_and_authority_are_skipped(void **state) {
  const uint8_t p[] = {
      0x00, 0x01, 0x01, 0x00, 0x00, 0x01, 0x00, 0x01, 0x00, 0x01, 0x00, 0x01,
      1, 'a', 0, 0x00, 0x01, 0x00, 0x01,
      /* answer: uncompressed owner */
      1, 'a', 0, 0x00, 0x01, 0x00, 0x01, 0, 0, 0, 60, 0x00, 0x04, 1, 2, 3, 4,
      /* authority: OPT type outside the additional section is not EDNS */
      0, 0x00, 0x29, 0x10, 0x00, 0, 1, 0, 0, 0x00, 0x00,
      /* additional: the real OPT */
      0, 0x00, 0x29, 0x02, 0x00, 0, 0, 0, 0, 0x00, 0x00,
  };
  dns_query_t q;
  (void)state;

  assert_int_equal(dns_parse_query(p, sizeof(p), &q), DNS_PARSE_OK);
  assert_true(q.has_edns);
  assert_int_equal(q.edns_udp_size, 512);
  assert_int_equal(q.edns_version, 0);
}

static void test_bytes_after_last_record_are_ignored(void **state) {
  uint8_t p[sizeof(q_facebook_dig) + 3];
  dns_query_t q;
  (void)state;

  memcpy(p, q_facebook_dig, sizeof(q_facebook_dig));
  memset(p + sizeof(q_facebook_dig), 0xff, 3);
  assert_int_equal(dns_parse_query(p, sizeof(p), &q), DNS_PARSE_OK);
  assert_true(q.has_edns);
}

/* ---- parsing: dropped ---- */

static void test_header_of_11_bytes_is_dropped(void **state) {
  dns_query_t q;
  (void)state;

  assert_int_equal(dns_parse_query(q_facebook_plain, 11, &q), DNS_PARSE_DROP);
  assert_int_equal(dns_parse_query(q_facebook_plain, 0, &q), DNS_PARSE_DROP);
}

static void test_response_bit_set_is_dropped(void **state) {
  uint8_t p[sizeof(q_facebook_plain)];
  dns_query_t q;
  (void)state;

  memcpy(p, q_facebook_plain, sizeof(p));
  p[OFF_FLAGS_HI] |= 0x80;
  assert_int_equal(dns_parse_query(p, sizeof(p), &q), DNS_PARSE_DROP);
}

/* ---- parsing: FORMERR in the question ---- */

static void test_header_only_with_qdcount_1_is_formerr(void **state) {
  dns_query_t q;
  (void)state;

  assert_int_equal(dns_parse_query(q_facebook_plain, 12, &q),
                   DNS_PARSE_FORMERR);
  assert_false(q.has_question);
  assert_int_equal(q.id, 0xbeef);
}

static void test_label_running_past_the_end_is_formerr(void **state) {
  dns_query_t q;
  (void)state;

  /* Cut inside "facebook": the label says 8 bytes, fewer are there. */
  assert_int_equal(dns_parse_query(q_facebook_plain, OFF_QUESTION + 5, &q),
                   DNS_PARSE_FORMERR);
  assert_false(q.has_question);
  /* Cut right before the root label. */
  assert_int_equal(dns_parse_query(q_facebook_plain,
                                   OFF_QUESTION + FACEBOOK_QNAME_LEN - 1, &q),
                   DNS_PARSE_FORMERR);
}

static void test_missing_qtype_or_qclass_is_formerr(void **state) {
  dns_query_t q;
  (void)state;

  /* Name complete, nothing after it. */
  assert_int_equal(dns_parse_query(q_facebook_plain,
                                   OFF_QUESTION + FACEBOOK_QNAME_LEN, &q),
                   DNS_PARSE_FORMERR);
  /* QTYPE but no QCLASS. */
  assert_int_equal(dns_parse_query(q_facebook_plain,
                                   OFF_QUESTION + FACEBOOK_QNAME_LEN + 2, &q),
                   DNS_PARSE_FORMERR);
  /* One byte of QCLASS. */
  assert_int_equal(dns_parse_query(q_facebook_plain,
                                   sizeof(q_facebook_plain) - 1, &q),
                   DNS_PARSE_FORMERR);
  assert_false(q.has_question);
}

static void test_query_with_pointer_loop_in_qname_is_formerr(void **state) {
  const uint8_t p[] = {
      0x00, 0x01, 0x01, 0x00, 0x00, 0x01, 0, 0, 0, 0, 0, 0,
      0xc0, 0x0c,             /* QNAME: pointer to itself (offset 12) */
      0x00, 0x01, 0x00, 0x01,
  };
  dns_query_t q;
  (void)state;

  assert_int_equal(dns_parse_query(p, sizeof(p), &q), DNS_PARSE_FORMERR);
  assert_false(q.has_question);
}

static void test_query_with_forward_pointer_in_qname_is_formerr(void **state) {
  const uint8_t p[] = {
      0x00, 0x01, 0x01, 0x00, 0x00, 0x01, 0, 0, 0, 0, 0, 0,
      3, 'w', 'w', 'w',
      0xc0, 0x16,             /* pointer forward, to offset 22 */
      0x00, 0x01, 0x00, 0x01,
      1, 'a', 0,              /* offset 22: a name it could have meant */
  };
  dns_query_t q;
  (void)state;

  assert_int_equal(dns_parse_query(p, sizeof(p), &q), DNS_PARSE_FORMERR);
}

static void test_query_with_pointer_to_header_is_formerr(void **state) {
  const uint8_t p[] = {
      0x00, 0x01, 0x01, 0x00, 0x00, 0x01, 0, 0, 0, 0, 0, 0,
      0xc0, 0x00,             /* pointer to offset 0 */
      0x00, 0x01, 0x00, 0x01,
  };
  dns_query_t q;
  (void)state;

  assert_int_equal(dns_parse_query(p, sizeof(p), &q), DNS_PARSE_FORMERR);
}

static void test_extended_label_types_are_formerr(void **state) {
  uint8_t p[] = {
      0x00, 0x01, 0x01, 0x00, 0x00, 0x01, 0, 0, 0, 0, 0, 0,
      0x41, 'x', 0,           /* type bits 01 (RFC 2673 bitstring era) */
      0x00, 0x01, 0x00, 0x01,
  };
  dns_query_t q;
  (void)state;

  assert_int_equal(dns_parse_query(p, sizeof(p), &q), DNS_PARSE_FORMERR);
  p[OFF_QUESTION] = 0x81; /* type bits 10 */
  assert_int_equal(dns_parse_query(p, sizeof(p), &q), DNS_PARSE_FORMERR);
}

static void test_label_of_64_is_formerr(void **state) {
  uint8_t p[128];
  size_t n = put_header(p, 1, 0, 0, 0);
  dns_query_t q;
  (void)state;

  p[n++] = 64; /* 0x40: more than six bits of length */
  memset(p + n, 'x', 64);
  n += 64;
  p[n++] = 0;
  n += put_bytes(p + n, qtype_a_class_in, 4);
  assert_int_equal(dns_parse_query(p, n, &q), DNS_PARSE_FORMERR);
}

static void test_name_of_256_octets_is_formerr(void **state) {
  uint8_t p[512];
  size_t n = put_header(p, 1, 0, 0, 0);
  dns_query_t q;
  (void)state;

  n += put_long_name(p + n, 256);
  n += put_bytes(p + n, qtype_a_class_in, 4);
  assert_int_equal(dns_parse_query(p, n, &q), DNS_PARSE_FORMERR);
  assert_false(q.has_question);
}

static void test_qdcount_0_is_formerr(void **state) {
  uint8_t p[sizeof(q_facebook_plain)];
  dns_query_t q;
  (void)state;

  memcpy(p, q_facebook_plain, sizeof(p));
  p[OFF_QDCOUNT_LO] = 0;
  assert_int_equal(dns_parse_query(p, sizeof(p), &q), DNS_PARSE_FORMERR);
  assert_false(q.has_question);
  assert_int_equal(q.id, 0xbeef);
  assert_true(q.rd);
}

static void test_qdcount_2_is_formerr(void **state) {
  uint8_t p[sizeof(q_facebook_plain) * 2];
  dns_query_t q;
  (void)state;

  /* Two complete questions: still refused as a format error. */
  memcpy(p, q_facebook_plain, sizeof(q_facebook_plain));
  memcpy(p + sizeof(q_facebook_plain), q_facebook_plain + OFF_QUESTION,
         FACEBOOK_QUESTION_LEN);
  p[OFF_QDCOUNT_LO] = 2;
  assert_int_equal(dns_parse_query(p, sizeof(q_facebook_plain) +
                                          FACEBOOK_QUESTION_LEN, &q),
                   DNS_PARSE_FORMERR);
  assert_false(q.has_question);
}

/* ---- parsing: FORMERR in the other sections ---- */

static void test_truncated_additional_record_is_formerr(void **state) {
  dns_query_t q;
  (void)state;

  /* ARCOUNT 1 but the OPT is cut inside its rdata, then before RDLEN. */
  assert_int_equal(dns_parse_query(q_facebook_dig, sizeof(q_facebook_dig) - 1,
                                   &q),
                   DNS_PARSE_FORMERR);
  assert_false(q.has_edns);
  assert_true(q.has_question);
  assert_int_equal(dns_parse_query(q_facebook_dig, OFF_OPT + 9, &q),
                   DNS_PARSE_FORMERR);
  /* ARCOUNT 1 and no record at all. */
  assert_int_equal(dns_parse_query(q_facebook_dig, OFF_OPT, &q),
                   DNS_PARSE_FORMERR);
}

static void test_two_opts_are_formerr(void **state) {
  const uint8_t p[] = {
      0x00, 0x01, 0x01, 0x00, 0x00, 0x01, 0, 0, 0, 0, 0x00, 0x02,
      1, 'a', 0, 0x00, 0x01, 0x00, 0x01,
      0, 0x00, 0x29, 0x04, 0xd0, 0, 0, 0, 0, 0x00, 0x00, /* OPT */
      0, 0x00, 0x29, 0x04, 0xd0, 0, 0, 0, 0, 0x00, 0x00, /* OPT again */
  };
  dns_query_t q;
  (void)state;

  assert_int_equal(dns_parse_query(p, sizeof(p), &q), DNS_PARSE_FORMERR);
  assert_false(q.has_edns);
  assert_true(q.has_question);
}

static void test_opt_with_option_overrunning_rdata_is_formerr(void **state) {
  uint8_t p[sizeof(q_facebook_dig)];
  dns_query_t q;
  (void)state;

  /* COOKIE claims 9 bytes of the 8 left in RDLEN. */
  memcpy(p, q_facebook_dig, sizeof(p));
  p[OFF_OPT + 14] = 0x09;
  assert_int_equal(dns_parse_query(p, sizeof(p), &q), DNS_PARSE_FORMERR);
  assert_false(q.has_edns);
}

static void test_opt_with_partial_option_header_is_formerr(void **state) {
  const uint8_t p[] = {
      0x00, 0x01, 0x01, 0x00, 0x00, 0x01, 0, 0, 0, 0, 0x00, 0x01,
      1, 'a', 0, 0x00, 0x01, 0x00, 0x01,
      0, 0x00, 0x29, 0x04, 0xd0, 0, 0, 0, 0,
      0x00, 0x03,             /* RDLEN 3: not even one option header */
      0x00, 0x0a, 0x00,
  };
  dns_query_t q;
  (void)state;

  assert_int_equal(dns_parse_query(p, sizeof(p), &q), DNS_PARSE_FORMERR);
}

static void test_opt_with_non_root_owner_is_formerr(void **state) {
  const uint8_t p[] = {
      0x00, 0x01, 0x01, 0x00, 0x00, 0x01, 0, 0, 0, 0, 0x00, 0x01,
      1, 'a', 0, 0x00, 0x01, 0x00, 0x01,
      0xc0, 0x0c,             /* owner: pointer, not the root octet */
      0x00, 0x29, 0x04, 0xd0, 0, 0, 0, 0, 0x00, 0x00,
  };
  dns_query_t q;
  (void)state;

  assert_int_equal(dns_parse_query(p, sizeof(p), &q), DNS_PARSE_FORMERR);
  assert_false(q.has_edns);
}

static void test_bad_label_in_additional_owner_is_formerr(void **state) {
  const uint8_t p[] = {
      0x00, 0x01, 0x01, 0x00, 0x00, 0x01, 0, 0, 0, 0, 0x00, 0x01,
      1, 'a', 0, 0x00, 0x01, 0x00, 0x01,
      0x80, 0x00,             /* label type 10 */
      0x00, 0x01, 0x00, 0x01, 0, 0, 0, 0, 0x00, 0x00,
  };
  dns_query_t q;
  (void)state;

  assert_int_equal(dns_parse_query(p, sizeof(p), &q), DNS_PARSE_FORMERR);
}

/* ---- parsing: NOTIMP, BADVERS, REFUSED and their order ---- */

static void test_opcode_status_is_notimp_with_question(void **state) {
  uint8_t p[sizeof(q_facebook_plain)];
  dns_query_t q;
  (void)state;

  memcpy(p, q_facebook_plain, sizeof(p));
  p[OFF_FLAGS_HI] = 0x11; /* OPCODE 2 (STATUS), RD */
  assert_int_equal(dns_parse_query(p, sizeof(p), &q), DNS_PARSE_NOTIMP);
  assert_int_equal(q.opcode, 2);
  assert_true(q.has_question);
}

static void test_unknown_opcode_wins_over_a_malformed_body(void **state) {
  uint8_t p[sizeof(q_facebook_plain)];
  dns_query_t q;
  (void)state;

  /* Another opcode may lay out its body differently (RFC 8490's DSO has
   * QDCOUNT 0), so it is NOTIMP, just without a question to echo. */
  memcpy(p, q_facebook_plain, sizeof(p));
  p[OFF_FLAGS_HI] = 0x30; /* OPCODE 6 */
  p[OFF_QDCOUNT_LO] = 0;
  assert_int_equal(dns_parse_query(p, sizeof(p), &q), DNS_PARSE_NOTIMP);
  assert_false(q.has_question);
}

static void test_class_ch_is_refused(void **state) {
  uint8_t p[sizeof(q_facebook_plain)];
  dns_query_t q;
  (void)state;

  memcpy(p, q_facebook_plain, sizeof(p));
  p[sizeof(p) - 1] = 3; /* QCLASS CH */
  assert_int_equal(dns_parse_query(p, sizeof(p), &q), DNS_PARSE_REFUSED);
  assert_true(q.has_question);
  assert_int_equal(q.qclass, 3);
}

static void test_class_any_is_refused(void **state) {
  uint8_t p[sizeof(q_facebook_plain)];
  dns_query_t q;
  (void)state;

  memcpy(p, q_facebook_plain, sizeof(p));
  p[sizeof(p) - 1] = 0xff;
  assert_int_equal(dns_parse_query(p, sizeof(p), &q), DNS_PARSE_REFUSED);
}

static void test_edns_version_1_is_badvers(void **state) {
  uint8_t p[sizeof(q_facebook_dig)];
  dns_query_t q;
  (void)state;

  memcpy(p, q_facebook_dig, sizeof(p));
  p[OFF_OPT_VERSION] = 1;
  assert_int_equal(dns_parse_query(p, sizeof(p), &q), DNS_PARSE_BADVERS);
  assert_true(q.has_edns);
  assert_int_equal(q.edns_version, 1);
}

static void test_formerr_wins_over_badvers_and_refused(void **state) {
  uint8_t p[sizeof(q_facebook_dig)];
  dns_query_t q;
  (void)state;

  memcpy(p, q_facebook_dig, sizeof(p));
  p[OFF_OPT_VERSION] = 1;
  p[OFF_OPT - 1] = 3; /* QCLASS CH */
  p[OFF_OPT + 14] = 0x09; /* and a broken option */
  assert_int_equal(dns_parse_query(p, sizeof(p), &q), DNS_PARSE_FORMERR);
}

static void test_badvers_wins_over_refused(void **state) {
  uint8_t p[sizeof(q_facebook_dig)];
  dns_query_t q;
  (void)state;

  memcpy(p, q_facebook_dig, sizeof(p));
  p[OFF_OPT_VERSION] = 1;
  p[OFF_OPT - 1] = 3; /* QCLASS CH */
  assert_int_equal(dns_parse_query(p, sizeof(p), &q), DNS_PARSE_BADVERS);
}

/* ---- dns_udp_limit ---- */

static void test_udp_limit_without_edns_is_512(void **state) {
  dns_query_t q = {.has_edns = false, .edns_udp_size = 4096};
  (void)state;

  assert_int_equal(dns_udp_limit(&q), 512);
}

static void test_udp_limit_with_edns_is_clamped(void **state) {
  dns_query_t q = {.has_edns = true};
  (void)state;

  q.edns_udp_size = 4096;
  assert_int_equal(dns_udp_limit(&q), 1232);
  q.edns_udp_size = 1232;
  assert_int_equal(dns_udp_limit(&q), 1232);
  q.edns_udp_size = 1000;
  assert_int_equal(dns_udp_limit(&q), 1000);
  q.edns_udp_size = 100; /* RFC 6891 6.2.5: below 512 means 512 */
  assert_int_equal(dns_udp_limit(&q), 512);
  q.edns_udp_size = 0;
  assert_int_equal(dns_udp_limit(&q), 512);
}

/* ---- dns_name_lower ---- */

static void test_name_lower_folds_ascii_only(void **state) {
  const uint8_t in[] = {3, 'W', 'w', 'W', 4, 0xc4, 'Z', '@', '[', 0};
  const uint8_t want[] = {3, 'w', 'w', 'w', 4, 0xc4, 'z', '@', '[', 0};
  uint8_t out[sizeof(in)];
  (void)state;

  assert_int_equal(dns_name_lower(in, sizeof(in), out, sizeof(out)),
                   sizeof(in));
  assert_memory_equal(out, want, sizeof(want));
}

static void test_name_lower_refuses_small_buffer(void **state) {
  const uint8_t in[] = {1, 'A', 0};
  uint8_t out[2];
  (void)state;

  assert_int_equal(dns_name_lower(in, sizeof(in), out, sizeof(out)), 0);
}

/* ---- building responses ---- */

static const uint8_t facebook_a[4] = {173, 252, 120, 6};

static void test_plain_response_is_byte_exact(void **state) {
  const uint8_t want[] = {
      0xbe, 0xef,             /* ID echoed */
      0x85, 0x00,             /* QR=1 AA=1 RD=1, RA=0, NOERROR */
      0x00, 0x01,             /* QDCOUNT 1 */
      0x00, 0x01,             /* ANCOUNT 1 */
      0x00, 0x00,             /* NSCOUNT 0 */
      0x00, 0x00,             /* ARCOUNT 0 */
      8, 'f', 'a', 'c', 'e', 'b', 'o', 'o', 'k', 3, 'c', 'o', 'm', 0,
      0x00, 0x01, 0x00, 0x01, /* A IN */
      0xc0, 0x0c,             /* owner: pointer to the question */
      0x00, 0x01, 0x00, 0x01, /* A IN */
      0x00, 0x00, 0x00, 0x3c, /* TTL 60 */
      0x00, 0x04,             /* RDLEN */
      173, 252, 120, 6,
  };
  dns_rr_t rr = {DNS_TYPE_A, 4, facebook_a};
  dns_query_t q;
  uint8_t out[512];
  (void)state;

  assert_int_equal(dns_parse_query(q_facebook_plain, sizeof(q_facebook_plain),
                                   &q),
                   DNS_PARSE_OK);
  size_t n = dns_build_response(&q, DNS_RCODE_NOERROR, &rr, 1, 60, out,
                                sizeof(out), dns_udp_limit(&q));
  assert_int_equal(n, sizeof(want));
  assert_memory_equal(out, want, sizeof(want));
}

static void test_edns_response_carries_opt_and_clears_ad(void **state) {
  const uint8_t want_tail[] = {
      0xc0, 0x0c, 0x00, 0x01, 0x00, 0x01, 0x00, 0x00, 0x00, 0x3c, 0x00, 0x04,
      173, 252, 120, 6,
      0x00,                   /* OPT owner: root */
      0x00, 0x29,             /* TYPE OPT */
      0x04, 0xd0,             /* our UDP size: 1232 */
      0x00, 0x00, 0x00, 0x00, /* ext rcode 0, version 0, DO=0 */
      0x00, 0x00,             /* no options, the COOKIE is not echoed */
  };
  dns_rr_t rr = {DNS_TYPE_A, 4, facebook_a};
  dns_query_t q;
  uint8_t out[1232];
  (void)state;

  assert_int_equal(dns_parse_query(q_facebook_dig, sizeof(q_facebook_dig), &q),
                   DNS_PARSE_OK);
  size_t n = dns_build_response(&q, DNS_RCODE_NOERROR, &rr, 1, 60, out,
                                sizeof(out), dns_udp_limit(&q));
  assert_int_equal(n, 12 + FACEBOOK_QUESTION_LEN + sizeof(want_tail));
  assert_int_equal(out[0], 0x4a);
  assert_int_equal(out[1], 0x1d);
  assert_int_equal(out[2], 0x85); /* QR AA RD */
  assert_int_equal(out[3], 0x00); /* RA, Z, AD, CD all clear */
  assert_int_equal(out[7], 1);    /* ANCOUNT */
  assert_int_equal(out[11], 1);   /* ARCOUNT: the OPT */
  assert_memory_equal(out + 12 + FACEBOOK_QUESTION_LEN, want_tail,
                      sizeof(want_tail));
}

static void test_do_bit_is_echoed_in_opt(void **state) {
  uint8_t p[sizeof(q_facebook_dig)];
  dns_query_t q;
  uint8_t out[512];
  (void)state;

  memcpy(p, q_facebook_dig, sizeof(p));
  p[OFF_OPT_DO] = 0x80;
  assert_int_equal(dns_parse_query(p, sizeof(p), &q), DNS_PARSE_OK);
  size_t n = dns_build_response(&q, DNS_RCODE_NOERROR, NULL, 0, 60, out,
                                sizeof(out), 512);
  assert_int_equal(n, 12 + FACEBOOK_QUESTION_LEN + 11);
  /* OPT TTL: 00 00 80 00 */
  const uint8_t want_ttl[] = {0x00, 0x00, 0x80, 0x00};
  assert_memory_equal(out + n - 6, want_ttl, 4);
}

static void test_badvers_puts_extended_rcode_in_opt(void **state) {
  uint8_t p[sizeof(q_facebook_dig)];
  dns_query_t q;
  uint8_t out[512];
  (void)state;

  memcpy(p, q_facebook_dig, sizeof(p));
  p[OFF_OPT_VERSION] = 1;
  assert_int_equal(dns_parse_query(p, sizeof(p), &q), DNS_PARSE_BADVERS);
  size_t n = dns_build_response(&q, DNS_RCODE_BADVERS, NULL, 0, 60, out,
                                sizeof(out), dns_udp_limit(&q));
  assert_int_equal(n, 12 + FACEBOOK_QUESTION_LEN + 11);
  assert_int_equal(out[3] & 0x0f, 0); /* 16 & 0xf */
  const uint8_t want_opt[] = {
      0x00, 0x00, 0x29, 0x04, 0xd0,
      0x01,                   /* extended rcode: 16 >> 4 */
      0x00,                   /* version 0, the one we speak */
      0x00, 0x00, 0x00, 0x00,
  };
  assert_memory_equal(out + n - 11, want_opt, sizeof(want_opt));
}

static void test_question_is_echoed_with_its_case(void **state) {
  uint8_t p[sizeof(q_facebook_plain)];
  dns_query_t q;
  uint8_t out[512];
  (void)state;

  memcpy(p, q_facebook_plain, sizeof(p));
  memcpy(p + OFF_QUESTION + 1, "FaCeBoOk", 8);
  assert_int_equal(dns_parse_query(p, sizeof(p), &q), DNS_PARSE_OK);
  size_t n = dns_build_response(&q, DNS_RCODE_NOERROR, NULL, 0, 60, out,
                                sizeof(out), 512);
  assert_int_equal(n, sizeof(p));
  assert_memory_equal(out + OFF_QUESTION, p + OFF_QUESTION,
                      FACEBOOK_QUESTION_LEN);
}

static void test_response_without_question_has_qdcount_0(void **state) {
  uint8_t p[sizeof(q_facebook_plain)];
  dns_query_t q;
  uint8_t out[512];
  (void)state;

  memcpy(p, q_facebook_plain, sizeof(p));
  p[OFF_QDCOUNT_LO] = 2;
  assert_int_equal(dns_parse_query(p, sizeof(p), &q), DNS_PARSE_FORMERR);
  size_t n = dns_build_response(&q, DNS_RCODE_FORMERR, NULL, 0, 60, out,
                                sizeof(out), 512);
  const uint8_t want[] = {0xbe, 0xef, 0x85, 0x01, 0, 0, 0, 0, 0, 0, 0, 0};
  assert_int_equal(n, sizeof(want));
  assert_memory_equal(out, want, sizeof(want));
}

static void test_notimp_response_copies_opcode(void **state) {
  uint8_t p[sizeof(q_facebook_plain)];
  dns_query_t q;
  uint8_t out[512];
  (void)state;

  memcpy(p, q_facebook_plain, sizeof(p));
  p[OFF_FLAGS_HI] = 0x10; /* OPCODE 2, no RD */
  assert_int_equal(dns_parse_query(p, sizeof(p), &q), DNS_PARSE_NOTIMP);
  size_t n = dns_build_response(&q, DNS_RCODE_NOTIMP, NULL, 0, 60, out,
                                sizeof(out), 512);
  assert_int_equal(n, sizeof(p));
  assert_int_equal(out[OFF_FLAGS_HI], 0x94); /* QR, OPCODE 2, AA */
  assert_int_equal(out[OFF_FLAGS_LO], 0x04); /* NOTIMP */
  assert_int_equal(out[OFF_QDCOUNT_LO], 1);
}

static void test_answers_over_limit_set_tc_and_keep_opt(void **state) {
  dns_rr_t rrs[8];
  dns_query_t q;
  uint8_t out[512];
  (void)state;

  for (size_t i = 0; i < ARRAY_LEN(rrs); i++)
    rrs[i] = (dns_rr_t){DNS_TYPE_A, 4, facebook_a};
  assert_int_equal(dns_parse_query(q_facebook_dig, sizeof(q_facebook_dig), &q),
                   DNS_PARSE_OK);
  /* Header, question and OPT take 41 bytes; 8 answers need 128 more. */
  size_t n = dns_build_response(&q, DNS_RCODE_NOERROR, rrs, ARRAY_LEN(rrs),
                                60, out, sizeof(out), 41 + 127);
  assert_int_equal(n, 41);
  assert_int_equal(out[2], 0x87); /* QR AA TC RD */
  assert_int_equal(out[7], 0);    /* ANCOUNT */
  assert_int_equal(out[11], 1);   /* ARCOUNT: the OPT survived */
  assert_int_equal(out[12 + FACEBOOK_QUESTION_LEN + 2], DNS_TYPE_OPT);

  /* One byte more and all fit. */
  n = dns_build_response(&q, DNS_RCODE_NOERROR, rrs, ARRAY_LEN(rrs), 60, out,
                         sizeof(out), 41 + 128);
  assert_int_equal(n, 41 + 128);
  assert_int_equal(out[2], 0x85);
  assert_int_equal(out[7], 8);
}

static void test_build_truncated_is_the_same_tc_reply(void **state) {
  dns_rr_t rrs[8];
  dns_query_t q;
  uint8_t want[512], got[512];
  (void)state;

  for (size_t i = 0; i < ARRAY_LEN(rrs); i++)
    rrs[i] = (dns_rr_t){DNS_TYPE_A, 4, facebook_a};
  assert_int_equal(dns_parse_query(q_facebook_dig, sizeof(q_facebook_dig), &q),
                   DNS_PARSE_OK);
  size_t n_want = dns_build_response(&q, DNS_RCODE_NOERROR, rrs, ARRAY_LEN(rrs),
                                     60, want, sizeof(want), 41 + 127);
  size_t n_got = dns_build_truncated(&q, DNS_RCODE_NOERROR, got, sizeof(got),
                                     512);
  assert_int_equal(n_got, 41);
  assert_int_equal(n_got, n_want);
  assert_memory_equal(got, want, n_got);
  /* Too small for even the frame: nothing. */
  assert_int_equal(dns_build_truncated(&q, DNS_RCODE_NOERROR, got, 40, 512), 0);
}

static void test_cap_below_limit_also_truncates(void **state) {
  dns_rr_t rr = {DNS_TYPE_A, 4, facebook_a};
  dns_query_t q;
  uint8_t out[512];
  (void)state;

  assert_int_equal(dns_parse_query(q_facebook_plain, sizeof(q_facebook_plain),
                                   &q),
                   DNS_PARSE_OK);
  size_t n = dns_build_response(&q, DNS_RCODE_NOERROR, &rr, 1, 60, out, 45,
                                512);
  assert_int_equal(n, sizeof(q_facebook_plain));
  assert_int_equal(out[2] & 0x02, 0x02);
}

static void test_build_returns_0_when_question_does_not_fit(void **state) {
  dns_query_t q;
  uint8_t out[512];
  (void)state;

  assert_int_equal(dns_parse_query(q_facebook_dig, sizeof(q_facebook_dig), &q),
                   DNS_PARSE_OK);
  /* Header + question fit, the reserved OPT does not. */
  assert_int_equal(dns_build_response(&q, DNS_RCODE_NOERROR, NULL, 0, 60, out,
                                      sizeof(out), 12 + FACEBOOK_QUESTION_LEN +
                                                       10),
                   0);
  assert_int_equal(dns_build_response(&q, DNS_RCODE_NOERROR, NULL, 0, 60, out,
                                      11, 512),
                   0);
  assert_int_equal(dns_build_response(&q, DNS_RCODE_NOERROR, NULL, 0, 60, out,
                                      12 + FACEBOOK_QUESTION_LEN + 11, 512),
                   12 + FACEBOOK_QUESTION_LEN + 11);
}

static void test_answers_without_question_build_nothing(void **state) {
  dns_rr_t rr = {DNS_TYPE_A, 4, facebook_a};
  dns_query_t q = {.id = 1};
  uint8_t out[512];
  (void)state;

  assert_int_equal(dns_build_response(&q, DNS_RCODE_NOERROR, &rr, 1, 60, out,
                                      sizeof(out), 512),
                   0);
}

/* ---- reading messages ---- */

/* A reply as an upstream resolver might send it: two answers, the second
 * owned by "mail" + a pointer to "example.com" inside the question, and an
 * OPT whose extended rcode makes BADVERS. */
static const uint8_t reply_mail[] = {
    0x12, 0x34,             /* ID */
    0x81, 0x80,             /* QR RD RA, header rcode 0 */
    0x00, 0x01, 0x00, 0x02, 0x00, 0x00, 0x00, 0x01,
    /* 12: question "www.example.com" A IN; "example" starts at 16 */
    3, 'w', 'w', 'w', 7, 'e', 'x', 'a', 'm', 'p', 'l', 'e', 3, 'c', 'o', 'm',
    0, 0x00, 0x01, 0x00, 0x01,
    /* 33: www.example.com A 192.0.2.1, owner compressed to the question */
    0xc0, 0x0c, 0x00, 0x01, 0x00, 0x01, 0x00, 0x00, 0x01, 0x2c, 0x00, 0x04,
    192, 0, 2, 1,
    /* 49: mail.example.com A 192.0.2.2 */
    4, 'm', 'a', 'i', 'l', 0xc0, 0x10,
    0x00, 0x01, 0x00, 0x01, 0x00, 0x00, 0x00, 0x3c, 0x00, 0x04,
    192, 0, 2, 2,
    /* 70: OPT, ext rcode 1, version 0, DO */
    0x00, 0x00, 0x29, 0x04, 0xd0, 0x01, 0x00, 0x80, 0x00, 0x00, 0x00,
};
#define MAIL_ANSWER2_AT 49
#define MAIL_OPT_AT 70

static const uint8_t mail_example_com[] = {4, 'm', 'a', 'i', 'l', 7, 'e', 'x',
                                           'a', 'm', 'p', 'l', 'e', 3, 'c',
                                           'o', 'm', 0};

/* Reads everything in msg the way the reply readers do. False as soon as a
 * step fails. */
static bool walk_reply(const uint8_t *msg, size_t len) {
  dns_reader_t r = dns_reader(msg, len);
  dns_header_t h;
  dns_question_t q;
  dns_record_t rr;

  if (!dns_read_header(&r, &h) || h.qdcount != 1 ||
      !dns_read_question(&r, &q))
    return false;
  unsigned n = (unsigned)h.ancount + h.nscount + h.arcount;
  for (unsigned i = 0; i < n; i++) {
    if (dns_read_record(&r, &rr) != DNS_RECORD_OK)
      return false;
  }
  return true;
}

static void test_reader_fetches_fail_at_the_end_without_moving(void **state) {
  const uint8_t b[] = {0x01, 0x02, 0x03};
  dns_reader_t r = dns_reader(b, sizeof(b));
  uint8_t u8;
  uint16_t u16;
  uint32_t u32;
  const uint8_t *p;
  (void)state;

  assert_false(dns_read_be32(&r, &u32));
  assert_int_equal(r.pos, 0);
  assert_true(dns_read_be16(&r, &u16));
  assert_int_equal(u16, 0x0102);
  assert_false(dns_read_be16(&r, &u16));
  assert_false(dns_read_skip(&r, 2));
  assert_false(dns_read_bytes(&r, 2, &p));
  assert_int_equal(r.pos, 2);
  assert_true(dns_read_bytes(&r, 1, &p));
  assert_ptr_equal(p, b + 2);
  assert_false(dns_read_u8(&r, &u8));
  assert_int_equal(dns_reader_left(&r), 0);
}

static void test_reply_with_compression_reads_whole(void **state) {
  dns_reader_t r = dns_reader(reply_mail, sizeof(reply_mail));
  dns_header_t h;
  dns_question_t q;
  dns_record_t rr;
  uint8_t name[DNS_MAX_NAME];
  size_t name_len;
  (void)state;

  assert_true(dns_read_header(&r, &h));
  assert_int_equal(h.id, 0x1234);
  assert_int_equal(h.flags, 0x8180);
  assert_int_equal(h.ancount, 2);
  assert_true(dns_read_question(&r, &q));
  assert_int_equal(q.at, 12);
  assert_int_equal(q.name_len, 17);
  assert_int_equal(q.qtype, DNS_TYPE_A);
  assert_int_equal(q.qclass, DNS_CLASS_IN);
  /* Past the question: the OPT's extended rcode 1 over header rcode 0. */
  assert_int_equal(dns_read_rcode(&r, &h), DNS_RCODE_BADVERS);
  assert_int_equal(r.pos, 33);

  assert_int_equal(dns_read_record(&r, &rr), DNS_RECORD_OK);
  assert_int_equal(rr.at, 33);
  assert_int_equal(rr.ttl, 300);
  assert_int_equal(rr.ttl_at, 33 + 2 + 4);
  assert_int_equal(rr.rdlen, 4);
  assert_ptr_equal(rr.rdata, reply_mail + 33 + 12);

  /* The second owner, expanded through its pointer. */
  dns_reader_t at_owner = r;
  assert_int_equal(dns_read_name(&at_owner, name, &name_len), DNS_NAME_OK);
  assert_int_equal(name_len, sizeof(mail_example_com));
  assert_memory_equal(name, mail_example_com, sizeof(mail_example_com));
  assert_int_equal(at_owner.pos, MAIL_ANSWER2_AT + 7); /* after 4mail C0 10 */

  assert_int_equal(dns_read_record(&r, &rr), DNS_RECORD_OK);
  assert_int_equal(rr.at, MAIL_ANSWER2_AT);
  assert_int_equal(rr.ttl, 60);
  assert_int_equal(dns_read_record(&r, &rr), DNS_RECORD_OK);
  assert_int_equal(rr.at, MAIL_OPT_AT);
  assert_int_equal(rr.type, DNS_TYPE_OPT);
  assert_int_equal(rr.rclass, 1232);
  assert_int_equal(rr.rdlen, 0);
  assert_int_equal(dns_reader_left(&r), 0);
}

static void test_reply_truncated_at_every_offset_fails_inside(void **state) {
  (void)state;
  assert_true(walk_reply(reply_mail, sizeof(reply_mail)));
  for (size_t len = 0; len < sizeof(reply_mail); len++) {
    /* An exact-size copy, so that ASan and valgrind see any read past it. */
    uint8_t *cut = malloc(len > 0 ? len : 1);
    assert_non_null(cut);
    memcpy(cut, reply_mail, len);
    if (walk_reply(cut, len))
      fail_msg("a reply cut to %zu bytes read whole", len);
    /* The OPT cannot be reached: only the header's rcode is left. */
    if (len >= DNS_HEADER_SIZE + 21) {
      dns_reader_t r = dns_reader(cut, len);
      dns_header_t h;
      dns_question_t q;
      assert_true(dns_read_header(&r, &h) && dns_read_question(&r, &q));
      assert_int_equal(dns_read_rcode(&r, &h), DNS_RCODE_NOERROR);
    }
    /* A name cut anywhere fails and leaves the reader where it was. */
    if (len > MAIL_ANSWER2_AT && len < MAIL_ANSWER2_AT + 7) {
      dns_reader_t r = dns_reader(cut, len);
      r.pos = MAIL_ANSWER2_AT;
      assert_int_equal(dns_read_name(&r, NULL, NULL), DNS_NAME_TRUNCATED);
      assert_int_equal(r.pos, MAIL_ANSWER2_AT);
    }
    free(cut);
  }
}

/* A header with no counts, then the given bytes at offset 12. */
static size_t msg_with(uint8_t *msg, const uint8_t *body, size_t n) {
  memset(msg, 0, DNS_HEADER_SIZE);
  memcpy(msg + DNS_HEADER_SIZE, body, n);
  return DNS_HEADER_SIZE + n;
}

static dns_name_status_t name_at(const uint8_t *msg, size_t len, size_t at,
                                 size_t *name_len) {
  dns_reader_t r = dns_reader(msg, len);
  r.pos = at;
  dns_name_status_t st = dns_read_name(&r, NULL, name_len);
  if (st != DNS_NAME_OK)
    assert_int_equal(r.pos, at);
  return st;
}

static void test_pointer_to_itself_is_bad(void **state) {
  const uint8_t body[] = {0xc0, 0x0c};
  uint8_t msg[64];
  (void)state;
  size_t len = msg_with(msg, body, sizeof(body));
  assert_int_equal(name_at(msg, len, 12, NULL), DNS_NAME_BAD_POINTER);
}

static void test_pointer_loop_is_bad(void **state) {
  /* 12: "a" then a pointer to 16; 16: a pointer back to 12. */
  const uint8_t body[] = {1, 'a', 0xc0, 0x10, 0xc0, 0x0c};
  uint8_t msg[64];
  (void)state;
  size_t len = msg_with(msg, body, sizeof(body));
  assert_int_equal(name_at(msg, len, 12, NULL), DNS_NAME_BAD_POINTER);
  assert_int_equal(name_at(msg, len, 16, NULL), DNS_NAME_BAD_POINTER);
}

static void test_forward_pointer_is_bad_even_to_a_good_name(void **state) {
  /* 12: a pointer to 14, where the root label is. */
  const uint8_t body[] = {0xc0, 0x0e, 0x00};
  uint8_t msg[64];
  size_t name_len;
  (void)state;
  size_t len = msg_with(msg, body, sizeof(body));
  assert_int_equal(name_at(msg, len, 12, NULL), DNS_NAME_BAD_POINTER);
  assert_int_equal(name_at(msg, len, 14, &name_len), DNS_NAME_OK);
  assert_int_equal(name_len, 1);
}

static void test_pointer_into_the_header_is_bad(void **state) {
  /* Byte 0 of the header is 0 here: it would read as the root name. */
  const uint8_t body[] = {0xc0, 0x00};
  uint8_t msg[64];
  (void)state;
  size_t len = msg_with(msg, body, sizeof(body));
  assert_int_equal(name_at(msg, len, 12, NULL), DNS_NAME_BAD_POINTER);
}

static void test_pointer_cut_after_its_first_octet_is_truncated(void **state) {
  const uint8_t body[] = {0x00, 1, 'a', 0xc0};
  uint8_t msg[64];
  (void)state;
  size_t len = msg_with(msg, body, sizeof(body));
  assert_int_equal(name_at(msg, len, 13, NULL), DNS_NAME_TRUNCATED);
}

/* The root at 12, then n pointers, each to the one before it. Returns the
 * length; the last pointer is at len - 2. */
static size_t pointer_chain(uint8_t *msg, size_t n) {
  size_t len = msg_with(msg, (const uint8_t[]){0x00}, 1);
  size_t prev = DNS_HEADER_SIZE;
  for (size_t i = 0; i < n; i++) {
    msg[len] = (uint8_t)(0xc0 | prev >> 8);
    msg[len + 1] = (uint8_t)prev;
    prev = len;
    len += 2;
  }
  return len;
}

static void test_pointer_hops_are_bounded(void **state) {
  uint8_t msg[DNS_HEADER_SIZE + 1 + 2 * (DNS_MAX_POINTER_HOPS + 1)];
  size_t name_len;
  (void)state;

  size_t len = pointer_chain(msg, DNS_MAX_POINTER_HOPS);
  assert_int_equal(name_at(msg, len, len - 2, &name_len), DNS_NAME_OK);
  assert_int_equal(name_len, 1);
  len = pointer_chain(msg, DNS_MAX_POINTER_HOPS + 1);
  assert_int_equal(name_at(msg, len, len - 2, NULL), DNS_NAME_BAD_POINTER);
}

static void test_names_of_255_octets_read_and_256_do_not(void **state) {
  uint8_t msg[1024];
  uint8_t name[DNS_MAX_NAME];
  size_t name_len;
  (void)state;

  /* Uncompressed. */
  size_t len = DNS_HEADER_SIZE + put_long_name(msg + DNS_HEADER_SIZE, 255);
  dns_reader_t r = dns_reader(msg, len);
  r.pos = DNS_HEADER_SIZE;
  assert_int_equal(dns_read_name(&r, name, &name_len), DNS_NAME_OK);
  assert_int_equal(name_len, 255);
  assert_memory_equal(name, msg + DNS_HEADER_SIZE, 255);
  len = DNS_HEADER_SIZE + put_long_name(msg + DNS_HEADER_SIZE, 256);
  assert_int_equal(name_at(msg, len, DNS_HEADER_SIZE, NULL),
                   DNS_NAME_TOO_LONG);

  /* Compressed: a label in front of a 200-octet name met earlier. */
  len = DNS_HEADER_SIZE + put_long_name(msg + DNS_HEADER_SIZE, 200);
  for (size_t label = 54; label <= 55; label++) {
    size_t at = len;
    msg[at] = (uint8_t)label;
    memset(msg + at + 1, 'y', label);
    msg[at + 1 + label] = 0xc0;
    msg[at + 2 + label] = DNS_HEADER_SIZE;
    size_t end = at + 3 + label;
    if (label == 54) {
      r = dns_reader(msg, end);
      r.pos = at;
      assert_int_equal(dns_read_name(&r, name, &name_len), DNS_NAME_OK);
      assert_int_equal(name_len, 255);
      assert_int_equal(name[0], 54);
      assert_memory_equal(name + 55, msg + DNS_HEADER_SIZE, 200);
      assert_int_equal(r.pos, end);
    } else {
      assert_int_equal(name_at(msg, end, at, NULL), DNS_NAME_TOO_LONG);
    }
  }
}

static void test_labels_of_63_read_and_64_do_not(void **state) {
  uint8_t body[1 + 64 + 1];
  uint8_t msg[128];
  size_t name_len;
  (void)state;

  body[0] = 63;
  memset(body + 1, 'x', 63);
  body[64] = 0;
  size_t len = msg_with(msg, body, 65);
  assert_int_equal(name_at(msg, len, 12, &name_len), DNS_NAME_OK);
  assert_int_equal(name_len, 65);
  body[0] = 64;
  memset(body + 1, 'x', 64);
  body[65] = 0;
  len = msg_with(msg, body, 66);
  assert_int_equal(name_at(msg, len, 12, NULL), DNS_NAME_BAD_LABEL);
  body[0] = 0x80; /* the reserved 10 type */
  assert_int_equal(name_at(msg, msg_with(msg, body, 66), 12, NULL),
                   DNS_NAME_BAD_LABEL);
}

static void test_pointer_in_the_first_question_is_bad(void **state) {
  const uint8_t body[] = {0xc0, 0x0c, 0x00, 0x01, 0x00, 0x01};
  uint8_t msg[64];
  dns_question_t q;
  (void)state;
  dns_reader_t r = dns_reader(msg, msg_with(msg, body, sizeof(body)));
  r.pos = DNS_HEADER_SIZE;
  assert_false(dns_read_question(&r, &q));
  assert_int_equal(r.pos, DNS_HEADER_SIZE);
}

static void test_rdlength_past_the_end_is_reported(void **state) {
  uint8_t msg[sizeof(reply_mail)];
  dns_record_t rr;
  (void)state;

  memcpy(msg, reply_mail, sizeof(msg));
  msg[MAIL_OPT_AT + 10] = 1; /* OPT RDLENGTH 1, no byte left */
  dns_reader_t r = dns_reader(msg, sizeof(msg));
  r.pos = MAIL_OPT_AT;
  assert_int_equal(dns_read_record(&r, &rr), DNS_RECORD_RDATA_PAST_END);
  assert_int_equal(r.pos, MAIL_OPT_AT);
  /* Fixed fields cut short are malformed. */
  r = dns_reader(msg, MAIL_OPT_AT + 9);
  r.pos = MAIL_OPT_AT;
  assert_int_equal(dns_read_record(&r, &rr), DNS_RECORD_MALFORMED);
  /* So is a record whose owner name is bad. */
  msg[MAIL_ANSWER2_AT + 6] = MAIL_ANSWER2_AT; /* "mail" + pointer to itself */
  r = dns_reader(msg, sizeof(msg));
  r.pos = MAIL_ANSWER2_AT;
  assert_int_equal(dns_read_record(&r, &rr), DNS_RECORD_MALFORMED);
}

static void test_rcode_takes_only_the_additional_sections_opt(void **state) {
  uint8_t msg[sizeof(reply_mail)];
  dns_header_t h;
  dns_question_t q;
  (void)state;

  memcpy(msg, reply_mail, sizeof(msg));
  msg[3] = 0x83; /* NXDOMAIN, and ext rcode 1 on top: 19 */
  dns_reader_t r = dns_reader(msg, sizeof(msg));
  assert_true(dns_read_header(&r, &h) && dns_read_question(&r, &q));
  assert_int_equal(dns_read_rcode(&r, &h), 19);
  /* The same OPT counted as an answer: not an OPT that speaks for the
   * message. */
  h.ancount = 3;
  h.arcount = 0;
  assert_int_equal(dns_read_rcode(&r, &h), DNS_RCODE_NXDOMAIN);
  h.ancount = 2;
  h.arcount = 1;
  assert_int_equal(dns_read_rcode(&r, &h), 19);
  /* An OPT with ext rcode 0 leaves the header's. */
  msg[MAIL_OPT_AT + 5] = 0;
  assert_int_equal(dns_read_rcode(&r, &h), DNS_RCODE_NXDOMAIN);
}

/* ---- error replies ---- */

static void test_error_reply_without_edns_is_byte_exact(void **state) {
  static const struct {
    unsigned rcode;
    dns_recursion_t recursion;
    uint8_t flags_lo;
  } cases[] = {
      {DNS_RCODE_SERVFAIL, DNS_RECURSION_UNAVAILABLE, 0x02},
      {DNS_RCODE_SERVFAIL, DNS_RECURSION_AVAILABLE, 0x82},
      {DNS_RCODE_REFUSED, DNS_RECURSION_UNAVAILABLE, 0x05},
      {DNS_RCODE_REFUSED, DNS_RECURSION_AVAILABLE, 0x85},
  };
  dns_query_t q;
  uint8_t out[512];
  (void)state;

  assert_int_equal(dns_parse_query(q_facebook_plain, sizeof(q_facebook_plain),
                                   &q),
                   DNS_PARSE_OK);
  for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
    uint8_t want[sizeof(q_facebook_plain)] = {
        0xbe, 0xef,           /* ID echoed */
        0x81, cases[i].flags_lo, /* QR RD, AA=0, RA as asked, the rcode */
        0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    };
    memcpy(want + 12, q_facebook_plain + 12, FACEBOOK_QUESTION_LEN);
    size_t n = dns_build_error(&q, cases[i].rcode, cases[i].recursion, out,
                               sizeof(out), dns_udp_limit(&q));
    assert_int_equal(n, sizeof(want));
    assert_memory_equal(out, want, sizeof(want));
  }
}

static void test_error_reply_with_edns_carries_opt(void **state) {
  static const unsigned rcodes[] = {DNS_RCODE_SERVFAIL, DNS_RCODE_REFUSED};
  const uint8_t want_opt[] = {
      0x00, 0x00, 0x29,       /* root, OPT */
      0x04, 0xd0,             /* our UDP size */
      0x00, 0x00, 0x80, 0x00, /* ext rcode 0, version 0, DO echoed */
      0x00, 0x00,             /* no options */
  };
  uint8_t p[sizeof(q_facebook_dig)];
  dns_query_t q;
  uint8_t out[512];
  (void)state;

  memcpy(p, q_facebook_dig, sizeof(p));
  p[OFF_OPT_DO] = 0x80;
  assert_int_equal(dns_parse_query(p, sizeof(p), &q), DNS_PARSE_OK);
  for (size_t i = 0; i < ARRAY_LEN(rcodes); i++) {
    size_t n = dns_build_error(&q, rcodes[i], DNS_RECURSION_AVAILABLE, out,
                               sizeof(out), dns_udp_limit(&q));
    assert_int_equal(n, 12 + FACEBOOK_QUESTION_LEN + sizeof(want_opt));
    assert_int_equal(out[0], 0x4a);
    assert_int_equal(out[2], 0x81);               /* QR RD; AA=0 */
    assert_int_equal(out[3], 0x80 | rcodes[i]);   /* RA; AD not copied */
    assert_int_equal(out[5], 1);                  /* QDCOUNT */
    assert_int_equal(out[7], 0);                  /* ANCOUNT */
    assert_int_equal(out[11], 1);                 /* ARCOUNT: the OPT */
    assert_memory_equal(out + 12, p + 12, FACEBOOK_QUESTION_LEN);
    assert_memory_equal(out + n - sizeof(want_opt), want_opt,
                        sizeof(want_opt));
    /* And it reads back as what it says. */
    dns_reader_t r = dns_reader(out, n);
    dns_header_t h;
    dns_question_t qq;
    assert_true(dns_read_header(&r, &h) && dns_read_question(&r, &qq));
    assert_int_equal(dns_read_rcode(&r, &h), rcodes[i]);
  }
}

static void test_error_reply_without_question_or_room(void **state) {
  uint8_t p[sizeof(q_facebook_plain)];
  dns_query_t q;
  uint8_t out[512];
  (void)state;

  memcpy(p, q_facebook_plain, sizeof(p));
  p[OFF_QDCOUNT_LO] = 2;
  assert_int_equal(dns_parse_query(p, sizeof(p), &q), DNS_PARSE_FORMERR);
  assert_false(q.has_question);
  size_t n = dns_build_error(&q, DNS_RCODE_SERVFAIL, DNS_RECURSION_UNAVAILABLE,
                             out, sizeof(out), 512);
  assert_int_equal(n, DNS_HEADER_SIZE);
  assert_int_equal(out[5], 0); /* QDCOUNT */
  assert_int_equal(out[3], DNS_RCODE_SERVFAIL);

  assert_int_equal(dns_parse_query(q_facebook_plain, sizeof(q_facebook_plain),
                                   &q),
                   DNS_PARSE_OK);
  assert_int_equal(dns_build_error(&q, DNS_RCODE_REFUSED,
                                   DNS_RECURSION_UNAVAILABLE, out, sizeof(out),
                                   12 + FACEBOOK_QUESTION_LEN - 1),
                   0);
  assert_int_equal(dns_build_error(&q, DNS_RCODE_REFUSED,
                                   DNS_RECURSION_UNAVAILABLE, out,
                                   12 + FACEBOOK_QUESTION_LEN, 512),
                   12 + FACEBOOK_QUESTION_LEN);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_plain_dig_query_parses),
      cmocka_unit_test(test_dig_query_with_opt_and_cookie_parses),
      cmocka_unit_test(test_do_bit_is_read_from_opt_ttl),
      cmocka_unit_test(test_query_without_rd_parses_rd_false),
      cmocka_unit_test(test_root_name_query_parses),
      cmocka_unit_test(test_name_of_255_octets_is_accepted),
      cmocka_unit_test(test_compressed_owner_in_additional_is_skipped),
      cmocka_unit_test(test_records_in_answer_and_authority_are_skipped),
      cmocka_unit_test(test_bytes_after_last_record_are_ignored),
      cmocka_unit_test(test_header_of_11_bytes_is_dropped),
      cmocka_unit_test(test_response_bit_set_is_dropped),
      cmocka_unit_test(test_header_only_with_qdcount_1_is_formerr),
      cmocka_unit_test(test_label_running_past_the_end_is_formerr),
      cmocka_unit_test(test_missing_qtype_or_qclass_is_formerr),
      cmocka_unit_test(test_query_with_pointer_loop_in_qname_is_formerr),
      cmocka_unit_test(test_query_with_forward_pointer_in_qname_is_formerr),
      cmocka_unit_test(test_query_with_pointer_to_header_is_formerr),
      cmocka_unit_test(test_extended_label_types_are_formerr),
      cmocka_unit_test(test_label_of_64_is_formerr),
      cmocka_unit_test(test_name_of_256_octets_is_formerr),
      cmocka_unit_test(test_qdcount_0_is_formerr),
      cmocka_unit_test(test_qdcount_2_is_formerr),
      cmocka_unit_test(test_truncated_additional_record_is_formerr),
      cmocka_unit_test(test_two_opts_are_formerr),
      cmocka_unit_test(test_opt_with_option_overrunning_rdata_is_formerr),
      cmocka_unit_test(test_opt_with_partial_option_header_is_formerr),
      cmocka_unit_test(test_opt_with_non_root_owner_is_formerr),
      cmocka_unit_test(test_bad_label_in_additional_owner_is_formerr),
      cmocka_unit_test(test_opcode_status_is_notimp_with_question),
      cmocka_unit_test(test_unknown_opcode_wins_over_a_malformed_body),
      cmocka_unit_test(test_class_ch_is_refused),
      cmocka_unit_test(test_class_any_is_refused),
      cmocka_unit_test(test_edns_version_1_is_badvers),
      cmocka_unit_test(test_formerr_wins_over_badvers_and_refused),
      cmocka_unit_test(test_badvers_wins_over_refused),
      cmocka_unit_test(test_udp_limit_without_edns_is_512),
      cmocka_unit_test(test_udp_limit_with_edns_is_clamped),
      cmocka_unit_test(test_name_lower_folds_ascii_only),
      cmocka_unit_test(test_name_lower_refuses_small_buffer),
      cmocka_unit_test(test_plain_response_is_byte_exact),
      cmocka_unit_test(test_edns_response_carries_opt_and_clears_ad),
      cmocka_unit_test(test_do_bit_is_echoed_in_opt),
      cmocka_unit_test(test_badvers_puts_extended_rcode_in_opt),
      cmocka_unit_test(test_question_is_echoed_with_its_case),
      cmocka_unit_test(test_response_without_question_has_qdcount_0),
      cmocka_unit_test(test_notimp_response_copies_opcode),
      cmocka_unit_test(test_answers_over_limit_set_tc_and_keep_opt),
      cmocka_unit_test(test_build_truncated_is_the_same_tc_reply),
      cmocka_unit_test(test_cap_below_limit_also_truncates),
      cmocka_unit_test(test_build_returns_0_when_question_does_not_fit),
      cmocka_unit_test(test_answers_without_question_build_nothing),
      cmocka_unit_test(test_reader_fetches_fail_at_the_end_without_moving),
      cmocka_unit_test(test_reply_with_compression_reads_whole),
      cmocka_unit_test(test_reply_truncated_at_every_offset_fails_inside),
      cmocka_unit_test(test_pointer_to_itself_is_bad),
      cmocka_unit_test(test_pointer_loop_is_bad),
      cmocka_unit_test(test_forward_pointer_is_bad_even_to_a_good_name),
      cmocka_unit_test(test_pointer_into_the_header_is_bad),
      cmocka_unit_test(test_pointer_cut_after_its_first_octet_is_truncated),
      cmocka_unit_test(test_pointer_hops_are_bounded),
      cmocka_unit_test(test_names_of_255_octets_read_and_256_do_not),
      cmocka_unit_test(test_labels_of_63_read_and_64_do_not),
      cmocka_unit_test(test_pointer_in_the_first_question_is_bad),
      cmocka_unit_test(test_rdlength_past_the_end_is_reported),
      cmocka_unit_test(test_rcode_takes_only_the_additional_sections_opt),
      cmocka_unit_test(test_error_reply_without_edns_is_byte_exact),
      cmocka_unit_test(test_error_reply_with_edns_carries_opt),
      cmocka_unit_test(test_error_reply_without_question_or_room),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
