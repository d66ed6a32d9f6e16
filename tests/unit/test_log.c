/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_log.c - the logger's line formats (timestamped, journal "<N>",
 * syslog), the level spellings, and the detection of the journal's stream
 * (JOURNAL_STREAM = the device and inode of standard error).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <syslog.h>
#include <unistd.h>

#include "log.h"
#include "tap.h"

static size_t fmt(char *buf, size_t len, enum ms_log_dest dest, enum ms_log_level level,
		  const char *f, ...) MS_PRINTF(5, 6);

static size_t fmt(char *buf, size_t len, enum ms_log_dest dest, enum ms_log_level level,
		  const char *f, ...)
{
	struct timespec ts = { .tv_sec = 1764979200 + 3723, .tv_nsec = 45678901 };
	va_list ap;
	size_t n;

	va_start(ap, f);
	n = ms_log_format(buf, len, dest, level, &ts, "memsyncd", 4242, f, ap);
	va_end(ap);
	return n;
}

static void test_format(void)
{
	char buf[256], small[32];
	size_t n;

	n = fmt(buf, sizeof(buf), MS_LOG_DEST_STDERR, MS_LOG_INFO, "hello %d", 7);
	is_str(buf, "2025-12-06T01:02:03.045Z memsyncd[4242] INFO: hello 7\n",
	       "stderr: timestamp, program[pid], level, text");
	is_int(n, strlen(buf), "stderr: the length returned");
	fmt(buf, sizeof(buf), MS_LOG_DEST_STDERR, MS_LOG_WARN, "w");
	is_str(buf, "2025-12-06T01:02:03.045Z memsyncd[4242] WARN: w\n", "stderr: WARN");

	n = fmt(buf, sizeof(buf), MS_LOG_DEST_JOURNAL, MS_LOG_INFO, "hello %d", 7);
	is_str(buf, "<6>hello 7\n", "journal: <6> and the text, no timestamp or pid");
	is_int(n, 11, "journal: the length returned");
	fmt(buf, sizeof(buf), MS_LOG_DEST_JOURNAL, MS_LOG_ERROR, "e");
	is_str(buf, "<3>e\n", "journal: error is <3>");
	fmt(buf, sizeof(buf), MS_LOG_DEST_JOURNAL, MS_LOG_WARN, "w");
	is_str(buf, "<4>w\n", "journal: warn is <4>");
	fmt(buf, sizeof(buf), MS_LOG_DEST_JOURNAL, MS_LOG_DEBUG, "d");
	is_str(buf, "<7>d\n", "journal: debug is <7>");

	fmt(buf, sizeof(buf), MS_LOG_DEST_SYSLOG, MS_LOG_ERROR, "plain %s", "text");
	is_str(buf, "plain text\n", "syslog: the bare text (syslog adds the rest)");

	fmt(buf, sizeof(buf), MS_LOG_DEST_JOURNAL, MS_LOG_ERROR, "a\nb\r\nc\n\n");
	is_str(buf, "<3>a b  c\n", "inner newlines flattened, trailing ones dropped");

	errno = ENOENT;
	fmt(buf, sizeof(buf), MS_LOG_DEST_JOURNAL, MS_LOG_ERROR, "open: %m");
	is_str(buf, "<3>open: No such file or directory\n", "%%m is the caller's errno");
	is_int(errno, ENOENT, "errno is left as it was");

	n = fmt(small, sizeof(small), MS_LOG_DEST_JOURNAL, MS_LOG_INFO, "%s",
		"0123456789012345678901234567890123456789");
	is_int(n, sizeof(small) - 1, "a long line is cut to the buffer");
	is_str(small, "<6>012345678901234567890123...\n", "a cut line ends with ...");
}

static void test_priority(void)
{
	is_int(ms_log_priority(MS_LOG_ERROR), LOG_ERR, "error: LOG_ERR");
	is_int(ms_log_priority(MS_LOG_WARN), LOG_WARNING, "warn: LOG_WARNING");
	is_int(ms_log_priority(MS_LOG_INFO), LOG_INFO, "info: LOG_INFO");
	is_int(ms_log_priority(MS_LOG_DEBUG), LOG_DEBUG, "debug: LOG_DEBUG");
}

static void test_parse(void)
{
	static const struct {
		const char *s;
		enum ms_log_level want;
	} goods[] = {
		{ "error", MS_LOG_ERROR }, { "err", MS_LOG_ERROR },    { "ERROR", MS_LOG_ERROR },
		{ "warn", MS_LOG_WARN },   { "warning", MS_LOG_WARN }, { "Warning", MS_LOG_WARN },
		{ "notice", MS_LOG_INFO }, { "NOTICE", MS_LOG_INFO },  { "info", MS_LOG_INFO },
		{ "Info", MS_LOG_INFO },   { "debug", MS_LOG_DEBUG },  { "DEBUG", MS_LOG_DEBUG },
	};
	static const char *const bads[] = { "", "loud", "warn ", "errors", "inf", "6", "crit" };
	enum ms_log_level l;

	for (size_t i = 0; i < MS_ARRAY_SIZE(goods); i++) {
		l = (enum ms_log_level)99;
		is_int(ms_log_parse_level(goods[i].s, &l), 0, "level '%s' parses", goods[i].s);
		is_int(l, goods[i].want, "level '%s' is %d", goods[i].s, (int)goods[i].want);
	}
	for (size_t i = 0; i < MS_ARRAY_SIZE(bads); i++) {
		l = MS_LOG_DEBUG;
		is_int(ms_log_parse_level(bads[i], &l), -EINVAL, "level '%s' refused", bads[i]);
		is_int(l, MS_LOG_DEBUG, "level '%s': nothing written", bads[i]);
	}
	is_int(ms_log_parse_level(NULL, &l), -EINVAL, "no level refused");
}

static int tmpfd(char *path)
{
	int fd = mkstemp(path);

	if (fd >= 0)
		unlink(path);
	return fd;
}

static void test_is_journal(void)
{
	char p[] = "/tmp/test_log.XXXXXX", js[64], other[64];
	struct stat st;
	int fd = tmpfd(p);

	if (fd < 0 || fstat(fd, &st) < 0) {
		ok(0, "a temporary file: %s", strerror(errno));
		return;
	}
	snprintf(js, sizeof(js), "%ju:%ju", (uintmax_t)st.st_dev, (uintmax_t)st.st_ino);
	snprintf(other, sizeof(other), "%ju:%ju", (uintmax_t)st.st_dev, (uintmax_t)st.st_ino + 1);
	ok(ms_log_is_journal(fd, js), "DEV:INO of the stream: the journal");
	ok(!ms_log_is_journal(fd, other), "another inode: not the journal");
	ok(!ms_log_is_journal(fd, NULL), "no JOURNAL_STREAM: not the journal");
	ok(!ms_log_is_journal(fd, ""), "empty JOURNAL_STREAM: not the journal");
	ok(!ms_log_is_journal(fd, "junk"), "junk JOURNAL_STREAM: not the journal");
	strcat(js, "x");
	ok(!ms_log_is_journal(fd, js), "DEV:INO with trailing junk: not the journal");
	close(fd);
}

/* read back what fd (a file) holds */
static const char *slurp(int fd, char *buf, size_t len)
{
	ssize_t n = pread(fd, buf, len - 1, 0);

	buf[n > 0 ? n : 0] = '\0';
	return buf;
}

/* ms_log itself: with standard error a file JOURNAL_STREAM names, the lines
 * are "<N>text"; ms_log_open to another file goes back to timestamps. */
static void test_journal_stream(void)
{
	char p[] = "/tmp/test_log.XXXXXX", p2[] = "/tmp/test_log2.XXXXXX", js[64], buf[512];
	int fd = tmpfd(p), saved = dup(STDERR_FILENO), fd2;
	struct stat st;

	if (fd < 0 || saved < 0 || fstat(fd, &st) < 0 || dup2(fd, STDERR_FILENO) < 0) {
		ok(0, "redirect standard error: %s", strerror(errno));
		return;
	}
	snprintf(js, sizeof(js), "%ju:%ju", (uintmax_t)st.st_dev, (uintmax_t)st.st_ino);
	setenv("JOURNAL_STREAM", js, 1);
	ms_log_init("test_log", MS_LOG_INFO);
	is_int(ms_log_dest(), MS_LOG_DEST_JOURNAL, "JOURNAL_STREAM = stderr: journal lines");
	ms_warn("careful %d", 1);
	ms_dbg("not shown");
	ms_info("fine");
	is_str(slurp(fd, buf, sizeof(buf)), "<4>careful 1\n<6>fine\n",
	       "ms_log writes <N>text lines to the journal");

	fd2 = mkstemp(p2);
	if (fd2 >= 0) {
		is_int(ms_log_open(p2), 0, "ms_log_open to a file");
		is_int(ms_log_dest(), MS_LOG_DEST_STDERR, "a log file is not the journal");
		ms_info("to the file");
		slurp(fd2, buf, sizeof(buf));
		ok(strstr(buf, " test_log[") && strstr(buf, "] INFO: to the file\n") &&
		   buf[4] == '-' && buf[0] != '<', "the file gets timestamped lines: %s", buf);
		close(fd2);
		unlink(p2);
	} else {
		ok(0, "a second temporary file: %s", strerror(errno));
	}
	dup2(saved, STDERR_FILENO);
	close(saved);
	close(fd);
	unsetenv("JOURNAL_STREAM");
	ms_log_init("test_log", MS_LOG_INFO);
	is_int(ms_log_dest(), MS_LOG_DEST_STDERR, "no JOURNAL_STREAM: timestamped lines");
}

int main(void)
{
	test_format();
	test_priority();
	test_parse();
	test_is_journal();
	test_journal_stream();
	return tap_done();
}
