#include "loop_log.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "dns_wire.h"

/* Room for one line. A JSON escape can take 6 bytes per input byte, so
 * this is above the text message's own bound (MSG_MAX). */
#define LINE_MAX_BYTES 4096
#define MSG_MAX 1024
#define STAMP_MAX 48 /* "2026-01-02T03:04:05.678Z" and room */
/* Kept free while a line is built, for what closes it: '"', '}', '\n'. */
#define LINE_TAIL 4

static loop_log_level_t current_level = LOOP_LOG_INFO;
static loop_log_format_t current_format = LOOP_LOG_TEXT;

static const char *const level_names[] = {"error", "warn", "info", "debug"};
static const char *const format_names[] = {"text", "json"};

void loop_log_set_level(loop_log_level_t level) {
  current_level = level;
}

int loop_log_enabled(loop_log_level_t level) {
  return level <= current_level;
}

void loop_log_set_format(loop_log_format_t format) {
  current_format = format;
}

int loop_log_parse_level(const char *text, loop_log_level_t *out) {
  for (size_t i = 0; i < sizeof(level_names) / sizeof(level_names[0]); i++) {
    if (strcmp(text, level_names[i]) == 0) {
      *out = (loop_log_level_t)i;
      return 0;
    }
  }
  return -1;
}

int loop_log_parse_format(const char *text, loop_log_format_t *out) {
  for (size_t i = 0; i < sizeof(format_names) / sizeof(format_names[0]); i++) {
    if (strcmp(text, format_names[i]) == 0) {
      *out = (loop_log_format_t)i;
      return 0;
    }
  }
  return -1;
}

/* ---- building a line ---- */

/* A bounded writer: each piece goes in whole or not at all, and once one
 * does not fit the line is full and the rest is left out. */
typedef struct {
  char *buf;
  size_t cap; /* usable for content: the tail is reserved apart */
  size_t len;
  bool full;
} line_t;

static bool put(line_t *l, const char *s, size_t n) {
  if (l->full || n > l->cap - l->len) {
    l->full = true;
    return false;
  }
  memcpy(l->buf + l->len, s, n);
  l->len += n;
  return true;
}

static bool puts_(line_t *l, const char *s) {
  return put(l, s, strlen(s));
}

/* The length of the valid UTF-8 sequence at s (RFC 3629: no overlong
 * forms, no surrogates, nothing past U+10FFFF), or 0. */
static size_t utf8_len(const unsigned char *s) {
  unsigned char c = s[0];
  size_t n;
  unsigned char lo = 0x80, hi = 0xBF;
  if (c >= 0xC2 && c <= 0xDF) {
    n = 2;
  } else if (c >= 0xE0 && c <= 0xEF) {
    n = 3;
    if (c == 0xE0)
      lo = 0xA0;
    else if (c == 0xED)
      hi = 0x9F;
  } else if (c >= 0xF0 && c <= 0xF4) {
    n = 4;
    if (c == 0xF0)
      lo = 0x90;
    else if (c == 0xF4)
      hi = 0x8F;
  } else {
    return 0;
  }
  if (s[1] < lo || s[1] > hi)
    return 0;
  for (size_t i = 2; i < n; i++) {
    if (s[i] < 0x80 || s[i] > 0xBF)
      return 0;
  }
  return n;
}

/* The inside of a JSON string and its closing quote (the caller writes
 * the opening one with the key, so that a key never goes out without its
 * value): quote, backslash and control characters escaped (RFC 8259 7);
 * bytes that are not UTF-8 (a hosts file may hold anything) become
 * U+FFFD, so that every line parses. A value cut short still gets its
 * closing quote, from the reserved tail. */
static void put_json_string(line_t *l, const char *text) {
  const unsigned char *s = (const unsigned char *)text;
  while (*s != '\0' && !l->full) {
    char esc[8];
    const char *piece = esc;
    size_t n;
    if (*s == '"' || *s == '\\') {
      esc[0] = '\\';
      esc[1] = (char)*s;
      n = 2;
      s++;
    } else if (*s < 0x20) {
      static const char short_forms[] = "btn\0fr"; /* \b \t \n, \f \r */
      if (*s >= '\b' && *s <= '\r' && short_forms[*s - '\b'] != '\0')
        n = (size_t)snprintf(esc, sizeof(esc), "\\%c", short_forms[*s - '\b']);
      else
        n = (size_t)snprintf(esc, sizeof(esc), "\\u%04x", *s);
      s++;
    } else if (*s < 0x80) {
      piece = (const char *)s;
      n = 1;
      s++;
    } else if ((n = utf8_len(s)) > 0) {
      piece = (const char *)s;
      s += n;
    } else {
      piece = "\\ufffd";
      n = 6;
      s++;
    }
    put(l, piece, n);
  }
  if (!put(l, "\"", 1)) {
    /* From the tail, which is there for this; nothing more goes in. */
    l->buf[l->len++] = '"';
    l->full = true;
  }
}

/* A text value, quoted (with \" and \\) only when it would otherwise be
 * ambiguous, so that the common case stays plain key=value: a query name
 * in presentation form (a\032b.) needs no quotes. */
static void put_text_value(line_t *l, const char *s) {
  bool quote = *s == '\0' || strpbrk(s, " \"=") != NULL;
  for (const char *c = s; *c != '\0' && !quote; c++)
    quote = (unsigned char)*c < 0x20;
  if (!quote) {
    puts_(l, s);
    return;
  }
  if (!put(l, "\"", 1))
    return;
  for (const char *c = s; *c != '\0'; c++) {
    char esc[8];
    size_t n;
    if (*c == '"' || *c == '\\')
      n = (size_t)snprintf(esc, sizeof(esc), "\\%c", *c);
    else if ((unsigned char)*c < 0x20)
      n = (size_t)snprintf(esc, sizeof(esc), "\\x%02x", (unsigned char)*c);
    else
      n = (size_t)snprintf(esc, sizeof(esc), "%c", *c);
    if (!put(l, esc, n))
      return;
  }
  put(l, "\"", 1);
}

size_t loop_log_format_line(char *out, size_t cap, loop_log_format_t format, const char *stamp,
                            loop_log_level_t level, const char *msg, const loop_log_field_t *fields,
                            size_t n_fields) {
  line_t l = {.buf = out, .cap = cap - LINE_TAIL, .len = 0, .full = false};
  const char *level_name = level_names[level];

  if (format == LOOP_LOG_JSON) {
    /* The head goes in whole (it fits the 64 bytes cap may be at the
     * least), then the message. */
    char head[96];
    snprintf(head, sizeof(head), "{\"ts\":\"%s\",\"level\":\"%s\",\"msg\":\"", stamp, level_name);
    if (!puts_(&l, head)) {
      l.len = 0;
      l.full = false;
      puts_(&l, "{");
    } else {
      put_json_string(&l, msg);
    }
    for (size_t i = 0; i < n_fields && !l.full; i++) {
      /* The key, its colon and the value's opening quote whole, or the
       * field is left out. */
      char key[64];
      int n = snprintf(key, sizeof(key), ",\"%s\":\"", fields[i].key);
      if (n < 0 || (size_t)n >= sizeof(key) || !put(&l, key, (size_t)n))
        break;
      put_json_string(&l, fields[i].value);
    }
    l.buf[l.len++] = '}';
  } else {
    puts_(&l, stamp);
    puts_(&l, " dnsortd ");
    puts_(&l, level_name);
    puts_(&l, ": ");
    /* A message that does not fit whole is cut where it stops fitting. */
    size_t n = strlen(msg);
    if (n > l.cap - l.len)
      n = l.cap - l.len;
    put(&l, msg, n);
    for (size_t i = 0; i < n_fields && !l.full; i++) {
      put(&l, " ", 1);
      puts_(&l, fields[i].key);
      put(&l, "=", 1);
      put_text_value(&l, fields[i].value);
    }
  }
  l.buf[l.len++] = '\n';
  return l.len;
}

/* ---- writing a line ---- */

/* "2026-01-02T03:04:05.678Z". The seconds part is formatted once per
 * second: with --log-queries this runs for every answer. Per thread, in
 * case a worker ever logs. */
static void format_stamp(char *out) {
  static _Thread_local time_t cached_sec = (time_t)-1;
  static _Thread_local char cached[24];
  struct timespec now;
  clock_gettime(CLOCK_REALTIME, &now);
  if (now.tv_sec != cached_sec) {
    struct tm tm;
    gmtime_r(&now.tv_sec, &tm);
    strftime(cached, sizeof(cached), "%Y-%m-%dT%H:%M:%S", &tm);
    cached_sec = now.tv_sec;
  }
  snprintf(out, STAMP_MAX, "%s.%03ldZ", cached, now.tv_nsec / 1000000L);
}

/* One write per line, so that lines never interleave mid-line. */
static void write_line(loop_log_level_t level, const char *msg, const loop_log_field_t *fields,
                       size_t n_fields) {
  char stamp[STAMP_MAX];
  char line[LINE_MAX_BYTES];
  format_stamp(stamp);
  size_t len =
      loop_log_format_line(line, sizeof(line), current_format, stamp, level, msg, fields, n_fields);
  fwrite(line, 1, len, stderr);
}

void loop_log(loop_log_level_t level, const char *fmt, ...) {
  if (!loop_log_enabled(level))
    return;
  char msg[MSG_MAX];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof(msg), fmt, ap);
  va_end(ap);
  write_line(level, msg, NULL, 0);
}

void loop_log_fields(loop_log_level_t level, const char *msg, const loop_log_field_t *fields,
                     size_t n_fields) {
  if (loop_log_enabled(level))
    write_line(level, msg, fields, n_fields);
}

void loop_log_startup_error(const char *fmt, ...) {
  char msg[MSG_MAX];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof(msg), fmt, ap);
  va_end(ap);
  if (current_format == LOOP_LOG_JSON)
    write_line(LOOP_LOG_ERROR, msg, NULL, 0);
  else
    fprintf(stderr, "dnsortd: %s\n", msg);
}

/* ---- warnings that may come in floods ---- */

int loop_log_limit_pass(loop_log_limit_t *l, uint64_t now_ms, uint64_t *suppressed) {
  /* A clock that went back (it should not) opens the window again rather
   * than silencing the kind for good. */
  if (l->started && now_ms >= l->last_ms && now_ms - l->last_ms < LOOP_LOG_LIMIT_INTERVAL_MS) {
    l->suppressed++;
    return 0;
  }
  *suppressed = l->suppressed;
  l->suppressed = 0;
  l->last_ms = now_ms;
  l->started = 1;
  return 1;
}

void loop_log_limited(loop_log_limit_t *l, uint64_t now_ms, loop_log_level_t level,
                      const char *msg) {
  uint64_t skipped;
  if (!loop_log_enabled(level) || !loop_log_limit_pass(l, now_ms, &skipped))
    return;
  if (skipped == 0)
    loop_log(level, "%s", msg);
  else
    loop_log(level, "%s (%llu more suppressed)", msg, (unsigned long long)skipped);
}

/* ---- the per-query log ---- */

/* A name read by dns_read_name (uncompressed labels, root last) into
 * presentation form. False if it does not fit in cap. */
static bool present_name(const uint8_t *name, size_t len, char *out, size_t cap) {
  size_t o = 0;
  for (size_t i = 0; i < len && name[i] != 0; i += 1u + name[i]) {
    for (size_t j = i + 1; j <= i + name[i]; j++) {
      /* At most 4 bytes per octet, and the dot and NUL after the name. */
      if (cap - o < 6)
        return false;
      uint8_t b = name[j];
      if (b <= 0x20 || b >= 0x7F) {
        out[o++] = '\\';
        out[o++] = (char)('0' + b / 100);
        out[o++] = (char)('0' + b / 10 % 10);
        out[o++] = (char)('0' + b % 10);
      } else {
        if (strchr(".\\\";()@$", b) != NULL)
          out[o++] = '\\';
        out[o++] = (char)b;
      }
    }
    if (o + 1 >= cap)
      return false;
    out[o++] = '.';
  }
  if (o == 0)
    out[o++] = '.'; /* the root */
  out[o] = '\0';
  return true;
}

static void type_name(unsigned t, char *out, size_t cap) {
  static const struct {
    unsigned type;
    const char *name;
  } names[] = {{1, "A"},       {2, "NS"},    {5, "CNAME"}, {6, "SOA"},    {12, "PTR"},
               {13, "HINFO"},  {15, "MX"},   {16, "TXT"},  {28, "AAAA"},  {33, "SRV"},
               {35, "NAPTR"},  {41, "OPT"},  {43, "DS"},   {46, "RRSIG"}, {47, "NSEC"},
               {48, "DNSKEY"}, {52, "TLSA"}, {64, "SVCB"}, {65, "HTTPS"}, {251, "IXFR"},
               {252, "AXFR"},  {255, "ANY"}, {257, "CAA"}};
  for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
    if (names[i].type == t) {
      snprintf(out, cap, "%s", names[i].name);
      return;
    }
  }
  snprintf(out, cap, "TYPE%u", t); /* RFC 3597 5 */
}

static void rcode_name(unsigned r, char *out, size_t cap) {
  static const char *const names[] = {"NOERROR", "FORMERR", "SERVFAIL", "NXDOMAIN",
                                      "NOTIMP",  "REFUSED", "YXDOMAIN", "YXRRSET",
                                      "NXRRSET", "NOTAUTH", "NOTZONE"};
  if (r < sizeof(names) / sizeof(names[0]))
    snprintf(out, cap, "%s", names[r]);
  else if (r == 16)
    snprintf(out, cap, "BADVERS"); /* RFC 6891 9: only an OPT carries it */
  else
    snprintf(out, cap, "RCODE%u", r);
}

int loop_log_decode_reply(const uint8_t *reply, size_t len, loop_log_reply_t *out) {
  dns_reader_t r = dns_reader(reply, len);
  dns_header_t h;
  uint8_t name[DNS_MAX_NAME];
  size_t name_len;
  uint16_t qtype, qclass;

  strcpy(out->qname, "-");
  strcpy(out->qtype, "-");
  strcpy(out->rcode, "-");
  if (!dns_read_header(&r, &h))
    return -1;

  unsigned rcode = dns_flags_rcode(h.flags);
  /* The question is echoed as the client sent it, and dnsortd refuses
   * pointers there, so the name read is the one in the reply. */
  bool question = h.qdcount == 1 && dns_read_name(&r, name, &name_len) == DNS_NAME_OK &&
                  dns_read_be16(&r, &qtype) && dns_read_be16(&r, &qclass) &&
                  present_name(name, name_len, out->qname, sizeof(out->qname));
  if (question) {
    type_name(qtype, out->qtype, sizeof(out->qtype));
    /* RFC 6891 6.1.3: the upper bits sit in the OPT record. */
    rcode = dns_read_rcode(&r, &h);
  } else {
    strcpy(out->qname, "-");
  }
  rcode_name(rcode, out->rcode, sizeof(out->rcode));
  return 0;
}

void loop_log_query(const loop_log_query_t *q, const uint8_t *reply, size_t len) {
  loop_log_reply_t r;
  loop_log_decode_reply(reply, len, &r);
  /* The ID is the reply's first two octets (RFC 1035 4.1.1); "-" for a
   * reply too short to have one. */
  char id[8] = "-", size[24], duration[24];
  if (len >= 2)
    snprintf(id, sizeof(id), "%u", (unsigned)(reply[0] << 8 | reply[1]));
  snprintf(size, sizeof(size), "%zu", len);
  snprintf(duration, sizeof(duration), "%llu", (unsigned long long)q->duration_us);
  loop_log_field_t fields[] = {
      {"proto", q->proto}, {"client", q->client}, {"id", id},
      {"qname", r.qname},  {"qtype", r.qtype},    {"rcode", r.rcode},
      {"size", size},      {"source", q->source}, {"duration_us", duration},
  };
  loop_log_field_t *f = fields;
  size_t n = sizeof(fields) / sizeof(fields[0]);
  if (q->client == NULL) {
    /* No address known (a TCP peer that left before accept finished):
     * leave the field out. */
    fields[1] = fields[0];
    f++;
    n--;
  }
  write_line(LOOP_LOG_INFO, "query", f, n);
}
