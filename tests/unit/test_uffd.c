/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_uffd.c - the userfaultfd module (src/uffd.c):
 *
 * - the name of the first missing feature and the hints (every host);
 * - the feature probe and a descriptor with features, and a refused
 *   feature that leaks no descriptor (where the kernel gives one);
 * - the fallback policy, where the host allows it (the test runs as root,
 *   vm.unprivileged_userfaultfd=0, /dev/userfaultfd closed to others): a
 *   child that drops to an unprivileged user gets EPERM for a mapper
 *   (MS_UFFD_FAULTS) but a user-mode-only descriptor for a WP_ASYNC
 *   tracker, on which a fault the kernel takes for the process (read(2)
 *   into a registered page) fails with EFAULT instead of waiting: the
 *   reason a mapper must not have one.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tap.h"
#include "uffd.h"

static int count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	int n = 0;

	if (!d)
		return -1;
	while (readdir(d))
		n++;
	closedir(d);
	return n;
}

static void test_names(void)
{
	const uint64_t wp = UFFD_FEATURE_WP_ASYNC | UFFD_FEATURE_WP_UNPOPULATED;

	ok(ms_uffd_missing(wp | UFFD_FEATURE_POISON, wp) == NULL, "missing: none");
	ok(ms_uffd_missing(0, 0) == NULL, "missing: nothing wanted");
	is_str(ms_uffd_missing(UFFD_FEATURE_WP_UNPOPULATED, wp), "UFFD_FEATURE_WP_ASYNC",
	       "missing: WP_ASYNC");
	is_str(ms_uffd_missing(0, wp), "UFFD_FEATURE_WP_ASYNC",
	       "missing: both: WP_ASYNC is named first");
	is_str(ms_uffd_missing(UFFD_FEATURE_WP_ASYNC, wp | UFFD_FEATURE_WP_HUGETLBFS_SHMEM),
	       "UFFD_FEATURE_WP_UNPOPULATED", "missing: WP_UNPOPULATED");
	is_str(ms_uffd_missing(wp, wp | UFFD_FEATURE_WP_HUGETLBFS_SHMEM),
	       "UFFD_FEATURE_WP_HUGETLBFS_SHMEM", "missing: WP_HUGETLBFS_SHMEM");
	is_str(ms_uffd_missing(0, UFFD_FEATURE_MINOR_SHMEM), "UFFD_FEATURE_MINOR_SHMEM",
	       "missing: MINOR_SHMEM");
	is_str(ms_uffd_missing(0, 1ull << 40), "a userfaultfd feature",
	       "missing: a bit without a name");
	ok(strstr(ms_uffd_hint(-EPERM), "vm.unprivileged_userfaultfd=1") != NULL,
	   "hint: EPERM says how to get one");
	ok(strstr(ms_uffd_hint(-ENOSYS), "without userfaultfd") != NULL,
	   "hint: ENOSYS says the kernel lacks it");
	is_str(ms_uffd_hint(-EINVAL), "", "hint: none for EINVAL");
}

static void test_probe(void)
{
	uint64_t have = 0, got = 0, want;
	int ret, fd, n0;

	ret = ms_uffd_probe(MS_UFFD_FAULTS, &have);
	if (ret) {
		tap_skip("probe: no userfaultfd here: %s%s", strerror(-ret), ms_uffd_hint(ret));
		return;
	}
	ok(have != 0, "probe: the kernel names its features (%#llx)", (unsigned long long)have);
	want = have & (UFFD_FEATURE_MINOR_SHMEM | UFFD_FEATURE_POISON |
		       UFFD_FEATURE_WP_ASYNC | UFFD_FEATURE_WP_UNPOPULATED);
	n0 = count_fds();
	fd = ms_uffd_new(MS_UFFD_FAULTS, want, &got);
	ok(fd >= 0, "new: a descriptor with the features the probe named: %d", fd);
	ok((got & want) == want, "new: it has them (%#llx of %#llx)", (unsigned long long)got,
	   (unsigned long long)want);
	ok(fd >= 0 && (fcntl(fd, F_GETFD) & FD_CLOEXEC) && (fcntl(fd, F_GETFL) & O_NONBLOCK),
	   "new: close-on-exec and non-blocking");
	if (fd >= 0)
		close(fd);
	ret = ms_uffd_new(MS_UFFD_FAULTS, 1ull << 62, NULL);
	is_int(ret, -EINVAL, "new: a feature the kernel does not know: EINVAL");
	is_int(count_fds(), n0, "new: no descriptor left open");
	is_int(ms_uffd_probe(MS_UFFD_WP_ASYNC, &got), 0, "probe for a tracker: 0");
	is_int(got, have, "probe for a tracker: the same features");
}

/* In the child, as nobody: what a mapper and a tracker get, and what a
 * kernel-mode access to a missing page does on the tracker's descriptor. */
static void child(int out)
{
	int res[3] = { 0, 0, 0 }, pfd[2], fd;
	uint8_t *page;
	char c = 'x';

	alarm(20);      /* a read that waited for a fault handler fails the test */
	if (setgroups(0, NULL) || setgid(65534) || setuid(65534))
		_exit(2);
	res[0] = ms_uffd_new(MS_UFFD_FAULTS, 0, NULL);
	fd = ms_uffd_new(MS_UFFD_WP_ASYNC, 0, NULL);
	res[1] = fd;
	page = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (fd >= 0 && page != MAP_FAILED && pipe(pfd) == 0) {
		struct uffdio_register reg = {
			.range = { .start = (uintptr_t)page, .len = 4096 },
			.mode = UFFDIO_REGISTER_MODE_MISSING,
		};

		if (ioctl(fd, UFFDIO_REGISTER, &reg) == 0 && write(pfd[1], &c, 1) == 1)
			res[2] = read(pfd[0], page, 1) < 0 ? -errno : 1;
	}
	if (write(out, res, sizeof(res)) != sizeof(res))
		_exit(3);
	_exit(0);
}

static void test_fallback(void)
{
	struct stat sb;
	int res[3] = { 0, 0, 0 }, p[2], status = 0;
	char sysctl = '?';
	int f = open("/proc/sys/vm/unprivileged_userfaultfd", O_RDONLY);
	pid_t pid;

	if (f >= 0) {
		if (read(f, &sysctl, 1) != 1)
			sysctl = '?';
		close(f);
	}
	if (geteuid() != 0 || sysctl != '0' ||
	    (stat("/dev/userfaultfd", &sb) == 0 && (sb.st_mode & 006))) {
		tap_skip("fallback: needs root, vm.unprivileged_userfaultfd=0 and a "
			 "/dev/userfaultfd closed to others (euid %d, sysctl %c)",
			 (int)geteuid(), sysctl);
		return;
	}
	if (pipe(p))
		tap_bail("pipe");
	pid = fork();
	if (pid < 0)
		tap_bail("fork");
	if (pid == 0) {
		close(p[0]);
		child(p[1]);
	}
	close(p[1]);
	if (read(p[0], res, sizeof(res)) != sizeof(res))
		res[0] = res[1] = res[2] = 1000;
	close(p[0]);
	waitpid(pid, &status, 0);
	ok(WIFEXITED(status) && WEXITSTATUS(status) == 0,
	   "fallback: the unprivileged child ran (status %#x)", status);
	is_int(res[0], -EPERM, "fallback: a mapper gets no userfaultfd unprivileged (EPERM)");
	ok(res[1] >= 0, "fallback: a WP_ASYNC tracker gets a user-mode-only one (%d)", res[1]);
	is_int(res[2], -EFAULT,
	       "fallback: on it, a kernel-mode access to a missing page fails (EFAULT): "
	       "no mapper could serve it");
}

int main(void)
{
	test_names();
	test_probe();
	test_fallback();
	return tap_done();
}
