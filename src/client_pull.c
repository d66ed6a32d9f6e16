/* SPDX-License-Identifier: Apache-2.0 */
/*
 * client_pull.c - verified pulls (ms_pull, ms_pull_gens) and reads of the
 * region's metadata table (ms_chunk_generations).
 *
 * A round reads the table, the chunks still to do and the table again (a
 * seqlock): a chunk is good when its generation did not move and its
 * bytes hash to the committed value; the others go to the next round, up
 * to PULL_ROUNDS of them.  What is still left then is read under a hold
 * (HOLD ... RELEASE, region_hold.h): the server applies no commit
 * meanwhile, so commits that keep coming cannot starve the pull.
 *
 * A consistent pull (ms_xfer_opts.consistent) returns the range as of one
 * commit.  A first round that reads every chunk whole and finds each one
 * verified and the table unchanged is such a copy (a commit lands all its
 * bytes before it stamps a generation, so a chunk it changed either shows
 * its new generation or fails its hash); otherwise, after a few rounds,
 * the pull takes a hold, reads the table and re-reads every chunk whose
 * generation differs from the one its bytes were verified against: with
 * no commit applied during the hold, every chunk is then as of the
 * generation the hold reported (docs/design.md, "Reads under a steady
 * writer").
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "client_priv.h"
#include "client_zero.h"
#include "hashpool.h"
#include "pull_alone.h"
#include "pull_reg.h"
#include "client_streams.h"

#define PULL_ROUNDS 5
#define CONSISTENT_ROUNDS 3      /* optimistic rounds of a consistent pull */
#define HOLD_TRIES 3             /* holds a pull takes before it gives up */
#define HOLD_SETTLE_MS 30000     /* asking again until a hold is in force (a
				 * commit being applied may take seconds) */
#define META_BUF_MAX (1u << 20)  /* metadata reads up to this reuse one registration */
#define META_SEG UINT64_MAX      /* seg_first[] of the metadata segment */
#define GENS_BATCH (1u << 15)    /* entries per read of ms_chunk_generations (1 MiB) */
#define FETCH_TRIES 64           /* FETCHes of absent chunks per pull */
#define ZERO_MIN_CHUNKS 4        /* pulls of fewer chunks read zero chunks too */

/* The region's own landing area for metadata reads of len bytes, registered
 * once (a small pull then costs no registration, which over RDMA is a
 * system call and page pinning): *use is true when it serves this read
 * (r->mbuf, grown when needed), false for a read too large to keep a
 * buffer for. */
static int meta_buf(ms_region *r, size_t len, bool *use)
{
	struct ms_xmr *mr = NULL;
	size_t cap = MS_MAX(len, (size_t)4096);
	uint8_t *b;
	int ret;

	*use = len <= META_BUF_MAX;
	if (!*use || (r->mbuf_mr && len <= r->mbuf_cap))
		return 0;
	if ((ret = cl_connected(r->c, "read metadata")))
		return ret;
	if (r->mbuf_mr)
		r->c->ops->dereg_mr(r->c->x, r->mbuf_mr);
	r->mbuf_mr = NULL;
	free(r->mbuf);
	r->mbuf = NULL;
	r->mbuf_cap = 0;
	b = malloc(cap);
	if (!b)
		return cl_err(r->c, -ENOMEM, "out of memory");
	ret = cl_reg(r->c, NULL, b, cap, &mr);
	if (ret) {
		free(b);
		return ret;
	}
	r->mbuf = b;
	r->mbuf_cap = cap;
	r->mbuf_mr = mr;
	return 0;
}

int cl_read_meta(ms_region *r, uint64_t c0, uint64_t n, void *buf)
{
	struct ms_seg seg = {
		.op = MS_XOP_READ,
		.local = buf,
		.len = n * MS_META_ENTRY_SIZE,
		.remote = &r->meta,
		.roff = c0 * MS_META_ENTRY_SIZE,
	};
	struct cl_lmr l;
	bool cached;
	int ret;

	if ((ret = cl_connected(r->c, "read metadata")))
		return ret;
	ret = meta_buf(r, seg.len, &cached);
	if (ret)
		return ret;
	if (cached && r->mbuf) {
		seg.local = r->mbuf;
		seg.lmr = r->mbuf_mr;
		ret = cl_run(r->c, "read metadata", &seg, 1, NULL, NULL);
		if (!ret)
			memcpy(buf, r->mbuf, seg.len);
		return ret;
	}
	if ((ret = cl_borrow(r->c, "read metadata", buf, seg.len, &l)))
		return ret;
	seg.lmr = l.mr;
	ret = cl_run(r->c, "read metadata", &seg, 1, NULL, NULL);
	cl_return(r->c, &l);
	return ret;
}

struct pull {
	ms_region *r;
	uint8_t *dst;
	uint64_t off, len, c0, nch, group;
	bool whole;                    /* every chunk of the range is whole */
	bool no_verify;
	bool consistent;               /* ms_xfer_opts.consistent */
	uint64_t *acc;                 /* per chunk: the generation its bytes
					* were verified against */
	uint8_t *meta1, *meta2;        /* the table before and after the data */
	bool meta1_fresh;              /* meta1 read for this round already */
	const uint8_t *meta;           /* entries for c0.. of this round */
	struct ms_chunkmap todo;       /* chunks still to read */
	struct ms_chunkmap bad;        /* this round: hash mismatch */
	struct ms_seg *segs;
	uint64_t *seg_first;
	struct cl_preg preg;           /* dst, registered piece by piece */
	uint64_t *gens;                /* ms_pull_gens: per chunk, may be NULL */
	uint8_t *hashes;
	ms_progress_fn progress;
	void *progress_ud;
	uint64_t progress_base, progress_total;
	struct ms_xfer_stats s;
	struct ms_hashpool *pool;      /* verification beside the READs (NULL: inline) */
	struct ms_hpbatch hb;
	struct pull_job { struct pull *p; size_t idx; } *jobs;
};

/* Hash a landed segment's whole chunks against the table read before (on
 * a worker of p->pool, or inline). */
static int pull_seg_verify(void *arg)
{
	struct pull_job *j = arg;
	struct pull *p = j->p;
	size_t idx = j->idx;
	const ms_region *r = p->r;
	uint64_t first = p->seg_first[idx];
	uint64_t end = first + ms_div_round_up(p->segs[idx].len, r->info.chunk_size) + 1;
	uint8_t h[MS_HASH_LEN];
	uint64_t poff, plen;

	for (uint64_t i = first; i < end && i < p->bad.nbits; i++) {
		if (!cl_chunk_piece(r, p->c0 + i, p->off, p->len, &poff, &plen) ||
		    poff >= p->segs[idx].roff + p->segs[idx].len)
			break;
		if (!cl_chunk_whole(r, p->c0 + i, plen))
			continue;
		ms_chunk_hash(p->dst + (poff - p->off), plen, h);
		if (!ms_hash_eq(h, ms_meta_hash(p->meta, i)))    /* workers share words */
			__atomic_fetch_or(&p->bad.words[i / 64], 1ull << (i % 64),
					  __ATOMIC_RELAXED);
	}
	return 0;
}

/* A segment landed: verify it, beside the READs still in flight when the
 * pull has a pool (pull_round waits for all before its seqlock re-read). */
static void pull_seg_done(void *ud, size_t idx)
{
	struct pull *p = ud;

	if (p->seg_first[idx] == META_SEG)
		return;         /* the table itself, read ahead of the data */
	p->jobs[idx] = (struct pull_job){ p, idx };
	if (ms_hashpool_submit(p->pool, &p->hb, pull_seg_verify, &p->jobs[idx]))
		(void)pull_seg_verify(&p->jobs[idx]);
}

static void pull_progress(void *ud, uint64_t done, uint64_t total)
{
	struct pull *p = ud;

	if (p->progress)
		p->progress(p->progress_ud, MS_MIN(p->progress_base + done,
						  p->progress_total),
			    p->progress_total);
}

/* Everything a pull of [off, off+len) into dst needs, for every round. */
static int pull_setup(struct pull *p, ms_region *r, uint64_t off, void *dst, uint64_t len,
		      const struct ms_xfer_opts *o)
{
	ms_client *c = r->c;
	int ret;

	p->r = r;
	p->dst = dst;
	p->off = off;
	p->len = len;
	ms_chunk_span(off, len, r->info.chunk_size, &p->c0, &p->nch);
	p->group = MS_MAX(1u, c->x->max_io / r->info.chunk_size);
	p->whole = off % r->info.chunk_size == 0 &&
		   (len % r->info.chunk_size == 0 || off + len == r->info.size);
	p->no_verify = o->no_verify;
	p->consistent = o->consistent && !o->no_verify;
	p->progress = o->progress;
	p->progress_ud = o->progress_ud;
	p->progress_total = len;
	if ((ret = cl_preg_init(&p->preg, r, off, dst, len)))
		return ret;
	size_t nsegs = p->nch + 1 + cl_preg_extra(&p->preg);

	p->meta1 = malloc(p->nch * MS_META_ENTRY_SIZE);
	p->meta2 = malloc(p->nch * MS_META_ENTRY_SIZE);
	p->segs = malloc(nsegs * sizeof(*p->segs));
	p->seg_first = malloc(nsegs * sizeof(*p->seg_first));
	p->acc = calloc(p->nch, sizeof(*p->acc));
	p->jobs = malloc(nsegs * sizeof(*p->jobs));
	if (!p->meta1 || !p->meta2 || !p->segs || !p->seg_first || !p->acc || !p->jobs ||
	    ms_chunkmap_init(&p->todo, p->nch) || ms_chunkmap_init(&p->bad, p->nch))
		return cl_err(c, -ENOMEM, "pull: out of memory");
	ms_chunkmap_set_range(&p->todo, 0, p->nch);
	p->s.chunks_total = p->nch;
	if (!p->no_verify)
		p->pool = ms_hashpool_for(ms_div_round_up(p->nch, p->group));
	return 0;
}

static void pull_free(struct pull *p)
{
	ms_hashpool_free(p->pool);
	if (p->r)
		cl_preg_fini(&p->preg);
	free(p->jobs);
	ms_chunkmap_free(&p->todo);
	ms_chunkmap_free(&p->bad);
	free(p->meta1);
	free(p->meta2);
	free(p->segs);
	free(p->seg_first);
	free(p->acc);
}

/* One round: read the chunks still to do and verify them.  Returns how
 * many must be read again (0: done), or -errno; *bytes gets the data
 * bytes moved. */
static int64_t pull_round(struct pull *p, uint64_t *bytes)
{
	ms_region *r = p->r;
	uint64_t again = 0, mlen = p->nch * MS_META_ENTRY_SIZE;
	bool piped = false;
	int ret;

	*bytes = 0;
	if (!p->no_verify) {
		/* When every chunk is whole (hash-checked), the table's READ
		 * goes out right ahead of the data's on the same connection,
		 * one round trip sooner: a server serves them in order, and
		 * should a device read the data first, the hash still rejects
		 * bytes that are not the ones the table names.  Partial chunks
		 * have only the generations to go by, so the table is read
		 * first, on its own. */
		ret = p->whole && !p->meta1_fresh ? meta_buf(r, mlen, &piped) : 0;
		if (!ret && !piped && !p->meta1_fresh)
			ret = cl_read_meta(r, p->c0, p->nch, p->meta1);
		if (ret)
			return ret;
	}
	size_t k0 = piped ? 1 : 0;
	size_t nseg = k0 + cl_build_segs(r, &p->todo, p->c0, p->off, p->len, p->group,
					 MS_XOP_READ, p->dst, NULL, p->segs + k0,
					 p->seg_first + k0);

	if (piped) {
		p->segs[0] = (struct ms_seg){ .op = MS_XOP_READ, .local = r->mbuf, .len = mlen,
					      .lmr = r->mbuf_mr, .remote = &r->meta,
					      .roff = p->c0 * MS_META_ENTRY_SIZE };
		p->seg_first[0] = META_SEG;
	}
	struct ms_xfer_cb cb = {
		.seg_done = p->no_verify ? NULL : pull_seg_done,
		.progress = pull_progress,
		.ud = p,
	};
	p->meta = piped ? r->mbuf : p->meta1;
	p->meta1_fresh = false;
	ms_chunkmap_clear_all(&p->bad);
	/* dst's pieces registered just ahead of their READs (pull_reg.h);
	 * a pull striped over several streams (client_streams.h) has every
	 * piece registered first: the streams move them all at once */
	nseg = cl_preg_split(&p->preg, p->segs, p->seg_first, k0, nseg, p->c0, r->info.chunk_size);
	if (cl_streams_wanted(r, p->segs, nseg)) {
		ret = cl_preg_all(&p->preg, p->segs, k0, nseg);
		if (!ret)
			ret = cl_streams_run(r, "pull", p->segs, nseg, &cb, bytes);
	} else {
		ret = cl_preg_run(&p->preg, "pull", p->segs, k0, nseg, &cb, bytes);
	}
	(void)ms_hashpool_wait(p->pool, &p->hb);     /* every landed segment verified */
	if (piped) {
		*bytes -= MS_MIN(*bytes, mlen);   /* data bytes only */
		if (!ret && r->mbuf)
			memcpy(p->meta1, r->mbuf, mlen);
	}
	p->s.bytes += *bytes;
	p->s.chunks_moved += ms_chunkmap_count(&p->todo);
	if (ret || p->no_verify)
		return ret;
	/* seqlock: a chunk whose generation moved while we read it, or whose
	 * bytes do not hash to the committed value, is read again.  A pull
	 * of a few whole chunks, not consistent, each verified against the
	 * table read before: its hash alone says the bytes are meta1's
	 * (pull_alone.h), one round trip less (a fault of a lazy mapping) */
	if (!p->consistent && p->whole && p->nch < ZERO_MIN_CHUNKS &&
	    cl_pull_alone(p->meta1, &p->todo, &p->bad, p->nch))
		memcpy(p->meta2, p->meta1, mlen);
	else
		ret = cl_read_meta(r, p->c0, p->nch, p->meta2);
	if (ret)
		return ret;
	for (uint64_t i = 0; i < p->nch; i++) {
		bool redo = ms_chunkmap_test(&p->bad, i) ||
			    ms_meta_gen(p->meta1, i) != ms_meta_gen(p->meta2, i);

		if (ms_chunkmap_test(&p->todo, i) && redo) {
			again++;
			continue;
		}
		if (ms_chunkmap_test(&p->todo, i)) {
			/* good in this round: these are its values */
			p->acc[i] = ms_meta_gen(p->meta1, i);
			if (p->gens)
				p->gens[i] = ms_meta_gen(p->meta1, i);
			if (p->hashes)
				memcpy(p->hashes + i * MS_HASH_LEN, ms_meta_hash(p->meta1, i),
				       MS_HASH_LEN);
		}
		ms_chunkmap_clear(&p->todo, i);
	}
	return (int64_t)again;
}

/* ---------------------------------------------------------------- holds */

/* RELEASE the hold of r: 0 with *ok, or -errno. */
static int cl_release(ms_region *r, struct ms_msg_hold_ok *ok)
{
	ms_client *c = r->c;
	struct ms_msg_handle m = { .handle = r->handle };
	int len = cl_call(c, "release", ms_enc_release(c->msg, MS_CTRL_MAX, &m),
			  MS_MSG_RELEASE_OK);

	if (len < 0)
		return len;
	if (ms_dec_hold_ok(c->resp, (size_t)len, MS_MSG_RELEASE_OK, ok))
		return cl_err(c, -EPROTO, "release: malformed RELEASE_OK from %s:%s", c->host,
			      c->port);
	return 0;
}

/* HOLD the commits of r until the hold is in force with no commit being
 * applied (the server says "settled"), asking again while a commit is
 * applied or waits to be: 0 with *gen, the generation every chunk is at
 * until the hold ends, or -errno. */
static int cl_hold(ms_region *r, uint64_t *gen)
{
	ms_client *c = r->c;
	struct ms_msg_hold m = { .handle = r->handle, .ms = MS_HOLD_MAX_MS };
	struct ms_msg_hold_ok ok, rel;
	uint64_t deadline = ms_now_ns() + HOLD_SETTLE_MS * 1000000ull;
	long pause_ns = 100000;
	int len;

	for (;;) {
		len = cl_call(c, "hold", ms_enc_hold(c->msg, MS_CTRL_MAX, &m), MS_MSG_HOLD_OK);
		if (len < 0)
			return len;
		if (ms_dec_hold_ok(c->resp, (size_t)len, MS_MSG_HOLD_OK, &ok))
			return cl_err(c, -EPROTO, "hold: malformed HOLD_OK from %s:%s", c->host,
				      c->port);
		if (ok.flags & MS_HOLD_F_SETTLED) {
			*gen = ok.generation;
			return 0;
		}
		if (ms_now_ns() > deadline) {
			if (ok.ms)
				(void)cl_release(r, &rel);
			return cl_err(c, -ETIMEDOUT,
				      "pull: the server did not hold the commits of region '%s' "
				      "within %d s", r->info.name, HOLD_SETTLE_MS / 1000);
		}
		nanosleep(&(struct timespec){ .tv_nsec = pause_ns }, NULL);
		pause_ns = MS_MIN(pause_ns * 2, 20000000L);
	}
}

/* Under a hold: the chunks whose generation moved since their bytes were
 * verified go back to todo.  Returns how many, or -errno. */
static int64_t pull_stale(struct pull *p)
{
	int64_t n = 0;
	int ret = cl_read_meta(p->r, p->c0, p->nch, p->meta2);

	if (ret)
		return ret;
	for (uint64_t i = 0; i < p->nch; i++) {
		if (!ms_chunkmap_test(&p->todo, i) && p->acc[i] != ms_meta_gen(p->meta2, i)) {
			ms_chunkmap_set(&p->todo, i);
			n++;
		}
	}
	return n;
}

/* Read what is left (and, for a consistent pull, what changed) under a
 * hold; a hold that expired before the release, or a commit published
 * meanwhile, makes a consistent pull take another. */
static int pull_hold(struct pull *p)
{
	ms_region *r = p->r;
	uint64_t pos = 0, first = 0, n = 0;

	for (int t = 0; t < HOLD_TRIES; t++) {
		struct ms_msg_hold_ok rel = { 0 };
		uint64_t gen = 0, bytes = 0;
		int64_t again = 0, stale = 0;
		int ret = cl_hold(r, &gen), rret;

		if (ret)
			return ret;
		if (p->consistent)
			stale = pull_stale(p);
		if (stale >= 0 && ms_chunkmap_count(&p->todo)) {
			p->s.chunks_retried += ms_chunkmap_count(&p->todo);
			again = pull_round(p, &bytes);
			p->progress_base += bytes;
		}
		if (stale < 0 || again < 0) {
			/* the failure's message stays; a live connection
			 * still gives the hold back */
			ret = (int)(stale < 0 ? stale : again);
			if (r->c->x) {
				char msg[sizeof(r->c->errmsg)];

				memcpy(msg, r->c->errmsg, sizeof(msg));
				(void)cl_release(r, &rel);
				memcpy(r->c->errmsg, msg, sizeof(msg));
			}
			return ret;
		}
		rret = cl_release(r, &rel);
		if (rret)
			return rret;
		if (again == 0 && (!p->consistent ||
				   ((rel.flags & MS_HOLD_F_INTACT) && rel.generation == gen)))
			return 0;
	}
	if (!ms_chunkmap_count(&p->todo))
		return cl_err(r->c, -ETIMEDOUT,
			      "pull: region '%s' changed during each of %d holds: reading it "
			      "took longer than a hold lasts (%u ms)",
			      r->info.name, HOLD_TRIES, MS_HOLD_MAX_MS);
	ms_chunkmap_next_run(&p->todo, &pos, &first, &n, 1);
	return cl_err(r->c, -EIO,
		      "pull: %llu chunk(s) of region '%s' (first: chunk %llu) do not match their "
		      "committed hash even while its commits were held (%d holds); is the region "
		      "written in place (commit=direct) or changed without a commit?",
		      (unsigned long long)ms_chunkmap_count(&p->todo), r->info.name,
		      (unsigned long long)(p->c0 + first), HOLD_TRIES);
}

/*
 * Chunks still to do that the table meta flags ABSENT (a server that a
 * region is migrating into in post-copy: their bytes are not there yet)
 * are asked for with FETCH, which returns once they are.  Returns how
 * many were, or -errno.
 */
static int64_t pull_fetch_absent(struct pull *p, const uint8_t *meta)
{
	uint64_t batch[256];
	int64_t total = 0;
	size_t n = 0;
	int ret;

	for (uint64_t i = 0; i <= p->nch; i++) {
		if (i < p->nch && ms_chunkmap_test(&p->todo, i) &&
		    (ms_meta_flags(meta, i) & MS_META_F_ABSENT))
			batch[n++] = p->c0 + i;
		if (n && (n == MS_ARRAY_SIZE(batch) || i == p->nch)) {
			if ((ret = ms_region_fetch(p->r, batch, n)))
				return ret;
			total += (int64_t)n;
			n = 0;
		}
	}
	return total;
}

/* no_verify reads no table, so it asks for absent chunks first. */
static int pull_fetch_first(struct pull *p)
{
	for (int t = 0; t < FETCH_TRIES; t++) {
		int64_t n;
		int ret = cl_read_meta(p->r, p->c0, p->nch, p->meta1);

		if (ret)
			return ret;
		if ((n = pull_fetch_absent(p, p->meta1)) <= 0)
			return (int)n;
	}
	return cl_err(p->r->c, -EIO, "pull: chunks of region '%s' stayed absent after %d "
		      "fetches", p->r->info.name, FETCH_TRIES);
}

static int pull_impl(ms_region *r, uint64_t off, void *dst, uint64_t len,
		     const struct ms_xfer_opts *o, struct ms_xfer_stats *st,
		     uint64_t *gens, uint8_t *hashes)
{
	static const struct ms_xfer_opts def;
	struct pull p = { .gens = gens, .hashes = hashes };
	struct cl_zpull z = { 0 };
	uint64_t t0 = ms_now_ns();
	int ret, rounds;

	/* a call refused at once leaves *st alone */
	if ((ret = cl_check_range(r, "pull", off, len)) || (ret = cl_connected(r->c, "pull")))
		return ret;
	ret = pull_setup(&p, r, off, dst, len, o ? o : &def);
	if (!ret && p.no_verify)
		ret = pull_fetch_first(&p);
	if (!ret && p.nch >= ZERO_MIN_CHUNKS) {
		/* zero chunks (client_zero.h): taken out of todo, never read */
		z = (struct cl_zpull){ .r = r, .dst = dst, .off = off, .len = len, .c0 = p.c0,
				       .nch = p.nch, .dst_zeroed = o && o->dst_zeroed,
				       .todo = &p.todo, .acc = p.acc, .gens = gens, .hashes = hashes };
		p.meta1_fresh = !p.no_verify;
		int64_t zb = p.no_verify ? 0 : cl_read_meta(r, p.c0, p.nch, p.meta1);

		zb = zb < 0 ? zb : cl_zero_skip(&z, p.meta1);
		if (zb < 0)
			ret = zb == -ENOMEM ? cl_err(r->c, -ENOMEM, "pull: out of memory") : (int)zb;
		p.progress_base += zb < 0 ? 0 : (uint64_t)zb;
	}
	rounds = p.consistent ? CONSISTENT_ROUNDS : PULL_ROUNDS;
	for (int round = 0, fetches = 0; !ret && round < rounds; round++) {
		uint64_t bytes;
		int64_t again = pull_round(&p, &bytes), got = 0;

		if (again >= 0 && !p.no_verify)   /* zero chunks that changed */
			again += (int64_t)cl_zero_recheck(&z, p.meta2);

		/* chunks that were absent: fetched, then read again in a
		 * round that does not count */
		if (again > 0 && !p.no_verify && fetches < FETCH_TRIES &&
		    (got = pull_fetch_absent(&p, p.meta2)) > 0) {
			fetches++;
			round--;
		}
		if (got < 0)
			again = got;
		if (again < 0) {
			ret = (int)again;
			goto out;
		}
		/* a first round that read and verified every chunk whole is
		 * one commit's copy; later rounds mix rounds, which a
		 * consistent pull checks under a hold */
		if (again == 0 && (!p.consistent || (round == 0 && p.whole)))
			goto out;
		if (again == 0)
			break;
		p.s.chunks_retried += (uint64_t)again;
		p.progress_base += bytes;
		p.progress_total += (uint64_t)again * r->info.chunk_size;
	}
	if (!ret)
		ret = pull_hold(&p);
out:
	cl_zero_free(&z);
	pull_free(&p);
	p.s.ns = ms_now_ns() - t0;
	if (st)
		*st = p.s;
	return ret;
}

int ms_pull(ms_region *r, uint64_t off, void *dst, uint64_t len,
		      const struct ms_xfer_opts *o, struct ms_xfer_stats *st)
{
	struct ms_xfer_opts oc;
	int ret = cl_xfer_opts(r->c, "pull", o, &oc);

	if (ret)
		return ret;
	ret = pull_impl(r, off, dst, len, &oc, st, NULL, NULL);
	/* the region migrated (client_redirect.c): read it at its new place */
	if (ret && cl_redirect_check(r, ret) == -EREMCHG &&
	    !(ret = cl_follow(r->c, "pull", r->info.name)))
		ret = pull_impl(r, off, dst, len, &oc, st, NULL, NULL);
	return ret;
}

int ms_pull_gens(ms_region *r, uint64_t off, void *dst, uint64_t len,
		 uint64_t *gens, uint8_t *hashes)
{
	/* -EREMCHG (c->moved) when it migrated: a lazy mapping follows */
	return cl_redirect_check(r, pull_impl(r, off, dst, len, NULL, NULL, gens, hashes));
}

int ms_chunk_generations(ms_region *r, uint64_t first, uint64_t *gens,
				   size_t n)
{
	uint8_t *meta;
	int ret = 0;

	if (!gens || !n || first >= r->info.nchunks || n > r->info.nchunks - first)
		return cl_err(r->c, -ERANGE,
			      "generations: chunks [%llu, +%llu) are outside region '%s' "
			      "(%llu chunks)", (unsigned long long)first,
			      (unsigned long long)n, r->info.name,
			      (unsigned long long)r->info.nchunks);
	if ((ret = cl_connected(r->c, "generations")))
		return ret;
	meta = malloc((size_t)MS_MIN(n, (uint64_t)GENS_BATCH) * MS_META_ENTRY_SIZE);
	if (!meta)
		return cl_err(r->c, -ENOMEM, "generations: out of memory");
	for (uint64_t done = 0; done < n && !ret;) {
		uint64_t k = MS_MIN(n - done, (uint64_t)GENS_BATCH);

		ret = cl_read_meta(r, first + done, k, meta);
		for (uint64_t i = 0; !ret && i < k; i++)
			gens[done + i] = ms_meta_gen(meta, i);
		done += k;
	}
	free(meta);
	return ret;
}
