#include "dns_udp.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#define container_of(ptr, type, member) \
  ((type *)((char *)(ptr) - offsetof(type, member)))

/* A reply that had to be queued: request, buffer and bytes in one block,
 * freed in the send callback. */
typedef struct {
  uv_udp_send_t req;
  dns_udp_t *server;
  size_t len;
  uint8_t data[];
} queued_send_t;

static void on_alloc(uv_handle_t *handle, size_t suggested, uv_buf_t *buf) {
  dns_udp_t *s = container_of((uv_udp_t *)handle, dns_udp_t, udp);
  (void)suggested;
  *buf = uv_buf_init((char *)s->recv_buf, sizeof(s->recv_buf));
}

static void on_queued_send(uv_udp_send_t *req, int status) {
  queued_send_t *q = container_of(req, queued_send_t, req);
  q->server->queued_sends--;
  if (status < 0)
    q->server->dropped_send++;
  free(q);
}

static void send_reply(dns_udp_t *s, const uint8_t *reply, size_t len,
                       const struct sockaddr *addr) {
  dns_stats_count(&s->stats, reply, len);
  if (s->log_query != NULL)
    s->log_query(s->log_ctx, "udp", addr, reply, len);
  uv_buf_t buf = uv_buf_init((char *)reply, (unsigned)len);
  int rc = uv_udp_try_send(&s->udp, &buf, 1, addr);
  if (rc >= 0) {
    s->answered++;
    return;
  }
  if (rc != UV_EAGAIN || s->queued_sends >= s->max_queued_sends) {
    s->dropped_send++;
    return;
  }
  /* The socket buffer is full (or earlier sends are queued, which makes
   * try_send refuse to jump the queue): keep a copy until libuv sends it. */
  queued_send_t *q = malloc(sizeof(*q) + len);
  if (q == NULL) {
    s->dropped_send++;
    return;
  }
  q->server = s;
  q->len = len;
  memcpy(q->data, reply, len);
  buf = uv_buf_init((char *)q->data, (unsigned)len);
  if (uv_udp_send(&q->req, &s->udp, &buf, 1, addr, on_queued_send) != 0) {
    free(q);
    s->dropped_send++;
    return;
  }
  s->queued_sends++;
  s->answered++;
}

/* SERVFAIL for a query we cannot answer; 0 when it must be dropped. */
static size_t dns_servfail(const uint8_t *pkt, size_t len, uint8_t *out,
                           size_t cap) {
  dns_query_t q;
  if (dns_parse_query(pkt, len, &q) == DNS_PARSE_DROP)
    return 0;
  return dns_build_response(&q, DNS_RCODE_SERVFAIL, NULL, 0, 0, out, cap,
                            dns_udp_limit(&q));
}

/* A query waiting for the forwarder, with where its reply goes. Freed
 * when the reply is sent or the socket closes. */
typedef struct dns_udp_forwarded {
  dns_forward_req_t req;
  dns_udp_t *server;
  struct dns_udp_forwarded *prev, *next;
  struct sockaddr_storage client;
} forwarded_t;

static void forwarded_unlink(forwarded_t *w) {
  dns_udp_t *s = w->server;
  if (w->prev != NULL)
    w->prev->next = w->next;
  else
    s->forwarded = w->next;
  if (w->next != NULL)
    w->next->prev = w->prev;
  s->forward_waiting--;
}

static void on_forward_reply(dns_forward_req_t *req, const uint8_t *reply,
                             size_t len) {
  forwarded_t *w = container_of(req, forwarded_t, req);
  dns_udp_t *s = w->server;
  if (len > 0)
    send_reply(s, reply, len, (const struct sockaddr *)&w->client);
  else
    s->dropped_send++;
  forwarded_unlink(w);
  free(w);
}

static size_t sockaddr_size(const struct sockaddr *sa) {
  return sa->sa_family == AF_INET6 ? sizeof(struct sockaddr_in6)
                                   : sizeof(struct sockaddr_in);
}

/* A cache hit (or an immediate SERVFAIL) is answered right here, like a
 * map answer; a miss waits for the upstream with a copy of the address. */
static void forward_query(dns_udp_t *s, size_t nread,
                          const struct sockaddr *addr) {
  size_t len;
  switch (dns_forward_lookup(s->forward, DNS_TRANSPORT_UDP, s->recv_buf, nread,
                             s->send_buf, sizeof(s->send_buf), &len)) {
  case DNS_FORWARD_REPLY:
    send_reply(s, s->send_buf, len, addr);
    return;
  case DNS_FORWARD_DROP:
    s->dropped_invalid++;
    return;
  case DNS_FORWARD_MISS:
    break;
  }
  forwarded_t *w = malloc(sizeof(*w));
  if (w != NULL) {
    w->server = s;
    memcpy(&w->client, addr, sockaddr_size(addr));
    if (dns_forward_send(s->forward, &w->req, DNS_TRANSPORT_UDP, s->recv_buf,
                         nread, on_forward_reply) == 0) {
      w->prev = NULL;
      w->next = s->forwarded;
      if (s->forwarded != NULL)
        s->forwarded->prev = w;
      s->forwarded = w;
      s->forward_waiting++;
      return;
    }
    free(w);
  }
  len = dns_forward_servfail(s->recv_buf, nread, DNS_TRANSPORT_UDP,
                             s->send_buf, sizeof(s->send_buf));
  if (len > 0)
    send_reply(s, s->send_buf, len, addr);
}

static void on_recv(uv_udp_t *handle, ssize_t nread, const uv_buf_t *buf,
                    const struct sockaddr *addr, unsigned flags) {
  dns_udp_t *s = container_of(handle, dns_udp_t, udp);
  (void)buf;
  /* nread == 0 with no address means "nothing more to read", not an empty
   * datagram; errors on an unconnected UDP socket (ICMP feedback) concern
   * one peer, never the server, so they are counted and ignored. */
  if (nread <= 0 || addr == NULL) {
    if (nread < 0)
      s->dropped_invalid++;
    return;
  }
  s->received++;
  if (flags & UV_UDP_PARTIAL) {
    s->dropped_invalid++;
    return;
  }
  size_t len;
  switch (dns_zone_answer(*s->zone, DNS_TRANSPORT_UDP, s->recv_buf,
                          (size_t)nread, s->send_buf, sizeof(s->send_buf),
                          &len)) {
  case DNS_REPLY_SEND:
    send_reply(s, s->send_buf, len, addr);
    break;
  case DNS_REPLY_DROP:
    s->dropped_invalid++;
    break;
  case DNS_REPLY_FORWARD:
    if (s->forward != NULL) {
      forward_query(s, (size_t)nread, addr);
      break;
    }
    /* No forwarder is configured: say so rather than let the client time
     * out. */
    s->forward_unavailable++;
    len = dns_servfail(s->recv_buf, (size_t)nread, s->send_buf,
                       sizeof(s->send_buf));
    if (len > 0)
      send_reply(s, s->send_buf, len, addr);
    break;
  }
}

int dns_udp_start(dns_udp_t *s, uv_loop_t *loop, const struct sockaddr *addr,
                  const dns_zone_t *const *zone, bool reuseport) {
  s->zone = zone;
  if (s->max_queued_sends == 0)
    s->max_queued_sends = DNS_UDP_DEFAULT_MAX_QUEUED_SENDS;
  s->queued_sends = 0;
  memset(&s->stats, 0, sizeof(s->stats));
  s->received = s->answered = s->dropped_invalid = s->dropped_send = 0;
  s->forward_unavailable = 0;
  s->forwarded = NULL;
  s->forward_waiting = 0;
  s->on_close = NULL;

  /* init_ex creates the socket now, so that SO_REUSEPORT can be set before
   * bind (libuv's UV_UDP_REUSEADDR is only SO_REUSEADDR on Linux, which
   * does not spread packets across processes). */
  int rc = uv_udp_init_ex(loop, &s->udp, addr->sa_family);
  if (rc != 0)
    return rc;
  if (reuseport) {
    uv_os_fd_t fd;
    int one = 1;
    rc = uv_fileno((uv_handle_t *)&s->udp, &fd);
    if (rc == 0 && setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) != 0)
      rc = -errno;
    if (rc != 0)
      goto fail;
  }
  rc = uv_udp_bind(&s->udp, addr, 0);
  if (rc != 0)
    goto fail;
  rc = uv_udp_recv_start(&s->udp, on_alloc, on_recv);
  if (rc != 0)
    goto fail;
  return 0;

fail:
  uv_close((uv_handle_t *)&s->udp, NULL);
  return rc;
}

static void on_close(uv_handle_t *handle) {
  dns_udp_t *s = container_of((uv_udp_t *)handle, dns_udp_t, udp);
  if (s->on_close != NULL)
    s->on_close(s);
}

void dns_udp_close(dns_udp_t *s, void (*cb)(dns_udp_t *)) {
  /* Nobody will send their replies: the upstream answers still go to the
   * cache, but no callback may reach this socket any more. */
  while (s->forwarded != NULL) {
    forwarded_t *w = s->forwarded;
    dns_forward_cancel(&w->req);
    forwarded_unlink(w);
    free(w);
  }
  s->on_close = cb;
  uv_udp_recv_stop(&s->udp);
  uv_close((uv_handle_t *)&s->udp, on_close);
}
