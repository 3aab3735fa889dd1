#include "load_run.h"

#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <uv.h>

#include "load_dns.h"
#include "load_gen.h"
#include "load_sort.h"
#include "load_stats.h"

#define container_of(ptr, type, member) ((type *)((char *)(ptr)-offsetof(type, member)))

#define NS_PER_MS UINT64_C(1000000)
#define MAX_GENS 2

/* The back-ends, in the order their generators are set up and reported. */
static const load_backend_t *const backends[MAX_GENS] = {
    &load_dns_backend,
    &load_sort_backend,
};

typedef enum { RUN_RUNNING, RUN_DRAINING, RUN_CLOSING } run_state_t;

struct load_run {
  uv_loop_t loop;
  const load_opts_t *opts;
  load_gen_t *gens[MAX_GENS];
  unsigned ngens;
  uv_signal_t sigint;
  uv_timer_t end_timer; /* --duration, then the end of the drain */
  uv_timer_t sweep;     /* times out requests */
  uv_timer_t progress;
  run_state_t state;
  bool hard_end_armed;
  uint64_t t0;
  uint64_t timeout_ns;
  uint64_t drain_ms;
  unsigned progress_ticks;
  load_stats_t total;
};

static void begin_close(load_run_t *run);
static void on_end(uv_timer_t *t);

static void stop_all(load_run_t *run) {
  for (unsigned i = 0; i < run->ngens; i++)
    load_gen_stop(run->gens[i]);
}

/* Everyone stopped starting: drain. Nothing in flight: close. */
static void run_check(load_run_t *run) {
  if (run->state == RUN_RUNNING) {
    for (unsigned i = 0; i < run->ngens; i++)
      if (!load_gen_stopped(run->gens[i]))
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
    if (load_gen_outstanding(run->gens[i]) > 0)
      return;
  begin_close(run);
}

static void on_gen_changed(void *arg) {
  run_check(arg);
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
  (void)signum;
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
  for (unsigned i = 0; i < run->ngens; i++)
    load_gen_sweep(run->gens[i], now);
}

static void on_progress(uv_timer_t *t) {
  load_run_t *run = container_of(t, load_run_t, progress);
  run->progress_ticks++;
  fprintf(stderr, "[%3us]", run->progress_ticks);
  for (unsigned i = 0; i < run->ngens; i++)
    load_gen_progress(run->gens[i], stderr, i ? ";" : "");
  fputc('\n', stderr);
}

/* Count whatever is still in flight as timed out, close every handle; the
 * loop then runs out of work and uv_run returns. */
static void begin_close(load_run_t *run) {
  if (run->state == RUN_CLOSING)
    return;
  run->state = RUN_CLOSING;
  for (unsigned i = 0; i < run->ngens; i++)
    load_gen_close(run->gens[i]);
  uv_close((uv_handle_t *)&run->sigint, NULL);
  uv_close((uv_handle_t *)&run->end_timer, NULL);
  uv_close((uv_handle_t *)&run->sweep, NULL);
  uv_close((uv_handle_t *)&run->progress, NULL);
}

/* ---- setup and teardown ---- */

int load_run_create(load_run_t **out, const load_opts_t *opts, char *err, size_t errlen) {
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

  for (unsigned i = 0; i < MAX_GENS; i++) {
    const load_backend_t *b = backends[i];
    if ((opts->mode & b->mode) == 0)
      continue;
    load_pace_t pace = b->mode == LOAD_MODE_DNS ? opts->dns : opts->sort;
    load_gen_t *g = load_gen_new(&run->loop, opts, b->name, pace, on_gen_changed, run);
    if (g == NULL) {
      snprintf(err, errlen, "out of memory");
      goto done;
    }
    run->gens[run->ngens++] = g;
    int st = b->setup(g, err, errlen);
    if (st != 0) {
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
      load_gen_free(run->gens[i]);
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
    load_gen_init(run->gens[i]);
  for (unsigned i = 0; i < run->ngens; i++) {
    rc = load_gen_open(run->gens[i], err, errlen);
    if (rc != 0)
      goto fail;
  }

  /* Start 1 ms from now: every generator's schedule begins at the same
   * instant, after the setup above. */
  run->t0 = uv_hrtime() + NS_PER_MS;
  uint64_t end_ns = 0;
  if (run->opts->duration_s > 0)
    end_ns = run->t0 + (uint64_t)(run->opts->duration_s * 1e9);

  uv_signal_start(&run->sigint, on_sigint, SIGINT);
  if (end_ns != 0)
    uv_timer_start(&run->end_timer, on_end, 1 + (uint64_t)(run->opts->duration_s * 1e3), 0);
  uint64_t sweep_ms = run->timeout_ns / NS_PER_MS / 20;
  sweep_ms = sweep_ms < 1 ? 1 : sweep_ms > 50 ? 50 : sweep_ms;
  uv_timer_start(&run->sweep, on_sweep, sweep_ms, sweep_ms);
  if (isatty(STDERR_FILENO))
    uv_timer_start(&run->progress, on_progress, 1000, 1000);

  for (unsigned i = 0; i < run->ngens; i++) {
    rc = load_gen_start(run->gens[i], run->t0, end_ns, err, errlen);
    if (rc != 0)
      goto fail;
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
  uint64_t end = run->t0;
  for (unsigned i = 0; i < run->ngens; i++) {
    load_gen_t *g = run->gens[i];
    if (load_gen_last_ns(g) > end)
      end = load_gen_last_ns(g);
    load_gen_report(g, &rep.gens[i]);
    load_stats_merge(&run->total, load_gen_stats(g));
  }
  rep.duration_s = (double)(end - run->t0) / 1e9;
  rep.ngens = run->ngens;
  rep.total = &run->total;

  /* --ramp drives one generator (the options refuse it in mixed mode). */
  unsigned shown = 0;
  if (run->opts->ramp && (steps = load_gen_ramp_steps(run->gens[0], &shown)) != NULL) {
    rep.ramp = true;
    rep.steps = steps;
    rep.nsteps = shown;
    rep.knee = load_gen_ramp_knee(run->gens[0]);
    rep.ramp_p99_ms = run->opts->ramp_p99_ms;
  }

  if (run->opts->json)
    load_report_json(f, &rep);
  else
    load_report_text(f, &rep);
  free(steps);
}

int load_run_exit_code(const load_run_t *run) {
  if (run->opts->ramp)
    return load_gen_ramp_knee(run->gens[0]) >= 0 ? 0 : 1;
  uint64_t ok = 0, errors = 0;
  for (unsigned i = 0; i < run->ngens; i++) {
    const load_stats_t *s = load_gen_stats(run->gens[i]);
    ok += s->count[LOAD_OK];
    errors += load_stats_errors(s);
  }
  return errors == 0 && ok > 0 ? 0 : 1;
}

int load_run_destroy(load_run_t *run) {
  /* Close the loop first: should a handle still be open, uv_loop_close
   * looks at it, and it lives in the memory freed below. */
  int rc = uv_loop_close(&run->loop);
  for (unsigned i = 0; i < run->ngens; i++)
    load_gen_free(run->gens[i]);
  free(run);
  return rc;
}
