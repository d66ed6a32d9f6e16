/* SPDX-License-Identifier: Apache-2.0 */
/*
 * cmd_map.c - `memsync map URL`: map a region lazily (ms_map_open), and
 * optionally read all of it (--touch seq|random) and print the XXH3-128 of
 * the mapping, change a percentage of its pages (--write --dirty PERCENT,
 * at offsets from a seeded generator), push them (--sync) and follow the
 * server (--refresh), or wait until the prefetch made all of it local with
 * nothing touched and report the time from open (--wait).  The tests use it to drive the lazy mapper against
 * a real memsyncd.
 */
#include <errno.h>
#include <inttypes.h>
#include <setjmp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <xxhash.h>

#include "cli.h"
#include "gen.h"
#include "jsonw.h"
#include "log.h"
#include "units.h"

struct map_result {
	uint64_t size, nchunks, local_open, local_touched, local_end, local_waited;
	double open_secs, wait_secs;     /* --wait: open, and open to all local */
	uint32_t chunk;
	bool zero_copy, huge;
	const char *dirty_mode, *page_mode;
	double touch_secs;
	uint64_t dirty_pages, dirty_chunks;
	struct ms_map_sync_stats sync;
	double sync_secs;
	uint64_t refreshed;
	char checksum[33];
};

/* Read one byte of every page, chunk by chunk, in the order given. */
static void touch(const uint8_t *a, uint64_t size, uint32_t chunk, uint64_t page,
		  const uint64_t *order, uint64_t n)
{
	volatile uint8_t sink = 0;

	for (uint64_t i = 0; i < n; i++) {
		uint64_t off = order[i] * chunk, end = MS_MIN(off + chunk, size);

		for (; off < end; off += page)
			sink ^= a[off];
	}
	(void)sink;
}

/* The chunk order of --touch: 0..n-1, shuffled when random.  NULL on ENOMEM. */
static uint64_t *touch_order(uint64_t n, bool random, uint64_t seed)
{
	uint64_t *order = malloc(MS_MAX(n, 1) * sizeof(*order));

	if (!order)
		return NULL;
	for (uint64_t i = 0; i < n; i++)
		order[i] = i;
	for (uint64_t i = n; random && i > 1; i--) {
		uint64_t j = gen_next(&seed) % i, t = order[i - 1];

		order[i - 1] = order[j];
		order[j] = t;
	}
	return order;
}

/*
 * A failed mapping raises SIGBUS in the thread that touches a chunk that
 * is not local (include/memsync.h): without a handler that ends the
 * process with no word of the cause.  Each step that touches the mapping
 * (read, change, checksum) runs under guarded(): a SIGBUS at an address
 * inside the mapping jumps back out of the step, which then fails with
 * -EFAULT, and the command reports ms_map_errmsg() and exits 1.  Only our
 * own code runs under the guard, never a library call (whose locks a jump
 * would leave held), and it allocates nothing, so the jump leaks nothing.
 * A SIGBUS elsewhere is not ours: the handler restores the default action
 * and returns, and the access raises it again.
 */
static sigjmp_buf bus_jmp;
static volatile sig_atomic_t bus_armed;
static uintptr_t bus_lo, bus_hi;

static void on_sigbus(int sig, siginfo_t *si, void *uc)
{
	uintptr_t a = (uintptr_t)si->si_addr;

	(void)uc;
	if (bus_armed && a >= bus_lo && a < bus_hi) {
		bus_armed = 0;
		siglongjmp(bus_jmp, 1);
	}
	signal(sig, SIG_DFL);
}

struct step {
	const char *name;
	void (*fn)(struct step *s);
	uint8_t *a;
	uint64_t size, page, want, seed, result;
	uint32_t chunk;
	const uint64_t *order;
	char *checksum;          /* 33 bytes */
};

/* Run s->fn(s) with the SIGBUS guard; 0 or -EFAULT (the mapping failed). */
static int guarded(struct step *s)
{
	struct sigaction sa = { .sa_sigaction = on_sigbus, .sa_flags = SA_SIGINFO }, old;

	bus_lo = (uintptr_t)s->a;
	bus_hi = bus_lo + s->size;
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGBUS, &sa, &old) < 0)
		return -errno;
	if (sigsetjmp(bus_jmp, 1)) {
		sigaction(SIGBUS, &old, NULL);
		return -EFAULT;
	}
	bus_armed = 1;
	s->fn(s);
	bus_armed = 0;
	sigaction(SIGBUS, &old, NULL);
	return 0;
}

static void step_touch(struct step *s)
{
	touch(s->a, s->size, s->chunk, s->page, s->order, ms_div_round_up(s->size, s->chunk));
}

static void step_dirty(struct step *s)
{
	s->result = gen_dirty_pages(s->a, s->size, s->page, s->chunk, s->want, s->seed);
}

static void step_checksum(struct step *s)
{
	XXH128_canonical_t c;

	XXH128_canonicalFromHash(&c, XXH3_128bits(s->a, s->size));
	for (int i = 0; i < 16; i++)
		snprintf(s->checksum + 2 * i, 3, "%02x", c.digest[i]);
}

/* The message of a step that failed: the mapping's reason. */
static void step_failed(ms_map *m, const struct step *s, int ret)
{
	if (ret == -EFAULT && *ms_map_errmsg(m))
		cli_error("map", "%s: %s", s->name, ms_map_errmsg(m));
	else if (ret == -EFAULT)
		cli_error("map", "%s: the mapping failed (SIGBUS)", s->name);
	else
		cli_error("map", "%s: %s", s->name, strerror(-ret));
}

static int print_json(const struct cli_opts *o, const struct ms_url *u,
		      const struct map_result *r)
{
	struct jsonw w;

	jw_init(&w, stdout);
	jw_obj_begin(&w);
	jw_kv_str(&w, "command", "map");
	jw_kv_str(&w, "region", u->region);
	jw_kv_uint(&w, "size", r->size);
	jw_kv_uint(&w, "chunk_size", r->chunk);
	jw_kv_uint(&w, "chunks_total", r->nchunks);
	jw_kv_bool(&w, "zero_copy", r->zero_copy);
	jw_kv_bool(&w, "huge_pages", r->huge);
	jw_kv_str(&w, "page_mode", r->page_mode);
	jw_kv_bool(&w, "writable", o->map_write);
	jw_kv_str(&w, "dirty_mode", r->dirty_mode);
	jw_kv_uint(&w, "chunks_local_at_open", r->local_open);
	if (o->map_wait) {
		jw_kv_double(&w, "open_seconds", r->open_secs);
		jw_kv_double(&w, "wait_seconds", r->wait_secs);
		jw_kv_uint(&w, "chunks_local_after_wait", r->local_waited);
	}
	if (o->map_touch) {
		jw_kv_str(&w, "touch", o->map_touch == 2 ? "random" : "seq");
		jw_kv_double(&w, "touch_seconds", r->touch_secs);
		jw_kv_uint(&w, "chunks_local_after_touch", r->local_touched);
		jw_kv_str(&w, "checksum", r->checksum);
	}
	if (o->map_have_dirty) {
		jw_kv_uint(&w, "dirty_pages", r->dirty_pages);
		jw_kv_uint(&w, "dirty_chunks", r->dirty_chunks);
	}
	if (o->map_sync) {
		jw_kv_uint(&w, "sync_pages_dirty", r->sync.pages_dirty);
		jw_kv_uint(&w, "sync_chunks", r->sync.chunks_pushed);
		jw_kv_uint(&w, "sync_runs", r->sync.runs);
		jw_kv_uint(&w, "sync_bytes", r->sync.bytes);
		jw_kv_double(&w, "sync_seconds", r->sync_secs);
	}
	if (o->map_refresh) {
		jw_kv_uint(&w, "refresh_changed", r->refreshed);
	}
	jw_kv_uint(&w, "chunks_local", r->local_end);
	jw_obj_end(&w);
	return jw_finish(&w) ? CLI_EXIT_FAIL : CLI_EXIT_OK;
}

static void report(const struct cli_opts *o, const struct ms_url *u,
		   const struct map_result *r)
{
	char a[32], b[32];

	printf("map: %s (%s, %" PRIu64 " chunks of %s), %s path%s%s\n", u->region,
	       ms_format_size(r->size, a, sizeof(a)), r->nchunks,
	       ms_format_size(r->chunk, b, sizeof(b)), r->zero_copy ? "zero-copy" : "copy",
	       o->map_write ? ", writable, dirty tracking: " : "",
	       o->map_write ? r->dirty_mode : "");
	if (o->map_wait)
		printf("  wait:    all %" PRIu64 " chunks local %.3f s after open began "
		       "(open %.3f s), nothing touched\n", r->local_waited, r->wait_secs,
		       r->open_secs);
	printf("  pages:   %s\n", r->page_mode);
	if (o->map_touch)
		printf("  touch:   %s read in %.3f s; %" PRIu64 " of %" PRIu64
		       " chunks local (%" PRIu64 " at open)\n",
		       o->map_touch == 2 ? "random" : "sequential", r->touch_secs,
		       r->local_touched, r->nchunks, r->local_open);
	if (o->map_have_dirty)
		printf("  dirty:   %" PRIu64 " pages changed in %" PRIu64 " chunks\n",
		       r->dirty_pages, r->dirty_chunks);
	if (o->map_sync)
		printf("  sync:    %" PRIu64 " chunks pushed in %" PRIu64 " runs (%s, %" PRIu64
		       " pages found written) in %.3f s\n", r->sync.chunks_pushed, r->sync.runs,
		       ms_format_size(r->sync.bytes, a, sizeof(a)), r->sync.pages_dirty,
		       r->sync_secs);
	if (o->map_refresh)
		printf("  refresh: %" PRIu64 " chunks changed on the server, dropped\n",
		       r->refreshed);
	printf("  local:   %" PRIu64 " of %" PRIu64 " chunks\n", r->local_end, r->nchunks);
	if (o->map_touch)
		printf("  xxh128:  %s\n", r->checksum);
}

int cmd_map(const struct cli_opts *o, int argc, char **argv)
{
	struct ms_map_opts mo = { .opts_size = sizeof(mo), .writable = o->map_write, .no_prefetch = o->map_no_prefetch,
				  .hot_first = o->map_hot_first, .huge = o->map_huge,
				  /* --streams: the prefetch's connections (one per thread) */
				  .prefetch_threads = o->streams };
	struct map_result r = { 0 };
	struct ms_client_opts co;
	struct ms_url u;
	struct step s;
	char err[512] = "";
	uint64_t page = (uint64_t)sysconf(_SC_PAGESIZE), t0, *order = NULL;
	ms_map *m;
	int rc, ret;

	if (argc != 1)
		return cli_usage_error("map", "expected: map URL");
	if ((o->map_have_dirty || o->map_sync) && !o->map_write)
		return cli_usage_error("map", "--dirty and --sync need --write");
	if (o->map_wait && o->map_no_prefetch)
		return cli_usage_error("map", "--wait needs the prefetch (not --no-prefetch)");
	rc = cli_parse_url("map", argv[0], false, true, &u);
	if (rc)
		return rc;
	cli_client_opts(o, &co);
	t0 = ms_now_ns();
	m = ms_map_open(u.host, u.port, u.region, &co, &mo, err, sizeof(err));
	if (!m) {
		cli_error("map", "%s", err[0] ? err : strerror(errno));
		return CLI_EXIT_FAIL;
	}
	r.open_secs = cli_seconds(ms_now_ns() - t0);
	r.size = ms_map_size(m);
	r.chunk = ms_map_chunk_size(m);
	r.zero_copy = ms_map_zero_copy(m);
	r.dirty_mode = ms_map_dirty_mode(m);
	r.huge = ms_map_huge(m);
	r.page_mode = ms_map_page_mode(m);
	ms_map_progress(m, &r.local_open, &r.nchunks);
	ms_dbg("mapped %s: %s path, dirty tracking: %s; %s", u.region,
	       r.zero_copy ? "zero-copy" : "copy", o->map_write ? r.dirty_mode : "none",
	       r.page_mode);
	s = (struct step){ .a = ms_map_addr(m), .size = r.size, .page = page, .chunk = r.chunk,
			   .checksum = r.checksum };
	rc = CLI_EXIT_FAIL;

	if (o->map_wait) {
		/* prefetch only: nothing touches the mapping until every chunk
		 * is local or the mapping failed */
		ret = ms_map_wait(m, -1);
		r.wait_secs = cli_seconds(ms_now_ns() - t0);
		if (ret) {
			cli_error("map", "wait: %s", *ms_map_errmsg(m) ? ms_map_errmsg(m) :
				  strerror(-ret));
			goto out;
		}
		ms_map_progress(m, &r.local_waited, NULL);
	}
	if (o->map_touch) {
		order = touch_order(r.nchunks, o->map_touch == 2, o->map_seed);
		if (!order) {
			cli_error("map", "touch: %s", strerror(ENOMEM));
			goto out;
		}
		s.name = "touch";
		s.fn = step_touch;
		s.order = order;
		t0 = ms_now_ns();
		ret = guarded(&s);
		r.touch_secs = cli_seconds(ms_now_ns() - t0);
		if (ret) {
			step_failed(m, &s, ret);
			goto out;
		}
		ms_map_progress(m, &r.local_touched, NULL);
	}
	if (o->map_have_dirty) {
		s.name = "dirty";
		s.fn = step_dirty;
		s.want = (uint64_t)((double)(r.size / page) * o->map_dirty / 100.0 + 0.5);
		s.seed = o->map_seed ^ 0x5eedull;
		r.dirty_pages = s.want;
		ret = guarded(&s);
		if (ret) {
			step_failed(m, &s, ret);
			goto out;
		}
		r.dirty_chunks = s.result;
	}
	if (o->map_sync) {
		t0 = ms_now_ns();
		ret = ms_map_sync(m, &r.sync);
		r.sync_secs = cli_seconds(ms_now_ns() - t0);
		if (ret) {
			cli_error("map", "%s", *ms_map_errmsg(m) ? ms_map_errmsg(m) : strerror(-ret));
			goto out;
		}
	}
	if (o->map_refresh) {
		ret = ms_map_refresh(m, &r.refreshed);
		if (ret) {
			cli_error("map", "refresh: %s", ret == -EBUSY ?
				  "changed chunks are written locally and not synced" :
				  *ms_map_errmsg(m) ? ms_map_errmsg(m) : strerror(-ret));
			goto out;
		}
	}
	if (o->map_touch) {
		s.name = "checksum";
		s.fn = step_checksum;
		ret = guarded(&s);
		if (ret) {
			step_failed(m, &s, ret);
			goto out;
		}
	}
	/* every access above returned, so nothing failed under them; the
	 * background prefetch may still have failed */
	if (*ms_map_errmsg(m)) {
		cli_error("map", "%s", ms_map_errmsg(m));
		goto out;
	}
	ms_map_progress(m, &r.local_end, NULL);
	if (o->json)
		rc = print_json(o, &u, &r);
	else {
		if (!o->quiet)
			report(o, &u, &r);
		rc = fflush(stdout) ? CLI_EXIT_FAIL : CLI_EXIT_OK;
	}
out:
	free(order);
	ms_map_close(m);
	return rc;
}
