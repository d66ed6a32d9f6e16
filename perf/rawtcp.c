/* SPDX-License-Identifier: Apache-2.0 */
/*
 * rawtcp.c - the baseline memsync's TCP pull is compared with: one stream
 * on 127.0.0.1 moving BYTES with plain send()/recv() of 1 MiB, from a
 * prefaulted source buffer into a prefaulted destination buffer of the same
 * size (as a pull moves a region into a local copy).  No protocol, no
 * hashing: the most a single TCP stream does on this machine.
 *
 *   rawtcp [--bytes SIZE] [--msg SIZE] [--runs N]
 *
 * One JSON line per run on stdout:
 *   {"bench":"rawtcp","run":1,"bytes":N,"msg_size":N,"seconds":F,"bytes_per_second":F}
 */
#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>

#include "benchutil.h"

struct sender {
	uint16_t port;
	const uint8_t *src;
	uint64_t bytes;
	size_t msg;
	int err;         /* errno of the first failure, 0 if none */
};

/* "1073741824", "64K", "1M", "1G" (powers of 1024).  0 or -EINVAL. */
static int parse_size(const char *s, uint64_t *out)
{
	char *end;
	unsigned long long v;
	unsigned shift = 0;

	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || end == s || *s == '-')
		return -EINVAL;
	switch (*end) {
	case '\0': break;
	case 'K': case 'k': shift = 10; end++; break;
	case 'M': case 'm': shift = 20; end++; break;
	case 'G': case 'g': shift = 30; end++; break;
	default: return -EINVAL;
	}
	if (*end || (shift && v > (UINT64_MAX >> shift)))
		return -EINVAL;
	*out = (uint64_t)v << shift;
	return 0;
}

/* Anonymous memory, written once so no page fault is timed. */
static uint8_t *prefaulted(uint64_t len, uint8_t fill)
{
	void *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED)
		return NULL;
	memset(p, fill, len);
	return p;
}

static void *send_main(void *arg)
{
	struct sender *s = arg;
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(s->port) };
	uint64_t off = 0;
	int fd;

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		s->err = errno;
		goto out;
	}
	while (off < s->bytes) {
		size_t n = s->bytes - off < s->msg ? (size_t)(s->bytes - off) : s->msg;
		ssize_t w = send(fd, s->src + off, n, MSG_NOSIGNAL);

		if (w < 0) {
			if (errno == EINTR)
				continue;
			s->err = errno;
			break;
		}
		off += (uint64_t)w;
	}
out:
	if (fd >= 0)
		close(fd);
	return NULL;
}

/* One transfer; returns the seconds from accept() to the last byte, or < 0. */
static double one_run(const uint8_t *src, uint8_t *dst, uint64_t bytes, size_t msg)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	socklen_t sl = sizeof(sa);
	struct sender s = { .src = src, .bytes = bytes, .msg = msg };
	pthread_t th;
	uint64_t off = 0;
	double t0, t = -1;
	int lfd, fd = -1, err;

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (lfd < 0 || bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    listen(lfd, 1) < 0 || getsockname(lfd, (struct sockaddr *)&sa, &sl) < 0) {
		perror("rawtcp: listen on 127.0.0.1:0");
		if (lfd >= 0)
			close(lfd);
		return -1;
	}
	s.port = ntohs(sa.sin_port);
	if (pthread_create(&th, NULL, send_main, &s)) {
		perror("rawtcp: pthread_create");
		close(lfd);
		return -1;
	}
	fd = accept(lfd, NULL, NULL);
	err = errno;
	t0 = bu_now_s();
	while (fd >= 0 && off < bytes) {
		size_t n = bytes - off < msg ? (size_t)(bytes - off) : msg;
		ssize_t r = recv(fd, dst + off, n, 0);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		off += (uint64_t)r;
	}
	if (off == bytes)
		t = bu_now_s() - t0;
	else
		fprintf(stderr, "rawtcp: received %llu of %llu bytes: %s\n",
			(unsigned long long)off, (unsigned long long)bytes,
			fd < 0 ? strerror(err) : "connection closed early");
	if (fd >= 0)
		close(fd);
	close(lfd);
	pthread_join(th, NULL);
	if (s.err) {
		fprintf(stderr, "rawtcp: sender: %s\n", strerror(s.err));
		t = -1;
	}
	return t;
}

static void usage(FILE *f)
{
	fprintf(f, "usage: rawtcp [--bytes SIZE (default 1G)] [--msg SIZE (default 1M)] [--runs N (default 1)]\n"
		   "Moves SIZE bytes over one TCP stream on 127.0.0.1 and prints one JSON line per run.\n");
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "bytes", required_argument, NULL, 'b' },
		{ "msg", required_argument, NULL, 'm' },
		{ "runs", required_argument, NULL, 'r' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	uint64_t bytes = 1ull << 30, msg = 1u << 20, runs = 1;
	uint8_t *src, *dst;
	int c, li = 0, rc = 0;

	while ((c = getopt_long(argc, argv, "h", opts, &li)) != -1) {
		switch (c) {
		case 'b':
			if (parse_size(optarg, &bytes) || !bytes)
				goto bad;
			break;
		case 'm':
			if (parse_size(optarg, &msg) || !msg || msg > (1u << 30))
				goto bad;
			break;
		case 'r':
			if (parse_size(optarg, &runs) || !runs || runs > 1000)
				goto bad;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind != argc) {
		fprintf(stderr, "rawtcp: unexpected argument '%s'\n", argv[optind]);
		usage(stderr);
		return 2;
	}

	src = prefaulted(bytes, 0x5a);
	dst = prefaulted(bytes, 0);
	if (!src || !dst) {
		perror("rawtcp: mmap");
		return 1;
	}
	for (uint64_t i = 1; i <= runs; i++) {
		double t = one_run(src, dst, bytes, (size_t)msg);

		if (t <= 0) {
			rc = 1;
			break;
		}
		/* The bytes really arrived (a sample, not a full compare). */
		if (dst[0] != 0x5a || dst[bytes / 2] != 0x5a || dst[bytes - 1] != 0x5a) {
			fprintf(stderr, "rawtcp: the received bytes are wrong\n");
			rc = 1;
			break;
		}
		printf("{\"bench\":\"rawtcp\",\"run\":%llu,\"bytes\":%llu,\"msg_size\":%llu,"
		       "\"seconds\":%.6f,\"bytes_per_second\":%.0f}\n",
		       (unsigned long long)i, (unsigned long long)bytes,
		       (unsigned long long)msg, t, (double)bytes / t);
		fflush(stdout);
		memset(dst, 0, bytes);
	}
	munmap(src, bytes);
	munmap(dst, bytes);
	return rc;

bad:
	fprintf(stderr, "rawtcp: bad value for --%s: '%s'\n", opts[li].name, optarg);
	usage(stderr);
	return 2;
}
