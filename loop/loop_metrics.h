/* loop_metrics: the Prometheus endpoint (--metrics), an HTTP/1.1 server on
 * the caller's libuv loop, with the probes /health (200 whenever the loop
 * answers) and /ready (200 once the owner says so, 503 after it takes it
 * back, e.g. while draining). Each connection gets one response and then
 * Connection: close; requests are read by loop_http (http_parser), the
 * body comes from the owner's collect callback, rendered on the loop
 * thread into a growable buffer (a few hundred series: well under a
 * millisecond) and written in one uv_write.
 *
 * Everything is bounded: the request head (loop_http), the connections
 * (more are accepted and closed at once), and the time from accept to a
 * complete request, then again to the response being taken by the
 * client. */
#ifndef DNSORT_LOOP_METRICS_H
#define DNSORT_LOOP_METRICS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "loop_prom.h"
#include "net_tcp.h"

#define LOOP_METRICS_DEFAULT_MAX_CONNECTIONS 64
#define LOOP_METRICS_DEFAULT_TIMEOUT_MS 5000
/* A response larger than this is a bug, not a scrape: 500 instead. */
#define LOOP_METRICS_MAX_BODY (4u * 1024 * 1024)

/* A field left at 0 takes its LOOP_METRICS_DEFAULT_ value. */
typedef struct {
  size_t max_connections;
  uint64_t timeout_ms;
  /* Fill the snapshot for one scrape; the server adds its own counters
   * (http_*) afterwards. Runs on the loop thread. */
  void (*collect)(loop_prom_snapshot_t *snap, void *data);
  void *data;
  /* Optional event log; level 0 error, 1 warn, 2 info, 3 debug. */
  void (*log)(int level, const char *fmt, ...);
} loop_metrics_config_t;

typedef struct loop_metrics {
  /* First: the listener and the connections; its refused counter (over
   * max_connections) is exported with the rest. */
  net_tcp_t net;
  loop_metrics_config_t cfg;
  void (*on_close)(struct loop_metrics *);
  bool ready; /* GET /ready: 200 if set, else 503 */
  /* Counters, exported with the rest. */
  uint64_t responses[LOOP_PROM_N_HTTP_CODES]; /* by loop_prom_http_codes */
  uint64_t timeouts;
  /* Shared by every connection: libuv calls alloc and read back to back
   * on the loop thread, and the request reader keeps what it needs. */
  char read_buf[4096];
} loop_metrics_t;

/* Bind and listen on addr. Returns 0 or a negative libuv error; the
 * handle is then being closed (run the loop before freeing m) and
 * loop_metrics_close is a no-op. */
int loop_metrics_start(loop_metrics_t *m, uv_loop_t *loop, const struct sockaddr *addr,
                       const loop_metrics_config_t *cfg);

/* Close the listener and every connection; on_close (may be NULL) runs
 * once all of them are closed and freed. */
void loop_metrics_close(loop_metrics_t *m, void (*on_close)(loop_metrics_t *));

/* What GET /ready answers: 200 when ready, 503 when not. A started
 * endpoint is not ready until this says so. */
void loop_metrics_set_ready(loop_metrics_t *m, bool ready);

/* The process's own figures: RSS and virtual size from /proc/self/statm,
 * CPU time from getrusage. */
void loop_metrics_process(loop_prom_snapshot_t *snap);

#endif
