/* SPDX-License-Identifier: Apache-2.0 */
/*
 * server.c - the server side of libmemsync: lifecycle, listeners, exports
 * and the public API.  The control protocol (peers, leases, requests) is
 * in server_ctrl.c; the locking rules of both are in server_int.h.
 *
 * The data path never comes here: a transport serves READs and WRITEs
 * against the registrations made below (with RDMA, the NIC does).
 *  - a server listens on one or two transports (TCP, RDMA, or both on the
 *    same port); each has its own loop thread;
 *  - every region is registered twice read-only (data and metadata table)
 *    with every transport;
 *  - a region is created, pinned, hashed and registered before it is
 *    published: the server lock is taken only to insert it, so adding a
 *    large region delays no peer.
 */
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include "chunkmap.h"
#include "opts.h"
#include "server_int.h"
#include "server_move.h"

void ms_srv_log(ms_server *s, enum ms_log_level lvl, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	if (!s->log)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	s->log(s->log_ud, lvl, msg);
}

static void xlog(void *ud, enum ms_log_level lvl, const char *fmt, va_list ap)
{
	ms_server *s = ((struct listener *)ud)->srv;
	char msg[512];

	if (!s->log)
		return;
	vsnprintf(msg, sizeof(msg), fmt, ap);
	s->log(s->log_ud, lvl, msg);
}

MS_PRINTF(2, 3) void ms_srv_errmsg(ms_server *s, const char *fmt, ...)
{
	va_list ap;

	pthread_mutex_lock(&s->lock);
	va_start(ap, fmt);
	vsnprintf(s->errmsg, sizeof(s->errmsg), fmt, ap);
	va_end(ap);
	pthread_mutex_unlock(&s->lock);
}

static struct ms_export *find_locked(ms_server *s, const char *name)
{
	for (struct ms_export *e = s->exports; e; e = e->next)
		if (strcmp(e->r->name, name) == 0)
			return e;
	return NULL;
}

struct ms_export *ms_srv_find(ms_server *s, const char *name)
{
	struct ms_export *e;

	pthread_mutex_lock(&s->lock);
	e = find_locked(s, name);
	pthread_mutex_unlock(&s->lock);
	return e;
}

struct ms_export *ms_srv_next(ms_server *s, struct ms_export *e)
{
	pthread_mutex_lock(&s->lock);
	e = e ? e->next : s->exports;
	pthread_mutex_unlock(&s->lock);
	return e;
}

/* ------------------------------------------------------------ stats */

static void fill_stat(ms_server *s, struct ms_export *e, struct ms_region_stat *st)
{
	uint64_t rd, wr;

	memset(st, 0, sizeof(*st));
	snprintf(st->name, sizeof(st->name), "%s", e->r->name);
	st->backing = e->r->backing;
	st->size = e->r->size;
	st->chunk_size = e->r->chunk_size;
	/* not r->lock: a commit of this region in progress holds it */
	st->generation = ms_region_generation(e->r);
	for (unsigned i = 0; i < s->nl; i++) {
		rd = wr = 0;
		s->l[i].ops->srv_mr_stats(s->l[i].xs, e->reg[i].data_mr, &rd, &wr);
		st->bytes_read += rd;
		st->bytes_written += wr;
	}
	st->commit_mode = e->mode;
	ms_lease_info_of(e, &st->lease);
	ms_mig_stat(e, st);
	pthread_mutex_lock(&e->lock);
	st->clients = e->clients;
	st->write_leased = e->lease.holder != NULL;
	st->bytes_read += e->revoked_read;
	st->bytes_written += e->revoked_written;
	if (e->lease.write_mr && e->lease.l) {
		rd = wr = 0;
		e->lease.l->ops->srv_mr_stats(e->lease.l->xs, e->lease.write_mr, &rd, &wr);
		st->bytes_read += rd;
		st->bytes_written += wr;
	}
	for (unsigned i = 0; i < e->lease.nseg && e->lease.l; i++) {
		rd = wr = 0;
		e->lease.l->ops->srv_mr_stats(e->lease.l->xs, e->lease.seg[i].mr, &rd, &wr);
		st->bytes_written += wr;
	}
	st->bytes_committed = e->bytes_committed;
	st->commits = e->commits;
	st->commits_refused = e->refused;
	st->commits_abandoned = e->abandoned;
	pthread_mutex_unlock(&e->lock);
	ms_move_fill_stat(e, st);
}

int ms_srv_collect_stats(ms_server *s, const char *name, struct ms_region_stat **out,
			 size_t *n)
{
	struct ms_region_stat *st = NULL, *t;
	size_t cnt = 0, cap = 0;

	/* one export at a time: the list lock is held for a step of the
	 * walk, an export's lock for its counters */
	for (struct ms_export *e = ms_srv_next(s, NULL); e; e = ms_srv_next(s, e)) {
		if (*name && strcmp(e->r->name, name) != 0)
			continue;
		if (cnt == cap) {
			cap = cap ? 2 * cap : 8;
			t = realloc(st, cap * sizeof(*st));
			if (!t) {
				free(st);
				return -ENOMEM;
			}
			st = t;
		}
		fill_stat(s, e, &st[cnt++]);
	}
	/* regions that migrated away: their tombstones */
	if (ms_move_tomb_stats(s, name, &st, &cnt, &cap)) {
		free(st);
		return -ENOMEM;
	}
	if (*name && !cnt) {
		free(st);
		return -ENOENT;
	}
	if (!st && !(st = calloc(1, sizeof(*st))))
		return -ENOMEM;
	*out = st;
	*n = cnt;
	return 0;
}

/* --------------------------------------------------------- public API */

const char *ms_version(void)
{
	return PACKAGE_VERSION;
}

static void free_scratch(struct listener *l)
{
	free(l->ents);
	free(l->chunks);
	l->ents = NULL;
	l->chunks = NULL;
}

static void close_listeners(ms_server *s)
{
	for (unsigned i = 0; i < s->nl; i++) {
		s->l[i].ops->srv_close(s->l[i].xs);
		free_scratch(&s->l[i]);
	}
	s->nl = 0;
}

static int gp_init(pthread_rwlock_t *gp);
static int on_ctrl_gp(void *ud, struct ms_xpeer *xp, const void *req, size_t len, void *resp,
		      size_t cap, size_t *resp_len);

/* Listen on ops at host:port as listener number s->nl. */
static int add_listener(ms_server *s, const struct ms_transport_ops *ops, const char *host,
			const char *port, char *err, size_t errlen)
{
	struct ms_xsrv_cbs cbs = {
		.on_connect = ms_srv_on_connect,
		.on_ctrl = on_ctrl_gp,
		.on_disconnect = ms_srv_on_disconnect,
		.log = xlog,
		.opts = &s->xso,
	};
	struct listener *l = &s->l[s->nl];
	size_t n;
	int ret;

	*l = (struct listener){ .srv = s, .ops = ops };
	cbs.ud = l;
	*err = '\0';
	ret = ms_srv_auth_cbs(s, ops, &cbs, err, errlen);
	if (ret)
		return ret;
	l->ents = malloc(MS_COMMIT_MAX_ENTS * sizeof(*l->ents));
	l->chunks = malloc(MS_HOT_MAX * sizeof(*l->chunks));
	ret = l->ents && l->chunks ? 0 : -ENOMEM;
	if (!ret)
		ret = ops->listen(host, port, &cbs, &l->xs, err, errlen);
	if (ret) {
		free_scratch(l);
		if (!*err)
			snprintf(err, errlen, "%s", strerror(-ret));
		return ret;
	}
	n = strlen(s->transport_name);
	snprintf(s->transport_name + n, sizeof(s->transport_name) - n, "%s%s", n ? "+" : "",
		 ops->name);
	s->nl++;
	return 0;
}

/* TCP: TCP only.  RDMA: RDMA only.  AUTO: TCP, and RDMA on the same port
 * as well when the listen address is on an RDMA device (a TCP client and
 * an RDMA client then use the same memsync:// URL); when it is not, the
 * log says why. */
static int open_listeners(ms_server *s, const struct ms_server_opts *o)
{
	const char *host = o->host ? o->host : "127.0.0.1";
	const char *port = o->port ? o->port : MS_DEFAULT_PORT;
	const struct ms_transport_ops *ops;
	char why[256], err[256], bound[8];
	int ret;

	ops = ms_transport_get(o->transport == MS_TRANSPORT_AUTO ? MS_TRANSPORT_TCP : o->transport,
			       NULL, why, sizeof(why));
	if (!ops) {
		ret = -errno;
		snprintf(s->errmsg, sizeof(s->errmsg), "%s", why);
		return ret;
	}
	ret = add_listener(s, ops, host, port, err, sizeof(err));
	if (ret) {
		snprintf(s->errmsg, sizeof(s->errmsg), "%s", err);
		return ret;
	}
	snprintf(s->listen_host, sizeof(s->listen_host), "%s", host);
	if (o->transport != MS_TRANSPORT_AUTO) {
		ms_srv_log(s, MS_LOG_INFO, "transport %s", why);
		return 0;
	}
	ops = ms_transport_get(MS_TRANSPORT_RDMA, NULL, why, sizeof(why));
	if (!ops) {
		ms_srv_log(s, MS_LOG_INFO, "transport tcp: auto (%s)", why);
		return 0;
	}
	snprintf(bound, sizeof(bound), "%u", s->l[0].xs->port);
	ret = add_listener(s, ops, host, bound, err, sizeof(err));
	if (ret)
		ms_srv_log(s, MS_LOG_INFO, "transport tcp: auto (rdma: %s)", err);
	else
		ms_srv_log(s, MS_LOG_INFO, "transport tcp+rdma: auto (%s is on an RDMA device)", host);
	ms_srv_tls_rdma_note(s, ret == 0);
	return 0;
}

ms_server *ms_server_create(const struct ms_server_opts *o, char *errmsg,
				      size_t errmsg_len)
{
	struct ms_server_opts oc;
	ms_server *s;
	int ret;

	ret = ms_opts_take(&oc, sizeof(oc), MS_SERVER_OPTS_V1, o);
	if (ret) {
		if (errmsg && errmsg_len)
			snprintf(errmsg, errmsg_len, "server options: opts_size %zu is not valid",
				 o->opts_size);
		errno = -ret;
		return NULL;
	}
	o = &oc;
	s = calloc(1, sizeof(*s));
	if (!s)
		return NULL;
	s->log = o->log;
	s->log_ud = o->log_ud;
	s->lease_ttl_ms = o->lease_ttl_ms ? o->lease_ttl_ms : 10000;
	pthread_mutex_init(&s->lock, NULL);
	pthread_mutex_init(&s->wlock, NULL);
	pthread_mutex_init(&s->ulock, NULL);
	ret = gp_init(&s->gp);
	if (ret) {
		snprintf(s->errmsg, sizeof(s->errmsg), "rwlock: %s", strerror(-ret));
		pthread_mutex_destroy(&s->ulock);
		goto fail_nogp;
	}
	if (getrandom(s->server_id, sizeof(s->server_id), 0) != sizeof(s->server_id)) {
		ret = -errno;
		snprintf(s->errmsg, sizeof(s->errmsg), "getrandom: %s", strerror(errno));
		goto fail;
	}
	ret = ms_srv_auth_init(s, o);
	if (!ret && !(ret = ms_srv_tls_opts(s, o)))
		ret = open_listeners(s, o);
	if (!ret && (ret = ms_lease_timer_start(s)))
		snprintf(s->errmsg, sizeof(s->errmsg), "cannot start the lease timer: %s",
			 strerror(-ret));
	if (ret)
		goto fail;
	return s;

fail:
	if (errmsg && errmsg_len)
		snprintf(errmsg, errmsg_len, "%s", s->errmsg);
	close_listeners(s);
	ms_srv_auth_fini(s);
	pthread_rwlock_destroy(&s->gp);
	pthread_mutex_destroy(&s->ulock);
fail_nogp:
	pthread_mutex_destroy(&s->lock);
	pthread_mutex_destroy(&s->wlock);
	free(s);
	errno = -ret;
	return NULL;
}

uint16_t ms_server_port(const ms_server *s)
{
	return s->l[0].xs->port;
}

const char *ms_server_transport(const ms_server *s)
{
	return s->transport_name;
}

const char *ms_server_errmsg(const ms_server *s)
{
	return s ? s->errmsg : "";
}

/* Only once nothing can reach e any more: it was never published, or every
 * loop has stopped. */
static void export_free(ms_server *s, struct ms_export *e)
{
	/* every peer is gone, so no lease is held; a lease's leftovers */
	if (e->lease.holder)
		ms_lease_release(e, e->lease.holder);
	free(e->lease.more);
	ms_lease_pool_free(e);
	for (unsigned i = 0; i < s->nl; i++) {
		if (e->reg[i].meta_mr)
			s->l[i].ops->srv_dereg_mr(s->l[i].xs, e->reg[i].meta_mr);
		if (e->reg[i].data_mr)
			s->l[i].ops->srv_dereg_mr(s->l[i].xs, e->reg[i].data_mr);
	}
	ms_region_destroy(e->r);
	pthread_mutex_destroy(&e->lock);
	free(e);
}

/* The read-only registrations of e's data and metadata with listener i. */
static int export_register(ms_server *s, struct ms_export *e, unsigned i)
{
	const struct listener *l = &s->l[i];
	struct xreg *x = &e->reg[i];
	int ret;

	ret = l->ops->srv_reg_mr(l->xs, e->r->mem, e->r->size, MS_XACCESS_READ, &x->data_mr,
				 &x->data_desc);
	if (!ret)
		ret = l->ops->srv_reg_mr(l->xs, e->r->meta, e->r->nchunks * MS_META_ENTRY_SIZE,
					 MS_XACCESS_READ, &x->meta_mr, &x->meta_desc);
	return ret;
}

/* What a file region's store found at start (region_store.h). */
static void log_start(ms_server *s, const struct ms_rregion *r)
{
	const struct ms_rstore_start *st = &r->start;

	if (st->discarded)
		ms_srv_log(s, MS_LOG_INFO,
			   "region '%s': dropped an incomplete journal record in '%s"
			   MS_RSTORE_JOURNAL_SUFFIX "' (a commit never acknowledged)",
			   r->name, r->path);
	if (st->replayed)
		ms_srv_log(s, MS_LOG_INFO,
			   "region '%s': replayed the journaled commit of generation %llu "
			   "(%llu piece(s)) from '%s" MS_RSTORE_JOURNAL_SUFFIX "'",
			   r->name, (unsigned long long)st->replay_gen,
			   (unsigned long long)st->replayed, r->path);
	if (st->changed)
		ms_srv_log(s, MS_LOG_WARN,
			   "region '%s': %llu chunk(s) of '%s' (first: chunk %llu) do not match "
			   "their committed hash (changed outside memsync, or torn by a crash "
			   "in direct mode): they are served at generation %llu",
			   r->name, (unsigned long long)st->changed, r->path,
			   (unsigned long long)st->first_changed,
			   (unsigned long long)r->generation);
}

/* Build the whole export (map, pin, hash, register: the slow part) with
 * no lock held; then publish it, taking the server lock only to insert. */
ms_export *ms_server_add_region(ms_server *s, const struct ms_export_opts *o)
{
	return ms_srv_add_export(s, o, NULL);
}

struct ms_export *ms_srv_add_export(ms_server *s, const struct ms_export_opts *o,
				    struct mig_in *mig)
{
	char err[sizeof(s->errmsg)] = "";
	struct ms_export_opts oc;
	struct ms_export *e;
	int ret = ms_opts_take(&oc, sizeof(oc), MS_EXPORT_OPTS_V1, o);

	if (ret) {
		ms_srv_errmsg(s, "region options: opts_size %zu is not valid", o->opts_size);
		errno = -ret;
		return NULL;
	}
	o = &oc;
	/* a taken name fails before any work (and again at the insertion,
	 * should another thread add it meanwhile) */
	if (o && o->name && ms_srv_find(s, o->name)) {
		ms_srv_errmsg(s, "region '%s' already exists", o->name);
		errno = EEXIST;
		return NULL;
	}
	e = calloc(1, sizeof(*e));
	if (!e)
		return NULL;
	e->srv = s;
	e->mig = mig;        /* before it is listed: OPEN checks it */
	e->mode = o->commit;
	e->stage_limit = o->stage_limit ? o->stage_limit : o->size;
	if ((unsigned)o->commit > MS_COMMIT_DIRECT) {
		ms_srv_errmsg(s, "region '%s': unknown commit mode %d", o->name ? o->name : "",
			   (int)o->commit);
		free(e);
		errno = EINVAL;
		return NULL;
	}
	ret = -pthread_mutex_init(&e->lock, NULL);
	if (ret) {
		free(e);
		errno = -ret;
		return NULL;
	}
	ret = ms_region_create(o, &e->r, err, sizeof(err));
	if (!ret && e->r->store)
		e->lease.epoch = ms_rstore_epoch(e->r->store); /* epochs go on */
	if (!ret)
		ms_move_loaded(s, e);   /* moved away before a restart? */
	for (unsigned i = 0; i < s->nl && !ret; i++) {
		ret = export_register(s, e, i);
		if (ret)
			snprintf(err, sizeof(err), "cannot register region '%s' with %s: %s",
				 o->name, s->l[i].ops->name, strerror(-ret));
	}
	if (!ret) {
		pthread_mutex_lock(&s->lock);
		if (find_locked(s, e->r->name)) {
			snprintf(err, sizeof(err), "region '%s' already exists", o->name);
			ret = -EEXIST;
		} else {
			/* keep the order regions were added in: stat lists
			 * them that way */
			struct ms_export **tail = &s->exports;

			while (*tail)
				tail = &(*tail)->next;
			*tail = e;
		}
		pthread_mutex_unlock(&s->lock);
	}
	if (ret) {
		ms_srv_errmsg(s, "%s", err);
		export_free(s, e);
		errno = -ret;
		return NULL;
	}
	log_start(s, e->r);
	ms_srv_log(s, MS_LOG_DEBUG, "region '%s' registered", e->r->name);
	return e;
}

void *ms_export_mem(const ms_export *e)
{
	return e->r->mem;
}

uint64_t ms_export_size(const ms_export *e)
{
	return e->r->size;
}

int ms_export_fd(const ms_export *e)
{
	return e->r->fd;
}

int ms_export_commit(ms_export *e, uint64_t off, uint64_t len)
{
	char msg[MS_ERRMSG_MAX + 1];
	int ret = 0;

	/* a region migrating in: the bytes around a partial chunk are its
	 * source's, fetched first */
	if (len && off <= e->r->size && len <= e->r->size - off)
		ret = ms_mig_ensure(e, &(struct ms_commit_ent){ .off = off, .len = len }, 1, msg,
				    sizeof(msg));
	/* rehashing takes the region's lock only: peers of other regions,
	 * and STAT of this one, do not wait for it */
	if (!ret)
		ret = ms_move_local_enter(e);  /* waits while frozen */

	if (ret)
		return ret;
	ret = ms_region_commit_range(e->r, off, len);
	ms_move_commit_leave(e);
	if (!ret) {
		pthread_mutex_lock(&e->lock);
		e->commits++;
		e->bytes_committed += len;
		pthread_mutex_unlock(&e->lock);
	}
	return ret;
}

int ms_export_touch(ms_export *e, uint64_t off, uint64_t len)
{
	uint64_t first, n, idx[256];
	int ret = 0;

	if (len == 0 || off > e->r->size || len > e->r->size - off)
		return -ERANGE;
	ms_chunk_span(off, len, e->r->chunk_size, &first, &n);
	for (uint64_t done = 0; done < n && !ret; ) {
		size_t k = (size_t)MS_MIN(n - done, (uint64_t)MS_ARRAY_SIZE(idx));

		for (size_t j = 0; j < k; j++)
			idx[j] = first + done + j;
		ret = ms_region_touch(e->r, idx, k);
		done += k;
	}
	return ret;
}

/* ------------------------------------------- removing an export (server_int.h) */

/* The grace lock: writer-preferring, so that a removal waiting for the
 * handlers in flight is not starved by the next ones. */
static int gp_init(pthread_rwlock_t *gp)
{
	pthread_rwlockattr_t a;
	int ret = pthread_rwlockattr_init(&a);

	if (ret)
		return -ret;
	pthread_rwlockattr_setkind_np(&a, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
	ret = pthread_rwlock_init(gp, &a);
	pthread_rwlockattr_destroy(&a);
	return -ret;
}

/* Every control handler runs with the grace lock read-held. */
static int on_ctrl_gp(void *ud, struct ms_xpeer *xp, const void *req, size_t len, void *resp,
		      size_t cap, size_t *resp_len)
{
	ms_server *s = ((struct listener *)ud)->srv;
	int ret;

	pthread_rwlock_rdlock(&s->gp);
	ret = ms_srv_on_ctrl(ud, xp, req, len, resp, cap, resp_len);
	pthread_rwlock_unlock(&s->gp);
	return ret;
}

static bool export_busy(struct ms_export *e)
{
	bool busy;

	pthread_mutex_lock(&e->lock);
	busy = e->clients || e->lease.holder || e->lease.reserved;
	pthread_mutex_unlock(&e->lock);
	return busy;
}

int ms_server_unexport(ms_server *s, const char *name)
{
	struct ms_export **pp, *e = NULL;
	size_t pos = 0;
	int ret = 0;

	if (!name)
		return -EINVAL;
	pthread_mutex_lock(&s->ulock);
	/* only unexport takes exports out of the list, one at a time: e
	 * stays in it between these steps */
	e = ms_srv_find(s, name);
	if (!e || export_busy(e)) {
		ret = e ? -EBUSY : -ENOENT;
		goto out;
	}
	/* out of the list: no find or walk returns it from now on */
	pthread_mutex_lock(&s->lock);
	for (pp = &s->exports; *pp != e; pp = &(*pp)->next)
		pos++;
	*pp = e->next;
	pthread_mutex_unlock(&s->lock);
	/* wait for every handler (and stat walk) that may have found e */
	pthread_rwlock_wrlock(&s->gp);
	pthread_rwlock_unlock(&s->gp);
	/* an OPEN that found it just before has counted itself by now */
	ret = export_busy(e) ? -EBUSY : 0;
	pthread_mutex_lock(&s->lock);
	if (ret) {
		/* it stays as it was, where it was */
		pp = &s->exports;
		for (size_t i = 0; i < pos && *pp; i++)
			pp = &(*pp)->next;
		e->next = *pp;
		*pp = e;
	} else {
		e->grave_next = s->graveyard;
		s->graveyard = e;
	}
	pthread_mutex_unlock(&s->lock);
	if (ret)
		goto out;
	/* nothing reaches e's registrations or region any more; e itself
	 * (its lock) stays until ms_server_destroy */
	for (unsigned i = 0; i < s->nl; i++) {
		if (e->reg[i].meta_mr)
			s->l[i].ops->srv_dereg_mr(s->l[i].xs, e->reg[i].meta_mr);
		if (e->reg[i].data_mr)
			s->l[i].ops->srv_dereg_mr(s->l[i].xs, e->reg[i].data_mr);
		e->reg[i] = (struct xreg){ 0 };
	}
	ms_lease_pool_free(e);   /* no lease: nothing uses the pool */
	ms_srv_log(s, MS_LOG_DEBUG, "region '%s' removed", name);
	ms_region_destroy(e->r);
	e->r = NULL;
out:
	pthread_mutex_unlock(&s->ulock);
	return ret;
}

static void msync_all(ms_server *s)
{
	pthread_rwlock_rdlock(&s->gp);
	for (struct ms_export *e = ms_srv_next(s, NULL); e; e = ms_srv_next(s, e)) {
		int ret = ms_region_msync(e->r, 0, e->r->size);

		if (ret)
			ms_srv_log(s, MS_LOG_ERROR, "msync of '%s' failed: %s", e->r->name,
			     strerror(-ret));
	}
	pthread_rwlock_unlock(&s->gp);
}

static void *listener_thread(void *arg)
{
	struct listener *l = arg;
	int ret = l->ops->srv_run(l->xs);

	if (ret)
		ms_srv_log(l->srv, MS_LOG_ERROR, "%s loop: %s", l->ops->name, strerror(-ret));
	return NULL;
}

/* Every listener but the first runs in a thread of its own; the first in
 * the caller's.  When the first returns (ms_server_stop), the others are
 * stopped and joined. */
int ms_server_run(ms_server *s)
{
	int ret, err;

	for (unsigned i = 1; i < s->nl; i++) {
		err = pthread_create(&s->l[i].thread, NULL, listener_thread, &s->l[i]);
		if (err) {
			ms_srv_log(s, MS_LOG_ERROR, "cannot start the %s loop: %s", s->l[i].ops->name,
			     strerror(err));
			continue;
		}
		s->l[i].thread_running = true;
	}
	ret = s->l[0].ops->srv_run(s->l[0].xs);
	for (unsigned i = 1; i < s->nl; i++) {
		if (!s->l[i].thread_running)
			continue;
		s->l[i].ops->srv_stop(s->l[i].xs);
		pthread_join(s->l[i].thread, NULL);
		s->l[i].thread_running = false;
	}
	msync_all(s);
	return ret;
}

static void *run_thread(void *arg)
{
	ms_server *s = arg;

	(void)ms_server_run(s);
	return NULL;
}

int ms_server_start(ms_server *s)
{
	int ret;

	if (s->thread_running)
		return -EALREADY;
	ret = pthread_create(&s->thread, NULL, run_thread, s);
	if (ret)
		return -ret;
	s->thread_running = true;
	return 0;
}

void ms_server_stop(ms_server *s)
{
	/* migrations answer what clients wait for and stop (async-signal
	 * safe: one atomic store) */
	__atomic_store_n(&s->stopping, true, __ATOMIC_RELEASE);
	for (unsigned i = 0; i < s->nl; i++)
		s->l[i].ops->srv_stop(s->l[i].xs);
}

void ms_server_destroy(ms_server *s)
{
	if (!s)
		return;
	ms_move_stop(s);    /* parked commits go on: the loops can end */
	if (s->thread_running) {
		ms_server_stop(s);
		pthread_join(s->thread, NULL);
	}
	/* srv_run has disconnected every peer (after the worker answered
	 * every commit); now nothing references the registrations */
	ms_srv_worker_fini(s);
	ms_srv_mig_fini(s);       /* before the exports its threads fill */
	ms_lease_timer_stop(s);
	ms_move_fini(s);
	while (s->exports) {
		struct ms_export *e = s->exports;

		s->exports = e->next;
		export_free(s, e);
	}
	while (s->graveyard) {
		struct ms_export *e = s->graveyard;

		s->graveyard = e->grave_next;
		pthread_mutex_destroy(&e->lock);
		free(e);
	}
	close_listeners(s);
	ms_srv_auth_fini(s);
	pthread_rwlock_destroy(&s->gp);
	pthread_mutex_destroy(&s->ulock);
	pthread_mutex_destroy(&s->lock);
	pthread_mutex_destroy(&s->wlock);
	free(s);
}

int ms_server_stat(ms_server *s, const char *name,
			     struct ms_region_stat **out, size_t *n)
{
	int ret;

	pthread_rwlock_rdlock(&s->gp);   /* walks the exports: server_int.h */
	ret = ms_srv_collect_stats(s, name ? name : "", out, n);
	pthread_rwlock_unlock(&s->gp);
	return ret;
}
