#include "loop_http.h"

#include <string.h>

/* http_parser calls back with pieces of the URL as they arrive (one call
 * per piece the network delivered); they are joined here. A target past
 * the bound is not copied but still parsed, so that the answer does not
 * depend on how the bytes were split: halting here would answer 414 for a
 * split request that, in one piece, the parser rejects (400) before it
 * ever calls back. The head bound (431) keeps the reading finite. */
static int on_url(http_parser *p, const char *at, size_t len) {
  loop_http_req_t *r = p->data;
  if (r->url_too_long || len > sizeof(r->url) - r->url_len) {
    r->url_too_long = true;
    return 0;
  }
  memcpy(r->url + r->url_len, at, len);
  r->url_len += len;
  return 0;
}

static const struct {
  const char *path;
  loop_http_target_t target;
} routes[] = {
    {"/metrics", LOOP_HTTP_TARGET_METRICS},
    {"/health", LOOP_HTTP_TARGET_HEALTH},
    {"/ready", LOOP_HTTP_TARGET_READY},
};

static int decide(loop_http_req_t *r) {
  const http_parser *p = &r->parser;
  if (r->url_too_long)
    return 414;
  if (p->method != HTTP_GET && p->method != HTTP_HEAD)
    return 405;
  struct http_parser_url u;
  http_parser_url_init(&u);
  if (http_parser_parse_url(r->url, r->url_len, 0, &u) != 0)
    return 400;
  if (!(u.field_set & (1u << UF_PATH)))
    return 404;
  const char *path = r->url + u.field_data[UF_PATH].off;
  size_t path_len = u.field_data[UF_PATH].len;
  for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++) {
    if (path_len == strlen(routes[i].path) && memcmp(path, routes[i].path, path_len) == 0) {
      r->target = routes[i].target;
      return 200;
    }
  }
  return 404;
}

/* The headers are in: decide, and pause the parser so that nothing after
 * them (a body, a pipelined request) is parsed. */
static int on_headers_complete(http_parser *p) {
  loop_http_req_t *r = p->data;
  r->status = decide(r);
  r->head = p->method == HTTP_HEAD;
  r->ready = true;
  http_parser_pause(p, 1);
  return 0;
}

static const http_parser_settings settings = {
    .on_url = on_url,
    .on_headers_complete = on_headers_complete,
};

void loop_http_req_init(loop_http_req_t *r) {
  /* http_parser counts every byte of the head (request line, headers,
   * line ends) and fails with HPE_HEADER_OVERFLOW past this bound. The
   * setting is process-wide; this module is dnsortd's only user of the
   * parser, and setting it again is idempotent. */
  http_parser_set_max_header_size(LOOP_HTTP_MAX_HEAD);
  memset(r, 0, sizeof(*r));
  http_parser_init(&r->parser, HTTP_REQUEST);
  r->parser.data = r;
}

loop_http_result_t loop_http_req_feed(loop_http_req_t *r, const char *data, size_t len) {
  if (r->ready)
    return LOOP_HTTP_READY;
  http_parser_execute(&r->parser, &settings, data, len);
  if (r->ready)
    return LOOP_HTTP_READY;
  enum http_errno err = HTTP_PARSER_ERRNO(&r->parser);
  if (err != HPE_OK) {
    /* A request the parser cannot read. */
    r->status = err == HPE_HEADER_OVERFLOW ? 431 : 400;
    r->ready = true;
    return LOOP_HTTP_READY;
  }
  return LOOP_HTTP_NEED_MORE;
}

const char *loop_http_reason(int status) {
  switch (status) {
  case 200:
    return "OK";
  case 400:
    return "Bad Request";
  case 404:
    return "Not Found";
  case 405:
    return "Method Not Allowed";
  case 414:
    return "URI Too Long";
  case 431:
    return "Request Header Fields Too Large";
  case 500:
    return "Internal Server Error";
  case 503:
    return "Service Unavailable";
  default:
    return "Unknown";
  }
}
