#include "sort_num.h"

#include <math.h>
#include <stdlib.h>
#include <time.h>

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define SORT_NUM_X86 1
#include <immintrin.h>
#else
#define SORT_NUM_X86 0
#endif

/* 2^63 as a double. It is exact, unlike INT64_MAX, which would round up to
 * this very value and make every range test off by one. */
#define TWO_POW_63 9223372036854775808.0

/* Units of work between two looks at the clock: 0.1 ms at the vectorised
 * walk's ~0.1 ns per step, about 1 ms at the mixed walk's. A clock read
 * costs some 20 ns, so this keeps it far below 0.1 % of the sort. */
#define SORT_CLOCK_WORK (UINT64_C(1) << 20)

/* ---- Numbers ----------------------------------------------------------- */

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
    return (a->v.d > b->v.d) - (a->v.d < b->v.d); /* -0.0 == 0.0 here */
  if (a->is_int)
    return cmp_int_double(a->v.i, b->v.d);
  return -cmp_int_double(b->v.i, a->v.d);
}

/* hi is the largest double <= i. (double)i rounds to nearest, so it may be
 * one double above i (or 2^63, past int64); the double below it is then
 * <= i, or it would have been the nearer one. i - hi < 2048, the widest gap
 * between doubles below 2^63, so lo is exact, and hi + lo < the next
 * double after hi: that is what makes (hi, lo) order like the values. */
sort_mixed_t sort_mixed_make(sort_num_t num) {
  sort_mixed_t m = {.hi = num.v.d, .lo = 0, .is_int = 0};
  if (!num.is_int)
    return m;
  double d = (double)num.v.i;
  if (d >= TWO_POW_63 || (int64_t)d > num.v.i)
    d = nextafter(d, -INFINITY);
  m.hi = d;
  m.lo = (uint32_t)(num.v.i - (int64_t)d);
  m.is_int = 1;
  return m;
}

sort_num_t sort_mixed_num(const sort_mixed_t *m) {
  sort_num_t num;
  num.is_int = m->is_int != 0;
  if (num.is_int)
    num.v.i = (int64_t)m->hi + (int64_t)m->lo;
  else
    num.v.d = m->hi;
  return num;
}

sort_num_t sort_nums_at(const sort_nums_t *nums, size_t i) {
  sort_num_t num = {.is_int = nums->kind == SORT_KIND_INT};
  switch (nums->kind) {
  case SORT_KIND_INT:
    num.v.i = nums->v.i[i];
    break;
  case SORT_KIND_DOUBLE:
    num.v.d = nums->v.d[i];
    break;
  case SORT_KIND_MIXED:
  default:
    num = sort_mixed_num(&nums->v.m[i]);
    break;
  }
  return num;
}

void sort_nums_free(sort_nums_t *nums) {
  free(nums->v.any);
  nums->v.any = NULL;
  nums->n = 0;
}

/* ---- Pacing: cancel, deadline, yield, between walks -------------------- */

typedef struct {
  const atomic_bool *cancel;
  const sort_ctl_t *ctl;
  uint64_t work;       /* units so far */
  uint64_t next;       /* min(next_clock, next_yield) */
  uint64_t next_clock; /* UINT64_MAX: no deadline */
  uint64_t next_yield; /* UINT64_MAX: no yield hook */
} sort_pace_t;

static uint64_t monotonic_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * UINT64_C(1000000000) + (uint64_t)ts.tv_nsec;
}

static void pace_plan(sort_pace_t *p) {
  p->next = p->next_clock < p->next_yield ? p->next_clock : p->next_yield;
}

static sort_result_t pace_start(sort_pace_t *p, const sort_ctl_t *ctl) {
  static const sort_ctl_t none = {0};
  if (ctl == NULL)
    ctl = &none;
  p->ctl = ctl;
  p->cancel = ctl->cancel;
  p->work = 0;
  p->next_clock = ctl->deadline_ns != 0 ? SORT_CLOCK_WORK : UINT64_MAX;
  p->next_yield = ctl->yield != NULL && ctl->yield_steps != 0 ? ctl->yield_steps
                                                              : UINT64_MAX;
  pace_plan(p);
  if (p->cancel != NULL &&
      atomic_load_explicit(p->cancel, memory_order_relaxed))
    return SORT_CANCELLED;
  if (ctl->deadline_ns != 0 && monotonic_ns() >= ctl->deadline_ns)
    return SORT_TIMED_OUT;
  return SORT_DONE;
}

/* Out of line: it runs once per SORT_CLOCK_WORK or yield_steps units. */
static __attribute__((noinline)) sort_result_t pace_event(sort_pace_t *p) {
  const sort_ctl_t *ctl = p->ctl;
  if (p->work >= p->next_yield) {
    ctl->yield(ctl->yield_arg);
    p->next_yield = p->work + ctl->yield_steps;
  }
  if (p->work >= p->next_clock) {
    if (monotonic_ns() >= ctl->deadline_ns)
      return SORT_TIMED_OUT;
    p->next_clock = p->work + SORT_CLOCK_WORK;
  }
  pace_plan(p);
  return SORT_DONE;
}

/* After each walk: one relaxed load and one compare on the common path. */
static inline sort_result_t pace_walk(sort_pace_t *p, size_t steps) {
  p->work += steps + 1;
  if (p->cancel != NULL &&
      atomic_load_explicit(p->cancel, memory_order_relaxed))
    return SORT_CANCELLED;
  if (p->work >= p->next)
    return pace_event(p);
  return SORT_DONE;
}

/* The sort around a walk: WALK(v, pos) inserts v[pos] into the sorted
 * v[0..pos) and returns the number of elements it passed. */
#define GNOME_SORT(WALK)                                 \
  sort_pace_t pace;                                      \
  sort_result_t r = pace_start(&pace, ctl);              \
  for (size_t pos = 1; r == SORT_DONE && pos < n; pos++) \
    r = pace_walk(&pace, WALK(v, pos));                  \
  return r

/* ---- Scalar walks ------------------------------------------------------ */

/* The walking element stays in x (a register); each element it passes
 * moves up one place, and x is stored once where the walk stops. */
#define SCALAR_WALK(NAME, TYPE, GREATER)           \
  static inline size_t NAME(TYPE *v, size_t pos) { \
    TYPE x = v[pos];                               \
    TYPE *p = v + pos;                             \
    while (p > v && GREATER(p[-1], x)) {           \
      p[0] = p[-1];                                \
      p--;                                         \
    }                                              \
    *p = x;                                        \
    return (size_t)(v + pos - p);                  \
  }

#define PLAIN_GREATER(a, b) ((a) > (b))
/* No NaN reaches here (the decoder refuses it), so > is a total order
 * that also keeps -0.0 and 0.0 equal, as sort_num_cmp does. */
#define MIXED_GREATER(a, b) \
  ((a).hi > (b).hi || ((a).hi == (b).hi && (a).lo > (b).lo))

SCALAR_WALK(walk_i64, int64_t, PLAIN_GREATER)
SCALAR_WALK(walk_f64, double, PLAIN_GREATER)
SCALAR_WALK(walk_mixed, sort_mixed_t, MIXED_GREATER)

static sort_result_t i64_scalar(int64_t *v, size_t n, const sort_ctl_t *ctl) {
  GNOME_SORT(walk_i64);
}

static sort_result_t f64_scalar(double *v, size_t n, const sort_ctl_t *ctl) {
  GNOME_SORT(walk_f64);
}

sort_result_t sort_gnome_mixed(sort_mixed_t *v, size_t n,
                               const sort_ctl_t *ctl) {
  GNOME_SORT(walk_mixed);
}

/* ---- Vectorised walks (x86-64) ----------------------------------------- */

/* The same walk, W elements per comparison: the block v[j-W..j) is
 * compared with x in one instruction; when all W are greater, the whole
 * block moves up one place with one store and the walk goes on, otherwise
 * the scalar walk finishes the last (at most W - 1) steps. The result is
 * the scalar walk's exactly: a block moves only if the scalar walk would
 * have moved each of its elements.
 *
 * Intrinsics rather than GCC vector extensions: GCC 12 turns "are all
 * lanes of this compare true" on a vector-extension type into four lane
 * extractions (measured 0.71 against 0.45 ns per step), where movemask or
 * an AVX-512 mask register answer in one instruction. Each function is
 * compiled for its ISA with the target attribute, whatever -march says,
 * and sort_walk_supported() picks at run time, so the same binary runs
 * anywhere (valgrind 3.19 reports no AVX-512, and gets AVX2). */
#if SORT_NUM_X86

#define VEC_WALK(NAME, TARGET, TYPE, W, VEC, SET1, LOAD, STORE, ALL_GREATER) \
  __attribute__((target(TARGET))) static inline size_t NAME(TYPE *v,         \
                                                            size_t pos) {    \
    TYPE x = v[pos];                                                         \
    TYPE *p = v + pos;                                                       \
    VEC xv = SET1(x);                                                        \
    while (p - v >= (W)) {                                                   \
      VEC b = LOAD((const void *)(p - (W)));                                 \
      if (!(ALL_GREATER(b, xv)))                                             \
        break;                                                               \
      STORE((void *)(p - (W) + 1), b);                                       \
      p -= (W);                                                              \
    }                                                                        \
    while (p > v && p[-1] > x) {                                             \
      p[0] = p[-1];                                                          \
      p--;                                                                   \
    }                                                                        \
    *p = x;                                                                  \
    return (size_t)(v + pos - p);                                            \
  }

#define AVX2_LOAD_I(p) _mm256_loadu_si256((const __m256i *)(p))
#define AVX2_STORE_I(p, b) _mm256_storeu_si256((__m256i *)(p), (b))
#define AVX2_ALL_GT_I(b, x) \
  (_mm256_movemask_pd(_mm256_castsi256_pd(_mm256_cmpgt_epi64((b), (x)))) == 0xf)
#define AVX2_LOAD_D(p) _mm256_loadu_pd((const double *)(p))
#define AVX2_STORE_D(p, b) _mm256_storeu_pd((double *)(p), (b))
#define AVX2_ALL_GT_D(b, x) \
  (_mm256_movemask_pd(_mm256_cmp_pd((b), (x), _CMP_GT_OQ)) == 0xf)
#define AVX512_ALL_GT_I(b, x) (_mm512_cmpgt_epi64_mask((b), (x)) == 0xff)
#define AVX512_LOAD_D(p) _mm512_loadu_pd((p))
#define AVX512_ALL_GT_D(b, x) (_mm512_cmp_pd_mask((b), (x), _CMP_GT_OQ) == 0xff)

VEC_WALK(walk_i64_avx2, "avx2", int64_t, 4, __m256i, _mm256_set1_epi64x,
         AVX2_LOAD_I, AVX2_STORE_I, AVX2_ALL_GT_I)
VEC_WALK(walk_f64_avx2, "avx2", double, 4, __m256d, _mm256_set1_pd, AVX2_LOAD_D,
         AVX2_STORE_D, AVX2_ALL_GT_D)
VEC_WALK(walk_i64_avx512, "avx512f", int64_t, 8, __m512i, _mm512_set1_epi64,
         _mm512_loadu_si512, _mm512_storeu_si512, AVX512_ALL_GT_I)
VEC_WALK(walk_f64_avx512, "avx512f", double, 8, __m512d, _mm512_set1_pd,
         AVX512_LOAD_D, _mm512_storeu_pd, AVX512_ALL_GT_D)

static __attribute__((target("avx2"))) sort_result_t i64_avx2(
    int64_t *v, size_t n, const sort_ctl_t *ctl) {
  GNOME_SORT(walk_i64_avx2);
}

static __attribute__((target("avx2"))) sort_result_t f64_avx2(
    double *v, size_t n, const sort_ctl_t *ctl) {
  GNOME_SORT(walk_f64_avx2);
}

static __attribute__((target("avx512f"))) sort_result_t i64_avx512(
    int64_t *v, size_t n, const sort_ctl_t *ctl) {
  GNOME_SORT(walk_i64_avx512);
}

static __attribute__((target("avx512f"))) sort_result_t f64_avx512(
    double *v, size_t n, const sort_ctl_t *ctl) {
  GNOME_SORT(walk_f64_avx512);
}

#endif /* SORT_NUM_X86 */

/* ---- Dispatch ---------------------------------------------------------- */

/* __builtin_cpu_supports also checks that the OS saves the wider
 * registers (XCR0), and reads what libgcc / compiler-rt set up in a
 * constructor, so it is cheap and safe from any thread. */
bool sort_walk_supported(sort_walk_t walk) {
  switch (walk) {
  case SORT_WALK_SCALAR:
    return true;
#if SORT_NUM_X86
  case SORT_WALK_AVX2:
    return __builtin_cpu_supports("avx2");
  case SORT_WALK_AVX512:
    return __builtin_cpu_supports("avx512f");
#endif
  default:
    return false;
  }
}

sort_walk_t sort_walk_best(void) {
  if (sort_walk_supported(SORT_WALK_AVX512))
    return SORT_WALK_AVX512;
  if (sort_walk_supported(SORT_WALK_AVX2))
    return SORT_WALK_AVX2;
  return SORT_WALK_SCALAR;
}

const char *sort_walk_name(sort_walk_t walk) {
  switch (walk) {
  case SORT_WALK_SCALAR:
    return "scalar";
  case SORT_WALK_AVX2:
    return "avx2";
  case SORT_WALK_AVX512:
    return "avx512";
  default:
    return "unknown";
  }
}

typedef sort_result_t (*i64_sort_fn)(int64_t *, size_t, const sort_ctl_t *);
typedef sort_result_t (*f64_sort_fn)(double *, size_t, const sort_ctl_t *);

/* Indexed by sort_walk_t. */
#if SORT_NUM_X86
_Static_assert(SORT_WALK_SCALAR == 0 && SORT_WALK_AVX2 == 1 &&
                   SORT_WALK_AVX512 == 2,
               "the tables follow sort_walk_t");
static const i64_sort_fn i64_sorts[] = {i64_scalar, i64_avx2, i64_avx512};
static const f64_sort_fn f64_sorts[] = {f64_scalar, f64_avx2, f64_avx512};
#else
static const i64_sort_fn i64_sorts[] = {i64_scalar};
static const f64_sort_fn f64_sorts[] = {f64_scalar};
#endif

static size_t walk_index(sort_walk_t walk) {
  return sort_walk_supported(walk) ? (size_t)walk : SORT_WALK_SCALAR;
}

sort_result_t sort_gnome_i64(int64_t *v, size_t n, sort_walk_t walk,
                             const sort_ctl_t *ctl) {
  return i64_sorts[walk_index(walk)](v, n, ctl);
}

sort_result_t sort_gnome_f64(double *v, size_t n, sort_walk_t walk,
                             const sort_ctl_t *ctl) {
  return f64_sorts[walk_index(walk)](v, n, ctl);
}

sort_result_t sort_nums_sort(sort_nums_t *nums, const sort_ctl_t *ctl) {
  switch (nums->kind) {
  case SORT_KIND_INT:
    return sort_gnome_i64(nums->v.i, nums->n, sort_walk_best(), ctl);
  case SORT_KIND_DOUBLE:
    return sort_gnome_f64(nums->v.d, nums->n, sort_walk_best(), ctl);
  case SORT_KIND_MIXED:
  default:
    return sort_gnome_mixed(nums->v.m, nums->n, ctl);
  }
}
