/* load_run: one run of dnsort-load on one libuv loop. It sets up a
 * generator (load_gen) for each back-end the mode selects (load_dns,
 * load_sort), starts them at one instant, sweeps their timeouts, prints
 * progress, ends the run at --duration, on SIGINT or when every generator
 * has stopped and drained, and gathers the report. */
#ifndef DNSORT_LOAD_RUN_H
#define DNSORT_LOAD_RUN_H

#include <stddef.h>
#include <stdio.h>

#include "load_opts.h"

typedef struct load_run load_run_t;

/* Allocates the run; 0, 2 (bad setting, e.g. an unreadable --payload) or 3
 * (could not set up), with a one-line reason in err. */
int load_run_create(load_run_t **out, const load_opts_t *opts, char *err, size_t errlen);
/* Runs to the end; 0, or a negative libuv code with a one-line reason in
 * err (the run has then been closed down). */
int load_run_execute(load_run_t *run, char *err, size_t errlen);
void load_run_report(load_run_t *run, FILE *f);
/* 0: every request succeeded (with --ramp: some step held); 1 otherwise. */
int load_run_exit_code(const load_run_t *run);
/* Frees everything; returns uv_loop_close's result (0 when every handle
 * was closed). */
int load_run_destroy(load_run_t *run);

#endif
