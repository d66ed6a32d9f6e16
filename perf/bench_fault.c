/* SPDX-License-Identifier: Apache-2.0 */
/*
 * bench_fault.c - the latency of single faults on an open lazy mapping
 * over TCP on 127.0.0.1 (issue #13, item 7).
 *
 * One process: a server (ms_server_create on 127.0.0.1:0, a background
 * thread) exports an anonymous region of SIZE filled with random bytes.
 * Each run maps it with ms_map_open without prefetch (so every chunk
 * becomes local only through a fault) and, in a seeded random order of
 * distinct chunks, reads the first byte of one 4 KiB page of each chunk,
 * timing each read on its own: the whole fault (the handling thread pulls
 * the chunk, verifies it with XXH3-128 and maps it) as the application
 * sees it.  Each touched page is then compared with the region outside the
 * timing, and the mapping must have exactly the touched chunks local, so
 * a wrong byte or a prefetched chunk fails the run instead of giving a
 * figure.
 *
 *   bench_fault [--size SIZE (64M)] [--chunk SIZE (the server's default)]
 *               [--samples N (512)] [--runs N (1)] [--seed N]
 *
 * One JSON line per run on stdout:
 *   {"bench":"memsync_fault","run":1,"bytes":N,"chunk_size":N,"path":"copy",
 *    "ok":true,"samples":N,"median_us":M,...,"hist_us":[[lo,count],...]}
 * (the latency fields and the power-of-two microsecond histogram come from
 * perf/lathist.h, as perf/rawtcp --mode rr reports its round trips).
 */
#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "memsync.h"
#include "units.h"
#include "benchutil.h"
#include "lathist.h"

#define PAGE 4096u

static void usage(FILE *f)
{
	fprintf(f, "usage: bench_fault [--size SIZE (64M)] [--chunk SIZE] [--samples N (512)]\n"
		   "                   [--runs N (1)] [--seed N]\n"
		   "Latency of single faults on a lazy mapping without prefetch, over TCP on\n"
		   "127.0.0.1 (one JSON line per run, with a power-of-two microsecond histogram).\n");
}

/* One run: map, fault n distinct chunks one at a time, check.  0 or -1. */
static int run_once(const char *port, const uint8_t *region, uint64_t size, unsigned run,
		    uint64_t n, uint64_t seed)
{
	struct ms_client_opts co = { .opts_size = sizeof(co), .transport = MS_TRANSPORT_TCP };
	struct ms_map_opts mo = { .opts_size = sizeof(mo), .no_prefetch = true,
				  .no_use_report = true };
	uint64_t nchunks, local = 0, *order = NULL, *pages = NULL, chunk;
	struct lathist h = { 0 };
	char err[512] = "";
	bool ok = true;
	const volatile uint8_t *a;
	ms_map *m;
	int rc = -1;

	m = ms_map_open("127.0.0.1", port, "bench", &co, &mo, err, sizeof(err));
	if (!m) {
		fprintf(stderr, "bench_fault: map: %s\n", err[0] ? err : strerror(errno));
		return -1;
	}
	a = ms_map_addr(m);
	chunk = ms_map_chunk_size(m);
	ms_map_progress(m, &local, &nchunks);
	if (local) {
		fprintf(stderr, "bench_fault: %llu chunks local at open (no prefetch asked)\n",
			(unsigned long long)local);
		goto cleanup;
	}
	if (n > nchunks)
		n = nchunks;
	order = malloc(nchunks * sizeof(*order));
	pages = malloc((n ? n : 1) * sizeof(*pages));
	if (!order || !pages || lh_init(&h, n)) {
		fprintf(stderr, "bench_fault: out of memory\n");
		goto cleanup;
	}
	for (uint64_t i = 0; i < nchunks; i++)
		order[i] = i;
	for (uint64_t i = nchunks; i > 1; i--) {   /* Fisher-Yates */
		uint64_t j = bu_rand64(&seed) % i, t = order[i - 1];

		order[i - 1] = order[j];
		order[j] = t;
	}
	for (uint64_t i = 0; i < n; i++) {
		uint64_t in_chunk = (size - order[i] * chunk < chunk ? size - order[i] * chunk : chunk) / PAGE;
		uint64_t off = order[i] * chunk + (bu_rand64(&seed) % in_chunk) * PAGE;
		double t0 = bu_now_s();
		uint8_t b = a[off];

		lh_add(&h, (bu_now_s() - t0) * 1e6);
		pages[i] = off;
		ok &= b == region[off];
	}
	/* outside the timing: every touched page as the server has it, and
	 * exactly the touched chunks local */
	for (uint64_t i = 0; i < n; i++)
		ok &= memcmp((const uint8_t *)a + pages[i], region + pages[i], PAGE) == 0;
	ms_map_progress(m, &local, NULL);
	if (local != n) {
		fprintf(stderr, "bench_fault: %llu chunks local after %llu faults\n",
			(unsigned long long)local, (unsigned long long)n);
		ok = false;
	}
	if (*ms_map_errmsg(m)) {
		fprintf(stderr, "bench_fault: %s\n", ms_map_errmsg(m));
		ok = false;
	}
	if (!ok)
		fprintf(stderr, "bench_fault: run %u: the bytes or the chunk count are wrong\n", run);
	printf("{\"bench\":\"memsync_fault\",\"run\":%u,\"bytes\":%llu,\"chunk_size\":%llu,"
	       "\"path\":\"%s\",\"ok\":%s,", run, (unsigned long long)size,
	       (unsigned long long)chunk, ms_map_zero_copy(m) ? "zero-copy" : "copy",
	       ok ? "true" : "false");
	lh_json(stdout, &h);
	printf("}\n");
	fflush(stdout);
	rc = ok ? 0 : -1;
cleanup:
	lh_free(&h);
	free(pages);
	free(order);
	ms_map_close(m);
	return rc;
}

int main(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "size", required_argument, NULL, 's' },
		{ "chunk", required_argument, NULL, 'c' },
		{ "samples", required_argument, NULL, 'n' },
		{ "runs", required_argument, NULL, 'r' },
		{ "seed", required_argument, NULL, 'e' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	uint64_t size = 64ull << 20, chunk = 0, samples = 512, runs = 1, seed = 0x5eedull;
	ms_server *srv = NULL;
	char err[256] = "", port[8];
	int opt, failures = 0;
	char *end;

	while ((opt = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (opt) {
		case 's':
			if (ms_parse_size(optarg, &size) || !size || size % PAGE) {
				fprintf(stderr, "bench_fault: bad --size (a multiple of 4K)\n");
				return 2;
			}
			break;
		case 'c':
			if (ms_parse_size(optarg, &chunk) || (chunk & (chunk - 1)) ||
			    chunk < MS_CHUNK_MIN || chunk > MS_CHUNK_MAX) {
				fprintf(stderr, "bench_fault: bad --chunk (a power of two, 4K..16M)\n");
				return 2;
			}
			break;
		case 'n':
		case 'r':
		case 'e': {
			uint64_t *v = opt == 'n' ? &samples : opt == 'r' ? &runs : &seed;

			errno = 0;
			*v = strtoull(optarg, &end, 0);
			if (errno || *end || end == optarg || (opt != 'e' && *v < 1) ||
			    (opt == 'r' && *v > 100)) {
				fprintf(stderr, "bench_fault: bad --samples, --runs (1..100) or --seed\n");
				return 2;
			}
			break;
		}
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind != argc) {
		usage(stderr);
		return 2;
	}

	struct ms_server_opts so = { .opts_size = sizeof(so), .host = "127.0.0.1", .port = "0",
				     .transport = MS_TRANSPORT_TCP };
	struct ms_export_opts eo = { .opts_size = sizeof(eo), .name = "bench", .size = size,
				     .chunk_size = (uint32_t)chunk, .no_mlock = true };
	ms_export *e;
	uint8_t *region;

	srv = ms_server_create(&so, err, sizeof(err));
	e = srv ? ms_server_add_region(srv, &eo) : NULL;
	if (!e) {
		fprintf(stderr, "bench_fault: server: %s\n", srv ? ms_server_errmsg(srv) : err);
		ms_server_destroy(srv);
		return 1;
	}
	region = ms_export_mem(e);
	bu_fill_random(region, size, 0x9e3779b97f4a7c15ull ^ (uint64_t)time(NULL));
	if (ms_export_commit(e, 0, size) || ms_server_start(srv)) {
		fprintf(stderr, "bench_fault: %s\n", ms_server_errmsg(srv));
		ms_server_destroy(srv);
		return 1;
	}
	snprintf(port, sizeof(port), "%u", ms_server_port(srv));
	for (uint64_t k = 1; k <= runs; k++)
		failures += run_once(port, region, size, (unsigned)k, samples, seed + k) != 0;
	ms_server_destroy(srv);
	return failures ? 1 : 0;
}
