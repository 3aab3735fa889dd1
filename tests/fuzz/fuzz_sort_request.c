/* libFuzzer target for the sort service's request path without sockets:
 * the frame reader (fed in chunks whose size the input picks, and again
 * under a memory bound of half the input), then
 * sort_job_run (decode, gnome sort, encode). Checked on every input:
 * - the decoder's verdict (status, message, numbers) is the one of the
 *   cJSON-based decoder it replaced (../sort_json_ref.h);
 * - every vectorised walk this CPU runs sorts the decoded numbers exactly
 *   as the scalar walk does, bit for bit;
 * - the reply is either one {"error": "..."} object or the input's numbers,
 *   sorted: a stable sorted permutation, checked against an independent
 *   merge sort, that re-encodes to itself, with every double written as
 *   Python's repr writes it (stated with glibc's printf and strtod in
 *   ../sort_json_ref.h). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../sort_json_ref.h"
#include "sort_frame.h"
#include "sort_job.h"
#include "sort_json.h"
#include "sort_num.h"

/* Small enough that quadratic gnome sort keeps the fuzzer fast. */
#define FUZZ_MAX_BODY 4096
#define FUZZ_MAX_ELEMENTS 512
#define FUZZ_ERR_LEN 160

#define CHECK(cond)                                              \
  do {                                                           \
    if (!(cond)) {                                               \
      fprintf(stderr, "fuzz_sort_request: %s failed at line %d\n", #cond, \
              __LINE__);                                         \
      abort();                                                   \
    }                                                            \
  } while (0)

static void merge_sort(sort_num_t *v, sort_num_t *tmp, size_t n) {
  if (n < 2)
    return;
  size_t h = n / 2;
  merge_sort(v, tmp, h);
  merge_sort(v + h, tmp, n - h);
  size_t i = 0, j = h, k = 0;
  while (i < h && j < n)
    tmp[k++] = sort_num_cmp(&v[j], &v[i]) < 0 ? v[j++] : v[i++];
  while (i < h)
    tmp[k++] = v[i++];
  while (j < n)
    tmp[k++] = v[j++];
  memcpy(v, tmp, n * sizeof(*v));
}

static bool same_number(const sort_num_t *a, const sort_num_t *b) {
  if (a->is_int != b->is_int)
    return false;
  if (a->is_int)
    return a->v.i == b->v.i;
  return memcmp(&a->v.d, &b->v.d, sizeof(double)) == 0;
}

/* The decoder against the one it replaced: same status, same message, and
 * on success the same numbers in an array of the narrowest kind. */
static void check_verdict(const char *body, size_t len, size_t max) {
  char err[FUZZ_ERR_LEN], ref_err[FUZZ_ERR_LEN];
  sort_nums_t nums;
  sort_num_t *ref = NULL;
  size_t ref_n = 0;
  sort_json_status_t st =
      sort_json_decode(body, len, max, &nums, err, sizeof(err));
  sort_json_status_t ref_st =
      ref_sort_json_decode(body, len, max, &ref, &ref_n, ref_err,
                           sizeof(ref_err));
  if (st == SORT_JSON_NOMEM || ref_st == SORT_JSON_NOMEM) {
    sort_nums_free(&nums);
    free(ref);
    return;
  }
  if (st != ref_st || strcmp(err, ref_err) != 0) {
    fprintf(stderr, "fuzz_sort_request: limit %zu: %d \"%s\", before: %d "
            "\"%s\"\n", max, (int)st, err, (int)ref_st, ref_err);
    abort();
  }
  if (st == SORT_JSON_OK) {
    size_t ints = 0;
    CHECK(nums.n == ref_n);
    for (size_t i = 0; i < ref_n; i++) {
      sort_num_t got = sort_nums_at(&nums, i);
      CHECK(same_number(&got, &ref[i]));
      ints += got.is_int;
    }
    CHECK(nums.kind == (ints == ref_n  ? SORT_KIND_INT
                        : ints == 0    ? SORT_KIND_DOUBLE
                                       : SORT_KIND_MIXED));
  }
  sort_nums_free(&nums);
  free(ref);
}

/* Every walk this CPU has, against the scalar one, on the same numbers. */
static void check_walks(const sort_nums_t *nums) {
  static const sort_walk_t walks[] = {SORT_WALK_AVX2, SORT_WALK_AVX512};
  size_t n = nums->n, size = n * sizeof(int64_t);
  if (n == 0 || nums->kind == SORT_KIND_MIXED)
    return;
  void *want = malloc(size), *got = malloc(size);
  CHECK(want != NULL && got != NULL);
  memcpy(want, nums->v.any, size);
  if (nums->kind == SORT_KIND_INT)
    CHECK(sort_gnome_i64(want, n, SORT_WALK_SCALAR, NULL) == SORT_DONE);
  else
    CHECK(sort_gnome_f64(want, n, SORT_WALK_SCALAR, NULL) == SORT_DONE);
  for (size_t w = 0; w < sizeof(walks) / sizeof(walks[0]); w++) {
    if (!sort_walk_supported(walks[w]))
      continue;
    memcpy(got, nums->v.any, size);
    if (nums->kind == SORT_KIND_INT)
      CHECK(sort_gnome_i64(got, n, walks[w], NULL) == SORT_DONE);
    else
      CHECK(sort_gnome_f64(got, n, walks[w], NULL) == SORT_DONE);
    CHECK(memcmp(want, got, size) == 0);
  }
  free(want);
  free(got);
}

static void check_reply(const char *body, size_t len, size_t max,
                        const char *reply, size_t reply_len,
                        sort_job_status_t st) {
  static const char error_prefix[] = "{\"error\": \"";
  sort_nums_t in;
  if (st == SORT_JOB_BAD_INPUT) {
    CHECK(reply_len > sizeof(error_prefix) &&
          memcmp(reply, error_prefix, sizeof(error_prefix) - 1) == 0);
    CHECK(memcmp(reply + reply_len - 2, "\"}", 2) == 0);
    CHECK(memchr(reply, '\n', reply_len) == NULL);
    /* A body the decoder refuses is refused by the job too. */
    CHECK(sort_json_decode(body, len, max, &in, NULL, 0) != SORT_JSON_OK);
    return;
  }
  CHECK(st == SORT_JOB_OK);

  sort_nums_t out;
  CHECK(sort_json_decode(body, len, max, &in, NULL, 0) == SORT_JSON_OK);
  CHECK(sort_json_decode(reply, reply_len, SIZE_MAX, &out, NULL, 0) ==
        SORT_JSON_OK);
  CHECK(in.n == out.n);
  check_walks(&in);
  if (in.n > 0) {
    sort_num_t *want = malloc(in.n * sizeof(*want));
    sort_num_t *tmp = malloc(in.n * sizeof(*tmp));
    CHECK(want != NULL && tmp != NULL);
    for (size_t i = 0; i < in.n; i++)
      want[i] = sort_nums_at(&in, i);
    merge_sort(want, tmp, in.n);
    for (size_t i = 0; i < in.n; i++) {
      sort_num_t got = sort_nums_at(&out, i);
      CHECK(same_number(&want[i], &got));
    }
    free(want);
    free(tmp);
  }
  /* Each double is written as Python's repr writes it: the fewest digits
   * that read back, the nearest of those. */
  size_t start = 1;
  for (size_t i = 0; i < out.n; i++) {
    size_t end = start;
    while (end < reply_len && reply[end] != ',' && reply[end] != ']')
      end++;
    sort_num_t got = sort_nums_at(&out, i);
    if (!got.is_int)
      CHECK(ref_is_shortest_repr(reply + start, end - start, got.v.d));
    start = end + 2;  /* past ", " */
  }
  /* Encoding is canonical: the reply re-encodes to itself. */
  size_t again_len = 0;
  char *again = sort_json_encode(&out, &again_len);
  CHECK(again != NULL && again_len == reply_len &&
        memcmp(again, reply, reply_len) == 0);
  free(again);
  sort_nums_free(&in);
  sort_nums_free(&out);
}

/* Feed the stream to the frame reader in reads of chunk bytes until it
 * stops asking for more. On every read: the input is taken whole unless
 * the frame ended; the body's buffer holds what arrived, at most twice
 * that, within the announced length and max_cap; NO_ROOM comes only from
 * max_cap. */
static sort_frame_status_t feed_all(sort_frame_t *f, const uint8_t *data, size_t size,
                                    size_t chunk) {
  sort_frame_status_t st = SORT_FRAME_NEED_MORE;
  size_t pos = 0;
  while (pos < size && st == SORT_FRAME_NEED_MORE) {
    size_t n = size - pos < chunk ? size - pos : chunk;
    size_t used = 0;
    st = sort_frame_feed(f, data + pos, n, &used);
    CHECK(used <= n);
    CHECK(st == SORT_FRAME_NEED_MORE ? used == n : true);
    CHECK(f->body_cap >= f->body_have && f->body_cap <= f->max_cap);
    CHECK(f->body_cap <= f->body_len || f->body_cap == 0);
    CHECK(f->body_cap <= 2 * f->body_have || f->body_have == 0);
    if (st == SORT_FRAME_NO_ROOM)
      CHECK(f->body_have + n - used > f->max_cap);
    pos += used;
  }
  return st;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  /* The element limits the first byte's high half picks: mostly the
   * fuzzer's own, and the edges 0, 1 and 3. */
  static const size_t limits[16] = {FUZZ_MAX_ELEMENTS, 0, 1, 3,
                                    FUZZ_MAX_ELEMENTS, FUZZ_MAX_ELEMENTS,
                                    FUZZ_MAX_ELEMENTS, FUZZ_MAX_ELEMENTS,
                                    FUZZ_MAX_ELEMENTS, FUZZ_MAX_ELEMENTS,
                                    FUZZ_MAX_ELEMENTS, FUZZ_MAX_ELEMENTS,
                                    FUZZ_MAX_ELEMENTS, FUZZ_MAX_ELEMENTS,
                                    FUZZ_MAX_ELEMENTS, FUZZ_MAX_ELEMENTS};
  if (size < 1)
    return 0;
  /* The first byte's low half picks how the stream is cut: 1..16 bytes a
   * read. */
  size_t chunk = (size_t)(data[0] % 16) + 1;
  size_t max = limits[data[0] >> 4];
  data++;
  size--;

  sort_frame_t frame;
  /* First under a memory bound of half the input, for NO_ROOM. */
  sort_frame_init(&frame, FUZZ_MAX_BODY);
  frame.max_cap = size / 2;
  feed_all(&frame, data, size, chunk);
  sort_frame_free(&frame);

  sort_frame_init(&frame, FUZZ_MAX_BODY);
  sort_frame_status_t st = feed_all(&frame, data, size, chunk);
  if (st == SORT_FRAME_TOO_LARGE)
    CHECK(frame.body_len > FUZZ_MAX_BODY);
  if (st != SORT_FRAME_COMPLETE) {
    sort_frame_free(&frame);
    return 0;
  }
  size_t len = 0;
  char *body = (char *)sort_frame_take_body(&frame, &len);
  CHECK(len == frame.body_len && len <= FUZZ_MAX_BODY);
  sort_frame_free(&frame);

  check_verdict(body, len, max);
  sort_job_limits_t job_limits = {.max_elements = max};
  char *reply = NULL;
  size_t reply_len = 0;
  sort_job_status_t js =
      sort_job_run(body, len, &job_limits, NULL, &reply, &reply_len);
  if (js != SORT_JOB_NOMEM)
    check_reply(body, len, max, reply, reply_len, js);
  free(reply);
  free(body);
  return 0;
}
