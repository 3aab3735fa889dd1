#include "dns_tcp.h"

#include <stdlib.h>
#include <string.h>

#include "dns_acl.h"
#include "dns_wire.h"
#include "net_util.h"

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
  net_tcp_conn_t net; /* first: the socket, as net_tcp requires */
  uv_timer_t idle;
  dns_tcp_t *server;
  dns_stream_t stream;
  size_t pending; /* bytes in writes whose callback is to come */
  /* Queries read but not answered yet because the client had too many
   * replies waiting; answered before anything more is read. */
  uint8_t *backlog;
  size_t backlog_len;
  size_t backlog_pos;
  /* Queries waiting for the forwarder; the connection stays open for
   * their replies after the client's EOF, and cancels them on close. */
  LIST_HEAD(, tcp_forwarded) forwarded;
  size_t n_forwarded;
  /* The client, for the per-query log (filled only when it is on). */
  struct sockaddr_storage peer;
  bool have_peer;
  TAILQ_ENTRY(dns_tcp_conn) wait_link;
  uint64_t turn_id; /* the turn turn_answered counts in */
  size_t turn_answered;
  size_t held; /* what c counts in server->buffered */
  bool reading;
  bool waiting;   /* in server->waiting, for a later turn */
  bool finishing; /* EOF or a bad frame: close once written */
  bool denied;    /* outside cfg.acl: every query REFUSED */
  bool closing;
} dns_tcp_conn_t;

static void conn_close(dns_tcp_conn_t *c);
static void on_read(uv_stream_t *stream, ssize_t nread, const uv_buf_t *buf);

/* ---- fairness: per-turn counts and the memory bound ---- */

/* Bring c's share of server->buffered up to date; called wherever its
 * replies, backlog or partial message change. */
static void conn_account(dns_tcp_conn_t *c) {
  dns_tcp_t *s = c->server;
  size_t held = c->pending + dns_stream_held(&c->stream);
  if (c->backlog != NULL)
    held += c->backlog_len - c->backlog_pos;
  s->buffered = s->buffered - c->held + held;
  c->held = held;
  if (held > s->conn_buffered_high_water)
    s->conn_buffered_high_water = held;
  if (s->buffered > s->buffered_high_water)
    s->buffered_high_water = s->buffered;
}

/* Queries c may still have answered in this turn of the loop. */
static size_t turn_left(dns_tcp_conn_t *c) {
  dns_tcp_t *s = c->server;
  if (c->turn_id != s->turn_id) {
    c->turn_id = s->turn_id;
    c->turn_answered = 0;
  }
  if (c->turn_answered >= s->cfg.conn_queries_per_turn ||
      s->turn_answered >= s->cfg.queries_per_turn)
    return 0;
  size_t mine = s->cfg.conn_queries_per_turn - c->turn_answered;
  size_t all = s->cfg.queries_per_turn - s->turn_answered;
  return mine < all ? mine : all;
}

/* Over the bound for all connections, c still reads while it holds less
 * than its fair share: those who hold much wait, not those who hold
 * nothing. */
static bool buffer_allows(const dns_tcp_conn_t *c) {
  const dns_tcp_t *s = c->server;
  return s->buffered < s->cfg.max_buffered_bytes || c->held < s->fair_share;
}

static void on_keep_turning(uv_idle_t *h) {
  (void)h; /* only there so that the loop polls without blocking */
}

static void keep_turning(dns_tcp_t *s, bool on) {
  if (s->net.stopping)
    return;
  if (on)
    uv_idle_start(&s->keep_turning, on_keep_turning);
  else
    uv_idle_stop(&s->keep_turning);
}

static void wait_remove(dns_tcp_conn_t *c) {
  if (!c->waiting)
    return;
  TAILQ_REMOVE(&c->server->waiting, c, wait_link);
  c->server->n_waiting--;
  c->waiting = false;
}

/* net_tcp frees the conn once the socket and the timer are closed; libuv
 * runs the callbacks of cancelled writes before the close callback, so
 * by then no write can still point at c (and c->pending is 0). */
static void conn_free(net_tcp_conn_t *nc) {
  dns_tcp_conn_t *c = container_of(nc, dns_tcp_conn_t, net);
  dns_tcp_t *s = c->server;
  s->buffered -= c->held;
  dns_stream_free(&c->stream);
  free(c->backlog);
  /* What c held is free now: connections held back by max_buffered_bytes
   * may go on. */
  if (s->n_waiting > 0)
    keep_turning(s, true);
}

static void on_conn_timer_close(uv_handle_t *h) {
  dns_tcp_conn_t *c = container_of((uv_timer_t *)h, dns_tcp_conn_t, idle);
  net_tcp_conn_release(&c->net);
}

/* A query of c waiting for the forwarder. */
typedef struct tcp_forwarded {
  dns_forward_req_t req;
  dns_tcp_conn_t *conn;
  uint64_t recv_at; /* uv_hrtime when its query was answered */
  LIST_ENTRY(tcp_forwarded) link;
} tcp_forwarded_t;

static void forwarded_unlink(tcp_forwarded_t *w) {
  LIST_REMOVE(w, link);
  w->conn->n_forwarded--;
}

static void conn_close(dns_tcp_conn_t *c) {
  if (c->closing)
    return;
  c->closing = true;
  c->reading = false;
  wait_remove(c);
  /* The upstream answers still fill the cache, but must not reach c. */
  while (!LIST_EMPTY(&c->forwarded)) {
    tcp_forwarded_t *w = LIST_FIRST(&c->forwarded);
    dns_forward_cancel(&w->req);
    forwarded_unlink(w);
    free(w);
  }
  net_tcp_conn_close(&c->net);
  uv_close((uv_handle_t *)&c->idle, on_conn_timer_close);
}

static void on_close_conn(net_tcp_conn_t *nc) {
  conn_close(container_of(nc, dns_tcp_conn_t, net));
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

/* An empty buffer makes libuv leave the bytes in the kernel and call
 * on_read with UV_ENOBUFS: c has had its share of this turn. */
static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf) {
  dns_tcp_conn_t *c = container_of((uv_tcp_t *)h, dns_tcp_conn_t, net.tcp);
  dns_tcp_t *s = c->server;
  (void)suggested;
  if (turn_left(c) == 0 || c->pending > s->cfg.max_pending_bytes ||
      !buffer_allows(c)) {
    *buf = uv_buf_init(NULL, 0);
    return;
  }
  *buf = uv_buf_init((char *)s->read_buf, sizeof(s->read_buf));
}

static void conn_start_reading(dns_tcp_conn_t *c) {
  if (c->reading || c->closing || c->finishing)
    return;
  if (uv_read_start((uv_stream_t *)&c->net.tcp, on_alloc, on_read) != 0) {
    conn_close(c);
    return;
  }
  c->reading = true;
}

static void conn_stop_reading(dns_tcp_conn_t *c) {
  if (!c->reading)
    return;
  uv_read_stop((uv_stream_t *)&c->net.tcp);
  c->reading = false;
}

/* Stop reading c and queue it to be resumed at the start of a later turn
 * (on_turn). */
static void conn_wait(dns_tcp_conn_t *c) {
  dns_tcp_t *s = c->server;
  conn_stop_reading(c);
  if (c->waiting || c->closing || c->finishing)
    return;
  TAILQ_INSERT_TAIL(&s->waiting, c, wait_link);
  s->n_waiting++;
  c->waiting = true;
  keep_turning(s, true);
}

/* After answering: read on; or wait for the client to take its replies
 * (on_write brings c back); or, its share of the turn used, for a later
 * turn. */
static void conn_continue(dns_tcp_conn_t *c) {
  if (c->closing || c->finishing)
    return;
  if (c->pending > c->server->cfg.max_pending_bytes) {
    conn_stop_reading(c);
    return;
  }
  if (c->backlog != NULL || turn_left(c) == 0 || !buffer_allows(c)) {
    c->server->deferred++;
    conn_wait(c);
    return;
  }
  conn_start_reading(c);
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
  return dns_build_error(&q, DNS_RCODE_SERVFAIL, DNS_RECURSION_UNAVAILABLE, out,
                         cap, cap);
}

/* Append n bytes to *bp, allocating or growing it. On failure *bp is
 * unchanged (and may be NULL). */
static bool batch_append(reply_batch_t **bp, const uint8_t *bytes, size_t n) {
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

/* --log-queries: one line for a reply about to be written. */
static void log_reply(dns_tcp_conn_t *c, const uint8_t *reply, size_t len,
                      uint64_t recv_at, const char *source) {
  dns_tcp_t *s = c->server;
  dns_query_log_t q = {"tcp",
                       c->have_peer ? (const struct sockaddr *)&c->peer : NULL,
                       reply,
                       len,
                       (uv_hrtime() - recv_at) / 1000,
                       source};
  s->log_query(s->log_ctx, &q);
}

/* The upstream answered one of c's queries: its own write, framed. */
static void on_forward_reply(dns_forward_req_t *req, const uint8_t *reply,
                             size_t len) {
  tcp_forwarded_t *w = container_of(req, tcp_forwarded_t, req);
  dns_tcp_conn_t *c = w->conn;
  uint8_t prefix[DNS_STREAM_PREFIX_LEN];
  reply_batch_t *batch = NULL;

  uint64_t recv_at = w->recv_at;
  forwarded_unlink(w);
  free(w);
  if (len > 0) {
    dns_stats_count(&c->server->stats, reply, len);
    dns_hist_observe(&c->server->duration, (uv_hrtime() - recv_at) / 1000, 1);
    if (c->server->log_query != NULL)
      log_reply(c, reply, len, recv_at, DNS_SOURCE_UPSTREAM);
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
    conn_account(c);
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
                           uint8_t *out, size_t cap, const char **source) {
  dns_forward_t *f = c->server->cfg.forward;
  size_t out_len = 0;
  *source = DNS_SOURCE_POLICY;
  switch (
      dns_forward_lookup(f, DNS_TRANSPORT_TCP, msg, len, out, cap, &out_len)) {
  case DNS_FORWARD_REPLY:
    *source = DNS_SOURCE_CACHE;
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
    w->recv_at = c->server->read_at;
    if (dns_forward_send(f, &w->req, DNS_TRANSPORT_TCP, msg, len,
                         on_forward_reply) == 0) {
      LIST_INSERT_HEAD(&c->forwarded, w, link);
      c->n_forwarded++;
      return 0;
    }
    free(w);
  }
  return dns_forward_servfail(msg, len, DNS_TRANSPORT_TCP, out, cap);
}

/* Frame the reply of out_len bytes in s->reply_buf (0: none, counted as
 * dropped) and append it to the batch. False when the batch cannot
 * grow. */
static bool append_reply(dns_tcp_conn_t *c, size_t out_len, const char *source,
                         reply_batch_t **batch) {
  dns_tcp_t *s = c->server;
  const uint8_t *out = s->reply_buf + DNS_STREAM_PREFIX_LEN;
  if (!dns_stream_put_prefix(s->reply_buf, out_len)) {
    s->dropped++;
    return true;
  }
  dns_stats_count(&s->stats, out, out_len);
  if (s->log_query != NULL)
    log_reply(c, out, out_len, s->read_at, source);
  s->read_replies++;
  return batch_append(batch, s->reply_buf, DNS_STREAM_PREFIX_LEN + out_len);
}

/* A query from a client outside --allow: REFUSED, or nothing for what
 * would be dropped anyway. */
static bool refuse_message(dns_tcp_conn_t *c, const uint8_t *msg, size_t len,
                           reply_batch_t **batch) {
  dns_tcp_t *s = c->server;
  s->refused_acl++;
  size_t out_len = dns_acl_refuse(msg, len, DNS_TRANSPORT_TCP,
                                  s->reply_buf + DNS_STREAM_PREFIX_LEN,
                                  sizeof(s->reply_buf) - DNS_STREAM_PREFIX_LEN);
  return append_reply(c, out_len, DNS_SOURCE_POLICY, batch);
}

/* Answer one message into the batch. False when the batch cannot grow. */
static bool answer_message(dns_tcp_conn_t *c, const uint8_t *msg, size_t len,
                           reply_batch_t **batch) {
  dns_tcp_t *s = c->server;
  uint8_t *out = s->reply_buf + DNS_STREAM_PREFIX_LEN;
  size_t cap = sizeof(s->reply_buf) - DNS_STREAM_PREFIX_LEN;
  size_t out_len = 0;
  const char *source = DNS_SOURCE_POLICY;

  switch ((s->draining ? dns_zone_answer_draining : dns_zone_answer)(
      *s->zone, DNS_TRANSPORT_TCP, msg, len, out, cap, &out_len)) {
  case DNS_REPLY_SEND:
    source = dns_stats_zone_source(out, out_len);
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
    out_len = conn_forward(c, msg, len, out, cap, &source);
    if (c->n_forwarded > waiting)
      return true; /* the reply comes with the upstream's answer */
    break;
  }
  return append_reply(c, out_len, source, batch);
}

static void on_write(uv_write_t *req, int status) {
  reply_batch_t *batch = container_of(req, reply_batch_t, req);
  dns_tcp_conn_t *c =
      container_of((uv_tcp_t *)req->handle, dns_tcp_conn_t, net.tcp);
  dns_tcp_t *s = c->server;
  c->pending -= batch->len;
  free(batch);
  conn_account(c);
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
   * costs a stop and a start per half-limit of replies, not per write;
   * and at the next turn, within its budget. */
  if (!c->reading && !c->waiting && c->pending <= s->cfg.max_pending_bytes / 2)
    conn_wait(c);
  /* Bytes were given back: connections held back by max_buffered_bytes
   * may go on. */
  if (s->n_waiting > 0)
    keep_turning(s, true);
}

static void send_batch(dns_tcp_conn_t *c, reply_batch_t *batch) {
  dns_tcp_t *s = c->server;
  uv_buf_t buf = uv_buf_init((char *)batch->data, (unsigned)batch->len);
  if (uv_write(&batch->req, (uv_stream_t *)&c->net.tcp, &buf, 1, on_write) !=
      0) {
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
 * client pass max_pending_bytes, or c's share of this turn is used.
 * Returns the bytes used; check c->closing and c->finishing afterwards. */
static size_t conn_answer(dns_tcp_conn_t *c, const uint8_t *data, size_t len) {
  dns_tcp_t *s = c->server;
  reply_batch_t *batch = NULL;
  size_t pos = 0;
  bool any = false;
  dns_stream_status_t st = DNS_STREAM_NEED_MORE;
  const uint8_t *msg;
  size_t msg_len;

  s->read_at = uv_hrtime();
  s->read_replies = 0;
  while (c->pending + (batch != NULL ? batch->len : 0) <=
             s->cfg.max_pending_bytes &&
         turn_left(c) > 0) {
    st = dns_stream_next(&c->stream, data, len, &pos, &msg, &msg_len);
    if (st != DNS_STREAM_MESSAGE)
      break;
    any = true;
    c->turn_answered++;
    s->turn_answered++;
    s->queries++;
    if (!(c->denied ? refuse_message(c, msg, msg_len, &batch)
                    : answer_message(c, msg, msg_len, &batch))) {
      st = DNS_STREAM_NOMEM;
      break;
    }
  }
  /* Once per read rather than per query: uv_now is the same for all. */
  if (any)
    uv_timer_start(&c->idle, on_idle, s->cfg.idle_timeout_ms, 0);
  if (s->read_replies > 0)
    dns_hist_observe(&s->duration, (uv_hrtime() - s->read_at) / 1000,
                     s->read_replies);
  if (batch != NULL)
    send_batch(c, batch);
  dns_stream_trim(&c->stream);
  if (st == DNS_STREAM_BAD_FRAME)
    s->bad_frames++;
  /* After a bad frame the next prefix cannot be found; after NOMEM a reply
   * is missing and later ones would be out of step with the queries. */
  if (st == DNS_STREAM_BAD_FRAME || st == DNS_STREAM_NOMEM)
    conn_finish(c);
  return pos;
}

/* Answer what was left unanswered (within this turn's share), then read
 * again if the client has caught up. */
static void conn_resume(dns_tcp_conn_t *c) {
  if (c->closing || c->finishing)
    return;
  if (c->backlog != NULL) {
    size_t left = c->backlog_len - c->backlog_pos;
    size_t used = conn_answer(c, c->backlog + c->backlog_pos, left);
    if (c->closing)
      return;
    c->backlog_pos += used;
    if (used == left) {
      free(c->backlog);
      c->backlog = NULL;
    }
    conn_account(c);
  }
  conn_continue(c);
}

/* The start of a turn of the loop (a prepare handle, so before the poll):
 * a new budget, and the connections that waited longest resumed, as many
 * as the turn's budget can serve at their full share. The others wait on,
 * in order; the idle handle keeps the loop from blocking while they do,
 * except when the buffer bound alone holds them back (then a write
 * callback, which gives bytes back, starts it again). */
static void on_turn(uv_prepare_t *p) {
  dns_tcp_t *s = container_of(p, dns_tcp_t, turn);
  size_t room = s->cfg.queries_per_turn;
  size_t resumed = 0;
  bool held_back = false;

  s->turn_id++;
  s->turn_answered = 0;
  for (size_t n = s->n_waiting; n > 0 && room > 0; n--) {
    dns_tcp_conn_t *c = TAILQ_FIRST(&s->waiting);
    wait_remove(c);
    /* Its write callback brings it back once the client reads. */
    if (c->pending > s->cfg.max_pending_bytes)
      continue;
    if (!buffer_allows(c)) {
      conn_wait(c);
      held_back = true;
      continue;
    }
    conn_resume(c);
    resumed++;
    room = room > s->cfg.conn_queries_per_turn
               ? room - s->cfg.conn_queries_per_turn
               : 0;
  }
  keep_turning(s, s->n_waiting > 0 && !(held_back && resumed == 0));
}

static void on_read(uv_stream_t *stream, ssize_t nread, const uv_buf_t *buf) {
  dns_tcp_conn_t *c = container_of((uv_tcp_t *)stream, dns_tcp_conn_t, net.tcp);
  if (c->closing || nread == 0)
    return;
  if (nread == UV_ENOBUFS) {
    /* on_alloc said no: this turn's share is used. */
    c->server->deferred++;
    conn_wait(c);
    return;
  }
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
  if (c->closing)
    return;
  if (used < len && !c->finishing) {
    /* The read buffer is shared, so what is left must be copied out. It is
     * at most one read (DNS_TCP_READ_CHUNK): the queries past this turn's
     * share, or past what a client that does not read may have waiting. */
    c->backlog = malloc(len - used);
    if (c->backlog == NULL) {
      conn_finish(c);
      return;
    }
    memcpy(c->backlog, data + used, len - used);
    c->backlog_len = len - used;
    c->backlog_pos = 0;
  }
  conn_account(c);
  conn_continue(c);
}

/* Past max_connections a connection is closed at once (no on_refuse): a
 * DNS client that is refused simply tries another server. A client
 * outside cfg.acl is served like any other (on_deny), but every query
 * gets REFUSED: it learns why instead of timing out. */
static void on_accept(net_tcp_conn_t *nc) {
  dns_tcp_conn_t *c = container_of(nc, dns_tcp_conn_t, net);
  dns_tcp_t *s = container_of(nc->server, dns_tcp_t, net);
  c->server = s;
  c->turn_id = s->turn_id;
  dns_stream_init(&c->stream);
  LIST_INIT(&c->forwarded);
  uv_timer_init(s->net.loop, &c->idle); /* cannot fail on unix */
  net_tcp_conn_hold(nc);
  /* Replies are already gathered per read; Nagle would only hold the next
   * read's replies back until the client acknowledges the last ones. */
  uv_tcp_nodelay(&nc->tcp, 1);
  if (s->log_query != NULL) {
    int peer_len = sizeof(c->peer);
    c->have_peer = uv_tcp_getpeername(&nc->tcp, (struct sockaddr *)&c->peer,
                                      &peer_len) == 0;
  }
  uv_timer_start(&c->idle, on_idle, s->cfg.idle_timeout_ms, 0);
  conn_start_reading(c);
}

static void on_deny(net_tcp_conn_t *nc) {
  container_of(nc, dns_tcp_conn_t, net)->denied = true;
  on_accept(nc);
}

int dns_tcp_start(dns_tcp_t *s, uv_loop_t *loop, const struct sockaddr *addr,
                  const dns_zone_t *const *zone, const dns_tcp_config_t *cfg) {
  s->cfg = *cfg;
  if (s->cfg.idle_timeout_ms == 0)
    s->cfg.idle_timeout_ms = DNS_TCP_DEFAULT_IDLE_TIMEOUT_MS;
  if (s->cfg.max_connections == 0)
    s->cfg.max_connections = DNS_TCP_DEFAULT_MAX_CONNECTIONS;
  if (s->cfg.max_pending_bytes == 0)
    s->cfg.max_pending_bytes = DNS_TCP_DEFAULT_MAX_PENDING_BYTES;
  if (s->cfg.max_pending_bytes > DNS_TCP_MAX_PENDING_LIMIT)
    s->cfg.max_pending_bytes = DNS_TCP_MAX_PENDING_LIMIT;
  if (s->cfg.max_buffered_bytes == 0)
    s->cfg.max_buffered_bytes = DNS_TCP_DEFAULT_MAX_BUFFERED_BYTES;
  if (s->cfg.queries_per_turn == 0)
    s->cfg.queries_per_turn = DNS_TCP_DEFAULT_QUERIES_PER_TURN;
  if (s->cfg.conn_queries_per_turn == 0)
    s->cfg.conn_queries_per_turn = DNS_TCP_DEFAULT_CONN_QUERIES_PER_TURN;
  /* One connection cannot use more than the whole turn. */
  if (s->cfg.conn_queries_per_turn > s->cfg.queries_per_turn)
    s->cfg.conn_queries_per_turn = s->cfg.queries_per_turn;
  /* At least one read: a connection that holds less may always read. */
  s->fair_share = s->cfg.max_buffered_bytes / s->cfg.max_connections;
  if (s->fair_share < DNS_TCP_READ_CHUNK)
    s->fair_share = DNS_TCP_READ_CHUNK;
  s->zone = zone;
  s->on_close = NULL;
  s->draining = false;
  memset(&s->stats, 0, sizeof(s->stats));
  memset(&s->duration, 0, sizeof(s->duration));
  s->queries = s->refused_acl = s->bad_frames = s->dropped = 0;
  s->idle_timeouts = 0;
  s->pending_high_water = 0;
  s->buffered = s->buffered_high_water = s->conn_buffered_high_water = 0;
  s->deferred = 0;
  TAILQ_INIT(&s->waiting);
  s->n_waiting = 0;
  s->turn_id = 1;
  s->turn_answered = 0;
  s->parts_open = 0;

  net_tcp_config_t net = {
      .name = "dns-tcp",
      .conn_size = sizeof(dns_tcp_conn_t),
      .max_connections = s->cfg.max_connections,
      .reuseport = s->cfg.reuseport,
      .acl = s->cfg.acl,
      .on_deny = on_deny,
      .on_accept = on_accept,
      .on_close = on_close_conn,
      .on_free = conn_free,
      .log = s->cfg.log,
      .warn = s->cfg.warn,
  };
  int rc = net_tcp_start(&s->net, loop, addr, &net);
  if (rc != 0)
    return rc;
  /* Neither can fail on unix. The prepare handle runs at every turn but
   * must not keep the loop alive by itself. */
  uv_prepare_init(loop, &s->turn);
  uv_prepare_start(&s->turn, on_turn);
  uv_unref((uv_handle_t *)&s->turn);
  uv_idle_init(loop, &s->keep_turning);
  s->parts_open = 3;
  return 0;
}

/* Runs three times (the connections, and each of the two turn handles);
 * the last one tells the owner, who may free s in on_close. */
static void part_closed(dns_tcp_t *s) {
  if (--s->parts_open == 0 && s->on_close != NULL)
    s->on_close(s);
}

static void on_net_drained(net_tcp_t *t) {
  part_closed(container_of(t, dns_tcp_t, net));
}

static void on_turn_closed(uv_handle_t *h) {
  part_closed(container_of((uv_prepare_t *)h, dns_tcp_t, turn));
}

static void on_keep_turning_closed(uv_handle_t *h) {
  part_closed(container_of((uv_idle_t *)h, dns_tcp_t, keep_turning));
}

void dns_tcp_close(dns_tcp_t *s, void (*on_close)(dns_tcp_t *)) {
  if (s->net.stopping)
    return;
  s->on_close = on_close;
  /* First, so that nothing starts the idle handle once it is closing. */
  net_tcp_close(&s->net, on_net_drained);
  uv_close((uv_handle_t *)&s->turn, on_turn_closed);
  uv_close((uv_handle_t *)&s->keep_turning, on_keep_turning_closed);
}

void dns_tcp_stats(const dns_tcp_t *s, dns_tcp_stats_t *out) {
  *out = (dns_tcp_stats_t){
      .replies = s->stats,
      .duration = s->duration,
      .queries = s->queries,
      .dropped = s->dropped,
      .bad_frames = s->bad_frames,
      .idle_timeouts = s->idle_timeouts,
      .accepted = s->net.accepted,
      .refused = s->net.refused,
      .accept_errors = s->net.accept_errors,
      .denied = s->net.denied,
      .refused_acl = s->refused_acl,
      .open = s->net.n_conns,
      .buffered = s->buffered,
      .buffered_high_water = s->buffered_high_water,
      .conn_buffered_high_water = s->conn_buffered_high_water,
      .deferred = s->deferred,
  };
}
