/* SPDX-License-Identifier: Apache-2.0 */
/*
 * proto_lease.c - the control messages of staging areas and write
 * leases: STAGE, RENEW, LEASE, LEASE_BREAK and HANDOVER (proto.h has
 * their layout; proto.c the rest of the protocol).
 */
#include <errno.h>
#include <string.h>

#include "proto.h"
#include "proto_cur.h"

int ms_enc_stage(void *buf, size_t cap, const struct ms_msg_stage *m)
{
	struct cur c = enc_begin(buf, cap, MS_MSG_STAGE);

	put_u32(&c, m->handle);
	put_u64(&c, m->epoch);
	put_u64(&c, m->need);
	return enc_end(&c);
}

int ms_dec_stage(const void *buf, size_t len, struct ms_msg_stage *m)
{
	struct cur c = dec_begin(buf, len, MS_MSG_STAGE);

	m->handle = get_u32(&c);
	m->epoch = get_u64(&c);
	m->need = get_u64(&c);
	return dec_end(&c);
}

int ms_enc_stage_ok(void *buf, size_t cap, const struct ms_msg_stage_ok *m)
{
	struct cur c = enc_begin(buf, cap, MS_MSG_STAGE_OK);

	if (m->n > MS_STAGE_MAX_SEGS)
		return -E2BIG;
	put_u32(&c, m->n);
	for (uint32_t i = 0; i < m->n; i++) {
		put_u64(&c, m->seg[i].base);
		put_rdesc(&c, &m->seg[i].desc);
	}
	return enc_end(&c);
}

int ms_dec_stage_ok(const void *buf, size_t len, struct ms_msg_stage_ok *m)
{
	struct cur c = dec_begin(buf, len, MS_MSG_STAGE_OK);

	m->n = get_u32(&c);
	if (c.err || m->n > MS_STAGE_MAX_SEGS)
		return -EBADMSG;
	for (uint32_t i = 0; i < m->n; i++) {
		m->seg[i].base = get_u64(&c);
		get_rdesc(&c, &m->seg[i].desc);
	}
	return dec_end(&c);
}

int ms_enc_renew(void *buf, size_t cap, const struct ms_msg_renew *m)
{
	struct cur c = enc_begin(buf, cap, MS_MSG_RENEW);

	put_u32(&c, m->handle);
	put_u64(&c, m->epoch);
	return enc_end(&c);
}

int ms_dec_renew(const void *buf, size_t len, struct ms_msg_renew *m)
{
	struct cur c = dec_begin(buf, len, MS_MSG_RENEW);

	m->handle = get_u32(&c);
	m->epoch = get_u64(&c);
	return dec_end(&c);
}

int ms_enc_renew_ok(void *buf, size_t cap, uint32_t ttl_ms)
{
	struct cur c = enc_begin(buf, cap, MS_MSG_RENEW_OK);

	put_u32(&c, ttl_ms);
	return enc_end(&c);
}

int ms_dec_renew_ok(const void *buf, size_t len, uint32_t *ttl_ms)
{
	struct cur c = dec_begin(buf, len, MS_MSG_RENEW_OK);

	*ttl_ms = get_u32(&c);
	return dec_end(&c);
}

static bool lease_type(enum ms_msg_type t)
{
	return t == MS_MSG_LEASE || t == MS_MSG_LEASE_BREAK;
}

int ms_enc_lease(void *buf, size_t cap, enum ms_msg_type t, const char *name)
{
	struct cur c = enc_begin(buf, cap, t);

	if (!lease_type(t))
		return -EINVAL;
	put_str(&c, name, MS_NAME_MAX);
	return enc_end(&c);
}

int ms_dec_lease(const void *buf, size_t len, enum ms_msg_type t, char name[MS_NAME_MAX + 1])
{
	struct cur c = dec_begin(buf, len, t);

	if (!lease_type(t))
		return -EBADMSG;
	get_str(&c, name, MS_NAME_MAX);
	return dec_end(&c);
}

/* The lease info's wire form, shared by LEASE_OK and STAT_OK. */
void ms_put_lease(struct cur *c, const struct ms_lease_info *li)
{
	put_u32(c, (uint32_t)li->state);
	put_u64(c, li->epoch);
	put_u64(c, (uint64_t)li->expires_ms);
	put_u32(c, li->ttl_ms);
	put_str(c, li->holder, sizeof(li->holder) - 1);
	put_bytes(c, li->client_id, 16);
}

void ms_get_lease(struct cur *c, struct ms_lease_info *li)
{
	uint32_t st = get_u32(c);

	li->state = (enum ms_lease_state)st;
	li->epoch = get_u64(c);
	li->expires_ms = (int64_t)get_u64(c);
	li->ttl_ms = get_u32(c);
	get_str(c, li->holder, sizeof(li->holder) - 1);
	get_bytes(c, li->client_id, 16);
	if (!c->err && st > MS_LEASE_HANDOVER)
		c->err = -EBADMSG;
}

int ms_enc_lease_ok(void *buf, size_t cap, const struct ms_lease_info *li)
{
	struct cur c = enc_begin(buf, cap, MS_MSG_LEASE_OK);

	ms_put_lease(&c, li);
	return enc_end(&c);
}

int ms_dec_lease_ok(const void *buf, size_t len, struct ms_lease_info *li)
{
	struct cur c = dec_begin(buf, len, MS_MSG_LEASE_OK);

	ms_get_lease(&c, li);
	return dec_end(&c);
}

int ms_enc_handover(void *buf, size_t cap, const struct ms_msg_handover *m)
{
	struct cur c = enc_begin(buf, cap, MS_MSG_HANDOVER);

	put_u32(&c, m->handle);
	put_u64(&c, m->epoch);
	put_bytes(&c, m->client_id, 16);
	return enc_end(&c);
}

int ms_dec_handover(const void *buf, size_t len, struct ms_msg_handover *m)
{
	struct cur c = dec_begin(buf, len, MS_MSG_HANDOVER);

	m->handle = get_u32(&c);
	m->epoch = get_u64(&c);
	get_bytes(&c, m->client_id, 16);
	return dec_end(&c);
}
