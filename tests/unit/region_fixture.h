/* SPDX-License-Identifier: Apache-2.0 */
/*
 * region_fixture.h - what the region tests (test_region.c, test_commit.c)
 * share: a chunk's generation, a check of the metadata table against
 * memory, and deterministic bytes.  Include after tap.h.
 */
#ifndef MS_TEST_REGION_FIXTURE_H
#define MS_TEST_REGION_FIXTURE_H

#include <endian.h>
#include <stdbool.h>
#include <stdint.h>

#include "region.h"
#include "util.h"

#define MIB (1ull << 20)

static inline uint64_t gen_of(const struct ms_rregion *r, uint64_t i)
{
	return le64toh(r->meta[i].gen_le);
}

/* Every meta entry holds the hash of the chunk's bytes (only the bytes
 * that exist for a short last chunk) and a zero reserved field. */
static inline bool meta_matches_memory(const struct ms_rregion *r)
{
	for (uint64_t i = 0; i < r->nchunks; i++) {
		uint64_t off = i * r->chunk_size;
		uint64_t len = MS_MIN((uint64_t)r->chunk_size, r->size - off);
		uint8_t h[MS_HASH_LEN];

		ms_chunk_hash((const char *)r->mem + off, len, h);
		if (!ms_hash_eq(h, r->meta[i].hash) || r->meta[i].reserved != 0) {
			diag("chunk %llu: meta hash differs from memory", (unsigned long long)i);
			return false;
		}
	}
	return true;
}

static inline void fill(void *p, uint64_t len, uint32_t seed)
{
	uint8_t *b = p;

	for (uint64_t i = 0; i < len; i++)
		b[i] = (uint8_t)((i * 131 + seed) ^ (i >> 9));
}

#endif
