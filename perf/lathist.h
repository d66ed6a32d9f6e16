/* SPDX-License-Identifier: Apache-2.0 */
/*
 * lathist.h - latency samples of single operations (a fault, a 4 KiB
 * request/response) and their histogram in power-of-two microsecond
 * buckets, as QEMU's latency histograms have them: bucket 0 holds
 * [0, 1) us, bucket i (i >= 1) holds [2^(i-1), 2^i) us, the last bucket
 * everything above.  lh_json() prints the summary as JSON fields (no
 * braces), for the benchmarks' one JSON line per run.
 */
#ifndef MS_PERF_LATHIST_H
#define MS_PERF_LATHIST_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#define LH_BUCKETS 24   /* up to 2^22 us (~4 s) and above */

struct lathist {
	double *us;         /* every sample, microseconds */
	uint64_t n, cap;
	uint64_t bucket[LH_BUCKETS];
};

/* Room for cap samples; 0 or -1 (out of memory). */
static inline int lh_init(struct lathist *h, uint64_t cap)
{
	*h = (struct lathist){ .cap = cap };
	h->us = malloc((cap ? cap : 1) * sizeof(*h->us));
	return h->us ? 0 : -1;
}

static inline void lh_free(struct lathist *h)
{
	free(h->us);
	h->us = NULL;
}

static inline unsigned lh_bucket_of(double us)
{
	unsigned b = 0;

	while (b + 1 < LH_BUCKETS && us >= (double)(1ull << b))
		b++;
	return b;
}

/* One sample of us microseconds (dropped beyond cap). */
static inline void lh_add(struct lathist *h, double us)
{
	if (h->n < h->cap)
		h->us[h->n++] = us;
	h->bucket[lh_bucket_of(us)]++;
}

static inline int lh_cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* The q-quantile (0..1) of the samples; sorts them.  0 without samples. */
static inline double lh_quantile(struct lathist *h, double q)
{
	uint64_t i;

	if (!h->n)
		return 0;
	qsort(h->us, h->n, sizeof(*h->us), lh_cmp);
	i = (uint64_t)(q * (double)(h->n - 1) + 0.5);
	return h->us[i < h->n ? i : h->n - 1];
}

/* "samples":N,"median_us":..,"p90_us":..,"p99_us":..,"min_us":..,"max_us":..,
 * "mean_us":..,"hist_us":[[lo,count],...] (lo: the bucket's lower bound in
 * us; the buckets from the first to the last non-empty one). */
static inline void lh_json(FILE *f, struct lathist *h)
{
	double sum = 0;
	int first = -1, last = -1;

	for (uint64_t i = 0; i < h->n; i++)
		sum += h->us[i];
	fprintf(f, "\"samples\":%llu,\"median_us\":%.3f,\"p90_us\":%.3f,\"p99_us\":%.3f,",
		(unsigned long long)h->n, lh_quantile(h, 0.5), lh_quantile(h, 0.9),
		lh_quantile(h, 0.99));
	fprintf(f, "\"min_us\":%.3f,\"max_us\":%.3f,\"mean_us\":%.3f,\"hist_us\":[",
		h->n ? h->us[0] : 0.0, h->n ? h->us[h->n - 1] : 0.0,
		h->n ? sum / (double)h->n : 0.0);
	for (int b = 0; b < LH_BUCKETS; b++) {
		if (h->bucket[b]) {
			if (first < 0)
				first = b;
			last = b;
		}
	}
	for (int b = first; first >= 0 && b <= last; b++)
		fprintf(f, "%s[%llu,%llu]", b == first ? "" : ",",
			b ? 1ull << (b - 1) : 0ull, (unsigned long long)h->bucket[b]);
	fprintf(f, "]");
}

#endif
