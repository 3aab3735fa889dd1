/* loop_sched: who gets the CPUs when sorts saturate the worker pool. The
 * pure part (loop_sched_plan) turns the operator's options, the CPU count
 * and the libuv version into the pool size and the workers' scheduling;
 * loop_sched_set_slice asks the kernel for a per-thread time slice. */
#ifndef DNSORT_LOOP_SCHED_H
#define DNSORT_LOOP_SCHED_H

#include <stdint.h>

/* The libuv release whose uv_async_send no longer makes the loop thread
 * spin on a preempted worker (libuv/libuv#3879): UV_VERSION_HEX layout. */
#define LOOP_SCHED_UV_NO_ASYNC_SPIN 0x012d00u /* 1.45.0 */

/* "Not given on the command line": the plan picks. */
#define LOOP_SCHED_AUTO (-1)

typedef struct {
  int threads;           /* --threads, or LOOP_SCHED_AUTO */
  int worker_nice;       /* --worker-nice, or LOOP_SCHED_AUTO */
  int64_t yield_us;      /* --worker-yield, or LOOP_SCHED_AUTO; 0: never */
  int64_t loop_slice_us; /* --loop-slice, or LOOP_SCHED_AUTO; 0: kernel's */
} loop_sched_request_t;

typedef struct {
  unsigned threads;
  int worker_nice;
  uint64_t yield_us;      /* a worker sorting this long yields the CPU */
  uint64_t loop_slice_us; /* the loop thread's time slice; 0 leaves it */
  const char *why;        /* one line for the start-up log */
} loop_sched_plan_t;

/* cpus >= 1; uv_version as uv_version() returns it. Requested values win;
 * the rest follow the measurements in bench/README.md ("Both cores sort,
 * DNS stays free"). */
loop_sched_plan_t loop_sched_plan(const loop_sched_request_t *req, unsigned cpus,
                                  unsigned uv_version);

/* Give the calling thread a time slice of slice_us (Linux >= 6.12,
 * SCHED_OTHER's sched_runtime), keeping its nice value. 0 or a negative
 * libuv error (UV_ENOSYS, UV_EINVAL on older kernels, UV_EPERM). */
int loop_sched_set_slice(uint64_t slice_us);

#endif
