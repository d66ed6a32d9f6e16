/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fnic_verbs.c - the verbs half of the fake NIC (see fnic.h): devices,
 * protection domains, memory registrations, completion channels and queues,
 * and the queue pairs' execution of RDMA READ/WRITE, SEND and RECV.
 *
 * ibv_post_send, ibv_post_recv, ibv_poll_cq and ibv_req_notify_cq are
 * static inlines in <infiniband/verbs.h> that call through the context's
 * ops: the fake contexts point them at the functions here.  The rest are
 * library symbols defined here, which the test binary's linker prefers to
 * libibverbs'.  Names that verbs.h turns into macros are defined in
 * parentheses.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fnic_int.h"

pthread_mutex_t fnic_lock = PTHREAD_RECURSIVE_MUTEX_INITIALIZER_NP;
struct fnic_stats fnic_st;

struct fmr {
	struct ibv_mr mr;               /* first */
	struct fmr *next;
	int access;
	struct fqp *qp;                 /* a bound type 2 window: only this QP */
};

/* A type 2 memory window: an fmr in mrs while bound. */
struct fmw {
	struct ibv_mw mw;               /* first */
	struct fmr *bound;
};

static struct fmr *mrs;                 /* every live registration */
static uint32_t next_key = 0x1000;
static bool held;
static unsigned inject_wc_at, inject_post_at;
static enum ibv_wc_status inject_status;
static unsigned long unsig_run;
static bool no_mw;

static int fq_post_send(struct ibv_qp *qp, struct ibv_send_wr *wr, struct ibv_send_wr **bad);
static int fq_post_recv(struct ibv_qp *qp, struct ibv_recv_wr *wr, struct ibv_recv_wr **bad);
static int fq_poll_cq(struct ibv_cq *cq, int n, struct ibv_wc *wc);
static int fq_req_notify(struct ibv_cq *cq, int solicited_only);
static struct ibv_mw *fq_alloc_mw(struct ibv_pd *pd, enum ibv_mw_type type);
static int fq_dealloc_mw(struct ibv_mw *mw);

struct ibv_device fnic_dev[FNIC_NDEV] = {
	{ .node_type = IBV_NODE_CA, .transport_type = IBV_TRANSPORT_IB, .name = "fnic0" },
	{ .node_type = IBV_NODE_CA, .transport_type = IBV_TRANSPORT_IB, .name = "fnic1" },
};

#define FCTX(i)                                                                         \
	{ .device = &fnic_dev[i],                                                       \
	  .ops = { .post_send = fq_post_send, .post_recv = fq_post_recv,                \
		   .poll_cq = fq_poll_cq, .req_notify_cq = fq_req_notify,              \
		   .alloc_mw = fq_alloc_mw, .dealloc_mw = fq_dealloc_mw } }
struct ibv_context fnic_ctx[FNIC_NDEV] = { FCTX(0), FCTX(1) };

/* ------------------------------------------------------------ control */

void fnic_stats(struct fnic_stats *out)
{
	pthread_mutex_lock(&fnic_lock);
	*out = fnic_st;
	pthread_mutex_unlock(&fnic_lock);
}

void fnic_stats_reset(void)
{
	pthread_mutex_lock(&fnic_lock);
	memset(&fnic_st, 0, sizeof(fnic_st));
	unsig_run = 0;
	pthread_mutex_unlock(&fnic_lock);
}

void fnic_hold(bool on)
{
	pthread_mutex_lock(&fnic_lock);
	held = on;
	pthread_mutex_unlock(&fnic_lock);
}

void fnic_inject_wc(unsigned nth, enum ibv_wc_status st)
{
	pthread_mutex_lock(&fnic_lock);
	inject_wc_at = nth;
	inject_status = st;
	pthread_mutex_unlock(&fnic_lock);
}

void fnic_no_mw(bool on)
{
	pthread_mutex_lock(&fnic_lock);
	no_mw = on;
	pthread_mutex_unlock(&fnic_lock);
}

void fnic_inject_post(unsigned nth)
{
	pthread_mutex_lock(&fnic_lock);
	inject_post_at = nth;
	pthread_mutex_unlock(&fnic_lock);
}

/* ------------------------------------------------------------ devices */

struct ibv_device **(ibv_get_device_list)(int *num)
{
	static struct ibv_device *list[FNIC_NDEV + 1] = { &fnic_dev[0], &fnic_dev[1], NULL };

	if (num)
		*num = FNIC_NDEV;
	return list;
}

void ibv_free_device_list(struct ibv_device **list)
{
	(void)list;
}

const char *ibv_get_device_name(struct ibv_device *dev)
{
	return dev ? dev->name : NULL;
}

int ibv_query_device(struct ibv_context *ctx, struct ibv_device_attr *a)
{
	(void)ctx;
	memset(a, 0, sizeof(*a));
	a->max_qp_wr = 16384;
	a->max_cqe = 65536;
	a->max_sge = 1;
	a->max_qp_rd_atom = 128;
	a->max_qp_init_rd_atom = 128;
	a->max_mr_size = UINT64_MAX;
	a->phys_port_cnt = 1;
	pthread_mutex_lock(&fnic_lock);
	if (!no_mw) {
		a->max_mw = 1u << 16;
		a->device_cap_flags |= IBV_DEVICE_MEM_WINDOW | IBV_DEVICE_MEM_WINDOW_TYPE_2B;
	}
	pthread_mutex_unlock(&fnic_lock);
	return 0;
}

int (ibv_query_port)(struct ibv_context *ctx, uint8_t port, struct _compat_ibv_port_attr *pa)
{
	struct ibv_port_attr *a = (struct ibv_port_attr *)pa;

	if (!ctx || port != 1)
		return EINVAL;
	a->state = IBV_PORT_ACTIVE;
	a->max_mtu = a->active_mtu = IBV_MTU_4096;
	a->max_msg_sz = FNIC_MAX_MSG;
	a->link_layer = IBV_LINK_LAYER_ETHERNET;
	return 0;
}

const char *ibv_port_state_str(enum ibv_port_state st)
{
	return st == IBV_PORT_ACTIVE ? "PORT_ACTIVE" : "PORT_DOWN";
}

const char *ibv_wc_status_str(enum ibv_wc_status st)
{
	switch (st) {
	case IBV_WC_SUCCESS: return "success";
	case IBV_WC_WR_FLUSH_ERR: return "Work Request Flushed Error";
	case IBV_WC_REM_ACCESS_ERR: return "remote access error";
	case IBV_WC_LOC_PROT_ERR: return "local protection error";
	case IBV_WC_LOC_LEN_ERR: return "local length error";
	case IBV_WC_RETRY_EXC_ERR: return "transport retry counter exceeded";
	default: return "other error";
	}
}

/* ------------------------------------------------------------ memory */

struct ibv_pd *ibv_alloc_pd(struct ibv_context *ctx)
{
	struct ibv_pd *pd = calloc(1, sizeof(*pd));

	if (pd)
		pd->context = ctx;
	return pd;
}

int ibv_dealloc_pd(struct ibv_pd *pd)
{
	free(pd);
	return 0;
}

struct ibv_mr *(ibv_reg_mr)(struct ibv_pd *pd, void *addr, size_t len, int access)
{
	struct fmr *m;

	if (!pd || !addr || !len ||
	    ((access & (IBV_ACCESS_REMOTE_WRITE)) && !(access & IBV_ACCESS_LOCAL_WRITE))) {
		errno = EINVAL;
		return NULL;
	}
	m = calloc(1, sizeof(*m));
	if (!m) {
		errno = ENOMEM;
		return NULL;
	}
	pthread_mutex_lock(&fnic_lock);
	m->mr = (struct ibv_mr){ .context = pd->context, .pd = pd, .addr = addr, .length = len,
				 .lkey = next_key, .rkey = next_key + 1 };
	next_key += 0x100;      /* keys are never reused: a revoked one stays dead */
	m->access = access;
	m->next = mrs;
	mrs = m;
	pthread_mutex_unlock(&fnic_lock);
	return &m->mr;
}

struct ibv_mr *ibv_reg_mr_iova2(struct ibv_pd *pd, void *addr, size_t len, uint64_t iova,
				unsigned int access)
{
	if (iova != (uintptr_t)addr) {
		errno = EINVAL;
		return NULL;
	}
	return (ibv_reg_mr)(pd, addr, len, (int)access);
}

static struct ibv_mw *fq_alloc_mw(struct ibv_pd *pd, enum ibv_mw_type type)
{
	struct fmw *w;

	if (type != IBV_MW_TYPE_2 || !(w = calloc(1, sizeof(*w)))) {
		errno = type != IBV_MW_TYPE_2 ? EINVAL : ENOMEM;
		return NULL;
	}
	pthread_mutex_lock(&fnic_lock);
	w->mw = (struct ibv_mw){ .context = pd->context, .pd = pd, .type = type,
				 .rkey = next_key + 1 };
	next_key += 0x100;
	pthread_mutex_unlock(&fnic_lock);
	return &w->mw;
}

static void unlink_mr(struct fmr *m)
{
	struct fmr **pp;

	for (pp = &mrs; *pp && *pp != m; pp = &(*pp)->next)
		;
	if (*pp)
		*pp = m->next;
}

static int fq_dealloc_mw(struct ibv_mw *mw)
{
	struct fmw *w = (struct fmw *)mw;

	pthread_mutex_lock(&fnic_lock);
	if (w->bound) {
		unlink_mr(w->bound);
		free(w->bound);
	}
	pthread_mutex_unlock(&fnic_lock);
	free(w);
	return 0;
}

/* IBV_WR_BIND_MW on q: the window answers rkey over [addr, addr+len) of
 * mr with access, on q only. */
static int bind_mw(struct fqp *q, struct ibv_mw *mw, struct ibv_mr *mr, uint32_t rkey,
		   uint64_t addr, uint64_t len, int access)
{
	struct fmw *w = (struct fmw *)mw;
	struct fmr *m, *parent = NULL;

	for (m = mrs; m; m = m->next)
		if (&m->mr == mr && !m->qp)
			parent = m;
	if (!parent || !(parent->access & IBV_ACCESS_MW_BIND) || mw->pd != q->qp.pd ||
	    (rkey & ~0xffu) != (mw->rkey & ~0xffu) || addr < (uintptr_t)mr->addr ||
	    addr - (uintptr_t)mr->addr > mr->length ||
	    len > mr->length - (addr - (uintptr_t)mr->addr))
		return IBV_WC_MW_BIND_ERR;
	if (!w->bound && !(w->bound = calloc(1, sizeof(*w->bound))))
		return IBV_WC_MW_BIND_ERR;
	unlink_mr(w->bound);
	*w->bound = (struct fmr){ .mr = { .context = mr->context, .pd = mr->pd,
					  .addr = (void *)(uintptr_t)addr, .length = len,
					  .lkey = 0, .rkey = rkey },
				  .access = access, .qp = q, .next = mrs };
	mrs = w->bound;
	mw->rkey = rkey;
	return IBV_WC_SUCCESS;
}

int ibv_dereg_mr(struct ibv_mr *mr)
{
	struct fmr **pp;

	pthread_mutex_lock(&fnic_lock);
	for (pp = &mrs; *pp && &(*pp)->mr != mr; pp = &(*pp)->next)
		;
	if (*pp)
		*pp = (*pp)->next;
	pthread_mutex_unlock(&fnic_lock);
	free(mr);
	return 0;
}

/* The registration in pd that key names and that covers [addr, addr+len)
 * with every bit of need; NULL if none. */
static struct fmr *mr_check_qp(struct ibv_pd *pd, struct fqp *qp, uint32_t key, bool remote,
			       uint64_t addr, uint32_t len, int need);

static struct fmr *mr_check(struct ibv_pd *pd, uint32_t key, bool remote, uint64_t addr,
			    uint32_t len, int need)
{
	return mr_check_qp(pd, NULL, key, remote, addr, len, need);
}

/* ... and, for a window, arriving on the QP it is bound to (qp). */
static struct fmr *mr_check_qp(struct ibv_pd *pd, struct fqp *qp, uint32_t key, bool remote,
			       uint64_t addr, uint32_t len, int need)
{
	for (struct fmr *m = mrs; m; m = m->next) {
		uint64_t lo = (uintptr_t)m->mr.addr;

		if ((remote ? m->mr.rkey : m->mr.lkey) != key || (!remote && m->qp))
			continue;
		if (m->mr.pd != pd || (m->qp && m->qp != qp) || addr < lo || addr - lo > m->mr.length ||
		    len > m->mr.length - (addr - lo) || (m->access & need) != need)
			return NULL;
		return m;
	}
	return NULL;
}

/* ------------------------------------------------------------ CQs */

struct ibv_comp_channel *ibv_create_comp_channel(struct ibv_context *ctx)
{
	struct fchan *c = calloc(1, sizeof(*c));
	int fds[2];

	if (!c || pipe2(fds, O_CLOEXEC)) {
		free(c);
		errno = ENOMEM;
		return NULL;
	}
	c->ch.context = ctx;
	c->ch.fd = fds[0];
	c->wfd = fds[1];
	return &c->ch;
}

int ibv_destroy_comp_channel(struct ibv_comp_channel *ch)
{
	struct fchan *c = (struct fchan *)ch;

	close(c->ch.fd);
	close(c->wfd);
	free(c);
	return 0;
}

struct ibv_cq *ibv_create_cq(struct ibv_context *ctx, int cqe, void *cq_ctx,
			     struct ibv_comp_channel *ch, int vec)
{
	struct fcq *q = calloc(1, sizeof(*q));

	(void)vec;
	if (!q || cqe <= 0 || !(q->wc = calloc((size_t)cqe, sizeof(*q->wc)))) {
		free(q);
		errno = ENOMEM;
		return NULL;
	}
	q->cap = (unsigned)cqe;
	q->cq.context = ctx;
	q->cq.channel = ch;
	q->cq.cq_context = cq_ctx;
	q->cq.cqe = cqe;
	if (ch)
		((struct fchan *)ch)->cq = &q->cq;
	return &q->cq;
}

int ibv_destroy_cq(struct ibv_cq *cq)
{
	struct fcq *q = (struct fcq *)cq;

	free(q->wc);
	free(q);
	return 0;
}

int ibv_get_cq_event(struct ibv_comp_channel *ch, struct ibv_cq **cq, void **cq_ctx)
{
	struct fchan *c = (struct fchan *)ch;
	char b;

	if (read(c->ch.fd, &b, 1) != 1)
		return -1;
	*cq = c->cq;
	*cq_ctx = c->cq->cq_context;
	return 0;
}

void ibv_ack_cq_events(struct ibv_cq *cq, unsigned int n)
{
	(void)cq;
	(void)n;
}

static void cq_push(struct ibv_cq *cq, const struct ibv_wc *wc)
{
	struct fcq *q = (struct fcq *)cq;
	struct fchan *c = (struct fchan *)cq->channel;

	if (q->n == q->cap) {
		fnic_st.cq_overflows++;
		return;
	}
	q->wc[(q->head + q->n++) % q->cap] = *wc;
	if (q->armed && c) {
		q->armed = false;
		if (write(c->wfd, "e", 1) != 1)
			fnic_st.cq_overflows++;
	}
}

static int fq_poll_cq(struct ibv_cq *cq, int n, struct ibv_wc *wc)
{
	struct fcq *q = (struct fcq *)cq;
	int k = 0;

	pthread_mutex_lock(&fnic_lock);
	for (; k < n && q->n; k++) {
		wc[k] = q->wc[q->head];
		q->head = (q->head + 1) % q->cap;
		q->n--;
	}
	pthread_mutex_unlock(&fnic_lock);
	return k;
}

static int fq_req_notify(struct ibv_cq *cq, int solicited_only)
{
	(void)solicited_only;
	pthread_mutex_lock(&fnic_lock);
	((struct fcq *)cq)->armed = true;
	pthread_mutex_unlock(&fnic_lock);
	return 0;
}

/* ------------------------------------------------------------ QPs */

static bool is_data(enum ibv_wr_opcode op)
{
	return op == IBV_WR_RDMA_READ || op == IBV_WR_RDMA_WRITE;
}

static void complete(struct fqp *q, const struct fwr *w, bool recv, enum ibv_wc_status st)
{
	struct ibv_wc wc = { .wr_id = w->wr_id, .status = st, .qp_num = q->qp.qp_num };

	if (recv) {
		wc.opcode = IBV_WC_RECV;
	} else {
		wc.opcode = w->opcode == IBV_WR_RDMA_READ    ? IBV_WC_RDMA_READ
			    : w->opcode == IBV_WR_RDMA_WRITE ? IBV_WC_RDMA_WRITE
			    : w->opcode == IBV_WR_BIND_MW    ? IBV_WC_BIND_MW
							     : IBV_WC_SEND;
		if (st == IBV_WC_SUCCESS && !w->signaled)
			return;
		if (is_data(w->opcode))
			fnic_st.data_cqes++;
	}
	if (st == IBV_WC_SUCCESS && w->opcode == IBV_WR_RDMA_READ && !recv)
		wc.byte_len = w->len;
	if (st == IBV_WC_WR_FLUSH_ERR)
		fnic_st.flushed++;
	else if (st != IBV_WC_SUCCESS)
		fnic_st.errors++;
	cq_push(recv ? q->qp.recv_cq : q->qp.send_cq, &wc);
}

void fnic_qp_error(struct fqp *q)
{
	struct fwr *w;

	q->qp.state = IBV_QPS_ERR;
	while ((w = q->sq)) {
		q->sq = w->next;
		complete(q, w, false, IBV_WC_WR_FLUSH_ERR);
		free(w);
	}
	q->sq_tail = &q->sq;
	q->sq_len = 0;
	while ((w = q->rq)) {
		q->rq = w->next;
		complete(q, w, true, IBV_WC_WR_FLUSH_ERR);
		free(w);
	}
	q->rq_tail = &q->rq;
}

/* Execute one request of q's send queue: a status, or -1 when it must wait
 * (a SEND with no receive posted on the other side). */
static int execute(struct fqp *q, struct fwr *w)
{
	struct fqp *p = q->peer;
	struct fmr *l, *r;
	struct fwr *rw;

	if (!p || p->qp.state == IBV_QPS_ERR)
		return IBV_WC_RETRY_EXC_ERR;
	if (is_data(w->opcode) && inject_wc_at && --inject_wc_at == 0)
		return inject_status;
	switch (w->opcode) {
	case IBV_WR_RDMA_READ:
	case IBV_WR_RDMA_WRITE:
		if (w->len > FNIC_MAX_MSG)
			return IBV_WC_LOC_LEN_ERR;
		if (!w->len)
			return IBV_WC_SUCCESS;
		l = mr_check(q->qp.pd, w->lkey, false, w->laddr, w->len,
			     w->opcode == IBV_WR_RDMA_READ ? IBV_ACCESS_LOCAL_WRITE : 0);
		if (!l)
			return IBV_WC_LOC_PROT_ERR;
		r = mr_check_qp(p->qp.pd, p, w->rkey, true, w->raddr, w->len,
			     w->opcode == IBV_WR_RDMA_READ ? IBV_ACCESS_REMOTE_READ
							   : IBV_ACCESS_REMOTE_WRITE);
		if (!r) {
			fnic_qp_error(p);       /* the responder's QP fails too */
			return IBV_WC_REM_ACCESS_ERR;
		}
		if (w->opcode == IBV_WR_RDMA_READ) {
			memcpy((void *)(uintptr_t)w->laddr, (void *)(uintptr_t)w->raddr, w->len);
			fnic_st.bytes_read += w->len;
		} else {
			memcpy((void *)(uintptr_t)w->raddr, (void *)(uintptr_t)w->laddr, w->len);
			fnic_st.bytes_written += w->len;
		}
		return IBV_WC_SUCCESS;
	case IBV_WR_SEND:
		if (!(rw = p->rq))
			return -1;      /* receiver not ready: retried when it posts */
		if (!mr_check(q->qp.pd, w->lkey, false, w->laddr, w->len, 0))
			return IBV_WC_LOC_PROT_ERR;
		p->rq = rw->next;
		if (!p->rq)
			p->rq_tail = &p->rq;
		if (w->len > rw->len ||
		    !mr_check(p->qp.pd, rw->lkey, false, rw->laddr, w->len,
			      IBV_ACCESS_LOCAL_WRITE)) {
			complete(p, rw, true, IBV_WC_LOC_LEN_ERR);
			free(rw);
			fnic_qp_error(p);
			return IBV_WC_REM_INV_REQ_ERR;
		}
		memcpy((void *)(uintptr_t)rw->laddr, (void *)(uintptr_t)w->laddr, w->len);
		{
			struct ibv_wc wc = { .wr_id = rw->wr_id, .status = IBV_WC_SUCCESS,
					     .opcode = IBV_WC_RECV, .byte_len = w->len,
					     .qp_num = p->qp.qp_num };
			cq_push(p->qp.recv_cq, &wc);
		}
		free(rw);
		fnic_st.sends++;
		fnic_st.recvs++;
		return IBV_WC_SUCCESS;
	case IBV_WR_BIND_MW:
		return bind_mw(q, w->mw, w->bmr, w->rkey, w->raddr, w->len, w->bacc);
	default:
		return IBV_WC_REM_INV_REQ_ERR;
	}
}

/* Run q's send queue as far as it goes. */
static void run_sq(struct fqp *q)
{
	struct fwr *w;
	int st;

	while (q->qp.state == IBV_QPS_RTS && (w = q->sq)) {
		if (held && is_data(w->opcode))
			return;
		st = execute(q, w);
		if (st < 0)
			return;
		q->sq = w->next;
		if (!q->sq)
			q->sq_tail = &q->sq;
		q->sq_len--;
		complete(q, w, false, (enum ibv_wc_status)st);
		free(w);
		if (st != IBV_WC_SUCCESS) {
			fnic_qp_error(q);
			return;
		}
	}
}

void fnic_release(void)
{
	pthread_mutex_lock(&fnic_lock);
	held = false;
	fnic_cm_each_qp(run_sq);
	pthread_mutex_unlock(&fnic_lock);
}

static int fq_post_send(struct ibv_qp *qp, struct ibv_send_wr *wr, struct ibv_send_wr **bad)
{
	struct fqp *q = (struct fqp *)qp;
	unsigned long chain = 0;
	struct fwr *w;
	int rc = 0;

	pthread_mutex_lock(&fnic_lock);
	for (; wr; wr = wr->next, chain++) {
		if (q->qp.state != IBV_QPS_RTS && q->qp.state != IBV_QPS_ERR) {
			rc = EINVAL;
			break;
		}
		if ((wr->num_sge != 1 && wr->opcode != IBV_WR_BIND_MW) ||
		    !(w = calloc(1, sizeof(*w)))) {
			rc = wr->num_sge != 1 && wr->opcode != IBV_WR_BIND_MW ? EINVAL : ENOMEM;
			break;
		}
		if (wr->opcode == IBV_WR_BIND_MW) {
			const struct ibv_mw_bind_info *b = &wr->bind_mw.bind_info;

			*w = (struct fwr){ .wr_id = wr->wr_id, .opcode = wr->opcode,
					   .signaled = !!(wr->send_flags & IBV_SEND_SIGNALED),
					   .raddr = b->addr, .len = (uint32_t)b->length,
					   .rkey = wr->bind_mw.rkey, .mw = wr->bind_mw.mw,
					   .bmr = b->mr, .bacc = (int)b->mw_access_flags };
			if (++q->sq_len > q->max_send_wr)
				fnic_st.sq_overflows++;
			*q->sq_tail = w;
			q->sq_tail = &w->next;
			continue;
		}
		if (is_data(wr->opcode)) {
			if (inject_post_at && --inject_post_at == 0) {
				free(w);
				rc = ENOMEM;
				break;
			}
			fnic_st.data_posted++;
			if (wr->send_flags & IBV_SEND_SIGNALED) {
				fnic_st.data_signaled++;
				unsig_run = 0;
			} else if (++unsig_run > fnic_st.max_unsignaled) {
				fnic_st.max_unsignaled = unsig_run;
			}
		}
		*w = (struct fwr){ .wr_id = wr->wr_id, .opcode = wr->opcode,
				   .signaled = !!(wr->send_flags & IBV_SEND_SIGNALED),
				   .laddr = wr->sg_list[0].addr, .len = wr->sg_list[0].length,
				   .lkey = wr->sg_list[0].lkey, .raddr = wr->wr.rdma.remote_addr,
				   .rkey = wr->wr.rdma.rkey };
		if (++q->sq_len > q->max_send_wr)
			fnic_st.sq_overflows++;
		*q->sq_tail = w;
		q->sq_tail = &w->next;
	}
	if (chain > fnic_st.max_chain)
		fnic_st.max_chain = chain;
	if (rc)
		*bad = wr;
	if (q->qp.state == IBV_QPS_ERR)
		fnic_qp_error(q);       /* a QP in error flushes what is posted */
	else
		run_sq(q);
	pthread_mutex_unlock(&fnic_lock);
	return rc;
}

static int fq_post_recv(struct ibv_qp *qp, struct ibv_recv_wr *wr, struct ibv_recv_wr **bad)
{
	struct fqp *q = (struct fqp *)qp;
	struct fwr *w;
	int rc = 0;

	pthread_mutex_lock(&fnic_lock);
	for (; wr; wr = wr->next) {
		if (wr->num_sge != 1 || !(w = calloc(1, sizeof(*w)))) {
			rc = EINVAL;
			*bad = wr;
			break;
		}
		*w = (struct fwr){ .wr_id = wr->wr_id, .laddr = wr->sg_list[0].addr,
				   .len = wr->sg_list[0].length, .lkey = wr->sg_list[0].lkey };
		*q->rq_tail = w;
		q->rq_tail = &w->next;
	}
	if (q->qp.state == IBV_QPS_ERR)
		fnic_qp_error(q);
	else if (q->peer)
		run_sq(q->peer);        /* a SEND may have waited for this */
	pthread_mutex_unlock(&fnic_lock);
	return rc;
}

int ibv_modify_qp(struct ibv_qp *qp, struct ibv_qp_attr *attr, int mask)
{
	pthread_mutex_lock(&fnic_lock);
	if ((mask & IBV_QP_STATE) && attr->qp_state == IBV_QPS_ERR)
		fnic_qp_error((struct fqp *)qp);
	pthread_mutex_unlock(&fnic_lock);
	return 0;
}
