/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_transport.c - the transport contract suite: what every struct
 * ms_transport_ops must do, compiled once per transport.  The Makefile
 * builds it with -DTEST_TRANSPORT naming the transport's own file, which is
 * included at the end (one translation unit: the TAP counter is static):
 *   test_tcp        xt_tcp.c        the TCP fallback on 127.0.0.1
 *   test_rdma       xt_rdma.c       the RDMA driver on a real device (rxe)
 *   test_rdma_stub  xt_rdma_stub.c  the RDMA driver over the fake NIC (fnic.h)
 *   test_loop       xt_loop.c       the in-memory loopback transport (loopx.h)
 * That file sets X (tfix.h) in main() and adds its own checks; where the
 * transports may differ, X.caps says what this one does.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "tap.h"
#include "tfix.h"
#include "util.h"

struct xcfg X;

#define HAS(cap) ((X.caps & (cap)) != 0)

static void tc_reg(struct tsrv *t, const char *what)
{
	unsigned n = X.nregs;
	struct ms_xsmr **m = calloc(n, sizeof(*m)), *x;
	struct ms_rdesc *d = calloc(n, sizeof(*d)), dd;
	int dup = 0, zero = 0;

	is_int(T->srv_reg_mr(t->s, NULL, 4096, MS_XACCESS_READ, &x, &dd), -EINVAL,
	       "%s: reg_mr: NULL address refused", what);
	is_int(T->srv_reg_mr(t->s, A, 0, MS_XACCESS_READ, &x, &dd), -EINVAL,
	       "%s: reg_mr: empty range refused", what);
	is_int(T->srv_reg_mr(t->s, A, 4096, 0, &x, &dd), -EINVAL, "%s: reg_mr: no access refused",
	       what);
	is_int(T->srv_reg_mr(t->s, A, 4096, 4, &x, &dd), -EINVAL,
	       "%s: reg_mr: unknown access bit", what);
	for (unsigned i = 0; i < n; i++)
		if (T->srv_reg_mr(t->s, A, 4096, MS_XACCESS_READ, &m[i], &d[i]))
			tap_bail("reg_mr failed");
	for (unsigned i = 0; i < n; i++) {
		zero += d[i].rkey == 0;
		for (unsigned j = 0; j < i; j++)
			dup += d[i].rkey == d[j].rkey;
	}
	ok(!dup && (!HAS(XC_KEYS_NONZERO) || !zero), "%s: %u registrations get distinct%s keys",
	   what, n, HAS(XC_KEYS_NONZERO) ? " nonzero" : "");
	ok(d[0].len == 4096 && (!HAS(XC_DESC_ADDR) || d[0].addr == (uintptr_t)A),
	   "%s: desc carries the length%s", what, HAS(XC_DESC_ADDR) ? " and address" : "");
	for (unsigned i = 0; i < n; i++)
		T->srv_dereg_mr(t->s, m[i]);
	free(m);
	free(d);
}

static void tc_reads(struct tsrv *t, uint32_t max_io, const char *what)
{
	static const uint32_t sizes[] = { 1, 2, 7, 100, 4095, 4096, 4097, 65536, 100000,
					  (1u << 20) - 1, 1u << 20 };
	size_t rsz = X.rsz, n = X.nreads, wrong = 0;
	struct ms_xconn *c = cli(t, 16, max_io, 0);
	char *dst = calloc(1, rsz);
	struct ms_xmr *lmr = lreg(c, dst, rsz);
	struct op *ops = calloc(n + 1, sizeof(*ops));
	unsigned seed = 7;
	int bad;

	for (size_t i = 0; i < n; i++) {
		uint32_t len = sizes[i % MS_ARRAY_SIZE(sizes)];
		uint64_t off = (uint64_t)rand_r(&seed) % (rsz - len + 1);

		ops[i] = (struct op){ MS_XOP_READ, off, len, dst + off };
	}
	ops[0].roff = 0, ops[0].local = dst;                    /* first byte */
	ops[1].roff = rsz - 2, ops[1].local = dst + rsz - 2;    /* last bytes */
	/* one of max_io: what was asked for, within what the transport allows */
	ok(c->max_io <= max_io && c->max_io >= (1u << 20), "%s: max_io %u for %u requested",
	   what, c->max_io, max_io);
	if (c->max_io <= rsz) {
		ops[n] = (struct op){ MS_XOP_READ, 0, c->max_io, dst };
		n++;
	}
	bad = run_ops(c, lmr, &dA, ops, n);
	is_int(bad, 0, "%s: %zu pipelined reads (1 B .. max_io %u, depth 16) complete", what, n,
	       c->max_io);
	for (size_t i = 0; i < n; i++)
		wrong += memcmp(dst + ops[i].roff, A + ops[i].roff, ops[i].len) != 0;
	is_int(wrong, 0, "%s: every read returned the region's bytes", what);
	is_int(T->outstanding(c), 0, "%s: nothing outstanding afterwards", what);
	T->close(c);            /* frees lmr */
	free(ops);
	free(dst);
}

/* A connection for the next access check: a NIC ends the connection on a
 * refused key, so those checks each get a fresh one there. */
static struct ms_xconn *fresh(struct tsrv *t, struct ms_xconn *c, struct ms_xmr **lmr,
			      char *buf, size_t len)
{
	if (c && !HAS(XC_ACCESS_FATAL))
		return c;
	if (c)
		T->close(c);
	c = cli(t, 4, 0, 0);
	*lmr = lreg(c, buf, len);
	return c;
}

/* Keys: read-only, made up, zero, write-only, revoked. */
static void tc_grants(struct tsrv *t, char *src, char *snap, const char *what)
{
	size_t rsz = X.rsz;
	char *buf = src;        /* src and snap are one registration: [src, snap+rsz) */
	struct ms_xmr *lmr = NULL;
	struct ms_xconn *c = fresh(t, NULL, &lmr, buf, 2 * rsz);
	struct ms_rdesc fake = dB;
	struct ms_xsmr *m;
	struct ms_rdesc d;

	memcpy(snap, A, rsz);
	is_int(io1(c, MS_XOP_WRITE, src, lmr, 65536, &dA, 0), -EACCES,
	       "%s: write with a read-only key: -EACCES", what);
	ok(memcmp(snap, A, rsz) == 0, "%s: read-only region unchanged", what);
	if (HAS(XC_ACCESS_FATAL))
		is_int(io1(c, MS_XOP_READ, src, lmr, 10, &dA, 0), -ENOTCONN,
		       "%s: a remote access error ends the connection (post: -ENOTCONN)", what);

	c = fresh(t, c, &lmr, buf, 2 * rsz);
	fake.rkey ^= 0x5a5a;
	is_int(io1(c, MS_XOP_READ, snap, lmr, 10, &fake, 0), -EACCES, "%s: made-up key: -EACCES",
	       what);
	c = fresh(t, c, &lmr, buf, 2 * rsz);
	fake.rkey = 0;
	is_int(io1(c, MS_XOP_WRITE, src, lmr, 10, &fake, 0), -EACCES, "%s: key 0: -EACCES", what);

	/* write-only grant, then revocation */
	c = fresh(t, c, &lmr, buf, 2 * rsz);
	if (T->srv_reg_mr(t->s, B, rsz, MS_XACCESS_WRITE, &m, &d))
		tap_bail("reg_mr failed");
	is_int(io1(c, MS_XOP_READ, snap, lmr, 10, &d, 0), -EACCES,
	       "%s: read with a write-only key: -EACCES", what);
	c = fresh(t, c, &lmr, buf, 2 * rsz);
	is_int(io1(c, MS_XOP_WRITE, src, lmr, 10, &d, 0), 0, "%s: write with it works", what);
	T->srv_dereg_mr(t->s, m);
	memcpy(snap, B, rsz);
	is_int(io1(c, MS_XOP_WRITE, src + 100, lmr, 4096, &d, 0), -EACCES,
	       "%s: deregistered key: -EACCES", what);
	ok(memcmp(snap, B, rsz) == 0, "%s: and nothing landed", what);
	T->close(c);
}

/* Client-side argument checks: refused by post() itself. */
static void tc_args(struct ms_xconn *c, char *buf, const char *what)
{
	struct ms_xwr w = { .op = 9, .local = buf, .len = 10, .remote = &dA };
	struct ms_xwr many[17];
	struct ms_xmr *lmr, *all = lreg(c, buf, 8192);

	w.lmr = all;
	is_int(T->post(c, &w, 1), -EINVAL, "%s: post: unknown op", what);
	w.op = MS_XOP_READ;
	w.len = c->max_io + 1;
	is_int(T->post(c, &w, 1), -EINVAL, "%s: post: over max_io", what);
	w.len = 10;
	w.remote = NULL;
	is_int(T->post(c, &w, 1), -EINVAL, "%s: post: no remote", what);
	w.remote = &dA;
	if (HAS(XC_NEEDS_LMR)) {
		w.lmr = NULL;
		is_int(T->post(c, &w, 1), -EINVAL, "%s: post: no local registration", what);
	}
	lmr = lreg(c, buf, 4096);
	w.lmr = lmr;
	w.local = buf + 4090;
	is_int(T->post(c, &w, 1), -EINVAL, "%s: post: local outside its registration", what);
	w.local = buf + 4086;
	is_int(io1(c, MS_XOP_READ, w.local, lmr, 10, &dA, 0), 0, "%s: inside it works", what);
	T->dereg_mr(c, lmr);
	is_int(T->post(c, &w, 1), -EINVAL, "%s: post: deregistered local registration", what);
	w.lmr = all;
	for (int i = 0; i < 17; i++)
		many[i] = w;
	is_int(T->post(c, many, 17), -EINVAL, "%s: post: more than depth at once", what);
	is_int(T->post(c, many, 10), 0, "%s: post 10", what);
	is_int(T->outstanding(c), 10, "%s: 10 outstanding", what);
	is_int(T->post(c, many, 7), -EAGAIN, "%s: post 7 more: -EAGAIN", what);
	is_int(T->outstanding(c), 10, "%s: still 10 outstanding", what);
	is_int(T->post(c, many, 6), 0, "%s: post 6 more", what);
	for (int got = 0, k; got < 16; got += k) {
		struct ms_xwc wc[16];

		k = T->poll(c, wc, 16, 5000);
		if (k <= 0) {
			ok(0, "%s: poll the 16", what);
			break;
		}
	}
	is_int(T->outstanding(c), 0, "%s: all 16 reaped", what);
	T->dereg_mr(c, all);
}

static void tc_writes(struct tsrv *t, const char *what)
{
	size_t rsz = X.rsz, slot = rsz / 256, total = 0;
	struct ms_xconn *c = cli(t, 16, 1u << 20, 0);
	/* one local registration: src, snap, and what lies outside it */
	char *model = malloc(rsz), *src = malloc(2 * rsz + 8192), *snap = src + rsz;
	char *outside = src + 2 * rsz;
	struct ms_xmr *lmr = lreg(c, src, 2 * rsz);
	struct op ops[256];
	uint64_t r0, w0, r1, w1;

	memcpy(model, B, rsz);
	fill(src, rsz, 99);
	T->srv_mr_stats(t->s, mB, &r0, &w0);
	for (size_t i = 0; i < 256; i++) {
		uint32_t len = (uint32_t)(1 + (i * 7919) % slot);

		ops[i] = (struct op){ MS_XOP_WRITE, i * slot, len, src + i * slot };
		memcpy(model + i * slot, src + i * slot, len);
		total += len;
	}
	is_int(run_ops(c, lmr, &dB, ops, 256), 0, "%s: 256 pipelined writes complete", what);
	ok(memcmp(B, model, rsz) == 0, "%s: the writes landed, nothing else changed", what);
	T->srv_mr_stats(t->s, mB, &r1, &w1);
	if (HAS(XC_SRV_COUNTS)) {
		is_int(w1 - w0, total, "%s: bytes_written counts the written bytes", what);
		is_int(r1 - r0, 0, "%s: bytes_read unchanged by writes", what);
	} else {
		ok(r1 == 0 && w1 == 0,
		   "%s: srv_mr_stats reports 0 (the server sees no one-sided I/O)", what);
	}

	/* outside the descriptor: refused before the wire, memory untouched */
	memcpy(snap, B, rsz);
	is_int(io1(c, MS_XOP_WRITE, src, lmr, 100, &dB, rsz - 50), -ERANGE,
	       "%s: write past the end: -ERANGE", what);
	is_int(io1(c, MS_XOP_WRITE, src, lmr, 1, &dB, rsz), -ERANGE, "%s: write at the end: -ERANGE",
	       what);
	is_int(io1(c, MS_XOP_WRITE, src, lmr, 16, &dB, UINT64_MAX - 8), -ERANGE,
	       "%s: write at an offset that overflows: -ERANGE", what);
	ok(memcmp(snap, B, rsz) == 0, "%s: region unchanged by refused writes", what);
	is_int(io1(c, MS_XOP_READ, snap, lmr, 100, &dB, rsz - 50), -ERANGE,
	       "%s: read past the end: -ERANGE", what);
	is_int(io1(c, MS_XOP_READ, snap, lmr, 0, &dB, rsz), 0, "%s: empty read at the end is fine",
	       what);
	is_int(io1(c, MS_XOP_READ, outside, lmr, 4096, &dB, 4096), -EINVAL,
	       "%s: read into memory outside the local registration: -EINVAL", what);
	is_int(io1(c, MS_XOP_READ, snap, lmr, 4096, &dB, 4096), 0,
	       "%s: connection fine after refusals", what);
	ok(memcmp(snap, B + 4096, 4096) == 0, "%s: and reads the right bytes", what);
	tc_args(c, outside - 8192, what);
	T->close(c);
	tc_grants(t, src, snap, what);
	free(model);
	free(src);
}

static void on_note(void *ud, const void *msg, size_t len)
{
	snprintf(ud, 64, "%.*s", (int)len, (const char *)msg);
}

static void tc_ctrl(struct tsrv *t, const char *what)
{
	char note[64] = "";
	struct ms_xopts o = { .on_notify = on_note, .notify_ud = note };
	struct ms_xconn *c = cli_opts(t, &o);
	char *big = malloc(MS_CTRL_MAX), *resp = malloc(MS_CTRL_MAX);
	struct ms_xmr *lmr = lreg(c, big, MS_CTRL_MAX);
	struct ms_xwr w[16];
	struct ms_xwc wc[16];
	size_t rlen = 0;
	int got = 0;

	is_int(T->call(c, "hello", 5, resp, 64, &rlen, 5000), 0, "%s: control call", what);
	ok(rlen == 5 && !memcmp(resp, "hello", 5), "%s: echoed", what);
	is_int(T->call(c, NULL, 0, resp, 64, &rlen, 5000), 0, "%s: empty control call", what);
	is_int(rlen, 0, "%s: empty reply", what);
	fill(big, MS_CTRL_MAX, 3);
	is_int(T->call(c, big, MS_CTRL_MAX, resp, MS_CTRL_MAX, &rlen, 10000), 0,
	       "%s: control call of MS_CTRL_MAX bytes", what);
	ok(rlen == MS_CTRL_MAX && !memcmp(resp, big, MS_CTRL_MAX), "%s: echoed in full", what);
	is_int(T->call(c, big, MS_CTRL_MAX + 1, resp, MS_CTRL_MAX, &rlen, 5000), -EMSGSIZE,
	       "%s: request over MS_CTRL_MAX refused", what);
	is_int(T->call(c, "big", 3, resp, 100, &rlen, 10000), -EMSGSIZE,
	       "%s: reply larger than cap: -EMSGSIZE", what);
	is_int(T->call(c, "again", 5, resp, 64, &rlen, 5000), 0, "%s: connection fine afterwards",
	       what);

	/* data in flight around a call: completions kept for poll() */
	for (int i = 0; i < 16; i++)
		w[i] = (struct ms_xwr){ .op = MS_XOP_READ, .local = big + i * 65536, .lmr = lmr,
					.len = 65536, .remote = &dA, .roff = (uint64_t)i * 65536 };
	is_int(T->post(c, w, 16), 0, "%s: 16 reads posted", what);
	is_int(T->call(c, "mid", 3, resp, 64, &rlen, 5000), 0, "%s: call with 16 reads in flight",
	       what);
	is_int(T->outstanding(c), 16, "%s: reads still counted as outstanding", what);
	while (got < 16) {
		int k = T->poll(c, wc, 16, 5000);

		if (k <= 0)
			break;
		for (int i = 0; i < k; i++)
			got += wc[i].status == 0;
	}
	is_int(got, 16, "%s: their completions come from poll()", what);
	ok(memcmp(big, A, 16 * 65536) == 0, "%s: with the right bytes", what);

	is_int(T->call(c, "notify:ping", 11, resp, 64, &rlen, 5000), 0, "%s: call that notifies",
	       what);
	is_str(note, "ping", "%s: notification delivered during the call", what);
	is_int(T->srv_notify(t->s, (struct ms_xpeer *)note, "x", 1), -EINVAL,
	       "%s: srv_notify outside the loop thread refused", what);

	is_int(T->call(c, "fail", 4, resp, 64, &rlen, 5000), -ECONNRESET,
	       "%s: a request the server rejects closes the connection", what);
	usleep(100000);
	ok(log_has(t, "WARN", "control request rejected"), "%s: and is logged", what);
	is_int(T->post(c, w, 1), -ENOTCONN, "%s: post after that: -ENOTCONN", what);
	is_int(T->call(c, "x", 1, resp, 64, &rlen, 5000), -ECONNRESET, "%s: call: -ECONNRESET",
	       what);
	is_int(T->poll(c, wc, 1, 0), -ENOTCONN, "%s: poll: -ENOTCONN", what);
	T->close(c);
	free(big);
	free(resp);
}

struct mc {
	struct tsrv *t;
	int bad;
};

static void *many_client(void *arg)
{
	struct mc *m = arg;
	/* 12 handshakes at once can take a slow guest (rxe under TCG) past
	 * the default 30 s connect timeout: a generous bound here */
	struct ms_xconn *c = cli(m->t, 8, 256u << 10, 120000);
	char *dst = malloc(64 * 65536);
	struct ms_xmr *lmr = lreg(c, dst, 64 * 65536);
	struct op ops[64];

	for (int i = 0; i < 64; i++)
		ops[i] = (struct op){ MS_XOP_READ, (uint64_t)i * 65536, 65536, dst + i * 65536 };
	m->bad = run_ops(c, lmr, &dA, ops, 64) != 0 || memcmp(dst, A, 64 * 65536) != 0;
	T->close(c);
	free(dst);
	return NULL;
}

static void tc_many(struct tsrv *t, const char *what)
{
	pthread_t th[12];
	struct mc m[12];
	int bad = 0;

	for (int i = 0; i < 12; i++) {
		m[i] = (struct mc){ t, 0 };
		pthread_create(&th[i], NULL, many_client, &m[i]);
	}
	for (int i = 0; i < 12; i++) {
		pthread_join(th[i], NULL);
		bad += m[i].bad;
	}
	is_int(bad, 0, "%s: 12 clients at once, each reads 4 MiB correctly", what);
}

/* A client that goes away with reads in flight. */
static void tc_vanish(struct tsrv *t, const char *what)
{
	struct ms_xconn *c;
	char *dst = malloc(16u << 20), buf[64];
	struct ms_xmr *lmr;
	struct ms_xwc wc[16];
	int before, got;

	settle(t);
	before = __atomic_load_n(&t->disconnects, __ATOMIC_RELAXED);
	c = cli(t, 16, 1u << 20, 0);
	lmr = lreg(c, dst, 16u << 20);
	queue_reads(c, lmr, &dA, dst, wc, &got);        /* past the end of A: some fail */
	T->close(c);
	for (int i = 0; i < 100 && __atomic_load_n(&t->disconnects, __ATOMIC_RELAXED) == before;
	     i++)
		usleep(50000);
	usleep(100000);         /* a second on_disconnect would come now */
	is_int(__atomic_load_n(&t->disconnects, __ATOMIC_RELAXED), before + 1,
	       "%s: client gone with reads in flight: on_disconnect once", what);
	c = cli(t, 4, 0, 0);
	lmr = lreg(c, buf, sizeof(buf));
	is_int(io1(c, MS_XOP_READ, buf, lmr, 64, &dA, 0), 0, "%s: the server still serves", what);
	T->close(c);
	free(dst);
}

struct later_call {
	struct ms_xconn *c;
	int tmo, rc;
	bool done;                      /* __atomic */
	char resp[16];
	size_t rlen;
};

static void *later_main(void *arg)
{
	struct later_call *lc = arg;

	lc->rc = T->call(lc->c, "later", 5, lc->resp, sizeof(lc->resp), &lc->rlen, lc->tmo);
	__atomic_store_n(&lc->done, true, __ATOMIC_RELEASE);
	return NULL;
}

/* Wait (bounded) for the server to defer a "later" request. */
static struct ms_xpeer *later_peer(struct tsrv *t)
{
	struct ms_xpeer *p = NULL;

	for (int i = 0; i < 500 && !(p = __atomic_exchange_n(&t->later, NULL, __ATOMIC_ACQ_REL));
	     i++)
		usleep(10000);
	return p;
}

/* A reply the engine gives later (MS_XCTRL_LATER, srv_reply): other peers
 * are served meanwhile; a peer that goes while its reply is owed gets
 * on_disconnect once, after the reply. */
static void tc_later(struct tsrv *t, const char *what)
{
	struct later_call lc = { .tmo = 10000 };
	struct ms_xconn *c2;
	struct ms_xpeer *peer;
	struct ms_xmr *lmr;
	char buf[64], resp[16];
	size_t rlen = 0;
	pthread_t th;
	int before;

	settle(t);
	lc.c = cli(t, 4, 0, 0);
	c2 = cli(t, 4, 0, 0);
	lmr = lreg(c2, buf, sizeof(buf));
	pthread_create(&th, NULL, later_main, &lc);
	peer = later_peer(t);
	ok(peer != NULL, "%s: the server deferred a reply", what);
	if (!peer)
		tap_bail("no deferred request");
	is_int(T->call(c2, "echo", 4, resp, sizeof(resp), &rlen, 5000), 0,
	       "%s: another peer's call is answered meanwhile", what);
	ok(rlen == 4 && !memcmp(resp, "echo", 4), "%s: with its own reply", what);
	is_int(io1(c2, MS_XOP_READ, buf, lmr, 64, &dA, 0), 0, "%s: and its reads served", what);
	ok(!__atomic_load_n(&lc.done, __ATOMIC_ACQUIRE), "%s: the deferred call still waits",
	   what);
	is_int(T->srv_reply(t->s, peer, "done", 4), 0, "%s: srv_reply from another thread", what);
	pthread_join(th, NULL);
	is_int(lc.rc, 0, "%s: the deferred call returns", what);
	ok(lc.rlen == 4 && !memcmp(lc.resp, "done", 4), "%s: with the deferred reply", what);
	is_int(T->call(lc.c, "next", 4, resp, sizeof(resp), &rlen, 5000), 0,
	       "%s: the same peer's next call is served", what);
	ok(rlen == 4 && !memcmp(resp, "next", 4), "%s: in order", what);

	/* the caller vanishes while its reply is owed */
	before = __atomic_load_n(&t->disconnects, __ATOMIC_RELAXED);
	lc.tmo = 300;
	later_main(&lc);
	is_int(lc.rc, -ETIMEDOUT, "%s: a deferred call can time out", what);
	peer = later_peer(t);
	ok(peer != NULL, "%s: (deferred again)", what);
	T->close(lc.c);
	usleep(300000);
	is_int(__atomic_load_n(&t->disconnects, __ATOMIC_RELAXED), before,
	       "%s: a peer gone with a reply owed: no on_disconnect yet", what);
	is_int(io1(c2, MS_XOP_READ, buf, lmr, 64, &dA, 0), 0, "%s: others still served", what);
	if (peer)
		is_int(T->srv_reply(t->s, peer, "late", 4), 0, "%s: the late reply is taken",
		       what);
	for (int i = 0; i < 100 && __atomic_load_n(&t->disconnects, __ATOMIC_RELAXED) == before;
	     i++)
		usleep(20000);
	usleep(100000);         /* a second on_disconnect would come now */
	is_int(__atomic_load_n(&t->disconnects, __ATOMIC_RELAXED), before + 1,
	       "%s: on_disconnect once, after the reply", what);
	T->close(c2);
}

static void tc_errors(struct tsrv *t, const char *what)
{
	struct ms_xsrv *s2 = NULL;
	struct ms_xconn *c = NULL;
	struct ms_xopts o = { 0 };
	char err[256] = "";

	is_int(T->listen(X.srv_addr, t->port, NULL, &s2, err, sizeof(err)), -EADDRINUSE,
	       "%s: listen on a port in use: -EADDRINUSE", what);
	ok(strstr(err, "Address already in use") != NULL, "%s: message: %s", what, err);
	is_int(T->listen(X.srv_addr, "99999", NULL, &s2, err, sizeof(err)), -EINVAL,
	       "%s: listen on port 99999: -EINVAL", what);
	o.depth = 5000;
	is_int(T->connect(X.srv_addr, t->port, &o, &c, err, sizeof(err)), -EINVAL,
	       "%s: connect: depth too large", what);
	o.depth = 0;
	o.max_io = 32u << 20;
	is_int(T->connect(X.srv_addr, t->port, &o, &c, err, sizeof(err)), -EINVAL,
	       "%s: connect: max_io too large", what);
	is_int(T->connect("no-such-host.invalid", t->port, NULL, &c, err, sizeof(err)),
	       -EHOSTUNREACH, "%s: connect: unknown host", what);
	ok(strstr(err, "cannot resolve no-such-host.invalid") != NULL, "%s: message: %s", what,
	   err);
	is_int(T->connect(X.srv_addr, "1", NULL, &c, err, sizeof(err)), -ECONNREFUSED,
	       "%s: connect to a port nobody listens on: -ECONNREFUSED", what);
	ok(strstr(err, "refused") != NULL, "%s: message: %s", what, err);
}

/* The contract with one server: registrations, reads, writes, grants,
 * control, many clients, a vanishing client, errors. */
void xs_pass(const char *what)
{
	struct tsrv *t = srv_start();
	uint64_t t0 = ms_now_ns(), rd = 1, wr = 1;

	diag("---- %s: server %s:%s, client from %s", what, X.srv_addr, t->port,
	     X.cli_src ? X.cli_src : "(route)");
	ok(t->s->port != 0, "%s: listening on an ephemeral port (%s)", what, t->port);
	ok(t->s->ops == T, "%s: server head points at the ops", what);
	A = map(X.rsz, 1);
	B = map(X.rsz, 2);
	if (T->srv_reg_mr(t->s, A, X.rsz, MS_XACCESS_READ, &mA, &dA) ||
	    T->srv_reg_mr(t->s, B, X.rsz, MS_XACCESS_READ | MS_XACCESS_WRITE, &mB, &dB))
		tap_bail("reg_mr of the shared regions failed");
	tc_reg(t, what);
	tc_reads(t, 1u << 20, what);
	if (X.big_io)
		tc_reads(t, X.big_io, what);
	tc_writes(t, what);
	tc_ctrl(t, what);
	tc_many(t, what);
	if (X.extra)
		X.extra(t, what);
	if (T->srv_grant)
		tc_xgrants(t, what);
	tc_vanish(t, what);
	tc_later(t, what);
	tc_errors(t, what);
	T->srv_mr_stats(t->s, mA, &rd, &wr);
	if (HAS(XC_SRV_COUNTS))
		ok(rd > 0 && wr == 0, "%s: stats of the read-only region: %llu read, %llu written",
		   what, (unsigned long long)rd, (unsigned long long)wr);
	T->srv_dereg_mr(t->s, mA);
	T->srv_dereg_mr(t->s, mB);
	srv_stop_join(t);
	is_int(t->run_rc, 0, "%s: srv_run returned 0", what);
	is_int(t->connects, t->disconnects, "%s: on_disconnect once per accepted peer (%d)", what,
	       t->connects);
	if (X.after_stop)
		X.after_stop(t, what);
	srv_free(t);
	munmap(A, X.rsz);
	munmap(B, X.rsz);
	diag("%s took %.1f s", what, (double)(ms_now_ns() - t0) / 1e9);
}

/* ------------------------------------------------------------ lifecycle */

/* srv_stop with reads in flight: everything completes, nothing hangs. */
static void tc_stop_inflight(void)
{
	struct tsrv *t = srv_start();
	size_t sz = 16u << 20;
	char *E = map(sz, 8), *dst = calloc(1, sz);
	struct ms_xconn *c = cli(t, 16, 1u << 20, 0);
	struct ms_xmr *lmr = lreg(c, dst, sz);
	struct ms_xwr w;
	struct ms_xwc wc[16];
	struct ms_xsmr *m;
	struct ms_rdesc d;
	int got, k, good = 0, flushed = 0;

	T->srv_reg_mr(t->s, E, sz, MS_XACCESS_READ, &m, &d);
	is_int(queue_reads(c, lmr, &d, dst, wc, &got), 0, "stop: 16 reads of 1 MiB posted");
	T->srv_stop(t->s);
	while (got < 16 && (k = T->poll(c, wc + got, 16 - got, 15000)) > 0)
		got += k;
	for (int i = 0; i < got; i++) {
		size_t at = (uintptr_t)wc[i].ctx << 20;

		if (wc[i].status == 0)
			good += memcmp(dst + at, E + at, 1u << 20) == 0;
		else
			flushed += wc[i].status == -ECONNRESET;
	}
	is_int(got, 16, "stop with reads in flight: all 16 complete (%d with data, %d flushed)",
	       good, flushed);
	if (HAS(XC_STOP_FINISHES))
		is_int(good, 16, "they are finished first, with their data");
	else
		is_int(good + flushed, 16,
		       "each either read the right bytes or failed -ECONNRESET");
	is_int(T->poll(c, wc, 16, 5000), -ENOTCONN, "then poll: -ENOTCONN");
	w = (struct ms_xwr){ .op = MS_XOP_READ, .local = dst, .lmr = lmr, .len = 8, .remote = &d };
	is_int(T->post(c, &w, 1), -ENOTCONN, "and post: -ENOTCONN");
	is_int(T->call(c, "x", 1, dst, 64, NULL, 5000), -ECONNRESET, "and call: -ECONNRESET");
	pthread_join(t->th, NULL);
	is_int(t->run_rc, 0, "srv_run returned 0");
	is_int(t->connects, t->disconnects, "on_disconnect once per peer");
	is_int(T->srv_run(t->s), -EINVAL, "srv_run after a stop: -EINVAL");
	T->srv_dereg_mr(t->s, m);
	T->close(c);
	srv_free(t);
	munmap(E, sz);
	free(dst);
}

static void tc_refuse(void)
{
	struct tsrv *t = srv_start();
	struct ms_xconn *c;
	char buf[8];

	t->refuse = 1;
	c = cli(t, 4, 0, 0);
	is_int(T->call(c, "hi", 2, buf, sizeof(buf), NULL, 5000), -ECONNRESET,
	       "a peer refused by on_connect is closed");
	T->close(c);
	srv_stop_join(t);
	is_int(t->disconnects, 0, "and gets no on_disconnect");
	srv_free(t);
}

static void tc_stop_before_run(void)
{
	struct ms_xsrv *s;
	char err[256];

	if (T->listen(X.srv_addr, "0", NULL, &s, err, sizeof(err)))
		tap_bail("listen: %s", err);
	T->srv_stop(s);
	is_int(T->srv_run(s), 0, "srv_stop before srv_run: run returns at once");
	T->srv_close(s);
}

void xs_lifecycle(void)
{
	tc_stop_inflight();
	tc_refuse();
	tc_stop_before_run();
}

/* Per-peer grants. */
#include "tgrant.c"

/* The transport's own file: X, its checks, main(). */
#include TEST_TRANSPORT
