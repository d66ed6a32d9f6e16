/* SPDX-License-Identifier: Apache-2.0 */
/*
 * replace.h - a regular file replaced whole or not at all, for `memsync
 * pull`: the new content goes into a temporary file created next to the
 * target (".NAME.memsync-XXXXXX", O_EXCL), which is synced and renamed
 * over the target only when it is complete; then the directory is synced.
 * A crash leaves the old file or the new one, never a partial one (a
 * SIGKILL or a crash may leave the temporary file behind; the target is
 * untouched).
 *
 * While a replacement is pending, SIGINT, SIGTERM and SIGHUP remove the
 * temporary file, print one line on stderr and exit 128 + the signal
 * number (130, 143, 129); a signal that was ignored when the replacement
 * began (nohup) stays ignored.  Only one replacement may be pending at a
 * time.
 */
#ifndef MS_CLI_REPLACE_H
#define MS_CLI_REPLACE_H

#include <stdbool.h>

struct replace {
	char *path;   /* the file replaced (a symbolic link resolved) */
	char *dir;    /* its directory */
	char *tmp;    /* the temporary file; NULL once renamed or removed */
	int fd;       /* open O_RDWR on tmp; -1 once closed */
	bool existed; /* path existed when the replacement began */
};

/* Begin replacing path: create the temporary file, with the mode and (where
 * permitted) the owner and group of an existing path, else mode 0644 less
 * the umask, as open(O_CREAT) would give the target; install the signal
 * handlers.  cmd names the command in the interrupt message ("memsync:
 * CMD: interrupted; 'PATH' left unchanged").  0 or -errno (*what says which
 * step failed, for a message). */
int replace_begin(struct replace *rp, const char *path, const char *cmd, const char **what);

/* Finish: fsync and close the temporary file, rename it over the target,
 * fsync the directory, restore the signal handlers.  0 or -errno (*what
 * says which step failed).  On failure before the rename the temporary
 * file is removed and the target is untouched; a failure to sync the
 * directory comes after the rename (the target has the new content, but
 * it may not be durable). */
int replace_commit(struct replace *rp, const char **what);

/* Give up (any time after replace_begin, also after a failed commit):
 * remove the temporary file if it is still there, restore the signal
 * handlers, free everything.  Safe to call twice. */
void replace_abort(struct replace *rp);

/* The temporary file's name for path, with suffix (6 characters) in place
 * of the random part: ".NAME.memsync-SUFFIX" in path's directory, NAME
 * shortened to keep the name within NAME_MAX.  malloc'ed, NULL + errno.
 * Exposed for tests. */
char *replace_tmp_name(const char *path, const char *suffix);

#endif
