/* SPDX-License-Identifier: Apache-2.0 */
/*
 * client_zero.h - zero chunks in a pull (issue 13, item 1).
 *
 * A chunk the metadata table flags MS_META_F_ZERO holds zeros as
 * committed: a pull takes it out of the chunks it reads, and leaves the
 * destination's piece of it alone (ms_xfer_opts.dst_zeroed: the caller
 * says it is zero already) or zeroes it.  Like a chunk that was read, it
 * counts as good only if the table read after the data (the seqlock's
 * second read) shows it at the same generation, still ZERO; otherwise it
 * goes back to the chunks still to read.
 */
#ifndef MS_CLIENT_ZERO_H
#define MS_CLIENT_ZERO_H

#include <stdbool.h>
#include <stdint.h>

#include "chunkmap.h"
#include "client_priv.h"

/* Where a pull of [off, off+len) (chunks c0.., nch of them) keeps its
 * state; acc, gens, hashes as the pull has them (gens, hashes may be
 * NULL). */
struct cl_zpull {
	ms_region *r;
	uint8_t *dst;
	uint64_t off, len, c0, nch;
	bool dst_zeroed;
	struct ms_chunkmap *todo;
	uint64_t *acc, *gens;
	uint8_t *hashes;
	struct ms_chunkmap zero;     /* chunks skipped as zero, not yet confirmed */
	bool init;
};

/* Take the chunks of todo that meta (the table entries of c0..) flags ZERO
 * out of it, recording their generation and hash, and zero their pieces
 * of dst unless dst_zeroed.  Returns the bytes of the range they cover
 * (>= 0), or -ENOMEM. */
int64_t cl_zero_skip(struct cl_zpull *z, const uint8_t *meta);

/* The seqlock's second read meta2: a skipped chunk whose generation moved,
 * or which is no longer ZERO, goes back into todo.  Returns how many did. */
uint64_t cl_zero_recheck(struct cl_zpull *z, const uint8_t *meta2);

void cl_zero_free(struct cl_zpull *z);

/* A push: the chunks of diff (chunks c0.. of a push of [off, off+len) whose
 * hashes are hashes[]) that are whole and whose new bytes are all zero
 * (their hash is the zero hash) leave diff; ents (room for one per chunk of
 * diff) gets a MS_COMMIT_F_ZERO entry for each.  Returns how many. */
size_t cl_zero_push(const ms_region *r, struct ms_chunkmap *diff, uint64_t c0, uint64_t off,
		    uint64_t len, const uint8_t (*hashes)[MS_HASH_LEN],
		    struct ms_commit_ent *ents);

/* A commit stream's zero piece p (one whole chunk): its ZERO entry. */
void cl_zero_piece(const struct ms_wpiece *p, struct ms_commit_ent *e);
/* How many of p[0..n) come before the first zero piece. */
size_t cl_zero_before(const struct ms_wpiece *p, size_t n);

#endif
