/* load_opts: dnsort-load's command line. Pure (no libuv): every check that
 * can be made before the run is made here, so that a bad argument is one
 * clear line and exit code 2 before any socket exists. */
#ifndef DNSORT_LOAD_OPTS_H
#define DNSORT_LOAD_OPTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/socket.h>

/* Bits, so that mixed is both. */
typedef enum {
  LOAD_MODE_DNS = 1,
  LOAD_MODE_SORT = 2,
  LOAD_MODE_MIXED = 3,
} load_mode_t;

/* How one generator paces itself: exactly one of the two is non-zero. */
typedef struct {
  unsigned concurrency; /* closed loop: this many requests in flight */
  double rate;          /* open loop: requests started per second */
} load_pace_t;

typedef struct {
  load_mode_t mode;
  load_pace_t dns;
  load_pace_t sort;
  uint64_t max_outstanding; /* open loop bound, per generator */
  double duration_s;        /* 0: no time bound (then requests > 0) */
  uint64_t requests;        /* per generator; 0: no count bound */
  double timeout_s;
  double drain_s;
  struct sockaddr_storage dns_server;
  struct sockaddr_storage sort_server;
  /* sort */
  size_t size;
  const char *payload; /* NULL: generated integers */
  uint64_t seed;
  unsigned payloads;
  /* dns */
  uint16_t qtype;
  const char *qtype_name;
  unsigned dns_sockets;
  /* ramp */
  bool ramp;
  double ramp_start;
  double ramp_factor; /* > 1 for a multiplicative step, else 0 */
  double ramp_add;    /* > 0 for an additive step, else 0 */
  double ramp_step_s;
  double ramp_p99_ms;
  /* output */
  bool json;
} load_opts_t;

typedef enum {
  LOAD_OPTS_RUN = 0,
  LOAD_OPTS_HELP,
  LOAD_OPTS_VERSION,
  LOAD_OPTS_ERROR, /* err holds one line, without the program name */
} load_opts_result_t;

load_opts_result_t load_opts_parse(int argc, char **argv, load_opts_t *o, char *err, size_t errlen);

void load_opts_usage(FILE *f);

const char *load_mode_name(load_mode_t m);

/* "127.0.0.1:4343" or "[::1]:4343" (port 1-65535). 0 or -1. */
int load_parse_addr(const char *text, struct sockaddr_storage *out);

#endif
