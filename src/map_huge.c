/* SPDX-License-Identifier: Apache-2.0 */
/*
 * map_huge.c - lazy mappings on 2 MiB hugetlbfs pages: the choice (with
 * its reason), the fault that claims a whole huge page, and the mapping of
 * a huge page once all its chunks are local.  See map_huge.h.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>

#include "map_huge.h"
#include "uffd.h"
#include "uffd_compat.h"

#ifndef MFD_HUGETLB
#define MFD_HUGETLB 0x0004U
#endif
#ifndef MFD_HUGE_2MB
#define MFD_HUGE_2MB (21U << 26)
#endif

/* One number from a sysfs file; -1 when there is none. */
static long long read_num(const char *path)
{
	long long v = -1;
	FILE *f = fopen(path, "re");

	if (!f)
		return -1;
	if (fscanf(f, "%lld", &v) != 1)
		v = -1;
	fclose(f);
	return v;
}

/* 2 MiB huge pages free and not promised to a mapping yet (-1: unknown) */
static long long huge_available(void)
{
	const char *dir = "/sys/kernel/mm/hugepages/hugepages-2048kB";
	char path[128], line[128];
	long long fr, rs, size_kb = 0;
	FILE *f;

	snprintf(path, sizeof(path), "%s/free_hugepages", dir);
	fr = read_num(path);
	snprintf(path, sizeof(path), "%s/resv_hugepages", dir);
	rs = read_num(path);
	if (fr >= 0)
		return fr - (rs > 0 ? rs : 0);
	/* no sysfs: /proc/meminfo, when its huge pages are 2 MiB */
	fr = rs = -1;
	if (!(f = fopen("/proc/meminfo", "re")))
		return -1;
	while (fgets(line, sizeof(line), f)) {
		(void)(sscanf(line, "HugePages_Free: %lld", &fr) ||
		       sscanf(line, "HugePages_Rsvd: %lld", &rs) ||
		       sscanf(line, "Hugepagesize: %lld", &size_kb));
	}
	fclose(f);
	if (fr < 0 || size_kb != 2048)
		return -1;
	return fr - (rs > 0 ? rs : 0);
}

int map_huge_choose(ms_map *m, uint64_t features, char *err, size_t errlen)
{
	unsigned long long need = m->size / MAP_HUGE_PAGE;
	long long avail = -2;
	char why[160] = "";
	int code = 0;

	if ((unsigned)m->mo.huge > MS_MAP_HUGE_OFF)
		return map_err(err, errlen, -EINVAL, "lazy map: unknown huge page mode %d",
			       (int)m->mo.huge);
	if (m->mo.huge == MS_MAP_HUGE_OFF) {
		snprintf(why, sizeof(why), "huge pages off");
	} else if (m->mo.path == MS_MAP_PATH_COPY) {
		code = -EINVAL;
		snprintf(why, sizeof(why), "the copy path was asked for");
	} else if (m->mo.huge == MS_MAP_HUGE_AUTO && m->mo.path == MS_MAP_PATH_ZERO_COPY) {
		snprintf(why, sizeof(why), "the shmem zero-copy path was asked for");
	} else if (m->mo.huge == MS_MAP_HUGE_AUTO && m->mo.no_prefetch) {
		/* a fault pulls every chunk of its huge page, not only its own */
		snprintf(why, sizeof(why), "without prefetch only touched chunks are pulled");
	} else if (m->writable) {
		code = -EINVAL;
		snprintf(why, sizeof(why), "a writable mapping tracks writes by 4 KiB page");
	} else if (!(features & UFFD_FEATURE_MINOR_HUGETLBFS)) {
		code = -EOPNOTSUPP;
		snprintf(why, sizeof(why), "this kernel lacks UFFD_FEATURE_MINOR_HUGETLBFS");
	} else if (m->size % MAP_HUGE_PAGE) {
		code = -EINVAL;
		snprintf(why, sizeof(why), "the region's size %" PRIu64
			 " is not a multiple of 2 MiB", m->size);
	} else if ((avail = huge_available()) < (long long)need) {
		code = -ENOMEM;
		if (avail < 0)
			snprintf(why, sizeof(why), "no 2 MiB huge pages on this system");
		else
			snprintf(why, sizeof(why), "%lld free 2 MiB huge pages, %llu needed "
				 "(reserve them in /proc/sys/vm/nr_hugepages)", avail, need);
	}
	if (why[0]) {
		snprintf(m->page_why, sizeof(m->page_why), "4 KiB pages: %s", why);
		if (m->mo.huge == MS_MAP_HUGE_ON)
			return map_err(err, errlen, code ? code : -EINVAL,
				       "lazy map of '%s': huge pages asked for, but %s", m->name,
				       why);
		return 0;
	}
	m->huge = true;
	m->zero_copy = true;
	m->page = (size_t)MAP_HUGE_PAGE;
	snprintf(m->page_why, sizeof(m->page_why),
		 "hugetlbfs: 2 MiB pages (%llu of %lld free), a fault maps 2 MiB", need, avail);
	return 0;
}

unsigned map_huge_mfd_flags(const ms_map *m)
{
	return m->huge ? MFD_HUGETLB | MFD_HUGE_2MB : 0;
}

uint64_t map_huge_fault_chunks(const ms_map *m)
{
	return m->huge && m->chunk < MAP_HUGE_PAGE ? MAP_HUGE_PAGE / m->chunk : 1;
}

void map_huge_round(const ms_map *m, uint64_t *off, uint64_t *len)
{
	uint64_t end = *off + *len;

	if (!m->huge)
		return;
	*off &= ~(MAP_HUGE_PAGE - 1);
	end = MS_MIN((end + MAP_HUGE_PAGE - 1) & ~(MAP_HUGE_PAGE - 1), m->size);
	*len = end - *off;
}

/* The chunks huge page g lies in: [*c0, *c1]. */
static void group_chunks(const ms_map *m, uint64_t g, uint64_t *goff, uint64_t *glen,
			 uint64_t *c0, uint64_t *c1)
{
	*goff = g * MAP_HUGE_PAGE;
	*glen = MS_MIN(MAP_HUGE_PAGE, m->size - *goff);
	*c0 = *goff / m->chunk;
	*c1 = (*goff + *glen - 1) / m->chunk;
}

/* Map huge page g if every chunk in it is local (else whoever publishes
 * the last one does), and wake its waiters. */
static void map_group(ms_map *m, uint64_t g)
{
	uint64_t goff, glen, c0, c1;

	group_chunks(m, g, &goff, &glen, &c0, &c1);
	for (uint64_t c = c0; c <= c1; c++)
		if (atomic_load(&m->state[c]) != CH_LOCAL)
			return;
	for (;;) {
		struct uffdio_continue uc = {
			.range = { .start = (uintptr_t)(m->addr + goff), .len = glen },
			.mode = UFFDIO_CONTINUE_MODE_DONTWAKE,
		};

		if (ioctl(m->uffd, UFFDIO_CONTINUE, &uc) == 0 || errno == EEXIST)
			break;         /* EEXIST: mapped already (by a racing thread) */
		if (errno == EAGAIN)
			continue;
		map_fail(m, -errno, "lazy map of '%s': cannot map the 2 MiB page at offset %"
			 PRIu64 ": %s", m->name, goff, strerror(errno));
		map_poison(m, goff, glen);
		return;
	}
	map_uffd_wake(m, goff, glen);
}

void map_huge_done(ms_map *m, uint64_t first, uint64_t n)
{
	uint64_t off, len;

	chunk_range(m, first, n, &off, &len);
	for (uint64_t g = off / MAP_HUGE_PAGE; g * MAP_HUGE_PAGE < off + len; g++)
		map_group(m, g);
}

/* Claim chunks from i on (up to c1) while they are absent: how many. */
static uint64_t claim_run(ms_map *m, uint64_t i, uint64_t c1)
{
	uint64_t n = 0;

	while (i + n <= c1) {
		uint8_t st = CH_ABSENT;

		if (!atomic_compare_exchange_strong(&m->state[i + n], &st, CH_FETCHING))
			break;
		n++;
	}
	return n;
}

void map_huge_fault(struct worker *w, uint64_t addr, uint64_t t0)
{
	ms_map *m = w->m;
	uint64_t rel = addr - (uintptr_t)m->addr, fc = rel / m->chunk;
	uint64_t goff, glen, c0, c1;
	bool failed = false;

	group_chunks(m, rel / MAP_HUGE_PAGE, &goff, &glen, &c0, &c1);
	for (uint64_t i = c0; i <= c1;) {
		uint64_t n = claim_run(m, i, c1);
		bool mine;

		if (!n) {
			failed |= atomic_load(&m->state[i]) == CH_FAILED;
			i++;          /* local, or another thread fetches it */
			continue;
		}
		mine = fc >= i && fc < i + n;
		if (atomic_load(&m->err)) {
			/* the mapping failed: nothing new arrives */
			for (uint64_t k = i; k < i + n; k++)
				atomic_store(&m->state[k], CH_FAILED);
			failed = true;
		} else {
			if (mine && m->faulted) {
				unsigned k = atomic_fetch_add(&m->nfaulted, 1);

				if (k < MAX_USE_REPORT)
					m->faulted[k] = fc;
			}
			/* fetch maps the huge pages it completes and wakes */
			failed |= map_fetch(w, i, n, mine ? t0 : 0) != 0;
		}
		i += n;
	}
	if (failed) {
		map_poison(m, goff, glen);
		return;
	}
	/* all local before this fault (the kernel dropped the entry since,
	 * or a late message): map it again */
	map_group(m, goff / MAP_HUGE_PAGE);
}
