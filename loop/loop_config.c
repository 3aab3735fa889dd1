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

int loop_parse_upstream(const char *text, struct sockaddr_storage *out) {
  char buf[INET6_ADDRSTRLEN + 16];
  size_t len = strlen(text);
  const char *first = strchr(text, ':');

  if (len == 0 || len > INET6_ADDRSTRLEN + 8)
    return -1;
  /* Without a port: 1.2.3.4, [::1], or a bare IPv6 address (two colons at
   * least); those take port 53. The rest is loop_parse_addr's ADDR:PORT
   * or [ADDR]:PORT. */
  bool bare_v6 = text[0] != '[' && first != NULL && strchr(first + 1, ':') != NULL;
  bool no_port = bare_v6 || (text[0] == '[' && text[len - 1] == ']') ||
                 (text[0] != '[' && first == NULL);
  if (no_port)
    snprintf(buf, sizeof(buf), "%s%s%s:%d", bare_v6 ? "[" : "", text,
             bare_v6 ? "]" : "", LOOP_DEFAULT_UPSTREAM_PORT);
  else
    snprintf(buf, sizeof(buf), "%s", text);
  if (loop_parse_addr(buf, out) != 0)
    return -1;
  /* Port 0 is "pick one" for a listener, never a server to send to. */
  if (loop_addr_port((const struct sockaddr *)out) == 0)
    return -1;
  return 0;
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
  OPT_HOSTS,
  OPT_MAP,
  OPT_NO_DEFAULT_MAP,
  OPT_TTL,
  OPT_UNKNOWN,
  OPT_UNKNOWN_ADDRESS,
  OPT_REUSEPORT,
  OPT_CANCEL_ON_EOF,
  OPT_WORKER_YIELD_US,
  OPT_LOOP_SLICE_US,
  OPT_DNS_TCP_IDLE,
  OPT_DNS_TCP_MAX_CONNECTIONS,
  OPT_MAX_CONNECTIONS,
  OPT_MAX_QUEUED_JOBS,
  OPT_MAX_INFLIGHT_BYTES,
  OPT_WORKER_NICE,
  OPT_UPSTREAM,
  OPT_UPSTREAM_TIMEOUT,
  OPT_MAX_UPSTREAM_INFLIGHT,
  OPT_CACHE_SIZE,
  OPT_CACHE_MAX_TTL,
  OPT_CACHE_NEG_TTL,
  OPT_METRICS,
  OPT_LOG_FORMAT,
  OPT_LOG_QUERIES,
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
    {"hosts", required_argument, NULL, OPT_HOSTS},
    {"map", required_argument, NULL, OPT_MAP},
    {"no-default-map", no_argument, NULL, OPT_NO_DEFAULT_MAP},
    {"ttl", required_argument, NULL, OPT_TTL},
    {"unknown", required_argument, NULL, OPT_UNKNOWN},
    {"unknown-address", required_argument, NULL, OPT_UNKNOWN_ADDRESS},
    {"reuseport", no_argument, NULL, OPT_REUSEPORT},
    {"cancel-on-eof", no_argument, NULL, OPT_CANCEL_ON_EOF},
    {"worker-yield-us", required_argument, NULL, OPT_WORKER_YIELD_US},
    {"loop-slice-us", required_argument, NULL, OPT_LOOP_SLICE_US},
    {"dns-tcp-idle-timeout", required_argument, NULL, OPT_DNS_TCP_IDLE},
    {"dns-tcp-max-connections", required_argument, NULL, OPT_DNS_TCP_MAX_CONNECTIONS},
    {"max-connections", required_argument, NULL, OPT_MAX_CONNECTIONS},
    {"max-queued-jobs", required_argument, NULL, OPT_MAX_QUEUED_JOBS},
    {"max-inflight-bytes", required_argument, NULL, OPT_MAX_INFLIGHT_BYTES},
    {"worker-nice", required_argument, NULL, OPT_WORKER_NICE},
    {"upstream", required_argument, NULL, OPT_UPSTREAM},
    {"upstream-timeout", required_argument, NULL, OPT_UPSTREAM_TIMEOUT},
    {"max-upstream-inflight", required_argument, NULL, OPT_MAX_UPSTREAM_INFLIGHT},
    {"cache-size", required_argument, NULL, OPT_CACHE_SIZE},
    {"cache-max-ttl", required_argument, NULL, OPT_CACHE_MAX_TTL},
    {"cache-neg-ttl", required_argument, NULL, OPT_CACHE_NEG_TTL},
    {"metrics", required_argument, NULL, OPT_METRICS},
    {"log-format", required_argument, NULL, OPT_LOG_FORMAT},
    {"log-queries", no_argument, NULL, OPT_LOG_QUERIES},
    {"help", no_argument, NULL, 'h'},
    {"version", no_argument, NULL, 'V'},
    {NULL, 0, NULL, 0},
};

/* Bounds that keep every option sane: a day for timeouts, 4 GiB for a
 * request (the body is held in memory), 100 million elements. */
#define MAX_TIMEOUT_MS (24u * 3600u * 1000u)
#define MAX_REQUEST_BYTES_LIMIT (4ull * 1024 * 1024 * 1024)
#define MAX_ELEMENTS_LIMIT 100000000ull
#define MAX_TTL 2147483647ull /* RFC 2181 8: TTLs are 31-bit */
#define MAX_TCP_CONNECTIONS_LIMIT 1000000ull
#define MAX_QUEUED_JOBS_LIMIT 10000000ull
#define MAX_INFLIGHT_BYTES_LIMIT (64ull * 1024 * 1024 * 1024)
/* c-ares 1.18 tells answers apart by a 16-bit ID: DNS_FORWARD_MAX_INFLIGHT
 * keeps enough of them free. A cache entry costs up to about 1 KiB. */
#define MAX_UPSTREAM_INFLIGHT_LIMIT 50000ull
#define MAX_CACHE_SIZE_LIMIT 1000000ull
#define MAX_UPSTREAM_TIMEOUT_MS (600u * 1000u)

/* 0 to 19: raising priority above the loop's would defeat the point. */
static int parse_nice(const char *text, int *out) {
  if (text[0] < '0' || text[0] > '9' || strlen(text) > 2)
    return -1;
  int v = atoi(text);
  if (v > 19 || (text[1] != '\0' && (text[1] < '0' || text[1] > '9')))
    return -1;
  *out = v;
  return 0;
}

static int parse_unknown_policy(const char *text, dns_unknown_t *out) {
  static const struct {
    const char *name;
    dns_unknown_t policy;
  } policies[] = {{"answer", DNS_UNKNOWN_ANSWER},
                  {"nxdomain", DNS_UNKNOWN_NXDOMAIN},
                  {"refused", DNS_UNKNOWN_REFUSED},
                  {"forward", DNS_UNKNOWN_FORWARD}};
  for (size_t i = 0; i < sizeof(policies) / sizeof(policies[0]); i++) {
    if (strcmp(text, policies[i].name) == 0) {
      *out = policies[i].policy;
      return 0;
    }
  }
  return -1;
}

/* An address with no port: 127.0.0.1 or ::1. */
static int parse_unknown_address(const char *text, dns_zone_options_t *z,
                                 bool *replaced_default) {
  if (!*replaced_default) {
    z->n_unknown_addrs = 0;
    *replaced_default = true;
  }
  if (z->n_unknown_addrs >= DNS_ZONE_MAX_UNKNOWN_ADDRS)
    return -1;
  uint8_t addr[16];
  int family;
  if (inet_pton(AF_INET, text, addr) == 1)
    family = 4;
  else if (inet_pton(AF_INET6, text, addr) == 1)
    family = 6;
  else
    return -1;
  z->unknown_addrs[z->n_unknown_addrs].family = family;
  memcpy(z->unknown_addrs[z->n_unknown_addrs].addr, addr, family == 4 ? 4 : 16);
  z->n_unknown_addrs++;
  return 0;
}

int loop_config_parse(loop_config_t *cfg, int argc, char **argv, char *err,
                      size_t errlen) {
  memset(cfg, 0, sizeof(*cfg));
  loop_parse_addr(LOOP_DEFAULT_DNS, &cfg->dns_addrs[0]);
  cfg->n_dns_addrs = 1;
  cfg->default_map = true;
  dns_zone_options_default(&cfg->zone);
  cfg->dns_tcp_idle_ms = LOOP_DEFAULT_DNS_TCP_IDLE_MS;
  cfg->dns_tcp_max_connections = LOOP_DEFAULT_DNS_TCP_MAX_CONNECTIONS;
  cfg->upstream_timeout_ms = LOOP_DEFAULT_UPSTREAM_TIMEOUT_MS;
  cfg->max_upstream_inflight = LOOP_DEFAULT_MAX_UPSTREAM_INFLIGHT;
  cfg->cache_size = LOOP_DEFAULT_CACHE_SIZE;
  cfg->cache_max_ttl = LOOP_DEFAULT_CACHE_MAX_TTL;
  cfg->cache_neg_ttl = LOOP_DEFAULT_CACHE_NEG_TTL;
  bool dns_given = false, unknown_address_given = false;
  loop_parse_addr(LOOP_DEFAULT_SORT, &cfg->sort_addr);
  cfg->log_level = LOOP_LOG_INFO;
  cfg->max_request_bytes = LOOP_DEFAULT_MAX_REQUEST_BYTES;
  cfg->max_elements = LOOP_DEFAULT_MAX_ELEMENTS;
  cfg->read_timeout_ms = LOOP_DEFAULT_READ_TIMEOUT_MS;
  cfg->write_timeout_ms = LOOP_DEFAULT_WRITE_TIMEOUT_MS;
  cfg->grace_ms = LOOP_DEFAULT_GRACE_MS;
  cfg->max_connections = LOOP_DEFAULT_MAX_CONNECTIONS;
  cfg->max_inflight_bytes = LOOP_DEFAULT_MAX_INFLIGHT_BYTES;
  cfg->worker_nice = LOOP_SCHED_AUTO;
  cfg->worker_yield_us = LOOP_SCHED_AUTO;
  cfg->loop_slice_us = LOOP_SCHED_AUTO;

  /* getopt keeps global state; reset it so the parser can run more than
   * once in one process (the unit tests do). */
  optind = 0;
  opterr = 0;
  int c;
  uint64_t n;
  while ((c = getopt_long(argc, argv, ":hV", long_options, NULL)) != -1) {
    switch (c) {
    case OPT_DNS:
      /* The first --dns replaces the default; later ones add to it. */
      if (!dns_given) {
        cfg->n_dns_addrs = 0;
        dns_given = true;
      }
      if (cfg->n_dns_addrs >= LOOP_MAX_DNS_ADDRS)
        return fail(err, errlen, "--dns: at most %d addresses", LOOP_MAX_DNS_ADDRS);
      if (loop_parse_addr(optarg, &cfg->dns_addrs[cfg->n_dns_addrs]) != 0)
        return fail(err, errlen, "--dns: '%s' is not ADDR:PORT (IPv6 as [ADDR]:PORT)", optarg);
      cfg->n_dns_addrs++;
      break;
    case OPT_HOSTS:
      if (cfg->n_hosts_files >= LOOP_MAX_SOURCES)
        return fail(err, errlen, "--hosts: at most %d files", LOOP_MAX_SOURCES);
      cfg->hosts_files[cfg->n_hosts_files++] = optarg;
      break;
    case OPT_MAP:
      if (cfg->n_map_specs >= LOOP_MAX_SOURCES)
        return fail(err, errlen, "--map: at most %d entries", LOOP_MAX_SOURCES);
      cfg->map_specs[cfg->n_map_specs++] = optarg;
      break;
    case OPT_NO_DEFAULT_MAP:
      cfg->default_map = false;
      break;
    case OPT_TTL:
      if (parse_size(optarg, 0, MAX_TTL, &n) != 0 || strpbrk(optarg, "kKmMgG") != NULL)
        return fail(err, errlen, "--ttl: '%s' is not a number of seconds from 0 to %llu", optarg, MAX_TTL);
      cfg->zone.ttl = (uint32_t)n;
      break;
    case OPT_UNKNOWN:
      if (parse_unknown_policy(optarg, &cfg->zone.unknown) != 0)
        return fail(err, errlen, "--unknown: '%s' is not one of answer, nxdomain, refused, forward", optarg);
      break;
    case OPT_UNKNOWN_ADDRESS:
      if (parse_unknown_address(optarg, &cfg->zone, &unknown_address_given) != 0)
        return fail(err, errlen, "--unknown-address: '%s' is not an IPv4 or IPv6 address (at most %d)",
                    optarg, DNS_ZONE_MAX_UNKNOWN_ADDRS);
      break;
    case OPT_WORKER_YIELD_US:
      if (parse_size(optarg, 0, LOOP_MAX_WORKER_YIELD_US, &n) != 0)
        return fail(err, errlen, "--worker-yield-us: '%s' is not a number from 0 to %u", optarg, LOOP_MAX_WORKER_YIELD_US);
      cfg->worker_yield_us = (int64_t)n;
      break;
    case OPT_LOOP_SLICE_US:
      /* The kernel clamps a slice to 100 us .. 100 ms; say so instead. */
      if (parse_size(optarg, 0, LOOP_MAX_LOOP_SLICE_US, &n) != 0 ||
          (n != 0 && n < LOOP_MIN_LOOP_SLICE_US))
        return fail(err, errlen, "--loop-slice-us: '%s' is not 0 or a number from %u to %u", optarg, LOOP_MIN_LOOP_SLICE_US, LOOP_MAX_LOOP_SLICE_US);
      cfg->loop_slice_us = (int64_t)n;
      break;
    case OPT_CANCEL_ON_EOF:
      cfg->cancel_on_eof = true;
      break;
    case OPT_REUSEPORT:
      cfg->reuseport = true;
      break;
    case OPT_DNS_TCP_IDLE:
      if (parse_seconds(optarg, 1, MAX_TIMEOUT_MS, &cfg->dns_tcp_idle_ms) != 0)
        return fail(err, errlen, "--dns-tcp-idle-timeout: '%s' is not a number of seconds from 0.001 to 86400", optarg);
      break;
    case OPT_MAX_CONNECTIONS:
      if (parse_size(optarg, 1, MAX_TCP_CONNECTIONS_LIMIT, &n) != 0)
        return fail(err, errlen, "--max-connections: '%s' is not a number from 1 to %llu", optarg, MAX_TCP_CONNECTIONS_LIMIT);
      cfg->max_connections = (size_t)n;
      break;
    case OPT_MAX_QUEUED_JOBS:
      if (parse_size(optarg, 1, MAX_QUEUED_JOBS_LIMIT, &n) != 0)
        return fail(err, errlen, "--max-queued-jobs: '%s' is not a number from 1 to %llu", optarg, MAX_QUEUED_JOBS_LIMIT);
      cfg->max_queued_jobs = (size_t)n;
      break;
    case OPT_MAX_INFLIGHT_BYTES:
      if (parse_size(optarg, 1, MAX_INFLIGHT_BYTES_LIMIT, &cfg->max_inflight_bytes) != 0)
        return fail(err, errlen, "--max-inflight-bytes: '%s' is not a size from 1 to 64G (suffixes k, M, G)", optarg);
      break;
    case OPT_WORKER_NICE:
      if (parse_nice(optarg, &cfg->worker_nice) != 0)
        return fail(err, errlen, "--worker-nice: '%s' is not a number from 0 to 19", optarg);
      break;
    case OPT_UPSTREAM:
      if (cfg->n_upstreams >= LOOP_MAX_UPSTREAMS)
        return fail(err, errlen, "--upstream: at most %d servers", LOOP_MAX_UPSTREAMS);
      if (loop_parse_upstream(optarg, &cfg->upstreams[cfg->n_upstreams]) != 0)
        return fail(err, errlen, "--upstream: '%s' is not ADDR[:PORT] (IPv6 as [ADDR]:PORT, port 1-65535)", optarg);
      cfg->n_upstreams++;
      break;
    case OPT_UPSTREAM_TIMEOUT:
      if (parse_seconds(optarg, 10, MAX_UPSTREAM_TIMEOUT_MS, &cfg->upstream_timeout_ms) != 0)
        return fail(err, errlen, "--upstream-timeout: '%s' is not a number of seconds from 0.01 to 600", optarg);
      break;
    case OPT_MAX_UPSTREAM_INFLIGHT:
      if (parse_size(optarg, 1, MAX_UPSTREAM_INFLIGHT_LIMIT, &n) != 0 || strpbrk(optarg, "kKmMgG") != NULL)
        return fail(err, errlen, "--max-upstream-inflight: '%s' is not a number from 1 to %llu", optarg, MAX_UPSTREAM_INFLIGHT_LIMIT);
      cfg->max_upstream_inflight = (size_t)n;
      break;
    case OPT_CACHE_SIZE:
      if (parse_size(optarg, 0, MAX_CACHE_SIZE_LIMIT, &n) != 0 || strpbrk(optarg, "kKmMgG") != NULL)
        return fail(err, errlen, "--cache-size: '%s' is not a number of entries from 0 to %llu", optarg, MAX_CACHE_SIZE_LIMIT);
      cfg->cache_size = (size_t)n;
      break;
    case OPT_CACHE_MAX_TTL:
      if (parse_size(optarg, 0, MAX_TTL, &n) != 0 || strpbrk(optarg, "kKmMgG") != NULL)
        return fail(err, errlen, "--cache-max-ttl: '%s' is not a number of seconds from 0 to %llu", optarg, MAX_TTL);
      cfg->cache_max_ttl = (uint32_t)n;
      break;
    case OPT_CACHE_NEG_TTL:
      if (parse_size(optarg, 0, MAX_TTL, &n) != 0 || strpbrk(optarg, "kKmMgG") != NULL)
        return fail(err, errlen, "--cache-neg-ttl: '%s' is not a number of seconds from 0 to %llu", optarg, MAX_TTL);
      cfg->cache_neg_ttl = (uint32_t)n;
      break;
    case OPT_DNS_TCP_MAX_CONNECTIONS:
      if (parse_size(optarg, 1, MAX_TCP_CONNECTIONS_LIMIT, &n) != 0)
        return fail(err, errlen, "--dns-tcp-max-connections: '%s' is not a number from 1 to %llu", optarg, MAX_TCP_CONNECTIONS_LIMIT);
      cfg->dns_tcp_max_connections = (size_t)n;
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
    case OPT_METRICS:
      if (loop_parse_addr(optarg, &cfg->metrics_addr) != 0)
        return fail(err, errlen, "--metrics: '%s' is not ADDR:PORT (IPv6 as [ADDR]:PORT)", optarg);
      cfg->metrics = true;
      break;
    case OPT_LOG_FORMAT:
      if (loop_log_parse_format(optarg, &cfg->log_format) != 0)
        return fail(err, errlen, "--log-format: '%s' is not one of text, json", optarg);
      break;
    case OPT_LOG_QUERIES:
      cfg->log_queries = true;
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
  /* Either half alone is a mistake worth a word, not a silent default. */
  if (cfg->zone.unknown == DNS_UNKNOWN_FORWARD && cfg->n_upstreams == 0)
    return fail(err, errlen, "--unknown forward needs at least one --upstream ADDR[:PORT]");
  if (cfg->zone.unknown != DNS_UNKNOWN_FORWARD && cfg->n_upstreams > 0)
    return fail(err, errlen, "--upstream is only used with --unknown forward");
  return 0;
}

void loop_config_usage(FILE *out) {
  fprintf(out,
"Usage: dnsortd [OPTION]...\n"
"A DNS responder (UDP) and a sort service (TCP) on one libuv event loop.\n"
"\n"
"DNS responder:\n"
"  --dns ADDR:PORT            listen for DNS on UDP and TCP (default\n"
"                             " LOOP_DEFAULT_DNS "); repeatable; port 0 picks a free\n"
"                             port; IPv6 as [::1]:4343\n"
"  --hosts FILE               answer from a hosts(5) file (ADDRESS NAME [ALIAS...],\n"
"                             IPv4 and IPv6, wildcards like *.example.com);\n"
"                             repeatable; SIGHUP reloads\n"
"  --map NAME=ADDR[,ADDR...]  add a name on the command line; repeatable\n"
"  --no-default-map           start without the built-in facebook.com,\n"
"                             yougov.com and wipo.int entries\n"
"  --ttl SECONDS              TTL of every answer (default 60)\n"
"  --unknown POLICY           names not in the map: answer (default: the\n"
"                             --unknown-address for A/AAAA), nxdomain, refused,\n"
"                             forward (to the --upstream servers, any type)\n"
"  --unknown-address ADDR     the address unknown names get (default\n"
"                             127.0.0.1); repeatable, IPv4 and/or IPv6\n"
"  --reuseport                set SO_REUSEPORT, so that several dnsortd\n"
"                             processes can share the DNS and sort ports\n"
"  --dns-tcp-idle-timeout S   close an idle DNS-over-TCP connection (default 10)\n"
"  --dns-tcp-max-connections N  open DNS-over-TCP connections (default %u)\n",
          LOOP_DEFAULT_DNS_TCP_MAX_CONNECTIONS);
  /* Three calls: ISO C only promises string literals of 4095 bytes. */
  fprintf(out,
"\n"
"Forwarding (--unknown forward):\n"
"  --upstream ADDR[:PORT]     a server to forward to (port 53 by default; IPv6\n"
"                             as [::1]:53); repeatable, tried in order\n"
"  --upstream-timeout S       time an upstream query may take, every server and\n"
"                             retry included, before the client gets SERVFAIL\n"
"                             (default %g)\n"
"  --max-upstream-inflight N  upstream queries at once; past it, SERVFAIL at once\n"
"                             (default %u; identical queries share one)\n"
"  --cache-size N             cached answers, 0 disables (default %u); memory\n"
"                             is bounded to 1 KiB per entry; SIGHUP empties it\n"
"  --cache-max-ttl S          longest a positive answer is kept (default %u)\n"
"  --cache-neg-ttl S          longest an NXDOMAIN/NODATA is kept (default %u)\n",
          LOOP_DEFAULT_UPSTREAM_TIMEOUT_MS / 1000.0, LOOP_DEFAULT_MAX_UPSTREAM_INFLIGHT,
          LOOP_DEFAULT_CACHE_SIZE, LOOP_DEFAULT_CACHE_MAX_TTL, LOOP_DEFAULT_CACHE_NEG_TTL);
  fprintf(out,
"\n"
"Sort service:\n"
"  --sort ADDR:PORT           sort service address (default " LOOP_DEFAULT_SORT ")\n"
"  --threads N                sort worker threads, 1-%u (default: one per CPU)\n"
"  --max-request-bytes SIZE   largest sort request body; a larger length prefix\n"
"                             is refused before any body is read (default 8M;\n"
"                             suffixes k, M, G)\n"
"  --max-elements N           most numbers in one sort request (default %u)\n"
"  --max-connections N        open sort connections; more get \"server busy\"\n"
"                             (default %u)\n"
"  --max-queued-jobs N        sorts queued or running; more get \"server busy\"\n"
"                             (default %u per worker thread)\n"
"  --max-inflight-bytes SIZE  request bytes held across all connections;\n"
"                             past it new bodies get \"server busy\" (default 256M)\n"
"  --worker-nice N            nice value of the worker threads, 0-19 (default:\n"
"                             10 with libuv >= 1.45, 0 before it)\n"
"  --worker-yield-us N        a worker that has sorted for N us gives up its\n"
"                             CPU (sched_yield), so a woken loop thread waits\n"
"                             at most about that long; 0 never (default: 100\n"
"                             with libuv < 1.45, else 0)\n"
"  --loop-slice-us N          the loop thread's time slice, %u-%u us (Linux\n"
"                             >= 6.12); 0 keeps the kernel's (default 0)\n"
"  --cancel-on-eof            a client's FIN while its sort is pending cancels\n"
"                             the sort (default: a FIN after a complete request\n"
"                             is a half-close and the reply is still written)\n"
"  --read-timeout SECONDS     time from accept to the last request byte\n"
"                             (default %u)\n"
"  --write-timeout SECONDS    time to deliver a reply to a slow reader\n"
"                             (default %u)\n"
"  --grace SECONDS            on SIGINT/SIGTERM, how long in-flight sorts may\n"
"                             finish before their connections are closed\n"
"                             (default %u); a second signal exits at once\n"
"\n"
"General:\n"
"  --log-level LEVEL          error, warn, info (default) or debug; logs go to\n"
"                             stderr\n"
"  --log-format FORMAT        text (default) or json: one object per line\n"
"  --log-queries              one line per answered DNS query (proto, client,\n"
"                             name, type, rcode); off by default: it costs speed\n"
"  --metrics ADDR:PORT        serve Prometheus metrics at http://ADDR:PORT/metrics\n"
"                             (off by default; 9153 is the usual port)\n"
"  -h, --help                 show this help and exit\n"
"  -V, --version              show the version and exit\n"
"\n"
"Once both services are bound, one line goes to stdout:\n"
"  dnsortd listening dns=udp://ADDR:PORT sort=tcp://ADDR:PORT\n"
"(one dns= entry per --dns; DNS over TCP uses the same ports; with --metrics,\n"
"metrics=http://ADDR:PORT at the end.)\n"
"Signals: SIGHUP reloads --hosts files (and empties the forwarding cache);\n"
"SIGINT/SIGTERM stop gracefully.\n",
          LOOP_MAX_THREADS, LOOP_DEFAULT_MAX_ELEMENTS,
          LOOP_DEFAULT_MAX_CONNECTIONS, LOOP_DEFAULT_JOBS_PER_THREAD,
          LOOP_MIN_LOOP_SLICE_US, LOOP_MAX_LOOP_SLICE_US,
          LOOP_DEFAULT_READ_TIMEOUT_MS / 1000, LOOP_DEFAULT_WRITE_TIMEOUT_MS / 1000,
          LOOP_DEFAULT_GRACE_MS / 1000);
}
