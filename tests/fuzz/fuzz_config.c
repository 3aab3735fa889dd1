/* libFuzzer target: any bytes as dnsortd's --config file, read the way
 * dnsortd reads it: loop_config_load with "--config PATH" and no
 * environment, the file being a memfd (/proc/self/fd/N) rewritten for each
 * input. So the whole path runs: reading (size bound, NUL bytes, a BOM),
 * cutting lines, every option's parser, the checks across options.
 *
 * Checks: success, or one error line that is "PATH:LINE: message" with
 * LINE within the file's lines, unless it is one of the checks across
 * options (which start with "--"); loading the same bytes twice gives the
 * same result, the same message or, option by option, the same values
 * (loop_opts_same); loop_config_free frees every string (LeakSanitizer). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "loop_config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_CHECK(cond) \
  do {                   \
    if (!(cond))         \
      abort();           \
  } while (0)

static int load(const char *path, loop_config_t *cfg, char *err,
                size_t errlen) {
  char *argv[] = {(char *)"dnsortd", (char *)"--config", (char *)path, NULL};
  err[0] = '\0';
  return loop_config_load(cfg, 3, argv, NULL, err, errlen);
}

/* Lines as the parser counts them: a last line needs no newline. */
static unsigned long count_lines(const uint8_t *data, size_t size) {
  unsigned long lines = 0;
  for (size_t i = 0; i < size; i++)
    lines += data[i] == '\n';
  return lines + (size > 0 && data[size - 1] != '\n');
}

static void check_error(const char *err, const char *path,
                        unsigned long lines) {
  size_t plen = strlen(path);
  FUZZ_CHECK(err[0] != '\0' && strchr(err, '\n') == NULL);
  if (strncmp(err, "--", 2) == 0)
    return; /* across options: "--unknown forward needs ..." */
  FUZZ_CHECK(strncmp(err, path, plen) == 0 && err[plen] == ':');
  char *end;
  unsigned long line = strtoul(err + plen + 1, &end, 10);
  FUZZ_CHECK(end != err + plen + 1 && end[0] == ':' && end[1] == ' ' &&
             end[2] != '\0');
  FUZZ_CHECK(line >= 1 && line <= lines);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static int fd = -1;
  static char path[64];
  static loop_config_t a, b;
  char err_a[512], err_b[512];

  if (fd < 0) {
    fd = memfd_create("fuzz_config", MFD_CLOEXEC);
    FUZZ_CHECK(fd >= 0);
    snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
  }
  FUZZ_CHECK(ftruncate(fd, 0) == 0);
  FUZZ_CHECK(pwrite(fd, data, size, 0) == (ssize_t)size);

  int ra = load(path, &a, err_a, sizeof(err_a));
  int rb = load(path, &b, err_b, sizeof(err_b));
  FUZZ_CHECK(ra == rb && (ra == 0 || ra == -1));
  if (ra != 0) {
    FUZZ_CHECK(strcmp(err_a, err_b) == 0);
    check_error(err_a, path, count_lines(data, size));
  } else {
    const loop_opt_table_t *t = loop_config_table();
    for (size_t i = 0; i < t->n; i++)
      FUZZ_CHECK(loop_opts_same(&t->opts[i], &a, &b));
  }
  loop_config_free(&a);
  loop_config_free(&b);
  return 0;
}
