/* sort_server: the TCP glue of the sort service. Reads one framed request
 * per connection (sort_frame), runs sort_job on the libuv worker pool with
 * uv_queue_work, writes the reply, half-closes, and closes once the client
 * has read it. Nothing proportional to the request size runs on the loop
 * thread: parsing, sorting and encoding all happen on the worker.
 *
 * What one client can take from the others is bounded: connections
 * (max_connections), request bytes held (max_inflight_bytes, charged as
 * they arrive), sorts queued or running (max_queued_jobs, and
 * max_jobs_per_client of them per client address), the workers (a free
 * one goes to the client that has had the least worker time, not down
 * the queue) and a worker's time (max_sort_time_ms). */
#ifndef DNSORT_SORT_SERVER_H
#define DNSORT_SORT_SERVER_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/queue.h>
#include <uv.h>

#include "net_tcp.h"
#include "sort_clients.h"

/* At shutdown, how long a connection still sending its request may go on
 * reading before it is told "server shutting down". */
#define SORT_DRAIN_READ_WINDOW_MS 250

/* How far down the queue the next job for a free worker is looked for
 * (the oldest job of the client that has had the least worker time): far
 * enough to pass any one client's share of a default queue, short enough
 * that a huge --max-queued-jobs does not make each dispatch a long walk. */
#define SORT_DISPATCH_SCAN 4096

/* How often running sorts are checked against max_sort_time_ms (at most;
 * a tenth of the bound when that is shorter): a sort is stopped within
 * this much of its bound. */
#define SORT_DEADLINE_CHECK_MS 100

typedef struct {
  uint64_t max_request_bytes; /* a larger length prefix is refused unread */
  size_t max_elements;
  uint64_t read_timeout_ms;    /* accept to last request byte */
  uint64_t write_timeout_ms;   /* reply written to the kernel and read */
  uint64_t linger_ms;          /* after our FIN, wait this long for theirs */
  bool reuseport;              /* SO_REUSEPORT, for several processes */
  size_t max_connections;      /* more get "server busy" and are closed
                                  (past a higher, hard limit: dropped
                                  unanswered, see net_tcp) */
  size_t hard_limit;           /* that hard limit; 0: net_tcp's default */
  size_t max_queued_jobs;      /* sorts queued or running, all clients */
  size_t max_jobs_per_client;  /* of those, per client (sort_clients.h);
                                  0: no per-client bound */
  size_t workers;              /* jobs handed to the worker pool at once
                                  (its size): the rest wait here, and a
                                  free worker goes to the client that has
                                  had the least worker time;
                                  0: every job at once, libuv's FIFO */
  uint64_t max_sort_time_ms;   /* a sort running on a worker longer than
                                  this is cancelled and its client told;
                                  0: no bound */
  uint64_t max_inflight_bytes; /* request body bytes held (buffers as
                                  they grow with the bytes received), all
                                  clients */
  int worker_nice;             /* nice value of the worker threads; the
                                  loop thread keeps 0 and wins the CPU */
  uint64_t worker_yield_us;    /* a worker that has sorted this long gives
                                  up its CPU (sched_yield); 0 never */
  bool cancel_on_eof;          /* a FIN while the sort is pending means the
                                  client left (no half-closing clients) */
  /* Who may connect (--sort-allow), NULL: everyone. Others are closed
   * unread, counted in net.denied. */
  const net_acl_t *acl;
  /* Optional event log; level 0 error, 1 warn, 2 info, 3 debug. */
  void (*log)(int level, const char *fmt, ...);
  /* Optional warnings that may come in floods, rate-limited by the owner
   * per kind (at most one line a second, the rest counted). */
  void (*warn)(const char *kind, const char *fmt, ...);
} sort_server_config_t;

/* A histogram with fixed buckets, for the metrics endpoint: bounds are
 * inclusive upper bounds in the unit observed, ascending; counts[i] holds
 * the observations in bucket i alone and counts[n_bounds] those above
 * every bound (the exporter makes them cumulative). Updated on the loop
 * thread only. */
#define SORT_HIST_MAX_BOUNDS 16

typedef struct {
  const uint64_t *bounds;
  size_t n_bounds;
  uint64_t counts[SORT_HIST_MAX_BOUNDS + 1];
  uint64_t sum;
} sort_hist_t;

void sort_hist_observe(sort_hist_t *h, uint64_t value);

struct sort_conn;

typedef struct sort_server {
  /* First: the listener and every open connection. Its counters are the
   * service's: accepted (served) plus refused ("server busy") are the
   * connections accepted, dropped the ones past the hard limit (busy,
   * unanswered), accept_errors the failed accepts; n_conns counts the
   * busy ones still open too. */
  net_tcp_t net;
  sort_server_config_t cfg;
  bool draining;
  void (*on_drained)(struct sort_server *);
  size_t jobs;                /* queued or running */
  atomic_size_t jobs_running; /* inside work_cb (written by workers) */
  TAILQ_HEAD(, sort_conn)
  pending;                         /* jobs waiting for the pool, oldest
                                      first */
  LIST_HEAD(, sort_conn) job_list; /* jobs on the pool */
  size_t in_pool;                  /* their number */
  sort_clients_t clients;          /* jobs, those on the pool and worker time
                                      (ns) per client */
  uv_timer_t deadline;             /* checks job_list while it is not empty */
  uint64_t inflight_bytes;
  /* Counters, for logs, metrics and tests. */
  uint64_t replied_ok;
  uint64_t replied_error; /* every error reply, busy ones included */
  uint64_t bad_input;     /* invalid JSON, not numbers, too many, ... */
  uint64_t too_large;
  uint64_t timeouts;  /* read or write */
  uint64_t too_slow;  /* sorts stopped at max_sort_time_ms */
  uint64_t busy;      /* refused: connections, jobs or bytes (the
                         dropped connections are net.dropped) */
  uint64_t cancelled; /* the client left before its reply */
  uint64_t shutdown;  /* "server shutting down" replies */
  /* Body bytes of every complete request (refused busy ones included; a
   * too-large one is never complete), and nanoseconds from a complete
   * request to its reply being ready (queue wait, parse, sort, encode;
   * cancelled jobs are not observed, those stopped at max_sort_time_ms
   * are), both on the loop thread. */
  sort_hist_t request_bytes;
  sort_hist_t duration_ns;
  /* One read buffer for every connection: libuv calls alloc and read back
   * to back on the loop thread, and read_cb copies what it keeps. */
  char read_buf[64 * 1024];
} sort_server_t;

/* Bind and listen. On failure returns a negative libuv error and has closed
 * what it opened (run the loop before freeing s). */
int sort_server_start(sort_server_t *s, uv_loop_t *loop,
                      const struct sockaddr *addr,
                      const sort_server_config_t *cfg);

/* Graceful stop: close the listener, give connections still sending their
 * request SORT_DRAIN_READ_WINDOW_MS to complete it (then "server shutting
 * down"), let queued and running sorts finish and their replies be
 * written. on_drained runs (from a loop
 * callback, never from inside this call) once no connection is left. */
void sort_server_drain(sort_server_t *s, void (*on_drained)(sort_server_t *));

/* Hard stop (the grace period is over): close every connection at once and
 * cancel queued sorts; running ones see their cancel flag. on_drained still
 * runs once the last connection is freed. */
void sort_server_abort(sort_server_t *s);

/* The counters, for metrics and logs: the owner reads these and never
 * the struct's fields. The histograms are the server's own, valid until
 * the loop runs again. */
typedef struct {
  uint64_t ok;
  uint64_t error_replies; /* every error reply, busy ones included */
  uint64_t bad_input;
  uint64_t too_large;
  uint64_t timeouts; /* read, write, or a sort past its time */
  uint64_t too_slow; /* of those, sorts past max_sort_time_ms */
  uint64_t busy;     /* refused, answered or dropped unanswered */
  uint64_t cancelled;
  uint64_t shutdown;
  uint64_t accepted; /* served or refused busy */
  uint64_t accept_errors;
  uint64_t denied; /* from outside --sort-allow, closed unread */
  size_t queued;
  size_t running;
  size_t connections;
  uint64_t inflight_bytes;
  const sort_hist_t *request_bytes;
  const sort_hist_t *duration_ns;
} sort_server_stats_t;

void sort_server_stats(const sort_server_t *s, sort_server_stats_t *out);

#endif
