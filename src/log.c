/* SPDX-License-Identifier: Apache-2.0 */
/*
 * log.c - the logger of the daemon and the CLI.  Each line is formatted in
 * a local buffer and written with a single write(2), so lines from several
 * threads never interleave (stderr is unbuffered, and stdio would split a
 * line into several writes).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* program_invocation_short_name */
#endif
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

#define LOG_LINE_MAX 4096

static const char *const level_names[] = { "ERROR", "WARN", "INFO", "DEBUG" };

static char log_prog[64];
static int log_level = MS_LOG_INFO;

void ms_log_init(const char *progname, enum ms_log_level level)
{
	const char *slash = progname ? strrchr(progname, '/') : NULL;

	if (slash)
		progname = slash + 1;
	snprintf(log_prog, sizeof(log_prog), "%s", progname ? progname : "");
	ms_log_set_level(level);
}

void ms_log_set_level(enum ms_log_level level)
{
	int l = (int)level;

	/* clamp: a level outside the enum would index level_names */
	l = l < MS_LOG_ERROR ? MS_LOG_ERROR : l > MS_LOG_DEBUG ? MS_LOG_DEBUG : l;
	__atomic_store_n(&log_level, l, __ATOMIC_RELAXED);
}

enum ms_log_level ms_log_get_level(void)
{
	return (enum ms_log_level)__atomic_load_n(&log_level, __ATOMIC_RELAXED);
}

int ms_log_parse_level(const char *s, enum ms_log_level *out)
{
	static const char *const names[] = { "error", "warn", "info", "debug" };

	for (size_t i = 0; s && i < MS_ARRAY_SIZE(names); i++) {
		if (strcmp(s, names[i]) == 0) {
			*out = (enum ms_log_level)i;
			return 0;
		}
	}
	return -EINVAL;
}

static void write_all(int fd, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, p, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return; /* nowhere left to report a failing stderr */
		p += w;
		n -= (size_t)w;
	}
}

void ms_vlog(enum ms_log_level level, const char *fmt, va_list ap)
{
	char buf[LOG_LINE_MAX];
	int saved = errno;
	struct timespec ts;
	struct tm tm;
	size_t n, hdr;
	int k;

	if ((int)level > (int)ms_log_get_level() || (int)level < MS_LOG_ERROR)
		return;

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	n = strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%S", &tm);
	k = snprintf(buf + n, sizeof(buf) - n, ".%03ldZ %s[%ld] %s: ", ts.tv_nsec / 1000000,
		     log_prog[0] ? log_prog : program_invocation_short_name, (long)getpid(),
		     level_names[level]);
	if (k < 0)
		goto out;
	n = MS_MIN(n + (size_t)k, sizeof(buf) - 1);
	hdr = n;

	errno = saved; /* for %m */
	k = vsnprintf(buf + n, sizeof(buf) - n, fmt, ap);
	if (k < 0)
		goto out;
	if ((size_t)k >= sizeof(buf) - n) {
		/* truncated: mark it, keep room for the newline */
		n = sizeof(buf) - 5;
		memcpy(buf + n, "...", 3);
		n += 3;
	} else {
		n += (size_t)k;
	}
	/* one record, one line: drop trailing newlines, flatten inner ones
	 * (messages may quote peer-supplied text) */
	while (n > hdr && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
		n--;
	for (size_t i = hdr; i < n; i++)
		if (buf[i] == '\n' || buf[i] == '\r')
			buf[i] = ' ';
	buf[n++] = '\n';
	write_all(STDERR_FILENO, buf, n);
out:
	errno = saved;
}

void ms_log(enum ms_log_level level, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	ms_vlog(level, fmt, ap);
	va_end(ap);
}

int ms_log_open(const char *path)
{
	int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
	int ret = 0;

	if (fd < 0)
		return -errno;
	/* dup2 replaces standard error in one step: a line written by
	 * another thread meanwhile goes to one file or the other */
	if (fd != STDERR_FILENO && dup2(fd, STDERR_FILENO) < 0)
		ret = -errno;
	if (fd != STDERR_FILENO)
		close(fd);
	return ret;
}

void ms_log_sink(void *ud, enum ms_log_level level, const char *msg)
{
	ms_log(level, "%s", msg ? msg : "");
}
