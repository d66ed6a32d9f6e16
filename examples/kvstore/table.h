/* SPDX-License-Identifier: Apache-2.0 */
/*
 * table.h - the kvstore's table: fixed-size open addressing (linear
 * probing) over a memory area, here a writable lazy mapping of a memsync
 * region.  A slot holds a key, a value and a version that counts the
 * slot's writes.  No deletes.  Not thread-safe (kvstore serves one request
 * at a time).
 */
#ifndef KV_TABLE_H
#define KV_TABLE_H

#include <stddef.h>
#include <stdint.h>

#define KV_KEY_MAX 31
#define KV_VAL_MAX 79

struct kv_slot {
	uint64_t version;           /* 0 = empty */
	uint32_t klen;
	uint32_t vlen;
	char key[KV_KEY_MAX + 1];
	char val[KV_VAL_MAX + 1];
};                                  /* 128 bytes */

struct kv_table {
	struct kv_slot *slot;
	uint64_t nslots;
};

/* Lay the table over [mem, mem+len): 0 or -EINVAL (smaller than a slot). */
int kv_table_init(struct kv_table *t, void *mem, uint64_t len);
/* Set key to val: 0 (the slot's new version in *version), -EINVAL (a key
 * or value too long, empty, or with a blank in the key), -ENOSPC (full). */
int kv_table_put(struct kv_table *t, const char *key, const char *val, uint64_t *version);
/* The value of key into val (KV_VAL_MAX + 1 bytes): 0 or -ENOENT. */
int kv_table_get(const struct kv_table *t, const char *key, char *val, uint64_t *version);
/* Keys stored. */
uint64_t kv_table_count(const struct kv_table *t);

#endif
