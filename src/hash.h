/* SPDX-License-Identifier: Apache-2.0 */
/*
 * hash.h - XXH3-128 in canonical (big-endian) byte order, and the chunk
 * hash built from it.
 */
#ifndef MS_HASH_H
#define MS_HASH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define MS_HASH_LEN 16
/* Leaf size of the chunk hash (a protocol constant, not the page size). */
#define MS_LEAF 4096u

/* XXH3-128 of [p, p+len). */
void ms_hash128(const void *p, size_t len, uint8_t out[MS_HASH_LEN]);

/*
 * The chunk hash, what the metadata table holds, commits state and pulls
 * verify.  Up to MS_LEAF bytes it is XXH3-128 of the bytes; longer, it is
 * XXH3-128 of the concatenated XXH3-128s (the leaves) of each MS_LEAF
 * block from p on, the last one maybe short.  So a range's hash follows
 * from its leaves: a server that keeps every leaf of a region rehashes a
 * chunk after a small write by hashing only the leaves written.
 */
void ms_chunk_hash(const void *p, size_t len, uint8_t out[MS_HASH_LEN]);
/* The same, also storing the ms_div_round_up(len, MS_LEAF) leaves. */
void ms_chunk_hash_leaves(const void *p, size_t len, uint8_t (*leaves)[MS_HASH_LEN],
			  uint8_t out[MS_HASH_LEN]);
/* The chunk hash of a range from its n >= 1 leaves. */
void ms_hash_from_leaves(const uint8_t (*leaves)[MS_HASH_LEN], size_t n,
			 uint8_t out[MS_HASH_LEN]);
bool ms_hash_eq(const uint8_t a[MS_HASH_LEN], const uint8_t b[MS_HASH_LEN]);
/* 32 lowercase hex digits + NUL */
void ms_hash_hex(const uint8_t h[MS_HASH_LEN], char out[2 * MS_HASH_LEN + 1]);

#endif
