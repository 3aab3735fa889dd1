/* sort_clients: how many sorts each client has queued or running, so that
 * one client cannot take the whole queue (--max-jobs-per-client), and how
 * many of those are on the worker pool and how much worker time the client
 * has had, so that a free worker goes to the client that has had the
 * least rather than to the oldest job. Pure: a hash table from client to
 * counts, without sockets or libuv.
 *
 * Worker time is fair-queuing's virtual time: an entry starts at the time
 * of the client served last (the table's clock), not at zero, so that a
 * client that comes back is not owed everything it did not use while it
 * was away, and one that has used much waits until the others catch up.
 *
 * A client is an IPv4 address, or an IPv6 /64: one host usually holds a
 * whole /64, so counting single IPv6 addresses would let it take any share
 * it likes. IPv4-mapped IPv6 addresses (a dual-stack listener) count as
 * the IPv4 address.
 *
 * An entry lives only while its count is above zero, so the table never
 * holds more entries than there are jobs (--max-queued-jobs bounds it);
 * it grows by doubling and is not shrunk: its peak is that bound. */
#ifndef DNSORT_SORT_CLIENTS_H
#define DNSORT_SORT_CLIENTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

typedef struct {
  uint8_t b[16]; /* IPv4 as ::ffff:a.b.c.d; IPv6 with the low 64 bits 0 */
} sort_client_key_t;

typedef struct {
  sort_client_key_t key;
  size_t jobs;    /* 0: the slot is free */
  size_t running; /* of those, on the worker pool */
  uint64_t used;  /* worker time, in the caller's unit (virtual) */
} sort_client_entry_t;

typedef struct {
  sort_client_entry_t *slots;
  size_t cap;     /* a power of two, or 0 before the first add */
  size_t n;       /* slots in use */
  uint64_t clock; /* used of the client that got a worker last: where
                     new entries start */
  uint64_t seed;  /* keys are chosen by clients: an unknown seed keeps
                     them from aiming at one chain */
} sort_clients_t;

/* The client an address belongs to. False for a family that is neither
 * AF_INET nor AF_INET6. */
bool sort_client_key(const struct sockaddr *addr, sort_client_key_t *out);

void sort_clients_init(sort_clients_t *t, uint64_t seed);

/* The jobs counted for key (0 if none). */
size_t sort_clients_jobs(const sort_clients_t *t, const sort_client_key_t *key);

/* One job more for key. False when the table could not grow (out of
 * memory); nothing is counted then. */
bool sort_clients_add(sort_clients_t *t, const sort_client_key_t *key);

/* One job less for key; the entry goes at zero. A key with no jobs is
 * left alone. A job that was running must be stopped first. */
void sort_clients_remove(sort_clients_t *t, const sort_client_key_t *key);

/* The jobs of key on the worker pool (0 if none). */
size_t sort_clients_running(const sort_clients_t *t,
                            const sort_client_key_t *key);

/* key's entry, all zero when it has no jobs. Valid until the table
 * changes. */
const sort_client_entry_t *sort_clients_get(const sort_clients_t *t,
                                            const sort_client_key_t *key);

/* Whose turn it is: true when a's client should get a free worker before
 * b's: fewer jobs on the pool, then less worker time. */
bool sort_clients_before(const sort_client_entry_t *a,
                         const sort_client_entry_t *b);

/* One of key's jobs goes to the worker pool; or comes back from it after
 * holding a worker for `used` (added to the client's time). Both leave a
 * key with no jobs alone, and stop one with nothing running. */
void sort_clients_start(sort_clients_t *t, const sort_client_key_t *key);
void sort_clients_stop(sort_clients_t *t, const sort_client_key_t *key,
                       uint64_t used);

void sort_clients_free(sort_clients_t *t);

#endif
