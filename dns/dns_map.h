/* dns_map: the name -> address table the responder answers from. Keys are
 * lower-cased wire-format names, so a lookup does no string building and no
 * linear scan: one hash and a probe or two. Built once, then read-only. */
#ifndef DNSORT_DNS_MAP_H
#define DNSORT_DNS_MAP_H

#include <stddef.h>
#include <stdint.h>

typedef struct dns_map dns_map_t;

typedef struct {
  const uint8_t (*a)[4];    /* IPv4 addresses in insertion order */
  size_t n_a;
  const uint8_t (*aaaa)[16];
  size_t n_aaaa;
} dns_map_entry_t;

/* An empty map; NULL on out of memory. */
dns_map_t *dns_map_new(void);

/* The seed's map: facebook.com, yougov.com, wipo.int. */
dns_map_t *dns_map_new_default(void);

/* Add an address for a dotted name ("facebook.com", a trailing dot is
 * allowed, any case). family is 4 or 6; addr holds 4 or 16 bytes. Returns 0,
 * UV-style negative errno (-EINVAL for a bad name, -ENOMEM). */
int dns_map_add(dns_map_t *map, const char *name, int family,
                const uint8_t *addr);

/* Look up a wire-format name (any case). NULL when absent. */
const dns_map_entry_t *dns_map_lookup(const dns_map_t *map,
                                      const uint8_t *wire_name, size_t len);

size_t dns_map_size(const dns_map_t *map);

void dns_map_free(dns_map_t *map);

#endif
