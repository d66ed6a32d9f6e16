/* SPDX-License-Identifier: Apache-2.0 */
/*
 * migrate_pause.c - pausing a process that does not link libmemsync for a
 * hand-over (migrate_app.h): SIGSTOP/SIGCONT of a pid, waiting until
 * /proc/PID/stat shows it stopped, or the cgroup v2 freezer (write 1 to
 * cgroup.freeze, wait until cgroup.events says "frozen 1"; the kernel's
 * Documentation/admin-guide/cgroup-v2.rst, "cgroup.freeze").
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "memsync.h"
#include "migrate_app.h"
#include "util.h"

static void nap(void)
{
	struct timespec ts = { .tv_nsec = 200000 };

	nanosleep(&ts, NULL);
}

/* The state letter of /proc/pid/stat (after the ")" of the name), or 0. */
static char proc_state(int pid)
{
	char path[64], buf[512], *p;
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	p = strrchr(buf, ')');
	return p && p[1] == ' ' ? p[2] : 0;
}

int ms_pause_pid(int pid, bool stop, int timeout_ms)
{
	uint64_t deadline = ms_now_ns() +
			    (uint64_t)(timeout_ms > 0 ? timeout_ms : MIG_PAUSE_WAIT_MS) * 1000000u;
	char s;

	if (pid <= 0)
		return -EINVAL;
	if (kill(pid, stop ? SIGSTOP : SIGCONT))
		return -errno;
	for (;;) {
		s = proc_state(pid);
		if (!s)
			return -ESRCH;
		/* T stopped (t: traced, stopped too); anything else runs */
		if (stop == (s == 'T' || s == 't'))
			return 0;
		if (ms_now_ns() > deadline)
			return -ETIMEDOUT;
		nap();
	}
}

static int write_file(const char *dir, const char *name, const char *v)
{
	char path[4096];
	ssize_t n;
	int fd, ret = 0;

	if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, name) >= sizeof(path))
		return -ENAMETOOLONG;
	fd = open(path, O_WRONLY | O_TRUNC | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = write(fd, v, strlen(v));
	if (n != (ssize_t)strlen(v))
		ret = n < 0 ? -errno : -EIO;
	close(fd);
	return ret;
}

/* cgroup.events says "frozen <want>": 1, it says otherwise: 0, -errno. */
static int events_frozen(const char *dir, bool want)
{
	char path[4096], buf[1024], *p;
	ssize_t n;
	int fd;

	if ((size_t)snprintf(path, sizeof(path), "%s/cgroup.events", dir) >= sizeof(path))
		return -ENAMETOOLONG;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n < 0)
		return -errno;
	buf[n] = '\0';
	for (p = buf; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL)
		if (!strncmp(p, "frozen ", 7))
			return (p[7] == '1') == want;
	return -EPROTO;          /* no "frozen" key: not a cgroup v2 directory */
}

int ms_pause_cgroup(const char *dir, bool freeze, int timeout_ms)
{
	uint64_t deadline = ms_now_ns() +
			    (uint64_t)(timeout_ms > 0 ? timeout_ms : MIG_PAUSE_WAIT_MS) * 1000000u;
	int ret;

	if (!dir || !*dir)
		return -EINVAL;
	if ((ret = write_file(dir, "cgroup.freeze", freeze ? "1" : "0")))
		return ret;
	for (;;) {
		ret = events_frozen(dir, freeze);
		if (ret)
			return ret < 0 ? ret : 0;
		if (ms_now_ns() > deadline)
			return -ETIMEDOUT;
		nap();
	}
}

int ms_pause_hook(void *ud)
{
	const struct ms_pause_target *t = ud;

	if (!t)
		return -EINVAL;
	return t->pid > 0 ? ms_pause_pid(t->pid, true, t->timeout_ms) :
			    ms_pause_cgroup(t->cgroup, true, t->timeout_ms);
}

void ms_resume_hook(void *ud)
{
	const struct ms_pause_target *t = ud;

	if (!t)
		return;
	if (t->pid > 0)
		(void)ms_pause_pid(t->pid, false, t->timeout_ms);
	else
		(void)ms_pause_cgroup(t->cgroup, false, t->timeout_ms);
}
