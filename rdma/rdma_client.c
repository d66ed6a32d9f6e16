/* SPDX-License-Identifier: Apache-2.0 */
/*
 * rdma_client.c - the client half of the RDMA transport, and ms_rdma_ops.
 *
 * One RC queue pair and one completion queue per connection.  post() turns
 * work requests into RDMA READ/WRITE, their wr_ids pointing at per-request
 * contexts taken from a free list of `depth` entries, and queues them in
 * posting order.  Only the last request of each chain handed to
 * ibv_post_send, and every SIGNAL_EVERY-th, is signaled: an RC send queue
 * completes in order, so a signaled completion completes every request
 * queued before it too.  One poller (progress()) reaps every completion:
 * data completions go to a ring that poll() hands out, the reply to a
 * control call and notifications arrive as RECVs into two registered
 * buffers.  A work request counts as outstanding until poll() returned
 * its completion, so the ring (depth entries) cannot overflow.
 *
 * Failure: a remote access error, a DISCONNECTED event, a stalled request
 * (timeout) or an error completion moves the QP to the error state; the
 * device then flushes every posted request (an unsuccessful request always
 * completes, signaled or not), and each is completed exactly once (with
 * -ECONNRESET, or -ETIMEDOUT after a stall).  If flushes do not come
 * within FLUSH_GRACE the remaining requests are completed here.
 * Afterwards post() returns -ENOTCONN and call() the failure status.
 *
 * A request outside the remote descriptor is completed locally with
 * -ERANGE without touching the QP: the NIC would answer it with a remote
 * access error that kills the connection, the TCP server with -ERANGE.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rdma_int.h"
#include "util.h"

#define DEPTH_DEFAULT 16
#define DEPTH_MAX 4096
#define MAX_IO_DEFAULT (1u << 20)
#define TIMEOUT_DEFAULT_MS 30000
#define FLUSH_GRACE_MS 2000
#define CQ_BATCH 32
#define SIGNAL_EVERY 16

struct ms_xmr {
	struct ms_xmr *next;
	struct ibv_mr *mr;
	char *addr;
	size_t len;
};

struct req {
	struct ms_rdma_wr wr;           /* MS_RWR_DATA; wr_id points here */
	bool active;                    /* posted, not yet completed */
	uint32_t len;
	void *ctx;
	struct req *next;               /* free list, or the posted queue */
};

struct conn {
	struct ms_xconn pub;
	struct rdma_event_channel *ech;
	struct rdma_cm_id *id;
	struct ibv_pd *pd;
	struct ibv_comp_channel *cch;
	struct ibv_cq *cq;
	bool qp_made, connected;
	unsigned cq_events;             /* to acknowledge before destroying cq */
	int dead;                       /* 0, or the status everything failed with */
	uint64_t dead_ns, last_io;
	int timeout_ms;
	void (*on_notify)(void *ud, const void *msg, size_t len);
	void *notify_ud;
	struct req *reqs, *free;
	struct req *qhead, **qtail;     /* on the send queue, in posting order */
	unsigned inflight;              /* posted data requests not yet completed */
	struct ms_xring ring;           /* completions not yet polled */
	struct ms_rdma_buf rbuf[MS_RDMA_NRECV], sbuf;
	/* the control call in progress */
	bool in_call, resp_got;
	int ctrl_status;
	void *resp;
	size_t cap, resp_len;
	struct ms_xmr *mrs;
};

static struct conn *to_conn(struct ms_xconn *x)
{
	return ms_container_of(x, struct conn, pub);
}

static void req_done(struct conn *c, struct req *r, int status)
{
	r->active = false;
	ms_xring_push(&c->ring, r->ctx, status, r->len);
	c->inflight--;
	r->next = c->free;
	c->free = r;
}

/* The connection is unusable: let the device flush what is posted. */
static void conn_fail(struct conn *c, int status)
{
	struct ibv_qp_attr a = { .qp_state = IBV_QPS_ERR };

	if (c->dead)
		return;
	c->dead = status;
	c->dead_ns = ms_now_ns();
	if (c->qp_made)
		ibv_modify_qp(c->id->qp, &a, IBV_QP_STATE);
	if (c->in_call && !c->resp_got) {
		c->resp_got = true;
		c->ctrl_status = status;
	}
}

static void enqueue(struct conn *c, struct req *r)
{
	r->next = NULL;
	*c->qtail = r;
	c->qtail = &r->next;
}

/* The send queue completed r: the requests queued before it completed
 * successfully before it (in order; a failed one would have completed
 * with its own error first).  r itself completes with status. */
static void complete_upto(struct conn *c, struct req *r, int status)
{
	struct req *q;

	while ((q = c->qhead)) {
		c->qhead = q->next;
		if (!c->qhead)
			c->qtail = &c->qhead;
		if (q == r) {
			req_done(c, q, status);
			return;
		}
		req_done(c, q, 0);
	}
}

/* Flushes that never came (a device gone): complete what is left here. */
static void flush_rest(struct conn *c)
{
	struct req *q;

	while ((q = c->qhead)) {
		c->qhead = q->next;
		req_done(c, q, c->dead);
	}
	c->qtail = &c->qhead;
}

static void on_recv(struct conn *c, struct ms_rdma_buf *b, const struct ibv_wc *wc)
{
	const char *p;
	uint32_t type;
	size_t len;

	b->busy = false;
	if (wc->status != IBV_WC_SUCCESS) {
		conn_fail(c, -ECONNRESET);
		return;
	}
	if (ms_rdma_parse_msg(b, wc->byte_len, &type, &p, &len) || type == MS_RMSG_REQ ||
	    (type == MS_RMSG_RESP && (!c->in_call || c->resp_got))) {
		/* not an answer to anything we asked: the peer is not memsync's */
		conn_fail(c, -ECONNRESET);
		return;
	}
	if (type == MS_RMSG_RESP) {
		c->resp_got = true;
		c->resp_len = len;
		if (len > c->cap) {
			c->ctrl_status = -EMSGSIZE;
		} else {
			c->ctrl_status = 0;
			if (len)
				memcpy(c->resp, p, len);
		}
	} else if (c->on_notify) {
		c->on_notify(c->notify_ud, p, len);
	}
	if (!c->dead && ms_rdma_post_recv(c->id->qp, b))
		conn_fail(c, -ECONNRESET);
}

static void on_wc(struct conn *c, const struct ibv_wc *wc)
{
	struct ms_rdma_wr *w = (struct ms_rdma_wr *)(uintptr_t)wc->wr_id;
	struct ms_rdma_buf *b;
	struct req *r;
	int st;

	switch (w->type) {
	case MS_RWR_DATA:
		r = ms_container_of(w, struct req, wr);
		if (!r->active)
			return;         /* completed by flush_rest() already */
		st = ms_rdma_wc_errno(wc->status);
		if (wc->status == IBV_WC_WR_FLUSH_ERR && c->dead)
			st = c->dead;
		if (st)
			conn_fail(c, -ECONNRESET);  /* the QP is in error now */
		complete_upto(c, r, st);
		break;
	case MS_RWR_RECV:
		on_recv(c, ms_container_of(w, struct ms_rdma_buf, wr), wc);
		break;
	case MS_RWR_SEND:
		b = ms_container_of(w, struct ms_rdma_buf, wr);
		b->busy = false;
		if (wc->status != IBV_WC_SUCCESS)
			conn_fail(c, -ECONNRESET);
		break;
	}
}

static void cm_events(struct conn *c)
{
	struct rdma_cm_event *ev;
	enum rdma_cm_event_type t;

	while (rdma_get_cm_event(c->ech, &ev) == 0) {
		t = ev->event;
		rdma_ack_cm_event(ev);
		if (t == RDMA_CM_EVENT_DISCONNECTED || t == RDMA_CM_EVENT_DEVICE_REMOVAL)
			conn_fail(c, -ECONNRESET);
	}
}

/* Reap every completion and connection event there is, without waiting. */
static void progress(struct conn *c)
{
	struct ibv_wc wc[CQ_BATCH];
	int n;

	cm_events(c);
	while ((n = ibv_poll_cq(c->cq, CQ_BATCH, wc)) > 0) {
		c->last_io = ms_now_ns();
		for (int i = 0; i < n; i++)
			on_wc(c, &wc[i]);
	}
	if (n < 0)
		conn_fail(c, -ECONNRESET);
	if (c->dead && c->inflight &&
	    ms_now_ns() - c->dead_ns >= (uint64_t)FLUSH_GRACE_MS * 1000000)
		flush_rest(c);
}

/* Milliseconds until the stall limit (or the flush grace when dead); -1
 * when nothing is in flight; 0 when it has passed. */
static int stall_left(struct conn *c)
{
	uint64_t now = ms_now_ns(), lim;

	if (!c->inflight)
		return -1;
	if (c->dead)
		lim = c->dead_ns + (uint64_t)FLUSH_GRACE_MS * 1000000;
	else if (c->timeout_ms > 0)
		lim = c->last_io + (uint64_t)c->timeout_ms * 1000000;
	else
		return -1;
	return now >= lim ? 0 : (int)((lim - now) / 1000000 + 1);
}

/* Arm the CQ, look once more (a completion may have come before arming),
 * then sleep on the completion and connection channels. */
static void wait_and_progress(struct conn *c, int tmo)
{
	struct pollfd pfd[2] = { { .fd = c->cch->fd, .events = POLLIN },
				 { .fd = c->ech->fd, .events = POLLIN } };
	struct ibv_cq *cq;
	void *cq_ctx;
	unsigned before = c->ring.n;
	bool before_got = c->resp_got;

	if (ibv_req_notify_cq(c->cq, 0))
		conn_fail(c, -ECONNRESET);
	progress(c);
	if (c->ring.n != before || c->resp_got != before_got || (c->dead && !c->inflight))
		return;
	if (poll(pfd, 2, tmo) > 0 && (pfd[0].revents & POLLIN)) {
		while (ibv_get_cq_event(c->cch, &cq, &cq_ctx) == 0)
			c->cq_events++;
	}
	progress(c);
}

/* Post the chain swr[0..k) (first is swr[0]); its last request is
 * signaled, so that it completes the whole chain. */
static void post_chain(struct conn *c, struct ibv_send_wr *first, struct ibv_send_wr *swr,
		       struct req **posted, size_t k)
{
	struct ibv_send_wr *bad = NULL;

	swr[k - 1].send_flags = IBV_SEND_SIGNALED;
	if (!ibv_post_send(c->id->qp, first, &bad))
		return;
	/* Requests from bad on were not posted: they fail here, once, like
	 * the ones the device flushes.  The posted ones before them are
	 * flushed by the device (the QP goes to the error state), or by
	 * flush_rest(). */
	conn_fail(c, -ECONNRESET);
	for (size_t j = (size_t)(bad - swr); j < k; j++) {
		for (struct req **pp = &c->qhead; *pp; pp = &(*pp)->next) {
			if (*pp == posted[j]) {
				*pp = posted[j]->next;
				break;
			}
		}
		req_done(c, posted[j], -ECONNRESET);
	}
	c->qtail = &c->qhead;
	while (*c->qtail)
		c->qtail = &(*c->qtail)->next;
}

static int rdma_post(struct ms_xconn *x, const struct ms_xwr *wrs, size_t n)
{
	struct conn *c = to_conn(x);
	struct ibv_send_wr swr[CQ_BATCH], *first = NULL, *prev = NULL;
	struct ibv_sge sge[CQ_BATCH];
	struct req *posted[CQ_BATCH];
	const struct ms_xwr *w;
	struct ms_xmr *m;
	size_t k = 0;
	unsigned unsig = 0;             /* unsignaled requests in a row */

	if (c->dead)
		return -ENOTCONN;
	if ((n && !wrs) || n > c->pub.depth)
		return -EINVAL;
	for (size_t i = 0; i < n; i++) {
		w = &wrs[i];
		if ((w->op != MS_XOP_READ && w->op != MS_XOP_WRITE) || !w->remote ||
		    w->len > c->pub.max_io || (w->len && !w->local) || !w->lmr)
			return -EINVAL;
		for (m = c->mrs; m && m != w->lmr; m = m->next)
			;
		if (!m || (uintptr_t)w->local < (uintptr_t)m->addr ||
		    (uintptr_t)w->local - (uintptr_t)m->addr > m->len ||
		    w->len > m->len - ((uintptr_t)w->local - (uintptr_t)m->addr))
			return -EINVAL;
	}
	if (n > c->pub.depth - c->inflight - c->ring.n)
		return -EAGAIN;
	if (!c->inflight)
		c->last_io = ms_now_ns();       /* the stall clock starts now */
	for (size_t i = 0; i < n; i++) {
		struct req *r = c->free;

		w = &wrs[i];
		c->free = r->next;
		r->ctx = w->ctx;
		r->len = w->len;
		r->active = true;
		c->inflight++;
		if (c->dead) {          /* an earlier batch failed to post */
			req_done(c, r, c->dead);
			continue;
		}
		if (w->roff > w->remote->len || w->len > w->remote->len - w->roff) {
			req_done(c, r, -ERANGE);
			continue;
		}
		if (!w->len) {
			req_done(c, r, 0);
			continue;
		}
		sge[k] = (struct ibv_sge){ .addr = (uintptr_t)w->local, .length = w->len,
					   .lkey = w->lmr->mr->lkey };
		swr[k] = (struct ibv_send_wr){
			.wr_id = (uintptr_t)&r->wr, .sg_list = &sge[k], .num_sge = 1,
			.opcode = w->op == MS_XOP_READ ? IBV_WR_RDMA_READ : IBV_WR_RDMA_WRITE,
			.wr.rdma = { .remote_addr = w->remote->addr + w->roff,
				     .rkey = (uint32_t)w->remote->rkey },
		};
		/* signaled: every SIGNAL_EVERY-th, and the last of a chain
		 * (set below, when the chain is posted) */
		if (++unsig == SIGNAL_EVERY) {
			swr[k].send_flags = IBV_SEND_SIGNALED;
			unsig = 0;
		}
		enqueue(c, r);
		posted[k] = r;
		if (prev)
			prev->next = &swr[k];
		else
			first = &swr[k];
		prev = &swr[k];
		/* post in chains of CQ_BATCH (the arrays' size) */
		if (++k == CQ_BATCH || i + 1 == n) {
			post_chain(c, first, swr, posted, k);
			k = 0;
			unsig = 0;
			first = prev = NULL;
		}
	}
	if (k)          /* the last requests were local completions */
		post_chain(c, first, swr, posted, k);
	return 0;
}

static int rdma_poll(struct ms_xconn *x, struct ms_xwc *wcs, int max, int timeout_ms)
{
	struct conn *c = to_conn(x);
	uint64_t deadline = timeout_ms > 0 ? ms_now_ns() + (uint64_t)timeout_ms * 1000000 : 0;
	int left;

	if (!wcs || max <= 0)
		return -EINVAL;
	progress(c);
	while (!c->ring.n && !(c->dead && !c->inflight) && timeout_ms != 0) {
		left = ms_left(deadline);
		if (left == 0)
			break;
		if (stall_left(c) == 0) {
			if (c->dead)
				flush_rest(c);
			else
				conn_fail(c, -ETIMEDOUT);
			continue;
		}
		wait_and_progress(c, ms_min_tmo(left, stall_left(c)));
	}
	if (!c->ring.n)
		return c->dead && !c->inflight ? -ENOTCONN : 0;
	return ms_xring_pop(&c->ring, wcs, max);
}

static unsigned rdma_outstanding(struct ms_xconn *x)
{
	struct conn *c = to_conn(x);

	return c->inflight + c->ring.n;
}

/* timeout_ms: > 0 limit, 0 the connection's default, < 0 none. */
static int rdma_call(struct ms_xconn *x, const void *req, size_t len, void *resp, size_t cap,
		     size_t *resp_len, int timeout_ms)
{
	struct conn *c = to_conn(x);
	int tmo = timeout_ms ? timeout_ms : c->timeout_ms;
	uint64_t deadline = tmo > 0 ? ms_now_ns() + (uint64_t)tmo * 1000000 : 0;
	int rc;

	if (c->dead)
		return c->dead;
	if (c->in_call)
		return -EBUSY;          /* e.g. from inside on_notify */
	if ((len && !req) || (cap && !resp))
		return -EINVAL;
	if (len > MS_CTRL_MAX)
		return -EMSGSIZE;
	c->in_call = true;
	c->resp_got = false;
	c->resp = resp;
	c->cap = cap;
	/* The previous request's SEND completion may not be reaped yet. */
	while (c->sbuf.busy && !c->dead && ms_left(deadline) != 0)
		wait_and_progress(c, ms_left(deadline));
	if (!c->dead && c->sbuf.busy)
		conn_fail(c, -ETIMEDOUT);
	if (!c->dead) {
		rc = ms_rdma_post_msg(c->id->qp, &c->sbuf, MS_RMSG_REQ, req, len);
		if (rc)
			conn_fail(c, -ECONNRESET);
	}
	while (!c->resp_got) {
		if (ms_left(deadline) == 0) {
			/* The server's state after a lost call is unknown:
			 * drop the connection so that it releases ours. */
			conn_fail(c, -ETIMEDOUT);
			break;
		}
		wait_and_progress(c, ms_left(deadline));
	}
	c->in_call = false;
	if (!c->ctrl_status && resp_len)
		*resp_len = c->resp_len;
	return c->ctrl_status;
}

static int rdma_reg_mr(struct ms_xconn *x, void *addr, size_t len, struct ms_xmr **out)
{
	struct conn *c = to_conn(x);
	struct ms_xmr *m;

	if (!addr || !len || !out)
		return -EINVAL;
	m = malloc(sizeof(*m));
	if (!m)
		return -ENOMEM;
	m->mr = ibv_reg_mr(c->pd, addr, len, IBV_ACCESS_LOCAL_WRITE);
	/* A source for WRITEs may be read-only memory: it needs no write
	 * access, and asking for it makes the pinning fail. */
	if (!m->mr && (errno == EFAULT || errno == EACCES || errno == EPERM))
		m->mr = ibv_reg_mr(c->pd, addr, len, 0);
	if (!m->mr) {
		int rc = errno ? -errno : -ENOMEM;

		free(m);
		return rc;
	}
	m->addr = addr;
	m->len = len;
	m->next = c->mrs;
	c->mrs = m;
	*out = m;
	return 0;
}

static void rdma_dereg_mr(struct ms_xconn *x, struct ms_xmr *mr)
{
	struct conn *c = to_conn(x);
	struct ms_xmr **pp;

	for (pp = &c->mrs; *pp; pp = &(*pp)->next) {
		if (*pp == mr) {
			*pp = mr->next;
			ibv_dereg_mr(mr->mr);
			free(mr);
			return;
		}
	}
}

static void conn_free(struct conn *c)
{
	struct ms_xmr *m;

	if (c->qp_made)
		rdma_destroy_qp(c->id);
	while ((m = c->mrs)) {
		c->mrs = m->next;
		ibv_dereg_mr(m->mr);
		free(m);
	}
	for (int i = 0; i < MS_RDMA_NRECV; i++)
		ms_rdma_buf_fini(&c->rbuf[i]);
	ms_rdma_buf_fini(&c->sbuf);
	if (c->cq) {
		ibv_ack_cq_events(c->cq, c->cq_events);
		ibv_destroy_cq(c->cq);
	}
	if (c->cch)
		ibv_destroy_comp_channel(c->cch);
	if (c->pd)
		ibv_dealloc_pd(c->pd);
	if (c->id)
		rdma_destroy_id(c->id);
	if (c->ech)
		rdma_destroy_event_channel(c->ech);
	free(c->reqs);
	free(c->ring.wc);
	free(c);
}

static void rdma_close(struct ms_xconn *x)
{
	struct conn *c;

	if (!x)
		return;
	c = to_conn(x);
	if (c->connected && !c->dead)
		rdma_disconnect(c->id);
	conn_free(c);
}

/* Wait for the event that completes one connection step. */
static int step(struct conn *c, enum rdma_cm_event_type want, struct rdma_cm_event *copy,
		const char *host, const char *port, char *err, size_t errlen)
{
	struct rdma_cm_event *ev;
	int rc = ms_rdma_next_event(c->ech, c->timeout_ms > 0 ? c->timeout_ms : -1, &ev);

	if (rc) {
		snprintf(err, errlen, "cannot connect to %s:%s: %s waiting for %s", host, port,
			 rc == -ETIMEDOUT ? "timed out" : strerror(-rc), rdma_event_str(want));
		return rc;
	}
	if (ev->event == want) {
		if (copy)
			*copy = *ev;
		rdma_ack_cm_event(ev);
		return 0;
	}
	switch (ev->event) {
	case RDMA_CM_EVENT_REJECTED:
		rc = -ECONNREFUSED;
		break;
	case RDMA_CM_EVENT_ADDR_ERROR:
	case RDMA_CM_EVENT_ROUTE_ERROR:
	case RDMA_CM_EVENT_UNREACHABLE:
		rc = ev->status < 0 ? ev->status : -EHOSTUNREACH;
		break;
	default:
		rc = -ECONNRESET;
		break;
	}
	snprintf(err, errlen, "cannot connect to %s:%s: %s (%s)", host, port, strerror(-rc),
		 rdma_event_str(ev->event));
	rdma_ack_cm_event(ev);
	return rc;
}

int ms_rdma_connect_from(const char *src, const char *host, const char *port,
			 const struct ms_xopts *o, struct ms_xconn **out, char *err,
			 size_t errlen)
{
	struct ms_rdma_priv priv = { .magic = htole32(MS_RDMA_MAGIC),
				     .version = htole32(MS_RDMA_VERSION) };
	struct rdma_conn_param cp = { .private_data = &priv, .private_data_len = sizeof(priv),
				      .retry_count = 7, .rnr_retry_count = 7 };
	struct ibv_qp_init_attr qa = { .qp_type = IBV_QPT_RC };
	struct sockaddr_storage dst, srcss;
	struct ibv_device_attr da;
	struct ibv_port_attr pa;
	struct ms_xopts def = { 0 };
	char why[200];
	struct conn *c;
	unsigned depth;
	int rc, tmo;

	if (!err)
		errlen = 0;
	if (!o)
		o = &def;
	if (!out || !host || !port) {
		snprintf(err, errlen, "missing address or result pointer");
		return -EINVAL;
	}
	if (o->depth > DEPTH_MAX) {
		snprintf(err, errlen, "queue depth %u over the limit of %u", o->depth, DEPTH_MAX);
		return -EINVAL;
	}
	if (o->max_io > MS_RDMA_MAX_IO) {
		snprintf(err, errlen, "max_io %u over the limit of %u", o->max_io,
			 MS_RDMA_MAX_IO);
		return -EINVAL;
	}
	rc = ms_rdma_addr(host, port, false, &dst, err, errlen);
	if (rc)
		return rc;
	if (src && (rc = ms_rdma_addr(src, "0", false, &srcss, err, errlen)))
		return rc;
	c = calloc(1, sizeof(*c));
	if (!c) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	c->pub.ops = &ms_rdma_ops;
	c->timeout_ms = o->timeout_ms ? o->timeout_ms : TIMEOUT_DEFAULT_MS;
	c->on_notify = o->on_notify;
	c->notify_ud = o->notify_ud;
	tmo = c->timeout_ms > 0 ? c->timeout_ms : TIMEOUT_DEFAULT_MS;
	c->ech = rdma_create_event_channel();
	if (!c->ech) {
		rc = -errno;
		snprintf(err, errlen, "no RDMA device (rdma_cm: %s)", strerror(errno));
		goto fail;
	}
	rc = ms_rdma_resolve_addr(c->ech, c, src ? (struct sockaddr *)&srcss : NULL,
				  (struct sockaddr *)&dst, tmo, &c->id, why, sizeof(why));
	if (rc) {
		snprintf(err, errlen, "cannot connect to %s:%s: %s", host, port, why);
		goto fail;
	}
	if (rdma_resolve_route(c->id, tmo)) {
		rc = -errno;
		snprintf(err, errlen, "cannot connect to %s:%s: %s", host, port, strerror(errno));
		goto fail;
	}
	if ((rc = step(c, RDMA_CM_EVENT_ROUTE_RESOLVED, NULL, host, port, err, errlen)))
		goto fail;
	if (ibv_query_device(c->id->verbs, &da) ||
	    ibv_query_port(c->id->verbs, c->id->port_num, &pa)) {
		rc = -EIO;
		snprintf(err, errlen, "cannot query RDMA device %s",
			 ibv_get_device_name(c->id->verbs->device));
		goto fail;
	}
	/* Depth: what was asked for, within what the device's queues hold
	 * (two send slots for control messages, a margin in the CQ). */
	depth = o->depth ? o->depth : DEPTH_DEFAULT;
	depth = MS_MIN(depth, (unsigned)MS_MAX(da.max_qp_wr - 2, 1));
	depth = MS_MIN(depth, (unsigned)MS_MAX(da.max_cqe - 2 * MS_RDMA_NRECV - 4, 1));
	c->pub.depth = depth;
	c->pub.max_io = o->max_io ? o->max_io : MAX_IO_DEFAULT;
	if (c->pub.max_io > pa.max_msg_sz)
		c->pub.max_io = pa.max_msg_sz;
	c->reqs = calloc(depth, sizeof(*c->reqs));
	c->ring = (struct ms_xring){ .wc = calloc(depth, sizeof(struct ms_xwc)), .cap = depth };
	if (!c->reqs || !c->ring.wc) {
		rc = -ENOMEM;
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	c->qtail = &c->qhead;
	for (unsigned i = 0; i < depth; i++) {
		c->reqs[i].wr.type = MS_RWR_DATA;
		c->reqs[i].next = c->free;
		c->free = &c->reqs[i];
	}
	c->pd = ibv_alloc_pd(c->id->verbs);
	c->cch = c->pd ? ibv_create_comp_channel(c->id->verbs) : NULL;
	c->cq = c->cch ? ibv_create_cq(c->id->verbs, (int)depth + 2 * MS_RDMA_NRECV + 4, c,
				       c->cch, 0)
		       : NULL;
	if (!c->cq) {
		rc = errno ? -errno : -ENOMEM;
		snprintf(err, errlen, "cannot set up queues on %s: %s",
			 ibv_get_device_name(c->id->verbs->device), strerror(-rc));
		goto fail;
	}
	qa.send_cq = qa.recv_cq = c->cq;
	qa.cap.max_send_wr = depth + 2;
	qa.cap.max_recv_wr = MS_RDMA_NRECV;
	qa.cap.max_send_sge = qa.cap.max_recv_sge = 1;
	if (rdma_create_qp(c->id, c->pd, &qa)) {
		rc = -errno;
		snprintf(err, errlen, "cannot create a queue pair on %s: %s",
			 ibv_get_device_name(c->id->verbs->device), strerror(errno));
		goto fail;
	}
	c->qp_made = true;
	for (int i = 0; i < MS_RDMA_NRECV && !rc; i++) {
		rc = ms_rdma_buf_init(&c->rbuf[i], c->pd, MS_RWR_RECV, c);
		if (!rc)
			rc = ms_rdma_post_recv(c->id->qp, &c->rbuf[i]);
	}
	if (!rc)
		rc = ms_rdma_buf_init(&c->sbuf, c->pd, MS_RWR_SEND, c);
	if (rc) {
		snprintf(err, errlen, "cannot register control buffers: %s", strerror(-rc));
		goto fail;
	}
	/* READs in flight at once: the device's limit, no more than depth. */
	cp.initiator_depth = (uint8_t)MS_MIN((unsigned)da.max_qp_init_rd_atom,
					     MS_MIN(depth, 255u));
	cp.responder_resources = 0;     /* nobody READs from a client */
	if (rdma_connect(c->id, &cp)) {
		rc = -errno;
		snprintf(err, errlen, "cannot connect to %s:%s: %s", host, port, strerror(errno));
		goto fail;
	}
	if ((rc = step(c, RDMA_CM_EVENT_ESTABLISHED, NULL, host, port, err, errlen)))
		goto fail;
	c->connected = true;
	if ((rc = ms_rdma_set_nonblock(c->ech->fd)) || (rc = ms_rdma_set_nonblock(c->cch->fd))) {
		snprintf(err, errlen, "fcntl: %s", strerror(-rc));
		rdma_disconnect(c->id);
		goto fail;
	}
	c->last_io = ms_now_ns();
	*out = &c->pub;
	return 0;
fail:
	conn_free(c);
	return rc;
}

static int rdma_connect_op(const char *host, const char *port, const struct ms_xopts *o,
			   struct ms_xconn **out, char *err, size_t errlen)
{
	return ms_rdma_connect_from(NULL, host, port, o, out, err, errlen);
}

const struct ms_transport_ops ms_rdma_ops = {
	.name = "rdma",
	.connect = rdma_connect_op,
	.reg_mr = rdma_reg_mr,
	.dereg_mr = rdma_dereg_mr,
	.post = rdma_post,
	.poll = rdma_poll,
	.outstanding = rdma_outstanding,
	.call = rdma_call,
	.close = rdma_close,
	.listen = ms_rdma_listen,
	.srv_reg_mr = ms_rdma_srv_reg_mr,
	.srv_dereg_mr = ms_rdma_srv_dereg_mr,
	.srv_mr_stats = ms_rdma_srv_mr_stats,
	.srv_run = ms_rdma_srv_run,
	.srv_stop = ms_rdma_srv_stop,
	.srv_notify = ms_rdma_srv_notify,
	.srv_close = ms_rdma_srv_close,
};
