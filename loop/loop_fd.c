#include "loop_fd.h"

#include <errno.h>
#include <sys/resource.h>
#include <uv.h>

int loop_fd_raise_limit(uint64_t *before, uint64_t *after) {
  struct rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl) != 0) {
    *before = *after = 0;
    return uv_translate_sys_error(errno);
  }
  *before = *after = rl.rlim_cur;
  if (rl.rlim_cur == rl.rlim_max)
    return 0;
  rl.rlim_cur = rl.rlim_max;
  if (setrlimit(RLIMIT_NOFILE, &rl) != 0)
    return uv_translate_sys_error(errno);
  *after = rl.rlim_cur;
  return 0;
}

loop_fd_sort_limits_t loop_fd_sort_limits(uint64_t nofile, size_t reserve, size_t max_connections) {
  loop_fd_sort_limits_t out = {.max_connections = max_connections};
  uint64_t keep = reserve < nofile / 2 ? reserve : nofile / 2;
  uint64_t budget = nofile - keep;
  /* Does net_tcp's own hard limit, N + N/4 + 64, fit? Written so that
   * nothing can wrap. */
  if (max_connections <= budget && budget - max_connections >= max_connections / 4 + 64)
    return out;
  if (budget == 0)
    budget = 1;
  out.capped = true;
  out.hard_limit = (size_t)budget;
  uint64_t served = budget - budget / 5;
  if (served < out.max_connections)
    out.max_connections = (size_t)(served > 0 ? served : 1);
  return out;
}
