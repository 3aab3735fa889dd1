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
  loop_format_addr((struct sockaddr *)&cfg.dns_addr, text, sizeof(text));
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
  assert_int_equal(cfg.dns_addr.ss_family, AF_INET6);
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
      cmocka_unit_test(test_help_and_version_flags),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
