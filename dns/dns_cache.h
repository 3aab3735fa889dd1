/* dns_cache: the forwarder's answer cache. Pure code: no sockets, no libuv,
 * no clock of its own (every call takes now_ms, so tests inject time).
 *
 * An entry is an upstream response kept whole, as received, plus the
 * offsets of its TTL fields. Serving it is a memcpy and a few patches: the
 * client's ID and question (its spelling), and every TTL lowered by the
 * entry's age, so clients see them count down. Nothing is allocated on a
 * hit; entries are allocated when stored (on the slow path, after an
 * upstream answer) and freed on eviction, expiry or flush.
 *
 * What is cached and for how long:
 * - positive answers (NOERROR with answer records) for the smallest TTL in
 *   the answer section, capped by max_ttl;
 * - negative answers (NXDOMAIN, and NOERROR without answers: NODATA) for
 *   min(SOA TTL, SOA MINIMUM) of the SOA in the authority section (RFC 2308
 *   5), capped by neg_ttl; without an SOA they are not cached (RFC 2308 5);
 * - nothing with TC=1, another rcode, an extended rcode, a TTL of 0, or
 *   longer than DNS_CACHE_MAX_MESSAGE.
 * Served TTLs never exceed the cap that applied (max_ttl, or the negative
 * lifetime), so a client never keeps an answer longer than we would.
 *
 * Eviction is LRU, bounded twice: max_entries entries and max_bytes bytes
 * of entries; the bucket index (one pointer per entry) comes on top and is
 * reported apart. */
#ifndef DNSORT_DNS_CACHE_H
#define DNSORT_DNS_CACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dns_wire.h"

/* A key is the lower-cased question plus the query flags that change the
 * answer: 1 flag byte, QTYPE, QCLASS, the wire QNAME. */
#define DNS_CACHE_KEY_MAX (1 + 2 + 2 + DNS_MAX_NAME)

/* Larger answers (big TXT or DNSSEC sets fetched over TCP) are relayed but
 * not kept: one of them would cost as much as a dozen ordinary entries. */
#define DNS_CACHE_MAX_MESSAGE 4096
/* TTL fields an entry may carry: a 4096-byte message cannot hold more
 * than 4096 / 11 records. */
#define DNS_CACHE_MAX_RECORDS 372

/* Default byte budget per entry when max_bytes is 0: typical answers are
 * 100-300 bytes with the entry header, so this is generous on average
 * while still bounding the worst case to max_entries KiB. */
#define DNS_CACHE_BYTES_PER_ENTRY 1024

typedef struct {
  size_t max_entries;   /* 0 disables the cache */
  size_t max_bytes;     /* 0: max_entries * DNS_CACHE_BYTES_PER_ENTRY */
  uint32_t max_ttl;     /* cap for positive answers, seconds */
  uint32_t neg_ttl;     /* cap for negative answers, seconds */
  uint64_t hash_key[2]; /* secret key of the bucket hash (SipHash-2-4) */
} dns_cache_config_t;

typedef struct {
  size_t entries;
  size_t bytes;       /* allocated for entries, headers included */
  size_t index_bytes; /* the bucket array */
  size_t max_entries;
  size_t max_bytes;
  uint64_t stored;
  uint64_t evicted; /* pushed out by the bounds (LRU) */
  uint64_t expired; /* found dead by a lookup or dropped on store */
} dns_cache_stats_t;

typedef struct dns_cache dns_cache_t;

/* NULL when out of memory. A cache of 0 entries is valid: it stores
 * nothing, finds nothing, and still validates responses. */
dns_cache_t *dns_cache_new(const dns_cache_config_t *cfg);

void dns_cache_free(dns_cache_t *cache);

/* Drop every entry (SIGHUP); the counters stay. */
void dns_cache_flush(dns_cache_t *cache);

void dns_cache_stats(const dns_cache_t *cache, dns_cache_stats_t *out);

/* The key of a parsed query into key[0..DNS_CACHE_KEY_MAX). Returns its
 * length, 0 when q has no question. */
size_t dns_cache_key(const dns_query_t *q, uint8_t *key);

/* The keyed hash of a key, for the cache's buckets and for any other table
 * keyed the same way (the forwarder's in-flight queries). */
uint64_t dns_cache_hash(const dns_cache_t *cache, const uint8_t *key,
                        size_t key_len);

/* Answer q from the cache into out[0..cap), the reply at most limit bytes
 * (the client's UDP limit, or 65535 over TCP): the stored response with
 * q's ID and question, TTLs counted down, the OPT record left out for a
 * client that sent none. An answer over the limit becomes TC=1 with the
 * question only. Returns the length; 0 on a miss (an expired entry is
 * dropped then). Never allocates. */
size_t dns_cache_answer(dns_cache_t *cache, const uint8_t *key, size_t key_len,
                        const dns_query_t *q, size_t limit, uint64_t now_ms,
                        uint8_t *out, size_t cap);

typedef enum {
  DNS_CACHE_STORED = 0, /* kept: dns_cache_answer serves it */
  DNS_CACHE_NOT_STORED, /* a valid response not to keep: relay it */
  DNS_CACHE_INVALID,    /* not a response to the key's question, or
                         * malformed: answer SERVFAIL instead */
} dns_cache_verdict_t;

/* Check an upstream response to the query with this key and keep it if it
 * is cacheable (replacing an older entry for the key). */
dns_cache_verdict_t dns_cache_store(dns_cache_t *cache, const uint8_t *key,
                                    size_t key_len, const uint8_t *msg,
                                    size_t len, uint64_t now_ms);

/* Names of a CNAME chain followed from the question (the question's
 * included), and zones whose SOA or NS vouch for the NSEC-type records
 * of a negative answer, in dns_cache_check. Past them, records are left
 * out rather than followed. */
#define DNS_CACHE_MAX_CHAIN 16
#define DNS_CACHE_MAX_ZONES 8

typedef enum {
  DNS_CACHE_CLEAN = 0, /* out holds the response to keep and relay */
  DNS_CACHE_REJECTED,  /* malformed, or not a response to the key's
                        * question: answer SERVFAIL instead */
} dns_cache_check_t;

/* Check an upstream response to the query with this key before anything
 * of it is kept or relayed, and keep only what answers the question.
 * Strict: every name, owners and those inside the RDATA of the types that
 * hold names, is read with dns_read_name (a pointer loop, a pointer to
 * itself or forward is REJECTED), and such RDATA must be exactly its
 * fields. Left out (counted in *dropped): answer and additional records
 * that are not for the question's name or the CNAME chain it leads to (a
 * DNAME above the chain stays), authority records other than the SOA, NS
 * and DS of a zone above the chain and the NSEC, NSEC3 and RRSIG records
 * under those zones, and any record of another class. Writes the response
 * to out[0..cap), *out_len its length: as received when nothing is left
 * out and the OPT record (if any) is last (trailing bytes dropped), else
 * rebuilt with the names it keeps written out whole (an owner that is the
 * question's name points at it) and the OPT record last; REJECTED when
 * that does not fit cap. */
dns_cache_check_t dns_cache_check(dns_cache_t *cache, const uint8_t *key,
                                  size_t key_len, const uint8_t *msg,
                                  size_t len, uint8_t *out, size_t cap,
                                  size_t *out_len, size_t *dropped);

/* Reply to q with a response dns_cache_store did not keep (but did not
 * find INVALID): the same patches as dns_cache_answer, TTLs as received.
 * Returns the length, 0 if msg is malformed or out too small. */
size_t dns_cache_relay(const uint8_t *msg, size_t len, const dns_query_t *q,
                       size_t limit, uint8_t *out, size_t cap);

#endif
