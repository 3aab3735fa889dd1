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
#include <uv.h>

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

/* ---- running out: libuv sheds connections without a word ----
 *
 * When accept() fails with EMFILE or ENFILE, libuv (uv__server_io in
 * src/unix/stream.c, the same from 1.x through 1.50) closes the
 * descriptor it keeps in reserve, accepts every pending connection and
 * closes it at once, takes its reserve back and returns: the listener's
 * connection callback is not called, so net_tcp never hears of it. The
 * watch looks instead: once a second it checks whether the process could
 * open one more descriptor, and warns while it could not. */

/* How often the watch looks; each look is a dup() and a close(). */
#define LOOP_FD_WATCH_INTERVAL_MS 1000u
/* While it lasts, the warning is repeated every this many looks. */
#define LOOP_FD_WATCH_REPEAT 60u

typedef enum {
  LOOP_FD_QUIET,     /* nothing to say */
  LOOP_FD_EXHAUSTED, /* out of descriptors: warn */
  LOOP_FD_RECOVERED  /* room again after being out */
} loop_fd_event_t;

typedef struct {
  uv_timer_t timer; /* first: the struct owns the handle */
  uint64_t nofile;  /* the soft limit, for the warning */
  int probe_fd;     /* any open descriptor, duplicated to test for room */
  bool open;        /* the timer is initialised and not yet closing */
  /* State, read by the metrics. */
  bool exhausted;       /* the last look found no descriptor free */
  int error;            /* then: UV_EMFILE (the process) or UV_ENFILE */
  uint64_t exhaustions; /* times it went from room to none */
  uint64_t looks_out;   /* looks in a row that found none */
} loop_fd_watch_t;

/* 0 if the process can open one more descriptor (fd is duplicated and
 * the copy closed), else a negative libuv error: UV_EMFILE at the
 * process's limit, UV_ENFILE when the system's table is full. */
int loop_fd_room(int fd);

/* Record one look's result (from loop_fd_room) and say what to log.
 * Pure. */
loop_fd_event_t loop_fd_watch_note(loop_fd_watch_t *w, int room);

/* Start looking every LOOP_FD_WATCH_INTERVAL_MS on loop; the timer does
 * not keep the loop alive. Returns 0 or a negative libuv error. */
int loop_fd_watch_start(loop_fd_watch_t *w, uv_loop_t *loop, uint64_t nofile);

/* Stop and close the timer (w may be freed after the loop has run). A
 * no-op on a watch never started. */
void loop_fd_watch_close(loop_fd_watch_t *w);

#endif
