/* Shared helpers for the cmocka unit tests. cmocka.h needs these system
 * headers first, in this order. */
#ifndef DNSORT_TEST_UTIL_H
#define DNSORT_TEST_UTIL_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

#endif
