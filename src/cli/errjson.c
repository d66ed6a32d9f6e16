/* SPDX-License-Identifier: Apache-2.0 */
/*
 * errjson.c - the messages of the memsync command line: "memsync: CMD:
 * message" on stderr, and the JSON object of a failure (see errjson.h).
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "errjson.h"
#include "jsonw.h"

#define MSG_MAX 1024

static struct {
	bool json;
	bool have;
	int err;
	char cmd[32];
	char msg[MSG_MAX];
} rec;

#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 32))
#define HAVE_ERRNAME 1
#endif

#ifndef HAVE_ERRNAME
#define E(x) { x, #x }
static const struct {
	int err;
	const char *name;
} errnames[] = {
	E(EPERM), E(ENOENT), E(EINTR), E(EIO), E(ENXIO), E(E2BIG), E(EBADF), E(EAGAIN),
	E(ENOMEM), E(EACCES), E(EFAULT), E(EBUSY), E(EEXIST), E(ENODEV), E(ENOTDIR),
	E(EISDIR), E(EINVAL), E(ENFILE), E(EMFILE), E(EFBIG), E(ENOSPC), E(ESPIPE),
	E(EROFS), E(EPIPE), E(ERANGE), E(ENAMETOOLONG), E(ENOSYS), E(ENOTEMPTY),
	E(EPROTO), E(EBADMSG), E(EOVERFLOW), E(EMSGSIZE), E(EPROTONOSUPPORT),
	E(EOPNOTSUPP), E(EADDRINUSE), E(EADDRNOTAVAIL), E(ENETDOWN), E(ENETUNREACH),
	E(ECONNABORTED), E(ECONNRESET), E(ENOBUFS), E(ENOTCONN), E(ETIMEDOUT),
	E(ECONNREFUSED), E(EHOSTUNREACH), E(EALREADY), E(EINPROGRESS), E(ESTALE),
	E(ECANCELED), E(EKEYREJECTED), E(ENOTSUP),
};
#undef E
#endif

const char *errjson_errname(int err)
{
#ifdef HAVE_ERRNAME
	return err > 0 ? strerrorname_np(err) : NULL;
#else
	for (size_t i = 0; i < sizeof(errnames) / sizeof(errnames[0]); i++)
		if (errnames[i].err == err)
			return errnames[i].name;
	return NULL;
#endif
}

int errjson_write(FILE *f, const char *cmd, const char *msg, int err, int status)
{
	const char *name;
	struct jsonw w;

	if (err <= 0)
		err = EIO;
	name = errjson_errname(err);
	jw_init(&w, f);
	jw_obj_begin(&w);
	jw_kv_str(&w, "error", msg);
	jw_kv_int(&w, "errno", err);
	jw_key(&w, "errname");
	if (name)
		jw_str(&w, name);
	else
		jw_null(&w);
	if (cmd && cmd[0])
		jw_kv_str(&w, "command", cmd);
	jw_kv_int(&w, "status", status);
	jw_obj_end(&w);
	return jw_finish(&w);
}

void errjson_enable(bool on)
{
	rec.json = on;
}

void errjson_record(const char *cmd, int err, const char *msg)
{
	if (rec.have)
		return;
	rec.have = true;
	rec.err = err;
	snprintf(rec.cmd, sizeof(rec.cmd), "%s", cmd ? cmd : "");
	snprintf(rec.msg, sizeof(rec.msg), "%s", msg);
}

int errjson_finish(int status)
{
	if (!rec.json || status == CLI_EXIT_OK)
		return status;
	if (rec.have)
		errjson_write(stdout, rec.cmd, rec.msg, rec.err, status);
	else
		errjson_write(stdout, NULL, "failed", EIO, status);
	return status;
}

/* ------------------------------------------------------- the messages */

static void vreport(const char *cmd, int err, bool usage, const char *fmt, va_list ap)
{
	char msg[MSG_MAX];

	vsnprintf(msg, sizeof(msg), fmt, ap);
	fflush(stdout);
	if (cmd)
		fprintf(stderr, "memsync: %s: %s\n", cmd, msg);
	else
		fprintf(stderr, "memsync: %s\n", msg);
	if (usage && cmd && strcmp(cmd, "help") != 0)
		fprintf(stderr, "Try 'memsync help %s' for more information.\n", cmd);
	else if (usage)
		fprintf(stderr, "Try 'memsync --help' for more information.\n");
	errjson_record(cmd, err, msg);
}

void cli_error(const char *cmd, const char *fmt, ...)
{
	int err = errno;   /* what the caller's strerror(errno) shows */
	va_list ap;

	va_start(ap, fmt);
	vreport(cmd, err > 0 ? err : EIO, false, fmt, ap);
	va_end(ap);
}

void cli_error_errno(const char *cmd, int err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vreport(cmd, err < 0 ? -err : err, false, fmt, ap);
	va_end(ap);
}

int cli_usage_error(const char *cmd, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vreport(cmd, EINVAL, true, fmt, ap);
	va_end(ap);
	return CLI_EXIT_USAGE;
}
