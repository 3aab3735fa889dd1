#include "loop_config.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include "dns_acl.h"

/* ---- the special values ---- */

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
  bool no_port =
      bare_v6 || (text[0] == '[' && text[len - 1] == ']') || (text[0] != '[' && first == NULL);
  if (no_port)
    snprintf(buf, sizeof(buf), "%s%s%s:%d", bare_v6 ? "[" : "", text, bare_v6 ? "]" : "",
             LOOP_DEFAULT_UPSTREAM_PORT);
  else
    snprintf(buf, sizeof(buf), "%s", text);
  if (loop_parse_addr(buf, out) != 0)
    return -1;
  /* Port 0 is "pick one" for a listener, never a server to send to. */
  if (loop_addr_port((const struct sockaddr *)out) == 0)
    return -1;
  return 0;
}

/* resolv.conf(5): "nameserver ADDR", a keyword at the start of a line;
 * '#' and ';' start comments; every other keyword is not ours. */
int loop_parse_resolv_conf(const char *text, size_t len, const char *path,
                           struct sockaddr_storage *out, size_t *n, size_t max, char *err,
                           size_t errlen) {
  size_t found = 0;
  unsigned line = 1;
  for (size_t i = 0; i < len; line++) {
    size_t eol = i;
    while (eol < len && text[eol] != '\n')
      eol++;
    char buf[512];
    snprintf(buf, sizeof(buf), "%.*s", (int)(eol - i), text + i);
    i = eol + 1;
    char *save = NULL;
    char *key = strtok_r(buf, " \t\r", &save);
    if (key == NULL || strcmp(key, "nameserver") != 0)
      continue;
    char *addr = strtok_r(NULL, " \t\r#;", &save);
    if (addr == NULL)
      return loop_opts_fail(err, errlen, "%s:%u: nameserver without an address", path, line);
    if (*n >= max)
      return loop_opts_fail(err, errlen, "%s:%u: at most %zu servers", path, line, max);
    /* A bare address: resolv.conf has no port (53 it is), no brackets. */
    uint8_t raw[16];
    bool bare = inet_pton(AF_INET, addr, raw) == 1 || inet_pton(AF_INET6, addr, raw) == 1;
    if (!bare || loop_parse_upstream(addr, &out[*n]) != 0)
      return loop_opts_fail(err, errlen, "%s:%u: '%s' is not an IPv4 or IPv6 address", path, line,
                            addr);
    (*n)++;
    found++;
  }
  if (found == 0)
    return loop_opts_fail(err, errlen, "%s: no nameserver line", path);
  return 0;
}

/* --upstream ADDR[:PORT] or resolv.conf[:PATH]. */
static int set_upstream(void *base, const char *value, char *why, size_t whylen) {
  loop_config_t *cfg = base;
  size_t *n = &cfg->forward.n_upstreams;
  if (strncmp(value, "resolv.conf", 11) == 0 && (value[11] == '\0' || value[11] == ':')) {
    const char *path = value[11] == ':' ? value + 12 : LOOP_RESOLV_CONF;
    char *text;
    size_t len;
    if (loop_opts_read_file(path, LOOP_RESOLV_CONF_MAX, &text, &len, why, whylen) != 0)
      return -1;
    int rc =
        loop_parse_resolv_conf(text, len, path, cfg->upstreams, n, LOOP_MAX_UPSTREAMS, why, whylen);
    free(text);
    return rc;
  }
  if (*n >= LOOP_MAX_UPSTREAMS)
    return loop_opts_fail(why, whylen, "at most %d servers", LOOP_MAX_UPSTREAMS);
  if (loop_parse_upstream(value, &cfg->upstreams[*n]) != 0)
    return -1;
  (*n)++;
  return 0;
}

/* --unknown-address: an address with no port, 127.0.0.1 or ::1. */
static int set_unknown_address(void *base, const char *value, char *why, size_t whylen) {
  dns_zone_options_t *z = &((loop_config_t *)base)->load.options;
  if (z->n_unknown_addrs >= DNS_ZONE_MAX_UNKNOWN_ADDRS)
    return loop_opts_fail(why, whylen, "at most %d addresses", DNS_ZONE_MAX_UNKNOWN_ADDRS);
  uint8_t addr[16];
  int family;
  if (inet_pton(AF_INET, value, addr) == 1)
    family = 4;
  else if (inet_pton(AF_INET6, value, addr) == 1)
    family = 6;
  else
    return -1;
  z->unknown_addrs[z->n_unknown_addrs].family = family;
  memcpy(z->unknown_addrs[z->n_unknown_addrs].addr, addr, family == 4 ? 4 : 16);
  z->n_unknown_addrs++;
  return 0;
}

/* --health-name: a dotted name, not a wildcard; "" for none. */
static int set_health_name(void *base, const char *value, char *why, size_t whylen) {
  dns_zone_options_t *z = &((loop_config_t *)base)->load.options;
  size_t len = strlen(value);
  if (len >= sizeof(z->health_name))
    return loop_opts_fail(why, whylen, "longer than %d characters", DNS_ZONE_MAX_HEALTH_NAME);
  dns_map_name_status_t st = dns_map_check_name(value);
  if (len > 0 && st != DNS_MAP_NAME_OK)
    return loop_opts_fail(why, whylen, "'%s': %s", value, dns_map_name_strerror(st));
  if (value[0] == '*')
    return loop_opts_fail(why, whylen, "'%s': a health name cannot be a wildcard", value);
  memcpy(z->health_name, value, len + 1);
  return 0;
}

/* --allow and --sort-allow: one rule appended to the list. */
static int add_allow(net_acl_rule_t *rules, size_t *n, const char *value, char *why,
                     size_t whylen) {
  if (*n >= NET_ACL_MAX_RULES)
    return loop_opts_fail(why, whylen, "at most %d rules", NET_ACL_MAX_RULES);
  memset(&rules[*n], 0, sizeof(rules[*n]));
  net_acl_status_t st = net_acl_parse(value, &rules[*n]);
  if (st != NET_ACL_OK)
    return loop_opts_fail(why, whylen, "'%s' %s", value, net_acl_status_text(st));
  (*n)++;
  return 0;
}

static int set_dns_allow(void *base, const char *value, char *why, size_t whylen) {
  loop_config_t *cfg = base;
  return add_allow(cfg->dns_allow, &cfg->n_dns_allow, value, why, whylen);
}

static int set_sort_allow(void *base, const char *value, char *why, size_t whylen) {
  loop_config_t *cfg = base;
  return add_allow(cfg->sort_allow, &cfg->n_sort_allow, value, why, whylen);
}

/* ---- the table ---- */

/* Bounds that keep every option sane: a day for timeouts, 4 GiB for a
 * request (the body is held in memory), 100 million elements. */
#define MAX_TIMEOUT_MS (24ull * 3600 * 1000)
#define MAX_REQUEST_BYTES_LIMIT (4ull * 1024 * 1024 * 1024)
#define MAX_ELEMENTS_LIMIT 100000000ull
#define MAX_TTL 2147483647ull /* RFC 2181 8: TTLs are 31-bit */
#define MAX_TCP_CONNECTIONS_LIMIT 1000000ull
#define MAX_QUEUED_JOBS_LIMIT 10000000ull
#define MAX_INFLIGHT_BYTES_LIMIT (64ull * 1024 * 1024 * 1024)
/* c-ares 1.18 tells answers apart by a 16-bit ID: DNS_FORWARD_MAX_INFLIGHT
 * keeps enough of them free. A cache entry costs up to about 1 KiB. */
#define MAX_UPSTREAM_INFLIGHT_LIMIT ((uint64_t)DNS_FORWARD_MAX_INFLIGHT)
#define MAX_CACHE_SIZE_LIMIT 1000000ull
#define MAX_UPSTREAM_TIMEOUT_MS (600ull * 1000)
/* One reply always goes out whatever the pending bound, so a small bound
 * only slows a client down; the top is DNS_TCP_MAX_PENDING_LIMIT (a
 * uv_buf_t's length). For all connections, the same 64G as the sort
 * service's bytes in flight. */
#define MIN_DNS_TCP_PENDING 512ull
#define MIN_DNS_TCP_BUFFERED (64ull * 1024)
#define MAX_DNS_TCP_BUFFERED (64ull * 1024 * 1024 * 1024)
#define MAX_DNS_TCP_QUERIES_PER_TURN 1000000ull

_Static_assert(LOOP_MAX_UPSTREAMS == DNS_FORWARD_MAX_UPSTREAMS,
               "every --upstream the parser takes must fit the forwarder");

static const char *const log_levels[] = {"error", "warn", "info", "debug", NULL};
static const char *const log_formats[] = {"text", "json", NULL};
static const char *const unknown_policies[] = {"answer", "nxdomain", "refused", "forward", NULL};

/* The option table is laid out by hand, a few fields a line, grouped as
 * --help shows them; clang-format would give every field a line. */
/* clang-format off */
#define FIELD(f) .offset = offsetof(loop_config_t, f), .size = sizeof(((loop_config_t *)0)->f)
#define LIST(array, count, n, word)                                                   \
  .offset = offsetof(loop_config_t, array),                                          \
  .size = sizeof(((loop_config_t *)0)->array[0]),                                     \
  .count_offset = offsetof(loop_config_t, count), .max_items = (n), .items = (word)
#define ON(f) .on_offset = offsetof(loop_config_t, f)
#define ALLOW_EXPECT "ADDR or ADDR/LEN (IPv4 or IPv6)"
#define UPSTREAM_EXPECT "ADDR[:PORT] (IPv6 as [ADDR]:PORT, port 1-65535) or resolv.conf[:PATH]"

static const loop_option_t options[] = {
    {.section = "DNS responder", .name = "dns", .kind = LOOP_OPT_ADDR,
     .flags = LOOP_OPT_REPEAT | LOOP_OPT_OFF, .metavar = "ADDR:PORT",
     LIST(dns_addrs, n_dns_addrs, LOOP_MAX_DNS_ADDRS, "addresses"), ON(dns_on),
     .def = "127.0.0.1:4343",
     .help = "listen for DNS on UDP and TCP; port 0 picks a free port (the same for both); "
             "IPv6 as [::1]:4343; off: no DNS service"},
    {.name = "hosts", .kind = LOOP_OPT_STRING, .flags = LOOP_OPT_REPEAT | LOOP_OPT_RELOAD,
     .metavar = "FILE", LIST(hosts_files, load.n_hosts_files, LOOP_MAX_SOURCES, "files"),
     .help = "answer from a hosts(5) file: ADDRESS NAME [ALIAS...], IPv4 and IPv6, wildcards "
             "like *.example.com"},
    {.name = "map", .kind = LOOP_OPT_STRING,
     .flags = LOOP_OPT_REPEAT | LOOP_OPT_RELOAD | LOOP_OPT_KEYED, .metavar = "NAME=ADDR[,ADDR...]",
     LIST(map_specs, load.n_map_specs, LOOP_MAX_SOURCES, "entries"),
     .help = "add a name; in DNSORT_MAP, a piece without '=' continues the entry before it"},
    {.name = "no-default-map", .kind = LOOP_OPT_FLAG, .flags = LOOP_OPT_INVERT | LOOP_OPT_RELOAD,
     FIELD(load.default_map), .def = "no",
     .help = "start without the built-in facebook.com, yougov.com and wipo.int entries"},
    {.name = "ttl", .kind = LOOP_OPT_UINT, .flags = LOOP_OPT_RELOAD, .metavar = "SECONDS",
     FIELD(load.options.ttl), .min = 0, .max = MAX_TTL, .unit = "seconds", .def = "60",
     .help = "TTL of every answer"},
    {.name = "unknown", .kind = LOOP_OPT_ENUM, .flags = LOOP_OPT_RELOAD, .metavar = "POLICY",
     FIELD(load.options.unknown), .choices = unknown_policies, .def = "answer",
     .help = "names not in the map: answer (the --unknown-address for A/AAAA), nxdomain, "
             "refused, or forward (to the --upstream servers, any type); SIGHUP cannot switch "
             "to or from forward"},
    {.name = "unknown-address", .kind = LOOP_OPT_CUSTOM, .flags = LOOP_OPT_REPEAT | LOOP_OPT_RELOAD,
     .metavar = "ADDR", LIST(load.options.unknown_addrs, load.options.n_unknown_addrs,
                             DNS_ZONE_MAX_UNKNOWN_ADDRS, "addresses"),
     .set = set_unknown_address, .expect = "an IPv4 or IPv6 address", .def = "127.0.0.1",
     .help = "the address unknown names get, IPv4 and/or IPv6"},
    {.name = "health-name", .kind = LOOP_OPT_CUSTOM, .flags = LOOP_OPT_RELOAD, .metavar = "NAME",
     FIELD(load.options.health_name), .set = set_health_name, .expect = "a DNS name",
     .def_text = "none",
     .help = "a name for load balancers' DNS health checks: answered A 127.0.0.1 while "
             "serving, SERVFAIL from SIGINT/SIGTERM on while other names are still answered "
             "for --drain-dns, so that the balancer moves clients away before the sockets "
             "close"},
    {.name = "reuseport", .kind = LOOP_OPT_FLAG, FIELD(reuseport),
     .help = "set SO_REUSEPORT, so that several dnsortd processes can share the DNS and sort "
             "ports"},
    {.name = "dns-tcp-idle-timeout", .kind = LOOP_OPT_SECONDS, .metavar = "S",
     FIELD(dns_tcp.idle_timeout_ms), .min = 1, .max = MAX_TIMEOUT_MS, .def = "10",
     .help = "close an idle DNS-over-TCP connection"},
    {.name = "dns-tcp-max-connections", .kind = LOOP_OPT_UINT, .flags = LOOP_OPT_SUFFIX,
     .metavar = "N", FIELD(dns_tcp.max_connections), .min = 1, .max = MAX_TCP_CONNECTIONS_LIMIT,
     .def = "1024", .help = "open DNS-over-TCP connections; more are accepted and closed"},
    {.name = "dns-tcp-max-pending", .kind = LOOP_OPT_SIZE, .metavar = "SIZE",
     FIELD(dns_tcp.max_pending_bytes), .min = MIN_DNS_TCP_PENDING,
     .max = DNS_TCP_MAX_PENDING_LIMIT, .def = "64k",
     .help = "replies one DNS-over-TCP client has not read yet; past it its queries wait "
             "unread; suffixes k, M, G"},
    {.name = "dns-tcp-max-buffered", .kind = LOOP_OPT_SIZE, .metavar = "SIZE",
     FIELD(dns_tcp.max_buffered_bytes), .min = MIN_DNS_TCP_BUFFERED, .max = MAX_DNS_TCP_BUFFERED,
     .def = "16M",
     .help = "replies, unanswered queries and partial messages of all DNS-over-TCP clients; "
             "past it only clients holding less than SIZE / --dns-tcp-max-connections (at "
             "least 4k) are read; suffixes k, M, G"},
    {.name = "dns-tcp-conn-queries-per-turn", .kind = LOOP_OPT_UINT, .metavar = "N",
     FIELD(dns_tcp.conn_queries_per_turn), .min = 1, .max = MAX_DNS_TCP_QUERIES_PER_TURN,
     .def = "128",
     .help = "queries of one DNS-over-TCP connection answered per turn of the event loop; the "
             "rest wait for a later turn"},
    {.name = "dns-tcp-queries-per-turn", .kind = LOOP_OPT_UINT, .metavar = "N",
     FIELD(dns_tcp.queries_per_turn), .min = 1, .max = MAX_DNS_TCP_QUERIES_PER_TURN,
     .def = "2048",
     .help = "the same for all DNS-over-TCP connections together, so that a pipelining flood "
             "cannot hold UDP up for long"},

    {.section = "Forwarding (--unknown forward)", .name = "upstream", .kind = LOOP_OPT_CUSTOM,
     .flags = LOOP_OPT_REPEAT, .metavar = "ADDR[:PORT]",
     LIST(upstreams, forward.n_upstreams, LOOP_MAX_UPSTREAMS, "servers"), .set = set_upstream,
     .expect = UPSTREAM_EXPECT,
     .help = "a server to forward to, port 53 by default, IPv6 as [::1]:53; servers are tried "
             "in order; resolv.conf[:PATH] takes every nameserver line of that file, "
             LOOP_RESOLV_CONF " by default"},
    {.name = "upstream-timeout", .kind = LOOP_OPT_SECONDS, .metavar = "S",
     FIELD(forward.timeout_ms), .min = 10, .max = MAX_UPSTREAM_TIMEOUT_MS, .def = "2",
     .help = "time an upstream query may take, every server and retry included, before the "
             "client gets SERVFAIL"},
    {.name = "max-upstream-inflight", .kind = LOOP_OPT_UINT, .metavar = "N",
     FIELD(forward.max_inflight), .min = 1, .max = MAX_UPSTREAM_INFLIGHT_LIMIT, .def = "1024",
     .help = "upstream queries at once (identical queries share one); past it, SERVFAIL at "
             "once"},
    {.name = "upstream-udp-max-queries", .kind = LOOP_OPT_UINT, .metavar = "N",
     FIELD(forward.udp_max_queries), .min = 0, .max = DNS_FORWARD_MAX_UDP_MAX_QUERIES,
     .def = "16",
     .help = "upstream queries sent from one UDP socket (one source port) before the next "
             "ones go from a new socket, so that a spoofer must guess the port as well as "
             "the ID; 0: one socket for as long as queries overlap"},
    {.name = "cache-size", .kind = LOOP_OPT_UINT, .metavar = "N", FIELD(forward.cache_size),
     .min = 0, .max = MAX_CACHE_SIZE_LIMIT, .unit = "entries", .def = "10000",
     .help = "cached answers, 0 disables; memory is bounded to 1 KiB per entry; SIGHUP empties "
             "the cache"},
    {.name = "cache-max-ttl", .kind = LOOP_OPT_UINT, .metavar = "S", FIELD(forward.cache_max_ttl),
     .min = 0, .max = MAX_TTL, .unit = "seconds", .def = "86400",
     .help = "longest a positive answer is kept"},
    {.name = "cache-neg-ttl", .kind = LOOP_OPT_UINT, .metavar = "S", FIELD(forward.cache_neg_ttl),
     .min = 0, .max = MAX_TTL, .unit = "seconds", .def = "300",
     .help = "longest an NXDOMAIN/NODATA is kept"},

    {.section = "Sort service", .name = "sort", .kind = LOOP_OPT_ADDR, .flags = LOOP_OPT_OFF,
     .metavar = "ADDR:PORT", FIELD(sort_addr), ON(sort_on), .def = "127.0.0.1:2015",
     .help = "sort service address; off: no sort service"},
    {.name = "threads", .kind = LOOP_OPT_UINT, .flags = LOOP_OPT_SUFFIX, .metavar = "N",
     FIELD(sched.threads), .min = 1, .max = LOOP_MAX_THREADS, .def_text = "one per CPU",
     .help = "sort worker threads"},
    {.name = "max-request-bytes", .kind = LOOP_OPT_SIZE, .metavar = "SIZE",
     FIELD(sort.max_request_bytes), .min = 1, .max = MAX_REQUEST_BYTES_LIMIT, .def = "8M",
     .help = "largest sort request body; a larger length prefix is refused before any body is "
             "read; suffixes k, M, G"},
    {.name = "max-elements", .kind = LOOP_OPT_UINT, .flags = LOOP_OPT_SUFFIX, .metavar = "N",
     FIELD(sort.max_elements), .min = 1, .max = MAX_ELEMENTS_LIMIT, .def = "100000",
     .help = "most numbers in one sort request"},
    {.name = "max-connections", .kind = LOOP_OPT_UINT, .flags = LOOP_OPT_SUFFIX, .metavar = "N",
     FIELD(sort.max_connections), .min = 1, .max = MAX_TCP_CONNECTIONS_LIMIT, .def = "4096",
     .help = "open sort connections; more get \"server busy\" (fewer when the open-file limit "
             "is small: see --fd-reserve)"},
    {.name = "fd-reserve", .kind = LOOP_OPT_UINT, .metavar = "N", FIELD(fd_reserve), .min = 0,
     .max = MAX_TCP_CONNECTIONS_LIMIT, .def = "64",
     .help = "file descriptors the sort service leaves to DNS over TCP, metrics and dnsortd's "
             "own use: its connections, busy ones included, stay below the open-file limit "
             "minus N (minus half the limit when N is more), and a fifth of that is kept for "
             "busy replies"},
    {.name = "max-queued-jobs", .kind = LOOP_OPT_UINT, .flags = LOOP_OPT_SUFFIX, .metavar = "N",
     FIELD(sort.max_queued_jobs), .min = 1, .max = MAX_QUEUED_JOBS_LIMIT,
     .def_text = "64 per worker thread",
     .help = "sorts queued or running; more get \"server busy\""},
    {.name = "max-jobs-per-client", .kind = LOOP_OPT_UINT, .flags = LOOP_OPT_SUFFIX,
     .metavar = "N", FIELD(sort.max_jobs_per_client), .min = 1, .max = MAX_QUEUED_JOBS_LIMIT,
     .def_text = "half of --max-queued-jobs, at least 1",
     .help = "sorts one client may have queued or running (an IPv4 address, an IPv6 /64); more "
             "get \"server busy\"; behind a proxy every client has the proxy's address, so "
             "raise it to --max-queued-jobs there"},
    {.name = "max-sort-time", .kind = LOOP_OPT_SECONDS, .metavar = "SECONDS",
     FIELD(sort.max_sort_time_ms), .min = 1, .max = MAX_TIMEOUT_MS, .def = "10",
     .help = "a sort that has run this long on a worker (queueing not counted) is stopped and "
             "its client gets {\"error\": \"sort took longer than SECONDS s\"}"},
    {.name = "max-inflight-bytes", .kind = LOOP_OPT_SIZE, .metavar = "SIZE",
     FIELD(sort.max_inflight_bytes), .min = 1, .max = MAX_INFLIGHT_BYTES_LIMIT, .def = "256M",
     .help = "request bytes held across all connections, charged as they arrive (a length "
             "prefix alone holds nothing; a body that stalls holds its bytes for at most "
             "--read-timeout); a body that would pass it gets \"server busy\""},
    {.name = "worker-nice", .kind = LOOP_OPT_UINT, .metavar = "N", FIELD(sched.worker_nice),
     .min = 0, .max = 19, .def_text = "10 with libuv >= 1.45, 0 before it",
     .help = "nice value of the worker threads, so that the loop thread wins the CPU"},
    {.name = "worker-yield-us", .kind = LOOP_OPT_UINT, .flags = LOOP_OPT_SUFFIX, .metavar = "N",
     FIELD(sched.yield_us), .min = 0, .max = LOOP_MAX_WORKER_YIELD_US,
     .def_text = "50 with libuv < 1.45, else 0",
     .help = "a worker that has sorted for N us gives up its CPU (sched_yield), so a woken loop "
             "thread waits at most about that long; 0 never"},
    {.name = "loop-slice-us", .kind = LOOP_OPT_UINT, .flags = LOOP_OPT_SUFFIX | LOOP_OPT_ZERO_OK,
     .metavar = "N", FIELD(sched.loop_slice_us), .min = LOOP_MIN_LOOP_SLICE_US,
     .max = LOOP_MAX_LOOP_SLICE_US, .def_text = "0",
     .help = "the loop thread's time slice (Linux >= 6.12); 0 keeps the kernel's"},
    {.name = "cancel-on-eof", .kind = LOOP_OPT_FLAG, FIELD(sort.cancel_on_eof),
     .help = "a client's FIN while its sort is pending cancels the sort (by default a FIN after "
             "a complete request is a half-close and the reply is still written)"},
    {.name = "read-timeout", .kind = LOOP_OPT_SECONDS, .metavar = "SECONDS",
     FIELD(sort.read_timeout_ms), .min = 1, .max = MAX_TIMEOUT_MS, .def = "10",
     .help = "time from accept to the last request byte"},
    {.name = "write-timeout", .kind = LOOP_OPT_SECONDS, .metavar = "SECONDS",
     FIELD(sort.write_timeout_ms), .min = 1, .max = MAX_TIMEOUT_MS, .def = "10",
     .help = "time to deliver a reply to a slow reader"},
    {.name = "grace", .kind = LOOP_OPT_SECONDS, .metavar = "SECONDS", FIELD(grace_ms), .min = 0,
     .max = MAX_TIMEOUT_MS, .def = "5",
     .help = "on SIGINT/SIGTERM, how long in-flight sorts may finish before their connections "
             "are closed; a second signal exits at once"},
    {.name = "drain-dns", .kind = LOOP_OPT_SECONDS, .metavar = "SECONDS", FIELD(drain_dns_ms),
     .min = 0, .max = MAX_TIMEOUT_MS, .def_text = "2 with --metrics or --health-name, else 0",
     .help = "on SIGINT/SIGTERM, how long DNS keeps answering (and /ready says 503) before its "
             "sockets close, so that a balancer's health check moves clients away first"},

    {.section = "Access and rate limits (see README, Security)", .name = "allow",
     .kind = LOOP_OPT_CUSTOM, .flags = LOOP_OPT_REPEAT, .metavar = "CIDR",
     LIST(dns_allow, n_dns_allow, NET_ACL_MAX_RULES, "rules"), .set = set_dns_allow,
     .expect = ALLOW_EXPECT,
     .def_text = "everyone, but with --unknown forward on a non-loopback --dns: loopback, "
                 "10/8, 172.16/12, 192.168/16, fc00::/7",
     .help = "who may query DNS over UDP and TCP: 192.0.2.0/24, 2001:db8::/32 or one "
             "address; other clients get REFUSED"},
    {.name = "sort-allow", .kind = LOOP_OPT_CUSTOM, .flags = LOOP_OPT_REPEAT, .metavar = "CIDR",
     LIST(sort_allow, n_sort_allow, NET_ACL_MAX_RULES, "rules"), .set = set_sort_allow,
     .expect = ALLOW_EXPECT, .def_text = "everyone",
     .help = "who may connect to the sort port; other clients are closed unread"},
    {.name = "rrl-rate", .kind = LOOP_OPT_UINT, .metavar = "N", FIELD(rrl_rate), .min = 0,
     .max = DNS_RRL_MAX_RATE, .unit = "replies per second",
     .def_text = "off when every --dns is on loopback, else 200",
     .help = "response rate limiting: UDP replies per second to one client /24 (IPv4) or /56 "
             "(IPv6) for one answer; 0 turns it off"},
    {.name = "rrl-slip", .kind = LOOP_OPT_UINT, .metavar = "N", FIELD(rrl_slip), .min = 0,
     .max = DNS_RRL_MAX_SLIP, .def = "2",
     .help = "every Nth reply past the rate is sent truncated (TC=1) so that real clients "
             "retry over TCP; 0 never, 1 every one"},
    {.name = "rrl-table-size", .kind = LOOP_OPT_UINT, .flags = LOOP_OPT_SUFFIX, .metavar = "N",
     FIELD(rrl_table_size), .min = DNS_RRL_MIN_TABLE_SIZE, .max = DNS_RRL_MAX_TABLE_SIZE,
     .def = "65536", .help = "RRL buckets, 16 bytes each, rounded up to a power of two"},

    {.section = "General", .name = "log-level", .kind = LOOP_OPT_ENUM, .metavar = "LEVEL",
     FIELD(log_level), .choices = log_levels, .def = "info",
     .help = "error, warn, info or debug; logs go to stderr"},
    {.name = "log-format", .kind = LOOP_OPT_ENUM, .metavar = "FORMAT", FIELD(log_format),
     .choices = log_formats, .def = "text", .help = "text or json: one object per line"},
    {.name = "log-queries", .kind = LOOP_OPT_FLAG, FIELD(log_queries),
     .help = "one line per answered DNS query (proto, client, name, type, rcode); off by "
             "default: it costs speed"},
    {.name = "metrics", .kind = LOOP_OPT_ADDR, .flags = LOOP_OPT_OFF, .metavar = "ADDR:PORT",
     FIELD(metrics_addr), ON(metrics), .def_text = "off",
     .help = "serve Prometheus metrics at http://ADDR:PORT/metrics (9153 is the usual port)"},
    {.name = "config", .kind = LOOP_OPT_STRING, .flags = LOOP_OPT_NO_FILE, .metavar = "FILE",
     FIELD(config_file),
     .help = "read options from FILE (see CONFIGURATION FILE AND ENVIRONMENT below)"},
    {.name = "help", .short_name = 'h', .kind = LOOP_OPT_FLAG, .flags = LOOP_OPT_CLI,
     FIELD(help), .help = "show this help and exit"},
    {.name = "version", .short_name = 'V', .kind = LOOP_OPT_FLAG, .flags = LOOP_OPT_CLI,
     FIELD(version), .help = "show the version and exit"},
    {.name = "man", .kind = LOOP_OPT_FLAG, .flags = LOOP_OPT_CLI | LOOP_OPT_HIDDEN, FIELD(man),
     .help = "print the man page (roff) and exit"},
};
/* clang-format on */

static const loop_opt_table_t table = {
    .opts = options,
    .n = sizeof(options) / sizeof(options[0]),
    .env_prefix = "DNSORT_",
};

_Static_assert(sizeof(options) / sizeof(options[0]) <= LOOP_OPTS_MAX_OPTIONS,
               "loop_options sizes its arrays for LOOP_OPTS_MAX_OPTIONS");

const loop_opt_table_t *loop_config_table(void) {
  return &table;
}

/* ---- reading ---- */

/* Defaults that are "decide at start-up" rather than a value. */
static int set_defaults(loop_config_t *cfg, char *err, size_t errlen) {
  memset(cfg, 0, sizeof(*cfg));
  /* The services' own defaults first, for any field the table leaves
   * alone; the table's agree with them (the unit tests check). */
  dns_forward_config_default(&cfg->forward);
  dns_zone_options_default(&cfg->load.options);
  cfg->sched = (loop_sched_request_t){.threads = LOOP_SCHED_AUTO,
                                      .worker_nice = LOOP_SCHED_AUTO,
                                      .yield_us = LOOP_SCHED_AUTO,
                                      .loop_slice_us = LOOP_SCHED_AUTO};
  cfg->sort.max_queued_jobs = 0; /* main(): LOOP_DEFAULT_JOBS_PER_THREAD per thread */
  cfg->drain_dns_ms = LOOP_DRAIN_DNS_AUTO;
  cfg->rrl_rate = LOOP_RRL_RATE_AUTO;
  return loop_opts_defaults(&table, cfg, err, errlen);
}

/* The allow lists and RRL, which depend on where DNS listens: a forwarder
 * on a public address is an open resolver unless told whom to serve,
 * and a UDP responder there is a reflection amplifier without RRL. */
static void finish_exposure(loop_config_t *cfg) {
  bool public = false;
  for (size_t i = 0; cfg->dns_on && i < cfg->n_dns_addrs; i++)
  public = public || !net_acl_is_loopback((struct sockaddr *)&cfg->dns_addrs[i]);
  /* The rules were checked one by one and are at most NET_ACL_MAX_RULES,
   * as is the fixed local list: adding them cannot fail. */
  net_acl_init(&cfg->dns_acl);
  for (size_t i = 0; i < cfg->n_dns_allow; i++)
    net_acl_add_rule(&cfg->dns_acl, &cfg->dns_allow[i]);
  cfg->dns_acl_default =
      cfg->n_dns_allow == 0 && public && cfg->load.options.unknown == DNS_UNKNOWN_FORWARD;
  if (cfg->dns_acl_default)
    dns_acl_add_local(&cfg->dns_acl);
  cfg->dns_tcp.acl = cfg->n_dns_allow > 0 || cfg->dns_acl_default ? &cfg->dns_acl : NULL;
  net_acl_init(&cfg->sort_acl);
  for (size_t i = 0; i < cfg->n_sort_allow; i++)
    net_acl_add_rule(&cfg->sort_acl, &cfg->sort_allow[i]);
  cfg->sort.acl = cfg->n_sort_allow > 0 ? &cfg->sort_acl : NULL;
  cfg->rrl_rate_default = cfg->rrl_rate == LOOP_RRL_RATE_AUTO;
  if (cfg->rrl_rate_default)
    cfg->rrl_rate = public ? DNS_RRL_DEFAULT_RATE : 0;
}

/* Checks across options, and the parts that follow from the rest. */
static int finish(loop_config_t *cfg, char *err, size_t errlen) {
  /* Either half alone is a mistake worth a word, not a silent default. */
  bool forward = cfg->load.options.unknown == DNS_UNKNOWN_FORWARD;
  if (forward && cfg->forward.n_upstreams == 0)
    return loop_opts_fail(err, errlen,
                          "--unknown forward needs at least one --upstream ADDR[:PORT]");
  if (!forward && cfg->forward.n_upstreams > 0)
    return loop_opts_fail(err, errlen, "--upstream is only used with --unknown forward");
  if (!cfg->dns_on && !cfg->sort_on)
    return loop_opts_fail(err, errlen,
                          "--dns off and --sort off: at least one service must stay on");
  cfg->load.hosts_files = cfg->hosts_files;
  cfg->load.map_specs = cfg->map_specs;
  cfg->forward.upstreams = cfg->upstreams;
  cfg->sort.reuseport = cfg->reuseport;
  cfg->sort.linger_ms = LOOP_SORT_LINGER_MS;
  cfg->dns_tcp.reuseport = cfg->reuseport;
  if (cfg->dns_tcp.conn_queries_per_turn > cfg->dns_tcp.queries_per_turn)
    return loop_opts_fail(err, errlen,
                          "--dns-tcp-conn-queries-per-turn (%zu) is more than "
                          "--dns-tcp-queries-per-turn (%zu)",
                          cfg->dns_tcp.conn_queries_per_turn, cfg->dns_tcp.queries_per_turn);
  if (cfg->drain_dns_ms == LOOP_DRAIN_DNS_AUTO)
    cfg->drain_dns_ms =
        cfg->metrics || cfg->load.options.health_name[0] != '\0' ? LOOP_DEFAULT_DRAIN_DNS_MS : 0;
  finish_exposure(cfg);
  return 0;
}

/* The last value of option idx in args, or NULL. */
static const char *last_value(const loop_opt_args_t *args, int idx) {
  for (size_t i = args->n; i-- > 0;) {
    if (args->v[i].opt == idx)
      return args->v[i].value;
  }
  return NULL;
}

static bool has_cli_only(const loop_opt_args_t *args) {
  for (size_t i = 0; i < args->n; i++) {
    if (table.opts[args->v[i].opt].flags & LOOP_OPT_CLI)
      return true;
  }
  return false;
}

static int read_config_file(const char *path, loop_opt_args_t *out, char *err, size_t errlen) {
  char *text;
  size_t len;
  if (loop_opts_read_file(path, LOOP_OPTS_MAX_FILE, &text, &len, err, errlen) != 0)
    return -1;
  return loop_opts_from_text(&table, path, text, len, out, err, errlen);
}

int loop_config_load(loop_config_t *cfg, int argc, char **argv, char *const *envp, char *err,
                     size_t errlen) {
  if (set_defaults(cfg, err, errlen) != 0)
    return -1;
  if (loop_opts_from_argv(&table, argc, argv, &cfg->cli, err, errlen) != 0)
    return -1;
  /* --help and friends work whatever the environment or the file say. */
  if (has_cli_only(&cfg->cli)) {
    const loop_opt_args_t *cli[] = {&cfg->cli};
    return loop_opts_apply(&table, cfg, cli, 1, err, errlen);
  }
  if (loop_opts_from_env(&table, envp, &cfg->env, err, errlen) != 0)
    return -1;
  int config = loop_opts_find(&table, "config");
  const char *path = last_value(&cfg->cli, config);
  if (path == NULL)
    path = last_value(&cfg->env, config);
  if (path != NULL && read_config_file(path, &cfg->file, err, errlen) != 0)
    return -1;
  const loop_opt_args_t *lists[] = {&cfg->file, &cfg->env, &cfg->cli};
  if (loop_opts_apply(&table, cfg, lists, 3, err, errlen) != 0)
    return -1;
  return finish(cfg, err, errlen);
}

int loop_config_parse(loop_config_t *cfg, int argc, char **argv, char *err, size_t errlen) {
  return loop_config_load(cfg, argc, argv, NULL, err, errlen);
}

int loop_config_reload(const loop_config_t *cur, loop_config_t *fresh, char *err, size_t errlen) {
  if (set_defaults(fresh, err, errlen) != 0)
    return -1;
  if (cur->config_file != NULL &&
      read_config_file(cur->config_file, &fresh->file, err, errlen) != 0)
    return -1;
  const loop_opt_args_t *lists[] = {&fresh->file, &cur->env, &cur->cli};
  if (loop_opts_apply(&table, fresh, lists, 3, err, errlen) != 0)
    return -1;
  if (finish(fresh, err, errlen) != 0)
    return -1;
  /* The forwarder is started, or not, once: a zone that forwards needs
   * it, and one that stops forwarding would leave it idle. */
  if ((cur->load.options.unknown == DNS_UNKNOWN_FORWARD) !=
      (fresh->load.options.unknown == DNS_UNKNOWN_FORWARD))
    return loop_opts_fail(err, errlen, "unknown: switching to or from forward needs a restart");
  return 0;
}

void loop_config_changed(const loop_config_t *a, const loop_config_t *b, char *out, size_t cap) {
  size_t used = 0;
  out[0] = '\0';
  for (size_t i = 0; i < table.n && used < cap; i++) {
    const loop_option_t *o = &table.opts[i];
    if ((o->flags & (LOOP_OPT_RELOAD | LOOP_OPT_CLI)) || loop_opts_same(o, a, b))
      continue;
    used += (size_t)snprintf(out + used, cap - used, "%s--%s", used > 0 ? ", " : "", o->name);
  }
}

void loop_config_free(loop_config_t *cfg) {
  loop_opt_args_free(&cfg->cli);
  loop_opt_args_free(&cfg->env);
  loop_opt_args_free(&cfg->file);
}

/* ---- --help and the man page ---- */

static const loop_opt_doc_t description = {
    "Description",
    "dnsortd runs two services on one libuv event loop: a DNS responder (UDP and TCP) that "
    "answers from a built-in map, hosts files and --map entries, and can forward other names "
    "to upstream servers through a cache; and a sort service (TCP) that takes an 8-byte "
    "big-endian length and a JSON array of numbers and replies with the array sorted, sorting "
    "on a pool of worker threads so that DNS stays responsive."};

static const loop_opt_doc_t after[] = {
    {"Configuration file and environment",
     "Every option can also be given in a file named by --config FILE (or DNSORT_CONFIG), one "
     "per line as NAME or NAME=VALUE, NAME being the long option without its dashes; a "
     "repeatable option is repeated, one value per line. A '#' at the start of a line or after "
     "a blank starts a comment; blank lines and the blanks around NAME and VALUE are ignored. "
     "A file may hold at most 1 MiB, a line at most 4096 bytes. For example:\n\n"
     "  # /etc/dnsort/dnsortd.conf\n"
     "  dns=0.0.0.0:53\n"
     "  hosts=/etc/dnsort/hosts\n"
     "  ttl=30\n"
     "  reuseport\n\n"
     "Every option can also be set in the environment as DNSORT_NAME, in upper case with '_' "
     "for '-' (DNSORT_MAX_CONNECTIONS=100); a repeatable option takes its values separated by "
     "commas (DNSORT_DNS=0.0.0.0:4343,[::]:4343); a flag takes yes or no; an empty variable "
     "counts as unset, and a DNSORT_ variable that names no option is ignored with a "
     "warning.\n\n"
     "The command line wins over the environment, which wins over the file. A repeatable "
     "option takes all its values from the highest of the three that names it, never a mix: "
     "--hosts on the command line replaces every hosts line of the file."},
    {"Output",
     "Once every listener is bound, one line goes to stdout:\n\n"
     "  dnsortd listening dns=udp://ADDR:PORT sort=tcp://ADDR:PORT\n\n"
     "with one dns= entry per --dns address (none with --dns off; DNS over TCP uses the same "
     "ports), no sort= with --sort off, and metrics=http://ADDR:PORT at the end with --metrics."},
    {"Signals",
     "SIGHUP builds a new zone on a thread of its own (never queued behind sorts): the hosts files are read again and, with "
     "--config, the options marked \"reread on SIGHUP\" are taken from the file as it is "
     "now; on any error the old zone stays in service and the error is logged. Other options "
     "changed in the file are logged and wait for a restart. SIGHUP also empties the "
     "forwarding cache. SIGINT and SIGTERM stop gracefully (see --grace); a second one exits "
     "at once."},
    {"Exit status",
     "0 after a clean stop; 1 when a listener cannot be bound or the event loop fails; 2 for "
     "a bad option, environment variable, config file, --map entry or hosts file."},
};

void loop_config_usage(FILE *out) {
  fprintf(out,
          "Usage: dnsortd [OPTION]...\n"
          "A DNS responder (UDP and TCP) and a sort service (TCP) on one libuv event "
          "loop.\n");
  loop_opts_help(&table, out);
  for (size_t i = 0; i < sizeof(after) / sizeof(after[0]); i++)
    loop_opts_help_doc(&after[i], out);
}

void loop_config_man(FILE *out) {
  loop_opt_man_t man = {
      .name = "dnsortd",
      .section = 8,
      .version = DNSORT_VERSION,
      .summary = "DNS responder and sort service on one event loop",
      .synopsis = "[OPTION]...",
      .before = &description,
      .n_before = 1,
      .after = after,
      .n_after = sizeof(after) / sizeof(after[0]),
  };
  loop_opts_man(&table, &man, out);
}
