#include "load_payload.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

uint64_t load_rand_next(uint64_t *state) {
  uint64_t z = (*state += UINT64_C(0x9e3779b97f4a7c15));
  z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
  z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
  return z ^ (z >> 31);
}

static void put_be64(uint8_t p[8], uint64_t v) {
  for (int i = 7; i >= 0; i--) {
    p[i] = (uint8_t)(v & 0xff);
    v >>= 8;
  }
}

/* "[a, b, c]": json.dumps' separators, which dnsortd also writes. Every
 * value is an int64, so 20 characters plus ", " bounds each element. */
static char *encode_ints(const load_num_t *v, size_t n, size_t *len) {
  size_t cap = 2 + n * 22 + 1;
  char *out = malloc(cap);
  if (out == NULL)
    return NULL;
  size_t pos = 0;
  out[pos++] = '[';
  for (size_t i = 0; i < n; i++) {
    int w = snprintf(out + pos, cap - pos, i == 0 ? "%" PRId64 : ", %" PRId64, v[i].i);
    pos += (size_t)w;
  }
  out[pos++] = ']';
  out[pos] = '\0';
  *len = pos;
  return out;
}

static void payload_free(load_payload_t *p) {
  free(p->body);
  free(p->sorted);
  free(p->expected);
  memset(p, 0, sizeof(*p));
}

void load_payload_set_free(load_payload_set_t *set) {
  for (size_t i = 0; i < set->count; i++)
    payload_free(&set->items[i]);
  free(set->items);
  set->items = NULL;
  set->count = 0;
}

static int generate_one(load_payload_t *p, size_t size, uint64_t *rng) {
  int rc = -1;
  load_num_t *v = malloc((size == 0 ? 1 : size) * sizeof(*v));
  if (v == NULL)
    goto done;
  for (size_t i = 0; i < size; i++) {
    /* int32 range: realistic values, negative ones included. */
    uint64_t r = load_rand_next(rng);
    v[i].kind = LOAD_NUM_INT;
    v[i].i = (int64_t)(int32_t)(uint32_t)r;
    v[i].d = 0.0;
  }
  p->body = encode_ints(v, size, &p->body_len);
  if (p->body == NULL)
    goto done;
  if (load_num_sort(v, size) != 0)
    goto done;
  p->expected = encode_ints(v, size, &p->expected_len);
  if (p->expected == NULL)
    goto done;
  put_be64(p->prefix, p->body_len);
  p->sorted = v;
  p->n = size;
  v = NULL;
  rc = 0;

done:
  free(v);
  return rc;
}

int load_payload_generate(load_payload_set_t *set, size_t count, size_t size, uint64_t seed) {
  uint64_t rng = seed;
  set->count = 0;
  set->items = calloc(count, sizeof(*set->items));
  if (set->items == NULL)
    return -1;
  for (size_t i = 0; i < count; i++) {
    if (generate_one(&set->items[i], size, &rng) != 0) {
      load_payload_set_free(set);
      return -1;
    }
    set->count++;
  }
  return 0;
}

/* The whole file in one buffer; NULL with errno set on failure. */
static char *read_file(const char *path, size_t *len) {
  char *buf = NULL;
  size_t cap = 0, have = 0;
  FILE *f = fopen(path, "rb");
  if (f == NULL)
    return NULL;
  for (;;) {
    if (cap - have < 65536) {
      size_t ncap = cap == 0 ? 65536 : cap * 2;
      char *nb = realloc(buf, ncap);
      if (nb == NULL) {
        free(buf);
        buf = NULL;
        errno = ENOMEM;
        goto done;
      }
      buf = nb;
      cap = ncap;
    }
    size_t got = fread(buf + have, 1, cap - have, f);
    have += got;
    if (got == 0) {
      if (ferror(f)) {
        free(buf);
        buf = NULL;
        errno = EIO;
      }
      break;
    }
  }
  *len = have;

done:
  fclose(f);
  return buf;
}

int load_payload_from_file(load_payload_set_t *set, const char *path, char *err, size_t errlen) {
  int rc = -1;
  size_t len = 0, n = 0, err_pos = 0;
  load_num_t *v = NULL;
  char *text = read_file(path, &len);
  set->count = 0;
  set->items = NULL;
  if (text == NULL) {
    snprintf(err, errlen, "cannot read --payload %s: %s", path, strerror(errno));
    goto done;
  }
  if (len == 0) {
    snprintf(err, errlen, "--payload %s is empty", path);
    goto done;
  }

  load_scan_status_t st = load_num_scan_all(text, len, &v, &n, &err_pos);
  if (st != LOAD_SCAN_OK) {
    snprintf(err, errlen, "--payload %s: %s at byte %zu", path,
             st == LOAD_SCAN_RANGE   ? "number out of range"
             : st == LOAD_SCAN_NOMEM ? "out of memory"
                                     : "not a JSON array of numbers",
             err_pos);
    goto done;
  }
  if (load_num_sort(v, n) != 0) {
    snprintf(err, errlen, "out of memory");
    goto done;
  }
  set->items = calloc(1, sizeof(*set->items));
  if (set->items == NULL) {
    snprintf(err, errlen, "out of memory");
    goto done;
  }
  load_payload_t *p = &set->items[0];
  p->body = text;
  p->body_len = len;
  put_be64(p->prefix, len);
  p->sorted = v;
  p->n = n;
  set->count = 1;
  text = NULL;
  v = NULL;
  rc = 0;

done:
  free(v);
  free(text);
  return rc;
}

load_sort_expect_t load_payload_expect(const load_payload_t *p) {
  load_sort_expect_t e = {p->sorted, p->n, p->expected, p->expected_len};
  return e;
}

/* ---- DNS ---- */

const load_dns_name_t load_dns_names[] = {
    {"facebook.com", {173, 252, 120, 6}}, {"yougov.com", {213, 52, 133, 246}},
    {"wipo.int", {193, 5, 93, 80}},       {"unknown.dnsort.test", {127, 0, 0, 1}},
    {"facebook.com", {173, 252, 120, 6}}, {"yougov.com", {213, 52, 133, 246}},
    {"wipo.int", {193, 5, 93, 80}},       {"www.example.org", {127, 0, 0, 1}},
};
const size_t load_dns_names_count = sizeof(load_dns_names) / sizeof(load_dns_names[0]);

int load_dns_query_build(load_dns_query_t *q, const load_dns_name_t *name, uint16_t qtype) {
  uint8_t *b = q->bytes;
  size_t pos = LOAD_DNS_HEADER_LEN;
  memset(b, 0, LOAD_DNS_HEADER_LEN);
  b[2] = 0x01; /* RD */
  b[5] = 1;    /* QDCOUNT */

  const char *s = name->name;
  while (*s != '\0') {
    const char *dot = strchr(s, '.');
    size_t l = dot != NULL ? (size_t)(dot - s) : strlen(s);
    if (l == 0 || l > 63 || pos + 1 + l + 1 + 4 > sizeof(q->bytes))
      return -1;
    b[pos++] = (uint8_t)l;
    memcpy(b + pos, s, l);
    pos += l;
    s += l;
    if (*s == '.')
      s++;
  }
  b[pos++] = 0;
  if (pos - LOAD_DNS_HEADER_LEN > 255) /* RFC 1035 2.3.4 */
    return -1;
  b[pos++] = (uint8_t)(qtype >> 8);
  b[pos++] = (uint8_t)qtype;
  b[pos++] = 0;
  b[pos++] = LOAD_DNS_CLASS_IN;
  q->len = pos;
  q->qtype = qtype;
  q->name = name;
  return 0;
}

load_dns_expect_t load_dns_query_expect(const load_dns_query_t *q, uint16_t id) {
  load_dns_expect_t e;
  memset(&e, 0, sizeof(e));
  e.id = id;
  e.question = q->bytes + LOAD_DNS_HEADER_LEN;
  e.question_len = q->len - LOAD_DNS_HEADER_LEN;
  e.rcode = 0;
  e.want_address = q->qtype == LOAD_DNS_TYPE_A || q->qtype == LOAD_DNS_TYPE_ANY;
  memcpy(e.address, q->name->address, 4);
  return e;
}
