#include "sort_job.h"

#include <stdlib.h>

#include "sort_json.h"
#include "sort_num.h"

/* Long enough for every message sort_json_decode writes; the client text
 * inside them is capped well below this. */
#define SORT_JOB_ERR_LEN 160

sort_job_status_t sort_job_run(const char *body, size_t len,
                               const sort_job_limits_t *limits,
                               const atomic_bool *cancel, char **reply,
                               size_t *reply_len) {
  sort_job_status_t status;
  sort_num_t *nums = NULL;
  size_t n = 0;
  char err[SORT_JOB_ERR_LEN];

  *reply = NULL;
  *reply_len = 0;

  sort_json_status_t js = sort_json_decode(body, len, limits->max_elements,
                                           &nums, &n, err, sizeof(err));
  if (js == SORT_JSON_NOMEM) {
    status = SORT_JOB_NOMEM;
    goto done;
  }
  if (js != SORT_JSON_OK) {
    *reply = sort_json_error(err, reply_len);
    status = *reply != NULL ? SORT_JOB_BAD_INPUT : SORT_JOB_NOMEM;
    goto done;
  }
  if (!sort_gnome(nums, n, cancel)) {
    status = SORT_JOB_CANCELLED;
    goto done;
  }
  *reply = sort_json_encode(nums, n, reply_len);
  status = *reply != NULL ? SORT_JOB_OK : SORT_JOB_NOMEM;

done:
  free(nums);
  return status;
}
