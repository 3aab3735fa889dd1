#include "dns_udp.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "dns_acl.h"
#include "net_sock.h"
#include "net_util.h"

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
  *buf =
      uv_buf_init((char *)s->recv_area, DNS_UDP_RECV_BATCH * DNS_UDP_RECV_SLOT);
}

static void on_queued_send(uv_udp_send_t *req, int status) {
  queued_send_t *q = container_of(req, queued_send_t, req);
  q->server->queued_sends--;
  if (status < 0)
    q->server->dropped_send++;
  free(q);
}

/* Keep a copy of a reply that the kernel would not take now (EAGAIN) and
 * let libuv send it when the socket is writable again. */
static void queue_copy(dns_udp_t *s, const uint8_t *reply, size_t len,
                       const struct sockaddr *addr) {
  if (s->queued_sends >= s->max_queued_sends) {
    s->dropped_send++;
    return;
  }
  queued_send_t *q = malloc(sizeof(*q) + len);
  if (q == NULL) {
    s->dropped_send++;
    return;
  }
  q->server = s;
  q->len = len;
  memcpy(q->data, reply, len);
  uv_buf_t buf = uv_buf_init((char *)q->data, (unsigned)len);
  if (uv_udp_send(&q->req, &s->udp, &buf, 1, addr, on_queued_send) != 0) {
    free(q);
    s->dropped_send++;
    return;
  }
  s->queued_sends++;
  s->answered++;
}

static void send_now(dns_udp_t *s, const uint8_t *reply, size_t len,
                     const struct sockaddr *addr) {
  uv_buf_t buf = uv_buf_init((char *)reply, (unsigned)len);
  int rc = uv_udp_try_send(&s->udp, &buf, 1, addr);
  if (rc >= 0) {
    s->answered++;
    return;
  }
  /* EAGAIN: the socket buffer is full, or earlier sends are queued (which
   * makes try_send refuse to jump the queue). */
  if (rc == UV_EAGAIN)
    queue_copy(s, reply, len, addr);
  else
    s->dropped_send++;
}

static size_t sockaddr_size(const struct sockaddr *sa) {
  return sa->sa_family == AF_INET6 ? sizeof(struct sockaddr_in6)
                                   : sizeof(struct sockaddr_in);
}

/* Send the replies of the batch that just ended with one sendmmsg. The
 * socket is non-blocking: what the kernel does not take now is queued
 * through libuv like any other EAGAIN; a reply it refuses (e.g. an
 * unreachable address) is dropped alone and the rest still go. */
static void batch_flush(dns_udp_t *s) {
  size_t n = s->batch.n, sent = 0;
  s->batch.open = false;
  s->batch.n = 0;
  if (n == 0)
    return;
  s->batches++;
  dns_hist_observe(&s->duration, (uv_hrtime() - s->recv_at) / 1000, n);
  uv_os_fd_t fd;
  if (uv_fileno((uv_handle_t *)&s->udp, &fd) != 0) {
    s->dropped_send += n;
    return;
  }
  while (sent < n) {
    int rc = sendmmsg(fd, s->batch.msgs + sent, (unsigned)(n - sent), 0);
    if (rc > 0) {
      sent += (size_t)rc;
      s->answered += (uint64_t)rc;
    } else if (rc < 0 && errno == EINTR) {
      continue;
    } else if (rc < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      for (; sent < n; sent++)
        queue_copy(s, s->batch.data[sent], s->batch.iov[sent].iov_len,
                   (const struct sockaddr *)&s->batch.addrs[sent]);
    } else {
      s->dropped_send++;
      sent++;
    }
  }
}

/* Every reply goes through here: rate limited if asked, counted, logged
 * if asked, then batched while a recvmmsg batch is open (its duration is
 * taken when the batch is sent), or sent at once. recv_at is when its
 * query came in. */
static void send_reply(dns_udp_t *s, const uint8_t *reply, size_t len,
                       const struct sockaddr *addr, uint64_t recv_at,
                       const char *source) {
  if (s->rrl != NULL) {
    switch (dns_rrl_account(s->rrl, addr, reply, len, uv_now(s->udp.loop))) {
    case DNS_RRL_SEND:
      break;
    case DNS_RRL_DROP:
      return;
    case DNS_RRL_SLIP:
      len = dns_rrl_truncate(reply, len, s->slip_buf, sizeof(s->slip_buf));
      if (len == 0)
        return;
      reply = s->slip_buf;
      break;
    }
  }
  dns_stats_count(&s->stats, reply, len);
  if (s->log_query != NULL) {
    dns_query_log_t q = {
        "udp", addr, reply, len, (uv_hrtime() - recv_at) / 1000, source};
    s->log_query(s->log_ctx, &q);
  }
  size_t i = s->batch.n;
  if (!s->batch.open || i >= DNS_UDP_SEND_BATCH ||
      len > sizeof(s->batch.data[i])) {
    send_now(s, reply, len, addr);
    dns_hist_observe(&s->duration, (uv_hrtime() - recv_at) / 1000, 1);
    return;
  }
  memcpy(s->batch.data[i], reply, len);
  socklen_t alen = (socklen_t)sockaddr_size(addr);
  memcpy(&s->batch.addrs[i], addr, alen);
  s->batch.iov[i].iov_base = s->batch.data[i];
  s->batch.iov[i].iov_len = len;
  s->batch.msgs[i].msg_hdr = (struct msghdr){.msg_name = &s->batch.addrs[i],
                                             .msg_namelen = alen,
                                             .msg_iov = &s->batch.iov[i],
                                             .msg_iovlen = 1};
  s->batch.n++;
}

/* SERVFAIL for a query we cannot answer; 0 when it must be dropped. */
static size_t dns_servfail(const uint8_t *pkt, size_t len, uint8_t *out,
                           size_t cap) {
  dns_query_t q;
  if (dns_parse_query(pkt, len, &q) == DNS_PARSE_DROP)
    return 0;
  return dns_build_error(&q, DNS_RCODE_SERVFAIL, DNS_RECURSION_UNAVAILABLE, out,
                         cap, dns_udp_limit(&q));
}

/* A query waiting for the forwarder, with where its reply goes. Freed
 * when the reply is sent or the socket closes. */
typedef struct dns_udp_forwarded {
  dns_forward_req_t req;
  dns_udp_t *server;
  LIST_ENTRY(dns_udp_forwarded) link;
  uint64_t recv_at;
  struct sockaddr_storage client;
} forwarded_t;

static void forwarded_unlink(forwarded_t *w) {
  LIST_REMOVE(w, link);
  w->server->forward_waiting--;
}

static void on_forward_reply(dns_forward_req_t *req, const uint8_t *reply,
                             size_t len) {
  forwarded_t *w = container_of(req, forwarded_t, req);
  dns_udp_t *s = w->server;
  if (len > 0)
    send_reply(s, reply, len, (const struct sockaddr *)&w->client, w->recv_at,
               DNS_SOURCE_UPSTREAM);
  else
    s->dropped_send++;
  forwarded_unlink(w);
  free(w);
}

/* A cache hit (or an immediate SERVFAIL) is answered right here, like a
 * map answer; a miss waits for the upstream with a copy of the address. */
static void forward_query(dns_udp_t *s, const uint8_t *pkt, size_t nread,
                          const struct sockaddr *addr) {
  size_t len;
  switch (dns_forward_lookup(s->forward, DNS_TRANSPORT_UDP, pkt, nread,
                             s->send_buf, sizeof(s->send_buf), &len)) {
  case DNS_FORWARD_REPLY:
    send_reply(s, s->send_buf, len, addr, s->recv_at, DNS_SOURCE_CACHE);
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
    w->recv_at = s->recv_at;
    memcpy(&w->client, addr, sockaddr_size(addr));
    if (dns_forward_send(s->forward, &w->req, DNS_TRANSPORT_UDP, pkt, nread,
                         on_forward_reply) == 0) {
      LIST_INSERT_HEAD(&s->forwarded, w, link);
      s->forward_waiting++;
      return;
    }
    free(w);
  }
  len = dns_forward_servfail(pkt, nread, DNS_TRANSPORT_UDP, s->send_buf,
                             sizeof(s->send_buf));
  if (len > 0)
    send_reply(s, s->send_buf, len, addr, s->recv_at, DNS_SOURCE_POLICY);
}

/* A client outside --allow: REFUSED, or nothing for what would be
 * dropped anyway. */
static void refuse(dns_udp_t *s, const uint8_t *pkt, size_t nread,
                   const struct sockaddr *addr) {
  s->refused_acl++;
  size_t len = dns_acl_refuse(pkt, nread, DNS_TRANSPORT_UDP, s->send_buf,
                              sizeof(s->send_buf));
  if (len > 0)
    send_reply(s, s->send_buf, len, addr, s->recv_at, DNS_SOURCE_POLICY);
  else
    s->dropped_invalid++;
}

static void on_recv(uv_udp_t *handle, ssize_t nread, const uv_buf_t *buf,
                    const struct sockaddr *addr, unsigned flags) {
  dns_udp_t *s = container_of(handle, dns_udp_t, udp);
  /* The end of a recvmmsg batch: libuv hands back the whole area (ours,
   * nothing to free) and the batch's replies go out together. */
  if (flags & UV_UDP_MMSG_FREE) {
    batch_flush(s);
    return;
  }
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
  /* One clock read per batch: every query of a recvmmsg batch came in
   * with the same system call. */
  if (!s->batch.open)
    s->recv_at = uv_hrtime();
  if (flags & UV_UDP_MMSG_CHUNK)
    s->batch.open = true;
  const uint8_t *pkt = (const uint8_t *)buf->base;
  if (s->acl != NULL && !net_acl_allows(s->acl, addr)) {
    refuse(s, pkt, (size_t)nread, addr);
    return;
  }
  size_t len;
  switch ((s->draining ? dns_zone_answer_draining : dns_zone_answer)(
      *s->zone, DNS_TRANSPORT_UDP, pkt, (size_t)nread, s->send_buf,
      sizeof(s->send_buf), &len)) {
  case DNS_REPLY_SEND:
    send_reply(s, s->send_buf, len, addr, s->recv_at,
               dns_stats_zone_source(s->send_buf, len));
    break;
  case DNS_REPLY_DROP:
    s->dropped_invalid++;
    break;
  case DNS_REPLY_FORWARD:
    if (s->forward != NULL) {
      forward_query(s, pkt, (size_t)nread, addr);
      break;
    }
    /* No forwarder is configured: say so rather than let the client time
     * out. */
    s->forward_unavailable++;
    len = dns_servfail(pkt, (size_t)nread, s->send_buf, sizeof(s->send_buf));
    if (len > 0)
      send_reply(s, s->send_buf, len, addr, s->recv_at, DNS_SOURCE_POLICY);
    break;
  }
}

static void on_close(uv_handle_t *handle);

int dns_udp_start(dns_udp_t *s, uv_loop_t *loop, const struct sockaddr *addr,
                  const dns_zone_t *const *zone, bool reuseport) {
  s->zone = zone;
  s->draining = false;
  if (s->max_queued_sends == 0)
    s->max_queued_sends = DNS_UDP_DEFAULT_MAX_QUEUED_SENDS;
  s->queued_sends = 0;
  memset(&s->stats, 0, sizeof(s->stats));
  memset(&s->duration, 0, sizeof(s->duration));
  s->received = s->answered = s->dropped_invalid = s->dropped_send = 0;
  s->forward_unavailable = s->refused_acl = 0;
  LIST_INIT(&s->forwarded);
  s->forward_waiting = 0;
  s->on_close = NULL;
  s->batches = 0;
  s->batch.open = false;
  s->batch.n = 0;
  s->recv_area = malloc(DNS_UDP_RECV_BATCH * DNS_UDP_RECV_SLOT);
  if (s->recv_area == NULL)
    return UV_ENOMEM;

  /* init_ex creates the socket now, so that SO_REUSEPORT can be set before
   * bind (libuv's UV_UDP_REUSEADDR is only SO_REUSEADDR on Linux, which
   * does not spread packets across processes). UV_UDP_RECVMMSG reads up to
   * 20 datagrams per system call; bench/README.md has the measurement. */
  int rc = uv_udp_init_ex(loop, &s->udp, addr->sa_family | UV_UDP_RECVMMSG);
  if (rc != 0) {
    free(s->recv_area);
    s->recv_area = NULL;
    return rc;
  }
  if (reuseport) {
    rc = net_sock_reuseport((uv_handle_t *)&s->udp);
    if (rc != 0)
      goto fail;
  }
  rc = uv_udp_bind(&s->udp, addr, 0);
  if (rc != 0)
    goto fail;
  /* Best effort: the kernel caps it at net.core.rmem_max. */
  int rcvbuf = (int)(s->recv_buffer_bytes != 0 ? s->recv_buffer_bytes
                                               : DNS_UDP_DEFAULT_RECV_BUFFER);
  uv_recv_buffer_size((uv_handle_t *)&s->udp, &rcvbuf);
  rc = uv_udp_recv_start(&s->udp, on_alloc, on_recv);
  if (rc != 0)
    goto fail;
  return 0;

fail:
  /* on_close frees recv_area; s->on_close is NULL, so nobody is told. */
  uv_close((uv_handle_t *)&s->udp, on_close);
  return rc;
}

static void on_close(uv_handle_t *handle) {
  dns_udp_t *s = container_of((uv_udp_t *)handle, dns_udp_t, udp);
  free(s->recv_area);
  s->recv_area = NULL;
  if (s->on_close != NULL)
    s->on_close(s);
}

void dns_udp_close(dns_udp_t *s, void (*cb)(dns_udp_t *)) {
  /* Nobody will send their replies: the upstream answers still go to the
   * cache, but no callback may reach this socket any more. */
  while (!LIST_EMPTY(&s->forwarded)) {
    forwarded_t *w = LIST_FIRST(&s->forwarded);
    dns_forward_cancel(&w->req);
    forwarded_unlink(w);
    free(w);
  }
  s->on_close = cb;
  uv_udp_recv_stop(&s->udp);
  uv_close((uv_handle_t *)&s->udp, on_close);
}

void dns_udp_stats(const dns_udp_t *s, dns_udp_stats_t *out) {
  *out = (dns_udp_stats_t){
      .replies = s->stats,
      .duration = s->duration,
      .received = s->received,
      .answered = s->answered,
      .dropped_invalid = s->dropped_invalid,
      .dropped_send = s->dropped_send,
      .forward_unavailable = s->forward_unavailable,
      .refused_acl = s->refused_acl,
  };
}
