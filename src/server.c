/* SPDX-License-Identifier: Apache-2.0 */
/*
 * server.c - the server side of libmemsync: exports, peers, leases and the
 * control protocol.
 *
 * The data path never comes here: a transport serves READs and WRITEs
 * against the registrations made below (with RDMA, the NIC does).  This
 * file answers control requests on the transports' loop threads:
 *  - a server listens on one or two transports (TCP, RDMA, or both on the
 *    same port); each has its own loop thread;
 *  - every region is registered twice read-only (data and metadata table)
 *    with every transport;
 *  - a writer gets a third, writable registration of the data, with the
 *    transport it came through, for as long as it holds the region's lease
 *    (one writer per region, whatever its transport); closing or vanishing
 *    revokes it;
 *  - a commit checks the hash of every range the writer claims to have
 *    written, then bumps the chunks' generations, all or nothing.
 *
 * Locking: s->lock guards the export list, the peer list and every
 * export's lease and counters; a region's own lock guards its metadata.
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
#include "proto.h"
#include "region.h"
#include "transport.h"
#include "util.h"

#define MAX_OPENS 64          /* region handles per connection */
#define SERVER_MAX_IO (16u << 20)
#define MAX_LISTENERS 2       /* TCP and RDMA */

/* One transport the server listens on, with its own loop thread. */
struct listener {
	struct ms_server *srv;
	const struct ms_transport_ops *ops;
	struct ms_xsrv *xs;
	pthread_t thread;
	bool thread_running;
};

/* A region's read-only registrations with one listener. */
struct xreg {
	struct ms_xsmr *data_mr, *meta_mr;
	struct ms_rdesc data_desc, meta_desc;
};

struct ms_export {
	struct ms_server *srv;
	struct ms_rregion *r;
	struct xreg reg[MAX_LISTENERS];  /* indexed like srv->l */
	struct ms_xsmr *write_mr;        /* with the lease holder's listener */
	struct ms_rdesc write_desc;
	struct peer *lease;           /* holder of write_mr, or NULL */
	uint64_t revoked_read, revoked_written; /* from write MRs gone */
	uint64_t bytes_committed;
	uint32_t clients;
	uint64_t commits;
	struct ms_export *next;
};

struct open_slot {
	struct ms_export *e;          /* NULL = free */
	enum ms_mode mode;
};

struct peer {
	struct ms_xpeer *xp;
	struct listener *l;           /* the transport it came through */
	bool hello;
	uint8_t client_id[16];
	struct open_slot opens[MAX_OPENS];
	struct peer *next;
};

struct ms_server {
	struct listener l[MAX_LISTENERS];
	unsigned nl;
	char transport_name[16];      /* "tcp", "rdma" or "tcp+rdma" */
	ms_log_fn log;
	void *log_ud;
	pthread_mutex_t lock;
	struct ms_export *exports;
	struct peer *peers;
	struct ms_commit_ent *ents;   /* COMMIT decode storage (under lock) */
	bool *fresh;                  /* COMMIT: entry i's leaves are hashed */
	uint64_t *chunks;             /* HOT / TOUCH lists (under lock) */
	uint8_t server_id[16];
	pthread_t thread;
	bool thread_running;
	char errmsg[512];
};

MS_PRINTF(3, 4) static void slog(ms_server *s, enum ms_log_level lvl,
				 const char *fmt, ...)
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

static struct ms_export *find_export(ms_server *s, const char *name)
{
	for (struct ms_export *e = s->exports; e; e = e->next)
		if (strcmp(e->r->name, name) == 0)
			return e;
	return NULL;
}

static void id_hex(const uint8_t id[16], char out[33])
{
	for (int i = 0; i < 16; i++)
		snprintf(out + 2 * i, 3, "%02x", id[i]);
}

/* ------------------------------------------------------------- leases */

static void lease_release(struct ms_export *e)
{
	uint64_t rd = 0, wr = 0;

	struct listener *l;

	if (!e->write_mr || !e->lease)
		return;
	l = e->lease->l;
	l->ops->srv_mr_stats(l->xs, e->write_mr, &rd, &wr);
	e->revoked_read += rd;
	e->revoked_written += wr;
	l->ops->srv_dereg_mr(l->xs, e->write_mr);
	e->write_mr = NULL;
	e->lease = NULL;
}

static void close_slot(ms_server *s, struct peer *p, struct open_slot *o)
{
	if (o->mode == MS_MODE_WRITE && o->e->lease == p) {
		lease_release(o->e);
		slog(s, MS_LOG_INFO, "%s released the write lease of '%s'",
		     p->xp->name, o->e->r->name);
	}
	o->e->clients--;
	o->e = NULL;
}

/* ------------------------------------------------------ control requests */

typedef int (*handler_fn)(ms_server *s, struct peer *p, const void *req,
			  size_t len, void *resp, size_t cap);

static int h_hello(ms_server *s, struct peer *p, const void *req, size_t len,
		   void *resp, size_t cap)
{
	struct ms_msg_hello h;
	struct ms_msg_hello_ok ok = { .version = MS_PROTO_VERSION, .max_io = SERVER_MAX_IO };
	char hex[33];

	if (ms_dec_hello(req, len, &h))
		return ms_enc_error(resp, cap, EBADMSG, "malformed HELLO");
	if (p->hello)
		return ms_enc_error(resp, cap, EPROTO, "HELLO sent twice");
	if (h.version != MS_PROTO_VERSION)
		return ms_enc_error(resp, cap, EPROTONOSUPPORT,
				    "protocol version %u not supported (server speaks %d)",
				    h.version, MS_PROTO_VERSION);
	id_hex(h.client_id, hex);
	for (struct peer *q = s->peers; q; q = q->next) {
		if (q != p && q->hello && memcmp(q->client_id, h.client_id, 16) == 0) {
			slog(s, MS_LOG_WARN,
			     "%s: refused: client id %s is already connected from %s",
			     p->xp->name, hex, q->xp->name);
			return ms_enc_error(resp, cap, EEXIST,
					    "client id %s is already connected from %s",
					    hex, q->xp->name);
		}
	}
	memcpy(p->client_id, h.client_id, 16);
	p->hello = true;
	memcpy(ok.server_id, s->server_id, 16);
	slog(s, MS_LOG_DEBUG, "%s: hello from %s (client id %s)", p->xp->name,
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
	const struct xreg *xr;
	int ret;

	if (ms_dec_open(req, len, &m))
		return ms_enc_error(resp, cap, EBADMSG, "malformed OPEN");
	if (m.mode != MS_MODE_READ && m.mode != MS_MODE_WRITE)
		return ms_enc_error(resp, cap, EINVAL, "invalid open mode %u", m.mode);
	e = find_export(s, m.name);
	if (!e)
		return ms_enc_error(resp, cap, ENOENT, "unknown region '%s'", m.name);
	for (int i = 0; i < MAX_OPENS && !slot; i++)
		if (!p->opens[i].e)
			slot = &p->opens[i];
	if (!slot)
		return ms_enc_error(resp, cap, EMFILE,
				    "too many open regions on one connection (%d)",
				    MAX_OPENS);
	xr = &e->reg[l - s->l];
	ok.data = xr->data_desc;
	if (m.mode == MS_MODE_WRITE) {
		if (e->lease)
			return ms_enc_error(resp, cap, EBUSY,
					    "region '%s' is being written by %s (one writer at a time)",
					    m.name, e->lease->xp->name);
		ret = l->ops->srv_reg_mr(l->xs, e->r->mem, e->r->size,
					 MS_XACCESS_READ | MS_XACCESS_WRITE,
					 &e->write_mr, &e->write_desc);
		if (ret)
			return ms_enc_error(resp, cap, -ret,
					    "cannot grant write access to '%s': %s",
					    m.name, strerror(-ret));
		e->lease = p;
		ok.data = e->write_desc;
		slog(s, MS_LOG_INFO, "%s holds the write lease of '%s' (%s)",
		     p->xp->name, m.name, l->ops->name);
	}
	slot->e = e;
	slot->mode = (enum ms_mode)m.mode;
	e->clients++;
	ok.handle = (uint32_t)(slot - p->opens);
	ok.mode = m.mode;
	ok.size = e->r->size;
	ok.chunk_size = e->r->chunk_size;
	ok.nchunks = e->r->nchunks;
	pthread_mutex_lock(&e->r->lock);
	ok.generation = e->r->generation;
	pthread_mutex_unlock(&e->r->lock);
	ok.meta = xr->meta_desc;
	return ms_enc_open_ok(resp, cap, &ok);
}

static struct open_slot *get_slot(struct peer *p, uint32_t handle)
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
	o = get_slot(p, m.handle);
	if (!o)
		return ms_enc_error(resp, cap, EBADF, "no open region with handle %u",
				    m.handle);
	close_slot(s, p, o);
	return ms_enc_empty(resp, cap, MS_MSG_CLOSE_OK);
}

static int h_commit(ms_server *s, struct peer *p, const void *req, size_t len,
		    void *resp, size_t cap)
{
	struct ms_msg_commit m;
	struct ms_msg_gen g;
	struct open_slot *o;
	struct ms_rregion *r;
	uint64_t lo, hi;
	int ret;

	ret = ms_dec_commit(req, len, &m, s->ents, MS_COMMIT_MAX_ENTS);
	if (ret)
		return ms_enc_error(resp, cap, -ret, "malformed COMMIT");
	o = get_slot(p, m.handle);
	if (!o)
		return ms_enc_error(resp, cap, EBADF, "no open region with handle %u",
				    m.handle);
	if (o->mode != MS_MODE_WRITE || o->e->lease != p)
		return ms_enc_error(resp, cap, EACCES,
				    "commit to '%s' without its write lease",
				    o->e->r->name);
	r = o->e->r;
	/* check everything before changing anything (region lock held: a
	 * local ms_export_commit() may run beside us) */
	g.generation = ms_region_commit_begin(r);
	for (uint32_t i = 0; i < m.n; i++) {
		uint64_t off = m.ents[i].off;
		uint64_t elen = m.ents[i].len & ~MS_COMMIT_NOVERIFY;
		bool fresh;

		if (!elen || off > r->size || elen > r->size - off) {
			ms_region_commit_abort(r);
			return ms_enc_error(resp, cap, ERANGE,
					    "commit range [%llu, +%llu) is outside '%s' (%llu bytes)",
					    (unsigned long long)off,
					    (unsigned long long)elen, r->name,
					    (unsigned long long)r->size);
		}
		if (m.ents[i].len & MS_COMMIT_NOVERIFY) {
			s->fresh[i] = false;
			continue;
		}
		ret = ms_region_verify_range(r, off, elen, m.ents[i].hash, &fresh);
		s->fresh[i] = fresh;
		if (ret) {
			ms_region_commit_abort(r);
			slog(s, MS_LOG_WARN,
			     "%s: commit to '%s' refused: [%llu, +%llu) does not match its hash",
			     p->xp->name, r->name, (unsigned long long)off,
			     (unsigned long long)elen);
			return ms_enc_error(resp, cap, EIO,
					    "commit refused: bytes [%llu, +%llu) of '%s' do not "
					    "match the writer's hash (corrupted or overwritten in flight)",
					    (unsigned long long)off,
					    (unsigned long long)elen, r->name);
		}
	}
	lo = UINT64_MAX;
	hi = 0;
	for (uint32_t i = 0; i < m.n; i++) {
		uint64_t elen = m.ents[i].len & ~MS_COMMIT_NOVERIFY;
		int64_t whole = m.ents[i].len & MS_COMMIT_NOVERIFY
					? -1
					: ms_region_whole_chunk(r, m.ents[i].off, elen);

		if (whole >= 0)
			/* verified above: the writer's hash is the chunk's */
			ms_region_commit_chunk_hash(r, (uint64_t)whole, g.generation,
						    m.ents[i].hash);
		else
			ms_region_commit_piece(r, m.ents[i].off, elen, g.generation,
					       s->fresh[i]);
		o->e->bytes_committed += elen;
		lo = MS_MIN(lo, m.ents[i].off);
		hi = MS_MAX(hi, m.ents[i].off + elen);
	}
	/* file regions: durable before the generation is published; one
	 * msync over the commit's span writes back only its dirty pages,
	 * instead of a system call per entry */
	ret = m.n ? ms_region_msync(r, lo, hi - lo) : 0;
	if (ret)
		slog(s, MS_LOG_ERROR, "msync of '%s' failed: %s", r->name, strerror(-ret));
	ms_region_commit_end(r, g.generation);
	o->e->commits++;
	slog(s, MS_LOG_DEBUG, "%s: commit of %u range(s) to '%s': generation %llu",
	     p->xp->name, m.n, r->name, (unsigned long long)g.generation);
	return ms_enc_gen(resp, cap, MS_MSG_COMMIT_OK, &g);
}

static void fill_stat(ms_server *s, struct ms_export *e, struct ms_region_stat *st)
{
	uint64_t rd, wr;

	memset(st, 0, sizeof(*st));
	snprintf(st->name, sizeof(st->name), "%s", e->r->name);
	st->backing = e->r->backing;
	st->size = e->r->size;
	st->chunk_size = e->r->chunk_size;
	pthread_mutex_lock(&e->r->lock);
	st->generation = e->r->generation;
	pthread_mutex_unlock(&e->r->lock);
	st->clients = e->clients;
	st->write_leased = e->lease != NULL;
	st->bytes_read = e->revoked_read;
	st->bytes_written = e->revoked_written;
	for (unsigned i = 0; i < s->nl; i++) {
		rd = wr = 0;
		s->l[i].ops->srv_mr_stats(s->l[i].xs, e->reg[i].data_mr, &rd, &wr);
		st->bytes_read += rd;
		st->bytes_written += wr;
	}
	if (e->write_mr && e->lease) {
		rd = wr = 0;
		e->lease->l->ops->srv_mr_stats(e->lease->l->xs, e->write_mr, &rd, &wr);
		st->bytes_read += rd;
		st->bytes_written += wr;
	}
	st->bytes_committed = e->bytes_committed;
	st->commits = e->commits;
}

/* Stat one region (name) or all, into a malloc'ed array; caller holds lock. */
static int collect_stats(ms_server *s, const char *name,
			 struct ms_region_stat **out, size_t *n)
{
	size_t cnt = 0, i = 0;
	struct ms_region_stat *st;

	for (struct ms_export *e = s->exports; e; e = e->next)
		cnt += !*name || strcmp(e->r->name, name) == 0;
	if (*name && !cnt)
		return -ENOENT;
	st = calloc(cnt ? cnt : 1, sizeof(*st));
	if (!st)
		return -ENOMEM;
	for (struct ms_export *e = s->exports; e; e = e->next)
		if (!*name || strcmp(e->r->name, name) == 0)
			fill_stat(s, e, &st[i++]);
	*out = st;
	*n = cnt;
	return 0;
}

static int h_hot(ms_server *s, struct peer *p, const void *req, size_t len,
		 void *resp, size_t cap)
{
	struct ms_msg_hot m;
	struct ms_msg_chunks out;
	struct open_slot *o;
	int ret;

	if (ms_dec_hot(req, len, &m))
		return ms_enc_error(resp, cap, EBADMSG, "malformed HOT (max must be 1..%u)",
				    MS_HOT_MAX);
	o = get_slot(p, m.handle);
	if (!o)
		return ms_enc_error(resp, cap, EBADF, "no open region with handle %u",
				    m.handle);
	out = (struct ms_msg_chunks){ .handle = m.handle, .idx = s->chunks };
	out.n = (uint32_t)ms_region_hot(o->e->r, s->chunks, m.max);
	ret = ms_enc_chunks(resp, cap, MS_MSG_HOT_OK, &out);
	return ret < 0 ? ms_enc_error(resp, cap, -ret, "hot list too large for one reply") : ret;
}

static int h_touch(ms_server *s, struct peer *p, const void *req, size_t len,
		   void *resp, size_t cap)
{
	struct ms_msg_chunks m;
	struct open_slot *o;
	int ret;

	ret = ms_dec_chunks(req, len, MS_MSG_TOUCH, &m, s->chunks, MS_HOT_MAX);
	if (ret)
		return ms_enc_error(resp, cap, -ret, "malformed TOUCH (at most %u chunks)",
				    MS_HOT_MAX);
	o = get_slot(p, m.handle);
	if (!o)
		return ms_enc_error(resp, cap, EBADF, "no open region with handle %u",
				    m.handle);
	if (ms_region_touch(o->e->r, m.idx, m.n))
		return ms_enc_error(resp, cap, ERANGE,
				    "TOUCH names a chunk outside '%s' (%llu chunks); nothing counted",
				    o->e->r->name, (unsigned long long)o->e->r->nchunks);
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
	ret = collect_stats(s, m.name, &st, &n);
	if (ret == -ENOENT)
		return ms_enc_error(resp, cap, ENOENT, "unknown region '%s'", m.name);
	if (ret)
		return ms_enc_error(resp, cap, -ret, "stat failed: %s", strerror(-ret));
	ret = ms_enc_stat_ok(resp, cap, st, n);
	free(st);
	if (ret < 0)
		return ms_enc_error(resp, cap, -ret, "too many regions for one reply");
	return ret;
}

static int h_bye(ms_server *s, struct peer *p, const void *req, size_t len,
		 void *resp, size_t cap)
{
	if (ms_dec_empty(req, len, MS_MSG_BYE))
		return ms_enc_error(resp, cap, EBADMSG, "malformed BYE");
	for (int i = 0; i < MAX_OPENS; i++)
		if (p->opens[i].e)
			close_slot(s, p, &p->opens[i]);
	return ms_enc_empty(resp, cap, MS_MSG_BYE_OK);
}

static int on_ctrl(void *ud, struct ms_xpeer *xp, const void *req, size_t len,
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
	default: break;
	}
	pthread_mutex_lock(&s->lock);
	if (!h) {
		slog(s, MS_LOG_WARN, "%s: unknown control message type %d", xp->name, type);
		ret = ms_enc_error(resp, cap, EBADMSG, "unknown control message type %d", type);
	} else if (!p->hello && type != MS_MSG_HELLO) {
		ret = ms_enc_error(resp, cap, EPROTO, "%s before HELLO", ms_msg_name(type));
	} else {
		ret = h(s, p, req, len, resp, cap);
	}
	pthread_mutex_unlock(&s->lock);
	if (ret < 0)   /* could not even encode a reply: drop the peer */
		return ret;
	*resp_len = (size_t)ret;
	return 0;
}

static int on_connect(void *ud, struct ms_xpeer *xp)
{
	struct listener *l = ud;
	ms_server *s = l->srv;
	struct peer *p = calloc(1, sizeof(*p));

	if (!p)
		return -ENOMEM;
	p->xp = xp;
	p->l = l;
	xp->eng = p;
	pthread_mutex_lock(&s->lock);
	p->next = s->peers;
	s->peers = p;
	pthread_mutex_unlock(&s->lock);
	slog(s, MS_LOG_DEBUG, "%s connected (%s)", xp->name, l->ops->name);
	return 0;
}

static void on_disconnect(void *ud, struct ms_xpeer *xp)
{
	ms_server *s = ((struct listener *)ud)->srv;
	struct peer *p = xp->eng;

	if (!p)
		return;
	pthread_mutex_lock(&s->lock);
	for (int i = 0; i < MAX_OPENS; i++)
		if (p->opens[i].e)
			close_slot(s, p, &p->opens[i]);
	for (struct peer **pp = &s->peers; *pp; pp = &(*pp)->next) {
		if (*pp == p) {
			*pp = p->next;
			break;
		}
	}
	pthread_mutex_unlock(&s->lock);
	slog(s, MS_LOG_DEBUG, "%s disconnected", xp->name);
	xp->eng = NULL;
	free(p);
}

/* --------------------------------------------------------- public API */

MS_EXPORT const char *ms_version(void)
{
	return PACKAGE_VERSION;
}

static void close_listeners(ms_server *s)
{
	for (unsigned i = 0; i < s->nl; i++)
		s->l[i].ops->srv_close(s->l[i].xs);
	s->nl = 0;
}

/* Listen on ops at host:port as listener number s->nl. */
static int add_listener(ms_server *s, const struct ms_transport_ops *ops, const char *host,
			const char *port, char *err, size_t errlen)
{
	struct ms_xsrv_cbs cbs = {
		.on_connect = on_connect,
		.on_ctrl = on_ctrl,
		.on_disconnect = on_disconnect,
		.log = xlog,
	};
	struct listener *l = &s->l[s->nl];
	size_t n;
	int ret;

	*l = (struct listener){ .srv = s, .ops = ops };
	cbs.ud = l;
	*err = '\0';
	ret = ops->listen(host, port, &cbs, &l->xs, err, errlen);
	if (ret) {
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
	if (o->transport != MS_TRANSPORT_AUTO) {
		slog(s, MS_LOG_INFO, "transport %s", why);
		return 0;
	}
	ops = ms_transport_get(MS_TRANSPORT_RDMA, NULL, why, sizeof(why));
	if (!ops) {
		slog(s, MS_LOG_INFO, "transport tcp: auto (%s)", why);
		return 0;
	}
	snprintf(bound, sizeof(bound), "%u", s->l[0].xs->port);
	ret = add_listener(s, ops, host, bound, err, sizeof(err));
	if (ret)
		slog(s, MS_LOG_INFO, "transport tcp: auto (rdma: %s)", err);
	else
		slog(s, MS_LOG_INFO, "transport tcp+rdma: auto (%s is on an RDMA device)", host);
	return 0;
}

MS_EXPORT ms_server *ms_server_create(const struct ms_server_opts *o, char *errmsg,
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
	pthread_mutex_init(&s->lock, NULL);
	s->ents = malloc(MS_COMMIT_MAX_ENTS * sizeof(*s->ents));
	s->fresh = malloc(MS_COMMIT_MAX_ENTS * sizeof(*s->fresh));
	s->chunks = malloc(MS_HOT_MAX * sizeof(*s->chunks));
	if (!s->ents || !s->fresh || !s->chunks) {
		ret = -ENOMEM;
		snprintf(s->errmsg, sizeof(s->errmsg), "out of memory");
		goto fail;
	}
	if (getrandom(s->server_id, sizeof(s->server_id), 0) != sizeof(s->server_id)) {
		ret = -errno;
		snprintf(s->errmsg, sizeof(s->errmsg), "getrandom: %s", strerror(errno));
		goto fail;
	}
	ret = open_listeners(s, o);
	if (ret)
		goto fail;
	return s;

fail:
	if (errmsg && errmsg_len)
		snprintf(errmsg, errmsg_len, "%s", s->errmsg);
	close_listeners(s);
	pthread_mutex_destroy(&s->lock);
	free(s->ents);
	free(s->fresh);
	free(s->chunks);
	free(s);
	errno = -ret;
	return NULL;
}

MS_EXPORT uint16_t ms_server_port(const ms_server *s)
{
	return s->l[0].xs->port;
}

MS_EXPORT const char *ms_server_transport(const ms_server *s)
{
	return s->transport_name;
}

MS_EXPORT const char *ms_server_errmsg(const ms_server *s)
{
	return s ? s->errmsg : "";
}

static void export_free(ms_server *s, struct ms_export *e)
{
	if (e->write_mr)
		lease_release(e);
	for (unsigned i = 0; i < s->nl; i++) {
		if (e->reg[i].meta_mr)
			s->l[i].ops->srv_dereg_mr(s->l[i].xs, e->reg[i].meta_mr);
		if (e->reg[i].data_mr)
			s->l[i].ops->srv_dereg_mr(s->l[i].xs, e->reg[i].data_mr);
	}
	ms_region_destroy(e->r);
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

MS_EXPORT ms_export *ms_server_add_region(ms_server *s, const struct ms_export_opts *o)
{
	struct ms_export_opts oc;
	struct ms_export *e;
	int ret = ms_opts_take(&oc, sizeof(oc), MS_EXPORT_OPTS_V1, o);

	if (ret) {
		pthread_mutex_lock(&s->lock);
		snprintf(s->errmsg, sizeof(s->errmsg), "region options: opts_size %zu is not valid",
			 o->opts_size);
		pthread_mutex_unlock(&s->lock);
		errno = -ret;
		return NULL;
	}
	o = &oc;
	e = calloc(1, sizeof(*e));
	if (!e)
		return NULL;
	e->srv = s;
	pthread_mutex_lock(&s->lock);
	if (o->name && find_export(s, o->name)) {
		snprintf(s->errmsg, sizeof(s->errmsg), "region '%s' already exists", o->name);
		ret = -EEXIST;
		goto fail;
	}
	ret = ms_region_create(o, &e->r, s->errmsg, sizeof(s->errmsg));
	if (ret)
		goto fail;
	for (unsigned i = 0; i < s->nl && !ret; i++) {
		ret = export_register(s, e, i);
		if (ret)
			snprintf(s->errmsg, sizeof(s->errmsg),
				 "cannot register region '%s' with %s: %s", o->name,
				 s->l[i].ops->name, strerror(-ret));
	}
	if (ret)
		goto fail;
	/* keep the order regions were added in: stat lists them that way */
	struct ms_export **tail = &s->exports;
	while (*tail)
		tail = &(*tail)->next;
	*tail = e;
	pthread_mutex_unlock(&s->lock);
	slog(s, MS_LOG_DEBUG, "region '%s' registered", e->r->name);
	return e;

fail:
	pthread_mutex_unlock(&s->lock);
	if (e->r)
		export_free(s, e);
	else
		free(e);
	errno = -ret;
	return NULL;
}

MS_EXPORT void *ms_export_mem(const ms_export *e)
{
	return e->r->mem;
}

MS_EXPORT uint64_t ms_export_size(const ms_export *e)
{
	return e->r->size;
}

MS_EXPORT int ms_export_fd(const ms_export *e)
{
	return e->r->fd;
}

MS_EXPORT int ms_export_commit(ms_export *e, uint64_t off, uint64_t len)
{
	int ret;

	pthread_mutex_lock(&e->srv->lock);
	ret = ms_region_commit_range(e->r, off, len);
	if (!ret) {
		e->commits++;
		e->bytes_committed += len;
	}
	pthread_mutex_unlock(&e->srv->lock);
	return ret;
}

MS_EXPORT int ms_export_touch(ms_export *e, uint64_t off, uint64_t len)
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

static void msync_all(ms_server *s)
{
	pthread_mutex_lock(&s->lock);
	for (struct ms_export *e = s->exports; e; e = e->next) {
		int ret = ms_region_msync(e->r, 0, e->r->size);

		if (ret)
			slog(s, MS_LOG_ERROR, "msync of '%s' failed: %s", e->r->name,
			     strerror(-ret));
	}
	pthread_mutex_unlock(&s->lock);
}

static void *listener_thread(void *arg)
{
	struct listener *l = arg;
	int ret = l->ops->srv_run(l->xs);

	if (ret)
		slog(l->srv, MS_LOG_ERROR, "%s loop: %s", l->ops->name, strerror(-ret));
	return NULL;
}

/* Every listener but the first runs in a thread of its own; the first in
 * the caller's.  When the first returns (ms_server_stop), the others are
 * stopped and joined. */
MS_EXPORT int ms_server_run(ms_server *s)
{
	int ret, err;

	for (unsigned i = 1; i < s->nl; i++) {
		err = pthread_create(&s->l[i].thread, NULL, listener_thread, &s->l[i]);
		if (err) {
			slog(s, MS_LOG_ERROR, "cannot start the %s loop: %s", s->l[i].ops->name,
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

MS_EXPORT int ms_server_start(ms_server *s)
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

MS_EXPORT void ms_server_stop(ms_server *s)
{
	for (unsigned i = 0; i < s->nl; i++)
		s->l[i].ops->srv_stop(s->l[i].xs);
}

MS_EXPORT void ms_server_destroy(ms_server *s)
{
	if (!s)
		return;
	if (s->thread_running) {
		ms_server_stop(s);
		pthread_join(s->thread, NULL);
	}
	/* srv_run has disconnected every peer; now nothing references the
	 * registrations */
	while (s->exports) {
		struct ms_export *e = s->exports;

		s->exports = e->next;
		export_free(s, e);
	}
	close_listeners(s);
	pthread_mutex_destroy(&s->lock);
	free(s->ents);
	free(s->fresh);
	free(s->chunks);
	free(s);
}

MS_EXPORT int ms_server_stat(ms_server *s, const char *name,
			     struct ms_region_stat **out, size_t *n)
{
	int ret;

	pthread_mutex_lock(&s->lock);
	ret = collect_stats(s, name ? name : "", out, n);
	pthread_mutex_unlock(&s->lock);
	return ret;
}
