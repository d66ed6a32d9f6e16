/* SPDX-License-Identifier: Apache-2.0 */
/*
 * lineio.h - the kvstore line protocol's plumbing, shared by kvstore and
 * kvclient: a buffered line reader over a socket, writing a whole buffer,
 * and parsing HOST:PORT.
 *
 * The protocol, one request and one reply per line:
 *   PUT KEY VALUE  -> OK VERSION             (VALUE: the rest of the line)
 *   GET KEY        -> VAL VERSION VALUE | NONE
 *   SYNC           -> OK                     (pushed to memsyncd, committed)
 *   COUNT          -> OK KEYS
 *   anything else  -> ERR MESSAGE
 */
#ifndef KV_LINEIO_H
#define KV_LINEIO_H

#include <stddef.h>

#define KV_LINE_MAX 256

struct lineio {
	int fd;
	size_t len;                 /* bytes in buf */
	char buf[2 * KV_LINE_MAX];
};

void lineio_init(struct lineio *l, int fd);
/* The next line (without its newline) into out (KV_LINE_MAX bytes):
 * 1 a line, 0 end of stream, -EAGAIN none complete yet (a non-blocking fd
 * that has nothing more), -EMSGSIZE a line too long, -errno. */
int lineio_read(struct lineio *l, char *out);
/* All of s: 0 or -errno. */
int lineio_write(int fd, const char *s, size_t n);
/* "HOST:PORT" into host and port: 0 or -EINVAL. */
int lineio_hostport(const char *s, char *host, size_t hlen, char *port, size_t plen);

#endif
