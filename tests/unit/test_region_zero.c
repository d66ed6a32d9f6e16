/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_region_zero.c - MS_META_F_ZERO in a region's metadata table
 * (region_zero.c): set at creation for chunks of zeros (fresh memory, a
 * file with zero and non-zero chunks, the short last chunk), kept right
 * by commits (data into a zero chunk, zeros into a data chunk), by a store
 * load (a file region opened again) and by migration (absent chunks, then
 * installed).  Every case ends by checking the region's bytes against the
 * flags: a flagged chunk is all zeros, an unflagged one is not.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "region.h"
#include "region_zero.h"
#include "tap.h"
#include "region_fixture.h"

#define CS (64u << 10)

static bool zflag(const struct ms_rregion *r, uint64_t i)
{
	return le32toh(r->meta[i].flags_le) & MS_META_F_ZERO;
}

static bool all_zero(const void *p, uint64_t len)
{
	const uint8_t *b = p;

	for (uint64_t i = 0; i < len; i++)
		if (b[i])
			return false;
	return true;
}

/* Every chunk's flag says what its bytes are (byte-for-byte). */
static bool flags_match_bytes(const struct ms_rregion *r)
{
	for (uint64_t i = 0; i < r->nchunks; i++) {
		uint64_t len = ms_region_chunk_len(r, i);

		if (zflag(r, i) != all_zero((const char *)r->mem + i * r->chunk_size, len)) {
			diag("chunk %llu: flag %d, bytes %s", (unsigned long long)i, zflag(r, i),
			     zflag(r, i) ? "not all zero" : "all zero");
			return false;
		}
	}
	return true;
}

static void test_hash(void)
{
	static uint8_t zeros[CS];
	uint8_t a[MS_HASH_LEN], b[MS_HASH_LEN];
	const uint64_t lens[] = { 1, 100, MS_LEAF, MS_LEAF + 1, 8192, CS };

	for (size_t i = 0; i < MS_ARRAY_SIZE(lens); i++) {
		ms_zero_chunk_hash(lens[i], a);
		ms_chunk_hash(zeros, (size_t)lens[i], b);
		ok(ms_hash_eq(a, b), "the zero hash of %llu bytes is the chunk hash of as many zeros",
		   (unsigned long long)lens[i]);
	}
}

/* anonymous memory: all zero at creation; commits set and clear the flag */
static void test_commits(void)
{
	struct ms_export_opts o = { .name = "z", .size = 4 * MIB + 8192, .chunk_size = CS };
	struct ms_rregion *r;
	char err[256];
	uint8_t *m;
	uint64_t last, n = 0;

	if (ms_region_create(&o, &r, err, sizeof(err)))
		tap_bail("create: %s", err);
	m = r->mem;
	last = r->nchunks - 1;
	is_int(ms_region_chunk_len(r, last), 8192, "the last chunk is short (8 KiB)");
	for (uint64_t i = 0; i < r->nchunks; i++)
		n += zflag(r, i);
	is_int(n, r->nchunks, "init: every chunk of fresh memory is flagged ZERO");
	ok(all_zero(m, r->size), "init: the region's bytes are all zero");

	/* data into zero chunks 3 and 4 (and the last) */
	fill(m + 3 * CS + 100, CS, 1);
	is_int(ms_region_commit_range(r, 3 * CS + 100, CS), 0, "commit data over chunks 3-4");
	fill(m + last * CS, 8192, 2);
	is_int(ms_region_commit_range(r, last * CS, 8192), 0, "commit data into the last chunk");
	ok(!zflag(r, 3) && !zflag(r, 4) && !zflag(r, last) && zflag(r, 2) && zflag(r, 5),
	   "data: chunks 3, 4 and the last lose ZERO, their neighbours keep it");
	ok(flags_match_bytes(r) && meta_matches_memory(r), "data: flags and hashes match the bytes");

	/* chunk 3 back to zeros, chunk 4 (its first 100 bytes are data)
	 * named by the commit too: only 3 is ZERO again */
	memset(m + 3 * CS, 0, CS);
	is_int(ms_region_commit_range(r, 3 * CS, CS + CS / 2), 0, "commit zeros over chunk 3");
	ok(zflag(r, 3) && !zflag(r, 4), "zeros: chunk 3 is ZERO again, chunk 4 (still data) not");
	memset(m + last * CS, 0, 8192);
	is_int(ms_region_commit_range(r, last * CS, 8192), 0, "commit zeros into the last chunk");
	ok(zflag(r, last), "zeros: the short last chunk is ZERO again");
	ok(flags_match_bytes(r) && meta_matches_memory(r), "zeros: flags and hashes match the bytes");
	is_int(le32toh(r->meta[4].flags_le) & ~MS_META_F_ZERO, 0, "no other flag appeared");

	/* migration: absent chunks take the source's hashes (zero or not),
	 * then their bytes are installed */
	{
		uint8_t src[2 * MS_META_ENTRY_SIZE] = { 0 };
		uint64_t gens[2] = { 7, 7 }, bad = 0;
		uint8_t hashes[2 * MS_HASH_LEN];
		uint64_t g = htole64(7);

		memcpy(src, &g, 8);
		memcpy(src + MS_META_ENTRY_SIZE, &g, 8);
		ms_zero_chunk_hash(CS, src + 8);                 /* chunk 10: zeros */
		fill(m + 11 * CS, CS, 9);                        /* chunk 11: data */
		ms_chunk_hash(m + 11 * CS, CS, src + MS_META_ENTRY_SIZE + 8);
		fill(m + 10 * CS, CS, 5);                        /* stale bytes */
		ms_region_mark_absent(r, 10, 2, src);
		is_int(le32toh(r->meta[10].flags_le), MS_META_F_ABSENT | MS_META_F_ZERO,
		       "migration: an absent chunk whose source hash is zero is ABSENT|ZERO");
		is_int(le32toh(r->meta[11].flags_le), MS_META_F_ABSENT,
		       "migration: an absent data chunk is ABSENT only");
		memset(m + 10 * CS, 0, CS);                      /* its bytes arrive */
		memcpy(hashes, src + 8, MS_HASH_LEN);
		memcpy(hashes + MS_HASH_LEN, src + MS_META_ENTRY_SIZE + 8, MS_HASH_LEN);
		is_int(ms_region_install(r, 10, 2, gens, hashes, &bad), 0, "migration: install");
		is_int(le32toh(r->meta[10].flags_le), MS_META_F_ZERO,
		       "migration: installed zero chunk is ZERO, no longer ABSENT");
		is_int(le32toh(r->meta[11].flags_le), 0, "migration: installed data chunk: no flag");
		ok(flags_match_bytes(r), "migration: flags match the bytes");
	}
	ms_region_destroy(r);
}

/* a file with zero and data chunks: flags at creation and after the store
 * is loaded again */
static void test_file(void)
{
	char dir[] = "/tmp/ms-rzero.XXXXXX", path[64], side[80];
	uint64_t size = 2 * MIB + 4096;   /* 33 chunks, the last 4 KiB */
	struct ms_export_opts o = { .name = "f", .size = size, .chunk_size = CS,
				    .backing = MS_BACKING_FILE };
	struct ms_rregion *r;
	uint8_t *buf = calloc(1, size);
	char err[256];
	int fd;

	if (!buf || !mkdtemp(dir))
		tap_bail("setup");
	snprintf(path, sizeof(path), "%s/f.img", dir);
	for (uint64_t i = 0; i < 33; i += 3)
		fill(buf + i * CS, MS_MIN((uint64_t)CS, size - i * CS), (uint32_t)i + 1);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if (fd < 0 || write(fd, buf, size) != (ssize_t)size || close(fd))
		tap_bail("write %s", path);
	o.path = path;
	for (int pass = 0; pass < 2; pass++) {
		uint64_t n = 0;

		if (ms_region_create(&o, &r, err, sizeof(err)))
			tap_bail("create %s: %s", path, err);
		for (uint64_t i = 0; i < r->nchunks; i++)
			n += zflag(r, i);
		is_int(n, pass ? 23 : 22, "%s: %d of 33 chunks are ZERO",
		       pass ? "store load" : "file init", pass ? 23 : 22);
		ok(zflag(r, 0) == (pass == 1) && zflag(r, 1) && !zflag(r, 30) && zflag(r, 32),
		   "%s: the right ones (chunk 0 after its zeros were committed; the short last chunk)",
		   pass ? "store load" : "file init");
		ok(flags_match_bytes(r) && memcmp(r->mem, buf, size) == 0,
		   "%s: flags match the bytes, which are the file's",
		   pass ? "store load" : "file init");
		if (!pass) {
			/* committed zeros in chunk 0, persisted */
			memset(r->mem, 0, CS);
			memset(buf, 0, CS);
			is_int(ms_region_commit_range(r, 0, CS), 0, "file: commit zeros to chunk 0");
		}
		ms_region_destroy(r);
		if (!pass)
			ok(1, "file: closed, opened again below");
	}
	snprintf(side, sizeof(side), "%s.msmeta", path);
	unlink(side);
	snprintf(side, sizeof(side), "%s.msjournal", path);
	unlink(side);
	unlink(path);
	rmdir(dir);
	free(buf);
}

static const void *stage_at(void *ud, uint64_t soff, uint64_t len)
{
	uint8_t *buf = ud;

	return soff + len <= 2 * CS ? buf + soff : NULL;
}

/* COMMIT entries flagged ZERO (proto.h): no staged bytes, the zero hash;
 * the chunk is zeroed at commit in both modes; malformed ones are refused
 * and change nothing */
static void test_zero_entries(void)
{
	struct ms_export_opts o = { .name = "e", .size = MIB + 8192, .chunk_size = CS };
	uint8_t stage[2 * CS], zh[MS_HASH_LEN], zt[MS_HASH_LEN], *m;
	struct ms_stage_src src = { stage_at, stage };
	struct ms_rcommit_res res;
	struct ms_rregion *r;
	uint64_t last, gen;
	char err[256];
	uint8_t *before;

	if (ms_region_create(&o, &r, err, sizeof(err)))
		tap_bail("create: %s", err);
	m = r->mem;
	last = r->nchunks - 1;
	fill(m, r->size, 4);
	is_int(ms_region_commit_range(r, 0, r->size), 0, "e: data everywhere");
	ms_zero_chunk_hash(CS, zh);
	ms_zero_chunk_hash(8192, zt);
	before = malloc(r->size);
	if (!before)
		tap_bail("out of memory");
	memcpy(before, m, r->size);
	gen = r->generation;
	memset(stage, 0x5a, sizeof(stage));

	/* malformed: partial chunk, staged bytes, NOVERIFY, wrong hash */
	struct ms_commit_ent bad[4] = {
		{ .off = 2 * CS, .len = CS / 2, .flags = MS_COMMIT_F_ZERO },
		{ .off = 2 * CS, .len = CS, .soff = 4096, .flags = MS_COMMIT_F_ZERO },
		{ .off = 2 * CS, .len = CS, .flags = MS_COMMIT_F_ZERO | MS_COMMIT_F_NOVERIFY },
		{ .off = 2 * CS, .len = CS, .flags = MS_COMMIT_F_ZERO },
	};
	const int want[4] = { -EINVAL, -EINVAL, -EINVAL, -EIO };
	const char *what[4] = { "half a chunk", "staged bytes", "NOVERIFY", "a hash not zero" };

	for (int i = 0; i < 3; i++)
		memcpy(bad[i].hash, zh, MS_HASH_LEN);
	memcpy(bad[3].hash, r->meta[2].hash, MS_HASH_LEN);
	for (int i = 0; i < 4; i++) {
		struct ms_commit_ent two[2] = { { .off = 0, .len = CS, .soff = 0 }, bad[i] };

		/* a good data entry first: staged (atomic) or in place (direct) */
		ms_chunk_hash(i & 1 ? stage : m, CS, two[0].hash);
		is_int(ms_region_commit(r, two, 2, i & 1 ? &src : NULL, &res), want[i],
		       "ZERO with %s is refused (%s)", what[i], i & 1 ? "atomic" : "direct");
		is_int(res.bad, 1, "  the ZERO entry is named");
	}
	ok(r->generation == gen && memcmp(m, before, r->size) == 0 && !zflag(r, 2),
	   "refused ZERO entries changed nothing: generation, bytes, flags");

	/* atomic: chunk 2 zeroed from no staged byte, chunk 3 from staging */
	struct ms_commit_ent ok2[3] = {
		{ .off = 2 * CS, .len = CS, .flags = MS_COMMIT_F_ZERO },
		{ .off = 3 * CS, .len = CS, .soff = CS },
		{ .off = last * CS, .len = 8192, .flags = MS_COMMIT_F_ZERO },
	};
	memcpy(ok2[0].hash, zh, MS_HASH_LEN);
	ms_chunk_hash(stage + CS, CS, ok2[1].hash);
	memcpy(ok2[2].hash, zt, MS_HASH_LEN);
	is_int(ms_region_commit(r, ok2, 3, &src, &res), 0, "atomic: ZERO entries with a data entry");
	memset(before + 2 * CS, 0, CS);
	memcpy(before + 3 * CS, stage + CS, CS);
	memset(before + last * CS, 0, 8192);
	ok(memcmp(m, before, r->size) == 0, "atomic: chunk 2 and the short last chunk are zeros, "
	   "chunk 3 the staged bytes, the rest as before (byte for byte)");
	ok(zflag(r, 2) && zflag(r, last) && !zflag(r, 3) && flags_match_bytes(r) &&
	   meta_matches_memory(r), "atomic: flags and hashes follow");

	/* direct: the writer wrote nothing; the server zeroes chunk 5 */
	struct ms_commit_ent d = { .off = 5 * CS, .len = CS, .flags = MS_COMMIT_F_ZERO };

	memcpy(d.hash, zh, MS_HASH_LEN);
	is_int(ms_region_commit(r, &d, 1, NULL, &res), 0, "direct: a ZERO entry");
	memset(before + 5 * CS, 0, CS);
	ok(memcmp(m, before, r->size) == 0 && zflag(r, 5) && meta_matches_memory(r),
	   "direct: chunk 5 zeroed, flagged, nothing else changed (byte for byte)");
	free(before);
	ms_region_destroy(r);
}

int main(void)
{
	test_hash();
	test_commits();
	test_zero_entries();
	test_file();
	return tap_done();
}
