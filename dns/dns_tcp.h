/* dns_tcp: DNS over TCP (RFC 1035 4.2.2, RFC 7766) on the same address and
 * port as UDP. Each message has a 2-byte big-endian length prefix; a
 * connection carries many queries, pipelined queries are answered in order
 * as they arrive, an idle connection is closed after idle_timeout_ms, and at
 * most max_connections are open (more are accepted and closed at once, so
 * the listener never stalls). A bad frame closes that connection only.
 *
 * Pipelining clients share the loop fairly with UDP and with each other:
 * each turn of the loop answers at most conn_queries_per_turn queries of
 * one connection and queries_per_turn of all of them; a connection that
 * has had its share waits (not reading) in a FIFO until a later turn. The
 * memory a client can make us hold is bounded per connection
 * (max_pending_bytes of replies, one read of queries, one partial
 * message) and for all of them (max_buffered_bytes). */
#ifndef DNSORT_DNS_TCP_H
#define DNSORT_DNS_TCP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/queue.h>
#include <uv.h>

#include "dns_forward.h"
#include "dns_stream.h"
#include "dns_stats.h"
#include "dns_zone.h"
#include "net_tcp.h"

#define DNS_TCP_DEFAULT_IDLE_TIMEOUT_MS 10000
#define DNS_TCP_DEFAULT_MAX_CONNECTIONS 1024
/* Replies one connection has not taken yet (handed to uv_write, callback
 * still to come); past it we stop reading its queries until it catches
 * up. */
#define DNS_TCP_DEFAULT_MAX_PENDING_BYTES (64 * 1024)
/* max_pending_bytes is clamped to this, so one write's length always fits
 * the unsigned int of a uv_buf_t. */
#define DNS_TCP_MAX_PENDING_LIMIT (1024 * 1024 * 1024)
/* What all connections together may hold: replies not taken, queries read
 * but not answered yet, partial messages. Past it a connection reads only
 * while it holds less than its fair share (max_buffered_bytes /
 * max_connections, at least DNS_TCP_READ_CHUNK), so a few clients that
 * never read cannot stop the others; all together then hold at most about
 * twice the bound. */
#define DNS_TCP_DEFAULT_MAX_BUFFERED_BYTES (16 * 1024 * 1024)
/* Queries one connection gets answered per turn of the loop, and all of
 * them together: past either, reading waits for a later turn, so the
 * loop comes back to UDP and to the other connections after a bounded
 * amount of work however much a client pipelines. */
#define DNS_TCP_DEFAULT_CONN_QUERIES_PER_TURN 128
#define DNS_TCP_DEFAULT_QUERIES_PER_TURN 2048
/* Bytes read from one connection at a time: about the per-connection
 * count of typical queries (128 x 32 bytes), so that a pipelining client
 * costs one read and one write per turn; what is read past its count
 * waits in the connection's backlog (counted in max_buffered_bytes).
 * Measured (bench/probes/tcp_flood.py and a 6M-query flood): 32 and 512
 * per turn cost twice the CPU per query of 128 and 2048, for no better
 * UDP latency. */
#define DNS_TCP_READ_CHUNK 4096

/* A field left at 0 takes its DNS_TCP_DEFAULT_ value. */
typedef struct {
  uint64_t idle_timeout_ms;
  size_t max_connections;
  size_t max_pending_bytes;
  size_t max_buffered_bytes;
  size_t conn_queries_per_turn;
  size_t queries_per_turn;
  bool reuseport; /* SO_REUSEPORT before bind */
  /* Where names outside the map go (--unknown forward). NULL: they get
   * SERVFAIL. Forwarded replies are written when the upstream answers, so
   * they may overtake replies to later queries (RFC 7766 6.2.1.1 lets
   * them; clients match replies by ID). */
  dns_forward_t *forward;
  /* Who may query (--allow), NULL: everyone. A client outside it is
   * served REFUSED to every query. */
  const net_acl_t *acl;
  /* Optional event log (failed accepts); level 0 error, 1 warn, 2 info,
   * 3 debug. */
  void (*log)(int level, const char *fmt, ...);
  /* Optional warnings that may come in floods, rate-limited by the owner
   * per kind (at most one line a second, the rest counted). */
  void (*warn)(const char *kind, const char *fmt, ...);
} dns_tcp_config_t;

typedef struct dns_tcp {
  /* First: the listener and the connections. Its counters are this
   * service's: accepted, refused (over max_connections), accept_errors
   * (failed accepts, EMFILE..., survived); n_conns is the open ones. */
  net_tcp_t net;
  dns_tcp_config_t cfg;
  /* The zone in service: read at every query, so a swap by the owner
   * takes effect between two queries. */
  const dns_zone_t *const *zone;
  /* Set by the owner when a shutdown starts: queries are answered with
   * dns_zone_answer_draining from then on (the health name fails). */
  bool draining;
  void (*on_close)(struct dns_tcp *);
  dns_stats_t stats; /* replies by qtype and rcode */
  /* Per-query log (--log-queries), NULL when off: called with every reply
   * just before it is sent. */
  void (*log_query)(void *ctx, const dns_query_log_t *q);
  void *log_ctx;
  /* Read to reply: the clock is read when a read's queries are answered
   * and when their replies are handed to uv_write. */
  dns_hist_t duration;
  uint64_t queries;
  uint64_t refused_acl; /* queries from outside cfg.acl */
  uint64_t bad_frames;
  uint64_t dropped; /* complete messages not answered (QR=1...) */
  uint64_t idle_timeouts;
  /* The most reply bytes ever waiting on one connection (handed to
   * uv_write, write callback not yet run): what a client that never reads
   * costs. At most max_pending_bytes plus one reply, because answering
   * stops mid-read once the limit is passed. */
  size_t pending_high_water;
  /* Bytes held for all connections now (see max_buffered_bytes), the most
   * ever, and the most ever held for one connection: its replies, plus at
   * most one read (DNS_TCP_READ_CHUNK) of queries and one partial
   * message. */
  size_t buffered;
  size_t buffered_high_water;
  size_t conn_buffered_high_water;
  /* Times a connection was put off to a later turn of the loop (its
   * per-turn count or the turn's was used up, or the buffer bound
   * reached). */
  uint64_t deferred;

  /* Private. */
  uint64_t read_at;       /* uv_hrtime when this read's answering began */
  size_t read_replies;    /* replies of this read so far */
  uv_prepare_t turn;      /* each turn: a new budget, resume waiters */
  uv_idle_t keep_turning; /* active while connections wait: the loop
                           * polls without blocking */
  TAILQ_HEAD(dns_tcp_waitq, dns_tcp_conn) waiting; /* oldest first */
  uint64_t turn_id;
  size_t n_waiting;
  size_t turn_answered; /* queries answered in this turn */
  size_t fair_share;    /* max_buffered_bytes / max_connections */
  unsigned parts_open;  /* net, turn, keep_turning: on_close runs
                         * when all three are closed */
  /* Shared by every connection: libuv reads into it and calls on_read at
   * once, and each read is answered (or copied to the backlog) before the
   * callback returns. */
  uint8_t read_buf[DNS_TCP_READ_CHUNK];
  uint8_t reply_buf[DNS_STREAM_PREFIX_LEN + DNS_STREAM_MAX_MESSAGE];
} dns_tcp_t;

/* Bind and listen on addr. Returns 0 or a negative libuv error (then the
 * handle is being closed: run the loop before freeing s or starting it
 * again; dns_tcp_close is a no-op). *zone must point at a zone whenever
 * the loop runs. */
int dns_tcp_start(dns_tcp_t *s, uv_loop_t *loop, const struct sockaddr *addr,
                  const dns_zone_t *const *zone, const dns_tcp_config_t *cfg);

/* Close the listener and every connection; on_close (may be NULL) runs
 * once all of them are closed and freed. */
void dns_tcp_close(dns_tcp_t *s, void (*on_close)(dns_tcp_t *));

/* The counters, for metrics and logs (a copy: the owner reads these and
 * never the struct's fields). */
typedef struct {
  dns_stats_t replies; /* by qtype and rcode, TC=1 */
  dns_hist_t duration;
  uint64_t queries; /* complete messages read */
  uint64_t dropped; /* not answered (QR=1...) */
  uint64_t bad_frames;
  uint64_t idle_timeouts;
  uint64_t accepted;
  uint64_t refused; /* over max_connections */
  uint64_t accept_errors;
  uint64_t denied;                 /* connections from outside cfg.acl */
  uint64_t refused_acl;            /* their queries (REFUSED) */
  size_t open;                     /* connections now */
  size_t buffered;                 /* bytes held for clients now */
  size_t buffered_high_water;      /* the most ever */
  size_t conn_buffered_high_water; /* the most ever for one connection */
  uint64_t deferred;               /* connections put off to a later turn */
} dns_tcp_stats_t;

void dns_tcp_stats(const dns_tcp_t *s, dns_tcp_stats_t *out);

#endif
