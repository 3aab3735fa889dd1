/* loop_addr: "ADDR:PORT" text to socket addresses and back. libc only, so
 * that the tools (dnsort-load, dnsort-check) share it with the server. */
#ifndef DNSORT_LOOP_ADDR_H
#define DNSORT_LOOP_ADDR_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

/* "1.2.3.4:53" or "[::1]:53"; port 0 is accepted (a listener's "pick
 * one"). Names ("localhost:53") are not: no DNS lookups. Returns 0 or -1. */
int loop_parse_addr(const char *text, struct sockaddr_storage *out);

/* The port of an AF_INET or AF_INET6 address, host order. */
uint16_t loop_addr_port(const struct sockaddr *sa);

/* sizeof the address for its family, for sendto/connect. */
socklen_t loop_addr_len(const struct sockaddr *sa);

/* "ADDR:PORT" with IPv6 in brackets, for messages. */
void loop_format_addr(const struct sockaddr *sa, char *out, size_t cap);

#endif
