#include "dns_tcp.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "dns_wire.h"

#define container_of(ptr, type, member) \
  ((type *)((char *)(ptr) - offsetof(type, member)))

#define LISTEN_BACKLOG 511

/* Queries one connection may have waiting for the forwarder; more get
 * SERVFAIL at once, so that one pipelining client cannot take every
 * waiting place the forwarder has (DNS_FORWARD_WAITERS_PER_QUERY). */
#define MAX_FORWARDED_PER_CONN 256

/* A typical read holds one or a few queries, whose replies fit here; a
 * bigger batch doubles from it. */
#define BATCH_MIN_CAP 4096

/* The framed replies to the queries of one read, sent with one uv_write.
 * Grown while that read is answered, never after uv_write has it. */
typedef struct {
  uv_write_t req;
  size_t len;
  size_t cap;
  uint8_t data[];
} reply_batch_t;

typedef struct dns_tcp_conn {
  uv_tcp_t tcp;                /* first: freeing the conn frees the handle */
  uv_timer_t idle;
  dns_tcp_t *server;
  struct dns_tcp_conn *prev, *next;
  dns_stream_t stream;
  size_t pending;              /* bytes in writes whose callback is to come */
  /* Queries read but not answered yet because the client had too many
   * replies waiting; answered before anything more is read. */
  uint8_t *backlog;
  size_t backlog_len;
  size_t backlog_pos;
  unsigned handles_open;       /* close callbacks still to come */
  /* Queries waiting for the forwarder; the connection stays open for
   * their replies after the client's EOF, and cancels them on close. */
  struct tcp_forwarded *forwarded;
  size_t n_forwarded;
  bool reading;
  bool finishing;              /* EOF or a bad frame: close once written */
  bool closing;
} dns_tcp_conn_t;

static void conn_close(dns_tcp_conn_t *c);
static void conn_resume(dns_tcp_conn_t *c);
static void on_read(uv_stream_t *stream, ssize_t nread, const uv_buf_t *buf);

/* Runs on_close once the listener and every socket are gone; the owner
 * may free s in it, so callers return right after. */
static void maybe_closed(dns_tcp_t *s) {
  if (!s->closing || s->listener_open || s->n_conns > 0 || s->n_refusing > 0)
    return;
  void (*cb)(dns_tcp_t *) = s->on_close;
  s->on_close = NULL;
  if (cb != NULL)
    cb(s);
}

static void conn_maybe_free(dns_tcp_conn_t *c) {
  if (c->handles_open > 0)
    return;
  dns_tcp_t *s = c->server;
  if (c->prev != NULL)
    c->prev->next = c->next;
  else
    s->conns = c->next;
  if (c->next != NULL)
    c->next->prev = c->prev;
  s->n_conns--;
  dns_stream_free(&c->stream);
  free(c->backlog);
  free(c);
  maybe_closed(s);
}

/* libuv runs the callbacks of cancelled writes before the close callback,
 * so once both handles are closed no write can still point at c. */
static void on_conn_tcp_close(uv_handle_t *h) {
  dns_tcp_conn_t *c = container_of((uv_tcp_t *)h, dns_tcp_conn_t, tcp);
  c->handles_open--;
  conn_maybe_free(c);
}

static void on_conn_timer_close(uv_handle_t *h) {
  dns_tcp_conn_t *c = container_of((uv_timer_t *)h, dns_tcp_conn_t, idle);
  c->handles_open--;
  conn_maybe_free(c);
}

/* A query of c waiting for the forwarder. */
typedef struct tcp_forwarded {
  dns_forward_req_t req;
  dns_tcp_conn_t *conn;
  struct tcp_forwarded *prev, *next;
} tcp_forwarded_t;

static void forwarded_unlink(tcp_forwarded_t *w) {
  dns_tcp_conn_t *c = w->conn;
  if (w->prev != NULL)
    w->prev->next = w->next;
  else
    c->forwarded = w->next;
  if (w->next != NULL)
    w->next->prev = w->prev;
  c->n_forwarded--;
}

static void conn_close(dns_tcp_conn_t *c) {
  if (c->closing)
    return;
  c->closing = true;
  c->reading = false;
  /* The upstream answers still fill the cache, but must not reach c. */
  while (c->forwarded != NULL) {
    tcp_forwarded_t *w = c->forwarded;
    dns_forward_cancel(&w->req);
    forwarded_unlink(w);
    free(w);
  }
  uv_close((uv_handle_t *)&c->tcp, on_conn_tcp_close);
  uv_close((uv_handle_t *)&c->idle, on_conn_timer_close);
}

static void on_idle(uv_timer_t *t) {
  dns_tcp_conn_t *c = container_of(t, dns_tcp_conn_t, idle);
  /* Not idle while the upstream has its queries: the forwarder's own
   * timeout bounds that wait. */
  if (c->n_forwarded > 0) {
    uv_timer_start(&c->idle, on_idle, c->server->cfg.idle_timeout_ms, 0);
    return;
  }
  c->server->idle_timeouts++;
  conn_close(c);
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf) {
  dns_tcp_conn_t *c = container_of((uv_tcp_t *)h, dns_tcp_conn_t, tcp);
  (void)suggested;
  *buf = uv_buf_init((char *)c->server->read_buf,
                     sizeof(c->server->read_buf));
}

static void conn_start_reading(dns_tcp_conn_t *c) {
  if (c->reading || c->closing || c->finishing)
    return;
  if (uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read) != 0) {
    conn_close(c);
    return;
  }
  c->reading = true;
}

static void conn_stop_reading(dns_tcp_conn_t *c) {
  if (!c->reading)
    return;
  uv_read_stop((uv_stream_t *)&c->tcp);
  c->reading = false;
}

/* No more queries will be answered; the replies already queued still go
 * out, then the connection closes. */
static void conn_finish(dns_tcp_conn_t *c) {
  if (c->closing || c->finishing)
    return;
  c->finishing = true;
  conn_stop_reading(c);
  if (c->pending == 0 && c->n_forwarded == 0)
    conn_close(c);
}

/* Without a forwarder, a query the zone would forward is answered
 * SERVFAIL, so the client moves on to another server at once instead of
 * waiting for a reply that never comes. Returns the reply length, 0 for
 * none. */
static size_t answer_forward(const uint8_t *msg, size_t len, uint8_t *out,
                             size_t cap) {
  dns_query_t q;
  if (dns_parse_query(msg, len, &q) == DNS_PARSE_DROP)
    return 0;
  return dns_build_response(&q, DNS_RCODE_SERVFAIL, NULL, 0, 0, out, cap,
                            cap);
}

/* Append n bytes to *bp, allocating or growing it. On failure *bp is
 * unchanged (and may be NULL). */
static bool batch_append(reply_batch_t **bp, const uint8_t *bytes,
                         size_t n) {
  reply_batch_t *b = *bp;
  size_t len = b != NULL ? b->len : 0;
  size_t cap = b != NULL ? b->cap : 0;
  if (cap - len < n) {
    size_t new_cap = cap > 0 ? cap : BATCH_MIN_CAP;
    while (new_cap - len < n)
      new_cap *= 2;
    reply_batch_t *grown = realloc(b, sizeof(*grown) + new_cap);
    if (grown == NULL)
      return false;
    grown->len = len;
    grown->cap = new_cap;
    *bp = b = grown;
  }
  memcpy(b->data + b->len, bytes, n);
  b->len += n;
  return true;
}

static void send_batch(dns_tcp_conn_t *c, reply_batch_t *batch);

/* The upstream answered one of c's queries: its own write, framed. */
static void on_forward_reply(dns_forward_req_t *req, const uint8_t *reply,
                             size_t len) {
  tcp_forwarded_t *w = container_of(req, tcp_forwarded_t, req);
  dns_tcp_conn_t *c = w->conn;
  uint8_t prefix[DNS_STREAM_PREFIX_LEN];
  reply_batch_t *batch = NULL;

  forwarded_unlink(w);
  free(w);
  if (len > 0) {
    dns_stats_count(&c->server->stats, reply, len);
    if (c->server->log_query != NULL)
      c->server->log_query(c->server->log_ctx, "tcp", NULL, reply, len);
  }
  if (!dns_stream_put_prefix(prefix, len)) {
    c->server->dropped++;
  } else if (!batch_append(&batch, prefix, sizeof(prefix)) ||
             !batch_append(&batch, reply, len)) {
    /* A reply that cannot be sent leaves the client waiting for it;
     * closing tells it at once. */
    free(batch);
    conn_close(c);
    return;
  } else {
    send_batch(c, batch);
    if (c->closing)
      return;
  }
  if (c->finishing && c->pending == 0 && c->n_forwarded == 0)
    conn_close(c);
}

/* A query for the forwarder: answered now from the cache, or sent
 * upstream (*out_len stays 0 and the reply comes later). Returns the
 * reply length to append now. */
static size_t conn_forward(dns_tcp_conn_t *c, const uint8_t *msg, size_t len,
                           uint8_t *out, size_t cap) {
  dns_forward_t *f = c->server->cfg.forward;
  size_t out_len = 0;
  switch (dns_forward_lookup(f, DNS_TRANSPORT_TCP, msg, len, out, cap,
                             &out_len)) {
  case DNS_FORWARD_REPLY:
    return out_len;
  case DNS_FORWARD_DROP:
    return 0;
  case DNS_FORWARD_MISS:
    break;
  }
  tcp_forwarded_t *w = NULL;
  if (c->n_forwarded < MAX_FORWARDED_PER_CONN)
    w = malloc(sizeof(*w));
  if (w != NULL) {
    w->conn = c;
    if (dns_forward_send(f, &w->req, DNS_TRANSPORT_TCP, msg, len,
                         on_forward_reply) == 0) {
      w->prev = NULL;
      w->next = c->forwarded;
      if (c->forwarded != NULL)
        c->forwarded->prev = w;
      c->forwarded = w;
      c->n_forwarded++;
      return 0;
    }
    free(w);
  }
  return dns_forward_servfail(msg, len, DNS_TRANSPORT_TCP, out, cap);
}

/* Answer one message into the batch. False when the batch cannot grow. */
static bool answer_message(dns_tcp_conn_t *c, const uint8_t *msg, size_t len,
                           reply_batch_t **batch) {
  dns_tcp_t *s = c->server;
  uint8_t *out = s->reply_buf + DNS_STREAM_PREFIX_LEN;
  size_t cap = sizeof(s->reply_buf) - DNS_STREAM_PREFIX_LEN;
  size_t out_len = 0;

  switch (dns_zone_answer(*s->zone, DNS_TRANSPORT_TCP, msg, len, out, cap,
                          &out_len)) {
  case DNS_REPLY_SEND:
    break;
  case DNS_REPLY_DROP:
    /* A response (QR=1) or a runt: never answered, but the framing is
     * intact, so the queries after it on this connection still are. */
    out_len = 0;
    break;
  case DNS_REPLY_FORWARD:
    if (s->cfg.forward == NULL) {
      out_len = answer_forward(msg, len, out, cap);
      break;
    }
    size_t waiting = c->n_forwarded;
    out_len = conn_forward(c, msg, len, out, cap);
    if (c->n_forwarded > waiting)
      return true; /* the reply comes with the upstream's answer */
    break;
  }
  if (!dns_stream_put_prefix(s->reply_buf, out_len)) {
    s->dropped++;
    return true;
  }
  dns_stats_count(&s->stats, out, out_len);
  if (s->log_query != NULL)
    s->log_query(s->log_ctx, "tcp", NULL, out, out_len);
  return batch_append(batch, s->reply_buf, DNS_STREAM_PREFIX_LEN + out_len);
}

static void on_write(uv_write_t *req, int status) {
  reply_batch_t *batch = container_of(req, reply_batch_t, req);
  dns_tcp_conn_t *c = container_of((uv_tcp_t *)req->handle, dns_tcp_conn_t,
                                   tcp);
  c->pending -= batch->len;
  free(batch);
  if (c->closing)
    return;
  if (status < 0) {
    conn_close(c);
    return;
  }
  if (c->finishing) {
    if (c->pending == 0 && c->n_forwarded == 0)
      conn_close(c);
    return;
  }
  /* Resume at half the limit, not just under it, so that a slow reader
   * costs a stop and a start per half-limit of replies, not per write. */
  if (!c->reading && c->pending <= c->server->cfg.max_pending_bytes / 2)
    conn_resume(c);
}

static void send_batch(dns_tcp_conn_t *c, reply_batch_t *batch) {
  dns_tcp_t *s = c->server;
  uv_buf_t buf = uv_buf_init((char *)batch->data, (unsigned)batch->len);
  if (uv_write(&batch->req, (uv_stream_t *)&c->tcp, &buf, 1, on_write) != 0) {
    free(batch);
    conn_close(c);
    return;
  }
  c->pending += batch->len;
  if (c->pending > s->pending_high_water)
    s->pending_high_water = c->pending;
}

/* Answer the complete messages in data[0..len), in order, with one write
 * for all their replies. Stops early once the replies waiting for this
 * client pass max_pending_bytes. Returns the bytes used; check c->closing
 * and c->finishing afterwards. */
static size_t conn_answer(dns_tcp_conn_t *c, const uint8_t *data,
                          size_t len) {
  dns_tcp_t *s = c->server;
  reply_batch_t *batch = NULL;
  size_t pos = 0;
  bool any = false;
  dns_stream_status_t st = DNS_STREAM_NEED_MORE;
  const uint8_t *msg;
  size_t msg_len;

  while (c->pending + (batch != NULL ? batch->len : 0) <=
         s->cfg.max_pending_bytes) {
    st = dns_stream_next(&c->stream, data, len, &pos, &msg, &msg_len);
    if (st != DNS_STREAM_MESSAGE)
      break;
    any = true;
    s->queries++;
    if (!answer_message(c, msg, msg_len, &batch)) {
      st = DNS_STREAM_NOMEM;
      break;
    }
  }
  /* Once per read rather than per query: uv_now is the same for all. */
  if (any)
    uv_timer_start(&c->idle, on_idle, s->cfg.idle_timeout_ms, 0);
  if (batch != NULL)
    send_batch(c, batch);
  if (st == DNS_STREAM_BAD_FRAME)
    s->bad_frames++;
  /* After a bad frame the next prefix cannot be found; after NOMEM a reply
   * is missing and later ones would be out of step with the queries. */
  if (st == DNS_STREAM_BAD_FRAME || st == DNS_STREAM_NOMEM)
    conn_finish(c);
  return pos;
}

/* Answer what was left unanswered, then read again if the client has
 * caught up. */
static void conn_resume(dns_tcp_conn_t *c) {
  if (c->backlog != NULL) {
    size_t left = c->backlog_len - c->backlog_pos;
    size_t used = conn_answer(c, c->backlog + c->backlog_pos, left);
    if (c->closing || c->finishing)
      return;
    c->backlog_pos += used;
    /* Over the limit again: the next write callback comes back here. */
    if (used < left)
      return;
    free(c->backlog);
    c->backlog = NULL;
  }
  if (c->pending <= c->server->cfg.max_pending_bytes)
    conn_start_reading(c);
}

static void on_read(uv_stream_t *stream, ssize_t nread, const uv_buf_t *buf) {
  dns_tcp_conn_t *c = container_of((uv_tcp_t *)stream, dns_tcp_conn_t, tcp);
  if (c->closing || nread == 0)
    return;
  if (nread < 0) {
    /* On EOF the client has sent all it will: a message it left unfinished
     * is never answered, the finished ones are. Other errors (a reset)
     * leave nobody to read replies. */
    if (nread == UV_EOF)
      conn_finish(c);
    else
      conn_close(c);
    return;
  }
  const uint8_t *data = (const uint8_t *)buf->base;
  size_t len = (size_t)nread;
  size_t used = conn_answer(c, data, len);
  if (c->closing || c->finishing)
    return;
  if (used < len) {
    /* The read buffer is shared, so what is left must be copied out. It is
     * at most one read, and a client only gets here by not reading. */
    c->backlog = malloc(len - used);
    if (c->backlog == NULL) {
      conn_finish(c);
      return;
    }
    memcpy(c->backlog, data + used, len - used);
    c->backlog_len = len - used;
    c->backlog_pos = 0;
  }
  if (c->backlog != NULL || c->pending > c->server->cfg.max_pending_bytes)
    conn_stop_reading(c);
}

static void on_refused_close(uv_handle_t *h) {
  dns_tcp_t *s = h->data;
  free(h);
  s->n_refusing--;
  maybe_closed(s);
}

/* Accept and close at once: libuv stops polling a listener whose pending
 * connection was not accepted, and the client learns it should go
 * elsewhere instead of waiting in the backlog. */
static void refuse(dns_tcp_t *s) {
  uv_tcp_t *t = malloc(sizeof(*t));
  if (t == NULL || uv_tcp_init(s->loop, t) != 0) {
    /* Without a handle there is no way to accept; the listener pauses
     * until memory is back and the next uv_accept. */
    free(t);
    return;
  }
  t->data = s;
  uv_accept((uv_stream_t *)&s->listener, (uv_stream_t *)t);
  uv_close((uv_handle_t *)t, on_refused_close);
  s->n_refusing++;
}

static void on_connection(uv_stream_t *listener, int status) {
  dns_tcp_t *s = container_of((uv_tcp_t *)listener, dns_tcp_t, listener);
  if (status < 0) {
    /* EMFILE and the like: in libuv 1.44 the pending connection is already
     * shed (uv__emfile_trick); the listener goes on. */
    s->accept_errors++;
    return;
  }
  if (s->n_conns >= s->cfg.max_connections) {
    s->refused_connections++;
    refuse(s);
    return;
  }
  dns_tcp_conn_t *c = calloc(1, sizeof(*c));
  if (c == NULL || uv_tcp_init(s->loop, &c->tcp) != 0) {
    free(c);
    s->accept_errors++;
    refuse(s);
    return;
  }
  c->server = s;
  c->handles_open = 1;
  dns_stream_init(&c->stream);
  c->next = s->conns;
  if (s->conns != NULL)
    s->conns->prev = c;
  s->conns = c;
  s->n_conns++;
  uv_timer_init(s->loop, &c->idle); /* cannot fail on unix */
  c->handles_open++;

  int rc = uv_accept(listener, (uv_stream_t *)&c->tcp);
  if (rc != 0) {
    s->accept_errors++;
    conn_close(c);
    return;
  }
  s->accepted++;
  /* Replies are already gathered per read; Nagle would only hold the next
   * read's replies back until the client acknowledges the last ones. */
  uv_tcp_nodelay(&c->tcp, 1);
  uv_timer_start(&c->idle, on_idle, s->cfg.idle_timeout_ms, 0);
  conn_start_reading(c);
}

static int set_reuseport(uv_tcp_t *tcp) {
#ifdef SO_REUSEPORT
  uv_os_fd_t fd;
  int on = 1;
  int rc = uv_fileno((uv_handle_t *)tcp, &fd);
  if (rc != 0)
    return rc;
  if (setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &on, sizeof(on)) != 0)
    return uv_translate_sys_error(errno);
  return 0;
#else
  (void)tcp;
  return UV_ENOTSUP;
#endif
}

static void on_listener_close(uv_handle_t *h) {
  dns_tcp_t *s = container_of((uv_tcp_t *)h, dns_tcp_t, listener);
  s->listener_open = false;
  maybe_closed(s);
}

int dns_tcp_start(dns_tcp_t *s, uv_loop_t *loop, const struct sockaddr *addr,
                  const dns_zone_t *const *zone, const dns_tcp_config_t *cfg) {
  s->loop = loop;
  s->cfg = *cfg;
  if (s->cfg.idle_timeout_ms == 0)
    s->cfg.idle_timeout_ms = DNS_TCP_DEFAULT_IDLE_TIMEOUT_MS;
  if (s->cfg.max_connections == 0)
    s->cfg.max_connections = DNS_TCP_DEFAULT_MAX_CONNECTIONS;
  if (s->cfg.max_pending_bytes == 0)
    s->cfg.max_pending_bytes = DNS_TCP_DEFAULT_MAX_PENDING_BYTES;
  if (s->cfg.max_pending_bytes > DNS_TCP_MAX_PENDING_LIMIT)
    s->cfg.max_pending_bytes = DNS_TCP_MAX_PENDING_LIMIT;
  s->zone = zone;
  s->conns = NULL;
  s->n_conns = 0;
  s->closing = false;
  s->on_close = NULL;
  memset(&s->stats, 0, sizeof(s->stats));
  s->queries = s->refused_connections = s->bad_frames = 0;
  s->accepted = s->accept_errors = s->dropped = s->idle_timeouts = 0;
  s->pending_high_water = 0;
  s->n_refusing = 0;
  s->listener_open = false;

  /* _ex creates the socket now, so SO_REUSEPORT can be set before bind. */
  int rc = uv_tcp_init_ex(loop, &s->listener, addr->sa_family);
  if (rc != 0)
    return rc;
  if (s->cfg.reuseport) {
    rc = set_reuseport(&s->listener);
    if (rc != 0)
      goto fail;
  }
  rc = uv_tcp_bind(&s->listener, addr, 0);
  if (rc != 0)
    goto fail;
  /* uv_tcp_bind keeps EADDRINUSE for uv_listen to report. */
  rc = uv_listen((uv_stream_t *)&s->listener, LISTEN_BACKLOG, on_connection);
  if (rc != 0)
    goto fail;
  s->listener_open = true;
  return 0;

fail:
  /* A later dns_tcp_close must not close the listener a second time. */
  s->closing = true;
  uv_close((uv_handle_t *)&s->listener, NULL);
  return rc;
}

void dns_tcp_close(dns_tcp_t *s, void (*on_close)(dns_tcp_t *)) {
  if (s->closing)
    return;
  s->closing = true;
  s->on_close = on_close;
  uv_close((uv_handle_t *)&s->listener, on_listener_close);
  /* conn_close only starts closing; the list changes in close callbacks,
   * so walking it here is safe. */
  for (dns_tcp_conn_t *c = s->conns; c != NULL; c = c->next)
    conn_close(c);
}
