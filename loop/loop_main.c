/* dnsortd: one process, one libuv loop, two services (and, with --metrics,
 * a Prometheus endpoint on the same loop). main() reads the options (the
 * command line, DNSORT_* variables, --config FILE), sizes the worker pool
 * before anything can start it, loads the DNS zone, binds every listener,
 * prints the bound addresses, and runs until a signal. SIGHUP rereads the
 * options and rebuilds the zone on a thread of its own (never behind the
 * sorts on the worker pool), then swaps it in between two packets. */
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <uv.h>

#include "dns_acl.h"
#include "dns_forward.h"
#include "dns_load.h"
#include "dns_rrl.h"
#include "dns_tcp.h"
#include "dns_udp.h"
#include "dns_zone.h"
#include "loop_config.h"
#include "loop_fd.h"
#include "loop_log.h"
#include "loop_metrics.h"
#include "net_util.h"
#include "sort_server.h"

extern char **environ;

/* With port 0, UDP picks the port and TCP must get the same one; another
 * process may hold it for TCP, so try a few ports. */
#define EPHEMERAL_PORT_TRIES 20

typedef struct {
  dns_udp_t udp;
  dns_tcp_t tcp;
  char text[80]; /* the bound address, for messages */
} dns_listener_t;

typedef struct {
  uv_thread_t thread;
  loop_config_t cfg; /* read again by the reload thread */
  dns_zone_t *zone;  /* built by the thread; NULL on error */
  char err[512];
  char changed[256]; /* options that wait for a restart */
} zone_reload_t;

typedef struct {
  uv_loop_t loop;
  loop_config_t cfg; /* as read at start; never written after */
  loop_sched_plan_t pool;
  const dns_zone_t *zone; /* in service; handlers read it per query */
  dns_listener_t *dns;
  size_t n_dns;
  sort_server_t sort;     /* started unless --sort off */
  loop_metrics_t metrics; /* started with --metrics only */
  double start_time;      /* seconds since the epoch, for metrics */
  double zone_loaded;     /* when the zone in service was loaded, same */
  uv_signal_t sigint;
  uv_signal_t sigterm;
  uv_signal_t sighup;
  uv_timer_t grace;
  uv_timer_t dns_drain;    /* --drain-dns: DNS closes when it fires */
  uv_async_t reload_async; /* the reload thread's "done" */
  zone_reload_t *reload;   /* in flight, at most one */
  bool reload_again;       /* SIGHUP arrived during a reload */
  bool reload_closing;     /* shutting down: close reload_async once
                              no reload is in flight */
  unsigned closing;        /* services still closing at shutdown */
  bool stopping;
  /* After SIGTERM the metrics listener (/ready: 503) outlives both drains. */
  bool dns_side_closed;
  bool sorts_drained;
  uint64_t reloads_ok;
  uint64_t reloads_failed;
  dns_forward_t *forward;   /* --unknown forward, else NULL */
  dns_rrl_t *rrl;           /* --rrl-rate, shared by every UDP listener */
  uint64_t nofile;          /* the open-file limit in force */
  loop_fd_watch_t fd_watch; /* warns while libuv sheds connections */
  char sort_text[80];       /* bound addresses, for the ready line */
  char metrics_text[80];
} loop_server_t;

static loop_server_t srv; /* large (I/O buffers): not on the stack */

/* The services' log callback; printf-like, so the compiler checks every
 * call through it. */
static __attribute__((format(printf, 2, 3))) void log_adapter(int level, const char *fmt, ...) {
  if (!loop_log_enabled((loop_log_level_t)level))
    return;
  char msg[900];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof(msg), fmt, ap);
  va_end(ap);
  loop_log((loop_log_level_t)level, "%s", msg);
}

/* The services' rate-limited warnings: one limiter per kind (a fixed
 * set: the services' names and a few events), on the loop's cached
 * clock. */
#define WARN_KINDS 16
static struct {
  char kind[32];
  loop_log_limit_t limit;
} warn_kinds[WARN_KINDS];

static __attribute__((format(printf, 2, 3))) void warn_adapter(const char *kind, const char *fmt,
                                                               ...) {
  if (!loop_log_enabled(LOOP_LOG_WARN))
    return;
  size_t i = 0;
  while (i < WARN_KINDS - 1 && warn_kinds[i].kind[0] != '\0' &&
         strcmp(warn_kinds[i].kind, kind) != 0)
    i++;
  if (warn_kinds[i].kind[0] == '\0')
    snprintf(warn_kinds[i].kind, sizeof(warn_kinds[i].kind), "%s", kind);
  char msg[900];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof(msg), fmt, ap);
  va_end(ap);
  loop_log_limited(&warn_kinds[i].limit, uv_now(&srv.loop), LOOP_LOG_WARN, msg);
}

/* --log-queries: called by the DNS handlers with every reply just before
 * it is sent. */
static void log_query_hook(void *ctx, const dns_query_log_t *q) {
  (void)ctx;
  char addr[64];
  if (q->client != NULL)
    loop_format_addr(q->client, addr, sizeof(addr));
  loop_log_query_t lq = {q->proto, q->client != NULL ? addr : NULL, q->duration_us, q->source};
  loop_log_query(&lq, q->reply, q->len);
}

/* ---- metrics: one pass over every service's stats, on the loop thread ---- */

static void add_stats(dns_stats_t *sum, const dns_stats_t *one) {
  for (int t = 0; t < DNS_STATS_QTYPES; t++) {
    for (int r = 0; r < DNS_STATS_RCODES; r++)
      sum->replies[t][r] += one->replies[t][r];
  }
  sum->truncated += one->truncated;
}

static void collect_dns(loop_prom_snapshot_t *s) {
  for (size_t i = 0; i < srv.n_dns; i++) {
    dns_udp_stats_t u;
    dns_tcp_stats_t t;
    dns_udp_stats(&srv.dns[i].udp, &u);
    dns_tcp_stats(&srv.dns[i].tcp, &t);
    add_stats(&s->udp_stats, &u.replies);
    add_stats(&s->tcp_stats, &t.replies);
    dns_hist_add(&s->udp_duration, &u.duration);
    dns_hist_add(&s->tcp_duration, &t.duration);
    s->udp_received += u.received;
    s->udp_dropped_invalid += u.dropped_invalid;
    s->udp_dropped_send += u.dropped_send;
    s->tcp_queries += t.queries;
    s->tcp_dropped_invalid += t.dropped;
    s->tcp_bad_frames += t.bad_frames;
    s->tcp_accepted += t.accepted;
    s->tcp_refused += t.refused;
    s->tcp_accept_errors += t.accept_errors;
    s->tcp_idle_timeouts += t.idle_timeouts;
    s->tcp_open += t.open;
    s->udp_refused_acl += u.refused_acl;
    s->tcp_refused_acl += t.refused_acl;
    s->dns_tcp_denied += t.denied;
    s->tcp_buffered += t.buffered;
    s->tcp_buffered_max += t.buffered_high_water;
    if (t.conn_buffered_high_water > s->tcp_conn_buffered_max)
      s->tcp_conn_buffered_max = t.conn_buffered_high_water;
    s->tcp_deferred += t.deferred;
  }
}

static void collect_sort(loop_prom_snapshot_t *s) {
  static const uint64_t no_bounds[1];
  static const uint64_t no_counts[1];
  sort_server_stats_t st = {0};
  if (srv.cfg.sort_on)
    sort_server_stats(&srv.sort, &st);
  s->sort_ok = st.ok;
  s->sort_bad_input = st.bad_input;
  s->sort_too_large = st.too_large;
  s->sort_timeouts = st.timeouts;
  s->sort_busy = st.busy;
  s->sort_cancelled = st.cancelled;
  s->sort_shutdown = st.shutdown;
  s->sort_error_replies = st.error_replies;
  s->sort_accepted = st.accepted;
  s->sort_accept_errors = st.accept_errors;
  s->sort_denied = st.denied;
  s->sort_running = st.running;
  s->sort_queued = st.queued;
  s->sort_connections = st.connections;
  s->sort_inflight_bytes = st.inflight_bytes;
  /* --sort off: empty histograms (no bucket but +Inf, count 0). */
  const sort_hist_t *rb = st.request_bytes, *du = st.duration_ns;
  s->sort_request_bytes = (loop_prom_hist_t){.bounds = rb ? rb->bounds : no_bounds,
                                             .n_bounds = rb ? rb->n_bounds : 0,
                                             .counts = rb ? rb->counts : no_counts,
                                             .sum = rb ? rb->sum : 0,
                                             .per_unit = 1.0};
  s->sort_duration = (loop_prom_hist_t){.bounds = du ? du->bounds : no_bounds,
                                        .n_bounds = du ? du->n_bounds : 0,
                                        .counts = du ? du->counts : no_counts,
                                        .sum = du ? du->sum : 0,
                                        .per_unit = 1e9};
}

static void collect_metrics(loop_prom_snapshot_t *s, void *data) {
  (void)data;
  collect_dns(s);
  collect_sort(s);
  if (srv.rrl != NULL) {
    dns_rrl_stats_t rrl;
    dns_rrl_stats(srv.rrl, &rrl);
    s->rrl_dropped = rrl.dropped;
    s->rrl_slipped = rrl.slipped;
  }
  s->reloads_ok = srv.reloads_ok;
  s->reloads_failed = srv.reloads_failed;
  s->zone_loaded_seconds = srv.zone_loaded;
  s->zone_names = dns_zone_names(srv.zone);
  if (srv.forward != NULL) {
    s->forwarding = true;
    dns_forward_stats(srv.forward, &s->forward);
  }
  loop_metrics_process(s);
  s->fd_exhaustions = srv.fd_watch.exhaustions;
  s->fd_exhausted = srv.fd_watch.exhausted;
  s->start_time_seconds = srv.start_time;
  s->version = DNSORT_VERSION;
  s->libuv_version = uv_version_string();
}

/* Seconds since the Unix epoch, for the metrics' timestamps. */
static double now_seconds(void) {
  struct timespec now;
  clock_gettime(CLOCK_REALTIME, &now);
  return (double)now.tv_sec + (double)now.tv_nsec / 1e9;
}

/* ---- SIGHUP: reread the options and rebuild the zone off the loop thread ---- */

/* The reload runs on a thread of its own rather than on the worker pool:
 * the pool may be full of sorts that take seconds each, and a reload
 * queued behind them would wait for all of them. One at a time; SIGHUPs
 * during a reload are folded into one more after it. */

static void start_reload(void);

static void reload_main(void *arg) {
  zone_reload_t *r = arg;
  if (loop_config_reload(&srv.cfg, &r->cfg, r->err, sizeof(r->err)) == 0) {
    loop_config_changed(&srv.cfg, &r->cfg, r->changed, sizeof(r->changed));
    r->zone = dns_load_zone(&r->cfg.load, r->err, sizeof(r->err));
  }
  /* The last thing this thread does: the loop frees r once it is woken. */
  uv_async_send(&srv.reload_async);
}

static void reload_done(uv_async_t *async) {
  (void)async;
  zone_reload_t *r = srv.reload;
  if (r == NULL)
    return;
  /* The thread has sent its wake-up and only has to return: the join
   * does not wait for any work. */
  uv_thread_join(&r->thread);
  srv.reload = NULL;
  if (r->zone != NULL && !srv.stopping) {
    /* Single-threaded loop: no packet is being answered right now, so the
     * old zone has no reader once the pointer moves. */
    dns_zone_t *old = (dns_zone_t *)srv.zone;
    srv.zone = r->zone;
    dns_zone_free(old);
    srv.reloads_ok++;
    srv.zone_loaded = now_seconds();
    loop_log(LOOP_LOG_INFO, "reloaded the DNS map: %zu names", dns_zone_names(srv.zone));
    if (r->changed[0] != '\0')
      loop_log(LOOP_LOG_WARN,
               "%s: %s changed; restart to apply (SIGHUP applies the zone's "
               "options only)",
               srv.cfg.config_file, r->changed);
  } else {
    dns_zone_free(r->zone);
    if (!srv.stopping) {
      srv.reloads_failed++;
      loop_log(LOOP_LOG_ERROR, "reload failed, the old map stays in service: %s", r->err);
    }
  }
  loop_config_free(&r->cfg);
  free(r);
  if (srv.reload_closing) {
    uv_close((uv_handle_t *)&srv.reload_async, NULL);
    return;
  }
  if (srv.reload_again && !srv.stopping) {
    srv.reload_again = false;
    start_reload();
  }
}

static void start_reload(void) {
  if (srv.reload != NULL) {
    srv.reload_again = true; /* files may have changed after it read them */
    return;
  }
  zone_reload_t *r = calloc(1, sizeof(*r));
  if (r == NULL) {
    loop_log(LOOP_LOG_ERROR, "reload: out of memory");
    return;
  }
  srv.reload = r;
  int rc = uv_thread_create(&r->thread, reload_main, r);
  if (rc != 0) {
    loop_log(LOOP_LOG_ERROR, "reload: cannot start a thread: %s", uv_strerror(rc));
    srv.reload = NULL;
    free(r);
  }
}

/* At shutdown: the handle goes now, or when the reload in flight ends
 * (its thread still has to wake the loop through it). */
static void close_reload(void) {
  srv.reload_closing = true;
  if (srv.reload == NULL)
    uv_close((uv_handle_t *)&srv.reload_async, NULL);
}

/* What the forwarding cache holds and may hold, on one line. */
static void log_cache(const char *what) {
  dns_forward_stats_t st;
  dns_forward_stats(srv.forward, &st);
  loop_log(LOOP_LOG_INFO,
           "%s: %zu entries, %zu bytes (bound: %zu entries, %zu bytes + %zu bytes of index); "
           "%llu queries, %llu cache hits, %llu upstream, %llu coalesced, %llu SERVFAIL",
           what, st.cache.entries, st.cache.bytes, st.cache.max_entries, st.cache.max_bytes,
           st.cache.index_bytes, (unsigned long long)st.queries, (unsigned long long)st.cache_hits,
           (unsigned long long)st.upstream_queries, (unsigned long long)st.coalesced,
           (unsigned long long)st.servfails);
}

static void on_sighup(uv_signal_t *sig, int signum) {
  (void)sig;
  (void)signum;
  loop_log(LOOP_LOG_INFO, "SIGHUP: reloading the DNS map");
  start_reload();
  if (srv.forward != NULL) {
    /* The map may now hold names whose upstream answers are cached, and
     * an operator who sends SIGHUP expects fresh data. */
    log_cache("SIGHUP: flushing the cache");
    dns_forward_flush(srv.forward);
  }
}

/* ---- shutdown ---- */

static void service_closed(void) {
  if (--srv.closing > 0)
    return;
  uv_close((uv_handle_t *)&srv.sigint, NULL);
  uv_close((uv_handle_t *)&srv.sigterm, NULL);
  uv_close((uv_handle_t *)&srv.sighup, NULL);
  uv_close((uv_handle_t *)&srv.grace, NULL);
  uv_close((uv_handle_t *)&srv.dns_drain, NULL);
  close_reload();
  /* Closing a uv_signal_t puts back the default action, which for these
   * is "terminate": a signal in the last moments before exit would turn a
   * clean stop into death by signal. Everything is shut down by now. */
  signal(SIGINT, SIG_IGN);
  signal(SIGTERM, SIG_IGN);
  signal(SIGHUP, SIG_IGN);
}

static void on_udp_closed(dns_udp_t *u) {
  (void)u;
  service_closed();
}

static void on_tcp_closed(dns_tcp_t *t) {
  (void)t;
  service_closed();
}

static void on_metrics_closed(loop_metrics_t *m);

/* The metrics listener answers /ready with 503 (and /health with 200) for
 * as long as anything drains: it closes once the DNS side has closed and
 * the sorts have drained, whichever comes last. */
static void close_metrics_when_drained(void) {
  if (srv.cfg.metrics && srv.dns_side_closed && srv.sorts_drained)
    loop_metrics_close(&srv.metrics, on_metrics_closed);
}

static void on_sort_drained(sort_server_t *sort) {
  /* The metrics endpoint is still up: scrapes during the drain see the
   * shutdown outcome, and so does this line (bench/scale.sh parses it up
   * to "cancelled"). */
  sort_server_stats_t st;
  sort_server_stats(sort, &st);
  loop_log(LOOP_LOG_INFO,
           "sort service drained: %llu ok, %llu error replies, %llu cancelled, "
           "%llu refused as shutting down",
           (unsigned long long)st.ok, (unsigned long long)st.error_replies,
           (unsigned long long)st.cancelled, (unsigned long long)st.shutdown);
  srv.sorts_drained = true;
  close_metrics_when_drained();
  service_closed();
}

static void on_metrics_closed(loop_metrics_t *m) {
  (void)m;
  service_closed();
}

static void on_forward_closed(dns_forward_t *f, void *data) {
  (void)f;
  (void)data;
  log_cache("forwarder closed");
  srv.forward = NULL;
  /* On a start-up failure the forwarder is closed outside a shutdown. */
  if (srv.stopping)
    service_closed();
}

static void on_grace_over(uv_timer_t *t) {
  (void)t;
  if (!srv.cfg.sort_on)
    return;
  sort_server_stats_t st;
  sort_server_stats(&srv.sort, &st);
  loop_log(LOOP_LOG_WARN, "grace period of %llu ms over; closing %zu connection(s)",
           (unsigned long long)srv.cfg.grace_ms, st.connections);
  sort_server_abort(&srv.sort);
}

/* The DNS listeners and the forwarder close together, once the DNS drain
 * is over; the metrics listener (whose /ready says 503 until then) too,
 * unless sorts are still draining. */
static void close_dns_side(uv_timer_t *t) {
  (void)t;
  for (size_t i = 0; i < srv.n_dns; i++) {
    dns_udp_close(&srv.dns[i].udp, on_udp_closed);
    dns_tcp_close(&srv.dns[i].tcp, on_tcp_closed);
  }
  /* After the listeners, which cancel their clients' upstream queries;
   * the forwarder then drops the queries themselves. */
  if (srv.forward != NULL)
    dns_forward_close(srv.forward, on_forward_closed, NULL);
  srv.dns_side_closed = true;
  close_metrics_when_drained();
}

static void on_signal(uv_signal_t *sig, int signum) {
  (void)sig;
  if (srv.stopping) {
    /* The operator asked twice: do not wait for anything. */
    loop_log(LOOP_LOG_WARN, "second %s: exiting now", strsignal(signum));
    _exit(128 + signum);
  }
  srv.stopping = true;
  loop_fd_watch_close(&srv.fd_watch);
  loop_log(LOOP_LOG_INFO, "%s: stopping; in-flight sorts have %llu ms to finish", strsignal(signum),
           (unsigned long long)srv.cfg.grace_ms);
  srv.closing =
      (unsigned)(2 * srv.n_dns + srv.cfg.sort_on + (srv.forward != NULL) + srv.cfg.metrics);
  if (srv.cfg.metrics)
    loop_metrics_set_ready(&srv.metrics, false);
  srv.sorts_drained = !srv.cfg.sort_on;
  if (srv.cfg.sort_on)
    sort_server_drain(&srv.sort, on_sort_drained);
  uv_timer_start(&srv.grace, on_grace_over, srv.cfg.grace_ms, 0);
  if (srv.cfg.drain_dns_ms > 0 && srv.n_dns > 0) {
    /* A balancer still sends queries until its health check sees us go:
     * answer them, and close only when it has had time to notice. */
    loop_log(LOOP_LOG_INFO, "DNS keeps answering for %llu ms (--drain-dns)",
             (unsigned long long)srv.cfg.drain_dns_ms);
    /* All but the health name, which fails from now on: a balancer that
     * checks it stops sending here before the sockets close. */
    for (size_t i = 0; i < srv.n_dns; i++) {
      srv.dns[i].udp.draining = true;
      srv.dns[i].tcp.draining = true;
    }
    if (srv.cfg.load.options.health_name[0] != '\0')
      loop_log(LOOP_LOG_INFO, "health name %s: SERVFAIL from now on",
               srv.cfg.load.options.health_name);
    uv_timer_start(&srv.dns_drain, close_dns_side, srv.cfg.drain_dns_ms, 0);
  } else {
    close_dns_side(&srv.dns_drain);
  }
}

/* ---- start-up ---- */

/* Decide the pool's size and scheduling (loop_sched_plan) and apply what
 * belongs to the process: libuv reads UV_THREADPOOL_SIZE once, when the
 * pool first starts, and this runs before anything can start it; the loop
 * thread's slice is set here, on the loop thread. The workers' nice and
 * yield go to the sort server, which applies them on each worker. */
static loop_sched_plan_t plan_worker_pool(const loop_sched_request_t *req) {
  loop_sched_plan_t plan = loop_sched_plan(req, uv_available_parallelism(), uv_version());
  if (plan.threads > LOOP_MAX_THREADS)
    plan.threads = LOOP_MAX_THREADS;
  char text[16];
  snprintf(text, sizeof(text), "%u", plan.threads);
  setenv("UV_THREADPOOL_SIZE", text, 1);
  if (plan.loop_slice_us != 0) {
    int rc = loop_sched_set_slice(plan.loop_slice_us);
    if (rc != 0)
      loop_log(LOOP_LOG_WARN,
               "cannot set the loop thread's time slice to %" PRIu64
               " us (Linux >= 6.12 needed): %s; keeping the kernel's",
               plan.loop_slice_us, uv_strerror(rc));
  }
  return plan;
}

static uint16_t get_port(const struct sockaddr_storage *ss) {
  if (ss->ss_family == AF_INET)
    return ntohs(((const struct sockaddr_in *)ss)->sin_port);
  return ntohs(((const struct sockaddr_in6 *)ss)->sin6_port);
}

/* Bind UDP and TCP DNS on one address, the same port for both. Returns 0 or
 * a libuv error with a message printed. */
static int start_dns_listener(dns_listener_t *l, const struct sockaddr_storage *want,
                              const dns_tcp_config_t *tcp_cfg) {
  char want_text[80];
  loop_format_addr((const struct sockaddr *)want, want_text, sizeof(want_text));
  int tries = get_port(want) == 0 ? EPHEMERAL_PORT_TRIES : 1;
  int rc = 0;

  for (int i = 0; i < tries; i++) {
    struct sockaddr_storage addr = *want;
    l->udp.forward = srv.forward;
    l->udp.acl = tcp_cfg->acl;
    l->udp.rrl = srv.rrl;
    if (srv.cfg.log_queries) {
      l->udp.log_query = log_query_hook;
      l->tcp.log_query = log_query_hook;
    }
    rc = dns_udp_start(&l->udp, &srv.loop, (struct sockaddr *)&addr, &srv.zone, srv.cfg.reuseport);
    if (rc != 0) {
      loop_log_startup_error("cannot bind DNS to udp://%s: %s", want_text, uv_strerror(rc));
      return rc;
    }
    int len = sizeof(addr);
    uv_udp_getsockname(&l->udp.udp, (struct sockaddr *)&addr, &len);
    rc = dns_tcp_start(&l->tcp, &srv.loop, (struct sockaddr *)&addr, &srv.zone, tcp_cfg);
    if (rc == 0) {
      loop_format_addr((struct sockaddr *)&addr, l->text, sizeof(l->text));
      return 0;
    }
    dns_udp_close(&l->udp, NULL);
    /* Both handles must finish closing before the structs are reused. */
    uv_run(&srv.loop, UV_RUN_NOWAIT);
    if (rc != UV_EADDRINUSE || tries == 1)
      break;
  }
  loop_log_startup_error("cannot listen for DNS on tcp://%s: %s", want_text, uv_strerror(rc));
  return rc;
}

/* Start-up failed after the DNS listeners were bound: close them. */
static void close_dns_listeners(void) {
  for (size_t i = 0; i < srv.n_dns; i++) {
    dns_udp_close(&srv.dns[i].udp, NULL);
    dns_tcp_close(&srv.dns[i].tcp, NULL);
  }
  srv.n_dns = 0;
}

/* Every --dns address, or none with --dns off. Returns 0, or -1 with a
 * message printed and nothing left open. */
static int start_dns(void) {
  dns_tcp_config_t tcp_cfg = srv.cfg.dns_tcp;
  tcp_cfg.forward = srv.forward;
  tcp_cfg.log = log_adapter;
  tcp_cfg.warn = warn_adapter;
  if (!srv.cfg.dns_on)
    return 0;
  srv.dns = calloc(srv.cfg.n_dns_addrs, sizeof(*srv.dns));
  if (srv.dns == NULL) {
    loop_log_startup_error("out of memory");
    return -1;
  }
  for (size_t i = 0; i < srv.cfg.n_dns_addrs; i++) {
    if (start_dns_listener(&srv.dns[i], &srv.cfg.dns_addrs[i], &tcp_cfg) != 0) {
      close_dns_listeners();
      return -1;
    }
    srv.n_dns = i + 1;
  }
  return 0;
}

/* The forwarder, before the listeners that hand it queries. Returns 0 or
 * a libuv error with a message printed. */
static int start_forward(void) {
  dns_forward_config_t fcfg = srv.cfg.forward;
  fcfg.warn = warn_adapter;
  int rc = dns_forward_new(&srv.loop, &fcfg, &srv.forward);
  if (rc != 0) {
    loop_log_startup_error("cannot start forwarding: %s", uv_strerror(rc));
    return rc;
  }
  char list[LOOP_MAX_UPSTREAMS * 56] = "";
  size_t used = 0;
  for (size_t i = 0; i < srv.cfg.forward.n_upstreams && used < sizeof(list); i++) {
    char one[64];
    loop_format_addr((struct sockaddr *)&srv.cfg.upstreams[i], one, sizeof(one));
    used += (size_t)snprintf(list + used, sizeof(list) - used, "%s%s", i > 0 ? " " : "", one);
  }
  loop_log(
      LOOP_LOG_INFO,
      "forwarding names outside the map to %s (timeout %llu ms, at most %zu queries in flight)",
      list, (unsigned long long)srv.cfg.forward.timeout_ms, srv.cfg.forward.max_inflight);
  if (srv.cfg.forward.udp_max_queries == 0)
    loop_log(LOOP_LOG_WARN,
             "--upstream-udp-max-queries 0: overlapping upstream queries share one "
             "source port; only the 16-bit ID stands against spoofed answers");
  else
    loop_log(LOOP_LOG_INFO, "a new upstream UDP socket every %zu queries (%s)",
             srv.cfg.forward.udp_max_queries,
             dns_forward_cares_rotates() ? "by c-ares" : "by a pool of c-ares channels");
  log_cache("cache");
  return 0;
}

/* The address a listener is bound to, so that the real port is reported
 * when port 0 was asked for (scripts read it). */
static void format_bound(const uv_tcp_t *listener, char *text, size_t cap) {
  struct sockaddr_storage bound;
  int len = sizeof(bound);
  if (uv_tcp_getsockname(listener, (struct sockaddr *)&bound, &len) == 0)
    loop_format_addr((struct sockaddr *)&bound, text, cap);
}

/* The metrics endpoint, if --metrics. Returns 0 or a libuv error with a
 * message printed. */
static int start_metrics(void) {
  char *text = srv.metrics_text;
  loop_format_addr((struct sockaddr *)&srv.cfg.metrics_addr, text, sizeof(srv.metrics_text));
  loop_metrics_config_t mcfg = {
      .max_connections = LOOP_METRICS_DEFAULT_MAX_CONNECTIONS,
      .timeout_ms = LOOP_METRICS_DEFAULT_TIMEOUT_MS,
      .collect = collect_metrics,
      .log = log_adapter,
  };
  int rc =
      loop_metrics_start(&srv.metrics, &srv.loop, (struct sockaddr *)&srv.cfg.metrics_addr, &mcfg);
  if (rc != 0) {
    loop_log_startup_error("cannot listen for metrics on tcp://%s: %s", text, uv_strerror(rc));
    return rc;
  }
  format_bound(&srv.metrics.net.listener, text, sizeof(srv.metrics_text));
  return 0;
}

/* Raise the soft open-file limit as far as the hard one allows: every
 * connection is a descriptor, and the usual soft default (1024) is below
 * the default connection limits. */
static void raise_fd_limit(void) {
  uint64_t before, after;
  int rc = loop_fd_raise_limit(&before, &after);
  srv.nofile = after;
  if (rc != 0)
    loop_log(LOOP_LOG_WARN, "cannot raise the open-file limit from %" PRIu64 ": %s", before,
             uv_strerror(rc));
  else if (after != before)
    loop_log(LOOP_LOG_INFO, "open-file limit raised from %" PRIu64 " to %" PRIu64, before, after);
  else
    loop_log(LOOP_LOG_DEBUG, "open-file limit: %" PRIu64 " (the hard limit)", after);
}

/* Fit the sort service's connections into the open-file limit, keeping
 * --fd-reserve for the rest (loop_fd_sort_limits), and say so when the
 * configured limits together do not fit. */
static void fit_sort_to_fd_limit(sort_server_config_t *sort_cfg) {
  size_t dns = srv.cfg.dns_on ? srv.cfg.dns_tcp.max_connections * srv.cfg.n_dns_addrs : 0;
  size_t metrics = srv.cfg.metrics ? LOOP_METRICS_DEFAULT_MAX_CONNECTIONS : 0;
  uint64_t wanted = (uint64_t)sort_cfg->max_connections + dns + metrics;
  loop_fd_sort_limits_t l =
      loop_fd_sort_limits(srv.nofile, srv.cfg.fd_reserve, sort_cfg->max_connections);
  if (wanted > srv.nofile)
    loop_log(LOOP_LOG_WARN,
             "the connection limits (sort %zu + DNS over TCP %zu + metrics %zu) "
             "exceed the open-file limit of %" PRIu64,
             sort_cfg->max_connections, dns, metrics, srv.nofile);
  if (l.capped)
    loop_log(LOOP_LOG_WARN,
             "sort: at most %zu connections open (%zu served, the rest told "
             "\"server busy\"), leaving %" PRIu64 " of the open-file limit's %" PRIu64
             " descriptors to DNS over TCP, metrics and dnsortd itself (--fd-reserve)",
             l.hard_limit, l.max_connections, srv.nofile - l.hard_limit, srv.nofile);
  sort_cfg->max_connections = l.max_connections;
  sort_cfg->hard_limit = l.hard_limit;
}

/* The sort service: its options as read, plus the worker plan and the
 * open-file limit. Returns 0 or a libuv error with a message printed. */
static int start_sort(void) {
  sort_server_config_t sort_cfg = srv.cfg.sort;
  if (sort_cfg.max_queued_jobs == 0)
    sort_cfg.max_queued_jobs = (size_t)srv.pool.threads * LOOP_DEFAULT_JOBS_PER_THREAD;
  if (sort_cfg.max_jobs_per_client == 0)
    sort_cfg.max_jobs_per_client = sort_cfg.max_queued_jobs > 1 ? sort_cfg.max_queued_jobs / 2 : 1;
  fit_sort_to_fd_limit(&sort_cfg);
  sort_cfg.workers = srv.pool.threads;
  sort_cfg.worker_nice = srv.pool.worker_nice;
  sort_cfg.worker_yield_us = srv.pool.yield_us;
  sort_cfg.log = log_adapter;
  sort_cfg.warn = warn_adapter;
  char *text = srv.sort_text;
  loop_format_addr((struct sockaddr *)&srv.cfg.sort_addr, text, sizeof(srv.sort_text));
  int rc =
      sort_server_start(&srv.sort, &srv.loop, (struct sockaddr *)&srv.cfg.sort_addr, &sort_cfg);
  if (rc != 0) {
    loop_log_startup_error("cannot listen for sort on tcp://%s: %s", text, uv_strerror(rc));
    return rc;
  }
  format_bound(&srv.sort.net.listener, text, sizeof(srv.sort_text));
  return 0;
}

/* The allow lists and RRL, said in the start-up log (an operator must
 * see why a client is refused or a flood is cut), and the RRL table,
 * before the listeners that use it. Returns 0 or a libuv error with a
 * message printed. */
static int start_exposure_limits(void) {
  const loop_config_t *c = &srv.cfg;
  if (c->dns_acl_default) {
    char nets[128] = "";
    size_t used = 0;
    for (const char *const *n = dns_acl_local_nets; *n != NULL && used < sizeof(nets); n++)
      used += (size_t)snprintf(nets + used, sizeof(nets) - used, "%s%s", used > 0 ? " " : "", *n);
    loop_log(LOOP_LOG_WARN,
             "--unknown forward on a non-loopback address and no --allow: only %s "
             "may query; other clients get REFUSED (--allow CIDR, repeatable, says who may)",
             nets);
  } else if (c->dns_on && c->n_dns_allow > 0) {
    loop_log(LOOP_LOG_INFO,
             "DNS clients allowed by %zu --allow rule(s) (%zu IPv4 and %zu IPv6 "
             "ranges); others get REFUSED",
             c->dns_acl.n_rules, c->dns_acl.n4, c->dns_acl.n6);
  }
  if (c->sort_on && c->n_sort_allow > 0)
    loop_log(LOOP_LOG_INFO,
             "sort clients allowed by %zu --sort-allow rule(s); others are closed "
             "unread",
             c->sort_acl.n_rules);
  if (!c->dns_on)
    return 0;
  if (c->rrl_rate == 0) {
    loop_log(LOOP_LOG_INFO, "response rate limiting off (%s)",
             c->rrl_rate_default ? "every DNS listener is on loopback; --rrl-rate N turns it on"
                                 : "--rrl-rate 0");
    return 0;
  }
  dns_rrl_config_t rcfg = {
      .rate = c->rrl_rate, .slip = c->rrl_slip, .table_size = c->rrl_table_size};
  /* The bucket hash's secret: without it, anyone could aim collisions. */
  int rc = uv_random(NULL, NULL, &rcfg.seed, sizeof(rcfg.seed), 0, NULL);
  if (rc != 0) {
    loop_log_startup_error("cannot seed response rate limiting: %s", uv_strerror(rc));
    return rc;
  }
  srv.rrl = dns_rrl_new(&rcfg);
  if (srv.rrl == NULL) {
    loop_log_startup_error("response rate limiting: out of memory");
    return UV_ENOMEM;
  }
  dns_rrl_stats_t st;
  dns_rrl_stats(srv.rrl, &st);
  loop_log(LOOP_LOG_INFO,
           "response rate limiting: %u UDP replies/s per client /%d (IPv4) or /%d "
           "(IPv6) and answer, slip %u, %zu buckets (%zu KiB)%s",
           c->rrl_rate, DNS_RRL_IPV4_PREFIX, DNS_RRL_IPV6_PREFIX, c->rrl_slip, st.table_size,
           st.table_bytes / 1024,
           c->rrl_rate_default ? " (a DNS listener is not on loopback)" : "");
  return 0;
}

/* Every service in order: the forwarder before the DNS listeners that use
 * it. Returns 0, or -1 with a message printed and the listeners closing. */
static int start_services(void) {
  if (start_exposure_limits() != 0)
    return -1;
  if (srv.cfg.load.options.unknown == DNS_UNKNOWN_FORWARD && start_forward() != 0)
    return -1;
  if (start_dns() != 0)
    return -1;
  if (srv.cfg.metrics && start_metrics() != 0) {
    close_dns_listeners();
    return -1;
  }
  if (srv.cfg.sort_on && start_sort() != 0) {
    close_dns_listeners();
    if (srv.cfg.metrics)
      loop_metrics_close(&srv.metrics, NULL);
    return -1;
  }
  return 0;
}

static void start_signals(void) {
  uv_signal_init(&srv.loop, &srv.sigint);
  uv_signal_init(&srv.loop, &srv.sigterm);
  uv_signal_init(&srv.loop, &srv.sighup);
  uv_timer_init(&srv.loop, &srv.grace);
  uv_timer_init(&srv.loop, &srv.dns_drain);
  /* Cannot fail: the loop's wake-up descriptor exists since uv_loop_init. */
  uv_async_init(&srv.loop, &srv.reload_async, reload_done);
  uv_signal_start(&srv.sigint, on_signal, SIGINT);
  uv_signal_start(&srv.sigterm, on_signal, SIGTERM);
  uv_signal_start(&srv.sighup, on_sighup, SIGHUP);
}

/* The line scripts wait for, with the real ports, then the log's. */
static void announce(void) {
  printf("dnsortd listening");
  for (size_t i = 0; i < srv.n_dns; i++)
    printf(" dns=udp://%s", srv.dns[i].text);
  if (srv.cfg.sort_on)
    printf(" sort=tcp://%s", srv.sort_text);
  if (srv.cfg.metrics)
    printf(" metrics=http://%s", srv.metrics_text);
  printf("\n");
  fflush(stdout);
  loop_log(
      LOOP_LOG_INFO,
      "ready: %zu DNS names, %zu DNS address(es) (UDP+TCP), sort=%s%s, %u worker threads (%s)%s%s%s",
      dns_zone_names(srv.zone), srv.n_dns, srv.cfg.sort_on ? "tcp://" : "off",
      srv.cfg.sort_on ? srv.sort_text : "", srv.pool.threads, srv.pool.why,
      srv.cfg.metrics ? ", metrics=http://" : "", srv.metrics_text,
      srv.cfg.log_queries ? ", logging every query" : "");
}

/* read_options: start the server, rather than exit with this code. */
#define GO_ON (-1)

/* The options; GO_ON, or the exit code (--help, --version, --man and
 * errors stop here). */
static int read_options(int argc, char **argv) {
  char err[LOOP_OPTS_MAX_LINE + 256];
  if (loop_config_load(&srv.cfg, argc, argv, environ, err, sizeof(err)) != 0) {
    fprintf(stderr, "dnsortd: %s\n", err);
    return 2;
  }
  if (srv.cfg.help)
    loop_config_usage(stdout);
  else if (srv.cfg.version)
    printf("dnsortd %s (libuv %s)\n", DNSORT_VERSION, uv_version_string());
  else if (srv.cfg.man)
    loop_config_man(stdout);
  else
    return GO_ON;
  return fflush(stdout) == 0 ? 0 : 1;
}

static int run(void) {
  char err[512];
  /* Start-up may block on files: nothing else is running yet. */
  dns_zone_t *zone = dns_load_zone(&srv.cfg.load, err, sizeof(err));
  if (zone == NULL) {
    loop_log_startup_error("%s", err);
    return 2;
  }
  srv.zone = zone;
  srv.zone_loaded = now_seconds();
  int rc = uv_loop_init(&srv.loop);
  if (rc != 0) {
    loop_log_startup_error("cannot start the event loop: %s", uv_strerror(rc));
    return 1;
  }
  int exit_code = 1;
  if (start_services() == 0) {
    start_signals();
    /* Only a timer: cannot fail once the loop exists. */
    loop_fd_watch_start(&srv.fd_watch, &srv.loop, srv.nofile);
    /* Every listener is open and the zone is loaded. */
    if (srv.cfg.metrics)
      loop_metrics_set_ready(&srv.metrics, true);
    announce();
    uv_run(&srv.loop, UV_RUN_DEFAULT);
    exit_code = 0;
  }
  /* Let every close callback run (on the error paths too), so that
   * uv_loop_close can succeed. */
  if (srv.forward != NULL && !srv.stopping)
    dns_forward_close(srv.forward, on_forward_closed, NULL);
  loop_fd_watch_close(&srv.fd_watch);
  uv_run(&srv.loop, UV_RUN_DEFAULT);
  rc = uv_loop_close(&srv.loop);
  if (rc != 0) {
    loop_log(LOOP_LOG_ERROR, "uv_loop_close: %s (a handle was left open)", uv_strerror(rc));
    exit_code = 1;
  }
  return exit_code;
}

int main(int argc, char **argv) {
  int exit_code = read_options(argc, argv);
  if (exit_code != GO_ON) {
    loop_config_free(&srv.cfg);
    return exit_code;
  }
  loop_log_set_level(srv.cfg.log_level);
  loop_log_set_format(srv.cfg.log_format);
  if (srv.cfg.env.ignored[0] != '\0')
    loop_log(LOOP_LOG_WARN, "ignoring %s: not options of dnsortd (see --help)",
             srv.cfg.env.ignored);
  srv.start_time = now_seconds();
  srv.pool = plan_worker_pool(&srv.cfg.sched);
  raise_fd_limit();
  /* A client that resets while we write must cost an EPIPE, not the
   * process. */
  signal(SIGPIPE, SIG_IGN);

  exit_code = run();
  free(srv.dns);
  dns_zone_free((dns_zone_t *)srv.zone);
  dns_rrl_free(srv.rrl);
  loop_config_free(&srv.cfg);
  if (exit_code == 0)
    loop_log(LOOP_LOG_INFO, "stopped cleanly");
  return exit_code;
}
