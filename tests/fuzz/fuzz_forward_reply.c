/* libFuzzer target: the forwarder's handling of an upstream answer, from
 * c-ares' callback to the bytes each waiting client gets. The functions
 * are static in dns_forward.c (on_answer, reply_to), so this file
 * #includes dns_forward.c and builds just enough of a dns_forward_t by
 * hand: a loop that is never run (uv_now only), a cache, one query in
 * flight with three clients waiting on it. No socket, no c-ares channel:
 * on_answer is called as c-ares would call it. Whatever the validation in
 * dns_forward.c becomes, this target runs it.
 *
 * Input: the corpus_upstream layout (fuzz_cache.c): a config byte, a size
 * byte, then the upstream's answer. Clients: the query as the config byte
 * says (UDP or TCP), the same name with its case flipped over plain UDP
 * (512 bytes, no EDNS), and over TCP; bit 5 of the size byte cancels the
 * second before the answer, bit 6 makes the upstream time out instead.
 *
 * Checks: every client not cancelled gets exactly one reply, never empty,
 * never over its limit or the buffer, a well-formed reply to its own
 * question (ID and spelling echoed, fuzz_check_reply), with an OPT only if
 * it sent one; an answer dns_wire's reader cannot walk, or a timeout, is
 * SERVFAIL with no records; a cancelled client hears nothing; afterwards
 * nothing is in flight, nobody waits, and a cached answer is served by
 * dns_forward_lookup for the query again. */
#include "../../dns/dns_forward.c"

#include "fuzz_reply.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define QUERY_MAX (DNS_HEADER_SIZE + DNS_MAX_NAME + 4 + 11)
#define N_CLIENTS 3

typedef struct {
  dns_forward_req_t req;
  unsigned replies;
  bool servfail;
} client_t;

static const uint32_t max_ttls[] = {1, 60, 300, 86400};

static void on_reply(dns_forward_req_t *req, const uint8_t *reply,
                     size_t len) {
  client_t *c = container_of(req, client_t, req);
  c->replies++;
  FUZZ_CHECK(len > 0);
  uint16_t flags = fuzz_check_reply(reply, len, &req->query, req->limit,
                                    DNS_MAX_MESSAGE, UINT32_MAX);
  /* Ours (no records) or the upstream's, relayed. */
  c->servfail = dns_flags_rcode(flags) == DNS_RCODE_SERVFAIL &&
                dns_get_be16(reply + 6) == 0 && dns_get_be16(reply + 8) == 0;
}

/* What dns_forward_send does to a request before it waits. */
static void client_init(client_t *c, const dns_query_t *q, size_t limit) {
  memset(c, 0, sizeof(*c));
  c->req.cb = on_reply;
  c->req.query = *q;
  memcpy(c->req.question, q->question, q->question_len);
  c->req.query.question = c->req.question;
  c->req.limit = limit;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static uv_loop_t loop;
  static dns_forward_t *f;
  static fwd_channel_t channel; /* what the query was sent on */
  static uint8_t answer[DNS_MAX_MESSAGE];
  static uint8_t out[DNS_MAX_MESSAGE];
  uint8_t pkt[QUERY_MAX], flipped_pkt[QUERY_MAX];
  size_t pkt_len, flipped_len;
  dns_query_t q, flipped;
  uint8_t key[DNS_CACHE_KEY_MAX];
  client_t clients[N_CLIENTS];

  if (f == NULL) {
    FUZZ_CHECK(uv_loop_init(&loop) == 0);
    f = calloc(1, sizeof(*f));
    FUZZ_CHECK(f != NULL);
    f->buckets = calloc(16, sizeof(*f->buckets));
    FUZZ_CHECK(f->buckets != NULL);
    f->mask = 15;
    f->loop = &loop;
    f->max_inflight = 1;
    f->max_waiters = N_CLIENTS + 1;
  }
  if (size < 2 || size - 2 > sizeof(answer))
    return 0;
  unsigned conf = data[0];
  bool tcp = conf & 0x08;
  bool cancel_one = data[1] & 0x20;
  bool time_out = data[1] & 0x40;
  uint16_t udp_size = (conf & 0x10) ? 4096 : 512 + (uint16_t)(data[1] * 4);
  const uint8_t *msg = data + 2;
  size_t len = size - 2;

  if (!fuzz_make_query(msg, len, conf & 7, udp_size, false, pkt, &pkt_len,
                       &q) ||
      !fuzz_make_query(msg, len, 0, 0, true, flipped_pkt, &flipped_len,
                       &flipped))
    return 0; /* a name the query parser refuses: never forwarded */
  size_t key_len = dns_cache_key(&q, key);
  FUZZ_CHECK(key_len > 0);

  dns_cache_config_t cache_cfg = {.max_entries = 4,
                                  .max_ttl = max_ttls[(conf >> 5) & 3],
                                  .neg_ttl = 300,
                                  .hash_key = {3, 4}};
  f->cache = dns_cache_new(&cache_cfg);
  FUZZ_CHECK(f->cache != NULL);
  memset(&f->stats, 0, sizeof(f->stats));

  pending_t *p = pending_new(f, key, key_len, dns_cache_hash(f->cache, key, key_len));
  FUZZ_CHECK(p != NULL);
  p->id = 0x5555;
  id_set(f, p->id, true);
  p->chain = f->buckets[p->hash & f->mask];
  f->buckets[p->hash & f->mask] = p;
  f->inflight = 1;
  channel.f = f;
  channel.inflight = 1;
  p->ch = &channel;

  client_init(&clients[0], &q, limit_for(&q, tcp ? DNS_TRANSPORT_TCP
                                                 : DNS_TRANSPORT_UDP));
  client_init(&clients[1], &flipped, DNS_PLAIN_UDP_LIMIT);
  client_init(&clients[2], &q, DNS_MAX_MESSAGE);
  for (size_t i = 0; i < N_CLIENTS; i++)
    waiter_attach(p, &clients[i].req);
  if (cancel_one)
    dns_forward_cancel(&clients[1].req);

  /* c-ares hands over its own buffer, writable. */
  memcpy(answer, msg, len);
  if (time_out)
    on_answer(p, ARES_ETIMEOUT, 2, NULL, 0);
  else
    on_answer(p, ARES_SUCCESS, 0, answer, (int)len);

  bool readable = !time_out && fuzz_response_readable(msg, len);
  for (size_t i = 0; i < N_CLIENTS; i++) {
    bool cancelled = cancel_one && i == 1;
    FUZZ_CHECK(clients[i].replies == (cancelled ? 0u : 1u));
    FUZZ_CHECK(clients[i].req.pending == NULL);
    if (!readable && !cancelled)
      FUZZ_CHECK(clients[i].servfail);
  }
  FUZZ_CHECK(f->inflight == 0 && f->waiters == 0 && !id_in_use(f, 0x5555));
  FUZZ_CHECK(channel.inflight == 0 && channel.sent == 0);
  for (size_t b = 0; b <= f->mask; b++)
    FUZZ_CHECK(f->buckets[b] == NULL);

  /* The same query again: a hit if the answer was kept, else a miss. */
  dns_cache_stats_t st;
  dns_cache_stats(f->cache, &st);
  size_t n = 0;
  dns_transport_t transport = tcp ? DNS_TRANSPORT_TCP : DNS_TRANSPORT_UDP;
  dns_forward_result_t r =
      dns_forward_lookup(f, transport, pkt, pkt_len, out, sizeof(out), &n);
  FUZZ_CHECK(r == (st.entries > 0 ? DNS_FORWARD_REPLY : DNS_FORWARD_MISS));
  if (r == DNS_FORWARD_REPLY)
    fuzz_check_reply(out, n, &q, limit_for(&q, transport), sizeof(out),
                     cache_cfg.max_ttl > cache_cfg.neg_ttl ? cache_cfg.max_ttl
                                                           : cache_cfg.neg_ttl);

  dns_cache_free(f->cache);
  f->cache = NULL;
  return 0;
}
