/* SPDX-License-Identifier: Apache-2.0 */
/*
 * uffd_compat.h - the userfaultfd and PAGEMAP_SCAN definitions that older
 * kernel headers lack (Debian 12 ships linux-libc-dev 6.1; WP_UNPOPULATED
 * came with Linux 6.4, WP_ASYNC and PAGEMAP_SCAN with 6.7, MOVE with 6.8).
 *
 * The system headers come first; every item below is defined only when they
 * did not define it, with the value or layout of the kernel's uapi headers
 * (include/uapi/linux/userfaultfd.h and include/uapi/linux/fs.h).  These are
 * ABI: the running kernel decides at run time whether it knows them (a
 * kernel that does not answers UFFDIO_API without the feature bits, or the
 * ioctl with ENOTTY/EINVAL), so building with old headers is safe.
 */
#ifndef MS_UFFD_COMPAT_H
#define MS_UFFD_COMPAT_H

#include <linux/types.h>
#include <linux/userfaultfd.h>
#include <linux/fs.h>
#include <sys/ioctl.h>

/* ---------------------------------------------------- linux/userfaultfd.h */

#ifndef USERFAULTFD_IOC
#define USERFAULTFD_IOC 0xAA
#endif
#ifndef USERFAULTFD_IOC_NEW
#define USERFAULTFD_IOC_NEW _IO(USERFAULTFD_IOC, 0x00)
#endif
/* userfaultfd(2) flag: only faults from user mode (allowed unprivileged). */
#ifndef UFFD_USER_MODE_ONLY
#define UFFD_USER_MODE_ONLY 1
#endif

#ifndef UFFD_FEATURE_WP_HUGETLBFS_SHMEM
#define UFFD_FEATURE_WP_HUGETLBFS_SHMEM (1 << 12)
#endif
/* UFFDIO_WRITEPROTECT also protects never-populated pages (pte markers). */
#ifndef UFFD_FEATURE_WP_UNPOPULATED
#define UFFD_FEATURE_WP_UNPOPULATED (1 << 13)
#endif
#ifndef UFFD_FEATURE_POISON
#define UFFD_FEATURE_POISON (1 << 14)
#endif
/* A write to a write-protected page is resolved by the kernel, which only
 * drops the protection (PAGEMAP_SCAN then reports the page as written). */
#ifndef UFFD_FEATURE_WP_ASYNC
#define UFFD_FEATURE_WP_ASYNC (1 << 15)
#endif
#ifndef UFFD_FEATURE_MOVE
#define UFFD_FEATURE_MOVE (1 << 16)
#endif

#ifndef UFFD_FEATURE_MINOR_HUGETLBFS
#define UFFD_FEATURE_MINOR_HUGETLBFS (1 << 9)
#endif
#ifndef UFFD_FEATURE_MINOR_SHMEM
#define UFFD_FEATURE_MINOR_SHMEM (1 << 10)
#endif
/* UFFDIO_CONTINUE installs the page write-protected (Linux 6.4). */
#ifndef UFFDIO_CONTINUE_MODE_WP
#define UFFDIO_CONTINUE_MODE_WP ((__u64)1 << 1)
#endif
#ifndef UFFDIO_COPY_MODE_WP
#define UFFDIO_COPY_MODE_WP ((__u64)1 << 1)
#endif
#ifndef UFFDIO_REGISTER_MODE_WP
#define UFFDIO_REGISTER_MODE_WP ((__u64)1 << 1)
#endif

#ifndef _UFFDIO_WRITEPROTECT
#define _UFFDIO_WRITEPROTECT (0x06)
#endif
#ifndef UFFDIO_WRITEPROTECT
struct uffdio_writeprotect {
	struct uffdio_range range;
#define UFFDIO_WRITEPROTECT_MODE_WP ((__u64)1 << 0)
#define UFFDIO_WRITEPROTECT_MODE_DONTWAKE ((__u64)1 << 1)
	__u64 mode;
};
#define UFFDIO_WRITEPROTECT _IOWR(UFFDIO, _UFFDIO_WRITEPROTECT, struct uffdio_writeprotect)
#endif

#ifndef _UFFDIO_MOVE
#define _UFFDIO_MOVE (0x05)
#endif
#ifndef UFFDIO_MOVE
struct uffdio_move {
	__u64 dst;
	__u64 src;
	__u64 len;
#define UFFDIO_MOVE_MODE_DONTWAKE ((__u64)1 << 0)
#define UFFDIO_MOVE_MODE_ALLOW_SRC_HOLES ((__u64)1 << 1)
	__u64 mode;
	__s64 move; /* written by the kernel */
};
#define UFFDIO_MOVE _IOWR(UFFDIO, _UFFDIO_MOVE, struct uffdio_move)
#endif

#ifndef _UFFDIO_POISON
#define _UFFDIO_POISON (0x08)
#endif
#ifndef UFFDIO_POISON
struct uffdio_poison {
	struct uffdio_range range;
#define UFFDIO_POISON_MODE_DONTWAKE ((__u64)1 << 0)
	__u64 mode;
	__s64 updated; /* written by the kernel */
};
#define UFFDIO_POISON _IOWR(UFFDIO, _UFFDIO_POISON, struct uffdio_poison)
#endif

/* ------------------------------------------------------------ linux/fs.h */

#ifndef PAGEMAP_SCAN
/* One run of pages [start, end) with the same categories. */
struct page_region {
	__u64 start;
	__u64 end;
	__u64 categories;
};

struct pm_scan_arg {
	__u64 size;		   /* sizeof(struct pm_scan_arg) */
	__u64 flags;		   /* PM_SCAN_* */
	__u64 start;		   /* page-aligned */
	__u64 end;
	__u64 walk_end;		   /* written by the kernel: where the walk stopped */
	__u64 vec;		   /* struct page_region[vec_len] */
	__u64 vec_len;
	__u64 max_pages;	   /* 0: no limit */
	__u64 category_inverted;   /* PAGE_IS_* that match when 0 */
	__u64 category_mask;	   /* skip pages where any of these does not match */
	__u64 category_anyof_mask; /* skip pages where none of these matches */
	__u64 return_mask;	   /* PAGE_IS_* reported in page_region.categories */
};

#define PAGEMAP_SCAN _IOWR('f', 16, struct pm_scan_arg)
#endif

#ifndef PAGE_IS_WPALLOWED
#define PAGE_IS_WPALLOWED (1 << 0)
#endif
#ifndef PAGE_IS_WRITTEN
#define PAGE_IS_WRITTEN (1 << 1)
#endif
#ifndef PAGE_IS_FILE
#define PAGE_IS_FILE (1 << 2)
#endif
#ifndef PAGE_IS_PRESENT
#define PAGE_IS_PRESENT (1 << 3)
#endif
#ifndef PAGE_IS_SWAPPED
#define PAGE_IS_SWAPPED (1 << 4)
#endif
#ifndef PAGE_IS_PFNZERO
#define PAGE_IS_PFNZERO (1 << 5)
#endif
#ifndef PAGE_IS_HUGE
#define PAGE_IS_HUGE (1 << 6)
#endif
#ifndef PAGE_IS_SOFT_DIRTY
#define PAGE_IS_SOFT_DIRTY (1 << 7)
#endif

/* Write-protect the pages that matched (and were reported). */
#ifndef PM_SCAN_WP_MATCHING
#define PM_SCAN_WP_MATCHING (1 << 0)
#endif
/* Fail (EPERM) on a page without asynchronous write protection. */
#ifndef PM_SCAN_CHECK_WPASYNC
#define PM_SCAN_CHECK_WPASYNC (1 << 1)
#endif

/* The layouts are ABI: whichever header defined them, they must be these. */
_Static_assert(sizeof(struct page_region) == 24, "struct page_region is 24 bytes");
_Static_assert(sizeof(struct pm_scan_arg) == 96, "struct pm_scan_arg is 96 bytes");
_Static_assert(sizeof(struct uffdio_api) == 24, "struct uffdio_api is 24 bytes");
_Static_assert(sizeof(struct uffdio_range) == 16, "struct uffdio_range is 16 bytes");
_Static_assert(sizeof(struct uffdio_register) == 32, "struct uffdio_register is 32 bytes");
_Static_assert(sizeof(struct uffdio_writeprotect) == 24,
	       "struct uffdio_writeprotect is 24 bytes");
_Static_assert(sizeof(struct uffdio_move) == 40, "struct uffdio_move is 40 bytes");
_Static_assert(sizeof(struct uffdio_poison) == 32, "struct uffdio_poison is 32 bytes");

#endif
