/* dns_map: the name -> address table the responder answers from. Keys are
 * lower-cased wire-format names, so a lookup does no string building and no
 * linear scan: one hash and a probe or two. Built once, then read-only.
 *
 * Names are kept in insertion order (dns_map_at), and so are each name's
 * addresses, per family: a hosts file's order is the answer's order.
 *
 * Wildcards: "*.example.com" is stored as the wire name 1*7example3com0,
 * a literal "*" label; dns_map_lookup_wildcard finds it from the base name
 * (example.com) without building the key. Matching policy (which wildcard
 * applies to which query) belongs to dns_zone, not here.
 *
 * Lifetime of the pointers handed out (entries and their arrays): they stay
 * valid until the next dns_map_add or dns_map_free. dns_map_add may move
 * them (a new name can grow the tables; a new address can grow that name's
 * array). A zone never modifies its map, so once dns_zone_new has run they
 * are stable for the zone's whole life. */
#ifndef DNSORT_DNS_MAP_H
#define DNSORT_DNS_MAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The most addresses one name may hold, both families together. The bound
 * makes every answer fit a TCP message whatever the question: 2048 AAAA
 * records are 2048 * 28 = 57344 bytes, plus a header, the longest question
 * (259) and an OPT (11) stays under 65535, so TCP never has to truncate. It
 * also keeps the duplicate check (a scan of the name's addresses) cheap. */
#define DNS_MAP_MAX_ADDRS 2048

typedef struct dns_map dns_map_t;

typedef struct {
  const uint8_t (*a)[4]; /* IPv4 addresses in insertion order */
  size_t n_a;
  const uint8_t (*aaaa)[16];
  size_t n_aaaa;
  const uint8_t *name; /* the key: lower-cased wire name, root included */
  size_t name_len;
  size_t index; /* position in insertion order, 0-based: lets a
                   caller keep per-name data in a flat array */
} dns_map_entry_t;

/* Why a dotted name cannot be a key. */
typedef enum {
  DNS_MAP_NAME_OK = 0,
  DNS_MAP_NAME_EMPTY,          /* "" or "." */
  DNS_MAP_NAME_EMPTY_LABEL,    /* "a..b", ".a" */
  DNS_MAP_NAME_LABEL_TOO_LONG, /* a label over 63 octets */
  DNS_MAP_NAME_TOO_LONG,       /* over 255 octets in wire form */
  DNS_MAP_NAME_BAD_WILDCARD,   /* a '*' other than as the whole first label */
} dns_map_name_status_t;

/* An empty map; NULL on out of memory. */
dns_map_t *dns_map_new(void);

/* The seed's map: facebook.com, yougov.com, wipo.int. */
dns_map_t *dns_map_new_default(void);

/* Checks a dotted name as dns_map_add would. A label is the bytes between
 * dots taken literally (no master-file escapes). '*' may appear only as
 * the whole first label ("*.example.com", or "*" alone, which matches
 * every name below the root): "a.*.com", "*a.com" and "a*.com" are errors,
 * since in a hosts file they are far more likely typos than real names. */
dns_map_name_status_t dns_map_check_name(const char *name);

/* A short English phrase for a status ("empty label"), never NULL. */
const char *dns_map_name_strerror(dns_map_name_status_t status);

/* Add an address for a dotted name ("facebook.com", a trailing dot is
 * allowed, any case; "*.example.com" for a wildcard). family is 4 or 6;
 * addr holds 4 or 16 bytes. An address the name already holds is kept
 * once (RFC 2181 5: an RRset holds no duplicates), and adding it again
 * returns 0 and changes nothing. Returns 0, or a UV-style negative errno:
 * -EINVAL for a bad argument or name (dns_map_check_name says which),
 * -E2BIG when the name already holds DNS_MAP_MAX_ADDRS addresses, -ENOMEM.
 * On error the map is as it was. */
int dns_map_add(dns_map_t *map, const char *name, int family,
                const uint8_t *addr);

/* Look up a wire-format name (any case). NULL when absent. A wildcard
 * entry is only found here by its literal name ("*.example.com"). */
const dns_map_entry_t *dns_map_lookup(const dns_map_t *map,
                                      const uint8_t *wire_name, size_t len);

/* Look up a dotted name, as dns_map_add spells it ("*.example.com" finds
 * the wildcard entry itself). NULL when absent or not a valid name. */
const dns_map_entry_t *dns_map_find(const dns_map_t *map, const char *name);

/* Look up the wildcard "*.<base>" for a wire-format base name (any case,
 * root included; the root alone finds "*"), hashing the "*" label and the
 * base in place. NULL when absent. */
const dns_map_entry_t *dns_map_lookup_wildcard(const dns_map_t *map,
                                               const uint8_t *base, size_t len);

/* True for an entry whose first label is "*". */
bool dns_map_entry_is_wildcard(const dns_map_entry_t *e);

/* The i-th name in insertion order (entry->index == i); NULL when i >=
 * dns_map_size(map). For walking the whole map. */
const dns_map_entry_t *dns_map_at(const dns_map_t *map, size_t i);

size_t dns_map_size(const dns_map_t *map);

void dns_map_free(dns_map_t *map);

#endif
