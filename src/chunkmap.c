/* SPDX-License-Identifier: Apache-2.0 */
/*
 * chunkmap.c - a bitmap with one bit per chunk, scanned a 64-bit word at a
 * time: regions have millions of chunks and the schedulers walk these maps
 * on every pull/push, so finding runs must not cost one test per bit.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "chunkmap.h"

#define WORD_BITS 64u

static uint64_t nwords(uint64_t nbits)
{
	return nbits / WORD_BITS + (nbits % WORD_BITS != 0);
}

int ms_chunkmap_init(struct ms_chunkmap *m, uint64_t nbits)
{
	uint64_t nw = nwords(nbits);

	m->nbits = nbits;
	m->words = NULL;
	if (nw > SIZE_MAX / sizeof(uint64_t))
		return -ENOMEM;
	/* calloc(0) may return NULL; keep a valid pointer for empty maps */
	m->words = calloc(nw ? nw : 1, sizeof(uint64_t));
	if (!m->words) {
		m->nbits = 0;
		return -ENOMEM;
	}
	return 0;
}

void ms_chunkmap_free(struct ms_chunkmap *m)
{
	free(m->words);
	m->words = NULL;
	m->nbits = 0;
}

void ms_chunkmap_set(struct ms_chunkmap *m, uint64_t i)
{
	if (i < m->nbits)
		m->words[i / WORD_BITS] |= 1ull << (i % WORD_BITS);
}

void ms_chunkmap_clear(struct ms_chunkmap *m, uint64_t i)
{
	if (i < m->nbits)
		m->words[i / WORD_BITS] &= ~(1ull << (i % WORD_BITS));
}

bool ms_chunkmap_test(const struct ms_chunkmap *m, uint64_t i)
{
	if (i >= m->nbits)
		return false;
	return (m->words[i / WORD_BITS] >> (i % WORD_BITS)) & 1;
}

/* Bits [lo, hi) of one word set, 0 <= lo < hi <= 64. */
static uint64_t word_mask(unsigned lo, unsigned hi)
{
	uint64_t upper = hi == WORD_BITS ? ~0ull : (1ull << hi) - 1;

	return upper & ~((1ull << lo) - 1);
}

void ms_chunkmap_set_range(struct ms_chunkmap *m, uint64_t first, uint64_t n)
{
	uint64_t end;

	if (first >= m->nbits || n == 0)
		return;
	end = n > m->nbits - first ? m->nbits : first + n;

	uint64_t w0 = first / WORD_BITS, w1 = (end - 1) / WORD_BITS;
	unsigned lo = first % WORD_BITS, hi = (unsigned)((end - 1) % WORD_BITS) + 1;

	if (w0 == w1) {
		m->words[w0] |= word_mask(lo, hi);
		return;
	}
	m->words[w0] |= word_mask(lo, WORD_BITS);
	for (uint64_t w = w0 + 1; w < w1; w++)
		m->words[w] = ~0ull;
	m->words[w1] |= word_mask(0, hi);
}

void ms_chunkmap_clear_all(struct ms_chunkmap *m)
{
	memset(m->words, 0, nwords(m->nbits) * sizeof(uint64_t));
}

uint64_t ms_chunkmap_count(const struct ms_chunkmap *m)
{
	uint64_t nw = nwords(m->nbits), c = 0;

	/* set() and set_range() never touch bits >= nbits, so the tail of the
	 * last word is always clear and needs no masking */
	for (uint64_t w = 0; w < nw; w++)
		c += (uint64_t)__builtin_popcountll(m->words[w]);
	return c;
}

/* Index of the first set bit at or after i, or nbits if none. */
static uint64_t find_set(const struct ms_chunkmap *m, uint64_t i)
{
	uint64_t nw = nwords(m->nbits), w = i / WORD_BITS;
	uint64_t x;

	if (i >= m->nbits)
		return m->nbits;
	x = m->words[w] & (~0ull << (i % WORD_BITS));
	while (!x) {
		if (++w >= nw)
			return m->nbits;
		x = m->words[w];
	}
	i = w * WORD_BITS + (uint64_t)__builtin_ctzll(x);
	return i < m->nbits ? i : m->nbits;
}

/* Index of the first clear bit at or after i, or nbits if none. */
static uint64_t find_clear(const struct ms_chunkmap *m, uint64_t i)
{
	uint64_t nw = nwords(m->nbits), w = i / WORD_BITS;
	uint64_t x;

	if (i >= m->nbits)
		return m->nbits;
	x = ~m->words[w] & (~0ull << (i % WORD_BITS));
	while (!x) {
		if (++w >= nw)
			return m->nbits;
		x = ~m->words[w];
	}
	i = w * WORD_BITS + (uint64_t)__builtin_ctzll(x);
	return i < m->nbits ? i : m->nbits;
}

bool ms_chunkmap_next_run(const struct ms_chunkmap *m, uint64_t *pos,
			  uint64_t *start, uint64_t *len, uint64_t max_run)
{
	uint64_t s = find_set(m, *pos), e;

	if (s >= m->nbits) {
		*pos = m->nbits;
		return false;
	}
	/* Bound the search for the end of the run by the cap, so a capped
	 * scan over a fully set map does not walk to its end each time. */
	if (max_run && max_run < m->nbits - s) {
		struct ms_chunkmap capped = { .nbits = s + max_run, .words = m->words };

		e = find_clear(&capped, s);
	} else {
		e = find_clear(m, s);
	}
	*start = s;
	*len = e - s;
	*pos = e;
	return true;
}

bool ms_chunkmap_any(const struct ms_chunkmap *m, uint64_t first, uint64_t n)
{
	/* the search stops at the end of the range, not of the map */
	struct ms_chunkmap capped = { .nbits = m->nbits - first > n ? first + n : m->nbits,
				      .words = m->words };

	return first < m->nbits && find_set(&capped, first) < capped.nbits;
}

void ms_chunk_span(uint64_t off, uint64_t len, uint32_t cs, uint64_t *first,
		   uint64_t *n)
{
	/* (off + len - 1) / cs - off / cs + 1, without computing off + len,
	 * which may wrap for a range that ends at 2^64: with len - 1 = q*cs + t
	 * and r = off % cs, the span is q + 1, plus one if r + t crosses a
	 * chunk boundary. */
	uint64_t r = off % cs, q = (len - 1) / cs, t = (len - 1) % cs;

	*first = off / cs;
	*n = q + 1 + (r + t >= cs);
}
