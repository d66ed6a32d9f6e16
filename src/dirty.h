/* SPDX-License-Identifier: Apache-2.0 */
/*
 * dirty.h - which pages of a local memory range were written since the last
 * look, so that a push sends only those (instead of hashing the whole range).
 *
 * Two modes, chosen by ms_dirty_open():
 *
 * MS_DIRTY_UFFD (Linux 6.7+): the range is registered with a userfaultfd in
 * asynchronous write-protect mode (UFFD_FEATURE_WP_ASYNC, with
 * UFFD_FEATURE_WP_UNPOPULATED) and write-protected.  The first write to a
 * protected page takes a fault that the kernel resolves by itself (no
 * message, no handler thread): it only drops the protection, which marks
 * the page written.  ms_dirty_collect() asks PAGEMAP_SCAN for the written
 * pages and protects them again in the same walk, under the page-table lock
 * and with the TLB flushed before the ioctl returns.  The cost is one
 * in-kernel fault (~2 µs) per page on its first write after each collect,
 * and a collect that walks page tables (1 GiB: ~1 ms at 1% dirty).
 *
 * MS_DIRTY_HASH (fallback): an XXH3-128 per chunk, taken at open and at
 * each collect; a collect reports the chunks whose hash changed.  It costs
 * a pass over the whole range per collect, but needs nothing from the
 * kernel and also sees writes that bypass this process's page tables.
 *
 * What is guaranteed (both modes, for a caller that reads the reported
 * bytes after the collect call that reported them returned):
 *
 *  - Nothing is lost: a write that lands in a page after that page was
 *    reported (or after open) and that the caller's read may have missed is
 *    reported by a later collect.  In MS_DIRTY_UFFD mode a write racing
 *    with the collect that reports its page is either visible to the
 *    caller's read (the collect returns after the TLB flush that ends it)
 *    or re-faults on the fresh protection and is reported by the next one.
 *  - Only writes count: pages written before ms_dirty_open() are clean when
 *    it returns, and reading a page never makes it dirty.  In
 *    MS_DIRTY_UFFD mode a never-touched page (no page, no page table) is
 *    protected too: UFFD_FEATURE_WP_UNPOPULATED makes UFFDIO_WRITEPROTECT
 *    install a write-protect marker in its empty page-table entry, a read
 *    maps the zero page (or the shmem page) still protected, and only a
 *    write drops the protection.  So an untouched page is never reported
 *    unless it is written, and is reported once when it is.
 *  - Granularity: MS_DIRTY_UFFD reports pages, MS_DIRTY_HASH whole chunks
 *    (the last one clipped at the end of the range).  Turn either into
 *    chunks with ms_dirty_ranges_to_chunks() or ms_dirty_collect_chunks().
 *
 * What is not tracked in MS_DIRTY_UFFD mode: changes that are not CPU writes
 * through this process's page tables for the range - write(2)/pwrite(2) or
 * fallocate(PUNCH_HOLE) on the memfd or file behind a MAP_SHARED mapping,
 * writes through another mapping or another process, device DMA/RDMA into
 * the pages, and madvise(MADV_DONTNEED/MADV_REMOVE) zapping anonymous
 * pages.  Writes by the kernel on behalf of this process (read(2) into the
 * range) are tracked.  mremap/munmap of part of the range make the next
 * collect fail with -EPERM.  Use MS_DIRTY_HASH (MS_DIRTY_FORCE_HASH) when
 * such writers exist.  MS_DIRTY_HASH sees every change of content, but a
 * chunk that a concurrent writer changes and then restores to exactly the
 * bytes the previous collect hashed is not reported (the caller's read of
 * the intermediate bytes then stays unrepaired); with no writer running
 * between a collect and the caller's read, it is exact.
 *
 * One collector at a time (calls on one tracker must not overlap); the
 * application's threads may write anywhere at any time.  Functions return
 * 0 or -errno and never print.
 */
#ifndef MS_DIRTY_H
#define MS_DIRTY_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "chunkmap.h"

struct ms_dirty;

enum ms_dirty_mode {
	MS_DIRTY_UFFD = 1, /* userfaultfd WP_ASYNC + PAGEMAP_SCAN */
	MS_DIRTY_HASH = 2, /* XXH3-128 per chunk */
};

/* Use MS_DIRTY_HASH even when the kernel could do better. */
#define MS_DIRTY_FORCE_HASH 0x1u

#define MS_DIRTY_DEFAULT_CHUNK (64u * 1024)

struct ms_dirty_opts {
	/* Power of two, page size to 1 GiB; 0 = MS_DIRTY_DEFAULT_CHUNK.  The
	 * hashing unit of MS_DIRTY_HASH and the unit of the chunk helpers. */
	uint32_t chunk_size;
	unsigned flags; /* MS_DIRTY_FORCE_HASH */
};

/* A written byte range [off, off + len), offsets from the tracked address. */
struct ms_dirty_range {
	uint64_t off;
	uint64_t len;
};

/*
 * Track writes to [addr, addr + len): a page-aligned, non-empty range of
 * writable memory the caller has mapped and keeps mapped until
 * ms_dirty_close() (anonymous private, MAP_SHARED memfd/shmem, ...), not
 * tracked by another ms_dirty.  Everything in it is clean on return.
 * Uses MS_DIRTY_UFFD when the kernel supports it, else MS_DIRTY_HASH; so
 * does MS_DIRTY_FORCE_HASH in opts->flags, or MS_DIRTY_FORCE_HASH=1 in the
 * environment.  opts may be NULL (defaults).  When why is not NULL it gets
 * a sentence saying which mode and why, e.g. "userfaultfd WP_ASYNC +
 * PAGEMAP_SCAN" or "hashing: UFFD_FEATURE_WP_ASYNC not supported by this
 * kernel", or on failure what failed.
 * 0, -EINVAL (unaligned or empty range, bad chunk size, overflow),
 * -EFAULT (part of the range is not mapped), -ENOMEM.
 */
int ms_dirty_open_opts(void *addr, size_t len, const struct ms_dirty_opts *opts,
		       struct ms_dirty **out, char *why, size_t whylen);
/* The same with default options. */
int ms_dirty_open(void *addr, size_t len, struct ms_dirty **out, char *why, size_t whylen);

/*
 * Track writes to [addr, addr + len) on a userfaultfd the caller owns
 * (one memory range can be registered with only one userfaultfd, and
 * asynchronous write protection is a property of the whole descriptor, so
 * a caller that already serves faults on the range - the lazy mapper -
 * must track with its own descriptor).  The caller has enabled
 * UFFD_FEATURE_WP_ASYNC | UFFD_FEATURE_WP_UNPOPULATED on uffd and
 * registered the range with UFFDIO_REGISTER_MODE_WP (besides MISSING or
 * MINOR); this skips open, UFFDIO_API and register, write-protects the
 * whole range once (UFFDIO_WRITEPROTECT: markers in the unpopulated parts,
 * which PAGEMAP_SCAN would otherwise report as written; page tables for
 * the whole range are allocated) and checks PAGEMAP_SCAN.  Pages the
 * caller installs later must be installed protected (UFFDIO_COPY_MODE_WP,
 * UFFDIO_CONTINUE_MODE_WP) so that only application writes are reported.
 * ms_dirty_close() leaves uffd open and registered.
 *
 * Where that cannot work (uffd < 0, MS_DIRTY_FORCE_HASH in opts or the
 * environment, PAGEMAP_SCAN missing) the tracker hashes, lazily: no chunk
 * is hashed at attach and a chunk is tracked only from the moment the
 * caller gives its baseline with ms_dirty_hash_set() (the hash of the bytes
 * it installed), until ms_dirty_hash_forget().  Chunks without a baseline
 * are never read nor reported, so absent (not yet fetched) parts of the
 * range are never touched.  why says which mode and why, like
 * ms_dirty_open_opts().  0, -EINVAL, -ENOMEM.
 */
int ms_dirty_attach(int uffd, void *addr, size_t len, const struct ms_dirty_opts *opts,
		    struct ms_dirty **out, char *why, size_t whylen);

/* Attached hash mode: chunk c's content is now the bytes whose XXH3-128 is
 * hash (may be called from any thread, once per chunk between forgets, not
 * while a collect runs over c with a baseline).  No-op in MS_DIRTY_UFFD
 * mode or for trackers from ms_dirty_open*(). */
void ms_dirty_hash_set(struct ms_dirty *d, uint64_t c, const uint8_t hash[16]);
/* Attached hash mode: stop tracking chunk c (its bytes are going away). */
void ms_dirty_hash_forget(struct ms_dirty *d, uint64_t c);

/* Stop tracking (unregister, close the descriptors) and free d; NULL is a
 * no-op.  The memory itself is left as it is. */
void ms_dirty_close(struct ms_dirty *d);

enum ms_dirty_mode ms_dirty_mode(const struct ms_dirty *d);
uint32_t ms_dirty_chunk_size(const struct ms_dirty *d);
/* Chunks in the range: ceil(len / chunk size). */
uint64_t ms_dirty_nchunks(const struct ms_dirty *d);

/*
 * Report what was written since the previous pass and make it clean again,
 * in one step (see the guarantees above).  Stores up to max ranges, in
 * increasing order, into out and their number into *n.  When *more is set,
 * out was too small: the pass is not finished, and the next call continues
 * it where this one stopped (a pass is the calls up to one that returns
 * *more == false; the next call after that starts a new pass).
 * Ranges are coalesced as far as one call sees them; a range may continue
 * at the start of the next call's first one.
 * 0; -EINVAL (max 0, NULL pointers: nothing happened); -EPERM (part of
 * the range was unmapped or remapped); -EIO (the kernel answered nonsense);
 * other -errno from PAGEMAP_SCAN.  After any error but -EINVAL the tracker
 * has failed: the kernel may have made pages clean that it did not report,
 * so treat the whole range as dirty (push it all, close, open again); this
 * and every later collect return the same error.
 */
int ms_dirty_collect(struct ms_dirty *d, struct ms_dirty_range *out, size_t max, size_t *n,
		     bool *more);

/*
 * A whole pass (finishes a pass a ms_dirty_collect() left unfinished, else
 * runs a new one), setting in m the bit of every chunk (of
 * ms_dirty_chunk_size()) that a written range touches; other bits are left
 * as they are.  m must have ms_dirty_nchunks() bits (else -EINVAL).
 * *nranges (may be NULL) gets the number of ranges the pass found.
 */
int ms_dirty_collect_chunks(struct ms_dirty *d, struct ms_chunkmap *m, uint64_t *nranges);

/* Set in m the bit of every chunk of chunk_size (power of two) that one of
 * the n ranges touches (bits past m->nbits are ignored). */
void ms_dirty_ranges_to_chunks(const struct ms_dirty_range *r, size_t n, uint32_t chunk_size,
			       struct ms_chunkmap *m);

#endif
