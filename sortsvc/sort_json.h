/* sort_json: decoding a request body and encoding replies. The body must be
 * UTF-8 JSON (RFC 8259) holding one array of numbers. One pass reads it,
 * holds it to RFC 8259's grammar, and writes each value exactly (int64 kept
 * as int64) straight into the array of its kind; only a body it refuses is
 * looked at again, to say what is wrong. Replies use Python json.dumps'
 * format, the seed's: "[1, 2, 3]", floats as Python's repr (shortest
 * round-trip: 0.1, 1e+308, 5e-324, 1.0). */
#ifndef DNSORT_SORT_JSON_H
#define DNSORT_SORT_JSON_H

#include <stddef.h>

#include "sort_num.h"

typedef enum {
  SORT_JSON_OK = 0,
  SORT_JSON_EMPTY, /* zero-length body */
  SORT_JSON_NOT_UTF8,
  SORT_JSON_INVALID,    /* not JSON at all, or trailing garbage */
  SORT_JSON_NOT_ARRAY,  /* valid JSON, but the top level is no array */
  SORT_JSON_NOT_NUMBER, /* an element is a string, array, object, bool, null */
  SORT_JSON_OUT_OF_RANGE, /* a number overflows a double, or an integer int64 */
  SORT_JSON_TOO_MANY,     /* more elements than max_elements */
  SORT_JSON_NOMEM,
} sort_json_status_t;

/* Decode body[0..len). On OK, *out holds the numbers (the caller releases
 * them with sort_nums_free): kind SORT_KIND_INT when all are integers,
 * SORT_KIND_DOUBLE when none is, SORT_KIND_MIXED otherwise (INT for "[]"),
 * in memory for at most max_elements of them whatever the body's size. On
 * error, *out is empty (n == 0, v NULL) and err (if not NULL) receives a
 * clear one-line message for the client, e.g. "element 3 is a string, not
 * a number". Element indexes and byte offsets in messages count from 0, and
 * no message quotes more than 40 bytes of the body. A number without '.',
 * 'e' or 'E' becomes an int64 (as json.loads makes it an int; "-0" is 0),
 * any other a double. max_elements is inclusive; 0 admits only "[]". A
 * leading UTF-8 byte order mark is skipped, as json.loads does for bytes. */
sort_json_status_t sort_json_decode(const char *body, size_t len,
                                    size_t max_elements, sort_nums_t *out,
                                    char *err, size_t errlen);

/* Encode numbers as "[a, b, c]". Returns a malloc'd buffer (not
 * NUL-terminated; *len set) or NULL on out of memory. Integers are written
 * exactly, doubles exactly as Python 3's repr writes them. */
char *sort_json_encode(const sort_nums_t *nums, size_t *len);

/* Encode {"error": "<msg>"} with msg JSON-escaped. malloc'd, *len set.
 * Control characters are escaped as json.dumps does; bytes from 0x80 up
 * are copied, so msg should be ASCII or UTF-8. */
char *sort_json_error(const char *msg, size_t *len);

#endif
