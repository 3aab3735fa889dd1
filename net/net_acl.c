#include "net_acl.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>

#define V4_BITS 32
#define V6_BITS 128
/* ::ffff:0:0/96, RFC 4291 2.5.5.2: an IPv4 address as a dual-stack socket
 * reports it. */
#define V4_MAPPED_PREFIX 96
#define V4_LOOPBACK_NET 127u

/* IPv4 ranges are kept in the same 128-bit form as IPv6 ones (high half
 * 0), so that one merge and one search serve both families. */

static bool u128_lt(net_acl_u128_t a, net_acl_u128_t b) {
  return a.hi < b.hi || (a.hi == b.hi && a.lo < b.lo);
}

static bool u128_le(net_acl_u128_t a, net_acl_u128_t b) {
  return !u128_lt(b, a);
}

static bool u128_is_max(net_acl_u128_t a) {
  return a.hi == UINT64_MAX && a.lo == UINT64_MAX;
}

static net_acl_u128_t u128_plus1(net_acl_u128_t a) {
  a.lo++;
  if (a.lo == 0)
    a.hi++;
  return a;
}

/* The host bits of a prefix of len bits in a family of bits bits. */
static net_acl_u128_t host_mask(unsigned len, unsigned bits) {
  net_acl_u128_t m = {0, 0};
  unsigned host = bits - len; /* bits after the prefix */
  if (host >= 64) {
    m.lo = UINT64_MAX;
    m.hi = host == 128 ? UINT64_MAX
                       : (host == 64 ? 0 : UINT64_MAX >> (128 - host));
  } else if (host > 0) {
    m.lo = UINT64_MAX >> (64 - host);
  }
  return m;
}

static uint64_t load_be64(const uint8_t *p) {
  uint64_t v = 0;
  for (int i = 0; i < 8; i++)
    v = v << 8 | p[i];
  return v;
}

static bool is_v4_mapped(const uint8_t a[16]) {
  static const uint8_t prefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  return memcmp(a, prefix, sizeof(prefix)) == 0;
}

/* Insert [first, last] into a sorted list of disjoint, non-adjacent
 * ranges, merging with every range it touches. The caller has checked
 * that one more range fits. */
static void ranges_insert(net_acl_range_t *r, size_t *n, net_acl_u128_t first,
                          net_acl_u128_t last) {
  size_t i = 0;
  /* Skip the ranges that end before first - 1 (r[i].last < first, so
   * adding one cannot overflow). */
  while (i < *n && u128_lt(r[i].last, first) &&
         u128_lt(u128_plus1(r[i].last), first))
    i++;
  size_t j = i;
  /* Absorb the ones that start at or before last + 1 (every one left
   * when last + 1 would wrap: only ::/0 and its kin end there). */
  while (j < *n &&
         (u128_is_max(last) || u128_le(r[j].first, u128_plus1(last)))) {
    if (u128_lt(r[j].first, first))
      first = r[j].first;
    if (u128_lt(last, r[j].last))
      last = r[j].last;
    j++;
  }
  /* r[i..j) becomes the one merged range. */
  if (j == i)
    memmove(r + i + 1, r + i, (*n - i) * sizeof(*r));
  else if (j > i + 1)
    memmove(r + i + 1, r + j, (*n - j) * sizeof(*r));
  *n = *n + 1 - (j - i);
  r[i].first = first;
  r[i].last = last;
}

/* The prefix length after the slash: one to three decimal digits. */
static bool parse_len(const char *text, unsigned *len) {
  unsigned v = 0;
  size_t digits = strspn(text, "0123456789");
  if (digits == 0 || digits > 3 || text[digits] != '\0')
    return false;
  for (size_t i = 0; i < digits; i++)
    v = v * 10 + (unsigned)(text[i] - '0');
  *len = v;
  return true;
}

void net_acl_init(net_acl_t *acl) {
  acl->n_rules = acl->n4 = acl->n6 = 0;
}

net_acl_status_t net_acl_parse(const char *cidr, net_acl_rule_t *rule) {
  char text[INET6_ADDRSTRLEN];
  const char *slash = strchr(cidr, '/');
  size_t addr_len = slash != NULL ? (size_t)(slash - cidr) : strlen(cidr);
  if (addr_len == 0 || addr_len >= sizeof(text))
    return NET_ACL_SYNTAX;
  memcpy(text, cidr, addr_len);
  text[addr_len] = '\0';

  uint8_t a[16] = {0};
  unsigned bits, len;
  if (inet_pton(AF_INET, text, a) == 1)
    bits = V4_BITS;
  else if (inet_pton(AF_INET6, text, a) == 1)
    bits = V6_BITS;
  else
    return NET_ACL_SYNTAX;
  len = bits;
  if (slash != NULL && !parse_len(slash + 1, &len))
    return NET_ACL_SYNTAX;
  if (len > bits)
    return NET_ACL_BAD_LENGTH;
  /* Clients in ::ffff:0:0/96 are checked as IPv4, so a rule there is
   * one too. */
  if (bits == V6_BITS && len >= V4_MAPPED_PREFIX && is_v4_mapped(a)) {
    bits = V4_BITS;
    len -= V4_MAPPED_PREFIX;
    memmove(a, a + 12, 4);
    memset(a + 4, 0, 12);
  }
  /* 10.0.0.1/8 is most likely a typo for a host or for 10.0.0.0/8: say
   * so rather than guess. */
  for (unsigned bit = len; bit < bits; bit++) {
    if (a[bit / 8] & (0x80u >> (bit % 8)))
      return NET_ACL_HOST_BITS;
  }
  memcpy(rule->addr, a, sizeof(rule->addr));
  rule->family = bits == V4_BITS ? 4 : 6;
  rule->len = (uint8_t)len;
  return NET_ACL_OK;
}

net_acl_status_t net_acl_add_rule(net_acl_t *acl, const net_acl_rule_t *rule) {
  if (acl->n_rules >= NET_ACL_MAX_RULES)
    return NET_ACL_FULL;
  unsigned bits = rule->family == 4 ? V4_BITS : V6_BITS;
  net_acl_u128_t first =
      bits == V4_BITS
          ? (net_acl_u128_t){0, (uint64_t)rule->addr[0] << 24 |
                                    (uint64_t)rule->addr[1] << 16 |
                                    (uint64_t)rule->addr[2] << 8 |
                                    rule->addr[3]}
          : (net_acl_u128_t){load_be64(rule->addr), load_be64(rule->addr + 8)};
  net_acl_u128_t host = host_mask(rule->len, bits);
  net_acl_u128_t last = {first.hi | host.hi, first.lo | host.lo};
  if (bits == V4_BITS)
    ranges_insert(acl->v4, &acl->n4, first, last);
  else
    ranges_insert(acl->v6, &acl->n6, first, last);
  acl->n_rules++;
  return NET_ACL_OK;
}

net_acl_status_t net_acl_add(net_acl_t *acl, const char *cidr) {
  net_acl_rule_t rule;
  net_acl_status_t st = net_acl_parse(cidr, &rule);
  return st != NET_ACL_OK ? st : net_acl_add_rule(acl, &rule);
}

const char *net_acl_status_text(net_acl_status_t status) {
  switch (status) {
  case NET_ACL_OK:
    return "ok";
  case NET_ACL_SYNTAX:
    return "is not ADDR or ADDR/LEN (IPv4 or IPv6)";
  case NET_ACL_BAD_LENGTH:
    return "has a prefix length over 32 (IPv4) or 128 (IPv6)";
  case NET_ACL_HOST_BITS:
    return "has bits set past its prefix length";
  case NET_ACL_FULL:
    return "too many rules";
  }
  return "?";
}

/* The last range whose first is <= a decides. */
static bool ranges_contain(const net_acl_range_t *r, size_t n,
                           net_acl_u128_t a) {
  size_t lo = 0, hi = n;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    if (u128_le(r[mid].first, a))
      lo = mid + 1;
    else
      hi = mid;
  }
  return lo > 0 && u128_le(a, r[lo - 1].last);
}

bool net_acl_allows(const net_acl_t *acl, const struct sockaddr *sa) {
  if (sa->sa_family == AF_INET) {
    const struct sockaddr_in *in = (const struct sockaddr_in *)sa;
    net_acl_u128_t a = {0, ntohl(in->sin_addr.s_addr)};
    return ranges_contain(acl->v4, acl->n4, a);
  }
  if (sa->sa_family == AF_INET6) {
    const uint8_t *b = ((const struct sockaddr_in6 *)sa)->sin6_addr.s6_addr;
    if (is_v4_mapped(b)) {
      net_acl_u128_t a = {0, (uint64_t)b[12] << 24 | (uint64_t)b[13] << 16 |
                                 (uint64_t)b[14] << 8 | b[15]};
      return ranges_contain(acl->v4, acl->n4, a);
    }
    net_acl_u128_t a = {load_be64(b), load_be64(b + 8)};
    return ranges_contain(acl->v6, acl->n6, a);
  }
  return false;
}

bool net_acl_is_loopback(const struct sockaddr *sa) {
  if (sa->sa_family == AF_INET) {
    const struct sockaddr_in *in = (const struct sockaddr_in *)sa;
    return ntohl(in->sin_addr.s_addr) >> 24 == V4_LOOPBACK_NET;
  }
  if (sa->sa_family == AF_INET6) {
    const struct in6_addr *a = &((const struct sockaddr_in6 *)sa)->sin6_addr;
    if (is_v4_mapped(a->s6_addr))
      return a->s6_addr[12] == V4_LOOPBACK_NET;
    return IN6_IS_ADDR_LOOPBACK(a);
  }
  return false;
}
