/* SPDX-License-Identifier: Apache-2.0 */
/*
 * server_admin.c - runtime administration: the clients of a region and an
 * operator's disconnect (docs/operations.md, "Administration").
 *
 *  - A client entry is one open region of one connection: its id (the
 *    server's name for the connection, never reused while it runs), the
 *    peer's address, transport and key, the open's mode, whether it holds
 *    the region's write lease and at which epoch, the connection's data
 *    bytes (ms_xpeer: TCP counts them, RDMA cannot) and its idle time.
 *  - A disconnect fences the write leases the connection holds (as a
 *    lease break does: the reply means its writes are refused already),
 *    then marks it and asks its transport to recheck its peers: the loop
 *    closes it (peer_allowed, server_auth.c), and on_disconnect revokes
 *    its grants and closes its regions as for any peer that vanished.
 *  - Authorization (with keys): listing a region's clients takes a
 *    read-write grant on it (a read grant lists its own key's connections
 *    only); a disconnect takes a read-write grant on every region the
 *    target has open, or on every region when it has none open.
 *
 * Locking (server_int.h): peers are walked under s->lock, which keeps
 * every listed peer (and its ms_xpeer) alive; their open slots are read
 * with atomic loads (server_ctrl.c publishes them); e->lock is taken
 * afterwards, alone, for the lease.  Callers hold s->gp read-locked (the
 * handlers run under it; the public functions take it).
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "server_admin.h"

/* A region's name, also once it moved away (its memory reaped). */
static const char *ename(const struct ms_export *e)
{
	return e->mv.name[0] ? e->mv.name : e->r->name;
}

struct snap {
	struct ms_client_info ci;
	struct ms_export *e;
	const struct peer *p;
};

/* Every (peer, open region) pair, of region e0 only unless it is NULL,
 * into a malloc'ed array. */
static int snapshot(ms_server *s, const struct ms_export *e0, struct snap **out, size_t *n)
{
	uint64_t now = ms_now_ns();
	struct snap *sn;
	size_t cnt = 0, k = 0;

	pthread_mutex_lock(&s->lock);
	for (struct peer *p = s->peers; p; p = p->next)
		for (int i = 0; i < MAX_OPENS; i++)
			if (__atomic_load_n(&p->opens[i].e, __ATOMIC_ACQUIRE))
				cnt++;
	sn = calloc(cnt ? cnt : 1, sizeof(*sn));
	if (!sn) {
		pthread_mutex_unlock(&s->lock);
		return -ENOMEM;
	}
	for (struct peer *p = s->peers; p && k < cnt; p = p->next) {
		uint64_t last = __atomic_load_n(&p->xp->last_ns, __ATOMIC_RELAXED);

		for (int i = 0; i < MAX_OPENS && k < cnt; i++) {
			struct ms_export *e = __atomic_load_n(&p->opens[i].e, __ATOMIC_ACQUIRE);
			struct ms_client_info *ci = &sn[k].ci;

			if (!e || (e0 && e != e0))
				continue;
			sn[k].e = e;
			sn[k].p = p;
			ci->id = p->id;
			snprintf(ci->region, sizeof(ci->region), "%s", ename(e));
			snprintf(ci->address, sizeof(ci->address), "%s", p->xp->name);
			snprintf(ci->transport, sizeof(ci->transport), "%s", p->l->ops->name);
			snprintf(ci->key, sizeof(ci->key), "%s", p->xp->who);
			ci->mode = p->opens[i].mode;
			ci->bytes_read = __atomic_load_n(&p->xp->bytes_read, __ATOMIC_RELAXED);
			ci->bytes_written = __atomic_load_n(&p->xp->bytes_written, __ATOMIC_RELAXED);
			ci->idle_ms = now > last ? (now - last) / 1000000u : 0;
			memcpy(ci->client_id, p->client_id, 16);
			k++;
		}
	}
	pthread_mutex_unlock(&s->lock);
	*out = sn;
	*n = k;
	return 0;
}

/* The clients of region name ("": all) that viewer (NULL: the
 * application) may see; 0, -ENOENT (unknown or hidden region), -ENOMEM. */
static int collect(ms_server *s, const struct peer *viewer, const char *name,
		   struct ms_client_info **out, size_t *n)
{
	struct ms_export *e0 = NULL;
	struct ms_client_info *ci;
	struct snap *sn;
	size_t cnt, k = 0;
	int ret;

	if (name && *name) {
		e0 = ms_srv_find(s, name);
		if (!e0 || (viewer && ms_srv_grant(s, viewer, name) == MS_GRANT_NONE))
			return -ENOENT;
	}
	ret = snapshot(s, e0, &sn, &cnt);
	if (ret)
		return ret;
	ci = calloc(cnt ? cnt : 1, sizeof(*ci));
	if (!ci) {
		free(sn);
		return -ENOMEM;
	}
	for (size_t i = 0; i < cnt; i++) {
		struct ms_export *e = sn[i].e;

		if (viewer) {
			enum ms_grant g = ms_srv_grant(s, viewer, sn[i].ci.region);

			if (g == MS_GRANT_NONE ||
			    (g == MS_GRANT_READ && strcmp(sn[i].ci.key, viewer->xp->who) != 0))
				continue;
		}
		ci[k] = sn[i].ci;
		pthread_mutex_lock(&e->lock);
		if (e->lease.holder == sn[i].p) {
			ci[k].lease = true;
			ci[k].epoch = e->lease.epoch;
		}
		pthread_mutex_unlock(&e->lock);
		k++;
	}
	free(sn);
	*out = ci;
	*n = k;
	return 0;
}

/* Close connection id at the request of viewer (NULL: the application),
 * described as by in the log: 0, or -errno with msg set. */
static int kick(ms_server *s, const struct peer *viewer, uint64_t id, const char *by, char *msg,
		size_t msglen)
{
	struct ms_export *es[MAX_OPENS];
	struct listener *l = NULL;
	char name[sizeof(((struct ms_xpeer *)0)->name)] = "";
	char who[sizeof(((struct ms_xpeer *)0)->who)] = "";
	const char *denied = NULL;
	struct peer *q;
	int k = 0;

	pthread_mutex_lock(&s->lock);
	for (q = s->peers; q && q->id != id; q = q->next)
		;
	if (!q) {
		pthread_mutex_unlock(&s->lock);
		snprintf(msg, msglen, "no client %" PRIu64, id);
		return -ENOENT;
	}
	for (int i = 0; i < MAX_OPENS; i++)
		if ((es[k] = __atomic_load_n(&q->opens[i].e, __ATOMIC_ACQUIRE)) != NULL)
			k++;
	if (viewer && viewer->keys) {
		for (int i = 0; i < k && !denied; i++)
			if (ms_srv_grant(s, viewer, ename(es[i])) != MS_GRANT_RW)
				denied = ename(es[i]);
		for (struct ms_export *e = k ? NULL : s->exports; e && !denied; e = e->next)
			if (ms_srv_grant(s, viewer, ename(e)) != MS_GRANT_RW)
				denied = ename(e);
	}
	if (denied) {
		pthread_mutex_unlock(&s->lock);
		snprintf(msg, msglen,
			 "key '%s' may not disconnect client %" PRIu64
			 " (it needs a read-write grant on region '%s')",
			 viewer->xp->who, id, denied);
		return -EACCES;
	}
	snprintf(name, sizeof(name), "%s", q->xp->name);
	snprintf(who, sizeof(who), "%s", q->xp->who);
	l = q->l;
	__atomic_store_n(&q->kicked, true, __ATOMIC_RELEASE);
	pthread_mutex_unlock(&s->lock);
	ms_srv_log(s, MS_LOG_WARN, "disconnecting client %" PRIu64 " (%s%s%s%s) at the request of %s",
		   id, name, *who ? ", key '" : "", who, *who ? "'" : "", by);
	/* its leases end now, as a lease break ends them: when the operator
	 * hears back, its writes are refused already */
	for (int i = 0; i < k; i++) {
		bool held;

		pthread_mutex_lock(&es[i]->lock);
		held = es[i]->lease.holder == q;
		pthread_mutex_unlock(&es[i]->lock);
		if (held)
			ms_lease_fence(es[i], FENCE_BROKEN, by);
	}
	if (l->ops->srv_recheck)
		l->ops->srv_recheck(l->xs);
	return 0;
}

/* ------------------------------------------------------------ handlers */

int ms_srv_h_clients(ms_server *s, struct peer *p, const void *req, size_t len, void *resp,
		     size_t cap)
{
	char name[MS_NAME_MAX + 1];
	struct ms_client_info *ci;
	size_t n;
	int ret;

	if (ms_dec_clients(req, len, name))
		return ms_enc_error(resp, cap, EBADMSG, "malformed CLIENTS");
	ret = collect(s, p, name, &ci, &n);
	if (ret == -ENOENT)
		return ms_srv_hidden(resp, cap, name);
	if (ret)
		return ms_enc_error(resp, cap, -ret, "clients: %s", strerror(-ret));
	ret = ms_enc_clients_ok(resp, cap, ci, n);
	free(ci);
	if (ret < 0)
		return ms_enc_error(resp, cap, -ret, "too many clients for one reply (%zu)", n);
	return ret;
}

int ms_srv_h_disconnect(ms_server *s, struct peer *p, const void *req, size_t len,
			void *resp, size_t cap)
{
	char msg[MS_ERRMSG_MAX + 1], by[160];
	uint64_t id;
	int ret;

	if (ms_dec_disconnect(req, len, &id))
		return ms_enc_error(resp, cap, EBADMSG, "malformed DISCONNECT");
	snprintf(by, sizeof(by), "%s%s%s%s", p->xp->name, *p->xp->who ? " (key '" : "",
		 p->xp->who, *p->xp->who ? "')" : "");
	ret = kick(s, p, id, by, msg, sizeof(msg));
	if (ret) {
		ms_srv_log(s, MS_LOG_INFO, "%s: disconnect refused: %s", p->xp->name, msg);
		return ms_enc_error(resp, cap, -ret, "%s", msg);
	}
	return ms_enc_empty(resp, cap, MS_MSG_DISCONNECT_OK);
}

/* ---------------------------------------------------------- public API */

int ms_server_clients(ms_server *s, const char *name, struct ms_client_info **out, size_t *n)
{
	int ret;

	if (!s || !out || !n || (name && *name && !ms_name_valid(name)))
		return -EINVAL;
	pthread_rwlock_rdlock(&s->gp);   /* finds exports: server_int.h */
	ret = collect(s, NULL, name, out, n);
	pthread_rwlock_unlock(&s->gp);
	if (ret == -ENOENT)
		ms_srv_errmsg(s, "unknown region '%s'", name);
	return ret;
}

void ms_client_info_free(struct ms_client_info *info)
{
	free(info);
}

/* Is connection id still there? */
static bool peer_there(ms_server *s, uint64_t id)
{
	bool there = false;

	pthread_mutex_lock(&s->lock);
	for (struct peer *q = s->peers; q && !there; q = q->next)
		there = q->id == id;
	pthread_mutex_unlock(&s->lock);
	return there;
}

int ms_server_disconnect(ms_server *s, uint64_t id)
{
	char msg[MS_ERRMSG_MAX + 1];
	int ret;

	if (!s)
		return -EINVAL;
	pthread_rwlock_rdlock(&s->gp);
	ret = kick(s, NULL, id, "the application", msg, sizeof(msg));
	pthread_rwlock_unlock(&s->gp);
	if (ret) {
		ms_srv_errmsg(s, "%s", msg);
		return ret;
	}
	/* the loop closes it at its next wakeup: wait for that (bounded) */
	for (int i = 0; i < 5000 && peer_there(s, id); i++)
		nanosleep(&(struct timespec){ .tv_nsec = 1000000 }, NULL);
	return 0;
}
