/* SPDX-License-Identifier: Apache-2.0 */
/*
 * loopx.c - the in-memory loopback transport (see loopx.h).
 *
 * One lock (lx_lock) and one condition variable per side: the server's
 * loop sleeps on srv->cv for work (connects, requests, byes, stop), a
 * client on its conn->cv for a reply, an accept or the end.  A connection
 * is shared by both sides and freed by the second to let go of it.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "loopx.h"

#define DEPTH_MAX 4096
#define MAX_IO_MAX (16u << 20)

static pthread_mutex_t lx_lock = PTHREAD_MUTEX_INITIALIZER;

struct ms_xsmr {
	struct ms_xsmr *next;
	char *addr;
	size_t len;
	unsigned access;
	uint64_t key, rd, wr;
};

struct ms_xmr {
	struct ms_xmr *next;
	char *addr;
	size_t len;
};

struct note {
	struct note *next;
	size_t len;
	char msg[];
};

struct srv;

struct conn {
	struct ms_xconn pub;
	struct ms_xpeer peer;
	struct srv *s;
	struct conn *wnext, *pnext;     /* s->work, s->peers */
	pthread_cond_t cv;
	int refs;
	enum { C_CONNECTING, C_UP, C_DEAD } st;
	bool accepted, bye, queued;
	bool deferred;                  /* on_ctrl answered MS_XCTRL_LATER */
	bool owed_end;                  /* ended while deferred: on_disconnect waits */
	struct conn *enext;             /* s->ended */
	int timeout_ms;
	void (*on_notify)(void *ud, const void *msg, size_t len);
	void *notify_ud;
	struct ms_xring ring;
	struct ms_xmr *mrs;
	struct note *notes, **notes_tail;
	/* the control call in flight */
	const void *req;
	size_t req_len;
	bool has_req, has_resp;
	char *resp;
	size_t resp_len;
};

struct srv {
	struct ms_xsrv pub;
	struct ms_xsrv_cbs cbs;
	struct srv *next;               /* listeners */
	pthread_cond_t cv;
	struct conn *work, *peers;
	struct conn *ended;             /* deferred replies came for ended peers */
	unsigned limbo;                 /* ended peers whose reply is owed */
	struct ms_xsmr *mrs;
	uint64_t next_key;
	bool stop, running, ran;
	pthread_t loop;
	char *scratch;
};

static struct srv *listeners;
static uint16_t next_port = 30000;

static int deadline(struct timespec *ts, int ms)
{
	clock_gettime(CLOCK_REALTIME, ts);
	ts->tv_sec += ms / 1000;
	ts->tv_nsec += (long)(ms % 1000) * 1000000;
	if (ts->tv_nsec >= 1000000000) {
		ts->tv_sec++;
		ts->tv_nsec -= 1000000000;
	}
	return 0;
}

static void conn_put(struct conn *c)
{
	struct note *n;

	if (--c->refs)
		return;
	while ((n = c->notes)) {
		c->notes = n->next;
		free(n);
	}
	while (c->mrs) {
		struct ms_xmr *m = c->mrs;

		c->mrs = m->next;
		free(m);
	}
	pthread_cond_destroy(&c->cv);
	free(c->ring.wc);
	free(c->resp);
	free(c);
}

/* Hand c to the server's loop (connect, request, bye). */
static void kick(struct conn *c)
{
	if (!c->queued && c->s) {
		c->queued = true;
		c->wnext = c->s->work;
		c->s->work = c;
		pthread_cond_signal(&c->s->cv);
	}
}

/* ------------------------------------------------------------ client */

static int lx_connect(const char *host, const char *port, const struct ms_xopts *o,
		      struct ms_xconn **out, char *err, size_t errlen)
{
	struct ms_xopts def = { 0 };
	struct conn *c;
	struct srv *s;
	unsigned depth;
	int rc = 0;

	if (!o)
		o = &def;
	if (!err)
		errlen = 0;
	if (o->depth > DEPTH_MAX || o->max_io > MAX_IO_MAX) {
		snprintf(err, errlen, "queue depth or max_io over the limit");
		return -EINVAL;
	}
	if (!host || strcmp(host, LOOPX_HOST)) {
		snprintf(err, errlen, "cannot resolve %s: not the loopback", host ? host : "(null)");
		return -EHOSTUNREACH;
	}
	depth = o->depth ? o->depth : 16;
	c = calloc(1, sizeof(*c));
	if (!c || !(c->ring.wc = calloc(depth, sizeof(struct ms_xwc)))) {
		free(c);
		return -ENOMEM;
	}
	c->pub = (struct ms_xconn){ .ops = &ms_loopx_ops, .depth = depth,
				    .max_io = o->max_io ? o->max_io : 1u << 20 };
	c->ring.cap = depth;
	c->timeout_ms = o->timeout_ms ? o->timeout_ms : 30000;
	c->on_notify = o->on_notify;
	c->notify_ud = o->notify_ud;
	c->notes_tail = &c->notes;
	c->refs = 1;
	snprintf(c->peer.name, sizeof(c->peer.name), "loop:%p", (void *)c);
	pthread_cond_init(&c->cv, NULL);
	pthread_mutex_lock(&lx_lock);
	for (s = listeners; s && !(s->pub.port == atoi(port) && !s->stop); s = s->next)
		;
	if (!s) {
		rc = -ECONNREFUSED;
	} else {
		c->s = s;
		c->refs = 2;
		kick(c);
		while (c->st == C_CONNECTING)
			pthread_cond_wait(&c->cv, &lx_lock);
	}
	pthread_mutex_unlock(&lx_lock);
	if (rc) {
		snprintf(err, errlen, "cannot connect to %s:%s: Connection refused", host, port);
		conn_put(c);
		return rc;
	}
	*out = &c->pub;
	return 0;
}

static struct conn *to_conn(struct ms_xconn *x)
{
	return (struct conn *)x;
}

static int lx_reg_mr(struct ms_xconn *x, void *addr, size_t len, struct ms_xmr **out)
{
	struct conn *c = to_conn(x);
	struct ms_xmr *m;

	if (!addr || !len || !out || !(m = calloc(1, sizeof(*m))))
		return -EINVAL;
	m->addr = addr;
	m->len = len;
	pthread_mutex_lock(&lx_lock);
	m->next = c->mrs;
	c->mrs = m;
	pthread_mutex_unlock(&lx_lock);
	*out = m;
	return 0;
}

static void lx_dereg_mr(struct ms_xconn *x, struct ms_xmr *mr)
{
	struct conn *c = to_conn(x);

	pthread_mutex_lock(&lx_lock);
	for (struct ms_xmr **pp = &c->mrs; *pp; pp = &(*pp)->next) {
		if (*pp == mr) {
			*pp = mr->next;
			free(mr);
			break;
		}
	}
	pthread_mutex_unlock(&lx_lock);
}

static bool local_ok(struct conn *c, const struct ms_xwr *w)
{
	struct ms_xmr *m;
	uintptr_t p = (uintptr_t)w->local;

	if (!w->lmr)
		return true;
	for (m = c->mrs; m && m != w->lmr; m = m->next)
		;
	return m && p >= (uintptr_t)m->addr && p - (uintptr_t)m->addr <= m->len &&
	       w->len <= m->len - (p - (uintptr_t)m->addr);
}

/* One request, one-sided, against the server's registrations. */
static int execute(struct conn *c, const struct ms_xwr *w)
{
	const struct ms_rdesc *d = w->remote;
	struct ms_xsmr *m;

	if (w->roff > d->len || w->len > d->len - w->roff)
		return -ERANGE;
	for (m = c->s ? c->s->mrs : NULL; m && m->key != d->rkey; m = m->next)
		;
	if (!m || d->addr != (uintptr_t)m->addr || d->len != m->len)
		return -EACCES;
	if (w->op == MS_XOP_READ) {
		if (!(m->access & MS_XACCESS_READ))
			return -EACCES;
		memcpy(w->local, m->addr + w->roff, w->len);
		m->rd += w->len;
	} else {
		if (!(m->access & MS_XACCESS_WRITE))
			return -EACCES;
		memcpy(m->addr + w->roff, w->local, w->len);
		m->wr += w->len;
	}
	return 0;
}

static int lx_post(struct ms_xconn *x, const struct ms_xwr *wrs, size_t n)
{
	struct conn *c = to_conn(x);
	int rc = 0;

	pthread_mutex_lock(&lx_lock);
	if (c->st != C_UP) {
		rc = -ENOTCONN;
		goto out;
	}
	if ((n && !wrs) || n > c->pub.depth) {
		rc = -EINVAL;
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		const struct ms_xwr *w = &wrs[i];

		if ((w->op != MS_XOP_READ && w->op != MS_XOP_WRITE) || !w->remote ||
		    w->len > c->pub.max_io || (w->len && !w->local) || !local_ok(c, w)) {
			rc = -EINVAL;
			goto out;
		}
	}
	if (n > c->pub.depth - c->ring.n) {
		rc = -EAGAIN;
		goto out;
	}
	for (size_t i = 0; i < n; i++)
		ms_xring_push(&c->ring, wrs[i].ctx, execute(c, &wrs[i]), wrs[i].len);
out:
	pthread_mutex_unlock(&lx_lock);
	return rc;
}

/* Notifications queued for the client (lx_lock held; dropped around the
 * callback). */
static void deliver_notes(struct conn *c)
{
	struct note *n;

	while ((n = c->notes)) {
		c->notes = n->next;
		if (!c->notes)
			c->notes_tail = &c->notes;
		pthread_mutex_unlock(&lx_lock);
		if (c->on_notify)
			c->on_notify(c->notify_ud, n->msg, n->len);
		free(n);
		pthread_mutex_lock(&lx_lock);
	}
}

static int lx_poll(struct ms_xconn *x, struct ms_xwc *wcs, int max, int timeout_ms)
{
	struct conn *c = to_conn(x);
	struct timespec ts;
	int rc;

	if (!wcs || max <= 0)
		return -EINVAL;
	deadline(&ts, timeout_ms > 0 ? timeout_ms : 0);
	pthread_mutex_lock(&lx_lock);
	deliver_notes(c);
	/* the data path is synchronous: only the end or a note can come */
	while (!c->ring.n && c->st == C_UP && timeout_ms != 0 && !c->notes) {
		if (timeout_ms < 0)
			pthread_cond_wait(&c->cv, &lx_lock);
		else if (pthread_cond_timedwait(&c->cv, &lx_lock, &ts) == ETIMEDOUT)
			break;
	}
	deliver_notes(c);
	rc = c->ring.n ? ms_xring_pop(&c->ring, wcs, max) : c->st == C_DEAD ? -ENOTCONN : 0;
	pthread_mutex_unlock(&lx_lock);
	return rc;
}

static unsigned lx_outstanding(struct ms_xconn *x)
{
	struct conn *c = to_conn(x);
	unsigned n;

	pthread_mutex_lock(&lx_lock);
	n = c->ring.n;
	pthread_mutex_unlock(&lx_lock);
	return n;
}

static int lx_call(struct ms_xconn *x, const void *req, size_t len, void *resp, size_t cap,
		   size_t *resp_len, int timeout_ms)
{
	struct conn *c = to_conn(x);
	int tmo = timeout_ms ? timeout_ms : c->timeout_ms, rc = 0;
	struct timespec ts;

	if ((len && !req) || (cap && !resp))
		return -EINVAL;
	if (len > MS_CTRL_MAX)
		return -EMSGSIZE;
	deadline(&ts, tmo > 0 ? tmo : 0);
	pthread_mutex_lock(&lx_lock);
	if (c->st != C_UP) {
		rc = -ECONNRESET;
		goto out;
	}
	c->req = req;
	c->req_len = len;
	c->has_req = true;
	c->has_resp = false;
	kick(c);
	while (!c->has_resp && c->st == C_UP) {
		deliver_notes(c);
		if (c->has_resp || c->st != C_UP)
			break;
		if (tmo < 0)
			pthread_cond_wait(&c->cv, &lx_lock);
		else if (pthread_cond_timedwait(&c->cv, &lx_lock, &ts) == ETIMEDOUT)
			break;
	}
	deliver_notes(c);
	if (!c->has_resp) {
		rc = c->st == C_UP ? -ETIMEDOUT : -ECONNRESET;
		c->st = C_DEAD;
		c->has_req = false;
	} else if (c->resp_len > cap) {
		rc = -EMSGSIZE;
	} else {
		if (c->resp_len)
			memcpy(resp, c->resp, c->resp_len);
		if (resp_len)
			*resp_len = c->resp_len;
	}
out:
	pthread_mutex_unlock(&lx_lock);
	return rc;
}

static void lx_close(struct ms_xconn *x)
{
	struct conn *c = to_conn(x);

	if (!x)
		return;
	pthread_mutex_lock(&lx_lock);
	if (c->s) {             /* the server still holds it (even after a
				 * timed-out call): it ends it, as on a close */
		c->bye = true;
		kick(c);
	}
	c->st = C_DEAD;
	conn_put(c);
	pthread_mutex_unlock(&lx_lock);
}

/* ------------------------------------------------------------ server */

/* The server lets go of c (lx_lock held). */
static void peer_end(struct srv *s, struct conn *c)
{
	for (struct conn **pp = &s->peers; *pp; pp = &(*pp)->pnext) {
		if (*pp == c) {
			*pp = c->pnext;
			break;
		}
	}
	if (c->queued) {
		for (struct conn **pp = &s->work; *pp; pp = &(*pp)->wnext) {
			if (*pp == c) {
				*pp = c->wnext;
				break;
			}
		}
		c->queued = false;
	}
	c->st = C_DEAD;
	c->s = NULL;
	pthread_cond_broadcast(&c->cv);
	if (c->deferred) {
		/* on_disconnect once the engine has replied (lx_srv_reply) */
		c->owed_end = true;
		s->limbo++;
		return;
	}
	if (c->accepted && s->cbs.on_disconnect) {
		pthread_mutex_unlock(&lx_lock);
		s->cbs.on_disconnect(s->cbs.ud, &c->peer);
		pthread_mutex_lock(&lx_lock);
	}
	conn_put(c);
}

static void serve(struct srv *s, struct conn *c)
{
	size_t rlen = 0;
	int rc = 0;

	if (c->st == C_CONNECTING) {
		pthread_mutex_unlock(&lx_lock);
		rc = s->cbs.on_connect ? s->cbs.on_connect(s->cbs.ud, &c->peer) : 0;
		pthread_mutex_lock(&lx_lock);
		c->st = C_UP;           /* refused: up, then closed at once */
		c->accepted = !rc;
		c->pnext = s->peers;
		s->peers = c;
		pthread_cond_broadcast(&c->cv);
		if (rc) {
			peer_end(s, c);
			return;
		}
	}
	if (c->bye || c->st != C_UP) {
		peer_end(s, c);
		return;
	}
	if (!c->has_req || c->deferred)   /* a request waits for the reply before it */
		return;
	c->has_req = false;
	pthread_mutex_unlock(&lx_lock);
	if (s->cbs.on_ctrl)
		rc = s->cbs.on_ctrl(s->cbs.ud, &c->peer, c->req, c->req_len, s->scratch,
				    MS_CTRL_MAX, &rlen);
	pthread_mutex_lock(&lx_lock);
	if (rc == MS_XCTRL_LATER) {
		c->deferred = true;
		c->refs++;              /* kept for lx_srv_reply */
		return;
	}
	if (rc < 0) {
		ms_xsrv_log(&s->cbs, MS_LOG_WARN, "peer %s: control request rejected (%s)",
			    c->peer.name, strerror(-rc));
		peer_end(s, c);
		return;
	}
	free(c->resp);
	c->resp = malloc(rlen ? rlen : 1);
	if (rlen)
		memcpy(c->resp, s->scratch, rlen);
	c->resp_len = rlen;
	c->has_resp = true;
	pthread_cond_broadcast(&c->cv);
}

/* Postponed on_disconnects of peers whose deferred reply came (lx_lock
 * held). */
static void serve_ended(struct srv *s)
{
	struct conn *c;

	while ((c = s->ended)) {
		s->ended = c->enext;
		s->limbo--;
		if (c->accepted && s->cbs.on_disconnect) {
			pthread_mutex_unlock(&lx_lock);
			s->cbs.on_disconnect(s->cbs.ud, &c->peer);
			pthread_mutex_lock(&lx_lock);
		}
		conn_put(c);            /* the server's */
		conn_put(c);            /* the deferral's */
	}
}

static int lx_srv_run(struct ms_xsrv *x)
{
	struct srv *s = (struct srv *)x;
	struct conn *c;

	pthread_mutex_lock(&lx_lock);
	if (s->ran) {
		pthread_mutex_unlock(&lx_lock);
		return -EINVAL;
	}
	s->ran = s->running = true;
	s->loop = pthread_self();
	for (;;) {
		while ((c = s->work)) {
			s->work = c->wnext;
			c->queued = false;
			serve(s, c);
		}
		serve_ended(s);
		if (s->stop)
			break;
		pthread_cond_wait(&s->cv, &lx_lock);
	}
	while (s->peers)
		peer_end(s, s->peers);
	for (serve_ended(s); s->limbo; serve_ended(s))
		pthread_cond_wait(&s->cv, &lx_lock);
	s->running = false;
	pthread_mutex_unlock(&lx_lock);
	return 0;
}

static void lx_srv_stop(struct ms_xsrv *x)
{
	struct srv *s = (struct srv *)x;

	pthread_mutex_lock(&lx_lock);
	s->stop = true;
	pthread_cond_signal(&s->cv);
	pthread_mutex_unlock(&lx_lock);
}

static int lx_srv_notify(struct ms_xsrv *x, struct ms_xpeer *peer, const void *msg, size_t len)
{
	struct srv *s = (struct srv *)x;
	struct conn *c;
	struct note *n;

	pthread_mutex_lock(&lx_lock);
	if (!peer || (len && !msg) || !s->running || !pthread_equal(pthread_self(), s->loop)) {
		pthread_mutex_unlock(&lx_lock);
		return -EINVAL;
	}
	pthread_mutex_unlock(&lx_lock);
	if (len > MS_CTRL_MAX)
		return -EMSGSIZE;
	c = (struct conn *)((char *)peer - offsetof(struct conn, peer));
	if (!(n = malloc(sizeof(*n) + len)))
		return -ENOMEM;
	n->next = NULL;
	n->len = len;
	if (len)
		memcpy(n->msg, msg, len);
	pthread_mutex_lock(&lx_lock);
	*c->notes_tail = n;
	c->notes_tail = &n->next;
	pthread_cond_broadcast(&c->cv);
	pthread_mutex_unlock(&lx_lock);
	return 0;
}

static int lx_srv_reply(struct ms_xsrv *x, struct ms_xpeer *peer, const void *resp, size_t len)
{
	struct srv *s = (struct srv *)x;
	struct conn *c = (struct conn *)((char *)peer - offsetof(struct conn, peer));
	char *copy = malloc(len ? len : 1);

	if (!copy)
		return -ENOMEM;
	if (len)
		memcpy(copy, resp, len);
	pthread_mutex_lock(&lx_lock);
	if (!c->deferred) {
		pthread_mutex_unlock(&lx_lock);
		free(copy);
		return -EINVAL;
	}
	c->deferred = false;
	if (c->owed_end) {
		c->enext = s->ended;
		s->ended = c;
		pthread_cond_signal(&s->cv);
	} else {
		free(c->resp);
		c->resp = copy;
		copy = NULL;
		c->resp_len = len;
		c->has_resp = true;
		pthread_cond_broadcast(&c->cv);
		if (c->has_req || c->bye)
			kick(c);
		conn_put(c);            /* the deferral's; the server still has one */
	}
	pthread_mutex_unlock(&lx_lock);
	free(copy);
	return 0;
}

static int lx_listen(const char *host, const char *port, const struct ms_xsrv_cbs *cbs,
		     struct ms_xsrv **out, char *err, size_t errlen)
{
	struct srv *s, *o;
	char *end;
	long p = strtol(port ? port : "", &end, 10);

	if (!err)
		errlen = 0;
	if (!host || !port || !*port || *end || p < 0 || p > 65535) {
		snprintf(err, errlen, "invalid port '%s'", port ? port : "(null)");
		return -EINVAL;
	}
	if (strcmp(host, LOOPX_HOST)) {
		snprintf(err, errlen, "cannot listen on %s:%s: not the loopback", host, port);
		return -EADDRNOTAVAIL;
	}
	if (!(s = calloc(1, sizeof(*s))) || !(s->scratch = malloc(MS_CTRL_MAX))) {
		free(s);
		return -ENOMEM;
	}
	pthread_mutex_lock(&lx_lock);
	for (o = listeners; o && !(p && o->pub.port == p); o = o->next)
		;
	if (o) {
		pthread_mutex_unlock(&lx_lock);
		snprintf(err, errlen, "cannot listen on %s:%s: Address already in use", host, port);
		free(s->scratch);
		free(s);
		return -EADDRINUSE;
	}
	s->pub = (struct ms_xsrv){ .ops = &ms_loopx_ops, .port = p ? (uint16_t)p : next_port++ };
	if (cbs)
		s->cbs = *cbs;
	s->next_key = 0x9e3779b97f4a7c15ull;
	pthread_cond_init(&s->cv, NULL);
	s->next = listeners;
	listeners = s;
	pthread_mutex_unlock(&lx_lock);
	*out = &s->pub;
	return 0;
}

static int lx_srv_reg_mr(struct ms_xsrv *x, void *addr, size_t len, unsigned access,
			 struct ms_xsmr **out, struct ms_rdesc *desc)
{
	struct srv *s = (struct srv *)x;
	struct ms_xsmr *m;

	if (!addr || !len || !access || (access & ~(MS_XACCESS_READ | MS_XACCESS_WRITE)) ||
	    !out || !desc || !(m = calloc(1, sizeof(*m))))
		return -EINVAL;
	m->addr = addr;
	m->len = len;
	m->access = access;
	pthread_mutex_lock(&lx_lock);
	s->next_key = s->next_key * 6364136223846793005ull + 1442695040888963407ull;
	m->key = s->next_key | 1;       /* never 0 */
	m->next = s->mrs;
	s->mrs = m;
	pthread_mutex_unlock(&lx_lock);
	*desc = (struct ms_rdesc){ .addr = (uintptr_t)addr, .len = len, .rkey = m->key };
	*out = m;
	return 0;
}

static void lx_srv_dereg_mr(struct ms_xsrv *x, struct ms_xsmr *mr)
{
	struct srv *s = (struct srv *)x;

	pthread_mutex_lock(&lx_lock);
	for (struct ms_xsmr **pp = &s->mrs; *pp; pp = &(*pp)->next) {
		if (*pp == mr) {
			*pp = mr->next;
			free(mr);
			break;
		}
	}
	pthread_mutex_unlock(&lx_lock);
}

static void lx_srv_mr_stats(struct ms_xsrv *x, struct ms_xsmr *mr, uint64_t *rd, uint64_t *wr)
{
	(void)x;
	pthread_mutex_lock(&lx_lock);
	if (rd)
		*rd = mr->rd;
	if (wr)
		*wr = mr->wr;
	pthread_mutex_unlock(&lx_lock);
}

static void lx_srv_close(struct ms_xsrv *x)
{
	struct srv *s = (struct srv *)x;

	if (!x)
		return;
	pthread_mutex_lock(&lx_lock);
	for (struct srv **pp = &listeners; *pp; pp = &(*pp)->next) {
		if (*pp == s) {
			*pp = s->next;
			break;
		}
	}
	while (s->work) {               /* connects that came after the stop */
		struct conn *c = s->work;

		s->work = c->wnext;
		c->st = C_DEAD;
		c->s = NULL;
		pthread_cond_broadcast(&c->cv);
		conn_put(c);
	}
	while (s->mrs) {
		struct ms_xsmr *m = s->mrs;

		s->mrs = m->next;
		free(m);
	}
	pthread_mutex_unlock(&lx_lock);
	pthread_cond_destroy(&s->cv);
	free(s->scratch);
	free(s);
}

const struct ms_transport_ops ms_loopx_ops = {
	.name = "loop",
	.connect = lx_connect,
	.reg_mr = lx_reg_mr,
	.dereg_mr = lx_dereg_mr,
	.post = lx_post,
	.poll = lx_poll,
	.outstanding = lx_outstanding,
	.call = lx_call,
	.close = lx_close,
	.listen = lx_listen,
	.srv_reg_mr = lx_srv_reg_mr,
	.srv_dereg_mr = lx_srv_dereg_mr,
	.srv_mr_stats = lx_srv_mr_stats,
	.srv_run = lx_srv_run,
	.srv_stop = lx_srv_stop,
	.srv_reply = lx_srv_reply,
	.srv_notify = lx_srv_notify,
	.srv_close = lx_srv_close,
};
