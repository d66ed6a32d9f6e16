/* SPDX-License-Identifier: Apache-2.0 */
/*
 * region_zero.h - zero chunks (issue 13, item 1): the metadata table flags
 * MS_META_F_ZERO on a chunk whose committed hash is the chunk hash of as
 * many zero bytes.  The two zero hashes a region can have (a full chunk and
 * its short last chunk) are computed once, when the region is created, from
 * one zero leaf: no byte is scanned beyond what is hashed anyway.
 */
#ifndef MS_REGION_ZERO_H
#define MS_REGION_ZERO_H

#include <stdbool.h>
#include <stdint.h>

#include "hash.h"

struct ms_rregion;

/* The chunk hash (hash.h) of len zero bytes.  No allocation: it hashes one
 * zero leaf and combines it as many times as len has leaves. */
void ms_zero_chunk_hash(uint64_t len, uint8_t out[MS_HASH_LEN]);

/* Compute and cache r's zero hashes (full chunk, last chunk). */
void ms_region_zero_init(struct ms_rregion *r);

/* Is hash the zero hash of chunk i of r? */
bool ms_region_zero_hash(const struct ms_rregion *r, uint64_t i, const uint8_t hash[MS_HASH_LEN]);

/* Set or clear MS_META_F_ZERO of chunk i from its committed hash (as it
 * stands in the table), keeping the entry's other flags.  Called wherever
 * a hash is stamped, before the generation is. */
void ms_region_zero_stamp(struct ms_rregion *r, uint64_t i);

/* ms_region_zero_stamp for chunks [c0, c0+n). */
void ms_region_zero_stamp_range(struct ms_rregion *r, uint64_t c0, uint64_t n);

#endif
