/* net_acl: parsing CIDR text, merging rules into ranges, matching IPv4,
 * IPv6 and IPv4-mapped clients, the rule limit at and past its edge. The
 * last test prints the cost of one check with 1, 16 and 256 rules (a
 * figure, never asserted). */
#include "test_util.h"
#include "test_addr.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "net_acl.h"

static bool allows(const net_acl_t *acl, const char *text) {
  struct sockaddr_storage ss = test_addr(text);
  return net_acl_allows(acl, (const struct sockaddr *)&ss);
}

static net_acl_t *new_acl(void) {
  net_acl_t *acl = malloc(sizeof(*acl));
  assert_non_null(acl);
  net_acl_init(acl);
  return acl;
}

static void test_empty_list_allows_nobody(void **state) {
  (void)state;
  net_acl_t *acl = new_acl();
  assert_false(allows(acl, "127.0.0.1"));
  assert_false(allows(acl, "::1"));
  assert_false(allows(acl, "0.0.0.0"));
  free(acl);
}

static void test_host_rule_matches_that_host_only(void **state) {
  (void)state;
  net_acl_t *acl = new_acl();
  assert_int_equal(net_acl_add(acl, "127.0.0.1/32"), NET_ACL_OK);
  assert_true(allows(acl, "127.0.0.1"));
  assert_false(allows(acl, "127.0.0.2"));
  assert_false(allows(acl, "127.0.0.0"));
  /* A bare address is a /32 (or /128). */
  assert_int_equal(net_acl_add(acl, "192.0.2.7"), NET_ACL_OK);
  assert_true(allows(acl, "192.0.2.7"));
  assert_false(allows(acl, "192.0.2.6"));
  assert_false(allows(acl, "192.0.2.8"));
  free(acl);
}

static void test_prefix_bounds_are_inclusive(void **state) {
  (void)state;
  net_acl_t *acl = new_acl();
  assert_int_equal(net_acl_add(acl, "172.16.0.0/12"), NET_ACL_OK);
  assert_true(allows(acl, "172.16.0.0"));
  assert_true(allows(acl, "172.31.255.255"));
  assert_false(allows(acl, "172.15.255.255"));
  assert_false(allows(acl, "172.32.0.0"));
  free(acl);
}

static void test_zero_length_prefixes_allow_a_whole_family(void **state) {
  (void)state;
  net_acl_t *acl = new_acl();
  assert_int_equal(net_acl_add(acl, "0.0.0.0/0"), NET_ACL_OK);
  assert_true(allows(acl, "0.0.0.0"));
  assert_true(allows(acl, "255.255.255.255"));
  assert_false(allows(acl, "::1"));
  assert_int_equal(net_acl_add(acl, "::/0"), NET_ACL_OK);
  assert_true(allows(acl, "::"));
  assert_true(allows(acl, "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"));
  free(acl);
}

static void test_ipv6_prefixes_across_the_64_bit_halves(void **state) {
  (void)state;
  net_acl_t *acl = new_acl();
  assert_int_equal(net_acl_add(acl, "fc00::/7"), NET_ACL_OK);
  assert_int_equal(net_acl_add(acl, "2001:db8:0:0:8000::/65"), NET_ACL_OK);
  assert_int_equal(net_acl_add(acl, "2001:db8:1::/64"), NET_ACL_OK);
  assert_true(allows(acl, "fc00::1"));
  assert_true(allows(acl, "fdff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"));
  assert_false(allows(acl, "fe00::"));
  assert_false(allows(acl, "fbff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"));
  assert_true(allows(acl, "2001:db8::8000:0:0:0"));
  assert_true(allows(acl, "2001:db8::ffff:ffff:ffff:ffff"));
  assert_false(allows(acl, "2001:db8::7fff:ffff:ffff:ffff"));
  assert_true(allows(acl, "2001:db8:1::"));
  assert_true(allows(acl, "2001:db8:1:0:ffff:ffff:ffff:ffff"));
  assert_false(allows(acl, "2001:db8:1:1::"));
  assert_false(allows(acl, "127.0.0.1"));
  free(acl);
}

static void test_mapped_ipv4_clients_match_ipv4_rules(void **state) {
  (void)state;
  net_acl_t *acl = new_acl();
  assert_int_equal(net_acl_add(acl, "127.0.0.1/32"), NET_ACL_OK);
  assert_true(allows(acl, "::ffff:127.0.0.1"));
  assert_false(allows(acl, "::ffff:127.0.0.2"));
  /* ...and IPv6 rules do not cover them, not even ::/0. */
  net_acl_t *v6 = new_acl();
  assert_int_equal(net_acl_add(v6, "::/0"), NET_ACL_OK);
  assert_false(allows(v6, "::ffff:127.0.0.1"));
  assert_true(allows(v6, "::1"));
  free(v6);
  free(acl);
}

static void test_mapped_rule_is_an_ipv4_rule(void **state) {
  (void)state;
  net_acl_t *acl = new_acl();
  assert_int_equal(net_acl_add(acl, "::ffff:10.0.0.0/104"), NET_ACL_OK);
  assert_true(allows(acl, "10.1.2.3"));
  assert_true(allows(acl, "::ffff:10.255.0.1"));
  assert_false(allows(acl, "11.0.0.0"));
  assert_int_equal(acl->n4, 1);
  assert_int_equal(acl->n6, 0);
  /* As parsed: a plain IPv4 rule, the bytes after it zero. */
  net_acl_rule_t rule, want = {.addr = {10}, .family = 4, .len = 8};
  memset(&rule, 0xAA, sizeof(rule));
  assert_int_equal(net_acl_parse("::ffff:10.0.0.0/104", &rule), NET_ACL_OK);
  assert_memory_equal(&rule, &want, sizeof(rule));
  free(acl);
}

static void test_bad_text_is_refused_and_changes_nothing(void **state) {
  (void)state;
  static const char *const bad[] = {
      "",           "/24",          "10.0.0.0/",    "10.0.0.0/1234",
      "10.0.0.0/-1",  "10.0.0.0/+8",  "10.0.0.0/8x",
      "10.0.0/8",   "10.0.0.0.0",   "localhost",    "10.0.0.0/0008",
      "1.2.3.4 ",   " 1.2.3.4",     "fe80::1%eth0", "10.0.0.0//8",
      "10.0.0.0/8/8",
      "0000:0000:0000:0000:0000:0000:0000:0000:0000/1",
  };
  net_acl_t *acl = new_acl();
  for (size_t i = 0; i < ARRAY_LEN(bad); i++) {
    if (net_acl_add(acl, bad[i]) != NET_ACL_SYNTAX)
      fail_msg("'%s' was not refused as syntax", bad[i]);
  }
  assert_int_equal(acl->n_rules, 0);
  assert_int_equal(acl->n4 + acl->n6, 0);
  assert_int_equal(net_acl_add(acl, "10.0.0.0/33"), NET_ACL_BAD_LENGTH);
  assert_int_equal(net_acl_add(acl, "::/129"), NET_ACL_BAD_LENGTH);
  assert_int_equal(net_acl_add(acl, "::ffff:10.0.0.0/129"), NET_ACL_BAD_LENGTH);
  assert_int_equal(net_acl_add(acl, "10.0.0.0/32"), NET_ACL_OK);
  assert_int_equal(net_acl_add(acl, "::/128"), NET_ACL_OK);
  free(acl);
}

static void test_host_bits_past_the_prefix_are_refused(void **state) {
  (void)state;
  net_acl_t *acl = new_acl();
  assert_int_equal(net_acl_add(acl, "10.0.0.1/8"), NET_ACL_HOST_BITS);
  assert_int_equal(net_acl_add(acl, "127.0.0.1/31"), NET_ACL_HOST_BITS);
  assert_int_equal(net_acl_add(acl, "fc00::1/7"), NET_ACL_HOST_BITS);
  assert_int_equal(net_acl_add(acl, "2001:db8::1:0:0:0/64"),
                   NET_ACL_HOST_BITS);
  assert_int_equal(acl->n_rules, 0);
  assert_string_equal(net_acl_status_text(NET_ACL_HOST_BITS),
                      "has bits set past its prefix length");
  free(acl);
}

static void test_overlapping_and_adjacent_rules_merge(void **state) {
  (void)state;
  net_acl_t *acl = new_acl();
  /* Out of order, nested, adjacent: one range 10.0.0.0 - 10.0.3.255. */
  assert_int_equal(net_acl_add(acl, "10.0.2.0/24"), NET_ACL_OK);
  assert_int_equal(net_acl_add(acl, "10.0.0.0/24"), NET_ACL_OK);
  assert_int_equal(net_acl_add(acl, "10.0.0.128/25"), NET_ACL_OK);
  assert_int_equal(acl->n4, 2);
  assert_int_equal(net_acl_add(acl, "10.0.1.0/24"), NET_ACL_OK);
  assert_int_equal(net_acl_add(acl, "10.0.3.0/24"), NET_ACL_OK);
  assert_int_equal(acl->n4, 1);
  assert_int_equal(acl->v4[0].first.lo, 0x0A000000u);
  assert_int_equal(acl->v4[0].last.lo, 0x0A0003FFu);
  assert_int_equal(acl->n_rules, 5);
  /* A gap keeps two ranges; a rule spanning both swallows them. */
  assert_int_equal(net_acl_add(acl, "10.0.5.0/24"), NET_ACL_OK);
  assert_int_equal(acl->n4, 2);
  assert_false(allows(acl, "10.0.4.1"));
  assert_int_equal(net_acl_add(acl, "10.0.0.0/16"), NET_ACL_OK);
  assert_int_equal(acl->n4, 1);
  assert_true(allows(acl, "10.0.4.1"));
  /* The top of the address space merges without wrapping. */
  assert_int_equal(net_acl_add(acl, "255.255.255.255"), NET_ACL_OK);
  assert_int_equal(net_acl_add(acl, "255.255.255.254"), NET_ACL_OK);
  assert_int_equal(acl->n4, 2);
  assert_true(allows(acl, "255.255.255.255"));
  assert_int_equal(net_acl_add(acl, "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"),
                   NET_ACL_OK);
  assert_int_equal(net_acl_add(acl, "8000::/1"), NET_ACL_OK);
  assert_int_equal(net_acl_add(acl, "::/1"), NET_ACL_OK);
  assert_int_equal(acl->n6, 1);
  assert_true(allows(acl, "::"));
  free(acl);
}

/* Against a brute-force model: random prefixes, random probes. */
static void test_random_rules_agree_with_a_linear_scan(void **state) {
  (void)state;
  enum { RULES = 200, PROBES = 20000 };
  struct {
    uint32_t net, mask;
  } model[RULES];
  net_acl_t *acl = new_acl();
  srand(12345);
  for (size_t i = 0; i < RULES; i++) {
    unsigned len = 8 + (unsigned)rand() % 25;
    uint32_t mask = len == 0 ? 0 : UINT32_MAX << (32 - len);
    uint32_t net = ((uint32_t)rand() << 16 ^ (uint32_t)rand()) & mask;
    /* Concentrate the rules so that many overlap. */
    net = (net & 0x00FFFFFFu) | 0x0A000000u;
    net &= mask;
    model[i].net = net;
    model[i].mask = mask;
    char text[32];
    snprintf(text, sizeof(text), "%u.%u.%u.%u/%u", net >> 24, net >> 16 & 255,
             net >> 8 & 255, net & 255, len);
    assert_int_equal(net_acl_add(acl, text), NET_ACL_OK);
  }
  for (size_t p = 0; p < PROBES; p++) {
    uint32_t a = 0x0A000000u | (((uint32_t)rand() << 16 ^ (uint32_t)rand()) &
                                0x00FFFFFFu);
    if (p % 7 == 0)
      a ^= 0x01000000u; /* outside 10/8 */
    bool want = false;
    for (size_t i = 0; i < RULES; i++)
      want = want || (a & model[i].mask) == model[i].net;
    struct sockaddr_in in = {.sin_family = AF_INET};
    in.sin_addr.s_addr = htonl(a);
    if (net_acl_allows(acl, (struct sockaddr *)&in) != want)
      fail_msg("%08x: expected %d", a, want);
  }
  free(acl);
}

static void test_rule_limit_at_and_past_the_edge(void **state) {
  (void)state;
  net_acl_t *acl = new_acl();
  char text[64];
  for (unsigned i = 0; i < NET_ACL_MAX_RULES; i++) {
    /* Every other /32, so that nothing merges. */
    unsigned a = 2 * i;
    snprintf(text, sizeof(text), "10.%u.%u.%u", a >> 16 & 255, a >> 8 & 255,
             a & 255);
    assert_int_equal(net_acl_add(acl, text), NET_ACL_OK);
  }
  assert_int_equal(acl->n4, NET_ACL_MAX_RULES);
  assert_int_equal(net_acl_add(acl, "192.0.2.1"), NET_ACL_FULL);
  assert_int_equal(net_acl_add(acl, "::1"), NET_ACL_FULL);
  assert_false(allows(acl, "192.0.2.1"));
  assert_true(allows(acl, "10.0.7.254"));
  assert_false(allows(acl, "10.0.7.255"));
  free(acl);
}

static void test_loopback(void **state) {
  (void)state;
  static const char *const yes[] = {"127.0.0.1", "127.255.255.254", "::1",
                                    "::ffff:127.0.0.2"};
  static const char *const no[] = {"0.0.0.0", "128.0.0.1", "::",
                                   "::ffff:10.0.0.1", "::2", "10.0.0.1"};
  for (size_t i = 0; i < ARRAY_LEN(yes); i++) {
    struct sockaddr_storage ss = test_addr(yes[i]);
    if (!net_acl_is_loopback((struct sockaddr *)&ss))
      fail_msg("%s is loopback", yes[i]);
  }
  for (size_t i = 0; i < ARRAY_LEN(no); i++) {
    struct sockaddr_storage ss = test_addr(no[i]);
    if (net_acl_is_loopback((struct sockaddr *)&ss))
      fail_msg("%s is not loopback", no[i]);
  }
}

static double now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

/* The figure the UDP hot path pays: one check, against lists of 1, 16
 * and 256 disjoint /24s, for clients spread over all of them and beyond.
 * Printed, not asserted (timings on a shared machine are noise). */
static void test_check_cost_is_printed(void **state) {
  (void)state;
  static const size_t sizes[] = {1, 16, 256};
  enum { PROBES = 1024, ROUNDS = 2000 };
  static struct sockaddr_in probes[PROBES];
  for (size_t i = 0; i < PROBES; i++) {
    probes[i].sin_family = AF_INET;
    probes[i].sin_addr.s_addr = htonl(0x0A000000u | (uint32_t)(i * 509) << 8 |
                                      (uint32_t)(i & 255));
  }
  for (size_t s = 0; s < ARRAY_LEN(sizes); s++) {
    net_acl_t *acl = new_acl();
    for (size_t i = 0; i < sizes[s]; i++) {
      char text[32];
      snprintf(text, sizeof(text), "10.%zu.%zu.0/24", (i * 2) >> 8 & 255,
               (i * 2) & 255);
      assert_int_equal(net_acl_add(acl, text), NET_ACL_OK);
    }
    size_t hits = 0;
    double t0 = now_ns();
    for (int r = 0; r < ROUNDS; r++) {
      for (size_t i = 0; i < PROBES; i++)
        hits += net_acl_allows(acl, (const struct sockaddr *)&probes[i]);
    }
    double ns = (now_ns() - t0) / ((double)ROUNDS * PROBES);
    printf("net_acl: %3zu rules: %.1f ns per check (%zu hits)\n", sizes[s],
           ns, hits);
    free(acl);
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_empty_list_allows_nobody),
      cmocka_unit_test(test_host_rule_matches_that_host_only),
      cmocka_unit_test(test_prefix_bounds_are_inclusive),
      cmocka_unit_test(test_zero_length_prefixes_allow_a_whole_family),
      cmocka_unit_test(test_ipv6_prefixes_across_the_64_bit_halves),
      cmocka_unit_test(test_mapped_ipv4_clients_match_ipv4_rules),
      cmocka_unit_test(test_mapped_rule_is_an_ipv4_rule),
      cmocka_unit_test(test_bad_text_is_refused_and_changes_nothing),
      cmocka_unit_test(test_host_bits_past_the_prefix_are_refused),
      cmocka_unit_test(test_overlapping_and_adjacent_rules_merge),
      cmocka_unit_test(test_random_rules_agree_with_a_linear_scan),
      cmocka_unit_test(test_rule_limit_at_and_past_the_edge),
      cmocka_unit_test(test_loopback),
      cmocka_unit_test(test_check_cost_is_printed),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
