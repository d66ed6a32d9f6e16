/* SPDX-License-Identifier: Apache-2.0 */
/*
 * hash.c - XXH3-128 in canonical (big-endian) byte order, so that the 16
 * bytes mean the same thing on every host and on the wire, and the chunk
 * hash: a two-level tree of them over MS_LEAF blocks (see hash.h).
 */
#include <string.h>
#define XXH_STATIC_LINKING_ONLY /* XXH3_state_t on the stack */
#include <xxhash.h>

#include "hash.h"

void ms_hash128(const void *p, size_t len, uint8_t out[MS_HASH_LEN])
{
	XXH128_hash_t h = XXH3_128bits(p, len);
	XXH128_canonical_t c;

	_Static_assert(sizeof(c) == MS_HASH_LEN, "canonical XXH128 is 16 bytes");
	XXH128_canonicalFromHash(&c, h);
	memcpy(out, c.digest, MS_HASH_LEN);
}

static void canon(XXH128_hash_t h, uint8_t out[MS_HASH_LEN])
{
	XXH128_canonical_t c;

	XXH128_canonicalFromHash(&c, h);
	memcpy(out, c.digest, MS_HASH_LEN);
}

void ms_chunk_hash_leaves(const void *p, size_t len, uint8_t (*leaves)[MS_HASH_LEN],
			  uint8_t out[MS_HASH_LEN])
{
	const uint8_t *b = p;
	uint8_t leaf[MS_HASH_LEN];
	XXH3_state_t st;

	if (len <= MS_LEAF) {
		ms_hash128(p, len, out);
		if (leaves)
			memcpy(leaves[0], out, MS_HASH_LEN);
		return;
	}
	XXH3_128bits_reset(&st);
	for (size_t off = 0, i = 0; off < len; off += MS_LEAF, i++) {
		size_t n = len - off < MS_LEAF ? len - off : MS_LEAF;
		uint8_t *l = leaves ? leaves[i] : leaf;

		ms_hash128(b + off, n, l);
		XXH3_128bits_update(&st, l, MS_HASH_LEN);
	}
	canon(XXH3_128bits_digest(&st), out);
}

void ms_chunk_hash(const void *p, size_t len, uint8_t out[MS_HASH_LEN])
{
	ms_chunk_hash_leaves(p, len, NULL, out);
}

void ms_hash_from_leaves(const uint8_t (*leaves)[MS_HASH_LEN], size_t n,
			 uint8_t out[MS_HASH_LEN])
{
	if (n == 1)
		memcpy(out, leaves[0], MS_HASH_LEN);
	else
		ms_hash128(leaves, n * MS_HASH_LEN, out);
}

bool ms_hash_eq(const uint8_t a[MS_HASH_LEN], const uint8_t b[MS_HASH_LEN])
{
	return memcmp(a, b, MS_HASH_LEN) == 0;
}

void ms_hash_hex(const uint8_t h[MS_HASH_LEN], char out[2 * MS_HASH_LEN + 1])
{
	static const char digits[] = "0123456789abcdef";

	for (size_t i = 0; i < MS_HASH_LEN; i++) {
		out[2 * i] = digits[h[i] >> 4];
		out[2 * i + 1] = digits[h[i] & 0xf];
	}
	out[2 * MS_HASH_LEN] = '\0';
}
