/* net_acl: who may talk to a listener, as a list of allowed networks
 * (CIDR prefixes). Pure and libc only: parsed from text at start-up,
 * then read on every UDP datagram, so a check is a binary search over the
 * allowed address ranges of one family, merged and sorted as rules are
 * added (no per-check allocation, no locking: the table is never changed
 * once the loop runs).
 *
 * An IPv4-mapped IPv6 client (::ffff:a.b.c.d, what a dual-stack [::]
 * socket sees for an IPv4 peer) is checked against the IPv4 rules, and a
 * rule written as ::ffff:a.b.c.d/N (N >= 96) is an IPv4 rule; other IPv6
 * rules, ::/0 included, never cover IPv4 clients. */
#ifndef DNSORT_NET_ACL_H
#define DNSORT_NET_ACL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

/* Rules one list may hold (IPv4 and IPv6 together). Longer lists belong
 * in a firewall; this one bounds the table (64 KiB) and keeps a
 * check at a handful of comparisons. */
#define NET_ACL_MAX_RULES 1024

/* An address as a 128-bit number, host order; IPv4 in the low 32 bits. */
typedef struct {
  uint64_t hi, lo;
} net_acl_u128_t;

/* An inclusive range of addresses. */
typedef struct {
  net_acl_u128_t first, last;
} net_acl_range_t;

typedef struct {
  size_t n_rules; /* rules added, for the limit */
  /* The union of the rules, as sorted, disjoint, non-adjacent ranges. */
  size_t n4, n6;
  net_acl_range_t v4[NET_ACL_MAX_RULES];
  net_acl_range_t v6[NET_ACL_MAX_RULES];
} net_acl_t;

typedef enum {
  NET_ACL_OK = 0,
  NET_ACL_SYNTAX,     /* not ADDR or ADDR/LEN */
  NET_ACL_BAD_LENGTH, /* LEN over 32 (IPv4) or 128 (IPv6) */
  NET_ACL_HOST_BITS,  /* bits set past the prefix: 10.0.0.1/8 */
  NET_ACL_FULL,       /* NET_ACL_MAX_RULES already */
} net_acl_status_t;

/* One rule as parsed, before it joins a list: plain bytes (no padding),
 * so that lists of rules compare with memcmp. */
typedef struct {
  uint8_t addr[16]; /* the network, IPv4 in the first 4 bytes */
  uint8_t family;   /* 4 or 6 (::ffff:a.b.c.d/N, N >= 96, is 4) */
  uint8_t len;      /* prefix length */
} net_acl_rule_t;

/* An empty list: it allows nobody. */
void net_acl_init(net_acl_t *acl);

/* Parse "ADDR/LEN" or a bare "ADDR" (a single host). */
net_acl_status_t net_acl_parse(const char *cidr, net_acl_rule_t *rule);

/* Add a parsed rule to the allowed set; NET_ACL_FULL past
 * NET_ACL_MAX_RULES (the list is then unchanged). */
net_acl_status_t net_acl_add_rule(net_acl_t *acl, const net_acl_rule_t *rule);

/* Both: on failure the list is unchanged. */
net_acl_status_t net_acl_add(net_acl_t *acl, const char *cidr);

/* A short phrase for a status, for error messages. */
const char *net_acl_status_text(net_acl_status_t status);

/* True when sa (AF_INET or AF_INET6) is inside an allowed range. Any
 * other family is not allowed. */
bool net_acl_allows(const net_acl_t *acl, const struct sockaddr *sa);

/* True for 127.0.0.0/8, ::1 and ::ffff:127.0.0.0/104. */
bool net_acl_is_loopback(const struct sockaddr *sa);

#endif
