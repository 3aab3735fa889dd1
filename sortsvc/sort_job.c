#include "sort_job.h"

#include <stdlib.h>

#include "sort_json.h"

/* Long enough for every message sort_json_decode writes; the client text
 * inside them is capped well below this. */
#define SORT_JOB_ERR_LEN 160

sort_job_status_t sort_job_run(const char *body, size_t len,
                               const sort_job_limits_t *limits,
                               const sort_ctl_t *ctl, char **reply,
                               size_t *reply_len) {
  sort_job_status_t status;
  sort_nums_t nums;
  char err[SORT_JOB_ERR_LEN];

  *reply = NULL;
  *reply_len = 0;

  sort_json_status_t js = sort_json_decode(body, len, limits->max_elements,
                                           &nums, err, sizeof(err));
  if (js == SORT_JSON_NOMEM)
    return SORT_JOB_NOMEM;
  if (js != SORT_JSON_OK) {
    *reply = sort_json_error(err, reply_len);
    return *reply != NULL ? SORT_JOB_BAD_INPUT : SORT_JOB_NOMEM;
  }
  switch (sort_nums_sort(&nums, ctl)) {
  case SORT_DONE:
    *reply = sort_json_encode(&nums, reply_len);
    status = *reply != NULL ? SORT_JOB_OK : SORT_JOB_NOMEM;
    break;
  case SORT_TIMED_OUT:
    status = SORT_JOB_TIMED_OUT;
    break;
  case SORT_CANCELLED:
  default:
    status = SORT_JOB_CANCELLED;
    break;
  }
  sort_nums_free(&nums);
  return status;
}
