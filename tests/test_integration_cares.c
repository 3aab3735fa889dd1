/* Integration test: the real dnsortd, queried over UDP by c-ares (1.18 API)
 * as an independent client.
 *
 *   test_integration_cares /path/to/dnsortd
 *
 * Starts dnsortd on ephemeral ports, reads its "listening" line, runs every
 * DNS case twice (plain and with EDNS), then a burst of 200 queries in
 * flight at once, and finally stops the server with SIGTERM and expects
 * exit status 0. Prints "ok - <case>" or "not ok - <case>" per case and a
 * summary; exits 0 only if every case passed.
 *
 * Time bound: startup waits at most 10 s, every query phase ends by
 * T0 + QUERY_BUDGET_MS whatever the server does, and shutdown waits at most
 * 10 s, so the whole run stays under 30 s even against a mute server. */
#include <ares.h>
#include <ares_nameser.h>
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define STARTUP_TIMEOUT_MS 10000
#define SHUTDOWN_TIMEOUT_MS 10000
/* All queries of the run must be done by T0 + this. */
#define QUERY_BUDGET_MS 15000
/* One case: c-ares gives up after 2000 ms + 4000 ms (TRIES 2, the timeout
 * doubles per round); a little more than that. */
#define CASE_TIMEOUT_MS 7000
#define BURST_SIZE 200
#define EXPECTED_TTL 60

#define DNS_TYPE_OPT 41
#define DNS_RCODE_NOERROR 0
#define DNS_RCODE_REFUSED 5

/* ---------------------------------------------------------------- checks */

static int64_t g_t0_ms;

static int64_t now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

__attribute__((format(printf, 4, 5))) static void
report_failure(const char *file, int line, const char *cond, const char *fmt,
               ...) {
  va_list ap;
  printf("#   %s:%d: check failed: %s\n#     ", file, line, cond);
  va_start(ap, fmt);
  vprintf(fmt, ap);
  va_end(ap);
  printf("\n");
  fflush(stdout);
}

/* In a function returning bool: report file:line, the condition and a
 * message, and return false. The message is mandatory (ISO C needs at least
 * one variadic argument). */
#define CHECK(cond, ...)                                          \
  do {                                                            \
    if (!(cond)) {                                                \
      report_failure(__FILE__, __LINE__, #cond, __VA_ARGS__);     \
      return false;                                               \
    }                                                             \
  } while (0)

static int g_passed, g_failed;

static void record(bool ok, const char *name) {
  if (ok)
    g_passed++;
  else
    g_failed++;
  printf("%s - %s\n", ok ? "ok" : "not ok", name);
  fflush(stdout);
}

/* ---------------------------------------------------------------- server */

typedef struct {
  pid_t pid;       /* -1 when there is no child to reap */
  int out_fd;      /* read end of the child's stdout, or -1 */
  char out[1024];  /* everything read from the child's stdout */
  size_t out_len;
  char dns_host[64];
  unsigned dns_port;
} server_t;

static server_t g_server = {.pid = -1, .out_fd = -1};

/* SIGKILL and reap the child if it is still ours. Safe to call twice. */
static void server_kill(server_t *s) {
  if (s->pid > 0) {
    kill(s->pid, SIGKILL);
    while (waitpid(s->pid, NULL, 0) < 0 && errno == EINTR) {
    }
    s->pid = -1;
  }
  if (s->out_fd >= 0) {
    close(s->out_fd);
    s->out_fd = -1;
  }
}

/* Wait for the child to exit until deadline; true if it did (and was
 * reaped), with its wait status in *status. */
static bool server_wait(server_t *s, int64_t deadline, int *status) {
  for (;;) {
    pid_t r = waitpid(s->pid, status, WNOHANG);
    if (r == s->pid) {
      s->pid = -1;
      return true;
    }
    if (r < 0 && errno != EINTR) {
      printf("#   waitpid: %s\n", strerror(errno));
      return false;
    }
    if (now_ms() >= deadline)
      return false;
    struct timespec nap = {0, 10 * 1000 * 1000};
    nanosleep(&nap, NULL);
  }
}

/* Read from the child's stdout into s->out until a newline has arrived or
 * the deadline passes. Returns the length of the first line (without the
 * newline), or -1. */
static long read_first_line(server_t *s, int64_t deadline) {
  for (;;) {
    char *nl = memchr(s->out, '\n', s->out_len);
    if (nl != NULL)
      return (long)(nl - s->out);
    int64_t left = deadline - now_ms();
    if (left <= 0) {
      printf("#   no listening line within %d ms\n", STARTUP_TIMEOUT_MS);
      return -1;
    }
    struct pollfd p = {.fd = s->out_fd, .events = POLLIN};
    int rc = poll(&p, 1, (int)left);
    if (rc < 0 && errno == EINTR)
      continue;
    if (rc < 0) {
      printf("#   poll: %s\n", strerror(errno));
      return -1;
    }
    if (rc == 0)
      continue; /* the deadline check above ends it */
    if (s->out_len + 1 >= sizeof(s->out)) {
      printf("#   stdout line longer than %zu bytes\n", sizeof(s->out));
      return -1;
    }
    ssize_t n = read(s->out_fd, s->out + s->out_len,
                     sizeof(s->out) - 1 - s->out_len);
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0) {
      printf("#   read: %s\n", strerror(errno));
      return -1;
    }
    if (n == 0) {
      printf("#   dnsortd closed stdout before printing a line "
             "(did it exit? see its stderr above)\n");
      return -1;
    }
    s->out_len += (size_t)n;
    s->out[s->out_len] = '\0';
  }
}

/* From "dnsortd listening dns=udp://HOST:PORT sort=tcp://HOST:PORT",
 * take the DNS host and port. */
static bool parse_listening_line(server_t *s, const char *line) {
  static const char prefix[] = "dnsortd listening dns=udp://";
  static const char sort_tag[] = " sort=tcp://";

  CHECK(strncmp(line, prefix, sizeof(prefix) - 1) == 0,
        "unexpected first line: \"%s\"", line);
  const char *addr = line + sizeof(prefix) - 1;
  const char *end = strstr(addr, sort_tag);
  CHECK(end != NULL, "no \"%s\" in \"%s\"", sort_tag, line);
  CHECK(strchr(end + sizeof(sort_tag) - 1, ':') != NULL,
        "sort address has no port in \"%s\"", line);

  /* HOST:PORT; the port follows the last colon. */
  const char *colon = NULL;
  for (const char *p = addr; p < end; p++)
    if (*p == ':')
      colon = p;
  CHECK(colon != NULL && colon > addr, "dns address has no host:port in \"%s\"",
        line);
  size_t host_len = (size_t)(colon - addr);
  CHECK(host_len < sizeof(s->dns_host), "dns host too long in \"%s\"", line);
  memcpy(s->dns_host, addr, host_len);
  s->dns_host[host_len] = '\0';

  char *port_end;
  errno = 0;
  unsigned long port = strtoul(colon + 1, &port_end, 10);
  CHECK(errno == 0 && port_end == end && port > 0 && port <= 65535,
        "bad dns port in \"%s\"", line);
  s->dns_port = (unsigned)port;

  struct in_addr ia;
  CHECK(inet_pton(AF_INET, s->dns_host, &ia) == 1,
        "dns host \"%s\" is not an IPv4 address", s->dns_host);
  return true;
}

static bool server_start(server_t *s, const char *path) {
  int fds[2];
  CHECK(pipe2(fds, O_CLOEXEC) == 0, "pipe2: %s", strerror(errno));

  pid_t parent = getpid();
  fflush(stdout);
  fflush(stderr);
  pid_t pid = fork();
  if (pid < 0) {
    int e = errno;
    close(fds[0]);
    close(fds[1]);
    CHECK(pid >= 0, "fork: %s", strerror(e));
  }
  if (pid == 0) {
    /* Child: stdout to the pipe (dup2 clears O_CLOEXEC), stderr shared with
     * the test so server logs show up next to failures. Die with the test
     * if it is killed (e.g. by a meson timeout). */
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent)
      _exit(126);
    if (dup2(fds[1], STDOUT_FILENO) < 0)
      _exit(126);
    char *const args[] = {(char *)path, "--map", "v6.test=2001:db8::1,192.0.2.6",
                          "--dns", "127.0.0.1:0", "--sort",
                          "127.0.0.1:0", NULL};
    execv(path, args);
    fprintf(stderr, "test_integration_cares: execv %s: %s\n", path,
            strerror(errno));
    _exit(127);
  }
  close(fds[1]);
  s->pid = pid;
  s->out_fd = fds[0];

  long line_len = read_first_line(s, now_ms() + STARTUP_TIMEOUT_MS);
  CHECK(line_len >= 0, "dnsortd (%s) did not report its addresses", path);
  char line[sizeof(s->out)];
  memcpy(line, s->out, (size_t)line_len);
  line[line_len] = '\0';
  printf("# %s\n", line);
  return parse_listening_line(s, line);
}

/* SIGTERM, wait, expect exit status 0 and nothing more on stdout. */
static bool server_stop(server_t *s) {
  int status = 0;
  CHECK(s->pid > 0, "no server to stop");
  CHECK(kill(s->pid, SIGTERM) == 0, "kill(SIGTERM): %s", strerror(errno));
  bool exited = server_wait(s, now_ms() + SHUTDOWN_TIMEOUT_MS, &status);
  CHECK(exited, "dnsortd did not exit within %d ms of SIGTERM",
        SHUTDOWN_TIMEOUT_MS);
  CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0,
        "dnsortd ended with %s %d, expected exit status 0",
        WIFEXITED(status) ? "exit status" : "signal",
        WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));

  /* The child is gone, so the pipe is at EOF after whatever it wrote. */
  for (;;) {
    if (s->out_len + 1 >= sizeof(s->out))
      break;
    ssize_t n = read(s->out_fd, s->out + s->out_len,
                     sizeof(s->out) - 1 - s->out_len);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      break;
    s->out_len += (size_t)n;
  }
  s->out[s->out_len] = '\0';
  const char *nl = memchr(s->out, '\n', s->out_len);
  CHECK(nl != NULL && (size_t)(nl - s->out) + 1 == s->out_len,
        "dnsortd must print exactly one line on stdout; it printed \"%s\"",
        s->out);
  return true;
}

/* ---------------------------------------------------------------- wire */

/* What the test reads from a reply itself, independently of c-ares. */
typedef struct {
  unsigned id;
  bool qr, aa, tc, rd;
  unsigned opcode, rcode;
  unsigned qdcount, ancount, nscount, arcount;
  unsigned n_opt;         /* OPT records in the additional section */
  bool opt_root_owner;
  unsigned opt_udp_size, opt_ext_rcode, opt_version;
  unsigned n_answer_a;    /* answer RRs of type A, class IN, rdlen 4 */
  unsigned n_answer_ttl_ok;
} wire_info_t;

static unsigned be16(const unsigned char *p) {
  return ((unsigned)p[0] << 8) | p[1];
}

static uint32_t be32(const unsigned char *p) {
  return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) |
         ((uint32_t)p[2] << 8) | p[3];
}

/* Skip a possibly compressed name at *pos. */
static bool skip_name(const unsigned char *buf, size_t len, size_t *pos) {
  for (unsigned labels = 0; labels < 128; labels++) {
    if (*pos >= len)
      return false;
    unsigned b = buf[*pos];
    if (b == 0) {
      *pos += 1;
      return true;
    }
    if ((b & 0xC0) == 0xC0) {
      if (*pos + 2 > len)
        return false;
      *pos += 2;
      return true;
    }
    if ((b & 0xC0) != 0)
      return false;
    *pos += 1 + b;
  }
  return false;
}

/* Parse the header and walk every section of a reply. */
static bool parse_wire(const unsigned char *buf, size_t len, wire_info_t *w) {
  memset(w, 0, sizeof(*w));
  CHECK(buf != NULL && len >= 12, "reply shorter than a DNS header (%zu bytes)",
        len);
  unsigned flags = be16(buf + 2);
  w->id = be16(buf);
  w->qr = (flags & 0x8000) != 0;
  w->opcode = (flags >> 11) & 0xF;
  w->aa = (flags & 0x0400) != 0;
  w->tc = (flags & 0x0200) != 0;
  w->rd = (flags & 0x0100) != 0;
  w->rcode = flags & 0xF;
  w->qdcount = be16(buf + 4);
  w->ancount = be16(buf + 6);
  w->nscount = be16(buf + 8);
  w->arcount = be16(buf + 10);

  size_t pos = 12;
  for (unsigned i = 0; i < w->qdcount; i++) {
    CHECK(skip_name(buf, len, &pos) && pos + 4 <= len,
          "question %u is malformed", i);
    pos += 4;
  }
  unsigned total = w->ancount + w->nscount + w->arcount;
  for (unsigned i = 0; i < total; i++) {
    size_t owner = pos;
    CHECK(skip_name(buf, len, &pos) && pos + 10 <= len,
          "resource record %u is malformed", i);
    unsigned type = be16(buf + pos), rclass = be16(buf + pos + 2);
    uint32_t ttl = be32(buf + pos + 4);
    unsigned rdlen = be16(buf + pos + 8);
    pos += 10;
    CHECK(pos + rdlen <= len, "rdata of record %u runs past the end", i);
    pos += rdlen;
    if (i < w->ancount) {
      if (type == T_A && rclass == C_IN && rdlen == 4) {
        w->n_answer_a++;
        if (ttl == EXPECTED_TTL)
          w->n_answer_ttl_ok++;
      }
    } else if (i >= w->ancount + w->nscount && type == DNS_TYPE_OPT) {
      w->n_opt++;
      w->opt_root_owner = buf[owner] == 0;
      w->opt_udp_size = rclass;
      w->opt_ext_rcode = (unsigned)(ttl >> 24);
      w->opt_version = (unsigned)(ttl >> 16) & 0xFF;
    }
  }
  CHECK(pos == len, "%zu trailing bytes after the counted records", len - pos);
  return true;
}

/* ---------------------------------------------------------------- c-ares */

typedef struct {
  int *pending;
  bool done;
  int status;
  int timeouts;
  unsigned char *abuf; /* a copy; c-ares frees its own after the callback */
  int alen;
} query_result_t;

static void on_answer(void *arg, int status, int timeouts,
                      unsigned char *abuf, int alen) {
  query_result_t *r = arg;
  r->done = true;
  r->status = status;
  r->timeouts = timeouts;
  if (abuf != NULL && alen > 0) {
    r->abuf = malloc((size_t)alen);
    if (r->abuf != NULL) {
      memcpy(r->abuf, abuf, (size_t)alen);
      r->alen = alen;
    }
  }
  (*r->pending)--;
}

static void result_free(query_result_t *r) {
  free(r->abuf);
  r->abuf = NULL;
  r->alen = 0;
}

static char g_servers_csv[96];
/* ARES_FLAG_USEVC for the pass over TCP, 0 for UDP. */
static int g_transport_flags;

static bool make_channel(ares_channel *ch, int flags, int rcvbuf) {
  struct ares_options o;
  int mask = ARES_OPT_FLAGS | ARES_OPT_TIMEOUTMS | ARES_OPT_TRIES;

  memset(&o, 0, sizeof(o));
  o.flags = flags;
  o.timeout = 2000; /* milliseconds with ARES_OPT_TIMEOUTMS */
  o.tries = 2;
  if (rcvbuf > 0) {
    o.socket_receive_buffer_size = rcvbuf;
    mask |= ARES_OPT_SOCK_RCVBUF;
  }
  int rc = ares_init_options(ch, &o, mask);
  CHECK(rc == ARES_SUCCESS, "ares_init_options: %s", ares_strerror(rc));
  rc = ares_set_servers_ports_csv(*ch, g_servers_csv);
  if (rc != ARES_SUCCESS) {
    ares_destroy(*ch);
    CHECK(rc == ARES_SUCCESS, "ares_set_servers_ports_csv(\"%s\"): %s",
          g_servers_csv, ares_strerror(rc));
  }
  return true;
}

/* Run the channel with ares_getsock + poll + ares_process_fd until
 * *pending reaches 0 or the deadline passes; on the deadline, cancel what
 * is left (its callbacks get ARES_ECANCELLED) and return false. */
static bool drive(ares_channel ch, const int *pending, int64_t deadline) {
  while (*pending > 0) {
    int64_t left = deadline - now_ms();
    if (left <= 0) {
      ares_cancel(ch);
      return false;
    }

    ares_socket_t socks[ARES_GETSOCK_MAXNUM];
    struct pollfd pfd[ARES_GETSOCK_MAXNUM];
    nfds_t n = 0;
    int bits = ares_getsock(ch, socks, ARES_GETSOCK_MAXNUM);
    for (int i = 0; i < ARES_GETSOCK_MAXNUM; i++) {
      short events = 0;
      /* c-ares' ARES_GETSOCK_WRITABLE shifts a signed 1 into the sign bit
       * for the last slot (UBSan flags it); test the bits unsigned. */
      if (((unsigned)bits >> i) & 1u)
        events |= POLLIN;
      if (((unsigned)bits >> (i + ARES_GETSOCK_MAXNUM)) & 1u)
        events |= POLLOUT;
      if (events == 0)
        continue;
      pfd[n].fd = socks[i];
      pfd[n].events = events;
      pfd[n].revents = 0;
      n++;
    }

    struct timeval maxtv = {(time_t)(left / 1000),
                            (suseconds_t)((left % 1000) * 1000)};
    struct timeval tv;
    struct timeval *tvp = ares_timeout(ch, &maxtv, &tv);
    int64_t wait_ms = (int64_t)tvp->tv_sec * 1000 + (tvp->tv_usec + 999) / 1000;
    if (wait_ms > left)
      wait_ms = left;

    int rc = poll(pfd, n, (int)wait_ms);
    if (rc < 0) {
      if (errno == EINTR)
        continue;
      printf("#   poll: %s\n", strerror(errno));
      ares_cancel(ch);
      return false;
    }
    if (rc == 0) {
      /* Nothing to read: let c-ares handle its timeouts (retries). */
      ares_process_fd(ch, ARES_SOCKET_BAD, ARES_SOCKET_BAD);
      continue;
    }
    for (nfds_t i = 0; i < n; i++) {
      if (pfd[i].revents == 0)
        continue;
      ares_socket_t rfd =
          (pfd[i].revents & (POLLIN | POLLERR | POLLHUP)) ? pfd[i].fd
                                                          : ARES_SOCKET_BAD;
      ares_socket_t wfd =
          (pfd[i].revents & POLLOUT) ? pfd[i].fd : ARES_SOCKET_BAD;
      ares_process_fd(ch, rfd, wfd);
    }
  }
  return true;
}

/* The end of this case's time: CASE_TIMEOUT_MS, but never past the
 * budget of the whole run. */
static int64_t case_deadline(void) {
  int64_t d = now_ms() + CASE_TIMEOUT_MS;
  int64_t budget_end = g_t0_ms + QUERY_BUDGET_MS;
  return d < budget_end ? d : budget_end;
}

/* One query on a fresh channel; fills *r (the caller frees r->abuf). */
static bool run_query(int flags, const char *name, int dnsclass, int type,
                      query_result_t *r) {
  ares_channel ch;
  int pending = 1;

  memset(r, 0, sizeof(*r));
  r->pending = &pending;
  CHECK(now_ms() < g_t0_ms + QUERY_BUDGET_MS,
        "skipped: the time budget of %d ms for all queries is spent",
        QUERY_BUDGET_MS);
  if (!make_channel(&ch, flags, 0))
    return false;
  ares_query(ch, name, dnsclass, type, on_answer, r);
  bool in_time = drive(ch, &pending, case_deadline());
  ares_destroy(ch);
  CHECK(in_time, "no answer within %d ms (status %s)", CASE_TIMEOUT_MS,
        r->done ? ares_strerror(r->status) : "none");
  CHECK(r->done, "the callback never ran");
  CHECK(r->abuf != NULL, "no reply from %s: %s", g_servers_csv,
        ares_strerror(r->status));
  return true;
}

/* ---------------------------------------------------------------- cases */

/* What every reply must satisfy: a response to a standard query with RD
 * echoed (c-ares sets RD) and, with EDNS, exactly one OPT (RFC 6891 6.1.1)
 * owned by the root with version 0; without EDNS, no OPT at all. */
static bool check_common(const query_result_t *r, bool edns, wire_info_t *w) {
  CHECK(r->abuf != NULL, "no reply bytes in the callback (status %s)",
        ares_strerror(r->status));
  if (!parse_wire(r->abuf, (size_t)r->alen, w))
    return false;
  CHECK(w->qr, "QR is not set in the reply");
  CHECK(w->opcode == 0, "opcode %u, expected QUERY (0)", w->opcode);
  CHECK(!w->tc, "TC is set on a tiny reply");
  CHECK(w->rd, "RD was not copied from the query");
  CHECK(w->qdcount == 1, "qdcount %u, expected the question echoed",
        w->qdcount);
  if (edns) {
    CHECK(w->arcount == 1, "arcount %u, expected 1 (the OPT) for an EDNS query",
          w->arcount);
    CHECK(w->n_opt == 1, "%u OPT records in the additional section, expected 1",
          w->n_opt);
    CHECK(w->opt_root_owner, "the OPT record is not owned by the root");
    CHECK(w->opt_version == 0, "OPT version %u, expected 0", w->opt_version);
    CHECK(w->opt_ext_rcode == 0, "OPT extended rcode %u, expected 0",
          w->opt_ext_rcode);
    CHECK(w->opt_udp_size >= 512, "OPT UDP payload size %u < 512",
          w->opt_udp_size);
  } else {
    CHECK(w->n_opt == 0 && w->arcount == 0,
          "arcount %u (%u OPT) in reply to a query without EDNS", w->arcount,
          w->n_opt);
  }
  return true;
}

static bool case_a(bool edns, const char *name, const char *want_ip) {
  query_result_t r;
  wire_info_t w;
  int flags = ARES_FLAG_NOCHECKRESP | (edns ? ARES_FLAG_EDNS : 0) | g_transport_flags;

  if (!run_query(flags, name, C_IN, T_A, &r))
    return false;
  bool ok = false;
  do {
    if (!check_common(&r, edns, &w))
      break;
    struct ares_addrttl ttls[8];
    int nttls = 8;
    char got[INET_ADDRSTRLEN] = "";
    if (r.status != ARES_SUCCESS) {
      report_failure(__FILE__, __LINE__, "r.status == ARES_SUCCESS",
                     "status %s (rcode %u, ancount %u)",
                     ares_strerror(r.status), w.rcode, w.ancount);
      break;
    }
    if (w.rcode != DNS_RCODE_NOERROR || !w.aa || w.ancount != 1 ||
        w.n_answer_a != 1 || w.n_answer_ttl_ok != 1) {
      report_failure(__FILE__, __LINE__,
                     "rcode == 0 && aa && ancount == 1 && one A RR, TTL 60",
                     "rcode %u, AA %d, ancount %u, A RRs %u, with TTL %d: %u",
                     w.rcode, w.aa, w.ancount, w.n_answer_a, EXPECTED_TTL,
                     w.n_answer_ttl_ok);
      break;
    }
    int prc = ares_parse_a_reply(r.abuf, r.alen, NULL, ttls, &nttls);
    if (prc != ARES_SUCCESS || nttls != 1) {
      report_failure(__FILE__, __LINE__,
                     "ares_parse_a_reply == ARES_SUCCESS && naddrttls == 1",
                     "ares_parse_a_reply: %s, %d address(es)",
                     ares_strerror(prc), nttls);
      break;
    }
    inet_ntop(AF_INET, &ttls[0].ipaddr, got, sizeof(got));
    if (strcmp(got, want_ip) != 0 || ttls[0].ttl != EXPECTED_TTL) {
      report_failure(__FILE__, __LINE__,
                     "address == expected && ttl == 60",
                     "%s -> %s ttl %d, expected %s ttl %d", name, got,
                     ttls[0].ttl, want_ip, EXPECTED_TTL);
      break;
    }
    ok = true;
  } while (0);
  result_free(&r);
  return ok;
}

/* AAAA from an IPv6 entry of --map. */
static bool case_aaaa(bool edns, const char *name, const char *want_ip) {
  query_result_t r;
  wire_info_t w;
  int flags = ARES_FLAG_NOCHECKRESP | (edns ? ARES_FLAG_EDNS : 0) | g_transport_flags;

  if (!run_query(flags, name, C_IN, T_AAAA, &r))
    return false;
  bool ok = check_common(&r, edns, &w);
  struct ares_addr6ttl ttls[4];
  int nttls = 4;
  char got[INET6_ADDRSTRLEN] = "";
  int prc = ok ? ares_parse_aaaa_reply(r.abuf, r.alen, NULL, ttls, &nttls) : ARES_EBADRESP;
  if (ok && prc == ARES_SUCCESS && nttls == 1)
    inet_ntop(AF_INET6, &ttls[0].ip6addr, got, sizeof(got));
  if (ok && (prc != ARES_SUCCESS || nttls != 1 || strcmp(got, want_ip) != 0 ||
             ttls[0].ttl != EXPECTED_TTL || w.ancount != 1)) {
    report_failure(__FILE__, __LINE__, "one AAAA == expected, ttl 60",
                   "ares_parse_aaaa_reply: %s, %d address(es), got '%s', ancount %u",
                   ares_strerror(prc), nttls, got, w.ancount);
    ok = false;
  }
  result_free(&r);
  return ok;
}

/* NOERROR with no answers: c-ares maps that to ARES_ENODATA. */
static bool case_nodata(bool edns, const char *name, int type) {
  query_result_t r;
  wire_info_t w;
  int flags = ARES_FLAG_NOCHECKRESP | (edns ? ARES_FLAG_EDNS : 0) | g_transport_flags;

  if (!run_query(flags, name, C_IN, type, &r))
    return false;
  bool ok = check_common(&r, edns, &w);
  if (ok && (r.status != ARES_ENODATA || w.rcode != DNS_RCODE_NOERROR ||
             w.ancount != 0 || !w.aa)) {
    report_failure(__FILE__, __LINE__,
                   "status == ARES_ENODATA && rcode == 0 && ancount == 0 && aa",
                   "status %s, rcode %u, ancount %u, AA %d",
                   ares_strerror(r.status), w.rcode, w.ancount, w.aa);
    ok = false;
  }
  result_free(&r);
  return ok;
}

/* Class CHAOS: REFUSED. ARES_FLAG_NOCHECKRESP hands the reply to us (as
 * ARES_EREFUSED with the bytes) instead of failing over to another server. */
static bool case_chaos(bool edns, const char *name) {
  query_result_t r;
  wire_info_t w;
  int flags = ARES_FLAG_NOCHECKRESP | (edns ? ARES_FLAG_EDNS : 0) | g_transport_flags;

  if (!run_query(flags, name, C_CHAOS, T_A, &r))
    return false;
  bool ok = check_common(&r, edns, &w);
  if (ok && ((r.status != ARES_EREFUSED && r.status != ARES_SUCCESS) ||
             w.rcode != DNS_RCODE_REFUSED || w.ancount != 0)) {
    report_failure(__FILE__, __LINE__,
                   "status is ARES_EREFUSED && rcode == 5 && ancount == 0",
                   "status %s, rcode %u, ancount %u", ares_strerror(r.status),
                   w.rcode, w.ancount);
    ok = false;
  }
  result_free(&r);
  return ok;
}

/* BURST_SIZE distinct names in flight at once on one channel (one UDP
 * socket): every one answered 127.0.0.1 on the first try. A retry
 * (timeouts > 0) means a datagram was lost. The client's receive buffer is
 * raised so that the 200 replies, which arrive while the client is still
 * sending, cannot overflow it: losses are then the server's. */
static bool case_burst(void) {
  static query_result_t results[BURST_SIZE];
  ares_channel ch;
  int pending = 0;
  unsigned answered = 0, wrong = 0, retried = 0, first_bad = BURST_SIZE;
  char name[32];

  CHECK(now_ms() < g_t0_ms + QUERY_BUDGET_MS,
        "skipped: the time budget of %d ms for all queries is spent",
        QUERY_BUDGET_MS);
  if (!make_channel(&ch, ARES_FLAG_NOCHECKRESP, 1 << 20))
    return false;
  memset(results, 0, sizeof(results));
  for (int i = 0; i < BURST_SIZE; i++) {
    results[i].pending = &pending;
    snprintf(name, sizeof(name), "n%d.test", i);
    pending++;
    ares_query(ch, name, C_IN, T_A, on_answer, &results[i]);
  }
  int64_t started = now_ms();
  bool in_time = drive(ch, &pending, case_deadline());
  int64_t took = now_ms() - started;
  ares_destroy(ch);

  for (int i = 0; i < BURST_SIZE; i++) {
    query_result_t *r = &results[i];
    struct ares_addrttl ttls[4];
    int nttls = 4;
    bool good = false;
    if (r->done && r->status == ARES_SUCCESS && r->abuf != NULL) {
      answered++;
      if (ares_parse_a_reply(r->abuf, r->alen, NULL, ttls, &nttls) ==
              ARES_SUCCESS &&
          nttls == 1 && ttls[0].ipaddr.s_addr == htonl(INADDR_LOOPBACK) &&
          ttls[0].ttl == EXPECTED_TTL)
        good = true;
    }
    if (r->done && r->timeouts > 0)
      retried++;
    if (!good) {
      wrong++;
      if (first_bad == BURST_SIZE)
        first_bad = (unsigned)i;
    }
    if (!good && first_bad == (unsigned)i)
      printf("#   first bad: n%u.test: %s, status %s\n", first_bad,
             r->done ? "answered" : "no callback",
             r->done ? ares_strerror(r->status) : "-");
    result_free(r);
  }
  printf("#   burst: %u/%d answered with 127.0.0.1 ttl %d, %u needed a retry, "
         "%lld ms\n",
         BURST_SIZE - wrong, BURST_SIZE, EXPECTED_TTL, retried,
         (long long)took);
  CHECK(in_time, "not all %d queries were answered within %d ms (%u answered)",
        BURST_SIZE, CASE_TIMEOUT_MS, answered);
  CHECK(wrong == 0, "%u of %d queries got no or a wrong answer", wrong,
        BURST_SIZE);
  CHECK(retried == 0,
        "%u of %d queries were answered only after a retry (a datagram was "
        "lost)",
        retried, BURST_SIZE);
  return true;
}

static void run_dns_cases(bool edns) {
  const char *suffix = edns ? (g_transport_flags ? " (EDNS, TCP)" : " (EDNS)")
                            : (g_transport_flags ? " (TCP)" : "");
  char title[128];

  struct {
    const char *name, *ip;
  } a_cases[] = {
      {"facebook.com", "173.252.120.6"},
      {"WiPo.INT.", "193.5.93.80"},
      {"yougov.com", "213.52.133.246"},
      {"no-such-name.example", "127.0.0.1"},
  };
  for (size_t i = 0; i < sizeof(a_cases) / sizeof(a_cases[0]); i++) {
    snprintf(title, sizeof(title), "A %s -> %s%s", a_cases[i].name,
             a_cases[i].ip, suffix);
    record(case_a(edns, a_cases[i].name, a_cases[i].ip), title);
  }
  snprintf(title, sizeof(title), "AAAA v6.test -> 2001:db8::1%s", suffix);
  record(case_aaaa(edns, "v6.test", "2001:db8::1"), title);
  snprintf(title, sizeof(title), "A v6.test -> 192.0.2.6%s", suffix);
  record(case_a(edns, "v6.test", "192.0.2.6"), title);
  snprintf(title, sizeof(title), "AAAA facebook.com -> NODATA%s", suffix);
  record(case_nodata(edns, "facebook.com", T_AAAA), title);
  snprintf(title, sizeof(title), "MX facebook.com -> NODATA%s", suffix);
  record(case_nodata(edns, "facebook.com", T_MX), title);
  snprintf(title, sizeof(title), "CHAOS A facebook.com -> REFUSED%s", suffix);
  record(case_chaos(edns, "facebook.com"), title);
}

int main(int argc, char **argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: %s /path/to/dnsortd\n", argv[0]);
    return 2;
  }
  g_t0_ms = now_ms();
  setvbuf(stdout, NULL, _IOLBF, 0);

  int rc = ares_library_init(ARES_LIB_INIT_ALL);
  if (rc != ARES_SUCCESS) {
    printf("not ok - ares_library_init: %s\n", ares_strerror(rc));
    return 1;
  }
  printf("# c-ares %s\n", ares_version(NULL));

  bool started = server_start(&g_server, argv[1]);
  record(started, "dnsortd starts and prints its listening line");
  if (!started) {
    server_kill(&g_server);
    ares_library_cleanup();
    printf("# 0 passed, 1 failed\n");
    return 1;
  }
  snprintf(g_servers_csv, sizeof(g_servers_csv), "%s:%u", g_server.dns_host,
           g_server.dns_port);
  printf("# querying %s\n", g_servers_csv);

  run_dns_cases(false);
  run_dns_cases(true);
  /* DNS over TCP (RFC 7766), the same cases. */
  g_transport_flags = ARES_FLAG_USEVC;
  run_dns_cases(false);
  run_dns_cases(true);
  g_transport_flags = 0;
  record(case_burst(), "200 A queries in flight at once, all answered");

  bool stopped = server_stop(&g_server);
  record(stopped, "dnsortd exits 0 on SIGTERM, one stdout line in all");
  server_kill(&g_server); /* reaps it if it did not exit; closes the pipe */
  ares_library_cleanup();

  printf("# %d passed, %d failed (%lld ms)\n", g_passed, g_failed,
         (long long)(now_ms() - g_t0_ms));
  return g_failed == 0 ? 0 : 1;
}
