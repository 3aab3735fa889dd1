/* Unit tests for the forwarder (dns_forward) on a real libuv loop with
 * c-ares: the upstream is a UDP socket on the same loop that answers,
 * ignores, or answers garbage, so every path (hit, miss, coalescing,
 * cancel, timeout, the in-flight bound, close with queries in flight) runs
 * in-process, and the teardown asserts uv_loop_close() == 0. The upstream
 * servers of the integration tests (tests/test_integration_forward.py) are
 * real ones. */
#include "test_util.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <arpa/inet.h>
#include <ares.h>
#include <uv.h>

#include "dns_forward.h"
#include "dns_wire.h"

typedef enum { UP_ANSWER, UP_IGNORE, UP_GARBAGE } upstream_mode_t;

typedef struct {
  uv_loop_t loop;
  uv_udp_t upstream;
  uv_timer_t guard;
  upstream_mode_t mode;
  int upstream_queries;
  uint16_t ids[512];            /* IDs the upstream saw, in order */
  uint32_t qhash[512];          /* and a hash of each one's question */
  uint16_t qport[512];          /* and the source port it came from */
  uint16_t ports[512];          /* the distinct source ports they came from */
  int port_queries[512];        /* and how many from each */
  size_t n_ports;
  uint8_t last_query[512];
  size_t last_query_len;
  dns_forward_t *fwd;
  bool timed_out;
  int closed;
  struct sockaddr_storage upstream_addr;
} fixture_t;

typedef struct {
  dns_forward_req_t req;
  int calls;
  uint8_t reply[1232];
  size_t len;
  uint64_t at_ms;               /* loop time of the callback */
  fixture_t *fx;
} client_t;

static uint16_t get16(const uint8_t *p) { return (uint16_t)(p[0] << 8 | p[1]); }

/* A query for name (dotted, no trailing dot) into out. */
static size_t make_query(uint8_t *out, uint16_t id, const char *name, uint16_t qtype) {
  size_t n = 0;
  out[n++] = (uint8_t)(id >> 8);
  out[n++] = (uint8_t)id;
  out[n++] = 0x01; /* RD */
  out[n++] = 0x00;
  static const uint8_t counts[] = {0, 1, 0, 0, 0, 0, 0, 0};
  memcpy(out + n, counts, sizeof(counts));
  n += sizeof(counts);
  const char *s = name;
  while (*s) {
    const char *dot = strchr(s, '.');
    size_t len = dot ? (size_t)(dot - s) : strlen(s);
    out[n++] = (uint8_t)len;
    memcpy(out + n, s, len);
    n += len;
    s += len + (dot ? 1 : 0);
  }
  out[n++] = 0;
  out[n++] = (uint8_t)(qtype >> 8);
  out[n++] = (uint8_t)qtype;
  out[n++] = 0;
  out[n++] = 1;
  return n;
}

/* ---- the upstream on the loop ---- */

static uint8_t up_buf[65536];
static uint8_t up_reply[65536];

static void up_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf) {
  (void)h;
  (void)suggested;
  *buf = uv_buf_init((char *)up_buf, sizeof(up_buf));
}

/* Where the first question of a query ends (after QTYPE and QCLASS), read
 * with dns_wire's reader; 0 when it cannot be read. */
static size_t question_end(const uint8_t *q, size_t len) {
  dns_reader_t r = dns_reader(q, len);
  dns_header_t h;
  dns_question_t question;
  if (!dns_read_header(&r, &h) || !dns_read_question(&r, &question))
    return 0;
  return r.pos;
}

static void up_recv(uv_udp_t *h, ssize_t nread, const uv_buf_t *buf,
                    const struct sockaddr *addr, unsigned flags) {
  fixture_t *fx = h->data;
  (void)buf;
  (void)flags;
  if (nread < DNS_HEADER_SIZE || addr == NULL)
    return;
  if (fx->upstream_queries < (int)ARRAY_LEN(fx->ids)) {
    fx->ids[fx->upstream_queries] = get16(up_buf);
    uint32_t hq = 2166136261u; /* FNV-1a of the question's bytes */
    for (size_t i = DNS_HEADER_SIZE; i < question_end(up_buf, (size_t)nread); i++)
      hq = (hq ^ up_buf[i]) * 16777619u;
    fx->qhash[fx->upstream_queries] = hq;
    fx->qport[fx->upstream_queries] = ntohs(((const struct sockaddr_in *)addr)->sin_port);
  }
  fx->upstream_queries++;
  uint16_t port = ntohs(((const struct sockaddr_in *)addr)->sin_port);
  size_t k = 0;
  while (k < fx->n_ports && fx->ports[k] != port)
    k++;
  if (k == fx->n_ports && k < ARRAY_LEN(fx->ports))
    fx->ports[fx->n_ports++] = port;
  if (k < ARRAY_LEN(fx->ports))
    fx->port_queries[k]++;
  fx->last_query_len = (size_t)nread < sizeof(fx->last_query) ? (size_t)nread : sizeof(fx->last_query);
  memcpy(fx->last_query, up_buf, fx->last_query_len);
  if (fx->mode == UP_IGNORE)
    return;

  /* Header and question as asked, then one A record, or a broken one;
   * the forwarder's OPT is not echoed. The question ends where its name
   * and type/class do: c-ares >= 1.33 adds a COOKIE option to our OPT,
   * so the OPT's length is not fixed. */
  size_t qend = question_end(up_buf, (size_t)nread);
  if (qend == 0)
    return;
  memcpy(up_reply, up_buf, qend);
  up_reply[2] = 0x81; /* QR, RD */
  up_reply[3] = 0x80; /* RA */
  up_reply[7] = 1;    /* ANCOUNT */
  up_reply[11] = 0;   /* no OPT back */
  static const uint8_t rr[] = {0xC0, 0x0C, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 192, 0, 2, 33};
  size_t n = qend;
  memcpy(up_reply + n, rr, sizeof(rr));
  n += sizeof(rr);
  if (fx->mode == UP_GARBAGE)
    n -= 3; /* RDLENGTH says 4, only 1 byte follows */
  uv_buf_t out = uv_buf_init((char *)up_reply, (unsigned)n);
  uv_udp_try_send(h, &out, 1, addr);
}

static void on_guard(uv_timer_t *t) {
  fixture_t *fx = t->data;
  fx->timed_out = true;
}

static int setup(void **state) {
  fixture_t *fx = calloc(1, sizeof(*fx));
  assert_non_null(fx);
  assert_int_equal(uv_loop_init(&fx->loop), 0);
  assert_int_equal(uv_udp_init(&fx->loop, &fx->upstream), 0);
  fx->upstream.data = fx;
  struct sockaddr_in a;
  uv_ip4_addr("127.0.0.1", 0, &a);
  assert_int_equal(uv_udp_bind(&fx->upstream, (struct sockaddr *)&a, 0), 0);
  int len = sizeof(fx->upstream_addr);
  uv_udp_getsockname(&fx->upstream, (struct sockaddr *)&fx->upstream_addr, &len);
  assert_int_equal(uv_udp_recv_start(&fx->upstream, up_alloc, up_recv), 0);
  uv_timer_init(&fx->loop, &fx->guard);
  fx->guard.data = fx;
  *state = fx;
  return 0;
}

static void close_walk(uv_handle_t *h, void *arg) {
  (void)arg;
  if (!uv_is_closing(h))
    uv_close(h, NULL);
}

static void on_fwd_closed(dns_forward_t *f, void *data) {
  (void)f;
  fixture_t *fx = data;
  fx->closed++;
  fx->fwd = NULL;
}

static int teardown(void **state) {
  fixture_t *fx = *state;
  if (fx->fwd != NULL)
    dns_forward_close(fx->fwd, on_fwd_closed, fx);
  /* The forwarder closes its own handles first; then everything else. */
  while (fx->fwd != NULL)
    uv_run(&fx->loop, UV_RUN_ONCE);
  uv_walk(&fx->loop, close_walk, NULL);
  uv_run(&fx->loop, UV_RUN_DEFAULT);
  assert_int_equal(uv_loop_close(&fx->loop), 0);
  free(fx);
  return 0;
}

static void start_rotating(fixture_t *fx, upstream_mode_t mode,
                           uint64_t timeout_ms, size_t max_inflight,
                           size_t cache_size, size_t udp_max_queries) {
  dns_forward_config_t cfg;
  dns_forward_config_default(&cfg);
  cfg.udp_max_queries = udp_max_queries;
  /* The pool, whatever c-ares we run with: c-ares >= 1.20 would rotate
   * by itself. */
  cfg.own_rotation = true;
  cfg.upstreams = &fx->upstream_addr;
  cfg.n_upstreams = 1;
  cfg.timeout_ms = timeout_ms;
  cfg.max_inflight = max_inflight;
  cfg.cache_size = cache_size;
  fx->mode = mode;
  assert_int_equal(dns_forward_new(&fx->loop, &cfg, &fx->fwd), 0);
}

static void start(fixture_t *fx, upstream_mode_t mode, uint64_t timeout_ms,
                  size_t max_inflight, size_t cache_size) {
  start_rotating(fx, mode, timeout_ms, max_inflight, cache_size,
                 DNS_FORWARD_DEFAULT_UDP_MAX_QUERIES);
}

/* Run the loop until *count reaches want, failing after limit_ms. */
static void run_until(fixture_t *fx, const int *count, int want, uint64_t limit_ms) {
  fx->timed_out = false;
  uv_timer_start(&fx->guard, on_guard, limit_ms, 0);
  while (*count < want && !fx->timed_out)
    uv_run(&fx->loop, UV_RUN_ONCE);
  uv_timer_stop(&fx->guard);
  if (*count < want)
    fail_msg("waited %llu ms for %d callbacks, got %d", (unsigned long long)limit_ms, want, *count);
}

static int calls;

static void on_reply(dns_forward_req_t *req, const uint8_t *reply, size_t len) {
  client_t *c = (client_t *)req; /* req is the first member */
  c->calls++;
  calls++;
  assert_true(len <= sizeof(c->reply));
  memcpy(c->reply, reply, len);
  c->len = len;
  c->at_ms = uv_now(&c->fx->loop);
}

/* lookup (must miss) then send. */
static void send_query(fixture_t *fx, client_t *c, uint16_t id, const char *name) {
  uint8_t pkt[300], out[1232];
  size_t n = make_query(pkt, id, name, DNS_TYPE_A), out_len;
  memset(c, 0, sizeof(*c));
  c->fx = fx;
  assert_int_equal(dns_forward_lookup(fx->fwd, DNS_TRANSPORT_UDP, pkt, n, out,
                                      sizeof(out), &out_len),
                   DNS_FORWARD_MISS);
  assert_int_equal(dns_forward_send(fx->fwd, &c->req, DNS_TRANSPORT_UDP, pkt, n, on_reply), 0);
}

/* ---- tests ---- */

static void test_bad_configs_are_refused(void **state) {
  fixture_t *fx = *state;
  dns_forward_config_t cfg;
  dns_forward_t *f = NULL;
  dns_forward_config_default(&cfg);
  assert_int_equal(dns_forward_new(&fx->loop, &cfg, &f), UV_EINVAL); /* no upstream */
  assert_null(f);
  cfg.upstreams = &fx->upstream_addr;
  cfg.n_upstreams = 1;
  cfg.max_inflight = DNS_FORWARD_MAX_INFLIGHT + 1;
  assert_int_equal(dns_forward_new(&fx->loop, &cfg, &f), UV_EINVAL);
  cfg.max_inflight = 0;
  assert_int_equal(dns_forward_new(&fx->loop, &cfg, &f), UV_EINVAL);
}

static void test_miss_goes_upstream_then_hits_the_cache(void **state) {
  fixture_t *fx = *state;
  client_t c;
  calls = 0;
  start(fx, UP_ANSWER, 2000, 16, 100);
  send_query(fx, &c, 0x1234, "WwW.example.com");
  run_until(fx, &calls, 1, 2000);
  assert_int_equal(c.calls, 1);
  assert_int_equal(get16(c.reply), 0x1234);
  assert_int_equal(c.reply[3] & 0xF, DNS_RCODE_NOERROR);
  assert_int_equal(get16(c.reply + 6), 1);
  assert_memory_equal(c.reply + 12, "\x03WwW", 4); /* the client's spelling */
  assert_memory_equal(c.reply + c.len - 4, "\xC0\x00\x02\x21", 4);

  /* What went upstream: RD as asked, our own ID, and our OPT last (1232
   * bytes, DO clear). c-ares >= 1.33 puts a client COOKIE option (RFC
   * 7873, code 10) in it; 1.18 sends it empty. */
  assert_int_equal(fx->upstream_queries, 1);
  assert_int_equal(fx->last_query[2] & 0x01, 0x01);
  assert_int_equal(get16(fx->last_query + 10), 1);
  size_t opt = question_end(fx->last_query, fx->last_query_len);
  assert_true(opt > 0 && opt + 11 <= fx->last_query_len);
  assert_memory_equal(fx->last_query + opt, "\x00\x00\x29\x04\xD0\x00\x00\x00\x00", 9);
  size_t rdlen = get16(fx->last_query + opt + 9);
  assert_int_equal(opt + 11 + rdlen, fx->last_query_len);
  if (rdlen > 0)
    assert_int_equal(get16(fx->last_query + opt + 11), 10);

  uint8_t pkt[300], out[1232];
  size_t n = make_query(pkt, 0x4321, "www.EXAMPLE.com", DNS_TYPE_A), out_len;
  assert_int_equal(dns_forward_lookup(fx->fwd, DNS_TRANSPORT_UDP, pkt, n, out,
                                      sizeof(out), &out_len),
                   DNS_FORWARD_REPLY);
  assert_int_equal(out_len, c.len);
  assert_int_equal(get16(out), 0x4321);
  assert_memory_equal(out + 12, pkt + 12, n - 12);
  assert_int_equal(fx->upstream_queries, 1);
  dns_forward_stats_t st;
  dns_forward_stats(fx->fwd, &st);
  assert_int_equal(st.cache_hits, 1);
  assert_int_equal(st.upstream_queries, 1);
  assert_int_equal(st.cache.entries, 1);
  assert_int_equal(st.inflight, 0);
}

static void test_identical_queries_share_one_upstream_query(void **state) {
  fixture_t *fx = *state;
  client_t c[3];
  calls = 0;
  start(fx, UP_ANSWER, 2000, 16, 0);
  send_query(fx, &c[0], 1, "same.example");
  send_query(fx, &c[1], 2, "SAME.example");
  send_query(fx, &c[2], 3, "same.EXAMPLE");
  run_until(fx, &calls, 3, 2000);
  assert_int_equal(fx->upstream_queries, 1);
  for (int i = 0; i < 3; i++) {
    assert_int_equal(c[i].calls, 1);
    assert_int_equal(get16(c[i].reply), i + 1);
    assert_int_equal(get16(c[i].reply + 6), 1);
  }
  assert_memory_equal(c[1].reply + 12, "\x04SAME", 5);
  dns_forward_stats_t st;
  dns_forward_stats(fx->fwd, &st);
  assert_int_equal(st.coalesced, 2);
  assert_int_equal(st.cache.entries, 0); /* cache size 0 */
}

static void test_cancelled_request_gets_no_callback(void **state) {
  fixture_t *fx = *state;
  client_t a, b;
  calls = 0;
  start(fx, UP_ANSWER, 2000, 16, 100);
  send_query(fx, &a, 1, "c.example");
  send_query(fx, &b, 2, "c.example");
  dns_forward_cancel(&a.req);
  dns_forward_cancel(&a.req); /* twice is harmless */
  run_until(fx, &calls, 1, 2000);
  assert_int_equal(a.calls, 0);
  assert_int_equal(b.calls, 1);

  /* A cancelled lone query still fills the cache. */
  send_query(fx, &a, 3, "lone.example");
  dns_forward_cancel(&a.req);
  uv_timer_start(&fx->guard, on_guard, 200, 0);
  fx->timed_out = false;
  while (!fx->timed_out)
    uv_run(&fx->loop, UV_RUN_ONCE);
  assert_int_equal(a.calls, 0);
  assert_int_equal(fx->upstream_queries, 2);
  uint8_t pkt[300], out[1232];
  size_t n = make_query(pkt, 4, "lone.example", DNS_TYPE_A), out_len;
  assert_int_equal(dns_forward_lookup(fx->fwd, DNS_TRANSPORT_UDP, pkt, n, out,
                                      sizeof(out), &out_len),
                   DNS_FORWARD_REPLY);
  assert_int_equal(get16(out + 6), 1);
  assert_int_equal(fx->upstream_queries, 2);
}

static void test_silent_upstream_is_servfail_after_the_budget(void **state) {
  fixture_t *fx = *state;
  client_t c;
  calls = 0;
  start(fx, UP_IGNORE, 300, 16, 100);
  uv_update_time(&fx->loop);
  uint64_t t0 = uv_now(&fx->loop);
  send_query(fx, &c, 0x7777, "silent.example");
  run_until(fx, &calls, 1, 3000);
  uint64_t took = c.at_ms - t0;
  /* c-ares 1.18 waits 100 + 200 ms. c-ares 1.34 waits longer than a try
   * timeout this small asks for (measured 503-693 ms for this 300 ms
   * budget; with the default 2000 ms budget a try is 667 ms): past 1.18
   * only the lower bound and "well under a second" are held. */
  int cares = 0;
  ares_version(&cares);
  uint64_t most = cares < 0x011300 ? 700 : 1000;
  assert_true(took >= 250 && took < most);
  assert_int_equal(get16(c.reply), 0x7777);
  assert_int_equal(c.reply[3] & 0xF, DNS_RCODE_SERVFAIL);
  assert_int_equal(c.reply[2] & 0x04, 0);    /* AA=0 */
  assert_int_equal(c.reply[3] & 0x80, 0x80); /* RA=1 */
  assert_int_equal(get16(c.reply + 4), 1);   /* the question is echoed */
  assert_int_equal(fx->upstream_queries, 2); /* a try and a retry */
}

static void test_inflight_bound_is_servfail_at_once(void **state) {
  fixture_t *fx = *state;
  client_t a, b, joined, extra;
  start(fx, UP_IGNORE, 5000, 2, 100);
  send_query(fx, &a, 1, "one.example");
  send_query(fx, &b, 2, "two.example");
  uint8_t pkt[300], out[1232];
  size_t n = make_query(pkt, 3, "three.example", DNS_TYPE_A), out_len;
  assert_int_equal(dns_forward_lookup(fx->fwd, DNS_TRANSPORT_UDP, pkt, n, out,
                                      sizeof(out), &out_len),
                   DNS_FORWARD_REPLY);
  assert_int_equal(get16(out), 3);
  assert_int_equal(out[3] & 0xF, DNS_RCODE_SERVFAIL);
  memset(&extra, 0, sizeof(extra));
  assert_int_equal(dns_forward_send(fx->fwd, &extra.req, DNS_TRANSPORT_UDP, pkt, n, on_reply),
                   UV_EBUSY);
  /* Joining a query already in flight costs no upstream query. */
  send_query(fx, &joined, 4, "one.example");
  dns_forward_stats_t st;
  dns_forward_stats(fx->fwd, &st);
  assert_int_equal(st.inflight, 2);
  assert_int_equal(st.waiters, 3);
  assert_int_equal(st.overloaded, 1);
  /* Closing answers whoever still waits: SERVFAIL, from the loop. */
  calls = 0;
  dns_forward_close(fx->fwd, on_fwd_closed, fx);
  assert_int_equal(calls, 0);
  run_until(fx, &fx->closed, 1, 2000);
  assert_int_equal(calls, 3);
  assert_int_equal(a.reply[3] & 0xF, DNS_RCODE_SERVFAIL);
  assert_int_equal(joined.reply[3] & 0xF, DNS_RCODE_SERVFAIL);
  assert_int_equal(get16(joined.reply), 4);
}

static void test_malformed_answer_is_servfail(void **state) {
  fixture_t *fx = *state;
  client_t c;
  calls = 0;
  start(fx, UP_GARBAGE, 2000, 16, 100);
  send_query(fx, &c, 9, "broken.example");
  run_until(fx, &calls, 1, 2000);
  assert_int_equal(c.reply[3] & 0xF, DNS_RCODE_SERVFAIL);
  dns_forward_stats_t st;
  dns_forward_stats(fx->fwd, &st);
  /* c-ares 1.18 hands the broken answer over and dns_cache_check
   * refuses it (invalid); newer c-ares refuse it themselves (EBADRESP, an
   * upstream failure). Either way: one, SERVFAIL, nothing cached. */
  assert_int_equal(st.invalid_answers + st.upstream_failures, 1);
  assert_int_equal(st.cache.entries, 0);
}

static int most_queries_on_one_port(const fixture_t *fx) {
  int most = 0;
  for (size_t i = 0; i < fx->n_ports; i++)
    most = fx->port_queries[i] > most ? fx->port_queries[i] : most;
  return most;
}

/* 100 overlapping queries at 10 per socket leave from 10 sockets, none
 * with more than 10; with rotation off, all from one. */
static void test_overlapping_queries_leave_from_rotating_ports(void **state) {
  fixture_t *fx = *state;
  static client_t c[100];
  char name[32];
  for (int round = 0; round < 2; round++) {
    size_t per_socket = round == 0 ? 10 : 0;
    start_rotating(fx, UP_IGNORE, 10000, 1024, 100, per_socket);
    fx->upstream_queries = 0;
    fx->n_ports = 0;
    memset(fx->port_queries, 0, sizeof(fx->port_queries));
    for (int i = 0; i < 100; i++) {
      snprintf(name, sizeof(name), "r%d.n%d.example", round, i);
      send_query(fx, &c[i], (uint16_t)i, name);
    }
    run_until(fx, &fx->upstream_queries, 100, 2000);
    if (per_socket > 0) {
      assert_int_equal(fx->n_ports, 10);
      assert_int_equal(most_queries_on_one_port(fx), 10);
    } else {
      assert_int_equal(fx->n_ports, 1);
    }
    dns_forward_stats_t st;
    dns_forward_stats(fx->fwd, &st);
    assert_int_equal(st.port_overruns, 0);
    calls = 0;
    dns_forward_close(fx->fwd, on_fwd_closed, fx);
    run_until(fx, &fx->closed, round + 1, 2000);
    assert_int_equal(calls, 100);
  }
}

/* Answered queries free their channel: one after the other, queries keep
 * being answered and never go past the bound on one socket. The pool is
 * bounded by DNS_FORWARD_MAX_CHANNELS: at one query per socket, the
 * queries past it go round the sockets (counted). */
static void test_channel_pool_is_reused_and_bounded(void **state) {
  fixture_t *fx = *state;
  static client_t c[DNS_FORWARD_MAX_CHANNELS + 50];
  char name[32];
  start_rotating(fx, UP_ANSWER, 5000, 1024, 0, 3);
  for (int i = 0; i < 30; i++) {
    snprintf(name, sizeof(name), "seq%d.example", i);
    calls = 0;
    send_query(fx, &c[0], (uint16_t)i, name);
    run_until(fx, &calls, 1, 2000);
    assert_int_equal(c[0].reply[3] & 0xF, DNS_RCODE_NOERROR);
  }
  assert_true(most_queries_on_one_port(fx) <= 3);
  dns_forward_close(fx->fwd, on_fwd_closed, fx);
  run_until(fx, &fx->closed, 1, 2000);

  start_rotating(fx, UP_IGNORE, 10000, 1024, 0, 1);
  fx->upstream_queries = 0;
  fx->n_ports = 0;
  memset(fx->port_queries, 0, sizeof(fx->port_queries));
  int n = (int)ARRAY_LEN(c);
  for (int i = 0; i < n; i++) {
    snprintf(name, sizeof(name), "wide%d.example", i);
    send_query(fx, &c[i], (uint16_t)i, name);
  }
  run_until(fx, &fx->upstream_queries, n, 5000);
  assert_int_equal(fx->n_ports, DNS_FORWARD_MAX_CHANNELS);
  assert_true(most_queries_on_one_port(fx) <= 2); /* spread, not piled up */
  dns_forward_stats_t st;
  dns_forward_stats(fx->fwd, &st);
  assert_int_equal(st.port_overruns, n - DNS_FORWARD_MAX_CHANNELS);
}

static void test_close_with_queries_in_flight_leaves_a_clean_loop(void **state) {
  fixture_t *fx = *state;
  static client_t c[200];
  start(fx, UP_IGNORE, 10000, 1024, 100);
  char name[32];
  for (int i = 0; i < 200; i++) {
    snprintf(name, sizeof(name), "n%d.example", i);
    send_query(fx, &c[i], (uint16_t)i, name);
  }
  run_until(fx, &fx->upstream_queries, 200, 2000);
  /* Random IDs, none used twice on one source port while in flight: a
   * reply is matched by port and ID. A resend of the same question keeps
   * its ID (c-ares 1.34 may resend before all 200 have left), and c-ares
   * 1.34 picks the IDs itself, unique per channel, so two sockets may
   * share one. */
  int sequential = 0;
  for (int i = 0; i < 200; i++) {
    for (int j = i + 1; j < 200; j++)
      if (fx->qhash[i] != fx->qhash[j] && fx->qport[i] == fx->qport[j])
        assert_int_not_equal(fx->ids[i], fx->ids[j]);
    if (i > 0 && fx->ids[i] == (uint16_t)(fx->ids[i - 1] + 1))
      sequential++;
  }
  assert_true(sequential < 10);
  /* Half the clients leave first; the rest get SERVFAIL at close. */
  for (int i = 0; i < 100; i++)
    dns_forward_cancel(&c[i].req);
  calls = 0;
  dns_forward_close(fx->fwd, on_fwd_closed, fx);
  dns_forward_close(fx->fwd, on_fwd_closed, fx); /* once is enough */
  run_until(fx, &fx->closed, 1, 2000);
  assert_int_equal(fx->closed, 1);
  assert_int_equal(calls, 100);
  assert_int_equal(c[0].calls, 0);
  assert_int_equal(c[150].reply[3] & 0xF, DNS_RCODE_SERVFAIL);
  /* teardown asserts uv_loop_close() == 0 */
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_bad_configs_are_refused, setup, teardown),
      cmocka_unit_test_setup_teardown(test_miss_goes_upstream_then_hits_the_cache, setup, teardown),
      cmocka_unit_test_setup_teardown(test_identical_queries_share_one_upstream_query, setup, teardown),
      cmocka_unit_test_setup_teardown(test_cancelled_request_gets_no_callback, setup, teardown),
      cmocka_unit_test_setup_teardown(test_silent_upstream_is_servfail_after_the_budget, setup, teardown),
      cmocka_unit_test_setup_teardown(test_inflight_bound_is_servfail_at_once, setup, teardown),
      cmocka_unit_test_setup_teardown(test_malformed_answer_is_servfail, setup, teardown),
      cmocka_unit_test_setup_teardown(test_close_with_queries_in_flight_leaves_a_clean_loop, setup, teardown),
      cmocka_unit_test_setup_teardown(test_overlapping_queries_leave_from_rotating_ports, setup, teardown),
      cmocka_unit_test_setup_teardown(test_channel_pool_is_reused_and_bounded, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
