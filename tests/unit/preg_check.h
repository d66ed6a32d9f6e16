/* SPDX-License-Identifier: Apache-2.0 */
/*
 * preg_check.h - checks of a pull whose destination is registered in
 * pieces (src/pull_reg.c), for any transport: test_pullreg (TCP) and the
 * engine part of xt_rdma.c (the verbs stub and a real device).  The
 * client's transport ops are wrapped to count the registrations inside
 * the destination and to fail the nth of them.  Include tap.h first.
 */
#ifndef MS_TEST_PREG_CHECK_H
#define MS_TEST_PREG_CHECK_H

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "client_priv.h"
#include "pull_reg.h"

#define PC_MAX_MRS 256

static struct {
	const struct ms_transport_ops *real;
	struct ms_transport_ops ops;
	const uint8_t *lo, *hi;        /* the destination */
	struct ms_xmr *mrs[PC_MAX_MRS];/* its live registrations */
	int live, max_live, calls, fail_at;
} pc;

static int pc_reg(struct ms_xconn *x, void *addr, size_t len, struct ms_xmr **out)
{
	const uint8_t *a = addr;
	int ret;

	if (a < pc.lo || a >= pc.hi)
		return pc.real->reg_mr(x, addr, len, out);
	if (++pc.calls == pc.fail_at)
		return -ENOMEM;
	ret = pc.real->reg_mr(x, addr, len, out);
	for (int i = 0; !ret && i < PC_MAX_MRS; i++) {
		if (!pc.mrs[i]) {
			pc.mrs[i] = *out;
			if (++pc.live > pc.max_live)
				pc.max_live = pc.live;
			break;
		}
	}
	return ret;
}

static void pc_dereg(struct ms_xconn *x, struct ms_xmr *mr)
{
	for (int i = 0; mr && i < PC_MAX_MRS; i++) {
		if (pc.mrs[i] == mr) {
			pc.mrs[i] = NULL;
			pc.live--;
		}
	}
	pc.real->dereg_mr(x, mr);
}

static void pc_reset(const uint8_t *dst, uint64_t len, int fail_at)
{
	pc.lo = dst;
	pc.hi = dst + len;
	pc.live = pc.max_live = pc.calls = 0;
	pc.fail_at = fail_at;
	memset(pc.mrs, 0, sizeof(pc.mrs));
}

/* r: an open read handle of c on a region of size bytes (>= 4 MiB, chunk
 * 64 KiB) whose bytes the server holds in mem. */
__attribute__((unused)) static void preg_checks(ms_client *c, ms_region *r, const uint8_t *mem,
						uint64_t size, const char *tag)
{
	uint8_t *local = malloc(size);
	const uint64_t piece = 512 << 10;
	ms_mem *m;

	if (!local) {
		ok(0, "%s: out of memory", tag);
		return;
	}
	pc.real = c->ops;
	pc.ops = *c->ops;
	pc.ops.reg_mr = pc_reg;
	pc.ops.dereg_mr = pc_dereg;
	c->ops = &pc.ops;
	cl_preg_set_piece(piece);

	memset(local, 0, size);
	pc_reset(local, size, 0);
	is_int(ms_pull(r, 0, local, size, NULL, NULL), 0, "%s: pull in %llu pieces", tag,
	       (unsigned long long)(size / piece));
	ok(memcmp(local, mem, size) == 0, "%s: pieces: pulled bytes equal the server's", tag);
	is_int(pc.calls, (int)(size / piece), "%s: one registration per piece", tag);
	ok(pc.max_live > 1 && pc.live == 0,
	   "%s: several pieces registered at once (%d), none left after the pull", tag,
	   pc.max_live);

	/* unaligned: pieces cut inside the range, segments split at them */
	memset(local, 0, size);
	pc_reset(local, size, 0);
	is_int(ms_pull(r, 1000, local, 3 * piece + 77777, NULL, NULL), 0,
	       "%s: unaligned pull over 4 pieces", tag);
	ok(memcmp(local, mem + 1000, 3 * piece + 77777) == 0,
	   "%s: unaligned pieces: bytes equal the server's", tag);
	is_int(pc.calls, 4, "%s: unaligned: 4 registrations", tag);

	/* the third piece's registration fails: nothing stays registered */
	memset(local, 0, size);
	pc_reset(local, size, 3);
	is_int(ms_pull(r, 0, local, size, NULL, NULL), -ENOMEM,
	       "%s: a registration failing in the middle fails the pull", tag);
	ok(strstr(ms_client_errmsg(c), "cannot register memory") != NULL, "%s: message: %s", tag,
	   ms_client_errmsg(c));
	is_int(pc.live, 0, "%s: after the failure nothing is registered", tag);
	ok(memcmp(local + 2 * piece, mem + 2 * piece, size - 2 * piece) != 0 ||
	   size == 2 * piece, "%s: nothing past the failed piece was read", tag);
	memset(local, 0, size);
	pc_reset(local, size, 0);
	ok(ms_pull(r, 0, local, size, NULL, NULL) == 0 && memcmp(local, mem, size) == 0,
	   "%s: the next pull on the same connection is byte-exact", tag);

	/* a destination inside an ms_mem registration registers nothing */
	m = ms_mem_register(c, local, size);
	ok(m != NULL, "%s: ms_mem_register of the destination", tag);
	memset(local, 0, size);
	pc_reset(local, size, 0);
	ok(ms_pull(r, 0, local, size, NULL, NULL) == 0 && memcmp(local, mem, size) == 0,
	   "%s: pull into a registered window is byte-exact", tag);
	is_int(pc.calls, 0, "%s: and registers nothing", tag);
	ms_mem_unregister(m);

	cl_preg_set_piece(0);
	c->ops = pc.real;
	free(local);
}

#endif
