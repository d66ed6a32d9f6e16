/* SPDX-License-Identifier: Apache-2.0 */
/* test_chunkmap.c - the chunk bitmap and byte-range to chunk-range math. */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>

#include "chunkmap.h"
#include "tap.h"
#include "fixture.h"

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* xorshift64*, so the random maps are the same on every run */
static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static uint64_t rnd(void)
{
	return fx_next_star(&rng_state);
}

/* The obvious bit-by-bit next_run, to check the word-at-a-time one. */
static bool ref_next_run(const bool *bits, uint64_t nbits, uint64_t *pos, uint64_t *start,
			 uint64_t *len, uint64_t max_run)
{
	uint64_t i = *pos, n = 0;

	while (i < nbits && !bits[i])
		i++;
	if (i >= nbits)
		return false;
	*start = i;
	while (i < nbits && bits[i] && (max_run == 0 || n < max_run)) {
		i++;
		n++;
	}
	*len = n;
	*pos = i;
	return true;
}

/* Walk both implementations over the whole map; true when they agree. */
static bool runs_agree(const struct ms_chunkmap *m, const bool *bits, uint64_t max_run)
{
	uint64_t p1 = 0, p2 = 0, s1 = 0, s2 = 0, l1 = 0, l2 = 0;

	for (uint64_t guard = 0; guard <= m->nbits + 1; guard++) {
		bool r1 = ms_chunkmap_next_run(m, &p1, &s1, &l1, max_run);
		bool r2 = ref_next_run(bits, m->nbits, &p2, &s2, &l2, max_run);

		if (r1 != r2) {
			diag("next_run returned %d, reference %d (pos %llu)", r1, r2,
			     (unsigned long long)p2);
			return false;
		}
		if (!r1)
			return true;
		if (s1 != s2 || l1 != l2 || p1 != p2) {
			diag("run (%llu,%llu) pos %llu, reference (%llu,%llu) pos %llu",
			     (unsigned long long)s1, (unsigned long long)l1,
			     (unsigned long long)p1, (unsigned long long)s2,
			     (unsigned long long)l2, (unsigned long long)p2);
			return false;
		}
	}
	diag("next_run did not terminate");
	return false;
}

static void test_basic(void)
{
	struct ms_chunkmap m;
	uint64_t pos = 0, s, l;

	is_int(ms_chunkmap_init(&m, 0), 0, "init with 0 bits");
	is_int(ms_chunkmap_count(&m), 0, "empty map counts 0");
	ok(!ms_chunkmap_next_run(&m, &pos, &s, &l, 0), "empty map has no run");
	ms_chunkmap_set(&m, 0);
	is_int(ms_chunkmap_count(&m), 0, "set beyond nbits is ignored");
	ms_chunkmap_free(&m);

	is_int(ms_chunkmap_init(&m, 130), 0, "init with 130 bits");
	is_int(ms_chunkmap_count(&m), 0, "starts clear");
	ms_chunkmap_set(&m, 0);
	ms_chunkmap_set(&m, 63);
	ms_chunkmap_set(&m, 64);
	ms_chunkmap_set(&m, 129);
	ms_chunkmap_set(&m, 130); /* out of range */
	ms_chunkmap_set(&m, UINT64_MAX);
	is_int(ms_chunkmap_count(&m), 4, "four bits set, out-of-range sets ignored");
	ok(ms_chunkmap_test(&m, 63) && ms_chunkmap_test(&m, 64) && ms_chunkmap_test(&m, 129),
	   "set bits test true");
	ok(!ms_chunkmap_test(&m, 1) && !ms_chunkmap_test(&m, 130) &&
		   !ms_chunkmap_test(&m, UINT64_MAX),
	   "clear and out-of-range bits test false");
	ms_chunkmap_clear(&m, 63);
	ms_chunkmap_clear(&m, 500);
	ok(!ms_chunkmap_test(&m, 63) && ms_chunkmap_test(&m, 64), "clear clears one bit");
	is_int(ms_chunkmap_count(&m), 3, "count after clear");

	pos = 0;
	ok(ms_chunkmap_next_run(&m, &pos, &s, &l, 0) && s == 0 && l == 1 && pos == 1,
	   "first run is bit 0");
	ok(ms_chunkmap_next_run(&m, &pos, &s, &l, 0) && s == 64 && l == 1 && pos == 65,
	   "second run is bit 64");
	ok(ms_chunkmap_next_run(&m, &pos, &s, &l, 0) && s == 129 && l == 1 && pos == 130,
	   "third run is the last bit");
	ok(!ms_chunkmap_next_run(&m, &pos, &s, &l, 0), "then no more runs");
	pos = 1000;
	ok(!ms_chunkmap_next_run(&m, &pos, &s, &l, 0), "pos beyond nbits finds nothing");

	ms_chunkmap_clear_all(&m);
	is_int(ms_chunkmap_count(&m), 0, "clear_all");
	ms_chunkmap_free(&m);
	ok(m.words == NULL && m.nbits == 0, "free resets the map");
}

static void test_set_range(void)
{
	struct ms_chunkmap m;
	uint64_t pos, s, l;

	ms_chunkmap_init(&m, 200);
	ms_chunkmap_set_range(&m, 10, 5);
	is_int(ms_chunkmap_count(&m), 5, "set_range inside a word");
	ok(!ms_chunkmap_test(&m, 9) && ms_chunkmap_test(&m, 10) && ms_chunkmap_test(&m, 14) &&
		   !ms_chunkmap_test(&m, 15),
	   "set_range sets exactly [10,15)");
	ms_chunkmap_clear_all(&m);
	ms_chunkmap_set_range(&m, 60, 80);
	is_int(ms_chunkmap_count(&m), 80, "set_range across three words");
	pos = 0;
	ok(ms_chunkmap_next_run(&m, &pos, &s, &l, 0) && s == 60 && l == 80,
	   "one run [60,140)");
	ms_chunkmap_clear_all(&m);
	ms_chunkmap_set_range(&m, 190, 100);
	is_int(ms_chunkmap_count(&m), 10, "set_range clipped at nbits");
	ms_chunkmap_set_range(&m, 100, UINT64_MAX);
	is_int(ms_chunkmap_count(&m), 100, "set_range with a huge n does not wrap");
	ms_chunkmap_clear_all(&m);
	ms_chunkmap_set_range(&m, 200, 5);
	ms_chunkmap_set_range(&m, UINT64_MAX, 5);
	ms_chunkmap_set_range(&m, 5, 0);
	is_int(ms_chunkmap_count(&m), 0, "empty or out-of-range set_range is a no-op");
	ms_chunkmap_set_range(&m, 0, 200);
	is_int(ms_chunkmap_count(&m), 200, "set_range of everything");
	pos = 0;
	ok(ms_chunkmap_next_run(&m, &pos, &s, &l, 0) && s == 0 && l == 200 && pos == 200,
	   "one run of everything, pos at nbits");
	ms_chunkmap_free(&m);

	ms_chunkmap_init(&m, 128);
	ms_chunkmap_set_range(&m, 0, 128);
	is_int(ms_chunkmap_count(&m), 128, "set_range of exactly two words");
	ms_chunkmap_free(&m);
}

static void test_max_run(void)
{
	struct ms_chunkmap m;
	uint64_t pos = 0, s, l, runs = 0, total = 0;
	bool good = true;

	ms_chunkmap_init(&m, 1000);
	ms_chunkmap_set_range(&m, 0, 1000);
	while (ms_chunkmap_next_run(&m, &pos, &s, &l, 100) && runs < 100) {
		good = good && s == runs * 100 && l == 100;
		runs++;
		total += l;
	}
	ok(good && runs == 10 && total == 1000, "max_run 100 cuts 1000 bits into 10 runs");
	pos = 0;
	ok(ms_chunkmap_next_run(&m, &pos, &s, &l, 1) && s == 0 && l == 1 && pos == 1,
	   "max_run 1");
	pos = 995;
	ok(ms_chunkmap_next_run(&m, &pos, &s, &l, 100) && s == 995 && l == 5 && pos == 1000,
	   "max_run larger than what is left");
	ms_chunkmap_free(&m);
}

static void test_random(void)
{
	static const uint64_t sizes[] = { 1, 63, 64, 65, 127, 128, 129, 1000, 4097 };
	static const uint64_t caps[] = { 0, 1, 3, 64, 65, 200 };
	bool all = true;
	int maps = 0;

	for (size_t si = 0; si < ARRAY_LEN(sizes); si++) {
		for (int density = 0; density < 4; density++) {
			uint64_t n = sizes[si], cnt = 0;
			struct ms_chunkmap m;
			bool *bits = calloc(n, sizeof(bool));

			if (!bits || ms_chunkmap_init(&m, n))
				tap_bail("out of memory");
			for (uint64_t i = 0; i < n; i++) {
				/* densities: sparse, half, dense, long runs */
				uint64_t x = rnd() % 16;
				bool b = density == 0   ? x == 0
					 : density == 1 ? x < 8
					 : density == 2 ? x != 0
							: (i / 37) % 2 == 0;

				if (b) {
					bits[i] = true;
					ms_chunkmap_set(&m, i);
					cnt++;
				}
			}
			all = all && ms_chunkmap_count(&m) == cnt;
			for (size_t ci = 0; ci < ARRAY_LEN(caps); ci++)
				all = all && runs_agree(&m, bits, caps[ci]);
			for (uint64_t i = 0; i < n; i++)
				all = all && ms_chunkmap_test(&m, i) == bits[i];
			ms_chunkmap_free(&m);
			free(bits);
			maps++;
		}
	}
	ok(all, "next_run, count and test match a bit-by-bit reference on %d random maps",
	   maps);
}

static void test_span(void)
{
	uint64_t f, n;
	bool all = true;

	ms_chunk_span(0, 1, 4096, &f, &n);
	ok(f == 0 && n == 1, "span of one byte");
	ms_chunk_span(0, 4096, 4096, &f, &n);
	ok(f == 0 && n == 1, "span of exactly one chunk");
	ms_chunk_span(4095, 2, 4096, &f, &n);
	ok(f == 0 && n == 2, "two bytes across a boundary");
	ms_chunk_span(4096, 4097, 4096, &f, &n);
	ok(f == 1 && n == 2, "chunk plus one byte");
	ms_chunk_span(100, 3 * 65536, 65536, &f, &n);
	ok(f == 0 && n == 4, "unaligned three chunks touch four");
	ms_chunk_span(UINT64_MAX - 4095, 4096, 4096, &f, &n);
	ok(f == (UINT64_MAX >> 12) && n == 1, "last chunk of the address space, no overflow");
	ms_chunk_span(0, UINT64_MAX, 1u << 24, &f, &n);
	ok(f == 0 && n == (1ull << 40), "whole address space in 16 MiB chunks");

	for (int i = 0; i < 10000; i++) {
		uint32_t cs = 4096u << (rnd() % 13);
		uint64_t off = rnd() % (1ull << 40), len = 1 + rnd() % (1ull << 30);
		uint64_t ef = off / cs, en = (off + len - 1) / cs - ef + 1;

		ms_chunk_span(off, len, cs, &f, &n);
		all = all && f == ef && n == en;
	}
	ok(all, "span matches (off+len-1)/cs - off/cs + 1 on random ranges");
}

/* ms_chunkmap_any against a bit-by-bit check, ranges crossing words, the
 * end of the map and beyond it. */
static void test_any(void)
{
	struct ms_chunkmap m;
	const uint64_t nbits = 300;
	bool bits[300] = { 0 };
	int bad = 0;

	if (ms_chunkmap_init(&m, nbits))
		tap_bail("out of memory");
	ok(!ms_chunkmap_any(&m, 0, nbits), "any: an empty map has no bit set");
	for (uint64_t i = 7; i < nbits; i += 61) {
		ms_chunkmap_set(&m, i);
		bits[i] = true;
	}
	for (uint64_t f = 0; f < nbits + 5; f++)
		for (uint64_t n = 0; n < 140; n += 3) {
			bool want = false;

			for (uint64_t i = f; i < f + n && i < nbits; i++)
				want = want || bits[i];
			bad += ms_chunkmap_any(&m, f, n) != want;
		}
	is_int(bad, 0, "any: every range agrees with a bit-by-bit check");
	ok(!ms_chunkmap_any(&m, 8, 60) && ms_chunkmap_any(&m, 8, 61),
	   "any: the range ends where it says");
	ok(!ms_chunkmap_any(&m, nbits, 10) && !ms_chunkmap_any(&m, UINT64_MAX - 3, 10),
	   "any: ranges at or past the end (or wrapping) find nothing");
	ms_chunkmap_free(&m);
}

int main(void)
{
	test_any();
	test_basic();
	test_set_range();
	test_max_run();
	test_random();
	test_span();
	return tap_done();
}
