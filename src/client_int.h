/* SPDX-License-Identifier: Apache-2.0 */
/*
 * client_int.h - client functions used inside the library only (by the
 * lazy mapper, src/map*.c), not part of the public API.
 */
#ifndef MS_CLIENT_INT_H
#define MS_CLIENT_INT_H

#include <stdbool.h>
#include <stddef.h>
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
 * hash, when not NULL, holds ms_chunk_hash() of each chunk piece of the
 * range in order (MS_HASH_LEN bytes each: one for a range inside one
 * chunk), taken by the caller; NULL: computed after the write. */
struct ms_wpiece {
	uint64_t off;
	const void *src;
	uint64_t len;
	const uint8_t *hash;
};

/* What ms_region_commit_pieces() did. */
struct ms_commit_res {
	uint64_t bytes;      /* sent */
	uint64_t gen_first;  /* the generation of the commit's first message */
	uint64_t gen_last;   /* ... and of its last: equal when one message named
			      * every chunk piece (up to 16384 of them do), so
			      * that every piece's chunk now has gen_last */
	bool sent;           /* the pieces were written: a failure came from
			      * the commit (the server refused it) */
};

/*
 * Write pieces p[0..n) (not overlapping, inside the region) as one
 * transfer and commit them: the server checks each chunk piece against its
 * hash and publishes them.  Sources inside an ms_mem registration use it;
 * others are registered for the call.  The caller keeps the record of
 * what is written and not committed: on failure nothing of the batch is
 * recorded anywhere (the caller sends the same pieces again, or drops
 * them), on success they are committed.  Writes of ms_write() not synced
 * yet stay pending for ms_sync() (minus what the pieces overwrite).
 * res (may be NULL) is filled either way; n == 0 commits nothing.
 */
int ms_region_commit_pieces(ms_region *r, const struct ms_wpiece *p, size_t n,
			    struct ms_commit_res *res);

/* What c's transport can do: enum ms_xcap flags (transport.h). */
unsigned ms_client_caps(const ms_client *c);

#endif
