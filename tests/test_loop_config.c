/* Unit tests for dnsortd's command line (loop_config). */
#include "test_util.h"
#include "test_addr.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "loop_config.h"
#include "loop_fd.h"

/* One config for every test; each parse frees what the one before it
 * held, and the group teardown the last. */
static loop_config_t cfg;

static int parse_argv(loop_config_t *c, int argc, char **argv, char *err, size_t errlen) {
  loop_config_free(c);
  return loop_config_parse(c, argc, argv, err, errlen);
}

/* Parse a NULL-terminated argument list (argv[0] included). */
static int parse(loop_config_t *c, char *err, size_t errlen, char **argv) {
  int argc = 0;
  while (argv[argc] != NULL)
    argc++;
  return parse_argv(c, argc, argv, err, errlen);
}

#define PARSE(cfg, err, ...) \
  parse(cfg, err, sizeof(err), (char *[]){"dnsortd", __VA_ARGS__, NULL})

static void test_defaults_are_the_seeds_addresses(void **state) {
  (void)state;
  char err[256];
  char *argv[] = {"dnsortd", NULL};
  assert_int_equal(parse_argv(&cfg, 1, argv, err, sizeof(err)), 0);
  char text[64];
  assert_int_equal(cfg.n_dns_addrs, 1);
  loop_format_addr((struct sockaddr *)&cfg.dns_addrs[0], text, sizeof(text));
  assert_string_equal(text, "127.0.0.1:4343");
  loop_format_addr((struct sockaddr *)&cfg.sort_addr, text, sizeof(text));
  assert_string_equal(text, "127.0.0.1:2015");
  assert_int_equal(cfg.sort.max_request_bytes, 8 * 1024 * 1024);
  assert_int_equal(cfg.sort.max_elements, 100000);
  assert_int_equal(cfg.grace_ms, 5000);
  assert_int_equal(cfg.drain_dns_ms, 0); /* no --metrics, no /ready to watch */
  assert_int_equal(cfg.sort.read_timeout_ms, 10000);
  assert_int_equal(cfg.sched.threads, LOOP_SCHED_AUTO); /* one per CPU */
  assert_int_equal(cfg.log_level, LOOP_LOG_INFO);
  assert_false(cfg.help);
}

static void test_ipv4_and_ipv6_addresses_parse(void **state) {
  (void)state;
  struct sockaddr_storage ss;
  char text[64];
  assert_int_equal(loop_parse_addr("0.0.0.0:0", &ss), 0);
  assert_int_equal(ss.ss_family, AF_INET);
  assert_int_equal(loop_parse_addr("[::1]:4343", &ss), 0);
  assert_int_equal(ss.ss_family, AF_INET6);
  loop_format_addr((struct sockaddr *)&ss, text, sizeof(text));
  assert_string_equal(text, "[::1]:4343");
  assert_int_equal(loop_parse_addr("[::]:65535", &ss), 0);
}

static void test_bad_addresses_are_refused(void **state) {
  (void)state;
  struct sockaddr_storage ss;
  const char *bad[] = {"", "127.0.0.1", "127.0.0.1:", ":53", "127.0.0.1:65536",
                       "127.0.0.1:-1", "127.0.0.1:5x", "::1:53", "[::1]53",
                       "[::1]:", "localhost:53", "1.2.3.4.5:53", "[]:53",
                       "127.0.0.1:123456"};
  for (size_t i = 0; i < ARRAY_LEN(bad); i++) {
    if (loop_parse_addr(bad[i], &ss) == 0)
      fail_msg("accepted bad address '%s'", bad[i]);
  }
}

static void test_every_option_parses(void **state) {
  (void)state;
  char err[256];
  int rc = PARSE(&cfg, err, "--dns", "[::1]:0", "--sort", "127.0.0.2:9",
                 "--threads", "3", "--log-level", "debug",
                 "--max-request-bytes", "64k", "--max-elements", "7",
                 "--read-timeout", "0.5", "--write-timeout", "2",
                 "--grace", "0");
  assert_int_equal(rc, 0);
  assert_int_equal(cfg.n_dns_addrs, 1);
  assert_int_equal(cfg.dns_addrs[0].ss_family, AF_INET6);
  assert_int_equal(cfg.sched.threads, 3);
  assert_int_equal(cfg.log_level, LOOP_LOG_DEBUG);
  assert_int_equal(cfg.sort.max_request_bytes, 65536);
  assert_int_equal(cfg.sort.max_elements, 7);
  assert_int_equal(cfg.sort.read_timeout_ms, 500);
  assert_int_equal(cfg.sort.write_timeout_ms, 2000);
  assert_int_equal(cfg.grace_ms, 0);
}

static void test_drain_dns_default_follows_metrics(void **state) {
  (void)state;
  char err[256];
  assert_int_equal(PARSE(&cfg, err, "--metrics", "127.0.0.1:0"), 0);
  assert_int_equal(cfg.drain_dns_ms, LOOP_DEFAULT_DRAIN_DNS_MS);
  assert_int_equal(PARSE(&cfg, err, "--metrics", "127.0.0.1:0", "--drain-dns", "0"), 0);
  assert_int_equal(cfg.drain_dns_ms, 0);
  assert_int_equal(PARSE(&cfg, err, "--drain-dns", "0.5"), 0);
  assert_int_equal(cfg.drain_dns_ms, 500);
  assert_int_equal(PARSE(&cfg, err, "--drain-dns", "-1"), -1);
  assert_non_null(strstr(err, "--drain-dns"));
}

static void test_health_name_is_checked_and_implies_a_drain(void **state) {
  (void)state;
  char err[1024]; /* the messages quote a 254-character name */
  assert_int_equal(PARSE(&cfg, err, "--health-name", "Health.dnsort.test."), 0);
  assert_string_equal(cfg.load.options.health_name, "Health.dnsort.test.");
  /* A balancer checks the name: it needs the drain to see it fail. */
  assert_int_equal(cfg.drain_dns_ms, LOOP_DEFAULT_DRAIN_DNS_MS);
  assert_int_equal(PARSE(&cfg, err, "--health-name", "h.test", "--drain-dns", "3"), 0);
  assert_int_equal(cfg.drain_dns_ms, 3000);
  assert_int_equal(PARSE(&cfg, err, "--health-name", ""), 0);
  assert_string_equal(cfg.load.options.health_name, "");
  assert_int_equal(cfg.drain_dns_ms, 0);
  assert_int_equal(PARSE(&cfg, err, "--ttl", "60"), 0);
  assert_string_equal(cfg.load.options.health_name, "");

  assert_int_equal(PARSE(&cfg, err, "--health-name", "*.dnsort.test"), -1);
  assert_non_null(strstr(err, "--health-name"));
  assert_non_null(strstr(err, "wildcard"));
  assert_int_equal(PARSE(&cfg, err, "--health-name", "a..b"), -1);
  assert_non_null(strstr(err, "empty label"));
  /* The longest name: 63 + 63 + 63 + 61 characters, four dots (the last
   * one the root's): 254 characters, 255 octets on the wire. */
  char name[300];
  memset(name, 'a', 254);
  name[63] = name[127] = name[191] = name[253] = '.';
  name[254] = '\0';
  assert_int_equal(PARSE(&cfg, err, "--health-name", name), 0);
  assert_int_equal(strlen(cfg.load.options.health_name), 254);
  /* One more character: too long for the option. */
  name[253] = 'a';
  name[254] = '.';
  name[255] = '\0';
  assert_int_equal(PARSE(&cfg, err, "--health-name", name), -1);
  assert_non_null(strstr(err, "longer than 254"));
  /* 254 characters without the root's dot: 256 octets on the wire. */
  name[254] = '\0';
  assert_int_equal(PARSE(&cfg, err, "--health-name", name), -1);
  assert_non_null(strstr(err, "255 octets"));
  assert_non_null(strstr(err, "--health-name"));
}

static void test_limits_at_and_past_their_edges(void **state) {
  (void)state;
  char err[256];
  assert_int_equal(PARSE(&cfg, err, "--threads", "1024"), 0);
  assert_int_equal(PARSE(&cfg, err, "--threads", "1025"), -1);
  assert_non_null(strstr(err, "--threads"));
  assert_int_equal(PARSE(&cfg, err, "--threads", "0"), -1);
  assert_int_equal(PARSE(&cfg, err, "--max-request-bytes", "4G"), 0);
  assert_int_equal(cfg.sort.max_request_bytes, 4ull << 30);
  assert_int_equal(PARSE(&cfg, err, "--max-request-bytes", "4294967297"), -1);
  assert_int_equal(PARSE(&cfg, err, "--max-request-bytes", "0"), -1);
  assert_int_equal(PARSE(&cfg, err, "--max-request-bytes", "99999999999999999999999"), -1);
  assert_int_equal(PARSE(&cfg, err, "--max-elements", "100000000"), 0);
  assert_int_equal(PARSE(&cfg, err, "--max-elements", "100000001"), -1);
  assert_int_equal(PARSE(&cfg, err, "--read-timeout", "0"), -1);
  assert_int_equal(PARSE(&cfg, err, "--read-timeout", "86400"), 0);
  assert_int_equal(PARSE(&cfg, err, "--read-timeout", "86401"), -1);
  assert_int_equal(PARSE(&cfg, err, "--grace", "-1"), -1);
  assert_int_equal(PARSE(&cfg, err, "--grace", "nan"), -1);
  assert_int_equal(PARSE(&cfg, err, "--max-elements", "12abc"), -1);
}

static void test_unknown_and_incomplete_options_are_named(void **state) {
  (void)state;
  char err[256];
  assert_int_equal(PARSE(&cfg, err, "--bogus"), -1);
  assert_non_null(strstr(err, "--bogus"));
  assert_int_equal(PARSE(&cfg, err, "--dns"), -1);
  assert_non_null(strstr(err, "--dns"));
  assert_int_equal(PARSE(&cfg, err, "stray"), -1);
  assert_non_null(strstr(err, "stray"));
  assert_int_equal(PARSE(&cfg, err, "--log-level", "loud"), -1);
  assert_non_null(strstr(err, "loud"));
}

static void test_dns_options(void **state) {
  (void)state;
  char err[256];
  assert_int_equal(PARSE(&cfg, err, "--dns", "127.0.0.1:1", "--dns", "[::1]:2",
                         "--hosts", "a", "--hosts", "b", "--map", "x=1.2.3.4",
                         "--no-default-map", "--ttl", "0", "--unknown", "nxdomain",
                         "--reuseport", "--dns-tcp-idle-timeout", "0.25",
                         "--dns-tcp-max-connections", "3"),
                   0);
  assert_int_equal(cfg.n_dns_addrs, 2);
  assert_int_equal(cfg.dns_addrs[1].ss_family, AF_INET6);
  assert_int_equal(cfg.load.n_hosts_files, 2);
  assert_string_equal(cfg.hosts_files[1], "b");
  assert_int_equal(cfg.load.n_map_specs, 1);
  assert_false(cfg.load.default_map);
  assert_int_equal(cfg.load.options.ttl, 0);
  assert_int_equal(cfg.load.options.unknown, DNS_UNKNOWN_NXDOMAIN);
  assert_true(cfg.reuseport);
  assert_int_equal(cfg.dns_tcp.idle_timeout_ms, 250);
  assert_int_equal(cfg.dns_tcp.max_connections, 3);

  assert_int_equal(PARSE(&cfg, err, "--ttl", "2147483647"), 0);
  assert_int_equal(PARSE(&cfg, err, "--ttl", "2147483648"), -1);
  assert_int_equal(PARSE(&cfg, err, "--ttl", "1k"), -1);
  assert_int_equal(PARSE(&cfg, err, "--unknown", "forward"), -1);
  assert_non_null(strstr(err, "--unknown"));

  /* The first --unknown-address replaces 127.0.0.1; up to 8 in all. */
  assert_int_equal(PARSE(&cfg, err, "--unknown-address", "::1", "--unknown-address", "10.0.0.1"), 0);
  assert_int_equal(cfg.load.options.n_unknown_addrs, 2);
  assert_int_equal(cfg.load.options.unknown_addrs[0].family, 6);
  assert_int_equal(cfg.load.options.unknown_addrs[1].family, 4);
  assert_int_equal(PARSE(&cfg, err, "--unknown-address", "1.1.1.1", "--unknown-address", "1.1.1.2",
                         "--unknown-address", "1.1.1.3", "--unknown-address", "1.1.1.4",
                         "--unknown-address", "1.1.1.5", "--unknown-address", "1.1.1.6",
                         "--unknown-address", "1.1.1.7", "--unknown-address", "1.1.1.8"),
                   0);
  assert_int_equal(PARSE(&cfg, err, "--unknown-address", "1.1.1.1", "--unknown-address", "1.1.1.2",
                         "--unknown-address", "1.1.1.3", "--unknown-address", "1.1.1.4",
                         "--unknown-address", "1.1.1.5", "--unknown-address", "1.1.1.6",
                         "--unknown-address", "1.1.1.7", "--unknown-address", "1.1.1.8",
                         "--unknown-address", "1.1.1.9"),
                   -1);
  assert_int_equal(PARSE(&cfg, err, "--unknown-address", "1.2.3.4:53"), -1);
}

/* The DNS-over-TCP fairness limits: defaults, the edges, and the per-turn
 * count of one connection never above all connections'. */
static void test_dns_tcp_fairness_options(void **state) {
  (void)state;
  char err[256];
  assert_int_equal(PARSE(&cfg, err, "--sort", "127.0.0.1:0"), 0);
  assert_int_equal(cfg.dns_tcp.max_pending_bytes, DNS_TCP_DEFAULT_MAX_PENDING_BYTES);
  assert_int_equal(cfg.dns_tcp.max_buffered_bytes, DNS_TCP_DEFAULT_MAX_BUFFERED_BYTES);
  assert_int_equal(cfg.dns_tcp.conn_queries_per_turn, DNS_TCP_DEFAULT_CONN_QUERIES_PER_TURN);
  assert_int_equal(cfg.dns_tcp.queries_per_turn, DNS_TCP_DEFAULT_QUERIES_PER_TURN);

  assert_int_equal(PARSE(&cfg, err, "--dns-tcp-max-pending", "512", "--dns-tcp-max-buffered", "64k",
                         "--dns-tcp-conn-queries-per-turn", "1", "--dns-tcp-queries-per-turn", "1"),
                   0);
  assert_int_equal(cfg.dns_tcp.max_pending_bytes, 512);
  assert_int_equal(cfg.dns_tcp.max_buffered_bytes, 64 * 1024);
  assert_int_equal(cfg.dns_tcp.conn_queries_per_turn, 1);
  assert_int_equal(cfg.dns_tcp.queries_per_turn, 1);
  assert_int_equal(PARSE(&cfg, err, "--dns-tcp-max-pending", "1G", "--dns-tcp-max-buffered", "64G",
                         "--dns-tcp-conn-queries-per-turn", "1000000",
                         "--dns-tcp-queries-per-turn", "1000000"),
                   0);
  assert_int_equal(cfg.dns_tcp.max_buffered_bytes, 64ull << 30);

  assert_int_equal(PARSE(&cfg, err, "--dns-tcp-max-pending", "511"), -1);
  assert_non_null(strstr(err, "--dns-tcp-max-pending"));
  assert_int_equal(PARSE(&cfg, err, "--dns-tcp-max-pending", "1073741825"), -1);
  assert_int_equal(PARSE(&cfg, err, "--dns-tcp-max-buffered", "65535"), -1);
  assert_non_null(strstr(err, "--dns-tcp-max-buffered"));
  assert_int_equal(PARSE(&cfg, err, "--dns-tcp-max-buffered", "68719476737"), -1);
  assert_int_equal(PARSE(&cfg, err, "--dns-tcp-conn-queries-per-turn", "0"), -1);
  assert_non_null(strstr(err, "--dns-tcp-conn-queries-per-turn"));
  assert_int_equal(PARSE(&cfg, err, "--dns-tcp-queries-per-turn", "1000001"), -1);
  assert_int_equal(PARSE(&cfg, err, "--dns-tcp-queries-per-turn", "1k"), -1);
  assert_non_null(strstr(err, "--dns-tcp-queries-per-turn"));
  /* The default of 2048 for all connections is below 2049 for one. */
  assert_int_equal(PARSE(&cfg, err, "--dns-tcp-conn-queries-per-turn", "2049"), -1);
  assert_non_null(strstr(err, "more than --dns-tcp-queries-per-turn"));
}

static void test_sort_limits(void **state) {
  (void)state;
  char err[256];
  assert_int_equal(PARSE(&cfg, err, "--max-connections", "1", "--max-queued-jobs", "1",
                         "--max-inflight-bytes", "1", "--worker-nice", "19",
                         "--cancel-on-eof"),
                   0);
  assert_true(cfg.sort.cancel_on_eof);
  assert_int_equal(cfg.sort.max_connections, 1);
  assert_int_equal(cfg.sort.max_queued_jobs, 1);
  assert_int_equal(cfg.sort.max_inflight_bytes, 1);
  assert_int_equal(cfg.sched.worker_nice, 19);
  assert_int_equal(parse(&cfg, err, sizeof(err), (char *[]){"dnsortd", NULL}), 0);
  assert_int_equal(cfg.sort.max_connections, 4096);
  assert_int_equal(cfg.sort.max_queued_jobs, 0); /* main() makes it 64 per thread */
  assert_int_equal(cfg.sort.max_inflight_bytes, 256u * 1024 * 1024);
  assert_int_equal(cfg.sched.worker_nice, LOOP_SCHED_AUTO); /* loop_sched_plan picks */
  assert_int_equal(cfg.sched.yield_us, LOOP_SCHED_AUTO);
  assert_int_equal(cfg.sched.loop_slice_us, LOOP_SCHED_AUTO);
  assert_false(cfg.sort.cancel_on_eof);
  assert_int_equal(PARSE(&cfg, err, "--worker-yield-us", "0", "--loop-slice-us", "0"), 0);
  assert_int_equal(cfg.sched.yield_us, 0);
  assert_int_equal(cfg.sched.loop_slice_us, 0);
  assert_int_equal(PARSE(&cfg, err, "--worker-yield-us", "1000000", "--loop-slice-us", "100"), 0);
  assert_int_equal(cfg.sched.yield_us, 1000000);
  assert_int_equal(cfg.sched.loop_slice_us, 100);
  assert_int_equal(PARSE(&cfg, err, "--loop-slice-us", "100000"), 0);
  assert_int_equal(PARSE(&cfg, err, "--worker-yield-us", "1000001"), -1);
  assert_int_equal(PARSE(&cfg, err, "--loop-slice-us", "99"), -1);
  assert_non_null(strstr(err, "--loop-slice-us"));
  assert_int_equal(PARSE(&cfg, err, "--loop-slice-us", "100001"), -1);
  assert_int_equal(PARSE(&cfg, err, "--max-connections", "0"), -1);
  assert_int_equal(PARSE(&cfg, err, "--max-queued-jobs", "0"), -1);
  assert_int_equal(PARSE(&cfg, err, "--max-inflight-bytes", "0"), -1);
  assert_int_equal(PARSE(&cfg, err, "--max-inflight-bytes", "65G"), -1);
  assert_int_equal(PARSE(&cfg, err, "--worker-nice", "20"), -1);
  assert_int_equal(PARSE(&cfg, err, "--worker-nice", "-1"), -1);
  assert_int_equal(PARSE(&cfg, err, "--worker-nice", "1x"), -1);
}

/* Issue 14's limits: each at and past its edge, and its default. */
static void test_hostile_client_limits(void **state) {
  (void)state;
  char err[256];
  assert_int_equal(parse(&cfg, err, sizeof(err), (char *[]){"dnsortd", NULL}), 0);
  assert_int_equal(cfg.sort.max_sort_time_ms, 10000);
  assert_int_equal(cfg.sort.max_jobs_per_client, 0); /* main(): half of --max-queued-jobs */
  assert_int_equal(cfg.fd_reserve, LOOP_FD_DEFAULT_RESERVE);
  assert_int_equal(PARSE(&cfg, err, "--max-sort-time", "0.001", "--max-jobs-per-client", "1",
                         "--fd-reserve", "0"),
                   0);
  assert_int_equal(cfg.sort.max_sort_time_ms, 1);
  assert_int_equal(cfg.sort.max_jobs_per_client, 1);
  assert_int_equal(cfg.fd_reserve, 0);
  assert_int_equal(PARSE(&cfg, err, "--max-sort-time", "86400", "--max-jobs-per-client",
                         "10000000", "--fd-reserve", "1000000"),
                   0);
  assert_int_equal(cfg.sort.max_sort_time_ms, 86400000);
  assert_int_equal(cfg.sort.max_jobs_per_client, 10000000);
  assert_int_equal(cfg.fd_reserve, 1000000);
  assert_int_equal(PARSE(&cfg, err, "--max-sort-time", "0"), -1);
  assert_non_null(strstr(err, "--max-sort-time"));
  assert_int_equal(PARSE(&cfg, err, "--max-sort-time", "0.0004"), -1);
  assert_int_equal(PARSE(&cfg, err, "--max-sort-time", "86400.001"), -1);
  assert_int_equal(PARSE(&cfg, err, "--max-jobs-per-client", "0"), -1);
  assert_non_null(strstr(err, "--max-jobs-per-client"));
  assert_int_equal(PARSE(&cfg, err, "--max-jobs-per-client", "10000001"), -1);
  assert_int_equal(PARSE(&cfg, err, "--fd-reserve", "1000001"), -1);
  assert_non_null(strstr(err, "--fd-reserve"));
  assert_int_equal(PARSE(&cfg, err, "--fd-reserve", "-1"), -1);
}

static void test_forward_options(void **state) {
  (void)state;
  char err[256];
  char text[64];

  /* Defaults, with forwarding off. */
  assert_int_equal(parse(&cfg, err, sizeof(err), (char *[]){"dnsortd", NULL}), 0);
  assert_int_equal(cfg.forward.n_upstreams, 0);
  assert_int_equal(cfg.forward.timeout_ms, 2000);
  assert_int_equal(cfg.forward.max_inflight, 1024);
  assert_int_equal(cfg.forward.cache_size, 10000);
  assert_int_equal(cfg.forward.cache_max_ttl, 86400);
  assert_int_equal(cfg.forward.cache_neg_ttl, 300);

  assert_int_equal(PARSE(&cfg, err, "--unknown", "forward", "--upstream", "192.0.2.1",
                         "--upstream", "[2001:db8::1]:5353", "--upstream", "::1",
                         "--upstream", "127.0.0.1:5300", "--upstream", "[::1]",
                         "--upstream-timeout", "0.5", "--max-upstream-inflight", "100",
                         "--cache-size", "0", "--cache-max-ttl", "3600", "--cache-neg-ttl", "5"),
                   0);
  assert_int_equal(cfg.load.options.unknown, DNS_UNKNOWN_FORWARD);
  assert_int_equal(cfg.forward.n_upstreams, 5);
  const char *want[] = {"192.0.2.1:53", "[2001:db8::1]:5353", "[::1]:53", "127.0.0.1:5300",
                        "[::1]:53"};
  for (size_t i = 0; i < ARRAY_LEN(want); i++) {
    loop_format_addr((struct sockaddr *)&cfg.upstreams[i], text, sizeof(text));
    assert_string_equal(text, want[i]);
  }
  assert_int_equal(cfg.forward.timeout_ms, 500);
  assert_int_equal(cfg.forward.max_inflight, 100);
  assert_int_equal(cfg.forward.cache_size, 0);
  assert_int_equal(cfg.forward.cache_max_ttl, 3600);
  assert_int_equal(cfg.forward.cache_neg_ttl, 5);

  /* Each half needs the other. */
  assert_int_equal(PARSE(&cfg, err, "--unknown", "forward"), -1);
  assert_non_null(strstr(err, "--upstream"));
  assert_int_equal(PARSE(&cfg, err, "--upstream", "192.0.2.1"), -1);
  assert_non_null(strstr(err, "--unknown forward"));

  const char *bad[] = {"", "localhost", "192.0.2.1:0", "192.0.2.1:65536", "[::1]:0",
                       "[::1", "1.2.3", "192.0.2.1:53:53", "[::1]53"};
  for (size_t i = 0; i < ARRAY_LEN(bad); i++) {
    if (PARSE(&cfg, err, "--unknown", "forward", "--upstream", (char *)bad[i]) != -1)
      fail_msg("accepted bad upstream '%s'", bad[i]);
    assert_non_null(strstr(err, "--upstream"));
  }
  char *many[2 + 2 * (LOOP_MAX_UPSTREAMS + 1) + 1];
  size_t n = 0;
  many[n++] = "dnsortd";
  many[n++] = "--unknown=forward";
  for (int i = 0; i <= LOOP_MAX_UPSTREAMS; i++) {
    many[n++] = "--upstream";
    many[n++] = "192.0.2.1";
  }
  many[n] = NULL;
  assert_int_equal(parse_argv(&cfg, (int)n, many, err, sizeof(err)), -1);
  assert_non_null(strstr(err, "at most"));

  assert_int_equal(PARSE(&cfg, err, "--unknown", "forward", "--upstream", "::1",
                         "--upstream-timeout", "0.001"), -1);
  assert_int_equal(PARSE(&cfg, err, "--unknown", "forward", "--upstream", "::1",
                         "--upstream-timeout", "601"), -1);
  assert_int_equal(PARSE(&cfg, err, "--unknown", "forward", "--upstream", "::1",
                         "--max-upstream-inflight", "0"), -1);
  assert_int_equal(PARSE(&cfg, err, "--unknown", "forward", "--upstream", "::1",
                         "--max-upstream-inflight", "50000"), 0);
  /* Queries per upstream socket: 0 (never rotate) to 65535. */
  assert_int_equal(PARSE(&cfg, err, "--unknown", "forward", "--upstream", "::1",
                         "--upstream-udp-max-queries", "0"), 0);
  assert_int_equal(cfg.forward.udp_max_queries, 0);
  assert_int_equal(PARSE(&cfg, err, "--unknown", "forward", "--upstream", "::1",
                         "--upstream-udp-max-queries", "65535"), 0);
  assert_int_equal(cfg.forward.udp_max_queries, 65535);
  assert_int_equal(PARSE(&cfg, err, "--unknown", "forward", "--upstream", "::1",
                         "--upstream-udp-max-queries", "65536"), -1);
  assert_non_null(strstr(err, "--upstream-udp-max-queries"));
  assert_int_equal(PARSE(&cfg, err, "--unknown", "forward", "--upstream", "::1",
                         "--max-upstream-inflight", "50001"), -1);
  assert_int_equal(PARSE(&cfg, err, "--unknown", "forward", "--upstream", "::1",
                         "--cache-size", "1000001"), -1);
  assert_int_equal(PARSE(&cfg, err, "--unknown", "forward", "--upstream", "::1",
                         "--cache-size", "10k"), -1);
  assert_int_equal(PARSE(&cfg, err, "--unknown", "forward", "--upstream", "::1",
                         "--cache-max-ttl", "2147483648"), -1);
  assert_int_equal(PARSE(&cfg, err, "--unknown", "forward", "--upstream", "::1",
                         "--cache-neg-ttl", "x"), -1);
  assert_non_null(strstr(err, "--cache-neg-ttl"));
}

static void test_metrics_and_log_options(void **state) {
  (void)state;
  char err[256];
  char text[64];
  /* Off by default. */
  assert_int_equal(PARSE(&cfg, err, "--threads", "1"), 0);
  assert_false(cfg.metrics);
  assert_false(cfg.log_queries);
  assert_int_equal(cfg.log_format, LOOP_LOG_TEXT);

  assert_int_equal(PARSE(&cfg, err, "--metrics", "0.0.0.0:9153", "--log-format", "json",
                         "--log-queries"), 0);
  assert_true(cfg.metrics);
  loop_format_addr((struct sockaddr *)&cfg.metrics_addr, text, sizeof(text));
  assert_string_equal(text, "0.0.0.0:9153");
  assert_int_equal(cfg.log_format, LOOP_LOG_JSON);
  assert_true(cfg.log_queries);

  assert_int_equal(PARSE(&cfg, err, "--metrics", "[::1]:0", "--log-format", "text"), 0);
  assert_int_equal(cfg.metrics_addr.ss_family, AF_INET6);
  assert_int_equal(cfg.log_format, LOOP_LOG_TEXT);

  const char *bad_metrics[] = {"9153", "localhost:9153", "127.0.0.1:65536", ""};
  for (size_t i = 0; i < ARRAY_LEN(bad_metrics); i++) {
    assert_int_equal(PARSE(&cfg, err, "--metrics", (char *)bad_metrics[i]), -1);
    assert_non_null(strstr(err, "--metrics"));
  }
  assert_int_equal(PARSE(&cfg, err, "--metrics"), -1);
  assert_non_null(strstr(err, "--metrics"));
  assert_int_equal(PARSE(&cfg, err, "--log-format", "xml"), -1);
  assert_non_null(strstr(err, "xml"));
  assert_int_equal(PARSE(&cfg, err, "--log-queries=yes"), -1);
}

static void test_help_and_version_flags(void **state) {
  (void)state;
  char err[256];
  assert_int_equal(PARSE(&cfg, err, "--help"), 0);
  assert_true(cfg.help);
  assert_int_equal(PARSE(&cfg, err, "-V"), 0);
  assert_true(cfg.version);
}

/* ---- the table itself ---- */

static uint64_t width_max(size_t size) {
  return size >= 8 ? UINT64_MAX : (1ull << (8 * size)) - 1;
}

static void test_table_is_sound(void **state) {
  (void)state;
  const loop_opt_table_t *t = loop_config_table();
  assert_true(t->n <= LOOP_OPTS_MAX_OPTIONS);
  for (size_t i = 0; i < t->n; i++) {
    const loop_option_t *o = &t->opts[i];
    assert_non_null(o->help);
    assert_true(strlen(o->name) + strlen(t->env_prefix) < 64);
    for (size_t j = 0; j < i; j++)
      assert_string_not_equal(o->name, t->opts[j].name);
    if (o->kind != LOOP_OPT_FLAG)
      assert_non_null(o->metavar);
    if (o->flags & LOOP_OPT_REPEAT) {
      assert_true(o->max_items > 0);
      assert_non_null(o->items);
    }
    /* A value the parser accepts fits the field it goes to; signed
     * fields keep their sign bit free. */
    if (o->kind == LOOP_OPT_UINT || o->kind == LOOP_OPT_SIZE || o->kind == LOOP_OPT_SECONDS) {
      if (o->max > width_max(o->size) >> 1)
        fail_msg("--%s: max %llu does not fit its %zu-byte field", o->name,
                 (unsigned long long)o->max, o->size);
      assert_true(o->min <= o->max);
    }
    if (o->kind == LOOP_OPT_ENUM)
      assert_int_equal(o->size, sizeof(int));
  }
}

static void test_table_defaults_match_the_services(void **state) {
  (void)state;
  char err[256];
  assert_int_equal(PARSE(&cfg, err, "--threads", "1"), 0);
  dns_forward_config_t f;
  dns_forward_config_default(&f);
  assert_int_equal(cfg.forward.timeout_ms, f.timeout_ms);
  assert_int_equal(cfg.forward.max_inflight, f.max_inflight);
  assert_int_equal(cfg.forward.cache_size, f.cache_size);
  assert_int_equal(cfg.forward.cache_max_ttl, f.cache_max_ttl);
  assert_int_equal(cfg.forward.cache_neg_ttl, f.cache_neg_ttl);
  assert_int_equal(cfg.forward.udp_max_queries, f.udp_max_queries);
  dns_zone_options_t z;
  dns_zone_options_default(&z);
  assert_int_equal(cfg.load.options.ttl, z.ttl);
  assert_int_equal(cfg.load.options.unknown, z.unknown);
  assert_int_equal(cfg.load.options.n_unknown_addrs, z.n_unknown_addrs);
  assert_memory_equal(cfg.load.options.unknown_addrs, z.unknown_addrs, sizeof(z.unknown_addrs[0]));
  assert_int_equal(cfg.dns_tcp.idle_timeout_ms, DNS_TCP_DEFAULT_IDLE_TIMEOUT_MS);
  assert_int_equal(cfg.dns_tcp.max_connections, DNS_TCP_DEFAULT_MAX_CONNECTIONS);
  assert_int_equal(cfg.dns_tcp.max_pending_bytes, DNS_TCP_DEFAULT_MAX_PENDING_BYTES);
  assert_int_equal(cfg.dns_tcp.max_buffered_bytes, DNS_TCP_DEFAULT_MAX_BUFFERED_BYTES);
  assert_int_equal(cfg.dns_tcp.conn_queries_per_turn, DNS_TCP_DEFAULT_CONN_QUERIES_PER_TURN);
  assert_int_equal(cfg.dns_tcp.queries_per_turn, DNS_TCP_DEFAULT_QUERIES_PER_TURN);
  assert_true(cfg.load.default_map);
  assert_true(cfg.dns_on);
  assert_true(cfg.sort_on);
  /* The finishing touches main() relies on. */
  assert_ptr_equal(cfg.forward.upstreams, cfg.upstreams);
  assert_ptr_equal(cfg.load.hosts_files, cfg.hosts_files);
  assert_int_equal(cfg.sort.linger_ms, LOOP_SORT_LINGER_MS);
}

static void test_enum_choices_are_loop_logs_names(void **state) {
  (void)state;
  const loop_opt_table_t *t = loop_config_table();
  const loop_option_t *level = &t->opts[loop_opts_find(t, "log-level")];
  const loop_option_t *format = &t->opts[loop_opts_find(t, "log-format")];
  size_t i;
  for (i = 0; level->choices[i] != NULL; i++) {
    loop_log_level_t l;
    assert_int_equal(loop_log_parse_level(level->choices[i], &l), 0);
    assert_int_equal(l, i);
  }
  assert_int_equal(i, LOOP_LOG_DEBUG + 1);
  for (i = 0; format->choices[i] != NULL; i++) {
    loop_log_format_t f;
    assert_int_equal(loop_log_parse_format(format->choices[i], &f), 0);
    assert_int_equal(f, i);
  }
  assert_int_equal(i, LOOP_LOG_JSON + 1);
}

static char *render(void (*f)(FILE *)) {
  char *buf = NULL;
  size_t len = 0;
  FILE *out = open_memstream(&buf, &len);
  assert_non_null(out);
  f(out);
  assert_int_equal(fclose(out), 0);
  return buf;
}

static void test_help_and_man_name_every_option(void **state) {
  (void)state;
  const loop_opt_table_t *t = loop_config_table();
  char *help = render(loop_config_usage);
  char *man = render(loop_config_man);
  for (size_t i = 0; i < t->n; i++) {
    const loop_option_t *o = &t->opts[i];
    char want[96], roffed[160] = "\\fB\\-\\-";
    snprintf(want, sizeof(want), "--%s%s", o->name, o->metavar != NULL ? " " : "");
    size_t n = strlen(roffed);
    for (const char *p = o->name; *p != '\0'; p++)
      n += (size_t)snprintf(roffed + n, sizeof(roffed) - n, *p == '-' ? "\\-" : "%c", *p);
    bool shown = !(o->flags & LOOP_OPT_HIDDEN);
    if ((strstr(help, want) != NULL) != shown || (strstr(man, roffed) != NULL) != shown)
      fail_msg("--%s: %s in --help or in the man page", o->name, shown ? "missing" : "shown");
  }
  assert_non_null(strstr(man, ".TH DNSORTD 8 "));
  assert_non_null(strstr(man, ".SH CONFIGURATION FILE AND ENVIRONMENT"));
  free(help);
  free(man);
}

/* ---- the config file and the environment ---- */

static char conf_path[64];

static void write_conf(const char *text) {
  if (conf_path[0] == '\0') {
    strcpy(conf_path, "/tmp/dnsort-config-XXXXXX");
    int fd = mkstemp(conf_path);
    assert_true(fd >= 0);
    close(fd);
  }
  FILE *f = fopen(conf_path, "w");
  assert_non_null(f);
  fputs(text, f);
  assert_int_equal(fclose(f), 0);
}

/* argv (NULL-terminated, argv[0] included) with envp. */
static int load(char *const *envp, char *err, size_t errlen, char **argv) {
  int argc = 0;
  while (argv[argc] != NULL)
    argc++;
  loop_config_free(&cfg);
  return loop_config_load(&cfg, argc, argv, envp, err, errlen);
}

#define LOAD(envp, err, ...) load(envp, err, sizeof(err), (char *[]){"dnsortd", __VA_ARGS__, NULL})

static void test_config_file(void **state) {
  (void)state;
  char err[512], text[64];
  write_conf("# dnsortd.conf\n"
             "dns = 127.0.0.1:53\n"
             "dns = [::1]:53\n"
             "hosts=/etc/dnsort/hosts   # the main one\n"
             "hosts=/etc/dnsort/more\n"
             "map=a.test=192.0.2.1,192.0.2.2\n"
             "ttl=30\n"
             "no-default-map\n"
             "reuseport=yes\n"
             "max-request-bytes=1M\n"
             "read-timeout=0.5\n"
             "log-level=debug\n");
  assert_int_equal(LOAD(NULL, err, "--config", conf_path), 0);
  assert_string_equal(cfg.config_file, conf_path);
  assert_int_equal(cfg.n_dns_addrs, 2);
  loop_format_addr((struct sockaddr *)&cfg.dns_addrs[1], text, sizeof(text));
  assert_string_equal(text, "[::1]:53");
  assert_int_equal(cfg.load.n_hosts_files, 2);
  assert_string_equal(cfg.hosts_files[0], "/etc/dnsort/hosts");
  assert_string_equal(cfg.map_specs[0], "a.test=192.0.2.1,192.0.2.2");
  assert_int_equal(cfg.load.options.ttl, 30);
  assert_false(cfg.load.default_map);
  assert_true(cfg.reuseport);
  assert_true(cfg.sort.reuseport);
  assert_true(cfg.dns_tcp.reuseport);
  assert_int_equal(cfg.sort.max_request_bytes, 1 << 20);
  assert_int_equal(cfg.sort.read_timeout_ms, 500);
  assert_int_equal(cfg.log_level, LOOP_LOG_DEBUG);

  /* Errors name the file and the line; the config file names itself. */
  write_conf("ttl=30\n\nttl=forever\n");
  assert_int_equal(LOAD(NULL, err, "--config", conf_path), -1);
  char want[256];
  snprintf(want, sizeof(want), "%s:3: ttl: 'forever' is not a number of seconds from 0 to 2147483647",
           conf_path);
  assert_string_equal(err, want);
  write_conf("config=/etc/other.conf\n");
  assert_int_equal(LOAD(NULL, err, "--config", conf_path), -1);
  assert_non_null(strstr(err, ":1: 'config' cannot be set in a config file"));
  write_conf("threads 4\n");
  assert_int_equal(LOAD(NULL, err, "--config", conf_path), -1);
  assert_non_null(strstr(err, ":1: unknown option 'threads 4'"));
  assert_int_equal(LOAD(NULL, err, "--config", "/nonexistent/dnsortd.conf"), -1);
  assert_string_equal(err, "/nonexistent/dnsortd.conf: No such file or directory");
  /* --health-name from the file, and DNSORT_HEALTH_NAME over it. */
  write_conf("health-name = health.file.test\n");
  assert_int_equal(LOAD(NULL, err, "--config", conf_path), 0);
  assert_string_equal(cfg.load.options.health_name, "health.file.test");
  assert_int_equal(cfg.drain_dns_ms, LOOP_DEFAULT_DRAIN_DNS_MS);
  char *health_env[] = {"DNSORT_HEALTH_NAME=health.env.test", NULL};
  assert_int_equal(LOAD(health_env, err, "--config", conf_path), 0);
  assert_string_equal(cfg.load.options.health_name, "health.env.test");
  write_conf("health-name = *.file.test\n");
  assert_int_equal(LOAD(NULL, err, "--config", conf_path), -1);
  assert_non_null(strstr(err, ":1: health-name: '*.file.test': a health name cannot be a wildcard"));
  /* A cross-option check after the file: the file is the whole story. */
  write_conf("unknown=forward\n");
  assert_int_equal(LOAD(NULL, err, "--config", conf_path), -1);
  assert_non_null(strstr(err, "--unknown forward needs at least one --upstream"));
}

static void test_environment_and_precedence(void **state) {
  (void)state;
  char err[512], text[64];
  /* The container's settings. */
  char *container[] = {"HOME=/", "DNSORT_DNS=0.0.0.0:4343,[::]:4343", "DNSORT_SORT=0.0.0.0:2015",
                       "DNSORT_METRICS=0.0.0.0:9153", NULL};
  assert_int_equal(LOAD(container, err, "--log-queries"), 0);
  assert_int_equal(cfg.n_dns_addrs, 2);
  loop_format_addr((struct sockaddr *)&cfg.dns_addrs[1], text, sizeof(text));
  assert_string_equal(text, "[::]:4343");
  loop_format_addr((struct sockaddr *)&cfg.sort_addr, text, sizeof(text));
  assert_string_equal(text, "0.0.0.0:2015");
  assert_true(cfg.metrics);
  assert_true(cfg.log_queries);
  /* Arguments on top keep the rest of the environment. */
  assert_int_equal(LOAD(container, err, "--dns", "127.0.0.1:0"), 0);
  assert_int_equal(cfg.n_dns_addrs, 1);
  assert_true(cfg.metrics);
  assert_int_equal(LOAD(container, err, "--metrics", "off"), 0);
  assert_false(cfg.metrics);

  /* Command line over environment over file; lists whole from one. */
  write_conf("ttl=1\nmax-elements=1\nmax-connections=1\nhosts=file1\nhosts=file2\n"
             "unknown-address=10.0.0.1\n");
  char *env[] = {"DNSORT_MAX_ELEMENTS=2", "DNSORT_MAX_CONNECTIONS=2", "DNSORT_HOSTS=env1,env2,env3",
                 "DNSORT_CONFIG=/nonexistent", NULL};
  assert_int_equal(LOAD(env, err, "--config", conf_path, "--max-connections", "3"), 0);
  assert_int_equal(cfg.load.options.ttl, 1);
  assert_int_equal(cfg.sort.max_elements, 2);
  assert_int_equal(cfg.sort.max_connections, 3);
  assert_int_equal(cfg.load.n_hosts_files, 3);
  assert_string_equal(cfg.hosts_files[2], "env3");
  assert_int_equal(cfg.load.options.n_unknown_addrs, 1);
  assert_int_equal(cfg.load.options.unknown_addrs[0].addr[0], 10);
  assert_int_equal(LOAD(env, err, "--config", conf_path, "--hosts", "cli"), 0);
  assert_int_equal(cfg.load.n_hosts_files, 1);
  assert_string_equal(cfg.hosts_files[0], "cli");
  /* DNSORT_CONFIG names the file when the command line does not. */
  assert_int_equal(LOAD(env, err, "--threads", "1"), -1);
  assert_string_equal(err, "/nonexistent: No such file or directory");

  char *bad[] = {"DNSORT_TTL=x", NULL};
  assert_int_equal(LOAD(bad, err, "--threads", "1"), -1);
  assert_string_equal(err, "DNSORT_TTL: 'x' is not a number of seconds from 0 to 2147483647");
  char *typo[] = {"DNSORT_TTLL=3", "DNSORT_BACKENDS=a b", NULL};
  assert_int_equal(LOAD(typo, err, "--threads", "1"), 0);
  assert_string_equal(cfg.env.ignored, "DNSORT_TTLL, DNSORT_BACKENDS");
  char *flag[] = {"DNSORT_REUSEPORT=no", "DNSORT_NO_DEFAULT_MAP=yes", "DNSORT_MAP=x.test=1.2.3.4,5.6.7.8,y.test=::1", NULL};
  assert_int_equal(LOAD(flag, err, "--threads", "1"), 0);
  assert_false(cfg.reuseport);
  assert_false(cfg.load.default_map);
  assert_int_equal(cfg.load.n_map_specs, 2);
  assert_string_equal(cfg.map_specs[0], "x.test=1.2.3.4,5.6.7.8");
  /* --help needs nothing else to be right. */
  assert_int_equal(LOAD(bad, err, "--help", "--config", "/nonexistent"), 0);
  assert_true(cfg.help);
}

static void test_services_can_be_turned_off(void **state) {
  (void)state;
  char err[256];
  assert_int_equal(PARSE(&cfg, err, "--dns", "off"), 0);
  assert_false(cfg.dns_on);
  assert_int_equal(cfg.n_dns_addrs, 0);
  assert_true(cfg.sort_on);
  assert_int_equal(PARSE(&cfg, err, "--sort", "off"), 0);
  assert_false(cfg.sort_on);
  assert_true(cfg.dns_on);
  assert_int_equal(PARSE(&cfg, err, "--sort", "off", "--dns", "off"), -1);
  assert_string_equal(err, "--dns off and --sort off: at least one service must stay on");
  assert_int_equal(PARSE(&cfg, err, "--dns", "off", "--dns", "127.0.0.1:1"), -1);
  assert_string_equal(err, "--dns: 'off' cannot be combined with addresses");
  assert_int_equal(PARSE(&cfg, err, "--sort", "of"), -1);
  assert_string_equal(err, "--sort: 'of' is not ADDR:PORT (IPv6 as [ADDR]:PORT) or off");
  /* The file turns DNS off, the command line back on. */
  write_conf("dns=off\n");
  assert_int_equal(LOAD(NULL, err, "--config", conf_path, "--dns", "127.0.0.1:0"), 0);
  assert_true(cfg.dns_on);
  assert_int_equal(cfg.n_dns_addrs, 1);
}

static void test_resolv_conf(void **state) {
  (void)state;
  char err[256], text[64];
  struct sockaddr_storage out[4];
  size_t n = 0;
  const char *conf = "# written by hand\n"
                     "search example.com\n"
                     "nameserver 192.0.2.53\n"
                     "  nameserver\t2001:db8::53   # v6\n"
                     "; a comment\n"
                     "options edns0\n"
                     "nameserver 127.0.0.53;trailing\n";
  assert_int_equal(loop_parse_resolv_conf(conf, strlen(conf), "r", out, &n, 4, err, sizeof(err)), 0);
  assert_int_equal(n, 3);
  loop_format_addr((struct sockaddr *)&out[1], text, sizeof(text));
  assert_string_equal(text, "[2001:db8::53]:53");
  loop_format_addr((struct sockaddr *)&out[2], text, sizeof(text));
  assert_string_equal(text, "127.0.0.53:53");
  n = 2;
  assert_int_equal(loop_parse_resolv_conf(conf, strlen(conf), "r", out, &n, 4, err, sizeof(err)), -1);
  assert_string_equal(err, "r:7: at most 4 servers");
  n = 0;
  assert_int_equal(loop_parse_resolv_conf("search x\n", 9, "r", out, &n, 4, err, sizeof(err)), -1);
  assert_string_equal(err, "r: no nameserver line");
  assert_int_equal(loop_parse_resolv_conf("nameserver fe80::1%eth0\n", 24, "r", out, &n, 4, err,
                                          sizeof(err)), -1);
  assert_string_equal(err, "r:1: 'fe80::1%eth0' is not an IPv4 or IPv6 address");
  assert_int_equal(loop_parse_resolv_conf("nameserver 127.0.0.1:5353\n", 26, "r", out, &n, 4, err,
                                          sizeof(err)), -1);
  assert_string_equal(err, "r:1: '127.0.0.1:5353' is not an IPv4 or IPv6 address");
  assert_int_equal(loop_parse_resolv_conf("nameserver [::1]\n", 17, "r", out, &n, 4, err, sizeof(err)), -1);
  assert_int_equal(loop_parse_resolv_conf("nameserver\n", 11, "r", out, &n, 4, err, sizeof(err)), -1);
  assert_string_equal(err, "r:1: nameserver without an address");

  write_conf(conf);
  char arg[96];
  snprintf(arg, sizeof(arg), "resolv.conf:%s", conf_path);
  assert_int_equal(PARSE(&cfg, err, "--unknown", "forward", "--upstream", arg, "--upstream", "::1"), 0);
  assert_int_equal(cfg.forward.n_upstreams, 4);
  loop_format_addr((struct sockaddr *)&cfg.upstreams[3], text, sizeof(text));
  assert_string_equal(text, "[::1]:53");
  write_conf("domain example.com\n");
  assert_int_equal(PARSE(&cfg, err, "--unknown", "forward", "--upstream", arg), -1);
  char want[160];
  snprintf(want, sizeof(want), "--upstream: %s: no nameserver line", conf_path);
  assert_string_equal(err, want);
  assert_int_equal(PARSE(&cfg, err, "--unknown", "forward", "--upstream", "resolv.conf:/nonexistent"), -1);
  assert_string_equal(err, "--upstream: /nonexistent: No such file or directory");
  assert_int_equal(PARSE(&cfg, err, "--unknown", "forward", "--upstream", "resolv.con"), -1);
  assert_non_null(strstr(err, "or resolv.conf[:PATH]"));
}

static void test_reload_reads_the_file_again(void **state) {
  (void)state;
  char err[512], changed[128];
  write_conf("ttl=30\nhosts=/a\nthreads=2\n");
  assert_int_equal(LOAD(NULL, err, "--config", conf_path, "--map", "x.test=192.0.2.1"), 0);
  loop_config_t *fresh = calloc(1, sizeof(*fresh));
  assert_non_null(fresh);
  write_conf("ttl=40\nhosts=/a\nhosts=/b\nthreads=3\nsort=off\n");
  assert_int_equal(loop_config_reload(&cfg, fresh, err, sizeof(err)), 0);
  assert_int_equal(fresh->load.options.ttl, 40);
  assert_int_equal(fresh->load.n_hosts_files, 2);
  assert_string_equal(fresh->hosts_files[1], "/b");
  assert_int_equal(fresh->load.n_map_specs, 1);  /* the command line still counts */
  loop_config_changed(&cfg, fresh, changed, sizeof(changed));
  assert_string_equal(changed, "--sort, --threads");
  loop_config_free(fresh);

  write_conf("ttl=40\nthreads=2\n");
  assert_int_equal(loop_config_reload(&cfg, fresh, err, sizeof(err)), 0);
  loop_config_changed(&cfg, fresh, changed, sizeof(changed));
  assert_string_equal(changed, "");
  loop_config_free(fresh);

  write_conf("ttl=40\nthreads=2\nbogus\n");
  assert_int_equal(loop_config_reload(&cfg, fresh, err, sizeof(err)), -1);
  assert_non_null(strstr(err, ":3: unknown option 'bogus'"));
  loop_config_free(fresh);
  write_conf("ttl=x\n");
  assert_int_equal(loop_config_reload(&cfg, fresh, err, sizeof(err)), -1);
  assert_non_null(strstr(err, ":1: ttl: 'x' is not"));
  loop_config_free(fresh);
  write_conf("dns=off\nsort=off\n");
  assert_int_equal(loop_config_reload(&cfg, fresh, err, sizeof(err)), -1);
  assert_string_equal(err, "--dns off and --sort off: at least one service must stay on");
  loop_config_free(fresh);
  write_conf("unknown=forward\nupstream=192.0.2.53\n");
  assert_int_equal(loop_config_reload(&cfg, fresh, err, sizeof(err)), -1);
  assert_string_equal(err, "unknown: switching to or from forward needs a restart");
  loop_config_free(fresh);
  free(fresh);
  unlink(conf_path);
}

static bool acl_allows(const net_acl_t *acl, const char *text) {
  struct sockaddr_storage ss = test_addr(text);
  return net_acl_allows(acl, (struct sockaddr *)&ss);
}

static void test_allow_lists(void **state) {
  (void)state;
  char err[256];
  assert_int_equal(PARSE(&cfg, err, "--allow", "127.0.0.1/32", "--allow", "2001:db8::/32",
                         "--sort-allow", "10.0.0.0/8"), 0);
  assert_ptr_equal(cfg.dns_tcp.acl, &cfg.dns_acl);
  assert_false(cfg.dns_acl_default);
  assert_int_equal(cfg.n_dns_allow, 2);
  assert_true(acl_allows(cfg.dns_tcp.acl, "127.0.0.1"));
  assert_false(acl_allows(cfg.dns_tcp.acl, "127.0.0.2"));
  assert_true(acl_allows(cfg.dns_tcp.acl, "2001:db8:ffff::1"));
  assert_ptr_equal(cfg.sort.acl, &cfg.sort_acl);
  assert_true(acl_allows(cfg.sort.acl, "10.9.9.9"));
  assert_false(acl_allows(cfg.sort.acl, "127.0.0.1"));

  /* Without them, everyone. */
  assert_int_equal(PARSE(&cfg, err, "--dns", "0.0.0.0:53"), 0);
  assert_null(cfg.dns_tcp.acl);
  assert_null(cfg.sort.acl);

  assert_int_equal(PARSE(&cfg, err, "--allow", "10.0.0.1/8"), -1);
  assert_string_equal(err, "--allow: '10.0.0.1/8' has bits set past its prefix length");
  assert_int_equal(PARSE(&cfg, err, "--sort-allow", "example.com"), -1);
  assert_string_equal(err, "--sort-allow: 'example.com' is not ADDR or ADDR/LEN (IPv4 or IPv6)");
  assert_int_equal(PARSE(&cfg, err, "--allow", "::/129"), -1);
  assert_string_equal(err, "--allow: '::/129' has a prefix length over 32 (IPv4) or 128 (IPv6)");

  /* From the environment (commas) and a file, the highest source whole. */
  char *env[] = {"DNSORT_ALLOW=10.0.0.0/8,192.168.0.0/16", NULL};
  assert_int_equal(LOAD(env, err, "--threads", "1"), 0);
  assert_int_equal(cfg.n_dns_allow, 2);
  assert_true(acl_allows(cfg.dns_tcp.acl, "192.168.3.4"));
  assert_int_equal(LOAD(env, err, "--allow", "127.0.0.1"), 0);
  assert_int_equal(cfg.n_dns_allow, 1);
  assert_false(acl_allows(cfg.dns_tcp.acl, "192.168.3.4"));
  write_conf("sort-allow=127.0.0.0/8\nsort-allow=::1\n");
  assert_int_equal(PARSE(&cfg, err, "--config", conf_path), 0);
  assert_int_equal(cfg.n_sort_allow, 2);
  assert_true(acl_allows(cfg.sort.acl, "::1"));
  unlink(conf_path);
}

/* NET_ACL_MAX_RULES --allow rules parse; one more is named. */
static void test_allow_rule_limit_at_and_past_the_edge(void **state) {
  (void)state;
  enum { N = NET_ACL_MAX_RULES + 1 };
  static char texts[N][32];
  static char *argv[2 * N + 2];
  char err[256];
  argv[0] = "dnsortd";
  for (int i = 0; i < N; i++) {
    snprintf(texts[i], sizeof(texts[i]), "10.0.%d.%d", (2 * i) >> 8, (2 * i) & 255);
    argv[1 + 2 * i] = "--allow";
    argv[2 + 2 * i] = texts[i];
  }
  assert_int_equal(parse_argv(&cfg, 2 * (N - 1) + 1, argv, err, sizeof(err)), 0);
  assert_int_equal(cfg.dns_acl.n_rules, NET_ACL_MAX_RULES);
  assert_int_equal(cfg.dns_acl.n4, NET_ACL_MAX_RULES);
  assert_int_equal(parse_argv(&cfg, 2 * N + 1, argv, err, sizeof(err)), -1);
  assert_string_equal(err, "--allow: at most 1024 rules");
}

static void test_forwarding_on_a_public_address_defaults_to_local_clients(
    void **state) {
  (void)state;
  char err[256];
  /* Public and forwarding: the local list. */
  assert_int_equal(PARSE(&cfg, err, "--dns", "127.0.0.1:53", "--dns", "[::]:53",
                         "--unknown", "forward", "--upstream", "192.0.2.53"), 0);
  assert_true(cfg.dns_acl_default);
  assert_non_null(cfg.dns_tcp.acl);
  assert_true(acl_allows(cfg.dns_tcp.acl, "192.168.1.1"));
  assert_true(acl_allows(cfg.dns_tcp.acl, "fd00::1"));
  assert_true(acl_allows(cfg.dns_tcp.acl, "::ffff:10.1.1.1"));
  assert_false(acl_allows(cfg.dns_tcp.acl, "198.51.100.1"));
  assert_false(acl_allows(cfg.dns_tcp.acl, "2001:db8::1"));
  /* --allow replaces it. */
  assert_int_equal(PARSE(&cfg, err, "--dns", "0.0.0.0:53", "--unknown", "forward",
                         "--upstream", "192.0.2.53", "--allow", "0.0.0.0/0"), 0);
  assert_false(cfg.dns_acl_default);
  assert_true(acl_allows(cfg.dns_tcp.acl, "198.51.100.1"));
  /* Loopback only, or not forwarding: everyone. */
  assert_int_equal(PARSE(&cfg, err, "--dns", "127.0.0.2:53", "--dns", "[::1]:53",
                         "--unknown", "forward", "--upstream", "192.0.2.53"), 0);
  assert_null(cfg.dns_tcp.acl);
  assert_int_equal(PARSE(&cfg, err, "--dns", "0.0.0.0:53", "--unknown", "nxdomain"), 0);
  assert_null(cfg.dns_tcp.acl);
}

static void test_rrl_options_and_defaults(void **state) {
  (void)state;
  char err[256];
  /* Loopback only: off unless asked. */
  assert_int_equal(PARSE(&cfg, err, "--dns", "127.0.0.1:0"), 0);
  assert_int_equal(cfg.rrl_rate, 0);
  assert_true(cfg.rrl_rate_default);
  assert_int_equal(cfg.rrl_slip, DNS_RRL_DEFAULT_SLIP);
  assert_int_equal(cfg.rrl_table_size, DNS_RRL_DEFAULT_TABLE_SIZE);
  /* One public listener: NSD's 200 and 2. */
  assert_int_equal(PARSE(&cfg, err, "--dns", "127.0.0.1:0", "--dns", "192.0.2.1:53"), 0);
  assert_int_equal(cfg.rrl_rate, 200);
  assert_int_equal(cfg.rrl_slip, 2);
  /* Not with DNS off. */
  assert_int_equal(PARSE(&cfg, err, "--dns", "off"), 0);
  assert_int_equal(cfg.rrl_rate, 0);
  /* Asked for: what was asked, public or not. */
  assert_int_equal(PARSE(&cfg, err, "--rrl-rate", "5", "--rrl-slip", "1",
                         "--rrl-table-size", "1k"), 0);
  assert_int_equal(cfg.rrl_rate, 5);
  assert_false(cfg.rrl_rate_default);
  assert_int_equal(cfg.rrl_slip, 1);
  assert_int_equal(cfg.rrl_table_size, 1024);
  assert_int_equal(PARSE(&cfg, err, "--dns", "0.0.0.0:53", "--rrl-rate", "0"), 0);
  assert_int_equal(cfg.rrl_rate, 0);
  /* The edges. */
  assert_int_equal(PARSE(&cfg, err, "--rrl-rate", "1000000", "--rrl-slip", "100",
                         "--rrl-table-size", "64"), 0);
  assert_int_equal(PARSE(&cfg, err, "--rrl-table-size", "16M"), 0);
  assert_int_equal(cfg.rrl_table_size, 16u * 1024 * 1024);
  assert_int_equal(PARSE(&cfg, err, "--rrl-rate", "1000001"), -1);
  assert_string_equal(err, "--rrl-rate: '1000001' is not a number of replies per second from 0 to 1000000");
  assert_int_equal(PARSE(&cfg, err, "--rrl-slip", "101"), -1);
  assert_string_equal(err, "--rrl-slip: '101' is not a number from 0 to 100");
  assert_int_equal(PARSE(&cfg, err, "--rrl-table-size", "63"), -1);
  assert_int_equal(PARSE(&cfg, err, "--rrl-table-size", "16777217"), -1);
  assert_int_equal(PARSE(&cfg, err, "--rrl-rate", "-1"), -1);
}

static int free_config(void **state) {
  (void)state;
  loop_config_free(&cfg);
  return 0;
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_defaults_are_the_seeds_addresses),
      cmocka_unit_test(test_ipv4_and_ipv6_addresses_parse),
      cmocka_unit_test(test_bad_addresses_are_refused),
      cmocka_unit_test(test_every_option_parses),
      cmocka_unit_test(test_limits_at_and_past_their_edges),
      cmocka_unit_test(test_drain_dns_default_follows_metrics),
      cmocka_unit_test(test_health_name_is_checked_and_implies_a_drain),
      cmocka_unit_test(test_unknown_and_incomplete_options_are_named),
      cmocka_unit_test(test_dns_options),
      cmocka_unit_test(test_dns_tcp_fairness_options),
      cmocka_unit_test(test_sort_limits),
      cmocka_unit_test(test_hostile_client_limits),
      cmocka_unit_test(test_forward_options),
      cmocka_unit_test(test_metrics_and_log_options),
      cmocka_unit_test(test_help_and_version_flags),
      cmocka_unit_test(test_table_is_sound),
      cmocka_unit_test(test_table_defaults_match_the_services),
      cmocka_unit_test(test_enum_choices_are_loop_logs_names),
      cmocka_unit_test(test_help_and_man_name_every_option),
      cmocka_unit_test(test_config_file),
      cmocka_unit_test(test_environment_and_precedence),
      cmocka_unit_test(test_services_can_be_turned_off),
      cmocka_unit_test(test_resolv_conf),
      cmocka_unit_test(test_reload_reads_the_file_again),
      cmocka_unit_test(test_allow_lists),
      cmocka_unit_test(test_allow_rule_limit_at_and_past_the_edge),
      cmocka_unit_test(test_forwarding_on_a_public_address_defaults_to_local_clients),
      cmocka_unit_test(test_rrl_options_and_defaults),
  };
  return cmocka_run_group_tests(tests, NULL, free_config);
}
