/* SPDX-License-Identifier: Apache-2.0 */
/*
 * bigbuf.c - large anonymous buffers on transparent huge pages where the
 * kernel has them (see bigbuf.h).
 *
 * A buffer of 2 MiB or more is mapped 2 MiB larger than it needs, then the
 * unaligned head and the tail are unmapped, so that it starts on a 2 MiB
 * boundary and every 2 MiB of it can be one huge page.  MADV_HUGEPAGE is
 * what `madvise` mode (the default of many distributions) needs to use
 * them at all; it fails (EINVAL) on kernels built without THP, which only
 * means 4 KiB pages.  MS_BIGBUF_POPULATE then allocates the pages in one
 * call (MADV_POPULATE_WRITE, or by touching each page on kernels older
 * than 5.14).
 */
#include <errno.h>
#include <stdint.h>
#include <sys/mman.h>
#include <unistd.h>

#include "bigbuf.h"

#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23
#endif

static size_t page_size(void)
{
	long p = sysconf(_SC_PAGESIZE);

	return p > 0 ? (size_t)p : 4096;
}

static size_t round_up(size_t len, size_t to)
{
	return (len + to - 1) / to * to;
}

size_t ms_bigbuf_len(size_t len)
{
	if (len >= MS_BIGBUF_HUGE)
		return round_up(len, MS_BIGBUF_HUGE);
	return round_up(len, page_size());
}

static void populate(uint8_t *p, size_t len)
{
	size_t pg = page_size();

	if (madvise(p, len, MADV_POPULATE_WRITE) == 0)
		return;
	for (size_t off = 0; off < len; off += pg)
		((volatile uint8_t *)p)[off] = 0;
}

void *ms_bigbuf_alloc(size_t len, unsigned flags, bool *huge)
{
	size_t want, maplen;
	uint8_t *p, *start;

	if (huge)
		*huge = false;
	if (len == 0 || len > SIZE_MAX / 2) {
		errno = EINVAL;
		return NULL;
	}
	want = ms_bigbuf_len(len);
	maplen = want >= MS_BIGBUF_HUGE ? want + MS_BIGBUF_HUGE : want;
	p = mmap(NULL, maplen, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		return NULL;
	start = p;
	if (maplen != want) {
		uintptr_t a = ((uintptr_t)p + MS_BIGBUF_HUGE - 1) & ~(uintptr_t)(MS_BIGBUF_HUGE - 1);

		start = (uint8_t *)a;
		if (start > p)
			(void)munmap(p, (size_t)(start - p));
		if (p + maplen > start + want)
			(void)munmap(start + want, (size_t)(p + maplen - (start + want)));
		if (madvise(start, want, MADV_HUGEPAGE) == 0 && huge)
			*huge = true;
	}
	if (flags & MS_BIGBUF_POPULATE)
		populate(start, want);
	return start;
}

void ms_bigbuf_free(void *p, size_t len)
{
	if (p && len)
		(void)munmap(p, ms_bigbuf_len(len));
}
