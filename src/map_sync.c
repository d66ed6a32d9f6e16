/* SPDX-License-Identifier: Apache-2.0 */
/*
 * map_sync.c - the lazy mapper's write-back: ms_map_sync() pushes the pages
 * written since the last sync (found by the dirty tracker, kept in pendpg
 * until committed), ms_map_refresh() drops the local chunks the server has
 * a newer generation of, and the background push calls ms_map_sync() every
 * sync_interval_ms.  Both run under sync_lk.  See map_int.h for the design.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "map_int.h"

static void sync_fail(ms_map *m, int ret, const char *fmt, ...) MS_PRINTF(3, 4);
static void sync_fail(ms_map *m, int ret, const char *fmt, ...)
{
	va_list ap;

	pthread_mutex_lock(&m->lk);
	va_start(ap, fmt);
	vsnprintf(m->sync_errmsg, sizeof(m->sync_errmsg), fmt, ap);
	va_end(ap);
	m->sync_err = ret ? ret : -EIO;
	pthread_cond_broadcast(&m->cv);
	pthread_mutex_unlock(&m->lk);
}

/* Everything local counts as written: after the tracker failed, the kernel
 * may have cleaned pages it did not report. */
static void pend_all_local(ms_map *m)
{
	uint64_t ppc = m->chunk / m->page;

	for (uint64_t i = 0; i < m->nchunks; i++)
		if (atomic_load(&m->state[i]) == CH_LOCAL)
			ms_chunkmap_set_range(&m->pendpg, i * ppc, ppc);
}

/* Move what the tracker saw written into pendpg; *pages gets the pages.
 * Called with sync_lk held. */
static int collect(ms_map *m, uint64_t *pages)
{
	bool more;
	int ret;

	*pages = 0;
	do {
		size_t n = 0;

		ret = ms_dirty_collect(m->dirty, m->ranges, 256, &n, &more);
		if (ret) {
			pend_all_local(m);
			return ret;
		}
		for (size_t i = 0; i < n; i++) {
			uint64_t p0 = m->ranges[i].off / m->page;
			uint64_t np = ms_div_round_up(m->ranges[i].off + m->ranges[i].len,
						      m->page) - p0;

			*pages += np;
			ms_chunkmap_set_range(&m->pendpg, p0, np);
		}
	} while (more);
	return 0;
}

/* Has chunk c pages written and not committed yet? */
static bool chunk_pending(const ms_map *m, uint64_t c)
{
	uint64_t ppc = m->chunk / m->page;

	return ms_chunkmap_any(&m->pendpg, c * ppc, ppc);
}

/* After a commit of pieces[0..n): their chunks' generations are ours.  A
 * commit stamps every chunk it names with its generation, so one commit
 * message tells them all; a batch that needed several messages (not with
 * SYNC_PIECES pieces of one chunk each, but said here once) reads the
 * server's table instead. */
static void learn_gens(ms_map *m, const struct ms_wpiece *pieces, size_t n,
		       const struct ms_commit_res *res)
{
	uint64_t lo = UINT64_MAX, hi = 0, *g = NULL;

	for (size_t i = 0; i < n; i++) {
		lo = MS_MIN(lo, pieces[i].off / m->chunk);
		hi = MS_MAX(hi, (pieces[i].off + pieces[i].len - 1) / m->chunk);
	}
	if (res->gen_first != res->gen_last) {
		g = malloc((hi - lo + 1) * sizeof(*g));
		if (!g || ms_chunk_generations(m->sw.r, lo, g, hi - lo + 1)) {
			free(g);
			return;  /* a later refresh drops and pulls them again */
		}
	}
	for (size_t i = 0; i < n; i++) {
		uint64_t c = pieces[i].off / m->chunk;

		m->gens[c] = g ? g[c - lo] : res->gen_last;
	}
	free(g);
}

/* Push and commit the snapshots in pieces[0..n) (in the bounce buffer) as
 * one batch.  Committed: their pages are no longer pending and their
 * chunks take the commit's generation.  Failed: the mapping's sync error
 * is set and the pages stay pending, so the next sync pushes them again. */
static int sync_batch(ms_map *m, const struct ms_wpiece *pieces, size_t n,
		      struct ms_map_sync_stats *s)
{
	struct ms_commit_res res;
	int ret;

	if (!n)
		return 0;
	ret = ms_region_commit_pieces(m->sw.r, pieces, n, &res);
	s->bytes += res.bytes;
	if (ret) {
		if (res.sent)
			sync_fail(m, ret, "sync of '%s': commit failed, the chunks stay dirty: %s",
				  m->name, ms_client_errmsg(m->sw.c));
		else
			sync_fail(m, ret, "sync of '%s': %s", m->name, ms_client_errmsg(m->sw.c));
		return ret;
	}
	learn_gens(m, pieces, n, &res);
	for (size_t i = 0; i < n; i++)
		for (uint64_t p = pieces[i].off / m->page;
		     p < (pieces[i].off + pieces[i].len) / m->page; p++)
			ms_chunkmap_clear(&m->pendpg, p);
	return 0;
}

MS_EXPORT int ms_map_sync(ms_map *m, struct ms_map_sync_stats *st)
{
	struct ms_wpiece *pieces = m->pieces;
	size_t np = 0, used = 0;
	struct ms_map_sync_stats s = { 0 };
	uint64_t t0 = ms_now_ns(), pos = 0, first, n, queued = 0;
	uint64_t ppc = m->chunk / m->page, maxpg = m->bouncelen / m->page, last_c = UINT64_MAX;
	const uint8_t *src = m->zero_copy ? m->stage : m->addr;
	int ret;

	if (st)
		memset(st, 0, sizeof(*st));
	if (!m->writable)
		return -EACCES;
	pthread_mutex_lock(&m->sync_lk);
	ret = collect(m, &s.pages_dirty);
	if (ret) {
		sync_fail(m, ret, "sync of '%s': collecting written pages failed: %s; every "
			  "local chunk will be pushed", m->name, strerror(-ret));
		goto out;
	}
	while (ms_chunkmap_next_run(&m->pendpg, &pos, &first, &n, maxpg)) {
		/* one piece per chunk: its hash is taken here, while the bytes
		 * are in cache, and is the one the commit names */
		uint64_t k = MS_MIN(n, ppc - first % ppc), c = first / ppc, off, len;

		pos = first + k;
		/* only local chunks hold bytes to push (refresh never drops a
		 * dirty one; this is a guard) */
		if (atomic_load(&m->state[c]) != CH_LOCAL) {
			for (uint64_t i = first; i < first + k; i++)
				ms_chunkmap_clear(&m->pendpg, i);
			continue;
		}
		off = first * m->page;
		len = k * m->page;
		/* a full bounce buffer (or piece list) goes out as one batch */
		if (used + len > m->bouncelen || np == SYNC_PIECES) {
			if ((ret = sync_batch(m, pieces, np, &s)))
				goto out;
			s.chunks_pushed += queued;
			used = np = 0;
			queued = 0;
		}
		/* the snapshot: later writes are found by the next collect */
		memcpy(m->bounce + used, src + off, len);
		ms_chunk_hash(m->bounce + used, len, m->phash[np]);
		pieces[np] = (struct ms_wpiece){ .off = off, .src = m->bounce + used, .len = len,
						 .hash = m->phash[np] };
		np++;
		used += len;
		s.runs++;
		queued += c != last_c;
		last_c = c;
	}
	if ((ret = sync_batch(m, pieces, np, &s)))
		goto out;
	s.chunks_pushed += queued;
	pthread_mutex_lock(&m->lk);
	m->sync_err = 0;
	pthread_mutex_unlock(&m->lk);
out:
	pthread_mutex_unlock(&m->sync_lk);
	s.ns = ms_now_ns() - t0;
	if (st)
		*st = s;
	return ret;
}

/* Chunk c (ours: FETCHING) goes away locally. */
static void drop_chunk(ms_map *m, uint64_t c)
{
	uint64_t off, len;

	chunk_range(m, c, 1, &off, &len);
	if (m->dirty)
		ms_dirty_hash_forget(m->dirty, c);
	if (m->zero_copy) {
		(void)fallocate(m->memfd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
				(off_t)off, (off_t)len);
		(void)madvise(m->stage + off, len, MADV_DONTNEED);
	}
	(void)madvise(m->addr + off, len, MADV_DONTNEED);
	atomic_fetch_sub(&m->nlocal, 1);
	atomic_store(&m->state[c], CH_ABSENT);
	/* a fault that came while it was ours was left waiting: it faults
	 * again, finds it absent and pulls it */
	map_uffd_wake(m, off, len);
}

MS_EXPORT int ms_map_refresh(ms_map *m, uint64_t *changed)
{
	uint64_t *now = NULL, pages, dropped = 0;
	char cerr[512] = "";
	bool busy = false;
	int ret = 0;

	if (changed)
		*changed = 0;
	pthread_mutex_lock(&m->sync_lk);
	if (!m->sw.c) {
		ret = map_worker_connect(m, &m->sw, &m->co, MS_MODE_READ, cerr, sizeof(cerr));
		if (ret) {
			map_worker_free(&m->sw);
			sync_fail(m, ret, "refresh of '%s': %s", m->name, cerr);
			goto out;
		}
	}
	now = malloc(m->nchunks * sizeof(*now));
	if (!now) {
		ret = -ENOMEM;
		goto out;
	}
	ret = ms_chunk_generations(m->sw.r, 0, now, m->nchunks);
	if (ret) {
		sync_fail(m, ret, "refresh of '%s': %s", m->name, ms_client_errmsg(m->sw.c));
		goto out;
	}
	if (m->writable && (ret = collect(m, &pages))) {
		sync_fail(m, ret, "refresh of '%s': collecting written pages failed: %s",
			  m->name, strerror(-ret));
		goto out;
	}
	for (uint64_t i = 0; m->writable && i < m->nchunks; i++)
		if (atomic_load(&m->state[i]) == CH_LOCAL && now[i] != m->gens[i] &&
		    chunk_pending(m, i))
			busy = true;
	if (busy) {
		ret = -EBUSY;
		goto out;
	}
	for (uint64_t i = 0; i < m->nchunks; i++) {
		uint8_t st = CH_LOCAL;

		if (atomic_load(&m->state[i]) != CH_LOCAL || now[i] == m->gens[i])
			continue;
		if (!atomic_compare_exchange_strong(&m->state[i], &st, CH_FETCHING))
			continue;
		drop_chunk(m, i);
		dropped++;
	}
	if (dropped)
		map_notify(m);
out:
	pthread_mutex_unlock(&m->sync_lk);
	free(now);
	if (changed)
		*changed = dropped;
	return ret;
}


/* The background push (sync_interval_ms). */
void *map_sync_main(void *arg)
{
	ms_map *m = arg;

	pthread_mutex_lock(&m->lk);
	while (!atomic_load(&m->stop)) {
		struct timespec ts;

		ms_deadline_ms(&ts, (long)m->mo.sync_interval_ms);
		while (!atomic_load(&m->stop) &&
		       pthread_cond_timedwait(&m->cv, &m->lk, &ts) != ETIMEDOUT)
			;
		if (atomic_load(&m->stop))
			break;
		pthread_mutex_unlock(&m->lk);
		(void)ms_map_sync(m, NULL);   /* failures: ms_map_errmsg/wait */
		pthread_mutex_lock(&m->lk);
	}
	pthread_mutex_unlock(&m->lk);
	return NULL;
}
