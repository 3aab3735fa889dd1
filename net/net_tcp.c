#include "net_tcp.h"

#include <inttypes.h>
#include <stdlib.h>

#include "net_sock.h"
#include "net_util.h"

/* Runs on_drained once the listener and every socket are gone; the owner
 * may free t in it, so callers return right after. */
static void maybe_drained(net_tcp_t *t) {
  if (!t->stopping || t->listening || t->n_conns > 0 || t->n_bare > 0 ||
      t->on_drained == NULL)
    return;
  void (*cb)(net_tcp_t *) = t->on_drained;
  t->on_drained = NULL;
  cb(t);
}

void net_tcp_conn_hold(net_tcp_conn_t *c) {
  c->refs++;
}

void net_tcp_conn_release(net_tcp_conn_t *c) {
  if (--c->refs > 0)
    return;
  net_tcp_t *t = c->server;
  LIST_REMOVE(c, link);
  t->n_conns--;
  if (c->handed && t->cfg.on_free != NULL)
    t->cfg.on_free(c);
  free(c);
  maybe_drained(t);
}

/* libuv runs the callbacks of a handle's cancelled writes and shutdowns
 * before its close callback, so none of them can still point at c. */
static void on_conn_close(uv_handle_t *h) {
  net_tcp_conn_t *c = container_of((uv_tcp_t *)h, net_tcp_conn_t, tcp);
  net_tcp_conn_release(c);
}

void net_tcp_conn_close(net_tcp_conn_t *c) {
  if (c->closing)
    return;
  c->closing = true;
  uv_close((uv_handle_t *)&c->tcp, on_conn_close);
}

static void on_bare_close(uv_handle_t *h) {
  net_tcp_t *t = h->data;
  free(h);
  t->n_bare--;
  maybe_drained(t);
}

/* Accept into a bare handle and close it at once: the client learns to go
 * elsewhere instead of waiting in the backlog, and the listener keeps
 * polling (libuv stops polling a listener whose pending connection was
 * not accepted: uv__server_io in src/unix/stream.c). */
static void close_bare(net_tcp_t *t) {
  uv_tcp_t *h = malloc(sizeof(*h));
  if (h == NULL || uv_tcp_init(t->loop, h) != 0) {
    /* Without a handle nothing can be accepted, and libuv will not call
     * us again for this listener: it has stopped until the service
     * closes. Only reachable when out of memory. */
    free(h);
    if (t->cfg.log != NULL)
      t->cfg.log(0, "%s: out of memory: the listener has stopped accepting",
                 t->cfg.name);
    return;
  }
  h->data = t;
  uv_accept((uv_stream_t *)&t->listener, (uv_stream_t *)h);
  uv_close((uv_handle_t *)h, on_bare_close);
  t->n_bare++;
}

/* Counted always; warned through the owner's rate limiter, else logged at
 * powers of two: a flood of failures must not become a flood of log
 * lines. */
static void accept_failed(net_tcp_t *t, int status) {
  t->accept_errors++;
  if (t->cfg.warn != NULL)
    t->cfg.warn(t->cfg.name,
                "%s: connection shed: accept failed: %s (%" PRIu64 " so far)",
                t->cfg.name, uv_strerror(status), t->accept_errors);
  else if ((t->accept_errors & (t->accept_errors - 1)) == 0 &&
           t->cfg.log != NULL)
    t->cfg.log(1, "%s: accept failed: %s (%" PRIu64 " so far)", t->cfg.name,
               uv_strerror(status), t->accept_errors);
}

/* The access check, right after accept: the peer's address is known only
 * once the socket is ours. A peer gone already (a reset in the backlog)
 * has nothing to be served. */
static bool peer_allowed(const net_tcp_t *t, net_tcp_conn_t *c) {
  if (t->cfg.acl == NULL)
    return true;
  struct sockaddr_storage peer;
  int len = sizeof(peer);
  if (uv_tcp_getpeername(&c->tcp, (struct sockaddr *)&peer, &len) != 0)
    return false;
  return net_acl_allows(t->cfg.acl, (const struct sockaddr *)&peer);
}

/* A connection past a limit, closed unread: counted in *count and said. */
static void shed(net_tcp_t *t, uint64_t *count, const char *limit,
                 const char *counted) {
  (*count)++;
  if (t->cfg.warn != NULL)
    t->cfg.warn(t->cfg.name,
                "%s: connection shed: %zu open, %s (%" PRIu64 " %s so far)",
                t->cfg.name, t->n_conns, limit, *count, counted);
  close_bare(t);
}

static void on_connection(uv_stream_t *listener, int status) {
  net_tcp_t *t = container_of((uv_tcp_t *)listener, net_tcp_t, listener);
  if (status < 0) {
    /* EMFILE and the like, when libuv could not shed the pending
     * connections itself (uv__emfile_trick had no spare descriptor); when
     * it could, we are not called at all: loop_fd's watch notices that.
     * The listener goes on. */
    accept_failed(t, status);
    return;
  }
  if (t->n_conns >= t->hard_limit) {
    shed(t, &t->dropped, "the hard limit", "dropped");
    return;
  }
  bool over = t->n_conns >= t->cfg.max_connections;
  if (over && t->cfg.on_refuse == NULL) {
    shed(t, &t->refused, "the limit", "refused");
    return;
  }
  net_tcp_conn_t *c = calloc(1, t->cfg.conn_size);
  if (c == NULL || uv_tcp_init(t->loop, &c->tcp) != 0) {
    free(c);
    accept_failed(t, UV_ENOMEM);
    close_bare(t);
    return;
  }
  c->server = t;
  c->refs = 1;
  LIST_INSERT_HEAD(&t->conns, c, link);
  t->n_conns++;

  int rc = uv_accept(listener, (uv_stream_t *)&c->tcp);
  if (rc != 0) {
    /* Loud: in libuv 1.44 a failed uv_accept can leave the listener no
     * longer polled. */
    t->accept_errors++;
    if (t->cfg.log != NULL)
      t->cfg.log(0, "%s: uv_accept failed: %s", t->cfg.name, uv_strerror(rc));
    net_tcp_conn_close(c);
    return;
  }
  if (!peer_allowed(t, c)) {
    t->denied++;
    if (t->cfg.on_deny == NULL) {
      net_tcp_conn_close(c);
      return;
    }
    c->handed = true;
    t->cfg.on_deny(c);
    return;
  }
  c->handed = true;
  if (over) {
    t->refused++;
    t->cfg.on_refuse(c);
  } else {
    t->accepted++;
    t->cfg.on_accept(c);
  }
}

int net_tcp_start(net_tcp_t *t, uv_loop_t *loop, const struct sockaddr *addr,
                  const net_tcp_config_t *cfg) {
  t->loop = loop;
  t->cfg = *cfg;
  t->hard_limit = cfg->hard_limit != 0
                      ? cfg->hard_limit
                      : cfg->max_connections + cfg->max_connections / 4 + 64;
  LIST_INIT(&t->conns);
  t->n_conns = t->n_bare = 0;
  t->listening = false;
  t->stopping = false;
  t->on_drained = NULL;
  t->accepted = t->refused = t->denied = t->dropped = t->accept_errors = 0;

  /* _ex creates the socket now, so SO_REUSEPORT can be set before bind. */
  int rc = uv_tcp_init_ex(loop, &t->listener, addr->sa_family);
  if (rc != 0) {
    t->stopping = true;
    return rc;
  }
  if (cfg->reuseport)
    rc = net_sock_reuseport((uv_handle_t *)&t->listener);
  if (rc == 0)
    rc = uv_tcp_bind(&t->listener, addr, 0);
  /* uv_tcp_bind keeps EADDRINUSE for uv_listen to report. */
  if (rc == 0)
    rc = uv_listen((uv_stream_t *)&t->listener, NET_TCP_BACKLOG, on_connection);
  if (rc != 0) {
    t->stopping = true;
    uv_close((uv_handle_t *)&t->listener, NULL);
    return rc;
  }
  t->listening = true;
  return 0;
}

static void on_listener_close(uv_handle_t *h) {
  net_tcp_t *t = container_of((uv_tcp_t *)h, net_tcp_t, listener);
  t->listening = false;
  maybe_drained(t);
}

void net_tcp_stop(net_tcp_t *t, void (*on_drained)(net_tcp_t *)) {
  if (t->stopping)
    return;
  t->stopping = true;
  t->on_drained = on_drained;
  uv_close((uv_handle_t *)&t->listener, on_listener_close);
}

void net_tcp_close_all(net_tcp_t *t) {
  /* Closing only starts here and conns leave the list in close callbacks;
   * next is read first all the same, so that a service may free c. */
  for (net_tcp_conn_t *c = LIST_FIRST(&t->conns), *next; c != NULL; c = next) {
    next = LIST_NEXT(c, link);
    if (c->handed && t->cfg.on_close != NULL)
      t->cfg.on_close(c);
    else
      net_tcp_conn_close(c);
  }
}

void net_tcp_close(net_tcp_t *t, void (*on_drained)(net_tcp_t *)) {
  net_tcp_stop(t, on_drained);
  net_tcp_close_all(t);
}
