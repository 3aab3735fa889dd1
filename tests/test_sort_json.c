/* sort_json: request decoding (UTF-8, JSON, strict numbers, exact ints,
 * limits, messages) and reply encoding (json.dumps' format, Python float
 * repr). */
#include "test_util.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "sort_json.h"

#define MAX_ELEMS 1000

/* Decodes a body that must succeed. */
static sort_num_t *decode_ok(const char *body, size_t len, size_t *n) {
  sort_num_t *v = (sort_num_t *)1;
  char err[160];
  sort_json_status_t st = sort_json_decode(body, len, MAX_ELEMS, &v, n, err,
                                           sizeof(err));
  if (st != SORT_JSON_OK)
    fail_msg("decoding \"%.60s\" gave %d: %s", body, (int)st, err);
  if (*n == 0)
    assert_null(v);
  return v;
}

/* Decodes a body that must fail with want, and with message want_msg
 * (exactly) when that is not NULL. */
static void expect_error_len(const char *body, size_t len,
                             sort_json_status_t want, const char *want_msg) {
  sort_num_t *v = (sort_num_t *)1;
  size_t n = 99;
  char err[160];
  sort_json_status_t st = sort_json_decode(body, len, MAX_ELEMS, &v, &n, err,
                                           sizeof(err));
  if (st != want)
    fail_msg("decoding \"%.60s\" gave %d (%s), want %d", body, (int)st, err,
             (int)want);
  assert_null(v);
  assert_int_equal(n, 0);
  assert_true(strlen(err) > 0);
  assert_null(strchr(err, '\n'));
  if (want_msg != NULL)
    assert_string_equal(err, want_msg);
}

static void expect_error(const char *body, sort_json_status_t want,
                         const char *want_msg) {
  expect_error_len(body, strlen(body), want, want_msg);
}

/* Decode then encode, without sorting: the text each number becomes. */
static void expect_reencoded(const char *body, const char *want) {
  size_t n, len;
  sort_num_t *v = decode_ok(body, strlen(body), &n);
  char *out = sort_json_encode(v, n, &len);
  assert_non_null(out);
  if (len != strlen(want) || memcmp(out, want, len) != 0)
    fail_msg("%s encoded as \"%.*s\", want \"%s\"", body, (int)len, out, want);
  free(out);
  free(v);
}

static void test_empty_body_is_empty(void **state) {
  (void)state;
  expect_error_len("", 0, SORT_JSON_EMPTY, "empty request");
}

static void test_empty_array_decodes_to_nothing(void **state) {
  (void)state;
  size_t n = 99;
  assert_null(decode_ok("[]", 2, &n));
  assert_int_equal(n, 0);
  assert_null(decode_ok(" [ \n ] ", 7, &n));
  assert_int_equal(n, 0);
}

static void test_integers_keep_their_exact_value(void **state) {
  (void)state;
  const char *body = "[9007199254740993, -9223372036854775808, "
                     "9223372036854775807, 0, -0, 42]";
  size_t n;
  sort_num_t *v = decode_ok(body, strlen(body), &n);
  assert_int_equal(n, 6);
  for (size_t i = 0; i < n; i++)
    assert_true(v[i].is_int);
  assert_true(v[0].v.i == INT64_C(9007199254740993));
  assert_true(v[1].v.i == INT64_MIN);
  assert_true(v[2].v.i == INT64_MAX);
  assert_true(v[3].v.i == 0);
  assert_true(v[4].v.i == 0);
  assert_true(v[5].v.i == 42);
  free(v);
  /* -0 is Python's int 0, which prints as 0. */
  expect_reencoded(body, "[9007199254740993, -9223372036854775808, "
                         "9223372036854775807, 0, 0, 42]");
}

static void test_integer_past_int64_is_out_of_range(void **state) {
  (void)state;
  expect_error("[9223372036854775808]", SORT_JSON_OUT_OF_RANGE,
               "integer 9223372036854775808 is out of the 64-bit range "
               "(element 0)");
  expect_error("[1, -9223372036854775809]", SORT_JSON_OUT_OF_RANGE,
               "integer -9223372036854775809 is out of the 64-bit range "
               "(element 1)");
  expect_error("[18446744073709551616]", SORT_JSON_OUT_OF_RANGE, NULL);
  expect_error("[100000000000000000000000000000000000000000000000000000000]",
               SORT_JSON_OUT_OF_RANGE,
               "integer 1000000000000000000000000000000000000000... is out "
               "of the 64-bit range (element 0)");
}

static void test_number_with_point_or_exponent_is_a_double(void **state) {
  (void)state;
  size_t n;
  sort_num_t *v = decode_ok("[1.0, 1e2, 2E-1, -0.0]", 22, &n);
  assert_int_equal(n, 4);
  assert_false(v[0].is_int);
  assert_true(v[0].v.d == 1.0);
  assert_false(v[1].is_int);
  assert_true(v[1].v.d == 100.0);
  assert_true(v[2].v.d == 0.2);
  assert_false(v[3].is_int);
  assert_true(v[3].v.d == 0 && signbit(v[3].v.d));
  free(v);
}

/* Expected texts are what Python 3's json.dumps(json.loads(input)) prints. */
static const struct {
  const char *in;
  const char *out;
} python_floats[] = {
    {"1e308", "1e+308"},
    {"5e-324", "5e-324"},
    {"0.1", "0.1"},
    {"1.0", "1.0"},
    {"1e16", "1e+16"},
    {"123456789012345680.0", "1.2345678901234568e+17"},
    {"0.30000000000000004", "0.30000000000000004"},
    {"-0.0", "-0.0"},
    {"1e-05", "1e-05"},
    {"0.0001", "0.0001"},
    {"1e-4", "0.0001"},
    {"1E2", "100.0"},
    {"1e15", "1000000000000000.0"},
    {"9999999999999998.0", "9999999999999998.0"},
    {"9.999999999999999e15", "1e+16"},
    {"0.00001234", "1.234e-05"},
    {"2.5e-5", "2.5e-05"},
    {"0.000099999", "9.9999e-05"},
    {"0.00009999999999999999", "9.999999999999999e-05"},
    {"1.7976931348623157e308", "1.7976931348623157e+308"},
    {"2.2250738585072014e-308", "2.2250738585072014e-308"},
    {"4.9406564584124654e-324", "5e-324"},
    {"1e-400", "0.0"},
    {"-1e-400", "-0.0"},
    /* Exactly halfway between two 17-digit decimals: ties go to even. */
    {"1125899906842624.25", "1125899906842624.2"},
    {"1125899906842624.75", "1125899906842624.8"},
    /* Powers of two, whose rounding interval is narrower below: the
     * nearest 16-digit decimal does not read back, the next one up does. */
    {"6.290184345309701e-235", "6.290184345309701e-235"},
    {"5.940911144672375e-213", "5.940911144672375e-213"},
    {"1e23", "1e+23"},
    {"0.5", "0.5"},
    {"-1.5", "-1.5"},
    {"12345.6789", "12345.6789"},
    {"1e-7", "1e-07"},
    {"1e100", "1e+100"},
    {"1.0e+300", "1e+300"},
    {"9007199254740993.0", "9007199254740992.0"},
    {"0.1e1", "1.0"},
    {"100e-2", "1.0"},
    {"3.14159265358979323846264338327950288", "3.141592653589793"},
    {"-2.5E-3", "-0.0025"},
};

static void test_doubles_encode_as_python_repr(void **state) {
  (void)state;
  for (size_t i = 0; i < ARRAY_LEN(python_floats); i++) {
    char in[128], out[128];
    snprintf(in, sizeof(in), "[%s]", python_floats[i].in);
    snprintf(out, sizeof(out), "[%s]", python_floats[i].out);
    expect_reencoded(in, out);
  }
}

static void test_random_doubles_read_back_bit_for_bit(void **state) {
  (void)state;
  enum { N = 20000 };
  sort_num_t *v = malloc(N * sizeof(*v));
  assert_non_null(v);
  uint64_t x = 0x2545f4914f6cdd1du;
  for (size_t i = 0; i < N;) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    double d;
    memcpy(&d, &x, sizeof(d));
    if (isfinite(d))
      v[i++] = (sort_num_t){.v.d = d, .is_int = false};
  }
  size_t len, n;
  char *text = sort_json_encode(v, N, &len);
  assert_non_null(text);
  sort_num_t *back;
  char err[160];
  assert_int_equal(sort_json_decode(text, len, N, &back, &n, err, sizeof(err)),
                   SORT_JSON_OK);
  assert_int_equal(n, N);
  for (size_t i = 0; i < N; i++) {
    assert_false(back[i].is_int);
    assert_memory_equal(&back[i].v.d, &v[i].v.d, sizeof(double));
  }
  free(back);
  free(text);
  free(v);
}

static void test_non_finite_doubles_print_as_python_does(void **state) {
  (void)state;
  /* The decoder never produces these; json.dumps' spelling is kept for
   * any other caller. */
  sort_num_t v[3] = {{.v.d = NAN}, {.v.d = INFINITY}, {.v.d = -INFINITY}};
  size_t len;
  char *out = sort_json_encode(v, 3, &len);
  assert_non_null(out);
  assert_int_equal(len, strlen("[NaN, Infinity, -Infinity]"));
  assert_memory_equal(out, "[NaN, Infinity, -Infinity]", len);
  free(out);
}

static void test_encode_separates_with_comma_space(void **state) {
  (void)state;
  sort_num_t v[3] = {{.v.i = 1, .is_int = true},
                     {.v.d = 2.5, .is_int = false},
                     {.v.i = INT64_MIN, .is_int = true}};
  size_t len;
  char *out = sort_json_encode(v, 3, &len);
  assert_non_null(out);
  assert_int_equal(len, strlen("[1, 2.5, -9223372036854775808]"));
  assert_memory_equal(out, "[1, 2.5, -9223372036854775808]", len);
  free(out);
  out = sort_json_encode(NULL, 0, &len);
  assert_non_null(out);
  assert_int_equal(len, 2);
  assert_memory_equal(out, "[]", 2);
  free(out);
}

static void test_long_number_text_is_read_in_full(void **state) {
  (void)state;
  /* Longer than cJSON's 64-byte number buffer (Debian's cJSON reads it
   * whole; we copy it for strtod on the heap). */
  expect_reencoded(
      "[0.1000000000000000000000000000000000000000000000000000000000000000000"
      "000000000000000000001]",
      "[0.1]");
}

static void test_whitespace_everywhere_is_accepted(void **state) {
  (void)state;
  expect_reencoded(" \t\r\n[ \n1 \t, \r\n2.5\n ,-3 ] \n\t\r ", "[1, 2.5, -3]");
}

static void test_utf8_byte_order_mark_is_skipped(void **state) {
  (void)state;
  expect_reencoded("\xef\xbb\xbf[2, 1]", "[2, 1]");
}

static void test_control_bytes_are_not_json_whitespace(void **state) {
  (void)state;
  /* cJSON skips any byte up to 0x20; JSON allows only four. */
  expect_error("[1,\x0c 2]", SORT_JSON_INVALID,
               "invalid JSON: unexpected byte 0x0c at offset 3");
  expect_error("\x0b[1]", SORT_JSON_INVALID,
               "invalid JSON: unexpected byte 0x0b at offset 0");
  expect_error_len("[1\0]", 4, SORT_JSON_INVALID,
                   "invalid JSON: unexpected byte 0x00 at offset 2");
  expect_error_len("[1]\0", 4, SORT_JSON_INVALID,
                   "invalid JSON: unexpected data after the value at "
                   "offset 3");
}

static void test_trailing_garbage_is_invalid(void **state) {
  (void)state;
  expect_error("[1] x", SORT_JSON_INVALID,
               "invalid JSON: unexpected data after the value at offset 4");
  expect_error("[1]]", SORT_JSON_INVALID, NULL);
  expect_error("[1][2]", SORT_JSON_INVALID, NULL);
  expect_error("{} 1", SORT_JSON_INVALID, NULL);
}

static void test_malformed_json_is_invalid_with_position(void **state) {
  (void)state;
  expect_error("[1, 2", SORT_JSON_INVALID, "invalid JSON near offset 4");
  expect_error("[1,,2]", SORT_JSON_INVALID, "invalid JSON near offset 3");
  expect_error("[1, 2,]", SORT_JSON_INVALID, NULL);
  expect_error("[1 2]", SORT_JSON_INVALID, NULL);
  expect_error("   ", SORT_JSON_INVALID, NULL);
  expect_error("hello", SORT_JSON_INVALID, NULL);
}

static void test_numbers_outside_rfc8259_are_invalid(void **state) {
  (void)state;
  /* cJSON's strtod accepts these; our grammar check refuses them. */
  expect_error("[01]", SORT_JSON_INVALID, "invalid number \"01\" (element 0)");
  expect_error("[5, -01]", SORT_JSON_INVALID,
               "invalid number \"-01\" (element 1)");
  expect_error("[1.]", SORT_JSON_INVALID, "invalid number \"1.\" (element 0)");
  expect_error("[1.e5]", SORT_JSON_INVALID,
               "invalid number \"1.e5\" (element 0)");
  expect_error("[00]", SORT_JSON_INVALID, NULL);
  expect_error("[0.e1]", SORT_JSON_INVALID, NULL);
  expect_error("[-0.]", SORT_JSON_INVALID, NULL);
  /* cJSON refuses these itself. */
  expect_error("[-]", SORT_JSON_INVALID, NULL);
  expect_error("[.5]", SORT_JSON_INVALID, NULL);
  expect_error("[+1]", SORT_JSON_INVALID, NULL);
  expect_error("[1e]", SORT_JSON_INVALID, NULL);
  expect_error("[1e+]", SORT_JSON_INVALID, NULL);
  expect_error("[--1]", SORT_JSON_INVALID, NULL);
  expect_error("[1.5.5]", SORT_JSON_INVALID, NULL);
  expect_error("[0x10]", SORT_JSON_INVALID, NULL);
}

static void test_nan_and_infinity_are_not_json(void **state) {
  (void)state;
  expect_error("[NaN]", SORT_JSON_INVALID, NULL);
  expect_error("[nan]", SORT_JSON_INVALID, NULL);
  expect_error("[Infinity]", SORT_JSON_INVALID, NULL);
  expect_error("[-Infinity]", SORT_JSON_INVALID, NULL);
  expect_error("[inf]", SORT_JSON_INVALID, NULL);
  expect_error("[1, -nan]", SORT_JSON_INVALID, NULL);
}

static void test_double_overflow_is_out_of_range(void **state) {
  (void)state;
  expect_error("[1e999]", SORT_JSON_OUT_OF_RANGE,
               "number 1e999 is out of the double range (element 0)");
  expect_error("[0, -1e999]", SORT_JSON_OUT_OF_RANGE,
               "number -1e999 is out of the double range (element 1)");
  expect_error("[1.8e308]", SORT_JSON_OUT_OF_RANGE, NULL);
}

static void test_top_level_other_than_array_is_not_array(void **state) {
  (void)state;
  expect_error("{\"a\": 1}", SORT_JSON_NOT_ARRAY,
               "the request is an object, not an array of numbers");
  expect_error("3", SORT_JSON_NOT_ARRAY,
               "the request is a number, not an array of numbers");
  expect_error("\"x\"", SORT_JSON_NOT_ARRAY,
               "the request is a string, not an array of numbers");
  expect_error("null", SORT_JSON_NOT_ARRAY,
               "the request is null, not an array of numbers");
  expect_error(" true ", SORT_JSON_NOT_ARRAY,
               "the request is a boolean, not an array of numbers");
}

static void test_non_number_elements_are_named_by_index_and_type(void **state) {
  (void)state;
  expect_error("[1, 2, \"3\"]", SORT_JSON_NOT_NUMBER,
               "element 2 is a string, not a number");
  expect_error("[[1, 2], 3]", SORT_JSON_NOT_NUMBER,
               "element 0 is an array, not a number");
  expect_error("[1, {}]", SORT_JSON_NOT_NUMBER,
               "element 1 is an object, not a number");
  expect_error("[false]", SORT_JSON_NOT_NUMBER,
               "element 0 is a boolean, not a number");
  expect_error("[1, 2, 3, null]", SORT_JSON_NOT_NUMBER,
               "element 3 is null, not a number");
}

static void test_invalid_utf8_is_refused_before_parsing(void **state) {
  (void)state;
  /* Overlong "/" (C0 AF) and overlong 3-byte form of it. */
  expect_error("[\"\xc0\xaf\"]", SORT_JSON_NOT_UTF8,
               "the request is not valid UTF-8 (at offset 2)");
  expect_error("[\"\xe0\x80\xaf\"]", SORT_JSON_NOT_UTF8, NULL);
  /* A UTF-16 surrogate, U+D800, encoded on its own. */
  expect_error("[\"\xed\xa0\x80\"]", SORT_JSON_NOT_UTF8, NULL);
  /* A truncated euro sign, at the end and before another byte. */
  expect_error("[1]\xe2\x82", SORT_JSON_NOT_UTF8,
               "the request is not valid UTF-8 (at offset 3)");
  expect_error("[\"\xe2\x82\"]", SORT_JSON_NOT_UTF8, NULL);
  /* Past U+10FFFF, a stray continuation byte, a never-valid byte. */
  expect_error("[\"\xf4\x90\x80\x80\"]", SORT_JSON_NOT_UTF8, NULL);
  expect_error("[1, \x80]", SORT_JSON_NOT_UTF8, NULL);
  expect_error("[\xff]", SORT_JSON_NOT_UTF8, NULL);
}

static void test_valid_utf8_string_is_just_not_a_number(void **state) {
  (void)state;
  /* e-acute, euro sign, G clef (4 bytes), U+10FFFF. */
  expect_error("[1, \"h\xc3\xa9 \xe2\x82\xac \xf0\x9d\x84\x9e \xf4\x8f\xbf\xbf\"]",
               SORT_JSON_NOT_NUMBER, "element 1 is a string, not a number");
}

static void test_deep_nesting_is_invalid_not_a_crash(void **state) {
  (void)state;
  /* Within the element limit, cJSON's nesting limit (1000) decides. */
  enum { DEPTH = 100000 };
  char *body = malloc(2 * DEPTH);
  sort_num_t *v = NULL;
  size_t n = 0;
  char err[160];
  assert_non_null(body);
  memset(body, '[', DEPTH);
  memset(body + DEPTH, ']', DEPTH);
  assert_int_equal(sort_json_decode(body, 2 * DEPTH, 2 * DEPTH, &v, &n, err,
                                    sizeof(err)),
                   SORT_JSON_INVALID);
  assert_null(v);
  /* Past it, the count before parsing refuses it without building a
   * tree. */
  expect_error_len(body, DEPTH, SORT_JSON_TOO_MANY, NULL);
  expect_error_len(body, 2 * DEPTH, SORT_JSON_TOO_MANY, NULL);
  free(body);
}

static void test_values_are_counted_before_the_tree_is_built(void **state) {
  (void)state;
  /* One element holding many values, or many strings full of commas: the
   * count must see the former and ignore the latter. */
  char err[160];
  sort_num_t *v = NULL;
  size_t n = 0;
  assert_int_equal(sort_json_decode("[[1, 2, 3, 4]]", 14, 3, &v, &n, err,
                                    sizeof(err)),
                   SORT_JSON_TOO_MANY);
  const char *commas_in_string = "[\",,,,\", 1]";
  assert_int_equal(sort_json_decode(commas_in_string, strlen(commas_in_string),
                                    3, &v, &n, err, sizeof(err)),
                   SORT_JSON_NOT_NUMBER);
  const char *escaped_quote = "[\"\\\",,,,\", 1]";
  assert_int_equal(sort_json_decode(escaped_quote, strlen(escaped_quote), 3,
                                    &v, &n, err, sizeof(err)),
                   SORT_JSON_NOT_NUMBER);
  assert_int_equal(sort_json_decode("[]", 2, 0, &v, &n, err, sizeof(err)),
                   SORT_JSON_OK);
  assert_int_equal(n, 0);
}

static void test_element_limit_is_inclusive(void **state) {
  (void)state;
  sort_num_t *v;
  size_t n;
  char err[160];
  assert_int_equal(sort_json_decode("[1, 2, 3]", 9, 3, &v, &n, err,
                                    sizeof(err)),
                   SORT_JSON_OK);
  assert_int_equal(n, 3);
  free(v);
  assert_int_equal(sort_json_decode("[1, 2, 3, 4]", 12, 3, &v, &n, err,
                                    sizeof(err)),
                   SORT_JSON_TOO_MANY);
  assert_string_equal(err, "too many elements: 4 > limit 3");
  assert_null(v);
  assert_int_equal(n, 0);
  /* With a limit of 0 only the empty array passes. */
  assert_int_equal(sort_json_decode("[]", 2, 0, &v, &n, err, sizeof(err)),
                   SORT_JSON_OK);
  assert_int_equal(sort_json_decode("[1]", 3, 0, &v, &n, err, sizeof(err)),
                   SORT_JSON_TOO_MANY);
}

static void test_messages_never_echo_more_than_40_input_bytes(void **state) {
  (void)state;
  char body[400];
  char err[160];
  sort_num_t *v;
  size_t n;
  /* 300 digits: a valid JSON integer far out of range. */
  body[0] = '[';
  memset(body + 1, '9', 300);
  body[301] = ']';
  assert_int_equal(sort_json_decode(body, 302, MAX_ELEMS, &v, &n, err,
                                    sizeof(err)),
                   SORT_JSON_OUT_OF_RANGE);
  assert_non_null(strstr(err, "9999999999999999999999999999999999999999..."));
  assert_null(strstr(err, "99999999999999999999999999999999999999999"));
}

static void test_error_buffer_is_optional_and_cut_safely(void **state) {
  (void)state;
  sort_num_t *v;
  size_t n;
  char tiny[8];
  assert_int_equal(sort_json_decode("[\"a\"]", 5, MAX_ELEMS, &v, &n, NULL, 0),
                   SORT_JSON_NOT_NUMBER);
  assert_int_equal(sort_json_decode("[\"a\"]", 5, MAX_ELEMS, &v, &n, tiny,
                                    sizeof(tiny)),
                   SORT_JSON_NOT_NUMBER);
  assert_string_equal(tiny, "element");
}

static void expect_error_object(const char *msg, const char *want) {
  size_t len;
  char *out = sort_json_error(msg, &len);
  assert_non_null(out);
  if (len != strlen(want) || memcmp(out, want, len) != 0)
    fail_msg("error object \"%.*s\", want \"%s\"", (int)len, out, want);
  free(out);
}

static void test_error_object_has_json_dumps_format(void **state) {
  (void)state;
  expect_error_object("empty request", "{\"error\": \"empty request\"}");
  expect_error_object("", "{\"error\": \"\"}");
}

static void test_error_object_escapes_the_message(void **state) {
  (void)state;
  expect_error_object("invalid number \"01\"",
                      "{\"error\": \"invalid number \\\"01\\\"\"}");
  expect_error_object("a\\b", "{\"error\": \"a\\\\b\"}");
  expect_error_object("line\nnext\ttab\r\b\f",
                      "{\"error\": \"line\\nnext\\ttab\\r\\b\\f\"}");
  expect_error_object("\x01\x1f\x7f", "{\"error\": \"\\u0001\\u001f\\u007f\"}");
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_empty_body_is_empty),
      cmocka_unit_test(test_empty_array_decodes_to_nothing),
      cmocka_unit_test(test_integers_keep_their_exact_value),
      cmocka_unit_test(test_integer_past_int64_is_out_of_range),
      cmocka_unit_test(test_number_with_point_or_exponent_is_a_double),
      cmocka_unit_test(test_doubles_encode_as_python_repr),
      cmocka_unit_test(test_random_doubles_read_back_bit_for_bit),
      cmocka_unit_test(test_non_finite_doubles_print_as_python_does),
      cmocka_unit_test(test_encode_separates_with_comma_space),
      cmocka_unit_test(test_long_number_text_is_read_in_full),
      cmocka_unit_test(test_whitespace_everywhere_is_accepted),
      cmocka_unit_test(test_utf8_byte_order_mark_is_skipped),
      cmocka_unit_test(test_control_bytes_are_not_json_whitespace),
      cmocka_unit_test(test_trailing_garbage_is_invalid),
      cmocka_unit_test(test_malformed_json_is_invalid_with_position),
      cmocka_unit_test(test_numbers_outside_rfc8259_are_invalid),
      cmocka_unit_test(test_nan_and_infinity_are_not_json),
      cmocka_unit_test(test_double_overflow_is_out_of_range),
      cmocka_unit_test(test_top_level_other_than_array_is_not_array),
      cmocka_unit_test(test_non_number_elements_are_named_by_index_and_type),
      cmocka_unit_test(test_invalid_utf8_is_refused_before_parsing),
      cmocka_unit_test(test_valid_utf8_string_is_just_not_a_number),
      cmocka_unit_test(test_deep_nesting_is_invalid_not_a_crash),
      cmocka_unit_test(test_values_are_counted_before_the_tree_is_built),
      cmocka_unit_test(test_element_limit_is_inclusive),
      cmocka_unit_test(test_messages_never_echo_more_than_40_input_bytes),
      cmocka_unit_test(test_error_buffer_is_optional_and_cut_safely),
      cmocka_unit_test(test_error_object_has_json_dumps_format),
      cmocka_unit_test(test_error_object_escapes_the_message),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
