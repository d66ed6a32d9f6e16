/* SPDX-License-Identifier: Apache-2.0 */
/*
 * lineio.c - line reading and writing for the kvstore demo (lineio.h).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "lineio.h"

void lineio_init(struct lineio *l, int fd)
{
	l->fd = fd;
	l->len = 0;
}

/* A complete line in buf: take it out. */
static int take(struct lineio *l, char *out)
{
	char *nl = memchr(l->buf, '\n', l->len);
	size_t n;

	if (!nl)
		return 0;
	n = (size_t)(nl - l->buf);
	if (n >= KV_LINE_MAX)
		return -EMSGSIZE;
	memcpy(out, l->buf, n);
	out[n] = '\0';
	if (n && out[n - 1] == '\r')
		out[n - 1] = '\0';
	memmove(l->buf, nl + 1, l->len - n - 1);
	l->len -= n + 1;
	return 1;
}

int lineio_read(struct lineio *l, char *out)
{
	for (;;) {
		int rc = take(l, out);
		ssize_t got;

		if (rc)
			return rc;
		if (l->len >= KV_LINE_MAX)
			return -EMSGSIZE;
		got = read(l->fd, l->buf + l->len, sizeof(l->buf) - l->len);
		if (got < 0) {
			if (errno == EINTR)
				continue;
			return errno == EWOULDBLOCK ? -EAGAIN : -errno;
		}
		if (got == 0)
			return 0;
		l->len += (size_t)got;
	}
}

int lineio_write(int fd, const char *s, size_t n)
{
	while (n) {
		ssize_t w = write(fd, s, n);

		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		s += w;
		n -= (size_t)w;
	}
	return 0;
}

int lineio_hostport(const char *s, char *host, size_t hlen, char *port, size_t plen)
{
	const char *c = strrchr(s, ':');

	if (!c || c == s || !c[1] || (size_t)(c - s) >= hlen || strlen(c + 1) >= plen ||
	    strspn(c + 1, "0123456789") != strlen(c + 1))
		return -EINVAL;
	snprintf(host, hlen, "%.*s", (int)(c - s), s);
	snprintf(port, plen, "%s", c + 1);
	return 0;
}
