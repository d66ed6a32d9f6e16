/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_xfer.c - the batch scheduler (xfer.c) against a fake transport.
 *
 * The fake's post() can be told to refuse a call with -EAGAIN (the batch
 * is "not posted", as the ops contract says) or with a hard error, its
 * poll() to fail, and a completion to carry an error.  Every request it
 * accepts is logged, so the checks see that each piece of every segment
 * is posted exactly once, in order, whatever post() answered.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tap.h"
#include "transport.h"
#include "util.h"
#include "xfer.h"

#define LOGMAX 4096

struct posted {
	void *local;
	uint32_t len;
	uint64_t roff;
	const struct ms_rdesc *remote;
};

struct fake {
	struct ms_xconn pub;
	struct ms_xring cq;
	unsigned inflight;              /* posted, not yet completed */
	void *pend_ctx[64];             /* posted, completed by the next poll */
	uint32_t pend_len[64];
	unsigned npend;
	/* injection */
	unsigned calls;                 /* post() calls so far */
	unsigned refused;               /* of them answered -EAGAIN */
	unsigned eagain_every;          /* every Nth call: -EAGAIN (0: never) */
	unsigned fail_at;               /* this call: fail_rc (0: never) */
	int fail_rc;
	int eagain_idle;                /* -EAGAIN even with nothing outstanding */
	int poll_rc;                    /* != 0: poll() fails with it */
	unsigned bad_wc;                /* this posted request completes -EACCES (1-based) */
	/* what was accepted */
	struct posted log[LOGMAX];
	unsigned nlog;
	unsigned max_out;               /* most outstanding at once */
};

static struct fake *F(struct ms_xconn *x)
{
	return ms_container_of(x, struct fake, pub);
}

static unsigned f_outstanding(struct ms_xconn *x)
{
	return F(x)->inflight + F(x)->cq.n;
}

static int f_post(struct ms_xconn *x, const struct ms_xwr *wrs, size_t n)
{
	struct fake *f = F(x);

	f->calls++;
	if (f->fail_at && f->calls == f->fail_at)
		return f->fail_rc;
	/* Injected -EAGAIN comes while requests are outstanding (as when a
	 * device queue is full); eagain_idle breaks that rule. */
	if (f->eagain_idle ||
	    (f->eagain_every && f->calls % f->eagain_every == 0 && f_outstanding(x)) ||
	    n > x->depth - f_outstanding(x)) {
		f->refused++;
		return -EAGAIN;
	}
	for (size_t i = 0; i < n; i++) {
		if (f->nlog < LOGMAX)
			f->log[f->nlog] = (struct posted){ wrs[i].local, wrs[i].len, wrs[i].roff,
							   wrs[i].remote };
		f->nlog++;
		f->pend_ctx[f->npend] = wrs[i].ctx;
		f->pend_len[f->npend++] = f->nlog == f->bad_wc ? UINT32_MAX : wrs[i].len;
		f->inflight++;
	}
	if (f_outstanding(x) > f->max_out)
		f->max_out = f_outstanding(x);
	return 0;
}

/* A poll completes the older half of what is posted (at least one), so
 * requests stay outstanding while the scheduler posts more. */
static int f_poll(struct ms_xconn *x, struct ms_xwc *wcs, int max, int timeout_ms)
{
	struct fake *f = F(x);
	unsigned k = f->npend > 1 ? f->npend / 2 : f->npend;

	(void)timeout_ms;
	if (f->poll_rc)
		return f->poll_rc;
	for (unsigned i = 0; i < k; i++) {
		bool bad = f->pend_len[i] == UINT32_MAX;

		ms_xring_push(&f->cq, f->pend_ctx[i], bad ? -EACCES : 0,
			      bad ? 0 : f->pend_len[i]);
		f->inflight--;
	}
	f->npend -= k;
	memmove(f->pend_ctx, f->pend_ctx + k, f->npend * sizeof(f->pend_ctx[0]));
	memmove(f->pend_len, f->pend_len + k, f->npend * sizeof(f->pend_len[0]));
	return ms_xring_pop(&f->cq, wcs, max);
}

static const struct ms_transport_ops fake_ops = {
	.name = "fake",
	.post = f_post,
	.poll = f_poll,
	.outstanding = f_outstanding,
};

static struct ms_xwc ringbuf[64];

static void fake_init(struct fake *f, unsigned depth, uint32_t max_io)
{
	memset(f, 0, sizeof(*f));
	f->pub = (struct ms_xconn){ .ops = &fake_ops, .depth = depth, .max_io = max_io };
	f->cq = (struct ms_xring){ .wc = ringbuf, .cap = depth };
}

/* ------------------------------------------------------------ workload */

static char buf[4096];
static const struct ms_rdesc rd = { .addr = 0, .len = 1u << 20, .rkey = 7 };
static struct ms_seg segs[8];
static size_t nsegs;

/* Segments of assorted lengths (one empty), so that pieces of max_io 10
 * end at every phase of a segment. */
static void make_segs(void)
{
	static const uint64_t lens[] = { 25, 10, 0, 7, 41, 3, 30, 19 };
	uint64_t off = 0;

	nsegs = MS_ARRAY_SIZE(lens);
	for (size_t i = 0; i < nsegs; i++) {
		segs[i] = (struct ms_seg){ .op = MS_XOP_READ, .local = buf + off, .len = lens[i],
					   .remote = &rd, .roff = 1000 + off * 2 };
		off += lens[i];
	}
}

/* The pieces a correct run posts, in order: each segment cut at max_io. */
static unsigned expect(struct posted *out, uint32_t max_io)
{
	unsigned k = 0;

	for (size_t i = 0; i < nsegs; i++)
		for (uint64_t o = 0; o < segs[i].len; o += max_io)
			out[k++] = (struct posted){ (char *)segs[i].local + o,
						    (uint32_t)MS_MIN(segs[i].len - o, max_io),
						    segs[i].roff + o, &rd };
	return k;
}

/* The accepted requests are exactly the first n expected pieces. */
static bool log_is_prefix(const struct fake *f, const struct posted *want, unsigned n)
{
	if (f->nlog != n)
		return false;
	for (unsigned i = 0; i < n; i++)
		if (f->log[i].local != want[i].local || f->log[i].len != want[i].len ||
		    f->log[i].roff != want[i].roff || f->log[i].remote != want[i].remote)
			return false;
	return true;
}

struct seen {
	unsigned done[8];
	unsigned order[8], n;
};

static void seg_done(void *ud, size_t idx)
{
	struct seen *s = ud;

	s->done[idx]++;
	s->order[s->n++] = (unsigned)idx;
}

/* ------------------------------------------------------------ cases */

static void test_plain(void)
{
	struct posted want[64];
	unsigned nw = expect(want, 10);
	struct seen seen = { 0 };
	struct ms_xfer_cb cb = { .seg_done = seg_done, .ud = &seen };
	struct fake f;
	uint64_t bytes = 0;
	bool once = true;

	fake_init(&f, 4, 10);
	is_int(ms_xfer_run(&f.pub, segs, nsegs, 1000, &cb, &bytes), 0, "plain: run succeeds");
	ok(log_is_prefix(&f, want, nw), "plain: %u pieces posted once each, in order (got %u)",
	   nw, f.nlog);
	is_int(bytes, 135, "plain: every byte reported");
	for (size_t i = 0; i < nsegs; i++)
		once = once && seen.done[i] == 1;
	ok(once && seen.n == nsegs, "plain: seg_done once per segment");
	ok(f.max_out <= 4, "plain: never more than depth outstanding (%u)", f.max_out);
}

static void test_eagain(unsigned every, uint32_t max_io, unsigned depth)
{
	struct posted want[64];
	unsigned nw = expect(want, max_io);
	struct seen seen = { 0 };
	struct ms_xfer_cb cb = { .seg_done = seg_done, .ud = &seen };
	struct fake f;
	uint64_t bytes = 0;

	fake_init(&f, depth, max_io);
	f.eagain_every = every;
	is_int(ms_xfer_run(&f.pub, segs, nsegs, 1000, &cb, &bytes), 0,
	       "-EAGAIN every %u posts (max_io %u, depth %u): run succeeds", every, max_io,
	       depth);
	ok(f.refused > 0, "-EAGAIN every %u: post() refused %u of %u calls", every, f.refused,
	   f.calls);
	ok(log_is_prefix(&f, want, nw),
	   "-EAGAIN every %u: all %u pieces posted exactly once, in order (got %u)", every, nw,
	   f.nlog);
	is_int(bytes, 135, "-EAGAIN every %u: no byte lost", every);
	is_int(seen.n, nsegs, "-EAGAIN every %u: every segment landed", every);
}

static void test_hard_error(void)
{
	struct posted want[64];
	unsigned nw = expect(want, 10);
	struct seen seen = { 0 };
	struct ms_xfer_cb cb = { .seg_done = seg_done, .ud = &seen };
	struct fake f;
	uint64_t bytes = 0, sum = 0;

	fake_init(&f, 4, 10);
	f.fail_at = 3;
	f.fail_rc = -ENOTCONN;
	is_int(ms_xfer_run(&f.pub, segs, nsegs, 1000, &cb, &bytes), -ENOTCONN,
	       "hard error: post()'s -ENOTCONN is returned");
	is_int(f.calls, 3, "hard error: nothing posted after it");
	ok(f.nlog > 0 && f.nlog < nw && log_is_prefix(&f, want, f.nlog),
	   "hard error: the %u pieces accepted before it are the first ones, once each",
	   f.nlog);
	is_int(f_outstanding(&f.pub), 0, "hard error: every accepted piece reaped before return");
	for (unsigned i = 0; i < f.nlog && i < nw; i++)
		sum += want[i].len;
	is_int(bytes, sum, "hard error: the bytes that completed are reported");
}

static void test_eagain_idle(void)
{
	struct fake f;

	fake_init(&f, 4, 10);
	f.eagain_idle = 1;
	is_int(ms_xfer_run(&f.pub, segs, nsegs, -1, NULL, NULL), -EAGAIN,
	       "-EAGAIN with nothing outstanding: reported, no wait for ever");
	is_int(f.nlog, 0, "-EAGAIN with nothing outstanding: nothing counted as posted");
}

static void test_bad_completion(void)
{
	struct posted want[64];
	unsigned nw = expect(want, 10);
	struct seen seen = { 0 };
	struct ms_xfer_cb cb = { .seg_done = seg_done, .ud = &seen };
	struct fake f;

	fake_init(&f, 4, 10);
	f.bad_wc = 5;                   /* the 5th piece: segment 3 (len 7) */
	is_int(ms_xfer_run(&f.pub, segs, nsegs, 1000, &cb, NULL), -EACCES,
	       "completion error: its status is returned");
	ok(f.nlog <= nw && log_is_prefix(&f, want, f.nlog),
	   "completion error: what was posted is an in-order prefix, once each");
	is_int(seen.done[3], 0, "completion error: the failed segment is not reported landed");
	is_int(f_outstanding(&f.pub), 0, "completion error: everything reaped before return");
}

static void test_poll_error(void)
{
	struct fake f;

	fake_init(&f, 4, 10);
	f.poll_rc = -EIO;
	is_int(ms_xfer_run(&f.pub, segs, nsegs, 1000, NULL, NULL), -EIO,
	       "poll error: returned");
}

int main(void)
{
	make_segs();
	test_plain();
	test_eagain(2, 10, 4);
	test_eagain(3, 10, 4);
	test_eagain(2, 7, 3);
	test_eagain(5, 64, 2);
	test_hard_error();
	test_eagain_idle();
	test_bad_completion();
	test_poll_error();
	return tap_done();
}
