/* SPDX-License-Identifier: Apache-2.0 */
/*
 * peerutil.h - what the baseline peer programs in perf/ (uffd_lazy,
 * delta_sync, delay_proxy, rawtcp, memcpy_bw) share, header only: sizes
 * with K/M/G, numbers, HOST:PORT, command-line complaints, TCP on loopback
 * with timeouts, an accept loop and a thread-per-connection server, the
 * SIGTERM/SIGINT handling of the serving modes, whole reads and writes,
 * little-endian fields, anonymous memory, and the words bu_fill_random
 * writes, computed at any offset (so a peer can check bytes without a copy).
 *
 * Functions that can fail return 0 (or a file descriptor) or -errno unless
 * they say otherwise.
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
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "benchutil.h"

/* How long one send or receive may block before the peer counts as gone. */
#define PU_IO_TIMEOUT_MS 60000
/* How long a connect may take. */
#define PU_CONNECT_TIMEOUT_MS 10000
/* How often an accept loop looks whether it should stop. */
#define PU_POLL_MS 200
/* The most connections a pu_server serves at a time. */
#define PU_SERVER_MAX_CONNS 64

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

/* A complaint about the command line: "PROG: <fmt>", then the usage on
 * stderr.  Returns 2, main's exit status for it. */
__attribute__((format(printf, 3, 4)))
static inline int pu_usage_error(const char *prog, void (*usage)(FILE *), const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s: ", prog);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	usage(stderr);
	return 2;
}

static inline bool pu_is_loopback(const struct sockaddr_in *sa)
{
	return (ntohl(sa->sin_addr.s_addr) >> 24) == 127;
}

/* 127.0.0.1:port */
static inline struct sockaddr_in pu_loopback(uint16_t port)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(port) };

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	return sa;
}

/* ------------------------------------------------------------- signals */

/* Set once SIGTERM or SIGINT arrived (with pu_on_stop_signal installed). */
static volatile sig_atomic_t pu_got_signal;

static inline void pu_on_stop_signal(int sig)
{
	(void)sig;
	pu_got_signal = 1;
}

/* handler (a function, or SIG_DFL) for SIGTERM and SIGINT. */
static inline void pu_handle_stop_signals(void (*handler)(int))
{
	struct sigaction act = { .sa_handler = handler };

	sigaction(SIGTERM, &act, NULL);
	sigaction(SIGINT, &act, NULL);
}

/* The line a serving peer prints once it listens: {"port":N} (flushed). */
static inline void pu_print_port(uint16_t port)
{
	printf("{\"port\":%u}\n", port);
	fflush(stdout);
}

/* Wait, at most 50 steps of step_ms, for *n (threads alive) to reach 0. */
static inline void pu_wait_zero(atomic_int *n, unsigned step_ms)
{
	for (int i = 0; i < 50 && atomic_load(n) > 0; i++)
		usleep(step_ms * 1000);
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

/* -------------------------------------------------------------- servers */

/* Accept connections on lfd until *stop is set (stop may be NULL) or
 * pu_got_signal is, looking every poll_ms; each new socket goes to
 * on_conn(ctx, fd), which owns it from then on.  0 once stopped, or the
 * -errno of a failed accept. */
static inline int pu_accept_loop(int lfd, int poll_ms, atomic_int *stop,
				 void (*on_conn)(void *ctx, int fd), void *ctx)
{
	while (!(stop && atomic_load(stop)) && !pu_got_signal) {
		int fd = pu_accept(lfd, poll_ms);

		if (fd == -ETIMEDOUT || fd == -EINTR)
			continue;
		if (fd < 0)
			return fd;
		on_conn(ctx, fd);
	}
	return 0;
}

/*
 * A TCP server on 127.0.0.1 with a detached thread per connection (at most
 * PU_SERVER_MAX_CONNS; more are refused), each running handle(ctx, fd),
 * after which the socket is closed.  PU_SERVER_INIT, then pu_server_open,
 * and pu_server_close at the end (also when it was never opened).
 */
struct pu_server {
	const char *name;                    /* the program, for messages */
	void (*handle)(void *ctx, int fd);   /* serves one connection */
	void *ctx;
	int lfd;
	uint16_t port;
	atomic_int stop;
	atomic_int conns;                    /* connection threads alive */
	bool started;                        /* th runs the accept loop */
	pthread_t th;
};

#define PU_SERVER_INIT(name_, handle_, ctx_) \
	{ .name = (name_), .handle = (handle_), .ctx = (ctx_), .lfd = -1 }

/* What a connection thread is given. */
struct pu_conn {
	struct pu_server *srv;
	int fd;
};

static inline void *pu_conn_main(void *arg)
{
	struct pu_conn *c = arg;
	struct pu_server *s = c->srv;

	s->handle(s->ctx, c->fd);
	close(c->fd);
	free(c);
	atomic_fetch_sub(&s->conns, 1);
	return NULL;
}

/* pu_accept_loop's on_conn for a pu_server: a thread for fd, or refuse it. */
static inline void pu_server_conn(void *arg, int fd)
{
	struct pu_server *s = arg;
	struct pu_conn *c = malloc(sizeof(*c));
	pthread_t th;

	if (!c || atomic_load(&s->conns) >= PU_SERVER_MAX_CONNS) {
		fprintf(stderr, "%s: server: refusing a connection\n", s->name);
		free(c);
		close(fd);
		return;
	}
	*c = (struct pu_conn){ .srv = s, .fd = fd };
	atomic_fetch_add(&s->conns, 1);
	if (pthread_create(&th, NULL, pu_conn_main, c)) {
		atomic_fetch_sub(&s->conns, 1);
		close(fd);
		free(c);
		return;
	}
	pthread_detach(th);
}

/* The accept loop, until pu_server_close or a signal (or an accept fails). */
static inline void *pu_server_main(void *arg)
{
	struct pu_server *s = arg;
	int rc = pu_accept_loop(s->lfd, PU_POLL_MS, &s->stop, pu_server_conn, s);

	if (rc)
		fprintf(stderr, "%s: server: accept: %s\n", s->name, strerror(-rc));
	return NULL;
}

/* Listen on 127.0.0.1 (a port picked by the kernel; the address to connect
 * to in *sa), then serve: foreground (--serve) prints {"port":N}, serves in
 * this thread until SIGTERM/SIGINT and waits (bounded) for the connections
 * to end; otherwise the accept loop runs in a new thread of this process
 * until pu_server_close.  0, or -errno (said on stderr). */
static inline int pu_server_open(struct pu_server *s, struct sockaddr_in *sa, bool foreground)
{
	s->lfd = pu_listen(NULL, &s->port);
	if (s->lfd < 0) {
		fprintf(stderr, "%s: listen on 127.0.0.1: %s\n", s->name, strerror(-s->lfd));
		return s->lfd;
	}
	*sa = pu_loopback(s->port);
	if (foreground) {
		pu_handle_stop_signals(pu_on_stop_signal);
		pu_print_port(s->port);
		pu_server_main(s);
		pu_wait_zero(&s->conns, 100);
		return 0;
	}
	if (pthread_create(&s->th, NULL, pu_server_main, s)) {
		fprintf(stderr, "%s: pthread_create failed\n", s->name);
		return -EAGAIN;
	}
	s->started = true;
	return 0;
}

/* Stop the accept thread (if started), wait (bounded) for the connection
 * threads, close the listening socket.  Whether no connection thread is
 * left: only then may what they serve be freed. */
static inline bool pu_server_close(struct pu_server *s)
{
	if (s->started) {
		atomic_store(&s->stop, 1);
		pthread_join(s->th, NULL);
		s->started = false;
		pu_wait_zero(&s->conns, 100);
	}
	if (s->lfd >= 0)
		close(s->lfd);
	s->lfd = -1;
	return atomic_load(&s->conns) == 0;
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

/* Private anonymous memory of len bytes, or NULL (errno set). */
static inline uint8_t *pu_map_anon(uint64_t len)
{
	void *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	return p == MAP_FAILED ? NULL : p;
}

/* The same, written once (zeros) so no page fault is timed. */
static inline uint8_t *pu_prefaulted(uint64_t len)
{
	uint8_t *p = pu_map_anon(len);

	if (p)
		memset(p, 0, len);
	return p;
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
