#include "loop_config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#if defined(__GNUC__)
__attribute__((format(printf, 3, 4)))
#endif
static int fail(char *err, size_t errlen, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(err, errlen, fmt, ap);
  va_end(ap);
  return -1;
}

int loop_parse_addr(const char *text, struct sockaddr_storage *out) {
  char host[INET6_ADDRSTRLEN + 1];
  const char *port_text;

  if (text[0] == '[') {
    const char *close = strchr(text, ']');
    if (close == NULL || close[1] != ':')
      return -1;
    size_t hlen = (size_t)(close - text - 1);
    if (hlen == 0 || hlen >= sizeof(host))
      return -1;
    memcpy(host, text + 1, hlen);
    host[hlen] = '\0';
    port_text = close + 2;
  } else {
    const char *colon = strrchr(text, ':');
    if (colon == NULL || strchr(text, ':') != colon)
      return -1;
    size_t hlen = (size_t)(colon - text);
    if (hlen == 0 || hlen >= sizeof(host))
      return -1;
    memcpy(host, text, hlen);
    host[hlen] = '\0';
    port_text = colon + 1;
  }

  if (*port_text == '\0' || strlen(port_text) > 5)
    return -1;
  unsigned long port = 0;
  for (const char *p = port_text; *p; p++) {
    if (*p < '0' || *p > '9')
      return -1;
    port = port * 10 + (unsigned long)(*p - '0');
  }
  if (port > 65535)
    return -1;

  memset(out, 0, sizeof(*out));
  struct sockaddr_in *in4 = (struct sockaddr_in *)out;
  struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)out;
  if (inet_pton(AF_INET, host, &in4->sin_addr) == 1) {
    in4->sin_family = AF_INET;
    in4->sin_port = htons((uint16_t)port);
    return 0;
  }
  if (inet_pton(AF_INET6, host, &in6->sin6_addr) == 1) {
    in6->sin6_family = AF_INET6;
    in6->sin6_port = htons((uint16_t)port);
    return 0;
  }
  return -1;
}

void loop_format_addr(const struct sockaddr *sa, char *out, size_t cap) {
  char host[INET6_ADDRSTRLEN];
  if (sa->sa_family == AF_INET) {
    const struct sockaddr_in *in4 = (const struct sockaddr_in *)sa;
    inet_ntop(AF_INET, &in4->sin_addr, host, sizeof(host));
    snprintf(out, cap, "%s:%u", host, ntohs(in4->sin_port));
  } else if (sa->sa_family == AF_INET6) {
    const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;
    inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof(host));
    snprintf(out, cap, "[%s]:%u", host, ntohs(in6->sin6_port));
  } else {
    snprintf(out, cap, "(unknown address family %d)", sa->sa_family);
  }
}

/* A count with an optional binary suffix: 8388608, 8M, 512k, 1G. */
static int parse_size(const char *text, uint64_t min, uint64_t max,
                      uint64_t *out) {
  if (*text < '0' || *text > '9')
    return -1;
  errno = 0;
  char *end;
  unsigned long long v = strtoull(text, &end, 10);
  if (errno != 0)
    return -1;
  uint64_t mult = 1;
  switch (*end) {
  case '\0': break;
  case 'k': case 'K': mult = 1024; end++; break;
  case 'm': case 'M': mult = 1024 * 1024; end++; break;
  case 'g': case 'G': mult = 1024 * 1024 * 1024; end++; break;
  default: return -1;
  }
  if (*end != '\0' || v > max / mult)
    return -1;
  v *= mult;
  if (v < min || v > max)
    return -1;
  *out = v;
  return 0;
}

/* Seconds, fractions allowed ("0.5"), to milliseconds. */
static int parse_seconds(const char *text, uint64_t min_ms, uint64_t max_ms,
                         uint64_t *out_ms) {
  if (!((*text >= '0' && *text <= '9') || *text == '.'))
    return -1;
  errno = 0;
  char *end;
  double s = strtod(text, &end);
  if (errno != 0 || *end != '\0' || !isfinite(s) || s < 0)
    return -1;
  double ms = s * 1000.0;
  if (ms < (double)min_ms || ms > (double)max_ms)
    return -1;
  *out_ms = (uint64_t)llround(ms);
  return 0;
}

enum {
  OPT_DNS = 256,
  OPT_SORT,
  OPT_THREADS,
  OPT_LOG_LEVEL,
  OPT_MAX_REQUEST_BYTES,
  OPT_MAX_ELEMENTS,
  OPT_READ_TIMEOUT,
  OPT_WRITE_TIMEOUT,
  OPT_GRACE,
};

static const struct option long_options[] = {
    {"dns", required_argument, NULL, OPT_DNS},
    {"sort", required_argument, NULL, OPT_SORT},
    {"threads", required_argument, NULL, OPT_THREADS},
    {"log-level", required_argument, NULL, OPT_LOG_LEVEL},
    {"max-request-bytes", required_argument, NULL, OPT_MAX_REQUEST_BYTES},
    {"max-elements", required_argument, NULL, OPT_MAX_ELEMENTS},
    {"read-timeout", required_argument, NULL, OPT_READ_TIMEOUT},
    {"write-timeout", required_argument, NULL, OPT_WRITE_TIMEOUT},
    {"grace", required_argument, NULL, OPT_GRACE},
    {"help", no_argument, NULL, 'h'},
    {"version", no_argument, NULL, 'V'},
    {NULL, 0, NULL, 0},
};

/* Bounds that keep every option sane: a day for timeouts, 4 GiB for a
 * request (the body is held in memory), 100 million elements. */
#define MAX_TIMEOUT_MS (24u * 3600u * 1000u)
#define MAX_REQUEST_BYTES_LIMIT (4ull * 1024 * 1024 * 1024)
#define MAX_ELEMENTS_LIMIT 100000000ull

int loop_config_parse(loop_config_t *cfg, int argc, char **argv, char *err,
                      size_t errlen) {
  memset(cfg, 0, sizeof(*cfg));
  loop_parse_addr(LOOP_DEFAULT_DNS, &cfg->dns_addr);
  loop_parse_addr(LOOP_DEFAULT_SORT, &cfg->sort_addr);
  cfg->log_level = LOOP_LOG_INFO;
  cfg->max_request_bytes = LOOP_DEFAULT_MAX_REQUEST_BYTES;
  cfg->max_elements = LOOP_DEFAULT_MAX_ELEMENTS;
  cfg->read_timeout_ms = LOOP_DEFAULT_READ_TIMEOUT_MS;
  cfg->write_timeout_ms = LOOP_DEFAULT_WRITE_TIMEOUT_MS;
  cfg->grace_ms = LOOP_DEFAULT_GRACE_MS;

  /* getopt keeps global state; reset it so the parser can run more than
   * once in one process (the unit tests do). */
  optind = 0;
  opterr = 0;
  int c;
  uint64_t n;
  while ((c = getopt_long(argc, argv, ":hV", long_options, NULL)) != -1) {
    switch (c) {
    case OPT_DNS:
      if (loop_parse_addr(optarg, &cfg->dns_addr) != 0)
        return fail(err, errlen, "--dns: '%s' is not ADDR:PORT (IPv6 as [ADDR]:PORT)", optarg);
      break;
    case OPT_SORT:
      if (loop_parse_addr(optarg, &cfg->sort_addr) != 0)
        return fail(err, errlen, "--sort: '%s' is not ADDR:PORT (IPv6 as [ADDR]:PORT)", optarg);
      break;
    case OPT_THREADS:
      if (parse_size(optarg, 1, LOOP_MAX_THREADS, &n) != 0)
        return fail(err, errlen, "--threads: '%s' is not a number from 1 to %u", optarg, LOOP_MAX_THREADS);
      cfg->threads = (unsigned)n;
      break;
    case OPT_LOG_LEVEL:
      if (loop_log_parse_level(optarg, &cfg->log_level) != 0)
        return fail(err, errlen, "--log-level: '%s' is not one of error, warn, info, debug", optarg);
      break;
    case OPT_MAX_REQUEST_BYTES:
      if (parse_size(optarg, 1, MAX_REQUEST_BYTES_LIMIT, &cfg->max_request_bytes) != 0)
        return fail(err, errlen, "--max-request-bytes: '%s' is not a size from 1 to 4G (suffixes k, M, G)", optarg);
      break;
    case OPT_MAX_ELEMENTS:
      if (parse_size(optarg, 1, MAX_ELEMENTS_LIMIT, &n) != 0)
        return fail(err, errlen, "--max-elements: '%s' is not a number from 1 to %llu", optarg, MAX_ELEMENTS_LIMIT);
      cfg->max_elements = (size_t)n;
      break;
    case OPT_READ_TIMEOUT:
      if (parse_seconds(optarg, 1, MAX_TIMEOUT_MS, &cfg->read_timeout_ms) != 0)
        return fail(err, errlen, "--read-timeout: '%s' is not a number of seconds from 0.001 to 86400", optarg);
      break;
    case OPT_WRITE_TIMEOUT:
      if (parse_seconds(optarg, 1, MAX_TIMEOUT_MS, &cfg->write_timeout_ms) != 0)
        return fail(err, errlen, "--write-timeout: '%s' is not a number of seconds from 0.001 to 86400", optarg);
      break;
    case OPT_GRACE:
      if (parse_seconds(optarg, 0, MAX_TIMEOUT_MS, &cfg->grace_ms) != 0)
        return fail(err, errlen, "--grace: '%s' is not a number of seconds from 0 to 86400", optarg);
      break;
    case 'h':
      cfg->help = true;
      break;
    case 'V':
      cfg->version = true;
      break;
    case ':':
      return fail(err, errlen, "%s needs a value", argv[optind - 1]);
    default:
      return fail(err, errlen, "unknown option '%s' (try --help)", argv[optind - 1]);
    }
  }
  if (optind < argc)
    return fail(err, errlen, "unexpected argument '%s' (try --help)", argv[optind]);
  return 0;
}

void loop_config_usage(FILE *out) {
  fprintf(out,
"Usage: dnsortd [OPTION]...\n"
"A DNS responder (UDP) and a sort service (TCP) on one libuv event loop.\n"
"\n"
"  --dns ADDR:PORT            DNS responder address (default " LOOP_DEFAULT_DNS ");\n"
"                             port 0 picks a free port; IPv6 as [::1]:4343\n"
"  --sort ADDR:PORT           sort service address (default " LOOP_DEFAULT_SORT ")\n"
"  --threads N                sort worker threads, 1-%u (default: one per CPU)\n"
"  --max-request-bytes SIZE   largest sort request body; a larger length prefix\n"
"                             is refused before any body is read (default 8M;\n"
"                             suffixes k, M, G)\n"
"  --max-elements N           most numbers in one sort request (default %u)\n"
"  --read-timeout SECONDS     time from accept to the last request byte\n"
"                             (default %u)\n"
"  --write-timeout SECONDS    time to deliver a reply to a slow reader\n"
"                             (default %u)\n"
"  --grace SECONDS            on SIGINT/SIGTERM, how long in-flight sorts may\n"
"                             finish before their connections are closed\n"
"                             (default %u); a second signal exits at once\n"
"  --log-level LEVEL          error, warn, info (default) or debug; logs go to\n"
"                             stderr\n"
"  -h, --help                 show this help and exit\n"
"  -V, --version              show the version and exit\n"
"\n"
"Once both services are bound, one line goes to stdout:\n"
"  dnsortd listening dns=udp://ADDR:PORT sort=tcp://ADDR:PORT\n",
          LOOP_MAX_THREADS, LOOP_DEFAULT_MAX_ELEMENTS,
          LOOP_DEFAULT_READ_TIMEOUT_MS / 1000, LOOP_DEFAULT_WRITE_TIMEOUT_MS / 1000,
          LOOP_DEFAULT_GRACE_MS / 1000);
}
