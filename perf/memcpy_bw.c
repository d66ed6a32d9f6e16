/* SPDX-License-Identifier: Apache-2.0 */
/*
 * memcpy_bw.c - the memory ceiling: memcpy of SIZE bytes between two
 * prefaulted buffers (one thread), timed alone.  The copy is compared with
 * its source afterwards, so a wrong byte fails the run.
 *
 *   memcpy_bw [--size S (1G)] [--runs N (3)] [--seed N]
 *
 * One JSON line per run on stdout:
 *   {"bench":"memcpy","size":N,"seconds":S,"bytes_per_second":B,"ok":true}
 */
#include <getopt.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>

#include "peerutil.h"

static void usage(FILE *f)
{
	fprintf(f, "usage: memcpy_bw [--size S (1G)] [--runs N (3)] [--seed N]\n"
		   "memcpy between two prefaulted buffers; one JSON line per run on stdout.\n");
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "size", required_argument, NULL, 's' },
		{ "runs", required_argument, NULL, 'r' },
		{ "seed", required_argument, NULL, 'e' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	uint64_t size = 1ull << 30, runs = 3, seed = 11;
	uint8_t *src = NULL, *dst = NULL;
	int c, li = 0, rc = 1;

	while ((c = getopt_long(argc, argv, "h", opts, &li)) != -1) {
		switch (c) {
		case 's':
			if (pu_parse_size(optarg, &size) || !size)
				goto bad;
			break;
		case 'r':
			if (pu_parse_u64(optarg, 1, 1000, &runs))
				goto bad;
			break;
		case 'e':
			if (pu_parse_u64(optarg, 0, UINT64_MAX, &seed))
				goto bad;
			break;
		default:
			return bu_help_or_unknown(c, usage);
		}
	}
	if (optind != argc)
		return pu_usage_error("memcpy_bw", usage, "unexpected argument '%s'", argv[optind]);

	/* both written once, so no page fault is timed */
	src = pu_map_anon(size);
	dst = pu_map_anon(size);
	if (!src || !dst) {
		perror("memcpy_bw: mmap");
		goto cleanup;
	}
	memset(src, 0xa5, size);
	bu_fill_random(src, size, seed);
	memset(dst, 0, size);

	for (uint64_t i = 0; i < runs; i++) {
		double t0 = bu_now_s(), t;

		memcpy(dst, src, size);
		t = bu_now_s() - t0;
		if (memcmp(dst, src, size) || t <= 0) {
			fprintf(stderr, "memcpy_bw: the copy differs from its source\n");
			goto cleanup;
		}
		printf("{\"bench\":\"memcpy\",\"size\":%llu,\"seconds\":%.6f,"
		       "\"bytes_per_second\":%.0f,\"ok\":true}\n",
		       (unsigned long long)size, t, (double)size / t);
		fflush(stdout);
		memset(dst, 0, size);
	}
	rc = 0;

cleanup:
	if (src)
		munmap(src, size);
	if (dst)
		munmap(dst, size);
	return rc;

bad:
	return pu_usage_error("memcpy_bw", usage, "bad value for --%s: '%s'", opts[li].name,
			      optarg);
}
