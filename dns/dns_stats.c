#include "dns_stats.h"

#include "dns_wire.h"

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
  case DNS_TYPE_A:
    return DNS_STATS_QTYPE_A;
  case DNS_TYPE_AAAA:
    return DNS_STATS_QTYPE_AAAA;
  case DNS_TYPE_ANY:
    return DNS_STATS_QTYPE_ANY;
  case DNS_TYPE_MX:
    return DNS_STATS_QTYPE_MX;
  case DNS_TYPE_TXT:
    return DNS_STATS_QTYPE_TXT;
  default:
    return DNS_STATS_QTYPE_OTHER;
  }
}

static dns_stats_rcode_t classify_rcode(unsigned rcode) {
  if (rcode <= DNS_RCODE_REFUSED)
    return (dns_stats_rcode_t)rcode;
  return rcode == DNS_RCODE_BADVERS ? DNS_STATS_RCODE_BADVERS
                                    : DNS_STATS_RCODE_OTHER;
}

/* Runs for every reply, so it reads the header and the question once and
 * walks the records only when there is an additional section, where an
 * OPT may extend the rcode (BADVERS is 0 in the header, 1 in the OPT). A
 * question that cannot be read counts as "none" rather than a guess. */
void dns_stats_count(dns_stats_t *stats, const uint8_t *reply, size_t len) {
  dns_reader_t r = dns_reader(reply, len);
  dns_header_t h;
  dns_question_t q;

  if (!dns_read_header(&r, &h))
    return;
  dns_stats_qtype_t qtype = DNS_STATS_QTYPE_NONE;
  unsigned rcode = dns_flags_rcode(h.flags);
  if (h.qdcount == 1 && dns_read_question(&r, &q)) {
    qtype = classify_qtype(q.qtype);
    rcode = dns_read_rcode(&r, &h);
  }
  stats->replies[qtype][classify_rcode(rcode)]++;
  if (h.flags & DNS_FLAG_TC)
    stats->truncated++;
}

const uint64_t dns_hist_bounds_us[DNS_HIST_BOUNDS] = {
    50,    100,   250,    500,    1000,   2500,    5000,    10000,
    25000, 50000, 100000, 250000, 500000, 1000000, 2500000, 5000000};

void dns_hist_observe(dns_hist_t *h, uint64_t us, uint64_t n) {
  size_t i = 0;
  while (i < DNS_HIST_BOUNDS && us > dns_hist_bounds_us[i])
    i++;
  h->counts[i] += n;
  h->sum_us += us * n;
}

void dns_hist_add(dns_hist_t *sum, const dns_hist_t *one) {
  for (size_t i = 0; i <= DNS_HIST_BOUNDS; i++)
    sum->counts[i] += one->counts[i];
  sum->sum_us += one->sum_us;
}

const char *dns_stats_zone_source(const uint8_t *reply, size_t len) {
  return len >= 4 && (reply[3] & 0x0Fu) == 0 ? DNS_SOURCE_MAP
                                             : DNS_SOURCE_POLICY;
}
