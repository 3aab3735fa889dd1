/* load_hist: the load generator's latency histogram. Percentiles on known
 * distributions, the bucket error bound over the whole range, merging, and
 * the extremes (0, beyond the last bucket, empty). */
#include "test_util.h"

#include <stdlib.h>

#include "load_hist.h"

/* |got - want| <= 1% of want: the promise the header makes (0.8%). */
static void assert_within_1pct(uint64_t got, uint64_t want) {
  uint64_t diff = got > want ? got - want : want - got;
  if (diff * 100 > want)
    fail_msg("got %llu, want %llu (+-1%%)", (unsigned long long)got,
             (unsigned long long)want);
}

static load_hist_t *new_hist(void) {
  load_hist_t *h = malloc(sizeof(*h));
  assert_non_null(h);
  load_hist_reset(h);
  return h;
}

static void test_empty_histogram_reports_zero(void **state) {
  (void)state;
  load_hist_t *h = new_hist();
  assert_int_equal(h->total, 0);
  assert_int_equal(load_hist_percentile(h, 50.0), 0);
  assert_int_equal(load_hist_percentile(h, 100.0), 0);
  assert_true(load_hist_mean(h) == 0.0);
  free(h);
}

static void test_single_value_is_every_percentile_exactly(void **state) {
  (void)state;
  load_hist_t *h = new_hist();
  load_hist_record(h, 123456789);
  /* The midpoint is clamped to the exact min and max. */
  assert_int_equal(load_hist_percentile(h, 0.0), 123456789);
  assert_int_equal(load_hist_percentile(h, 50.0), 123456789);
  assert_int_equal(load_hist_percentile(h, 99.9), 123456789);
  assert_int_equal(load_hist_percentile(h, 100.0), 123456789);
  free(h);
}

static void test_uniform_1_to_10000_us(void **state) {
  (void)state;
  load_hist_t *h = new_hist();
  for (uint64_t us = 1; us <= 10000; us++)
    load_hist_record(h, us * 1000);
  assert_int_equal(h->total, 10000);
  assert_within_1pct(load_hist_percentile(h, 50.0), 5000 * 1000);
  assert_within_1pct(load_hist_percentile(h, 90.0), 9000 * 1000);
  assert_within_1pct(load_hist_percentile(h, 99.0), 9900 * 1000);
  assert_within_1pct(load_hist_percentile(h, 99.9), 9990 * 1000);
  assert_int_equal(load_hist_percentile(h, 100.0), 10000 * 1000);
  assert_int_equal(h->min, 1000);
  /* The mean is exact, not bucketed. */
  assert_true(load_hist_mean(h) == 5000.5 * 1000);
  free(h);
}

/* 990 fast replies and 10 slow ones: p99 is still fast, p99.9 is slow.
 * The shape that hides behind an average. */
static void test_bimodal_tail_lands_in_the_right_percentile(void **state) {
  (void)state;
  load_hist_t *h = new_hist();
  for (int i = 0; i < 990; i++)
    load_hist_record(h, 100 * 1000);
  for (int i = 0; i < 10; i++)
    load_hist_record(h, 10 * 1000 * 1000);
  assert_within_1pct(load_hist_percentile(h, 50.0), 100 * 1000);
  assert_within_1pct(load_hist_percentile(h, 99.0), 100 * 1000);
  assert_within_1pct(load_hist_percentile(h, 99.1), 10 * 1000 * 1000);
  assert_within_1pct(load_hist_percentile(h, 99.9), 10 * 1000 * 1000);
  free(h);
}

/* Percentile rank: p50 of {1..4} is the 2nd value, p51 the 3rd. */
static void test_rank_is_ceiling_of_p_times_count(void **state) {
  (void)state;
  load_hist_t *h = new_hist();
  for (uint64_t v = 1; v <= 4; v++)
    load_hist_record(h, v * 10);  /* below 64 ns: exact buckets */
  assert_int_equal(load_hist_percentile(h, 25.0), 10);
  assert_int_equal(load_hist_percentile(h, 50.0), 20);
  assert_int_equal(load_hist_percentile(h, 51.0), 30);
  assert_int_equal(load_hist_percentile(h, 75.0), 30);
  assert_int_equal(load_hist_percentile(h, 75.1), 40);
  free(h);
}

static void test_value_at_rank(void **state) {
  (void)state;
  load_hist_t *h = new_hist();
  assert_int_equal(load_hist_value_at_rank(h, 1), 0);
  for (uint64_t v = 1; v <= 5; v++)
    load_hist_record(h, v);
  assert_int_equal(load_hist_value_at_rank(h, 0), 1);  /* as rank 1 */
  assert_int_equal(load_hist_value_at_rank(h, 1), 1);
  assert_int_equal(load_hist_value_at_rank(h, 3), 3);
  assert_int_equal(load_hist_value_at_rank(h, 5), 5);
  assert_int_equal(load_hist_value_at_rank(h, 6), 5);  /* past the end: max */
  free(h);
}

static void test_buckets_tile_the_range_without_gaps(void **state) {
  (void)state;
  assert_int_equal(load_hist_bucket_low(0), 0);
  for (size_t i = 0; i + 1 < LOAD_HIST_BUCKETS; i++) {
    assert_true(load_hist_bucket_low(i) <= load_hist_bucket_high(i));
    assert_int_equal(load_hist_bucket_low(i + 1), load_hist_bucket_high(i) + 1);
    assert_int_equal(load_hist_bucket_of(load_hist_bucket_low(i)), i);
    assert_int_equal(load_hist_bucket_of(load_hist_bucket_high(i)), i);
  }
  assert_int_equal(load_hist_bucket_high(LOAD_HIST_BUCKETS - 1), LOAD_HIST_MAX_NS);
}

/* From 1 us to 100 s, every value's bucket is at most 1/64 of its lower
 * bound wide, so the midpoint is within 0.8% of the value. */
static void test_bucket_relative_error_is_bounded(void **state) {
  (void)state;
  double worst = 0.0;
  for (double v = 1000.0; v <= 100e9; v *= 1.0007) {
    uint64_t ns = (uint64_t)v;
    size_t b = load_hist_bucket_of(ns);
    uint64_t low = load_hist_bucket_low(b), high = load_hist_bucket_high(b);
    assert_true(low <= ns && ns <= high);
    assert_true((double)(high - low + 1) <= (double)low / 64.0);
    double mid = (double)low + (double)(high - low) / 2.0;
    double x = (double)ns;
    double err = (mid > x ? mid - x : x - mid) / x;
    if (err > worst)
      worst = err;
  }
  assert_true(worst <= 1.0 / 128.0);
  /* Below 64 ns each value is its own bucket. */
  for (uint64_t ns = 0; ns < 64; ns++) {
    assert_int_equal(load_hist_bucket_low(load_hist_bucket_of(ns)), ns);
    assert_int_equal(load_hist_bucket_high(load_hist_bucket_of(ns)), ns);
  }
}

static void test_merge_equals_recording_everything_in_one(void **state) {
  (void)state;
  load_hist_t *a = new_hist(), *b = new_hist(), *both = new_hist();
  for (uint64_t i = 1; i <= 5000; i++) {
    load_hist_record(a, i * 777);
    load_hist_record(both, i * 777);
  }
  for (uint64_t i = 1; i <= 3000; i++) {
    load_hist_record(b, i * 123457);
    load_hist_record(both, i * 123457);
  }
  load_hist_merge(a, b);
  assert_int_equal(a->total, both->total);
  assert_int_equal(a->min, both->min);
  assert_int_equal(a->max, both->max);
  assert_memory_equal(a->counts, both->counts, sizeof(a->counts));
  static const double ps[] = {1, 50, 90, 99, 99.9, 100};
  for (size_t i = 0; i < ARRAY_LEN(ps); i++)
    assert_int_equal(load_hist_percentile(a, ps[i]), load_hist_percentile(both, ps[i]));
  free(a);
  free(b);
  free(both);
}

static void test_merging_an_empty_histogram_changes_nothing(void **state) {
  (void)state;
  load_hist_t *a = new_hist(), *empty = new_hist();
  load_hist_record(a, 5000);
  load_hist_merge(a, empty);
  assert_int_equal(a->total, 1);
  assert_int_equal(a->min, 5000);
  assert_int_equal(a->max, 5000);
  load_hist_merge(empty, a);
  assert_int_equal(empty->total, 1);
  assert_int_equal(empty->min, 5000);
  free(a);
  free(empty);
}

static void test_extremes(void **state) {
  (void)state;
  load_hist_t *h = new_hist();
  load_hist_record(h, 0);
  load_hist_record(h, UINT64_MAX);  /* past the last bucket */
  load_hist_record(h, LOAD_HIST_MAX_NS);
  assert_int_equal(h->total, 3);
  assert_int_equal(h->counts[0], 1);
  assert_int_equal(h->counts[LOAD_HIST_BUCKETS - 1], 2);
  assert_int_equal(load_hist_percentile(h, 0.0), 0);
  assert_int_equal(load_hist_percentile(h, 1.0), 0);
  /* The exact max survives clamping into the last bucket. */
  assert_int_equal(load_hist_percentile(h, 100.0), UINT64_MAX);
  assert_int_equal(h->max, UINT64_MAX);
  uint64_t p50 = load_hist_percentile(h, 50.0);
  assert_true(p50 >= load_hist_bucket_low(LOAD_HIST_BUCKETS - 1));
  /* Out-of-range p is clamped, not undefined. */
  assert_int_equal(load_hist_percentile(h, -5.0), 0);
  assert_int_equal(load_hist_percentile(h, 250.0), UINT64_MAX);
  free(h);
}

static void test_reset_forgets_everything(void **state) {
  (void)state;
  load_hist_t *h = new_hist();
  load_hist_record(h, 42);
  load_hist_reset(h);
  assert_int_equal(h->total, 0);
  assert_int_equal(h->counts[42], 0);
  assert_int_equal(h->min, UINT64_MAX);
  assert_int_equal(h->max, 0);
  free(h);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_empty_histogram_reports_zero),
      cmocka_unit_test(test_single_value_is_every_percentile_exactly),
      cmocka_unit_test(test_uniform_1_to_10000_us),
      cmocka_unit_test(test_bimodal_tail_lands_in_the_right_percentile),
      cmocka_unit_test(test_rank_is_ceiling_of_p_times_count),
      cmocka_unit_test(test_value_at_rank),
      cmocka_unit_test(test_buckets_tile_the_range_without_gaps),
      cmocka_unit_test(test_bucket_relative_error_is_bounded),
      cmocka_unit_test(test_merge_equals_recording_everything_in_one),
      cmocka_unit_test(test_merging_an_empty_histogram_changes_nothing),
      cmocka_unit_test(test_extremes),
      cmocka_unit_test(test_reset_forgets_everything),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
