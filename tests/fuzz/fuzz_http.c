/* libFuzzer target: any bytes as the start of an HTTP connection to the
 * metrics listener. The first byte picks a chunk size (0: everything at
 * once); the rest is fed to loop_http_req_feed in chunks of that size and,
 * separately, in one piece. The two must agree (http_parser keeps state
 * across calls, and a request split by the network must be read the same
 * way), the status must be one the server can send, the URL must stay
 * within its bound, and a 200 needs a GET or HEAD. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "loop_http.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_CHECK(cond) \
  do {                   \
    if (!(cond))         \
      abort();           \
  } while (0)

static loop_http_result_t feed(loop_http_req_t *r, const char *bytes,
                               size_t len, size_t chunk) {
  loop_http_result_t res = LOOP_HTTP_NEED_MORE;
  loop_http_req_init(r);
  if (chunk == 0)
    chunk = len;
  for (size_t off = 0; off < len; off += chunk) {
    size_t n = len - off < chunk ? len - off : chunk;
    res = loop_http_req_feed(r, bytes + off, n);
  }
  if (len == 0)
    res = loop_http_req_feed(r, bytes, 0);
  return res;
}

static bool status_known(int status) {
  static const int known[] = {200, 400, 404, 405, 414, 431, 503};
  for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++)
    if (status == known[i])
      return true;
  return false;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static loop_http_req_t chunked, whole;
  if (size == 0)
    return 0;
  size_t chunk = data[0] % 17; /* 0: one piece; else 1..16 bytes */
  const char *bytes = (const char *)data + 1;
  size_t len = size - 1;

  loop_http_result_t a = feed(&chunked, bytes, len, chunk);
  loop_http_result_t b = feed(&whole, bytes, len, 0);
  FUZZ_CHECK(a == b);
  FUZZ_CHECK(chunked.url_len <= LOOP_HTTP_MAX_URL);
  if (a == LOOP_HTTP_NEED_MORE)
    return 0;
  FUZZ_CHECK(chunked.status == whole.status);
  FUZZ_CHECK(chunked.head == whole.head);
  if (chunked.status == 200)
    FUZZ_CHECK(chunked.target == whole.target);
  FUZZ_CHECK(status_known(chunked.status));
  FUZZ_CHECK(loop_http_reason(chunked.status) != NULL);
  /* http_parser skips empty lines before the request line. */
  while (len > 0 && (*bytes == '\r' || *bytes == '\n')) {
    bytes++;
    len--;
  }
  bool get = len >= 4 && memcmp(bytes, "GET ", 4) == 0;
  bool head = len >= 5 && memcmp(bytes, "HEAD ", 5) == 0;
  if (chunked.head)
    FUZZ_CHECK(head);
  if (chunked.status == 200)
    FUZZ_CHECK((get || head) && chunked.head == head);
  /* Once decided, more bytes change nothing. */
  int status = chunked.status;
  FUZZ_CHECK(loop_http_req_feed(&chunked, "GET / HTTP/1.1\r\n\r\n", 18) == LOOP_HTTP_READY);
  FUZZ_CHECK(chunked.status == status);
  return 0;
}
