/* SPDX-License-Identifier: Apache-2.0 */
/*
 * rdma_server.c - the server half of the RDMA transport: registrations the
 * NIC serves by itself, and one epoll thread for connections and control.
 *
 * The data path has no server CPU at all: clients READ and WRITE
 * registered memory with the rkeys they were given, and revoking a key is
 * ibv_dereg_mr (later requests with it fail on the client with a remote
 * access error).  So srv_mr_stats() has nothing to count: the server never
 * sees one-sided traffic, and reports 0.
 *
 * The loop thread waits (epoll) on the rdma_cm event channel, one
 * completion channel per peer and an eventfd for srv_stop().  Per peer: an
 * RC queue pair with its own CQ, two receive buffers for control requests
 * and two send buffers for replies and notifications.  A client sends one
 * request at a time; a request that arrives while both send buffers are
 * still busy waits in its receive buffer until one is free.  A peer whose
 * private data, message or queue pair is bad is dropped; the others are
 * not affected.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <endian.h>
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "rdma_int.h"
#include "rdma_srv.h"
#include "util.h"
#include "xsrvloop.h"

#define BACKLOG 64

static char tag_cm;                     /* epoll data of the rdma_cm channel */

#define slog(s, ...) ms_xloop_log(&(s)->l, __VA_ARGS__)
#define peer_close(s, p, ...) \
	ms_xloop_close_peer(&(s)->l, &((struct peer *)(p))->lp, __VA_ARGS__)

/* ------------------------------------------------------- registrations */

int ms_rdma_srv_reg_mr(struct ms_xsrv *x, void *addr, size_t len, unsigned access,
		       struct ms_xsmr **out, struct ms_rdesc *desc)
{
	struct srv *s = to_srv(x);
	int flags = IBV_ACCESS_LOCAL_WRITE;
	struct ms_xsmr *m;
	char msg[160];

	if (!addr || !len || !access || (access & ~(MS_XACCESS_READ | MS_XACCESS_WRITE)) ||
	    !out || !desc)
		return -EINVAL;
	if (access & MS_XACCESS_READ)
		flags |= IBV_ACCESS_REMOTE_READ;
	if (access & MS_XACCESS_WRITE)
		flags |= IBV_ACCESS_REMOTE_WRITE;
	flags |= ms_rdma_grant_mr_flags(s);
	m = calloc(1, sizeof(*m));
	if (!m)
		return -ENOMEM;
	m->addr = addr;
	m->len = len;
	m->access = access;
	ms_rdma_place_mem(&s->place, addr, len, msg, sizeof(msg));
	slog(s, MS_LOG_DEBUG, "rdma: registration of %zu bytes at %p: %s", len, addr, msg);
	m->mr = ibv_reg_mr(s->pd, addr, len, flags);
	if (!m->mr) {
		int rc = errno ? -errno : -ENOMEM;

		free(m);
		return rc;
	}
	pthread_mutex_lock(&s->l.lock);
	m->next = s->mrs;
	if (s->mrs)
		s->mrs->prev = m;
	s->mrs = m;
	pthread_mutex_unlock(&s->l.lock);
	desc->addr = (uintptr_t)addr;
	desc->len = len;
	desc->rkey = m->mr->rkey;
	*out = m;
	return 0;
}

void ms_rdma_srv_dereg_mr(struct ms_xsrv *x, struct ms_xsmr *m)
{
	struct srv *s = to_srv(x);

	if (!m)
		return;
	pthread_mutex_lock(&s->l.lock);
	ms_rdma_grants_kill_mr(m);      /* windows first: they pin the MR */
	if (m->prev)
		m->prev->next = m->next;
	else
		s->mrs = m->next;
	if (m->next)
		m->next->prev = m->prev;
	pthread_mutex_unlock(&s->l.lock);
	/* The NIC stops honouring the rkey when this returns. */
	ibv_dereg_mr(m->mr);
	free(m);
}

/* One-sided traffic never reaches the server's CPU: nothing to count. */
void ms_rdma_srv_mr_stats(struct ms_xsrv *x, struct ms_xsmr *mr, uint64_t *bytes_read,
			  uint64_t *bytes_written)
{
	if (bytes_read)
		*bytes_read = 0;
	if (bytes_written)
		*bytes_written = 0;
}

/* ------------------------------------------------------------ peers */

static void peer_free_verbs(struct peer *p)
{
	struct note *n;

	if (p->qp_made)
		rdma_destroy_qp(p->id);
	p->qp_made = false;
	for (int i = 0; i < MS_RDMA_NRECV; i++)
		ms_rdma_buf_fini(&p->rbuf[i]);
	for (int i = 0; i < NSEND; i++)
		ms_rdma_buf_fini(&p->sbuf[i]);
	if (p->cq) {
		ibv_ack_cq_events(p->cq, p->cq_events);
		ibv_destroy_cq(p->cq);
		p->cq = NULL;
	}
	if (p->cch)
		ibv_destroy_comp_channel(p->cch);
	p->cch = NULL;
	if (p->id)
		rdma_destroy_id(p->id);
	p->id = NULL;
	while ((n = p->notes)) {
		p->notes = n->next;
		free(n);
	}
	free(p->dreply);
	p->dreply = NULL;
}

/* The peer is closed (ms_xloop_close_peer): disconnect, tear down. */
static void peer_teardown(struct ms_xloop *l, struct ms_xlpeer *lp)
{
	struct peer *p = to_peer(lp);

	if (p->in_epoll)
		epoll_ctl(l->epfd, EPOLL_CTL_DEL, p->cch->fd, NULL);
	p->in_epoll = false;
	pthread_mutex_lock(&l->lock);
	ms_rdma_grants_kill_peer(p);    /* its keys die with its QP */
	pthread_mutex_unlock(&l->lock);
	rdma_disconnect(p->id);
	peer_free_verbs(p);
}

static struct ms_rdma_buf *free_sbuf(struct peer *p)
{
	for (int i = 0; i < NSEND; i++)
		if (!p->sbuf[i].busy)
			return &p->sbuf[i];
	return NULL;
}

/* A control request in b: answer it from a free send buffer. */
static void handle_req(struct srv *s, struct peer *p, struct ms_rdma_buf *b, uint32_t byte_len)
{
	struct ms_rdma_buf *sb = free_sbuf(p);
	const char *req;
	uint32_t type;
	size_t len, rlen = 0;
	int rc;

	if (ms_rdma_parse_msg(b, byte_len, &type, &req, &len) || type != MS_RMSG_REQ) {
		peer_close(s, p, MS_LOG_WARN, "malformed control message; disconnected");
		return;
	}
	if (!sb || p->lp.deferred || p->dreply) {
		/* no send buffer, or the reply before it is not sent yet */
		p->waiting[p->nwait] = b;
		p->wlen[p->nwait++] = byte_len;
		return;
	}
	if (!s->l.cbs.on_ctrl) {
		rc = ms_rdma_post_msg(p->id->qp, sb, MS_RMSG_RESP, NULL, 0);
		goto repost;
	}
	rc = ms_xloop_ctrl(&s->l, &p->lp, req, len, &rlen);
	if (rc == 1)
		p->dbuf = b;            /* answered by send_reply */
	if (rc)
		return;
	rc = ms_rdma_post_msg(p->id->qp, sb, MS_RMSG_RESP, s->l.scratch, rlen);
repost:
	if (!rc)
		rc = ms_rdma_post_recv(p->id->qp, b);
	if (rc)
		peer_close(s, p, MS_LOG_INFO, "cannot post to the queue pair (%s); disconnected",
			   strerror(-rc));
}

/* A send buffer became free: waiting requests first, then notifications. */
static void send_more(struct srv *s, struct peer *p)
{
	struct ms_rdma_buf *sb;
	struct note *n;
	int rc;

	if (!p->lp.dead && p->dreply && (sb = free_sbuf(p))) {
		rc = ms_rdma_post_msg(p->id->qp, sb, MS_RMSG_RESP, p->dreply, p->dlen);
		free(p->dreply);
		p->dreply = NULL;
		if (!rc)
			rc = ms_rdma_post_recv(p->id->qp, p->dbuf);
		p->dbuf = NULL;
		if (rc)
			peer_close(s, p, MS_LOG_INFO,
				   "cannot post to the queue pair (%s); disconnected",
				   strerror(-rc));
	}
	while (!p->lp.dead && p->nwait && free_sbuf(p) && !p->lp.deferred && !p->dreply) {
		struct ms_rdma_buf *b = p->waiting[0];
		uint32_t bl = p->wlen[0];

		p->nwait--;
		memmove(p->waiting, p->waiting + 1, p->nwait * sizeof(p->waiting[0]));
		memmove(p->wlen, p->wlen + 1, p->nwait * sizeof(p->wlen[0]));
		handle_req(s, p, b, bl);
	}
	while (!p->lp.dead && (n = p->notes) && (sb = free_sbuf(p))) {
		p->notes = n->next;
		if (!p->notes)
			p->notes_tail = &p->notes;
		if (ms_rdma_post_msg(p->id->qp, sb, MS_RMSG_NOTIFY, n->msg, n->len))
			peer_close(s, p, MS_LOG_INFO, "cannot post a notification; disconnected");
		free(n);
	}
}

static bool sends_busy(struct peer *p)
{
	for (int i = 0; i < NSEND; i++)
		if (p->sbuf[i].busy)
			return true;
	return p->nwait || p->notes || p->lp.deferred || p->dreply;
}

static void on_wc(struct srv *s, struct peer *p, const struct ibv_wc *wc)
{
	struct ms_rdma_wr *w = (struct ms_rdma_wr *)(uintptr_t)wc->wr_id;
	struct ms_rdma_buf *b = ms_container_of(w, struct ms_rdma_buf, wr);

	b->busy = false;
	if (wc->status != IBV_WC_SUCCESS) {
		peer_close(s, p, wc->status == IBV_WC_WR_FLUSH_ERR ? MS_LOG_DEBUG : MS_LOG_INFO,
			   "%s failed: %s; disconnected",
			   w->type == MS_RWR_RECV ? "receive" : "send",
			   ibv_wc_status_str(wc->status));
		return;
	}
	if (w->type == MS_RWR_RECV)
		handle_req(s, p, b, wc->byte_len);
	else
		send_more(s, p);
}

static void drain_cq(struct srv *s, struct peer *p)
{
	struct ibv_wc wc[16];
	int n;

	if (ibv_req_notify_cq(p->cq, 0)) {
		peer_close(s, p, MS_LOG_ERROR, "cannot arm the completion queue; disconnected");
		return;
	}
	for (;;) {
		/* what a grant's wait for its bind set aside comes first */
		while (!p->lp.dead && p->nstash) {
			wc[0] = p->stash[0];
			memmove(p->stash, p->stash + 1, --p->nstash * sizeof(wc[0]));
			on_wc(s, p, &wc[0]);
		}
		if (p->lp.dead || (n = ibv_poll_cq(p->cq, MS_ARRAY_SIZE(wc), wc)) <= 0)
			break;
		for (int i = 0; i < n && !p->lp.dead; i++)
			on_wc(s, p, &wc[i]);
	}
}

static void on_cq_event(struct srv *s, struct peer *p)
{
	struct ibv_cq *cq;
	void *ctx;

	while (ibv_get_cq_event(p->cch, &cq, &ctx) == 0)
		p->cq_events++;
	if (p->cq_events >= 1024) {
		ibv_ack_cq_events(p->cq, p->cq_events);
		p->cq_events = 0;
	}
	/* A client may send its first request as soon as it sees the
	 * connection established, before this side's ESTABLISHED event: the
	 * engine must see on_connect first, so the CQ is left alone (and
	 * unarmed) until then. */
	if (p->lp.accepted)
		drain_cq(s, p);
}

/* A connection request: check the private data, set the peer up, accept. */
static void on_connect_request(struct srv *s, struct rdma_cm_id *id, const void *pdata,
			       uint8_t plen, uint8_t client_reads)
{
	struct ibv_qp_init_attr qa = { .qp_type = IBV_QPT_RC };
	struct rdma_conn_param cp = { .rnr_retry_count = 7, .retry_count = 7 };
	struct epoll_event ev = { .events = EPOLLIN };
	struct ms_rdma_priv pr = { 0 };
	struct peer *p;
	char name[64];
	int rc = 0;

	ms_rdma_addr_str(rdma_get_peer_addr(id), name, sizeof(name));
	if (pdata && plen >= sizeof(pr))
		memcpy(&pr, pdata, sizeof(pr));
	if (s->l.stopping || le32toh(pr.magic) != MS_RDMA_MAGIC ||
	    le32toh(pr.version) != MS_RDMA_VERSION || id->verbs != s->verbs) {
		slog(s, MS_LOG_WARN, "peer %s: %s; rejected", name,
		     s->l.stopping ? "server stopping"
		     : le32toh(pr.magic) != MS_RDMA_MAGIC ? "not a memsync client (private data)"
		     : id->verbs != s->verbs ? "arrived on another device"
					     : "unsupported protocol version");
		rdma_reject(id, NULL, 0);
		rdma_destroy_id(id);
		return;
	}
	if (ms_xlimits_admit(&s->l, name)) {    /* over a limit: logged once per burst */
		rdma_reject(id, NULL, 0);
		rdma_destroy_id(id);
		return;
	}
	p = calloc(1, sizeof(*p));
	if (!p) {
		slog(s, MS_LOG_ERROR, "out of memory for a new connection");
		rdma_reject(id, NULL, 0);
		rdma_destroy_id(id);
		return;
	}
	p->id = id;
	id->context = p;
	p->notes_tail = &p->notes;
	snprintf(p->lp.pub.name, sizeof(p->lp.pub.name), "%s", name);
	ms_xloop_add_peer(&s->l, &p->lp);
	p->cch = ibv_create_comp_channel(s->verbs);
	p->cq = p->cch ? ibv_create_cq(s->verbs, 2 * (MS_RDMA_NRECV + NSEND) + 4, p, p->cch, 0)
		       : NULL;
	if (!p->cq || ms_rdma_set_nonblock(p->cch->fd) || ibv_req_notify_cq(p->cq, 0)) {
		rc = -ENOMEM;
		goto fail;
	}
	qa.send_cq = qa.recv_cq = p->cq;
	qa.cap.max_send_wr = NSEND + 1;        /* + a grant's bind */
	qa.cap.max_recv_wr = MS_RDMA_NRECV;
	qa.cap.max_send_sge = qa.cap.max_recv_sge = 1;
	if (rdma_create_qp(id, s->pd, &qa)) {
		rc = -errno;
		goto fail;
	}
	p->qp_made = true;
	for (int i = 0; i < MS_RDMA_NRECV && !rc; i++) {
		rc = ms_rdma_buf_init(&p->rbuf[i], s->pd, MS_RWR_RECV, p);
		if (!rc)
			rc = ms_rdma_post_recv(id->qp, &p->rbuf[i]);
	}
	for (int i = 0; i < NSEND && !rc; i++)
		rc = ms_rdma_buf_init(&p->sbuf[i], s->pd, MS_RWR_SEND, p);
	if (rc)
		goto fail;
	ev.data.ptr = p;
	if (epoll_ctl(s->l.epfd, EPOLL_CTL_ADD, p->cch->fd, &ev)) {
		rc = -errno;
		goto fail;
	}
	p->in_epoll = true;
	/* the client's READs in flight (its initiator depth) are served by
	 * this side's responder resources */
	cp.responder_resources = (uint8_t)MS_MIN(client_reads, s->rd_atom);
	cp.initiator_depth = 0;
	if (rdma_accept(id, &cp)) {
		rc = -errno;
		goto fail;
	}
	return;
fail:
	rdma_reject(id, NULL, 0);
	peer_close(s, p, MS_LOG_ERROR, "cannot set up the connection: %s; rejected",
		   strerror(-rc));
}

static void on_established(struct srv *s, struct peer *p)
{
	if (s->l.cbs.on_connect && s->l.cbs.on_connect(s->l.cbs.ud, &p->lp.pub)) {
		peer_close(s, p, MS_LOG_INFO, "refused");
		return;
	}
	p->lp.accepted = true;
	slog(s, MS_LOG_DEBUG, "peer %s: connected", p->lp.pub.name);
	/* requests that arrived before ESTABLISHED was seen */
	drain_cq(s, p);
}

static void on_cm_events(struct srv *s)
{
	struct rdma_cm_event *ev;
	struct rdma_cm_id *id;
	enum rdma_cm_event_type t;
	uint8_t pdata[64], plen, reads;
	int status;

	while (s->ech && rdma_get_cm_event(s->ech, &ev) == 0) {
		/* Copy what is needed and acknowledge at once: destroying an
		 * id with an unacknowledged event would wait for ever. */
		t = ev->event;
		id = ev->id;
		status = ev->status;
		plen = (uint8_t)MS_MIN(ev->param.conn.private_data_len, sizeof(pdata));
		if (t == RDMA_CM_EVENT_CONNECT_REQUEST && ev->param.conn.private_data)
			memcpy(pdata, ev->param.conn.private_data, plen);
		else
			plen = 0;
		/* rdma_cm reports the request from this side's point of
		 * view: responder_resources is the client's initiator depth */
		reads = ev->param.conn.responder_resources;
		rdma_ack_cm_event(ev);
		switch (t) {
		case RDMA_CM_EVENT_CONNECT_REQUEST:
			on_connect_request(s, id, pdata, plen, reads);
			break;
		case RDMA_CM_EVENT_ESTABLISHED:
			on_established(s, id->context);
			break;
		case RDMA_CM_EVENT_DISCONNECTED:
			peer_close(s, id->context, MS_LOG_DEBUG, "disconnected");
			break;
		case RDMA_CM_EVENT_CONNECT_ERROR:
		case RDMA_CM_EVENT_UNREACHABLE:
		case RDMA_CM_EVENT_REJECTED:
			peer_close(s, id->context, MS_LOG_INFO, "%s (status %d); disconnected",
				   rdma_event_str(t), status);
			break;
		case RDMA_CM_EVENT_DEVICE_REMOVAL:
			slog(s, MS_LOG_ERROR, "rdma: device removed; stopping");
			ms_xloop_begin_stop(&s->l);
			break;
		default:
			break;
		}
	}
}

/* ------------------------------------------------------------ the loop */

static bool can_run(struct ms_xloop *l)
{
	return loop_srv(l)->lid != NULL;
}

static void on_start(struct ms_xloop *l)
{
	struct srv *s = loop_srv(l);
	char msg[300];

	ms_rdma_place_thread(&s->place, msg, sizeof(msg));
	slog(s, MS_LOG_INFO, "%s", msg);
}

static void stop_listening(struct ms_xloop *l)
{
	struct srv *s = loop_srv(l);

	/* New clients are refused at once: no listener any more. */
	if (s->lid)
		rdma_destroy_id(s->lid);
	s->lid = NULL;
}

static void on_event(struct ms_xloop *l, void *d, uint32_t events)
{
	struct srv *s = loop_srv(l);

	(void)events;
	if (d == &tag_cm)
		on_cm_events(s);
	else if (!((struct peer *)d)->lp.dead)
		on_cq_event(s, d);
}

/* While stopping: a peer goes once its replies are sent. */
static void check_peer(struct ms_xloop *l, struct ms_xlpeer *lp)
{
	if (l->stopping && !sends_busy(to_peer(lp)))
		peer_close(loop_srv(l), to_peer(lp), MS_LOG_DEBUG,
			   "server stopping; disconnected");
}

/* The engine's deferred reply (ms_xloop_reply): send it when a send
 * buffer is free, then the requests that waited. */
static void send_reply(struct ms_xloop *l, struct ms_xlpeer *lp, char *data, size_t len)
{
	struct peer *p = to_peer(lp);

	p->dreply = data;
	p->dlen = len;
	send_more(loop_srv(l), p);
}

static const struct ms_xloop_ops rdma_loop_ops = {
	.can_run = can_run,
	.on_start = on_start,
	.stop_listening = stop_listening,
	.on_event = on_event,
	.check_peer = check_peer,
	.teardown = peer_teardown,
	.send_reply = send_reply,
	.stopped_msg = "server stopped before its replies were sent; disconnected",
};

int ms_rdma_srv_notify(struct ms_xsrv *x, struct ms_xpeer *peer, const void *msg, size_t len)
{
	struct srv *s = to_srv(x);
	struct peer *p;
	struct note *n;

	if (!peer || (len && !msg) || !ms_xloop_on_loop(&s->l))
		return -EINVAL;
	if (len > MS_CTRL_MAX)
		return -EMSGSIZE;
	p = ms_container_of(peer, struct peer, lp.pub);
	if (p->lp.dead)
		return -ENOTCONN;
	n = malloc(sizeof(*n) + len);
	if (!n)
		return -ENOMEM;
	n->next = NULL;
	n->len = len;
	if (len)
		memcpy(n->msg, msg, len);
	*p->notes_tail = n;
	p->notes_tail = &n->next;
	/* Sent now if a send buffer is free, else when one is. */
	send_more(s, p);
	return 0;
}

int ms_rdma_listen(const char *host, const char *port, const struct ms_xsrv_cbs *cbs,
		   struct ms_xsrv **out, char *err, size_t errlen)
{
	struct epoll_event ev = { .events = EPOLLIN };
	struct sockaddr_storage ss;
	struct ibv_device_attr da;
	struct srv *s;
	char hp[300];
	int rc;

	if (!err)
		errlen = 0;
	if (!host || !port || !out) {
		snprintf(err, errlen, "missing address or result pointer");
		return -EINVAL;
	}
	rc = ms_rdma_addr(host, port, true, &ss, err, errlen);
	if (rc)
		return rc;
	s = calloc(1, sizeof(*s));
	if (!s) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	s->l.epfd = s->l.evfd = -1;
	rc = ms_xloop_init(&s->l, &ms_rdma_ops, &rdma_loop_ops, cbs, err, errlen);
	if (rc)
		goto fail;
	snprintf(hp, sizeof(hp), "%s:%s", host, port);
	s->ech = rdma_create_event_channel();
	if (!s->ech) {
		rc = -errno;
		snprintf(err, errlen, "cannot listen on %s: no RDMA device (rdma_cm: %s)", hp,
			 strerror(errno));
		goto fail;
	}
	if (rdma_create_id(s->ech, &s->lid, s, RDMA_PS_TCP) ||
	    rdma_bind_addr(s->lid, (struct sockaddr *)&ss)) {
		rc = -errno;
		snprintf(err, errlen, "cannot listen on %s: %s", hp, strerror(errno));
		goto fail;
	}
	if (!s->lid->verbs) {
		rc = -ENODEV;
		snprintf(err, errlen,
			 "cannot listen on %s: the address is not on an RDMA device "
			 "(give the address of one; wildcards are not supported)", hp);
		goto fail;
	}
	if (rdma_listen(s->lid, BACKLOG)) {
		rc = -errno;
		snprintf(err, errlen, "cannot listen on %s: %s", hp, strerror(errno));
		goto fail;
	}
	s->l.pub.port = be16toh(rdma_get_src_port(s->lid));
	s->verbs = s->lid->verbs;
	if (ibv_query_device(s->verbs, &da)) {
		rc = -EIO;
		snprintf(err, errlen, "cannot query %s", ibv_get_device_name(s->verbs->device));
		goto fail;
	}
	s->rd_atom = (unsigned)MS_MIN(da.max_qp_rd_atom, 255);
	s->pd = ibv_alloc_pd(s->verbs);
	if (!s->pd) {
		rc = errno ? -errno : -ENOMEM;
		snprintf(err, errlen, "ibv_alloc_pd: %s", strerror(-rc));
		goto fail;
	}
	ms_rdma_grant_setup(s, &da);
	if ((rc = ms_rdma_set_nonblock(s->ech->fd))) {
		snprintf(err, errlen, "fcntl: %s", strerror(-rc));
		goto fail;
	}
	ev.data.ptr = &tag_cm;
	if (epoll_ctl(s->l.epfd, EPOLL_CTL_ADD, s->ech->fd, &ev))
		goto fail_errno;
	ms_rdma_place_init(&s->place, s->verbs);
	ms_rdma_addr_str(rdma_get_local_addr(s->lid), s->addr, sizeof(s->addr));
	slog(s, MS_LOG_INFO,
	     "rdma: listening on %s via %s port %u; placement: NUMA node %d of %d (CPUs %s), %s",
	     s->addr, ibv_get_device_name(s->verbs->device), s->lid->port_num, s->place.node,
	     s->place.nnodes, s->place.cpus, s->place.how);
	*out = &s->l.pub;
	return 0;
fail_errno:
	rc = -errno;
	snprintf(err, errlen, "cannot set up the server loop: %s", strerror(errno));
fail:
	if (s->pd)
		ibv_dealloc_pd(s->pd);
	if (s->lid)
		rdma_destroy_id(s->lid);
	if (s->ech)
		rdma_destroy_event_channel(s->ech);
	ms_xloop_fini(&s->l);
	free(s);
	return rc;
}

void ms_rdma_srv_close(struct ms_xsrv *x)
{
	struct srv *s;
	struct ms_xsmr *m;

	if (!x)
		return;
	s = to_srv(x);
	if (s->lid)
		rdma_destroy_id(s->lid);
	/* Registrations the engine did not revoke. */
	while ((m = s->mrs)) {
		s->mrs = m->next;
		ms_rdma_grants_kill_mr(m);
		ibv_dereg_mr(m->mr);
		free(m);
	}
	ibv_dealloc_pd(s->pd);
	rdma_destroy_event_channel(s->ech);
	ms_xloop_fini(&s->l);
	ms_rdma_place_fini(&s->place);
	free(s);
}
