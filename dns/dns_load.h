/* dns_load: turning configuration into a zone. Reads hosts(5) files
 * (blocking file I/O: call it at start-up or on a thread of its own, never on
 * the loop thread), parses --map specs, and builds the zone. Every error
 * names its source and line ("hosts.txt:12: ...") and nothing is built. */
#ifndef DNSORT_DNS_LOAD_H
#define DNSORT_DNS_LOAD_H

#include <stdbool.h>
#include <stddef.h>

#include "dns_map.h"
#include "dns_zone.h"

typedef struct {
  const char *const *hosts_files; /* --hosts FILE, in order */
  size_t n_hosts_files;
  const char *const *map_specs; /* --map NAME=ADDR[,ADDR...], in order */
  size_t n_map_specs;
  bool default_map; /* the seed's three names first */
  dns_zone_options_t options;
} dns_load_config_t;

/* hosts(5) text: "ADDRESS NAME [ALIAS...]", '#' starts a comment, blank
 * lines are fine; IPv4 and IPv6; names may be wildcards ("*.example.com").
 * source names the text in messages. Returns 0, or -1 with "source:line:
 * message" in err (map may then hold part of the text: discard it). */
int dns_hosts_parse(dns_map_t *map, const char *text, size_t len,
                    const char *source, char *err, size_t errlen);

/* "NAME=ADDR[,ADDR...]". Returns 0 or -1 with a message naming the spec. */
int dns_map_spec_parse(dns_map_t *map, const char *spec, char *err,
                       size_t errlen);

/* Build a new zone from cfg: default map, then files, then specs, in
 * order. Returns NULL with the first error in err. */
dns_zone_t *dns_load_zone(const dns_load_config_t *cfg, char *err,
                          size_t errlen);

#endif
