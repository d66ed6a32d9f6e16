/* SPDX-License-Identifier: Apache-2.0 */
/*
 * proto_migrate.c - the control messages of region migration: MIGRATE,
 * MIGRATE_STATUS, MIGRATE_ABORT (to the destination), FREEZE, THAW,
 * HANDOFF, MIGRATED (the destination to the source), FETCH and the MOVED
 * reply (proto.h has their layout; docs/protocol.md their rules).
 */
#include <errno.h>
#include <string.h>

#include "proto.h"
#include "proto_cur.h"
#include "util.h"

int ms_enc_migrate(void *buf, size_t cap, const struct ms_msg_migrate *m)
{
	struct cur c = enc_begin(buf, cap, MS_MSG_MIGRATE);

	put_str(&c, m->name, MS_NAME_MAX);
	put_str(&c, m->host, MS_HOST_MAX);
	put_str(&c, m->port, MS_PORT_MAX);
	put_u32(&c, m->mode);
	put_u32(&c, m->downtime_ms);
	put_u32(&c, m->max_rounds);
	put_u32(&c, m->transport);
	put_str(&c, m->path, MS_PATH_MAX);
	put_str(&c, m->self_host, MS_HOST_MAX);
	put_str(&c, m->self_port, MS_PORT_MAX);
	put_u64(&c, m->max_bandwidth);
	return enc_end(&c);
}

int ms_dec_migrate(const void *buf, size_t len, struct ms_msg_migrate *m)
{
	struct cur c = dec_begin(buf, len, MS_MSG_MIGRATE);

	get_str(&c, m->name, MS_NAME_MAX);
	get_str(&c, m->host, MS_HOST_MAX);
	get_str(&c, m->port, MS_PORT_MAX);
	m->mode = get_u32(&c);
	m->downtime_ms = get_u32(&c);
	m->max_rounds = get_u32(&c);
	m->transport = get_u32(&c);
	get_str(&c, m->path, MS_PATH_MAX);
	get_str(&c, m->self_host, MS_HOST_MAX);
	get_str(&c, m->self_port, MS_PORT_MAX);
	m->max_bandwidth = get_u64(&c);
	if (!c.err && (m->mode > MS_MIGRATE_STOPCOPY || m->transport > MS_TRANSPORT_RDMA))
		return -EBADMSG;
	return dec_end(&c);
}

int ms_enc_migname(void *buf, size_t cap, enum ms_msg_type t, const char *name)
{
	struct cur c = enc_begin(buf, cap, t);

	put_str(&c, name, MS_NAME_MAX);
	return enc_end(&c);
}

int ms_dec_migname(const void *buf, size_t len, enum ms_msg_type t, char name[MS_NAME_MAX + 1])
{
	struct cur c = dec_begin(buf, len, t);

	get_str(&c, name, MS_NAME_MAX);
	return dec_end(&c);
}

int ms_enc_migrate_stat(void *buf, size_t cap, const struct ms_migrate_stat *st)
{
	struct cur c = enc_begin(buf, cap, MS_MSG_MIGRATE_STATUS_OK);

	put_str(&c, st->name, MS_NAME_MAX);
	put_u32(&c, (uint32_t)st->phase);
	put_u32(&c, (uint32_t)st->mode);
	put_str(&c, st->source, sizeof(st->source) - 1);
	put_str(&c, st->end_reason, sizeof(st->end_reason) - 1);
	put_str(&c, st->error, sizeof(st->error) - 1);
	put_u32(&c, st->rounds);
	put_u64(&c, st->size);
	put_u64(&c, st->bytes);
	put_u64(&c, st->chunks_total);
	put_u64(&c, st->chunks_missing);
	put_u64(&c, st->epoch);
	put_u64(&c, st->total_us);
	put_u64(&c, st->downtime_us);
	put_u64(&c, st->pause_us);
	put_u64(&c, st->final_collect_us);
	put_u64(&c, st->final_xfer_us);
	put_u64(&c, st->commit_us);
	put_u64(&c, st->handoff_us);
	put_u64(&c, st->first_fault_us);
	put_u64(&c, st->faults);
	put_u32(&c, MS_HIST_BUCKETS);
	for (int i = 0; i < MS_HIST_BUCKETS; i++)
		put_u64(&c, st->fault_hist[i]);
	return enc_end(&c);
}

int ms_dec_migrate_stat(const void *buf, size_t len, struct ms_migrate_stat *st)
{
	struct cur c = dec_begin(buf, len, MS_MSG_MIGRATE_STATUS_OK);
	uint32_t phase, mode, nb;

	memset(st, 0, sizeof(*st));
	get_str(&c, st->name, MS_NAME_MAX);
	phase = get_u32(&c);
	mode = get_u32(&c);
	get_str(&c, st->source, sizeof(st->source) - 1);
	get_str(&c, st->end_reason, sizeof(st->end_reason) - 1);
	get_str(&c, st->error, sizeof(st->error) - 1);
	st->rounds = get_u32(&c);
	st->size = get_u64(&c);
	st->bytes = get_u64(&c);
	st->chunks_total = get_u64(&c);
	st->chunks_missing = get_u64(&c);
	st->epoch = get_u64(&c);
	st->total_us = get_u64(&c);
	st->downtime_us = get_u64(&c);
	st->pause_us = get_u64(&c);
	st->final_collect_us = get_u64(&c);
	st->final_xfer_us = get_u64(&c);
	st->commit_us = get_u64(&c);
	st->handoff_us = get_u64(&c);
	st->first_fault_us = get_u64(&c);
	st->faults = get_u64(&c);
	nb = get_u32(&c);
	if (c.err || phase > MS_MIGRATE_ABORTED || mode > MS_MIGRATE_STOPCOPY ||
	    nb != MS_HIST_BUCKETS)
		return -EBADMSG;
	st->phase = (enum ms_migrate_phase)phase;
	st->mode = (enum ms_migrate_mode)mode;
	for (uint32_t i = 0; i < nb; i++)
		st->fault_hist[i] = get_u64(&c);
	return dec_end(&c);
}

int ms_enc_freeze(void *buf, size_t cap, const struct ms_msg_freeze *m)
{
	struct cur c = enc_begin(buf, cap, MS_MSG_FREEZE);

	put_u32(&c, m->handle);
	put_u32(&c, m->ms);
	return enc_end(&c);
}

int ms_dec_freeze(const void *buf, size_t len, struct ms_msg_freeze *m)
{
	struct cur c = dec_begin(buf, len, MS_MSG_FREEZE);

	m->handle = get_u32(&c);
	m->ms = get_u32(&c);
	if (!c.err && (m->ms == 0 || m->ms > MS_FREEZE_MAX_MS))
		return -EBADMSG;
	return dec_end(&c);
}

int ms_enc_freeze_ok(void *buf, size_t cap, const struct ms_msg_freeze_ok *m)
{
	struct cur c = enc_begin(buf, cap, MS_MSG_FREEZE_OK);

	put_u64(&c, m->generation);
	put_u64(&c, m->epoch);
	return enc_end(&c);
}

int ms_dec_freeze_ok(const void *buf, size_t len, struct ms_msg_freeze_ok *m)
{
	struct cur c = dec_begin(buf, len, MS_MSG_FREEZE_OK);

	m->generation = get_u64(&c);
	m->epoch = get_u64(&c);
	return dec_end(&c);
}

int ms_enc_mighandle(void *buf, size_t cap, enum ms_msg_type t, uint32_t handle)
{
	struct cur c = enc_begin(buf, cap, t);

	put_u32(&c, handle);
	return enc_end(&c);
}

int ms_dec_mighandle(const void *buf, size_t len, enum ms_msg_type t, uint32_t *handle)
{
	struct cur c = dec_begin(buf, len, t);

	*handle = get_u32(&c);
	return dec_end(&c);
}

int ms_enc_handoff(void *buf, size_t cap, const struct ms_msg_handoff *m)
{
	struct cur c = enc_begin(buf, cap, MS_MSG_HANDOFF);

	put_u32(&c, m->handle);
	put_u64(&c, m->epoch);
	put_str(&c, m->host, MS_HOST_MAX);
	put_str(&c, m->port, MS_PORT_MAX);
	return enc_end(&c);
}

int ms_dec_handoff(const void *buf, size_t len, struct ms_msg_handoff *m)
{
	struct cur c = dec_begin(buf, len, MS_MSG_HANDOFF);

	m->handle = get_u32(&c);
	m->epoch = get_u64(&c);
	get_str(&c, m->host, MS_HOST_MAX);
	get_str(&c, m->port, MS_PORT_MAX);
	if (!c.err && (!m->host[0] || !m->port[0]))
		return -EBADMSG;
	return dec_end(&c);
}

int ms_enc_moved(void *buf, size_t cap, const struct ms_msg_moved *m)
{
	struct cur c = enc_begin(buf, cap, MS_MSG_MOVED);

	put_str(&c, m->name, MS_NAME_MAX);
	put_str(&c, m->host, MS_HOST_MAX);
	put_str(&c, m->port, MS_PORT_MAX);
	put_u64(&c, m->epoch);
	return enc_end(&c);
}

int ms_dec_moved(const void *buf, size_t len, struct ms_msg_moved *m)
{
	struct cur c = dec_begin(buf, len, MS_MSG_MOVED);

	get_str(&c, m->name, MS_NAME_MAX);
	get_str(&c, m->host, MS_HOST_MAX);
	get_str(&c, m->port, MS_PORT_MAX);
	m->epoch = get_u64(&c);
	if (!c.err && (!m->host[0] || !m->port[0]))
		return -EBADMSG;
	return dec_end(&c);
}

static const char *const mode_names[] = { "hybrid", "precopy", "postcopy", "stopcopy" };
static const char *const phase_names[] = { "none", "precopy", "switching", "postcopy",
					   "done", "failed", "aborted" };

const char *ms_migrate_mode_name(enum ms_migrate_mode m)
{
	return (unsigned)m < MS_ARRAY_SIZE(mode_names) ? mode_names[m] : "unknown";
}

int ms_migrate_mode_parse(const char *s, enum ms_migrate_mode *out)
{
	for (unsigned i = 0; s && i < MS_ARRAY_SIZE(mode_names); i++)
		if (strcmp(s, mode_names[i]) == 0) {
			*out = (enum ms_migrate_mode)i;
			return 0;
		}
	return -EINVAL;
}

const char *ms_migrate_phase_name(enum ms_migrate_phase p)
{
	return (unsigned)p < MS_ARRAY_SIZE(phase_names) ? phase_names[p] : "unknown";
}
