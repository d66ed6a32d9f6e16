/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fnic.h - a fake RDMA NIC in memory for the unit tests: link-time stubs of
 * the ibv_* and rdma_* calls the RDMA driver makes (fnic_verbs.c, fnic_cm.c),
 * so that the driver's posting, signalling, completion and flush logic run
 * on any host, without a device.
 *
 * Two devices, fnic0 at FNIC_ADDR and fnic1 at FNIC_ADDR2 (addresses of
 * TEST-NET-1: nothing is ever sent to them).  rdma_cm connects ids of the
 * same process through its listener table: resolve addr/route, connect,
 * connect request, accept, established, disconnected, rejected.  Queue
 * pairs execute RDMA READ and WRITE with memcpy against registered memory
 * after checking lkeys, rkeys, ranges and access flags; SEND lands in the
 * peer's posted RECV (or waits for one, like RNR retry).  An RC queue's
 * rules hold: completions come in order; a successful unsignalled request
 * makes none; an error completes its request with the error, moves the QP
 * to the error state and flushes every later request (signalled or not)
 * with IBV_WC_WR_FLUSH_ERR; a remote access error moves the responder's QP
 * to the error state too.
 *
 * Everything runs under one lock; a request executes when it is posted
 * unless the NIC is held (fnic_hold), which keeps requests in flight until
 * fnic_release().
 */
#ifndef MS_TEST_FNIC_H
#define MS_TEST_FNIC_H

#include <stdbool.h>
#include <stdint.h>

#include <infiniband/verbs.h>

#define FNIC_ADDR "192.0.2.1"
#define FNIC_ADDR2 "192.0.2.2"

struct fnic_stats {
	unsigned long data_posted;      /* RDMA READ/WRITE requests posted */
	unsigned long data_signaled;    /* of those, with IBV_SEND_SIGNALED */
	unsigned long data_cqes;        /* completions of data requests (any status) */
	unsigned long flushed;          /* IBV_WC_WR_FLUSH_ERR completions */
	unsigned long errors;           /* other unsuccessful completions */
	unsigned long bytes_read, bytes_written;
	unsigned long sends, recvs;     /* control messages delivered */
	unsigned long cq_overflows;     /* a CQ smaller than what it had to hold */
	unsigned long sq_overflows;     /* more requests on a send queue than max_send_wr */
	unsigned long max_chain;        /* longest chain handed to one ibv_post_send */
	unsigned long max_unsignaled;   /* longest run of unsignalled data requests */
};

void fnic_stats(struct fnic_stats *out);
void fnic_stats_reset(void);

/* Keep data requests (and what is queued behind them) in flight. */
void fnic_hold(bool on);
/* Execute what is held (and stop holding). */
void fnic_release(void);
/* The nth data request executed from now on (1 = the next) completes with
 * status st instead of being executed (0: no injection). */
void fnic_inject_wc(unsigned nth, enum ibv_wc_status st);
/* ibv_post_send fails (ENOMEM, *bad_wr set) at the nth data request posted
 * from now on; the requests of the chain before it are posted. */
void fnic_inject_post(unsigned nth);
/* The device reports no type 2 memory windows (grants are registrations). */
void fnic_no_mw(bool on);
/* A link goes down: every connected id gets RDMA_CM_EVENT_DISCONNECTED and
 * both queue pairs go to the error state. */
void fnic_drop_links(void);

#endif /* MS_TEST_FNIC_H */
