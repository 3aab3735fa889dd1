/* libFuzzer target for the sort service's request path without sockets:
 * the frame reader (fed in chunks whose size the input picks, under a
 * memory bound it picks too), then
 * sort_job_run (decode, gnome sort, encode). The reply must be either one
 * {"error": "..."} object or the input's numbers, sorted: a stable sorted
 * permutation, checked against an independent merge sort. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sort_frame.h"
#include "sort_job.h"
#include "sort_json.h"
#include "sort_num.h"

/* Small enough that quadratic gnome sort keeps the fuzzer fast. */
#define FUZZ_MAX_BODY 4096
#define FUZZ_MAX_ELEMENTS 512

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

static void check_reply(const char *body, size_t len, const char *reply,
                        size_t reply_len, sort_job_status_t st) {
  static const char error_prefix[] = "{\"error\": \"";
  if (st == SORT_JOB_BAD_INPUT) {
    CHECK(reply_len > sizeof(error_prefix) &&
          memcmp(reply, error_prefix, sizeof(error_prefix) - 1) == 0);
    CHECK(memcmp(reply + reply_len - 2, "\"}", 2) == 0);
    CHECK(memchr(reply, '\n', reply_len) == NULL);
    /* A body the decoder refuses is refused by the job too. */
    sort_num_t *in = NULL;
    size_t n = 0;
    CHECK(sort_json_decode(body, len, FUZZ_MAX_ELEMENTS, &in, &n, NULL, 0) !=
          SORT_JSON_OK);
    return;
  }
  CHECK(st == SORT_JOB_OK);

  sort_num_t *in = NULL, *out = NULL, *tmp = NULL;
  size_t n_in = 0, n_out = 0;
  CHECK(sort_json_decode(body, len, FUZZ_MAX_ELEMENTS, &in, &n_in, NULL, 0) ==
        SORT_JSON_OK);
  CHECK(sort_json_decode(reply, reply_len, SIZE_MAX, &out, &n_out, NULL, 0) ==
        SORT_JSON_OK);
  CHECK(n_in == n_out);
  if (n_in > 0) {
    tmp = malloc(n_in * sizeof(*tmp));
    CHECK(tmp != NULL);
    merge_sort(in, tmp, n_in);
    for (size_t i = 0; i < n_in; i++)
      CHECK(same_number(&in[i], &out[i]));
  }
  /* Encoding is canonical: the reply re-encodes to itself. */
  size_t again_len = 0;
  char *again = sort_json_encode(out, n_out, &again_len);
  CHECK(again != NULL && again_len == reply_len &&
        memcmp(again, reply, reply_len) == 0);
  free(again);
  free(tmp);
  free(in);
  free(out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1)
    return 0;
  /* The first byte picks how the stream is cut: 1..16 bytes a read; its
   * high half, the body's memory bound (max_cap), 0 for none. */
  size_t chunk = (size_t)(data[0] % 16) + 1;
  uint64_t cap = (uint64_t)(data[0] >> 4) * 256;
  data++;
  size--;

  sort_frame_t frame;
  sort_frame_init(&frame, FUZZ_MAX_BODY);
  if (cap != 0)
    frame.max_cap = cap;
  sort_frame_status_t st = SORT_FRAME_NEED_MORE;
  size_t pos = 0;
  while (pos < size && st == SORT_FRAME_NEED_MORE) {
    size_t n = size - pos < chunk ? size - pos : chunk;
    size_t used = 0;
    st = sort_frame_feed(&frame, data + pos, n, &used);
    CHECK(used <= n);
    CHECK(st == SORT_FRAME_NEED_MORE ? used == n : true);
    /* The buffer holds what arrived, within the announced length and the
     * bound, and at most twice what arrived. */
    CHECK(frame.body_cap >= frame.body_have && frame.body_cap <= frame.max_cap);
    CHECK(frame.body_cap <= frame.body_len || frame.body_cap == 0);
    CHECK(frame.body_cap <= 2 * frame.body_have || frame.body_have == 0);
    pos += used;
  }
  if (st == SORT_FRAME_NO_ROOM)
    CHECK(cap != 0 && frame.body_have + chunk > cap);
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

  sort_job_limits_t limits = {.max_elements = FUZZ_MAX_ELEMENTS};
  char *reply = NULL;
  size_t reply_len = 0;
  sort_job_status_t js = sort_job_run(body, len, &limits, NULL, &reply, &reply_len);
  if (js != SORT_JOB_NOMEM)
    check_reply(body, len, reply, reply_len, js);
  free(reply);
  free(body);
  return 0;
}
