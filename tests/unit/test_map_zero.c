/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_map_zero.c - zero chunks in lazy maps (issue 13, item 1): an
 * in-process server on 127.0.0.1 exports a 4 MiB region (64 KiB chunks)
 * where chunks 1, 5, 9, ... hold data and the others are zero.  On both
 * paths (zero-copy, copy): faults on the zero chunks read no byte from
 * the server (its bytes_read), the data chunks exactly their bytes; a
 * chunk that was zero when the map opened and holds data now reads its
 * data; a prefetch of the whole region reads only the data chunks; a
 * writable map whose application zeroes a data chunk pushes it with no
 * byte sent and the server's chunk is zero after.  Every case ends with
 * the mapping compared to the server's region byte for byte.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "memsync.h"
#include "tap.h"
#include "fixture.h"

#define CHUNK (64u << 10)
#define NCH 64u
#define SIZE ((uint64_t)NCH * CHUNK)
#define NDATA (NCH / 4)

static const struct fx_region regs[] = {
	{ .name = "z", .size = SIZE, .chunk_size = CHUNK, .no_mlock = true },
};
static struct fx_server f;
static uint8_t *mem;

static bool is_data(uint64_t c)
{
	return c % 4 == 1;
}

/* the region: data in chunks 1, 5, ..., zeros elsewhere, committed */
static void reset_region(uint64_t seed)
{
	uint64_t st = seed;

	for (uint64_t c = 0; c < NCH; c++) {
		if (is_data(c))
			fx_fill(mem + c * CHUNK, CHUNK, &st);
		else
			memset(mem + c * CHUNK, 0, CHUNK);
	}
	if (ms_export_commit(f.e[0], 0, SIZE))
		tap_bail("commit");
}

static struct ms_region_stat stat_z(void)
{
	struct ms_region_stat *st = NULL, s;
	size_t n = 0;

	if (ms_server_stat(f.s, "z", &st, &n) || n != 1)
		tap_bail("stat");
	s = st[0];
	free(st);
	return s;
}

static ms_map *map_z(const struct ms_map_opts *mo)
{
	struct ms_client_opts co = { .opts_size = sizeof(co), .transport = MS_TRANSPORT_TCP,
				     .timeout_ms = 10000 };
	char err[512];
	ms_map *m = ms_map_open("127.0.0.1", f.port, "z", &co, mo, err, sizeof(err));

	if (!m)
		tap_bail("ms_map_open: %s", err);
	return m;
}

/* Read every byte of chunk c through the mapping (a volatile walk: the
 * faults happen here), then compare it with the server's. */
static bool read_chunk(const uint8_t *a, uint64_t c)
{
	const volatile uint8_t *p = a + c * CHUNK;
	uint64_t sum = 0;

	for (uint64_t i = 0; i < CHUNK; i += 512)
		sum += p[i];
	(void)sum;
	return memcmp(a + c * CHUNK, mem + c * CHUNK, CHUNK) == 0;
}

static void test_faults(bool copy)
{
	struct ms_map_opts mo = { .opts_size = sizeof(mo), .no_prefetch = true,
				  .path = copy ? MS_MAP_PATH_COPY : MS_MAP_PATH_ZERO_COPY };
	const char *what = copy ? "copy" : "zero-copy";
	uint64_t b0, b1, b2, st = 0x5eed;
	bool same = true;
	ms_map *m;
	uint8_t *a;

	reset_region(7 + copy);
	m = map_z(&mo);
	a = ms_map_addr(m);
	/* chunk 2 was zero when the map opened; data now */
	fx_fill(mem + 2 * CHUNK, CHUNK, &st);
	if (ms_export_commit(f.e[0], 2 * CHUNK, CHUNK))
		tap_bail("commit");
	b0 = stat_z().bytes_read;
	for (uint64_t c = 0; c < NCH; c++)
		if (!is_data(c) && c != 2)
			same &= read_chunk(a, c);
	b1 = stat_z().bytes_read;
	ok(same, "%s: the zero chunks read through the mapping equal the server's", what);
	is_int(b1 - b0, 0, "%s: faults on %u zero chunks read no byte from the server", what,
	       NCH - NDATA - 1);
	same = read_chunk(a, 2);
	for (uint64_t c = 0; c < NCH; c++)
		if (is_data(c))
			same &= read_chunk(a, c);
	b2 = stat_z().bytes_read;
	ok(same, "%s: the data chunks and the chunk that became data read the server's bytes",
	   what);
	is_int(b2 - b1, (NDATA + 1) * (uint64_t)CHUNK, "%s: they read exactly their bytes", what);
	ok(memcmp(a, mem, SIZE) == 0, "%s: the mapping equals the region byte for byte", what);
	ms_map_close(m);
}

static void test_prefetch(bool copy)
{
	struct ms_map_opts mo = { .opts_size = sizeof(mo),
				  .path = copy ? MS_MAP_PATH_COPY : MS_MAP_PATH_ZERO_COPY };
	const char *what = copy ? "copy" : "zero-copy";
	uint64_t b0;
	ms_map *m;
	int ret;

	reset_region(11 + copy);
	b0 = stat_z().bytes_read;
	m = map_z(&mo);
	ret = ms_map_wait(m, 20000);
	is_int(ret, 0, "%s: the prefetch completes: %s", what, ret ? ms_map_errmsg(m) : "ok");
	is_int(stat_z().bytes_read - b0, NDATA * (uint64_t)CHUNK,
	       "%s: the prefetch read only the %u data chunks", what, NDATA);
	ok(memcmp(ms_map_addr(m), mem, SIZE) == 0,
	   "%s: after the prefetch the mapping equals the region byte for byte", what);
	ms_map_close(m);
}

static void test_push(bool copy)
{
	struct ms_map_opts mo = { .opts_size = sizeof(mo), .writable = true, .no_prefetch = true,
				  .path = copy ? MS_MAP_PATH_COPY : MS_MAP_PATH_ZERO_COPY };
	const char *what = copy ? "copy" : "zero-copy";
	struct ms_map_sync_stats ss;
	struct ms_region_stat s0, s1;
	uint8_t zero[CHUNK] = { 0 };
	ms_map *m;
	uint8_t *a;
	int ret;

	reset_region(13 + copy);
	m = map_z(&mo);
	a = ms_map_addr(m);
	if (!read_chunk(a, 5) || !read_chunk(a, 9))
		tap_bail("%s: data chunks differ", what);
	memset(a + 5 * CHUNK, 0, CHUNK);          /* a data chunk zeroed */
	a[9 * CHUNK + 100] ^= 0x5a;               /* one page of another */
	s0 = stat_z();
	ret = ms_map_sync(m, &ss);
	is_int(ret, 0, "%s: sync: %s", what, ret ? ms_map_errmsg(m) : "ok");
	s1 = stat_z();
	is_int(ss.chunks_pushed, 2, "%s: two chunks pushed", what);
	is_int(ss.bytes, 4096, "%s: only the written page of the data chunk is sent", what);
	is_int(s1.bytes_written - s0.bytes_written, 4096,
	       "%s: the server received no byte of the zeroed chunk", what);
	ok(memcmp(mem + 5 * CHUNK, zero, CHUNK) == 0, "%s: the server's chunk is zero", what);
	ok(memcmp(a, mem, SIZE) == 0, "%s: the mapping equals the region byte for byte", what);
	ms_map_close(m);
}

int main(void)
{
	fx_server_up(&f, regs, 1, FX_SEED);
	mem = f.mem[0];
	for (int copy = 0; copy < 2; copy++) {
		test_faults(copy);
		test_prefetch(copy);
		test_push(copy);
	}
	is_int(fx_warnings(&f), 0, "no server warnings");
	fx_server_down(&f);
	return tap_done();
}
