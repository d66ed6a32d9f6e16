/* SPDX-License-Identifier: Apache-2.0 */
/*
 * bench_sync.c - pushing a few written pages of a big region: memsync's
 * tracked sync of a writable lazy mapping (ms_map_sync: collect the written
 * pages with userfaultfd WP_ASYNC + PAGEMAP_SCAN, push their chunks,
 * commit) against the delta push without tracking (ms_push of the whole
 * region: XXH3-128 of every chunk, compared with the server's hash table,
 * only differing chunks written, commit), which is what the thesis did.
 *
 * One process, TCP on 127.0.0.1.  A server (ms_server_create on
 * 127.0.0.1:0, background thread) exports three anonymous regions of SIZE
 * with the same random bytes, one per method, so that the methods never
 * share a write lease, a generation table or a page cache:
 *
 *   zero-copy   "sync-zc":    ms_map_open(.writable), memfd + UFFDIO_CONTINUE
 *   copy        "sync-copy":  ms_map_open(.writable, .path = MS_MAP_PATH_COPY), UFFDIO_COPY
 *   delta       "sync-delta": a plain local copy (one ms_pull), ms_push(0, SIZE)
 *
 * The maps are waited for (ms_map_wait) until every chunk is local before
 * anything is timed.  Then, RUNS times, for 0.1%, 1% and 10% of the pages
 * chosen at random: the same pages get the same one-byte change (XOR, so
 * the value always changes) in each method's memory, right before that
 * method's timed call (ms_map_sync or ms_push); the methods alternate
 * their order from one round to the next.  After every timed call the
 * server's bytes (ms_export_mem) must equal the writer's local bytes
 * (memcmp of the whole region), and the number of chunks pushed must equal
 * the number of chunks the written pages fall in (so all methods push the
 * same chunks); otherwise the method is reported FAILED for that fraction,
 * no figure is printed for it and the exit status is 1.
 *
 *   bench_sync [--size SIZE] [--runs N] [--chunk SIZE] [--json PATH]
 *              [--no-copy] [--no-zero-copy] [--seed N]
 *
 * Prints one JSON line per timed call, a table of medians (and the ratio
 * delta / tracked, target >= 10 at 1%), and writes everything to PATH
 * (default perf/out/sync.json in the source tree).
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

#include "memsync.h"
#include "hash.h"
#include "units.h"
#include "util.h"
#include "benchutil.h"

#ifndef PERF_OUT_DIR
#define PERF_OUT_DIR "perf/out"
#endif

#define MAX_RUNS 101

static const double fractions[] = { 0.001, 0.01, 0.10 };
#define NFRAC (sizeof(fractions) / sizeof(fractions[0]))

enum method { M_ZC, M_COPY, M_DELTA, M_N };
static const char *const mname[M_N] = { "zero-copy", "copy", "delta" };
static const char *const rname[M_N] = { "sync-zc", "sync-copy", "sync-delta" };

struct sample {
	double op_ms;      /* the timed call: ms_map_sync or ms_push */
	double write_ms;   /* writing the pages before it (not timed in op) */
	double hash_ms;    /* delta only: XXH3-128 of every chunk of the local
			      copy, measured separately after the push */
	uint64_t chunks;   /* chunks pushed, as the call reports them */
	uint64_t bytes;    /* payload bytes sent, as the call reports them */
	uint64_t pages;    /* tracked: pages found written */
	bool ok;
};

struct meth {
	bool on;
	ms_export *e;
	uint8_t *srv;      /* the server's bytes */
	uint8_t *mem;      /* the writer's bytes: the mapping or the local copy */
	ms_map *m;
	ms_client *c;
	ms_region *r;
	double ready_ms;   /* open + wait (maps) or connect + pull (delta) */
	char mode[160];    /* how writes are tracked */
};

static uint64_t rng_state;

static double median(const struct sample *s, unsigned n, size_t field)
{
	return bu_median_field(s, sizeof(*s), n, field);
}

static void usage(void)
{
	fprintf(stderr, "usage: bench_sync [--size SIZE] [--runs N] [--chunk SIZE] "
			"[--json PATH] [--no-copy] [--no-zero-copy] [--seed N]\n"
			"                  [--commit atomic|direct (atomic, the default)]\n");
	exit(2);
}

static double hash_all(const uint8_t *p, uint64_t size, uint64_t chunk)
{
	uint8_t h[MS_HASH_LEN], x = 0;
	uint64_t t0 = ms_now_ns();

	for (uint64_t off = 0; off < size; off += chunk) {
		ms_chunk_hash(p + off, MS_MIN(chunk, size - off), h);
		x ^= h[0];
	}
	__asm__ volatile("" : : "r"(x));
	return bu_ms_since(t0);
}

int main(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "size", required_argument, NULL, 's' },
		{ "runs", required_argument, NULL, 'r' },
		{ "chunk", required_argument, NULL, 'c' },
		{ "json", required_argument, NULL, 'j' },
		{ "no-copy", no_argument, NULL, 'n' },
		{ "no-zero-copy", no_argument, NULL, 'z' },
		{ "seed", required_argument, NULL, 'S' },
		{ "commit", required_argument, NULL, 'C' },
		{ NULL, 0, NULL, 0 },
	};
	static struct sample smp[M_N][NFRAC][MAX_RUNS];
	struct meth mt[M_N] = { { .on = true }, { .on = true }, { .on = true } };
	bool failed[M_N][NFRAC] = { { false } };
	uint64_t size = 1ull << 30, chunk = MS_CHUNK_DEFAULT, v;
	uint64_t pg = (uint64_t)sysconf(_SC_PAGESIZE), npages, nchunks, seed = 0x853c49e6748fea9bull;
	unsigned runs = 5;
	enum ms_commit_mode commit = MS_COMMIT_ATOMIC;
	const char *json = PERF_OUT_DIR "/sync.json";
	uint32_t *perm = NULL;
	uint16_t *poff = NULL;
	uint8_t *want = NULL;
	ms_server *srv = NULL;
	struct utsname un;
	char err[512], sz[32];
	double fill_ms;
	const uint8_t *first_srv = NULL;
	uint64_t t0;
	int opt, rc = 1;

	while ((opt = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (opt) {
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
			if (ms_parse_size(optarg, &v) || !ms_is_pow2(v) || v < MS_CHUNK_MIN ||
			    v > MS_CHUNK_MAX)
				usage();
			chunk = v;
			break;
		case 'j':
			json = optarg;
			break;
		case 'z':
			mt[M_ZC].on = false;
			break;
		case 'n':
			mt[M_COPY].on = false;
			break;
		case 'S':
			seed = strtoull(optarg, NULL, 0);
			break;
		case 'C':
			if (ms_commit_mode_parse(optarg, &commit))
				usage();
			break;
		default:
			usage();
		}
	}
	rng_state = seed;
	npages = size / pg;
	nchunks = ms_div_round_up(size, chunk);
	perm = malloc(npages * sizeof(*perm));
	poff = malloc(npages * sizeof(*poff));
	want = calloc(nchunks, 1);
	if (!perm || !poff || !want) {
		fprintf(stderr, "bench_sync: out of memory\n");
		goto out;
	}
	for (uint64_t i = 0; i < npages; i++)
		perm[i] = (uint32_t)i;

	/* ---- the server: one region per method, the same random bytes */
	struct ms_server_opts so = { .opts_size = sizeof(so), .host = "127.0.0.1", .port = "0",
				     .transport = MS_TRANSPORT_TCP };
	char port[8];

	srv = ms_server_create(&so, err, sizeof(err));
	if (!srv) {
		fprintf(stderr, "bench_sync: server: %s\n", err);
		goto out;
	}
	t0 = ms_now_ns();
	for (int k = 0; k < M_N; k++) {
		struct ms_export_opts eo = { .opts_size = sizeof(eo), .name = rname[k], .size = size,
					     .chunk_size = (uint32_t)chunk, .no_mlock = true,
					     .commit = commit };

		if (!mt[k].on)
			continue;
		mt[k].e = ms_server_add_region(srv, &eo);
		if (!mt[k].e) {
			fprintf(stderr, "bench_sync: region %s: %s\n", rname[k],
				ms_server_errmsg(srv));
			goto out;
		}
		mt[k].srv = ms_export_mem(mt[k].e);
		if (!first_srv) {
			for (uint64_t i = 0; i < size / 8; i++)
				((uint64_t *)mt[k].srv)[i] = bu_rand64(&rng_state);
			first_srv = mt[k].srv;
		} else {
			memcpy(mt[k].srv, first_srv, size);
		}
		if (ms_export_commit(mt[k].e, 0, size)) {
			fprintf(stderr, "bench_sync: commit: %s\n", ms_server_errmsg(srv));
			goto out;
		}
	}
	fill_ms = bu_ms_since(t0);
	if (ms_server_start(srv)) {
		fprintf(stderr, "bench_sync: start: %s\n", ms_server_errmsg(srv));
		goto out;
	}
	snprintf(port, sizeof(port), "%u", ms_server_port(srv));

	/* ---- the writers */
	struct ms_client_opts co = { .opts_size = sizeof(co), .transport = MS_TRANSPORT_TCP };

	for (int k = M_ZC; k <= M_COPY; k++) {
		struct ms_map_opts mo = { .opts_size = sizeof(mo), .writable = true,
					  .path = k == M_COPY ? MS_MAP_PATH_COPY
							      : MS_MAP_PATH_ZERO_COPY };
		int ret;

		if (!mt[k].on)
			continue;
		t0 = ms_now_ns();
		mt[k].m = ms_map_open("127.0.0.1", port, rname[k], &co, &mo, err, sizeof(err));
		if (!mt[k].m) {
			fprintf(stderr, "bench_sync: %s: map: %s\n", mname[k], err);
			goto out;
		}
		ret = ms_map_wait(mt[k].m, -1);
		mt[k].ready_ms = bu_ms_since(t0);
		if (ret) {
			fprintf(stderr, "bench_sync: %s: map wait: %s\n", mname[k],
				ms_map_errmsg(mt[k].m));
			goto out;
		}
		if ((k == M_ZC) != ms_map_zero_copy(mt[k].m))
			fprintf(stderr, "bench_sync: note: %s mapping is on the %s path\n",
				mname[k], ms_map_zero_copy(mt[k].m) ? "zero-copy" : "copy");
		mt[k].mem = ms_map_addr(mt[k].m);
		snprintf(mt[k].mode, sizeof(mt[k].mode), "%s", ms_map_dirty_mode(mt[k].m));
	}
	t0 = ms_now_ns();
	mt[M_DELTA].c = ms_connect("127.0.0.1", port, &co, err, sizeof(err));
	if (!mt[M_DELTA].c) {
		fprintf(stderr, "bench_sync: delta: connect: %s\n", err);
		goto out;
	}
	mt[M_DELTA].r = ms_open(mt[M_DELTA].c, rname[M_DELTA], MS_MODE_WRITE);
	mt[M_DELTA].mem = mmap(NULL, size, PROT_READ | PROT_WRITE,
			       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (!mt[M_DELTA].r || mt[M_DELTA].mem == MAP_FAILED ||
	    ms_pull(mt[M_DELTA].r, 0, mt[M_DELTA].mem, size, NULL, NULL)) {
		fprintf(stderr, "bench_sync: delta: open/pull: %s\n",
			ms_client_errmsg(mt[M_DELTA].c));
		if (mt[M_DELTA].mem == MAP_FAILED)
			mt[M_DELTA].mem = NULL;
		goto out;
	}
	mt[M_DELTA].ready_ms = bu_ms_since(t0);
	snprintf(mt[M_DELTA].mode, sizeof(mt[M_DELTA].mode),
		 "none: ms_push hashes every chunk (XXH3-128) and compares");
	for (int k = 0; k < M_N; k++) {
		if (mt[k].on && memcmp(mt[k].mem, mt[k].srv, size)) {
			fprintf(stderr, "bench_sync: FAILED: %s: the writer's bytes differ "
					"from the server's before anything was written\n",
				mname[k]);
			goto out;
		}
	}

	uname(&un);
	printf("bench_sync: %s regions, %llu pages of %llu, chunks of %llu (%llu), %u runs, "
	       "kernel %s, %ld CPUs, TCP 127.0.0.1\n",
	       ms_format_size(size, sz, sizeof(sz)), (unsigned long long)npages,
	       (unsigned long long)pg, (unsigned long long)chunk, (unsigned long long)nchunks,
	       runs, un.release, sysconf(_SC_NPROCESSORS_ONLN));
	for (int k = 0; k < M_N; k++)
		if (mt[k].on)
			printf("bench_sync: %-9s ready in %.0f ms; tracking: %s\n", mname[k],
			       mt[k].ready_ms, mt[k].mode);
	fflush(stdout);

	/* ---- the rounds */
	for (unsigned run = 0; run < runs; run++) {
		for (size_t fi = 0; fi < NFRAC; fi++) {
			uint64_t k = MS_MIN((uint64_t)(fractions[fi] * (double)npages + 0.5), npages);
			uint64_t nwant = 0;
			int order[M_N], no = 0;

			/* k distinct random pages (partial Fisher-Yates), one byte each */
			memset(want, 0, nchunks);
			for (uint64_t i = 0; i < k; i++) {
				uint64_t j = i + bu_rand64(&rng_state) % (npages - i);
				uint32_t t = perm[i];

				perm[i] = perm[j];
				perm[j] = t;
				poff[i] = (uint16_t)(bu_rand64(&rng_state) % pg);
				want[perm[i] * pg / chunk] = 1;
			}
			for (uint64_t c = 0; c < nchunks; c++)
				nwant += want[c];
			/* alternate the order of the methods from round to round */
			for (int m = 0; m < M_N; m++) {
				int mm = (run + fi) % 2 ? M_N - 1 - m : m;

				if (mt[mm].on)
					order[no++] = mm;
			}
			for (int oi = 0; oi < no; oi++) {
				int m = order[oi];
				struct meth *w = &mt[m];
				struct sample *x = &smp[m][fi][run];
				int ret;

				*x = (struct sample){ 0 };
				t0 = ms_now_ns();
				for (uint64_t i = 0; i < k; i++)
					w->mem[perm[i] * pg + poff[i]] ^= 0xa5;
				x->write_ms = bu_ms_since(t0);
				if (m == M_DELTA) {
					struct ms_xfer_stats xs;

					t0 = ms_now_ns();
					ret = ms_push(w->r, 0, w->mem, size, NULL, &xs);
					x->op_ms = bu_ms_since(t0);
					x->chunks = xs.chunks_moved;
					x->bytes = xs.bytes;
					if (ret)
						fprintf(stderr, "bench_sync: delta push: %s\n",
							ms_client_errmsg(w->c));
				} else {
					struct ms_map_sync_stats ss;

					t0 = ms_now_ns();
					ret = ms_map_sync(w->m, &ss);
					x->op_ms = bu_ms_since(t0);
					x->chunks = ss.chunks_pushed;
					x->bytes = ss.bytes;
					x->pages = ss.pages_dirty;
					if (ret)
						fprintf(stderr, "bench_sync: %s sync: %s\n",
							mname[m], ms_map_errmsg(w->m));
				}
				x->ok = ret == 0 && x->chunks == nwant &&
					memcmp(w->mem, w->srv, size) == 0;
				if (m == M_DELTA)
					x->hash_ms = hash_all(w->mem, size, chunk);
				if (!x->ok) {
					fprintf(stderr,
						"bench_sync: FAILED: %s at %g%% run %u: ret %d, "
						"chunks pushed %llu (written pages fall in %llu), "
						"server bytes %s the writer's\n",
						mname[m], fractions[fi] * 100, run + 1, ret,
						(unsigned long long)x->chunks,
						(unsigned long long)nwant,
						memcmp(w->mem, w->srv, size) ? "differ from" : "equal");
					failed[m][fi] = true;
				}
				printf("{\"bench\":\"memsync_sync\",\"commit\":\"%s\","
				       "\"method\":\"%s\",\"run\":%u,"
				       "\"dirty_fraction\":%g,\"pages_written\":%llu,"
				       "\"chunks_expected\":%llu,\"chunks_pushed\":%llu,"
				       "\"bytes_sent\":%llu,\"ms\":%.3f,\"write_ms\":%.3f,"
				       "\"verified\":%s}\n",
				       ms_commit_mode_name(commit), mname[m], run + 1, fractions[fi],
				       (unsigned long long)k,
				       (unsigned long long)nwant, (unsigned long long)x->chunks,
				       (unsigned long long)x->bytes, x->op_ms, x->write_ms,
				       x->ok ? "true" : "false");
				fflush(stdout);
			}
		}
	}

	/* ---- results */
	int nfail = 0;
	double med[M_N][NFRAC], medh[NFRAC];

	for (int m = 0; m < M_N; m++)
		for (size_t fi = 0; fi < NFRAC; fi++) {
			med[m][fi] = mt[m].on ? median(smp[m][fi], runs,
						       offsetof(struct sample, op_ms)) : 0;
			nfail += mt[m].on && failed[m][fi];
		}
	for (size_t fi = 0; fi < NFRAC; fi++)
		medh[fi] = median(smp[M_DELTA][fi], runs, offsetof(struct sample, hash_ms));

	printf("\nmedians of %u run(s); ms = the timed call (ms_map_sync: collect + push + "
	       "commit; ms_push: hash all + compare + push + commit)\n", runs);
	printf("%-6s %7s %7s %9s %9s %9s %8s %8s %9s %9s %9s %9s\n", "dirty", "pages", "chunks",
	       "zc ms", "copy ms", "delta ms", "d/zc", "d/copy", "zc MiB", "copy MiB",
	       "delta MiB", "hash ms");
	for (size_t fi = 0; fi < NFRAC; fi++) {
		char pct[16], cell[M_N][16], rz[16] = "-", rc_[16] = "-", b[M_N][16];

		snprintf(pct, sizeof(pct), "%g%%", fractions[fi] * 100);
		for (int m = 0; m < M_N; m++) {
			snprintf(cell[m], sizeof(cell[m]), "%s",
				 !mt[m].on ? "-" : failed[m][fi] ? "FAILED" : "");
			snprintf(b[m], sizeof(b[m]), "%s", cell[m]);
			if (mt[m].on && !failed[m][fi]) {
				snprintf(cell[m], sizeof(cell[m]), "%.2f", med[m][fi]);
				snprintf(b[m], sizeof(b[m]), "%.1f",
					 (double)smp[m][fi][0].bytes / (1 << 20));
			}
		}
		if (!failed[M_DELTA][fi] && mt[M_ZC].on && !failed[M_ZC][fi])
			snprintf(rz, sizeof(rz), "%.1fx", med[M_DELTA][fi] / med[M_ZC][fi]);
		if (!failed[M_DELTA][fi] && mt[M_COPY].on && !failed[M_COPY][fi])
			snprintf(rc_, sizeof(rc_), "%.1fx", med[M_DELTA][fi] / med[M_COPY][fi]);
		printf("%-6s %7llu %7llu %9s %9s %9s %8s %8s %9s %9s %9s %9.1f\n", pct,
		       (unsigned long long)(fractions[fi] * (double)npages + 0.5),
		       (unsigned long long)smp[M_DELTA][fi][0].chunks, cell[M_ZC], cell[M_COPY],
		       cell[M_DELTA], rz, rc_, b[M_ZC], b[M_COPY], b[M_DELTA], medh[fi]);
	}
	printf("(chunks and MiB: of run 1; every run pushed the chunks its pages fall in. "
	       "hash ms: XXH3-128 of every chunk\n of the local copy alone, the part of a delta "
	       "push that tracking removes)\n");
	for (int m = M_ZC; m <= M_COPY; m++) {
		if (!mt[m].on)
			continue;
		if (failed[m][1] || failed[M_DELTA][1])
			printf("target (>= 10x at 1%%): %s: FAILED, no figure\n", mname[m]);
		else
			printf("target: tracked sync >= 10x faster than delta push at 1%%: %s %.1fx "
			       "(%s)\n", mname[m], med[M_DELTA][1] / med[m][1],
			       med[M_DELTA][1] / med[m][1] >= 10 ? "met" : "NOT met");
	}

	FILE *f = fopen(json, "w");

	if (!f) {
		fprintf(stderr, "bench_sync: %s: %s\n", json, strerror(errno));
		nfail++;
	} else {
		fprintf(f, "{\n  \"benchmark\": \"sync-tracked-vs-delta\",\n  \"size\": %llu,\n"
			   "  \"page_size\": %llu,\n  \"chunk_size\": %llu,\n  \"runs\": %u,\n"
			   "  \"seed\": %llu,\n  \"kernel\": \"%s\",\n  \"cpus\": %ld,\n"
			   "  \"transport\": \"tcp 127.0.0.1\",\n  \"date\": %lld,\n"
			   "  \"fill_and_commit_ms\": %.1f,\n  \"methods\": {\n",
			(unsigned long long)size, (unsigned long long)pg, (unsigned long long)chunk,
			runs, (unsigned long long)seed, un.release, sysconf(_SC_NPROCESSORS_ONLN),
			(long long)time(NULL), fill_ms);
		for (int m = 0, first = 1; m < M_N; m++) {
			if (!mt[m].on)
				continue;
			fprintf(f, "%s    \"%s\": {\"region\": \"%s\", \"ready_ms\": %.1f, "
				   "\"tracking\": \"%s\"}",
				first ? "" : ",\n", mname[m], rname[m], mt[m].ready_ms, mt[m].mode);
			first = 0;
		}
		fprintf(f, "\n  },\n  \"results\": [\n");
		for (size_t fi = 0; fi < NFRAC; fi++) {
			fprintf(f, "    {\"dirty_fraction\": %g, \"pages_written\": %llu,\n",
				fractions[fi],
				(unsigned long long)(fractions[fi] * (double)npages + 0.5));
			for (int m = 0; m < M_N; m++) {
				if (!mt[m].on)
					continue;
				fprintf(f, "     \"%s\": {\"verified\": %s", mname[m],
					failed[m][fi] ? "false" : "true");
				if (!failed[m][fi])
					fprintf(f, ", \"median_ms\": %.3f, \"median_write_ms\": %.3f",
						med[m][fi],
						median(smp[m][fi], runs,
						       offsetof(struct sample, write_ms)));
				if (m == M_DELTA)
					fprintf(f, ", \"median_hash_only_ms\": %.3f", medh[fi]);
				if (m != M_DELTA && !failed[m][fi] && !failed[M_DELTA][fi])
					fprintf(f, ", \"ratio_delta_over_tracked\": %.2f",
						med[M_DELTA][fi] / med[m][fi]);
				fprintf(f, ",\n       \"samples\": [");
				for (unsigned r = 0; r < runs; r++) {
					const struct sample *x = &smp[m][fi][r];

					fprintf(f, "%s{\"ms\": %.3f, \"chunks\": %llu, "
						   "\"bytes\": %llu, \"write_ms\": %.3f, "
						   "\"verified\": %s",
						r ? ", " : "", x->op_ms,
						(unsigned long long)x->chunks,
						(unsigned long long)x->bytes, x->write_ms,
						x->ok ? "true" : "false");
					if (m == M_DELTA)
						fprintf(f, ", \"hash_only_ms\": %.3f", x->hash_ms);
					else
						fprintf(f, ", \"pages_dirty\": %llu",
							(unsigned long long)x->pages);
					fprintf(f, "}");
				}
				fprintf(f, "]}%s\n", m + 1 < M_N ? "," : "");
			}
			fprintf(f, "    }%s\n", fi + 1 < NFRAC ? "," : "");
		}
		fprintf(f, "  ],\n  \"target\": \"tracked sync >= 10x faster than delta push "
			   "at 1%%\"");
		for (int m = M_ZC; m <= M_COPY; m++)
			if (mt[m].on && !failed[m][1] && !failed[M_DELTA][1])
				fprintf(f, ",\n  \"target_met_%s\": %s", m == M_ZC ? "zero_copy" : "copy",
					med[M_DELTA][1] / med[m][1] >= 10 ? "true" : "false");
		fprintf(f, "\n}\n");
		fclose(f);
		printf("bench_sync: wrote %s\n", json);
	}
	rc = nfail ? 1 : 0;
	if (nfail)
		fprintf(stderr, "bench_sync: %d measurement(s) FAILED verification\n", nfail);
out:
	for (int m = M_ZC; m <= M_COPY; m++)
		if (mt[m].m)
			ms_map_close(mt[m].m);
	if (mt[M_DELTA].c)
		ms_disconnect(mt[M_DELTA].c);
	if (mt[M_DELTA].mem)
		munmap(mt[M_DELTA].mem, size);
	ms_server_destroy(srv);
	free(perm);
	free(poff);
	free(want);
	return rc;
}
