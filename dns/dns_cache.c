#include "dns_cache.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>

/* Header fields (RFC 1035 4.1.1) this module patches in a reply or in a
 * response it rebuilds. */
#define HDR_ID 0
#define HDR_FLAGS 2
#define HDR_ANCOUNT 6
#define HDR_NSCOUNT 8
#define HDR_ARCOUNT 10

/* The key's flag byte: every query bit that can change the upstream's
 * answer. RD=0 asks a resolver for its cache only; CD turns validation
 * off; AD asks for the AD bit (RFC 6840 5.7); DO asks for DNSSEC records. */
#define KEY_RD 0x01u
#define KEY_CD 0x02u
#define KEY_AD 0x04u
#define KEY_DO 0x08u
#define KEY_FIXED 5 /* flag byte, QTYPE, QCLASS */

#define SOA_MIN_RDATA 22       /* two root names and five 32-bit fields */
#define SOA_MINIMUM_SIZE 4     /* the last field */
#define MAX_TTL_31 0x7FFFFFFFu /* RFC 2181 8: larger reads as 0 */

static uint32_t min_u32(uint32_t a, uint32_t b) {
  return a < b ? a : b;
}

/* ---- keys and hashing ---- */

size_t dns_cache_key(const dns_query_t *q, uint8_t *key) {
  if (!q->has_question || q->qname_len > DNS_MAX_NAME)
    return 0;
  uint8_t flags = 0;
  if (q->flags & DNS_FLAG_RD)
    flags |= KEY_RD;
  if (q->flags & DNS_FLAG_CD)
    flags |= KEY_CD;
  if (q->flags & DNS_FLAG_AD)
    flags |= KEY_AD;
  if (q->has_edns && q->edns_do)
    flags |= KEY_DO;
  key[0] = flags;
  dns_put_be16(key + 1, q->qtype);
  dns_put_be16(key + 3, q->qclass);
  if (dns_name_lower(q->question, q->qname_len, key + KEY_FIXED,
                     DNS_MAX_NAME) != q->qname_len)
    return 0;
  return KEY_FIXED + q->qname_len;
}

/* SipHash-2-4 (Aumasson and Bernstein, 2012), written from the paper.
 * Query names are chosen by whoever sends us packets, so an unkeyed hash
 * would let them fill one bucket chain and make every lookup a long walk. */
static uint64_t rotl64(uint64_t x, unsigned b) {
  return (x << b) | (x >> (64 - b));
}

static void sip_round(uint64_t v[4]) {
  v[0] += v[1];
  v[1] = rotl64(v[1], 13);
  v[1] ^= v[0];
  v[0] = rotl64(v[0], 32);
  v[2] += v[3];
  v[3] = rotl64(v[3], 16);
  v[3] ^= v[2];
  v[0] += v[3];
  v[3] = rotl64(v[3], 21);
  v[3] ^= v[0];
  v[2] += v[1];
  v[1] = rotl64(v[1], 17);
  v[1] ^= v[2];
  v[2] = rotl64(v[2], 32);
}

static uint64_t siphash24(const uint64_t k[2], const uint8_t *p, size_t len) {
  uint64_t v[4] = {k[0] ^ 0x736f6d6570736575ull, k[1] ^ 0x646f72616e646f6dull,
                   k[0] ^ 0x6c7967656e657261ull, k[1] ^ 0x7465646279746573ull};
  size_t full = len & ~(size_t)7;
  for (size_t i = 0; i < full; i += 8) {
    uint64_t m = 0;
    for (unsigned j = 0; j < 8; j++)
      m |= (uint64_t)p[i + j] << (8 * j);
    v[3] ^= m;
    sip_round(v);
    sip_round(v);
    v[0] ^= m;
  }
  uint64_t last = (uint64_t)len << 56;
  for (size_t j = 0; j < (len & 7); j++)
    last |= (uint64_t)p[full + j] << (8 * j);
  v[3] ^= last;
  sip_round(v);
  sip_round(v);
  v[0] ^= last;
  v[2] ^= 0xff;
  for (int i = 0; i < 4; i++)
    sip_round(v);
  return v[0] ^ v[1] ^ v[2] ^ v[3];
}

/* ---- reading an upstream response ---- */

/* What one walk over a response learns. */
typedef struct {
  uint16_t flags;
  size_t qname_len; /* as it stands in the message */
  size_t end;       /* where the last record ends; trailing bytes go */
  size_t opt_len;   /* the OPT record, when it is the very last one */
  bool cacheable;
  uint32_t lifetime; /* seconds, once capped */
  uint32_t ttl_cap;  /* served TTLs are at most this */
  size_t n_ttls;
  uint16_t ttl_at[DNS_CACHE_MAX_RECORDS];
  /* The bytes of TTL fields so far, for messages the cache may keep. */
  uint8_t ttl_byte[DNS_CACHE_MAX_MESSAGE / 8];
} msg_info_t;

/* Does the response's question equal the key's (name compared without
 * case, RFC 4343)? The question is the first name in the message, so it
 * stands uncompressed at q->at (dns_read_question). */
static bool question_matches(const uint8_t *msg, const dns_question_t *q,
                             const uint8_t *key, size_t key_len) {
  const uint8_t *name = key + KEY_FIXED;
  size_t name_len = key_len - KEY_FIXED;
  uint8_t lowered[DNS_MAX_NAME];

  if (q->name_len != name_len ||
      dns_name_lower(msg + q->at, name_len, lowered, sizeof(lowered)) !=
          name_len ||
      memcmp(lowered, name, name_len) != 0)
    return false;
  return q->qtype == dns_get_be16(key + 1) &&
         q->qclass == dns_get_be16(key + 3);
}

/* MINIMUM, the last field of an SOA's RDATA whatever the names before it;
 * false when the RDATA is too short to be an SOA's. */
static bool soa_minimum(const dns_record_t *rr, uint32_t *minimum) {
  dns_reader_t r = dns_reader(rr->rdata, rr->rdlen);
  return rr->rdlen >= SOA_MIN_RDATA &&
         dns_read_skip(&r, rr->rdlen - SOA_MINIMUM_SIZE) &&
         dns_read_be32(&r, minimum);
}

static bool is_ttl_byte(const msg_info_t *info, size_t at) {
  return at < DNS_CACHE_MAX_MESSAGE &&
         (info->ttl_byte[at / 8] >> (at % 8) & 1u);
}

typedef enum {
  NAME_OK = 0,
  NAME_READS_TTL,   /* counting a TTL down would change it */
  NAME_READS_AHEAD, /* see below */
} name_check_t;

/* The name at msg[at..], already checked by dns_read_record, against what
 * the cache does to a message. A compression pointer may aim at any
 * earlier byte, so the labels found there may run on into a TTL field,
 * or past the pointer itself: into the record's own fields or the
 * trailing bytes the cache cuts off. No compressor writes either (a
 * pointer aims at a whole earlier name). */
static name_check_t check_name(const uint8_t *msg, size_t at,
                               const msg_info_t *info) {
  size_t bound = SIZE_MAX; /* once a pointer is followed: where it stands */
  name_check_t found = NAME_OK;
  for (;;) {
    uint8_t len = msg[at];
    bool pointer = (len & 0xC0u) == 0xC0u;
    size_t used = pointer ? 2 : (size_t)len + 1;
    if (at + used > bound)
      return NAME_READS_AHEAD; /* the worse of the two: look on for it */
    for (size_t i = 0; i < used; i++) {
      if (is_ttl_byte(info, at + i))
        found = NAME_READS_TTL;
    }
    if (len == 0)
      return found;
    if (pointer && bound == SIZE_MAX)
      bound = at;
    at = pointer ? (size_t)(len & 0x3Fu) << 8 | msg[at + 1] : at + used;
  }
}

/* What walk_records found that decides how long an answer may be kept. */
typedef struct {
  uint32_t min_answer; /* the smallest TTL in the answer section */
  uint32_t negative;   /* from the first SOA in authority */
  uint32_t ext_rcode;  /* from the OPT record */
  bool too_many;       /* more TTLs than info->ttl_at holds */
  bool ttl_in_name;    /* a name reads a TTL that aging changes */
} walk_t;

/* Remember where rr's TTL stands (aging rewrites it) and fold it into the
 * section's figure. */
static void note_ttl(const dns_record_t *rr, bool answer, bool authority,
                     msg_info_t *info, walk_t *w) {
  uint32_t ttl = rr->ttl > MAX_TTL_31 ? 0 : rr->ttl;
  uint32_t minimum;
  for (size_t b = rr->ttl_at; b < rr->ttl_at + 4 && b < DNS_CACHE_MAX_MESSAGE;
       b++)
    info->ttl_byte[b / 8] |= (uint8_t)(1u << (b % 8));
  if (info->n_ttls < DNS_CACHE_MAX_RECORDS)
    info->ttl_at[info->n_ttls++] = (uint16_t)rr->ttl_at;
  else
    w->too_many = true;
  if (answer) {
    w->min_answer = min_u32(w->min_answer, ttl);
  } else if (authority && rr->type == DNS_TYPE_SOA &&
             w->negative == UINT32_MAX && soa_minimum(rr, &minimum)) {
    w->negative = min_u32(ttl, minimum);
  }
}

/* Every record after the question; false when one is invalid. */
static bool walk_records(dns_reader_t *r, const uint8_t *msg,
                         const dns_header_t *h, msg_info_t *info, walk_t *w) {
  bool seen_opt = false;
  size_t opt_start = 0, opt_end = 0;
  unsigned an = h->ancount, before_additional = an + h->nscount;
  unsigned total = before_additional + h->arcount;

  for (unsigned i = 0; i < total; i++) {
    dns_record_t rr;
    if (dns_read_record(r, &rr) != DNS_RECORD_OK)
      return false;
    name_check_t owner = check_name(msg, rr.at, info);
    if (owner == NAME_READS_AHEAD)
      return false;
    if (owner == NAME_READS_TTL)
      w->ttl_in_name = true;

    if (rr.type == DNS_TYPE_OPT) {
      /* RFC 6891 6.1.1: at most one, in the additional section, owned
       * by the root (6.1.2: render() finds its CLASS one byte in); its
       * TTL field holds flags and the extended rcode, never a TTL. */
      if (i < before_additional || seen_opt || msg[rr.at] != 0)
        return false;
      seen_opt = true;
      opt_start = rr.at;
      opt_end = r->pos;
      w->ext_rcode = rr.ttl >> DNS_OPT_TTL_RCODE_SHIFT;
      continue;
    }
    note_ttl(&rr, i < an, i >= an && i < before_additional, info, w);
  }
  info->end = r->pos;
  /* Only a last OPT can be left out for a client that sent none (or get
   * our payload size) without moving the records after it. */
  if (seen_opt && opt_end != info->end)
    return false;
  if (seen_opt)
    info->opt_len = opt_end - opt_start;
  return true;
}

/* Walk msg: check it answers the key's question (when key is not NULL)
 * and is well formed, and work out whether and how long it may be kept.
 * False when it is invalid. */
static bool analyze(const uint8_t *msg, size_t len, const uint8_t *key,
                    size_t key_len, uint32_t max_ttl, uint32_t neg_ttl,
                    msg_info_t *info) {
  dns_reader_t r = dns_reader(msg, len);
  dns_header_t h;
  dns_question_t q;
  walk_t w = {.min_answer = UINT32_MAX, .negative = UINT32_MAX};

  info->n_ttls = 0;
  memset(info->ttl_byte, 0, sizeof(info->ttl_byte));
  info->opt_len = 0;
  info->cacheable = false;
  if (!dns_read_header(&r, &h))
    return false;
  info->flags = h.flags;
  if (!(h.flags & DNS_FLAG_QR) || dns_flags_opcode(h.flags) != 0 ||
      h.qdcount != 1 || !dns_read_question(&r, &q))
    return false;
  if (key != NULL && !question_matches(msg, &q, key, key_len))
    return false;
  info->qname_len = q.name_len;
  if (!walk_records(&r, msg, &h, info, &w))
    return false;

  unsigned rcode = dns_flags_rcode(info->flags);
  if ((info->flags & DNS_FLAG_TC) || w.ext_rcode != 0 || w.too_many ||
      w.ttl_in_name || info->end > DNS_CACHE_MAX_MESSAGE)
    return true;
  if (rcode == DNS_RCODE_NOERROR && h.ancount > 0) {
    info->lifetime = min_u32(w.min_answer, max_ttl);
    info->ttl_cap = max_ttl;
  } else if ((rcode == DNS_RCODE_NOERROR || rcode == DNS_RCODE_NXDOMAIN) &&
             w.negative != UINT32_MAX) {
    info->lifetime = min_u32(w.negative, neg_ttl);
    info->ttl_cap = info->lifetime;
  } else {
    return true; /* SERVFAIL and the like, or negative without an SOA */
  }
  info->cacheable = info->lifetime > 0;
  return true;
}

/* ---- checking an upstream response before it is kept or relayed ---- */

/* Types whose RDATA holds names (RFC 1035 3.3, and those RFC 3597 4 says
 * a resolver should decompress), and the DNSSEC types the authority
 * section carries for a negative answer (RFC 4034, 5155). */
#define TYPE_MD 3
#define TYPE_MF 4
#define TYPE_MB 7
#define TYPE_MG 8
#define TYPE_MR 9
#define TYPE_MINFO 14
#define TYPE_RP 17
#define TYPE_AFSDB 18
#define TYPE_RT 21
#define TYPE_SRV 33
#define TYPE_KX 36
#define TYPE_DNAME 39
#define TYPE_DS 43
#define TYPE_RRSIG 46
#define TYPE_NSEC 47
#define TYPE_NSEC3 50
#define SOA_NUMBERS 20 /* SERIAL, REFRESH, RETRY, EXPIRE, MINIMUM */
#define SRV_NUMBERS 6  /* PRIORITY, WEIGHT, PORT */

/* How the RDATA of a type lays out its names: fixed octets before the
 * first name, how many names follow (back to back), fixed octets after. */
typedef struct {
  uint8_t before;
  uint8_t names;
  uint8_t after;
} rdata_form_t;

static rdata_form_t rdata_form(uint16_t type) {
  switch (type) {
  case DNS_TYPE_NS:
  case DNS_TYPE_CNAME:
  case DNS_TYPE_PTR:
  case TYPE_MD:
  case TYPE_MF:
  case TYPE_MB:
  case TYPE_MG:
  case TYPE_MR:
  case TYPE_DNAME:
    return (rdata_form_t){0, 1, 0};
  case DNS_TYPE_MX:
  case TYPE_AFSDB:
  case TYPE_RT:
  case TYPE_KX:
    return (rdata_form_t){2, 1, 0};
  case TYPE_MINFO:
  case TYPE_RP:
    return (rdata_form_t){0, 2, 0};
  case DNS_TYPE_SOA:
    return (rdata_form_t){0, 2, SOA_NUMBERS};
  case TYPE_SRV:
    return (rdata_form_t){SRV_NUMBERS, 1, 0};
  default:
    return (rdata_form_t){0, 0, 0}; /* opaque (RFC 3597: no compression) */
  }
}

/* Read the RDATA of rr field by field, its names with the strict name
 * reader over the whole message (they may point into it); the fields must
 * fill the RDATA exactly. When w is not NULL, write it there with every
 * name expanded. */
static bool rdata_check(const uint8_t *msg, size_t len, const dns_record_t *rr,
                        dns_writer_t *w) {
  rdata_form_t form = rdata_form(rr->type);
  size_t start = (size_t)(rr->rdata - msg);
  if (form.names == 0)
    return w == NULL || dns_write_bytes(w, rr->rdata, rr->rdlen);
  dns_reader_t r = dns_reader(msg, start + rr->rdlen);
  const uint8_t *fixed;
  uint8_t name[DNS_MAX_NAME];
  size_t name_len;

  r.pos = start;
  if (!dns_read_bytes(&r, form.before, &fixed) ||
      (w != NULL && !dns_write_bytes(w, fixed, form.before)))
    return false;
  for (unsigned i = 0; i < form.names; i++) {
    if (dns_read_name(&r, name, &name_len) != DNS_NAME_OK ||
        (w != NULL && !dns_write_bytes(w, name, name_len)))
      return false;
  }
  if (!dns_read_bytes(&r, form.after, &fixed) || dns_reader_left(&r) != 0)
    return false;
  return w == NULL || dns_write_bytes(w, fixed, form.after);
}

/* A lower-cased name, uncompressed. */
typedef struct {
  uint8_t b[DNS_MAX_NAME];
  size_t len;
} lname_t;

static bool lname_read(const uint8_t *msg, size_t at, size_t len, lname_t *n) {
  dns_reader_t r = dns_reader(msg, len);
  r.pos = at;
  return dns_read_name(&r, n->b, &n->len) == DNS_NAME_OK &&
         dns_name_lower(n->b, n->len, n->b, sizeof(n->b)) == n->len;
}

static bool lname_equal(const lname_t *a, const lname_t *b) {
  return a->len == b->len && memcmp(a->b, b->b, a->len) == 0;
}

/* Is anc the same name as n or one of its ancestors (a suffix of it on a
 * label boundary)? */
static bool lname_under(const lname_t *n, const lname_t *anc) {
  for (size_t p = 0; p < n->len; p += 1u + n->b[p]) {
    if (n->len - p == anc->len)
      return memcmp(n->b + p, anc->b, anc->len) == 0;
    if (n->b[p] == 0)
      break;
  }
  return false;
}

/* The question's name and the CNAME targets it leads to, and the zones
 * (owners of SOA and NS records kept in authority) that vouch for
 * NSEC-type records there. */
typedef struct {
  lname_t chain[DNS_CACHE_MAX_CHAIN];
  size_t n_chain;
  lname_t zones[DNS_CACHE_MAX_ZONES];
  size_t n_zones;
} check_scratch_t;

static bool in_chain(const check_scratch_t *s, const lname_t *n) {
  for (size_t i = 0; i < s->n_chain; i++) {
    if (lname_equal(&s->chain[i], n))
      return true;
  }
  return false;
}

/* Is n the same as or an ancestor of a name in the chain (a DNAME, or the
 * SOA or NS of a zone the chain passes through)? */
static bool above_chain(const check_scratch_t *s, const lname_t *n) {
  for (size_t i = 0; i < s->n_chain; i++) {
    if (lname_under(&s->chain[i], n))
      return true;
  }
  return false;
}

static bool in_zones(const check_scratch_t *s, const lname_t *n) {
  for (size_t i = 0; i < s->n_zones; i++) {
    if (lname_under(n, &s->zones[i]))
      return true;
  }
  return false;
}

typedef enum { SEC_ANSWER, SEC_AUTHORITY, SEC_ADDITIONAL } section_t;

/* The records of a message, one at a time, with their section. */
typedef struct {
  dns_reader_t r;
  unsigned i;
  unsigned an, before_additional, total;
} rr_iter_t;

static void iter_init(rr_iter_t *it, const uint8_t *msg, size_t len,
                      size_t records_at, const dns_header_t *h) {
  it->r = dns_reader(msg, len);
  it->r.pos = records_at;
  it->i = 0;
  it->an = h->ancount;
  it->before_additional = it->an + h->nscount;
  it->total = it->before_additional + h->arcount;
}

/* False at the end, or on a record that cannot be read (*bad set). */
static bool iter_next(rr_iter_t *it, dns_record_t *rr, section_t *sec,
                      bool *bad) {
  *bad = false;
  if (it->i >= it->total)
    return false;
  if (dns_read_record(&it->r, rr) != DNS_RECORD_OK) {
    *bad = true;
    return false;
  }
  *sec = it->i < it->an                  ? SEC_ANSWER
         : it->i < it->before_additional ? SEC_AUTHORITY
                                         : SEC_ADDITIONAL;
  it->i++;
  return true;
}

/* Follow CNAMEs from the last name of the chain through the answer
 * section, in whatever order the records come, until a name has none, a
 * target repeats (a loop) or the chain is full. A query for the CNAME
 * itself stops at the question's name. */
static void build_chain(check_scratch_t *s, const uint8_t *msg, size_t len,
                        size_t records_at, const dns_header_t *h,
                        uint16_t qtype, uint16_t qclass) {
  bool grew = qtype != DNS_TYPE_CNAME;
  while (grew && s->n_chain < DNS_CACHE_MAX_CHAIN) {
    rr_iter_t it;
    dns_record_t rr;
    section_t sec;
    bool bad;
    lname_t owner;
    grew = false;
    iter_init(&it, msg, len, records_at, h);
    while (!grew && iter_next(&it, &rr, &sec, &bad) && sec == SEC_ANSWER) {
      if (rr.type != DNS_TYPE_CNAME || rr.rclass != qclass ||
          !lname_read(msg, rr.at, len, &owner) ||
          !lname_equal(&owner, &s->chain[s->n_chain - 1]))
        continue;
      lname_t *target = &s->chain[s->n_chain];
      if (!lname_read(msg, (size_t)(rr.rdata - msg), len, target) ||
          in_chain(s, target))
        return;
      s->n_chain++;
      grew = true;
    }
  }
}

/* Does this record belong to the answer to the question? Records for the
 * chain's names (RRSIGs included) wherever they are; a DNAME above one of
 * them; in authority, the SOA, NS and DS of a zone the chain passes
 * through, and the NSEC, NSEC3 and RRSIG records of those zones (the
 * proofs of a negative answer). Never another class. */
static bool keep_record(const check_scratch_t *s, const dns_record_t *rr,
                        section_t sec, const lname_t *owner, uint16_t qclass) {
  if (rr->type == DNS_TYPE_OPT)
    return true;
  if (qclass != DNS_CLASS_ANY && rr->rclass != qclass)
    return false;
  switch (sec) {
  case SEC_ANSWER:
    return in_chain(s, owner) ||
           (rr->type == TYPE_DNAME && above_chain(s, owner));
  case SEC_AUTHORITY:
    switch (rr->type) {
    case DNS_TYPE_SOA:
    case DNS_TYPE_NS:
    case TYPE_DS:
      return above_chain(s, owner);
    case TYPE_NSEC:
    case TYPE_NSEC3:
    case TYPE_RRSIG:
      return in_zones(s, owner);
    default:
      return false;
    }
  case SEC_ADDITIONAL:
    return in_chain(s, owner);
  }
  return false;
}

/* One record of msg into w: the owner pointing at the question when it is
 * the question's name, else written out whole; RDATA names expanded. */
static bool write_record(dns_writer_t *w, const uint8_t *msg, size_t len,
                         const dns_record_t *rr, const lname_t *owner,
                         const lname_t *qname) {
  if (lname_equal(owner, qname)) {
    if (!dns_write_be16(w, 0xC000u | DNS_HEADER_SIZE))
      return false;
  } else {
    dns_reader_t r = dns_reader(msg, len);
    uint8_t name[DNS_MAX_NAME];
    size_t name_len;
    r.pos = rr->at;
    if (dns_read_name(&r, name, &name_len) != DNS_NAME_OK ||
        !dns_write_bytes(w, name, name_len))
      return false;
  }
  if (!dns_write_be16(w, rr->type) || !dns_write_be16(w, rr->rclass) ||
      !dns_write_bytes(w, msg + rr->ttl_at, 4))
    return false;
  size_t rdlen_at = w->pos;
  if (!dns_write_be16(w, 0) || !rdata_check(msg, len, rr, w))
    return false;
  size_t rdlen = w->pos - rdlen_at - 2;
  if (rdlen > UINT16_MAX)
    return false;
  dns_put_be16(w->buf + rdlen_at, (uint16_t)rdlen);
  return true;
}

/* The kept records, section by section, the OPT record last (where
 * dns_cache_answer looks for it). */
static bool rebuild(const check_scratch_t *s, const uint8_t *msg, size_t len,
                    const dns_header_t *h, size_t records_at, uint16_t qclass,
                    dns_writer_t *w) {
  uint16_t counts[3] = {0, 0, 0};
  const dns_record_t *opt = NULL;
  dns_record_t opt_rr;
  rr_iter_t it;
  dns_record_t rr;
  section_t sec;
  bool bad;

  if (!dns_write_bytes(w, msg, records_at))
    return false;
  iter_init(&it, msg, len, records_at, h);
  while (iter_next(&it, &rr, &sec, &bad)) {
    lname_t owner;
    if (!lname_read(msg, rr.at, len, &owner))
      return false;
    if (!keep_record(s, &rr, sec, &owner, qclass))
      continue;
    if (rr.type == DNS_TYPE_OPT) {
      opt_rr = rr;
      opt = &opt_rr;
      continue;
    }
    if (!write_record(w, msg, len, &rr, &owner, &s->chain[0]))
      return false;
    counts[sec]++;
  }
  if (bad)
    return false;
  if (opt != NULL) {
    size_t opt_len = (size_t)(opt->rdata - msg) + opt->rdlen - opt->at;
    if (!dns_write_bytes(w, msg + opt->at, opt_len))
      return false;
    counts[SEC_ADDITIONAL]++;
  }
  dns_put_be16(w->buf + HDR_ANCOUNT, counts[SEC_ANSWER]);
  dns_put_be16(w->buf + HDR_NSCOUNT, counts[SEC_AUTHORITY]);
  dns_put_be16(w->buf + HDR_ARCOUNT, counts[SEC_ADDITIONAL]);
  return true;
}

/* ---- building a client's reply ---- */

/* A response ready to serve: bytes, where its TTLs are, how old it is. */
typedef struct {
  const uint8_t *msg;
  size_t len;
  size_t opt_len;
  const uint16_t *ttl_at;
  size_t n_ttls;
  uint32_t ttl_cap;
  uint32_t age; /* seconds */
} view_t;

/* TC=1 and the question only, for an answer longer than the client takes.
 * dns_build_response frames it (ID, question, the client's OPT); the
 * flags are then the upstream's where they describe the data. */
static size_t reply_truncated(uint16_t up_flags, const dns_query_t *q,
                              uint8_t *out, size_t cap, size_t limit) {
  unsigned rcode = dns_flags_rcode(up_flags);
  size_t n = dns_build_response(q, rcode, NULL, 0, 0, out, cap, limit);
  if (n == 0)
    return 0;
  uint16_t flags =
      (uint16_t)(DNS_FLAG_QR | DNS_FLAG_TC | (q->flags & DNS_FLAG_RD) |
                 (up_flags & (DNS_FLAG_AA | DNS_FLAG_RA | DNS_FLAG_CD)) |
                 rcode);
  dns_put_be16(out + HDR_FLAGS, flags);
  return n;
}

static size_t render(const view_t *v, const dns_query_t *q, size_t limit,
                     uint8_t *out, size_t cap) {
  size_t room = cap < limit ? cap : limit;
  /* RFC 6891 7: no OPT in a reply to a query that had none. */
  size_t n = q->has_edns ? v->len : v->len - v->opt_len;

  if (n > room)
    return reply_truncated(dns_get_be16(v->msg + HDR_FLAGS), q, out, cap,
                           limit);
  memcpy(out, v->msg, n);
  dns_put_be16(out + HDR_ID, q->id);
  /* Same name (the key says so), so the same length: only the spelling
   * may differ, and the client gets its own back. */
  memcpy(out + DNS_HEADER_SIZE, q->question, q->question_len);
  if (n < v->len)
    dns_put_be16(out + HDR_ARCOUNT,
                 (uint16_t)(dns_get_be16(out + HDR_ARCOUNT) - 1));
  else if (v->opt_len > 0)
    /* The OPT's CLASS is the payload size the sender takes: ours, as in
     * every reply of this server, not the upstream's. */
    dns_put_be16(out + n - v->opt_len + 3, DNS_EDNS_ADVERTISED);
  for (size_t i = 0; i < v->n_ttls; i++) {
    size_t at = v->ttl_at[i];
    if (at + 4 > n)
      continue;
    uint32_t ttl = dns_get_be32(v->msg + at);
    if (ttl > MAX_TTL_31)
      ttl = 0;
    ttl = min_u32(ttl, v->ttl_cap);
    dns_put_be32(out + at, ttl > v->age ? ttl - v->age : 0);
  }
  return n;
}

size_t dns_cache_relay(const uint8_t *msg, size_t len, const dns_query_t *q,
                       size_t limit, uint8_t *out, size_t cap) {
  msg_info_t info;
  if (!q->has_question || !analyze(msg, len, NULL, 0, 0, 0, &info))
    return 0;
  /* The question lengths must agree, or the patch would shift records. */
  if (info.qname_len != q->qname_len)
    return 0;
  view_t v = {msg, info.end, info.opt_len, NULL, 0, UINT32_MAX, 0};
  return render(&v, q, limit, out, cap);
}

/* ---- the cache ---- */

/* One allocation: the header, the TTL offsets, the key, the message. */
typedef struct cache_entry {
  struct cache_entry *chain;    /* next in the bucket */
  TAILQ_ENTRY(cache_entry) lru; /* newest first */
  uint64_t hash;
  uint64_t stored_ms;
  uint64_t expires_ms;
  size_t size; /* of this allocation */
  uint32_t ttl_cap;
  uint16_t key_len;
  uint16_t msg_len;
  uint16_t opt_len;
  uint16_t n_ttls;
  uint16_t ttl_at[]; /* then key, then message */
} cache_entry_t;

struct dns_cache {
  dns_cache_config_t cfg;
  cache_entry_t **buckets;
  size_t mask; /* buckets - 1 */
  TAILQ_HEAD(cache_lru, cache_entry) lru;
  size_t entries;
  size_t bytes;
  uint64_t stored, evicted, expired;
  msg_info_t scratch;    /* analyze() output, ~800 bytes */
  check_scratch_t check; /* dns_cache_check's names, ~6 KiB */
};

static uint8_t *entry_key(cache_entry_t *e) {
  return (uint8_t *)(e->ttl_at + e->n_ttls);
}

static uint8_t *entry_msg(cache_entry_t *e) {
  return entry_key(e) + e->key_len;
}

dns_cache_t *dns_cache_new(const dns_cache_config_t *cfg) {
  dns_cache_t *c = calloc(1, sizeof(*c));
  if (c == NULL)
    return NULL;
  c->cfg = *cfg;
  TAILQ_INIT(&c->lru);
  if (c->cfg.max_bytes == 0)
    c->cfg.max_bytes = c->cfg.max_entries * DNS_CACHE_BYTES_PER_ENTRY;
  if (c->cfg.max_entries == 0)
    return c;
  /* A power of two at or above max_entries: chains stay about one long. */
  size_t n = 16;
  while (n < c->cfg.max_entries && n < ((size_t)1 << 30))
    n <<= 1;
  c->buckets = calloc(n, sizeof(*c->buckets));
  if (c->buckets == NULL) {
    free(c);
    return NULL;
  }
  c->mask = n - 1;
  return c;
}

static cache_entry_t *lru_oldest(dns_cache_t *c) {
  return TAILQ_LAST(&c->lru, cache_lru);
}

static void entry_remove(dns_cache_t *c, cache_entry_t *e) {
  cache_entry_t **pp = &c->buckets[e->hash & c->mask];
  while (*pp != e)
    pp = &(*pp)->chain;
  *pp = e->chain;
  TAILQ_REMOVE(&c->lru, e, lru);
  c->entries--;
  c->bytes -= e->size;
  free(e);
}

void dns_cache_flush(dns_cache_t *c) {
  cache_entry_t *e;
  while ((e = lru_oldest(c)) != NULL)
    entry_remove(c, e);
}

void dns_cache_free(dns_cache_t *c) {
  if (c == NULL)
    return;
  dns_cache_flush(c);
  free(c->buckets);
  free(c);
}

void dns_cache_stats(const dns_cache_t *c, dns_cache_stats_t *out) {
  *out = (dns_cache_stats_t){
      .entries = c->entries,
      .bytes = c->bytes,
      .index_bytes =
          c->buckets != NULL ? (c->mask + 1) * sizeof(*c->buckets) : 0,
      .max_entries = c->cfg.max_entries,
      .max_bytes = c->cfg.max_bytes,
      .stored = c->stored,
      .evicted = c->evicted,
      .expired = c->expired,
  };
}

uint64_t dns_cache_hash(const dns_cache_t *c, const uint8_t *key,
                        size_t key_len) {
  return siphash24(c->cfg.hash_key, key, key_len);
}

static cache_entry_t *find(const dns_cache_t *c, const uint8_t *key,
                           size_t key_len, uint64_t hash) {
  for (cache_entry_t *e = c->buckets[hash & c->mask]; e != NULL; e = e->chain) {
    if (e->hash == hash && e->key_len == key_len &&
        memcmp(entry_key(e), key, key_len) == 0)
      return e;
  }
  return NULL;
}

size_t dns_cache_answer(dns_cache_t *c, const uint8_t *key, size_t key_len,
                        const dns_query_t *q, size_t limit, uint64_t now_ms,
                        uint8_t *out, size_t cap) {
  if (c->entries == 0 || key_len == 0)
    return 0;
  cache_entry_t *e = find(c, key, key_len, dns_cache_hash(c, key, key_len));
  if (e == NULL)
    return 0;
  if (now_ms >= e->expires_ms) {
    c->expired++;
    entry_remove(c, e);
    return 0;
  }
  TAILQ_REMOVE(&c->lru, e, lru);
  TAILQ_INSERT_HEAD(&c->lru, e, lru);
  /* A clock that went backwards makes the entry new again, not negative
   * in age. */
  uint64_t age_ms = now_ms > e->stored_ms ? now_ms - e->stored_ms : 0;
  view_t v = {entry_msg(e),
              e->msg_len,
              e->opt_len,
              e->ttl_at,
              e->n_ttls,
              e->ttl_cap,
              (uint32_t)(age_ms / 1000)};
  return render(&v, q, limit, out, cap);
}

dns_cache_verdict_t dns_cache_store(dns_cache_t *c, const uint8_t *key,
                                    size_t key_len, const uint8_t *msg,
                                    size_t len, uint64_t now_ms) {
  msg_info_t *info = &c->scratch;
  if (key_len <= KEY_FIXED || key_len > DNS_CACHE_KEY_MAX ||
      !analyze(msg, len, key, key_len, c->cfg.max_ttl, c->cfg.neg_ttl, info))
    return DNS_CACHE_INVALID;
  if (!info->cacheable || c->cfg.max_entries == 0)
    return DNS_CACHE_NOT_STORED;

  size_t size = sizeof(cache_entry_t) + info->n_ttls * sizeof(uint16_t) +
                key_len + info->end;
  if (size > c->cfg.max_bytes)
    return DNS_CACHE_NOT_STORED;

  uint64_t hash = dns_cache_hash(c, key, key_len);
  cache_entry_t *old = find(c, key, key_len, hash);
  if (old != NULL)
    entry_remove(c, old);
  cache_entry_t *victim;
  while ((victim = lru_oldest(c)) != NULL &&
         (c->entries >= c->cfg.max_entries ||
          c->bytes + size > c->cfg.max_bytes)) {
    if (now_ms >= victim->expires_ms)
      c->expired++;
    else
      c->evicted++;
    entry_remove(c, victim);
  }

  cache_entry_t *e = malloc(size);
  if (e == NULL)
    return DNS_CACHE_NOT_STORED;
  e->hash = hash;
  e->stored_ms = now_ms;
  e->expires_ms = now_ms + (uint64_t)info->lifetime * 1000;
  e->size = size;
  e->ttl_cap = info->ttl_cap;
  e->key_len = (uint16_t)key_len;
  e->msg_len = (uint16_t)info->end;
  e->opt_len = (uint16_t)info->opt_len;
  e->n_ttls = (uint16_t)info->n_ttls;
  memcpy(e->ttl_at, info->ttl_at, info->n_ttls * sizeof(uint16_t));
  memcpy(entry_key(e), key, key_len);
  memcpy(entry_msg(e), msg, info->end);

  size_t b = hash & c->mask;
  e->chain = c->buckets[b];
  c->buckets[b] = e;
  TAILQ_INSERT_HEAD(&c->lru, e, lru);
  c->entries++;
  c->bytes += size;
  c->stored++;
  return DNS_CACHE_STORED;
}

dns_cache_check_t dns_cache_check(dns_cache_t *c, const uint8_t *key,
                                  size_t key_len, const uint8_t *msg,
                                  size_t len, uint8_t *out, size_t cap,
                                  size_t *out_len, size_t *dropped) {
  check_scratch_t *s = &c->check;
  dns_reader_t r = dns_reader(msg, len);
  dns_header_t h;
  dns_question_t q;
  rr_iter_t it;
  dns_record_t rr;
  section_t sec;
  bool bad, seen_opt = false, opt_not_last = false;

  *out_len = 0;
  *dropped = 0;
  if (key_len <= KEY_FIXED || key_len > DNS_CACHE_KEY_MAX ||
      !dns_read_header(&r, &h) || !(h.flags & DNS_FLAG_QR) ||
      dns_flags_opcode(h.flags) != 0 || h.qdcount != 1 ||
      !dns_read_question(&r, &q) || !question_matches(msg, &q, key, key_len))
    return DNS_CACHE_REJECTED;
  size_t records_at = r.pos;

  /* Every record readable, every name in it too (RFC 6891 6.1.1: one
   * OPT at most, in the additional section, owned by the root). */
  iter_init(&it, msg, len, records_at, &h);
  while (iter_next(&it, &rr, &sec, &bad)) {
    if (rr.type == DNS_TYPE_OPT) {
      if (sec != SEC_ADDITIONAL || seen_opt || msg[rr.at] != 0)
        return DNS_CACHE_REJECTED;
      seen_opt = true;
    } else if (!rdata_check(msg, len, &rr, NULL)) {
      return DNS_CACHE_REJECTED;
    } else {
      opt_not_last = seen_opt;
    }
  }
  if (bad)
    return DNS_CACHE_REJECTED;
  size_t end = it.r.pos; /* trailing bytes are not kept */

  s->n_chain = 1;
  s->n_zones = 0;
  memcpy(s->chain[0].b, key + KEY_FIXED, key_len - KEY_FIXED);
  s->chain[0].len = key_len - KEY_FIXED;
  build_chain(s, msg, len, records_at, &h, q.qtype, q.qclass);

  /* The zones first, so that an NSEC before its SOA is judged alike. */
  iter_init(&it, msg, len, records_at, &h);
  while (iter_next(&it, &rr, &sec, &bad)) {
    lname_t *zone = &s->zones[s->n_zones];
    if (s->n_zones < DNS_CACHE_MAX_ZONES && sec == SEC_AUTHORITY &&
        (rr.type == DNS_TYPE_SOA || rr.type == DNS_TYPE_NS) &&
        lname_read(msg, rr.at, len, zone) &&
        keep_record(s, &rr, sec, zone, q.qclass))
      s->n_zones++;
  }

  iter_init(&it, msg, len, records_at, &h);
  while (iter_next(&it, &rr, &sec, &bad)) {
    lname_t owner;
    if (!lname_read(msg, rr.at, len, &owner) ||
        !keep_record(s, &rr, sec, &owner, q.qclass))
      (*dropped)++;
  }

  /* Rebuilt also to put an OPT that is not last where the cache (and a
   * client without EDNS, which must not get it) expects it. */
  dns_writer_t w = dns_writer(out, cap);
  if (*dropped == 0 && !opt_not_last) {
    if (!dns_write_bytes(&w, msg, end))
      return DNS_CACHE_REJECTED;
  } else if (!rebuild(s, msg, len, &h, records_at, q.qclass, &w)) {
    return DNS_CACHE_REJECTED;
  }
  *out_len = w.pos;
  return DNS_CACHE_CLEAN;
}
