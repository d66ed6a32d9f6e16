/* SPDX-License-Identifier: Apache-2.0 */
/*
 * bench_dirty.c - how long it takes to find the written chunks of a region:
 * the userfaultfd tracker (PAGEMAP_SCAN of the written pages, protecting
 * them again, turned into a chunk map) against hashing every chunk with
 * XXH3-128 and comparing with the previous hashes (the tracker's fallback,
 * and what a push costs without tracking).
 *
 * An anonymous region of SIZE filled with random bytes gets two trackers at
 * once: one in userfaultfd mode, one forced to hash.  For each fraction
 * (0.1%, 1%, 10% of the pages, chosen at random, RUNS times each) the pages
 * are written, then both trackers collect a chunk map.  Both maps must equal
 * the chunks of the pages written, else the program reports the failure and
 * exits 1 without a figure.
 *
 *   bench_dirty [--size SIZE] [--runs N] [--chunk SIZE] [--json PATH]
 *
 * Prints a table with the median time of each method and the ratio
 * hash/collect (target: >= 10 at 1%), and writes everything (samples,
 * medians, kernel, THP setting) to PATH (default perf/out/dirty-vs-hash.json
 * in the source tree).
 */
#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include "chunkmap.h"
#include "dirty.h"
#include "units.h"
#include "util.h"
#include "benchutil.h"

#ifndef PERF_OUT_DIR
#define PERF_OUT_DIR "perf/out"
#endif

#define MAX_RUNS 101

static const double fractions[] = { 0.001, 0.01, 0.10 };
#define NFRAC (sizeof(fractions) / sizeof(fractions[0]))

struct sample {
	double collect_ms, hash_ms, write_ms;
	uint64_t chunks, ranges;
};

static uint64_t rng = 0x853c49e6748fea9bull;

static double median(const struct sample *s, unsigned n, size_t field)
{
	return bu_median_field(s, sizeof(*s), n, field);
}

static void usage(void)
{
	fprintf(stderr, "usage: bench_dirty [--size SIZE] [--runs N] [--chunk SIZE] [--json PATH]\n");
	exit(2);
}

static void thp_setting(char *buf, size_t len)
{
	FILE *f = fopen("/sys/kernel/mm/transparent_hugepage/enabled", "r");
	char line[128] = "", *a, *b;

	snprintf(buf, len, "unknown");
	if (!f)
		return;
	if (fgets(line, sizeof(line), f) && (a = strchr(line, '[')) && (b = strchr(a, ']'))) {
		*b = '\0';
		snprintf(buf, len, "%s", a + 1);
	}
	fclose(f);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "size", required_argument, NULL, 's' },
		{ "runs", required_argument, NULL, 'r' },
		{ "chunk", required_argument, NULL, 'c' },
		{ "json", required_argument, NULL, 'j' },
		{ NULL, 0, NULL, 0 },
	};
	uint64_t size = 1ull << 30, chunk = 64 * 1024, v, pg = (uint64_t)sysconf(_SC_PAGESIZE);
	unsigned runs = 5;
	const char *json = PERF_OUT_DIR "/dirty-vs-hash.json";
	struct sample s[NFRAC][MAX_RUNS];
	struct ms_dirty_opts uo = { 0 }, ho = { .flags = MS_DIRTY_FORCE_HASH };
	struct ms_dirty *u = NULL, *h = NULL;
	struct ms_chunkmap want = { 0 }, um = { 0 }, hm = { 0 };
	char uwhy[256], hwhy[256], thp[32], sz[32];
	uint32_t *perm = NULL;
	uint64_t npages, nchunks, t0;
	double fill_ms, open_u_ms, open_h_ms;
	uint8_t *base = MAP_FAILED;
	struct utsname un;
	FILE *f;
	int c, ret, rc = 1;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 's':
			if (ms_parse_size(optarg, &size) || !size || size % pg)
				usage();
			break;
		case 'r':
			runs = (unsigned)strtoul(optarg, NULL, 10);
			if (runs < 1 || runs > MAX_RUNS)
				usage();
			break;
		case 'c':
			if (ms_parse_size(optarg, &v) || !ms_is_pow2(v) || v < pg || v > (1u << 30))
				usage();
			chunk = v;
			break;
		case 'j':
			json = optarg;
			break;
		default:
			usage();
		}
	}
	npages = size / pg;
	nchunks = ms_div_round_up(size, chunk);
	uo.chunk_size = ho.chunk_size = (uint32_t)chunk;

	base = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	perm = malloc(npages * sizeof(*perm));
	if (base == MAP_FAILED || !perm || ms_chunkmap_init(&want, nchunks) ||
	    ms_chunkmap_init(&um, nchunks) || ms_chunkmap_init(&hm, nchunks)) {
		fprintf(stderr, "bench_dirty: out of memory (%s)\n", strerror(errno));
		goto out;
	}
	t0 = ms_now_ns();
	for (uint64_t i = 0; i < size / 8; i++)
		((uint64_t *)base)[i] = bu_rand64(&rng);
	fill_ms = bu_ms_since(t0);
	for (uint64_t i = 0; i < npages; i++)
		perm[i] = (uint32_t)i;

	t0 = ms_now_ns();
	ret = ms_dirty_open_opts(base, size, &uo, &u, uwhy, sizeof(uwhy));
	open_u_ms = bu_ms_since(t0);
	if (ret || ms_dirty_mode(u) != MS_DIRTY_UFFD) {
		fprintf(stderr, "bench_dirty: no userfaultfd tracker: %s\n",
			ret ? strerror(-ret) : uwhy);
		goto out;
	}
	t0 = ms_now_ns();
	ret = ms_dirty_open_opts(base, size, &ho, &h, hwhy, sizeof(hwhy));
	open_h_ms = bu_ms_since(t0);
	if (ret) {
		fprintf(stderr, "bench_dirty: hashing tracker: %s\n", strerror(-ret));
		goto out;
	}
	thp_setting(thp, sizeof(thp));
	uname(&un);
	printf("bench_dirty: %s anonymous region, %llu pages of %llu, chunks of %llu, %u runs, "
	       "kernel %s, THP %s\n",
	       ms_format_size(size, sz, sizeof(sz)), (unsigned long long)npages,
	       (unsigned long long)pg, (unsigned long long)chunk, runs, un.release, thp);
	printf("bench_dirty: open: userfaultfd %.2f ms (%s), hashing %.1f ms\n", open_u_ms, uwhy,
	       open_h_ms);

	for (size_t fi = 0; fi < NFRAC; fi++) {
		uint64_t k = MS_MIN((uint64_t)(fractions[fi] * (double)npages + 0.5), npages);

		for (unsigned run = 0; run < runs; run++) {
			struct sample *x = &s[fi][run];
			uint64_t nr_h = 0;

			/* k distinct random pages: a partial Fisher-Yates shuffle */
			ms_chunkmap_clear_all(&want);
			for (uint64_t i = 0; i < k; i++) {
				uint64_t left = npages - i, j;
				uint32_t t;

				if (!left)
					break;
				j = i + bu_rand64(&rng) % left;
				t = perm[i];
				perm[i] = perm[j];
				perm[j] = t;
				ms_chunkmap_set(&want, perm[i] * pg / chunk);
			}
			t0 = ms_now_ns();
			for (uint64_t i = 0; i < k; i++)
				((uint64_t *)(base + perm[i] * pg))[bu_rand64(&rng) % (pg / 8)] += 1;
			x->write_ms = bu_ms_since(t0);

			/* alternate which method goes first (cache state) */
			for (int m = 0; m < 2; m++) {
				bool do_u = (m == 0) == (run % 2 == 0);

				if (do_u) {
					ms_chunkmap_clear_all(&um);
					t0 = ms_now_ns();
					ret = ms_dirty_collect_chunks(u, &um, &x->ranges);
					x->collect_ms = bu_ms_since(t0);
				} else {
					ms_chunkmap_clear_all(&hm);
					t0 = ms_now_ns();
					ret = ms_dirty_collect_chunks(h, &hm, &nr_h);
					x->hash_ms = bu_ms_since(t0);
				}
				if (ret) {
					fprintf(stderr, "bench_dirty: FAILED: %s collect: %s\n",
						do_u ? "userfaultfd" : "hashing", strerror(-ret));
					goto out;
				}
			}
			x->chunks = ms_chunkmap_count(&want);
			for (uint64_t i = 0; i < nchunks; i++) {
				bool w = ms_chunkmap_test(&want, i);

				if (ms_chunkmap_test(&um, i) != w || ms_chunkmap_test(&hm, i) != w) {
					fprintf(stderr,
						"bench_dirty: FAILED at %.1f%% run %u: chunk %llu "
						"written %d, userfaultfd %d, hashing %d; no figures\n",
						fractions[fi] * 100, run + 1, (unsigned long long)i, w,
						ms_chunkmap_test(&um, i), ms_chunkmap_test(&hm, i));
					goto out;
				}
			}
		}
	}

	printf("\n%-7s %8s %8s %12s %10s %8s %10s\n", "dirty", "pages", "chunks", "collect ms",
	       "hash ms", "ratio", "write ms");
	for (size_t fi = 0; fi < NFRAC; fi++) {
		double mc = median(s[fi], runs, offsetof(struct sample, collect_ms));
		double mh = median(s[fi], runs, offsetof(struct sample, hash_ms));
		double mw = median(s[fi], runs, offsetof(struct sample, write_ms));

		char pct[16];

		snprintf(pct, sizeof(pct), "%g%%", fractions[fi] * 100);
		printf("%-7s %8llu %8llu %12.3f %10.2f %7.0fx %10.2f\n", pct,
		       (unsigned long long)(fractions[fi] * (double)npages + 0.5),
		       (unsigned long long)s[fi][0].chunks, mc, mh, mh / mc, mw);
	}
	printf("\ncollect: ms_dirty_collect_chunks in userfaultfd mode (PAGEMAP_SCAN + re-protect "
	       "+ chunk map);\nhash: XXH3-128 of every chunk compared with the previous pass; "
	       "both found the same chunks in every run.\nwrite: writing the dirty pages (first "
	       "write after a collect: one in-kernel fault each).\n");

	f = fopen(json, "w");
	if (!f) {
		fprintf(stderr, "bench_dirty: %s: %s\n", json, strerror(errno));
		goto out;
	}
	fprintf(f, "{\n  \"benchmark\": \"dirty-vs-hash\",\n  \"size\": %llu,\n  \"page_size\": %llu,\n"
		   "  \"chunk_size\": %llu,\n  \"runs\": %u,\n  \"kernel\": \"%s\",\n"
		   "  \"thp\": \"%s\",\n  \"cpus\": %ld,\n  \"date\": %lld,\n"
		   "  \"fill_ms\": %.1f,\n  \"open_uffd_ms\": %.3f,\n  \"open_hash_ms\": %.3f,\n"
		   "  \"verified\": true,\n  \"results\": [\n",
		(unsigned long long)size, (unsigned long long)pg, (unsigned long long)chunk, runs,
		un.release, thp, sysconf(_SC_NPROCESSORS_ONLN), (long long)time(NULL), fill_ms,
		open_u_ms, open_h_ms);
	for (size_t fi = 0; fi < NFRAC; fi++) {
		double mc = median(s[fi], runs, offsetof(struct sample, collect_ms));
		double mh = median(s[fi], runs, offsetof(struct sample, hash_ms));

		fprintf(f,
			"    {\"dirty_fraction\": %g, \"dirty_pages\": %llu, \"dirty_chunks\": %llu,\n"
			"     \"median_collect_ms\": %.4f, \"median_hash_ms\": %.3f, "
			"\"ratio_hash_over_collect\": %.1f,\n     \"median_write_ms\": %.3f,\n",
			fractions[fi], (unsigned long long)(fractions[fi] * (double)npages + 0.5),
			(unsigned long long)s[fi][0].chunks, mc, mh, mh / mc,
			median(s[fi], runs, offsetof(struct sample, write_ms)));
		fprintf(f, "     \"samples\": [");
		for (unsigned r = 0; r < runs; r++)
			fprintf(f, "%s{\"collect_ms\": %.4f, \"hash_ms\": %.3f, \"write_ms\": %.3f, "
				   "\"ranges\": %llu}",
				r ? ", " : "", s[fi][r].collect_ms, s[fi][r].hash_ms,
				s[fi][r].write_ms, (unsigned long long)s[fi][r].ranges);
		fprintf(f, "]}%s\n", fi + 1 < NFRAC ? "," : "");
	}
	fprintf(f, "  ],\n  \"target\": \"ratio >= 10 at 1%%\",\n  \"target_met\": %s\n}\n",
		median(s[1], runs, offsetof(struct sample, hash_ms)) /
					median(s[1], runs, offsetof(struct sample, collect_ms)) >=
				10
			? "true"
			: "false");
	fclose(f);
	printf("bench_dirty: wrote %s\n", json);

	rc = 0;
out:
	ms_dirty_close(u);
	ms_dirty_close(h);
	ms_chunkmap_free(&want);
	ms_chunkmap_free(&um);
	ms_chunkmap_free(&hm);
	free(perm);
	if (base != MAP_FAILED)
		munmap(base, size);
	return rc;
}
