#include "sort_json.h"

#include <cjson/cJSON.h>
#include <float.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Error messages quote at most this many bytes of what the client sent, so
 * that a reply or a log line never carries a large or hostile payload. */
#define ECHO_MAX 40
#define ECHO_BUF_LEN (ECHO_MAX + sizeof("..."))

/* Room for one encoded number. The longest are "-1.2345678901234567e-308"
 * (24), "-0.00012345678901234567" (23) and "-9223372036854775808" (20). */
#define NUM_TEXT_MAX 32
#define SEP_LEN 2  /* ", " between elements, as json.dumps writes it */

__attribute__((format(printf, 3, 4)))
static void set_err(char *err, size_t errlen, const char *fmt, ...) {
  if (err == NULL || errlen == 0)
    return;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(err, errlen, fmt, ap);
  va_end(ap);
}

/* Copy client text for an error message: printable ASCII only, cut with
 * "..." past ECHO_MAX bytes. */
static void echo_input(char dst[ECHO_BUF_LEN], const char *s, size_t len) {
  size_t n = len > ECHO_MAX ? ECHO_MAX : len;
  for (size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)s[i];
    dst[i] = (c >= 0x20 && c < 0x7f) ? (char)c : '?';
  }
  if (len > ECHO_MAX) {
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
static size_t utf8_invalid_at(const unsigned char *s, size_t len) {
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

static bool is_json_ws(unsigned char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

static bool is_digit(unsigned char c) {
  return c >= '0' && c <= '9';
}

/* The bytes cJSON gathers into a number before it calls strtod. */
static bool is_number_char(unsigned char c) {
  return is_digit(c) || c == '-' || c == '+' || c == '.' || c == 'e' ||
         c == 'E';
}

static const char *json_type_name(const cJSON *item) {
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
static bool number_is_strict(const char *t, size_t n, bool *is_integer) {
  size_t i = 0;
  *is_integer = true;
  if (i < n && t[i] == '-')
    i++;
  if (i < n && t[i] == '0') {
    i++;
  } else if (i < n && t[i] >= '1' && t[i] <= '9') {
    while (i < n && is_digit((unsigned char)t[i]))
      i++;
  } else {
    return false;
  }
  if (i < n && t[i] == '.') {
    *is_integer = false;
    size_t start = ++i;
    while (i < n && is_digit((unsigned char)t[i]))
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
    while (i < n && is_digit((unsigned char)t[i]))
      i++;
    if (i == start)
      return false;
  }
  return i == n;
}

/* t is a strict JSON integer. The magnitude is built in uint64_t against a
 * limit of 2^63 for negatives, so INT64_MIN parses while the check before
 * each step keeps the arithmetic from ever wrapping. */
static bool int64_from_text(const char *t, size_t n, int64_t *out) {
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
static sort_json_status_t double_from_text(const char *t, size_t n,
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

static sort_json_status_t read_number(const char *t, size_t n, size_t index,
                                      sort_num_t *out, char *err,
                                      size_t errlen) {
  char echo[ECHO_BUF_LEN];
  bool is_integer;
  if (!number_is_strict(t, n, &is_integer)) {
    echo_input(echo, t, n);
    set_err(err, errlen, "invalid number \"%s\" (element %zu)", echo, index);
    return SORT_JSON_INVALID;
  }
  if (is_integer) {
    out->is_int = true;
    if (!int64_from_text(t, n, &out->v.i)) {
      echo_input(echo, t, n);
      set_err(err, errlen,
              "integer %s is out of the 64-bit range (element %zu)", echo,
              index);
      return SORT_JSON_OUT_OF_RANGE;
    }
    return SORT_JSON_OK;
  }
  out->is_int = false;
  sort_json_status_t status = double_from_text(t, n, &out->v.d);
  if (status == SORT_JSON_NOMEM) {
    set_err(err, errlen, "out of memory");
    return status;
  }
  if (status != SORT_JSON_OK) {
    echo_input(echo, t, n);
    set_err(err, errlen, "invalid number \"%s\" (element %zu)", echo, index);
    return status;
  }
  /* Python would read 1e999 as inf and then write the non-JSON Infinity;
   * refusing it keeps every reply valid JSON. Underflow to 0 or to a
   * subnormal is fine: that is the nearest double, as in Python. */
  if (!isfinite(out->v.d)) {
    echo_input(echo, t, n);
    set_err(err, errlen,
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
} scan_t;

static int scan_peek(const scan_t *sc) {
  return sc->pos < sc->len ? (unsigned char)sc->text[sc->pos] : -1;
}

static void scan_skip_ws(scan_t *sc) {
  while (sc->pos < sc->len && is_json_ws((unsigned char)sc->text[sc->pos]))
    sc->pos++;
}

static size_t scan_number_run(const scan_t *sc) {
  size_t end = sc->pos;
  while (end < sc->len && is_number_char((unsigned char)sc->text[end]))
    end++;
  return end - sc->pos;
}

/* Reached through cJSON's leniency (it counts every byte up to 0x20, NUL
 * and form feed included, as whitespace; JSON only four of them), or
 * should the two passes ever disagree on the element count. */
static sort_json_status_t scan_unexpected(const scan_t *sc, char *err,
                                          size_t errlen) {
  int c = scan_peek(sc);
  if (c < 0)
    set_err(err, errlen, "invalid JSON: unexpected end at offset %zu",
            sc->pos);
  else
    set_err(err, errlen, "invalid JSON: unexpected byte 0x%02x at offset %zu",
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
static sort_json_status_t scan_numbers(const char *body, size_t len,
                                       sort_num_t *nums, size_t count,
                                       char *err, size_t errlen) {
  scan_t sc = {body, len, 0};
  /* cJSON skips a UTF-8 byte order mark, as json.loads does for bytes. */
  if (len >= 3 && memcmp(body, "\xef\xbb\xbf", 3) == 0)
    sc.pos = 3;
  scan_skip_ws(&sc);
  if (scan_peek(&sc) != '[')
    return scan_unexpected(&sc, err, errlen);
  sc.pos++;
  scan_skip_ws(&sc);
  if (scan_peek(&sc) == ']')
    return count == 0 ? SORT_JSON_OK : scan_unexpected(&sc, err, errlen);
  for (size_t k = 0;; k++) {
    size_t tok_len = scan_number_run(&sc);
    if (tok_len == 0 || k == count)
      return scan_unexpected(&sc, err, errlen);
    sort_json_status_t status =
        read_number(body + sc.pos, tok_len, k, &nums[k], err, errlen);
    if (status != SORT_JSON_OK)
      return status;
    sc.pos += tok_len;
    scan_skip_ws(&sc);
    int c = scan_peek(&sc);
    if (c == ']')
      return k + 1 == count ? SORT_JSON_OK : scan_unexpected(&sc, err, errlen);
    if (c != ',')
      return scan_unexpected(&sc, err, errlen);
    sc.pos++;
    scan_skip_ws(&sc);
  }
}

/* Commas, plus '[' and '{' after the first one, outside strings. For a
 * flat array of N numbers this is N - 1; nesting only makes it larger. */
static size_t count_separators(const char *body, size_t len) {
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

sort_json_status_t sort_json_decode(const char *body, size_t len,
                                    size_t max_elements, sort_num_t **out,
                                    size_t *n, char *err, size_t errlen) {
  sort_json_status_t status = SORT_JSON_OK;
  cJSON *root = NULL;
  sort_num_t *nums = NULL;
  size_t count = 0;

  *out = NULL;
  *n = 0;
  if (err != NULL && errlen > 0)
    err[0] = '\0';

  if (len == 0) {
    set_err(err, errlen, "empty request");
    return SORT_JSON_EMPTY;
  }

  size_t bad = utf8_invalid_at((const unsigned char *)body, len);
  if (bad < len) {
    set_err(err, errlen, "the request is not valid UTF-8 (at offset %zu)",
            bad);
    return SORT_JSON_NOT_UTF8;
  }

  /* cJSON's tree costs some 64-80 bytes per value, about 40 times the
   * body, and it is built before the elements can be counted. Count first
   * (commas and nested brackets outside strings: an upper bound on values),
   * so memory stays proportional to max_elements, not to the body. */
  size_t separators = count_separators(body, len);
  if (separators > 0 && separators >= max_elements) {
    set_err(err, errlen, "too many elements: %zu > limit %zu",
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
    set_err(err, errlen, "invalid JSON near offset %zu", at);
    status = SORT_JSON_INVALID;
    goto done;
  }
  for (size_t i = (size_t)(end - body); i < len; i++) {
    if (!is_json_ws((unsigned char)body[i])) {
      set_err(err, errlen, "invalid JSON: unexpected data after the value "
              "at offset %zu", i);
      status = SORT_JSON_INVALID;
      goto done;
    }
  }
  if (!cJSON_IsArray(root)) {
    set_err(err, errlen, "the request is %s, not an array of numbers",
            json_type_name(root));
    status = SORT_JSON_NOT_ARRAY;
    goto done;
  }
  for (const cJSON *item = root->child; item != NULL; item = item->next) {
    if (!cJSON_IsNumber(item)) {
      set_err(err, errlen, "element %zu is %s, not a number", count,
              json_type_name(item));
      status = SORT_JSON_NOT_NUMBER;
      goto done;
    }
    count++;
  }
  if (count > max_elements) {
    set_err(err, errlen, "too many elements: %zu > limit %zu", count,
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
      set_err(err, errlen, "out of memory");
      goto done;
    }
  }
  status = scan_numbers(body, len, nums, count, err, errlen);
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

/* ---- Encoding ---------------------------------------------------------- */

/* A positive decimal: digits d0 d1 ... d(ndigits-1) meaning
 * d0.d1d2... x 10^exp10. */
typedef struct {
  char digits[DBL_DECIMAL_DIG];
  int ndigits;
  int exp10;
} decimal_t;

/* Reads snprintf's "%.*e" output. Only the digits are kept, so whatever
 * the locale's decimal point is does not matter. */
static void decimal_from_e(const char *s, decimal_t *dec) {
  int k = 0;
  for (; *s != 'e' && *s != '\0'; s++) {
    if (is_digit((unsigned char)*s) && k < DBL_DECIMAL_DIG)
      dec->digits[k++] = *s;
  }
  dec->ndigits = k;
  dec->exp10 = *s == 'e' ? (int)strtol(s + 1, NULL, 10) : 0;
}

/* Writes the digits as an integer with a shifted exponent ("15e-1"), which
 * needs no decimal point and so no locale. */
static bool decimal_reads_back(const decimal_t *dec, double a) {
  char buf[48];
  snprintf(buf, sizeof(buf), "%.*se%d", dec->ndigits, dec->digits,
           dec->exp10 - (dec->ndigits - 1));
  return strtod(buf, NULL) == a;
}

/* The next decimal up with the same number of digits. */
static void decimal_increment(decimal_t *dec) {
  int i = dec->ndigits - 1;
  while (i >= 0 && dec->digits[i] == '9')
    dec->digits[i--] = '0';
  if (i >= 0) {
    dec->digits[i]++;
  } else {
    dec->digits[0] = '1';
    dec->exp10++;
  }
}

/* The nearest decimal of prec digits to a, from full, a's 17 correctly
 * rounded digits. Rounding those again is exact except when their tail is
 * exactly 5 followed by zeros: then a lies on a tie, or so close to one
 * that the first rounding may have crossed it, and only a fresh rounding
 * of a's exact value (snprintf's, ties to even as in Python's dtoa) can
 * tell which side wins. Anywhere else both roundings agree, since the
 * 17-digit rounding of a never jumps over a 17-digit number. */
static void decimal_round(const decimal_t *full, double a, int prec,
                          decimal_t *out) {
  *out = *full;
  if (prec >= full->ndigits)
    return;
  out->ndigits = prec;
  bool tie = full->digits[prec] == '5';
  for (int i = prec + 1; tie && i < full->ndigits; i++)
    tie = full->digits[i] == '0';
  if (tie) {
    char buf[48];
    snprintf(buf, sizeof(buf), "%.*e", prec - 1, a);
    decimal_from_e(buf, out);
  } else if (full->digits[prec] >= '5') {
    decimal_increment(out);
  }
}

/* Is there a decimal of prec significant digits that reads back as a? If
 * so, *dec is the nearest such one to a. The nearest candidate overall is
 * tried first; when it fails, the only other hope is the one on the far
 * side of a, and only when a's lower neighbour is closer than its upper
 * one, that is when a's significand is a power of two: the rounding
 * interval is narrower below a than above. */
static bool decimal_at_precision(const decimal_t *full, double a, int prec,
                                 bool pow2, decimal_t *dec) {
  decimal_round(full, a, prec, dec);
  if (decimal_reads_back(dec, a))
    return true;
  if (!pow2)
    return false;
  decimal_t up = *dec;
  decimal_increment(&up);
  if (!decimal_reads_back(&up, a))
    return false;
  *dec = up;
  return true;
}

/* The shortest decimal that reads back as a (finite, > 0), nearest to a
 * among those: what Python's repr prints. A precision that works keeps
 * working with more digits, so a binary search over 1..17 finds the least
 * in at most five tries. */
static void shortest_decimal(double a, decimal_t *best) {
  char buf[48];
  int e2;
  bool pow2 = frexp(a, &e2) == 0.5;
  int lo = 1, hi = DBL_DECIMAL_DIG;
  /* Seventeen digits always read back, so they need no check. */
  snprintf(buf, sizeof(buf), "%.*e", DBL_DECIMAL_DIG - 1, a);
  decimal_t full;
  decimal_from_e(buf, &full);
  *best = full;
  while (lo < hi) {
    int mid = lo + (hi - lo) / 2;
    decimal_t cand;
    if (decimal_at_precision(&full, a, mid, pow2, &cand)) {
      *best = cand;
      hi = mid;
    } else {
      lo = mid + 1;
    }
  }
  while (best->ndigits > 1 && best->digits[best->ndigits - 1] == '0')
    best->ndigits--;
}

/* Python's float repr (and so json.dumps): positional between 1e-4 and
 * 1e16 with at least one digit after the point ("1.0", "0.0001"),
 * otherwise d.ddde+XX with at least two exponent digits ("1e+16",
 * "1e-05"). dst holds NUM_TEXT_MAX bytes; returns the length written. */
static size_t format_double(char *dst, double x) {
  size_t pos = 0;
  if (isnan(x)) {
    memcpy(dst, "NaN", 3);
    return 3;
  }
  if (signbit(x))
    dst[pos++] = '-';
  double a = fabs(x);
  if (isinf(a)) {
    memcpy(dst + pos, "Infinity", 8);
    return pos + 8;
  }
  if (a == 0) {
    memcpy(dst + pos, "0.0", 3);
    return pos + 3;
  }

  decimal_t dec;
  shortest_decimal(a, &dec);
  int nd = dec.ndigits, e = dec.exp10;
  if (e >= -4 && e < 16) {
    if (e < 0) {
      dst[pos++] = '0';
      dst[pos++] = '.';
      for (int i = 0; i < -e - 1; i++)
        dst[pos++] = '0';
      memcpy(dst + pos, dec.digits, (size_t)nd);
      pos += (size_t)nd;
    } else {
      int int_len = e + 1;
      for (int i = 0; i < int_len; i++)
        dst[pos++] = i < nd ? dec.digits[i] : '0';
      dst[pos++] = '.';
      if (nd > int_len) {
        memcpy(dst + pos, dec.digits + int_len, (size_t)(nd - int_len));
        pos += (size_t)(nd - int_len);
      } else {
        dst[pos++] = '0';
      }
    }
    return pos;
  }
  dst[pos++] = dec.digits[0];
  if (nd > 1) {
    dst[pos++] = '.';
    memcpy(dst + pos, dec.digits + 1, (size_t)(nd - 1));
    pos += (size_t)(nd - 1);
  }
  int written = snprintf(dst + pos, NUM_TEXT_MAX - pos, "e%c%02d",
                         e < 0 ? '-' : '+', e < 0 ? -e : e);
  return pos + (size_t)written;
}

static size_t format_num(char *dst, const sort_num_t *num) {
  if (num->is_int)
    return (size_t)snprintf(dst, NUM_TEXT_MAX, "%" PRId64, num->v.i);
  return format_double(dst, num->v.d);
}

char *sort_json_encode(const sort_num_t *v, size_t n, size_t *len) {
  *len = 0;
  /* One allocation at the worst case, trimmed at the end: no regrowth,
   * and no second formatting pass to measure. */
  if (n > (SIZE_MAX - 2) / (NUM_TEXT_MAX + SEP_LEN))
    return NULL;
  size_t cap = 2 + n * (NUM_TEXT_MAX + SEP_LEN);
  char *out = malloc(cap);
  if (out == NULL)
    return NULL;

  size_t pos = 0;
  out[pos++] = '[';
  for (size_t i = 0; i < n; i++) {
    char tmp[NUM_TEXT_MAX];
    if (i > 0) {
      out[pos++] = ',';
      out[pos++] = ' ';
    }
    size_t tlen = format_num(tmp, &v[i]);
    memcpy(out + pos, tmp, tlen);
    pos += tlen;
  }
  out[pos++] = ']';

  char *trimmed = realloc(out, pos);
  if (trimmed != NULL)
    out = trimmed;
  *len = pos;
  return out;
}

/* The escaped form of one message byte, as json.dumps writes it for ASCII
 * (short forms where JSON has them, \u00XX for other controls and DEL).
 * Bytes from 0x80 up pass through: messages are meant to be ASCII, and
 * UTF-8 stays valid JSON. Returns the length; out needs 6 bytes. */
static size_t escape_byte(unsigned char c, char out[6]) {
  static const char hex[] = "0123456789abcdef";
  char short_form = 0;
  switch (c) {
  case '"': short_form = '"'; break;
  case '\\': short_form = '\\'; break;
  case '\n': short_form = 'n'; break;
  case '\r': short_form = 'r'; break;
  case '\t': short_form = 't'; break;
  case '\b': short_form = 'b'; break;
  case '\f': short_form = 'f'; break;
  default: break;
  }
  if (short_form != 0) {
    out[0] = '\\';
    out[1] = short_form;
    return 2;
  }
  if (c < 0x20 || c == 0x7f) {
    memcpy(out, "\\u00", 4);
    out[4] = hex[c >> 4];
    out[5] = hex[c & 0xf];
    return 6;
  }
  out[0] = (char)c;
  return 1;
}

char *sort_json_error(const char *msg, size_t *len) {
  static const char head[] = "{\"error\": \"";
  static const char tail[] = "\"}";
  char esc[6];

  *len = 0;
  if (msg == NULL)
    msg = "unknown error";
  size_t need = sizeof(head) - 1 + sizeof(tail) - 1;
  for (const char *p = msg; *p != '\0'; p++)
    need += escape_byte((unsigned char)*p, esc);

  char *out = malloc(need);
  if (out == NULL)
    return NULL;
  size_t pos = 0;
  memcpy(out, head, sizeof(head) - 1);
  pos += sizeof(head) - 1;
  for (const char *p = msg; *p != '\0'; p++) {
    size_t elen = escape_byte((unsigned char)*p, esc);
    memcpy(out + pos, esc, elen);
    pos += elen;
  }
  memcpy(out + pos, tail, sizeof(tail) - 1);
  pos += sizeof(tail) - 1;
  *len = pos;
  return out;
}
