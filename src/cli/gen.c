/* SPDX-License-Identifier: Apache-2.0 */
/* gen.c - seeded generated data for the CLI (see gen.h). */
#include "gen.h"

uint64_t gen_next(uint64_t *state)
{
	uint64_t x = *state;

	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	*state = x;
	return x * 0x2545f4914f6cdd1dull;
}

uint64_t gen_dirty_pages(uint8_t *buf, uint64_t size, uint64_t page, uint32_t chunk,
			 uint64_t want, uint64_t seed)
{
	uint64_t npages = size / page, chunks = 0, last = UINT64_MAX;

	for (uint64_t p = 0; p < npages && want; p++) {
		uint64_t *w;

		if (gen_next(&seed) % (npages - p) >= want)
			continue;
		want--;
		w = (uint64_t *)(void *)(buf + p * page);
		for (uint64_t i = 0; i < page / sizeof(*w); i++)
			w[i] ^= gen_next(&seed);
		/* a page may span several chunks when pages are larger */
		for (uint64_t c = p * page / chunk; c <= ((p + 1) * page - 1) / chunk; c++) {
			if (c != last)
				chunks++;
			last = c;
		}
	}
	return chunks;
}
