/* bench/sort_codec.c: what one sort request costs on a worker, split into
 * decode (sort_json_decode), sort and encode (sort_json_encode), for random
 * integers (the int32 range dnsort-load sends) and random doubles, at a few
 * sizes. Prints the median of RUNS runs of each phase in microseconds and
 * per element, and the sort's share.
 *
 * Built by bench/sort_kernel.sh with cc -O2 against sortsvc/. With
 * -DSORT_CODEC_OLD_API it builds against the API before the one-pass
 * decoder (sort_num_t arrays, sort_gnome), so that REF=<commit>
 * bench/sort_kernel.sh codec measures an older tree the same way.
 *
 *   sort_codec [RUNS [SIZE...]]      defaults: 31 runs, 1000 5000 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sort_bench.h"
#include "sort_json.h"
#include "sort_num.h"

#define MAX_SIZES 8
#define DEFAULT_RUNS 31

#ifdef SORT_CODEC_OLD_API
typedef struct {
  sort_num_t *v;
  size_t n;
} bench_nums_t;

static int bench_decode(const char *body, size_t len, bench_nums_t *out) {
  return sort_json_decode(body, len, SIZE_MAX, &out->v, &out->n, NULL, 0) ==
         SORT_JSON_OK;
}

static void bench_sort(bench_nums_t *nums) {
  sort_gnome(nums->v, nums->n, NULL);
}

static char *bench_encode(const bench_nums_t *nums, size_t *len) {
  return sort_json_encode(nums->v, nums->n, len);
}

static void bench_free(bench_nums_t *nums) {
  free(nums->v);
}
#else
typedef sort_nums_t bench_nums_t;

static int bench_decode(const char *body, size_t len, bench_nums_t *out) {
  return sort_json_decode(body, len, SIZE_MAX, out, NULL, 0) == SORT_JSON_OK;
}

static void bench_sort(bench_nums_t *nums) {
  sort_nums_sort(nums, NULL);
}

static char *bench_encode(const bench_nums_t *nums, size_t *len) {
  return sort_json_encode(nums, len);
}

static void bench_free(bench_nums_t *nums) {
  sort_nums_free(nums);
}
#endif

/* "[a, b, ...]" as json.dumps writes it: int32 values, or doubles in
 * [-1e6, 1e6) with a full 53-bit fraction, printed with 17 significant
 * digits (what a client that round-trips doubles sends). */
static char *make_body(size_t n, int doubles, uint64_t seed, size_t *len) {
  size_t cap = 2 + n * 28;
  char *out = malloc(cap);
  if (out == NULL)
    return NULL;
  size_t pos = 0;
  out[pos++] = '[';
  for (size_t i = 0; i < n; i++) {
    uint64_t r = bench_rng_next(&seed);
    const char *sep = i == 0 ? "" : ", ";
    if (doubles) {
      double d = bench_rng_double(r);
      pos += (size_t)snprintf(out + pos, cap - pos, "%s%.17g", sep, d);
    } else {
      pos += (size_t)snprintf(out + pos, cap - pos, "%s%" PRId32, sep,
                              (int32_t)(uint32_t)r);
    }
  }
  out[pos++] = ']';
  *len = pos;
  return out;
}

static int bench_one(size_t n, int doubles, int runs) {
  size_t len;
  char *body = make_body(n, doubles, 42 + n, &len);
  uint64_t *t_dec = calloc((size_t)runs, sizeof(uint64_t));
  uint64_t *t_sort = calloc((size_t)runs, sizeof(uint64_t));
  uint64_t *t_enc = calloc((size_t)runs, sizeof(uint64_t));
  int ok = body != NULL && t_dec != NULL && t_sort != NULL && t_enc != NULL;
  size_t reply_len = 0;

  for (int r = 0; ok && r < runs; r++) {
    bench_nums_t nums;
    uint64_t t0 = bench_now_ns();
    if (!bench_decode(body, len, &nums)) {
      fprintf(stderr, "sort_codec: decoding failed\n");
      ok = 0;
      break;
    }
    uint64_t t1 = bench_now_ns();
    bench_sort(&nums);
    uint64_t t2 = bench_now_ns();
    char *reply = bench_encode(&nums, &reply_len);
    uint64_t t3 = bench_now_ns();
    ok = reply != NULL;
    free(reply);
    bench_free(&nums);
    t_dec[r] = t1 - t0;
    t_sort[r] = t2 - t1;
    t_enc[r] = t3 - t2;
  }
  if (ok) {
    uint64_t d = bench_median(t_dec, runs), s = bench_median(t_sort, runs);
    uint64_t e = bench_median(t_enc, runs);
    printf("%-7s %6zu %8zu %9.1f %9.1f %9.1f %7.1f %7.1f %6.1f%%\n",
           doubles ? "double" : "int32", n, len, d / 1e3, s / 1e3, e / 1e3,
           (double)d / (double)n, (double)e / (double)n,
           100.0 * (double)s / (double)(d + s + e));
  }
  free(t_dec);
  free(t_sort);
  free(t_enc);
  free(body);
  return ok ? 0 : 1;
}

int main(int argc, char **argv) {
  int runs = argc > 1 ? atoi(argv[1]) : DEFAULT_RUNS;
  size_t sizes[MAX_SIZES] = {1000, 5000};
  int nsizes = 2;
  if (runs < 1) {
    fprintf(stderr, "usage: sort_codec [RUNS [SIZE...]]\n");
    return 2;
  }
  if (argc > 2) {
    nsizes = 0;
    for (int i = 2; i < argc && nsizes < MAX_SIZES; i++)
      sizes[nsizes++] = (size_t)strtoull(argv[i], NULL, 10);
  }
  printf("# median of %d runs; us per request phase, ns per element\n", runs);
  printf("%-7s %6s %8s %9s %9s %9s %7s %7s %7s\n", "input", "n", "bytes",
         "decode", "sort", "encode", "dec/el", "enc/el", "sort%");
  int rc = 0;
  for (int k = 0; k < 2; k++) {
    for (int i = 0; i < nsizes; i++)
      rc |= bench_one(sizes[i], k, runs);
  }
  return rc;
}
