/* SPDX-License-Identifier: Apache-2.0 */
/*
 * tcp_ops.c - ms_tcp_ops: the client half (tcp_client.c, with poll(),
 * outstanding() and call() from the shared core, src/xconn.c) and the
 * server half (tcp_server.c, with srv_run() and srv_stop() from the shared
 * loop, src/xsrvloop.c) joined into one table.
 */
#include "tcp_int.h"
#include "xconn.h"
#include "xsrvloop.h"

const struct ms_transport_ops ms_tcp_ops = {
	.name = "tcp",
	.caps = MS_XCAP_AUTH,
	.connect = ms_tcp_connect,
	.reg_mr = ms_tcp_reg_mr,
	.dereg_mr = ms_tcp_dereg_mr,
	.post = ms_tcp_post,
	.poll = ms_xcore_poll,
	.outstanding = ms_xcore_outstanding,
	.call = ms_xcore_call,
	.close = ms_tcp_close,
	.listen = ms_tcp_listen,
	.srv_reg_mr = ms_tcp_srv_reg_mr,
	.srv_dereg_mr = ms_tcp_srv_dereg_mr,
	.srv_grant = ms_tcp_srv_grant,
	.srv_revoke = ms_tcp_srv_revoke,
	.srv_mr_stats = ms_tcp_srv_mr_stats,
	.srv_run = ms_xloop_run,
	.srv_stop = ms_xloop_stop,
	.srv_recheck = ms_xloop_recheck,
	.srv_counters = ms_xloop_counters,
	.srv_reply = ms_xloop_reply,
	.srv_notify = ms_tcp_srv_notify,
	.srv_close = ms_tcp_srv_close,
};
