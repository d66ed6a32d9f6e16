/* SPDX-License-Identifier: Apache-2.0 */
/*
 * client.c - the client side of libmemsync: connect, open, pull, write,
 * sync, push, stat.
 *
 * Pull is one-sided: read the region's metadata table (generation and
 * XXH3-128 per chunk), read the data, read the table again; a chunk is good
 * when its generation did not move and its bytes hash to the committed
 * value.  Chunks that fail are read again (a concurrent commit moved them),
 * a bounded number of times.
 *
 * Writes are one-sided too; the server learns of them from the commit,
 * which names each written range with the hash of what was written so the
 * server can check the bytes arrived intact before it publishes them.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "chunkmap.h"
#include "client_int.h"
#include "proto.h"
#include "xfer.h"
#include "transport.h"
#include "util.h"

#define DEFAULT_DEPTH 16
#define DEFAULT_MAX_IO (1u << 20)
#define DEFAULT_TIMEOUT_MS 30000
#define PULL_ROUNDS 5

struct ms_client {
	const struct ms_transport_ops *ops;
	struct ms_xconn *x;          /* NULL once the connection is dead */
	char host[256];
	char port[8];
	int timeout_ms;
	uint8_t client_id[16];
	void *msg;                   /* MS_CTRL_MAX scratch for requests */
	void *resp;                  /* MS_CTRL_MAX scratch for replies */
	struct ms_region *regions;   /* open regions, freed by ms_disconnect */
	struct ms_mem *mems;         /* long-lived registrations (ms_mem_register) */
	char why[384];               /* which transport, and why */
	char errmsg[512];
};

struct ms_region {
	ms_client *c;
	uint32_t handle;
	struct ms_region_info info;
	struct ms_rdesc data;
	struct ms_rdesc meta;
	struct ms_commit_ent *pending;  /* writes since the last sync */
	size_t npending, cap;
	uint64_t pend_end;              /* no pending entry reaches past this */
	uint64_t sync_gen0, sync_gen1;  /* the last ms_sync: first and last
					 * commit generation */
	uint8_t *mbuf;                  /* metadata reads land here, registered */
	size_t mbuf_cap;                /* once (NULL mr once the connection died) */
	struct ms_xmr *mbuf_mr;
	struct ms_region *next;
};

/* A caller buffer registered once with the connection (ms_mem_register);
 * transfers whose local range lies inside it reuse the registration. */
struct ms_mem {
	ms_client *c;
	uint8_t *addr;
	size_t len;
	struct ms_xmr *mr;           /* NULL once the connection died */
	struct ms_mem *next;
};

MS_PRINTF(3, 4) static int cl_err(ms_client *c, int err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(c->errmsg, sizeof(c->errmsg), fmt, ap);
	va_end(ap);
	return err;
}

/* The connection can no longer be trusted (timeout, transport failure):
 * close it so nothing lands in caller memory any more. */
static void cl_kill(ms_client *c)
{
	if (c->x) {
		c->ops->close(c->x);
		c->x = NULL;
	}
	/* the connection took its registrations with it */
	for (struct ms_mem *m = c->mems; m; m = m->next)
		m->mr = NULL;
	for (struct ms_region *r = c->regions; r; r = r->next)
		r->mbuf_mr = NULL;
}

/* One control round trip.  Returns the reply length, or -errno with
 * errmsg set; an ERROR reply becomes its errno and message. */
static int cl_call(ms_client *c, const char *what, int reqlen, int want)
{
	size_t rlen = 0;
	int ret, type;

	if (reqlen < 0)
		return cl_err(c, reqlen, "%s: cannot encode request: %s", what,
			      strerror(-reqlen));
	if (!c->x)
		return cl_err(c, -ENOTCONN, "%s: not connected to %s:%s", what,
			      c->host, c->port);
	ret = c->ops->call(c->x, c->msg, (size_t)reqlen, c->resp, MS_CTRL_MAX,
			   &rlen, c->timeout_ms);
	if (ret < 0) {
		if (ret != -EMSGSIZE)
			cl_kill(c);
		return cl_err(c, ret, "%s: connection to %s:%s failed: %s", what,
			      c->host, c->port, strerror(-ret));
	}
	type = ms_msg_type(c->resp, rlen);
	if (type == MS_MSG_ERROR) {
		struct ms_msg_error e;

		if (ms_dec_error(c->resp, rlen, &e))
			return cl_err(c, -EPROTO, "%s: malformed error reply", what);
		return cl_err(c, -e.err, "%s on %s:%s", e.msg, c->host, c->port);
	}
	if (type != want)
		return cl_err(c, -EPROTO, "%s: unexpected reply %s from %s:%s",
			      what, ms_msg_name(type), c->host, c->port);
	return (int)rlen;
}

MS_EXPORT ms_client *ms_connect(const char *host, const char *port,
				const struct ms_client_opts *o, char *errmsg,
				size_t errmsg_len)
{
	struct ms_client_opts def = { 0 };
	struct ms_xopts xo = { 0 };
	struct ms_msg_hello h = { .version = MS_PROTO_VERSION };
	struct ms_msg_hello_ok hok;
	char why[256], xerr[256] = "";
	ms_client *c;
	int ret, len;

	if (!o)
		o = &def;
	if (!host || !*host || !port || !*port || strlen(host) >= 256 ||
	    strlen(port) >= 8) {
		snprintf(errmsg ? errmsg : why, errmsg ? errmsg_len : sizeof(why),
			 "invalid address");
		errno = EINVAL;
		return NULL;
	}
	c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	c->msg = malloc(MS_CTRL_MAX);
	c->resp = malloc(MS_CTRL_MAX);
	if (!c->msg || !c->resp) {
		ret = cl_err(c, -ENOMEM, "out of memory");
		goto fail;
	}
	snprintf(c->host, sizeof(c->host), "%s", host);
	snprintf(c->port, sizeof(c->port), "%s", port);
	c->timeout_ms = o->timeout_ms > 0 ? o->timeout_ms : DEFAULT_TIMEOUT_MS;
	if (o->have_client_id)
		memcpy(c->client_id, o->client_id, 16);
	else if (getrandom(c->client_id, 16, 0) != 16) {
		ret = cl_err(c, -errno, "getrandom: %s", strerror(errno));
		goto fail;
	}

	c->ops = ms_transport_get(o->transport, host, why, sizeof(why));
	if (!c->ops) {
		ret = cl_err(c, -errno, "%s", why);
		goto fail;
	}
	snprintf(c->why, sizeof(c->why), "%s", why);
	xo.depth = o->queue_depth ? o->queue_depth : DEFAULT_DEPTH;
	xo.max_io = o->max_io ? o->max_io : DEFAULT_MAX_IO;
	xo.timeout_ms = c->timeout_ms;
	ret = c->ops->connect(host, port, &xo, &c->x, xerr, sizeof(xerr));
	if (ret && o->transport == MS_TRANSPORT_AUTO && strcmp(c->ops->name, "tcp") != 0) {
		/* A device reaches the host, but the server does not take
		 * RDMA there (a TCP-only server, say): TCP, and say why. */
		snprintf(c->why, sizeof(c->why), "tcp: auto (rdma: %.300s)",
			 *xerr ? xerr : strerror(-ret));
		c->ops = ms_transport_get(MS_TRANSPORT_TCP, host, why, sizeof(why));
		*xerr = '\0';
		ret = c->ops->connect(host, port, &xo, &c->x, xerr, sizeof(xerr));
	}
	if (ret) {
		c->x = NULL;
		if (*xerr)
			ret = cl_err(c, ret, "%s (%s)", xerr, c->ops->name);
		else
			ret = cl_err(c, ret, "cannot connect to %s:%s over %s: %s",
				     host, port, c->ops->name, strerror(-ret));
		goto fail;
	}

	memcpy(h.client_id, c->client_id, 16);
	snprintf(h.agent, sizeof(h.agent), "libmemsync/%s", ms_version());
	len = cl_call(c, "hello", ms_enc_hello(c->msg, MS_CTRL_MAX, &h),
		      MS_MSG_HELLO_OK);
	if (len < 0) {
		ret = len;
		goto fail;
	}
	if (ms_dec_hello_ok(c->resp, (size_t)len, &hok) ||
	    hok.version != MS_PROTO_VERSION) {
		ret = cl_err(c, -EPROTO, "%s:%s does not speak memsync protocol %d",
			     host, port, MS_PROTO_VERSION);
		goto fail;
	}
	/* never send a request larger than the server accepts */
	if (hok.max_io && hok.max_io < c->x->max_io)
		c->x->max_io = hok.max_io;
	return c;

fail:
	if (errmsg && errmsg_len)
		snprintf(errmsg, errmsg_len, "%s", c->errmsg);
	cl_kill(c);
	free(c->msg);
	free(c->resp);
	free(c);
	errno = -ret;
	return NULL;
}

MS_EXPORT void ms_disconnect(ms_client *c)
{
	if (!c)
		return;
	while (c->regions)
		ms_close(c->regions);
	while (c->mems)
		ms_mem_unregister(c->mems);
	if (c->x) {
		/* a polite goodbye; the server cleans up either way */
		(void)cl_call(c, "bye", ms_enc_empty(c->msg, MS_CTRL_MAX, MS_MSG_BYE),
			      MS_MSG_BYE_OK);
	}
	cl_kill(c);
	free(c->msg);
	free(c->resp);
	free(c);
}

MS_EXPORT const char *ms_client_errmsg(const ms_client *c)
{
	return c ? c->errmsg : "";
}

MS_EXPORT const char *ms_client_transport(const ms_client *c)
{
	return c->ops->name;
}

MS_EXPORT const char *ms_client_transport_why(const ms_client *c)
{
	return c->why;
}

MS_EXPORT ms_region *ms_open(ms_client *c, const char *name, enum ms_mode mode)
{
	struct ms_msg_open m = { .mode = (uint32_t)mode };
	struct ms_msg_open_ok ok;
	ms_region *r;
	int len;

	if (!name || !ms_name_valid(name)) {
		errno = -cl_err(c, -EINVAL, "invalid region name '%s'",
				name ? name : "(null)");
		return NULL;
	}
	if (mode != MS_MODE_READ && mode != MS_MODE_WRITE) {
		errno = -cl_err(c, -EINVAL, "invalid open mode %d", (int)mode);
		return NULL;
	}
	snprintf(m.name, sizeof(m.name), "%s", name);
	len = cl_call(c, "open", ms_enc_open(c->msg, MS_CTRL_MAX, &m), MS_MSG_OPEN_OK);
	if (len < 0) {
		errno = -len;
		return NULL;
	}
	if (ms_dec_open_ok(c->resp, (size_t)len, &ok) || !ok.size ||
	    !ms_is_pow2(ok.chunk_size) ||
	    ok.nchunks != ms_div_round_up(ok.size, ok.chunk_size) ||
	    ok.data.len < ok.size ||
	    ok.meta.len < ok.nchunks * MS_META_ENTRY_SIZE) {
		errno = -cl_err(c, -EPROTO, "malformed OPEN reply from %s:%s",
				c->host, c->port);
		return NULL;
	}
	r = calloc(1, sizeof(*r));
	if (!r) {
		errno = ENOMEM;
		return NULL;
	}
	r->c = c;
	r->handle = ok.handle;
	snprintf(r->info.name, sizeof(r->info.name), "%s", name);
	r->info.size = ok.size;
	r->info.chunk_size = ok.chunk_size;
	r->info.nchunks = ok.nchunks;
	r->info.generation = ok.generation;
	r->info.mode = mode;
	r->data = ok.data;
	r->meta = ok.meta;
	r->next = c->regions;
	c->regions = r;
	return r;
}

MS_EXPORT void ms_region_info(const ms_region *r, struct ms_region_info *out)
{
	*out = r->info;
}

MS_EXPORT int ms_close(ms_region *r)
{
	struct ms_msg_handle m;
	ms_client *c;
	int ret = 0;

	if (!r)
		return 0;
	c = r->c;
	m.handle = r->handle;
	if (c->x) {
		ret = cl_call(c, "close", ms_enc_close(c->msg, MS_CTRL_MAX, &m),
			      MS_MSG_CLOSE_OK);
		ret = ret < 0 ? ret : 0;
	}
	for (ms_region **pp = &c->regions; *pp; pp = &(*pp)->next) {
		if (*pp == r) {
			*pp = r->next;
			break;
		}
	}
	if (r->mbuf_mr && c->x)
		c->ops->dereg_mr(c->x, r->mbuf_mr);
	free(r->mbuf);
	free(r->pending);
	free(r);
	return ret;
}

/* ------------------------------------------------ long-lived registrations */

MS_EXPORT ms_mem *ms_mem_register(ms_client *c, void *addr, size_t len)
{
	ms_mem *m;
	int ret;

	if (!addr || !len) {
		errno = -cl_err(c, -EINVAL, "register: empty buffer");
		return NULL;
	}
	if (!c->x) {
		errno = -cl_err(c, -ENOTCONN, "register: not connected to %s:%s",
				c->host, c->port);
		return NULL;
	}
	m = calloc(1, sizeof(*m));
	if (!m) {
		errno = -cl_err(c, -ENOMEM, "register: out of memory");
		return NULL;
	}
	ret = c->ops->reg_mr(c->x, addr, len, &m->mr);
	if (ret) {
		free(m);
		errno = -cl_err(c, ret, "cannot register memory: %s", strerror(-ret));
		return NULL;
	}
	m->c = c;
	m->addr = addr;
	m->len = len;
	m->next = c->mems;
	c->mems = m;
	return m;
}

MS_EXPORT void ms_mem_unregister(ms_mem *m)
{
	ms_client *c;

	if (!m)
		return;
	c = m->c;
	if (m->mr && c->x)
		c->ops->dereg_mr(c->x, m->mr);
	for (ms_mem **pp = &c->mems; *pp; pp = &(*pp)->next) {
		if (*pp == m) {
			*pp = m->next;
			break;
		}
	}
	free(m);
}

/* A live registration of c that contains [p, p+len). */
static bool mem_find(const ms_client *c, const void *p, uint64_t len,
		     struct ms_xmr **mr)
{
	const uint8_t *a = p;

	for (const struct ms_mem *m = c->mems; m; m = m->next) {
		if (m->mr && a >= m->addr && len <= m->len &&
		    (size_t)(a - m->addr) <= m->len - len) {
			*mr = m->mr;
			return true;
		}
	}
	return false;
}

/* ---------------------------------------------------------------- I/O */

/* Run segments against the connection; a failure that leaves the
 * connection in doubt closes it. */
static int cl_run(ms_client *c, const char *what, const struct ms_seg *segs,
		  size_t n, const struct ms_xfer_cb *cb, uint64_t *bytes)
{
	int ret;

	if (!c->x)
		return cl_err(c, -ENOTCONN, "%s: not connected to %s:%s", what,
			      c->host, c->port);
	ret = ms_xfer_run(c->x, segs, n, c->timeout_ms, cb, bytes);
	if (ret == -EACCES)
		return cl_err(c, ret, "%s: %s:%s refused access (key not granted)",
			      what, c->host, c->port);
	if (ret == -ERANGE)
		return cl_err(c, ret, "%s: %s:%s says the range is outside the region",
			      what, c->host, c->port);
	if (ret) {
		cl_kill(c);
		return cl_err(c, ret, "%s: transfer with %s:%s failed: %s", what,
			      c->host, c->port, strerror(-ret));
	}
	return 0;
}

static int check_range(const ms_region *r, const char *what, uint64_t off,
		       uint64_t len)
{
	if (!len || off > r->info.size || len > r->info.size - off)
		return cl_err(r->c, -ERANGE,
			      "%s: range [%llu, +%llu) is outside region '%s' of %llu bytes",
			      what, (unsigned long long)off, (unsigned long long)len,
			      r->info.name, (unsigned long long)r->info.size);
	return 0;
}

/* Read the metadata entries of chunks [c0, c0+n) into buf. */
#define META_BUF_MAX (1u << 20)  /* metadata reads up to this reuse one registration */

/* A registered landing area for metadata reads of len bytes: the region's
 * own (registered once: a small pull then costs no registration, which
 * over RDMA is a system call and page pinning), or NULL for a read too
 * large to keep a buffer for. */
static int meta_buf(ms_region *r, size_t len, bool *use)
{
	struct ms_xmr *mr = NULL;
	size_t cap = MS_MAX(len, (size_t)4096);
	uint8_t *b;
	int ret;

	*use = len <= META_BUF_MAX;
	if (!*use || (r->mbuf_mr && len <= r->mbuf_cap))
		return 0;
	if (r->mbuf_mr)
		r->c->ops->dereg_mr(r->c->x, r->mbuf_mr);
	r->mbuf_mr = NULL;
	free(r->mbuf);
	r->mbuf = NULL;
	r->mbuf_cap = 0;
	b = malloc(cap);
	if (!b)
		return cl_err(r->c, -ENOMEM, "out of memory");
	ret = r->c->ops->reg_mr(r->c->x, b, cap, &mr);
	if (ret) {
		free(b);
		return cl_err(r->c, ret, "cannot register memory: %s", strerror(-ret));
	}
	r->mbuf = b;
	r->mbuf_cap = cap;
	r->mbuf_mr = mr;
	return 0;
}

static int read_meta(ms_region *r, uint64_t c0, uint64_t n, void *buf)
{
	struct ms_seg seg = {
		.op = MS_XOP_READ,
		.local = buf,
		.len = n * MS_META_ENTRY_SIZE,
		.remote = &r->meta,
		.roff = c0 * MS_META_ENTRY_SIZE,
	};
	struct ms_xmr *mr = NULL;
	bool cached;
	int ret;

	if (!r->c->x)
		return cl_err(r->c, -ENOTCONN, "read metadata: not connected");
	ret = meta_buf(r, seg.len, &cached);
	if (ret)
		return ret;
	if (cached && r->mbuf) {
		seg.local = r->mbuf;
		seg.lmr = r->mbuf_mr;
		ret = cl_run(r->c, "read metadata", &seg, 1, NULL, NULL);
		if (!ret)
			memcpy(buf, r->mbuf, seg.len);
		return ret;
	}
	ret = r->c->ops->reg_mr(r->c->x, buf, seg.len, &mr);
	if (ret)
		return cl_err(r->c, ret, "cannot register memory: %s", strerror(-ret));
	seg.lmr = mr;
	ret = cl_run(r->c, "read metadata", &seg, 1, NULL, NULL);
	if (r->c->x)   /* a dead connection took its registrations with it */
		r->c->ops->dereg_mr(r->c->x, mr);
	return ret;
}

/* Byte range of chunk i clipped to [off, off+len); false if empty. */
static bool chunk_piece(const ms_region *r, uint64_t i, uint64_t off,
			uint64_t len, uint64_t *poff, uint64_t *plen)
{
	uint64_t cs = r->info.chunk_size;
	uint64_t a = MS_MAX(i * cs, off);
	uint64_t b = MS_MIN(MS_MIN((i + 1) * cs, r->info.size), off + len);

	*poff = a;
	*plen = b > a ? b - a : 0;
	return b > a;
}

static bool chunk_whole(const ms_region *r, uint64_t i, uint64_t plen)
{
	uint64_t cs = r->info.chunk_size;

	return plen == MS_MIN(cs, r->info.size - i * cs);
}

/* Segments covering the set chunks of `map` (indices relative to c0), each
 * a run of at most `group` chunks clipped to [off, off+len). */
static size_t build_segs(const ms_region *r, const struct ms_chunkmap *map,
			 uint64_t c0, uint64_t off, uint64_t len, uint64_t group,
			 enum ms_xop op, uint8_t *base, struct ms_xmr *mr,
			 struct ms_seg *segs, uint64_t *seg_first)
{
	uint64_t pos = 0, start, n, a, b, alen, blen;
	size_t k = 0;

	while (ms_chunkmap_next_run(map, &pos, &start, &n, group)) {
		chunk_piece(r, c0 + start, off, len, &a, &alen);
		chunk_piece(r, c0 + start + n - 1, off, len, &b, &blen);
		segs[k] = (struct ms_seg){
			.op = op,
			.local = base + (a - off),
			.len = b + blen - a,
			.lmr = mr,
			.remote = &r->data,
			.roff = a,
		};
		seg_first[k++] = start;
	}
	return k;
}

struct pull {
	ms_region *r;
	uint8_t *dst;
	uint64_t off, len, c0, group;
	const uint8_t *meta;           /* entries for c0.. */
	struct ms_chunkmap *bad;
	const struct ms_seg *segs;
	const uint64_t *seg_first;
	ms_progress_fn progress;
	void *progress_ud;
	uint64_t progress_base, progress_total;
};

#define META_SEG UINT64_MAX   /* seg_first[] of the metadata segment */

/* A segment landed: hash its whole chunks against the table read before. */
static void pull_seg_done(void *ud, size_t idx)
{
	struct pull *p = ud;
	const ms_region *r = p->r;
	uint64_t first = p->seg_first[idx];

	if (first == META_SEG)
		return;         /* the table itself, read ahead of the data */
	uint64_t end = first + ms_div_round_up(p->segs[idx].len, r->info.chunk_size) + 1;
	uint8_t h[MS_HASH_LEN];
	uint64_t poff, plen;

	for (uint64_t i = first; i < end && i < p->bad->nbits; i++) {
		if (!chunk_piece(r, p->c0 + i, p->off, p->len, &poff, &plen) ||
		    poff >= p->segs[idx].roff + p->segs[idx].len)
			break;
		if (!chunk_whole(r, p->c0 + i, plen))
			continue;
		ms_chunk_hash(p->dst + (poff - p->off), plen, h);
		if (!ms_hash_eq(h, ms_meta_hash(p->meta, i)))
			ms_chunkmap_set(p->bad, i);
	}
}

static void pull_progress(void *ud, uint64_t done, uint64_t total)
{
	struct pull *p = ud;

	if (p->progress)
		p->progress(p->progress_ud, MS_MIN(p->progress_base + done,
						  p->progress_total),
			    p->progress_total);
}

static int pull_impl(ms_region *r, uint64_t off, void *dst, uint64_t len,
		     const struct ms_xfer_opts *o, struct ms_xfer_stats *st,
		     uint64_t *gens, uint8_t *hashes)
{
	static const struct ms_xfer_opts def;
	ms_client *c = r->c;
	struct ms_xfer_stats s = { 0 };
	struct ms_chunkmap todo = { 0 }, bad = { 0 };
	uint8_t *meta1 = NULL, *meta2 = NULL;
	struct ms_seg *segs = NULL;
	uint64_t *seg_first = NULL;
	struct ms_xmr *mr = NULL;
	uint64_t c0, nch, t0 = ms_now_ns();
	bool own_mr = false, whole;
	int ret;

	if (!o)
		o = &def;
	ret = check_range(r, "pull", off, len);
	if (ret)
		return ret;
	if (!c->x)
		return cl_err(c, -ENOTCONN, "pull: not connected to %s:%s", c->host,
			      c->port);
	ms_chunk_span(off, len, r->info.chunk_size, &c0, &nch);
	struct pull p = {
		.r = r, .dst = dst, .off = off, .len = len, .c0 = c0,
		.bad = &bad, .progress = o->progress, .progress_ud = o->progress_ud,
		.progress_total = len,
	};
	p.group = MS_MAX(1u, c->x->max_io / r->info.chunk_size);
	meta1 = malloc(nch * MS_META_ENTRY_SIZE);
	meta2 = malloc(nch * MS_META_ENTRY_SIZE);
	segs = malloc((nch + 1) * sizeof(*segs));
	seg_first = malloc((nch + 1) * sizeof(*seg_first));
	if (!meta1 || !meta2 || !segs || !seg_first ||
	    ms_chunkmap_init(&todo, nch) || ms_chunkmap_init(&bad, nch)) {
		ret = cl_err(c, -ENOMEM, "pull: out of memory");
		goto out;
	}
	own_mr = !mem_find(c, dst, len, &mr);
	ret = own_mr ? c->ops->reg_mr(c->x, dst, len, &mr) : 0;
	if (ret) {
		ret = cl_err(c, ret, "pull: cannot register memory: %s", strerror(-ret));
		goto out;
	}
	ms_chunkmap_set_range(&todo, 0, nch);
	s.chunks_total = nch;
	whole = off % r->info.chunk_size == 0 &&
		(len % r->info.chunk_size == 0 || off + len == r->info.size);
	for (int round = 0; round < PULL_ROUNDS; round++) {
		uint64_t bytes = 0, again = 0, mlen = nch * MS_META_ENTRY_SIZE;
		bool piped = false;

		if (!o->no_verify) {
			/* When every chunk is whole (hash-checked), the table's
			 * READ goes out right ahead of the data's on the same
			 * connection, one round trip sooner: a server serves them
			 * in order, and should a device read the data first, the
			 * hash still rejects bytes that are not the ones the
			 * table names.  Partial chunks have only the generations
			 * to go by, so the table is read first, on its own. */
			ret = whole ? meta_buf(r, mlen, &piped) : 0;
			if (!ret && !piped)
				ret = read_meta(r, c0, nch, meta1);
			if (ret)
				goto out;
		}
		size_t k0 = piped ? 1 : 0;
		size_t nseg = k0 + build_segs(r, &todo, c0, off, len, p.group, MS_XOP_READ,
					      dst, mr, segs + k0, seg_first + k0);

		if (piped) {
			segs[0] = (struct ms_seg){ .op = MS_XOP_READ, .local = r->mbuf, .len = mlen,
						   .lmr = r->mbuf_mr, .remote = &r->meta,
						   .roff = c0 * MS_META_ENTRY_SIZE };
			seg_first[0] = META_SEG;
		}
		struct ms_xfer_cb cb = {
			.seg_done = o->no_verify ? NULL : pull_seg_done,
			.progress = pull_progress,
			.ud = &p,
		};
		p.meta = piped ? r->mbuf : meta1;
		p.segs = segs;
		p.seg_first = seg_first;
		ms_chunkmap_clear_all(&bad);
		ret = cl_run(c, "pull", segs, nseg, &cb, &bytes);
		if (piped) {
			bytes -= MS_MIN(bytes, mlen);   /* data bytes only */
			if (!ret && r->mbuf)
				memcpy(meta1, r->mbuf, mlen);
		}
		s.bytes += bytes;
		s.chunks_moved += ms_chunkmap_count(&todo);
		if (ret || o->no_verify)
			goto out;
		/* seqlock: a chunk whose generation moved while we read it, or
		 * whose bytes do not hash to the committed value, is read again */
		ret = read_meta(r, c0, nch, meta2);
		if (ret)
			goto out;
		for (uint64_t i = 0; i < nch; i++) {
			bool redo = ms_chunkmap_test(&bad, i) ||
				    ms_meta_gen(meta1, i) != ms_meta_gen(meta2, i);

			if (ms_chunkmap_test(&todo, i) && redo) {
				again++;
				continue;
			}
			if (ms_chunkmap_test(&todo, i)) {
				/* good in this round: these are its values */
				if (gens)
					gens[i] = ms_meta_gen(meta1, i);
				if (hashes)
					memcpy(hashes + i * MS_HASH_LEN, ms_meta_hash(meta1, i),
					       MS_HASH_LEN);
			}
			ms_chunkmap_clear(&todo, i);
		}
		if (!again)
			goto out;
		s.chunks_retried += again;
		p.progress_base += bytes;
		p.progress_total += again * r->info.chunk_size;
	}
	{
		uint64_t pos = 0, first, n;

		ms_chunkmap_next_run(&todo, &pos, &first, &n, 1);
		ret = cl_err(c, -EIO,
			     "pull: %llu chunk(s) of region '%s' (first: chunk %llu) do not match "
			     "their committed hash after %d reads; is the region being changed "
			     "without a commit?",
			     (unsigned long long)ms_chunkmap_count(&todo), r->info.name,
			     (unsigned long long)(c0 + first), PULL_ROUNDS);
	}
out:
	if (own_mr && mr && c->x)
		c->ops->dereg_mr(c->x, mr);
	ms_chunkmap_free(&todo);
	ms_chunkmap_free(&bad);
	free(meta1);
	free(meta2);
	free(segs);
	free(seg_first);
	s.ns = ms_now_ns() - t0;
	if (st)
		*st = s;
	return ret;
}

MS_EXPORT int ms_pull(ms_region *r, uint64_t off, void *dst, uint64_t len,
		      const struct ms_xfer_opts *o, struct ms_xfer_stats *st)
{
	return pull_impl(r, off, dst, len, o, st, NULL, NULL);
}

int ms_pull_gens(ms_region *r, uint64_t off, void *dst, uint64_t len,
		 uint64_t *gens, uint8_t *hashes)
{
	return pull_impl(r, off, dst, len, NULL, NULL, gens, hashes);
}

/* Metadata entries per read of ms_chunk_generations() (1 MiB of table). */
#define GENS_BATCH (1u << 15)

MS_EXPORT int ms_chunk_generations(ms_region *r, uint64_t first, uint64_t n,
				   uint64_t *gens)
{
	uint8_t *meta;
	int ret = 0;

	if (!gens || !n || first >= r->info.nchunks || n > r->info.nchunks - first)
		return cl_err(r->c, -ERANGE,
			      "generations: chunks [%llu, +%llu) are outside region '%s' "
			      "(%llu chunks)", (unsigned long long)first,
			      (unsigned long long)n, r->info.name,
			      (unsigned long long)r->info.nchunks);
	if (!r->c->x)
		return cl_err(r->c, -ENOTCONN, "generations: not connected to %s:%s",
			      r->c->host, r->c->port);
	meta = malloc((size_t)MS_MIN(n, (uint64_t)GENS_BATCH) * MS_META_ENTRY_SIZE);
	if (!meta)
		return cl_err(r->c, -ENOMEM, "generations: out of memory");
	for (uint64_t done = 0; done < n && !ret;) {
		uint64_t k = MS_MIN(n - done, (uint64_t)GENS_BATCH);

		ret = read_meta(r, first + done, k, meta);
		for (uint64_t i = 0; !ret && i < k; i++)
			gens[done + i] = ms_meta_gen(meta, i);
		done += k;
	}
	free(meta);
	return ret;
}

/* ------------------------------------------------------- write / commit */

static int pending_add(ms_region *r, uint64_t off, uint64_t len,
		       const uint8_t hash[MS_HASH_LEN])
{
	if (r->npending == r->cap) {
		size_t cap = r->cap ? 2 * r->cap : 256;
		struct ms_commit_ent *p = realloc(r->pending, cap * sizeof(*p));

		if (!p)
			return cl_err(r->c, -ENOMEM, "out of memory");
		r->pending = p;
		r->cap = cap;
	}
	r->pending[r->npending].off = off;
	r->pending[r->npending].len = len;
	r->pending[r->npending].flags = 0;
	memcpy(r->pending[r->npending].hash, hash, MS_HASH_LEN);
	r->npending++;
	r->pend_end = MS_MAX(r->pend_end, off + len);
	return 0;
}

/* A new write over [off, off+len): pending entries inside it are replaced
 * by the new ones; entries it overlaps only partly can no longer be
 * verified as a whole, so they are committed unverified. */
static void pending_supersede(ms_region *r, uint64_t off, uint64_t len)
{
	size_t k = 0;

	/* writes in ascending order (a map sync, a push) overlap nothing */
	if (off >= r->pend_end)
		return;
	for (size_t i = 0; i < r->npending; i++) {
		struct ms_commit_ent *e = &r->pending[i];
		uint64_t elen = e->len;

		if (e->off >= off && e->off + elen <= off + len)
			continue;             /* fully rewritten: drop */
		if (e->off < off + len && off < e->off + elen)
			e->flags |= MS_COMMIT_F_NOVERIFY;
		r->pending[k++] = *e;
	}
	r->npending = k;
}

static int need_write(ms_region *r, const char *what)
{
	if (r->info.mode != MS_MODE_WRITE)
		return cl_err(r->c, -EACCES,
			      "%s: region '%s' is open read-only; open it for writing",
			      what, r->info.name);
	return 0;
}

struct wprog {
	ms_progress_fn fn;
	void *ud;
};

static void write_progress(void *ud, uint64_t done, uint64_t total)
{
	struct wprog *w = ud;

	if (w->fn)
		w->fn(w->ud, done, total);
}

/* Write segments, then remember one commit entry per chunk piece in
 * [off, off+len) whose bit is set in map (hashes[i] for relative chunk i,
 * computed now when hashes is NULL). */
static int write_and_record(ms_region *r, const struct ms_seg *segs, size_t nseg,
			    const struct ms_chunkmap *map, uint64_t c0,
			    uint64_t off, uint64_t len, const uint8_t *src,
			    const uint8_t (*hashes)[MS_HASH_LEN],
			    const struct ms_xfer_opts *o, uint64_t *bytes)
{
	struct wprog wp = { o->progress, o->progress_ud };
	struct ms_xfer_cb cb = { .progress = write_progress, .ud = &wp };
	uint64_t pos = 0, start, n, poff, plen;
	uint8_t h[MS_HASH_LEN];
	int ret;

	pending_supersede(r, off, len);
	ret = cl_run(r->c, "write", segs, nseg, &cb, bytes);
	if (ret)
		return ret;
	while (ms_chunkmap_next_run(map, &pos, &start, &n, 0)) {
		for (uint64_t i = start; i < start + n; i++) {
			chunk_piece(r, c0 + i, off, len, &poff, &plen);
			if (!hashes)
				ms_chunk_hash(src + (poff - off), plen, h);
			ret = pending_add(r, poff, plen, hashes ? hashes[i] : h);
			if (ret)
				return ret;
		}
	}
	return 0;
}

MS_EXPORT int ms_write(ms_region *r, uint64_t off, const void *src, uint64_t len,
		       const struct ms_xfer_opts *o, struct ms_xfer_stats *st)
{
	static const struct ms_xfer_opts def;
	struct ms_xfer_stats s = { 0 };
	struct ms_chunkmap all = { 0 };
	struct ms_xmr *mr = NULL;
	uint64_t c0, nch, t0 = ms_now_ns();
	bool own_mr = false;
	int ret;

	if (!o)
		o = &def;
	if ((ret = need_write(r, "write")) || (ret = check_range(r, "write", off, len)))
		return ret;
	if (!r->c->x)
		return cl_err(r->c, -ENOTCONN, "write: not connected");
	ms_chunk_span(off, len, r->info.chunk_size, &c0, &nch);
	if (ms_chunkmap_init(&all, nch))
		return cl_err(r->c, -ENOMEM, "write: out of memory");
	ms_chunkmap_set_range(&all, 0, nch);
	own_mr = !mem_find(r->c, src, len, &mr);
	ret = own_mr ? r->c->ops->reg_mr(r->c->x, (void *)src, len, &mr) : 0;
	if (ret) {
		ret = cl_err(r->c, ret, "write: cannot register memory: %s",
			     strerror(-ret));
		goto out;
	}
	struct ms_seg seg = {
		.op = MS_XOP_WRITE, .local = (void *)src, .len = len, .lmr = mr,
		.remote = &r->data, .roff = off,
	};
	ret = write_and_record(r, &seg, 1, &all, c0, off, len, src, NULL, o, &s.bytes);
	s.chunks_total = s.chunks_moved = nch;
out:
	if (own_mr && mr && r->c->x)
		r->c->ops->dereg_mr(r->c->x, mr);
	ms_chunkmap_free(&all);
	s.ns = ms_now_ns() - t0;
	if (st)
		*st = s;
	return ret;
}

int ms_write_pieces(ms_region *r, const struct ms_wpiece *p, size_t n, uint64_t *bytes)
{
	struct ms_xfer_cb cb = { 0 };
	struct ms_xmr **own = NULL;
	struct ms_seg *segs = NULL;
	uint64_t first, nch, poff, plen;
	uint8_t h[MS_HASH_LEN];
	int ret;

	*bytes = 0;
	if ((ret = need_write(r, "write")))
		return ret;
	for (size_t i = 0; i < n; i++)
		if ((ret = check_range(r, "write", p[i].off, p[i].len)))
			return ret;
	if (!r->c->x)
		return cl_err(r->c, -ENOTCONN, "write: not connected");
	if (!n)
		return 0;
	segs = calloc(n, sizeof(*segs));
	own = calloc(n, sizeof(*own));
	if (!segs || !own) {
		ret = cl_err(r->c, -ENOMEM, "write: out of memory");
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		struct ms_xmr *mr = NULL;

		if (!mem_find(r->c, p[i].src, p[i].len, &mr)) {
			ret = r->c->ops->reg_mr(r->c->x, (void *)p[i].src, p[i].len, &mr);
			if (ret) {
				ret = cl_err(r->c, ret, "write: cannot register memory: %s",
					     strerror(-ret));
				goto out;
			}
			own[i] = mr;
		}
		segs[i] = (struct ms_seg){ .op = MS_XOP_WRITE, .local = (void *)p[i].src,
					   .len = p[i].len, .lmr = mr, .remote = &r->data,
					   .roff = p[i].off };
		pending_supersede(r, p[i].off, p[i].len);
	}
	ret = cl_run(r->c, "write", segs, n, &cb, bytes);
	for (size_t i = 0; i < n && !ret; i++) {
		ms_chunk_span(p[i].off, p[i].len, r->info.chunk_size, &first, &nch);
		if (p[i].hash && nch == 1) {
			ret = pending_add(r, p[i].off, p[i].len, p[i].hash);
			continue;
		}
		for (uint64_t c = first; c < first + nch && !ret; c++) {
			chunk_piece(r, c, p[i].off, p[i].len, &poff, &plen);
			ms_chunk_hash((const uint8_t *)p[i].src + (poff - p[i].off), plen, h);
			ret = pending_add(r, poff, plen, h);
		}
	}
out:
	for (size_t i = 0; own && i < n; i++)
		if (own[i] && r->c->x)
			r->c->ops->dereg_mr(r->c->x, own[i]);
	free(own);
	free(segs);
	return ret;
}

MS_EXPORT int ms_sync(ms_region *r)
{
	ms_client *c = r->c;
	size_t done = 0;
	int ret;

	if ((ret = need_write(r, "sync")))
		return ret;
	while (done < r->npending) {
		struct ms_msg_commit m = {
			.handle = r->handle,
			.n = (uint32_t)MS_MIN(r->npending - done, (size_t)MS_COMMIT_MAX_ENTS),
			.ents = r->pending + done,
		};
		struct ms_msg_gen g;
		int len = cl_call(c, "commit", ms_enc_commit(c->msg, MS_CTRL_MAX, &m),
				  MS_MSG_COMMIT_OK);

		if (len < 0)
			return len;
		if (ms_dec_gen(c->resp, (size_t)len, MS_MSG_COMMIT_OK, &g))
			return cl_err(c, -EPROTO, "commit: malformed reply");
		r->info.generation = g.generation;
		if (!done)
			r->sync_gen0 = g.generation;
		r->sync_gen1 = g.generation;
		done += m.n;
	}
	r->npending = 0;
	r->pend_end = 0;
	return 0;
}

void ms_region_sync_gens(const ms_region *r, uint64_t *first, uint64_t *last)
{
	*first = r->sync_gen0;
	*last = r->sync_gen1;
}

void ms_region_drop_pending(ms_region *r)
{
	r->npending = 0;
	r->pend_end = 0;
}

/* 1 if the server's bytes [off, off+len) differ from src, 0 if equal. */
static int piece_differs(ms_region *r, uint64_t off, uint64_t len, const uint8_t *src)
{
	uint8_t *buf = malloc(len);
	struct ms_xmr *mr = NULL;
	int ret;

	if (!buf)
		return cl_err(r->c, -ENOMEM, "push: out of memory");
	ret = r->c->ops->reg_mr(r->c->x, buf, len, &mr);
	if (ret) {
		free(buf);
		return cl_err(r->c, ret, "cannot register memory: %s", strerror(-ret));
	}
	struct ms_seg seg = { .op = MS_XOP_READ, .local = buf, .len = len, .lmr = mr,
			      .remote = &r->data, .roff = off };
	ret = cl_run(r->c, "push", &seg, 1, NULL, NULL);
	if (!ret)
		ret = memcmp(buf, src, len) != 0;
	if (r->c->x)
		r->c->ops->dereg_mr(r->c->x, mr);
	free(buf);
	return ret;
}

MS_EXPORT int ms_push(ms_region *r, uint64_t off, const void *src, uint64_t len,
		      const struct ms_xfer_opts *o, struct ms_xfer_stats *st)
{
	static const struct ms_xfer_opts def;
	const uint8_t *s8 = src;
	struct ms_xfer_stats s = { 0 };
	struct ms_chunkmap diff = { 0 };
	uint8_t (*hashes)[MS_HASH_LEN] = NULL;
	uint8_t *meta = NULL;
	struct ms_seg *segs = NULL;
	uint64_t *seg_first = NULL;
	struct ms_xmr *mr = NULL;
	uint64_t c0, nch, poff, plen, t0 = ms_now_ns();
	int ret;

	if (!o)
		o = &def;
	if ((ret = need_write(r, "push")) || (ret = check_range(r, "push", off, len)))
		return ret;
	if (!r->c->x)
		return cl_err(r->c, -ENOTCONN, "push: not connected");
	ms_chunk_span(off, len, r->info.chunk_size, &c0, &nch);
	meta = malloc(nch * MS_META_ENTRY_SIZE);
	hashes = malloc(nch * sizeof(*hashes));
	segs = malloc(nch * sizeof(*segs));
	seg_first = malloc(nch * sizeof(*seg_first));
	if (!meta || !hashes || !segs || !seg_first || ms_chunkmap_init(&diff, nch)) {
		ret = cl_err(r->c, -ENOMEM, "push: out of memory");
		goto out;
	}
	ret = read_meta(r, c0, nch, meta);
	if (ret)
		goto out;
	/* send a chunk when its committed hash differs from ours; a piece
	 * that covers a chunk only partly (at most the first and the last)
	 * is compared byte for byte with what the server holds */
	for (uint64_t i = 0; i < nch; i++) {
		chunk_piece(r, c0 + i, off, len, &poff, &plen);
		ms_chunk_hash(s8 + (poff - off), plen, hashes[i]);
		if (chunk_whole(r, c0 + i, plen)) {
			if (!ms_hash_eq(hashes[i], ms_meta_hash(meta, i)))
				ms_chunkmap_set(&diff, i);
			continue;
		}
		ret = piece_differs(r, poff, plen, s8 + (poff - off));
		if (ret < 0)
			goto out;
		if (ret)
			ms_chunkmap_set(&diff, i);
	}
	s.chunks_total = nch;
	s.chunks_moved = ms_chunkmap_count(&diff);
	if (s.chunks_moved) {
		ret = r->c->ops->reg_mr(r->c->x, (void *)src, len, &mr);
		if (ret) {
			ret = cl_err(r->c, ret, "push: cannot register memory: %s",
				     strerror(-ret));
			goto out;
		}
		size_t nseg = build_segs(r, &diff, c0, off, len,
					 MS_MAX(1u, r->c->x->max_io / r->info.chunk_size),
					 MS_XOP_WRITE, (uint8_t *)src, mr, segs, seg_first);
		ret = write_and_record(r, segs, nseg, &diff, c0, off, len, s8,
				       (const uint8_t (*)[MS_HASH_LEN])hashes, o, &s.bytes);
		if (ret)
			goto out;
	}
	ret = ms_sync(r);
out:
	if (mr && r->c->x)
		r->c->ops->dereg_mr(r->c->x, mr);
	ms_chunkmap_free(&diff);
	free(meta);
	free(hashes);
	free(segs);
	free(seg_first);
	s.ns = ms_now_ns() - t0;
	if (st)
		*st = s;
	return ret;
}

/* --------------------------------------------------------------- stat */

MS_EXPORT int ms_hot_chunks(ms_region *r, uint64_t *out, uint32_t max, uint32_t *n)
{
	ms_client *c = r->c;
	struct ms_msg_hot m = { .handle = r->handle, .max = max };
	struct ms_msg_chunks h;
	int len;

	*n = 0;
	if (max == 0 || max > MS_HOT_MAX)
		return cl_err(c, -EINVAL, "hot chunks: max must be 1..%u", MS_HOT_MAX);
	len = cl_call(c, "hot chunks", ms_enc_hot(c->msg, MS_CTRL_MAX, &m), MS_MSG_HOT_OK);
	if (len < 0)
		return len;
	if (ms_dec_chunks(c->resp, (size_t)len, MS_MSG_HOT_OK, &h, out, max) ||
	    h.handle != r->handle)
		return cl_err(c, -EPROTO, "hot chunks: malformed reply from %s:%s", c->host,
			      c->port);
	for (uint32_t i = 0; i < h.n; i++)
		if (out[i] >= r->info.nchunks)
			return cl_err(c, -EPROTO, "hot chunks: the server named chunk %llu of %llu",
				      (unsigned long long)out[i],
				      (unsigned long long)r->info.nchunks);
	*n = h.n;
	return 0;
}

MS_EXPORT int ms_touch_chunks(ms_region *r, const uint64_t *idx, uint32_t n)
{
	ms_client *c = r->c;
	struct ms_msg_chunks m = { .handle = r->handle, .n = n, .idx = (uint64_t *)idx };
	int len;

	if (n > MS_HOT_MAX)
		return cl_err(c, -EINVAL, "touch: at most %u chunks at a time", MS_HOT_MAX);
	for (uint32_t i = 0; i < n; i++)
		if (idx[i] >= r->info.nchunks)
			return cl_err(c, -ERANGE, "touch: chunk %llu is outside '%s' (%llu chunks)",
				      (unsigned long long)idx[i], r->info.name,
				      (unsigned long long)r->info.nchunks);
	len = cl_call(c, "touch", ms_enc_chunks(c->msg, MS_CTRL_MAX, MS_MSG_TOUCH, &m),
		      MS_MSG_TOUCH_OK);
	return len < 0 ? len : 0;
}

MS_EXPORT int ms_stat(ms_client *c, const char *name, struct ms_region_stat **out,
		      size_t *n)
{
	struct ms_msg_stat m = { .name = "" };
	int len, ret;

	if (name && *name) {
		if (!ms_name_valid(name))
			return cl_err(c, -EINVAL, "invalid region name '%s'", name);
		snprintf(m.name, sizeof(m.name), "%s", name);
	}
	len = cl_call(c, "stat", ms_enc_stat(c->msg, MS_CTRL_MAX, &m), MS_MSG_STAT_OK);
	if (len < 0)
		return len;
	ret = ms_dec_stat_ok(c->resp, (size_t)len, out, n);
	if (ret)
		return cl_err(c, ret == -ENOMEM ? ret : -EPROTO,
			      "stat: malformed reply from %s:%s", c->host, c->port);
	return 0;
}
