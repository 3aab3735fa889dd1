/* dns_stream: DNS message framing over a byte stream (RFC 1035 4.2.2,
 * RFC 7766 8): every message is preceded by its length as a 2-byte
 * big-endian integer. Pure and incremental: the reader takes bytes as they
 * arrive, split anywhere (one at a time included), and hands out complete
 * messages one by one. A message that lies whole in the caller's input is
 * handed out in place, without a copy; only a message cut by the end of the
 * input is buffered, and never more than one (at most 65535 bytes).
 *
 * Use from a read callback:
 *
 *   size_t pos = 0;
 *   const uint8_t *msg;
 *   size_t msg_len;
 *   while ((st = dns_stream_next(&r, data, len, &pos, &msg, &msg_len)) ==
 *          DNS_STREAM_MESSAGE)
 *     answer(msg, msg_len);
 *   if (st != DNS_STREAM_NEED_MORE)
 *     close the connection;
 */
#ifndef DNSORT_DNS_STREAM_H
#define DNSORT_DNS_STREAM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define DNS_STREAM_PREFIX_LEN 2
#define DNS_STREAM_MAX_MESSAGE 65535

typedef enum {
  DNS_STREAM_NEED_MORE = 0, /* the input is used up, no message complete */
  DNS_STREAM_MESSAGE,       /* *msg holds one complete message */
  DNS_STREAM_BAD_FRAME,     /* a length prefix of 0: the stream is lost */
  DNS_STREAM_NOMEM,         /* a partial message could not be buffered */
} dns_stream_status_t;

/* The reader's state between two pieces of input. Callers only read
 * it (tests do); dns_stream_buffered says how much it holds. */
typedef struct {
  uint8_t prefix[DNS_STREAM_PREFIX_LEN];
  size_t prefix_have;
  size_t msg_len; /* valid once prefix_have == DNS_STREAM_PREFIX_LEN */
  /* Only for a message cut by the end of an input; kept between messages
   * (it only grows, up to 65535 bytes) so a connection whose queries keep
   * arriving in pieces does not allocate for each of them. */
  uint8_t *buf;
  size_t buf_cap;
  size_t buf_have;
  dns_stream_status_t error; /* sticky: BAD_FRAME or NOMEM, else NEED_MORE */
} dns_stream_t;

void dns_stream_init(dns_stream_t *r);

/* Free what the reader holds. Safe to call twice; init again to reuse. */
void dns_stream_free(dns_stream_t *r);

/* Take the next complete message from data[*pos..len), advancing *pos past
 * the bytes used. On DNS_STREAM_MESSAGE, *msg and *msg_len describe it;
 * *msg points into data or into the reader and stays valid until the next
 * call on r (and, if into data, as long as data). On NEED_MORE every byte
 * was used (*pos == len) and whatever belongs to an unfinished message is
 * kept for the next input. BAD_FRAME and NOMEM are final: later calls return
 * them again and use nothing. */
dns_stream_status_t dns_stream_next(dns_stream_t *r, const uint8_t *data,
                                    size_t len, size_t *pos,
                                    const uint8_t **msg, size_t *msg_len);

/* Bytes of an unfinished message held so far (prefix included); 0 exactly
 * when the reader is between two messages. */
size_t dns_stream_buffered(const dns_stream_t *r);

/* Heap bytes the reader holds (its partial-message buffer), for a caller
 * that bounds the memory of many readers together. */
size_t dns_stream_held(const dns_stream_t *r);

/* Give back a partial-message buffer grown past the smallest size once no
 * message is in it, so that one large query does not cost its size for
 * the rest of the connection. Call it only when done with the last
 * message handed out (it may point into that buffer). */
void dns_stream_trim(dns_stream_t *r);

/* Write the length prefix of a msg_len-byte message into out[0..2), for a
 * caller that built the message at out + 2. False (nothing written) when
 * msg_len is 0 or above DNS_STREAM_MAX_MESSAGE. */
bool dns_stream_put_prefix(uint8_t *out, size_t msg_len);

/* Write msg with its length prefix into out[0..cap). Returns the framed
 * length (msg_len + 2), or 0 when msg_len is not a valid size or cap is too
 * small. msg may already sit at out + 2. */
size_t dns_stream_frame(const uint8_t *msg, size_t msg_len, uint8_t *out,
                        size_t cap);

#endif
