/* load_dns: dnsort-load's DNS back-end (UDP queries, replies checked). */
#ifndef DNSORT_LOAD_DNS_H
#define DNSORT_LOAD_DNS_H

#include "load_gen.h"

extern const load_backend_t load_dns_backend;

#endif
