#include "load_check.h"

#include <cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "dns_wire.h"

/* Longest number token we read. dnsortd writes at most 20 characters for an
 * int64 and about 24 for a shortest-repr double; a payload file may be
 * wordier ("1.000000000000000000001"), so leave plenty of room. */
#define MAX_TOKEN 512

/* ---- numbers ---- */

static int cmp_int_double(int64_t i, double d) {
  /* Outside [-2^63, 2^63) no int64 can equal d, and the cast below would be
   * undefined. */
  if (d >= 9223372036854775808.0)
    return -1;
  if (d < -9223372036854775808.0)
    return 1;
  double whole = trunc(d);
  int64_t w = (int64_t)whole; /* exact: whole is an integer in range */
  if (i != w)
    return i < w ? -1 : 1;
  if (d > whole)
    return -1;
  if (d < whole)
    return 1;
  return 0;
}

int load_num_cmp(const load_num_t *a, const load_num_t *b) {
  if (a->kind == LOAD_NUM_INT && b->kind == LOAD_NUM_INT)
    return a->i < b->i ? -1 : a->i > b->i;
  if (a->kind == LOAD_NUM_DOUBLE && b->kind == LOAD_NUM_DOUBLE)
    return a->d < b->d ? -1 : a->d > b->d;
  if (a->kind == LOAD_NUM_INT)
    return cmp_int_double(a->i, b->d);
  return -cmp_int_double(b->i, a->d);
}

/* The same token as dnsortd would write it back: same kind, same value, and
 * for doubles the same sign of zero ("-0.0" is not "0.0"). */
static bool num_same(const load_num_t *a, const load_num_t *b) {
  if (a->kind != b->kind)
    return false;
  if (a->kind == LOAD_NUM_INT)
    return a->i == b->i;
  return a->d == b->d && signbit(a->d) == signbit(b->d);
}

static bool is_ws(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

static bool is_digit(char c) {
  return c >= '0' && c <= '9';
}

static void skip_ws(load_num_reader_t *r) {
  while (r->pos < r->len && is_ws(r->text[r->pos]))
    r->pos++;
}

static size_t skip_digits(const char *s, size_t len, size_t pos) {
  while (pos < len && is_digit(s[pos]))
    pos++;
  return pos;
}

/* One number token at r->pos, following the JSON grammar exactly:
 * -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)? */
static load_scan_status_t read_number(load_num_reader_t *r, load_num_t *out) {
  const char *s = r->text;
  size_t start = r->pos, p = r->pos;
  bool is_int = true;

  if (p < r->len && s[p] == '-')
    p++;
  if (p >= r->len || !is_digit(s[p]))
    return LOAD_SCAN_SYNTAX;
  if (s[p] == '0')
    p++;
  else
    p = skip_digits(s, r->len, p);
  if (p < r->len && s[p] == '.') {
    is_int = false;
    size_t q = skip_digits(s, r->len, p + 1);
    if (q == p + 1)
      return LOAD_SCAN_SYNTAX;
    p = q;
  }
  if (p < r->len && (s[p] == 'e' || s[p] == 'E')) {
    is_int = false;
    p++;
    if (p < r->len && (s[p] == '+' || s[p] == '-'))
      p++;
    size_t q = skip_digits(s, r->len, p);
    if (q == p)
      return LOAD_SCAN_SYNTAX;
    p = q;
  }

  size_t toklen = p - start;
  if (toklen >= MAX_TOKEN)
    return LOAD_SCAN_RANGE;
  /* strtoll and strtod want a terminated string; the reply buffer is not. */
  char tok[MAX_TOKEN];
  memcpy(tok, s + start, toklen);
  tok[toklen] = '\0';

  errno = 0;
  if (is_int) {
    long long v = strtoll(tok, NULL, 10);
    if (errno == ERANGE)
      return LOAD_SCAN_RANGE;
    out->kind = LOAD_NUM_INT;
    out->i = (int64_t)v;
    out->d = 0.0;
  } else {
    double v = strtod(tok, NULL);
    /* Underflow to zero or a subnormal is fine (Python reads 1e-400 as
     * 0.0); only overflow is an error, as in dnsortd. */
    if (isinf(v))
      return LOAD_SCAN_RANGE;
    out->kind = LOAD_NUM_DOUBLE;
    out->d = v;
    out->i = 0;
  }
  r->pos = p;
  return LOAD_SCAN_OK;
}

load_scan_status_t load_num_reader_init(load_num_reader_t *r, const char *text, size_t len) {
  r->text = text;
  r->len = len;
  r->pos = 0;
  r->count = 0;
  skip_ws(r);
  if (r->pos >= r->len || r->text[r->pos] != '[')
    return LOAD_SCAN_SYNTAX;
  r->pos++;
  return LOAD_SCAN_OK;
}

static load_scan_status_t finish_array(load_num_reader_t *r) {
  r->pos++; /* the ']' */
  skip_ws(r);
  return r->pos == r->len ? LOAD_SCAN_END : LOAD_SCAN_SYNTAX;
}

load_scan_status_t load_num_next(load_num_reader_t *r, load_num_t *out) {
  skip_ws(r);
  if (r->pos >= r->len)
    return LOAD_SCAN_SYNTAX;
  if (r->count == 0) {
    if (r->text[r->pos] == ']')
      return finish_array(r);
  } else {
    if (r->text[r->pos] == ']')
      return finish_array(r);
    if (r->text[r->pos] != ',')
      return LOAD_SCAN_SYNTAX;
    r->pos++;
    skip_ws(r);
  }
  load_scan_status_t st = read_number(r, out);
  if (st == LOAD_SCAN_OK)
    r->count++;
  return st;
}

load_scan_status_t load_num_scan_all(const char *text, size_t len, load_num_t **out, size_t *n,
                                     size_t *err_pos) {
  load_num_reader_t r;
  load_num_t *v = NULL;
  size_t cap = 0, count = 0;
  load_scan_status_t st = load_num_reader_init(&r, text, len);
  if (st != LOAD_SCAN_OK)
    goto done;

  for (;;) {
    load_num_t num;
    st = load_num_next(&r, &num);
    if (st == LOAD_SCAN_END) {
      st = LOAD_SCAN_OK;
      break;
    }
    if (st != LOAD_SCAN_OK)
      goto done;
    if (count == cap) {
      size_t ncap = cap == 0 ? 64 : cap * 2;
      load_num_t *nv = realloc(v, ncap * sizeof(*v));
      if (nv == NULL) {
        st = LOAD_SCAN_NOMEM;
        goto done;
      }
      v = nv;
      cap = ncap;
    }
    v[count++] = num;
  }

done:
  if (st != LOAD_SCAN_OK) {
    free(v);
    v = NULL;
    count = 0;
  }
  *out = v;
  *n = count;
  if (err_pos != NULL)
    *err_pos = r.pos;
  return st;
}

/* Bottom-up merge sort: stable, O(n log n) (n may be 100000), one scratch
 * buffer. */
int load_num_sort(load_num_t *v, size_t n) {
  if (n < 2)
    return 0;
  load_num_t *tmp = malloc(n * sizeof(*tmp));
  if (tmp == NULL)
    return -1;
  load_num_t *src = v, *dst = tmp;
  for (size_t width = 1; width < n; width *= 2) {
    for (size_t lo = 0; lo < n; lo += 2 * width) {
      size_t mid = lo + width < n ? lo + width : n;
      size_t hi = lo + 2 * width < n ? lo + 2 * width : n;
      size_t a = lo, b = mid, k = lo;
      while (a < mid && b < hi) {
        /* <= keeps equal elements in input order. */
        if (load_num_cmp(&src[a], &src[b]) <= 0)
          dst[k++] = src[a++];
        else
          dst[k++] = src[b++];
      }
      while (a < mid)
        dst[k++] = src[a++];
      while (b < hi)
        dst[k++] = src[b++];
    }
    load_num_t *t = src;
    src = dst;
    dst = t;
  }
  if (src != v)
    memcpy(v, src, n * sizeof(*v));
  free(tmp);
  return 0;
}

/* ---- sort replies ---- */

static bool is_error_object(const char *reply, size_t len) {
  cJSON *doc = cJSON_ParseWithLength(reply, len);
  bool ok = false;
  if (doc != NULL && cJSON_IsObject(doc)) {
    const cJSON *msg = cJSON_GetObjectItemCaseSensitive(doc, "error");
    ok = cJSON_IsString(msg);
  }
  cJSON_Delete(doc);
  return ok;
}

load_sort_result_t load_check_sort(const char *reply, size_t len, const load_sort_expect_t *exp) {
  if (exp->bytes != NULL && len == exp->bytes_len && memcmp(reply, exp->bytes, len) == 0)
    return LOAD_SORT_OK;
  if (len == 0)
    return LOAD_SORT_EMPTY;

  size_t first = 0;
  while (first < len && is_ws(reply[first]))
    first++;
  if (first < len && reply[first] == '{')
    return is_error_object(reply, len) ? LOAD_SORT_ERROR_OBJECT : LOAD_SORT_MALFORMED;

  load_num_reader_t r;
  if (load_num_reader_init(&r, reply, len) != LOAD_SCAN_OK)
    return LOAD_SORT_MALFORMED;

  /* One pass, no allocation: order against the previous element, identity
   * against the expected element at the same position. Since the expected
   * vector is sorted stably, like dnsortd's gnome sort, a correct reply
   * matches it position by position. */
  bool unsorted = false, different = false;
  load_num_t prev = {LOAD_NUM_INT, 0, 0.0}, num;
  size_t idx = 0;
  for (;;) {
    load_scan_status_t st = load_num_next(&r, &num);
    if (st == LOAD_SCAN_END)
      break;
    if (st != LOAD_SCAN_OK)
      return LOAD_SORT_MALFORMED;
    if (idx > 0 && load_num_cmp(&num, &prev) < 0)
      unsorted = true;
    if (idx >= exp->n || !num_same(&num, &exp->sorted[idx]))
      different = true;
    prev = num;
    idx++;
  }
  if (idx != exp->n)
    different = true;
  if (unsorted)
    return LOAD_SORT_UNSORTED;
  return different ? LOAD_SORT_WRONG_MULTISET : LOAD_SORT_OK;
}

const char *load_sort_result_name(load_sort_result_t r) {
  switch (r) {
  case LOAD_SORT_OK:
    return "ok";
  case LOAD_SORT_ERROR_OBJECT:
    return "error object";
  case LOAD_SORT_EMPTY:
    return "empty reply";
  case LOAD_SORT_MALFORMED:
    return "malformed reply";
  case LOAD_SORT_UNSORTED:
    return "unsorted reply";
  case LOAD_SORT_WRONG_MULTISET:
    return "reply holds other numbers";
  }
  return "?";
}

/* ---- DNS replies ---- */

load_dns_result_t load_check_dns(const uint8_t *pkt, size_t len, const load_dns_expect_t *exp) {
  dns_reader_t r = dns_reader(pkt, len);
  dns_header_t h;
  const uint8_t *question;
  dns_record_t rr;

  if (!dns_read_header(&r, &h))
    return LOAD_DNS_MALFORMED;
  if (h.id != exp->id)
    return LOAD_DNS_WRONG_ID;
  if (!(h.flags & DNS_FLAG_QR) || dns_flags_opcode(h.flags) != 0)
    return LOAD_DNS_NOT_RESPONSE;
  if (h.flags & DNS_FLAG_TC)
    return LOAD_DNS_TRUNCATED;
  if (dns_flags_rcode(h.flags) != exp->rcode)
    return LOAD_DNS_RCODE;
  if (h.qdcount != 1)
    return LOAD_DNS_WRONG_QUESTION;
  if (!dns_read_bytes(&r, exp->question_len, &question))
    return LOAD_DNS_MALFORMED;
  if (memcmp(question, exp->question, exp->question_len) != 0)
    return LOAD_DNS_WRONG_QUESTION;

  if (!exp->want_address)
    return h.ancount == 0 ? LOAD_DNS_OK : LOAD_DNS_WRONG_ANSWER;
  if (h.ancount != 1)
    return LOAD_DNS_WRONG_ANSWER;
  /* The owner is read through its pointer (0xc00c from dnsortd), so a
   * reply whose pointer leads nowhere is malformed; it is not compared. */
  if (dns_read_record(&r, &rr) != DNS_RECORD_OK)
    return LOAD_DNS_MALFORMED;
  if (rr.type != LOAD_DNS_TYPE_A || rr.rclass != LOAD_DNS_CLASS_IN || rr.rdlen != 4 ||
      memcmp(rr.rdata, exp->address, 4) != 0)
    return LOAD_DNS_WRONG_ANSWER;
  return LOAD_DNS_OK;
}

const char *load_dns_result_name(load_dns_result_t r) {
  switch (r) {
  case LOAD_DNS_OK:
    return "ok";
  case LOAD_DNS_MALFORMED:
    return "malformed reply";
  case LOAD_DNS_WRONG_ID:
    return "wrong ID";
  case LOAD_DNS_NOT_RESPONSE:
    return "not a response";
  case LOAD_DNS_TRUNCATED:
    return "truncated (TC=1)";
  case LOAD_DNS_RCODE:
    return "unexpected RCODE";
  case LOAD_DNS_WRONG_QUESTION:
    return "wrong question";
  case LOAD_DNS_WRONG_ANSWER:
    return "wrong answer";
  }
  return "?";
}
