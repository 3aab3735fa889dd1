#include "dns_load.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdbool.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Bounds that turn a wrong file (a binary, a log, /dev/zero) into a clear
 * error instead of a long stall or a huge allocation. A real hosts line is
 * a few dozen bytes, and the biggest public block lists are tens of MiB. */
#define LOAD_MAX_LINE 4096
#define LOAD_MAX_FILE (64u * 1024u * 1024u)
#define LOAD_MAX_FILE_TEXT "64 MiB"
#define LOAD_FIRST_READ (64u * 1024u)
_Static_assert(LOAD_MAX_LINE == 4096 && DNS_MAP_MAX_ADDRS == 2048,
               "the error messages spell these numbers out");

/* How much of an offending token a message quotes: enough to find it in
 * the file, not so much that one bad line floods the log. */
#define LOAD_QUOTE_MAX 64

/* hosts(5) separates fields with blanks. CR is one too: it tolerates CRLF
 * files, and a stray CR elsewhere is as invisible to the user as a tab. */
#define LOAD_BLANKS " \t\r\v\f"

static bool is_blank(unsigned char c) {
  return c != '\0' && strchr(LOAD_BLANKS, c) != NULL;
}

/* Notepad and friends may start a UTF-8 file with a byte order mark. */
static const char utf8_bom[] = "\xEF\xBB\xBF";

static void set_error(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void set_error(char *err, size_t errlen, const char *fmt, ...) {
  va_list ap;

  if (err == NULL || errlen == 0)
    return;
  va_start(ap, fmt);
  vsnprintf(err, errlen, fmt, ap);
  va_end(ap);
}

/* One problem, worded "SUBJECT 'TOKEN': DETAIL" (token and detail may be
 * absent), so that every message quotes the offending text the same way
 * and the caller adds where it was found. */
typedef struct {
  const char *subject;
  const char *token;
  const char *detail;
} problem_t;

/* The message for errno e. strerror is not thread-safe and zone reloads
 * run on a thread of their own; with _GNU_SOURCE (meson.build) strerror_r is
 * the GNU one, which returns the message rather than an int. */
static const char *errno_text(int e, char *buf, size_t len) {
  return strerror_r(e, buf, len);
}

/* A token is quoted up to LOAD_QUOTE_MAX bytes, with "..." when cut. */
static void describe(const problem_t *p, char *buf, size_t len) {
  size_t n = (size_t)snprintf(buf, len, "%s", p->subject);

  if (p->token != NULL && n < len) {
    size_t tlen = strlen(p->token);
    int shown = tlen > LOAD_QUOTE_MAX ? LOAD_QUOTE_MAX : (int)tlen;
    n += (size_t)snprintf(buf + n, len - n, " '%.*s%s'", shown, p->token,
                          tlen > LOAD_QUOTE_MAX ? "..." : "");
  }
  if (p->detail != NULL && n < len)
    snprintf(buf + n, len - n, ": %s", p->detail);
}

/* Address text to bytes; family is 4 or 6. False with the problem. */
static bool parse_address(const char *text, int *family, uint8_t addr[16],
                          problem_t *why) {
  *why = (problem_t){"invalid address", text, NULL};
  /* A scope ("fe80::1%eth0") names an interface of one host; a DNS answer
   * cannot carry it, so dropping it silently would hand out a different
   * address than the file says. */
  if (strchr(text, '%') != NULL) {
    why->detail = "a scoped address (%zone) cannot be served";
    return false;
  }
  if (inet_pton(AF_INET, text, addr) == 1) {
    *family = 4;
    return true;
  }
  if (inet_pton(AF_INET6, text, addr) == 1) {
    *family = 6;
    return true;
  }
  return false;
}

/* dns_map_check_name plus what a configuration name must not hold though
 * the map would take it: blanks and control characters, which only get
 * there by mistake (a stray quote in a shell, a binary file) and would be
 * invisible in every later message. NULL or the reason. */
static const char *check_name(const char *name) {
  for (const unsigned char *p = (const unsigned char *)name; *p != '\0'; p++) {
    if (*p <= ' ' || *p == 0x7F)
      return "space or control character";
  }
  dns_map_name_status_t status = dns_map_check_name(name);
  return status == DNS_MAP_NAME_OK ? NULL : dns_map_name_strerror(status);
}

/* Checks name and adds one address to it. False with the problem. */
static bool add_name(dns_map_t *map, const char *name, int family,
                     const uint8_t *addr, problem_t *why) {
  *why = (problem_t){"invalid name", name, check_name(name)};
  if (why->detail != NULL)
    return false;
  switch (dns_map_add(map, name, family, addr)) {
  case 0:
    return true;
  case -E2BIG:
    *why = (problem_t){"too many addresses for", name, "at most 2048"};
    return false;
  case -ENOMEM:
    *why = (problem_t){"out of memory", NULL, NULL};
    return false;
  default:
    return false; /* -EINVAL: check_name let through what the map refused */
  }
}

/* Where a hosts error is reported. */
typedef struct {
  const char *source;
  size_t line;
  char *err;
  size_t errlen;
} hosts_ctx_t;

static int line_error(const hosts_ctx_t *ctx, const problem_t *p) {
  char text[256];

  describe(p, text, sizeof(text));
  set_error(ctx->err, ctx->errlen, "%s:%zu: %s", ctx->source, ctx->line, text);
  return -1;
}

/* Splits buf in place at blanks: the next field, or NULL at the end. */
static char *next_field(char **cursor) {
  char *p = *cursor + strspn(*cursor, LOAD_BLANKS);

  if (*p == '\0')
    return NULL;
  size_t n = strcspn(p, LOAD_BLANKS);
  *cursor = p + n;
  if (p[n] != '\0') {
    p[n] = '\0';
    (*cursor)++;
  }
  return p;
}

/* One line without its newline: "ADDRESS NAME [ALIAS...]", a comment from
 * '#' to the end (glibc's reader cuts there too, even inside a field), or
 * nothing. */
static int parse_hosts_line(dns_map_t *map, const char *line, size_t n,
                            const hosts_ctx_t *ctx) {
  char buf[LOAD_MAX_LINE + 1];
  char *cursor = buf;
  problem_t why;

  const char *hash = memchr(line, '#', n);
  if (hash != NULL)
    n = (size_t)(hash - line);
  for (size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)line[i];
    /* Text with these is not a hosts file; saying so beats a confusing
     * "invalid address" about bytes the user cannot see. */
    if ((c < ' ' && !is_blank(c)) || c == 0x7F) {
      why = (problem_t){"control character", NULL, "not a text file?"};
      return line_error(ctx, &why);
    }
  }
  memcpy(buf, line, n);
  buf[n] = '\0';

  const char *address = next_field(&cursor);
  if (address == NULL)
    return 0;
  int family;
  uint8_t addr[16];
  if (!parse_address(address, &family, addr, &why))
    return line_error(ctx, &why);

  const char *name = next_field(&cursor);
  if (name == NULL) {
    why = (problem_t){"no name after address", address, NULL};
    return line_error(ctx, &why);
  }
  /* The canonical name and its aliases all get the address. */
  for (; name != NULL; name = next_field(&cursor)) {
    if (!add_name(map, name, family, addr, &why))
      return line_error(ctx, &why);
  }
  return 0;
}

int dns_hosts_parse(dns_map_t *map, const char *text, size_t len,
                    const char *source, char *err, size_t errlen) {
  hosts_ctx_t ctx = {source != NULL ? source : "hosts", 0, err, errlen};
  size_t pos = 0;

  if (map == NULL || (text == NULL && len > 0)) {
    problem_t why = {"no map or no text", NULL, NULL};
    return line_error(&ctx, &why);
  }
  if (len >= sizeof(utf8_bom) - 1 &&
      memcmp(text, utf8_bom, sizeof(utf8_bom) - 1) == 0)
    pos = sizeof(utf8_bom) - 1;

  while (pos < len) {
    const char *start = text + pos;
    const char *newline = memchr(start, '\n', len - pos);
    size_t n = newline != NULL ? (size_t)(newline - start) : len - pos;

    ctx.line++;
    pos += n + (newline != NULL ? 1 : 0);
    /* CRLF's CR does not count against the bound. */
    if (n > 0 && start[n - 1] == '\r')
      n--;
    if (n > LOAD_MAX_LINE) {
      problem_t why = {"line longer than 4096 bytes", NULL, NULL};
      return line_error(&ctx, &why);
    }
    if (parse_hosts_line(map, start, n, &ctx) != 0)
      return -1;
  }
  return 0;
}

static int spec_error(const char *spec, char *err, size_t errlen,
                      const problem_t *p) {
  char text[256];
  size_t slen = strlen(spec);
  int shown = slen > LOAD_QUOTE_MAX ? LOAD_QUOTE_MAX : (int)slen;

  describe(p, text, sizeof(text));
  set_error(err, errlen, "--map '%.*s%s': %s", shown, spec,
            slen > LOAD_QUOTE_MAX ? "..." : "", text);
  return -1;
}

int dns_map_spec_parse(dns_map_t *map, const char *spec, char *err,
                       size_t errlen) {
  char *copy = NULL;
  problem_t why;
  int rc = -1;

  if (map == NULL || spec == NULL) {
    set_error(err, errlen, "--map: no map or no spec");
    goto done;
  }
  copy = strdup(spec);
  if (copy == NULL) {
    why = (problem_t){"out of memory", NULL, NULL};
    spec_error(spec, err, errlen, &why);
    goto done;
  }
  char *eq = strchr(copy, '=');
  if (eq == NULL) {
    why = (problem_t){"expected NAME=ADDR[,ADDR...]", NULL, NULL};
    spec_error(spec, err, errlen, &why);
    goto done;
  }
  *eq = '\0';
  const char *name = copy;
  /* The name first: it is what the spec is about. */
  why = (problem_t){"invalid name", name, check_name(name)};
  if (why.detail != NULL) {
    spec_error(spec, err, errlen, &why);
    goto done;
  }

  /* Each comma-separated field must be an address: "a=" and "a=1.2.3.4,"
   * are typos, not requests for fewer addresses. */
  char *field = eq + 1;
  for (;;) {
    char *comma = strchr(field, ',');
    if (comma != NULL)
      *comma = '\0';
    int family;
    uint8_t addr[16];
    if (*field == '\0') {
      why = (problem_t){"empty address", NULL, NULL};
      spec_error(spec, err, errlen, &why);
      goto done;
    }
    if (!parse_address(field, &family, addr, &why) ||
        !add_name(map, name, family, addr, &why)) {
      spec_error(spec, err, errlen, &why);
      goto done;
    }
    if (comma == NULL)
      break;
    field = comma + 1;
  }
  rc = 0;

done:
  free(copy);
  return rc;
}

/* The whole file into a malloc'd buffer (*text, *len), reading at most one
 * byte past the bound so that an endless source (a FIFO, /dev/zero) is
 * refused without being read to its end. Returns 0 or -1 with the error. */
static int read_file(const char *path, char **text, size_t *len, char *err,
                     size_t errlen) {
  FILE *f = NULL;
  char *buf = NULL;
  size_t cap = 0, used = 0;
  char msg[128];
  int rc = -1;

  f = fopen(path, "rb");
  if (f == NULL) {
    set_error(err, errlen, "%s: %s", path, errno_text(errno, msg, sizeof(msg)));
    goto done;
  }
  for (;;) {
    if (used == cap) {
      if (cap == LOAD_MAX_FILE + 1u)
        break; /* one byte past the bound: too big, checked below */
      size_t grown = cap == 0 ? LOAD_FIRST_READ : cap * 2;
      if (grown > LOAD_MAX_FILE + 1u)
        grown = LOAD_MAX_FILE + 1u;
      char *bigger = realloc(buf, grown);
      if (bigger == NULL) {
        set_error(err, errlen, "%s: out of memory", path);
        goto done;
      }
      buf = bigger;
      cap = grown;
    }
    used += fread(buf + used, 1, cap - used, f);
    if (ferror(f)) {
      /* glibc's fread leaves the read(2) errno (EISDIR for a directory). */
      set_error(err, errlen, "%s: %s", path,
                errno_text(errno, msg, sizeof(msg)));
      goto done;
    }
    if (feof(f))
      break;
  }
  if (used > LOAD_MAX_FILE) {
    set_error(err, errlen, "%s: larger than %s", path, LOAD_MAX_FILE_TEXT);
    goto done;
  }
  *text = buf;
  *len = used;
  buf = NULL;
  rc = 0;

done:
  free(buf);
  if (f != NULL)
    fclose(f);
  return rc;
}

dns_zone_t *dns_load_zone(const dns_load_config_t *cfg, char *err,
                          size_t errlen) {
  dns_map_t *map = NULL;
  dns_zone_t *zone = NULL;
  char *text = NULL;
  size_t len;

  if (cfg == NULL || (cfg->n_hosts_files > 0 && cfg->hosts_files == NULL) ||
      (cfg->n_map_specs > 0 && cfg->map_specs == NULL)) {
    set_error(err, errlen, "no configuration");
    goto done;
  }
  const char *why = dns_zone_options_check(&cfg->options);
  if (why != NULL) {
    set_error(err, errlen, "zone options: %s", why);
    goto done;
  }
  map = cfg->default_map ? dns_map_new_default() : dns_map_new();
  if (map == NULL) {
    set_error(err, errlen, "out of memory");
    goto done;
  }

  for (size_t i = 0; i < cfg->n_hosts_files; i++) {
    const char *path = cfg->hosts_files[i];
    if (path == NULL) {
      set_error(err, errlen, "hosts file %zu has no name", i + 1);
      goto done;
    }
    if (read_file(path, &text, &len, err, errlen) != 0 ||
        dns_hosts_parse(map, text, len, path, err, errlen) != 0)
      goto done;
    free(text);
    text = NULL;
  }
  for (size_t i = 0; i < cfg->n_map_specs; i++) {
    if (dns_map_spec_parse(map, cfg->map_specs[i], err, errlen) != 0)
      goto done;
  }

  zone = dns_zone_new(map, &cfg->options);
  map = NULL; /* dns_zone_new took it, whatever happened */
  if (zone == NULL)
    set_error(err, errlen, "out of memory");

done:
  free(text);
  dns_map_free(map);
  return zone;
}
