/* SPDX-License-Identifier: Apache-2.0 */
/*
 * log.h - the one logger of the daemon and the CLI (never of the library).
 * Lines go to stderr (or a file: ms_log_open): "2026-11-25T18:00:00.123Z memsyncd[123] INFO: text".
 */
#ifndef MS_LOG_H
#define MS_LOG_H

#include <stdarg.h>

#include "memsync.h"
#include "util.h"

void ms_log_init(const char *progname, enum ms_log_level level);
void ms_log_set_level(enum ms_log_level level);
enum ms_log_level ms_log_get_level(void);
/* "error" | "warn" | "info" | "debug"; 0 or -EINVAL */
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

#define ms_err(...) ms_log(MS_LOG_ERROR, __VA_ARGS__)
#define ms_warn(...) ms_log(MS_LOG_WARN, __VA_ARGS__)
#define ms_info(...) ms_log(MS_LOG_INFO, __VA_ARGS__)
#define ms_dbg(...) ms_log(MS_LOG_DEBUG, __VA_ARGS__)

#endif
