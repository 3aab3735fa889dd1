/* dns_udp: the UDP glue around dns_zone_answer. Receives batches with
 * recvmmsg (libuv's UV_UDP_RECVMMSG) into one area allocated at start,
 * answers each datagram in the receive callback into a fixed slot, and
 * sends the batch's replies with one sendmmsg when libuv says the batch is
 * over; a reply outside a batch (an upstream answer) goes out with
 * uv_udp_try_send. Only when the socket buffer is full does it fall back to
 * a queued uv_udp_send with a copy, bounded by max_queued_sends. Nothing
 * on this path allocates. */
#ifndef DNSORT_DNS_UDP_H
#define DNSORT_DNS_UDP_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/queue.h>
#include <sys/socket.h>
#include <uv.h>

#include "dns_forward.h"
#include "dns_rrl.h"
#include "dns_stats.h"
#include "dns_wire.h"
#include "dns_zone.h"
#include "net_acl.h"

#define DNS_UDP_DEFAULT_MAX_QUEUED_SENDS 1024
#define DNS_UDP_DEFAULT_RECV_BUFFER (4u * 1024 * 1024)
/* libuv 1.44 hands at most 20 datagrams to one recvmmsg (UV__MMSG_MAXWIDTH)
 * and wants 64 KiB per slot. */
#define DNS_UDP_RECV_BATCH 20
#define DNS_UDP_RECV_SLOT (64 * 1024)
#define DNS_UDP_SEND_BATCH DNS_UDP_RECV_BATCH

typedef struct dns_udp {
  uv_udp_t udp; /* first: the struct is the handle's owner */
  /* The zone in service, read at every packet: the owner swaps the
   * pointer on reload and the next packet sees the new zone. */
  const dns_zone_t *const *zone;
  /* Set by the owner when a shutdown starts: queries are answered with
   * dns_zone_answer_draining from then on (the health name fails). */
  bool draining;
  size_t max_queued_sends;
  size_t queued_sends;
  dns_stats_t stats; /* replies by qtype and rcode */
  /* Per-query log (--log-queries), NULL when off: called with every reply
   * just before it is sent. */
  void (*log_query)(void *ctx, const dns_query_log_t *q);
  void *log_ctx;
  /* Receipt to reply, by the clock read when a recvmmsg batch starts and
   * when its replies go out (two reads a batch, not two a query). */
  dns_hist_t duration;
  uint64_t recv_at; /* uv_hrtime at the batch's start */
  uint64_t received;
  uint64_t answered;
  uint64_t dropped_invalid;     /* short or QR=1: not answered by design */
  uint64_t dropped_send;        /* could not be sent or queued */
  uint64_t forward_unavailable; /* DNS_REPLY_FORWARD with no forwarder */
  /* Where names outside the map go (--unknown forward); set by the owner
   * before dns_udp_start. NULL: they get SERVFAIL. */
  dns_forward_t *forward;
  /* Who may query (--allow), NULL: everyone; the others get REFUSED. Set
   * by the owner before dns_udp_start, and left alone while it runs. */
  const net_acl_t *acl;
  uint64_t refused_acl; /* queries from outside acl */
  /* Response rate limiting (--rrl-rate), NULL: off. Every reply passes
   * through it; it may be shared by several listeners (one loop). Set by
   * the owner before dns_udp_start. */
  dns_rrl_t *rrl;
  LIST_HEAD(, dns_udp_forwarded) forwarded; /* queries waiting upstream */
  size_t forward_waiting;                   /* how many */
  void (*on_close)(struct dns_udp *);
  /* SO_RCVBUF to ask for (0: DNS_UDP_DEFAULT_RECV_BUFFER); a burst larger
   * than the socket buffer is lost in the kernel before we see it. */
  size_t recv_buffer_bytes;
  uint64_t batches; /* recvmmsg batches, for the benchmark */
  /* Where libuv's recvmmsg puts a batch: DNS_UDP_RECV_BATCH slots of 64
   * KiB (libuv's slot size), allocated once at start. It stays ours
   * between the alloc and recv callbacks; we answer before returning. */
  uint8_t *recv_area;
  /* Replies to one recvmmsg batch, sent with one sendmmsg when the batch
   * ends (libuv's UV_UDP_MMSG_FREE callback). */
  struct {
    bool open;
    size_t n;
    struct mmsghdr msgs[DNS_UDP_SEND_BATCH];
    struct iovec iov[DNS_UDP_SEND_BATCH];
    struct sockaddr_storage addrs[DNS_UDP_SEND_BATCH];
    uint8_t data[DNS_UDP_SEND_BATCH][DNS_EDNS_ADVERTISED];
  } batch;
  uint8_t send_buf[DNS_MAX_MESSAGE];
  uint8_t slip_buf[DNS_PLAIN_UDP_LIMIT]; /* an RRL slip: header, question */
} dns_udp_t;

/* Bind to addr (with SO_REUSEPORT when reuseport) and start answering.
 * On failure returns a negative libuv error; the handle is then being
 * closed: run the loop before freeing s. */
int dns_udp_start(dns_udp_t *s, uv_loop_t *loop, const struct sockaddr *addr,
                  const dns_zone_t *const *zone, bool reuseport);

/* Stop receiving and close the handle; queries still upstream are
 * cancelled. on_close (may be NULL) runs from the close callback, after
 * which s may be freed. */
void dns_udp_close(dns_udp_t *s, void (*on_close)(dns_udp_t *));

/* The counters, for metrics and logs (a copy: the owner reads these and
 * never the struct's fields). */
typedef struct {
  dns_stats_t replies; /* by qtype and rcode, TC=1 */
  dns_hist_t duration;
  uint64_t received;
  uint64_t answered;
  uint64_t dropped_invalid;
  uint64_t dropped_send;
  uint64_t forward_unavailable;
  uint64_t refused_acl; /* queries from outside --allow */
} dns_udp_stats_t;

void dns_udp_stats(const dns_udp_t *s, dns_udp_stats_t *out);

#endif
