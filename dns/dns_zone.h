/* dns_zone: everything the responder answers from, in one immutable
 * object: the map, the TTL, the policy for unknown names, and the answer
 * sections precomputed per name and type (owner compressed to 0xC00C, TTL
 * and rdata in place), so answering is a parse, one or a few hash probes and
 * memcpy. A zone is built completely off to the side (at start-up, or on a
 * worker thread on SIGHUP) and then swapped in between two packets. */
#ifndef DNSORT_DNS_ZONE_H
#define DNSORT_DNS_ZONE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dns_map.h"

typedef enum {
  DNS_UNKNOWN_ANSWER = 0, /* the seed's behaviour: unknown_addrs for A/AAAA */
  DNS_UNKNOWN_NXDOMAIN,
  DNS_UNKNOWN_REFUSED,
  DNS_UNKNOWN_FORWARD, /* hand the query to the forwarder (later issue) */
} dns_unknown_t;

#define DNS_ZONE_MAX_UNKNOWN_ADDRS 8
/* A dotted name's longest text: 253 characters and a trailing dot. */
#define DNS_ZONE_MAX_HEALTH_NAME 254

typedef struct {
  uint32_t ttl; /* default 60 */
  dns_unknown_t unknown;
  /* With DNS_UNKNOWN_ANSWER: what a name not in the map gets, A records
   * from the IPv4 entries, AAAA from the IPv6 ones; a family with no entry
   * gives NODATA. Default: 127.0.0.1 only. */
  struct {
    int family; /* 4 or 6 */
    uint8_t addr[16];
  } unknown_addrs[DNS_ZONE_MAX_UNKNOWN_ADDRS];
  size_t n_unknown_addrs;
  /* A name for load balancers' health checks ("" for none): the zone
   * answers it A 127.0.0.1 (and whatever the map holds for it), except
   * through dns_zone_answer_draining, which gives it SERVFAIL. A dotted
   * name, not a wildcard; copied, so the zone needs nothing after
   * dns_zone_new. */
  char health_name[DNS_ZONE_MAX_HEALTH_NAME + 1];
} dns_zone_options_t;

/* ttl 60, DNS_UNKNOWN_ANSWER, 127.0.0.1, no health name. */
void dns_zone_options_default(dns_zone_options_t *opts);

/* NULL when dns_zone_new accepts opts, else why not, as a short phrase: a
 * TTL above 2147483647 (RFC 2181 8), a policy outside dns_unknown_t, more
 * than DNS_ZONE_MAX_UNKNOWN_ADDRS unknown_addrs, a family not 4 or 6, or
 * a health name that is not a valid name (dns_map_check_name) or is a
 * wildcard. */
const char *dns_zone_options_check(const dns_zone_options_t *opts);

typedef struct dns_zone dns_zone_t;

/* Build a zone, taking ownership of map whatever happens. Wildcard
 * entries ("*.example.com" added to the map) match any name below
 * example.com (not example.com itself); the most specific match wins and an
 * exact name beats a wildcard. This is hosts-file matching, not RFC 4592's:
 * a name b.example.com in the map does not stop *.example.com from
 * matching a.b.example.com, and a name that only has names below it (an
 * empty non-terminal) is unknown. NULL on out of memory or when
 * dns_zone_options_check rejects opts. */
dns_zone_t *dns_zone_new(dns_map_t *map, const dns_zone_options_t *opts);

void dns_zone_free(dns_zone_t *zone);

size_t dns_zone_names(const dns_zone_t *zone);

typedef enum {
  DNS_TRANSPORT_UDP = 0, /* replies limited to 512 or the EDNS size (<=1232) */
  DNS_TRANSPORT_TCP,     /* replies up to 65535 bytes */
} dns_transport_t;

typedef enum {
  DNS_REPLY_SEND = 0, /* out[0..*out_len) is the reply */
  DNS_REPLY_DROP,     /* send nothing (short packet, QR=1) */
  DNS_REPLY_FORWARD,  /* unknown name with DNS_UNKNOWN_FORWARD */
} dns_reply_t;

/* Answer the query pkt[0..len) into out[0..cap). Never allocates, never
 * writes to the zone: any number of threads may answer from one zone. A
 * UDP reply that would exceed the client's limit (or cap) is TC=1 with the
 * question only (and the OPT if the query had one); over TCP the limit is
 * 65535 and every answer fits (DNS_MAP_MAX_ADDRS), unless cap is smaller.
 * *out_len is 0 unless DNS_REPLY_SEND. A cap too small for even the header
 * and question (it never is from 512 up) gives DNS_REPLY_DROP. */
dns_reply_t dns_zone_answer(const dns_zone_t *zone, dns_transport_t transport,
                            const uint8_t *pkt, size_t len, uint8_t *out,
                            size_t cap, size_t *out_len);

/* dns_zone_answer for a server that is shutting down but still answers:
 * the health name gets SERVFAIL (which every balancer's DNS check counts
 * as a failure: dnsdist with or without mustResolve), so the balancer
 * stops sending here while every other query is still answered. */
dns_reply_t dns_zone_answer_draining(const dns_zone_t *zone,
                                     dns_transport_t transport,
                                     const uint8_t *pkt, size_t len,
                                     uint8_t *out, size_t cap, size_t *out_len);

#endif
