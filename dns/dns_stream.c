#include "dns_stream.h"

#include <stdlib.h>
#include <string.h>

/* The smallest partial-message buffer: a typical query is well under this,
 * so a client that keeps sending its queries in pieces makes the reader
 * allocate once, not once per query. */
#define DNS_STREAM_MIN_BUF 512

static void start_next_message(dns_stream_t *r) {
  r->prefix_have = 0;
  r->msg_len = 0;
  r->buf_have = 0;
}

void dns_stream_init(dns_stream_t *r) {
  memset(r, 0, sizeof(*r));
  r->error = DNS_STREAM_NEED_MORE;
}

void dns_stream_free(dns_stream_t *r) {
  free(r->buf);
  r->buf = NULL;
  r->buf_cap = 0;
  start_next_message(r);
}

/* Called only when a message starts being buffered, so nothing in the old
 * buffer needs to survive: free and malloc rather than realloc's copy. */
static bool reserve(dns_stream_t *r, size_t n) {
  if (n <= r->buf_cap)
    return true;
  size_t cap = DNS_STREAM_MIN_BUF;
  while (cap < n)
    cap *= 2;
  if (cap > DNS_STREAM_MAX_MESSAGE)
    cap = DNS_STREAM_MAX_MESSAGE;
  free(r->buf);
  r->buf = malloc(cap);
  r->buf_cap = r->buf != NULL ? cap : 0;
  return r->buf != NULL;
}

static dns_stream_status_t fail(dns_stream_t *r, dns_stream_status_t error) {
  r->error = error;
  return error;
}

dns_stream_status_t dns_stream_next(dns_stream_t *r, const uint8_t *data,
                                    size_t len, size_t *pos,
                                    const uint8_t **msg, size_t *msg_len) {
  if (r->error != DNS_STREAM_NEED_MORE)
    return r->error;

  size_t p = *pos;
  if (r->prefix_have < DNS_STREAM_PREFIX_LEN) {
    while (r->prefix_have < DNS_STREAM_PREFIX_LEN && p < len)
      r->prefix[r->prefix_have++] = data[p++];
    *pos = p;
    if (r->prefix_have < DNS_STREAM_PREFIX_LEN)
      return DNS_STREAM_NEED_MORE;
    r->msg_len = (size_t)r->prefix[0] << 8 | r->prefix[1];
    /* Nothing can follow a 0 length: the next prefix could be anywhere. */
    if (r->msg_len == 0)
      return fail(r, DNS_STREAM_BAD_FRAME);
  }

  size_t avail = len - p;
  if (avail == 0)
    return DNS_STREAM_NEED_MORE;
  if (r->buf_have == 0 && avail >= r->msg_len) {
    *msg = data + p;
    *msg_len = r->msg_len;
    *pos = p + r->msg_len;
    start_next_message(r);
    return DNS_STREAM_MESSAGE;
  }

  if (r->buf_have == 0 && !reserve(r, r->msg_len))
    return fail(r, DNS_STREAM_NOMEM);
  size_t take = r->msg_len - r->buf_have;
  if (take > avail)
    take = avail;
  memcpy(r->buf + r->buf_have, data + p, take);
  r->buf_have += take;
  *pos = p + take;
  if (r->buf_have < r->msg_len)
    return DNS_STREAM_NEED_MORE;
  *msg = r->buf;
  *msg_len = r->msg_len;
  start_next_message(r);
  return DNS_STREAM_MESSAGE;
}

size_t dns_stream_buffered(const dns_stream_t *r) {
  return r->prefix_have + r->buf_have;
}

size_t dns_stream_held(const dns_stream_t *r) {
  return r->buf_cap;
}

void dns_stream_trim(dns_stream_t *r) {
  if (r->buf_have > 0 || r->buf_cap <= DNS_STREAM_MIN_BUF)
    return;
  free(r->buf);
  r->buf = NULL;
  r->buf_cap = 0;
}

bool dns_stream_put_prefix(uint8_t *out, size_t msg_len) {
  if (msg_len == 0 || msg_len > DNS_STREAM_MAX_MESSAGE)
    return false;
  out[0] = (uint8_t)(msg_len >> 8);
  out[1] = (uint8_t)(msg_len & 0xff);
  return true;
}

size_t dns_stream_frame(const uint8_t *msg, size_t msg_len, uint8_t *out,
                        size_t cap) {
  if (msg_len == 0 || msg_len > DNS_STREAM_MAX_MESSAGE ||
      cap < DNS_STREAM_PREFIX_LEN + msg_len)
    return 0;
  /* memmove: the message may already be in place at out + 2. */
  memmove(out + DNS_STREAM_PREFIX_LEN, msg, msg_len);
  dns_stream_put_prefix(out, msg_len);
  return DNS_STREAM_PREFIX_LEN + msg_len;
}
