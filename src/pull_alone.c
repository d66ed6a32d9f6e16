/* SPDX-License-Identifier: Apache-2.0 */
/*
 * pull_alone.c - a pull round without the seqlock's second table read
 * (see pull_alone.h).
 */
#include "pull_alone.h"
#include "proto.h"

bool cl_pull_alone(const uint8_t *meta1, const struct ms_chunkmap *todo,
		   const struct ms_chunkmap *bad, uint64_t nch)
{
	for (uint64_t i = 0; i < nch; i++) {
		if (!ms_chunkmap_test(todo, i))
			continue;
		if (ms_chunkmap_test(bad, i) ||
		    (ms_meta_flags(meta1, i) & (MS_META_F_ABSENT | MS_META_F_ZERO)))
			return false;
	}
	return true;
}
