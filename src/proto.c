/* SPDX-License-Identifier: Apache-2.0 */
/*
 * proto.c - encode and decode control messages.
 *
 * Both directions go through a bounds-checked cursor that latches its first
 * error, so an encoder or decoder is a straight list of put/get calls
 * followed by one check.  Decoders reject trailing bytes: a message that is
 * longer than its type says is as malformed as a short one.
 */
#include <endian.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto.h"
#include "proto_cur.h"

int ms_msg_type(const void *buf, size_t len)
{
	const uint8_t *p = buf;

	if (len < 4 || p[2] || p[3])
		return -EBADMSG;
	return p[0] | (p[1] << 8);
}

int ms_enc_hello(void *buf, size_t cap, const struct ms_msg_hello *m)
{
	struct cur c = enc_begin(buf, cap, MS_MSG_HELLO);

	put_u32(&c, m->version);
	put_bytes(&c, m->client_id, 16);
	put_str(&c, m->agent, MS_AGENT_MAX);
	return enc_end(&c);
}

int ms_dec_hello(const void *buf, size_t len, struct ms_msg_hello *m)
{
	struct cur c = dec_begin(buf, len, MS_MSG_HELLO);

	m->version = get_u32(&c);
	get_bytes(&c, m->client_id, 16);
	get_str(&c, m->agent, MS_AGENT_MAX);
	return dec_end(&c);
}

int ms_enc_hello_ok(void *buf, size_t cap, const struct ms_msg_hello_ok *m)
{
	struct cur c = enc_begin(buf, cap, MS_MSG_HELLO_OK);

	put_u32(&c, m->version);
	put_bytes(&c, m->server_id, 16);
	put_u32(&c, m->max_io);
	return enc_end(&c);
}

int ms_dec_hello_ok(const void *buf, size_t len, struct ms_msg_hello_ok *m)
{
	struct cur c = dec_begin(buf, len, MS_MSG_HELLO_OK);

	m->version = get_u32(&c);
	get_bytes(&c, m->server_id, 16);
	m->max_io = get_u32(&c);
	return dec_end(&c);
}

int ms_enc_open(void *buf, size_t cap, const struct ms_msg_open *m)
{
	struct cur c = enc_begin(buf, cap, MS_MSG_OPEN);

	put_str(&c, m->name, MS_NAME_MAX);
	put_u32(&c, m->mode);
	put_u64(&c, m->expect_epoch);
	return enc_end(&c);
}

int ms_dec_open(const void *buf, size_t len, struct ms_msg_open *m)
{
	struct cur c = dec_begin(buf, len, MS_MSG_OPEN);

	get_str(&c, m->name, MS_NAME_MAX);
	m->mode = get_u32(&c);
	m->expect_epoch = get_u64(&c);
	return dec_end(&c);
}

int ms_enc_open_ok(void *buf, size_t cap, const struct ms_msg_open_ok *m)
{
	struct cur c = enc_begin(buf, cap, MS_MSG_OPEN_OK);

	put_u32(&c, m->handle);
	put_u32(&c, m->mode);
	put_u64(&c, m->size);
	put_u32(&c, m->chunk_size);
	put_u64(&c, m->nchunks);
	put_u64(&c, m->generation);
	put_rdesc(&c, &m->data);
	put_rdesc(&c, &m->meta);
	put_u64(&c, m->epoch);
	put_u32(&c, m->lease_ttl_ms);
	put_u32(&c, m->commit_mode);
	put_u64(&c, m->stage_limit);
	return enc_end(&c);
}

int ms_dec_open_ok(const void *buf, size_t len, struct ms_msg_open_ok *m)
{
	struct cur c = dec_begin(buf, len, MS_MSG_OPEN_OK);

	m->handle = get_u32(&c);
	m->mode = get_u32(&c);
	m->size = get_u64(&c);
	m->chunk_size = get_u32(&c);
	m->nchunks = get_u64(&c);
	m->generation = get_u64(&c);
	get_rdesc(&c, &m->data);
	get_rdesc(&c, &m->meta);
	m->epoch = get_u64(&c);
	m->lease_ttl_ms = get_u32(&c);
	m->commit_mode = get_u32(&c);
	m->stage_limit = get_u64(&c);
	return dec_end(&c);
}

int ms_enc_close(void *buf, size_t cap, const struct ms_msg_handle *m)
{
	struct cur c = enc_begin(buf, cap, MS_MSG_CLOSE);

	put_u32(&c, m->handle);
	return enc_end(&c);
}

int ms_dec_close(const void *buf, size_t len, struct ms_msg_handle *m)
{
	struct cur c = dec_begin(buf, len, MS_MSG_CLOSE);

	m->handle = get_u32(&c);
	return dec_end(&c);
}

int ms_enc_commit(void *buf, size_t cap, const struct ms_msg_commit *m)
{
	struct cur c = enc_begin(buf, cap, MS_MSG_COMMIT);

	if (m->n > MS_COMMIT_MAX_ENTS)
		return -E2BIG;
	if (m->flags & ~MS_COMMITMSG_ALL)
		return -EINVAL;
	put_u32(&c, m->handle);
	put_u32(&c, m->flags);
	put_u64(&c, m->epoch);
	put_u32(&c, m->n);
	for (uint32_t i = 0; i < m->n && !c.err; i++) {
		if (m->ents[i].flags & ~MS_COMMIT_F_ALL)
			return -EINVAL;
		put_u64(&c, m->ents[i].off);
		put_u64(&c, m->ents[i].len);
		put_u64(&c, m->ents[i].soff);
		put_u32(&c, m->ents[i].flags);
		put_u32(&c, 0);
		put_bytes(&c, m->ents[i].hash, MS_HASH_LEN);
	}
	return enc_end(&c);
}

int ms_dec_commit(const void *buf, size_t len, struct ms_msg_commit *m,
		  struct ms_commit_ent *ents, size_t max)
{
	struct cur c = dec_begin(buf, len, MS_MSG_COMMIT);

	m->handle = get_u32(&c);
	m->flags = get_u32(&c);
	m->epoch = get_u64(&c);
	m->n = get_u32(&c);
	m->ents = ents;
	if (c.err || (m->flags & ~MS_COMMITMSG_ALL))
		return -EBADMSG;
	/* the count must match the bytes that follow, before anything else */
	if ((uint64_t)m->n * MS_COMMIT_ENT_WIRE != len - c.pos)
		return -EBADMSG;
	if (m->n > max)
		return -E2BIG;
	for (uint32_t i = 0; i < m->n; i++) {
		ents[i].off = get_u64(&c);
		ents[i].len = get_u64(&c);
		ents[i].soff = get_u64(&c);
		ents[i].flags = get_u32(&c);
		if (get_u32(&c) != 0 || (ents[i].flags & ~MS_COMMIT_F_ALL))
			return -EBADMSG;
		get_bytes(&c, ents[i].hash, MS_HASH_LEN);
	}
	return dec_end(&c);
}

int ms_enc_gen(void *buf, size_t cap, enum ms_msg_type t, const struct ms_msg_gen *m)
{
	struct cur c = enc_begin(buf, cap, t);

	put_u64(&c, m->generation);
	return enc_end(&c);
}

int ms_dec_gen(const void *buf, size_t len, enum ms_msg_type t, struct ms_msg_gen *m)
{
	struct cur c = dec_begin(buf, len, t);

	m->generation = get_u64(&c);
	return dec_end(&c);
}

int ms_enc_hot(void *buf, size_t cap, const struct ms_msg_hot *m)
{
	struct cur c = enc_begin(buf, cap, MS_MSG_HOT);

	put_u32(&c, m->handle);
	put_u32(&c, m->max);
	return enc_end(&c);
}

int ms_dec_hot(const void *buf, size_t len, struct ms_msg_hot *m)
{
	struct cur c = dec_begin(buf, len, MS_MSG_HOT);

	m->handle = get_u32(&c);
	m->max = get_u32(&c);
	if (!c.err && (m->max == 0 || m->max > MS_HOT_MAX))
		return -EBADMSG;
	return dec_end(&c);
}

int ms_enc_chunks(void *buf, size_t cap, enum ms_msg_type t, const struct ms_msg_chunks *m)
{
	struct cur c = enc_begin(buf, cap, t);

	if (m->n > MS_HOT_MAX)
		return -E2BIG;
	put_u32(&c, m->handle);
	put_u32(&c, m->n);
	for (uint32_t i = 0; i < m->n && !c.err; i++)
		put_u64(&c, m->idx[i]);
	return enc_end(&c);
}

int ms_dec_chunks(const void *buf, size_t len, enum ms_msg_type t, struct ms_msg_chunks *m,
		  uint64_t *idx, size_t max)
{
	struct cur c = dec_begin(buf, len, t);

	m->handle = get_u32(&c);
	m->n = get_u32(&c);
	m->idx = idx;
	if (c.err)
		return -EBADMSG;
	/* the count must match the bytes that follow, before anything else */
	if ((uint64_t)m->n * 8 != len - c.pos)
		return -EBADMSG;
	if (m->n > max)
		return -E2BIG;
	for (uint32_t i = 0; i < m->n; i++)
		idx[i] = get_u64(&c);
	return dec_end(&c);
}

int ms_enc_stat(void *buf, size_t cap, const struct ms_msg_stat *m)
{
	struct cur c = enc_begin(buf, cap, MS_MSG_STAT);

	put_str(&c, m->name, MS_NAME_MAX);
	return enc_end(&c);
}

int ms_dec_stat(const void *buf, size_t len, struct ms_msg_stat *m)
{
	struct cur c = dec_begin(buf, len, MS_MSG_STAT);

	get_str(&c, m->name, MS_NAME_MAX);
	return dec_end(&c);
}

int ms_enc_stat_ok(void *buf, size_t cap, const struct ms_region_stat *st, size_t n)
{
	struct cur c = enc_begin(buf, cap, MS_MSG_STAT_OK);

	if (n > MS_STAT_MAX_REGIONS)
		return -E2BIG;
	put_u32(&c, (uint32_t)n);
	for (size_t i = 0; i < n && !c.err; i++) {
		put_str(&c, st[i].name, MS_NAME_MAX);
		put_str(&c, ms_backing_name(st[i].backing), 15);  /* by name on the wire */
		put_u64(&c, st[i].size);
		put_u32(&c, st[i].chunk_size);
		put_u64(&c, st[i].generation);
		put_u32(&c, st[i].clients);
		put_u32(&c, st[i].write_leased ? 1 : 0);
		put_u64(&c, st[i].bytes_read);
		put_u64(&c, st[i].bytes_written);
		put_u64(&c, st[i].bytes_committed);
		put_u64(&c, st[i].commits);
		put_u64(&c, st[i].commits_refused);
		put_u64(&c, st[i].commits_abandoned);
		put_u32(&c, (uint32_t)st[i].commit_mode);
		ms_put_lease(&c, &st[i].lease);
		/* 4: migration */
		put_u32(&c, (uint32_t)st[i].migrate_phase);
		put_str(&c, st[i].moved_to, sizeof(st[i].moved_to) - 1);
	}
	return enc_end(&c);
}

int ms_dec_stat_ok(const void *buf, size_t len, struct ms_region_stat **out, size_t *n)
{
	struct cur c = dec_begin(buf, len, MS_MSG_STAT_OK);
	struct ms_region_stat *st;
	uint32_t cnt = get_u32(&c);

	if (c.err || cnt > MS_STAT_MAX_REGIONS)
		return -EBADMSG;
	st = calloc(cnt ? cnt : 1, sizeof(*st));
	if (!st)
		return -ENOMEM;
	for (uint32_t i = 0; i < cnt && !c.err; i++) {
		uint32_t phase;
		char bname[16];

		get_str(&c, st[i].name, MS_NAME_MAX);
		get_str(&c, bname, sizeof(bname) - 1);
		st[i].backing = MS_BACKING_UNKNOWN;  /* a newer server's backing */
		for (int b = MS_BACKING_ANON; b <= MS_BACKING_USER; b++)
			if (strcmp(bname, ms_backing_name((enum ms_backing)b)) == 0)
				st[i].backing = (enum ms_backing)b;
		st[i].size = get_u64(&c);
		st[i].chunk_size = get_u32(&c);
		st[i].generation = get_u64(&c);
		st[i].clients = get_u32(&c);
		st[i].write_leased = get_u32(&c) != 0;
		st[i].bytes_read = get_u64(&c);
		st[i].bytes_written = get_u64(&c);
		st[i].bytes_committed = get_u64(&c);
		st[i].commits = get_u64(&c);
		st[i].commits_refused = get_u64(&c);
		st[i].commits_abandoned = get_u64(&c);
		st[i].commit_mode = (enum ms_commit_mode)get_u32(&c);
		ms_get_lease(&c, &st[i].lease);
		phase = get_u32(&c);
		if (phase > MS_MIGRATE_ABORTED && !c.err)
			c.err = -EBADMSG;
		st[i].migrate_phase = (enum ms_migrate_phase)phase;
		get_str(&c, st[i].moved_to, sizeof(st[i].moved_to) - 1);
	}
	if (dec_end(&c)) {
		free(st);
		return -EBADMSG;
	}
	*out = st;
	*n = cnt;
	return 0;
}

int ms_enc_empty(void *buf, size_t cap, enum ms_msg_type t)
{
	struct cur c = enc_begin(buf, cap, t);

	return enc_end(&c);
}

int ms_dec_empty(const void *buf, size_t len, enum ms_msg_type t)
{
	struct cur c = dec_begin(buf, len, t);

	return dec_end(&c);
}

int ms_enc_error(void *buf, size_t cap, int err, const char *fmt, ...)
{
	struct cur c = enc_begin(buf, cap, MS_MSG_ERROR);
	char msg[MS_ERRMSG_MAX + 1];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	put_u32(&c, (uint32_t)(err < 0 ? -err : err));
	put_str(&c, msg, MS_ERRMSG_MAX);
	return enc_end(&c);
}

int ms_dec_error(const void *buf, size_t len, struct ms_msg_error *m)
{
	struct cur c = dec_begin(buf, len, MS_MSG_ERROR);

	m->err = (int32_t)get_u32(&c);
	get_str(&c, m->msg, MS_ERRMSG_MAX);
	if (!c.err && (m->err <= 0 || m->err > 4095))
		return -EBADMSG;
	return dec_end(&c);
}

const char *ms_msg_name(int type)
{
	switch (type) {
	case MS_MSG_HELLO: return "HELLO";
	case MS_MSG_HELLO_OK: return "HELLO_OK";
	case MS_MSG_OPEN: return "OPEN";
	case MS_MSG_OPEN_OK: return "OPEN_OK";
	case MS_MSG_CLOSE: return "CLOSE";
	case MS_MSG_CLOSE_OK: return "CLOSE_OK";
	case MS_MSG_COMMIT: return "COMMIT";
	case MS_MSG_COMMIT_OK: return "COMMIT_OK";
	case MS_MSG_STAT: return "STAT";
	case MS_MSG_HOT: return "HOT";
	case MS_MSG_HOT_OK: return "HOT_OK";
	case MS_MSG_TOUCH: return "TOUCH";
	case MS_MSG_TOUCH_OK: return "TOUCH_OK";
	case MS_MSG_STAT_OK: return "STAT_OK";
	case MS_MSG_BYE: return "BYE";
	case MS_MSG_BYE_OK: return "BYE_OK";
	case MS_MSG_STAGE: return "STAGE";
	case MS_MSG_STAGE_OK: return "STAGE_OK";
	case MS_MSG_RENEW: return "RENEW";
	case MS_MSG_RENEW_OK: return "RENEW_OK";
	case MS_MSG_LEASE: return "LEASE";
	case MS_MSG_LEASE_OK: return "LEASE_OK";
	case MS_MSG_LEASE_BREAK: return "LEASE_BREAK";
	case MS_MSG_HANDOVER: return "HANDOVER";
	case MS_MSG_HANDOVER_OK: return "HANDOVER_OK";
	case MS_MSG_HOLD: return "HOLD";
	case MS_MSG_HOLD_OK: return "HOLD_OK";
	case MS_MSG_RELEASE: return "RELEASE";
	case MS_MSG_RELEASE_OK: return "RELEASE_OK";
	case MS_MSG_MIGRATE: return "MIGRATE";
	case MS_MSG_MIGRATE_OK: return "MIGRATE_OK";
	case MS_MSG_MIGRATE_STATUS: return "MIGRATE_STATUS";
	case MS_MSG_MIGRATE_STATUS_OK: return "MIGRATE_STATUS_OK";
	case MS_MSG_MIGRATE_ABORT: return "MIGRATE_ABORT";
	case MS_MSG_MIGRATE_ABORT_OK: return "MIGRATE_ABORT_OK";
	case MS_MSG_FREEZE: return "FREEZE";
	case MS_MSG_FREEZE_OK: return "FREEZE_OK";
	case MS_MSG_THAW: return "THAW";
	case MS_MSG_THAW_OK: return "THAW_OK";
	case MS_MSG_HANDOFF: return "HANDOFF";
	case MS_MSG_HANDOFF_OK: return "HANDOFF_OK";
	case MS_MSG_MIGRATED: return "MIGRATED";
	case MS_MSG_MIGRATED_OK: return "MIGRATED_OK";
	case MS_MSG_FETCH: return "FETCH";
	case MS_MSG_FETCH_OK: return "FETCH_OK";
	case MS_MSG_CLIENTS: return "CLIENTS";
	case MS_MSG_CLIENTS_OK: return "CLIENTS_OK";
	case MS_MSG_DISCONNECT: return "DISCONNECT";
	case MS_MSG_DISCONNECT_OK: return "DISCONNECT_OK";
	case MS_MSG_SESSION: return "SESSION";
	case MS_MSG_SESSION_OK: return "SESSION_OK";
	case MS_MSG_ATTACH: return "ATTACH";
	case MS_MSG_ATTACH_OK: return "ATTACH_OK";
	case MS_MSG_ERROR: return "ERROR";
	case MS_MSG_MOVED: return "MOVED";
	default: return "UNKNOWN";
	}
}

/* ------------------------------------------------ HOLD and RELEASE */

int ms_enc_hold(void *buf, size_t cap, const struct ms_msg_hold *m)
{
	struct cur c = enc_begin(buf, cap, MS_MSG_HOLD);

	put_u32(&c, m->handle);
	put_u32(&c, m->ms);
	return enc_end(&c);
}

int ms_dec_hold(const void *buf, size_t len, struct ms_msg_hold *m)
{
	struct cur c = dec_begin(buf, len, MS_MSG_HOLD);

	m->handle = get_u32(&c);
	m->ms = get_u32(&c);
	if (!c.err && m->ms == 0)
		return -EBADMSG;
	return dec_end(&c);
}

static bool hold_ok_type(enum ms_msg_type t)
{
	return t == MS_MSG_HOLD_OK || t == MS_MSG_RELEASE_OK;
}

int ms_enc_hold_ok(void *buf, size_t cap, enum ms_msg_type t, const struct ms_msg_hold_ok *m)
{
	struct cur c = enc_begin(buf, cap, t);

	if (!hold_ok_type(t) || (m->flags & ~MS_HOLD_F_ALL))
		return -EINVAL;
	put_u64(&c, m->generation);
	put_u32(&c, m->ms);
	put_u32(&c, m->flags);
	return enc_end(&c);
}

int ms_dec_hold_ok(const void *buf, size_t len, enum ms_msg_type t, struct ms_msg_hold_ok *m)
{
	struct cur c = dec_begin(buf, len, t);

	if (!hold_ok_type(t))
		return -EBADMSG;
	m->generation = get_u64(&c);
	m->ms = get_u32(&c);
	m->flags = get_u32(&c);
	if (!c.err && (m->flags & ~MS_HOLD_F_ALL))
		return -EBADMSG;
	return dec_end(&c);
}

int ms_enc_release(void *buf, size_t cap, const struct ms_msg_handle *m)
{
	struct cur c = enc_begin(buf, cap, MS_MSG_RELEASE);

	put_u32(&c, m->handle);
	return enc_end(&c);
}

int ms_dec_release(const void *buf, size_t len, struct ms_msg_handle *m)
{
	struct cur c = dec_begin(buf, len, MS_MSG_RELEASE);

	m->handle = get_u32(&c);
	return dec_end(&c);
}
