/* SPDX-License-Identifier: Apache-2.0 */
/* test_bigbuf.c - large anonymous buffers: sizes, 2 MiB alignment, zeroed
 * and usable memory, the huge page advice where the kernel offers
 * transparent huge pages, and freeing. */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "bigbuf.h"
#include "tap.h"

#define MIB ((size_t)1 << 20)

/* THP compiled in and not switched off */
static bool thp_available(void)
{
	char line[128] = "";
	FILE *f = fopen("/sys/kernel/mm/transparent_hugepage/enabled", "r");

	if (!f)
		return false;
	if (!fgets(line, sizeof(line), f))
		line[0] = '\0';
	fclose(f);
	return line[0] && !strstr(line, "[never]");
}

/* The VmFlags of the mapping that starts at p ("" if not found). */
static void vm_flags(const void *p, char *out, size_t outlen)
{
	char line[512], want[32];
	bool in = false;
	FILE *f = fopen("/proc/self/smaps", "r");

	snprintf(out, outlen, "%s", "");
	if (!f)
		return;
	snprintf(want, sizeof(want), "%lx-", (unsigned long)(uintptr_t)p);
	while (fgets(line, sizeof(line), f)) {
		unsigned long a, b;

		if (sscanf(line, "%lx-%lx", &a, &b) == 2)   /* a mapping's first line */
			in = strncmp(line, want, strlen(want)) == 0;
		else if (in && strncmp(line, "VmFlags:", 8) == 0) {
			snprintf(out, outlen, "%.200s", line + 8);
			break;
		}
	}
	fclose(f);
}

/* Every page of [p, p+len) is mapped (mincore succeeds on mapped ranges
 * only, ENOMEM elsewhere). */
static bool mapped(void *p, size_t len)
{
	unsigned char vec[1024];
	size_t pg = (size_t)sysconf(_SC_PAGESIZE);

	for (size_t off = 0; off < len; off += pg * sizeof(vec)) {
		size_t n = len - off < pg * sizeof(vec) ? len - off : pg * sizeof(vec);

		if (mincore((uint8_t *)p + off, n, vec))
			return false;
	}
	return true;
}

static void test_len(void)
{
	size_t pg = (size_t)sysconf(_SC_PAGESIZE);

	is_int(ms_bigbuf_len(1), pg, "len: 1 byte takes a page");
	is_int(ms_bigbuf_len(pg + 1), 2 * pg, "len: rounded up to pages below 2 MiB");
	is_int(ms_bigbuf_len(2 * MIB), 2 * MIB, "len: 2 MiB exactly");
	is_int(ms_bigbuf_len(3 * MIB), 4 * MIB, "len: rounded up to 2 MiB from 2 MiB on");
	is_int(ms_bigbuf_len(64 * MIB), 64 * MIB, "len: 64 MiB exactly");
}

static void test_bad(void)
{
	errno = 0;
	ok(ms_bigbuf_alloc(0, 0, NULL) == NULL && errno == EINVAL, "alloc of 0 bytes: EINVAL");
	ms_bigbuf_free(NULL, 4096);   /* nothing; must not crash */
	ok(1, "free of NULL does nothing");
}

/* One size: aligned, zeroed, writable to the last byte, the advice taken
 * when THP is there, and gone after free. */
static void test_size(size_t len, unsigned flags)
{
	bool huge = true, all_zero = true, pattern = true;
	size_t full = ms_bigbuf_len(len);
	uint8_t *p = ms_bigbuf_alloc(len, flags, &huge);
	char fl[256];

	if (!ok(p != NULL, "alloc %zu bytes (flags %u)", len, flags))
		return;
	if (len >= MS_BIGBUF_HUGE) {
		ok(((uintptr_t)p & (MS_BIGBUF_HUGE - 1)) == 0, "%zu bytes: 2 MiB aligned", len);
		vm_flags(p, fl, sizeof(fl));
		if (thp_available()) {
			ok(huge, "%zu bytes: MADV_HUGEPAGE accepted", len);
			ok(strstr(fl, " hg") != NULL, "%zu bytes: the mapping is marked hg (%s)",
			   len, fl);
		} else {
			ok(!huge, "%zu bytes: no THP, no advice reported", len);
			tap_skip("%zu bytes: hg flag: transparent huge pages not available", len);
		}
	} else {
		ok(!huge, "%zu bytes: below 2 MiB no huge page advice", len);
	}
	ok(mapped(p, full), "%zu bytes: all %zu bytes mapped", len, full);
	for (size_t i = 0; i < full; i += 4093)
		if (p[i])
			all_zero = false;
	ok(all_zero && p[full - 1] == 0, "%zu bytes: zeroed", len);
	for (size_t i = 0; i < full; i++)
		p[i] = (uint8_t)(i * 131 + 7);
	for (size_t i = 0; i < full; i++)
		if (p[i] != (uint8_t)(i * 131 + 7))
			pattern = false;
	ok(pattern, "%zu bytes: every byte written reads back", len);
	ms_bigbuf_free(p, len);
	ok(!mapped(p, full), "%zu bytes: unmapped after free", len);
}

int main(void)
{
	test_len();
	test_bad();
	test_size(100, 0);
	test_size(1 * MIB, MS_BIGBUF_POPULATE);
	test_size(2 * MIB, MS_BIGBUF_POPULATE);
	test_size(3 * MIB + 5, 0);
	test_size(64 * MIB, MS_BIGBUF_POPULATE);
	return tap_done();
}
