/* SPDX-License-Identifier: Apache-2.0 */
/*
 * units.c - sizes ("256MiB"), and human-readable sizes and rates for the
 * CLI and the daemon.  Sizes are powers of 1024; rates are decimal, like
 * iperf, so that they compare directly with link speeds.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "units.h"

int ms_parse_size(const char *s, uint64_t *out)
{
	static const char suffixes[] = "KMGTPE";
	uint64_t v = 0;
	unsigned shift = 0;
	const char *p = s, *u;

	if (!s || !out)
		return -EINVAL;
	/* digits only: strtoull would accept blanks, signs and "0x" */
	if (*p < '0' || *p > '9')
		return -EINVAL;
	for (; *p >= '0' && *p <= '9'; p++) {
		unsigned d = (unsigned)(*p - '0');

		if (v > (UINT64_MAX - d) / 10)
			goto range;
		v = v * 10 + d;
	}

	/* unit: "", "B", or K/M/G/T/P/E (either case), optionally + "iB" */
	if (*p == 'B' && p[1] == '\0') {
		p++;
	} else if (*p) {
		char c = *p >= 'a' && *p <= 'z' ? (char)(*p - 'a' + 'A') : *p;

		u = strchr(suffixes, c);
		if (!u)
			return -EINVAL;
		shift = 10 * (unsigned)(u - suffixes + 1);
		p++;
		if (strcmp(p, "iB") == 0)
			p += 2;
		if (*p)
			return -EINVAL;
	}
	if (shift && v > (UINT64_MAX >> shift))
		goto range;
	*out = v << shift;
	return 0;

range:
	/* still refuse junk after an overlong number as junk */
	while (*p >= '0' && *p <= '9')
		p++;
	if (*p && !strchr("KMGTPEkmgtpeB", *p))
		return -EINVAL;
	return -ERANGE;
}

/* Print v with three significant digits ("1.00", "64.0", "512") and the
 * unit; the caller has scaled v into [0, base). */
static void fmt3(char *buf, size_t len, double v, const char *unit)
{
	if (v < 9.995)
		snprintf(buf, len, "%.2f %s", v, unit);
	else if (v < 99.95)
		snprintf(buf, len, "%.1f %s", v, unit);
	else
		snprintf(buf, len, "%.0f %s", v, unit);
}

char *ms_format_size(uint64_t bytes, char *buf, size_t len)
{
	static const char *const units[] = { "KiB", "MiB", "GiB", "TiB", "PiB", "EiB" };
	double v;
	int i;

	if (!buf || len == 0)
		return buf;
	if (bytes < 1024) {
		snprintf(buf, len, "%u B", (unsigned)bytes);
		return buf;
	}
	v = (double)bytes / 1024;
	/* move up a unit when rounding would print "1024 KiB" */
	for (i = 0; v >= 1023.5 && i < 5; i++)
		v /= 1024;
	fmt3(buf, len, v, units[i]);
	return buf;
}

char *ms_format_rate(double bytes_per_s, char *buf, size_t len)
{
	static const char *const units[] = { "B/s", "kB/s", "MB/s", "GB/s", "TB/s", "PB/s" };
	double v = bytes_per_s;
	int i;

	if (!buf || len == 0)
		return buf;
	if (!isfinite(v) || v < 0) {
		snprintf(buf, len, "- B/s");
		return buf;
	}
	for (i = 0; v >= 999.5 && i < 5; i++)
		v /= 1000;
	fmt3(buf, len, v, units[i]);
	return buf;
}
