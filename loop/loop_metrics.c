#include "loop_metrics.h"

#include <dirent.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "loop_http.h"
#include "net_util.h"

/* After our FIN, how long to wait for the client's before closing (a
 * close with unread bytes would send RST, which can destroy the response
 * in the client's receive buffer). */
#define LINGER_MS 2000

/* A connection moves forward only: READING -> WRITING -> LINGERING, with
 * CLOSING reachable from each. */
typedef enum {
  CONN_READING,
  CONN_WRITING,
  CONN_LINGERING,
  CONN_CLOSING,
} conn_state_t;

typedef struct loop_metrics_conn {
  net_tcp_conn_t net; /* first: the socket, as net_tcp requires */
  uv_timer_t timer;   /* request, then response, then linger */
  uv_write_t write_req;
  uv_shutdown_t shutdown_req;
  loop_metrics_t *server;
  conn_state_t state;
  bool peer_eof;
  loop_http_req_t req;
  loop_prom_t body;    /* the scrape, until the write callback */
  char head[256];      /* status line and headers */
  char small_body[64]; /* the text of an error response */
} conn_t;

#define LOG(m, level, ...)              \
  do {                                  \
    if ((m)->cfg.log != NULL)           \
      (m)->cfg.log(level, __VA_ARGS__); \
  } while (0)

/* Freed by net_tcp after the last close callback: libuv runs a cancelled
 * write's or shutdown's callback before the handle's close callback, so
 * nothing points at the conn any more. */
static void conn_free(net_tcp_conn_t *nc) {
  conn_t *c = container_of(nc, conn_t, net);
  loop_prom_free(&c->body);
}

static void on_timer_close(uv_handle_t *h) {
  conn_t *c = container_of((uv_timer_t *)h, conn_t, timer);
  net_tcp_conn_release(&c->net);
}

static void conn_close(conn_t *c) {
  if (c->state == CONN_CLOSING)
    return;
  c->state = CONN_CLOSING;
  net_tcp_conn_close(&c->net);
  uv_close((uv_handle_t *)&c->timer, on_timer_close);
}

static void on_close_conn(net_tcp_conn_t *nc) {
  conn_close(container_of(nc, conn_t, net));
}

static void on_timer(uv_timer_t *t) {
  conn_t *c = container_of(t, conn_t, timer);
  loop_metrics_t *m = c->server;
  if (c->state == CONN_READING || c->state == CONN_WRITING) {
    /* A client that trickles its request (slowloris) or never reads the
     * response holds one of few connections: it goes. */
    m->timeouts++;
    LOG(m, 3, "metrics: %s timeout after %" PRIu64 " ms",
        c->state == CONN_READING ? "request" : "response", m->cfg.timeout_ms);
  }
  conn_close(c);
}

static void on_shutdown(uv_shutdown_t *req, int status) {
  conn_t *c = container_of(req, conn_t, shutdown_req);
  if (c->state == CONN_CLOSING)
    return;
  if (status < 0 || c->peer_eof) {
    conn_close(c);
    return;
  }
  c->state = CONN_LINGERING;
  uint64_t timeout = c->server->cfg.timeout_ms;
  uint64_t linger = timeout < LINGER_MS ? timeout : LINGER_MS;
  uv_timer_start(&c->timer, on_timer, linger, 0);
}

static void on_write(uv_write_t *req, int status) {
  conn_t *c = container_of(req, conn_t, write_req);
  if (c->state == CONN_CLOSING)
    return;
  /* The scrape can be tens of KiB: not kept for the linger. */
  loop_prom_free(&c->body);
  if (status < 0 || uv_shutdown(&c->shutdown_req, (uv_stream_t *)&c->net.tcp, on_shutdown) != 0)
    conn_close(c);
}

/* The body of a 200: the owner's numbers and ours, rendered. False when it
 * could not be (out of memory, or past LOOP_METRICS_MAX_BODY). */
static bool render_scrape(conn_t *c) {
  loop_metrics_t *m = c->server;
  loop_prom_snapshot_t snap;
  memset(&snap, 0, sizeof(snap));
  if (m->cfg.collect != NULL)
    m->cfg.collect(&snap, m->cfg.data);
  memcpy(snap.http_responses, m->responses, sizeof(snap.http_responses));
  snap.http_refused = m->net.refused;
  snap.http_timeouts = m->timeouts;
  loop_prom_dnsort(&c->body, &snap);
  if (!c->body.failed)
    return true;
  loop_prom_free(&c->body);
  return false;
}

static void respond(conn_t *c) {
  loop_metrics_t *m = c->server;
  int status = c->req.status;
  const char *type = "text/plain; charset=utf-8";
  const char *body = NULL;
  size_t body_len = 0;

  uv_timer_stop(&c->timer);
  /* /health is answered by the loop alone: nothing it reads depends on the
   * sort queue or the zone, so a busy pool cannot fail a liveness probe. */
  if (status == 200 && c->req.target == LOOP_HTTP_TARGET_READY && !m->ready)
    status = 503;
  if (status == 200 && c->req.target == LOOP_HTTP_TARGET_METRICS) {
    if (render_scrape(c)) {
      type = LOOP_PROM_CONTENT_TYPE;
      body = c->body.data;
      body_len = c->body.len;
    } else {
      status = 500;
    }
  }
  if (body == NULL) {
    if (status == 200)
      body_len = (size_t)snprintf(c->small_body, sizeof(c->small_body), "%s\n",
                                  c->req.target == LOOP_HTTP_TARGET_READY ? "ready" : "ok");
    else if (status == 503)
      body_len = (size_t)snprintf(c->small_body, sizeof(c->small_body), "not ready\n");
    else
      body_len = (size_t)snprintf(c->small_body, sizeof(c->small_body), "%d %s\n", status,
                                  loop_http_reason(status));
    body = c->small_body;
  }
  int head_len = snprintf(c->head, sizeof(c->head),
                          "HTTP/1.1 %d %s\r\n"
                          "Content-Type: %s\r\n"
                          "Content-Length: %zu\r\n"
                          "%s"
                          "Connection: close\r\n"
                          "\r\n",
                          status, loop_http_reason(status), type, body_len,
                          status == 405 ? "Allow: GET, HEAD\r\n" : "");
  int idx = loop_prom_http_code_index(status);
  if (idx >= 0)
    m->responses[idx]++;
  LOG(m, 3, "metrics: %s %.*s: %d, %zu bytes",
      http_method_str((enum http_method)c->req.parser.method),
      (int)(c->req.url_len > 80 ? 80 : c->req.url_len), c->req.url, status, body_len);

  /* A HEAD response has the headers a GET would have, and no body. */
  uv_buf_t bufs[2] = {uv_buf_init(c->head, (unsigned)head_len),
                      uv_buf_init((char *)body, (unsigned)body_len)};
  unsigned n = c->req.head || body_len == 0 ? 1 : 2;
  c->state = CONN_WRITING;
  uv_timer_start(&c->timer, on_timer, m->cfg.timeout_ms, 0);
  if (uv_write(&c->write_req, (uv_stream_t *)&c->net.tcp, bufs, n, on_write) != 0)
    conn_close(c);
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf) {
  conn_t *c = container_of((uv_tcp_t *)h, conn_t, net.tcp);
  (void)suggested;
  *buf = uv_buf_init(c->server->read_buf, sizeof(c->server->read_buf));
}

static void on_read(uv_stream_t *stream, ssize_t nread, const uv_buf_t *buf) {
  conn_t *c = container_of((uv_tcp_t *)stream, conn_t, net.tcp);
  if (c->state == CONN_CLOSING)
    return;
  if (nread > 0) {
    /* After the request, the rest is read and dropped: a body, a second
     * request (we said Connection: close), or nothing. */
    if (c->state == CONN_READING &&
        loop_http_req_feed(&c->req, buf->base, (size_t)nread) == LOOP_HTTP_READY)
      respond(c);
    return;
  }
  if (nread == 0)
    return;
  if (nread == UV_EOF && c->state == CONN_WRITING) {
    /* Half-closed: the response may still be read. */
    c->peer_eof = true;
    uv_read_stop(stream);
    return;
  }
  /* EOF before a whole request, or after the response, or a reset. */
  conn_close(c);
}

/* Past max_connections a connection is closed at once (no on_refuse). */
static void on_accept(net_tcp_conn_t *nc) {
  conn_t *c = container_of(nc, conn_t, net);
  loop_metrics_t *m = container_of(nc->server, loop_metrics_t, net);
  uv_timer_init(m->net.loop, &c->timer); /* cannot fail on unix */
  net_tcp_conn_hold(nc);
  c->server = m;
  c->state = CONN_READING;
  loop_http_req_init(&c->req);
  loop_prom_init(&c->body, LOOP_METRICS_MAX_BODY);
  int rc = uv_read_start((uv_stream_t *)&nc->tcp, on_alloc, on_read);
  if (rc != 0) {
    LOG(m, 0, "metrics: accepting a connection failed: %s", uv_strerror(rc));
    conn_close(c);
    return;
  }
  uv_timer_start(&c->timer, on_timer, m->cfg.timeout_ms, 0);
}

int loop_metrics_start(loop_metrics_t *m, uv_loop_t *loop, const struct sockaddr *addr,
                       const loop_metrics_config_t *cfg) {
  m->cfg = *cfg;
  if (m->cfg.max_connections == 0)
    m->cfg.max_connections = LOOP_METRICS_DEFAULT_MAX_CONNECTIONS;
  if (m->cfg.timeout_ms == 0)
    m->cfg.timeout_ms = LOOP_METRICS_DEFAULT_TIMEOUT_MS;
  m->on_close = NULL;
  m->ready = false;
  memset(m->responses, 0, sizeof(m->responses));
  m->timeouts = 0;

  net_tcp_config_t net = {
      .name = "metrics",
      .conn_size = sizeof(conn_t),
      .max_connections = m->cfg.max_connections,
      .on_accept = on_accept,
      .on_close = on_close_conn,
      .on_free = conn_free,
      .log = m->cfg.log,
  };
  return net_tcp_start(&m->net, loop, addr, &net);
}

/* net_tcp calls this once: the owner may free m in on_close. */
static void on_net_drained(net_tcp_t *t) {
  loop_metrics_t *m = container_of(t, loop_metrics_t, net);
  if (m->on_close != NULL)
    m->on_close(m);
}

void loop_metrics_close(loop_metrics_t *m, void (*on_close)(loop_metrics_t *)) {
  if (m->net.stopping)
    return;
  m->on_close = on_close;
  net_tcp_close(&m->net, on_net_drained);
}

void loop_metrics_set_ready(loop_metrics_t *m, bool ready) {
  m->ready = ready;
}

/* process_open_fds as the client libraries count it: the entries of
 * /proc/self/fd (procfs, never a disk wait), less the one this count
 * opens. */
static void count_fds(loop_prom_snapshot_t *snap) {
  struct rlimit lim;
  DIR *dir = opendir("/proc/self/fd");
  if (dir == NULL || getrlimit(RLIMIT_NOFILE, &lim) != 0) {
    if (dir != NULL)
      closedir(dir);
    return;
  }
  uint64_t n = 0;
  struct dirent *e;
  while ((e = readdir(dir)) != NULL)
    n += e->d_name[0] != '.';
  closedir(dir);
  snap->have_fds = true;
  snap->open_fds = n > 0 ? n - 1 : 0;
  snap->max_fds = lim.rlim_cur == RLIM_INFINITY ? UINT64_MAX : (uint64_t)lim.rlim_cur;
}

void loop_metrics_process(loop_prom_snapshot_t *snap) {
  /* procfs is generated from kernel memory when read: this never waits on
   * a disk, so it is fine on the loop thread. */
  char text[128];
  int fd = open("/proc/self/statm", O_RDONLY | O_CLOEXEC);
  if (fd >= 0) {
    ssize_t n = read(fd, text, sizeof(text) - 1);
    close(fd);
    long page = sysconf(_SC_PAGESIZE);
    if (n > 0 && page > 0) {
      text[n] = '\0';
      snap->have_memory =
          loop_prom_parse_statm(text, (uint64_t)page, &snap->vsz_bytes, &snap->rss_bytes) == 0;
    }
  }
  count_fds(snap);
  struct rusage ru;
  if (getrusage(RUSAGE_SELF, &ru) == 0) {
    snap->cpu_user_seconds = (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6;
    snap->cpu_system_seconds = (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
  }
}
