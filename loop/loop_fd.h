/* loop_fd: file descriptors. dnsortd raises its soft open-file limit to
 * the hard one at start-up, then gives the sort service (whose clients
 * are the likeliest to hold many connections open) a share that leaves a
 * reserve to DNS over TCP, metrics and its own sockets and files, so that
 * a flood of sort connections cannot make the other services' accepts
 * fail with EMFILE. */
#ifndef DNSORT_LOOP_FD_H
#define DNSORT_LOOP_FD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* --fd-reserve's default: room for DNS over TCP and metrics clients on a
 * small limit, plus dnsortd's own descriptors (listeners, UDP sockets,
 * c-ares sockets, the loop's epoll and signal pipes, a hosts file being
 * read, stdio). */
#define LOOP_FD_DEFAULT_RESERVE 64u

/* Raise the soft RLIMIT_NOFILE to the hard limit. *before and *after get
 * the soft limit before and after (equal when it was already there, or
 * when raising failed). Returns 0 or a negative libuv error. */
int loop_fd_raise_limit(uint64_t *before, uint64_t *after);

typedef struct {
  size_t max_connections; /* served; more get "server busy" */
  size_t hard_limit;      /* open at once, busy ones included; more are
                             dropped unanswered; 0: net_tcp's default */
  bool capped;            /* the open-file limit lowered them */
} loop_fd_sort_limits_t;

/* The sort service's connection limits within an open-file limit of
 * nofile: it may hold at most nofile - reserve descriptors (nofile / 2
 * when the reserve is more than half of the limit). max_connections as
 * configured when that fits net_tcp's default hard limit (N + N/4 + 64);
 * else the hard limit is that budget and a fifth of it is kept for busy
 * replies. Pure. */
loop_fd_sort_limits_t loop_fd_sort_limits(uint64_t nofile, size_t reserve, size_t max_connections);

#endif
