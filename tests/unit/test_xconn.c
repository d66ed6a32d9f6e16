/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_xconn.c - the client core both transports share (src/xconn.c),
 * driven by a fake driver: post()'s checks, the poll() contract after a
 * failure (flushed completions first, -ENOTCONN only when nothing is
 * outstanding), the stall limit, the flush grace and call().
 */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "tap.h"
#include "util.h"
#include "xconn.h"

struct fconn {
	struct ms_xcore k;
	struct ms_xslot slots[4];
	struct ms_xslot *posted[4];     /* in flight, oldest first */
	unsigned nposted;
	bool flushes;                   /* a failure flushes at once (like TCP) */
	unsigned waits, flush_rest_calls;
	int answer;                     /* send_ctrl: 1 answers, 0 stays silent */
};

static struct fconn *F(struct ms_xcore *k)
{
	return ms_container_of(k, struct fconn, k);
}

static void complete_all(struct fconn *f, int status)
{
	for (unsigned i = 0; i < f->nposted; i++)
		ms_xcore_complete(&f->k, f->posted[i], status);
	f->nposted = 0;
}

static void f_progress(struct ms_xcore *k)
{
	(void)k;
}

static void f_wait(struct ms_xcore *k, int tmo)
{
	(void)tmo;
	F(k)->waits++;
}

static void f_fail(struct ms_xcore *k, int status)
{
	if (ms_xcore_fail(k, status) && F(k)->flushes)
		complete_all(F(k), status);
}

static void f_flush_rest(struct ms_xcore *k)
{
	F(k)->flush_rest_calls++;
	complete_all(F(k), k->dead);
}

static void f_send_ctrl(struct ms_xcore *k, const void *req, size_t len, uint64_t deadline)
{
	(void)deadline;
	if (F(k)->answer) {
		if (len <= k->cap)
			memcpy(k->resp, req, len);
		ms_xcore_ctrl_done(k, len > k->cap ? -EMSGSIZE : 0, len);
	}
}

static const struct ms_transport_ops ops = { .name = "fake" };
static struct ms_xcore_ops dops = {
	.progress = f_progress, .wait = f_wait, .fail = f_fail, .flush_rest = f_flush_rest,
	.send_ctrl = f_send_ctrl, .flush_grace_ms = 1,
};

static struct fconn *fnew(int timeout_ms)
{
	struct ms_xopts o = { .depth = 4, .max_io = 64, .timeout_ms = timeout_ms };
	char err[128];
	int rc;
	struct fconn *f = ms_xcore_new(sizeof(*f), &ops, &dops, &o, true, 1024, err,
				       sizeof(err), &rc);

	if (!f || ms_xcore_init_ring(&f->k, 4))
		tap_bail("ms_xcore_new: %s", err);
	for (int i = 3; i >= 0; i--)
		ms_xcore_slot_put(&f->k, &f->slots[i]);
	return f;
}

static void fdel(struct fconn *f)
{
	ms_xcore_fini(&f->k, NULL);
	free(f);
}

/* Post n READs of len bytes from buf (registration lmr). */
static int fpost(struct fconn *f, unsigned n, char *buf, struct ms_xmr *lmr, size_t off)
{
	static const struct ms_rdesc rd = { .len = 4096, .rkey = 1 };
	struct ms_xwr w[8];
	int rc;

	for (unsigned i = 0; i < n; i++)
		w[i] = (struct ms_xwr){ .op = MS_XOP_READ, .local = buf + off, .len = 8,
					.lmr = lmr, .remote = &rd, .ctx = (void *)(uintptr_t)(i + 1) };
	rc = ms_xcore_check_post(&f->k, w, n, false);
	if (rc)
		return rc;
	for (unsigned i = 0; i < n; i++)
		f->posted[f->nposted++] = ms_xcore_slot_get(&f->k, w[i].ctx, w[i].len);
	return 0;
}

static void test_post_checks(void)
{
	struct fconn *f = fnew(0);
	static char buf[64];
	struct ms_xlmr *h;

	is_int(ms_xcore_mr_alloc(buf, sizeof(buf), &h, sizeof(*h), &h), 0, "mr_alloc");
	ms_xcore_add_mr(&f->k, h, buf, 32);
	is_int(fpost(f, 1, buf, (struct ms_xmr *)h, 24), 0, "post inside the registration");
	is_int(fpost(f, 1, buf, (struct ms_xmr *)h, 25), -EINVAL,
	       "post running past the registration's end: -EINVAL");
	is_int(fpost(f, 1, buf, (struct ms_xmr *)h, 40), -EINVAL,
	       "post starting beyond the registration: -EINVAL");
	is_int(fpost(f, 5, buf, NULL, 0), -EINVAL, "more than depth: -EINVAL");
	is_int(fpost(f, 3, buf, NULL, 0), 0, "up to depth posts");
	is_int(fpost(f, 1, buf, NULL, 0), -EAGAIN, "over depth: -EAGAIN");
	is_int(f->k.inflight, 4, "nothing counted for refused batches");
	ok(ms_xcore_del_mr(&f->k, h), "the registration is known");
	ok(!ms_xcore_del_mr(&f->k, h), "and forgotten once");
	free(h);
	complete_all(f, 0);
	fdel(f);
}

/* A device that flushes later (RDMA): poll hands out the flushed
 * completions before it says -ENOTCONN. */
static void test_poll_after_failure(void)
{
	struct fconn *f = fnew(0);
	struct ms_xwc wc[8];
	static char buf[64];

	fpost(f, 3, buf, NULL, 0);
	f_fail(&f->k, -ECONNRESET);
	is_int(fpost(f, 1, buf, NULL, 0), -ENOTCONN, "post after the failure: -ENOTCONN");
	is_int(ms_xcore_poll(&f->k.pub, wc, 8, 0), 0,
	       "dead with requests still posted: no -ENOTCONN yet");
	is_int(ms_xcore_poll(&f->k.pub, wc, 8, 1000), 3,
	       "the flush grace passes: the 3 requests complete");
	is_int(f->flush_rest_calls, 1, "flush_rest ran once");
	ok(wc[0].status == -ECONNRESET && wc[2].status == -ECONNRESET && wc[0].ctx &&
		   wc[1].len == 0,
	   "flushed with the failure status, no length");
	is_int(ms_xcore_outstanding(&f->k.pub), 0, "nothing outstanding");
	is_int(ms_xcore_poll(&f->k.pub, wc, 8, 0), -ENOTCONN,
	       "then, and only then, -ENOTCONN");
	fdel(f);

	/* A driver that completes everything when it fails (TCP). */
	f = fnew(0);
	f->flushes = true;
	fpost(f, 2, buf, NULL, 0);
	f_fail(&f->k, -ECONNRESET);
	is_int(ms_xcore_poll(&f->k.pub, wc, 1, 0), 1, "failed at once: first completion");
	is_int(ms_xcore_poll(&f->k.pub, wc, 1, 0), 1, "second completion");
	is_int(ms_xcore_poll(&f->k.pub, wc, 1, 0), -ENOTCONN, "then -ENOTCONN");
	fdel(f);
}

static void test_stall(void)
{
	struct fconn *f = fnew(20);
	struct ms_xwc wc[4];
	static char buf[64];

	f->flushes = true;
	fpost(f, 2, buf, NULL, 0);
	is_int(ms_xcore_poll(&f->k.pub, wc, 4, -1), 2,
	       "nothing moves within the stall limit: both fail");
	ok(wc[0].status == -ETIMEDOUT && wc[1].status == -ETIMEDOUT, "with -ETIMEDOUT");
	is_int(f->k.dead, -ETIMEDOUT, "the connection is dead with -ETIMEDOUT");
	fdel(f);
}

static void test_call(void)
{
	struct fconn *f = fnew(0);
	char resp[8];
	size_t rlen = 0;

	f->answer = 1;
	is_int(ms_xcore_call(&f->k.pub, "hello", 5, resp, sizeof(resp), &rlen, 100), 0,
	       "call answered");
	ok(rlen == 5 && !memcmp(resp, "hello", 5), "reply and its length");
	is_int(ms_xcore_call(&f->k.pub, "too long!", 9, resp, sizeof(resp), &rlen, 100),
	       -EMSGSIZE, "reply over cap: -EMSGSIZE");
	f->answer = 0;
	is_int(ms_xcore_call(&f->k.pub, "x", 1, resp, sizeof(resp), &rlen, 30), -ETIMEDOUT,
	       "no answer within the limit: -ETIMEDOUT");
	ok(f->waits > 0, "the call waited on the device");
	is_int(ms_xcore_call(&f->k.pub, "x", 1, resp, sizeof(resp), &rlen, 30), -ETIMEDOUT,
	       "after the failure: its status (dead_call_rc 0)");
	dops.dead_call_rc = -ECONNRESET;
	is_int(ms_xcore_call(&f->k.pub, "x", 1, resp, sizeof(resp), &rlen, 30), -ECONNRESET,
	       "or the driver's dead_call_rc");
	dops.dead_call_rc = 0;
	fdel(f);
}

static void test_new(void)
{
	struct ms_xopts o = { .depth = MS_XCORE_DEPTH_MAX + 1 };
	char err[128] = "";
	int rc = 0;

	ok(!ms_xcore_new(sizeof(struct fconn), &ops, &dops, &o, true, 1024, err, sizeof(err),
			 &rc) && rc == -EINVAL && strstr(err, "queue depth"),
	   "depth over the limit: -EINVAL, said why");
	o = (struct ms_xopts){ .max_io = 2048 };
	ok(!ms_xcore_new(sizeof(struct fconn), &ops, &dops, &o, true, 1024, err, sizeof(err),
			 &rc) && rc == -EINVAL && strstr(err, "max_io"),
	   "max_io over the limit: -EINVAL, said why");
	ok(!ms_xcore_new(sizeof(struct fconn), &ops, &dops, NULL, false, 1024, err, sizeof(err),
			 &rc) && rc == -EINVAL,
	   "a missing argument: -EINVAL");
}

int main(void)
{
	test_post_checks();
	test_poll_after_failure();
	test_stall();
	test_call();
	test_new();
	return tap_done();
}
