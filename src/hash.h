/* SPDX-License-Identifier: Apache-2.0 */
/* hash.h - the chunk hash: XXH3-128 in canonical (big-endian) byte order. */
#ifndef MS_HASH_H
#define MS_HASH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define MS_HASH_LEN 16

void ms_hash128(const void *p, size_t len, uint8_t out[MS_HASH_LEN]);
bool ms_hash_eq(const uint8_t a[MS_HASH_LEN], const uint8_t b[MS_HASH_LEN]);
/* 32 lowercase hex digits + NUL */
void ms_hash_hex(const uint8_t h[MS_HASH_LEN], char out[2 * MS_HASH_LEN + 1]);

#endif
