/* bench/sort_kernel.c: nanoseconds per step of the gnome sort kernels, on
 * random int64, random doubles and a random mix of both (the old kernel and
 * the scalar walk on order keys only) at a few sizes. A step is one element
 * passed on a walk back, so a sort of v takes exactly inversions(v) steps
 * (about n^2/4 on random input); they are counted here with a merge sort,
 * apart from the kernels. Kernels:
 *
 *   old     the kernel before the plain arrays (commit 7d7f29f), copied
 *           below: 16-byte tagged numbers, swaps, the cancel counter in the
 *           inner loop
 *   scalar  sort_gnome_i64/f64 with SORT_WALK_SCALAR: plain array, the
 *           element in a register, moves instead of swaps; for the mixed
 *           input sort_gnome_mixed on order keys
 *   avx2    4 elements per compare, the block shifted in one store
 *   avx512  8 per compare (only where the CPU has AVX-512F)
 *
 * Every run sorts a fresh copy of the same input and is checked, bit for
 * bit, against a stable merge sort. Prints the median of RUNS runs
 * (RUNS_LARGE at 20000 and above) in ms and ns per step, the fastest run,
 * and the median's speed-up over old. Built and run by
 * bench/sort_kernel.sh.
 *
 *   sort_kernel [RUNS [RUNS_LARGE [SIZE...]]]   defaults: 11 5 1000 5000 20000
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sort_bench.h"
#include "sort_num.h"

#define MAX_SIZES 8
#define LARGE_SIZE 20000

/* ---- The old kernel (sortsvc/sort_num.c at 7d7f29f), for reference ------ */

#define OLD_SORT_CANCEL_CHECK_MASK 4095u

static bool old_cancelled(const atomic_bool *cancel) {
  return cancel != NULL && atomic_load_explicit(cancel, memory_order_relaxed);
}

#define OLD_GNOME_LOOP(GREATER)                          \
  for (size_t pos = 1; pos < n; pos++) {                 \
    for (size_t j = pos; j > 0; j--) {                   \
      if ((++steps & OLD_SORT_CANCEL_CHECK_MASK) == 0 && \
          old_cancelled(cancel))                         \
        return false;                                    \
      if (!(GREATER(&v[j - 1], &v[j])))                  \
        break;                                           \
      sort_num_t tmp = v[j - 1];                         \
      v[j - 1] = v[j];                                   \
      v[j] = tmp;                                        \
    }                                                    \
  }

#define OLD_INT_GREATER(a, b) ((a)->v.i > (b)->v.i)
#define OLD_DOUBLE_GREATER(a, b) ((a)->v.d > (b)->v.d)
#define OLD_MIXED_GREATER(a, b) (sort_num_cmp((a), (b)) > 0)

static bool old_sort_gnome(sort_num_t *v, size_t n, const atomic_bool *cancel) {
  unsigned steps = 0;
  size_t ints = 0;

  if (old_cancelled(cancel))
    return false;
  for (size_t k = 0; k < n; k++)
    ints += v[k].is_int;
  if (ints == n) {
    OLD_GNOME_LOOP(OLD_INT_GREATER)
  } else if (ints == 0) {
    OLD_GNOME_LOOP(OLD_DOUBLE_GREATER)
  } else {
    OLD_GNOME_LOOP(OLD_MIXED_GREATER)
  }
  return true;
}

/* ---- Measuring ---------------------------------------------------------- */

enum { IN_INT, IN_DOUBLE, IN_MIXED, IN_COUNT };
static const char *const input_names[IN_COUNT] = {"int64", "double", "mixed"};

/* Full-range int64; doubles in [-1e6, 1e6) with a full fraction; mixed:
 * either, at random, the integers scaled into the doubles' range so that
 * the two kinds interleave. */
static sort_num_t random_num(int input, uint64_t *seed) {
  uint64_t r = bench_rng_next(seed);
  double d = bench_rng_double(r);
  sort_num_t num;
  if (input == IN_INT || (input == IN_MIXED && (r & 1))) {
    num.is_int = true;
    num.v.i = input == IN_INT ? (int64_t)r : (int64_t)d;
  } else {
    num.is_int = false;
    num.v.d = d;
  }
  return num;
}

/* Inversions (pairs i < j with v[i] > v[j]) by a stable merge sort, which
 * leaves v sorted: exactly the steps of the gnome sort, which passes each
 * such pair once, and its result. */
static uint64_t inversions(sort_num_t *v, sort_num_t *tmp, size_t n) {
  if (n < 2)
    return 0;
  size_t h = n / 2;
  uint64_t count = inversions(v, tmp, h) + inversions(v + h, tmp, n - h);
  size_t i = 0, j = h, k = 0;
  while (i < h && j < n) {
    if (sort_num_cmp(&v[j], &v[i]) < 0) {
      count += h - i;
      tmp[k++] = v[j++];
    } else {
      tmp[k++] = v[i++];
    }
  }
  while (i < h)
    tmp[k++] = v[i++];
  while (j < n)
    tmp[k++] = v[j++];
  memcpy(v, tmp, n * sizeof(*v));
  return count;
}

static bool same_num(const sort_num_t *a, const sort_num_t *b) {
  return a->is_int == b->is_int && memcmp(&a->v, &b->v, sizeof(a->v)) == 0;
}

enum { K_OLD, K_SCALAR, K_AVX2, K_AVX512, K_COUNT };
static const char *const kernel_names[K_COUNT] = {"old", "scalar", "avx2",
                                                  "avx512"};
static const sort_walk_t kernel_walks[K_COUNT] = {
    SORT_WALK_SCALAR, SORT_WALK_SCALAR, SORT_WALK_AVX2, SORT_WALK_AVX512};

/* One sort of a fresh copy of src with kernel k, in the array the kernel
 * takes; returns ns, or 0 if the result is not want. */
static uint64_t run_once(int k, int input, const sort_num_t *src,
                         const sort_num_t *want, size_t n, sort_num_t *tagged,
                         sort_mixed_t *work) {
  uint64_t t0, t1;
  if (k == K_OLD) {
    memcpy(tagged, src, n * sizeof(*tagged));
    t0 = bench_now_ns();
    old_sort_gnome(tagged, n, NULL);
    t1 = bench_now_ns();
  } else {
    /* The plain arrays overlay work, which has room for the widest. */
    int64_t *vi = (int64_t *)(void *)work;
    double *vd = (double *)(void *)work;
    for (size_t i = 0; i < n; i++) {
      if (input == IN_INT)
        vi[i] = src[i].v.i;
      else if (input == IN_DOUBLE)
        vd[i] = src[i].v.d;
      else
        work[i] = sort_mixed_make(src[i]);
    }
    t0 = bench_now_ns();
    if (input == IN_INT)
      sort_gnome_i64(vi, n, kernel_walks[k], NULL);
    else if (input == IN_DOUBLE)
      sort_gnome_f64(vd, n, kernel_walks[k], NULL);
    else
      sort_gnome_mixed(work, n, NULL);
    t1 = bench_now_ns();
    for (size_t i = 0; i < n; i++) {
      if (input == IN_MIXED)
        tagged[i] = sort_mixed_num(&work[i]);
      else
        tagged[i] = (sort_num_t){.v.i = vi[i], .is_int = input == IN_INT};
    }
  }
  for (size_t i = 0; i < n; i++) {
    if (!same_num(&tagged[i], &want[i]))
      return 0;
  }
  return t1 - t0;
}

static int bench_size(int input, size_t n, int runs) {
  sort_num_t *src = malloc(n * sizeof(*src)), *want = malloc(n * sizeof(*want));
  sort_num_t *tmp = malloc(n * sizeof(*tmp)),
             *tagged = malloc(n * sizeof(*tagged));
  sort_mixed_t *work = malloc(n * sizeof(*work));
  uint64_t *t = malloc((size_t)runs * sizeof(*t));
  if (!src || !want || !tmp || !tagged || !work || !t)
    return 1;
  uint64_t seed = 7 + n + (uint64_t)input;
  for (size_t i = 0; i < n; i++)
    src[i] = random_num(input, &seed);
  memcpy(want, src, n * sizeof(*want));
  uint64_t steps = inversions(want, tmp, n);

  double old_ms = 0;
  int rc = 0;
  for (int k = 0; k < K_COUNT; k++) {
    /* Mixed arrays have one walk, the scalar one on order keys. */
    if (!sort_walk_supported(kernel_walks[k]) ||
        (input == IN_MIXED && k > K_SCALAR))
      continue;
    for (int r = 0; r < runs; r++) {
      t[r] = run_once(k, input, src, want, n, tagged, work);
      if (t[r] == 0) {
        fprintf(stderr, "sort_kernel: %s did not sort\n", kernel_names[k]);
        rc = 1;
      }
    }
    qsort(t, (size_t)runs, sizeof(*t), bench_cmp_u64);
    double ms = (double)t[runs / 2] / 1e6;
    if (k == K_OLD)
      old_ms = ms;
    printf("%-7s %-6s %6zu %10" PRIu64 " %5d %9.3f %9.3f %8.3f %7.1fx\n",
           kernel_names[k], input_names[input], n, steps, runs, ms,
           (double)t[0] / 1e6, (double)t[runs / 2] / (double)steps,
           old_ms / ms);
  }
  free(src);
  free(want);
  free(tmp);
  free(tagged);
  free(work);
  free(t);
  return rc;
}

int main(int argc, char **argv) {
  int runs = argc > 1 ? atoi(argv[1]) : 11;
  int runs_large = argc > 2 ? atoi(argv[2]) : 5;
  size_t sizes[MAX_SIZES] = {1000, 5000, LARGE_SIZE};
  int nsizes = 3;
  if (runs < 1 || runs_large < 1) {
    fprintf(stderr, "usage: sort_kernel [RUNS [RUNS_LARGE [SIZE...]]]\n");
    return 2;
  }
  if (argc > 3) {
    nsizes = 0;
    for (int i = 3; i < argc && nsizes < MAX_SIZES; i++)
      sizes[nsizes++] = (size_t)strtoull(argv[i], NULL, 10);
  }
  printf("# best walk on this CPU: %s; median of the runs\n",
         sort_walk_name(sort_walk_best()));
  printf("%-7s %-6s %6s %10s %5s %9s %9s %8s %8s\n", "kernel", "input", "n",
         "steps", "runs", "ms", "min ms", "ns/step", "vs old");
  int rc = 0;
  for (int input = 0; input < IN_COUNT; input++) {
    for (int i = 0; i < nsizes; i++)
      rc |= bench_size(input, sizes[i],
                       sizes[i] >= LARGE_SIZE ? runs_large : runs);
  }
  return rc;
}
