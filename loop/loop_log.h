/* loop_log: one line per event on stderr, filtered by a process-wide level
 * and written in a process-wide format (text or JSON), both set once by
 * main() before the loop starts.
 *
 * text:  2026-01-02T03:04:05.678Z dnsortd info: message key=value ...
 * json:  {"ts":"2026-01-02T03:04:05.678Z","level":"info","msg":"message","key":"value"}
 *
 * The line building, the JSON escaping and the decoding of a DNS reply
 * for the per-query log are pure functions, unit-tested on their own. */
#ifndef DNSORT_LOOP_LOG_H
#define DNSORT_LOOP_LOG_H

#include <stddef.h>
#include <stdint.h>

typedef enum {
  LOOP_LOG_ERROR = 0,
  LOOP_LOG_WARN,
  LOOP_LOG_INFO,
  LOOP_LOG_DEBUG,
} loop_log_level_t;

typedef enum {
  LOOP_LOG_TEXT = 0,
  LOOP_LOG_JSON,
} loop_log_format_t;

void loop_log_set_level(loop_log_level_t level);
int loop_log_enabled(loop_log_level_t level);
void loop_log_set_format(loop_log_format_t format);

/* Parse "error", "warn", "info", "debug". Returns 0 or -1. */
int loop_log_parse_level(const char *text, loop_log_level_t *out);

/* Parse "text", "json". Returns 0 or -1. */
int loop_log_parse_format(const char *text, loop_log_format_t *out);

#if defined(__GNUC__)
__attribute__((format(printf, 2, 3)))
#endif
void loop_log(loop_log_level_t level, const char *fmt, ...);

/* A message with named values: " key=value" after it in text (quoted when
 * the value has a space, a quote, an '=' or a control character), members
 * of the object in JSON. */
typedef struct {
  const char *key;
  const char *value;
} loop_log_field_t;

void loop_log_fields(loop_log_level_t level, const char *msg, const loop_log_field_t *fields,
                     size_t n_fields);

/* A start-up failure, whatever the level: "dnsortd: MESSAGE" in text (the
 * wording scripts and tests match), an error object in JSON. */
#if defined(__GNUC__)
__attribute__((format(printf, 1, 2)))
#endif
void loop_log_startup_error(const char *fmt, ...);

/* The line loop_log and loop_log_fields write, into out[0..cap) with cap
 * at least 64: stamp is the time in ISO 8601. Ends with '\n' (no NUL);
 * returns its length. A message too long for cap is cut, and a JSON line
 * stays one valid object. */
size_t loop_log_format_line(char *out, size_t cap, loop_log_format_t format, const char *stamp,
                            loop_log_level_t level, const char *msg, const loop_log_field_t *fields,
                            size_t n_fields);

/* ---- warnings that may come in floods ---- */

/* At most one line per LOOP_LOG_LIMIT_INTERVAL_MS for one kind of event
 * (a dead upstream, sorts refused busy, connections shed); the events
 * skipped meanwhile are counted and reported on the next line that goes
 * out. Pure: the caller passes the clock (the loop's cached time), so the
 * limiter is tested without sleeping. */
#define LOOP_LOG_LIMIT_INTERVAL_MS 1000

typedef struct {
  uint64_t last_ms;    /* when the last line went out */
  uint64_t suppressed; /* events since then that wrote nothing */
  int started;         /* a line has gone out */
} loop_log_limit_t;

/* 1: write a line now, and *suppressed is how many were skipped since
 * the last one (the count starts again); 0: skip it (counted). */
int loop_log_limit_pass(loop_log_limit_t *l, uint64_t now_ms, uint64_t *suppressed);

/* msg through the limiter: a line at level, ending in " (N more
 * suppressed)" when some were skipped. */
void loop_log_limited(loop_log_limit_t *l, uint64_t now_ms, loop_log_level_t level,
                      const char *msg);

/* ---- the per-query log (--log-queries) ---- */

/* A name of 255 octets, every octet escaped as \DDD, plus the dots. */
#define LOOP_LOG_QNAME_MAX 1088

typedef struct {
  char qname[LOOP_LOG_QNAME_MAX]; /* presentation form: "www.example.", "." */
  char qtype[16];                 /* "A", "AAAA", "TYPE65280"; "-": none */
  char rcode[16];                 /* "NOERROR", "BADVERS", "RCODE12" */
} loop_log_reply_t;

/* Read the question and response code back from a reply we are about to
 * send. The name is in presentation form (RFC 1035 5.1): '.', '\\', '"',
 * ';', '(', ')', '@', '$' escaped with a backslash, any byte outside
 * '!'..'~' as \DDD, case as the client sent it. The rcode includes the
 * OPT record's extended bits (BADVERS). A reply without a question (or
 * with one that cannot be read) gives "-" for the name and type. Returns 0,
 * or -1 (all three "-") for less than a header. */
int loop_log_decode_reply(const uint8_t *reply, size_t len, loop_log_reply_t *out);

/* What the DNS handlers know of a reply beyond its bytes. */
typedef struct {
  const char *proto;    /* "udp", "tcp" */
  const char *client;   /* "127.0.0.1:5353"; NULL: left out */
  uint64_t duration_us; /* from the query's receipt to the reply */
  const char *source;   /* "map", "cache", "upstream", "policy" */
} loop_log_query_t;

/* One info line for an answered query: proto, client, id, qname, qtype,
 * rcode, size (the reply's bytes), source, duration_us. Written whatever
 * the level: --log-queries is its own switch. */
void loop_log_query(const loop_log_query_t *q, const uint8_t *reply, size_t len);

#endif
