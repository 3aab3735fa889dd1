/* libFuzzer target: any bytes as a hosts file. dns_hosts_parse must either
 * succeed or fail with a "fuzz:LINE: ..." message; the map it leaves must
 * be consistent (every name found again by lookup, within the address
 * bound); the first line is also tried as a --map spec; then a zone built
 * from the result answers queries for its first names (each must come
 * back with all its addresses over TCP) and a few fixed ones. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dns_load.h"
#include "dns_map.h"
#include "dns_wire.h"
#include "dns_zone.h"
#include "fuzz_check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* How many of the map's names get their own queries: enough to reach
 * wildcards and aliases, few enough to keep each run fast. */
#define FUZZ_NAMES_ASKED 8

static size_t make_query(uint8_t *q, const uint8_t *name, size_t name_len,
                         uint16_t qtype) {
  const uint8_t header[DNS_HEADER_SIZE] = {0xf0, 0x0d, 0x01, 0, 0, 1};

  memcpy(q, header, sizeof(header));
  memcpy(q + DNS_HEADER_SIZE, name, name_len);
  size_t pos = DNS_HEADER_SIZE + name_len;
  q[pos++] = (uint8_t)(qtype >> 8);
  q[pos++] = (uint8_t)qtype;
  q[pos++] = 0;
  q[pos++] = DNS_CLASS_IN;
  return pos;
}

static void check_map(const dns_map_t *map) {
  for (size_t i = 0; i < dns_map_size(map); i++) {
    const dns_map_entry_t *e = dns_map_at(map, i);
    FUZZ_CHECK(e != NULL && e->index == i);
    FUZZ_CHECK(e->name_len >= 2 && e->name_len <= DNS_MAX_NAME);
    FUZZ_CHECK(e->n_a + e->n_aaaa >= 1 &&
               e->n_a + e->n_aaaa <= DNS_MAP_MAX_ADDRS);
    FUZZ_CHECK(dns_map_lookup(map, e->name, e->name_len) == e);
  }
}

/* The first line, NUL-terminated, as a spec. */
static void try_spec(dns_map_t *map, const uint8_t *data, size_t size) {
  char spec[512], err[256];
  size_t n = 0;

  while (n < size && n < sizeof(spec) - 1 && data[n] != '\n' &&
         data[n] != '\0') {
    spec[n] = (char)data[n];
    n++;
  }
  spec[n] = '\0';
  err[0] = '\0';
  if (dns_map_spec_parse(map, spec, err, sizeof(err)) != 0)
    FUZZ_CHECK(strncmp(err, "--map", 5) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static uint8_t out[DNS_MAX_MESSAGE];
  static const uint8_t fixed[][16] = {
      {9, 'l', 'o', 'c', 'a', 'l', 'h', 'o', 's', 't', 0},
      {1, 'x', 7, 'e', 'x', 'a', 'm', 'p', 'l', 'e', 0},
      {0},
  };
  static const size_t fixed_len[] = {11, 11, 1};
  char err[256];
  uint8_t q[DNS_HEADER_SIZE + DNS_MAX_NAME + 4];
  dns_map_t *map = dns_map_new();

  if (map == NULL)
    return 0;
  err[0] = '\0';
  int rc = dns_hosts_parse(map, (const char *)data, size, "fuzz", err,
                           sizeof(err));
  FUZZ_CHECK(rc == 0 || (rc == -1 && strncmp(err, "fuzz:", 5) == 0));
  FUZZ_CHECK(rc != 0 || err[0] == '\0');
  check_map(map);
  try_spec(map, data, size);
  check_map(map);

  dns_zone_options_t opts;
  dns_zone_options_default(&opts);
  dns_zone_t *zone = dns_zone_new(map, &opts);
  if (zone == NULL)
    return 0; /* out of memory; the zone freed the map */

  /* The zone owns the map now and never changes it, so its entries stay
   * readable for the zone's life. */
  for (size_t i = 0; i < dns_map_size(map) && i < FUZZ_NAMES_ASKED; i++) {
    const dns_map_entry_t *e = dns_map_at(map, i);
    size_t qlen = make_query(q, e->name, e->name_len, DNS_TYPE_A);
    int ancount = fuzz_answer_and_check(zone, DNS_TRANSPORT_TCP, q, qlen, out,
                                        sizeof(out));
    FUZZ_CHECK(ancount == (int)e->n_a);
    qlen = make_query(q, e->name, e->name_len, DNS_TYPE_ANY);
    ancount = fuzz_answer_and_check(zone, DNS_TRANSPORT_TCP, q, qlen, out,
                                    sizeof(out));
    FUZZ_CHECK(ancount == (int)(e->n_a + e->n_aaaa));
    fuzz_answer_and_check(zone, DNS_TRANSPORT_UDP, q, qlen, out, sizeof(out));
  }
  for (size_t i = 0; i < sizeof(fixed_len) / sizeof(fixed_len[0]); i++) {
    size_t qlen = make_query(q, fixed[i], fixed_len[i], DNS_TYPE_AAAA);
    fuzz_answer_and_check(zone, DNS_TRANSPORT_UDP, q, qlen, out, sizeof(out));
  }
  dns_zone_free(zone);
  return 0;
}
