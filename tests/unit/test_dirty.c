/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_dirty.c - the dirty-page tracker, on a 64 MiB anonymous mapping and
 * on a 64 MiB MAP_SHARED memfd, in both modes: userfaultfd (when the kernel
 * has WP_ASYNC and PAGEMAP_SCAN) and the forced hashing fallback, side by
 * side on the same memory.  Exact page sets, nothing after open or after a
 * read, collects that need several calls, kernel-mode writes, chunk maps,
 * a writer thread racing the collector (no write may be lost), the short
 * last chunk, a range taken by another userfaultfd, a remapped range and
 * bad input.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "chunkmap.h"
#include "dirty.h"
#include "tap.h"
#include "fixture.h"
#include "util.h"

#define MIB (1ull << 20)
#define REGION (64 * MIB)
#define CHUNK (64u * 1024)

static size_t pg;
static bool have_uffd; /* the kernel gives MS_DIRTY_UFFD */

/* xorshift64*, the same sequence on every run */
static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static uint64_t rnd(void)
{
	return fx_next_star(&rng_state);
}

/* ------------------------------------------------------------- mappings */

struct map {
	const char *kind;
	uint8_t *p;
	size_t len;
	int fd;
};

static void map_open(struct map *m, const char *kind, size_t len)
{
	m->kind = kind;
	m->len = len;
	m->fd = -1;
	if (strcmp(kind, "memfd") == 0) {
		m->fd = memfd_create("test_dirty", MFD_CLOEXEC);
		if (m->fd < 0 || ftruncate(m->fd, (off_t)len) < 0)
			tap_bail("memfd: %s", strerror(errno));
		m->p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, m->fd, 0);
	} else {
		m->p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1,
			    0);
		/* let written 2 MiB areas become THPs before open (if enabled) */
		if (m->p != MAP_FAILED)
			(void)madvise(m->p, len, MADV_HUGEPAGE);
	}
	if (m->p == MAP_FAILED)
		tap_bail("mmap %zu bytes: %s", len, strerror(errno));
}

static void map_close(struct map *m)
{
	munmap(m->p, m->len);
	if (m->fd >= 0)
		close(m->fd);
}

/* Change page p (a counter at a pseudo-random place in it). */
static void touch(uint8_t *base, size_t p)
{
	uint64_t *w = (uint64_t *)(base + p * pg) + rnd() % (pg / 8);

	__atomic_store_n(w, __atomic_load_n(w, __ATOMIC_RELAXED) + 1, __ATOMIC_RELAXED);
}

static struct ms_dirty *open_or_bail(struct map *m, uint32_t chunk, unsigned flags,
				     char *why, size_t whylen)
{
	struct ms_dirty_opts o = { .chunk_size = chunk, .flags = flags };
	struct ms_dirty *d = NULL;
	int ret = ms_dirty_open_opts(m->p, m->len, &o, &d, why, whylen);

	if (ret)
		tap_bail("ms_dirty_open %s: %s (%s)", m->kind, strerror(-ret), why);
	return d;
}

/* -------------------------------------------------------------- passes */

/*
 * One whole pass with out[] of max entries.  Marks the reported pages in
 * pages[] (cleared first).  *sane: ranges in order, not overlapping, inside
 * the range, aligned to the mode's unit (the last chunk may be short).
 */
static int pass(struct ms_dirty *d, size_t len, size_t max, bool *pages, size_t *calls,
		bool *sane)
{
	struct ms_dirty_range *r = calloc(max, sizeof(*r));
	uint64_t unit = ms_dirty_mode(d) == MS_DIRTY_UFFD ? pg : ms_dirty_chunk_size(d);
	uint64_t prev_end = 0;
	bool more, first = true;
	int ret = 0;

	if (!r)
		tap_bail("out of memory");
	memset(pages, 0, len / pg);
	*calls = 0;
	*sane = true;
	do {
		size_t n = 0;

		ret = ms_dirty_collect(d, r, max, &n, &more);
		(*calls)++;
		if (ret || n > max || *calls > len / pg + 2) {
			*sane = false;
			break;
		}
		for (size_t i = 0; i < n; i++) {
			uint64_t off = r[i].off, end = r[i].off + r[i].len;

			if (r[i].len == 0 || end > len || off % unit ||
			    (end % unit && end != len) || (!first && off < prev_end))
				*sane = false;
			for (uint64_t o = off; o < end && o < len; o += pg)
				pages[o / pg] = true;
			prev_end = end;
			first = false;
		}
	} while (more);
	free(r);
	return ret;
}

static size_t count(const bool *b, size_t n)
{
	size_t c = 0;

	for (size_t i = 0; i < n; i++)
		c += b[i];
	return c;
}

/* chunk set of a page set */
static void page_chunks(const bool *pages, size_t npages, uint32_t chunk, struct ms_chunkmap *m)
{
	ms_chunkmap_clear_all(m);
	for (size_t i = 0; i < npages; i++)
		if (pages[i])
			ms_chunkmap_set(m, i * pg / chunk);
}

static bool maps_equal(const struct ms_chunkmap *a, const struct ms_chunkmap *b)
{
	if (a->nbits != b->nbits)
		return false;
	for (uint64_t i = 0; i < a->nbits; i++)
		if (ms_chunkmap_test(a, i) != ms_chunkmap_test(b, i))
			return false;
	return true;
}

static void diag_diff(const bool *got, const bool *want, size_t n)
{
	int shown = 0;

	for (size_t i = 0; i < n && shown < 8; i++)
		if (got[i] != want[i]) {
			diag("page %zu: reported %d, written %d", i, got[i], want[i]);
			shown++;
		}
}

/*
 * Check a pass of the userfaultfd tracker u (may be NULL) and of the
 * hashing tracker h against the pages written since the last pass.
 */
static void check_step(struct ms_dirty *u, struct ms_dirty *h, const struct map *m,
		       const bool *want, size_t max, const char *what)
{
	size_t np = m->len / pg, calls;
	bool *got = malloc(np), sane;
	struct ms_chunkmap wc, gc;
	int ret;

	if (!got || ms_chunkmap_init(&wc, ms_div_round_up(m->len, CHUNK)) ||
	    ms_chunkmap_init(&gc, ms_div_round_up(m->len, CHUNK)))
		tap_bail("out of memory");
	page_chunks(want, np, CHUNK, &wc);
	if (u) {
		ret = pass(u, m->len, max, got, &calls, &sane);
		is_int(ret, 0, "%s uffd: %s: collect", m->kind, what);
		ok(sane && memcmp(got, want, np) == 0,
		   "%s uffd: %s: exactly the %zu written pages (%zu reported, %zu calls)",
		   m->kind, what, count(want, np), count(got, np), calls);
		if (memcmp(got, want, np))
			diag_diff(got, want, np);
	}
	ret = pass(h, m->len, max, got, &calls, &sane);
	is_int(ret, 0, "%s hash: %s: collect", m->kind, what);
	page_chunks(got, np, CHUNK, &gc);
	ok(sane && maps_equal(&gc, &wc),
	   "%s hash: %s: exactly the %llu chunks written (%llu reported, %zu calls)", m->kind,
	   what, (unsigned long long)ms_chunkmap_count(&wc),
	   (unsigned long long)ms_chunkmap_count(&gc), calls);
	ms_chunkmap_free(&wc);
	ms_chunkmap_free(&gc);
	free(got);
}

/* --------------------------------------------------- the main scenario */

static void test_kind(const char *kind)
{
	struct map m;
	struct ms_dirty *u = NULL, *h;
	char why[256], hwhy[256];
	size_t np = REGION / pg;
	bool *want = calloc(np, 1), *prev = calloc(np, 1);
	volatile uint64_t sink = 0;
	int fds0;

	if (!want || !prev)
		tap_bail("out of memory");
	map_open(&m, kind, REGION);
	fds0 = fx_count_fds();
	/* written before open: must not count */
	for (size_t p = 0; p < 64; p++)
		touch(m.p, p * 97);
	touch(m.p, np - 1);

	u = open_or_bail(&m, CHUNK, 0, why, sizeof(why));
	if (ms_dirty_mode(u) == MS_DIRTY_UFFD) {
		ok(strcmp(why, "userfaultfd WP_ASYNC + PAGEMAP_SCAN") == 0,
		   "%s: userfaultfd mode, why = \"%s\"", kind, why);
	} else {
		tap_skip("%s: userfaultfd mode: kernel: %s", kind, why);
		ms_dirty_close(u);
		u = NULL;
	}
	h = open_or_bail(&m, CHUNK, MS_DIRTY_FORCE_HASH, hwhy, sizeof(hwhy));
	ok(ms_dirty_mode(h) == MS_DIRTY_HASH && strstr(hwhy, "hashing") &&
		   strstr(hwhy, "forced"),
	   "%s: forced hashing mode, why = \"%s\"", kind, hwhy);
	ok(ms_dirty_chunk_size(h) == CHUNK && ms_dirty_nchunks(h) == REGION / CHUNK,
	   "%s: chunk size and count", kind);

	check_step(u, h, &m, want, 16, "right after open (pages written before open, untouched pages)");

	/* reads, of untouched and of touched pages, are not writes */
	for (size_t p = 0; p < np; p += 3)
		sink += m.p[p * pg + 8];
	for (size_t p = 0; p < 64; p++)
		sink += m.p[p * 97 * pg];
	(void)sink;
	check_step(u, h, &m, want, 16, "after reading a third of the pages");

	/* scattered writes: random pages, the first and the last, an adjacent
	 * run, a page written before open, pages only read so far */
	for (int i = 0; i < 300; i++)
		want[rnd() % np] = true;
	want[0] = want[np - 1] = want[97] = want[3 * 1000] = true;
	for (size_t p = 500; p < 520; p++)
		want[p] = true;
	for (size_t p = 0; p < np; p++)
		if (want[p])
			touch(m.p, p);
	memcpy(prev, want, np);
	check_step(u, h, &m, want, 7, "scattered writes, out[] of 7");

	memset(want, 0, np);
	check_step(u, h, &m, want, 64, "second collect without writes");

	/* write again to every other page reported before, and to new ones */
	for (size_t p = 0, i = 0; p < np; p++)
		if (prev[p] && i++ % 2 == 0)
			want[p] = true;
	for (int i = 0; i < 50; i++)
		want[rnd() % np] = true;
	for (size_t p = 0; p < np; p++)
		if (want[p])
			touch(m.p, p);
	check_step(u, h, &m, want, 1, "writes again to reported pages, out[] of 1");

	/* a write by the kernel on our behalf: read(2) into the range */
	{
		int pfd[2];
		const char msg[] = "written by read(2)";
		size_t p = np / 2 + 3;

		memset(want, 0, np);
		if (pipe(pfd) < 0 || write(pfd[1], msg, sizeof(msg)) != (ssize_t)sizeof(msg))
			tap_bail("pipe: %s", strerror(errno));
		is_int(read(pfd[0], m.p + p * pg + 100, sizeof(msg)), sizeof(msg),
		       "%s: read(2) into page %zu", kind, p);
		close(pfd[0]);
		close(pfd[1]);
		want[p] = true;
		check_step(u, h, &m, want, 16, "a read(2) into an untouched page");
	}

	/* chunk maps: collect_chunks of both modes against the written set */
	{
		struct ms_chunkmap wc, uc, hc;
		uint64_t nr_u = 0, nr_h = 0;
		uint64_t nc = REGION / CHUNK;

		if (ms_chunkmap_init(&wc, nc) || ms_chunkmap_init(&uc, nc) ||
		    ms_chunkmap_init(&hc, nc))
			tap_bail("out of memory");
		memset(want, 0, np);
		for (int i = 0; i < 1000; i++)
			want[rnd() % np] = true;
		for (size_t p = 4096; p < 4096 + 64; p++) /* 16 whole chunks */
			want[p] = true;
		for (size_t p = 0; p < np; p++)
			if (want[p])
				touch(m.p, p);
		page_chunks(want, np, CHUNK, &wc);
		if (u) {
			is_int(ms_dirty_collect_chunks(u, &uc, &nr_u), 0, "%s uffd: collect_chunks",
			       kind);
			ok(maps_equal(&uc, &wc),
			   "%s uffd: chunk map = the written chunks (%llu chunks, %llu ranges)",
			   kind, (unsigned long long)ms_chunkmap_count(&uc),
			   (unsigned long long)nr_u);
		}
		is_int(ms_dirty_collect_chunks(h, &hc, &nr_h), 0, "%s hash: collect_chunks", kind);
		ok(maps_equal(&hc, &wc),
		   "%s hash: chunk map = the written chunks (%llu chunks, %llu ranges)", kind,
		   (unsigned long long)ms_chunkmap_count(&hc), (unsigned long long)nr_h);
		if (u)
			ok(maps_equal(&uc, &hc), "%s: both modes give the same chunk set", kind);
		ms_chunkmap_clear_all(&uc);
		if (u) {
			is_int(ms_dirty_collect_chunks(u, &uc, NULL), 0, "%s uffd: collect_chunks again",
			       kind);
			is_int(ms_chunkmap_count(&uc), 0, "%s uffd: nothing the second time", kind);
		}
		ms_chunkmap_free(&wc);
		ms_chunkmap_free(&uc);
		ms_chunkmap_free(&hc);
	}

	/* a second userfaultfd tracker on the same range: hashing, says why */
	if (u) {
		struct ms_dirty *u2 = NULL;
		char w2[256];

		is_int(ms_dirty_open(m.p, m.len, &u2, w2, sizeof(w2)), 0,
		       "%s: second tracker on a registered range opens", kind);
		ok(u2 && ms_dirty_mode(u2) == MS_DIRTY_HASH && strstr(w2, "another userfaultfd"),
		   "%s: ... in hashing mode: \"%s\"", kind, w2);
		ms_dirty_close(u2);
	}

	ms_dirty_close(u);
	ms_dirty_close(h);
	is_int(fx_count_fds(), fds0, "%s: close releases every descriptor", kind);

	/* after close, the range can be tracked again from scratch */
	if (u) {
		struct ms_dirty *again = open_or_bail(&m, CHUNK, 0, why, sizeof(why));
		size_t calls;
		bool sane;

		memset(want, 0, np);
		is_int(pass(again, m.len, 16, want, &calls, &sane), 0, "%s: reopen", kind);
		ok(ms_dirty_mode(again) == MS_DIRTY_UFFD && count(want, np) == 0,
		   "%s: reopened in userfaultfd mode, clean", kind);
		ms_dirty_close(again);
	}
	map_close(&m);
	free(want);
	free(prev);
}

/* ------------------------------------------------------------- the race */

#define RACE_REGION (16 * MIB)
#define WIN 32	 /* pages a writer works on at a time */
#define WIN_ROUNDS 4 /* writes to each of them */

/* the race is only a test once the writer got this far */
#define RACE_MIN_WRITES 5000

struct race {
	uint8_t *base;
	size_t npages;
	size_t *order; /* every page, shuffled */
	int stop;
	uint64_t writes;
};

/*
 * Walk the pages in random order, WIN at a time: write each page of the
 * window WIN_ROUNDS times, about 2 µs apart, then leave it.  So most pages
 * get a last write at some random moment of the race that no later write
 * to the page covers: a tracker that loses writes cannot hide it behind
 * the next write to the same page.  Pages are written both while they are
 * protected (clean) and while they are not.
 */
static void *writer(void *arg)
{
	struct race *r = arg;
	uint64_t n = 0, x = 0x1234567887654321ull;

	for (size_t w0 = 0; !__atomic_load_n(&r->stop, __ATOMIC_ACQUIRE);
	     w0 = (w0 + WIN) % r->npages) {
		for (int round = 0; round < WIN_ROUNDS; round++) {
			for (size_t i = 0; i < WIN; i++) {
				size_t p = r->order[(w0 + i) % r->npages];
				uint64_t *w, t;

				x ^= x >> 12;
				x ^= x << 25;
				x ^= x >> 27;
				w = (uint64_t *)(r->base + p * pg) + (x >> 40) % (pg / 8);
				__atomic_store_n(w, __atomic_load_n(w, __ATOMIC_RELAXED) + 1,
						 __ATOMIC_RELAXED);
				n++;
				__atomic_store_n(&r->writes, n, __ATOMIC_RELAXED);
				for (t = ms_now_ns(); ms_now_ns() - t < 2000;)
					;
			}
		}
	}
	__atomic_store_n(&r->writes, n, __ATOMIC_RELEASE);
	return NULL;
}

/* copy [off, off+len) from live memory word by word (the writer may be
 * storing into it) */
static void copy_words(uint8_t *dst, const uint8_t *src, uint64_t off, uint64_t len)
{
	for (uint64_t o = off; o < off + len; o += 8) {
		uint64_t v = __atomic_load_n((const uint64_t *)(src + o), __ATOMIC_RELAXED);

		memcpy(dst + o, &v, 8);
	}
}

/*
 * On 16 MiB, a writer thread increments counters in random pages for
 * ~0.4 s while this thread collects in a loop and copies every reported
 * range into a shadow copy, as a push would send it.  Once the writer
 * stopped: the pages whose live bytes differ from the shadow are exactly
 * the writes that happened after their page was last copied; all must be
 * in the final collect, and after copying it the shadow must equal memory.
 * A tracker that loses a write (protects a page again without reporting
 * it) fails here: one that scans without WP_MATCHING and then protects the
 * range with UFFDIO_WRITEPROTECT loses thousands of pages in this test.
 */
static void test_race(const char *kind, unsigned flags)
{
	const char *mode = flags & MS_DIRTY_FORCE_HASH ? "hash" : "uffd";
	struct map m;
	struct race r = { 0 };
	struct ms_dirty *d;
	struct ms_dirty_range out[32];
	char why[256];
	size_t np = RACE_REGION / pg, lagging = 0, missed = 0, passes = 0, reported = 0;
	uint8_t *shadow;
	bool *final;
	pthread_t t;
	uint64_t t_start, t_end;
	bool more, failed = false;
	int ret = 0;

	map_open(&m, kind, RACE_REGION);
	shadow = malloc(RACE_REGION);
	final = calloc(np, 1);
	if (!shadow || !final)
		tap_bail("out of memory");
	for (size_t p = 0; p < np; p += 16)
		touch(m.p, p);
	d = open_or_bail(&m, CHUNK, flags, why, sizeof(why));
	if (!(flags & MS_DIRTY_FORCE_HASH) && ms_dirty_mode(d) != MS_DIRTY_UFFD) {
		tap_skip("%s %s: no write lost: %s", kind, mode, why);
		ms_dirty_close(d);
		map_close(&m);
		free(shadow);
		free(final);
		return;
	}
	memcpy(shadow, m.p, RACE_REGION); /* what the other side has at open */

	r.base = m.p;
	r.npages = np;
	r.order = malloc(np * sizeof(*r.order));
	if (!r.order)
		tap_bail("out of memory");
	for (size_t i = 0; i < np; i++)
		r.order[i] = i;
	for (size_t i = np - 1; i > 0; i--) {
		size_t j = (size_t)(rnd() % (i + 1)), tmp = r.order[i];

		r.order[i] = r.order[j];
		r.order[j] = tmp;
	}
	if (pthread_create(&t, NULL, writer, &r))
		tap_bail("pthread_create");
	t_start = ms_now_ns();
	t_end = t_start + 400 * 1000000ull;
	/*
	 * At least 0.4 s, 3 passes and RACE_MIN_WRITES writes, at most 10 s:
	 * on a loaded machine the writer thread may get little of the 0.4 s.
	 */
	while ((ms_now_ns() < t_end || passes < 3 ||
		__atomic_load_n(&r.writes, __ATOMIC_RELAXED) < RACE_MIN_WRITES) &&
	       ms_now_ns() < t_start + 10000 * 1000000ull && !failed) {
		do {
			size_t n = 0;

			ret = ms_dirty_collect(d, out, MS_ARRAY_SIZE(out), &n, &more);
			if (ret) {
				failed = true;
				break;
			}
			for (size_t i = 0; i < n; i++) {
				copy_words(shadow, m.p, out[i].off, out[i].len);
				reported += out[i].len / pg;
			}
		} while (more);
		passes++;
		/*
		 * A push sends between collects.  Back-to-back scans with
		 * write-protection keep the writer's faults waiting on the
		 * page tables (a few hundred writes in 0.4 s under load).
		 */
		usleep(50);
	}
	__atomic_store_n(&r.stop, 1, __ATOMIC_RELEASE);
	pthread_join(t, NULL);
	is_int(ret, 0, "%s %s: %zu collect passes while a thread wrote (%.0f ms)", kind, mode,
	       passes, (double)(ms_now_ns() - t_start) / 1e6);

	/* pages written after their last copy */
	for (size_t p = 0; p < np; p++)
		if (memcmp(shadow + p * pg, m.p + p * pg, pg))
			final[p] = true;
	lagging = count(final, np);
	{
		size_t calls;
		bool sane, *got = calloc(np, 1);

		if (!got)
			tap_bail("out of memory");
		ret = pass(d, m.len, 32, got, &calls, &sane);
		for (size_t p = 0; p < np; p++) {
			if (final[p] && !got[p]) {
				if (missed < 5)
					diag("page %zu changed after its last report, not reported", p);
				missed++;
			}
			if (got[p])
				memcpy(shadow + p * pg, m.p + p * pg, pg);
		}
		free(got);
		ok(ret == 0 && sane && missed == 0,
		   "%s %s: the final collect has all %zu pages written since their last report",
		   kind, mode, lagging);
	}
	ok(memcmp(shadow, m.p, RACE_REGION) == 0, "%s %s: shadow copy = memory: no write lost",
	   kind, mode);
	ok(r.writes >= RACE_MIN_WRITES && passes >= 3 && reported > 0,
	   "%s %s: the race ran (%llu writes, %zu passes, %zu pages reported during it)", kind,
	   mode, (unsigned long long)r.writes, passes, reported);

	ms_dirty_close(d);
	map_close(&m);
	free(r.order);
	free(shadow);
	free(final);
}

/* ------------------------------------------------------ the other cases */

/* 10 pages in chunks of 4 pages: the last chunk has 2 */
static void test_short_chunk(void)
{
	struct map m;
	struct ms_dirty *d;
	struct ms_dirty_range r[8];
	char why[256];
	size_t n;
	bool more;

	for (int forced = 0; forced < 2; forced++) {
		map_open(&m, "anon", 10 * pg);
		d = open_or_bail(&m, (uint32_t)(4 * pg), forced ? MS_DIRTY_FORCE_HASH : 0, why,
				 sizeof(why));
		touch(m.p, 9);
		is_int(ms_dirty_collect(d, r, 8, &n, &more), 0, "short chunk: collect");
		if (ms_dirty_mode(d) == MS_DIRTY_HASH)
			ok(n == 1 && !more && r[0].off == 8 * pg && r[0].len == 2 * pg,
			   "short chunk, hash: the last chunk, clipped to the 2 pages left");
		else
			ok(n == 1 && !more && r[0].off == 9 * pg && r[0].len == pg,
			   "short chunk, uffd: the last page");
		is_int(ms_dirty_nchunks(d), 3, "10 pages make 3 chunks of 4 pages");
		ms_dirty_close(d);
		map_close(&m);
	}
}

static void test_ranges_to_chunks(void)
{
	struct ms_chunkmap m;
	const struct ms_dirty_range r[] = {
		{ .off = 0, .len = 1 },			 /* chunk 0 */
		{ .off = 3 * CHUNK - 1, .len = 2 },	 /* chunks 2 and 3 */
		{ .off = 10 * CHUNK, .len = 0 },	 /* nothing */
		{ .off = 5 * CHUNK, .len = 2 * CHUNK }, /* 5, 6 */
		{ .off = 15 * CHUNK, .len = 9 * CHUNK }, /* 15, then past nbits */
	};

	if (ms_chunkmap_init(&m, 16))
		tap_bail("out of memory");
	ms_dirty_ranges_to_chunks(r, MS_ARRAY_SIZE(r), CHUNK, &m);
	ok(ms_chunkmap_count(&m) == 6 && ms_chunkmap_test(&m, 0) && ms_chunkmap_test(&m, 2) &&
		   ms_chunkmap_test(&m, 3) && ms_chunkmap_test(&m, 5) && ms_chunkmap_test(&m, 6) &&
		   ms_chunkmap_test(&m, 15),
	   "ranges_to_chunks: edges, boundary crossing, empty and clipped ranges");
	ms_chunkmap_free(&m);
}

/* Part of the range unmapped and mapped again behind the tracker's back. */
static void test_remapped(void)
{
	struct map m;
	struct ms_dirty *d;
	struct ms_dirty_range r[8];
	char why[256];
	size_t n;
	bool more;
	void *p;

	map_open(&m, "anon", 16 * pg);
	d = open_or_bail(&m, (uint32_t)pg, 0, why, sizeof(why));
	if (ms_dirty_mode(d) != MS_DIRTY_UFFD) {
		tap_skip("remapped range: %s", why);
		ms_dirty_close(d);
		map_close(&m);
		return;
	}
	p = mmap(m.p + 4 * pg, pg, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED,
		 -1, 0);
	if (p == MAP_FAILED)
		tap_bail("mmap: %s", strerror(errno));
	touch(m.p, 4);
	is_int(ms_dirty_collect(d, r, 8, &n, &more), -EPERM,
	       "remapped page: collect fails with -EPERM");
	is_int(ms_dirty_collect(d, r, 8, &n, &more), -EPERM, "... and keeps failing");
	ok(n == 0 && !more, "... reporting nothing");
	ms_dirty_close(d);
	map_close(&m);
}

static void test_bad_input(void)
{
	struct map m;
	struct ms_dirty *d = (struct ms_dirty *)&m; /* must be reset to NULL */
	struct ms_dirty_opts o = { 0 };
	struct ms_dirty_range r[4];
	struct ms_chunkmap cm;
	char why[256];
	size_t n;
	bool more;
	void *hole;

	map_open(&m, "anon", 16 * pg);
	is_int(ms_dirty_open(m.p + 1, 4 * pg, &d, why, sizeof(why)), -EINVAL, "unaligned address");
	ok(d == NULL && why[0], "... *out is NULL and why says \"%s\"", why);
	is_int(ms_dirty_open(m.p, 4 * pg + 1, &d, NULL, 0), -EINVAL, "unaligned length");
	is_int(ms_dirty_open(m.p, 0, &d, NULL, 0), -EINVAL, "length 0");
	is_int(ms_dirty_open(NULL, pg, &d, NULL, 0), -EINVAL, "NULL address");
	is_int(ms_dirty_open(m.p, pg, NULL, NULL, 0), -EINVAL, "NULL out");
	is_int(ms_dirty_open((void *)(UINTPTR_MAX - pg + 1), 2 * pg, &d, NULL, 0), -EINVAL,
	       "range past the end of the address space");
	o.chunk_size = (uint32_t)(3 * pg);
	is_int(ms_dirty_open_opts(m.p, pg, &o, &d, NULL, 0), -EINVAL,
	       "chunk size not a power of two");
	o.chunk_size = (uint32_t)(pg / 2);
	is_int(ms_dirty_open_opts(m.p, pg, &o, &d, NULL, 0), -EINVAL, "chunk smaller than a page");
	o.chunk_size = 1u << 31;
	is_int(ms_dirty_open_opts(m.p, pg, &o, &d, NULL, 0), -EINVAL, "chunk of 2 GiB");
	o.chunk_size = 0;
	o.flags = 0x80;
	is_int(ms_dirty_open_opts(m.p, pg, &o, &d, NULL, 0), -EINVAL, "unknown flag");

	hole = mmap(NULL, 3 * pg, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (hole == MAP_FAILED)
		tap_bail("mmap: %s", strerror(errno));
	munmap((uint8_t *)hole + pg, pg);
	is_int(ms_dirty_open(hole, 3 * pg, &d, why, sizeof(why)), -EFAULT,
	       "range with an unmapped page: -EFAULT (\"%s\")", why);
	o.flags = MS_DIRTY_FORCE_HASH;
	is_int(ms_dirty_open_opts(hole, 3 * pg, &o, &d, NULL, 0), -EFAULT,
	       "... also when hashing is forced");
	munmap(hole, pg);
	munmap((uint8_t *)hole + 2 * pg, pg);

	d = open_or_bail(&m, 0, 0, why, sizeof(why));
	is_int(ms_dirty_chunk_size(d), MS_DIRTY_DEFAULT_CHUNK, "chunk size 0 means the default");
	is_int(ms_dirty_collect(d, r, 0, &n, &more), -EINVAL, "collect with max 0");
	is_int(ms_dirty_collect(d, NULL, 4, &n, &more), -EINVAL, "collect with out NULL");
	is_int(ms_dirty_collect(NULL, r, 4, &n, &more), -EINVAL, "collect with no tracker");
	if (ms_chunkmap_init(&cm, 7))
		tap_bail("out of memory");
	is_int(ms_dirty_collect_chunks(d, &cm, NULL), -EINVAL, "collect_chunks, wrong map size");
	ms_chunkmap_free(&cm);
	touch(m.p, 3);
	is_int(ms_dirty_collect(d, r, 4, &n, &more), 0, "bad calls changed nothing ...");
	ok(n == 1 && r[0].len > 0 && r[0].off <= 3 * pg && r[0].off + r[0].len > 3 * pg,
	   "... the write is still reported");
	ms_dirty_close(d);
	ms_dirty_close(NULL);

	setenv("MS_DIRTY_FORCE_HASH", "1", 1);
	d = open_or_bail(&m, 0, 0, why, sizeof(why));
	ok(ms_dirty_mode(d) == MS_DIRTY_HASH && strstr(why, "environment"),
	   "MS_DIRTY_FORCE_HASH=1 in the environment forces hashing: \"%s\"", why);
	ms_dirty_close(d);
	unsetenv("MS_DIRTY_FORCE_HASH");
	map_close(&m);
}

int main(void)
{
	struct map m;
	struct ms_dirty *d;
	char why[256];
	uint64_t t0 = ms_now_ns();

	pg = (size_t)sysconf(_SC_PAGESIZE);
	unsetenv("MS_DIRTY_FORCE_HASH");
	map_open(&m, "anon", 4 * pg);
	d = open_or_bail(&m, 0, 0, why, sizeof(why));
	have_uffd = ms_dirty_mode(d) == MS_DIRTY_UFFD;
	diag("this kernel: %s", why);
	ms_dirty_close(d);
	map_close(&m);

	test_kind("anon");
	test_kind("memfd");
	diag("scenarios: %.2f s", (double)(ms_now_ns() - t0) / 1e9);
	test_race("anon", 0);
	test_race("memfd", 0);
	test_race("anon", MS_DIRTY_FORCE_HASH);
	test_race("memfd", MS_DIRTY_FORCE_HASH);
	diag("races: %.2f s", (double)(ms_now_ns() - t0) / 1e9);
	test_short_chunk();
	test_ranges_to_chunks();
	test_remapped();
	test_bad_input();
	diag("%s mode available; %.2f s", have_uffd ? "userfaultfd" : "only hashing",
	     (double)(ms_now_ns() - t0) / 1e9);
	return tap_done();
}
