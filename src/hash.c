/* SPDX-License-Identifier: Apache-2.0 */
/*
 * hash.c - the chunk hash.  XXH3-128 in canonical (big-endian) byte order,
 * so that the 16 bytes mean the same thing on every host and on the wire.
 */
#include <string.h>
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
