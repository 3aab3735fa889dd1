/* load_stats: what a run counts, and the final report (plain text for
 * people, one JSON object for scripts). Pure: no libuv. */
#ifndef DNSORT_LOAD_STATS_H
#define DNSORT_LOAD_STATS_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "load_hist.h"

/* How one request ended. Everything but LOAD_OK is an error kind. */
typedef enum {
  LOAD_OK = 0,
  LOAD_CONNECT_REFUSED, /* TCP RST on connect, or ICMP port unreachable */
  LOAD_TIMEOUT,         /* no complete reply within --timeout (or by the
                           end of the drain period) */
  LOAD_ERROR_REPLY,     /* {"error": ...}, or an unexpected DNS RCODE */
  LOAD_WRONG_REPLY,     /* a reply that fails verification */
  LOAD_IO_ERROR,        /* reset, no ephemeral port, no fd, ... */
  LOAD_OVERLOAD,        /* open loop: due while --max-outstanding were
                           already in flight, so never sent */
  LOAD_RESULT_COUNT
} load_result_t;

const char *load_result_name(load_result_t r);

typedef struct {
  uint64_t count[LOAD_RESULT_COUNT];
  /* Latency of every request that got a reply, verified or not; requests
   * that got none (timeouts, refusals, overload) would only blur it. */
  load_hist_t hist;
} load_stats_t;

void load_stats_reset(load_stats_t *s);
void load_stats_add(load_stats_t *s, load_result_t r, bool replied, uint64_t latency_ns);
void load_stats_merge(load_stats_t *dst, const load_stats_t *src);
uint64_t load_stats_requests(const load_stats_t *s);
uint64_t load_stats_errors(const load_stats_t *s);

/* ---- the final report ---- */

typedef struct {
  const char *name; /* "dns" or "sort" */
  bool open_loop;
  unsigned concurrency; /* closed loop */
  double rate;          /* open loop, requests per second (the last
                           step's with --ramp) */
  double ramp_start;    /* > 0 with --ramp */
  const load_stats_t *stats;
  uint64_t stray_replies;  /* DNS replies matching no query in flight */
  const char *first_error; /* what went wrong first, or "" */
  /* Open loop: how late requests left against their schedule (part of
   * their latency); NULL for a closed loop. */
  const load_hist_t *lag;
} load_gen_report_t;

/* A ramp step as it stood when judged. */
typedef struct {
  double rate;
  uint64_t requests;
  uint64_t errors;
  uint64_t late;   /* still in flight, older than the p99 bound */
  uint64_t p99_ns; /* UINT64_MAX: over the bound by late ones */
  bool judged;     /* false after the first failed step: it ran
                      only while that one's last replies came */
  bool held;       /* errors <= 0.1% and p99 within the bound */
} load_ramp_step_report_t;

typedef struct {
  const char *mode;
  double duration_s;
  load_gen_report_t gens[2];
  unsigned ngens;
  const load_stats_t *total;
  bool ramp;
  const load_ramp_step_report_t *steps;
  unsigned nsteps;
  int knee; /* index into steps, -1 when no step held */
  double ramp_p99_ms;
} load_report_t;

void load_report_text(FILE *f, const load_report_t *r);
void load_report_json(FILE *f, const load_report_t *r);

/* "812.3 us", "12.40 ms", "1.52 s": a latency for people. */
void load_format_ns(char *out, size_t cap, uint64_t ns);

#endif
