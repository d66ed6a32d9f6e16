/* SPDX-License-Identifier: Apache-2.0 */
/*
 * client_write.c - writes and commits: ms_write() + ms_sync() (writes
 * recorded until the caller commits them), ms_region_commit_stream()
 * (write batches as a caller produces them and commit them all at the
 * end, for callers that keep their own record of what is written, as the
 * lazy mapper does; ms_region_commit_pieces() is its one-array form) and
 * ms_push() (send the chunks that differ, then commit them and what
 * ms_write() left pending, in one commit).
 *
 * Every write goes through write_pieces(): one transfer for a batch of
 * pieces, then one commit entry (offset, length, hash of the bytes) per
 * chunk piece written.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client_priv.h"
#include "client_zero.h"
#include "write_hash.h"

static int pending_add(ms_region *r, const struct ms_commit_ent *e)
{
	if (r->npending == r->cap) {
		size_t cap = r->cap ? 2 * r->cap : 256;
		struct ms_commit_ent *p = realloc(r->pending, cap * sizeof(*p));

		if (!p)
			return cl_err(r->c, -ENOMEM, "out of memory");
		r->pending = p;
		r->cap = cap;
	}
	r->pending[r->npending++] = *e;
	r->pend_end = MS_MAX(r->pend_end, e->off + e->len);
	return 0;
}

/* A new write over [off, off+len): pending entries inside it are replaced
 * by the new ones.  Direct mode: entries it overlaps only partly can no
 * longer be verified as a whole (the region holds the new bytes there),
 * so they are committed unverified.  Atomic mode: each entry keeps its
 * own staged bytes, so one that overlaps the new write is cut down to
 * what lies outside it (at most two parts, unverified: the server cannot
 * check the writer's hash of the whole against a part); the new write
 * wins whichever commit carries it. */
static int pending_supersede(ms_region *r, uint64_t off, uint64_t len)
{
	bool atomic = r->info.commit_mode == MS_COMMIT_ATOMIC;
	size_t k = 0, n = r->npending;

	/* writes in ascending order (a map sync, a push) overlap nothing */
	if (off >= r->pend_end)
		return 0;
	for (size_t i = 0; i < n; i++) {
		struct ms_commit_ent e = r->pending[i];
		uint64_t end = e.off + e.len;

		if (e.off >= off && end <= off + len)
			continue;             /* fully rewritten: drop */
		if (e.off < off + len && off < end) {
			e.flags |= MS_COMMIT_F_NOVERIFY;
			if (atomic && e.off < off && end > off + len) {
				/* the new write is inside: keep the right part
				 * as an entry of its own (appended; the list is
				 * walked to n only) */
				struct ms_commit_ent right = e;
				int ret;

				right.soff += off + len - e.off;
				right.off = off + len;
				right.len = end - (off + len);
				if ((ret = pending_add(r, &right)))
					return ret;
				e.len = off - e.off;
			} else if (atomic && e.off < off) {
				e.len = off - e.off;          /* keep the left part */
			} else if (atomic) {
				e.soff += off + len - e.off;  /* keep the right part */
				e.len = end - (off + len);
				e.off = off + len;
			}
		}
		r->pending[k++] = e;
	}
	/* entries appended by splits follow the kept ones */
	memmove(r->pending + k, r->pending + n, (r->npending - n) * sizeof(*r->pending));
	r->npending = k + (r->npending - n);
	return 0;
}

static int need_write(ms_region *r, const char *what)
{
	if (r->info.mode != MS_MODE_WRITE)
		return cl_err(r->c, -EACCES,
			      "%s: region '%s' is open read-only; open it for writing",
			      what, r->info.name);
	return 0;
}

/* need_write, every piece inside the region, a connection. */
static int check_pieces(ms_region *r, const char *what, const struct ms_wpiece *p, size_t n)
{
	int ret;

	if ((ret = need_write(r, what)))
		return ret;
	for (size_t i = 0; i < n; i++)
		if ((ret = cl_check_range(r, what, p[i].off, p[i].len)))
			return ret;
	return cl_connected(r->c, what);
}

struct wprog {
	ms_region *r;
	ms_progress_fn fn;
	void *ud;
};

static void write_progress(void *ud, uint64_t done, uint64_t total)
{
	struct wprog *w = ud;

	/* a long transfer keeps the lease: the renewal is a control call,
	 * which keeps the data moving while it waits (transport.h); a
	 * refusal shows at the commit, as "fenced" */
	(void)cl_lease_tick(w->r);
	if (w->fn)
		w->fn(w->ud, done, total);
}

static uint64_t pieces_bytes(const struct ms_wpiece *p, size_t n)
{
	uint64_t b = 0;

	for (size_t i = 0; i < n; i++)
		b += p[i].len;
	return b;
}

/* The commit entries pieces p[0..n) make: one per chunk each touches. */
static size_t pieces_nents(const ms_region *r, const struct ms_wpiece *p, size_t n)
{
	uint64_t first, nch;
	size_t k = 0;

	for (size_t i = 0; i < n; i++) {
		ms_chunk_span(p[i].off, p[i].len, r->info.chunk_size, &first, &nch);
		k += nch;
	}
	return k;
}

/*
 * Write pieces p[0..n) as one transfer (their sources inside hint when it
 * is not NULL, else each borrowed), then fill ents (room for pieces_nents)
 * with one commit entry per chunk piece written, *nents of them.  Pending
 * ms_write() entries the pieces overwrite are superseded.  *bytes gets
 * what was sent.  Records nothing itself.
 */
static int write_pieces(ms_region *r, const struct ms_wpiece *p, size_t n, struct ms_xmr *hint,
			const struct ms_xfer_opts *o, uint64_t *bytes,
			struct ms_commit_ent *ents, size_t *nents)
{
	bool atomic = r->info.commit_mode == MS_COMMIT_ATOMIC;
	struct wprog wp = { r, o ? o->progress : NULL, o ? o->progress_ud : NULL };
	struct ms_xfer_cb cb = { .progress = write_progress, .ud = &wp };
	ms_client *c = r->c;
	struct cl_lmr *lmr = calloc(n, sizeof(*lmr));
	struct ms_seg *segs = calloc(n, sizeof(*segs));
	uint64_t *soff = calloc(n, sizeof(*soff));
	uint64_t first, nch, poff, plen, scur0 = r->scur;
	struct ms_whash wh = { 0 };
	size_t k = 0;
	int ret = 0;

	*bytes = 0;
	*nents = 0;
	if (!segs || !lmr || !soff) {
		ret = cl_err(c, -ENOMEM, "write: out of memory");
		goto out;
	}
	if ((ret = cl_lease_tick(r)))
		goto out;
	for (size_t i = 0; i < n; i++) {
		const struct ms_rdesc *remote = &r->data;
		uint64_t roff = p[i].off;

		if (hint)
			lmr[i].mr = hint;
		else if ((ret = cl_borrow(c, "write", p[i].src, p[i].len, &lmr[i])))
			goto out;
		/* atomic: into the lease's staging, never the region */
		if (atomic && (ret = cl_stage_alloc(r, p[i].len, &soff[i], &remote, &roff)))
			goto out;
		segs[i] = (struct ms_seg){ .op = MS_XOP_WRITE, .local = (void *)p[i].src,
					   .len = p[i].len, .lmr = lmr[i].mr, .remote = remote,
					   .roff = roff };
		if ((ret = pending_supersede(r, p[i].off, p[i].len)))
			goto out;
	}
	/* the commit entries, hashed on other threads while the WRITEs fly */
	ms_whash_begin(&wh, pieces_nents(r, p, n), pieces_bytes(p, n));
	for (size_t i = 0; i < n; i++) {
		size_t k0 = k;

		ms_chunk_span(p[i].off, p[i].len, r->info.chunk_size, &first, &nch);
		for (uint64_t j = 0; j < nch; j++, k++) {
			cl_chunk_piece(r, first + j, p[i].off, p[i].len, &poff, &plen);
			ents[k].off = poff;
			ents[k].len = plen;
			ents[k].soff = atomic ? soff[i] + (poff - p[i].off) : 0;
			ents[k].flags = 0;
			if (p[i].hash)
				memcpy(ents[k].hash, p[i].hash + j * MS_HASH_LEN, MS_HASH_LEN);
		}
		if (!p[i].hash)
			ms_whash_add(&wh, p[i].src + (ents[k0].off - p[i].off), ents + k0, k - k0);
	}
	ms_whash_go(&wh);
	ret = cl_run(c, "write", segs, n, &cb, bytes);
	if (ret == -EACCES && atomic) {
		/* a staging key is revoked only when the lease is fenced: say
		 * that, with the server's reason when the connection still
		 * carries a renewal (over RDMA the revoked key broke it); a
		 * region that migrated answers the renewal with MOVED, which
		 * the caller follows (client_redirect.c) */
		int rr = c->x ? ms_lease_renew(r) : -ENOTCONN;

		if (rr == -EREMCHG) {
			ret = -EREMCHG;
			goto out;
		}
		if (rr != -ESTALE)
			(void)cl_err(c, -ESTALE,
				     "fenced: write access to region '%s' (epoch %llu) was revoked: "
				     "its lease lapsed, was broken or was handed over",
				     r->info.name, (unsigned long long)r->info.epoch);
		ret = -ESTALE;
		goto out;
	}
	if (ret)
		goto out;
	scur0 = r->scur;     /* written: the staging it took stays taken */
	*nents = k;
out:
	ms_whash_end(&wh);   /* the hashes computed beside the WRITEs */
	/* a batch that was not written gives its staging back */
	r->scur = scur0;
	for (size_t i = 0; lmr && i < n; i++)
		cl_return(c, &lmr[i]);
	free(lmr);
	free(segs);
	free(soff);
	return ret;
}

/* Commit ents[0..n) as one commit, in messages of up to
 * MS_COMMIT_MAX_ENTS entries (all but the last flagged MORE: the server
 * applies them together with the last); *gen (may be NULL) gets its
 * generation.  Atomic mode: the staging it used is free again after. */
static int commit_ents(ms_region *r, const struct ms_commit_ent *ents, size_t n,
		       uint64_t *gen)
{
	ms_client *c = r->c;
	size_t done = 0;

	if (!n)
		return 0;
	/* no renewal first: a COMMIT renews the lease itself, and a fenced
	 * writer's commit reaches the server, which counts it refused */
	do {
		struct ms_msg_commit m = {
			.handle = r->handle,
			.epoch = r->info.epoch,
			.n = (uint32_t)MS_MIN(n - done, (size_t)MS_COMMIT_MAX_ENTS),
			.ents = (struct ms_commit_ent *)ents + done,
		};
		struct ms_msg_gen g;
		int len;

		if (done + m.n < n)
			m.flags = MS_COMMITMSG_MORE;
		len = cl_call(c, "commit", ms_enc_commit(c->msg, MS_CTRL_MAX, &m),
			      MS_MSG_COMMIT_OK);
		if (len < 0)
			return len;
		if (ms_dec_gen(c->resp, (size_t)len, MS_MSG_COMMIT_OK, &g))
			return cl_err(c, -EPROTO, "commit: malformed reply");
		done += m.n;
		if (done == n) {
			r->info.generation = g.generation;
			if (gen)
				*gen = g.generation;
		}
	} while (done < n);
	r->renewed_ns = ms_now_ns();     /* a commit renews the lease */
	cl_stage_reset(r);
	return 0;
}

/* The commit entries of a stream, grown batch by batch. */
struct ents {
	struct ms_commit_ent *v;
	size_t n, cap;
};

static int ents_reserve(ms_region *r, struct ents *e, size_t more)
{
	struct ms_commit_ent *v;
	size_t cap = e->cap ? e->cap : 256;

	if (e->v && e->n + more <= e->cap)
		return 0;
	while (cap < e->n + more)
		cap *= 2;
	v = realloc(e->v, cap * sizeof(*v));
	if (!v) {
		(void)cl_err(r->c, -ENOMEM, "write: out of memory");
		return -ENOMEM;   /* said here, so the analyzer sees it is not 0 */
	}
	e->v = v;
	e->cap = cap;
	return 0;
}

/* Commit what e holds (the whole stream, or the part of it that fits the
 * lease's staging limit when it outgrew it) and count it in s. */
static int commit_part(ms_region *r, struct ents *e, bool *pend_in, struct ms_commit_res *s)
{
	uint64_t g = 0;
	int ret;

	if (!e->n)
		return 0;
	if ((ret = commit_ents(r, e->v, e->n, &g)))
		return ret;
	if (!s->commits++)
		s->gen_first = g;
	s->gen_last = g;
	e->n = 0;
	if (*pend_in) {
		/* the pending ms_write() entries went with it */
		r->npending = 0;
		r->pend_end = 0;
		*pend_in = false;
	}
	return 0;
}

/* Write pieces p[0..n) and add their entries to e.  Atomic mode, past the
 * staging limit: commit what e holds first and go on (the stream is then
 * no longer atomic as a whole), halving batches that do not fit at all. */
static int write_batch(ms_region *r, const struct ms_wpiece *p, size_t n, struct ms_xmr *hint,
		       const struct ms_xfer_opts *o, struct ents *e, bool *pend_in,
		       struct ms_commit_res *s)
{
	size_t done = 0, take = n, k;
	uint64_t b;
	int ret;

	while (done < n) {
		if (p[done].zero) {     /* client_zero.h: no bytes */
			if ((ret = ents_reserve(r, e, 1)))
				return ret;
			cl_zero_piece(&p[done++], &e->v[e->n++]);
			take = n;
			continue;
		}
		take = MS_MIN(take, cl_zero_before(p + done, n - done));
		if ((ret = check_pieces(r, "write", p + done, take)) ||
		    (ret = ents_reserve(r, e, pieces_nents(r, p + done, take))))
			return ret;
		ret = write_pieces(r, p + done, take, hint, o, &b, e->v + e->n, &k);
		s->bytes += b;
		if (ret == -E2BIG && e->n) {
			if ((ret = commit_part(r, e, pend_in, s)))
				return ret;
			r->c->errmsg[0] = '\0';    /* handled: the stream goes on */
			continue;
		}
		if (ret == -E2BIG && take > 1) {
			take /= 2;
			continue;
		}
		if (ret)
			return ret;
		e->n += k;
		done += take;
	}
	return 0;
}

/*
 * ms_region_commit_stream, with the sources' registration when the caller
 * holds one that covers them all (hint), progress, and (with_pending) the
 * region's pending ms_write() entries named by the same commit, first,
 * cleared once it succeeded (ms_push: ms_write's leftovers and its pieces
 * are one commit, the pieces applied last).  Each batch is written as it
 * comes; its commit entries join the stream's, and the one commit at the
 * end names them all (several only past an atomic lease's staging
 * limit).  Nothing is recorded before a commit succeeds.
 */
static int commit_stream(ms_region *r, ms_fill_fn fill, void *ud, struct ms_xmr *hint,
			 const struct ms_xfer_opts *o, bool with_pending,
			 struct ms_commit_res *res)
{
	struct ms_commit_res s = { 0 };
	struct ents e = { 0 };
	struct ms_wpiece *p = NULL;
	bool wrote = false, pend_in = false;
	int n, ret;

	/* the connection is checked once there is something to send: a
	 * stream of nothing succeeds on a dead one (a map sync with nothing
	 * written does) */
	if ((ret = need_write(r, "write")))
		goto out;
	p = malloc(MS_STREAM_PIECES * sizeof(*p));
	if (!p) {
		ret = cl_err(r->c, -ENOMEM, "write: out of memory");
		goto out;
	}
	if (with_pending && r->npending) {
		if ((ret = ents_reserve(r, &e, r->npending)))
			goto out;
		memcpy(e.v, r->pending, r->npending * sizeof(*e.v));
		e.n = r->npending;
		pend_in = true;
	}
	while ((n = fill(ud, p, MS_STREAM_PIECES)) > 0) {
		if (n > MS_STREAM_PIECES) {
			ret = cl_err(r->c, -EINVAL, "write: a batch of %d pieces, more than %d",
				     n, MS_STREAM_PIECES);
			goto out;
		}
		if ((ret = write_batch(r, p, (size_t)n, hint, o, &e, &pend_in, &s)))
			goto out;
		wrote = true;
	}
	if (n < 0) {
		ret = cl_err(r->c, n, "write: the source of the pieces failed: %s", strerror(-n));
		goto out;
	}
	s.sent = wrote;
	s.commit_ns = ms_now_ns();
	ret = commit_part(r, &e, &pend_in, &s);
	s.commit_ns = ms_now_ns() - s.commit_ns;
out:
	free(p);
	free(e.v);
	if (res)
		*res = s;
	return ret;
}

int ms_region_commit_stream(ms_region *r, ms_fill_fn fill, void *ud,
			    struct ms_commit_res *res)
{
	/* -EREMCHG (c->moved) when the region migrated: a lazy mapping's
	 * sync reconnects there and pushes again (map_sync.c) */
	return cl_redirect_check(r, commit_stream(r, fill, ud, NULL, NULL, false, res));
}

/* A fill that hands out an array's pieces, cap at a time. */
struct arr_fill {
	const struct ms_wpiece *p;
	size_t n, next;
};

static int arr_fill(void *ud, struct ms_wpiece *p, size_t cap)
{
	struct arr_fill *a = ud;
	size_t k = MS_MIN(cap, a->n - a->next);

	if (k)
		memcpy(p, a->p + a->next, k * sizeof(*p));
	a->next += k;
	return (int)k;
}

int ms_region_commit_pieces(ms_region *r, const struct ms_wpiece *p, size_t n,
			    struct ms_commit_res *res)
{
	struct arr_fill a = { .p = p, .n = n };

	return commit_stream(r, arr_fill, &a, NULL, NULL, false, res);
}

int ms_write(ms_region *r, uint64_t off, const void *src, uint64_t len,
		       const struct ms_xfer_opts *o, struct ms_xfer_stats *st)
{
	struct ms_wpiece piece = { .off = off, .src = src, .len = len };
	struct ms_xfer_stats s = { 0 };
	struct ms_commit_ent *ents = NULL;
	struct ms_xfer_opts oc;
	uint64_t c0, nch, t0 = ms_now_ns();
	size_t nents = 0;
	int ret;

	if ((ret = cl_xfer_opts(r->c, "write", o, &oc)))
		return ret;
	o = &oc;
	if ((ret = check_pieces(r, "write", &piece, 1)))
		return ret;
	ms_chunk_span(off, len, r->info.chunk_size, &c0, &nch);
	ents = malloc(nch * sizeof(*ents));
	if (!ents) {
		ret = cl_err(r->c, -ENOMEM, "write: out of memory");
		goto out;
	}
	ret = write_pieces(r, &piece, 1, NULL, o, &s.bytes, ents, &nents);
	for (size_t i = 0; !ret && i < nents; i++)
		ret = pending_add(r, &ents[i]);
	s.chunks_total = s.chunks_moved = nch;
out:
	free(ents);
	s.ns = ms_now_ns() - t0;
	if (st)
		*st = s;
	return ret;
}

/* ret, r's request failed: when the region moved, follow it and say
 * whether the caller may redo (true), else ret stays. */
static bool follow_moved(ms_region *r, const char *what, int *ret)
{
	size_t dropped = r->npending;
	uint64_t old_epoch = r->info.epoch;
	char from[272];

	if (r->info.mode != MS_MODE_WRITE || cl_redirect_check(r, *ret) != -EREMCHG)
		return false;
	snprintf(from, sizeof(from), "%s:%s", r->c->host, r->c->port);
	*ret = cl_follow(r->c, what, r->info.name);
	if (*ret)
		return false;
	if (dropped) {
		/* reopen forgot them: the new server never saw their bytes */
		*ret = cl_err(r->c, -EREMCHG, "%s: region '%s' moved from %s to %s:%s (the "
			      "writer holds its lease there now, epoch %llu after %llu): %zu "
			      "uncommitted ms_write() range(s) were dropped; write them again",
			      what, r->info.name, from, r->c->host, r->c->port,
			      (unsigned long long)r->info.epoch,
			      (unsigned long long)old_epoch, dropped);
		return false;
	}
	return true;
}

int ms_sync(ms_region *r)
{
	int ret;

	if ((ret = need_write(r, "sync")))
		return ret;
	ret = commit_ents(r, r->pending, r->npending, NULL);
	if (ret && follow_moved(r, "sync", &ret))
		ret = commit_ents(r, r->pending, r->npending, NULL);
	if (ret)
		return ret;
	r->npending = 0;
	r->pend_end = 0;
	return 0;
}

/* 1 if the server's bytes [off, off+len) differ from src, 0 if equal. */
static int piece_differs(ms_region *r, uint64_t off, uint64_t len, const uint8_t *src)
{
	uint8_t *buf = malloc(len);
	struct cl_lmr l;
	int ret;

	if (!buf)
		return cl_err(r->c, -ENOMEM, "push: out of memory");
	ret = cl_borrow(r->c, "push", buf, len, &l);
	if (ret) {
		free(buf);
		return ret;
	}
	struct ms_seg seg = { .op = MS_XOP_READ, .local = buf, .len = len, .lmr = l.mr,
			      .remote = &r->data, .roff = off };
	ret = cl_run(r->c, "push", &seg, 1, NULL, NULL);
	if (!ret)
		ret = memcmp(buf, src, len) != 0;
	cl_return(r->c, &l);
	free(buf);
	return ret;
}

static int push_once(ms_region *r, uint64_t off, const void *src, uint64_t len,
		     const struct ms_xfer_opts *o, struct ms_xfer_stats *st)
{
	const uint8_t *s8 = src;
	struct ms_wpiece whole = { .off = off, .src = src, .len = len };
	struct ms_xfer_stats s = { 0 };
	struct ms_chunkmap diff = { 0 };
	struct ms_commit_res res = { 0 };
	uint8_t (*hashes)[MS_HASH_LEN] = NULL;
	uint8_t *meta = NULL;
	struct ms_wpiece *pieces = NULL;
	struct cl_lmr l = { 0 };
	struct ms_xfer_opts oc;
	uint64_t c0, nch, poff, plen, t0 = ms_now_ns();
	struct ms_commit_ent *zents = NULL;
	size_t np = 0, nz = 0, npend0 = r->npending;
	int ret;

	if ((ret = cl_xfer_opts(r->c, "push", o, &oc)))
		return ret;
	o = &oc;
	if ((ret = check_pieces(r, "push", &whole, 1)))
		return ret;
	ms_chunk_span(off, len, r->info.chunk_size, &c0, &nch);
	meta = malloc(nch * MS_META_ENTRY_SIZE);
	hashes = malloc(nch * sizeof(*hashes));
	pieces = malloc(nch * sizeof(*pieces));
	zents = malloc(nch * sizeof(*zents));
	if (!meta || !hashes || !pieces || !zents || ms_chunkmap_init(&diff, nch)) {
		ret = cl_err(r->c, -ENOMEM, "push: out of memory");
		goto out;
	}
	ret = cl_read_meta(r, c0, nch, meta);
	if (ret)
		goto out;
	/* send a chunk when its committed hash differs from ours; a piece
	 * that covers a chunk only partly (at most the first and the last)
	 * is compared byte for byte with what the server holds */
	for (uint64_t i = 0; i < nch; i++) {
		/* hashing a large source takes time: keep the lease meanwhile */
		if (i % 1024 == 0 && (ret = cl_lease_tick(r)))
			goto out;
		cl_chunk_piece(r, c0 + i, off, len, &poff, &plen);
		ms_chunk_hash(s8 + (poff - off), plen, hashes[i]);
		if (cl_chunk_whole(r, c0 + i, plen)) {
			if (!ms_hash_eq(hashes[i], ms_meta_hash(meta, i)))
				ms_chunkmap_set(&diff, i);
			continue;
		}
		ret = piece_differs(r, poff, plen, s8 + (poff - off));
		if (ret < 0)
			goto out;
		if (ret)
			ms_chunkmap_set(&diff, i);
	}
	s.chunks_total = nch;
	s.chunks_moved = ms_chunkmap_count(&diff);
	/* chunks that became zero: a ZERO entry each, no byte sent (issue 13);
	 * they join the pending entries this commit names, after them */
	nz = cl_zero_push(r, &diff, c0, off, len, (const uint8_t(*)[MS_HASH_LEN])hashes, zents);
	ret = 0;    /* piece_differs() left 1 here */
	for (size_t i = 0; i < nz && !ret; i++)
		ret = pending_add(r, &zents[i]);
	if (ret)
		goto out;
	if (ms_chunkmap_count(&diff)) {
		uint64_t group = MS_MAX(1u, r->c->x->max_io / r->info.chunk_size);
		uint64_t pos = 0, start, n, a, alen, b, blen;

		/* one registration of src for every piece */
		if ((ret = cl_borrow(r->c, "push", src, len, &l)))
			goto out;
		while (ms_chunkmap_next_run(&diff, &pos, &start, &n, group)) {
			cl_chunk_piece(r, c0 + start, off, len, &a, &alen);
			cl_chunk_piece(r, c0 + start + n - 1, off, len, &b, &blen);
			pieces[np++] = (struct ms_wpiece){ .off = a, .src = s8 + (a - off),
							   .len = b + blen - a,
							   .hash = hashes[start] };
		}
	}
	/* the pieces and what ms_write() left to commit, in one commit */
	{
		struct arr_fill a = { .p = pieces, .n = np };

		ret = commit_stream(r, arr_fill, &a, l.mr, o, true, &res);
		s.bytes = res.bytes;
		s.commits = res.commits;
	}
out:
	/* a push that did not commit leaves no ZERO entry pending */
	if (ret && nz)
		r->npending = MS_MIN(r->npending, npend0);
	cl_return(r->c, &l);
	ms_chunkmap_free(&diff);
	free(zents);
	free(meta);
	free(hashes);
	free(pieces);
	s.ns = ms_now_ns() - t0;
	if (st)
		*st = s;
	return ret;
}

int ms_push(ms_region *r, uint64_t off, const void *src, uint64_t len,
		      const struct ms_xfer_opts *o, struct ms_xfer_stats *st)
{
	int ret = push_once(r, off, src, len, o, st);

	/* the region migrated: once more at its new place */
	if (ret && follow_moved(r, "push", &ret))
		ret = push_once(r, off, src, len, o, st);
	return ret;
}
