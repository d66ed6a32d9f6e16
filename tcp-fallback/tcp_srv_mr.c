/* SPDX-License-Identifier: Apache-2.0 */
/*
 * tcp_srv_mr.c - the server's registrations and grants (tcp_mr.c's
 * table) as the loop sees them: registering, per-peer grants, and taking
 * a registration or a grant away from live connections.  Only the loop
 * frees a registration that may be in use: detach_mr() gives queued
 * responses a private copy of its bytes and turns a WRITE being received
 * into a discarded one answered -EACCES.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "tcp_int.h"
#include "tcp_srv.h"
#include "util.h"

/* ------------------------------------------------------- registrations */

static void detach_mr(struct ms_xloop *l, struct ms_xsmr *m, uint64_t key);

int ms_tcp_srv_reg_mr(struct ms_xsrv *x, void *addr, size_t len, unsigned access,
		      struct ms_xsmr **out, struct ms_rdesc *desc)
{
	return tcp_mr_reg(&to_srv(x)->l, &to_srv(x)->mrs, addr, len, access, out, desc);
}

void ms_tcp_srv_dereg_mr(struct ms_xsrv *x, struct ms_xsmr *m)
{
	tcp_mr_dereg(&to_srv(x)->l, &to_srv(x)->mrs, m, detach_mr);
}

int ms_tcp_srv_grant(struct ms_xsrv *x, struct ms_xpeer *peer, struct ms_xsmr *m,
		     unsigned access, struct ms_xgrant **out, struct ms_rdesc *desc)
{
	return tcp_mr_grant(&to_srv(x)->l, &to_srv(x)->mrs,
			    peer ? ms_container_of(peer, struct peer, lp.pub)->cid : 0, m, access,
			    out, desc);
}

void ms_tcp_srv_revoke(struct ms_xsrv *x, struct ms_xgrant *g)
{
	tcp_mr_revoke(&to_srv(x)->l, &to_srv(x)->mrs, g, detach_mr);
}

/* ------------------------------------------------------- deregistration */

/* Make sure no connection refers to m's memory any more; or (m NULL)
 * that no WRITE with the revoked grant key is being received (loop
 * thread). */
static void detach_mr(struct ms_xloop *l, struct ms_xsmr *m, uint64_t key)
{
	struct tx_ent *e;
	struct ms_xlpeer *lp;
	struct peer *p;
	char *copy;

	for (lp = l->peers; lp; lp = lp->next) {
		p = to_peer(lp);
		for (e = p->txh; m && e; e = e->next) {
			if (e->mr != m)
				continue;
			copy = malloc(e->dlen);
			if (!copy) {
				/* Cannot keep the bytes: this stream is lost;
				 * the loop closes the peer after this batch. */
				p->broken = l->attention = true;
				break;
			}
			memcpy(copy, e->data, e->dlen);
			e->data = copy;
			e->owned = true;
			e->mr = NULL;
			p->txown += e->dlen;
		}
		if (p->broken) {
			p->dslot = NULL;
			while ((e = p->txh)) {
				p->txh = e->next;
				tcp_srv_tx_free(e);
			}
			p->txt = NULL;
			p->txn = 0;
			p->txbytes = p->txown = 0;
		}
		if (p->rx == RX_WRITE && (m ? p->rx_mr == m : p->req.key == key)) {
			p->rx = RX_DROP;
			p->rx_status = -EACCES;
			p->rx_mr = NULL;
		}
	}
}

/* Serve deregistrations and revocations queued by other threads. */
void tcp_srv_process_dq(struct ms_xloop *l)
{
	tcp_mr_process_dq(l, &loop_srv(l)->mrs, detach_mr);
}
