/* loop_config: dnsortd's command line. Pure: parses into a struct and
 * reports errors as text, so it is unit-tested without starting anything. */
#ifndef DNSORT_LOOP_CONFIG_H
#define DNSORT_LOOP_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/socket.h>

#include "loop_log.h"

#define LOOP_DEFAULT_DNS "127.0.0.1:4343"
#define LOOP_DEFAULT_SORT "127.0.0.1:2015"
#define LOOP_DEFAULT_MAX_REQUEST_BYTES (8u * 1024 * 1024)
#define LOOP_DEFAULT_MAX_ELEMENTS 100000u
#define LOOP_DEFAULT_READ_TIMEOUT_MS 10000u
#define LOOP_DEFAULT_WRITE_TIMEOUT_MS 10000u
#define LOOP_DEFAULT_GRACE_MS 5000u
#define LOOP_MAX_THREADS 1024u /* libuv's MAX_THREADPOOL_SIZE */

typedef struct {
  struct sockaddr_storage dns_addr;
  struct sockaddr_storage sort_addr;
  unsigned threads;             /* 0: one per CPU, decided by main() */
  loop_log_level_t log_level;
  uint64_t max_request_bytes;
  size_t max_elements;
  uint64_t read_timeout_ms;
  uint64_t write_timeout_ms;
  uint64_t grace_ms;
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
