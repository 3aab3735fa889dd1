/* dns_rrl: the token buckets under an injected clock (rate, burst,
 * refill, slip), what shares a bucket (client networks, answers) and what
 * does not, the bounded table, the truncated reply, the configuration's
 * bounds. The last test prints the cost of one account (never asserted). */
#include "test_util.h"
#include "test_addr.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "dns_rrl.h"
#include "dns_wire.h"

/* ---- replies, built by dns_wire as the server builds them ---- */

typedef struct {
  uint8_t data[512];
  size_t len;
} msg_t;

/* A reply to name/qtype with rcode and, when addr is not NULL, one A
 * record of that address; with edns, an OPT. */
static msg_t reply_for(const char *name, uint16_t qtype, unsigned rcode,
                       const char *addr, uint32_t ttl, bool edns) {
  uint8_t q[300];
  size_t n = 0;
  static const uint8_t head[] = {0xab, 0xcd, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0};
  memcpy(q, head, sizeof(head));
  n = sizeof(head);
  for (const char *p = name; *p != '\0';) {
    const char *dot = strchr(p, '.');
    size_t l = dot != NULL ? (size_t)(dot - p) : strlen(p);
    q[n++] = (uint8_t)l;
    memcpy(q + n, p, l);
    n += l;
    p += l + (dot != NULL);
  }
  q[n++] = 0;
  dns_put_be16(q + n, qtype);
  dns_put_be16(q + n + 2, DNS_CLASS_IN);
  n += 4;
  if (edns) {
    static const uint8_t opt[] = {0, 0, 41, 0x04, 0xd0, 0, 0, 0, 0, 0, 0};
    q[11] = 1;
    memcpy(q + n, opt, sizeof(opt));
    n += sizeof(opt);
  }
  dns_query_t query;
  assert_int_equal(dns_parse_query(q, n, &query), DNS_PARSE_OK);
  uint8_t rdata[4];
  dns_rr_t rr = {DNS_TYPE_A, sizeof(rdata), rdata};
  if (addr != NULL)
    assert_int_equal(inet_pton(AF_INET, addr, rdata), 1);
  msg_t m;
  m.len = dns_build_response(&query, rcode, addr != NULL ? &rr : NULL,
                             addr != NULL ? 1 : 0, ttl, m.data,
                             sizeof(m.data), sizeof(m.data));
  assert_true(m.len > 0);
  return m;
}

static msg_t answer_a(const char *name, const char *addr) {
  return reply_for(name, DNS_TYPE_A, DNS_RCODE_NOERROR, addr, 60, false);
}

static dns_rrl_t *rrl_new(uint32_t rate, uint32_t slip, size_t table) {
  dns_rrl_config_t cfg = {rate, slip, table, 0x5eed};
  dns_rrl_t *rrl = dns_rrl_new(&cfg);
  assert_non_null(rrl);
  return rrl;
}

static dns_rrl_action_t account(dns_rrl_t *rrl, const char *from,
                                const msg_t *m, uint64_t now) {
  struct sockaddr_storage ss = test_addr(from);
  return dns_rrl_account(rrl, (struct sockaddr *)&ss, m->data, m->len, now);
}

/* How many of n replies at time now go out in full. */
static unsigned sends(dns_rrl_t *rrl, const char *from, const msg_t *m,
                      unsigned n, uint64_t now) {
  unsigned sent = 0;
  for (unsigned i = 0; i < n; i++)
    sent += account(rrl, from, m, now) == DNS_RRL_SEND;
  return sent;
}

/* ---- the bucket ---- */

static void test_a_burst_of_rate_goes_out_then_nothing(void **state) {
  (void)state;
  dns_rrl_t *rrl = rrl_new(10, 0, 0);
  msg_t m = answer_a("a.example", "192.0.2.1");
  assert_int_equal(sends(rrl, "198.51.100.1", &m, 10, 1000), 10);
  assert_int_equal(account(rrl, "198.51.100.1", &m, 1000), DNS_RRL_DROP);
  assert_int_equal(account(rrl, "198.51.100.1", &m, 1000), DNS_RRL_DROP);
  dns_rrl_stats_t st;
  dns_rrl_stats(rrl, &st);
  assert_int_equal(st.sent, 10);
  assert_int_equal(st.dropped, 2);
  assert_int_equal(st.slipped, 0);
  dns_rrl_free(rrl);
}

static void test_the_bucket_refills_at_rate_up_to_one_second(void **state) {
  (void)state;
  dns_rrl_t *rrl = rrl_new(10, 0, 0);
  msg_t m = answer_a("a.example", "192.0.2.1");
  const char *c = "198.51.100.1";
  assert_int_equal(sends(rrl, c, &m, 20, 0), 10);
  /* 10/s is one per 100 ms: 99 ms is not enough, 100 is. */
  assert_int_equal(sends(rrl, c, &m, 5, 99), 0);
  assert_int_equal(sends(rrl, c, &m, 5, 100), 1);
  /* Tokens accrue in thousandths: ten 50 ms steps give five replies. */
  unsigned sent = 0;
  for (uint64_t t = 150; t <= 600; t += 50)
    sent += sends(rrl, c, &m, 3, t);
  assert_int_equal(sent, 5);
  /* A long silence refills one second's worth, never more. */
  assert_int_equal(sends(rrl, c, &m, 50, 100000), 10);
  dns_rrl_free(rrl);
}

static void test_a_rate_of_one_needs_a_whole_second(void **state) {
  (void)state;
  dns_rrl_t *rrl = rrl_new(1, 0, 0);
  msg_t m = answer_a("a.example", "192.0.2.1");
  assert_int_equal(sends(rrl, "203.0.113.9", &m, 3, 5000), 1);
  assert_int_equal(sends(rrl, "203.0.113.9", &m, 3, 5999), 0);
  assert_int_equal(sends(rrl, "203.0.113.9", &m, 3, 6000), 1);
  dns_rrl_free(rrl);
}

static void test_the_clock_may_wrap_32_bits(void **state) {
  (void)state;
  dns_rrl_t *rrl = rrl_new(10, 0, 0);
  msg_t m = answer_a("a.example", "192.0.2.1");
  uint64_t t = 0xFFFFFF00u;
  assert_int_equal(sends(rrl, "198.51.100.1", &m, 20, t), 10);
  /* 0x100 + 0x100 = 512 ms later, across the wrap: five replies. */
  assert_int_equal(sends(rrl, "198.51.100.1", &m, 20, t + 512), 5);
  dns_rrl_free(rrl);
}

static void test_every_slip_th_drop_is_truncated(void **state) {
  (void)state;
  msg_t m = answer_a("a.example", "192.0.2.1");
  dns_rrl_t *rrl = rrl_new(5, 2, 0);
  assert_int_equal(sends(rrl, "198.51.100.1", &m, 5, 0), 5);
  static const dns_rrl_action_t want2[] = {DNS_RRL_DROP, DNS_RRL_SLIP,
                                           DNS_RRL_DROP, DNS_RRL_SLIP};
  for (size_t i = 0; i < ARRAY_LEN(want2); i++)
    assert_int_equal(account(rrl, "198.51.100.1", &m, 0), want2[i]);
  dns_rrl_stats_t st;
  dns_rrl_stats(rrl, &st);
  assert_int_equal(st.dropped, 2);
  assert_int_equal(st.slipped, 2);
  dns_rrl_free(rrl);

  /* slip 1: every reply past the rate is truncated, none dropped. */
  rrl = rrl_new(5, 1, 0);
  assert_int_equal(sends(rrl, "198.51.100.1", &m, 5, 0), 5);
  for (int i = 0; i < 4; i++)
    assert_int_equal(account(rrl, "198.51.100.1", &m, 0), DNS_RRL_SLIP);
  dns_rrl_free(rrl);

  /* slip 3: the third, sixth... */
  rrl = rrl_new(5, 3, 0);
  assert_int_equal(sends(rrl, "198.51.100.1", &m, 5, 0), 5);
  unsigned slips = 0;
  for (int i = 0; i < 9; i++)
    slips += account(rrl, "198.51.100.1", &m, 0) == DNS_RRL_SLIP;
  assert_int_equal(slips, 3);
  dns_rrl_free(rrl);
}

/* ---- what shares a bucket ---- */

/* Exhaust the bucket of (from, m), then say whether other is limited
 * with it. */
static bool shares(const char *from, const msg_t *m, const char *other_from,
                   const msg_t *other) {
  dns_rrl_t *rrl = rrl_new(3, 0, 0);
  assert_int_equal(sends(rrl, from, m, 10, 0), 3);
  bool limited = account(rrl, other_from, other, 0) != DNS_RRL_SEND;
  dns_rrl_free(rrl);
  return limited;
}

static void test_clients_share_a_bucket_per_24_and_per_56(void **state) {
  (void)state;
  msg_t m = answer_a("a.example", "192.0.2.1");
  assert_true(shares("198.51.100.1", &m, "198.51.100.254", &m));
  assert_false(shares("198.51.100.1", &m, "198.51.101.1", &m));
  assert_true(shares("127.0.0.2", &m, "127.0.0.3", &m));
  assert_false(shares("127.0.0.2", &m, "127.0.1.3", &m));
  /* An IPv4-mapped client is its IPv4 network. */
  assert_true(shares("198.51.100.1", &m, "::ffff:198.51.100.77", &m));
  assert_true(shares("2001:db8:0:100::1", &m, "2001:db8:0:1ff:ffff::9", &m));
  assert_false(shares("2001:db8:0:100::1", &m, "2001:db8:0:200::1", &m));
  assert_false(shares("2001:db8::1", &m, "198.51.100.1", &m));
}

static void test_the_same_answer_shares_a_bucket_whatever_the_name(
    void **state) {
  (void)state;
  const char *c = "198.51.100.1";
  msg_t a = answer_a("random-1.example", "127.0.0.1");
  msg_t b = answer_a("random-2.other", "127.0.0.1");
  assert_true(shares(c, &a, c, &b));
  msg_t nx1 = reply_for("x1.example", DNS_TYPE_A, DNS_RCODE_NXDOMAIN, NULL, 0,
                        false);
  msg_t nx2 = reply_for("x2.example", DNS_TYPE_A, DNS_RCODE_NXDOMAIN, NULL, 0,
                        false);
  assert_true(shares(c, &nx1, c, &nx2));
  /* The TTL is not the answer: a cached answer keeps its bucket. */
  msg_t aged = reply_for("random-1.example", DNS_TYPE_A, DNS_RCODE_NOERROR,
                         "127.0.0.1", 17, false);
  assert_true(shares(c, &a, c, &aged));
}

static void test_different_answers_have_different_buckets(void **state) {
  (void)state;
  const char *c = "198.51.100.1";
  msg_t a = answer_a("www.example", "192.0.2.1");
  msg_t other_addr = answer_a("www.example", "192.0.2.2");
  msg_t nx = reply_for("www.example", DNS_TYPE_A, DNS_RCODE_NXDOMAIN, NULL, 0,
                       false);
  msg_t refused = reply_for("www.example", DNS_TYPE_A, DNS_RCODE_REFUSED,
                            NULL, 0, false);
  msg_t nodata_aaaa = reply_for("www.example", DNS_TYPE_AAAA,
                                DNS_RCODE_NOERROR, NULL, 0, false);
  msg_t nodata_mx = reply_for("www.example", DNS_TYPE_MX, DNS_RCODE_NOERROR,
                              NULL, 0, false);
  assert_false(shares(c, &a, c, &other_addr));
  assert_false(shares(c, &a, c, &nx));
  assert_false(shares(c, &nx, c, &refused));
  assert_false(shares(c, &nodata_aaaa, c, &nodata_mx));
}

/* ---- the table ---- */

static void test_the_table_is_bounded_and_forgets_the_idlest(void **state) {
  (void)state;
  dns_rrl_t *rrl = rrl_new(2, 0, 100);
  dns_rrl_stats_t st;
  dns_rrl_stats(rrl, &st);
  assert_int_equal(st.table_size, 128);
  assert_int_equal(st.table_bytes, 128 * 16);
  msg_t m = answer_a("a.example", "192.0.2.1");
  /* Far more networks than buckets, all at once: each one's first reply
   * goes out (a new bucket is full), and the table only churns. */
  unsigned sent = 0;
  for (unsigned i = 0; i < 5000; i++) {
    char ip[32];
    snprintf(ip, sizeof(ip), "10.%u.%u.1", i >> 8 & 255, i & 255);
    sent += account(rrl, ip, &m, 0) == DNS_RRL_SEND;
  }
  assert_int_equal(sent, 5000);
  dns_rrl_stats(rrl, &st);
  assert_true(st.evicted >= 5000 - 128);
  dns_rrl_free(rrl);

  /* The idlest bucket goes first, even one that is limiting: a limited
   * network last seen at 0 is forgotten once new keys arrive at 500 in
   * its set (16 sets here, 200 new keys: about 12 per set), and its next
   * reply finds a full bucket. */
  rrl = rrl_new(2, 0, 64);
  assert_int_equal(sends(rrl, "198.51.100.1", &m, 5, 0), 2);
  for (unsigned i = 0; i < 200; i++) {
    char ip[32];
    snprintf(ip, sizeof(ip), "10.0.%u.1", i);
    assert_int_equal(account(rrl, ip, &m, 500), DNS_RRL_SEND);
  }
  assert_int_equal(account(rrl, "198.51.100.1", &m, 500), DNS_RRL_SEND);
  dns_rrl_free(rrl);
}

static void test_config_bounds(void **state) {
  (void)state;
  dns_rrl_config_t cfg = {DNS_RRL_DEFAULT_RATE, DNS_RRL_DEFAULT_SLIP, 0, 1};
  dns_rrl_t *rrl = dns_rrl_new(&cfg);
  assert_non_null(rrl);
  dns_rrl_stats_t st;
  dns_rrl_stats(rrl, &st);
  assert_int_equal(st.table_size, DNS_RRL_DEFAULT_TABLE_SIZE);
  dns_rrl_free(rrl);
  dns_rrl_free(NULL);

  static const dns_rrl_config_t bad[] = {
      {0, 2, 0, 1},
      {DNS_RRL_MAX_RATE + 1, 2, 0, 1},
      {200, DNS_RRL_MAX_SLIP + 1, 0, 1},
      {200, 2, DNS_RRL_MIN_TABLE_SIZE - 1, 1},
      {200, 2, DNS_RRL_MAX_TABLE_SIZE + 1, 1},
  };
  for (size_t i = 0; i < ARRAY_LEN(bad); i++)
    assert_null(dns_rrl_new(&bad[i]));
  static const dns_rrl_config_t edge[] = {
      {1, 0, DNS_RRL_MIN_TABLE_SIZE, 1},
      {DNS_RRL_MAX_RATE, DNS_RRL_MAX_SLIP, DNS_RRL_MIN_TABLE_SIZE, 1},
  };
  for (size_t i = 0; i < ARRAY_LEN(edge); i++) {
    rrl = dns_rrl_new(&edge[i]);
    assert_non_null(rrl);
    dns_rrl_free(rrl);
  }
  /* The top rate still counts right: a second's burst, then nothing. */
  rrl = rrl_new(DNS_RRL_MAX_RATE, 0, 64);
  msg_t m = answer_a("a.example", "192.0.2.1");
  assert_int_equal(sends(rrl, "198.51.100.1", &m, DNS_RRL_MAX_RATE + 5, 7),
                   DNS_RRL_MAX_RATE);
  /* 4295 ms at that rate is 2^32 thousandths and a little: the refill
   * must be capped before it is multiplied, or it wraps to almost
   * nothing. */
  assert_int_equal(sends(rrl, "198.51.100.1", &m, DNS_RRL_MAX_RATE + 5,
                         7 + 4295),
                   DNS_RRL_MAX_RATE);
  dns_rrl_free(rrl);
}

static void test_odd_replies_are_limited_not_misread(void **state) {
  (void)state;
  dns_rrl_t *rrl = rrl_new(2, 0, 64);
  /* A header alone, a question cut short, a name of bad labels. */
  uint8_t header[12] = {1, 2, 0x81, 0x80, 0, 1, 0, 1, 0, 0, 0, 0};
  uint8_t cut[16] = {1, 2, 0x81, 0x80, 0, 1, 0, 1, 0, 0, 0, 0, 9, 'a', 'b', 'c'};
  uint8_t bad[20] = {1, 2, 0x81, 0x80, 0, 1, 0, 1, 0, 0, 0, 0, 0x80, 1, 2};
  struct sockaddr_storage ss = test_addr("198.51.100.1");
  const struct sockaddr *sa = (struct sockaddr *)&ss;
  unsigned sent = 0;
  for (int i = 0; i < 5; i++) {
    sent += dns_rrl_account(rrl, sa, header, sizeof(header), 0) == DNS_RRL_SEND;
    sent += dns_rrl_account(rrl, sa, cut, sizeof(cut), 0) == DNS_RRL_SEND;
    sent += dns_rrl_account(rrl, sa, bad, sizeof(bad), 0) == DNS_RRL_SEND;
  }
  /* None of them has a readable question: they share the one bucket of
   * their header and client, and are limited together. */
  assert_int_equal(sent, 2);
  /* Shorter than a header: not DNS, not counted against anyone. */
  assert_int_equal(dns_rrl_account(rrl, sa, header, 11, 0), DNS_RRL_SEND);
  dns_rrl_free(rrl);
}

/* ---- the truncated reply ---- */

static void test_truncate_keeps_header_question_and_opt(void **state) {
  (void)state;
  msg_t m = reply_for("www.example", DNS_TYPE_A, DNS_RCODE_NOERROR,
                      "192.0.2.1", 60, true);
  uint8_t out[512];
  size_t n = dns_rrl_truncate(m.data, m.len, out, sizeof(out));
  size_t question = 1 + 3 + 1 + 7 + 1 + 4;
  assert_int_equal(n, DNS_HEADER_SIZE + question + 11);
  assert_int_equal(dns_get_be16(out), 0xabcd);
  uint16_t flags = dns_get_be16(out + 2);
  assert_true(flags & 0x8000);          /* QR */
  assert_true(flags & 0x0200);          /* TC */
  assert_true(flags & 0x0100);          /* RD copied */
  assert_int_equal(flags & 0x000F, DNS_RCODE_NOERROR);
  assert_int_equal(dns_get_be16(out + 4), 1);
  assert_int_equal(dns_get_be16(out + 6), 0);
  assert_int_equal(dns_get_be16(out + 8), 0);
  assert_int_equal(dns_get_be16(out + 10), 1);
  assert_memory_equal(out + 12, m.data + 12, question);
  assert_memory_equal(out + n - 11, m.data + m.len - 11, 11);
  /* What we send must read back as a query's reply: the parser takes it
   * (as a query, QR aside) with the question intact. */
  out[2] &= 0x7F;
  dns_query_t q;
  assert_int_equal(dns_parse_query(out, n, &q), DNS_PARSE_OK);
  assert_int_equal(q.qtype, DNS_TYPE_A);
  assert_true(q.has_edns);

  /* Without EDNS: no OPT. */
  m = answer_a("www.example", "192.0.2.1");
  n = dns_rrl_truncate(m.data, m.len, out, sizeof(out));
  assert_int_equal(n, DNS_HEADER_SIZE + question);
  assert_int_equal(dns_get_be16(out + 10), 0);

  /* No room, no header: nothing. */
  assert_int_equal(dns_rrl_truncate(m.data, m.len, out, DNS_HEADER_SIZE + 3), 0);
  assert_int_equal(dns_rrl_truncate(m.data, 11, out, sizeof(out)), 0);
  /* A question that cannot be read: the header alone, QDCOUNT 0. */
  uint8_t odd[16] = {1, 2, 0x81, 0x80, 0, 1, 0, 1, 0, 0, 0, 0, 9, 'a', 'b', 'c'};
  n = dns_rrl_truncate(odd, sizeof(odd), out, sizeof(out));
  assert_int_equal(n, DNS_HEADER_SIZE);
  assert_int_equal(dns_get_be16(out + 4), 0);
  assert_int_equal(dns_get_be16(out + 2), 0x8380);
}

/* ---- cost ---- */

static double now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

/* One account for an A reply with EDNS, from 4096 /24s (spread over the
 * default table), at NSD's rate: what a UDP reply pays. */
static void test_account_cost_is_printed(void **state) {
  (void)state;
  enum { CLIENTS = 4096, ROUNDS = 500 };
  static struct sockaddr_in from[CLIENTS];
  for (size_t i = 0; i < CLIENTS; i++) {
    from[i].sin_family = AF_INET;
    from[i].sin_addr.s_addr = htonl(0x0A000000u | (uint32_t)i << 8 | 7);
  }
  msg_t m = reply_for("www.example.com", DNS_TYPE_A, DNS_RCODE_NOERROR,
                      "192.0.2.1", 60, true);
  dns_rrl_t *rrl = rrl_new(DNS_RRL_DEFAULT_RATE, DNS_RRL_DEFAULT_SLIP, 0);
  size_t sent = 0;
  double t0 = now_ns();
  for (unsigned r = 0; r < ROUNDS; r++) {
    for (size_t i = 0; i < CLIENTS; i++)
      sent += dns_rrl_account(rrl, (struct sockaddr *)&from[i], m.data, m.len,
                              r) == DNS_RRL_SEND;
  }
  double ns = (now_ns() - t0) / ((double)ROUNDS * CLIENTS);
  printf("dns_rrl: %.1f ns per account (%zu of %u sent)\n", ns, sent,
         ROUNDS * CLIENTS);
  dns_rrl_free(rrl);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_a_burst_of_rate_goes_out_then_nothing),
      cmocka_unit_test(test_the_bucket_refills_at_rate_up_to_one_second),
      cmocka_unit_test(test_a_rate_of_one_needs_a_whole_second),
      cmocka_unit_test(test_the_clock_may_wrap_32_bits),
      cmocka_unit_test(test_every_slip_th_drop_is_truncated),
      cmocka_unit_test(test_clients_share_a_bucket_per_24_and_per_56),
      cmocka_unit_test(test_the_same_answer_shares_a_bucket_whatever_the_name),
      cmocka_unit_test(test_different_answers_have_different_buckets),
      cmocka_unit_test(test_the_table_is_bounded_and_forgets_the_idlest),
      cmocka_unit_test(test_config_bounds),
      cmocka_unit_test(test_odd_replies_are_limited_not_misread),
      cmocka_unit_test(test_truncate_keeps_header_question_and_opt),
      cmocka_unit_test(test_account_cost_is_printed),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
