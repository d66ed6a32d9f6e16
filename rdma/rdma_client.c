/* SPDX-License-Identifier: Apache-2.0 */
/*
 * rdma_client.c - the client half of the RDMA transport.
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
 * buffers.  Slots, the ring, the stall clock and the poll()/call() wait
 * loops are the shared core's (src/xconn.c).
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
#include "xconn.h"

#define FLUSH_GRACE_MS 2000
#define CQ_BATCH 32
#define SIGNAL_EVERY 16

struct ms_xmr {
	struct ms_xlmr head;            /* first: addr, len for post()'s checks */
	struct ibv_mr *mr;
};

struct req {
	struct ms_rdma_wr wr;           /* MS_RWR_DATA; wr_id points here */
	bool active;                    /* posted, not yet completed */
	struct ms_xslot slot;           /* ctx, len, free list */
	struct req *next;               /* the posted queue */
};

struct conn {
	struct ms_xcore k;              /* first: the shared core */
	struct rdma_event_channel *ech;
	struct rdma_cm_id *id;
	struct ibv_pd *pd;
	struct ibv_comp_channel *cch;
	struct ibv_cq *cq;
	bool qp_made, connected;
	unsigned cq_events;             /* to acknowledge before destroying cq */
	struct req *reqs;
	struct req *qhead, **qtail;     /* on the send queue, in posting order */
	struct ms_rdma_buf rbuf[MS_RDMA_NRECV], sbuf;
};

static struct conn *to_conn(struct ms_xconn *x)
{
	return ms_container_of(x, struct conn, k.pub);
}

static struct conn *core_conn(struct ms_xcore *k)
{
	return ms_container_of(k, struct conn, k);
}

static void req_done(struct conn *c, struct req *r, int status)
{
	r->active = false;
	ms_xcore_complete(&c->k, &r->slot, status);
}

/* The connection is unusable: let the device flush what is posted. */
static void conn_fail(struct conn *c, int status)
{
	struct ibv_qp_attr a = { .qp_state = IBV_QPS_ERR };

	if (!ms_xcore_fail(&c->k, status))
		return;
	if (c->qp_made)
		ibv_modify_qp(c->id->qp, &a, IBV_QP_STATE);
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
static void flush_rest(struct ms_xcore *k)
{
	struct conn *c = core_conn(k);
	struct req *q;

	while ((q = c->qhead)) {
		c->qhead = q->next;
		req_done(c, q, c->k.dead);
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
	    (type == MS_RMSG_RESP && (!c->k.in_call || c->k.resp_done))) {
		/* not an answer to anything we asked: the peer is not memsync's */
		conn_fail(c, -ECONNRESET);
		return;
	}
	if (type == MS_RMSG_RESP) {
		if (len <= c->k.cap && len)
			memcpy(c->k.resp, p, len);
		ms_xcore_ctrl_done(&c->k, len > c->k.cap ? -EMSGSIZE : 0, len);
	} else if (c->k.on_notify) {
		c->k.on_notify(c->k.notify_ud, p, len);
	}
	if (!c->k.dead && ms_rdma_post_recv(c->id->qp, b))
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
		if (wc->status == IBV_WC_WR_FLUSH_ERR && c->k.dead)
			st = c->k.dead;
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
static void progress(struct ms_xcore *k)
{
	struct conn *c = core_conn(k);
	struct ibv_wc wc[CQ_BATCH];
	int n;

	cm_events(c);
	while ((n = ibv_poll_cq(c->cq, CQ_BATCH, wc)) > 0) {
		c->k.last_io = ms_now_ns();
		for (int i = 0; i < n; i++)
			on_wc(c, &wc[i]);
	}
	if (n < 0)
		conn_fail(c, -ECONNRESET);
	if (c->k.dead && c->k.inflight &&
	    ms_now_ns() - c->k.dead_ns >= (uint64_t)FLUSH_GRACE_MS * 1000000)
		flush_rest(k);
}

/* Arm the CQ, look once more (a completion may have come before arming),
 * then sleep on the completion and connection channels. */
static void wait_and_progress(struct ms_xcore *k, int tmo)
{
	struct conn *c = core_conn(k);
	struct pollfd pfd[2] = { { .fd = c->cch->fd, .events = POLLIN },
				 { .fd = c->ech->fd, .events = POLLIN } };
	struct ibv_cq *cq;
	void *cq_ctx;
	unsigned before = c->k.ring.n;
	bool before_got = c->k.resp_done;

	if (ibv_req_notify_cq(c->cq, 0))
		conn_fail(c, -ECONNRESET);
	progress(k);
	if (c->k.ring.n != before || c->k.resp_done != before_got ||
	    (c->k.dead && !c->k.inflight))
		return;
	if (poll(pfd, 2, tmo) > 0 && (pfd[0].revents & POLLIN)) {
		while (ibv_get_cq_event(c->cch, &cq, &cq_ctx) == 0)
			c->cq_events++;
	}
	progress(k);
}

static void fail_op(struct ms_xcore *k, int status)
{
	conn_fail(core_conn(k), status);
}

/* The previous request's SEND completion may not be reaped yet. */
static void send_ctrl(struct ms_xcore *k, const void *req, size_t len, uint64_t deadline)
{
	struct conn *c = core_conn(k);

	while (c->sbuf.busy && !c->k.dead && ms_left(deadline) != 0)
		wait_and_progress(k, ms_left(deadline));
	if (!c->k.dead && c->sbuf.busy)
		conn_fail(c, -ETIMEDOUT);
	if (!c->k.dead && ms_rdma_post_msg(c->id->qp, &c->sbuf, MS_RMSG_REQ, req, len))
		conn_fail(c, -ECONNRESET);
}

static const struct ms_xcore_ops rdma_core_ops = {
	.progress = progress,
	.wait = wait_and_progress,
	.fail = fail_op,
	.flush_rest = flush_rest,
	.send_ctrl = send_ctrl,
	.flush_grace_ms = FLUSH_GRACE_MS,
};

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

int ms_rdma_post(struct ms_xconn *x, const struct ms_xwr *wrs, size_t n)
{
	struct conn *c = to_conn(x);
	struct ibv_send_wr swr[CQ_BATCH], *first = NULL, *prev = NULL;
	struct ibv_sge sge[CQ_BATCH];
	struct req *posted[CQ_BATCH];
	const struct ms_xwr *w;
	size_t k = 0;
	unsigned unsig = 0;             /* unsignaled requests in a row */
	int rc = ms_xcore_check_post(&c->k, wrs, n, true);

	if (rc)
		return rc;
	for (size_t i = 0; i < n; i++) {
		struct req *r;

		w = &wrs[i];
		r = ms_container_of(ms_xcore_slot_get(&c->k, w->ctx, w->len), struct req, slot);
		r->active = true;
		if (c->k.dead) {        /* an earlier batch failed to post */
			req_done(c, r, c->k.dead);
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

int ms_rdma_reg_mr(struct ms_xconn *x, void *addr, size_t len, struct ms_xmr **out)
{
	struct conn *c = to_conn(x);
	struct ms_xlmr *h;
	struct ms_xmr *m;
	int rc = ms_xcore_mr_alloc(addr, len, out, sizeof(*m), &h);

	if (rc)
		return rc;
	m = ms_container_of(h, struct ms_xmr, head);
	m->mr = ibv_reg_mr(c->pd, addr, len, IBV_ACCESS_LOCAL_WRITE);
	/* A source for WRITEs may be read-only memory: it needs no write
	 * access, and asking for it makes the pinning fail. */
	if (!m->mr && (errno == EFAULT || errno == EACCES || errno == EPERM))
		m->mr = ibv_reg_mr(c->pd, addr, len, 0);
	if (!m->mr) {
		rc = errno ? -errno : -ENOMEM;
		free(m);
		return rc;
	}
	ms_xcore_add_mr(&c->k, &m->head, addr, len);
	*out = m;
	return 0;
}

static void mr_release(struct ms_xlmr *head)
{
	struct ms_xmr *m = ms_container_of(head, struct ms_xmr, head);

	ibv_dereg_mr(m->mr);
	free(m);
}

void ms_rdma_dereg_mr(struct ms_xconn *x, struct ms_xmr *mr)
{
	if (mr && ms_xcore_del_mr(ms_xcore_of(x), &mr->head))
		mr_release(&mr->head);
}

static void conn_free(struct conn *c)
{
	if (c->qp_made)
		rdma_destroy_qp(c->id);
	ms_xcore_fini(&c->k, mr_release);
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
	free(c);
}

void ms_rdma_close(struct ms_xconn *x)
{
	struct conn *c;

	if (!x)
		return;
	c = to_conn(x);
	if (c->connected && !c->k.dead)
		rdma_disconnect(c->id);
	conn_free(c);
}

/* Wait for the event that completes one connection step. */
static int step(struct conn *c, enum rdma_cm_event_type want, struct rdma_cm_event *copy,
		const char *host, const char *port, char *err, size_t errlen)
{
	struct rdma_cm_event *ev;
	int rc = ms_rdma_next_event(c->ech, c->k.timeout_ms > 0 ? c->k.timeout_ms : -1, &ev);

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

/* Connection setup, one step per stage; conn_free() undoes whatever
 * stages were done.  First: an id on its own channel, address and route
 * resolved (within tmo ms). */
static int setup_id(struct conn *c, struct sockaddr *src, struct sockaddr *dst, int tmo,
		    const char *host, const char *port, char *err, size_t errlen)
{
	char why[200];
	int rc;

	c->ech = rdma_create_event_channel();
	if (!c->ech) {
		rc = -errno;
		snprintf(err, errlen, "no RDMA device (rdma_cm: %s)", strerror(errno));
		return rc;
	}
	rc = ms_rdma_resolve_addr(c->ech, c, src, dst, tmo, &c->id, why, sizeof(why));
	if (rc) {
		snprintf(err, errlen, "cannot connect to %s:%s: %s", host, port, why);
		return rc;
	}
	if (rdma_resolve_route(c->id, tmo)) {
		rc = -errno;
		snprintf(err, errlen, "cannot connect to %s:%s: %s", host, port, strerror(errno));
		return rc;
	}
	return step(c, RDMA_CM_EVENT_ROUTE_RESOLVED, NULL, host, port, err, errlen);
}

/* Depth and max_io within what the device holds; request slots and the
 * completion ring. */
static int setup_limits(struct conn *c, struct ibv_device_attr *da, char *err, size_t errlen)
{
	struct ibv_port_attr pa;
	unsigned depth;

	if (ibv_query_device(c->id->verbs, da) ||
	    ibv_query_port(c->id->verbs, c->id->port_num, &pa)) {
		snprintf(err, errlen, "cannot query RDMA device %s",
			 ibv_get_device_name(c->id->verbs->device));
		return -EIO;
	}
	/* Depth: what was asked for, within what the device's queues hold
	 * (two send slots for control messages, a margin in the CQ). */
	depth = c->k.pub.depth;
	depth = MS_MIN(depth, (unsigned)MS_MAX(da->max_qp_wr - 2, 1));
	depth = MS_MIN(depth, (unsigned)MS_MAX(da->max_cqe - 2 * MS_RDMA_NRECV - 4, 1));
	c->k.pub.depth = depth;
	if (c->k.pub.max_io > pa.max_msg_sz)
		c->k.pub.max_io = pa.max_msg_sz;
	c->reqs = calloc(depth, sizeof(*c->reqs));
	if (!c->reqs || ms_xcore_init_ring(&c->k, depth)) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	c->qtail = &c->qhead;
	for (unsigned i = depth; i-- > 0;) {
		c->reqs[i].wr.type = MS_RWR_DATA;
		ms_xcore_slot_put(&c->k, &c->reqs[i].slot);
	}
	return 0;
}

/* Protection domain, completion channel and queue, the queue pair. */
static int setup_qp(struct conn *c, char *err, size_t errlen)
{
	struct ibv_qp_init_attr qa = { .qp_type = IBV_QPT_RC };
	unsigned depth = c->k.pub.depth;
	int rc;

	c->pd = ibv_alloc_pd(c->id->verbs);
	c->cch = c->pd ? ibv_create_comp_channel(c->id->verbs) : NULL;
	c->cq = c->cch ? ibv_create_cq(c->id->verbs, (int)depth + 2 * MS_RDMA_NRECV + 4, c,
				       c->cch, 0)
		       : NULL;
	if (!c->cq) {
		rc = errno ? -errno : -ENOMEM;
		snprintf(err, errlen, "cannot set up queues on %s: %s",
			 ibv_get_device_name(c->id->verbs->device), strerror(-rc));
		return rc;
	}
	qa.send_cq = qa.recv_cq = c->cq;
	qa.cap.max_send_wr = depth + 2;
	qa.cap.max_recv_wr = MS_RDMA_NRECV;
	qa.cap.max_send_sge = qa.cap.max_recv_sge = 1;
	if (rdma_create_qp(c->id, c->pd, &qa)) {
		rc = -errno;
		snprintf(err, errlen, "cannot create a queue pair on %s: %s",
			 ibv_get_device_name(c->id->verbs->device), strerror(errno));
		return rc;
	}
	c->qp_made = true;
	return 0;
}

/* The registered control buffers, receives posted. */
static int setup_buffers(struct conn *c, char *err, size_t errlen)
{
	int rc = 0;

	for (int i = 0; i < MS_RDMA_NRECV && !rc; i++) {
		rc = ms_rdma_buf_init(&c->rbuf[i], c->pd, MS_RWR_RECV, c);
		if (!rc)
			rc = ms_rdma_post_recv(c->id->qp, &c->rbuf[i]);
	}
	if (!rc)
		rc = ms_rdma_buf_init(&c->sbuf, c->pd, MS_RWR_SEND, c);
	if (rc)
		snprintf(err, errlen, "cannot register control buffers: %s", strerror(-rc));
	return rc;
}

/* Connect with memsync's private data; nonblocking channels after. */
static int setup_connect(struct conn *c, const struct ibv_device_attr *da, const char *host,
			 const char *port, char *err, size_t errlen)
{
	struct ms_rdma_priv priv = { .magic = htole32(MS_RDMA_MAGIC),
				     .version = htole32(MS_RDMA_VERSION) };
	struct rdma_conn_param cp = { .private_data = &priv, .private_data_len = sizeof(priv),
				      .retry_count = 7, .rnr_retry_count = 7 };
	int rc;

	/* READs in flight at once: the device's limit, no more than depth. */
	cp.initiator_depth = (uint8_t)MS_MIN((unsigned)da->max_qp_init_rd_atom,
					     MS_MIN(c->k.pub.depth, 255u));
	cp.responder_resources = 0;     /* nobody READs from a client */
	if (rdma_connect(c->id, &cp)) {
		rc = -errno;
		snprintf(err, errlen, "cannot connect to %s:%s: %s", host, port, strerror(errno));
		return rc;
	}
	if ((rc = step(c, RDMA_CM_EVENT_ESTABLISHED, NULL, host, port, err, errlen)))
		return rc;
	c->connected = true;
	if ((rc = ms_rdma_set_nonblock(c->ech->fd)) || (rc = ms_rdma_set_nonblock(c->cch->fd))) {
		snprintf(err, errlen, "fcntl: %s", strerror(-rc));
		rdma_disconnect(c->id);
		c->connected = false;
		return rc;
	}
	return 0;
}

int ms_rdma_connect_from(const char *src, const char *host, const char *port,
			 const struct ms_xopts *o, struct ms_xconn **out, char *err,
			 size_t errlen)
{
	struct sockaddr_storage dst, srcss;
	struct ibv_device_attr da;
	struct conn *c;
	int rc, tmo;

	c = ms_xcore_new(sizeof(*c), &ms_rdma_ops, &rdma_core_ops, o, out && host && port,
			 MS_RDMA_MAX_IO, err, errlen, &rc);
	if (!c)
		return rc;
	if (!err)
		errlen = 0;
	rc = ms_rdma_addr(host, port, false, &dst, err, errlen);
	if (!rc && src)
		rc = ms_rdma_addr(src, "0", false, &srcss, err, errlen);
	if (rc) {
		free(c);
		return rc;
	}
	tmo = c->k.timeout_ms > 0 ? c->k.timeout_ms : MS_XCORE_TIMEOUT_DEFAULT_MS;
	if ((rc = setup_id(c, src ? (struct sockaddr *)&srcss : NULL, (struct sockaddr *)&dst,
			   tmo, host, port, err, errlen)) ||
	    (rc = setup_limits(c, &da, err, errlen)) || (rc = setup_qp(c, err, errlen)) ||
	    (rc = setup_buffers(c, err, errlen)) ||
	    (rc = setup_connect(c, &da, host, port, err, errlen))) {
		conn_free(c);
		return rc;
	}
	c->k.last_io = ms_now_ns();
	*out = &c->k.pub;
	return 0;
}

int ms_rdma_connect(const char *host, const char *port, const struct ms_xopts *o,
		    struct ms_xconn **out, char *err, size_t errlen)
{
	return ms_rdma_connect_from(NULL, host, port, o, out, err, errlen);
}
