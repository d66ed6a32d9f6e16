/* SPDX-License-Identifier: Apache-2.0 */
/*
 * bench_lat.c - the latency of one small read of a remote region, what a
 * lazy mapping's fault costs at least: connect once to a memsync server
 * (any transport), then pull SIZE bytes (default 4 KiB) at a random
 * SIZE-aligned offset, one at a time, OPS times, into memory registered
 * once.  A verified pull reads the chunk's metadata entry, the data and
 * the entry again (three one-sided READs over RDMA) and hashes a whole
 * chunk; --no-verify is one READ, what ib_read_lat measures.
 *
 *   bench_lat [--transport auto|tcp|rdma] [--size 4K] [--ops 1000]
 *             [--no-verify] [--warmup 100] URL
 *
 * URL: memsync://HOST:PORT/REGION.  Prints one JSON line:
 *   {"bench":"memsync_lat","transport":"rdma","size":4096,"ops":N,
 *    "verify":false,"median_us":M,"p99_us":P,"mean_us":A,"min_us":L,"ok":true}
 * Every pulled piece is checked against one full pull made before the
 * clock (a wrong byte fails the run, never a figure).
 */
#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "memsync.h"
#include "units.h"
#include "benchutil.h"

static void usage(FILE *f)
{
	fprintf(f, "usage: bench_lat [--transport auto|tcp|rdma] [--size 4K] [--ops 1000] "
		   "[--no-verify] [--warmup 100] memsync://HOST:PORT/REGION\n");
}

int main(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "transport", required_argument, NULL, 't' },
		{ "size", required_argument, NULL, 's' },
		{ "ops", required_argument, NULL, 'o' },
		{ "warmup", required_argument, NULL, 'w' },
		{ "no-verify", no_argument, NULL, 'n' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct ms_client_opts co = { .opts_size = sizeof(co), .transport = MS_TRANSPORT_AUTO };
	struct ms_xfer_opts xo = { .opts_size = sizeof(xo) };
	struct ms_region_info info;
	struct ms_url url;
	uint64_t size = 4096, ops = 1000, warmup = 100, seed = 0x5eed, nslots;
	uint8_t *copy = NULL, *dst = NULL;
	double *lat = NULL, sum = 0;
	ms_client *c = NULL;
	ms_region *r = NULL;
	char err[512];
	int opt, rc = 1;

	while ((opt = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
		switch (opt) {
		case 't':
			if (ms_transport_parse(optarg, &co.transport)) {
				fprintf(stderr, "bench_lat: bad --transport '%s'\n", optarg);
				return 2;
			}
			break;
		case 's':
			if (ms_parse_size(optarg, &size) || !size || size > (64u << 20)) {
				fprintf(stderr, "bench_lat: bad --size '%s' (1 .. 64M)\n", optarg);
				return 2;
			}
			break;
		case 'o':
		case 'w': {
			char *end;
			unsigned long long v = strtoull(optarg, &end, 10);

			if (*end || end == optarg || v > 10000000 || (opt == 'o' && !v)) {
				fprintf(stderr, "bench_lat: bad --%s '%s'\n",
					opt == 'o' ? "ops" : "warmup", optarg);
				return 2;
			}
			*(opt == 'o' ? &ops : &warmup) = v;
			break;
		}
		case 'n':
			xo.no_verify = true;
			break;
		default:
			return bu_help_or_unknown(opt, usage);
		}
	}
	if (optind != argc - 1 || ms_url_parse(argv[optind], false, &url) || !url.region[0]) {
		usage(stderr);
		return 2;
	}

	c = ms_connect(url.host, url.port, &co, err, sizeof(err));
	if (!c) {
		fprintf(stderr, "bench_lat: %s\n", err);
		return 1;
	}
	r = ms_open(c, url.region, MS_MODE_READ);
	if (!r) {
		fprintf(stderr, "bench_lat: %s\n", ms_client_errmsg(c));
		goto out;
	}
	ms_region_info(r, &info);
	if (size > info.size) {
		fprintf(stderr, "bench_lat: --size is larger than the region (%llu bytes)\n",
			(unsigned long long)info.size);
		goto out;
	}
	nslots = info.size / size;
	copy = malloc(info.size);
	lat = calloc(ops, sizeof(*lat));
	dst = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE,
		   -1, 0);
	if (!copy || !lat || dst == MAP_FAILED) {
		dst = dst == MAP_FAILED ? NULL : dst;
		fprintf(stderr, "bench_lat: out of memory\n");
		goto out;
	}
	/* the reference copy, and the destination registered once (a lazy
	 * mapping registers its landing area once too) */
	if (ms_pull(r, 0, copy, info.size, NULL, NULL) || !ms_mem_register(c, dst, size)) {
		fprintf(stderr, "bench_lat: %s\n", ms_client_errmsg(c));
		goto out;
	}
	for (uint64_t i = 0; i < warmup + ops; i++) {
		uint64_t off = bu_rand64(&seed) % nslots * size;
		double t0 = bu_now_s(), t;

		if (ms_pull(r, off, dst, size, &xo, NULL)) {
			fprintf(stderr, "bench_lat: pull at %llu: %s\n", (unsigned long long)off,
				ms_client_errmsg(c));
			goto out;
		}
		t = bu_now_s() - t0;
		if (memcmp(dst, copy + off, size)) {
			fprintf(stderr, "bench_lat: the bytes at %llu differ from the reference pull\n",
				(unsigned long long)off);
			goto out;
		}
		if (i >= warmup) {
			lat[i - warmup] = t;
			sum += t;
		}
	}
	qsort(lat, ops, sizeof(*lat), bu_cmp_double);
	printf("{\"bench\":\"memsync_lat\",\"transport\":\"%s\",\"size\":%llu,\"ops\":%llu,"
	       "\"verify\":%s,\"median_us\":%.3f,\"p99_us\":%.3f,\"mean_us\":%.3f,"
	       "\"min_us\":%.3f,\"ok\":true}\n",
	       ms_client_transport(c), (unsigned long long)size, (unsigned long long)ops,
	       xo.no_verify ? "false" : "true", lat[ops / 2] * 1e6,
	       lat[(size_t)((double)ops * 0.99)] * 1e6, sum / (double)ops * 1e6, lat[0] * 1e6);
	rc = 0;
out:
	if (dst)
		munmap(dst, size);
	free(copy);
	free(lat);
	if (c)
		ms_disconnect(c);
	return rc;
}
