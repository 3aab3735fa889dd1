/* loop_config: dnsortd's options. One table (loop_config_table) names
 * every option once; loop_config_load reads the command line, DNSORT_*
 * environment variables and a --config file through it, straight into
 * each service's own config struct. Pure but for the file reads (the
 * config file, a resolv.conf), so it is unit-tested without starting
 * anything. */
#ifndef DNSORT_LOOP_CONFIG_H
#define DNSORT_LOOP_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/socket.h>

#include "dns_forward.h"
#include "dns_load.h"
#include "dns_rrl.h"
#include "dns_tcp.h"
#include "dns_zone.h"
#include "loop_addr.h"
#include "loop_log.h"
#include "loop_options.h"
#include "loop_sched.h"
#include "net_acl.h"
#include "sort_server.h"

#define LOOP_DEFAULT_JOBS_PER_THREAD 64u
#define LOOP_MAX_WORKER_YIELD_US 1000000u
#define LOOP_MIN_LOOP_SLICE_US 100u
#define LOOP_MAX_LOOP_SLICE_US 100000u
#define LOOP_MAX_THREADS 1024u /* libuv's MAX_THREADPOOL_SIZE */
#define LOOP_MAX_DNS_ADDRS 16
#define LOOP_MAX_SOURCES 64   /* --hosts files and --map specs, each */
#define LOOP_MAX_UPSTREAMS 16 /* DNS_FORWARD_MAX_UPSTREAMS */
#define LOOP_DEFAULT_UPSTREAM_PORT 53
/* How long a replied-to sort connection waits for the client's FIN. */
#define LOOP_SORT_LINGER_MS 2000
/* After SIGTERM, DNS answers on this long when a metrics listener (/ready)
 * or --health-name can tell a balancer to move away; "not given" is
 * UINT64_MAX. */
#define LOOP_DEFAULT_DRAIN_DNS_MS 2000u
#define LOOP_DRAIN_DNS_AUTO UINT64_MAX
/* --upstream resolv.conf: the file, and how much of it is read (a real
 * one is a few hundred bytes). */
#define LOOP_RESOLV_CONF "/etc/resolv.conf"
#define LOOP_RESOLV_CONF_MAX (64u * 1024)
/* --rrl-rate not given: finish() decides from where DNS listens. */
#define LOOP_RRL_RATE_AUTO UINT32_MAX

typedef struct {
  /* Each service's own options, filled in by the table; main() adds the
   * run-time parts (log callbacks, the forwarder, the worker plan). */
  sort_server_config_t sort;
  dns_tcp_config_t dns_tcp;
  dns_forward_config_t forward; /* upstreams points at upstreams[] */
  dns_load_config_t load;       /* the zone: hosts_files and map_specs
                                   point at the arrays below */
  loop_sched_request_t sched;   /* LOOP_SCHED_AUTO: loop_sched_plan picks */
  struct sockaddr_storage dns_addrs[LOOP_MAX_DNS_ADDRS];
  size_t n_dns_addrs;
  bool dns_on; /* false: --dns off */
  struct sockaddr_storage sort_addr;
  bool sort_on; /* false: --sort off */
  bool metrics; /* --metrics given: serve metrics_addr */
  struct sockaddr_storage metrics_addr;
  bool reuseport;    /* copied to sort and dns_tcp */
  size_t fd_reserve; /* descriptors the sort service leaves */
  loop_log_level_t log_level;
  loop_log_format_t log_format;
  bool log_queries; /* one line per answered query */
  uint64_t grace_ms;
  uint64_t drain_dns_ms; /* DNS answers on after SIGTERM this long */
  const char *hosts_files[LOOP_MAX_SOURCES];
  const char *map_specs[LOOP_MAX_SOURCES];
  struct sockaddr_storage upstreams[LOOP_MAX_UPSTREAMS];
  /* --allow and --sort-allow as given; finish() builds the lists the
   * listeners check (dns_tcp.acl and sort.acl point at them, NULL when
   * everyone may connect). With --unknown forward on a non-loopback
   * --dns and no --allow, dns_acl is dns_acl_local_nets and
   * dns_acl_default says so. */
  net_acl_rule_t dns_allow[NET_ACL_MAX_RULES];
  size_t n_dns_allow;
  net_acl_rule_t sort_allow[NET_ACL_MAX_RULES];
  size_t n_sort_allow;
  net_acl_t dns_acl;
  net_acl_t sort_acl;
  bool dns_acl_default;
  /* Response rate limiting; rate 0 is off. Without --rrl-rate: off when
   * every --dns is on loopback, else DNS_RRL_DEFAULT_RATE
   * (rrl_rate_default says which). */
  uint32_t rrl_rate;
  bool rrl_rate_default;
  uint32_t rrl_slip;
  size_t rrl_table_size;
  const char *config_file; /* --config or DNSORT_CONFIG, or NULL */
  bool help;
  bool version;
  bool man;
  /* Private: where the values came from; strings point into these (and
   * into argv, which outlives everything). */
  loop_opt_args_t cli;
  loop_opt_args_t env;
  loop_opt_args_t file;
} loop_config_t;

/* The option table. */
const loop_opt_table_t *loop_config_table(void);

/* Read the command line, the environment (envp as environ; NULL: none)
 * and the config file, applied file first so that the environment wins
 * over it and the command line over both. With --help, --version or
 * --man only the command line is read. Returns 0, or -1 with one line in
 * err. Call loop_config_free afterwards, on error too; cfg points into
 * itself and must not be copied. */
int loop_config_load(loop_config_t *cfg, int argc, char **argv, char *const *envp, char *err,
                     size_t errlen);

/* loop_config_load without the environment. */
int loop_config_parse(loop_config_t *cfg, int argc, char **argv, char *err, size_t errlen);

/* SIGHUP: the options again from the same command line and environment
 * (as read at start) and the config file as it is now. Safe on another
 * thread while cur is not written. fresh borrows cur's strings: free it
 * before cur. */
int loop_config_reload(const loop_config_t *cur, loop_config_t *fresh, char *err, size_t errlen);

/* The options that differ between a and b and that SIGHUP does not apply,
 * as "--threads, --sort" (empty when none). */
void loop_config_changed(const loop_config_t *a, const loop_config_t *b, char *out, size_t cap);

void loop_config_free(loop_config_t *cfg);

/* An upstream server: "1.2.3.4", "1.2.3.4:5353", "::1", "[::1]:53";
 * the port defaults to 53 and may not be 0. Returns 0 or -1. */
int loop_parse_upstream(const char *text, struct sockaddr_storage *out);

/* The "nameserver ADDR" lines of a resolv.conf text, in order, appended
 * to out[*n..max). Returns 0, or -1 with "PATH:LINE: message" (too many,
 * an address that is not one, none at all). */
int loop_parse_resolv_conf(const char *text, size_t len, const char *path,
                           struct sockaddr_storage *out, size_t *n, size_t max, char *err,
                           size_t errlen);

/* --help and --man (dnsortd.8), both from the table. */
void loop_config_usage(FILE *out);
void loop_config_man(FILE *out);

#endif
