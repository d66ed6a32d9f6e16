/* SPDX-License-Identifier: Apache-2.0 */
/*
 * chunkmap.h - a bitmap with one bit per chunk (dirty, local, differs, ...)
 * and the arithmetic that maps byte ranges to chunk ranges.
 */
#ifndef MS_CHUNKMAP_H
#define MS_CHUNKMAP_H

#include <stdbool.h>
#include <stdint.h>

struct ms_chunkmap {
	uint64_t nbits;
	uint64_t *words;
};

/* All bits clear.  0 or -ENOMEM. */
int ms_chunkmap_init(struct ms_chunkmap *m, uint64_t nbits);
void ms_chunkmap_free(struct ms_chunkmap *m);
void ms_chunkmap_set(struct ms_chunkmap *m, uint64_t i);
void ms_chunkmap_clear(struct ms_chunkmap *m, uint64_t i);
bool ms_chunkmap_test(const struct ms_chunkmap *m, uint64_t i);
/* [first, first+n) clipped to nbits */
void ms_chunkmap_set_range(struct ms_chunkmap *m, uint64_t first, uint64_t n);
void ms_chunkmap_clear_all(struct ms_chunkmap *m);
uint64_t ms_chunkmap_count(const struct ms_chunkmap *m);
/* Find the next run of set bits at or after *pos: stores its start and
 * length, advances *pos past it and returns true; false when none is left.
 * Runs are capped at max_run bits (0 = no cap). */
bool ms_chunkmap_next_run(const struct ms_chunkmap *m, uint64_t *pos,
			  uint64_t *start, uint64_t *len, uint64_t max_run);
/* Is any bit of [first, first+n) set? */
bool ms_chunkmap_any(const struct ms_chunkmap *m, uint64_t first, uint64_t n);

/* Chunks touched by the byte range [off, off+len) with chunk size cs
 * (power of two); len > 0.  *first = off/cs, *n = number of chunks. */
void ms_chunk_span(uint64_t off, uint64_t len, uint32_t cs, uint64_t *first,
		   uint64_t *n);

#endif
