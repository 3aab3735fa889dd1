/* load_payload: what dnsort-load sends, prepared before the run so that
 * producing a request costs nothing while measuring. Sort payloads are
 * framed bodies with their expected replies; DNS queries are built from a
 * fixed mix of names with their expected answers. Pure: no libuv. */
#ifndef DNSORT_LOAD_PAYLOAD_H
#define DNSORT_LOAD_PAYLOAD_H

#include <stddef.h>
#include <stdint.h>

#include "load_check.h"

/* splitmix64: tiny, seedable, good enough to shuffle test data. */
uint64_t load_rand_next(uint64_t *state);

typedef struct {
  uint8_t prefix[8]; /* body length, big-endian */
  char *body;
  size_t body_len;
  load_num_t *sorted; /* the body's numbers, sorted */
  size_t n;
  char *expected; /* exact reply bytes, or NULL when unknown */
  size_t expected_len;
} load_payload_t;

typedef struct {
  load_payload_t *items;
  size_t count;
} load_payload_set_t;

/* `count` bodies of `size` random integers each, from `seed`, written like
 * Python's json.dumps ("[3, -1, 2]"), with their sorted replies written the
 * same way, byte for byte as dnsortd sends them. 0 or -1 (no memory). */
int load_payload_generate(load_payload_set_t *set, size_t count, size_t size, uint64_t seed);

/* One body: the file's bytes as they are. Its numbers are read and sorted
 * once; replies are then checked number by number (doubles have no single
 * spelling we could predict, so there are no expected bytes). 0, or -1 with
 * a one-line reason in err. */
int load_payload_from_file(load_payload_set_t *set, const char *path, char *err, size_t errlen);

void load_payload_set_free(load_payload_set_t *set);

/* The expectation load_check_sort needs for one payload. */
load_sort_expect_t load_payload_expect(const load_payload_t *p);

/* ---- DNS ---- */

typedef struct {
  const char *name;
  uint8_t address[4]; /* the A record dnsortd should answer */
} load_dns_name_t;

/* The fixed mix, cycled: the three names of dnsortd's map twice over and two
 * names it does not know (answered with 127.0.0.1). */
extern const load_dns_name_t load_dns_names[];
extern const size_t load_dns_names_count;

/* A query as the generator keeps it: bytes with ID 0 (patched per send)
 * and what the reply must look like. */
#define LOAD_DNS_QUERY_MAX 300

typedef struct {
  uint8_t bytes[LOAD_DNS_QUERY_MAX];
  size_t len;
  uint16_t qtype;
  const load_dns_name_t *name;
} load_dns_query_t;

/* Build a standard query, RD=1, no EDNS, one question (name, qtype, IN).
 * 0, or -1 for a name that is not a valid DNS name. */
int load_dns_query_build(load_dns_query_t *q, const load_dns_name_t *name, uint16_t qtype);

/* What the reply to q sent with `id` must be: NOERROR, the question
 * echoed, and for A and ANY one A record with the map's address (dnsortd
 * answers ANY with the A record), for other types no answer. */
load_dns_expect_t load_dns_query_expect(const load_dns_query_t *q, uint16_t id);

#endif
