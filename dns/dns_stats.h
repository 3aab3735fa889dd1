/* dns_stats: per-listener answer counters, by query type and rcode, read
 * straight from the reply's bytes (so every path that answers - map,
 * cache, upstream, error - is counted the same way). Pure; a handful of
 * increments per answer. */
#ifndef DNSORT_DNS_STATS_H
#define DNSORT_DNS_STATS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

typedef enum {
  DNS_STATS_QTYPE_A = 0,
  DNS_STATS_QTYPE_AAAA,
  DNS_STATS_QTYPE_ANY,
  DNS_STATS_QTYPE_MX,
  DNS_STATS_QTYPE_TXT,
  DNS_STATS_QTYPE_OTHER,
  DNS_STATS_QTYPE_NONE, /* a reply without a question (FORMERR) */
  DNS_STATS_QTYPES
} dns_stats_qtype_t;

typedef enum {
  DNS_STATS_RCODE_NOERROR = 0,
  DNS_STATS_RCODE_FORMERR,
  DNS_STATS_RCODE_SERVFAIL,
  DNS_STATS_RCODE_NXDOMAIN,
  DNS_STATS_RCODE_NOTIMP,
  DNS_STATS_RCODE_REFUSED,
  DNS_STATS_RCODE_BADVERS,
  DNS_STATS_RCODE_OTHER,
  DNS_STATS_RCODES
} dns_stats_rcode_t;

typedef struct {
  uint64_t replies[DNS_STATS_QTYPES][DNS_STATS_RCODES];
  uint64_t truncated; /* replies with TC=1 */
} dns_stats_t;

/* Count one reply (a message we are about to send). */
void dns_stats_count(dns_stats_t *stats, const uint8_t *reply, size_t len);

/* A latency histogram with fixed bounds in microseconds (50 us .. 5 s,
 * roughly 1-2.5-5 per decade: a map answer sits in the first buckets, an
 * upstream one in the middle, a timeout at the end). counts[i] holds the
 * observations in bucket i alone, counts[DNS_HIST_BOUNDS] those above. */
#define DNS_HIST_BOUNDS 16
extern const uint64_t dns_hist_bounds_us[DNS_HIST_BOUNDS];

typedef struct {
  uint64_t counts[DNS_HIST_BOUNDS + 1];
  uint64_t sum_us;
} dns_hist_t;

/* n observations of us microseconds each (a batch of replies shares one
 * clock read). */
void dns_hist_observe(dns_hist_t *h, uint64_t us, uint64_t n);
void dns_hist_add(dns_hist_t *sum, const dns_hist_t *one);

/* One reply about to be sent, for the per-query log (--log-queries). */
typedef struct {
  const char *proto;             /* "udp", "tcp" */
  const struct sockaddr *client; /* NULL when unknown */
  const uint8_t *reply;
  size_t len;
  uint64_t duration_us; /* from the query's receipt to now */
  const char *source;   /* DNS_SOURCE_* */
} dns_query_log_t;

#define DNS_SOURCE_MAP "map"
#define DNS_SOURCE_CACHE "cache"
#define DNS_SOURCE_UPSTREAM "upstream"
#define DNS_SOURCE_POLICY "policy"

/* The source of a reply built by dns_zone_answer: "map" for NOERROR (a
 * name of the map, or --unknown answer's address), "policy" for any
 * other rcode (--unknown nxdomain or refused, FORMERR, NOTIMP). */
const char *dns_stats_zone_source(const uint8_t *reply, size_t len);

/* Label values for Prometheus: "A", "AAAA", ..., "NOERROR", ... */
const char *dns_stats_qtype_name(dns_stats_qtype_t t);
const char *dns_stats_rcode_name(dns_stats_rcode_t r);

#endif
