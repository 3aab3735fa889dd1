#include "loop_addr.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

int loop_parse_addr(const char *text, struct sockaddr_storage *out) {
  char host[INET6_ADDRSTRLEN + 1];
  const char *port_text;

  if (text[0] == '[') {
    const char *close = strchr(text, ']');
    if (close == NULL || close[1] != ':')
      return -1;
    size_t hlen = (size_t)(close - text - 1);
    if (hlen == 0 || hlen >= sizeof(host))
      return -1;
    memcpy(host, text + 1, hlen);
    host[hlen] = '\0';
    port_text = close + 2;
  } else {
    const char *colon = strrchr(text, ':');
    if (colon == NULL || strchr(text, ':') != colon)
      return -1;
    size_t hlen = (size_t)(colon - text);
    if (hlen == 0 || hlen >= sizeof(host))
      return -1;
    memcpy(host, text, hlen);
    host[hlen] = '\0';
    port_text = colon + 1;
  }

  if (*port_text == '\0' || strlen(port_text) > 5)
    return -1;
  unsigned long port = 0;
  for (const char *p = port_text; *p; p++) {
    if (*p < '0' || *p > '9')
      return -1;
    port = port * 10 + (unsigned long)(*p - '0');
  }
  if (port > 65535)
    return -1;

  memset(out, 0, sizeof(*out));
  struct sockaddr_in *in4 = (struct sockaddr_in *)out;
  struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)out;
  if (inet_pton(AF_INET, host, &in4->sin_addr) == 1) {
    in4->sin_family = AF_INET;
    in4->sin_port = htons((uint16_t)port);
    return 0;
  }
  if (inet_pton(AF_INET6, host, &in6->sin6_addr) == 1) {
    in6->sin6_family = AF_INET6;
    in6->sin6_port = htons((uint16_t)port);
    return 0;
  }
  return -1;
}

uint16_t loop_addr_port(const struct sockaddr *sa) {
  if (sa->sa_family == AF_INET)
    return ntohs(((const struct sockaddr_in *)sa)->sin_port);
  return ntohs(((const struct sockaddr_in6 *)sa)->sin6_port);
}

socklen_t loop_addr_len(const struct sockaddr *sa) {
  return sa->sa_family == AF_INET6 ? (socklen_t)sizeof(struct sockaddr_in6)
                                   : (socklen_t)sizeof(struct sockaddr_in);
}

void loop_format_addr(const struct sockaddr *sa, char *out, size_t cap) {
  char host[INET6_ADDRSTRLEN];
  if (sa->sa_family == AF_INET) {
    const struct sockaddr_in *in4 = (const struct sockaddr_in *)sa;
    inet_ntop(AF_INET, &in4->sin_addr, host, sizeof(host));
    snprintf(out, cap, "%s:%u", host, ntohs(in4->sin_port));
  } else if (sa->sa_family == AF_INET6) {
    const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;
    inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof(host));
    snprintf(out, cap, "[%s]:%u", host, ntohs(in6->sin6_port));
  } else {
    snprintf(out, cap, "(unknown address family %d)", sa->sa_family);
  }
}
