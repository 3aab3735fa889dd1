/* load_check: the load generator's verdicts on sort and DNS replies, and
 * the exact number handling they rest on. */
#include "test_util.h"

#include <stdlib.h>

#include "load_check.h"
#include "load_payload.h"

/* ---- numbers ---- */

static load_num_t I(int64_t v) {
  load_num_t n = {LOAD_NUM_INT, v, 0.0};
  return n;
}

static load_num_t D(double v) {
  load_num_t n = {LOAD_NUM_DOUBLE, 0, v};
  return n;
}

static void test_int_double_compare_is_exact(void **state) {
  (void)state;
  load_num_t a = I(9007199254740993), b = D(9007199254740992.0);
  /* As doubles both would be 2^53; exactly, the integer is larger. */
  assert_true(load_num_cmp(&a, &b) > 0);
  assert_true(load_num_cmp(&b, &a) < 0);
  load_num_t c = I(1), d = D(1.0), e = D(1.5), f = D(-0.5), g = I(0);
  assert_int_equal(load_num_cmp(&c, &d), 0);
  assert_true(load_num_cmp(&c, &e) < 0);
  assert_true(load_num_cmp(&f, &g) < 0);
  load_num_t big = D(1e300), neg = D(-1e300), max = I(INT64_MAX), min = I(INT64_MIN);
  assert_true(load_num_cmp(&max, &big) < 0);
  assert_true(load_num_cmp(&min, &neg) > 0);
  load_num_t two63 = D(9223372036854775808.0);
  assert_true(load_num_cmp(&max, &two63) < 0);
  load_num_t m63 = D(-9223372036854775808.0);
  assert_int_equal(load_num_cmp(&min, &m63), 0);
}

static void test_scan_reads_json_numbers_exactly(void **state) {
  (void)state;
  const char *text = " [ -9223372036854775808, 0, 1.5e3 ,2E-2, -0.0 ]\n";
  load_num_t *v;
  size_t n, pos;
  assert_int_equal(load_num_scan_all(text, strlen(text), &v, &n, &pos), LOAD_SCAN_OK);
  assert_int_equal(n, 5);
  assert_int_equal(v[0].kind, LOAD_NUM_INT);
  assert_true(v[0].i == INT64_MIN);
  assert_int_equal(v[2].kind, LOAD_NUM_DOUBLE);
  assert_true(v[2].d == 1500.0);
  assert_true(v[3].d == 0.02);
  assert_int_equal(v[4].kind, LOAD_NUM_DOUBLE);
  free(v);

  assert_int_equal(load_num_scan_all("[]", 2, &v, &n, &pos), LOAD_SCAN_OK);
  assert_int_equal(n, 0);
  assert_null(v);
}

static void test_scan_rejects_what_json_rejects(void **state) {
  (void)state;
  static const char *const bad[] = {
      "", "[", "[1,]", "[,1]", "[1 2]", "[01]", "[1.]", "[.5]", "[+1]",
      "[1e]", "[\"1\"]", "[true]", "[null]", "[NaN]", "[1] x", "{}", "[[1]]",
  };
  for (size_t i = 0; i < ARRAY_LEN(bad); i++) {
    load_num_t *v;
    size_t n, pos;
    load_scan_status_t st = load_num_scan_all(bad[i], strlen(bad[i]), &v, &n, &pos);
    if (st != LOAD_SCAN_SYNTAX)
      fail_msg("%s: got %d", bad[i], st);
    assert_null(v);
  }
  load_num_t *v;
  size_t n, pos;
  const char *big = "[9223372036854775808]";
  assert_int_equal(load_num_scan_all(big, strlen(big), &v, &n, &pos), LOAD_SCAN_RANGE);
  const char *huge = "[1e999]";
  assert_int_equal(load_num_scan_all(huge, strlen(huge), &v, &n, &pos), LOAD_SCAN_RANGE);
}

static void test_sort_is_stable_like_gnome_sort(void **state) {
  (void)state;
  load_num_t v[] = {I(3), D(1.0), I(2), I(1), D(-0.0), I(0)};
  assert_int_equal(load_num_sort(v, ARRAY_LEN(v)), 0);
  /* 1.0 came before 1, -0.0 before 0: equal values keep input order. */
  assert_int_equal(v[0].kind, LOAD_NUM_DOUBLE);
  assert_int_equal(v[1].kind, LOAD_NUM_INT);
  assert_true(v[1].i == 0);
  assert_int_equal(v[2].kind, LOAD_NUM_DOUBLE);
  assert_true(v[2].d == 1.0);
  assert_int_equal(v[3].kind, LOAD_NUM_INT);
  assert_true(v[3].i == 1);
  assert_true(v[4].i == 2);
  assert_true(v[5].i == 3);
}

/* ---- sort replies ---- */

typedef struct {
  load_num_t *sorted;
  size_t n;
} expect_buf_t;

/* The expectation for a request body, as the generator builds it. */
static load_sort_expect_t expect_for(const char *body, expect_buf_t *keep,
                                     const char *bytes) {
  size_t pos;
  assert_int_equal(load_num_scan_all(body, strlen(body), &keep->sorted, &keep->n, &pos),
                   LOAD_SCAN_OK);
  assert_int_equal(load_num_sort(keep->sorted, keep->n), 0);
  load_sort_expect_t e = {keep->sorted, keep->n, bytes, bytes ? strlen(bytes) : 0};
  return e;
}

static load_sort_result_t check(const char *reply, const load_sort_expect_t *e) {
  return load_check_sort(reply, strlen(reply), e);
}

static void test_sort_reply_correct(void **state) {
  (void)state;
  expect_buf_t k;
  load_sort_expect_t e = expect_for("[3, -1, 2, 2]", &k, "[-1, 2, 2, 3]");
  assert_int_equal(check("[-1, 2, 2, 3]", &e), LOAD_SORT_OK);
  /* Without the expected bytes, or spelled differently: judged by value. */
  e.bytes = NULL;
  assert_int_equal(check("[-1, 2, 2, 3]", &e), LOAD_SORT_OK);
  assert_int_equal(check("[-1,2,2,3]\n", &e), LOAD_SORT_OK);
  free(k.sorted);

  load_sort_expect_t empty = expect_for("[]", &k, NULL);
  assert_int_equal(check("[]", &empty), LOAD_SORT_OK);
  free(k.sorted);
}

static void test_sort_reply_exact_numbers(void **state) {
  (void)state;
  expect_buf_t k;
  load_sort_expect_t e = expect_for("[9007199254740993, 0.1, 1e2, 9007199254740992]",
                                    &k, NULL);
  assert_int_equal(check("[0.1, 100.0, 9007199254740992, 9007199254740993]", &e),
                   LOAD_SORT_OK);
  /* A double-rounding server would send 992 twice. */
  assert_int_equal(check("[0.1, 100.0, 9007199254740992, 9007199254740992]", &e),
                   LOAD_SORT_WRONG_MULTISET);
  /* 100 is not 100.0: dnsortd keeps each number's kind. */
  assert_int_equal(check("[0.1, 100, 9007199254740992, 9007199254740993]", &e),
                   LOAD_SORT_WRONG_MULTISET);
  free(k.sorted);
}

static void test_sort_reply_unsorted(void **state) {
  (void)state;
  expect_buf_t k;
  load_sort_expect_t e = expect_for("[3, 1, 2]", &k, "[1, 2, 3]");
  assert_int_equal(check("[1, 3, 2]", &e), LOAD_SORT_UNSORTED);
  assert_int_equal(check("[3, 1, 2]", &e), LOAD_SORT_UNSORTED);
  /* Unsorted and different: unsorted is the first thing to say. */
  assert_int_equal(check("[3, 2, 9]", &e), LOAD_SORT_UNSORTED);
  free(k.sorted);
}

static void test_sort_reply_wrong_multiset(void **state) {
  (void)state;
  expect_buf_t k;
  load_sort_expect_t e = expect_for("[3, 1, 2]", &k, "[1, 2, 3]");
  assert_int_equal(check("[1, 2]", &e), LOAD_SORT_WRONG_MULTISET);        /* lost */
  assert_int_equal(check("[1, 2, 3, 4]", &e), LOAD_SORT_WRONG_MULTISET);  /* extra */
  assert_int_equal(check("[1, 2, 4]", &e), LOAD_SORT_WRONG_MULTISET);     /* changed */
  assert_int_equal(check("[1, 1, 3]", &e), LOAD_SORT_WRONG_MULTISET);     /* duplicated */
  assert_int_equal(check("[]", &e), LOAD_SORT_WRONG_MULTISET);
  free(k.sorted);
}

static void test_sort_reply_error_object(void **state) {
  (void)state;
  expect_buf_t k;
  load_sort_expect_t e = expect_for("[1]", &k, "[1]");
  assert_int_equal(check("{\"error\": \"too many elements\"}", &e),
                   LOAD_SORT_ERROR_OBJECT);
  assert_int_equal(check(" {\"error\":\"x\"}\n", &e), LOAD_SORT_ERROR_OBJECT);
  /* An object that is not an error reply, or not even JSON, is garbage. */
  assert_int_equal(check("{\"result\": [1]}", &e), LOAD_SORT_MALFORMED);
  assert_int_equal(check("{\"error\": 5}", &e), LOAD_SORT_MALFORMED);
  assert_int_equal(check("{\"error\": \"cut", &e), LOAD_SORT_MALFORMED);
  free(k.sorted);
}

static void test_sort_reply_truncated_or_garbage(void **state) {
  (void)state;
  expect_buf_t k;
  load_sort_expect_t e = expect_for("[10, 20, 30]", &k, "[10, 20, 30]");
  static const char *const bad[] = {
      "[10, 20, 3", "[10, 20, 30", "[10, 20,", "[", "10, 20, 30",
      "[10, 20, 30]]", "[10, 20, \"30\"]", "HTTP/1.1 400 Bad Request\r\n",
  };
  for (size_t i = 0; i < ARRAY_LEN(bad); i++)
    if (check(bad[i], &e) != LOAD_SORT_MALFORMED)
      fail_msg("%s: not malformed", bad[i]);
  assert_int_equal(load_check_sort("", 0, &e), LOAD_SORT_EMPTY);
  /* The reply buffer is not terminated: a number at the very end of it
   * must not be read past its length. */
  char buf[] = {'[', '1', '0', ',', '2', '0', ',', '3', '0', '0'};
  assert_int_equal(load_check_sort(buf, sizeof(buf), &e), LOAD_SORT_MALFORMED);
  free(k.sorted);
}

static void test_generated_payloads_match_their_expectations(void **state) {
  (void)state;
  load_payload_set_t set;
  assert_int_equal(load_payload_generate(&set, 3, 50, 7), 0);
  assert_int_equal(set.count, 3);
  for (size_t i = 0; i < set.count; i++) {
    const load_payload_t *p = &set.items[i];
    load_sort_expect_t e = load_payload_expect(p);
    assert_int_equal(load_check_sort(p->expected, p->expected_len, &e), LOAD_SORT_OK);
    /* The unsorted body itself is (almost surely) not a valid reply. */
    assert_int_equal(load_check_sort(p->body, p->body_len, &e), LOAD_SORT_UNSORTED);
    /* And the length prefix says how long the body is. */
    uint64_t len = 0;
    for (int b = 0; b < 8; b++)
      len = len << 8 | p->prefix[b];
    assert_int_equal(len, p->body_len);
  }
  /* The same seed gives the same bodies. */
  load_payload_set_t again;
  assert_int_equal(load_payload_generate(&again, 1, 50, 7), 0);
  assert_int_equal(again.items[0].body_len, set.items[0].body_len);
  assert_memory_equal(again.items[0].body, set.items[0].body, set.items[0].body_len);
  load_payload_set_free(&again);
  load_payload_set_free(&set);
}

/* ---- DNS replies ---- */

typedef struct {
  load_dns_query_t q;
  uint8_t pkt[512];
  size_t len;
} dns_case_t;

/* What dnsortd sends for q: the query with QR, AA, RD set, and for A one
 * answer whose owner is a pointer to the question name (0xc00c). */
static void make_reply(dns_case_t *c, const load_dns_name_t *name, uint16_t qtype,
                       uint16_t id, bool answer) {
  assert_int_equal(load_dns_query_build(&c->q, name, qtype), 0);
  memcpy(c->pkt, c->q.bytes, c->q.len);
  c->pkt[0] = (uint8_t)(id >> 8);
  c->pkt[1] = (uint8_t)id;
  c->pkt[2] = 0x85;  /* QR, AA, RD */
  c->pkt[3] = 0x00;
  c->len = c->q.len;
  if (!answer)
    return;
  c->pkt[7] = 1;  /* ANCOUNT */
  static const uint8_t rr[] = {0xc0, 0x0c, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4};
  memcpy(c->pkt + c->len, rr, sizeof(rr));
  c->len += sizeof(rr);
  memcpy(c->pkt + c->len, name->address, 4);
  c->len += 4;
}

static const load_dns_name_t facebook = {"facebook.com", {173, 252, 120, 6}};

static load_dns_result_t check_dns(const dns_case_t *c, uint16_t id) {
  load_dns_expect_t e = load_dns_query_expect(&c->q, id);
  return load_check_dns(c->pkt, c->len, &e);
}

static void test_dns_reply_right(void **state) {
  (void)state;
  dns_case_t c;
  make_reply(&c, &facebook, LOAD_DNS_TYPE_A, 0xbeef, true);
  assert_int_equal(check_dns(&c, 0xbeef), LOAD_DNS_OK);
  /* ANY is answered with the A record. */
  make_reply(&c, &facebook, LOAD_DNS_TYPE_ANY, 7, true);
  assert_int_equal(check_dns(&c, 7), LOAD_DNS_OK);
  /* AAAA and MX: NOERROR, no answer. */
  make_reply(&c, &facebook, LOAD_DNS_TYPE_AAAA, 7, false);
  assert_int_equal(check_dns(&c, 7), LOAD_DNS_OK);
  make_reply(&c, &facebook, LOAD_DNS_TYPE_MX, 7, false);
  assert_int_equal(check_dns(&c, 7), LOAD_DNS_OK);
}

static void test_dns_reply_with_uncompressed_owner(void **state) {
  (void)state;
  dns_case_t c;
  make_reply(&c, &facebook, LOAD_DNS_TYPE_A, 1, false);
  c.pkt[7] = 1;
  /* Owner spelled out: the question name again. */
  size_t qname_len = c.q.len - LOAD_DNS_HEADER_LEN - 4;
  memcpy(c.pkt + c.len, c.q.bytes + LOAD_DNS_HEADER_LEN, qname_len);
  c.len += qname_len;
  static const uint8_t rest[] = {0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 173, 252, 120, 6};
  memcpy(c.pkt + c.len, rest, sizeof(rest));
  c.len += sizeof(rest);
  assert_int_equal(check_dns(&c, 1), LOAD_DNS_OK);
}

static void test_dns_reply_wrong_address(void **state) {
  (void)state;
  dns_case_t c;
  make_reply(&c, &facebook, LOAD_DNS_TYPE_A, 1, true);
  c.pkt[c.len - 1] ^= 1;  /* 173.252.120.7 */
  assert_int_equal(check_dns(&c, 1), LOAD_DNS_WRONG_ANSWER);
  /* No answer at all where one is due. */
  make_reply(&c, &facebook, LOAD_DNS_TYPE_A, 1, false);
  assert_int_equal(check_dns(&c, 1), LOAD_DNS_WRONG_ANSWER);
  /* An answer where none is due. */
  make_reply(&c, &facebook, LOAD_DNS_TYPE_AAAA, 1, true);
  assert_int_equal(check_dns(&c, 1), LOAD_DNS_WRONG_ANSWER);
  /* The right address in a record of the wrong type. */
  make_reply(&c, &facebook, LOAD_DNS_TYPE_A, 1, true);
  c.pkt[c.q.len + 3] = 28;
  assert_int_equal(check_dns(&c, 1), LOAD_DNS_WRONG_ANSWER);
}

static void test_dns_reply_wrong_id(void **state) {
  (void)state;
  dns_case_t c;
  make_reply(&c, &facebook, LOAD_DNS_TYPE_A, 0x1234, true);
  assert_int_equal(check_dns(&c, 0x1235), LOAD_DNS_WRONG_ID);
}

static void test_dns_reply_rcode(void **state) {
  (void)state;
  dns_case_t c;
  static const uint8_t rcodes[] = {1, 2, 3, 4, 5};  /* FORMERR..REFUSED */
  for (size_t i = 0; i < ARRAY_LEN(rcodes); i++) {
    make_reply(&c, &facebook, LOAD_DNS_TYPE_A, 1, false);
    c.pkt[3] = rcodes[i];
    assert_int_equal(check_dns(&c, 1), LOAD_DNS_RCODE);
  }
}

static void test_dns_reply_tc(void **state) {
  (void)state;
  dns_case_t c;
  make_reply(&c, &facebook, LOAD_DNS_TYPE_A, 1, false);
  c.pkt[2] |= 0x02;  /* TC */
  assert_int_equal(check_dns(&c, 1), LOAD_DNS_TRUNCATED);
}

static void test_dns_reply_not_a_response(void **state) {
  (void)state;
  dns_case_t c;
  make_reply(&c, &facebook, LOAD_DNS_TYPE_A, 1, true);
  c.pkt[2] &= 0x7f;  /* QR = 0: our own query reflected */
  assert_int_equal(check_dns(&c, 1), LOAD_DNS_NOT_RESPONSE);
  make_reply(&c, &facebook, LOAD_DNS_TYPE_A, 1, true);
  c.pkt[2] |= 0x10;  /* opcode 2 (STATUS) */
  assert_int_equal(check_dns(&c, 1), LOAD_DNS_NOT_RESPONSE);
}

static void test_dns_reply_wrong_question(void **state) {
  (void)state;
  dns_case_t c;
  make_reply(&c, &facebook, LOAD_DNS_TYPE_A, 1, true);
  c.pkt[LOAD_DNS_HEADER_LEN + 1] = 'F';  /* the echo must keep our case */
  assert_int_equal(check_dns(&c, 1), LOAD_DNS_WRONG_QUESTION);
  make_reply(&c, &facebook, LOAD_DNS_TYPE_A, 1, true);
  c.pkt[5] = 2;  /* QDCOUNT */
  assert_int_equal(check_dns(&c, 1), LOAD_DNS_WRONG_QUESTION);
}

static void test_dns_reply_truncated_packets(void **state) {
  (void)state;
  dns_case_t c;
  make_reply(&c, &facebook, LOAD_DNS_TYPE_A, 1, true);
  /* Every length short of the whole reply is malformed (or, for the first
   * two bytes, fails on the ID it cannot read). */
  for (size_t len = 0; len < c.len; len++) {
    load_dns_expect_t e = load_dns_query_expect(&c.q, 1);
    load_dns_result_t r = load_check_dns(c.pkt, len, &e);
    if (r != LOAD_DNS_MALFORMED)
      fail_msg("length %zu: %s", len, load_dns_result_name(r));
  }
  /* A label running past the end of the owner name. */
  make_reply(&c, &facebook, LOAD_DNS_TYPE_A, 1, true);
  c.pkt[c.q.len] = 0x3f;
  assert_int_equal(check_dns(&c, 1), LOAD_DNS_MALFORMED);
}

/* The owner's pointer is followed: one that loops or aims past the
 * question is malformed, one to "com" inside the question is fine. */
static void test_dns_reply_owner_pointer_is_followed(void **state) {
  (void)state;
  dns_case_t c;
  make_reply(&c, &facebook, LOAD_DNS_TYPE_A, 1, true);
  c.pkt[c.q.len + 1] = (uint8_t)c.q.len;  /* to itself */
  assert_int_equal(check_dns(&c, 1), LOAD_DNS_MALFORMED);
  make_reply(&c, &facebook, LOAD_DNS_TYPE_A, 1, true);
  c.pkt[c.q.len + 1] = (uint8_t)(c.q.len + 2);  /* forward */
  assert_int_equal(check_dns(&c, 1), LOAD_DNS_MALFORMED);
  make_reply(&c, &facebook, LOAD_DNS_TYPE_A, 1, true);
  c.pkt[c.q.len + 1] = LOAD_DNS_HEADER_LEN + 9;  /* "com" */
  assert_int_equal(check_dns(&c, 1), LOAD_DNS_OK);
}

static void test_dns_queries_are_well_formed(void **state) {
  (void)state;
  load_dns_query_t q;
  assert_int_equal(load_dns_query_build(&q, &facebook, LOAD_DNS_TYPE_A), 0);
  static const uint8_t want[] = {
      0, 0, 0x01, 0, 0, 1, 0, 0, 0, 0, 0, 0,
      8, 'f', 'a', 'c', 'e', 'b', 'o', 'o', 'k', 3, 'c', 'o', 'm', 0,
      0, 1, 0, 1,
  };
  assert_int_equal(q.len, sizeof(want));
  assert_memory_equal(q.bytes, want, sizeof(want));
  load_dns_name_t bad = {"a..b", {0, 0, 0, 0}};
  assert_int_equal(load_dns_query_build(&q, &bad, LOAD_DNS_TYPE_A), -1);
  for (size_t i = 0; i < load_dns_names_count; i++)
    assert_int_equal(load_dns_query_build(&q, &load_dns_names[i], LOAD_DNS_TYPE_MX), 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_int_double_compare_is_exact),
      cmocka_unit_test(test_scan_reads_json_numbers_exactly),
      cmocka_unit_test(test_scan_rejects_what_json_rejects),
      cmocka_unit_test(test_sort_is_stable_like_gnome_sort),
      cmocka_unit_test(test_sort_reply_correct),
      cmocka_unit_test(test_sort_reply_exact_numbers),
      cmocka_unit_test(test_sort_reply_unsorted),
      cmocka_unit_test(test_sort_reply_wrong_multiset),
      cmocka_unit_test(test_sort_reply_error_object),
      cmocka_unit_test(test_sort_reply_truncated_or_garbage),
      cmocka_unit_test(test_generated_payloads_match_their_expectations),
      cmocka_unit_test(test_dns_reply_right),
      cmocka_unit_test(test_dns_reply_with_uncompressed_owner),
      cmocka_unit_test(test_dns_reply_wrong_address),
      cmocka_unit_test(test_dns_reply_wrong_id),
      cmocka_unit_test(test_dns_reply_rcode),
      cmocka_unit_test(test_dns_reply_tc),
      cmocka_unit_test(test_dns_reply_not_a_response),
      cmocka_unit_test(test_dns_reply_wrong_question),
      cmocka_unit_test(test_dns_reply_truncated_packets),
      cmocka_unit_test(test_dns_reply_owner_pointer_is_followed),
      cmocka_unit_test(test_dns_queries_are_well_formed),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
