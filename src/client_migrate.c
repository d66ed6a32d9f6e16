/* SPDX-License-Identifier: Apache-2.0 */
/*
 * client_migrate.c - the client's side of region migration: asking a
 * destination server to take a region (ms_migrate_start, _status, _abort),
 * and the requests a destination makes of the source as its client
 * (FREEZE, THAW, HANDOFF, MIGRATED) and a reader makes of a destination
 * that is still fetching (FETCH).  The rules are the servers'
 * (server_migrate.c, server_move.c; docs/protocol.md).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "client_int.h"
#include "client_priv.h"
#include "opts.h"

#define MS_MIGRATE_OPTS_V1 MS_OPTS_UPTO(struct ms_migrate_opts, path)

static int name_ok(ms_client *c, const char *what, const char *name)
{
	if (!name || !ms_name_valid(name))
		return cl_err(c, -EINVAL, "%s: '%s' is not a region name", what,
			      name ? name : "(null)");
	return 0;
}

int ms_migrate_start(ms_client *dst, const char *name, const char *src_host,
		     const char *src_port, const struct ms_migrate_opts *o)
{
	struct ms_msg_migrate m = { 0 };
	struct ms_migrate_opts mo;
	int ret;

	if ((ret = name_ok(dst, "migrate", name)))
		return ret;
	ret = ms_opts_take(&mo, sizeof(mo), MS_MIGRATE_OPTS_V1, o);
	if (ret)
		return cl_err(dst, ret, "migrate: options not valid");
	if (!src_host || !*src_host || !src_port || !*src_port ||
	    strlen(src_host) > MS_HOST_MAX || strlen(src_port) > MS_PORT_MAX)
		return cl_err(dst, -EINVAL, "migrate: the source needs a host and a port");
	if (mo.path && strlen(mo.path) > MS_PATH_MAX)
		return cl_err(dst, -ENAMETOOLONG, "migrate: path longer than %d bytes",
			      MS_PATH_MAX);
	if ((unsigned)mo.mode > MS_MIGRATE_STOPCOPY)
		return cl_err(dst, -EINVAL, "migrate: unknown mode %d", (int)mo.mode);
	snprintf(m.name, sizeof(m.name), "%s", name);
	snprintf(m.host, sizeof(m.host), "%s", src_host);
	snprintf(m.port, sizeof(m.port), "%s", src_port);
	snprintf(m.path, sizeof(m.path), "%s", mo.path ? mo.path : "");
	/* B is where this client reached it, unless told otherwise */
	snprintf(m.self_host, sizeof(m.self_host), "%s",
		 mo.advertise_host ? mo.advertise_host : dst->host);
	snprintf(m.self_port, sizeof(m.self_port), "%s",
		 mo.advertise_port ? mo.advertise_port : dst->port);
	m.mode = (uint32_t)mo.mode;
	m.downtime_ms = mo.downtime_ms;
	m.max_rounds = mo.max_rounds;
	m.transport = (uint32_t)mo.transport;
	m.max_bandwidth = mo.max_bandwidth;
	ret = cl_call(dst, "migrate", ms_enc_migrate(dst->msg, MS_CTRL_MAX, &m),
		      MS_MSG_MIGRATE_OK);
	if (ret < 0)
		return ret;
	if (ms_dec_empty(dst->resp, (size_t)ret, MS_MSG_MIGRATE_OK))
		return cl_err(dst, -EPROTO, "migrate: malformed reply");
	return 0;
}

int ms_migrate_status(ms_client *dst, const char *name, struct ms_migrate_stat *out)
{
	int ret;

	if ((ret = name_ok(dst, "migrate status", name)))
		return ret;
	ret = cl_call(dst, "migrate status",
		      ms_enc_migname(dst->msg, MS_CTRL_MAX, MS_MSG_MIGRATE_STATUS, name),
		      MS_MSG_MIGRATE_STATUS_OK);
	if (ret < 0)
		return ret;
	if (ms_dec_migrate_stat(dst->resp, (size_t)ret, out))
		return cl_err(dst, -EPROTO, "migrate status: malformed reply");
	return 0;
}

int ms_migrate_abort(ms_client *dst, const char *name)
{
	int ret;

	if ((ret = name_ok(dst, "migrate abort", name)))
		return ret;
	ret = cl_call(dst, "migrate abort",
		      ms_enc_migname(dst->msg, MS_CTRL_MAX, MS_MSG_MIGRATE_ABORT, name),
		      MS_MSG_MIGRATE_ABORT_OK);
	if (ret < 0)
		return ret;
	if (ms_dec_empty(dst->resp, (size_t)ret, MS_MSG_MIGRATE_ABORT_OK))
		return cl_err(dst, -EPROTO, "migrate abort: malformed reply");
	return 0;
}

int ms_region_freeze(ms_region *r, uint32_t ms, uint64_t *gen, uint64_t *epoch)
{
	ms_client *c = r->c;
	struct ms_msg_freeze m = { .handle = r->handle, .ms = ms };
	struct ms_msg_freeze_ok ok;
	int len;

	len = cl_call(c, "freeze", ms_enc_freeze(c->msg, MS_CTRL_MAX, &m), MS_MSG_FREEZE_OK);
	if (len < 0)
		return len;
	if (ms_dec_freeze_ok(c->resp, (size_t)len, &ok))
		return cl_err(c, -EPROTO, "freeze: malformed reply");
	if (gen)
		*gen = ok.generation;
	if (epoch)
		*epoch = ok.epoch;
	return 0;
}

static int handle_call(ms_region *r, const char *what, enum ms_msg_type t,
		       enum ms_msg_type want)
{
	ms_client *c = r->c;
	int len;

	len = cl_call(c, what, ms_enc_mighandle(c->msg, MS_CTRL_MAX, t, r->handle), want);
	if (len < 0)
		return len;
	if (ms_dec_empty(c->resp, (size_t)len, want))
		return cl_err(c, -EPROTO, "%s: malformed reply", what);
	return 0;
}

int ms_region_thaw(ms_region *r)
{
	return handle_call(r, "thaw", MS_MSG_THAW, MS_MSG_THAW_OK);
}

int ms_region_migrated(ms_region *r)
{
	return handle_call(r, "migrated", MS_MSG_MIGRATED, MS_MSG_MIGRATED_OK);
}

int ms_region_handoff(ms_region *r, uint64_t epoch, const char *host, const char *port,
		      uint64_t *gen)
{
	ms_client *c = r->c;
	struct ms_msg_handoff m = { .handle = r->handle, .epoch = epoch };
	struct ms_msg_gen g;
	int len;

	if (!host || !*host || !port || !*port || strlen(host) > MS_HOST_MAX ||
	    strlen(port) > MS_PORT_MAX)
		return cl_err(c, -EINVAL, "handoff: the destination needs a host and a port");
	snprintf(m.host, sizeof(m.host), "%s", host);
	snprintf(m.port, sizeof(m.port), "%s", port);
	len = cl_call(c, "handoff", ms_enc_handoff(c->msg, MS_CTRL_MAX, &m), MS_MSG_HANDOFF_OK);
	if (len < 0)
		return len;
	if (ms_dec_gen(c->resp, (size_t)len, MS_MSG_HANDOFF_OK, &g))
		return cl_err(c, -EPROTO, "handoff: malformed reply");
	if (gen)
		*gen = g.generation;
	return 0;
}

int ms_region_fetch(ms_region *r, const uint64_t *idx, size_t n)
{
	ms_client *c = r->c;
	struct ms_msg_chunks m = { .handle = r->handle, .n = (uint32_t)n, .idx = (uint64_t *)idx };
	int len;

	if (n == 0 || n > MS_HOT_MAX)
		return cl_err(c, -EINVAL, "fetch: 1..%u chunks at a time", MS_HOT_MAX);
	for (size_t i = 0; i < n; i++)
		if (idx[i] >= r->info.nchunks)
			return cl_err(c, -ERANGE, "fetch: chunk %llu of %llu",
				      (unsigned long long)idx[i],
				      (unsigned long long)r->info.nchunks);
	len = cl_call(c, "fetch", ms_enc_chunks(c->msg, MS_CTRL_MAX, MS_MSG_FETCH, &m),
		      MS_MSG_FETCH_OK);
	if (len < 0)
		return len;
	if (ms_dec_empty(c->resp, (size_t)len, MS_MSG_FETCH_OK))
		return cl_err(c, -EPROTO, "fetch: malformed reply");
	return 0;
}

int ms_chunk_meta(ms_region *r, uint64_t first, uint64_t n, void *buf)
{
	const uint64_t batch = 1u << 15;     /* 1 MiB of entries per read */
	int ret = 0;

	if (!n || first >= r->info.nchunks || n > r->info.nchunks - first)
		return cl_err(r->c, -ERANGE, "metadata: chunks [%llu, +%llu) are outside "
			      "region '%s'", (unsigned long long)first, (unsigned long long)n,
			      r->info.name);
	for (uint64_t done = 0; done < n && !ret; done += batch)
		ret = cl_read_meta(r, first + done, MS_MIN(batch, n - done),
				   (uint8_t *)buf + done * MS_META_ENTRY_SIZE);
	return ret;
}

bool ms_client_moved_to(const ms_client *c, const char **host, const char **port,
			uint64_t *epoch)
{
	if (!c->moved)
		return false;
	*host = c->moved_host;
	*port = c->moved_port;
	*epoch = c->moved_epoch;
	return true;
}
