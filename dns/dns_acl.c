#include "dns_acl.h"

#include "dns_wire.h"

const char *const dns_acl_local_nets[] = {
    "127.0.0.0/8", "::1",                             /* loopback */
    "10.0.0.0/8",  "172.16.0.0/12", "192.168.0.0/16", /* RFC 1918 */
    "fc00::/7",                                       /* RFC 4193 */
    NULL,
};

net_acl_status_t dns_acl_add_local(net_acl_t *acl) {
  for (const char *const *net = dns_acl_local_nets; *net != NULL; net++) {
    net_acl_status_t st = net_acl_add(acl, *net);
    if (st != NET_ACL_OK)
      return st;
  }
  return NET_ACL_OK;
}

size_t dns_acl_refuse(const uint8_t *pkt, size_t len, dns_transport_t transport,
                      uint8_t *out, size_t cap) {
  dns_query_t q;
  if (dns_parse_query(pkt, len, &q) == DNS_PARSE_DROP)
    return 0;
  /* The OPT goes back if the query had one (RFC 6891 7), without any of
   * the query's options: the reply is never larger than the query. No
   * recursion is offered to a client we refuse. */
  size_t limit = transport == DNS_TRANSPORT_UDP ? dns_udp_limit(&q) : cap;
  return dns_build_error(&q, DNS_RCODE_REFUSED, DNS_RECURSION_UNAVAILABLE, out,
                         cap, limit);
}
