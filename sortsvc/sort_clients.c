#include "sort_clients.h"

#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

/* The first table: a few clients at once is the common case. */
#define SORT_CLIENTS_FIRST_CAP 16

bool sort_client_key(const struct sockaddr *addr, sort_client_key_t *out) {
  memset(out, 0, sizeof(*out));
  if (addr->sa_family == AF_INET) {
    const struct sockaddr_in *in = (const struct sockaddr_in *)addr;
    out->b[10] = 0xff;
    out->b[11] = 0xff;
    memcpy(out->b + 12, &in->sin_addr, 4);
    return true;
  }
  if (addr->sa_family == AF_INET6) {
    const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)addr;
    if (IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr)) {
      memcpy(out->b, &in6->sin6_addr, 16);
      return true;
    }
    memcpy(out->b, &in6->sin6_addr, 8); /* the /64 */
    return true;
  }
  return false;
}

/* splitmix64's finaliser over the seeded key: every key bit reaches every
 * hash bit, so neighbouring addresses spread over the table. */
static uint64_t mix(uint64_t z) {
  z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
  z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
  return z ^ (z >> 31);
}

static size_t home(const sort_clients_t *t, const sort_client_key_t *key) {
  uint64_t hi, lo;
  memcpy(&hi, key->b, 8);
  memcpy(&lo, key->b + 8, 8);
  return (size_t)(mix(mix(t->seed ^ hi) ^ lo) & (t->cap - 1));
}

/* The slot holding key, or the free slot where it would go. The table is
 * never full (at most half), so the walk ends. */
static size_t find(const sort_clients_t *t, const sort_client_key_t *key) {
  size_t mask = t->cap - 1;
  size_t i = home(t, key);
  while (t->slots[i].jobs != 0 &&
         memcmp(&t->slots[i].key, key, sizeof(*key)) != 0)
    i = (i + 1) & mask;
  return i;
}

/* What a slot holds when free, and what a key without jobs reads as. */
static const sort_client_entry_t no_jobs;

const sort_client_entry_t *sort_clients_get(const sort_clients_t *t,
                                            const sort_client_key_t *key) {
  if (t->n == 0)
    return &no_jobs;
  return &t->slots[find(t, key)]; /* a free slot is no_jobs */
}

void sort_clients_init(sort_clients_t *t, uint64_t seed) {
  memset(t, 0, sizeof(*t));
  t->seed = seed;
}

size_t sort_clients_jobs(const sort_clients_t *t,
                         const sort_client_key_t *key) {
  return sort_clients_get(t, key)->jobs;
}

size_t sort_clients_running(const sort_clients_t *t,
                            const sort_client_key_t *key) {
  return sort_clients_get(t, key)->running;
}

bool sort_clients_before(const sort_client_entry_t *a,
                         const sort_client_entry_t *b) {
  if (a->running != b->running)
    return a->running < b->running;
  return a->used < b->used;
}

void sort_clients_start(sort_clients_t *t, const sort_client_key_t *key) {
  if (t->n == 0)
    return;
  sort_client_entry_t *e = &t->slots[find(t, key)];
  if (e->jobs == e->running)
    return;
  e->running++;
  if (e->used > t->clock)
    t->clock = e->used;
}

void sort_clients_stop(sort_clients_t *t, const sort_client_key_t *key,
                       uint64_t used) {
  if (t->n == 0)
    return;
  sort_client_entry_t *e = &t->slots[find(t, key)];
  if (e->running == 0)
    return;
  e->running--;
  e->used = e->used > UINT64_MAX - used ? UINT64_MAX : e->used + used;
}

static bool grow(sort_clients_t *t) {
  size_t cap = t->cap == 0 ? SORT_CLIENTS_FIRST_CAP : 2 * t->cap;
  if (cap < t->cap)
    return false;
  sort_client_entry_t *slots = calloc(cap, sizeof(*slots));
  if (slots == NULL)
    return false;
  sort_clients_t bigger = *t; /* seed, n and the clock */
  bigger.slots = slots;
  bigger.cap = cap;
  for (size_t i = 0; i < t->cap; i++) {
    if (t->slots[i].jobs != 0)
      slots[find(&bigger, &t->slots[i].key)] = t->slots[i];
  }
  free(t->slots);
  *t = bigger;
  return true;
}

bool sort_clients_add(sort_clients_t *t, const sort_client_key_t *key) {
  if (t->n > 0) {
    size_t i = find(t, key);
    if (t->slots[i].jobs != 0) {
      t->slots[i].jobs++;
      return true;
    }
  }
  /* A new entry: keep the load at most one half, so walks stay short. */
  if ((t->n + 1) * 2 > t->cap && !grow(t))
    return false;
  size_t i = find(t, key);
  t->slots[i].key = *key;
  t->slots[i].jobs = 1;
  t->slots[i].used = t->clock;
  t->n++;
  return true;
}

/* Linear probing without tombstones: after a slot is emptied, the entries
 * after it in the same run move back if their home slot allows, so that
 * find never stops early at a hole. */
static void erase(sort_clients_t *t, size_t i) {
  size_t mask = t->cap - 1;
  size_t j = i;
  t->slots[i] = no_jobs;
  for (;;) {
    j = (j + 1) & mask;
    if (t->slots[j].jobs == 0)
      break;
    size_t k = home(t, &t->slots[j].key);
    /* Stays if its home is cyclically in (i, j]. */
    bool stays = i <= j ? (i < k && k <= j) : (i < k || k <= j);
    if (stays)
      continue;
    t->slots[i] = t->slots[j];
    t->slots[j] = no_jobs;
    i = j;
  }
  t->n--;
}

void sort_clients_remove(sort_clients_t *t, const sort_client_key_t *key) {
  if (t->n == 0)
    return;
  size_t i = find(t, key);
  if (t->slots[i].jobs == 0)
    return;
  if (--t->slots[i].jobs == 0)
    erase(t, i);
  else if (t->slots[i].running > t->slots[i].jobs)
    t->slots[i].running =
        t->slots[i].jobs; /* a caller's slip: keep running <= jobs */
}

void sort_clients_free(sort_clients_t *t) {
  free(t->slots);
  sort_clients_init(t, t->seed);
}
