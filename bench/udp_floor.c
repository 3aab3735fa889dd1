/* udp_floor: the least work a UDP DNS answer can cost on this machine.
 *
 * Not a DNS server. It reads queries in batches with recvmmsg, answers every
 * one of them with the same A record (127.0.0.1, TTL 60) and writes the batch
 * back with sendmmsg. The only "parsing" is walking the QNAME labels to find
 * where the question ends; there is no validation beyond staying inside the
 * datagram, no EDNS (an OPT record in the query is simply not echoed), no
 * lookup, no logging. bench/dns.sh uses it as the floor that dnsortd and the
 * real servers are compared with.
 *
 * Usage: udp_floor PORT      (binds 127.0.0.1:PORT; SIGTERM ends it)
 *
 * Build: cc -O2 -o udp_floor udp_floor.c
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define BATCH 64
#define QBUF 512 /* queries longer than this are truncated and dropped */
#define RBUF (QBUF + 16)
#define HDR 12

static volatile sig_atomic_t stop;

static void on_term(int sig) {
  (void)sig;
  stop = 1;
}

/* Builds the answer for one query in place of reply; returns its length or 0
 * to drop the query. */
static size_t answer(const uint8_t *q, size_t qlen, uint8_t *r) {
  if (qlen < HDR + 5 || (q[2] & 0x80))
    return 0;
  size_t p = HDR;
  while (p < qlen && q[p] != 0) {
    if (q[p] & 0xC0)
      return 0;
    p += (size_t)q[p] + 1;
  }
  p += 1 + 4; /* root label, QTYPE, QCLASS */
  if (p > qlen)
    return 0;

  static const uint8_t rr[] = {
      0xC0, 0x0C,             /* name: pointer to the QNAME at offset 12 */
      0x00, 0x01, 0x00, 0x01, /* type A, class IN */
      0x00, 0x00, 0x00, 0x3C, /* TTL 60 */
      0x00, 0x04, 127,  0,    0, 1};
  memcpy(r, q, p);
  r[2] = (uint8_t)(0x80 | 0x04 | (q[2] & 0x79)); /* QR, AA; keep opcode, RD */
  r[3] = 0;                                      /* RA=0, RCODE=NOERROR */
  r[4] = 0, r[5] = 1;                            /* QDCOUNT 1 */
  r[6] = 0, r[7] = 1;                            /* ANCOUNT 1 */
  memset(r + 8, 0, 4);                           /* NSCOUNT, ARCOUNT 0 */
  memcpy(r + p, rr, sizeof(rr));
  return p + sizeof(rr);
}

/* A UDP socket bound to 127.0.0.1:port, or -1 (said on stderr). */
static int listen_on(int port) {
  int fd = socket(AF_INET, SOCK_DGRAM, 0);
  if (fd < 0) {
    perror("socket");
    return -1;
  }
  struct sockaddr_in sa = {.sin_family = AF_INET,
                           .sin_port = htons((uint16_t)port)};
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
    perror("bind");
    close(fd);
    return -1;
  }
  return fd;
}

/* One batch's buffers: the queries read and the replies to send. */
static uint8_t qbuf[BATCH][QBUF], rbuf[BATCH][RBUF];
static struct sockaddr_in from[BATCH];
static struct mmsghdr in[BATCH], out[BATCH];
static struct iovec qiov[BATCH], riov[BATCH];

/* Answer the n queries in `in` into `out`; returns how many replies. */
static int answer_batch(int n, unsigned long long *dropped) {
  int k = 0;
  for (int i = 0; i < n; i++) {
    size_t len = 0;
    if (!(in[i].msg_hdr.msg_flags & MSG_TRUNC))
      len = answer(qbuf[i], in[i].msg_len, rbuf[k]);
    if (len == 0) {
      (*dropped)++;
      continue;
    }
    riov[k] = (struct iovec){rbuf[k], len};
    out[k].msg_hdr = (struct msghdr){.msg_name = &from[i],
                                     .msg_namelen = in[i].msg_hdr.msg_namelen,
                                     .msg_iov = &riov[k],
                                     .msg_iovlen = 1};
    k++;
  }
  return k;
}

/* Send the k replies in `out`; returns how many went. */
static int send_batch(int fd, int k, unsigned long long *send_short) {
  int sent = 0;
  while (sent < k) {
    int m = sendmmsg(fd, out + sent, (unsigned)(k - sent), 0);
    if (m < 0) {
      if (errno == EINTR)
        continue;
      *send_short += (unsigned)(k - sent); /* e.g. ENOBUFS: give up on these */
      break;
    }
    sent += m;
  }
  return sent;
}

int main(int argc, char **argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: %s PORT\n", argv[0]);
    return 2;
  }
  int port = atoi(argv[1]);
  int fd = listen_on(port);
  if (fd < 0)
    return 1;
  /* No SA_RESTART: SIGTERM interrupts the blocking recvmmsg. */
  struct sigaction act = {.sa_handler = on_term};
  sigaction(SIGTERM, &act, NULL);
  sigaction(SIGINT, &act, NULL);
  printf("udp_floor listening udp://127.0.0.1:%d\n", port);
  fflush(stdout);

  for (int i = 0; i < BATCH; i++) {
    qiov[i] = (struct iovec){qbuf[i], QBUF};
    in[i].msg_hdr = (struct msghdr){.msg_iov = &qiov[i], .msg_iovlen = 1};
  }
  unsigned long long answered = 0, dropped = 0, send_short = 0;

  while (!stop) {
    for (int i = 0; i < BATCH; i++) {
      in[i].msg_hdr.msg_name = &from[i];
      in[i].msg_hdr.msg_namelen = sizeof(from[i]);
    }
    /* Block for the first datagram, then take whatever else is queued. */
    int n = recvmmsg(fd, in, BATCH, MSG_WAITFORONE, NULL);
    if (n < 0) {
      if (errno == EINTR)
        continue;
      perror("recvmmsg");
      return 1;
    }
    int k = answer_batch(n, &dropped);
    answered += (unsigned)send_batch(fd, k, &send_short);
  }
  fprintf(stderr,
          "udp_floor: answered %llu, dropped %llu, send failures %llu\n",
          answered, dropped, send_short);
  close(fd);
  return 0;
}
