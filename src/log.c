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
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

#define LOG_LINE_MAX 4096

static const char *const level_names[] = { "ERROR", "WARN", "INFO", "DEBUG" };

static char log_prog[64];
static int log_level = MS_LOG_INFO;
static int log_dest = MS_LOG_DEST_STDERR;

static const char *prog_name(void)
{
	return log_prog[0] ? log_prog : program_invocation_short_name;
}

/* Standard error is the journal's stream: "<N>" lines. */
static void detect_journal(void)
{
	int d = ms_log_is_journal(STDERR_FILENO, getenv("JOURNAL_STREAM")) ? MS_LOG_DEST_JOURNAL
									  : MS_LOG_DEST_STDERR;

	__atomic_store_n(&log_dest, d, __ATOMIC_RELAXED);
}

void ms_log_init(const char *progname, enum ms_log_level level)
{
	const char *slash = progname ? strrchr(progname, '/') : NULL;

	if (slash)
		progname = slash + 1;
	snprintf(log_prog, sizeof(log_prog), "%s", progname ? progname : "");
	ms_log_set_level(level);
	detect_journal();
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
	static const struct {
		const char *name;
		enum ms_log_level level;
	} names[] = {
		{ "error", MS_LOG_ERROR }, { "err", MS_LOG_ERROR },
		{ "warn", MS_LOG_WARN },   { "warning", MS_LOG_WARN },
		{ "notice", MS_LOG_INFO }, { "info", MS_LOG_INFO },
		{ "debug", MS_LOG_DEBUG },
	};

	for (size_t i = 0; s && i < MS_ARRAY_SIZE(names); i++) {
		if (strcasecmp(s, names[i].name) == 0) {
			*out = names[i].level;
			return 0;
		}
	}
	return -EINVAL;
}

int ms_log_priority(enum ms_log_level level)
{
	switch (level) {
	case MS_LOG_ERROR: return LOG_ERR;
	case MS_LOG_WARN: return LOG_WARNING;
	case MS_LOG_INFO: return LOG_INFO;
	case MS_LOG_DEBUG: return LOG_DEBUG;
	}
	return LOG_INFO;
}

bool ms_log_is_journal(int fd, const char *journal_stream)
{
	uintmax_t dev, ino;
	struct stat st;
	int used = 0;

	if (!journal_stream || !isdigit((unsigned char)journal_stream[0]))
		return false;
	if (sscanf(journal_stream, "%ju:%ju%n", &dev, &ino, &used) != 2 ||
	    journal_stream[used] != '\0')
		return false;
	if (fstat(fd, &st) < 0)
		return false;
	return (uintmax_t)st.st_dev == dev && (uintmax_t)st.st_ino == ino;
}

void ms_log_use_syslog(bool on)
{
	if (on) {
		openlog(prog_name(), LOG_PID | LOG_NDELAY, LOG_DAEMON);
		__atomic_store_n(&log_dest, MS_LOG_DEST_SYSLOG, __ATOMIC_RELAXED);
	} else if (ms_log_dest() == MS_LOG_DEST_SYSLOG) {
		detect_journal();
		closelog();
	}
}

enum ms_log_dest ms_log_dest(void)
{
	return (enum ms_log_dest)__atomic_load_n(&log_dest, __ATOMIC_RELAXED);
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

size_t ms_log_format(char *buf, size_t len, enum ms_log_dest dest, enum ms_log_level level,
		     const struct timespec *ts, const char *prog, long pid, const char *fmt,
		     va_list ap)
{
	int saved = errno;
	size_t n = 0, hdr;
	struct tm tm;
	int k = 0;

	if ((int)level < MS_LOG_ERROR || (int)level > MS_LOG_DEBUG)
		level = MS_LOG_INFO;
	if (dest == MS_LOG_DEST_JOURNAL) {
		k = snprintf(buf, len, "<%d>", ms_log_priority(level));
	} else if (dest == MS_LOG_DEST_STDERR) {
		gmtime_r(&ts->tv_sec, &tm);
		n = strftime(buf, len, "%Y-%m-%dT%H:%M:%S", &tm);
		k = snprintf(buf + n, len - n, ".%03ldZ %s[%ld] %s: ", ts->tv_nsec / 1000000,
			     prog, pid, level_names[level]);
	}
	if (k < 0)
		return 0;
	n = MS_MIN(n + (size_t)k, len - 1);
	hdr = n;

	errno = saved; /* for %m */
	k = vsnprintf(buf + n, len - n, fmt, ap);
	errno = saved;
	if (k < 0)
		return 0;
	if ((size_t)k >= len - n) {
		/* truncated: mark it, keep room for the newline */
		n = len - 5;
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
	buf[n] = '\0';
	return n;
}

void ms_vlog(enum ms_log_level level, const char *fmt, va_list ap)
{
	enum ms_log_dest dest = ms_log_dest();
	char buf[LOG_LINE_MAX];
	int saved = errno;
	struct timespec ts = { 0, 0 };
	size_t n;

	if ((int)level > (int)ms_log_get_level() || (int)level < MS_LOG_ERROR)
		return;

	if (dest == MS_LOG_DEST_STDERR)
		clock_gettime(CLOCK_REALTIME, &ts);
	errno = saved;
	n = ms_log_format(buf, sizeof(buf), dest, level, &ts, prog_name(), (long)getpid(), fmt,
			  ap);
	if (n == 0)
		goto out;
	if (dest == MS_LOG_DEST_SYSLOG) {
		buf[n - 1] = '\0';
		syslog(ms_log_priority(level), "%s", buf);
	} else {
		write_all(STDERR_FILENO, buf, n);
	}
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
	/* a file is not the journal: timestamped lines from now on */
	if (ret == 0 && ms_log_dest() != MS_LOG_DEST_SYSLOG)
		detect_journal();
	return ret;
}

void ms_log_sink(void *ud, enum ms_log_level level, const char *msg)
{
	ms_log(level, "%s", msg ? msg : "");
}
