/* SPDX-License-Identifier: Apache-2.0 */
/*
 * errjson.h - failures as scripts read them: with --json, a command that
 * fails prints exactly one object on stdout,
 *
 *	{"error": "unknown region 'x' on 127.0.0.1:7470", "errno": 2,
 *	 "errname": "ENOENT", "command": "pull", "status": 1}
 *
 * as well as its message on stderr.  cli_error() and cli_usage_error()
 * (cli.h) record the first failure here; main() calls errjson_finish() once
 * with the exit status, which prints the object when --json was given and
 * the status is not 0.  Usage errors are recorded as EINVAL.
 */
#ifndef MS_CLI_ERRJSON_H
#define MS_CLI_ERRJSON_H

#include <stdbool.h>
#include <stdio.h>

/* "ENOENT" for ENOENT; NULL for a number that names no error. */
const char *errjson_errname(int err);

/* Write the error object (one line) to f.  cmd may be NULL (no "command"
 * key); err <= 0 is written as EIO.  0 or -errno. */
int errjson_write(FILE *f, const char *cmd, const char *msg, int err, int status);

/* --json was given: failures are printed as objects by errjson_finish(). */
void errjson_enable(bool on);

/* Record a failure (the first one is kept; later ones are consequences). */
void errjson_record(const char *cmd, int err, const char *msg);

/* The exit status status is about to be returned: with --json and a
 * failure, print the object on stdout (a generic one if nothing was
 * recorded).  Returns status. */
int errjson_finish(int status);

#endif
