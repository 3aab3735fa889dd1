/* load_sort: dnsort-load's sort back-end (one TCP connection per request,
 * replies checked). */
#ifndef DNSORT_LOAD_SORT_H
#define DNSORT_LOAD_SORT_H

#include "load_gen.h"

extern const load_backend_t load_sort_backend;

#endif
