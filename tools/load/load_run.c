#include "load_run.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/timerfd.h>
#include <unistd.h>

#define container_of(ptr, type, member) \
  ((type *)((char *)(ptr) - offsetof(type, member)))

#define NS_PER_MS UINT64_C(1000000)
#define NS_PER_S UINT64_C(1000000000)
/* Each step holds a 16 KiB histogram: this caps their memory at 16 MiB. A
 * ramp that reaches the cap ends there, as it would at --duration. */
#define MAX_RAMP_STEPS 1000
#define RAMP_MAX_ERROR_RATIO 0.001
/* File descriptors kept free for the loop, sockets and stdio. */
#define FD_RESERVE 64

typedef struct {
  double rate;
  uint64_t start_ns, end_ns;
  uint64_t outstanding;
  load_stats_t stats;
  bool over;       /* its window has passed: no more requests join it */
  bool resolved;   /* verdict given (see step_resolve) */
  bool held;
  /* The numbers the verdict was given on. */
  uint64_t v_requests, v_errors, v_late, v_p99_ns;
} load_step_t;

struct load_gen {
  const char *name;
  load_run_t *run;
  const load_gen_ops_t *ops;
  void *backend;
  load_pace_t pace;
  uint64_t max_outstanding;
  uint64_t started;          /* scheduled so far, overload included */
  uint64_t outstanding;
  load_req_t list;           /* sentinel of the in-flight list */
  bool stopped;              /* starts no more requests */
  uv_idle_t refill;          /* closed loop: top up after completions */
  /* The schedule's clock: a timerfd armed at absolute nanoseconds, polled
   * by the loop. libuv timers count whole milliseconds from a truncated
   * loop time and wake up to 1 ms late, which an open-loop schedule would
   * add to every latency at DNS's tens of microseconds. */
  int clock_fd;
  uv_poll_t clock;
  bool clock_open;           /* uv_poll_init done: needs uv_close */
  /* Open loop: request k of the current schedule is due at
   * sched_t0 + k / rate. */
  double rate;
  uint64_t sched_t0;
  uint64_t sched_k;
  /* --ramp */
  load_step_t *steps;
  unsigned nsteps;
  unsigned max_steps;
  unsigned cur_step;
  bool ramp_failed;
  load_stats_t stats;
  load_stats_t interval;     /* since the last progress line */
  load_hist_t lag;           /* open loop: actual start - scheduled start */
  uint64_t stray;
  char first_error[200];
};

typedef enum { RUN_RUNNING, RUN_DRAINING, RUN_CLOSING } run_state_t;

struct load_run {
  uv_loop_t loop;
  const load_opts_t *opts;
  load_gen_t *gens[2];
  unsigned ngens;
  uv_signal_t sigint;
  uv_timer_t end_timer;      /* --duration, then the end of the drain */
  uv_timer_t sweep;          /* times out requests */
  uv_timer_t progress;
  run_state_t state;
  bool hard_end_armed;
  uint64_t t0;
  uint64_t end_ns;           /* t0 + --duration, 0 without one */
  uint64_t last_ns;          /* when the last request ended */
  uint64_t timeout_ns;
  uint64_t drain_ms;
  unsigned progress_ticks;
  load_stats_t total;
};

static void begin_close(load_run_t *run);
static void run_check(load_run_t *run);
static void on_clock(uv_poll_t *p, int status, int events);
static void on_refill(uv_idle_t *h);
static void on_end(uv_timer_t *t);

/* ---- small helpers ---- */

static void list_init(load_req_t *head) { head->prev = head->next = head; }

static void list_push(load_req_t *head, load_req_t *r) {
  r->prev = head->prev;
  r->next = head;
  head->prev->next = r;
  head->prev = r;
}

static void list_remove(load_req_t *r) {
  r->prev->next = r->next;
  r->next->prev = r->prev;
  r->prev = r->next = NULL;
}

void load_gen_set_backend(load_gen_t *g, const load_gen_ops_t *ops,
                          void *backend) {
  g->ops = ops;
  g->backend = backend;
}

uv_loop_t *load_gen_loop(load_gen_t *g) { return &g->run->loop; }
const load_opts_t *load_gen_opts(load_gen_t *g) { return g->run->opts; }
void *load_gen_backend(load_gen_t *g) { return g->backend; }

load_req_t *load_gen_oldest(load_gen_t *g) {
  return g->list.next == &g->list ? NULL : g->list.next;
}

load_req_t *load_gen_next(load_gen_t *g, load_req_t *r) {
  return r->next == &g->list ? NULL : r->next;
}

void load_gen_note(load_gen_t *g, const char *fmt, ...) {
  if (g->first_error[0] != '\0')
    return;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(g->first_error, sizeof(g->first_error), fmt, ap);
  va_end(ap);
}

void load_gen_stray(load_gen_t *g) { g->stray++; }

static void record(load_gen_t *g, unsigned step, load_result_t result,
                   bool replied, uint64_t latency_ns) {
  load_stats_add(&g->stats, result, replied, latency_ns);
  load_stats_add(&g->interval, result, replied, latency_ns);
  if (g->steps != NULL)
    load_stats_add(&g->steps[step].stats, result, replied, latency_ns);
  if (result != LOAD_OK)
    load_gen_note(g, "%s", load_result_name(result));
}

static void gen_stop(load_gen_t *g) {
  if (g->stopped)
    return;
  g->stopped = true;
  uv_idle_stop(&g->refill);
  if (g->clock_open)
    uv_poll_stop(&g->clock);
}

/* ---- ramp steps ---- */

static uint64_t p99_bound_ns(const load_gen_t *g) {
  return (uint64_t)(g->run->opts->ramp_p99_ms * 1e6);
}

/* A step is judged once nothing of it is in flight, or --ramp-p99-ms after
 * its window closed, whichever comes first: waiting for lost datagrams to
 * time out would let the ramp climb on for --timeout seconds past a
 * failure. Requests still in flight then are older than the bound, so they
 * count as latencies above it (if they later time out, the step's final
 * counts show it, not the verdict). */
static void step_resolve(load_gen_t *g, unsigned i) {
  load_step_t *st = &g->steps[i];
  if (st->resolved)
    return;
  st->resolved = true;
  const load_hist_t *h = &st->stats.hist;
  uint64_t bound_ns = p99_bound_ns(g);
  st->v_late = st->outstanding;
  st->v_requests = load_stats_requests(&st->stats) + st->v_late;
  st->v_errors = load_stats_errors(&st->stats);
  uint64_t samples = h->total + st->v_late;
  uint64_t rank = (uint64_t)ceil(0.99 * (double)samples);
  st->v_p99_ns = samples == 0       ? 0
                 : rank <= h->total ? load_hist_value_at_rank(h, rank)
                                    : UINT64_MAX;
  st->held = (double)st->v_errors <= RAMP_MAX_ERROR_RATIO * (double)st->v_requests &&
             st->v_p99_ns <= bound_ns;
  if (!st->held && !g->ramp_failed) {
    g->ramp_failed = true;
    gen_stop(g);
    run_check(g->run);
  }
}

static void step_close(load_gen_t *g) {
  load_step_t *st = &g->steps[g->cur_step];
  st->over = true;
  if (st->outstanding == 0)
    step_resolve(g, g->cur_step);
}

static void step_open_next(load_gen_t *g) {
  const load_opts_t *o = g->run->opts;
  unsigned next = g->cur_step + 1;
  if (next >= g->max_steps) {
    gen_stop(g);
    run_check(g->run);
    return;
  }
  load_step_t *prev = &g->steps[g->cur_step], *st = &g->steps[next];
  st->rate = o->ramp_factor > 0 ? prev->rate * o->ramp_factor
                                 : prev->rate + o->ramp_add;
  st->start_ns = prev->end_ns;
  st->end_ns = st->start_ns + (uint64_t)(o->ramp_step_s * 1e9);
  load_stats_reset(&st->stats);
  g->cur_step = next;
  g->nsteps = next + 1;
  g->rate = st->rate;
  g->sched_t0 = st->start_ns;
  g->sched_k = 0;
}

/* Steps are held or failed in order; the knee is the last step held before
 * the first that was not. */
static int ramp_knee(const load_gen_t *g) {
  int knee = -1;
  for (unsigned i = 0; i < g->nsteps; i++) {
    if (!g->steps[i].resolved || !g->steps[i].held)
      break;
    knee = (int)i;
  }
  return knee;
}

/* ---- requests ---- */

void load_gen_begin(load_gen_t *g, load_req_t *r, uint64_t intended_ns) {
  r->intended_ns = intended_ns;
  r->deadline_ns = uv_hrtime() + g->run->timeout_ns;
  r->step = g->cur_step;
  list_push(&g->list, r);
  g->outstanding++;
  if (g->steps != NULL)
    g->steps[r->step].outstanding++;
}

void load_gen_end(load_gen_t *g, load_req_t *r, load_result_t result,
                  bool replied) {
  uint64_t now = uv_hrtime();
  list_remove(r);
  g->outstanding--;
  record(g, r->step, result, replied,
         now > r->intended_ns ? now - r->intended_ns : 0);
  g->run->last_ns = now;
  if (g->steps != NULL) {
    load_step_t *st = &g->steps[r->step];
    st->outstanding--;
    if (st->over && st->outstanding == 0)
      step_resolve(g, r->step);
  }
  /* Never start the next request from here: the back-end may be in the
   * middle of its callback, or of start() itself (a synchronous failure),
   * and a refused port would recurse without end. */
  if (!g->stopped && g->pace.concurrency > 0)
    uv_idle_start(&g->refill, on_refill);
  run_check(g->run);
}

/* ---- pacing ---- */

/* Closed loop: top up to the concurrency. At most `concurrency` starts per
 * call, so that requests failing synchronously cannot spin here; the idle
 * handle brings us back on the next loop iteration. */
static void gen_refill(load_gen_t *g) {
  unsigned budget = g->pace.concurrency;
  while (!g->stopped && g->outstanding < g->pace.concurrency && budget > 0) {
    budget--;
    g->started++;
    g->ops->start(g, uv_hrtime());
    if (g->run->opts->requests > 0 && g->started >= g->run->opts->requests) {
      gen_stop(g);
      run_check(g->run);
    }
  }
  if (!g->stopped && g->outstanding < g->pace.concurrency)
    uv_idle_start(&g->refill, on_refill);
}

static void on_refill(uv_idle_t *h) {
  load_gen_t *g = container_of(h, load_gen_t, refill);
  uv_idle_stop(h);
  gen_refill(g);
}

static uint64_t sched_time(const load_gen_t *g, uint64_t k) {
  return g->sched_t0 + (uint64_t)((double)k * 1e9 / g->rate);
}

/* Wake at `when`, in uv_hrtime()'s clock, which is CLOCK_MONOTONIC. */
static void arm_clock(load_gen_t *g, uint64_t when) {
  struct itimerspec its;
  memset(&its, 0, sizeof(its));
  its.it_value.tv_sec = (time_t)(when / NS_PER_S);
  its.it_value.tv_nsec = (long)(when % NS_PER_S);
  /* An it_value of zero disarms the timer instead of firing it. */
  if (its.it_value.tv_sec == 0 && its.it_value.tv_nsec == 0)
    its.it_value.tv_nsec = 1;
  if (timerfd_settime(g->clock_fd, TFD_TIMER_ABSTIME, &its, NULL) != 0) {
    /* Cannot happen with a valid fd and time; stop rather than stall. */
    load_gen_note(g, "timerfd_settime failed");
    gen_stop(g);
    run_check(g->run);
  }
}

/* Open loop: start everything due by now, each with its scheduled time as
 * the origin of its latency, so a slow reply delays no later request's
 * start and stalls show up in the percentiles (no coordinated omission).
 * Requests due while max_outstanding are in flight are not sent at all and
 * count as overload. */
static void gen_tick(load_gen_t *g) {
  load_run_t *run = g->run;
  uint64_t now = uv_hrtime();
  while (!g->stopped) {
    uint64_t t = sched_time(g, g->sched_k);
    if (g->steps != NULL && t >= g->steps[g->cur_step].end_ns) {
      step_close(g);
      if (!g->stopped)
        step_open_next(g);
      continue;
    }
    if (t > now) {
      arm_clock(g, t);
      return;
    }
    if (run->end_ns != 0 && t >= run->end_ns) {
      gen_stop(g);
      run_check(run);
      return;
    }
    g->sched_k++;
    g->started++;
    if (g->outstanding >= g->max_outstanding) {
      record(g, g->cur_step, LOAD_OVERLOAD, false, 0);
      if (t > run->last_ns)
        run->last_ns = t;
    } else {
      uint64_t sent = uv_hrtime();
      load_hist_record(&g->lag, sent > t ? sent - t : 0);
      g->ops->start(g, t);
    }
    if (run->opts->requests > 0 && g->started >= run->opts->requests) {
      gen_stop(g);
      run_check(run);
    }
  }
}

static void on_clock(uv_poll_t *p, int status, int events) {
  load_gen_t *g = container_of(p, load_gen_t, clock);
  uint64_t expirations;
  (void)events;
  /* Consume the expiry so the fd stops polling readable. Its value and a
   * failure (EAGAIN on a spurious wakeup) tell us nothing: the schedule is
   * read from the clock, not counted in expiries. */
  ssize_t n = read(g->clock_fd, &expirations, sizeof(expirations));
  (void)n;
  if (status < 0 || g->stopped)
    return;
  if (g->pace.concurrency > 0) {
    /* Closed loop: the clock only gives the start signal. */
    uv_poll_stop(&g->clock);
    gen_refill(g);
  } else {
    gen_tick(g);
  }
}

/* ---- the run's life ---- */

static void stop_all(load_run_t *run) {
  for (unsigned i = 0; i < run->ngens; i++)
    gen_stop(run->gens[i]);
}

/* Everyone stopped starting: drain. Nothing in flight: close. */
static void run_check(load_run_t *run) {
  if (run->state == RUN_RUNNING) {
    for (unsigned i = 0; i < run->ngens; i++)
      if (!run->gens[i]->stopped)
        return;
    run->state = RUN_DRAINING;
    /* A ramp that found its knee has no use for the stragglers of the step
     * that failed: give them the drain period, not --timeout. (--requests
     * runs wait for theirs: they are the sample.) */
    if (run->opts->ramp && !run->hard_end_armed) {
      run->hard_end_armed = true;
      uv_timer_start(&run->end_timer, on_end, run->drain_ms, 0);
    }
  }
  if (run->state != RUN_DRAINING)
    return;
  for (unsigned i = 0; i < run->ngens; i++)
    if (run->gens[i]->outstanding > 0)
      return;
  begin_close(run);
}

static void on_end(uv_timer_t *t) {
  load_run_t *run = container_of(t, load_run_t, end_timer);
  if (run->state == RUN_RUNNING) {
    stop_all(run);
    run->state = RUN_DRAINING;
  }
  if (run->state != RUN_DRAINING)
    return;
  if (run->hard_end_armed) {
    begin_close(run);
    return;
  }
  run->hard_end_armed = true;
  uv_timer_start(&run->end_timer, on_end, run->drain_ms, 0);
  run_check(run);
}

static void on_sigint(uv_signal_t *s, int signum) {
  load_run_t *run = container_of(s, load_run_t, sigint);
  if (run->state == RUN_RUNNING) {
    stop_all(run);
    run->state = RUN_DRAINING;
    run->hard_end_armed = true;
    uv_timer_start(&run->end_timer, on_end, run->drain_ms, 0);
    run_check(run);
  } else if (run->state == RUN_DRAINING) {
    begin_close(run);
  }
}

static void on_sweep(uv_timer_t *t) {
  load_run_t *run = container_of(t, load_run_t, sweep);
  uint64_t now = uv_hrtime();
  for (unsigned i = 0; i < run->ngens; i++) {
    load_gen_t *g = run->gens[i];
    /* Started in order with one timeout: the oldest expires first. */
    load_req_t *r;
    while ((r = load_gen_oldest(g)) != NULL && r->deadline_ns <= now) {
      load_gen_note(g, "timeout: no complete reply within %g s",
                    run->opts->timeout_s);
      load_gen_end(g, r, LOAD_TIMEOUT, false);
      g->ops->abandon(g, r);
    }
    for (unsigned s = 0; g->steps != NULL && s < g->nsteps; s++) {
      load_step_t *st = &g->steps[s];
      if (st->over && !st->resolved && now >= st->end_ns + p99_bound_ns(g))
        step_resolve(g, s);
    }
  }
}

static void on_progress(uv_timer_t *t) {
  load_run_t *run = container_of(t, load_run_t, progress);
  run->progress_ticks++;
  fprintf(stderr, "[%3us]", run->progress_ticks);
  for (unsigned i = 0; i < run->ngens; i++) {
    load_gen_t *g = run->gens[i];
    char p99[32] = "-";
    if (g->interval.hist.total > 0)
      load_format_ns(p99, sizeof(p99),
                     load_hist_percentile(&g->interval.hist, 99.0));
    fprintf(stderr, "%s %s: %" PRIu64 " done, %" PRIu64 "/s, %" PRIu64
            " errors, p99 %s", i ? ";" : "", g->name,
            load_stats_requests(&g->stats), load_stats_requests(&g->interval),
            load_stats_errors(&g->stats), p99);
    if (g->steps != NULL)
      fprintf(stderr, " (ramp %.0f/s)", g->rate);
    load_stats_reset(&g->interval);
  }
  fputc('\n', stderr);
}

/* Count whatever is still in flight as timed out, close every handle; the
 * loop then runs out of work and uv_run returns. */
static void begin_close(load_run_t *run) {
  if (run->state == RUN_CLOSING)
    return;
  run->state = RUN_CLOSING;
  for (unsigned i = 0; i < run->ngens; i++) {
    load_gen_t *g = run->gens[i];
    gen_stop(g);
    load_req_t *r;
    while ((r = load_gen_oldest(g)) != NULL) {
      load_gen_note(g, "timeout: still in flight when the run ended");
      load_gen_end(g, r, LOAD_TIMEOUT, false);
      g->ops->abandon(g, r);
    }
    for (unsigned s = 0; g->steps != NULL && s < g->nsteps; s++) {
      g->steps[s].over = true;
      step_resolve(g, s);
    }
    uv_close((uv_handle_t *)&g->refill, NULL);
    if (g->clock_open) {
      /* libuv allows closing the fd right after uv_close (poll.rst). */
      uv_close((uv_handle_t *)&g->clock, NULL);
      g->clock_open = false;
    }
    if (g->clock_fd >= 0) {
      close(g->clock_fd);
      g->clock_fd = -1;
    }
    g->ops->close(g);
  }
  uv_close((uv_handle_t *)&run->sigint, NULL);
  uv_close((uv_handle_t *)&run->end_timer, NULL);
  uv_close((uv_handle_t *)&run->sweep, NULL);
  uv_close((uv_handle_t *)&run->progress, NULL);
}

/* ---- setup and teardown ---- */

/* Sort requests hold one socket each: make sure the fd limit allows the
 * most we may have in flight. */
static int fit_fd_limit(load_gen_t *g, char *err, size_t errlen) {
  struct rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
    return 0;
  if (rl.rlim_cur < rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max;
    if (setrlimit(RLIMIT_NOFILE, &rl) != 0)
      getrlimit(RLIMIT_NOFILE, &rl);
  }
  uint64_t room = rl.rlim_cur > FD_RESERVE ? rl.rlim_cur - FD_RESERVE : 1;
  if (g->pace.concurrency > room) {
    snprintf(err, errlen, "--concurrency %u needs more file descriptors than "
             "the limit allows (%llu)", g->pace.concurrency,
             (unsigned long long)rl.rlim_cur);
    return -1;
  }
  if (g->max_outstanding > room) {
    fprintf(stderr, "dnsort-load: sort: --max-outstanding lowered to %llu "
            "(file descriptor limit)\n", (unsigned long long)room);
    g->max_outstanding = room;
  }
  return 0;
}

static load_gen_t *gen_new(load_run_t *run, const char *name, load_pace_t pace) {
  load_gen_t *g = calloc(1, sizeof(*g));
  if (g == NULL)
    return NULL;
  g->name = name;
  g->run = run;
  g->pace = pace;
  g->max_outstanding = run->opts->max_outstanding;
  g->rate = pace.rate;
  g->clock_fd = -1;
  list_init(&g->list);
  load_hist_reset(&g->lag);
  load_stats_reset(&g->stats);
  load_stats_reset(&g->interval);
  if (run->opts->ramp) {
    double steps = ceil(run->opts->duration_s / run->opts->ramp_step_s) + 1;
    g->max_steps = steps > MAX_RAMP_STEPS ? MAX_RAMP_STEPS : (unsigned)steps;
    g->steps = calloc(g->max_steps, sizeof(*g->steps));
    if (g->steps == NULL) {
      free(g);
      return NULL;
    }
  }
  return g;
}

static void gen_free(load_gen_t *g) {
  if (g == NULL)
    return;
  if (g->ops != NULL && g->ops->destroy != NULL)
    g->ops->destroy(g);
  if (g->clock_fd >= 0)
    close(g->clock_fd);
  free(g->steps);
  free(g);
}

int load_run_create(load_run_t **out, const load_opts_t *opts, char *err,
                    size_t errlen) {
  int rc = 3;
  load_run_t *run = calloc(1, sizeof(*run));
  *out = NULL;
  if (run == NULL) {
    snprintf(err, errlen, "out of memory");
    goto done;
  }
  run->opts = opts;
  run->timeout_ns = (uint64_t)(opts->timeout_s * 1e9);
  run->drain_ms = (uint64_t)(opts->drain_s * 1e3);
  load_stats_reset(&run->total);

  if (opts->mode & LOAD_MODE_DNS) {
    load_gen_t *g = gen_new(run, "dns", opts->dns);
    if (g == NULL) {
      snprintf(err, errlen, "out of memory");
      goto done;
    }
    run->gens[run->ngens++] = g;
    if (load_dns_setup(g, err, errlen) != 0)
      goto done;
  }
  if (opts->mode & LOAD_MODE_SORT) {
    load_gen_t *g = gen_new(run, "sort", opts->sort);
    if (g == NULL) {
      snprintf(err, errlen, "out of memory");
      goto done;
    }
    run->gens[run->ngens++] = g;
    if (fit_fd_limit(g, err, errlen) != 0) {
      rc = 2;
      goto done;
    }
    int st = load_sort_setup(g, err, errlen);
    if (st != 0) {
      /* An unreadable or invalid --payload is the user's to fix. */
      rc = st == UV_EINVAL ? 2 : 3;
      goto done;
    }
  }

  int uvrc = uv_loop_init(&run->loop);
  if (uvrc != 0) {
    snprintf(err, errlen, "uv_loop_init: %s", uv_strerror(uvrc));
    goto done;
  }
  *out = run;
  run = NULL;
  rc = 0;

done:
  if (run != NULL) {
    for (unsigned i = 0; i < run->ngens; i++)
      gen_free(run->gens[i]);
    free(run);
  }
  return rc;
}

int load_run_execute(load_run_t *run, char *err, size_t errlen) {
  uv_loop_t *loop = &run->loop;
  int rc = uv_signal_init(loop, &run->sigint);
  if (rc != 0) {
    snprintf(err, errlen, "uv_signal_init: %s", uv_strerror(rc));
    return rc;
  }
  /* Timer and idle inits cannot fail on Unix; from here on every handle
   * exists, so begin_close can close them all whatever happens next. */
  uv_timer_init(loop, &run->end_timer);
  uv_timer_init(loop, &run->sweep);
  uv_timer_init(loop, &run->progress);
  for (unsigned i = 0; i < run->ngens; i++)
    uv_idle_init(loop, &run->gens[i]->refill);

  for (unsigned i = 0; i < run->ngens; i++) {
    load_gen_t *g = run->gens[i];
    g->clock_fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
    if (g->clock_fd < 0) {
      rc = uv_translate_sys_error(errno);
      snprintf(err, errlen, "timerfd_create: %s", uv_strerror(rc));
      goto fail;
    }
    rc = uv_poll_init(loop, &g->clock, g->clock_fd);
    if (rc != 0) {
      snprintf(err, errlen, "uv_poll_init: %s", uv_strerror(rc));
      goto fail;
    }
    g->clock_open = true;
    rc = g->ops->open(g, err, errlen);
    if (rc != 0)
      goto fail;
  }

  /* Start 1 ms from now: every generator's schedule begins at the same
   * instant, after the setup above. */
  run->t0 = uv_hrtime() + NS_PER_MS;
  run->last_ns = run->t0;
  if (run->opts->duration_s > 0)
    run->end_ns = run->t0 + (uint64_t)(run->opts->duration_s * 1e9);

  uv_signal_start(&run->sigint, on_sigint, SIGINT);
  if (run->end_ns != 0)
    uv_timer_start(&run->end_timer, on_end,
                   1 + (uint64_t)(run->opts->duration_s * 1e3), 0);
  uint64_t sweep_ms = run->timeout_ns / NS_PER_MS / 20;
  sweep_ms = sweep_ms < 1 ? 1 : sweep_ms > 50 ? 50 : sweep_ms;
  uv_timer_start(&run->sweep, on_sweep, sweep_ms, sweep_ms);
  if (isatty(STDERR_FILENO))
    uv_timer_start(&run->progress, on_progress, 1000, 1000);

  for (unsigned i = 0; i < run->ngens; i++) {
    load_gen_t *g = run->gens[i];
    g->sched_t0 = run->t0;
    if (g->steps != NULL) {
      g->steps[0].rate = g->rate;
      g->steps[0].start_ns = run->t0;
      g->steps[0].end_ns = run->t0 + (uint64_t)(run->opts->ramp_step_s * 1e9);
      load_stats_reset(&g->steps[0].stats);
      g->nsteps = 1;
    }
    rc = uv_poll_start(&g->clock, UV_READABLE, on_clock);
    if (rc != 0) {
      snprintf(err, errlen, "uv_poll_start: %s", uv_strerror(rc));
      goto fail;
    }
    arm_clock(g, run->t0);
  }

  rc = uv_run(loop, UV_RUN_DEFAULT);
  return rc < 0 ? rc : 0;

fail:
  /* Whatever was opened is closed by begin_close; the loop then has only
   * close callbacks to run. */
  begin_close(run);
  uv_run(loop, UV_RUN_DEFAULT);
  return rc;
}

void load_run_report(load_run_t *run, FILE *f) {
  load_report_t rep;
  memset(&rep, 0, sizeof(rep));
  load_stats_reset(&run->total);
  load_ramp_step_report_t *steps = NULL;

  rep.mode = load_mode_name(run->opts->mode);
  uint64_t end = run->last_ns > run->t0 ? run->last_ns : run->t0;
  rep.duration_s = (double)(end - run->t0) / 1e9;
  for (unsigned i = 0; i < run->ngens; i++) {
    load_gen_t *g = run->gens[i];
    load_gen_report_t *gr = &rep.gens[i];
    gr->name = g->name;
    gr->open_loop = g->pace.concurrency == 0;
    gr->concurrency = g->pace.concurrency;
    gr->rate = g->rate;
    gr->ramp_start = g->steps != NULL ? run->opts->ramp_start : 0.0;
    gr->stats = &g->stats;
    gr->stray_replies = g->stray;
    gr->first_error = g->first_error;
    gr->lag = gr->open_loop ? &g->lag : NULL;
    load_stats_merge(&run->total, &g->stats);
  }
  rep.ngens = run->ngens;
  rep.total = &run->total;

  load_gen_t *g = run->gens[0];
  if (run->opts->ramp && g->nsteps > 0) {
    steps = calloc(g->nsteps, sizeof(*steps));
    if (steps != NULL) {
      bool failed = false;
      for (unsigned i = 0; i < g->nsteps; i++) {
        const load_step_t *st = &g->steps[i];
        steps[i].judged = !failed;
        steps[i].rate = st->rate;
        steps[i].requests = st->v_requests;
        steps[i].errors = st->v_errors;
        steps[i].late = st->v_late;
        steps[i].p99_ns = st->v_p99_ns;
        steps[i].held = st->resolved && st->held;
        if (!steps[i].held)
          failed = true;
      }
      /* A step opened just as the one before failed ran nothing: drop it. */
      unsigned shown = g->nsteps;
      while (shown > 1 && steps[shown - 1].requests == 0 && !steps[shown - 1].judged)
        shown--;
      rep.ramp = true;
      rep.steps = steps;
      rep.nsteps = shown;
      rep.knee = ramp_knee(g);
      rep.ramp_p99_ms = run->opts->ramp_p99_ms;
    }
  }

  if (run->opts->json)
    load_report_json(f, &rep);
  else
    load_report_text(f, &rep);
  free(steps);
}

int load_run_exit_code(const load_run_t *run) {
  if (run->opts->ramp)
    return ramp_knee(run->gens[0]) >= 0 ? 0 : 1;
  uint64_t ok = 0, errors = 0;
  for (unsigned i = 0; i < run->ngens; i++) {
    ok += run->gens[i]->stats.count[LOAD_OK];
    errors += load_stats_errors(&run->gens[i]->stats);
  }
  return errors == 0 && ok > 0 ? 0 : 1;
}

int load_run_destroy(load_run_t *run) {
  /* Close the loop first: should a handle still be open, uv_loop_close
   * looks at it, and it lives in the memory freed below. */
  int rc = uv_loop_close(&run->loop);
  for (unsigned i = 0; i < run->ngens; i++)
    gen_free(run->gens[i]);
  free(run);
  return rc;
}
