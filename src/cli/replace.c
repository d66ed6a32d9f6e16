/* SPDX-License-Identifier: Apache-2.0 */
/*
 * replace.c - a regular file replaced whole or not at all (see replace.h).
 *
 * Interruption: the pull that writes the temporary file is one long
 * library call (ms_pull) with no way to cancel it (its progress callback
 * returns nothing), so a handler that only set a flag would be noticed
 * when the whole region had arrived.  The handler therefore does the
 * cleanup itself with async-signal-safe calls only: unlink() of a path
 * prepared before the handler was armed, write() of a prepared message and
 * _exit(128 + signal).  Nothing is left to undo: the connection closes
 * with the process, the server sees a reader go away.  The rename runs
 * with the signals blocked, and the handler is disarmed before they are
 * unblocked, so a signal never removes the file after it became the
 * target.
 */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "replace.h"

#define TMP_MARK ".memsync-"
#define TMP_RAND 6
#define TRIES 100

static const int sigs[] = { SIGINT, SIGTERM, SIGHUP };

/* The handler's state, written only while the signals are blocked. */
static char sig_path[PATH_MAX];
static char sig_msg[PATH_MAX + 128];
static size_t sig_msglen;
static volatile sig_atomic_t sig_armed;
static struct sigaction sig_old[sizeof(sigs) / sizeof(sigs[0])];
static bool sig_caught[sizeof(sigs) / sizeof(sigs[0])];

static void on_signal(int sig)
{
	if (sig_armed) {
		(void)unlink(sig_path);
		(void)!write(STDERR_FILENO, sig_msg, sig_msglen);
	}
	_exit(128 + sig);
}

static void block_sigs(sigset_t *old)
{
	sigset_t set;

	sigemptyset(&set);
	for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
		sigaddset(&set, sigs[i]);
	sigprocmask(SIG_BLOCK, &set, old);
}

static void arm(const struct replace *rp, const char *cmd, const char *shown)
{
	struct sigaction sa = { .sa_handler = on_signal };
	sigset_t old;
	int n;

	sigfillset(&sa.sa_mask);
	block_sigs(&old);
	snprintf(sig_path, sizeof(sig_path), "%s", rp->tmp);
	n = snprintf(sig_msg, sizeof(sig_msg), "%smemsync: %s: interrupted; '%s' %s\n",
		     isatty(STDERR_FILENO) ? "\n" : "", cmd, shown,
		     rp->existed ? "left unchanged" : "not created");
	sig_msglen = n < 0 ? 0 : (size_t)n < sizeof(sig_msg) ? (size_t)n : sizeof(sig_msg) - 1;
	sig_armed = 1;
	/* a signal ignored when we started stays ignored (nohup, or a
	 * background job of a shell without job control): whoever started us
	 * asked not to be interrupted by it */
	for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
		sig_caught[i] = sigaction(sigs[i], NULL, &sig_old[i]) == 0 &&
				sig_old[i].sa_handler != SIG_IGN &&
				sigaction(sigs[i], &sa, NULL) == 0;
	sigprocmask(SIG_SETMASK, &old, NULL);
}

/* Restore the handlers the signals had; called with the signals blocked. */
static void disarm_blocked(void)
{
	if (!sig_armed)
		return;
	sig_armed = 0;
	for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
		if (sig_caught[i])
			sigaction(sigs[i], &sig_old[i], NULL);
}

char *replace_tmp_name(const char *path, const char *suffix)
{
	char *c1 = strdup(path), *c2 = strdup(path), *out = NULL;
	size_t room = NAME_MAX - 1 - strlen(TMP_MARK) - TMP_RAND, blen;
	const char *dir, *base;

	if (!c1 || !c2)
		goto out;
	dir = dirname(c1);
	base = basename(c2);
	blen = strlen(base);
	if (blen > room)
		blen = room;
	if (asprintf(&out, "%s/.%.*s%s%s", dir, (int)blen, base, TMP_MARK, suffix) < 0)
		out = NULL;
out:
	free(c1);
	free(c2);
	return out;
}

/* Create the temporary file under a fresh random name. */
static int create_tmp(struct replace *rp)
{
	static const char set[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

	for (int t = 0; t < TRIES; t++) {
		unsigned char rnd[TMP_RAND];
		char suffix[TMP_RAND + 1];

		if (getrandom(rnd, sizeof(rnd), GRND_NONBLOCK) != (ssize_t)sizeof(rnd)) {
			struct timespec ts;

			/* no entropy yet: O_EXCL keeps a guessable name safe */
			clock_gettime(CLOCK_MONOTONIC, &ts);
			for (int i = 0; i < TMP_RAND; i++)
				rnd[i] = (unsigned char)(((uint64_t)ts.tv_nsec >> (i * 5)) ^
							 ((unsigned)getpid() >> i) ^ (unsigned)t);
		}
		for (int i = 0; i < TMP_RAND; i++)
			suffix[i] = set[rnd[i] % (sizeof(set) - 1)];
		suffix[TMP_RAND] = '\0';
		free(rp->tmp);
		rp->tmp = replace_tmp_name(rp->path, suffix);
		if (!rp->tmp)
			return -errno;
		rp->fd = open(rp->tmp, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
		if (rp->fd >= 0)
			return 0;
		if (errno != EEXIST)
			break;
	}
	int ret = -errno;

	free(rp->tmp);
	rp->tmp = NULL;
	return ret;
}

/* The resolved target: a symbolic link to a file replaces that file. */
static int resolve(struct replace *rp, const char *path, struct stat *sb)
{
	struct stat lsb;
	char *copy;

	rp->existed = stat(path, sb) == 0;
	if (!rp->existed && errno != ENOENT)
		return -errno;
	if (rp->existed && lstat(path, &lsb) == 0 && S_ISLNK(lsb.st_mode))
		rp->path = realpath(path, NULL);
	else if (!rp->existed && lstat(path, &lsb) == 0)
		return -ENOENT;         /* a dangling link: where would it go? */
	else
		rp->path = strdup(path);
	if (!rp->path)
		return -errno;
	copy = strdup(rp->path);
	if (!copy)
		return -errno;
	rp->dir = strdup(dirname(copy));
	free(copy);
	return rp->dir ? 0 : -errno;
}

int replace_begin(struct replace *rp, const char *path, const char *cmd, const char **what)
{
	struct stat sb;
	int ret;

	*rp = (struct replace){ .fd = -1 };
	*what = "resolve";
	ret = resolve(rp, path, &sb);
	if (ret)
		goto fail;
	*what = "create a temporary file next to";
	ret = create_tmp(rp);
	if (ret)
		goto fail;
	if (rp->existed) {
		*what = "set the mode of";
		/* the owner first: chown clears the set-id bits */
		if ((sb.st_uid != geteuid() || sb.st_gid != getegid()) &&
		    fchown(rp->fd, sb.st_uid, sb.st_gid) < 0 &&
		    fchown(rp->fd, (uid_t)-1, sb.st_gid) < 0) {
			/* not permitted: the new file is ours, as with cp */
		}
		if (fchmod(rp->fd, sb.st_mode & 07777) < 0) {
			ret = -errno;
			goto fail;
		}
	}
	arm(rp, cmd, path);
	return 0;
fail:
	replace_abort(rp);
	return ret;
}

static int sync_dir(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC), ret = 0;

	if (fd < 0)
		return -errno;
	/* some filesystems cannot sync a directory: nothing more to do there */
	if (fsync(fd) < 0 && errno != EINVAL && errno != EROFS)
		ret = -errno;
	close(fd);
	return ret;
}

int replace_commit(struct replace *rp, const char **what)
{
	sigset_t old;
	int fd = rp->fd, ret;

	*what = "sync";
	if (fsync(fd) < 0)
		return -errno;
	*what = "close";
	rp->fd = -1;
	if (close(fd) < 0)
		return -errno;
	*what = "rename the temporary file over";
	block_sigs(&old);
	ret = rename(rp->tmp, rp->path) < 0 ? -errno : 0;
	if (ret == 0) {
		free(rp->tmp);
		rp->tmp = NULL;
		disarm_blocked();
	}
	sigprocmask(SIG_SETMASK, &old, NULL);
	if (ret)
		return ret;
	*what = "sync the directory of";
	ret = sync_dir(rp->dir);
	replace_abort(rp);
	return ret;
}

void replace_abort(struct replace *rp)
{
	sigset_t old;

	if (rp->fd >= 0)
		close(rp->fd);
	rp->fd = -1;
	block_sigs(&old);
	if (rp->tmp)
		(void)unlink(rp->tmp);
	disarm_blocked();
	sigprocmask(SIG_SETMASK, &old, NULL);
	free(rp->tmp);
	free(rp->path);
	free(rp->dir);
	rp->tmp = rp->path = rp->dir = NULL;
}
