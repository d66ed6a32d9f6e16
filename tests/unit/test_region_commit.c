/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_region_commit.c - commits of a server-side region: the leaf tree that makes
 * a small write cost its leaves, and a writer's commit through
 * ms_region_commit() with the rules the server applies to a COMMIT
 * message (verify every entry, then publish all; NOVERIFY; whole chunk vs
 * piece; a refused commit changes nothing, leaf hashes included), direct
 * and atomic (entries applied from a staging area).
 */
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "hash.h"
#include "region.h"
#include "tap.h"
#include "region_fixture.h"

/* A staging area for atomic commits: soff is an offset into buf. */
struct stage {
	uint8_t *buf;
	uint64_t len;
};

static const void *stage_at(void *ud, uint64_t soff, uint64_t len)
{
	struct stage *st = ud;

	if (soff > st->len || len > st->len - soff)
		return NULL;
	return st->buf + soff;
}

/* A small write costs its leaves: verification of a range of whole leaves
 * computes them, and the chunk hash follows from the leaves. */
static void test_leaf_commit(void)
{
	struct ms_export_opts o = { .name = "leaf", .size = MIB + 3 * MS_LEAF,
				    .chunk_size = 64 << 10 };
	struct ms_rregion *r;
	uint8_t h[MS_HASH_LEN], h2[MS_HASH_LEN], old[MS_HASH_LEN];
	const uint64_t cs = 64 << 10;
	char err[256];
	uint64_t g;
	uint8_t *m;
	uint8_t lv[2][MS_HASH_LEN], lv2[2][MS_HASH_LEN], lv3[3][MS_HASH_LEN];
	bool fresh = false, fresh2 = true;

	if (ms_region_create(&o, &r, err, sizeof(err)))
		tap_bail("create: %s", err);
	m = r->mem;
	fill(m, r->size, 7);
	is_int(ms_region_commit_range(r, 0, r->size), 0, "random bytes committed");
	ok(meta_matches_memory(r), "chunk hashes are the tree hashes of memory");

	/* one leaf in chunk 3 and two in chunk 5, as a map sync pushes them */
	fill(m + 3 * cs + 5 * MS_LEAF, MS_LEAF, 8);
	fill(m + 5 * cs + 14 * MS_LEAF, 2 * MS_LEAF, 9);
	memcpy(old, r->meta[3].hash, MS_HASH_LEN);
	ms_chunk_hash(m + 3 * cs + 5 * MS_LEAF, MS_LEAF, h);
	ms_chunk_hash(m + 5 * cs + 14 * MS_LEAF, 2 * MS_LEAF, h2);
	g = ms_region_commit_begin(r);
	is_int(ms_region_verify_bytes(r, 3 * cs + 5 * MS_LEAF, MS_LEAF, m + 3 * cs + 5 * MS_LEAF, h,
				      lv, &fresh), 0, "a one-leaf piece verifies");
	is_int(ms_region_verify_bytes(r, 5 * cs + 14 * MS_LEAF, 2 * MS_LEAF,
				      m + 5 * cs + 14 * MS_LEAF, h2, lv2, &fresh2), 0,
	       "a two-leaf piece verifies");
	ok(fresh && fresh2, "verifying whole leaves computed them");
	ok(ms_hash_eq(old, r->meta[3].hash), "verification changed no chunk hash");
	ms_region_commit_piece(r, 3 * cs + 5 * MS_LEAF, MS_LEAF, g,
			       (const uint8_t(*)[MS_HASH_LEN])lv);
	ms_region_commit_piece(r, 5 * cs + 14 * MS_LEAF, 2 * MS_LEAF, g,
			       (const uint8_t(*)[MS_HASH_LEN])lv2);
	ms_region_commit_end(r, g);
	ok(!ms_hash_eq(old, r->meta[3].hash) && meta_matches_memory(r),
	   "chunks 3 and 5 rehashed from their leaves match memory");
	ok(gen_of(r, 3) == g && gen_of(r, 5) == g && gen_of(r, 4) == g - 1,
	   "only the touched chunks moved to the new generation");

	/* unaligned and short pieces do not refresh leaves; the commit does */
	fill(m + 7 * cs + 100, 300, 10);
	ms_chunk_hash(m + 7 * cs + 100, 300, h);
	g = ms_region_commit_begin(r);
	is_int(ms_region_verify_bytes(r, 7 * cs + 100, 300, m + 7 * cs + 100, h, lv, &fresh), 0,
	       "an unaligned piece verifies");
	ok(!fresh, "an unaligned piece leaves its leaves to the commit");
	ms_region_commit_piece(r, 7 * cs + 100, 300, g, NULL);
	ms_region_commit_end(r, g);
	ok(meta_matches_memory(r), "the commit rehashed the leaf it touched");

	/* the short last leaf of the region counts as whole */
	fill(m + r->size - 3 * MS_LEAF, 3 * MS_LEAF, 11);
	ms_chunk_hash(m + r->size - 3 * MS_LEAF, 3 * MS_LEAF, h);
	g = ms_region_commit_begin(r);
	is_int(ms_region_verify_bytes(r, r->size - 3 * MS_LEAF, 3 * MS_LEAF,
				      m + r->size - 3 * MS_LEAF, h, lv3, &fresh), 0,
	       "the region's short last chunk verifies");
	ok(fresh, "...as whole leaves");
	ms_region_commit_piece(r, r->size - 3 * MS_LEAF, 3 * MS_LEAF, g,
			       (const uint8_t(*)[MS_HASH_LEN])lv3);
	ms_region_commit_end(r, g);
	ok(meta_matches_memory(r), "and its chunk hash matches memory");

	/* a refused piece changes no chunk */
	memcpy(old, r->meta[9].hash, MS_HASH_LEN);
	uint64_t g9 = gen_of(r, 9);
	fill(m + 9 * cs, MS_LEAF, 12);
	memset(h, 0, sizeof(h));
	g = ms_region_commit_begin(r);
	is_int(ms_region_verify_bytes(r, 9 * cs, MS_LEAF, m + 9 * cs, h, lv, &fresh), -EIO,
	       "a piece with a wrong hash is refused");
	ms_region_commit_abort(r);
	ok(ms_hash_eq(old, r->meta[9].hash) && gen_of(r, 9) == g9,
	   "and its chunk keeps its hash and generation");
	is_int(pthread_mutex_trylock(&r->lock), 0, "commit_abort released the lock");
	pthread_mutex_unlock(&r->lock);
	ms_region_destroy(r);
}

/* A writer's commit through ms_region_commit(): the rules the server
 * applies to a COMMIT message. */
static void test_region_commit(void)
{
	struct ms_export_opts o = { .name = "wc", .size = MIB, .chunk_size = 64 << 10 };
	const uint64_t cs = 64 << 10;
	struct ms_commit_ent e[3];
	struct ms_rcommit_res res;
	struct ms_rregion *r;
	uint8_t old4[MS_HASH_LEN];
	char err[256];
	uint64_t g;
	uint8_t *m;

	if (ms_region_create(&o, &r, err, sizeof(err)))
		tap_bail("create: %s", err);
	m = r->mem;
	fill(m, r->size, 21);
	is_int(ms_region_commit_range(r, 0, r->size), 0, "random bytes committed");
	g = r->generation;

	/* a whole chunk, a leaf piece and an unverified unaligned piece */
	fill(m + 2 * cs, cs, 22);
	fill(m + 4 * cs + 3 * MS_LEAF, MS_LEAF, 23);
	fill(m + 6 * cs + 10, 500, 24);
	memset(e, 0, sizeof(e));
	e[0] = (struct ms_commit_ent){ .off = 2 * cs, .len = cs };
	ms_chunk_hash(m + 2 * cs, cs, e[0].hash);
	e[1] = (struct ms_commit_ent){ .off = 4 * cs + 3 * MS_LEAF, .len = MS_LEAF };
	ms_chunk_hash(m + e[1].off, MS_LEAF, e[1].hash);
	e[2] = (struct ms_commit_ent){ .off = 6 * cs + 10, .len = 500,
				       .flags = MS_COMMIT_F_NOVERIFY };
	memset(e[2].hash, 0x33, MS_HASH_LEN);      /* not checked */
	is_int(ms_region_commit(r, e, 3, NULL, &res), 0, "a commit of three entries succeeds");
	ok(res.generation == g + 1 && r->generation == g + 1 &&
	   ms_region_generation(r) == g + 1, "it publishes generation %llu",
	   (unsigned long long)(g + 1));
	is_int(res.bytes, cs + MS_LEAF + 500, "it counts the bytes its entries name");
	is_int(res.sync_err, 0, "no msync error (anonymous memory)");
	ok(gen_of(r, 2) == g + 1 && gen_of(r, 4) == g + 1 && gen_of(r, 6) == g + 1 &&
	   gen_of(r, 3) == g && gen_of(r, 5) == g, "only the touched chunks moved");
	ok(meta_matches_memory(r), "whole chunk, leaf piece and unverified piece match memory");
	is_int(pthread_mutex_trylock(&r->lock), 0, "the commit released the region lock");
	pthread_mutex_unlock(&r->lock);

	/* refused: nothing changes, and the culprit is named */
	memcpy(old4, r->meta[4].hash, MS_HASH_LEN);
	fill(m + 4 * cs, MS_LEAF, 25);
	e[0] = (struct ms_commit_ent){ .off = 4 * cs, .len = MS_LEAF };
	ms_chunk_hash(m + 4 * cs, MS_LEAF, e[0].hash);
	e[1] = (struct ms_commit_ent){ .off = 8 * cs, .len = cs };
	memset(e[1].hash, 0x44, MS_HASH_LEN);      /* wrong */
	is_int(ms_region_commit(r, e, 2, NULL, &res), -EIO, "a wrong hash refuses the commit");
	ok(res.bad == 1 && res.generation == 0, "the refusal names entry 1");
	ok(r->generation == g + 1 && gen_of(r, 4) == g + 1 && ms_hash_eq(old4, r->meta[4].hash),
	   "a refused commit changes no generation and no chunk hash");
	e[1] = (struct ms_commit_ent){ .off = r->size - 10, .len = 11 };
	is_int(ms_region_commit(r, e, 2, NULL, &res), -ERANGE,
	       "an entry past the end refuses the commit");
	is_int(res.bad, 1, "the range refusal names entry 1");
	e[1] = (struct ms_commit_ent){ .off = 0, .len = 0, .flags = MS_COMMIT_F_NOVERIFY };
	is_int(ms_region_commit(r, e, 2, NULL, &res), -ERANGE,
	       "an empty entry refuses the commit, even unverified");
	is_int(pthread_mutex_trylock(&r->lock), 0, "a refused commit released the region lock");
	pthread_mutex_unlock(&r->lock);

	/* now the good entry alone; and an empty commit still takes a
	 * generation (a COMMIT of no entries did before) */
	is_int(ms_region_commit(r, e, 1, NULL, &res), 0, "the good entry alone commits");
	ok(gen_of(r, 4) == g + 2 && meta_matches_memory(r), "its chunk moved and matches memory");
	is_int(ms_region_commit(r, e, 0, NULL, &res), 0, "a commit of no entries succeeds");
	ok(res.generation == g + 3 && res.bytes == 0, "...and takes a generation of its own");
	ms_region_destroy(r);
}

/* The finding of issue #10: a refused commit must not leave its leaves
 * behind for a later valid commit of the same chunk to publish.  Direct
 * mode: the refused bytes are in memory, but the chunk hash the next
 * commit publishes is built from the old leaf, so readers see the chunk
 * as not matching (unreadable) instead of the refused bytes as verified. */
static void test_refused_leaves_direct(void)
{
	struct ms_export_opts o = { .name = "rl", .size = MIB, .chunk_size = 64 << 10 };
	const uint64_t cs = 64 << 10;
	struct ms_commit_ent e;
	struct ms_rcommit_res res;
	struct ms_rregion *r;
	uint8_t *m, *before, h[MS_HASH_LEN], want[MS_HASH_LEN];
	char err[256];

	if (ms_region_create(&o, &r, err, sizeof(err)))
		tap_bail("create: %s", err);
	m = r->mem;
	fill(m, r->size, 31);
	is_int(ms_region_commit_range(r, 0, r->size), 0, "direct: committed");
	before = malloc(cs);
	memcpy(before, m + 3 * cs, cs);
	/* leaf 2 of chunk 3 is overwritten and committed with a wrong hash */
	fill(m + 3 * cs + 2 * MS_LEAF, MS_LEAF, 32);
	e = (struct ms_commit_ent){ .off = 3 * cs + 2 * MS_LEAF, .len = MS_LEAF };
	memset(e.hash, 0x5a, MS_HASH_LEN);
	is_int(ms_region_commit(r, &e, 1, NULL, &res), -EIO, "direct: a wrong hash is refused");
	/* then leaf 5 of the same chunk, correctly */
	fill(m + 3 * cs + 5 * MS_LEAF, MS_LEAF, 33);
	e = (struct ms_commit_ent){ .off = 3 * cs + 5 * MS_LEAF, .len = MS_LEAF };
	ms_chunk_hash(m + e.off, MS_LEAF, e.hash);
	is_int(ms_region_commit(r, &e, 1, NULL, &res), 0, "direct: a valid piece commits");
	/* what the chunk hash must be: the old leaf 2 with the new leaf 5 */
	memcpy(before + 5 * MS_LEAF, m + 3 * cs + 5 * MS_LEAF, MS_LEAF);
	ms_chunk_hash(before, cs, want);
	ms_chunk_hash(m + 3 * cs, cs, h);
	ok(ms_hash_eq(r->meta[3].hash, want),
	   "direct: the chunk hash describes the last committed bytes of leaf 2");
	ok(!ms_hash_eq(r->meta[3].hash, h),
	   "direct: the refused bytes in memory are not published as verified");
	free(before);
	ms_region_destroy(r);
}

/* Atomic mode: the bytes come from a staging area; the region never holds
 * a refused or uncommitted byte, entries apply in order. */
static void test_atomic(void)
{
	struct ms_export_opts o = { .name = "at", .size = MIB, .chunk_size = 64 << 10 };
	const uint64_t cs = 64 << 10;
	struct stage st = { .len = 4 * cs };
	struct ms_stage_src src = { .at = stage_at, .ud = &st };
	struct ms_commit_ent e[3];
	struct ms_rcommit_res res;
	struct ms_rregion *r;
	uint8_t *m, *img;
	char err[256];
	uint64_t g;

	if (ms_region_create(&o, &r, err, sizeof(err)))
		tap_bail("create: %s", err);
	m = r->mem;
	st.buf = malloc(st.len);
	img = malloc(r->size);
	fill(m, r->size, 41);
	is_int(ms_region_commit_range(r, 0, r->size), 0, "atomic: committed");
	memcpy(img, m, r->size);
	g = r->generation;

	/* a whole chunk at staging 0, a piece of chunk 7 at staging cs, and a
	 * piece that overlaps the first (applied after it) */
	fill(st.buf, 2 * cs, 42);
	e[0] = (struct ms_commit_ent){ .off = 2 * cs, .len = cs, .soff = 0 };
	ms_chunk_hash(st.buf, cs, e[0].hash);
	e[1] = (struct ms_commit_ent){ .off = 7 * cs + 100, .len = 3000, .soff = cs };
	ms_chunk_hash(st.buf + cs, 3000, e[1].hash);
	e[2] = (struct ms_commit_ent){ .off = 2 * cs + MS_LEAF, .len = MS_LEAF,
				       .soff = cs + 8192 };
	ms_chunk_hash(st.buf + cs + 8192, MS_LEAF, e[2].hash);
	/* first refused: entry 2's hash is wrong; nothing may change */
	e[2].hash[0] ^= 1;
	is_int(ms_region_commit(r, e, 3, &src, &res), -EIO, "atomic: a wrong hash is refused");
	ok(res.bad == 2 && memcmp(m, img, r->size) == 0 && r->generation == g &&
	   meta_matches_memory(r), "atomic: a refused commit leaves every byte and hash");
	e[2].hash[0] ^= 1;
	e[1].soff = st.len - 100;
	is_int(ms_region_commit(r, e, 3, &src, &res), -EFAULT,
	       "atomic: staged bytes outside the staging area are refused");
	ok(res.bad == 1 && memcmp(m, img, r->size) == 0, "atomic: and change nothing");
	e[1].soff = cs;
	is_int(ms_region_commit(r, e, 3, &src, &res), 0, "atomic: the commit applies");
	memcpy(img + 2 * cs, st.buf, cs);
	memcpy(img + 7 * cs + 100, st.buf + cs, 3000);
	memcpy(img + 2 * cs + MS_LEAF, st.buf + cs + 8192, MS_LEAF);
	ok(memcmp(m, img, r->size) == 0, "atomic: the region holds the staged bytes, in order");
	ok(meta_matches_memory(r) && gen_of(r, 2) == g + 1 && gen_of(r, 7) == g + 1 &&
	   gen_of(r, 3) == g, "atomic: hashes match memory, only touched chunks moved");
	free(st.buf);
	free(img);
	ms_region_destroy(r);
}

int main(void)
{
	test_leaf_commit();
	test_region_commit();
	test_refused_leaves_direct();
	test_atomic();
	return tap_done();
}
