/* sort_num: the numbers the sort service handles, and the gnome sort.
 * JSON integers that fit in int64 are kept exactly (a double would round
 * them past 2^53); every other number is a finite double. A request's
 * numbers are held in the narrowest array that keeps them exact: int64_t[]
 * when all are integers, double[] when none is, and only for a mix an
 * array of exact order keys (sort_mixed_t). */
#ifndef DNSORT_SORT_NUM_H
#define DNSORT_SORT_NUM_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* One number, tagged with its kind. */
typedef struct {
  union {
    int64_t i;
    double d;
  } v;
  bool is_int;
} sort_num_t;

/* <0, 0, >0 by exact numeric value (an int64 and a double are compared
 * without rounding either). -0.0 == 0 == 0.0. */
int sort_num_cmp(const sort_num_t *a, const sort_num_t *b);

/* An element of a mixed array: an order key computed once, so that the
 * sort compares two fields instead of running sort_num_cmp. hi is the
 * number rounded down to a double (a double is its own hi) and lo what an
 * integer adds to it (0 <= lo < 2048, exact); (hi, lo) in lexicographic
 * order is the exact numeric order. is_int only says how to print it. */
typedef struct {
  double hi;
  uint32_t lo;
  uint32_t is_int;
} sort_mixed_t;

sort_mixed_t sort_mixed_make(sort_num_t num);
sort_num_t sort_mixed_num(const sort_mixed_t *m);

typedef enum {
  SORT_KIND_INT = 0, /* v.i: int64_t[n] */
  SORT_KIND_DOUBLE,  /* v.d: double[n], finite, never NaN */
  SORT_KIND_MIXED,   /* v.m: sort_mixed_t[n] */
} sort_kind_t;

/* A request's numbers. v is malloc'd (NULL when n == 0) and owned by the
 * struct: sort_nums_free releases it. */
typedef struct {
  sort_kind_t kind;
  size_t n;
  union {
    void *any;
    int64_t *i;
    double *d;
    sort_mixed_t *m;
  } v;
} sort_nums_t;

/* Element i as a tagged number. */
sort_num_t sort_nums_at(const sort_nums_t *nums, size_t i);
void sort_nums_free(sort_nums_t *nums);

/* What a running sort obeys. Every field may be left 0 (a NULL ctl is
 * the same as all zeros): no cancel flag, no deadline, no yield. The
 * checks run between walks (one walk inserts one element, and passes at
 * most n - 1 others), never inside one. */
typedef struct {
  /* Read once per walk; the sort stops soon after it becomes true. */
  const atomic_bool *cancel;
  /* CLOCK_MONOTONIC time in ns after which the sort gives up; 0 = none.
   * The clock is read about every 2^20 units of work (0.1 to 1 ms). */
  uint64_t deadline_ns;
  /* yield(yield_arg) is called each time about yield_steps units of work
   * have passed since the last call; 0 or a NULL yield = never. */
  uint64_t yield_steps;
  void (*yield)(void *arg);
  void *yield_arg;
} sort_ctl_t;

/* A unit of work is one step (one element passed on the walk back) plus
 * one per walk, so that input that is already sorted, whose walks pass
 * nothing, still counts. */

typedef enum {
  SORT_DONE = 0,  /* sorted */
  SORT_CANCELLED, /* *cancel was set */
  SORT_TIMED_OUT, /* the deadline passed */
} sort_result_t;

/* How a walk compares: one element at a time, or several per instruction
 * (x86-64 AVX2: 4, AVX-512F: 8) with the block shifted in one move. All
 * give the same result. */
typedef enum {
  SORT_WALK_SCALAR = 0,
  SORT_WALK_AVX2,
  SORT_WALK_AVX512,
} sort_walk_t;

bool sort_walk_supported(sort_walk_t walk);
/* The widest walk this CPU (and OS) runs; what sort_nums_sort uses. */
sort_walk_t sort_walk_best(void);
const char *sort_walk_name(sort_walk_t walk);

/* Gnome sort, the variant that remembers its position: element pos walks
 * back while its left neighbour is strictly greater (so equal elements
 * keep their order: stable), the elements it passes each move up one
 * place, and the next walk starts at pos + 1. An unsupported walk falls
 * back to SORT_WALK_SCALAR. On CANCELLED and TIMED_OUT, v holds a
 * permutation of its input. */
sort_result_t sort_gnome_i64(int64_t *v, size_t n, sort_walk_t walk,
                             const sort_ctl_t *ctl);
sort_result_t sort_gnome_f64(double *v, size_t n, sort_walk_t walk,
                             const sort_ctl_t *ctl);
sort_result_t sort_gnome_mixed(sort_mixed_t *v, size_t n,
                               const sort_ctl_t *ctl);

/* Sorts nums with the best walk for its kind. */
sort_result_t sort_nums_sort(sort_nums_t *nums, const sort_ctl_t *ctl);

#endif
