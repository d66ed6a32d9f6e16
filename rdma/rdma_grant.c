/* SPDX-License-Identifier: Apache-2.0 */
/*
 * rdma_grant.c - per-peer grants of the server's registrations: each peer
 * gets rkeys of its own, for exactly the access it was granted, that stop
 * working when they are revoked, when the peer's connection goes and when
 * the registration they come from is deregistered.
 *
 * Two ways, chosen once at listen (and logged):
 *  - a type 2 memory window (ibv_alloc_mw(IBV_MW_TYPE_2)) bound to the
 *    peer's queue pair with IBV_WR_BIND_MW over the registration (which
 *    then carries IBV_ACCESS_MW_BIND): the NIC honours its rkey only on
 *    that QP, so a copied key is useless on any other connection.  The
 *    bind is signaled and waited for before the descriptor is returned;
 *    revoking deallocates the window (the NIC refuses the rkey from then
 *    on);
 *  - where the device has no type 2 windows: a registration of the same
 *    range per grant with exactly the granted access, deregistered on
 *    revoke.  Its rkey is honoured on any QP of the server's protection
 *    domain, so the engine never lets a key outlive its peer: the peer's
 *    teardown deregisters all of them.
 *
 * Locking: the lists (a registration's grants, a peer's grants) and a
 * grant's liveness are under the loop's lock (s->l.lock); invalidating
 * (dealloc, dereg) happens under it, once per grant.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "rdma_int.h"
#include "rdma_srv.h"
#include "util.h"

#define BIND_WAIT_MS 5000       /* a bind's completion, at most */

struct ms_xgrant {
	struct ms_rdma_wr wr;           /* the bind's wr_id (type 0: no buffer) */
	struct ms_xgrant *mnext, **mprev; /* mr->grants, while live */
	struct ms_xgrant *pnext, **pprev; /* peer->grants, while live */
	struct ms_xsmr *mr;             /* NULL once invalidated */
	struct peer *peer;
	struct ibv_mw *mw;              /* type 2 window, or */
	struct ibv_mr *own;             /* a registration of its own */
};

void ms_rdma_grant_setup(struct srv *s, const struct ibv_device_attr *da)
{
	s->use_mw = da->max_mw > 0 && (da->device_cap_flags & IBV_DEVICE_MEM_WINDOW_TYPE_2B);
	ms_xloop_log(&s->l, MS_LOG_INFO, "rdma: per-client keys: %s",
		     s->use_mw ? "type 2 memory windows bound to each client's queue pair"
			       : "a registration per client (the device has no type 2B memory "
				 "windows)");
}

int ms_rdma_grant_mr_flags(const struct srv *s)
{
	return s->use_mw ? IBV_ACCESS_MW_BIND : 0;
}

static int xaccess_flags(unsigned access)
{
	return ((access & MS_XACCESS_READ) ? IBV_ACCESS_REMOTE_READ : 0) |
	       ((access & MS_XACCESS_WRITE) ? IBV_ACCESS_REMOTE_WRITE : 0);
}

/* s->l.lock held: stop g (once) and take it off both lists. */
static void kill_locked(struct ms_xgrant *g)
{
	if (!g->mr)
		return;
	*g->mprev = g->mnext;
	if (g->mnext)
		g->mnext->mprev = g->mprev;
	*g->pprev = g->pnext;
	if (g->pnext)
		g->pnext->pprev = g->pprev;
	if (g->mw)
		ibv_dealloc_mw(g->mw);
	if (g->own)
		ibv_dereg_mr(g->own);
	g->mw = NULL;
	g->own = NULL;
	g->mr = NULL;
	g->peer = NULL;
}

void ms_rdma_grants_kill_mr(struct ms_xsmr *m)
{
	while (m->grants)
		kill_locked(m->grants);
}

void ms_rdma_grants_kill_peer(struct peer *p)
{
	while (p->grants)
		kill_locked(p->grants);
}

/* Bind g->mw over mr for p (loop thread, inside on_ctrl): post the bind
 * signaled and wait for its completion; completions of other requests
 * seen meanwhile are set aside for drain_cq.  0 with *rkey or -errno. */
static int bind_mw(struct peer *p, struct ms_xsmr *mr, struct ms_xgrant *g, unsigned access,
		   uint32_t *rkey)
{
	struct ibv_send_wr wr = { 0 }, *bad = NULL;
	struct ibv_wc wc;
	uint64_t until = ms_now_ns() + (uint64_t)BIND_WAIT_MS * 1000000u;
	int n;

	wr.wr_id = (uintptr_t)&g->wr;
	wr.opcode = IBV_WR_BIND_MW;
	wr.send_flags = IBV_SEND_SIGNALED;
	wr.bind_mw.mw = g->mw;
	wr.bind_mw.rkey = ibv_inc_rkey(g->mw->rkey);
	wr.bind_mw.bind_info.mr = mr->mr;
	wr.bind_mw.bind_info.addr = (uintptr_t)mr->addr;
	wr.bind_mw.bind_info.length = mr->len;
	wr.bind_mw.bind_info.mw_access_flags = (unsigned)xaccess_flags(access);
	n = ibv_post_send(p->id->qp, &wr, &bad);
	if (n)
		return -n;
	for (;;) {
		n = ibv_poll_cq(p->cq, 1, &wc);
		if (n < 0)
			return -EIO;
		if (n == 0) {
			if (ms_now_ns() > until)
				return -ETIMEDOUT;  /* the QP is not usable: the
						     * peer is closed by the caller */
			sched_yield();
			continue;
		}
		if (wc.wr_id == (uintptr_t)&g->wr)
			break;
		if (p->nstash == NSTASH)
			return -EOVERFLOW;
		p->stash[p->nstash++] = wc;
	}
	if (wc.status != IBV_WC_SUCCESS)
		return ms_rdma_wc_errno(wc.status) == -EACCES ? -EACCES : -EIO;
	*rkey = wr.bind_mw.rkey;
	return 0;
}

int ms_rdma_srv_grant(struct ms_xsrv *x, struct ms_xpeer *peer, struct ms_xsmr *mr,
		      unsigned access, struct ms_xgrant **out, struct ms_rdesc *desc)
{
	struct srv *s = to_srv(x);
	struct peer *p;
	struct ms_xgrant *g;
	uint32_t rkey = 0;
	int rc = 0;

	if (!peer || !mr || !access || (access & ~mr->access) || !out || !desc)
		return -EINVAL;
	p = ms_container_of(peer, struct peer, lp.pub);
	if (p->lp.dead || !p->qp_made)
		return -ENOTCONN;
	g = calloc(1, sizeof(*g));
	if (!g)
		return -ENOMEM;
	if (s->use_mw) {
		g->mw = ibv_alloc_mw(s->pd, IBV_MW_TYPE_2);
		if (!g->mw)
			rc = errno ? -errno : -ENOMEM;
		else
			rc = bind_mw(p, mr, g, access, &rkey);
	} else {
		g->own = ibv_reg_mr(s->pd, mr->addr, mr->len,
				    IBV_ACCESS_LOCAL_WRITE | xaccess_flags(access));
		if (!g->own)
			rc = errno ? -errno : -ENOMEM;
		else
			rkey = g->own->rkey;
	}
	/* after a timeout the bind may still complete: g stays (leaked) so
	 * its wr_id never names freed memory */
	if (rc == -ETIMEDOUT)
		return rc; /* NOLINT(clang-analyzer-unix.Malloc): on purpose, above */
	if (rc) {
		if (g->mw)
			ibv_dealloc_mw(g->mw);
		free(g);
		return rc;
	}
	pthread_mutex_lock(&s->l.lock);
	g->mr = mr;
	g->peer = p;
	g->mnext = mr->grants;
	if (mr->grants)
		mr->grants->mprev = &g->mnext;
	g->mprev = &mr->grants;
	mr->grants = g;
	g->pnext = p->grants;
	if (p->grants)
		p->grants->pprev = &g->pnext;
	g->pprev = &p->grants;
	p->grants = g;
	pthread_mutex_unlock(&s->l.lock);
	desc->addr = (uintptr_t)mr->addr;
	desc->len = mr->len;
	desc->rkey = rkey;
	*out = g;
	return 0;
}

void ms_rdma_srv_revoke(struct ms_xsrv *x, struct ms_xgrant *g)
{
	struct srv *s = to_srv(x);

	if (!g)
		return;
	pthread_mutex_lock(&s->l.lock);
	kill_locked(g);         /* the NIC refuses its rkey from here on */
	pthread_mutex_unlock(&s->l.lock);
	free(g);
}
