#include "sort_frame.h"

#include <stdlib.h>
#include <string.h>

/* Request framing:
 *
 *    0                   8                          8 + length
 *   +-------------------+-----------------------------+
 *   | length (u64, BE)  | body: length bytes of JSON  |
 *   +-------------------+-----------------------------+
 */

void sort_frame_init(sort_frame_t *f, uint64_t max_body) {
  memset(f, 0, sizeof(*f));
  f->max_body = max_body;
  f->max_cap = UINT64_MAX;
  f->status = SORT_FRAME_NEED_MORE;
}

static uint64_t read_be64(const uint8_t p[SORT_FRAME_PREFIX_LEN]) {
  uint64_t v = 0;
  for (size_t i = 0; i < SORT_FRAME_PREFIX_LEN; i++)
    v = (v << 8) | p[i];
  return v;
}

/* Called once, when the eighth prefix byte arrives: the limit is checked
 * here, before the body buffer exists, so a hostile prefix costs nothing. */
static sort_frame_status_t frame_start_body(sort_frame_t *f) {
  f->body_len = read_be64(f->prefix);
  if (f->body_len == 0)
    return SORT_FRAME_EMPTY;
  /* The second test matters only where size_t is narrower than 64 bits. */
  if (f->body_len > f->max_body || f->body_len > SIZE_MAX)
    return SORT_FRAME_TOO_LARGE;
  return SORT_FRAME_NEED_MORE;
}

/* Make room for need bytes of body (need <= body_len). The buffer doubles,
 * up to the announced length, so a body sent in small pieces is copied a
 * few times in all, not once per piece; the caller's max_cap clamps the
 * doubling and refuses only what has really arrived. */
static sort_frame_status_t frame_grow(sort_frame_t *f, size_t need) {
  if (need <= f->body_cap)
    return SORT_FRAME_NEED_MORE;
  if (need > f->max_cap)
    return SORT_FRAME_NO_ROOM;
  uint64_t cap =
      f->body_cap > f->body_len / 2 ? f->body_len : 2 * (uint64_t)f->body_cap;
  if (cap < need)
    cap = need;
  if (cap > f->max_cap)
    cap = f->max_cap;
  uint8_t *body = realloc(f->body, (size_t)cap);
  if (body == NULL)
    return SORT_FRAME_NOMEM;
  f->body = body;
  f->body_cap = (size_t)cap;
  return SORT_FRAME_NEED_MORE;
}

sort_frame_status_t sort_frame_feed(sort_frame_t *f, const uint8_t *data,
                                    size_t len, size_t *consumed) {
  size_t used = 0;

  if (f->status != SORT_FRAME_NEED_MORE) {
    *consumed = 0;
    return f->status;
  }

  if (f->prefix_have < SORT_FRAME_PREFIX_LEN) {
    size_t take = SORT_FRAME_PREFIX_LEN - f->prefix_have;
    if (take > len)
      take = len;
    if (take > 0) /* data may be NULL when len is 0 */
      memcpy(f->prefix + f->prefix_have, data, take);
    f->prefix_have += take;
    used += take;
    if (f->prefix_have < SORT_FRAME_PREFIX_LEN) {
      *consumed = used;
      return SORT_FRAME_NEED_MORE;
    }
    f->status = frame_start_body(f);
    if (f->status != SORT_FRAME_NEED_MORE) {
      *consumed = used;
      return f->status;
    }
  }

  size_t want = (size_t)f->body_len - f->body_have;
  size_t take = len - used;
  if (take > want)
    take = want;
  if (take > 0) {
    f->status = frame_grow(f, f->body_have + take);
    if (f->status != SORT_FRAME_NEED_MORE) {
      *consumed = used;
      return f->status;
    }
    memcpy(f->body + f->body_have, data + used, take);
    f->body_have += take;
    used += take;
  }
  if (f->body_have == f->body_len)
    f->status = SORT_FRAME_COMPLETE;
  *consumed = used;
  return f->status;
}

uint8_t *sort_frame_take_body(sort_frame_t *f, size_t *len) {
  uint8_t *body = NULL;
  *len = 0;
  if (f->status == SORT_FRAME_COMPLETE && f->body != NULL) {
    body = f->body;
    *len = (size_t)f->body_len;
    f->body = NULL;
    f->body_cap = 0;
  }
  return body;
}

void sort_frame_free(sort_frame_t *f) {
  free(f->body);
  f->body = NULL;
  f->body_cap = 0;
}
