/* SPDX-License-Identifier: Apache-2.0 */
/*
 * region_migrate.c - what a migration's destination does to its copy of
 * a region: chunks that arrive from the source are installed with the
 * source's generations and hashes (checked against the bytes, so a copy
 * that went wrong is never published), and in post-copy the chunks still
 * missing are flagged ABSENT in the metadata table, so that a reader
 * fetches them first and never takes their bytes for data.
 *
 * Both take r->lock like a commit but skip the readers' hold gate: they
 * change no generation or hash a reader has seen (an absent chunk already
 * shows the source's), only bytes no reader could use before.
 */
#include <endian.h>
#include <errno.h>
#include <string.h>

#include "region.h"
#include "region_zero.h"
#include "util.h"

void ms_region_mark_absent(struct ms_rregion *r, uint64_t c0, uint64_t n, const uint8_t *src)
{
	pthread_mutex_lock(&r->lock);
	for (uint64_t i = 0; i < n && c0 + i < r->nchunks; i++) {
		struct ms_meta_entry *m = &r->meta[c0 + i];

		memcpy(m->hash, ms_meta_hash(src, i), MS_HASH_LEN);
		/* absent, and zero when the source's hash says so: a reader
		 * then needs no FETCH for it */
		__atomic_store_n(&m->flags_le,
				 htole32(MS_META_F_ABSENT |
					 (ms_region_zero_hash(r, c0 + i, m->hash) ? MS_META_F_ZERO : 0)),
				 __ATOMIC_RELEASE);
		__atomic_store_n(&m->gen_le, htole64(ms_meta_gen(src, i)), __ATOMIC_RELEASE);
	}
	pthread_mutex_unlock(&r->lock);
}

int ms_region_install(struct ms_rregion *r, uint64_t c0, uint64_t n, const uint64_t *gens,
		      const uint8_t *hashes, uint64_t *bad)
{
	uint64_t off, end, i;
	int rc = 0;

	if (c0 >= r->nchunks || n > r->nchunks - c0)
		return -ERANGE;
	off = c0 * r->chunk_size;
	end = MS_MIN((c0 + n) * (uint64_t)r->chunk_size, r->size);
	pthread_mutex_lock(&r->lock);
	/* the chunk size is a multiple of a leaf: these leaves are the
	 * chunks' own */
	ms_region_rehash_leaves(r, off, end - off);
	for (i = 0; i < n; i++) {
		struct ms_meta_entry *m = &r->meta[c0 + i];
		uint8_t h[MS_HASH_LEN];

		ms_region_chunk_root(r, c0 + i, h);
		if (!ms_hash_eq(h, hashes + i * MS_HASH_LEN)) {
			*bad = c0 + i;
			rc = -EIO;
			break;
		}
		memcpy(m->hash, h, MS_HASH_LEN);
		__atomic_store_n(&m->gen_le, htole64(gens[i]), __ATOMIC_RELEASE);
		/* the flag last: a reader that sees it gone sees the bytes */
		__atomic_store_n(&m->flags_le,
				 htole32(ms_region_zero_hash(r, c0 + i, h) ? MS_META_F_ZERO : 0),
				 __ATOMIC_RELEASE);
	}
	pthread_mutex_unlock(&r->lock);
	if (i && r->path) {
		uint64_t len = MS_MIN((c0 + i) * (uint64_t)r->chunk_size, r->size) - off;
		int src = ms_region_msync(r, off, len);

		if (!src && r->store)
			src = ms_rstore_applied(r->store, r, ms_region_generation(r),
						&(struct ms_commit_ent){ .off = off, .len = len }, 1);
		if (src && !rc)
			rc = src;
	}
	return rc;
}

void ms_region_set_generation(struct ms_rregion *r, uint64_t gen)
{
	pthread_mutex_lock(&r->lock);
	__atomic_store_n(&r->generation, gen, __ATOMIC_RELEASE);
	pthread_mutex_unlock(&r->lock);
}
