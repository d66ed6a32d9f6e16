/* SPDX-License-Identifier: Apache-2.0 */
/*
 * pull_reg.h - a pull's destination registered in pieces, ahead of the
 * READs (issue 13, item 3), instead of all of it before the first READ.
 *
 * The destination is cut at region offsets that are multiples of the
 * piece size (a multiple of the chunk size): segments are split there
 * (cl_preg_split), and cl_preg_run moves them piece by piece, registering
 * each piece just before its READs while a helper thread faults in the
 * next piece's pages (MADV_POPULATE_WRITE), the part of a registration
 * that costs.  A piece stays registered for the pull's later rounds.
 * A destination inside an ms_mem registration, or no larger than one
 * piece, is borrowed whole, as before.  cl_preg_fini gives every
 * registration back, also after a failure in the middle.
 */
#ifndef MS_PULL_REG_H
#define MS_PULL_REG_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "client_priv.h"

#define CL_PREG_PIECE_DEFAULT (32ull << 20)

/* Bytes per piece (rounded up to a multiple of the chunk size): for tests;
 * 0 restores the default. */
void cl_preg_set_piece(uint64_t bytes);

struct cl_preg {
	ms_client *c;
	uint8_t *dst;
	uint64_t off, len;          /* the region range dst holds */
	uint64_t piece;             /* bytes per piece; 0: one borrowed whole */
	uint64_t first;             /* off / piece */
	size_t n;                   /* pieces */
	struct cl_lmr whole;        /* piece == 0 */
	struct cl_lmr *l;           /* per piece */
	pthread_t tid;              /* the helper faulting in a piece */
	bool helper;
};

/* Borrow or prepare the registration of dst, [off, off+len) of region r:
 * 0, or -errno with errmsg set. */
int cl_preg_init(struct cl_preg *g, ms_region *r, uint64_t off, void *dst, uint64_t len);

/* Segments the split may add to nseg (the room segs and seg_first need). */
size_t cl_preg_extra(const struct cl_preg *g);

/* Split segs[k0..nseg) (sorted, room for cl_preg_extra more) at piece
 * boundaries; seg_first of a second half is its first chunk, relative to
 * c0 with chunk size cs.  Returns the new count. */
size_t cl_preg_split(const struct cl_preg *g, struct ms_seg *segs, uint64_t *seg_first,
		     size_t k0, size_t nseg, uint64_t c0, uint32_t cs);

/* cl_run of segs[0..n): segs[0..k0) need no registration of dst (their
 * lmr is set); the others get their piece's, registered just before its
 * READs run.  cb's seg_done gets indices into segs. */
int cl_preg_run(struct cl_preg *g, const char *what, struct ms_seg *segs, size_t k0, size_t n,
		const struct ms_xfer_cb *cb, uint64_t *bytes);

/* Register every piece segs[k0..n) (split as above) lie in and set
 * their lmr, all before any READ (a transfer striped over several
 * streams moves every piece at once): 0, or -errno with errmsg set. */
int cl_preg_all(struct cl_preg *g, struct ms_seg *segs, size_t k0, size_t n);

/* Give every registration back. */
void cl_preg_fini(struct cl_preg *g);

#endif
