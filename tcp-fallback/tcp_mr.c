/* SPDX-License-Identifier: Apache-2.0 */
/*
 * tcp_mr.c - the emulated NIC's registrations: a small hash table of keys
 * under the loop's lock, the access check every data request makes, and
 * deregistration from any thread.
 *
 * Only the loop frees a registration that may be in use: a deregistration
 * from another thread queues it, wakes the loop and waits until the loop
 * has detached it from every connection (tcp_server.c: responses still
 * queued get a private copy of their bytes, a WRITE being received is
 * discarded and answered -EACCES), so memory can be unmapped as soon as
 * srv_dereg_mr() returns, as with RDMA.
 *
 * Grants (srv_grant) are keys of their own in a second table, each bound
 * to one connection id and pointing at its parent registration: the check
 * refuses them on any other connection, after srv_revoke and once the
 * parent is deregistered.  Revoking a grant with write access waits, like
 * a deregistration, until the loop discarded a WRITE with its key that
 * was being received.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <stdlib.h>
#include <sys/random.h>

#include "tcp_int.h"

static struct ms_xsmr **bucket(struct tcp_mrtab *t, uint64_t key)
{
	return &t->tab[(key ^ (key >> 32)) % TCP_MR_BUCKETS];
}

static struct ms_xsmr *lookup_locked(struct tcp_mrtab *t, uint64_t key)
{
	struct ms_xsmr *m;

	for (m = *bucket(t, key); m; m = m->next)
		if (m->key == key)
			return m;
	return NULL;
}

static struct ms_xgrant **gbucket(struct tcp_mrtab *t, uint64_t key)
{
	return &t->gtab[(key ^ (key >> 32)) % TCP_MR_BUCKETS];
}

static struct ms_xgrant *glookup_locked(struct tcp_mrtab *t, uint64_t key)
{
	struct ms_xgrant *g;

	for (g = *gbucket(t, key); g; g = g->next)
		if (g->key == key)
			return g;
	return NULL;
}

static int new_key(struct tcp_mrtab *t, uint64_t *key)
{
	ssize_t n;

	/* 64 random bits: a capability nobody can guess; never 0. */
	do {
		n = getrandom(key, sizeof(*key), 0);
		if (n < 0 && errno != EINTR)
			return -errno;
	} while (n != sizeof(*key) || *key == 0 || lookup_locked(t, *key) ||
		 glookup_locked(t, *key));
	return 0;
}

void tcp_mr_init(struct tcp_mrtab *t)
{
	pthread_cond_init(&t->cond, NULL);
}

void tcp_mr_fini(struct tcp_mrtab *t)
{
	struct ms_xsmr *m;
	struct ms_xgrant *g;

	/* Registrations and grants the engine did not revoke. */
	for (size_t i = 0; i < TCP_MR_BUCKETS; i++) {
		while ((m = t->tab[i])) {
			t->tab[i] = m->next;
			free(m);
		}
		while ((g = t->gtab[i])) {
			t->gtab[i] = g->next;
			free(g);
		}
	}
	pthread_cond_destroy(&t->cond);
}

int tcp_mr_reg(struct ms_xloop *l, struct tcp_mrtab *t, void *addr, size_t len,
	       unsigned access, struct ms_xsmr **out, struct ms_rdesc *desc)
{
	struct ms_xsmr *m;
	int rc;

	if (!addr || !len || !access || (access & ~(MS_XACCESS_READ | MS_XACCESS_WRITE)) ||
	    !out || !desc)
		return -EINVAL;
	m = calloc(1, sizeof(*m));
	if (!m)
		return -ENOMEM;
	m->base = addr;
	m->len = len;
	m->access = access;
	pthread_mutex_lock(&l->lock);
	rc = new_key(t, &m->key);
	if (!rc) {
		m->next = *bucket(t, m->key);
		*bucket(t, m->key) = m;
	}
	pthread_mutex_unlock(&l->lock);
	if (rc) {
		free(m);
		return rc;
	}
	/* The wire address is the offset: the base is opaque (0), so no
	 * server pointer leaks to clients. */
	desc->addr = 0;
	desc->len = len;
	desc->rkey = m->key;
	*out = m;
	return 0;
}

void tcp_mr_dereg(struct ms_xloop *l, struct tcp_mrtab *t, struct ms_xsmr *m,
		  tcp_detach_fn detach)
{
	struct ms_xsmr **pp;
	struct ms_xgrant *g;
	bool wait, self;

	if (!m)
		return;
	pthread_mutex_lock(&l->lock);
	for (pp = bucket(t, m->key); *pp && *pp != m; pp = &(*pp)->next)
		;
	if (*pp)
		*pp = m->next;
	/* its grants stop working with it (their structs are the engine's) */
	while ((g = m->grants)) {
		m->grants = g->pnext;
		g->mr = NULL;
		g->pprev = NULL;
	}
	self = l->running && pthread_equal(pthread_self(), l->loop);
	wait = l->running && !self;
	if (wait) {
		m->dnext = t->dq;
		t->dq = m;
		ms_xloop_wake(l);
		while (!m->detached)
			pthread_cond_wait(&t->cond, &l->lock);
	}
	pthread_mutex_unlock(&l->lock);
	if (self)
		detach(l, m, 0);
	free(m);
}

void ms_tcp_srv_mr_stats(struct ms_xsrv *x, struct ms_xsmr *m, uint64_t *bytes_read,
			 uint64_t *bytes_written)
{
	(void)x;
	if (bytes_read)
		*bytes_read = m ? __atomic_load_n(&m->bytes_read, __ATOMIC_RELAXED) : 0;
	if (bytes_written)
		*bytes_written = m ? __atomic_load_n(&m->bytes_written, __ATOMIC_RELAXED) : 0;
}

int tcp_mr_grant(struct ms_xloop *l, struct tcp_mrtab *t, uint64_t owner, struct ms_xsmr *mr,
		 unsigned access, struct ms_xgrant **out, struct ms_rdesc *desc)
{
	struct ms_xgrant *g;
	int rc;

	if (!owner || !mr || !access || (access & ~mr->access) || !out || !desc)
		return -EINVAL;
	g = calloc(1, sizeof(*g));
	if (!g)
		return -ENOMEM;
	g->owner = owner;
	g->access = access;
	g->mr = mr;
	pthread_mutex_lock(&l->lock);
	rc = new_key(t, &g->key);
	if (!rc) {
		g->next = *gbucket(t, g->key);
		*gbucket(t, g->key) = g;
		g->pnext = mr->grants;
		if (mr->grants)
			mr->grants->pprev = &g->pnext;
		g->pprev = &mr->grants;
		mr->grants = g;
	}
	pthread_mutex_unlock(&l->lock);
	if (rc) {
		free(g);
		return rc;
	}
	desc->addr = 0;
	desc->len = mr->len;
	desc->rkey = g->key;
	*out = g;
	return 0;
}

void tcp_mr_revoke(struct ms_xloop *l, struct tcp_mrtab *t, struct ms_xgrant *g,
		   tcp_detach_fn detach)
{
	struct ms_xgrant **pp;
	bool wait, self;

	if (!g)
		return;
	pthread_mutex_lock(&l->lock);
	for (pp = gbucket(t, g->key); *pp && *pp != g; pp = &(*pp)->next)
		;
	if (*pp)
		*pp = g->next;
	if (g->pprev) {
		*g->pprev = g->pnext;
		if (g->pnext)
			g->pnext->pprev = g->pprev;
	}
	g->mr = NULL;
	/* a read-only key leaves nothing behind: no WRITE with it is being
	 * received (READs already answered read memory that stays) */
	self = l->running && pthread_equal(pthread_self(), l->loop);
	wait = l->running && !self && (g->access & MS_XACCESS_WRITE);
	if (wait) {
		g->dnext = t->gq;
		t->gq = g;
		ms_xloop_wake(l);
		while (!g->detached)
			pthread_cond_wait(&t->cond, &l->lock);
	}
	pthread_mutex_unlock(&l->lock);
	if (self && (g->access & MS_XACCESS_WRITE))
		detach(l, NULL, g->key);
	free(g);
}

int tcp_mr_check(struct ms_xloop *l, struct tcp_mrtab *t, const struct ms_frame *f,
		 uint64_t conn, unsigned need, struct ms_xsmr **mp, char **ptr)
{
	struct ms_xgrant *g;
	struct ms_xsmr *m;
	unsigned access = 0;

	pthread_mutex_lock(&l->lock);
	g = glookup_locked(t, f->key);
	if (g) {
		/* someone else's key, revoked or orphaned: nothing */
		m = g->owner == conn ? g->mr : NULL;
		access = g->access;
	} else {
		m = lookup_locked(t, f->key);
		access = m ? m->access : 0;
	}
	pthread_mutex_unlock(&l->lock);
	/* m stays valid: only the loop thread frees a registration that was
	 * in the table while the loop runs (tcp_mr_dereg). */
	if (!m || !(access & need))
		return -EACCES;
	if (f->addr > m->len || f->len > m->len - f->addr)
		return -ERANGE;
	*mp = m;
	*ptr = m->base + f->addr;
	return 0;
}

void tcp_mr_process_dq(struct ms_xloop *l, struct tcp_mrtab *t, tcp_detach_fn detach)
{
	struct ms_xsmr *m, *next;
	struct ms_xgrant *g, *gnext;

	pthread_mutex_lock(&l->lock);
	m = t->dq;
	t->dq = NULL;
	g = t->gq;
	t->gq = NULL;
	pthread_mutex_unlock(&l->lock);
	if (!m && !g)
		return;
	for (next = m; next; next = next->dnext)
		detach(l, next, 0);
	for (gnext = g; gnext; gnext = gnext->dnext)
		detach(l, NULL, gnext->key);
	pthread_mutex_lock(&l->lock);
	for (; m; m = next) {
		next = m->dnext;
		m->detached = true;     /* the waiter frees it */
	}
	for (; g; g = gnext) {
		gnext = g->dnext;
		g->detached = true;
	}
	pthread_cond_broadcast(&t->cond);
	pthread_mutex_unlock(&l->lock);
}
