#include "load_gen.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/timerfd.h>
#include <unistd.h>

#define container_of(ptr, type, member) ((type *)((char *)(ptr)-offsetof(type, member)))

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
  bool over;     /* its window has passed: no more requests join it */
  bool resolved; /* verdict given (see step_resolve) */
  bool held;
  /* The numbers the verdict was given on. */
  uint64_t v_requests, v_errors, v_late, v_p99_ns;
} load_step_t;

struct load_gen {
  const char *name;
  uv_loop_t *loop;
  const load_opts_t *opts;
  load_gen_changed_cb changed;
  void *changed_arg;
  const load_gen_ops_t *ops;
  void *backend;
  load_pace_t pace;
  uint64_t max_outstanding;
  uint64_t timeout_ns;
  uint64_t end_ns;  /* open loop: nothing starts from here; 0: none */
  uint64_t last_ns; /* when the last request ended */
  uint64_t started; /* scheduled so far, overload included */
  uint64_t outstanding;
  load_req_t list;  /* sentinel of the in-flight list */
  bool stopped;     /* starts no more requests */
  uv_idle_t refill; /* closed loop: top up after completions */
  bool refill_open; /* uv_idle_init done: needs uv_close */
  /* The schedule's clock: a timerfd armed at absolute nanoseconds, polled
   * by the loop. libuv timers count whole milliseconds from a truncated
   * loop time and wake up to 1 ms late, which an open-loop schedule would
   * add to every latency at DNS's tens of microseconds. */
  int clock_fd;
  uv_poll_t clock;
  bool clock_open; /* uv_poll_init done: needs uv_close */
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
  load_stats_t interval; /* since the last progress line */
  load_hist_t lag;       /* open loop: actual start - scheduled start */
  uint64_t stray;
  char first_error[200];
};

static void on_clock(uv_poll_t *p, int status, int events);
static void on_refill(uv_idle_t *h);

/* ---- small helpers ---- */

static void list_init(load_req_t *head) {
  head->prev = head->next = head;
}

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

void load_gen_set_backend(load_gen_t *g, const load_gen_ops_t *ops, void *backend) {
  g->ops = ops;
  g->backend = backend;
}

uv_loop_t *load_gen_loop(load_gen_t *g) {
  return g->loop;
}
const load_opts_t *load_gen_opts(load_gen_t *g) {
  return g->opts;
}
void *load_gen_backend(load_gen_t *g) {
  return g->backend;
}

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

void load_gen_stray(load_gen_t *g) {
  g->stray++;
}

static void record(load_gen_t *g, unsigned step, load_result_t result, bool replied,
                   uint64_t latency_ns) {
  load_stats_add(&g->stats, result, replied, latency_ns);
  load_stats_add(&g->interval, result, replied, latency_ns);
  if (g->steps != NULL)
    load_stats_add(&g->steps[step].stats, result, replied, latency_ns);
  if (result != LOAD_OK)
    load_gen_note(g, "%s", load_result_name(result));
}

void load_gen_stop(load_gen_t *g) {
  if (g->stopped)
    return;
  g->stopped = true;
  if (g->refill_open)
    uv_idle_stop(&g->refill);
  if (g->clock_open)
    uv_poll_stop(&g->clock);
}

/* Stop, and let the run know. */
static void gen_finish(load_gen_t *g) {
  load_gen_stop(g);
  g->changed(g->changed_arg);
}

/* ---- ramp steps ---- */

static uint64_t p99_bound_ns(const load_gen_t *g) {
  return (uint64_t)(g->opts->ramp_p99_ms * 1e6);
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
    gen_finish(g);
  }
}

static void step_close(load_gen_t *g) {
  load_step_t *st = &g->steps[g->cur_step];
  st->over = true;
  if (st->outstanding == 0)
    step_resolve(g, g->cur_step);
}

static void step_open_next(load_gen_t *g) {
  const load_opts_t *o = g->opts;
  unsigned next = g->cur_step + 1;
  if (next >= g->max_steps) {
    gen_finish(g);
    return;
  }
  load_step_t *prev = &g->steps[g->cur_step], *st = &g->steps[next];
  st->rate = o->ramp_factor > 0 ? prev->rate * o->ramp_factor : prev->rate + o->ramp_add;
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
int load_gen_ramp_knee(const load_gen_t *g) {
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
  r->deadline_ns = uv_hrtime() + g->timeout_ns;
  r->step = g->cur_step;
  list_push(&g->list, r);
  g->outstanding++;
  if (g->steps != NULL)
    g->steps[r->step].outstanding++;
}

void load_gen_end(load_gen_t *g, load_req_t *r, load_result_t result, bool replied) {
  uint64_t now = uv_hrtime();
  list_remove(r);
  g->outstanding--;
  record(g, r->step, result, replied, now > r->intended_ns ? now - r->intended_ns : 0);
  g->last_ns = now;
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
  g->changed(g->changed_arg);
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
    if (g->opts->requests > 0 && g->started >= g->opts->requests)
      gen_finish(g);
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
    gen_finish(g);
  }
}

/* Open loop: start everything due by now, each with its scheduled time as
 * the origin of its latency, so a slow reply delays no later request's
 * start and stalls show up in the percentiles (no coordinated omission).
 * Requests due while max_outstanding are in flight are not sent at all and
 * count as overload. */
static void gen_tick(load_gen_t *g) {
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
    if (g->end_ns != 0 && t >= g->end_ns) {
      gen_finish(g);
      return;
    }
    g->sched_k++;
    g->started++;
    if (g->outstanding >= g->max_outstanding) {
      record(g, g->cur_step, LOAD_OVERLOAD, false, 0);
      if (t > g->last_ns)
        g->last_ns = t;
    } else {
      uint64_t sent = uv_hrtime();
      load_hist_record(&g->lag, sent > t ? sent - t : 0);
      g->ops->start(g, t);
    }
    if (g->opts->requests > 0 && g->started >= g->opts->requests)
      gen_finish(g);
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

/* ---- the run's calls ---- */

bool load_gen_stopped(const load_gen_t *g) {
  return g->stopped;
}
uint64_t load_gen_outstanding(const load_gen_t *g) {
  return g->outstanding;
}
uint64_t load_gen_last_ns(const load_gen_t *g) {
  return g->last_ns;
}
const load_stats_t *load_gen_stats(const load_gen_t *g) {
  return &g->stats;
}

void load_gen_sweep(load_gen_t *g, uint64_t now) {
  /* Started in order with one timeout: the oldest expires first. */
  load_req_t *r;
  while ((r = load_gen_oldest(g)) != NULL && r->deadline_ns <= now) {
    load_gen_note(g, "timeout: no complete reply within %g s", g->opts->timeout_s);
    load_gen_end(g, r, LOAD_TIMEOUT, false);
    g->ops->abandon(g, r);
  }
  for (unsigned s = 0; g->steps != NULL && s < g->nsteps; s++) {
    load_step_t *st = &g->steps[s];
    if (st->over && !st->resolved && now >= st->end_ns + p99_bound_ns(g))
      step_resolve(g, s);
  }
}

void load_gen_progress(load_gen_t *g, FILE *f, const char *sep) {
  char p99[32] = "-";
  if (g->interval.hist.total > 0)
    load_format_ns(p99, sizeof(p99), load_hist_percentile(&g->interval.hist, 99.0));
  fprintf(f, "%s %s: %" PRIu64 " done, %" PRIu64 "/s, %" PRIu64 " errors, p99 %s", sep, g->name,
          load_stats_requests(&g->stats), load_stats_requests(&g->interval),
          load_stats_errors(&g->stats), p99);
  if (g->steps != NULL)
    fprintf(f, " (ramp %.0f/s)", g->rate);
  load_stats_reset(&g->interval);
}

void load_gen_close(load_gen_t *g) {
  load_gen_stop(g);
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
  if (g->refill_open) {
    uv_close((uv_handle_t *)&g->refill, NULL);
    g->refill_open = false;
  }
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

void load_gen_report(const load_gen_t *g, load_gen_report_t *out) {
  out->name = g->name;
  out->open_loop = g->pace.concurrency == 0;
  out->concurrency = g->pace.concurrency;
  out->rate = g->rate;
  out->ramp_start = g->steps != NULL ? g->opts->ramp_start : 0.0;
  out->stats = &g->stats;
  out->stray_replies = g->stray;
  out->first_error = g->first_error;
  out->lag = out->open_loop ? &g->lag : NULL;
}

load_ramp_step_report_t *load_gen_ramp_steps(const load_gen_t *g, unsigned *shown) {
  if (g->steps == NULL || g->nsteps == 0)
    return NULL;
  load_ramp_step_report_t *steps = calloc(g->nsteps, sizeof(*steps));
  if (steps == NULL)
    return NULL;
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
  unsigned n = g->nsteps;
  while (n > 1 && steps[n - 1].requests == 0 && !steps[n - 1].judged)
    n--;
  *shown = n;
  return steps;
}

/* ---- setup and teardown ---- */

int load_gen_fit_fd_limit(load_gen_t *g, char *err, size_t errlen) {
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
    snprintf(err, errlen,
             "--concurrency %u needs more file descriptors than "
             "the limit allows (%llu)",
             g->pace.concurrency, (unsigned long long)rl.rlim_cur);
    return -1;
  }
  if (g->max_outstanding > room) {
    fprintf(stderr,
            "dnsort-load: %s: --max-outstanding lowered to %llu "
            "(file descriptor limit)\n",
            g->name, (unsigned long long)room);
    g->max_outstanding = room;
  }
  return 0;
}

load_gen_t *load_gen_new(uv_loop_t *loop, const load_opts_t *opts, const char *name,
                         load_pace_t pace, load_gen_changed_cb changed, void *arg) {
  load_gen_t *g = calloc(1, sizeof(*g));
  if (g == NULL)
    return NULL;
  g->name = name;
  g->loop = loop;
  g->opts = opts;
  g->changed = changed;
  g->changed_arg = arg;
  g->pace = pace;
  g->max_outstanding = opts->max_outstanding;
  g->timeout_ns = (uint64_t)(opts->timeout_s * 1e9);
  g->rate = pace.rate;
  g->clock_fd = -1;
  list_init(&g->list);
  load_hist_reset(&g->lag);
  load_stats_reset(&g->stats);
  load_stats_reset(&g->interval);
  if (opts->ramp) {
    double steps = ceil(opts->duration_s / opts->ramp_step_s) + 1;
    g->max_steps = steps > MAX_RAMP_STEPS ? MAX_RAMP_STEPS : (unsigned)steps;
    g->steps = calloc(g->max_steps, sizeof(*g->steps));
    if (g->steps == NULL) {
      free(g);
      return NULL;
    }
  }
  return g;
}

void load_gen_init(load_gen_t *g) {
  /* Cannot fail on Unix. */
  uv_idle_init(g->loop, &g->refill);
  g->refill_open = true;
}

int load_gen_open(load_gen_t *g, char *err, size_t errlen) {
  g->clock_fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
  if (g->clock_fd < 0) {
    int rc = uv_translate_sys_error(errno);
    snprintf(err, errlen, "timerfd_create: %s", uv_strerror(rc));
    return rc;
  }
  int rc = uv_poll_init(g->loop, &g->clock, g->clock_fd);
  if (rc != 0) {
    snprintf(err, errlen, "uv_poll_init: %s", uv_strerror(rc));
    return rc;
  }
  g->clock_open = true;
  return g->ops->open(g, err, errlen);
}

int load_gen_start(load_gen_t *g, uint64_t t0, uint64_t end_ns, char *err, size_t errlen) {
  g->sched_t0 = t0;
  g->end_ns = end_ns;
  g->last_ns = t0;
  if (g->steps != NULL) {
    g->steps[0].rate = g->rate;
    g->steps[0].start_ns = t0;
    g->steps[0].end_ns = t0 + (uint64_t)(g->opts->ramp_step_s * 1e9);
    load_stats_reset(&g->steps[0].stats);
    g->nsteps = 1;
  }
  int rc = uv_poll_start(&g->clock, UV_READABLE, on_clock);
  if (rc != 0) {
    snprintf(err, errlen, "uv_poll_start: %s", uv_strerror(rc));
    return rc;
  }
  arm_clock(g, t0);
  return 0;
}

void load_gen_free(load_gen_t *g) {
  if (g == NULL)
    return;
  if (g->ops != NULL && g->ops->destroy != NULL)
    g->ops->destroy(g);
  if (g->clock_fd >= 0)
    close(g->clock_fd);
  free(g->steps);
  free(g);
}
