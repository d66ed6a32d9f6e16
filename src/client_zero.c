/* SPDX-License-Identifier: Apache-2.0 */
/*
 * client_zero.c - zero chunks in a pull (client_zero.h).
 */
#include <errno.h>
#include <string.h>

#include "client_zero.h"
#include "region_zero.h"

int64_t cl_zero_skip(struct cl_zpull *z, const uint8_t *meta)
{
	int64_t bytes = 0;

	if (!z->init) {
		if (ms_chunkmap_init(&z->zero, z->nch))
			return -ENOMEM;
		z->init = true;
	}
	for (uint64_t i = 0; i < z->nch; i++) {
		uint64_t poff, plen;

		if (!ms_chunkmap_test(z->todo, i) || !(ms_meta_flags(meta, i) & MS_META_F_ZERO) ||
		    !cl_chunk_piece(z->r, z->c0 + i, z->off, z->len, &poff, &plen))
			continue;
		ms_chunkmap_clear(z->todo, i);
		ms_chunkmap_set(&z->zero, i);
		z->acc[i] = ms_meta_gen(meta, i);
		if (z->gens)
			z->gens[i] = z->acc[i];
		if (z->hashes)
			memcpy(z->hashes + i * MS_HASH_LEN, ms_meta_hash(meta, i), MS_HASH_LEN);
		if (!z->dst_zeroed)
			memset(z->dst + (poff - z->off), 0, plen);
		bytes += (int64_t)plen;
	}
	return bytes;
}

uint64_t cl_zero_recheck(struct cl_zpull *z, const uint8_t *meta2)
{
	uint64_t pos = 0, first, n, back = 0;

	if (!z->init)
		return 0;
	while (ms_chunkmap_next_run(&z->zero, &pos, &first, &n, UINT64_MAX)) {
		for (uint64_t i = first; i < first + n; i++) {
			if (ms_meta_gen(meta2, i) == z->acc[i] &&
			    (ms_meta_flags(meta2, i) & MS_META_F_ZERO))
				continue;
			/* changed under us: read it like any other chunk */
			ms_chunkmap_set(z->todo, i);
			back++;
		}
	}
	ms_chunkmap_clear_all(&z->zero);
	return back;
}

void cl_zero_free(struct cl_zpull *z)
{
	if (z->init)
		ms_chunkmap_free(&z->zero);
	z->init = false;
}

size_t cl_zero_push(const ms_region *r, struct ms_chunkmap *diff, uint64_t c0, uint64_t off,
		    uint64_t len, const uint8_t (*hashes)[MS_HASH_LEN],
		    struct ms_commit_ent *ents)
{
	uint8_t zfull[MS_HASH_LEN], zlast[MS_HASH_LEN];
	uint64_t pos = 0, first, n, last = r->info.nchunks - 1;
	size_t k = 0;

	if (!ms_chunkmap_count(diff))
		return 0;
	ms_zero_chunk_hash(r->info.chunk_size, zfull);
	ms_zero_chunk_hash(r->info.size - last * r->info.chunk_size, zlast);
	while (ms_chunkmap_next_run(diff, &pos, &first, &n, 0)) {
		for (uint64_t i = first; i < first + n; i++) {
			uint64_t poff, plen;

			cl_chunk_piece(r, c0 + i, off, len, &poff, &plen);
			if (!cl_chunk_whole(r, c0 + i, plen) ||
			    !ms_hash_eq(hashes[i], c0 + i == last ? zlast : zfull))
				continue;
			ms_chunkmap_clear(diff, i);
			ents[k] = (struct ms_commit_ent){ .off = poff, .len = plen,
							  .flags = MS_COMMIT_F_ZERO };
			memcpy(ents[k].hash, hashes[i], MS_HASH_LEN);
			k++;
		}
	}
	return k;
}

void cl_zero_piece(const struct ms_wpiece *p, struct ms_commit_ent *e)
{
	*e = (struct ms_commit_ent){ .off = p->off, .len = p->len, .flags = MS_COMMIT_F_ZERO };
	ms_zero_chunk_hash(p->len, e->hash);
}

size_t cl_zero_before(const struct ms_wpiece *p, size_t n)
{
	size_t k = 0;

	while (k < n && !p[k].zero)
		k++;
	return k;
}
