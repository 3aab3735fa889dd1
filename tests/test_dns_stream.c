/* dns_stream: 2-byte length-prefixed messages fed in every possible cut,
 * and the writer helpers. */
#include "test_util.h"

#include <stdlib.h>

#include "dns_stream.h"

/* Three framed messages as they could follow each other on a connection:
 * lengths 3, 1 and 5. */
static const uint8_t pipelined[] = {
    0x00, 0x03, 'a', 'b', 'c',
    0x00, 0x01, 'd',
    0x00, 0x05, 'e', 'f', 'g', 'h', 'i',
};
static const char *const pipelined_bodies[] = {"abc", "d", "efghi"};
#define N_PIPELINED 3

/* Collects every message handed out, copied, so tests can compare them
 * after the input is gone. */
typedef struct {
  uint8_t data[4][64];
  size_t len[4];
  size_t n;
  size_t in_place;   /* messages that pointed into the input */
  dns_stream_status_t last;
} collected_t;

/* Feed one chunk and take every message out of it. */
static void feed(dns_stream_t *r, const uint8_t *chunk, size_t len,
                 collected_t *out) {
  size_t pos = 0;
  const uint8_t *msg;
  size_t msg_len;
  for (;;) {
    out->last = dns_stream_next(r, chunk, len, &pos, &msg, &msg_len);
    if (out->last != DNS_STREAM_MESSAGE)
      break;
    assert_true(out->n < ARRAY_LEN(out->data));
    assert_true(msg_len <= sizeof(out->data[0]));
    memcpy(out->data[out->n], msg, msg_len);
    out->len[out->n] = msg_len;
    if (msg >= chunk && msg + msg_len <= chunk + len)
      out->in_place++;
    out->n++;
  }
  if (out->last == DNS_STREAM_NEED_MORE)
    assert_int_equal(pos, len);
}

static void assert_pipelined(const collected_t *c) {
  assert_int_equal(c->n, N_PIPELINED);
  for (size_t i = 0; i < N_PIPELINED; i++) {
    assert_int_equal(c->len[i], strlen(pipelined_bodies[i]));
    assert_memory_equal(c->data[i], pipelined_bodies[i], c->len[i]);
  }
}

static void test_pipelined_messages_in_one_chunk_come_out_in_place(
    void **state) {
  (void)state;
  dns_stream_t r;
  collected_t c = {0};
  dns_stream_init(&r);
  feed(&r, pipelined, sizeof(pipelined), &c);
  assert_int_equal(c.last, DNS_STREAM_NEED_MORE);
  assert_pipelined(&c);
  assert_int_equal(c.in_place, N_PIPELINED);
  assert_int_equal(dns_stream_buffered(&r), 0);
  assert_null(r.buf); /* nothing was ever buffered */
  dns_stream_free(&r);
}

static void test_split_at_every_byte_boundary(void **state) {
  (void)state;
  for (size_t cut = 0; cut <= sizeof(pipelined); cut++) {
    dns_stream_t r;
    collected_t c = {0};
    dns_stream_init(&r);
    feed(&r, pipelined, cut, &c);
    assert_int_equal(c.last, DNS_STREAM_NEED_MORE);
    feed(&r, pipelined + cut, sizeof(pipelined) - cut, &c);
    assert_int_equal(c.last, DNS_STREAM_NEED_MORE);
    assert_pipelined(&c);
    assert_int_equal(dns_stream_buffered(&r), 0);
    dns_stream_free(&r);
  }
}

static void test_split_at_every_pair_of_boundaries(void **state) {
  (void)state;
  for (size_t a = 0; a <= sizeof(pipelined); a++) {
    for (size_t b = a; b <= sizeof(pipelined); b++) {
      dns_stream_t r;
      collected_t c = {0};
      dns_stream_init(&r);
      feed(&r, pipelined, a, &c);
      feed(&r, pipelined + a, b - a, &c);
      feed(&r, pipelined + b, sizeof(pipelined) - b, &c);
      assert_int_equal(c.last, DNS_STREAM_NEED_MORE);
      assert_pipelined(&c);
      dns_stream_free(&r);
    }
  }
}

static void test_one_byte_at_a_time(void **state) {
  (void)state;
  dns_stream_t r;
  collected_t c = {0};
  dns_stream_init(&r);
  for (size_t i = 0; i < sizeof(pipelined); i++) {
    size_t before = c.n;
    feed(&r, pipelined + i, 1, &c);
    assert_int_equal(c.last, DNS_STREAM_NEED_MORE);
    /* A message completes exactly on its last byte: 5, 8, 15. */
    bool ends = i + 1 == 5 || i + 1 == 8 || i + 1 == sizeof(pipelined);
    assert_int_equal(c.n, before + (ends ? 1 : 0));
    if (ends)
      assert_int_equal(dns_stream_buffered(&r), 0);
    else
      assert_int_not_equal(dns_stream_buffered(&r), 0);
  }
  assert_pipelined(&c);
  /* A 1-byte message whose body arrives alone still lies whole in that
   * input, so it comes out in place; only "abc" and "efghi" were cut. */
  assert_int_equal(c.in_place, 1);
  dns_stream_free(&r);
}

static void test_message_split_across_many_chunks(void **state) {
  (void)state;
  enum { BODY = 300, CHUNK = 7 };
  uint8_t wire[2 + BODY];
  wire[0] = BODY >> 8;
  wire[1] = BODY & 0xff;
  for (size_t i = 0; i < BODY; i++)
    wire[2 + i] = (uint8_t)(i * 7 + 1);

  dns_stream_t r;
  dns_stream_init(&r);
  size_t fed = 0;
  const uint8_t *msg = NULL;
  size_t msg_len = 0;
  dns_stream_status_t st = DNS_STREAM_NEED_MORE;
  while (fed < sizeof(wire)) {
    size_t n = sizeof(wire) - fed < CHUNK ? sizeof(wire) - fed : CHUNK;
    size_t pos = 0;
    st = dns_stream_next(&r, wire + fed, n, &pos, &msg, &msg_len);
    assert_int_equal(pos, n);
    fed += n;
    if (fed < sizeof(wire)) {
      assert_int_equal(st, DNS_STREAM_NEED_MORE);
      assert_int_equal(dns_stream_buffered(&r), fed);
    }
  }
  assert_int_equal(st, DNS_STREAM_MESSAGE);
  assert_int_equal(msg_len, BODY);
  assert_memory_equal(msg, wire + 2, BODY);
  assert_ptr_equal(msg, r.buf);
  assert_int_equal(dns_stream_buffered(&r), 0);
  dns_stream_free(&r);
}

/* Chunk 1 ends after the first prefix byte; chunk 2 starts with the second
 * and holds the whole body, so the body is not copied. */
static void test_prefix_split_between_chunks(void **state) {
  (void)state;
  const uint8_t chunk1[] = {0x00};
  const uint8_t chunk2[] = {0x04, 'w', 'i', 'p', 'o', 0x00};
  dns_stream_t r;
  size_t pos = 0;
  const uint8_t *msg;
  size_t msg_len;
  dns_stream_init(&r);
  assert_int_equal(dns_stream_next(&r, chunk1, 1, &pos, &msg, &msg_len),
                   DNS_STREAM_NEED_MORE);
  assert_int_equal(pos, 1);
  assert_int_equal(dns_stream_buffered(&r), 1);
  pos = 0;
  assert_int_equal(
      dns_stream_next(&r, chunk2, sizeof(chunk2), &pos, &msg, &msg_len),
      DNS_STREAM_MESSAGE);
  assert_ptr_equal(msg, chunk2 + 1);
  assert_int_equal(msg_len, 4);
  assert_int_equal(pos, 5);
  assert_memory_equal(msg, "wipo", 4);
  /* The trailing 0x00 is half of the next prefix. */
  assert_int_equal(
      dns_stream_next(&r, chunk2, sizeof(chunk2), &pos, &msg, &msg_len),
      DNS_STREAM_NEED_MORE);
  assert_int_equal(pos, sizeof(chunk2));
  assert_int_equal(dns_stream_buffered(&r), 1);
  assert_null(r.buf);
  dns_stream_free(&r);
}

/* The end of a buffered message and a whole one in the same chunk: the
 * first comes from the reader's buffer, the second in place. */
static void test_buffered_message_then_whole_one_in_same_chunk(void **state) {
  (void)state;
  dns_stream_t r;
  collected_t c = {0};
  dns_stream_init(&r);
  feed(&r, pipelined, 3, &c);                       /* 00 03 'a' */
  feed(&r, pipelined + 3, sizeof(pipelined) - 3, &c);
  assert_pipelined(&c);
  assert_int_equal(c.in_place, 2);
  dns_stream_free(&r);
}

static void test_zero_length_is_a_bad_frame_and_stays_one(void **state) {
  (void)state;
  const uint8_t wire[] = {0x00, 0x01, 'x', 0x00, 0x00, 0x00, 0x01, 'y'};
  dns_stream_t r;
  size_t pos = 0;
  const uint8_t *msg;
  size_t msg_len;
  dns_stream_init(&r);
  /* The message before the bad prefix is still delivered. */
  assert_int_equal(dns_stream_next(&r, wire, sizeof(wire), &pos, &msg,
                                   &msg_len),
                   DNS_STREAM_MESSAGE);
  assert_int_equal(msg_len, 1);
  assert_int_equal(dns_stream_next(&r, wire, sizeof(wire), &pos, &msg,
                                   &msg_len),
                   DNS_STREAM_BAD_FRAME);
  assert_int_equal(pos, 5);
  assert_int_equal(dns_stream_next(&r, wire, sizeof(wire), &pos, &msg,
                                   &msg_len),
                   DNS_STREAM_BAD_FRAME);
  assert_int_equal(pos, 5);
  pos = 0;
  assert_int_equal(dns_stream_next(&r, wire, sizeof(wire), &pos, &msg,
                                   &msg_len),
                   DNS_STREAM_BAD_FRAME);
  assert_int_equal(pos, 0);
  dns_stream_free(&r);
}

static void test_zero_length_split_across_chunks(void **state) {
  (void)state;
  const uint8_t zero = 0x00;
  dns_stream_t r;
  size_t pos = 0;
  const uint8_t *msg;
  size_t msg_len;
  dns_stream_init(&r);
  assert_int_equal(dns_stream_next(&r, &zero, 1, &pos, &msg, &msg_len),
                   DNS_STREAM_NEED_MORE);
  pos = 0;
  assert_int_equal(dns_stream_next(&r, &zero, 1, &pos, &msg, &msg_len),
                   DNS_STREAM_BAD_FRAME);
  dns_stream_free(&r);
}

static uint8_t *make_max_message(size_t *wire_len) {
  size_t n = DNS_STREAM_PREFIX_LEN + DNS_STREAM_MAX_MESSAGE;
  uint8_t *wire = malloc(n);
  assert_non_null(wire);
  wire[0] = 0xff;
  wire[1] = 0xff;
  for (size_t i = 0; i < DNS_STREAM_MAX_MESSAGE; i++)
    wire[2 + i] = (uint8_t)(i ^ (i >> 8));
  *wire_len = n;
  return wire;
}

static void test_max_size_message_whole_and_split(void **state) {
  (void)state;
  size_t wire_len;
  uint8_t *wire = make_max_message(&wire_len);
  const uint8_t *msg;
  size_t msg_len;
  size_t pos = 0;
  dns_stream_t r;

  dns_stream_init(&r);
  assert_int_equal(dns_stream_next(&r, wire, wire_len, &pos, &msg, &msg_len),
                   DNS_STREAM_MESSAGE);
  assert_ptr_equal(msg, wire + 2);
  assert_int_equal(msg_len, DNS_STREAM_MAX_MESSAGE);
  assert_int_equal(pos, wire_len);

  /* Cut one byte before the end: all but the last byte is buffered. */
  pos = 0;
  assert_int_equal(
      dns_stream_next(&r, wire, wire_len - 1, &pos, &msg, &msg_len),
      DNS_STREAM_NEED_MORE);
  assert_int_equal(dns_stream_buffered(&r), wire_len - 1);
  assert_true(r.buf_cap <= DNS_STREAM_MAX_MESSAGE);
  pos = 0;
  assert_int_equal(
      dns_stream_next(&r, wire + wire_len - 1, 1, &pos, &msg, &msg_len),
      DNS_STREAM_MESSAGE);
  assert_int_equal(msg_len, DNS_STREAM_MAX_MESSAGE);
  assert_memory_equal(msg, wire + 2, DNS_STREAM_MAX_MESSAGE);
  dns_stream_free(&r);
  free(wire);
}

/* A large message cut by the end of an input grows the reader's buffer;
 * dns_stream_held says so, and trim gives it back once the message is
 * out, but keeps a small buffer and never frees one still in use. */
static void test_held_counts_the_buffer_and_trim_gives_back_large_ones(
    void **state) {
  (void)state;
  size_t wire_len;
  uint8_t *wire = make_max_message(&wire_len);
  const uint8_t *msg;
  size_t msg_len;
  size_t pos = 0;
  dns_stream_t r;

  dns_stream_init(&r);
  assert_int_equal(dns_stream_held(&r), 0);
  assert_int_equal(dns_stream_next(&r, wire, 1000, &pos, &msg, &msg_len),
                   DNS_STREAM_NEED_MORE);
  assert_true(dns_stream_held(&r) >= DNS_STREAM_MAX_MESSAGE - 1);
  dns_stream_trim(&r); /* mid-message: nothing is given back */
  assert_true(dns_stream_held(&r) >= DNS_STREAM_MAX_MESSAGE - 1);
  pos = 0;
  assert_int_equal(dns_stream_next(&r, wire + 1000, wire_len - 1000, &pos,
                                   &msg, &msg_len),
                   DNS_STREAM_MESSAGE);
  assert_memory_equal(msg, wire + 2, DNS_STREAM_MAX_MESSAGE);
  dns_stream_trim(&r);
  assert_int_equal(dns_stream_held(&r), 0);

  /* A small message cut in two keeps its small buffer for the next. */
  pos = 0;
  assert_int_equal(dns_stream_next(&r, pipelined, 3, &pos, &msg, &msg_len),
                   DNS_STREAM_NEED_MORE);
  size_t small = dns_stream_held(&r);
  assert_true(small > 0 && small < 1024);
  pos = 3;
  assert_int_equal(dns_stream_next(&r, pipelined, sizeof(pipelined), &pos,
                                   &msg, &msg_len),
                   DNS_STREAM_MESSAGE);
  dns_stream_trim(&r);
  assert_int_equal(dns_stream_held(&r), small);
  dns_stream_free(&r);
  assert_int_equal(dns_stream_held(&r), 0);
  free(wire);
}

static void test_empty_input_needs_more_and_uses_nothing(void **state) {
  (void)state;
  dns_stream_t r;
  size_t pos = 0;
  const uint8_t *msg;
  size_t msg_len;
  dns_stream_init(&r);
  assert_int_equal(dns_stream_next(&r, NULL, 0, &pos, &msg, &msg_len),
                   DNS_STREAM_NEED_MORE);
  assert_int_equal(pos, 0);
  /* A complete prefix with no body byte yet allocates nothing. */
  assert_int_equal(dns_stream_next(&r, pipelined, 2, &pos, &msg, &msg_len),
                   DNS_STREAM_NEED_MORE);
  assert_null(r.buf);
  dns_stream_free(&r);
  dns_stream_free(&r);
}

static void test_put_prefix_and_frame(void **state) {
  (void)state;
  uint8_t out[8] = {0};
  assert_true(dns_stream_put_prefix(out, 1));
  assert_int_equal(out[0], 0x00);
  assert_int_equal(out[1], 0x01);
  assert_true(dns_stream_put_prefix(out, 0x1234));
  assert_int_equal(out[0], 0x12);
  assert_int_equal(out[1], 0x34);
  assert_true(dns_stream_put_prefix(out, DNS_STREAM_MAX_MESSAGE));
  assert_int_equal(out[0], 0xff);
  assert_int_equal(out[1], 0xff);
  out[0] = out[1] = 0xaa;
  assert_false(dns_stream_put_prefix(out, 0));
  assert_false(dns_stream_put_prefix(out, DNS_STREAM_MAX_MESSAGE + 1));
  assert_int_equal(out[0], 0xaa);

  const uint8_t want[] = {0x00, 0x03, 'a', 'b', 'c'};
  assert_int_equal(dns_stream_frame((const uint8_t *)"abc", 3, out,
                                    sizeof(out)),
                   5);
  assert_memory_equal(out, want, 5);
  /* In place: the message already at out + 2. */
  memset(out, 0, sizeof(out));
  memcpy(out + 2, "abc", 3);
  assert_int_equal(dns_stream_frame(out + 2, 3, out, sizeof(out)), 5);
  assert_memory_equal(out, want, 5);
  assert_int_equal(dns_stream_frame((const uint8_t *)"abc", 3, out, 4), 0);
  assert_int_equal(dns_stream_frame(out, 0, out, sizeof(out)), 0);
}

/* What the writer frames, the reader reads back. */
static void test_frame_round_trips_through_reader(void **state) {
  (void)state;
  uint8_t wire[32];
  size_t n = dns_stream_frame((const uint8_t *)"hello", 5, wire, sizeof(wire));
  n += dns_stream_frame((const uint8_t *)"dns", 3, wire + n, sizeof(wire) - n);
  assert_int_equal(n, 12);
  dns_stream_t r;
  collected_t c = {0};
  dns_stream_init(&r);
  feed(&r, wire, n, &c);
  assert_int_equal(c.n, 2);
  assert_memory_equal(c.data[0], "hello", 5);
  assert_memory_equal(c.data[1], "dns", 3);
  dns_stream_free(&r);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_pipelined_messages_in_one_chunk_come_out_in_place),
      cmocka_unit_test(test_split_at_every_byte_boundary),
      cmocka_unit_test(test_split_at_every_pair_of_boundaries),
      cmocka_unit_test(test_one_byte_at_a_time),
      cmocka_unit_test(test_message_split_across_many_chunks),
      cmocka_unit_test(test_prefix_split_between_chunks),
      cmocka_unit_test(test_buffered_message_then_whole_one_in_same_chunk),
      cmocka_unit_test(test_zero_length_is_a_bad_frame_and_stays_one),
      cmocka_unit_test(test_zero_length_split_across_chunks),
      cmocka_unit_test(test_max_size_message_whole_and_split),
      cmocka_unit_test(test_held_counts_the_buffer_and_trim_gives_back_large_ones),
      cmocka_unit_test(test_empty_input_needs_more_and_uses_nothing),
      cmocka_unit_test(test_put_prefix_and_frame),
      cmocka_unit_test(test_frame_round_trips_through_reader),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
