/* SPDX-License-Identifier: Apache-2.0 */
/* util.h - small helpers shared by every module (header only). */
#ifndef MS_UTIL_H
#define MS_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#define MS_ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define ms_container_of(ptr, type, member) \
	((type *)((char *)(ptr) - offsetof(type, member)))
#define MS_MIN(a, b) ((a) < (b) ? (a) : (b))
#define MS_MAX(a, b) ((a) > (b) ? (a) : (b))
#define MS_PRINTF(f, a) __attribute__((format(printf, f, a)))
#define ms_likely(x) __builtin_expect(!!(x), 1)
#define ms_unlikely(x) __builtin_expect(!!(x), 0)

static inline uint64_t ms_now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* Milliseconds (rounded up) until deadline (ms_now_ns() time): -1 when
 * deadline is 0 (none), 0 when it has passed. */
static inline int ms_left(uint64_t deadline)
{
	uint64_t now = ms_now_ns();

	if (!deadline)
		return -1;
	return now >= deadline ? 0 : (int)((deadline - now) / 1000000 + 1);
}

/* The shorter of two poll timeouts, where -1 means none. */
static inline int ms_min_tmo(int a, int b)
{
	if (a < 0)
		return b;
	if (b < 0)
		return a;
	return MS_MIN(a, b);
}

static inline int ms_is_pow2(uint64_t x) { return x && !(x & (x - 1)); }

static inline uint64_t ms_div_round_up(uint64_t a, uint64_t b)
{
	return (a + b - 1) / b;
}

#endif
