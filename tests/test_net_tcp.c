/* net_tcp: the listener core on 127.0.0.1 port 0, with a small service of
 * its own (a conn holding a second handle, "busy\n" written to refused
 * clients), driven by plain blocking sockets: connect() completes in the
 * kernel's backlog, so the clients need no loop of their own. Every wait
 * is bounded by a timeout timer; teardown closes every handle and checks
 * that the loop closes cleanly. */
#include "test_util.h"

#include <errno.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "net_acl.h"
#include "net_tcp.h"
#include "net_util.h"

#define WAIT_MS 20000 /* a hang detector: generous under valgrind on a loaded machine */
#define MAX_CLIENTS 8
#define BUSY "busy\n"
#define DENIED "denied\n"

typedef struct {
  net_tcp_conn_t net;          /* first, as net_tcp requires */
  uv_timer_t timer;            /* a second handle: c lives until both close */
} test_conn_t;

typedef struct {
  net_tcp_t net;
  uv_loop_t loop;
  uv_timer_t timeout;
  uv_timer_t later;            /* releases an extra reference after a while */
  net_tcp_conn_t *held;        /* the conn that reference is on */
  bool timed_out;
  bool started;
  bool stopped;
  struct sockaddr_in addr;     /* where the server listens */
  int clients[MAX_CLIENTS];
  size_t n_clients;
  /* What the callbacks saw. */
  size_t accepts, refuses, denies, closes, frees, drained;
  size_t frees_after_drained;  /* must stay 0 */
  size_t frees_at_drained;     /* frees when on_drained ran */
  size_t conns_at_drained;
  size_t bare_at_drained;
  bool held_freed;
  bool held_freed_before_drained;
  size_t log_lines;
  size_t bare_at_stop;         /* refused sockets closing at stop */
} fixture_t;

/* The log callback has no context pointer (the services' own loggers are
 * process-wide too). */
static fixture_t *log_fx;

/* ---- loop helpers ---- */

static void on_timeout(uv_timer_t *t) {
  fixture_t *fx = t->data;
  fx->timed_out = true;
}

/* Run the loop until cond holds; fail instead of hanging. */
#define RUN_UNTIL(fx, cond)                                              \
  do {                                                                   \
    uv_timer_start(&(fx)->timeout, on_timeout, WAIT_MS, 0);              \
    while (!(cond) && !(fx)->timed_out)                                  \
      uv_run(&(fx)->loop, UV_RUN_ONCE);                                  \
    uv_timer_stop(&(fx)->timeout);                                       \
    assert_false((fx)->timed_out);                                       \
  } while (0)

static void close_walk_cb(uv_handle_t *h, void *arg) {
  (void)arg;
  if (!uv_is_closing(h))
    uv_close(h, NULL);
}

/* ---- the test service ---- */

static fixture_t *fixture_of(net_tcp_conn_t *nc) {
  return container_of(nc->server, fixture_t, net);
}

static void on_timer_close(uv_handle_t *h) {
  test_conn_t *c = container_of((uv_timer_t *)h, test_conn_t, timer);
  net_tcp_conn_release(&c->net);
}

static void conn_init(net_tcp_conn_t *nc) {
  test_conn_t *c = container_of(nc, test_conn_t, net);
  assert_int_equal(uv_timer_init(nc->server->loop, &c->timer), 0);
  net_tcp_conn_hold(nc);
}

static void svc_accept(net_tcp_conn_t *nc) {
  fixture_of(nc)->accepts++;
  conn_init(nc);
}

/* Like the sort service: the refused client is told why, and the conn
 * stays open (until the test closes it) so that it counts. */
static void svc_refuse(net_tcp_conn_t *nc) {
  fixture_of(nc)->refuses++;
  conn_init(nc);
  uv_buf_t buf = uv_buf_init(BUSY, sizeof(BUSY) - 1);
  assert_int_equal(uv_try_write((uv_stream_t *)&nc->tcp, &buf, 1),
                   (int)buf.len);
}

/* Like DNS over TCP: a client outside the allow list is served, with
 * refusals. */
static void svc_deny(net_tcp_conn_t *nc) {
  fixture_of(nc)->denies++;
  conn_init(nc);
  uv_buf_t buf = uv_buf_init(DENIED, sizeof(DENIED) - 1);
  assert_int_equal(uv_try_write((uv_stream_t *)&nc->tcp, &buf, 1),
                   (int)buf.len);
}

static void svc_close(net_tcp_conn_t *nc) {
  test_conn_t *c = container_of(nc, test_conn_t, net);
  fixture_of(nc)->closes++;
  if (!uv_is_closing((uv_handle_t *)&c->timer))
    uv_close((uv_handle_t *)&c->timer, on_timer_close);
  net_tcp_conn_close(nc);
}

static void svc_free(net_tcp_conn_t *nc) {
  fixture_t *fx = fixture_of(nc);
  fx->frees++;
  if (fx->drained > 0)
    fx->frees_after_drained++;
  if (nc == fx->held) {
    fx->held_freed = true;
    fx->held = NULL;
  }
}

static void svc_drained(net_tcp_t *t) {
  fixture_t *fx = container_of(t, fixture_t, net);
  fx->drained++;
  fx->frees_at_drained = fx->frees;
  fx->conns_at_drained = t->n_conns;
  fx->bare_at_drained = t->n_bare;
  fx->held_freed_before_drained = fx->held_freed;
}

static void svc_log(int level, const char *fmt, ...) {
  (void)level;
  (void)fmt;
  log_fx->log_lines++;
}

static net_tcp_config_t config(size_t max, size_t hard, bool refuse) {
  return (net_tcp_config_t){
      .name = "test",
      .conn_size = sizeof(test_conn_t),
      .max_connections = max,
      .hard_limit = hard,
      .on_accept = svc_accept,
      .on_refuse = refuse ? svc_refuse : NULL, /* NULL: closed at once */
      .on_close = svc_close,
      .on_free = svc_free,
      .log = svc_log,
  };
}

static void start(fixture_t *fx, const net_tcp_config_t *cfg) {
  struct sockaddr_storage bound;
  int namelen = sizeof(bound);
  assert_int_equal(uv_ip4_addr("127.0.0.1", 0, &fx->addr), 0);
  assert_int_equal(
      net_tcp_start(&fx->net, &fx->loop, (struct sockaddr *)&fx->addr, cfg),
      0);
  fx->started = true;
  assert_int_equal(uv_tcp_getsockname(&fx->net.listener,
                                      (struct sockaddr *)&bound, &namelen),
                   0);
  fx->addr.sin_port = ((struct sockaddr_in *)&bound)->sin_port;
  assert_int_not_equal(fx->addr.sin_port, 0);
}

/* Close the listener and every connection. */
static void stop(fixture_t *fx) {
  fx->stopped = true;
  net_tcp_stop(&fx->net, svc_drained);
  net_tcp_close_all(&fx->net);
}

/* The i-th connection the server has (the newest first in its list). */
static net_tcp_conn_t *server_conn(fixture_t *fx, size_t i) {
  net_tcp_conn_t *nc = LIST_FIRST(&fx->net.conns);
  while (nc != NULL && i-- > 0)
    nc = LIST_NEXT(nc, link);
  assert_non_null(nc);
  return nc;
}

/* ---- clients ---- */

/* From source (an address in 127/8, all of it local), or the kernel's
 * choice when NULL. */
static int client_connect_from(fixture_t *fx, const char *source) {
  assert_true(fx->n_clients < MAX_CLIENTS);
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  assert_true(fd >= 0);
  if (source != NULL) {
    struct sockaddr_in from;
    assert_int_equal(uv_ip4_addr(source, 0, &from), 0);
    assert_int_equal(bind(fd, (struct sockaddr *)&from, sizeof(from)), 0);
  }
  assert_int_equal(
      connect(fd, (struct sockaddr *)&fx->addr, sizeof(fx->addr)), 0);
  fx->clients[fx->n_clients++] = fd;
  return fd;
}

static int client_connect(fixture_t *fx) {
  return client_connect_from(fx, NULL);
}

static uint64_t arrivals(const fixture_t *fx) {
  return fx->net.accepted + fx->net.refused + fx->net.denied + fx->net.dropped;
}

/* Connect and let the server take the connection: accepted, refused,
 * denied or dropped, it counts once. */
static int client_arrive_from(fixture_t *fx, const char *source) {
  uint64_t before = arrivals(fx);
  int fd = client_connect_from(fx, source);
  RUN_UNTIL(fx, arrivals(fx) > before);
  return fd;
}

static int client_arrive(fixture_t *fx) {
  return client_arrive_from(fx, NULL);
}

typedef enum { PEER_OPEN, PEER_CLOSED } peer_t;

/* What the client sees without waiting: data is appended to got. */
static peer_t client_poll(int fd, char *got, size_t cap) {
  char buf[64];
  ssize_t n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
  if (n > 0 && got != NULL) {
    size_t have = strlen(got);
    size_t take = (size_t)n < cap - 1 - have ? (size_t)n : cap - 1 - have;
    memcpy(got + have, buf, take);
    got[have + take] = '\0';
  }
  if (n == 0 || (n < 0 && errno == ECONNRESET))
    return PEER_CLOSED;
  return PEER_OPEN;
}

/* Run the loop until the server has closed fd; got collects what it
 * wrote before. */
static void until_closed(fixture_t *fx, int fd, char *got, size_t cap) {
  RUN_UNTIL(fx, client_poll(fd, got, cap) == PEER_CLOSED);
}

static bool is_open(int fd) {
  return client_poll(fd, NULL, 0) == PEER_OPEN;
}

/* ---- fixture ---- */

static int setup(void **state) {
  fixture_t *fx = calloc(1, sizeof(*fx));
  assert_non_null(fx);
  assert_int_equal(uv_loop_init(&fx->loop), 0);
  assert_int_equal(uv_timer_init(&fx->loop, &fx->timeout), 0);
  assert_int_equal(uv_timer_init(&fx->loop, &fx->later), 0);
  fx->timeout.data = fx;
  fx->later.data = fx;
  log_fx = fx;
  *state = fx;
  return 0;
}

static int teardown(void **state) {
  fixture_t *fx = *state;
  if (fx->started && !fx->stopped)
    stop(fx);
  if (fx->held != NULL) {
    net_tcp_conn_release(fx->held);
    fx->held = NULL;
  }
  uv_walk(&fx->loop, close_walk_cb, NULL);
  uv_run(&fx->loop, UV_RUN_DEFAULT);
  if (fx->started) {
    assert_int_equal(fx->drained, 1);
    assert_int_equal(fx->net.n_conns, 0);
    assert_true(LIST_EMPTY(&fx->net.conns));
  }
  assert_int_equal(uv_loop_close(&fx->loop), 0);
  for (size_t i = 0; i < fx->n_clients; i++)
    close(fx->clients[i]);
  log_fx = NULL;
  free(fx);
  return 0;
}

/* ---- tests ---- */

static void test_connections_under_the_limit_go_to_on_accept(void **state) {
  fixture_t *fx = *state;
  net_tcp_config_t cfg = config(3, 0, true);
  start(fx, &cfg);
  int a = client_arrive(fx);
  int b = client_arrive(fx);
  int c = client_arrive(fx);
  assert_int_equal(fx->accepts, 3);
  assert_int_equal(fx->net.accepted, 3);
  assert_int_equal(fx->refuses, 0);
  assert_int_equal(fx->net.refused + fx->net.dropped, 0);
  assert_int_equal(fx->net.n_conns, 3);
  assert_true(is_open(a) && is_open(b) && is_open(c));
}

static void test_past_the_limit_without_on_refuse_closes_at_once(
    void **state) {
  fixture_t *fx = *state;
  net_tcp_config_t cfg = config(2, 0, false);
  start(fx, &cfg);
  int a = client_arrive(fx);
  int b = client_arrive(fx);
  int c = client_arrive(fx);
  char got[16] = "";
  until_closed(fx, c, got, sizeof(got));
  assert_string_equal(got, "");
  assert_int_equal(fx->net.refused, 1);
  assert_int_equal(fx->net.accepted, 2);
  assert_int_equal(fx->refuses, 0);   /* no conn struct for it */
  assert_int_equal(fx->net.n_conns, 2);
  assert_true(is_open(a) && is_open(b));

  /* Once a place is free, the next one is served again. */
  svc_close(server_conn(fx, 0));
  RUN_UNTIL(fx, fx->net.n_conns == 1);
  client_arrive(fx);
  assert_int_equal(fx->net.accepted, 3);
  assert_int_equal(fx->net.refused, 1);
}

static void test_past_the_limit_the_service_refuses_with_a_conn(
    void **state) {
  fixture_t *fx = *state;
  net_tcp_config_t cfg = config(1, 0, true);
  start(fx, &cfg);
  int a = client_arrive(fx);
  int b = client_arrive(fx);
  assert_int_equal(fx->accepts, 1);
  assert_int_equal(fx->refuses, 1);
  assert_int_equal(fx->net.refused, 1);
  /* The refused conn is open while it is being answered, and counts. */
  assert_int_equal(fx->net.n_conns, 2);
  char got[16] = "";
  RUN_UNTIL(fx, client_poll(b, got, sizeof(got)) == PEER_OPEN &&
                    strcmp(got, BUSY) == 0);
  assert_true(is_open(a));
}

static void test_past_the_hard_limit_connections_are_dropped_unanswered(
    void **state) {
  fixture_t *fx = *state;
  net_tcp_config_t cfg = config(1, 3, true);
  start(fx, &cfg);
  int served = client_arrive(fx);
  int busy1 = client_arrive(fx);
  int busy2 = client_arrive(fx);
  int dropped = client_arrive(fx);
  assert_int_equal(fx->net.accepted, 1);
  assert_int_equal(fx->net.refused, 2);
  assert_int_equal(fx->net.dropped, 1);
  assert_int_equal(fx->refuses, 2);   /* the dropped one never reached it */
  assert_int_equal(fx->net.n_conns, 3);
  char got[16] = "";
  until_closed(fx, dropped, got, sizeof(got));
  assert_string_equal(got, "");       /* unanswered */
  assert_true(is_open(served) && is_open(busy1) && is_open(busy2));

  /* A refused conn that goes makes room for a refusal again. */
  net_tcp_conn_t *newest = server_conn(fx, 0);
  svc_close(newest);
  RUN_UNTIL(fx, fx->net.n_conns == 2);
  int again = client_arrive(fx);
  assert_int_equal(fx->net.refused, 3);
  assert_int_equal(fx->net.dropped, 1);
  memset(got, 0, sizeof(got));
  RUN_UNTIL(fx, client_poll(again, got, sizeof(got)) == PEER_OPEN &&
                    strcmp(got, BUSY) == 0);
}

static void on_later(uv_timer_t *t) {
  fixture_t *fx = t->data;
  /* The last reference: this frees the conn (svc_free clears held). */
  net_tcp_conn_release(fx->held);
}

static void test_drained_runs_once_after_the_last_conn_is_freed(
    void **state) {
  fixture_t *fx = *state;
  net_tcp_config_t cfg = config(2, 0, true);
  start(fx, &cfg);
  int fds[3];
  for (size_t i = 0; i < 3; i++)
    fds[i] = client_arrive(fx);
  /* Something else (a job on a worker, say) still points at the oldest
   * conn: it must outlive its handles. */
  fx->held = server_conn(fx, 2);
  net_tcp_conn_hold(fx->held);

  net_tcp_stop(&fx->net, svc_drained);
  fx->stopped = true;
  assert_int_equal(fx->drained, 0); /* never from inside the call */
  /* The listener is closed, the conns go on. */
  uv_run(&fx->loop, UV_RUN_NOWAIT);
  assert_int_equal(fx->drained, 0);
  assert_int_equal(fx->net.n_conns, 3);
  assert_true(is_open(fds[0]) && is_open(fds[1]) && is_open(fds[2]));
  int refused = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  assert_true(refused >= 0);
  assert_int_not_equal(
      connect(refused, (struct sockaddr *)&fx->addr, sizeof(fx->addr)), 0);
  assert_int_equal(errno, ECONNREFUSED);
  close(refused);

  net_tcp_close_all(&fx->net);
  assert_int_equal(fx->closes, 3);
  uv_timer_start(&fx->later, on_later, 50, 0);
  RUN_UNTIL(fx, fx->drained == 1);
  assert_int_equal(fx->frees, 3);
  assert_int_equal(fx->frees_at_drained, 3);
  assert_int_equal(fx->conns_at_drained, 0);
  assert_true(fx->held_freed_before_drained);
  for (size_t i = 0; i < 3; i++) {
    char got[16] = "";
    until_closed(fx, fds[i], got, sizeof(got));
  }
  /* close_all a second time, and more turns of the loop: still once. */
  net_tcp_close_all(&fx->net);
  net_tcp_stop(&fx->net, svc_drained);
  uv_run(&fx->loop, UV_RUN_NOWAIT);
  assert_int_equal(fx->drained, 1);
  assert_int_equal(fx->frees_after_drained, 0);
}

/* libuv runs check callbacks after I/O and before close callbacks: the
 * refused socket's bare handle is still closing here. */
static void on_check_stop(uv_check_t *h) {
  fixture_t *fx = h->data;
  if (fx->net.refused == 0 || fx->stopped)
    return;
  fx->bare_at_stop = fx->net.n_bare;
  stop(fx);
  uv_close((uv_handle_t *)h, NULL);
}

static void test_stop_waits_for_refused_sockets_still_closing(void **state) {
  fixture_t *fx = *state;
  net_tcp_config_t cfg = config(0, 0, false);
  start(fx, &cfg);
  uv_check_t check;
  assert_int_equal(uv_check_init(&fx->loop, &check), 0);
  check.data = fx;
  assert_int_equal(uv_check_start(&check, on_check_stop), 0);
  int fd = client_connect(fx);
  RUN_UNTIL(fx, fx->drained == 1);
  assert_int_equal(fx->bare_at_stop, 1);
  assert_int_equal(fx->bare_at_drained, 0);
  assert_int_equal(fx->net.refused, 1);
  assert_int_equal(fx->accepts + fx->refuses + fx->frees, 0);
  char got[16] = "";
  until_closed(fx, fd, got, sizeof(got));
}

static void test_stop_with_no_conns_drains_from_a_callback(void **state) {
  fixture_t *fx = *state;
  net_tcp_config_t cfg = config(1, 0, true);
  start(fx, &cfg);
  stop(fx);
  assert_int_equal(fx->drained, 0);
  RUN_UNTIL(fx, fx->drained == 1);
}

static void test_a_port_in_use_fails_and_stop_is_then_a_no_op(void **state) {
  fixture_t *fx = *state;
  net_tcp_config_t cfg = config(1, 0, true);
  start(fx, &cfg);
  net_tcp_t *clash = calloc(1, sizeof(*clash));
  assert_non_null(clash);
  /* uv_tcp_bind defers EADDRINUSE to uv_listen. */
  assert_int_equal(net_tcp_start(clash, &fx->loop,
                                 (struct sockaddr *)&fx->addr, &cfg),
                   UV_EADDRINUSE);
  net_tcp_stop(clash, svc_drained);
  uv_run(&fx->loop, UV_RUN_NOWAIT); /* the failed listener's close */
  assert_int_equal(fx->drained, 0);
  free(clash);
  client_arrive(fx);
  assert_int_equal(fx->net.accepted, 1);
}

static void test_reuseport_lets_two_listeners_share_a_port(void **state) {
  fixture_t *fx = *state;
  net_tcp_config_t cfg = config(1, 0, true);
  cfg.reuseport = true;
  start(fx, &cfg);
  net_tcp_t *twin = calloc(1, sizeof(*twin));
  assert_non_null(twin);
  assert_int_equal(
      net_tcp_start(twin, &fx->loop, (struct sockaddr *)&fx->addr, &cfg), 0);
  assert_true(twin->listening);
  net_tcp_stop(twin, NULL);
  uv_run(&fx->loop, UV_RUN_NOWAIT);
  assert_false(twin->listening);
  free(twin);
  client_arrive(fx);
}

/* libuv reports accept errors it cannot shed itself (ENFILE with no spare
 * descriptor, ENOBUFS...) through the connection callback with a status;
 * they cannot be caused on demand, so the callback is called as libuv
 * calls it. */
static void test_accept_errors_are_counted_and_logged_at_powers_of_two(
    void **state) {
  fixture_t *fx = *state;
  net_tcp_config_t cfg = config(1, 0, true);
  start(fx, &cfg);
  uv_stream_t *listener = (uv_stream_t *)&fx->net.listener;
  for (int i = 0; i < 9; i++)
    listener->connection_cb(listener, UV_ENFILE);
  assert_int_equal(fx->net.accept_errors, 9);
  assert_int_equal(fx->log_lines, 4); /* the 1st, 2nd, 4th and 8th */
  /* And the listener goes on. */
  client_arrive(fx);
  assert_int_equal(fx->net.accepted, 1);
}

/* Out of descriptors, libuv sheds the pending connection (it closes a
 * spare descriptor, accepts and closes); the listener must not stall and
 * serves again once descriptors are back. */
static void test_out_of_descriptors_sheds_then_serves_again(void **state) {
  fixture_t *fx = *state;
  net_tcp_config_t cfg = config(4, 0, true);
  start(fx, &cfg);
  int shed = client_connect(fx);

  struct rlimit old, low;
  assert_int_equal(getrlimit(RLIMIT_NOFILE, &old), 0);
  /* Fill every free descriptor below a lowered limit. */
  low = old;
  low.rlim_cur = 64;
  assert_int_equal(setrlimit(RLIMIT_NOFILE, &low), 0);
  int fillers[64];
  size_t n_fillers = 0;
  for (;;) {
    int fd = dup(0);
    if (fd < 0) {
      assert_int_equal(errno, EMFILE);
      break;
    }
    assert_true(n_fillers < 64);
    fillers[n_fillers++] = fd;
  }
  char got[16] = "";
  until_closed(fx, shed, got, sizeof(got));
  assert_int_equal(fx->accepts, 0);
  for (size_t i = 0; i < n_fillers; i++)
    close(fillers[i]);
  assert_int_equal(setrlimit(RLIMIT_NOFILE, &old), 0);

  client_arrive(fx);
  assert_int_equal(fx->accepts, 1);
}

static net_acl_t *acl_of(const char *cidr) {
  static net_acl_t acl;
  net_acl_init(&acl);
  assert_int_equal(net_acl_add(&acl, cidr), NET_ACL_OK);
  return &acl;
}

static void test_a_client_outside_the_acl_is_closed_unread(void **state) {
  fixture_t *fx = *state;
  net_tcp_config_t cfg = config(4, 0, true);
  cfg.acl = acl_of("127.0.0.1/32");
  start(fx, &cfg);
  int out = client_arrive_from(fx, "127.0.0.2");
  char got[16] = "";
  until_closed(fx, out, got, sizeof(got));
  assert_string_equal(got, "");
  assert_int_equal(fx->net.denied, 1);
  assert_int_equal(fx->net.accepted + fx->net.refused, 0);
  assert_int_equal(fx->accepts + fx->refuses + fx->denies, 0);
  RUN_UNTIL(fx, fx->net.n_conns == 0);
  assert_int_equal(fx->frees, 0);     /* never handed: no on_free */

  int in = client_arrive_from(fx, "127.0.0.1");
  assert_int_equal(fx->accepts, 1);
  assert_int_equal(fx->net.denied, 1);
  assert_true(is_open(in));
}

static void test_a_denied_client_goes_to_on_deny_before_the_limit(
    void **state) {
  fixture_t *fx = *state;
  net_tcp_config_t cfg = config(1, 0, true);
  cfg.acl = acl_of("127.0.0.1/32");
  cfg.on_deny = svc_deny;
  start(fx, &cfg);
  int in = client_arrive_from(fx, "127.0.0.1");
  /* Over the limit and outside the list: denial wins over "busy". */
  int out = client_arrive_from(fx, "127.0.0.3");
  assert_int_equal(fx->denies, 1);
  assert_int_equal(fx->refuses, 0);
  assert_int_equal(fx->net.denied, 1);
  assert_true(is_open(in));
  /* The denied conn is the service's like any other: closed and freed
   * through it. */
  char got[16] = "";
  svc_close(server_conn(fx, 0));
  until_closed(fx, out, got, sizeof(got));
  assert_string_equal(got, DENIED);
  RUN_UNTIL(fx, fx->frees == 1);
  assert_true(is_open(in));
}

#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)

int main(void) {
  const struct CMUnitTest tests[] = {
      T(test_connections_under_the_limit_go_to_on_accept),
      T(test_past_the_limit_without_on_refuse_closes_at_once),
      T(test_past_the_limit_the_service_refuses_with_a_conn),
      T(test_past_the_hard_limit_connections_are_dropped_unanswered),
      T(test_drained_runs_once_after_the_last_conn_is_freed),
      T(test_stop_waits_for_refused_sockets_still_closing),
      T(test_stop_with_no_conns_drains_from_a_callback),
      T(test_a_port_in_use_fails_and_stop_is_then_a_no_op),
      T(test_reuseport_lets_two_listeners_share_a_port),
      T(test_accept_errors_are_counted_and_logged_at_powers_of_two),
      T(test_out_of_descriptors_sheds_then_serves_again),
      T(test_a_client_outside_the_acl_is_closed_unread),
      T(test_a_denied_client_goes_to_on_deny_before_the_limit),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
