/* SPDX-License-Identifier: Apache-2.0 */
/*
 * uffd.c - opening a userfaultfd and probing its features (see uffd.h for
 * the fallback policy and why it depends on the use).
 */
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "uffd.h"

static int sys_userfaultfd(int flags)
{
#ifdef __NR_userfaultfd
	return (int)syscall(__NR_userfaultfd, flags);
#else
	(void)flags;
	errno = ENOSYS;
	return -1;
#endif
}

/* An open userfaultfd (no UFFDIO_API yet), or -errno of the first attempt. */
static int uffd_open(enum ms_uffd_use use)
{
	int fd = sys_userfaultfd(O_CLOEXEC | O_NONBLOCK), err = errno, dev;

	if (fd >= 0 || err != EPERM)
		return fd >= 0 ? fd : -err;
	dev = open("/dev/userfaultfd", O_RDWR | O_CLOEXEC);
	if (dev >= 0) {
		fd = ioctl(dev, USERFAULTFD_IOC_NEW, O_CLOEXEC | O_NONBLOCK);
		close(dev);
		if (fd >= 0)
			return fd;
	}
	if (use != MS_UFFD_WP_ASYNC)
		return -err;
	fd = sys_userfaultfd(O_CLOEXEC | O_NONBLOCK | UFFD_USER_MODE_ONLY);
	return fd >= 0 ? fd : -err;
}

int ms_uffd_new(enum ms_uffd_use use, uint64_t want, uint64_t *features)
{
	struct uffdio_api api = { .api = UFFD_API, .features = want };
	int fd = uffd_open(use);

	if (fd < 0)
		return fd;
	if (ioctl(fd, UFFDIO_API, &api)) {
		int e = errno;

		close(fd);
		return -e;
	}
	if (features)
		*features = api.features;
	return fd;
}

int ms_uffd_probe(enum ms_uffd_use use, uint64_t *features)
{
	int fd = ms_uffd_new(use, 0, features);

	if (fd < 0)
		return fd;
	close(fd);
	return 0;
}

const char *ms_uffd_missing(uint64_t have, uint64_t want)
{
	static const struct {
		uint64_t bit;
		const char *name;
	} names[] = {
		{ UFFD_FEATURE_WP_ASYNC, "UFFD_FEATURE_WP_ASYNC" },
		{ UFFD_FEATURE_WP_UNPOPULATED, "UFFD_FEATURE_WP_UNPOPULATED" },
		{ UFFD_FEATURE_WP_HUGETLBFS_SHMEM, "UFFD_FEATURE_WP_HUGETLBFS_SHMEM" },
		{ UFFD_FEATURE_MINOR_SHMEM, "UFFD_FEATURE_MINOR_SHMEM" },
		{ UFFD_FEATURE_POISON, "UFFD_FEATURE_POISON" },
		{ UFFD_FEATURE_MOVE, "UFFD_FEATURE_MOVE" },
	};
	uint64_t lack = want & ~have;

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (lack & names[i].bit)
			return names[i].name;
	return lack ? "a userfaultfd feature" : NULL;
}

const char *ms_uffd_hint(int err)
{
	if (err == -EPERM)
		return " (needs CAP_SYS_PTRACE, access to /dev/userfaultfd or "
		       "vm.unprivileged_userfaultfd=1)";
	if (err == -ENOSYS)
		return " (kernel built without userfaultfd)";
	return "";
}
