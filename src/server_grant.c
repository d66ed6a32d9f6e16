/* SPDX-License-Identifier: Apache-2.0 */
/*
 * server_grant.c - per-client grants of the server's registrations (see
 * server_grant.h for who holds and revokes which).
 */
#include <errno.h>
#include <stddef.h>

#include "server_grant.h"

int ms_grant_give(struct peer *p, struct ms_xsmr *mr, const struct ms_rdesc *parent,
		  unsigned access, struct ms_xgrant **g, struct ms_rdesc *desc)
{
	struct listener *l = p->l;

	*g = NULL;
	if (!l->ops->srv_grant) {
		*desc = *parent;
		return 0;
	}
	return l->ops->srv_grant(l->xs, p->xp, mr, access, g, desc);
}

void ms_grant_revoke(struct listener *l, struct ms_xgrant **g)
{
	if (!*g)
		return;
	l->ops->srv_revoke(l->xs, *g);
	*g = NULL;
}

int ms_grant_reg(struct peer *p, void *mem, size_t len, unsigned access, struct ms_xsmr **mr,
		 struct ms_xgrant **g, struct ms_rdesc *desc)
{
	struct listener *l = p->l;
	struct ms_rdesc own;
	int ret;

	*g = NULL;
	ret = l->ops->srv_reg_mr(l->xs, mem, len, access, mr, &own);
	if (ret)
		return ret;
	ret = ms_grant_give(p, *mr, &own, access, g, desc);
	if (ret) {
		l->ops->srv_dereg_mr(l->xs, *mr);
		*mr = NULL;
	}
	return ret;
}

void ms_grant_dereg(struct listener *l, struct ms_xsmr *mr, struct ms_xgrant *g)
{
	ms_grant_revoke(l, &g);
	if (mr)
		l->ops->srv_dereg_mr(l->xs, mr);
}

int ms_grant_open(struct peer *p, struct open_slot *o, struct ms_export *e, bool data,
		  struct ms_rdesc *data_desc, struct ms_rdesc *meta_desc)
{
	const struct xreg *xr = &e->reg[p->l - e->srv->l];
	int ret = 0;

	o->gdata = o->gmeta = NULL;
	if (data)
		ret = ms_grant_give(p, xr->data_mr, &xr->data_desc, MS_XACCESS_READ, &o->gdata,
				    data_desc);
	if (!ret)
		ret = ms_grant_give(p, xr->meta_mr, &xr->meta_desc, MS_XACCESS_READ, &o->gmeta,
				    meta_desc);
	if (ret)
		ms_grant_close(p, o);
	return ret;
}

void ms_grant_close(struct peer *p, struct open_slot *o)
{
	ms_grant_revoke(p->l, &o->gdata);
	ms_grant_revoke(p->l, &o->gmeta);
}
