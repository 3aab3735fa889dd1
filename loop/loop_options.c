#include "loop_options.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "loop_addr.h"

/* --help wraps at this column; option names take the first HELP_COLUMN. */
#define HELP_WIDTH 79
#define HELP_COLUMN 29
/* How much of a bad value a message quotes. */
#define QUOTE_MAX 200

struct loop_opt_block {
  loop_opt_block_t *next;
  void *data;
};

static const char *const flag_words[] = {"yes", "true", "on", "1", "no", "false", "off", "0", NULL};

int loop_opts_fail(char *err, size_t errlen, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(err, errlen, fmt, ap);
  va_end(ap);
  return -1;
}

static void *field(void *base, size_t offset) {
  return (char *)base + offset;
}

static size_t *count_of(const loop_option_t *o, void *base) {
  return (size_t *)field(base, o->count_offset);
}

/* ---- argument lists ---- */

void loop_opt_args_free(loop_opt_args_t *args) {
  while (args->owned != NULL) {
    loop_opt_block_t *b = args->owned;
    args->owned = b->next;
    free(b->data);
    free(b);
  }
  free(args->v);
  memset(args, 0, sizeof(*args));
}

int loop_opt_args_own(loop_opt_args_t *args, void *data) {
  loop_opt_block_t *b = malloc(sizeof(*b));
  if (b == NULL)
    return -1;
  b->data = data;
  b->next = args->owned;
  args->owned = b;
  return 0;
}

static int args_push(loop_opt_args_t *args, loop_opt_arg_t a) {
  if (args->n == args->cap) {
    size_t cap = args->cap == 0 ? 16 : args->cap * 2;
    loop_opt_arg_t *v = realloc(args->v, cap * sizeof(*v));
    if (v == NULL)
      return -1;
    args->v = v;
    args->cap = cap;
  }
  args->v[args->n++] = a;
  return 0;
}

int loop_opts_find(const loop_opt_table_t *t, const char *name) {
  for (size_t i = 0; i < t->n; i++) {
    if (strcmp(t->opts[i].name, name) == 0)
      return (int)i;
  }
  return -1;
}

/* ---- values ---- */

/* An integer with an optional binary suffix: 8388608, 8M, 512k, 1G. */
static int parse_uint(const char *text, bool suffix, uint64_t *out) {
  if (*text < '0' || *text > '9')
    return -1;
  errno = 0;
  char *end;
  unsigned long long v = strtoull(text, &end, 10);
  if (errno != 0)
    return -1;
  uint64_t mult = 1;
  if (suffix) {
    switch (*end) {
    case 'k':
    case 'K':
      mult = 1024;
      end++;
      break;
    case 'm':
    case 'M':
      mult = 1024 * 1024;
      end++;
      break;
    case 'g':
    case 'G':
      mult = 1024 * 1024 * 1024;
      end++;
      break;
    default:
      break;
    }
  }
  if (*end != '\0' || v > UINT64_MAX / mult)
    return -1;
  *out = v * mult;
  return 0;
}

/* Seconds, fractions allowed ("0.5"), to milliseconds in [min, max]; the
 * bounds apply before rounding, so 0.0006 s is below 1 ms. */
static int parse_seconds(const char *text, uint64_t min_ms, uint64_t max_ms, uint64_t *out_ms) {
  if (!((*text >= '0' && *text <= '9') || *text == '.'))
    return -1;
  errno = 0;
  char *end;
  double s = strtod(text, &end);
  if (errno != 0 || *end != '\0' || !isfinite(s) || s < 0)
    return -1;
  double ms = s * 1000.0;
  if (ms < (double)min_ms || ms > (double)max_ms)
    return -1;
  *out_ms = (uint64_t)llround(ms);
  return 0;
}

/* The field's own width decides how the value is stored; the table's max
 * keeps it in range (a unit test checks every entry). */
static void store_uint(void *dst, size_t size, uint64_t v) {
  switch (size) {
  case 1:
    *(uint8_t *)dst = (uint8_t)v;
    break;
  case 2:
    *(uint16_t *)dst = (uint16_t)v;
    break;
  case 4:
    *(uint32_t *)dst = (uint32_t)v;
    break;
  default:
    *(uint64_t *)dst = v;
    break;
  }
}

/* 4294967296 as "4G", for messages. */
static void format_size(uint64_t v, char *out, size_t cap) {
  static const char suffixes[] = "kMG";
  int s = -1;
  while (s < 2 && v >= 1024 && v % 1024 == 0) {
    v /= 1024;
    s++;
  }
  if (s < 0)
    snprintf(out, cap, "%llu", (unsigned long long)v);
  else
    snprintf(out, cap, "%llu%c", (unsigned long long)v, suffixes[s]);
}

static void join_words(const char *const *words, char *out, size_t cap) {
  size_t used = 0;
  out[0] = '\0';
  for (size_t i = 0; words[i] != NULL && used < cap; i++)
    used += (size_t)snprintf(out + used, cap - used, "%s%s", i > 0 ? ", " : "", words[i]);
}

/* What a value of o must be, for "'x' is not ...". */
static void describe(const loop_option_t *o, char *out, size_t cap) {
  char lo[32], hi[32];
  switch (o->kind) {
  case LOOP_OPT_FLAG:
    snprintf(out, cap, "one of ");
    join_words(flag_words, out + strlen(out), cap - strlen(out));
    return;
  case LOOP_OPT_UINT:
    snprintf(out, cap, "%sa number%s%s from %llu to %llu",
             o->flags & LOOP_OPT_ZERO_OK ? "0 or " : "", o->unit != NULL ? " of " : "",
             o->unit != NULL ? o->unit : "", (unsigned long long)o->min,
             (unsigned long long)o->max);
    return;
  case LOOP_OPT_SIZE:
    format_size(o->min, lo, sizeof(lo));
    format_size(o->max, hi, sizeof(hi));
    snprintf(out, cap, "a size from %s to %s (suffixes k, M, G)", lo, hi);
    return;
  case LOOP_OPT_SECONDS:
    snprintf(out, cap, "a number of seconds from %g to %g", (double)o->min / 1000.0,
             (double)o->max / 1000.0);
    return;
  case LOOP_OPT_ENUM:
    snprintf(out, cap, "one of ");
    join_words(o->choices, out + strlen(out), cap - strlen(out));
    return;
  case LOOP_OPT_ADDR:
    snprintf(out, cap, "%s%s", o->expect != NULL ? o->expect : "ADDR:PORT (IPv6 as [ADDR]:PORT)",
             o->flags & LOOP_OPT_OFF ? " or off" : "");
    return;
  default:
    snprintf(out, cap, "%s", o->expect != NULL ? o->expect : "valid");
    return;
  }
}

static int parse_flag(const char *value, bool *out) {
  if (value == NULL) {
    *out = true;
    return 0;
  }
  for (size_t i = 0; flag_words[i] != NULL; i++) {
    if (strcmp(value, flag_words[i]) == 0) {
      *out = i < 4;
      return 0;
    }
  }
  return -1;
}

static int parse_number(const loop_option_t *o, const char *value, uint64_t *v) {
  switch (o->kind) {
  case LOOP_OPT_UINT:
    if (parse_uint(value, (o->flags & LOOP_OPT_SUFFIX) != 0, v) != 0)
      return -1;
    if ((o->flags & LOOP_OPT_ZERO_OK) && *v == 0)
      return 0;
    break;
  case LOOP_OPT_SIZE:
    if (parse_uint(value, true, v) != 0)
      return -1;
    break;
  default: /* LOOP_OPT_SECONDS */
    return parse_seconds(value, o->min, o->max, v);
  }
  return *v < o->min || *v > o->max ? -1 : 0;
}

/* An address, or "off" for an OFF option. A list is either "off" or
 * addresses, never both from one source. */
static int parse_addr(const loop_option_t *o, void *base, void *dst, const char *value, char *why,
                      size_t whylen) {
  bool *on = (o->flags & LOOP_OPT_OFF) ? field(base, o->on_offset) : NULL;
  bool listed = (o->flags & LOOP_OPT_REPEAT) && *count_of(o, base) > 0;
  if (on != NULL && strcmp(value, "off") == 0) {
    if (listed)
      return loop_opts_fail(why, whylen, "'off' cannot be combined with addresses");
    *on = false;
    return 0;
  }
  if (on != NULL && !*on && (o->flags & LOOP_OPT_REPEAT))
    return loop_opts_fail(why, whylen, "'off' cannot be combined with addresses");
  if (loop_parse_addr(value, dst) != 0)
    return -1;
  if (on != NULL)
    *on = true;
  return 0;
}

/* Parse value into dst (the field, or the next element of a list).
 * Returns 1 if a list element was added, 0 if stored otherwise, -1 on
 * error (why set, or empty for the generic message). */
static int parse_value(const loop_option_t *o, void *base, void *dst, const char *value, char *why,
                       size_t whylen) {
  uint64_t v;
  bool flag;
  switch (o->kind) {
  case LOOP_OPT_FLAG:
    if (parse_flag(value, &flag) != 0)
      return -1;
    *(bool *)dst = (o->flags & LOOP_OPT_INVERT) ? !flag : flag;
    return 0;
  case LOOP_OPT_STRING:
    *(const char **)dst = value;
    return 1;
  case LOOP_OPT_ADDR:
    if (parse_addr(o, base, dst, value, why, whylen) != 0)
      return -1;
    return strcmp(value, "off") != 0;
  case LOOP_OPT_ENUM:
    for (size_t i = 0; o->choices[i] != NULL; i++) {
      if (strcmp(value, o->choices[i]) == 0) {
        store_uint(dst, o->size, i);
        return 0;
      }
    }
    return -1;
  case LOOP_OPT_CUSTOM:
    return o->set(base, value, why, whylen) != 0 ? -1 : 0;
  default:
    if (parse_number(o, value, &v) != 0)
      return -1;
    store_uint(dst, o->size, v);
    return 0;
  }
}

static void arg_label(const loop_opt_table_t *t, const loop_opt_arg_t *a, char *out, size_t cap) {
  const char *name = t->opts[a->opt].name;
  switch (a->source) {
  case LOOP_SRC_FILE:
    snprintf(out, cap, "%s:%u: %s", a->file, a->line, name);
    return;
  case LOOP_SRC_ENV: {
    size_t used = (size_t)snprintf(out, cap, "%s", t->env_prefix);
    for (const char *p = name; *p != '\0' && used + 1 < cap; p++)
      out[used++] = *p == '-' ? '_' : (char)(*p >= 'a' && *p <= 'z' ? *p - 'a' + 'A' : *p);
    out[used < cap ? used : cap - 1] = '\0';
    return;
  }
  case LOOP_SRC_DEFAULT:
    snprintf(out, cap, "the default of --%s", name);
    return;
  default:
    snprintf(out, cap, "--%s", name);
    return;
  }
}

/* One argument into base; for a list, the element goes after the others. */
static int apply_one(const loop_opt_table_t *t, void *base, const loop_opt_arg_t *a, char *err,
                     size_t errlen) {
  const loop_option_t *o = &t->opts[a->opt];
  char label[LOOP_OPTS_MAX_LINE + 64];
  char why[512] = "";
  void *dst = field(base, o->offset);
  if ((o->flags & LOOP_OPT_REPEAT) && o->kind != LOOP_OPT_CUSTOM) {
    size_t *n = count_of(o, base);
    if (*n >= o->max_items && !(o->kind == LOOP_OPT_ADDR && strcmp(a->value, "off") == 0)) {
      arg_label(t, a, label, sizeof(label));
      return loop_opts_fail(err, errlen, "%s: at most %zu %s", label, o->max_items, o->items);
    }
    dst = (char *)dst + *n * o->size;
  }
  int rc = parse_value(o, base, dst, a->value, why, sizeof(why));
  if (rc > 0 && (o->flags & LOOP_OPT_REPEAT) && o->kind != LOOP_OPT_CUSTOM)
    (*count_of(o, base))++;
  if (rc >= 0)
    return 0;
  arg_label(t, a, label, sizeof(label));
  if (why[0] != '\0')
    return loop_opts_fail(err, errlen, "%s: %s", label, why);
  char expect[256];
  describe(o, expect, sizeof(expect));
  return loop_opts_fail(err, errlen, "%s: '%.*s' is not %s", label, QUOTE_MAX, a->value, expect);
}

/* A list about to be given anew: empty, and on. */
static void reset_list(const loop_option_t *o, void *base) {
  *count_of(o, base) = 0;
  if (o->flags & LOOP_OPT_OFF)
    *(bool *)field(base, o->on_offset) = true;
}

int loop_opts_apply(const loop_opt_table_t *t, void *base, const loop_opt_args_t *const *lists,
                    size_t n_lists, char *err, size_t errlen) {
  /* The highest source seen so far, per option: a list named by a higher
   * source starts over, so that sources never mix. */
  unsigned char seen[LOOP_OPTS_MAX_OPTIONS] = {0};
  for (size_t l = 0; l < n_lists; l++) {
    for (size_t i = 0; i < lists[l]->n; i++) {
      const loop_opt_arg_t *a = &lists[l]->v[i];
      const loop_option_t *o = &t->opts[a->opt];
      if ((o->flags & LOOP_OPT_REPEAT) && a->source > seen[a->opt])
        reset_list(o, base);
      if (a->source > seen[a->opt])
        seen[a->opt] = a->source;
      if (apply_one(t, base, a, err, errlen) != 0)
        return -1;
    }
  }
  return 0;
}

int loop_opts_defaults(const loop_opt_table_t *t, void *base, char *err, size_t errlen) {
  loop_opt_args_t defaults = {0};
  for (size_t i = 0; i < t->n; i++) {
    if (t->opts[i].def == NULL)
      continue;
    if (t->opts[i].flags & LOOP_OPT_REPEAT)
      reset_list(&t->opts[i], base); /* the default is the whole list */
    loop_opt_arg_t a = {
        .opt = (unsigned short)i, .source = LOOP_SRC_DEFAULT, .value = t->opts[i].def};
    if (args_push(&defaults, a) != 0) {
      loop_opt_args_free(&defaults);
      return loop_opts_fail(err, errlen, "out of memory");
    }
  }
  const loop_opt_args_t *lists[] = {&defaults};
  int rc = loop_opts_apply(t, base, lists, 1, err, errlen);
  loop_opt_args_free(&defaults);
  return rc;
}

bool loop_opts_same(const loop_option_t *o, const void *a, const void *b) {
  const char *fa = (const char *)a + o->offset, *fb = (const char *)b + o->offset;
  if ((o->flags & LOOP_OPT_OFF) && *(const bool *)((const char *)a + o->on_offset) !=
                                       *(const bool *)((const char *)b + o->on_offset))
    return false;
  size_t n = 1;
  if (o->flags & LOOP_OPT_REPEAT) {
    n = *(const size_t *)((const char *)a + o->count_offset);
    if (n != *(const size_t *)((const char *)b + o->count_offset))
      return false;
  }
  for (size_t i = 0; i < n; i++, fa += o->size, fb += o->size) {
    if (o->kind == LOOP_OPT_STRING) {
      const char *sa = *(const char *const *)fa, *sb = *(const char *const *)fb;
      if ((sa == NULL) != (sb == NULL) || (sa != NULL && strcmp(sa, sb) != 0))
        return false;
    } else if (memcmp(fa, fb, o->size) != 0) {
      return false;
    }
  }
  return true;
}

/* ---- sources ---- */

int loop_opts_from_argv(const loop_opt_table_t *t, int argc, char **argv, loop_opt_args_t *out,
                        char *err, size_t errlen) {
  struct option longopts[LOOP_OPTS_MAX_OPTIONS + 1];
  char shorts[2 * LOOP_OPTS_MAX_OPTIONS + 2] = ":";
  size_t ns = 1;
  for (size_t i = 0; i < t->n; i++) {
    const loop_option_t *o = &t->opts[i];
    int has_arg = o->kind == LOOP_OPT_FLAG ? no_argument : required_argument;
    longopts[i] = (struct option){o->name, has_arg, NULL, 256 + (int)i};
    if (o->short_name != 0) {
      shorts[ns++] = o->short_name;
      if (o->kind != LOOP_OPT_FLAG)
        shorts[ns++] = ':';
    }
  }
  longopts[t->n] = (struct option){NULL, 0, NULL, 0};
  shorts[ns] = '\0';
  /* getopt keeps global state; reset it so that parsing can run more
   * than once in one process (the unit tests do). */
  optind = 0;
  opterr = 0;
  int c;
  while ((c = getopt_long(argc, argv, shorts, longopts, NULL)) != -1) {
    int idx = c >= 256 ? c - 256 : -1;
    for (size_t i = 0; idx < 0 && c > 0 && c < 256 && i < t->n; i++) {
      if (t->opts[i].short_name == c)
        idx = (int)i;
    }
    if (c == ':')
      return loop_opts_fail(err, errlen, "%s needs a value", argv[optind - 1]);
    if (c == '?' && optopt >= 256)
      return loop_opts_fail(err, errlen, "--%s takes no value", t->opts[optopt - 256].name);
    if (idx < 0)
      return loop_opts_fail(err, errlen, "unknown option '%s' (try --help)", argv[optind - 1]);
    loop_opt_arg_t a = {.opt = (unsigned short)idx, .source = LOOP_SRC_CLI, .value = optarg};
    if (args_push(out, a) != 0)
      return loop_opts_fail(err, errlen, "out of memory");
  }
  if (optind < argc)
    return loop_opts_fail(err, errlen, "unexpected argument '%s' (try --help)", argv[optind]);
  return 0;
}

/* PREFIX_MAX_CONNECTIONS to max-connections; -1 if it cannot be a name. */
static int env_to_name(const char *env, size_t len, char *out, size_t cap) {
  if (len == 0 || len >= cap)
    return -1;
  for (size_t i = 0; i < len; i++) {
    char ch = env[i];
    if (ch >= 'A' && ch <= 'Z')
      out[i] = (char)(ch - 'A' + 'a');
    else if (ch == '_')
      out[i] = '-';
    else if (ch >= '0' && ch <= '9')
      out[i] = ch;
    else
      return -1;
  }
  out[len] = '\0';
  return 0;
}

/* Cut a list's value at its commas into arguments. With KEYED, a piece
 * without '=' belongs to the item before it ("a=1.2.3.4,1.2.3.5"). */
static int push_pieces(loop_opt_args_t *out, loop_opt_arg_t a, char *value, bool keyed) {
  char *item = value;
  for (char *p = value;; p++) {
    if (*p != ',' && *p != '\0')
      continue;
    char *next = p + 1;
    bool more = *p == ',';
    if (more && keyed) {
      char *end = strchr(next, ',');
      size_t len = end != NULL ? (size_t)(end - next) : strlen(next);
      if (memchr(next, '=', len) == NULL)
        continue; /* the next piece continues this item */
    }
    *p = '\0';
    a.value = item;
    if (args_push(out, a) != 0)
      return -1;
    if (!more)
      return 0;
    item = next;
  }
}

static int env_entry(const loop_opt_table_t *t, const char *entry, loop_opt_args_t *out, char *err,
                     size_t errlen) {
  size_t plen = strlen(t->env_prefix);
  const char *eq = strchr(entry, '=');
  if (eq == NULL || strncmp(entry, t->env_prefix, plen) != 0)
    return 0;
  int len = (int)(eq - entry);
  char name[64];
  int idx = env_to_name(entry + plen, (size_t)(eq - entry) - plen, name, sizeof(name)) == 0
                ? loop_opts_find(t, name)
                : -1;
  if (idx < 0 || (t->opts[idx].flags & LOOP_OPT_CLI)) {
    size_t used = strlen(out->ignored);
    snprintf(out->ignored + used, sizeof(out->ignored) - used, "%s%.*s", used > 0 ? ", " : "", len,
             entry);
    return 0;
  }
  const loop_option_t *o = &t->opts[idx];
  if (eq[1] == '\0')
    return 0; /* empty: as if unset */
  char *value = strdup(eq + 1);
  if (value == NULL || loop_opt_args_own(out, value) != 0) {
    free(value);
    return loop_opts_fail(err, errlen, "out of memory");
  }
  loop_opt_arg_t a = {.opt = (unsigned short)idx, .source = LOOP_SRC_ENV, .value = value};
  int rc = (o->flags & LOOP_OPT_REPEAT)
               ? push_pieces(out, a, value, (o->flags & LOOP_OPT_KEYED) != 0)
               : args_push(out, a);
  return rc != 0 ? loop_opts_fail(err, errlen, "out of memory") : 0;
}

int loop_opts_from_env(const loop_opt_table_t *t, char *const *envp, loop_opt_args_t *out,
                       char *err, size_t errlen) {
  for (size_t i = 0; envp != NULL && envp[i] != NULL; i++) {
    if (env_entry(t, envp[i], out, err, errlen) != 0)
      return -1;
  }
  return 0;
}

/* ---- config files ---- */

static bool is_blank(char c) {
  return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f';
}

static char *trim(char *s, char *end) {
  while (s < end && is_blank(*s))
    s++;
  while (end > s && is_blank(end[-1]))
    end--;
  *end = '\0';
  return s;
}

/* One line, cut in place; its NAME and VALUE (NULL without '=') go to out. */
static int file_line(const loop_opt_table_t *t, const char *path, unsigned line, char *s, char *end,
                     loop_opt_args_t *out, char *err, size_t errlen) {
  for (char *p = s; p < end; p++) {
    if (*p == '#' && (p == s || is_blank(p[-1]))) {
      end = p;
      break;
    }
  }
  char *eq = memchr(s, '=', (size_t)(end - s));
  char *value = eq != NULL ? trim(eq + 1, end) : NULL;
  char *name = trim(s, eq != NULL ? eq : end);
  if (*name == '\0') {
    if (eq == NULL)
      return 0; /* blank or comment */
    return loop_opts_fail(err, errlen, "%s:%u: a value without a name", path, line);
  }
  int idx = loop_opts_find(t, name);
  if (idx < 0 && strncmp(name, "--", 2) == 0 && loop_opts_find(t, name + 2) >= 0)
    return loop_opts_fail(err, errlen, "%s:%u: write '%s' without the dashes", path, line,
                          name + 2);
  if (idx < 0)
    return loop_opts_fail(err, errlen, "%s:%u: unknown option '%.*s'", path, line, QUOTE_MAX, name);
  const loop_option_t *o = &t->opts[idx];
  if (o->flags & (LOOP_OPT_CLI | LOOP_OPT_NO_FILE))
    return loop_opts_fail(err, errlen, "%s:%u: '%s' cannot be set in a config file", path, line,
                          name);
  if (value == NULL && o->kind != LOOP_OPT_FLAG)
    return loop_opts_fail(err, errlen, "%s:%u: %s needs a value (%s=%s)", path, line, name, name,
                          o->metavar != NULL ? o->metavar : "VALUE");
  loop_opt_arg_t a = {.opt = (unsigned short)idx,
                      .source = LOOP_SRC_FILE,
                      .line = line,
                      .file = path,
                      .value = value};
  return args_push(out, a) != 0 ? loop_opts_fail(err, errlen, "out of memory") : 0;
}

int loop_opts_from_text(const loop_opt_table_t *t, const char *path, char *text, size_t len,
                        loop_opt_args_t *out, char *err, size_t errlen) {
  if (loop_opt_args_own(out, text) != 0) {
    free(text);
    return loop_opts_fail(err, errlen, "out of memory");
  }
  char *p = text, *end = text + len;
  if (len >= 3 && memcmp(p, "\xEF\xBB\xBF", 3) == 0)
    p += 3; /* a UTF-8 byte order mark, as some editors write */
  for (unsigned line = 1; p < end; line++) {
    char *nl = memchr(p, '\n', (size_t)(end - p));
    char *eol = nl != NULL ? nl : end;
    if (memchr(p, '\0', (size_t)(eol - p)) != NULL)
      return loop_opts_fail(err, errlen, "%s:%u: a NUL byte (not a text file?)", path, line);
    if ((size_t)(eol - p) > LOOP_OPTS_MAX_LINE)
      return loop_opts_fail(err, errlen, "%s:%u: line longer than %d bytes", path, line,
                            LOOP_OPTS_MAX_LINE);
    if (file_line(t, path, line, p, eol, out, err, errlen) != 0)
      return -1;
    p = eol + 1;
  }
  return 0;
}

/* strerror is not thread-safe, and reloads read on a worker thread; with
 * _GNU_SOURCE strerror_r is the GNU one, returning the message. */
static const char *errno_text(int e, char *buf, size_t cap) {
  return strerror_r(e, buf, cap);
}

int loop_opts_read_file(const char *path, size_t max, char **text, size_t *len, char *err,
                        size_t errlen) {
  char ebuf[128];
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return loop_opts_fail(err, errlen, "%s: %s", path, errno_text(errno, ebuf, sizeof(ebuf)));
  struct stat st;
  int e = fstat(fd, &st) != 0 ? errno : S_ISDIR(st.st_mode) ? EISDIR : 0;
  if (e != 0) {
    close(fd);
    return loop_opts_fail(err, errlen, "%s: %s", path, errno_text(e, ebuf, sizeof(ebuf)));
  }
  /* /dev/zero and pipes have no size: read in steps, up to max + 1. */
  size_t cap = S_ISREG(st.st_mode) && (uint64_t)st.st_size < max ? (size_t)st.st_size + 1 : 4096;
  size_t used = 0;
  char *buf = NULL;
  int rc = -1;
  for (;;) {
    if (used == cap || buf == NULL) {
      cap = buf == NULL ? cap : (cap * 2 > max + 1 ? max + 1 : cap * 2);
      char *grown = realloc(buf, cap + 1);
      if (grown == NULL) {
        loop_opts_fail(err, errlen, "%s: out of memory", path);
        break;
      }
      buf = grown;
    }
    ssize_t n = read(fd, buf + used, cap - used);
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0) {
      loop_opts_fail(err, errlen, "%s: %s", path, errno_text(errno, ebuf, sizeof(ebuf)));
      break;
    }
    used += (size_t)n;
    if (used > max) {
      loop_opts_fail(err, errlen, "%s: larger than %zu bytes", path, max);
      break;
    }
    if (n == 0) {
      buf[used] = '\0';
      *text = buf;
      *len = used;
      buf = NULL;
      rc = 0;
      break;
    }
  }
  free(buf);
  close(fd);
  return rc;
}

/* ---- --help and the man page ---- */

/* "(repeatable, at most 16; default 127.0.0.1:4343; reread on SIGHUP)",
 * from the entry's flags and default. */
static void help_suffix(const loop_option_t *o, char *out, size_t cap) {
  size_t used = 0;
  const char *def = o->def_text != NULL ? o->def_text : o->def;
  if (o->kind == LOOP_OPT_FLAG)
    def = o->def_text; /* "off" goes without saying */
  out[0] = '\0';
  if (o->flags & LOOP_OPT_REPEAT)
    used += (size_t)snprintf(out + used, cap - used, "repeatable, at most %zu", o->max_items);
  if (def != NULL && used < cap)
    used += (size_t)snprintf(out + used, cap - used, "%sdefault %s", used > 0 ? "; " : "", def);
  if ((o->flags & LOOP_OPT_RELOAD) && used < cap)
    snprintf(out + used, cap - used, "%sreread on SIGHUP", used > 0 ? "; " : "");
}

/* Write words from text, breaking lines before width; continuation lines
 * start at indent. col is where the cursor is. */
static void wrap(FILE *out, const char *text, size_t col, size_t indent) {
  const char *p = text;
  bool first = true;
  while (*p != '\0') {
    while (*p == ' ')
      p++;
    size_t w = strcspn(p, " ");
    if (w == 0)
      break;
    if (!first && col + 1 + w > HELP_WIDTH) {
      fprintf(out, "\n%*s", (int)indent, "");
      col = indent;
    } else if (!first) {
      fputc(' ', out);
      col++;
    }
    fwrite(p, 1, w, out);
    col += w;
    p += w;
    first = false;
  }
  fputc('\n', out);
}

static void help_text(const loop_option_t *o, char *out, size_t cap) {
  char suffix[256];
  help_suffix(o, suffix, sizeof(suffix));
  snprintf(out, cap, "%s%s%s%s", o->help, suffix[0] != '\0' ? " (" : "", suffix,
           suffix[0] != '\0' ? ")" : "");
}

void loop_opts_help(const loop_opt_table_t *t, FILE *out) {
  char left[128], text[2048];
  for (size_t i = 0; i < t->n; i++) {
    const loop_option_t *o = &t->opts[i];
    if (o->section != NULL)
      fprintf(out, "\n%s:\n", o->section);
    if (o->flags & LOOP_OPT_HIDDEN)
      continue;
    if (o->short_name != 0)
      snprintf(left, sizeof(left), "  -%c, --%s", o->short_name, o->name);
    else
      snprintf(left, sizeof(left), "  --%s", o->name);
    if (o->metavar != NULL)
      snprintf(left + strlen(left), sizeof(left) - strlen(left), " %s", o->metavar);
    size_t col = strlen(left);
    fputs(left, out);
    int pad = col + 2 <= HELP_COLUMN ? (int)(HELP_COLUMN - col) : 2;
    fprintf(out, "%*s", pad, "");
    help_text(o, text, sizeof(text));
    wrap(out, text, col + (size_t)pad, HELP_COLUMN);
  }
}

void loop_opts_help_doc(const loop_opt_doc_t *doc, FILE *out) {
  fprintf(out, "\n%s:\n", doc->title);
  for (const char *p = doc->text; *p != '\0';) {
    const char *end = strstr(p, "\n\n");
    size_t len = end != NULL ? (size_t)(end - p) : strlen(p);
    char para[2048];
    snprintf(para, sizeof(para), "%.*s", (int)len, p);
    if (p != doc->text)
      fputc('\n', out);
    if (strncmp(para, "  ", 2) == 0) {
      /* An example: indented under the text, lines kept. */
      char *save = NULL;
      for (char *line = strtok_r(para, "\n", &save); line != NULL;
           line = strtok_r(NULL, "\n", &save))
        fprintf(out, "  %s\n", line);
    } else {
      for (char *c = para; *c != '\0'; c++)
        *c = *c == '\n' ? ' ' : *c;
      fputs("  ", out);
      wrap(out, para, 2, 2);
    }
    p += len;
    while (*p == '\n')
      p++;
  }
}

/* roff: a backslash is \e, a hyphen \- (option names must copy and paste
 * as ASCII), and a line may not start with a control character. */
static void roff(FILE *out, const char *text, size_t len) {
  bool line_start = true;
  for (size_t i = 0; i < len; i++) {
    char c = text[i];
    if (line_start && (c == '.' || c == '\''))
      fputs("\\&", out);
    if (c == '\\')
      fputs("\\e", out);
    else if (c == '-')
      fputs("\\-", out);
    else
      fputc(c, out);
    line_start = c == '\n';
  }
}

static void roff_str(FILE *out, const char *text) {
  roff(out, text, strlen(text));
}

static void man_doc(FILE *out, const loop_opt_doc_t *doc) {
  fputs(".SH ", out);
  for (const char *c = doc->title; *c != '\0'; c++)
    fputc(*c >= 'a' && *c <= 'z' ? *c - 'a' + 'A' : *c, out);
  fputc('\n', out);
  for (const char *p = doc->text; *p != '\0';) {
    const char *end = strstr(p, "\n\n");
    size_t len = end != NULL ? (size_t)(end - p) : strlen(p);
    bool verbatim = strncmp(p, "  ", 2) == 0;
    fputs(verbatim ? ".PP\n.nf\n" : ".PP\n", out);
    roff(out, p, len);
    fputs(verbatim ? "\n.fi\n" : "\n", out);
    p += len;
    while (*p == '\n')
      p++;
  }
}

static void man_option(FILE *out, const loop_option_t *o) {
  char text[2048];
  fputs(".TP\n", out);
  if (o->short_name != 0)
    fprintf(out, "\\fB\\-%c\\fR, ", o->short_name);
  fputs("\\fB\\-\\-", out);
  roff_str(out, o->name);
  fputs("\\fR", out);
  if (o->metavar != NULL) {
    fputs(" \\fI", out);
    roff_str(out, o->metavar);
    fputs("\\fR", out);
  }
  fputc('\n', out);
  help_text(o, text, sizeof(text));
  roff_str(out, text);
  fputc('\n', out);
}

void loop_opts_man(const loop_opt_table_t *t, const loop_opt_man_t *m, FILE *out) {
  char upper[64];
  size_t i;
  for (i = 0; m->name[i] != '\0' && i + 1 < sizeof(upper); i++)
    upper[i] = m->name[i] >= 'a' && m->name[i] <= 'z' ? m->name[i] - 'a' + 'A' : m->name[i];
  upper[i] = '\0';
  fprintf(out, ".\\\" Generated by %s --man from its option table; do not edit.\n", m->name);
  fprintf(out, ".TH %s %d \"\" \"%s %s\" \"System Administration\"\n", upper, m->section, m->name,
          m->version);
  fprintf(out, ".SH NAME\n%s \\- ", m->name);
  roff_str(out, m->summary);
  fprintf(out, "\n.SH SYNOPSIS\n.B %s\n", m->name);
  roff_str(out, m->synopsis);
  fputc('\n', out);
  for (i = 0; i < m->n_before; i++)
    man_doc(out, &m->before[i]);
  fputs(".SH OPTIONS\n", out);
  for (i = 0; i < t->n; i++) {
    const loop_option_t *o = &t->opts[i];
    if (o->section != NULL) {
      fputs(".SS \"", out);
      roff_str(out, o->section);
      fputs("\"\n", out);
    }
    if (!(o->flags & LOOP_OPT_HIDDEN))
      man_option(out, o);
  }
  for (i = 0; i < m->n_after; i++)
    man_doc(out, &m->after[i]);
}
