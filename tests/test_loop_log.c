/* Unit tests for the log lines (text and JSON) and the per-query log's
 * reply decoder (loop_log). */
#include "test_util.h"

#include "loop_log.h"

#define STAMP "2026-01-02T03:04:05.678Z"

static char line[4096];

static const char *fmt(size_t cap, loop_log_format_t f, loop_log_level_t level,
                       const char *msg, const loop_log_field_t *fields, size_t n) {
  size_t len = loop_log_format_line(line, cap, f, STAMP, level, msg, fields, n);
  assert_true(len <= cap);
  assert_int_equal(line[len - 1], '\n');
  line[len] = '\0';
  return line;
}

static void test_text_line_keeps_the_old_format(void **state) {
  (void)state;
  assert_string_equal(fmt(sizeof(line), LOOP_LOG_TEXT, LOOP_LOG_INFO, "ready: 3 names", NULL, 0),
                      STAMP " dnsortd info: ready: 3 names\n");
  assert_string_equal(fmt(sizeof(line), LOOP_LOG_TEXT, LOOP_LOG_ERROR, "x", NULL, 0),
                      STAMP " dnsortd error: x\n");
}

static void test_text_fields_are_quoted_only_when_needed(void **state) {
  (void)state;
  loop_log_field_t f[] = {{"proto", "udp"}, {"qname", "a\\032b."}, {"s", "two words"},
                          {"e", ""},        {"q", "say \"hi\""}, {"c", "x\ny"}};
  assert_string_equal(fmt(sizeof(line), LOOP_LOG_TEXT, LOOP_LOG_INFO, "query", f, ARRAY_LEN(f)),
                      STAMP " dnsortd info: query proto=udp qname=a\\032b. "
                            "s=\"two words\" e=\"\" q=\"say \\\"hi\\\"\" c=\"x\\x0ay\"\n");
}

static void test_json_line_with_fields(void **state) {
  (void)state;
  loop_log_field_t f[] = {{"proto", "udp"}, {"client", "127.0.0.1:5353"}};
  assert_string_equal(fmt(sizeof(line), LOOP_LOG_JSON, LOOP_LOG_WARN, "query", f, 2),
                      "{\"ts\":\"" STAMP "\",\"level\":\"warn\",\"msg\":\"query\","
                      "\"proto\":\"udp\",\"client\":\"127.0.0.1:5353\"}\n");
}

static void test_json_strings_are_escaped(void **state) {
  (void)state;
  /* Quote, backslash, control characters (short forms and \u), UTF-8
   * kept, and bytes that are not UTF-8 replaced. */
  const char *msg = "a\"b\\c\n\t\r\b\f\x01\x1f\x7f \xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80"
                    " \xff \xc3 \xed\xa0\x80 \xc0\xaf";
  assert_string_equal(fmt(sizeof(line), LOOP_LOG_JSON, LOOP_LOG_INFO, msg, NULL, 0),
                      "{\"ts\":\"" STAMP "\",\"level\":\"info\",\"msg\":"
                      "\"a\\\"b\\\\c\\n\\t\\r\\b\\f\\u0001\\u001f\x7f \xc3\xa9 \xe2\x82\xac "
                      "\xf0\x9f\x98\x80 \\ufffd \\ufffd \\ufffd\\ufffd\\ufffd \\ufffd\\ufffd\"}\n");
}

static void test_long_lines_are_cut_and_stay_valid(void **state) {
  (void)state;
  char msg[3000];
  memset(msg, 'x', sizeof(msg) - 1);
  msg[sizeof(msg) - 1] = '\0';
  msg[100] = '"'; /* an escape near where a small line is cut */
  loop_log_field_t f[] = {{"k", "v"}};
  for (size_t cap = 64; cap <= 200; cap++) {
    const char *l = fmt(cap, LOOP_LOG_JSON, LOOP_LOG_ERROR, msg, f, 1);
    size_t len = strlen(l);
    assert_true(len <= cap);
    assert_memory_equal(l + len - 3, "\"}\n", 3);
    /* The quotes balance, escapes included. */
    int quotes = 0;
    for (size_t i = 0; i < len; i++) {
      if (l[i] == '\\')
        i++;
      else if (l[i] == '"')
        quotes++;
    }
    assert_int_equal(quotes % 2, 0);
  }
  const char *t = fmt(100, LOOP_LOG_TEXT, LOOP_LOG_INFO, msg, f, 1);
  assert_int_equal(strlen(t), 97); /* the tail stays reserved */
  assert_memory_equal(t, STAMP " dnsortd info: xxx", strlen(STAMP) + 18);
}

static void test_parse_level_and_format(void **state) {
  (void)state;
  loop_log_format_t f;
  assert_int_equal(loop_log_parse_format("json", &f), 0);
  assert_int_equal(f, LOOP_LOG_JSON);
  assert_int_equal(loop_log_parse_format("text", &f), 0);
  assert_int_equal(f, LOOP_LOG_TEXT);
  assert_int_equal(loop_log_parse_format("JSON", &f), -1);
  assert_int_equal(loop_log_parse_format("", &f), -1);
  loop_log_level_t l;
  assert_int_equal(loop_log_parse_level("debug", &l), 0);
  assert_int_equal(l, LOOP_LOG_DEBUG);
  assert_int_equal(loop_log_parse_level("trace", &l), -1);
}

/* ---- the reply decoder ---- */

/* Replies as dnsortd sends them: header, the question as the client sent
 * it, then records. */
static const uint8_t reply_a[] = {
    0x12, 0x34, 0x85, 0x80, 0x00, 0x01, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00,
    8, 'F', 'a', 'c', 'e', 'b', 'o', 'o', 'k', 3, 'c', 'o', 'm', 0,
    0x00, 0x01, 0x00, 0x01,
    /* answer: pointer to the question's name, A IN, TTL 60, 173.252.120.6 */
    0xc0, 0x0c, 0x00, 0x01, 0x00, 0x01, 0x00, 0x00, 0x00, 0x3c, 0x00, 0x04,
    173, 252, 120, 6,
};

/* EDNS version 1 in the query: BADVERS, i.e. header rcode 0 and extended
 * rcode 1 in the OPT's TTL. */
static const uint8_t reply_badvers[] = {
    0x00, 0x01, 0x84, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01,
    3, 'w', 'w', 'w', 0, 0x00, 0x1c, 0x00, 0x01,
    0x00, 0x00, 0x29, 0x04, 0xd0, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00,
};

static const uint8_t reply_formerr_no_question[] = {
    0x00, 0x02, 0x80, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
};

static const uint8_t reply_odd_name[] = {
    0x00, 0x03, 0x84, 0x04, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    5, 'a', '.', 'b', ' ', 0xff, 2, '\\', '"', 0, 0xff, 0x00, 0x00, 0x01,
};

static const uint8_t reply_root_mx[] = {
    0x00, 0x04, 0x84, 0x05, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0, 0x00, 0x0f, 0x00, 0x01,
};

static void decode(const uint8_t *r, size_t len, const char *qname, const char *qtype,
                   const char *rcode) {
  loop_log_reply_t out;
  assert_int_equal(loop_log_decode_reply(r, len, &out), 0);
  assert_string_equal(out.qname, qname);
  assert_string_equal(out.qtype, qtype);
  assert_string_equal(out.rcode, rcode);
}

static void test_limiter_lets_one_a_second_and_counts_the_rest(void **state) {
  (void)state;
  loop_log_limit_t l = {0};
  uint64_t skipped = 99;
  /* The first event of a kind goes out at once, whatever the clock. */
  assert_int_equal(loop_log_limit_pass(&l, 0, &skipped), 1);
  assert_int_equal(skipped, 0);
  for (uint64_t t = 1; t < LOOP_LOG_LIMIT_INTERVAL_MS; t += 100)
    assert_int_equal(loop_log_limit_pass(&l, t, &skipped), 0);
  assert_int_equal(loop_log_limit_pass(&l, LOOP_LOG_LIMIT_INTERVAL_MS - 1, &skipped), 0);
  /* At the edge: one interval after the last line. */
  assert_int_equal(loop_log_limit_pass(&l, LOOP_LOG_LIMIT_INTERVAL_MS, &skipped), 1);
  assert_int_equal(skipped, 11);
  /* The count started again; a quiet stretch then one event: nothing
   * skipped. */
  assert_int_equal(loop_log_limit_pass(&l, 5000, &skipped), 1);
  assert_int_equal(skipped, 0);
  assert_int_equal(loop_log_limit_pass(&l, 5999, &skipped), 0);
  assert_int_equal(loop_log_limit_pass(&l, 6000, &skipped), 1);
  assert_int_equal(skipped, 1);
}

static void test_limiter_kinds_are_independent_and_survive_a_clock_going_back(void **state) {
  (void)state;
  loop_log_limit_t a = {0}, b = {0};
  uint64_t skipped;
  assert_int_equal(loop_log_limit_pass(&a, 10000, &skipped), 1);
  assert_int_equal(loop_log_limit_pass(&b, 10001, &skipped), 1);
  assert_int_equal(loop_log_limit_pass(&a, 10002, &skipped), 0);
  /* Earlier than the last line: let it out rather than go silent. */
  assert_int_equal(loop_log_limit_pass(&a, 3, &skipped), 1);
  assert_int_equal(skipped, 1);
  assert_int_equal(loop_log_limit_pass(&a, 4, &skipped), 0);
}

static void test_decode_answer_keeps_the_clients_case(void **state) {
  (void)state;
  decode(reply_a, sizeof(reply_a), "Facebook.com.", "A", "NOERROR");
}

static void test_decode_badvers_from_the_opt_record(void **state) {
  (void)state;
  decode(reply_badvers, sizeof(reply_badvers), "www.", "AAAA", "BADVERS");
}

static void test_decode_reply_without_question(void **state) {
  (void)state;
  decode(reply_formerr_no_question, sizeof(reply_formerr_no_question), "-", "-", "FORMERR");
}

static void test_decode_escapes_the_name_and_names_unknown_types(void **state) {
  (void)state;
  decode(reply_odd_name, sizeof(reply_odd_name), "a\\.b\\032\\255.\\\\\\\".", "TYPE65280",
         "NOTIMP");
  decode(reply_root_mx, sizeof(reply_root_mx), ".", "MX", "REFUSED");
}

static void test_decode_truncated_and_short_replies(void **state) {
  (void)state;
  loop_log_reply_t out;
  assert_int_equal(loop_log_decode_reply(reply_a, 11, &out), -1);
  assert_string_equal(out.qname, "-");
  assert_string_equal(out.rcode, "-");
  /* Cut inside the name, then inside the type: no question, rcode kept. */
  for (size_t len = 12; len < 12 + 14 + 4; len++)
    decode(reply_a, len, "-", "-", "NOERROR");
  /* Cut inside the answer: the question still reads. */
  decode(reply_a, sizeof(reply_a) - 3, "Facebook.com.", "A", "NOERROR");
  /* A broken OPT leaves the header's rcode. */
  decode(reply_badvers, sizeof(reply_badvers) - 1, "www.", "AAAA", "NOERROR");
}

static void test_decode_rcodes_by_name_and_number(void **state) {
  (void)state;
  uint8_t r[sizeof(reply_root_mx)];
  memcpy(r, reply_root_mx, sizeof(r));
  const char *names[] = {"NOERROR", "FORMERR", "SERVFAIL", "NXDOMAIN", "NOTIMP",
                         "REFUSED", "YXDOMAIN", "YXRRSET", "NXRRSET", "NOTAUTH",
                         "NOTZONE", "RCODE11", "RCODE12", "RCODE13", "RCODE14",
                         "RCODE15"};
  for (unsigned i = 0; i < 16; i++) {
    r[3] = (uint8_t)(0x80 | i);
    decode(r, sizeof(r), ".", "MX", names[i]);
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_text_line_keeps_the_old_format),
      cmocka_unit_test(test_text_fields_are_quoted_only_when_needed),
      cmocka_unit_test(test_json_line_with_fields),
      cmocka_unit_test(test_json_strings_are_escaped),
      cmocka_unit_test(test_long_lines_are_cut_and_stay_valid),
      cmocka_unit_test(test_parse_level_and_format),
      cmocka_unit_test(test_limiter_lets_one_a_second_and_counts_the_rest),
      cmocka_unit_test(test_limiter_kinds_are_independent_and_survive_a_clock_going_back),
      cmocka_unit_test(test_decode_answer_keeps_the_clients_case),
      cmocka_unit_test(test_decode_badvers_from_the_opt_record),
      cmocka_unit_test(test_decode_reply_without_question),
      cmocka_unit_test(test_decode_escapes_the_name_and_names_unknown_types),
      cmocka_unit_test(test_decode_truncated_and_short_replies),
      cmocka_unit_test(test_decode_rcodes_by_name_and_number),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
