/* SPDX-License-Identifier: Apache-2.0 */
/*
 * proto_cur.h - the bounds-checked cursor every encoder and decoder of
 * proto.c and proto_lease.c is written with: it latches its first error,
 * so a coder is a straight list of put/get calls followed by one check.
 * Private to those two files.
 */
#ifndef MS_PROTO_CUR_H
#define MS_PROTO_CUR_H

#include <endian.h>
#include <errno.h>
#include <stdbool.h>
#include <string.h>

#include "proto.h"

struct cur {
	uint8_t *w;        /* encoding */
	const uint8_t *r;  /* decoding */
	size_t len, pos;
	int err;
};

/* Claim n bytes at the cursor; false (and the error latched) if they do
 * not fit. */
static inline bool cur_room(struct cur *c, size_t n)
{
	if (c->err || n > c->len - c->pos) {
		if (!c->err)
			c->err = c->w ? -EMSGSIZE : -EBADMSG;
		return false;
	}
	return true;
}

static inline void put_bytes(struct cur *c, const void *p, size_t n)
{
	if (!cur_room(c, n))
		return;
	if (n)
		memcpy(c->w + c->pos, p, n);
	c->pos += n;
}

static inline void put_u16(struct cur *c, uint16_t v)
{
	v = htole16(v);
	put_bytes(c, &v, 2);
}

static inline void put_u32(struct cur *c, uint32_t v)
{
	v = htole32(v);
	put_bytes(c, &v, 4);
}

static inline void put_u64(struct cur *c, uint64_t v)
{
	v = htole64(v);
	put_bytes(c, &v, 8);
}

static inline void put_str(struct cur *c, const char *s, size_t max)
{
	size_t n = strnlen(s, max + 1);

	if (n > max) {
		if (!c->err)
			c->err = -EINVAL;
		return;
	}
	put_u16(c, (uint16_t)n);
	put_bytes(c, s, n);
}

static inline void get_bytes(struct cur *c, void *p, size_t n)
{
	if (!cur_room(c, n)) {
		memset(p, 0, n);
		return;
	}
	if (n)
		memcpy(p, c->r + c->pos, n);
	c->pos += n;
}

static inline uint16_t get_u16(struct cur *c)
{
	uint16_t v;

	get_bytes(c, &v, 2);
	return le16toh(v);
}

static inline uint32_t get_u32(struct cur *c)
{
	uint32_t v;

	get_bytes(c, &v, 4);
	return le32toh(v);
}

static inline uint64_t get_u64(struct cur *c)
{
	uint64_t v;

	get_bytes(c, &v, 8);
	return le64toh(v);
}

/* A string of at most max bytes with no NUL inside, into out[max + 1]. */
static inline void get_str(struct cur *c, char *out, size_t max)
{
	uint16_t n = get_u16(c);

	out[0] = '\0';
	if (c->err)
		return;
	if (n > max) {
		c->err = -EBADMSG;
		return;
	}
	get_bytes(c, out, n);
	out[c->err ? 0 : n] = '\0';
	if (!c->err && strlen(out) != n)
		c->err = -EBADMSG;
}

static inline struct cur enc_begin(void *buf, size_t cap, enum ms_msg_type t)
{
	struct cur c = { .w = buf, .len = cap };

	put_u16(&c, (uint16_t)t);
	put_u16(&c, 0);
	return c;
}

static inline int enc_end(struct cur *c)
{
	return c->err ? c->err : (int)c->pos;
}

static inline struct cur dec_begin(const void *buf, size_t len, enum ms_msg_type t)
{
	struct cur c = { .r = buf, .len = len };

	if (ms_msg_type(buf, len) != (int)t)
		c.err = -EBADMSG;
	c.pos = 4;
	if (len < 4)
		c.pos = len;
	return c;
}

static inline int dec_end(struct cur *c)
{
	if (c->err)
		return -EBADMSG;
	return c->pos == c->len ? 0 : -EBADMSG;
}

static inline void put_rdesc(struct cur *c, const struct ms_rdesc *d)
{
	put_u64(c, d->addr);
	put_u64(c, d->len);
	put_u64(c, d->rkey);
}

static inline void get_rdesc(struct cur *c, struct ms_rdesc *d)
{
	d->addr = get_u64(c);
	d->len = get_u64(c);
	d->rkey = get_u64(c);
}

/* proto_lease.c: a lease's wire form, inside LEASE_OK and STAT_OK */
void ms_put_lease(struct cur *c, const struct ms_lease_info *li);
void ms_get_lease(struct cur *c, struct ms_lease_info *li);

#endif
