/* SPDX-License-Identifier: Apache-2.0 */
/*
 * server_lapse.c - the timer that lapses write leases nobody renewed (and
 * handovers nobody took): a thread that looks every TIMER_TICK_MS and
 * fences what is due (server_lease.c), outside the grace lock.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <time.h>

#include "server_int.h"

#define TIMER_TICK_MS 50              /* how often the timer looks */

/* -------------------------------------------------------------- timer */

struct lease_timer {
	ms_server *s;
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t cv;
	bool stop;
};

/* What is due in e: its handover lapses here; true when its holder's
 * lease lapsed (fenced by the caller, outside the grace lock). */
static bool lapse_due(struct ms_export *e, uint64_t now)
{
	struct lease *ls = &e->lease;
	bool due, gone = false;

	pthread_mutex_lock(&e->lock);
	due = ls->holder && !ls->applying && now > ls->expires_ns;
	if (!ls->holder && ls->reserved && now > ls->reserved_until_ns) {
		ls->reserved = false;
		gone = true;
	}
	pthread_mutex_unlock(&e->lock);
	if (gone)
		ms_srv_log(e->srv, MS_LOG_WARN,
			   "'%s': the handover of the write lease lapsed: nobody took it",
			   e->r->name);
	return due;
}

#define LAPSE_BATCH 64

static void lapse_all(ms_server *s)
{
	struct ms_export *due[LAPSE_BATCH];
	size_t n = 0;

	/* walks the exports: under the grace lock (server_int.h) */
	pthread_rwlock_rdlock(&s->gp);
	for (struct ms_export *e = ms_srv_next(s, NULL); e && n < LAPSE_BATCH;
	     e = ms_srv_next(s, e))
		if (lapse_due(e, ms_srv_now_ns()))
			due[n++] = e;
	pthread_rwlock_unlock(&s->gp);
	/* fencing waits for the listeners (srv_dereg_mr), which may wait for
	 * the grace lock: not under it.  Each export stays: its holder's open
	 * counts as a client, and a fence of a lease that is gone meanwhile
	 * does nothing */
	for (size_t i = 0; i < n; i++)
		ms_lease_fence(due[i], FENCE_LAPSED, NULL);
}

static void *timer_main(void *arg)
{
	struct lease_timer *t = arg;
	struct timespec ts;

	pthread_mutex_lock(&t->lock);
	while (!t->stop) {
		clock_gettime(CLOCK_MONOTONIC, &ts);
		ts.tv_nsec += TIMER_TICK_MS * 1000000L;
		if (ts.tv_nsec >= 1000000000L) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000L;
		}
		pthread_cond_timedwait(&t->cv, &t->lock, &ts);
		if (t->stop)
			break;
		pthread_mutex_unlock(&t->lock);
		lapse_all(t->s);
		pthread_mutex_lock(&t->lock);
	}
	pthread_mutex_unlock(&t->lock);
	return NULL;
}

int ms_lease_timer_start(ms_server *s)
{
	struct lease_timer *t = calloc(1, sizeof(*t));
	pthread_condattr_t ca;
	int ret;

	if (!t)
		return -ENOMEM;
	t->s = s;
	pthread_mutex_init(&t->lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&t->cv, &ca);
	pthread_condattr_destroy(&ca);
	ret = -pthread_create(&t->thread, NULL, timer_main, t);
	if (ret) {
		pthread_cond_destroy(&t->cv);
		pthread_mutex_destroy(&t->lock);
		free(t);
		return ret;
	}
	s->timer = t;
	return 0;
}

void ms_lease_timer_stop(ms_server *s)
{
	struct lease_timer *t = s->timer;

	if (!t)
		return;
	pthread_mutex_lock(&t->lock);
	t->stop = true;
	pthread_cond_signal(&t->cv);
	pthread_mutex_unlock(&t->lock);
	pthread_join(t->thread, NULL);
	pthread_cond_destroy(&t->cv);
	pthread_mutex_destroy(&t->lock);
	free(t);
	s->timer = NULL;
}
