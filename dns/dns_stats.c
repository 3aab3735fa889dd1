#include "dns_stats.h"

#include "dns_wire.h"

#define FLAGS_TC 0x0200u
#define RCODE_MASK 0x000Fu

static const char *const qtype_names[DNS_STATS_QTYPES] = {
    "A", "AAAA", "ANY", "MX", "TXT", "other", "none"};
static const char *const rcode_names[DNS_STATS_RCODES] = {
    "NOERROR", "FORMERR", "SERVFAIL", "NXDOMAIN",
    "NOTIMP",  "REFUSED", "BADVERS",  "other"};

const char *dns_stats_qtype_name(dns_stats_qtype_t t) {
  return (unsigned)t < DNS_STATS_QTYPES ? qtype_names[t] : "?";
}

const char *dns_stats_rcode_name(dns_stats_rcode_t r) {
  return (unsigned)r < DNS_STATS_RCODES ? rcode_names[r] : "?";
}

static dns_stats_qtype_t classify_qtype(unsigned qtype) {
  switch (qtype) {
  case DNS_TYPE_A: return DNS_STATS_QTYPE_A;
  case DNS_TYPE_AAAA: return DNS_STATS_QTYPE_AAAA;
  case DNS_TYPE_ANY: return DNS_STATS_QTYPE_ANY;
  case DNS_TYPE_MX: return DNS_STATS_QTYPE_MX;
  case DNS_TYPE_TXT: return DNS_STATS_QTYPE_TXT;
  default: return DNS_STATS_QTYPE_OTHER;
  }
}

/* The qtype of the echoed question: walk its (uncompressed, as we echo it
 * as received) name; anything odd counts as "none" rather than guessing. */
static dns_stats_qtype_t reply_qtype(const uint8_t *reply, size_t len) {
  if (len < DNS_HEADER_SIZE || dns_get_be16(reply + 4) != 1)
    return DNS_STATS_QTYPE_NONE;
  size_t pos = DNS_HEADER_SIZE;
  while (pos < len && reply[pos] != 0) {
    if (reply[pos] > DNS_MAX_LABEL)
      return DNS_STATS_QTYPE_NONE;
    pos += 1u + reply[pos];
  }
  if (pos >= len || len - pos < 3)
    return DNS_STATS_QTYPE_NONE;
  return classify_qtype(dns_get_be16(reply + pos + 1));
}

void dns_stats_count(dns_stats_t *stats, const uint8_t *reply, size_t len) {
  if (len < DNS_HEADER_SIZE)
    return;
  unsigned flags = dns_get_be16(reply + 2);
  unsigned rcode = flags & RCODE_MASK;
  dns_stats_rcode_t r = rcode <= DNS_RCODE_REFUSED ? (dns_stats_rcode_t)rcode
                                                   : DNS_STATS_RCODE_OTHER;
  /* BADVERS lives in the OPT's extended rcode with 0 in the header; our
   * own replies carry exactly one OPT, last, so look there. */
  if (rcode == 0 && dns_get_be16(reply + 10) >= 1 && len >= 11 &&
      reply[len - 11] == 0 && reply[len - 10] == 0 &&
      reply[len - 9] == DNS_TYPE_OPT && reply[len - 6] != 0)
    r = DNS_STATS_RCODE_BADVERS;
  stats->replies[reply_qtype(reply, len)][r]++;
  if (flags & FLAGS_TC)
    stats->truncated++;
}
