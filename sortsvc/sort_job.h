/* sort_job: one request, start to finish, without sockets: decode the body,
 * gnome-sort, encode the reply (or an error object). This is what a worker
 * thread runs, and what the fuzzer drives. */
#ifndef DNSORT_SORT_JOB_H
#define DNSORT_SORT_JOB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdatomic.h>

typedef struct {
  size_t max_elements;
} sort_job_limits_t;

typedef enum {
  SORT_JOB_OK = 0,       /* reply holds the sorted array */
  SORT_JOB_BAD_INPUT,    /* reply holds {"error": ...} */
  SORT_JOB_CANCELLED,    /* *cancel was set; no reply */
  SORT_JOB_NOMEM,        /* reply may be NULL */
} sort_job_status_t;

/* Run a request body. *reply is malloc'd (caller frees), *reply_len set.
 * limits must not be NULL; cancel may be. On CANCELLED and NOMEM, *reply
 * is NULL. */
sort_job_status_t sort_job_run(const char *body, size_t len,
                               const sort_job_limits_t *limits,
                               const atomic_bool *cancel, char **reply,
                               size_t *reply_len);

#endif
