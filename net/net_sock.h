/* net_sock: socket options libuv does not offer, for the TCP listeners and
 * the UDP sockets alike. */
#ifndef DNSORT_NET_SOCK_H
#define DNSORT_NET_SOCK_H

#include <uv.h>

/* Set SO_REUSEPORT on h (a uv_tcp_t or uv_udp_t whose socket already
 * exists: made with uv_tcp_init_ex / uv_udp_init_ex), before bind, so
 * that several processes share one port and the kernel spreads the
 * connections or datagrams between them. libuv's UV_UDP_REUSEADDR is only
 * SO_REUSEADDR on Linux, which does not. Returns 0 or a negative libuv
 * error (UV_ENOTSUP where the system has no SO_REUSEPORT). */
int net_sock_reuseport(uv_handle_t *h);

#endif
