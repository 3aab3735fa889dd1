/* load_gen: one generator of dnsort-load, the generic part. It paces its
 * requests (closed or open loop, --ramp steps), keeps those in flight in
 * start order, times them out, counts results and says when it has
 * stopped. A back-end (load_sort.c, load_dns.c) does the I/O of one request
 * and reports how it ended; the run (load_run.c) owns the loop, the
 * generators and the end of the run. Dependencies go one way: back-ends
 * and the run include this header; this module knows neither. */
#ifndef DNSORT_LOAD_GEN_H
#define DNSORT_LOAD_GEN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <uv.h>

#include "load_opts.h"
#include "load_stats.h"

typedef struct load_gen load_gen_t;

/* The generic part of a request in flight, embedded in the back-end's own
 * request struct. */
typedef struct load_req {
  struct load_req *prev, *next; /* the generator's list, oldest first */
  uint64_t intended_ns;         /* latency counts from here */
  uint64_t deadline_ns;
  unsigned step; /* ramp step it was scheduled in */
} load_req_t;

/* ---- what a back-end implements ---- */

typedef struct {
  /* Open sockets (the loop's handles exist by now). 0, or a negative libuv
   * code with a one-line reason in err; close is still called then. */
  int (*open)(load_gen_t *g, char *err, size_t errlen);
  /* Send one request. The back-end calls load_gen_begin with its request,
   * and load_gen_end once it is over, which may be before start returns. */
  void (*start)(load_gen_t *g, uint64_t intended_ns);
  /* r timed out or the run is over; it is already counted and unlinked.
   * Release its I/O; no load_gen_end for it any more. */
  void (*abandon)(load_gen_t *g, load_req_t *r);
  /* The run is closing and nothing is in flight: uv_close every handle. */
  void (*close)(load_gen_t *g);
  /* After the loop has ended: free everything. */
  void (*destroy)(load_gen_t *g);
} load_gen_ops_t;

/* A back-end as the run sees it: the mode bit that selects it and its
 * setup, which prepares its state (payloads, queries; no handles yet) and
 * calls load_gen_set_backend. Setup returns 0; UV_EINVAL with a one-line
 * reason in err when a setting is the user's to fix (dnsort-load exits 2);
 * any other negative libuv code when it could not set up (exit 3). */
typedef struct {
  const char *name;
  load_mode_t mode;
  int (*setup)(load_gen_t *g, char *err, size_t errlen);
} load_backend_t;

/* ---- what a back-end calls ---- */

void load_gen_set_backend(load_gen_t *g, const load_gen_ops_t *ops, void *backend);

uv_loop_t *load_gen_loop(load_gen_t *g);
const load_opts_t *load_gen_opts(load_gen_t *g);
void *load_gen_backend(load_gen_t *g);

void load_gen_begin(load_gen_t *g, load_req_t *r, uint64_t intended_ns);
/* replied: a reply arrived (its latency is recorded), whatever its verdict. */
void load_gen_end(load_gen_t *g, load_req_t *r, load_result_t result, bool replied);
/* The oldest request in flight, or NULL. */
load_req_t *load_gen_oldest(load_gen_t *g);
/* Walk on from r (NULL after the newest). */
load_req_t *load_gen_next(load_gen_t *g, load_req_t *r);
/* Remember what went wrong the first time, for the report. */
#if defined(__GNUC__)
__attribute__((format(printf, 2, 3)))
#endif
void load_gen_note(load_gen_t *g, const char *fmt, ...);
/* A reply that matched no request (DNS: unknown or expired ID). */
void load_gen_stray(load_gen_t *g);
/* For a back-end that holds one file descriptor per request in flight:
 * raise the soft fd limit as far as allowed; then refuse a --concurrency
 * it cannot hold (-1, reason in err) and lower --max-outstanding to fit. */
int load_gen_fit_fd_limit(load_gen_t *g, char *err, size_t errlen);

/* ---- what the run calls ---- */

/* The generator stopped starting requests, or one of its requests ended:
 * the run checks whether it can drain or close. It may close the
 * generator from inside this call. */
typedef void (*load_gen_changed_cb)(void *arg);

/* NULL when out of memory. loop need not be initialised yet. */
load_gen_t *load_gen_new(uv_loop_t *loop, const load_opts_t *opts, const char *name,
                         load_pace_t pace, load_gen_changed_cb changed, void *arg);
/* Initialises the handles that cannot fail; call it for every generator
 * before load_gen_open on any, so that load_gen_close can close them all. */
void load_gen_init(load_gen_t *g);
/* The schedule's clock and the back-end's sockets: 0, or a negative libuv
 * code with a one-line reason in err (load_gen_close cleans up). */
int load_gen_open(load_gen_t *g, char *err, size_t errlen);
/* Starts the schedule at t0 (uv_hrtime clock); an open loop starts nothing
 * at or after end_ns (0: no end). 0 or a negative libuv code, as above. */
int load_gen_start(load_gen_t *g, uint64_t t0, uint64_t end_ns, char *err, size_t errlen);
/* Starts no more requests; those in flight go on. */
void load_gen_stop(load_gen_t *g);
bool load_gen_stopped(const load_gen_t *g);
uint64_t load_gen_outstanding(const load_gen_t *g);
/* Times out the requests due by now and judges the ramp steps whose
 * --ramp-p99-ms wait is over. */
void load_gen_sweep(load_gen_t *g, uint64_t now);
/* One "name: done, rate, errors, p99" part of a progress line, since the
 * last call; sep goes before it. */
void load_gen_progress(load_gen_t *g, FILE *f, const char *sep);
/* Counts whatever is still in flight as timed out, judges every step and
 * uv_closes every handle. */
void load_gen_close(load_gen_t *g);
/* After the loop has ended (or instead of running it). NULL is fine. */
void load_gen_free(load_gen_t *g);

/* When its last request ended (or the last overloaded one was due). */
uint64_t load_gen_last_ns(const load_gen_t *g);
const load_stats_t *load_gen_stats(const load_gen_t *g);
/* Fills out (pointers into g, valid while g lives). */
void load_gen_report(const load_gen_t *g, load_gen_report_t *out);
/* --ramp: the steps as judged (to be freed by the caller; NULL without a
 * ramp or memory), *shown of them worth printing; the knee is the index of
 * the last step held before the first that was not, -1 when none held. */
load_ramp_step_report_t *load_gen_ramp_steps(const load_gen_t *g, unsigned *shown);
int load_gen_ramp_knee(const load_gen_t *g);

#endif
