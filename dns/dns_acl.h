/* dns_acl: the DNS side of the allow lists (--allow): what a client
 * outside the list gets, and the default list for a forwarder on a
 * public address. The matching itself is net_acl's. Pure. */
#ifndef DNSORT_DNS_ACL_H
#define DNSORT_DNS_ACL_H

#include <stddef.h>
#include <stdint.h>

#include "dns_zone.h"
#include "net_acl.h"

/* Loopback, RFC 1918 and RFC 4193 (unique local IPv6): the clients that
 * may use a forwarder on a non-loopback address when no --allow says
 * otherwise. NULL-terminated. */
extern const char *const dns_acl_local_nets[];

/* Add dns_acl_local_nets to acl. Returns NET_ACL_OK or why not. */
net_acl_status_t dns_acl_add_local(net_acl_t *acl);

/* The reply to a query from outside the list: REFUSED, with the question
 * echoed when it parses and an OPT when the query had one; 0 for a
 * packet that would be dropped anyway (shorter than a header, or a
 * response). Never larger than the query, so a refusal amplifies
 * nothing. */
size_t dns_acl_refuse(const uint8_t *pkt, size_t len, dns_transport_t transport,
                      uint8_t *out, size_t cap);

#endif
