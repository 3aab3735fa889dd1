/* Unit tests for the option table engine (loop_options): every kind, the
 * three sources, precedence, config file errors, --help and roff, on a
 * small table of its own. dnsortd's table is tested in test_loop_config.c. */
#include "test_util.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include "loop_addr.h"
#include "loop_options.h"

typedef struct {
  bool flag;
  bool on;                     /* "--keep": INVERT */
  const char *name;
  struct sockaddr_storage addr;
  bool addr_on;
  struct sockaddr_storage addrs[3];
  size_t n_addrs;
  bool addrs_on;
  uint32_t num;
  uint8_t small;
  uint64_t size;
  uint64_t ms;
  int color;
  int64_t slice;
  const char *items[3];
  size_t n_items;
  const char *specs[4];
  size_t n_specs;
  int custom;
  bool help;
} conf_t;

static int set_even(void *base, const char *value, char *why, size_t whylen) {
  int v = atoi(value);
  if (v % 2 != 0) {
    snprintf(why, whylen, "%d is odd", v);
    return -1;
  }
  ((conf_t *)base)->custom = v;
  return 0;
}

static const char *const colors[] = {"red", "green", "blue", NULL};

#define F(f) .offset = offsetof(conf_t, f), .size = sizeof(((conf_t *)0)->f)
#define L(a, c, n, w)                                                                    \
  .offset = offsetof(conf_t, a), .size = sizeof(((conf_t *)0)->a[0]),                    \
  .count_offset = offsetof(conf_t, c), .max_items = (n), .items = (w)

static const loop_option_t opts[] = {
    {.section = "First", .name = "flag", .kind = LOOP_OPT_FLAG, F(flag), .help = "a flag"},
    {.name = "no-keep", .kind = LOOP_OPT_FLAG, .flags = LOOP_OPT_INVERT, F(on), .def = "no",
     .help = "do not keep"},
    {.name = "name", .kind = LOOP_OPT_STRING, .metavar = "TEXT", F(name), .help = "a name"},
    {.name = "addr", .kind = LOOP_OPT_ADDR, .flags = LOOP_OPT_OFF, .metavar = "ADDR:PORT",
     F(addr), .on_offset = offsetof(conf_t, addr_on), .def = "127.0.0.1:1", .help = "one"},
    {.name = "listen", .kind = LOOP_OPT_ADDR, .flags = LOOP_OPT_REPEAT | LOOP_OPT_OFF,
     .metavar = "ADDR:PORT", L(addrs, n_addrs, 3, "addresses"),
     .on_offset = offsetof(conf_t, addrs_on), .def = "127.0.0.1:2", .help = "several"},
    {.section = "Second", .name = "num", .kind = LOOP_OPT_UINT, .metavar = "N", F(num),
     .min = 1, .max = 100, .unit = "things", .def = "5", .help = "a number"},
    {.name = "small", .kind = LOOP_OPT_UINT, .flags = LOOP_OPT_SUFFIX, .metavar = "N", F(small),
     .min = 0, .max = 200, .help = "a byte"},
    {.name = "size", .kind = LOOP_OPT_SIZE, .metavar = "SIZE", F(size), .min = 1,
     .max = 4ull << 30, .def = "8M", .help = "a size"},
    {.name = "wait", .kind = LOOP_OPT_SECONDS, .metavar = "S", F(ms), .min = 1, .max = 86400000,
     .def = "10", .help = "a time"},
    {.name = "color", .kind = LOOP_OPT_ENUM, .metavar = "COLOR", F(color), .choices = colors,
     .def = "green", .help = "a color"},
    {.name = "slice", .kind = LOOP_OPT_UINT, .flags = LOOP_OPT_ZERO_OK, .metavar = "N", F(slice),
     .min = 100, .max = 1000, .help = "zero or a range"},
    {.name = "item", .kind = LOOP_OPT_STRING, .flags = LOOP_OPT_REPEAT | LOOP_OPT_RELOAD,
     .metavar = "X", L(items, n_items, 3, "items"), .help = "a list"},
    {.name = "spec", .kind = LOOP_OPT_STRING, .flags = LOOP_OPT_REPEAT | LOOP_OPT_KEYED,
     .metavar = "K=V[,V]", L(specs, n_specs, 4, "specs"), .help = "keyed"},
    {.name = "even", .kind = LOOP_OPT_CUSTOM, .metavar = "N", .set = set_even,
     .expect = "an even number", .help = "custom"},
    {.name = "help", .short_name = 'h', .kind = LOOP_OPT_FLAG, .flags = LOOP_OPT_CLI, F(help),
     .help = "help"},
    {.name = "secret", .kind = LOOP_OPT_FLAG, .flags = LOOP_OPT_CLI | LOOP_OPT_HIDDEN, F(help),
     .help = "hidden"},
};

static const loop_opt_table_t table = {opts, ARRAY_LEN(opts), "TEST_"};

typedef struct {
  conf_t c;
  loop_opt_args_t file, env, cli;
  char err[512];
} fixture_t;

static int setup(void **state) {
  fixture_t *fx = calloc(1, sizeof(*fx));
  if (fx == NULL || loop_opts_defaults(&table, &fx->c, fx->err, sizeof(fx->err)) != 0)
    return -1;
  *state = fx;
  return 0;
}

static int teardown(void **state) {
  fixture_t *fx = *state;
  loop_opt_args_free(&fx->file);
  loop_opt_args_free(&fx->env);
  loop_opt_args_free(&fx->cli);
  free(fx);
  return 0;
}

/* Collect argv (NULL-terminated, argv[0] included) and apply it alone. */
static int cli(fixture_t *fx, char **argv) {
  int argc = 0;
  while (argv[argc] != NULL)
    argc++;
  loop_opt_args_free(&fx->cli);
  if (loop_opts_from_argv(&table, argc, argv, &fx->cli, fx->err, sizeof(fx->err)) != 0)
    return -1;
  const loop_opt_args_t *lists[] = {&fx->cli};
  return loop_opts_apply(&table, &fx->c, lists, 1, fx->err, sizeof(fx->err));
}

#define CLI(fx, ...) cli(fx, (char *[]){"prog", __VA_ARGS__, NULL})

/* A config file's text (copied: the list owns what it parses). */
static int text(fixture_t *fx, const char *s) {
  char *copy = strdup(s);
  assert_non_null(copy);
  loop_opt_args_free(&fx->file);
  return loop_opts_from_text(&table, "test.conf", copy, strlen(s), &fx->file, fx->err,
                             sizeof(fx->err));
}

static int apply_file(fixture_t *fx, const char *s) {
  if (text(fx, s) != 0)
    return -1;
  const loop_opt_args_t *lists[] = {&fx->file};
  return loop_opts_apply(&table, &fx->c, lists, 1, fx->err, sizeof(fx->err));
}

static void test_defaults(void **state) {
  fixture_t *fx = *state;
  char addr[64];
  assert_true(fx->c.on);
  assert_false(fx->c.flag);
  assert_true(fx->c.addr_on);
  assert_true(fx->c.addrs_on);
  assert_int_equal(fx->c.n_addrs, 1);
  loop_format_addr((struct sockaddr *)&fx->c.addrs[0], addr, sizeof(addr));
  assert_string_equal(addr, "127.0.0.1:2");
  assert_int_equal(fx->c.num, 5);
  assert_int_equal(fx->c.size, 8u << 20);
  assert_int_equal(fx->c.ms, 10000);
  assert_int_equal(fx->c.color, 1);
  assert_null(fx->c.name);
}

static void test_each_kind_parses(void **state) {
  fixture_t *fx = *state;
  assert_int_equal(CLI(fx, "--flag", "--no-keep", "--name", "x y", "--addr", "[::1]:53",
                       "--num", "100", "--small", "200", "--size", "4G", "--wait", "0.25",
                       "--color=blue", "--slice", "0", "--even", "4"),
                   0);
  assert_true(fx->c.flag);
  assert_false(fx->c.on);
  assert_string_equal(fx->c.name, "x y");
  assert_int_equal(fx->c.addr.ss_family, AF_INET6);
  assert_int_equal(fx->c.num, 100);
  assert_int_equal(fx->c.small, 200);
  assert_int_equal(fx->c.size, 4ull << 30);
  assert_int_equal(fx->c.ms, 250);
  assert_int_equal(fx->c.color, 2);
  assert_int_equal(fx->c.slice, 0);
  assert_int_equal(fx->c.custom, 4);
  assert_int_equal(CLI(fx, "--slice", "100", "--small", "0"), 0);
  assert_int_equal(fx->c.slice, 100);
  assert_int_equal(fx->c.small, 0);
}

static void expect_error(fixture_t *fx, int rc, const char *want) {
  assert_int_equal(rc, -1);
  assert_string_equal(fx->err, want);
}

static void test_each_kind_names_its_limits(void **state) {
  fixture_t *fx = *state;
  expect_error(fx, CLI(fx, "--num", "101"), "--num: '101' is not a number of things from 1 to 100");
  expect_error(fx, CLI(fx, "--num", "0"), "--num: '0' is not a number of things from 1 to 100");
  expect_error(fx, CLI(fx, "--num", "1k"), "--num: '1k' is not a number of things from 1 to 100");
  expect_error(fx, CLI(fx, "--small", "1k"), "--small: '1k' is not a number from 0 to 200");
  expect_error(fx, CLI(fx, "--size", "4294967297"),
               "--size: '4294967297' is not a size from 1 to 4G (suffixes k, M, G)");
  expect_error(fx, CLI(fx, "--size", "0"), "--size: '0' is not a size from 1 to 4G (suffixes k, M, G)");
  expect_error(fx, CLI(fx, "--size", "99999999999999999999G"),
               "--size: '99999999999999999999G' is not a size from 1 to 4G (suffixes k, M, G)");
  expect_error(fx, CLI(fx, "--wait", "0"), "--wait: '0' is not a number of seconds from 0.001 to 86400");
  expect_error(fx, CLI(fx, "--wait", "0.0006"),
               "--wait: '0.0006' is not a number of seconds from 0.001 to 86400");
  expect_error(fx, CLI(fx, "--wait", "86400.0001"),
               "--wait: '86400.0001' is not a number of seconds from 0.001 to 86400");
  expect_error(fx, CLI(fx, "--wait", "1x"), "--wait: '1x' is not a number of seconds from 0.001 to 86400");
  expect_error(fx, CLI(fx, "--wait", "1e999"),
               "--wait: '1e999' is not a number of seconds from 0.001 to 86400");
  expect_error(fx, CLI(fx, "--wait", "nan"), "--wait: 'nan' is not a number of seconds from 0.001 to 86400");
  expect_error(fx, CLI(fx, "--wait", "-1"), "--wait: '-1' is not a number of seconds from 0.001 to 86400");
  expect_error(fx, CLI(fx, "--color", "Red"), "--color: 'Red' is not one of red, green, blue");
  expect_error(fx, CLI(fx, "--slice", "99"), "--slice: '99' is not 0 or a number from 100 to 1000");
  expect_error(fx, CLI(fx, "--addr", "1.2.3.4"),
               "--addr: '1.2.3.4' is not ADDR:PORT (IPv6 as [ADDR]:PORT) or off");
  expect_error(fx, CLI(fx, "--even", "3"), "--even: 3 is odd");
  expect_error(fx, CLI(fx, "--flag=yes"), "--flag takes no value");
  expect_error(fx, CLI(fx, "--num"), "--num needs a value");
  expect_error(fx, CLI(fx, "--bogus"), "unknown option '--bogus' (try --help)");
  expect_error(fx, CLI(fx, "-x"), "unknown option '-x' (try --help)");
  expect_error(fx, CLI(fx, "stray"), "unexpected argument 'stray' (try --help)");
}

static void test_lists_and_off(void **state) {
  fixture_t *fx = *state;
  /* The first value replaces the default; later ones add. */
  assert_int_equal(CLI(fx, "--listen", "127.0.0.1:5", "--listen", "[::1]:6"), 0);
  assert_int_equal(fx->c.n_addrs, 2);
  assert_true(fx->c.addrs_on);
  expect_error(fx, CLI(fx, "--listen", "1.1.1.1:1", "--listen", "1.1.1.1:2", "--listen",
                       "1.1.1.1:3", "--listen", "1.1.1.1:4"),
               "--listen: at most 3 addresses");
  assert_int_equal(CLI(fx, "--listen", "off"), 0);
  assert_false(fx->c.addrs_on);
  assert_int_equal(fx->c.n_addrs, 0);
  expect_error(fx, CLI(fx, "--listen", "off", "--listen", "1.1.1.1:1"),
               "--listen: 'off' cannot be combined with addresses");
  expect_error(fx, CLI(fx, "--listen", "1.1.1.1:1", "--listen", "off"),
               "--listen: 'off' cannot be combined with addresses");
  /* A single address: the last word wins, off or not. */
  assert_int_equal(CLI(fx, "--addr", "off"), 0);
  assert_false(fx->c.addr_on);
  assert_int_equal(CLI(fx, "--addr", "off", "--addr", "127.0.0.1:9"), 0);
  assert_true(fx->c.addr_on);
  expect_error(fx, CLI(fx, "--item", "a", "--item", "b", "--item", "c", "--item", "d"),
               "--item: at most 3 items");
}

static void test_config_file_syntax(void **state) {
  fixture_t *fx = *state;
  assert_int_equal(apply_file(fx, "\xEF\xBB\xBF# a comment\n"
                                  "\n"
                                  "   num = 7   \r\n"
                                  "flag\n"
                                  "\tname=a#b   # a comment after a blank\n"
                                  "item=one\n"
                                  "item = two words\n"
                                  "no-keep=yes\n"
                                  "color=red"),
                   0);
  assert_int_equal(fx->c.num, 7);
  assert_true(fx->c.flag);
  assert_string_equal(fx->c.name, "a#b");
  assert_int_equal(fx->c.n_items, 2);
  assert_string_equal(fx->c.items[1], "two words");
  assert_false(fx->c.on);
  assert_int_equal(fx->c.color, 0);
  assert_int_equal(apply_file(fx, "flag=off\nno-keep=0\n"), 0);
  assert_false(fx->c.flag);
  assert_true(fx->c.on);
  assert_int_equal(apply_file(fx, "name=\n"), 0);  /* empty is a value */
  assert_string_equal(fx->c.name, "");
}

static void test_config_file_errors_name_file_and_line(void **state) {
  fixture_t *fx = *state;
  expect_error(fx, text(fx, "num=1\nbogus=2\n"), "test.conf:2: unknown option 'bogus'");
  expect_error(fx, text(fx, "--num=2\n"), "test.conf:1: write 'num' without the dashes");
  expect_error(fx, text(fx, "\n\nnum\n"), "test.conf:3: num needs a value (num=N)");
  expect_error(fx, text(fx, "help\n"), "test.conf:1: 'help' cannot be set in a config file");
  expect_error(fx, text(fx, " = 3\n"), "test.conf:1: a value without a name");
  expect_error(fx, apply_file(fx, "num=1\n\nnum=x\n"),
               "test.conf:3: num: 'x' is not a number of things from 1 to 100");
  expect_error(fx, apply_file(fx, "flag=maybe\n"),
               "test.conf:1: flag: 'maybe' is not one of yes, true, on, 1, no, false, off, 0");
  expect_error(fx, apply_file(fx, "even=5\n"), "test.conf:1: even: 5 is odd");
  expect_error(fx, apply_file(fx, "item=a\nitem=b\nitem=c\nitem=d\n"),
               "test.conf:4: item: at most 3 items");
  char *nul = malloc(8);
  assert_non_null(nul);
  memcpy(nul, "num=1\nx\0y", 8);
  loop_opt_args_free(&fx->file);
  expect_error(fx, loop_opts_from_text(&table, "test.conf", nul, 8, &fx->file, fx->err,
                                       sizeof(fx->err)),
               "test.conf:2: a NUL byte (not a text file?)");
}

static void test_config_file_line_limit(void **state) {
  fixture_t *fx = *state;
  char *line = malloc(LOOP_OPTS_MAX_LINE + 8);
  assert_non_null(line);
  /* At the limit: "name=" and padding, then one byte past it. */
  memset(line, 'a', LOOP_OPTS_MAX_LINE + 1);
  memcpy(line, "name=", 5);
  line[LOOP_OPTS_MAX_LINE] = '\0';
  assert_int_equal(apply_file(fx, line), 0);
  assert_int_equal(strlen(fx->c.name), LOOP_OPTS_MAX_LINE - 5);
  line[LOOP_OPTS_MAX_LINE] = 'a';
  line[LOOP_OPTS_MAX_LINE + 1] = '\0';
  expect_error(fx, text(fx, line), "test.conf:1: line longer than 4096 bytes");
  free(line);
}

static void write_file(const char *path, const char *data, size_t len) {
  FILE *f = fopen(path, "wb");
  assert_non_null(f);
  assert_int_equal(fwrite(data, 1, len, f), len);
  assert_int_equal(fclose(f), 0);
}

static void test_read_file_bounds(void **state) {
  fixture_t *fx = *state;
  char path[] = "/tmp/dnsort-options-XXXXXX";
  int fd = mkstemp(path);
  assert_true(fd >= 0);
  close(fd);
  char *data = malloc(100001);
  assert_non_null(data);
  memset(data, 'x', 100001);
  write_file(path, data, 100000);
  char *got;
  size_t len;
  assert_int_equal(loop_opts_read_file(path, 100000, &got, &len, fx->err, sizeof(fx->err)), 0);
  assert_int_equal(len, 100000);
  assert_int_equal(got[len], '\0');
  free(got);
  write_file(path, data, 100001);
  assert_int_equal(loop_opts_read_file(path, 100000, &got, &len, fx->err, sizeof(fx->err)), -1);
  assert_non_null(strstr(fx->err, "larger than 100000 bytes"));
  write_file(path, "", 0);
  assert_int_equal(loop_opts_read_file(path, 100000, &got, &len, fx->err, sizeof(fx->err)), 0);
  assert_int_equal(len, 0);
  free(got);
  unlink(path);
  free(data);
  char want[64];
  snprintf(want, sizeof(want), "%s: No such file or directory", path);
  expect_error(fx, loop_opts_read_file(path, 100, &got, &len, fx->err, sizeof(fx->err)), want);
  expect_error(fx, loop_opts_read_file("/tmp", 100, &got, &len, fx->err, sizeof(fx->err)),
               "/tmp: Is a directory");
  /* No size to go by: read in steps up to the bound. */
  assert_int_equal(loop_opts_read_file("/dev/zero", 100000, &got, &len, fx->err, sizeof(fx->err)), -1);
  assert_string_equal(fx->err, "/dev/zero: larger than 100000 bytes");
}

static void test_environment(void **state) {
  fixture_t *fx = *state;
  char *envp[] = {"PATH=/bin", "TEST_NUM=9", "TEST_LISTEN=127.0.0.1:7,[::1]:8",
                  "TEST_SPEC=a=1,2,b=3,c=4,5,6", "TEST_NAME=", "TEST_FLAG=yes",
                  "TEST_NO_KEEP=true", "TESTING=1", NULL};
  assert_int_equal(loop_opts_from_env(&table, envp, &fx->env, fx->err, sizeof(fx->err)), 0);
  const loop_opt_args_t *lists[] = {&fx->env};
  assert_int_equal(loop_opts_apply(&table, &fx->c, lists, 1, fx->err, sizeof(fx->err)), 0);
  assert_int_equal(fx->c.num, 9);
  assert_int_equal(fx->c.n_addrs, 2);
  assert_int_equal(fx->c.addrs[1].ss_family, AF_INET6);
  assert_int_equal(fx->c.n_specs, 3);
  assert_string_equal(fx->c.specs[0], "a=1,2");
  assert_string_equal(fx->c.specs[1], "b=3");
  assert_string_equal(fx->c.specs[2], "c=4,5,6");
  assert_null(fx->c.name);  /* empty: unset */
  assert_true(fx->c.flag);
  assert_false(fx->c.on);

  assert_string_equal(fx->env.ignored, "");

  /* Not options (another program's, a typo, lower case, the command
   * line's own): set aside for a warning. */
  loop_opt_args_free(&fx->env);
  char *others[] = {"TEST_NUMBER=1", "TEST_num=1", "TEST_HELP=1", "TEST_=1", NULL};
  assert_int_equal(loop_opts_from_env(&table, others, &fx->env, fx->err, sizeof(fx->err)), 0);
  assert_int_equal(fx->env.n, 0);
  assert_string_equal(fx->env.ignored, "TEST_NUMBER, TEST_num, TEST_HELP, TEST_");
  loop_opt_args_free(&fx->env);
  char *value[] = {"TEST_NUM=0", NULL};
  assert_int_equal(loop_opts_from_env(&table, value, &fx->env, fx->err, sizeof(fx->err)), 0);
  expect_error(fx, loop_opts_apply(&table, &fx->c, lists, 1, fx->err, sizeof(fx->err)),
               "TEST_NUM: '0' is not a number of things from 1 to 100");
}

static void test_precedence_cli_env_file(void **state) {
  fixture_t *fx = *state;
  assert_int_equal(text(fx, "num=1\nsmall=1\nsize=1\nitem=f1\nitem=f2\nlisten=127.0.0.1:10\n"
                            "spec=k=file\n"),
                   0);
  char *envp[] = {"TEST_SMALL=2", "TEST_SIZE=2", "TEST_ITEM=e1", NULL};
  assert_int_equal(loop_opts_from_env(&table, envp, &fx->env, fx->err, sizeof(fx->err)), 0);
  char *argv[] = {"prog", "--size", "3", "--listen", "127.0.0.1:11", "--listen", "127.0.0.1:12",
                  NULL};
  assert_int_equal(loop_opts_from_argv(&table, 7, argv, &fx->cli, fx->err, sizeof(fx->err)), 0);
  const loop_opt_args_t *lists[] = {&fx->file, &fx->env, &fx->cli};
  assert_int_equal(loop_opts_apply(&table, &fx->c, lists, 3, fx->err, sizeof(fx->err)), 0);
  assert_int_equal(fx->c.num, 1);    /* file only */
  assert_int_equal(fx->c.small, 2);  /* env over file */
  assert_int_equal(fx->c.size, 3);   /* command line over both */
  /* Lists come whole from the highest source that names them. */
  assert_int_equal(fx->c.n_items, 1);
  assert_string_equal(fx->c.items[0], "e1");
  assert_int_equal(fx->c.n_addrs, 2);
  char addr[64];
  loop_format_addr((struct sockaddr *)&fx->c.addrs[0], addr, sizeof(addr));
  assert_string_equal(addr, "127.0.0.1:11");
  assert_int_equal(fx->c.n_specs, 1);
  assert_string_equal(fx->c.specs[0], "k=file");
}

static void test_same(void **state) {
  fixture_t *fx = *state;
  conf_t *other = calloc(1, sizeof(*other));
  assert_non_null(other);
  assert_int_equal(loop_opts_defaults(&table, other, fx->err, sizeof(fx->err)), 0);
  for (size_t i = 0; i < table.n; i++)
    assert_true(loop_opts_same(&opts[i], &fx->c, other));
  int num = loop_opts_find(&table, "num"), item = loop_opts_find(&table, "item");
  int name = loop_opts_find(&table, "name"), listen = loop_opts_find(&table, "listen");
  other->num = 6;
  other->items[0] = "x";
  other->n_items = 1;
  other->name = "n";
  other->addrs_on = false;
  assert_false(loop_opts_same(&opts[num], &fx->c, other));
  assert_false(loop_opts_same(&opts[item], &fx->c, other));
  assert_false(loop_opts_same(&opts[name], &fx->c, other));
  assert_false(loop_opts_same(&opts[listen], &fx->c, other));
  fx->c.items[0] = strdup("x");
  fx->c.n_items = 1;
  assert_true(loop_opts_same(&opts[item], &fx->c, other));  /* by content */
  free((char *)fx->c.items[0]);
  free(other);
}

static void test_a_bad_default_is_named(void **state) {
  fixture_t *fx = *state;
  static const loop_option_t broken[] = {
      {.name = "num", .kind = LOOP_OPT_UINT, .metavar = "N", F(num), .min = 1, .max = 9,
       .def = "10", .help = "a default past its own limit"},
  };
  loop_opt_table_t t = {broken, 1, "TEST_"};
  expect_error(fx, loop_opts_defaults(&t, &fx->c, fx->err, sizeof(fx->err)),
               "the default of --num: '10' is not a number from 1 to 9");
}

/* Render with f into a string. */
static char *render(void (*f)(FILE *)) {
  char *buf = NULL;
  size_t len = 0;
  FILE *out = open_memstream(&buf, &len);
  assert_non_null(out);
  f(out);
  assert_int_equal(fclose(out), 0);
  return buf;
}

static void help_of_table(FILE *out) { loop_opts_help(&table, out); }

static void man_of_table(FILE *out) {
  static const loop_opt_doc_t doc = {"Notes", ".dot at the start\n\n  example -x\\y"};
  loop_opt_man_t m = {.name = "prog", .section = 8, .version = "1.0", .summary = "a test",
                      .synopsis = "[OPTION]...", .after = &doc, .n_after = 1};
  loop_opts_man(&table, &m, out);
}

static void test_help_and_man_list_every_visible_option(void **state) {
  (void)state;
  char *help = render(help_of_table);
  char *man = render(man_of_table);
  char want[128];
  for (size_t i = 0; i < table.n; i++) {
    /* At the start of a line, after "-h, " for the short ones. */
    snprintf(want, sizeof(want), "%s--%s ", opts[i].short_name ? ", " : "\n  ", opts[i].name);
    bool hidden = (opts[i].flags & LOOP_OPT_HIDDEN) != 0;
    assert_int_equal(strstr(help, want) != NULL, !hidden);
    char roffed[128] = "\\fB\\-\\-";
    size_t n = strlen(roffed);
    for (const char *p = opts[i].name; *p != '\0'; p++)
      n += (size_t)snprintf(roffed + n, sizeof(roffed) - n, *p == '-' ? "\\-" : "%c", *p);
    assert_int_equal(strstr(man, roffed) != NULL, !hidden);
  }
  assert_non_null(strstr(help, "\nFirst:\n"));
  assert_non_null(strstr(help, "  -h, --help"));
  /* The rest as one line of words (wrapping may fall anywhere). */
  char *flat = strdup(help);
  assert_non_null(flat);
  size_t w = 0;
  for (size_t r = 0; flat[r] != '\0'; r++) {
    char ch = flat[r] == '\n' ? ' ' : flat[r];
    if (ch != ' ' || (w > 0 && flat[w - 1] != ' '))
      flat[w++] = ch;
  }
  flat[w] = '\0';
  assert_non_null(strstr(flat, "several (repeatable, at most 3; default 127.0.0.1:2)"));
  assert_non_null(strstr(flat, "a list (repeatable, at most 3; reread on SIGHUP)"));
  assert_non_null(strstr(flat, "a size (default 8M)"));
  assert_non_null(strstr(flat, "do not keep --name"));  /* a flag says no default */
  free(flat);
  /* Wrapped at 79 columns. */
  for (char *line = help; line != NULL && *line != '\0';) {
    char *nl = strchr(line, '\n');
    size_t len = nl != NULL ? (size_t)(nl - line) : strlen(line);
    assert_true(len <= 79);
    line = nl != NULL ? nl + 1 : NULL;
  }
  assert_non_null(strstr(man, ".TH PROG 8 \"\" \"prog 1.0\""));
  assert_non_null(strstr(man, ".SS \"Second\"\n"));
  assert_non_null(strstr(man, ".SH NOTES\n.PP\n\\&.dot at the start\n"));
  assert_non_null(strstr(man, ".nf\n  example \\-x\\ey\n.fi\n"));
  free(help);
  free(man);
}

int main(void) {
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
  const struct CMUnitTest tests[] = {
      T(test_defaults),
      T(test_each_kind_parses),
      T(test_each_kind_names_its_limits),
      T(test_lists_and_off),
      T(test_config_file_syntax),
      T(test_config_file_errors_name_file_and_line),
      T(test_config_file_line_limit),
      T(test_read_file_bounds),
      T(test_environment),
      T(test_precedence_cli_env_file),
      T(test_same),
      T(test_a_bad_default_is_named),
      T(test_help_and_man_list_every_visible_option),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
