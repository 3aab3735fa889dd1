/* Unit tests for dns_stats: counting replies by qtype and rcode. */
#include "test_util.h"

#include "dns_stats.h"
#include "dns_wire.h"
#include "dns_zone.h"

static size_t answer(const dns_zone_t *zone, const uint8_t *q, size_t qlen,
                     uint8_t *out, size_t cap) {
  size_t len = 0;
  assert_int_equal(dns_zone_answer(zone, DNS_TRANSPORT_UDP, q, qlen, out, cap, &len),
                   DNS_REPLY_SEND);
  return len;
}

/* "facebook.com" IN <type>, RD, optionally with an OPT of version v. */
static size_t make_query(uint8_t *buf, uint16_t qtype, uint16_t qclass,
                         int edns_version) {
  static const uint8_t head[] = {0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0,
                                 8, 'f', 'a', 'c', 'e', 'b', 'o', 'o', 'k',
                                 3, 'c', 'o', 'm', 0};
  size_t n = sizeof(head);
  memcpy(buf, head, n);
  buf[n++] = (uint8_t)(qtype >> 8);
  buf[n++] = (uint8_t)qtype;
  buf[n++] = (uint8_t)(qclass >> 8);
  buf[n++] = (uint8_t)qclass;
  if (edns_version >= 0) {
    buf[11] = 1;
    const uint8_t opt[] = {0, 0, 41, 0x04, 0xd0, 0, (uint8_t)edns_version, 0, 0, 0, 0};
    memcpy(buf + n, opt, sizeof(opt));
    n += sizeof(opt);
  }
  return n;
}

static void test_counts_by_qtype_and_rcode(void **state) {
  (void)state;
  dns_zone_options_t opts;
  dns_zone_options_default(&opts);
  dns_zone_t *zone = dns_zone_new(dns_map_new_default(), &opts);
  assert_non_null(zone);
  dns_stats_t st;
  memset(&st, 0, sizeof(st));
  uint8_t q[64], out[512];
  size_t n;

  n = make_query(q, DNS_TYPE_A, DNS_CLASS_IN, -1);
  dns_stats_count(&st, out, answer(zone, q, n, out, sizeof(out)));
  dns_stats_count(&st, out, answer(zone, q, n, out, sizeof(out)));
  n = make_query(q, DNS_TYPE_AAAA, DNS_CLASS_IN, 0);
  dns_stats_count(&st, out, answer(zone, q, n, out, sizeof(out)));
  n = make_query(q, DNS_TYPE_MX, 3 /* CH */, -1);
  dns_stats_count(&st, out, answer(zone, q, n, out, sizeof(out)));
  n = make_query(q, DNS_TYPE_TXT, DNS_CLASS_IN, 1);
  dns_stats_count(&st, out, answer(zone, q, n, out, sizeof(out)));
  n = make_query(q, 99, DNS_CLASS_IN, -1);
  dns_stats_count(&st, out, answer(zone, q, n, out, sizeof(out)));
  n = make_query(q, DNS_TYPE_A, DNS_CLASS_IN, -1);
  q[5] = 2; /* qdcount 2: FORMERR without a question */
  dns_stats_count(&st, out, answer(zone, q, n, out, sizeof(out)));

  assert_int_equal(st.replies[DNS_STATS_QTYPE_A][DNS_STATS_RCODE_NOERROR], 2);
  assert_int_equal(st.replies[DNS_STATS_QTYPE_AAAA][DNS_STATS_RCODE_NOERROR], 1);
  assert_int_equal(st.replies[DNS_STATS_QTYPE_MX][DNS_STATS_RCODE_REFUSED], 1);
  assert_int_equal(st.replies[DNS_STATS_QTYPE_TXT][DNS_STATS_RCODE_BADVERS], 1);
  assert_int_equal(st.replies[DNS_STATS_QTYPE_OTHER][DNS_STATS_RCODE_NOERROR], 1);
  assert_int_equal(st.replies[DNS_STATS_QTYPE_NONE][DNS_STATS_RCODE_FORMERR], 1);
  uint64_t total = 0;
  for (int t = 0; t < DNS_STATS_QTYPES; t++)
    for (int r = 0; r < DNS_STATS_RCODES; r++)
      total += st.replies[t][r];
  assert_int_equal(total, 7);
  assert_int_equal(st.truncated, 0);
  dns_zone_free(zone);
}

static void test_hist_buckets_are_inclusive_and_sum_in_microseconds(void **state) {
  (void)state;
  dns_hist_t h = {0}, total = {0};
  dns_hist_observe(&h, 0, 1);
  dns_hist_observe(&h, 50, 2);    /* on the first bound: still bucket 0 */
  dns_hist_observe(&h, 51, 1);
  dns_hist_observe(&h, 5000000, 1);
  dns_hist_observe(&h, 5000001, 3);
  assert_int_equal(h.counts[0], 3);
  assert_int_equal(h.counts[1], 1);
  assert_int_equal(h.counts[DNS_HIST_BOUNDS - 1], 1);
  assert_int_equal(h.counts[DNS_HIST_BOUNDS], 3);
  assert_int_equal(h.sum_us, 100 + 51 + 5000000 + 3 * 5000001ull);
  dns_hist_add(&total, &h);
  dns_hist_add(&total, &h);
  assert_int_equal(total.counts[0], 6);
  assert_int_equal(total.sum_us, 2 * h.sum_us);
  for (size_t i = 1; i < DNS_HIST_BOUNDS; i++)
    assert_true(dns_hist_bounds_us[i] > dns_hist_bounds_us[i - 1]);
}

static void test_short_or_odd_replies_never_read_past_the_end(void **state) {
  (void)state;
  dns_stats_t st;
  memset(&st, 0, sizeof(st));
  const uint8_t tiny[4] = {0};
  dns_stats_count(&st, tiny, sizeof(tiny)); /* shorter than a header: ignored */
  uint8_t cut[13] = {0, 0, 0x82, 0x03, 0, 1, 0, 0, 0, 0, 0, 0, 9};
  dns_stats_count(&st, cut, sizeof(cut)); /* label past the end */
  assert_int_equal(st.replies[DNS_STATS_QTYPE_NONE][DNS_STATS_RCODE_NXDOMAIN], 1);
  assert_int_equal(st.truncated, 1);
  assert_string_equal(dns_stats_qtype_name(DNS_STATS_QTYPE_AAAA), "AAAA");
  assert_string_equal(dns_stats_rcode_name(DNS_STATS_RCODE_SERVFAIL), "SERVFAIL");
}

/* A relayed upstream reply need not end with its OPT: the extended rcode
 * is found wherever the OPT stands in the additional section, and only
 * extended rcode 16 is BADVERS. */
static void test_extended_rcode_is_read_from_the_opt_anywhere(void **state) {
  (void)state;
  uint8_t r[] = {
      0x00, 0x07, 0x81, 0x80, 0x00, 0x01, 0x00, 0x01, 0x00, 0x00, 0x00, 0x02,
      3, 'w', 'w', 'w', 0, 0x00, 0x01, 0x00, 0x01,
      0xc0, 0x0c, 0x00, 0x01, 0x00, 0x01, 0x00, 0x00, 0x00, 0x3c, 0x00, 0x04,
      192, 0, 2, 1,
      /* OPT, ext rcode 1 (BADVERS with header rcode 0) */
      0x00, 0x00, 0x29, 0x04, 0xd0, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00,
      /* and a record after it */
      0xc0, 0x0c, 0x00, 0x10, 0x00, 0x01, 0x00, 0x00, 0x00, 0x3c, 0x00, 0x02,
      1, 'x',
  };
  const size_t ext_at = 12 + 9 + 16 + 5;
  dns_stats_t st;
  memset(&st, 0, sizeof(st));
  dns_stats_count(&st, r, sizeof(r));
  assert_int_equal(st.replies[DNS_STATS_QTYPE_A][DNS_STATS_RCODE_BADVERS], 1);
  r[3] = 0x87; /* header 7 + ext 1: 23, BADCOOKIE */
  dns_stats_count(&st, r, sizeof(r));
  assert_int_equal(st.replies[DNS_STATS_QTYPE_A][DNS_STATS_RCODE_OTHER], 1);
  /* A record cut short before the OPT: the header's rcode alone. */
  r[3] = 0x80;
  dns_stats_count(&st, r, ext_at - 5 - 2);
  assert_int_equal(st.replies[DNS_STATS_QTYPE_A][DNS_STATS_RCODE_NOERROR], 1);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_counts_by_qtype_and_rcode),
      cmocka_unit_test(test_short_or_odd_replies_never_read_past_the_end),
      cmocka_unit_test(test_extended_rcode_is_read_from_the_opt_anywhere),
      cmocka_unit_test(test_hist_buckets_are_inclusive_and_sum_in_microseconds),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
