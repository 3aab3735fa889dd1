/* sort_job: a request body in, the exact reply bytes out. */
#include "test_util.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "sort_job.h"

static const sort_job_limits_t limits = {.max_elements = 100000};

static void expect_reply_len(const char *body, size_t len,
                             sort_job_status_t want_status,
                             const char *want_reply) {
  char *reply = NULL;
  size_t reply_len = 0;
  sort_job_status_t st =
      sort_job_run(body, len, &limits, NULL, &reply, &reply_len);
  assert_int_equal(st, want_status);
  assert_non_null(reply);
  if (reply_len != strlen(want_reply) ||
      memcmp(reply, want_reply, reply_len) != 0)
    fail_msg("reply \"%.*s\", want \"%s\"", (int)reply_len, reply, want_reply);
  free(reply);
}

static void expect_reply(const char *body, sort_job_status_t want_status,
                         const char *want_reply) {
  expect_reply_len(body, strlen(body), want_status, want_reply);
}

static void expect_reply_ctl(const char *body, const sort_ctl_t *ctl,
                             const char *want_reply) {
  char *reply = NULL;
  size_t reply_len = 0;
  assert_int_equal(sort_job_run(body, strlen(body), &limits, ctl, &reply,
                                &reply_len),
                   SORT_JOB_OK);
  assert_int_equal(reply_len, strlen(want_reply));
  assert_memory_equal(reply, want_reply, reply_len);
  free(reply);
}

static void test_small_array_comes_back_sorted(void **state) {
  (void)state;
  expect_reply("[3, 1, 2]", SORT_JOB_OK, "[1, 2, 3]");
  expect_reply("[3,1,2]", SORT_JOB_OK, "[1, 2, 3]");
}

static void test_empty_and_single_arrays_come_back_as_is(void **state) {
  (void)state;
  expect_reply("[]", SORT_JOB_OK, "[]");
  expect_reply(" [ 5 ] ", SORT_JOB_OK, "[5]");
}

static void test_mixed_numbers_sort_exactly_and_stably(void **state) {
  (void)state;
  /* Python: json.dumps(sorted(json.loads(body))). */
  expect_reply("[9007199254740993, 9007199254740992.0, 1, 1.0, -0.0, 0]",
               SORT_JOB_OK,
               "[-0.0, 0, 1, 1.0, 9007199254740992.0, 9007199254740993]");
  expect_reply("[9223372036854775807, -9223372036854775808, 1e300, -1e300, "
               "0.1, 1e-05]",
               SORT_JOB_OK,
               "[-1e+300, -9223372036854775808, 1e-05, 0.1, "
               "9223372036854775807, 1e+300]");
}

static void test_bad_requests_get_exact_error_objects(void **state) {
  (void)state;
  expect_reply_len("", 0, SORT_JOB_BAD_INPUT,
                   "{\"error\": \"empty request\"}");
  expect_reply("[1, \"a\"]", SORT_JOB_BAD_INPUT,
               "{\"error\": \"element 1 is a string, not a number\"}");
  expect_reply("{}", SORT_JOB_BAD_INPUT,
               "{\"error\": \"the request is an object, not an array of "
               "numbers\"}");
  expect_reply("[1, 2", SORT_JOB_BAD_INPUT,
               "{\"error\": \"invalid JSON near offset 4\"}");
  expect_reply("[01]", SORT_JOB_BAD_INPUT,
               "{\"error\": \"invalid number \\\"01\\\" (element 0)\"}");
  expect_reply("[1e999]", SORT_JOB_BAD_INPUT,
               "{\"error\": \"number 1e999 is out of the double range "
               "(element 0)\"}");
  expect_reply("[\xff]", SORT_JOB_BAD_INPUT,
               "{\"error\": \"the request is not valid UTF-8 (at offset "
               "1)\"}");
}

static void test_too_many_elements_is_a_bad_request(void **state) {
  (void)state;
  const sort_job_limits_t two = {.max_elements = 2};
  char *reply;
  size_t len;
  assert_int_equal(sort_job_run("[2, 1]", 6, &two, NULL, &reply, &len),
                   SORT_JOB_OK);
  free(reply);
  assert_int_equal(sort_job_run("[3, 2, 1]", 9, &two, NULL, &reply, &len),
                   SORT_JOB_BAD_INPUT);
  const char *want = "{\"error\": \"too many elements: 3 > limit 2\"}";
  assert_int_equal(len, strlen(want));
  assert_memory_equal(reply, want, len);
  free(reply);
}

static void test_cancelled_job_has_no_reply(void **state) {
  (void)state;
  atomic_bool cancel;
  atomic_init(&cancel, true);
  sort_ctl_t ctl = {.cancel = &cancel};
  char *reply = (char *)"untouched";
  size_t len = 99;
  assert_int_equal(sort_job_run("[3, 1, 2]", 9, &limits, &ctl, &reply, &len),
                   SORT_JOB_CANCELLED);
  assert_null(reply);
  assert_int_equal(len, 0);
  /* A bad body is answered whatever the flag says: no sort runs. */
  assert_int_equal(sort_job_run("[3, \"1\"]", 8, &limits, &ctl, &reply, &len),
                   SORT_JOB_BAD_INPUT);
  free(reply);
}

static void test_job_past_its_deadline_times_out_without_a_reply(void **state) {
  (void)state;
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  uint64_t now = (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
  sort_ctl_t ctl = {.deadline_ns = now};
  char *reply = (char *)"untouched";
  size_t len = 99;
  /* One of each kind of array. */
  static const char *bodies[] = {"[3, 1, 2]", "[3.5, 1.5]", "[3, 1.5]"};
  for (size_t k = 0; k < ARRAY_LEN(bodies); k++) {
    assert_int_equal(sort_job_run(bodies[k], strlen(bodies[k]), &limits,
                                  &ctl, &reply, &len),
                     SORT_JOB_TIMED_OUT);
    assert_null(reply);
    assert_int_equal(len, 0);
  }
  /* A deadline a minute away does not get in the way. */
  ctl.deadline_ns = now + UINT64_C(60000000000);
  expect_reply_ctl("[3, 1, 2]", &ctl, "[1, 2, 3]");
}

static int cmp_i64(const void *pa, const void *pb) {
  int64_t a = *(const int64_t *)pa, b = *(const int64_t *)pb;
  return (a > b) - (a < b);
}

static void test_large_random_request_matches_qsort(void **state) {
  (void)state;
  enum { N = 3000 };
  int64_t *vals = malloc(N * sizeof(*vals));
  char *body = malloc(N * 24 + 2);
  char *want = malloc(N * 24 + 2);
  assert_non_null(vals);
  assert_non_null(body);
  assert_non_null(want);
  uint64_t x = 88172645463325252u;
  size_t pos = 0;
  body[pos++] = '[';
  for (int i = 0; i < N; i++) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    vals[i] = (int64_t)x;
    pos += (size_t)sprintf(body + pos, "%s%" PRId64, i ? "," : "", vals[i]);
  }
  body[pos++] = ']';
  qsort(vals, N, sizeof(*vals), cmp_i64);
  size_t wpos = 0;
  want[wpos++] = '[';
  for (int i = 0; i < N; i++)
    wpos += (size_t)sprintf(want + wpos, "%s%" PRId64, i ? ", " : "", vals[i]);
  want[wpos++] = ']';
  want[wpos] = '\0';

  expect_reply_len(body, pos, SORT_JOB_OK, want);
  free(vals);
  free(body);
  free(want);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_small_array_comes_back_sorted),
      cmocka_unit_test(test_empty_and_single_arrays_come_back_as_is),
      cmocka_unit_test(test_mixed_numbers_sort_exactly_and_stably),
      cmocka_unit_test(test_bad_requests_get_exact_error_objects),
      cmocka_unit_test(test_too_many_elements_is_a_bad_request),
      cmocka_unit_test(test_cancelled_job_has_no_reply),
      cmocka_unit_test(test_job_past_its_deadline_times_out_without_a_reply),
      cmocka_unit_test(test_large_random_request_matches_qsort),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
