/* load_run: one run of dnsort-load on one libuv loop. The generic part
 * (this file's .c) paces each generator, closed or open loop, keeps its
 * requests in flight in start order, times them out, counts results and
 * ends the run; the back-ends (load_sort.c, load_dns.c) only do the I/O of
 * one request and say how it ended. */
#ifndef DNSORT_LOAD_RUN_H
#define DNSORT_LOAD_RUN_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <uv.h>

#include "load_opts.h"
#include "load_stats.h"

typedef struct load_run load_run_t;
typedef struct load_gen load_gen_t;

/* The generic part of a request in flight, embedded in the back-end's own
 * request struct. */
typedef struct load_req {
  struct load_req *prev, *next;  /* the generator's list, oldest first */
  uint64_t intended_ns;          /* latency counts from here */
  uint64_t deadline_ns;
  unsigned step;                 /* ramp step it was scheduled in */
} load_req_t;

typedef struct {
  /* Open sockets (the run's handles exist by now). 0, or a negative libuv
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

/* Called by a back-end's setup. */
void load_gen_set_backend(load_gen_t *g, const load_gen_ops_t *ops,
                          void *backend);

uv_loop_t *load_gen_loop(load_gen_t *g);
const load_opts_t *load_gen_opts(load_gen_t *g);
void *load_gen_backend(load_gen_t *g);

void load_gen_begin(load_gen_t *g, load_req_t *r, uint64_t intended_ns);
/* replied: a reply arrived (its latency is recorded), whatever its verdict. */
void load_gen_end(load_gen_t *g, load_req_t *r, load_result_t result,
                  bool replied);
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

/* ---- back-ends ---- */

/* Each prepares its state (payloads, queries; no handles yet) or returns a negative libuv
 * code with a one-line reason in err. */
int load_sort_setup(load_gen_t *g, char *err, size_t errlen);
int load_dns_setup(load_gen_t *g, char *err, size_t errlen);

/* ---- the run ---- */

/* Allocates the run; 0, 2 (bad setting, e.g. an unreadable --payload) or 3
 * (could not set up), with a one-line reason in err. */
int load_run_create(load_run_t **out, const load_opts_t *opts, char *err,
                    size_t errlen);
/* Runs to the end; 0, or a negative libuv code with a one-line reason in
 * err (the run has then been closed down). */
int load_run_execute(load_run_t *run, char *err, size_t errlen);
void load_run_report(load_run_t *run, FILE *f);
/* 0: every request succeeded (with --ramp: some step held); 1 otherwise. */
int load_run_exit_code(const load_run_t *run);
/* Frees everything; returns uv_loop_close's result (0 when every handle
 * was closed). */
int load_run_destroy(load_run_t *run);

#endif
