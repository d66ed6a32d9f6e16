/* SPDX-License-Identifier: Apache-2.0 */
/*
 * rawconn.c - speak broken TCP-fallback frames to a server, for the shell
 * integration tests.
 *
 *   rawconn HOST PORT CASE
 *
 * CASE: bad-magic, bad-version, bad-type, huge-length, truncated-header,
 * truncated-write, garbage, stall (HELLO, half a header, then silence), or "hold
 * SECONDS".  Prints one line:
 *   closed     the server closed the connection without replying
 *   status N   the server replied with status N
 *   reply      any other reply
 *   held       (hold) the connection stayed open for SECONDS
 *   timeout    nothing happened within 10 s (exit 2)
 * Exit 0 with one of the first four, 1 when it cannot connect, 2 on a
 * timeout or bad usage.
 *
 *   rawconn HOST PORT flood N SRC SECONDS
 *
 * opens N connections from source address SRC, says HELLO on each, prints
 * "admitted A refused R" and holds the admitted ones open for SECONDS.
 *
 *   rawconn HOST PORT nonreader REGION SECONDS
 *
 * says HELLO, opens REGION for reading and sends HOT requests for SECONDS
 * without reading a reply (as many as the server takes), then prints
 * "sent N".
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <unistd.h>

#include "frame.h"
#include "proto.h"
#include "tcp_sock.h"
#include "transport.h"
#include "util.h"

#define WAIT_MS 10000

static int send_all(int fd, const void *p, size_t len)
{
	struct iovec iov = { (void *)p, len };

	return ms_sock_sendv_all(fd, &iov, 1, WAIT_MS);
}

static bool f_ok(const uint8_t *h, struct ms_frame *f)
{
	return ms_frame_decode(h, MS_FRAME_HDR, MS_FRAME_ACCEPT_CLIENT, MS_TCP_MAX_IO, f, NULL,
			       0) == 0;
}

/* Wait for the server's reaction and print it. */
static int report(int fd)
{
	uint8_t h[MS_FRAME_HDR];
	struct ms_frame f;
	size_t got = 0;
	int rc = ms_sock_recv_all(fd, h, sizeof(h), WAIT_MS, &got);

	if (rc == -ETIMEDOUT && got == 0) {
		printf("timeout\n");
		return 2;
	}
	if (got == 0) {
		printf("closed\n");     /* EOF or reset before any byte */
		return 0;
	}
	if (rc == 0 && f_ok(h, &f) && f.type != MS_F_NOTIFY) {
		printf("status %d\n", (int)f.status);
		return 0;
	}
	printf("reply\n");
	return 0;
}

static int hold(int fd, const char *secs)
{
	char *end;
	long s = strtol(secs, &end, 10);
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	char b;

	if (*end || s < 0 || s > 86400) {
		fprintf(stderr, "rawconn: bad SECONDS \"%s\"\n", secs);
		return 2;
	}
	/* Idle, but notice the server closing us. */
	if (poll(&pfd, 1, (int)s * 1000) > 0 && recv(fd, &b, 1, MSG_PEEK) <= 0) {
		printf("closed\n");
		return 0;
	}
	printf("held\n");
	return 0;
}

static int send_ctrl(int fd, uint64_t id, const void *msg, int len)
{
	uint8_t h[MS_FRAME_HDR];
	struct ms_frame f = { .type = MS_F_CTRL_REQ, .plen = (uint32_t)len, .id = id };
	struct iovec iov[2] = { { h, sizeof(h) }, { (void *)msg, (size_t)len } };

	if (len < 0)
		return -EINVAL;
	ms_frame_encode(&f, h);
	return ms_sock_sendv_all(fd, iov, 2, WAIT_MS);
}

/* The next reply's payload (into buf): its length, or -1 (closed). */
static ssize_t recv_reply(int fd, char *buf, size_t cap)
{
	uint8_t h[MS_FRAME_HDR];
	struct ms_frame f;

	if (ms_sock_recv_all(fd, h, sizeof(h), WAIT_MS, NULL) || !f_ok(h, &f) || f.plen > cap ||
	    ms_sock_recv_all(fd, buf, f.plen, WAIT_MS, NULL))
		return -1;
	return (ssize_t)f.plen;
}

static int hello(int fd)
{
	struct ms_msg_hello h = { .version = MS_PROTO_VERSION };
	struct ms_msg_error me;
	char buf[4096];
	ssize_t n;

	snprintf(h.agent, sizeof(h.agent), "rawconn");
	if (getrandom(h.client_id, sizeof(h.client_id), 0) != sizeof(h.client_id) ||
	    send_ctrl(fd, 1, buf, ms_enc_hello(buf, sizeof(buf), &h)))
		return -1;
	n = recv_reply(fd, buf, sizeof(buf));
	return n < 0 || ms_dec_error(buf, (size_t)n, &me) == 0 ? -1 : 0;
}

static int flood(const char *host, const char *port, int n, const char *src, int secs)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	int admitted = 0, refused = 0, *fds = calloc((size_t)n, sizeof(int));

	for (int i = 0; fds && i < n; i++) {
		fds[i] = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		a.sin_port = 0;
		inet_pton(AF_INET, src, &a.sin_addr);
		if (fds[i] < 0 || bind(fds[i], (struct sockaddr *)&a, sizeof(a)))
			return 1;
		a.sin_port = htons((uint16_t)atoi(port));
		inet_pton(AF_INET, host, &a.sin_addr);
		if (connect(fds[i], (struct sockaddr *)&a, sizeof(a)) == 0)
			ms_sock_set_nonblock(fds[i], true);
		if (hello(fds[i]) == 0) {
			admitted++;
		} else {
			refused++;
			close(fds[i]);
			fds[i] = -1;
		}
	}
	printf("admitted %d refused %d\n", admitted, refused);
	fflush(stdout);
	sleep((unsigned)secs);
	free(fds);
	return 0;
}

static int nonreader(int fd, const char *region, int secs)
{
	static char buf[1 << 16];
	struct ms_msg_open m = { .mode = MS_MODE_READ };
	struct ms_msg_open_ok oo;
	struct ms_msg_hot hq = { .max = MS_HOT_MAX };
	uint8_t req[MS_FRAME_HDR + 64];
	uint64_t end = ms_now_ns() + (uint64_t)secs * 1000000000ull;
	unsigned long sent = 0;
	size_t off = 0, len;
	ssize_t n;

	snprintf(m.name, sizeof(m.name), "%s", region);
	if (hello(fd) || send_ctrl(fd, 2, buf, ms_enc_open(buf, sizeof(buf), &m)) ||
	    (n = recv_reply(fd, buf, sizeof(buf))) < 0 || ms_dec_open_ok(buf, (size_t)n, &oo)) {
		fprintf(stderr, "rawconn: cannot open %s\n", region);
		return 1;
	}
	hq.handle = oo.handle;
	len = MS_FRAME_HDR + (size_t)ms_enc_hot(req + MS_FRAME_HDR, 64, &hq);
	ms_frame_encode(&(struct ms_frame){ .type = MS_F_CTRL_REQ, .id = 3,
					    .plen = (uint32_t)(len - MS_FRAME_HDR) }, req);
	while (ms_now_ns() < end) {
		n = send(fd, req + off, len - off, MSG_DONTWAIT | MSG_NOSIGNAL);
		if (n > 0 && (off += (size_t)n) == len) {
			off = 0;
			sent++;
		} else if (n <= 0) {
			usleep(10000);
		}
	}
	printf("sent %lu\n", sent);
	return 0;
}

int main(int argc, char **argv)
{
	uint8_t buf[MS_FRAME_HDR + 1024];
	struct ms_frame f = { .type = MS_F_READ_REQ, .id = 1, .key = 1, .len = 4096 };
	const char *cs;
	size_t len = MS_FRAME_HDR;
	bool half_close = false;
	char err[256];
	int fd;

	if (argc == 7 && !strcmp(argv[3], "flood"))
		return flood(argv[1], argv[2], atoi(argv[4]), argv[5], atoi(argv[6]));
	if (argc < 4 || (!strcmp(argv[3], "hold") && argc != 5) ||
	    (!strcmp(argv[3], "nonreader") && argc != 6)) {
		fprintf(stderr, "usage: rawconn HOST PORT CASE | rawconn HOST PORT hold SECONDS\n"
				"CASE: bad-magic bad-version bad-type huge-length "
				"truncated-header truncated-write garbage stall\n"
				"       rawconn HOST PORT flood N SRC SECONDS | nonreader REGION SECONDS\n");
		return 2;
	}
	cs = argv[3];
	fd = ms_sock_connect(argv[1], argv[2], WAIT_MS, 0, err, sizeof(err));
	if (fd < 0) {
		fprintf(stderr, "rawconn: %s\n", err);
		return 1;
	}
	if (!strcmp(cs, "hold"))
		return hold(fd, argv[4]);
	if (!strcmp(cs, "nonreader"))
		return nonreader(fd, argv[4], atoi(argv[5]));
	if (!strcmp(cs, "stall") && hello(fd)) {
		fprintf(stderr, "rawconn: HELLO failed\n");
		return 1;
	}

	memset(buf, 0, sizeof(buf));
	if (!strcmp(cs, "huge-length")) {
		f = (struct ms_frame){ .type = MS_F_WRITE_REQ, .id = 1, .key = 1,
				       .len = MS_TCP_MAX_IO + 1, .plen = MS_TCP_MAX_IO + 1 };
	} else if (!strcmp(cs, "truncated-write")) {
		/* 64 KiB announced for a made-up key, 1 KiB sent. */
		f = (struct ms_frame){ .type = MS_F_WRITE_REQ, .id = 1, .key = 0x5eed,
				       .len = 64u << 10, .plen = 64u << 10 };
		len = sizeof(buf);
		half_close = true;
	}
	ms_frame_encode(&f, buf);
	if (!strcmp(cs, "bad-magic")) {
		buf[0] ^= 0xff;
	} else if (!strcmp(cs, "bad-version")) {
		buf[4] = MS_FRAME_VERSION + 1;
	} else if (!strcmp(cs, "bad-type")) {
		buf[5] = 0xee;
	} else if (!strcmp(cs, "truncated-header") || !strcmp(cs, "stall")) {
		len = MS_FRAME_HDR / 2;
		half_close = cs[0] == 't';      /* stall: no FIN, just silence */
	} else if (!strcmp(cs, "garbage")) {
		len = 1024;
		if (getrandom(buf, len, 0) != (ssize_t)len)
			memset(buf, 0xa5, len);
		buf[0] = (uint8_t)~(MS_FRAME_MAGIC & 0xff);   /* never the magic */
	} else if (strcmp(cs, "huge-length") && strcmp(cs, "truncated-write") &&
		   strcmp(cs, "stall")) {
		fprintf(stderr, "rawconn: unknown case \"%s\"\n", cs);
		close(fd);
		return 2;
	}
	/* The server may close as soon as it sees the header: a failed send
	 * is part of the outcome, not an error. */
	if (send_all(fd, buf, len) == 0 && half_close)
		shutdown(fd, SHUT_WR);
	return report(fd);
}
