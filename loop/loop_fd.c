#include "loop_fd.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <sys/resource.h>
#include <unistd.h>
#include <uv.h>

#include "loop_log.h"
#include "net_util.h"

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

int loop_fd_room(int fd) {
  /* The copy lives for two system calls; another thread that opens a file
   * in that instant (the reload thread) could find the last slot taken,
   * as it could with any accept on the loop. */
  int copy = fcntl(fd, F_DUPFD_CLOEXEC, 0);
  if (copy < 0)
    return uv_translate_sys_error(errno);
  close(copy);
  return 0;
}

loop_fd_event_t loop_fd_watch_note(loop_fd_watch_t *w, int room) {
  /* Only running out counts: any other failure (EBADF, EINVAL) says
   * nothing about room. */
  bool out = room == UV_EMFILE || room == UV_ENFILE;
  if (!out) {
    bool was = w->exhausted;
    w->exhausted = false;
    w->looks_out = 0;
    return was ? LOOP_FD_RECOVERED : LOOP_FD_QUIET;
  }
  w->error = room;
  if (!w->exhausted) {
    w->exhausted = true;
    w->exhaustions++;
  }
  return w->looks_out++ % LOOP_FD_WATCH_REPEAT == 0 ? LOOP_FD_EXHAUSTED : LOOP_FD_QUIET;
}

static void on_look(uv_timer_t *timer) {
  loop_fd_watch_t *w = container_of(timer, loop_fd_watch_t, timer);
  uint64_t looks = w->looks_out;
  switch (loop_fd_watch_note(w, loop_fd_room(w->probe_fd))) {
  case LOOP_FD_EXHAUSTED:
    if (w->error == UV_ENFILE)
      loop_log(LOOP_LOG_WARN,
               "the system's open-file table is full (ENFILE): new TCP connections (sort, DNS "
               "over TCP, metrics) are accepted and closed at once; raise fs.file-max or find "
               "what holds the files");
    else
      loop_log(LOOP_LOG_WARN,
               "open files %" PRIu64 " of limit %" PRIu64
               ": new TCP connections (sort, DNS over TCP, metrics) are accepted and closed at "
               "once; raise the limit (ulimit -n, systemd LimitNOFILE=) or lower "
               "--max-connections and --dns-tcp-max-connections",
               w->nofile, w->nofile);
    break;
  case LOOP_FD_RECOVERED:
    loop_log(LOOP_LOG_INFO,
             "file descriptors free again after about %" PRIu64
             " s; new TCP connections are accepted",
             looks * LOOP_FD_WATCH_INTERVAL_MS / 1000);
    break;
  case LOOP_FD_QUIET:
    break;
  }
}

int loop_fd_watch_start(loop_fd_watch_t *w, uv_loop_t *loop, uint64_t nofile) {
  w->nofile = nofile;
  w->probe_fd = uv_backend_fd(loop);
  int rc = uv_timer_init(loop, &w->timer);
  if (rc != 0)
    return rc;
  w->open = true;
  uv_unref((uv_handle_t *)&w->timer);
  return uv_timer_start(&w->timer, on_look, LOOP_FD_WATCH_INTERVAL_MS, LOOP_FD_WATCH_INTERVAL_MS);
}

void loop_fd_watch_close(loop_fd_watch_t *w) {
  if (!w->open)
    return;
  w->open = false;
  uv_close((uv_handle_t *)&w->timer, NULL);
}
