/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_mapsync.c - writable lazy mappings: dirty tracking on the mapper's
 * userfaultfd, ms_map_sync(), ms_map_refresh(), the write lease.
 *
 * An in-process server on 127.0.0.1 exports a 64 MiB region of
 * pseudo-random bytes (64 KiB chunks).  For each path (zero-copy, copy)
 * and each tracking mode (userfaultfd WP_ASYNC where the kernel has it,
 * hashing forced): write 1% of the pages at random, sync, and check that
 * the server equals the mapping byte for byte, that exactly the written
 * chunks were pushed (sync statistics and the server's bytes_committed),
 * that a second sync pushes nothing (reading the whole mapping pulls but
 * never dirties), that a writer thread racing repeated syncs loses nothing,
 * that a reader's ms_map_refresh() drops exactly the chunks that changed
 * and then sees the new bytes; a second writer gets EBUSY; a refresh of a
 * locally dirty chunk that changed on the server is refused with EBUSY;
 * the background push (sync_interval_ms); sync on a read-only mapping; a
 * commit the server refuses (a thread keeps changing the page's bytes in
 * the server's memory, as a local application writing a shared region
 * would) fails the sync with EIO and leaves the page pending, and the next
 * sync pushes it; a sync larger than the bounce buffer (several batches)
 * is one commit (the server's commit counter and the region's generation
 * move by one), leaves nothing pending and every pushed chunk with the
 * commit's generation; such a sync whose commit is refused for a page of
 * its last batch publishes nothing of the earlier batch either (commit
 * counter, generation, bytes_committed and every chunk's generation
 * unchanged), and the next sync pushes every page of it again.  A
 * writable mapping whose server restarts on the same port reconnects at
 * the next sync: it takes the lease again, keeps its written page of a
 * chunk the server changed meanwhile (and pushes it), drops a clean
 * changed chunk; with another writer holding the lease it fails with
 * EBUSY and succeeds once that writer is gone.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "memsync.h"
#include "tap.h"
#include "fixture.h"

#define MiB (1ull << 20)
#define CHUNK (64u << 10)
#define SIZE (64 * MiB)
#define NCHUNKS (SIZE / CHUNK)
#define PAGE 4096u
#define NPAGES (SIZE / PAGE)

/* w, the region every case maps, filled from FX_SEED; the rest of the
 * stream (f.rng) picks the pages to write. */
static const struct fx_region regs[] = {
	{ .name = "w", .size = SIZE, .chunk_size = CHUNK, .no_mlock = true },
	/* direct mode: the refused-commit cases spoil the server's copy of
	 * bytes written but not committed, which only this mode has */
	{ .name = "wd", .size = SIZE, .chunk_size = CHUNK, .no_mlock = true,
	  .commit = MS_COMMIT_DIRECT },
};
static struct fx_server f;
static ms_server *srv;        /* f.s */
static ms_export *exp_;       /* f.e[0] */
static uint8_t *mem;          /* the server's region (f.mem[0]) */
static uint8_t *memd;         /* "wd" (f.mem[1]) */

static uint64_t next_rand(void)
{
	return fx_next(&f.rng);
}

static ms_map *map_on(const char *name, const struct ms_map_opts *mo, char *err,
		      size_t errlen)
{
	struct ms_client_opts co = { .opts_size = sizeof(co), .transport = MS_TRANSPORT_TCP, .timeout_ms = 10000 };

	return ms_map_open("127.0.0.1", f.port, name, &co, mo, err, errlen);
}

static ms_map *map_it(const struct ms_map_opts *mo, char *err, size_t errlen)
{
	return map_on("w", mo, err, errlen);
}

static uint64_t nlocal(const ms_map *m)
{
	uint64_t n;

	ms_map_progress(m, &n, NULL);
	return n;
}

/* Write one byte (changed) in npages distinct random pages; marks their
 * chunks in chunks[] and returns the number of distinct chunks. */
static uint8_t seen[NPAGES]; /* pages the last write_pages() wrote */

/* Runs of adjacent pages in seen[], split where a chunk begins (a sync
 * sends one piece per chunk). */
static uint64_t page_runs(void)
{
	uint64_t n = 0;

	for (uint64_t p = 0; p < NPAGES; p++)
		n += seen[p] && (p % (CHUNK / PAGE) == 0 || !seen[p - 1]);
	return n;
}

static uint64_t write_pages(uint8_t *a, uint64_t npages, uint8_t *chunks)
{
	uint64_t nch = 0;

	memset(seen, 0, sizeof(seen));
	memset(chunks, 0, NCHUNKS);
	for (uint64_t k = 0; k < npages;) {
		uint64_t p = next_rand() % NPAGES, off = p * PAGE + next_rand() % PAGE;

		if (seen[p])
			continue;
		seen[p] = 1;
		k++;
		a[off] = (uint8_t)(a[off] ^ (1 + next_rand() % 255));
		if (!chunks[off / CHUNK]++)
			nch++;
	}
	return nch;
}

/* ------------------------------------------- writer, sync, reader refresh */

struct racer {
	uint8_t *a;
	atomic_bool stop;
	uint64_t writes;
	uint64_t seed;
};

static void *racer_main(void *arg)
{
	struct racer *r = arg;
	uint64_t x = r->seed;

	while (!atomic_load(&r->stop)) {
		for (int i = 0; i < 64; i++) {
			x ^= x << 13;
			x ^= x >> 7;
			x ^= x << 17;
			/* a 64-bit store somewhere in the first 8 MiB */
			uint64_t off = (x % (8 * MiB)) & ~7ull;

			memcpy(r->a + off, &x, 8);
			r->writes++;
		}
	}
	return NULL;
}

static void test_writer(bool force_copy, bool force_hash)
{
	char what[64], err[512];
	struct ms_map_opts mo = { .opts_size = sizeof(mo), .writable = true, .no_prefetch = true,
				  .path = force_copy ? MS_MAP_PATH_COPY : MS_MAP_PATH_ZERO_COPY, .force_hash = force_hash };
	struct ms_map_opts ro = { .opts_size = sizeof(ro), .path = force_copy ? MS_MAP_PATH_COPY : MS_MAP_PATH_ZERO_COPY };
	struct ms_map_sync_stats st;
	static uint8_t chunks[NCHUNKS];
	uint64_t nch, c0, c1, changed, loops = 0, npages = NPAGES / 100;
	ms_map *m, *m2, *rd;
	uint8_t *a;
	bool uffd_mode;
	int ret;

	snprintf(what, sizeof(what), "%s, %s", force_copy ? "copy" : "zero-copy",
		 force_hash ? "hashing forced" : "default tracking");
	m = map_it(&mo, err, sizeof(err));
	if (!ok(m != NULL, "%s: writable map opened%s%s", what, m ? "" : ": ", m ? "" : err))
		return;
	a = ms_map_addr(m);
	ok(ms_map_writable(m), "%s: ms_map_writable", what);
	uffd_mode = strncmp(ms_map_dirty_mode(m), "userfaultfd", 11) == 0;
	diag("%s: dirty tracking: %s", what, ms_map_dirty_mode(m));
	if (force_hash)
		ok(strncmp(ms_map_dirty_mode(m), "hashing", 7) == 0 &&
		   strstr(ms_map_dirty_mode(m), "forced"),
		   "%s: says it hashes, forced: %s", what, ms_map_dirty_mode(m));
	else
		ok(*ms_map_dirty_mode(m), "%s: says how it tracks: %s", what,
		   ms_map_dirty_mode(m));

	/* the lease: a second writer is refused, a reader is not */
	m2 = map_it(&mo, err, sizeof(err));
	ok(!m2 && errno == EBUSY && strstr(err, "write lease"),
	   "%s: a second writable map gets EBUSY: %s", what, m2 ? "(opened)" : err);
	ms_map_close(m2);
	rd = map_it(&ro, err, sizeof(err));
	ok(rd != NULL, "%s: a reader maps it meanwhile", what);
	is_int(ms_map_sync(rd, NULL), -EACCES, "%s: sync on a read-only mapping: EACCES",
	       what);
	is_int(ms_map_wait(rd, 30000), 0, "%s: the reader prefetched everything", what);

	/* nothing written yet: nothing to push */
	ret = ms_map_sync(m, &st);
	ok(ret == 0 && st.chunks_pushed == 0 && st.pages_dirty == 0,
	   "%s: a sync before any write pushes nothing (%d, %llu)", what, ret,
	   (unsigned long long)st.chunks_pushed);

	/* 1% of the pages, at random */
	nch = write_pages(a, npages, chunks);
	c0 = fx_counts(srv, "w").committed;
	ret = ms_map_sync(m, &st);
	c1 = fx_counts(srv, "w").committed;
	is_int(ret, 0, "%s: ms_map_sync after writing 1%% of the pages", what);
	is_int(st.chunks_pushed, nch, "%s: exactly the %llu written chunks were pushed", what,
	       (unsigned long long)nch);
	if (uffd_mode) {
		/* pages tracked: the pages go out, not their chunks */
		is_int(st.pages_dirty, npages, "%s: the %llu written pages were found", what,
		       (unsigned long long)npages);
		is_int(st.bytes, npages * PAGE, "%s: only their bytes (%llu) crossed the wire",
		       what, (unsigned long long)st.bytes);
		is_int(c1 - c0, npages * PAGE,
		       "%s: the server's bytes_committed grew by those pages", what);
		is_int(st.runs, page_runs(), "%s: in %llu runs of adjacent pages", what,
		       (unsigned long long)st.runs);
	} else {
		/* hashing knows chunks only */
		is_int(st.pages_dirty, nch * (CHUNK / PAGE),
		       "%s: hashing reports the pages of the written chunks", what);
		is_int(st.bytes, nch * CHUNK, "%s: their chunks' bytes (%llu) crossed the wire",
		       what, (unsigned long long)st.bytes);
		is_int(c1 - c0, nch * CHUNK,
		       "%s: the server's bytes_committed grew by those chunks", what);
		ok(st.runs >= 1 && st.runs <= nch, "%s: in %llu runs", what,
		   (unsigned long long)st.runs);
	}
	is_int(nlocal(m), nch, "%s: only the written chunks were pulled", what);
	/* reading the whole mapping pulls the rest, never dirties */
	ok(memcmp(a, mem, SIZE) == 0, "%s: the server equals the mapping byte for byte",
	   what);
	ret = ms_map_sync(m, &st);
	ok(ret == 0 && st.chunks_pushed == 0 && st.bytes == 0 && st.pages_dirty == 0,
	   "%s: a second sync with no writes pushes nothing (%llu chunks, %llu pages)",
	   what, (unsigned long long)st.chunks_pushed, (unsigned long long)st.pages_dirty);
	is_int(fx_counts(srv, "w").committed, c1, "%s: and commits nothing", what);

	/* the reader follows */
	ret = ms_map_refresh(rd, &changed);
	is_int(ret, 0, "%s: reader refresh", what);
	is_int(changed, nch, "%s: the reader dropped exactly the %llu changed chunks", what,
	       (unsigned long long)nch);
	is_int(nlocal(rd), NCHUNKS - nch, "%s: the rest stayed local", what);
	ok(memcmp(ms_map_addr(rd), mem, SIZE) == 0, "%s: the reader sees the new bytes", what);
	is_int(nlocal(rd), NCHUNKS, "%s: touching pulled them again", what);
	ret = ms_map_refresh(rd, &changed);
	ok(ret == 0 && changed == 0, "%s: a second refresh drops nothing", what);
	ret = ms_map_refresh(m, &changed);
	ok(ret == 0 && changed == 0, "%s: the writer's refresh: its own commits are no change",
	   what);

	/* a writer racing the syncs loses nothing */
	{
		struct racer r = { .a = a, .seed = 0x1234567ull + force_copy + 2 * force_hash };
		pthread_t th;
		struct timespec t0, t1;
		int fails = 0;

		pthread_create(&th, NULL, racer_main, &r);
		clock_gettime(CLOCK_MONOTONIC, &t0);
		do {
			if (ms_map_sync(m, NULL))
				fails++;
			loops++;
			clock_gettime(CLOCK_MONOTONIC, &t1);
		} while ((t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000 <
			 700);
		atomic_store(&r.stop, true);
		pthread_join(th, NULL);
		is_int(fails, 0, "%s: %llu syncs raced %llu writes without error", what,
		       (unsigned long long)loops, (unsigned long long)r.writes);
		is_int(ms_map_sync(m, NULL), 0, "%s: final sync", what);
		ok(memcmp(a, mem, SIZE) == 0, "%s: the server equals the mapping: no write lost",
		   what);
		ret = ms_map_sync(m, &st);
		ok(ret == 0 && st.chunks_pushed == 0, "%s: and nothing is left dirty", what);
	}

	/* a locally dirty chunk that changed on the server: refresh refuses */
	{
		uint64_t c = NCHUNKS - 3, off = c * CHUNK + 100;

		a[off] ^= 0x5a;
		mem[off + 1] ^= 0xa5;
		ok(ms_export_commit(exp_, c * CHUNK, CHUNK) == 0, "%s: the server changes chunk",
		   what);
		ret = ms_map_refresh(m, &changed);
		ok(ret == -EBUSY && changed == 0,
		   "%s: refresh of a dirty changed chunk: EBUSY, nothing dropped (%d)", what,
		   ret);
		ok(a[off] == (uint8_t)(mem[off] ^ 0x5a), "%s: the local write is still there",
		   what);
		is_int(ms_map_sync(m, NULL), 0, "%s: sync it", what);
		ok(memcmp(a, mem, SIZE) == 0, "%s: the writer's bytes win", what);
	}
	ms_map_close(rd);
	ms_map_close(m);
}

/* ------------------------------------------------------ background push */

static void test_background(void)
{
	struct ms_map_opts mo = { .opts_size = sizeof(mo), .writable = true, .no_prefetch = true,
				  .sync_interval_ms = 30 };
	static uint8_t chunks[NCHUNKS];
	char err[512];
	ms_map *m = map_it(&mo, err, sizeof(err));
	uint8_t *a;
	int i;

	if (!ok(m != NULL, "background: writable map with sync_interval_ms 30"))
		return;
	a = ms_map_addr(m);
	write_pages(a, 200, chunks);
	for (i = 0; i < 200; i++) {
		bool same = true;

		for (uint64_t c = 0; c < NCHUNKS && same; c++)
			if (chunks[c] && memcmp(a + c * CHUNK, mem + c * CHUNK, CHUNK))
				same = false;
		if (same)
			break;
		usleep(25000);
	}
	ok(i < 200, "background: the writes reached the server without a call");
	is_str(ms_map_errmsg(m), "", "background: no error");
	ms_map_close(m);
	/* the lease went with the mapping */
	m = map_it(&mo, err, sizeof(err));
	ok(m != NULL, "background: closed: the lease is free again");
	ms_map_close(m);
}

/* --------------------------------------------------- a refused commit */

struct spoiler {
	atomic_bool stop;
	uint64_t off;
};

/* What a local application writing the server's (memfd) region behind a
 * remote writer's back does: the page keeps changing under the commit. */
static void *spoiler_main(void *arg)
{
	struct spoiler *sp = arg;
	uint8_t v = 0;

	while (!atomic_load_explicit(&sp->stop, memory_order_relaxed))
		for (uint32_t i = 0; i < PAGE; i += 64)
			__atomic_store_n(&memd[sp->off + i], ++v, __ATOMIC_RELAXED);
	return NULL;
}

static void test_refused_commit(void)
{
	struct ms_map_opts mo = { .opts_size = sizeof(mo), .writable = true, .no_prefetch = true };
	struct ms_map_sync_stats st;
	struct spoiler sp = { .off = 77 * (uint64_t)PAGE };
	char err[512];
	uint64_t c0 = 0, tries = 0;
	pthread_t th;
	ms_map *m;
	uint8_t *a;
	int ret = 0;

	m = map_on("wd", &mo, err, sizeof(err));
	if (!ok(m != NULL, "refused commit: writable map opened%s%s", m ? "" : ": ",
		m ? "" : err))
		return;
	a = ms_map_addr(m);
	/* the chunk is pulled (verified) before its server bytes go wild */
	a[sp.off + 5] ^= 0x5a;
	is_int(ms_map_sync(m, &st), 0, "refused commit: a first sync succeeds");
	if (pthread_create(&th, NULL, spoiler_main, &sp))
		tap_bail("pthread_create");
	/* the window between the WRITE landing and the commit's check is
	 * short, and on a loaded machine the spoiler may not run in it for
	 * a while: try until it hits (bounded) */
	for (tries = 0; tries < 2000 && ret != -EIO; tries++) {
		a[sp.off + 5] ^= 0x5a;
		c0 = fx_counts(srv, "wd").committed;
		ret = ms_map_sync(m, &st);
	}
	atomic_store(&sp.stop, true);
	pthread_join(th, NULL);
	diag("refused commit: the spoiler hit the window after %llu tries",
	     (unsigned long long)tries);
	if (!ok(ret == -EIO, "a commit whose bytes changed on the server is refused (EIO): %d",
		ret)) {
		ms_map_close(m);
		return;
	}
	ok(strstr(ms_map_errmsg(m), "commit failed") && strstr(ms_map_errmsg(m), "stay dirty"),
	   "ms_map_errmsg says the commit failed and the pages stay dirty: %s",
	   ms_map_errmsg(m));
	is_int(fx_counts(srv, "wd").committed, c0, "the server committed nothing");
	/* nothing new written: the pending page goes out again */
	ret = ms_map_sync(m, &st);
	is_int(ret, 0, "the next sync succeeds");
	ok(st.chunks_pushed == 1 && st.bytes == PAGE,
	   "it pushes the page the refused commit named (%llu chunks, %llu bytes)",
	   (unsigned long long)st.chunks_pushed, (unsigned long long)st.bytes);
	ok(memcmp(memd + sp.off, a + sp.off, PAGE) == 0,
	   "the server holds the mapping's bytes of that page");
	is_str(ms_map_errmsg(m), "", "a successful sync clears the error");
	ms_map_close(m);
}

/* A sync larger than the bounce buffer (16 MiB) goes out as several
 * batches, written one after the other and committed together: one
 * commit, every batch's pages leave the pending map and its chunks take
 * that commit's generation, so a second sync pushes nothing and the
 * writer's refresh drops nothing. */
static void test_multi_batch(void)
{
	struct ms_map_opts mo = { .opts_size = sizeof(mo), .writable = true, .no_prefetch = true };
	const uint64_t span = 20 * MiB;
	struct ms_map_sync_stats st;
	uint64_t c0, changed = 1;
	struct fx_counts k0, k1;
	char err[512];
	ms_map *m;
	uint8_t *a;

	m = map_it(&mo, err, sizeof(err));
	if (!ok(m != NULL, "batches: writable map opened%s%s", m ? "" : ": ", m ? "" : err))
		return;
	a = ms_map_addr(m);
	for (uint64_t off = 0; off < span; off += PAGE)
		a[off + 9] ^= 0x3c;
	c0 = fx_counts(srv, "w").committed;
	k0 = fx_counts(srv, "w");
	is_int(ms_map_sync(m, &st), 0, "batches: a sync of %llu MiB written",
	       (unsigned long long)(span / MiB));
	k1 = fx_counts(srv, "w");
	is_int(k1.commits - k0.commits, 1, "batches: one commit for every batch");
	is_int(k1.generation - k0.generation, 1, "batches: the region's generation moved by one");
	is_int(st.chunks_pushed, span / CHUNK, "batches: every written chunk pushed once");
	is_int(st.bytes, span, "batches: every written byte sent once");
	is_int(fx_counts(srv, "w").committed - c0, span, "batches: the server committed them all");
	ok(memcmp(a, mem, span) == 0, "batches: the server equals the mapping");
	is_int(ms_map_sync(m, &st), 0, "batches: a second sync");
	ok(st.chunks_pushed == 0 && st.bytes == 0,
	   "batches: ... pushes nothing: no batch left its pages pending (%llu chunks)",
	   (unsigned long long)st.chunks_pushed);
	is_int(ms_map_refresh(m, &changed), 0, "batches: the writer's refresh");
	is_int(changed, 0, "batches: ... drops nothing: the commit stamped every batch's chunks");
	ms_map_close(m);
}

static uint64_t *gens_now(ms_region *r)
{
	uint64_t *g = calloc(NCHUNKS, sizeof(*g));

	if (!g || ms_chunk_generations(r, 0, g, NCHUNKS))
		tap_bail("cannot read the chunk generations");
	return g;
}

/* The same sync of several batches, its commit refused for a page of the
 * last batch (the spoiler rewrites it in the server's memory): nothing of
 * the first batch is published either, and the pages stay pending. */
static void test_multi_batch_refused(void)
{
	struct ms_map_opts mo = { .opts_size = sizeof(mo), .writable = true, .no_prefetch = true };
	const uint64_t span = 20 * MiB;
	struct spoiler sp = { .off = 18 * MiB + 5 * PAGE };
	struct ms_map_sync_stats st;
	struct fx_counts k0 = { 0 }, k1;
	uint64_t *g0 = NULL, *g1, tries;
	char err[512];
	ms_client *c;
	ms_region *r;
	pthread_t th;
	ms_map *m;
	uint8_t *a;
	int ret = 0;

	m = map_on("wd", &mo, err, sizeof(err));
	if (!ok(m != NULL, "batches, refused: writable map opened%s%s", m ? "" : ": ",
		m ? "" : err))
		return;
	c = fx_connect(&f, NULL);
	r = c ? ms_open(c, "wd", MS_MODE_READ) : NULL;
	if (!r)
		tap_bail("batches, refused: a reader of the generations: %s",
			 c ? ms_client_errmsg(c) : "cannot connect");
	a = ms_map_addr(m);
	/* every chunk of the span is pulled (verified) before the spoiler
	 * starts: the writes fault them in */
	for (uint64_t off = 0; off < span; off += PAGE)
		a[off + 9] ^= 0x3c;
	if (pthread_create(&th, NULL, spoiler_main, &sp))
		tap_bail("pthread_create");
	for (tries = 0; tries < 100 && ret != -EIO; tries++) {
		if (tries)      /* missed: every page written again */
			for (uint64_t off = 0; off < span; off += PAGE)
				a[off + 9] ^= 0x3c;
		free(g0);
		g0 = gens_now(r);
		k0 = fx_counts(srv, "wd");
		ret = ms_map_sync(m, &st);
	}
	atomic_store(&sp.stop, true);
	pthread_join(th, NULL);
	diag("batches, refused: the spoiler hit the window after %llu tries",
	     (unsigned long long)tries);
	if (!ok(ret == -EIO, "batches, refused: the sync fails (EIO): %d", ret))
		goto out;
	ok(st.bytes == span, "batches, refused: every batch had been written (%llu bytes)",
	   (unsigned long long)st.bytes);
	ok(strstr(ms_map_errmsg(m), "commit failed") && strstr(ms_map_errmsg(m), "stay dirty"),
	   "batches, refused: ms_map_errmsg: %s", ms_map_errmsg(m));
	k1 = fx_counts(srv, "wd");
	ok(k1.commits == k0.commits && k1.generation == k0.generation &&
		   k1.committed == k0.committed,
	   "batches, refused: the server accepted no commit (commits, generation, "
	   "bytes_committed unchanged)");
	g1 = gens_now(r);
	ok(memcmp(g0, g1, NCHUNKS * sizeof(*g0)) == 0,
	   "batches, refused: no chunk of the first batch was published (no generation moved)");
	free(g1);
	/* the spoiler is gone: the next sync pushes every page again */
	k0 = fx_counts(srv, "wd");
	is_int(ms_map_sync(m, &st), 0, "batches, refused: the next sync succeeds");
	k1 = fx_counts(srv, "wd");
	ok(st.bytes == span && st.chunks_pushed == span / CHUNK,
	   "batches, refused: ... it pushes every page of both batches again "
	   "(%llu bytes, %llu chunks)",
	   (unsigned long long)st.bytes, (unsigned long long)st.chunks_pushed);
	ok(k1.commits == k0.commits + 1 && k1.generation == k0.generation + 1 &&
		   k1.committed - k0.committed == span,
	   "batches, refused: ... as one commit of all of it");
	ok(memcmp(a, memd, span) == 0, "batches, refused: the server equals the mapping");
	is_str(ms_map_errmsg(m), "", "batches, refused: the error is cleared");
out:
	free(g0);
	ms_disconnect(c);
	ms_map_close(m);
}

/* A local page whose page table entry the kernel dropped (here the
 * application's MADV_DONTNEED; reclaim and migration do the same) is
 * mapped again on the next access, never a fault loop: zero-copy maps the
 * memfd's bytes again, copy reads zeros as anonymous memory does; either
 * way the page counts as written and the next sync pushes it. */
static void test_dropped_pte(bool force_copy)
{
	struct ms_map_opts mo = { .opts_size = sizeof(mo), .writable = true, .no_prefetch = true,
				  .path = force_copy ? MS_MAP_PATH_COPY : MS_MAP_PATH_ZERO_COPY };
	const char *what = force_copy ? "copy" : "zero-copy";
	struct ms_map_sync_stats st;
	const uint64_t off = 300 * (uint64_t)PAGE;
	uint8_t before[PAGE], zero[PAGE] = { 0 };
	char err[512];
	ms_map *m;
	uint8_t *a;

	m = map_it(&mo, err, sizeof(err));
	if (!ok(m != NULL, "dropped pte, %s: writable map opened%s%s", what, m ? "" : ": ",
		m ? "" : err))
		return;
	a = ms_map_addr(m);
	a[off + 1] ^= 0x33;
	is_int(ms_map_sync(m, NULL), 0, "dropped pte, %s: the page is written and synced",
	       what);
	memcpy(before, a + off, PAGE);
	is_int(madvise(a + off, PAGE, MADV_DONTNEED), 0, "dropped pte, %s: MADV_DONTNEED",
	       what);
	/* a hang here is the bug */
	ok(memcmp(a + off, force_copy ? zero : before, PAGE) == 0,
	   "dropped pte, %s: the next read returns %s", what,
	   force_copy ? "zeros, as anonymous memory does" : "the memfd's bytes");
	is_int(ms_map_sync(m, &st), 0, "dropped pte, %s: sync", what);
	ok(st.bytes >= PAGE, "dropped pte, %s: the page counts as written (%llu bytes pushed)",
	   what, (unsigned long long)st.bytes);
	ok(memcmp(mem + off, a + off, PAGE) == 0 && ms_map_errmsg(m)[0] == '\0',
	   "dropped pte, %s: the server holds the mapping's page", what);
	ms_map_close(m);
}

/* ------------------------------------- a writable mapping reconnects */

/* A server of region "ws" (4 MiB) on port (NULL: a free one), its bytes
 * from seed. */
static void ws_up(struct fx_server *g, const char *port, uint64_t seed)
{
	const struct fx_region reg = { .name = "ws", .size = 4 * MiB, .chunk_size = CHUNK,
				       .no_mlock = true };

	memset(g, 0, sizeof(*g));
	g->want_port = port;
	fx_server_up_with(g, &reg, 1, seed);
}

/*
 * The server of a writable mapping restarts on the same port, and chunks
 * 2 and 9 of it change meanwhile (another writer).  The mapping holds both;
 * a page of chunk 2 is written locally and not synced.  ms_map_sync
 * reconnects, takes the lease again, keeps chunk 2 (pending), drops chunk
 * 9 and pushes the page: the written page wins on the server, chunk 9
 * reads its new bytes, the rest equals the server.  Restarted again, with
 * another writer holding the lease when the mapping comes back: the sync
 * fails with EBUSY and the written page stays pending; once that writer
 * closes, the next sync reconnects and pushes it.
 */
static void test_reconnect(bool force_copy)
{
	struct ms_map_opts mo = { .opts_size = sizeof(mo), .writable = true, .no_prefetch = true,
				  .path = force_copy ? MS_MAP_PATH_COPY : MS_MAP_PATH_ZERO_COPY,
				  .reconnect_timeout_ms = 10000 };
	struct ms_client_opts co = { .opts_size = sizeof(co), .transport = MS_TRANSPORT_TCP,
				     .timeout_ms = 10000 };
	const char *what = force_copy ? "copy" : "zero-copy";
	const uint64_t p2 = 2 * CHUNK + 3 * PAGE, tail = 3 * CHUNK, p20 = 20 * CHUNK + 5;
	struct ms_map_sync_stats st;
	uint64_t seed = f.rng;
	char port[8], err[512];
	struct fx_server g;
	ms_client *c2;
	ms_region *r2;
	ms_map *m;
	uint8_t *a;

	ws_up(&g, NULL, seed);
	f.rng = g.rng;
	snprintf(port, sizeof(port), "%s", g.port);
	m = ms_map_open("127.0.0.1", port, "ws", &co, &mo, err, sizeof(err));
	if (!ok(m != NULL, "reconnect, %s: writable map opened%s%s", what, m ? "" : ": ",
		m ? "" : err)) {
		fx_server_down(&g);
		return;
	}
	a = ms_map_addr(m);
	a[p2 + 100] = 0x11;            /* chunk 2: written, not synced */
	ok(a[9 * CHUNK] == g.mem[0][9 * CHUNK], "reconnect, %s: chunk 9 local", what);
	fx_server_down(&g);
	ws_up(&g, port, seed);
	memset(g.mem[0] + 2 * CHUNK, 0x77, CHUNK);
	memset(g.mem[0] + 9 * CHUNK, 0x3c, CHUNK);
	ok(ms_export_commit(g.e[0], 2 * CHUNK, CHUNK) == 0 &&
	   ms_export_commit(g.e[0], 9 * CHUNK, CHUNK) == 0,
	   "reconnect, %s: the restarted server's chunks 2 and 9 change", what);
	is_int(ms_map_sync(m, &st), 0, "reconnect, %s: ms_map_sync reconnects and commits%s%s",
	       what, ms_map_errmsg(m)[0] ? ": " : "", ms_map_errmsg(m));
	is_int(st.chunks_pushed, 1, "reconnect, %s: it pushed the written chunk", what);
	ok(a[p2 + 100] == 0x11 && memcmp(g.mem[0] + p2, a + p2, PAGE) == 0,
	   "reconnect, %s: the written page was kept and wins on the server", what);
	ok(a[9 * CHUNK] == 0x3c && a[10 * CHUNK - 1] == 0x3c,
	   "reconnect, %s: chunk 9 was dropped and reads the server's new bytes", what);
	ok(memcmp(a, g.mem[0], 2 * CHUNK) == 0 &&
	   memcmp(a + tail, g.mem[0] + tail, 4 * MiB - tail) == 0,
	   "reconnect, %s: the rest of the mapping equals the server byte for byte", what);

	a[p20] ^= 0xff;
	fx_server_down(&g);
	ws_up(&g, port, seed);
	c2 = fx_connect(&g, NULL);
	r2 = c2 ? ms_open(c2, "ws", MS_MODE_WRITE) : NULL;
	ok(r2 != NULL, "reconnect, %s: another writer takes the lease first", what);
	is_int(ms_map_sync(m, NULL), -EBUSY, "reconnect, %s: the sync cannot take it: EBUSY",
	       what);
	ok(strstr(ms_map_errmsg(m), "reconnecting") && strstr(ms_map_errmsg(m), "written by"),
	   "reconnect, %s: it says so: %s", what, ms_map_errmsg(m));
	ms_close(r2);
	is_int(ms_map_sync(m, &st), 0, "reconnect, %s: that writer gone, the next sync succeeds",
	       what);
	ok(st.chunks_pushed == 1 && g.mem[0][p20] == a[p20],
	   "reconnect, %s: it pushed the page the failed sync kept pending (and nothing "
	   "else: %llu chunk)", what, (unsigned long long)st.chunks_pushed);
	ms_disconnect(c2);
	ms_map_close(m);
	fx_server_down(&g);
}

int main(void)
{
	alarm(600);     /* a fault loop or hang fails the test instead */
	fx_server_up(&f, regs, 2, FX_SEED);
	srv = f.s;
	exp_ = f.e[0];
	mem = f.mem[0];
	memd = f.mem[1];

	for (int fc = 0; fc < 2; fc++)
		for (int fh = 0; fh < 2; fh++)
			test_writer(fc, fh);
	test_background();
	test_refused_commit();
	test_multi_batch();
	test_multi_batch_refused();
	test_dropped_pte(false);
	test_dropped_pte(true);
	test_reconnect(false);
	test_reconnect(true);

	fx_server_down(&f);
	return tap_done();
}
