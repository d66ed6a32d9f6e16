/* SPDX-License-Identifier: Apache-2.0 */
/*
 * client_reconnect.c - a client whose connection died connects again in
 * place: the same ms_client and the same ms_region handles, so the code
 * holding them (the lazy mapper's workers, src/map*.c) carries on.
 *
 * One attempt (ms_client_reconnect): close what is left of the dead
 * transport connection, connect again with the caller's options, the
 * client's own id and the transport it had (ms_connect does the HELLO),
 * adopt that connection, register the long-lived buffers again
 * (ms_mem_register), and open every region handle the client had, with its
 * mode, again: the server gives new handles and descriptors, the region's
 * geometry must not have changed.  Retrying, with backoff and a deadline,
 * is the caller's policy.
 *
 * A region that moved to another server (MOVED) is followed there: the
 * client connects to the new place and reopens every handle there.
 *
 * What the old connection carried is gone: ms_write()s of a region that
 * were not committed yet are forgotten (the caller still has the bytes and
 * writes them again), and a write handle takes the lease again
 * (reopen_write: where the lease epoch is checked, the re-open is fenced).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client_priv.h"
#include "opts.h"

/* Fail with errmsg (and err) set; fatal says whether trying again can help. */
static int rc_fail(ms_client *c, bool *fatal, bool is_fatal, int ret, char *err, size_t errlen)
{
	*fatal = is_fatal;
	if (err && errlen)
		snprintf(err, errlen, "%s", c->errmsg);
	return ret;
}

bool ms_client_connected(const ms_client *c)
{
	return c && c->x;
}

/* Take nc's connection into c and free nc (which has no region, no
 * registration and then no connection). */
static void adopt(ms_client *c, ms_client *nc)
{
	c->ops = nc->ops;
	c->x = nc->x;
	snprintf(c->why, sizeof(c->why), "%s", nc->why);
	nc->x = NULL;
	ms_disconnect(nc);
}

/* Register every long-lived buffer of c with the new connection. */
static int reregister(ms_client *c)
{
	for (struct ms_mem *m = c->mems; m; m = m->next) {
		int ret = cl_reg(c, "reconnect", m->addr, m->len, &m->mr);

		if (ret) {
			m->mr = NULL;
			return ret;
		}
	}
	return 0;
}

/*
 * The write lease again, for r (opened MS_MODE_WRITE on the dead
 * connection).  This is where a fenced lease is told apart: the re-open
 * passes r's epoch and the server answers ESTALE ("fenced") when another
 * writer was granted the lease meanwhile, EBUSY when one holds it now;
 * both are fatal, as is any refusal the server answers with; NULL with
 * errno and c's errmsg set.
 */
static ms_region *reopen_write(ms_client *c, const ms_region *r)
{
	/* the lease again, only if no other writer took it meanwhile: else
	 * ESTALE, "fenced" (what was written since the last commit would
	 * overwrite that writer's) */
	struct ms_open_opts oo = { .opts_size = sizeof(oo), .expect_epoch = r->info.epoch };

	return ms_open_with(c, r->info.name, MS_MODE_WRITE, &oo);
}

/* Open r again on c's new connection and take the new handle and
 * descriptors into r.  *fatal when the server refused (the region is gone,
 * its geometry changed, the lease is someone else's). */
static int reopen(ms_client *c, ms_region *r, bool *fatal)
{
	ms_region *nr;

	*fatal = false;
	nr = r->info.mode == MS_MODE_WRITE ? reopen_write(c, r) :
					     ms_open(c, r->info.name, MS_MODE_READ);
	if (!nr) {
		int e = errno;

		/* an answer from the server is final; a connection that died
		 * again is not */
		*fatal = c->x != NULL && e != ENOMEM;
		return -e;
	}
	/* ms_open put nr at the head of c's list: take it out again */
	c->regions = nr->next;
	if (nr->info.size != r->info.size || nr->info.chunk_size != r->info.chunk_size) {
		*fatal = true;
		cl_err(c, -ESTALE,
		       "region '%s' on %s:%s changed while reconnecting: %llu bytes in chunks "
		       "of %u, it was %llu in chunks of %u", r->info.name, c->host, c->port,
		       (unsigned long long)nr->info.size, nr->info.chunk_size,
		       (unsigned long long)r->info.size, r->info.chunk_size);
		free(nr);
		return -ESTALE;
	}
	r->handle = nr->handle;
	r->data = nr->data;
	r->meta = nr->meta;
	r->info.generation = nr->info.generation;
	/* a new lease (epoch + 1) with staging areas of its own */
	r->info.epoch = nr->info.epoch;
	r->info.lease_ttl_ms = nr->info.lease_ttl_ms;
	r->info.commit_mode = nr->info.commit_mode;
	r->info.stage_limit = nr->info.stage_limit;
	r->renewed_ns = nr->renewed_ns;
	r->nstage = 0;
	r->staged = 0;
	r->scur = 0;
	/* written on the old connection, never committed: forgotten */
	r->npending = 0;
	r->pend_end = 0;
	free(nr);
	return 0;
}

static int reconnect_once(ms_client *c, const struct ms_client_opts *co, int timeout_ms,
			  bool *fatal, char *err, size_t errlen)
{
	struct ms_client_opts o;
	char cerr[384] = "";
	ms_client *nc;
	int ret;

	*fatal = false;
	/* NULL: the options c was connected with (its key, its TLS) */
	ret = ms_opts_take(&o, sizeof(o), MS_CLIENT_OPTS_V1, co ? co : &c->opts.o);
	if (ret) {
		cl_err(c, ret, "reconnect: client options not valid");
		return rc_fail(c, fatal, true, ret, err, errlen);
	}
	cl_kill(c);     /* what is left of the dead connection */
	/* the transport it had, not a new choice */
	if (o.transport == MS_TRANSPORT_AUTO)
		o.transport = (c->ops->caps & MS_XCAP_DEVICE) ? MS_TRANSPORT_RDMA :
								MS_TRANSPORT_TCP;
	o.have_client_id = true;
	memcpy(o.client_id, c->client_id, sizeof(o.client_id));
	/* connecting must not outlast the caller's deadline (later calls keep
	 * the client's own timeout) */
	if (timeout_ms > 0 && (o.timeout_ms <= 0 || o.timeout_ms > timeout_ms))
		o.timeout_ms = timeout_ms;
	nc = ms_connect(c->host, c->port, &o, cerr, sizeof(cerr));
	if (!nc) {
		ret = cl_err(c, -errno, "reconnect: %s", cerr);
		return rc_fail(c, fatal, false, ret, err, errlen);
	}
	adopt(c, nc);
	ret = reregister(c);
	for (ms_region *r = c->regions; !ret && r; r = r->next)
		ret = reopen(c, r, fatal);
	if (ret) {
		/* no handle is left half open: the next attempt starts over */
		cl_kill(c);
		return rc_fail(c, fatal, *fatal, ret, err, errlen);
	}
	return 0;
}

/* One attempt, following MOVED (client_redirect.c): a region that went
 * to another server is reopened there, at most MS_REDIRECT_HOPS moves. */
int ms_client_reconnect(ms_client *c, const struct ms_client_opts *co, int timeout_ms,
			bool *fatal, char *err, size_t errlen)
{
	int ret;

	for (int hop = 0;; hop++) {
		if (c->moved)          /* a request got MOVED: go there */
			cl_redirect_take(c);
		ret = reconnect_once(c, co, timeout_ms, fatal, err, errlen);
		if (ret != -EREMCHG || !c->moved || hop == MS_REDIRECT_HOPS)
			return ret;
	}
}
