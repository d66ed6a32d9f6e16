/* SPDX-License-Identifier: Apache-2.0 */
/* test_units.c - size parsing and size/rate formatting. */
#include <errno.h>
#include <stdint.h>

#include "tap.h"
#include "units.h"

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

static void test_parse(void)
{
	static const struct {
		const char *in;
		uint64_t want;
	} goods[] = {
		{ "0", 0 },
		{ "4096", 4096 },
		{ "512B", 512 },
		{ "64K", 64ull << 10 },
		{ "64k", 64ull << 10 },
		{ "64KiB", 64ull << 10 },
		{ "1M", 1ull << 20 },
		{ "256MiB", 256ull << 20 },
		{ "1G", 1ull << 30 },
		{ "1g", 1ull << 30 },
		{ "2T", 2ull << 40 },
		{ "3P", 3ull << 50 },
		{ "15E", 15ull << 60 },
		{ "18446744073709551615", UINT64_MAX },
		{ "16777215T", 16777215ull << 40 },
	};
	static const struct {
		const char *in;
		int rc;
	} bads[] = {
		{ "", -EINVAL },
		{ "-1", -EINVAL },
		{ "+1", -EINVAL },
		{ " 1", -EINVAL },
		{ "1 ", -EINVAL },
		{ "1 K", -EINVAL },
		{ "1X", -EINVAL },
		{ "K", -EINVAL },
		{ "KiB", -EINVAL },
		{ "1KB", -EINVAL },
		{ "1Ki", -EINVAL },
		{ "1KiBB", -EINVAL },
		{ "1.5G", -EINVAL },
		{ "0x10", -EINVAL },
		{ "1BB", -EINVAL },
		{ "16E", -ERANGE },
		{ "16777216T", -ERANGE },
		{ "18446744073709551616", -ERANGE },
		{ "99999999999999999999", -ERANGE },
		{ "99999999999999999999K", -ERANGE },
	};

	for (size_t i = 0; i < ARRAY_LEN(goods); i++) {
		uint64_t v = 12345;
		int rc = ms_parse_size(goods[i].in, &v);

		ok(rc == 0 && v == goods[i].want, "parse \"%s\"", goods[i].in);
		if (rc || v != goods[i].want)
			diag("rc %d, got %llu, want %llu", rc, (unsigned long long)v,
			     (unsigned long long)goods[i].want);
	}
	for (size_t i = 0; i < ARRAY_LEN(bads); i++) {
		uint64_t v = 12345;

		is_int(ms_parse_size(bads[i].in, &v), bads[i].rc, "reject \"%s\"", bads[i].in);
		is_int(v, 12345, "  output untouched");
	}
	is_int(ms_parse_size(NULL, &(uint64_t){ 0 }), -EINVAL, "reject NULL");
}

static void test_format(void)
{
	static const struct {
		uint64_t in;
		const char *want;
	} sizes[] = {
		{ 0, "0 B" },
		{ 512, "512 B" },
		{ 1023, "1023 B" },
		{ 1024, "1.00 KiB" },
		{ 1536, "1.50 KiB" },
		{ 64 << 10, "64.0 KiB" },
		{ 100 << 10, "100 KiB" },
		{ 1048575, "1.00 MiB" },
		{ 8 << 20, "8.00 MiB" },
		{ 1ull << 30, "1.00 GiB" },
		{ 3ull << 40, "3.00 TiB" },
		{ UINT64_MAX, "16.0 EiB" },
	};
	static const struct {
		double in;
		const char *want;
	} rates[] = {
		{ 0, "0.00 B/s" },
		{ 512, "512 B/s" },
		{ 1000, "1.00 kB/s" },
		{ 2.51e9, "2.51 GB/s" },
		{ 12.34e6, "12.3 MB/s" },
		{ 999.9e6, "1.00 GB/s" },
		{ 125e9, "125 GB/s" },
		{ -1, "- B/s" },
	};
	char buf[32], tiny[4];

	for (size_t i = 0; i < ARRAY_LEN(sizes); i++)
		is_str(ms_format_size(sizes[i].in, buf, sizeof(buf)), sizes[i].want,
		       "format_size(%llu)", (unsigned long long)sizes[i].in);
	for (size_t i = 0; i < ARRAY_LEN(rates); i++)
		is_str(ms_format_rate(rates[i].in, buf, sizeof(buf)), rates[i].want,
		       "format_rate(%g)", rates[i].in);
	ok(ms_format_size(1ull << 30, tiny, sizeof(tiny)) == tiny && strlen(tiny) == 3,
	   "format_size truncates to the buffer");
	ok(ms_format_rate(2.51e9, tiny, sizeof(tiny)) == tiny && strlen(tiny) == 3,
	   "format_rate truncates to the buffer");
}

int main(void)
{
	test_parse();
	test_format();
	return tap_done();
}
