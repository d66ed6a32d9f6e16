/* SPDX-License-Identifier: Apache-2.0 */
/*
 * server_work.c - the server's commit worker: one thread that verifies
 * and publishes remote COMMITs off the listeners' loop threads, so that a
 * large commit does not hold up other peers' STATs and pulls
 * (server_int.h has the rules; transport.h the reply-later contract).
 *
 * Jobs run one at a time in arrival order; each holds only what
 * ms_region_commit() takes (that region's lock) and, briefly, its export's
 * lock for the counters.  Every queued job is answered with srv_reply
 * exactly once, which ends the worker's use of the peer.
 */
#include <errno.h>
#include <stdio.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "server_int.h"
#include "server_move.h"

/* ------------------------------------------------------------ commits */

/* The reply to a refused commit (ret from ms_region_commit). */
static int refused(ms_server *s, struct peer *p, struct ms_rregion *r,
		   const struct ms_commit_ent *all, const struct ms_rcommit_res *res, int ret,
		   void *resp, size_t cap)
{
	const struct ms_commit_ent *b = &all[res->bad];
	unsigned long long off = b->off, len = b->len, soff = b->soff;

	switch (ret) {
	case -EINVAL:   /* a malformed ZERO entry (proto.h) */
		return ms_enc_error(resp, cap, EINVAL,
				    "commit refused, nothing changed: entry [%llu, +%llu) of '%s' is "
				    "flagged ZERO but is not one whole chunk with nothing staged",
				    off, len, r->name);
	case -EIO:
		if (b->flags & MS_COMMIT_F_ZERO)
			return ms_enc_error(resp, cap, EIO,
					    "commit refused, nothing changed: entry [%llu, +%llu) of "
					    "'%s' is flagged ZERO but its hash is not the zero hash",
					    off, len, r->name);
		ms_srv_log(s, MS_LOG_WARN,
			   "%s: commit to '%s' refused: [%llu, +%llu) does not match its hash",
			   p->xp->name, r->name, off, len);
		return ms_enc_error(resp, cap, EIO,
				    "commit refused: bytes [%llu, +%llu) of '%s' do not match the "
				    "writer's hash (corrupted or overwritten in flight)",
				    off, len, r->name);
	case -ERANGE:
		return ms_enc_error(resp, cap, ERANGE,
				    "commit range [%llu, +%llu) is outside '%s' (%llu bytes)", off,
				    len, r->name, (unsigned long long)r->size);
	case -EFAULT:
		return ms_enc_error(resp, cap, EFAULT,
				    "commit range [%llu, +%llu) of '%s' names staged bytes at %llu "
				    "outside the writer's staging areas", off, len, r->name, soff);
	default:
		if (res->journal_err) {
			ms_srv_log(s, MS_LOG_ERROR, "%s: commit to '%s' refused: %s", p->xp->name,
				   r->name, ms_rstore_errmsg(r->store));
			return ms_enc_error(resp, cap, -ret,
					    "commit to '%s' refused, nothing changed: %s", r->name,
					    ms_rstore_errmsg(r->store));
		}
		return ms_enc_error(resp, cap, -ret, "commit to '%s' failed: %s", r->name,
				    strerror(-ret));
	}
}

/* -E2BIG when the n entries name more bytes than one commit can carry. */
static int too_big(const struct ms_export *e, const struct ms_commit_ent *all, uint32_t n,
		   char *msg, size_t msglen)
{
	uint64_t limit = e->mode == MS_COMMIT_ATOMIC ? e->stage_limit : e->r->size, total = 0;

	for (uint32_t i = 0; i < n; i++) {
		if (e->mode == MS_COMMIT_ATOMIC && (all[i].flags & MS_COMMIT_F_ZERO))
			continue;        /* nothing staged */
		if (all[i].len > limit - total) {
			snprintf(msg, msglen, "a commit of more than %llu bytes to '%s' (its %s): "
				 "refused, nothing changed", (unsigned long long)limit, e->r->name,
				 e->mode == MS_COMMIT_ATOMIC ? "staging limit" : "size");
			return -E2BIG;
		}
		total += all[i].len;
	}
	return 0;
}

static int apply(ms_server *s, struct peer *p, const struct ms_msg_commit *mc,
		 struct open_slot *o, void *resp, size_t cap)
{
	const struct ms_commit_ent *all = NULL;
	struct ms_msg_commit m = *mc;
	struct ms_msg_gen g = { 0 };
	struct ms_rcommit_res res;
	struct ms_stage_src src;
	struct ms_export *e = o->e;
	struct ms_rregion *r = e->r;
	char msg[MS_ERRMSG_MAX + 1];
	uint32_t n = 0;
	int ret;

	if (o->mode != MS_MODE_WRITE)
		return ms_enc_error(resp, cap, EACCES, "commit to '%s' without its write lease",
				    r->name);
	/* the lease is p's to give up, and p's on_disconnect waits for the
	 * end of this commit (server_int.h); a fence waits for its apply */
	ret = ms_lease_apply_begin(e, p, m.epoch, m.ents, m.n, m.flags & MS_COMMITMSG_MORE, &all,
				   &n, msg, sizeof(msg));
	if (ret == 1)                    /* MORE: stored, answered at once */
		return ms_enc_gen(resp, cap, MS_MSG_COMMIT_OK, &g);
	if (ret < 0) {
		if (ret == -ESTALE)
			ms_srv_log(s, MS_LOG_WARN, "%s: commit refused: %s", p->xp->name, msg);
		return ms_enc_error(resp, cap, -ret, "%s", msg);
	}
	/* cheap to refuse before any byte is hashed: the entries together
	 * name at most the staging limit (atomic) or the region (direct) */
	ret = too_big(e, all, n, msg, sizeof(msg));
	if (ret) {
		ms_lease_apply_end(e, false);
		return ms_enc_error(resp, cap, -ret, "%s", msg);
	}
	/* a region migrating in: its chunks must be here first */
	ret = ms_mig_ensure(e, all, n, msg, sizeof(msg));
	if (ret) {
		ms_lease_apply_end(e, false);
		return ms_enc_error(resp, cap, -ret, "%s", msg);
	}
	src = ms_lease_stage_src(e);
	ret = ms_region_commit(r, all, n, e->mode == MS_COMMIT_ATOMIC ? &src : NULL, &res);
	if (ret) {
		int rl = refused(s, p, r, all, &res, ret, resp, cap);

		ms_lease_apply_end(e, false);
		return rl;
	}
	ms_lease_apply_end(e, true);
	pthread_mutex_lock(&e->lock);
	e->bytes_committed += res.bytes;
	e->commits++;
	pthread_mutex_unlock(&e->lock);
	if (res.sync_err) {
		ms_srv_log(s, MS_LOG_ERROR, "'%s': writing generation %llu back to %s failed: %s",
			   r->name, (unsigned long long)res.generation, r->path ? r->path : "?",
			   strerror(-res.sync_err));
		return ms_enc_error(resp, cap, -res.sync_err,
				    "commit to '%s' is not durable: writing it back to its file "
				    "failed: %s", r->name, strerror(-res.sync_err));
	}
	g.generation = res.generation;
	ms_srv_log(s, MS_LOG_DEBUG, "%s: commit of %u range(s) to '%s': generation %llu",
		   p->xp->name, n, r->name, (unsigned long long)g.generation);
	return ms_enc_gen(resp, cap, MS_MSG_COMMIT_OK, &g);
}

int ms_srv_commit(ms_server *s, struct peer *p, const void *req, size_t len, void *resp,
		  size_t cap, struct ms_commit_ent *ents)
{
	struct ms_msg_commit m;
	struct open_slot *o;
	int ret;

	ret = ms_dec_commit(req, len, &m, ents, MS_COMMIT_MAX_ENTS);
	if (ret)
		return ms_enc_error(resp, cap, -ret, "malformed COMMIT");
	o = ms_srv_slot(p, m.handle);
	if (!o)
		return ms_enc_error(resp, cap, EBADF, "no open region with handle %u", m.handle);
	/* a frozen region's commit waits (parked); a moved one's goes there */
	ret = ms_move_commit_enter(o->e);
	if (ret == 1)
		return MS_MOVE_LATER;
	if (ret < 0)
		return ms_move_enc_moved(o->e, resp, cap);
	ret = apply(s, p, &m, o, resp, cap);
	ms_move_commit_leave(o->e);
	return ret;
}

#define RESP_CAP 4096         /* a COMMIT's reply: a generation or an error */

struct job {
	struct job *next;
	struct peer *p;
	struct ms_export *e;          /* parked: the frozen region */
	size_t len;
	char req[];
};

struct srv_worker {
	ms_server *srv;
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t cv;
	struct job *head, **tail;
	struct job *parked;           /* commits of frozen regions, in order */
	bool stop;
	/* the worker thread's own decode and reply storage */
	struct ms_commit_ent *ents;
	char resp[RESP_CAP];
};

/* Park j (its region is frozen) until ms_srv_work_unpark. */
static void park(struct srv_worker *w, struct job *j)
{
	struct ms_msg_commit m;
	struct open_slot *o;
	struct job **pp;

	/* decoded once already: the handle names an open slot of p */
	ms_dec_commit(j->req, j->len, &m, w->ents, MS_COMMIT_MAX_ENTS);
	o = ms_srv_slot(j->p, m.handle);
	j->e = o->e;
	j->next = NULL;
	pthread_mutex_lock(&w->lock);
	for (pp = &w->parked; *pp; pp = &(*pp)->next)
		;
	*pp = j;
	pthread_mutex_unlock(&w->lock);
	/* thawed between the gate and here: nobody else unparks it */
	if (!ms_move_frozen(j->e))
		ms_srv_work_unpark(w->srv, j->e);
}

void ms_srv_work_unpark(ms_server *s, struct ms_export *e)
{
	struct srv_worker *w;
	struct job **pp, *j;
	bool any = false;

	pthread_mutex_lock(&s->wlock);
	w = s->worker;
	pthread_mutex_unlock(&s->wlock);
	if (!w)
		return;
	pthread_mutex_lock(&w->lock);
	for (pp = &w->parked; (j = *pp) != NULL; ) {
		if (j->e != e) {
			pp = &j->next;
			continue;
		}
		*pp = j->next;
		j->next = NULL;
		*w->tail = j;
		w->tail = &j->next;
		any = true;
	}
	if (any)
		pthread_cond_signal(&w->cv);
	pthread_mutex_unlock(&w->lock);
}

/* false when j was parked (kept), true when answered (to free) */
static bool run_job(struct srv_worker *w, struct job *j)
{
	struct peer *p = j->p;
	int ret;

	ret = ms_srv_commit(w->srv, p, j->req, j->len, w->resp, sizeof(w->resp), w->ents);
	if (ret == MS_MOVE_LATER) {
		park(w, j);
		return false;
	}
	if (ret < 0)
		ret = ms_enc_error(w->resp, sizeof(w->resp), -ret, "commit reply failed: %s",
				   strerror(-ret));
	if (ret < 0)
		ret = 0;      /* cannot happen with RESP_CAP; an empty reply is refused */
	/* The last use of p: after this its on_disconnect may run. */
	if (p->l->ops->srv_reply(p->l->xs, p->xp, w->resp, (size_t)ret))
		ms_srv_log(w->srv, MS_LOG_ERROR, "cannot queue a commit reply; peer dropped");
	return true;
}

static void *worker_main(void *arg)
{
	struct srv_worker *w = arg;
	struct job *j;

	pthread_mutex_lock(&w->lock);
	for (;;) {
		while (!w->head && !w->stop)
			pthread_cond_wait(&w->cv, &w->lock);
		if (!(j = w->head))
			break;
		w->head = j->next;
		if (!w->head)
			w->tail = &w->head;
		pthread_mutex_unlock(&w->lock);
		if (run_job(w, j))
			free(j);
		pthread_mutex_lock(&w->lock);
	}
	pthread_mutex_unlock(&w->lock);
	return NULL;
}

static void worker_free(struct srv_worker *w)
{
	pthread_cond_destroy(&w->cv);
	pthread_mutex_destroy(&w->lock);
	free(w->ents);
	free(w);
}

/* The worker, started on first use (s->wlock held). */
static struct srv_worker *worker_get(ms_server *s)
{
	struct srv_worker *w = s->worker;

	if (w)
		return w;
	w = calloc(1, sizeof(*w));
	if (!w)
		return NULL;
	w->srv = s;
	w->tail = &w->head;
	pthread_mutex_init(&w->lock, NULL);
	pthread_cond_init(&w->cv, NULL);
	w->ents = malloc(MS_COMMIT_MAX_ENTS * sizeof(*w->ents));
	if (!w->ents || pthread_create(&w->thread, NULL, worker_main, w)) {
		worker_free(w);
		return NULL;
	}
	s->worker = w;
	return w;
}

int ms_srv_defer_commit(ms_server *s, struct peer *p, const void *req, size_t len)
{
	struct srv_worker *w;
	struct job *j;

	if (!p->l->ops->srv_reply)
		return -EOPNOTSUPP;
	j = malloc(sizeof(*j) + len);
	if (!j)
		return -ENOMEM;
	pthread_mutex_lock(&s->wlock);
	w = worker_get(s);
	pthread_mutex_unlock(&s->wlock);
	if (!w) {
		free(j);
		return -ENOMEM;
	}
	j->next = NULL;
	j->p = p;
	j->e = NULL;
	j->len = len;
	memcpy(j->req, req, len);
	pthread_mutex_lock(&w->lock);
	*w->tail = j;
	w->tail = &j->next;
	pthread_cond_signal(&w->cv);
	pthread_mutex_unlock(&w->lock);
	return 0;
}

void ms_srv_worker_fini(ms_server *s)
{
	struct srv_worker *w = s->worker;

	if (!w)
		return;
	/* Every loop has returned, so every job was answered: the queue is
	 * empty and the thread is waiting. */
	pthread_mutex_lock(&w->lock);
	w->stop = true;
	pthread_cond_signal(&w->cv);
	pthread_mutex_unlock(&w->lock);
	pthread_join(w->thread, NULL);
	while (w->parked) {              /* none: every loop has returned */
		struct job *j = w->parked;

		w->parked = j->next;
		free(j);
	}
	s->worker = NULL;
	worker_free(w);
}
