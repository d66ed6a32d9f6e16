/* SPDX-License-Identifier: Apache-2.0 */
/*
 * server_metrics.c - ms_server_metrics() and ms_server_region_metrics()
 * (server_metrics.h): counters gathered from the listeners, the
 * migrations into this server and the exports.
 *
 * Zero chunks: the chunks the metadata table flags MS_META_F_ZERO (their
 * hash is the hash of as many zero bytes, region_zero.h).  The
 * count walks the metadata table under the region's lock, once per
 * generation: a scrape while a commit holds that lock gets the count of
 * the generation before (zero_generation says which), and only the very
 * first count waits for the lock.
 */
#include <endian.h>
#include <errno.h>
#include <pthread.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "migrate_in.h"
#include "region_zero.h"
#include "server_int.h"
#include "server_metrics.h"

void ms_smet_zero_hash(uint64_t len, uint8_t out[MS_HASH_LEN])
{
	ms_zero_chunk_hash(len, out);
}

/* --------------------------------------------------------- server */

static void hist_add(uint64_t *hist, uint64_t us)
{
	int b = 0;

	while (b < MS_HIST_BUCKETS - 1 && us >= (2ull << b))
		b++;
	hist[b]++;
}

static void migrations(ms_server *s, struct ms_server_metrics *o)
{
	struct mig_in *m;

	/* the list only grows at its head and is freed at destroy: a
	 * snapshot of the head walks what existed then (m->lock is never
	 * taken under s->lock) */
	pthread_mutex_lock(&s->lock);
	m = s->migs;
	pthread_mutex_unlock(&s->lock);
	for (; m; m = m->next) {
		pthread_mutex_lock(&m->lock);
		o->migrations_started++;
		o->migrations_completed += m->st.phase == MS_MIGRATE_DONE;
		o->migrations_failed += m->st.phase == MS_MIGRATE_FAILED;
		o->migrations_aborted += m->st.phase == MS_MIGRATE_ABORTED;
		if (m->st.downtime_us) {
			if (!o->downtime_count)
				o->last_downtime_us = m->st.downtime_us; /* newest first */
			o->downtime_count++;
			o->downtime_sum_us += m->st.downtime_us;
			hist_add(o->downtime_hist, m->st.downtime_us);
		}
		pthread_mutex_unlock(&m->lock);
	}
}

int ms_server_metrics(ms_server *s, struct ms_server_metrics *out)
{
	struct ms_server_metrics o = { .size = sizeof(o) };
	struct ms_xsrv_counters c;
	size_t size;

	if (!s || !out || out->size < offsetof(struct ms_server_metrics, transport))
		return -EINVAL;
	size = out->size;
	for (unsigned i = 0; i < s->nl && i < MS_METRICS_TRANSPORTS; i++) {
		struct ms_transport_metrics *t = &o.transport[o.ntransports++];

		snprintf(t->name, sizeof(t->name), "%s", s->l[i].ops->name);
		if (!s->l[i].ops->srv_counters)
			continue;
		memset(&c, 0, sizeof(c));
		s->l[i].ops->srv_counters(s->l[i].xs, &c);
		t->accepted = c.accepted;
		t->open = c.open;
		t->refused = c.refused;
		t->handshake_failed = c.handshake_failed;
		t->idle_closed = c.idle_closed;
		t->errors = c.errors;
	}
	migrations(s, &o);
	memcpy(out, &o, size < sizeof(o) ? size : sizeof(o));
	out->size = size;
	return 0;
}

/* --------------------------------------------------------- regions */

/* Chunks the table flags ZERO (region_zero.h): the flag is stamped with
 * each hash, so counting costs no hash comparison. */
static uint64_t count_zero(const struct ms_rregion *r)
{
	uint64_t n = 0;

	for (uint64_t i = 0; i < r->nchunks; i++)
		n += !!(le32toh(__atomic_load_n(&r->meta[i].flags_le, __ATOMIC_RELAXED)) &
			MS_META_F_ZERO);
	return n;
}

/* The cached count, if it is for generation gen (any generation when gen
 * is 0): true with *o filled.  Takes e->lock. */
static bool zero_cached(struct ms_export *e, uint64_t gen, struct ms_region_metrics *o)
{
	struct ms_smet_region *m = &e->met;
	bool hit;

	pthread_mutex_lock(&e->lock);
	hit = m->zvalid && (!gen || m->zgen == gen);
	if (hit) {
		o->zero_chunks = m->zcount;
		o->zero_generation = m->zgen;
	}
	pthread_mutex_unlock(&e->lock);
	return hit;
}

/* e's zero chunks, from the cache when it is of the current generation.
 * e->lock and r->lock are never held together (server_int.h). */
static void zero_chunks(struct ms_export *e, struct ms_region_metrics *o)
{
	struct ms_rregion *r = e->r;
	struct ms_smet_region *m = &e->met;
	uint64_t gen, cnt;

	if (zero_cached(e, ms_region_generation(r), o))
		return;
	/* a commit holds r->lock while it verifies: answer with the last
	 * count rather than wait, if there is one */
	if (pthread_mutex_trylock(&r->lock) != 0) {
		if (zero_cached(e, 0, o))
			return;
		pthread_mutex_lock(&r->lock);
	}
	gen = ms_region_generation(r);
	cnt = count_zero(r);
	pthread_mutex_unlock(&r->lock);
	pthread_mutex_lock(&e->lock);
	m->zvalid = true;
	m->zgen = gen;
	m->zcount = cnt;
	pthread_mutex_unlock(&e->lock);
	o->zero_chunks = cnt;
	o->zero_generation = gen;
}

int ms_server_region_metrics(ms_server *s, const char *name, struct ms_region_metrics *out)
{
	struct ms_region_metrics o = { .size = sizeof(o) };
	struct ms_export *e;
	size_t size;
	int ret = 0;

	if (!s || !name || !out || out->size < offsetof(struct ms_region_metrics, leases_granted))
		return -EINVAL;
	size = out->size;
	/* the grace lock keeps a found export's region alive (server_int.h) */
	pthread_rwlock_rdlock(&s->gp);
	e = ms_srv_find(s, name);
	if (!e || !e->r) {
		ret = -ENOENT;
		goto out;
	}
	o.leases_granted = __atomic_load_n(&e->met.leases_granted, __ATOMIC_RELAXED);
	o.leases_lapsed = __atomic_load_n(&e->met.leases_lapsed, __ATOMIC_RELAXED);
	o.leases_fenced = __atomic_load_n(&e->met.leases_fenced, __ATOMIC_RELAXED);
	o.chunks = e->r->nchunks;
	zero_chunks(e, &o);
	memcpy(out, &o, size < sizeof(o) ? size : sizeof(o));
	out->size = size;
out:
	pthread_rwlock_unlock(&s->gp);
	return ret;
}
