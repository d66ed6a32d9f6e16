/* SPDX-License-Identifier: Apache-2.0 */
/*
 * log.h - the one logger of the daemon and the CLI (never of the library).
 * Lines go to stderr (or a file: ms_log_open):
 *   "2026-11-25T18:00:00.123Z memsyncd[123] INFO: text"
 * When standard error is the systemd journal (JOURNAL_STREAM names its
 * device and inode) a line is "<6>text" instead: the syslog priority in
 * the prefix journald reads, and no timestamp or pid of its own (the
 * journal records both).  With ms_log_use_syslog the lines go through
 * syslog(3) (LOG_DAEMON, with the pid) instead of standard error.
 */
#ifndef MS_LOG_H
#define MS_LOG_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "memsync.h"
#include "util.h"

/* Where lines go (ms_log_dest). */
enum ms_log_dest {
	MS_LOG_DEST_STDERR = 0,  /* timestamped lines on standard error */
	MS_LOG_DEST_JOURNAL,     /* "<N>text" lines on standard error */
	MS_LOG_DEST_SYSLOG,      /* syslog(3) */
};

void ms_log_init(const char *progname, enum ms_log_level level);
void ms_log_set_level(enum ms_log_level level);
enum ms_log_level ms_log_get_level(void);
/* Case-insensitive: "error" | "err", "warn" | "warning", "notice" | "info"
 * (notice is logged as info), "debug"; 0 or -EINVAL. */
int ms_log_parse_level(const char *s, enum ms_log_level *out);
void ms_log(enum ms_log_level level, const char *fmt, ...) MS_PRINTF(2, 3);
void ms_vlog(enum ms_log_level level, const char *fmt, va_list ap);
/* Send the log (standard error) to path from now on, appending; called
 * again with the same path after the file was moved away, the lines go to
 * a new file (logrotate).  The switch is atomic for other threads: each
 * line lands in the old or the new file.  0 or -errno (nothing changed). */
int ms_log_open(const char *path);
/* Adapter with the ms_log_fn signature, for ms_server_opts.log. */
void ms_log_sink(void *ud, enum ms_log_level level, const char *msg);

/* Log through syslog(3) from now on (openlog: the program name, LOG_PID,
 * LOG_DAEMON), or (false) back to standard error. */
void ms_log_use_syslog(bool on);
/* Where the lines go now. */
enum ms_log_dest ms_log_dest(void);

/* --- the parts below are pure, for the unit tests --- */

/* The syslog priority of a level: error 3, warn 4, info 6, debug 7. */
int ms_log_priority(enum ms_log_level level);
/* Is fd the stream journal_stream ("DEV:INO", the value of JOURNAL_STREAM,
 * may be NULL) names? */
bool ms_log_is_journal(int fd, const char *journal_stream);
/* Format one line (newline-terminated; inner newlines flattened, a long
 * message cut with "...") into buf, for dest STDERR (with ts, prog and
 * pid) or JOURNAL ("<N>text"); for SYSLOG the bare text.  Returns the
 * length (< len), 0 on a formatting error.  len must be at least 16. */
size_t ms_log_format(char *buf, size_t len, enum ms_log_dest dest, enum ms_log_level level,
		     const struct timespec *ts, const char *prog, long pid, const char *fmt,
		     va_list ap);

#define ms_err(...) ms_log(MS_LOG_ERROR, __VA_ARGS__)
#define ms_warn(...) ms_log(MS_LOG_WARN, __VA_ARGS__)
#define ms_info(...) ms_log(MS_LOG_INFO, __VA_ARGS__)
#define ms_dbg(...) ms_log(MS_LOG_DEBUG, __VA_ARGS__)

#endif
