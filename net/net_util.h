/* net_util: the one definition of container_of, for every folder. It lives
 * here, at the bottom of the dependency graph (tools -> loop -> {dns,
 * sortsvc} -> net), so that any module may include it without reaching up
 * a layer. Header only, libc only. */
#ifndef DNSORT_NET_UTIL_H
#define DNSORT_NET_UTIL_H

#include <stddef.h>

/* The struct of type that holds member at ptr: how a libuv callback, given
 * a handle or request embedded in our struct, gets the struct back. */
#define container_of(ptr, type, member) \
  ((type *)((char *)(ptr)-offsetof(type, member)))

#endif
