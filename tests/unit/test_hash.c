/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_hash.c - XXH3-128 and the chunk hash against known answers.  The
 * expected values were computed independently with `xxhsum -H2` (xxHash
 * 0.8.1), which prints XXH3-128 in the canonical big-endian form
 * ms_hash128() produces; the chunk hashes by splitting the input into
 * 4096-byte files, concatenating their binary xxhsum -H2 digests and
 * hashing that with xxhsum -H2.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>

#include "hash.h"
#include "tap.h"

static void chunk_hex_of(const void *p, size_t len, char out[2 * MS_HASH_LEN + 1])
{
	uint8_t h[MS_HASH_LEN];

	ms_chunk_hash(p, len, h);
	ms_hash_hex(h, out);
}

static void hex_of(const void *p, size_t len, char out[2 * MS_HASH_LEN + 1])
{
	uint8_t h[MS_HASH_LEN];

	ms_hash128(p, len, h);
	ms_hash_hex(h, out);
}

int main(void)
{
	static const char fox[] = "The quick brown fox jumps over the lazy dog";
	char hex[2 * MS_HASH_LEN + 1];
	uint8_t a[MS_HASH_LEN], b[MS_HASH_LEN];
	uint8_t *buf = calloc(1, 100001);
	bool differs = true;

	if (!buf)
		tap_bail("out of memory");

	hex_of("", 0, hex);
	is_str(hex, "99aa06d3014798d86001c324468d497f", "empty input");
	hex_of("a", 1, hex);
	is_str(hex, "a96faf705af16834e6c632b61e964e1f", "\"a\"");
	hex_of("abc", 3, hex);
	is_str(hex, "06b05ab6733a618578af5f94892f3950", "\"abc\"");
	hex_of(fox, sizeof(fox) - 1, hex);
	is_str(hex, "ddd650205ca3e7fa24a1cc2e3a8a7651", "quick brown fox");
	hex_of(buf, 300, hex);
	is_str(hex, "be8945035b2f421f56d0762b20085f91", "300 zero bytes");
	hex_of(buf, 65536, hex);
	is_str(hex, "fd5ee061c8433a0f33b202d302b65caa", "64 KiB of zeros (a default chunk)");
	chunk_hex_of(buf, 65536, hex);
	is_str(hex, "816814d33039be4d7bde141eff9775e5", "chunk hash of 64 KiB of zeros");
	chunk_hex_of(buf, 300, hex);
	is_str(hex, "be8945035b2f421f56d0762b20085f91", "chunk hash of 300 bytes: XXH3-128");

	/* bytes i % 251 for i in 0..99999, hashed from an odd address too */
	for (int i = 0; i < 100000; i++)
		buf[i + 1] = (uint8_t)(i % 251);
	hex_of(buf + 1, 100000, hex);
	is_str(hex, "54182c58bbb1337c42c23aeead96750d", "100000-byte pattern, unaligned");

	chunk_hex_of(buf + 1, 100000, hex);
	is_str(hex, "ec9c06ab70a686efb66035f80be990ef",
	       "chunk hash of the pattern: 25 leaves, the last one short");
	{
		uint8_t (*lv)[MS_HASH_LEN] = calloc(25, MS_HASH_LEN);
		uint8_t c[MS_HASH_LEN];

		if (!lv)
			tap_bail("out of memory");
		ms_chunk_hash_leaves(buf + 1, 100000, lv, a);
		ms_hash128(buf + 1 + 24 * MS_LEAF, 100000 - 24 * MS_LEAF, b);
		ok(ms_hash_eq(lv[24], b), "the last leaf is the XXH3-128 of the short tail");
		ms_hash_from_leaves((const uint8_t (*)[MS_HASH_LEN])lv, 25, c);
		ms_chunk_hash(buf + 1, 100000, b);
		ok(ms_hash_eq(a, b) && ms_hash_eq(a, c),
		   "the chunk hash from its leaves equals the chunk hash of the bytes");
		ms_chunk_hash(buf + 1, MS_LEAF, b);
		ok(ms_hash_eq(b, lv[0]), "up to one leaf the chunk hash is XXH3-128");
		ms_hash_from_leaves((const uint8_t (*)[MS_HASH_LEN])lv, 1, c);
		ok(ms_hash_eq(c, lv[0]), "a single leaf is its own chunk hash");
		free(lv);
	}

	ms_hash128(buf + 1, 100000, a);
	memmove(buf, buf + 1, 100000);
	ms_hash128(buf, 100000, b);
	ok(ms_hash_eq(a, b), "same bytes at another address hash the same");
	buf[50000] ^= 1;
	ms_hash128(buf, 100000, b);
	ok(!ms_hash_eq(a, b), "one flipped bit changes the hash");
	ok(ms_hash_eq(a, a), "a hash equals itself");
	for (int i = 0; i < MS_HASH_LEN; i++) {
		memcpy(b, a, MS_HASH_LEN);
		b[i] ^= 0x80;
		differs = differs && !ms_hash_eq(a, b);
	}
	ok(differs, "ms_hash_eq looks at all 16 bytes");

	for (int i = 0; i < MS_HASH_LEN; i++)
		a[i] = (uint8_t)(i * 17);
	memset(hex, 'x', sizeof(hex));
	ms_hash_hex(a, hex);
	is_str(hex, "00112233445566778899aabbccddeeff", "hex is lowercase, in byte order");

	free(buf);
	return tap_done();
}
