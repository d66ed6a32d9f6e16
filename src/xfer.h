/* SPDX-License-Identifier: Apache-2.0 */
/*
 * xfer.h - pipelined batch I/O over one transport connection.
 *
 * The engine describes what to move as segments (a local buffer and a
 * remote range, any length); the scheduler cuts them into work requests of
 * at most max_io bytes, keeps the connection's queue depth full, and calls
 * back when a whole segment has landed, so a caller can hash one segment
 * while the next ones are still on the wire.
 */
#ifndef MS_XFER_H
#define MS_XFER_H

#include <stddef.h>
#include <stdint.h>

#include "transport.h"

struct ms_seg {
	enum ms_xop op;
	void *local;
	uint64_t len;
	struct ms_xmr *lmr;
	const struct ms_rdesc *remote;
	uint64_t roff;
};

struct ms_xfer_cb {
	/* segment idx landed (all its work requests completed without error) */
	void (*seg_done)(void *ud, size_t idx);
	/* bytes completed so far out of total */
	void (*progress)(void *ud, uint64_t done, uint64_t total);
	void *ud;
};

/* Move every segment.  Returns 0, or the first error (-errno) after every
 * outstanding request has completed or been flushed (local buffers are
 * never referenced after return).  -ETIMEDOUT when nothing completed for
 * timeout_ms: the connection is then unusable (the caller must close it).
 * *bytes (may be NULL) gets the payload bytes that completed. */
int ms_xfer_run(struct ms_xconn *c, const struct ms_seg *segs, size_t n,
		 int timeout_ms, const struct ms_xfer_cb *cb, uint64_t *bytes);

#endif
