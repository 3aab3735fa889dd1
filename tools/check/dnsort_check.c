/* dnsort-check: a health check for dnsortd, libc only (it runs as the
 * container HEALTHCHECK and as the Kubernetes probes, so it must start fast
 * and need nothing the runtime image does not have).
 *
 *   1. DNS over UDP: one A query (RD set, no EDNS) for --name; the reply
 *      must carry the query's ID, QR=1, opcode QUERY, TC=0, RCODE NOERROR,
 *      the question echoed byte for byte, and an A record with --expect.
 *      Replies with another ID are ignored (they are someone else's); the
 *      query is resent every 500 ms until the deadline.
 *   2. Sort over TCP: the framed request [3, 1, 2] (8-byte big-endian
 *      length, then the JSON body); the whole reply up to the server's
 *      close must be exactly "[1, 2, 3]".
 *
 *   3. With --http ADDR:PORT[/PATH]: one HTTP/1.1 GET of PATH (default
 *      /health, dnsortd's liveness endpoint on its --metrics listener);
 *      the status must be 200. Given --http, the DNS and sort checks run
 *      only if --dns or --sort is given too, so that a probe of the HTTP
 *      endpoint alone needs nothing else.
 *
 * The checks share one deadline (--timeout seconds from start). Exit 0 when
 * all pass, 1 with one line on stderr naming the first failure, 2 on a
 * usage error. Replies are read with dns_wire's reader (libc only, linked
 * statically). */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <math.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "dns_wire.h"
#include "loop_addr.h"

#define DEFAULT_DNS "127.0.0.1:4343"
#define DEFAULT_SORT "127.0.0.1:2015"
#define DEFAULT_NAME "facebook.com"
#define DEFAULT_EXPECT "173.252.120.6"
#define DEFAULT_TIMEOUT 2.0
#define SORT_BODY "[3, 1, 2]"
#define SORT_REPLY "[1, 2, 3]"
#define DNS_RESEND_MS 500
#define HTTP_DEFAULT_PATH "/health"
#define HTTP_MAX_PATH 256
/* The status line and a little more; the rest of a response (a whole
 * scrape, if PATH is /metrics) is not needed. */
#define HTTP_MAX_KEPT 1024

#ifndef DNSORT_VERSION
#define DNSORT_VERSION "unknown"
#endif

#if defined(__GNUC__)
#define PRINTF_LIKE(f, a) __attribute__((format(printf, f, a)))
#else
#define PRINTF_LIKE(f, a)
#endif

static char reason[512];

/* Record why the check failed; the first reason wins. Returns -1. */
PRINTF_LIKE(1, 2)
static int fail(const char *fmt, ...) {
  if (reason[0] != '\0')
    return -1;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(reason, sizeof(reason), fmt, ap);
  va_end(ap);
  return -1;
}

PRINTF_LIKE(1, 2)
static void usage_error(const char *fmt, ...) {
  va_list ap;
  fputs("dnsort-check: ", stderr);
  va_start(ap, fmt);
  vfprintf(stderr, fmt, ap);
  va_end(ap);
  fputs(" (try --help)\n", stderr);
  exit(2);
}

static void usage(FILE *out) {
  fputs(
      "Usage: dnsort-check [--dns ADDR:PORT] [--sort ADDR:PORT] [--timeout S]\n"
      "                    [--name NAME] [--expect IPV4] [--http ADDR:PORT[/PATH]]\n"
      "Health check for dnsortd: one DNS A query over UDP and one sort request\n"
      "over TCP; with --http, one HTTP GET instead (and the others only if --dns\n"
      "or --sort is given too). Exit 0 if all pass, 1 (with the reason on stderr)\n"
      "if not, 2 on a usage error.\n"
      "\n"
      "  --dns ADDR:PORT   DNS responder (default " DEFAULT_DNS
      "; IPv6 as [::1]:4343)\n"
      "  --sort ADDR:PORT  sort service (default " DEFAULT_SORT
      ")\n"
      "  --timeout S       deadline for both checks together, in seconds\n"
      "                    (default 2; fractions allowed)\n"
      "  --name NAME       name to query (default " DEFAULT_NAME
      ")\n"
      "  --expect IPV4     address the answer must contain (default " DEFAULT_EXPECT
      ")\n"
      "  --http ADDR:PORT[/PATH]\n"
      "                    GET http://ADDR:PORT/PATH must answer 200 (PATH defaults\n"
      "                    to " HTTP_DEFAULT_PATH
      ", dnsortd's liveness probe on its --metrics\n"
      "                    listener; /ready is its readiness probe)\n"
      "  -h, --help        show this help and exit\n"
      "  -V, --version     show the version and exit\n"
      "\n"
      "The sort check sends [3, 1, 2] framed with an 8-byte big-endian length\n"
      "and expects exactly \"" SORT_REPLY "\" back.\n",
      out);
}

/* ---- addresses and time ---- */

/* A server address: loop_parse_addr's form, minus port 0 (nothing to
 * check there). */
static int parse_addr(const char *text, struct sockaddr_storage *out, socklen_t *outlen) {
  if (loop_parse_addr(text, out) != 0 || loop_addr_port((const struct sockaddr *)out) == 0)
    return -1;
  *outlen = loop_addr_len((const struct sockaddr *)out);
  return 0;
}

static int64_t now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Milliseconds left until deadline, for poll(): 0 when it has passed. */
static int left_ms(int64_t deadline) {
  int64_t left = deadline - now_ms();
  if (left <= 0)
    return 0;
  return left > 3600000 ? 3600000 : (int)left;
}

/* Wait for events on fd until the deadline. Returns the revents, 0 on
 * timeout, -1 on a poll error. */
static int wait_fd(int fd, short events, int64_t deadline, int max_ms) {
  for (;;) {
    int ms = left_ms(deadline);
    if (ms == 0)
      return 0;
    if (max_ms >= 0 && ms > max_ms)
      ms = max_ms;
    struct pollfd p = {.fd = fd, .events = events, .revents = 0};
    int n = poll(&p, 1, ms);
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0)
      return -1;
    return n == 0 ? 0 : p.revents;
  }
}

/* Printable copy of at most 60 bytes of data, for messages. */
static const char *printable(const unsigned char *data, size_t len) {
  static char buf[80];
  size_t o = 0;
  for (size_t i = 0; i < len && o < 60; i++)
    buf[o++] = (data[i] >= 0x20 && data[i] < 0x7f) ? (char)data[i] : '?';
  if (len > 60) {
    memcpy(buf + o, "...", 3);
    o += 3;
  }
  buf[o] = '\0';
  return buf;
}

/* ---- DNS over UDP ---- */

static const char *const rcode_names[] = {
    "NOERROR", "FORMERR", "SERVFAIL", "NXDOMAIN", "NOTIMP", "REFUSED",
};

/* Encode name as wire labels. Returns the length, or -1. */
static int encode_name(const char *name, unsigned char *out, size_t cap) {
  size_t o = 0;
  const char *p = name;
  if (strcmp(name, ".") == 0)
    p = "";
  while (*p != '\0') {
    const char *dot = strchr(p, '.');
    size_t n = dot != NULL ? (size_t)(dot - p) : strlen(p);
    if (n == 0 || n > 63 || o + 1 + n + 1 > cap)
      return -1;
    out[o++] = (unsigned char)n;
    memcpy(out + o, p, n);
    o += n;
    p += n;
    if (*p == '.')
      p++;
  }
  if (o + 1 > cap || o + 1 > 255)
    return -1;
  out[o++] = 0;
  return (int)o;
}

/* Check a reply whose header h, read with r, has the query's ID. Returns 0
 * or -1 (reason set). */
static int check_dns_reply(dns_reader_t r, const dns_header_t *h, const unsigned char *query,
                           size_t qlen, const char *name, struct in_addr expect) {
  char want[INET_ADDRSTRLEN];
  inet_ntop(AF_INET, &expect, want, sizeof(want));

  if (!(h->flags & DNS_FLAG_QR))
    return fail("dns: reply has QR=0");
  if (dns_flags_opcode(h->flags) != 0)
    return fail("dns: reply opcode %u, not QUERY", dns_flags_opcode(h->flags));
  if (h->flags & DNS_FLAG_TC)
    return fail("dns: reply truncated (TC=1)");
  unsigned rcode = dns_flags_rcode(h->flags);
  if (rcode != 0) {
    if (rcode < sizeof(rcode_names) / sizeof(rcode_names[0]))
      return fail("dns: %s for %s", rcode_names[rcode], name);
    return fail("dns: rcode %u for %s", rcode, name);
  }
  if (h->qdcount != 1)
    return fail("dns: reply has %u questions, not 1", h->qdcount);
  /* The question section of the query: from byte 12 to the end. */
  size_t question_len = qlen - DNS_HEADER_SIZE;
  const uint8_t *question;
  if (!dns_read_bytes(&r, question_len, &question) ||
      memcmp(question, query + DNS_HEADER_SIZE, question_len) != 0)
    return fail("dns: reply does not echo the question");

  char got[256] = "";
  size_t gotlen = 0;
  for (unsigned i = 0; i < h->ancount; i++) {
    dns_record_t rr;
    switch (dns_read_record(&r, &rr)) {
    case DNS_RECORD_OK:
      break;
    case DNS_RECORD_MALFORMED:
      return fail("dns: malformed answer record %u", i + 1);
    case DNS_RECORD_RDATA_PAST_END:
      return fail("dns: answer record %u runs past the message", i + 1);
    }
    if (rr.type != DNS_TYPE_A || rr.rclass != DNS_CLASS_IN || rr.rdlen != 4)
      continue;
    if (memcmp(rr.rdata, &expect.s_addr, 4) == 0)
      return 0;
    char a[INET_ADDRSTRLEN];
    inet_ntop(AF_INET, rr.rdata, a, sizeof(a));
    int w = snprintf(got + gotlen, sizeof(got) - gotlen, "%s%s", gotlen ? ", " : "", a);
    if (w > 0 && (size_t)w < sizeof(got) - gotlen)
      gotlen += (size_t)w;
  }
  if (h->ancount == 0)
    return fail("dns: no answer for %s (expected %s)", name, want);
  if (gotlen == 0)
    return fail("dns: no A record for %s (expected %s)", name, want);
  return fail("dns: %s is %s, expected %s", name, got, want);
}

static int check_dns(const struct sockaddr_storage *sa, socklen_t salen, const char *addr_text,
                     const char *name, struct in_addr expect, int64_t deadline) {
  unsigned char query[12 + 256 + 4];
  uint16_t id;
  if (getrandom(&id, sizeof(id), GRND_NONBLOCK) != (ssize_t)sizeof(id))
    id = (uint16_t)(now_ms() ^ getpid());
  memset(query, 0, 12);
  query[0] = (unsigned char)(id >> 8);
  query[1] = (unsigned char)id;
  query[2] = 0x01; /* RD */
  query[5] = 1;    /* QDCOUNT */
  int nlen = encode_name(name, query + 12, 256);
  if (nlen < 0)
    return fail("dns: cannot encode the name '%s'", name);
  size_t qlen = 12 + (size_t)nlen;
  query[qlen++] = 0;
  query[qlen++] = 1; /* A */
  query[qlen++] = 0;
  query[qlen++] = 1; /* IN */

  int fd = socket(sa->ss_family, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0)
    return fail("dns: socket: %s", strerror(errno));
  /* connect() filters replies by source and turns an ICMP port
   * unreachable into ECONNREFUSED, so a dead server fails at once. */
  if (connect(fd, (const struct sockaddr *)sa, salen) != 0) {
    int e = errno;
    close(fd);
    return fail("dns: udp://%s: %s", addr_text, strerror(e));
  }

  int rc = -1;
  unsigned mismatched = 0;
  int64_t next_send = 0;
  unsigned char reply[4096];
  for (;;) {
    if (now_ms() >= next_send) {
      if (send(fd, query, qlen, 0) < 0 && errno != EAGAIN && errno != EINTR) {
        fail("dns: udp://%s: %s", addr_text, strerror(errno));
        break;
      }
      next_send = now_ms() + DNS_RESEND_MS;
    }
    int64_t until_resend = next_send - now_ms();
    int ev = wait_fd(fd, POLLIN, deadline, until_resend > 0 ? (int)until_resend : 0);
    if (ev < 0) {
      fail("dns: poll: %s", strerror(errno));
      break;
    }
    if (ev == 0) {
      if (left_ms(deadline) > 0)
        continue; /* time to resend */
      if (mismatched)
        fail("dns: no reply with ID %u from udp://%s (%u with another ID)", id, addr_text,
             mismatched);
      else
        fail("dns: no reply from udp://%s", addr_text);
      break;
    }
    ssize_t n = recv(fd, reply, sizeof(reply), 0);
    if (n < 0) {
      if (errno == EAGAIN || errno == EINTR)
        continue;
      fail("dns: udp://%s: %s", addr_text, strerror(errno));
      break;
    }
    dns_reader_t r = dns_reader(reply, (size_t)n);
    dns_header_t h;
    if (!dns_read_header(&r, &h) || h.id != id) {
      mismatched++;
      continue;
    }
    rc = check_dns_reply(r, &h, query, qlen, name, expect);
    break;
  }
  close(fd);
  return rc;
}

/* ---- TCP, for the sort and HTTP checks ---- */

/* Connect before the deadline. Returns the socket, or -1 with the reason
 * set ("WHAT: tcp://ADDR: ..."). */
static int tcp_connect(const struct sockaddr_storage *sa, socklen_t salen, const char *what,
                       const char *addr_text, int64_t deadline) {
  int fd = socket(sa->ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0)
    return fail("%s: socket: %s", what, strerror(errno));
  if (connect(fd, (const struct sockaddr *)sa, salen) == 0)
    return fd;
  if (errno != EINPROGRESS) {
    fail("%s: tcp://%s: %s", what, addr_text, strerror(errno));
    goto fail;
  }
  int ev = wait_fd(fd, POLLOUT, deadline, -1);
  if (ev <= 0) {
    fail("%s: tcp://%s: %s", what, addr_text, ev == 0 ? "connect timed out" : strerror(errno));
    goto fail;
  }
  int err = 0;
  socklen_t errlen = sizeof(err);
  if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &errlen) != 0)
    err = errno;
  if (err == 0)
    return fd;
  fail("%s: tcp://%s: %s", what, addr_text, strerror(err));
fail:
  close(fd);
  return -1;
}

/* Send all of data before the deadline. Returns 0, or -1 with the reason
 * set. */
static int tcp_send_all(int fd, const void *data, size_t len, const char *what,
                        const char *addr_text, int64_t deadline) {
  size_t sent = 0;
  while (sent < len) {
    ssize_t n = send(fd, (const char *)data + sent, len - sent, MSG_NOSIGNAL);
    if (n >= 0) {
      sent += (size_t)n;
      continue;
    }
    if (errno == EINTR)
      continue;
    if (errno != EAGAIN)
      return fail("%s: tcp://%s: send: %s", what, addr_text, strerror(errno));
    if (wait_fd(fd, POLLOUT, deadline, -1) <= 0)
      return fail("%s: tcp://%s: send timed out", what, addr_text);
  }
  return 0;
}

typedef enum {
  RECV_CLOSED, /* the peer closed: buf holds all it sent */
  RECV_FULL,   /* buf is full; the rest was not read */
  RECV_ERROR,  /* errno says why */
  RECV_TIMEOUT,
} recv_result_t;

/* Read into buf until the peer closes, buf is full, or the deadline;
 * *got is the number of bytes kept. */
static recv_result_t recv_until_close(int fd, unsigned char *buf, size_t cap, size_t *got,
                                      int64_t deadline) {
  *got = 0;
  for (;;) {
    if (*got == cap)
      return RECV_FULL;
    ssize_t n = recv(fd, buf + *got, cap - *got, 0);
    if (n == 0)
      return RECV_CLOSED;
    if (n > 0) {
      *got += (size_t)n;
      continue;
    }
    if (errno == EINTR)
      continue;
    if (errno != EAGAIN)
      return RECV_ERROR;
    if (wait_fd(fd, POLLIN, deadline, -1) <= 0)
      return RECV_TIMEOUT;
  }
}

/* ---- sort over TCP ---- */

static int check_sort(const struct sockaddr_storage *sa, socklen_t salen, const char *addr_text,
                      int64_t deadline) {
  unsigned char req[8 + sizeof(SORT_BODY) - 1];
  uint64_t body = sizeof(SORT_BODY) - 1;
  for (int i = 0; i < 8; i++)
    req[i] = (unsigned char)(body >> (56 - 8 * i));
  memcpy(req + 8, SORT_BODY, sizeof(SORT_BODY) - 1);

  int fd = tcp_connect(sa, salen, "sort", addr_text, deadline);
  if (fd < 0)
    return -1;
  int rc = -1;
  if (tcp_send_all(fd, req, sizeof(req), "sort", addr_text, deadline) != 0)
    goto out;
  /* No shutdown(SHUT_WR): a dnsortd run with --cancel-on-eof takes a FIN
   * that arrives while the sort is pending as "the client has gone" and
   * cancels the job. */

  unsigned char reply[512];
  size_t got;
  switch (recv_until_close(fd, reply, sizeof(reply), &got, deadline)) {
  case RECV_CLOSED:
    break;
  case RECV_FULL:
    fail("sort: reply longer than %zu bytes: %s", sizeof(reply) - 1, printable(reply, got));
    goto out;
  case RECV_ERROR:
    fail("sort: tcp://%s: recv: %s%s%s", addr_text, strerror(errno), got ? " after " : "",
         got ? printable(reply, got) : "");
    goto out;
  case RECV_TIMEOUT:
    if (got)
      fail("sort: tcp://%s: timed out after a partial reply: %s", addr_text, printable(reply, got));
    else
      fail("sort: tcp://%s: no reply", addr_text);
    goto out;
  }
  if (got != sizeof(SORT_REPLY) - 1 || memcmp(reply, SORT_REPLY, got) != 0) {
    if (got == 0)
      fail("sort: tcp://%s closed the connection without a reply", addr_text);
    else
      fail("sort: expected " SORT_REPLY ", got %s", printable(reply, got));
    goto out;
  }
  rc = 0;
out:
  close(fd);
  return rc;
}

/* ---- HTTP ---- */

/* The status of an HTTP/1.x status line at the start of text, or -1. */
static int http_status(const unsigned char *text, size_t len) {
  if (len < 13 || memcmp(text, "HTTP/1.", 7) != 0 || text[7] < '0' || text[7] > '9' ||
      text[8] != ' ')
    return -1;
  int status = 0;
  for (size_t i = 9; i < 12; i++) {
    if (text[i] < '0' || text[i] > '9')
      return -1;
    status = status * 10 + (text[i] - '0');
  }
  if (text[12] != ' ' && text[12] != '\r')
    return -1;
  return status;
}

static int check_http(const struct sockaddr_storage *sa, socklen_t salen, const char *addr_text,
                      const char *path, int64_t deadline) {
  char req[HTTP_MAX_PATH + 256];
  int len = snprintf(req, sizeof(req),
                     "GET %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: dnsort-check/" DNSORT_VERSION
                     "\r\nConnection: close\r\n\r\n",
                     path, addr_text);
  if (len < 0 || (size_t)len >= sizeof(req))
    return fail("http: request too long");
  int fd = tcp_connect(sa, salen, "http", addr_text, deadline);
  if (fd < 0)
    return -1;
  int rc = -1;
  if (tcp_send_all(fd, req, (size_t)len, "http", addr_text, deadline) != 0)
    goto out;
  unsigned char reply[HTTP_MAX_KEPT];
  size_t got;
  recv_result_t res = recv_until_close(fd, reply, sizeof(reply), &got, deadline);
  if (res == RECV_ERROR) {
    fail("http: http://%s%s: recv: %s", addr_text, path, strerror(errno));
    goto out;
  }
  if (res == RECV_TIMEOUT && got == 0) {
    fail("http: http://%s%s: no response", addr_text, path);
    goto out;
  }
  const unsigned char *eol = memchr(reply, '\n', got);
  if (res == RECV_TIMEOUT && eol == NULL) {
    fail("http: http://%s%s: timed out after a partial response: %s", addr_text, path,
         printable(reply, got));
    goto out;
  }
  size_t line = eol != NULL ? (size_t)(eol - reply) : got;
  if (line > 0 && reply[line - 1] == '\r')
    line--;
  int status = http_status(reply, got);
  if (status < 0) {
    if (got == 0)
      fail("http: http://%s%s closed the connection without a response", addr_text, path);
    else
      fail("http: http://%s%s: not an HTTP response: %s", addr_text, path, printable(reply, got));
    goto out;
  }
  if (status != 200) {
    fail("http: http://%s%s: %s", addr_text, path, printable(reply + 9, line - 9));
    goto out;
  }
  rc = 0;
out:
  close(fd);
  return rc;
}

/* --http's value: [http://]ADDR:PORT[/PATH]. Returns 0 with addr (text
 * and socket address) and path set, or -1. */
static int parse_http_target(const char *text, char *addr, size_t addr_cap,
                             struct sockaddr_storage *sa, socklen_t *salen, const char **path) {
  if (strncmp(text, "http://", 7) == 0)
    text += 7;
  const char *slash = strchr(text, '/');
  size_t n = slash != NULL ? (size_t)(slash - text) : strlen(text);
  if (n == 0 || n >= addr_cap)
    return -1;
  memcpy(addr, text, n);
  addr[n] = '\0';
  if (parse_addr(addr, sa, salen) != 0)
    return -1;
  *path = slash != NULL ? slash : HTTP_DEFAULT_PATH;
  size_t plen = strlen(*path);
  if (plen >= HTTP_MAX_PATH)
    return -1;
  for (size_t i = 0; i < plen; i++) {
    unsigned char c = (unsigned char)(*path)[i];
    if (c <= 0x20 || c >= 0x7f)
      return -1;
  }
  return 0;
}

/* ---- main ---- */

/* The command line: as given, then as parsed by check_targets. */
typedef struct {
  const char *dns_text, *sort_text, *name, *expect_text, *http_text;
  double timeout;
  bool dns_given, sort_given, name_given;
  bool do_dns, do_sort;
  struct sockaddr_storage dns_sa, sort_sa, http_sa;
  socklen_t dns_len, sort_len, http_len;
  struct in_addr expect;
  char http_addr[80];
  const char *http_path;
} check_args_t;

static double parse_timeout(const char *text) {
  char *end;
  errno = 0;
  double timeout = strtod(text, &end);
  if (errno != 0 || end == text || *end != '\0' || !isfinite(timeout) || timeout <= 0 ||
      timeout > 3600)
    usage_error("--timeout: '%s' is not a number of seconds above 0 and at most 3600", text);
  return timeout;
}

/* The options into a; true when --help or --version has answered. */
static bool parse_options(int argc, char **argv, check_args_t *a) {
  static const struct option longopts[] = {
      {"dns", required_argument, NULL, 'd'},
      {"sort", required_argument, NULL, 's'},
      {"timeout", required_argument, NULL, 't'},
      {"name", required_argument, NULL, 'n'},
      {"expect", required_argument, NULL, 'e'},
      {"http", required_argument, NULL, 'H'},
      {"help", no_argument, NULL, 'h'},
      {"version", no_argument, NULL, 'V'},
      {NULL, 0, NULL, 0},
  };
  opterr = 0;
  int c;
  while ((c = getopt_long(argc, argv, ":hV", longopts, NULL)) != -1) {
    switch (c) {
    case 'd':
      a->dns_text = optarg;
      a->dns_given = true;
      break;
    case 's':
      a->sort_text = optarg;
      a->sort_given = true;
      break;
    case 'n':
      a->name = optarg;
      a->name_given = true;
      break;
    case 'e':
      a->expect_text = optarg;
      a->name_given = true;
      break;
    case 'H':
      a->http_text = optarg;
      break;
    case 't':
      a->timeout = parse_timeout(optarg);
      break;
    case 'h':
      usage(stdout);
      return true;
    case 'V':
      printf("dnsort-check %s\n", DNSORT_VERSION);
      return true;
    case ':':
      usage_error("%s needs a value", argv[optind - 1]);
      break;
    default:
      usage_error("unknown option '%s'", argv[optind - 1]);
      break;
    }
  }
  if (optind < argc)
    usage_error("unexpected argument '%s'", argv[optind]);
  return false;
}

/* Parse what the options name, and settle which checks run; a bad one
 * is a usage error. */
static void check_targets(check_args_t *a) {
  if (parse_addr(a->dns_text, &a->dns_sa, &a->dns_len) != 0)
    usage_error("--dns: '%s' is not ADDR:PORT (IPv6 as [ADDR]:PORT)", a->dns_text);
  if (parse_addr(a->sort_text, &a->sort_sa, &a->sort_len) != 0)
    usage_error("--sort: '%s' is not ADDR:PORT (IPv6 as [ADDR]:PORT)", a->sort_text);
  if (inet_pton(AF_INET, a->expect_text, &a->expect) != 1)
    usage_error("--expect: '%s' is not an IPv4 address", a->expect_text);
  unsigned char scratch[256];
  if (encode_name(a->name, scratch, sizeof(scratch)) < 0)
    usage_error("--name: '%s' is not a DNS name", a->name);

  a->do_dns = a->http_text == NULL || a->dns_given;
  a->do_sort = a->http_text == NULL || a->sort_given;
  if (a->name_given && !a->do_dns)
    usage_error("--name and --expect belong to the DNS check: with --http, add --dns");
  if (a->http_text != NULL && parse_http_target(a->http_text, a->http_addr, sizeof(a->http_addr),
                                                &a->http_sa, &a->http_len, &a->http_path) != 0)
    usage_error(
        "--http: '%s' is not ADDR:PORT[/PATH] (IPv6 as [ADDR]:PORT; a PATH of at "
        "most %d printable characters)",
        a->http_text, HTTP_MAX_PATH - 1);
}

static void print_ok(const check_args_t *a) {
  const char *sep = " ";
  printf("dnsort-check: ok:");
  if (a->do_dns) {
    printf("%s%s A %s via udp://%s", sep, a->name, a->expect_text, a->dns_text);
    sep = ", ";
  }
  if (a->do_sort) {
    printf("%s" SORT_BODY " -> " SORT_REPLY " via tcp://%s", sep, a->sort_text);
    sep = ", ";
  }
  if (a->http_text != NULL)
    printf("%s200 from http://%s%s", sep, a->http_addr, a->http_path);
  printf("\n");
}

int main(int argc, char **argv) {
  check_args_t a = {
      .dns_text = DEFAULT_DNS,
      .sort_text = DEFAULT_SORT,
      .name = DEFAULT_NAME,
      .expect_text = DEFAULT_EXPECT,
      .timeout = DEFAULT_TIMEOUT,
  };
  if (parse_options(argc, argv, &a))
    return 0;
  check_targets(&a);

  int64_t deadline = now_ms() + (int64_t)(a.timeout * 1000.0 + 0.5);
  if ((a.do_dns && check_dns(&a.dns_sa, a.dns_len, a.dns_text, a.name, a.expect, deadline) != 0) ||
      (a.do_sort && check_sort(&a.sort_sa, a.sort_len, a.sort_text, deadline) != 0) ||
      (a.http_text != NULL &&
       check_http(&a.http_sa, a.http_len, a.http_addr, a.http_path, deadline) != 0)) {
    if (reason[0] == '\0')
      snprintf(reason, sizeof(reason), "failed");
    fprintf(stderr, "dnsort-check: %s\n", reason);
    return 1;
  }
  print_ok(&a);
  return 0;
}
