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
 * The flags word's parts are named in dns_wire.h (DNS_FLAG_*). */

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

#define DNS_EDNS_VERSION 0 /* the only one defined, and all we speak */

/* ---- reading ---- */

/* What a pointer does in the name being read. The public reader follows
 * pointers. A query's QNAME is the first name in the message, so a pointer
 * there could only aim at the header or at itself: NSD's
 * packet_read_query_section rejects it outright, and so does our strict
 * parser. The parser only skips the names of the other sections, and
 * dns_read_rcode only looks for the OPT: for them a pointer just ends the
 * name (no loop can form when nothing is followed). */
typedef enum {
  NAME_FOLLOW_POINTERS,
  NAME_UNCOMPRESSED,
  NAME_POINTER_ENDS,
} name_form_t;

/* The one name walker behind dns_read_name, the strict parser and
 * dns_read_rcode. Enforces the RFC 1035 2.3.4 limits on the octets read;
 * moves r only on success. */
static dns_name_status_t walk_name(dns_reader_t *r, name_form_t form,
                                   uint8_t *out, size_t *out_len) {
  /* In locals: a write through out may alias *r, and this loop runs for
   * every name of every packet. */
  const uint8_t *msg = r->msg;
  size_t len = r->len;
  size_t pos = r->pos;
  size_t resume = 0;     /* after the first pointer, where r goes on */
  size_t floor = r->pos; /* every pointer must aim below this */
  size_t name_len = 0;
  unsigned hops = 0;
  bool jumped = false;

  for (;;) {
    if (pos >= len)
      return DNS_NAME_TRUNCATED;
    uint8_t octet = msg[pos++];

    switch (octet & DNS_LABEL_KIND_MASK) {
    case DNS_LABEL_NORMAL:
      /* Six bits cannot exceed DNS_MAX_LABEL, so only the total needs a
       * check; name_len stays at most DNS_MAX_NAME, so out never
       * overflows. */
      if (name_len + 1u + octet > DNS_MAX_NAME)
        return DNS_NAME_TOO_LONG;
      if (len - pos < octet)
        return DNS_NAME_TRUNCATED;
      if (out != NULL) {
        out[name_len] = octet;
        memcpy(out + name_len + 1, msg + pos, octet);
      }
      name_len += 1u + octet;
      pos += octet;
      if (octet == 0)
        goto done;
      break;
    case DNS_LABEL_POINTER: {
      if (form == NAME_UNCOMPRESSED)
        return DNS_NAME_BAD_POINTER;
      if (pos >= len)
        return DNS_NAME_TRUNCATED;
      size_t target = (size_t)(octet & ~DNS_LABEL_KIND_MASK) << 8 | msg[pos++];
      if (!jumped)
        resume = pos;
      jumped = true;
      if (form == NAME_POINTER_ENDS)
        goto done;
      /* Strictly backwards from the last place we jumped to, so the walk
       * ends however the pointers are laid; the hop bound only caps how
       * long a legal but silly chain may take. */
      if (++hops > DNS_MAX_POINTER_HOPS || target < DNS_HEADER_SIZE ||
          target >= floor)
        return DNS_NAME_BAD_POINTER;
      floor = pos = target;
      break;
    }
    default:
      return DNS_NAME_BAD_LABEL;
    }
  }

done:
  r->pos = jumped ? resume : pos;
  if (out_len != NULL)
    *out_len = name_len;
  return DNS_NAME_OK;
}

dns_name_status_t dns_read_name(dns_reader_t *r, uint8_t *out,
                                size_t *out_len) {
  return walk_name(r, NAME_FOLLOW_POINTERS, out, out_len);
}

static bool read_question(dns_reader_t *r, name_form_t form,
                          dns_question_t *q) {
  dns_reader_t c = *r;

  q->at = c.pos;
  if (walk_name(&c, form, NULL, NULL) != DNS_NAME_OK)
    return false;
  q->name_len = c.pos - q->at;
  if (!dns_read_be16(&c, &q->qtype) || !dns_read_be16(&c, &q->qclass))
    return false;
  *r = c;
  return true;
}

bool dns_read_question(dns_reader_t *r, dns_question_t *q) {
  return read_question(r, NAME_FOLLOW_POINTERS, q);
}

static dns_record_status_t read_record(dns_reader_t *r, name_form_t form,
                                       dns_record_t *rr) {
  dns_reader_t c = *r;

  rr->at = c.pos;
  if (walk_name(&c, form, NULL, NULL) != DNS_NAME_OK ||
      !dns_read_be16(&c, &rr->type) || !dns_read_be16(&c, &rr->rclass))
    return DNS_RECORD_MALFORMED;
  rr->ttl_at = c.pos;
  if (!dns_read_be32(&c, &rr->ttl) || !dns_read_be16(&c, &rr->rdlen))
    return DNS_RECORD_MALFORMED;
  if (!dns_read_bytes(&c, rr->rdlen, &rr->rdata))
    return DNS_RECORD_RDATA_PAST_END;
  *r = c;
  return DNS_RECORD_OK;
}

dns_record_status_t dns_read_record(dns_reader_t *r, dns_record_t *rr) {
  return read_record(r, NAME_FOLLOW_POINTERS, rr);
}

unsigned dns_read_rcode(const dns_reader_t *r, const dns_header_t *h) {
  unsigned rcode = dns_flags_rcode(h->flags);
  unsigned before_additional = (unsigned)h->ancount + h->nscount;
  unsigned total = before_additional + h->arcount;
  dns_reader_t c = *r;

  /* The common reply without EDNS costs nothing more than the header. */
  if (h->arcount == 0)
    return rcode;
  for (unsigned i = 0; i < total; i++) {
    dns_record_t rr;
    if (read_record(&c, NAME_POINTER_ENDS, &rr) != DNS_RECORD_OK)
      return rcode;
    if (rr.type == DNS_TYPE_OPT && i >= before_additional)
      return rcode | (rr.ttl >> DNS_OPT_TTL_RCODE_SHIFT) << DNS_EXT_RCODE_SHIFT;
  }
  return rcode;
}

/* ---- the strict query parser ---- */

/* RFC 6891 6.1.2: a sequence of {OPTION-CODE, OPTION-LENGTH, data}. We
 * support no option, but a malformed list still makes the query malformed. */
static bool opt_rdata_is_wellformed(const uint8_t *rdata, uint16_t rdlen) {
  dns_reader_t c = dns_reader(rdata, rdlen);

  while (dns_reader_left(&c) > 0) {
    uint16_t code, len;
    if (!dns_read_be16(&c, &code) || !dns_read_be16(&c, &len) ||
        !dns_read_skip(&c, len))
      return false;
  }
  return true;
}

/* Walks the answer, authority and additional sections. Only the additional
 * section's OPT matters to us; everything else is checked for bounds and
 * skipped. Returns false for a malformed message. */
static bool parse_records(dns_reader_t *c, unsigned ancount, unsigned nscount,
                          unsigned arcount, dns_query_t *q) {
  unsigned total = ancount + nscount + arcount;
  bool seen_opt = false;
  uint16_t udp_size = 0;
  uint32_t opt_ttl = 0;

  for (unsigned i = 0; i < total; i++) {
    dns_record_t rr;
    if (read_record(c, NAME_POINTER_ENDS, &rr) != DNS_RECORD_OK)
      return false;

    bool in_additional = i >= ancount + nscount;
    if (!in_additional || rr.type != DNS_TYPE_OPT)
      continue;

    /* RFC 6891 6.1.1: one OPT at most, owned by the root. The owner must
     * be the single root octet; a pointer, even to a root label, is not. */
    if (seen_opt || c->msg[rr.at] != 0)
      return false;
    if (!opt_rdata_is_wellformed(rr.rdata, rr.rdlen))
      return false;
    seen_opt = true;
    udp_size = rr.rclass;
    opt_ttl = rr.ttl;
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
static bool parse_question(dns_reader_t *c, dns_query_t *q) {
  dns_question_t entry;

  if (!read_question(c, NAME_UNCOMPRESSED, &entry))
    return false;
  q->question = c->msg + entry.at;
  q->question_len = c->pos - entry.at;
  q->qname_len = entry.name_len;
  q->qtype = entry.qtype;
  q->qclass = entry.qclass;
  q->has_question = true;
  return true;
}

/* Reads everything after the header. False means FORMERR; q->has_question
 * may still be true if only the later sections were bad. */
static bool parse_body(dns_reader_t *c, const dns_header_t *h, dns_query_t *q) {
  /* One question per query is all anyone implements (RFC 9619). */
  if (h->qdcount != 1)
    return false;
  if (!parse_question(c, q))
    return false;
  /* Bytes after the counted records are ignored: they cannot change the
   * answer, and rejecting them would buy nothing. */
  return parse_records(c, h->ancount, h->nscount, h->arcount, q);
}

dns_parse_t dns_parse_query(const uint8_t *pkt, size_t len, dns_query_t *q) {
  dns_reader_t c = dns_reader(pkt, len);
  dns_header_t h;

  memset(q, 0, sizeof(*q));
  if (!dns_read_header(&c, &h))
    return DNS_PARSE_DROP;
  q->id = h.id;
  q->flags = h.flags;
  /* Answering a response could start a reflection loop between servers. */
  if (q->flags & DNS_FLAG_QR)
    return DNS_PARSE_DROP;

  q->opcode = (uint8_t)dns_flags_opcode(q->flags);
  q->rd = (q->flags & DNS_FLAG_RD) != 0;

  bool wellformed = parse_body(&c, &h, q);

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

/* What sets the replies of dns_build_response, dns_build_truncated and
 * dns_build_error apart. */
typedef struct {
  unsigned rcode; /* may be extended (BADVERS) */
  uint16_t flags; /* AA or RA, on top of QR, opcode and RD */
  bool force_tc;  /* TC=1 with the question only, whatever fits */
} reply_kind_t;

/* The one builder behind the three public ones. */
static size_t build_response(const dns_query_t *q, const reply_kind_t *kind,
                             const dns_rr_t *answers, size_t n_answers,
                             uint32_t ttl, uint8_t *out, size_t cap,
                             size_t limit) {
  unsigned rcode = kind->rcode;
  dns_writer_t w = dns_writer(out, cap < limit ? cap : limit);
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
  bool truncated =
      kind->force_tc || !answers_fit(answers, n_answers, w.cap - fixed);
  if (truncated)
    n_answers = 0;

  uint16_t flags =
      (uint16_t)(DNS_FLAG_QR | kind->flags |
                 ((q->opcode & DNS_OPCODE_MASK) << DNS_OPCODE_SHIFT) |
                 (rcode & DNS_RCODE_MASK));
  if (q->rd)
    flags |= DNS_FLAG_RD;
  if (truncated)
    flags |= DNS_FLAG_TC;

  /* The size checks above make every write below succeed; the results are
   * still checked so that a mistake there truncates nothing silently. */
  bool ok = dns_write_be16(&w, q->id) && dns_write_be16(&w, flags) &&
            dns_write_be16(&w, q->has_question ? 1 : 0) &&
            dns_write_be16(&w, (uint16_t)n_answers) && dns_write_be16(&w, 0) &&
            dns_write_be16(&w, q->has_edns ? 1 : 0) &&
            dns_write_bytes(&w, q->question, question_len);

  for (size_t i = 0; ok && i < n_answers; i++) {
    ok = dns_write_be16(&w, DNS_QNAME_POINTER) &&
         dns_write_be16(&w, answers[i].type) &&
         dns_write_be16(&w, DNS_CLASS_IN) && dns_write_be32(&w, ttl) &&
         dns_write_be16(&w, answers[i].rdlen) &&
         dns_write_bytes(&w, answers[i].rdata, answers[i].rdlen);
  }

  if (ok && q->has_edns) {
    /* DO is echoed (RFC 3225 3); the extended rcode carries what the four
     * header bits cannot (BADVERS); the VERSION byte stays 0, the only
     * version we speak, even when refusing another. No options are echoed:
     * we understand none, and RFC 6891 6.1.2 does not ask for them back. */
    uint32_t opt_ttl =
        (((rcode >> DNS_EXT_RCODE_SHIFT) & 0xFFu) << DNS_OPT_TTL_RCODE_SHIFT) |
        (q->edns_do ? DNS_OPT_TTL_DO : 0u);
    ok = dns_write_u8(&w, 0) && dns_write_be16(&w, DNS_TYPE_OPT) &&
         dns_write_be16(&w, DNS_EDNS_ADVERTISED) &&
         dns_write_be32(&w, opt_ttl) && dns_write_be16(&w, 0);
  }

  return ok ? w.pos : 0;
}

size_t dns_build_response(const dns_query_t *q, unsigned rcode,
                          const dns_rr_t *answers, size_t n_answers,
                          uint32_t ttl, uint8_t *out, size_t cap,
                          size_t limit) {
  reply_kind_t kind = {rcode, DNS_FLAG_AA, false};
  return build_response(q, &kind, answers, n_answers, ttl, out, cap, limit);
}

size_t dns_build_truncated(const dns_query_t *q, unsigned rcode, uint8_t *out,
                           size_t cap, size_t limit) {
  reply_kind_t kind = {rcode, DNS_FLAG_AA, true};
  return build_response(q, &kind, NULL, 0, 0, out, cap, limit);
}

size_t dns_build_error(const dns_query_t *q, unsigned rcode,
                       dns_recursion_t recursion, uint8_t *out, size_t cap,
                       size_t limit) {
  reply_kind_t kind = {
      rcode, recursion == DNS_RECURSION_AVAILABLE ? DNS_FLAG_RA : 0, false};
  return build_response(q, &kind, NULL, 0, 0, out, cap, limit);
}
