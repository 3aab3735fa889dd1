/* dns_udp: the UDP glue around dns_zone_answer. Receives into one fixed buffer,
 * answers in the receive callback into another, and sends with
 * uv_udp_try_send; only when the socket buffer is full does it fall back to
 * a queued uv_udp_send with a copy, bounded by max_queued_sends. */
#ifndef DNSORT_DNS_UDP_H
#define DNSORT_DNS_UDP_H

#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "dns_forward.h"
#include "dns_stats.h"
#include "dns_wire.h"
#include "dns_zone.h"

#define DNS_UDP_DEFAULT_MAX_QUEUED_SENDS 1024

typedef struct dns_udp {
  uv_udp_t udp;                 /* first: the struct is the handle's owner */
  /* The zone in service, read at every packet: the owner swaps the
   * pointer on reload and the next packet sees the new zone. */
  const dns_zone_t *const *zone;
  size_t max_queued_sends;
  size_t queued_sends;
  dns_stats_t stats;            /* replies by qtype and rcode */
  /* Per-query log (--log-queries), NULL when off: called with every reply
   * just before it is sent. client is NULL when unknown. */
  void (*log_query)(void *ctx, const char *proto, const struct sockaddr *client,
                    const uint8_t *reply, size_t len);
  void *log_ctx;
  uint64_t received;
  uint64_t answered;
  uint64_t dropped_invalid;     /* short or QR=1: not answered by design */
  uint64_t dropped_send;        /* could not be sent or queued */
  uint64_t forward_unavailable; /* DNS_REPLY_FORWARD with no forwarder */
  /* Where names outside the map go (--unknown forward); set by the owner
   * before dns_udp_start. NULL: they get SERVFAIL. */
  dns_forward_t *forward;
  struct dns_udp_forwarded *forwarded; /* queries waiting upstream */
  size_t forward_waiting;       /* how many */
  void (*on_close)(struct dns_udp *);
  /* The receive buffer stays ours between alloc and recv callbacks: libuv
   * reads one datagram at a time into it and we answer before returning. */
  uint8_t recv_buf[64 * 1024];
  uint8_t send_buf[DNS_MAX_MESSAGE];
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

#endif
