/* libFuzzer target: any bytes as a query, answered by fixed zones over both
 * transports, every reply checked by fuzz_answer_and_check (length within
 * the limit, ID echoed, QR=1, well-formed sections). The zones hold a few
 * names, wildcards at two depths (and "*" in two of them), and a name
 * with 40 A and 40 AAAA that must truncate over UDP; one zone per
 * unknown-name policy. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "dns_map.h"
#include "dns_wire.h"
#include "dns_zone.h"
#include "fuzz_check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

enum { N_ZONES = 4 };

static dns_zone_t *zones[N_ZONES];

static dns_map_t *fuzz_map(bool star) {
  static const uint8_t v6[16] = {0x20, 0x01, 0x0d, 0xb8, [15] = 1};
  dns_map_t *map = dns_map_new_default();

  if (map == NULL)
    abort();
  for (unsigned i = 0; i < 40; i++) {
    const uint8_t a[4] = {10, 1, 0, (uint8_t)i};
    const uint8_t a6[16] = {0x20, 0x01, 0x0d, 0xb8, 1, [15] = (uint8_t)i};
    if (dns_map_add(map, "many.example", 4, a) != 0 ||
        dns_map_add(map, "many.example", 6, a6) != 0)
      abort();
  }
  if (dns_map_add(map, "dual.example", 4, (const uint8_t[]){192, 0, 2, 1}) ||
      dns_map_add(map, "dual.example", 6, v6) ||
      dns_map_add(map, "*.example.com", 4, (const uint8_t[]){192, 0, 2, 2}) ||
      dns_map_add(map, "*.b.example.com", 6, v6) ||
      dns_map_add(map, "exact.example.com", 4,
                  (const uint8_t[]){192, 0, 2, 3}) ||
      (star && dns_map_add(map, "*", 4, (const uint8_t[]){192, 0, 2, 4})))
    abort();
  return map;
}

/* Built once; the process exits with them still reachable, which is not
 * a leak to LeakSanitizer. */
static void build_zones(void) {
  dns_zone_options_t opts;

  dns_zone_options_default(&opts);
  opts.n_unknown_addrs = 2;
  opts.unknown_addrs[1].family = 6;
  memset(opts.unknown_addrs[1].addr, 0, 16);
  opts.unknown_addrs[1].addr[15] = 1;
  zones[0] = dns_zone_new(fuzz_map(false), &opts);

  dns_zone_options_default(&opts);
  opts.unknown = DNS_UNKNOWN_NXDOMAIN;
  zones[1] = dns_zone_new(fuzz_map(true), &opts);

  opts.unknown = DNS_UNKNOWN_FORWARD;
  zones[2] = dns_zone_new(fuzz_map(false), &opts);

  opts.unknown = DNS_UNKNOWN_REFUSED;
  zones[3] = dns_zone_new(fuzz_map(true), &opts);
  for (size_t i = 0; i < N_ZONES; i++) {
    if (zones[i] == NULL)
      abort();
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static uint8_t out[DNS_MAX_MESSAGE];

  if (zones[0] == NULL)
    build_zones();
  for (size_t i = 0; i < N_ZONES; i++) {
    fuzz_answer_and_check(zones[i], DNS_TRANSPORT_UDP, data, size, out,
                          sizeof(out));
    fuzz_answer_and_check(zones[i], DNS_TRANSPORT_TCP, data, size, out,
                          sizeof(out));
  }
  /* A cap below the limit must shrink the reply too (TCP asks 65535), and
   * one too small for the question must give a drop, not a short write. */
  fuzz_answer_and_check(zones[0], DNS_TRANSPORT_TCP, data, size, out, 600);
  fuzz_answer_and_check(zones[0], DNS_TRANSPORT_UDP, data, size, out, 40);
  return 0;
}
