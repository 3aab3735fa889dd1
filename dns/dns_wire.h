/* dns_wire: the DNS wire codec (RFC 1035, RFC 6891). Pure code: no sockets,
 * no libuv, no allocation. Parses one query into a dns_query_t and builds a
 * response into a caller's buffer with bounds-checked writes. */
#ifndef DNSORT_DNS_WIRE_H
#define DNSORT_DNS_WIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define DNS_HEADER_SIZE 12
#define DNS_MAX_LABEL 63
#define DNS_MAX_NAME 255            /* octets of the wire form, root included */
#define DNS_PLAIN_UDP_LIMIT 512     /* RFC 1035 4.2.1, clients without EDNS */
#define DNS_EDNS_ADVERTISED 1232    /* DNS flag day 2020 default */
#define DNS_MAX_MESSAGE 65535

enum dns_type {
  DNS_TYPE_A = 1,
  DNS_TYPE_NS = 2,
  DNS_TYPE_CNAME = 5,
  DNS_TYPE_SOA = 6,
  DNS_TYPE_PTR = 12,
  DNS_TYPE_MX = 15,
  DNS_TYPE_TXT = 16,
  DNS_TYPE_AAAA = 28,
  DNS_TYPE_OPT = 41,
  DNS_TYPE_ANY = 255,
};

enum dns_class { DNS_CLASS_IN = 1, DNS_CLASS_ANY = 255 };

enum dns_opcode { DNS_OPCODE_QUERY = 0 };

/* Extended rcodes above 15 live partly in the OPT record (RFC 6891 6.1.3). */
enum dns_rcode {
  DNS_RCODE_NOERROR = 0,
  DNS_RCODE_FORMERR = 1,
  DNS_RCODE_SERVFAIL = 2,
  DNS_RCODE_NXDOMAIN = 3,
  DNS_RCODE_NOTIMP = 4,
  DNS_RCODE_REFUSED = 5,
  DNS_RCODE_BADVERS = 16,
};

/* Big-endian fields at a known-good offset, for code that has already
 * checked its bounds (the response builders, the cache). Reading packets
 * from the network goes through dns_wire.c's bounds-checked cursor. */
static inline uint16_t dns_get_be16(const uint8_t *p) {
  return (uint16_t)((unsigned)p[0] << 8 | p[1]);
}

static inline uint32_t dns_get_be32(const uint8_t *p) {
  return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 |
         (uint32_t)p[3];
}

static inline void dns_put_be16(uint8_t *p, uint16_t v) {
  p[0] = (uint8_t)(v >> 8);
  p[1] = (uint8_t)v;
}

static inline void dns_put_be32(uint8_t *p, uint32_t v) {
  p[0] = (uint8_t)(v >> 24);
  p[1] = (uint8_t)(v >> 16);
  p[2] = (uint8_t)(v >> 8);
  p[3] = (uint8_t)v;
}

/* What the parser decided. Everything but DROP is answered. */
typedef enum {
  DNS_PARSE_OK = 0,      /* a well-formed standard query */
  DNS_PARSE_DROP,        /* shorter than a header, or QR=1: never answer */
  DNS_PARSE_FORMERR,     /* readable header, malformed or unsupported body */
  DNS_PARSE_NOTIMP,      /* opcode other than QUERY */
  DNS_PARSE_REFUSED,     /* class other than IN */
  DNS_PARSE_BADVERS,     /* EDNS version other than 0 */
} dns_parse_t;

/* A parsed query. Pointers point into the caller's packet, which must
 * outlive the struct. */
typedef struct {
  uint16_t id;
  uint16_t flags;          /* header flags word as received */
  uint8_t opcode;
  bool rd;
  bool has_question;       /* the question was parsed and can be echoed */
  const uint8_t *question; /* QNAME + QTYPE + QCLASS as received */
  size_t question_len;
  size_t qname_len;        /* wire length of QNAME, root label included */
  uint16_t qtype;
  uint16_t qclass;
  bool has_edns;           /* a valid OPT record was present */
  uint8_t edns_version;
  uint16_t edns_udp_size;  /* as sent by the client, before clamping */
  bool edns_do;
} dns_query_t;

/* Parse a query. On every result but DROP, *q holds the header fields and,
 * when q->has_question, the question, so an error reply can echo it. */
dns_parse_t dns_parse_query(const uint8_t *pkt, size_t len, dns_query_t *q);

/* The largest UDP response this client accepts: 512 without EDNS, else the
 * advertised size clamped to [512, DNS_EDNS_ADVERTISED]. */
size_t dns_udp_limit(const dns_query_t *q);

/* Lower-case an uncompressed wire-format name into out (ASCII A-Z only, as
 * RFC 4343 says). Returns the length, or 0 if the name does not fit. */
size_t dns_name_lower(const uint8_t *name, size_t len, uint8_t *out, size_t cap);

/* One answer record; its owner is always the question name. */
typedef struct {
  uint16_t type;
  uint16_t rdlen;
  const uint8_t *rdata;
} dns_rr_t;

/* Build a response to q into out: header (ID echoed, QR=1, AA=1, RD copied,
 * RA=0), the question echoed when q->has_question, the answers (owner name
 * compressed to the question), and an OPT record when the query had one.
 * rcode may be extended (BADVERS). If the answers would push the message
 * past limit, none are written and TC is set. Returns the length, or 0 if
 * not even the header and question fit in min(cap, limit). */
size_t dns_build_response(const dns_query_t *q, unsigned rcode,
                          const dns_rr_t *answers, size_t n_answers,
                          uint32_t ttl, uint8_t *out, size_t cap,
                          size_t limit);

/* The reply dns_build_response makes when the answers do not fit: TC=1,
 * the question only (and the OPT), for callers whose answers are not
 * dns_rr_t records (precomputed sections). */
size_t dns_build_truncated(const dns_query_t *q, unsigned rcode, uint8_t *out,
                           size_t cap, size_t limit);

#endif
