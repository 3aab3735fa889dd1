#include "dns_map.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "dns_wire.h"

/* Two arrays. The records, one per name, in insertion order: they own the
 * names and addresses and are what lookups and dns_map_at hand out. And an
 * open-addressing hash index over them with linear probing: a DNS name set
 * is small and read far more often than written, so one flat array of
 * 8-byte slots (no per-lookup allocation, no chains) keeps a lookup to a
 * hash and a cache line or two. */
#define MAP_INITIAL_CAPACITY 16 /* a power of two: probes wrap with a mask */

/* Slots store a record number plus one so that zeroed memory is empty. */
#define MAP_SLOT_FREE 0u
#define MAP_MAX_NAMES (UINT32_MAX - 1u)

typedef struct {
  uint32_t hash; /* kept so that growing never rehashes names */
  uint32_t ref;  /* record index + 1, or MAP_SLOT_FREE */
} map_slot_t;

typedef struct {
  dns_map_entry_t entry; /* what lookups hand out; views the arrays below */
  uint8_t *name;         /* lower-cased wire name, owned */
  uint8_t *a;            /* owned, 4 bytes an address */
  size_t cap_a;
  uint8_t *aaaa; /* owned, 16 bytes an address */
  size_t cap_aaaa;
} map_record_t;

struct dns_map {
  map_slot_t *slots;
  size_t capacity; /* slots */
  map_record_t *records;
  size_t size; /* records in use, and names in the map */
  size_t cap_records;
};

/* A key to probe for, as two spans read one after the other: an exact
 * lookup is all head, a wildcard lookup is the "*" label then the base, so
 * the wildcard's key is never built in a buffer. */
typedef struct {
  const uint8_t *head;
  size_t head_len;
  const uint8_t *tail;
  size_t tail_len;
} map_key_t;

/* The "*" label that starts every wildcard key. */
static const uint8_t wildcard_label[] = {1, '*'};

static uint8_t ascii_lower(uint8_t b) {
  return (b >= 'A' && b <= 'Z') ? (uint8_t)(b - 'A' + 'a') : b;
}

/* FNV-1a over the lower-cased bytes, so that any spelling of a name lands
 * in the same slot without first copying it. It runs left to right, which
 * is what lets a key be hashed span by span. */
#define FNV_OFFSET_BASIS 2166136261u
#define FNV_PRIME 16777619u

static uint32_t hash_bytes(uint32_t h, const uint8_t *p, size_t len) {
  for (size_t i = 0; i < len; i++) {
    h ^= ascii_lower(p[i]);
    h *= FNV_PRIME;
  }
  return h;
}

static uint32_t key_hash(const map_key_t *k) {
  return hash_bytes(hash_bytes(FNV_OFFSET_BASIS, k->head, k->head_len), k->tail,
                    k->tail_len);
}

/* stored is already lower case; probe is whatever came off the wire. */
static bool bytes_equal_lower(const uint8_t *stored, const uint8_t *probe,
                              size_t len) {
  for (size_t i = 0; i < len; i++) {
    if (stored[i] != ascii_lower(probe[i]))
      return false;
  }
  return true;
}

static bool key_equal(const map_record_t *r, const map_key_t *k) {
  return r->entry.name_len == k->head_len + k->tail_len &&
         bytes_equal_lower(r->name, k->head, k->head_len) &&
         bytes_equal_lower(r->name + k->head_len, k->tail, k->tail_len);
}

/* The slot holding the key, or the free slot where it would go. There is
 * always a free slot because the load factor stays under 2/3. */
static map_slot_t *find_slot(const dns_map_t *map, const map_key_t *k,
                             uint32_t hash) {
  size_t mask = map->capacity - 1;

  for (size_t i = hash & mask;; i = (i + 1) & mask) {
    map_slot_t *s = &map->slots[i];
    if (s->ref == MAP_SLOT_FREE)
      return s;
    if (s->hash == hash && key_equal(&map->records[s->ref - 1], k))
      return s;
  }
}

static const dns_map_entry_t *map_find(const dns_map_t *map,
                                       const map_key_t *k) {
  const map_slot_t *s = find_slot(map, k, key_hash(k));
  return s->ref != MAP_SLOT_FREE ? &map->records[s->ref - 1].entry : NULL;
}

/* Doubles the index. Names are all distinct, so each goes to the first
 * free slot from its stored hash, without comparing any name. */
static int grow_slots(dns_map_t *map) {
  size_t capacity = map->capacity * 2;
  map_slot_t *slots = calloc(capacity, sizeof(*slots));

  if (slots == NULL)
    return -ENOMEM;
  for (size_t i = 0; i < map->capacity; i++) {
    map_slot_t old = map->slots[i];
    if (old.ref == MAP_SLOT_FREE)
      continue;
    size_t j = old.hash & (capacity - 1);
    while (slots[j].ref != MAP_SLOT_FREE)
      j = (j + 1) & (capacity - 1);
    slots[j] = old;
  }
  free(map->slots);
  map->slots = slots;
  map->capacity = capacity;
  return 0;
}

/* Records move by value: the names and arrays they own are separate
 * allocations and stay where they are. */
static int grow_records(dns_map_t *map) {
  size_t cap =
      map->cap_records == 0 ? MAP_INITIAL_CAPACITY : map->cap_records * 2;
  map_record_t *records = realloc(map->records, cap * sizeof(*records));

  if (records == NULL)
    return -ENOMEM;
  map->records = records;
  map->cap_records = cap;
  return 0;
}

/* "www.Example.com" or "www.example.com." -> 3www7example3com0, lower case,
 * with the reason when the name cannot be one. The root name alone (".") is
 * rejected: an address record on the root is never what a configuration
 * means, so it is treated as the typo it most likely is. */
static dns_map_name_status_t name_to_wire(const char *name,
                                          uint8_t out[DNS_MAX_NAME],
                                          size_t *out_len) {
  size_t n = strlen(name);
  size_t pos = 0;

  if (n > 0 && name[n - 1] == '.')
    n--;
  if (n == 0)
    return DNS_MAP_NAME_EMPTY;

  for (size_t start = 0; start <= n;) {
    const char *dot = memchr(name + start, '.', n - start);
    size_t label_len = (dot != NULL ? (size_t)(dot - name) : n) - start;
    const char *star = memchr(name + start, '*', label_len);

    if (label_len == 0)
      return DNS_MAP_NAME_EMPTY_LABEL;
    if (label_len > DNS_MAX_LABEL)
      return DNS_MAP_NAME_LABEL_TOO_LONG;
    if (star != NULL && (start != 0 || label_len != 1))
      return DNS_MAP_NAME_BAD_WILDCARD;
    /* Room for this label and the root octet still to come. */
    if (pos + 1 + label_len + 1 > DNS_MAX_NAME)
      return DNS_MAP_NAME_TOO_LONG;
    out[pos++] = (uint8_t)label_len;
    for (size_t i = 0; i < label_len; i++)
      out[pos++] = ascii_lower((uint8_t)name[start + i]);
    start += label_len + 1;
  }
  out[pos++] = 0;
  *out_len = pos;
  return DNS_MAP_NAME_OK;
}

dns_map_name_status_t dns_map_check_name(const char *name) {
  uint8_t wire[DNS_MAX_NAME];
  size_t len;

  if (name == NULL)
    return DNS_MAP_NAME_EMPTY;
  return name_to_wire(name, wire, &len);
}

/* No default case, so -Wswitch flags a status added later. */
const char *dns_map_name_strerror(dns_map_name_status_t status) {
  switch (status) {
  case DNS_MAP_NAME_OK:
    return "valid name";
  case DNS_MAP_NAME_EMPTY:
    return "empty name";
  case DNS_MAP_NAME_EMPTY_LABEL:
    return "empty label";
  case DNS_MAP_NAME_LABEL_TOO_LONG:
    return "label longer than 63 octets";
  case DNS_MAP_NAME_TOO_LONG:
    return "name longer than 255 octets";
  case DNS_MAP_NAME_BAD_WILDCARD:
    return "'*' is allowed only as the whole first label";
  }
  return "invalid name";
}

/* True when addr is already among the count addresses in array. */
static bool holds_addr(const uint8_t *array, size_t count, size_t addr_size,
                       const uint8_t *addr) {
  for (size_t i = 0; i < count; i++) {
    if (memcmp(array + i * addr_size, addr, addr_size) == 0)
      return true;
  }
  return false;
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

static int record_add_addr(map_record_t *r, int family, const uint8_t *addr) {
  dns_map_entry_t *e = &r->entry;
  int rc;

  if (family == 4 ? holds_addr(r->a, e->n_a, 4, addr)
                  : holds_addr(r->aaaa, e->n_aaaa, 16, addr))
    return 0;
  if (e->n_a + e->n_aaaa >= DNS_MAP_MAX_ADDRS)
    return -E2BIG;
  if (family == 4) {
    rc = append_addr(&r->a, &r->cap_a, &e->n_a, 4, addr);
    e->a = (const uint8_t(*)[4])r->a;
  } else {
    rc = append_addr(&r->aaaa, &r->cap_aaaa, &e->n_aaaa, 16, addr);
    e->aaaa = (const uint8_t(*)[16])r->aaaa;
  }
  return rc;
}

dns_map_t *dns_map_new(void) {
  dns_map_t *map = calloc(1, sizeof(*map));

  if (map == NULL)
    return NULL;
  map->capacity = MAP_INITIAL_CAPACITY;
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
  if (name_to_wire(name, wire, &len) != DNS_MAP_NAME_OK)
    return -EINVAL;

  map_key_t key = {wire, len, NULL, 0};
  uint32_t hash = key_hash(&key);
  map_slot_t *s = find_slot(map, &key, hash);
  if (s->ref != MAP_SLOT_FREE)
    return record_add_addr(&map->records[s->ref - 1], family, addr);

  /* A new name. Make room first, so that a failure later leaves the map
   * holding what it held; past 2/3 full, linear probing clusters badly. */
  if (map->size >= MAP_MAX_NAMES)
    return -ENOMEM;
  if ((map->size + 1) * 3 > map->capacity * 2) {
    rc = grow_slots(map);
    if (rc != 0)
      return rc;
    s = find_slot(map, &key, hash);
  }
  if (map->size == map->cap_records) {
    rc = grow_records(map);
    if (rc != 0)
      return rc;
  }

  map_record_t fresh = {0};
  fresh.name = malloc(len);
  if (fresh.name == NULL)
    return -ENOMEM;
  memcpy(fresh.name, wire, len);
  fresh.entry.name = fresh.name;
  fresh.entry.name_len = len;
  fresh.entry.index = map->size;
  rc = record_add_addr(&fresh, family, addr);
  if (rc != 0) {
    free(fresh.name);
    return rc;
  }
  map->records[map->size] = fresh;
  *s = (map_slot_t){hash, (uint32_t)map->size + 1};
  map->size++;
  return 0;
}

const dns_map_entry_t *dns_map_lookup(const dns_map_t *map,
                                      const uint8_t *wire_name, size_t len) {
  if (map == NULL || wire_name == NULL || len == 0 || len > DNS_MAX_NAME)
    return NULL;
  map_key_t key = {wire_name, len, NULL, 0};
  return map_find(map, &key);
}

const dns_map_entry_t *dns_map_find(const dns_map_t *map, const char *name) {
  uint8_t wire[DNS_MAX_NAME];
  size_t len;

  if (name == NULL || name_to_wire(name, wire, &len) != DNS_MAP_NAME_OK)
    return NULL;
  return dns_map_lookup(map, wire, len);
}

const dns_map_entry_t *dns_map_lookup_wildcard(const dns_map_t *map,
                                               const uint8_t *base,
                                               size_t len) {
  if (map == NULL || base == NULL || len == 0 ||
      len > DNS_MAX_NAME - sizeof(wildcard_label))
    return NULL;
  map_key_t key = {wildcard_label, sizeof(wildcard_label), base, len};
  return map_find(map, &key);
}

bool dns_map_entry_is_wildcard(const dns_map_entry_t *e) {
  /* Any stored name ends with the root octet, so a wildcard is longer. */
  return e != NULL && e->name_len > sizeof(wildcard_label) &&
         memcmp(e->name, wildcard_label, sizeof(wildcard_label)) == 0;
}

const dns_map_entry_t *dns_map_at(const dns_map_t *map, size_t i) {
  if (map == NULL || i >= map->size)
    return NULL;
  return &map->records[i].entry;
}

size_t dns_map_size(const dns_map_t *map) {
  return map != NULL ? map->size : 0;
}

void dns_map_free(dns_map_t *map) {
  if (map == NULL)
    return;
  for (size_t i = 0; i < map->size; i++) {
    free(map->records[i].name);
    free(map->records[i].a);
    free(map->records[i].aaaa);
  }
  free(map->records);
  free(map->slots);
  free(map);
}
