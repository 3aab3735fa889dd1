/* dns_forward: queries for names outside the map, sent to upstream
 * servers with c-ares on the caller's libuv loop, with a cache in front.
 *
 * c-ares 1.18 has no event thread: its sockets are watched with one
 * uv_poll_t each, created and closed from ARES_OPT_SOCK_STATE_CB, and its
 * timeouts are driven by one uv_timer_t armed from ares_timeout (the
 * node.js pattern). Nothing blocks the loop.
 *
 * Use from a DNS handler, for a query the zone would forward:
 *
 *   switch (dns_forward_lookup(f, transport, pkt, len, out, cap, &n)) {
 *   case DNS_FORWARD_REPLY: send out[0..n); break;   (cache hit, or SERVFAIL)
 *   case DNS_FORWARD_DROP:  break;
 *   case DNS_FORWARD_MISS:
 *     allocate a struct embedding a dns_forward_req_t;
 *     if (dns_forward_send(f, &x->req, transport, pkt, len, on_reply) != 0)
 *       free it and send dns_forward_servfail(pkt, len, transport, ...);
 *   }
 *
 * on_reply(req, reply, len) runs later, from the loop, exactly once per
 * request that was not cancelled: send reply[0..len) (len 0: nothing to
 * send) before returning, then free the request. A handler that goes away
 * (a closed TCP connection, a closed UDP socket) calls dns_forward_cancel
 * on each request it still has; the upstream query goes on and its answer
 * still fills the cache.
 *
 * What goes upstream is the client's question with the flags that change
 * the answer (RD, AD, CD, and EDNS DO), always with EDNS (1232 bytes) so
 * that answers up to that size come over UDP; c-ares retries over TCP when
 * an answer is truncated. EDNS options (cookies, padding, client subnet)
 * are hop by hop and are not passed on, so one upstream answer can serve
 * every client asking the same question. c-ares 1.18's ares_send keeps the
 * ID it is given, so each upstream query gets a random ID unique among the
 * queries in flight.
 *
 * Queries with the same key (lower-cased name, type, class, those flags)
 * share one upstream query while it is in flight. Each client gets the
 * upstream's response with its own ID and question, within its UDP size
 * (else TC=1), with the OPT record only if it sent one. A failure (timeout
 * across all servers and tries, refusal, a malformed answer) is SERVFAIL,
 * never silence. */
#ifndef DNSORT_DNS_FORWARD_H
#define DNSORT_DNS_FORWARD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/queue.h>
#include <sys/socket.h>
#include <uv.h>

#include "dns_cache.h"
#include "dns_stats.h"
#include "dns_wire.h"
#include "dns_zone.h"

#define DNS_FORWARD_DEFAULT_TIMEOUT_MS 2000
#define DNS_FORWARD_DEFAULT_MAX_INFLIGHT 1024
/* c-ares 1.18 matches an answer to its query by the 16-bit ID and the
 * question, and we keep IDs unique among queries in flight: the bound
 * leaves room in the 65536 IDs for fast random picks. */
#define DNS_FORWARD_MAX_INFLIGHT 50000
#define DNS_FORWARD_MAX_UPSTREAMS 16
/* Clients that may wait on the in-flight queries, per query allowed in
 * flight (with a floor): coalescing is free for the upstream, but each
 * waiting client costs a request here. */
#define DNS_FORWARD_WAITERS_PER_QUERY 16
#define DNS_FORWARD_MIN_WAITERS 4096
/* Upstream queries sent from one UDP socket (one source port) before the
 * next ones go from a new socket, so that a spoofer has to guess the port
 * as well as the 16-bit ID. c-ares >= 1.20 does it (udp_max_queries);
 * before, a pool of c-ares channels does, at most DNS_FORWARD_MAX_CHANNELS
 * (each costs about 72 KiB in c-ares 1.18: its query hash tables). */
#define DNS_FORWARD_DEFAULT_UDP_MAX_QUERIES 16
#define DNS_FORWARD_MAX_UDP_MAX_QUERIES 65535
#define DNS_FORWARD_MAX_CHANNELS 128
#define DNS_FORWARD_DEFAULT_CACHE_SIZE 10000
#define DNS_FORWARD_DEFAULT_CACHE_MAX_TTL 86400
#define DNS_FORWARD_DEFAULT_CACHE_NEG_TTL 300
/* The UDP payload size we advertise upstream (DNS flag day 2020). */
#define DNS_FORWARD_UPSTREAM_EDNS_SIZE 1232

typedef struct {
  const struct sockaddr_storage *upstreams; /* copied by dns_forward_new */
  size_t n_upstreams;                       /* 1..DNS_FORWARD_MAX_UPSTREAMS */
  /* The whole budget of one upstream query, every server and retry
   * included: each server is tried in order, then once more with twice the
   * wait, so one try waits timeout_ms / (3 * n_upstreams) at first. */
  uint64_t timeout_ms;
  size_t max_inflight; /* upstream queries at once */
  /* Queries per upstream UDP socket; 0: one socket for as long as queries
   * overlap (c-ares' default). */
  size_t udp_max_queries;
  /* Rotate with our own pool of channels even where c-ares could (for
   * tests of the pool on any c-ares). */
  bool own_rotation;
  size_t cache_size; /* entries; 0 disables */
  uint32_t cache_max_ttl;
  uint32_t cache_neg_ttl;
  /* Optional warnings (an upstream that refuses, fails or stays silent),
   * rate-limited by the owner per kind; the kind is "upstream". */
  void (*warn)(const char *kind, const char *fmt, ...);
} dns_forward_config_t;

/* The defaults above, no upstream. */
void dns_forward_config_default(dns_forward_config_t *cfg);

/* One upstream server, as seen on its sockets (c-ares does not say which
 * server answered or timed out, so the socket calls are counted): what
 * was sent to it, what came back, and the errors its socket reported
 * (ICMP port unreachable: ECONNREFUSED). A query that timed out there is
 * in requests and in neither of the others. */
typedef struct {
  char name[64]; /* "127.0.0.1:53", "[::1]:53" */
  uint64_t requests;
  uint64_t responses;
  uint64_t errors;
  uint64_t unanswered; /* requests since its last response or error */
} dns_forward_upstream_stats_t;
/* Does the c-ares we run with rotate UDP sockets itself (built with
 * c-ares >= 1.20 headers and running with such a library)? */
bool dns_forward_cares_rotates(void);

typedef struct {
  uint64_t queries; /* handed to dns_forward_lookup */
  uint64_t cache_hits;
  uint64_t upstream_queries;  /* sent with ares_send */
  uint64_t coalesced;         /* joined a query already in flight */
  uint64_t upstream_answers;  /* usable responses */
  uint64_t upstream_failures; /* timeouts, refusals, network errors */
  uint64_t invalid_answers;   /* malformed, or not for our question */
  uint64_t dropped_records;   /* left out of upstream answers: not for the
                               * question's name chain (dns_cache_check) */
  uint64_t overloaded;        /* SERVFAIL at once: too many in flight */
  uint64_t cancelled;         /* requests whose client went away */
  uint64_t servfails;         /* SERVFAIL replies, all causes */
  uint64_t socket_errors;     /* c-ares sockets we could not watch */
  uint64_t port_overruns;     /* queries sent past udp_max_queries on one
                               * socket: every channel of the pool busy */
  size_t inflight;
  size_t waiters;
  dns_cache_stats_t cache;
  /* Upstream queries from send to outcome (answer, failure, timeout). */
  dns_hist_t duration;
  size_t n_upstreams;
  dns_forward_upstream_stats_t upstream[DNS_FORWARD_MAX_UPSTREAMS];
} dns_forward_stats_t;

typedef struct dns_forward dns_forward_t;
typedef struct dns_forward_req dns_forward_req_t;

/* reply[0..len) is valid during the call only. */
typedef void (*dns_forward_cb)(dns_forward_req_t *req, const uint8_t *reply,
                               size_t len);

/* One client's query waiting for an upstream answer. The caller owns the
 * memory (embed it and use container_of); the fields are private. */
struct dns_forward_req {
  dns_forward_cb cb;
  struct dns_forward_pending *pending; /* NULL once answered or cancelled */
  TAILQ_ENTRY(dns_forward_req) link;   /* in its pending query's waiters */
  dns_query_t query;                   /* question points into question[] */
  size_t limit;
  uint8_t question[DNS_MAX_NAME + 4];
};

/* Create a forwarder on loop. Returns 0 or a negative libuv error
 * (UV_EINVAL for a bad config, UV_ENOMEM, UV_EIO when c-ares refuses);
 * nothing is left open on failure. */
int dns_forward_new(uv_loop_t *loop, const dns_forward_config_t *cfg,
                    dns_forward_t **out);

typedef enum {
  DNS_FORWARD_REPLY = 0, /* out[0..*out_len) is the reply */
  DNS_FORWARD_DROP,      /* send nothing */
  DNS_FORWARD_MISS,      /* call dns_forward_send */
} dns_forward_result_t;

/* The hot path: a cache hit is answered into out without allocating; when
 * the in-flight bound is reached (or the forwarder is closing) the reply
 * is SERVFAIL at once. */
dns_forward_result_t dns_forward_lookup(dns_forward_t *f,
                                        dns_transport_t transport,
                                        const uint8_t *pkt, size_t len,
                                        uint8_t *out, size_t cap,
                                        size_t *out_len);

/* Send the query upstream, or join the identical one in flight. 0: cb
 * will run (never from inside this call). Else a negative libuv error
 * (UV_EBUSY over a bound, UV_ENOMEM, UV_ECANCELED when closing, UV_EINVAL
 * for a query that cannot be forwarded) and req is untouched by us. */
int dns_forward_send(dns_forward_t *f, dns_forward_req_t *req,
                     dns_transport_t transport, const uint8_t *pkt, size_t len,
                     dns_forward_cb cb);

/* The request's callback will not run; its memory may be freed at once.
 * A no-op for a request already answered or cancelled. */
void dns_forward_cancel(dns_forward_req_t *req);

/* SERVFAIL for pkt (ID and question echoed, RA=1, AA=0), for a caller whose
 * dns_forward_send failed. Returns the length, 0 when pkt is not to be
 * answered at all. */
size_t dns_forward_servfail(const uint8_t *pkt, size_t len,
                            dns_transport_t transport, uint8_t *out,
                            size_t cap);

/* Empty the cache (SIGHUP). Queries in flight still store their answer. */
void dns_forward_flush(dns_forward_t *f);

void dns_forward_stats(const dns_forward_t *f, dns_forward_stats_t *out);

/* Stop: every upstream query is dropped (requests still waiting get
 * SERVFAIL), c-ares is destroyed from a loop callback of its own (never
 * from inside a c-ares callback, c-ares/c-ares#347), and once every handle
 * is closed on_close (may be NULL) runs with f still readable; f is freed
 * right after it returns. */
void dns_forward_close(dns_forward_t *f,
                       void (*on_close)(dns_forward_t *f, void *data),
                       void *data);

#endif
