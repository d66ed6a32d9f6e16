/* SPDX-License-Identifier: Apache-2.0 */
/*
 * rdma_srv.h - what the pieces of the RDMA server share: its registration,
 * peer and server structs (rdma_server.c) and the per-peer grants
 * (rdma_grant.c).  Only rdma/ sources include this.
 */
#ifndef MS_RDMA_SRV_H
#define MS_RDMA_SRV_H

#include <stdbool.h>

#include "rdma_int.h"
#include "xsrvloop.h"

#define NSEND 2                         /* send buffers per peer */
#define NSTASH 16                       /* completions a grant's wait set aside */

struct ms_xsmr {
	struct ms_xsmr *next, *prev;    /* s->mrs, under s->l.lock */
	struct ibv_mr *mr;
	void *addr;
	size_t len;
	unsigned access;                /* MS_XACCESS_* */
	struct ms_xgrant *grants;       /* handed to peers, under s->l.lock */
};

struct note {
	struct note *next;
	size_t len;
	char msg[];
};

struct peer {
	struct ms_xlpeer lp;            /* first: name, list, dead, accepted */
	struct rdma_cm_id *id;
	struct ibv_comp_channel *cch;
	struct ibv_cq *cq;
	unsigned cq_events;
	bool qp_made, in_epoll;
	struct ms_rdma_buf rbuf[MS_RDMA_NRECV], sbuf[NSEND];
	struct ms_rdma_buf *waiting[MS_RDMA_NRECV]; /* requests waiting for a send buffer */
	uint32_t wlen[MS_RDMA_NRECV];
	unsigned nwait;
	struct note *notes, **notes_tail;
	struct ms_rdma_buf *dbuf;       /* the request a deferred reply answers
					 * (reposted once it is sent) */
	char *dreply;                   /* that reply, waiting for a send buffer */
	size_t dlen;
	struct ms_xgrant *grants;       /* its grants, under s->l.lock */
	struct ibv_wc stash[NSTASH];    /* completions seen while a grant */
	unsigned nstash;                /* waited for its bind (drain_cq) */
};

struct srv {
	struct ms_xloop l;              /* first: the shared loop */
	struct rdma_event_channel *ech;
	struct rdma_cm_id *lid;
	struct ibv_context *verbs;
	struct ibv_pd *pd;
	unsigned rd_atom;               /* device max_qp_rd_atom */
	struct ms_xsmr *mrs;            /* under l.lock */
	struct ms_rdma_place place;
	char addr[80];
	bool use_mw;                    /* grants are type 2 memory windows */
};

MS_XLOOP_ACCESSORS(struct srv, struct peer)

/* ---- grants (rdma_grant.c) */

/* Decide at listen how grants are made (type 2 memory windows when the
 * device binds them, else a registration per grant) and say which. */
void ms_rdma_grant_setup(struct srv *s, const struct ibv_device_attr *da);
/* The IBV_ACCESS_* flags of a registration grants may be made of. */
int ms_rdma_grant_mr_flags(const struct srv *s);
/* s->l.lock held: m or p is going away; every grant of it stops working
 * (the structs stay the engine's until srv_revoke). */
void ms_rdma_grants_kill_mr(struct ms_xsmr *m);
void ms_rdma_grants_kill_peer(struct peer *p);
int ms_rdma_srv_grant(struct ms_xsrv *x, struct ms_xpeer *peer, struct ms_xsmr *mr,
		      unsigned access, struct ms_xgrant **out, struct ms_rdesc *desc);
void ms_rdma_srv_revoke(struct ms_xsrv *x, struct ms_xgrant *g);

#endif /* MS_RDMA_SRV_H */
