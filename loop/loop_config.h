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
#include "loop_log.h"

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
#define LOOP_DEFAULT_WORKER_NICE 10
#define LOOP_MAX_THREADS 1024u /* libuv's MAX_THREADPOOL_SIZE */
#define LOOP_DEFAULT_DNS_TCP_IDLE_MS 10000u
#define LOOP_DEFAULT_DNS_TCP_MAX_CONNECTIONS 1024u
#define LOOP_MAX_DNS_ADDRS 16
#define LOOP_MAX_SOURCES 64     /* --hosts files and --map specs, each */

typedef struct {
  struct sockaddr_storage dns_addrs[LOOP_MAX_DNS_ADDRS];
  size_t n_dns_addrs;           /* --dns is repeatable; default one */
  struct sockaddr_storage sort_addr;
  unsigned threads;             /* 0: one per CPU, decided by main() */
  loop_log_level_t log_level;
  uint64_t max_request_bytes;
  size_t max_elements;
  uint64_t read_timeout_ms;
  uint64_t write_timeout_ms;
  uint64_t grace_ms;
  size_t max_connections;
  size_t max_queued_jobs;       /* 0: LOOP_DEFAULT_JOBS_PER_THREAD per thread */
  uint64_t max_inflight_bytes;
  int worker_nice;
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
  bool help;
  bool version;
} loop_config_t;

/* Parse argv. Returns 0, or -1 with a one-line message in err. */
int loop_config_parse(loop_config_t *cfg, int argc, char **argv, char *err,
                      size_t errlen);

/* "1.2.3.4:53", "[::1]:53", "localhost" is not accepted: no DNS lookups at
 * start-up. Returns 0 or -1. */
int loop_parse_addr(const char *text, struct sockaddr_storage *out);

/* "ADDR:PORT" with IPv6 in brackets, for messages. */
void loop_format_addr(const struct sockaddr *sa, char *out, size_t cap);

void loop_config_usage(FILE *out);

#endif
