/* SPDX-License-Identifier: Apache-2.0 */
/*
 * server_hold.c - HOLD and RELEASE: a reader asks that no commit of a
 * region be applied while it reads (region_hold.h has the rules, and
 * docs/design.md "Reads under a steady writer" the why).
 *
 * Each open handle has at most one hold (o->hold, made on its first HOLD
 * and kept for the handle's life); a HOLD on a handle that holds already
 * renews it.  The hold ends at RELEASE, at its expiry (MS_HOLD_MAX_MS at
 * most), or when the handle closes: CLOSE, BYE or the peer's disconnect
 * (close_slot in server_ctrl.c calls ms_srv_hold_drop).  Everything here
 * runs on the peer's loop thread and never waits: a commit that the hold
 * keeps out waits on the commit worker, not here.
 */
#include <errno.h>
#include <stdlib.h>

#include "server_int.h"

static struct open_slot *hold_slot(struct peer *p, uint32_t handle)
{
	if (handle >= MAX_OPENS || !p->opens[handle].e)
		return NULL;
	return &p->opens[handle];
}

int ms_srv_h_hold(ms_server *s, struct peer *p, const void *req, size_t len, void *resp,
		  size_t cap)
{
	struct ms_msg_hold m;
	struct ms_msg_hold_ok ok = { 0 };
	struct ms_hold_res res;
	struct open_slot *o;

	if (ms_dec_hold(req, len, &m))
		return ms_enc_error(resp, cap, EBADMSG,
				    "malformed HOLD (handle and a hold time of 1 ms or more)");
	o = hold_slot(p, m.handle);
	if (!o)
		return ms_enc_error(resp, cap, EBADF, "no open region with handle %u",
				    m.handle);
	if (!o->hold && !(o->hold = calloc(1, sizeof(*o->hold))))
		return ms_enc_error(resp, cap, ENOMEM, "out of memory for a hold");
	ms_region_hold(o->e->r, o->hold, m.ms, &res);
	ok.generation = res.generation;
	ok.ms = res.ms;
	ok.flags = res.settled ? MS_HOLD_F_SETTLED : 0;
	ms_srv_log(s, MS_LOG_DEBUG, "%s: hold of '%s' for %u ms: %s", p->xp->name,
		   o->e->r->name, res.ms,
		   res.settled ? "in force" : res.placed ? "placed, a commit is being applied"
							 : "not placed, a commit waits");
	return ms_enc_hold_ok(resp, cap, MS_MSG_HOLD_OK, &ok);
}

int ms_srv_h_release(ms_server *s, struct peer *p, const void *req, size_t len, void *resp,
		     size_t cap)
{
	struct ms_msg_handle m;
	struct ms_msg_hold_ok ok = { 0 };
	struct open_slot *o;
	uint64_t held_ns;

	if (ms_dec_release(req, len, &m))
		return ms_enc_error(resp, cap, EBADMSG, "malformed RELEASE");
	o = hold_slot(p, m.handle);
	if (!o)
		return ms_enc_error(resp, cap, EBADF, "no open region with handle %u",
				    m.handle);
	if (!o->hold || !o->hold->linked)
		return ms_enc_error(resp, cap, EINVAL, "RELEASE: handle %u holds no commits of '%s'",
				    m.handle, o->e->r->name);
	held_ns = ms_now_ns() - o->hold->first_ns;
	if (ms_region_release(o->e->r, o->hold, &ok.generation))
		ok.flags = MS_HOLD_F_INTACT;
	else
		ms_srv_log(s, MS_LOG_INFO,
			   "%s: hold of '%s' expired before its release (%u ms at most)",
			   p->xp->name, o->e->r->name, MS_HOLD_MAX_MS);
	ok.ms = (uint32_t)MS_MIN(held_ns / 1000000u, (uint64_t)UINT32_MAX);
	return ms_enc_hold_ok(resp, cap, MS_MSG_RELEASE_OK, &ok);
}

void ms_srv_hold_drop(ms_server *s, struct peer *p, struct open_slot *o)
{
	if (!o->hold)
		return;
	if (o->hold->linked && ms_region_release(o->e->r, o->hold, NULL))
		ms_srv_log(s, MS_LOG_DEBUG, "%s: hold of '%s' ended with its handle",
			   p->xp->name, o->e->r->name);
	free(o->hold);
	o->hold = NULL;
}
