/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_tcp.c - the TCP fallback transport end to end on 127.0.0.1: a
 * server thread running srv_run(), clients through ms_tcp_ops, and raw
 * sockets that break the protocol on purpose.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include "frame.h"
#include "tap.h"
#include "tcp.h"
#include "tcp_sock.h"
#include "transport.h"
#include "util.h"

static const struct ms_transport_ops *T = &ms_tcp_ops;
static const char *SRV_ADDR = "127.0.0.1";

#include "tsrv.h"

/* ------------------------------------------------------------ clients */

static struct ms_xconn *cli(struct tsrv *t, unsigned depth, uint32_t max_io, int tmo)
{
	struct ms_xopts o = { .depth = depth, .max_io = max_io, .timeout_ms = tmo };
	struct ms_xconn *c = NULL;
	char err[256];
	int rc = T->connect("127.0.0.1", t->port, &o, &c, err, sizeof(err));

	if (rc)
		tap_bail("connect: %s", err);
	return c;
}

/* ------------------------------------------------------------ raw */

static int raw_connect(struct tsrv *t)
{
	char err[256];
	int fd = ms_sock_connect("127.0.0.1", t->port, 5000, 0, err, sizeof(err));

	if (fd < 0)
		tap_bail("raw connect: %s", err);
	return fd;
}

static int raw_send(int fd, const void *p, size_t len)
{
	struct iovec iov = { (void *)p, len };

	return ms_sock_sendv_all(fd, &iov, 1, 5000);
}

static int raw_send_frame(int fd, const struct ms_frame *f)
{
	uint8_t b[MS_FRAME_HDR];

	ms_frame_encode(f, b);
	return raw_send(fd, b, sizeof(b));
}

/* True when the server closes without sending a byte. */
static bool raw_closed(int fd)
{
	uint8_t b[MS_FRAME_HDR];
	size_t got = 0;
	int rc = ms_sock_recv_all(fd, b, sizeof(b), 5000, &got);

	return got == 0 && (rc == -ECONNRESET);
}


/* ------------------------------------------------------------ cases */

#define RSZ (4u << 20)

static char *A, *B;                     /* READ-only and READ|WRITE regions */
static struct ms_xsmr *mA, *mB;
static struct ms_rdesc dA, dB;

static void test_reg(struct tsrv *t)
{
	struct ms_xsmr *m[64];
	struct ms_rdesc d[64], dd;
	struct ms_xsmr *x;
	int dup = 0, zero = 0;

	is_int(T->srv_reg_mr(t->s, NULL, 4096, MS_XACCESS_READ, &x, &dd), -EINVAL,
	       "reg_mr: NULL address refused");
	is_int(T->srv_reg_mr(t->s, A, 0, MS_XACCESS_READ, &x, &dd), -EINVAL,
	       "reg_mr: empty range refused");
	is_int(T->srv_reg_mr(t->s, A, 4096, 0, &x, &dd), -EINVAL, "reg_mr: no access refused");
	is_int(T->srv_reg_mr(t->s, A, 4096, 4, &x, &dd), -EINVAL, "reg_mr: unknown access bit");
	for (int i = 0; i < 64; i++)
		if (T->srv_reg_mr(t->s, A, 4096, MS_XACCESS_READ, &m[i], &d[i]))
			tap_bail("reg_mr failed");
	for (int i = 0; i < 64; i++) {
		zero += d[i].rkey == 0;
		for (int j = 0; j < i; j++)
			dup += d[i].rkey == d[j].rkey;
	}
	ok(!zero && !dup, "64 registrations get distinct nonzero keys");
	ok(d[0].len == 4096, "desc carries the length");
	for (int i = 0; i < 64; i++)
		T->srv_dereg_mr(t->s, m[i]);
}

static void test_reads(struct tsrv *t)
{
	static const uint32_t sizes[] = { 1, 2, 7, 100, 4095, 4096, 4097, 65536, 100000,
					  (1u << 20) - 1, 1u << 20 };
	struct ms_xconn *c = cli(t, 16, 1u << 20, 0);
	char *dst = calloc(1, RSZ);
	size_t n = 600, wrong = 0;
	struct op *ops = calloc(n, sizeof(*ops));
	unsigned seed = 7;
	int bad;

	for (size_t i = 0; i < n; i++) {
		uint32_t len = sizes[i % MS_ARRAY_SIZE(sizes)];
		uint64_t off = (uint64_t)rand_r(&seed) % (RSZ - len + 1);

		ops[i] = (struct op){ MS_XOP_READ, off, len, dst + off };
	}
	ops[0].roff = 0, ops[0].local = dst;                    /* first byte */
	ops[1].roff = RSZ - 2, ops[1].local = dst + RSZ - 2;    /* last bytes */
	bad = run_ops(c, NULL, &dA, ops, n);
	is_int(bad, 0, "600 pipelined reads (1 B .. max_io, depth 16) complete");
	for (size_t i = 0; i < n; i++)
		wrong += memcmp(dst + ops[i].roff, A + ops[i].roff, ops[i].len) != 0;
	is_int(wrong, 0, "every read returned the region's bytes");
	is_int(T->outstanding(c), 0, "nothing outstanding afterwards");
	T->close(c);
	free(ops);
	free(dst);
}

static void test_writes(struct tsrv *t)
{
	struct ms_xconn *c = cli(t, 16, 1u << 20, 0);
	char *model = malloc(RSZ), *src = malloc(RSZ), *snap = malloc(RSZ);
	struct op ops[256];
	struct ms_xmr *lmr;
	uint64_t r0, w0, r1, w1;
	size_t slot = RSZ / 256, total = 0;
	int bad;

	memcpy(model, B, RSZ);
	fill(src, RSZ, 99);
	T->srv_mr_stats(t->s, mB, &r0, &w0);
	for (size_t i = 0; i < 256; i++) {
		uint32_t len = (uint32_t)(1 + (i * 7919) % slot);

		ops[i] = (struct op){ MS_XOP_WRITE, i * slot, len, src + i * slot };
		memcpy(model + i * slot, src + i * slot, len);
		total += len;
	}
	bad = run_ops(c, NULL, &dB, ops, 256);
	is_int(bad, 0, "256 pipelined writes complete");
	ok(memcmp(B, model, RSZ) == 0, "the writes landed, nothing else changed");
	T->srv_mr_stats(t->s, mB, &r1, &w1);
	is_int(w1 - w0, total, "bytes_written counts the written bytes");
	is_int(r1 - r0, 0, "bytes_read unchanged by writes");

	/* Refusals: memory untouched. */
	memcpy(snap, A, RSZ);
	is_int(io1(c, MS_XOP_WRITE, src, NULL, 65536, &dA, 0), -EACCES,
	       "write with a read-only key: -EACCES");
	ok(memcmp(snap, A, RSZ) == 0, "read-only region unchanged");
	memcpy(snap, B, RSZ);
	is_int(io1(c, MS_XOP_WRITE, src, NULL, 100, &dB, RSZ - 50), -ERANGE,
	       "write past the end: -ERANGE");
	is_int(io1(c, MS_XOP_WRITE, src, NULL, 1, &dB, RSZ), -ERANGE, "write at the end: -ERANGE");
	is_int(io1(c, MS_XOP_WRITE, src, NULL, 16, &dB, UINT64_MAX - 8), -ERANGE,
	       "write at an offset that overflows: -ERANGE");
	ok(memcmp(snap, B, RSZ) == 0, "region unchanged by refused writes");
	is_int(io1(c, MS_XOP_READ, snap, NULL, 100, &dB, RSZ - 50), -ERANGE,
	       "read past the end: -ERANGE");
	is_int(io1(c, MS_XOP_READ, snap, NULL, 0, &dB, RSZ), 0, "empty read at the end is fine");
	{
		struct ms_rdesc fake = dB;

		fake.rkey ^= 0x5a5a;
		is_int(io1(c, MS_XOP_READ, snap, NULL, 10, &fake, 0), -EACCES, "made-up key: -EACCES");
		fake.rkey = 0;
		is_int(io1(c, MS_XOP_WRITE, src, NULL, 10, &fake, 0), -EACCES, "key 0: -EACCES");
	}
	is_int(io1(c, MS_XOP_READ, snap, NULL, 4096, &dB, 4096), 0, "connection fine after refusals");
	ok(memcmp(snap, B + 4096, 4096) == 0, "and reads the right bytes");

	/* Write-only grant, then revocation. */
	{
		struct ms_xsmr *m;
		struct ms_rdesc d;

		T->srv_reg_mr(t->s, B, RSZ, MS_XACCESS_WRITE, &m, &d);
		is_int(io1(c, MS_XOP_READ, snap, NULL, 10, &d, 0), -EACCES,
		       "read with a write-only key: -EACCES");
		is_int(io1(c, MS_XOP_WRITE, src, NULL, 10, &d, 0), 0, "write with it works");
		T->srv_dereg_mr(t->s, m);
		is_int(io1(c, MS_XOP_WRITE, src, NULL, 10, &d, 0), -EACCES,
		       "deregistered key: -EACCES");
	}

	/* Client-side argument checks. */
	{
		struct ms_xwr w = { .op = MS_XOP_READ, .local = snap, .len = 10, .remote = &dA };
		struct ms_xwr many[17];

		w.op = 9;
		is_int(T->post(c, &w, 1), -EINVAL, "post: unknown op");
		w.op = MS_XOP_READ;
		w.len = (1u << 20) + 1;
		is_int(T->post(c, &w, 1), -EINVAL, "post: over max_io");
		w.len = 10;
		w.remote = NULL;
		is_int(T->post(c, &w, 1), -EINVAL, "post: no remote");
		w.remote = &dA;
		T->reg_mr(c, snap, 4096, &lmr);
		w.lmr = lmr;
		w.local = snap + 4090;
		is_int(T->post(c, &w, 1), -EINVAL, "post: local outside its registration");
		w.local = snap + 4086;
		is_int(io1(c, MS_XOP_READ, w.local, NULL, 10, &dA, 0), 0, "inside it works");
		T->dereg_mr(c, lmr);
		is_int(T->post(c, &w, 1), -EINVAL, "post: deregistered local registration");
		w.lmr = NULL;
		for (int i = 0; i < 17; i++)
			many[i] = w;
		is_int(T->post(c, many, 17), -EINVAL, "post: more than depth at once");
		is_int(T->post(c, many, 10), 0, "post 10");
		is_int(T->outstanding(c), 10, "10 outstanding");
		is_int(T->post(c, many, 7), -EAGAIN, "post 7 more: -EAGAIN");
		is_int(T->outstanding(c), 10, "still 10 outstanding");
		is_int(T->post(c, many, 6), 0, "post 6 more");
		for (int got = 0, k; got < 16; got += k) {
			struct ms_xwc wc[16];

			k = T->poll(c, wc, 16, 5000);
			if (k <= 0) {
				ok(0, "poll the 16");
				break;
			}
		}
		is_int(T->outstanding(c), 0, "all 16 reaped");
	}
	T->close(c);
	free(model);
	free(src);
	free(snap);
}

static void on_note(void *ud, const void *msg, size_t len)
{
	char *buf = ud;

	snprintf(buf, 64, "%.*s", (int)len, (const char *)msg);
}

static void test_ctrl(struct tsrv *t)
{
	char note[64] = "";
	struct ms_xopts o = { .on_notify = on_note, .notify_ud = note };
	struct ms_xconn *c;
	char *big = malloc(MS_CTRL_MAX), *resp = malloc(MS_CTRL_MAX), err[256];
	struct ms_xwr w[16];
	struct ms_xwc wc[16];
	size_t rlen = 0;
	int got = 0;

	if (T->connect("127.0.0.1", t->port, &o, &c, err, sizeof(err)))
		tap_bail("connect: %s", err);
	is_int(T->call(c, "hello", 5, resp, 64, &rlen, 5000), 0, "control call");
	ok(rlen == 5 && !memcmp(resp, "hello", 5), "echoed");
	is_int(T->call(c, NULL, 0, resp, 64, &rlen, 5000), 0, "empty control call");
	is_int(rlen, 0, "empty reply");
	fill(big, MS_CTRL_MAX, 3);
	is_int(T->call(c, big, MS_CTRL_MAX, resp, MS_CTRL_MAX, &rlen, 5000), 0,
	       "control call of MS_CTRL_MAX bytes");
	ok(rlen == MS_CTRL_MAX && !memcmp(resp, big, MS_CTRL_MAX), "echoed in full");
	is_int(T->call(c, big, MS_CTRL_MAX + 1, resp, MS_CTRL_MAX, &rlen, 5000), -EMSGSIZE,
	       "request over MS_CTRL_MAX refused");
	is_int(T->call(c, "big", 3, resp, 100, &rlen, 5000), -EMSGSIZE,
	       "reply larger than cap: -EMSGSIZE");
	is_int(T->call(c, "again", 5, resp, 64, &rlen, 5000), 0, "connection fine afterwards");

	/* Data in flight around a call: completions kept for poll(). */
	for (int i = 0; i < 16; i++)
		w[i] = (struct ms_xwr){ .op = MS_XOP_READ, .local = big + i * 65536,
					.len = 65536, .remote = &dA, .roff = (uint64_t)i * 65536 };
	T->post(c, w, 16);
	is_int(T->call(c, "mid", 3, resp, 64, &rlen, 5000), 0, "call with 16 reads in flight");
	is_int(T->outstanding(c), 16, "reads still counted as outstanding");
	while (got < 16) {
		int k = T->poll(c, wc, 16, 5000);

		if (k <= 0)
			break;
		for (int i = 0; i < k; i++)
			got += wc[i].status == 0;
	}
	is_int(got, 16, "their completions come from poll()");
	ok(memcmp(big, A, 16 * 65536) == 0, "with the right data");

	is_int(T->call(c, "notify:ping", 11, resp, 64, &rlen, 5000), 0, "call that notifies");
	is_str(note, "ping", "NOTIFY reached on_notify");
	is_int(T->srv_notify(t->s, (struct ms_xpeer *)note, "x", 1), -EINVAL,
	       "srv_notify outside the loop thread refused");

	is_int(T->call(c, "fail", 4, resp, 64, &rlen, 5000), -ECONNRESET,
	       "on_ctrl error closes the connection");
	ok(log_has(t, "WARN", "control request rejected"), "and is logged");
	is_int(T->post(c, w, 1), -ENOTCONN, "post after that: -ENOTCONN");
	is_int(T->call(c, "x", 1, resp, 64, &rlen, 5000), -ECONNRESET, "call: -ECONNRESET");
	is_int(T->poll(c, wc, 1, 0), -ENOTCONN, "poll: -ENOTCONN");
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
	struct ms_xconn *c = cli(m->t, 8, 256u << 10, 0);
	char *dst = malloc(RSZ);
	struct op ops[64];

	for (int i = 0; i < 64; i++)
		ops[i] = (struct op){ MS_XOP_READ, (uint64_t)i * 65536, 65536, dst + i * 65536 };
	m->bad = run_ops(c, NULL, &dA, ops, 64) != 0 || memcmp(dst, A, 64 * 65536) != 0;
	T->close(c);
	free(dst);
	return NULL;
}

static void test_many(struct tsrv *t)
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
	is_int(bad, 0, "12 clients at once, each reads 4 MiB correctly");
}

struct rawcase {
	const char *name;
	struct ms_frame f;
	int off, width;         /* damage: bytes at off (-1: none) */
	uint64_t val;
	size_t send;            /* bytes of the header to send, then shut down */
	const char *why;        /* expected in the server's log line */
};

static void test_raw(struct tsrv *t)
{
	static const struct rawcase cases[] = {
		{ "bad magic", { .type = MS_F_READ_REQ, .len = 1 },
		  0, 4, 0xdeadbeef, 48, "bad magic" },
		{ "bad version", { .type = MS_F_READ_REQ, .len = 1 }, 4, 1, 7, 48, "version 7" },
		{ "bad type", { .type = MS_F_READ_REQ, .len = 1 },
		  5, 1, 77, 48, "unknown frame type 77" },
		{ "response type", { .type = MS_F_WRITE_RESP },
		  -1, 0, 0, 48, "unexpected frame type WRITE_RESP" },
		{ "huge write length",
		  { .type = MS_F_WRITE_REQ, .len = 32u << 20, .plen = 32u << 20 },
		  -1, 0, 0, 48, "over the limit" },
		{ "huge control length", { .type = MS_F_CTRL_REQ, .plen = MS_CTRL_MAX + 1 },
		  -1, 0, 0, 48, "over the limit" },
		{ "truncated header", { .type = MS_F_READ_REQ, .len = 1 },
		  -1, 0, 0, 20, "middle of a header" },
		{ "truncated write",
		  { .type = MS_F_WRITE_REQ, .len = 65536, .plen = 65536, .key = 1 },
		  -1, 0, 0, 48 + 1024, "middle of a payload" },
		{ "truncated control", { .type = MS_F_CTRL_REQ, .plen = 100 },
		  -1, 0, 0, 48 + 10, "middle of a payload" },
	};
	struct ms_xconn *good = cli(t, 4, 0, 0);
	uint8_t b[48 + 1024] = { 0 };
	char me[64], buf[64];

	is_int(io1(good, MS_XOP_READ, buf, NULL, 64, &dA, 0), 0, "raw: a good client works before");
	for (size_t i = 0; i < MS_ARRAY_SIZE(cases); i++) {
		const struct rawcase *c = &cases[i];
		int fd = raw_connect(t);

		ms_frame_encode(&c->f, b);
		for (int k = 0; c->off >= 0 && k < c->width; k++)
			b[c->off + k] = (uint8_t)(c->val >> (8 * k));
		ms_sock_name(fd, false, me, sizeof(me));
		raw_send(fd, b, c->send);
		if (c->send != 48)
			shutdown(fd, SHUT_WR);
		ok(raw_closed(fd), "raw %s: server closes without a reply", c->name);
		ok(log_has(t, me, c->why), "raw %s: log names the peer and \"%s\"", c->name,
		   c->why);
		close(fd);
		is_int(io1(good, MS_XOP_READ, buf, NULL, 64, &dA, 64), 0,
		       "raw %s: another client still served", c->name);
	}
	ok(log_has(t, "WARN", "bad magic"), "protocol violations are logged at WARN");
	T->close(good);
}

/* A client that sends 200 requests and does not read: the server stops
 * reading it at its bound, keeps serving others, and answers in order
 * once the client reads. */
static void test_greedy(struct tsrv *t)
{
	int fd = raw_connect(t), n = 200, bad = 0;
	struct ms_xconn *other = cli(t, 4, 0, 0);
	char *buf = malloc(1u << 20);
	struct ms_frame f;
	uint8_t h[48];

	for (int i = 0; i < n; i++) {
		f = (struct ms_frame){ .type = MS_F_READ_REQ, .id = (uint64_t)i + 1, .key = dA.rkey,
				       .addr = (uint64_t)(i % 4) << 20, .len = 1u << 20 };
		raw_send_frame(fd, &f);
	}
	usleep(200000);
	is_int(io1(other, MS_XOP_READ, buf, NULL, 4096, &dA, 0), 0,
	       "greedy: others are served while a client does not read");
	for (int i = 0; i < n; i++) {
		int r1 = ms_sock_recv_all(fd, h, 48, 5000, NULL), r2 = -1, r3 = -1;

		if (!r1)
			r2 = ms_frame_decode(h, 48, MS_FRAME_ACCEPT_CLIENT, 1u << 20, &f, NULL, 0);
		if (!r2 && f.id == (uint64_t)i + 1 && !f.status && f.len == 1u << 20)
			r3 = ms_sock_recv_all(fd, buf, f.len, 5000, NULL);
		if (r3) {
			diag("response %d: recv %d, decode %d, id %llu status %d, payload %d", i,
			     r1, r2, (unsigned long long)f.id, f.status, r3);
			bad = 1000;
			break;
		}
		bad += memcmp(buf, A + ((i % 4) << 20), 1u << 20) != 0;
	}
	is_int(bad, 0, "greedy: all 200 responses arrive in order once it reads");
	close(fd);
	T->close(other);
	free(buf);
}

/* Regression (issue #9): requests buffered beyond the queue bound must be
 * answered even when one send drains the whole queue.  Small responses
 * make that drain certain: the socket takes a full queue (1024 of them)
 * at once, and the requests after the bound already sit in the server's
 * buffer, so no EPOLLIN would come to resume them. */
static void test_greedy_small(struct tsrv *t)
{
	enum { N = 2500, LEN = 16 };
	int fd = raw_connect(t), bad = 0;
	uint8_t *req = calloc(N, MS_FRAME_HDR), *resp = malloc((size_t)N * (48 + LEN));
	size_t got = 0;
	struct ms_frame f;

	for (int i = 0; i < N; i++) {
		f = (struct ms_frame){ .type = MS_F_READ_REQ, .id = (uint64_t)i + 1,
				       .key = dA.rkey, .addr = (uint64_t)i, .len = LEN };
		ms_frame_encode(&f, req + (size_t)i * MS_FRAME_HDR);
	}
	raw_send(fd, req, (size_t)N * MS_FRAME_HDR);
	ms_sock_recv_all(fd, resp, (size_t)N * (48 + LEN), 5000, &got);
	is_int((int)(got / (48 + LEN)), N, "greedy small: all responses to buffered requests");
	for (int i = 0; i < N && (size_t)(i + 1) * (48 + LEN) <= got; i++) {
		uint8_t *h = resp + (size_t)i * (48 + LEN);

		if (ms_frame_decode(h, 48, MS_FRAME_ACCEPT_CLIENT, 1u << 20, &f, NULL, 0) ||
		    f.id != (uint64_t)i + 1 || f.status || memcmp(h + 48, A + i, LEN))
			bad++;
	}
	is_int(bad, 0, "greedy small: answered in order with the right bytes");
	close(fd);
	free(req);
	free(resp);
}

/* Post 16 reads of 1 MiB, push them out, let the server queue them. */
static void queue_reads(struct ms_xconn *c, const struct ms_rdesc *d, char *dst,
			struct ms_xwc *wc, int *got)
{
	struct ms_xwr w[16];
	int k;

	for (int i = 0; i < 16; i++)
		w[i] = (struct ms_xwr){ .op = MS_XOP_READ, .local = dst + ((size_t)i << 20),
					.len = 1u << 20, .remote = d, .roff = (uint64_t)i << 20,
					.ctx = (void *)(uintptr_t)i };
	T->post(c, w, 16);
	k = T->poll(c, wc, 16, 0);
	*got = k > 0 ? k : 0;
	usleep(200000);
}

static int finish_reads(struct ms_xconn *c, struct ms_xwc *wc, int got, const char *dst,
			const char *expect)
{
	int bad = 0, k;

	while (got < 16 && (k = T->poll(c, wc + got, 16 - got, 5000)) > 0)
		got += k;
	if (got != 16)
		return 100;
	for (int i = 0; i < 16; i++) {
		size_t at = (uintptr_t)wc[i].ctx << 20;

		bad += wc[i].status != 0 || memcmp(dst + at, expect + at, 1u << 20) != 0;
	}
	return bad;
}

static void test_dereg_inflight(struct tsrv *t)
{
	size_t sz = 16u << 20;
	char *E = map(sz, 5), *expect = map(sz, 5), *dst = calloc(1, sz);
	struct ms_xconn *c = cli(t, 16, 1u << 20, 0), *c2 = cli(t, 4, 0, 0);
	struct ms_xwc wc[16];
	struct ms_xsmr *m;
	struct ms_rdesc d;
	size_t rlen;
	char r[8];
	int got;

	/* From another thread: responses still queued get their own copy. */
	T->srv_reg_mr(t->s, E, sz, MS_XACCESS_READ, &m, &d);
	queue_reads(c, &d, dst, wc, &got);
	T->srv_dereg_mr(t->s, m);
	munmap(E, sz);  /* the server must not touch it any more */
	is_int(finish_reads(c, wc, got, dst, expect), 0,
	       "dereg from another thread: queued reads complete with their data");

	/* From the loop thread (inside on_ctrl). */
	E = map(sz, 5);
	memset(dst, 0, sz);
	T->srv_reg_mr(t->s, E, sz, MS_XACCESS_READ, &m, &d);
	queue_reads(c, &d, dst, wc, &got);
	t->dereg_target = m;
	is_int(T->call(c2, "dereg", 5, r, sizeof(r), &rlen, 5000), 0, "dereg inside on_ctrl");
	munmap(E, sz);
	is_int(finish_reads(c, wc, got, dst, expect), 0,
	       "dereg from the loop: queued reads complete with their data");
	is_int(io1(c, MS_XOP_READ, dst, NULL, 10, &d, 0), -EACCES, "and later reads get -EACCES");

	/* A write being received when its key is revoked is drained. */
	{
		int fd = raw_connect(t);
		struct ms_frame f = { .type = MS_F_WRITE_REQ, .id = 1, .len = 1u << 20,
				      .plen = 1u << 20 };
		uint8_t h[48];

		E = map(sz, 6);
		T->srv_reg_mr(t->s, E, sz, MS_XACCESS_READ | MS_XACCESS_WRITE, &m, &d);
		f.key = d.rkey;
		raw_send_frame(fd, &f);
		raw_send(fd, dst, 4096);
		usleep(200000);
		T->srv_dereg_mr(t->s, m);
		munmap(E, sz);
		raw_send(fd, dst, (1u << 20) - 4096);
		ok(ms_sock_recv_all(fd, h, 48, 5000, NULL) == 0 &&
		   ms_frame_decode(h, 48, MS_FRAME_ACCEPT_CLIENT, 1u << 20, &f, NULL, 0) == 0 &&
		   f.type == MS_F_WRITE_RESP && f.status == -EACCES,
		   "write revoked mid-payload: rest drained, answered -EACCES");
		close(fd);
	}
	T->close(c);
	T->close(c2);
	munmap(expect, sz);
	free(dst);
}

/* A client that goes away with responses queued for it. */
static void test_vanish(struct tsrv *t)
{
	struct ms_xconn *c;
	char *dst = malloc(16u << 20);
	struct ms_xwc wc[16];
	int before, got;
	char buf[64];

	settle(t);
	before = __atomic_load_n(&t->disconnects, __ATOMIC_RELAXED);
	c = cli(t, 16, 1u << 20, 0);
	queue_reads(c, &dA, dst, wc, &got);     /* A is 4 MiB: some fail */
	T->close(c);
	for (int i = 0; i < 100 && __atomic_load_n(&t->disconnects, __ATOMIC_RELAXED) == before;
	     i++)
		usleep(50000);
	usleep(100000);         /* a second on_disconnect would come now */
	is_int(__atomic_load_n(&t->disconnects, __ATOMIC_RELAXED), before + 1,
	       "client gone with responses queued: on_disconnect once");
	c = cli(t, 4, 0, 0);
	is_int(io1(c, MS_XOP_READ, buf, NULL, 64, &dA, 0), 0, "the server still serves");
	T->close(c);
	free(dst);
}

static void test_errors(struct tsrv *t)
{
	struct ms_xsrv *s2 = NULL;
	struct ms_xconn *c = NULL;
	struct ms_xopts o = { 0 };
	char err[256] = "", want[128];

	is_int(T->listen("127.0.0.1", t->port, NULL, &s2, err, sizeof(err)), -EADDRINUSE,
	       "listen on a port in use: -EADDRINUSE");
	snprintf(want, sizeof(want), "cannot listen on 127.0.0.1:%s: Address already in use",
		 t->port);
	is_str(err, want, "with a clear message");
	is_int(T->listen("127.0.0.1", "99999", NULL, &s2, err, sizeof(err)), -EINVAL,
	       "listen on port 99999: -EINVAL");
	o.depth = 5000;
	is_int(T->connect("127.0.0.1", t->port, &o, &c, err, sizeof(err)), -EINVAL,
	       "connect: depth too large");
	o.depth = 0;
	o.max_io = 32u << 20;
	is_int(T->connect("127.0.0.1", t->port, &o, &c, err, sizeof(err)), -EINVAL,
	       "connect: max_io too large");
	is_int(T->connect("no-such-host.invalid", t->port, NULL, &c, err, sizeof(err)),
	       -EHOSTUNREACH, "connect: unknown host");
	ok(strstr(err, "cannot resolve no-such-host.invalid") != NULL, "message: %s", err);
}

/* A listener that never accepts: connects succeed, nothing answers. */
static void test_timeouts(void)
{
	uint16_t port;
	char err[256], ps[8], r[8];
	int lfd = ms_sock_listen("127.0.0.1", "0", &port, err, sizeof(err));
	struct ms_xopts o = { .timeout_ms = 300 };
	struct ms_xconn *c;
	struct ms_xwc wc;
	struct ms_xwr w = { .op = MS_XOP_READ, .local = r, .len = 8, .remote = &dA };
	uint64_t t0;
	size_t rlen;
	long ms;

	snprintf(ps, sizeof(ps), "%u", port);
	T->connect("127.0.0.1", ps, &o, &c, err, sizeof(err));
	t0 = ms_now_ns();
	is_int(T->call(c, "x", 1, r, sizeof(r), &rlen, 0), -ETIMEDOUT,
	       "call to a silent server: -ETIMEDOUT");
	ms = (long)((ms_now_ns() - t0) / 1000000);
	ok(ms >= 250 && ms < 3000, "after the connection's timeout (%ld ms)", ms);
	is_int(T->post(c, &w, 1), -ENOTCONN, "then the connection is dropped");
	T->close(c);

	T->connect("127.0.0.1", ps, &o, &c, err, sizeof(err));
	T->post(c, &w, 1);
	t0 = ms_now_ns();
	is_int(T->poll(c, &wc, 1, -1), 1, "stalled read completes");
	is_int(wc.status, -ETIMEDOUT, "with -ETIMEDOUT");
	ms = (long)((ms_now_ns() - t0) / 1000000);
	ok(ms >= 250 && ms < 3000, "after the stall limit (%ld ms)", ms);
	is_int(T->poll(c, &wc, 1, 100), -ENOTCONN, "poll afterwards: -ENOTCONN");
	T->close(c);
	close(lfd);
}

static void test_stop_idle(void)
{
	struct tsrv *t = srv_start();
	struct ms_xconn *c = cli(t, 4, 0, 0), *c2 = NULL;
	struct ms_xwr w[4];
	struct ms_xwc wc[4];
	char buf[64], err[256];
	int k, flushed = 0;
	long ms;

	for (int i = 0; i < 4; i++)
		w[i] = (struct ms_xwr){ .op = MS_XOP_READ, .local = buf, .len = 8, .remote = &dA };
	is_int(T->call(c, "hi", 2, buf, sizeof(buf), NULL, 5000), 0, "stop: client connected");
	ms = srv_stop_join(t);
	ok(ms < 2000, "stop with an idle client returns at once (%ld ms)", ms);
	is_int(t->run_rc, 0, "srv_run returned 0");
	is_int(T->post(c, w, 4), 0, "post to the stopped server is queued");
	while ((k = T->poll(c, wc, 4, 5000)) > 0)
		for (int i = 0; i < k; i++)
			flushed += wc[i].status == -ECONNRESET;
	is_int(flushed, 4, "all four complete with -ECONNRESET");
	is_int(T->post(c, w, 1), -ENOTCONN, "post then: -ENOTCONN");
	is_int(T->call(c, "hi", 2, buf, sizeof(buf), NULL, 5000), -ECONNRESET,
	       "call then: -ECONNRESET");
	is_int(T->connect("127.0.0.1", t->port, NULL, &c2, err, sizeof(err)), -ECONNREFUSED,
	       "new clients are refused");
	ok(strstr(err, "cannot connect to 127.0.0.1:") && strstr(err, "refused"), "message: %s",
	   err);
	is_int(t->connects, t->disconnects, "on_disconnect once per peer (%d)", t->connects);
	is_int(T->srv_run(t->s), -EINVAL, "srv_run after a stop: -EINVAL");
	T->close(c);
	srv_free(t);
}

static void test_stop_inflight(void)
{
	struct tsrv *t = srv_start();
	size_t sz = 16u << 20;
	char *E = map(sz, 8), *dst = calloc(1, sz);
	struct ms_xconn *c = cli(t, 16, 1u << 20, 0);
	struct ms_xwc wc[16];
	struct ms_xsmr *m;
	struct ms_rdesc d;
	int got;

	T->srv_reg_mr(t->s, E, sz, MS_XACCESS_READ, &m, &d);
	queue_reads(c, &d, dst, wc, &got);
	T->srv_stop(t->s);
	is_int(finish_reads(c, wc, got, dst, E), 0,
	       "stop with reads in flight: they are finished first");
	pthread_join(t->th, NULL);
	is_int(t->connects, t->disconnects, "on_disconnect once per peer");
	T->srv_dereg_mr(t->s, m);
	T->close(c);
	srv_free(t);
	munmap(E, sz);
	free(dst);
}

static void test_stop_stuck(void)
{
	struct tsrv *t = srv_start();
	int fd = raw_connect(t);
	char *E = map(RSZ, 9);
	struct ms_frame f;
	struct ms_xsmr *m;
	struct ms_rdesc d;
	long ms;

	struct ms_xconn *c = cli(t, 64, 1u << 20, 0);
	char *dst = malloc(RSZ);
	struct ms_xwr w[64];
	struct ms_xwc wc[64];
	int got = 0, k, okay = 0, reset = 0, wrong = 0;

	T->srv_reg_mr(t->s, E, RSZ, MS_XACCESS_READ, &m, &d);
	for (int i = 0; i < 100; i++) {
		f = (struct ms_frame){ .type = MS_F_READ_REQ, .id = (uint64_t)i + 1,
				       .key = d.rkey, .len = 1u << 20 };
		raw_send_frame(fd, &f);
	}
	/* And a real client with 64 MiB of reads it does not collect. */
	for (int i = 0; i < 64; i++)
		w[i] = (struct ms_xwr){ .op = MS_XOP_READ, .local = dst + ((i % 4) << 20),
					.len = 1u << 20, .remote = &d,
					.roff = (uint64_t)(i % 4) << 20,
					.ctx = (void *)(uintptr_t)(i % 4) };
	T->post(c, w, 64);
	k = T->poll(c, wc, 64, 0);
	got = k > 0 ? k : 0;
	usleep(100000);
	ms = srv_stop_join(t);
	ok(ms >= 4000 && ms < 8000, "stop gives up on clients that do not read (%ld ms)", ms);
	ok(log_has(t, "stopped before its responses were sent", ""), "and says so");
	is_int(t->connects, t->disconnects, "on_disconnect once per peer");
	while (got < 64 && (k = T->poll(c, wc + got, 64 - got, 5000)) > 0)
		got += k;
	for (int i = 0; i < got; i++) {
		size_t at = (uintptr_t)wc[i].ctx << 20;

		okay += wc[i].status == 0;
		reset += wc[i].status == -ECONNRESET;
		if (wc[i].status == 0)
			wrong += memcmp(dst + at, E + at, 1u << 20) != 0;
	}
	is_int(got, 64, "the client gets all 64 completions, no hang");
	is_int(okay + reset, 64, "each is a success or -ECONNRESET (%d flushed)", reset);
	ok(reset > 0 && !wrong, "the unsent ones are flushed, the others have their data");
	T->close(c);
	free(dst);
	close(fd);
	T->srv_dereg_mr(t->s, m);
	srv_free(t);
	munmap(E, RSZ);
}

static void test_refuse(void)
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

static void test_stop_before_run(void)
{
	struct tsrv *t = calloc(1, sizeof(*t));
	char err[256];

	if (T->listen("127.0.0.1", "0", NULL, &t->s, err, sizeof(err)))
		tap_bail("listen: %s", err);
	T->srv_stop(t->s);
	is_int(T->srv_run(t->s), 0, "srv_stop before srv_run: run returns at once");
	T->srv_close(t->s);
	free(t);
}

/* ------------------------------------------------------------ speed */

struct streamer {
	int fd;
	const char *src;
	size_t len, total;
};

static void *stream_send(void *arg)
{
	struct streamer *s = arg;

	for (size_t done = 0; done < s->total; done += 1u << 20) {
		struct iovec iov = { (char *)s->src + done % s->len, 1u << 20 };

		if (ms_sock_sendv_all(s->fd, &iov, 1, 10000))
			break;
	}
	return NULL;
}

/* GB/s of a plain TCP stream of total bytes in 1 MiB messages. */
static double raw_stream(const char *src, char *dst, size_t len, size_t total)
{
	uint16_t port;
	char err[256], ps[8];
	int lfd = ms_sock_listen("127.0.0.1", "0", &port, err, sizeof(err)), cfd, sfd;
	struct streamer st;
	pthread_t th;
	uint64_t t0;
	size_t done = 0;

	snprintf(ps, sizeof(ps), "%u", port);
	cfd = ms_sock_connect("127.0.0.1", ps, 5000, 0, err, sizeof(err));
	ms_sock_set_nonblock(lfd, false);
	sfd = accept(lfd, NULL, NULL);
	ms_sock_set_nonblock(sfd, true);
	st = (struct streamer){ sfd, src, len, total };
	t0 = ms_now_ns();
	pthread_create(&th, NULL, stream_send, &st);
	while (done < total) {
		if (ms_sock_recv_all(cfd, dst + done % len, 1u << 20, 10000, NULL))
			break;
		done += 1u << 20;
	}
	pthread_join(th, NULL);
	t0 = ms_now_ns() - t0;
	close(cfd);
	close(sfd);
	close(lfd);
	return done == total ? (double)total / (double)t0 : 0;
}

static double pull(struct tsrv *t, const struct ms_rdesc *d, char *dst, size_t len,
		   size_t total, uint32_t io, int *bad)
{
	struct ms_xconn *c = cli(t, 16, io, 0);
	size_t n = total / io;
	struct op *ops = malloc(n * sizeof(*ops));
	uint64_t t0;

	for (size_t i = 0; i < n; i++) {
		size_t off = i * io % len;

		ops[i] = (struct op){ MS_XOP_READ, off, io, dst + off };
	}
	t0 = ms_now_ns();
	*bad = run_ops(c, NULL, d, ops, n);
	t0 = ms_now_ns() - t0;
	T->close(c);
	free(ops);
	return (double)total / (double)t0;
}

static void test_speed(struct tsrv *t)
{
	size_t len = 256u << 20, total = 1u << 30;
	char *P = map(len, 11), *dst = map(len, 12);
	struct ms_xsmr *m;
	struct ms_rdesc d;
	double raw, mb, k64;
	int bad1, bad2;

	T->srv_reg_mr(t->s, P, len, MS_XACCESS_READ, &m, &d);
	raw = raw_stream(P, dst, len, total);
	mb = pull(t, &d, dst, len, total, 1u << 20, &bad1);
	ok(bad1 == 0 && memcmp(P, dst, len) == 0, "1 GiB pull in 1 MiB reads is correct");
	k64 = pull(t, &d, dst, len, total / 4, 64u << 10, &bad2);
	ok(bad2 == 0 && memcmp(P, dst, len) == 0, "256 MiB pull in 64 KiB reads is correct");
	diag("raw TCP stream 1 GiB: %.2f GB/s", raw);
	diag("pull 1 GiB, 1 MiB reads, depth 16: %.2f GB/s (%.2fx raw)", mb,
	     raw > 0 ? mb / raw : 0);
	diag("pull 256 MiB, 64 KiB reads, depth 16: %.2f GB/s (%.2fx raw)", k64,
	     raw > 0 ? k64 / raw : 0);
	T->srv_dereg_mr(t->s, m);
	munmap(P, len);
	munmap(dst, len);
}

int main(void)
{
	struct tsrv *t;
	uint64_t rd, wr;

	A = map(RSZ, 1);
	B = map(RSZ, 2);
	t = srv_start();
	ok(t->s->port != 0, "listening on an ephemeral port (%s)", t->port);
	ok(t->s->ops == T, "server head points at the ops");
	T->srv_reg_mr(t->s, A, RSZ, MS_XACCESS_READ, &mA, &dA);
	T->srv_reg_mr(t->s, B, RSZ, MS_XACCESS_READ | MS_XACCESS_WRITE, &mB, &dB);

	test_reg(t);
	test_reads(t);
	test_writes(t);
	test_ctrl(t);
	test_many(t);
	test_raw(t);
	test_greedy(t);
	test_greedy_small(t);
	test_dereg_inflight(t);
	test_vanish(t);
	test_errors(t);
	test_timeouts();
	if (getenv("MS_TEST_NO_SPEED"))
		diag("speed measurement skipped (MS_TEST_NO_SPEED)");
	else
		test_speed(t);
	T->srv_mr_stats(t->s, mA, &rd, &wr);
	ok(rd > 0 && wr == 0, "stats of the read-only region: %llu read, %llu written",
	   (unsigned long long)rd, (unsigned long long)wr);
	T->srv_dereg_mr(t->s, mA);
	T->srv_dereg_mr(t->s, mB);
	srv_stop_join(t);
	is_int(t->run_rc, 0, "srv_run returned 0");
	is_int(t->connects, t->disconnects, "on_disconnect once per accepted peer (%d)",
	       t->connects);
	srv_free(t);

	test_stop_idle();
	test_stop_inflight();
	test_refuse();
	test_stop_before_run();
	test_stop_stuck();
	munmap(A, RSZ);
	munmap(B, RSZ);
	return tap_done();
}
