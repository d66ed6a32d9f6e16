/* SPDX-License-Identifier: Apache-2.0 */
/*
 * tcp_sock.h - socket helpers of the TCP fallback: resolve, connect with a
 * timeout, listen (with a clear message when the port is taken), socket
 * options, and send/receive helpers that cope with partial transfers.
 *
 * Every socket made here is close-on-exec; every send uses MSG_NOSIGNAL, so
 * a vanished peer is an -EPIPE/-ECONNRESET return, never a SIGPIPE.
 */
#ifndef MS_TCP_SOCK_H
#define MS_TCP_SOCK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>

/* Connect to host:port, trying each resolved address, within timeout_ms in
 * total (<= 0: no limit).  bufsize > 0 sets SO_SNDBUF and SO_RCVBUF before
 * connecting (so the window scale fits).  The socket is nonblocking and has
 * TCP_NODELAY.  Returns the fd, or -errno with a message in err:
 * -ECONNREFUSED, -ETIMEDOUT, -EHOSTUNREACH (name does not resolve), ... */
int ms_sock_connect(const char *host, const char *port, int timeout_ms, int bufsize,
		    char *err, size_t errlen);

/* Bind and listen on host:port (host NULL: every address) with
 * SO_REUSEADDR; the socket is nonblocking.  *bound receives the bound port
 * (useful with port "0").  Returns the fd or -errno with a message in err,
 * e.g. "cannot listen on 127.0.0.1:7400: Address already in use". */
int ms_sock_listen(const char *host, const char *port, uint16_t *bound, char *err,
		   size_t errlen);

int ms_sock_set_nodelay(int fd);
int ms_sock_set_nonblock(int fd, bool on);
/* Set SO_SNDBUF/SO_RCVBUF (a value <= 0 leaves that one alone). */
int ms_sock_set_bufs(int fd, int sndbuf, int rcvbuf);

/* "127.0.0.1:51234" or "[::1]:51234" for the peer (peer) or local end. */
int ms_sock_name(int fd, bool peer, char *buf, size_t len);

/* Drop the first n bytes from an iovec array in place (n <= total). */
void ms_iov_advance(struct iovec **iov, int *cnt, size_t n);

/* One nonblocking sendmsg of the array (MSG_NOSIGNAL): bytes sent, or
 * -EAGAIN when the socket buffer is full, or -errno (-EPIPE, ...). */
ssize_t ms_sock_sendv(int fd, const struct iovec *iov, int cnt);
/* One nonblocking recv: bytes received, 0 at end of stream, -EAGAIN when
 * nothing is waiting, or -errno. */
ssize_t ms_sock_recv(int fd, void *buf, size_t len);

/* Send the whole array, waiting for the socket to drain as needed, within
 * timeout_ms (< 0: no limit).  0, -ETIMEDOUT or -errno.  iov is modified. */
int ms_sock_sendv_all(int fd, struct iovec *iov, int cnt, int timeout_ms);
/* Receive exactly len bytes within timeout_ms (< 0: no limit).  0,
 * -ECONNRESET at end of stream (*got says how much arrived), -ETIMEDOUT or
 * -errno.  got may be NULL. */
int ms_sock_recv_all(int fd, void *buf, size_t len, int timeout_ms, size_t *got);

#endif /* MS_TCP_SOCK_H */
