/* SPDX-License-Identifier: Apache-2.0 */
/*
 * dgramrecv - a unix datagram socket that a test reads: what systemd's
 * NOTIFY_SOCKET or syslog's /dev/log would receive.
 *
 *   dgramrecv SOCKET OUT [SECONDS]
 *
 * Binds SOCKET (replacing a stale one), then appends every datagram to OUT
 * followed by a line "--", until SECONDS (default 120) have passed or it
 * is killed.  OUT is created (empty) once the socket is bound.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

static int append(int fd, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, p, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	static char buf[65536];
	struct timespec now, end;
	int s, out, secs = argc > 3 ? atoi(argv[3]) : 120;

	if (argc < 3 || strlen(argv[1]) >= sizeof(sa.sun_path) || secs <= 0) {
		fprintf(stderr, "usage: dgramrecv SOCKET OUT [SECONDS]\n");
		return 2;
	}
	strcpy(sa.sun_path, argv[1]);
	s = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (s < 0) {
		perror("dgramrecv: socket");
		return 1;
	}
	unlink(argv[1]);
	if (bind(s, (struct sockaddr *)&sa, sizeof(sa)) < 0 || chmod(argv[1], 0666) < 0) {
		perror("dgramrecv: bind");
		return 1;
	}
	out = open(argv[2], O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0644);
	if (out < 0) {
		perror("dgramrecv: open");
		return 1;
	}
	clock_gettime(CLOCK_MONOTONIC, &end);
	end.tv_sec += secs;
	for (;;) {
		struct pollfd pf = { .fd = s, .events = POLLIN };
		long ms;
		ssize_t n;

		clock_gettime(CLOCK_MONOTONIC, &now);
		ms = (end.tv_sec - now.tv_sec) * 1000 + (end.tv_nsec - now.tv_nsec) / 1000000;
		if (ms <= 0)
			break;
		if (poll(&pf, 1, (int)ms) <= 0)
			continue;
		n = recv(s, buf, sizeof(buf) - 1, 0);
		if (n < 0)
			continue;
		if (append(out, buf, (size_t)n) < 0 || append(out, "\n--\n", 4) < 0) {
			perror("dgramrecv: write");
			return 1;
		}
	}
	unlink(argv[1]);
	return 0;
}
