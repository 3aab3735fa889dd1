/* loop_options: one table of options drives the command line, the
 * environment (PREFIX_NAME), a config file (NAME=VALUE lines), --help and
 * the man page. Each entry says how its value is written and checked
 * (kind, limits), where it goes (an offset into the caller's struct, or a
 * setter for the few special ones), its default and its help text.
 *
 * Reading is in two steps: each source is turned into a list of
 * (option, value) arguments, then the lists are applied in order of
 * precedence, lowest first (file, environment, command line): a later
 * value replaces an earlier one, and for a repeatable option the highest
 * source that names it replaces the whole list. Pure except
 * loop_opts_read_file (blocking: start-up or a worker thread). */
#ifndef DNSORT_LOOP_OPTIONS_H
#define DNSORT_LOOP_OPTIONS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

typedef enum {
  LOOP_OPT_FLAG,    /* bool; no value on the command line, yes/no elsewhere */
  LOOP_OPT_STRING,  /* const char *; the text is owned by the argument list */
  LOOP_OPT_ADDR,    /* struct sockaddr_storage from ADDR:PORT */
  LOOP_OPT_UINT,    /* an integer in [min, max], stored in a field of any
                       unsigned or signed width */
  LOOP_OPT_SIZE,    /* bytes in [min, max], suffixes k, M, G */
  LOOP_OPT_SECONDS, /* seconds, fractions allowed, stored in milliseconds;
                       min and max are milliseconds */
  LOOP_OPT_ENUM,    /* one of choices[], stored as its index (an enum) */
  LOOP_OPT_CUSTOM,  /* set() parses and stores */
} loop_opt_kind_t;

enum {
  /* A list: the array at offset (size is one element), a size_t count at
   * count_offset, at most max_items. */
  LOOP_OPT_REPEAT = 1u << 0,
  LOOP_OPT_SUFFIX = 1u << 1,  /* UINT: k, M, G accepted (x1024...) */
  LOOP_OPT_ZERO_OK = 1u << 2, /* UINT: 0, or in [min, max] */
  LOOP_OPT_OFF = 1u << 3,     /* ADDR: "off" clears the bool at on_offset,
                                 an address sets it */
  LOOP_OPT_INVERT = 1u << 4,  /* FLAG: given means false */
  LOOP_OPT_CLI = 1u << 5,     /* command line only (--help) */
  LOOP_OPT_NO_FILE = 1u << 6, /* not in a config file (--config itself) */
  LOOP_OPT_HIDDEN = 1u << 7,  /* neither in --help nor in the man page */
  LOOP_OPT_RELOAD = 1u << 8,  /* SIGHUP applies a new value */
  /* REPEAT, from the environment: a comma-separated piece without '='
   * continues the previous item (NAME=ADDR,ADDR lists). */
  LOOP_OPT_KEYED = 1u << 9,
};

typedef struct loop_option loop_option_t;

struct loop_option {
  const char *name; /* the long name, without dashes */
  char short_name;  /* 'h' for -h, or 0 */
  loop_opt_kind_t kind;
  unsigned flags;
  const char *metavar;        /* "ADDR:PORT" in --help; NULL for a flag */
  size_t offset;              /* the target field (REPEAT: the array) */
  size_t size;                /* its size (REPEAT: one element's) */
  size_t count_offset;        /* REPEAT: the size_t count */
  size_t on_offset;           /* OFF: the bool that says "on" */
  size_t max_items;           /* REPEAT */
  const char *items;          /* REPEAT: "files", for "at most 64 files" */
  uint64_t min, max;          /* UINT, SIZE; SECONDS in milliseconds */
  const char *unit;           /* UINT: "seconds" in "a number of seconds" */
  const char *const *choices; /* ENUM: NULL-terminated, by value */
  const char *expect;         /* ADDR, CUSTOM: what a value must be, for
                                 "'x' is not EXPECT" */
  /* CUSTOM: parse value and store it into base. Returns 0, or -1 with why
   * set (or left empty for "'value' is not EXPECT"). */
  int (*set)(void *base, const char *value, char *why, size_t whylen);
  const char *def;      /* the default, applied like any value;
                           NULL: none, or set by the caller */
  const char *def_text; /* the default as --help words it, when
                           def is NULL or says too little */
  const char *help;     /* one sentence or a few, no final period */
  const char *section;  /* starts a section of --help and the man
                           page; NULL: same as the entry before */
};

typedef struct {
  const loop_option_t *opts;
  size_t n;
  const char *env_prefix; /* "DNSORT_" */
} loop_opt_table_t;

/* Bounds of a config file: a wrong path (a binary, /dev/zero) is an
 * error, not a stall or a large allocation. */
#define LOOP_OPTS_MAX_LINE 4096
#define LOOP_OPTS_MAX_FILE (1024u * 1024u)
#define LOOP_OPTS_MAX_OPTIONS 128

typedef enum {
  LOOP_SRC_DEFAULT = 0,
  LOOP_SRC_FILE,
  LOOP_SRC_ENV,
  LOOP_SRC_CLI,
} loop_opt_source_t;

typedef struct {
  unsigned short opt;   /* index in the table */
  unsigned char source; /* loop_opt_source_t */
  unsigned line;        /* LOOP_SRC_FILE */
  const char *file;     /* LOOP_SRC_FILE: the path, for messages */
  const char *value;    /* NULL: a flag given without one */
} loop_opt_arg_t;

typedef struct loop_opt_block loop_opt_block_t;

/* Arguments in the order given, and the text they point into when the
 * list owns it (environment values, a file's text). */
typedef struct {
  loop_opt_arg_t *v;
  size_t n;
  size_t cap;
  loop_opt_block_t *owned;
  /* From the environment: PREFIX_ variables that name no option the
   * environment can set, "PREFIX_A, PREFIX_B" (cut short if many), for a
   * warning: other programs may share the prefix. */
  char ignored[256];
} loop_opt_args_t;

void loop_opt_args_free(loop_opt_args_t *args);

/* Take ownership of a malloc'd block: freed with the list. */
int loop_opt_args_own(loop_opt_args_t *args, void *block);

/* The command line (argv[0] is the program). Values point into argv.
 * Returns 0 or -1 with a message ("unknown option '--x' (try --help)"). */
int loop_opts_from_argv(const loop_opt_table_t *t, int argc, char **argv, loop_opt_args_t *out,
                        char *err, size_t errlen);

/* Every PREFIX_NAME=VALUE in envp (NAME: upper case, '_' for '-'); a
 * repeatable option's value is split at commas; an empty value counts as
 * unset. A PREFIX_ name that is no option, or one for the command line
 * only, goes to out->ignored (for a warning, so a typo is seen). Values
 * are copied. */
int loop_opts_from_env(const loop_opt_table_t *t, char *const *envp, loop_opt_args_t *out,
                       char *err, size_t errlen);

/* A config file's text: one NAME or NAME=VALUE per line, '#' at the start
 * of a line or after a blank starts a comment, blank lines and the blanks
 * around NAME and VALUE are ignored. The list takes ownership of text
 * (malloc'd, len bytes plus a NUL) and cuts it into values; path must
 * outlive the list. Errors are "PATH:LINE: message". */
int loop_opts_from_text(const loop_opt_table_t *t, const char *path, char *text, size_t len,
                        loop_opt_args_t *out, char *err, size_t errlen);

/* Read a whole file of at most max bytes into a malloc'd, NUL-terminated
 * buffer. Returns 0 or -1 with "PATH: reason". Thread-safe. */
int loop_opts_read_file(const char *path, size_t max, char **text, size_t *len, char *err,
                        size_t errlen);

/* Store every option's default into base. Returns 0, or -1 if a default
 * does not parse (a bug in the table: the unit tests apply them). */
int loop_opts_defaults(const loop_opt_table_t *t, void *base, char *err, size_t errlen);

/* Apply the lists in order, lowest precedence first. Returns 0 or -1
 * with a message naming the option as its source spells it: "--ttl: ...",
 * "DNSORT_TTL: ...", "dnsort.conf:3: ttl: ...". */
int loop_opts_apply(const loop_opt_table_t *t, void *base, const loop_opt_args_t *const *lists,
                    size_t n_lists, char *err, size_t errlen);

/* printf into err; returns -1, for "return loop_opts_fail(...)" in
 * parsers and setters. */
#if defined(__GNUC__)
__attribute__((format(printf, 3, 4)))
#endif
int loop_opts_fail(char *err, size_t errlen, const char *fmt, ...);

/* The index of the option named name (no dashes), or -1. */
int loop_opts_find(const loop_opt_table_t *t, const char *name);

/* Whether option o holds the same value in a and b. */
bool loop_opts_same(const loop_option_t *o, const void *a, const void *b);

/* --help: every option but the hidden ones, by section, wrapped. */
void loop_opts_help(const loop_opt_table_t *t, FILE *out);

/* Prose around the options, for --help and the man page: a title and
 * paragraphs separated by "\n\n"; a paragraph whose lines start with two
 * spaces is shown as is (an example). */
typedef struct {
  const char *title;
  const char *text;
} loop_opt_doc_t;

void loop_opts_help_doc(const loop_opt_doc_t *doc, FILE *out);

/* The man page (roff, man(7) macros): name, section, date, one-line
 * summary, synopsis, the docs before the options, the options, the docs
 * after. */
typedef struct {
  const char *name; /* "dnsortd" */
  int section;      /* 8 */
  const char *version;
  const char *summary;
  const char *synopsis; /* "[OPTION]..." */
  const loop_opt_doc_t *before;
  size_t n_before;
  const loop_opt_doc_t *after;
  size_t n_after;
} loop_opt_man_t;

void loop_opts_man(const loop_opt_table_t *t, const loop_opt_man_t *m, FILE *out);

#endif
