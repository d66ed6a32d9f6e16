/* SPDX-License-Identifier: Apache-2.0 */
/*
 * xconn.c - the client machinery both transports share (see xconn.h).
 *
 * poll() hands out completions before it reports a dead connection: a
 * device that flushes (RDMA) completes the requests it had after the
 * failure, and each of those completions is delivered before -ENOTCONN,
 * so that a caller reaping "until outstanding() is 0" sees every request
 * exactly once whichever driver it runs on.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "util.h"
#include "xconn.h"

void *ms_xcore_new(size_t size, const struct ms_transport_ops *ops,
		   const struct ms_xcore_ops *dops, const struct ms_xopts *o, bool args_ok,
		   uint32_t max_io_limit, char *err, size_t errlen, int *rc)
{
	static const struct ms_xopts def;
	struct ms_xcore *k;

	if (!err)
		errlen = 0;
	if (!o)
		o = &def;
	*rc = -EINVAL;
	if (!args_ok) {
		snprintf(err, errlen, "missing address or result pointer");
		return NULL;
	}
	if (o->depth > MS_XCORE_DEPTH_MAX) {
		snprintf(err, errlen, "queue depth %u over the limit of %u", o->depth,
			 MS_XCORE_DEPTH_MAX);
		return NULL;
	}
	if (o->max_io > max_io_limit) {
		snprintf(err, errlen, "max_io %u over the limit of %u", o->max_io, max_io_limit);
		return NULL;
	}
	k = calloc(1, size);
	if (!k) {
		*rc = -ENOMEM;
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	*rc = 0;
	k->pub.ops = ops;
	k->dops = dops;
	k->pub.depth = o->depth ? o->depth : MS_XCORE_DEPTH_DEFAULT;
	k->pub.max_io = o->max_io ? o->max_io : MS_XCORE_MAX_IO_DEFAULT;
	k->timeout_ms = o->timeout_ms ? o->timeout_ms : MS_XCORE_TIMEOUT_DEFAULT_MS;
	k->on_notify = o->on_notify;
	k->notify_ud = o->notify_ud;
	return k;
}

int ms_xcore_init_ring(struct ms_xcore *k, unsigned depth)
{
	k->ring = (struct ms_xring){ .wc = calloc(depth, sizeof(struct ms_xwc)), .cap = depth };
	return k->ring.wc ? 0 : -ENOMEM;
}

void ms_xcore_fini(struct ms_xcore *k, void (*release)(struct ms_xlmr *m))
{
	struct ms_xlmr *m;

	while ((m = k->mrs)) {
		k->mrs = m->next;
		if (release)
			release(m);
		else
			free(m);
	}
	free(k->ring.wc);
	k->ring.wc = NULL;
}

bool ms_xcore_fail(struct ms_xcore *k, int status)
{
	if (k->dead)
		return false;
	k->dead = status;
	k->dead_ns = ms_now_ns();
	if (k->in_call && !k->resp_done)
		ms_xcore_ctrl_done(k, status, 0);
	return true;
}

int ms_xcore_check_post(struct ms_xcore *k, const struct ms_xwr *wrs, size_t n, bool need_lmr)
{
	const struct ms_xwr *w;
	const struct ms_xlmr *m;
	uintptr_t off;

	if (k->dead)
		return -ENOTCONN;
	/* More than depth can never fit: an error, not "try again". */
	if ((n && !wrs) || n > k->pub.depth)
		return -EINVAL;
	for (size_t i = 0; i < n; i++) {
		w = &wrs[i];
		if ((w->op != MS_XOP_READ && w->op != MS_XOP_WRITE) || !w->remote ||
		    w->len > k->pub.max_io || (w->len && !w->local) || (need_lmr && !w->lmr))
			return -EINVAL;
		if (!w->lmr)
			continue;
		for (m = k->mrs; m && m != (const struct ms_xlmr *)w->lmr; m = m->next)
			;
		if (!m || (uintptr_t)w->local < (uintptr_t)m->addr)
			return -EINVAL;
		off = (uintptr_t)w->local - (uintptr_t)m->addr;
		if (off > m->len || w->len > m->len - off)
			return -EINVAL;
	}
	if (n > k->pub.depth - k->inflight - k->ring.n)
		return -EAGAIN;
	if (n && !k->inflight)
		k->last_io = ms_now_ns();       /* the stall clock starts now */
	return 0;
}

int ms_xcore_mr_alloc(const void *addr, size_t len, const void *out, size_t size,
		      struct ms_xlmr **mp)
{
	if (!addr || !len || !out)
		return -EINVAL;
	*mp = calloc(1, size);
	return *mp ? 0 : -ENOMEM;
}

void ms_xcore_add_mr(struct ms_xcore *k, struct ms_xlmr *m, void *addr, size_t len)
{
	m->addr = addr;
	m->len = len;
	m->next = k->mrs;
	k->mrs = m;
}

bool ms_xcore_del_mr(struct ms_xcore *k, struct ms_xlmr *m)
{
	for (struct ms_xlmr **pp = &k->mrs; *pp; pp = &(*pp)->next) {
		if (*pp == m) {
			*pp = m->next;
			return true;
		}
	}
	return false;
}

int ms_xcore_stall_left(const struct ms_xcore *k)
{
	uint64_t now = ms_now_ns(), lim;

	if (!k->inflight)
		return -1;
	if (k->dead)
		lim = k->dead_ns + (uint64_t)k->dops->flush_grace_ms * 1000000;
	else if (k->timeout_ms > 0)
		lim = k->last_io + (uint64_t)k->timeout_ms * 1000000;
	else
		return -1;
	return now >= lim ? 0 : (int)((lim - now) / 1000000 + 1);
}

int ms_xcore_poll(struct ms_xconn *x, struct ms_xwc *wcs, int max, int timeout_ms)
{
	struct ms_xcore *k = ms_xcore_of(x);
	uint64_t deadline = timeout_ms > 0 ? ms_now_ns() + (uint64_t)timeout_ms * 1000000 : 0;
	int left;

	if (!wcs || max <= 0)
		return -EINVAL;
	k->dops->progress(k);
	while (!k->ring.n && !(k->dead && !k->inflight) && timeout_ms != 0) {
		left = ms_left(deadline);
		if (left == 0)
			break;
		if (ms_xcore_stall_left(k) == 0) {
			if (!k->dead)
				k->dops->fail(k, -ETIMEDOUT);
			else if (k->dops->flush_rest)
				k->dops->flush_rest(k);
			continue;
		}
		k->dops->wait(k, ms_min_tmo(left, ms_xcore_stall_left(k)));
	}
	if (!k->ring.n)
		return k->dead && !k->inflight ? -ENOTCONN : 0;
	return ms_xring_pop(&k->ring, wcs, max);
}

unsigned ms_xcore_outstanding(struct ms_xconn *x)
{
	struct ms_xcore *k = ms_xcore_of(x);

	return k->inflight + k->ring.n;
}

int ms_xcore_call(struct ms_xconn *x, const void *req, size_t len, void *resp, size_t cap,
		  size_t *resp_len, int timeout_ms)
{
	struct ms_xcore *k = ms_xcore_of(x);
	int tmo = timeout_ms ? timeout_ms : k->timeout_ms;
	uint64_t deadline = tmo > 0 ? ms_now_ns() + (uint64_t)tmo * 1000000 : 0;

	if (k->dead)
		return k->dops->dead_call_rc ? k->dops->dead_call_rc : k->dead;
	if (k->in_call)
		return -EBUSY;          /* e.g. from inside on_notify */
	if ((len && !req) || (cap && !resp))
		return -EINVAL;
	if (len > MS_CTRL_MAX)
		return -EMSGSIZE;
	k->in_call = true;
	k->resp_done = false;
	k->resp = resp;
	k->cap = cap;
	k->dops->send_ctrl(k, req, len, deadline);
	/* Only the call's own limit applies: the server answers in order, so
	 * data behind a slow control request is not stalled, just waiting. */
	while (!k->resp_done) {
		if (ms_left(deadline) == 0) {
			/* The server's state after a lost call is unknown:
			 * drop the connection so that it releases ours. */
			k->dops->fail(k, -ETIMEDOUT);
			break;
		}
		k->dops->wait(k, ms_left(deadline));
	}
	k->in_call = false;
	if (!k->ctrl_status && resp_len)
		*resp_len = k->resp_len;
	return k->ctrl_status;
}
