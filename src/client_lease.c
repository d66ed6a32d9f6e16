/* SPDX-License-Identifier: Apache-2.0 */
/*
 * client_lease.c - the client's side of write leases: renewing while a
 * handle is used, the staging areas an atomic commit writes into, and the
 * lease calls of the public API (get, break, renew, hand over).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "client_priv.h"

#define STAGE_ALIGN 64u     /* staged pieces start on a cache line */

int ms_lease_renew(ms_region *r)
{
	ms_client *c = r->c;
	struct ms_msg_renew m = { .handle = r->handle, .epoch = r->info.epoch };
	uint32_t ttl;
	int len;

	if (r->info.mode != MS_MODE_WRITE)
		return cl_err(c, -EACCES, "renew: region '%s' is open read-only", r->info.name);
	if ((len = cl_connected(c, "renew")))
		return len;
	len = cl_call(c, "renew", ms_enc_renew(c->msg, MS_CTRL_MAX, &m), MS_MSG_RENEW_OK);
	if (len < 0)
		return len;
	if (ms_dec_renew_ok(c->resp, (size_t)len, &ttl) || !ttl)
		return cl_err(c, -EPROTO, "renew: malformed reply");
	r->info.lease_ttl_ms = ttl;
	r->renewed_ns = ms_now_ns();
	return 0;
}

int cl_lease_tick(ms_region *r)
{
	uint64_t third = (uint64_t)r->info.lease_ttl_ms * 1000000u / 3;

	if (r->info.mode != MS_MODE_WRITE || !r->c->x)
		return 0;
	if (ms_now_ns() - r->renewed_ns < third)
		return 0;
	return ms_lease_renew(r);
}

/* ------------------------------------------------------------ staging */

static int stage_more(ms_region *r, uint64_t need)
{
	ms_client *c = r->c;
	struct ms_msg_stage m = { .handle = r->handle, .epoch = r->info.epoch, .need = need };
	struct ms_msg_stage_ok ok;
	uint64_t total = 0;
	int len;

	len = cl_call(c, "stage", ms_enc_stage(c->msg, MS_CTRL_MAX, &m), MS_MSG_STAGE_OK);
	if (len < 0)
		return len;
	if (ms_dec_stage_ok(c->resp, (size_t)len, &ok))
		return cl_err(c, -EPROTO, "stage: malformed reply");
	/* the areas must tile [0, total) in order */
	for (uint32_t i = 0; i < ok.n; i++) {
		if (ok.seg[i].base != total || !ok.seg[i].desc.len)
			return cl_err(c, -EPROTO, "stage: malformed reply (areas not contiguous)");
		total += ok.seg[i].desc.len;
	}
	if (total < need)
		return cl_err(c, -EPROTO, "stage: the server gave %llu bytes of %llu",
			      (unsigned long long)total, (unsigned long long)need);
	memcpy(r->stage, ok.seg, ok.n * sizeof(*ok.seg));
	r->nstage = ok.n;
	r->staged = total;
	r->renewed_ns = ms_now_ns();      /* STAGE renews too */
	return 0;
}

uint64_t cl_stage_room(const ms_region *r)
{
	return r->info.stage_limit > r->scur ? r->info.stage_limit - r->scur : 0;
}

void cl_stage_reset(ms_region *r)
{
	r->scur = 0;
}

int cl_stage_alloc(ms_region *r, uint64_t len, uint64_t *soff, const struct ms_rdesc **desc,
		   uint64_t *roff)
{
	uint64_t at = (r->scur + STAGE_ALIGN - 1) / STAGE_ALIGN * STAGE_ALIGN;
	unsigned k;
	int ret;

	for (;;) {
		/* the area holding at, and whether the piece fits in it */
		for (k = 0; k < r->nstage; k++)
			if (at < r->stage[k].base + r->stage[k].desc.len)
				break;
		if (k < r->nstage && at >= r->stage[k].base &&
		    len <= r->stage[k].base + r->stage[k].desc.len - at)
			break;
		if (k + 1 < r->nstage) {           /* straddles: the next area */
			at = r->stage[k + 1].base;
			continue;
		}
		at = MS_MAX(at, r->staged);        /* a new area, past the last */
		if (at + len > r->info.stage_limit)
			return cl_err(r->c, -E2BIG,
				      "write: %llu bytes of staging needed for region '%s', past "
				      "its limit of %llu bytes per commit",
				      (unsigned long long)(at + len), r->info.name,
				      (unsigned long long)r->info.stage_limit);
		if ((ret = stage_more(r, at + len)))
			return ret;
	}
	*soff = at;
	*desc = &r->stage[k].desc;
	*roff = at - r->stage[k].base;
	r->scur = at + len;
	return 0;
}

/* ---------------------------------------------------------- lease API */

void ms_client_id(const ms_client *c, uint8_t out[16])
{
	memcpy(out, c->client_id, 16);
}

static int lease_call(ms_client *c, enum ms_msg_type t, const char *what, const char *name,
		      struct ms_lease_info *out)
{
	struct ms_lease_info li;
	int len;

	if (!name || !ms_name_valid(name))
		return cl_err(c, -EINVAL, "%s: invalid region name '%s'", what,
			      name ? name : "(null)");
	if ((len = cl_connected(c, what)))
		return len;
	len = cl_call(c, what, ms_enc_lease(c->msg, MS_CTRL_MAX, t, name), MS_MSG_LEASE_OK);
	if (len < 0)
		return len;
	if (ms_dec_lease_ok(c->resp, (size_t)len, &li))
		return cl_err(c, -EPROTO, "%s: malformed reply", what);
	if (out)
		*out = li;
	return 0;
}

int ms_lease_get(ms_client *c, const char *name, struct ms_lease_info *out)
{
	return lease_call(c, MS_MSG_LEASE, "lease", name, out);
}

int ms_lease_break(ms_client *c, const char *name, struct ms_lease_info *was)
{
	return lease_call(c, MS_MSG_LEASE_BREAK, "lease break", name, was);
}

int ms_lease_handover(ms_region *r, const uint8_t client_id[16], uint64_t *new_epoch)
{
	ms_client *c = r->c;
	struct ms_msg_handover m = { .handle = r->handle, .epoch = r->info.epoch };
	struct ms_msg_gen g;
	int len;

	if (r->info.mode != MS_MODE_WRITE)
		return cl_err(c, -EACCES, "handover: region '%s' is open read-only",
			      r->info.name);
	if ((len = cl_connected(c, "handover")))
		return len;
	memcpy(m.client_id, client_id, 16);
	len = cl_call(c, "handover", ms_enc_handover(c->msg, MS_CTRL_MAX, &m),
		      MS_MSG_HANDOVER_OK);
	if (len < 0)
		return len;
	if (ms_dec_gen(c->resp, (size_t)len, MS_MSG_HANDOVER_OK, &g))
		return cl_err(c, -EPROTO, "handover: malformed reply");
	/* this handle can no longer write; what it had staged is gone */
	r->npending = 0;
	r->pend_end = 0;
	r->nstage = 0;
	r->staged = 0;
	r->scur = 0;
	if (new_epoch)
		*new_epoch = g.generation;
	return 0;
}
