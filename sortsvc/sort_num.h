/* sort_num: the numbers the sort service handles. JSON integers that fit in
 * int64 are kept exactly (cJSON alone would round them to a double); every
 * other number is a finite double. Comparison is by exact numeric value
 * across both kinds. */
#ifndef DNSORT_SORT_NUM_H
#define DNSORT_SORT_NUM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdatomic.h>

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

/* Gnome sort (the variant that remembers its position), stable. Checks
 * *cancel (when not NULL) every few thousand steps and returns false if it
 * was set, leaving v in some permutation of its input; true when sorted. */
bool sort_gnome(sort_num_t *v, size_t n, const atomic_bool *cancel);

#endif
