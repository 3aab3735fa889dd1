/* sort_json: request decoding (UTF-8, JSON, strict numbers, exact ints,
 * the array kind, limits, messages, and the same verdict as the decoder it
 * replaced) and reply encoding (json.dumps' format, Python float repr). */
#include "test_util.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "sort_json.h"
#include "sort_json_ref.h"

#define MAX_ELEMS 1000

/* Decodes a body that must succeed. */
static sort_nums_t decode_ok(const char *body, size_t len) {
  sort_nums_t nums;
  char err[160];
  sort_json_status_t st = sort_json_decode(body, len, MAX_ELEMS, &nums, err,
                                           sizeof(err));
  if (st != SORT_JSON_OK)
    fail_msg("decoding \"%.60s\" gave %d: %s", body, (int)st, err);
  if (nums.n == 0)
    assert_null(nums.v.any);
  return nums;
}

/* Decodes a body that must fail with want, and with message want_msg
 * (exactly) when that is not NULL. */
static void expect_error_len(const char *body, size_t len,
                             sort_json_status_t want, const char *want_msg) {
  sort_nums_t nums = {.n = 99, .v.any = &nums};
  char err[160];
  sort_json_status_t st = sort_json_decode(body, len, MAX_ELEMS, &nums, err,
                                           sizeof(err));
  if (st != want)
    fail_msg("decoding \"%.60s\" gave %d (%s), want %d", body, (int)st, err,
             (int)want);
  assert_null(nums.v.any);
  assert_int_equal(nums.n, 0);
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
  size_t len;
  sort_nums_t nums = decode_ok(body, strlen(body));
  char *out = sort_json_encode(&nums, &len);
  assert_non_null(out);
  if (len != strlen(want) || memcmp(out, want, len) != 0)
    fail_msg("%s encoded as \"%.*s\", want \"%s\"", body, (int)len, out, want);
  free(out);
  sort_nums_free(&nums);
}

/* Encodes a hand-made array of one kind. */
static void expect_encoded(sort_kind_t kind, void *v, size_t n,
                           const char *want) {
  sort_nums_t nums = {.kind = kind, .n = n, .v.any = v};
  size_t len;
  char *out = sort_json_encode(&nums, &len);
  assert_non_null(out);
  if (len != strlen(want) || memcmp(out, want, len) != 0)
    fail_msg("encoded as \"%.*s\", want \"%s\"", (int)len, out, want);
  free(out);
}

static void test_empty_body_is_empty(void **state) {
  (void)state;
  expect_error_len("", 0, SORT_JSON_EMPTY, "empty request");
}

static void test_empty_array_decodes_to_nothing(void **state) {
  (void)state;
  sort_nums_t nums = decode_ok("[]", 2);
  assert_int_equal(nums.n, 0);
  nums = decode_ok(" [ \n ] ", 7);
  assert_int_equal(nums.n, 0);
}

static void test_integers_keep_their_exact_value(void **state) {
  (void)state;
  const char *body = "[9007199254740993, -9223372036854775808, "
                     "9223372036854775807, 0, -0, 42]";
  sort_nums_t nums = decode_ok(body, strlen(body));
  assert_int_equal(nums.n, 6);
  assert_int_equal(nums.kind, SORT_KIND_INT);
  const int64_t *v = nums.v.i;
  assert_true(v[0] == INT64_C(9007199254740993));
  assert_true(v[1] == INT64_MIN);
  assert_true(v[2] == INT64_MAX);
  assert_true(v[3] == 0);
  assert_true(v[4] == 0);
  assert_true(v[5] == 42);
  sort_nums_free(&nums);
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
  sort_nums_t nums = decode_ok("[1.0, 1e2, 2E-1, -0.0]", 22);
  assert_int_equal(nums.n, 4);
  assert_int_equal(nums.kind, SORT_KIND_DOUBLE);
  const double *v = nums.v.d;
  assert_true(v[0] == 1.0);
  assert_true(v[1] == 100.0);
  assert_true(v[2] == 0.2);
  assert_true(v[3] == 0 && signbit(v[3]));
  sort_nums_free(&nums);
}

/* One kind of number anywhere makes a plain array of it; a mix, from
 * whichever element it starts, an array of exact keys. */
static void test_array_kind_follows_its_numbers(void **state) {
  (void)state;
  static const struct {
    const char *body;
    sort_kind_t kind;
  } cases[] = {
      {"[1, 2, 3]", SORT_KIND_INT},
      {"[1.5, 2e0, -0.0]", SORT_KIND_DOUBLE},
      {"[1, 2, 3.5]", SORT_KIND_MIXED},
      {"[0.5, 1, 2]", SORT_KIND_MIXED},
      {"[1, 0.5, 9007199254740993, -0.0, -9223372036854775808]",
       SORT_KIND_MIXED},
  };
  for (size_t c = 0; c < ARRAY_LEN(cases); c++) {
    const char *body = cases[c].body;
    sort_nums_t nums = decode_ok(body, strlen(body));
    sort_num_t *ref = NULL;
    size_t ref_n = 0;
    assert_int_equal(ref_sort_json_decode(body, strlen(body), MAX_ELEMS, &ref,
                                          &ref_n, NULL, 0),
                     SORT_JSON_OK);
    assert_int_equal(nums.kind, cases[c].kind);
    assert_int_equal(nums.n, ref_n);
    for (size_t i = 0; i < ref_n; i++) {
      sort_num_t got = sort_nums_at(&nums, i);
      assert_int_equal(got.is_int, ref[i].is_int);
      assert_memory_equal(&got.v, &ref[i].v, sizeof(got.v));
    }
    free(ref);
    sort_nums_free(&nums);
  }
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

static uint64_t rng_state = 0x2545f4914f6cdd1du;

static uint64_t rng(void) {
  rng_state ^= rng_state << 13;
  rng_state ^= rng_state >> 7;
  rng_state ^= rng_state << 17;
  return rng_state;
}

static void test_random_doubles_read_back_bit_for_bit(void **state) {
  (void)state;
  enum { N = 20000 };
  double *v = malloc(N * sizeof(*v));
  assert_non_null(v);
  for (size_t i = 0; i < N;) {
    uint64_t x = rng();
    double d;
    memcpy(&d, &x, sizeof(d));
    if (isfinite(d))
      v[i++] = d;
  }
  sort_nums_t nums = {.kind = SORT_KIND_DOUBLE, .n = N, .v.d = v};
  size_t len;
  char *text = sort_json_encode(&nums, &len);
  assert_non_null(text);
  sort_nums_t back;
  char err[160];
  assert_int_equal(sort_json_decode(text, len, N, &back, err, sizeof(err)),
                   SORT_JSON_OK);
  assert_int_equal(back.n, N);
  assert_int_equal(back.kind, SORT_KIND_DOUBLE);
  assert_memory_equal(back.v.d, v, N * sizeof(double));
  sort_nums_free(&back);
  free(text);
  free(v);
}

/* Short decimals are converted without strtod when that is exact (at most
 * 19 significant digits, 2^53 and 10^22): the result must still be
 * strtod's, bit for bit, at and around those edges. */
static void test_decimal_conversion_equals_strtod(void **state) {
  (void)state;
  static const char *edges[] = {
      "9007199254740993.0", "9007199254740992e0", "9007199254740993e-22",
      "1e22", "1e23", "1e-22", "1e-23", "123456789012345678.9e-3",
      "0.000000000000000000000000000001", "4.9406564584124654e-324",
      "2.2250738585072011e-308", "1.7976931348623157e308", "0.1e-0",
      "1234567890123456789e-22", "12345678901234567890e-22", "-0.0e5",
      "0e99999999999", "1.0000000000000000000000000001", "5e-1",
  };
  char body[128], text[64];
  for (size_t k = 0; k < ARRAY_LEN(edges) + 20000; k++) {
    if (k < ARRAY_LEN(edges)) {
      snprintf(text, sizeof(text), "%s", edges[k]);
    } else {
      /* 1 to 19 digits with a point somewhere, and an exponent. */
      int nd = 1 + (int)(rng() % 19), point = (int)(rng() % (unsigned)nd);
      size_t p = 0;
      if (rng() % 2)
        text[p++] = '-';
      text[p++] = (char)('1' + rng() % 9);
      for (int d = 1; d < nd; d++) {
        if (d == point)
          text[p++] = '.';
        text[p++] = (char)('0' + rng() % 10);
      }
      if (point == 0)
        p += (size_t)snprintf(text + p, sizeof(text) - p, ".0");
      snprintf(text + p, sizeof(text) - p, "e%d", (int)(rng() % 61) - 30);
    }
    int blen = snprintf(body, sizeof(body), "[%s]", text);
    sort_nums_t nums;
    assert_int_equal(sort_json_decode(body, (size_t)blen, 1, &nums, NULL, 0),
                     SORT_JSON_OK);
    double want = strtod(text, NULL);
    if (memcmp(&nums.v.d[0], &want, sizeof(want)) != 0)
      fail_msg("%s decoded as %.17g, strtod says %.17g", text, nums.v.d[0],
               want);
    sort_nums_free(&nums);
  }
}

/* One double through the encoder, against the statement of Python's repr
 * in sort_json_ref.h (fewest digits that read back, then nearest). */
static void expect_python_repr(double x) {
  sort_nums_t nums = {.kind = SORT_KIND_DOUBLE, .n = 1, .v.d = &x};
  size_t len;
  char *out = sort_json_encode(&nums, &len);
  assert_non_null(out);
  if (!ref_is_shortest_repr(out + 1, len - 2, x))
    fail_msg("%a (%.17g) encoded as %.*s", x, x, (int)len, out);
  free(out);
}

static double random_double_between(int lo_exp2, int hi_exp2) {
  uint64_t m = rng() & ((UINT64_C(1) << 52) - 1);
  int e = lo_exp2 + (int)(rng() % (uint64_t)(hi_exp2 - lo_exp2 + 1));
  uint64_t bits = m | (uint64_t)(e + 1023) << 52;
  double d;
  memcpy(&d, &bits, sizeof(d));
  return (rng() & 1) ? -d : d;
}

static void test_doubles_encode_as_shortest_nearest_repr(void **state) {
  (void)state;
  /* Every power of two and its neighbours; powers of ten likewise. */
  for (int e = -1074; e <= 1023; e++) {
    double p = ldexp(1.0, e);
    expect_python_repr(p);
    expect_python_repr(nextafter(p, 0));
    expect_python_repr(nextafter(p, INFINITY));
  }
  for (int e = -30; e <= 30; e++) {
    char text[16];
    snprintf(text, sizeof(text), "1e%d", e);
    double p = strtod(text, NULL);
    expect_python_repr(p);
    expect_python_repr(nextafter(p, 0));
    expect_python_repr(nextafter(p, INFINITY));
  }
  for (int k = 0; k < 15000; k++) {
    /* Where the exact integer path works (about 1.5e-5 to 2^63) and a
     * little past both ends of it. */
    expect_python_repr(random_double_between(-20, 66));
    /* Anywhere at all. */
    uint64_t bits = rng();
    double d;
    memcpy(&d, &bits, sizeof(d));
    if (isfinite(d) && d != 0)
      expect_python_repr(d);
    /* Short decimals, whose repr is their own text: 1 to 17 digits. */
    char text[64];
    int nd = 1 + (int)(rng() % 17);
    size_t pos = 0;
    for (int i = 0; i < nd; i++)
      text[pos++] = (char)('0' + (i == 0 ? 1 + rng() % 9 : rng() % 10));
    snprintf(text + pos, sizeof(text) - pos, "e%d", (int)(rng() % 41) - 20);
    expect_python_repr(strtod(text, NULL));
  }
}

static void test_non_finite_doubles_print_as_python_does(void **state) {
  (void)state;
  /* The decoder never produces these; json.dumps' spelling is kept for
   * any other caller. */
  double v[3] = {NAN, INFINITY, -INFINITY};
  expect_encoded(SORT_KIND_DOUBLE, v, 3, "[NaN, Infinity, -Infinity]");
}

static void test_encode_separates_with_comma_space(void **state) {
  (void)state;
  sort_mixed_t m[3] = {
      sort_mixed_make((sort_num_t){.v.i = 1, .is_int = true}),
      sort_mixed_make((sort_num_t){.v.d = 2.5, .is_int = false}),
      sort_mixed_make((sort_num_t){.v.i = INT64_MIN, .is_int = true})};
  expect_encoded(SORT_KIND_MIXED, m, 3, "[1, 2.5, -9223372036854775808]");
  expect_encoded(SORT_KIND_INT, NULL, 0, "[]");
  expect_encoded(SORT_KIND_DOUBLE, NULL, 0, "[]");
}

static void test_integers_encode_exactly(void **state) {
  (void)state;
  int64_t v[] = {0, 7, -7, 10, 99, 100, -100, 1234567, INT64_MAX, INT64_MIN,
                 INT64_MIN + 1, 9007199254740993};
  expect_encoded(SORT_KIND_INT, v, ARRAY_LEN(v),
                 "[0, 7, -7, 10, 99, 100, -100, 1234567, 9223372036854775807, "
                 "-9223372036854775808, -9223372036854775807, "
                 "9007199254740993]");
  char want[32];
  for (int k = 0; k < 20000; k++) {
    int64_t x = (int64_t)(rng() >> (rng() % 64));
    x = (rng() & 1) ? -x : x;
    snprintf(want, sizeof(want), "[%" PRId64 "]", x);
    expect_encoded(SORT_KIND_INT, &x, 1, want);
  }
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
  /* Within the element limit, the nesting limit (1000, cJSON's, kept)
   * decides. */
  enum { DEPTH = 100000 };
  char *body = malloc(2 * DEPTH);
  sort_nums_t v;
  char err[160];
  assert_non_null(body);
  memset(body, '[', DEPTH);
  memset(body + DEPTH, ']', DEPTH);
  assert_int_equal(sort_json_decode(body, 2 * DEPTH, 2 * DEPTH, &v, err,
                                    sizeof(err)),
                   SORT_JSON_INVALID);
  assert_null(v.v.any);
  /* Past it, the count of separators refuses it before any parsing. */
  expect_error_len(body, DEPTH, SORT_JSON_TOO_MANY, NULL);
  expect_error_len(body, 2 * DEPTH, SORT_JSON_TOO_MANY, NULL);
  free(body);
}

static void test_values_are_counted_before_the_json_is_checked(void **state) {
  (void)state;
  /* One element holding many values, or many strings full of commas: the
   * count must see the former and ignore the latter. */
  char err[160];
  sort_nums_t v;
  assert_int_equal(sort_json_decode("[[1, 2, 3, 4]]", 14, 3, &v, err,
                                    sizeof(err)),
                   SORT_JSON_TOO_MANY);
  const char *commas_in_string = "[\",,,,\", 1]";
  assert_int_equal(sort_json_decode(commas_in_string, strlen(commas_in_string),
                                    3, &v, err, sizeof(err)),
                   SORT_JSON_NOT_NUMBER);
  const char *escaped_quote = "[\"\\\",,,,\", 1]";
  assert_int_equal(sort_json_decode(escaped_quote, strlen(escaped_quote), 3,
                                    &v, err, sizeof(err)),
                   SORT_JSON_NOT_NUMBER);
  assert_int_equal(sort_json_decode("[]", 2, 0, &v, err, sizeof(err)),
                   SORT_JSON_OK);
  assert_int_equal(v.n, 0);
}

static void test_element_limit_is_inclusive(void **state) {
  (void)state;
  sort_nums_t v;
  char err[160];
  assert_int_equal(sort_json_decode("[1, 2, 3]", 9, 3, &v, err,
                                    sizeof(err)),
                   SORT_JSON_OK);
  assert_int_equal(v.n, 3);
  sort_nums_free(&v);
  assert_int_equal(sort_json_decode("[1, 2, 3, 4]", 12, 3, &v, err,
                                    sizeof(err)),
                   SORT_JSON_TOO_MANY);
  assert_string_equal(err, "too many elements: 4 > limit 3");
  assert_null(v.v.any);
  assert_int_equal(v.n, 0);
  /* With a limit of 0 only the empty array passes. */
  assert_int_equal(sort_json_decode("[]", 2, 0, &v, err, sizeof(err)),
                   SORT_JSON_OK);
  assert_int_equal(sort_json_decode("[1]", 3, 0, &v, err, sizeof(err)),
                   SORT_JSON_TOO_MANY);
}

static void test_messages_never_echo_more_than_40_input_bytes(void **state) {
  (void)state;
  char body[400];
  char err[160];
  sort_nums_t v;
  /* 300 digits: a valid JSON integer far out of range. */
  body[0] = '[';
  memset(body + 1, '9', 300);
  body[301] = ']';
  assert_int_equal(sort_json_decode(body, 302, MAX_ELEMS, &v, err,
                                    sizeof(err)),
                   SORT_JSON_OUT_OF_RANGE);
  assert_non_null(strstr(err, "9999999999999999999999999999999999999999..."));
  assert_null(strstr(err, "99999999999999999999999999999999999999999"));
}

static void test_error_buffer_is_optional_and_cut_safely(void **state) {
  (void)state;
  sort_nums_t v;
  char tiny[8];
  assert_int_equal(sort_json_decode("[\"a\"]", 5, MAX_ELEMS, &v, NULL, 0),
                   SORT_JSON_NOT_NUMBER);
  assert_int_equal(sort_json_decode("[\"a\"]", 5, MAX_ELEMS, &v, tiny,
                                    sizeof(tiny)),
                   SORT_JSON_NOT_NUMBER);
  assert_string_equal(tiny, "element");
}

/* ---- Same verdict as the decoder before the one-pass rewrite ---------- */

/* Compares sort_json_decode with the previous decoder (sort_json_ref.h:
 * cJSON, then a scan of the tokens) on one body: the same status, the
 * same message, and on success the same numbers, kind and bits. */
static void expect_same_verdict(const char *body, size_t len, size_t max) {
  char err[160], ref_err[160];
  sort_nums_t nums;
  sort_num_t *ref = NULL;
  size_t ref_n = 0;
  sort_json_status_t st =
      sort_json_decode(body, len, max, &nums, err, sizeof(err));
  sort_json_status_t ref_st =
      ref_sort_json_decode(body, len, max, &ref, &ref_n, ref_err,
                           sizeof(ref_err));
  if (st != ref_st || strcmp(err, ref_err) != 0)
    fail_msg("body \"%.*s\" (%zu bytes, limit %zu): %d \"%s\", before: %d "
             "\"%s\"", (int)(len < 80 ? len : 80), body, len, max, (int)st,
             err, (int)ref_st, ref_err);
  if (st == SORT_JSON_OK) {
    assert_int_equal(nums.n, ref_n);
    for (size_t i = 0; i < ref_n; i++) {
      sort_num_t got = sort_nums_at(&nums, i);
      assert_int_equal(got.is_int, ref[i].is_int);
      assert_memory_equal(&got.v, &ref[i].v, sizeof(got.v));
    }
  }
  sort_nums_free(&nums);
  free(ref);
}

/* Bodies that reach each branch of both decoders; sizeof keeps the NULs
 * that a few of them hold. */
#define SEED(text) {text, sizeof(text) - 1}
static const struct {
  const char *text;
  size_t len;
} verdict_seeds[] = {
    SEED("[]"), SEED("[1]"), SEED("[3, 1, 2]"), SEED(" [ 1 , -2.5e3 , 0 ] "),
    SEED("[1.0, 2, -0.0, -0]"), SEED("\xef\xbb\xbf[2, 1]"),
    SEED("\xef\xbb\xbf[]"), SEED("\xef\xbb\xbf"), SEED("\xef\xbb\xbf["),
    SEED("[9223372036854775807, -9223372036854775808, 9223372036854775808]"),
    SEED("[1e308, 1e999, -1e999, 5e-324, 1e-400]"), SEED("[01]"),
    SEED("[-01]"), SEED("[1.]"), SEED("[1.e5]"), SEED("[.5]"), SEED("[+1]"),
    SEED("[1e]"), SEED("[1e+]"), SEED("[--1]"), SEED("[1.5.5]"),
    SEED("[0x10]"), SEED("[1-2]"), SEED("[-]"), SEED("[1,\x0c 2]"),
    SEED("\x0b[1]"), SEED("[1]\x0b"), SEED("[1\0]"), SEED("[1]\0"),
    SEED("[1] x"), SEED("[1]]"), SEED("[1][2]"), SEED("{} 1"), SEED("[1, 2"),
    SEED("[1,,2]"), SEED("[1, 2,]"), SEED("[1 2]"), SEED("   "), SEED("hello"),
    SEED("[NaN]"), SEED("[Infinity]"), SEED("[-Infinity]"), SEED("[nul]"),
    SEED("[true]"), SEED("[false, null]"), SEED("{\"a\": 1}"),
    SEED("{\"a\" 1}"), SEED("{\"a\":}"), SEED("{1: 2}"), SEED("{\"a\":1,"),
    SEED("{\"a\":1,}"), SEED("{"), SEED("{ "), SEED("["), SEED("[ "),
    SEED("[1,"), SEED("3"), SEED("-"), SEED("\"x\""), SEED("\"x"),
    SEED("\"\\"), SEED("null"), SEED(" true "),
    SEED("[1, \"a\\u0041\\ud83d\\ude00\"]"), SEED("[\"\\ud800\"]"),
    SEED("[\"\\udc00\"]"), SEED("[\"\\uZZZZ\"]"), SEED("[\"\\u12\"]"),
    SEED("[\"\\x\"]"), SEED("[\"a\tb\"]"), SEED("[\"\\\"\", 1]"),
    SEED("[\",,,,\", 1]"), SEED("[[1, 2], 3]"), SEED("[[[]]]"),
    SEED("[{}, 1]"), SEED("[1, {\"a\": [1, 2, {\"b\": null}]}]"),
    SEED("[\"h\xc3\xa9\"]"), SEED("[\xc3\xa9]"), SEED("[1, \x80]"),
    SEED("[\xff]"), SEED("[1]\xe2\x82"),
    SEED("[123456789012345678901234567890]"),
    SEED("[0.1000000000000000000000000000000000000000000000000000000000000000001]"),
    SEED("[1e0000000000000000000000000000000000001]"),
    SEED("[1E+2, 1e-2, 0e0, -0e-0]"), SEED("[1,\r\n2,\t3]"),
    SEED("[1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]"),
};

/* Bytes and pieces the mutations splice in. */
static const char *const verdict_pieces[] = {
    "[", "]", "{", "}", ",", ":", "\"", "\\", " ", "\t", "\n", "\r", "\x0b",
    "\x0c", "\x01", "0", "1", "9", "-", "+", ".", "e", "E", "null", "true",
    "false", "\"a\"", "1e999", "9223372036854775808", "-9223372036854775809",
    "0.5", "\\u00", "\\ud800", "\xc3\xa9", "\x80", "\xef\xbb\xbf", "[1]",
    "{\"k\":1}", "nul", "tru", "1.", "01", "[[", "]]",
};

static size_t mutate(char *buf, size_t len, size_t cap) {
  int ops = 1 + (int)(rng() % 3);
  for (int k = 0; k < ops; k++) {
    size_t at = len == 0 ? 0 : (size_t)(rng() % (len + 1));
    const char *piece = verdict_pieces[rng() % ARRAY_LEN(verdict_pieces)];
    size_t plen = strlen(piece);
    switch (rng() % 4) {
    case 0: /* insert */
      if (len + plen <= cap) {
        memmove(buf + at + plen, buf + at, len - at);
        memcpy(buf + at, piece, plen);
        len += plen;
      }
      break;
    case 1: /* overwrite one byte */
      if (at < len)
        buf[at] = piece[0];
      break;
    case 2: /* delete one byte */
      if (at < len) {
        memmove(buf + at, buf + at + 1, len - at - 1);
        len--;
      }
      break;
    default: /* cut */
      len = at;
      break;
    }
  }
  return len;
}

/* "[[[...]]]" or "[{"a":{"a":...}}]" depth levels deep, around cJSON's
 * nesting limit. */
static size_t nested_body(char *buf, int depth, bool objects) {
  size_t len = 0;
  buf[len++] = '[';
  for (int d = 1; d < depth; d++) {
    memcpy(buf + len, objects ? "{\"a\":" : "[", objects ? 5 : 1);
    len += objects ? 5 : 1;
  }
  buf[len++] = '1';
  for (int d = 1; d < depth; d++)
    buf[len++] = objects ? '}' : ']';
  buf[len++] = ']';
  return len;
}

static void test_verdicts_match_the_previous_decoder(void **state) {
  (void)state;
  static const size_t limits[] = {0, 1, 3, MAX_ELEMS};
  char buf[512];
  char *deep = malloc(8 * 1024);
  assert_non_null(deep);
  for (int depth = 997; depth <= 1003; depth++) {
    for (int m = 0; m < 40; m++) {
      size_t len = nested_body(deep, depth, m % 2 == 1);
      if (m >= 2)
        len = mutate(deep, len, 8 * 1024);
      expect_same_verdict(deep, len, 100000);
    }
  }
  free(deep);
  for (size_t s = 0; s < ARRAY_LEN(verdict_seeds); s++) {
    const char *seed = verdict_seeds[s].text;
    size_t seed_len = verdict_seeds[s].len;
    for (int m = 0; m < 300; m++) {
      memcpy(buf, seed, seed_len);
      size_t len = m == 0 ? seed_len : mutate(buf, seed_len, sizeof(buf));
      for (size_t l = 0; l < ARRAY_LEN(limits); l++)
        expect_same_verdict(buf, len, limits[l]);
    }
  }
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
      cmocka_unit_test(test_array_kind_follows_its_numbers),
      cmocka_unit_test(test_doubles_encode_as_python_repr),
      cmocka_unit_test(test_doubles_encode_as_shortest_nearest_repr),
      cmocka_unit_test(test_random_doubles_read_back_bit_for_bit),
      cmocka_unit_test(test_decimal_conversion_equals_strtod),
      cmocka_unit_test(test_non_finite_doubles_print_as_python_does),
      cmocka_unit_test(test_encode_separates_with_comma_space),
      cmocka_unit_test(test_integers_encode_exactly),
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
      cmocka_unit_test(test_values_are_counted_before_the_json_is_checked),
      cmocka_unit_test(test_element_limit_is_inclusive),
      cmocka_unit_test(test_messages_never_echo_more_than_40_input_bytes),
      cmocka_unit_test(test_error_buffer_is_optional_and_cut_safely),
      cmocka_unit_test(test_verdicts_match_the_previous_decoder),
      cmocka_unit_test(test_error_object_has_json_dumps_format),
      cmocka_unit_test(test_error_object_escapes_the_message),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
