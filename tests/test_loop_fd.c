/* loop_fd: the sort service's share of the open-file limit, and raising
 * the soft limit. */
#include "test_util.h"

#include <errno.h>
#include <sys/resource.h>
#include <unistd.h>
#include <uv.h>

#include "loop_fd.h"

static void test_a_big_limit_changes_nothing(void **state) {
  (void)state;
  /* 4096 + 1024 + 64 = 5184 descriptors at most, well inside. */
  loop_fd_sort_limits_t l = loop_fd_sort_limits(1048576, 64, 4096);
  assert_false(l.capped);
  assert_int_equal(l.max_connections, 4096);
  assert_int_equal(l.hard_limit, 0);  /* net_tcp's default */
}

static void test_at_and_past_the_edge(void **state) {
  (void)state;
  /* 100 + 25 + 64 = 189 = 253 - 64: exactly fits. */
  loop_fd_sort_limits_t l = loop_fd_sort_limits(253, 64, 100);
  assert_false(l.capped);
  assert_int_equal(l.max_connections, 100);
  /* One descriptor less: the budget, 188, becomes the hard limit and a
   * fifth of it is kept for busy replies. */
  l = loop_fd_sort_limits(252, 64, 100);
  assert_true(l.capped);
  assert_int_equal(l.hard_limit, 188);
  assert_int_equal(l.max_connections, 100);  /* 188 - 37 = 151 > 100 */
}

static void test_a_small_limit_keeps_the_reserve(void **state) {
  (void)state;
  /* prlimit --nofile=128: the sort service gets 64, serves 52. */
  loop_fd_sort_limits_t l = loop_fd_sort_limits(128, 64, 4096);
  assert_true(l.capped);
  assert_int_equal(l.hard_limit, 64);
  assert_int_equal(l.max_connections, 52);
  /* A reserve over half the limit keeps half. */
  l = loop_fd_sort_limits(48, 64, 4096);
  assert_true(l.capped);
  assert_int_equal(l.hard_limit, 24);
  assert_int_equal(l.max_connections, 20);
  /* --fd-reserve 0: the whole limit. */
  l = loop_fd_sort_limits(128, 0, 4096);
  assert_int_equal(l.hard_limit, 128);
  /* Degenerate limits still leave one connection. */
  l = loop_fd_sort_limits(1, 64, 4096);
  assert_int_equal(l.hard_limit, 1);
  assert_int_equal(l.max_connections, 1);
  l = loop_fd_sort_limits(0, 64, 4096);
  assert_int_equal(l.hard_limit, 1);
  assert_int_equal(l.max_connections, 1);
}

static void test_huge_settings_do_not_wrap(void **state) {
  (void)state;
  loop_fd_sort_limits_t l = loop_fd_sort_limits(UINT64_MAX, SIZE_MAX, SIZE_MAX);
  assert_true(l.max_connections > 0);
  l = loop_fd_sort_limits(1024, SIZE_MAX, SIZE_MAX);
  assert_true(l.capped);
  assert_int_equal(l.hard_limit, 512);
}

/* Run as a normal user, with soft below hard when the test lowers it. */
static void test_raise_sets_soft_to_hard(void **state) {
  (void)state;
  struct rlimit rl;
  assert_int_equal(getrlimit(RLIMIT_NOFILE, &rl), 0);
  if (rl.rlim_max < 64)
    skip();
  rlim_t hard = rl.rlim_max;
  rl.rlim_cur = 32;
  assert_int_equal(setrlimit(RLIMIT_NOFILE, &rl), 0);
  uint64_t before, after;
  assert_int_equal(loop_fd_raise_limit(&before, &after), 0);
  assert_int_equal(before, 32);
  assert_int_equal(after, hard);
  assert_int_equal(getrlimit(RLIMIT_NOFILE, &rl), 0);
  assert_int_equal(rl.rlim_cur, hard);
  /* Already there: nothing to do. */
  assert_int_equal(loop_fd_raise_limit(&before, &after), 0);
  assert_int_equal(before, hard);
  assert_int_equal(after, hard);
}

/* Fill the descriptor table under a small soft limit: room until the
 * last one is taken, none after, room again once one is closed. */
static void test_room_at_and_past_the_limit(void **state) {
  (void)state;
  struct rlimit saved, rl;
  assert_int_equal(getrlimit(RLIMIT_NOFILE, &saved), 0);
  if (saved.rlim_max < 64)
    skip();
  rl = saved;
  rl.rlim_cur = 64;
  assert_int_equal(setrlimit(RLIMIT_NOFILE, &rl), 0);
  int fds[64];
  size_t n = 0;
  assert_int_equal(loop_fd_room(STDERR_FILENO), 0);
  while (n < ARRAY_LEN(fds)) {
    int fd = dup(STDERR_FILENO);
    if (fd < 0) {
      assert_int_equal(errno, EMFILE);
      break;
    }
    fds[n++] = fd;
  }
  assert_true(n > 0 && n < ARRAY_LEN(fds));
  assert_int_equal(loop_fd_room(STDERR_FILENO), UV_EMFILE);
  /* A failed look leaves nothing open: still full. */
  assert_int_equal(loop_fd_room(STDERR_FILENO), UV_EMFILE);
  close(fds[--n]);
  assert_int_equal(loop_fd_room(STDERR_FILENO), 0);
  /* ... and a look that found room gave its copy back. */
  int last = dup(STDERR_FILENO);
  assert_true(last >= 0);
  assert_int_equal(loop_fd_room(STDERR_FILENO), UV_EMFILE);
  close(last);
  while (n > 0)
    close(fds[--n]);
  assert_int_equal(setrlimit(RLIMIT_NOFILE, &saved), 0);
  /* Not a descriptor: an error, but not "out of descriptors". */
  assert_int_equal(loop_fd_room(-1), UV_EBADF);
}

static void test_watch_counts_episodes_and_repeats_the_warning(void **state) {
  (void)state;
  loop_fd_watch_t w = {0};
  assert_int_equal(loop_fd_watch_note(&w, 0), LOOP_FD_QUIET);
  assert_int_equal(w.exhaustions, 0);
  /* Running out warns at once, then every LOOP_FD_WATCH_REPEAT looks. */
  assert_int_equal(loop_fd_watch_note(&w, UV_EMFILE), LOOP_FD_EXHAUSTED);
  assert_true(w.exhausted);
  assert_int_equal(w.error, UV_EMFILE);
  assert_int_equal(w.exhaustions, 1);
  for (unsigned i = 1; i < LOOP_FD_WATCH_REPEAT; i++)
    assert_int_equal(loop_fd_watch_note(&w, UV_EMFILE), LOOP_FD_QUIET);
  assert_int_equal(loop_fd_watch_note(&w, UV_EMFILE), LOOP_FD_EXHAUSTED);
  assert_int_equal(w.exhaustions, 1); /* one episode, however long */
  assert_int_equal(w.looks_out, LOOP_FD_WATCH_REPEAT + 1);
  /* Room again: said once. */
  assert_int_equal(loop_fd_watch_note(&w, 0), LOOP_FD_RECOVERED);
  assert_false(w.exhausted);
  assert_int_equal(w.looks_out, 0);
  assert_int_equal(loop_fd_watch_note(&w, 0), LOOP_FD_QUIET);
  /* A second episode, the system's table this time. */
  assert_int_equal(loop_fd_watch_note(&w, UV_ENFILE), LOOP_FD_EXHAUSTED);
  assert_int_equal(w.error, UV_ENFILE);
  assert_int_equal(w.exhaustions, 2);
  /* Other errors say nothing about room. */
  assert_int_equal(loop_fd_watch_note(&w, UV_EBADF), LOOP_FD_RECOVERED);
  assert_int_equal(loop_fd_watch_note(&w, UV_EBADF), LOOP_FD_QUIET);
  assert_int_equal(w.exhaustions, 2);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_a_big_limit_changes_nothing),
      cmocka_unit_test(test_at_and_past_the_edge),
      cmocka_unit_test(test_a_small_limit_keeps_the_reserve),
      cmocka_unit_test(test_huge_settings_do_not_wrap),
      cmocka_unit_test(test_raise_sets_soft_to_hard),
      cmocka_unit_test(test_room_at_and_past_the_limit),
      cmocka_unit_test(test_watch_counts_episodes_and_repeats_the_warning),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
