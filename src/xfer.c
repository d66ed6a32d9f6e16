/* SPDX-License-Identifier: Apache-2.0 */
/*
 * xfer.c - keep the queue full, collect completions, report segments.
 *
 * Each work request's context is a tagged pointer: the segment index in
 * the high bits, so a completion finds its segment without a lookup table,
 * and a per-segment count of requests still outstanding says when it has
 * landed.  On the first error no new request is posted, but the ones in
 * flight are still reaped before returning: their buffers belong to the
 * caller.
 *
 * The cursor (next segment, offset inside it) moves only once post()
 * accepted the batch: post() is all or nothing, so after -EAGAIN the same
 * requests are cut again once completions made room, and after any other
 * error nothing was posted and the error is returned.  A transport that
 * answers -EAGAIN with nothing outstanding can never make room: that is
 * returned too, instead of waiting for a completion that cannot come.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>

#include "xfer.h"
#include "util.h"

#define POLL_BATCH 128

struct run {
	struct ms_xconn *c;
	const struct ms_seg *segs;
	size_t n;
	uint32_t *left;      /* per segment: requests not yet completed */
	size_t seg;          /* next segment to cut */
	uint64_t seg_off;    /* offset inside it */
	uint64_t done, total;
	int err;
};

/* Cut and post up to the free queue depth.  The cursor advances only
 * when post() took the batch. */
static int post_some(struct run *r)
{
	const struct ms_xconn *c = r->c;
	struct ms_xwr wrs[POLL_BATCH];
	unsigned out = c->ops->outstanding(r->c);
	unsigned room = out < c->depth ? c->depth - out : 0;
	size_t k = 0, seg = r->seg;
	uint64_t seg_off = r->seg_off;
	int ret;

	while (k < MS_MIN(room, (unsigned)POLL_BATCH) && seg < r->n) {
		const struct ms_seg *s = &r->segs[seg];
		uint64_t len = MS_MIN(s->len - seg_off, (uint64_t)c->max_io);

		if (!s->len) {          /* landed already (ms_xfer_run) */
			seg++;
			continue;
		}

		wrs[k++] = (struct ms_xwr){
			.op = s->op,
			.local = (char *)s->local + seg_off,
			.len = (uint32_t)len,
			.lmr = s->lmr,
			.remote = s->remote,
			.roff = s->roff + seg_off,
			.ctx = (void *)(uintptr_t)(seg + 1),
		};
		seg_off += len;
		if (seg_off == s->len) {
			seg++;
			seg_off = 0;
		}
	}
	while (seg < r->n && !r->segs[seg].len)
		seg++;
	if (!k) {
		r->seg = seg;           /* only empty segments were skipped */
		return 0;
	}
	ret = r->c->ops->post(r->c, wrs, k);
	if (ret < 0)
		return ret;             /* nothing posted: the cursor stays */
	r->seg = seg;
	r->seg_off = seg_off;
	return 0;
}

static void reap(struct run *r, const struct ms_xwc *wc,
		 const struct ms_xfer_cb *cb)
{
	size_t idx = (size_t)(uintptr_t)wc->ctx - 1;

	if (wc->status) {
		if (!r->err)
			r->err = wc->status;
		return;
	}
	r->done += wc->len;
	if (--r->left[idx] == 0 && !r->err && cb && cb->seg_done)
		cb->seg_done(cb->ud, idx);
}

int ms_xfer_run(struct ms_xconn *c, const struct ms_seg *segs, size_t n,
		 int timeout_ms, const struct ms_xfer_cb *cb, uint64_t *bytes)
{
	struct run r = { .c = c, .segs = segs, .n = n };
	struct ms_xwc wcs[POLL_BATCH];
	uint64_t last_report = 0;

	if (!c->max_io || !c->depth)
		return -EINVAL;
	r.left = calloc(n ? n : 1, sizeof(*r.left));
	if (!r.left)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		r.left[i] = (uint32_t)ms_div_round_up(segs[i].len, c->max_io);
		r.total += segs[i].len;
		if (!segs[i].len) {
			/* nothing to move: it has landed already */
			r.left[i] = 0;
			if (cb && cb->seg_done)
				cb->seg_done(cb->ud, i);
		}
	}
	while (r.seg < n && !segs[r.seg].len)
		r.seg++;

	for (;;) {
		if (!r.err) {
			int ret = post_some(&r);

			/* -EAGAIN: wait for completions below, then cut the
			 * same requests again; with nothing outstanding no
			 * completion can make room, so it is an error */
			if (ret < 0 && (ret != -EAGAIN || c->ops->outstanding(c) == 0))
				r.err = ret;
		}
		if (c->ops->outstanding(c) == 0 && (r.err || r.seg >= n))
			break;
		int got = c->ops->poll(c, wcs, POLL_BATCH, timeout_ms);

		if (got < 0) {
			/* a dead connection reports flushed requests as
			 * completions; an error from poll itself leaves the
			 * connection unusable, and the caller closes it */
			if (!r.err)
				r.err = got;
			break;
		}
		if (got == 0) {
			if (!r.err)
				r.err = -ETIMEDOUT;
			break;
		}
		for (int i = 0; i < got; i++)
			reap(&r, &wcs[i], cb);
		if (cb && cb->progress && (r.done - last_report >= (4u << 20) ||
					   r.done == r.total)) {
			last_report = r.done;
			cb->progress(cb->ud, r.done, r.total);
		}
	}
	free(r.left);
	if (bytes)
		*bytes = r.done;
	return r.err;
}
