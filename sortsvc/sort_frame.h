/* sort_frame: the sort service's request framing. An 8-byte big-endian
 * unsigned length, then exactly that many bytes of body. Pure and
 * incremental: bytes may arrive split at any point, one at a time included.
 * The length is checked against the limit before any body memory is taken,
 * and the body's buffer grows with the bytes that arrive rather than with
 * the length announced: a prefix alone holds no memory. */
#ifndef DNSORT_SORT_FRAME_H
#define DNSORT_SORT_FRAME_H

#include <stddef.h>
#include <stdint.h>

#define SORT_FRAME_PREFIX_LEN 8

typedef enum {
  SORT_FRAME_NEED_MORE = 0, /* all input consumed, the frame is not complete */
  SORT_FRAME_COMPLETE,      /* the body is complete; later bytes untouched */
  SORT_FRAME_EMPTY,         /* the length prefix is 0 */
  SORT_FRAME_TOO_LARGE,     /* the length prefix exceeds max_body */
  SORT_FRAME_NOMEM,         /* the body buffer could not be allocated */
  SORT_FRAME_NO_ROOM,       /* the bytes received would need a buffer
                               larger than max_cap */
} sort_frame_status_t;

typedef struct {
  uint8_t prefix[SORT_FRAME_PREFIX_LEN];
  size_t prefix_have;
  uint64_t body_len; /* valid once prefix_have == 8, TOO_LARGE too */
  uint8_t *body;     /* owned until sort_frame_take_body */
  size_t body_have;
  /* Bytes allocated for the body: at least body_have, never more than
   * body_len (so exactly body_len once complete), at most twice body_have
   * while growing (doubling keeps the copies linear). */
  size_t body_cap;
  uint64_t max_body;
  /* The largest body_cap the caller allows, checked on each growth; a
   * growth is clamped to it, and a body whose bytes received would not fit
   * gets NO_ROOM. The caller may change it between feeds; UINT64_MAX after
   * sort_frame_init. */
  uint64_t max_cap;
  sort_frame_status_t status;
} sort_frame_t;

void sort_frame_init(sort_frame_t *f, uint64_t max_body);

/* Feed len bytes. *consumed is set to how many were used (less than len only
 * once the frame is complete or failed). Once a terminal status (anything
 * but NEED_MORE) is returned, later calls return it again and consume
 * nothing. */
sort_frame_status_t sort_frame_feed(sort_frame_t *f, const uint8_t *data,
                                    size_t len, size_t *consumed);

/* After COMPLETE: hand the body to the caller (who frees it with free());
 * its buffer is exactly *len bytes. */
uint8_t *sort_frame_take_body(sort_frame_t *f, size_t *len);

/* Free whatever the frame still owns. Safe to call twice. */
void sort_frame_free(sort_frame_t *f);

#endif
