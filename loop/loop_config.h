/* loop_config: dnsortd's command line. Pure: parses into a struct and
 * reports errors as text, so it is unit-tested without starting anything. */
#ifndef DNSORT_LOOP_CONFIG_H
#define DNSORT_LOOP_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/socket.h>

#include "dns_zone.h"
#include "loop_addr.h"
#include "loop_log.h"
#include "loop_sched.h"

#define LOOP_DEFAULT_DNS "127.0.0.1:4343"
#define LOOP_DEFAULT_SORT "127.0.0.1:2015"
#define LOOP_DEFAULT_MAX_REQUEST_BYTES (8u * 1024 * 1024)
#define LOOP_DEFAULT_MAX_ELEMENTS 100000u
#define LOOP_DEFAULT_READ_TIMEOUT_MS 10000u
#define LOOP_DEFAULT_WRITE_TIMEOUT_MS 10000u
#define LOOP_DEFAULT_GRACE_MS 5000u
#define LOOP_DEFAULT_MAX_CONNECTIONS 4096u
#define LOOP_DEFAULT_JOBS_PER_THREAD 64u
#define LOOP_DEFAULT_MAX_INFLIGHT_BYTES (256ull * 1024 * 1024)
#define LOOP_MAX_WORKER_YIELD_US 1000000u
#define LOOP_MIN_LOOP_SLICE_US 100u
#define LOOP_MAX_LOOP_SLICE_US 100000u
#define LOOP_MAX_THREADS 1024u /* libuv's MAX_THREADPOOL_SIZE */
#define LOOP_DEFAULT_DNS_TCP_IDLE_MS 10000u
#define LOOP_DEFAULT_DNS_TCP_MAX_CONNECTIONS 1024u
#define LOOP_MAX_DNS_ADDRS 16
#define LOOP_MAX_SOURCES 64     /* --hosts files and --map specs, each */
#define LOOP_MAX_UPSTREAMS 16   /* DNS_FORWARD_MAX_UPSTREAMS */
#define LOOP_DEFAULT_UPSTREAM_PORT 53
#define LOOP_DEFAULT_UPSTREAM_TIMEOUT_MS 2000u
#define LOOP_DEFAULT_MAX_UPSTREAM_INFLIGHT 1024u
#define LOOP_DEFAULT_CACHE_SIZE 10000u
#define LOOP_DEFAULT_CACHE_MAX_TTL 86400u
#define LOOP_DEFAULT_CACHE_NEG_TTL 300u

typedef struct {
  struct sockaddr_storage dns_addrs[LOOP_MAX_DNS_ADDRS];
  size_t n_dns_addrs;           /* --dns is repeatable; default one */
  struct sockaddr_storage sort_addr;
  unsigned threads;             /* 0: one per CPU, decided by main() */
  loop_log_level_t log_level;
  loop_log_format_t log_format;
  bool log_queries;             /* one line per answered query */
  bool metrics;                 /* --metrics given: serve metrics_addr */
  struct sockaddr_storage metrics_addr;
  uint64_t max_request_bytes;
  size_t max_elements;
  uint64_t read_timeout_ms;
  uint64_t write_timeout_ms;
  uint64_t grace_ms;
  size_t max_connections;
  size_t max_queued_jobs;       /* 0: LOOP_DEFAULT_JOBS_PER_THREAD per thread */
  uint64_t max_inflight_bytes;
  int worker_nice;              /* LOOP_SCHED_AUTO: loop_sched_plan picks */
  int64_t worker_yield_us;      /* idem */
  int64_t loop_slice_us;        /* idem */
  bool cancel_on_eof;           /* a FIN during the sort cancels it */
  /* DNS data and policy; the strings point into argv. */
  const char *hosts_files[LOOP_MAX_SOURCES];
  size_t n_hosts_files;
  const char *map_specs[LOOP_MAX_SOURCES];
  size_t n_map_specs;
  bool default_map;
  dns_zone_options_t zone;
  bool reuseport;
  uint64_t dns_tcp_idle_ms;
  size_t dns_tcp_max_connections;
  /* --unknown forward: where, and the cache in front. */
  struct sockaddr_storage upstreams[LOOP_MAX_UPSTREAMS];
  size_t n_upstreams;
  uint64_t upstream_timeout_ms;
  size_t max_upstream_inflight;
  size_t cache_size;            /* entries; 0 disables */
  uint32_t cache_max_ttl;
  uint32_t cache_neg_ttl;
  bool help;
  bool version;
} loop_config_t;

/* Parse argv. Returns 0, or -1 with a one-line message in err. */
int loop_config_parse(loop_config_t *cfg, int argc, char **argv, char *err,
                      size_t errlen);

/* An upstream server: "1.2.3.4", "1.2.3.4:5353", "::1", "[::1]:53";
 * the port defaults to 53 and may not be 0. Returns 0 or -1. */
int loop_parse_upstream(const char *text, struct sockaddr_storage *out);

void loop_config_usage(FILE *out);

#endif
