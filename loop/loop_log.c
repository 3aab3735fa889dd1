#include "loop_log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

static loop_log_level_t current_level = LOOP_LOG_INFO;

static const char *const level_names[] = {"error", "warn", "info", "debug"};

void loop_log_set_level(loop_log_level_t level) { current_level = level; }

int loop_log_enabled(loop_log_level_t level) { return level <= current_level; }

int loop_log_parse_level(const char *text, loop_log_level_t *out) {
  for (size_t i = 0; i < sizeof(level_names) / sizeof(level_names[0]); i++) {
    if (strcmp(text, level_names[i]) == 0) {
      *out = (loop_log_level_t)i;
      return 0;
    }
  }
  return -1;
}

void loop_log(loop_log_level_t level, const char *fmt, ...) {
  if (!loop_log_enabled(level))
    return;

  char stamp[32];
  struct timespec now;
  struct tm tm;
  clock_gettime(CLOCK_REALTIME, &now);
  gmtime_r(&now.tv_sec, &tm);
  strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%S", &tm);

  /* Build the line first and write it with one call, so that lines from
   * different sources never interleave mid-line. */
  char line[1024];
  int off = snprintf(line, sizeof(line), "%s.%03ldZ dnsortd %s: ", stamp,
                     now.tv_nsec / 1000000L, level_names[level]);
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(line + off, sizeof(line) - (size_t)off - 1, fmt, ap);
  va_end(ap);
  size_t len = (size_t)off + (n < 0 ? 0 : (size_t)n);
  if (len > sizeof(line) - 2)
    len = sizeof(line) - 2;
  line[len++] = '\n';
  fwrite(line, 1, len, stderr);
}
