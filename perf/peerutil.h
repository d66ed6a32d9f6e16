/* SPDX-License-Identifier: Apache-2.0 */
/*
 * peerutil.h - what the baseline peer programs in perf/ (uffd_lazy,
 * delta_sync, delay_proxy, rawtcp, memcpy_bw) share, header only: sizes
 * with K/M/G, numbers, HOST:PORT, TCP on loopback with timeouts, whole
 * reads and writes, little-endian fields, and the words bu_fill_random
 * writes, computed at any offset (so a peer can check bytes without a copy).
 *
 * Functions return 0 (or a file descriptor) or -errno.
 */
#ifndef MS_PERF_PEERUTIL_H
#define MS_PERF_PEERUTIL_H

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "benchutil.h"

/* How long one send or receive may block before the peer counts as gone. */
#define PU_IO_TIMEOUT_MS 60000
/* How long a connect may take. */
#define PU_CONNECT_TIMEOUT_MS 10000

/* "4096", "64K", "1M", "1G" (powers of 1024, either case).  0 or -EINVAL. */
static inline int pu_parse_size(const char *s, uint64_t *out)
{
	uint64_t v = 0;
	unsigned shift = 0;
	const char *p = s;

	if (!s || *p < '0' || *p > '9')
		return -EINVAL;
	for (; *p >= '0' && *p <= '9'; p++) {
		if (v > (UINT64_MAX - 9) / 10)
			return -EINVAL;
		v = v * 10 + (uint64_t)(*p - '0');
	}
	switch (*p) {
	case '\0': break;
	case 'K': case 'k': shift = 10; p++; break;
	case 'M': case 'm': shift = 20; p++; break;
	case 'G': case 'g': shift = 30; p++; break;
	default: return -EINVAL;
	}
	if (*p || (shift && v > (UINT64_MAX >> shift)))
		return -EINVAL;
	*out = v << shift;
	return 0;
}

/* A plain decimal number in [lo, hi].  0 or -EINVAL. */
static inline int pu_parse_u64(const char *s, uint64_t lo, uint64_t hi, uint64_t *out)
{
	char *end;
	unsigned long long v;

	if (!s || *s < '0' || *s > '9')
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 0);
	if (errno || *end || v < lo || v > hi)
		return -EINVAL;
	*out = v;
	return 0;
}

/* "HOST:PORT" (HOST an IPv4 address or a name that resolves to one). */
static inline int pu_parse_hostport(const char *s, struct sockaddr_in *sa)
{
	struct addrinfo hints = { .ai_family = AF_INET, .ai_socktype = SOCK_STREAM };
	struct addrinfo *ai = NULL;
	const char *colon = s ? strrchr(s, ':') : NULL;
	char host[256];
	uint64_t port;

	if (!colon || colon == s || (size_t)(colon - s) >= sizeof(host) ||
	    pu_parse_u64(colon + 1, 0, 65535, &port))
		return -EINVAL;
	memcpy(host, s, (size_t)(colon - s));
	host[colon - s] = '\0';
	if (getaddrinfo(host, NULL, &hints, &ai) || !ai)
		return -EINVAL;
	memcpy(sa, ai->ai_addr, sizeof(*sa));
	sa->sin_port = htons((uint16_t)port);
	freeaddrinfo(ai);
	return 0;
}

static inline bool pu_is_loopback(const struct sockaddr_in *sa)
{
	return (ntohl(sa->sin_addr.s_addr) >> 24) == 127;
}

/* Send and receive timeouts of ms on fd, and TCP_NODELAY. */
static inline int pu_sock_setup(int fd, int ms)
{
	struct timeval tv = { .tv_sec = ms / 1000, .tv_usec = (ms % 1000) * 1000 };
	int one = 1;

	if (setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) ||
	    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) ||
	    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)))
		return -errno;
	return 0;
}

/* A listening socket on sa (127.0.0.1 unless sa says another loopback
 * address; port 0 picks one); the port it got in *port.  fd or -errno. */
static inline int pu_listen(const struct sockaddr_in *want, uint16_t *port)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	socklen_t sl = sizeof(sa);
	int fd, one = 1, err;

	if (want)
		sa = *want;
	else
		sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (!pu_is_loopback(&sa))
		return -EADDRNOTAVAIL;
	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) ||
	    bind(fd, (struct sockaddr *)&sa, sizeof(sa)) || listen(fd, 128) ||
	    getsockname(fd, (struct sockaddr *)&sa, &sl))
		goto fail;
	if (port)
		*port = ntohs(sa.sin_port);
	return fd;
fail:
	err = -errno;
	close(fd);
	return err;
}

/* accept() that gives up after timeout_ms (-ETIMEDOUT); the new socket has
 * the I/O timeouts and TCP_NODELAY.  fd or -errno. */
static inline int pu_accept(int lfd, int timeout_ms)
{
	struct pollfd pf = { .fd = lfd, .events = POLLIN };
	int fd, rc = poll(&pf, 1, timeout_ms);

	if (rc < 0)
		return -errno;
	if (rc == 0)
		return -ETIMEDOUT;
	fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
	if (fd < 0)
		return -errno;
	rc = pu_sock_setup(fd, PU_IO_TIMEOUT_MS);
	if (rc) {
		close(fd);
		return rc;
	}
	return fd;
}

/* Connect to sa within PU_CONNECT_TIMEOUT_MS; I/O timeouts and TCP_NODELAY
 * set.  fd or -errno. */
static inline int pu_connect(const struct sockaddr_in *sa)
{
	struct pollfd pf = { .events = POLLOUT };
	socklen_t sl = sizeof(int);
	int fd, rc, soerr = 0;

	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (const struct sockaddr *)sa, sizeof(*sa)) && errno != EINPROGRESS)
		goto fail;
	pf.fd = fd;
	rc = poll(&pf, 1, PU_CONNECT_TIMEOUT_MS);
	if (rc <= 0) {
		if (rc == 0)
			errno = ETIMEDOUT;
		goto fail;
	}
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl))
		goto fail;
	if (soerr) {
		errno = soerr;
		goto fail;
	}
	if (fcntl(fd, F_SETFL, 0))
		goto fail;
	rc = pu_sock_setup(fd, PU_IO_TIMEOUT_MS);
	if (rc) {
		close(fd);
		return rc;
	}
	return fd;
fail:
	rc = -errno;
	close(fd);
	return rc;
}

/* Read exactly len bytes: 0, -ENODATA (the peer closed before the first
 * byte), -EPIPE (closed in the middle), -ETIMEDOUT, or another -errno. */
static inline int pu_read_full(int fd, void *buf, size_t len)
{
	size_t got = 0;

	while (got < len) {
		ssize_t r = recv(fd, (char *)buf + got, len - got, 0);

		if (r < 0) {
			if (errno == EINTR)
				continue;
			return errno == EAGAIN || errno == EWOULDBLOCK ? -ETIMEDOUT : -errno;
		}
		if (r == 0)
			return got ? -EPIPE : -ENODATA;
		got += (size_t)r;
	}
	return 0;
}

/* Write exactly len bytes (no SIGPIPE).  0, -ETIMEDOUT or another -errno. */
static inline int pu_write_full(int fd, const void *buf, size_t len)
{
	size_t done = 0;

	while (done < len) {
		ssize_t w = send(fd, (const char *)buf + done, len - done, MSG_NOSIGNAL);

		if (w < 0) {
			if (errno == EINTR)
				continue;
			return errno == EAGAIN || errno == EWOULDBLOCK ? -ETIMEDOUT : -errno;
		}
		done += (size_t)w;
	}
	return 0;
}

/* Little-endian fields of the small wire headers. */
static inline void pu_put_le32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static inline void pu_put_le64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static inline uint32_t pu_get_le32(const uint8_t *p)
{
	uint32_t v = 0;

	for (int i = 3; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

static inline uint64_t pu_get_le64(const uint8_t *p)
{
	uint64_t v = 0;

	for (int i = 7; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

/* Word i (of 8 bytes) of what bu_fill_random(mem, len, seed) writes. */
static inline uint64_t pu_random_word(uint64_t seed, uint64_t i)
{
	uint64_t state = seed + i * 0x9e3779b97f4a7c15ull;

	return bu_rand64(&state);
}

/* Whether mem[0..len) equals bytes [off, off + len) of bu_fill_random(seed)
 * (off and len multiples of 8). */
static inline bool pu_check_random(const void *mem, uint64_t off, uint64_t len, uint64_t seed)
{
	const uint8_t *p = mem;

	for (uint64_t i = 0; i < len / 8; i++) {
		uint64_t w = pu_random_word(seed, off / 8 + i), got;

		memcpy(&got, p + 8 * i, 8);
		if (got != w)
			return false;
	}
	return true;
}

/* A random permutation of 0..n-1 (Fisher-Yates, splitmix64 from seed) in
 * a new array, or NULL. */
static inline uint32_t *pu_permutation(uint32_t n, uint64_t seed)
{
	uint32_t *v = malloc((size_t)(n ? n : 1) * sizeof(*v));

	if (!v)
		return NULL;
	for (uint32_t i = 0; i < n; i++)
		v[i] = i;
	for (uint32_t i = n; i > 1; i--) {
		uint32_t j = (uint32_t)(bu_rand64(&seed) % i), t = v[i - 1];

		v[i - 1] = v[j];
		v[j] = t;
	}
	return v;
}

#endif /* MS_PERF_PEERUTIL_H */
