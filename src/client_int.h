/* SPDX-License-Identifier: Apache-2.0 */
/*
 * client_int.h - client functions used inside the library only (by the
 * lazy mapper, src/map.c), not part of the public API.
 */
#ifndef MS_CLIENT_INT_H
#define MS_CLIENT_INT_H

#include <stdint.h>

#include "memsync.h"
#include "transport.h"

/* ms_pull() of [off, off+len), verified, that also reports, for each chunk
 * of the range (from off / chunk size on), the generation and the
 * committed XXH3-128 the bytes it placed were verified against (gens and
 * hashes may be NULL; hashes holds 16 bytes per chunk).  Chunks read only
 * in part get the table's values too. */
int ms_pull_gens(ms_region *r, uint64_t off, void *dst, uint64_t len,
		 uint64_t *gens, uint8_t *hashes);

/* One range of a batched write: src holds the bytes for [off, off+len).
 * hash, when not NULL, is ms_chunk_hash() of those bytes, taken by the
 * caller; only for a range inside one chunk. */
struct ms_wpiece {
	uint64_t off;
	const void *src;
	uint64_t len;
	const uint8_t *hash;
};

/* ms_write() of n non-overlapping pieces as one transfer: every piece's
 * work requests are in flight together, so a batch costs one wait for
 * completions, not one per piece.  Sources inside an ms_mem registration
 * use it; others are registered for the call.  *bytes gets what was sent.
 * Recorded for the next ms_sync() like ms_write(). */
int ms_write_pieces(ms_region *r, const struct ms_wpiece *p, size_t n, uint64_t *bytes);

/* The generations the last ms_sync() of r committed at: its first and
 * last commit message (equal when one message named every range, as up
 * to 16384 ranges do); 0, 0 before any. */
void ms_region_sync_gens(const ms_region *r, uint64_t *first, uint64_t *last);

/* Forget the writes not committed yet (after a refused commit, so that the
 * next ms_sync() does not name them again). */
void ms_region_drop_pending(ms_region *r);

/* What c's transport can do: enum ms_xcap flags (transport.h). */
unsigned ms_client_caps(const ms_client *c);

#endif
