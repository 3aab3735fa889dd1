#include "dns_zone.h"

#include <stdlib.h>
#include <string.h>

#include "dns_wire.h"

/* Each answer record we precompute (RFC 1035 4.1.3), owner compressed:
 *
 *   C0 0C | TYPE | CLASS IN | TTL (32) | RDLENGTH | RDATA (4 or 16)
 *
 * The owner is a pointer to offset 12, where the echoed question name
 * always starts (RFC 1035 4.1.4), so the same bytes serve every query that
 * reaches the name, whatever its spelling and whichever wildcard matched. */
#define ZONE_OWNER_POINTER (0xC000u | DNS_HEADER_SIZE)
#define ZONE_RR_FIXED_SIZE (2 + 2 + 2 + 4 + 2)
#define ZONE_A_RR_SIZE (ZONE_RR_FIXED_SIZE + 4)
#define ZONE_AAAA_RR_SIZE (ZONE_RR_FIXED_SIZE + 16)

/* RFC 1035 4.1.1: ANCOUNT is the header's fourth 16-bit field. */
#define ZONE_ANCOUNT_OFFSET 6

/* The biggest reply dns_build_response can be asked to frame around our
 * answers: header, the longest question (QNAME + QTYPE + QCLASS), OPT. */
#define ZONE_OPT_SIZE (1 + 2 + 2 + 4 + 2) /* root owner, no options */
#define ZONE_MAX_FRAME (DNS_HEADER_SIZE + DNS_MAX_NAME + 4 + ZONE_OPT_SIZE)

/* The bound in dns_map.h is what makes TCP answers always complete and
 * lets counts and lengths below live in 16 bits. */
_Static_assert(DNS_MAP_MAX_ADDRS *ZONE_AAAA_RR_SIZE + ZONE_MAX_FRAME <=
                   DNS_MAX_MESSAGE,
               "a name's full answer must fit in a TCP message");

/* RFC 2181 8: a TTL is 31 bits; receivers read larger values as 0. */
#define ZONE_MAX_TTL 2147483647u

/* A name's records laid out as [all A][all AAAA]: ANY is the whole run and
 * A and AAAA are its two halves, so one copy serves all three qtypes. */
typedef struct {
  const uint8_t *bytes; /* into zone->arena */
  uint16_t a_len;
  uint16_t aaaa_len;
  uint16_t n_a;
  uint16_t n_aaaa;
} zone_answers_t;

/* What one reply carries in its answer section. */
typedef struct {
  const uint8_t *bytes;
  size_t len;
  uint16_t count;
} zone_section_t;

struct dns_zone {
  dns_map_t *map; /* owned, never modified after build */
  dns_zone_options_t opts;
  zone_answers_t *answers;      /* one per name, by dns_map_entry_t.index */
  zone_answers_t unknown;       /* DNS_UNKNOWN_ANSWER's records */
  const zone_answers_t *health; /* opts.health_name's, or NULL */
  uint8_t *arena;               /* every answer byte, one allocation */
  /* Wildcard bases' label counts (the base of *.example.com has 2): a
   * query only probes suffixes in this range, so a long random name costs
   * no probe at all when no wildcard could match it. */
  size_t n_wildcards;
  size_t min_base_labels;
  size_t max_base_labels;
};

void dns_zone_options_default(dns_zone_options_t *opts) {
  memset(opts, 0, sizeof(*opts));
  opts->ttl = 60;
  opts->unknown = DNS_UNKNOWN_ANSWER;
  opts->unknown_addrs[0].family = 4;
  memcpy(opts->unknown_addrs[0].addr, (const uint8_t[]){127, 0, 0, 1}, 4);
  opts->n_unknown_addrs = 1;
}

const char *dns_zone_options_check(const dns_zone_options_t *opts) {
  if (opts == NULL)
    return "no options";
  if (opts->ttl > ZONE_MAX_TTL)
    return "TTL above 2147483647 (RFC 2181 8)";
  switch (opts->unknown) {
  case DNS_UNKNOWN_ANSWER:
  case DNS_UNKNOWN_NXDOMAIN:
  case DNS_UNKNOWN_REFUSED:
  case DNS_UNKNOWN_FORWARD:
    break;
  default:
    return "unknown-name policy out of range";
  }
  if (opts->n_unknown_addrs > DNS_ZONE_MAX_UNKNOWN_ADDRS)
    return "more than 8 unknown-name addresses";
  for (size_t i = 0; i < opts->n_unknown_addrs; i++) {
    if (opts->unknown_addrs[i].family != 4 &&
        opts->unknown_addrs[i].family != 6)
      return "unknown-name address family other than 4 or 6";
  }
  const char *health = opts->health_name;
  if (memchr(health, '\0', sizeof(opts->health_name)) == NULL)
    return "health name longer than 254 characters";
  if (health[0] != '\0' && dns_map_check_name(health) != DNS_MAP_NAME_OK)
    return "health name is not a valid name";
  if (health[0] == '*')
    return "health name is a wildcard";
  return NULL;
}

/* Labels before the root in a wire name. 0 also for bytes that do not end
 * with the root octet exactly at len: that cannot happen for a parsed
 * QNAME or a map key, but a walk over bytes checks its bounds anyway. */
static size_t count_labels(const uint8_t *name, size_t len) {
  size_t labels = 0;

  for (size_t pos = 0; pos < len; pos += 1u + name[pos]) {
    if (name[pos] == 0)
      return pos + 1 == len ? labels : 0;
    labels++;
  }
  return 0;
}

/* Writes one record at p, which the caller sized; returns its end. */
static uint8_t *put_rr(uint8_t *p, uint16_t type, uint32_t ttl,
                       const uint8_t *rdata, uint16_t rdlen) {
  dns_put_be16(p, ZONE_OWNER_POINTER);
  dns_put_be16(p + 2, type);
  dns_put_be16(p + 4, DNS_CLASS_IN);
  dns_put_be32(p + 6, ttl);
  dns_put_be16(p + 10, rdlen);
  p += 12;
  memcpy(p, rdata, rdlen);
  return p + rdlen;
}

/* The arena bytes a name with n_a and n_aaaa addresses needs. */
static size_t answers_size(size_t n_a, size_t n_aaaa) {
  return n_a * ZONE_A_RR_SIZE + n_aaaa * ZONE_AAAA_RR_SIZE;
}

/* Writes one name's records at p (sized by answers_size) and returns the
 * end. a and aaaa are flat arrays of 4- and 16-byte addresses. */
static uint8_t *put_answers(zone_answers_t *ans, uint8_t *p, uint32_t ttl,
                            const uint8_t *a, size_t n_a, const uint8_t *aaaa,
                            size_t n_aaaa) {
  ans->bytes = p;
  ans->n_a = (uint16_t)n_a;
  ans->n_aaaa = (uint16_t)n_aaaa;
  ans->a_len = (uint16_t)(n_a * ZONE_A_RR_SIZE);
  ans->aaaa_len = (uint16_t)(n_aaaa * ZONE_AAAA_RR_SIZE);
  for (size_t i = 0; i < n_a; i++)
    p = put_rr(p, DNS_TYPE_A, ttl, a + 4 * i, 4);
  for (size_t i = 0; i < n_aaaa; i++)
    p = put_rr(p, DNS_TYPE_AAAA, ttl, aaaa + 16 * i, 16);
  return p;
}

/* The unknown-name records, from opts->unknown_addrs, gathered by family
 * so that they share the layout (and the code) of a map name. */
static uint8_t *put_unknown(dns_zone_t *zone, uint8_t *p) {
  uint8_t a[DNS_ZONE_MAX_UNKNOWN_ADDRS][4];
  uint8_t aaaa[DNS_ZONE_MAX_UNKNOWN_ADDRS][16];
  size_t n_a = 0, n_aaaa = 0;

  for (size_t i = 0; i < zone->opts.n_unknown_addrs; i++) {
    if (zone->opts.unknown_addrs[i].family == 4)
      memcpy(a[n_a++], zone->opts.unknown_addrs[i].addr, 4);
    else
      memcpy(aaaa[n_aaaa++], zone->opts.unknown_addrs[i].addr, 16);
  }
  return put_answers(&zone->unknown, p, zone->opts.ttl, a[0], n_a, aaaa[0],
                     n_aaaa);
}

/* Sizes the arena and gathers the wildcard label range; false when the
 * total does not fit a size_t (only conceivable with a 32-bit size_t). */
static bool zone_plan(dns_zone_t *zone, size_t *arena_size) {
  size_t n_unknown_a = 0;

  for (size_t i = 0; i < zone->opts.n_unknown_addrs; i++)
    n_unknown_a += zone->opts.unknown_addrs[i].family == 4;
  size_t total =
      answers_size(n_unknown_a, zone->opts.n_unknown_addrs - n_unknown_a);

  for (size_t i = 0; i < dns_map_size(zone->map); i++) {
    const dns_map_entry_t *e = dns_map_at(zone->map, i);
    size_t size = answers_size(e->n_a, e->n_aaaa);
    if (size > SIZE_MAX - total)
      return false;
    total += size;
    if (!dns_map_entry_is_wildcard(e))
      continue;
    size_t base = count_labels(e->name, e->name_len) - 1;
    if (zone->n_wildcards == 0 || base < zone->min_base_labels)
      zone->min_base_labels = base;
    if (zone->n_wildcards == 0 || base > zone->max_base_labels)
      zone->max_base_labels = base;
    zone->n_wildcards++;
  }
  *arena_size = total;
  return true;
}

dns_zone_t *dns_zone_new(dns_map_t *map, const dns_zone_options_t *opts) {
  dns_zone_t *zone = NULL;
  bool ok = false;
  size_t arena_size;

  if (map == NULL || dns_zone_options_check(opts) != NULL)
    goto done;
  zone = calloc(1, sizeof(*zone));
  if (zone == NULL)
    goto done;
  zone->map = map;
  map = NULL; /* the zone owns it now and frees it with itself */
  zone->opts = *opts;
  /* Before the arena is planned: the name is one more map entry. */
  if (opts->health_name[0] != '\0' &&
      dns_map_add(zone->map, opts->health_name, 4,
                  (const uint8_t[]){127, 0, 0, 1}) != 0)
    goto done;

  size_t n_names = dns_map_size(zone->map);
  zone->answers = calloc(n_names > 0 ? n_names : 1, sizeof(*zone->answers));
  if (zone->answers == NULL || !zone_plan(zone, &arena_size))
    goto done;
  zone->arena = malloc(arena_size > 0 ? arena_size : 1);
  if (zone->arena == NULL)
    goto done;

  /* zone_plan sized the arena with the same answers_size these use. */
  uint8_t *p = put_unknown(zone, zone->arena);
  for (size_t i = 0; i < n_names; i++) {
    const dns_map_entry_t *e = dns_map_at(zone->map, i);
    p = put_answers(&zone->answers[i], p, zone->opts.ttl,
                    e->n_a > 0 ? e->a[0] : NULL, e->n_a,
                    e->n_aaaa > 0 ? e->aaaa[0] : NULL, e->n_aaaa);
  }
  if (opts->health_name[0] != '\0')
    zone->health =
        &zone->answers[dns_map_find(zone->map, opts->health_name)->index];
  ok = true;

done:
  if (!ok) {
    dns_map_free(map);
    dns_zone_free(zone);
    zone = NULL;
  }
  return zone;
}

void dns_zone_free(dns_zone_t *zone) {
  if (zone == NULL)
    return;
  dns_map_free(zone->map);
  free(zone->answers);
  free(zone->arena);
  free(zone);
}

size_t dns_zone_names(const dns_zone_t *zone) {
  return zone != NULL ? dns_map_size(zone->map) : 0;
}

/* The most specific wildcard for name: strip labels from the left and
 * probe "*.<rest>" at each level, longest rest first, so the first hit is
 * the answer. The first label always goes, so a wildcard never matches its
 * own base name. One hash probe per level in the range some wildcard could
 * match, and the key is hashed in place (dns_map_lookup_wildcard). */
static const dns_map_entry_t *find_wildcard(const dns_zone_t *zone,
                                            const uint8_t *name, size_t len) {
  size_t labels = count_labels(name, len);
  size_t pos = 0;

  /* count_labels walked these bytes, so every name[pos] below is in
   * bounds and is a label length. */
  while (labels > 0) {
    pos += 1u + name[pos];
    labels--;
    if (labels > zone->max_base_labels)
      continue;
    if (labels < zone->min_base_labels)
      break;
    const dns_map_entry_t *e =
        dns_map_lookup_wildcard(zone->map, name + pos, len - pos);
    if (e != NULL)
      return e;
  }
  return NULL;
}

/* An exact name first, then the wildcards. NULL for an unknown name. */
static const zone_answers_t *zone_find(const dns_zone_t *zone,
                                       const dns_query_t *q) {
  const dns_map_entry_t *e =
      dns_map_lookup(zone->map, q->question, q->qname_len);

  if (e == NULL && zone->n_wildcards > 0)
    e = find_wildcard(zone, q->question, q->qname_len);
  return e != NULL ? &zone->answers[e->index] : NULL;
}

/* A known name with no record of the asked type, or a type we hold no
 * records of (MX, TXT, ...), gets an empty section: NODATA. */
static zone_section_t section_for(const zone_answers_t *ans, uint16_t qtype) {
  zone_section_t s = {NULL, 0, 0};

  switch (qtype) {
  case DNS_TYPE_A:
    s = (zone_section_t){ans->bytes, ans->a_len, ans->n_a};
    break;
  case DNS_TYPE_AAAA:
    s = (zone_section_t){ans->bytes + ans->a_len, ans->aaaa_len, ans->n_aaaa};
    break;
  case DNS_TYPE_ANY:
    s = (zone_section_t){ans->bytes, (size_t)ans->a_len + ans->aaaa_len,
                         (uint16_t)(ans->n_a + ans->n_aaaa)};
    break;
  default:
    break;
  }
  return s;
}

/* No default case, so -Wswitch flags a parse result added later. */
static unsigned rcode_for(dns_parse_t result) {
  switch (result) {
  case DNS_PARSE_OK:
  case DNS_PARSE_DROP:
    return DNS_RCODE_NOERROR;
  case DNS_PARSE_FORMERR:
    return DNS_RCODE_FORMERR;
  case DNS_PARSE_NOTIMP:
    return DNS_RCODE_NOTIMP;
  case DNS_PARSE_REFUSED:
    return DNS_RCODE_REFUSED;
  case DNS_PARSE_BADVERS:
    return DNS_RCODE_BADVERS;
  }
  return DNS_RCODE_SERVFAIL; /* not a dns_parse_t: cannot happen */
}

/* dns_build_response frames the reply (header, echoed question, OPT) and
 * the precomputed section is spliced in before the OPT: one memmove of at
 * most the OPT's 11 bytes and one memcpy, instead of re-encoding every
 * record per query. Returns the length, 0 when not even the frame fits. */
static size_t write_reply(const dns_query_t *q, unsigned rcode,
                          const zone_section_t *section, uint8_t *out,
                          size_t cap, size_t limit) {
  size_t room = cap < limit ? cap : limit;
  size_t n = dns_build_response(q, rcode, NULL, 0, 0, out, cap, limit);

  /* Answers exist only for a parsed query, which always has a question. */
  if (n == 0 || section->count == 0 || !q->has_question)
    return n;
  if (section->len > room - n)
    return dns_build_truncated(q, rcode, out, cap, limit);

  size_t answers_at = DNS_HEADER_SIZE + q->question_len;
  memmove(out + answers_at + section->len, out + answers_at, n - answers_at);
  memcpy(out + answers_at, section->bytes, section->len);
  dns_put_be16(out + ZONE_ANCOUNT_OFFSET, section->count);
  return n + section->len;
}

static dns_reply_t answer(const dns_zone_t *zone, dns_transport_t transport,
                          bool draining, const uint8_t *pkt, size_t len,
                          uint8_t *out, size_t cap, size_t *out_len) {
  dns_query_t q;
  zone_section_t section = {NULL, 0, 0};

  *out_len = 0;
  dns_parse_t parsed = dns_parse_query(pkt, len, &q);
  if (parsed == DNS_PARSE_DROP)
    return DNS_REPLY_DROP;

  /* Anything but TCP gets the UDP limit: the smaller one is the safe
   * reading of a transport value we do not know. */
  size_t limit =
      transport == DNS_TRANSPORT_TCP ? DNS_MAX_MESSAGE : dns_udp_limit(&q);
  unsigned rcode = rcode_for(parsed);

  if (parsed == DNS_PARSE_OK) {
    const zone_answers_t *ans = zone_find(zone, &q);
    if (draining && ans != NULL && ans == zone->health) {
      rcode = DNS_RCODE_SERVFAIL;
      ans = NULL;
    } else if (ans == NULL) {
      switch (zone->opts.unknown) {
      case DNS_UNKNOWN_ANSWER:
        ans = &zone->unknown;
        break;
      case DNS_UNKNOWN_NXDOMAIN:
        rcode = DNS_RCODE_NXDOMAIN;
        break;
      case DNS_UNKNOWN_REFUSED:
        rcode = DNS_RCODE_REFUSED;
        break;
      case DNS_UNKNOWN_FORWARD:
        return DNS_REPLY_FORWARD;
      }
    }
    if (ans != NULL)
      section = section_for(ans, q.qtype);
  }

  size_t n = write_reply(&q, rcode, &section, out, cap, limit);
  if (n == 0)
    return DNS_REPLY_DROP;
  *out_len = n;
  return DNS_REPLY_SEND;
}

dns_reply_t dns_zone_answer(const dns_zone_t *zone, dns_transport_t transport,
                            const uint8_t *pkt, size_t len, uint8_t *out,
                            size_t cap, size_t *out_len) {
  return answer(zone, transport, false, pkt, len, out, cap, out_len);
}

dns_reply_t dns_zone_answer_draining(const dns_zone_t *zone,
                                     dns_transport_t transport,
                                     const uint8_t *pkt, size_t len,
                                     uint8_t *out, size_t cap,
                                     size_t *out_len) {
  return answer(zone, transport, true, pkt, len, out, cap, out_len);
}
