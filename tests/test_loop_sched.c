/* Unit tests for the worker pool's plan (loop_sched_plan): what each libuv
 * version gets by default, and that options always win. */
#include "test_util.h"

#include <uv.h>

#include "loop_sched.h"

#define AUTO_REQUEST                                              \
  {.threads = LOOP_SCHED_AUTO, .worker_nice = LOOP_SCHED_AUTO,    \
   .yield_us = LOOP_SCHED_AUTO, .loop_slice_us = LOOP_SCHED_AUTO}

#define UV_1_44_2 0x012c02u
#define UV_1_45_0 0x012d00u
#define UV_1_50_0 0x013200u

static void test_libuv_without_the_async_spin_gets_a_worker_per_cpu_at_nice_10(void **state) {
  (void)state;
  loop_sched_request_t req = AUTO_REQUEST;
  unsigned versions[] = {UV_1_45_0, UV_1_50_0};
  for (size_t i = 0; i < ARRAY_LEN(versions); i++) {
    loop_sched_plan_t p = loop_sched_plan(&req, 2, versions[i]);
    assert_int_equal(p.threads, 2);
    assert_int_equal(p.worker_nice, 10);
    assert_int_equal(p.yield_us, 0);
    assert_int_equal(p.loop_slice_us, 0);
  }
}

static void test_libuv_1_44_sorts_on_every_cpu_with_yielding_workers(void **state) {
  (void)state;
  loop_sched_request_t req = AUTO_REQUEST;
  loop_sched_plan_t p = loop_sched_plan(&req, 2, UV_1_44_2);
  assert_int_equal(p.threads, 2);
  assert_int_equal(p.worker_nice, 0);
  assert_true(p.yield_us > 0);
  p = loop_sched_plan(&req, 1, UV_1_44_2);
  assert_int_equal(p.threads, 1);
  /* A count of 0 (an unknown machine) still gets one worker. */
  p = loop_sched_plan(&req, 0, UV_1_50_0);
  assert_int_equal(p.threads, 1);
}

static void test_options_win_over_the_plan(void **state) {
  (void)state;
  loop_sched_request_t req = {.threads = 7, .worker_nice = 19, .yield_us = 0,
                              .loop_slice_us = 300};
  unsigned versions[] = {UV_1_44_2, UV_1_50_0};
  for (size_t i = 0; i < ARRAY_LEN(versions); i++) {
    loop_sched_plan_t p = loop_sched_plan(&req, 2, versions[i]);
    assert_int_equal(p.threads, 7);
    assert_int_equal(p.worker_nice, 19);
    assert_int_equal(p.yield_us, 0);
    assert_int_equal(p.loop_slice_us, 300);
    assert_string_equal(p.why, "set by options");
  }
  /* One option given, the rest still planned. */
  loop_sched_request_t one = AUTO_REQUEST;
  one.worker_nice = 5;
  loop_sched_plan_t p = loop_sched_plan(&one, 4, UV_1_50_0);
  assert_int_equal(p.threads, 4);
  assert_int_equal(p.worker_nice, 5);
}

static void test_set_slice_is_honoured_or_refused_cleanly(void **state) {
  (void)state;
  /* The kernel decides: 0 on Linux >= 6.12, a libuv error before. Either
   * way the call returns and the thread keeps running. */
  int rc = loop_sched_set_slice(200);
  assert_true(rc == 0 || rc == UV_ENOTSUP || rc == UV_EINVAL || rc == UV_ENOSYS || rc == UV_EPERM);
  if (rc == 0)
    assert_int_equal(loop_sched_set_slice(3000), 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_libuv_without_the_async_spin_gets_a_worker_per_cpu_at_nice_10),
      cmocka_unit_test(test_libuv_1_44_sorts_on_every_cpu_with_yielding_workers),
      cmocka_unit_test(test_options_win_over_the_plan),
      cmocka_unit_test(test_set_slice_is_honoured_or_refused_cleanly),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
