#include "loop_sched.h"

#include <errno.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <uv.h>

/* The kernel's struct sched_attr (include/uapi/linux/sched/types.h); glibc
 * 2.36 has no wrapper and no public definition, so the first 48 bytes (the
 * SCHED_ATTR_SIZE_VER0 layout) are declared here. */
struct loop_sched_attr {
  uint32_t size;
  uint32_t sched_policy;
  uint64_t sched_flags;
  int32_t sched_nice;
  uint32_t sched_priority;
  uint64_t sched_runtime;
  uint64_t sched_deadline;
  uint64_t sched_period;
};

#define LOOP_SCHED_OTHER 0 /* SCHED_OTHER, without <sched.h>'s GNU extras */

loop_sched_plan_t loop_sched_plan(const loop_sched_request_t *req, unsigned cpus,
                                  unsigned uv_version) {
  loop_sched_plan_t plan;
  if (cpus == 0)
    cpus = 1;
  if (uv_version >= LOOP_SCHED_UV_NO_ASYNC_SPIN) {
    /* Every core sorts; nice 10 lets a woken loop thread take a core at
     * once (DNS p99 loaded/idle 0.63 with libuv 1.48). */
    plan = (loop_sched_plan_t){.threads = cpus,
                               .worker_nice = 10,
                               .yield_us = 0,
                               .loop_slice_us = 0,
                               .why = "libuv >= 1.45: a worker per CPU at nice 10"};
  } else {
    /* libuv 1.44's loop spins on a worker preempted inside uv_async_send;
     * at nice 10 that worker hardly gets the CPU back (a priority
     * inversion). Workers at nice 0 that give the CPU up every 50 us
     * let the spin end at once and keep a woken loop thread's wait
     * short, with every core sorting. */
    plan = (loop_sched_plan_t){
        .threads = cpus,
        .worker_nice = 0,
        .yield_us = 50,
        .loop_slice_us = 0,
        .why = "libuv < 1.45: a worker per CPU at nice 0, yielding every 50 us"};
  }
  if (req->threads != LOOP_SCHED_AUTO)
    plan.threads = (unsigned)req->threads;
  if (req->worker_nice != LOOP_SCHED_AUTO)
    plan.worker_nice = req->worker_nice;
  if (req->yield_us != LOOP_SCHED_AUTO)
    plan.yield_us = (uint64_t)req->yield_us;
  if (req->loop_slice_us != LOOP_SCHED_AUTO)
    plan.loop_slice_us = (uint64_t)req->loop_slice_us;
  if (req->threads != LOOP_SCHED_AUTO || req->worker_nice != LOOP_SCHED_AUTO ||
      req->yield_us != LOOP_SCHED_AUTO || req->loop_slice_us != LOOP_SCHED_AUTO)
    plan.why = "set by options";
  return plan;
}

int loop_sched_set_slice(uint64_t slice_us) {
  errno = 0;
  int nice_now = getpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid));
  if (nice_now == -1 && errno != 0)
    return uv_translate_sys_error(errno);
  struct loop_sched_attr attr;
  memset(&attr, 0, sizeof(attr));
  attr.size = sizeof(attr);
  attr.sched_policy = LOOP_SCHED_OTHER;
  attr.sched_nice = nice_now;
  attr.sched_runtime = slice_us * 1000u;
#ifdef SYS_sched_setattr
  if (syscall(SYS_sched_setattr, 0, &attr, 0) != 0)
    return uv_translate_sys_error(errno);
  /* Kernels before 6.12 accept sched_runtime for SCHED_OTHER and ignore
   * it; reading it back tells whether this one honours it. */
  struct loop_sched_attr back;
  memset(&back, 0, sizeof(back));
  if (syscall(SYS_sched_getattr, 0, &back, sizeof(back), 0) != 0)
    return uv_translate_sys_error(errno);
  if (back.sched_runtime != attr.sched_runtime)
    return UV_ENOTSUP;
  return 0;
#else
  (void)attr;
  return UV_ENOSYS;
#endif
}
