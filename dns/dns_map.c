#include "dns_map.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "dns_wire.h"

/* Open addressing with linear probing. A DNS name set is small and read far
 * more often than written, so one flat array of slots (no per-lookup
 * allocation, no chains) keeps a lookup to a hash and a cache line or two. */
#define MAP_INITIAL_CAPACITY 16 /* a power of two: probes wrap with a mask */

typedef struct {
  uint8_t *name;           /* lower-cased wire name, owned; NULL = free slot */
  size_t name_len;
  uint32_t hash;           /* kept so that growing never rehashes names */
  uint8_t *a;              /* owned, 4 bytes an address; entry.a views it */
  size_t cap_a;
  uint8_t *aaaa;           /* owned, 16 bytes an address; entry.aaaa too */
  size_t cap_aaaa;
  dns_map_entry_t entry;   /* what lookups hand out */
} map_slot_t;

struct dns_map {
  map_slot_t *slots;
  size_t capacity;
  size_t size;
};

static uint8_t ascii_lower(uint8_t b) {
  return (b >= 'A' && b <= 'Z') ? (uint8_t)(b - 'A' + 'a') : b;
}

/* FNV-1a over the lower-cased bytes, so that any spelling of a name lands
 * in the same slot without first copying it. */
static uint32_t name_hash(const uint8_t *name, size_t len) {
  uint32_t h = 2166136261u;
  for (size_t i = 0; i < len; i++) {
    h ^= ascii_lower(name[i]);
    h *= 16777619u;
  }
  return h;
}

/* stored is already lower case; probe is whatever came off the wire. */
static bool name_equal(const uint8_t *stored, const uint8_t *probe,
                       size_t len) {
  for (size_t i = 0; i < len; i++) {
    if (stored[i] != ascii_lower(probe[i]))
      return false;
  }
  return true;
}

/* The slot holding name, or the free slot where it would go. There is
 * always a free slot because the load factor stays under 2/3. */
static map_slot_t *find_slot(const dns_map_t *map, const uint8_t *name,
                             size_t len, uint32_t hash) {
  size_t mask = map->capacity - 1;

  for (size_t i = hash & mask;; i = (i + 1) & mask) {
    map_slot_t *s = &map->slots[i];
    if (s->name == NULL)
      return s;
    if (s->hash == hash && s->name_len == len && name_equal(s->name, name, len))
      return s;
  }
}

/* Doubles the table. Slots move by value, so the names and address arrays
 * they own move with them; only the slot array is reallocated. */
static int map_grow(dns_map_t *map) {
  dns_map_t bigger = {NULL, map->capacity * 2, map->size};

  bigger.slots = calloc(bigger.capacity, sizeof(*bigger.slots));
  if (bigger.slots == NULL)
    return -ENOMEM;
  for (size_t i = 0; i < map->capacity; i++) {
    map_slot_t *old = &map->slots[i];
    if (old->name == NULL)
      continue;
    *find_slot(&bigger, old->name, old->name_len, old->hash) = *old;
  }
  free(map->slots);
  *map = bigger;
  return 0;
}

/* "www.Example.com" or "www.example.com." -> 3www7example3com0, lower case.
 * A label is the bytes between dots taken literally: there are no
 * master-file escapes, since nothing here reads zone files. The root name
 * alone (".") is rejected: an address record on the root is never what a
 * configuration means, so it is treated as the typo it most likely is. */
static size_t name_to_wire(const char *name, uint8_t out[DNS_MAX_NAME]) {
  size_t n = strlen(name);
  size_t pos = 0;

  if (n > 0 && name[n - 1] == '.')
    n--;
  if (n == 0)
    return 0;

  for (size_t start = 0; start <= n;) {
    const char *dot = memchr(name + start, '.', n - start);
    size_t label_len = (dot != NULL ? (size_t)(dot - name) : n) - start;

    if (label_len == 0 || label_len > DNS_MAX_LABEL)
      return 0;
    /* Room for this label and the root octet still to come. */
    if (pos + 1 + label_len + 1 > DNS_MAX_NAME)
      return 0;
    out[pos++] = (uint8_t)label_len;
    for (size_t i = 0; i < label_len; i++)
      out[pos++] = ascii_lower((uint8_t)name[start + i]);
    start += label_len + 1;
  }
  out[pos++] = 0;
  return pos;
}

/* Appends one address to a flat byte array, doubling it as needed. On
 * failure nothing has changed. */
static int append_addr(uint8_t **array, size_t *cap, size_t *count,
                       size_t addr_size, const uint8_t *addr) {
  if (*count == *cap) {
    size_t new_cap = *cap == 0 ? 1 : *cap * 2;
    uint8_t *grown = realloc(*array, new_cap * addr_size);
    if (grown == NULL)
      return -ENOMEM;
    *array = grown;
    *cap = new_cap;
  }
  memcpy(*array + *count * addr_size, addr, addr_size);
  (*count)++;
  return 0;
}

static int slot_add_addr(map_slot_t *s, int family, const uint8_t *addr) {
  int rc;

  if (family == 4) {
    rc = append_addr(&s->a, &s->cap_a, &s->entry.n_a, 4, addr);
    s->entry.a = (const uint8_t(*)[4])s->a;
  } else {
    rc = append_addr(&s->aaaa, &s->cap_aaaa, &s->entry.n_aaaa, 16, addr);
    s->entry.aaaa = (const uint8_t(*)[16])s->aaaa;
  }
  return rc;
}

dns_map_t *dns_map_new(void) {
  dns_map_t *map = malloc(sizeof(*map));

  if (map == NULL)
    return NULL;
  map->capacity = MAP_INITIAL_CAPACITY;
  map->size = 0;
  map->slots = calloc(map->capacity, sizeof(*map->slots));
  if (map->slots == NULL) {
    free(map);
    return NULL;
  }
  return map;
}

dns_map_t *dns_map_new_default(void) {
  static const struct {
    const char *name;
    uint8_t addr[4];
  } seed[] = {
      {"facebook.com", {173, 252, 120, 6}},
      {"yougov.com", {213, 52, 133, 246}},
      {"wipo.int", {193, 5, 93, 80}},
  };
  dns_map_t *map = dns_map_new();

  if (map == NULL)
    return NULL;
  for (size_t i = 0; i < sizeof(seed) / sizeof(seed[0]); i++) {
    if (dns_map_add(map, seed[i].name, 4, seed[i].addr) != 0) {
      dns_map_free(map);
      return NULL;
    }
  }
  return map;
}

int dns_map_add(dns_map_t *map, const char *name, int family,
                const uint8_t *addr) {
  uint8_t wire[DNS_MAX_NAME];
  size_t len;
  int rc;

  if (map == NULL || name == NULL || addr == NULL ||
      (family != 4 && family != 6))
    return -EINVAL;
  len = name_to_wire(name, wire);
  if (len == 0)
    return -EINVAL;

  uint32_t hash = name_hash(wire, len);
  map_slot_t *s = find_slot(map, wire, len, hash);
  if (s->name != NULL)
    return slot_add_addr(s, family, addr);

  /* A new name. Grow first, so that a failure later leaves the map as it
   * was; past 2/3 full, linear probing clusters badly. */
  if ((map->size + 1) * 3 > map->capacity * 2) {
    rc = map_grow(map);
    if (rc != 0)
      return rc;
    s = find_slot(map, wire, len, hash);
  }

  map_slot_t fresh = {0};
  fresh.name = malloc(len);
  if (fresh.name == NULL)
    return -ENOMEM;
  memcpy(fresh.name, wire, len);
  fresh.name_len = len;
  fresh.hash = hash;
  rc = slot_add_addr(&fresh, family, addr);
  if (rc != 0) {
    free(fresh.name);
    return rc;
  }
  *s = fresh;
  map->size++;
  return 0;
}

const dns_map_entry_t *dns_map_lookup(const dns_map_t *map,
                                      const uint8_t *wire_name, size_t len) {
  if (map == NULL || wire_name == NULL || len == 0 || len > DNS_MAX_NAME)
    return NULL;
  map_slot_t *s = find_slot(map, wire_name, len, name_hash(wire_name, len));
  return s->name != NULL ? &s->entry : NULL;
}

size_t dns_map_size(const dns_map_t *map) {
  return map != NULL ? map->size : 0;
}

void dns_map_free(dns_map_t *map) {
  if (map == NULL)
    return;
  for (size_t i = 0; i < map->capacity; i++) {
    free(map->slots[i].name);
    free(map->slots[i].a);
    free(map->slots[i].aaaa);
  }
  free(map->slots);
  free(map);
}
