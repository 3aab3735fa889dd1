/* loop_http: reads one HTTP/1.x request for the metrics endpoint and
 * decides its answer. Pure: the bytes go through http_parser (Debian's
 * libhttp-parser, 2.9), no sockets, so cmocka feeds it byte strings.
 *
 * The answer is decided as soon as the request line and headers are in:
 * GET or HEAD of /metrics, /health or /ready (any query string) is 200
 * with the target set (the server may still answer /ready with 503),
 * another path 404,
 * another method 405, a request http_parser rejects 400, a target over
 * LOOP_HTTP_MAX_URL bytes 414, a head over LOOP_HTTP_MAX_HEAD bytes 431.
 * A body, if any, is never read: the server answers with Connection: close
 * and discards whatever else the client sends. */
#ifndef DNSORT_LOOP_HTTP_H
#define DNSORT_LOOP_HTTP_H

#include <http_parser.h>
#include <stdbool.h>
#include <stddef.h>

#define LOOP_HTTP_MAX_URL 1024
/* Request line and headers together. A Prometheus scrape sends about 300
 * bytes; curl about 100. */
#define LOOP_HTTP_MAX_HEAD 8192

/* What a 200 request asked for. */
typedef enum {
  LOOP_HTTP_TARGET_METRICS = 0, /* /metrics: the Prometheus scrape */
  LOOP_HTTP_TARGET_HEALTH,      /* /health: the loop turns */
  LOOP_HTTP_TARGET_READY,       /* /ready: listening, zone loaded, not draining */
} loop_http_target_t;

typedef enum {
  LOOP_HTTP_NEED_MORE = 0,
  LOOP_HTTP_READY, /* status (and head) are set */
} loop_http_result_t;

typedef struct {
  http_parser parser; /* parser.data points back at this struct */
  size_t url_len;
  char url[LOOP_HTTP_MAX_URL];
  bool url_too_long; /* past LOOP_HTTP_MAX_URL: 414 once read */
  bool ready;
  int status;                /* 200, 400, 404, 405, 414 or 431 once ready */
  loop_http_target_t target; /* with status 200 */
  bool head;                 /* HEAD: the response has no body */
} loop_http_req_t;

void loop_http_req_init(loop_http_req_t *r);

/* Feed the next bytes of the connection. Once READY, further calls return
 * READY and look at nothing. */
loop_http_result_t loop_http_req_feed(loop_http_req_t *r, const char *data, size_t len);

/* "OK", "Not Found"... for the status line. */
const char *loop_http_reason(int status);

#endif
