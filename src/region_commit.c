/* SPDX-License-Identifier: Apache-2.0 */
/*
 * region_commit.c - a writer's commit of a region: verify every entry,
 * then apply them all (atomic mode: copy the staged bytes into the
 * region), install leaves and chunk hashes, stamp generations, write a
 * file region back and publish.  Nothing changes until every entry has
 * been verified; the leaves a verification computes are kept in scratch
 * and installed only with the bytes they describe.
 */
#include <endian.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "chunkmap.h"
#include "region.h"
#include "region_store.h"
#include "region_zero.h"
#include "util.h"

const char *ms_commit_mode_name(enum ms_commit_mode m)
{
	return m == MS_COMMIT_ATOMIC ? "atomic" : m == MS_COMMIT_DIRECT ? "direct" : "unknown";
}

int ms_commit_mode_parse(const char *s, enum ms_commit_mode *out)
{
	if (s && strcmp(s, "atomic") == 0)
		*out = MS_COMMIT_ATOMIC;
	else if (s && strcmp(s, "direct") == 0)
		*out = MS_COMMIT_DIRECT;
	else
		return -EINVAL;
	return 0;
}

bool ms_region_leaf_aligned(const struct ms_rregion *r, uint64_t off, uint64_t len)
{
	return off % MS_LEAF == 0 && (len % MS_LEAF == 0 || off + len == r->size);
}

int ms_region_verify_bytes(const struct ms_rregion *r, uint64_t off, uint64_t len,
			   const void *p, const uint8_t hash[MS_HASH_LEN],
			   uint8_t (*leaves)[MS_HASH_LEN], bool *fresh)
{
	uint8_t h[MS_HASH_LEN];

	if (fresh)
		*fresh = false;
	if (len == 0 || off > r->size || len > r->size - off)
		return -ERANGE;
	if (leaves && ms_region_leaf_aligned(r, off, len)) {
		/* hashing a range of whole leaves computes its leaves too */
		ms_chunk_hash_leaves(p, len, leaves, h);
		if (fresh)
			*fresh = true;
	} else {
		ms_chunk_hash(p, len, h);
	}
	return ms_hash_eq(h, hash) ? 0 : -EIO;
}

uint64_t ms_region_commit_begin(struct ms_rregion *r)
{
	pthread_mutex_lock(&r->lock);
	ms_region_wait_hold(r);   /* readers' holds (region_hold.c) */
	return r->generation + 1;
}

void ms_region_commit_piece(struct ms_rregion *r, uint64_t off, uint64_t len, uint64_t gen,
			    const uint8_t (*leaves)[MS_HASH_LEN])
{
	uint64_t first, n;

	if (len == 0 || off > r->size || len > r->size - off)
		return;
	if (leaves && ms_region_leaf_aligned(r, off, len))
		memcpy(r->leaves + off / MS_LEAF, leaves,
		       ms_div_round_up(len, MS_LEAF) * sizeof(*r->leaves));
	else
		ms_region_rehash_leaves(r, off, len);
	ms_chunk_span(off, len, r->chunk_size, &first, &n);
	for (uint64_t i = first; i < first + n; i++) {
		struct ms_meta_entry *m = &r->meta[i];

		ms_region_heat_add(r, i);
		ms_region_chunk_root(r, i, m->hash);
		ms_region_zero_stamp(r, i);
		/* the hash (and its ZERO flag) before the generation: a reader that sees the new
		 * generation (acquire) also sees the new hash */
		__atomic_store_n(&m->gen_le, htole64(gen), __ATOMIC_RELEASE);
	}
}

int64_t ms_region_whole_chunk(const struct ms_rregion *r, uint64_t off, uint64_t len)
{
	uint64_t i = off / r->chunk_size;

	if (off % r->chunk_size || i >= r->nchunks || len != ms_region_chunk_len(r, i))
		return -1;
	return (int64_t)i;
}

void ms_region_commit_end(struct ms_rregion *r, uint64_t gen)
{
	__atomic_store_n(&r->generation, gen, __ATOMIC_RELEASE);
	pthread_mutex_unlock(&r->lock);
}

void ms_region_commit_abort(struct ms_rregion *r)
{
	pthread_mutex_unlock(&r->lock);
}

/* Scratch of one commit: where each entry's bytes are, and the leaves its
 * verification computed (lv[lfirst[i]...] when fresh[i]). */
struct scratch {
	const uint8_t **src;
	uint64_t *lfirst;
	bool *fresh;
	uint8_t (*lv)[MS_HASH_LEN];
	uint8_t *zeros;              /* ZERO entries: chunk_size zero bytes */
	uint8_t (*zl)[MS_HASH_LEN];  /* ... and the leaves of a zero chunk */
};

static void scratch_free(struct scratch *s)
{
	free(s->zeros);
	free(s->zl);
	free(s->src);
	free(s->lfirst);
	free(s->fresh);
	free(s->lv);
}

static int scratch_alloc(const struct ms_rregion *r, const struct ms_commit_ent *ents,
			 uint32_t n, struct scratch *s)
{
	uint64_t nl = 0;

	*s = (struct scratch){ 0 };
	for (uint32_t i = 0; i < n; i++)
		if (ents[i].len <= r->size && ms_region_leaf_aligned(r, ents[i].off, ents[i].len))
			nl += ms_div_round_up(ents[i].len, MS_LEAF);
	s->src = calloc(n ? n : 1, sizeof(*s->src));
	s->lfirst = calloc(n ? n : 1, sizeof(*s->lfirst));
	s->fresh = calloc(n ? n : 1, sizeof(*s->fresh));
	s->lv = malloc((nl ? nl : 1) * sizeof(*s->lv));
	if (!s->src || !s->lfirst || !s->fresh || !s->lv) {
		scratch_free(s);
		return -ENOMEM;
	}
	for (uint32_t i = 0; i < n && !s->zeros; i++) {
		uint64_t zn = r->chunk_size / MS_LEAF;

		if (!(ents[i].flags & MS_COMMIT_F_ZERO))
			continue;
		s->zeros = calloc(1, r->chunk_size);
		s->zl = malloc(zn * sizeof(*s->zl));
		if (!s->zeros || !s->zl) {
			scratch_free(s);
			return -ENOMEM;
		}
		/* a region's size is a multiple of the page, hence of a leaf:
		 * every leaf of a zero chunk is the hash of a zero leaf */
		ms_hash128(s->zeros, MS_LEAF, s->zl[0]);
		for (uint64_t k = 1; k < zn; k++)
			memcpy(s->zl[k], s->zl[0], MS_HASH_LEN);
	}
	return 0;
}

/* A ZERO entry (proto.h): one whole chunk, nothing staged, verified by its
 * hash alone, which must be the chunk's zero hash.  Its bytes are zeros. */
static int verify_zero(const struct ms_rregion *r, const struct ms_commit_ent *e,
		       struct scratch *s, uint32_t i)
{
	int64_t c = ms_region_whole_chunk(r, e->off, e->len);

	if (c < 0 || e->soff || (e->flags & MS_COMMIT_F_NOVERIFY))
		return -EINVAL;
	if (!ms_region_zero_hash(r, (uint64_t)c, e->hash))
		return -EIO;
	s->src[i] = s->zeros;
	return 0;
}

/* Check entry i and find its bytes; hash them unless NOVERIFY. */
static int verify_one(const struct ms_rregion *r, const struct ms_commit_ent *e,
		      const struct ms_stage_src *src, struct scratch *s, uint32_t i,
		      uint64_t *lnext)
{
	uint64_t off = e->off, len = e->len;

	if (!len || off > r->size || len > r->size - off)
		return -ERANGE;
	if (e->flags & MS_COMMIT_F_ZERO)
		return verify_zero(r, e, s, i);
	if (src) {
		s->src[i] = src->at(src->ud, e->soff, len);
		if (!s->src[i])
			return -EFAULT;
	} else {
		s->src[i] = (const uint8_t *)r->mem + off;
	}
	if (e->flags & MS_COMMIT_F_NOVERIFY)
		return 0;
	s->lfirst[i] = *lnext;
	int rc = ms_region_verify_bytes(r, off, len, s->src[i], e->hash, s->lv + *lnext,
					&s->fresh[i]);
	if (!rc && s->fresh[i])
		*lnext += ms_div_round_up(len, MS_LEAF);
	return rc;
}

int ms_region_commit(struct ms_rregion *r, const struct ms_commit_ent *ents, uint32_t n,
		     const struct ms_stage_src *src, struct ms_rcommit_res *res)
{
	uint64_t gen, lo = UINT64_MAX, hi = 0, lnext = 0;
	struct scratch s;
	int rc;

	*res = (struct ms_rcommit_res){ 0 };
	if ((rc = scratch_alloc(r, ents, n, &s)))
		return rc;
	/* check everything before changing anything; the lock keeps a local
	 * ms_export_commit() or another writer's commit out meanwhile */
	gen = ms_region_commit_begin(r);
	for (uint32_t i = 0; i < n; i++) {
		rc = verify_one(r, &ents[i], src, &s, i, &lnext);
		if (rc) {
			ms_region_commit_abort(r);
			res->bad = i;
			goto out;
		}
	}
	/* a file region: the staged bytes are made durable in its journal
	 * before the region changes, so that a crash while applying them is
	 * replayed at start (region_store.h); a full disk refuses the commit
	 * here, with nothing changed */
	if (r->store && src) {
		rc = ms_rstore_journal(r->store, gen, ms_rstore_epoch(r->store), ents, n,
				       (const void *const *)s.src);
		if (rc) {
			ms_region_commit_abort(r);
			res->journal_err = true;
			goto out;
		}
	}
	/* apply in entry order: where two entries overlap the later one
	 * wins, and each chunk's hash is computed by the last entry that
	 * touches it, from leaves that are final by then */
	for (uint32_t i = 0; i < n; i++) {
		uint64_t off = ents[i].off, len = ents[i].len;
		bool zero = ents[i].flags & MS_COMMIT_F_ZERO;

		if (zero)
			memset((uint8_t *)r->mem + off, 0, len);   /* both modes */
		else if (src)
			memcpy((uint8_t *)r->mem + off, s.src[i], len);
		ms_region_commit_piece(r, off, len, gen,
				       zero ? (const uint8_t(*)[MS_HASH_LEN])s.zl
				       : s.fresh[i] ? (const uint8_t(*)[MS_HASH_LEN])(s.lv + s.lfirst[i])
						    : NULL);
		res->bytes += len;
		lo = MS_MIN(lo, off);
		hi = MS_MAX(hi, off + len);
	}
	/* file regions: durable before the generation is published; one
	 * msync over the commit's span writes back only its dirty pages,
	 * instead of a system call per entry */
	res->sync_err = n ? ms_region_msync(r, lo, hi - lo) : 0;
	/* then the chunks' hashes and generations (FILE.msmeta), which
	 * retires the journal's record */
	if (!res->sync_err && r->store)
		res->sync_err = ms_rstore_applied(r->store, r, gen, ents, n);
	ms_region_commit_end(r, gen);
	res->generation = gen;
	rc = 0;
out:
	scratch_free(&s);
	return rc;
}

int ms_region_commit_range(struct ms_rregion *r, uint64_t off, uint64_t len)
{
	uint64_t gen;
	int rc;

	if (len == 0 || off > r->size || len > r->size - off)
		return -ERANGE;
	gen = ms_region_commit_begin(r);
	ms_region_commit_piece(r, off, len, gen, NULL);
	/* durable before visible: write file pages back before publishing,
	 * then the chunks' generations and hashes (FILE.msmeta) */
	rc = ms_region_msync(r, off, len);
	if (!rc && r->store)
		rc = ms_rstore_applied(r->store, r, gen,
				       &(struct ms_commit_ent){ .off = off, .len = len }, 1);
	ms_region_commit_end(r, gen);
	return rc;
}
