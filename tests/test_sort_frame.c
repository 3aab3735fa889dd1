/* sort_frame: the 8-byte big-endian length prefix and the body, fed in any
 * pieces. */
#include "test_util.h"

#include <stdlib.h>

#include "sort_frame.h"

#define LIMIT 64

/* Length 9, then the body "[3, 1, 2]", then three bytes of whatever
 * follows on the wire. */
static const uint8_t request[] = {
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x09,  /* length = 9 */
    '[',  '3',  ',',  ' ',  '1',  ',',  ' ',  '2',  ']',
    'x',  'y',  'z',                                 /* not ours */
};
#define BODY "[3, 1, 2]"
#define FRAME_LEN (SORT_FRAME_PREFIX_LEN + sizeof(BODY) - 1)

static void put_be64(uint8_t p[8], uint64_t v) {
  for (int i = 7; i >= 0; i--) {
    p[i] = (uint8_t)(v & 0xff);
    v >>= 8;
  }
}

static void assert_body_is_request(sort_frame_t *f) {
  size_t len = 99;
  uint8_t *body = sort_frame_take_body(f, &len);
  assert_non_null(body);
  assert_int_equal(len, sizeof(BODY) - 1);
  assert_memory_equal(body, BODY, len);
  free(body);
}

static void test_whole_frame_at_once_leaves_later_bytes_unconsumed(void **state) {
  (void)state;
  sort_frame_t f;
  size_t used;
  sort_frame_init(&f, LIMIT);
  assert_int_equal(sort_frame_feed(&f, request, sizeof(request), &used),
                   SORT_FRAME_COMPLETE);
  assert_int_equal(used, FRAME_LEN);
  assert_int_equal(f.body_len, 9);
  assert_body_is_request(&f);
  sort_frame_free(&f);
}

static void test_exact_length_completes_without_extra_bytes(void **state) {
  (void)state;
  sort_frame_t f;
  size_t used;
  sort_frame_init(&f, LIMIT);
  assert_int_equal(sort_frame_feed(&f, request, FRAME_LEN, &used),
                   SORT_FRAME_COMPLETE);
  assert_int_equal(used, FRAME_LEN);
  assert_body_is_request(&f);
  sort_frame_free(&f);
}

static void test_one_byte_at_a_time_completes_on_the_last_byte(void **state) {
  (void)state;
  sort_frame_t f;
  size_t used;
  sort_frame_init(&f, LIMIT);
  for (size_t i = 0; i < FRAME_LEN - 1; i++) {
    assert_int_equal(sort_frame_feed(&f, request + i, 1, &used),
                     SORT_FRAME_NEED_MORE);
    assert_int_equal(used, 1);
    if (i < SORT_FRAME_PREFIX_LEN)
      assert_int_equal(f.prefix_have, i + 1);
    else
      assert_int_equal(f.body_have, i + 1 - SORT_FRAME_PREFIX_LEN);
  }
  assert_int_equal(sort_frame_feed(&f, request + FRAME_LEN - 1, 1, &used),
                   SORT_FRAME_COMPLETE);
  assert_int_equal(used, 1);
  /* The next byte belongs to someone else. */
  assert_int_equal(sort_frame_feed(&f, request + FRAME_LEN, 1, &used),
                   SORT_FRAME_COMPLETE);
  assert_int_equal(used, 0);
  assert_body_is_request(&f);
  sort_frame_free(&f);
}

static void test_every_two_way_split_gives_the_same_body(void **state) {
  (void)state;
  for (size_t split = 0; split <= sizeof(request); split++) {
    sort_frame_t f;
    size_t used1, used2;
    sort_frame_init(&f, LIMIT);
    sort_frame_status_t st = sort_frame_feed(&f, request, split, &used1);
    if (split < FRAME_LEN) {
      assert_int_equal(st, SORT_FRAME_NEED_MORE);
      assert_int_equal(used1, split);
    } else {
      assert_int_equal(st, SORT_FRAME_COMPLETE);
      assert_int_equal(used1, FRAME_LEN);
    }
    st = sort_frame_feed(&f, request + split, sizeof(request) - split, &used2);
    assert_int_equal(st, SORT_FRAME_COMPLETE);
    assert_int_equal(used1 + used2, FRAME_LEN);
    assert_body_is_request(&f);
    sort_frame_free(&f);
  }
}

static void test_zero_length_prefix_is_empty(void **state) {
  (void)state;
  uint8_t buf[12] = {0, 0, 0, 0, 0, 0, 0, 0, '[', ']', 0, 0};
  sort_frame_t f;
  size_t used, len;
  sort_frame_init(&f, LIMIT);
  assert_int_equal(sort_frame_feed(&f, buf, sizeof(buf), &used),
                   SORT_FRAME_EMPTY);
  assert_int_equal(used, SORT_FRAME_PREFIX_LEN);
  assert_null(f.body);
  assert_null(sort_frame_take_body(&f, &len));
  assert_int_equal(len, 0);
  /* Terminal: asked again, same answer, nothing taken. */
  assert_int_equal(sort_frame_feed(&f, buf, sizeof(buf), &used),
                   SORT_FRAME_EMPTY);
  assert_int_equal(used, 0);
  sort_frame_free(&f);
}

static void expect_too_large(uint64_t max, uint64_t announced) {
  uint8_t buf[SORT_FRAME_PREFIX_LEN + 4] = {0};
  sort_frame_t f;
  size_t used;
  put_be64(buf, announced);
  sort_frame_init(&f, max);
  assert_int_equal(sort_frame_feed(&f, buf, sizeof(buf), &used),
                   SORT_FRAME_TOO_LARGE);
  assert_int_equal(used, SORT_FRAME_PREFIX_LEN);
  assert_int_equal(f.body_len, announced);  /* for the error message */
  assert_null(f.body);
  sort_frame_free(&f);
}

static void test_prefix_over_the_limit_is_refused_before_any_body(void **state) {
  (void)state;
  expect_too_large(LIMIT, LIMIT + 1);
  expect_too_large(LIMIT, UINT64_C(1) << 63);
  expect_too_large(LIMIT, UINT64_MAX);
  /* Even with no limit to speak of, 2^63 cannot fit in memory. */
  expect_too_large(UINT64_MAX - 1, UINT64_MAX);
}

static void test_too_large_is_known_on_the_eighth_byte(void **state) {
  (void)state;
  uint8_t buf[SORT_FRAME_PREFIX_LEN];
  sort_frame_t f;
  size_t used;
  put_be64(buf, UINT64_C(1) << 63);
  sort_frame_init(&f, LIMIT);
  for (size_t i = 0; i < SORT_FRAME_PREFIX_LEN - 1; i++)
    assert_int_equal(sort_frame_feed(&f, buf + i, 1, &used),
                     SORT_FRAME_NEED_MORE);
  assert_int_equal(sort_frame_feed(&f, buf + 7, 1, &used),
                   SORT_FRAME_TOO_LARGE);
  assert_int_equal(used, 1);
  assert_null(f.body);
  sort_frame_free(&f);
}

static void test_prefix_exactly_at_the_limit_is_accepted(void **state) {
  (void)state;
  uint8_t buf[SORT_FRAME_PREFIX_LEN + LIMIT];
  sort_frame_t f;
  size_t used, len;
  put_be64(buf, LIMIT);
  memset(buf + SORT_FRAME_PREFIX_LEN, '7', LIMIT);
  sort_frame_init(&f, LIMIT);
  assert_int_equal(sort_frame_feed(&f, buf, SORT_FRAME_PREFIX_LEN, &used),
                   SORT_FRAME_NEED_MORE);
  /* The length alone takes no memory: only bytes that arrive do. */
  assert_null(f.body);
  assert_int_equal(f.body_cap, 0);
  assert_int_equal(sort_frame_feed(&f, buf + SORT_FRAME_PREFIX_LEN, LIMIT,
                                   &used),
                   SORT_FRAME_COMPLETE);
  assert_int_equal(used, LIMIT);
  uint8_t *body = sort_frame_take_body(&f, &len);
  assert_int_equal(len, LIMIT);
  assert_memory_equal(body, buf + SORT_FRAME_PREFIX_LEN, LIMIT);
  free(body);
  sort_frame_free(&f);
}

static void test_feeding_nothing_changes_nothing(void **state) {
  (void)state;
  sort_frame_t f;
  size_t used = 99;
  sort_frame_init(&f, LIMIT);
  assert_int_equal(sort_frame_feed(&f, NULL, 0, &used), SORT_FRAME_NEED_MORE);
  assert_int_equal(used, 0);
  assert_int_equal(sort_frame_feed(&f, request, SORT_FRAME_PREFIX_LEN, &used),
                   SORT_FRAME_NEED_MORE);
  assert_int_equal(sort_frame_feed(&f, NULL, 0, &used), SORT_FRAME_NEED_MORE);
  assert_int_equal(used, 0);
  sort_frame_free(&f);
}

static void test_body_is_taken_once_and_free_is_idempotent(void **state) {
  (void)state;
  sort_frame_t f;
  size_t used, len;
  sort_frame_init(&f, LIMIT);
  assert_int_equal(sort_frame_feed(&f, request, FRAME_LEN, &used),
                   SORT_FRAME_COMPLETE);
  assert_body_is_request(&f);
  assert_null(sort_frame_take_body(&f, &len));
  assert_int_equal(len, 0);
  sort_frame_free(&f);
  sort_frame_free(&f);
}

static void test_free_releases_a_partial_body(void **state) {
  (void)state;
  sort_frame_t f;
  size_t used, len;
  sort_frame_init(&f, LIMIT);
  assert_int_equal(sort_frame_feed(&f, request, FRAME_LEN - 1, &used),
                   SORT_FRAME_NEED_MORE);
  assert_null(sort_frame_take_body(&f, &len));  /* not complete yet */
  sort_frame_free(&f);  /* valgrind/ASan check that nothing leaks */
  sort_frame_free(&f);
}

/* A body announced as 1000 bytes and sent in pieces of 10: the buffer
 * follows what has arrived (doubling, never past the announced length)
 * and is exactly the body once complete. */
static void test_buffer_grows_with_the_bytes_received(void **state) {
  (void)state;
  enum { LEN = 1000, PIECE = 10 };
  uint8_t buf[SORT_FRAME_PREFIX_LEN + LEN];
  sort_frame_t f;
  size_t used, len;
  put_be64(buf, LEN);
  memset(buf + SORT_FRAME_PREFIX_LEN, '1', LEN);
  sort_frame_init(&f, LEN);
  assert_int_equal(sort_frame_feed(&f, buf, SORT_FRAME_PREFIX_LEN, &used), SORT_FRAME_NEED_MORE);
  size_t grows = 0, last_cap = 0;
  for (size_t off = 0; off < LEN; off += PIECE) {
    sort_frame_status_t st = sort_frame_feed(&f, buf + SORT_FRAME_PREFIX_LEN + off, PIECE, &used);
    assert_int_equal(st, off + PIECE == LEN ? SORT_FRAME_COMPLETE : SORT_FRAME_NEED_MORE);
    assert_true(f.body_cap >= f.body_have);
    assert_true(f.body_cap <= 2 * f.body_have);
    assert_true(f.body_cap <= LEN);
    grows += f.body_cap != last_cap;
    last_cap = f.body_cap;
  }
  assert_int_equal(f.body_cap, LEN);
  assert_true(grows <= 8);  /* 10, 20, 40, ..., 640, 1000 */
  uint8_t *body = sort_frame_take_body(&f, &len);
  assert_int_equal(len, LEN);
  assert_int_equal(f.body_cap, 0);  /* the caller owns it now */
  assert_memory_equal(body, buf + SORT_FRAME_PREFIX_LEN, LEN);
  free(body);
  sort_frame_free(&f);
}

/* max_cap is the caller's share of memory: a growth is clamped to it, and
 * refused only when the bytes received would not fit. */
static void test_max_cap_at_and_past_the_edge(void **state) {
  (void)state;
  enum { LEN = 100 };
  uint8_t buf[SORT_FRAME_PREFIX_LEN + LEN];
  sort_frame_t f;
  size_t used;
  put_be64(buf, LEN);
  memset(buf + SORT_FRAME_PREFIX_LEN, '2', LEN);
  sort_frame_init(&f, LEN);
  f.max_cap = 60;
  assert_int_equal(sort_frame_feed(&f, buf, SORT_FRAME_PREFIX_LEN + 40, &used), SORT_FRAME_NEED_MORE);
  assert_int_equal(f.body_cap, 40);
  /* 40 + 20 = 60: doubling would ask for 80, the clamp gives 60. */
  assert_int_equal(sort_frame_feed(&f, buf + SORT_FRAME_PREFIX_LEN + 40, 20, &used),
                   SORT_FRAME_NEED_MORE);
  assert_int_equal(used, 20);
  assert_int_equal(f.body_cap, 60);
  /* One byte more does not fit: refused, nothing of it taken. */
  assert_int_equal(sort_frame_feed(&f, buf + SORT_FRAME_PREFIX_LEN + 60, 1, &used),
                   SORT_FRAME_NO_ROOM);
  assert_int_equal(used, 0);
  assert_int_equal(f.body_cap, 60);
  assert_int_equal(f.body_have, 60);
  /* Terminal, like every other failure. */
  f.max_cap = UINT64_MAX;
  assert_int_equal(sort_frame_feed(&f, buf + SORT_FRAME_PREFIX_LEN + 60, 1, &used),
                   SORT_FRAME_NO_ROOM);
  assert_int_equal(used, 0);
  sort_frame_free(&f);
  assert_int_equal(f.body_cap, 0);
}

/* A prefix alone holds nothing, whatever it announces. */
static void test_prefix_alone_holds_no_memory(void **state) {
  (void)state;
  uint8_t buf[SORT_FRAME_PREFIX_LEN];
  sort_frame_t f;
  size_t used;
  put_be64(buf, 8u << 20);
  sort_frame_init(&f, 8u << 20);
  f.max_cap = 0;
  assert_int_equal(sort_frame_feed(&f, buf, sizeof(buf), &used), SORT_FRAME_NEED_MORE);
  assert_null(f.body);
  assert_int_equal(f.body_cap, 0);
  assert_int_equal(sort_frame_feed(&f, (const uint8_t *)"[", 1, &used), SORT_FRAME_NO_ROOM);
  sort_frame_free(&f);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_whole_frame_at_once_leaves_later_bytes_unconsumed),
      cmocka_unit_test(test_exact_length_completes_without_extra_bytes),
      cmocka_unit_test(test_one_byte_at_a_time_completes_on_the_last_byte),
      cmocka_unit_test(test_every_two_way_split_gives_the_same_body),
      cmocka_unit_test(test_zero_length_prefix_is_empty),
      cmocka_unit_test(test_prefix_over_the_limit_is_refused_before_any_body),
      cmocka_unit_test(test_too_large_is_known_on_the_eighth_byte),
      cmocka_unit_test(test_prefix_exactly_at_the_limit_is_accepted),
      cmocka_unit_test(test_feeding_nothing_changes_nothing),
      cmocka_unit_test(test_body_is_taken_once_and_free_is_idempotent),
      cmocka_unit_test(test_free_releases_a_partial_body),
      cmocka_unit_test(test_buffer_grows_with_the_bytes_received),
      cmocka_unit_test(test_max_cap_at_and_past_the_edge),
      cmocka_unit_test(test_prefix_alone_holds_no_memory),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
