#include "dns_answer.h"

#include "dns_wire.h"

/* Answers are gathered in a stack array so the hot path never allocates.
 * The bound is chosen so that it changes no reply: an A record, the
 * smallest answer we make, takes 16 bytes with its compressed owner, and
 * this many of them plus a header and the shortest question (the root, 5
 * bytes) are already over the largest reply we ever send. A name with more
 * addresses than the bound therefore gets the first DNS_ANSWER_MAX_RRS, and
 * the builder truncates (TC=1) exactly as it would have with all of them. */
#define DNS_ANSWER_MAX_RRS 80
#define DNS_A_RR_SIZE (2 + 10 + 4)

_Static_assert(DNS_ANSWER_MAX_RRS * DNS_A_RR_SIZE + DNS_HEADER_SIZE + 5 >
                   DNS_EDNS_ADVERTISED,
               "the answer bound must exceed every reply we can send");

typedef struct {
  dns_rr_t rrs[DNS_ANSWER_MAX_RRS];
  size_t n;
} answer_set_t;

static void add_rrs(answer_set_t *set, uint16_t type, const uint8_t *addrs,
                    size_t n_addrs, uint16_t addr_size) {
  for (size_t i = 0; i < n_addrs && set->n < DNS_ANSWER_MAX_RRS; i++) {
    set->rrs[set->n].type = type;
    set->rrs[set->n].rdlen = addr_size;
    set->rrs[set->n].rdata = addrs + i * addr_size;
    set->n++;
  }
}

/* The policy: names in the map get their addresses; a name not in the map
 * still gets the configured cfg->unknown_a for A (and ANY). AAAA and all
 * other types get only what the map holds, so NODATA (NOERROR, no answers)
 * rather than an address of the wrong family. */
static void collect_answers(const dns_answer_config_t *cfg,
                            const dns_query_t *q, answer_set_t *set) {
  /* The question starts with QNAME; the map compares case-insensitively. */
  const dns_map_entry_t *e = dns_map_lookup(cfg->map, q->question,
                                            q->qname_len);
  bool want_a = q->qtype == DNS_TYPE_A || q->qtype == DNS_TYPE_ANY;
  bool want_aaaa = q->qtype == DNS_TYPE_AAAA || q->qtype == DNS_TYPE_ANY;

  set->n = 0;
  if (want_a) {
    if (e != NULL)
      add_rrs(set, DNS_TYPE_A, e->n_a > 0 ? e->a[0] : NULL, e->n_a, 4);
    else
      add_rrs(set, DNS_TYPE_A, cfg->unknown_a, 1, 4);
  }
  if (want_aaaa && e != NULL)
    add_rrs(set, DNS_TYPE_AAAA, e->n_aaaa > 0 ? e->aaaa[0] : NULL, e->n_aaaa,
            16);
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

size_t dns_answer(const dns_answer_config_t *cfg, const uint8_t *pkt,
                  size_t len, uint8_t *out, size_t cap) {
  dns_query_t q;
  answer_set_t set;

  dns_parse_t result = dns_parse_query(pkt, len, &q);
  if (result == DNS_PARSE_DROP)
    return 0;

  set.n = 0; /* errors are answered with no records */
  if (result == DNS_PARSE_OK)
    collect_answers(cfg, &q, &set);

  /* dns_build_response takes the smaller of cap and the limit itself. */
  return dns_build_response(&q, rcode_for(result), set.rrs, set.n, cfg->ttl,
                            out, cap, dns_udp_limit(&q));
}
