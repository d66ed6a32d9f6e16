/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_map_huge.c - lazy mappings on 2 MiB hugetlbfs pages
 * (ms_map_opts.huge, src/map_huge.c): an in-process server on 127.0.0.1
 * exports a 10 MiB region of 64 KiB chunks and a 6 MiB region of 4 MiB
 * chunks (its last chunk a 2 MiB tail), both pseudo-random.
 *
 * Always: huge pages asked for (MS_MAP_HUGE_ON) where they cannot be had
 * fail with the reason (a size that is no multiple of 2 MiB; too few free
 * huge pages when there are too few), and MS_MAP_HUGE_OFF says so.
 * As root, the test reserves a few huge pages (/proc/sys/vm/nr_hugepages,
 * put back at exit, also on SIGINT/SIGTERM) and checks: a fault maps the
 * whole 2 MiB page around it (every chunk of it local) and the bytes are
 * the server's, faults on 2 MiB boundaries and on either side of them, the
 * tail of the region, chunks larger than a huge page, the mapping on
 * 2 MiB kernel pages (smaps), prefetch to the end, the automatic choice,
 * and a byte-for-byte comparison of every mapping with the region.  Not
 * root, or the kernel would not give the pages: those checks are skipped
 * with the reason.  In the soft-RoCE guest (tests/rxe/run-tests sets
 * MS_RXE_ADDR) the server and the mappings use RDMA on that address, so
 * the chunks are READ into the hugetlbfs staging view by the NIC.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "memsync.h"
#include "tap.h"
#include "fixture.h"

#define MiB (1ull << 20)
#define HUGE (2 * MiB)
#define NR_PATH "/proc/sys/vm/nr_hugepages"
#define RESERVE 8     /* huge pages reserved: the 10 MiB region needs 5 */

static const struct fx_region regs[] = {
	{ .name = "h10", .size = 10 * MiB, .chunk_size = 64u << 10, .no_mlock = true },
	{ .name = "h6", .size = 6 * MiB, .chunk_size = 4u << 20, .no_mlock = true },
	{ .name = "odd", .size = 3 * MiB, .chunk_size = 64u << 10, .no_mlock = true },
};
static struct fx_server f;
static const char *host = "127.0.0.1";
static enum ms_transport_kind tk = MS_TRANSPORT_TCP;
static long nr_old = -1;      /* nr_hugepages before, to put back */

static long read_long(const char *path)
{
	long v = -1;
	FILE *fp = fopen(path, "r");

	if (!fp)
		return -1;
	if (fscanf(fp, "%ld", &v) != 1)
		v = -1;
	fclose(fp);
	return v;
}

static int write_long(const char *path, long v)
{
	FILE *fp = fopen(path, "w");
	int rc;

	if (!fp)
		return -errno;
	rc = fprintf(fp, "%ld\n", v) < 0 ? -EIO : 0;
	if (fclose(fp) && !rc)
		rc = -errno;
	return rc;
}

/* free 2 MiB huge pages not promised to a mapping */
static long huge_avail(void)
{
	const char *d = "/sys/kernel/mm/hugepages/hugepages-2048kB";
	char p[128];
	long fr, rs;

	snprintf(p, sizeof(p), "%s/free_hugepages", d);
	fr = read_long(p);
	snprintf(p, sizeof(p), "%s/resv_hugepages", d);
	rs = read_long(p);
	return fr < 0 ? 0 : fr - (rs > 0 ? rs : 0);
}

static void restore(void)
{
	if (nr_old >= 0)
		(void)write_long(NR_PATH, nr_old);
	nr_old = -1;
}

static void on_signal(int sig)
{
	restore();
	signal(sig, SIG_DFL);
	raise(sig);
}

/* Reserve RESERVE more huge pages; false (and why) when it cannot. */
static bool reserve(char *why, size_t whylen)
{
	long cur = read_long(NR_PATH);

	if (geteuid() != 0) {
		snprintf(why, whylen, "not root: cannot reserve huge pages in %s", NR_PATH);
		return false;
	}
	if (cur < 0) {
		snprintf(why, whylen, "no %s (a kernel without hugetlbfs)", NR_PATH);
		return false;
	}
	nr_old = cur;
	atexit(restore);
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	if (write_long(NR_PATH, cur + RESERVE) || huge_avail() < 5) {
		snprintf(why, whylen, "the kernel gave %ld of %d huge pages asked for (memory "
			 "too fragmented or too small)", read_long(NR_PATH) - cur, RESERVE);
		restore();
		return false;
	}
	diag("nr_hugepages %ld -> %ld (put back at exit)", cur, read_long(NR_PATH));
	return true;
}

static ms_map *map_of(const char *name, enum ms_map_huge huge, bool no_prefetch, char *err,
		      size_t errlen)
{
	struct ms_client_opts co = { .opts_size = sizeof(co), .transport = tk,
				     .timeout_ms = 5000 };
	struct ms_map_opts mo = { .opts_size = sizeof(mo), .huge = huge,
				  .no_prefetch = no_prefetch };

	return ms_map_open(host, f.port, name, &co, &mo, err, errlen);
}

static uint64_t nlocal(const ms_map *m)
{
	uint64_t n;

	ms_map_progress(m, &n, NULL);
	return n;
}

/* KernelPageSize (kB) of the mapping that starts at p, -1 if not found */
static long kernel_page_kb(const void *p)
{
	char line[512], want[32];
	bool in = false;
	long kb = -1;
	FILE *fp = fopen("/proc/self/smaps", "r");

	if (!fp)
		return -1;
	snprintf(want, sizeof(want), "%lx-", (unsigned long)(uintptr_t)p);
	while (fgets(line, sizeof(line), fp)) {
		unsigned long a, b;

		if (sscanf(line, "%lx-%lx", &a, &b) == 2)
			in = strncmp(line, want, strlen(want)) == 0;
		else if (in && sscanf(line, "KernelPageSize: %ld", &kb) == 1)
			break;
	}
	fclose(fp);
	return kb;
}

/* ------------------------------------------------ the reasons */

static void test_reasons(void)
{
	char err[512] = "";
	ms_map *m;
	long avail = huge_avail();

	errno = 0;
	m = map_of("odd", MS_MAP_HUGE_ON, false, err, sizeof(err));
	ok(!m && (errno == EINVAL || errno == EOPNOTSUPP),
	   "huge on, 3 MiB region: the map fails (errno %d)", errno);
	ok(strstr(err, "huge pages asked for") &&
	   (strstr(err, "not a multiple of 2 MiB") || strstr(err, "MINOR_HUGETLBFS")),
	   "and says why: %s", err);
	ms_map_close(m);

	m = map_of("h10", MS_MAP_HUGE_OFF, false, err, sizeof(err));
	if (ok(m != NULL, "huge off: mapped")) {
		ok(!ms_map_huge(m), "huge off: 4 KiB pages");
		is_str(ms_map_page_mode(m), "4 KiB pages: huge pages off", "huge off: the reason");
		ok(memcmp(ms_map_addr(m), f.mem[0], regs[0].size) == 0,
		   "huge off: the mapping equals the region byte for byte");
		ms_map_close(m);
	}

	if (avail >= 5) {
		tap_skip("huge on without huge pages: %ld are free on this machine", avail);
		return;
	}
	errno = 0;
	m = map_of("h10", MS_MAP_HUGE_ON, false, err, sizeof(err));
	ok(!m && (errno == ENOMEM || errno == EOPNOTSUPP),
	   "huge on, %ld free huge pages of 5 needed: the map fails (errno %d)", avail, errno);
	ok(strstr(err, "huge pages asked for") &&
	   (strstr(err, "nr_hugepages") || strstr(err, "MINOR_HUGETLBFS") ||
	    strstr(err, "no 2 MiB huge pages")), "and says why: %s", err);
	ms_map_close(m);
	m = map_of("h10", MS_MAP_HUGE_AUTO, false, err, sizeof(err));
	if (ok(m != NULL, "huge auto without huge pages: mapped on 4 KiB pages")) {
		ok(!ms_map_huge(m) && strncmp(ms_map_page_mode(m), "4 KiB pages: ", 13) == 0,
		   "auto: the reason is given: %s", ms_map_page_mode(m));
		ms_map_close(m);
	}
}

/* ------------------------------------------------ on huge pages */

/* 64 KiB chunks: a fault pulls its whole 2 MiB page, nothing else. */
static void test_faults(void)
{
	const uint8_t *mem = f.mem[0];
	const uint64_t size = regs[0].size, per = HUGE / regs[0].chunk_size;
	char err[512] = "";
	volatile uint8_t v;
	ms_map *m = map_of("h10", MS_MAP_HUGE_ON, true, err, sizeof(err));
	uint8_t *a;

	if (!ok(m != NULL, "huge on, no prefetch: mapped (%s)", err))
		return;
	a = ms_map_addr(m);
	ok(ms_map_huge(m) && ms_map_zero_copy(m), "on 2 MiB hugetlbfs pages (%s)",
	   ms_map_page_mode(m));
	is_int(((uintptr_t)a) % HUGE, 0, "the view starts on a 2 MiB boundary");
	is_int(nlocal(m), 0, "nothing local before the first touch");

	v = a[HUGE - 1];                     /* the last byte of page 0 */
	is_int(v, mem[HUGE - 1], "fault on the last byte before 2 MiB: the server's byte");
	is_int(nlocal(m), per, "that fault made exactly the %llu chunks of its 2 MiB local",
	       (unsigned long long)per);
	v = a[2 * HUGE];                     /* the first byte of page 2 */
	is_int(v, mem[2 * HUGE], "fault on a 2 MiB boundary: the server's byte");
	is_int(nlocal(m), 2 * per, "and its whole 2 MiB page became local");
	ok(memcmp(a + 2 * HUGE - 100, mem + 2 * HUGE - 100, 300) == 0 &&
	   nlocal(m) == 3 * per, "a read across a 2 MiB boundary pulls the page before it");
	v = a[size - 1];                     /* the tail */
	is_int(v, mem[size - 1], "fault on the region's last byte: the server's byte");
	ok(memcmp(a + size - HUGE, mem + size - HUGE, HUGE) == 0, "the last 2 MiB read back");
	is_int(nlocal(m), 4 * per, "four 2 MiB pages local, no more");
	is_int(kernel_page_kb(a), 2048, "the kernel maps the view with 2 MiB pages");
	ok(memcmp(a, mem, size) == 0, "the whole mapping equals the region byte for byte");
	is_int(nlocal(m), size / regs[0].chunk_size, "and every chunk is local");
	is_str(ms_map_errmsg(m), "", "no failure");
	ms_map_close(m);
}

/* 4 MiB chunks: one chunk is two huge pages; the last chunk is a 2 MiB
 * tail. */
static void test_big_chunks(void)
{
	const uint8_t *mem = f.mem[1];
	const uint64_t size = regs[1].size;
	char err[512] = "";
	volatile uint8_t v;
	ms_map *m = map_of("h6", MS_MAP_HUGE_ON, true, err, sizeof(err));
	uint8_t *a;

	if (!ok(m != NULL, "4 MiB chunks, huge on: mapped (%s)", err))
		return;
	a = ms_map_addr(m);
	v = a[size - HUGE];                  /* the tail chunk's first byte */
	is_int(v, mem[size - HUGE], "fault on the 2 MiB tail chunk: the server's byte");
	is_int(nlocal(m), 1, "only the tail chunk is local");
	ok(memcmp(a + size - HUGE, mem + size - HUGE, HUGE) == 0, "the tail reads back");
	v = a[HUGE + 5];                     /* the second huge page of chunk 0 */
	is_int(v, mem[HUGE + 5], "fault in the second 2 MiB of a 4 MiB chunk");
	is_int(nlocal(m), 2, "its chunk became local");
	ok(memcmp(a, mem, size) == 0, "the whole mapping equals the region byte for byte");
	ms_map_close(m);
}

/* Prefetch to the end, and the automatic choice. */
static void test_prefetch_auto(void)
{
	char err[512] = "";
	ms_map *m = map_of("h10", MS_MAP_HUGE_AUTO, false, err, sizeof(err));

	if (!ok(m != NULL, "huge auto with prefetch: mapped (%s)", err))
		return;
	ok(ms_map_huge(m), "auto chose huge pages with enough of them free (%s)",
	   ms_map_page_mode(m));
	is_int(ms_map_wait(m, 30000), 0, "prefetch made every chunk local");
	ok(memcmp(ms_map_addr(m), f.mem[0], regs[0].size) == 0,
	   "the prefetched mapping equals the region byte for byte");
	ms_map_close(m);
}

/* server's bytes_read of h10 */
static uint64_t h10_read(void)
{
	struct ms_region_stat *st = NULL;
	uint64_t b;
	size_t n = 0;

	if (ms_server_stat(f.s, "h10", &st, &n) || n != 1)
		tap_bail("stat h10");
	b = st[0].bytes_read;
	free(st);
	return b;
}

/* Zero chunks (issue 13, item 1): h10's first huge page zeroed on the
 * server; a fault there maps it without reading a byte of it (TCP: the
 * server counts every byte it serves), then the whole mapping reads as the
 * region. */
static void test_zero(void)
{
	uint8_t *mem = f.mem[0];
	char err[512];
	uint64_t b0;
	ms_map *m;

	memset(mem, 0, 2 * MiB);
	if (ms_export_commit(f.e[0], 0, 2 * MiB))
		tap_bail("commit h10");
	m = map_of("h10", MS_MAP_HUGE_ON, true, err, sizeof(err));
	if (!m) {
		ok(0, "zero chunks: huge mapping: %s", err);
		return;
	}
	b0 = h10_read();
	const volatile uint8_t *a = ms_map_addr(m);
	uint64_t sum = 0;

	for (uint64_t i = 0; i < 2 * MiB; i += 4096)
		sum += a[i];
	ok(sum == 0 && memcmp(ms_map_addr(m), mem, 2 * MiB) == 0,
	   "zero chunks: the zeroed huge page reads as the region");
	if (tk == MS_TRANSPORT_TCP)
		is_int(h10_read() - b0, 0, "zero chunks: the fault read no byte from the server");
	ok(memcmp(ms_map_addr(m), mem, 10 * MiB) == 0,
	   "zero chunks: the whole mapping equals the region byte for byte");
	ms_map_close(m);
}

int main(void)
{
	char why[256];

	const char *rxe = getenv("MS_RXE_ADDR");

	memset(&f, 0, sizeof(f));
	if (rxe && rxe[0]) {          /* in the soft-RoCE guest: over RDMA */
		host = rxe;
		tk = MS_TRANSPORT_RDMA;
		f.transport = MS_TRANSPORT_RDMA;
		f.host = rxe;
		diag("over RDMA on %s", rxe);
	}
	fx_server_up_with(&f, regs, 3, 0x51ed27a1c0ffee11ull);
	test_reasons();
	if (reserve(why, sizeof(why))) {
		test_faults();
		test_big_chunks();
		test_prefetch_auto();
		test_zero();
		restore();
	} else {
		tap_skip("hugetlbfs mappings: %s", why);
	}
	is_int(fx_warnings(&f), 0, "no server warnings");
	fx_server_down(&f);
	return tap_done();
}
