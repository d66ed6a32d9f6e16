/* SPDX-License-Identifier: Apache-2.0 */
/*
 * server_attach.c - SESSION and ATTACH: extra connections of one client
 * (server_attach.h says who revokes what, and on which thread).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include <openssl/crypto.h>

#include "proto_stream.h"
#include "server_attach.h"
#include "server_grant.h"
#include "server_move.h"

struct ms_attach {
	/* as a parent */
	bool have_secret;
	uint8_t secret[MS_SESSION_SECRET_LEN];
	/* as a stream: the parent (s->lock; NULL once it went) and the
	 * grants this connection got, by the parent's handle */
	struct peer *parent;
	bool attached;
	struct ms_xgrant *g[MAX_OPENS];
	bool has[MAX_OPENS];
};

static struct ms_attach *att_of(struct peer *p)
{
	if (!p->att)
		p->att = calloc(1, sizeof(*p->att));
	return p->att;
}

/* Constant time: a guess learns nothing from how long the compare took. */
static bool secret_eq(const uint8_t *a, const uint8_t *b)
{
	return CRYPTO_memcmp(a, b, MS_SESSION_SECRET_LEN) == 0;   /* constant time */
}

int ms_srv_h_session(ms_server *s, struct peer *p, const void *req, size_t len, void *resp,
		     size_t cap)
{
	struct ms_msg_session_ok ok = { .session = p->id };
	struct ms_attach *a;

	(void)s;
	if (ms_dec_empty(req, len, MS_MSG_SESSION))
		return ms_enc_error(resp, cap, EBADMSG, "malformed SESSION");
	a = att_of(p);
	if (!a)
		return ms_enc_error(resp, cap, ENOMEM, "SESSION: out of memory");
	if (a->attached)
		return ms_enc_error(resp, cap, EPERM, "SESSION: this connection is a stream "
				    "of another; it has no session of its own");
	if (!a->have_secret) {
		if (getrandom(a->secret, sizeof(a->secret), 0) != (ssize_t)sizeof(a->secret))
			return ms_enc_error(resp, cap, EAGAIN, "SESSION: no random bytes");
		a->have_secret = true;
	}
	memcpy(ok.secret, a->secret, sizeof(ok.secret));
	return ms_enc_session_ok(resp, cap, &ok);
}

unsigned ms_attach_count_locked(ms_server *s, const struct peer *p)
{
	unsigned n = 0;

	for (struct peer *q = s->peers; q; q = q->next)
		if (q->att && q->att->parent == p)
			n++;
	return n;
}

/* The parent of session id for stream p, or NULL (s->lock held). */
static struct peer *find_parent(ms_server *s, struct peer *p, const struct ms_msg_attach *m)
{
	for (struct peer *q = s->peers; q; q = q->next) {
		if (q->id != m->session)
			continue;
		if (q == p || q->l != p->l || !q->att || !q->att->have_secret ||
		    !secret_eq(q->att->secret, m->secret) || strcmp(q->xp->who, p->xp->who))
			return NULL;
		return q;
	}
	return NULL;
}

int ms_srv_h_attach(ms_server *s, struct peer *p, const void *req, size_t len, void *resp,
		    size_t cap)
{
	struct ms_msg_attach m;
	struct ms_msg_attach_ok ok = { 0 };
	struct ms_attach *a;
	struct peer *q;
	struct open_slot *o;
	struct ms_xgrant *g = NULL;
	const struct xreg *xr;
	enum ms_grant may;
	unsigned n;
	int ret;

	if (ms_dec_attach(req, len, &m))
		return ms_enc_error(resp, cap, EBADMSG, "malformed ATTACH");
	a = att_of(p);
	if (!a)
		return ms_enc_error(resp, cap, ENOMEM, "ATTACH: out of memory");
	if (a->have_secret)
		return ms_enc_error(resp, cap, EPERM, "ATTACH: this connection has a session "
				    "of its own");
	pthread_mutex_lock(&s->lock);
	q = find_parent(s, p, &m);
	if (q && a->attached && a->parent != q)
		q = NULL;               /* a stream serves one session */
	n = q && !a->attached ? ms_attach_count_locked(s, q) : 0;
	if (q && n < MS_ATTACH_MAX_STREAMS) {
		a->parent = q;
		a->attached = true;
	}
	pthread_mutex_unlock(&s->lock);
	/* a wrong secret, a session gone, another identity: one answer */
	if (!q)
		return ms_enc_error(resp, cap, EACCES, "ATTACH: no such session");
	if (n >= MS_ATTACH_MAX_STREAMS)
		return ms_enc_error(resp, cap, EMFILE, "ATTACH: session has %u streams already",
				    MS_ATTACH_MAX_STREAMS);
	/* q runs on this thread (same listener): its slots are ours to read */
	o = ms_srv_slot(q, m.handle);
	if (!o || ms_move_reaped(o->e))
		return ms_enc_error(resp, cap, EACCES, "ATTACH: no open region with handle %u "
				    "in that session", m.handle);
	may = ms_srv_grant(s, p, o->e->r->name);
	if ((uint32_t)o->mode < m.mode || may == MS_GRANT_NONE ||
	    (m.mode == MS_MODE_WRITE && may != MS_GRANT_RW))
		return ms_enc_error(resp, cap, EACCES, "ATTACH: handle %u grants no %s access",
				    m.handle, m.mode == MS_MODE_WRITE ? "write" : "read");
	if (m.mode == MS_MODE_WRITE)
		return ms_enc_error(resp, cap, EOPNOTSUPP,
				    "ATTACH: write streams are not served (writes use the first "
				    "connection)");
	xr = &o->e->reg[p->l - s->l];
	ret = ms_grant_give(p, xr->data_mr, &xr->data_desc, MS_XACCESS_READ, &g, &ok.data);
	if (ret)
		return ms_enc_error(resp, cap, -ret, "ATTACH: cannot grant access: %s",
				    strerror(-ret));
	ms_grant_revoke(p->l, &a->g[m.handle]);     /* attached again: the new one */
	a->g[m.handle] = g;
	a->has[m.handle] = true;
	return ms_enc_attach_ok(resp, cap, &ok);
}

static void drop(struct peer *st, uint32_t h)
{
	ms_grant_revoke(st->l, &st->att->g[h]);
	st->att->has[h] = false;
}

void ms_attach_close(ms_server *s, struct peer *p, uint32_t handle)
{
	if (!p->att || !p->att->have_secret || handle >= MAX_OPENS)
		return;
	/* the streams are this thread's peers: their grants are ours; the
	 * revoke itself is quick (transport.h), so it runs in the walk */
	pthread_mutex_lock(&s->lock);
	for (struct peer *q = s->peers; q; q = q->next)
		if (q->att && q->att->parent == p && q->att->has[handle])
			drop(q, handle);
	pthread_mutex_unlock(&s->lock);
}

void ms_attach_peer_gone(ms_server *s, struct peer *p)
{
	if (!p->att)
		return;
	pthread_mutex_lock(&s->lock);
	for (struct peer *q = s->peers; q; q = q->next) {
		if (q->att && q->att->parent == p) {
			for (uint32_t h = 0; h < MAX_OPENS; h++)
				if (q->att->has[h])
					drop(q, h);
			q->att->parent = NULL;  /* its later ATTACHes: EACCES */
		}
	}
	p->att->parent = NULL;
	pthread_mutex_unlock(&s->lock);
	for (uint32_t h = 0; h < MAX_OPENS; h++)
		if (p->att->has[h])
			drop(p, h);
	free(p->att);
	p->att = NULL;
}
