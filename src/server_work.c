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
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "server_int.h"

#define RESP_CAP 4096         /* a COMMIT's reply: a generation or an error */

struct job {
	struct job *next;
	struct peer *p;
	size_t len;
	char req[];
};

struct srv_worker {
	ms_server *srv;
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t cv;
	struct job *head, **tail;
	bool stop;
	/* the worker thread's own decode and reply storage */
	struct ms_commit_ent *ents;
	bool *fresh;
	char resp[RESP_CAP];
};

static void run_job(struct srv_worker *w, struct job *j)
{
	struct peer *p = j->p;
	int ret;

	ret = ms_srv_commit(w->srv, p, j->req, j->len, w->resp, sizeof(w->resp), w->ents,
			    w->fresh);
	if (ret < 0)
		ret = ms_enc_error(w->resp, sizeof(w->resp), -ret, "commit reply failed: %s",
				   strerror(-ret));
	if (ret < 0)
		ret = 0;      /* cannot happen with RESP_CAP; an empty reply is refused */
	/* The last use of p: after this its on_disconnect may run. */
	if (p->l->ops->srv_reply(p->l->xs, p->xp, w->resp, (size_t)ret))
		ms_srv_log(w->srv, MS_LOG_ERROR, "cannot queue a commit reply; peer dropped");
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
		run_job(w, j);
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
	free(w->fresh);
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
	w->fresh = malloc(MS_COMMIT_MAX_ENTS * sizeof(*w->fresh));
	if (!w->ents || !w->fresh || pthread_create(&w->thread, NULL, worker_main, w)) {
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
	s->worker = NULL;
	worker_free(w);
}
