/* SPDX-License-Identifier: Apache-2.0 */
/*
 * server_auth.c - who may do what on this server (docs/security.md).
 *
 *  - Keys: ms_server_opts.auth_keys names a key file (auth.h); the
 *    transports run the handshake against it (auth_lookup) before the
 *    engine meets a peer, and a peer's key name is ms_xpeer.who.
 *  - Grants: every request about a region asks ms_srv_grant() what the
 *    peer's key may do there.  A peer without a grant on a region learns
 *    nothing about it: it gets the very answer a region that does not
 *    exist gets (ms_srv_hidden()).
 *  - Reloads: ms_server_reload_keys() swaps the database whole under
 *    s->lock; each peer holds the database it was admitted under (a
 *    reference), and the transports then ask ms_srv_peer_allowed() of
 *    every peer: one whose key is gone, changed its secret or lost a grant
 *    is closed, and its registrations go with it (on_disconnect).
 *  - Without keys a server listens only on loopback addresses, unless
 *    ms_server_opts.insecure says otherwise.
 *
 * Locking: s->keys is read and swapped under s->lock; p->keys is touched
 * only on p's listener's loop thread (on_connect, handlers, the recheck).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server_int.h"

/* Is every address host resolves to a loopback one? */
bool ms_srv_host_loopback(const char *host)
{
	struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
				  .ai_flags = AI_PASSIVE | AI_NUMERICSERV };
	struct addrinfo *res, *ai;
	bool all = true;

	if (!host || !*host)
		return false;   /* the wildcard: every interface */
	if (getaddrinfo(host, "1", &hints, &res))
		return false;
	for (ai = res; ai; ai = ai->ai_next) {
		if (ai->ai_family == AF_INET) {
			const struct sockaddr_in *a = (const void *)ai->ai_addr;

			all &= (ntohl(a->sin_addr.s_addr) >> 24) == 127;
		} else if (ai->ai_family == AF_INET6) {
			const struct sockaddr_in6 *a = (const void *)ai->ai_addr;

			all &= IN6_IS_ADDR_LOOPBACK(&a->sin6_addr) ||
			       (IN6_IS_ADDR_V4MAPPED(&a->sin6_addr) &&
				a->sin6_addr.s6_addr[12] == 127);
		} else {
			all = false;
		}
	}
	freeaddrinfo(res);
	return all;
}

int ms_srv_auth_init(ms_server *s, const struct ms_server_opts *o)
{
	const char *host = o->host ? o->host : "127.0.0.1";
	struct ms_authkey k;
	char err[400];
	int ret;

	/* the listeners' limits (xlimits.h; TLS is added by server_tls.c) */
	s->xso = (struct ms_xsrv_opts){ .max_conns = o->max_conns, .max_mem = o->max_mem,
		.max_conns_per_addr = o->max_conns_per_addr, .max_peer_mem = o->max_peer_mem,
		.idle_timeout_ms = o->idle_timeout_ms };
	if (o->key_file) {
		/* the key this server presents to others: checked now, read
		 * again at each use (it may be replaced) */
		ret = ms_authkey_load(o->key_file, &k, err, sizeof(err));
		explicit_bzero(&k, sizeof(k));
		if (ret) {
			snprintf(s->errmsg, sizeof(s->errmsg), "%s", err);
			return ret;
		}
		s->key_file = strdup(o->key_file);
		if (!s->key_file)
			return -ENOMEM;
	}
	if (!o->auth_keys) {
		if (o->insecure || ms_srv_host_loopback(host))
			return 0;
		snprintf(s->errmsg, sizeof(s->errmsg),
			 "refusing to listen on %s without authentication: anyone who reaches "
			 "it could read and write every region; give a key file (memsyncd "
			 "--auth-keys FILE) or, on a network you trust, --insecure",
			 *host ? host : "every address");
		return -EACCES;
	}
	ret = ms_keydb_load(o->auth_keys, &s->keys, err, sizeof(err));
	if (ret) {
		snprintf(s->errmsg, sizeof(s->errmsg), "%s", err);
		return ret;
	}
	s->keys_path = strdup(o->auth_keys);
	if (!s->keys_path)
		return -ENOMEM;
	return 0;
}

void ms_srv_auth_fini(ms_server *s)
{
	ms_keydb_put(s->keys);
	s->keys = NULL;
	free(s->keys_path);
	s->keys_path = NULL;
	free(s->key_file);
	s->key_file = NULL;
}

static struct ms_keydb *keys_now(ms_server *s)
{
	struct ms_keydb *db;

	pthread_mutex_lock(&s->lock);
	db = ms_keydb_get(s->keys);
	pthread_mutex_unlock(&s->lock);
	return db;
}

static int auth_lookup(void *ud, const char *name, uint8_t *secret, size_t *len)
{
	ms_server *s = ((struct listener *)ud)->srv;
	struct ms_keydb *db = keys_now(s);
	int ret = db ? ms_keydb_secret(db, name, secret, len) : -ENOENT;

	ms_keydb_put(db);
	return ret;
}

/* Loop thread: may p stay after a reload?  It may when its key is still
 * there with the same secret and at least the grants it was admitted
 * with; it then holds the new database. */
static bool peer_allowed(void *ud, struct ms_xpeer *xp)
{
	ms_server *s = ((struct listener *)ud)->srv;
	struct peer *p = xp->eng;
	struct ms_keydb *db;
	bool ok;

	if (p && __atomic_load_n(&p->kicked, __ATOMIC_ACQUIRE)) {
		xp->refused_why = "disconnected at an operator's request";  /* server_admin.c */
		return false;
	}
	if (!p || !p->keys)
		return true;
	db = keys_now(s);
	ok = db && ms_keydb_same(p->keys, db, xp->who);
	if (ok) {
		ms_keydb_put(p->keys);
		p->keys = db;
	} else {
		ms_keydb_put(db);
		ms_srv_log(s, MS_LOG_WARN, "%s: key '%s' revoked or reduced: disconnecting",
			   xp->name, xp->who);
	}
	return ok;
}

int ms_srv_auth_cbs(ms_server *s, const struct ms_transport_ops *ops, struct ms_xsrv_cbs *cbs,
		    char *err, size_t errlen)
{
	/* asked on every recheck: a revoked key, an operator's disconnect */
	cbs->peer_allowed = peer_allowed;
	if (!s->keys)
		return 0;
	if (!(ops->caps & MS_XCAP_AUTH)) {
		snprintf(err, errlen, "the %s transport cannot authenticate peers", ops->name);
		return -EPROTONOSUPPORT;
	}
	cbs->auth_lookup = auth_lookup;
	return 0;
}

void ms_srv_auth_peer_init(ms_server *s, struct peer *p)
{
	p->keys = keys_now(s);
}

void ms_srv_auth_peer_fini(struct peer *p)
{
	ms_keydb_put(p->keys);
	p->keys = NULL;
}

enum ms_grant ms_srv_grant(ms_server *s, const struct peer *p, const char *region)
{
	(void)s;
	if (!p->keys)           /* the server does not authenticate */
		return MS_GRANT_RW;
	return ms_keydb_grant(p->keys, p->xp->who, region);
}

int ms_srv_hidden(void *resp, size_t cap, const char *region)
{
	return ms_enc_error(resp, cap, ENOENT, "unknown region '%s'", region);
}

int ms_srv_need(ms_server *s, const struct peer *p, const char *region, enum ms_grant need,
		void *resp, size_t cap, const char *what)
{
	enum ms_grant g = ms_srv_grant(s, p, region);

	if (g == MS_GRANT_NONE)
		return ms_srv_hidden(resp, cap, region);
	if (g < need)
		return ms_enc_error(resp, cap, EACCES, "key '%s' may only read region '%s' (%s)",
				    p->xp->who, region, what);
	return 0;
}

/* The handle a by-handle request starts with (proto.h: u32 after the
 * 4-byte header). */
static bool handle_of(const void *req, size_t len, uint32_t *h)
{
	const uint8_t *b = req;

	if (len < 8)
		return false;
	*h = (uint32_t)b[4] | (uint32_t)b[5] << 8 | (uint32_t)b[6] << 16 | (uint32_t)b[7] << 24;
	return true;
}

int ms_srv_authorize(ms_server *s, struct peer *p, int type, const void *req, size_t len,
		     void *resp, size_t cap)
{
	char name[MS_NAME_MAX + 1] = "";
	enum ms_grant need = MS_GRANT_READ;
	struct open_slot *o;
	uint32_t h;

	if (!p->keys)
		return 0;
	switch (type) {
	case MS_MSG_OPEN: {
		struct ms_msg_open m;

		if (ms_dec_open(req, len, &m))
			return 0;       /* the handler says it is malformed */
		snprintf(name, sizeof(name), "%s", m.name);
		need = m.mode == MS_MODE_WRITE ? MS_GRANT_RW : MS_GRANT_READ;
		break;
	}
	case MS_MSG_LEASE:
	case MS_MSG_LEASE_BREAK:
		if (ms_dec_lease(req, len, (enum ms_msg_type)type, name))
			return 0;
		need = type == MS_MSG_LEASE_BREAK ? MS_GRANT_RW : MS_GRANT_READ;
		break;
	case MS_MSG_STAT: {
		struct ms_msg_stat m;

		if (ms_dec_stat(req, len, &m) || !m.name[0])
			return 0;       /* "" lists only what the key may see */
		snprintf(name, sizeof(name), "%s", m.name);
		break;
	}
	case MS_MSG_MIGRATE: {
		struct ms_msg_migrate m;

		if (ms_dec_migrate(req, len, &m))
			return 0;
		snprintf(name, sizeof(name), "%s", m.name);
		need = MS_GRANT_RW;
		break;
	}
	case MS_MSG_MIGRATE_STATUS:
	case MS_MSG_MIGRATE_ABORT:
		if (ms_dec_migname(req, len, (enum ms_msg_type)type, name))
			return 0;
		need = type == MS_MSG_MIGRATE_ABORT ? MS_GRANT_RW : MS_GRANT_READ;
		break;
	case MS_MSG_FREEZE:
	case MS_MSG_THAW:
	case MS_MSG_HANDOFF:
	case MS_MSG_MIGRATED:
		/* moving a region away takes the right to write it */
		if (!handle_of(req, len, &h) || !(o = ms_srv_slot(p, h)))
			return 0;       /* the handler answers EBADF */
		snprintf(name, sizeof(name), "%s", o->e->mv.name[0] ? o->e->mv.name : o->e->r->name);
		need = MS_GRANT_RW;
		break;
	default:
		return 0;               /* by handle: checked when it was opened */
	}
	return ms_srv_need(s, p, name, need, resp, cap, ms_msg_name(type));
}

void ms_srv_stat_filter(ms_server *s, const struct peer *p, struct ms_region_stat *st, size_t *n)
{
	size_t k = 0;

	if (!p->keys)
		return;
	for (size_t i = 0; i < *n; i++)
		if (ms_srv_grant(s, p, st[i].name) != MS_GRANT_NONE)
			st[k++] = st[i];
	*n = k;
}

int ms_server_reload_keys(ms_server *s)
{
	struct ms_keydb *db = NULL, *old;
	char err[400];
	int ret;

	if (!s)
		return -EINVAL;
	if (!s->keys_path) {
		ms_srv_errmsg(s, "this server was started without keys (auth_keys)");
		return -EINVAL;
	}
	ret = ms_keydb_load(s->keys_path, &db, err, sizeof(err));
	if (ret) {
		ms_srv_errmsg(s, "%s; the keys loaded before stay", err);
		return ret;
	}
	pthread_mutex_lock(&s->lock);
	old = s->keys;
	s->keys = db;
	pthread_mutex_unlock(&s->lock);
	ms_srv_log(s, MS_LOG_INFO, "keys reloaded from %s: %zu keys", s->keys_path,
		   ms_keydb_count(db));
	ms_keydb_put(old);
	for (unsigned i = 0; i < s->nl; i++)
		if (s->l[i].ops->srv_recheck)
			s->l[i].ops->srv_recheck(s->l[i].xs);
	return 0;
}
