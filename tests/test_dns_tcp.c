/* dns_tcp: the server on 127.0.0.1 port 0, driven by libuv clients on the
 * same loop. Every wait is bounded by a timeout timer, and teardown closes
 * every handle and checks that the loop closes cleanly. */
#include "test_util.h"

#include <stdbool.h>
#include <stdlib.h>

#include "dns_map.h"
#include "dns_stream.h"
#include "dns_tcp.h"
#include "dns_wire.h"
#include "dns_zone.h"

#define WAIT_MS 20000 /* a hang detector: generous under valgrind on a loaded machine */
#define MAX_CLIENTS 4
#define MAX_STORED_REPLIES 8
#define MAX_STORED_REPLY 2048

static const uint8_t facebook_addr[4] = {173, 252, 120, 6};
static const uint8_t yougov_addr[4] = {213, 52, 133, 246};
static const uint8_t wipo_addr[4] = {193, 5, 93, 80};
static const uint8_t localhost_addr[4] = {127, 0, 0, 1};

typedef struct fixture fixture_t;

typedef struct {
  uv_tcp_t tcp;
  uv_connect_t connect_req;
  fixture_t *fx;
  bool used;
  bool connected;
  int connect_status;
  bool eof;
  int read_error;
  size_t writes_done;
  dns_stream_t stream;
  size_t n_replies;
  uint8_t replies[MAX_STORED_REPLIES][MAX_STORED_REPLY];
  size_t reply_len[MAX_STORED_REPLIES];
  /* For long runs: replies are expected with IDs 0, 1, 2, ... */
  uint16_t next_id;
  size_t out_of_order;
  uint8_t rx[64 * 1024];
} client_t;

struct fixture {
  uv_loop_t loop;
  uv_timer_t timeout;
  uv_timer_t pause;
  uv_check_t after_poll;       /* watches each turn's count, when started */
  size_t most_in_a_turn;
  size_t reply_spread;         /* widest gap between two clients' counts */
  bool timed_out;
  bool paused;
  dns_tcp_t *server;
  bool server_started;
  bool server_close_called;
  size_t server_closed;        /* on_close calls */
  dns_zone_t *zone;
  dns_zone_t *other_zone;
  const dns_zone_t *zone_in_service;
  struct sockaddr_in addr;     /* where the server listens */
  client_t clients[MAX_CLIENTS];
};

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

static void on_pause(uv_timer_t *t) {
  fixture_t *fx = t->data;
  fx->paused = true;
}

/* Let the loop run for ms, whatever happens. */
static void run_for(fixture_t *fx, uint64_t ms) {
  fx->paused = false;
  uv_timer_start(&fx->pause, on_pause, ms, 0);
  RUN_UNTIL(fx, fx->paused);
}

static void close_walk_cb(uv_handle_t *h, void *arg) {
  (void)arg;
  if (!uv_is_closing(h))
    uv_close(h, NULL);
}

/* ---- queries and replies ---- */

/* A plain query (RD=1, no EDNS) for name into out; returns its length. */
static size_t make_query(uint16_t id, const char *name, uint16_t qtype,
                         uint8_t *out) {
  const uint8_t header[DNS_HEADER_SIZE] = {
      (uint8_t)(id >> 8), (uint8_t)id, 0x01, 0x00, /* ID, RD=1 */
      0x00, 0x01, 0x00, 0x00,                      /* QDCOUNT 1, ANCOUNT 0 */
      0x00, 0x00, 0x00, 0x00,                      /* NSCOUNT, ARCOUNT */
  };
  size_t pos = DNS_HEADER_SIZE;
  memcpy(out, header, sizeof(header));
  const char *label = name;
  while (*label != '\0') {
    const char *dot = strchr(label, '.');
    size_t n = dot != NULL ? (size_t)(dot - label) : strlen(label);
    out[pos++] = (uint8_t)n;
    memcpy(out + pos, label, n);
    pos += n;
    label += n + (dot != NULL ? 1 : 0);
  }
  out[pos++] = 0;
  out[pos++] = (uint8_t)(qtype >> 8);
  out[pos++] = (uint8_t)qtype;
  out[pos++] = 0x00;
  out[pos++] = DNS_CLASS_IN;
  return pos;
}

/* The same, with its 2-byte length prefix. */
static size_t make_framed_query(uint16_t id, const char *name, uint8_t *out) {
  size_t n = make_query(id, name, DNS_TYPE_A, out + DNS_STREAM_PREFIX_LEN);
  assert_true(dns_stream_put_prefix(out, n));
  return DNS_STREAM_PREFIX_LEN + n;
}

static uint16_t get_be16(const uint8_t *p) {
  return (uint16_t)(p[0] << 8 | p[1]);
}

/* Check a reply byte by byte: the header, the question echoed, then
 * n_addrs A records for the question name, TTL 60. */
static void assert_a_reply(const uint8_t *r, size_t len, uint16_t id,
                           const char *name, const uint8_t (*addrs)[4],
                           size_t n_addrs) {
  uint8_t q[DNS_MAX_NAME + 32];
  size_t qlen = make_query(id, name, DNS_TYPE_A, q);
  const uint8_t rr_head[] = {
      0xc0, 0x0c,             /* owner: the question name */
      0x00, 0x01, 0x00, 0x01, /* A IN */
      0x00, 0x00, 0x00, 60,   /* TTL */
      0x00, 0x04,             /* RDLENGTH */
  };
  assert_int_equal(len, qlen + n_addrs * (sizeof(rr_head) + 4));
  assert_int_equal(get_be16(r), id);
  assert_true(r[2] & 0x80);                   /* QR */
  assert_false(r[2] & 0x02);                  /* TC */
  assert_int_equal(r[3] & 0x0f, DNS_RCODE_NOERROR);
  assert_int_equal(get_be16(r + 4), 1);       /* QDCOUNT */
  assert_int_equal(get_be16(r + 6), n_addrs); /* ANCOUNT */
  assert_memory_equal(r + DNS_HEADER_SIZE, q + DNS_HEADER_SIZE,
                      qlen - DNS_HEADER_SIZE);
  const uint8_t *p = r + qlen;
  for (size_t i = 0; i < n_addrs; i++) {
    assert_memory_equal(p, rr_head, sizeof(rr_head));
    assert_memory_equal(p + sizeof(rr_head), addrs[i], 4);
    p += sizeof(rr_head) + 4;
  }
}

/* ---- clients ---- */

static void on_client_connect(uv_connect_t *req, int status) {
  client_t *c = req->data;
  c->connect_status = status;
  c->connected = status == 0;
}

static void on_client_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf) {
  client_t *c = h->data;
  (void)suggested;
  *buf = uv_buf_init((char *)c->rx, sizeof(c->rx));
}

static void on_client_read(uv_stream_t *stream, ssize_t nread,
                           const uv_buf_t *buf) {
  client_t *c = stream->data;
  if (nread < 0) {
    if (nread == UV_EOF)
      c->eof = true;
    else
      c->read_error = (int)nread;
    uv_read_stop(stream);
    return;
  }
  size_t pos = 0;
  const uint8_t *msg;
  size_t msg_len;
  while (dns_stream_next(&c->stream, (const uint8_t *)buf->base,
                         (size_t)nread, &pos, &msg,
                         &msg_len) == DNS_STREAM_MESSAGE) {
    if (c->n_replies < MAX_STORED_REPLIES && msg_len <= MAX_STORED_REPLY) {
      memcpy(c->replies[c->n_replies], msg, msg_len);
      c->reply_len[c->n_replies] = msg_len;
    }
    if (get_be16(msg) != c->next_id)
      c->out_of_order++;
    c->next_id++;
    c->n_replies++;
  }
}

static void client_start_reading(client_t *c) {
  assert_int_equal(uv_read_start((uv_stream_t *)&c->tcp, on_client_alloc,
                                 on_client_read),
                   0);
}

/* A client with its socket made up front, so that buffer sizes can be set
 * before it connects. */
static client_t *client_new(fixture_t *fx) {
  client_t *c = NULL;
  for (size_t i = 0; i < MAX_CLIENTS && c == NULL; i++) {
    if (!fx->clients[i].used)
      c = &fx->clients[i];
  }
  assert_non_null(c);
  c->used = true;
  c->fx = fx;
  dns_stream_init(&c->stream);
  assert_int_equal(uv_tcp_init_ex(&fx->loop, &c->tcp, AF_INET), 0);
  c->tcp.data = c;
  c->connect_req.data = c;
  return c;
}

static void client_connect(client_t *c, bool read) {
  fixture_t *fx = c->fx;
  assert_int_equal(uv_tcp_connect(&c->connect_req, &c->tcp,
                                  (const struct sockaddr *)&fx->addr,
                                  on_client_connect),
                   0);
  RUN_UNTIL(fx, c->connected || c->connect_status < 0);
  assert_int_equal(c->connect_status, 0);
  uv_tcp_nodelay(&c->tcp, 1);
  if (read)
    client_start_reading(c);
}

static client_t *client_open(fixture_t *fx) {
  client_t *c = client_new(fx);
  client_connect(c, true);
  return c;
}

typedef struct {
  uv_write_t req;
  client_t *client;
  uint8_t data[];
} client_write_t;

static void on_client_write(uv_write_t *req, int status) {
  client_write_t *w = (client_write_t *)req;
  (void)status;
  w->client->writes_done++;
  free(w);
}

static void client_send(client_t *c, const uint8_t *bytes, size_t n) {
  client_write_t *w = malloc(sizeof(*w) + n);
  assert_non_null(w);
  w->client = c;
  memcpy(w->data, bytes, n);
  uv_buf_t buf = uv_buf_init((char *)w->data, (unsigned)n);
  assert_int_equal(uv_write(&w->req, (uv_stream_t *)&c->tcp, &buf, 1,
                            on_client_write),
                   0);
}

static void client_send_query(client_t *c, uint16_t id, const char *name) {
  uint8_t wire[DNS_MAX_NAME + 64];
  client_send(c, wire, make_framed_query(id, name, wire));
}

/* n pipelined queries for name, IDs first_id, first_id + 1, ..., in one
 * write; returns the length of one framed query. */
static size_t client_send_burst(client_t *c, uint16_t first_id, size_t n,
                                const char *name) {
  uint8_t one[DNS_MAX_NAME + 64];
  size_t one_len = make_framed_query(0, name, one);
  uint8_t *wire = malloc(n * one_len);
  assert_non_null(wire);
  for (size_t i = 0; i < n; i++)
    make_framed_query((uint16_t)(first_id + i), name, wire + i * one_len);
  client_send(c, wire, n * one_len);
  free(wire);
  return one_len;
}

static bool client_gone(const client_t *c) {
  return c->eof || c->read_error != 0;
}

/* After each poll: the most queries the server answered in one turn, and
 * how far apart the clients in use are in replies received. */
static void on_after_poll(uv_check_t *h) {
  fixture_t *fx = h->data;
  if (fx->server->turn_answered > fx->most_in_a_turn)
    fx->most_in_a_turn = fx->server->turn_answered;
  size_t lo = SIZE_MAX, hi = 0;
  for (size_t i = 0; i < MAX_CLIENTS; i++) {
    if (!fx->clients[i].used)
      continue;
    size_t n = fx->clients[i].n_replies;
    lo = n < lo ? n : lo;
    hi = n > hi ? n : hi;
  }
  if (hi > lo && hi - lo > fx->reply_spread)
    fx->reply_spread = hi - lo;
}

static void watch_turns(fixture_t *fx) {
  assert_int_equal(uv_check_init(&fx->loop, &fx->after_poll), 0);
  fx->after_poll.data = fx;
  assert_int_equal(uv_check_start(&fx->after_poll, on_after_poll), 0);
}

/* ---- server ---- */

static void on_server_closed(dns_tcp_t *s) {
  fixture_t *fx = s->net.listener.data;
  fx->server_closed++;
}

static void start_server(fixture_t *fx, const dns_tcp_config_t *cfg) {
  dns_tcp_config_t defaults = {0};
  struct sockaddr_storage bound;
  int namelen = sizeof(bound);

  assert_int_equal(uv_ip4_addr("127.0.0.1", 0, &fx->addr), 0);
  assert_int_equal(dns_tcp_start(fx->server, &fx->loop,
                                 (const struct sockaddr *)&fx->addr,
                                 &fx->zone_in_service,
                                 cfg != NULL ? cfg : &defaults),
                   0);
  fx->server->net.listener.data = fx;
  fx->server_started = true;
  assert_int_equal(uv_tcp_getsockname(&fx->server->net.listener,
                                      (struct sockaddr *)&bound, &namelen),
                   0);
  fx->addr.sin_port = ((struct sockaddr_in *)&bound)->sin_port;
  assert_int_not_equal(fx->addr.sin_port, 0);
}

static void close_server(fixture_t *fx) {
  fx->server_close_called = true;
  dns_tcp_close(fx->server, on_server_closed);
}

static dns_zone_t *make_zone(dns_map_t *map) {
  dns_zone_options_t opts;
  assert_non_null(map);
  dns_zone_options_default(&opts);
  dns_zone_t *zone = dns_zone_new(map, &opts);
  assert_non_null(zone);
  return zone;
}

static int setup(void **state) {
  fixture_t *fx = calloc(1, sizeof(*fx));
  assert_non_null(fx);
  fx->server = calloc(1, sizeof(*fx->server));
  assert_non_null(fx->server);
  assert_int_equal(uv_loop_init(&fx->loop), 0);
  assert_int_equal(uv_timer_init(&fx->loop, &fx->timeout), 0);
  assert_int_equal(uv_timer_init(&fx->loop, &fx->pause), 0);
  fx->timeout.data = fx;
  fx->pause.data = fx;
  fx->zone = make_zone(dns_map_new_default());
  fx->zone_in_service = fx->zone;
  *state = fx;
  return 0;
}

static int teardown(void **state) {
  fixture_t *fx = *state;
  if (fx->server_started && !fx->server_close_called)
    close_server(fx);
  uv_walk(&fx->loop, close_walk_cb, NULL);
  uv_run(&fx->loop, UV_RUN_DEFAULT);
  if (fx->server_started) {
    assert_int_equal(fx->server_closed, 1);
    assert_int_equal(fx->server->net.n_conns, 0);
  }
  assert_int_equal(uv_loop_close(&fx->loop), 0);
  for (size_t i = 0; i < MAX_CLIENTS; i++)
    dns_stream_free(&fx->clients[i].stream);
  dns_zone_free(fx->zone);
  dns_zone_free(fx->other_zone);
  free(fx->server);
  free(fx);
  return 0;
}

/* ---- tests ---- */

static void test_one_query_gets_one_answer(void **state) {
  fixture_t *fx = *state;
  start_server(fx, NULL);
  client_t *c = client_open(fx);
  client_send_query(c, 0xbeef, "facebook.com");
  RUN_UNTIL(fx, c->n_replies == 1);
  assert_a_reply(c->replies[0], c->reply_len[0], 0xbeef, "facebook.com",
                 &facebook_addr, 1);
  run_for(fx, 20);
  assert_int_equal(c->n_replies, 1);
  assert_false(client_gone(c));
  assert_int_equal(fx->server->queries, 1);
  assert_int_equal(fx->server->net.accepted, 1);
}

static void test_three_pipelined_queries_in_one_write_answered_in_order(
    void **state) {
  fixture_t *fx = *state;
  start_server(fx, NULL);
  client_t *c = client_open(fx);
  uint8_t wire[3 * 64];
  size_t n = make_framed_query(0, "facebook.com", wire);
  n += make_framed_query(1, "yougov.com", wire + n);
  n += make_framed_query(2, "wipo.int", wire + n);
  client_send(c, wire, n);
  RUN_UNTIL(fx, c->n_replies == 3);
  assert_a_reply(c->replies[0], c->reply_len[0], 0, "facebook.com",
                 &facebook_addr, 1);
  assert_a_reply(c->replies[1], c->reply_len[1], 1, "yougov.com",
                 &yougov_addr, 1);
  assert_a_reply(c->replies[2], c->reply_len[2], 2, "wipo.int", &wipo_addr,
                 1);
  assert_int_equal(c->out_of_order, 0);
}

static void test_query_sent_one_byte_at_a_time(void **state) {
  fixture_t *fx = *state;
  start_server(fx, NULL);
  client_t *c = client_open(fx);
  uint8_t wire[64];
  size_t n = make_framed_query(0x0101, "wipo.int", wire);
  for (size_t i = 0; i < n; i++) {
    client_send(c, wire + i, 1);
    /* Give the server a read of its own for this byte. */
    RUN_UNTIL(fx, c->writes_done == i + 1);
    uv_run(&fx->loop, UV_RUN_NOWAIT);
    uv_run(&fx->loop, UV_RUN_NOWAIT);
    if (i + 1 < n)
      assert_int_equal(c->n_replies, 0);
  }
  RUN_UNTIL(fx, c->n_replies == 1);
  assert_a_reply(c->replies[0], c->reply_len[0], 0x0101, "wipo.int",
                 &wipo_addr, 1);
}

static void test_several_queries_on_one_connection_over_time(void **state) {
  fixture_t *fx = *state;
  start_server(fx, NULL);
  client_t *c = client_open(fx);
  const char *names[] = {"facebook.com", "unknown.example", "YouGov.COM",
                         "wipo.int", "facebook.com"};
  const uint8_t(*addrs[])[4] = {&facebook_addr, &localhost_addr,
                                &yougov_addr, &wipo_addr, &facebook_addr};
  for (size_t i = 0; i < ARRAY_LEN(names); i++) {
    client_send_query(c, (uint16_t)i, names[i]);
    RUN_UNTIL(fx, c->n_replies == i + 1);
    assert_a_reply(c->replies[i], c->reply_len[i], (uint16_t)i, names[i],
                   addrs[i], 1);
    run_for(fx, 10);
  }
  assert_false(client_gone(c));
  assert_int_equal(fx->server->net.accepted, 1);
  assert_int_equal(fx->server->queries, ARRAY_LEN(names));
}

static void test_forty_addresses_answered_complete(void **state) {
  fixture_t *fx = *state;
  enum { N = 40 };
  uint8_t addrs[N][4];
  dns_map_t *map = dns_map_new();
  assert_non_null(map);
  for (size_t i = 0; i < N; i++) {
    addrs[i][0] = 10;
    addrs[i][1] = 0;
    addrs[i][2] = 0;
    addrs[i][3] = (uint8_t)(i + 1);
    assert_int_equal(dns_map_add(map, "many.test", 4, addrs[i]), 0);
  }
  fx->other_zone = make_zone(map);
  fx->zone_in_service = fx->other_zone;
  start_server(fx, NULL);
  client_t *c = client_open(fx);
  client_send_query(c, 40, "many.test");
  RUN_UNTIL(fx, c->n_replies == 1);
  /* Over UDP's 512 bytes: only TCP can carry it whole. */
  assert_true(c->reply_len[0] > DNS_PLAIN_UDP_LIMIT);
  assert_a_reply(c->replies[0], c->reply_len[0], 40, "many.test",
                 (const uint8_t(*)[4])addrs, N);
}

static void test_zone_is_read_at_each_query(void **state) {
  fixture_t *fx = *state;
  const uint8_t swapped[4] = {192, 0, 2, 7};
  dns_map_t *map = dns_map_new();
  assert_non_null(map);
  assert_int_equal(dns_map_add(map, "facebook.com", 4, swapped), 0);
  fx->other_zone = make_zone(map);
  start_server(fx, NULL);
  client_t *c = client_open(fx);
  client_send_query(c, 0, "facebook.com");
  RUN_UNTIL(fx, c->n_replies == 1);
  fx->zone_in_service = fx->other_zone;
  client_send_query(c, 1, "facebook.com");
  RUN_UNTIL(fx, c->n_replies == 2);
  assert_a_reply(c->replies[0], c->reply_len[0], 0, "facebook.com",
                 &facebook_addr, 1);
  assert_a_reply(c->replies[1], c->reply_len[1], 1, "facebook.com", &swapped,
                 1);
}

static void test_idle_connection_is_closed(void **state) {
  fixture_t *fx = *state;
  dns_tcp_config_t cfg = {.idle_timeout_ms = 100};
  start_server(fx, &cfg);
  client_t *c = client_open(fx);
  client_send_query(c, 7, "facebook.com");
  RUN_UNTIL(fx, c->n_replies == 1);
  uint64_t answered_at = uv_now(&fx->loop);
  RUN_UNTIL(fx, client_gone(c));
  /* Counted from the last query, not from the connection. */
  assert_true(uv_now(&fx->loop) - answered_at >= 90);
  assert_int_equal(fx->server->idle_timeouts, 1);
  RUN_UNTIL(fx, fx->server->net.n_conns == 0);
}

static void test_connection_over_max_is_closed_at_once(void **state) {
  fixture_t *fx = *state;
  dns_tcp_config_t cfg = {.max_connections = 2};
  start_server(fx, &cfg);
  client_t *a = client_open(fx);
  client_t *b = client_open(fx);
  RUN_UNTIL(fx, fx->server->net.accepted == 2);
  client_t *third = client_open(fx);
  RUN_UNTIL(fx, client_gone(third));
  assert_int_equal(fx->server->net.refused, 1);
  assert_int_equal(fx->server->net.accepted, 2);
  client_send_query(a, 1, "wipo.int");
  client_send_query(b, 2, "yougov.com");
  RUN_UNTIL(fx, a->n_replies == 1 && b->n_replies == 1);
  assert_a_reply(a->replies[0], a->reply_len[0], 1, "wipo.int", &wipo_addr,
                 1);
  assert_a_reply(b->replies[0], b->reply_len[0], 2, "yougov.com",
                 &yougov_addr, 1);
}

static void test_zero_length_frame_closes_only_that_connection(void **state) {
  fixture_t *fx = *state;
  start_server(fx, NULL);
  client_t *bad = client_open(fx);
  client_t *good = client_open(fx);
  uint8_t wire[64 + 2];
  size_t n = make_framed_query(3, "facebook.com", wire);
  wire[n++] = 0x00;
  wire[n++] = 0x00;
  client_send(bad, wire, n);
  RUN_UNTIL(fx, client_gone(bad));
  /* The query before the bad frame was still answered. */
  assert_int_equal(bad->n_replies, 1);
  assert_a_reply(bad->replies[0], bad->reply_len[0], 3, "facebook.com",
                 &facebook_addr, 1);
  assert_int_equal(fx->server->bad_frames, 1);
  client_send_query(good, 4, "wipo.int");
  RUN_UNTIL(fx, good->n_replies == 1);
  assert_a_reply(good->replies[0], good->reply_len[0], 4, "wipo.int",
                 &wipo_addr, 1);
  assert_false(client_gone(good));
}

/* The middle one of three connections resets: the server drops it and
 * the other two, before and after it in the server's list, go on. */
static void test_reset_by_client_closes_only_that_connection(void **state) {
  fixture_t *fx = *state;
  start_server(fx, NULL);
  client_t *first = client_open(fx);
  client_t *middle = client_open(fx);
  client_t *last = client_open(fx);
  RUN_UNTIL(fx, fx->server->net.accepted == 3);
  assert_int_equal(uv_tcp_close_reset(&middle->tcp, NULL), 0);
  RUN_UNTIL(fx, fx->server->net.n_conns == 2);
  client_send_query(first, 1, "wipo.int");
  client_send_query(last, 2, "yougov.com");
  RUN_UNTIL(fx, first->n_replies == 1 && last->n_replies == 1);
  assert_a_reply(first->replies[0], first->reply_len[0], 1, "wipo.int",
                 &wipo_addr, 1);
  assert_a_reply(last->replies[0], last->reply_len[0], 2, "yougov.com",
                 &yougov_addr, 1);
}

static void test_response_on_the_stream_is_ignored(void **state) {
  fixture_t *fx = *state;
  start_server(fx, NULL);
  client_t *c = client_open(fx);
  uint8_t wire[2 * 64];
  size_t n = make_framed_query(9, "facebook.com", wire);
  wire[DNS_STREAM_PREFIX_LEN + 2] |= 0x80; /* QR=1: a response */
  n += make_framed_query(10, "wipo.int", wire + n);
  client_send(c, wire, n);
  RUN_UNTIL(fx, c->n_replies == 1);
  run_for(fx, 20);
  assert_int_equal(c->n_replies, 1);
  assert_a_reply(c->replies[0], c->reply_len[0], 10, "wipo.int", &wipo_addr,
                 1);
  assert_int_equal(fx->server->queries, 2);
  assert_int_equal(fx->server->dropped, 1);
  assert_false(client_gone(c));
}

static void test_half_closed_client_gets_its_replies_then_close(
    void **state) {
  fixture_t *fx = *state;
  uv_shutdown_t req;
  start_server(fx, NULL);
  client_t *c = client_open(fx);
  client_send_query(c, 0, "facebook.com");
  client_send_query(c, 1, "yougov.com");
  assert_int_equal(uv_shutdown(&req, (uv_stream_t *)&c->tcp, NULL), 0);
  RUN_UNTIL(fx, client_gone(c));
  assert_true(c->eof);
  assert_int_equal(c->n_replies, 2);
  assert_a_reply(c->replies[1], c->reply_len[1], 1, "yougov.com",
                 &yougov_addr, 1);
}

static void test_forwarded_query_gets_servfail_for_now(void **state) {
  fixture_t *fx = *state;
  dns_zone_options_t opts;
  dns_zone_options_default(&opts);
  opts.unknown = DNS_UNKNOWN_FORWARD;
  fx->other_zone = dns_zone_new(dns_map_new_default(), &opts);
  assert_non_null(fx->other_zone);
  fx->zone_in_service = fx->other_zone;
  start_server(fx, NULL);
  client_t *c = client_open(fx);
  client_send_query(c, 0x5151, "elsewhere.example");
  RUN_UNTIL(fx, c->n_replies == 1);
  uint8_t q[64];
  size_t qlen = make_query(0x5151, "elsewhere.example", DNS_TYPE_A, q);
  const uint8_t *r = c->replies[0];
  assert_int_equal(c->reply_len[0], qlen);
  assert_int_equal(get_be16(r), 0x5151);
  assert_true(r[2] & 0x80);
  assert_int_equal(r[3] & 0x0f, DNS_RCODE_SERVFAIL);
  assert_memory_equal(r + DNS_HEADER_SIZE, q + DNS_HEADER_SIZE,
                      qlen - DNS_HEADER_SIZE);
  /* Names in the map are still answered from it. */
  client_send_query(c, 1, "wipo.int");
  RUN_UNTIL(fx, c->n_replies == 2);
  assert_a_reply(c->replies[1], c->reply_len[1], 1, "wipo.int", &wipo_addr,
                 1);
}

/* A client that sends and never reads: once the kernel buffers between us
 * are full, the server stops reading its queries instead of queueing
 * replies, keeps serving others, and picks up where it left off when the
 * client reads again. */
static void test_client_that_never_reads_is_bounded(void **state) {
  fixture_t *fx = *state;
  enum { N = 3000, PER_WRITE = 100, MAX_PENDING = 4096 };
  dns_tcp_config_t cfg = {.max_pending_bytes = MAX_PENDING};
  start_server(fx, &cfg);
  /* Small socket buffers (accepted sockets inherit the listener's), so
   * the kernel holds little and the server's own limit is what binds. */
  int size = 4096;
  assert_int_equal(
      uv_send_buffer_size((uv_handle_t *)&fx->server->net.listener, &size), 0);
  client_t *slow = client_new(fx);
  size = 4096;
  assert_int_equal(uv_recv_buffer_size((uv_handle_t *)&slow->tcp, &size), 0);
  client_connect(slow, false);

  uint8_t one[64];
  size_t one_len = make_framed_query(0, "facebook.com", one);
  size_t reply_len = one_len + 16; /* one A record */
  uint8_t *wire = malloc(PER_WRITE * one_len);
  assert_non_null(wire);
  for (size_t w = 0; w < N / PER_WRITE; w++) {
    for (size_t i = 0; i < PER_WRITE; i++)
      make_framed_query((uint16_t)(w * PER_WRITE + i), "facebook.com",
                        wire + i * one_len);
    client_send(slow, wire, PER_WRITE * one_len);
  }
  free(wire);

  RUN_UNTIL(fx, fx->server->pending_high_water > MAX_PENDING);
  run_for(fx, 200);
  assert_true(fx->server->pending_high_water <= MAX_PENDING + reply_len);
  assert_true(fx->server->queries < N);

  client_t *other = client_open(fx);
  client_send_query(other, 0, "wipo.int");
  RUN_UNTIL(fx, other->n_replies == 1);
  assert_a_reply(other->replies[0], other->reply_len[0], 0, "wipo.int",
                 &wipo_addr, 1);

  client_start_reading(slow);
  RUN_UNTIL(fx, slow->n_replies == N);
  assert_int_equal(slow->out_of_order, 0);
  assert_int_equal(fx->server->queries, N + 1);
  assert_true(fx->server->pending_high_water <= MAX_PENDING + reply_len);
  assert_a_reply(slow->replies[0], slow->reply_len[0], 0, "facebook.com",
                 &facebook_addr, 1);
}

/* Far more pipelined queries than one turn's share: they are answered a
 * share at a time, over many turns, in order; no turn answers more than
 * its budget; and once the replies are written nothing is held. */
static void test_pipelined_queries_are_spread_over_turns_in_order(
    void **state) {
  fixture_t *fx = *state;
  enum { N = 100, PER_CONN = 4, PER_TURN = 8 };
  dns_tcp_config_t cfg = {.conn_queries_per_turn = PER_CONN,
                          .queries_per_turn = PER_TURN};
  start_server(fx, &cfg);
  watch_turns(fx);
  client_t *c = client_open(fx);
  client_send_burst(c, 0, N, "facebook.com");
  RUN_UNTIL(fx, c->n_replies == N);
  assert_int_equal(c->out_of_order, 0);
  assert_int_equal(fx->server->queries, N);
  assert_true(fx->most_in_a_turn <= PER_CONN);
  assert_true(fx->server->deferred >= N / PER_CONN - 1);
  assert_a_reply(c->replies[0], c->reply_len[0], 0, "facebook.com",
                 &facebook_addr, 1);
  RUN_UNTIL(fx, fx->server->buffered == 0);
  assert_false(client_gone(c));
}

/* Three connections pipelining at once share each turn: none gets ahead
 * of the others by more than a few turns' shares, and no turn answers
 * more than queries_per_turn. */
static void test_pipelining_connections_share_each_turn(void **state) {
  fixture_t *fx = *state;
  enum { N = 120, PER_CONN = 4, PER_TURN = 8, CLIENTS = 3 };
  dns_tcp_config_t cfg = {.conn_queries_per_turn = PER_CONN,
                          .queries_per_turn = PER_TURN};
  start_server(fx, &cfg);
  client_t *c[CLIENTS];
  for (size_t i = 0; i < CLIENTS; i++)
    c[i] = client_open(fx);
  watch_turns(fx);
  for (size_t i = 0; i < CLIENTS; i++)
    client_send_burst(c[i], 0, N, "wipo.int");
  RUN_UNTIL(fx, c[0]->n_replies == N && c[1]->n_replies == N &&
                    c[2]->n_replies == N);
  for (size_t i = 0; i < CLIENTS; i++)
    assert_int_equal(c[i]->out_of_order, 0);
  assert_true(fx->most_in_a_turn <= PER_TURN);
  /* Served one after the other, the gap would reach N. */
  assert_true(fx->reply_spread <= 4 * PER_CONN);
}

/* A client that sends queries and the start of a large one, then goes:
 * while it is connected the partial message counts in what is held; once
 * it is gone nothing is. */
static void test_held_bytes_are_counted_and_given_back(void **state) {
  fixture_t *fx = *state;
  enum { BIG = 1000 };
  start_server(fx, NULL);
  client_t *c = client_open(fx);
  client_send_burst(c, 0, 10, "yougov.com");
  uint8_t partial[DNS_STREAM_PREFIX_LEN + BIG / 2];
  memset(partial, 0, sizeof(partial));
  assert_true(dns_stream_put_prefix(partial, BIG));
  client_send(c, partial, sizeof(partial));
  RUN_UNTIL(fx, c->n_replies == 10 && c->writes_done == 2);
  RUN_UNTIL(fx, fx->server->buffered >= BIG);
  assert_true(fx->server->conn_buffered_high_water >= BIG);
  assert_true(fx->server->buffered_high_water >= fx->server->buffered);

  uv_close((uv_handle_t *)&c->tcp, NULL);
  RUN_UNTIL(fx, fx->server->net.n_conns == 0);
  assert_int_equal(fx->server->buffered, 0);
}

/* Past max_buffered_bytes a client that holds more than its fair share
 * (here one that never reads) stops being read, while one that holds
 * nothing is still served; the total stays within the bound plus what one
 * connection can add in a turn; and the first client, once it reads,
 * gets every reply in order. */
static void test_max_buffered_holds_back_the_client_that_holds_most(
    void **state) {
  fixture_t *fx = *state;
  enum { N = 3000, MAX_BUFFERED = 8192, PER_CONN = 8 };
  dns_tcp_config_t cfg = {.max_buffered_bytes = MAX_BUFFERED,
                          .max_connections = 2,
                          .conn_queries_per_turn = PER_CONN};
  start_server(fx, &cfg);
  int size = 4096;
  assert_int_equal(
      uv_send_buffer_size((uv_handle_t *)&fx->server->net.listener, &size), 0);
  client_t *hog = client_new(fx);
  size = 4096;
  assert_int_equal(uv_recv_buffer_size((uv_handle_t *)&hog->tcp, &size), 0);
  client_connect(hog, false);
  size_t reply_len = client_send_burst(hog, 0, N, "facebook.com") + 16;

  RUN_UNTIL(fx, fx->server->buffered >= MAX_BUFFERED);
  run_for(fx, 200);
  size_t bound = MAX_BUFFERED + DNS_TCP_READ_CHUNK + PER_CONN * reply_len;
  assert_true(fx->server->buffered_high_water <= bound);
  assert_true(fx->server->queries < N);

  client_t *light = client_open(fx);
  client_send_query(light, 7, "wipo.int");
  RUN_UNTIL(fx, light->n_replies == 1);
  assert_a_reply(light->replies[0], light->reply_len[0], 7, "wipo.int",
                 &wipo_addr, 1);

  client_start_reading(hog);
  RUN_UNTIL(fx, hog->n_replies == N);
  assert_int_equal(hog->out_of_order, 0);
  assert_true(fx->server->buffered_high_water <= bound);
}

static void test_close_with_open_connections_frees_everything(void **state) {
  fixture_t *fx = *state;
  start_server(fx, NULL);
  client_t *idle = client_open(fx);
  client_t *partial = client_open(fx);
  client_t *busy = client_open(fx);
  uint8_t wire[64];
  size_t n = make_framed_query(1, "facebook.com", wire);
  client_send(partial, wire, n / 2); /* a message left half-sent */
  client_send_query(busy, 2, "wipo.int");
  RUN_UNTIL(fx, busy->n_replies == 1 && partial->writes_done == 1 &&
                    fx->server->net.n_conns == 3);
  run_for(fx, 10);

  close_server(fx);
  assert_int_equal(fx->server_closed, 0); /* never from inside close */
  RUN_UNTIL(fx, fx->server_closed == 1);
  assert_int_equal(fx->server->net.n_conns, 0);
  assert_true(LIST_EMPTY(&fx->server->net.conns));
  RUN_UNTIL(fx, client_gone(idle) && client_gone(partial) &&
                    client_gone(busy));
}

static void test_reuseport_lets_two_servers_share_a_port(void **state) {
  fixture_t *fx = *state;
  dns_tcp_config_t cfg = {.reuseport = true};
  start_server(fx, &cfg);

  dns_tcp_t *twin = calloc(1, sizeof(*twin));
  assert_non_null(twin);
  assert_int_equal(dns_tcp_start(twin, &fx->loop,
                                 (const struct sockaddr *)&fx->addr,
                                 &fx->zone_in_service, &cfg),
                   0);
  twin->net.listener.data = fx;
  dns_tcp_close(twin, on_server_closed);
  RUN_UNTIL(fx, fx->server_closed == 1);
  free(twin);
  fx->server_closed = 0;

  /* Without the option on both sides, the port is taken; the error comes
   * from uv_listen, since uv_tcp_bind defers EADDRINUSE. */
  dns_tcp_config_t plain = {0};
  dns_tcp_t *clash = calloc(1, sizeof(*clash));
  assert_non_null(clash);
  assert_int_equal(dns_tcp_start(clash, &fx->loop,
                                 (const struct sockaddr *)&fx->addr,
                                 &fx->zone_in_service, &plain),
                   UV_EADDRINUSE);
  uv_run(&fx->loop, UV_RUN_NOWAIT); /* its close callback */
  free(clash);

  client_t *c = client_open(fx);
  client_send_query(c, 5, "yougov.com");
  RUN_UNTIL(fx, c->n_replies == 1);
  assert_a_reply(c->replies[0], c->reply_len[0], 5, "yougov.com",
                 &yougov_addr, 1);
}

#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)

int main(void) {
  const struct CMUnitTest tests[] = {
      T(test_one_query_gets_one_answer),
      T(test_three_pipelined_queries_in_one_write_answered_in_order),
      T(test_query_sent_one_byte_at_a_time),
      T(test_several_queries_on_one_connection_over_time),
      T(test_forty_addresses_answered_complete),
      T(test_zone_is_read_at_each_query),
      T(test_idle_connection_is_closed),
      T(test_connection_over_max_is_closed_at_once),
      T(test_zero_length_frame_closes_only_that_connection),
      T(test_reset_by_client_closes_only_that_connection),
      T(test_response_on_the_stream_is_ignored),
      T(test_half_closed_client_gets_its_replies_then_close),
      T(test_forwarded_query_gets_servfail_for_now),
      T(test_client_that_never_reads_is_bounded),
      T(test_pipelined_queries_are_spread_over_turns_in_order),
      T(test_pipelining_connections_share_each_turn),
      T(test_held_bytes_are_counted_and_given_back),
      T(test_max_buffered_holds_back_the_client_that_holds_most),
      T(test_close_with_open_connections_frees_everything),
      T(test_reuseport_lets_two_servers_share_a_port),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
