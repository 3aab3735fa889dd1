#include "dns_forward.h"

#include <arpa/inet.h>
#include <ares.h>
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "net_util.h"

/* Header flags we pass upstream (RFC 1035 4.1.1; AD and CD from RFC
 * 4035). */
#define FLAG_RD 0x0100u
#define FLAG_AD 0x0020u
#define FLAG_CD 0x0010u

/* The OPT record we add to every upstream query (RFC 6891 6.1.2): root
 * owner, TYPE 41, CLASS = our UDP size, TTL = ext-rcode|version|DO|Z,
 * RDLENGTH 0. c-ares' EDNS fallback (an upstream that answers FORMERR
 * without an OPT) cuts exactly these 11 bytes off the end. */
#define OPT_RR_SIZE 11
#define OPT_TTL_DO 0x00008000u
#define UPSTREAM_QUERY_MAX (DNS_HEADER_SIZE + DNS_MAX_NAME + 4 + OPT_RR_SIZE)

/* Each server is tried twice: c-ares doubles the wait on the second round,
 * so a query waits t * n + 2t * n in all, which is why one try gets a third
 * of the budget per server. */
#define ARES_TRIES 2
#define BUDGET_SHARES 3

/* c-ares 1.20 rotates a channel's UDP socket after udp_max_queries
 * queries (ARES_OPT_UDP_MAX_QUERIES); the headers say whether we were
 * built with it, ares_version whether the library we run with has it. */
#ifdef ARES_OPT_UDP_MAX_QUERIES
#define HAVE_ARES_UDP_MAX_QUERIES 1
#else
#define HAVE_ARES_UDP_MAX_QUERIES 0
#endif
#define ARES_VERSION_UDP_MAX_QUERIES 0x011400 /* 1.20.0 */

/* One c-ares channel and what we sent on it. Before c-ares 1.20 a
 * channel keeps one UDP socket (one source port) per server for as long as
 * any of its queries is in flight, and closes its sockets once none is
 * (end_query in ares_process.c: no ARES_FLAG_STAYOPEN); so a channel
 * that has sent udp_max_queries is left to drain while the next queries
 * go to one with nothing in flight, whose next query opens a new socket
 * on a port the kernel picks at random. */
typedef struct fwd_channel {
  ares_channel ares;
  dns_forward_t *f;
  size_t inflight; /* our queries on it */
  size_t sent;     /* since its sockets were opened */
} fwd_channel_t;

typedef struct fwd_socket {
  uv_poll_t poll; /* first: freed with the handle */
  fwd_channel_t *ch;
  ares_socket_t fd;
  struct fwd_socket *next;
} fwd_socket_t;

/* One upstream query in flight and the clients waiting for it. */
typedef struct dns_forward_pending {
  struct dns_forward_pending *chain; /* next in the bucket */
  dns_forward_t *f;
  fwd_channel_t *ch; /* where it was sent */
  uint64_t hash;
  TAILQ_HEAD(, dns_forward_req) waiters;
  uint16_t id;
  uint64_t sent_at;     /* uv_hrtime, for the duration histogram */
  bool refused_at_once; /* ares_send failed inside the call */
  uint16_t key_len;
  uint8_t key[];
} pending_t;

typedef struct {
  ares_socket_t fd; /* ARES_SOCKET_BAD: a free slot */
  int upstream;     /* index, -1: not one of ours */
} sock_upstream_t;

struct dns_forward {
  uv_timer_t timer; /* first: c-ares timeouts, then the close */
  uv_loop_t *loop;
  fwd_channel_t *channels; /* max_channels of them, n_channels made */
  size_t n_channels;
  size_t max_channels;
  size_t current;             /* the channel new queries go to */
  size_t udp_max_queries;     /* rotated by us; 0: by c-ares, or never */
  size_t cfg_udp_max_queries; /* as configured */
  struct ares_addr_port_node servers[DNS_FORWARD_MAX_UPSTREAMS];
  dns_cache_t *cache;
  uint64_t try_timeout_ms;
  size_t max_inflight;
  size_t max_waiters;
  fwd_socket_t *sockets;
  pending_t **buckets;
  size_t mask;
  size_t inflight;
  size_t waiters;
  pending_t *sending; /* the query inside ares_send right now */
  /* Which upstream each c-ares socket is connected to (set in the
   * connect hook): the per-upstream counters and warnings. */
  sock_upstream_t *sock_upstream; /* n_sock_slots of them */
  size_t n_sock_slots;
  size_t sock_slots_used; /* none in use at or past this index */
  struct sockaddr_storage upstreams[DNS_FORWARD_MAX_UPSTREAMS];
  void (*warn)(const char *kind, const char *fmt, ...);
  unsigned handles_open;
  bool closing;
  bool destroyed;
  void (*on_close)(dns_forward_t *, void *);
  void *close_data;
  dns_forward_stats_t stats;
  uint8_t ids_in_use[65536 / 8];
  uint8_t random[256]; /* uv_random output, used 2 bytes a time */
  size_t random_pos;
  uint64_t fallback_state; /* only if uv_random ever fails */
  uint8_t query[UPSTREAM_QUERY_MAX];
  uint8_t reply[DNS_MAX_MESSAGE];
  uint8_t clean[DNS_MAX_MESSAGE]; /* the upstream's answer, checked */
};

void dns_forward_config_default(dns_forward_config_t *cfg) {
  *cfg = (dns_forward_config_t){
      .timeout_ms = DNS_FORWARD_DEFAULT_TIMEOUT_MS,
      .max_inflight = DNS_FORWARD_DEFAULT_MAX_INFLIGHT,
      .cache_size = DNS_FORWARD_DEFAULT_CACHE_SIZE,
      .cache_max_ttl = DNS_FORWARD_DEFAULT_CACHE_MAX_TTL,
      .cache_neg_ttl = DNS_FORWARD_DEFAULT_CACHE_NEG_TTL,
      .udp_max_queries = DNS_FORWARD_DEFAULT_UDP_MAX_QUERIES,
  };
}

/* ---- replies we make ourselves ---- */

/* A recursive server's SERVFAIL: RA=1 (and AA=0, as in every error
 * reply). */
static size_t servfail_for(const dns_query_t *q, size_t limit, uint8_t *out,
                           size_t cap) {
  return dns_build_error(q, DNS_RCODE_SERVFAIL, DNS_RECURSION_AVAILABLE, out,
                         cap, limit);
}

static size_t limit_for(const dns_query_t *q, dns_transport_t transport) {
  return transport == DNS_TRANSPORT_TCP ? DNS_MAX_MESSAGE : dns_udp_limit(q);
}

size_t dns_forward_servfail(const uint8_t *pkt, size_t len,
                            dns_transport_t transport, uint8_t *out,
                            size_t cap) {
  dns_query_t q;
  if (dns_parse_query(pkt, len, &q) == DNS_PARSE_DROP)
    return 0;
  return servfail_for(&q, limit_for(&q, transport), out, cap);
}

/* The query we send: the client's question as spelled, the flags in the
 * key, and our own OPT (see dns_forward.h for why). */
static size_t build_upstream_query(const dns_query_t *q, uint16_t id,
                                   uint8_t *out, size_t cap) {
  size_t n = DNS_HEADER_SIZE + q->question_len + OPT_RR_SIZE;
  if (n > cap)
    return 0;
  dns_put_be16(out, id);
  dns_put_be16(out + 2, (uint16_t)(q->flags & (FLAG_RD | FLAG_AD | FLAG_CD)));
  dns_put_be16(out + 4, 1); /* QDCOUNT */
  dns_put_be16(out + 6, 0);
  dns_put_be16(out + 8, 0);
  dns_put_be16(out + 10, 1); /* ARCOUNT: the OPT */
  memcpy(out + DNS_HEADER_SIZE, q->question, q->question_len);
  uint8_t *opt = out + DNS_HEADER_SIZE + q->question_len;
  opt[0] = 0;
  dns_put_be16(opt + 1, DNS_TYPE_OPT);
  dns_put_be16(opt + 3, DNS_FORWARD_UPSTREAM_EDNS_SIZE);
  dns_put_be32(opt + 5, q->has_edns && q->edns_do ? OPT_TTL_DO : 0);
  dns_put_be16(opt + 9, 0);
  return n;
}

/* ---- query IDs ---- */

static bool id_in_use(const dns_forward_t *f, uint16_t id) {
  return (f->ids_in_use[id >> 3] >> (id & 7)) & 1u;
}

static void id_set(dns_forward_t *f, uint16_t id, bool used) {
  if (used)
    f->ids_in_use[id >> 3] |= (uint8_t)(1u << (id & 7));
  else
    f->ids_in_use[id >> 3] &= (uint8_t) ~(1u << (id & 7));
}

/* splitmix64, only for the case the kernel's generator fails, which
 * getrandom(2) does not do once the system has booted. */
static uint64_t fallback_next(uint64_t *s) {
  uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

static void fill_random(dns_forward_t *f, void *buf, size_t len) {
  if (uv_random(NULL, NULL, buf, len, 0, NULL) == 0)
    return;
  uint8_t *p = buf;
  if (f->fallback_state == 0)
    f->fallback_state = uv_hrtime() ^ (uint64_t)(uintptr_t)f;
  for (size_t i = 0; i < len; i++)
    p[i] = (uint8_t)fallback_next(&f->fallback_state);
}

static uint16_t random_u16(dns_forward_t *f) {
  if (f->random_pos + 2 > sizeof(f->random)) {
    fill_random(f, f->random, sizeof(f->random));
    f->random_pos = 0;
  }
  uint16_t v =
      (uint16_t)(f->random[f->random_pos] << 8 | f->random[f->random_pos + 1]);
  f->random_pos += 2;
  return v;
}

/* An unpredictable ID (answers are matched on it: a guessable one helps
 * spoofing) that no query in flight has. max_inflight keeps most IDs
 * free, so random picks almost always succeed; the scan bounds the rest. */
static uint16_t id_alloc(dns_forward_t *f) {
  uint16_t id = random_u16(f);
  for (int i = 0; i < 8 && id_in_use(f, id); i++)
    id = random_u16(f);
  while (id_in_use(f, id))
    id++;
  id_set(f, id, true);
  return id;
}

/* ---- the table of queries in flight ---- */

static pending_t *pending_find(const dns_forward_t *f, const uint8_t *key,
                               size_t key_len, uint64_t hash) {
  for (pending_t *p = f->buckets[hash & f->mask]; p != NULL; p = p->chain) {
    if (p->hash == hash && p->key_len == key_len &&
        memcmp(p->key, key, key_len) == 0)
      return p;
  }
  return NULL;
}

/* A query to send, with no waiter yet and not in the table. */
static pending_t *pending_new(dns_forward_t *f, const uint8_t *key,
                              size_t key_len, uint64_t hash) {
  pending_t *p = calloc(1, sizeof(*p) + key_len);
  if (p == NULL)
    return NULL;
  TAILQ_INIT(&p->waiters);
  p->f = f;
  p->hash = hash;
  p->key_len = (uint16_t)key_len;
  memcpy(p->key, key, key_len);
  return p;
}

static void pending_unlink(dns_forward_t *f, pending_t *p) {
  pending_t **pp = &f->buckets[p->hash & f->mask];
  while (*pp != p)
    pp = &(*pp)->chain;
  *pp = p->chain;
  id_set(f, p->id, false);
  f->inflight--;
}

static void waiter_attach(pending_t *p, dns_forward_req_t *req) {
  req->pending = p;
  TAILQ_INSERT_TAIL(&p->waiters, req, link);
  p->f->waiters++;
}

static void waiter_detach(dns_forward_req_t *req) {
  pending_t *p = req->pending;
  TAILQ_REMOVE(&p->waiters, req, link);
  req->pending = NULL;
  p->f->waiters--;
}

/* ---- c-ares on the loop ---- */

static void on_timer(uv_timer_t *t);

/* Arm the timer for c-ares' next timeout. ares_timeout walks every query
 * in flight, so this runs when the deadline may have moved earlier, not
 * after every packet (timer_touch). */
static void timer_rearm(dns_forward_t *f) {
  struct timeval tv, *next = NULL;
  if (f->closing)
    return;
  for (size_t i = 0; i < f->n_channels; i++) {
    /* Given a maximum, ares_timeout returns the sooner of the two. */
    if (f->channels[i].inflight > 0)
      next = ares_timeout(f->channels[i].ares, next, &tv);
  }
  if (next == NULL) {
    uv_timer_stop(&f->timer);
    return;
  }
  /* Rounded up: waking before the deadline would only find nothing due
   * and come back. */
  uint64_t ms =
      (uint64_t)tv.tv_sec * 1000 + ((uint64_t)tv.tv_usec + 999) / 1000;
  uv_timer_start(&f->timer, on_timer, ms, 0);
}

/* After c-ares did something: a new try is due at least try_timeout_ms from
 * now, so an armed timer due sooner than that is still right (it fires
 * early at worst, and then rearms). Only a timer that is off, or waiting
 * for a doubled second-round timeout, can be late. */
static void timer_touch(dns_forward_t *f) {
  if (f->closing)
    return;
  if (!uv_is_active((uv_handle_t *)&f->timer) ||
      uv_timer_get_due_in(&f->timer) > f->try_timeout_ms)
    timer_rearm(f);
}

static void on_poll(uv_poll_t *handle, int status, int events) {
  fwd_socket_t *s = container_of(handle, fwd_socket_t, poll);
  fwd_channel_t *ch = s->ch;
  dns_forward_t *f = ch->f;
  ares_socket_t rfd = ARES_SOCKET_BAD, wfd = ARES_SOCKET_BAD;

  /* On a poll error let c-ares find it by reading and writing: it then
   * closes the socket and moves the queries to the next server. */
  if (status < 0 || (events & UV_READABLE))
    rfd = s->fd;
  if (status < 0 || (events & UV_WRITABLE))
    wfd = s->fd;
  /* May close this very socket (sock_state_cb(fd, 0, 0)): s is not used
   * after the call. */
  ares_process_fd(ch->ares, rfd, wfd);
  timer_touch(f);
}

static void maybe_finished(dns_forward_t *f);

static void on_socket_closed(uv_handle_t *h) {
  fwd_socket_t *s = container_of((uv_poll_t *)h, fwd_socket_t, poll);
  dns_forward_t *f = s->ch->f;
  free(s);
  f->handles_open--;
  maybe_finished(f);
}

static fwd_socket_t **socket_slot(dns_forward_t *f, ares_socket_t fd) {
  fwd_socket_t **pp = &f->sockets;
  while (*pp != NULL && (*pp)->fd != fd)
    pp = &(*pp)->next;
  return pp;
}

/* c-ares says which of its sockets to watch for what. (0, 0) comes before
 * it closes the socket, and libuv lets the fd close right after uv_close,
 * so a reused fd number gets a fresh handle (even from another channel:
 * an fd is open in one place at a time). */
static void on_sock_state(void *data, ares_socket_t fd, int readable,
                          int writable) {
  fwd_channel_t *ch = data;
  dns_forward_t *f = ch->f;
  fwd_socket_t **pp = socket_slot(f, fd);
  fwd_socket_t *s = *pp;

  if (!readable && !writable) {
    if (s != NULL) {
      *pp = s->next;
      uv_close((uv_handle_t *)&s->poll, on_socket_closed);
    }
    return;
  }
  if (s == NULL) {
    s = calloc(1, sizeof(*s));
    if (s == NULL || uv_poll_init_socket(f->loop, &s->poll, fd) != 0) {
      /* Unwatched, the socket's queries time out and move on (timer). */
      free(s);
      f->stats.socket_errors++;
      return;
    }
    s->ch = ch;
    s->fd = fd;
    s->next = f->sockets;
    f->sockets = s;
    f->handles_open++;
  }
  int events = (readable ? UV_READABLE : 0) | (writable ? UV_WRITABLE : 0);
  if (uv_poll_start(&s->poll, events, on_poll) != 0)
    f->stats.socket_errors++;
}

/* ---- answers ---- */

static void reply_to(dns_forward_t *f, dns_forward_req_t *req,
                     dns_cache_verdict_t verdict, const uint8_t *answer,
                     size_t answer_len, const pending_t *p) {
  size_t n = 0;
  if (verdict == DNS_CACHE_STORED)
    n = dns_cache_answer(f->cache, p->key, p->key_len, &req->query, req->limit,
                         uv_now(f->loop), f->reply, sizeof(f->reply));
  if (n == 0 && verdict != DNS_CACHE_INVALID && answer != NULL)
    n = dns_cache_relay(answer, answer_len, &req->query, req->limit, f->reply,
                        sizeof(f->reply));
  if (n == 0) {
    n = servfail_for(&req->query, req->limit, f->reply, sizeof(f->reply));
    f->stats.servfails++;
  }
  req->cb(req, f->reply, n);
}

/* ---- which upstream: c-ares' socket calls, counted per server ---- */

/* The socket's slot; with add, a free one taken when it has none. NULL
 * when full: that socket is then simply not counted. */
static sock_upstream_t *sock_slot(dns_forward_t *f, ares_socket_t fd,
                                  bool add) {
  for (size_t i = 0; i < f->sock_slots_used; i++) {
    if (f->sock_upstream[i].fd == fd)
      return &f->sock_upstream[i];
  }
  /* The first free slot, so those in use stay near the front and the
   * search above short. */
  for (size_t i = 0; add && i < f->n_sock_slots; i++) {
    if (f->sock_upstream[i].fd == ARES_SOCKET_BAD) {
      f->sock_upstream[i].fd = fd;
      if (i >= f->sock_slots_used)
        f->sock_slots_used = i + 1;
      return &f->sock_upstream[i];
    }
  }
  return NULL;
}

static dns_forward_upstream_stats_t *upstream_of(dns_forward_t *f,
                                                 ares_socket_t fd) {
  sock_upstream_t *s = sock_slot(f, fd, false);
  if (s == NULL || s->upstream < 0)
    return NULL;
  return &f->stats.upstream[s->upstream];
}

static bool same_server(const struct sockaddr *a,
                        const struct sockaddr_storage *b) {
  if (a->sa_family != b->ss_family)
    return false;
  if (a->sa_family == AF_INET) {
    const struct sockaddr_in *x = (const void *)a, *y = (const void *)b;
    return x->sin_port == y->sin_port &&
           x->sin_addr.s_addr == y->sin_addr.s_addr;
  }
  const struct sockaddr_in6 *x = (const void *)a, *y = (const void *)b;
  return x->sin6_port == y->sin6_port &&
         memcmp(&x->sin6_addr, &y->sin6_addr, sizeof(x->sin6_addr)) == 0;
}

/* c-ares leaves a socket it did not create alone (no O_NONBLOCK, no
 * FD_CLOEXEC): both are asked for here. */
static ares_socket_t sock_open(int domain, int type, int protocol, void *data) {
  (void)data;
  return socket(domain, type | SOCK_NONBLOCK | SOCK_CLOEXEC, protocol);
}

static int sock_close(ares_socket_t fd, void *data) {
  dns_forward_t *f = data;
  sock_upstream_t *s = sock_slot(f, fd, false);
  if (s != NULL)
    s->fd = ARES_SOCKET_BAD;
  return close(fd);
}

static int sock_connect(ares_socket_t fd, const struct sockaddr *addr,
                        ares_socklen_t len, void *data) {
  dns_forward_t *f = data;
  sock_upstream_t *s = sock_slot(f, fd, true);
  if (s != NULL) {
    s->upstream = -1;
    for (size_t i = 0; i < f->stats.n_upstreams; i++) {
      if (same_server(addr, &f->upstreams[i]))
        s->upstream = (int)i;
    }
  }
  return connect(fd, addr, len);
}

/* errno is c-ares' to read after these return: kept as the call left it. */
static ares_ssize_t sock_recvfrom(ares_socket_t fd, void *buf, size_t len,
                                  int flags, struct sockaddr *from,
                                  ares_socklen_t *from_len, void *data) {
  dns_forward_t *f = data;
  ares_ssize_t n = recvfrom(fd, buf, len, flags, from, from_len);
  int err = errno;
  dns_forward_upstream_stats_t *u = upstream_of(f, fd);
  if (u != NULL && n > 0) {
    u->responses++;
    u->unanswered = 0;
  } else if (u != NULL && n < 0 && err != EAGAIN && err != EWOULDBLOCK &&
             err != EINTR) {
    u->errors++;
    u->unanswered = 0;
    if (f->warn != NULL)
      f->warn("upstream", "upstream %s failed: %s (%" PRIu64 " errors so far)",
              u->name, strerror(err), u->errors);
  }
  errno = err;
  return n;
}

static ares_ssize_t sock_sendv(ares_socket_t fd, const struct iovec *iov,
                               int iovcnt, void *data) {
  dns_forward_t *f = data;
  ares_ssize_t n = writev(fd, iov, iovcnt);
  int err = errno;
  dns_forward_upstream_stats_t *u = upstream_of(f, fd);
  if (u != NULL && n > 0) {
    u->requests++;
    u->unanswered++;
  }
  errno = err;
  return n;
}

static const struct ares_socket_functions sock_funcs = {
    .asocket = sock_open,
    .aclose = sock_close,
    .aconnect = sock_connect,
    .arecvfrom = sock_recvfrom,
    .asendv = sock_sendv,
};

/* A query that failed everywhere: say why, and name the upstreams that
 * have sent nothing back since they were last asked (c-ares does not say
 * which server timed out). */
static void warn_failure(dns_forward_t *f, int status, int timeouts) {
  if (f->warn == NULL)
    return;
  char silent[DNS_FORWARD_MAX_UPSTREAMS * 80] = "";
  size_t used = 0;
  for (size_t i = 0; i < f->stats.n_upstreams && used < sizeof(silent); i++) {
    const dns_forward_upstream_stats_t *u = &f->stats.upstream[i];
    if (u->unanswered > 0)
      used += (size_t)snprintf(silent + used, sizeof(silent) - used,
                               "%s%s (%" PRIu64 " unanswered)",
                               used > 0 ? ", " : "", u->name, u->unanswered);
  }
  f->warn("upstream",
          "upstream query failed: %s after %d timeout(s), SERVFAIL to the "
          "client; silent upstreams: %s",
          ares_strerror(status), timeouts, used > 0 ? silent : "none");
}

/* c-ares' query callback. Runs from ares_process_fd (an answer, a
 * timeout), from ares_destroy (ARES_EDESTRUCTION), or from inside
 * ares_send when the query cannot even start. */
static void on_answer(void *arg, int status, int timeouts, unsigned char *abuf,
                      int alen) {
  pending_t *p = arg;
  dns_forward_t *f = p->f;

  if (p == f->sending) {
    /* dns_forward_send undoes everything once ares_send returns: callers
     * are promised no callback from inside the send. */
    p->refused_at_once = true;
    return;
  }
  pending_unlink(f, p);
  dns_hist_observe(&f->stats.duration, (uv_hrtime() - p->sent_at) / 1000, 1);
  /* With none of its queries left, c-ares closes the channel's sockets
   * right after this callback: its next query starts a fresh socket. */
  if (--p->ch->inflight == 0)
    p->ch->sent = 0;

  /* Nothing of an answer is kept or relayed before dns_cache_check has
   * read all of it strictly and left out what does not answer our
   * question; from then on only its copy in f->clean is used. */
  dns_cache_verdict_t verdict = DNS_CACHE_INVALID;
  const uint8_t *answer = NULL;
  size_t answer_len = 0;
  if (status == ARES_SUCCESS && abuf != NULL && alen > 0) {
    size_t dropped = 0;
    if (dns_cache_check(f->cache, p->key, p->key_len, abuf, (size_t)alen,
                        f->clean, sizeof(f->clean), &answer_len,
                        &dropped) == DNS_CACHE_CLEAN) {
      answer = f->clean;
      f->stats.dropped_records += dropped;
      verdict = dns_cache_store(f->cache, p->key, p->key_len, answer,
                                answer_len, uv_now(f->loop));
    }
    if (verdict == DNS_CACHE_INVALID)
      f->stats.invalid_answers++;
    else
      f->stats.upstream_answers++;
  } else {
    f->stats.upstream_failures++;
    if (status != ARES_EDESTRUCTION && status != ARES_ECANCELLED)
      warn_failure(f, status, timeouts);
  }

  /* One at a time from the head: a callback may cancel other requests of
   * this same query (a TCP connection that fails closes with all of its
   * queries), and those must simply leave the list. */
  dns_forward_req_t *req;
  while ((req = TAILQ_FIRST(&p->waiters)) != NULL) {
    waiter_detach(req);
    reply_to(f, req, verdict, answer, answer_len, p);
  }
  free(p);
}

/* ---- which channel a query goes to ---- */

static int channel_init(dns_forward_t *f, fwd_channel_t *ch);

/* The current channel, until it has sent udp_max_queries on its sockets;
 * then the next one with nothing in flight, or a new one while there are
 * fewer than max_channels (made as needed: a channel costs about 72 KiB
 * in c-ares 1.18, so the pool grows only as far as the queries in flight
 * at once take it). With every channel busy the queries go round them
 * past the bound (counted). */
static fwd_channel_t *channel_for_send(dns_forward_t *f) {
  fwd_channel_t *ch = &f->channels[f->current];
  if (f->udp_max_queries == 0 || ch->sent < f->udp_max_queries)
    return ch;
  for (size_t i = 1; i < f->n_channels; i++) {
    size_t k = (f->current + i) % f->n_channels;
    if (f->channels[k].inflight == 0) {
      f->current = k;
      f->channels[k].sent = 0;
      return &f->channels[k];
    }
  }
  if (f->n_channels < f->max_channels &&
      channel_init(f, &f->channels[f->n_channels]) == 0) {
    f->current = f->n_channels++;
    return &f->channels[f->current];
  }
  /* Spread over all of them, so that no one socket takes the rest. */
  f->stats.port_overruns++;
  f->current = (f->current + 1) % f->n_channels;
  return &f->channels[f->current];
}

/* ---- the public calls ---- */

static uint64_t now_ms(const dns_forward_t *f) {
  return uv_now(f->loop);
}

dns_forward_result_t dns_forward_lookup(dns_forward_t *f,
                                        dns_transport_t transport,
                                        const uint8_t *pkt, size_t len,
                                        uint8_t *out, size_t cap,
                                        size_t *out_len) {
  dns_query_t q;
  uint8_t key[DNS_CACHE_KEY_MAX];

  *out_len = 0;
  dns_parse_t parsed = dns_parse_query(pkt, len, &q);
  if (parsed == DNS_PARSE_DROP)
    return DNS_FORWARD_DROP;
  f->stats.queries++;
  size_t limit = limit_for(&q, transport);
  /* The zone forwards only well-formed queries; anything else gets
   * SERVFAIL rather than a guess. */
  size_t key_len = parsed == DNS_PARSE_OK ? dns_cache_key(&q, key) : 0;
  if (key_len > 0) {
    size_t n = dns_cache_answer(f->cache, key, key_len, &q, limit, now_ms(f),
                                out, cap);
    if (n > 0) {
      f->stats.cache_hits++;
      *out_len = n;
      return DNS_FORWARD_REPLY;
    }
    if (!f->closing && f->waiters < f->max_waiters) {
      uint64_t hash = dns_cache_hash(f->cache, key, key_len);
      if (f->inflight < f->max_inflight ||
          pending_find(f, key, key_len, hash) != NULL)
        return DNS_FORWARD_MISS;
    }
    f->stats.overloaded++;
  }
  f->stats.servfails++;
  *out_len = servfail_for(&q, limit, out, cap);
  return *out_len > 0 ? DNS_FORWARD_REPLY : DNS_FORWARD_DROP;
}

int dns_forward_send(dns_forward_t *f, dns_forward_req_t *req,
                     dns_transport_t transport, const uint8_t *pkt, size_t len,
                     dns_forward_cb cb) {
  dns_query_t q;
  uint8_t key[DNS_CACHE_KEY_MAX];

  if (f->closing)
    return UV_ECANCELED;
  if (dns_parse_query(pkt, len, &q) != DNS_PARSE_OK || !q.has_question ||
      q.question_len > sizeof(req->question))
    return UV_EINVAL;
  size_t key_len = dns_cache_key(&q, key);
  if (key_len == 0)
    return UV_EINVAL;
  if (f->waiters >= f->max_waiters)
    return UV_EBUSY;
  uint64_t hash = dns_cache_hash(f->cache, key, key_len);
  pending_t *p = pending_find(f, key, key_len, hash);
  if (p == NULL && f->inflight >= f->max_inflight)
    return UV_EBUSY;

  /* The client's query stays readable after its packet buffer is reused. */
  memset(req, 0, sizeof(*req));
  req->cb = cb;
  req->query = q;
  memcpy(req->question, q.question, q.question_len);
  req->query.question = req->question;
  req->limit = limit_for(&q, transport);

  if (p != NULL) {
    waiter_attach(p, req);
    f->stats.coalesced++;
    return 0;
  }

  p = pending_new(f, key, key_len, hash);
  if (p == NULL)
    return UV_ENOMEM;
  p->id = id_alloc(f);
  size_t qlen = build_upstream_query(&q, p->id, f->query, sizeof(f->query));

  size_t b = hash & f->mask;
  p->chain = f->buckets[b];
  f->buckets[b] = p;
  f->inflight++;
  waiter_attach(p, req);

  p->ch = channel_for_send(f);
  f->sending = p;
  p->sent_at = uv_hrtime();
  ares_send(p->ch->ares, f->query, (int)qlen, on_answer, p);
  f->sending = NULL;
  if (p->refused_at_once) {
    /* Out of memory in c-ares, or no server could even be written to. */
    waiter_detach(req);
    pending_unlink(f, p);
    free(p);
    f->stats.upstream_failures++;
    return UV_EIO;
  }
  p->ch->inflight++;
  p->ch->sent++;
  f->stats.upstream_queries++;
  timer_touch(f);
  return 0;
}

void dns_forward_cancel(dns_forward_req_t *req) {
  if (req->pending == NULL)
    return;
  req->pending->f->stats.cancelled++;
  waiter_detach(req);
}

void dns_forward_flush(dns_forward_t *f) {
  dns_cache_flush(f->cache);
}

void dns_forward_stats(const dns_forward_t *f, dns_forward_stats_t *out) {
  *out = f->stats;
  out->inflight = f->inflight;
  out->waiters = f->waiters;
  dns_cache_stats(f->cache, &out->cache);
}

/* ---- start and stop ---- */

static int ares_to_uv(int status) {
  switch (status) {
  case ARES_SUCCESS:
    return 0;
  case ARES_ENOMEM:
    return UV_ENOMEM;
  case ARES_EBADFAMILY:
  case ARES_EBADSTR:
    return UV_EINVAL;
  default:
    return UV_EIO;
  }
}

/* "127.0.0.1:53", "[::1]:53": the upstream label and log name. */
static void format_server(const struct sockaddr_storage *ss, char *out,
                          size_t cap) {
  char ip[INET6_ADDRSTRLEN] = "?";
  if (ss->ss_family == AF_INET6) {
    const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)ss;
    inet_ntop(AF_INET6, &in6->sin6_addr, ip, sizeof(ip));
    snprintf(out, cap, "[%s]:%u", ip, ntohs(in6->sin6_port));
  } else {
    const struct sockaddr_in *in4 = (const struct sockaddr_in *)ss;
    inet_ntop(AF_INET, &in4->sin_addr, ip, sizeof(ip));
    snprintf(out, cap, "%s:%u", ip, ntohs(in4->sin_port));
  }
}

/* The upstreams as c-ares takes them, kept for every channel made later. */
static int servers_from(dns_forward_t *f, const dns_forward_config_t *cfg) {
  struct ares_addr_port_node *nodes = f->servers;

  memset(f->servers, 0, sizeof(f->servers));
  for (size_t i = 0; i < cfg->n_upstreams; i++) {
    const struct sockaddr_storage *ss = &cfg->upstreams[i];
    struct ares_addr_port_node *n = &nodes[i];
    n->next = i + 1 < cfg->n_upstreams ? &nodes[i + 1] : NULL;
    if (ss->ss_family == AF_INET) {
      const struct sockaddr_in *in4 = (const struct sockaddr_in *)ss;
      n->family = AF_INET;
      memcpy(&n->addr.addr4, &in4->sin_addr, sizeof(in4->sin_addr));
      n->udp_port = n->tcp_port = ntohs(in4->sin_port);
    } else if (ss->ss_family == AF_INET6) {
      const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)ss;
      n->family = AF_INET6;
      memcpy(&n->addr.addr6, &in6->sin6_addr, sizeof(in6->sin6_addr));
      n->udp_port = n->tcp_port = ntohs(in6->sin6_port);
    } else {
      return UV_EINVAL;
    }
  }
  return 0;
}

bool dns_forward_cares_rotates(void) {
  int version = 0;
  ares_version(&version);
  return HAVE_ARES_UDP_MAX_QUERIES && version >= ARES_VERSION_UDP_MAX_QUERIES;
}

/* ares_send takes our bytes as they are, so search, aliases and the like
 * do not apply; ARES_FLAG_EDNS is what lets an answer up to
 * DNS_FORWARD_UPSTREAM_EDNS_SIZE count as complete over UDP (without it
 * c-ares treats anything over 512 bytes as truncated). Everything
 * resolv.conf could say is given (the servers as a placeholder, replaced
 * at once by ares_set_servers_ports, which takes ports and IPv6), so
 * c-ares 1.18 does not read it (ARES_CONFIG_CHECK in ares_init.c): a pool
 * channel may be made on the loop thread. */
static int channel_init(dns_forward_t *f, fwd_channel_t *ch) {
  static char lookups[] = "b";
  struct in_addr placeholder = {htonl(INADDR_LOOPBACK)};
  struct ares_options opts;
  memset(&opts, 0, sizeof(opts));
  opts.flags = ARES_FLAG_EDNS | ARES_FLAG_NOSEARCH | ARES_FLAG_NOALIASES;
  opts.timeout = (int)f->try_timeout_ms;
  opts.tries = ARES_TRIES;
  opts.ndots = 1;
  opts.ednspsz = DNS_FORWARD_UPSTREAM_EDNS_SIZE;
  opts.sock_state_cb = on_sock_state;
  opts.sock_state_cb_data = ch;
  opts.servers = &placeholder;
  opts.nservers = 1;
  opts.lookups = lookups;
  int mask = ARES_OPT_FLAGS | ARES_OPT_TIMEOUTMS | ARES_OPT_TRIES |
             ARES_OPT_NDOTS | ARES_OPT_EDNSPSZ | ARES_OPT_SOCK_STATE_CB |
             ARES_OPT_SERVERS | ARES_OPT_DOMAINS | ARES_OPT_LOOKUPS |
             ARES_OPT_SORTLIST;
#ifdef ARES_OPT_QUERY_CACHE
  /* c-ares >= 1.23 caches answers itself, on by default: ours is the one
   * cache (bounded, flushed on SIGHUP, counted in metrics), so a query
   * must always reach the upstream. A max TTL of 0 turns c-ares' off. */
  opts.qcache_max_ttl = 0;
  mask |= ARES_OPT_QUERY_CACHE;
#endif
#if HAVE_ARES_UDP_MAX_QUERIES
  if (f->udp_max_queries == 0 && f->cfg_udp_max_queries > 0) {
    opts.udp_max_queries = (int)f->cfg_udp_max_queries;
    mask |= ARES_OPT_UDP_MAX_QUERIES;
  }
#endif
  memset(ch, 0, sizeof(*ch));
  ch->f = f;
  int rc = ares_to_uv(ares_init_options(&ch->ares, &opts, mask));
  if (rc == 0)
    rc = ares_to_uv(ares_set_servers_ports(ch->ares, f->servers));
  if (rc == 0)
    ares_set_socket_functions(ch->ares, &sock_funcs, f);
  if (rc != 0 && ch->ares != NULL) {
    ares_destroy(ch->ares);
    ch->ares = NULL;
  }
  return rc;
}

static bool config_valid(const dns_forward_config_t *cfg) {
  return cfg->n_upstreams > 0 &&
         cfg->n_upstreams <= DNS_FORWARD_MAX_UPSTREAMS &&
         cfg->max_inflight > 0 &&
         cfg->max_inflight <= DNS_FORWARD_MAX_INFLIGHT && cfg->timeout_ms > 0 &&
         cfg->udp_max_queries <= DNS_FORWARD_MAX_UDP_MAX_QUERIES;
}

/* The sizes the configuration fixes; nothing is allocated yet. */
static void limits_from(dns_forward_t *f, const dns_forward_config_t *cfg) {
  f->max_inflight = cfg->max_inflight;
  f->max_waiters = cfg->max_inflight * DNS_FORWARD_WAITERS_PER_QUERY;
  if (f->max_waiters < DNS_FORWARD_MIN_WAITERS)
    f->max_waiters = DNS_FORWARD_MIN_WAITERS;
  f->try_timeout_ms = cfg->timeout_ms / (BUDGET_SHARES * cfg->n_upstreams);
  if (f->try_timeout_ms == 0)
    f->try_timeout_ms = 1;
  f->random_pos = sizeof(f->random); /* filled at the first use */
  f->warn = cfg->warn;

  /* c-ares >= 1.20 rotates the socket itself: one channel. Before, a pool
   * of channels, enough for max_inflight at udp_max_queries each (bounded
   * by DNS_FORWARD_MAX_CHANNELS); the first is made now (it checks the
   * servers), the others when the queries in flight need them. */
  f->max_channels = 1;
  f->cfg_udp_max_queries = cfg->udp_max_queries;
  if (cfg->udp_max_queries > 0 &&
      (cfg->own_rotation || !dns_forward_cares_rotates())) {
    f->udp_max_queries = cfg->udp_max_queries;
    f->max_channels =
        (cfg->max_inflight + cfg->udp_max_queries - 1) / cfg->udp_max_queries +
        1;
    if (f->max_channels > DNS_FORWARD_MAX_CHANNELS)
      f->max_channels = DNS_FORWARD_MAX_CHANNELS;
  }
  /* Each channel's sockets: a UDP one per server, and a TCP one for a
   * truncated answer. */
  f->n_sock_slots = 2 * cfg->n_upstreams * f->max_channels;
}

/* What limits_from sized; on failure, forward_free frees what was made. */
static int tables_alloc(dns_forward_t *f, const dns_forward_config_t *cfg) {
  dns_cache_config_t cache_cfg = {
      .max_entries = cfg->cache_size,
      .max_ttl = cfg->cache_max_ttl,
      .neg_ttl = cfg->cache_neg_ttl,
  };
  fill_random(f, cache_cfg.hash_key, sizeof(cache_cfg.hash_key));
  f->cache = dns_cache_new(&cache_cfg);
  if (f->cache == NULL)
    return UV_ENOMEM;

  /* Twice the in-flight bound, a power of two: chains stay short. */
  size_t n_buckets = 16;
  while (n_buckets < 2 * f->max_inflight)
    n_buckets <<= 1;
  f->buckets = calloc(n_buckets, sizeof(*f->buckets));
  if (f->buckets == NULL)
    return UV_ENOMEM;
  f->mask = n_buckets - 1;

  f->channels = calloc(f->max_channels, sizeof(*f->channels));
  f->sock_upstream = calloc(f->n_sock_slots, sizeof(*f->sock_upstream));
  if (f->channels == NULL || f->sock_upstream == NULL)
    return UV_ENOMEM;
  for (size_t i = 0; i < f->n_sock_slots; i++)
    f->sock_upstream[i].fd = ARES_SOCKET_BAD;
  return 0;
}

/* The one free path: after dns_forward_close (channels already destroyed)
 * and on a dns_forward_new that failed part way (library: whether
 * ares_library_init had succeeded). */
static void forward_free(dns_forward_t *f, bool library) {
  for (size_t i = 0; f->channels != NULL && i < f->n_channels; i++) {
    if (f->channels[i].ares != NULL)
      ares_destroy(f->channels[i].ares);
  }
  free(f->channels);
  free(f->sock_upstream);
  if (library)
    ares_library_cleanup();
  free(f->buckets);
  dns_cache_free(f->cache);
  free(f);
}

int dns_forward_new(uv_loop_t *loop, const dns_forward_config_t *cfg,
                    dns_forward_t **out) {
  bool library = false;
  int rc;

  *out = NULL;
  if (!config_valid(cfg))
    return UV_EINVAL;
  dns_forward_t *f = calloc(1, sizeof(*f));
  if (f == NULL)
    return UV_ENOMEM;
  f->loop = loop;
  limits_from(f, cfg);
  rc = tables_alloc(f, cfg);
  if (rc != 0)
    goto fail;

  rc = ares_to_uv(ares_library_init(ARES_LIB_INIT_ALL));
  if (rc != 0)
    goto fail;
  library = true;

  f->stats.n_upstreams = cfg->n_upstreams;
  for (size_t i = 0; i < cfg->n_upstreams; i++) {
    f->upstreams[i] = cfg->upstreams[i];
    format_server(&cfg->upstreams[i], f->stats.upstream[i].name,
                  sizeof(f->stats.upstream[i].name));
  }
  rc = servers_from(f, cfg);
  if (rc == 0)
    rc = channel_init(f, &f->channels[0]);
  if (rc != 0)
    goto fail;
  f->n_channels = 1;

  /* Last, because it cannot fail on unix: no handle is ever left to close
   * on the failure paths above. */
  uv_timer_init(loop, &f->timer);
  f->handles_open = 1;
  *out = f;
  return 0;

fail:
  forward_free(f, library);
  return rc;
}

static void maybe_finished(dns_forward_t *f) {
  if (!f->closing || f->handles_open > 0)
    return;
  void (*cb)(dns_forward_t *, void *) = f->on_close;
  void *data = f->close_data;
  if (cb != NULL)
    cb(f, data);
  forward_free(f, true);
}

static void on_timer_closed(uv_handle_t *h) {
  dns_forward_t *f = container_of((uv_timer_t *)h, dns_forward_t, timer);
  f->handles_open--;
  maybe_finished(f);
}

/* ares_destroy answers every query in flight (ARES_EDESTRUCTION: their
 * clients get SERVFAIL) and reports each socket closed, which closes its
 * poll handle; the timer goes last. */
static void finish_close(dns_forward_t *f) {
  if (f->destroyed)
    return;
  f->destroyed = true;
  for (size_t i = 0; i < f->n_channels; i++) {
    ares_destroy(f->channels[i].ares);
    f->channels[i].ares = NULL;
  }
  while (f->sockets != NULL) {
    fwd_socket_t *s = f->sockets;
    f->sockets = s->next;
    uv_close((uv_handle_t *)&s->poll, on_socket_closed);
  }
  uv_close((uv_handle_t *)&f->timer, on_timer_closed);
}

static void on_timer(uv_timer_t *t) {
  dns_forward_t *f = container_of(t, dns_forward_t, timer);
  if (f->closing) {
    finish_close(f);
    return;
  }
  for (size_t i = 0; i < f->n_channels; i++) {
    if (f->channels[i].inflight > 0)
      ares_process_fd(f->channels[i].ares, ARES_SOCKET_BAD, ARES_SOCKET_BAD);
  }
  timer_rearm(f);
}

void dns_forward_close(dns_forward_t *f,
                       void (*on_close)(dns_forward_t *f, void *data),
                       void *data) {
  if (f->closing)
    return;
  f->closing = true;
  f->on_close = on_close;
  f->close_data = data;
  /* We may be inside a c-ares callback right now (a reply handler that
   * decided to stop): destroying the channel there is the double free of
   * c-ares/c-ares#347. A zero timeout runs finish_close from the loop. */
  uv_timer_start(&f->timer, on_timer, 0, 0);
}
