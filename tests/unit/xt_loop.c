/* SPDX-License-Identifier: Apache-2.0 */
/*
 * xt_loop.c - test_loop: the transport contract suite (test_transport.c)
 * over the in-memory loopback transport of loopx.h.  It checks the suite
 * itself against a third, deliberately simple implementation of the
 * contract (a check that only one real transport can pass is a check of
 * that transport, not of the contract), and it shows that loopx is a
 * faithful stand-in where a test needs a transport without sockets or a
 * device.  Included by test_transport.c (-DTEST_TRANSPORT).
 */
#include "loopx.h"

int main(void)
{
	X = (struct xcfg){
		.ops = &ms_loopx_ops, .srv_addr = LOOPX_HOST,
		.caps = XC_SRV_COUNTS | XC_STOP_FINISHES | XC_KEYS_NONZERO | XC_DESC_ADDR,
		.rsz = 4u << 20, .nregs = 64, .nreads = 600,
	};
	xs_pass("loop");
	xs_lifecycle();
	return tap_done();
}
