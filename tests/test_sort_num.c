/* sort_num: exact comparison across int64 and double, and the gnome sort
 * (order, stability, cancellation). */
#include "test_util.h"

#include <math.h>
#include <stdlib.h>
#include <uv.h>

#include "sort_num.h"

#define TWO_POW_63 9223372036854775808.0

static sort_num_t num_int(int64_t i) {
  sort_num_t n = {.v.i = i, .is_int = true};
  return n;
}

static sort_num_t num_dbl(double d) {
  sort_num_t n = {.v.d = d, .is_int = false};
  return n;
}

/* Checks cmp(a, b) and that cmp(b, a) is its mirror. */
static void expect_cmp(sort_num_t a, sort_num_t b, int want) {
  int got = sort_num_cmp(&a, &b);
  int back = sort_num_cmp(&b, &a);
  assert_int_equal((got > 0) - (got < 0), want);
  assert_int_equal((back > 0) - (back < 0), -want);
}

/* Same kind and same bits: tells 1 from 1.0 and 0.0 from -0.0. */
static bool identical(const sort_num_t *a, const sort_num_t *b) {
  if (a->is_int != b->is_int)
    return false;
  if (a->is_int)
    return a->v.i == b->v.i;
  return memcmp(&a->v.d, &b->v.d, sizeof(double)) == 0;
}

static void test_ints_compare_by_value(void **state) {
  (void)state;
  expect_cmp(num_int(1), num_int(2), -1);
  expect_cmp(num_int(INT64_MIN), num_int(INT64_MAX), -1);
  expect_cmp(num_int(-5), num_int(-5), 0);
}

static void test_doubles_compare_by_value_and_signed_zeros_are_equal(void **state) {
  (void)state;
  expect_cmp(num_dbl(0.1), num_dbl(0.2), -1);
  expect_cmp(num_dbl(-0.0), num_dbl(0.0), 0);
  expect_cmp(num_dbl(-1e308), num_dbl(5e-324), -1);
}

static void test_int_and_double_zeros_are_equal(void **state) {
  (void)state;
  expect_cmp(num_int(0), num_dbl(0.0), 0);
  expect_cmp(num_int(0), num_dbl(-0.0), 0);
  expect_cmp(num_int(1), num_dbl(1.0), 0);
}

static void test_int_past_2_pow_53_is_not_rounded_to_a_double(void **state) {
  (void)state;
  /* 2^53 + 1 has no double; rounding it would make it equal 2^53. */
  expect_cmp(num_int(9007199254740993), num_dbl(9007199254740992.0), 1);
  expect_cmp(num_int(9007199254740992), num_dbl(9007199254740992.0), 0);
  expect_cmp(num_int(9007199254740991), num_dbl(9007199254740992.0), -1);
}

static void test_int64_limits_against_doubles_at_2_pow_63(void **state) {
  (void)state;
  /* INT64_MAX converted to double would be 2^63 and compare equal. */
  expect_cmp(num_int(INT64_MAX), num_dbl(TWO_POW_63), -1);
  expect_cmp(num_int(INT64_MIN), num_dbl(-TWO_POW_63), 0);
  /* The double just below -2^63. */
  expect_cmp(num_int(INT64_MIN), num_dbl(nextafter(-TWO_POW_63, -INFINITY)), 1);
  /* The double just below 2^63 is an integer below INT64_MAX. */
  expect_cmp(num_int(INT64_MAX), num_dbl(nextafter(TWO_POW_63, 0)), 1);
  expect_cmp(num_int(INT64_MAX), num_dbl(1e300), -1);
  expect_cmp(num_int(INT64_MIN), num_dbl(-1e300), 1);
}

static void test_fractions_order_around_the_integer(void **state) {
  (void)state;
  expect_cmp(num_int(1), num_dbl(1.5), -1);
  expect_cmp(num_int(2), num_dbl(1.5), 1);
  expect_cmp(num_int(-1), num_dbl(-1.5), 1);
  expect_cmp(num_int(-2), num_dbl(-1.5), -1);
  expect_cmp(num_int(0), num_dbl(5e-324), -1);
  expect_cmp(num_int(0), num_dbl(-5e-324), 1);
  expect_cmp(num_int(2), num_dbl(nextafter(2.0, 0)), 1);
  expect_cmp(num_int(-2), num_dbl(nextafter(-2.0, 0)), -1);
}

static void test_sort_of_nothing_and_of_one_succeeds(void **state) {
  (void)state;
  sort_num_t one = num_int(7);
  assert_true(sort_gnome(NULL, 0, NULL));
  assert_true(sort_gnome(&one, 1, NULL));
  assert_int_equal(one.v.i, 7);
}

static void assert_ascending(const sort_num_t *v, size_t n) {
  for (size_t i = 1; i < n; i++)
    assert_true(sort_num_cmp(&v[i - 1], &v[i]) <= 0);
}

static void test_sorted_input_stays_sorted(void **state) {
  (void)state;
  sort_num_t v[] = {num_int(-3), num_dbl(-2.5), num_int(0), num_dbl(0.5), num_int(1), num_dbl(2.0), num_int(3)};
  sort_num_t orig[ARRAY_LEN(v)];
  memcpy(orig, v, sizeof(v));
  assert_true(sort_gnome(v, ARRAY_LEN(v), NULL));
  for (size_t i = 0; i < ARRAY_LEN(v); i++)
    assert_true(identical(&v[i], &orig[i]));
}

static void test_reversed_input_comes_out_ascending(void **state) {
  (void)state;
  enum { N = 1000 };
  sort_num_t *v = malloc(N * sizeof(*v));
  assert_non_null(v);
  for (int i = 0; i < N; i++)
    v[i] = (i % 2) ? num_int(N - i) : num_dbl(N - i + 0.25);
  assert_true(sort_gnome(v, N, NULL));
  assert_ascending(v, N);
  free(v);
}

static void test_equal_values_keep_their_order(void **state) {
  (void)state;
  /* Numerically 0, 1, 0, 1, ... but each one distinguishable. */
  sort_num_t v[] = {num_int(1), num_dbl(-0.0), num_dbl(1.0), num_int(0), num_dbl(0.0), num_int(1), num_dbl(-0.0),
                    num_dbl(1.0), num_int(0)};
  sort_num_t want[] = {num_dbl(-0.0), num_int(0), num_dbl(0.0), num_dbl(-0.0), num_int(0),
                       num_int(1), num_dbl(1.0), num_int(1), num_dbl(1.0)};
  assert_true(sort_gnome(v, ARRAY_LEN(v), NULL));
  for (size_t i = 0; i < ARRAY_LEN(v); i++)
    assert_true(identical(&v[i], &want[i]));
}

/* Reference: qsort is not stable, so ties are broken by original index. */
typedef struct {
  sort_num_t num;
  size_t index;
} indexed_t;

static int indexed_cmp(const void *pa, const void *pb) {
  const indexed_t *a = pa, *b = pb;
  int c = sort_num_cmp(&a->num, &b->num);
  if (c != 0)
    return c;
  return (a->index > b->index) - (a->index < b->index);
}

static uint64_t rng_state = 0x9e3779b97f4a7c15u;

static uint64_t rng(void) {
  /* xorshift64: reproducible across runs and platforms. */
  rng_state ^= rng_state << 13;
  rng_state ^= rng_state >> 7;
  rng_state ^= rng_state << 17;
  return rng_state;
}

/* Few distinct values, in several spellings, so that ties are common. */
static sort_num_t random_num(void) {
  int64_t k = (int64_t)(rng() % 11) - 5;
  switch (rng() % 5) {
  case 0: return num_int(k);
  case 1: return num_dbl((double)k);
  case 2: return num_dbl((double)k + 0.5);
  case 3: return k == 0 ? num_dbl(-0.0) : num_dbl((double)k * 1e-3);
  default: return num_int(k * 1000000007);
  }
}

static void test_random_arrays_match_a_stable_reference(void **state) {
  (void)state;
  for (int round = 0; round < 300; round++) {
    size_t n = (size_t)(rng() % 200);
    sort_num_t *v = malloc((n + 1) * sizeof(*v));
    indexed_t *ref = malloc((n + 1) * sizeof(*ref));
    assert_non_null(v);
    assert_non_null(ref);
    for (size_t i = 0; i < n; i++) {
      v[i] = random_num();
      ref[i].num = v[i];
      ref[i].index = i;
    }
    qsort(ref, n, sizeof(*ref), indexed_cmp);
    assert_true(sort_gnome(v, n, NULL));
    for (size_t i = 0; i < n; i++)
      assert_true(identical(&v[i], &ref[i].num));
    free(v);
    free(ref);
  }
}

static void test_cancel_set_beforehand_returns_false_at_once(void **state) {
  (void)state;
  enum { N = 100000 };
  atomic_bool cancel;
  atomic_init(&cancel, true);
  sort_num_t *v = malloc(N * sizeof(*v));
  assert_non_null(v);
  for (int i = 0; i < N; i++)
    v[i] = num_int(N - i);
  uint64_t t0 = uv_hrtime();
  assert_false(sort_gnome(v, N, &cancel));
  uint64_t elapsed_ms = (uv_hrtime() - t0) / 1000000;
  assert_true(elapsed_ms < 100);
  /* Still a permutation of the input. */
  for (int i = 0; i < N; i++)
    assert_int_equal(v[i].v.i, N - i);
  free(v);
}

static void test_unset_cancel_flag_lets_the_sort_finish(void **state) {
  (void)state;
  atomic_bool cancel;
  atomic_init(&cancel, false);
  sort_num_t v[] = {num_int(3), num_int(1), num_int(2)};
  assert_true(sort_gnome(v, ARRAY_LEN(v), &cancel));
  assert_int_equal(v[0].v.i, 1);
  assert_int_equal(v[2].v.i, 3);
}

typedef struct {
  sort_num_t *v;
  size_t n;
  atomic_bool cancel;
  bool result;
} sort_run_t;

static void sort_thread(void *arg) {
  sort_run_t *run = arg;
  run->result = sort_gnome(run->v, run->n, &run->cancel);
}

static void test_cancel_during_a_long_sort_stops_it_within_milliseconds(void **state) {
  (void)state;
  enum { N = 100000 };  /* reversed: ~5e9 steps, seconds of work */
  sort_run_t run = {.n = N, .result = true};
  run.v = malloc(N * sizeof(*run.v));
  assert_non_null(run.v);
  for (int i = 0; i < N; i++)
    run.v[i] = num_int(N - i);
  atomic_init(&run.cancel, false);

  uv_thread_t tid;
  assert_int_equal(uv_thread_create(&tid, sort_thread, &run), 0);
  uv_sleep(30);
  uint64_t t0 = uv_hrtime();
  atomic_store(&run.cancel, true);
  assert_int_equal(uv_thread_join(&tid), 0);
  uint64_t elapsed_ms = (uv_hrtime() - t0) / 1000000;

  assert_false(run.result);
  /* Generous for valgrind; natively this is well under 1 ms. */
  assert_true(elapsed_ms < 250);
  /* Whatever order it stopped in, no element was lost or duplicated. */
  bool *seen = calloc(N + 1, sizeof(*seen));
  assert_non_null(seen);
  for (int i = 0; i < N; i++) {
    assert_true(run.v[i].v.i >= 1 && run.v[i].v.i <= N);
    assert_false(seen[run.v[i].v.i]);
    seen[run.v[i].v.i] = true;
  }
  free(seen);
  free(run.v);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_ints_compare_by_value),
      cmocka_unit_test(test_doubles_compare_by_value_and_signed_zeros_are_equal),
      cmocka_unit_test(test_int_and_double_zeros_are_equal),
      cmocka_unit_test(test_int_past_2_pow_53_is_not_rounded_to_a_double),
      cmocka_unit_test(test_int64_limits_against_doubles_at_2_pow_63),
      cmocka_unit_test(test_fractions_order_around_the_integer),
      cmocka_unit_test(test_sort_of_nothing_and_of_one_succeeds),
      cmocka_unit_test(test_sorted_input_stays_sorted),
      cmocka_unit_test(test_reversed_input_comes_out_ascending),
      cmocka_unit_test(test_equal_values_keep_their_order),
      cmocka_unit_test(test_random_arrays_match_a_stable_reference),
      cmocka_unit_test(test_cancel_set_beforehand_returns_false_at_once),
      cmocka_unit_test(test_unset_cancel_flag_lets_the_sort_finish),
      cmocka_unit_test(test_cancel_during_a_long_sort_stops_it_within_milliseconds),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
