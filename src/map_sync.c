/* SPDX-License-Identifier: Apache-2.0 */
/*
 * map_sync.c - the lazy mapper's write-back: ms_map_sync() pushes the pages
 * written since the last sync (found by the dirty tracker, kept in pendpg
 * until committed) in batches through the bounce buffer, all of them
 * committed by one commit at the end, ms_map_refresh() drops the local chunks the server has
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
#include "map_zero.h"

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
 * Only pages of local chunks: a chunk that is not local holds no write of
 * the application (a write to it waits for the fetch), and one dropped by
 * a refresh on the copy path reads as written (its anonymous pages are
 * gone, write protection with them) until it is fetched again: noted
 * pending, they would be pushed once it is.  Called with sync_lk held. */
static int collect(ms_map *m, uint64_t *pages)
{
	uint64_t ppc = m->chunk / m->page;
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
			uint64_t p = m->ranges[i].off / m->page;
			uint64_t end = ms_div_round_up(m->ranges[i].off + m->ranges[i].len,
						       m->page);

			while (p < end) {
				uint64_t c = p / ppc, k = MS_MIN(end, (c + 1) * ppc) - p;

				if (atomic_load(&m->state[c]) == CH_LOCAL) {
					*pages += k;
					ms_chunkmap_set_range(&m->pendpg, p, k);
				}
				p += k;
			}
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

/* One sync's walk over pendpg, carried from one fill to the next. */
struct sync_walk {
	ms_map *m;
	const uint8_t *src;          /* the bytes: the view, or zero-copy's stage */
	uint64_t pos;                /* the next page of pendpg to look at */
	uint64_t last_c;             /* the chunk of the last piece */
	uint64_t chunks;             /* distinct chunks in the pieces so far */
	struct ms_map_sync_stats *s;
};

/*
 * The fill of a sync's commit stream (ms_region_commit_stream): the next
 * batch of pending pages, as many as the bounce buffer and phash hold.
 * Each run of pages inside one chunk is one piece: snapshot-copied into
 * the bounce buffer (the previous batch's writes have completed, so it is
 * free again; later writes are found by the next collect); write_pieces
 * hashes the snapshot beside the batch's WRITEs (the commit names that
 * hash).
 * The pages go into sentpg; pendpg is left alone until the commit is in.
 */
static int sync_fill(void *ud, struct ms_wpiece *p, size_t cap)
{
	struct sync_walk *w = ud;
	ms_map *m = w->m;
	uint64_t ppc = m->chunk / m->page, maxpg = m->bouncelen / m->page, first, n;
	size_t np = 0, used = 0;

	cap = MS_MIN(cap, (size_t)SYNC_PIECES);
	while (ms_chunkmap_next_run(&m->pendpg, &w->pos, &first, &n, maxpg)) {
		uint64_t k = MS_MIN(n, ppc - first % ppc), c = first / ppc;
		uint64_t off = first * m->page, len = k * m->page;

		w->pos = first + k;
		/* only local chunks hold bytes to push (refresh never drops a
		 * dirty one; this is a guard: such pages are dropped) */
		if (atomic_load(&m->state[c]) != CH_LOCAL) {
			for (uint64_t i = first; i < first + k; i++)
				ms_chunkmap_clear(&m->pendpg, i);
			continue;
		}
		/* a full bounce buffer (or piece list): this run starts the
		 * next batch */
		if (np && (used + len > m->bouncelen || np == cap)) {
			w->pos = first;
			break;
		}
		/* a chunk that is all zeros now: one ZERO entry, no bytes */
		if (c != w->last_c && map_zero_chunk(m, w->src, c, &p[np])) {
			ms_chunkmap_set_range(&m->sentpg, c * ppc, ppc);
			w->pos = (c + 1) * ppc;
			np++;
			w->s->runs++;
			w->chunks++;
			w->last_c = c;
			continue;
		}
		memcpy(m->bounce + used, w->src + off, len);
		/* no .hash: write_pieces hashes the snapshot on the hashpool's
		 * workers while the batch's WRITEs are in flight (write_hash.h) */
		p[np] = (struct ms_wpiece){ .off = off, .src = m->bounce + used, .len = len };
		ms_chunkmap_set_range(&m->sentpg, first, k);
		np++;
		used += len;
		w->s->runs++;
		w->chunks += c != w->last_c;
		w->last_c = c;
	}
	return (int)np;
}

/* The chunks that hold pages of sentpg, as [*lo, *hi]; false if none. */
static bool sent_span(const ms_map *m, uint64_t *lo, uint64_t *hi)
{
	uint64_t pos = 0, first, n;

	*lo = UINT64_MAX;
	*hi = 0;
	while (ms_chunkmap_next_run(&m->sentpg, &pos, &first, &n, 0)) {
		*lo = MS_MIN(*lo, first * m->page / m->chunk);
		*hi = (first + n - 1) * m->page / m->chunk;
	}
	return *lo != UINT64_MAX;
}

/* After the sync's commit: the chunks it pushed (those with a page in
 * sentpg) have the generation it gave them.  A commit stamps every chunk
 * it names with its generation, so when it took one message, that message
 * tells them all; a commit that needed several messages (more chunk
 * pieces than one names) reads the server's table instead. */
static void learn_gens(ms_map *m, const struct ms_commit_res *res)
{
	uint64_t ppc = m->chunk / m->page, lo, hi, *g = NULL;

	if (!sent_span(m, &lo, &hi))
		return;
	if (res->gen_first != res->gen_last) {
		g = malloc((hi - lo + 1) * sizeof(*g));
		if (!g || ms_chunk_generations(m->sw.r, lo, g, hi - lo + 1)) {
			free(g);
			return;  /* a later refresh drops and pulls them again */
		}
	}
	for (uint64_t c = lo; c <= hi; c++)
		if (ms_chunkmap_any(&m->sentpg, c * ppc, ppc))
			m->gens[c] = g ? g[c - lo] : res->gen_last;
	free(g);
}

/* The pages of sentpg are committed: they leave pendpg, and sentpg. */
static void settle_sent(ms_map *m)
{
	uint64_t pos = 0, first, n;

	while (ms_chunkmap_next_run(&m->sentpg, &pos, &first, &n, 0))
		for (uint64_t i = first; i < first + n; i++)
			ms_chunkmap_clear(&m->pendpg, i);
	ms_chunkmap_clear_all(&m->sentpg);
}

/*
 * One sync is one commit however many batches it takes: the pending pages
 * are written batch by batch through the bounce buffer (sync_fill) and
 * committed together at the end.  Committed: exactly the pages pushed
 * leave pendpg and their chunks take the commit's generation.  Failed (a
 * write or the commit): nothing is published or recorded, only the
 * mapping's sync error is set; the pages stay pending and the next sync
 * pushes them all again.
 */
int ms_map_sync(ms_map *m, struct ms_map_sync_stats *st)
{
	return map_sync_timed(m, st, NULL);
}

int map_sync_timed(ms_map *m, struct ms_map_sync_stats *st, struct map_sync_times *t)
{
	struct ms_map_sync_stats s = { 0 };
	struct sync_walk w = { .m = m, .src = m->zero_copy ? m->stage : m->addr,
			       .last_c = UINT64_MAX, .s = &s };
	struct ms_commit_res res;
	uint64_t t0 = ms_now_ns(), deadline = 0;
	char lost[512], why[512];
	int ret, rc;

	if (st)
		memset(st, 0, sizeof(*st));
	if (t)
		memset(t, 0, sizeof(*t));
	if (!m->writable)
		return -EACCES;
	pthread_mutex_lock(&m->sync_lk);
	/* standby, or handed over: the lease is not this mapping's */
	if (!atomic_load(&m->leased)) {
		ret = -EACCES;
		goto out;
	}
	ret = collect(m, &s.pages_dirty);
	if (t)
		t->collect_ns = ms_now_ns() - t0;
	if (ret) {
		sync_fail(m, ret, "sync of '%s': collecting written pages failed: %s; every "
			  "local chunk will be pushed", m->name, strerror(-ret));
		goto out;
	}
	while ((ret = ms_region_commit_stream(m->sw.r, sync_fill, &w, &res)) &&
	       map_conn_lost(m, &m->sw)) {
		/* nothing of it is committed: on a new connection, all of it
		 * again (pendpg is unchanged) */
		ms_chunkmap_clear_all(&m->sentpg);
		snprintf(lost, sizeof(lost), "%s", ms_client_errmsg(m->sw.c));
		rc = map_reconnect(m, &m->sw, &deadline, NULL, why, sizeof(why));
		if (rc) {
			ret = rc == -ETIMEDOUT || rc == -ECANCELED ? ret : rc;
			sync_fail(m, ret, "sync of '%s': %s; reconnecting: %s", m->name, lost, why);
			goto out;
		}
		w = (struct sync_walk){ .m = m, .src = w.src, .last_c = UINT64_MAX, .s = &s };
		s.runs = 0;
	}
	s.bytes = res.bytes;
	if (ret) {
		ms_chunkmap_clear_all(&m->sentpg);
		if (res.sent)
			sync_fail(m, ret, "sync of '%s': commit failed, the chunks stay dirty: %s",
				  m->name, ms_client_errmsg(m->sw.c));
		else
			sync_fail(m, ret, "sync of '%s': %s", m->name, ms_client_errmsg(m->sw.c));
		goto out;
	}
	if (t) {
		t->commit_ns = res.commit_ns;
		t->xfer_ns = ms_now_ns() - t0 - t->collect_ns - res.commit_ns;
	}
	learn_gens(m, &res);
	settle_sent(m);
	s.chunks_pushed = w.chunks;
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

/* Does a local chunk need to go, the server's generation of it being g?
 * keep_pending: not when pages of it are written and not committed. */
static bool stale(const ms_map *m, uint64_t c, uint64_t g, bool keep_pending)
{
	return atomic_load(&m->state[c]) == CH_LOCAL && g != m->gens[c] &&
	       !(keep_pending && m->writable && chunk_pending(m, c));
}

/* Drop the local chunks stale() says, and wake the threads waiting for
 * progress; the number dropped. */
static uint64_t drop_stale(ms_map *m, const uint64_t *now, bool keep_pending)
{
	uint64_t dropped = 0;

	for (uint64_t i = 0; i < m->nchunks; i++) {
		uint8_t st = CH_LOCAL;

		if (!stale(m, i, now[i], keep_pending))
			continue;
		if (!atomic_compare_exchange_strong(&m->state[i], &st, CH_FETCHING))
			continue;
		drop_chunk(m, i);
		dropped++;
	}
	if (dropped)
		map_notify(m);
	return dropped;
}

/*
 * After w's connection came back: the server may have changed chunks
 * while the mapping was away (another writer's commits, a restarted
 * server serving other bytes).  Read its generation table over w and drop
 * every local chunk whose generation moved, as a refresh does, except the
 * chunks with pages written locally and not committed: those stay, and
 * the next sync pushes them; *dropped (may be NULL) grows by the number
 * dropped.  0, or -errno (the table read failed: w's errmsg says why).
 */
int map_regen(ms_map *m, struct worker *w, bool locked, uint64_t *dropped)
{
	uint64_t *now = malloc(m->nchunks * sizeof(*now)), pages, n;
	int ret;

	if (!now)
		return -ENOMEM;
	if (!locked)
		pthread_mutex_lock(&m->sync_lk);
	ret = ms_chunk_generations(w->r, 0, now, m->nchunks);
	if (!ret) {
		/* what the application wrote is pending before anything is
		 * dropped; a tracker failure marks every local chunk pending
		 * (the next sync reports it) */
		if (m->writable)
			(void)collect(m, &pages);
		n = drop_stale(m, now, true);
		if (dropped)
			*dropped += n;
	}
	if (!locked)
		pthread_mutex_unlock(&m->sync_lk);
	free(now);
	return ret;
}

int ms_map_refresh(ms_map *m, uint64_t *changed)
{
	uint64_t *now = NULL, pages, dropped = 0, deadline = 0;
	char cerr[512] = "", lost[512];
	bool busy = false;
	int ret = 0, rc;

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
	while ((ret = ms_chunk_generations(m->sw.r, 0, now, m->nchunks)) &&
	       map_conn_lost(m, &m->sw)) {
		snprintf(lost, sizeof(lost), "%s", ms_client_errmsg(m->sw.c));
		rc = map_reconnect(m, &m->sw, &deadline, &dropped, cerr, sizeof(cerr));
		if (rc) {
			ret = rc == -ETIMEDOUT || rc == -ECANCELED ? ret : rc;
			sync_fail(m, ret, "refresh of '%s': %s; reconnecting: %s", m->name, lost,
				  cerr);
			goto out;
		}
	}
	if (ret) {
		sync_fail(m, ret, "refresh of '%s': %s", m->name, ms_client_errmsg(m->sw.c));
		goto out;
	}
	(void)map_zero_load(m, m->sw.r);        /* zero hints: best effort */
	if (m->writable && (ret = collect(m, &pages))) {
		sync_fail(m, ret, "refresh of '%s': collecting written pages failed: %s",
			  m->name, strerror(-ret));
		goto out;
	}
	for (uint64_t i = 0; m->writable && i < m->nchunks; i++)
		if (stale(m, i, now[i], false) && chunk_pending(m, i))
			busy = true;
	if (busy) {
		ret = -EBUSY;
		goto out;
	}
	dropped += drop_stale(m, now, false);
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
	uint64_t last_sync = ms_now_ns();

	pthread_mutex_lock(&m->lk);
	while (!atomic_load(&m->stop)) {
		struct timespec ts;
		long wait_ms;

		/* the lease is kept alive between syncs (a mapping written to
		 * without a sync for longer than the lease's time to live
		 * would lose it): wake at a quarter of it at least */
		wait_ms = (long)MS_MAX(atomic_load(&m->lease_ttl_ms) / 4, 20u);
		if (m->mo.sync_interval_ms)
			wait_ms = MS_MIN(wait_ms, (long)m->mo.sync_interval_ms);
		ms_deadline_ms(&ts, wait_ms);
		while (!atomic_load(&m->stop) &&
		       pthread_cond_timedwait(&m->cv, &m->lk, &ts) != ETIMEDOUT)
			;
		if (atomic_load(&m->stop))
			break;
		pthread_mutex_unlock(&m->lk);
		if (!atomic_load(&m->leased)) {
			/* handed over: nothing to sync or keep */
		} else if (m->mo.sync_interval_ms &&
		    ms_now_ns() - last_sync >= (uint64_t)m->mo.sync_interval_ms * 1000000u) {
			(void)ms_map_sync(m, NULL);   /* failures: ms_map_errmsg/wait */
			last_sync = ms_now_ns();
		} else {
			/* a refusal ("fenced") shows at the next sync */
			pthread_mutex_lock(&m->sync_lk);
			if (m->sw.r && atomic_load(&m->leased))
				(void)ms_region_lease_tick(m->sw.r);
			pthread_mutex_unlock(&m->sync_lk);
		}
		pthread_mutex_lock(&m->lk);
	}
	pthread_mutex_unlock(&m->lk);
	return NULL;
}
