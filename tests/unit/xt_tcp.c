/* SPDX-License-Identifier: Apache-2.0 */
/*
 * xt_tcp.c - test_tcp: the transport contract suite (test_transport.c)
 * over the TCP fallback on 127.0.0.1, and what only TCP has: raw sockets
 * that break the protocol on purpose, a client that does not read, keys
 * revoked with responses queued, timeouts, stop with stuck clients, speed.
 * Included by test_transport.c (-DTEST_TRANSPORT).
 */
#include <poll.h>
#include <sys/socket.h>

#include "frame.h"
#include "tcp.h"
#include "tcp_sock.h"

#define RSZ (4u << 20)

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
	queue_reads(c, NULL, &d, dst, wc, &got);
	T->srv_dereg_mr(t->s, m);
	munmap(E, sz);  /* the server must not touch it any more */
	is_int(finish_reads(c, wc, got, dst, expect), 0,
	       "dereg from another thread: queued reads complete with their data");

	/* From the loop thread (inside on_ctrl). */
	E = map(sz, 5);
	memset(dst, 0, sz);
	T->srv_reg_mr(t->s, E, sz, MS_XACCESS_READ, &m, &d);
	queue_reads(c, NULL, &d, dst, wc, &got);
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

/* TCP says exactly what failed. */
static void test_errors(struct tsrv *t)
{
	struct ms_xsrv *s2 = NULL;
	char err[256] = "", want[128];

	is_int(T->listen("127.0.0.1", t->port, NULL, &s2, err, sizeof(err)), -EADDRINUSE,
	       "listen on a port in use: -EADDRINUSE");
	snprintf(want, sizeof(want), "cannot listen on 127.0.0.1:%s: Address already in use",
		 t->port);
	is_str(err, want, "with a clear message");
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

/* One response frame and its payload (at most cap bytes); 0 or -1. */
static int raw_resp(int fd, struct ms_frame *f, char *buf, size_t cap)
{
	uint8_t h[MS_FRAME_HDR];

	if (ms_sock_recv_all(fd, h, sizeof(h), 5000, NULL) ||
	    ms_frame_decode(h, sizeof(h), MS_FRAME_ACCEPT_CLIENT, 1u << 20, f, NULL, 0) ||
	    f->plen > cap || (f->plen && ms_sock_recv_all(fd, buf, f->plen, 5000, NULL)))
		return -1;
	return 0;
}

/* A pipelining client whose control reply is deferred: its WRITE after
 * the control request lands meanwhile, nothing overtakes the owed reply,
 * its next control request waits for it, and the responses come in
 * request order once the reply is given. */
static void test_later_pipelined(struct tsrv *t)
{
	int fd = raw_connect(t);
	struct ms_frame f1 = { .type = MS_F_CTRL_REQ, .id = 1, .plen = 5 },
			f2 = { .type = MS_F_WRITE_REQ, .id = 2, .key = dB.rkey, .addr = 8192,
			       .len = 4096, .plen = 4096 },
			f3 = { .type = MS_F_CTRL_REQ, .id = 3, .plen = 4 },
			f4 = { .type = MS_F_READ_REQ, .id = 4, .key = dA.rkey, .len = 4096 }, r;
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	struct ms_xpeer *peer;
	char buf[4096], data[4096];
	bool landed = false;

	memset(data, 0x6c, sizeof(data));
	raw_send_frame(fd, &f1);
	raw_send(fd, "later", 5);
	raw_send_frame(fd, &f2);
	raw_send(fd, data, sizeof(data));
	raw_send_frame(fd, &f3);
	raw_send(fd, "echo", 4);
	raw_send_frame(fd, &f4);
	peer = later_peer(t);
	ok(peer != NULL, "pipelined: the first control request is deferred");
	for (int i = 0; i < 250 && !(landed = !memcmp(B + 8192, data, 4096)); i++)
		usleep(20000);
	ok(landed, "pipelined: the WRITE after it lands while the reply is owed");
	is_int(poll(&pfd, 1, 100), 0, "pipelined: no response overtakes the owed reply");
	if (peer)
		T->srv_reply(t->s, peer, "done", 4);
	ok(!raw_resp(fd, &r, buf, sizeof(buf)) && r.type == MS_F_CTRL_RESP && r.id == 1 &&
	   r.plen == 4 && !memcmp(buf, "done", 4), "pipelined: the deferred reply comes first");
	ok(!raw_resp(fd, &r, buf, sizeof(buf)) && r.type == MS_F_WRITE_RESP && r.id == 2 &&
	   !r.status, "pipelined: then the WRITE's");
	ok(!raw_resp(fd, &r, buf, sizeof(buf)) && r.type == MS_F_CTRL_RESP && r.id == 3 &&
	   r.plen == 4 && !memcmp(buf, "echo", 4),
	   "pipelined: then the control request that waited for it");
	ok(!raw_resp(fd, &r, buf, sizeof(buf)) && r.type == MS_F_READ_RESP && r.id == 4 &&
	   !r.status && !memcmp(buf, A, 4096), "pipelined: then the READ after that");
	close(fd);
}

static void tcp_extra(struct tsrv *t, const char *what)
{
	(void)what;
	test_raw(t);
	test_greedy(t);
	test_greedy_small(t);
	test_later_pipelined(t);
	test_dereg_inflight(t);
	test_errors(t);
	test_timeouts();
	if (getenv("MS_TEST_NO_SPEED"))
		diag("speed measurement skipped (MS_TEST_NO_SPEED)");
	else
		test_speed(t);
}

int main(void)
{
	X = (struct xcfg){
		.ops = &ms_tcp_ops, .srv_addr = "127.0.0.1",
		.caps = XC_SRV_COUNTS | XC_STOP_FINISHES | XC_KEYS_NONZERO,
		.rsz = RSZ, .nregs = 64, .nreads = 600, .extra = tcp_extra,
	};
	xs_pass("tcp");
	test_stop_idle();
	xs_lifecycle();
	test_stop_stuck();
	return tap_done();
}
