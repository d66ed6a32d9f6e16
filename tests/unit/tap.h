/* SPDX-License-Identifier: Apache-2.0 */
/*
 * tap.h - a tiny TAP producer for the unit tests (header only).
 *
 *   int main(void) {
 *           ok(1 + 1 == 2, "addition");
 *           is_int(f(), -EINVAL, "f rejects junk");
 *           return tap_done();
 *   }
 *
 * Every check prints "ok N - name" or "not ok N - name" (with the values
 * on failure); tap_done() prints the plan and returns the exit status: 0
 * even when checks failed (their "not ok" lines say so, and the TAP driver
 * would count a non-zero exit as one more failure), 1 when no check ran.
 * A crash or a sanitizer report still fails the test: the exit status is
 * then non-zero, or the plan is missing.
 * tap_skip(fmt, ...) records one check as skipped with its reason: the
 * only way a test skips a single check.  tap_skip_all(reason)
 * ends the whole test as skipped with a printed reason.
 */
#ifndef MS_TAP_H
#define MS_TAP_H

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int tap_n, tap_failed;

__attribute__((format(printf, 2, 3), unused)) static int ok(int cond, const char *fmt, ...)
{
	va_list ap;

	tap_n++;
	printf("%sok %d - ", cond ? "" : "not ", tap_n);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	if (!cond)
		tap_failed++;
	fflush(stdout);
	return cond;
}

#define is_int(got, want, ...)                                                   \
	do {                                                                     \
		long long _g = (long long)(got), _w = (long long)(want);        \
		if (!ok(_g == _w, __VA_ARGS__))                                   \
			printf("#   got %lld, want %lld (%s:%d)\n", _g, _w,          \
			       __FILE__, __LINE__);                               \
	} while (0)

#define is_str(got, want, ...)                                                   \
	do {                                                                     \
		const char *_g = (got), *_w = (want);                             \
		if (!ok(_g && _w && strcmp(_g, _w) == 0, __VA_ARGS__))            \
			printf("#   got \"%s\", want \"%s\" (%s:%d)\n",             \
			       _g ? _g : "(null)", _w ? _w : "(null)", __FILE__,    \
			       __LINE__);                                         \
	} while (0)

__attribute__((format(printf, 1, 2), unused)) static void diag(const char *fmt, ...)
{
	va_list ap;

	printf("# ");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	fflush(stdout);
}

__attribute__((unused)) static int tap_done(void)
{
	printf("1..%d\n", tap_n);
	if (tap_n == 0) {
		printf("# no checks ran\n");
		return 1;
	}
	if (tap_failed)
		printf("# %d of %d checks failed\n", tap_failed, tap_n);
	return 0;
}

/* One skipped check: prints "ok N - # SKIP <what and why>", so the TAP
 * driver counts a skip and the log says why. */
__attribute__((format(printf, 1, 2), unused)) static void tap_skip(const char *fmt, ...)
{
	va_list ap;

	tap_n++;
	printf("ok %d - # SKIP ", tap_n);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	fflush(stdout);
}

__attribute__((noreturn, unused)) static void tap_skip_all(const char *reason)
{
	printf("1..0 # SKIP %s\n", reason);
	exit(0);
}

/* Stop the whole test: an unchecked precondition failed. */
__attribute__((noreturn, format(printf, 1, 2), unused)) static void tap_bail(const char *fmt, ...)
{
	va_list ap;

	printf("Bail out! ");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	exit(1);
}

#endif
