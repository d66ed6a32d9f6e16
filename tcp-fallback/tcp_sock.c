/* SPDX-License-Identifier: Apache-2.0 */
/*
 * tcp_sock.c - socket helpers of the TCP fallback (see tcp_sock.h).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "tcp_sock.h"
#include "util.h"

/* "host:port", bracketing IPv6 literals, for messages. */
static void fmt_hostport(char *buf, size_t len, const char *host, const char *port)
{
	if (!host)
		host = "*";
	if (strchr(host, ':'))
		snprintf(buf, len, "[%s]:%s", host, port);
	else
		snprintf(buf, len, "%s:%s", host, port);
}

static int gai_errno(int rc)
{
	switch (rc) {
	case EAI_SYSTEM:
		return errno ? -errno : -EIO;
	case EAI_MEMORY:
		return -ENOMEM;
	case EAI_AGAIN:
		return -EAGAIN;
	case EAI_SERVICE:
	case EAI_BADFLAGS:
	case EAI_SOCKTYPE:
		return -EINVAL;
	default:
		return -EHOSTUNREACH;
	}
}

/* getaddrinfo() takes "99999" and uses it modulo 65536: check first. */
static bool port_valid(const char *port)
{
	unsigned long v = 0;
	size_t i;

	if (!port || !*port || strlen(port) > 5)
		return false;
	for (i = 0; port[i]; i++) {
		if (port[i] < '0' || port[i] > '9')
			return false;
		v = v * 10 + (unsigned long)(port[i] - '0');
	}
	return v <= 65535;
}

static int resolve(const char *host, const char *port, bool passive, struct addrinfo **out,
		   char *err, size_t errlen)
{
	struct addrinfo hints = {
		.ai_family = AF_UNSPEC,
		.ai_socktype = SOCK_STREAM,
		.ai_flags = AI_NUMERICSERV | (passive ? AI_PASSIVE : 0),
	};
	char hp[300];
	int rc;

	if (!port_valid(port)) {
		snprintf(err, errlen, "bad port \"%s\" (want 0..65535)", port ? port : "");
		return -EINVAL;
	}
	rc = getaddrinfo(host, port, &hints, out);
	if (rc) {
		fmt_hostport(hp, sizeof(hp), host, port);
		snprintf(err, errlen, "cannot resolve %s: %s", hp, gai_strerror(rc));
		return gai_errno(rc);
	}
	return 0;
}

int ms_sock_set_nodelay(int fd)
{
	int one = 1;

	return setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) ? -errno : 0;
}

int ms_sock_set_nonblock(int fd, bool on)
{
	int fl = fcntl(fd, F_GETFL);

	if (fl < 0)
		return -errno;
	fl = on ? fl | O_NONBLOCK : fl & ~O_NONBLOCK;
	return fcntl(fd, F_SETFL, fl) ? -errno : 0;
}

int ms_sock_set_bufs(int fd, int sndbuf, int rcvbuf)
{
	if (sndbuf > 0 && setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof(sndbuf)))
		return -errno;
	if (rcvbuf > 0 && setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf)))
		return -errno;
	return 0;
}

int ms_sock_name(int fd, bool peer, char *buf, size_t len)
{
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	char host[INET6_ADDRSTRLEN];
	int rc;

	rc = peer ? getpeername(fd, (struct sockaddr *)&ss, &sl)
		  : getsockname(fd, (struct sockaddr *)&ss, &sl);
	if (rc)
		return -errno;
	if (ss.ss_family == AF_INET) {
		struct sockaddr_in *a = (struct sockaddr_in *)&ss;

		inet_ntop(AF_INET, &a->sin_addr, host, sizeof(host));
		snprintf(buf, len, "%s:%u", host, ntohs(a->sin_port));
	} else if (ss.ss_family == AF_INET6) {
		struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;

		inet_ntop(AF_INET6, &a->sin6_addr, host, sizeof(host));
		snprintf(buf, len, "[%s]:%u", host, ntohs(a->sin6_port));
	} else {
		snprintf(buf, len, "(family %d)", ss.ss_family);
	}
	return 0;
}

static int remaining_ms(uint64_t deadline)
{
	uint64_t now = ms_now_ns();

	if (!deadline)
		return -1;
	if (now >= deadline)
		return 0;
	return (int)MS_MIN((deadline - now + 999999) / 1000000, (uint64_t)1 << 30);
}

static uint64_t deadline_after(int timeout_ms)
{
	return timeout_ms < 0 ? 0 : ms_now_ns() + (uint64_t)timeout_ms * 1000000;
}

/* Wait for ev on fd until deadline (0: forever).  0, -ETIMEDOUT or -errno. */
static int wait_fd(int fd, short ev, uint64_t deadline)
{
	struct pollfd pfd = { .fd = fd, .events = ev };
	int rc, tmo;

	for (;;) {
		tmo = remaining_ms(deadline);
		if (tmo == 0)
			return -ETIMEDOUT;
		rc = poll(&pfd, 1, tmo);
		if (rc > 0)
			return 0;
		if (rc < 0 && errno != EINTR)
			return -errno;
	}
}

static int connect_one(const struct addrinfo *ai, uint64_t deadline, int bufsize)
{
	socklen_t sl = sizeof(int);
	int fd, rc, soerr = 0;

	fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC,
		    ai->ai_protocol);
	if (fd < 0)
		return -errno;
	if (bufsize > 0 && (rc = ms_sock_set_bufs(fd, bufsize, bufsize)))
		goto fail;
	if ((rc = ms_sock_set_nodelay(fd)))
		goto fail;
	if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0)
		return fd;
	if (errno != EINPROGRESS) {
		rc = -errno;
		goto fail;
	}
	if ((rc = wait_fd(fd, POLLOUT, deadline)))
		goto fail;
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl)) {
		rc = -errno;
		goto fail;
	}
	if (soerr) {
		rc = -soerr;
		goto fail;
	}
	return fd;
fail:
	close(fd);
	return rc;
}

int ms_sock_connect(const char *host, const char *port, int timeout_ms, int bufsize,
		    char *err, size_t errlen)
{
	struct addrinfo *res, *ai;
	uint64_t deadline = timeout_ms > 0 ? deadline_after(timeout_ms) : 0;
	char hp[300];
	int rc;

	if (!host || !*host) {
		snprintf(err, errlen, "no host given");
		return -EINVAL;
	}
	rc = resolve(host, port, false, &res, err, errlen);
	if (rc)
		return rc;
	rc = -EHOSTUNREACH;
	for (ai = res; ai; ai = ai->ai_next) {
		rc = connect_one(ai, deadline, bufsize);
		if (rc >= 0 || rc == -ETIMEDOUT)
			break;
	}
	freeaddrinfo(res);
	if (rc < 0) {
		fmt_hostport(hp, sizeof(hp), host, port);
		snprintf(err, errlen, "cannot connect to %s: %s", hp,
			 rc == -ETIMEDOUT ? "connection timed out" : strerror(-rc));
	}
	return rc;
}

int ms_sock_listen(const char *host, const char *port, uint16_t *bound, char *err,
		   size_t errlen)
{
	struct addrinfo *res, *ai;
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	int fd = -1, rc, one = 1;
	char hp[300];

	rc = resolve(host, port, true, &res, err, errlen);
	if (rc)
		return rc;
	rc = -EADDRNOTAVAIL;
	for (ai = res; ai; ai = ai->ai_next) {
		fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC,
			    ai->ai_protocol);
		if (fd < 0) {
			rc = -errno;
			continue;
		}
		/* Restarting the daemon must not wait out TIME_WAIT sockets. */
		if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) ||
		    bind(fd, ai->ai_addr, ai->ai_addrlen) || listen(fd, 128)) {
			rc = -errno;
			close(fd);
			fd = -1;
			continue;
		}
		break;
	}
	freeaddrinfo(res);
	if (fd < 0) {
		fmt_hostport(hp, sizeof(hp), host, port);
		snprintf(err, errlen, "cannot listen on %s: %s", hp, strerror(-rc));
		return rc;
	}
	if (getsockname(fd, (struct sockaddr *)&ss, &sl)) {
		rc = -errno;
		snprintf(err, errlen, "getsockname: %s", strerror(-rc));
		close(fd);
		return rc;
	}
	*bound = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
						: ((struct sockaddr_in *)&ss)->sin_port);
	return fd;
}

void ms_iov_advance(struct iovec **iov, int *cnt, size_t n)
{
	while (*cnt > 0 && n >= (*iov)->iov_len) {
		n -= (*iov)->iov_len;
		(*iov)++;
		(*cnt)--;
	}
	if (*cnt > 0 && n) {
		(*iov)->iov_base = (char *)(*iov)->iov_base + n;
		(*iov)->iov_len -= n;
	}
}

ssize_t ms_sock_sendv(int fd, const struct iovec *iov, int cnt)
{
	struct msghdr mh = { .msg_iov = (struct iovec *)iov, .msg_iovlen = (size_t)cnt };
	ssize_t n;

	do
		n = sendmsg(fd, &mh, MSG_NOSIGNAL | MSG_DONTWAIT);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return errno == EWOULDBLOCK ? -EAGAIN : -errno;
	return n;
}

ssize_t ms_sock_recv(int fd, void *buf, size_t len)
{
	ssize_t n;

	do
		n = recv(fd, buf, len, MSG_DONTWAIT);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return errno == EWOULDBLOCK ? -EAGAIN : -errno;
	return n;
}

int ms_sock_sendv_all(int fd, struct iovec *iov, int cnt, int timeout_ms)
{
	uint64_t deadline = deadline_after(timeout_ms);
	ssize_t n;
	int rc;

	while (cnt > 0) {
		n = ms_sock_sendv(fd, iov, cnt);
		if (n == -EAGAIN) {
			if ((rc = wait_fd(fd, POLLOUT, deadline)))
				return rc;
			continue;
		}
		if (n < 0)
			return (int)n;
		ms_iov_advance(&iov, &cnt, (size_t)n);
	}
	return 0;
}

int ms_sock_recv_all(int fd, void *buf, size_t len, int timeout_ms, size_t *got)
{
	uint64_t deadline = deadline_after(timeout_ms);
	size_t done = 0;
	ssize_t n;
	int rc = 0;

	while (done < len) {
		n = ms_sock_recv(fd, (char *)buf + done, len - done);
		if (n == -EAGAIN) {
			if ((rc = wait_fd(fd, POLLIN, deadline)))
				break;
			continue;
		}
		if (n <= 0) {
			rc = n ? (int)n : -ECONNRESET;
			break;
		}
		done += (size_t)n;
	}
	if (got)
		*got = done;
	return rc;
}
