/* SPDX-License-Identifier: Apache-2.0 */
/*
 * server_ctrl.c - the control protocol on the server side: peers, write
 * leases and the request handlers, called on the listeners' loop threads.
 *
 *  - a writer takes the region's lease (one writer per region, whatever
 *    its transport) with a new epoch; its write access (staging areas,
 *    or the region itself in direct mode) lives as long as the lease
 *    (server_lease.c: renewals, lapses, breaks, handovers); closing or
 *    vanishing revokes it;
 *  - a commit is decoded here, its lease checked, and handed to
 *    ms_region_commit(), which owns the rules (verify, then publish); a
 *    remote one runs on the commit worker (server_work.c), answered later
 *    through srv_reply, so the loop thread goes on serving others.
 *
 * A handler holds a lock only for a few loads and stores (server_int.h);
 * the work proportional to a region (hashing, registering memory) runs
 * with no server or export lock held, so one peer's commit or one write
 * grant does not hold up another peer's HELLO, OPEN or STAT.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server_grant.h"
#include "server_int.h"
#include "server_admin.h"
#include "server_attach.h"
#include "server_move.h"

static void id_hex(const uint8_t id[16], char out[33])
{
	for (int i = 0; i < 16; i++)
		snprintf(out + 2 * i, 3, "%02x", id[i]);
}

static void close_slot(ms_server *s, struct peer *p, struct open_slot *o)
{
	struct ms_export *e = o->e;

	ms_attach_close(s, p, (uint32_t)(o - p->opens));
	ms_grant_close(p, o);
	if (ms_move_reaped(e)) {         /* migrated away: its region is gone */
		free(o->hold);
		o->hold = NULL;
	} else {
		ms_srv_hold_drop(s, p, o);
	}
	if (o->mode == MS_MODE_WRITE && ms_lease_release(e, p))
		ms_srv_log(s, MS_LOG_INFO, "%s released the write lease of '%s'",
			   p->xp->name, e->r->name);
	pthread_mutex_lock(&e->lock);
	e->clients--;
	pthread_mutex_unlock(&e->lock);
	/* other threads read it (server_admin.c) */
	__atomic_store_n(&o->e, NULL, __ATOMIC_RELEASE);
}

/* ------------------------------------------------------ control requests */

typedef int (*handler_fn)(ms_server *s, struct peer *p, const void *req,
			  size_t len, void *resp, size_t cap);

/* FETCH is dispatched on its own (it may be answered later) */
static int h_fetch(ms_server *s, struct peer *p, const void *req, size_t len, void *resp,
		   size_t cap)
{
	(void)s; (void)p; (void)req; (void)len;
	return ms_enc_error(resp, cap, EPROTO, "FETCH dispatched wrongly");
}

static int h_hello(ms_server *s, struct peer *p, const void *req, size_t len,
		   void *resp, size_t cap)
{
	struct ms_msg_hello h;
	struct ms_msg_hello_ok ok = { .version = MS_PROTO_VERSION, .max_io = SERVER_MAX_IO };
	char hex[33], other[sizeof(p->xp->name)] = "";

	if (ms_dec_hello(req, len, &h))
		return ms_enc_error(resp, cap, EBADMSG, "malformed HELLO");
	if (p->hello)
		return ms_enc_error(resp, cap, EPROTO, "HELLO sent twice");
	if (h.version != MS_PROTO_VERSION)
		return ms_enc_error(resp, cap, EPROTONOSUPPORT,
				    "protocol version %u not supported (server speaks %d): "
				    "client and server must run the same memsync protocol",
				    h.version, MS_PROTO_VERSION);
	id_hex(h.client_id, hex);
	/* the check and the claim in one hold: two connections with one id,
	 * through two listeners, cannot both pass.  An id belongs to the
	 * identity that authenticated (xp->who): a peer of another key can
	 * neither take nor block it */
	pthread_mutex_lock(&s->lock);
	for (struct peer *q = s->peers; q && !*other; q = q->next)
		if (q != p && q->hello && memcmp(q->client_id, h.client_id, 16) == 0 &&
		    strcmp(q->xp->who, p->xp->who) == 0)
			snprintf(other, sizeof(other), "%s", q->xp->name);
	if (!*other) {
		memcpy(p->client_id, h.client_id, 16);
		p->hello = true;
	}
	pthread_mutex_unlock(&s->lock);
	if (*other) {
		ms_srv_log(s, MS_LOG_WARN,
			   "%s: refused: client id %s is already connected from %s",
			   p->xp->name, hex, other);
		return ms_enc_error(resp, cap, EEXIST,  /* names no other client's address */
				    "client id %s is already connected", hex);
	}
	memcpy(ok.server_id, s->server_id, 16);
	ms_srv_log(s, MS_LOG_DEBUG, "%s: hello from %s (client id %s)", p->xp->name,
		   h.agent, hex);
	return ms_enc_hello_ok(resp, cap, &ok);
}

static int h_open(ms_server *s, struct peer *p, const void *req, size_t len,
		  void *resp, size_t cap)
{
	struct ms_msg_open m;
	struct ms_msg_open_ok ok = { 0 };
	struct ms_export *e;
	struct open_slot *slot = NULL;
	struct listener *l = p->l;
	char msg[MS_ERRMSG_MAX + 1];
	int ret;

	if (ms_dec_open(req, len, &m))
		return ms_enc_error(resp, cap, EBADMSG, "malformed OPEN");
	if (m.mode != MS_MODE_READ && m.mode != MS_MODE_WRITE)
		return ms_enc_error(resp, cap, EINVAL, "invalid open mode %u", m.mode);
	e = ms_srv_find(s, m.name);
	if (!e)
		return ms_enc_error(resp, cap, ENOENT, "unknown region '%s'", m.name);
	if (ms_mig_open_check(e, msg, sizeof(msg)))
		return ms_enc_error(resp, cap, EAGAIN, "%s", msg);
	for (int i = 0; i < MAX_OPENS && !slot; i++)
		if (!p->opens[i].e)
			slot = &p->opens[i];
	if (!slot)
		return ms_enc_error(resp, cap, EMFILE,
				    "too many open regions on one connection (%d)",
				    MAX_OPENS);
	/* this client's own keys: read-only, but a direct writer's data */
	ret = ms_grant_open(p, slot, e, m.mode != MS_MODE_WRITE || e->mode != MS_COMMIT_DIRECT,
			    &ok.data, &ok.meta);
	if (ret)
		return ms_enc_error(resp, cap, -ret, "cannot grant access to '%s': %s", m.name,
				    strerror(-ret));
	ok.commit_mode = (uint32_t)e->mode;
	if (m.mode == MS_MODE_WRITE) {
		struct ms_lease_info li;

		ret = ms_lease_take(e, p, m.expect_epoch, msg, sizeof(msg));
		if (ret) {
			ms_grant_close(p, slot);
			return ms_enc_error(resp, cap, -ret, "%s", msg);
		}
		if (e->mode == MS_COMMIT_DIRECT)
			ok.data = ms_lease_write_desc(e);
		ms_lease_info_of(e, &li);
		ok.epoch = li.epoch;
		ok.lease_ttl_ms = s->lease_ttl_ms;
		ok.stage_limit = e->mode == MS_COMMIT_ATOMIC ? e->stage_limit : 0;
		ms_srv_log(s, MS_LOG_INFO, "%s holds the write lease of '%s' (%s, epoch %llu)",
			   p->xp->name, m.name, l->ops->name, (unsigned long long)li.epoch);
	}
	slot->mode = (enum ms_mode)m.mode;
	slot->touched = false;
	__atomic_store_n(&slot->e, e, __ATOMIC_RELEASE);  /* after mode: server_admin.c */
	pthread_mutex_lock(&e->lock);
	e->clients++;
	pthread_mutex_unlock(&e->lock);
	ok.handle = (uint32_t)(slot - p->opens);
	ok.mode = m.mode;
	ok.size = e->r->size;
	ok.chunk_size = e->r->chunk_size;
	ok.nchunks = e->r->nchunks;
	ok.generation = ms_region_generation(e->r);
	return ms_enc_open_ok(resp, cap, &ok);
}

struct open_slot *ms_srv_slot(struct peer *p, uint32_t handle)
{
	if (handle >= MAX_OPENS || !p->opens[handle].e)
		return NULL;
	return &p->opens[handle];
}

static int h_close(ms_server *s, struct peer *p, const void *req, size_t len,
		   void *resp, size_t cap)
{
	struct ms_msg_handle m;
	struct open_slot *o;

	if (ms_dec_close(req, len, &m))
		return ms_enc_error(resp, cap, EBADMSG, "malformed CLOSE");
	o = ms_srv_slot(p, m.handle);
	if (!o)
		return ms_enc_error(resp, cap, EBADF, "no open region with handle %u",
				    m.handle);
	close_slot(s, p, o);
	return ms_enc_empty(resp, cap, MS_MSG_CLOSE_OK);
}

/* Inline, on the loop thread: when no worker can take the commit. */
static int h_commit(ms_server *s, struct peer *p, const void *req, size_t len,
		    void *resp, size_t cap)
{
	int ret = ms_srv_commit(s, p, req, len, resp, cap, p->l->ents);

	if (ret == MS_MOVE_LATER)        /* frozen, and no worker to park it */
		return ms_enc_error(resp, cap, EAGAIN,
				    "the region is frozen (being migrated): commit again");
	return ret;
}

static int h_hot(ms_server *s, struct peer *p, const void *req, size_t len,
		 void *resp, size_t cap)
{
	struct ms_msg_hot m;
	struct ms_msg_chunks out;
	struct open_slot *o;
	uint64_t *chunks = p->l->chunks;
	int ret;

	(void)s;
	if (ms_dec_hot(req, len, &m))
		return ms_enc_error(resp, cap, EBADMSG, "malformed HOT (max must be 1..%u)",
				    MS_HOT_MAX);
	o = ms_srv_slot(p, m.handle);
	if (!o)
		return ms_enc_error(resp, cap, EBADF, "no open region with handle %u",
				    m.handle);
	out = (struct ms_msg_chunks){ .handle = m.handle, .idx = chunks };
	out.n = (uint32_t)ms_region_hot(o->e->r, chunks, m.max);
	ret = ms_enc_chunks(resp, cap, MS_MSG_HOT_OK, &out);
	return ret < 0 ? ms_enc_error(resp, cap, -ret, "hot list too large for one reply") : ret;
}

static int u64_cmp(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return (x > y) - (x < y);
}

/* Sort idx and drop repeats: how many are left. */
static uint32_t dedup(uint64_t *idx, uint32_t n)
{
	uint32_t k = 0;

	qsort(idx, n, sizeof(*idx), u64_cmp);
	for (uint32_t i = 0; i < n; i++)
		if (!k || idx[k - 1] != idx[i])
			idx[k++] = idx[i];
	return k;
}

static int h_touch(ms_server *s, struct peer *p, const void *req, size_t len,
		   void *resp, size_t cap)
{
	struct ms_msg_chunks m;
	struct open_slot *o;
	int ret;

	(void)s;
	ret = ms_dec_chunks(req, len, MS_MSG_TOUCH, &m, p->l->chunks, MS_HOT_MAX);
	if (ret)
		return ms_enc_error(resp, cap, -ret, "malformed TOUCH (at most %u chunks)",
				    MS_HOT_MAX);
	o = ms_srv_slot(p, m.handle);
	if (!o)
		return ms_enc_error(resp, cap, EBADF, "no open region with handle %u",
				    m.handle);
	/* a reader reports its faults once per open, each chunk once: it can
	 * weigh in on the hot list like one more reader, not rewrite it */
	if (o->mode != MS_MODE_WRITE && o->touched)
		return ms_enc_error(resp, cap, EPERM, "TOUCH: a read handle reports its use "
				    "once (handle %u did); nothing counted", m.handle);
	if (o->mode != MS_MODE_WRITE)
		m.n = dedup(m.idx, m.n);
	if (ms_region_touch(o->e->r, m.idx, m.n))
		return ms_enc_error(resp, cap, ERANGE,
				    "TOUCH names a chunk outside '%s' (%llu chunks); nothing counted",
				    o->e->r->name, (unsigned long long)o->e->r->nchunks);
	o->touched = true;
	return ms_enc_empty(resp, cap, MS_MSG_TOUCH_OK);
}

static int h_stat(ms_server *s, struct peer *p, const void *req, size_t len,
		  void *resp, size_t cap)
{
	struct ms_msg_stat m;
	struct ms_region_stat *st;
	size_t n;
	int ret;

	if (ms_dec_stat(req, len, &m))
		return ms_enc_error(resp, cap, EBADMSG, "malformed STAT");
	ret = ms_srv_collect_stats(s, m.name, &st, &n);
	if (ret == -ENOENT)
		return ms_enc_error(resp, cap, ENOENT, "unknown region '%s'", m.name);
	if (ret)
		return ms_enc_error(resp, cap, -ret, "stat failed: %s", strerror(-ret));
	ms_srv_stat_filter(s, p, st, &n);
	ret = ms_enc_stat_ok(resp, cap, st, n);
	free(st);
	if (ret < 0)
		return ms_enc_error(resp, cap, -ret, "too many regions for one reply");
	return ret;
}

static void close_all(ms_server *s, struct peer *p)
{
	for (int i = 0; i < MAX_OPENS; i++)
		if (p->opens[i].e)
			close_slot(s, p, &p->opens[i]);
}

static int h_bye(ms_server *s, struct peer *p, const void *req, size_t len,
		 void *resp, size_t cap)
{
	if (ms_dec_empty(req, len, MS_MSG_BYE))
		return ms_enc_error(resp, cap, EBADMSG, "malformed BYE");
	close_all(s, p);
	return ms_enc_empty(resp, cap, MS_MSG_BYE_OK);
}

int ms_srv_on_ctrl(void *ud, struct ms_xpeer *xp, const void *req, size_t len,
		   void *resp, size_t cap, size_t *resp_len)
{
	ms_server *s = ((struct listener *)ud)->srv;
	struct peer *p = xp->eng;
	int type = ms_msg_type(req, len);
	handler_fn h = NULL;
	int ret;

	switch (type) {
	case MS_MSG_HELLO: h = h_hello; break;
	case MS_MSG_OPEN: h = h_open; break;
	case MS_MSG_CLOSE: h = h_close; break;
	case MS_MSG_COMMIT: h = h_commit; break;
	case MS_MSG_STAT: h = h_stat; break;
	case MS_MSG_BYE: h = h_bye; break;
	case MS_MSG_HOT: h = h_hot; break;
	case MS_MSG_TOUCH: h = h_touch; break;
	case MS_MSG_STAGE: h = ms_srv_h_stage; break;
	case MS_MSG_RENEW: h = ms_srv_h_renew; break;
	case MS_MSG_LEASE: h = ms_srv_h_lease; break;
	case MS_MSG_LEASE_BREAK: h = ms_srv_h_lease_break; break;
	case MS_MSG_HANDOVER: h = ms_srv_h_handover; break;
	case MS_MSG_HOLD: h = ms_srv_h_hold; break;
	case MS_MSG_RELEASE: h = ms_srv_h_release; break;
	case MS_MSG_MIGRATE: h = ms_srv_h_migrate; break;
	case MS_MSG_MIGRATE_STATUS: h = ms_srv_h_migrate_status; break;
	case MS_MSG_MIGRATE_ABORT: h = ms_srv_h_migrate_abort; break;
	case MS_MSG_FETCH: h = h_fetch; break;
	case MS_MSG_FREEZE: h = ms_move_h_freeze; break;
	case MS_MSG_THAW: h = ms_move_h_thaw; break;
	case MS_MSG_HANDOFF: h = ms_move_h_handoff; break;
	case MS_MSG_MIGRATED: h = ms_move_h_migrated; break;
	case MS_MSG_CLIENTS: h = ms_srv_h_clients; break;
	case MS_MSG_DISCONNECT: h = ms_srv_h_disconnect; break;
	case MS_MSG_SESSION: h = ms_srv_h_session; break;
	case MS_MSG_ATTACH: h = ms_srv_h_attach; break;
	default: break;
	}
	__atomic_store_n(&xp->last_ns, ms_now_ns(), __ATOMIC_RELAXED);
	/* p->hello is written by this thread only */
	if (!h) {
		ms_srv_log(s, MS_LOG_WARN, "%s: unknown control message type %d", xp->name,
			   type);
		ret = ms_enc_error(resp, cap, EBADMSG, "unknown control message type %d", type);
	} else if (!p->hello && type != MS_MSG_HELLO) {
		ret = ms_enc_error(resp, cap, EPROTO, "%s before HELLO", ms_msg_name(type));
	} else if ((ret = ms_srv_authorize(s, p, type, req, len, resp, cap)) != 0) {
		/* the peer's key does not grant it (server_auth.c) */
	} else if ((ret = ms_move_redirect(s, p, type, req, len, resp, cap)) != 0) {
		/* about a region that moved away: MOVED (server_move.c) */
	} else if (type == MS_MSG_COMMIT && !ms_srv_defer_commit(s, p, req, len)) {
		/* verified on the worker, answered through srv_reply */
		return MS_XCTRL_LATER;
	} else if (type == MS_MSG_FETCH) {
		bool later;

		ret = ms_srv_h_fetch(s, p, req, len, resp, cap, &later);
		if (later)      /* once the chunks are here (server_migrate.c) */
			return MS_XCTRL_LATER;
	} else {
		ret = h(s, p, req, len, resp, cap);
		if (ret == MS_MOVE_LATER)  /* FREEZE: once no commit applies */
			return MS_XCTRL_LATER;
	}
	if (ret < 0)   /* could not even encode a reply: drop the peer */
		return ret;
	*resp_len = (size_t)ret;
	return 0;
}

int ms_srv_on_connect(void *ud, struct ms_xpeer *xp)
{
	struct listener *l = ud;
	ms_server *s = l->srv;
	struct peer *p = calloc(1, sizeof(*p));

	if (!p)
		return -ENOMEM;
	p->xp = xp;
	p->l = l;
	xp->eng = p;
	__atomic_store_n(&xp->last_ns, ms_now_ns(), __ATOMIC_RELAXED);
	ms_srv_auth_peer_init(s, p);
	pthread_mutex_lock(&s->lock);
	p->id = ++s->last_peer_id;
	p->next = s->peers;
	s->peers = p;
	pthread_mutex_unlock(&s->lock);
	ms_srv_log(s, MS_LOG_DEBUG, "%s connected (%s)", xp->name, l->ops->name);
	return 0;
}

void ms_srv_on_disconnect(void *ud, struct ms_xpeer *xp)
{
	ms_server *s = ((struct listener *)ud)->srv;
	struct peer *p = xp->eng;

	if (!p)
		return;
	ms_move_peer_gone(s, p);
	close_all(s, p);
	ms_attach_peer_gone(s, p);
	pthread_mutex_lock(&s->lock);
	for (struct peer **pp = &s->peers; *pp; pp = &(*pp)->next) {
		if (*pp == p) {
			*pp = p->next;
			break;
		}
	}
	pthread_mutex_unlock(&s->lock);
	ms_srv_log(s, MS_LOG_DEBUG, "%s disconnected", xp->name);
	xp->eng = NULL;
	ms_srv_auth_peer_fini(p);
	free(p);
}
