/* The request decoder as it was before the one-pass rewrite (sortsvc/
 * sort_json.c at commit 7d7f29f: cJSON validates, then a scan of the
 * tokens reads the numbers), kept verbatim but for the ref_ prefix as the
 * oracle the new decoder is held to: for every body, the same status, the
 * same message and the same numbers. Test-only (test_sort_json and the
 * sort fuzzer); it needs cJSON. */
#ifndef DNSORT_SORT_JSON_REF_H
#define DNSORT_SORT_JSON_REF_H

#include <cjson/cJSON.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sort_json.h"

/* Error messages quote at most this many bytes of what the client sent, so
 * that a reply or a log line never carries a large or hostile payload. */
#define REF_ECHO_MAX 40
#define REF_ECHO_BUF_LEN (REF_ECHO_MAX + sizeof("..."))

__attribute__((format(printf, 3, 4)))
static void ref_set_err(char *err, size_t errlen, const char *fmt, ...) {
  if (err == NULL || errlen == 0)
    return;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(err, errlen, fmt, ap);
  va_end(ap);
}

/* Copy client text for an error message: printable ASCII only, cut with
 * "..." past REF_ECHO_MAX bytes. */
static void ref_echo_input(char dst[REF_ECHO_BUF_LEN], const char *s, size_t len) {
  size_t n = len > REF_ECHO_MAX ? REF_ECHO_MAX : len;
  for (size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)s[i];
    dst[i] = (c >= 0x20 && c < 0x7f) ? (char)c : '?';
  }
  if (len > REF_ECHO_MAX) {
    memcpy(dst + n, "...", sizeof("..."));
  } else {
    dst[n] = '\0';
  }
}

/* ---- Decoding ---------------------------------------------------------- */

/* Offset of the first byte of the first ill-formed sequence, or len when
 * the text is well-formed UTF-8. The ranges are those of Unicode's table
 * 3-7: they leave out overlong forms (C0, C1, E0 80..9F, F0 80..8F),
 * UTF-16 surrogates (ED A0..BF) and code points past U+10FFFF (F4 90..,
 * F5..FF). cJSON itself copies any byte it finds inside a string. */
static size_t ref_utf8_invalid_at(const unsigned char *s, size_t len) {
  size_t i = 0;
  while (i < len) {
    unsigned char c = s[i];
    if (c < 0x80) {
      i++;
      continue;
    }
    size_t more;
    unsigned char lo = 0x80, hi = 0xbf;  /* range of the second byte */
    if (c >= 0xc2 && c <= 0xdf) {
      more = 1;
    } else if (c == 0xe0) {
      more = 2;
      lo = 0xa0;
    } else if (c == 0xed) {
      more = 2;
      hi = 0x9f;
    } else if (c >= 0xe1 && c <= 0xef) {
      more = 2;
    } else if (c == 0xf0) {
      more = 3;
      lo = 0x90;
    } else if (c == 0xf4) {
      more = 3;
      hi = 0x8f;
    } else if (c >= 0xf1 && c <= 0xf3) {
      more = 3;
    } else {
      return i;
    }
    if (len - i - 1 < more || s[i + 1] < lo || s[i + 1] > hi)
      return i;
    for (size_t k = 2; k <= more; k++) {
      if ((s[i + k] & 0xc0) != 0x80)
        return i;
    }
    i += more + 1;
  }
  return len;
}

static bool ref_is_json_ws(unsigned char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

static bool ref_is_digit(unsigned char c) {
  return c >= '0' && c <= '9';
}

/* The bytes cJSON gathers into a number before it calls strtod. */
static bool ref_is_number_char(unsigned char c) {
  return ref_is_digit(c) || c == '-' || c == '+' || c == '.' || c == 'e' ||
         c == 'E';
}

static const char *ref_json_type_name(const cJSON *item) {
  if (cJSON_IsString(item))
    return "a string";
  if (cJSON_IsArray(item))
    return "an array";
  if (cJSON_IsObject(item))
    return "an object";
  if (cJSON_IsBool(item))
    return "a boolean";
  if (cJSON_IsNull(item))
    return "null";
  if (cJSON_IsNumber(item))
    return "a number";
  return "an unknown value";
}

/* RFC 8259, section 6:
 *
 *   number = [ minus ] int [ frac ] [ exp ]
 *   int    = zero / ( digit1-9 *DIGIT )
 *   frac   = decimal-point 1*DIGIT
 *   exp    = e [ minus / plus ] 1*DIGIT
 *
 * cJSON hands its number text to strtod, which also takes "01", "1." and
 * "1.e5"; this is the check it leaves out. *is_integer tells whether the
 * token has neither frac nor exp, which is what makes it an int for
 * Python's json.loads too. */
static bool ref_number_is_strict(const char *t, size_t n, bool *is_integer) {
  size_t i = 0;
  *is_integer = true;
  if (i < n && t[i] == '-')
    i++;
  if (i < n && t[i] == '0') {
    i++;
  } else if (i < n && t[i] >= '1' && t[i] <= '9') {
    while (i < n && ref_is_digit((unsigned char)t[i]))
      i++;
  } else {
    return false;
  }
  if (i < n && t[i] == '.') {
    *is_integer = false;
    size_t start = ++i;
    while (i < n && ref_is_digit((unsigned char)t[i]))
      i++;
    if (i == start)
      return false;
  }
  if (i < n && (t[i] == 'e' || t[i] == 'E')) {
    *is_integer = false;
    i++;
    if (i < n && (t[i] == '+' || t[i] == '-'))
      i++;
    size_t start = i;
    while (i < n && ref_is_digit((unsigned char)t[i]))
      i++;
    if (i == start)
      return false;
  }
  return i == n;
}

/* t is a strict JSON integer. The magnitude is built in uint64_t against a
 * limit of 2^63 for negatives, so INT64_MIN parses while the check before
 * each step keeps the arithmetic from ever wrapping. */
static bool ref_int64_from_text(const char *t, size_t n, int64_t *out) {
  bool neg = t[0] == '-';
  uint64_t limit = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
  uint64_t mag = 0;
  for (size_t i = neg ? 1 : 0; i < n; i++) {
    unsigned d = (unsigned)(t[i] - '0');
    if (mag > (limit - d) / 10)
      return false;
    mag = mag * 10 + d;
  }
  if (!neg)
    *out = (int64_t)mag;
  else if (mag == limit)
    *out = INT64_MIN;
  else
    *out = -(int64_t)mag;
  return true;
}

/* t is a strict JSON number with a fraction or an exponent. strtod reads
 * the decimal point of LC_NUMERIC; the server never calls setlocale, so
 * that is the "C" locale's '.', which JSON uses too. The body is not
 * NUL-terminated, hence the copy. */
static sort_json_status_t ref_double_from_text(const char *t, size_t n,
                                           double *out) {
  char small[64];
  char *buf = small;
  if (n >= sizeof(small)) {
    buf = malloc(n + 1);
    if (buf == NULL)
      return SORT_JSON_NOMEM;
  }
  memcpy(buf, t, n);
  buf[n] = '\0';
  char *end;
  *out = strtod(buf, &end);
  bool whole = end == buf + n;
  if (buf != small)
    free(buf);
  return whole ? SORT_JSON_OK : SORT_JSON_INVALID;
}

static sort_json_status_t ref_read_number(const char *t, size_t n, size_t index,
                                      sort_num_t *out, char *err,
                                      size_t errlen) {
  char echo[REF_ECHO_BUF_LEN];
  bool is_integer;
  if (!ref_number_is_strict(t, n, &is_integer)) {
    ref_echo_input(echo, t, n);
    ref_set_err(err, errlen, "invalid number \"%s\" (element %zu)", echo, index);
    return SORT_JSON_INVALID;
  }
  if (is_integer) {
    out->is_int = true;
    if (!ref_int64_from_text(t, n, &out->v.i)) {
      ref_echo_input(echo, t, n);
      ref_set_err(err, errlen,
              "integer %s is out of the 64-bit range (element %zu)", echo,
              index);
      return SORT_JSON_OUT_OF_RANGE;
    }
    return SORT_JSON_OK;
  }
  out->is_int = false;
  sort_json_status_t status = ref_double_from_text(t, n, &out->v.d);
  if (status == SORT_JSON_NOMEM) {
    ref_set_err(err, errlen, "out of memory");
    return status;
  }
  if (status != SORT_JSON_OK) {
    ref_echo_input(echo, t, n);
    ref_set_err(err, errlen, "invalid number \"%s\" (element %zu)", echo, index);
    return status;
  }
  /* Python would read 1e999 as inf and then write the non-JSON Infinity;
   * refusing it keeps every reply valid JSON. Underflow to 0 or to a
   * subnormal is fine: that is the nearest double, as in Python. */
  if (!isfinite(out->v.d)) {
    ref_echo_input(echo, t, n);
    ref_set_err(err, errlen,
            "number %s is out of the double range (element %zu)", echo, index);
    return SORT_JSON_OUT_OF_RANGE;
  }
  return SORT_JSON_OK;
}

/* A read position in the body that never goes past its end. */
typedef struct {
  const char *text;
  size_t len;
  size_t pos;
} ref_scan_t;

static int ref_scan_peek(const ref_scan_t *sc) {
  return sc->pos < sc->len ? (unsigned char)sc->text[sc->pos] : -1;
}

static void ref_scan_skip_ws(ref_scan_t *sc) {
  while (sc->pos < sc->len && ref_is_json_ws((unsigned char)sc->text[sc->pos]))
    sc->pos++;
}

static size_t ref_scan_number_run(const ref_scan_t *sc) {
  size_t end = sc->pos;
  while (end < sc->len && ref_is_number_char((unsigned char)sc->text[end]))
    end++;
  return end - sc->pos;
}

/* Reached through cJSON's leniency (it counts every byte up to 0x20, NUL
 * and form feed included, as whitespace; JSON only four of them), or
 * should the two passes ever disagree on the element count. */
static sort_json_status_t ref_scan_unexpected(const ref_scan_t *sc, char *err,
                                          size_t errlen) {
  int c = ref_scan_peek(sc);
  if (c < 0)
    ref_set_err(err, errlen, "invalid JSON: unexpected end at offset %zu",
            sc->pos);
  else
    ref_set_err(err, errlen, "invalid JSON: unexpected byte 0x%02x at offset %zu",
            (unsigned)c, sc->pos);
  return SORT_JSON_INVALID;
}

/* Second pass over a body that cJSON accepted as an array of count
 * numbers, so its shape is known:
 *
 *   [BOM] ws "[" ws [ number ws *( "," ws number ws ) ] "]" ws
 *
 * cJSON keeps only a double per number, which rounds integers past 2^53;
 * reading the tokens here keeps them exact and holds them to RFC 8259.
 * Anything off that shape is still refused rather than trusted. */
static sort_json_status_t ref_scan_numbers(const char *body, size_t len,
                                       sort_num_t *nums, size_t count,
                                       char *err, size_t errlen) {
  ref_scan_t sc = {body, len, 0};
  /* cJSON skips a UTF-8 byte order mark, as json.loads does for bytes. */
  if (len >= 3 && memcmp(body, "\xef\xbb\xbf", 3) == 0)
    sc.pos = 3;
  ref_scan_skip_ws(&sc);
  if (ref_scan_peek(&sc) != '[')
    return ref_scan_unexpected(&sc, err, errlen);
  sc.pos++;
  ref_scan_skip_ws(&sc);
  if (ref_scan_peek(&sc) == ']')
    return count == 0 ? SORT_JSON_OK : ref_scan_unexpected(&sc, err, errlen);
  for (size_t k = 0;; k++) {
    size_t tok_len = ref_scan_number_run(&sc);
    if (tok_len == 0 || k == count)
      return ref_scan_unexpected(&sc, err, errlen);
    sort_json_status_t status =
        ref_read_number(body + sc.pos, tok_len, k, &nums[k], err, errlen);
    if (status != SORT_JSON_OK)
      return status;
    sc.pos += tok_len;
    ref_scan_skip_ws(&sc);
    int c = ref_scan_peek(&sc);
    if (c == ']')
      return k + 1 == count ? SORT_JSON_OK : ref_scan_unexpected(&sc, err, errlen);
    if (c != ',')
      return ref_scan_unexpected(&sc, err, errlen);
    sc.pos++;
    ref_scan_skip_ws(&sc);
  }
}

/* Commas, plus '[' and '{' after the first one, outside strings. For a
 * flat array of N numbers this is N - 1; nesting only makes it larger. */
static size_t ref_count_separators(const char *body, size_t len) {
  size_t count = 0;
  bool in_string = false, seen_open = false;
  for (size_t i = 0; i < len; i++) {
    char c = body[i];
    if (in_string) {
      if (c == '\\')
        i++;
      else if (c == '"')
        in_string = false;
    } else if (c == '"') {
      in_string = true;
    } else if (c == ',') {
      count++;
    } else if (c == '[' || c == '{') {
      if (seen_open)
        count++;
      seen_open = true;
    }
  }
  return count;
}

static sort_json_status_t ref_sort_json_decode(const char *body, size_t len,
                                               size_t max_elements,
                                               sort_num_t **out, size_t *n,
                                               char *err, size_t errlen) {
  sort_json_status_t status = SORT_JSON_OK;
  cJSON *root = NULL;
  sort_num_t *nums = NULL;
  size_t count = 0;

  *out = NULL;
  *n = 0;
  if (err != NULL && errlen > 0)
    err[0] = '\0';

  if (len == 0) {
    ref_set_err(err, errlen, "empty request");
    return SORT_JSON_EMPTY;
  }

  size_t bad = ref_utf8_invalid_at((const unsigned char *)body, len);
  if (bad < len) {
    ref_set_err(err, errlen, "the request is not valid UTF-8 (at offset %zu)",
            bad);
    return SORT_JSON_NOT_UTF8;
  }

  /* cJSON's tree costs some 64-80 bytes per value, about 40 times the
   * body, and it is built before the elements can be counted. Count first
   * (commas and nested brackets outside strings: an upper bound on values),
   * so memory stays proportional to max_elements, not to the body. */
  size_t separators = ref_count_separators(body, len);
  if (separators > 0 && separators >= max_elements) {
    ref_set_err(err, errlen, "too many elements: %zu > limit %zu",
            separators + 1, max_elements);
    return SORT_JSON_TOO_MANY;
  }

  /* cJSON stops at the end of the first value and would accept "[1] x";
   * the rest must be whitespace. Its nesting limit (CJSON_NESTING_LIMIT)
   * turns "[[[[..." into a parse error instead of a deep recursion. A
   * failed allocation inside cJSON also comes back as NULL, so under
   * memory pressure a good body may be reported as invalid. */
  const char *end = NULL;
  root = cJSON_ParseWithLengthOpts(body, len, &end, 0);
  if (root == NULL) {
    size_t at = end != NULL ? (size_t)(end - body) : 0;
    ref_set_err(err, errlen, "invalid JSON near offset %zu", at);
    status = SORT_JSON_INVALID;
    goto done;
  }
  for (size_t i = (size_t)(end - body); i < len; i++) {
    if (!ref_is_json_ws((unsigned char)body[i])) {
      ref_set_err(err, errlen, "invalid JSON: unexpected data after the value "
              "at offset %zu", i);
      status = SORT_JSON_INVALID;
      goto done;
    }
  }
  if (!cJSON_IsArray(root)) {
    ref_set_err(err, errlen, "the request is %s, not an array of numbers",
            ref_json_type_name(root));
    status = SORT_JSON_NOT_ARRAY;
    goto done;
  }
  for (const cJSON *item = root->child; item != NULL; item = item->next) {
    if (!cJSON_IsNumber(item)) {
      ref_set_err(err, errlen, "element %zu is %s, not a number", count,
              ref_json_type_name(item));
      status = SORT_JSON_NOT_NUMBER;
      goto done;
    }
    count++;
  }
  if (count > max_elements) {
    ref_set_err(err, errlen, "too many elements: %zu > limit %zu", count,
            max_elements);
    status = SORT_JSON_TOO_MANY;
    goto done;
  }
  /* The tree costs far more than the numbers; drop it before they are
   * allocated to keep the peak down. */
  cJSON_Delete(root);
  root = NULL;

  if (count > 0) {
    if (count > SIZE_MAX / sizeof(*nums)) {
      status = SORT_JSON_NOMEM;
    } else {
      nums = malloc(count * sizeof(*nums));
      if (nums == NULL)
        status = SORT_JSON_NOMEM;
    }
    if (status == SORT_JSON_NOMEM) {
      ref_set_err(err, errlen, "out of memory");
      goto done;
    }
  }
  status = ref_scan_numbers(body, len, nums, count, err, errlen);
  if (status != SORT_JSON_OK)
    goto done;
  *out = nums;
  *n = count;
  nums = NULL;

done:
  cJSON_Delete(root);
  free(nums);
  return status;
}

/* ---- Python's float repr, stated with glibc's printf and strtod -------- */

/* A decimal as its significant digits (no leading or trailing zeros) and
 * the power of ten of the first one. */
typedef struct {
  char digits[400];
  int n;
  int exp10;
} ref_decimal_t;

/* Reads "-1.25e+03", "0.001", "100.0" and the like. */
static void ref_decimal_parse(const char *t, size_t len, ref_decimal_t *d) {
  int point = -1, count = 0, exp = 0;
  size_t i = 0;
  d->n = 0;
  d->exp10 = 0;
  if (i < len && (t[i] == '-' || t[i] == '+'))
    i++;
  int lead = 0;  /* digits before the first non-zero one */
  for (; i < len && t[i] != 'e' && t[i] != 'E'; i++) {
    if (t[i] == '.') {
      point = count;
      continue;
    }
    if (d->n == 0 && t[i] == '0') {
      lead++;
    } else if (d->n < (int)sizeof(d->digits)) {
      d->digits[d->n++] = t[i];
    }
    count++;
  }
  if (i < len)
    exp = atoi(t + i + 1);
  if (point < 0)
    point = count;
  while (d->n > 0 && d->digits[d->n - 1] == '0')
    d->n--;
  d->exp10 = point - lead - 1 + exp;
}

static bool ref_decimal_equal(const ref_decimal_t *a, const ref_decimal_t *b) {
  return a->n == b->n && a->exp10 == b->exp10 &&
         memcmp(a->digits, b->digits, (size_t)a->n) == 0;
}

/* x (> 0) rounded to p significant digits by glibc; when up, the next
 * p-digit decimal above that. */
static void ref_rounded(double x, int p, bool up, ref_decimal_t *d) {
  char buf[64];
  snprintf(buf, sizeof(buf), "%.*e", p - 1, x);
  if (up) {
    /* Add one in the last of the p digits: carry through the nines. */
    char *e = strchr(buf, 'e');
    char *q = e - 1;
    for (;; q--) {
      if (*q == '.')
        continue;
      if (*q != '9') {
        (*q)++;
        break;
      }
      *q = '0';
      if (q == buf) {
        /* 9.99e5 + 1 = 10.00e5: one more digit in front. */
        memmove(buf + 1, buf, strlen(buf) + 1);
        buf[0] = '1';
        break;
      }
    }
  }
  ref_decimal_parse(buf, strlen(buf), d);
}

static bool ref_reads_back(const ref_decimal_t *d, double x) {
  char buf[512];
  snprintf(buf, sizeof(buf), "%.*se%d", d->n, d->digits,
           d->exp10 - (d->n - 1));
  return strtod(buf, NULL) == x;
}

/* The p-digit decimal that reads back as x and is nearest to it, if any:
 * glibc's correctly rounded one, or for a power of two (whose rounding
 * interval is narrower below) the next one up. */
static bool ref_at_precision(double x, int p, ref_decimal_t *d) {
  int e2;
  ref_rounded(x, p, false, d);
  if (ref_reads_back(d, x))
    return true;
  if (frexp(x, &e2) != 0.5)
    return false;
  ref_rounded(x, p, true, d);
  return ref_reads_back(d, x);
}

/* Is text what Python's repr(x) would print, digit for digit: the fewest
 * digits that read back as x, and of those the nearest? (The layout,
 * "1e-05" against "0.0001", is pinned by test_sort_json's table.) */
static bool ref_is_shortest_repr(const char *text, size_t len, double x) {
  char buf[64];
  if (len >= sizeof(buf))
    return false;
  memcpy(buf, text, len);
  buf[len] = '\0';
  double back = strtod(buf, NULL);
  if (memcmp(&back, &x, sizeof(x)) != 0)
    return false;
  if (x == 0)
    return strcmp(buf, signbit(x) ? "-0.0" : "0.0") == 0;
  double a = fabs(x);
  ref_decimal_t got, want;
  ref_decimal_parse(buf, len, &got);
  if (!ref_at_precision(a, got.n, &want) || !ref_decimal_equal(&got, &want))
    return false;
  return got.n == 1 || !ref_at_precision(a, got.n - 1, &want);
}

#endif
