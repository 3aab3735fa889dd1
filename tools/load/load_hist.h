/* load_hist: a log-bucketed latency histogram in the spirit of HdrHistogram.
 * Values are nanoseconds. Below 64 ns every value has its own bucket; above,
 * each power of two is split into 64 equal buckets, so a bucket is at most
 * 1/64 of its lower bound wide and the reported midpoint is within 0.8% of
 * any value that landed in it. The range ends at LOAD_HIST_MAX_NS (just over
 * 137 s); larger values are counted in the last bucket, and the exact
 * minimum and maximum are kept besides. Pure: no allocation, no I/O. */
#ifndef DNSORT_LOAD_HIST_H
#define DNSORT_LOAD_HIST_H

#include <stddef.h>
#include <stdint.h>

#define LOAD_HIST_SUB_BITS 6
#define LOAD_HIST_SUB (1u << LOAD_HIST_SUB_BITS)
/* Octaves 2^6 .. 2^36 ns, the last one ending at 2^37 ns = 137.4 s. */
#define LOAD_HIST_TOP_BIT 37
#define LOAD_HIST_MAX_NS ((UINT64_C(1) << LOAD_HIST_TOP_BIT) - 1)
#define LOAD_HIST_BUCKETS (LOAD_HIST_SUB + (LOAD_HIST_TOP_BIT - LOAD_HIST_SUB_BITS) * LOAD_HIST_SUB)

typedef struct {
  uint64_t counts[LOAD_HIST_BUCKETS];
  uint64_t total;
  uint64_t min; /* exact; UINT64_MAX while empty */
  uint64_t max; /* exact, even past LOAD_HIST_MAX_NS */
  double sum;   /* for the mean; a double so it cannot overflow */
} load_hist_t;

/* Empty the histogram (also the way to initialise one). */
void load_hist_reset(load_hist_t *h);

void load_hist_record(load_hist_t *h, uint64_t ns);

/* Add every value recorded in src to dst. */
void load_hist_merge(load_hist_t *dst, const load_hist_t *src);

/* The value below which p percent (0..100) of the recorded values fall:
 * the midpoint of the bucket holding the value of rank ceil(p/100 * total),
 * clamped to the exact min and max. 0 for an empty histogram; p <= 0 gives
 * the min and p >= 100 the max. */
uint64_t load_hist_percentile(const load_hist_t *h, double p);

/* The value of the given 1-based rank (1: the smallest), as a bucket
 * midpoint clamped to min and max; the max past the last rank, 0 when
 * empty. */
uint64_t load_hist_value_at_rank(const load_hist_t *h, uint64_t rank);

/* Mean of the recorded values (exact, not bucketed); 0 when empty. */
double load_hist_mean(const load_hist_t *h);

/* The bucket a value falls in, and that bucket's bounds [low, high]
 * (inclusive). Exposed for tests of the error bound. */
size_t load_hist_bucket_of(uint64_t ns);
uint64_t load_hist_bucket_low(size_t bucket);
uint64_t load_hist_bucket_high(size_t bucket);

#endif
