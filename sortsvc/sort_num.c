#include "sort_num.h"

/* How many comparisons the sort makes between two looks at the cancel flag.
 * A comparison costs a few nanoseconds, so this is well under a
 * millisecond, while the relaxed load stays out of the inner loop's cost. */
#define SORT_CANCEL_CHECK_MASK 4095u

/* 2^63 as a double. It is exact, unlike INT64_MAX, which would round up to
 * this very value and make every range test off by one. */
#define TWO_POW_63 9223372036854775808.0

static int cmp_int_double(int64_t i, double d) {
  /* Written so that a NaN falls into this first branch and never reaches
   * the conversion below, which would be undefined for it. Decoded numbers
   * are finite, so this only keeps a caller's bug defined. */
  if (!(d < TWO_POW_63))
    return -1;
  if (d < -TWO_POW_63)
    return 1;
  /* Now -2^63 <= d < 2^63: truncation toward zero is exact, and so is
   * d - t (both share the exponent range, no bits are lost). Comparing the
   * integer parts first and then the sign of the fraction never rounds i to
   * a double, which would merge 2^53 + 1 with 2^53. */
  int64_t t = (int64_t)d;
  if (i != t)
    return i < t ? -1 : 1;
  double frac = d - (double)t;
  if (frac > 0)
    return -1;
  if (frac < 0)
    return 1;
  return 0;
}

int sort_num_cmp(const sort_num_t *a, const sort_num_t *b) {
  if (a->is_int && b->is_int)
    return (a->v.i > b->v.i) - (a->v.i < b->v.i);
  if (!a->is_int && !b->is_int)
    return (a->v.d > b->v.d) - (a->v.d < b->v.d);  /* -0.0 == 0.0 here */
  if (a->is_int)
    return cmp_int_double(a->v.i, b->v.d);
  return -cmp_int_double(b->v.i, a->v.d);
}

static bool cancelled(const atomic_bool *cancel) {
  return cancel != NULL &&
         atomic_load_explicit(cancel, memory_order_relaxed);
}

/* The gnome walks back from `pos` swapping while its left neighbour is
 * strictly greater (equal elements never pass each other: stable), then
 * jumps straight back to pos + 1 instead of walking forward again over the
 * part it has just sorted. GREATER(a, b) is the comparison; one copy of the
 * loop per kind of array, because the exact mixed comparison costs several
 * times the plain one and gnome sort makes O(n^2) of them. */
#define GNOME_LOOP(GREATER)                                                  \
  for (size_t pos = 1; pos < n; pos++) {                                     \
    for (size_t j = pos; j > 0; j--) {                                       \
      if ((++steps & SORT_CANCEL_CHECK_MASK) == 0 && cancelled(cancel))      \
        return false;                                                        \
      if (!(GREATER(&v[j - 1], &v[j])))                                      \
        break;                                                               \
      sort_num_t tmp = v[j - 1];                                             \
      v[j - 1] = v[j];                                                       \
      v[j] = tmp;                                                            \
    }                                                                        \
  }

#define INT_GREATER(a, b) ((a)->v.i > (b)->v.i)
/* No NaN reaches here (the decoder refuses it), so > is a total order
 * that also keeps -0.0 and 0.0 equal, as sort_num_cmp does. */
#define DOUBLE_GREATER(a, b) ((a)->v.d > (b)->v.d)
#define MIXED_GREATER(a, b) (sort_num_cmp((a), (b)) > 0)

bool sort_gnome(sort_num_t *v, size_t n, const atomic_bool *cancel) {
  unsigned steps = 0;
  size_t ints = 0;

  if (cancelled(cancel))
    return false;
  for (size_t k = 0; k < n; k++)
    ints += v[k].is_int;
  if (ints == n) {
    GNOME_LOOP(INT_GREATER)
  } else if (ints == 0) {
    GNOME_LOOP(DOUBLE_GREATER)
  } else {
    GNOME_LOOP(MIXED_GREATER)
  }
  return true;
}
