/* dnsortd: one process, one libuv loop, two services. main() parses the
 * command line, sizes the worker pool before anything can start it, binds
 * both services, prints the bound addresses, and runs until a signal. */
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <uv.h>

#include "dns_answer.h"
#include "dns_map.h"
#include "dns_udp.h"
#include "loop_config.h"
#include "loop_log.h"
#include "sort_server.h"

#define container_of(ptr, type, member) \
  ((type *)((char *)(ptr) - offsetof(type, member)))

/* How long a replied-to connection waits for the client's FIN. */
#define SORT_LINGER_MS 2000

typedef struct {
  uv_loop_t loop;
  loop_config_t cfg;
  dns_udp_t dns;
  sort_server_t sort;
  uv_signal_t sigint;
  uv_signal_t sigterm;
  uv_timer_t grace;
  dns_map_t *map;
  bool stopping;
} loop_server_t;

static void log_adapter(int level, const char *fmt, ...) {
  if (!loop_log_enabled((loop_log_level_t)level))
    return;
  char msg[900];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof(msg), fmt, ap);
  va_end(ap);
  loop_log((loop_log_level_t)level, "%s", msg);
}

static void close_remaining(loop_server_t *srv) {
  uv_close((uv_handle_t *)&srv->sigint, NULL);
  uv_close((uv_handle_t *)&srv->sigterm, NULL);
  uv_close((uv_handle_t *)&srv->grace, NULL);
}

static void on_sort_drained(sort_server_t *sort) {
  loop_server_t *srv = container_of(sort, loop_server_t, sort);
  loop_log(LOOP_LOG_INFO, "sort service drained; %llu ok, %llu error replies, %llu cancelled",
           (unsigned long long)sort->replied_ok,
           (unsigned long long)sort->replied_error,
           (unsigned long long)sort->cancelled);
  close_remaining(srv);
}

static void on_grace_over(uv_timer_t *t) {
  loop_server_t *srv = container_of(t, loop_server_t, grace);
  loop_log(LOOP_LOG_WARN, "grace period of %llu ms over; closing %zu connection(s)",
           (unsigned long long)srv->cfg.grace_ms, srv->sort.n_conns);
  sort_server_abort(&srv->sort);
}

static void on_signal(uv_signal_t *sig, int signum) {
  loop_server_t *srv = sig->data;
  if (srv->stopping) {
    /* The operator asked twice: do not wait for anything. */
    loop_log(LOOP_LOG_WARN, "second %s: exiting now", strsignal(signum));
    _exit(128 + signum);
  }
  srv->stopping = true;
  loop_log(LOOP_LOG_INFO, "%s: stopping; in-flight sorts have %llu ms to finish",
           strsignal(signum), (unsigned long long)srv->cfg.grace_ms);
  dns_udp_close(&srv->dns, NULL);
  sort_server_drain(&srv->sort, on_sort_drained);
  uv_timer_start(&srv->grace, on_grace_over, srv->cfg.grace_ms, 0);
}

/* libuv reads UV_THREADPOOL_SIZE once, when the pool first starts; this
 * runs before anything can start it. */
static void size_worker_pool(unsigned threads) {
  if (threads == 0) {
    threads = uv_available_parallelism();
    if (threads > LOOP_MAX_THREADS)
      threads = LOOP_MAX_THREADS;
  }
  char text[16];
  snprintf(text, sizeof(text), "%u", threads);
  setenv("UV_THREADPOOL_SIZE", text, 1);
}

int main(int argc, char **argv) {
  static loop_server_t srv; /* large (I/O buffers): not on the stack */
  char err[256];
  char dns_text[80], sort_text[80];
  int rc;
  int exit_code = 1;

  if (loop_config_parse(&srv.cfg, argc, argv, err, sizeof(err)) != 0) {
    fprintf(stderr, "dnsortd: %s\n", err);
    return 2;
  }
  if (srv.cfg.help) {
    loop_config_usage(stdout);
    return 0;
  }
  if (srv.cfg.version) {
    printf("dnsortd %s (libuv %s)\n", DNSORT_VERSION, uv_version_string());
    return 0;
  }
  loop_log_set_level(srv.cfg.log_level);
  size_worker_pool(srv.cfg.threads);
  /* A client that resets while we write must cost an EPIPE, not the
   * process. */
  signal(SIGPIPE, SIG_IGN);

  rc = uv_loop_init(&srv.loop);
  if (rc != 0) {
    fprintf(stderr, "dnsortd: cannot start the event loop: %s\n", uv_strerror(rc));
    return 1;
  }

  srv.map = dns_map_new_default();
  if (srv.map == NULL) {
    fprintf(stderr, "dnsortd: out of memory building the DNS map\n");
    goto close_loop;
  }
  dns_answer_config_t answer = {
      .map = srv.map, .ttl = 60, .unknown_a = {127, 0, 0, 1}};

  loop_format_addr((struct sockaddr *)&srv.cfg.dns_addr, dns_text, sizeof(dns_text));
  loop_format_addr((struct sockaddr *)&srv.cfg.sort_addr, sort_text, sizeof(sort_text));

  rc = dns_udp_start(&srv.dns, &srv.loop, (struct sockaddr *)&srv.cfg.dns_addr, &answer);
  if (rc != 0) {
    fprintf(stderr, "dnsortd: cannot bind DNS to udp://%s: %s\n", dns_text, uv_strerror(rc));
    goto close_loop;
  }

  sort_server_config_t sort_cfg = {
      .max_request_bytes = srv.cfg.max_request_bytes,
      .max_elements = srv.cfg.max_elements,
      .read_timeout_ms = srv.cfg.read_timeout_ms,
      .write_timeout_ms = srv.cfg.write_timeout_ms,
      .linger_ms = SORT_LINGER_MS,
      .log = log_adapter,
  };
  rc = sort_server_start(&srv.sort, &srv.loop, (struct sockaddr *)&srv.cfg.sort_addr, &sort_cfg);
  if (rc != 0) {
    fprintf(stderr, "dnsortd: cannot listen for sort on tcp://%s: %s\n", sort_text, uv_strerror(rc));
    dns_udp_close(&srv.dns, NULL);
    goto close_loop;
  }

  /* Report the real bound ports, so that port 0 is usable by scripts. */
  struct sockaddr_storage bound;
  int blen = sizeof(bound);
  if (uv_udp_getsockname(&srv.dns.udp, (struct sockaddr *)&bound, &blen) == 0)
    loop_format_addr((struct sockaddr *)&bound, dns_text, sizeof(dns_text));
  blen = sizeof(bound);
  if (uv_tcp_getsockname(&srv.sort.listener, (struct sockaddr *)&bound, &blen) == 0)
    loop_format_addr((struct sockaddr *)&bound, sort_text, sizeof(sort_text));

  uv_signal_init(&srv.loop, &srv.sigint);
  uv_signal_init(&srv.loop, &srv.sigterm);
  uv_timer_init(&srv.loop, &srv.grace);
  srv.sigint.data = srv.sigterm.data = &srv;
  uv_signal_start(&srv.sigint, on_signal, SIGINT);
  uv_signal_start(&srv.sigterm, on_signal, SIGTERM);

  printf("dnsortd listening dns=udp://%s sort=tcp://%s\n", dns_text, sort_text);
  fflush(stdout);
  loop_log(LOOP_LOG_INFO, "ready: dns=udp://%s sort=tcp://%s, %s worker threads",
           dns_text, sort_text, getenv("UV_THREADPOOL_SIZE"));

  uv_run(&srv.loop, UV_RUN_DEFAULT);
  exit_code = 0;

close_loop:
  /* Whatever is still open (only on the error paths) gets closed, so that
   * uv_loop_close can succeed. */
  uv_run(&srv.loop, UV_RUN_DEFAULT);
  rc = uv_loop_close(&srv.loop);
  if (rc != 0) {
    loop_log(LOOP_LOG_ERROR, "uv_loop_close: %s (a handle was left open)", uv_strerror(rc));
    exit_code = 1;
  }
  dns_map_free(srv.map);
  if (exit_code == 0)
    loop_log(LOOP_LOG_INFO, "stopped cleanly");
  return exit_code;
}
