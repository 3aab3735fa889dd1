/* What bench/sort_kernel.c and bench/sort_codec.c share: a clock, the
 * random numbers (splitmix64, the generator dnsort-load uses) and a
 * median. Header-only: each is a program of its own, built by
 * bench/sort_kernel.sh. */
#ifndef DNSORT_SORT_BENCH_H
#define DNSORT_SORT_BENCH_H

#include <stdint.h>
#include <stdlib.h>
#include <time.h>

static inline uint64_t bench_now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static inline uint64_t bench_rng_next(uint64_t *s) {
  uint64_t z = (*s += UINT64_C(0x9e3779b97f4a7c15));
  z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
  z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
  return z ^ (z >> 31);
}

/* A double in [-1e6, 1e6) with all 53 bits of fraction used. */
static inline double bench_rng_double(uint64_t r) {
  return ((double)(r >> 11) / 9007199254740992.0) * 2e6 - 1e6;
}

static inline int bench_cmp_u64(const void *pa, const void *pb) {
  uint64_t a = *(const uint64_t *)pa, b = *(const uint64_t *)pb;
  return (a > b) - (a < b);
}

/* Sorts t[0..runs) and returns the middle one. */
static inline uint64_t bench_median(uint64_t *t, int runs) {
  qsort(t, (size_t)runs, sizeof(*t), bench_cmp_u64);
  return t[runs / 2];
}

#endif
