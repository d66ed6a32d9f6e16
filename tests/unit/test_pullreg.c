/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_pullreg.c - a pull's destination registered in pieces ahead of its
 * READs (src/pull_reg.c), over TCP (where registration is cheap but still
 * checked: a segment outside the registration it names fails): pulls over
 * several pieces, aligned and not, byte for byte; one registration per
 * piece; a registration failing in the middle leaves nothing registered;
 * a destination inside ms_mem_register registers nothing.  The same
 * checks run over the verbs stub and real RDMA from xt_rdma.c.
 */
#include <stdlib.h>
#include <string.h>

#include "memsync.h"
#include "tap.h"
#include "fixture.h"
#include "preg_check.h"

#define MiB (1ull << 20)

int main(void)
{
	static const struct fx_region regions[] = {
		{ .name = "r1", .size = 4 * MiB, .chunk_size = 64u << 10 },
	};
	struct fx_server f;
	ms_client *c;
	ms_region *r;

	fx_server_up(&f, regions, 1, FX_SEED);
	c = fx_connect(&f, NULL);
	if (!c)
		tap_bail("cannot connect");
	r = ms_open(c, "r1", MS_MODE_READ);
	if (!r)
		tap_bail("open r1: %s", ms_client_errmsg(c));
	preg_checks(c, r, f.mem[0], 4 * MiB, "tcp");
	ms_close(r);
	ms_disconnect(c);
	fx_server_down(&f);
	is_int(fx_warnings(&f), 0, "the server logged no warning");
	return tap_done();
}
