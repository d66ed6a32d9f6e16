/* SPDX-License-Identifier: Apache-2.0 */
/*
 * rdma_ops.c - ms_rdma_ops: the client half (rdma_client.c, with poll(),
 * outstanding() and call() from the shared core, src/xconn.c) and the
 * server half (rdma_server.c, with srv_run() and srv_stop() from the shared
 * loop, src/xsrvloop.c) joined into one table.
 */
#include "rdma_int.h"
#include "rdma_srv.h"
#include "xconn.h"
#include "xsrvloop.h"

const struct ms_transport_ops ms_rdma_ops = {
	.name = "rdma",
	.caps = MS_XCAP_DIRECT_PLACEMENT | MS_XCAP_DEVICE,
	.connect = ms_rdma_connect,
	.reg_mr = ms_rdma_reg_mr,
	.dereg_mr = ms_rdma_dereg_mr,
	.post = ms_rdma_post,
	.poll = ms_xcore_poll,
	.outstanding = ms_xcore_outstanding,
	.call = ms_xcore_call,
	.close = ms_rdma_close,
	.listen = ms_rdma_listen,
	.srv_reg_mr = ms_rdma_srv_reg_mr,
	.srv_dereg_mr = ms_rdma_srv_dereg_mr,
	.srv_grant = ms_rdma_srv_grant,
	.srv_revoke = ms_rdma_srv_revoke,
	.srv_mr_stats = ms_rdma_srv_mr_stats,
	.srv_run = ms_xloop_run,
	.srv_stop = ms_xloop_stop,
	.srv_recheck = ms_xloop_recheck,
	.srv_counters = ms_xloop_counters,
	.srv_reply = ms_xloop_reply,
	.srv_notify = ms_rdma_srv_notify,
	.srv_close = ms_rdma_srv_close,
};
