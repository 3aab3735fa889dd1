#include "sort_json.h"

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
#define SEP_LEN 2 /* ", " between elements, as json.dumps writes it */

/* The nesting limit of cJSON (CJSON_NESTING_LIMIT), which decided before
 * this decoder whether "[[[[..." was invalid; kept so that it still is. */
#define LAX_NESTING_LIMIT 1000

static __attribute__((format(printf, 3, 4))) void set_err(char *err,
                                                          size_t errlen,
                                                          const char *fmt,
                                                          ...) {
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

/* ---- Decoding: characters ---------------------------------------------- */

/* Offset of the first byte of the first ill-formed sequence, or len when
 * the text is well-formed UTF-8. The ranges are those of Unicode's table
 * 3-7: they leave out overlong forms (C0, C1, E0 80..9F, F0 80..8F),
 * UTF-16 surrogates (ED A0..BF) and code points past U+10FFFF (F4 90..,
 * F5..FF). */
static size_t utf8_invalid_at(const unsigned char *s, size_t len) {
  size_t i = 0;
  while (i < len) {
    unsigned char c = s[i];
    if (c < 0x80) {
      i++;
      continue;
    }
    size_t more;
    unsigned char lo = 0x80, hi = 0xbf; /* range of the second byte */
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

/* The bytes that can continue a number's text for strtod (and for cJSON,
 * which gathered them before calling it): a run of them is one token. */
static bool is_number_char(unsigned char c) {
  return is_digit(c) || c == '-' || c == '+' || c == '.' || c == 'e' ||
         c == 'E';
}

static size_t number_run(const unsigned char *s, size_t len, size_t at) {
  size_t end = at;
  while (end < len && is_number_char(s[end]))
    end++;
  return end - at;
}

static size_t skip_ws(const unsigned char *s, size_t len, size_t i) {
  while (i < len && is_json_ws(s[i]))
    i++;
  return i;
}

/* ---- Decoding: numbers ------------------------------------------------- */

typedef enum {
  NUM_OK = 0,
  NUM_BAD,          /* the token is off RFC 8259's grammar */
  NUM_INT_RANGE,    /* an integer outside int64 */
  NUM_DOUBLE_RANGE, /* a number that overflows a double */
  NUM_NOMEM,
} num_status_t;

/* t is a strict JSON integer. The magnitude is built in uint64_t against a
 * limit of 2^63 for negatives, so INT64_MIN parses while the check before
 * each step keeps the arithmetic from ever wrapping. */
static bool int64_from_text(const unsigned char *t, size_t n, int64_t *out) {
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
static num_status_t double_from_text(const unsigned char *t, size_t n,
                                     double *out) {
  char small[64];
  char *buf = small;
  if (n >= sizeof(small)) {
    buf = malloc(n + 1);
    if (buf == NULL)
      return NUM_NOMEM;
  }
  memcpy(buf, t, n);
  buf[n] = '\0';
  *out = strtod(buf, NULL);
  if (buf != small)
    free(buf);
  return NUM_OK;
}

/* w x 10^e10 as a double, when that is one correctly rounded operation on
 * exact operands: w <= 2^53 and 10^|e10| <= 10^22 are both exact doubles,
 * and IEEE division and multiplication round correctly, as strtod does
 * (Clinger's fast path). Only where doubles are evaluated in double
 * precision: x87's extended precision would round twice. */
static bool double_exact(uint64_t w, int e10, bool neg, double *out) {
#if FLT_EVAL_METHOD == 0
  static const double pow10[] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                                 1e8,  1e9,  1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
                                 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};
  if (w > (UINT64_C(1) << 53) || e10 < -22 || e10 > 22)
    return false;
  double d = (double)w;
  d = e10 < 0 ? d / pow10[-e10] : d * pow10[e10];
  *out = neg ? -d : d;
  return true;
#else
  (void)w, (void)e10, (void)neg, (void)out;
  return false;
#endif
}

/* Significant digits past this many leave the exact path to strtod. */
#define FAST_DIGITS_MAX 19
/* Exponents are clamped here while read: far past any double's range,
 * and the clamped value only decides that strtod does the work. */
#define FAST_EXP_CLAMP 100000

/* RFC 8259, section 6:
 *
 *   number = [ minus ] int [ frac ] [ exp ]
 *   int    = zero / ( digit1-9 *DIGIT )
 *   frac   = decimal-point 1*DIGIT
 *   exp    = e [ minus / plus ] 1*DIGIT
 *
 * Reads the number at s[*pos] and moves *pos past it. It must end where
 * the run of number characters ends ("01", "1.5.5", "1-2" are one bad
 * token, as they were to strtod). A number without frac and exp becomes an
 * int64, like Python's json.loads makes it an int. */
static num_status_t read_number(const unsigned char *s, size_t len, size_t *pos,
                                sort_num_t *out) {
  size_t start = *pos, i = start;
  bool neg = i < len && s[i] == '-';
  uint64_t w = 0; /* the first FAST_DIGITS_MAX significant digits */
  size_t digits = 0, frac_digits = 0;
  if (neg)
    i++;
  size_t int_start = i;
  if (i < len && s[i] == '0') {
    i++;
  } else if (i < len && s[i] >= '1' && s[i] <= '9') {
    for (; i < len && is_digit(s[i]); i++) {
      if (++digits <= FAST_DIGITS_MAX)
        w = w * 10 + (unsigned)(s[i] - '0');
    }
  } else {
    return NUM_BAD;
  }
  size_t int_digits = i - int_start;
  bool is_int = true;
  if (i < len && s[i] == '.') {
    is_int = false;
    size_t frac_start = ++i;
    for (; i < len && is_digit(s[i]); i++) {
      if (digits > 0 || s[i] != '0') { /* leading zeros are not significant */
        if (++digits <= FAST_DIGITS_MAX)
          w = w * 10 + (unsigned)(s[i] - '0');
      }
    }
    if (i == frac_start)
      return NUM_BAD;
    frac_digits = i - frac_start;
  }
  int exp = 0;
  if (i < len && (s[i] == 'e' || s[i] == 'E')) {
    is_int = false;
    i++;
    bool exp_neg = i < len && s[i] == '-';
    if (i < len && (s[i] == '+' || s[i] == '-'))
      i++;
    size_t exp_start = i;
    for (; i < len && is_digit(s[i]); i++) {
      if (exp < FAST_EXP_CLAMP)
        exp = exp * 10 + (s[i] - '0');
    }
    if (i == exp_start)
      return NUM_BAD;
    if (exp_neg)
      exp = -exp;
  }
  if (i < len && is_number_char(s[i]))
    return NUM_BAD;
  *pos = i;

  out->is_int = is_int;
  if (is_int) {
    if (int_digits <= 18) /* below 10^18: w holds it, no overflow */
      out->v.i = neg ? -(int64_t)w : (int64_t)w;
    else if (!int64_from_text(s + start, i - start, &out->v.i))
      return NUM_INT_RANGE;
    return NUM_OK;
  }
  /* With both clamps apart, |e10| > 22 whenever either was reached. */
  bool exact = digits <= FAST_DIGITS_MAX && frac_digits <= FAST_EXP_CLAMP &&
               double_exact(w, exp - (int)frac_digits, neg, &out->v.d);
  if (!exact) {
    num_status_t st = double_from_text(s + start, i - start, &out->v.d);
    if (st != NUM_OK)
      return st;
  }
  /* Python would read 1e999 as inf and then write the non-JSON Infinity;
   * refusing it keeps every reply valid JSON. Underflow to 0 or to a
   * subnormal is fine: that is the nearest double, as in Python. */
  return isfinite(out->v.d) ? NUM_OK : NUM_DOUBLE_RANGE;
}

/* ---- Decoding: the array being built ----------------------------------- */

/* Numbers go straight into the array of their kind. The first integer
 * after doubles (or the reverse) turns it, once, into a mixed array of
 * order keys. limit bounds the count: max_elements, and (len - 1) / 2, the
 * most a body of len bytes can hold ("[1,1,...]"). Memory is taken at the
 * first number, for about len / 8 of them (8 bytes a number and its
 * separator, where random int32s take 12 and doubles 20), and doubled when
 * full: at most twice what the numbers need or the body's own size. It is
 * not trimmed at the end: shrinking a block malloc got from mmap would
 * lower glibc's mmap threshold to the small size, and every later request
 * would pay fresh pages again (measured: 2-3 times the decode time at
 * 5000 numbers). */
typedef struct {
  sort_nums_t nums;
  size_t cap;   /* elements allocated */
  size_t limit; /* elements allowed */
  size_t first; /* elements in the first allocation */
} nums_builder_t;

#define BUILDER_BYTES_PER_NUMBER 8

static size_t elem_size(sort_kind_t kind) {
  /* int64_t and double have the same size (C11 leaves it open). */
  _Static_assert(sizeof(int64_t) == sizeof(double), "8-byte doubles");
  return kind == SORT_KIND_MIXED ? sizeof(sort_mixed_t) : sizeof(int64_t);
}

static void builder_init(nums_builder_t *b, size_t len, size_t max) {
  b->nums = (sort_nums_t){.kind = SORT_KIND_INT, .n = 0, .v.any = NULL};
  b->cap = 0;
  b->limit = (len - 1) / 2 < max ? (len - 1) / 2 : max;
  b->first = len / BUILDER_BYTES_PER_NUMBER + 8;
  if (b->first > b->limit)
    b->first = b->limit;
}

static bool builder_grow(nums_builder_t *b) {
  size_t cap = b->cap == 0 ? b->first : b->cap * 2;
  if (cap > b->limit || cap < b->cap)
    cap = b->limit;
  if (cap > SIZE_MAX / sizeof(sort_mixed_t))
    return false;
  void *v = realloc(b->nums.v.any, cap * elem_size(b->nums.kind));
  if (v == NULL)
    return false;
  b->nums.v.any = v;
  b->cap = cap;
  return true;
}

static bool builder_mix(nums_builder_t *b) {
  sort_nums_t *s = &b->nums;
  sort_mixed_t *m = malloc(b->cap * sizeof(*m));
  if (m == NULL)
    return false;
  for (size_t k = 0; k < s->n; k++)
    m[k] = sort_mixed_make(sort_nums_at(s, k));
  free(s->v.any);
  s->v.m = m;
  s->kind = SORT_KIND_MIXED;
  return true;
}

/* The caller checks n < limit. */
static bool builder_push(nums_builder_t *b, const sort_num_t *num) {
  sort_nums_t *s = &b->nums;
  if (s->n == 0)
    s->kind = num->is_int ? SORT_KIND_INT : SORT_KIND_DOUBLE;
  if (s->n == b->cap && !builder_grow(b))
    return false;
  if (s->kind == SORT_KIND_INT && num->is_int) {
    s->v.i[s->n++] = num->v.i;
  } else if (s->kind == SORT_KIND_DOUBLE && !num->is_int) {
    s->v.d[s->n++] = num->v.d;
  } else {
    if (s->kind != SORT_KIND_MIXED && !builder_mix(b))
      return false;
    s->v.m[s->n++] = sort_mixed_make(*num);
  }
  return true;
}

/* ---- Decoding: the one pass -------------------------------------------- */

/* Where decode_strict stopped, when it did not accept the body. */
typedef enum {
  STRICT_OK = 0,
  STRICT_NOMEM,
  STRICT_BYTE,         /* body[at] (or its end) is not what the grammar wants */
  STRICT_NUMBER,       /* the number at body[at] is off the grammar */
  STRICT_INT_RANGE,    /* ... is an integer outside int64 */
  STRICT_DOUBLE_RANGE, /* ... overflows a double */
  STRICT_TOO_MANY,     /* another element at body[at], past cap */
} strict_status_t;

/* The one pass:
 *
 *   [BOM] ws "[" ws [ number ws *( "," ws number ws ) ] "]" ws
 *
 * with JSON's four whitespace bytes and RFC 8259 numbers. It stops at the
 * first byte off that shape; *at and *index (the element) say where. */
static strict_status_t decode_strict(const unsigned char *s, size_t len,
                                     nums_builder_t *b, size_t *at,
                                     size_t *index) {
  size_t i = 0;
  if (len >= 3 && memcmp(s, "\xef\xbb\xbf", 3) == 0)
    i = 3;
  i = skip_ws(s, len, i);
  *index = 0;
  if (i >= len || s[i] != '[') {
    *at = i;
    return STRICT_BYTE;
  }
  i = skip_ws(s, len, i + 1);
  if (i < len && s[i] == ']') {
    i++;
  } else {
    for (;;) {
      sort_num_t num;
      size_t start = i;
      *at = start;
      *index = b->nums.n;
      if (b->nums.n == b->limit)
        return STRICT_TOO_MANY;
      switch (read_number(s, len, &i, &num)) {
      case NUM_OK:
        break;
      case NUM_BAD:
        return STRICT_NUMBER;
      case NUM_INT_RANGE:
        return STRICT_INT_RANGE;
      case NUM_DOUBLE_RANGE:
        return STRICT_DOUBLE_RANGE;
      case NUM_NOMEM:
      default:
        return STRICT_NOMEM;
      }
      if (!builder_push(b, &num))
        return STRICT_NOMEM;
      i = skip_ws(s, len, i);
      if (i < len && s[i] == ',') {
        i = skip_ws(s, len, i + 1);
        continue;
      }
      if (i < len && s[i] == ']') {
        i++;
        break;
      }
      *at = i;
      return STRICT_BYTE;
    }
  }
  i = skip_ws(s, len, i);
  *at = i;
  return i == len ? STRICT_OK : STRICT_BYTE;
}

/* ---- Decoding: saying what is wrong ------------------------------------ */

/* A body the one pass refused is examined again, in the order the decoder
 * before it (cJSON, then a scan of the tokens) found problems, so that a
 * client gets the same answer as before for the same body: not UTF-8; too
 * many elements by a count of separators; not JSON at all, at the offset
 * cJSON reported; data after the value; not an array; an element that is
 * not a number; too many elements; and only then the first problem the
 * one pass met (whitespace JSON does not allow, a number off the grammar
 * or out of range). The "not JSON" test accepts what cJSON 1.7 accepted
 * (any byte up to 0x20 as whitespace, strtod's numbers, raw control bytes
 * and "\u" escapes of any four characters in strings), since what it
 * accepts beyond JSON is refused by a later step anyway. The fuzzer and
 * test_sort_json check all of this against cJSON and the old decoder. */

typedef enum {
  LAX_NUMBER,
  LAX_STRING,
  LAX_ARRAY,
  LAX_OBJECT,
  LAX_BOOL,
  LAX_NULL,
} lax_type_t;

/* What the top-level array holds. */
typedef struct {
  size_t count;
  size_t first_other; /* index of the first non-number; SIZE_MAX: none */
  lax_type_t other_type;
} lax_root_t;

/* cJSON's parse_buffer, and its offset conventions: an error leaves off
 * where cJSON left it, which is what "near offset" reports. */
typedef struct {
  const unsigned char *s;
  size_t len;
  size_t off;
  unsigned depth;
} lax_t;

static bool lax_can(const lax_t *b, size_t index) {
  return b->off + index < b->len;
}

/* Skips bytes up to 0x20, and steps back onto the last byte at the end. */
static void lax_skip_ws(lax_t *b) {
  if (b->off >= b->len)
    return;
  while (b->off < b->len && b->s[b->off] <= 32)
    b->off++;
  if (b->off == b->len)
    b->off--;
}

/* How much of a run of number characters strtod reads: [sign] digits
 * [. digits] or . digits, then an exponent only if it has digits. */
static size_t strtod_prefix(const unsigned char *t, size_t n) {
  size_t i = 0;
  if (i < n && (t[i] == '+' || t[i] == '-'))
    i++;
  size_t int_start = i;
  while (i < n && is_digit(t[i]))
    i++;
  size_t mant_digits = i - int_start;
  if (i < n && t[i] == '.') {
    size_t frac_start = ++i;
    while (i < n && is_digit(t[i]))
      i++;
    mant_digits += i - frac_start;
  }
  if (mant_digits == 0)
    return 0;
  if (i < n && (t[i] == 'e' || t[i] == 'E')) {
    size_t k = i + 1;
    if (k < n && (t[k] == '+' || t[k] == '-'))
      k++;
    if (k < n && is_digit(t[k])) {
      while (k < n && is_digit(t[k]))
        k++;
      i = k;
    }
  }
  return i;
}

static bool lax_number(lax_t *b) {
  size_t used = strtod_prefix(b->s + b->off, number_run(b->s, b->len, b->off));
  b->off += used;
  return used > 0;
}

/* cJSON's parse_hex4: a bad digit makes the whole value 0, not an error. */
static unsigned lax_hex4(const unsigned char *p) {
  unsigned h = 0;
  for (int i = 0; i < 4; i++) {
    unsigned char c = p[i];
    unsigned d;
    if (is_digit(c))
      d = (unsigned)(c - '0');
    else if (c >= 'A' && c <= 'F')
      d = (unsigned)(c - 'A' + 10);
    else if (c >= 'a' && c <= 'f')
      d = (unsigned)(c - 'a' + 10);
    else
      return 0;
    h = h << 4 | d;
  }
  return h;
}

/* Length of the \u escape at p (6, or 12 for a surrogate pair), 0 if bad;
 * end is the closing quote. */
static size_t lax_utf16_len(const unsigned char *p, const unsigned char *end) {
  if (end - p < 6)
    return 0;
  unsigned first = lax_hex4(p + 2);
  if (first >= 0xdc00 && first <= 0xdfff)
    return 0;
  if (first < 0xd800 || first > 0xdbff)
    return 6;
  const unsigned char *second = p + 6;
  if (end - second < 6 || second[0] != '\\' || second[1] != 'u')
    return 0;
  unsigned low = lax_hex4(second + 2);
  return low >= 0xdc00 && low <= 0xdfff ? 12 : 0;
}

static bool lax_string(lax_t *b) {
  const unsigned char *s = b->s;
  size_t start = b->off, end = start + 1, p = start + 1;
  if (s[start] != '"') {
    b->off = p;
    return false;
  }
  /* Find the closing quote, stepping over escaped bytes. */
  while (end < b->len && s[end] != '"') {
    if (s[end] == '\\') {
      if (end + 1 >= b->len) {
        b->off = p;
        return false;
      }
      end++;
    }
    end++;
  }
  if (end >= b->len) {
    b->off = p;
    return false;
  }
  while (p < end) {
    if (s[p] != '\\') {
      p++;
      continue;
    }
    size_t seq = 2;
    switch (s[p + 1]) {
    case 'b':
    case 'f':
    case 'n':
    case 'r':
    case 't':
    case '"':
    case '\\':
    case '/':
      break;
    case 'u':
      seq = lax_utf16_len(s + p, s + end);
      if (seq == 0) {
        b->off = p;
        return false;
      }
      break;
    default:
      b->off = p;
      return false;
    }
    p += seq;
  }
  b->off = end + 1;
  return true;
}

static bool lax_value(lax_t *b, lax_type_t *type, lax_root_t *root);

/* Elements separated by ',' up to close; for an object each is a string,
 * ':' and a value. Records the top-level array's elements in root. */
static bool lax_container(lax_t *b, bool object, lax_root_t *root) {
  unsigned char close = object ? '}' : ']';
  if (b->depth >= LAX_NESTING_LIMIT)
    return false;
  b->depth++;
  b->off++;
  lax_skip_ws(b);
  if (lax_can(b, 0) && b->s[b->off] == close)
    goto done;
  if (!lax_can(b, 0)) {
    b->off--;
    return false;
  }
  b->off--;
  do {
    if (object && !lax_can(b, 1))
      return false;
    b->off++;
    lax_skip_ws(b);
    if (object) {
      if (!lax_string(b))
        return false;
      lax_skip_ws(b);
      if (!lax_can(b, 0) || b->s[b->off] != ':')
        return false;
      b->off++;
      lax_skip_ws(b);
    }
    lax_type_t type;
    if (!lax_value(b, &type, NULL))
      return false;
    if (root != NULL) {
      if (type != LAX_NUMBER && root->first_other == SIZE_MAX) {
        root->first_other = root->count;
        root->other_type = type;
      }
      root->count++;
    }
    lax_skip_ws(b);
  } while (lax_can(b, 0) && b->s[b->off] == ',');
  if (!lax_can(b, 0) || b->s[b->off] != close)
    return false;
done:
  b->depth--;
  b->off++;
  return true;
}

static bool lax_literal(lax_t *b, const char *word, size_t n) {
  if (b->off + n > b->len || memcmp(b->s + b->off, word, n) != 0)
    return false;
  b->off += n;
  return true;
}

static bool lax_value(lax_t *b, lax_type_t *type, lax_root_t *root) {
  if (lax_literal(b, "null", 4)) {
    *type = LAX_NULL;
    return true;
  }
  if (lax_literal(b, "false", 5) || lax_literal(b, "true", 4)) {
    *type = LAX_BOOL;
    return true;
  }
  if (!lax_can(b, 0))
    return false;
  unsigned char c = b->s[b->off];
  if (c == '"') {
    *type = LAX_STRING;
    return lax_string(b);
  }
  if (c == '-' || is_digit(c)) {
    *type = LAX_NUMBER;
    return lax_number(b);
  }
  if (c == '[' || c == '{') {
    *type = c == '[' ? LAX_ARRAY : LAX_OBJECT;
    return lax_container(b, c == '{', root);
  }
  return false;
}

static const char *lax_type_name(lax_type_t type) {
  switch (type) {
  case LAX_STRING:
    return "a string";
  case LAX_ARRAY:
    return "an array";
  case LAX_OBJECT:
    return "an object";
  case LAX_BOOL:
    return "a boolean";
  case LAX_NULL:
    return "null";
  case LAX_NUMBER:
    return "a number";
  default:
    return "an unknown value";
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

/* The first problem decode_strict met, in the words of the old scan. */
static sort_json_status_t strict_error(const unsigned char *s, size_t len,
                                       strict_status_t st, size_t at,
                                       size_t index, char *err, size_t errlen) {
  char echo[ECHO_BUF_LEN];
  size_t run = at < len ? number_run(s, len, at) : 0;
  echo_input(echo, (const char *)s + at, run);
  switch (st) {
  case STRICT_NUMBER:
    if (run == 0)
      break; /* no number at all: an unexpected byte */
    set_err(err, errlen, "invalid number \"%s\" (element %zu)", echo, index);
    return SORT_JSON_INVALID;
  case STRICT_INT_RANGE:
    set_err(err, errlen, "integer %s is out of the 64-bit range (element %zu)",
            echo, index);
    return SORT_JSON_OUT_OF_RANGE;
  case STRICT_DOUBLE_RANGE:
    set_err(err, errlen, "number %s is out of the double range (element %zu)",
            echo, index);
    return SORT_JSON_OUT_OF_RANGE;
  default:
    break;
  }
  if (at >= len)
    set_err(err, errlen, "invalid JSON: unexpected end at offset %zu", at);
  else
    set_err(err, errlen, "invalid JSON: unexpected byte 0x%02x at offset %zu",
            (unsigned)s[at], at);
  return SORT_JSON_INVALID;
}

static sort_json_status_t diagnose(const char *body, size_t len,
                                   size_t max_elements, strict_status_t st,
                                   size_t at, size_t index, char *err,
                                   size_t errlen) {
  const unsigned char *s = (const unsigned char *)body;
  size_t bad = utf8_invalid_at(s, len);
  if (bad < len) {
    set_err(err, errlen, "the request is not valid UTF-8 (at offset %zu)", bad);
    return SORT_JSON_NOT_UTF8;
  }
  size_t separators = count_separators(body, len);
  if (separators > 0 && separators >= max_elements) {
    set_err(err, errlen, "too many elements: %zu > limit %zu", separators + 1,
            max_elements);
    return SORT_JSON_TOO_MANY;
  }

  lax_t b = {s, len, 0, 0};
  lax_root_t root = {0, SIZE_MAX, LAX_NUMBER};
  lax_type_t type;
  /* cJSON skips a byte order mark only when at least 5 bytes follow it. */
  if (len >= 5 && memcmp(s, "\xef\xbb\xbf", 3) == 0)
    b.off = 3;
  lax_skip_ws(&b);
  if (!lax_value(&b, &type, &root)) {
    set_err(err, errlen, "invalid JSON near offset %zu",
            b.off < len ? b.off : len - 1);
    return SORT_JSON_INVALID;
  }
  for (size_t i = b.off; i < len; i++) {
    if (!is_json_ws(s[i])) {
      set_err(err, errlen,
              "invalid JSON: unexpected data after the value "
              "at offset %zu",
              i);
      return SORT_JSON_INVALID;
    }
  }
  if (type != LAX_ARRAY) {
    set_err(err, errlen, "the request is %s, not an array of numbers",
            lax_type_name(type));
    return SORT_JSON_NOT_ARRAY;
  }
  if (root.first_other != SIZE_MAX) {
    set_err(err, errlen, "element %zu is %s, not a number", root.first_other,
            lax_type_name(root.other_type));
    return SORT_JSON_NOT_NUMBER;
  }
  if (root.count > max_elements) {
    set_err(err, errlen, "too many elements: %zu > limit %zu", root.count,
            max_elements);
    return SORT_JSON_TOO_MANY;
  }
  return strict_error(s, len, st, at, index, err, errlen);
}

sort_json_status_t sort_json_decode(const char *body, size_t len,
                                    size_t max_elements, sort_nums_t *out,
                                    char *err, size_t errlen) {
  *out = (sort_nums_t){.kind = SORT_KIND_INT, .n = 0, .v.any = NULL};
  if (err != NULL && errlen > 0)
    err[0] = '\0';
  if (len == 0) {
    set_err(err, errlen, "empty request");
    return SORT_JSON_EMPTY;
  }

  nums_builder_t b;
  builder_init(&b, len, max_elements);
  size_t at = 0, index = 0;
  strict_status_t st =
      decode_strict((const unsigned char *)body, len, &b, &at, &index);
  if (st == STRICT_OK) {
    *out = b.nums;
    return SORT_JSON_OK;
  }
  sort_nums_free(&b.nums);
  if (st == STRICT_NOMEM) {
    set_err(err, errlen, "out of memory");
    return SORT_JSON_NOMEM;
  }
  return diagnose(body, len, max_elements, st, at, index, err, errlen);
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

#ifdef __SIZEOF_INT128__
__extension__ typedef unsigned __int128 u128_t;

/* Past this many binary places below the point, or this many above, the
 * scaled bounds below leave 64 (or 128) bits: those numbers, below about
 * 1.5e-5 or from 2^63 up, and subnormals, take the slower path. */
#define EXACT_MAX_SHIFT 70
#define EXACT_MAX_LSHIFT 8
#define EXACT_MAX_POW10 21

/* floor(v * 10^k / 2^s), whether it fits in 64 bits, and the first digit
 * after the point (*next) and whether any other follows (*more). v < 2^55
 * and 10^k <= 10^21 < 2^70: the product fits in 128 bits, and so does ten
 * times the remainder (s <= 70). */
static uint64_t scale_down(uint64_t v, u128_t pow10k, unsigned s,
                           unsigned *next, bool *more, bool *fits) {
  u128_t prod = (u128_t)v * pow10k;
  u128_t mask = ((u128_t)1 << s) - 1;
  u128_t q = prod >> s, tenth = (prod & mask) * 10;
  *next = (unsigned)(tenth >> s);
  *more = (tenth & mask) != 0;
  *fits = (q >> 64) == 0;
  return (uint64_t)q;
}

/* a and the ends of its rounding interval, scaled to integers: the
 * interval is [vm, vp] x 10^e10 (vm and vp floors), a is vr.last... x
 * 10^e10. */
typedef struct {
  uint64_t vr, vp, vm;
  int e10;
  unsigned last; /* the digit of a just below vr's last one */
  bool vr_zeros; /* nothing but zeros after last */
  bool vm_zeros; /* vm is exact and reads back as a: a candidate */
} exact_t;

/* a = m2 x 2^e2; the decimals that read back as a are those in the
 * rounding interval around it, whose ends are a -/+ half the gap to its
 * neighbours (a quarter below a power of two); the ends themselves read
 * back to a only when m2 is even (ties go to even). With everything
 * multiplied by 4, the ends are integers mm and mp around mv = 4 x m2.
 * They are scaled by 10^k / 2^-e2, k chosen so that they keep 17 or more
 * digits and fit in 64 bits, and floor'ed. False for subnormals and for
 * numbers below about 1.5e-5 or from 2^63 up, where they would not fit. */
static bool exact_scale(double a, exact_t *x) {
  uint64_t bits;
  memcpy(&bits, &a, sizeof(bits));
  unsigned biased = (unsigned)(bits >> 52) & 0x7ff;
  uint64_t frac = bits & ((UINT64_C(1) << 52) - 1);
  if (biased == 0 || biased == 0x7ff)
    return false;
  uint64_t m2 = frac | (UINT64_C(1) << 52);
  int e2 = (int)biased - 1075 - 2; /* for mv = 4 x m2 */
  bool accept_bounds = (m2 & 1) == 0;
  uint64_t mv = 4 * m2, mp = mv + 2, mm = mv - (frac != 0 ? 2 : 1);
  unsigned p_next = 0, m_next = 0;
  bool r_more = false, p_more = false, m_more = false;
  x->last = 0;
  if (e2 >= 0) {
    if (e2 > EXACT_MAX_LSHIFT)
      return false;
    x->vr = mv << e2;
    x->vp = mp << e2;
    x->vm = mm << e2;
    x->e10 = 0;
  } else {
    unsigned s = (unsigned)-e2;
    if (s > EXACT_MAX_SHIFT)
      return false;
    /* 10^k <= 2^(s + 9): floor((s + 9) log10 2), 78913 / 2^18 being just
     * under log10 2. */
    unsigned k = ((s + 9) * 78913u) >> 18;
    if (k > EXACT_MAX_POW10)
      k = EXACT_MAX_POW10;
    u128_t pow10k = 1;
    for (unsigned i = 0; i < k; i++)
      pow10k *= 10;
    bool fits_r, fits_p, fits_m;
    x->vr = scale_down(mv, pow10k, s, &x->last, &r_more, &fits_r);
    x->vp = scale_down(mp, pow10k, s, &p_next, &p_more, &fits_p);
    x->vm = scale_down(mm, pow10k, s, &m_next, &m_more, &fits_m);
    /* 17 digits always tell a double: start with at least that many. */
    if (!fits_p || x->vr < UINT64_C(10000000000000000))
      return false;
    x->e10 = -(int)k;
  }
  x->vr_zeros = !r_more;
  x->vm_zeros = accept_bounds && m_next == 0 && !m_more;
  /* The upper end, when it does not read back as a, is left out by
   * stepping below it. */
  if (!accept_bounds && p_next == 0 && !p_more)
    x->vp--;
  return true;
}

/* One decimal digit off all three. */
static void exact_cut(exact_t *x) {
  x->vr_zeros = x->vr_zeros && x->last == 0;
  x->last = (unsigned)(x->vr % 10);
  x->vr /= 10;
  x->vp /= 10;
  x->vm /= 10;
  x->e10++;
}

/* What shortest_decimal's search finds, computed exactly in integers where
 * exact_scale works (false elsewhere). Digits are cut while the interval
 * still holds two candidates at the coarser step (and then, if its lower
 * end is a candidate ending in zeros, those zeros): what is left is the
 * shortest, and the last digit cut says whether the nearest is one up (a
 * tie, exactly ...5000, goes to even). This is the digit loop of Ulf
 * Adams' Ryu, whose tables are not needed here: the scaling is one 128-bit
 * product. */
static bool shortest_exact(double a, decimal_t *dec) {
  exact_t x;
  if (!exact_scale(a, &x))
    return false;
  while (x.vp / 10 > x.vm / 10) {
    x.vm_zeros = x.vm_zeros && x.vm % 10 == 0;
    exact_cut(&x);
  }
  while (x.vm_zeros && x.vm % 10 == 0)
    exact_cut(&x);
  if (x.vr_zeros && x.last == 5 && x.vr % 2 == 0)
    x.last = 4; /* exactly half way: to even */
  uint64_t out = x.vr + ((x.vr == x.vm && !x.vm_zeros) || x.last >= 5);

  char tmp[20];
  int n = 0;
  for (; out > 0; out /= 10)
    tmp[n++] = (char)('0' + out % 10);
  if (n == 0 || n > DBL_DECIMAL_DIG)
    return false;
  for (int i = 0; i < n; i++)
    dec->digits[i] = tmp[n - 1 - i];
  dec->ndigits = n;
  dec->exp10 = x.e10 + n - 1;
  while (dec->ndigits > 1 && dec->digits[dec->ndigits - 1] == '0')
    dec->ndigits--;
  return true;
}
#else
static bool shortest_exact(double a, decimal_t *dec) {
  (void)a, (void)dec;
  return false;
}
#endif

/* The shortest decimal that reads back as a (finite, > 0), nearest to a
 * among those: what Python's repr prints. shortest_exact finds it for the
 * common magnitudes; elsewhere, a precision that works keeps working with
 * more digits, so a binary search over 1..17 finds the least in at most
 * five tries of printf and strtod. */
static void shortest_decimal(double a, decimal_t *best) {
  if (shortest_exact(a, best))
    return;
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

/* An int64 in decimal, two digits per division. dst holds NUM_TEXT_MAX
 * bytes; returns the length written. */
static size_t format_int(char *dst, int64_t v) {
  static const char pairs[] =
      "00010203040506070809101112131415161718192021222324252627282930313233"
      "34353637383940414243444546474849505152535455565758596061626364656667"
      "6869707172737475767778798081828384858687888990919293949596979899";
  char tmp[20];
  size_t k = sizeof(tmp), pos = 0;
  /* The magnitude in uint64_t, where INT64_MIN's has room. */
  uint64_t mag = v < 0 ? 0 - (uint64_t)v : (uint64_t)v;
  while (mag >= 100) {
    unsigned r = (unsigned)(mag % 100) * 2;
    mag /= 100;
    tmp[--k] = pairs[r + 1];
    tmp[--k] = pairs[r];
  }
  if (mag >= 10) {
    tmp[--k] = pairs[mag * 2 + 1];
    tmp[--k] = pairs[mag * 2];
  } else {
    tmp[--k] = (char)('0' + mag);
  }
  if (v < 0)
    dst[pos++] = '-';
  memcpy(dst + pos, tmp + k, sizeof(tmp) - k);
  return pos + sizeof(tmp) - k;
}

static size_t format_elem(char *dst, const sort_nums_t *nums, size_t i) {
  switch (nums->kind) {
  case SORT_KIND_INT:
    return format_int(dst, nums->v.i[i]);
  case SORT_KIND_DOUBLE:
    return format_double(dst, nums->v.d[i]);
  case SORT_KIND_MIXED:
  default: {
    sort_num_t num = sort_mixed_num(&nums->v.m[i]);
    return num.is_int ? format_int(dst, num.v.i) : format_double(dst, num.v.d);
  }
  }
}

/* The first guess at a reply's size, per element with its separator:
 * int32s take 11 or 12 bytes, 17-digit doubles 20 to 25. The buffer
 * doubles when a number might not fit, and is not trimmed at the end (see
 * nums_builder_t: glibc's mmap threshold). */
#define ENCODE_GUESS_INT 14
#define ENCODE_GUESS_DOUBLE 24

char *sort_json_encode(const sort_nums_t *nums, size_t *len) {
  size_t n = nums->n;
  size_t per =
      nums->kind == SORT_KIND_INT ? ENCODE_GUESS_INT : ENCODE_GUESS_DOUBLE;
  *len = 0;
  if (n > (SIZE_MAX - 2 - NUM_TEXT_MAX) / per)
    return NULL;
  size_t cap = 2 + NUM_TEXT_MAX + n * per;
  char *out = malloc(cap);
  if (out == NULL)
    return NULL;

  size_t pos = 0;
  out[pos++] = '[';
  for (size_t i = 0; i < n; i++) {
    /* Room for a separator, the longest number and the final ']'. */
    if (cap - pos < SEP_LEN + NUM_TEXT_MAX + 1) {
      char *bigger = cap <= SIZE_MAX / 2 ? realloc(out, cap * 2) : NULL;
      if (bigger == NULL) {
        free(out);
        return NULL;
      }
      out = bigger;
      cap *= 2;
    }
    if (i > 0) {
      out[pos++] = ',';
      out[pos++] = ' ';
    }
    pos += format_elem(out + pos, nums, i);
  }
  out[pos++] = ']';
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
  case '"':
    short_form = '"';
    break;
  case '\\':
    short_form = '\\';
    break;
  case '\n':
    short_form = 'n';
    break;
  case '\r':
    short_form = 'r';
    break;
  case '\t':
    short_form = 't';
    break;
  case '\b':
    short_form = 'b';
    break;
  case '\f':
    short_form = 'f';
    break;
  default:
    break;
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
