/* dnsort-load: a load generator for dnsortd. main() parses the command
 * line, prepares payloads and queries, runs the loop until the run ends,
 * prints the report and maps the outcome to the exit status (see --help). */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <uv.h>

#include "load_opts.h"
#include "load_run.h"

#ifndef DNSORT_VERSION
#define DNSORT_VERSION "unknown"
#endif

#define EXIT_USAGE 2
#define EXIT_SETUP 3

int main(int argc, char **argv) {
  load_opts_t opts;
  char err[512];
  load_run_t *run = NULL;
  int status = EXIT_SETUP;

  switch (load_opts_parse(argc, argv, &opts, err, sizeof(err))) {
  case LOAD_OPTS_HELP:
    load_opts_usage(stdout);
    return 0;
  case LOAD_OPTS_VERSION:
    printf("dnsort-load %s (libuv %s)\n", DNSORT_VERSION, uv_version_string());
    return 0;
  case LOAD_OPTS_ERROR:
    fprintf(stderr, "dnsort-load: %s\n", err);
    return EXIT_USAGE;
  case LOAD_OPTS_RUN:
    break;
  }

  /* A server that resets a connection must cost us a counted io_error, not
   * the process. */
  signal(SIGPIPE, SIG_IGN);

  int rc = load_run_create(&run, &opts, err, sizeof(err));
  if (rc != 0) {
    fprintf(stderr, "dnsort-load: %s\n", err);
    status = rc;
    goto done;
  }
  rc = load_run_execute(run, err, sizeof(err));
  if (rc != 0) {
    fprintf(stderr, "dnsort-load: %s\n", err);
    status = EXIT_SETUP;
    goto done;
  }
  load_run_report(run, stdout);
  fflush(stdout);
  status = load_run_exit_code(run);

done:
  if (run != NULL) {
    rc = load_run_destroy(run);
    if (rc != 0) {
      /* A handle left open is a bug here; say so rather than hide it. */
      fprintf(stderr, "dnsort-load: uv_loop_close: %s\n", uv_strerror(rc));
      status = EXIT_SETUP;
    }
  }
  return status;
}
