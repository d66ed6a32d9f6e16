/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_region_commit.c - commits of a server-side region: the leaf tree that makes
 * a small write cost its leaves, and a writer's commit through
 * ms_region_commit() with the rules the server applies to a COMMIT
 * message (verify every entry, then publish all; NOVERIFY; whole chunk vs
 * piece; a refused commit changes nothing).
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

/* A small write costs its leaves: verification of a range of whole leaves
 * refreshes them, and the chunk hash follows from the leaves. */
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
	is_int(ms_region_verify_range(r, 3 * cs + 5 * MS_LEAF, MS_LEAF, h, &fresh), 0,
	       "a one-leaf piece verifies");
	is_int(ms_region_verify_range(r, 5 * cs + 14 * MS_LEAF, 2 * MS_LEAF, h2, &fresh2), 0,
	       "a two-leaf piece verifies");
	ok(fresh && fresh2, "verifying whole leaves refreshed them");
	ok(ms_hash_eq(old, r->meta[3].hash), "verification changed no chunk hash");
	ms_region_commit_piece(r, 3 * cs + 5 * MS_LEAF, MS_LEAF, g, fresh);
	ms_region_commit_piece(r, 5 * cs + 14 * MS_LEAF, 2 * MS_LEAF, g, fresh2);
	ms_region_commit_end(r, g);
	ok(!ms_hash_eq(old, r->meta[3].hash) && meta_matches_memory(r),
	   "chunks 3 and 5 rehashed from their leaves match memory");
	ok(gen_of(r, 3) == g && gen_of(r, 5) == g && gen_of(r, 4) == g - 1,
	   "only the touched chunks moved to the new generation");

	/* unaligned and short pieces do not refresh leaves; the commit does */
	fill(m + 7 * cs + 100, 300, 10);
	ms_chunk_hash(m + 7 * cs + 100, 300, h);
	g = ms_region_commit_begin(r);
	is_int(ms_region_verify_range(r, 7 * cs + 100, 300, h, &fresh), 0,
	       "an unaligned piece verifies");
	ok(!fresh, "an unaligned piece leaves its leaves to the commit");
	ms_region_commit_piece(r, 7 * cs + 100, 300, g, fresh);
	ms_region_commit_end(r, g);
	ok(meta_matches_memory(r), "the commit rehashed the leaf it touched");

	/* the short last leaf of the region counts as whole */
	fill(m + r->size - 3 * MS_LEAF, 3 * MS_LEAF, 11);
	ms_chunk_hash(m + r->size - 3 * MS_LEAF, 3 * MS_LEAF, h);
	g = ms_region_commit_begin(r);
	is_int(ms_region_verify_range(r, r->size - 3 * MS_LEAF, 3 * MS_LEAF, h, &fresh), 0,
	       "the region's short last chunk verifies");
	ok(fresh, "...as whole leaves");
	ms_region_commit_piece(r, r->size - 3 * MS_LEAF, 3 * MS_LEAF, g, fresh);
	ms_region_commit_end(r, g);
	ok(meta_matches_memory(r), "and its chunk hash matches memory");

	/* a refused piece changes no chunk */
	memcpy(old, r->meta[9].hash, MS_HASH_LEN);
	uint64_t g9 = gen_of(r, 9);
	fill(m + 9 * cs, MS_LEAF, 12);
	memset(h, 0, sizeof(h));
	g = ms_region_commit_begin(r);
	is_int(ms_region_verify_range(r, 9 * cs, MS_LEAF, h, &fresh), -EIO,
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
	struct ms_commit_res res;
	struct ms_rregion *r;
	uint8_t old4[MS_HASH_LEN];
	bool fresh[3];
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
	is_int(ms_region_commit(r, e, 3, fresh, &res), 0, "a commit of three entries succeeds");
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
	is_int(ms_region_commit(r, e, 2, fresh, &res), -EIO, "a wrong hash refuses the commit");
	ok(res.bad == 1 && res.generation == 0, "the refusal names entry 1");
	ok(r->generation == g + 1 && gen_of(r, 4) == g + 1 && ms_hash_eq(old4, r->meta[4].hash),
	   "a refused commit changes no generation and no chunk hash");
	e[1] = (struct ms_commit_ent){ .off = r->size - 10, .len = 11 };
	is_int(ms_region_commit(r, e, 2, fresh, &res), -ERANGE,
	       "an entry past the end refuses the commit");
	is_int(res.bad, 1, "the range refusal names entry 1");
	e[1] = (struct ms_commit_ent){ .off = 0, .len = 0, .flags = MS_COMMIT_F_NOVERIFY };
	is_int(ms_region_commit(r, e, 2, fresh, &res), -ERANGE,
	       "an empty entry refuses the commit, even unverified");
	is_int(pthread_mutex_trylock(&r->lock), 0, "a refused commit released the region lock");
	pthread_mutex_unlock(&r->lock);

	/* now the good entry alone; and an empty commit still takes a
	 * generation (a COMMIT of no entries did before) */
	is_int(ms_region_commit(r, e, 1, fresh, &res), 0, "the good entry alone commits");
	ok(gen_of(r, 4) == g + 2 && meta_matches_memory(r), "its chunk moved and matches memory");
	is_int(ms_region_commit(r, e, 0, fresh, &res), 0, "a commit of no entries succeeds");
	ok(res.generation == g + 3 && res.bytes == 0, "...and takes a generation of its own");
	ms_region_destroy(r);
}

int main(void)
{
	test_leaf_commit();
	test_region_commit();
	return tap_done();
}
