/* loop_log: one line per event on stderr, filtered by a process-wide level
 * that main() sets once before the loop starts. */
#ifndef DNSORT_LOOP_LOG_H
#define DNSORT_LOOP_LOG_H

typedef enum {
  LOOP_LOG_ERROR = 0,
  LOOP_LOG_WARN,
  LOOP_LOG_INFO,
  LOOP_LOG_DEBUG,
} loop_log_level_t;

void loop_log_set_level(loop_log_level_t level);
int loop_log_enabled(loop_log_level_t level);

/* Parse "error", "warn", "info", "debug". Returns 0 or -1. */
int loop_log_parse_level(const char *text, loop_log_level_t *out);

#if defined(__GNUC__)
__attribute__((format(printf, 2, 3)))
#endif
void loop_log(loop_log_level_t level, const char *fmt, ...);

#endif
