/* bench/io_floor.c: the I/O floor of the sort service, for bench/sort.sh.
 *
 * A minimal libuv TCP server that speaks the sort protocol's framing and
 * nothing more: per connection it reads the 8-byte big-endian length and
 * that many body bytes (counted, not kept, not parsed), writes the fixed
 * reply "[1, 2, 3]" and closes. No JSON, no sort, no worker pool, no limits,
 * no timeouts. What a small sort request costs in accept + read + write +
 * close on one libuv loop: the least dnsortd could spend.
 *
 *   cc -O2 -o io_floor io_floor.c $(pkg-config --cflags --libs libuv)
 *   io_floor PORT        # 127.0.0.1:PORT, 0 picks a free port
 *
 * Prints "io_floor listening tcp://127.0.0.1:PORT" once bound. Runs until
 * killed. dnsort-load counts its replies as wrong_reply (they are not the
 * sorted request); bench/sort.sh counts every reply for the floor.
 */
#include <arpa/inet.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

static const char REPLY[] = "[1, 2, 3]";

typedef struct {
  uv_tcp_t tcp;
  uv_write_t write;
  unsigned char head[8];
  size_t head_len;   /* bytes of the length prefix seen */
  uint64_t body_len; /* from the prefix */
  uint64_t body_got; /* body bytes seen */
  int replied;
} conn_t;

/* One read buffer for every connection: the loop is single-threaded and
 * the bytes are only counted, never kept. */
static char read_buf[65536];

static void on_close(uv_handle_t *h) {
  free(h->data);
}

static void close_conn(conn_t *c) {
  if (!uv_is_closing((uv_handle_t *)&c->tcp))
    uv_close((uv_handle_t *)&c->tcp, on_close);
}

static void on_write(uv_write_t *w, int status) {
  (void)status;
  close_conn(w->data);
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf) {
  (void)h;
  (void)suggested;
  buf->base = read_buf;
  buf->len = sizeof read_buf;
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf) {
  conn_t *c = s->data;
  if (nread < 0) { /* EOF or error before the whole request: just close */
    close_conn(c);
    return;
  }
  if (c->replied)
    return; /* bytes after the body are ignored */
  size_t i = 0, n = (size_t)nread;
  if (c->head_len < 8) {
    while (c->head_len < 8 && i < n)
      c->head[c->head_len++] = (unsigned char)buf->base[i++];
    if (c->head_len < 8)
      return;
    for (int k = 0; k < 8; k++)
      c->body_len = c->body_len << 8 | c->head[k];
  }
  uint64_t left = c->body_len - c->body_got;
  uint64_t take = (uint64_t)(n - i) < left ? (uint64_t)(n - i) : left;
  c->body_got += take;
  if (c->body_got < c->body_len)
    return;
  c->replied = 1;
  uv_buf_t out = uv_buf_init((char *)REPLY, sizeof REPLY - 1);
  c->write.data = c;
  if (uv_write(&c->write, s, &out, 1, on_write) != 0)
    close_conn(c);
}

static void on_connection(uv_stream_t *server, int status) {
  if (status < 0)
    return;
  conn_t *c = calloc(1, sizeof *c);
  if (c == NULL)
    return;
  uv_tcp_init(server->loop, &c->tcp);
  c->tcp.data = c;
  if (uv_accept(server, (uv_stream_t *)&c->tcp) != 0 ||
      uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read) != 0)
    close_conn(c);
}

int main(int argc, char **argv) {
  int port = argc > 1 ? atoi(argv[1]) : 2015;
  uv_loop_t *loop = uv_default_loop();
  uv_tcp_t server;
  struct sockaddr_in addr;
  uv_ip4_addr("127.0.0.1", port, &addr);
  uv_tcp_init(loop, &server);
  int r = uv_tcp_bind(&server, (const struct sockaddr *)&addr, 0);
  if (r == 0)
    r = uv_listen((uv_stream_t *)&server, 4096, on_connection);
  if (r != 0) {
    fprintf(stderr, "io_floor: cannot listen on 127.0.0.1:%d: %s\n", port,
            uv_strerror(r));
    return 1;
  }
  struct sockaddr_storage ss;
  int len = sizeof ss;
  uv_tcp_getsockname(&server, (struct sockaddr *)&ss, &len);
  printf("io_floor listening tcp://127.0.0.1:%d\n",
         ntohs(((struct sockaddr_in *)&ss)->sin_port));
  fflush(stdout);
  return uv_run(loop, UV_RUN_DEFAULT);
}
