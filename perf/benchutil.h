/* SPDX-License-Identifier: Apache-2.0 */
/*
 * benchutil.h - what the benchmark programs in perf/ share (header only):
 * a monotonic clock, splitmix64 random numbers and data, medians, and the
 * end of an option switch.
 */
#ifndef MS_PERF_BENCHUTIL_H
#define MS_PERF_BENCHUTIL_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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

/* Milliseconds since t0 (a time from the monotonic clock, in ns). */
static inline double bu_ms_since(uint64_t t0_ns)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)((uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec - t0_ns) /
	       1e6;
}

/* The median of the double at byte offset field of n samples of size
 * stride (n <= 256). */
static inline double bu_median_field(const void *samples, size_t stride, unsigned n,
				     size_t field)
{
	double v[256];

	if (n > 256)
		n = 256;
	for (unsigned i = 0; i < n; i++)
		memcpy(&v[i], (const char *)samples + i * stride + field, sizeof(double));
	return bu_median(v, n);
}

/* The end of every program's option switch: --help ('h') prints the usage
 * on stdout and the program ends with 0; an option getopt did not know
 * prints it on stderr and ends with 2.  Returns that exit status. */
static inline int bu_help_or_unknown(int c, void (*usage)(FILE *))
{
	usage(c == 'h' ? stdout : stderr);
	return c == 'h' ? 0 : 2;
}

#endif /* MS_PERF_BENCHUTIL_H */
