/* SPDX-License-Identifier: Apache-2.0 */
/*
 * gen.h - seeded generated data for the CLI's demo and map commands: a
 * xorshift64* stream and "change some pages" over a buffer, so every run
 * with the same options changes the same bytes.
 */
#ifndef MS_CLI_GEN_H
#define MS_CLI_GEN_H

#include <stdint.h>

/* xorshift64*: fast, good enough for test data, and never yields 0 (for a
 * non-zero state), so XOR-ing its output into a word always changes it. */
uint64_t gen_next(uint64_t *state);

/* Change `want` distinct pages of buf (size bytes, page-sized pages),
 * chosen uniformly by selection sampling (Knuth's algorithm S: one pass,
 * in page order, no table) from a stream seeded with seed; every word of
 * a chosen page is XOR-ed with the stream.  Returns the number of distinct
 * chunks the changed pages touch. */
uint64_t gen_dirty_pages(uint8_t *buf, uint64_t size, uint64_t page, uint32_t chunk,
			 uint64_t want, uint64_t seed);

#endif /* MS_CLI_GEN_H */
