/* SPDX-License-Identifier: Apache-2.0 */
/*
 * rawconn.c - speak broken TCP-fallback frames to a server, for the shell
 * integration tests.
 *
 *   rawconn HOST PORT CASE
 *
 * CASE: bad-magic, bad-version, bad-type, huge-length, truncated-header,
 * truncated-write, garbage, or "hold SECONDS".  Prints one line:
 *   closed     the server closed the connection without replying
 *   status N   the server replied with status N
 *   reply      any other reply
 *   held       (hold) the connection stayed open for SECONDS
 *   timeout    nothing happened within 10 s (exit 2)
 * Exit 0 with one of the first four, 1 when it cannot connect, 2 on a
 * timeout or bad usage.
 */
#include <errno.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <unistd.h>

#include "frame.h"
#include "tcp_sock.h"
#include "transport.h"

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

int main(int argc, char **argv)
{
	uint8_t buf[MS_FRAME_HDR + 1024];
	struct ms_frame f = { .type = MS_F_READ_REQ, .id = 1, .key = 1, .len = 4096 };
	const char *cs;
	size_t len = MS_FRAME_HDR;
	bool half_close = false;
	char err[256];
	int fd;

	if (argc < 4 || (!strcmp(argv[3], "hold") && argc != 5)) {
		fprintf(stderr, "usage: rawconn HOST PORT CASE | rawconn HOST PORT hold SECONDS\n"
				"CASE: bad-magic bad-version bad-type huge-length "
				"truncated-header truncated-write garbage\n");
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
	} else if (!strcmp(cs, "truncated-header")) {
		len = MS_FRAME_HDR / 2;
		half_close = true;
	} else if (!strcmp(cs, "garbage")) {
		len = 1024;
		if (getrandom(buf, len, 0) != (ssize_t)len)
			memset(buf, 0xa5, len);
		buf[0] = (uint8_t)~(MS_FRAME_MAGIC & 0xff);   /* never the magic */
	} else if (strcmp(cs, "huge-length") && strcmp(cs, "truncated-write")) {
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
