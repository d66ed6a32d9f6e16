/* SPDX-License-Identifier: Apache-2.0 */
/*
 * cmd_demo.c - `memsync demo`: the whole story in one process.  An
 * in-process server on 127.0.0.1 exports a region of generated data; the
 * demo pulls it, changes a percentage of its pages at scattered places,
 * pushes the copy back and checks that the server now holds the copy byte
 * for byte and that exactly the changed chunks travelled.
 *
 * The data and the dirty pages come from a seeded xorshift64* generator,
 * so every run with the same options moves the same chunks.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "cli.h"
#include "gen.h"
#include "jsonw.h"
#include "log.h"
#include "progress.h"
#include "units.h"

#define SEED_DATA 0x6d656d73796e6321ull  /* "memsync!" */
#define SEED_DIRTY 0x6469727479706731ull /* "dirtypg1" */

struct demo_result {
	uint64_t size;
	uint32_t chunk_size;
	uint64_t nchunks;
	const char *transport;
	struct ms_xfer_stats pull, push;
	double pull_secs, push_secs;
	uint64_t npages, dirty_pages, dirty_chunks;
	uint64_t generation;
	bool pull_equal, push_equal, count_equal;
	uint64_t pull_diff_at, push_diff_at; /* first differing byte */
};

static void fill(uint64_t *w, uint64_t nwords, uint64_t seed)
{
	for (uint64_t i = 0; i < nwords; i++)
		w[i] = gen_next(&seed);
}

/* Offset of the first byte where a and b differ, or len when equal. */
static uint64_t first_diff(const unsigned char *a, const unsigned char *b, uint64_t len)
{
	const uint64_t blk = 1u << 20;

	for (uint64_t off = 0; off < len; off += blk) {
		uint64_t n = MS_MIN(blk, len - off);

		if (memcmp(a + off, b + off, n) == 0)
			continue;
		for (uint64_t i = off; i < off + n; i++)
			if (a[i] != b[i])
				return i;
	}
	return len;
}

/* The server's log, at WARN and above (everything with -vv). */
static void demo_log(void *ud, enum ms_log_level level, const char *msg)
{
	const int *verbose = ud;

	if (level <= MS_LOG_WARN || *verbose >= 2)
		ms_log_sink(NULL, level, msg);
}

static void report(const struct demo_result *d)
{
	char a[32], b[32], c[32], rate[32];

	printf("demo: %s region, %" PRIu64 " chunks of %s, over %s on 127.0.0.1\n",
	       ms_format_size(d->size, a, sizeof(a)), d->nchunks,
	       ms_format_size(d->chunk_size, b, sizeof(b)), d->transport);
	printf("  pull:   %s in %.3f s (%s), %" PRIu64 " chunks verified; local copy %s the "
	       "server\n", ms_format_size(d->pull.bytes, a, sizeof(a)), d->pull_secs,
	       ms_format_rate((double)d->pull.bytes / d->pull_secs, rate, sizeof(rate)),
	       d->pull.chunks_moved, d->pull_equal ? "equals" : "DIFFERS FROM");
	printf("  change: %" PRIu64 " of %" PRIu64 " pages (%.2f%%) at scattered offsets, in "
	       "%" PRIu64 " chunks\n", d->dirty_pages, d->npages,
	       d->npages ? 100.0 * (double)d->dirty_pages / (double)d->npages : 0.0,
	       d->dirty_chunks);
	printf("  push:   %" PRIu64 " of %" PRIu64 " chunks sent (%s of %s, %.1f%%) in %.3f s "
	       "(%s), now generation %" PRIu64 "\n", d->push.chunks_moved, d->push.chunks_total,
	       ms_format_size(d->push.bytes, a, sizeof(a)), ms_format_size(d->size, c, sizeof(c)),
	       d->size ? 100.0 * (double)d->push.bytes / (double)d->size : 0.0, d->push_secs,
	       ms_format_rate((double)d->push.bytes / d->push_secs, rate, sizeof(rate)),
	       d->generation);
	printf("  verify: server %s local copy byte for byte; chunks sent %s chunks changed "
	       "(%" PRIu64 " vs %" PRIu64 ")\n", d->push_equal ? "==" : "!=",
	       d->count_equal ? "==" : "!=", d->push.chunks_moved, d->dirty_chunks);
	printf("  result: %s\n", d->pull_equal && d->push_equal && d->count_equal ? "OK"
									       : "FAILED");
}

static int print_json(const struct demo_result *d, bool verified)
{
	struct jsonw w;
	int rc;

	jw_init(&w, stdout);
	jw_obj_begin(&w);
	jw_kv_str(&w, "command", "demo");
	jw_kv_uint(&w, "size", d->size);
	jw_kv_uint(&w, "chunk_size", d->chunk_size);
	jw_kv_double(&w, "pull_seconds", d->pull_secs);
	jw_kv_double(&w, "pull_bytes_per_second", (double)d->pull.bytes / d->pull_secs);
	jw_kv_uint(&w, "dirty_pages", d->dirty_pages);
	jw_kv_uint(&w, "push_chunks", d->push.chunks_moved);
	jw_kv_uint(&w, "push_bytes", d->push.bytes);
	jw_kv_double(&w, "push_seconds", d->push_secs);
	jw_kv_bool(&w, "verified", verified);
	jw_obj_end(&w);
	rc = jw_finish(&w);
	if (rc < 0) {
		cli_error("demo", "cannot write the JSON output: %s", strerror(-rc));
		return CLI_EXIT_FAIL;
	}
	return 0;
}

/* Add the demo region, unpinned if this process may not pin that much:
 * pinning matters to RDMA, not to the demo's correctness. */
static ms_export *add_region(ms_server *s, const struct cli_opts *o)
{
	struct ms_export_opts eo = {
		.opts_size = sizeof(eo),
		.name = "demo",
		.size = o->demo_size,
		.chunk_size = o->demo_chunk,
		.backing = MS_BACKING_ANON,
	};
	ms_export *e = ms_server_add_region(s, &eo);

	if (!e && (errno == ENOMEM || errno == EPERM)) {
		ms_warn("%s; continuing with unpinned memory", ms_server_errmsg(s));
		eo.no_mlock = true;
		e = ms_server_add_region(s, &eo);
	}
	if (!e)
		cli_error("demo", "cannot create the demo region: %s", ms_server_errmsg(s));
	return e;
}

int cmd_demo(const struct cli_opts *o, int argc, char **argv)
{
	struct demo_result d = { .size = o->demo_size, .chunk_size = o->demo_chunk };
	struct ms_server_opts so = { .opts_size = sizeof(so), .host = "127.0.0.1", .port = "0",
				     .transport = o->transport, .log = demo_log };
	struct ms_url u = { .host = "127.0.0.1", .region = "demo" };
	bool show = !o->quiet && !o->json;
	uint64_t page = (uint64_t)sysconf(_SC_PAGESIZE), t0, want;
	struct ms_region_info ri;
	struct progress p;
	struct ms_xfer_opts xo = { .opts_size = sizeof(xo), .progress = progress_cb,
				   .progress_ud = &p };
	unsigned char *local = MAP_FAILED, *mem;
	int verbose = o->verbose, rc = CLI_EXIT_FAIL;
	char msg[512] = "";
	ms_server *s;
	ms_export *e;
	ms_client *c = NULL;
	ms_region *r = NULL;
	bool verified;

	if (argc != 0)
		return cli_usage_error("demo", "unexpected argument '%s'", argv[0]);
	so.log_ud = &verbose;

	s = ms_server_create(&so, msg, sizeof(msg));
	if (!s) {
		cli_error("demo", "cannot start the server: %s", msg[0] ? msg : strerror(errno));
		return CLI_EXIT_FAIL;
	}
	e = add_region(s, o);
	if (!e)
		goto out;
	mem = ms_export_mem(e);
	fill((uint64_t *)(void *)mem, d.size / sizeof(uint64_t), SEED_DATA);
	if ((rc = ms_export_commit(e, 0, d.size)) < 0) {
		cli_error("demo", "cannot commit the generated data: %s", ms_server_errmsg(s));
		rc = CLI_EXIT_FAIL;
		goto out;
	}
	rc = CLI_EXIT_FAIL;
	if (ms_server_start(s) < 0) {
		cli_error("demo", "cannot start the server: %s", ms_server_errmsg(s));
		goto out;
	}
	snprintf(u.port, sizeof(u.port), "%u", ms_server_port(s));

	local = mmap(NULL, d.size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (local == MAP_FAILED) {
		cli_error("demo", "cannot allocate the local copy: %s", strerror(errno));
		goto out;
	}
	c = cli_connect(o, "demo", &u);
	if (!c)
		goto out;
	d.transport = ms_client_transport(c);

	/* 1. pull the whole region and compare with the server's memory */
	r = cli_open(c, "demo", &u, MS_MODE_READ);
	if (!r)
		goto out;
	ms_region_info(r, &ri);
	d.nchunks = ri.nchunks;
	progress_init(&p, "pull", d.size, show);
	t0 = ms_now_ns();
	rc = ms_pull(r, 0, local, d.size, &xo, &d.pull);
	d.pull_secs = cli_seconds(ms_now_ns() - t0);
	progress_end(&p);
	if (rc < 0) {
		cli_lib_error(c, "demo", "pull failed", rc);
		rc = CLI_EXIT_FAIL;
		goto out;
	}
	rc = CLI_EXIT_FAIL;
	d.pull_diff_at = first_diff(local, mem, d.size);
	d.pull_equal = d.pull_diff_at == d.size;
	ms_close(r);
	r = NULL;

	/* 2. change a share of the pages of the local copy */
	d.npages = d.size / page;
	want = (uint64_t)((double)d.npages * o->demo_dirty / 100.0 + 0.5);
	if (want == 0 && o->demo_dirty > 0)
		want = 1;
	d.dirty_pages = MS_MIN(want, d.npages);
	d.dirty_chunks = gen_dirty_pages(local, d.size, page, d.chunk_size, d.dirty_pages,
					  SEED_DIRTY);

	/* 3. push it back: only the changed chunks should travel */
	r = cli_open(c, "demo", &u, MS_MODE_WRITE);
	if (!r)
		goto out;
	progress_init(&p, "push", d.size, show);
	t0 = ms_now_ns();
	rc = ms_push(r, 0, local, d.size, &xo, &d.push);
	d.push_secs = cli_seconds(ms_now_ns() - t0);
	progress_end(&p);
	if (rc < 0) {
		cli_lib_error(c, "demo", "push failed", rc);
		rc = CLI_EXIT_FAIL;
		goto out;
	}
	ms_region_info(r, &ri);
	d.generation = ri.generation;

	/* 4. the server must hold the local copy, and nothing but the
	 * changed chunks may have moved */
	d.push_diff_at = first_diff(mem, local, d.size);
	d.push_equal = d.push_diff_at == d.size;
	d.count_equal = d.push.chunks_moved == d.dirty_chunks;
	verified = d.pull_equal && d.push_equal && d.count_equal;

	rc = CLI_EXIT_OK;
	if (o->json)
		rc = print_json(&d, verified);
	else if (!o->quiet)
		report(&d);
	if (!d.pull_equal)
		cli_error("demo", "verification failed: the pulled copy differs from the server "
			  "at byte %" PRIu64, d.pull_diff_at);
	if (!d.push_equal)
		cli_error("demo", "verification failed: after the push the server differs from "
			  "the local copy at byte %" PRIu64, d.push_diff_at);
	if (!d.count_equal)
		cli_error("demo", "verification failed: %" PRIu64 " chunks were sent, but %"
			  PRIu64 " chunks changed", d.push.chunks_moved, d.dirty_chunks);
	if (!verified)
		rc = CLI_EXIT_FAIL;
	else if (rc == CLI_EXIT_OK && fflush(stdout) != 0)
		rc = CLI_EXIT_FAIL;
out:
	if (r)
		ms_close(r);
	if (c)
		ms_disconnect(c);
	ms_server_destroy(s);
	if (local != MAP_FAILED)
		munmap(local, d.size);
	return rc;
}
