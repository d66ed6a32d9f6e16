/* SPDX-License-Identifier: Apache-2.0 */
/*
 * client.c - the client side of libmemsync: connect, open, registrations,
 * stat, and the helpers the pull (client_pull.c) and write (client_write.c)
 * paths share: control calls, transfers, borrowed local registrations.
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

#include "auth.h"
#include "client_priv.h"
#include "client_streams.h"
#include "opts.h"

#define DEFAULT_DEPTH 16
#define DEFAULT_MAX_IO (1u << 20)
#define DEFAULT_TIMEOUT_MS 30000

int cl_err(ms_client *c, int err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(c->errmsg, sizeof(c->errmsg), fmt, ap);
	va_end(ap);
	return err;
}

int cl_xfer_opts(ms_client *c, const char *what, const struct ms_xfer_opts *o,
		 struct ms_xfer_opts *out)
{
	int ret = ms_opts_take(out, sizeof(*out), MS_XFER_OPTS_V1, o);

	if (ret)
		return cl_err(c, ret, "%s: transfer options not valid (opts_size %zu)", what,
			      o->opts_size);
	return 0;
}

int cl_connected(ms_client *c, const char *what)
{
	if (!c->x)
		return cl_err(c, -ENOTCONN, "%s: not connected to %s:%s", what, c->host,
			      c->port);
	return 0;
}

/* The connection can no longer be trusted (timeout, transport failure):
 * close it so nothing lands in caller memory any more. */
void cl_kill(ms_client *c)
{
	cl_streams_close(c);            /* the extra connections go with it */
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

int cl_call(ms_client *c, const char *what, int reqlen, int want)
{
	size_t rlen = 0;
	int ret, type;

	if (reqlen < 0)
		return cl_err(c, reqlen, "%s: cannot encode request: %s", what,
			      strerror(-reqlen));
	if ((ret = cl_connected(c, what)))
		return ret;
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
	if (type == MS_MSG_MOVED) {
		struct ms_msg_moved mv;

		if (ms_dec_moved(c->resp, rlen, &mv))
			return cl_err(c, -EPROTO, "%s: malformed MOVED reply", what);
		/* where it went: following it is the caller's (client_redirect) */
		c->moved = true;
		snprintf(c->moved_name, sizeof(c->moved_name), "%s", mv.name);
		snprintf(c->moved_host, sizeof(c->moved_host), "%s", mv.host);
		snprintf(c->moved_port, sizeof(c->moved_port), "%s", mv.port);
		c->moved_epoch = mv.epoch;
		return cl_err(c, -EREMCHG, "%s: region '%s' moved from %s:%s to %s:%s (epoch %llu)",
			      what, mv.name, c->host, c->port, mv.host, mv.port,
			      (unsigned long long)mv.epoch);
	}
	if (type != want)
		return cl_err(c, -EPROTO, "%s: unexpected reply %s from %s:%s",
			      what, ms_msg_name(type), c->host, c->port);
	return (int)rlen;
}

/* TLS settings (ms_client_opts.tls_*): 1 with *t filled, 0 for none, or
 * -errno (RDMA asked for: TLS protects TCP only). */
static int cl_tls_opts(ms_client *c, const struct ms_client_opts *o, struct ms_xtls *t)
{
	if (!o->tls_ca && !o->tls_cert && !o->tls_key)
		return 0;
	if (o->transport == MS_TRANSPORT_RDMA)
		return cl_err(c, -EPROTONOSUPPORT, "TLS protects the TCP transport only "
			      "(RDMA traffic is not encrypted): use transport tcp or auto");
	*t = (struct ms_xtls){ .ca = o->tls_ca, .cert = o->tls_cert, .key = o->tls_key };
	snprintf(c->why, sizeof(c->why), "tcp: TLS");
	return 1;
}

static int dup_str(char **dst, const char **field)
{
	if (!*field)
		return 0;
	*dst = strdup(*field);
	if (!*dst)
		return -ENOMEM;
	*field = *dst;
	return 0;
}

int cl_opts_copy(struct cl_opts *dst, const struct ms_client_opts *src)
{
	memset(dst, 0, sizeof(*dst));
	dst->o = *src;
	dst->o.opts_size = sizeof(dst->o);
	if (dup_str(&dst->key_file, &dst->o.key_file) || dup_str(&dst->tls_ca, &dst->o.tls_ca) ||
	    dup_str(&dst->tls_cert, &dst->o.tls_cert) || dup_str(&dst->tls_key, &dst->o.tls_key)) {
		cl_opts_free(dst);
		return -ENOMEM;
	}
	return 0;
}

void cl_opts_free(struct cl_opts *o)
{
	free(o->key_file);
	free(o->tls_ca);
	free(o->tls_cert);
	free(o->tls_key);
	memset(o, 0, sizeof(*o));
}

ms_client *ms_connect(const char *host, const char *port,
				const struct ms_client_opts *o, char *errmsg,
				size_t errmsg_len)
{
	struct ms_client_opts def;
	struct ms_xopts xo = { 0 };
	struct ms_xtls tls;
	struct ms_msg_hello h = { .version = MS_PROTO_VERSION };
	struct ms_msg_hello_ok hok;
	struct ms_authkey key;
	char why[256], xerr[400] = "";
	ms_client *c;
	int ret, len;

	ret = ms_opts_take(&def, sizeof(def), MS_CLIENT_OPTS_V1, o);
	if (ret) {
		snprintf(errmsg ? errmsg : why, errmsg ? errmsg_len : sizeof(why),
			 "client options: opts_size %zu is not valid", o->opts_size);
		errno = -ret;
		return NULL;
	}
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
	if (!c->msg || !c->resp || cl_opts_copy(&c->opts, o)) {
		ret = cl_err(c, -ENOMEM, "out of memory");
		goto fail;
	}
	if (o->key_file) {
		ret = ms_authkey_load(o->key_file, &key, xerr, sizeof(xerr));
		if (ret) {
			ret = cl_err(c, ret, "%s", xerr);
			goto fail;
		}
		xo.key = &key;
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

	if ((ret = cl_tls_opts(c, o, &tls)) < 0)
		goto fail;
	xo.tls = ret ? &tls : NULL;     /* TLS: TCP only (cl_tls_opts) */
	c->ops = ms_transport_get(xo.tls ? MS_TRANSPORT_TCP : o->transport, host, why,
				  sizeof(why));
	if (!c->ops) {
		ret = cl_err(c, -errno, "%s", why);
		goto fail;
	}
	if (!xo.tls)
		snprintf(c->why, sizeof(c->why), "%s", why);
	xo.depth = o->queue_depth ? o->queue_depth : DEFAULT_DEPTH;
	xo.max_io = o->max_io ? o->max_io : DEFAULT_MAX_IO;
	xo.timeout_ms = c->timeout_ms;
	ret = c->ops->connect(host, port, &xo, &c->x, xerr, sizeof(xerr));
	if (ret && o->transport == MS_TRANSPORT_AUTO && (c->ops->caps & MS_XCAP_DEVICE)) {
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
	if (len == -EPROTONOSUPPORT && !xo.tls)  /* a TLS server's answer to plain */
		len = cl_err(c, len, "%s:%s requires TLS: give the CA that signed its "
			     "certificate (tls_ca, memsync --tls-ca)", host, port);
	if (len == -EACCES && !xo.key) {
		ret = cl_err(c, -EACCES,
			     "%s:%s requires authentication: connect with a key (key file)",
			     host, port);
		goto fail;
	}
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
	explicit_bzero(&key, sizeof(key));
	return c;

fail:
	explicit_bzero(&key, sizeof(key));
	if (errmsg && errmsg_len)
		snprintf(errmsg, errmsg_len, "%s", c->errmsg);
	cl_kill(c);
	cl_opts_free(&c->opts);
	free(c->msg);
	free(c->resp);
	free(c);
	errno = -ret;
	return NULL;
}

void ms_disconnect(ms_client *c)
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
	cl_opts_free(&c->opts);
	free(c->msg);
	free(c->resp);
	free(c);
}

const char *ms_client_errmsg(const ms_client *c)
{
	return c ? c->errmsg : "";
}

unsigned ms_client_caps(const ms_client *c)
{
	return c->ops->caps;
}

const char *ms_client_transport(const ms_client *c)
{
	return c->ops->name;
}

const char *ms_client_transport_why(const ms_client *c)
{
	return c->why;
}

ms_region *ms_open(ms_client *c, const char *name, enum ms_mode mode)
{
	return ms_open_with(c, name, mode, NULL);
}

ms_region *ms_open_with(ms_client *c, const char *name, enum ms_mode mode,
			const struct ms_open_opts *o)
{
	struct ms_msg_open m = { .mode = (uint32_t)mode };
	struct ms_msg_open_ok ok;
	struct ms_open_opts oc;
	ms_region *r;
	int len;

	if ((len = ms_opts_take(&oc, sizeof(oc), MS_OPEN_OPTS_V1, o))) {
		errno = -cl_err(c, len, "open: options not valid (opts_size %zu)",
				o ? o->opts_size : 0);
		return NULL;
	}
	m.expect_epoch = oc.expect_epoch;

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
	len = cl_open_call(c, &m);     /* follows MOVED (client_redirect.c) */
	if (len < 0) {
		errno = -len;
		return NULL;
	}
	if (ms_dec_open_ok(c->resp, (size_t)len, &ok) || !ok.size ||
	    !ms_is_pow2(ok.chunk_size) ||
	    ok.nchunks != ms_div_round_up(ok.size, ok.chunk_size) ||
	    ok.data.len < ok.size ||
	    ok.meta.len < ok.nchunks * MS_META_ENTRY_SIZE || ok.commit_mode > MS_COMMIT_DIRECT ||
	    (mode == MS_MODE_WRITE && (!ok.epoch || !ok.lease_ttl_ms))) {
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
	r->info.commit_mode = (enum ms_commit_mode)ok.commit_mode;
	r->info.epoch = ok.epoch;
	r->info.lease_ttl_ms = ok.lease_ttl_ms;
	r->info.stage_limit = ok.stage_limit;
	r->renewed_ns = ms_now_ns();
	r->data = ok.data;
	r->meta = ok.meta;
	r->next = c->regions;
	c->regions = r;
	return r;
}

void ms_region_info(const ms_region *r, struct ms_region_info *out)
{
	*out = r->info;
}

int ms_close(ms_region *r)
{
	struct ms_msg_handle m;
	ms_client *c;
	int ret = 0;

	if (!r)
		return 0;
	c = r->c;
	m.handle = r->handle;
	cl_streams_forget(c, r->handle);
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

ms_mem *ms_mem_register(ms_client *c, void *addr, size_t len)
{
	ms_mem *m;
	int ret;

	if (!addr || !len) {
		errno = -cl_err(c, -EINVAL, "register: empty buffer");
		return NULL;
	}
	if ((ret = cl_connected(c, "register"))) {
		errno = -ret;
		return NULL;
	}
	m = calloc(1, sizeof(*m));
	if (!m) {
		errno = -cl_err(c, -ENOMEM, "register: out of memory");
		return NULL;
	}
	ret = cl_reg(c, NULL, addr, len, &m->mr);
	if (ret) {
		free(m);
		errno = -ret;
		return NULL;
	}
	m->c = c;
	m->addr = addr;
	m->len = len;
	m->next = c->mems;
	c->mems = m;
	return m;
}

void ms_mem_unregister(ms_mem *m)
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

int cl_reg(ms_client *c, const char *what, void *p, size_t len, struct ms_xmr **mr)
{
	int ret = c->ops->reg_mr(c->x, p, len, mr);

	if (ret)
		return cl_err(c, ret, "%s%scannot register memory: %s", what ? what : "",
			      what ? ": " : "", strerror(-ret));
	return 0;
}

int cl_borrow(ms_client *c, const char *what, const void *p, uint64_t len, struct cl_lmr *l)
{
	int ret;

	l->mr = NULL;
	l->own = false;
	if ((ret = cl_connected(c, what)))
		return ret;
	if (mem_find(c, p, len, &l->mr))
		return 0;
	ret = cl_reg(c, what, (void *)p, len, &l->mr);
	l->own = !ret;
	return ret;
}

void cl_return(ms_client *c, struct cl_lmr *l)
{
	/* a dead connection took its registrations with it */
	if (l->own && l->mr && c->x)
		c->ops->dereg_mr(c->x, l->mr);
	l->mr = NULL;
	l->own = false;
}

/* ---------------------------------------------------------------- I/O */

int cl_run(ms_client *c, const char *what, const struct ms_seg *segs, size_t n,
	   const struct ms_xfer_cb *cb, uint64_t *bytes)
{
	int ret;

	if ((ret = cl_connected(c, what)))
		return ret;
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

int cl_check_range(const ms_region *r, const char *what, uint64_t off, uint64_t len)
{
	if (!len || off > r->info.size || len > r->info.size - off)
		return cl_err(r->c, -ERANGE,
			      "%s: range [%llu, +%llu) is outside region '%s' of %llu bytes",
			      what, (unsigned long long)off, (unsigned long long)len,
			      r->info.name, (unsigned long long)r->info.size);
	return 0;
}

/* ------------------------------------------------------- chunk geometry */

bool cl_chunk_piece(const ms_region *r, uint64_t i, uint64_t off, uint64_t len,
		    uint64_t *poff, uint64_t *plen)
{
	uint64_t cs = r->info.chunk_size;
	uint64_t a = MS_MAX(i * cs, off);
	uint64_t b = MS_MIN(MS_MIN((i + 1) * cs, r->info.size), off + len);

	*poff = a;
	*plen = b > a ? b - a : 0;
	return b > a;
}

bool cl_chunk_whole(const ms_region *r, uint64_t i, uint64_t plen)
{
	uint64_t cs = r->info.chunk_size;

	return plen == MS_MIN(cs, r->info.size - i * cs);
}

size_t cl_build_segs(const ms_region *r, const struct ms_chunkmap *map, uint64_t c0,
		     uint64_t off, uint64_t len, uint64_t group, enum ms_xop op, uint8_t *base,
		     struct ms_xmr *mr, struct ms_seg *segs, uint64_t *seg_first)
{
	uint64_t pos = 0, start, n, a, b, alen, blen;
	size_t k = 0;

	while (ms_chunkmap_next_run(map, &pos, &start, &n, group)) {
		cl_chunk_piece(r, c0 + start, off, len, &a, &alen);
		cl_chunk_piece(r, c0 + start + n - 1, off, len, &b, &blen);
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


/* --------------------------------------------------------------- stat */

int ms_hot_chunks(ms_region *r, uint64_t *out, size_t max, size_t *n)
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

int ms_touch_chunks(ms_region *r, const uint64_t *idx, size_t n)
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

int ms_stat(ms_client *c, const char *name, struct ms_region_stat **out,
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

