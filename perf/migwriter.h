/* SPDX-License-Identifier: Apache-2.0 */
/*
 * migwriter.h - a steady writer of a region that is being migrated (header
 * only; perf/bench_migrate.c and tests/helpers/migtool.c use it).
 *
 * The writer holds the region's write lease and, every tick, changes a
 * number of random pages of its local copy (a fraction of the region's
 * pages per second), writes those pages (ms_write) and commits them
 * (ms_sync).  It remembers what it committed: its local copy equals the
 * region as of its last successful sync plus the pages of the tick in
 * flight (mw_drop_pending puts their old bytes back).
 *
 * A region that moved answers with MOVED, which the library reports as
 * -EREMCHG and a message "... moved from A to HOST:PORT (epoch N)" unless
 * it followed the redirect by itself: the writer then connects to HOST:PORT,
 * re-takes its lease there (expect_epoch = its epoch at the source) and
 * writes the pages of the tick again.
 *
 * A connection that is lost (the server died or restarted) is connected
 * again, for up to retry_ms, and the lease re-taken the same way (a server
 * that gave the region away meanwhile answers MOVED).
 *
 * It measures what a writer sees of a migration: the longest gap between
 * two successful syncs, the longest sync, how often it was redirected.
 * Functions return 0 or -errno (a message in w->errmsg).
 */
#ifndef MS_PERF_MIGWRITER_H
#define MS_PERF_MIGWRITER_H

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "memsync.h"
#include "benchutil.h"

#define MW_MAX_REDIRECTS 4

struct mw_opts {
	const char *host, *port, *region;
	enum ms_transport_kind transport;
	double rate;          /* fraction of the pages written per second */
	unsigned tick_ms;     /* one write + sync this often */
	uint64_t seed;
	int timeout_ms;       /* ms_client_opts.timeout_ms (0: the default) */
	int retry_ms;         /* a lost connection (or a busy lease) is tried
				 again, 100 ms apart, for this long (0: never) */
	bool reopen_fenced;   /* a write refused as fenced (ESTALE): open the
				 region again with expect_epoch (granted only
				 if nobody took the lease since; counted) */
};

struct mw {
	struct mw_opts o;
	char host[256], port[8];
	ms_client *c;
	ms_region *r;
	uint64_t size, npages, epoch;
	uint32_t chunk;
	size_t pg;
	uint8_t *shadow;       /* what the writer wrote (see above) */
	uint8_t *undo;         /* the old bytes of the pages in flight */
	uint64_t *pending;     /* their page numbers */
	size_t npending, cap;
	size_t last_n;         /* pending[0..last_n): the last tick's pages */
	double carry;          /* fractional pages owed to the next tick */
	/* what it saw */
	uint64_t syncs, pages_written, bytes_written, syncs_failed;
	unsigned redirects, reconnects, fenced;
	double t_last_sync, max_gap_s, max_sync_s, gap_end_s;
	int err;
	char errmsg[512];
};

static inline int mw_fail(struct mw *w, int rc, const char *what)
{
	w->err = rc;
	snprintf(w->errmsg, sizeof(w->errmsg), "%s: %s", what,
		 w->c && ms_client_errmsg(w->c)[0] ? ms_client_errmsg(w->c) : strerror(-rc));
	return rc;
}

/* Connect to w->host:w->port and open the region for writing; expect: the
 * epoch the lease must continue (0: any). */
static inline int mw_connect(struct mw *w, uint64_t expect)
{
	struct ms_client_opts co = { .opts_size = sizeof(co), .transport = w->o.transport,
				     .timeout_ms = w->o.timeout_ms };
	struct ms_open_opts oo = { .opts_size = sizeof(oo), .expect_epoch = expect };
	struct ms_region_info ri;
	char err[256] = "";

	w->c = ms_connect(w->host, w->port, &co, err, sizeof(err));
	if (!w->c) {
		w->err = errno ? -errno : -EIO;
		snprintf(w->errmsg, sizeof(w->errmsg), "connect to %s:%s: %s", w->host, w->port,
			 err[0] ? err : strerror(-w->err));
		return w->err;
	}
	w->r = ms_open_with(w->c, w->o.region, MS_MODE_WRITE, &oo);
	if (!w->r)
		return mw_fail(w, errno ? -errno : -EIO, "open for writing");
	ms_region_info(w->r, &ri);
	w->epoch = ri.epoch;
	w->chunk = ri.chunk_size;
	if (w->size && ri.size != w->size)
		return mw_fail(w, -EINVAL, "the region changed size");
	w->size = ri.size;
	return 0;
}

static inline void mw_disconnect(struct mw *w)
{
	if (w->r)
		ms_close(w->r);
	if (w->c)
		ms_disconnect(w->c);
	w->r = NULL;
	w->c = NULL;
}

/* Where a region went, from the message of a MOVED reply: "... moved from
 * A to HOST:PORT (...": HOST:PORT is the token after the " to " that
 * follows "moved from ". */
static inline bool mw_parse_moved(const char *msg, char *host, size_t hl, char *port, size_t pl)
{
	const char *from = strstr(msg, "moved from "), *to, *end, *colon = NULL;

	to = from ? strstr(from, " to ") : NULL;
	if (!to)
		return false;
	to += 4;
	for (end = to; *end && *end != ' ' && *end != '('; end++)
		if (*end == ':')
			colon = end;
	if (!colon || colon == to || end == colon + 1 || (size_t)(colon - to) >= hl ||
	    (size_t)(end - colon - 1) >= pl)
		return false;
	memcpy(host, to, (size_t)(colon - to));
	host[colon - to] = '\0';
	memcpy(port, colon + 1, (size_t)(end - colon - 1));
	port[end - colon - 1] = '\0';
	return true;
}

/* Start: connect, open for writing; the local copy is initial (size bytes)
 * or, when NULL, a pull of the region. */
static inline int mw_open(struct mw *w, const struct mw_opts *o, const void *initial)
{
	int rc;

	memset(w, 0, sizeof(*w));
	w->o = *o;
	if (!w->o.tick_ms)
		w->o.tick_ms = 10;
	snprintf(w->host, sizeof(w->host), "%s", o->host);
	snprintf(w->port, sizeof(w->port), "%s", o->port);
	w->pg = (size_t)sysconf(_SC_PAGESIZE);
	rc = mw_connect(w, 0);
	if (rc)
		return rc;
	w->npages = w->size / w->pg;
	w->shadow = mmap(NULL, w->size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (w->shadow == MAP_FAILED) {
		w->shadow = NULL;
		return mw_fail(w, -ENOMEM, "local copy");
	}
	if (initial)
		memcpy(w->shadow, initial, w->size);
	else if ((rc = ms_pull(w->r, 0, w->shadow, w->size, NULL, NULL)))
		return mw_fail(w, rc, "pull of the region");
	w->t_last_sync = bu_now_s();
	return 0;
}

static inline void mw_close(struct mw *w)
{
	mw_disconnect(w);
	if (w->shadow)
		munmap(w->shadow, w->size);
	free(w->undo);
	free(w->pending);
	w->shadow = NULL;
	w->undo = NULL;
	w->pending = NULL;
}

/* Put the old bytes of the pages in flight back (the local copy becomes
 * the last commit the writer knows of). */
static inline void mw_drop_pending(struct mw *w)
{
	for (size_t i = w->npending; i-- > 0;)
		memcpy(w->shadow + w->pending[i] * w->pg, w->undo + i * w->pg, w->pg);
	w->npending = 0;
}

/* Write the pages in flight and commit them. */
static inline int mw_push_pending(struct mw *w)
{
	int rc = 0;

	for (size_t i = 0; i < w->npending && !rc; i++) {
		uint64_t off = w->pending[i] * w->pg;

		rc = ms_write(w->r, off, w->shadow + off, w->pg, NULL, NULL);
	}
	return rc ? rc : ms_sync(w->r);
}

/* Follow a MOVED reply.  The library follows it by itself (the handle is
 * open at the destination, the lease re-taken, the writes not yet synced
 * dropped: "... the writer holds its lease there now ..."): write the tick
 * again on the same handle.  Otherwise connect where it points and re-take
 * the lease with expect_epoch. */
static inline int mw_follow(struct mw *w)
{
	char host[256], port[8];
	uint64_t epoch = w->epoch;
	const char *msg = w->c ? ms_client_errmsg(w->c) : "";

	if (!mw_parse_moved(msg, host, sizeof(host), port, sizeof(port)))
		return mw_fail(w, -EREMCHG, "moved, but the reply does not say where");
	if (strstr(msg, "holds its lease there now")) {
		struct ms_region_info ri;

		snprintf(w->host, sizeof(w->host), "%s", host);
		snprintf(w->port, sizeof(w->port), "%s", port);
		ms_region_info(w->r, &ri);
		w->epoch = ri.epoch;
		w->redirects++;
		return 0;
	}
	mw_disconnect(w);
	snprintf(w->host, sizeof(w->host), "%s", host);
	snprintf(w->port, sizeof(w->port), "%s", port);
	w->redirects++;
	return mw_connect(w, epoch);
}

static inline bool mw_conn_lost(int rc)
{
	return rc == -ECONNRESET || rc == -EPIPE || rc == -ETIMEDOUT || rc == -ENOTCONN ||
	       rc == -ECONNABORTED || rc == -ECONNREFUSED || rc == -ESHUTDOWN ||
	       rc == -EHOSTUNREACH || rc == -ENETUNREACH;
}

/* The connection was lost: connect to the same server again (retry_ms). */
static inline int mw_reconnect(struct mw *w, int rc)
{
	double until = bu_now_s() + w->o.retry_ms / 1000.0;
	uint64_t epoch = w->epoch;

	if (w->o.retry_ms <= 0)
		return rc;
	w->reconnects++;
	do {
		mw_disconnect(w);
		usleep(100 * 1000);
		w->err = 0;
		rc = mw_connect(w, epoch);
		if (rc == -EREMCHG) /* it moved meanwhile: follow it */
			return mw_follow(w);
	} while ((mw_conn_lost(rc) || rc == -EBUSY) && bu_now_s() < until);
	return rc;
}

/* One tick's writes (chosen here) and their commit, following redirects.
 * On failure the pages stay pending (mw_drop_pending). */
static inline int mw_tick(struct mw *w, uint64_t *rng, uint8_t *touched_chunks)
{
	double want = w->o.rate * (double)w->npages * w->o.tick_ms / 1000.0 + w->carry;
	size_t n = (size_t)want;
	double t0;
	int rc;

	w->carry = want - (double)n;
	if (n > w->cap) {
		uint64_t *p = realloc(w->pending, n * sizeof(*p));
		uint8_t *u = p ? realloc(w->undo, n * w->pg) : NULL;

		if (p)
			w->pending = p;
		if (!p || !u)
			return mw_fail(w, -ENOMEM, "tick buffers");
		w->undo = u;
		w->cap = n;
	}
	w->npending = 0;
	for (size_t i = 0; i < n; i++) {
		uint64_t page = bu_rand64(rng) % w->npages, word = bu_rand64(rng) | 1;
		uint8_t *p = w->shadow + page * w->pg;

		memcpy(w->undo + i * w->pg, p, w->pg);
		w->pending[w->npending++] = page;
		for (size_t k = 0; k < w->pg; k += 512)
			((uint64_t *)(p + k))[0] ^= word;
		if (touched_chunks && w->chunk)
			touched_chunks[page * w->pg / w->chunk] = 1;
	}
	t0 = bu_now_s();
	for (unsigned hop = 0;; hop++) {
		bool fenced;

		rc = mw_push_pending(w);
		fenced = rc == -ESTALE && w->o.reopen_fenced;
		if ((rc != -EREMCHG && !mw_conn_lost(rc) && !fenced) || hop == MW_MAX_REDIRECTS)
			break;
		if (fenced) {
			w->fenced++;
			snprintf(w->errmsg, sizeof(w->errmsg), "fenced: %s", ms_client_errmsg(w->c));
			mw_disconnect(w);
			rc = mw_connect(w, w->epoch);
			if (mw_conn_lost(rc)) /* its server is down: try again for a while */
				rc = mw_reconnect(w, rc);
		} else {
			rc = rc == -EREMCHG ? mw_follow(w) : mw_reconnect(w, rc);
		}
		if (rc)
			break;
	}
	if (rc) {
		w->syncs_failed++;
		if (!w->err)
			mw_fail(w, rc, "write and sync");
		return rc;
	}
	{
		double t1 = bu_now_s();

		if (t1 - t0 > w->max_sync_s)
			w->max_sync_s = t1 - t0;
		if (t1 - w->t_last_sync > w->max_gap_s) {
			w->max_gap_s = t1 - w->t_last_sync;
			w->gap_end_s = t1;
		}
		w->t_last_sync = t1;
	}
	w->syncs++;
	w->last_n = w->npending;
	w->pages_written += w->npending;
	w->bytes_written += w->npending * w->pg;
	w->npending = 0;
	return 0;
}

/* Start measuring gaps afresh (from the last sync). */
static inline void mw_reset_gaps(struct mw *w)
{
	w->max_gap_s = 0;
	w->max_sync_s = 0;
	w->gap_end_s = 0;
}

#endif /* MS_PERF_MIGWRITER_H */
