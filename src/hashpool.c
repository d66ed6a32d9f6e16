/* SPDX-License-Identifier: Apache-2.0 */
/*
 * hashpool.c - worker threads for hashing beside a transfer (hashpool.h).
 *
 * One mutex guards a ring of jobs; workers take them in order.  A batch
 * counts its jobs still queued or running; whoever finishes the last one
 * of a batch wakes its waiter.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <unistd.h>

#include "hashpool.h"

#define POOL_MAX_THREADS 64u

struct job {
	ms_hashpool_fn fn;
	void *arg;
	struct ms_hpbatch *b;
};

struct ms_hashpool {
	pthread_mutex_t lock;
	pthread_cond_t work;     /* a job was queued, or the pool stops */
	pthread_cond_t room;     /* the queue has room again */
	pthread_cond_t done;     /* a batch finished */
	struct job *q;
	size_t qcap, head, n;
	bool stop;
	unsigned nthreads;
	pthread_t *tids;
};

unsigned ms_hashpool_default_threads(void)
{
	const char *e = getenv("MEMSYNC_HASH_THREADS");
	long ncpu;

	if (e && *e) {
		char *end;
		unsigned long v = strtoul(e, &end, 10);

		if (*end == '\0')
			return (unsigned)(v > POOL_MAX_THREADS ? POOL_MAX_THREADS : v);
	}
	ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	if (ncpu <= 1)
		return 0;
	return (unsigned)(ncpu - 1 > (long)MS_HASHPOOL_MAX_DEFAULT ? MS_HASHPOOL_MAX_DEFAULT
								  : ncpu - 1);
}

static void *worker(void *ud)
{
	struct ms_hashpool *p = ud;

	pthread_mutex_lock(&p->lock);
	for (;;) {
		while (!p->n && !p->stop)
			pthread_cond_wait(&p->work, &p->lock);
		if (!p->n)
			break;          /* stopping, and nothing is left */
		struct job j = p->q[p->head];

		p->head = (p->head + 1) % p->qcap;
		p->n--;
		pthread_cond_signal(&p->room);
		pthread_mutex_unlock(&p->lock);
		int r = j.fn(j.arg);

		pthread_mutex_lock(&p->lock);
		if (r && !j.b->err)
			j.b->err = r;
		if (--j.b->pending == 0)
			pthread_cond_broadcast(&p->done);
	}
	pthread_mutex_unlock(&p->lock);
	return NULL;
}

static void pool_stop(struct ms_hashpool *p, unsigned started)
{
	pthread_mutex_lock(&p->lock);
	p->stop = true;
	pthread_cond_broadcast(&p->work);
	pthread_cond_broadcast(&p->room);
	pthread_mutex_unlock(&p->lock);
	for (unsigned i = 0; i < started; i++)
		pthread_join(p->tids[i], NULL);
}

struct ms_hashpool *ms_hashpool_new(unsigned nthreads, size_t qcap)
{
	struct ms_hashpool *p;
	unsigned i;
	int err;

	if (!nthreads || nthreads > POOL_MAX_THREADS || !qcap) {
		errno = EINVAL;
		return NULL;
	}
	p = calloc(1, sizeof(*p));
	if (!p)
		goto nomem;
	p->q = calloc(qcap, sizeof(*p->q));
	p->tids = calloc(nthreads, sizeof(*p->tids));
	if (!p->q || !p->tids)
		goto nomem;
	p->qcap = qcap;
	pthread_mutex_init(&p->lock, NULL);
	pthread_cond_init(&p->work, NULL);
	pthread_cond_init(&p->room, NULL);
	pthread_cond_init(&p->done, NULL);
	/* workers take no signals: the application's handlers run in its
	 * own threads, whose blocking calls they are meant to interrupt */
	sigset_t all, old;

	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	for (i = 0; i < nthreads; i++) {
		if ((err = pthread_create(&p->tids[i], NULL, worker, p))) {
			pthread_sigmask(SIG_SETMASK, &old, NULL);
			pool_stop(p, i);
			p->nthreads = 0;
			ms_hashpool_free(p);
			errno = err;
			return NULL;
		}
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	p->nthreads = nthreads;
	return p;
nomem:
	if (p) {
		free(p->q);
		free(p->tids);
	}
	free(p);
	errno = ENOMEM;
	return NULL;
}

struct ms_hashpool *ms_hashpool_for(size_t jobs)
{
	unsigned n;

	if (jobs < 2)           /* before the CPU count: a small pull asks */
		return NULL;
	n = ms_hashpool_default_threads();
	if (!n)
		return NULL;
	if (n > jobs - 1)
		n = (unsigned)(jobs - 1);  /* never more workers than useful */
	return ms_hashpool_new(n, 4 * (size_t)n + 4);
}

int ms_hashpool_submit(struct ms_hashpool *p, struct ms_hpbatch *b, ms_hashpool_fn fn,
		       void *arg)
{
	if (!p) {
		int r = fn(arg);

		if (r && !b->err)
			b->err = r;
		return 0;
	}
	pthread_mutex_lock(&p->lock);
	while (p->n == p->qcap && !p->stop)
		pthread_cond_wait(&p->room, &p->lock);
	if (p->stop) {
		pthread_mutex_unlock(&p->lock);
		return -ESHUTDOWN;
	}
	p->q[(p->head + p->n) % p->qcap] = (struct job){ fn, arg, b };
	p->n++;
	b->pending++;
	pthread_cond_signal(&p->work);
	pthread_mutex_unlock(&p->lock);
	return 0;
}

int ms_hashpool_wait(struct ms_hashpool *p, struct ms_hpbatch *b)
{
	int err;

	if (p) {
		pthread_mutex_lock(&p->lock);
		while (b->pending)
			pthread_cond_wait(&p->done, &p->lock);
		pthread_mutex_unlock(&p->lock);
	}
	err = b->err;
	b->err = 0;
	return err;
}

void ms_hashpool_free(struct ms_hashpool *p)
{
	if (!p)
		return;
	/* workers drain the queue before they see stop with nothing left */
	if (p->nthreads)
		pool_stop(p, p->nthreads);
	pthread_mutex_destroy(&p->lock);
	pthread_cond_destroy(&p->work);
	pthread_cond_destroy(&p->room);
	pthread_cond_destroy(&p->done);
	free(p->q);
	free(p->tids);
	free(p);
}

unsigned ms_hashpool_threads(const struct ms_hashpool *p)
{
	return p ? p->nthreads : 0;
}
