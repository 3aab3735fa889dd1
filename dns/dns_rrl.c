#include "dns_rrl.h"

#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include "dns_wire.h"

/* Tokens are kept in thousandths of a reply, so that a refill of rate per
 * second can be added per millisecond without rounding away low rates.
 * rate * MILLI fits 32 bits up to DNS_RRL_MAX_RATE. */
#define MILLI 1000u
/* A bucket holds one second of replies: more time than that refills
 * nothing more. */
#define REFILL_CAP_MS 1000u
#define SET_BYTES 64

#define OPT_RR_SIZE 11 /* root owner, fixed fields, no rdata */

_Static_assert((uint64_t)DNS_RRL_MAX_RATE *MILLI <= UINT32_MAX / 2,
               "a full bucket plus a refill must fit 32 bits");

/* 16 bytes: DNS_RRL_WAYS of them fill one cache line. tag 0 is a free
 * slot (real tags have their low bit set). */
typedef struct {
  uint32_t tag;
  uint32_t last_ms; /* the loop clock, truncated: differences
                       stay right for 49 days */
  uint32_t tokens;  /* thousandths of a reply */
  uint32_t drops;   /* since the bucket was claimed, for slip */
} bucket_t;

_Static_assert(sizeof(bucket_t) * DNS_RRL_WAYS == SET_BYTES,
               "a set is one cache line");

struct dns_rrl {
  bucket_t *table;
  size_t set_mask; /* sets - 1 */
  uint32_t full;   /* rate * MILLI */
  uint32_t rate;
  uint32_t slip;
  uint64_t seed;
  dns_rrl_stats_t stats;
};

dns_rrl_t *dns_rrl_new(const dns_rrl_config_t *cfg) {
  size_t want =
      cfg->table_size != 0 ? cfg->table_size : DNS_RRL_DEFAULT_TABLE_SIZE;
  if (cfg->rate == 0 || cfg->rate > DNS_RRL_MAX_RATE ||
      cfg->slip > DNS_RRL_MAX_SLIP || want < DNS_RRL_MIN_TABLE_SIZE ||
      want > DNS_RRL_MAX_TABLE_SIZE)
    return NULL;
  size_t size = DNS_RRL_MIN_TABLE_SIZE;
  while (size < want)
    size *= 2;
  dns_rrl_t *rrl = calloc(1, sizeof(*rrl));
  if (rrl == NULL)
    return NULL;
  size_t bytes = size * sizeof(bucket_t);
  rrl->table = aligned_alloc(SET_BYTES, bytes);
  if (rrl->table == NULL) {
    free(rrl);
    return NULL;
  }
  memset(rrl->table, 0, bytes);
  rrl->set_mask = size / DNS_RRL_WAYS - 1;
  rrl->rate = cfg->rate;
  rrl->full = cfg->rate * MILLI;
  rrl->slip = cfg->slip;
  rrl->seed = cfg->seed;
  rrl->stats.table_size = size;
  rrl->stats.table_bytes = bytes;
  return rrl;
}

void dns_rrl_free(dns_rrl_t *rrl) {
  if (rrl == NULL)
    return;
  free(rrl->table);
  free(rrl);
}

void dns_rrl_stats(const dns_rrl_t *rrl, dns_rrl_stats_t *out) {
  *out = rrl->stats;
}

/* ---- the key ---- */

/* One step of the hash: a multiply-xorshift per 64-bit word, a few
 * cycles. Not a cryptographic hash; the secret seed is what keeps
 * outsiders from choosing collisions. */
static uint64_t mix(uint64_t h, uint64_t w) {
  h ^= w;
  h *= 0x9E3779B97F4A7C15ull;
  return h ^ (h >> 29);
}

/* splitmix64's finalizer, so that every input bit reaches the set index
 * (high bits) and the tag (low bits). */
static uint64_t finish(uint64_t h) {
  h ^= h >> 30;
  h *= 0xBF58476D1CE4E5B9ull;
  h ^= h >> 27;
  h *= 0x94D049BB133111EBull;
  return h ^ (h >> 31);
}

/* Hash into h what the header says a reply carries: qtype, rcode and TC,
 * answer count, and the first answer's type and rdata (up to
 * DNS_RRL_KEY_RDATA bytes). A reply too odd to read is keyed on its
 * header alone, which still limits it. */
static uint64_t hash_reply(uint64_t h, const uint8_t *m, size_t len) {
  dns_reader_t r = dns_reader(m, len);
  dns_header_t hd = {0};
  dns_question_t q;
  dns_record_t rr;
  unsigned qtype = 0, ans_type = 0, rdlen = 0;
  const uint8_t *rdata = NULL;
  size_t take = 0;

  if (dns_read_header(&r, &hd) && hd.qdcount == 1 &&
      dns_read_question(&r, &q)) {
    qtype = q.qtype;
    if (hd.ancount > 0 && dns_read_record(&r, &rr) == DNS_RECORD_OK) {
      ans_type = rr.type;
      rdlen = rr.rdlen;
      rdata = rr.rdata;
      take = rdlen < DNS_RRL_KEY_RDATA ? rdlen : DNS_RRL_KEY_RDATA;
    }
  }
  uint16_t flags = hd.flags;
  unsigned ancount = hd.ancount;
  h = mix(h, (uint64_t)qtype << 48 |
                 (uint64_t)(flags & (DNS_FLAG_TC | DNS_RCODE_MASK)) << 32 |
                 (uint64_t)ancount << 16 | ans_type);
  h = mix(h, rdlen);
  for (size_t i = 0; i < take; i += 8) {
    uint64_t w = 0;
    memcpy(&w, rdata + i, take - i < 8 ? take - i : 8);
    h = mix(h, w);
  }
  return finish(h);
}

/* The client's network, tagged with its family; false for a family that
 * is neither. */
static bool client_net(const struct sockaddr *sa, uint64_t *net) {
  if (sa->sa_family == AF_INET) {
    uint32_t a = ntohl(((const struct sockaddr_in *)sa)->sin_addr.s_addr);
    *net = (uint64_t)4 << 56 | a >> (32 - DNS_RRL_IPV4_PREFIX);
    return true;
  }
  if (sa->sa_family != AF_INET6)
    return false;
  const uint8_t *b = ((const struct sockaddr_in6 *)sa)->sin6_addr.s6_addr;
  static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  if (memcmp(b, mapped, sizeof(mapped)) == 0) {
    uint32_t a = (uint32_t)b[12] << 24 | (uint32_t)b[13] << 16 |
                 (uint32_t)b[14] << 8 | b[15];
    *net = (uint64_t)4 << 56 | a >> (32 - DNS_RRL_IPV4_PREFIX);
    return true;
  }
  uint64_t v = 0;
  for (int i = 0; i < DNS_RRL_IPV6_PREFIX / 8; i++)
    v = v << 8 | b[i];
  *net = (uint64_t)6 << 56 | v;
  return true;
}

/* ---- the buckets ---- */

/* The bucket for tag in its set: the one holding it, else a free one,
 * else the one idle the longest, claimed full. */
static bucket_t *find_bucket(dns_rrl_t *rrl, uint64_t h, uint32_t now) {
  bucket_t *set = rrl->table + ((h >> 32) & rrl->set_mask) * DNS_RRL_WAYS;
  uint32_t tag = (uint32_t)h | 1u;
  for (int i = 0; i < DNS_RRL_WAYS; i++) {
    if (set[i].tag == tag)
      return &set[i];
  }
  /* A new key: a free slot, else the one idle the longest. */
  bucket_t *victim = &set[0];
  for (int i = 1; i < DNS_RRL_WAYS && victim->tag != 0; i++) {
    if (set[i].tag == 0 ||
        (uint32_t)(now - set[i].last_ms) > (uint32_t)(now - victim->last_ms))
      victim = &set[i];
  }
  /* A bucket that would have refilled completely has forgotten nothing
   * worth keeping. */
  if (victim->tag != 0 && (uint32_t)(now - victim->last_ms) < REFILL_CAP_MS)
    rrl->stats.evicted++;
  victim->tag = tag;
  victim->last_ms = now;
  victim->tokens = rrl->full;
  victim->drops = 0;
  return victim;
}

dns_rrl_action_t dns_rrl_account(dns_rrl_t *rrl, const struct sockaddr *client,
                                 const uint8_t *reply, size_t len,
                                 uint64_t now_ms) {
  uint64_t net;
  if (len < DNS_HEADER_SIZE || !client_net(client, &net)) {
    rrl->stats.sent++;
    return DNS_RRL_SEND;
  }
  uint64_t h = hash_reply(mix(rrl->seed, net), reply, len);
  uint32_t now = (uint32_t)now_ms;
  bucket_t *b = find_bucket(rrl, h, now);

  uint32_t elapsed = now - b->last_ms;
  if (elapsed > REFILL_CAP_MS)
    elapsed = REFILL_CAP_MS;
  uint32_t tokens = b->tokens + elapsed * rrl->rate;
  b->tokens = tokens < rrl->full ? tokens : rrl->full;
  b->last_ms = now;
  if (b->tokens >= MILLI) {
    b->tokens -= MILLI;
    rrl->stats.sent++;
    return DNS_RRL_SEND;
  }
  b->drops++;
  if (rrl->slip != 0 && b->drops % rrl->slip == 0) {
    rrl->stats.slipped++;
    return DNS_RRL_SLIP;
  }
  rrl->stats.dropped++;
  return DNS_RRL_DROP;
}

/* The OPT of a reply's additional section (after its question), if any;
 * records that cannot be read end the search. */
static bool find_opt(dns_reader_t r, const dns_header_t *h, dns_record_t *opt) {
  unsigned before = (unsigned)h->ancount + h->nscount;
  for (unsigned i = 0; i < before + h->arcount; i++) {
    if (dns_read_record(&r, opt) != DNS_RECORD_OK)
      return false;
    if (i >= before && opt->type == DNS_TYPE_OPT)
      return true;
  }
  return false;
}

size_t dns_rrl_truncate(const uint8_t *reply, size_t len, uint8_t *out,
                        size_t cap) {
  dns_reader_t r = dns_reader(reply, len);
  dns_header_t h;
  dns_question_t q;
  dns_record_t opt;
  if (!dns_read_header(&r, &h) || cap < DNS_HEADER_SIZE)
    return 0;
  bool question = h.qdcount == 1 && dns_read_question(&r, &q);
  size_t qlen = question ? r.pos - DNS_HEADER_SIZE : 0;
  bool has_opt = question && find_opt(r, &h, &opt);
  size_t n = DNS_HEADER_SIZE + qlen + (has_opt ? OPT_RR_SIZE : 0);
  if (n > cap)
    return 0;
  memcpy(out, reply, DNS_HEADER_SIZE + qlen);
  dns_put_be16(out + 2, (uint16_t)(h.flags | DNS_FLAG_TC));
  dns_put_be16(out + 4, question ? 1 : 0);
  dns_put_be16(out + 6, 0);
  dns_put_be16(out + 8, 0);
  dns_put_be16(out + 10, has_opt ? 1 : 0);
  if (has_opt) {
    /* The reply's OPT (payload size, extended rcode, version, DO) without
     * its options: root owner, no rdata. */
    uint8_t *o = out + DNS_HEADER_SIZE + qlen;
    o[0] = 0;
    dns_put_be16(o + 1, DNS_TYPE_OPT);
    dns_put_be16(o + 3, opt.rclass);
    dns_put_be32(o + 5, opt.ttl);
    dns_put_be16(o + 9, 0);
  }
  return n;
}
