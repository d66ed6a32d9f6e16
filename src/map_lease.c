/* SPDX-License-Identifier: Apache-2.0 */
/*
 * map_lease.c - what an application hand-over (migrate_app.c) asks of a
 * lazy mapping: the write lease of its sync connection (hand it over, take
 * it from standby or back after a lapsed handover), the use report and the
 * server's hot list adopted while prefetching, whether a client id is
 * connected to the server, and the fault latency figures.
 *
 * Everything that uses the sync connection runs under sync_lk, as syncs
 * and refreshes do: the connection is one thread's at a time.  Swapping
 * the sync connection's region handle (take) happens under sync_lk too;
 * the background sync thread reads it only under sync_lk.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "map_int.h"

void map_report_use(ms_map *m)
{
	unsigned n;

	if (!m->faulted)
		return;
	n = MS_MIN(atomic_load(&m->nfaulted), (unsigned)MAX_USE_REPORT);
	if (!n)
		return;
	pthread_mutex_lock(&m->sync_lk);
	if (m->sw.r)
		(void)ms_touch_chunks(m->sw.r, m->faulted, n);
	pthread_mutex_unlock(&m->sync_lk);
}

/* The server's hot list becomes what the prefetch threads take first (the
 * chunks of it that are still absent); *n gets its length.  0 or -errno. */
int map_adopt_hot(ms_map *m, uint64_t *n)
{
	size_t max = (size_t)MS_MIN(m->nchunks, (uint64_t)MAX_USE_REPORT), got = 0;
	struct map_hot *h;
	int ret;

	*n = 0;
	h = malloc(sizeof(*h) + max * sizeof(h->idx[0]));
	if (!h)
		return -ENOMEM;
	pthread_mutex_lock(&m->sync_lk);
	ret = m->sw.r ? ms_hot_chunks(m->sw.r, h->idx, max, &got) : -EINVAL;
	pthread_mutex_unlock(&m->sync_lk);
	if (ret || !got) {
		free(h);
		return ret;
	}
	h->n = got;
	atomic_init(&h->next, 0);
	/* the older lists stay until close: a prefetch thread may be
	 * reading one */
	h->older = atomic_load(&m->hot);
	atomic_store(&m->hot, h);
	*n = got;
	return 0;
}

void map_hot_free(ms_map *m)
{
	struct map_hot *h = atomic_load(&m->hot), *o;

	for (; h; h = o) {
		o = h->older;
		free(h);
	}
	atomic_store(&m->hot, NULL);
}

int map_lease_get(ms_map *m, struct ms_lease_info *li)
{
	int ret;

	if (!m->sw.c)
		return -EINVAL;
	pthread_mutex_lock(&m->sync_lk);
	ret = ms_lease_get(m->sw.c, m->name, li);
	pthread_mutex_unlock(&m->sync_lk);
	return ret;
}

uint64_t map_epoch(ms_map *m)
{
	struct ms_region_info info = { 0 };

	pthread_mutex_lock(&m->sync_lk);
	if (m->sw.r)
		ms_region_info(m->sw.r, &info);
	pthread_mutex_unlock(&m->sync_lk);
	return info.epoch;
}

int map_handover(ms_map *m, const uint8_t id[16], uint64_t *new_epoch, char *why,
		 size_t whylen)
{
	int ret;

	pthread_mutex_lock(&m->sync_lk);
	if (!atomic_load(&m->leased) || !m->sw.r) {
		pthread_mutex_unlock(&m->sync_lk);
		return map_err(why, whylen, -EACCES, "the mapping does not hold the lease");
	}
	ret = ms_lease_handover(m->sw.r, id, new_epoch);
	if (!ret)
		atomic_store(&m->leased, false);   /* no more syncs or renewals */
	else
		map_err(why, whylen, 0, "%s", ms_client_errmsg(m->sw.c));
	pthread_mutex_unlock(&m->sync_lk);
	return ret;
}

/*
 * The write lease on the sync connection: the region is opened again for
 * writing, granted only if no lease was granted after expect_epoch (the
 * handed-over epoch: the handover's target, or the source taking it back
 * after the reservation lapsed).  The old handle (read-only in standby,
 * the fenced write handle after a handover) is closed first: a close of a
 * write handle on the connection that holds the lease would release it.
 * Refused, the connection gets a read handle again.  Then the mapping is
 * leased: syncs go through and the background thread keeps the lease.
 */
int map_take(ms_map *m, uint64_t expect_epoch, uint64_t *epoch, char *why, size_t whylen)
{
	struct ms_open_opts oo = { .opts_size = sizeof(oo), .expect_epoch = expect_epoch };
	struct ms_region_info info;
	ms_region *nr;
	int ret = 0;

	pthread_mutex_lock(&m->sync_lk);
	if (atomic_load(&m->leased) || !m->sw.c) {
		ret = map_err(why, whylen, !m->sw.c ? -EINVAL : -EALREADY, "%s",
			      !m->sw.c ? "no sync connection" : "the mapping holds the lease");
		goto out;
	}
	if (m->sw.r) {
		(void)ms_close(m->sw.r);
		m->sw.r = NULL;
	}
	nr = ms_open_with(m->sw.c, m->name, MS_MODE_WRITE, &oo);
	if (!nr) {
		ret = -errno;
		map_err(why, whylen, 0, "%s", ms_client_errmsg(m->sw.c));
		m->sw.r = ms_open(m->sw.c, m->name, MS_MODE_READ);
		goto out;
	}
	m->sw.r = nr;
	ms_region_info(nr, &info);
	if (epoch)
		*epoch = info.epoch;
	atomic_store(&m->lease_ttl_ms, info.lease_ttl_ms);
	atomic_store(&m->leased, true);
	if (!m->sync_started) {
		ret = -pthread_create(&m->sync_th, NULL, map_sync_main, m);
		m->sync_started = !ret;
		if (ret)
			map_err(why, whylen, 0, "pthread_create: %s", strerror(-ret));
	}
out:
	pthread_mutex_unlock(&m->sync_lk);
	return ret;
}

/* Is a client with id connected to the server?  A second connection with
 * that id is refused (EEXIST) while the first lives: 0 when it is,
 * -EHOSTDOWN when the probe got in (nobody has the id), else -errno. */
int map_probe_client(ms_map *m, const uint8_t id[16])
{
	struct ms_client_opts co = m->co;
	char err[256];
	ms_client *c;

	co.have_client_id = true;
	memcpy(co.client_id, id, 16);
	if (co.timeout_ms <= 0 || co.timeout_ms > 5000)
		co.timeout_ms = 5000;
	c = ms_connect(m->host, m->port, &co, err, sizeof(err));
	if (!c)
		return errno == EEXIST ? 0 : -errno;
	ms_disconnect(c);
	return -EHOSTDOWN;
}

void map_fault_note(ms_map *m, uint64_t ns)
{
	uint64_t us = ns / 1000, now;
	unsigned b = 0;

	while (b + 1 < MS_HIST_BUCKETS && us >= (2ull << b))
		b++;
	atomic_fetch_add(&m->fault_hist[b], 1);
	atomic_fetch_add(&m->nfaults, 1);
	if (atomic_load(&m->resume_ns) && !atomic_load(&m->first_fault_ns)) {
		uint_fast64_t zero = 0;

		now = ms_now_ns();
		atomic_compare_exchange_strong(&m->first_fault_ns, &zero, now);
	}
}

/* ------------------------------------------------------------ public */

int ms_map_client_id(const ms_map *m, uint8_t out[16])
{
	if (!m || !m->writable || !m->sw.c)
		return -EINVAL;
	ms_client_id(m->sw.c, out);
	return 0;
}

void ms_map_fault_stat(const ms_map *m, struct ms_map_fault_stat *out)
{
	ms_map *mm = (ms_map *)m;
	uint64_t r, f;

	memset(out, 0, sizeof(*out));
	out->faults = atomic_load(&mm->nfaults);
	for (unsigned i = 0; i < MS_HIST_BUCKETS; i++)
		out->hist[i] = atomic_load(&mm->fault_hist[i]);
	r = atomic_load(&mm->resume_ns);
	f = atomic_load(&mm->first_fault_ns);
	if (r && f > r)
		out->first_after_resume_us = MS_MAX((f - r) / 1000, 1u);
}
