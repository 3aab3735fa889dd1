/* sort_num: exact comparison across int64 and double, the exact order keys
 * of mixed arrays, and the gnome sort (order, stability, the vectorised
 * walks against the scalar one, cancellation, deadline, yield). */
#include "test_util.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
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

static uint64_t rng_state = 0x9e3779b97f4a7c15u;

static uint64_t rng(void) {
  /* xorshift64: reproducible across runs and platforms. */
  rng_state ^= rng_state << 13;
  rng_state ^= rng_state >> 7;
  rng_state ^= rng_state << 17;
  return rng_state;
}

/* ---- Mixed order keys -------------------------------------------------- */

/* Numbers where rounding, range and sign mistakes would show. */
static sort_num_t edge_num(size_t k) {
  static const int64_t ints[] = {
      0, 1, -1, 2, -2, 9007199254740991, 9007199254740992, 9007199254740993,
      -9007199254740993, INT64_C(4611686018427387903),
      INT64_C(4611686018427387905), INT64_MAX, INT64_MAX - 1, INT64_MAX - 512,
      INT64_MAX - 1024, INT64_MIN, INT64_MIN + 1, INT64_MIN + 1024};
  static const double dbls[] = {
      0.0, -0.0, 0.5, -0.5, 1.0, -1.0, 1.5, 5e-324, -5e-324,
      9007199254740992.0, 9007199254740994.0, 4611686018427387904.0,
      TWO_POW_63, -TWO_POW_63, 9223372036854774784.0, 1e300, -1e300, 1e19,
      -1e19, 2.5, -2.5};
  if (k < ARRAY_LEN(ints))
    return num_int(ints[k]);
  k -= ARRAY_LEN(ints);
  if (k < ARRAY_LEN(dbls))
    return num_dbl(dbls[k]);
  return num_dbl(nextafter(dbls[k - ARRAY_LEN(dbls)], -INFINITY));
}

#define EDGE_COUNT (18 + 2 * 21)

static int mixed_cmp(const sort_mixed_t *a, const sort_mixed_t *b) {
  if (a->hi != b->hi)
    return a->hi < b->hi ? -1 : 1;
  return (a->lo > b->lo) - (a->lo < b->lo);
}

static sort_num_t random_wide_num(void) {
  uint64_t r = rng();
  switch (rng() % 4) {
  case 0: return num_int((int64_t)r);
  case 1: return num_int((int64_t)(r >> (rng() % 64)) * ((rng() & 1) ? -1 : 1));
  case 2: return num_dbl((double)(int64_t)r + (double)(rng() % 3) * 0.25);
  default: {
    double d;
    memcpy(&d, &r, sizeof(d));
    return isfinite(d) ? num_dbl(d) : num_dbl(0.0);
  }
  }
}

/* A number of the other kind close to x, where ties and off-by-one
 * rounding live. */
static sort_num_t near_num(sort_num_t x) {
  if (x.is_int) {
    double d = (double)x.v.i;
    int step = (int)(rng() % 3);
    return num_dbl(step == 0 ? d : nextafter(d, step == 1 ? -INFINITY : INFINITY));
  }
  if (fabs(x.v.d) < TWO_POW_63)
    return num_int((int64_t)x.v.d);
  return num_int(x.v.d < 0 ? INT64_MIN : INT64_MAX);
}

static void test_mixed_keys_order_exactly_like_sort_num_cmp(void **state) {
  (void)state;
  for (size_t a = 0; a < EDGE_COUNT; a++) {
    for (size_t b = 0; b < EDGE_COUNT; b++) {
      sort_num_t x = edge_num(a), y = edge_num(b);
      sort_mixed_t kx = sort_mixed_make(x), ky = sort_mixed_make(y);
      int want = sort_num_cmp(&x, &y), got = mixed_cmp(&kx, &ky);
      if ((want > 0) - (want < 0) != got)
        fail_msg("edge %zu vs %zu: keys say %d, sort_num_cmp %d", a, b, got,
                 want);
    }
  }
  for (int k = 0; k < 200000; k++) {
    sort_num_t x = random_wide_num(), y = random_wide_num();
    if (k % 2)
      y = near_num(x);
    sort_mixed_t kx = sort_mixed_make(x), ky = sort_mixed_make(y);
    int want = sort_num_cmp(&x, &y);
    assert_int_equal((want > 0) - (want < 0), mixed_cmp(&kx, &ky));
  }
}

static void test_mixed_keys_give_back_the_number(void **state) {
  (void)state;
  for (size_t k = 0; k < EDGE_COUNT + 100000; k++) {
    sort_num_t x = k < EDGE_COUNT ? edge_num(k) : random_wide_num();
    sort_mixed_t m = sort_mixed_make(x);
    sort_num_t back = sort_mixed_num(&m);
    assert_true(identical(&x, &back));
    assert_true(m.lo < 2048);
  }
}

/* ---- The sort, through sort_nums_t ------------------------------------- */

/* Sorts a tagged array as the service would: in the narrowest kind that
 * holds it, with the best walk. */
static sort_result_t sort_tagged(sort_num_t *v, size_t n,
                                 const sort_ctl_t *ctl) {
  size_t ints = 0;
  for (size_t i = 0; i < n; i++)
    ints += v[i].is_int;
  sort_nums_t nums = {.n = n};
  nums.kind = ints == n ? SORT_KIND_INT
              : ints == 0 ? SORT_KIND_DOUBLE
                          : SORT_KIND_MIXED;
  nums.v.any = malloc((n + 1) * sizeof(sort_mixed_t));
  assert_non_null(nums.v.any);
  for (size_t i = 0; i < n; i++) {
    if (nums.kind == SORT_KIND_INT)
      nums.v.i[i] = v[i].v.i;
    else if (nums.kind == SORT_KIND_DOUBLE)
      nums.v.d[i] = v[i].v.d;
    else
      nums.v.m[i] = sort_mixed_make(v[i]);
  }
  sort_result_t r = sort_nums_sort(&nums, ctl);
  for (size_t i = 0; i < n; i++)
    v[i] = sort_nums_at(&nums, i);
  sort_nums_free(&nums);
  return r;
}

static const sort_walk_t all_walks[] = {SORT_WALK_SCALAR, SORT_WALK_AVX2,
                                        SORT_WALK_AVX512};

static void test_sort_of_nothing_and_of_one_succeeds(void **state) {
  (void)state;
  for (size_t w = 0; w < ARRAY_LEN(all_walks); w++) {
    int64_t i = 7;
    double d = -0.0;
    assert_int_equal(sort_gnome_i64(NULL, 0, all_walks[w], NULL), SORT_DONE);
    assert_int_equal(sort_gnome_f64(NULL, 0, all_walks[w], NULL), SORT_DONE);
    assert_int_equal(sort_gnome_i64(&i, 1, all_walks[w], NULL), SORT_DONE);
    assert_int_equal(sort_gnome_f64(&d, 1, all_walks[w], NULL), SORT_DONE);
    assert_int_equal(i, 7);
    assert_true(d == 0 && signbit(d));
  }
  sort_mixed_t m = sort_mixed_make(num_int(3));
  assert_int_equal(sort_gnome_mixed(NULL, 0, NULL), SORT_DONE);
  assert_int_equal(sort_gnome_mixed(&m, 1, NULL), SORT_DONE);
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
  assert_int_equal(sort_tagged(v, ARRAY_LEN(v), NULL), SORT_DONE);
  for (size_t i = 0; i < ARRAY_LEN(v); i++)
    assert_true(identical(&v[i], &orig[i]));
}

static void test_reversed_input_comes_out_ascending(void **state) {
  (void)state;
  enum { N = 1000 };
  sort_num_t *v = malloc(N * sizeof(*v));
  assert_non_null(v);
  for (int kind = 0; kind < 3; kind++) {
    for (int i = 0; i < N; i++) {
      bool as_int = kind == 0 || (kind == 2 && i % 2);
      v[i] = as_int ? num_int(N - i) : num_dbl(N - i + 0.25);
    }
    assert_int_equal(sort_tagged(v, N, NULL), SORT_DONE);
    assert_ascending(v, N);
  }
  free(v);
}

static void test_equal_values_keep_their_order(void **state) {
  (void)state;
  /* Numerically 0, 1, 0, 1, ... but each one distinguishable. */
  sort_num_t v[] = {num_int(1), num_dbl(-0.0), num_dbl(1.0), num_int(0), num_dbl(0.0), num_int(1), num_dbl(-0.0),
                    num_dbl(1.0), num_int(0)};
  sort_num_t want[] = {num_dbl(-0.0), num_int(0), num_dbl(0.0), num_dbl(-0.0), num_int(0),
                       num_int(1), num_dbl(1.0), num_int(1), num_dbl(1.0)};
  assert_int_equal(sort_tagged(v, ARRAY_LEN(v), NULL), SORT_DONE);
  for (size_t i = 0; i < ARRAY_LEN(v); i++)
    assert_true(identical(&v[i], &want[i]));
  /* All doubles: -0.0 and 0.0 are equal, so they keep their order too. */
  double d[] = {0.0, -0.0, -1.0, 0.0, -0.0, -1.0};
  for (size_t w = 0; w < ARRAY_LEN(all_walks); w++) {
    double t[ARRAY_LEN(d)];
    memcpy(t, d, sizeof(d));
    assert_int_equal(sort_gnome_f64(t, ARRAY_LEN(t), all_walks[w], NULL),
                     SORT_DONE);
    assert_true(t[0] == -1.0 && t[1] == -1.0);
    assert_false(signbit(t[2]));
    assert_true(signbit(t[3]));
    assert_false(signbit(t[4]));
    assert_true(signbit(t[5]));
  }
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

/* Few distinct values, in several spellings, so that ties are common;
 * past 2^53 too, where integers between two doubles differ only in the
 * low part of their mixed key. */
static sort_num_t random_num(int kinds) {
  int64_t k = (int64_t)(rng() % 11) - 5;
  int pick = (int)(rng() % 7);
  if (kinds == 1)
    pick = pick % 2 ? 0 : 4;     /* integers only */
  else if (kinds == 2)
    pick = 1 + (int)(rng() % 3); /* doubles only */
  switch (pick) {
  case 0: return num_int(k);
  case 1: return num_dbl((double)k);
  case 2: return num_dbl((double)k + 0.5);
  case 3: return k == 0 ? num_dbl(-0.0) : num_dbl((double)k * 1e-3);
  case 4: return num_int(k * 1000000007);
  case 5: return num_int(INT64_C(9007199254740992) + k);
  default: return num_dbl(9007199254740992.0 + 2.0 * (double)k);
  }
}

static void test_random_arrays_match_a_stable_reference(void **state) {
  (void)state;
  for (int round = 0; round < 600; round++) {
    size_t n = (size_t)(rng() % 200);
    sort_num_t *v = malloc((n + 1) * sizeof(*v));
    indexed_t *ref = malloc((n + 1) * sizeof(*ref));
    assert_non_null(v);
    assert_non_null(ref);
    for (size_t i = 0; i < n; i++) {
      v[i] = random_num(round % 3);
      ref[i].num = v[i];
      ref[i].index = i;
    }
    qsort(ref, n, sizeof(*ref), indexed_cmp);
    assert_int_equal(sort_tagged(v, n, NULL), SORT_DONE);
    for (size_t i = 0; i < n; i++)
      assert_true(identical(&v[i], &ref[i].num));
    free(v);
    free(ref);
  }
}

/* ---- Vectorised walks against the scalar one --------------------------- */

/* Fills v[0..n) with one of several shapes. */
static void fill_i64(int64_t *v, size_t n, int shape) {
  for (size_t i = 0; i < n; i++) {
    uint64_t r = rng();
    switch (shape) {
    case 0: v[i] = (int64_t)r; break;                          /* random */
    case 1: v[i] = (int64_t)(r % 7) - 3; break;                /* duplicates */
    case 2: v[i] = (r & 1) ? INT64_MIN : INT64_MAX; break;     /* extremes */
    case 3: v[i] = (int64_t)i; break;                          /* sorted */
    case 4: v[i] = -(int64_t)i; break;                         /* reversed */
    case 5: v[i] = (int64_t)(i < n / 2 ? i : n - i); break;    /* organ pipe */
    case 6: v[i] = 42; break;                                  /* all equal */
    default: {
      static const int64_t edges[] = {INT64_MIN, INT64_MIN + 1, -1, 0, 1,
                                      INT64_MAX - 1, INT64_MAX};
      v[i] = edges[r % ARRAY_LEN(edges)];
      break;
    }
    }
  }
}

static void fill_f64(double *v, size_t n, int shape) {
  for (size_t i = 0; i < n; i++) {
    uint64_t r = rng();
    double d;
    switch (shape) {
    case 0:
      memcpy(&d, &r, sizeof(d));
      v[i] = isfinite(d) ? d : 0.0;
      break;
    case 1: v[i] = (double)(r % 5) * 0.5 - 1.0; break;
    case 2: v[i] = (r & 1) ? -0.0 : 0.0; break;                /* zeros */
    case 3: v[i] = (double)i; break;
    case 4: v[i] = -(double)i; break;
    case 5: v[i] = (double)(i < n / 2 ? i : n - i); break;
    case 6: v[i] = 1e-320; break;
    default: {
      static const double edges[] = {-1.7976931348623157e308, -1.0, -5e-324,
                                     -0.0, 0.0, 5e-324, 2.2250738585072014e-308,
                                     1.0, 1.7976931348623157e308};
      v[i] = edges[r % ARRAY_LEN(edges)];
      break;
    }
    }
  }
}

#define SHAPES 8

/* Lengths around the vector widths (4 and 8) and a few longer ones. */
static size_t test_length(int k) {
  static const size_t longer[] = {31, 32, 33, 63, 64, 65, 127, 128, 129,
                                  255, 1000, 1031};
  if (k < 24)
    return (size_t)k;
  return longer[(size_t)(k - 24) % ARRAY_LEN(longer)];
}

static void test_vectorised_walks_equal_the_scalar_walk(void **state) {
  (void)state;
  int walks_run = 0;
  int64_t *a = malloc(1031 * sizeof(int64_t)), *b = malloc(1031 * sizeof(int64_t));
  double *c = malloc(1031 * sizeof(double)), *d = malloc(1031 * sizeof(double));
  assert_true(a != NULL && b != NULL && c != NULL && d != NULL);
  for (size_t w = 1; w < ARRAY_LEN(all_walks); w++) {
    if (!sort_walk_supported(all_walks[w]))
      continue;
    walks_run++;
    for (int round = 0; round < 3; round++) {
      for (int k = 0; k < 36; k++) {
        for (int shape = 0; shape < SHAPES; shape++) {
          size_t n = test_length(k);
          fill_i64(a, n, shape);
          memcpy(b, a, n * sizeof(*a));
          assert_int_equal(sort_gnome_i64(a, n, SORT_WALK_SCALAR, NULL),
                           SORT_DONE);
          assert_int_equal(sort_gnome_i64(b, n, all_walks[w], NULL),
                           SORT_DONE);
          if (n > 0 && memcmp(a, b, n * sizeof(*a)) != 0)
            fail_msg("%s: int64 shape %d, n %zu differs",
                     sort_walk_name(all_walks[w]), shape, n);
          fill_f64(c, n, shape);
          memcpy(d, c, n * sizeof(*c));
          assert_int_equal(sort_gnome_f64(c, n, SORT_WALK_SCALAR, NULL),
                           SORT_DONE);
          assert_int_equal(sort_gnome_f64(d, n, all_walks[w], NULL),
                           SORT_DONE);
          /* Bit for bit: -0.0 and 0.0 must keep their order too. */
          if (n > 0 && memcmp(c, d, n * sizeof(*c)) != 0)
            fail_msg("%s: double shape %d, n %zu differs",
                     sort_walk_name(all_walks[w]), shape, n);
        }
      }
    }
  }
  /* Say what ran, so that a log shows when a machine had no vector walk
   * to compare (then only the scalar paths were tested). */
  printf("# vectorised walks compared with the scalar one: %d (best: %s)\n",
         walks_run, sort_walk_name(sort_walk_best()));
  free(a);
  free(b);
  free(c);
  free(d);
}

static void test_unsupported_walk_falls_back_to_scalar(void **state) {
  (void)state;
  int64_t v[] = {3, 1, 2};
  assert_int_equal(sort_gnome_i64(v, 3, (sort_walk_t)99, NULL), SORT_DONE);
  assert_true(v[0] == 1 && v[1] == 2 && v[2] == 3);
  assert_false(sort_walk_supported((sort_walk_t)99));
  assert_true(sort_walk_supported(SORT_WALK_SCALAR));
  assert_true(sort_walk_supported(sort_walk_best()));
}

/* ---- Cancel, deadline, yield ------------------------------------------- */

static uint64_t monotonic_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Each element of v[0..n) is one of 1..n, once. */
static void assert_permutation_of_1_to_n(const int64_t *v, size_t n) {
  bool *seen = calloc(n + 1, sizeof(*seen));
  assert_non_null(seen);
  for (size_t i = 0; i < n; i++) {
    assert_true(v[i] >= 1 && (size_t)v[i] <= n);
    assert_false(seen[v[i]]);
    seen[v[i]] = true;
  }
  free(seen);
}

static int64_t *reversed_1_to_n(size_t n) {
  int64_t *v = malloc(n * sizeof(*v));
  assert_non_null(v);
  for (size_t i = 0; i < n; i++)
    v[i] = (int64_t)(n - i);
  return v;
}

static void test_cancel_set_beforehand_returns_at_once(void **state) {
  (void)state;
  enum { N = 100000 };
  atomic_bool cancel;
  atomic_init(&cancel, true);
  sort_ctl_t ctl = {.cancel = &cancel};
  int64_t *v = reversed_1_to_n(N);
  for (size_t w = 0; w < ARRAY_LEN(all_walks); w++) {
    uint64_t t0 = uv_hrtime();
    assert_int_equal(sort_gnome_i64(v, N, all_walks[w], &ctl), SORT_CANCELLED);
    assert_true((uv_hrtime() - t0) / 1000000 < 100);
  }
  /* Nothing moved. */
  for (int i = 0; i < N; i++)
    assert_int_equal(v[i], N - i);
  free(v);
}

static void test_unset_cancel_flag_lets_the_sort_finish(void **state) {
  (void)state;
  atomic_bool cancel;
  atomic_init(&cancel, false);
  sort_ctl_t ctl = {.cancel = &cancel};
  sort_num_t v[] = {num_int(3), num_dbl(1.5), num_int(2)};
  assert_int_equal(sort_tagged(v, ARRAY_LEN(v), &ctl), SORT_DONE);
  assert_true(v[0].v.d == 1.5);
  assert_int_equal(v[2].v.i, 3);
}

typedef struct {
  int64_t *v;
  size_t n;
  sort_walk_t walk;
  atomic_bool cancel;
  sort_result_t result;
} sort_run_t;

static void sort_thread(void *arg) {
  sort_run_t *run = arg;
  sort_ctl_t ctl = {.cancel = &run->cancel};
  run->result = sort_gnome_i64(run->v, run->n, run->walk, &ctl);
}

static void test_cancel_during_a_long_sort_stops_it_within_milliseconds(void **state) {
  (void)state;
  enum { N = 200000 };  /* reversed: 2e10 steps, seconds even vectorised */
  for (size_t w = 0; w < ARRAY_LEN(all_walks); w++) {
    sort_run_t run = {.n = N, .walk = all_walks[w], .result = SORT_DONE};
    run.v = reversed_1_to_n(N);
    atomic_init(&run.cancel, false);

    uv_thread_t tid;
    assert_int_equal(uv_thread_create(&tid, sort_thread, &run), 0);
    uv_sleep(30);
    uint64_t t0 = uv_hrtime();
    atomic_store(&run.cancel, true);
    assert_int_equal(uv_thread_join(&tid), 0);
    uint64_t elapsed_ms = (uv_hrtime() - t0) / 1000000;

    assert_int_equal(run.result, SORT_CANCELLED);
    /* Generous for valgrind; natively a walk is a few tens of us. */
    assert_true(elapsed_ms < 250);
    /* Whatever order it stopped in, no element was lost or duplicated. */
    assert_permutation_of_1_to_n(run.v, N);
    free(run.v);
  }
}

static void test_passed_deadline_times_out_at_once(void **state) {
  (void)state;
  enum { N = 100000 };
  sort_ctl_t ctl = {.deadline_ns = monotonic_ns() - 1};
  int64_t *v = reversed_1_to_n(N);
  assert_int_equal(sort_gnome_i64(v, N, sort_walk_best(), &ctl),
                   SORT_TIMED_OUT);
  assert_int_equal(v[0], N);
  sort_mixed_t m[2] = {sort_mixed_make(num_int(2)),
                       sort_mixed_make(num_dbl(1.0))};
  assert_int_equal(sort_gnome_mixed(m, 2, &ctl), SORT_TIMED_OUT);
  free(v);
}

static void test_deadline_stops_a_long_sort_soon_after_it(void **state) {
  (void)state;
  enum { N = 200000, LIMIT_MS = 20 };
  for (size_t w = 0; w < ARRAY_LEN(all_walks); w++) {
    int64_t *v = reversed_1_to_n(N);
    uint64_t t0 = monotonic_ns();
    sort_ctl_t ctl = {.deadline_ns = t0 + LIMIT_MS * 1000000u};
    assert_int_equal(sort_gnome_i64(v, N, all_walks[w], &ctl),
                     SORT_TIMED_OUT);
    uint64_t elapsed_ms = (monotonic_ns() - t0) / 1000000;
    assert_true(elapsed_ms >= LIMIT_MS);
    /* The clock is read every 2^20 units (about 1 ms at most natively);
     * the bound is loose for valgrind. */
    assert_true(elapsed_ms < LIMIT_MS + 250);
    assert_permutation_of_1_to_n(v, N);
    free(v);
  }
}

static void test_deadline_in_the_future_lets_the_sort_finish(void **state) {
  (void)state;
  sort_ctl_t ctl = {.deadline_ns = monotonic_ns() + UINT64_C(60000000000)};
  sort_num_t v[] = {num_int(3), num_dbl(1.5), num_int(2)};
  assert_int_equal(sort_tagged(v, ARRAY_LEN(v), &ctl), SORT_DONE);
  assert_true(v[0].v.d == 1.5);
}

static void count_yield(void *arg) {
  (*(uint64_t *)arg)++;
}

static void test_yield_hook_runs_every_yield_steps_units(void **state) {
  (void)state;
  enum { N = 3000, YIELD_STEPS = 10000 };
  /* Reversed: walk pos passes pos elements, so the work is
   * sum(pos + 1) for pos in 1..N-1. */
  const uint64_t work = (uint64_t)(N - 1) * N / 2 + (N - 1);
  for (size_t w = 0; w < ARRAY_LEN(all_walks); w++) {
    uint64_t calls = 0;
    sort_ctl_t ctl = {.yield_steps = YIELD_STEPS, .yield = count_yield,
                      .yield_arg = &calls};
    int64_t *v = reversed_1_to_n(N);
    assert_int_equal(sort_gnome_i64(v, N, all_walks[w], &ctl), SORT_DONE);
    /* At most one call per YIELD_STEPS units; at least one per
     * YIELD_STEPS + N (a walk is never split, and passes < N). */
    assert_true(calls <= work / YIELD_STEPS);
    assert_true(calls >= work / (YIELD_STEPS + N));
    for (int i = 0; i < N; i++)
      assert_int_equal(v[i], i + 1);
    free(v);
  }
  /* yield_steps 0, or no hook: never. */
  uint64_t calls = 0;
  sort_ctl_t never = {.yield_steps = 0, .yield = count_yield,
                      .yield_arg = &calls};
  int64_t *v = reversed_1_to_n(N);
  assert_int_equal(sort_gnome_i64(v, N, sort_walk_best(), &never), SORT_DONE);
  assert_int_equal(calls, 0);
  free(v);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_ints_compare_by_value),
      cmocka_unit_test(test_doubles_compare_by_value_and_signed_zeros_are_equal),
      cmocka_unit_test(test_int_and_double_zeros_are_equal),
      cmocka_unit_test(test_int_past_2_pow_53_is_not_rounded_to_a_double),
      cmocka_unit_test(test_int64_limits_against_doubles_at_2_pow_63),
      cmocka_unit_test(test_fractions_order_around_the_integer),
      cmocka_unit_test(test_mixed_keys_order_exactly_like_sort_num_cmp),
      cmocka_unit_test(test_mixed_keys_give_back_the_number),
      cmocka_unit_test(test_sort_of_nothing_and_of_one_succeeds),
      cmocka_unit_test(test_sorted_input_stays_sorted),
      cmocka_unit_test(test_reversed_input_comes_out_ascending),
      cmocka_unit_test(test_equal_values_keep_their_order),
      cmocka_unit_test(test_random_arrays_match_a_stable_reference),
      cmocka_unit_test(test_vectorised_walks_equal_the_scalar_walk),
      cmocka_unit_test(test_unsupported_walk_falls_back_to_scalar),
      cmocka_unit_test(test_cancel_set_beforehand_returns_at_once),
      cmocka_unit_test(test_unset_cancel_flag_lets_the_sort_finish),
      cmocka_unit_test(test_cancel_during_a_long_sort_stops_it_within_milliseconds),
      cmocka_unit_test(test_passed_deadline_times_out_at_once),
      cmocka_unit_test(test_deadline_stops_a_long_sort_soon_after_it),
      cmocka_unit_test(test_deadline_in_the_future_lets_the_sort_finish),
      cmocka_unit_test(test_yield_hook_runs_every_yield_steps_units),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
