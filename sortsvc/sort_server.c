#include "sort_server.h"

#include <inttypes.h>
#include <poll.h>
#include <sched.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <stdlib.h>
#include <string.h>

#include "sort_frame.h"
#include "sort_job.h"
#include "sort_json.h"
#include "net_util.h"

/* After a half-close, how often a pending sort's socket is checked for a
 * reset: a client that is gone frees its worker within this time. */
#define SORT_PEER_CHECK_MS 100

/* A connection moves forward only: READING -> WORKING -> WRITING ->
 * LINGERING, with CLOSING reachable from each. Errors skip WORKING. */
typedef enum {
  CONN_READING,
  CONN_WORKING,
  CONN_WRITING,
  CONN_LINGERING,
  CONN_CLOSING,
} conn_state_t;

typedef struct sort_conn {
  net_tcp_conn_t net; /* first: the socket, as net_tcp requires */
  uv_timer_t timer;   /* read timeout, then write timeout, then linger */
  uv_work_t work;
  uv_write_t write_req;
  uv_shutdown_t shutdown_req;
  sort_server_t *server;
  conn_state_t state;
  sort_frame_t frame;
  char *body; /* owned by the worker while in_pool */
  size_t body_len;
  char *reply;
  size_t reply_len;
  sort_job_status_t job_status;
  atomic_bool cancel;
  bool work_pending; /* a job is admitted and not over (holds c):
                        waiting in server->pending, or in_pool */
  bool in_pool;      /* handed to uv_queue_work, after_work_cb to
                        come */
  bool peer_eof;
  uint64_t inflight_bytes; /* this conn's share of server->inflight_bytes */
  uint64_t queued_at;      /* uv_hrtime() when the job was queued */
  /* uv_hrtime() when a worker started the job, 0 before: written by the
   * worker, read by the loop's deadline check. */
  _Atomic uint64_t started_at;
  bool too_slow;   /* cancelled for max_sort_time_ms */
  bool has_client; /* client is known (getpeername worked) */
  sort_client_key_t client;
  TAILQ_ENTRY(sort_conn) pending_link; /* in server->pending while waiting */
  LIST_ENTRY(sort_conn) job_link;      /* in server->job_list while in_pool */
} sort_conn_t;

/* Request bodies from 16 bytes (a few numbers) to 64 MiB, by fours. */
static const uint64_t request_bytes_bounds[] = {
    16,    64,     256,     1024,    4096,     16384,
    65536, 262144, 1048576, 4194304, 16777216, 67108864};
/* Sorts from 100 us to a minute: gnome sort is quadratic, so the default
 * --max-elements can take seconds. */
static const uint64_t duration_bounds_ns[] = {
    100000,     250000,     500000,      1000000,    2500000,   5000000,
    10000000,   25000000,   50000000,    100000000,  250000000, 500000000,
    1000000000, 2500000000, 10000000000, 60000000000};

_Static_assert(sizeof(request_bytes_bounds) / sizeof(uint64_t) <=
                       SORT_HIST_MAX_BOUNDS &&
                   sizeof(duration_bounds_ns) / sizeof(uint64_t) <=
                       SORT_HIST_MAX_BOUNDS,
               "the bounds must fit sort_hist_t");

static void hist_init(sort_hist_t *h, const uint64_t *bounds, size_t n) {
  memset(h, 0, sizeof(*h));
  h->bounds = bounds;
  h->n_bounds = n;
}

void sort_hist_observe(sort_hist_t *h, uint64_t value) {
  size_t i = 0;
  while (i < h->n_bounds && value > h->bounds[i])
    i++;
  h->counts[i]++;
  h->sum += value;
}

#define LOG(s, level, ...)              \
  do {                                  \
    if ((s)->cfg.log != NULL)           \
      (s)->cfg.log(level, __VA_ARGS__); \
  } while (0)

static void conn_close(sort_conn_t *c);
static void reply_error(sort_conn_t *c, const char *msg);
static void reply_busy(sort_conn_t *c, const char *msg);

static void release_inflight(sort_conn_t *c) {
  c->server->inflight_bytes -= c->inflight_bytes;
  c->inflight_bytes = 0;
}

/* The conn is freed by net_tcp once its socket and timer are closed and
 * its after-work callback has run, whichever comes last; until then
 * something may still point at it. */
static void conn_free(net_tcp_conn_t *nc) {
  sort_conn_t *c = container_of(nc, sort_conn_t, net);
  release_inflight(c);
  sort_frame_free(&c->frame);
  free(c->body);
  free(c->reply);
}

static void on_timer_close(uv_handle_t *h) {
  sort_conn_t *c = container_of((uv_timer_t *)h, sort_conn_t, timer);
  net_tcp_conn_release(&c->net);
}

static void job_end(sort_conn_t *c);

static void conn_close(sort_conn_t *c) {
  if (c->state == CONN_CLOSING)
    return;
  c->state = CONN_CLOSING;
  /* A job still waiting for a worker ends here; one queued in libuv is
   * cancelled outright (after_work still runs, with UV_ECANCELED); a
   * running one sees the flag within milliseconds. */
  atomic_store_explicit(&c->cancel, true, memory_order_relaxed);
  bool waiting = c->work_pending && !c->in_pool;
  if (waiting) {
    TAILQ_REMOVE(&c->server->pending, c, pending_link);
    job_end(c);
    c->server->cancelled++;
  } else if (c->in_pool) {
    uv_cancel((uv_req_t *)&c->work);
  }
  net_tcp_conn_close(&c->net);
  uv_close((uv_handle_t *)&c->timer, on_timer_close);
  /* The job's hold on c, after the socket's and the timer's closes have
   * taken theirs: c outlives this call. */
  if (waiting)
    net_tcp_conn_release(&c->net);
}

static void on_close_conn(net_tcp_conn_t *nc) {
  conn_close(container_of(nc, sort_conn_t, net));
}

/* True when the kernel has seen a reset (or any error) on a connection
 * whose reading side is already at EOF. A peer that only half-closed
 * reads as POLLIN|POLLRDHUP; one that reset also has POLLERR and POLLHUP
 * (both directions shut). poll() with a zero timeout never blocks. */
static bool peer_reset(sort_conn_t *c) {
  uv_os_fd_t fd;
  if (uv_fileno((uv_handle_t *)&c->net.tcp, &fd) != 0)
    return true;
  struct pollfd pfd = {.fd = fd, .events = POLLIN};
  if (poll(&pfd, 1, 0) < 0)
    return false;
  return (pfd.revents & (POLLERR | POLLHUP | POLLNVAL)) != 0;
}

static void on_timer(uv_timer_t *t) {
  sort_conn_t *c = container_of(t, sort_conn_t, timer);
  sort_server_t *s = c->server;
  switch (c->state) {
  case CONN_WORKING:
    /* Only armed after a half-close: see on_read. */
    if (peer_reset(c)) {
      LOG(s, 3, "sort: half-closed client reset while its sort was pending");
      conn_close(c);
    }
    break;
  case CONN_READING:
    if (s->draining) {
      s->shutdown++;
      reply_error(c, "server shutting down");
      break;
    }
    LOG(s, 3, "sort: read timeout after %" PRIu64 " ms",
        s->cfg.read_timeout_ms);
    s->timeouts++;
    reply_error(c, "timeout: the request did not arrive in time");
    break;
  case CONN_WRITING:
    LOG(s, 3, "sort: write timeout, client did not read its reply");
    s->timeouts++;
    conn_close(c);
    break;
  default:
    conn_close(c);
    break;
  }
}

static void on_shutdown(uv_shutdown_t *req, int status) {
  sort_conn_t *c = container_of(req, sort_conn_t, shutdown_req);
  if (c->state == CONN_CLOSING)
    return;
  if (status < 0 || c->peer_eof) {
    conn_close(c);
    return;
  }
  /* Our FIN is out. Closing now while the client may still be sending
   * would make the kernel answer with RST, which can destroy the reply in
   * the client's receive buffer; so wait (bounded) for the client's FIN. */
  c->state = CONN_LINGERING;
  uv_timer_start(&c->timer, on_timer, c->server->cfg.linger_ms, 0);
}

static void on_write(uv_write_t *req, int status) {
  sort_conn_t *c = container_of(req, sort_conn_t, write_req);
  free(c->reply);
  c->reply = NULL;
  if (c->state == CONN_CLOSING)
    return;
  if (status < 0) {
    conn_close(c);
    return;
  }
  if (uv_shutdown(&c->shutdown_req, (uv_stream_t *)&c->net.tcp, on_shutdown) !=
      0)
    conn_close(c);
}

/* Takes ownership of reply. */
static void write_reply(sort_conn_t *c, char *reply, size_t len) {
  c->state = CONN_WRITING;
  c->reply = reply;
  c->reply_len = len;
  uv_timer_start(&c->timer, on_timer, c->server->cfg.write_timeout_ms, 0);
  uv_buf_t buf = uv_buf_init(reply, (unsigned)len);
  if (uv_write(&c->write_req, (uv_stream_t *)&c->net.tcp, &buf, 1, on_write) !=
      0)
    conn_close(c);
}

static void reply_busy(sort_conn_t *c, const char *msg) {
  sort_server_t *s = c->server;
  s->busy++;
  if (s->cfg.warn != NULL)
    s->cfg.warn("sort busy",
                "sort: refused a request: %s (%zu sorts queued or running, "
                "%zu connections; %" PRIu64 " refused busy so far)",
                msg, s->jobs, s->net.n_conns, s->busy);
  reply_error(c, msg);
}

static void reply_error(sort_conn_t *c, const char *msg) {
  size_t len;
  if (c->state == CONN_READING) {
    /* A request that failed while arriving: its bytes go now, not when
     * the client has read the error. */
    sort_frame_free(&c->frame);
    release_inflight(c);
  }
  char *reply = sort_json_error(msg, &len);
  c->server->replied_error++;
  LOG(c->server, 3, "sort: error reply: %s", msg);
  if (reply == NULL) {
    conn_close(c);
    return;
  }
  write_reply(c, reply, len);
}

/* Lower this worker thread's priority once: on Linux, nice applies per
 * thread (setpriority on the thread id), so the loop thread keeps its own
 * and wins the CPU when sorts saturate every core. */
static void lower_worker_priority(int nice_value) {
  static _Thread_local bool done;
  if (done)
    return;
  done = true;
  if (nice_value != 0)
    setpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid), nice_value);
}

/* Runs on a worker thread: touches only the job's own data (and one
 * atomic counter). */
/* How much sorting passes between two looks at the clock for
 * --worker-yield-us: a few microseconds of the fastest walk, so the look
 * (one vDSO clock read) costs well under 1 %. */
#define SORT_YIELD_CHECK_STEPS 16384u

/* libuv < 1.45's loop thread, woken by a finishing job, spins until the
 * worker it may have preempted inside uv_async_send runs again; a woken
 * loop thread also waits for a CPU while every core sorts. A worker that
 * gives its CPU up every cfg.worker_yield_us bounds both waits. Runs on
 * the worker, called by the sort kernel between walks. */
static void worker_yield(void *arg) {
  const sort_server_t *s = arg;
  static _Thread_local uint64_t last_yield_ns;
  uint64_t now = uv_hrtime();
  if (now - last_yield_ns < s->cfg.worker_yield_us * 1000u)
    return;
  last_yield_ns = now;
  sched_yield();
}

static void work_cb(uv_work_t *req) {
  sort_conn_t *c = container_of(req, sort_conn_t, work);
  sort_server_t *s = c->server;
  lower_worker_priority(s->cfg.worker_nice);
  atomic_fetch_add_explicit(&s->jobs_running, 1, memory_order_relaxed);
  /* The time bound counts from here, not from queueing: a job that waited
   * behind others has not used a worker yet. */
  atomic_store_explicit(&c->started_at, uv_hrtime(), memory_order_relaxed);
  sort_job_limits_t limits = {.max_elements = s->cfg.max_elements};
  sort_ctl_t ctl = {.cancel = &c->cancel};
  if (s->cfg.worker_yield_us > 0) {
    ctl.yield_steps = SORT_YIELD_CHECK_STEPS;
    ctl.yield = worker_yield;
    ctl.yield_arg = s;
  }
  c->job_status = sort_job_run(c->body, c->body_len, &limits, &ctl, &c->reply,
                               &c->reply_len);
  atomic_fetch_sub_explicit(&s->jobs_running, 1, memory_order_relaxed);
  /* The body can be large; drop it as soon as it is no longer needed. */
  free(c->body);
  c->body = NULL;
}

/* The job is over, whatever its outcome; the caller gives back its hold
 * on c. */
static void job_end(sort_conn_t *c) {
  sort_server_t *s = c->server;
  c->work_pending = false;
  s->jobs--;
  if (c->has_client)
    sort_clients_remove(&s->clients, &c->client);
  release_inflight(c);
}

/* The job is back from the worker pool. */
static void pool_leave(sort_conn_t *c) {
  sort_server_t *s = c->server;
  c->in_pool = false;
  s->in_pool--;
  LIST_REMOVE(c, job_link);
  if (LIST_EMPTY(&s->job_list))
    uv_timer_stop(&s->deadline);
  if (c->has_client) {
    /* The worker time it had: none if it was cancelled before starting. */
    uint64_t started =
        atomic_load_explicit(&c->started_at, memory_order_relaxed);
    sort_clients_stop(&s->clients, &c->client,
                      started != 0 ? uv_hrtime() - started : 0);
  }
}

static void dispatch(sort_server_t *s);

static void reply_too_slow(sort_conn_t *c) {
  sort_server_t *s = c->server;
  char msg[80];
  s->too_slow++;
  /* The bound as the operator wrote it: --max-sort-time 0.5 reads back as
   * 0.5, 10 as 10. */
  snprintf(msg, sizeof(msg), "sort took longer than %g s",
           (double)s->cfg.max_sort_time_ms / 1000.0);
  reply_error(c, msg);
}

static void after_work_cb(uv_work_t *req, int status) {
  sort_conn_t *c = container_of(req, sort_conn_t, work);
  sort_server_t *s = c->server;
  pool_leave(c);
  job_end(c);
  dispatch(s); /* a worker is free */
  if (c->state == CONN_CLOSING || status == UV_ECANCELED) {
    s->cancelled++;
    net_tcp_conn_release(&c->net);
    return;
  }
  /* Not closing: the socket still holds c. */
  net_tcp_conn_release(&c->net);
  char *reply = c->reply;
  c->reply = NULL;
  if (c->job_status == SORT_JOB_OK || c->job_status == SORT_JOB_BAD_INPUT ||
      c->too_slow || c->job_status == SORT_JOB_TIMED_OUT)
    sort_hist_observe(&s->duration_ns, uv_hrtime() - c->queued_at);
  switch (c->job_status) {
  case SORT_JOB_OK:
    s->replied_ok++;
    write_reply(c, reply, c->reply_len);
    break;
  case SORT_JOB_BAD_INPUT:
    s->replied_error++;
    s->bad_input++;
    write_reply(c, reply, c->reply_len);
    break;
  case SORT_JOB_CANCELLED:
    free(reply);
    if (c->too_slow) {
      reply_too_slow(c);
      break;
    }
    s->cancelled++;
    conn_close(c);
    break;
  case SORT_JOB_TIMED_OUT:
    /* The kernel's own deadline (ctl.deadline_ns): not set here, the loop
     * keeps the time (on_deadline_check); the same answer if it ever is. */
    free(reply);
    reply_too_slow(c);
    break;
  case SORT_JOB_NOMEM:
  default:
    free(reply);
    reply_error(c, "server out of memory");
    break;
  }
}

/* Runs on the loop while jobs are pending: a sort that has held its
 * worker past max_sort_time_ms is cancelled (the gnome sort looks at the
 * flag every few thousand comparisons) and after_work_cb tells the client
 * why. Queued jobs have not started and are left alone. */
static void on_deadline_check(uv_timer_t *t) {
  sort_server_t *s = container_of(t, sort_server_t, deadline);
  uint64_t now = uv_hrtime();
  uint64_t bound_ns = s->cfg.max_sort_time_ms * 1000000u;
  struct sort_conn *c;
  LIST_FOREACH(c, &s->job_list, job_link) {
    uint64_t started =
        atomic_load_explicit(&c->started_at, memory_order_relaxed);
    if (started == 0 || c->too_slow || now - started <= bound_ns)
      continue;
    c->too_slow = true;
    atomic_store_explicit(&c->cancel, true, memory_order_relaxed);
    LOG(s, 3,
        "sort: stopping a sort that has run %" PRIu64 " ms (--max-sort-time)",
        (now - started) / 1000000u);
  }
}

/* The next job for a free worker: the oldest job of the client whose turn
 * it is (sort_clients_before: the fewest jobs on the pool, then the least
 * worker time). A client that queues many long sorts waits for its own,
 * not everyone else for them. A job whose client is unknown comes first:
 * its peer is gone, and it will be over at once. */
static sort_conn_t *pick_next(sort_server_t *s) {
  static const sort_client_entry_t unknown;
  sort_conn_t *best = NULL, *c;
  const sort_client_entry_t *best_e = NULL;
  size_t seen = 0;
  TAILQ_FOREACH(c, &s->pending, pending_link) {
    const sort_client_entry_t *e =
        c->has_client ? sort_clients_get(&s->clients, &c->client) : &unknown;
    if (best == NULL || sort_clients_before(e, best_e)) {
      best = c;
      best_e = e;
    }
    if (++seen == SORT_DISPATCH_SCAN)
      break;
  }
  return best;
}

/* Hand waiting jobs to the pool while it has a free worker. */
static void dispatch(sort_server_t *s) {
  while (!TAILQ_EMPTY(&s->pending) &&
         (s->cfg.workers == 0 || s->in_pool < s->cfg.workers)) {
    sort_conn_t *c =
        s->cfg.workers == 0 ? TAILQ_FIRST(&s->pending) : pick_next(s);
    TAILQ_REMOVE(&s->pending, c, pending_link);
    if (uv_queue_work(s->net.loop, &c->work, work_cb, after_work_cb) != 0) {
      /* Only for invalid arguments in libuv 1.44 to 1.50: not expected,
       * but the client still hears why. */
      job_end(c);
      free(c->body);
      c->body = NULL;
      net_tcp_conn_release(&c->net); /* the socket still holds c */
      reply_busy(c, "server busy");
      continue;
    }
    c->in_pool = true;
    s->in_pool++;
    LIST_INSERT_HEAD(&s->job_list, c, job_link);
    if (c->has_client)
      sort_clients_start(&s->clients, &c->client);
    if (s->cfg.max_sort_time_ms > 0 &&
        !uv_is_active((uv_handle_t *)&s->deadline)) {
      uint64_t tick = s->cfg.max_sort_time_ms / 10;
      tick = tick < 1                        ? 1
             : tick > SORT_DEADLINE_CHECK_MS ? SORT_DEADLINE_CHECK_MS
                                             : tick;
      uv_timer_start(&s->deadline, on_deadline_check, tick, tick);
    }
  }
}

static void start_work(sort_conn_t *c) {
  sort_server_t *s = c->server;
  uint8_t *body = sort_frame_take_body(&c->frame, &c->body_len);
  c->body = (char *)body;
  c->state = CONN_WORKING;
  uv_timer_stop(&c->timer);
  sort_hist_observe(&s->request_bytes, c->body_len);
  const char *refused = NULL;
  /* The client's share first: it is the more useful answer to a client
   * that fills the queue by itself. */
  if (c->has_client && s->cfg.max_jobs_per_client > 0 &&
      sort_clients_jobs(&s->clients, &c->client) >= s->cfg.max_jobs_per_client)
    refused = "server busy: too many sorts from your address";
  else if (s->jobs >= s->cfg.max_queued_jobs)
    /* Refuse rather than queue without bound: a queue longer than this
     * only turns into timeouts for everyone. */
    refused = "server busy: too many sorts queued";
  else if (c->has_client && !sort_clients_add(&s->clients, &c->client))
    refused = "server busy";
  if (refused != NULL) {
    free(c->body);
    c->body = NULL;
    release_inflight(c);
    reply_busy(c, refused);
    return;
  }
  c->queued_at = uv_hrtime();
  c->work_pending = true;
  net_tcp_conn_hold(&c->net);
  s->jobs++;
  TAILQ_INSERT_TAIL(&s->pending, c, pending_link);
  dispatch(s);
}

/* Request bytes are charged as they are held: a body's buffer grows with
 * what arrives (sort_frame), each growth is charged to the server, and a
 * growth past --max-inflight-bytes is refused. A length prefix alone holds
 * nothing, so connections that announce big bodies and send none cannot
 * lock others out; a body that stalls holds what it has for at most the
 * read timeout (from accept to its last byte), then its bytes are freed
 * with the error reply. */
static void feed_request(sort_conn_t *c, const uint8_t *data, size_t len) {
  sort_server_t *s = c->server;
  size_t used;
  char msg[160];
  uint64_t room = s->inflight_bytes < s->cfg.max_inflight_bytes
                      ? s->cfg.max_inflight_bytes - s->inflight_bytes
                      : 0;
  /* Until the length is known, the frame reader's bound is also what the
   * server can still hold, so a body that cannot fit now is refused before
   * the client sends it; which limit it broke is sorted out below. */
  if (c->frame.prefix_have < SORT_FRAME_PREFIX_LEN)
    c->frame.max_body =
        room < s->cfg.max_request_bytes ? room : s->cfg.max_request_bytes;
  c->frame.max_cap = c->frame.body_cap + room;
  sort_frame_status_t st = sort_frame_feed(&c->frame, data, len, &used);
  /* The buffer only grows while reading (and is exactly the body once
   * complete): charge the growth before start_work takes the body. */
  if (c->frame.body_cap > c->inflight_bytes) {
    s->inflight_bytes += c->frame.body_cap - c->inflight_bytes;
    c->inflight_bytes = c->frame.body_cap;
  }
  switch (st) {
  case SORT_FRAME_NEED_MORE:
    break;
  case SORT_FRAME_COMPLETE:
    /* Bytes past the announced length are not part of the request. */
    start_work(c);
    break;
  case SORT_FRAME_EMPTY:
    reply_error(c, "empty request: the length prefix is 0");
    break;
  case SORT_FRAME_NO_ROOM:
    reply_busy(c, "server busy: too many request bytes in flight");
    break;
  case SORT_FRAME_TOO_LARGE:
    if (c->frame.body_len <= s->cfg.max_request_bytes) {
      reply_busy(c, "server busy: too many request bytes in flight");
      break;
    }
    s->too_large++;
    snprintf(msg, sizeof(msg),
             "request too large: %" PRIu64 " bytes, the limit is %" PRIu64,
             c->frame.body_len, s->cfg.max_request_bytes);
    reply_error(c, msg);
    break;
  case SORT_FRAME_NOMEM:
  default:
    reply_error(c, "server out of memory");
    break;
  }
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf) {
  sort_conn_t *c = container_of((uv_tcp_t *)h, sort_conn_t, net.tcp);
  (void)suggested;
  *buf = uv_buf_init(c->server->read_buf, sizeof(c->server->read_buf));
}

static void on_read(uv_stream_t *stream, ssize_t nread, const uv_buf_t *buf) {
  sort_conn_t *c = container_of((uv_tcp_t *)stream, sort_conn_t, net.tcp);
  sort_server_t *s = c->server;
  char msg[160];
  if (c->state == CONN_CLOSING)
    return;
  if (nread > 0) {
    /* After the request, the socket stays read so that a reset is noticed
     * at once; anything more the client sends is discarded. */
    if (c->state == CONN_READING)
      feed_request(c, (const uint8_t *)buf->base, (size_t)nread);
    return;
  }
  if (nread == 0)
    return;
  if (nread != UV_EOF) {
    /* Reset or similar: nobody is left to read a reply. */
    conn_close(c);
    return;
  }
  c->peer_eof = true;
  uv_read_stop(stream);
  switch (c->state) {
  case CONN_READING:
    if (c->frame.prefix_have == 0) {
      conn_close(c); /* connected and left without a word */
      return;
    }
    /* A half-closed client can still read why its request failed. */
    if (c->frame.prefix_have < SORT_FRAME_PREFIX_LEN)
      snprintf(msg, sizeof(msg),
               "request truncated: %zu of 8 length bytes received",
               c->frame.prefix_have);
    else
      snprintf(msg, sizeof(msg),
               "request truncated: %zu of %" PRIu64 " body bytes received",
               c->frame.body_have, c->frame.body_len);
    reply_error(c, msg);
    break;
  case CONN_WORKING:
    if (s->cfg.cancel_on_eof) {
      /* The deployment says its clients never half-close: a FIN means the
       * client has gone, and the worker is freed for others at once. */
      LOG(s, 3, "sort: client left while its sort was pending");
      conn_close(c);
      break;
    }
    /* The request carried its own length and is complete, so this FIN
     * only means "done sending" (shutdown(SHUT_WR), socat, nc -N): the
     * sort goes on and the reply is written. A client that has really
     * gone shows up as a failed write, or as a reset seen by the check
     * below while the job runs (reading stops at EOF, so on_read cannot
     * report it). */
    uv_timer_start(&c->timer, on_timer, SORT_PEER_CHECK_MS, SORT_PEER_CHECK_MS);
    break;
  case CONN_LINGERING:
    conn_close(c);
    break;
  default:
    /* WRITING: the reply is already on its way; the client may still
     * read it. */
    break;
  }
}

/* What every conn starts with, served or refused. False when it could
 * not start reading (it is then closing). */
static bool conn_init(net_tcp_conn_t *nc) {
  sort_conn_t *c = container_of(nc, sort_conn_t, net);
  sort_server_t *s = container_of(nc->server, sort_server_t, net);
  c->server = s;
  c->state = CONN_READING;
  sort_frame_init(&c->frame, s->cfg.max_request_bytes);
  atomic_init(&c->cancel, false);
  atomic_init(&c->started_at, 0);
  struct sockaddr_storage peer;
  int len = sizeof(peer);
  /* A peer that is already gone has no address; its request (if any)
   * is then not counted per client, and its reply will not get far. */
  c->has_client =
      uv_tcp_getpeername(&nc->tcp, (struct sockaddr *)&peer, &len) == 0 &&
      sort_client_key((struct sockaddr *)&peer, &c->client);
  uv_timer_init(s->net.loop, &c->timer); /* cannot fail on unix */
  net_tcp_conn_hold(nc);
  if (uv_read_start((uv_stream_t *)&nc->tcp, on_alloc, on_read) != 0) {
    conn_close(c);
    return false;
  }
  return true;
}

static void on_accept(net_tcp_conn_t *nc) {
  sort_conn_t *c = container_of(nc, sort_conn_t, net);
  if (conn_init(nc))
    uv_timer_start(&c->timer, on_timer, c->server->cfg.read_timeout_ms, 0);
}

/* Past max_connections: tell the client why instead of leaving it to a
 * timeout; these conns live only for a write and a short linger. Past
 * net_tcp's hard limit even that stops and the connection is dropped
 * unanswered, so a flood cannot grow memory without bound. */
static void on_refuse(net_tcp_conn_t *nc) {
  sort_conn_t *c = container_of(nc, sort_conn_t, net);
  if (conn_init(nc))
    reply_busy(c, "server busy");
}

int sort_server_start(sort_server_t *s, uv_loop_t *loop,
                      const struct sockaddr *addr,
                      const sort_server_config_t *cfg) {
  s->cfg = *cfg;
  s->draining = false;
  s->on_drained = NULL;
  s->jobs = 0;
  atomic_init(&s->jobs_running, 0);
  TAILQ_INIT(&s->pending);
  LIST_INIT(&s->job_list);
  s->in_pool = 0;
  /* The seed only has to be unknown to clients, not secret for long. */
  sort_clients_init(&s->clients, uv_hrtime() ^ (uint64_t)(uintptr_t)s);
  s->inflight_bytes = 0;
  s->replied_ok = s->replied_error = 0;
  s->bad_input = s->too_large = s->timeouts = s->too_slow = s->busy = 0;
  s->cancelled = s->shutdown = 0;
  hist_init(&s->request_bytes, request_bytes_bounds,
            sizeof(request_bytes_bounds) / sizeof(request_bytes_bounds[0]));
  hist_init(&s->duration_ns, duration_bounds_ns,
            sizeof(duration_bounds_ns) / sizeof(duration_bounds_ns[0]));

  net_tcp_config_t net = {
      .name = "sort",
      .conn_size = sizeof(sort_conn_t),
      .max_connections = cfg->max_connections,
      .hard_limit = cfg->hard_limit,
      .reuseport = cfg->reuseport,
      .acl = cfg->acl,
      .on_accept = on_accept,
      .on_refuse = on_refuse,
      .on_close = on_close_conn,
      .on_free = conn_free,
      .log = cfg->log,
      .warn = cfg->warn,
  };
  uv_timer_init(loop, &s->deadline); /* cannot fail on unix */
  int rc = net_tcp_start(&s->net, loop, addr, &net);
  if (rc != 0)
    uv_close((uv_handle_t *)&s->deadline, NULL);
  return rc;
}

/* The last handle of the server: the owner may free s in on_drained. */
static void on_deadline_closed(uv_handle_t *h) {
  sort_server_t *s = container_of((uv_timer_t *)h, sort_server_t, deadline);
  sort_clients_free(&s->clients);
  if (s->on_drained != NULL)
    s->on_drained(s);
}

/* net_tcp calls this once, when every connection (and so every job) is
 * gone. */
static void on_net_drained(net_tcp_t *t) {
  sort_server_t *s = container_of(t, sort_server_t, net);
  uv_close((uv_handle_t *)&s->deadline, on_deadline_closed);
}

void sort_server_drain(sort_server_t *s, void (*on_drained)(sort_server_t *)) {
  if (s->draining)
    return;
  s->draining = true;
  s->on_drained = on_drained;
  net_tcp_stop(&s->net, on_net_drained);
  /* A connection still reading may have its whole request waiting in the
   * kernel, sent just before the signal: refusing it now would turn a
   * request we can serve into an error. So each keeps reading for a short
   * window (never longer than its read timeout, and the grace period ends
   * everything anyway); a request complete by then is sorted and answered,
   * the rest get "server shutting down" from on_timer. */
  uint64_t window = s->cfg.read_timeout_ms < SORT_DRAIN_READ_WINDOW_MS
                        ? s->cfg.read_timeout_ms
                        : SORT_DRAIN_READ_WINDOW_MS;
  net_tcp_conn_t *nc;
  LIST_FOREACH(nc, &s->net.conns, link) {
    sort_conn_t *c = container_of(nc, sort_conn_t, net);
    if (c->state == CONN_READING)
      uv_timer_start(&c->timer, on_timer, window, 0);
  }
}

void sort_server_abort(sort_server_t *s) {
  net_tcp_close_all(&s->net);
}

void sort_server_stats(const sort_server_t *s, sort_server_stats_t *out) {
  /* jobs counts queued and running; the workers keep the running count,
   * so the two can disagree for an instant: clamp, never underflow. */
  size_t running = atomic_load_explicit((atomic_size_t *)&s->jobs_running,
                                        memory_order_relaxed);
  if (running > s->jobs)
    running = s->jobs;
  *out = (sort_server_stats_t){
      .ok = s->replied_ok,
      .error_replies = s->replied_error,
      .bad_input = s->bad_input,
      .too_large = s->too_large,
      .timeouts = s->timeouts + s->too_slow,
      .too_slow = s->too_slow,
      .busy = s->busy + s->net.dropped,
      .cancelled = s->cancelled,
      .shutdown = s->shutdown,
      .accepted = s->net.accepted + s->net.refused,
      .accept_errors = s->net.accept_errors,
      .denied = s->net.denied,
      .queued = s->jobs - running,
      .running = running,
      .connections = s->net.n_conns,
      .inflight_bytes = s->inflight_bytes,
      .request_bytes = &s->request_bytes,
      .duration_ns = &s->duration_ns,
  };
}
