/* The sort back-end: one TCP connection per request, as the protocol
 * wants. Connect, write the 8-byte length and the body (both prepared
 * before the run and shared by every request), read to EOF, check. */
#include "load_sort.h"

#include <stdlib.h>
#include <string.h>

#include "load_payload.h"

#define container_of(ptr, type, member) ((type *)((char *)(ptr)-offsetof(type, member)))

#define READ_CHUNK 65536

typedef struct {
  load_payload_set_t payloads;
  size_t next; /* payloads are cycled */
} load_sort_t;

typedef struct {
  uv_tcp_t tcp; /* first: freeing the request frees the handle */
  uv_connect_t connect;
  uv_write_t write;
  load_req_t req;
  load_gen_t *gen;
  const load_payload_t *payload;
  char *reply;
  size_t len, cap, max;
  bool done; /* counted; only the close callback remains */
} sort_req_t;

static void on_close(uv_handle_t *h) {
  sort_req_t *q = container_of(h, sort_req_t, tcp);
  free(q->reply);
  free(q);
}

static void finish(sort_req_t *q, load_result_t result, bool replied) {
  q->done = true;
  load_gen_end(q->gen, &q->req, result, replied);
  uv_close((uv_handle_t *)&q->tcp, on_close);
}

static load_result_t connect_result(int status) {
  if (status == UV_ECONNREFUSED)
    return LOAD_CONNECT_REFUSED;
  if (status == UV_ETIMEDOUT)
    return LOAD_TIMEOUT;
  return LOAD_IO_ERROR;
}

static void check_reply(sort_req_t *q) {
  load_sort_expect_t exp = load_payload_expect(q->payload);
  load_sort_result_t r = load_check_sort(q->reply, q->len, &exp);
  switch (r) {
  case LOAD_SORT_OK:
    finish(q, LOAD_OK, true);
    return;
  case LOAD_SORT_ERROR_OBJECT:
    load_gen_note(q->gen, "error_reply: %.*s", (int)(q->len > 150 ? 150 : q->len), q->reply);
    finish(q, LOAD_ERROR_REPLY, true);
    return;
  case LOAD_SORT_EMPTY:
    load_gen_note(q->gen, "io_error: connection closed without a reply");
    finish(q, LOAD_IO_ERROR, false);
    return;
  case LOAD_SORT_MALFORMED:
  case LOAD_SORT_UNSORTED:
  case LOAD_SORT_WRONG_MULTISET:
    break;
  }
  load_gen_note(q->gen, "wrong_reply: %s (%zu bytes)", load_sort_result_name(r), q->len);
  finish(q, LOAD_WRONG_REPLY, true);
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf) {
  sort_req_t *q = container_of(h, sort_req_t, tcp);
  (void)suggested;
  if (q->cap - q->len < READ_CHUNK / 16) {
    size_t ncap = q->cap * 2 > q->len + READ_CHUNK ? q->cap * 2 : q->len + READ_CHUNK;
    char *n = realloc(q->reply, ncap);
    if (n == NULL) {
      buf->base = NULL; /* libuv reports UV_ENOBUFS to on_read */
      buf->len = 0;
      return;
    }
    q->reply = n;
    q->cap = ncap;
  }
  buf->base = q->reply + q->len;
  buf->len = q->cap - q->len;
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf) {
  sort_req_t *q = container_of(s, sort_req_t, tcp);
  (void)buf;
  if (q->done)
    return;
  if (nread > 0) {
    q->len += (size_t)nread;
    if (q->len > q->max) {
      load_gen_note(q->gen, "wrong_reply: reply longer than %zu bytes", q->max);
      finish(q, LOAD_WRONG_REPLY, true);
    }
    return;
  }
  if (nread == UV_EOF) {
    check_reply(q);
    return;
  }
  if (nread < 0) {
    load_gen_note(q->gen, "io_error: read: %s", uv_strerror((int)nread));
    finish(q, LOAD_IO_ERROR, false);
  }
}

static void on_write(uv_write_t *w, int status) {
  sort_req_t *q = container_of(w, sort_req_t, write);
  /* A failed write is not the verdict: a server refusing the request (too
   * large, shutting down) replies and closes before taking every byte, and
   * that reply is what the read side will judge. */
  if (q->done || status >= 0 || status == UV_ECANCELED)
    return;
  load_gen_note(q->gen, "write: %s (the reply decides)", uv_strerror(status));
}

static void on_connect(uv_connect_t *c, int status) {
  sort_req_t *q = container_of(c, sort_req_t, connect);
  if (q->done)
    return;
  if (status < 0) {
    load_gen_note(q->gen, "%s: connect: %s", load_result_name(connect_result(status)),
                  uv_strerror(status));
    finish(q, connect_result(status), false);
    return;
  }
  const load_payload_t *p = q->payload;
  uv_buf_t bufs[2] = {
      uv_buf_init((char *)p->prefix, sizeof(p->prefix)),
      uv_buf_init(p->body, (unsigned)p->body_len),
  };
  int rc = uv_write(&q->write, (uv_stream_t *)&q->tcp, bufs, 2, on_write);
  if (rc == 0)
    rc = uv_read_start((uv_stream_t *)&q->tcp, on_alloc, on_read);
  if (rc != 0) {
    load_gen_note(q->gen, "io_error: %s", uv_strerror(rc));
    finish(q, LOAD_IO_ERROR, false);
  }
}

static void sort_start(load_gen_t *g, uint64_t intended_ns) {
  load_sort_t *s = load_gen_backend(g);
  const load_opts_t *o = load_gen_opts(g);
  const load_payload_t *p = &s->payloads.items[s->next++ % s->payloads.count];

  sort_req_t *q = calloc(1, sizeof(*q));
  if (q == NULL) {
    load_req_t tmp;
    load_gen_begin(g, &tmp, intended_ns);
    load_gen_note(g, "io_error: out of memory");
    load_gen_end(g, &tmp, LOAD_IO_ERROR, false);
    return;
  }
  q->gen = g;
  q->payload = p;
  /* The longest honest reply: every number re-spelled ("1e15" comes back
   * as "1000000000000000.0") stays under 8 times the request. */
  q->max = (p->expected != NULL ? p->expected_len : 8 * p->body_len) + READ_CHUNK;
  /* Room for the whole expected reply plus the read that sees EOF, so a
   * correct reply costs one allocation. */
  q->cap = (p->expected != NULL ? p->expected_len : p->body_len) + READ_CHUNK / 16 + 1;
  q->reply = malloc(q->cap);
  if (q->reply == NULL)
    q->cap = 0;
  load_gen_begin(g, &q->req, intended_ns);

  int rc = uv_tcp_init(load_gen_loop(g), &q->tcp);
  if (rc != 0) {
    load_gen_note(g, "io_error: uv_tcp_init: %s", uv_strerror(rc));
    load_gen_end(g, &q->req, LOAD_IO_ERROR, false);
    free(q);
    return;
  }
  rc = uv_tcp_connect(&q->connect, &q->tcp, (const struct sockaddr *)&o->sort_server, on_connect);
  if (rc != 0) {
    load_gen_note(g, "%s: connect: %s", load_result_name(connect_result(rc)), uv_strerror(rc));
    finish(q, connect_result(rc), false);
  }
}

static void sort_abandon(load_gen_t *g, load_req_t *r) {
  sort_req_t *q = container_of(r, sort_req_t, req);
  (void)g;
  q->done = true;
  uv_close((uv_handle_t *)&q->tcp, on_close);
}

static int sort_open(load_gen_t *g, char *err, size_t errlen) {
  (void)g;
  (void)err;
  (void)errlen;
  return 0;
}

/* Each connection closes itself when its request ends or is abandoned;
 * the back-end has no handle of its own. */
static void sort_close(load_gen_t *g) {
  (void)g;
}

static void sort_destroy(load_gen_t *g) {
  load_sort_t *s = load_gen_backend(g);
  if (s == NULL)
    return;
  load_payload_set_free(&s->payloads);
  free(s);
}

static const load_gen_ops_t sort_ops = {
    sort_open, sort_start, sort_abandon, sort_close, sort_destroy,
};

static int sort_setup(load_gen_t *g, char *err, size_t errlen) {
  const load_opts_t *o = load_gen_opts(g);
  /* One socket per request in flight. */
  if (load_gen_fit_fd_limit(g, err, errlen) != 0)
    return UV_EINVAL;
  load_sort_t *s = calloc(1, sizeof(*s));
  if (s == NULL) {
    snprintf(err, errlen, "out of memory");
    return UV_ENOMEM;
  }
  load_gen_set_backend(g, &sort_ops, s);
  if (o->payload != NULL) {
    if (load_payload_from_file(&s->payloads, o->payload, err, errlen) != 0)
      return UV_EINVAL;
  } else if (load_payload_generate(&s->payloads, o->payloads, o->size, o->seed) != 0) {
    snprintf(err, errlen, "out of memory preparing %u payloads of %zu numbers", o->payloads,
             o->size);
    return UV_ENOMEM;
  }
  return 0;
}

const load_backend_t load_sort_backend = {"sort", LOAD_MODE_SORT, sort_setup};
