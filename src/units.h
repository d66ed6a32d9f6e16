/* SPDX-License-Identifier: Apache-2.0 */
/* units.h - parse and format sizes, durations and rates (CLI/daemon only). */
#ifndef MS_UNITS_H
#define MS_UNITS_H

#include <stddef.h>
#include <stdint.h>

/* "4096", "64K", "64k", "64KiB", "1M", "256MiB", "1G", "2T" (powers of 1024).
 * 0 or -EINVAL (junk, empty, negative) / -ERANGE (overflow). */
int ms_parse_size(const char *s, uint64_t *out);
/* "1.00 GiB", "64.0 KiB", "512 B" into buf; returns buf. */
char *ms_format_size(uint64_t bytes, char *buf, size_t len);
/* bytes per second as "2.51 GB/s" (decimal, like iperf); returns buf. */
char *ms_format_rate(double bytes_per_s, char *buf, size_t len);

#endif
