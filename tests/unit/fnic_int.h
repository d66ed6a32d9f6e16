/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fnic_int.h - what the verbs half (fnic_verbs.c) and the rdma_cm half
 * (fnic_cm.c) of the fake NIC share.  Everything is under fnic_lock.
 */
#ifndef MS_TEST_FNIC_INT_H
#define MS_TEST_FNIC_INT_H

#include <pthread.h>

#include <infiniband/verbs.h>
#include <rdma/rdma_cma.h>

#include "fnic.h"

#define FNIC_NDEV 2
#define FNIC_MAX_MSG (1u << 31)

/* One send or receive request on a queue. */
struct fwr {
	struct fwr *next;
	uint64_t wr_id;
	enum ibv_wr_opcode opcode;
	bool signaled;
	uint64_t laddr;
	uint32_t len, lkey;
	uint64_t raddr;
	uint32_t rkey;
	struct ibv_mw *mw;              /* IBV_WR_BIND_MW: window, region, */
	struct ibv_mr *bmr;             /* access (raddr, len, rkey: the */
	int bacc;                       /* window's range and new rkey) */
};

struct fqp {
	struct ibv_qp qp;               /* first: ibv_qp * converts */
	struct fqp *peer;               /* the connected QP, or NULL */
	struct fwr *sq, **sq_tail;      /* posted, not yet executed */
	struct fwr *rq, **rq_tail;      /* posted receives */
	unsigned sq_len, max_send_wr;
};

struct fchan {
	struct ibv_comp_channel ch;     /* first */
	int wfd;
	struct ibv_cq *cq;              /* the (one) CQ that uses it */
};

struct fcq {
	struct ibv_cq cq;               /* first */
	struct ibv_wc *wc;
	unsigned cap, head, n;
	bool armed;
};

extern pthread_mutex_t fnic_lock;
extern struct fnic_stats fnic_st;
extern struct ibv_context fnic_ctx[FNIC_NDEV];
extern struct ibv_device fnic_dev[FNIC_NDEV];

/* Move a QP to the error state: flush what is queued on both queues. */
void fnic_qp_error(struct fqp *q);
/* fn on every QP there is (fnic_cm.c keeps the ids that own them). */
void fnic_cm_each_qp(void (*fn)(struct fqp *));
/* The device (index) that owns an address, or -1. */
int fnic_dev_of(const struct sockaddr *sa);

#endif /* MS_TEST_FNIC_INT_H */
