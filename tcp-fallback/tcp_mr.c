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

static int new_key(struct tcp_mrtab *t, uint64_t *key)
{
	ssize_t n;

	/* 64 random bits: a capability nobody can guess; never 0. */
	do {
		n = getrandom(key, sizeof(*key), 0);
		if (n < 0 && errno != EINTR)
			return -errno;
	} while (n != sizeof(*key) || *key == 0 || lookup_locked(t, *key));
	return 0;
}

void tcp_mr_init(struct tcp_mrtab *t)
{
	pthread_cond_init(&t->cond, NULL);
}

void tcp_mr_fini(struct tcp_mrtab *t)
{
	struct ms_xsmr *m;

	/* Registrations the engine did not revoke. */
	for (size_t i = 0; i < TCP_MR_BUCKETS; i++) {
		while ((m = t->tab[i])) {
			t->tab[i] = m->next;
			free(m);
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
		  void (*detach)(struct ms_xloop *l, struct ms_xsmr *m))
{
	struct ms_xsmr **pp;
	bool wait, self;

	if (!m)
		return;
	pthread_mutex_lock(&l->lock);
	for (pp = bucket(t, m->key); *pp && *pp != m; pp = &(*pp)->next)
		;
	if (*pp)
		*pp = m->next;
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
		detach(l, m);
	free(m);
}

void tcp_mr_stats(struct ms_xsmr *m, uint64_t *bytes_read, uint64_t *bytes_written)
{
	if (bytes_read)
		*bytes_read = m ? __atomic_load_n(&m->bytes_read, __ATOMIC_RELAXED) : 0;
	if (bytes_written)
		*bytes_written = m ? __atomic_load_n(&m->bytes_written, __ATOMIC_RELAXED) : 0;
}

int tcp_mr_check(struct ms_xloop *l, struct tcp_mrtab *t, const struct ms_frame *f,
		 unsigned need, struct ms_xsmr **mp, char **ptr)
{
	struct ms_xsmr *m;

	pthread_mutex_lock(&l->lock);
	m = lookup_locked(t, f->key);
	pthread_mutex_unlock(&l->lock);
	/* m stays valid: only the loop thread frees a registration that was
	 * in the table while the loop runs (tcp_mr_dereg). */
	if (!m || !(m->access & need))
		return -EACCES;
	if (f->addr > m->len || f->len > m->len - f->addr)
		return -ERANGE;
	*mp = m;
	*ptr = m->base + f->addr;
	return 0;
}

void tcp_mr_process_dq(struct ms_xloop *l, struct tcp_mrtab *t,
		       void (*detach)(struct ms_xloop *l, struct ms_xsmr *m))
{
	struct ms_xsmr *m, *next;

	pthread_mutex_lock(&l->lock);
	m = t->dq;
	t->dq = NULL;
	pthread_mutex_unlock(&l->lock);
	if (!m)
		return;
	for (next = m; next; next = next->dnext)
		detach(l, next);
	pthread_mutex_lock(&l->lock);
	for (; m; m = next) {
		next = m->dnext;
		m->detached = true;     /* the waiter frees it */
	}
	pthread_cond_broadcast(&t->cond);
	pthread_mutex_unlock(&l->lock);
}
