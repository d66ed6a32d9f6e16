/* SPDX-License-Identifier: Apache-2.0 */
/*
 * server_move.c - the source's side of a region migration (docs/protocol.md,
 * "Migration"; server_move.h).  The destination B, a client of this server
 * with the region open, drives it:
 *
 *  - FREEZE: commits of the region wait (parked by the commit worker, or a
 *    local ms_export_commit polling), they are not refused; FREEZE_OK is
 *    sent once no commit of the region is being applied (deferred through
 *    srv_reply when one is).  THAW, the freezer's connection ending or the
 *    freeze's time passing end it; the parked commits go on.
 *  - HANDOFF: the region is B's from epoch on.  The writer is fenced, the
 *    parked commits and every later request about the region are answered
 *    with MOVED; only B (its client id) may still read, and reopen it
 *    read-only, until MIGRATED.  A file region persists the redirect in
 *    FILE.msmoved before HANDOFF_OK.
 *  - MIGRATED: B has every chunk: the timer thread takes the export out
 *    of the list, frees its registrations and memory (the struct stays on
 *    the graveyard: handles left on it only get MOVED, or close) and keeps
 *    a tombstone (name -> host:port, epoch) for OPENs and STAT.
 *
 * No commit is applied after HANDOFF: the gate (ms_move_commit_enter) is
 * checked and counted under e->lock, and HANDOFF needs a freeze in force,
 * granted only once nothing is applying, and nothing applying at the end.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "region_store.h"
#include "server_move.h"

#define MOVE_TICK_MS 20
#define MOVE_BATCH 32

struct tomb {
	char name[MS_NAME_MAX + 1];
	char host[MS_HOST_MAX + 1];
	char port[MS_PORT_MAX + 1];
	uint64_t epoch;
	struct tomb *next;
};

struct move_srv {
	ms_server *s;
	pthread_t thread;
	pthread_mutex_t lock;         /* stop, tombs */
	pthread_cond_t cv;
	bool stop;
	struct tomb *tombs;
};

/* ------------------------------------------------------------- helpers */

static bool is_dest_locked(const struct ms_export *e, const struct peer *p)
{
	return memcmp(e->mv.dest_id, p->client_id, 16) == 0;
}

static int enc_moved_locked(const struct ms_export *e, void *resp, size_t cap)
{
	struct ms_msg_moved m = { .epoch = e->mv.epoch };

	snprintf(m.name, sizeof(m.name), "%s", e->mv.name);
	snprintf(m.host, sizeof(m.host), "%s", e->mv.host);
	snprintf(m.port, sizeof(m.port), "%s", e->mv.port);
	return ms_enc_moved(resp, cap, &m);
}

int ms_move_enc_moved(struct ms_export *e, void *resp, size_t cap)
{
	int ret;

	pthread_mutex_lock(&e->lock);
	ret = enc_moved_locked(e, resp, cap);
	pthread_mutex_unlock(&e->lock);
	return ret;
}

static void *timer_main(void *arg);

/* The server's move state and timer, started on first use. */
static struct move_srv *move_srv(ms_server *s)
{
	struct move_srv *m;
	pthread_condattr_t ca;

	pthread_mutex_lock(&s->wlock);
	m = s->mvs;
	if (!m && (m = calloc(1, sizeof(*m)))) {
		m->s = s;
		pthread_mutex_init(&m->lock, NULL);
		pthread_condattr_init(&ca);
		pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
		pthread_cond_init(&m->cv, &ca);
		pthread_condattr_destroy(&ca);
		if (pthread_create(&m->thread, NULL, timer_main, m)) {
			pthread_cond_destroy(&m->cv);
			pthread_mutex_destroy(&m->lock);
			free(m);
			m = NULL;
		}
		s->mvs = m;
	}
	pthread_mutex_unlock(&s->wlock);
	return m;
}

/* MOVED for a region that is only a tombstone here; 0 when none. */
static int tomb_moved(ms_server *s, const char *name, void *resp, size_t cap)
{
	struct move_srv *m = s->mvs;
	struct ms_msg_moved mv = { 0 };
	const struct tomb *t;

	if (!m)
		return 0;
	pthread_mutex_lock(&m->lock);
	for (t = m->tombs; t && strcmp(t->name, name) != 0; t = t->next)
		;
	if (t) {
		snprintf(mv.name, sizeof(mv.name), "%s", t->name);
		snprintf(mv.host, sizeof(mv.host), "%s", t->host);
		snprintf(mv.port, sizeof(mv.port), "%s", t->port);
		mv.epoch = t->epoch;
	}
	pthread_mutex_unlock(&m->lock);
	return t ? ms_enc_moved(resp, cap, &mv) : 0;
}

/* ------------------------------------------------------------- the gate */

int ms_move_commit_enter(struct ms_export *e)
{
	int ret;

	pthread_mutex_lock(&e->lock);
	ret = e->mv.moved ? -EREMCHG : e->mv.frozen ? 1 : 0;
	if (!ret)
		e->mv.applying++;            /* moved and frozen wait for 0 */
	pthread_mutex_unlock(&e->lock);
	return ret;
}

/* e->lock held: the FREEZE reply owed once nothing applies, into buf. */
static int freeze_reply_locked(struct ms_export *e, void *buf, size_t cap)
{
	struct ms_msg_freeze_ok ok = { .epoch = e->lease.epoch };

	if (!e->mv.frozen)
		return ms_enc_error(buf, cap, ETIMEDOUT,
				    "the freeze of '%s' lapsed while a commit was being applied",
				    e->mv.name);
	ok.generation = ms_region_generation(e->r);
	return ms_enc_freeze_ok(buf, cap, &ok);
}

void ms_move_commit_leave(struct ms_export *e)
{
	struct peer *f = NULL;
	char buf[512];
	int n = 0;

	pthread_mutex_lock(&e->lock);
	if (e->mv.applying)
		e->mv.applying--;
	if (!e->mv.applying && e->mv.freeze_reply) {
		e->mv.freeze_reply = false;
		f = e->mv.freezer;
		n = freeze_reply_locked(e, buf, sizeof(buf));
	}
	pthread_mutex_unlock(&e->lock);
	/* the freezer waits for this reply: it is still connected */
	if (f && f->l->ops->srv_reply(f->l->xs, f->xp, buf, n > 0 ? (size_t)n : 0))
		ms_srv_log(e->srv, MS_LOG_ERROR, "cannot queue a FREEZE reply; peer dropped");
}

int ms_move_local_enter(struct ms_export *e)
{
	struct timespec ts = { 0, 1000000L };

	for (;;) {
		int ret = ms_move_commit_enter(e);

		if (ret <= 0)
			return ret;
		/* frozen: the freeze ends by THAW, HANDOFF or its time (at
		 * most MS_FREEZE_MAX_MS, lapsed by the timer) */
		nanosleep(&ts, NULL);
	}
}

static bool flag(struct ms_export *e, const bool *f)
{
	bool v;

	pthread_mutex_lock(&e->lock);
	v = *f;
	pthread_mutex_unlock(&e->lock);
	return v;
}

bool ms_move_frozen(struct ms_export *e)
{
	return flag(e, &e->mv.frozen);
}

bool ms_move_reaped(struct ms_export *e)
{
	return flag(e, &e->mv.reaped);
}

/* ------------------------------------------------------------ redirects */

static bool dest_may(int type)
{
	switch (type) {
	case MS_MSG_HOT: case MS_MSG_TOUCH: case MS_MSG_HOLD: case MS_MSG_RELEASE:
	case MS_MSG_MIGRATED: case MS_MSG_HANDOFF: case MS_MSG_THAW:
		return true;
	default:
		return false;
	}
}

static bool by_handle(int type)
{
	switch (type) {
	case MS_MSG_COMMIT: case MS_MSG_HOT: case MS_MSG_TOUCH: case MS_MSG_STAGE:
	case MS_MSG_RENEW: case MS_MSG_HANDOVER: case MS_MSG_HOLD: case MS_MSG_RELEASE:
	case MS_MSG_FREEZE: case MS_MSG_THAW: case MS_MSG_HANDOFF: case MS_MSG_MIGRATED:
		return true;
	default:
		return false;
	}
}

/* Every request about e, moved: MOVED, but what its destination may do. */
static int redirect_export(struct ms_export *e, struct peer *p, int type, bool read_open,
			   void *resp, size_t cap)
{
	int ret = 0;

	pthread_mutex_lock(&e->lock);
	if (e->mv.moved) {
		bool dest = is_dest_locked(e, p);

		if (type == MS_MSG_MIGRATED && dest)
			ret = 0;
		else if (e->mv.released)
			ret = enc_moved_locked(e, resp, cap);
		else if (dest && (dest_may(type) || (type == MS_MSG_OPEN && read_open)))
			ret = 0;
		else
			ret = enc_moved_locked(e, resp, cap);
	}
	pthread_mutex_unlock(&e->lock);
	return ret;
}

int ms_move_redirect(ms_server *s, struct peer *p, int type, const void *req, size_t len,
		     void *resp, size_t cap)
{
	char name[MS_NAME_MAX + 1];
	struct ms_export *e;
	bool read_open = false;

	if (by_handle(type)) {
		/* every one of them starts with its u32 handle (proto.h) */
		const uint8_t *b = req;
		uint32_t h;
		struct open_slot *o;

		if (len < 8)
			return 0;           /* the handler says it is malformed */
		h = (uint32_t)b[4] | (uint32_t)b[5] << 8 | (uint32_t)b[6] << 16 |
		    (uint32_t)b[7] << 24;
		o = ms_srv_slot(p, h);
		return o ? redirect_export(o->e, p, type, false, resp, cap) : 0;
	}
	if (type == MS_MSG_OPEN) {
		struct ms_msg_open m;

		if (ms_dec_open(req, len, &m))
			return 0;
		snprintf(name, sizeof(name), "%s", m.name);
		read_open = m.mode == MS_MODE_READ;
	} else if (type == MS_MSG_LEASE || type == MS_MSG_LEASE_BREAK) {
		if (ms_dec_lease(req, len, (enum ms_msg_type)type, name))
			return 0;
	} else {
		return 0;
	}
	e = ms_srv_find(s, name);
	if (e)
		return redirect_export(e, p, type, read_open, resp, cap);
	return tomb_moved(s, name, resp, cap);
}

/* ------------------------------------------------------------- handlers */

static struct ms_export *slot_export(struct peer *p, uint32_t handle)
{
	return ms_srv_slot(p, handle) ? p->opens[handle].e : NULL;
}

int ms_move_h_freeze(ms_server *s, struct peer *p, const void *req, size_t len, void *resp,
		     size_t cap)
{
	struct ms_msg_freeze m;
	struct ms_export *e;
	int ret = 0;

	if (ms_dec_freeze(req, len, &m))
		return ms_enc_error(resp, cap, EBADMSG, "malformed FREEZE (ms must be 1..%u)",
				    MS_FREEZE_MAX_MS);
	e = slot_export(p, m.handle);
	if (!e)
		return ms_enc_error(resp, cap, EBADF, "no open region with handle %u", m.handle);
	if (!move_srv(s))
		return ms_enc_error(resp, cap, ENOMEM, "cannot start the migration timer");
	pthread_mutex_lock(&e->lock);
	if (e->mv.frozen && e->mv.freezer != p)
		ret = ms_enc_error(resp, cap, EBUSY, "'%s' is frozen by %s already", e->r->name,
				   e->mv.freezer->xp->name);
	else if (e->lease.holder == p)
		ret = ms_enc_error(resp, cap, EDEADLK,
				   "the writer of '%s' cannot freeze it (its commits would wait "
				   "for itself)", e->r->name);
	else if (e->mv.applying && !p->l->ops->srv_reply)
		ret = ms_enc_error(resp, cap, EAGAIN, "a commit of '%s' is being applied; retry",
				   e->r->name);
	if (ret) {
		pthread_mutex_unlock(&e->lock);
		return ret;
	}
	e->mv.frozen = true;
	e->mv.freezer = p;
	e->mv.frozen_until_ns = ms_srv_now_ns() + (uint64_t)m.ms * 1000000u;
	memcpy(e->mv.dest_id, p->client_id, 16);
	snprintf(e->mv.name, sizeof(e->mv.name), "%s", e->r->name);
	if (e->mv.applying) {
		e->mv.freeze_reply = true;     /* ms_move_commit_leave answers */
		ret = MS_MOVE_LATER;
	} else {
		ret = freeze_reply_locked(e, resp, cap);
	}
	pthread_mutex_unlock(&e->lock);
	ms_srv_log(s, MS_LOG_INFO, "'%s' frozen for %u ms by %s (migration)%s", e->mv.name,
		   m.ms, p->xp->name, ret == MS_MOVE_LATER ? "; a commit is being applied" : "");
	return ret;
}

/* End e's freeze (e->lock held): true if it was frozen. */
static bool unfreeze_locked(struct ms_export *e)
{
	bool was = e->mv.frozen;

	e->mv.frozen = false;
	e->mv.freezer = NULL;
	return was;
}

int ms_move_h_thaw(ms_server *s, struct peer *p, const void *req, size_t len, void *resp,
		   size_t cap)
{
	struct ms_export *e;
	uint32_t h;
	int ret = 0;

	if (ms_dec_mighandle(req, len, MS_MSG_THAW, &h))
		return ms_enc_error(resp, cap, EBADMSG, "malformed THAW");
	e = slot_export(p, h);
	if (!e)
		return ms_enc_error(resp, cap, EBADF, "no open region with handle %u", h);
	pthread_mutex_lock(&e->lock);
	if (e->mv.moved)
		ret = ms_enc_error(resp, cap, EINVAL, "'%s' was handed off already: no thaw",
				   e->mv.name);
	else if (!e->mv.frozen)
		ret = ms_enc_error(resp, cap, EINVAL, "'%s' is not frozen", e->r->name);
	else if (e->mv.freezer != p)
		ret = ms_enc_error(resp, cap, EPERM, "'%s' was frozen by another connection",
				   e->r->name);
	else
		unfreeze_locked(e);
	pthread_mutex_unlock(&e->lock);
	if (ret)
		return ret;
	ms_srv_log(s, MS_LOG_INFO, "'%s' thawed by %s: its commits go on", e->mv.name,
		   p->xp->name);
	ms_srv_work_unpark(s, e);
	return ms_enc_empty(resp, cap, MS_MSG_THAW_OK);
}

/* e->lock held: why p may not hand e off at epoch, or 0. */
static int handoff_refused_locked(struct ms_export *e, struct peer *p, uint64_t epoch,
				  void *resp, size_t cap)
{
	if (e->mv.moved)
		return ms_enc_error(resp, cap, EALREADY, "'%s' was handed off already to %s:%s",
				    e->mv.name, e->mv.host, e->mv.port);
	if (!e->mv.frozen)
		return ms_enc_error(resp, cap, EINVAL,
				    "'%s' is not frozen: FREEZE it before the handoff", e->r->name);
	if (e->mv.freezer != p)
		return ms_enc_error(resp, cap, EPERM,
				    "only the connection that froze '%s' may hand it off",
				    e->r->name);
	if (epoch <= e->lease.epoch)
		return ms_enc_error(resp, cap, ESTALE,
				    "handoff epoch %llu of '%s' is not above the last epoch "
				    "granted here (%llu)", (unsigned long long)epoch, e->r->name,
				    (unsigned long long)e->lease.epoch);
	return 0;
}

int ms_move_h_handoff(ms_server *s, struct peer *p, const void *req, size_t len, void *resp,
		      size_t cap)
{
	struct ms_rstore_moved pm = { 0 };
	struct ms_msg_handoff m;
	struct ms_msg_gen g;
	struct ms_export *e;
	char by[MS_HOST_MAX + MS_PORT_MAX + 32];
	const char *path;
	int ret;

	if (ms_dec_handoff(req, len, &m))
		return ms_enc_error(resp, cap, EBADMSG, "malformed HANDOFF");
	e = slot_export(p, m.handle);
	if (!e)
		return ms_enc_error(resp, cap, EBADF, "no open region with handle %u", m.handle);
	path = e->r->path;
	pthread_mutex_lock(&e->lock);
	ret = handoff_refused_locked(e, p, m.epoch, resp, cap);
	pthread_mutex_unlock(&e->lock);
	if (ret)
		return ret;
	/* a file region's redirect is durable before anyone is told */
	if (path) {
		snprintf(pm.host, sizeof(pm.host), "%s", m.host);
		snprintf(pm.port, sizeof(pm.port), "%s", m.port);
		pm.epoch = m.epoch;
		memcpy(pm.dest_id, p->client_id, 16);
		ret = ms_rstore_moved_save(path, &pm);
		if (ret) {
			ms_srv_log(s, MS_LOG_ERROR, "'%s': cannot write %s" MS_RSTORE_MOVED_SUFFIX
				   ": %s; not handed off", e->r->name, path, strerror(-ret));
			return ms_enc_error(resp, cap, -ret, "cannot persist the redirect of '%s' "
					    "(%s" MS_RSTORE_MOVED_SUFFIX "): %s; not handed off",
					    e->r->name, path, strerror(-ret));
		}
	}
	pthread_mutex_lock(&e->lock);
	/* the freeze may have lapsed while the file was written: then commits
	 * went on here, which the destination does not have */
	if (!e->mv.frozen || e->mv.freezer != p || e->mv.applying) {
		pthread_mutex_unlock(&e->lock);
		if (path)
			ms_rstore_moved_drop(path);
		return ms_enc_error(resp, cap, ETIMEDOUT, "the freeze of '%s' lapsed before "
				    "the handoff: not handed off", e->r->name);
	}
	e->mv.moved = true;
	e->mv.epoch = m.epoch;
	snprintf(e->mv.host, sizeof(e->mv.host), "%s", m.host);
	snprintf(e->mv.port, sizeof(e->mv.port), "%s", m.port);
	unfreeze_locked(e);
	e->lease.reserved = false;
	g.generation = ms_region_generation(e->r);
	pthread_mutex_unlock(&e->lock);
	/* nothing applies (frozen, then moved): the writer's access goes now,
	 * logged "was handed over by migration to HOST:PORT" */
	snprintf(by, sizeof(by), "migration to %s:%s", m.host, m.port);
	ms_lease_fence(e, FENCE_HANDED_OVER, by);
	ms_srv_log(s, MS_LOG_INFO, "'%s' moved to %s:%s (epoch %llu, generation %llu here): "
		   "redirecting its clients", e->mv.name, m.host, m.port,
		   (unsigned long long)m.epoch, (unsigned long long)g.generation);
	ms_srv_work_unpark(s, e);      /* the parked commits get MOVED */
	return ms_enc_gen(resp, cap, MS_MSG_HANDOFF_OK, &g);
}

int ms_move_h_migrated(ms_server *s, struct peer *p, const void *req, size_t len,
		       void *resp, size_t cap)
{
	struct ms_rstore_moved pm = { .released = true };
	struct ms_export *e;
	bool first = false;
	uint32_t h;
	int ret = 0;

	if (ms_dec_mighandle(req, len, MS_MSG_MIGRATED, &h))
		return ms_enc_error(resp, cap, EBADMSG, "malformed MIGRATED");
	e = slot_export(p, h);
	if (!e)
		return ms_enc_error(resp, cap, EBADF, "no open region with handle %u", h);
	pthread_mutex_lock(&e->lock);
	if (!e->mv.moved)
		ret = ms_enc_error(resp, cap, EINVAL, "'%s' was not handed off: nothing to "
				   "release", e->r->name);
	else if (!is_dest_locked(e, p))
		ret = ms_enc_error(resp, cap, EPERM, "only the destination of '%s' may say "
				   "it has it all", e->mv.name);
	else if (!e->mv.released)
		first = e->mv.released = true;
	snprintf(pm.host, sizeof(pm.host), "%s", e->mv.host);
	snprintf(pm.port, sizeof(pm.port), "%s", e->mv.port);
	pm.epoch = e->mv.epoch;
	memcpy(pm.dest_id, e->mv.dest_id, 16);
	pthread_mutex_unlock(&e->lock);
	if (ret)
		return ret;
	if (first) {
		/* e->r stays until the timer reaps it, after this handler */
		if (e->r->path && (ret = ms_rstore_moved_save(e->r->path, &pm)) != 0)
			ms_srv_log(s, MS_LOG_ERROR, "'%s': cannot mark %s" MS_RSTORE_MOVED_SUFFIX
				   " released: %s (it stays readable by the destination "
				   "after a restart)", e->mv.name, e->r->path, strerror(-ret));
		ms_srv_log(s, MS_LOG_INFO, "'%s' migrated to %s:%s: releasing it here",
			   e->mv.name, pm.host, pm.port);
		move_srv(s);
	}
	return ms_enc_empty(resp, cap, MS_MSG_MIGRATED_OK);
}

/* ------------------------------------------------------- timer, release */

/* Take released e out of the list, free its memory, keep a tombstone. */
static void reap(ms_server *s, struct move_srv *m, struct ms_export *e)
{
	struct tomb *t = calloc(1, sizeof(*t));
	struct ms_export **pp;
	struct ms_rregion *r;
	bool found = false;

	if (!t)
		return;                     /* the next tick tries again */
	pthread_mutex_lock(&e->lock);
	snprintf(t->name, sizeof(t->name), "%s", e->mv.name);
	snprintf(t->host, sizeof(t->host), "%s", e->mv.host);
	snprintf(t->port, sizeof(t->port), "%s", e->mv.port);
	t->epoch = e->mv.epoch;
	pthread_mutex_unlock(&e->lock);
	/* the tombstone first: an OPEN finds the export or the tombstone */
	pthread_mutex_lock(&m->lock);
	t->next = m->tombs;
	m->tombs = t;
	pthread_mutex_unlock(&m->lock);
	pthread_mutex_lock(&s->ulock);      /* vs ms_server_unexport */
	pthread_mutex_lock(&s->lock);
	for (pp = &s->exports; *pp && *pp != e; pp = &(*pp)->next)
		;
	if (*pp) {
		*pp = e->next;
		e->grave_next = s->graveyard;
		s->graveyard = e;
		found = true;
	}
	pthread_mutex_unlock(&s->lock);
	if (!found) {                       /* ms_server_unexport took it */
		pthread_mutex_unlock(&s->ulock);
		return;
	}
	/* every handler that found e has returned; later ones see released
	 * and answer MOVED without touching e->r */
	pthread_rwlock_wrlock(&s->gp);
	pthread_rwlock_unlock(&s->gp);
	for (unsigned i = 0; i < s->nl; i++) {
		if (e->reg[i].meta_mr)
			s->l[i].ops->srv_dereg_mr(s->l[i].xs, e->reg[i].meta_mr);
		if (e->reg[i].data_mr)
			s->l[i].ops->srv_dereg_mr(s->l[i].xs, e->reg[i].data_mr);
		e->reg[i] = (struct xreg){ 0 };
	}
	ms_lease_pool_free(e);
	pthread_mutex_lock(&e->lock);
	r = e->r;
	e->r = NULL;
	e->mv.reaped = true;
	free(e->lease.more);
	e->lease.more = NULL;
	e->lease.nmore = e->lease.capmore = 0;
	pthread_mutex_unlock(&e->lock);
	ms_region_destroy(r);
	pthread_mutex_unlock(&s->ulock);
	ms_srv_log(s, MS_LOG_INFO, "'%s': memory released; a tombstone redirects to %s:%s",
		   t->name, t->host, t->port);
}

static void tick(struct move_srv *m)
{
	ms_server *s = m->s;
	struct ms_export *lapsed[MOVE_BATCH], *rel[MOVE_BATCH];
	size_t nl = 0, nr = 0;
	uint64_t now = ms_srv_now_ns();

	pthread_rwlock_rdlock(&s->gp);
	for (struct ms_export *e = ms_srv_next(s, NULL); e; e = ms_srv_next(s, e)) {
		pthread_mutex_lock(&e->lock);
		if (e->mv.frozen && now > e->mv.frozen_until_ns && nl < MOVE_BATCH) {
			unfreeze_locked(e);
			lapsed[nl++] = e;
		}
		if (e->mv.released && !e->mv.reaped && nr < MOVE_BATCH)
			rel[nr++] = e;
		pthread_mutex_unlock(&e->lock);
	}
	pthread_rwlock_unlock(&s->gp);
	/* exports leave the list only by ms_server_unexport (idle ones: not
	 * frozen by a client that has them open) or reap (here) */
	for (size_t i = 0; i < nl; i++) {
		ms_srv_log(s, MS_LOG_WARN, "'%s': the migration's freeze lapsed without a "
			   "handoff: its commits go on", lapsed[i]->mv.name);
		ms_srv_work_unpark(s, lapsed[i]);
	}
	for (size_t i = 0; i < nr; i++)
		reap(s, m, rel[i]);
}

static void *timer_main(void *arg)
{
	struct move_srv *m = arg;
	struct timespec ts;

	pthread_mutex_lock(&m->lock);
	while (!m->stop) {
		clock_gettime(CLOCK_MONOTONIC, &ts);
		ts.tv_nsec += MOVE_TICK_MS * 1000000L;
		if (ts.tv_nsec >= 1000000000L) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000L;
		}
		pthread_cond_timedwait(&m->cv, &m->lock, &ts);
		if (m->stop)
			break;
		pthread_mutex_unlock(&m->lock);
		tick(m);
		pthread_mutex_lock(&m->lock);
	}
	pthread_mutex_unlock(&m->lock);
	return NULL;
}

/* ------------------------------------------------- peers, stat, start */

/* End the freezes held by p (by anyone: NULL); their commits go on. */
static void unfreeze_all(ms_server *s, struct peer *p)
{
	struct ms_export *done[MOVE_BATCH];
	size_t n;

	if (!s->mvs)
		return;                     /* nothing was ever frozen */
	do {
		n = 0;
		pthread_rwlock_rdlock(&s->gp);
		for (struct ms_export *e = ms_srv_next(s, NULL); e && n < MOVE_BATCH;
		     e = ms_srv_next(s, e)) {
			pthread_mutex_lock(&e->lock);
			if ((!p || e->mv.freezer == p) && unfreeze_locked(e))
				done[n++] = e;
			pthread_mutex_unlock(&e->lock);
		}
		pthread_rwlock_unlock(&s->gp);
		for (size_t i = 0; i < n; i++) {
			if (p)
				ms_srv_log(s, MS_LOG_WARN, "'%s': the migration's destination %s "
					   "went away before the handoff: its commits go on",
					   done[i]->mv.name, p->xp->name);
			ms_srv_work_unpark(s, done[i]);
		}
	} while (n == MOVE_BATCH);
}

void ms_move_peer_gone(ms_server *s, struct peer *p)
{
	unfreeze_all(s, p);
}

void ms_move_fill_stat(struct ms_export *e, struct ms_region_stat *st)
{
	pthread_mutex_lock(&e->lock);
	if (e->mv.moved)
		snprintf(st->moved_to, sizeof(st->moved_to), "%s:%s", e->mv.host, e->mv.port);
	pthread_mutex_unlock(&e->lock);
}

int ms_move_tomb_stats(ms_server *s, const char *name, struct ms_region_stat **st,
		       size_t *cnt, size_t *cap)
{
	struct move_srv *m = s->mvs;
	int ret = 0;

	if (!m)
		return 0;
	pthread_mutex_lock(&m->lock);
	for (const struct tomb *t = m->tombs; t && !ret; t = t->next) {
		struct ms_region_stat *x;

		if (*name && strcmp(t->name, name) != 0)
			continue;
		if (*cnt == *cap) {
			size_t nc = *cap ? 2 * *cap : 8;

			x = realloc(*st, nc * sizeof(*x));
			if (!x) {
				ret = -ENOMEM;
				break;
			}
			*st = x;
			*cap = nc;
		}
		x = &(*st)[(*cnt)++];
		memset(x, 0, sizeof(*x));
		snprintf(x->name, sizeof(x->name), "%s", t->name);
		snprintf(x->moved_to, sizeof(x->moved_to), "%s:%s", t->host, t->port);
		x->lease.epoch = t->epoch - 1;   /* the last one granted here */
		x->lease.expires_ms = -1;
		x->migrate_phase = MS_MIGRATE_DONE;
	}
	pthread_mutex_unlock(&m->lock);
	return ret;
}

void ms_move_loaded(ms_server *s, struct ms_export *e)
{
	struct move_srv *m = s->mvs;
	struct ms_rstore_moved pm;
	int ret;

	/* a region of a name that moved away is back (migrated here again):
	 * its tombstone goes */
	if (m) {
		pthread_mutex_lock(&m->lock);
		for (struct tomb **tp = &m->tombs, *t; (t = *tp) != NULL; tp = &t->next)
			if (strcmp(t->name, e->r->name) == 0) {
				*tp = t->next;
				free(t);
				break;
			}
		pthread_mutex_unlock(&m->lock);
	}
	if (!e->r->path)
		return;
	ret = ms_rstore_moved_load(e->r->path, &pm);
	if (ret == -ENOENT)
		return;
	if (ret) {
		ms_srv_log(s, MS_LOG_ERROR, "region '%s': %s" MS_RSTORE_MOVED_SUFFIX " is not "
			   "valid (%s): ignored, the region is served here", e->r->name,
			   e->r->path, strerror(-ret));
		return;
	}
	e->mv.moved = true;
	e->mv.released = pm.released;
	e->mv.epoch = pm.epoch;
	memcpy(e->mv.dest_id, pm.dest_id, 16);
	snprintf(e->mv.host, sizeof(e->mv.host), "%s", pm.host);
	snprintf(e->mv.port, sizeof(e->mv.port), "%s", pm.port);
	snprintf(e->mv.name, sizeof(e->mv.name), "%s", e->r->name);
	ms_srv_log(s, MS_LOG_INFO, "region '%s' moved to %s:%s (epoch %llu) before this start "
		   "(%s" MS_RSTORE_MOVED_SUFFIX "): serving only redirects%s", e->r->name,
		   pm.host, pm.port, (unsigned long long)pm.epoch, e->r->path,
		   pm.released ? "" : " and the destination's reads");
	if (pm.released)
		move_srv(s);                /* reaps it */
}

void ms_move_stop(ms_server *s)
{
	unfreeze_all(s, NULL);
}

void ms_move_fini(ms_server *s)
{
	struct move_srv *m = s->mvs;

	if (!m)
		return;
	pthread_mutex_lock(&m->lock);
	m->stop = true;
	pthread_cond_signal(&m->cv);
	pthread_mutex_unlock(&m->lock);
	pthread_join(m->thread, NULL);
	while (m->tombs) {
		struct tomb *t = m->tombs;

		m->tombs = t->next;
		free(t);
	}
	pthread_cond_destroy(&m->cv);
	pthread_mutex_destroy(&m->lock);
	free(m);
	s->mvs = NULL;
}
