/* SPDX-License-Identifier: Apache-2.0 */
/*
 * benchutil.h - what the benchmark programs in perf/ share (header only):
 * a monotonic clock, splitmix64 random numbers and data, and medians.
 */
#ifndef MS_PERF_BENCHUTIL_H
#define MS_PERF_BENCHUTIL_H

#include <stdint.h>
#include <stdlib.h>
#include <time.h>

/* Seconds on the monotonic clock. */
static inline double bu_now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* splitmix64: fast, and random enough that no chunk repeats another. */
static inline uint64_t bu_rand64(uint64_t *state)
{
	uint64_t z = (*state += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

/* len / 8 random words from seed. */
static inline void bu_fill_random(void *mem, uint64_t len, uint64_t seed)
{
	uint64_t *p = mem;

	for (uint64_t i = 0; i < len / 8; i++)
		p[i] = bu_rand64(&seed);
}

static inline int bu_cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* The median of v[0..n) (n > 0); sorts v. */
static inline double bu_median(double *v, unsigned n)
{
	qsort(v, n, sizeof(v[0]), bu_cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

#endif /* MS_PERF_BENCHUTIL_H */
