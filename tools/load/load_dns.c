/* The DNS back-end: queries over a few connected UDP sockets, each with
 * its own 16-bit ID space. The ID is the index of the query's slot, so a
 * reply finds its query in O(1); freed IDs go to the back of a queue, so an
 * ID comes back into use as late as possible and a reply arriving after
 * its query timed out is very unlikely to meet a new query with its ID (it
 * is counted as stray instead, and the question is checked anyway). */
#include "load_dns.h"

#include <stdlib.h>
#include <string.h>

#include "load_payload.h"

#define container_of(ptr, type, member) ((type *)((char *)(ptr)-offsetof(type, member)))

#define IDS 65536
/* Enough socket buffer for a burst of a few thousand queries and replies:
 * a drop here would be blamed on the server as a timeout. */
#define SOCKET_BUFFER (1 << 20)

typedef struct load_dns_sock load_dns_sock_t;

typedef struct {
  load_req_t req;
  load_dns_sock_t *sock;
  uint16_t query; /* index into load_dns_t.queries */
  bool in_use;
} dns_slot_t;

struct load_dns_sock {
  uv_udp_t udp;
  load_gen_t *gen;
  dns_slot_t *slots;  /* IDS of them; index = DNS ID */
  uint16_t *free_ids; /* a ring of IDS entries */
  size_t free_head, free_count;
  bool inited; /* uv_udp_init done: needs uv_close */
};

typedef struct {
  load_dns_query_t queries[16];
  size_t nqueries;
  size_t next_query;
  load_dns_sock_t *socks;
  unsigned nsocks;
  unsigned next_sock;
  uint8_t rbuf[65536]; /* replies are checked in the callback: one
                          buffer serves every socket */
} load_dns_t;

/* A query that did not fit the socket at once, with its own copy of the
 * bytes: the slot may time out and be reused before the send completes. */
typedef struct {
  uv_udp_send_t send;
  uint8_t bytes[LOAD_DNS_QUERY_MAX];
} dns_send_t;

static void release(dns_slot_t *slot) {
  load_dns_sock_t *sock = slot->sock;
  uint16_t id = (uint16_t)(slot - sock->slots);
  slot->in_use = false;
  sock->free_ids[(sock->free_head + sock->free_count) % IDS] = id;
  sock->free_count++;
}

static void finish(dns_slot_t *slot, load_result_t result, bool replied) {
  load_gen_end(slot->sock->gen, &slot->req, result, replied);
  release(slot);
}

static load_result_t socket_error_result(int err) {
  /* On a connected UDP socket, ICMP port unreachable surfaces as
   * ECONNREFUSED on the next send or receive. */
  return err == UV_ECONNREFUSED ? LOAD_CONNECT_REFUSED : LOAD_IO_ERROR;
}

static void on_send(uv_udp_send_t *req, int status) {
  dns_send_t *s = container_of(req, dns_send_t, send);
  /* A failure here has no query to blame any more (it may have timed out
   * already); the query will time out, or its reply arrive anyway. */
  free(s);
  (void)status;
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf) {
  load_dns_sock_t *sock = container_of(h, load_dns_sock_t, udp);
  load_dns_t *d = load_gen_backend(sock->gen);
  (void)suggested;
  buf->base = (char *)d->rbuf;
  buf->len = sizeof(d->rbuf);
}

/* An error on the socket belongs to no particular query: charge it to the
 * oldest one sent on this socket, which is the likeliest cause. */
static void charge_oldest(load_dns_sock_t *sock, int err) {
  for (load_req_t *r = load_gen_oldest(sock->gen); r != NULL; r = load_gen_next(sock->gen, r)) {
    dns_slot_t *slot = container_of(r, dns_slot_t, req);
    if (slot->sock == sock) {
      load_gen_note(sock->gen, "%s: %s", load_result_name(socket_error_result(err)),
                    uv_strerror(err));
      finish(slot, socket_error_result(err), false);
      return;
    }
  }
}

static void on_recv(uv_udp_t *h, ssize_t nread, const uv_buf_t *buf, const struct sockaddr *addr,
                    unsigned flags) {
  load_dns_sock_t *sock = container_of(h, load_dns_sock_t, udp);
  load_dns_t *d = load_gen_backend(sock->gen);
  (void)flags;
  (void)addr;
  if (nread == 0)
    return; /* nothing to read (or an empty datagram: not a reply) */
  if (nread < 0) {
    charge_oldest(sock, (int)nread);
    return;
  }
  const uint8_t *pkt = (const uint8_t *)buf->base;
  if (nread < 2) {
    load_gen_stray(sock->gen);
    return;
  }
  uint16_t id = (uint16_t)((pkt[0] << 8) | pkt[1]);
  dns_slot_t *slot = &sock->slots[id];
  if (!slot->in_use) {
    load_gen_stray(sock->gen);
    return;
  }
  load_dns_expect_t exp = load_dns_query_expect(&d->queries[slot->query], id);
  load_dns_result_t r = load_check_dns(pkt, (size_t)nread, &exp);
  if (r == LOAD_DNS_OK) {
    finish(slot, LOAD_OK, true);
    return;
  }
  load_result_t kind = r == LOAD_DNS_RCODE ? LOAD_ERROR_REPLY : LOAD_WRONG_REPLY;
  load_gen_note(sock->gen, "%s: %s for %s (RCODE %u)", load_result_name(kind),
                load_dns_result_name(r), d->queries[slot->query].name->name,
                nread >= 4 ? (unsigned)(pkt[3] & 0x0f) : 0u);
  finish(slot, kind, true);
}

static void dns_start(load_gen_t *g, uint64_t intended_ns) {
  load_dns_t *d = load_gen_backend(g);
  load_dns_sock_t *sock = &d->socks[d->next_sock++ % d->nsocks];
  if (sock->free_count == 0) {
    /* 65536 queries in flight on this socket: as good as overloaded. */
    load_req_t tmp;
    load_gen_begin(g, &tmp, intended_ns);
    load_gen_end(g, &tmp, LOAD_OVERLOAD, false);
    return;
  }
  uint16_t id = sock->free_ids[sock->free_head];
  sock->free_head = (sock->free_head + 1) % IDS;
  sock->free_count--;

  dns_slot_t *slot = &sock->slots[id];
  slot->in_use = true;
  slot->query = (uint16_t)(d->next_query++ % d->nqueries);
  load_gen_begin(g, &slot->req, intended_ns);

  const load_dns_query_t *q = &d->queries[slot->query];
  uint8_t pkt[LOAD_DNS_QUERY_MAX];
  memcpy(pkt, q->bytes, q->len);
  pkt[0] = (uint8_t)(id >> 8);
  pkt[1] = (uint8_t)id;
  uv_buf_t b = uv_buf_init((char *)pkt, (unsigned)q->len);
  int rc = uv_udp_try_send(&sock->udp, &b, 1, NULL);
  if (rc >= 0)
    return;
  if (rc == UV_EAGAIN) {
    /* The socket buffer is full, or sends are already queued (libuv 1.44
     * refuses try_send then): queue a copy. */
    dns_send_t *s = malloc(sizeof(*s));
    if (s == NULL) {
      rc = UV_ENOMEM;
    } else {
      memcpy(s->bytes, pkt, q->len);
      b = uv_buf_init((char *)s->bytes, (unsigned)q->len);
      rc = uv_udp_send(&s->send, &sock->udp, &b, 1, NULL, on_send);
      if (rc == 0)
        return;
      free(s);
    }
  }
  load_gen_note(g, "%s: send: %s", load_result_name(socket_error_result(rc)), uv_strerror(rc));
  finish(slot, socket_error_result(rc), false);
}

static void dns_abandon(load_gen_t *g, load_req_t *r) {
  (void)g;
  release(container_of(r, dns_slot_t, req));
}

static int sock_open(load_dns_sock_t *sock, uv_loop_t *loop, const struct sockaddr *server) {
  int rc = uv_udp_init(loop, &sock->udp);
  if (rc != 0)
    return rc;
  sock->inited = true;
  rc = uv_udp_connect(&sock->udp, server);
  if (rc != 0)
    return rc;
  int size = SOCKET_BUFFER;
  /* Best effort: the kernel may clamp it, and the default still works. */
  (void)uv_recv_buffer_size((uv_handle_t *)&sock->udp, &size);
  size = SOCKET_BUFFER;
  (void)uv_send_buffer_size((uv_handle_t *)&sock->udp, &size);
  return uv_udp_recv_start(&sock->udp, on_alloc, on_recv);
}

static int dns_open(load_gen_t *g, char *err, size_t errlen) {
  load_dns_t *d = load_gen_backend(g);
  const load_opts_t *o = load_gen_opts(g);
  for (unsigned i = 0; i < d->nsocks; i++) {
    int rc = sock_open(&d->socks[i], load_gen_loop(g), (const struct sockaddr *)&o->dns_server);
    if (rc != 0) {
      snprintf(err, errlen, "cannot open a UDP socket to the DNS server: %s", uv_strerror(rc));
      return rc;
    }
  }
  return 0;
}

static void dns_close(load_gen_t *g) {
  load_dns_t *d = load_gen_backend(g);
  for (unsigned i = 0; i < d->nsocks; i++)
    if (d->socks[i].inited)
      uv_close((uv_handle_t *)&d->socks[i].udp, NULL);
}

static void dns_destroy(load_gen_t *g) {
  load_dns_t *d = load_gen_backend(g);
  if (d == NULL)
    return;
  for (unsigned i = 0; d->socks != NULL && i < d->nsocks; i++) {
    free(d->socks[i].slots);
    free(d->socks[i].free_ids);
  }
  free(d->socks);
  free(d);
}

static const load_gen_ops_t dns_ops = {
    dns_open, dns_start, dns_abandon, dns_close, dns_destroy,
};

static int dns_setup(load_gen_t *g, char *err, size_t errlen) {
  const load_opts_t *o = load_gen_opts(g);
  load_dns_t *d = calloc(1, sizeof(*d));
  if (d == NULL)
    goto nomem;
  load_gen_set_backend(g, &dns_ops, d);

  for (size_t i = 0; i < load_dns_names_count && i < 16; i++) {
    if (load_dns_query_build(&d->queries[i], &load_dns_names[i], o->qtype) != 0) {
      /* The names are built in: our bug, not a setting to fix (exit 3). */
      snprintf(err, errlen, "cannot build a query for %s", load_dns_names[i].name);
      return UV_EFAULT;
    }
    d->nqueries++;
  }

  d->socks = calloc(o->dns_sockets, sizeof(*d->socks));
  if (d->socks == NULL)
    goto nomem;
  d->nsocks = o->dns_sockets;
  uint64_t rng = o->seed;
  for (unsigned i = 0; i < d->nsocks; i++) {
    load_dns_sock_t *sock = &d->socks[i];
    sock->gen = g;
    sock->slots = calloc(IDS, sizeof(*sock->slots));
    sock->free_ids = malloc(IDS * sizeof(*sock->free_ids));
    if (sock->slots == NULL || sock->free_ids == NULL)
      goto nomem;
    for (size_t id = 0; id < IDS; id++) {
      sock->slots[id].sock = sock;
      sock->free_ids[id] = (uint16_t)id;
    }
    /* Fisher-Yates: IDs in a seeded random order, like a real resolver's,
     * rather than 0, 1, 2... */
    for (size_t k = IDS - 1; k > 0; k--) {
      size_t j = (size_t)(load_rand_next(&rng) % (k + 1));
      uint16_t t = sock->free_ids[k];
      sock->free_ids[k] = sock->free_ids[j];
      sock->free_ids[j] = t;
    }
    sock->free_count = IDS;
  }
  return 0;

nomem:
  snprintf(err, errlen, "out of memory");
  return UV_ENOMEM;
}

const load_backend_t load_dns_backend = {"dns", LOAD_MODE_DNS, dns_setup};
