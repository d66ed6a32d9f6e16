/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_rdma.c - the RDMA transport end to end on real soft-RoCE devices
 * (run it through tests/rxe/run-tests): a server thread running srv_run(),
 * clients through ms_rdma_ops, then libmemsync itself over RDMA.
 *
 * Pass 1 puts server and client on one device ($MS_RXE_ADDR); pass 2 puts
 * the server on $MS_RXE_B_ADDR and binds the client to $MS_RXE_A_ADDR, so
 * the packets cross a veth between two devices.  On a host without an
 * RDMA device the whole test is skipped.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <endian.h>
#include <errno.h>
#include <netdb.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <infiniband/verbs.h>
#include <rdma/rdma_cma.h>

#include "memsync.h"
#include "proto.h"
#include "rdma.h"
#include "tap.h"
#include "transport.h"
#include "util.h"

static const struct ms_transport_ops *T = &ms_rdma_ops;
static const char *SRV_ADDR, *CLI_SRC;  /* the pass being run */

#include "tsrv.h"

/* ------------------------------------------------------------ clients */

static struct ms_xconn *cli(struct tsrv *t, unsigned depth, uint32_t max_io, int tmo)
{
	struct ms_xopts o = { .depth = depth, .max_io = max_io, .timeout_ms = tmo };
	struct ms_xconn *c = NULL;
	char err[256];

	if (ms_rdma_connect_from(CLI_SRC, SRV_ADDR, t->port, &o, &c, err, sizeof(err)))
		tap_bail("connect: %s", err);
	return c;
}

/* A local registration of a whole buffer, remembered per connection by
 * the transport (close frees it). */
static struct ms_xmr *lreg(struct ms_xconn *c, void *p, size_t len)
{
	struct ms_xmr *m;

	if (T->reg_mr(c, p, len, &m))
		tap_bail("reg_mr failed");
	return m;
}

/* ------------------------------------------------------------ cases */

#define RSZ (16u << 20)

static char *A, *B;                     /* READ-only and READ|WRITE regions */
static struct ms_xsmr *mA, *mB;
static struct ms_rdesc dA, dB;

static void test_reg(struct tsrv *t)
{
	struct ms_xsmr *m[16], *x;
	struct ms_rdesc d[16], dd;
	int dup = 0;

	is_int(T->srv_reg_mr(t->s, NULL, 4096, MS_XACCESS_READ, &x, &dd), -EINVAL,
	       "reg_mr: NULL address refused");
	is_int(T->srv_reg_mr(t->s, A, 0, MS_XACCESS_READ, &x, &dd), -EINVAL,
	       "reg_mr: empty range refused");
	is_int(T->srv_reg_mr(t->s, A, 4096, 0, &x, &dd), -EINVAL, "reg_mr: no access refused");
	is_int(T->srv_reg_mr(t->s, A, 4096, 4, &x, &dd), -EINVAL, "reg_mr: unknown access bit");
	for (int i = 0; i < 16; i++)
		if (T->srv_reg_mr(t->s, A, 4096, MS_XACCESS_READ, &m[i], &d[i]))
			tap_bail("reg_mr failed");
	for (int i = 0; i < 16; i++)
		for (int j = 0; j < i; j++)
			dup += d[i].rkey == d[j].rkey;
	ok(!dup, "16 registrations get distinct rkeys");
	ok(d[0].len == 4096 && d[0].addr == (uintptr_t)A, "desc carries address and length");
	for (int i = 0; i < 16; i++)
		T->srv_dereg_mr(t->s, m[i]);
}

static void test_reads(struct tsrv *t, uint32_t max_io, const char *what)
{
	static const uint32_t sizes[] = { 1, 2, 7, 100, 4095, 4096, 4097, 65536, 100000,
					  (1u << 20) - 1, 1u << 20 };
	struct ms_xconn *c = cli(t, 16, max_io, 0);
	char *dst = calloc(1, RSZ);
	struct ms_xmr *lmr = lreg(c, dst, RSZ);
	size_t n = 300, wrong = 0;
	struct op *ops = calloc(n + 1, sizeof(*ops));
	unsigned seed = 7;
	int bad;

	for (size_t i = 0; i < n; i++) {
		uint32_t len = sizes[i % MS_ARRAY_SIZE(sizes)];
		uint64_t off = (uint64_t)rand_r(&seed) % (RSZ - len + 1);

		ops[i] = (struct op){ MS_XOP_READ, off, len, dst + off };
	}
	ops[0].roff = 0, ops[0].local = dst;
	ops[1].roff = RSZ - 2, ops[1].local = dst + RSZ - 2;
	/* one of max_io: what was asked for, within the device's max_msg_sz */
	ok(c->max_io <= max_io && c->max_io >= (1u << 20), "%s: max_io %u for %u requested",
	   what, c->max_io, max_io);
	ops[n] = (struct op){ MS_XOP_READ, 0, c->max_io, dst };
	n++;
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

static void test_writes(struct tsrv *t, const char *what)
{
	struct ms_xconn *c = cli(t, 16, 1u << 20, 0);
	char *model = malloc(RSZ), *src = malloc(RSZ), *snap = malloc(RSZ);
	struct ms_xmr *lmr = lreg(c, src, RSZ);
	struct op ops[256];
	size_t slot = RSZ / 256;
	uint64_t rd = 1, wr = 1;

	memcpy(model, B, RSZ);
	fill(src, RSZ, 99);
	for (size_t i = 0; i < 256; i++) {
		uint32_t len = (uint32_t)(1 + (i * 7919) % slot);

		ops[i] = (struct op){ MS_XOP_WRITE, i * slot, len, src + i * slot };
		memcpy(model + i * slot, src + i * slot, len);
	}
	is_int(run_ops(c, lmr, &dB, ops, 256), 0, "%s: 256 pipelined writes complete", what);
	ok(memcmp(B, model, RSZ) == 0, "%s: the writes landed, nothing else changed", what);
	T->srv_mr_stats(t->s, mB, &rd, &wr);
	ok(rd == 0 && wr == 0, "%s: srv_mr_stats reports 0 (the server sees no one-sided I/O)",
	   what);

	/* outside the descriptor: refused locally, the connection lives on */
	memcpy(snap, B, RSZ);
	is_int(io1(c, MS_XOP_WRITE, src, lmr, 100, &dB, RSZ - 50), -ERANGE,
	       "%s: write past the end: -ERANGE", what);
	is_int(io1(c, MS_XOP_WRITE, src, lmr, 16, &dB, UINT64_MAX - 8), -ERANGE,
	       "%s: write at an offset that overflows: -ERANGE", what);
	ok(memcmp(snap, B, RSZ) == 0, "%s: region unchanged by refused writes", what);
	is_int(io1(c, MS_XOP_READ, snap, lmr, 4096, &dB, 4096), -EINVAL,
	       "%s: read into memory outside the local registration: -EINVAL", what);
	is_int(io1(c, MS_XOP_READ, src, lmr, 4096, &dB, 4096), 0,
	       "%s: connection fine after local refusals", what);
	ok(memcmp(src, B + 4096, 4096) == 0, "%s: and reads the right bytes", what);

	/* client-side argument checks */
	{
		struct ms_xwr w = { .op = 9, .local = src, .len = 10, .lmr = lmr, .remote = &dA };
		struct ms_xwr many[17];

		is_int(T->post(c, &w, 1), -EINVAL, "%s: post: unknown op", what);
		w.op = MS_XOP_READ;
		w.len = (1u << 20) + 1;
		is_int(T->post(c, &w, 1), -EINVAL, "%s: post: over max_io", what);
		w.len = 10;
		w.lmr = NULL;
		is_int(T->post(c, &w, 1), -EINVAL, "%s: post: no local registration", what);
		w.lmr = lmr;
		w.local = src + RSZ - 5;
		is_int(T->post(c, &w, 1), -EINVAL, "%s: post: local outside its registration",
		       what);
		w.local = src;
		for (int i = 0; i < 17; i++)
			many[i] = w;
		is_int(T->post(c, many, 17), -EINVAL, "%s: post: more than depth at once", what);
		is_int(T->post(c, many, 10), 0, "%s: post 10", what);
		is_int(T->post(c, many, 7), -EAGAIN, "%s: post 7 more: -EAGAIN", what);
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
	}

	/* the NIC refuses a WRITE with the read-only rkey; the QP is dead then */
	memcpy(snap, A, RSZ);
	is_int(io1(c, MS_XOP_WRITE, src, lmr, 65536, &dA, 0), -EACCES,
	       "%s: write with the read-only rkey: -EACCES", what);
	ok(memcmp(snap, A, RSZ) == 0, "%s: read-only region unchanged", what);
	is_int(io1(c, MS_XOP_READ, src, lmr, 10, &dA, 0), -ENOTCONN,
	       "%s: a remote access error ends the connection (post: -ENOTCONN)", what);
	T->close(c);

	/* revocation */
	c = cli(t, 4, 0, 0);
	lmr = lreg(c, src, RSZ);
	{
		struct ms_xsmr *m;
		struct ms_rdesc d;

		T->srv_reg_mr(t->s, B, RSZ, MS_XACCESS_READ | MS_XACCESS_WRITE, &m, &d);
		is_int(io1(c, MS_XOP_WRITE, src, lmr, 10, &d, 0), 0,
		       "%s: write with a fresh key works", what);
		T->srv_dereg_mr(t->s, m);
		memcpy(snap, B, RSZ);
		is_int(io1(c, MS_XOP_WRITE, src + 100, lmr, 4096, &d, 0), -EACCES,
		       "%s: deregistered key: -EACCES", what);
		ok(memcmp(snap, B, RSZ) == 0, "%s: and nothing landed", what);
	}
	T->close(c);
	free(model);
	free(src);
	free(snap);
}

static void on_note(void *ud, const void *msg, size_t len)
{
	snprintf(ud, 64, "%.*s", (int)len, (const char *)msg);
}

static void test_ctrl(struct tsrv *t)
{
	char note[64] = "";
	struct ms_xopts o = { .on_notify = on_note, .notify_ud = note };
	struct ms_xconn *c;
	char *big = malloc(MS_CTRL_MAX), *resp = malloc(MS_CTRL_MAX), err[256];
	struct ms_xmr *lmr;
	struct ms_xwr w[16];
	struct ms_xwc wc[16];
	size_t rlen = 0;
	int got = 0;

	if (ms_rdma_connect_from(CLI_SRC, SRV_ADDR, t->port, &o, &c, err, sizeof(err)))
		tap_bail("connect: %s", err);
	is_int(T->call(c, "hello", 5, resp, 64, &rlen, 5000), 0, "control call");
	ok(rlen == 5 && !memcmp(resp, "hello", 5), "echoed");
	is_int(T->call(c, NULL, 0, resp, 64, &rlen, 5000), 0, "empty control call");
	is_int(rlen, 0, "empty reply");
	fill(big, MS_CTRL_MAX, 3);
	is_int(T->call(c, big, MS_CTRL_MAX, resp, MS_CTRL_MAX, &rlen, 10000), 0,
	       "control call of MS_CTRL_MAX bytes");
	ok(rlen == MS_CTRL_MAX && !memcmp(resp, big, MS_CTRL_MAX), "echoed in full");
	is_int(T->call(c, big, MS_CTRL_MAX + 1, resp, MS_CTRL_MAX, &rlen, 5000), -EMSGSIZE,
	       "request over MS_CTRL_MAX refused");
	is_int(T->call(c, "big", 3, resp, 100, &rlen, 10000), -EMSGSIZE,
	       "reply larger than cap: -EMSGSIZE");
	is_int(T->call(c, "again", 5, resp, 64, &rlen, 5000), 0, "connection fine afterwards");
	is_int(T->call(c, "notify:ping", 11, resp, 64, &rlen, 5000), 0, "call that notifies");
	is_str(note, "ping", "notification delivered during the call");

	lmr = lreg(c, big, MS_CTRL_MAX);
	for (int i = 0; i < 16; i++)
		w[i] = (struct ms_xwr){ .op = MS_XOP_READ, .local = big + i * 65536, .lmr = lmr,
					.len = 65536, .remote = &dA, .roff = (uint64_t)i * 65536 };
	T->post(c, w, 16);
	is_int(T->call(c, "mid", 3, resp, 64, &rlen, 5000), 0, "call with 16 reads in flight");
	while (got < 16) {
		int k = T->poll(c, wc, 16, 5000);

		if (k <= 0)
			break;
		for (int i = 0; i < k; i++)
			got += wc[i].status == 0;
	}
	is_int(got, 16, "their completions come from poll()");
	ok(memcmp(big, A, MS_CTRL_MAX) == 0, "with the right bytes");
	is_int(T->call(c, "fail", 4, resp, 64, &rlen, 5000), -ECONNRESET,
	       "a request the server rejects closes the connection");
	T->close(c);
	free(big);
	free(resp);
}

/* Private data that is not memsync's: rejected, nothing else happens. */
static void test_bad_private_data(struct tsrv *t)
{
	struct rdma_event_channel *ch = rdma_create_event_channel();
	struct rdma_cm_id *id = NULL;
	struct rdma_cm_event *ev;
	struct addrinfo *ai = NULL;
	uint32_t junk[2] = { 0x12345678, 1 };
	struct rdma_conn_param cp = { .private_data = junk, .private_data_len = sizeof(junk),
				      .qp_num = 1 };
	int got = -1, step = 0;

	if (!ch || rdma_create_id(ch, &id, NULL, RDMA_PS_TCP) ||
	    getaddrinfo(SRV_ADDR, t->port, NULL, &ai))
		tap_bail("raw rdma_cm set-up");
	if (rdma_resolve_addr(id, NULL, ai->ai_addr, 5000) == 0 &&
	    rdma_get_cm_event(ch, &ev) == 0) {
		step = ev->event == RDMA_CM_EVENT_ADDR_RESOLVED;
		rdma_ack_cm_event(ev);
	}
	if (step && rdma_resolve_route(id, 5000) == 0 && rdma_get_cm_event(ch, &ev) == 0) {
		step = ev->event == RDMA_CM_EVENT_ROUTE_RESOLVED;
		rdma_ack_cm_event(ev);
	}
	if (step && rdma_connect(id, &cp) == 0 && rdma_get_cm_event(ch, &ev) == 0) {
		got = ev->event;
		rdma_ack_cm_event(ev);
	}
	is_int(got, RDMA_CM_EVENT_REJECTED, "bad private data: the connection is rejected");
	usleep(100000);
	ok(log_has(t, "not a memsync client", "rejected"), "and the server says why");
	freeaddrinfo(ai);
	rdma_destroy_id(id);
	rdma_destroy_event_channel(ch);
}

/* A client that goes away with reads in flight. */
static void test_vanish(struct tsrv *t)
{
	struct ms_xconn *c;
	char *dst = malloc(RSZ), buf[64];
	struct ms_xmr *lmr;
	struct ms_xwr w[4];
	int before;

	settle(t);
	before = __atomic_load_n(&t->disconnects, __ATOMIC_RELAXED);
	c = cli(t, 16, 1u << 20, 0);
	lmr = lreg(c, dst, RSZ);

	for (int i = 0; i < 4; i++)
		w[i] = (struct ms_xwr){ .op = MS_XOP_READ, .local = dst + (i << 20), .lmr = lmr,
					.len = 1u << 20, .remote = &dA, .roff = (uint64_t)i << 20 };
	T->post(c, w, 4);
	T->close(c);
	for (int i = 0; i < 100 && __atomic_load_n(&t->disconnects, __ATOMIC_RELAXED) == before;
	     i++)
		usleep(50000);
	is_int(__atomic_load_n(&t->disconnects, __ATOMIC_RELAXED), before + 1,
	       "client gone with reads in flight: on_disconnect once");
	c = cli(t, 4, 0, 0);
	lmr = lreg(c, buf, sizeof(buf));
	is_int(io1(c, MS_XOP_READ, buf, lmr, 64, &dA, 0), 0, "the server still serves");
	T->close(c);
	free(dst);
}

static void test_errors(struct tsrv *t)
{
	struct ms_xsrv *s2 = NULL;
	struct ms_xconn *c = NULL;
	struct ms_xopts o = { 0 };
	char err[256] = "";

	is_int(T->listen(SRV_ADDR, t->port, NULL, &s2, err, sizeof(err)), -EADDRINUSE,
	       "listen on a port in use: -EADDRINUSE");
	ok(strstr(err, "Address already in use") != NULL, "message: %s", err);
	is_int(T->listen("127.0.0.1", "0", NULL, &s2, err, sizeof(err)), -ENODEV,
	       "listen on an address without an RDMA device: -ENODEV");
	o.depth = 5000;
	is_int(T->connect(SRV_ADDR, t->port, &o, &c, err, sizeof(err)), -EINVAL,
	       "connect: depth too large");
	o.depth = 0;
	o.max_io = 32u << 20;
	is_int(T->connect(SRV_ADDR, t->port, &o, &c, err, sizeof(err)), -EINVAL,
	       "connect: max_io too large");
	is_int(T->connect("no-such-host.invalid", t->port, NULL, &c, err, sizeof(err)),
	       -EHOSTUNREACH, "connect: unknown host");
	is_int(T->connect(SRV_ADDR, "1", NULL, &c, err, sizeof(err)), -ECONNREFUSED,
	       "connect to a port nobody listens on: -ECONNREFUSED");
	ok(strstr(err, "refused") != NULL, "message: %s", err);
}

/* srv_stop with reads in flight: everything completes, nothing hangs. */
static void test_stop_inflight(void)
{
	struct tsrv *t = srv_start();
	size_t sz = 16u << 20;
	char *E = map(sz, 8), *dst = calloc(1, sz);
	struct ms_xconn *c = cli(t, 16, 1u << 20, 0);
	struct ms_xmr *lmr = lreg(c, dst, sz);
	struct ms_xwr w[16];
	struct ms_xwc wc[16];
	struct ms_xsmr *m;
	struct ms_rdesc d;
	int got = 0, good = 0, flushed = 0, k;
	uint64_t t0;
	long ms;

	T->srv_reg_mr(t->s, E, sz, MS_XACCESS_READ, &m, &d);
	for (int i = 0; i < 16; i++)
		w[i] = (struct ms_xwr){ .op = MS_XOP_READ, .local = dst + ((size_t)i << 20),
					.lmr = lmr, .len = 1u << 20, .remote = &d,
					.roff = (uint64_t)i << 20, .ctx = (void *)(uintptr_t)i };
	is_int(T->post(c, w, 16), 0, "stop: 16 reads of 1 MiB posted");
	t0 = ms_now_ns();
	T->srv_stop(t->s);
	while (got < 16 && (k = T->poll(c, wc, 16, 15000)) > 0) {
		for (int i = 0; i < k; i++) {
			size_t at = (uintptr_t)wc[i].ctx << 20;

			got++;
			if (wc[i].status == 0)
				good += memcmp(dst + at, E + at, 1u << 20) == 0;
			else
				flushed += wc[i].status == -ECONNRESET;
		}
	}
	ms = (long)((ms_now_ns() - t0) / 1000000);
	is_int(got, 16, "stop with reads in flight: all 16 complete (%d with data, %d flushed, "
	       "%ld ms)", good, flushed, ms);
	is_int(good + flushed, 16, "each either read the right bytes or failed -ECONNRESET");
	is_int(T->poll(c, wc, 16, 5000), -ENOTCONN, "then poll: -ENOTCONN");
	is_int(T->post(c, w, 1), -ENOTCONN, "and post: -ENOTCONN");
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

static void test_stop_before_run(void)
{
	struct ms_xsrv *s;
	char err[256];

	if (T->listen(SRV_ADDR, "0", NULL, &s, err, sizeof(err)))
		tap_bail("listen: %s", err);
	T->srv_stop(s);
	is_int(T->srv_run(s), 0, "srv_stop before srv_run: run returns at once");
	T->srv_close(s);
}

static void transport_pass(const char *what)
{
	struct tsrv *t = srv_start();
	uint64_t t0 = ms_now_ns();

	diag("---- transport, %s: server %s:%s, client from %s", what, SRV_ADDR, t->port,
	     CLI_SRC ? CLI_SRC : "(route)");
	A = map(RSZ, 1);
	B = map(RSZ, 2);
	T->srv_reg_mr(t->s, A, RSZ, MS_XACCESS_READ, &mA, &dA);
	T->srv_reg_mr(t->s, B, RSZ, MS_XACCESS_READ | MS_XACCESS_WRITE, &mB, &dB);
	ok(log_has(t, "rdma: listening on", "placement: NUMA node"),
	   "%s: the listener logs its device and NUMA placement", what);
	test_reg(t);
	test_reads(t, 1u << 20, what);
	test_reads(t, 16u << 20, what);
	test_writes(t, what);
	test_ctrl(t);
	test_bad_private_data(t);
	test_vanish(t);
	test_errors(t);
	T->srv_dereg_mr(t->s, mA);
	T->srv_dereg_mr(t->s, mB);
	srv_stop_join(t);
	is_int(t->run_rc, 0, "%s: srv_run returned 0", what);
	is_int(t->connects, t->disconnects, "%s: on_disconnect once per accepted peer (%d)", what,
	       t->connects);
	ok(log_has(t, "rdma: server loop on NUMA node", ""), "%s: loop placement logged", what);
	srv_free(t);
	munmap(A, RSZ);
	munmap(B, RSZ);
	diag("%s took %.1f s", what, (double)(ms_now_ns() - t0) / 1e9);
}

/* ------------------------------------------------------------ engine */

#define MiB (1ull << 20)
#define CHUNK (64u << 10)

static void log_cb(void *ud, enum ms_log_level lvl, const char *msg)
{
	if (lvl <= MS_LOG_INFO)
		diag("server: %s", msg);
}

static ms_client *connect_to(ms_server *s, enum ms_transport_kind kind)
{
	struct ms_client_opts o = { .opts_size = sizeof(o), .transport = kind, .timeout_ms = 20000 };
	char port[8], err[256];
	ms_client *c;

	snprintf(port, sizeof(port), "%u", ms_server_port(s));
	c = ms_connect(SRV_ADDR, port, &o, err, sizeof(err));
	if (!c)
		diag("connect: %s", err);
	return c;
}

static void test_engine(void)
{
	struct ms_server_opts so = { .opts_size = sizeof(so), .host = SRV_ADDR, .port = "0",
				     .transport = MS_TRANSPORT_RDMA, .log = log_cb };
	const uint64_t size = 4 * MiB;
	struct ms_export_opts eo = { .opts_size = sizeof(eo), .name = "r1", .size = size, .chunk_size = CHUNK };
	struct ms_xfer_stats st;
	struct ms_region_info info;
	char err[256];
	uint8_t *local, *mem;
	ms_server *s;
	ms_export *e;
	ms_client *c, *c2;
	ms_region *r, *w;
	uint64_t t0;
	int ret;

	diag("---- engine over RDMA: server %s", SRV_ADDR);
	s = ms_server_create(&so, err, sizeof(err));
	if (!s)
		tap_bail("server: %s", err);
	is_str(ms_server_transport(s), "rdma", "engine: server transport is rdma");
	e = ms_server_add_region(s, &eo);
	if (!e)
		tap_bail("add region: %s", ms_server_errmsg(s));
	mem = ms_export_mem(e);
	fill((char *)mem, size, 5);
	ms_export_commit(e, 0, size);
	is_int(ms_server_start(s), 0, "engine: server started");

	c = connect_to(s, MS_TRANSPORT_AUTO);
	if (!c)
		tap_bail("cannot connect");
	is_str(ms_client_transport(c), "rdma", "engine: auto picks rdma for %s", SRV_ADDR);
	r = ms_open(c, "r1", MS_MODE_READ);
	ok(r != NULL, "engine: open r1 read-only");
	local = calloc(1, size);
	t0 = ms_now_ns();
	ret = ms_pull(r, 0, local, size, NULL, &st);
	is_int(ret, 0, "engine: pull of a 4 MiB region (%.1f ms)",
	       (double)(ms_now_ns() - t0) / 1e6);
	ok(memcmp(local, mem, size) == 0, "engine: pulled bytes equal the server's");
	ok(st.chunks_moved == size / CHUNK && st.bytes == size, "engine: %llu chunks verified",
	   (unsigned long long)st.chunks_moved);
	memset(local, 0, size);
	is_int(ms_pull(r, 1000, local, 200000, NULL, NULL), 0, "engine: unaligned pull");
	ok(memcmp(local, mem + 1000, 200000) == 0, "engine: unaligned bytes are right");
	mem[5 * CHUNK + 7] ^= 0xff;
	is_int(ms_pull(r, 0, local, size, NULL, NULL), -EIO,
	       "engine: an uncommitted change fails verification");
	ms_export_commit(e, 5 * CHUNK, 1);
	ok(ms_pull(r, 0, local, size, NULL, NULL) == 0 && memcmp(local, mem, size) == 0,
	   "engine: after the commit the change is served");

	ok(ms_write(r, 0, local, 4096, NULL, NULL) == -EACCES,
	   "engine: write on a read handle: -EACCES");
	w = ms_open(c, "r1", MS_MODE_WRITE);
	ok(w != NULL, "engine: open r1 for writing (lease)");
	c2 = connect_to(s, MS_TRANSPORT_RDMA);
	ok(c2 && ms_open(c2, "r1", MS_MODE_WRITE) == NULL && errno == EBUSY,
	   "engine: second writer: EBUSY");
	if (!w)
		tap_bail("no write handle: %s", ms_client_errmsg(c));
	ms_region_info(w, &info);
	for (int i = 0; i < 3; i++)
		local[(size_t)(i * 17 + 3) * CHUNK + 100] ^= 0x42;
	is_int(ms_push(w, 0, local, size, NULL, &st), 0, "engine: push");
	ok(st.chunks_moved == 3 && st.bytes == 3 * CHUNK, "engine: push moved 3 chunks (%llu B)",
	   (unsigned long long)st.bytes);
	ok(memcmp(local, mem, size) == 0, "engine: server holds the pushed bytes");
	{
		struct ms_region_info i2;

		ms_region_info(w, &i2);
		is_int(i2.generation, info.generation + 1, "engine: generation bumped once");
	}
	is_int(ms_push(w, 0, local, size, NULL, &st), 0, "engine: push again");
	ok(st.chunks_moved == 0, "engine: nothing differs: nothing moved");
	ms_close(w);
	w = c2 ? ms_open(c2, "r1", MS_MODE_WRITE) : NULL;
	ok(w != NULL, "engine: lease free after close");
	ms_close(w);
	ms_disconnect(c2);

	/* the raw transport with the read-only grant: the NIC refuses a WRITE */
	{
		struct ms_xopts xo = { .depth = 4, .max_io = 1 << 20, .timeout_ms = 5000 };
		struct ms_msg_hello h = { .version = MS_PROTO_VERSION, .agent = "test" };
		struct ms_msg_open om = { .name = "r1", .mode = MS_MODE_READ };
		struct ms_msg_open_ok ok_;
		static uint8_t req[4096], resp[4096];
		uint8_t *before = malloc(CHUNK), junk[4096];
		struct ms_xconn *x = NULL;
		struct ms_xmr *lmr;
		char port[8];
		size_t rlen;
		int rc;

		memcpy(before, mem, CHUNK);
		snprintf(port, sizeof(port), "%u", ms_server_port(s));
		if (T->connect(SRV_ADDR, port, &xo, &x, err, sizeof(err)))
			tap_bail("raw connect: %s", err);
		T->call(x, req, (size_t)ms_enc_hello(req, sizeof(req), &h), resp, sizeof(resp),
			&rlen, 5000);
		T->call(x, req, (size_t)ms_enc_open(req, sizeof(req), &om), resp, sizeof(resp),
			&rlen, 5000);
		ok(ms_dec_open_ok(resp, rlen, &ok_) == 0, "engine raw: read-only open");
		memset(junk, 0x5a, sizeof(junk));
		lmr = lreg(x, junk, sizeof(junk));
		rc = io1(x, MS_XOP_WRITE, junk, lmr, sizeof(junk), &ok_.data, 0);
		is_int(rc, -EACCES, "engine raw: the read-only key cannot write");
		ok(memcmp(before, mem, CHUNK) == 0, "engine raw: region unchanged");
		T->close(x);
		free(before);
	}

	/* the server goes away under a connected client: errors, no hang */
	ms_server_destroy(s);
	ret = ms_pull(r, 0, local, size, NULL, NULL);
	ok(ret < 0, "engine: pull after the server died fails (%d: %s)", ret,
	   ms_client_errmsg(c));
	ms_close(r);
	ms_disconnect(c);
	free(local);
}

static long counter(const char *dev, const char *name)
{
	char path[256];
	long v = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/sys/class/infiniband/%s/ports/1/hw_counters/%s", dev,
		 name);
	f = fopen(path, "re");
	if (f) {
		if (fscanf(f, "%ld", &v) != 1)
			v = -1;
		fclose(f);
	}
	return v;
}

int main(void)
{
	const char *addr = getenv("MS_RXE_ADDR"), *a = getenv("MS_RXE_A_ADDR");
	const char *b = getenv("MS_RXE_B_ADDR"), *bdev = getenv("MS_RXE_B_DEV");
	struct ibv_device **devs;
	char why[256];
	int ndev = 0;
	long r0, r1;

	devs = ibv_get_device_list(&ndev);
	if (devs)
		ibv_free_device_list(devs);
	if (!devs || ndev == 0)
		tap_skip_all("no RDMA device (run it through tests/rxe/run-tests)");
	if (!addr)
		tap_skip_all("MS_RXE_ADDR is not set (run it through tests/rxe/run-tests)");
	ok(ms_rdma_usable(addr, why, sizeof(why)) == 1, "rdma reaches %s: %s", addr, why);
	ok(ms_rdma_usable("127.0.0.1", why, sizeof(why)) == 0, "but not 127.0.0.1: %s", why);

	SRV_ADDR = addr;
	CLI_SRC = NULL;
	transport_pass("one device");
	test_stop_inflight();
	test_stop_before_run();
	test_engine();

	if (a && b) {
		SRV_ADDR = b;
		CLI_SRC = a;
		r0 = bdev ? counter(bdev, "rcvd_pkts") : -1;
		transport_pass("two devices");
		r1 = bdev ? counter(bdev, "rcvd_pkts") : -1;
		ok(r0 >= 0 && r1 - r0 > 1000, "%s received %ld packets during the pass",
		   bdev ? bdev : "(B device)", r1 - r0);
	} else {
		ok(0, "MS_RXE_A_ADDR / MS_RXE_B_ADDR not set: no two-device pass");
	}
	return tap_done();
}
