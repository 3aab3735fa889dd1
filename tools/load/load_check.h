/* load_check: verification of the replies dnsort-load receives. Pure: no
 * sockets, no libuv; every function takes the reply bytes and what was
 * expected, and returns an enum saying what, if anything, is wrong.
 *
 * Numbers are compared the way dnsortd compares them: a JSON number token
 * without fraction or exponent is an exact int64, every other token a
 * double, and an int64 and a double compare by exact value. */
#ifndef DNSORT_LOAD_CHECK_H
#define DNSORT_LOAD_CHECK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum { LOAD_NUM_INT, LOAD_NUM_DOUBLE } load_num_kind_t;

typedef struct {
  load_num_kind_t kind;
  int64_t i; /* when kind == LOAD_NUM_INT */
  double d;  /* when kind == LOAD_NUM_DOUBLE */
} load_num_t;

/* <0, 0, >0 as a is below, equal to, above b, exactly (no rounding of
 * either side; 9007199254740993 is above 9007199254740992.0). */
int load_num_cmp(const load_num_t *a, const load_num_t *b);

typedef enum {
  LOAD_SCAN_OK = 0,
  LOAD_SCAN_END,    /* load_num_next: the array's closing bracket */
  LOAD_SCAN_SYNTAX, /* not a JSON array of numbers (or cut short) */
  LOAD_SCAN_RANGE,  /* an integer outside int64, or a double overflow */
  LOAD_SCAN_NOMEM,
} load_scan_status_t;

/* An incremental reader of "[n, n, ...]" with any JSON whitespace. */
typedef struct {
  const char *text;
  size_t len;
  size_t pos;
  size_t count; /* numbers returned so far */
} load_num_reader_t;

/* Checks the opening bracket; LOAD_SCAN_SYNTAX if there is none. */
load_scan_status_t load_num_reader_init(load_num_reader_t *r, const char *text, size_t len);

/* The next number (LOAD_SCAN_OK), or LOAD_SCAN_END after the closing
 * bracket when nothing but whitespace follows it. */
load_scan_status_t load_num_next(load_num_reader_t *r, load_num_t *out);

/* The whole array into a malloc'd vector (*out is NULL for an empty
 * array). On failure *err_pos is the byte offset where reading stopped. */
load_scan_status_t load_num_scan_all(const char *text, size_t len, load_num_t **out, size_t *n,
                                     size_t *err_pos);

/* Stable sort by load_num_cmp (dnsortd's gnome sort is stable too).
 * Returns 0, or -1 when the scratch buffer could not be allocated. */
int load_num_sort(load_num_t *v, size_t n);

/* ---- sort replies ---- */

typedef struct {
  const load_num_t *sorted; /* the request's numbers, sorted */
  size_t n;
  /* Optional: the exact expected reply bytes. A reply equal to them is
   * accepted without parsing; any other is judged number by number. */
  const char *bytes;
  size_t bytes_len;
} load_sort_expect_t;

typedef enum {
  LOAD_SORT_OK = 0,
  LOAD_SORT_ERROR_OBJECT,   /* {"error": "..."} */
  LOAD_SORT_EMPTY,          /* the server closed without a byte */
  LOAD_SORT_MALFORMED,      /* neither an array of numbers nor an error
                               object: garbage, truncated, too long */
  LOAD_SORT_UNSORTED,       /* some element is below the one before it */
  LOAD_SORT_WRONG_MULTISET, /* sorted, but not the numbers we sent */
} load_sort_result_t;

load_sort_result_t load_check_sort(const char *reply, size_t len, const load_sort_expect_t *exp);

const char *load_sort_result_name(load_sort_result_t r);

/* ---- DNS replies ---- */

#define LOAD_DNS_HEADER_LEN 12
#define LOAD_DNS_TYPE_A 1
#define LOAD_DNS_TYPE_MX 15
#define LOAD_DNS_TYPE_AAAA 28
#define LOAD_DNS_TYPE_ANY 255
#define LOAD_DNS_CLASS_IN 1

typedef struct {
  uint16_t id;
  /* The question section as sent (QNAME, QTYPE, QCLASS): the reply must
   * echo it byte for byte. */
  const uint8_t *question;
  size_t question_len;
  uint8_t rcode;     /* expected RCODE, 0 for NOERROR */
  bool want_address; /* one A record with `address`; else no answer */
  uint8_t address[4];
} load_dns_expect_t;

typedef enum {
  LOAD_DNS_OK = 0,
  LOAD_DNS_MALFORMED, /* shorter than a header, or a section runs past
                         the end */
  LOAD_DNS_WRONG_ID,
  LOAD_DNS_NOT_RESPONSE,   /* QR = 0, or an opcode other than QUERY */
  LOAD_DNS_TRUNCATED,      /* TC = 1 */
  LOAD_DNS_RCODE,          /* an RCODE other than the expected one */
  LOAD_DNS_WRONG_QUESTION, /* the question is not the one we asked */
  LOAD_DNS_WRONG_ANSWER,   /* missing, extra, or a different address */
} load_dns_result_t;

load_dns_result_t load_check_dns(const uint8_t *pkt, size_t len, const load_dns_expect_t *exp);

const char *load_dns_result_name(load_dns_result_t r);

#endif
