/* SPDX-License-Identifier: Apache-2.0 */
/*
 * region_zero.c - MS_META_F_ZERO in a region's metadata table
 * (region_zero.h).
 */
#include <endian.h>
#include <stdlib.h>
#include <string.h>

#include "region.h"
#include "region_zero.h"
#include "util.h"

void ms_zero_chunk_hash(uint64_t len, uint8_t out[MS_HASH_LEN])
{
	static const uint8_t zeros[MS_LEAF];
	uint8_t(*leaves)[MS_HASH_LEN];
	uint64_t n = ms_div_round_up(len, MS_LEAF);

	if (len <= MS_LEAF) {
		ms_chunk_hash(zeros, (size_t)len, out);
		return;
	}
	leaves = malloc(n * MS_HASH_LEN);
	if (!leaves) {
		/* out of memory: a hash no chunk has (in all likelihood),
		 * so none counts as zero */
		memset(out, 0, MS_HASH_LEN);
		return;
	}
	ms_hash128(zeros, MS_LEAF, leaves[0]);
	for (uint64_t i = 1; i < n; i++)
		memcpy(leaves[i], leaves[0], MS_HASH_LEN);
	if (len % MS_LEAF)
		ms_hash128(zeros, (size_t)(len % MS_LEAF), leaves[n - 1]);
	ms_hash_from_leaves((const uint8_t(*)[MS_HASH_LEN])leaves, (size_t)n, out);
	free(leaves);
}

void ms_region_zero_init(struct ms_rregion *r)
{
	ms_zero_chunk_hash(r->chunk_size, r->zhash_full);
	ms_zero_chunk_hash(ms_region_chunk_len(r, r->nchunks - 1), r->zhash_last);
}

bool ms_region_zero_hash(const struct ms_rregion *r, uint64_t i, const uint8_t hash[MS_HASH_LEN])
{
	return ms_hash_eq(hash, i + 1 < r->nchunks ? r->zhash_full : r->zhash_last);
}

void ms_region_zero_stamp(struct ms_rregion *r, uint64_t i)
{
	struct ms_meta_entry *m = &r->meta[i];
	uint32_t fl = le32toh(__atomic_load_n(&m->flags_le, __ATOMIC_RELAXED));

	if (ms_region_zero_hash(r, i, m->hash))
		fl |= MS_META_F_ZERO;
	else
		fl &= ~MS_META_F_ZERO;
	__atomic_store_n(&m->flags_le, htole32(fl), __ATOMIC_RELEASE);
}

void ms_region_zero_stamp_range(struct ms_rregion *r, uint64_t c0, uint64_t n)
{
	for (uint64_t i = c0; i < c0 + n && i < r->nchunks; i++)
		ms_region_zero_stamp(r, i);
}
