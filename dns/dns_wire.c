#include "dns_wire.h"

#include <string.h>

/* RFC 1035 4.1.1, the header every message starts with:
 *
 *                                   1  1  1  1  1  1
 *     0  1  2  3  4  5  6  7  8  9  0  1  2  3  4  5
 *   +--+--+--+--+--+--+--+--+--+--+--+--+--+--+--+--+
 *   |                      ID                       |
 *   +--+--+--+--+--+--+--+--+--+--+--+--+--+--+--+--+
 *   |QR|   Opcode  |AA|TC|RD|RA| Z|AD|CD|   RCODE   |
 *   +--+--+--+--+--+--+--+--+--+--+--+--+--+--+--+--+
 *   |                    QDCOUNT                    |
 *   +--+--+--+--+--+--+--+--+--+--+--+--+--+--+--+--+
 *   |                    ANCOUNT                    |
 *   +--+--+--+--+--+--+--+--+--+--+--+--+--+--+--+--+
 *   |                    NSCOUNT                    |
 *   +--+--+--+--+--+--+--+--+--+--+--+--+--+--+--+--+
 *   |                    ARCOUNT                    |
 *   +--+--+--+--+--+--+--+--+--+--+--+--+--+--+--+--+
 *
 * (AD and CD are RFC 4035's names for two of the original Z bits.) The
 * flags word is read and written whole; these name its parts. */
#define DNS_FLAG_QR 0x8000u
#define DNS_FLAG_AA 0x0400u
#define DNS_FLAG_TC 0x0200u
#define DNS_FLAG_RD 0x0100u
#define DNS_OPCODE_SHIFT 11
#define DNS_OPCODE_MASK 0x0Fu
#define DNS_RCODE_MASK 0x000Fu

/* The top two bits of a length octet say what it is (RFC 1035 4.1.4).
 * 01 was EDNS0's extended label type (RFC 2671) and 10 is reserved; RFC
 * 6891 5 retired extended labels, so both make a name unreadable. */
#define DNS_LABEL_KIND_MASK 0xC0u
#define DNS_LABEL_NORMAL 0x00u
#define DNS_LABEL_POINTER 0xC0u
#define DNS_POINTER_SIZE 2

/* TYPE, CLASS, TTL and RDLENGTH after an RR's owner name. */
#define DNS_RR_FIXED_SIZE 10
#define DNS_OPT_SIZE (1 + DNS_RR_FIXED_SIZE) /* root owner, empty rdata */

/* The OPT record's TTL field (RFC 6891 6.1.3):
 * EXTENDED-RCODE (8) | VERSION (8) | DO (1) | Z (15). */
#define DNS_OPT_TTL_RCODE_SHIFT 24
#define DNS_OPT_TTL_VERSION_SHIFT 16
#define DNS_OPT_TTL_DO 0x00008000u
#define DNS_EXT_RCODE_SHIFT 4 /* header keeps the low 4 rcode bits */
#define DNS_EDNS_VERSION 0     /* the only one defined, and all we speak */

/* The one reader of untrusted bytes. Every fetch checks the remaining length
 * first and fails without moving, so callers never index pkt themselves. */
typedef struct {
  const uint8_t *pkt;
  size_t len;
  size_t pos;
} dns_cursor_t;

static size_t cursor_left(const dns_cursor_t *c) { return c->len - c->pos; }

static bool cursor_fetch_u8(dns_cursor_t *c, uint8_t *v) {
  if (cursor_left(c) < 1)
    return false;
  *v = c->pkt[c->pos];
  c->pos += 1;
  return true;
}

static bool cursor_fetch_be16(dns_cursor_t *c, uint16_t *v) {
  if (cursor_left(c) < 2)
    return false;
  *v = (uint16_t)((unsigned)c->pkt[c->pos] << 8 | c->pkt[c->pos + 1]);
  c->pos += 2;
  return true;
}

static bool cursor_fetch_be32(dns_cursor_t *c, uint32_t *v) {
  if (cursor_left(c) < 4)
    return false;
  *v = (uint32_t)c->pkt[c->pos] << 24 | (uint32_t)c->pkt[c->pos + 1] << 16 |
       (uint32_t)c->pkt[c->pos + 2] << 8 | (uint32_t)c->pkt[c->pos + 3];
  c->pos += 4;
  return true;
}

static bool cursor_skip(dns_cursor_t *c, size_t n) {
  if (cursor_left(c) < n)
    return false;
  c->pos += n;
  return true;
}

/* Like cursor_skip, but hands back where the skipped bytes are. */
static bool cursor_fetch_span(dns_cursor_t *c, size_t n, const uint8_t **p) {
  if (cursor_left(c) < n)
    return false;
  *p = c->pkt + c->pos;
  c->pos += n;
  return true;
}

/* The bytes read since a position saved from c->pos earlier. */
static const uint8_t *cursor_since(const dns_cursor_t *c, size_t start,
                                   size_t *n) {
  *n = c->pos - start;
  return c->pkt + start;
}

/* How a name may end. A query's QNAME is the first name in the message, so
 * a pointer there could only aim at the header or at itself: NSD's
 * packet_read_query_section rejects it outright, and so do we. Names in the
 * other sections may be compressed; we only skip them, so a pointer just
 * ends the name and is never followed (no loops to guard against). */
typedef enum { NAME_UNCOMPRESSED, NAME_MAY_END_IN_POINTER } name_form_t;

/* Moves past one name, enforcing the RFC 1035 2.3.4 limits on the octets
 * actually present; *wire_len is how many bytes it took here. */
static bool cursor_skip_name(dns_cursor_t *c, name_form_t form,
                             size_t *wire_len) {
  size_t start = c->pos;
  size_t name_len = 0;

  for (;;) {
    uint8_t octet;
    if (!cursor_fetch_u8(c, &octet))
      return false;

    switch (octet & DNS_LABEL_KIND_MASK) {
    case DNS_LABEL_NORMAL:
      /* Six bits cannot exceed DNS_MAX_LABEL, so only the total needs a
       * check. */
      name_len += 1u + octet;
      if (name_len > DNS_MAX_NAME)
        return false;
      if (octet == 0) {
        *wire_len = c->pos - start;
        return true;
      }
      if (!cursor_skip(c, octet))
        return false;
      break;
    case DNS_LABEL_POINTER:
      if (form != NAME_MAY_END_IN_POINTER ||
          !cursor_skip(c, DNS_POINTER_SIZE - 1))
        return false;
      *wire_len = c->pos - start;
      return true;
    default:
      return false;
    }
  }
}

/* RFC 6891 6.1.2: a sequence of {OPTION-CODE, OPTION-LENGTH, data}. We
 * support no option, but a malformed list still makes the query malformed. */
static bool opt_rdata_is_wellformed(const uint8_t *rdata, uint16_t rdlen) {
  dns_cursor_t c = {rdata, rdlen, 0};

  while (cursor_left(&c) > 0) {
    uint16_t code, len;
    if (!cursor_fetch_be16(&c, &code) || !cursor_fetch_be16(&c, &len) ||
        !cursor_skip(&c, len))
      return false;
  }
  return true;
}

/* Walks the answer, authority and additional sections. Only the additional
 * section's OPT matters to us; everything else is checked for bounds and
 * skipped. Returns false for a malformed message. */
static bool parse_records(dns_cursor_t *c, unsigned ancount, unsigned nscount,
                          unsigned arcount, dns_query_t *q) {
  unsigned total = ancount + nscount + arcount;
  bool seen_opt = false;
  uint16_t udp_size = 0;
  uint32_t opt_ttl = 0;

  for (unsigned i = 0; i < total; i++) {
    size_t owner_len;
    uint16_t type, rclass, rdlen;
    uint32_t ttl;

    if (!cursor_skip_name(c, NAME_MAY_END_IN_POINTER, &owner_len))
      return false;
    if (!cursor_fetch_be16(c, &type) || !cursor_fetch_be16(c, &rclass) ||
        !cursor_fetch_be32(c, &ttl) || !cursor_fetch_be16(c, &rdlen))
      return false;
    const uint8_t *rdata;
    if (!cursor_fetch_span(c, rdlen, &rdata))
      return false;

    bool in_additional = i >= ancount + nscount;
    if (!in_additional || type != DNS_TYPE_OPT)
      continue;

    /* RFC 6891 6.1.1: one OPT at most, owned by the root. The owner must
     * be the single root octet; a pointer, even to a root label, is not. */
    if (seen_opt || owner_len != 1)
      return false;
    if (!opt_rdata_is_wellformed(rdata, rdlen))
      return false;
    seen_opt = true;
    udp_size = rclass;
    opt_ttl = ttl;
  }

  /* Only now is the OPT known to be the sole one in a readable message;
   * a FORMERR reply carries no OPT because q->has_edns stays false. */
  if (seen_opt) {
    q->has_edns = true;
    q->edns_udp_size = udp_size;
    q->edns_version = (uint8_t)(opt_ttl >> DNS_OPT_TTL_VERSION_SHIFT);
    q->edns_do = (opt_ttl & DNS_OPT_TTL_DO) != 0;
  }
  return true;
}

/* Reads the single question, remembering its bytes for the echo. */
static bool parse_question(dns_cursor_t *c, dns_query_t *q) {
  size_t start = c->pos, qname_len;

  if (!cursor_skip_name(c, NAME_UNCOMPRESSED, &qname_len))
    return false;
  if (!cursor_fetch_be16(c, &q->qtype) || !cursor_fetch_be16(c, &q->qclass))
    return false;

  q->question = cursor_since(c, start, &q->question_len);
  q->qname_len = qname_len;
  q->has_question = true;
  return true;
}

/* Reads everything after the header. False means FORMERR; q->has_question
 * may still be true if only the later sections were bad. */
static bool parse_body(dns_cursor_t *c, unsigned qdcount, unsigned ancount,
                       unsigned nscount, unsigned arcount, dns_query_t *q) {
  /* One question per query is all anyone implements (RFC 9619). */
  if (qdcount != 1)
    return false;
  if (!parse_question(c, q))
    return false;
  /* Bytes after the counted records are ignored: they cannot change the
   * answer, and rejecting them would buy nothing. */
  return parse_records(c, ancount, nscount, arcount, q);
}

dns_parse_t dns_parse_query(const uint8_t *pkt, size_t len, dns_query_t *q) {
  dns_cursor_t c = {pkt, len, 0};
  uint16_t qdcount, ancount, nscount, arcount;

  memset(q, 0, sizeof(*q));
  if (!cursor_fetch_be16(&c, &q->id) || !cursor_fetch_be16(&c, &q->flags) ||
      !cursor_fetch_be16(&c, &qdcount) || !cursor_fetch_be16(&c, &ancount) ||
      !cursor_fetch_be16(&c, &nscount) || !cursor_fetch_be16(&c, &arcount))
    return DNS_PARSE_DROP;
  /* Answering a response could start a reflection loop between servers. */
  if (q->flags & DNS_FLAG_QR)
    return DNS_PARSE_DROP;

  q->opcode = (uint8_t)((q->flags >> DNS_OPCODE_SHIFT) & DNS_OPCODE_MASK);
  q->rd = (q->flags & DNS_FLAG_RD) != 0;

  bool wellformed = parse_body(&c, qdcount, ancount, nscount, arcount, q);

  /* An unknown opcode wins over a malformed body, as in NSD's query_process:
   * another opcode may define the rest of the message differently, so it
   * cannot be judged by QUERY's rules. The body was still read, so the
   * question and OPT are echoed when they happen to parse. */
  if (q->opcode != DNS_OPCODE_QUERY)
    return DNS_PARSE_NOTIMP;
  if (!wellformed)
    return DNS_PARSE_FORMERR;
  if (q->has_edns && q->edns_version != DNS_EDNS_VERSION)
    return DNS_PARSE_BADVERS;
  if (q->qclass != DNS_CLASS_IN)
    return DNS_PARSE_REFUSED;
  return DNS_PARSE_OK;
}

size_t dns_udp_limit(const dns_query_t *q) {
  if (!q->has_edns || q->edns_udp_size <= DNS_PLAIN_UDP_LIMIT)
    return DNS_PLAIN_UDP_LIMIT;
  if (q->edns_udp_size > DNS_EDNS_ADVERTISED)
    return DNS_EDNS_ADVERTISED;
  return q->edns_udp_size;
}

size_t dns_name_lower(const uint8_t *name, size_t len, uint8_t *out,
                      size_t cap) {
  if (len == 0 || len > cap)
    return 0;
  /* Length octets are at most 63, below 'A', so the whole name can be
   * mapped byte by byte without walking its labels. */
  for (size_t i = 0; i < len; i++) {
    uint8_t b = name[i];
    out[i] = (b >= 'A' && b <= 'Z') ? (uint8_t)(b - 'A' + 'a') : b;
  }
  return len;
}

/* The response writer: NSD's try_buffer_write idea. A write that would not
 * fit fails and leaves the buffer as it was. */
typedef struct {
  uint8_t *buf;
  size_t cap;
  size_t pos;
} dns_writer_t;

static bool try_put_bytes(dns_writer_t *w, const void *data, size_t n) {
  if (w->cap - w->pos < n)
    return false;
  if (n > 0)
    memcpy(w->buf + w->pos, data, n);
  w->pos += n;
  return true;
}

static bool try_put_u8(dns_writer_t *w, uint8_t v) {
  return try_put_bytes(w, &v, 1);
}

static bool try_put_be16(dns_writer_t *w, uint16_t v) {
  uint8_t b[2] = {(uint8_t)(v >> 8), (uint8_t)v};
  return try_put_bytes(w, b, sizeof(b));
}

static bool try_put_be32(dns_writer_t *w, uint32_t v) {
  uint8_t b[4] = {(uint8_t)(v >> 24), (uint8_t)(v >> 16), (uint8_t)(v >> 8),
                  (uint8_t)v};
  return try_put_bytes(w, b, sizeof(b));
}

/* Answer owners point at the question name, which always starts right after
 * the header (RFC 1035 4.1.4). */
#define DNS_QNAME_POINTER (0xC000u | DNS_HEADER_SIZE)

/* True when all the answers fit in `room` bytes. Summed with a running
 * subtraction so that no count of answers can overflow. */
static bool answers_fit(const dns_rr_t *answers, size_t n, size_t room) {
  if (n > UINT16_MAX)
    return false;
  for (size_t i = 0; i < n; i++) {
    size_t rr = DNS_POINTER_SIZE + DNS_RR_FIXED_SIZE + answers[i].rdlen;
    if (rr > room)
      return false;
    room -= rr;
  }
  return true;
}

/* The one builder behind dns_build_response and dns_build_truncated:
 * force_tc makes a TC=1 reply with the question only, whatever fits. */
static size_t build_response(const dns_query_t *q, unsigned rcode,
                             const dns_rr_t *answers, size_t n_answers,
                             uint32_t ttl, uint8_t *out, size_t cap,
                             size_t limit, bool force_tc) {
  dns_writer_t w = {out, cap < limit ? cap : limit, 0};
  size_t question_len = q->has_question ? q->question_len : 0;
  size_t opt_len = q->has_edns ? DNS_OPT_SIZE : 0;

  /* Without a question there is no name for the 0xC00C owner to point at;
   * such a call is a caller bug, so nothing is sent rather than garbage. */
  if (n_answers > 0 && !q->has_question)
    return 0;

  size_t fixed = DNS_HEADER_SIZE + question_len + opt_len;
  if (fixed > w.cap)
    return 0;
  /* The OPT is reserved before the answers: a truncated reply must still
   * carry it, or the client would think we do not speak EDNS. */
  bool truncated = force_tc || !answers_fit(answers, n_answers, w.cap - fixed);
  if (truncated)
    n_answers = 0;

  uint16_t flags = (uint16_t)(DNS_FLAG_QR | DNS_FLAG_AA |
                              ((q->opcode & DNS_OPCODE_MASK)
                               << DNS_OPCODE_SHIFT) |
                              (rcode & DNS_RCODE_MASK));
  if (q->rd)
    flags |= DNS_FLAG_RD;
  if (truncated)
    flags |= DNS_FLAG_TC;

  /* The size checks above make every write below succeed; the results are
   * still checked so that a mistake there truncates nothing silently. */
  bool ok = try_put_be16(&w, q->id) && try_put_be16(&w, flags) &&
            try_put_be16(&w, q->has_question ? 1 : 0) &&
            try_put_be16(&w, (uint16_t)n_answers) && try_put_be16(&w, 0) &&
            try_put_be16(&w, q->has_edns ? 1 : 0) &&
            try_put_bytes(&w, q->question, question_len);

  for (size_t i = 0; ok && i < n_answers; i++) {
    ok = try_put_be16(&w, DNS_QNAME_POINTER) &&
         try_put_be16(&w, answers[i].type) &&
         try_put_be16(&w, DNS_CLASS_IN) && try_put_be32(&w, ttl) &&
         try_put_be16(&w, answers[i].rdlen) &&
         try_put_bytes(&w, answers[i].rdata, answers[i].rdlen);
  }

  if (ok && q->has_edns) {
    /* DO is echoed (RFC 3225 3); the extended rcode carries what the four
     * header bits cannot (BADVERS); the VERSION byte stays 0, the only
     * version we speak, even when refusing another. No options are echoed:
     * we understand none, and RFC 6891 6.1.2 does not ask for them back. */
    uint32_t opt_ttl =
        (((rcode >> DNS_EXT_RCODE_SHIFT) & 0xFFu) << DNS_OPT_TTL_RCODE_SHIFT) |
        (q->edns_do ? DNS_OPT_TTL_DO : 0u);
    ok = try_put_u8(&w, 0) && try_put_be16(&w, DNS_TYPE_OPT) &&
         try_put_be16(&w, DNS_EDNS_ADVERTISED) && try_put_be32(&w, opt_ttl) &&
         try_put_be16(&w, 0);
  }

  return ok ? w.pos : 0;
}

size_t dns_build_response(const dns_query_t *q, unsigned rcode,
                          const dns_rr_t *answers, size_t n_answers,
                          uint32_t ttl, uint8_t *out, size_t cap,
                          size_t limit) {
  return build_response(q, rcode, answers, n_answers, ttl, out, cap, limit,
                        false);
}

size_t dns_build_truncated(const dns_query_t *q, unsigned rcode, uint8_t *out,
                           size_t cap, size_t limit) {
  return build_response(q, rcode, NULL, 0, 0, out, cap, limit, true);
}
