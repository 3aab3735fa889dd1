/* sort_job: one request, start to finish, without sockets: decode the body,
 * gnome-sort, encode the reply (or an error object). This is what a worker
 * thread runs, and what the fuzzer drives. */
#ifndef DNSORT_SORT_JOB_H
#define DNSORT_SORT_JOB_H

#include <stddef.h>

#include "sort_num.h"

typedef struct {
  size_t max_elements;
} sort_job_limits_t;

typedef enum {
  SORT_JOB_OK = 0,    /* reply holds the sorted array */
  SORT_JOB_BAD_INPUT, /* reply holds {"error": ...} */
  SORT_JOB_CANCELLED, /* ctl->cancel was set; no reply */
  SORT_JOB_TIMED_OUT, /* ctl->deadline_ns passed during the sort; no
                       * reply: the caller words the error, it knows
                       * the limit it set */
  SORT_JOB_NOMEM,     /* no reply */
} sort_job_status_t;

/* Run a request body. *reply is malloc'd (caller frees), *reply_len set.
 * limits must not be NULL; ctl may be (no cancel flag, deadline or yield;
 * see sort_ctl_t). On CANCELLED, TIMED_OUT and NOMEM, *reply is NULL. */
sort_job_status_t sort_job_run(const char *body, size_t len,
                               const sort_job_limits_t *limits,
                               const sort_ctl_t *ctl, char **reply,
                               size_t *reply_len);

#endif
