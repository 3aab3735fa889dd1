/* Unit tests for dnsortd's command line (loop_config). */
#include "test_util.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include "loop_config.h"

/* Parse a NULL-terminated argument list (argv[0] included). */
static int parse(loop_config_t *cfg, char *err, size_t errlen, char **argv) {
  int argc = 0;
  while (argv[argc] != NULL)
    argc++;
  return loop_config_parse(cfg, argc, argv, err, errlen);
}

#define PARSE(cfg, err, ...) \
  parse(cfg, err, sizeof(err), (char *[]){"dnsortd", __VA_ARGS__, NULL})

static void test_defaults_are_the_seeds_addresses(void **state) {
  (void)state;
  loop_config_t cfg;
  char err[256];
  char *argv[] = {"dnsortd", NULL};
  assert_int_equal(loop_config_parse(&cfg, 1, argv, err, sizeof(err)), 0);
  char text[64];
  assert_int_equal(cfg.n_dns_addrs, 1);
  loop_format_addr((struct sockaddr *)&cfg.dns_addrs[0], text, sizeof(text));
  assert_string_equal(text, "127.0.0.1:4343");
  loop_format_addr((struct sockaddr *)&cfg.sort_addr, text, sizeof(text));
  assert_string_equal(text, "127.0.0.1:2015");
  assert_int_equal(cfg.max_request_bytes, 8 * 1024 * 1024);
  assert_int_equal(cfg.max_elements, 100000);
  assert_int_equal(cfg.grace_ms, 5000);
  assert_int_equal(cfg.read_timeout_ms, 10000);
  assert_int_equal(cfg.threads, 0);
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
  loop_config_t cfg;
  char err[256];
  int rc = PARSE(&cfg, err, "--dns", "[::1]:0", "--sort", "127.0.0.2:9",
                 "--threads", "3", "--log-level", "debug",
                 "--max-request-bytes", "64k", "--max-elements", "7",
                 "--read-timeout", "0.5", "--write-timeout", "2",
                 "--grace", "0");
  assert_int_equal(rc, 0);
  assert_int_equal(cfg.n_dns_addrs, 1);
  assert_int_equal(cfg.dns_addrs[0].ss_family, AF_INET6);
  assert_int_equal(cfg.threads, 3);
  assert_int_equal(cfg.log_level, LOOP_LOG_DEBUG);
  assert_int_equal(cfg.max_request_bytes, 65536);
  assert_int_equal(cfg.max_elements, 7);
  assert_int_equal(cfg.read_timeout_ms, 500);
  assert_int_equal(cfg.write_timeout_ms, 2000);
  assert_int_equal(cfg.grace_ms, 0);
}

static void test_limits_at_and_past_their_edges(void **state) {
  (void)state;
  loop_config_t cfg;
  char err[256];
  assert_int_equal(PARSE(&cfg, err, "--threads", "1024"), 0);
  assert_int_equal(PARSE(&cfg, err, "--threads", "1025"), -1);
  assert_non_null(strstr(err, "--threads"));
  assert_int_equal(PARSE(&cfg, err, "--threads", "0"), -1);
  assert_int_equal(PARSE(&cfg, err, "--max-request-bytes", "4G"), 0);
  assert_int_equal(cfg.max_request_bytes, 4ull << 30);
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
  loop_config_t cfg;
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
  loop_config_t cfg;
  char err[256];
  assert_int_equal(PARSE(&cfg, err, "--dns", "127.0.0.1:1", "--dns", "[::1]:2",
                         "--hosts", "a", "--hosts", "b", "--map", "x=1.2.3.4",
                         "--no-default-map", "--ttl", "0", "--unknown", "nxdomain",
                         "--reuseport", "--dns-tcp-idle-timeout", "0.25",
                         "--dns-tcp-max-connections", "3"),
                   0);
  assert_int_equal(cfg.n_dns_addrs, 2);
  assert_int_equal(cfg.dns_addrs[1].ss_family, AF_INET6);
  assert_int_equal(cfg.n_hosts_files, 2);
  assert_string_equal(cfg.hosts_files[1], "b");
  assert_int_equal(cfg.n_map_specs, 1);
  assert_false(cfg.default_map);
  assert_int_equal(cfg.zone.ttl, 0);
  assert_int_equal(cfg.zone.unknown, DNS_UNKNOWN_NXDOMAIN);
  assert_true(cfg.reuseport);
  assert_int_equal(cfg.dns_tcp_idle_ms, 250);
  assert_int_equal(cfg.dns_tcp_max_connections, 3);

  assert_int_equal(PARSE(&cfg, err, "--ttl", "2147483647"), 0);
  assert_int_equal(PARSE(&cfg, err, "--ttl", "2147483648"), -1);
  assert_int_equal(PARSE(&cfg, err, "--ttl", "1k"), -1);
  assert_int_equal(PARSE(&cfg, err, "--unknown", "forward"), -1);
  assert_non_null(strstr(err, "--unknown"));

  /* The first --unknown-address replaces 127.0.0.1; up to 8 in all. */
  assert_int_equal(PARSE(&cfg, err, "--unknown-address", "::1", "--unknown-address", "10.0.0.1"), 0);
  assert_int_equal(cfg.zone.n_unknown_addrs, 2);
  assert_int_equal(cfg.zone.unknown_addrs[0].family, 6);
  assert_int_equal(cfg.zone.unknown_addrs[1].family, 4);
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

static void test_sort_limits(void **state) {
  (void)state;
  loop_config_t cfg;
  char err[256];
  assert_int_equal(PARSE(&cfg, err, "--max-connections", "1", "--max-queued-jobs", "1",
                         "--max-inflight-bytes", "1", "--worker-nice", "19",
                         "--cancel-on-eof"),
                   0);
  assert_true(cfg.cancel_on_eof);
  assert_int_equal(cfg.max_connections, 1);
  assert_int_equal(cfg.max_queued_jobs, 1);
  assert_int_equal(cfg.max_inflight_bytes, 1);
  assert_int_equal(cfg.worker_nice, 19);
  assert_int_equal(parse(&cfg, err, sizeof(err), (char *[]){"dnsortd", NULL}), 0);
  assert_int_equal(cfg.max_connections, 4096);
  assert_int_equal(cfg.max_queued_jobs, 0); /* main() makes it 64 per thread */
  assert_int_equal(cfg.max_inflight_bytes, 256u * 1024 * 1024);
  assert_int_equal(cfg.worker_nice, LOOP_SCHED_AUTO); /* loop_sched_plan picks */
  assert_int_equal(cfg.worker_yield_us, LOOP_SCHED_AUTO);
  assert_int_equal(cfg.loop_slice_us, LOOP_SCHED_AUTO);
  assert_false(cfg.cancel_on_eof);
  assert_int_equal(PARSE(&cfg, err, "--worker-yield-us", "0", "--loop-slice-us", "0"), 0);
  assert_int_equal(cfg.worker_yield_us, 0);
  assert_int_equal(cfg.loop_slice_us, 0);
  assert_int_equal(PARSE(&cfg, err, "--worker-yield-us", "1000000", "--loop-slice-us", "100"), 0);
  assert_int_equal(cfg.worker_yield_us, 1000000);
  assert_int_equal(cfg.loop_slice_us, 100);
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

static void test_forward_options(void **state) {
  (void)state;
  loop_config_t cfg;
  char err[256];
  char text[64];

  /* Defaults, with forwarding off. */
  assert_int_equal(parse(&cfg, err, sizeof(err), (char *[]){"dnsortd", NULL}), 0);
  assert_int_equal(cfg.n_upstreams, 0);
  assert_int_equal(cfg.upstream_timeout_ms, 2000);
  assert_int_equal(cfg.max_upstream_inflight, 1024);
  assert_int_equal(cfg.cache_size, 10000);
  assert_int_equal(cfg.cache_max_ttl, 86400);
  assert_int_equal(cfg.cache_neg_ttl, 300);

  assert_int_equal(PARSE(&cfg, err, "--unknown", "forward", "--upstream", "192.0.2.1",
                         "--upstream", "[2001:db8::1]:5353", "--upstream", "::1",
                         "--upstream", "127.0.0.1:5300", "--upstream", "[::1]",
                         "--upstream-timeout", "0.5", "--max-upstream-inflight", "100",
                         "--cache-size", "0", "--cache-max-ttl", "3600", "--cache-neg-ttl", "5"),
                   0);
  assert_int_equal(cfg.zone.unknown, DNS_UNKNOWN_FORWARD);
  assert_int_equal(cfg.n_upstreams, 5);
  const char *want[] = {"192.0.2.1:53", "[2001:db8::1]:5353", "[::1]:53", "127.0.0.1:5300",
                        "[::1]:53"};
  for (size_t i = 0; i < ARRAY_LEN(want); i++) {
    loop_format_addr((struct sockaddr *)&cfg.upstreams[i], text, sizeof(text));
    assert_string_equal(text, want[i]);
  }
  assert_int_equal(cfg.upstream_timeout_ms, 500);
  assert_int_equal(cfg.max_upstream_inflight, 100);
  assert_int_equal(cfg.cache_size, 0);
  assert_int_equal(cfg.cache_max_ttl, 3600);
  assert_int_equal(cfg.cache_neg_ttl, 5);

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
  assert_int_equal(loop_config_parse(&cfg, (int)n, many, err, sizeof(err)), -1);
  assert_non_null(strstr(err, "at most"));

  assert_int_equal(PARSE(&cfg, err, "--unknown", "forward", "--upstream", "::1",
                         "--upstream-timeout", "0.001"), -1);
  assert_int_equal(PARSE(&cfg, err, "--unknown", "forward", "--upstream", "::1",
                         "--upstream-timeout", "601"), -1);
  assert_int_equal(PARSE(&cfg, err, "--unknown", "forward", "--upstream", "::1",
                         "--max-upstream-inflight", "0"), -1);
  assert_int_equal(PARSE(&cfg, err, "--unknown", "forward", "--upstream", "::1",
                         "--max-upstream-inflight", "50000"), 0);
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
  loop_config_t cfg;
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
  loop_config_t cfg;
  char err[256];
  assert_int_equal(PARSE(&cfg, err, "--help"), 0);
  assert_true(cfg.help);
  assert_int_equal(PARSE(&cfg, err, "-V"), 0);
  assert_true(cfg.version);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_defaults_are_the_seeds_addresses),
      cmocka_unit_test(test_ipv4_and_ipv6_addresses_parse),
      cmocka_unit_test(test_bad_addresses_are_refused),
      cmocka_unit_test(test_every_option_parses),
      cmocka_unit_test(test_limits_at_and_past_their_edges),
      cmocka_unit_test(test_unknown_and_incomplete_options_are_named),
      cmocka_unit_test(test_dns_options),
      cmocka_unit_test(test_sort_limits),
      cmocka_unit_test(test_forward_options),
      cmocka_unit_test(test_metrics_and_log_options),
      cmocka_unit_test(test_help_and_version_flags),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
