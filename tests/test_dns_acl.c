/* dns_acl: the REFUSED reply a client outside --allow gets (never larger
 * than its query), and the default list of local networks. */
#include "test_util.h"
#include "test_addr.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include "dns_acl.h"
#include "dns_wire.h"

/* "www.example" A, RD, and an OPT carrying an 8-byte cookie option when
 * edns. */
static size_t make_query(uint8_t *q, bool edns) {
  static const uint8_t head[] = {0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0,
                                 3, 'w', 'w', 'w', 7, 'e', 'x', 'a', 'm', 'p',
                                 'l', 'e', 0, 0, 1, 0, 1};
  memcpy(q, head, sizeof(head));
  size_t n = sizeof(head);
  if (edns) {
    static const uint8_t opt[] = {0, 0, 41, 0x10, 0, 0, 0, 0x80, 0, 0, 12,
                                  0, 10, 0, 8, 1, 2, 3, 4, 5, 6, 7, 8};
    q[11] = 1;
    memcpy(q + n, opt, sizeof(opt));
    n += sizeof(opt);
  }
  return n;
}

static void test_a_query_gets_refused_with_its_question(void **state) {
  (void)state;
  uint8_t q[64], out[512];
  size_t qlen = make_query(q, false);
  size_t n = dns_acl_refuse(q, qlen, DNS_TRANSPORT_UDP, out, sizeof(out));
  assert_int_equal(n, qlen);
  assert_int_equal(dns_get_be16(out), 0x1234);
  uint16_t flags = dns_get_be16(out + 2);
  assert_int_equal(flags & 0x000F, DNS_RCODE_REFUSED);
  assert_true(flags & 0x8000);            /* QR */
  assert_true(flags & 0x0100);            /* RD copied */
  assert_false(flags & 0x0400);           /* AA: an error is not data */
  assert_false(flags & 0x0080);           /* RA: no recursion for them */
  assert_int_equal(dns_get_be16(out + 4), 1);
  assert_int_equal(dns_get_be16(out + 6), 0);
  assert_memory_equal(out + 12, q + 12, qlen - 12);
  /* Over TCP the same. */
  assert_int_equal(dns_acl_refuse(q, qlen, DNS_TRANSPORT_TCP, out, sizeof(out)),
                   qlen);
}

static void test_an_edns_query_gets_an_opt_and_no_more_bytes(void **state) {
  (void)state;
  uint8_t q[64], out[512];
  size_t qlen = make_query(q, true);
  size_t n = dns_acl_refuse(q, qlen, DNS_TRANSPORT_UDP, out, sizeof(out));
  assert_true(n > 0 && n <= qlen);
  assert_int_equal(dns_get_be16(out + 10), 1);
  assert_int_equal(dns_get_be16(out + n - 11 + 1), DNS_TYPE_OPT);
  assert_true(dns_get_be32(out + n - 11 + 5) & 0x8000); /* DO echoed */
}

static void test_what_is_dropped_stays_dropped(void **state) {
  (void)state;
  uint8_t q[64], out[512];
  size_t qlen = make_query(q, false);
  assert_int_equal(dns_acl_refuse(q, 11, DNS_TRANSPORT_UDP, out, sizeof(out)), 0);
  q[2] |= 0x80; /* a response */
  assert_int_equal(dns_acl_refuse(q, qlen, DNS_TRANSPORT_UDP, out, sizeof(out)), 0);
  /* Malformed but a query: REFUSED, header only. */
  make_query(q, false);
  q[5] = 2;
  assert_int_equal(dns_acl_refuse(q, qlen, DNS_TRANSPORT_UDP, out, sizeof(out)),
                   DNS_HEADER_SIZE);
  assert_int_equal(dns_get_be16(out + 2) & 0x000F, DNS_RCODE_REFUSED);
}

static bool allows(const net_acl_t *acl, const char *text) {
  struct sockaddr_storage ss = test_addr(text);
  return net_acl_allows(acl, (struct sockaddr *)&ss);
}

static void test_local_networks(void **state) {
  (void)state;
  static net_acl_t acl;
  net_acl_init(&acl);
  assert_int_equal(dns_acl_add_local(&acl), NET_ACL_OK);
  static const char *const yes[] = {
      "127.0.0.1", "127.9.9.9",   "::1",          "10.1.2.3",
      "172.16.0.1", "172.31.255.255", "192.168.7.7", "fc00::1",
      "fdff::1",   "::ffff:192.168.1.1"};
  static const char *const no[] = {
      "8.8.8.8", "172.32.0.1", "192.169.0.1", "2001:db8::1",
      "fe80::1", "::2",        "11.0.0.1",    "::ffff:8.8.8.8"};
  for (size_t i = 0; i < ARRAY_LEN(yes); i++)
    if (!allows(&acl, yes[i]))
      fail_msg("%s is local", yes[i]);
  for (size_t i = 0; i < ARRAY_LEN(no); i++)
    if (allows(&acl, no[i]))
      fail_msg("%s is not local", no[i]);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_a_query_gets_refused_with_its_question),
      cmocka_unit_test(test_an_edns_query_gets_an_opt_and_no_more_bytes),
      cmocka_unit_test(test_what_is_dropped_stays_dropped),
      cmocka_unit_test(test_local_networks),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
