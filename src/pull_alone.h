/* SPDX-License-Identifier: Apache-2.0 */
/*
 * pull_alone.h - when a pull round may do without the seqlock's second
 * read of the metadata table (issue 13, item 7: one round trip per fault
 * on a lazy mapping instead of two).
 *
 * A round reads the table (meta1) ahead of the data, hashes each whole
 * chunk it read against meta1's committed hash, and then reads the table
 * again to see whether a generation moved meanwhile.  For a whole chunk
 * whose bytes hash to meta1's value that second read adds nothing to the
 * bytes: a commit lands all its bytes before it stamps its generation, so
 * bytes read during a commit fail the hash, and bytes that pass are the
 * ones committed at meta1's generation (the pull is then as of meta1's
 * read, as if a later commit came right after it).  The second read still
 * matters when the pull must be one commit's copy across chunks
 * (consistent), for zero chunks that were skipped (their recheck reads
 * it), for a chunk that failed its hash (absent chunks are fetched from
 * it), and for partial chunks (generations only); the caller checks those
 * and asks cl_pull_alone for the rest.
 */
#ifndef MS_PULL_ALONE_H
#define MS_PULL_ALONE_H

#include <stdbool.h>
#include <stdint.h>

#include "chunkmap.h"

/* True when every chunk of todo (entries 0..nch of the table meta1) was
 * hash-checked good this round (not in bad) and meta1 flags none of them
 * absent or zero: the round may take meta1 as its second read. */
bool cl_pull_alone(const uint8_t *meta1, const struct ms_chunkmap *todo,
		   const struct ms_chunkmap *bad, uint64_t nch);

#endif
