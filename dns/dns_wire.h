/* dns_wire: the DNS wire codec (RFC 1035, RFC 6891). Pure code: no sockets,
 * no libuv, no allocation, libc only (the tools link it too). It holds the
 * one reader of DNS messages in the tree (dns_reader_t), the strict query
 * parser built on it, and the response builders, which write with
 * bounds-checked writes into a caller's buffer. */
#ifndef DNSORT_DNS_WIRE_H
#define DNSORT_DNS_WIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define DNS_HEADER_SIZE 12
#define DNS_MAX_LABEL 63
#define DNS_MAX_NAME 255         /* octets of the wire form, root included */
#define DNS_PLAIN_UDP_LIMIT 512  /* RFC 1035 4.2.1, clients without EDNS */
#define DNS_EDNS_ADVERTISED 1232 /* DNS flag day 2020 default */
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

/* RFC 1035 4.1.1: the header's flags word, read and written whole; these
 * name its parts (AD and CD are RFC 4035's names for two of the Z bits). */
#define DNS_FLAG_QR 0x8000u
#define DNS_FLAG_AA 0x0400u
#define DNS_FLAG_TC 0x0200u
#define DNS_FLAG_RD 0x0100u
#define DNS_FLAG_RA 0x0080u
#define DNS_FLAG_AD 0x0020u
#define DNS_FLAG_CD 0x0010u
#define DNS_OPCODE_SHIFT 11
#define DNS_OPCODE_MASK 0x0Fu
#define DNS_RCODE_MASK 0x000Fu

/* The OPT record's TTL field (RFC 6891 6.1.3):
 * EXTENDED-RCODE (8) | VERSION (8) | DO (1) | Z (15). The header keeps the
 * low four bits of a 12-bit rcode, the OPT the eight above them. */
#define DNS_OPT_TTL_RCODE_SHIFT 24
#define DNS_OPT_TTL_VERSION_SHIFT 16
#define DNS_OPT_TTL_DO 0x00008000u
#define DNS_EXT_RCODE_SHIFT 4

static inline unsigned dns_flags_opcode(uint16_t flags) {
  return (flags >> DNS_OPCODE_SHIFT) & DNS_OPCODE_MASK;
}

static inline unsigned dns_flags_rcode(uint16_t flags) {
  return flags & DNS_RCODE_MASK;
}

/* Big-endian fields at a known-good offset, for code that writes or patches
 * a message whose bounds it has already checked (the response builders,
 * the cache). Reading a message goes through dns_reader_t below. */
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

/* ---- reading messages ----
 *
 * The one reader of DNS bytes (in the style of c-ares' ares_buf_fetch_be16
 * and NSD's buffer_available_at): every fetch checks the bytes left first
 * and fails without moving, so no caller indexes a packet by hand. The
 * fetches are inline because every packet goes through them. A reader
 * that reads names spans a whole message, from its header: compression
 * pointers are offsets from there. (Fields inside one RDATA may be read
 * with a reader over just those bytes.) */
typedef struct {
  const uint8_t *msg;
  size_t len;
  size_t pos; /* never above len */
} dns_reader_t;

static inline dns_reader_t dns_reader(const uint8_t *msg, size_t len) {
  dns_reader_t r = {msg, len, 0};
  return r;
}

static inline size_t dns_reader_left(const dns_reader_t *r) {
  return r->len - r->pos;
}

static inline bool dns_read_u8(dns_reader_t *r, uint8_t *v) {
  if (dns_reader_left(r) < 1)
    return false;
  *v = r->msg[r->pos];
  r->pos += 1;
  return true;
}

static inline bool dns_read_be16(dns_reader_t *r, uint16_t *v) {
  if (dns_reader_left(r) < 2)
    return false;
  *v = dns_get_be16(r->msg + r->pos);
  r->pos += 2;
  return true;
}

static inline bool dns_read_be32(dns_reader_t *r, uint32_t *v) {
  if (dns_reader_left(r) < 4)
    return false;
  *v = dns_get_be32(r->msg + r->pos);
  r->pos += 4;
  return true;
}

static inline bool dns_read_skip(dns_reader_t *r, size_t n) {
  if (dns_reader_left(r) < n)
    return false;
  r->pos += n;
  return true;
}

/* Like dns_read_skip, but hands back where the skipped bytes are. */
static inline bool dns_read_bytes(dns_reader_t *r, size_t n,
                                  const uint8_t **p) {
  if (dns_reader_left(r) < n)
    return false;
  *p = r->msg + r->pos;
  r->pos += n;
  return true;
}

/* ---- writing messages ----
 *
 * The one writer (NSD's try_buffer_write idea): a write that would not
 * fit fails and leaves the buffer as it was. */
typedef struct {
  uint8_t *buf;
  size_t cap;
  size_t pos; /* never above cap */
} dns_writer_t;

static inline dns_writer_t dns_writer(uint8_t *buf, size_t cap) {
  dns_writer_t w = {buf, cap, 0};
  return w;
}

static inline bool dns_write_bytes(dns_writer_t *w, const void *data,
                                   size_t n) {
  if (w->cap - w->pos < n)
    return false;
  if (n > 0)
    memcpy(w->buf + w->pos, data, n);
  w->pos += n;
  return true;
}

static inline bool dns_write_u8(dns_writer_t *w, uint8_t v) {
  return dns_write_bytes(w, &v, 1);
}

static inline bool dns_write_be16(dns_writer_t *w, uint16_t v) {
  uint8_t b[2];
  dns_put_be16(b, v);
  return dns_write_bytes(w, b, sizeof(b));
}

static inline bool dns_write_be32(dns_writer_t *w, uint32_t v) {
  uint8_t b[4];
  dns_put_be32(b, v);
  return dns_write_bytes(w, b, sizeof(b));
}

typedef enum {
  DNS_NAME_OK = 0,
  DNS_NAME_TRUNCATED,   /* a label or a pointer runs past the end */
  DNS_NAME_TOO_LONG,    /* over DNS_MAX_NAME octets once expanded */
  DNS_NAME_BAD_LABEL,   /* label type 01 or 10: a length of 64 to 191 */
  DNS_NAME_BAD_POINTER, /* see dns_read_name */
} dns_name_status_t;

/* Pointers one name may follow. A name has at most 127 labels, and a
 * pointer that leads to no label (a pointer to a pointer) buys nothing. */
#define DNS_MAX_POINTER_HOPS 127

/* Read one name, following compression pointers (RFC 1035 4.1.4), into
 * out[0..DNS_MAX_NAME) as uncompressed wire labels ending in the root
 * label; *out_len is its length. Either may be NULL to only check the name
 * and move past it. A pointer must aim strictly before the name and before
 * every earlier pointer's target, never into the header (BIND's rule:
 * this rules out loops, forward pointers and pointers to themselves), and
 * at most DNS_MAX_POINTER_HOPS are followed. The reader moves past the
 * name as it stands in the message (after its first pointer); on failure
 * it does not move. */
dns_name_status_t dns_read_name(dns_reader_t *r, uint8_t *out, size_t *out_len);

typedef struct {
  uint16_t id;
  uint16_t flags;
  uint16_t qdcount;
  uint16_t ancount;
  uint16_t nscount;
  uint16_t arcount;
} dns_header_t;

/* Inline: one bounds check for the twelve bytes, on every packet. */
static inline bool dns_read_header(dns_reader_t *r, dns_header_t *h) {
  if (dns_reader_left(r) < DNS_HEADER_SIZE)
    return false;
  const uint8_t *p = r->msg + r->pos;
  h->id = dns_get_be16(p);
  h->flags = dns_get_be16(p + 2);
  h->qdcount = dns_get_be16(p + 4);
  h->ancount = dns_get_be16(p + 6);
  h->nscount = dns_get_be16(p + 8);
  h->arcount = dns_get_be16(p + 10);
  r->pos += DNS_HEADER_SIZE;
  return true;
}

/* One question entry, where it stands in the message. */
typedef struct {
  size_t at;       /* offset of the QNAME */
  size_t name_len; /* octets the QNAME takes there */
  uint16_t qtype;
  uint16_t qclass;
} dns_question_t;

/* Read a question entry; its QNAME is checked as dns_read_name checks
 * names. In the first question a pointer could only aim at the header, so
 * there msg[at .. at + name_len) is the whole name, uncompressed. */
bool dns_read_question(dns_reader_t *r, dns_question_t *q);

typedef enum {
  DNS_RECORD_OK = 0,
  DNS_RECORD_MALFORMED,      /* bad owner name, or fixed fields cut short */
  DNS_RECORD_RDATA_PAST_END, /* RDLENGTH runs past the message */
} dns_record_status_t;

/* One resource record (RFC 1035 4.1.3), where it stands in the message. */
typedef struct {
  size_t at; /* offset of the owner name: the record's start */
  uint16_t type;
  uint16_t rclass;
  uint32_t ttl;
  size_t ttl_at; /* offset of the TTL field, for callers that
                  * patch it */
  uint16_t rdlen;
  const uint8_t *rdata; /* rdlen bytes inside the message */
} dns_record_t;

/* Read one record; the owner name is checked as dns_read_name checks
 * names (RDATA is not looked into). The reader does not move on failure. */
dns_record_status_t dns_read_record(dns_reader_t *r, dns_record_t *rr);

/* The whole RCODE of a message (RFC 6891 6.1.3): the header's four bits,
 * with the EXTENDED-RCODE of the additional section's OPT record above
 * them. r stands just past the question section and is not moved. Owner
 * names on the way are skipped, not followed (only the OPT matters here,
 * so this stays cheap enough to run on every reply). Without an OPT, or
 * when the records cannot be walked to it, the header's bits alone. */
unsigned dns_read_rcode(const dns_reader_t *r, const dns_header_t *h);

/* ---- parsing a query ---- */

/* What the parser decided. Everything but DROP is answered. */
typedef enum {
  DNS_PARSE_OK = 0,  /* a well-formed standard query */
  DNS_PARSE_DROP,    /* shorter than a header, or QR=1: never answer */
  DNS_PARSE_FORMERR, /* readable header, malformed or unsupported body */
  DNS_PARSE_NOTIMP,  /* opcode other than QUERY */
  DNS_PARSE_REFUSED, /* class other than IN */
  DNS_PARSE_BADVERS, /* EDNS version other than 0 */
} dns_parse_t;

/* A parsed query. Pointers point into the caller's packet, which must
 * outlive the struct. */
typedef struct {
  uint16_t id;
  uint16_t flags; /* header flags word as received */
  uint8_t opcode;
  bool rd;
  bool has_question;       /* the question was parsed and can be echoed */
  const uint8_t *question; /* QNAME + QTYPE + QCLASS as received */
  size_t question_len;
  size_t qname_len; /* wire length of QNAME, root label included */
  uint16_t qtype;
  uint16_t qclass;
  bool has_edns; /* a valid OPT record was present */
  uint8_t edns_version;
  uint16_t edns_udp_size; /* as sent by the client, before clamping */
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
size_t dns_name_lower(const uint8_t *name, size_t len, uint8_t *out,
                      size_t cap);

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
                          uint32_t ttl, uint8_t *out, size_t cap, size_t limit);

/* The reply dns_build_response makes when the answers do not fit: TC=1,
 * the question only (and the OPT), for callers whose answers are not
 * dns_rr_t records (precomputed sections). */
size_t dns_build_truncated(const dns_query_t *q, unsigned rcode, uint8_t *out,
                           size_t cap, size_t limit);

typedef enum {
  DNS_RECURSION_UNAVAILABLE = 0, /* RA=0: nobody to ask upstream */
  DNS_RECURSION_AVAILABLE,       /* RA=1: a forwarder is configured */
} dns_recursion_t;

/* The one error reply (SERVFAIL, REFUSED) to q: ID and opcode echoed,
 * QR=1, RD copied, AA=0 (an error carries no authoritative data), RA as
 * recursion says, the rcode, the question echoed when q->has_question,
 * and an OPT (DO echoed, our payload size, the extended rcode) when the
 * query had one. Returns the length, or 0 if it does not fit in
 * min(cap, limit). */
size_t dns_build_error(const dns_query_t *q, unsigned rcode,
                       dns_recursion_t recursion, uint8_t *out, size_t cap,
                       size_t limit);

#endif
