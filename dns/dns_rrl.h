/* dns_rrl: response rate limiting for DNS over UDP, in the spirit of NSD's
 * and Knot's RRL. A UDP server on a public address is a reflection
 * amplifier: anyone can send it queries with a victim's address as the
 * source. RRL caps the replies that go to one network, for one kind of
 * answer, at rate per second (a token bucket holding one second's worth);
 * past it, replies are dropped, except every slip-th one, which is sent
 * truncated (TC=1, no answers) so that a real client behind that network
 * retries over TCP, where the source address is proven and nothing is
 * limited.
 *
 * A bucket is keyed on the client's /24 (IPv4, IPv4-mapped IPv6 included)
 * or /56 (IPv6) and on the answer as it goes out: its qtype, its rcode
 * (and TC bit), its answer count, and the type and first
 * DNS_RRL_KEY_RDATA bytes of rdata of its first answer record. The qname
 * itself is not part of the key. So replies that carry the same thing
 * share a bucket whatever name was asked: NXDOMAIN and REFUSED for any
 * name, the --unknown-address answer that every unknown name gets, every
 * name under one wildcard. An attacker cannot escape the limit by asking
 * random names, which is what NSD and Knot get by keying NXDOMAIN on the
 * zone and wildcard answers on the wildcard; and different answers keep
 * different buckets, so one busy name does not starve the rest. (Our map
 * has no zones to key on; the answer's own bytes are the closest thing to
 * Knot's "class of response".) TTLs are left out, so a cached answer
 * keeps its bucket as it ages.
 *
 * Memory is bounded: a fixed table of buckets, DNS_RRL_WAYS to a 64-byte
 * set, allocated once; a new key takes a free slot of its set or the one
 * idle the longest. Under churn a bucket can be forgotten and starts full
 * again, which a larger table makes rarer. The set is chosen by a hash
 * with a per-process secret seed, so nobody can aim collisions at a
 * victim's bucket. Pure: no libuv, no clock of its own (the caller passes
 * the loop's cached time in milliseconds), no allocation after
 * dns_rrl_new. */
#ifndef DNSORT_DNS_RRL_H
#define DNSORT_DNS_RRL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

/* NSD's defaults (rrl-ratelimit 200, rrl-slip 2). */
#define DNS_RRL_DEFAULT_RATE 200u
#define DNS_RRL_DEFAULT_SLIP 2u
#define DNS_RRL_MAX_RATE 1000000u
#define DNS_RRL_MAX_SLIP 100u
/* Buckets, 16 bytes each: the default is 1 MiB. Rounded up to a power of
 * two. */
#define DNS_RRL_DEFAULT_TABLE_SIZE 65536u
#define DNS_RRL_MIN_TABLE_SIZE 64u
#define DNS_RRL_MAX_TABLE_SIZE (16u * 1024 * 1024)
#define DNS_RRL_WAYS 4
/* The client networks that share a bucket: NSD's and Knot's defaults. */
#define DNS_RRL_IPV4_PREFIX 24
#define DNS_RRL_IPV6_PREFIX 56
#define DNS_RRL_KEY_RDATA 32

typedef struct {
  uint32_t rate;     /* replies per second per bucket, > 0 */
  uint32_t slip;     /* every slip-th dropped reply goes out
                        truncated; 0 never, 1 every one */
  size_t table_size; /* buckets; 0: the default */
  uint64_t seed;     /* the hash's secret */
} dns_rrl_config_t;

typedef struct dns_rrl dns_rrl_t;

typedef enum {
  DNS_RRL_SEND = 0, /* within the rate */
  DNS_RRL_DROP,     /* send nothing */
  DNS_RRL_SLIP,     /* send dns_rrl_truncate's reply instead */
} dns_rrl_action_t;

typedef struct {
  uint64_t sent; /* replies within the rate */
  uint64_t dropped;
  uint64_t slipped;
  uint64_t evicted;  /* keys that pushed out a bucket in use */
  size_t table_size; /* buckets, after rounding */
  size_t table_bytes;
} dns_rrl_stats_t;

/* NULL when out of memory or when rate is 0 or over DNS_RRL_MAX_RATE,
 * slip over DNS_RRL_MAX_SLIP, or table_size outside its bounds. */
dns_rrl_t *dns_rrl_new(const dns_rrl_config_t *cfg);
void dns_rrl_free(dns_rrl_t *rrl);

/* Account for reply (about to go to client over UDP) at time now_ms (any
 * millisecond clock that does not go back) and say what to do with it. */
dns_rrl_action_t dns_rrl_account(dns_rrl_t *rrl, const struct sockaddr *client,
                                 const uint8_t *reply, size_t len,
                                 uint64_t now_ms);

/* The slipped form of reply into out: its header with TC=1 and no
 * records, its question, and its OPT when that is the usual last 11
 * bytes. Returns the length, or 0 when reply has no header. */
size_t dns_rrl_truncate(const uint8_t *reply, size_t len, uint8_t *out,
                        size_t cap);

void dns_rrl_stats(const dns_rrl_t *rrl, dns_rrl_stats_t *out);

#endif
