/* SPDX-License-Identifier: Apache-2.0 */
/*
 * tgrant.c - per-peer grants (srv_grant, srv_revoke) in the transport
 * contract suite: a granted descriptor works on the connection it was
 * granted to and nowhere else, never beyond its access, and not after
 * srv_revoke or its peer's disconnect.  The server makes grants on its
 * loop thread when a client sends "grant" + region ('A' read-only, 'B'
 * read-write) + access (tfix.c); the test revokes them from its own thread.
 *
 * Included by test_transport.c (one TAP counter).
 *
 * A NIC ends a connection on a refused key (XC_ACCESS_FATAL): every check
 * that expects a refusal then uses a connection of its own.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tap.h"
#include "tfix.h"

struct gconn {
	struct ms_xconn *c;
	struct ms_xmr *lmr;
	char buf[4096];
};

static void g_open(struct tsrv *t, struct gconn *g)
{
	g->c = cli(t, 4, 0, 0);
	g->lmr = lreg(g->c, g->buf, sizeof(g->buf));
}

static void g_close(struct gconn *g)
{
	T->close(g->c);
	g->c = NULL;
}

/* Ask for a grant of region ('A'/'B') with access: 0 and *d, or the
 * server's -errno. */
static int g_grant(struct gconn *g, char region, unsigned access, struct ms_rdesc *d)
{
	char req[7] = { 'g', 'r', 'a', 'n', 't', region, (char)access };
	char resp[64];
	size_t rlen = 0;
	int rc = T->call(g->c, req, sizeof(req), resp, sizeof(resp), &rlen, 10000);

	if (rc)
		return rc;
	if (rlen == sizeof(*d)) {
		memcpy(d, resp, sizeof(*d));
		return 0;
	}
	if (rlen == sizeof(int)) {
		memcpy(&rc, resp, sizeof(rc));
		return rc;
	}
	return -EBADMSG;
}

static struct ms_xgrant *last_grant(struct tsrv *t)
{
	struct ms_xgrant *g;

	pthread_mutex_lock(&t->lk);
	g = t->ngrants ? t->grants[--t->ngrants] : NULL;
	pthread_mutex_unlock(&t->lk);
	return g;
}

/* A request on the owner's connection that must be refused; a NIC ends
 * the connection then, so it is opened again with fresh grants. */
static int own_refused(struct tsrv *t, struct gconn *a, enum ms_xop op,
		       const struct ms_rdesc *d, struct ms_rdesc g[3])
{
	int rc = io1(a->c, op, a->buf, a->lmr, 64, d, 0);

	if (HAS(XC_ACCESS_FATAL)) {
		g_close(a);
		g_open(t, a);
		if (g_grant(a, 'A', MS_XACCESS_READ, &g[0]) ||
		    g_grant(a, 'B', MS_XACCESS_READ, &g[1]) ||
		    g_grant(a, 'B', MS_XACCESS_READ | MS_XACCESS_WRITE, &g[2]))
			tap_bail("grants on a new connection failed");
	}
	return rc;
}

/* The status of a request another connection makes with d. */
static int other_io(struct tsrv *t, enum ms_xop op, const struct ms_rdesc *d)
{
	struct gconn x;
	int rc;

	g_open(t, &x);
	memcpy(x.buf, "intruder", 8);
	rc = io1(x.c, op, x.buf, x.lmr, 64, d, 0);
	g_close(&x);
	return rc;
}

void tc_xgrants(struct tsrv *t, const char *what)
{
	struct gconn a;
	struct ms_rdesc gd[3], other;
	struct ms_xgrant *gw;
	char *saveA = malloc(4096), *saveB = malloc(4096);
	int rc;

#define ra gd[0]
#define rb gd[1]
#define wb gd[2]
	memcpy(saveA, A, 4096);
	g_open(t, &a);
	is_int(g_grant(&a, 'A', MS_XACCESS_WRITE, &gd[0]), -EINVAL,
	       "%s: grant: more access than the registration has is refused", what);
	is_int(g_grant(&a, 'A', MS_XACCESS_READ, &ra), 0, "%s: grant: read of A", what);
	is_int(g_grant(&a, 'B', MS_XACCESS_READ, &rb), 0, "%s: grant: read of B", what);
	is_int(g_grant(&a, 'B', MS_XACCESS_READ | MS_XACCESS_WRITE, &wb), 0,
	       "%s: grant: read-write of B", what);
	ok(ra.rkey != dA.rkey && rb.rkey != dB.rkey && rb.rkey != wb.rkey && ra.len == dA.len,
	   "%s: grants have keys of their own, the registration's length", what);

	/* on its own connection */
	is_int(io1(a.c, MS_XOP_READ, a.buf, a.lmr, 64, &ra, 128), 0,
	       "%s: a read grant reads on its own connection", what);
	ok(!memcmp(a.buf, A + 128, 64), "%s: ... the right bytes", what);
	fill(a.buf, 64, 77);
	is_int(io1(a.c, MS_XOP_WRITE, a.buf, a.lmr, 64, &wb, 256), 0,
	       "%s: a write grant writes on its own connection", what);
	ok(!memcmp(B + 256, a.buf, 64), "%s: ... the bytes landed", what);
	memcpy(saveB, B, 4096);
	rc = own_refused(t, &a, MS_XOP_WRITE, &rb, gd);
	is_int(rc, -EACCES, "%s: a read grant cannot WRITE", what);
	rc = own_refused(t, &a, MS_XOP_WRITE, &ra, gd);
	is_int(rc, -EACCES, "%s: a read grant of a read-only region cannot WRITE", what);
	ok(!memcmp(A, saveA, 4096) && !memcmp(B, saveB, 4096),
	   "%s: nothing changed by the refused writes", what);

	/* from another connection */
	if (HAS(XC_GRANT_ANY_CONN)) {
		diag("%s: grants are not bound to a connection here (only revoked)", what);
	} else {
		is_int(other_io(t, MS_XOP_READ, &ra), -EACCES,
		       "%s: another connection cannot read with the grant", what);
		is_int(other_io(t, MS_XOP_WRITE, &wb), -EACCES,
		       "%s: another connection cannot write with the write grant", what);
		ok(!memcmp(B, saveB, 4096), "%s: B unchanged by the intruder", what);
	}
	is_int(io1(a.c, MS_XOP_READ, a.buf, a.lmr, 64, &rb, 0), 0,
	       "%s: the owner still reads", what);

	/* revoked (from this thread, not the loop's) */
	gw = last_grant(t);
	T->srv_revoke(t->s, gw);
	rc = own_refused(t, &a, MS_XOP_WRITE, &wb, gd);
	is_int(rc, -EACCES, "%s: a revoked write grant no longer writes", what);
	ok(!memcmp(B, saveB, 4096), "%s: B unchanged after the revoke", what);
	is_int(io1(a.c, MS_XOP_READ, a.buf, a.lmr, 64, &ra, 0), 0,
	       "%s: the other grants stay", what);

	/* the peer goes: its keys die with it */
	other = ra;
	g_close(&a);
	settle(t);
	is_int(other_io(t, MS_XOP_READ, &other), -EACCES,
	       "%s: a disconnected peer's read grant no longer reads", what);
	for (struct ms_xgrant *g; (g = last_grant(t));)
		T->srv_revoke(t->s, g);       /* after the peer left: still once */
	ok(!memcmp(A, saveA, 4096) && !memcmp(B, saveB, 4096),
	   "%s: A and B unchanged byte for byte", what);
	g_open(t, &a);
	is_int(io1(a.c, MS_XOP_READ, a.buf, a.lmr, 64, &dA, 0), 0,
	       "%s: the server still serves", what);
	g_close(&a);
	free(saveA);
	free(saveB);
#undef ra
#undef rb
#undef wb
}
