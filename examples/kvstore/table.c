/* SPDX-License-Identifier: Apache-2.0 */
/*
 * table.c - open addressing over a memory area (table.h).
 */
#include <errno.h>
#include <string.h>

#include "table.h"

_Static_assert(sizeof(struct kv_slot) == 128, "a slot is 128 bytes");

/* FNV-1a, 64 bit */
static uint64_t hash(const char *s, size_t n)
{
	uint64_t h = 0xcbf29ce484222325ull;

	for (size_t i = 0; i < n; i++) {
		h ^= (unsigned char)s[i];
		h *= 0x100000001b3ull;
	}
	return h;
}

static int key_ok(const char *key, size_t *n)
{
	*n = strlen(key);
	if (*n == 0 || *n > KV_KEY_MAX || strpbrk(key, " \t\r\n"))
		return -EINVAL;
	return 0;
}

int kv_table_init(struct kv_table *t, void *mem, uint64_t len)
{
	if (!mem || len < sizeof(struct kv_slot))
		return -EINVAL;
	t->slot = mem;
	t->nslots = len / sizeof(struct kv_slot);
	return 0;
}

/* The slot of key, or the empty one where it would go; NULL when the table
 * is full without it. */
static struct kv_slot *find(const struct kv_table *t, const char *key, size_t n)
{
	uint64_t i = hash(key, n) % t->nslots;

	for (uint64_t probes = 0; probes < t->nslots; probes++) {
		struct kv_slot *s = &t->slot[i];

		if (s->version == 0)
			return s;
		if (s->klen == n && memcmp(s->key, key, n) == 0)
			return s;
		i = i + 1 == t->nslots ? 0 : i + 1;
	}
	return NULL;
}

int kv_table_put(struct kv_table *t, const char *key, const char *val, uint64_t *version)
{
	size_t n, vn = strlen(val);
	struct kv_slot *s;

	if (key_ok(key, &n) || vn > KV_VAL_MAX || strpbrk(val, "\r\n"))
		return -EINVAL;
	s = find(t, key, n);
	if (!s)
		return -ENOSPC;
	if (s->version == 0) {
		memset(s, 0, sizeof(*s));
		memcpy(s->key, key, n);
		s->klen = (uint32_t)n;
	}
	memset(s->val, 0, sizeof(s->val));
	memcpy(s->val, val, vn);
	s->vlen = (uint32_t)vn;
	s->version++;
	if (version)
		*version = s->version;
	return 0;
}

int kv_table_get(const struct kv_table *t, const char *key, char *val, uint64_t *version)
{
	const struct kv_slot *s;
	size_t n;

	if (key_ok(key, &n))
		return -EINVAL;
	s = find(t, key, n);
	if (!s || s->version == 0)
		return -ENOENT;
	memcpy(val, s->val, s->vlen > KV_VAL_MAX ? KV_VAL_MAX : s->vlen);
	val[s->vlen > KV_VAL_MAX ? KV_VAL_MAX : s->vlen] = '\0';
	if (version)
		*version = s->version;
	return 0;
}

uint64_t kv_table_count(const struct kv_table *t)
{
	uint64_t n = 0;

	for (uint64_t i = 0; i < t->nslots; i++)
		n += t->slot[i].version != 0;
	return n;
}
