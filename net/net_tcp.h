/* net_tcp: the listening side of a TCP service, written once for DNS over
 * TCP, the sort service and the metrics endpoint. It listens, accepts,
 * keeps the list of open connections, refuses past a limit (the service
 * says how), drops unanswered past a second, hard limit, survives and logs
 * failed accepts (EMFILE when libuv reports it; see loop_fd.h for when it
 * does not), closes everything on request and reports once the last
 * connection is gone. What a connection does once accepted is the
 * service's.
 *
 * A service's connection struct starts with a net_tcp_conn_t, which holds
 * the socket's uv_tcp_t; the core allocates conn_size bytes and the
 * service recovers its struct with container_of. A connection is freed
 * (on_free, then free) when its last reference goes: the socket holds one
 * until its close callback, and the service takes one per other handle or
 * request that may still point at the connection (net_tcp_conn_hold),
 * giving it back in that handle's close callback or that request's
 * callback (net_tcp_conn_release).
 *
 * net_tcp sits below dns/ and sortsvc/, which may not include loop/
 * (loop links them), so it is a library of its own that all three link. */
#ifndef DNSORT_NET_TCP_H
#define DNSORT_NET_TCP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/queue.h>
#include <uv.h>

#include "net_acl.h"

/* The accept queue the kernel keeps for each listener (capped by
 * net.core.somaxconn): room for a burst of connects between two turns of
 * the loop. */
#define NET_TCP_BACKLOG 511

typedef struct net_tcp net_tcp_t;

typedef struct net_tcp_conn {
  uv_tcp_t tcp; /* first: the conn and its handle are one
                   allocation */
  net_tcp_t *server;
  LIST_ENTRY(net_tcp_conn) link;
  unsigned refs; /* the socket, plus what the service holds */
  bool closing;  /* the socket's uv_close has been called */
  bool handed;   /* on_accept, on_refuse or on_deny ran */
} net_tcp_conn_t;

typedef struct {
  const char *name; /* the log prefix: "sort", "dns-tcp", ... */
  size_t conn_size; /* sizeof the service's conn struct */
  /* Open connections (refused ones still being answered included) before
   * new ones are refused; past hard_limit they are dropped unanswered, so
   * that refusing a flood cannot grow memory without bound. hard_limit 0
   * means max_connections + max_connections / 4 + 64. */
  size_t max_connections;
  size_t hard_limit;
  bool reuseport; /* SO_REUSEPORT before bind */
  /* Who may connect; NULL: everyone. The peer is checked right after
   * accept, before the connection limit: a client outside it goes to
   * on_deny and counts in denied, not in accepted or refused. */
  const net_acl_t *acl;
  /* A connection from outside acl: serve it refusals (and close).
   * NULL: the socket is closed at once, unread. */
  void (*on_deny)(net_tcp_conn_t *c);
  /* A connection accepted under the limit: start serving it. Required. */
  void (*on_accept)(net_tcp_conn_t *c);
  /* One accepted past max_connections: tell the client (and close).
   * NULL: the socket is closed at once, without a conn struct. */
  void (*on_refuse)(net_tcp_conn_t *c);
  /* net_tcp_close_all: close what c holds, then net_tcp_conn_close(c).
   * May be called on a conn already closing. NULL: only the socket. */
  void (*on_close)(net_tcp_conn_t *c);
  /* The last reference is gone: free what c owns (not c). May be NULL. */
  void (*on_free)(net_tcp_conn_t *c);
  /* Optional event log; level 0 error, 1 warn, 2 info, 3 debug. */
  void (*log)(int level, const char *fmt, ...);
  /* Optional warnings that may come in floods, rate-limited by the owner
   * per kind (at most one line a second, the rest counted). */
  void (*warn)(const char *kind, const char *fmt, ...);
} net_tcp_config_t;

struct net_tcp {
  uv_tcp_t listener; /* first: the struct owns the handle */
  uv_loop_t *loop;
  net_tcp_config_t cfg;
  LIST_HEAD(, net_tcp_conn) conns; /* every open conn, refused ones too */
  size_t n_conns;
  bool listening; /* the listener's close callback is to come */
  bool stopping;  /* net_tcp_stop was called, or start failed */
  void (*on_drained)(net_tcp_t *t);
  /* Each connection the listener gets counts once in accepted, refused,
   * denied or dropped; accept_errors counts the ones lost before that
   * (libuv's EMFILE shedding, no memory, a failed uv_accept). */
  uint64_t accepted;
  uint64_t refused; /* past max_connections */
  uint64_t denied;  /* from outside cfg.acl */
  uint64_t dropped; /* past hard_limit */
  uint64_t accept_errors;

  /* Private. */
  size_t hard_limit;
  size_t n_bare; /* sockets accepted only to be closed */
};

/* Bind and listen on addr. Returns 0 or a negative libuv error; then the
 * listener is being closed (run the loop before freeing t or starting it
 * again) and net_tcp_stop is a no-op. */
int net_tcp_start(net_tcp_t *t, uv_loop_t *loop, const struct sockaddr *addr,
                  const net_tcp_config_t *cfg);

/* Close the listener; the open connections go on. on_drained (may be
 * NULL) runs once, from a loop callback (never from inside this call),
 * when the listener is closed and the last connection freed. */
void net_tcp_stop(net_tcp_t *t, void (*on_drained)(net_tcp_t *));

/* Start closing every open connection (on_close for each). */
void net_tcp_close_all(net_tcp_t *t);

/* Both: stop, then close all. */
void net_tcp_close(net_tcp_t *t, void (*on_drained)(net_tcp_t *));

/* Close c's socket, once; c is freed when its last reference goes. */
void net_tcp_conn_close(net_tcp_conn_t *c);

/* Take and give back a reference on c (see above). Releasing the last one
 * frees c: touch nothing of it afterwards. */
void net_tcp_conn_hold(net_tcp_conn_t *c);
void net_tcp_conn_release(net_tcp_conn_t *c);

#endif
