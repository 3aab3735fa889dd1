/* loop_prom: the Prometheus text exposition format, version 0.0.4. Pure: a
 * growable buffer, metric families with their HELP and TYPE lines, samples
 * with escaped label values, histograms made cumulative from per-bucket
 * counts, and dnsortd's own families rendered from a snapshot of plain
 * numbers. No libuv, no I/O: the metrics server fills the snapshot on the
 * loop thread and renders it here, so cmocka can check the text exactly.
 *
 * Format reference: prometheus/docs content/docs/instrumenting/
 * exposition_formats.md ("Text-based format"). */
#ifndef DNSORT_LOOP_PROM_H
#define DNSORT_LOOP_PROM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dns_forward.h"
#include "dns_stats.h"

#define LOOP_PROM_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

/* A growable output buffer. Every write either fits or sets failed (out of
 * memory, or past max), after which writes do nothing: check failed once,
 * at the end, instead of after every line. */
typedef struct {
  char *data;
  size_t len;
  size_t cap;
  size_t max; /* the buffer never grows past this */
  bool failed;
} loop_prom_t;

void loop_prom_init(loop_prom_t *p, size_t max);
void loop_prom_free(loop_prom_t *p);

typedef enum {
  LOOP_PROM_COUNTER = 0,
  LOOP_PROM_GAUGE,
  LOOP_PROM_HISTOGRAM,
} loop_prom_type_t;

typedef struct {
  const char *name;  /* [a-zA-Z_][a-zA-Z0-9_]*, written as is */
  const char *value; /* any UTF-8; escaped */
} loop_prom_label_t;

/* "# HELP name help" and "# TYPE name type": once per family, before its
 * samples. help is escaped (backslash, newline). */
void loop_prom_family(loop_prom_t *p, const char *name, loop_prom_type_t type, const char *help);

/* One sample line: name{labels} value. */
void loop_prom_u64(loop_prom_t *p, const char *name, const loop_prom_label_t *labels,
                   size_t n_labels, uint64_t value);
void loop_prom_double(loop_prom_t *p, const char *name, const loop_prom_label_t *labels,
                      size_t n_labels, double value);

/* A histogram's samples: name_bucket{...,le="B"} for each bound (counts
 * summed up to it) and le="+Inf", then name_sum and name_count. bounds are
 * inclusive upper bounds in the unit of the observations, ascending;
 * counts[i] is the observations in bucket i alone, counts[n_bounds] those
 * above every bound. per_unit turns that unit into the exported base unit
 * by division (1e9 for nanoseconds to seconds, 1 for bytes): a division
 * by 1e9 is exact where a product with 1e-9 is not, so 7500000000 ns is
 * 7.5 s and not 7.500000000000001. */
typedef struct {
  const uint64_t *bounds;
  size_t n_bounds;
  const uint64_t *counts; /* n_bounds + 1 entries */
  uint64_t sum;           /* of the observations, in their unit */
  double per_unit;        /* observed units per exported base unit */
} loop_prom_hist_t;

void loop_prom_histogram(loop_prom_t *p, const char *name, const loop_prom_label_t *labels,
                         size_t n_labels, const loop_prom_hist_t *h);

/* The shortest decimal text that reads back as v ("0.25", "1e-06",
 * "1.7976931348623157e+308"), or "+Inf", "-Inf", "NaN". Returns the
 * length; out must hold LOOP_PROM_DOUBLE_MAX bytes. */
#define LOOP_PROM_DOUBLE_MAX 32
size_t loop_prom_format_double(double v, char *out);

/* The resident set size from the text of /proc/self/statm ("size resident
 * shared text lib data dt", in pages). Returns 0, or -1 if the text is not
 * that. */
int loop_prom_parse_statm(const char *text, uint64_t page_size, uint64_t *vsz_bytes,
                          uint64_t *rss_bytes);

/* The status codes the metrics server answers with, in the order of
 * loop_prom_snapshot_t.http_responses. */
#define LOOP_PROM_N_HTTP_CODES 8
extern const int loop_prom_http_codes[LOOP_PROM_N_HTTP_CODES];

/* The index of code in loop_prom_http_codes, or -1. */
int loop_prom_http_code_index(int code);

/* Everything dnsortd exports, as plain numbers, gathered by the caller in
 * one pass on the loop thread (so one scrape is a consistent picture). */
typedef struct {
  /* DNS, summed over every --dns address. */
  dns_stats_t udp_stats; /* replies by qtype x rcode, TC=1 */
  dns_stats_t tcp_stats;
  dns_hist_t udp_duration; /* receipt to reply */
  dns_hist_t tcp_duration;
  uint64_t udp_received;        /* datagrams read */
  uint64_t tcp_queries;         /* complete messages read */
  uint64_t udp_dropped_invalid; /* short, or QR=1: never answered */
  uint64_t udp_dropped_send;    /* a reply that could not be sent */
  uint64_t tcp_dropped_invalid;
  uint64_t tcp_bad_frames;
  uint64_t tcp_accepted;
  uint64_t tcp_refused; /* over --dns-tcp-max-connections */
  uint64_t tcp_accept_errors;
  uint64_t tcp_idle_timeouts;
  uint64_t tcp_open;
  /* Clients outside --allow / --sort-allow, and RRL (--rrl-rate). */
  uint64_t udp_refused_acl; /* queries */
  uint64_t tcp_refused_acl;
  uint64_t dns_tcp_denied; /* connections */
  uint64_t sort_denied;
  uint64_t rrl_dropped;
  uint64_t rrl_slipped;
  uint64_t tcp_buffered;          /* bytes held for clients now */
  uint64_t tcp_buffered_max;      /* the most ever, per listener summed */
  uint64_t tcp_conn_buffered_max; /* the most ever for one connection */
  uint64_t tcp_deferred;          /* connections put off to a later turn */
  /* The map. */
  uint64_t reloads_ok;
  uint64_t reloads_failed;
  double zone_loaded_seconds; /* the zone in service was loaded, epoch */
  uint64_t zone_names;
  /* --unknown forward; the families are left out without it. */
  bool forwarding;
  dns_forward_stats_t forward;
  /* The sort service. */
  uint64_t sort_ok;
  uint64_t sort_bad_input;
  uint64_t sort_too_large;
  uint64_t sort_timeouts;
  uint64_t sort_busy;
  uint64_t sort_cancelled;
  uint64_t sort_shutdown;
  uint64_t sort_error_replies;
  uint64_t sort_accepted;
  uint64_t sort_accept_errors;
  uint64_t sort_queued;
  uint64_t sort_running;
  uint64_t sort_connections;
  uint64_t sort_inflight_bytes;
  loop_prom_hist_t sort_request_bytes;
  loop_prom_hist_t sort_duration;
  /* The metrics server itself. */
  uint64_t http_responses[LOOP_PROM_N_HTTP_CODES]; /* by loop_prom_http_codes */
  uint64_t http_refused;                           /* over its connection limit */
  uint64_t http_timeouts;
  /* The process. */
  bool have_memory; /* /proc/self/statm was readable */
  uint64_t rss_bytes;
  uint64_t vsz_bytes;
  double cpu_user_seconds;
  double cpu_system_seconds;
  double start_time_seconds; /* since the Unix epoch */
  bool have_fds;             /* /proc/self/fd and the limit were read */
  uint64_t open_fds;
  uint64_t max_fds; /* RLIMIT_NOFILE, soft */
  /* loop_fd_watch: times every descriptor was found in use, and whether
   * the last look found so. */
  uint64_t fd_exhaustions;
  bool fd_exhausted;
  const char *version;
  const char *libuv_version;
} loop_prom_snapshot_t;

/* Render every family of the snapshot. */
void loop_prom_dnsort(loop_prom_t *p, const loop_prom_snapshot_t *s);

#endif
