/* dns_answer: the responder's policy. Takes a received packet, decides the
 * answer from the map and writes the response. Pure: the UDP handler, the
 * tests and the fuzzer all call the same function. */
#ifndef DNSORT_DNS_ANSWER_H
#define DNSORT_DNS_ANSWER_H

#include <stddef.h>
#include <stdint.h>

#include "dns_map.h"

typedef struct {
  const dns_map_t *map;
  uint32_t ttl;               /* seconds; the seed's 60 */
  uint8_t unknown_a[4];       /* the A answer for a name not in the map */
} dns_answer_config_t;

/* Answer the UDP query in pkt[0..len) into out[0..cap). The reply never
 * exceeds the client's limit (dns_udp_limit: 512 without EDNS) nor cap; an
 * answer that would is replaced by a TC=1 reply with the question only.
 * Returns the response length, or 0 when the packet must be dropped (no
 * reply at all). */
size_t dns_answer(const dns_answer_config_t *cfg, const uint8_t *pkt,
                  size_t len, uint8_t *out, size_t cap);

#endif
