/* load_gen: dnsort-load's generator core, driven on a real libuv loop by a
 * fake back-end (no sockets): the closed loop keeps --concurrency in flight
 * and stops at --requests; requests that fail inside start() are not
 * restarted from there; timeouts abandon each request once; an open loop
 * past --max-outstanding counts overload without sending. The harness
 * plays the run's part: it sweeps, and closes once the generator says it
 * has stopped and nothing is in flight. */
#include "test_util.h"

#include <stdlib.h>
#include <uv.h>

#include "load_gen.h"

#define MAX_FAKE_REQS 64
/* Ends a test that never finishes instead of hanging the suite. */
#define GUARD_MS 10000

typedef enum {
  REPLY_LATER,   /* the harness replies to everything in flight each tick */
  REPLY_NEVER,   /* only timeouts end requests */
  FAIL_AT_ONCE,  /* start() ends the request before it returns */
} behaviour_t;

typedef struct {
  load_req_t req;
  bool in_use;
} fake_req_t;

typedef struct {
  behaviour_t behaviour;
  fake_req_t reqs[MAX_FAKE_REQS];
  unsigned started, abandoned, opened, closed, destroyed;
  unsigned depth, max_depth;       /* start() nesting */
  uint64_t max_outstanding;        /* in flight, seen after a start */
} fake_t;

typedef struct {
  uv_loop_t loop;
  load_opts_t opts;
  load_gen_t *g;
  fake_t fake;
  uv_timer_t tick;
  uv_timer_t guard;
  bool sweep_while_running;
  bool closing;
  bool guard_fired;
  uint64_t t_start, t_end;
} harness_t;

/* ---- the fake back-end ---- */

static fake_req_t *fake_slot(fake_t *f) {
  for (unsigned i = 0; i < MAX_FAKE_REQS; i++)
    if (!f->reqs[i].in_use)
      return &f->reqs[i];
  return NULL;
}

static int fake_open(load_gen_t *g, char *err, size_t errlen) {
  fake_t *f = load_gen_backend(g);
  (void)err;
  (void)errlen;
  f->opened++;
  return 0;
}

static void fake_start(load_gen_t *g, uint64_t intended_ns) {
  fake_t *f = load_gen_backend(g);
  f->started++;
  f->depth++;
  if (f->depth > f->max_depth)
    f->max_depth = f->depth;
  fake_req_t *q = fake_slot(f);
  assert_non_null(q);
  q->in_use = true;
  load_gen_begin(g, &q->req, intended_ns);
  if (load_gen_outstanding(g) > f->max_outstanding)
    f->max_outstanding = load_gen_outstanding(g);
  if (f->behaviour == FAIL_AT_ONCE) {
    q->in_use = false;
    load_gen_end(g, &q->req, LOAD_CONNECT_REFUSED, false);
  }
  f->depth--;
}

static void fake_abandon(load_gen_t *g, load_req_t *r) {
  fake_t *f = load_gen_backend(g);
  fake_req_t *q = (fake_req_t *)r;  /* req is the first member */
  assert_true(q->in_use);
  q->in_use = false;
  f->abandoned++;
}

static void fake_close(load_gen_t *g) {
  fake_t *f = load_gen_backend(g);
  f->closed++;
}

static void fake_destroy(load_gen_t *g) {
  fake_t *f = load_gen_backend(g);
  f->destroyed++;
}

static const load_gen_ops_t fake_ops = {
    fake_open, fake_start, fake_abandon, fake_close, fake_destroy,
};

/* ---- the harness: the run's part ---- */

static void close_all(harness_t *h) {
  if (h->closing)
    return;
  h->closing = true;
  h->t_end = uv_hrtime();
  load_gen_close(h->g);
  uv_close((uv_handle_t *)&h->tick, NULL);
  uv_close((uv_handle_t *)&h->guard, NULL);
}

static void on_changed(void *arg) {
  harness_t *h = arg;
  if (load_gen_stopped(h->g) && load_gen_outstanding(h->g) == 0)
    close_all(h);
}

static void on_tick(uv_timer_t *t) {
  harness_t *h = t->data;
  if (h->sweep_while_running || load_gen_stopped(h->g))
    load_gen_sweep(h->g, uv_hrtime());
  if (h->fake.behaviour != REPLY_LATER)
    return;
  load_req_t *r;
  while (!h->closing && (r = load_gen_oldest(h->g)) != NULL) {
    ((fake_req_t *)r)->in_use = false;
    load_gen_end(h->g, r, LOAD_OK, true);
  }
}

static void on_guard(uv_timer_t *t) {
  harness_t *h = t->data;
  h->guard_fired = true;
  close_all(h);
}

/* Runs one generator with the options in args (a dnsort-load command line
 * without the program name) until it has stopped and drained. */
static harness_t *run_gen(behaviour_t behaviour, bool sweep_while_running,
                          const char **args, int nargs) {
  harness_t *h = calloc(1, sizeof(*h));
  assert_non_null(h);
  const char *argv[16] = {"dnsort-load"};
  assert_true(nargs < 16);
  for (int i = 0; i < nargs; i++)
    argv[i + 1] = args[i];
  char err[256];
  assert_int_equal(load_opts_parse(nargs + 1, (char **)argv, &h->opts, err,
                                   sizeof(err)),
                   LOAD_OPTS_RUN);
  h->fake.behaviour = behaviour;
  h->sweep_while_running = sweep_while_running;
  load_pace_t pace = h->opts.mode == LOAD_MODE_DNS ? h->opts.dns : h->opts.sort;

  h->g = load_gen_new(&h->loop, &h->opts, "fake", pace, on_changed, h);
  assert_non_null(h->g);
  load_gen_set_backend(h->g, &fake_ops, &h->fake);
  assert_int_equal(uv_loop_init(&h->loop), 0);
  load_gen_init(h->g);
  assert_int_equal(load_gen_open(h->g, err, sizeof(err)), 0);
  uv_timer_init(&h->loop, &h->tick);
  uv_timer_init(&h->loop, &h->guard);
  h->tick.data = h->guard.data = h;
  uv_timer_start(&h->tick, on_tick, 1, 1);
  uv_timer_start(&h->guard, on_guard, GUARD_MS, 0);

  h->t_start = uv_hrtime();
  uint64_t end_ns = h->opts.duration_s > 0
                        ? h->t_start + (uint64_t)(h->opts.duration_s * 1e9)
                        : 0;
  assert_int_equal(load_gen_start(h->g, h->t_start, end_ns, err, sizeof(err)), 0);
  assert_int_equal(uv_run(&h->loop, UV_RUN_DEFAULT), 0);
  assert_false(h->guard_fired);
  return h;
}

static void harness_free(harness_t *h) {
  load_gen_free(h->g);
  assert_int_equal(h->fake.destroyed, 1);
  assert_int_equal(uv_loop_close(&h->loop), 0);
  free(h);
}

static uint64_t count(const harness_t *h, load_result_t r) {
  return load_gen_stats(h->g)->count[r];
}

/* ---- tests ---- */

static void test_closed_loop_keeps_concurrency_and_stops_at_requests(void **state) {
  (void)state;
  const char *args[] = {"sort", "--concurrency", "3", "--requests", "10"};
  harness_t *h = run_gen(REPLY_LATER, true, args, ARRAY_LEN(args));
  assert_int_equal(h->fake.started, 10);
  assert_int_equal(count(h, LOAD_OK), 10);
  assert_int_equal(load_stats_errors(load_gen_stats(h->g)), 0);
  /* Topped up to 3 each time, never past it. */
  assert_int_equal(h->fake.max_outstanding, 3);
  assert_int_equal(h->fake.abandoned, 0);
  assert_int_equal(h->fake.opened, 1);
  assert_int_equal(h->fake.closed, 1);
  load_gen_report_t rep;
  load_gen_report(h->g, &rep);
  assert_false(rep.open_loop);
  assert_int_equal(rep.concurrency, 3);
  assert_string_equal(rep.first_error, "");
  assert_true(load_gen_last_ns(h->g) >= h->t_start);
  harness_free(h);
}

static void test_failure_inside_start_is_not_restarted_from_there(void **state) {
  (void)state;
  const char *args[] = {"sort", "--concurrency", "8", "--requests", "1000"};
  harness_t *h = run_gen(FAIL_AT_ONCE, true, args, ARRAY_LEN(args));
  assert_int_equal(h->fake.started, 1000);
  assert_int_equal(count(h, LOAD_CONNECT_REFUSED), 1000);
  /* Ending a request inside start() must not call start() again. */
  assert_int_equal(h->fake.max_depth, 1);
  load_gen_report_t rep;
  load_gen_report(h->g, &rep);
  assert_string_equal(rep.first_error, "connect_refused");
  harness_free(h);
}

static void test_timeouts_abandon_each_request_once(void **state) {
  (void)state;
  const char *args[] = {"sort", "--concurrency", "4", "--requests", "4",
                        "--timeout", "0.05"};
  harness_t *h = run_gen(REPLY_NEVER, true, args, ARRAY_LEN(args));
  assert_int_equal(h->fake.started, 4);
  assert_int_equal(count(h, LOAD_TIMEOUT), 4);
  assert_int_equal(h->fake.abandoned, 4);
  /* Not before the timeout. */
  assert_true(h->t_end - h->t_start >= 50 * UINT64_C(1000000));
  load_gen_report_t rep;
  load_gen_report(h->g, &rep);
  assert_non_null(strstr(rep.first_error, "timeout"));
  harness_free(h);
}

static void test_open_loop_counts_overload_without_sending(void **state) {
  (void)state;
  /* 2000/s for 0.1 s: 200 due. Nothing replies and nothing times out
   * while the schedule runs (the harness sweeps only after the stop), so
   * exactly the first 5 are sent and the other 195 are overload. */
  const char *args[] = {"dns", "--rate", "2000", "--duration", "0.1",
                        "--max-outstanding", "5", "--timeout", "0.1"};
  harness_t *h = run_gen(REPLY_NEVER, false, args, ARRAY_LEN(args));
  assert_int_equal(h->fake.started, 5);
  assert_int_equal(count(h, LOAD_OVERLOAD), 195);
  assert_int_equal(count(h, LOAD_TIMEOUT), 5);
  assert_int_equal(h->fake.abandoned, 5);
  load_gen_report_t rep;
  load_gen_report(h->g, &rep);
  assert_true(rep.open_loop);
  assert_non_null(rep.lag);
  assert_int_equal(rep.lag->total, 5);
  harness_free(h);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_closed_loop_keeps_concurrency_and_stops_at_requests),
      cmocka_unit_test(test_failure_inside_start_is_not_restarted_from_there),
      cmocka_unit_test(test_timeouts_abandon_each_request_once),
      cmocka_unit_test(test_open_loop_counts_overload_without_sending),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
