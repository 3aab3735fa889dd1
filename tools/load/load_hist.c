#include "load_hist.h"

#include <string.h>

void load_hist_reset(load_hist_t *h) {
  memset(h->counts, 0, sizeof(h->counts));
  h->total = 0;
  h->min = UINT64_MAX;
  h->max = 0;
  h->sum = 0.0;
}

static unsigned top_bit(uint64_t v) {
  /* v >= LOAD_HIST_SUB here, so the builtin's undefined v == 0 never
   * happens. */
  return 63u - (unsigned)__builtin_clzll(v);
}

size_t load_hist_bucket_of(uint64_t ns) {
  if (ns > LOAD_HIST_MAX_NS)
    ns = LOAD_HIST_MAX_NS;
  if (ns < LOAD_HIST_SUB)
    return (size_t)ns;
  unsigned e = top_bit(ns);
  unsigned shift = e - LOAD_HIST_SUB_BITS;
  /* The LOAD_HIST_SUB_BITS bits after the leading one pick the sub-bucket. */
  size_t sub = (size_t)(ns >> shift) - LOAD_HIST_SUB;
  return LOAD_HIST_SUB + (size_t)shift * LOAD_HIST_SUB + sub;
}

uint64_t load_hist_bucket_low(size_t bucket) {
  if (bucket < LOAD_HIST_SUB)
    return bucket;
  size_t shift = (bucket - LOAD_HIST_SUB) / LOAD_HIST_SUB;
  size_t sub = (bucket - LOAD_HIST_SUB) % LOAD_HIST_SUB;
  return (uint64_t)(LOAD_HIST_SUB + sub) << shift;
}

uint64_t load_hist_bucket_high(size_t bucket) {
  if (bucket < LOAD_HIST_SUB)
    return bucket;
  size_t shift = (bucket - LOAD_HIST_SUB) / LOAD_HIST_SUB;
  return load_hist_bucket_low(bucket) + ((uint64_t)1 << shift) - 1;
}

void load_hist_record(load_hist_t *h, uint64_t ns) {
  h->counts[load_hist_bucket_of(ns)]++;
  h->total++;
  if (ns < h->min)
    h->min = ns;
  if (ns > h->max)
    h->max = ns;
  h->sum += (double)ns;
}

void load_hist_merge(load_hist_t *dst, const load_hist_t *src) {
  for (size_t i = 0; i < LOAD_HIST_BUCKETS; i++)
    dst->counts[i] += src->counts[i];
  dst->total += src->total;
  if (src->min < dst->min)
    dst->min = src->min;
  if (src->max > dst->max)
    dst->max = src->max;
  dst->sum += src->sum;
}

uint64_t load_hist_value_at_rank(const load_hist_t *h, uint64_t rank) {
  if (h->total == 0)
    return 0;
  if (rank == 0)
    rank = 1;
  uint64_t seen = 0;
  for (size_t i = 0; i < LOAD_HIST_BUCKETS; i++) {
    seen += h->counts[i];
    if (seen >= rank) {
      uint64_t low = load_hist_bucket_low(i);
      uint64_t mid = low + (load_hist_bucket_high(i) - low) / 2;
      if (mid < h->min)
        mid = h->min;
      if (mid > h->max)
        mid = h->max;
      return mid;
    }
  }
  return h->max;
}

uint64_t load_hist_percentile(const load_hist_t *h, double p) {
  if (h->total == 0)
    return 0;
  if (p <= 0.0)
    return h->min;
  if (p >= 100.0)
    return h->max;
  /* The rank is 1-based: p50 of {a, b} is a, the value half the samples
   * are at or below. */
  double want = p / 100.0 * (double)h->total;
  uint64_t rank = (uint64_t)want;
  if ((double)rank < want)
    rank++;
  return load_hist_value_at_rank(h, rank);
}

double load_hist_mean(const load_hist_t *h) {
  return h->total == 0 ? 0.0 : h->sum / (double)h->total;
}
