/* SPDX-License-Identifier: Apache-2.0 */
/*
 * bigbuf.h - the large anonymous buffers memsync allocates (stream
 * windows, bounce and landing buffers): private anonymous memory, 2 MiB
 * aligned and asking for transparent huge pages (MADV_HUGEPAGE) when it is
 * at least 2 MiB, so populating it takes one fault per 2 MiB instead of
 * one per 4 KiB.  Where the kernel offers no huge pages the buffer is made
 * of 4 KiB pages, quietly.
 */
#ifndef MS_BIGBUF_H
#define MS_BIGBUF_H

#include <stdbool.h>
#include <stddef.h>

#define MS_BIGBUF_HUGE ((size_t)2 << 20)  /* the huge page size asked for */

enum {
	MS_BIGBUF_POPULATE = 1 << 0,   /* allocate every page now */
};

/* The bytes a buffer of len takes (what ms_bigbuf_free unmaps): len
 * rounded up to the page size, or to 2 MiB from 2 MiB on. */
size_t ms_bigbuf_len(size_t len);
/* len bytes of zeroed read-write memory (flags: MS_BIGBUF_*); NULL and
 * errno (EINVAL for len 0, ENOMEM) on failure.  *huge (may be NULL) tells
 * whether the kernel took the MADV_HUGEPAGE advice. */
void *ms_bigbuf_alloc(size_t len, unsigned flags, bool *huge);
/* Free what ms_bigbuf_alloc(len) returned (NULL: nothing). */
void ms_bigbuf_free(void *p, size_t len);

#endif
